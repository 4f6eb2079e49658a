// SPDX-License-Identifier: GPL-2.0

//! Packet protection (RFC 9001 §5, §6; RFC 9369 §3.3).
//!
//! The core never implements a cipher. It defines what it needs from one:
//!
//! - [`PacketKey`]: an AEAD bound to a key and an IV, sealing and opening a
//!   packet payload in place, with the packet number as the nonce input and
//!   the header as associated data;
//! - [`HeaderKey`]: the header protection mask from a ciphertext sample;
//! - [`Provider`]: builds those keys for a [`CipherSuite`] and runs
//!   HKDF-Extract and HKDF-Expand into caller buffers.
//!
//! The kernel implements them over `kernel::crypto`; the host crate
//! `tools/quic/host-crypto` over RustCrypto; [`null`] has a test-only
//! implementation without real cryptography, for protocol unit tests.
//!
//! On top of those traits the core owns the QUIC key schedule: the TLS 1.3
//! `HKDF-Expand-Label` and the per-version labels ([`schedule`]), the Initial
//! secrets ([`initial`]), key update for 1-RTT keys ([`key_update`]) and the
//! Retry integrity tag ([`retry`]). Secrets live in fixed arrays and are
//! wiped when dropped; nothing here allocates except the Retry pseudo-packet.

use crate::protocol::error::{TransportError, TransportErrorCode};

pub mod initial;
pub mod key_update;
pub mod null;
pub mod retry;
pub mod schedule;
#[cfg(any(test, feature = "vectors", CONFIG_IP_QUIC_KUNIT_TEST))]
pub mod vectors;

/// Errors of packet protection and of the key schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// The AEAD tag did not verify: the packet is dropped, and counts against
    /// the integrity limit ([`IntegrityLimit`]).
    AuthenticationFailed,
    /// A buffer is too short for the operation (no room for the tag, a
    /// payload shorter than the tag, a sample of the wrong size).
    BufferTooShort,
    /// Key material of the wrong length for the cipher suite.
    InvalidKeyLength,
    /// The provider does not implement this cipher suite or hash.
    UnsupportedCipherSuite,
    /// No key schedule is defined for this QUIC version.
    UnsupportedVersion,
    /// The peer violated the key update rules (KEY_UPDATE_ERROR).
    KeyUpdate,
    /// A key update was requested while one is not permitted yet.
    KeyUpdateNotPermitted,
    /// An AEAD confidentiality or integrity limit was reached
    /// (AEAD_LIMIT_REACHED).
    AeadLimitReached,
    /// An allocation failed.
    OutOfMemory,
    /// The cipher implementation failed for another reason.
    Internal,
}

impl CryptoError {
    /// The connection error this error causes, or `None` when the packet is
    /// just dropped ([`CryptoError::AuthenticationFailed`]) or the caller
    /// misused the API ([`CryptoError::KeyUpdateNotPermitted`]).
    pub const fn transport_error(self) -> Option<TransportError> {
        match self {
            Self::AuthenticationFailed | Self::KeyUpdateNotPermitted => None,
            Self::KeyUpdate => Some(TransportError::new(
                TransportErrorCode::KEY_UPDATE_ERROR,
                "invalid key update",
            )),
            Self::AeadLimitReached => Some(TransportError::new(
                TransportErrorCode::AEAD_LIMIT_REACHED,
                "AEAD usage limit reached",
            )),
            Self::OutOfMemory => Some(TransportError::internal("out of memory")),
            Self::BufferTooShort
            | Self::InvalidKeyLength
            | Self::UnsupportedCipherSuite
            | Self::UnsupportedVersion
            | Self::Internal => Some(TransportError::internal("packet protection failure")),
        }
    }
}

pub use crate::protocol::side::Side;

/// The encryption levels of QUIC packets (RFC 9001 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Initial packets, keyed from the client's first Destination CID.
    Initial,
    /// 0-RTT packets, keyed by the TLS early secret.
    ZeroRtt,
    /// Handshake packets.
    Handshake,
    /// 1-RTT (short header) packets.
    OneRtt,
}

/// The hash function of a cipher suite's HKDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashAlgorithm {
    /// Output length in bytes: the length of secrets of this hash.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }
}

/// The TLS 1.3 cipher suites QUIC packet protection can use (RFC 9001 §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// TLS_AES_128_GCM_SHA256 (0x1301).
    Aes128GcmSha256,
    /// TLS_AES_256_GCM_SHA384 (0x1302).
    Aes256GcmSha384,
    /// TLS_CHACHA20_POLY1305_SHA256 (0x1303).
    ChaCha20Poly1305Sha256,
    /// TLS_AES_128_CCM_SHA256 (0x1304).
    Aes128CcmSha256,
}

impl CipherSuite {
    /// The suite with TLS cipher suite code point `id`.
    pub const fn from_tls_id(id: u16) -> Option<Self> {
        match id {
            0x1301 => Some(Self::Aes128GcmSha256),
            0x1302 => Some(Self::Aes256GcmSha384),
            0x1303 => Some(Self::ChaCha20Poly1305Sha256),
            0x1304 => Some(Self::Aes128CcmSha256),
            _ => None,
        }
    }

    /// The TLS cipher suite code point.
    pub const fn tls_id(self) -> u16 {
        match self {
            Self::Aes128GcmSha256 => 0x1301,
            Self::Aes256GcmSha384 => 0x1302,
            Self::ChaCha20Poly1305Sha256 => 0x1303,
            Self::Aes128CcmSha256 => 0x1304,
        }
    }

    /// The suite named by a UAPI cipher number (`TLS_CIPHER_*` of
    /// `include/uapi/linux/tls.h`, as used by the socket options).
    pub const fn from_uapi(cipher: u16) -> Option<Self> {
        match cipher {
            51 => Some(Self::Aes128GcmSha256),
            52 => Some(Self::Aes256GcmSha384),
            53 => Some(Self::Aes128CcmSha256),
            54 => Some(Self::ChaCha20Poly1305Sha256),
            _ => None,
        }
    }

    /// The UAPI cipher number (`TLS_CIPHER_AES_GCM_128` is 51, ...).
    pub const fn uapi(self) -> u16 {
        match self {
            Self::Aes128GcmSha256 => 51,
            Self::Aes256GcmSha384 => 52,
            Self::Aes128CcmSha256 => 53,
            Self::ChaCha20Poly1305Sha256 => 54,
        }
    }

    /// The hash of the suite's HKDF.
    pub const fn hash(self) -> HashAlgorithm {
        match self {
            Self::Aes256GcmSha384 => HashAlgorithm::Sha384,
            _ => HashAlgorithm::Sha256,
        }
    }

    /// AEAD key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes128GcmSha256 | Self::Aes128CcmSha256 => 16,
            Self::Aes256GcmSha384 | Self::ChaCha20Poly1305Sha256 => 32,
        }
    }

    /// Header protection key length in bytes (RFC 9001 §5.4.3, §5.4.4).
    pub const fn header_key_len(self) -> usize {
        self.key_len()
    }

    /// AEAD authentication tag length in bytes.
    pub const fn tag_len(self) -> usize {
        TAG_LEN
    }

    /// The number of packets one key may protect (RFC 9001 §6.6).
    pub const fn confidentiality_limit(self) -> u64 {
        match self {
            //= https://www.rfc-editor.org/rfc/rfc9001#section-6.6
            //# For AEAD_AES_128_GCM and AEAD_AES_256_GCM, the confidentiality limit is
            //# 2^23 encrypted packets
            Self::Aes128GcmSha256 | Self::Aes256GcmSha384 => 1 << 23,
            // "greater than the number of possible packets (2^62)".
            Self::ChaCha20Poly1305Sha256 => 1 << 62,
            // 2^21.5, rounded down.
            Self::Aes128CcmSha256 => 2_965_820,
        }
    }

    /// The number of packets failing authentication a connection tolerates,
    /// across all its keys (RFC 9001 §6.6).
    pub const fn integrity_limit(self) -> u64 {
        match self {
            Self::Aes128GcmSha256 | Self::Aes256GcmSha384 => 1 << 52,
            Self::ChaCha20Poly1305Sha256 => 1 << 36,
            Self::Aes128CcmSha256 => 2_965_820,
        }
    }
}

/// The AEAD tag length of every QUIC cipher suite.
pub const TAG_LEN: usize = 16;
/// The AEAD nonce (IV) length of every QUIC cipher suite.
pub const IV_LEN: usize = 12;
/// The header protection sample length of every QUIC cipher suite.
pub const SAMPLE_LEN: usize = 16;
/// The header protection mask length: one byte for the first byte of the
/// header and up to four for the packet number.
pub const MASK_LEN: usize = 5;
/// The longest secret: a SHA-384 hash.
pub const MAX_SECRET_LEN: usize = 48;
/// The longest AEAD or header protection key.
pub const MAX_KEY_LEN: usize = 32;

/// Overwrites `bytes` with zeros, in a way the optimiser does not drop.
pub(crate) fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    core::hint::black_box(bytes);
}

/// The per-key IV of an AEAD; the nonce of a packet is the IV XORed with
/// its packet number (RFC 9001 §5.3).
#[derive(Clone, PartialEq, Eq)]
pub struct Iv([u8; IV_LEN]);

impl Iv {
    /// An IV from its bytes.
    pub const fn new(bytes: [u8; IV_LEN]) -> Self {
        Self(bytes)
    }

    /// The IV's bytes.
    pub const fn as_bytes(&self) -> &[u8; IV_LEN] {
        &self.0
    }

    /// The nonce for packet number `pn`: the 62 bits of the packet number,
    /// left-padded to the IV length and XORed with the IV.
    //= https://www.rfc-editor.org/rfc/rfc9001#section-5.3
    //# The exclusive OR of the padded packet number and the IV forms the AEAD
    //# nonce.
    pub fn nonce(&self, pn: u64) -> [u8; IV_LEN] {
        let mut nonce = self.0;
        for (n, p) in nonce[IV_LEN - 8..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        nonce
    }
}

impl Drop for Iv {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl core::fmt::Debug for Iv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Iv(..)")
    }
}

/// A traffic secret: the hash-sized output of TLS or of the key schedule.
///
/// # Invariants
///
/// `self.len == self.hash.output_len()`.
#[derive(Clone)]
pub struct Secret {
    hash: HashAlgorithm,
    len: u8,
    bytes: [u8; MAX_SECRET_LEN],
}

impl Secret {
    /// A secret of `hash`, whose length `bytes` must have.
    pub fn new(hash: HashAlgorithm, bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != hash.output_len() {
            return Err(CryptoError::InvalidKeyLength);
        }
        let mut s = Self::zeroed(hash);
        s.as_mut_bytes().copy_from_slice(bytes);
        Ok(s)
    }

    /// An all-zero secret of `hash`, to be filled by a derivation.
    pub(crate) fn zeroed(hash: HashAlgorithm) -> Self {
        // INVARIANT: the length is the hash length, at most 48.
        Self {
            hash,
            len: hash.output_len() as u8,
            bytes: [0; MAX_SECRET_LEN],
        }
    }

    /// The hash whose HKDF this secret feeds.
    pub const fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.bytes[..usize::from(self.len)]
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Secret {}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.bytes);
    }
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Secret({:?}, ..)", self.hash)
    }
}

/// An AEAD keyed for one direction of one encryption level.
///
/// Implementations hold the key and the [`Iv`]; the core hands them the
/// packet number, from which the nonce is [`Iv::nonce`].
pub trait PacketKey {
    /// The cipher suite this key belongs to.
    fn suite(&self) -> CipherSuite;

    /// Encrypts `payload[..payload.len() - tag_len]` in place and writes the
    /// tag into the last `tag_len` bytes, authenticating `header` as
    /// associated data. Fails with [`CryptoError::BufferTooShort`] if
    /// `payload` is shorter than the tag.
    fn seal(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<(), CryptoError>;

    /// Verifies and decrypts `payload` (ciphertext then tag) in place,
    /// returning the plaintext length (`payload.len() - tag_len`). Fails with
    /// [`CryptoError::AuthenticationFailed`] if the tag does not verify, in
    /// which case the content of `payload` is unspecified.
    fn open(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<usize, CryptoError>;

    /// The AEAD tag length.
    fn tag_len(&self) -> usize {
        self.suite().tag_len()
    }

    /// How many packets this key may seal (RFC 9001 §6.6).
    fn confidentiality_limit(&self) -> u64 {
        self.suite().confidentiality_limit()
    }

    /// How many forged packets a connection using this AEAD may reject.
    fn integrity_limit(&self) -> u64 {
        self.suite().integrity_limit()
    }
}

/// A header protection key (RFC 9001 §5.4).
pub trait HeaderKey {
    /// The mask for `sample`: AES-ECB of the sample, or ChaCha20 keyed with
    /// the sample as counter and nonce over five zero bytes. Fails with
    /// [`CryptoError::BufferTooShort`] if `sample` is not
    /// [`HeaderKey::sample_len`] bytes long.
    fn mask(&self, sample: &[u8]) -> Result<[u8; MASK_LEN], CryptoError>;

    /// The length of the ciphertext sample.
    fn sample_len(&self) -> usize {
        SAMPLE_LEN
    }
}

/// Builds keys and runs HKDF: the one thing the core needs from a crypto
/// library.
pub trait Provider {
    /// The AEAD this provider builds.
    type PacketKey: PacketKey;
    /// The header protection cipher this provider builds.
    type HeaderKey: HeaderKey;

    /// An AEAD for `suite` with `key` (of [`CipherSuite::key_len`] bytes).
    fn packet_key(
        &self,
        suite: CipherSuite,
        key: &[u8],
        iv: Iv,
    ) -> Result<Self::PacketKey, CryptoError>;

    /// A header protection key for `suite` (of
    /// [`CipherSuite::header_key_len`] bytes).
    fn header_key(&self, suite: CipherSuite, key: &[u8]) -> Result<Self::HeaderKey, CryptoError>;

    /// HKDF-Extract(`salt`, `ikm`) into `prk`, which is
    /// [`HashAlgorithm::output_len`] bytes long.
    fn hkdf_extract(
        &self,
        hash: HashAlgorithm,
        salt: &[u8],
        ikm: &[u8],
        prk: &mut [u8],
    ) -> Result<(), CryptoError>;

    /// HKDF-Expand(`prk`, `info`) filling all of `okm`.
    fn hkdf_expand(
        &self,
        hash: HashAlgorithm,
        prk: &[u8],
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<(), CryptoError>;
}

/// The integrity limit of a connection: counts packets that failed
/// authentication, across all keys (RFC 9001 §6.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntegrityLimit {
    failures: u64,
}

impl IntegrityLimit {
    /// No failure seen.
    pub const fn new() -> Self {
        Self { failures: 0 }
    }

    /// Packets that failed authentication so far.
    pub const fn failures(&self) -> u64 {
        self.failures
    }

    /// Records a packet that failed authentication under `suite`. Fails with
    /// [`CryptoError::AeadLimitReached`] once the count exceeds the suite's
    /// limit: the connection must then close.
    //= https://www.rfc-editor.org/rfc/rfc9001#section-6.6
    //# If the total number of received packets that fail authentication within the
    //# connection, across all keys, exceeds the integrity limit for the selected AEAD,
    //# the endpoint MUST immediately close the connection
    pub fn on_authentication_failure(&mut self, suite: CipherSuite) -> Result<(), CryptoError> {
        self.failures = self.failures.saturating_add(1);
        if self.failures > suite.integrity_limit() {
            return Err(CryptoError::AeadLimitReached);
        }
        Ok(())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_crypto))]
mod tests {
    use super::*;

    const SUITES: [CipherSuite; 4] = [
        CipherSuite::Aes128GcmSha256,
        CipherSuite::Aes256GcmSha384,
        CipherSuite::ChaCha20Poly1305Sha256,
        CipherSuite::Aes128CcmSha256,
    ];

    #[test]
    fn suite_code_points_round_trip() {
        for s in SUITES {
            assert_eq!(CipherSuite::from_tls_id(s.tls_id()), Some(s));
            assert_eq!(CipherSuite::from_uapi(s.uapi()), Some(s));
        }
        assert_eq!(CipherSuite::Aes128GcmSha256.uapi(), 51);
        assert_eq!(CipherSuite::Aes256GcmSha384.uapi(), 52);
        assert_eq!(CipherSuite::Aes128CcmSha256.uapi(), 53);
        assert_eq!(CipherSuite::ChaCha20Poly1305Sha256.uapi(), 54);
        assert_eq!(CipherSuite::from_uapi(50), None);
        assert_eq!(CipherSuite::from_tls_id(0x1305), None);
    }

    #[test]
    fn suite_parameters() {
        assert_eq!(CipherSuite::Aes256GcmSha384.hash().output_len(), 48);
        assert_eq!(CipherSuite::ChaCha20Poly1305Sha256.key_len(), 32);
        assert_eq!(CipherSuite::Aes128CcmSha256.key_len(), 16);
        assert_eq!(
            CipherSuite::Aes128GcmSha256.confidentiality_limit(),
            1 << 23
        );
        assert_eq!(
            CipherSuite::ChaCha20Poly1305Sha256.integrity_limit(),
            1 << 36
        );
    }

    #[test]
    fn nonce_is_iv_xor_pn() {
        let iv = Iv::new([0xff; IV_LEN]);
        let n = iv.nonce(0x0102_0304_0506_0708);
        assert_eq!(
            n,
            [0xff, 0xff, 0xff, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7]
        );
        assert_eq!(iv.nonce(0), [0xff; IV_LEN]);
    }

    #[test]
    fn secret_length_checked() {
        assert!(Secret::new(HashAlgorithm::Sha256, &[1; 32]).is_ok());
        assert_eq!(
            Secret::new(HashAlgorithm::Sha384, &[1; 32]).err(),
            Some(CryptoError::InvalidKeyLength)
        );
        let s = Secret::new(HashAlgorithm::Sha384, &[7; 48]);
        assert_eq!(s.map(|s| s.as_bytes().len()), Ok(48));
    }

    #[test]
    fn integrity_limit_counts() {
        let mut limit = IntegrityLimit::new();
        assert_eq!(
            limit.on_authentication_failure(CipherSuite::Aes128GcmSha256),
            Ok(())
        );
        assert_eq!(limit.failures(), 1);
        limit.failures = CipherSuite::ChaCha20Poly1305Sha256.integrity_limit();
        assert_eq!(
            limit.on_authentication_failure(CipherSuite::ChaCha20Poly1305Sha256),
            Err(CryptoError::AeadLimitReached)
        );
    }

    #[test]
    fn error_mapping() {
        assert_eq!(CryptoError::AuthenticationFailed.transport_error(), None);
        assert_eq!(
            CryptoError::KeyUpdate.transport_error().map(|e| e.code),
            Some(TransportErrorCode::KEY_UPDATE_ERROR)
        );
        assert_eq!(
            CryptoError::AeadLimitReached
                .transport_error()
                .map(|e| e.code),
            Some(TransportErrorCode::AEAD_LIMIT_REACHED)
        );
    }
}
