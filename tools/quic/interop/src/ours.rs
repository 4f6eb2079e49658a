// SPDX-License-Identifier: GPL-2.0

//! Our side: a client, or a server behind the core's endpoint router, each
//! with one connection driven by rustls (`quic_test_support::endpoint`).
//!
//! The server does what the kernel's receive path does with a datagram:
//! [`Router::classify`] decides, and the answer is acted on — a new
//! connection is created from the decision (after a Retry round trip when
//! the listener validates addresses), held datagrams of a ClientHello
//! spanning several are replayed, stateless answers are written with the
//! endpoint's builders, and the connection's route changes keep the
//! routing table current.

use crate::peer::{Closed, Outgoing, Peer, Stack, WriteError, EXPORTER_LABEL};
use crate::setup::{Setup, SERVER_ADDR};
use quic_host_crypto::{Aead, RustCrypto};
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::cid::local::RouteChange;
use quic_protocol::protocol::cid::Generator;
use quic_protocol::protocol::connection::{CloseCause, Config, Event, Incoming};
use quic_protocol::protocol::crypto::{CipherSuite, Iv, Provider};
use quic_protocol::protocol::endpoint::alpn::AlpnList;
use quic_protocol::protocol::endpoint::demux::{Decision, NewConnection, Router, RouterConfig};
use quic_protocol::protocol::endpoint::listener::Listener;
use quic_protocol::protocol::endpoint::pending::PendingId;
use quic_protocol::protocol::endpoint::response::{write_refusal, write_retry};
use quic_protocol::protocol::endpoint::routes::RouteKey;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::stream::{Dir, StreamError, StreamId, StreamState};
use quic_protocol::protocol::time::Instant;
use quic_test_support::cid::Gen;
use quic_test_support::endpoint::Endpoint;
use quic_test_support::tls::{TlsConfigs, ALPN};
use std::collections::VecDeque;
use std::sync::Arc;

/// The router's handle of the one connection.
const CONN: u32 = 0;
/// The listener's id.
const LISTENER: u8 = 1;

/// The server half: the endpoint router and what it needs.
struct Server {
    router: Router<u32, u8>,
    token_key: Aead,
    gen: Gen,
    nonce: u64,
    config: Config,
    /// Datagrams of ClientHellos spanning several, held by the router's
    /// pending id.
    held: Vec<(PendingId, SocketAddr, EcnCodepoint, Vec<u8>)>,
    /// The router was told the connection finished its handshake.
    finished: bool,
}

/// Our client, or our server behind the endpoint router.
pub struct OurPeer {
    /// The connection once it exists (a server creates it on the first
    /// Initial the router admits).
    pub ep: Option<Endpoint>,
    server: Option<Server>,
    tls: Arc<TlsConfigs>,
    local: SocketAddr,
    /// Stateless answers waiting to be sent.
    out: VecDeque<Outgoing>,
    buf: Vec<u8>,
    connections: usize,
    retries: usize,
}

impl OurPeer {
    /// A client at `local` that has written its ClientHello to the server.
    pub fn client(setup: &Setup, tls: Arc<TlsConfigs>, local: SocketAddr, now: Instant) -> Self {
        let ep = Endpoint::connect(
            setup.ours(false),
            Gen::new(setup.seed.wrapping_mul(31)),
            now,
            local,
            SERVER_ADDR,
            &tls.client,
            setup.remembered.as_ref(),
        )
        .expect("connect");
        Self {
            ep: Some(ep),
            server: None,
            tls,
            local,
            out: VecDeque::new(),
            buf: vec![0u8; 64 * 1024],
            connections: 1,
            retries: 0,
        }
    }

    /// A server listening on [`SERVER_ADDR`] for the test ALPN.
    pub fn server(setup: &Setup, tls: Arc<TlsConfigs>) -> Self {
        let config = setup.ours(true);
        let mut router = Router::new(RouterConfig::new(config.cid_len), [setup.seed, 0x5eed]);
        let alpn = AlpnList::from_socket_option(ALPN).expect("ALPN");
        router
            .listeners
            .add(Listener::new(LISTENER, alpn, setup.retry, 16))
            .expect("listener");
        let token_key = RustCrypto
            .packet_key(
                CipherSuite::Aes128GcmSha256,
                &[0x3c; 16],
                Iv::new([0x11; 12]),
            )
            .expect("token key");
        Self {
            ep: None,
            server: Some(Server {
                router,
                token_key,
                gen: Gen::new(setup.seed.wrapping_mul(17) ^ 0xabcd),
                nonce: 0,
                config,
                held: Vec::new(),
                finished: false,
            }),
            tls,
            local: SERVER_ADDR,
            out: VecDeque::new(),
            buf: vec![0u8; 64 * 1024],
            connections: 0,
            retries: 0,
        }
    }

    /// The endpoint of the connection; panics before it exists.
    pub fn endpoint(&self) -> &Endpoint {
        self.ep.as_ref().expect("no connection yet")
    }

    /// Mutable access to the endpoint of the connection.
    pub fn endpoint_mut(&mut self) -> &mut Endpoint {
        self.ep.as_mut().expect("no connection yet")
    }

    /// Whether the application saw `event`.
    pub fn saw(&self, event: &Event) -> bool {
        self.ep.as_ref().is_some_and(|e| e.saw(event))
    }

    /// The 1-RTT key phases reported, in order.
    pub fn key_phases(&self) -> Vec<bool> {
        self.ep.as_ref().map_or(Vec::new(), |e| {
            e.events
                .iter()
                .filter_map(|e| match *e {
                    Event::KeyUpdate { phase } => Some(phase),
                    _ => None,
                })
                .collect()
        })
    }

    /// A server's answer to a datagram without a connection.
    fn classify(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        bytes: &[u8],
    ) -> bool {
        let Some(s) = self.server.as_mut() else {
            return false;
        };
        let key = &s.token_key;
        let decision = s
            .router
            .classify(&RustCrypto, |_| Some(key), bytes, remote, now);
        match decision {
            Decision::Existing(_) => true,
            Decision::NewConnection(new) => {
                self.create(now, &new);
                if let Some(id) = new.pending {
                    self.replay_held(now, id);
                }
                true
            }
            Decision::Buffered(id) => {
                s.held.push((id, remote, ecn, bytes.to_vec()));
                false
            }
            Decision::SendRetry(req) => {
                let scid = s.gen.new_cid(s.config.cid_len.max(8));
                s.nonce += 1;
                let mut out = vec![0u8; 256];
                let n = write_retry(
                    &RustCrypto,
                    &req,
                    &scid,
                    &s.token_key,
                    0,
                    s.nonce,
                    now,
                    &mut out,
                )
                .expect("Retry");
                out.truncate(n);
                self.retries += 1;
                self.out.push_back(Outgoing {
                    from: SERVER_ADDR,
                    to: req.remote,
                    ecn: EcnCodepoint::NotEct,
                    bytes: out,
                });
                false
            }
            Decision::Refuse(refusal) => {
                let scid = s.gen.new_cid(s.config.cid_len.max(8));
                let mut out = vec![0u8; 1500];
                let n = write_refusal(&RustCrypto, &refusal, &scid, &mut out).expect("refusal");
                out.truncate(n);
                self.out.push_back(Outgoing {
                    from: SERVER_ADDR,
                    to: remote,
                    ecn: EcnCodepoint::NotEct,
                    bytes: out,
                });
                false
            }
            // Version Negotiation, stateless resets and drops: quinn never
            // needs them in these scenarios; dropping is always allowed.
            _ => false,
        }
    }

    fn create(&mut self, now: Instant, new: &NewConnection<u8>) {
        let s = self.server.as_mut().expect("server");
        let incoming = Incoming {
            version: new.version,
            dcid: new.dcid,
            scid: new.scid,
            original_dcid: new.odcid,
            retry_scid: new.retry_scid,
            address_validated: new.address_validated,
        };
        let seed = s.gen.new_cid(8);
        let seed = u64::from_be_bytes(seed.as_slice().try_into().expect("8 bytes"));
        let ep = Endpoint::accept(
            s.config,
            Gen::new(seed),
            now,
            SERVER_ADDR,
            new.remote,
            &incoming,
            &self.tls.server,
        )
        .expect("accept");
        s.router
            .register(new, CONN, ep.conn.local_cid())
            .expect("register");
        s.router.listeners.dequeue(LISTENER);
        self.ep = Some(ep);
        self.connections += 1;
    }

    fn replay_held(&mut self, now: Instant, id: PendingId) {
        let Some(s) = self.server.as_mut() else {
            return;
        };
        let held: Vec<_> = s.held.iter().filter(|h| h.0 == id).cloned().collect();
        s.held.retain(|h| h.0 != id);
        for (_, remote, ecn, mut bytes) in held {
            if let Some(ep) = self.ep.as_mut() {
                ep.conn
                    .handle_datagram(now, SERVER_ADDR, remote, ecn, &mut bytes);
            }
        }
    }

    /// Keeps the router's table in step with the connection's IDs.
    fn sync_routes(&mut self) {
        let (Some(s), Some(ep)) = (self.server.as_mut(), self.ep.as_mut()) else {
            return;
        };
        while let Some(change) = ep.conn.poll_route_change() {
            match change {
                RouteChange::Add(cid) => {
                    // The first ID was routed when the connection was
                    // registered.
                    let key = RouteKey::Cid(cid);
                    if s.router.routes.get(&key) != Some(CONN) {
                        s.router.routes.insert(key, CONN).expect("route");
                    }
                }
                RouteChange::Remove(cid) => {
                    let _ = s.router.routes.remove(&RouteKey::Cid(cid));
                }
            }
        }
    }

    fn conn_mut(&mut self) -> Option<&mut quic_test_support::endpoint::Conn> {
        self.ep.as_mut().map(|e| &mut *e.conn)
    }
}

fn stream_id(id: u64) -> StreamId {
    StreamId::from_u64(id).expect("stream ID")
}

impl Peer for OurPeer {
    fn stack(&self) -> Stack {
        Stack::Ours
    }

    fn local_addr(&self) -> SocketAddr {
        self.ep.as_ref().map_or(self.local, |e| e.addr)
    }

    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        bytes: &[u8],
    ) {
        if self.server.is_some() && !self.classify(now, remote, ecn, bytes) {
            return;
        }
        let mut bytes = bytes.to_vec();
        if let Some(ep) = self.ep.as_mut() {
            ep.conn.handle_datagram(now, local, remote, ecn, &mut bytes);
        }
        self.sync_routes();
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing> {
        if let Some(o) = self.out.pop_front() {
            return Some(o);
        }
        let ep = self.ep.as_mut()?;
        let t = ep.conn.poll_transmit(now, &mut self.buf)?;
        // One datagram at a time: `max_gso_segments` is 1.
        assert!(t.segment_size.is_none_or(|s| s >= t.len));
        Some(Outgoing {
            from: t.local,
            to: t.remote,
            ecn: t.ecn,
            bytes: self.buf[..t.len].to_vec(),
        })
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.ep.as_ref().and_then(|e| e.conn.poll_timeout())
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(c) = self.conn_mut() {
            c.handle_timeout(now);
        }
        self.sync_routes();
    }

    fn drive(&mut self, now: Instant) {
        if let Some(ep) = self.ep.as_mut() {
            ep.drive_tls(now);
            ep.drive_app(now);
        }
        self.sync_routes();
        let connected = self.saw(&Event::Connected);
        if let Some(s) = self.server.as_mut().filter(|s| connected && !s.finished) {
            // The router counts connections handshaking, for its limit.
            s.router.handshake_finished();
            s.finished = true;
        }
    }

    fn is_established(&self) -> bool {
        self.ep
            .as_ref()
            .is_some_and(|e| e.conn.is_handshake_confirmed() && !e.conn.is_closed())
    }

    fn closed(&self) -> Option<Closed> {
        let err = self.ep.as_ref()?.conn.close_error()?;
        Some(match (err.cause, err.application) {
            (CloseCause::IdleTimeout, _) => Closed::IdleTimeout,
            (CloseCause::ConnectionClose, true) => Closed::Application {
                code: err.code,
                by_peer: err.by_peer,
            },
            (CloseCause::ConnectionClose, false) => Closed::Transport {
                code: err.code,
                by_peer: err.by_peer,
            },
            _ => Closed::Other,
        })
    }

    fn is_drained(&self) -> bool {
        self.ep.as_ref().is_some_and(|e| e.conn.is_drained())
    }

    fn alpn(&self) -> Option<Vec<u8>> {
        self.ep.as_ref()?.tls.alpn_protocol().map(<[u8]>::to_vec)
    }

    fn exporter(&self) -> Option<Vec<u8>> {
        let ep = self.ep.as_ref()?;
        ep.tls
            .export_keying_material(vec![0u8; 32], EXPORTER_LABEL, None)
            .ok()
    }

    fn accepted_0rtt(&self) -> bool {
        let Some(ep) = self.ep.as_ref() else {
            return false;
        };
        match &ep.tls {
            rustls::quic::Connection::Client(c) => {
                ep.early_keys_installed() && c.is_early_data_accepted()
            }
            rustls::quic::Connection::Server(_) => ep.early_keys_installed(),
        }
    }

    fn connections(&self) -> usize {
        self.connections
    }

    fn retries_sent(&self) -> usize {
        self.retries
    }

    fn open(&mut self, bidi: bool) -> Option<u64> {
        let dir = if bidi { Dir::Bi } else { Dir::Uni };
        self.conn_mut()?
            .stream_open(dir)
            .ok()
            .map(StreamId::into_inner)
    }

    fn write(&mut self, id: u64, data: &[u8]) -> Result<usize, WriteError> {
        let conn = self.conn_mut().ok_or(WriteError::Invalid)?;
        match conn.stream_write(stream_id(id), data, false) {
            Ok(0) if !data.is_empty() => Err(WriteError::Blocked),
            Ok(n) => Ok(n),
            Err(StreamError::Blocked) => Err(WriteError::Blocked),
            Err(StreamError::Stopped(code)) => Err(WriteError::Stopped(code)),
            Err(_) => Err(WriteError::Invalid),
        }
    }

    fn finish(&mut self, id: u64) {
        if let Some(c) = self.conn_mut() {
            c.stream_finish(stream_id(id)).expect("finish");
        }
    }

    fn reset(&mut self, id: u64, code: u64) {
        if let Some(c) = self.conn_mut() {
            c.stream_reset(stream_id(id), code).expect("reset");
        }
    }

    fn stop_sending(&mut self, id: u64, code: u64) {
        if let Some(c) = self.conn_mut() {
            c.stream_stop_sending(stream_id(id), code)
                .expect("stop sending");
        }
    }

    fn received_ids(&self) -> Vec<u64> {
        self.ep
            .as_ref()
            .map_or(Vec::new(), |e| e.received.keys().copied().collect())
    }

    fn received(&self, id: u64) -> Option<(&[u8], bool)> {
        let (data, fin) = self.ep.as_ref()?.received.get(&id)?;
        Some((data.as_slice(), *fin))
    }

    fn reset_received(&self, id: u64) -> Option<u64> {
        let ep = self.ep.as_ref()?;
        ep.resets.iter().find(|r| r.0 == id).map(|r| r.1)
    }

    fn stop_sending_received(&self, id: u64) -> Option<u64> {
        self.ep.as_ref()?.events.iter().find_map(|e| match e {
            Event::StreamUpdate(u)
                if u.id.into_inner() == id && u.state == StreamState::SendResetSent =>
            {
                Some(u.errcode)
            }
            _ => None,
        })
    }

    fn set_reading(&mut self, on: bool) {
        if let Some(ep) = self.ep.as_mut() {
            ep.reading = on;
        }
    }

    fn send_datagram(&mut self, data: &[u8]) -> bool {
        self.conn_mut()
            .is_some_and(|c| c.datagram_send(data).is_ok())
    }

    fn max_datagram(&mut self) -> Option<usize> {
        self.ep.as_ref()?.conn.datagram_max_size()
    }

    fn datagrams(&self) -> &[Vec<u8>] {
        self.ep.as_ref().map_or(&[], |e| e.datagrams.as_slice())
    }

    fn key_update(&mut self) -> bool {
        self.conn_mut()
            .is_some_and(|c| c.request_key_update().is_ok())
    }

    fn migrate(&mut self, now: Instant, local: SocketAddr) -> bool {
        let Some(ep) = self.ep.as_mut() else {
            return false;
        };
        if ep.conn.migrate(now, local).is_err() {
            return false;
        }
        ep.addr = local;
        self.local = local;
        true
    }

    fn close(&mut self, now: Instant, code: u64) {
        if let Some(c) = self.conn_mut() {
            c.close(now, code, 0, b"interop", true);
        }
    }

    fn as_ours(&self) -> Option<&OurPeer> {
        Some(self)
    }

    fn as_ours_mut(&mut self) -> Option<&mut OurPeer> {
        Some(self)
    }
}
