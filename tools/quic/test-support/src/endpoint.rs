// SPDX-License-Identifier: GPL-2.0

//! One of our connections driven by rustls exactly as the userspace
//! handshake daemon drives the kernel (`shared/spec/uapi-abi.md`): TLS
//! bytes move per level through `crypto_recv` / `crypto_send` (the
//! QUIC_HANDSHAKE_INFO cmsg), raw traffic secrets from a per-connection
//! `KeyLog` are installed per level (`QUIC_SOCKOPT_CRYPTO_SECRET`), and the
//! transport parameters are the TLS extension body
//! (`QUIC_SOCKOPT_TRANSPORT_PARAM_EXT`).
//!
//! The glue follows `shared/notes/handshake-rustls.md`: `write_hs` runs
//! until it has nothing more after every `read_hs`, and each chunk goes out
//! at the level in force when it was written. The application side reads
//! every readable stream and datagram and keeps the events. A client told
//! of Version Negotiation restarts the connection attempt and TLS in the
//! version offered, as the handshake daemon does.

use crate::cid::Gen;
use crate::tls::{rustls_version, suite_of, Secrets, SERVER_NAME};
use quic_host_crypto::RustCrypto;
use quic_protocol::protocol::connection::{
    Config, ConnectError, Connection, Direction, Event, Incoming,
};
use quic_protocol::protocol::crypto::Level;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::stream::{StreamError, StreamId};
use quic_protocol::protocol::time::Instant;
use quic_protocol::protocol::transport_params::TransportParameters;
use rustls::pki_types::ServerName;
use rustls::quic::{self, KeyChange};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Our connection with the host crypto and the seeded generator.
pub type Conn = Connection<RustCrypto, Gen>;

/// How a connection is held: in the box its constructor allocated (the
/// kernel's `KBox`), as the kernel holds it.
pub type ConnBox = quic_protocol::protocol::alloc::Box<Conn>;

const EARLY_SECRET: &str = "CLIENT_EARLY_TRAFFIC_SECRET";

/// One endpoint: our connection, its rustls connection and what the
/// application received.
pub struct Endpoint {
    /// The connection.
    pub conn: ConnBox,
    /// Its TLS session.
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
    /// A client's TLS configuration, to start over after Version
    /// Negotiation.
    client_tls: Option<Arc<rustls::ClientConfig>>,
}

impl Endpoint {
    fn new(conn: ConnBox, tls: quic::Connection, secrets: Arc<Secrets>, addr: SocketAddr) -> Self {
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
            client_tls: None,
        }
    }

    /// A client from `local` to `remote` that has written its ClientHello
    /// (and installed 0-RTT keys if `tls` holds a ticket allowing them).
    /// `remembered` restores the server's transport parameters of an
    /// earlier connection, for 0-RTT.
    pub fn connect(
        config: Config,
        gen: Gen,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        tls: &rustls::ClientConfig,
        remembered: Option<&TransportParameters>,
    ) -> Result<Self, ConnectError> {
        let mut conn = Conn::connect(config, RustCrypto, gen, now, local, remote)?;
        if let Some(p) = remembered {
            conn.set_remembered_transport_parameters(p)
                .expect("remember");
        }
        let secrets = Arc::new(Secrets::default());
        let session = client_session(&mut conn, tls, &secrets);
        let mut ep = Self::new(conn, session, secrets, local);
        ep.client_tls = Some(Arc::new(tls.clone()));
        ep.start_client(now);
        Ok(ep)
    }

    /// Writes the ClientHello, with 0-RTT keys if TLS allows early data.
    fn start_client(&mut self, now: Instant) {
        let early = self.tls.zero_rtt_keys().is_some();
        self.write_tls(now);
        if early {
            let s = self.secrets.get(EARLY_SECRET).expect("early secret");
            let suite = suite_of(&self.tls, s.len());
            self.conn
                .install_secret(now, Level::ZeroRtt, Direction::Send, suite, &s)
                .expect("install early");
            self.early_attempted = true;
        }
    }

    /// Starts the connection attempt over in the version a Version
    /// Negotiation packet offered: the connection's Initial state, then a
    /// new TLS session with a new ClientHello.
    fn restart_after_version_negotiation(&mut self, now: Instant) {
        let tls = self.client_tls.clone().expect("a client");
        self.conn
            .restart_after_version_negotiation(now)
            .expect("restart");
        self.secrets = Arc::new(Secrets::default());
        self.tls = client_session(&mut self.conn, &tls, &self.secrets);
        self.write_level = Level::Initial;
        self.peer_params_set = false;
        self.tls_done = false;
        self.early_attempted = false;
        self.start_client(now);
    }

    /// A server for the client whose first Initial `incoming` describes
    /// (the endpoint's decision), on `local`, for a client at `remote`.
    /// Feed it that datagram next.
    pub fn accept(
        config: Config,
        gen: Gen,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        incoming: &Incoming,
        tls: &rustls::ServerConfig,
    ) -> Result<Self, ConnectError> {
        let mut conn = Conn::accept(config, RustCrypto, gen, now, local, remote, incoming)?;
        let params = local_params(&mut conn);
        let secrets = Arc::new(Secrets::default());
        let mut config = tls.clone();
        config.key_log = secrets.clone();
        let session =
            quic::ServerConnection::new(Arc::new(config), rustls_version(conn.version()), params)
                .expect("server TLS");
        Ok(Self::new(conn, session.into(), secrets, local))
    }

    fn is_client(&self) -> bool {
        matches!(self.tls, quic::Connection::Client(_))
    }

    /// Whether 0-RTT keys were installed: a client attempting 0-RTT, or a
    /// server whose TLS accepted early data.
    pub fn early_keys_installed(&self) -> bool {
        self.early_attempted
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
    pub fn write_tls(&mut self, now: Instant) {
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

    /// Feeds TLS the CRYPTO data that arrived, level by level, and reacts.
    pub fn drive_tls(&mut self, now: Instant) {
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
                // A client's peer parameters come with EncryptedExtensions,
                // at the Handshake level: before that, a resuming rustls
                // client reports the ones remembered with its ticket.
                let params_due = !self.is_client() || level != Level::Initial;
                if params_due && !self.peer_params_set && !self.on_peer_params(now) {
                    return;
                }
                self.write_tls(now);
            }
        }
        if !self.tls_done && !self.tls.is_handshaking() {
            self.tls_done = true;
            self.conn.tls_handshake_done(now);
        }
    }

    /// Hands the peer's transport parameters to the connection once TLS
    /// has them, and a server's 0-RTT keys if TLS accepted early data.
    /// Returns false if the connection refused them (it closed itself).
    fn on_peer_params(&mut self, now: Instant) -> bool {
        let Some(p) = self.tls.quic_transport_parameters() else {
            return true;
        };
        let p = p.to_vec();
        self.peer_params_set = true;
        if self.conn.set_peer_transport_parameters(now, &p).is_err() {
            return false;
        }
        if !self.is_client() && self.tls.zero_rtt_keys().is_some() {
            if let Some(s) = self.secrets.get(EARLY_SECRET) {
                let suite = suite_of(&self.tls, s.len());
                self.conn
                    .install_secret(now, Level::ZeroRtt, Direction::Recv, suite, &s)
                    .expect("early secret");
                self.early_attempted = true;
            }
        }
        true
    }

    /// Reads every readable stream and datagram; collects events, and
    /// restarts after Version Negotiation.
    pub fn drive_app(&mut self, now: Instant) {
        while let Some(e) = self.conn.poll_event() {
            self.events.push(e);
            if matches!(e, Event::VersionNegotiation { .. }) {
                self.restart_after_version_negotiation(now);
            }
        }
        let mut buf = vec![0u8; 65536];
        while let Some(n) = self.conn.datagram_recv(&mut buf) {
            self.datagrams.push(buf[..n].to_vec());
        }
        if !self.reading {
            return;
        }
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
                Err(StreamError::Reset(code)) => {
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

/// A client TLS session for `conn`'s version and transport parameters,
/// logging its secrets to `secrets`.
fn client_session(
    conn: &mut Conn,
    tls: &rustls::ClientConfig,
    secrets: &Arc<Secrets>,
) -> quic::Connection {
    let params = local_params(conn);
    let mut config = tls.clone();
    config.key_log = secrets.clone();
    quic::ClientConnection::new(
        Arc::new(config),
        rustls_version(conn.version()),
        ServerName::try_from(SERVER_NAME).expect("name"),
        params,
    )
    .expect("client TLS")
    .into()
}

/// The local transport parameters extension body, as
/// getsockopt(TRANSPORT_PARAM_EXT) returns it.
fn local_params(conn: &mut Conn) -> Vec<u8> {
    let mut params = [0u8; 512];
    let n = conn
        .local_transport_parameters(&mut params)
        .expect("transport parameters");
    params[..n].to_vec()
}
