// SPDX-License-Identifier: GPL-2.0

//! Packet number encoding and decoding (RFC 9000 §17.1, Appendix A.2, A.3).
//!
//! Packet numbers are 62-bit integers sent truncated to their 1 to 4 least
//! significant bytes. The sender picks a length that covers twice the range
//! of packets the peer may not have acknowledged; the receiver restores the
//! full number as the value closest to the next one it expects.

/// The largest packet number (RFC 9000 §12.3).
pub const MAX_PACKET_NUMBER: u64 = (1 << 62) - 1;

/// The length of an encoded packet number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PacketNumberLen {
    /// One byte.
    One = 1,
    /// Two bytes.
    Two = 2,
    /// Three bytes.
    Three = 3,
    /// Four bytes.
    Four = 4,
}

impl PacketNumberLen {
    /// The length the two low bits of an unprotected first byte give.
    pub const fn from_first_byte(first: u8) -> Self {
        match first & 0x03 {
            0 => Self::One,
            1 => Self::Two,
            2 => Self::Three,
            _ => Self::Four,
        }
    }

    /// The length in bytes.
    pub const fn bytes(self) -> usize {
        self as usize
    }

    /// The value of the two Packet Number Length bits of the first byte.
    pub const fn first_byte_bits(self) -> u8 {
        self as u8 - 1
    }

    /// The shortest length for sending `pn` when the peer acknowledged up to
    /// `largest_acked` (RFC 9000 Appendix A.2): the encoding must represent
    /// at least twice the number of packets in flight, including this one.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-17.1
    //# the sender MUST use a packet number size able to represent more than twice as
    //# large a range as the difference between the largest acknowledged packet number
    //# and the packet number being sent.
    pub const fn for_packet(pn: u64, largest_acked: Option<u64>) -> Self {
        let unacked = match largest_acked {
            Some(acked) => pn.saturating_sub(acked),
            None => pn.saturating_add(1),
        };
        let range = unacked.saturating_mul(2);
        if range <= 1 << 8 {
            Self::One
        } else if range <= 1 << 16 {
            Self::Two
        } else if range <= 1 << 24 {
            Self::Three
        } else {
            Self::Four
        }
    }

    /// The `self.bytes()` least significant bytes of `pn`.
    pub const fn truncate(self, pn: u64) -> u32 {
        let bits = self.bytes() as u32 * 8;
        (pn & ((1u64 << bits) - 1)) as u32
    }

    /// Restores a full packet number from `truncated`, the value of a packet
    /// number field of this length, given the largest packet number
    /// successfully processed in the space (RFC 9000 Appendix A.3).
    pub const fn decode(self, largest_pn: Option<u64>, truncated: u32) -> u64 {
        let expected = match largest_pn {
            Some(largest) => largest.saturating_add(1),
            None => 0,
        };
        let win = 1u64 << (self.bytes() * 8);
        let hwin = win / 2;
        let mask = win - 1;
        let candidate = (expected & !mask) | (truncated as u64 & mask);
        // `candidate <= expected - hwin`, without underflow.
        if candidate.saturating_add(hwin) <= expected && candidate < (1 << 62) - win {
            candidate + win
        } else if candidate > expected.saturating_add(hwin) && candidate >= win {
            candidate - win
        } else {
            candidate
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_packet_number))]
mod tests {
    use super::*;
    use crate::protocol::test_rng::XorShift64;

    #[test]
    fn rfc9000_a2_encoding_length() {
        // "if an endpoint has received an acknowledgment for packet 0xabe8b3
        // and is sending a packet with a number of 0xac5c02 [...] 16 bits
        // are required."
        assert_eq!(
            PacketNumberLen::for_packet(0xac5c02, Some(0xabe8b3)),
            PacketNumberLen::Two
        );
        // "sending a packet with a number of 0xace8fe uses the 24-bit encoding"
        assert_eq!(
            PacketNumberLen::for_packet(0xace8fe, Some(0xabe8b3)),
            PacketNumberLen::Three
        );
        assert_eq!(PacketNumberLen::for_packet(0, None), PacketNumberLen::One);
        assert_eq!(PacketNumberLen::for_packet(127, None), PacketNumberLen::One);
        assert_eq!(PacketNumberLen::for_packet(128, None), PacketNumberLen::Two);
        assert_eq!(
            PacketNumberLen::for_packet(MAX_PACKET_NUMBER, None),
            PacketNumberLen::Four
        );
    }

    #[test]
    fn rfc9000_a3_decoding() {
        // "if the highest successfully authenticated packet had a packet
        // number of 0xa82f30ea, then a packet containing a 16-bit value of
        // 0x9b32 will be decoded as 0xa82f9b32."
        assert_eq!(
            PacketNumberLen::Two.decode(Some(0xa82f30ea), 0x9b32),
            0xa82f9b32
        );
    }

    #[test]
    fn decoding_edges() {
        // Nothing received yet: the value is taken as is.
        assert_eq!(PacketNumberLen::One.decode(None, 0), 0);
        assert_eq!(PacketNumberLen::Four.decode(None, 0xffff_ffff), 0xffff_ffff);
        // Wrapping forward and backward around the window.
        assert_eq!(PacketNumberLen::One.decode(Some(0xff), 0x00), 0x100);
        assert_eq!(PacketNumberLen::One.decode(Some(0x100), 0xff), 0xff);
        // Near the top of the packet number space nothing overflows.
        let top = MAX_PACKET_NUMBER;
        assert_eq!(
            PacketNumberLen::Four.decode(Some(top), PacketNumberLen::Four.truncate(top)),
            top
        );
        assert_eq!(
            PacketNumberLen::One.decode(Some(u64::MAX), 0),
            0xffff_ffff_ffff_ff00
        );
    }

    #[test]
    fn truncate_decode_round_trip() {
        let mut rng = XorShift64::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let x = rng.next_u64();
            let largest_acked = x & (MAX_PACKET_NUMBER >> (x % 40));
            let gap = (x >> 40) % 70_000 + 1;
            let pn = (largest_acked + gap).min(MAX_PACKET_NUMBER);
            let len = PacketNumberLen::for_packet(pn, Some(largest_acked));
            // The receiver has seen anything from the acked packet to just
            // below `pn`: the decode must restore `pn` from either end.
            for largest_seen in [largest_acked, pn - 1] {
                assert_eq!(len.decode(Some(largest_seen), len.truncate(pn)), pn);
            }
            assert_eq!(PacketNumberLen::from_first_byte(len.first_byte_bits()), len);
        }
    }
}
