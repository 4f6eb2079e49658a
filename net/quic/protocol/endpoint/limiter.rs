// SPDX-License-Identifier: GPL-2.0

//! A token bucket bounding how often the endpoint answers packets it keeps
//! no state for: Version Negotiation (RFC 9000 §6.1), stateless resets
//! (§10.3.3) and refusals. Without a bound, spoofed datagrams would turn the
//! endpoint into a reflector, and two endpoints could keep answering each
//! other.

use crate::protocol::time::Instant;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Allows `rate` events per second on average, and bursts of `burst`.
///
/// # Invariants
///
/// `credit <= burst * NANOS_PER_SEC`: credit is counted in event-nanoseconds
/// (one event costs [`NANOS_PER_SEC`]), so refills need no division.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimiter {
    rate: u64,
    max_credit: u64,
    credit: u64,
    last: Option<Instant>,
}

impl RateLimiter {
    /// A limiter allowing `rate` events per second and bursts of `burst`
    /// events, starting full. A zero rate or burst allows nothing.
    pub const fn new(rate: u32, burst: u32) -> Self {
        let max_credit = burst as u64 * NANOS_PER_SEC;
        Self {
            rate: rate as u64,
            max_credit,
            credit: max_credit,
            last: None,
        }
    }

    /// Takes one event's worth of credit at `now`, if there is enough.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_nanos();
            let elapsed = u64::try_from(elapsed).unwrap_or(u64::MAX);
            let refill = elapsed.saturating_mul(self.rate);
            self.credit = self.credit.saturating_add(refill).min(self.max_credit);
        }
        // A clock going backwards refills nothing and keeps the later time.
        if self.last.is_none_or(|last| last < now) {
            self.last = Some(now);
        }
        if self.credit < NANOS_PER_SEC {
            return false;
        }
        self.credit -= NANOS_PER_SEC;
        true
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_limiter))]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::from_nanos(5);
        let mut l = RateLimiter::new(10, 3);
        assert!((0..3).all(|_| l.try_acquire(t0)));
        assert!(!l.try_acquire(t0));
        // 10 per second: one every 100 ms.
        assert!(!l.try_acquire(t0 + Duration::from_millis(99)));
        assert!(l.try_acquire(t0 + Duration::from_millis(100)));
        assert!(!l.try_acquire(t0 + Duration::from_millis(150)));
        // A long pause refills up to the burst only.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| l.try_acquire(later)).count(), 3);
        // Time going backwards grants nothing.
        assert!(!l.try_acquire(t0));
        assert!(!l.try_acquire(later));
    }

    #[test]
    fn zero_allows_nothing() {
        let mut l = RateLimiter::new(0, 0);
        assert!(!l.try_acquire(Instant::ZERO));
        let mut l = RateLimiter::new(0, 1);
        assert!(l.try_acquire(Instant::ZERO));
        assert!(!l.try_acquire(Instant::from_nanos(u64::MAX)));
    }
}
