// SPDX-License-Identifier: GPL-2.0

//! The QUIC key schedule (RFC 9001 §5.1, §6.1; RFC 9369 §3.3.2).
//!
//! Packet protection keys come from a traffic secret through TLS 1.3's
//! `HKDF-Expand-Label` (RFC 8446 §7.1) with labels that depend on the QUIC
//! version: "quic key", "quic iv", "quic hp" and "quic ku" for version 1,
//! "quicv2 key", ... for version 2. Intermediate key material is kept in
//! fixed arrays on the stack and wiped before returning.

use crate::protocol::crypto::{
    wipe, CipherSuite, CryptoError, Iv, Provider, Secret, IV_LEN, MAX_KEY_LEN,
};
use crate::protocol::packet::version::Version;

/// The HKDF labels of one QUIC version, without TLS's "tls13 " prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Labels {
    /// Derives the AEAD key.
    pub key: &'static [u8],
    /// Derives the AEAD IV.
    pub iv: &'static [u8],
    /// Derives the header protection key.
    pub hp: &'static [u8],
    /// Derives the next generation of a 1-RTT secret (key update).
    pub ku: &'static [u8],
}

/// Version 1 labels (RFC 9001 §5.1, §6.1).
pub const LABELS_V1: Labels = Labels {
    key: b"quic key",
    iv: b"quic iv",
    hp: b"quic hp",
    ku: b"quic ku",
};

/// Version 2 labels (RFC 9369 §3.3.2).
pub const LABELS_V2: Labels = Labels {
    key: b"quicv2 key",
    iv: b"quicv2 iv",
    hp: b"quicv2 hp",
    ku: b"quicv2 ku",
};

impl Labels {
    /// The labels of `version`.
    pub const fn for_version(version: Version) -> Result<&'static Labels, CryptoError> {
        match version {
            Version::V1 => Ok(&LABELS_V1),
            Version::V2 => Ok(&LABELS_V2),
            _ => Err(CryptoError::UnsupportedVersion),
        }
    }
}

/// TLS 1.3's prefix of every HKDF label.
const TLS13_PREFIX: &[u8] = b"tls13 ";
/// The longest label (after the prefix) this implementation builds.
const MAX_LABEL_LEN: usize = 32;
/// The longest context this implementation builds (a hash).
const MAX_CONTEXT_LEN: usize = 64;
/// Room for an `HkdfLabel` structure.
const MAX_INFO_LEN: usize = 2 + 1 + TLS13_PREFIX.len() + MAX_LABEL_LEN + 1 + MAX_CONTEXT_LEN;

/// `HKDF-Expand-Label(secret, label, context, out.len())` of RFC 8446 §7.1,
/// filling `out`. `label` is given without the "tls13 " prefix.
pub fn hkdf_expand_label<P: Provider>(
    provider: &P,
    secret: &Secret,
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    if label.len() > MAX_LABEL_LEN || context.len() > MAX_CONTEXT_LEN {
        return Err(CryptoError::BufferTooShort);
    }
    let out_len = u16::try_from(out.len()).map_err(|_| CryptoError::BufferTooShort)?;
    // struct {
    //     uint16 length = Length;
    //     opaque label<7..255> = "tls13 " + Label;
    //     opaque context<0..255> = Context;
    // } HkdfLabel;
    let mut info = [0u8; MAX_INFO_LEN];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        // Cannot fail: the lengths were bounded above.
        if let Some(dst) = info.get_mut(n..n + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        n += bytes.len();
    };
    put(&out_len.to_be_bytes());
    // Both lengths are bounded by the checks above, far below 256.
    put(&[(TLS13_PREFIX.len() + label.len()) as u8]);
    put(TLS13_PREFIX);
    put(label);
    put(&[context.len() as u8]);
    put(context);
    let info = info.get(..n).ok_or(CryptoError::BufferTooShort)?;
    provider.hkdf_expand(secret.hash(), secret.as_bytes(), info, out)
}

/// The secret of the next key phase: `HKDF-Expand-Label(secret, "quic ku",
/// "", Hash.length)` (RFC 9001 §6.1).
pub fn next_secret<P: Provider>(
    provider: &P,
    version: Version,
    secret: &Secret,
) -> Result<Secret, CryptoError> {
    let labels = Labels::for_version(version)?;
    let mut next = Secret::zeroed(secret.hash());
    hkdf_expand_label(provider, secret, labels.ku, &[], next.as_mut_bytes())?;
    Ok(next)
}

fn check_suite(suite: CipherSuite, secret: &Secret) -> Result<(), CryptoError> {
    if secret.hash() != suite.hash() {
        return Err(CryptoError::InvalidKeyLength);
    }
    Ok(())
}

/// The AEAD key and IV of `secret` (RFC 9001 §5.1).
pub fn packet_key<P: Provider>(
    provider: &P,
    version: Version,
    suite: CipherSuite,
    secret: &Secret,
) -> Result<P::PacketKey, CryptoError> {
    check_suite(suite, secret)?;
    let labels = Labels::for_version(version)?;
    let mut key = [0u8; MAX_KEY_LEN];
    let mut iv = [0u8; IV_LEN];
    let key = key
        .get_mut(..suite.key_len())
        .ok_or(CryptoError::InvalidKeyLength)?;
    let result = hkdf_expand_label(provider, secret, labels.key, &[], key)
        .and_then(|()| hkdf_expand_label(provider, secret, labels.iv, &[], &mut iv))
        .and_then(|()| provider.packet_key(suite, key, Iv::new(iv)));
    wipe(key);
    wipe(&mut iv);
    result
}

/// The header protection key of `secret` (RFC 9001 §5.4).
pub fn header_key<P: Provider>(
    provider: &P,
    version: Version,
    suite: CipherSuite,
    secret: &Secret,
) -> Result<P::HeaderKey, CryptoError> {
    check_suite(suite, secret)?;
    let labels = Labels::for_version(version)?;
    let mut hp = [0u8; MAX_KEY_LEN];
    let hp = hp
        .get_mut(..suite.header_key_len())
        .ok_or(CryptoError::InvalidKeyLength)?;
    let result = hkdf_expand_label(provider, secret, labels.hp, &[], hp)
        .and_then(|()| provider.header_key(suite, hp));
    wipe(hp);
    result
}

/// The keys protecting one direction of one encryption level.
pub struct DirectionalKeys<P: Provider> {
    /// The AEAD.
    pub packet: P::PacketKey,
    /// The header protection key.
    pub header: P::HeaderKey,
}

impl<P: Provider> DirectionalKeys<P> {
    /// Derives both keys from a traffic secret.
    pub fn new(
        provider: &P,
        version: Version,
        suite: CipherSuite,
        secret: &Secret,
    ) -> Result<Self, CryptoError> {
        Ok(Self {
            packet: packet_key(provider, version, suite, secret)?,
            header: header_key(provider, version, suite, secret)?,
        })
    }
}

/// The keys of one encryption level (Initial, 0-RTT, Handshake): `local`
/// protects what this endpoint sends, `remote` what it receives.
pub struct Keys<P: Provider> {
    /// Keys for sending.
    pub local: DirectionalKeys<P>,
    /// Keys for receiving.
    pub remote: DirectionalKeys<P>,
}

impl<P: Provider> Keys<P> {
    /// Derives the keys of a level from its two traffic secrets.
    pub fn new(
        provider: &P,
        version: Version,
        suite: CipherSuite,
        local: &Secret,
        remote: &Secret,
    ) -> Result<Self, CryptoError> {
        Ok(Self {
            local: DirectionalKeys::new(provider, version, suite, local)?,
            remote: DirectionalKeys::new(provider, version, suite, remote)?,
        })
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_crypto_schedule))]
mod tests {
    use super::*;
    use crate::protocol::crypto::null::NullProvider;
    use crate::protocol::crypto::{HashAlgorithm, PacketKey};
    use core::cell::Cell;

    /// Records the `info` HKDF-Expand receives.
    struct InfoProbe {
        info: Cell<[u8; MAX_INFO_LEN]>,
        len: Cell<usize>,
    }

    impl Provider for InfoProbe {
        type PacketKey = <NullProvider as Provider>::PacketKey;
        type HeaderKey = <NullProvider as Provider>::HeaderKey;

        fn packet_key(
            &self,
            suite: CipherSuite,
            key: &[u8],
            iv: Iv,
        ) -> Result<Self::PacketKey, CryptoError> {
            NullProvider.packet_key(suite, key, iv)
        }

        fn header_key(
            &self,
            suite: CipherSuite,
            key: &[u8],
        ) -> Result<Self::HeaderKey, CryptoError> {
            NullProvider.header_key(suite, key)
        }

        fn hkdf_extract(
            &self,
            _: HashAlgorithm,
            _: &[u8],
            _: &[u8],
            _: &mut [u8],
        ) -> Result<(), CryptoError> {
            Ok(())
        }

        fn hkdf_expand(
            &self,
            _: HashAlgorithm,
            _: &[u8],
            info: &[u8],
            _: &mut [u8],
        ) -> Result<(), CryptoError> {
            let mut copy = [0u8; MAX_INFO_LEN];
            copy[..info.len()].copy_from_slice(info);
            self.info.set(copy);
            self.len.set(info.len());
            Ok(())
        }
    }

    /// Checks the `HkdfLabel` of `label` for `len` bytes of output.
    fn check_info(label: &[u8], len: usize, expected: &[u8]) -> Result<(), CryptoError> {
        let probe = InfoProbe {
            info: Cell::new([0; MAX_INFO_LEN]),
            len: Cell::new(0),
        };
        let secret = Secret::new(HashAlgorithm::Sha256, &[0; 32])?;
        let mut out = [0u8; 32];
        hkdf_expand_label(&probe, &secret, label, &[], &mut out[..len])?;
        assert_eq!(&probe.info.get()[..probe.len.get()], expected);
        Ok(())
    }

    #[test]
    fn rfc9001_a1_hkdf_labels() -> Result<(), CryptoError> {
        check_info(b"client in", 32, b"\x00\x20\x0ftls13 client in\x00")?;
        check_info(b"server in", 32, b"\x00\x20\x0ftls13 server in\x00")?;
        check_info(LABELS_V1.key, 16, b"\x00\x10\x0etls13 quic key\x00")?;
        check_info(LABELS_V1.iv, 12, b"\x00\x0c\x0dtls13 quic iv\x00")?;
        check_info(LABELS_V1.hp, 16, b"\x00\x10\x0dtls13 quic hp\x00")
    }

    #[test]
    fn rfc9369_a1_hkdf_labels() -> Result<(), CryptoError> {
        check_info(LABELS_V2.key, 16, b"\x00\x10\x10tls13 quicv2 key\x00")?;
        check_info(LABELS_V2.iv, 12, b"\x00\x0c\x0ftls13 quicv2 iv\x00")?;
        check_info(LABELS_V2.hp, 16, b"\x00\x10\x0ftls13 quicv2 hp\x00")
    }

    #[test]
    fn label_bounds() -> Result<(), CryptoError> {
        let secret = Secret::new(HashAlgorithm::Sha256, &[0; 32])?;
        let mut out = [0u8; 16];
        assert_eq!(
            hkdf_expand_label(&NullProvider, &secret, &[b'a'; 33], &[], &mut out),
            Err(CryptoError::BufferTooShort)
        );
        assert_eq!(
            hkdf_expand_label(&NullProvider, &secret, b"x", &[0; 65], &mut out),
            Err(CryptoError::BufferTooShort)
        );
        Ok(())
    }

    #[test]
    fn versions_and_suites() -> Result<(), CryptoError> {
        let s256 = Secret::new(HashAlgorithm::Sha256, &[3; 32])?;
        let s384 = Secret::new(HashAlgorithm::Sha384, &[3; 48])?;
        assert_eq!(
            Labels::for_version(Version(0x1a2a3a4a)).err(),
            Some(CryptoError::UnsupportedVersion)
        );
        // A SHA-256 secret cannot key a SHA-384 suite.
        assert!(packet_key(
            &NullProvider,
            Version::V1,
            CipherSuite::Aes256GcmSha384,
            &s256
        )
        .is_err());
        let k = packet_key(
            &NullProvider,
            Version::V2,
            CipherSuite::Aes256GcmSha384,
            &s384,
        )?;
        assert_eq!(k.suite(), CipherSuite::Aes256GcmSha384);
        let next = next_secret(&NullProvider, Version::V1, &s384)?;
        assert_eq!(next.as_bytes().len(), 48);
        assert!(next != s384);
        // Version 1 and 2 derive different secrets from the same input.
        assert!(next != next_secret(&NullProvider, Version::V2, &s384)?);
        Ok(())
    }
}
