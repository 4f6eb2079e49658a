// SPDX-License-Identifier: GPL-2.0

//! The socket operations a QUIC handshake needs, and nothing else: the
//! "Handshake contract with userspace" of `shared/spec/uapi-abi.md`.
//!
//! | operation | on an IPPROTO_QUIC socket |
//! |---|---|
//! | [`Socket::send_handshake`] | sendmsg + `QUIC_HANDSHAKE_INFO` cmsg |
//! | [`Socket::recv_handshake`] | poll + recvmsg + `QUIC_HANDSHAKE_INFO` cmsg |
//! | [`Socket::transport_param_ext`] | getsockopt(`QUIC_SOCKOPT_TRANSPORT_PARAM_EXT`) |
//! | [`Socket::set_transport_param_ext`] | setsockopt(`QUIC_SOCKOPT_TRANSPORT_PARAM_EXT`) |
//! | [`Socket::set_crypto_secret`] | setsockopt(`QUIC_SOCKOPT_CRYPTO_SECRET`) |
//! | [`Socket::alpn`] / [`Socket::set_alpn`] | get/setsockopt(`QUIC_SOCKOPT_ALPN`) |
//! | [`Socket::config`] | getsockopt(`QUIC_SOCKOPT_CONFIG`) |
//! | [`Socket::session_ticket`] | getsockopt(`QUIC_SOCKOPT_SESSION_TICKET`) |
//! | [`Socket::is_server`] | getsockopt(`QUIC_SOCKOPT_TOKEN`) fails on a server socket |
//! | [`Socket::set_connection_close`] | setsockopt(`QUIC_SOCKOPT_CONNECTION_CLOSE`) |
//!
//! [`crate::fd::FdSocket`] implements it over a file descriptor; the host
//! tests implement it over the protocol core (`quic-test-support`'s
//! `kernel` module), which is the executable reference of what the kernel
//! does behind these calls.

use crate::uapi::{CryptoLevel, QuicConfig, QuicConnectionClose, QuicCryptoSecret};
use std::io;
use std::time::Duration;

/// The handshake's view of an IPPROTO_QUIC socket. Errors are
/// `io::Error`s carrying the errno the kernel would return.
pub trait Socket {
    /// Sends TLS handshake bytes written at `level`.
    fn send_handshake(&self, level: CryptoLevel, data: &[u8]) -> io::Result<()>;

    /// Receives the next chunk of the peer's handshake bytes into `buf`,
    /// with its level, waiting up to `timeout`. Fails with `TimedOut` when
    /// nothing arrived in time.
    fn recv_handshake(&self, buf: &mut [u8], timeout: Duration)
        -> io::Result<(CryptoLevel, usize)>;

    /// The local transport parameters, as the body of the TLS
    /// quic_transport_parameters extension; returns its length.
    fn transport_param_ext(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Hands over the peer's quic_transport_parameters extension body.
    fn set_transport_param_ext(&self, ext: &[u8]) -> io::Result<()>;

    /// Installs one traffic secret.
    fn set_crypto_secret(&self, secret: &QuicCryptoSecret) -> io::Result<()>;

    /// The socket's ALPN: the comma-separated list set before the
    /// handshake, or the one selected after; returns its length.
    fn alpn(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Sets the ALPN (a comma-separated list, or the selected protocol).
    fn set_alpn(&self, alpn: &[u8]) -> io::Result<()>;

    /// The socket's configuration (the QUIC version, mostly).
    fn config(&self) -> io::Result<QuicConfig>;

    /// Whether this is the server end: getsockopt(TOKEN) fails there.
    fn is_server(&self) -> io::Result<bool>;

    /// On a server socket, the listener's session ticket key; on a
    /// client, the ticket the kernel kept, if any. Returns its length.
    fn session_ticket(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Sets what close() sends: the handshake sets `0x100 + alert` when
    /// TLS fails.
    fn set_connection_close(&self, close: &QuicConnectionClose) -> io::Result<()>;
}

impl<S: Socket + ?Sized> Socket for &S {
    fn send_handshake(&self, level: CryptoLevel, data: &[u8]) -> io::Result<()> {
        (**self).send_handshake(level, data)
    }
    fn recv_handshake(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> io::Result<(CryptoLevel, usize)> {
        (**self).recv_handshake(buf, timeout)
    }
    fn transport_param_ext(&self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).transport_param_ext(buf)
    }
    fn set_transport_param_ext(&self, ext: &[u8]) -> io::Result<()> {
        (**self).set_transport_param_ext(ext)
    }
    fn set_crypto_secret(&self, secret: &QuicCryptoSecret) -> io::Result<()> {
        (**self).set_crypto_secret(secret)
    }
    fn alpn(&self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).alpn(buf)
    }
    fn set_alpn(&self, alpn: &[u8]) -> io::Result<()> {
        (**self).set_alpn(alpn)
    }
    fn config(&self) -> io::Result<QuicConfig> {
        (**self).config()
    }
    fn is_server(&self) -> io::Result<bool> {
        (**self).is_server()
    }
    fn session_ticket(&self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).session_ticket(buf)
    }
    fn set_connection_close(&self, close: &QuicConnectionClose) -> io::Result<()> {
        (**self).set_connection_close(close)
    }
}
