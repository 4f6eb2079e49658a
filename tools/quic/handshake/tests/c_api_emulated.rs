// SPDX-License-Identifier: GPL-2.0

//! The C API's handshake logic (`quic::capi`, what `quic_client_handshake`
//! and `quic_server_handshake` run once their arguments are converted)
//! over the kernel emulation: the socket's cipher restriction and ALPN,
//! system roots (`SSL_CERT_FILE`), errno results.
//!
//! One test function: `SSL_CERT_FILE` is process-wide.

mod common;

use common::{Pki, Recording, TestResult, TIMEOUT};
use quic::capi::{quic_client_handshake, quic_server_handshake};
use quic::uapi::{CryptoLevel, QuicConfig, TLS_CIPHER_CHACHA20_POLY1305};
use quic_protocol::protocol::connection::Config;
use quic_test_support::kernel::{EmuSocket, Net};
use std::ffi::c_int;
use std::net::{IpAddr, Ipv4Addr};

struct CRun {
    client: c_int,
    server: c_int,
    client_sock: Recording<EmuSocket>,
    server_sock: Recording<EmuSocket>,
}

/// Both C-API handshakes; a side that fails closes its socket.
fn run_c(
    pki: &Pki,
    listener_alpn: &str,
    client_config: QuicConfig,
    host: Option<&str>,
    client_alpns: Option<&str>,
) -> Result<CRun, Box<dyn std::error::Error>> {
    let net = Net::new(Config::new(), Config::new(), listener_alpn, 11);
    let server_net = net.clone();
    let (key, cert) = (pki.key.clone(), pki.cert.clone());
    let server = std::thread::spawn(move || -> std::io::Result<_> {
        let sock = Recording::new(server_net.accept(TIMEOUT)?);
        let r = quic_server_handshake(&sock, key.to_str(), cert.to_str(), None);
        if r != 0 {
            sock.inner.close();
        }
        Ok((r, sock))
    });
    let client_sock = Recording::new(net.client());
    client_sock.inner.set_config(&client_config)?;
    let peer = || Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let client = quic_client_handshake(&client_sock, peer, None, host, client_alpns);
    if client != 0 {
        client_sock.inner.close();
    }
    let (server, server_sock) = server.join().map_err(|_| "server thread panicked")??;
    Ok(CRun {
        client,
        server,
        client_sock,
        server_sock,
    })
}

#[test]
fn c_api_handshakes_over_the_emulation() -> TestResult {
    let pki = Pki::new()?;
    std::env::set_var("SSL_CERT_FILE", &pki.ca);

    // The listener's ALPN list stands in for the server's NULL argument;
    // the client socket restricts the cipher.
    let chacha = QuicConfig {
        payload_cipher_type: TLS_CIPHER_CHACHA20_POLY1305,
        ..QuicConfig::default()
    };
    let ok = run_c(
        &pki,
        "smb, hq-interop",
        chacha,
        Some("localhost"),
        Some("hq-interop"),
    )?;
    assert_eq!((ok.client, ok.server), (0, 0));
    let app = CryptoLevel::App as u8;
    let expected = (app, 1, TLS_CIPHER_CHACHA20_POLY1305);
    assert!(ok.server_sock.secrets().contains(&expected));
    assert_eq!(ok.client_sock.inner.state().alpn, b"hq-interop");
    assert_eq!(ok.server_sock.inner.state().alpn, b"hq-interop");
    assert!(ok.server_sock.inner.state().established);

    // No common ALPN: the server's TLS fails (-EPROTO), the client sees
    // the connection closed.
    let r = run_c(
        &pki,
        "smb",
        QuicConfig::default(),
        Some("localhost"),
        Some("h3"),
    )?;
    assert_eq!((r.client, r.server), (-libc::ECONNRESET, -libc::EPROTO));

    // No host name: the certificate (for "localhost") is checked against
    // the peer's address and refused.
    let r = run_c(
        &pki,
        "hq-interop",
        QuicConfig::default(),
        None,
        Some("hq-interop"),
    )?;
    assert_eq!((r.client, r.server), (-libc::EPROTO, -libc::ECONNRESET));
    let close = r
        .server_sock
        .inner
        .state()
        .close
        .ok_or("server not closed")?;
    // bad_certificate (42): the name does not match.
    assert_eq!(close.code, 0x100 + 42);

    // PSK mode and unreadable files.
    let net = Net::new(Config::new(), Config::new(), "", 13);
    let sock = net.client();
    let peer = || Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(
        quic_client_handshake(&sock, peer, Some("psk.txt"), Some("localhost"), None),
        -libc::EOPNOTSUPP
    );
    assert_eq!(
        quic_server_handshake(&sock, Some("key.pem"), None, None),
        -libc::EOPNOTSUPP
    );
    assert_eq!(
        quic_server_handshake(&sock, Some("/nonexistent"), Some("/nonexistent"), None),
        -libc::ENOENT
    );
    Ok(())
}
