// SPDX-License-Identifier: GPL-2.0

//! Packet protection over the kernel's crypto: the protocol core's
//! [`Provider`] in the kernel.
//!
//! [`KernelCrypto`] builds, per [`CipherSuite`]:
//!
//! | suite | AEAD ([`KernelPacketKey`]) | header protection ([`KernelHeaderKey`]) | HKDF |
//! |---|---|---|---|
//! | AES-128-GCM-SHA256 | library AES-GCM | AES-128 block | HMAC-SHA256 |
//! | AES-256-GCM-SHA384 | library AES-GCM | AES-256 block | HMAC-SHA384 |
//! | ChaCha20-Poly1305-SHA256 | library ChaCha20 + Poly1305 | ChaCha20 | HMAC-SHA256 |
//! | AES-128-CCM-SHA256 | library AES-CCM | AES-128 block | HMAC-SHA256 |
//!
//! All are the crypto library's ([`kernel::crypto::lib_aead`],
//! [`kernel::crypto::cipher`], [`kernel::crypto::hkdf`]): plain functions
//! over prepared keys, no crypto API transforms.
//!
//! # Contexts
//!
//! Everything runs in any context, the receive path (softirq) included, and
//! nothing sleeps: the protocol core derives keys there (the server's first
//! Initial, Initial keys reset by Retry or Version Negotiation, key
//! updates). Creating a packet or header key prepares it in a box allocated
//! with `GFP_ATOMIC` (prepared AES keys are a few hundred bytes); sealing,
//! opening, header protection masks and HKDF allocate nothing.

use crate::protocol::alloc::GFP;
use crate::protocol::crypto::{
    CipherSuite, CryptoError, HashAlgorithm, HeaderKey, Iv, PacketKey, Provider, MASK_LEN,
    SAMPLE_LEN,
};
use kernel::{
    alloc::KBox,
    crypto::{
        cipher::{AesEncKey, ChaCha20Key},
        hkdf,
        lib_aead::LibAead,
        AeadAlgorithm,
    },
    error::{code::*, Error},
};

/// The kernel's crypto, as the protocol core's [`Provider`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelCrypto;

/// The [`CryptoError`] of a failed crypto operation.
fn crypto_error(e: Error) -> CryptoError {
    if e == EBADMSG {
        CryptoError::AuthenticationFailed
    } else if e == EINVAL {
        CryptoError::BufferTooShort
    } else if e == ENOMEM {
        CryptoError::OutOfMemory
    } else {
        CryptoError::Internal
    }
}

/// An AEAD keyed for one direction of one encryption level.
pub struct KernelPacketKey {
    suite: CipherSuite,
    /// The prepared key is large (AES round keys and the GHASH key): boxed.
    aead: KBox<LibAead>,
    iv: Iv,
}

impl PacketKey for KernelPacketKey {
    fn suite(&self) -> CipherSuite {
        self.suite
    }

    fn seal(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<(), CryptoError> {
        self.aead
            .encrypt(&self.iv.nonce(pn), header, payload)
            .map_err(crypto_error)
    }

    fn open(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<usize, CryptoError> {
        self.aead
            .decrypt(&self.iv.nonce(pn), header, payload)
            .map_err(crypto_error)
    }
}

/// A header protection key (RFC 9001 §5.4).
pub enum KernelHeaderKey {
    /// AES-ECB of the sample (§5.4.3). The expanded key is large: boxed.
    Aes(KBox<AesEncKey>),
    /// ChaCha20 keyed by the sample's counter and nonce (§5.4.4).
    ChaCha20(ChaCha20Key),
}

impl HeaderKey for KernelHeaderKey {
    fn mask(&self, sample: &[u8]) -> Result<[u8; MASK_LEN], CryptoError> {
        let sample: &[u8; SAMPLE_LEN] =
            sample.try_into().map_err(|_| CryptoError::BufferTooShort)?;
        let mut mask = [0u8; MASK_LEN];
        match self {
            Self::Aes(key) => {
                let block = key.encrypt_block(sample);
                mask.copy_from_slice(&block[..MASK_LEN]);
            }
            // The sample is the block counter (little endian) then the
            // nonce: ChaCha20's initial state words 12 to 15, as is.
            Self::ChaCha20(key) => key.apply_keystream(sample, &mut mask),
        }
        Ok(mask)
    }
}

fn hkdf_hash(hash: HashAlgorithm) -> hkdf::Hash {
    match hash {
        HashAlgorithm::Sha256 => hkdf::Hash::Sha256,
        HashAlgorithm::Sha384 => hkdf::Hash::Sha384,
    }
}

impl Provider for KernelCrypto {
    type PacketKey = KernelPacketKey;
    type HeaderKey = KernelHeaderKey;

    fn packet_key(
        &self,
        suite: CipherSuite,
        key: &[u8],
        iv: Iv,
    ) -> Result<KernelPacketKey, CryptoError> {
        if key.len() != suite.key_len() {
            return Err(CryptoError::InvalidKeyLength);
        }
        let alg = match suite {
            CipherSuite::Aes128GcmSha256 | CipherSuite::Aes256GcmSha384 => AeadAlgorithm::AesGcm,
            CipherSuite::ChaCha20Poly1305Sha256 => AeadAlgorithm::ChaCha20Poly1305,
            CipherSuite::Aes128CcmSha256 => AeadAlgorithm::AesCcm,
        };
        let aead = LibAead::new_boxed(alg, key, GFP).map_err(|e| {
            if e == ENOMEM {
                CryptoError::OutOfMemory
            } else {
                CryptoError::InvalidKeyLength
            }
        })?;
        Ok(KernelPacketKey { suite, aead, iv })
    }

    fn header_key(&self, suite: CipherSuite, key: &[u8]) -> Result<KernelHeaderKey, CryptoError> {
        if key.len() != suite.header_key_len() {
            return Err(CryptoError::InvalidKeyLength);
        }
        let bad = |_| CryptoError::InvalidKeyLength;
        Ok(match suite {
            CipherSuite::ChaCha20Poly1305Sha256 => {
                KernelHeaderKey::ChaCha20(ChaCha20Key::new(key).map_err(bad)?)
            }
            CipherSuite::Aes128GcmSha256
            | CipherSuite::Aes256GcmSha384
            | CipherSuite::Aes128CcmSha256 => {
                let aes = AesEncKey::new(key).map_err(bad)?;
                KernelHeaderKey::Aes(KBox::new(aes, GFP).map_err(|_| CryptoError::OutOfMemory)?)
            }
        })
    }

    fn hkdf_extract(
        &self,
        hash: HashAlgorithm,
        salt: &[u8],
        ikm: &[u8],
        prk: &mut [u8],
    ) -> Result<(), CryptoError> {
        hkdf::extract(hkdf_hash(hash), salt, ikm, prk).map_err(|_| CryptoError::BufferTooShort)
    }

    fn hkdf_expand(
        &self,
        hash: HashAlgorithm,
        prk: &[u8],
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        let prk =
            hkdf::Prk::new(hkdf_hash(hash), prk).map_err(|_| CryptoError::InvalidKeyLength)?;
        prk.expand(info, okm)
            .map_err(|_| CryptoError::BufferTooShort)
    }
}

/// RFC 9001 Appendix A (QUIC version 1) and RFC 9369 Appendix A (version 2),
/// byte for byte through the core and the kernel's crypto: the checks of
/// `crate::protocol::crypto::vectors`, which the host tests run over
/// RustCrypto.
#[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
#[kernel::macros::kunit_tests(quic_kernel_crypto)]
mod tests {
    use super::*;
    use crate::protocol::alloc::{Vec, GFP};
    use crate::protocol::crypto::vectors::{self, VectorResult, V1, V2};

    #[test]
    fn rfc9001_a1_keys() -> VectorResult {
        vectors::check_keys(&KernelCrypto, &V1)
    }

    #[test]
    fn rfc9001_a2_client_initial() -> VectorResult {
        vectors::check_client_initial(&KernelCrypto, &V1)
    }

    #[test]
    fn rfc9001_a3_server_initial() -> VectorResult {
        vectors::check_server_initial(&KernelCrypto, &V1)
    }

    #[test]
    fn rfc9001_a4_retry() -> VectorResult {
        vectors::check_retry(&KernelCrypto, &V1)
    }

    #[test]
    fn rfc9001_a5_chacha20_short_header() -> VectorResult {
        vectors::check_chacha20_short_header(&KernelCrypto, &V1)
    }

    #[test]
    fn rfc9369_a1_keys() -> VectorResult {
        vectors::check_keys(&KernelCrypto, &V2)
    }

    #[test]
    fn rfc9369_a2_client_initial() -> VectorResult {
        vectors::check_client_initial(&KernelCrypto, &V2)
    }

    #[test]
    fn rfc9369_a3_server_initial() -> VectorResult {
        vectors::check_server_initial(&KernelCrypto, &V2)
    }

    #[test]
    fn rfc9369_a4_retry() -> VectorResult {
        vectors::check_retry(&KernelCrypto, &V2)
    }

    #[test]
    fn rfc9369_a5_chacha20_short_header() -> VectorResult {
        vectors::check_chacha20_short_header(&KernelCrypto, &V2)
    }

    /// Every suite seals and opens; AES-256-GCM and AES-128-CCM, which no
    /// RFC sample uses, included. Bad keys and samples are refused.
    #[test]
    fn suites_and_bad_input() -> VectorResult {
        for suite in [
            CipherSuite::Aes128GcmSha256,
            CipherSuite::Aes256GcmSha384,
            CipherSuite::ChaCha20Poly1305Sha256,
            CipherSuite::Aes128CcmSha256,
        ] {
            let len = suite.key_len();
            let key = KernelCrypto.packet_key(suite, &[7; 32][..len], Iv::new([9; 12]))?;
            assert_eq!(key.suite(), suite);
            let mut buf = Vec::new();
            buf.extend_from_slice(b"plaintext", GFP)?;
            buf.extend_with(16, 0, GFP)?;
            key.seal(42, b"aad", &mut buf)?;
            let mut copy = Vec::new();
            copy.extend_from_slice(&buf, GFP)?;
            assert_eq!(key.open(42, b"aad", &mut copy)?, 9);
            assert_eq!(&copy[..9], b"plaintext");
            assert_eq!(
                key.open(43, b"aad", &mut buf),
                Err(CryptoError::AuthenticationFailed)
            );
            assert_eq!(
                key.seal(1, b"aad", &mut [0; 15]),
                Err(CryptoError::BufferTooShort)
            );
            assert!(matches!(
                KernelCrypto.packet_key(suite, &[7; 33][..len + 1], Iv::new([9; 12])),
                Err(CryptoError::InvalidKeyLength)
            ));
            let hp = KernelCrypto.header_key(suite, &[5; 32][..len])?;
            assert!(hp.mask(&[1; 16])? != hp.mask(&[2; 16])?);
            assert_eq!(hp.mask(&[1; 15]), Err(CryptoError::BufferTooShort));
            assert!(matches!(
                KernelCrypto.header_key(suite, &[5; 32][..len - 1]),
                Err(CryptoError::InvalidKeyLength)
            ));
        }
        let mut prk = [0u8; 32];
        assert_eq!(
            KernelCrypto.hkdf_extract(HashAlgorithm::Sha384, &[], &[], &mut prk),
            Err(CryptoError::BufferTooShort)
        );
        assert_eq!(
            KernelCrypto.hkdf_expand(HashAlgorithm::Sha384, &prk, &[], &mut [0; 8]),
            Err(CryptoError::InvalidKeyLength)
        );
        Ok(())
    }
}
