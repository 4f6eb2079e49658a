// SPDX-License-Identifier: GPL-2.0

//! A server endpoint: the core's endpoint [`Router`] in front of any
//! number of our connections, each driven by rustls ([`Endpoint`]).
//!
//! This is the driver the kernel's socket glue follows; every step below
//! is one it takes in the UDP receive path, the timer or the socket calls:
//!
//! 1. **Receive**: every datagram goes to [`Router::classify`] with the
//!    codepoint of its IP header. The decision says what to do:
//!    - `Existing(handle)`: hand it to that connection's
//!      `handle_datagram`;
//!    - `NewConnection`: create the connection with `Connection::accept`
//!      from the decision, register its first routes
//!      ([`Router::register`]), queue it on the listener, replay the held
//!      datagrams of its ClientHello, then hand it this datagram;
//!    - `Buffered`: hold the datagram until the ClientHello is complete
//!      (or [`Router::poll_expired_pending`] gives up on it);
//!    - `SendRetry`, `Refuse`, `SendVersionNegotiation`,
//!      `StatelessReset`: write the answer with the builders of
//!      `endpoint::response` into a datagram of our own and send it;
//!      a reset carries the token the connection ID's generator derives
//!      (the endpoint's reset key, shared by its connections);
//!    - `Drop`: nothing.
//! 2. **After every call into a connection**, drain its
//!    `poll_route_change` into the router's table, and when the handshake
//!    is confirmed tell the router ([`Router::handshake_finished`]),
//!    remove the route of the client's first Destination Connection ID,
//!    and (if the endpoint sends them) mint a NEW_TOKEN token bound to the
//!    client's IP address with the Retry token key (`token::issue`) and
//!    hand it to the connection (`send_new_token`).
//! 3. **Send** what `poll_transmit` returns, stateless answers first.
//! 4. **Timers**: arm one timer at the earliest `poll_timeout` of the
//!    connections and the router's pending ClientHellos.
//! 5. **Teardown**: once a connection `is_drained`, remove every route it
//!    still has (`routed_cids`, the first Initial's) and free it. Packets
//!    for it are unknown from then on and get stateless resets. (Here the
//!    freed connection is kept aside for the tests to inspect, as a socket
//!    keeps its error; nothing reaches it any more.)
//!
//! Nothing here reads a clock or opens a socket: time comes in as `now`
//! and datagrams go out as [`Outgoing`].

use crate::cid::Gen;
use crate::endpoint::Endpoint;
use crate::tls::ALPN;
use quic_host_crypto::{Aead, RustCrypto};
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::cid::local::RouteChange;
use quic_protocol::protocol::cid::{ConnectionId, Generator};
use quic_protocol::protocol::connection::Config;
use quic_protocol::protocol::crypto::{CipherSuite, Iv, Provider};
use quic_protocol::protocol::endpoint::alpn::AlpnList;
use quic_protocol::protocol::endpoint::demux::{Decision, NewConnection, Router, RouterConfig};
use quic_protocol::protocol::endpoint::listener::Listener;
use quic_protocol::protocol::endpoint::pending::PendingId;
use quic_protocol::protocol::endpoint::response::{
    write_refusal, write_retry, write_stateless_reset, write_version_negotiation,
};
use quic_protocol::protocol::endpoint::routes::RouteKey;
use quic_protocol::protocol::endpoint::token::{self, Binding, MAX_TOKEN_LEN};
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::time::Instant;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// The router's name for a connection.
pub type Handle = u32;

/// The one listener's id.
const LISTENER: u8 = 1;

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The local address it leaves from.
    pub from: SocketAddr,
    /// Where it goes.
    pub to: SocketAddr,
    /// The ECN codepoint of its IP header.
    pub ecn: EcnCodepoint,
    /// The UDP payload.
    pub bytes: Vec<u8>,
}

/// What the endpoint did, for assertions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections created.
    pub accepted: u64,
    /// Connections freed after draining.
    pub freed: u64,
    /// Retry packets sent.
    pub retries: u64,
    /// NEW_TOKEN tokens handed to connections.
    pub new_tokens: u64,
    /// Connection attempts refused (Initial CONNECTION_CLOSE).
    pub refusals: u64,
    /// Version Negotiation packets sent.
    pub version_negotiations: u64,
    /// Stateless resets sent.
    pub resets: u64,
    /// Datagrams held for a ClientHello spanning several.
    pub held: u64,
    /// Datagrams dropped.
    pub dropped: u64,
}

/// A connection of the endpoint.
struct Slot {
    ep: Endpoint,
    /// The route of the client's first Initial, until the handshake is
    /// confirmed.
    initial_route: Option<RouteKey>,
}

/// A held datagram of a ClientHello spanning several.
struct Held {
    id: PendingId,
    local: SocketAddr,
    remote: SocketAddr,
    ecn: EcnCodepoint,
    bytes: Vec<u8>,
}

/// A server endpoint on one address: the router, its connections, and
/// the stateless answers waiting to go out.
pub struct Server {
    router: Router<Handle, u8>,
    token_key: Aead,
    /// The endpoint's randomness and reset key; each connection gets a
    /// fork of it.
    gen: Gen,
    nonce: u64,
    /// Send each client a NEW_TOKEN once its handshake is confirmed.
    new_tokens: bool,
    config: Config,
    tls: Arc<rustls::ServerConfig>,
    addr: SocketAddr,
    conns: BTreeMap<Handle, Slot>,
    /// Connections freed after draining, kept for inspection only.
    freed: BTreeMap<Handle, Endpoint>,
    next_handle: Handle,
    held: Vec<Held>,
    out: VecDeque<Outgoing>,
    buf: Vec<u8>,
    /// Counters.
    pub stats: ServerStats,
}

impl Server {
    /// A server at `addr` listening for the test ALPN, creating its
    /// connections with `config`, validating client addresses with Retry
    /// first if `retry`. `seed` seeds every random choice.
    pub fn new(
        addr: SocketAddr,
        config: Config,
        retry: bool,
        tls: Arc<rustls::ServerConfig>,
        seed: u64,
    ) -> Self {
        let mut router = Router::new(RouterConfig::new(config.cid_len), [seed, 0x5eed]);
        let alpn = AlpnList::from_socket_option(ALPN).expect("ALPN");
        router
            .listeners
            .add(Listener::new(LISTENER, alpn, retry, 64))
            .expect("listener");
        let token_key = RustCrypto
            .packet_key(
                CipherSuite::Aes128GcmSha256,
                &[0x3c; 16],
                Iv::new([0x11; 12]),
            )
            .expect("token key");
        Self {
            router,
            token_key,
            gen: Gen::new(seed.wrapping_mul(17) ^ 0xabcd),
            nonce: 0,
            new_tokens: false,
            config,
            tls,
            addr,
            conns: BTreeMap::new(),
            freed: BTreeMap::new(),
            next_handle: 0,
            held: Vec::new(),
            out: VecDeque::new(),
            buf: vec![0u8; 64 * 1024],
            stats: ServerStats::default(),
        }
    }

    /// Whether the server hands each client a NEW_TOKEN token once its
    /// handshake is confirmed, for the client's next connection to skip
    /// the Retry (RFC 9000 §8.1.3). Off by default.
    pub fn set_new_tokens(&mut self, on: bool) {
        self.new_tokens = on;
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The router, for inspection.
    pub fn router(&self) -> &Router<Handle, u8> {
        &self.router
    }

    /// The live connections, by handle.
    pub fn connections(&self) -> impl Iterator<Item = (Handle, &Endpoint)> + '_ {
        self.conns.iter().map(|(h, s)| (*h, &s.ep))
    }

    /// The newest connection's handle, if any was created.
    pub fn newest(&self) -> Option<Handle> {
        self.next_handle.checked_sub(1)
    }

    /// Whether connection `handle` is live (not freed).
    pub fn is_live(&self, handle: Handle) -> bool {
        self.conns.contains_key(&handle)
    }

    /// The connection `handle`, live or freed after draining.
    pub fn connection(&self, handle: Handle) -> Option<&Endpoint> {
        self.conns
            .get(&handle)
            .map(|s| &s.ep)
            .or_else(|| self.freed.get(&handle))
    }

    /// The live connection `handle`.
    pub fn connection_mut(&mut self, handle: Handle) -> Option<&mut Endpoint> {
        self.conns.get_mut(&handle).map(|s| &mut s.ep)
    }

    /// A datagram arrived at `local` from `remote` with the ECN codepoint
    /// `ecn`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        bytes: &[u8],
    ) {
        let key = &self.token_key;
        let decision = self
            .router
            .classify(&RustCrypto, |_| Some(key), bytes, remote, now);
        match decision {
            Decision::Existing(handle) => self.deliver(now, handle, local, remote, ecn, bytes),
            Decision::NewConnection(new) => {
                let handle = self.accept(now, local, &new);
                if let Some(id) = new.pending {
                    self.replay_held(now, handle, id);
                }
                self.deliver(now, handle, local, remote, ecn, bytes);
            }
            Decision::Buffered(id) => {
                self.stats.held += 1;
                self.held.push(Held {
                    id,
                    local,
                    remote,
                    ecn,
                    bytes: bytes.to_vec(),
                });
            }
            Decision::SendVersionNegotiation { dcid, scid } => {
                let grease = self.gen.new_cid(4);
                let grease = u32::from_be_bytes(grease.as_slice().try_into().expect("4 bytes"));
                let versions = self.router.config().versions;
                let n = write_version_negotiation(dcid, scid, versions, grease, &mut self.buf)
                    .expect("Version Negotiation");
                self.stats.version_negotiations += 1;
                self.answer(local, remote, n);
            }
            Decision::SendRetry(req) => {
                let scid = self.gen.new_cid(self.config.cid_len.max(8));
                self.nonce += 1;
                let n = write_retry(
                    &RustCrypto,
                    &req,
                    &scid,
                    &self.token_key,
                    0,
                    self.nonce,
                    now,
                    &mut self.buf,
                )
                .expect("Retry");
                self.stats.retries += 1;
                self.answer(local, req.remote, n);
            }
            Decision::Refuse(refusal) => {
                if let Some(id) = refusal.pending {
                    self.held.retain(|h| h.id != id);
                }
                let scid = self.gen.new_cid(self.config.cid_len.max(8));
                let n =
                    write_refusal(&RustCrypto, &refusal, &scid, &mut self.buf).expect("refusal");
                self.stats.refusals += 1;
                self.answer(local, remote, n);
            }
            Decision::StatelessReset { dcid, trigger_len } => {
                let token = self.gen.reset_token(&dcid);
                let mut unpredictable = [0u8; 40];
                for chunk in unpredictable.chunks_mut(20) {
                    chunk.copy_from_slice(self.gen.new_cid(20).as_slice());
                }
                if let Ok(n) =
                    write_stateless_reset(&token, trigger_len, &unpredictable, &mut self.buf)
                {
                    self.stats.resets += 1;
                    self.answer(local, remote, n);
                }
            }
            Decision::Drop(_) => self.stats.dropped += 1,
        }
    }

    /// Queues the `n` bytes written into the buffer, to `remote`.
    fn answer(&mut self, local: SocketAddr, remote: SocketAddr, n: usize) {
        self.out.push_back(Outgoing {
            from: local,
            to: remote,
            ecn: EcnCodepoint::NotEct,
            bytes: self.buf[..n].to_vec(),
        });
    }

    /// Creates the connection `new` describes and routes its first packets
    /// to it.
    fn accept(&mut self, now: Instant, local: SocketAddr, new: &NewConnection<u8>) -> Handle {
        let incoming = new.incoming();
        let ep = Endpoint::accept(
            self.config,
            self.gen.fork(),
            now,
            local,
            new.remote,
            &incoming,
            &self.tls,
        )
        .expect("accept");
        let handle = self.next_handle;
        self.next_handle += 1;
        self.router
            .register(new, handle, ep.conn.local_cid())
            .expect("register");
        // The application accepts at once: off the listener's queue.
        self.router.listeners.dequeue(new.listener);
        self.conns.insert(
            handle,
            Slot {
                ep,
                initial_route: Some(RouteKey::Initial(new.dcid, new.remote)),
            },
        );
        self.stats.accepted += 1;
        handle
    }

    fn replay_held(&mut self, now: Instant, handle: Handle, id: PendingId) {
        let (held, rest) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.id == id);
        self.held = rest;
        for h in held {
            self.deliver(now, handle, h.local, h.remote, h.ecn, &h.bytes);
        }
    }

    fn deliver(
        &mut self,
        now: Instant,
        handle: Handle,
        local: SocketAddr,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        bytes: &[u8],
    ) {
        let Some(slot) = self.conns.get_mut(&handle) else {
            return;
        };
        let mut bytes = bytes.to_vec();
        slot.ep
            .conn
            .handle_datagram(now, local, remote, ecn, &mut bytes);
        self.sync(now, handle);
    }

    /// Keeps the router in step with the connection `handle`: its route
    /// changes, the end of its handshake, its teardown.
    fn sync(&mut self, now: Instant, handle: Handle) {
        let Some(slot) = self.conns.get_mut(&handle) else {
            return;
        };
        while let Some(change) = slot.ep.conn.poll_route_change() {
            match change {
                RouteChange::Add(cid) => {
                    let key = RouteKey::Cid(cid);
                    if self.router.routes.get(&key) != Some(handle) {
                        self.router.routes.insert(key, handle).expect("route");
                    }
                }
                RouteChange::Remove(cid) => {
                    let _ = self.router.routes.remove(&RouteKey::Cid(cid));
                }
            }
        }
        let conn = &slot.ep.conn;
        let handshake_over = conn.is_handshake_confirmed() || conn.is_closed();
        if handshake_over {
            if let Some(key) = slot.initial_route.take() {
                // The client uses our connection IDs now; the router may
                // admit another handshake.
                let _ = self.router.routes.remove(&key);
                self.router.handshake_finished();
                if self.new_tokens && !conn.is_closed() {
                    let client = conn.paths().active().remote().ip();
                    self.nonce += 1;
                    let mut token = [0u8; MAX_TOKEN_LEN];
                    let n = token::issue(
                        &self.token_key,
                        0,
                        self.nonce,
                        now,
                        Binding::NewToken { client: &client },
                        &ConnectionId::EMPTY,
                        &mut token,
                    )
                    .expect("NEW_TOKEN token");
                    slot.ep.conn.send_new_token(&token[..n]).expect("NEW_TOKEN");
                    self.stats.new_tokens += 1;
                }
            }
        }
        if slot.ep.conn.is_drained() {
            let ids: Vec<_> = slot.ep.conn.routed_cids().copied().collect();
            for id in ids {
                let _ = self.router.routes.remove(&RouteKey::Cid(id));
            }
            self.router.routes.retain(|_, h| h != handle);
            if let Some(slot) = self.conns.remove(&handle) {
                self.freed.insert(handle, slot.ep);
            }
            self.stats.freed += 1;
        }
    }

    /// Frees connection `handle` at once, as if its state were lost (a
    /// crash, a restart): its routes go, and its peer's next packets are
    /// answered with stateless resets.
    pub fn forget(&mut self, handle: Handle) {
        if let Some(slot) = self.conns.remove(&handle) {
            self.router.routes.retain(|_, h| h != handle);
            if slot.initial_route.is_some() {
                self.router.handshake_finished();
            }
        }
    }

    /// Lets TLS and the application of every connection react.
    pub fn drive(&mut self, now: Instant) {
        let handles: Vec<_> = self.conns.keys().copied().collect();
        for handle in handles {
            if let Some(slot) = self.conns.get_mut(&handle) {
                slot.ep.drive_tls(now);
                slot.ep.drive_app(now);
            }
            self.sync(now, handle);
        }
    }

    /// The next datagram to send: stateless answers first, then the
    /// connections' in handle order.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing> {
        if let Some(o) = self.out.pop_front() {
            return Some(o);
        }
        let handles: Vec<_> = self.conns.keys().copied().collect();
        for handle in handles {
            let Some(slot) = self.conns.get_mut(&handle) else {
                continue;
            };
            let t = slot.ep.conn.poll_transmit(now, &mut self.buf);
            self.sync(now, handle);
            if let Some(t) = t {
                // A GSO batch goes out as its segments, one datagram each.
                let seg = t.segment_size.unwrap_or(t.len).max(1);
                for chunk in self.buf[..t.len].chunks(seg) {
                    self.out.push_back(Outgoing {
                        from: t.local,
                        to: t.remote,
                        ecn: t.ecn,
                        bytes: chunk.to_vec(),
                    });
                }
                return self.out.pop_front();
            }
        }
        None
    }

    /// When [`Server::handle_timeout`] is due: the earliest connection
    /// timer or pending ClientHello expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(|s| s.ep.conn.poll_timeout())
            .chain(self.router.next_pending_expiry())
            .min()
    }

    /// Runs the timers due by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(id) = self.router.poll_expired_pending(now) {
            self.held.retain(|h| h.id != id);
        }
        let handles: Vec<_> = self.conns.keys().copied().collect();
        for handle in handles {
            if let Some(slot) = self.conns.get_mut(&handle) {
                if slot.ep.conn.poll_timeout().is_some_and(|t| t <= now) {
                    slot.ep.conn.handle_timeout(now);
                }
            }
            self.sync(now, handle);
        }
    }
}
