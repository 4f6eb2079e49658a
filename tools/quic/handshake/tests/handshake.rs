// SPDX-License-Identifier: GPL-2.0

//! Full client and server handshakes through the kernel emulation of
//! `quic-test-support` (our protocol core behind the socket contract).

mod common;

use common::{run, run_with, Options, Pki, TestResult, TIMEOUT};
use quic::handshake::{client_handshake, server_handshake, HandshakeError};
use quic::socket::Socket;
use quic::tls::{client_config, parse_alpns, server_config, Verification};
use quic::uapi::{
    CryptoLevel, QuicConfig, QuicCryptoSecret, QUIC_VERSION_V1, QUIC_VERSION_V2,
    TLS_CIPHER_AES_GCM_128, TLS_CIPHER_AES_GCM_256, TLS_CIPHER_CHACHA20_POLY1305,
};
use quic_protocol::protocol::connection::{Config, Versions};
use quic_protocol::protocol::packet::version::Version;
use quic_test_support::kernel::Net;
use rustls::pki_types::ServerName;
use std::time::Duration;

const ALPN: &str = "hq-interop";

fn configs(
    pki: &Pki,
    client_alpn: &str,
    server_alpn: &str,
    cipher: u32,
) -> Result<(rustls::ClientConfig, rustls::ServerConfig), Box<dyn std::error::Error>> {
    let client = client_config(
        &Verification::CaFile(pki.ca.clone()),
        &parse_alpns(client_alpn),
        cipher,
    )?;
    let server = server_config(&pki.key, &pki.cert, &parse_alpns(server_alpn), 0)?;
    Ok((client, server))
}

fn versions(v: &[Version]) -> Result<Config, &'static str> {
    let mut c = Config::new();
    c.versions = Versions::new(v).ok_or("versions")?;
    Ok(c)
}

/// A complete handshake: both ends established and confirmed, same
/// cipher, ALPN selected and set on both sockets, in `version`.
fn complete(version: Version, cipher: u32, expected_cipher: u32) -> TestResult {
    complete_with(&[version], &[version], version, cipher, expected_cipher)
}

fn complete_with(
    client_versions: &[Version],
    server_versions: &[Version],
    version: Version,
    cipher: u32,
    expected_cipher: u32,
) -> TestResult {
    let pki = Pki::new()?;
    let (c, s) = configs(&pki, "h3, hq-interop", ALPN, cipher)?;
    let client_quic = versions(client_versions)?;
    let server_quic = versions(server_versions)?;
    let out = run(client_quic, server_quic, ALPN, &c, &s)?;
    let client = out.client?;
    let server = out.server?;
    assert_eq!(client, server);
    assert_eq!(client.cipher, expected_cipher);
    assert_eq!(client.kind, Some(rustls::HandshakeKind::Full));
    // Handshake then APP secrets, each direction, all of the negotiated
    // cipher; never an Initial one.
    let (hs, app) = (CryptoLevel::Handshake as u8, CryptoLevel::App as u8);
    let c = expected_cipher;
    assert_eq!(
        out.client_sock.secrets(),
        [(hs, 1, c), (hs, 0, c), (app, 1, c), (app, 0, c)]
    );
    assert_eq!(client.alpn.as_deref(), Some(ALPN.as_bytes()));
    let cs = out.client_sock.inner.state();
    let ss = out.server_sock.ok_or("no server socket")?.inner.state();
    for st in [&cs, &ss] {
        assert!(st.established);
        assert!(st.confirmed);
        assert!(st.close.is_none());
        assert_eq!(st.alpn, ALPN.as_bytes());
        assert_eq!(st.version, version.0);
    }
    // ClientHello, then the client's Finished: nothing else from the
    // client before the handshake completes.
    assert_eq!(out.client_sock.sends_at(CryptoLevel::Initial), 1);
    assert_eq!(out.client_sock.sends_at(CryptoLevel::Handshake), 1);
    Ok(())
}

#[test]
fn v1_handshake_completes() -> TestResult {
    complete(Version::V1, 0, TLS_CIPHER_AES_GCM_256)
}

#[test]
fn v2_handshake_completes() -> TestResult {
    complete(Version::V2, 0, TLS_CIPHER_AES_GCM_256)
}

/// RFC 9368 compatible version negotiation: the client starts in v1
/// offering v2, the server prefers v2; the handshake ends in v2.
#[test]
fn compatible_version_negotiation_to_v2() -> TestResult {
    complete_with(
        &[Version::V1, Version::V2],
        &[Version::V2, Version::V1],
        Version::V2,
        0,
        TLS_CIPHER_AES_GCM_256,
    )
}

#[test]
fn chacha20_only() -> TestResult {
    complete(
        Version::V1,
        TLS_CIPHER_CHACHA20_POLY1305,
        TLS_CIPHER_CHACHA20_POLY1305,
    )
}

#[test]
fn aes_256_only() -> TestResult {
    complete(Version::V2, TLS_CIPHER_AES_GCM_256, TLS_CIPHER_AES_GCM_256)
}

#[test]
fn aes_128_only() -> TestResult {
    complete(Version::V1, TLS_CIPHER_AES_GCM_128, TLS_CIPHER_AES_GCM_128)
}

/// The client offers only a key share for X25519; the server supports
/// only P-256: HelloRetryRequest, and a second ClientHello at Initial.
#[test]
fn hello_retry_request() -> TestResult {
    let pki = Pki::new()?;
    let (c, _) = configs(&pki, ALPN, ALPN, 0)?;
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .kx_groups
        .retain(|g| g.name() == rustls::NamedGroup::secp256r1);
    let server = server_config(&pki.key, &pki.cert, &parse_alpns(ALPN), 0)?;
    let mut s = rustls::ServerConfig::builder_with_provider(provider.into())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_cert_resolver(server.cert_resolver.clone());
    s.alpn_protocols = server.alpn_protocols.clone();
    let out = run(Config::new(), Config::new(), ALPN, &c, &s)?;
    let kind = Some(rustls::HandshakeKind::FullWithHelloRetryRequest);
    assert_eq!(out.client?.kind, kind);
    assert_eq!(out.server?.kind, kind);
    assert_eq!(out.client_sock.sends_at(CryptoLevel::Initial), 2);
    assert!(out.client_sock.inner.state().confirmed);
    Ok(())
}

/// A client asking for a session ticket gets one; its second connection
/// resumes and sends 0-RTT, with the early secret of the resumed cipher.
#[test]
fn resumption_with_zero_rtt() -> TestResult {
    let pki = Pki::new()?;
    let (mut c, mut s) = configs(&pki, ALPN, ALPN, TLS_CIPHER_CHACHA20_POLY1305)?;
    c.enable_early_data = true;
    s.max_early_data_size = u32::MAX;
    let ticket = QuicConfig {
        receive_session_ticket: 1,
        ..QuicConfig::default()
    };
    let options = Options {
        client_config: Some(ticket),
        ..Options::default()
    };
    let first = run_with(Config::new(), Config::new(), ALPN, &c, &s, options)?;
    let n = first.client?;
    assert!(n.ticket_received);
    assert_eq!(n.kind, Some(rustls::HandshakeKind::Full));
    assert!(!n.early_data_accepted);
    first.server?;

    let second = run(Config::new(), Config::new(), ALPN, &c, &s)?;
    let client = second.client?;
    let server = second.server?;
    assert_eq!(client.kind, Some(rustls::HandshakeKind::Resumed));
    assert_eq!(server.kind, Some(rustls::HandshakeKind::Resumed));
    assert!(client.early_data_accepted);
    assert!(server.early_data_accepted);
    assert!(!client.ticket_received);
    let early = (CryptoLevel::Early as u8, 1, TLS_CIPHER_CHACHA20_POLY1305);
    assert_eq!(second.client_sock.secrets().first(), Some(&early));
    let server_sock = second.server_sock.ok_or("no server socket")?;
    let early = (CryptoLevel::Early as u8, 0, TLS_CIPHER_CHACHA20_POLY1305);
    assert!(server_sock.secrets().contains(&early));
    assert!(server_sock.inner.state().confirmed);
    Ok(())
}

/// A server that refuses early data still resumes: the client installed
/// its 0-RTT secret, the server none, and both complete.
#[test]
fn resumption_with_zero_rtt_refused() -> TestResult {
    let pki = Pki::new()?;
    let (mut c, mut s) = configs(&pki, ALPN, ALPN, 0)?;
    c.enable_early_data = true;
    s.max_early_data_size = u32::MAX;
    let options = Options {
        client_config: Some(QuicConfig {
            receive_session_ticket: 1,
            ..QuicConfig::default()
        }),
        ..Options::default()
    };
    let first = run_with(Config::new(), Config::new(), ALPN, &c, &s, options)?;
    assert!(first.client?.ticket_received);

    // Same ticket storage, early data refused.
    s.max_early_data_size = 0;
    let second = run(Config::new(), Config::new(), ALPN, &c, &s)?;
    let client = second.client?;
    assert_eq!(client.kind, Some(rustls::HandshakeKind::Resumed));
    assert!(!client.early_data_accepted);
    assert!(!second.server?.early_data_accepted);
    let early = CryptoLevel::Early as u8;
    assert!(second.client_sock.secrets().iter().any(|s| s.0 == early));
    let server_sock = second.server_sock.ok_or("no server socket")?;
    assert!(!server_sock.secrets().iter().any(|s| s.0 == early));
    assert!(second.client_sock.inner.state().confirmed);
    Ok(())
}

/// Tickets sealed with the kernel's ticket key open in another server
/// configuration (another process) on the same listener, and not under
/// another key.
#[test]
fn kernel_ticket_key_resumes_across_server_configurations() -> TestResult {
    let pki = Pki::new()?;
    let (c, s1) = configs(&pki, ALPN, ALPN, 0)?;
    let ticket = QuicConfig {
        receive_session_ticket: 1,
        ..QuicConfig::default()
    };
    let kernel = |client_config, ticket_key| Options {
        client_config,
        ticket_key,
        kernel_tickets: true,
    };
    let first = run_with(
        Config::new(),
        Config::new(),
        ALPN,
        &c,
        &s1,
        kernel(Some(ticket), None),
    )?;
    assert!(first.client?.ticket_received);

    let s2 = configs(&pki, ALPN, ALPN, 0)?.1;
    let second = run_with(
        Config::new(),
        Config::new(),
        ALPN,
        &c,
        &s2,
        kernel(None, None),
    )?;
    assert_eq!(second.server?.kind, Some(rustls::HandshakeKind::Resumed));

    let s3 = configs(&pki, ALPN, ALPN, 0)?.1;
    let other_key = Some(vec![0x5a; 32]);
    let third = run_with(
        Config::new(),
        Config::new(),
        ALPN,
        &c,
        &s3,
        kernel(None, other_key),
    )?;
    assert_eq!(third.server?.kind, Some(rustls::HandshakeKind::Full));
    assert_eq!(third.client?.kind, Some(rustls::HandshakeKind::Full));
    // The third ClientHello did offer a ticket (pre_shared_key makes it
    // longer than the first one): the other key refused it.
    let third_hello = third.client_sock.sent_lens(CryptoLevel::Initial);
    let first_hello = first.client_sock.sent_lens(CryptoLevel::Initial);
    assert!(third_hello.first() > first_hello.first());
    Ok(())
}

/// No common application protocol: the server fails with
/// no_application_protocol (120) and closes with 0x100 + 120, which the
/// client receives.
#[test]
fn alpn_mismatch_closes_with_no_application_protocol() -> TestResult {
    let pki = Pki::new()?;
    let (c, s) = configs(&pki, "h3", "smb", 0)?;
    let out = run(Config::new(), Config::new(), "smb", &c, &s)?;
    match out.server {
        Err(HandshakeError::Tls { alert, .. }) => assert_eq!(alert, 120),
        other => return Err(format!("server: {other:?}").into()),
    }
    let client_err = out.client.err().ok_or("client succeeded")?;
    assert_eq!(client_err.errno(), libc::ECONNRESET);
    let close = out
        .client_sock
        .inner
        .state()
        .close
        .ok_or("client not closed")?;
    assert!(close.by_peer);
    assert!(!close.application);
    assert_eq!(close.code, 0x178);
    Ok(())
}

/// A server certificate from an untrusted CA: the client fails with
/// unknown_ca (48) and the server sees CRYPTO_ERROR 0x100 + 48.
#[test]
fn untrusted_certificate_closes_with_unknown_ca() -> TestResult {
    let pki = Pki::new()?;
    let other = Pki::new()?;
    let (_, s) = configs(&pki, ALPN, ALPN, 0)?;
    let (c, _) = configs(&other, ALPN, ALPN, 0)?;
    let out = run(Config::new(), Config::new(), ALPN, &c, &s)?;
    match &out.client {
        Err(HandshakeError::Tls { alert, .. }) => assert_eq!(*alert, 48),
        other => return Err(format!("client: {other:?}").into()),
    }
    assert!(out.server.is_err());
    let server = out.server_sock.ok_or("no server socket")?.inner.state();
    let close = server.close.ok_or("server not closed")?;
    assert!(close.by_peer);
    assert_eq!(close.code, 0x100 + 48);
    assert!(!server.established);
    Ok(())
}

/// The test-only verifier accepts any certificate.
#[test]
fn insecure_verification_accepts_an_unknown_ca() -> TestResult {
    let pki = Pki::new()?;
    let (_, s) = configs(&pki, ALPN, ALPN, 0)?;
    let c = client_config(&Verification::InsecureNoVerification, &parse_alpns(ALPN), 0)?;
    let out = run(Config::new(), Config::new(), ALPN, &c, &s)?;
    out.client?;
    out.server?;
    Ok(())
}

/// Without ALPN on either side the handshake completes and no ALPN is
/// set on the sockets.
#[test]
fn no_alpn() -> TestResult {
    let pki = Pki::new()?;
    let (c, s) = configs(&pki, "", "", 0)?;
    let out = run(Config::new(), Config::new(), "", &c, &s)?;
    assert_eq!(out.client?.alpn, None);
    assert_eq!(out.server?.alpn, None);
    assert!(out.client_sock.inner.state().alpn.is_empty());
    Ok(())
}

#[test]
fn roles_are_checked() -> TestResult {
    let pki = Pki::new()?;
    let (c, s) = configs(&pki, ALPN, ALPN, 0)?;
    let net = Net::new(Config::new(), Config::new(), ALPN, 3);
    let client = net.client();
    assert!(matches!(
        server_handshake(&client, &s, TIMEOUT),
        Err(HandshakeError::WrongRole)
    ));
    assert!(!client.is_server()?);
    // The ClientHello makes the server socket appear.
    let name = ServerName::try_from("localhost")?;
    let t =
        std::thread::spawn(move || client_handshake(&client, &c, name, Duration::from_millis(300)));
    let server = net.accept(TIMEOUT)?;
    assert!(server.is_server()?);
    assert!(matches!(
        client_handshake(
            &server,
            &configs(&pki, ALPN, ALPN, 0)?.0,
            ServerName::try_from("localhost")?,
            TIMEOUT
        ),
        Err(HandshakeError::WrongRole)
    ));
    // Nobody answers the client: it times out.
    let r = t.join().map_err(|_| "client thread panicked")?;
    assert_eq!(r.err().ok_or("client succeeded")?.errno(), libc::ETIMEDOUT);
    Ok(())
}

/// The emulated kernel refuses Initial secrets and malformed options.
#[test]
fn kernel_refuses_initial_and_malformed_secrets() -> TestResult {
    let net = Net::new(Config::new(), Config::new(), ALPN, 5);
    let sock = net.client();
    let initial =
        QuicCryptoSecret::new(CryptoLevel::Initial, true, TLS_CIPHER_AES_GCM_128, &[1; 32])
            .ok_or("secret")?;
    let e = sock.set_crypto_secret(&initial).err().ok_or("accepted")?;
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    let bytes = initial.to_bytes();
    let e = sock
        .set_crypto_secret_bytes(&bytes[..55])
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    let mut bad_type =
        QuicCryptoSecret::new(CryptoLevel::Handshake, true, 99, &[1; 32]).ok_or("secret")?;
    assert!(sock.set_crypto_secret(&bad_type).is_err());
    bad_type.type_ = TLS_CIPHER_AES_GCM_128;
    bad_type.send = 2;
    assert!(sock.set_crypto_secret(&bad_type).is_err());
    let good = QuicCryptoSecret::new(
        CryptoLevel::Handshake,
        true,
        TLS_CIPHER_AES_GCM_128,
        &[1; 32],
    )
    .ok_or("secret")?;
    sock.set_crypto_secret(&good)?;
    assert_eq!(sock.config()?.version, QUIC_VERSION_V1);
    assert_ne!(QUIC_VERSION_V1, QUIC_VERSION_V2);
    Ok(())
}
