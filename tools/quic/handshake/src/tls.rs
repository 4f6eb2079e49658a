// SPDX-License-Identifier: GPL-2.0

//! rustls configurations for the handshake: certificates and keys from PEM
//! files, the client's trust anchors, ALPN lists in the socket API's
//! comma-separated form, and the cipher restriction of
//! `quic_config.payload_cipher_type`. TLS 1.3 only, ring provider.

use crate::uapi::{TLS_CIPHER_AES_GCM_128, TLS_CIPHER_AES_GCM_256, TLS_CIPHER_CHACHA20_POLY1305};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::ring::cipher_suite as cs;
use rustls::crypto::{verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// CA bundles tried for the system's trust anchors, after `SSL_CERT_FILE`
/// (Debian/Ubuntu, Fedora/RHEL, openSUSE, Alpine).
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Why a configuration could not be built.
#[derive(Debug)]
pub enum ConfigError {
    /// A PEM file could not be read or parsed.
    Pem(PathBuf, String),
    /// No trust anchor was found.
    NoRoots,
    /// rustls refused the configuration (e.g. a key not matching the
    /// certificate).
    Tls(rustls::Error),
    /// `payload_cipher_type` names no TLS 1.3 cipher suite.
    Cipher(u32),
}

impl ConfigError {
    /// The errno a C caller gets.
    pub fn errno(&self) -> i32 {
        match self {
            Self::Pem(..) | Self::NoRoots => libc::ENOENT,
            Self::Tls(_) | Self::Cipher(_) => libc::EINVAL,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem(p, e) => write!(f, "{}: {e}", p.display()),
            Self::NoRoots => f.write_str("no trust anchors"),
            Self::Tls(e) => write!(f, "TLS configuration: {e}"),
            Self::Cipher(c) => write!(f, "unknown cipher type {c}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// How a client authenticates the server.
#[derive(Clone, Debug)]
pub enum Verification {
    /// Against the system's CA bundle (`SSL_CERT_FILE` or the usual
    /// paths), like libquic's `gnutls_certificate_set_x509_system_trust`.
    SystemRoots,
    /// Against the CA certificates of a PEM file.
    CaFile(PathBuf),
    /// Against these roots.
    Roots(Arc<RootCertStore>),
    /// **No certificate verification at all**, for tests only: the
    /// handshake signature is still checked, but anyone can impersonate
    /// the server.
    InsecureNoVerification,
}

/// Parses the socket API's ALPN form: comma-separated, spaces around
/// names ignored, empty names dropped ("smb, h3" → `smb`, `h3`).
pub fn parse_alpns(alpns: &str) -> Vec<Vec<u8>> {
    alpns
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

/// The ring provider, restricted to the suite of a `TLS_CIPHER_*` value
/// (0: all of them).
pub fn provider(cipher: u32) -> Result<Arc<CryptoProvider>, ConfigError> {
    let mut p = rustls::crypto::ring::default_provider();
    let suite = match cipher {
        0 => None,
        TLS_CIPHER_AES_GCM_128 => Some(cs::TLS13_AES_128_GCM_SHA256),
        TLS_CIPHER_AES_GCM_256 => Some(cs::TLS13_AES_256_GCM_SHA384),
        TLS_CIPHER_CHACHA20_POLY1305 => Some(cs::TLS13_CHACHA20_POLY1305_SHA256),
        // ring has no AES-CCM (TLS_CIPHER_AES_CCM_128).
        _ => return Err(ConfigError::Cipher(cipher)),
    };
    if let Some(s) = suite {
        p.cipher_suites = vec![s];
    }
    Ok(Arc::new(p))
}

/// The certificates of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let pem = |e: rustls::pki_types::pem::Error| ConfigError::Pem(path.into(), e.to_string());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(ConfigError::Pem(path.into(), "no certificate".into()));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| ConfigError::Pem(path.into(), e.to_string()))
}

fn system_roots() -> Result<RootCertStore, ConfigError> {
    let env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let paths = env
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from));
    for path in paths.filter(|p| p.is_file()) {
        let mut roots = RootCertStore::empty();
        if let Ok(certs) = load_certs(&path) {
            roots.add_parsable_certificates(certs);
        }
        if !roots.is_empty() {
            return Ok(roots);
        }
    }
    Err(ConfigError::NoRoots)
}

/// A TLS 1.3 client configuration for QUIC.
pub fn client_config(
    verification: &Verification,
    alpns: &[Vec<u8>],
    cipher: u32,
) -> Result<rustls::ClientConfig, ConfigError> {
    let provider = provider(cipher)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(ConfigError::Tls)?;
    let roots = match verification {
        Verification::SystemRoots => Some(Arc::new(system_roots()?)),
        Verification::CaFile(path) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs(path)? {
                roots.add(cert).map_err(ConfigError::Tls)?;
            }
            Some(Arc::new(roots))
        }
        Verification::Roots(roots) => Some(roots.clone()),
        Verification::InsecureNoVerification => None,
    };
    let mut config = match roots {
        Some(roots) => builder.with_root_certificates(roots).with_no_client_auth(),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth(),
    };
    config.alpn_protocols = alpns.to_vec();
    Ok(config)
}

/// A TLS 1.3 server configuration for QUIC with the key and certificate
/// chain of two PEM files.
pub fn server_config(
    key: &Path,
    certs: &Path,
    alpns: &[Vec<u8>],
    cipher: u32,
) -> Result<rustls::ServerConfig, ConfigError> {
    let certs = load_certs(certs)?;
    let key = load_key(key)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider(cipher)?)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(ConfigError::Tls)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(ConfigError::Tls)?;
    config.alpn_protocols = alpns.to_vec();
    Ok(config)
}

/// Accepts any certificate; checks only the handshake signature.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // TLS 1.2 is never offered.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
