// SPDX-License-Identifier: GPL-2.0

//! An in-memory client/server pair of our `Connection`s, with the real TLS
//! 1.3 handshake of rustls (`rustls::quic`, ring) and real AEADs from
//! `quic-host-crypto`, over a deterministic simulated network: virtual
//! time, one-way delay with jitter (reordering), loss, duplication and an
//! MTU, all driven by a seeded xorshift.
//!
//! The TLS glue follows `shared/notes/handshake-rustls.md`: secrets come
//! from a per-connection `KeyLog`, `write_hs` runs until it has nothing
//! more after every `read_hs`, and each chunk goes out at the level in
//! force when it was written. The harness also plays the endpoint: it
//! creates the server from the first Initial and, when asked, answers with
//! a Retry first.

#![allow(dead_code, unreachable_pub)]

use quic_host_crypto::RustCrypto;
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::alloc::Box as KBox;
use quic_protocol::protocol::cid::reset::ResetToken;
use quic_protocol::protocol::cid::{ConnectionId, Generator};
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::connection::{
    Config, Connection, Direction, Event, Incoming, Versions,
};
use quic_protocol::protocol::crypto::{CipherSuite, Level};
use quic_protocol::protocol::packet::retry::RetryHeader;
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::packet::version_negotiation::LongInvariant;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::stream::StreamId;
use quic_protocol::protocol::time::Instant;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::quic::{self, KeyChange};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub type Conn = Connection<RustCrypto, Gen>;

pub const CLIENT_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 50000));
pub const SERVER_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 443));

/// A seeded xorshift64*.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u32) -> bool {
        percent > 0 && self.next() % 100 < u64::from(percent)
    }
}

/// Connection IDs from a seeded RNG; reset tokens are a keyed function of
/// the ID.
#[derive(Debug)]
pub struct Gen {
    rng: Rng,
    key: u64,
}

impl Gen {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng(seed | 1),
            key: seed.rotate_left(7) ^ 0x5bd1_e995,
        }
    }
}

impl Generator for Gen {
    fn new_cid(&mut self, len: usize) -> ConnectionId {
        let mut bytes = [0u8; 24];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.rng.next().to_be_bytes());
        }
        ConnectionId::from_slice(&bytes[..len]).expect("length")
    }

    fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
        let mut h = self.key;
        for b in cid.as_slice() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x1000_0000_01b3);
        }
        let mut t = [0u8; 16];
        t[..8].copy_from_slice(&h.to_be_bytes());
        t[8..].copy_from_slice(&h.rotate_left(29).to_be_bytes());
        ResetToken::new(t)
    }
}

/// Captures the traffic secrets rustls logs.
#[derive(Debug, Default)]
pub struct Secrets(Mutex<Vec<(String, Vec<u8>)>>);

impl rustls::KeyLog for Secrets {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .push((label.to_string(), secret.to_vec()));
    }
}

impl Secrets {
    fn get(&self, label: &str) -> Option<Vec<u8>> {
        let log = self.0.lock().unwrap();
        log.iter()
            .rev()
            .find(|(l, _)| l == label)
            .map(|(_, s)| s.clone())
    }
}

/// Which TLS 1.3 cipher suites the endpoints offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suites {
    Default,
    ChaCha20,
    Aes256,
}

/// The TLS configurations of a test: a self-signed certificate, shared
/// session storage (for resumption) and the suites.
pub struct TlsConfigs {
    pub client: Arc<rustls::ClientConfig>,
    pub server: Arc<rustls::ServerConfig>,
}

impl TlsConfigs {
    pub fn new(suites: Suites) -> Self {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert_der = CertificateDer::from(cert.cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
        let mut provider = rustls::crypto::ring::default_provider();
        use rustls::crypto::ring::cipher_suite as cs;
        match suites {
            Suites::Default => {}
            Suites::ChaCha20 => provider.cipher_suites = vec![cs::TLS13_CHACHA20_POLY1305_SHA256],
            Suites::Aes256 => provider.cipher_suites = vec![cs::TLS13_AES_256_GCM_SHA384],
        }
        let provider = Arc::new(provider);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert_der.clone()).unwrap();
        let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![b"hq-interop".to_vec()];
        client.enable_early_data = true;
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert_der], key)
            .unwrap();
        server.alpn_protocols = vec![b"hq-interop".to_vec()];
        server.max_early_data_size = u32::MAX;
        Self {
            client: Arc::new(client),
            server: Arc::new(server),
        }
    }
}

fn rustls_version(v: Version) -> quic::Version {
    if v == Version::V2 {
        quic::Version::V2
    } else {
        quic::Version::V1
    }
}

/// One endpoint: our connection, its rustls connection and what the
/// application received.
pub struct Endpoint {
    pub conn: KBox<Conn>,
    pub tls: quic::Connection,
    secrets: Arc<Secrets>,
    /// The level TLS writes at.
    write_level: Level,
    peer_params_set: bool,
    tls_done: bool,
    early_attempted: bool,
    /// Events seen, in order.
    pub events: Vec<Event>,
    /// Stream data received, by stream ID, and whether FIN arrived.
    pub received: BTreeMap<u64, (Vec<u8>, bool)>,
    /// Stream resets received: stream ID and error code.
    pub resets: Vec<(u64, u64)>,
    /// Datagrams received.
    pub datagrams: Vec<Vec<u8>>,
    /// Whether the application reads streams (flow control tests turn it
    /// off).
    pub reading: bool,
    /// The local address packets are sent from.
    pub addr: SocketAddr,
}

fn suite_of(tls: &quic::Connection, secret_len: usize) -> CipherSuite {
    let id = tls
        .negotiated_cipher_suite()
        .map(|s| u16::from(s.suite()))
        .unwrap_or(if secret_len == 48 { 0x1302 } else { 0x1301 });
    CipherSuite::from_tls_id(id).expect("QUIC suite")
}

impl Endpoint {
    fn new(
        conn: KBox<Conn>,
        tls: quic::Connection,
        secrets: Arc<Secrets>,
        addr: SocketAddr,
    ) -> Self {
        Self {
            conn,
            tls,
            secrets,
            write_level: Level::Initial,
            peer_params_set: false,
            tls_done: false,
            early_attempted: false,
            events: Vec::new(),
            received: BTreeMap::new(),
            resets: Vec::new(),
            datagrams: Vec::new(),
            reading: true,
            addr,
        }
    }

    fn is_client(&self) -> bool {
        matches!(self.tls, quic::Connection::Client(_))
    }

    fn install(&mut self, now: Instant, level: Level, local: &str, remote: &str) {
        for (label, direction) in [(local, Direction::Send), (remote, Direction::Recv)] {
            let secret = self
                .secrets
                .get(label)
                .unwrap_or_else(|| panic!("secret {label} not logged"));
            let suite = suite_of(&self.tls, secret.len());
            self.conn
                .install_secret(now, level, direction, suite, &secret)
                .unwrap_or_else(|e| panic!("install {label}: {e:?}"));
        }
    }

    fn labels(&self, level: Level) -> (&'static str, &'static str) {
        let (c, s) = match level {
            Level::Handshake => (
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            ),
            _ => ("CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"),
        };
        if self.is_client() {
            (c, s)
        } else {
            (s, c)
        }
    }

    /// Runs `write_hs` until it has nothing more, sending each chunk at the
    /// level in force and installing keys as they change.
    fn write_tls(&mut self, now: Instant) {
        loop {
            let mut buf = Vec::new();
            let change = self.tls.write_hs(&mut buf);
            if !buf.is_empty() {
                let n = self
                    .conn
                    .crypto_send(self.write_level, &buf)
                    .expect("crypto_send");
                assert_eq!(n, buf.len(), "CRYPTO send buffer full");
            }
            match change {
                Some(KeyChange::Handshake { .. }) => {
                    let (l, r) = self.labels(Level::Handshake);
                    self.install(now, Level::Handshake, l, r);
                    self.write_level = Level::Handshake;
                }
                Some(KeyChange::OneRtt { .. }) => {
                    if let quic::Connection::Client(c) = &self.tls {
                        if self.early_attempted && !c.is_early_data_accepted() {
                            self.conn.zero_rtt_rejected(now);
                        }
                    }
                    let (l, r) = self.labels(Level::OneRtt);
                    self.install(now, Level::OneRtt, l, r);
                    self.write_level = Level::OneRtt;
                }
                None if buf.is_empty() => break,
                None => {}
            }
        }
    }

    /// Feeds TLS the CRYPTO data that arrived and reacts.
    fn drive_tls(&mut self, now: Instant) {
        let mut buf = vec![0u8; 4096];
        for level in [Level::Initial, Level::Handshake, Level::OneRtt] {
            loop {
                let n = self.conn.crypto_recv(level, &mut buf).expect("crypto_recv");
                if n == 0 {
                    break;
                }
                if let Err(e) = self.tls.read_hs(&buf[..n]) {
                    let alert = self.tls.alert().map_or(0x50, u8::from);
                    panic!("TLS error {e:?} (alert {alert})");
                }
                if !self.peer_params_set {
                    if let Some(p) = self.tls.quic_transport_parameters() {
                        let p = p.to_vec();
                        self.peer_params_set = true;
                        // On error the connection closes itself.
                        if self.conn.set_peer_transport_parameters(now, &p).is_err() {
                            return;
                        }
                        if !self.is_client() && self.tls.zero_rtt_keys().is_some() {
                            if let Some(s) = self.secrets.get("CLIENT_EARLY_TRAFFIC_SECRET") {
                                let suite = suite_of(&self.tls, s.len());
                                self.conn
                                    .install_secret(now, Level::ZeroRtt, Direction::Recv, suite, &s)
                                    .expect("early secret");
                            }
                        }
                    }
                }
                self.write_tls(now);
            }
        }
        if !self.tls_done && !self.tls.is_handshaking() {
            self.tls_done = true;
            self.conn.tls_handshake_done(now);
        }
    }

    /// Reads every readable stream and datagram; collects events.
    fn drive_app(&mut self, now: Instant) {
        while let Some(e) = self.conn.poll_event() {
            self.events.push(e);
        }
        while let Some(d) = {
            let mut buf = vec![0u8; 2048];
            self.conn.datagram_recv(&mut buf).map(|n| buf[..n].to_vec())
        } {
            self.datagrams.push(d);
        }
        if !self.reading {
            return;
        }
        let mut buf = vec![0u8; 65536];
        while let Some(id) = self.conn.stream_readable() {
            match self.conn.stream_read(now, id, &mut buf) {
                Ok(r) => {
                    let entry = self.received.entry(id.into_inner()).or_default();
                    entry.0.extend_from_slice(&buf[..r.len]);
                    entry.1 |= r.fin;
                    if r.len == 0 && !r.fin {
                        break;
                    }
                }
                Err(quic_protocol::protocol::stream::StreamError::Reset(code)) => {
                    self.resets.push((id.into_inner(), code));
                }
                Err(_) => break,
            }
        }
    }

    /// Whether the application saw `event`.
    pub fn saw(&self, event: &Event) -> bool {
        self.events.iter().any(|e| e == event)
    }

    /// The data received on `id`, if complete.
    pub fn stream_data(&self, id: StreamId) -> Option<&[u8]> {
        self.received
            .get(&id.into_inner())
            .filter(|(_, fin)| *fin)
            .map(|(d, _)| d.as_slice())
    }
}

/// Link impairments.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    pub delay: Duration,
    /// Extra random delay up to this much: reorders datagrams.
    pub jitter: Duration,
    pub loss_percent: u32,
    pub duplicate_percent: u32,
    /// Datagrams above this size are dropped.
    pub mtu: usize,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss_percent: 0,
            duplicate_percent: 0,
            mtu: 1500,
        }
    }
}

struct InFlight {
    at: Instant,
    seq: u64,
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// What the harness does with the client's first Initial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Accept it.
    Accept,
    /// Answer with a Retry, then accept the Initial carrying its token.
    Retry,
}

/// Options of a test connection.
#[derive(Clone)]
pub struct Setup {
    pub client: Config,
    pub server: Config,
    pub suites: Suites,
    pub link: Link,
    pub seed: u64,
    pub admission: Admission,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            client: Config::new(),
            server: Config::new(),
            suites: Suites::Default,
            link: Link::default(),
            seed: 1,
            admission: Admission::Accept,
        }
    }
}

/// A client and a server on a simulated network.
pub struct Pair {
    pub client: Endpoint,
    pub server: Option<Endpoint>,
    pub now: Instant,
    pub link: Link,
    rng: Rng,
    queue: Vec<InFlight>,
    seq: u64,
    setup: Setup,
    tls_configs: Arc<TlsConfigs>,
    retry_sent: Option<(ConnectionId, ConnectionId)>,
    /// Datagrams sent by the client and the server.
    pub datagrams_sent: [u64; 2],
    /// Bytes sent by the server before it validated the client's address.
    pub client_bytes: u64,
    /// The client's address as the server sees it (a NAT may change it).
    pub nat: Option<SocketAddr>,
}

impl Pair {
    /// A pair whose client has written its ClientHello.
    pub fn new(setup: Setup) -> Self {
        let configs = Arc::new(TlsConfigs::new(setup.suites));
        Self::with_tls(setup, configs, None)
    }

    /// A pair reusing `configs` (session tickets for resumption), with the
    /// server's transport parameters remembered from an earlier connection.
    pub fn with_tls(
        setup: Setup,
        configs: Arc<TlsConfigs>,
        remembered: Option<quic_protocol::protocol::transport_params::TransportParameters>,
    ) -> Self {
        let now = Instant::from_nanos(1_000_000_000);
        let mut conn = Conn::connect(
            setup.client,
            RustCrypto,
            Gen::new(setup.seed.wrapping_mul(31)),
            now,
            CLIENT_ADDR,
            SERVER_ADDR,
        )
        .expect("connect");
        if let Some(p) = &remembered {
            conn.set_remembered_transport_parameters(p)
                .expect("remember");
        }
        let mut params = [0u8; 512];
        let n = conn.local_transport_parameters(&mut params).unwrap();
        let secrets = Arc::new(Secrets::default());
        let mut config = (*configs.client).clone();
        config.key_log = secrets.clone();
        let tls = quic::ClientConnection::new(
            Arc::new(config),
            rustls_version(conn.version()),
            ServerName::try_from("localhost").unwrap(),
            params[..n].to_vec(),
        )
        .expect("client TLS");
        let mut client = Endpoint::new(conn, tls.into(), secrets, CLIENT_ADDR);
        let early = client.tls.zero_rtt_keys().is_some();
        client.write_tls(now);
        if early {
            let s = client
                .secrets
                .get("CLIENT_EARLY_TRAFFIC_SECRET")
                .expect("early secret");
            let suite = suite_of(&client.tls, s.len());
            client
                .conn
                .install_secret(now, Level::ZeroRtt, Direction::Send, suite, &s)
                .expect("install early");
            client.early_attempted = true;
        }
        Self {
            client,
            server: None,
            now,
            link: setup.link,
            rng: Rng(setup.seed | 1),
            queue: Vec::new(),
            seq: 0,
            setup,
            tls_configs: configs,
            retry_sent: None,
            datagrams_sent: [0, 0],
            client_bytes: 0,
            nat: None,
        }
    }

    pub fn server(&mut self) -> &mut Endpoint {
        self.server.as_mut().expect("server not created yet")
    }

    pub fn tls_configs(&self) -> Arc<TlsConfigs> {
        self.tls_configs.clone()
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        let from_client = from != SERVER_ADDR;
        self.datagrams_sent[usize::from(!from_client)] += 1;
        let from = match (from_client, self.nat) {
            (true, Some(public)) => public,
            _ => from,
        };
        if bytes.len() > self.link.mtu || self.rng.chance(self.link.loss_percent) {
            return;
        }
        let copies = if self.rng.chance(self.link.duplicate_percent) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = if self.link.jitter.is_zero() {
                Duration::ZERO
            } else {
                Duration::from_nanos(self.rng.next() % self.link.jitter.as_nanos() as u64)
            };
            self.seq += 1;
            self.queue.push(InFlight {
                at: self.now + self.link.delay + jitter,
                seq: self.seq,
                from,
                to,
                bytes: bytes.to_vec(),
            });
        }
    }

    /// Sends what `ep` has to send, splitting GSO batches.
    fn flush_endpoint(&mut self, server: bool) {
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..1000 {
            let now = self.now;
            let ep = if server {
                self.server.as_mut()
            } else {
                Some(&mut self.client)
            };
            let Some(ep) = ep else { return };
            let Some(t) = ep.conn.poll_transmit(now, &mut buf) else {
                break;
            };
            let seg = t.segment_size.unwrap_or(t.len);
            let mut at = 0;
            while at < t.len {
                let end = (at + seg).min(t.len);
                let chunk = buf[at..end].to_vec();
                self.send(t.local, t.remote, &chunk);
                at = end;
            }
        }
    }

    /// The endpoint's part for a datagram with no connection yet: create
    /// the server, or answer with a Retry.
    fn admit(&mut self, from: SocketAddr, bytes: &mut [u8]) -> bool {
        let (inv, rest) = LongInvariant::decode(bytes).expect("long header");
        let version = inv.version;
        let dcid = ConnectionId::from_slice(inv.dcid).unwrap();
        let scid = ConnectionId::from_slice(inv.scid).unwrap();
        // The token follows the connection IDs in an Initial.
        let mut r = quic_protocol::protocol::codec::Reader::new(rest);
        let token = r.read_varint_prefixed().unwrap_or(&[]).to_vec();
        let mut incoming = Incoming {
            version,
            dcid,
            scid,
            original_dcid: dcid,
            retry_scid: None,
            address_validated: false,
        };
        if self.setup.admission == Admission::Retry {
            match self.retry_sent {
                None => {
                    let retry_scid = ConnectionId::from_slice(&[0xee; 8]).unwrap();
                    let header = RetryHeader {
                        version,
                        dcid: scid,
                        scid: retry_scid,
                        token: dcid.as_slice(),
                        unused: 0,
                        fixed_bit: true,
                    };
                    let mut out = vec![0u8; header.encoded_len()];
                    let mut w = Writer::new(&mut out);
                    header.encode(&RustCrypto, &dcid, &mut w).unwrap();
                    self.retry_sent = Some((dcid, retry_scid));
                    self.send(SERVER_ADDR, from, &out);
                    return false;
                }
                Some((odcid, retry_scid)) => {
                    if token != odcid.as_slice() || dcid != retry_scid {
                        return false;
                    }
                    incoming.original_dcid = odcid;
                    incoming.retry_scid = Some(retry_scid);
                    incoming.address_validated = true;
                }
            }
        }
        let conn = Conn::accept(
            self.setup.server,
            RustCrypto,
            Gen::new(self.setup.seed.wrapping_mul(17) ^ 0xabcd),
            self.now,
            SERVER_ADDR,
            from,
            &incoming,
        )
        .expect("accept");
        let mut conn = conn;
        let mut params = [0u8; 512];
        let n = conn.local_transport_parameters(&mut params).unwrap();
        let secrets = Arc::new(Secrets::default());
        let mut config = (*self.tls_configs.server).clone();
        config.key_log = secrets.clone();
        let tls = quic::ServerConnection::new(
            Arc::new(config),
            rustls_version(conn.version()),
            params[..n].to_vec(),
        )
        .expect("server TLS");
        self.server = Some(Endpoint::new(conn, tls.into(), secrets, SERVER_ADDR));
        true
    }

    /// Delivers the datagrams due now, in arrival order.
    fn deliver(&mut self) {
        self.queue.sort_by_key(|d| (d.at, d.seq));
        while self.queue.first().is_some_and(|d| d.at <= self.now) {
            let mut d = self.queue.remove(0);
            let now = self.now;
            if d.to == SERVER_ADDR {
                if self.server.is_none() && !self.admit(d.from, &mut d.bytes) {
                    continue;
                }
                let s = self.server.as_mut().unwrap();
                s.conn.handle_datagram(
                    now,
                    SERVER_ADDR,
                    d.from,
                    EcnCodepoint::NotEct,
                    &mut d.bytes,
                );
            } else {
                let local = if Some(d.to) == self.nat {
                    self.client.addr
                } else {
                    d.to
                };
                self.client.conn.handle_datagram(
                    now,
                    local,
                    d.from,
                    EcnCodepoint::NotEct,
                    &mut d.bytes,
                );
            }
        }
    }

    fn react(&mut self) {
        let now = self.now;
        self.client.drive_tls(now);
        self.client.drive_app(now);
        if let Some(s) = self.server.as_mut() {
            s.drive_tls(now);
            s.drive_app(now);
        }
    }

    /// One step of the simulation; the clock moves to the next event, but
    /// not past `limit`.
    pub fn step(&mut self, limit: Instant) {
        self.deliver();
        self.react();
        self.flush_endpoint(false);
        self.flush_endpoint(true);
        self.react();
        self.flush_endpoint(false);
        self.flush_endpoint(true);
        let mut next = self.queue.iter().map(|d| d.at).min();
        for t in [
            self.client.conn.poll_timeout(),
            self.server.as_ref().and_then(|s| s.conn.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        self.now = next.unwrap_or(limit).min(limit).max(self.now);
        let now = self.now;
        if self.client.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.client.conn.handle_timeout(now);
        }
        if let Some(s) = self.server.as_mut() {
            if s.conn.poll_timeout().is_some_and(|t| t <= now) {
                s.conn.handle_timeout(now);
            }
        }
    }

    /// Runs until `done` or `within` of virtual time elapsed.
    pub fn run_until(&mut self, within: Duration, mut done: impl FnMut(&mut Pair) -> bool) -> bool {
        let limit = self.now + within;
        for _ in 0..2_000_000 {
            if done(self) {
                return true;
            }
            if self.now >= limit {
                return false;
            }
            self.step(limit);
        }
        false
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    /// Completes the handshake on both sides (confirmed), or panics.
    pub fn handshake(&mut self) {
        let ok = self.run_until(Duration::from_secs(30), |p| {
            p.client.conn.is_handshake_confirmed()
                && p.server
                    .as_ref()
                    .is_some_and(|s| s.conn.is_handshake_confirmed())
        });
        assert!(ok, "handshake did not complete");
    }
}

/// A config with `versions`.
pub fn with_versions(mut c: Config, versions: Versions) -> Config {
    c.versions = versions;
    c
}

/// `n` bytes of a recognisable pattern.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
