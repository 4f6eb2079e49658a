// SPDX-License-Identifier: GPL-2.0

//! The handshake driver: rustls' QUIC API on one side, a [`Socket`] on the
//! other, following `shared/notes/handshake-rustls.md`.
//!
//! 1. The QUIC version comes from getsockopt(CONFIG); the local transport
//!    parameters extension from getsockopt(TRANSPORT_PARAM_EXT).
//! 2. After **every** `read_hs`, `write_hs` runs until it returns nothing;
//!    each chunk goes out at the level in force when it was written, and a
//!    key change moves the level after that.
//! 3. Raw traffic secrets come from a per-connection [`rustls::KeyLog`]
//!    (rustls logs them before returning the matching key change) and go
//!    to the socket as `struct quic_crypto_secret`s.
//! 4. The peer's transport parameters go to the socket once TLS has them:
//!    from the ClientHello on a server, from EncryptedExtensions (the
//!    Handshake level) on a client.
//! 5. Installing both APP secrets completes the handshake in the kernel,
//!    so a server installs them only once TLS has verified the client's
//!    Finished (RFC 9001 §4.1.1, §4.1.2); a client gets its APP secrets
//!    exactly when it has verified the server's Finished.
//! 6. When TLS fails, the close information becomes `0x100 + alert`
//!    (RFC 9001 §4.8), sent when the application closes the socket.
//!
//! HelloRetryRequest needs nothing here: rustls writes the second
//! ClientHello at the Initial level like the first.
//!
//! Session tickets arrive after the handshake, at the APP level. A client
//! whose socket has `quic_config.receive_session_ticket` set keeps reading
//! until one NewSessionTicket went through `read_hs`, so that rustls
//! stores it in the configuration's session storage for resumption and
//! 0-RTT.

use crate::socket::Socket;
use crate::uapi::{
    CryptoLevel, QuicConnectionClose, QuicCryptoSecret, QUIC_TRANSPORT_ERROR_CRYPTO,
    QUIC_VERSION_V2, TLS_CIPHER_AES_CCM_128, TLS_CIPHER_AES_GCM_128, TLS_CIPHER_AES_GCM_256,
    TLS_CIPHER_CHACHA20_POLY1305,
};
use rustls::pki_types::ServerName;
use rustls::quic::{self, KeyChange};
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a handshake may take unless the caller says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The TLS alert sent when TLS failed without naming one: internal_error.
const INTERNAL_ERROR_ALERT: u8 = 80;

/// Why a handshake failed.
#[derive(Debug)]
pub enum HandshakeError {
    /// A socket operation failed (including `TimedOut`).
    Io(io::Error),
    /// TLS failed; the socket's close information carries
    /// `0x100 + alert`.
    Tls {
        /// What rustls reported.
        error: rustls::Error,
        /// The TLS alert (RFC 8446 §6).
        alert: u8,
    },
    /// A secret rustls produced could not be handed to the socket (a
    /// cipher suite the kernel does not know, or a secret not logged).
    Secret(&'static str),
    /// The function does not match the socket's role (a client handshake
    /// on a server socket, or the reverse).
    WrongRole,
}

impl HandshakeError {
    /// The errno a C caller gets: the socket's for I/O errors, `EPROTO`
    /// for TLS failures, `EINVAL` for a role mismatch.
    pub fn errno(&self) -> i32 {
        match self {
            Self::Io(e) => e.raw_os_error().unwrap_or(match e.kind() {
                io::ErrorKind::TimedOut => libc::ETIMEDOUT,
                io::ErrorKind::ConnectionReset => libc::ECONNRESET,
                io::ErrorKind::InvalidInput => libc::EINVAL,
                _ => libc::EIO,
            }),
            Self::Tls { .. } | Self::Secret(_) => libc::EPROTO,
            Self::WrongRole => libc::EINVAL,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "socket: {e}"),
            Self::Tls { error, alert } => write!(f, "TLS: {error} (alert {alert})"),
            Self::Secret(what) => write!(f, "secret: {what}"),
            Self::WrongRole => f.write_str("handshake function does not match the socket's role"),
        }
    }
}

impl std::error::Error for HandshakeError {}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// What a completed handshake negotiated.
#[derive(Clone, Debug, PartialEq)]
pub struct Negotiated {
    /// Full, with HelloRetryRequest, or resumed.
    pub kind: Option<rustls::HandshakeKind>,
    /// Whether a client received a session ticket (only read when the
    /// socket's `receive_session_ticket` is set).
    pub ticket_received: bool,
    /// The application protocol, if ALPN was used (also set on the socket
    /// with setsockopt(ALPN)).
    pub alpn: Option<Vec<u8>>,
    /// The packet protection cipher, a `TLS_CIPHER_*` value.
    pub cipher: u32,
    /// Whether the server accepted 0-RTT data (client) or this server
    /// accepted it.
    pub early_data_accepted: bool,
}

/// A [`rustls::KeyLog`] keeping the QUIC traffic secrets rustls logs, by
/// label (`CLIENT_HANDSHAKE_TRAFFIC_SECRET`, ...): the only public way to
/// the raw secrets the kernel takes. Give each connection its own.
#[derive(Debug, Default)]
pub struct SecretLog(Mutex<Vec<(&'static str, Vec<u8>)>>);

const LABELS: [&str; 5] = [
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
];

impl rustls::KeyLog for SecretLog {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        let Some(label) = LABELS.iter().find(|l| **l == label) else {
            return;
        };
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.push((label, secret.to_vec()));
    }

    fn will_log(&self, label: &str) -> bool {
        LABELS.contains(&label)
    }
}

impl SecretLog {
    /// The last secret logged with `label`.
    pub fn get(&self, label: &str) -> Option<Vec<u8>> {
        let log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.iter()
            .rev()
            .find(|(l, _)| *l == label)
            .map(|(_, s)| s.clone())
    }
}

/// The `TLS_CIPHER_*` of a TLS 1.3 cipher suite.
pub fn tls_cipher(suite: rustls::CipherSuite) -> Option<u32> {
    match u16::from(suite) {
        0x1301 => Some(TLS_CIPHER_AES_GCM_128),
        0x1302 => Some(TLS_CIPHER_AES_GCM_256),
        0x1303 => Some(TLS_CIPHER_CHACHA20_POLY1305),
        0x1304 => Some(TLS_CIPHER_AES_CCM_128),
        _ => None,
    }
}

/// The rustls version of a `QUIC_VERSION_*` (version 1 unless version 2).
pub fn rustls_version(version: u32) -> quic::Version {
    if version == QUIC_VERSION_V2 {
        quic::Version::V2
    } else {
        quic::Version::V1
    }
}

/// Runs the client side of the handshake on `sock` (a connected client
/// socket), verifying the server as `server_name`. `config` is cloned to
/// give this connection its own key log; its session storage stays
/// shared.
pub fn client_handshake<S: Socket>(
    sock: S,
    config: &rustls::ClientConfig,
    server_name: ServerName<'static>,
    timeout: Duration,
) -> Result<Negotiated, HandshakeError> {
    if sock.is_server()? {
        return Err(HandshakeError::WrongRole);
    }
    let quic_config = sock.config()?;
    let version = rustls_version(quic_config.version);
    let params = local_params(&sock)?;
    let log = Arc::new(SecretLog::default());
    let mut config = config.clone();
    config.key_log = log.clone();
    let tls = quic::ClientConnection::new(Arc::new(config), version, server_name, params)
        .map_err(|error| tls_failure(&sock, error, None))?;
    let mut driver = Driver::new(sock, tls.into(), log);
    driver.want_ticket = quic_config.receive_session_ticket != 0;
    driver.run(timeout)
}

/// Runs the server side of the handshake on `sock` (an accepted socket).
/// `config` is cloned like the client's.
pub fn server_handshake<S: Socket>(
    sock: S,
    config: &rustls::ServerConfig,
    timeout: Duration,
) -> Result<Negotiated, HandshakeError> {
    if !sock.is_server()? {
        return Err(HandshakeError::WrongRole);
    }
    let version = rustls_version(sock.config()?.version);
    let params = local_params(&sock)?;
    let log = Arc::new(SecretLog::default());
    let mut config = config.clone();
    config.key_log = log.clone();
    let tls = quic::ServerConnection::new(Arc::new(config), version, params)
        .map_err(|error| tls_failure(&sock, error, None))?;
    Driver::new(sock, tls.into(), log).run(timeout)
}

fn local_params<S: Socket>(sock: &S) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 1024];
    let n = sock.transport_param_ext(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Records `0x100 + alert` as the socket's close information and builds
/// the error. A failure to record it is ignored: the TLS error is the one
/// to report.
fn tls_failure<S: Socket>(sock: &S, error: rustls::Error, alert: Option<u8>) -> HandshakeError {
    let alert = alert.unwrap_or(INTERNAL_ERROR_ALERT);
    //= https://www.rfc-editor.org/rfc/rfc9001#section-4.8
    //# A TLS alert is converted into a QUIC connection error.  The
    //# AlertDescription value is added to 0x0100 to produce a QUIC error code
    //# from the range reserved for CRYPTO_ERROR; see Section 20.1 of [QUIC-
    //# TRANSPORT].
    let close = QuicConnectionClose::new(
        QUIC_TRANSPORT_ERROR_CRYPTO + u32::from(alert),
        error.to_string().as_bytes(),
    );
    let _ = sock.set_connection_close(&close);
    HandshakeError::Tls { error, alert }
}

struct Driver<S> {
    sock: S,
    tls: quic::Connection,
    log: Arc<SecretLog>,
    /// The level TLS writes at.
    level: CryptoLevel,
    peer_params_set: bool,
    /// A server got its APP secrets but waits for the client's Finished.
    app_pending: bool,
    app_installed: bool,
    early_installed: bool,
    /// A client reads APP-level data until a session ticket arrives.
    want_ticket: bool,
}

/// The TLS handshake message type of NewSessionTicket (RFC 8446 §4).
const NEW_SESSION_TICKET: u8 = 4;

impl<S: Socket> Driver<S> {
    fn new(sock: S, tls: quic::Connection, log: Arc<SecretLog>) -> Self {
        Self {
            sock,
            tls,
            log,
            level: CryptoLevel::Initial,
            peer_params_set: false,
            app_pending: false,
            app_installed: false,
            early_installed: false,
            want_ticket: false,
        }
    }

    fn is_client(&self) -> bool {
        matches!(self.tls, quic::Connection::Client(_))
    }

    fn run(mut self, timeout: Duration) -> Result<Negotiated, HandshakeError> {
        let deadline = Instant::now() + timeout;
        self.write()?;
        if self.is_client() && self.tls.zero_rtt_keys().is_some() {
            self.install(CryptoLevel::Early, "CLIENT_EARLY_TRAFFIC_SECRET", true)?;
            self.early_installed = true;
        }
        let mut buf = vec![0u8; 16 * 1024];
        while self.tls.is_handshaking() || !self.app_installed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::from_raw_os_error(libc::ETIMEDOUT).into());
            }
            let (level, n) = self.sock.recv_handshake(&mut buf, left)?;
            crate::log::debug(format_args!("recv {n} bytes at {level:?}"));
            if let Err(error) = self.tls.read_hs(buf.get(..n).unwrap_or(&[])) {
                let alert = self.tls.alert().map(u8::from);
                return Err(tls_failure(&self.sock, error, alert));
            }
            self.after_read(level)?;
            self.write()?;
        }
        let alpn = self.tls.alpn_protocol().map(<[u8]>::to_vec);
        if let Some(alpn) = &alpn {
            self.sock.set_alpn(alpn)?;
        }
        let ticket_received = self.want_ticket && self.receive_ticket(deadline, &mut buf)?;
        Ok(Negotiated {
            kind: self.tls.handshake_kind(),
            ticket_received,
            alpn,
            cipher: self.cipher(0)?,
            early_data_accepted: self.early_installed
                && match &self.tls {
                    quic::Connection::Client(c) => c.is_early_data_accepted(),
                    quic::Connection::Server(_) => true,
                },
        })
    }

    /// Reads APP-level CRYPTO data until TLS has read one complete
    /// NewSessionTicket message; false if none came before `deadline`.
    fn receive_ticket(
        &mut self,
        deadline: Instant,
        buf: &mut [u8],
    ) -> Result<bool, HandshakeError> {
        // The APP-level handshake messages seen so far, to find where each
        // ends: a type byte and a 24-bit length (RFC 8446 §4).
        let mut pending = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let (level, n) = match self.sock.recv_handshake(buf, left) {
                Ok(r) => r,
                Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => return Ok(false),
                Err(e) => return Err(e.into()),
            };
            let data = buf.get(..n).unwrap_or(&[]);
            if let Err(error) = self.tls.read_hs(data) {
                let alert = self.tls.alert().map(u8::from);
                return Err(tls_failure(&self.sock, error, alert));
            }
            if level != CryptoLevel::App {
                continue;
            }
            pending.extend_from_slice(data);
            while let [ty, a, b, c, ..] = pending[..] {
                let end = 4 + (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c));
                if pending.len() < end {
                    break;
                }
                if ty == NEW_SESSION_TICKET {
                    return Ok(true);
                }
                pending.drain(..end);
            }
        }
    }

    /// What follows a `read_hs` of bytes received at `level`: the peer's
    /// transport parameters, a server's 0-RTT keys, a server's APP keys.
    fn after_read(&mut self, level: CryptoLevel) -> Result<(), HandshakeError> {
        // A resuming client reports the parameters remembered with its
        // ticket before EncryptedExtensions: wait for the Handshake level.
        let due = !self.is_client() || level != CryptoLevel::Initial;
        if due && !self.peer_params_set {
            if let Some(p) = self.tls.quic_transport_parameters() {
                let p = p.to_vec();
                self.sock.set_transport_param_ext(&p)?;
                self.peer_params_set = true;
                if !self.is_client() && self.tls.zero_rtt_keys().is_some() {
                    self.install(CryptoLevel::Early, "CLIENT_EARLY_TRAFFIC_SECRET", false)?;
                    self.early_installed = true;
                }
            }
        }
        if self.app_pending && !self.tls.is_handshaking() {
            self.install_app()?;
        }
        Ok(())
    }

    /// Runs `write_hs` until it has nothing more.
    fn write(&mut self) -> Result<(), HandshakeError> {
        loop {
            let mut buf = Vec::new();
            let change = self.tls.write_hs(&mut buf);
            if !buf.is_empty() {
                crate::log::debug(format_args!("send {} bytes at {:?}", buf.len(), self.level));
                self.sock.send_handshake(self.level, &buf)?;
            }
            match change {
                Some(KeyChange::Handshake { .. }) => {
                    let (send, recv) = self.labels(false);
                    self.install(CryptoLevel::Handshake, send, true)?;
                    self.install(CryptoLevel::Handshake, recv, false)?;
                    self.level = CryptoLevel::Handshake;
                }
                Some(KeyChange::OneRtt { .. }) => {
                    self.level = CryptoLevel::App;
                    if self.is_client() {
                        self.install_app()?;
                    } else {
                        self.app_pending = true;
                    }
                }
                None if buf.is_empty() => return Ok(()),
                None => {}
            }
        }
    }

    fn install_app(&mut self) -> Result<(), HandshakeError> {
        let (send, recv) = self.labels(true);
        self.install(CryptoLevel::App, send, true)?;
        self.install(CryptoLevel::App, recv, false)?;
        self.app_pending = false;
        self.app_installed = true;
        Ok(())
    }

    /// This side's and the peer's labels at the Handshake or APP level.
    fn labels(&self, app: bool) -> (&'static str, &'static str) {
        let (c, s) = if app {
            ("CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")
        } else {
            (
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            )
        };
        if self.is_client() {
            (c, s)
        } else {
            (s, c)
        }
    }

    /// The `TLS_CIPHER_*` negotiated; before that (a client's 0-RTT
    /// secret), the one a secret of `len` bytes implies.
    fn cipher(&self, len: usize) -> Result<u32, HandshakeError> {
        match self.tls.negotiated_cipher_suite() {
            Some(s) => tls_cipher(s.suite()).ok_or(HandshakeError::Secret("cipher suite")),
            None if len == 48 => Ok(TLS_CIPHER_AES_GCM_256),
            None => Ok(TLS_CIPHER_AES_GCM_128),
        }
    }

    fn install(
        &mut self,
        level: CryptoLevel,
        label: &'static str,
        send: bool,
    ) -> Result<(), HandshakeError> {
        let secret = self.log.get(label).ok_or(HandshakeError::Secret(label))?;
        let cipher = self.cipher(secret.len())?;
        let s = QuicCryptoSecret::new(level, send, cipher, &secret)
            .ok_or(HandshakeError::Secret("secret too long"))?;
        crate::log::debug(format_args!("install {label} at {level:?}"));
        self.sock.set_crypto_secret(&s)?;
        Ok(())
    }
}
