// SPDX-License-Identifier: GPL-2.0

//! The `IPPROTO_QUIC` socket: system calls on a QUIC socket.
//!
//! One socket is one QUIC connection (or a listener). This file maps the
//! socket calls onto the connection state; it holds no protocol logic.
//! bind(2) attaches the socket to the UDP tunnel socket of its address
//! (shared with the other QUIC sockets bound there, see [`crate::tunnel`]);
//! close(2) detaches it.

use crate::{
    endpoint::ListenerId,
    protocol::endpoint::alpn::AlpnList,
    tunnel::{Tunnel, TunnelRegistry},
    uapi,
};
use kernel::{
    net::{
        addr::SocketAddr,
        protocol::{InetProtocol, ProtoSock},
        sock::{Sock, State},
        sockopt::{GetValue, SetValue},
    },
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// `IPPROTO_QUIC`: not an IANA protocol number, a value above `IPPROTO_RAW`
/// that selects QUIC at socket(2), like `IPPROTO_MPTCP`.
pub(crate) const IPPROTO_QUIC: u16 = 261;

/// `SOL_QUIC`: the socket-option and cmsg level.
pub(crate) const SOL_QUIC: i32 = 288;

/// The longest ALPN list accepted by `QUIC_SOCKOPT_ALPN` (a TLS ALPN
/// extension body is at most 2^16 - 1 bytes; the socket API's users send a
/// handful of short names).
const ALPN_MAX: usize = 255;

/// The QUIC protocol, as registered with the socket layer.
pub(crate) struct Quic;

/// Per-socket state.
#[pin_data]
pub(crate) struct QuicSock {
    #[pin]
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The address given to bind(2), with the port the kernel chose for
    /// port 0.
    bound: Option<SocketAddr>,
    /// The UDP tunnel socket of `bound`.
    tunnel: Option<Arc<Tunnel>>,
    /// The ALPN list, comma separated, as set with `QUIC_SOCKOPT_ALPN`.
    alpn: KVec<u8>,
    /// Enabled event types, one bit per `QUIC_EVENT_*`.
    events: u32,
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
            inner <- new_mutex!(Inner::default()),
        })
    }

    fn close(sk: &ProtoSock<Self>) {
        let tunnel = sk.data().inner.lock().tunnel.take();
        if let Some(t) = tunnel {
            if sk.state() == State::Listen as u8 {
                t.endpoint().unlisten(ListenerId::of(sk));
            }
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
        let tunnel = sk.shared().acquire(sk.net(), addr)?;
        let local = addr.with_port(tunnel.local_addr().port());
        sk.set_local_addr(&local);
        inner.bound = Some(local);
        inner.tunnel = Some(tunnel);
        Ok(())
    }

    fn listen(sk: &ProtoSock<Self>, backlog: i32) -> Result {
        let inner = sk.data().inner.lock();
        let tunnel = inner.tunnel.as_ref().ok_or(EINVAL)?;
        // The socket layer caps the backlog at somaxconn.
        let backlog = usize::try_from(backlog).unwrap_or(0);
        let alpn = AlpnList::from_socket_option(&inner.alpn).map_err(|_| EINVAL)?;
        // New connections for the socket's ALPN list reach the endpoint of
        // its address; listening again only changes the backlog.
        tunnel
            .endpoint()
            .listen(ListenerId::of(sk), alpn, backlog)?;
        sk.set_state(State::Listen);
        Ok(())
    }

    fn setsockopt(sk: &ProtoSock<Self>, level: i32, name: i32, val: &SetValue) -> Result {
        if level != SOL_QUIC {
            return Err(ENOPROTOOPT);
        }
        let mut inner = sk.data().inner.lock();
        match name as u32 {
            uapi::QUIC_SOCKOPT_EVENT => {
                let [ty, on] = val.read_array::<2>()?;
                if ty == 0 || u32::from(ty) >= uapi::quic_event_type_QUIC_EVENT_MAX || on > 1 {
                    return Err(EINVAL);
                }
                if on == 1 {
                    inner.events |= 1 << ty;
                } else {
                    inner.events &= !(1 << ty);
                }
                Ok(())
            }
            uapi::QUIC_SOCKOPT_ALPN => {
                if sk.state() == State::Listen as u8 {
                    return Err(EINVAL);
                }
                let alpn = val.read_vec(ALPN_MAX, GFP_KERNEL)?;
                // Names of 1 to 255 bytes, separated by commas.
                AlpnList::from_socket_option(&alpn).map_err(|_| EINVAL)?;
                inner.alpn = alpn;
                Ok(())
            }
            n if n <= uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT => Err(EOPNOTSUPP),
            _ => Err(ENOPROTOOPT),
        }
    }

    fn getsockopt(sk: &ProtoSock<Self>, level: i32, name: i32, val: &mut GetValue<'_>) -> Result {
        if level != SOL_QUIC {
            return Err(ENOPROTOOPT);
        }
        let inner = sk.data().inner.lock();
        match name as u32 {
            uapi::QUIC_SOCKOPT_EVENT => {
                let mut opt = [0u8; 2];
                val.read_input(&mut opt)?;
                let ty = opt[0];
                if ty == 0 || u32::from(ty) >= uapi::quic_event_type_QUIC_EVENT_MAX {
                    return Err(EINVAL);
                }
                opt[1] = u8::from(inner.events & (1 << ty) != 0);
                val.write(&opt)
            }
            uapi::QUIC_SOCKOPT_ALPN => val.write(&inner.alpn),
            n if n <= uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT => Err(EOPNOTSUPP),
            _ => Err(ENOPROTOOPT),
        }
    }
}
