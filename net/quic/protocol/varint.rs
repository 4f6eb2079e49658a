// SPDX-License-Identifier: GPL-2.0

//! Variable-length integers (RFC 9000 §16).
//!
//! The two most significant bits of the first byte give the encoded length
//! (1, 2, 4 or 8 bytes); the remaining bits carry the value in network byte
//! order, so values range up to 2^62 - 1.

use crate::protocol::codec::{BufferTooShort, DecodeError, Reader, Writer};

/// An integer that fits a QUIC varint: at most 2^62 - 1.
///
/// # Invariants
///
/// `self.0 <= VarInt::MAX.0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VarInt(u64);

/// A value does not fit in a varint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarIntBoundsExceeded;

impl VarInt {
    /// The largest representable value, 2^62 - 1.
    pub const MAX: VarInt = VarInt((1 << 62) - 1);
    /// The largest encoded size, in bytes.
    pub const MAX_SIZE: usize = 8;

    /// Zero.
    pub const ZERO: VarInt = VarInt(0);

    /// Builds a varint from a `u32`, which always fits.
    pub const fn from_u32(v: u32) -> Self {
        // INVARIANT: u32::MAX < 2^62.
        VarInt(v as u64)
    }

    /// Builds a varint from a `u64`, failing above [`VarInt::MAX`].
    pub const fn from_u64(v: u64) -> Result<Self, VarIntBoundsExceeded> {
        if v <= Self::MAX.0 {
            // INVARIANT: just checked.
            Ok(VarInt(v))
        } else {
            Err(VarIntBoundsExceeded)
        }
    }

    /// Builds a varint from a `usize`.
    pub fn try_from_usize(v: usize) -> Result<Self, VarIntBoundsExceeded> {
        Self::from_u64(u64::try_from(v).map_err(|_| VarIntBoundsExceeded)?)
    }

    /// Builds a varint, saturating at [`VarInt::MAX`].
    pub const fn saturating(v: u64) -> Self {
        if v <= Self::MAX.0 {
            VarInt(v)
        } else {
            Self::MAX
        }
    }

    /// The value.
    pub const fn into_inner(self) -> u64 {
        self.0
    }

    /// The size of the shortest encoding of this value.
    pub const fn size(self) -> usize {
        Self::size_of(self.0)
    }

    /// The size of the shortest encoding of `v`, which must be at most
    /// [`VarInt::MAX`] (larger values report the 8-byte size).
    pub const fn size_of(v: u64) -> usize {
        if v < 1 << 6 {
            1
        } else if v < 1 << 14 {
            2
        } else if v < 1 << 30 {
            4
        } else {
            8
        }
    }

    /// Decodes a varint, in whichever of the four lengths it was sent.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let first = r.read_u8()?;
        let tag = first >> 6;
        let mut v = u64::from(first & 0x3f);
        let extra = (1usize << tag) - 1;
        for &b in r.read_bytes(extra)? {
            v = (v << 8) | u64::from(b);
        }
        // INVARIANT: at most 62 value bits were read.
        Ok(VarInt(v))
    }

    /// Encodes in the shortest form.
    pub fn encode(self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        self.encode_with_size(self.size(), w)
    }

    /// Encodes using exactly `size` bytes (1, 2, 4 or 8), as needed when a
    /// length field is written before its value is known. Fails if the value
    /// does not fit or `size` is not a varint size.
    pub fn encode_with_size(self, size: usize, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        let tag: u64 = match size {
            1 if self.0 < 1 << 6 => 0,
            2 if self.0 < 1 << 14 => 1,
            4 if self.0 < 1 << 30 => 2,
            8 => 3,
            _ => return Err(BufferTooShort),
        };
        let bytes = (self.0 | (tag << (size * 8 - 2))).to_be_bytes();
        w.put_bytes(&bytes[8 - size..])
    }
}

impl From<u8> for VarInt {
    fn from(v: u8) -> Self {
        VarInt(u64::from(v))
    }
}

impl From<u16> for VarInt {
    fn from(v: u16) -> Self {
        VarInt(u64::from(v))
    }
}

impl From<u32> for VarInt {
    fn from(v: u32) -> Self {
        Self::from_u32(v)
    }
}

impl TryFrom<u64> for VarInt {
    type Error = VarIntBoundsExceeded;

    fn try_from(v: u64) -> Result<Self, Self::Error> {
        Self::from_u64(v)
    }
}

impl From<VarInt> for u64 {
    fn from(v: VarInt) -> u64 {
        v.0
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_varint))]
mod tests {
    use super::*;

    /// RFC 9000 Appendix A.1: encoding and the value it decodes to.
    const VECTORS: [(&[u8], u64); 4] = [
        (
            &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
            151_288_809_941_952_652,
        ),
        (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
        (&[0x7b, 0xbd], 15_293),
        (&[0x25], 37),
    ];

    #[test]
    fn rfc9000_a1_decode() {
        for (bytes, value) in VECTORS {
            let mut r = Reader::new(bytes);
            assert_eq!(r.read_varint().map(VarInt::into_inner), Ok(value));
            assert!(r.is_empty());
        }
        // A.1: "the two-byte sequence 0x40 0x25 also decodes to 37".
        assert_eq!(Reader::new(&[0x40, 0x25]).read_varint(), Ok(VarInt(37)));
    }

    #[test]
    fn rfc9000_a1_encode() {
        for (bytes, value) in VECTORS {
            let mut buf = [0u8; 8];
            let mut w = Writer::new(&mut buf);
            let v = VarInt::from_u64(value);
            assert!(v.is_ok());
            if let Ok(v) = v {
                assert_eq!(v.size(), bytes.len());
                assert_eq!(v.encode(&mut w), Ok(()));
            }
            assert_eq!(w.written(), bytes);
        }
    }

    #[test]
    fn boundaries_round_trip() {
        let edges = [
            0,
            63,
            64,
            16_383,
            16_384,
            (1 << 30) - 1,
            1 << 30,
            VarInt::MAX.0,
        ];
        for v in edges {
            let mut buf = [0u8; 8];
            let mut w = Writer::new(&mut buf);
            assert_eq!(VarInt(v).encode(&mut w), Ok(()));
            let n = w.len();
            assert_eq!(n, VarInt::size_of(v));
            assert_eq!(Reader::new(&buf[..n]).read_varint(), Ok(VarInt(v)));
        }
    }

    #[test]
    fn out_of_range_and_truncated() {
        assert_eq!(VarInt::from_u64(1 << 62), Err(VarIntBoundsExceeded));
        assert_eq!(VarInt::from_u64(u64::MAX), Err(VarIntBoundsExceeded));
        assert_eq!(VarInt::saturating(u64::MAX), VarInt::MAX);
        // Every strict prefix of a multi-byte encoding is truncated input.
        for (bytes, _) in VECTORS {
            for cut in 0..bytes.len() {
                assert_eq!(
                    Reader::new(&bytes[..cut]).read_varint(),
                    Err(DecodeError::UnexpectedEnd)
                );
            }
        }
    }

    #[test]
    fn fixed_size_encoding() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        assert_eq!(VarInt(37).encode_with_size(4, &mut w), Ok(()));
        assert_eq!(w.written(), &[0x80, 0, 0, 37]);
        let mut w = Writer::new(&mut buf);
        assert_eq!(VarInt(64).encode_with_size(1, &mut w), Err(BufferTooShort));
        assert_eq!(VarInt(1).encode_with_size(3, &mut w), Err(BufferTooShort));
    }
}
