// SPDX-License-Identifier: GPL-2.0

//! The connection of a socket: the core's [`Connection`] and what drives
//! it in the kernel.
//!
//! A socket's connection lives in a [`ConnState`] behind a BH spinlock in
//! the socket's data ([`crate::socket::QuicSock`]), reached from system
//! calls, from the receive path ([`deliver`]) and from the socket's timer
//! ([`on_timer`]). Whoever feeds the connection calls [`ConnState::flush`]
//! before unlocking, as the core's driving contract asks: datagrams go out
//! through the tunnel, route changes reach the endpoint, events wake the
//! socket's waiters, and the timer is armed at the core's next deadline.
//!
//! System calls copy user memory in and out before and after taking the
//! lock (copying may fault). The lock is never held while the endpoint's
//! is taken the other way round (see [`crate::endpoint`]).

use crate::{
    clock,
    crypto::KernelCrypto,
    endpoint::{ConnIds, Handle},
    protocol::{
        ack::EcnCodepoint,
        cid::ConnectionId,
        connection::{CloseCause, Connection, Event},
        error::TransportErrorCode,
        time::Instant,
    },
    socket::Quic,
    tunnel::Tunnel,
};
use kernel::{
    net::{
        addr::SocketAddr,
        protocol::ProtoSock,
        skbuff::{DropReason, SkBuff},
        sock::State,
        udp_tunnel::{RecvInfo, SendOptions, TX_HEADROOM},
    },
    prelude::*,
    sync::Arc,
    time::Delta,
};

/// The core's connection, over the kernel's crypto and the endpoint's IDs.
pub(crate) type QuicConnection = Connection<KernelCrypto, ConnIds>;

/// The room given to the core for one datagram: an Ethernet MTU. The core
/// writes no more than its path's maximum datagram size.
const MAX_DATAGRAM: usize = 1500;

/// Datagrams sent per flush at most; the rest waits for the next input or
/// the timer (the core's pacer usually stops earlier).
const MAX_TRANSMITS: usize = 64;

/// A socket's connection.
pub(crate) struct ConnState {
    /// The connection.
    pub(crate) conn: KBox<QuicConnection>,
    /// The UDP tunnel its datagrams leave through.
    tunnel: Arc<Tunnel>,
    /// Its entry in the endpoint.
    pub(crate) handle: Handle,
    /// A server's route by the client's first Destination Connection ID,
    /// removed once the handshake is done.
    initial_route: Option<(ConnectionId, core::net::SocketAddr)>,
    /// A server connection counted in the router's handshakes.
    handshaking: bool,
    /// Both 1-RTT secrets are installed (`QUIC_SOCKOPT_CRYPTO_SECRET`).
    app_secrets: [bool; 2],
    /// The socket was told the connection closed (or failed).
    close_reported: bool,
    /// The stream sendmsg(2) wrote to last: where data without
    /// `QUIC_STREAM_INFO` goes.
    pub(crate) last_stream: Option<crate::protocol::stream::StreamId>,
    /// An empty transmit buffer left over from the last flush.
    spare: Option<SkBuff>,
    /// The version a Version Negotiation packet offered, which
    /// getsockopt(`QUIC_SOCKOPT_CONFIG`) reports.
    pub(crate) offered_version: Option<u32>,
}

impl ConnState {
    /// A client's connection, or a server's made by accept(2) for a request
    /// (`initial_route` set).
    pub(crate) fn new(
        conn: KBox<QuicConnection>,
        tunnel: Arc<Tunnel>,
        handle: Handle,
        initial_route: Option<(ConnectionId, core::net::SocketAddr)>,
    ) -> Self {
        Self {
            conn,
            tunnel,
            handle,
            handshaking: initial_route.is_some(),
            initial_route,
            app_secrets: [false; 2],
            close_reported: false,
            last_stream: None,
            spare: None,
            offered_version: None,
        }
    }

    /// Feeds a datagram the tunnel received for this connection.
    pub(crate) fn receive(&mut self, now: Instant, mut skb: SkBuff, info: &RecvInfo) {
        // Packets are opened in place: the skb must be ours alone.
        let Ok(data) = skb.data_mut() else {
            skb.drop_with_reason(DropReason::NOMEM);
            return;
        };
        let ecn = match info.ecn & 0x3 {
            0b01 => EcnCodepoint::Ect1,
            0b10 => EcnCodepoint::Ect0,
            0b11 => EcnCodepoint::Ce,
            _ => EcnCodepoint::NotEct,
        };
        self.conn
            .handle_datagram(now, info.dst.into(), info.src.into(), ecn, data);
        skb.consume();
    }

    /// Records an installed 1-RTT secret (`send` or receive); once both
    /// are, the handshake is complete as far as TLS is concerned: this is
    /// the UAPI's contract (userspace installs the 1-RTT secrets when TLS
    /// is done).
    pub(crate) fn app_secret_installed(&mut self, now: Instant, send: bool) {
        self.app_secrets[usize::from(send)] = true;
        if self.app_secrets == [true, true] {
            self.conn.tls_handshake_done(now);
        }
    }

    /// After any input: sends what the connection has to send, keeps the
    /// endpoint's routes current, wakes the socket for its events and arms
    /// its timer.
    pub(crate) fn flush(&mut self, sk: &ProtoSock<Quic>, now: Instant) {
        // Routes first: a connection ID must be routed before the
        // NEW_CONNECTION_ID frame announcing it leaves.
        self.sync_routes();
        self.transmit(now);
        self.sync_routes();
        self.events(sk);
        match self.conn.poll_timeout() {
            Some(at) => {
                let after = at.saturating_duration_since(now).as_nanos();
                sk.set_timer(Delta::from_nanos(i64::try_from(after).unwrap_or(i64::MAX)));
            }
            None => {
                sk.stop_timer();
            }
        }
    }

    /// Tells the endpoint about the connection's new and retired IDs.
    fn sync_routes(&mut self) {
        let endpoint = self.tunnel.endpoint();
        while let Some(change) = self.conn.poll_route_change() {
            endpoint.route(self.handle, change);
        }
    }

    /// Sends the connection's datagrams through the tunnel.
    fn transmit(&mut self, now: Instant) {
        for _ in 0..MAX_TRANSMITS {
            let mut skb = match self.spare.take() {
                Some(skb) => skb,
                None => match SkBuff::alloc(TX_HEADROOM, MAX_DATAGRAM, GFP_ATOMIC) {
                    Ok(skb) => skb,
                    Err(_) => return,
                },
            };
            let Ok(buf) = skb.put(MAX_DATAGRAM) else {
                return;
            };
            let Some(t) = self.conn.poll_transmit(now, buf) else {
                // Most flushes end here (an ACK-only input, a timer with
                // nothing due): keep the buffer for the next one rather
                // than allocate and free one per received packet.
                if skb.trim(0).is_ok() {
                    self.spare = Some(skb);
                }
                return;
            };
            if skb.trim(t.len).is_err() {
                return;
            }
            let opts = SendOptions {
                src: Some(SocketAddr::from(t.local)),
                tos: t.ecn as u8,
                ttl: 0,
                // DPLPMTUD needs probes that are not fragmented (RFC 9000
                // §14.2, RFC 8899 §3).
                df: true,
            };
            // A datagram that cannot go out is as good as lost.
            let _ = self.tunnel.send(skb, &SocketAddr::from(t.remote), &opts);
        }
    }

    /// Wakes the socket for the connection's events.
    fn events(&mut self, sk: &ProtoSock<Quic>) {
        let (mut readable, mut writable, mut changed) = (false, false, false);
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::Connected => {
                    sk.set_state(State::Established);
                    changed = true;
                    self.handshake_over();
                }
                Event::CryptoDataReadable(_)
                | Event::StreamOpened(_)
                | Event::StreamReadable(_)
                | Event::DatagramReceived
                | Event::NewToken => readable = true,
                Event::StreamWritable(_) | Event::MaxData(_) | Event::MaxStreams { .. } => {
                    writable = true
                }
                // The server does not speak the version the client started
                // with. TLS runs in userspace and cannot be restarted from
                // here: the attempt fails, and userspace may connect again
                // with `quic_config.version` set to the version offered.
                Event::VersionNegotiation { version } => {
                    self.offered_version = Some(version.0);
                    if !self.close_reported {
                        self.close_reported = true;
                        sk.set_error(EPROTONOSUPPORT);
                        sk.set_state(State::Close);
                        changed = true;
                        readable = true;
                        writable = true;
                    }
                }
                _ => {}
            }
        }
        if self.conn.is_closed() && !self.close_reported {
            self.close_reported = true;
            self.handshake_over();
            if let Some(err) = self.close_error() {
                sk.set_error(err);
            }
            sk.set_state(State::Close);
            changed = true;
            readable = true;
            writable = true;
        }
        if readable {
            sk.data_ready();
        }
        if writable {
            sk.write_space();
        }
        if changed {
            sk.state_change();
        }
    }

    /// Whether close(2) has nothing left to deliver: the connection is over,
    /// never got to send data, or the peer acknowledged every stream byte
    /// written.
    pub(crate) fn delivered(&self) -> bool {
        self.conn.is_closed()
            || !self.conn.is_handshake_complete()
            || self.conn.streams().budget().used() == 0
    }

    /// The server's handshake is over (done or failed): the router stops
    /// counting it and its first route goes.
    fn handshake_over(&mut self) {
        if !self.handshaking {
            return;
        }
        self.handshaking = false;
        let endpoint = self.tunnel.endpoint();
        endpoint.handshake_finished();
        if let Some((dcid, remote)) = self.initial_route.take() {
            endpoint.remove_initial_route(dcid, remote);
        }
    }

    /// The socket error a closed connection reports, if any: none for a
    /// close of ours or the peer's orderly application close.
    fn close_error(&self) -> Option<Error> {
        let e = self.conn.close_error()?;
        if !e.by_peer {
            return match e.cause {
                CloseCause::IdleTimeout => Some(ETIMEDOUT),
                CloseCause::NoViablePath => Some(ENETUNREACH),
                CloseCause::VersionNegotiation => Some(EPROTONOSUPPORT),
                // We closed: with an error of ours, the peer learns it; the
                // socket call that closed reports it.
                _ => None,
            };
        }
        Some(match e.cause {
            CloseCause::StatelessReset => ECONNRESET,
            _ if e.application && e.code == 0 => return None,
            _ if e.application => ECONNRESET,
            _ if e.code == TransportErrorCode::NO_ERROR.0 => return None,
            _ if e.code == TransportErrorCode::CONNECTION_REFUSED.0 => ECONNREFUSED,
            // CRYPTO_ERROR: the peer's TLS stack refused the handshake.
            _ if (0x100..0x200).contains(&e.code) => ECONNREFUSED,
            _ => ECONNRESET,
        })
    }

    /// Closes the connection for close(2): sends CONNECTION_CLOSE with the
    /// error `code` of `QUIC_SOCKOPT_CONNECTION_CLOSE` and lets go of it.
    /// The endpoint forgets it; a peer that keeps sending gets stateless
    /// resets.
    ///
    /// A TLS failure (0x100 + alert, RFC 9001 §4.8) is a transport error;
    /// any other code is the application's, which cannot be sent before
    /// the handshake completes (RFC 9000 §10.2.3): NO_ERROR goes instead.
    pub(crate) fn close(mut self, sk: &ProtoSock<Quic>, code: u64, frame: u64, reason: &[u8]) {
        let now = clock::now();
        let crypto = (0x100..0x200).contains(&code);
        let application = !crypto && self.conn.is_handshake_complete();
        let code = if application || crypto { code } else { 0 };
        let frame = if application { 0 } else { frame };
        self.conn.close(now, code, frame, reason, application);
        self.close_reported = true;
        self.transmit(now);
        self.handshake_over();
        sk.stop_timer();
        self.tunnel.endpoint().release(self.handle);
    }
}

/// Runs `f` on the socket's connection (`ENOTCONN` without one), then
/// flushes it.
pub(crate) fn with_conn<T>(
    sk: &ProtoSock<Quic>,
    f: impl FnOnce(&mut ConnState, Instant) -> Result<T>,
) -> Result<T> {
    let now = clock::now();
    let mut slot = sk.data().conn.lock();
    let state = (*slot).as_mut().ok_or(ENOTCONN)?;
    let r = f(state, now);
    state.flush(sk, now);
    r
}

/// Delivers a datagram the endpoint routed to `sk`'s connection.
pub(crate) fn deliver(sk: &ProtoSock<Quic>, skb: SkBuff, info: &RecvInfo) {
    let now = clock::now();
    let mut slot = sk.data().conn.lock();
    match (*slot).as_mut() {
        Some(state) => {
            state.receive(now, skb, info);
            state.flush(sk, now);
        }
        None => skb.drop_with_reason(DropReason::SOCKET_CLOSE),
    }
}

/// The socket's timer fired: the connection's deadlines are due.
pub(crate) fn on_timer(sk: &ProtoSock<Quic>) {
    let now = clock::now();
    let mut slot = sk.data().conn.lock();
    if let Some(state) = (*slot).as_mut() {
        state.conn.handle_timeout(now);
        state.flush(sk, now);
    }
}
