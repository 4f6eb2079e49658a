// SPDX-License-Identifier: GPL-2.0

//! The `net/quic` packet protection traits over RustCrypto, for the host.
//!
//! [`RustCrypto`] is a [`Provider`]: it builds [`Aead`] packet keys
//! (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) and [`HeaderProtection`] keys
//! (AES-ECB, ChaCha20) and runs HKDF over SHA-256 and SHA-384. The kernel
//! implements the same traits over `kernel::crypto`; this crate lets the core
//! be tested against the RFC vectors, benchmarked and run against other QUIC
//! stacks on the host. AES-128-CCM is not implemented here.

#![forbid(unsafe_code)]

use aes::cipher::{BlockEncrypt, KeyIvInit, StreamCipher, StreamCipherSeek};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20::ChaCha20;
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use quic_protocol::protocol::crypto::{
    CipherSuite, CryptoError, HashAlgorithm, HeaderKey, Iv, PacketKey, Provider, MASK_LEN,
    SAMPLE_LEN, TAG_LEN,
};
use sha2::{Sha256, Sha384};

/// The RustCrypto provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RustCrypto;

enum Cipher {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha20Poly1305(Box<ChaCha20Poly1305>),
}

/// A RustCrypto AEAD with its IV.
pub struct Aead {
    suite: CipherSuite,
    cipher: Cipher,
    iv: Iv,
}

impl core::fmt::Debug for Aead {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Aead({:?})", self.suite)
    }
}

impl Aead {
    fn split(payload: &mut [u8]) -> Result<(&mut [u8], &mut [u8]), CryptoError> {
        let split = payload
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(CryptoError::BufferTooShort)?;
        Ok(payload.split_at_mut(split))
    }
}

impl PacketKey for Aead {
    fn suite(&self) -> CipherSuite {
        self.suite
    }

    fn seal(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<(), CryptoError> {
        let nonce = self.iv.nonce(pn);
        let nonce = aes_gcm::Nonce::from_slice(&nonce);
        let (text, tag_out) = Self::split(payload)?;
        let tag = match &self.cipher {
            Cipher::Aes128Gcm(c) => c.encrypt_in_place_detached(nonce, header, text),
            Cipher::Aes256Gcm(c) => c.encrypt_in_place_detached(nonce, header, text),
            Cipher::ChaCha20Poly1305(c) => c.encrypt_in_place_detached(nonce, header, text),
        }
        .map_err(|_| CryptoError::Internal)?;
        tag_out.copy_from_slice(&tag);
        Ok(())
    }

    fn open(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<usize, CryptoError> {
        let nonce = self.iv.nonce(pn);
        let nonce = aes_gcm::Nonce::from_slice(&nonce);
        let (text, tag) = Self::split(payload)?;
        let tag = aes_gcm::Tag::from_slice(tag);
        match &self.cipher {
            Cipher::Aes128Gcm(c) => c.decrypt_in_place_detached(nonce, header, text, tag),
            Cipher::Aes256Gcm(c) => c.decrypt_in_place_detached(nonce, header, text, tag),
            Cipher::ChaCha20Poly1305(c) => c.decrypt_in_place_detached(nonce, header, text, tag),
        }
        .map_err(|_| CryptoError::AuthenticationFailed)?;
        Ok(text.len())
    }
}

/// A RustCrypto header protection key.
pub enum HeaderProtection {
    /// AES-128 in ECB mode over the sample.
    Aes128(Box<aes::Aes128>),
    /// AES-256 in ECB mode over the sample.
    Aes256(Box<aes::Aes256>),
    /// ChaCha20 keyed by the sample's counter and nonce.
    ChaCha20([u8; 32]),
}

impl core::fmt::Debug for HeaderProtection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Aes128(_) => "HeaderProtection(AES-128)",
            Self::Aes256(_) => "HeaderProtection(AES-256)",
            Self::ChaCha20(_) => "HeaderProtection(ChaCha20)",
        })
    }
}

impl HeaderKey for HeaderProtection {
    fn mask(&self, sample: &[u8]) -> Result<[u8; MASK_LEN], CryptoError> {
        let sample: &[u8; SAMPLE_LEN] =
            sample.try_into().map_err(|_| CryptoError::BufferTooShort)?;
        let mut mask = [0u8; MASK_LEN];
        match self {
            Self::Aes128(aes) => {
                let mut block = aes::Block::clone_from_slice(sample);
                aes.encrypt_block(&mut block);
                mask.copy_from_slice(&block[..MASK_LEN]);
            }
            Self::Aes256(aes) => {
                let mut block = aes::Block::clone_from_slice(sample);
                aes.encrypt_block(&mut block);
                mask.copy_from_slice(&block[..MASK_LEN]);
            }
            Self::ChaCha20(key) => {
                // RFC 9001 §5.4.4: counter = sample[0..4] (little endian),
                // nonce = sample[4..16]; the mask encrypts five zero bytes.
                let (counter, nonce) = sample.split_at(4);
                let counter = u32::from_le_bytes([counter[0], counter[1], counter[2], counter[3]]);
                let mut chacha = ChaCha20::new(key.into(), nonce.into());
                chacha.seek(u64::from(counter) * 64);
                chacha.apply_keystream(&mut mask);
            }
        }
        Ok(mask)
    }
}

impl Provider for RustCrypto {
    type PacketKey = Aead;
    type HeaderKey = HeaderProtection;

    fn packet_key(&self, suite: CipherSuite, key: &[u8], iv: Iv) -> Result<Aead, CryptoError> {
        let bad = |_| CryptoError::InvalidKeyLength;
        let cipher = match suite {
            CipherSuite::Aes128GcmSha256 => {
                Cipher::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?))
            }
            CipherSuite::Aes256GcmSha384 => {
                Cipher::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?))
            }
            CipherSuite::ChaCha20Poly1305Sha256 => Cipher::ChaCha20Poly1305(Box::new(
                ChaCha20Poly1305::new_from_slice(key).map_err(bad)?,
            )),
            CipherSuite::Aes128CcmSha256 => return Err(CryptoError::UnsupportedCipherSuite),
        };
        Ok(Aead { suite, cipher, iv })
    }

    fn header_key(&self, suite: CipherSuite, key: &[u8]) -> Result<HeaderProtection, CryptoError> {
        let bad = |_| CryptoError::InvalidKeyLength;
        Ok(match suite {
            CipherSuite::Aes128GcmSha256 => {
                HeaderProtection::Aes128(Box::new(aes::Aes128::new_from_slice(key).map_err(bad)?))
            }
            CipherSuite::Aes256GcmSha384 => {
                HeaderProtection::Aes256(Box::new(aes::Aes256::new_from_slice(key).map_err(bad)?))
            }
            CipherSuite::ChaCha20Poly1305Sha256 => HeaderProtection::ChaCha20(
                key.try_into().map_err(|_| CryptoError::InvalidKeyLength)?,
            ),
            CipherSuite::Aes128CcmSha256 => return Err(CryptoError::UnsupportedCipherSuite),
        })
    }

    fn hkdf_extract(
        &self,
        hash: HashAlgorithm,
        salt: &[u8],
        ikm: &[u8],
        prk: &mut [u8],
    ) -> Result<(), CryptoError> {
        if prk.len() != hash.output_len() {
            return Err(CryptoError::BufferTooShort);
        }
        match hash {
            HashAlgorithm::Sha256 => {
                prk.copy_from_slice(&Hkdf::<Sha256>::extract(Some(salt), ikm).0)
            }
            HashAlgorithm::Sha384 => {
                prk.copy_from_slice(&Hkdf::<Sha384>::extract(Some(salt), ikm).0)
            }
        }
        Ok(())
    }

    fn hkdf_expand(
        &self,
        hash: HashAlgorithm,
        prk: &[u8],
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        match hash {
            HashAlgorithm::Sha256 => Hkdf::<Sha256>::from_prk(prk)
                .map_err(|_| CryptoError::InvalidKeyLength)?
                .expand(info, okm),
            HashAlgorithm::Sha384 => Hkdf::<Sha384>::from_prk(prk)
                .map_err(|_| CryptoError::InvalidKeyLength)?
                .expand(info, okm),
        }
        .map_err(|_| CryptoError::BufferTooShort)
    }
}

/// Decodes hexadecimal test vectors as printed in RFCs: whitespace is
/// ignored. For tests and benchmarks.
///
/// # Panics
///
/// On a character that is not a hex digit or whitespace, or an odd number of
/// digits.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => panic!("not a hex digit: {:?}", char::from(b)),
        })
        .collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decodes() {
        assert_eq!(hex("0aff 10\n FE"), vec![0x0a, 0xff, 0x10, 0xfe]);
    }

    #[test]
    fn rejects_bad_keys() {
        let iv = || Iv::new([0; 12]);
        assert!(matches!(
            RustCrypto.packet_key(CipherSuite::Aes128GcmSha256, &[0; 15], iv()),
            Err(CryptoError::InvalidKeyLength)
        ));
        assert!(matches!(
            RustCrypto.packet_key(CipherSuite::Aes128CcmSha256, &[0; 16], iv()),
            Err(CryptoError::UnsupportedCipherSuite)
        ));
        assert!(matches!(
            RustCrypto.header_key(CipherSuite::ChaCha20Poly1305Sha256, &[0; 16]),
            Err(CryptoError::InvalidKeyLength)
        ));
        let mut prk = [0u8; 32];
        assert_eq!(
            RustCrypto.hkdf_extract(HashAlgorithm::Sha384, &[], &[], &mut prk),
            Err(CryptoError::BufferTooShort)
        );
    }

    #[test]
    fn seal_open_each_suite() -> Result<(), CryptoError> {
        for (suite, len) in [
            (CipherSuite::Aes128GcmSha256, 16),
            (CipherSuite::Aes256GcmSha384, 32),
            (CipherSuite::ChaCha20Poly1305Sha256, 32),
        ] {
            let key = RustCrypto.packet_key(suite, &[7u8; 32][..len], Iv::new([9; 12]))?;
            let mut buf = *b"plaintext\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
            key.seal(42, b"aad", &mut buf)?;
            let mut copy = buf;
            assert_eq!(key.open(42, b"aad", &mut copy)?, 9);
            assert_eq!(&copy[..9], b"plaintext");
            let mut copy = buf;
            assert_eq!(
                key.open(43, b"aad", &mut copy),
                Err(CryptoError::AuthenticationFailed)
            );
            let hp = RustCrypto.header_key(suite, &[5u8; 32][..len])?;
            assert!(hp.mask(&[1; 16])? != hp.mask(&[2; 16])?);
            assert_eq!(hp.mask(&[1; 15]), Err(CryptoError::BufferTooShort));
        }
        Ok(())
    }
}
