// SPDX-License-Identifier: GPL-2.0

//! QUIC versions (RFC 9000 §15, RFC 8999 §5.4, RFC 9369 §3.1–3.2).
//!
//! A [`Version`] is the 32-bit field of long headers. Version 1 and version 2
//! share everything the core implements except the long packet type bits,
//! the Initial salt, the HKDF labels and the Retry integrity key; this file
//! owns the wire differences, [`crate::protocol::crypto`] the others.

use crate::protocol::packet::LongType;

/// A QUIC version number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32);

impl Version {
    /// The version field of a Version Negotiation packet.
    pub const NEGOTIATION: Version = Version(0);
    /// QUIC version 1 (RFC 9000).
    pub const V1: Version = Version(0x0000_0001);
    /// QUIC version 2 (RFC 9369).
    pub const V2: Version = Version(0x6b33_43cf);

    /// The versions this core speaks, most preferred first.
    pub const SUPPORTED: [Version; 2] = [Version::V1, Version::V2];

    /// Whether the core implements this version.
    pub const fn is_supported(self) -> bool {
        matches!(self, Self::V1 | Self::V2)
    }

    /// Whether this is a reserved version of the form `0x?a?a?a?a`, used to
    /// exercise version negotiation (RFC 9000 §15).
    pub const fn is_reserved(self) -> bool {
        self.0 & 0x0f0f_0f0f == 0x0a0a_0a0a
    }

    /// A reserved version built from the high nibbles of `seed`, to grease
    /// the version list of a Version Negotiation packet or a transport
    /// parameter.
    pub const fn reserved(seed: u32) -> Version {
        Version((seed & 0xf0f0_f0f0) | 0x0a0a_0a0a)
    }

    /// The long packet type the two type bits (`first_byte >> 4 & 3`) stand
    /// for in this version, or `None` for an unsupported version.
    pub const fn long_type(self, bits: u8) -> Option<LongType> {
        let v1 = match self {
            Self::V1 => bits & 0x03,
            // RFC 9369 §3.2: Initial 0b01, 0-RTT 0b10, Handshake 0b11,
            // Retry 0b00, i.e. the v1 value plus one, modulo 4.
            Self::V2 => (bits & 0x03).wrapping_sub(1) & 0x03,
            _ => return None,
        };
        Some(match v1 {
            0 => LongType::Initial,
            1 => LongType::ZeroRtt,
            2 => LongType::Handshake,
            _ => LongType::Retry,
        })
    }

    /// The two type bits of `ty` in this version, or `None` for an
    /// unsupported version.
    pub const fn long_type_bits(self, ty: LongType) -> Option<u8> {
        let v1 = match ty {
            LongType::Initial => 0,
            LongType::ZeroRtt => 1,
            LongType::Handshake => 2,
            LongType::Retry => 3,
        };
        match self {
            Self::V1 => Some(v1),
            Self::V2 => Some((v1 + 1) & 0x03),
            _ => None,
        }
    }
}

impl From<Version> for u32 {
    fn from(v: Version) -> u32 {
        v.0
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_packet_version))]
mod tests {
    use super::*;

    const TYPES: [LongType; 4] = [
        LongType::Initial,
        LongType::ZeroRtt,
        LongType::Handshake,
        LongType::Retry,
    ];

    #[test]
    fn v2_type_bits() {
        //= https://www.rfc-editor.org/rfc/rfc9369#section-3.2
        //# Initial: 0b01, 0-RTT: 0b10, Handshake: 0b11, Retry: 0b00
        assert_eq!(Version::V2.long_type_bits(LongType::Initial), Some(0b01));
        assert_eq!(Version::V2.long_type_bits(LongType::ZeroRtt), Some(0b10));
        assert_eq!(Version::V2.long_type_bits(LongType::Handshake), Some(0b11));
        assert_eq!(Version::V2.long_type_bits(LongType::Retry), Some(0b00));
        assert_eq!(Version::V1.long_type_bits(LongType::Retry), Some(0b11));
        assert_eq!(Version(7).long_type_bits(LongType::Initial), None);
    }

    #[test]
    fn type_bits_round_trip() {
        for v in Version::SUPPORTED {
            for ty in TYPES {
                let bits = v.long_type_bits(ty).unwrap_or(0xff);
                assert_eq!(v.long_type(bits), Some(ty));
            }
        }
        assert_eq!(Version(0xff00_001d).long_type(0), None);
    }

    #[test]
    fn reserved_versions() {
        assert!(Version(0x1a2a_3a4a).is_reserved());
        assert!(Version(0x0a0a_0a0a).is_reserved());
        assert!(!Version::V1.is_reserved());
        assert!(!Version::V2.is_reserved());
        assert!(!Version(0x1a2a_3a4b).is_reserved());
        let mut seed = 0x1234_5678u32;
        for _ in 0..64 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let v = Version::reserved(seed);
            assert!(v.is_reserved());
            assert!(!v.is_supported());
        }
    }
}
