// SPDX-License-Identifier: GPL-2.0

//! A deterministic pseudo-random generator for the core's unit tests (host
//! and KUnit) and test helpers: Marsaglia's xorshift64 with the shifts
//! 13, 7, 17 ("Xorshift RNGs", Journal of Statistical Software, 2003).
//!
//! A seed replays the same sequence everywhere, so a failing randomised
//! test is reproducible. No allocation, no floating point; not suitable for
//! anything that must be unpredictable.

/// A xorshift64 generator; see the module documentation.
#[derive(Clone, Debug)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// Replaces a zero seed, the one state xorshift never leaves.
    const NONZERO: u64 = 0x9e37_79b9_7f4a_7c15;

    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(if seed == 0 { Self::NONZERO } else { seed })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value below `n`, or 0 if `n` is 0 (slightly biased towards small
    /// values; fine for tests).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64().checked_rem(n).unwrap_or(0)
    }

    /// Fills `out` with the low byte of one value per byte.
    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next_u64() as u8;
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_test_rng))]
mod tests {
    use super::*;

    #[test]
    fn known_sequence() {
        // xorshift64 (13, 7, 17) from 1.
        let mut r = XorShift64::new(1);
        assert_eq!(r.next_u64(), 0x4082_2041);
        assert_eq!(r.next_u64(), 0x1000_4106_0c01_1441);
    }

    #[test]
    fn zero_seed_is_replaced() {
        let mut r = XorShift64::new(0);
        assert!(r.next_u64() != 0);
        assert_eq!(r.below(0), 0);
        assert!(r.below(10) < 10);
    }

    #[test]
    fn fill_takes_low_bytes() {
        let mut a = XorShift64::new(7);
        let mut b = a.clone();
        let mut bytes = [0u8; 4];
        a.fill(&mut bytes);
        for byte in bytes {
            assert_eq!(byte, b.next_u64() as u8);
        }
    }
}
