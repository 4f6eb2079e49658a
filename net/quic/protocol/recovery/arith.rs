// SPDX-License-Identifier: GPL-2.0

//! Saturating integer arithmetic for the recovery algorithms.
//!
//! The kernel has no floating point and no 128-bit division (`__udivti3` is
//! not provided), so ratios such as `cwnd * elapsed / rtt` go through
//! [`mul_div`], which multiplies into 128 bits and divides by long division
//! on 64-bit halves.

use core::time::Duration;

/// `d` in nanoseconds, saturating at `u64::MAX` (about 584 years).
pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `a * b / c` rounded down, saturating at `u64::MAX`; `u64::MAX` when `c`
/// is zero.
pub(super) fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    if c == 0 {
        return u64::MAX;
    }
    if let Some(p) = a.checked_mul(b) {
        return p / c;
    }
    let p = u128::from(a) * u128::from(b);
    let hi = (p >> 64) as u64;
    let lo = p as u64;
    if hi >= c {
        // The quotient does not fit in 64 bits.
        return u64::MAX;
    }
    // Restoring division of hi:lo by c, one bit of `lo` at a time. The
    // remainder stays below `c`; `carry` is the bit shifted out of it.
    let mut rem = hi;
    let mut quot = 0u64;
    for bit in (0..64).rev() {
        let carry = rem >> 63;
        rem = (rem << 1) | ((lo >> bit) & 1);
        quot <<= 1;
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            quot |= 1;
        }
    }
    quot
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_arith))]
mod tests {
    use super::*;

    #[test]
    fn mul_div_small_and_large() {
        assert_eq!(mul_div(10, 20, 7), 28);
        assert_eq!(mul_div(5, 5, 0), u64::MAX);
        // (2^63 * 6) / 3 = 2^64: does not fit.
        assert_eq!(mul_div(1 << 63, 6, 3), u64::MAX);
        // (2^63 * 4) / 8 = 2^62, through the 128-bit path.
        assert_eq!(mul_div(1 << 63, 4, 8), 1 << 62);
        // (2^64 - 1)^2 / (2^64 - 1) = 2^64 - 1.
        assert_eq!(mul_div(u64::MAX, u64::MAX, u64::MAX), u64::MAX);
        // 10^12 * 10^12 / 10^9 = 10^15.
        assert_eq!(
            mul_div(1_000_000_000_000, 1_000_000_000_000, 1_000_000_000),
            1_000_000_000_000_000
        );
        // A divisor with the top bit set exercises the carry path.
        let c = (1u64 << 63) + 12345;
        assert_eq!(mul_div(c, 1 << 40, c), 1 << 40);
        assert_eq!(mul_div(c - 1, 3, c), 2);
    }

    #[test]
    fn nanos_saturate() {
        assert_eq!(nanos(Duration::from_millis(3)), 3_000_000);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }
}
