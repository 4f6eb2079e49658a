// SPDX-License-Identifier: GPL-2.0

//! The Retry integrity tag (RFC 9001 §5.8, RFC 9369 §3.3.3).
//!
//! The tag is AES-128-GCM with a fixed, published key and nonce, an empty
//! plaintext, and the Retry pseudo-packet as associated data: the Original
//! Destination Connection ID, prefixed with its length, followed by the Retry
//! packet without its tag. It proves only that the sender saw the client's
//! Initial. The pseudo-packet is assembled in a fallibly allocated buffer:
//! Retry is once per connection attempt, and the token has no fixed bound.

use crate::protocol::alloc::{Vec, GFP};
use crate::protocol::crypto::{CipherSuite, CryptoError, Iv, PacketKey, Provider, IV_LEN, TAG_LEN};
use crate::protocol::packet::version::Version;

/// The length of the Retry integrity tag.
pub const RETRY_TAG_LEN: usize = TAG_LEN;

/// The AES-128-GCM key and nonce of the Retry integrity tag of one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryKey {
    /// The AES-128-GCM key.
    pub key: [u8; 16],
    /// The nonce.
    pub nonce: [u8; IV_LEN],
}

/// Version 1's Retry key (RFC 9001 §5.8).
pub const RETRY_KEY_V1: RetryKey = RetryKey {
    key: [
        0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8,
        0x4e,
    ],
    nonce: [
        0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
    ],
};

/// Version 2's Retry key (RFC 9369 §3.3.3).
pub const RETRY_KEY_V2: RetryKey = RetryKey {
    key: [
        0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc,
        0x92,
    ],
    nonce: [
        0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a,
    ],
};

impl RetryKey {
    /// The Retry key of `version`.
    pub const fn for_version(version: Version) -> Result<&'static RetryKey, CryptoError> {
        match version {
            Version::V1 => Ok(&RETRY_KEY_V1),
            Version::V2 => Ok(&RETRY_KEY_V2),
            _ => Err(CryptoError::UnsupportedVersion),
        }
    }
}

/// Builds the pseudo-packet: `odcid` with its length, then `retry`.
fn pseudo_packet(odcid: &[u8], retry: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let odcid_len = u8::try_from(odcid.len()).map_err(|_| CryptoError::BufferTooShort)?;
    let mut pseudo = Vec::new();
    pseudo
        .reserve(1 + odcid.len() + retry.len(), GFP)
        .map_err(|_| CryptoError::OutOfMemory)?;
    for part in [&[odcid_len][..], odcid, retry] {
        pseudo
            .extend_from_slice(part, GFP)
            .map_err(|_| CryptoError::OutOfMemory)?;
    }
    Ok(pseudo)
}

fn retry_aead<P: Provider>(provider: &P, version: Version) -> Result<P::PacketKey, CryptoError> {
    let key = RetryKey::for_version(version)?;
    provider.packet_key(CipherSuite::Aes128GcmSha256, &key.key, Iv::new(key.nonce))
}

/// The integrity tag of `retry`, a Retry packet without its tag, sent in
/// answer to an Initial whose Destination Connection ID was `odcid`.
pub fn integrity_tag<P: Provider>(
    provider: &P,
    version: Version,
    odcid: &[u8],
    retry: &[u8],
) -> Result<[u8; RETRY_TAG_LEN], CryptoError> {
    let aead = retry_aead(provider, version)?;
    let pseudo = pseudo_packet(odcid, retry)?;
    let mut tag = [0u8; RETRY_TAG_LEN];
    // The nonce is the key's IV as is: packet number 0.
    aead.seal(0, &pseudo, &mut tag)?;
    Ok(tag)
}

/// Verifies the integrity tag of `packet`, a whole Retry packet, for an
/// Initial sent with Destination Connection ID `odcid`. The comparison is the
/// AEAD's own (constant time). Fails with
/// [`CryptoError::AuthenticationFailed`] on a mismatch.
pub fn verify_integrity_tag<P: Provider>(
    provider: &P,
    version: Version,
    odcid: &[u8],
    packet: &[u8],
) -> Result<(), CryptoError> {
    let split = packet
        .len()
        .checked_sub(RETRY_TAG_LEN)
        .ok_or(CryptoError::BufferTooShort)?;
    let (retry, tag) = packet.split_at(split);
    let aead = retry_aead(provider, version)?;
    let pseudo = pseudo_packet(odcid, retry)?;
    let mut tag: [u8; RETRY_TAG_LEN] = tag.try_into().map_err(|_| CryptoError::BufferTooShort)?;
    aead.open(0, &pseudo, &mut tag).map(|_| ())
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_crypto_retry))]
mod tests {
    use super::*;
    use crate::protocol::crypto::null::NullProvider;

    #[test]
    fn tag_round_trip() -> Result<(), CryptoError> {
        let retry = b"\xf0\x00\x00\x00\x01\x00\x01\x07token";
        let tag = integrity_tag(&NullProvider, Version::V1, &[1, 2, 3], retry)?;
        let mut packet = [0u8; 13 + RETRY_TAG_LEN];
        packet[..13].copy_from_slice(retry);
        packet[13..].copy_from_slice(&tag);
        assert_eq!(
            verify_integrity_tag(&NullProvider, Version::V1, &[1, 2, 3], &packet),
            Ok(())
        );
        // The ODCID is covered, and the version selects the key.
        assert_eq!(
            verify_integrity_tag(&NullProvider, Version::V1, &[1, 2, 4], &packet),
            Err(CryptoError::AuthenticationFailed)
        );
        assert_eq!(
            verify_integrity_tag(&NullProvider, Version::V2, &[1, 2, 3], &packet),
            Err(CryptoError::AuthenticationFailed)
        );
        packet[3] ^= 1;
        assert_eq!(
            verify_integrity_tag(&NullProvider, Version::V1, &[1, 2, 3], &packet),
            Err(CryptoError::AuthenticationFailed)
        );
        Ok(())
    }

    #[test]
    fn malformed_inputs() {
        assert_eq!(
            verify_integrity_tag(&NullProvider, Version::V1, &[], &[0; 15]),
            Err(CryptoError::BufferTooShort)
        );
        assert_eq!(
            integrity_tag(&NullProvider, Version::V1, &[0; 256], &[]).err(),
            Some(CryptoError::BufferTooShort)
        );
        assert_eq!(
            integrity_tag(&NullProvider, Version(0x5a5a5a5a), &[], &[]).err(),
            Some(CryptoError::UnsupportedVersion)
        );
    }
}
