// SPDX-License-Identifier: GPL-2.0

//! Test certificates (generated with rcgen, written to a temporary
//! directory as PEM files, like an application's) and a runner for a
//! client and a server handshake over the kernel emulation, one thread
//! each.

#![allow(dead_code, unreachable_pub)]

use quic::handshake::{client_handshake, server_handshake, HandshakeError, Negotiated};
use quic::socket::Socket;
use quic::ticket::kernel_ticketer;
use quic::uapi::{CryptoLevel, QuicConfig, QuicConnectionClose, QuicCryptoSecret};
use quic_protocol::protocol::connection::Config;
use quic_test_support::kernel::{EmuSocket, Net};
use rustls::pki_types::ServerName;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A CA and a "localhost" certificate it signed, as PEM files.
pub struct Pki {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    pub fn new() -> Result<Self, Box<dyn std::error::Error>> {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "quic-handshake-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        // A name of its own: CAs sharing rcgen's default name would make
        // an untrusted chain fail on its signature rather than its issuer.
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, dir.display().to_string());
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key)?;
        let key = rcgen::KeyPair::generate()?;
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])?
            .signed_by(&key, &ca, &ca_key)?;
        let pki = Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        };
        std::fs::write(&pki.ca, ca.pem())?;
        std::fs::write(&pki.cert, cert.pem())?;
        std::fs::write(&pki.key, key.serialize_pem())?;
        Ok(pki)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A socket that records the levels of what it sends and the secrets
/// installed (level, send, cipher type).
pub struct Recording<S> {
    pub inner: S,
    pub sent: Mutex<Vec<(CryptoLevel, usize)>>,
    pub secrets: Mutex<Vec<(u8, u8, u32)>>,
}

impl<S> Recording<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            sent: Mutex::new(Vec::new()),
            secrets: Mutex::new(Vec::new()),
        }
    }

    pub fn sent_lens(&self, level: CryptoLevel) -> Vec<usize> {
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, n)| *n)
            .collect()
    }

    pub fn secrets(&self) -> Vec<(u8, u8, u32)> {
        self.secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn sends_at(&self, level: CryptoLevel) -> usize {
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.iter().filter(|(l, _)| *l == level).count()
    }
}

impl<S: Socket> Socket for Recording<S> {
    fn send_handshake(&self, level: CryptoLevel, data: &[u8]) -> io::Result<()> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((level, data.len()));
        self.inner.send_handshake(level, data)
    }
    fn recv_handshake(&self, buf: &mut [u8], t: Duration) -> io::Result<(CryptoLevel, usize)> {
        self.inner.recv_handshake(buf, t)
    }
    fn transport_param_ext(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.transport_param_ext(buf)
    }
    fn set_transport_param_ext(&self, ext: &[u8]) -> io::Result<()> {
        self.inner.set_transport_param_ext(ext)
    }
    fn set_crypto_secret(&self, s: &QuicCryptoSecret) -> io::Result<()> {
        self.secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((s.level, s.send, s.type_));
        self.inner.set_crypto_secret(s)
    }
    fn alpn(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.alpn(buf)
    }
    fn set_alpn(&self, alpn: &[u8]) -> io::Result<()> {
        self.inner.set_alpn(alpn)
    }
    fn config(&self) -> io::Result<QuicConfig> {
        self.inner.config()
    }
    fn is_server(&self) -> io::Result<bool> {
        self.inner.is_server()
    }
    fn session_ticket(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.session_ticket(buf)
    }
    fn set_connection_close(&self, c: &QuicConnectionClose) -> io::Result<()> {
        self.inner.set_connection_close(c)
    }
}

/// What both ends got.
pub struct Outcome {
    pub client: Result<Negotiated, HandshakeError>,
    pub server: Result<Negotiated, HandshakeError>,
    pub client_sock: Recording<EmuSocket>,
    pub server_sock: Option<Recording<EmuSocket>>,
    pub net: Net,
}

/// Runs both handshakes; a side whose handshake fails closes its socket,
/// as an application would.
pub fn run(
    client_quic: Config,
    server_quic: Config,
    listener_alpn: &str,
    client_tls: &rustls::ClientConfig,
    server_tls: &rustls::ServerConfig,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    run_with(
        client_quic,
        server_quic,
        listener_alpn,
        client_tls,
        server_tls,
        Options::default(),
    )
}

/// Socket settings of a run beyond the defaults.
#[derive(Default)]
pub struct Options {
    /// setsockopt(CONFIG) on the client socket first.
    pub client_config: Option<QuicConfig>,
    /// The listener's ticket key instead of the default.
    pub ticket_key: Option<Vec<u8>>,
    /// The server seals tickets with the kernel's ticket key.
    pub kernel_tickets: bool,
}

/// [`run`], with `options`.
pub fn run_with(
    client_quic: Config,
    server_quic: Config,
    listener_alpn: &str,
    client_tls: &rustls::ClientConfig,
    server_tls: &rustls::ServerConfig,
    options: Options,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let net = Net::new(client_quic, server_quic, listener_alpn, 7);
    if let Some(key) = &options.ticket_key {
        net.set_ticket_key(key);
    }
    let server_net = net.clone();
    let mut server_tls = server_tls.clone();
    let kernel_tickets = options.kernel_tickets;
    let server = std::thread::spawn(move || -> io::Result<_> {
        let sock = Recording::new(server_net.accept(TIMEOUT)?);
        if kernel_tickets {
            server_tls.ticketer = kernel_ticketer(&sock)?.ok_or(io::ErrorKind::NotFound)?;
        }
        let r = server_handshake(&sock, &server_tls, TIMEOUT);
        if r.is_err() {
            sock.inner.close();
        }
        Ok((r, sock))
    });
    let client_sock = Recording::new(net.client());
    if let Some(c) = options.client_config {
        client_sock.inner.set_config(&c)?;
    }
    let name = ServerName::try_from("localhost")?;
    let client = client_handshake(&client_sock, client_tls, name, TIMEOUT);
    if client.is_err() {
        client_sock.inner.close();
    }
    let (server, server_sock) = match server.join().map_err(|_| "server thread panicked")? {
        Ok((r, s)) => (r, Some(s)),
        Err(e) => (Err(HandshakeError::Io(e)), None),
    };
    net.settle(Duration::from_secs(2));
    Ok(Outcome {
        client,
        server,
        client_sock,
        server_sock,
        net,
    })
}
