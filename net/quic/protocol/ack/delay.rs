// SPDX-License-Identifier: GPL-2.0

//! The ACK Delay field (RFC 9000 §13.2.5, §19.3).
//!
//! The field carries microseconds divided by `2^ack_delay_exponent`, the
//! exponent being the transport parameter of the endpoint that sends the
//! ACK frame (default 3, at most 20). Both directions saturate: a delay too
//! large for a varint is sent as the largest varint, and a huge value from
//! the peer decodes to a huge [`Duration`], never to an overflow.

use crate::protocol::varint::VarInt;
use core::time::Duration;

/// The ack_delay_exponent assumed when the transport parameter is absent.
pub const DEFAULT_EXPONENT: u8 = 3;

/// The largest valid ack_delay_exponent.
pub const MAX_EXPONENT: u8 = 20;

/// The max_ack_delay assumed when the transport parameter is absent.
pub const DEFAULT_MAX_ACK_DELAY: Duration = Duration::from_millis(25);

/// The ACK Delay field value for `delay` with our `exponent`.
pub fn encode(delay: Duration, exponent: u8) -> VarInt {
    let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
    VarInt::saturating(micros >> exponent.min(MAX_EXPONENT))
}

/// The delay an ACK Delay field `value` stands for, with the peer's
/// `exponent`.
pub fn decode(value: u64, exponent: u8) -> Duration {
    let scale = 1u64 << exponent.min(MAX_EXPONENT);
    Duration::from_micros(value.saturating_mul(scale))
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_ack_delay))]
mod tests {
    use super::*;

    #[test]
    fn default_exponent() {
        // 25 ms = 25000 us = 3125 << 3.
        let field = encode(Duration::from_millis(25), DEFAULT_EXPONENT);
        assert_eq!(field, VarInt::from_u32(3125));
        assert_eq!(
            decode(field.into_inner(), DEFAULT_EXPONENT),
            Duration::from_millis(25)
        );
        // Resolution is lost below 2^exponent microseconds, rounding down.
        assert_eq!(
            encode(Duration::from_micros(15), DEFAULT_EXPONENT),
            VarInt::from_u32(1)
        );
        assert_eq!(decode(1, DEFAULT_EXPONENT), Duration::from_micros(8));
    }

    #[test]
    fn exponent_limits() {
        assert_eq!(
            encode(Duration::from_secs(1), 0),
            VarInt::from_u32(1_000_000)
        );
        // Exponents above 20 are invalid; they are clamped, never shifted
        // out of range.
        assert_eq!(decode(1, 20), Duration::from_micros(1 << 20));
        assert_eq!(decode(1, 63), Duration::from_micros(1 << 20));
        assert_eq!(
            encode(Duration::from_micros(1 << 20), 200),
            VarInt::from_u32(1)
        );
    }

    #[test]
    fn saturation() {
        assert_eq!(encode(Duration::MAX, 0), VarInt::MAX);
        assert_eq!(
            decode(VarInt::MAX.into_inner(), 20),
            Duration::from_micros(u64::MAX)
        );
    }
}
