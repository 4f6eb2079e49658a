// SPDX-License-Identifier: GPL-2.0

//! What libquic's handshake functions do once their C arguments are Rust
//! ones, over any [`Socket`]: [`crate::ffi`] calls these with an
//! [`crate::fd::FdSocket`], the host tests with the kernel emulation.
//!
//! - the cipher restriction is the socket's
//!   `quic_config.payload_cipher_type`;
//! - the ALPN list is the argument, else the socket's (set on the
//!   listener before listen());
//! - a client verifies the server against the system's CA bundle;
//! - a server seals tickets with the listener's ticket key;
//! - PSK mode is refused with `-EOPNOTSUPP`;
//! - the result is 0 or a negative errno, failures are logged.

use crate::handshake::{client_handshake, server_handshake, DEFAULT_TIMEOUT};
use crate::log;
use crate::socket::Socket;
use crate::ticket::kernel_ticketer;
use crate::tls::{client_config, parse_alpns, server_config, Verification};
use rustls::pki_types::ServerName;
use std::ffi::c_int;
use std::io;
use std::net::IpAddr;
use std::path::Path;

/// The ALPN list of a handshake: the argument, else the socket's
/// (QUIC_SOCKOPT_ALPN, e.g. set on the listener before listen()).
fn alpns_of<S: Socket>(sock: &S, arg: Option<&str>) -> Vec<Vec<u8>> {
    if let Some(a) = arg {
        return parse_alpns(a);
    }
    let mut buf = [0u8; 256];
    match sock.alpn(&mut buf) {
        Ok(n) => parse_alpns(&String::from_utf8_lossy(buf.get(..n).unwrap_or(&[]))),
        Err(_) => Vec::new(),
    }
}

/// `quic_client_handshake` after argument conversion, over any socket.
/// `peer` gives the address to verify the certificate against when there
/// is no host name.
pub fn quic_client_handshake<S: Socket>(
    sock: S,
    peer: impl FnOnce() -> io::Result<IpAddr>,
    psk: Option<&str>,
    host: Option<&str>,
    alpns: Option<&str>,
) -> c_int {
    if psk.is_some() {
        // libquic's pkey_file is a pre-shared key file; rustls has no
        // external PSK support.
        log::error(format_args!("PSK handshakes are not supported"));
        return -libc::EOPNOTSUPP;
    }
    let name = match host {
        Some(h) => ServerName::try_from(h.to_string()).map_err(|_| -libc::EINVAL),
        // No host name: verify the certificate against the peer's address.
        None => peer()
            .map(|ip| ServerName::IpAddress(ip.into()))
            .map_err(|e| -e.raw_os_error().unwrap_or(libc::EINVAL)),
    };
    let name = match name {
        Ok(n) => n,
        Err(e) => return e,
    };
    let cipher = match sock.config() {
        Ok(c) => c.payload_cipher_type,
        Err(e) => return -e.raw_os_error().unwrap_or(libc::EIO),
    };
    let alpns = alpns_of(&sock, alpns);
    let config = match client_config(&Verification::SystemRoots, &alpns, cipher) {
        Ok(c) => c,
        Err(e) => {
            log::error(format_args!("client configuration: {e}"));
            return -e.errno();
        }
    };
    match client_handshake(sock, &config, name, DEFAULT_TIMEOUT) {
        Ok(_) => 0,
        Err(e) => {
            log::error(format_args!("client handshake: {e}"));
            -e.errno()
        }
    }
}

/// `quic_server_handshake` after argument conversion, over any socket.
pub fn quic_server_handshake<S: Socket>(
    sock: S,
    key: Option<&str>,
    cert: Option<&str>,
    alpns: Option<&str>,
) -> c_int {
    let (Some(key), Some(cert)) = (key, cert) else {
        // libquic's PSK mode (no certificate file): not supported.
        log::error(format_args!("PSK handshakes are not supported"));
        return -libc::EOPNOTSUPP;
    };
    let cipher = match sock.config() {
        Ok(c) => c.payload_cipher_type,
        Err(e) => return -e.raw_os_error().unwrap_or(libc::EIO),
    };
    let alpns = alpns_of(&sock, alpns);
    let mut config = match server_config(Path::new(key), Path::new(cert), &alpns, cipher) {
        Ok(c) => c,
        Err(e) => {
            log::error(format_args!("server configuration: {e}"));
            return -e.errno();
        }
    };
    // Tickets any handshake on this listener can open, in any process.
    if let Ok(Some(ticketer)) = kernel_ticketer(&sock) {
        config.ticketer = ticketer;
    }
    match server_handshake(sock, &config, DEFAULT_TIMEOUT) {
        Ok(_) => 0,
        Err(e) => {
            log::error(format_args!("server handshake: {e}"));
            -e.errno()
        }
    }
}
