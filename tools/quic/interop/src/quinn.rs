// SPDX-License-Identifier: GPL-2.0

//! The other side: a quinn-proto endpoint with one connection, driven
//! through its sans-I/O API (`Endpoint::handle`, `Connection::handle_event`,
//! `poll_transmit`, `poll_timeout`, `handle_timeout`, `poll`), with rustls
//! 0.23 (ring) on the same certificate, ALPN and suites as our side.
//!
//! A server that validates addresses answers unvalidated Initials with
//! `Endpoint::retry`, as quinn's own async server does. Its token key is
//! fixed, so that a later server of the same scenario accepts the
//! NEW_TOKEN tokens of an earlier one.

use crate::clock::{Clock, SystemClock};
use crate::peer::{Closed, Outgoing, Peer, Stack, WriteError, EXPORTER_LABEL};
use crate::setup::{Setup, SERVER_ADDR, SERVER_PREFERRED_ADDR};
use bytes::{Bytes, BytesMut};
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::time::Instant;
use quic_test_support::tls::{TlsConfigs, SERVER_NAME};
use quinn_proto::crypto::rustls::{HandshakeData, QuicClientConfig, QuicServerConfig};
use quinn_proto::{
    ClientConfig, Connection, ConnectionError, ConnectionHandle, DatagramEvent, Dir, Endpoint,
    EndpointConfig, Event, NoneTokenStore, ReadError, ServerConfig, StreamEvent, StreamId,
    TokenLog, TokenReuseError, ValidationTokenConfig, VarInt,
};
use ring::hkdf::{Salt, HKDF_SHA256};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// What the application received on one stream.
#[derive(Clone, Debug, Default)]
struct Inbound {
    data: Vec<u8>,
    fin: bool,
    reset: Option<u64>,
}

/// A quinn-proto endpoint with (at most) one connection.
pub struct QuinnPeer {
    endpoint: Endpoint,
    conn: Option<(ConnectionHandle, Connection)>,
    clock: Clock,
    system: Arc<SystemClock>,
    local: SocketAddr,
    validate: bool,
    out: VecDeque<Outgoing>,
    connections: usize,
    retries: usize,
    connected: bool,
    lost: Option<ConnectionError>,
    reading: bool,
    streams: BTreeMap<u64, Inbound>,
    stopped: BTreeMap<u64, u64>,
    datagrams: Vec<Vec<u8>>,
}

/// quinn's server memory of the NEW_TOKEN tokens used: each is accepted
/// once.
#[derive(Default)]
struct TokenLogSet(Mutex<BTreeSet<u128>>);

impl TokenLog for TokenLogSet {
    fn check_and_insert(
        &self,
        nonce: u128,
        _issued: SystemTime,
        _lifetime: Duration,
    ) -> Result<(), TokenReuseError> {
        let fresh = self.0.lock().expect("token log").insert(nonce);
        fresh.then_some(()).ok_or(TokenReuseError)
    }
}

/// The AES-128-GCM suite quinn needs for Initial packets even when TLS
/// offers other suites only.
fn initial_suite() -> rustls::quic::Suite {
    rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .and_then(|s| s.quic_suite())
        .expect("AES-128-GCM QUIC suite")
}

fn endpoint_config(seed: u64) -> EndpointConfig {
    let mut c = EndpointConfig::default();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    c.rng_seed(Some(bytes));
    c
}

impl QuinnPeer {
    fn new(endpoint: Endpoint, clock: Clock, local: SocketAddr, validate: bool) -> Self {
        Self {
            endpoint,
            conn: None,
            clock,
            system: SystemClock::shared(),
            local,
            validate,
            out: VecDeque::new(),
            connections: 0,
            retries: 0,
            connected: false,
            lost: None,
            reading: true,
            streams: BTreeMap::new(),
            stopped: BTreeMap::new(),
            datagrams: Vec::new(),
        }
    }

    /// A client at `local` that has started its handshake with the server.
    pub fn client(
        setup: &Setup,
        tls: &TlsConfigs,
        clock: Clock,
        local: SocketAddr,
        now: Instant,
    ) -> Self {
        let endpoint = Endpoint::new(
            Arc::new(endpoint_config(setup.seed ^ 0xc11e)),
            None,
            true,
            None,
        );
        let mut peer = Self::new(endpoint, clock, local, false);
        let crypto = QuicClientConfig::with_initial(tls.client.clone(), initial_suite())
            .expect("client crypto");
        let mut config = ClientConfig::new(Arc::new(crypto));
        config.transport_config(Arc::new(setup.quinn(false)));
        config.token_store(
            setup
                .quinn_token_store
                .clone()
                .unwrap_or_else(|| Arc::new(NoneTokenStore)),
        );
        let (ch, conn) = peer
            .endpoint
            .connect(clock.to_std(now), config, SERVER_ADDR, SERVER_NAME)
            .expect("connect");
        peer.conn = Some((ch, conn));
        peer.connections = 1;
        peer
    }

    /// A server listening on [`SERVER_ADDR`].
    pub fn server(setup: &Setup, tls: &TlsConfigs, clock: Clock) -> Self {
        let crypto = QuicServerConfig::with_initial(tls.server.clone(), initial_suite())
            .expect("server crypto");
        let token_key = Salt::new(HKDF_SHA256, &[]).extract(&[0x7e; 32]);
        let mut config = ServerConfig::new(Arc::new(crypto), Arc::new(token_key));
        config.transport_config(Arc::new(setup.quinn(true)));
        let mut tokens = ValidationTokenConfig::default();
        tokens.log(Arc::new(TokenLogSet::default()));
        tokens.sent(u32::from(setup.new_tokens));
        config.validation_token_config(tokens);
        if setup.preferred_address {
            config.preferred_address_v4(Some(SERVER_PREFERRED_ADDR));
        }
        let system = SystemClock::shared();
        config.time_source(system.clone());
        let endpoint = Endpoint::new(
            Arc::new(endpoint_config(setup.seed ^ 0x5e4e)),
            Some(Arc::new(config)),
            true,
            None,
        );
        let mut peer = Self::new(endpoint, clock, SERVER_ADDR, setup.retry);
        peer.system = system;
        peer
    }

    /// The connection; panics before it exists.
    pub fn connection(&self) -> &Connection {
        &self.conn.as_ref().expect("no connection").1
    }

    /// Mutable access to the connection.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn.as_mut().expect("no connection").1
    }

    /// Why the connection was lost, if it was.
    pub fn lost(&self) -> Option<&ConnectionError> {
        self.lost.as_ref()
    }

    /// Moves this client's socket to `local` (a rebinding the
    /// application knows of), without telling the connection.
    pub fn set_local(&mut self, local: SocketAddr) {
        self.local = local;
    }

    fn accept(&mut self, now: Instant, incoming: quinn_proto::Incoming) {
        let mut buf = Vec::new();
        if self.validate && !incoming.remote_address_validated() {
            let t = self.endpoint.retry(incoming, &mut buf).expect("retry");
            self.retries += 1;
            self.push_transmit(&t, &buf);
            return;
        }
        match self
            .endpoint
            .accept(incoming, self.clock.to_std(now), &mut buf, None)
        {
            Ok((ch, conn)) => {
                self.conn = Some((ch, conn));
                self.connections += 1;
            }
            Err(e) => {
                if let Some(t) = e.response {
                    self.push_transmit(&t, &buf);
                }
            }
        }
    }

    fn push_transmit(&mut self, t: &quinn_proto::Transmit, buf: &[u8]) {
        let seg = t.segment_size.unwrap_or(t.size).max(1);
        for chunk in buf[..t.size].chunks(seg) {
            // A server answers from the address the client wrote to,
            // its preferred one included.
            let from = t
                .src_ip
                .map_or(self.local, |ip| SocketAddr::new(ip, self.local.port()));
            self.out.push_back(Outgoing {
                from,
                to: t.destination,
                ecn: ecn_from_quinn(t.ecn),
                bytes: chunk.to_vec(),
            });
        }
    }

    /// Passes the connection's endpoint events to the endpoint and back.
    fn exchange_events(&mut self) {
        let Some((ch, conn)) = self.conn.as_mut() else {
            return;
        };
        while let Some(event) = conn.poll_endpoint_events() {
            if let Some(back) = self.endpoint.handle_event(*ch, event) {
                conn.handle_event(back);
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => self.connected = true,
            Event::ConnectionLost { reason } => self.lost = Some(reason),
            Event::Stream(StreamEvent::Readable { id }) => {
                // Our own bidirectional streams become readable too.
                self.streams.entry(id.into()).or_default();
            }
            Event::Stream(StreamEvent::Stopped { id, error_code }) => {
                self.stopped.insert(id.into(), error_code.into_inner());
            }
            _ => {}
        }
    }

    fn read_streams(&mut self) {
        let Some((_, conn)) = self.conn.as_mut() else {
            return;
        };
        for dir in [Dir::Bi, Dir::Uni] {
            while let Some(id) = conn.streams().accept(dir) {
                self.streams.entry(id.into()).or_default();
            }
        }
        let ids: Vec<u64> = self.streams.keys().copied().collect();
        for id in ids {
            let entry = self.streams.get_mut(&id).expect("stream");
            if entry.fin || entry.reset.is_some() {
                continue;
            }
            let mut stream = conn.recv_stream(StreamId::from(VarInt::from_u64(id).expect("id")));
            let Ok(mut chunks) = stream.read(true) else {
                continue;
            };
            loop {
                match chunks.next(usize::MAX) {
                    Ok(Some(chunk)) => entry.data.extend_from_slice(&chunk.bytes),
                    Ok(None) => {
                        entry.fin = true;
                        break;
                    }
                    Err(ReadError::Reset(code)) => {
                        entry.reset = Some(code.into_inner());
                        break;
                    }
                    Err(ReadError::Blocked) => break,
                }
            }
            let _ = chunks.finalize();
        }
    }
}

fn qid(id: u64) -> StreamId {
    StreamId::from(VarInt::from_u64(id).expect("stream ID"))
}

/// The codepoint of a quinn transmit, for the IP header.
fn ecn_from_quinn(ecn: Option<quinn_proto::EcnCodepoint>) -> EcnCodepoint {
    match ecn {
        Some(quinn_proto::EcnCodepoint::Ect0) => EcnCodepoint::Ect0,
        Some(quinn_proto::EcnCodepoint::Ect1) => EcnCodepoint::Ect1,
        Some(quinn_proto::EcnCodepoint::Ce) => EcnCodepoint::Ce,
        None => EcnCodepoint::NotEct,
    }
}

fn qcode(code: u64) -> VarInt {
    VarInt::from_u64(code).expect("error code")
}

impl Peer for QuinnPeer {
    fn stack(&self) -> Stack {
        Stack::Quinn
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        bytes: &[u8],
    ) {
        self.system.set(now);
        let mut buf = Vec::new();
        let event = self.endpoint.handle(
            self.clock.to_std(now),
            remote,
            Some(local.ip()),
            quinn_proto::EcnCodepoint::from_bits(ecn as u8),
            BytesMut::from(bytes),
            &mut buf,
        );
        match event {
            Some(DatagramEvent::ConnectionEvent(ch, event)) => {
                if let Some((own, conn)) = self.conn.as_mut() {
                    if *own == ch {
                        conn.handle_event(event);
                    }
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                if self.conn.is_some() {
                    self.endpoint.ignore(incoming);
                } else {
                    self.accept(now, incoming);
                }
            }
            Some(DatagramEvent::Response(t)) => self.push_transmit(&t, &buf),
            None => {}
        }
        self.exchange_events();
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing> {
        if let Some(o) = self.out.pop_front() {
            return Some(o);
        }
        let std_now = self.clock.to_std(now);
        let (_, conn) = self.conn.as_mut()?;
        let mut buf = Vec::new();
        let t = conn.poll_transmit(std_now, 1, &mut buf)?;
        self.push_transmit(&t, &buf);
        self.exchange_events();
        self.out.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let clock = self.clock;
        let (_, conn) = self.conn.as_mut()?;
        conn.poll_timeout().map(|t| clock.from_std(t))
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.system.set(now);
        let std_now = self.clock.to_std(now);
        if let Some((_, conn)) = self.conn.as_mut() {
            conn.handle_timeout(std_now);
        }
        self.exchange_events();
    }

    fn drive(&mut self, now: Instant) {
        self.system.set(now);
        while let Some(event) = self.conn.as_mut().and_then(|(_, c)| c.poll()) {
            self.on_event(event);
        }
        if let Some((_, conn)) = self.conn.as_mut() {
            while let Some(d) = conn.datagrams().recv() {
                self.datagrams.push(d.to_vec());
            }
        }
        if self.reading {
            self.read_streams();
        }
        self.exchange_events();
    }

    fn is_established(&self) -> bool {
        self.connected && self.lost.is_none() && !self.connection().is_handshaking()
    }

    fn closed(&self) -> Option<Closed> {
        Some(match self.lost.as_ref()? {
            ConnectionError::TimedOut => Closed::IdleTimeout,
            ConnectionError::ApplicationClosed(c) => Closed::Application {
                code: c.error_code.into_inner(),
                by_peer: true,
            },
            ConnectionError::LocallyClosed => Closed::Application {
                code: 0,
                by_peer: false,
            },
            ConnectionError::ConnectionClosed(c) => Closed::Transport {
                code: u64::from(c.error_code),
                by_peer: true,
            },
            ConnectionError::TransportError(e) => Closed::Transport {
                code: u64::from(e.code),
                by_peer: false,
            },
            _ => Closed::Other,
        })
    }

    fn is_drained(&self) -> bool {
        self.conn.as_ref().is_some_and(|(_, c)| c.is_drained())
    }

    fn alpn(&self) -> Option<Vec<u8>> {
        let data = self.conn.as_ref()?.1.crypto_session().handshake_data()?;
        data.downcast::<HandshakeData>().ok()?.protocol
    }

    fn exporter(&self) -> Option<Vec<u8>> {
        let mut out = vec![0u8; 32];
        self.conn
            .as_ref()?
            .1
            .crypto_session()
            .export_keying_material(&mut out, EXPORTER_LABEL, &[])
            .ok()?;
        Some(out)
    }

    fn accepted_0rtt(&self) -> bool {
        // quinn reports acceptance to clients only; a server "has 0-RTT"
        // once its TLS accepted early data and 0-RTT keys are installed.
        self.conn.as_ref().is_some_and(|(_, c)| match c.side() {
            quinn_proto::Side::Client => c.accepted_0rtt(),
            quinn_proto::Side::Server => c.has_0rtt(),
        })
    }

    fn connections(&self) -> usize {
        self.connections
    }

    fn retries_sent(&self) -> usize {
        self.retries
    }

    fn open(&mut self, bidi: bool) -> Option<u64> {
        let dir = if bidi { Dir::Bi } else { Dir::Uni };
        self.conn.as_mut()?.1.streams().open(dir).map(u64::from)
    }

    fn write(&mut self, id: u64, data: &[u8]) -> Result<usize, WriteError> {
        let (_, conn) = self.conn.as_mut().ok_or(WriteError::Invalid)?;
        match conn.send_stream(qid(id)).write(data) {
            Ok(n) => Ok(n),
            Err(quinn_proto::WriteError::Blocked) => Err(WriteError::Blocked),
            Err(quinn_proto::WriteError::Stopped(code)) => {
                Err(WriteError::Stopped(code.into_inner()))
            }
            Err(_) => Err(WriteError::Invalid),
        }
    }

    fn finish(&mut self, id: u64) {
        self.connection_mut()
            .send_stream(qid(id))
            .finish()
            .expect("finish");
    }

    fn reset(&mut self, id: u64, code: u64) {
        self.connection_mut()
            .send_stream(qid(id))
            .reset(qcode(code))
            .expect("reset");
    }

    fn stop_sending(&mut self, id: u64, code: u64) {
        self.connection_mut()
            .recv_stream(qid(id))
            .stop(qcode(code))
            .expect("stop");
    }

    fn received_ids(&self) -> Vec<u64> {
        self.streams.keys().copied().collect()
    }

    fn received(&self, id: u64) -> Option<(&[u8], bool)> {
        self.streams.get(&id).map(|s| (s.data.as_slice(), s.fin))
    }

    fn reset_received(&self, id: u64) -> Option<u64> {
        self.streams.get(&id)?.reset
    }

    fn stop_sending_received(&self, id: u64) -> Option<u64> {
        self.stopped.get(&id).copied()
    }

    fn set_reading(&mut self, on: bool) {
        self.reading = on;
    }

    fn send_datagram(&mut self, data: &[u8]) -> bool {
        self.conn.as_mut().is_some_and(|(_, c)| {
            c.datagrams()
                .send(Bytes::copy_from_slice(data), false)
                .is_ok()
        })
    }

    fn max_datagram(&mut self) -> Option<usize> {
        self.conn.as_mut()?.1.datagrams().max_size()
    }

    fn datagrams(&self) -> &[Vec<u8>] {
        &self.datagrams
    }

    fn key_update(&mut self) -> bool {
        match self.conn.as_mut() {
            Some((_, c)) => {
                c.force_key_update();
                true
            }
            None => false,
        }
    }

    fn migrate(&mut self, _now: Instant, local: SocketAddr) -> bool {
        self.local = local;
        match self.conn.as_mut() {
            Some((_, c)) => {
                c.local_address_changed();
                true
            }
            None => false,
        }
    }

    fn close(&mut self, now: Instant, code: u64) {
        let std_now = self.clock.to_std(now);
        self.connection_mut()
            .close(std_now, qcode(code), Bytes::from_static(b"interop"));
    }

    fn as_quinn(&self) -> Option<&QuinnPeer> {
        Some(self)
    }

    fn as_quinn_mut(&mut self) -> Option<&mut QuinnPeer> {
        Some(self)
    }
}
