// SPDX-License-Identifier: GPL-2.0

//! An in-memory emulation of the kernel side of IPPROTO_QUIC sockets
//! during the handshake, implementing `quic-handshake`'s `Socket` over our
//! protocol core: the executable reference of what the socket glue must
//! do for the "Handshake contract with userspace" of
//! `shared/spec/uapi-abi.md`.
//!
//! | socket call | the kernel does |
//! |---|---|
//! | connect() ([`Net::new`]) | `Connection::connect`: CIDs and Initial keys, nothing sent |
//! | accept() ([`Net::accept`]) | `Connection::accept` from the first Initial |
//! | sendmsg + HANDSHAKE_INFO | `crypto_send` at the level |
//! | recvmsg + HANDSHAKE_INFO | `crypto_recv`, Initial, Handshake then APP; blocks |
//! | getsockopt(TRANSPORT_PARAM_EXT) | `local_transport_parameters` |
//! | setsockopt(TRANSPORT_PARAM_EXT) | `set_peer_transport_parameters` |
//! | setsockopt(CRYPTO_SECRET) | parse `struct quic_crypto_secret` bytes, `install_secret`; INITIAL refused; both APP secrets → `tls_handshake_done`, ESTABLISHED |
//! | get/setsockopt(CONFIG) | stored; `version` = the connection's |
//! | getsockopt(TOKEN) | fails with EINVAL on a server socket |
//! | get/setsockopt(ALPN) | the socket's ALPN string; an accepted socket starts with the listener's |
//! | getsockopt(SESSION_TICKET) | server: the listener's ticket key; client: none kept |
//! | setsockopt(CONNECTION_CLOSE) + close() | `close`: a transport close before ESTABLISHED (RFC 9000 §10.2.3 allows no application close there) |
//!
//! Both ends live in one [`Net`] behind a mutex; each socket call moves
//! every datagram both connections have to send to the other one at once
//! (a perfect link) and runs expired timers, on the real clock, so two
//! threads can run the two handshakes with blocking receives.

use crate::cid::Gen;
use crate::endpoint::ConnBox;
use quic_handshake::socket::Socket;
use quic_handshake::uapi::{
    CryptoLevel, QuicConfig, QuicConnectionClose, QuicCryptoSecret, TLS_CIPHER_AES_CCM_128,
    TLS_CIPHER_AES_GCM_128, TLS_CIPHER_AES_GCM_256, TLS_CIPHER_CHACHA20_POLY1305,
};
use quic_host_crypto::RustCrypto;
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::connection::{
    Config, Connection, ConnectionError, Direction, Incoming,
};
use quic_protocol::protocol::crypto::{CipherSuite, Level};
use quic_protocol::protocol::packet::version_negotiation::LongInvariant;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::time::Instant;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The client's address.
pub const CLIENT_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 50000));
/// The server's address.
pub const SERVER_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 443));

fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// One socket's kernel state.
struct Sock {
    conn: ConnBox,
    server: bool,
    config: QuicConfig,
    alpn: Vec<u8>,
    close: Option<QuicConnectionClose>,
    /// APP secrets installed: send, receive.
    app: [bool; 2],
    established: bool,
}

impl Sock {
    fn new(conn: ConnBox, server: bool, alpn: Vec<u8>) -> Self {
        Self {
            conn,
            server,
            config: QuicConfig::default(),
            alpn,
            close: None,
            app: [false; 2],
            established: false,
        }
    }
}

struct World {
    start: std::time::Instant,
    client: Sock,
    server: Option<Sock>,
    server_config: Config,
    listener_alpn: Vec<u8>,
    /// The listener's session ticket key.
    ticket_key: Vec<u8>,
    server_seed: u64,
}

impl World {
    fn now(&self) -> Instant {
        let ns = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Instant::from_nanos(1_000_000_000u64.saturating_add(ns))
    }

    fn sock(&mut self, server: bool) -> io::Result<&mut Sock> {
        if server {
            self.server.as_mut().ok_or(errno(libc::ENOTCONN))
        } else {
            Ok(&mut self.client)
        }
    }

    /// The kernel's accept(): a server connection for the client's first
    /// Initial (no Retry).
    fn admit(&mut self, now: Instant, datagram: &[u8]) -> bool {
        let Ok((inv, _)) = LongInvariant::decode(datagram) else {
            return false;
        };
        let (Ok(dcid), Ok(scid)) = (
            ConnectionId::from_slice(inv.dcid),
            ConnectionId::from_slice(inv.scid),
        ) else {
            return false;
        };
        let incoming = Incoming {
            version: inv.version,
            dcid,
            scid,
            original_dcid: dcid,
            retry_scid: None,
            address_validated: false,
        };
        let Ok(conn) = Connection::accept(
            self.server_config,
            RustCrypto,
            Gen::new(self.server_seed),
            now,
            SERVER_ADDR,
            CLIENT_ADDR,
            &incoming,
        ) else {
            return false;
        };
        self.server = Some(Sock::new(conn, true, self.listener_alpn.clone()));
        true
    }

    /// Moves every datagram between the two connections and runs expired
    /// timers, until nothing moves.
    fn pump(&mut self) {
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..10_000 {
            let now = self.now();
            let mut moved = false;
            for from_server in [false, true] {
                loop {
                    let sender = if from_server {
                        self.server.as_mut()
                    } else {
                        Some(&mut self.client)
                    };
                    let Some(sender) = sender else { break };
                    let Some(t) = sender.conn.poll_transmit(now, &mut buf) else {
                        break;
                    };
                    moved = true;
                    let seg = t.segment_size.unwrap_or(t.len).max(1);
                    for chunk in buf[..t.len].chunks(seg) {
                        let mut d = chunk.to_vec();
                        if from_server {
                            self.client.conn.handle_datagram(
                                now,
                                CLIENT_ADDR,
                                SERVER_ADDR,
                                EcnCodepoint::NotEct,
                                &mut d,
                            );
                        } else {
                            if self.server.is_none() && !self.admit(now, &d) {
                                continue;
                            }
                            if let Some(s) = self.server.as_mut() {
                                s.conn.handle_datagram(
                                    now,
                                    SERVER_ADDR,
                                    CLIENT_ADDR,
                                    EcnCodepoint::NotEct,
                                    &mut d,
                                );
                            }
                        }
                    }
                }
            }
            for s in [Some(&mut self.client), self.server.as_mut()]
                .into_iter()
                .flatten()
            {
                if s.conn.poll_timeout().is_some_and(|t| t <= now) {
                    s.conn.handle_timeout(now);
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// How long until the next timer of either connection, at most `max`.
    fn next_wake(&self, max: Duration) -> Duration {
        let now = self.now();
        [Some(&self.client), self.server.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|s| s.conn.poll_timeout())
            .map(|t| t.saturating_duration_since(now))
            .fold(max, Duration::min)
            .max(Duration::from_millis(1))
    }
}

struct Shared {
    world: Mutex<World>,
    changed: Condvar,
}

/// A client socket, connected, and the listener its server end appears
/// on.
#[derive(Clone)]
pub struct Net(Arc<Shared>);

impl Net {
    /// connect() from a client with `client` to a listener with `server`
    /// whose ALPN (set before listen()) is `listener_alpn`.
    pub fn new(client: Config, server: Config, listener_alpn: &str, seed: u64) -> Self {
        let start = std::time::Instant::now();
        let now = Instant::from_nanos(1_000_000_000);
        let conn = Connection::connect(
            client,
            RustCrypto,
            Gen::new(seed),
            now,
            CLIENT_ADDR,
            SERVER_ADDR,
        )
        .expect("connect");
        let world = World {
            start,
            client: Sock::new(conn, false, Vec::new()),
            server: None,
            server_config: server,
            listener_alpn: listener_alpn.as_bytes().to_vec(),
            ticket_key: seed.to_le_bytes().repeat(8),
            server_seed: seed ^ 0xabcd,
        };
        Self(Arc::new(Shared {
            world: Mutex::new(world),
            changed: Condvar::new(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        self.0.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the listener's session ticket key (by default 64 bytes
    /// from the seed; the kernel picks a random one at listen()).
    pub fn set_ticket_key(&self, key: &[u8]) {
        self.lock().ticket_key = key.to_vec();
    }

    /// The client socket.
    pub fn client(&self) -> EmuSocket {
        EmuSocket {
            net: self.clone(),
            server: false,
        }
    }

    /// accept(): waits up to `timeout` for the client's first Initial.
    pub fn accept(&self, timeout: Duration) -> io::Result<EmuSocket> {
        let deadline = std::time::Instant::now() + timeout;
        let mut w = self.lock();
        loop {
            w.pump();
            if w.server.is_some() {
                return Ok(EmuSocket {
                    net: self.clone(),
                    server: true,
                });
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(errno(libc::EAGAIN));
            }
            let wait = w.next_wake(left);
            w = self
                .0
                .changed
                .wait_timeout(w, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Lets both connections exchange what is left (ACKs, HANDSHAKE_DONE)
    /// for up to `d`.
    pub fn settle(&self, d: Duration) {
        let deadline = std::time::Instant::now() + d;
        while std::time::Instant::now() < deadline {
            let mut w = self.lock();
            w.pump();
            let confirmed = w.client.conn.is_handshake_confirmed()
                && w.server
                    .as_ref()
                    .is_some_and(|s| s.conn.is_handshake_confirmed());
            let closed =
                w.client.conn.is_closed() && w.server.as_ref().is_none_or(|s| s.conn.is_closed());
            if confirmed || closed {
                return;
            }
            let wait = w.next_wake(Duration::from_millis(10));
            drop(self.0.changed.wait_timeout(w, wait));
        }
    }
}

/// The state of one end, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SockState {
    /// Both APP secrets were installed.
    pub established: bool,
    /// The core's handshake is confirmed.
    pub confirmed: bool,
    /// Why the connection closed, if it did.
    pub close: Option<ConnectionError>,
    /// The socket's ALPN.
    pub alpn: Vec<u8>,
    /// The version in use.
    pub version: u32,
}

/// One end of a [`Net`], as the handshake sees it.
#[derive(Clone)]
pub struct EmuSocket {
    net: Net,
    server: bool,
}

impl EmuSocket {
    /// Runs `f` on this socket's kernel state, then moves datagrams and
    /// wakes waiters.
    fn with<T>(&self, f: impl FnOnce(&mut Sock, Instant) -> io::Result<T>) -> io::Result<T> {
        let mut w = self.net.lock();
        let now = w.now();
        let r = f(w.sock(self.server)?, now);
        w.pump();
        drop(w);
        self.net.0.changed.notify_all();
        r
    }

    /// The end's state.
    pub fn state(&self) -> SockState {
        let w = self.net.lock();
        let s = if self.server {
            w.server.as_ref().unwrap_or(&w.client)
        } else {
            &w.client
        };
        SockState {
            established: s.established,
            confirmed: s.conn.is_handshake_confirmed(),
            close: s.conn.close_error().cloned(),
            alpn: s.alpn.clone(),
            version: s.conn.version().0,
        }
    }

    /// getsockopt(TOKEN): fails on a server socket.
    pub fn token(&self) -> io::Result<Vec<u8>> {
        self.with(|s, _| {
            if s.server {
                Err(errno(libc::EINVAL))
            } else {
                Ok(Vec::new())
            }
        })
    }

    /// setsockopt(CONFIG): the handshake reads `receive_session_ticket`
    /// back (the version is the connection's).
    pub fn set_config(&self, config: &QuicConfig) -> io::Result<()> {
        let config = QuicConfig::from_bytes(&config.to_bytes()).ok_or(errno(libc::EINVAL))?;
        self.with(|s, _| {
            s.config = config;
            Ok(())
        })
    }

    /// setsockopt(CRYPTO_SECRET) with raw option bytes, as the kernel
    /// receives them.
    pub fn set_crypto_secret_bytes(&self, bytes: &[u8]) -> io::Result<()> {
        let secret = QuicCryptoSecret::from_bytes(bytes).ok_or(errno(libc::EINVAL))?;
        let level = match CryptoLevel::from_u8(secret.level).ok_or(errno(libc::EINVAL))? {
            // Initial keys come from the connection ID, in the kernel.
            CryptoLevel::Initial => return Err(errno(libc::EINVAL)),
            CryptoLevel::Handshake => Level::Handshake,
            CryptoLevel::Early => Level::ZeroRtt,
            CryptoLevel::App => Level::OneRtt,
        };
        let suite = match secret.type_ {
            TLS_CIPHER_AES_GCM_128 => CipherSuite::Aes128GcmSha256,
            TLS_CIPHER_AES_GCM_256 => CipherSuite::Aes256GcmSha384,
            TLS_CIPHER_CHACHA20_POLY1305 => CipherSuite::ChaCha20Poly1305Sha256,
            TLS_CIPHER_AES_CCM_128 => CipherSuite::Aes128CcmSha256,
            _ => return Err(errno(libc::EINVAL)),
        };
        let len = secret.secret_len().ok_or(errno(libc::EINVAL))?;
        let send = match secret.send {
            0 => false,
            1 => true,
            _ => return Err(errno(libc::EINVAL)),
        };
        let direction = if send {
            Direction::Send
        } else {
            Direction::Recv
        };
        self.with(|s, now| {
            s.conn
                .install_secret(now, level, direction, suite, &secret.secret[..len])
                .map_err(|_| errno(libc::EINVAL))?;
            if level == Level::OneRtt {
                s.app[usize::from(!send)] = true;
                if s.app == [true; 2] && !s.established {
                    // Both APP secrets: the handshake is complete.
                    s.conn.tls_handshake_done(now);
                    s.established = true;
                }
            }
            Ok(())
        })
    }

    /// close(): sends CONNECTION_CLOSE with the information set by
    /// setsockopt(CONNECTION_CLOSE), if any.
    pub fn close(&self) {
        let _ = self.with(|s, now| {
            let info = s.close.unwrap_or(QuicConnectionClose::new(0, b""));
            let phrase = info.phrase.split(|b| *b == 0).next().unwrap_or(&[]);
            // Before the handshake completes only transport closes can be
            // sent (RFC 9000 §10.2.3); a TLS failure's 0x100 + alert is
            // one anyway.
            let application = s.established && !(0x100..0x200).contains(&info.errcode);
            s.conn.close(
                now,
                u64::from(info.errcode),
                u64::from(info.frame),
                phrase,
                application,
            );
            Ok(())
        });
    }
}

fn level_of(level: CryptoLevel) -> io::Result<Level> {
    match level {
        CryptoLevel::Initial => Ok(Level::Initial),
        CryptoLevel::Handshake => Ok(Level::Handshake),
        CryptoLevel::App => Ok(Level::OneRtt),
        // 0-RTT has no CRYPTO stream.
        CryptoLevel::Early => Err(errno(libc::EINVAL)),
    }
}

impl Socket for EmuSocket {
    fn send_handshake(&self, level: CryptoLevel, data: &[u8]) -> io::Result<()> {
        let level = level_of(level)?;
        self.with(|s, _| match s.conn.crypto_send(level, data) {
            Ok(n) if n == data.len() => Ok(()),
            Ok(_) => Err(errno(libc::ENOBUFS)),
            Err(_) if s.conn.is_closed() => Err(errno(libc::EPIPE)),
            Err(_) => Err(errno(libc::EINVAL)),
        })
    }

    fn recv_handshake(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> io::Result<(CryptoLevel, usize)> {
        let deadline = std::time::Instant::now() + timeout;
        let mut w = self.net.lock();
        loop {
            w.pump();
            let s = w.sock(self.server)?;
            for (level, l) in [
                (CryptoLevel::Initial, Level::Initial),
                (CryptoLevel::Handshake, Level::Handshake),
                (CryptoLevel::App, Level::OneRtt),
            ] {
                let n = s
                    .conn
                    .crypto_recv(l, buf)
                    .map_err(|_| errno(libc::EINVAL))?;
                if n > 0 {
                    return Ok((level, n));
                }
            }
            if s.conn.is_closed() {
                return Err(errno(libc::ECONNRESET));
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(errno(libc::ETIMEDOUT));
            }
            let wait = w.next_wake(left);
            w = self
                .net
                .0
                .changed
                .wait_timeout(w, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn transport_param_ext(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.with(|s, _| {
            s.conn
                .local_transport_parameters(buf)
                .map_err(|_| errno(libc::EINVAL))
        })
    }

    fn set_transport_param_ext(&self, ext: &[u8]) -> io::Result<()> {
        self.with(|s, now| {
            s.conn
                .set_peer_transport_parameters(now, ext)
                .map_err(|_| errno(libc::EINVAL))
        })
    }

    fn set_crypto_secret(&self, secret: &QuicCryptoSecret) -> io::Result<()> {
        // The kernel sees only the option's bytes.
        self.set_crypto_secret_bytes(&secret.to_bytes())
    }

    fn alpn(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.with(|s, _| {
            let dst = buf.get_mut(..s.alpn.len()).ok_or(errno(libc::EINVAL))?;
            dst.copy_from_slice(&s.alpn);
            Ok(s.alpn.len())
        })
    }

    fn set_alpn(&self, alpn: &[u8]) -> io::Result<()> {
        self.with(|s, _| {
            s.alpn = alpn.to_vec();
            Ok(())
        })
    }

    fn config(&self) -> io::Result<QuicConfig> {
        self.with(|s, _| {
            Ok(QuicConfig {
                version: s.conn.version().0,
                ..s.config
            })
        })
    }

    fn is_server(&self) -> io::Result<bool> {
        match self.token() {
            Ok(_) => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(true),
            Err(e) => Err(e),
        }
    }

    fn session_ticket(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut w = self.net.lock();
        let key = if self.server {
            w.ticket_key.clone()
        } else {
            // Tickets are left to TLS: the kernel keeps none.
            Vec::new()
        };
        w.sock(self.server)?;
        let dst = buf.get_mut(..key.len()).ok_or(errno(libc::EINVAL))?;
        dst.copy_from_slice(&key);
        Ok(key.len())
    }

    fn set_connection_close(&self, close: &QuicConnectionClose) -> io::Result<()> {
        let bytes = close.to_bytes();
        let info = QuicConnectionClose::from_bytes(&bytes).ok_or(errno(libc::EINVAL))?;
        self.with(|s, _| {
            s.close = Some(info);
            Ok(())
        })
    }
}
