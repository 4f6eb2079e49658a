// SPDX-License-Identifier: GPL-2.0

//! Pacing (RFC 9002 §7.7).
//!
//! The congestion window is spread over the RTT at
//! `rate = N * congestion_window / smoothed_rtt` with `N = 5/4`, so that RTT
//! variations do not leave the window unused. [`Pacer`] is a token bucket
//! whose tokens are nanoseconds of sending time: it fills with the time
//! that passes, a packet costs `size / rate`, and the bucket holds at most
//! [`BURST_PACKETS`] full-sized packets, the initial window, as the burst
//! allowance. Time credit fills exactly, whatever the rate, so frequent
//! small refills lose nothing to rounding.
//!
//! Packets that carry only ACK frames should not be paced; the caller
//! simply does not ask.

use crate::protocol::recovery::arith::{mul_div, nanos};
use crate::protocol::time::Instant;
use core::time::Duration;

/// `N` in the pacing rate, as `N_NUM / N_DEN` = 5/4.
const N_NUM: u64 = 5;
const N_DEN: u64 = 4;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The burst allowance, in full-sized packets.
//= https://www.rfc-editor.org/rfc/rfc9002#section-7.7
//# Senders SHOULD limit bursts to the initial congestion window
pub const BURST_PACKETS: u64 = 10;

/// The pacing rate in bytes per second for `window` bytes every
/// `smoothed_rtt`, times 5/4; `u64::MAX` (no pacing) for a zero RTT.
pub fn rate(window: u64, smoothed_rtt: Duration) -> u64 {
    let rtt = nanos(smoothed_rtt);
    if rtt == 0 {
        return u64::MAX;
    }
    mul_div(window, N_NUM * NANOS_PER_SEC, N_DEN.saturating_mul(rtt))
}

/// A token bucket of sending time.
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    /// Nanoseconds of sending time available at `last`.
    credit: u64,
    /// When `credit` was computed; `None` for a full bucket.
    last: Option<Instant>,
    max_datagram_size: u16,
}

impl Pacer {
    /// A pacer with a full bucket.
    pub const fn new(max_datagram_size: u16) -> Self {
        Self {
            credit: 0,
            last: None,
            max_datagram_size,
        }
    }

    /// The path's maximum datagram size changed.
    pub fn set_max_datagram_size(&mut self, max_datagram_size: u16) {
        self.max_datagram_size = max_datagram_size;
    }

    /// When a packet of `bytes` may be sent at `rate` bytes per second:
    /// `None` for now, or the time its cost will have accumulated.
    pub fn next_send_time(&self, now: Instant, bytes: u64, rate: u64) -> Option<Instant> {
        let cost = cost(bytes, rate);
        let credit = self.credit_at(now, rate);
        if credit >= cost {
            None
        } else {
            Some(now + Duration::from_nanos(cost - credit))
        }
    }

    /// Spends the cost of a packet of `bytes` sent at `now`. A packet sent
    /// early (a probe, say) leaves the bucket empty, not in debt.
    pub fn on_packet_sent(&mut self, now: Instant, bytes: u64, rate: u64) {
        self.credit = self.credit_at(now, rate).saturating_sub(cost(bytes, rate));
        self.last = Some(now);
    }

    fn capacity(&self, rate: u64) -> u64 {
        cost(BURST_PACKETS * u64::from(self.max_datagram_size), rate)
    }

    fn credit_at(&self, now: Instant, rate: u64) -> u64 {
        let capacity = self.capacity(rate);
        match self.last {
            None => capacity,
            Some(last) => {
                let elapsed = nanos(now.saturating_duration_since(last));
                self.credit.saturating_add(elapsed).min(capacity)
            }
        }
    }
}

/// Nanoseconds it takes to send `bytes` at `rate` bytes per second.
fn cost(bytes: u64, rate: u64) -> u64 {
    if rate == u64::MAX {
        return 0;
    }
    mul_div(bytes, NANOS_PER_SEC, rate)
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_pacer))]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn at(us: u64) -> Instant {
        Instant::from_nanos(us * 1_000)
    }

    #[test]
    fn rate_formula() {
        // 5/4 * 12000 bytes / 100 ms = 150 kB/s.
        assert_eq!(rate(12_000, 100 * MS), 150_000);
        assert_eq!(rate(12_000, Duration::ZERO), u64::MAX);
        // Large windows and small RTTs do not overflow: 5/4 * 2^40 / 10 us.
        assert_eq!(
            rate(1 << 40, Duration::from_micros(10)),
            137_438_953_472_000_000
        );
        assert_eq!(rate(u64::MAX, Duration::from_nanos(1)), u64::MAX);
    }

    #[test]
    fn burst_then_even_intervals() {
        // interval = smoothed_rtt * size / cwnd / N = 100 * 1200 / 12000 / 1.25
        // = 8 ms.
        let r = rate(12_000, 100 * MS);
        let mut pacer = Pacer::new(1200);
        let mut now = at(0);
        for _ in 0..BURST_PACKETS {
            assert_eq!(pacer.next_send_time(now, 1200, r), None);
            pacer.on_packet_sent(now, 1200, r);
        }
        // The burst is spent: the next packet waits one interval.
        assert_eq!(pacer.next_send_time(now, 1200, r), Some(at(8_000)));
        for _ in 0..5 {
            let Some(next) = pacer.next_send_time(now, 1200, r) else {
                break;
            };
            assert_eq!(next, now + 8 * MS);
            now = next;
            assert_eq!(pacer.next_send_time(now, 1200, r), None);
            pacer.on_packet_sent(now, 1200, r);
        }
        assert_eq!(now, at(40_000));
        // A smaller packet costs proportionally less.
        assert_eq!(pacer.next_send_time(now, 600, r), Some(at(44_000)));
    }

    #[test]
    fn idle_refills_up_to_the_burst() {
        let r = rate(12_000, 100 * MS);
        let mut pacer = Pacer::new(1200);
        for _ in 0..BURST_PACKETS {
            pacer.on_packet_sent(at(0), 1200, r);
        }
        // Ten seconds idle: only the burst allowance is available.
        let later = at(10_000_000);
        for _ in 0..BURST_PACKETS {
            assert_eq!(pacer.next_send_time(later, 1200, r), None);
            pacer.on_packet_sent(later, 1200, r);
        }
        assert!(pacer.next_send_time(later, 1200, r).is_some());
    }

    #[test]
    fn frequent_small_refills_lose_nothing() {
        // 1.5 bytes per microsecond; ask every 100 ns.
        let r = 1_500_000;
        let mut pacer = Pacer::new(1200);
        for _ in 0..BURST_PACKETS {
            pacer.on_packet_sent(at(0), 1200, r);
        }
        let mut t = 0;
        while pacer
            .next_send_time(Instant::from_nanos(t), 1200, r)
            .is_some()
        {
            // An empty send brings the bucket up to date each time.
            pacer.on_packet_sent(Instant::from_nanos(t), 0, r);
            t += 100;
        }
        // 1200 bytes at 1.5 bytes/us: 800 us.
        assert_eq!(t, 800_000);
    }

    #[test]
    fn unpaced_when_rtt_is_zero() {
        let mut pacer = Pacer::new(1200);
        for _ in 0..100 {
            assert_eq!(pacer.next_send_time(at(0), 1200, u64::MAX), None);
            pacer.on_packet_sent(at(0), 1200, u64::MAX);
        }
    }
}
