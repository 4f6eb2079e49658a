// SPDX-License-Identifier: GPL-2.0

//! The `IPPROTO_QUIC` socket: system calls on a QUIC socket.
//!
//! One socket is one QUIC connection, or a listener. bind(2) attaches the
//! socket to the UDP tunnel of its address (shared with the other QUIC
//! sockets bound there, see [`crate::tunnel`]); connect(2) creates a
//! client connection ([`crate::conn`]) and sends nothing until TLS writes
//! its ClientHello; listen(2) registers the socket's ALPN list with the
//! tunnel's endpoint ([`crate::endpoint`]), and accept(2) turns the
//! endpoint's requests into connections. Messages and socket options are
//! in [`crate::message`] and [`crate::sockopt`]. This file holds no
//! protocol logic.
//!
//! A socket's state is in two places: the settings and attachments that
//! only system calls touch ([`Inner`], a mutex), and the connection,
//! which the receive path and the timer reach too ([`ConnState`], a BH
//! spinlock). System calls are serialised by the socket lock.

use crate::{
    clock,
    conn::{self, ConnState, QuicConnection},
    crypto::KernelCrypto,
    endpoint::{ConnIds, Handle, LOCAL_CID_LEN},
    message,
    protocol::endpoint::alpn::AlpnList,
    sockopt::{self, UapiConfig},
    tunnel::{Tunnel, TunnelRegistry},
};
use kernel::{
    net::{
        addr::SocketAddr,
        msg::{RecvMsg, SendMsg},
        protocol::{poll, InetProtocol, NewSock, ProtoSock},
        sock::{Sock, State, Timeout},
        sockopt::{GetValue, SetValue},
    },
    new_mutex, new_spinlock_bh,
    prelude::*,
    sync::{Arc, Mutex, SpinLockBh},
};

/// `IPPROTO_QUIC`: not an IANA protocol number, a value above `IPPROTO_RAW`
/// that selects QUIC at socket(2), like `IPPROTO_MPTCP`.
pub(crate) const IPPROTO_QUIC: u16 = 261;

/// `SOL_QUIC`: the socket-option and cmsg level.
pub(crate) const SOL_QUIC: i32 = 288;

/// The QUIC protocol, as registered with the socket layer.
pub(crate) struct Quic;

/// Per-socket state.
///
/// Dropped when the last reference to the socket goes, possibly in
/// softirq: close(2) has taken out by then everything whose release
/// sleeps (the tunnel).
#[pin_data]
pub(crate) struct QuicSock {
    #[pin]
    pub(crate) inner: Mutex<Inner>,
    #[pin]
    pub(crate) conn: SpinLockBh<Option<ConnState>>,
}

/// What only system calls touch.
pub(crate) struct Inner {
    /// The address given to bind(2) (or picked by connect(2)), with the
    /// port the kernel chose for port 0.
    pub(crate) bound: Option<SocketAddr>,
    /// The UDP tunnel socket of `bound`.
    pub(crate) tunnel: Option<Arc<Tunnel>>,
    /// The ALPN list, comma separated, as set with `QUIC_SOCKOPT_ALPN`; on
    /// an accepted socket, the protocol its listener picked.
    pub(crate) alpn: KVec<u8>,
    /// Enabled event types, one bit per `QUIC_EVENT_*`.
    pub(crate) events: u32,
    /// `QUIC_SOCKOPT_CONFIG`.
    pub(crate) config: UapiConfig,
    /// The transport parameters to offer (`QUIC_SOCKOPT_TRANSPORT_PARAM`).
    pub(crate) transport: crate::protocol::transport_params::TransportParameters,
    /// The listener's entry in its endpoint, while listening.
    pub(crate) listener: Option<Handle>,
    /// A socket accept(2) made: the server end of a connection.
    pub(crate) server: bool,
    /// The token of `QUIC_SOCKOPT_TOKEN` (a client's, for its Initial).
    pub(crate) token: KVec<u8>,
    /// The close information of `QUIC_SOCKOPT_CONNECTION_CLOSE`.
    pub(crate) close: sockopt::CloseInfo,
}

impl Inner {
    fn new() -> Self {
        Self {
            bound: None,
            tunnel: None,
            alpn: KVec::new(),
            events: 0,
            config: UapiConfig::default(),
            transport: crate::protocol::connection::Config::new().transport,
            listener: None,
            server: false,
            token: KVec::new(),
            close: sockopt::CloseInfo::default(),
        }
    }

    /// The core's configuration for a new connection of this socket.
    fn connection_config(&self) -> Result<crate::protocol::connection::Config> {
        let mut config = crate::protocol::connection::Config::new();
        config.transport = self.transport;
        config.cid_len = LOCAL_CID_LEN;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-17.4
        //# Implementations MUST allow administrators of clients and servers to
        //# disable the spin bit either globally or on a per-connection basis.
        config.spin_bit = crate::module_parameters::spin_bit.value();
        self.config.apply(&mut config)?;
        Ok(config)
    }
}

impl Quic {
    /// Whether `addr`'s family fits a socket of `family`. An `AF_INET6`
    /// socket takes IPv6 addresses (IPv4 peers as v4-mapped addresses).
    fn check_family(sk: &Sock, addr: &SocketAddr) -> Result {
        if addr.family() == sk.family() {
            Ok(())
        } else {
            Err(EAFNOSUPPORT)
        }
    }

    /// Binds `sk` to `addr`'s UDP tunnel.
    fn attach(sk: &ProtoSock<Self>, inner: &mut Inner, addr: &SocketAddr) -> Result {
        let tunnel = sk.shared().acquire(sk.net(), addr)?;
        let local = addr.with_port(tunnel.local_addr().port());
        sk.set_local_addr(&local);
        inner.bound = Some(local);
        inner.tunnel = Some(tunnel);
        Ok(())
    }

    /// The wildcard address of `sk`'s family, port 0: where a client that
    /// did not bind(2) is bound by connect(2).
    fn any(sk: &Sock) -> SocketAddr {
        if sk.family() == kernel::bindings::AF_INET as u16 {
            SocketAddr::V4 {
                addr: [0; 4],
                port: 0,
            }
        } else {
            SocketAddr::V6 {
                addr: [0; 16],
                port: 0,
                flowinfo: 0,
                scope_id: 0,
            }
        }
    }
}

/// How long close(2) waits for stream data in flight to be acknowledged
/// before it sends CONNECTION_CLOSE.
const LINGER_MS: u32 = 5000;

/// How often close(2) looks again (acknowledgments wake nobody).
const LINGER_STEP_MS: u32 = 10;

impl Quic {
    /// Lets the peer acknowledge the stream data written before close(2),
    /// as TCP delivers what was written before a close: for up to
    /// [`LINGER_MS`], less on a signal.
    fn linger(sk: &ProtoSock<Self>) {
        let delivered = || {
            (*sk.data().conn.lock())
                .as_ref()
                .is_none_or(ConnState::delivered)
        };
        let mut guard = sk.lock();
        for _ in 0..LINGER_MS / LINGER_STEP_MS {
            if delivered() {
                return;
            }
            let mut step = Timeout::from_millis(LINGER_STEP_MS);
            match guard.wait(&mut step, |_| Ok(delivered())) {
                Ok(()) => return,
                Err(e) if e == ETIMEDOUT => {}
                // A signal, or no wait queue (an unaccepted child).
                Err(_) => return,
            }
        }
    }
}

/// A peer address as the core and the receive path see it: IPv4 for a
/// v4-mapped IPv6 address.
fn canonical(addr: &SocketAddr) -> SocketAddr {
    addr.to_v4_mapped().unwrap_or(*addr)
}

#[vtable]
impl InetProtocol for Quic {
    type Data = QuicSock;
    type Shared = TunnelRegistry;

    const PROTOCOL: u16 = IPPROTO_QUIC;
    const NAME: &'static CStr = c"QUIC";
    const NAME6: &'static CStr = c"QUICv6";

    fn init(_sk: &Sock) -> impl PinInit<QuicSock, Error> {
        try_pin_init!(QuicSock {
            inner <- new_mutex!(Inner::new()),
            conn <- new_spinlock_bh!(None),
        })
    }

    fn close(sk: &ProtoSock<Self>) {
        Self::linger(sk);
        let mut inner = sk.data().inner.lock();
        let state = sk.data().conn.lock().take();
        if let Some(state) = state {
            let c = &inner.close;
            state.close(sk, c.errcode.into(), c.frame.into(), &c.phrase);
        }
        let listener = inner.listener.take();
        if let (Some(h), Some(t)) = (listener, inner.tunnel.as_ref()) {
            t.endpoint().unlisten(h);
        }
        if let Some(t) = inner.tunnel.take() {
            sk.shared().release(t);
        }
    }

    fn bind(sk: &ProtoSock<Self>, addr: &SocketAddr) -> Result {
        Self::check_family(sk, addr)?;
        let mut inner = sk.data().inner.lock();
        // The socket API draft: "After the first bind() call, all subsequent
        // calls will return an error."
        if inner.bound.is_some() {
            return Err(EINVAL);
        }
        Self::attach(sk, &mut inner, addr)
    }

    fn connect(sk: &ProtoSock<Self>, addr: &SocketAddr, _flags: i32) -> Result {
        Self::check_family(sk, addr)?;
        let remote = canonical(addr);
        let mut inner = sk.data().inner.lock();
        if inner.listener.is_some() {
            return Err(EINVAL);
        }
        if sk.data().conn.lock().is_some() {
            return Err(EISCONN);
        }
        if inner.tunnel.is_none() {
            Self::attach(sk, &mut inner, &Self::any(sk))?;
        }
        let tunnel = inner.tunnel.clone().ok_or(EINVAL)?;
        // connect(2) "performs routing and determines the source address".
        let local = tunnel.route_source(&remote)?;
        let config = inner.connection_config()?;
        let now = clock::now();
        let ids = ConnIds::new(tunnel.endpoint().ids().clone());
        let mut conn =
            QuicConnection::connect(config, KernelCrypto, ids, now, local.into(), remote.into())
                .map_err(|_| ENOMEM)?;
        if !inner.token.is_empty() {
            conn.set_token(&inner.token).map_err(|_| EINVAL)?;
        }
        let handle = tunnel.endpoint().attach(sk, None)?;
        let mut state = ConnState::new(conn, tunnel, handle, None);
        let mut slot = sk.data().conn.lock();
        state.flush(sk, now);
        *slot = Some(state);
        sk.set_state(State::SynSent);
        Ok(())
    }

    fn listen(sk: &ProtoSock<Self>, backlog: i32) -> Result {
        let mut inner = sk.data().inner.lock();
        if sk.data().conn.lock().is_some() {
            return Err(EINVAL);
        }
        let tunnel = inner.tunnel.clone().ok_or(EINVAL)?;
        // The socket layer caps the backlog at somaxconn.
        let backlog = usize::try_from(backlog).unwrap_or(0);
        // Listening again only changes the backlog.
        if let Some(h) = inner.listener {
            tunnel.endpoint().set_backlog(h, backlog);
            return Ok(());
        }
        let alpn = AlpnList::from_socket_option(&inner.alpn).map_err(|_| EINVAL)?;
        inner.listener = Some(tunnel.endpoint().listen(sk, alpn, backlog)?);
        sk.set_state(State::Listen);
        Ok(())
    }

    fn accept(sk: &ProtoSock<Self>, flags: i32, _kern: bool) -> Result<NewSock<Self>> {
        let (h, tunnel, child) = {
            let inner = sk.data().inner.lock();
            let h = inner.listener.ok_or(EINVAL)?;
            let tunnel = inner.tunnel.clone().ok_or(EINVAL)?;
            // Boxed: a configuration is large for a stack frame.
            let child = KBox::new(
                ChildSettings {
                    config: inner.connection_config()?,
                    uconfig: inner.config,
                    alpn: inner.alpn_for_child()?,
                    bound: inner.bound,
                },
                GFP_KERNEL,
            )?;
            (h, tunnel, child)
        };
        let endpoint = tunnel.endpoint();
        let nonblock = flags & (kernel::bindings::O_NONBLOCK as i32) != 0;
        let mut timeo = sk.rcv_timeout(nonblock);
        let (rh, request) = {
            let mut guard = sk.lock();
            loop {
                if let Some(r) = endpoint.take_request(h) {
                    break r;
                }
                match guard.wait(&mut timeo, |_| Ok(endpoint.has_request(h))) {
                    Ok(()) => {}
                    Err(e) if e == ETIMEDOUT => return Err(EAGAIN),
                    Err(e) => return Err(e),
                }
            }
        };
        let made = Self::make_child(sk, &tunnel, rh, request, child);
        if made.is_err() {
            endpoint.release(rh);
            endpoint.handshake_finished();
        }
        made
    }

    fn setsockopt(sk: &ProtoSock<Self>, level: i32, name: i32, val: &SetValue) -> Result {
        if level != SOL_QUIC {
            return Err(ENOPROTOOPT);
        }
        sockopt::set(sk, name, val)
    }

    fn getsockopt(sk: &ProtoSock<Self>, level: i32, name: i32, val: &mut GetValue<'_>) -> Result {
        if level != SOL_QUIC {
            return Err(ENOPROTOOPT);
        }
        sockopt::get(sk, name, val)
    }

    fn sendmsg(sk: &ProtoSock<Self>, msg: &mut SendMsg<'_>) -> Result<usize> {
        message::send(sk, msg)
    }

    fn recvmsg(sk: &ProtoSock<Self>, msg: &mut RecvMsg<'_>, flags: u32) -> Result<usize> {
        message::recv(sk, msg, flags)
    }

    fn poll(sk: &ProtoSock<Self>) -> u32 {
        let mut mask = 0;
        if sk.state() == State::Listen as u8 {
            let inner = sk.data().inner.lock();
            if let (Some(h), Some(t)) = (inner.listener, inner.tunnel.as_ref()) {
                if t.endpoint().has_request(h) {
                    mask |= poll::IN | poll::RDNORM;
                }
            }
            return mask;
        }
        if let Some(state) = (*sk.data().conn.lock()).as_mut() {
            mask |= message::poll_mask(&mut state.conn);
        }
        if sk.has_error() {
            mask |= poll::ERR;
        }
        mask
    }

    fn timer(sk: &ProtoSock<Self>) {
        conn::on_timer(sk);
    }
}

impl Inner {
    /// The ALPN list a child of this listener starts with: the listener's.
    fn alpn_for_child(&self) -> Result<KVec<u8>> {
        let mut v = KVec::new();
        v.extend_from_slice(&self.alpn, GFP_KERNEL)?;
        Ok(v)
    }
}

/// What a listener's accepted sockets start with.
struct ChildSettings {
    config: crate::protocol::connection::Config,
    uconfig: UapiConfig,
    alpn: KVec<u8>,
    bound: Option<SocketAddr>,
}

impl Quic {
    /// Makes the socket of request `rh` on listener `sk`: the server end
    /// of the connection, fed the datagrams that came for it.
    #[inline(never)]
    fn make_child(
        sk: &ProtoSock<Self>,
        tunnel: &Arc<Tunnel>,
        rh: Handle,
        mut request: KBox<crate::endpoint::Request>,
        settings: KBox<ChildSettings>,
    ) -> Result<NewSock<Self>> {
        let child = sk.new_child()?;
        let endpoint = tunnel.endpoint();
        let new = request.new;
        let incoming = new.incoming();
        let now = clock::now();
        let ids = ConnIds::new(endpoint.ids().clone());
        let conn = QuicConnection::accept(
            settings.config,
            KernelCrypto,
            ids,
            now,
            request.local.into(),
            new.remote,
            &incoming,
        )
        .map_err(|_| ENOMEM)?;
        {
            let mut inner = child.data().inner.lock();
            inner.bound = settings.bound;
            inner.tunnel = Some(sk.shared().share(tunnel));
            inner.server = true;
            inner.config = settings.uconfig;
            inner.alpn = sockopt::selected_alpn(&settings.alpn, new.alpn)?;
            if let Some(local) = inner.bound {
                child.set_local_addr(&local);
            }
        }
        let h = endpoint.attach(&child, Some(rh))?;
        let mut state = ConnState::new(conn, tunnel.clone(), h, Some((new.dcid, new.remote)));
        let mut slot = child.data().conn.lock();
        let datagrams = core::mem::take(&mut request.datagrams);
        for (skb, info) in datagrams {
            state.receive(now, skb, &info);
        }
        state.flush(&child, now);
        *slot = Some(state);
        drop(slot);
        child.set_state(State::SynRecv);
        Ok(child)
    }
}
