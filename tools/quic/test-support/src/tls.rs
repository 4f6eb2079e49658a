// SPDX-License-Identifier: GPL-2.0

//! rustls configurations for QUIC tests, and the `KeyLog` that gives the
//! raw traffic secrets the kernel takes (`QUIC_SOCKOPT_CRYPTO_SECRET`).
//!
//! The certificate is a self-signed Ed25519 one: its signatures have a
//! fixed length, so handshake messages, and so packet sizes and the whole
//! simulated run, do not depend on rustls' randomness.

use quic_protocol::protocol::crypto::CipherSuite;
use quic_protocol::protocol::packet::version::Version;
use rustls::crypto::ring::cipher_suite as cs;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::quic;
use std::sync::Arc;

/// The ALPN every test endpoint offers and accepts.
pub const ALPN: &[u8] = b"hq-interop";

/// The server name in the certificate.
pub const SERVER_NAME: &str = "localhost";

/// Captures the traffic secrets rustls logs (see
/// `shared/notes/handshake-rustls.md`): the handshake library's.
pub use quic_handshake::handshake::SecretLog as Secrets;

/// Which TLS 1.3 cipher suites the endpoints offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suites {
    /// All three of the ring provider.
    Default,
    /// TLS_CHACHA20_POLY1305_SHA256 only.
    ChaCha20,
    /// TLS_AES_256_GCM_SHA384 only.
    Aes256,
}

/// The ring provider restricted to `suites`.
pub fn provider(suites: Suites) -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    match suites {
        Suites::Default => {}
        Suites::ChaCha20 => provider.cipher_suites = vec![cs::TLS13_CHACHA20_POLY1305_SHA256],
        Suites::Aes256 => provider.cipher_suites = vec![cs::TLS13_AES_256_GCM_SHA384],
    }
    Arc::new(provider)
}

/// The TLS configurations of a test: a self-signed certificate, shared
/// session storage (for resumption) and the suites.
pub struct TlsConfigs {
    /// The client's: trusts the certificate, 0-RTT enabled.
    pub client: Arc<rustls::ClientConfig>,
    /// The server's: 0-RTT accepted (`max_early_data_size` = `u32::MAX`).
    pub server: Arc<rustls::ServerConfig>,
    /// The certificate, for peers that build their own configurations.
    pub cert: CertificateDer<'static>,
}

impl TlsConfigs {
    /// Configurations offering `suites`.
    pub fn new(suites: Suites) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
        let cert = rcgen::CertificateParams::new(vec![SERVER_NAME.into()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        let cert = CertificateDer::from(cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = provider(suites);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.clone()).expect("root");
        let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![ALPN.to_vec()];
        client.enable_early_data = true;
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server config");
        server.alpn_protocols = vec![ALPN.to_vec()];
        server.max_early_data_size = u32::MAX;
        Self {
            client: Arc::new(client),
            server: Arc::new(server),
            cert,
        }
    }

    /// The same configurations, except that the server refuses early data
    /// (tickets stay valid: same ticketer and session storage).
    pub fn rejecting_early_data(&self) -> Self {
        let mut server = (*self.server).clone();
        server.max_early_data_size = 0;
        Self {
            client: self.client.clone(),
            server: Arc::new(server),
            cert: self.cert.clone(),
        }
    }
}

/// The rustls version of a QUIC version.
pub fn rustls_version(v: Version) -> quic::Version {
    if v == Version::V2 {
        quic::Version::V2
    } else {
        quic::Version::V1
    }
}

/// The suite of the kernel's `quic_crypto_secret.type`, from what TLS
/// negotiated (or, before that, from the secret's length).
pub fn suite_of(tls: &quic::Connection, secret_len: usize) -> CipherSuite {
    let id = tls
        .negotiated_cipher_suite()
        .map(|s| u16::from(s.suite()))
        .unwrap_or(if secret_len == 48 { 0x1302 } else { 0x1301 });
    CipherSuite::from_tls_id(id).expect("QUIC suite")
}
