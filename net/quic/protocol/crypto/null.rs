// SPDX-License-Identifier: GPL-2.0

//! A [`Provider`] without cryptography, for protocol unit tests.
//!
//! It behaves like a real one where tests can see it: a payload sealed with
//! one key opens only with the same key, packet number and header; a wrong
//! one fails with [`CryptoError::AuthenticationFailed`]; header protection
//! masks depend on the key and the sample; HKDF output depends on every
//! input. But it is built from FNV-1a and offers no security at all, so
//! protocol tests run without a crypto library and crypto bugs cannot hide
//! behind protocol ones. Never use it for real traffic.

use crate::protocol::crypto::{
    CipherSuite, CryptoError, HashAlgorithm, HeaderKey, Iv, PacketKey, Provider, MASK_LEN,
    SAMPLE_LEN, TAG_LEN,
};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `bytes`, continuing from `state`.
fn fnv(mut state: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        state = (state ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    state
}

/// A xorshift stream seeded from `seed`, filling `out`.
fn stream(seed: u64, out: &mut [u8], xor: bool) {
    let mut s = seed | 1;
    for chunk in out.chunks_mut(8) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        for (o, k) in chunk.iter_mut().zip(s.to_be_bytes()) {
            *o = if xor { *o ^ k } else { k };
        }
    }
}

/// The null provider. See the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NullProvider;

/// The null AEAD: a keyed xorshift stream and an FNV-1a tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NullPacketKey {
    suite: CipherSuite,
    seed: u64,
}

impl NullPacketKey {
    /// A key for `suite` whose behaviour depends on `seed`.
    pub const fn new(suite: CipherSuite, seed: u64) -> Self {
        Self { suite, seed }
    }

    fn nonce_seed(&self, pn: u64) -> u64 {
        fnv(self.seed, &pn.to_be_bytes())
    }

    fn tag(&self, pn: u64, header: &[u8], plaintext: &[u8]) -> [u8; TAG_LEN] {
        let h = fnv(fnv(self.nonce_seed(pn), header), plaintext);
        let mut tag = [0u8; TAG_LEN];
        stream(h, &mut tag, false);
        tag
    }
}

impl PacketKey for NullPacketKey {
    fn suite(&self) -> CipherSuite {
        self.suite
    }

    fn seal(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<(), CryptoError> {
        let split = payload
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(CryptoError::BufferTooShort)?;
        let (text, tag) = payload.split_at_mut(split);
        tag.copy_from_slice(&self.tag(pn, header, text));
        stream(self.nonce_seed(pn), text, true);
        Ok(())
    }

    fn open(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<usize, CryptoError> {
        let split = payload
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(CryptoError::BufferTooShort)?;
        let (text, tag) = payload.split_at_mut(split);
        stream(self.nonce_seed(pn), text, true);
        if self.tag(pn, header, text) != *tag {
            return Err(CryptoError::AuthenticationFailed);
        }
        Ok(split)
    }
}

/// The null header protection key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NullHeaderKey {
    seed: u64,
}

impl NullHeaderKey {
    /// A header key whose masks depend on `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { seed }
    }
}

impl HeaderKey for NullHeaderKey {
    fn mask(&self, sample: &[u8]) -> Result<[u8; MASK_LEN], CryptoError> {
        if sample.len() != SAMPLE_LEN {
            return Err(CryptoError::BufferTooShort);
        }
        let mut mask = [0u8; MASK_LEN];
        stream(fnv(self.seed, sample), &mut mask, false);
        Ok(mask)
    }
}

impl Provider for NullProvider {
    type PacketKey = NullPacketKey;
    type HeaderKey = NullHeaderKey;

    fn packet_key(
        &self,
        suite: CipherSuite,
        key: &[u8],
        iv: Iv,
    ) -> Result<NullPacketKey, CryptoError> {
        if key.len() != suite.key_len() {
            return Err(CryptoError::InvalidKeyLength);
        }
        Ok(NullPacketKey::new(
            suite,
            fnv(fnv(FNV_OFFSET, key), iv.as_bytes()),
        ))
    }

    fn header_key(&self, suite: CipherSuite, key: &[u8]) -> Result<NullHeaderKey, CryptoError> {
        if key.len() != suite.header_key_len() {
            return Err(CryptoError::InvalidKeyLength);
        }
        Ok(NullHeaderKey::new(fnv(FNV_OFFSET, key)))
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
        let seed = fnv(fnv(fnv(FNV_OFFSET, salt), &[0xff]), ikm);
        stream(seed, prk, false);
        Ok(())
    }

    fn hkdf_expand(
        &self,
        hash: HashAlgorithm,
        prk: &[u8],
        info: &[u8],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        // RFC 5869 §2.3: L <= 255 * HashLen.
        if okm.len() > 255 * hash.output_len() {
            return Err(CryptoError::BufferTooShort);
        }
        let seed = fnv(fnv(fnv(FNV_OFFSET, prk), &[0xfe]), info);
        stream(seed, okm, false);
        Ok(())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_crypto_null))]
mod tests {
    use super::*;

    const SUITE: CipherSuite = CipherSuite::Aes128GcmSha256;

    #[test]
    fn seal_open_round_trip() -> Result<(), CryptoError> {
        let key = NullProvider.packet_key(SUITE, &[1; 16], Iv::new([2; 12]))?;
        let mut buf = [0u8; 5 + TAG_LEN];
        buf[..5].copy_from_slice(b"hello");
        key.seal(9, b"hdr", &mut buf)?;
        assert!(&buf[..5] != b"hello");
        let mut copy = buf;
        assert_eq!(key.open(9, b"hdr", &mut copy), Ok(5));
        assert_eq!(&copy[..5], b"hello");
        // Wrong packet number, header, key or a flipped bit: rejected.
        let mut copy = buf;
        assert_eq!(
            key.open(10, b"hdr", &mut copy),
            Err(CryptoError::AuthenticationFailed)
        );
        let mut copy = buf;
        assert_eq!(
            key.open(9, b"hdx", &mut copy),
            Err(CryptoError::AuthenticationFailed)
        );
        let other = NullProvider.packet_key(SUITE, &[3; 16], Iv::new([2; 12]))?;
        let mut copy = buf;
        assert_eq!(
            other.open(9, b"hdr", &mut copy),
            Err(CryptoError::AuthenticationFailed)
        );
        let mut copy = buf;
        copy[2] ^= 1;
        assert_eq!(
            key.open(9, b"hdr", &mut copy),
            Err(CryptoError::AuthenticationFailed)
        );
        Ok(())
    }

    #[test]
    fn short_buffers_fail() -> Result<(), CryptoError> {
        let key = NullProvider.packet_key(SUITE, &[1; 16], Iv::new([2; 12]))?;
        let mut buf = [0u8; TAG_LEN - 1];
        assert_eq!(key.seal(0, &[], &mut buf), Err(CryptoError::BufferTooShort));
        assert_eq!(key.open(0, &[], &mut buf), Err(CryptoError::BufferTooShort));
        assert_eq!(
            NullProvider
                .packet_key(SUITE, &[1; 15], Iv::new([2; 12]))
                .err(),
            Some(CryptoError::InvalidKeyLength)
        );
        let hp = NullProvider.header_key(SUITE, &[1; 16])?;
        assert_eq!(hp.mask(&[0; 15]), Err(CryptoError::BufferTooShort));
        assert!(hp.mask(&[0; 16]) != hp.mask(&[1; 16]));
        Ok(())
    }
}
