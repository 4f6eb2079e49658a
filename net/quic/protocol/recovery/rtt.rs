// SPDX-License-Identifier: GPL-2.0

//! The round-trip time estimator (RFC 9002 §5).
//!
//! One estimator per network path. It keeps the latest sample, the minimum
//! (which ignores peer-reported ACK delay), the exponentially weighted
//! smoothed RTT and the mean deviation `rttvar`. Which ACK frames produce a
//! sample, and how the peer's ACK delay is capped, is decided by the caller
//! ([`super::Manager`]); this file is the arithmetic of §5.2 and §5.3.

use crate::protocol::recovery::{GRANULARITY, TIME_THRESHOLD_DEN, TIME_THRESHOLD_NUM};
use crate::protocol::time::Instant;
use core::time::Duration;

/// RTT statistics for one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    latest: Duration,
    smoothed: Duration,
    var: Duration,
    min: Duration,
    first_sample: Option<Instant>,
}

impl RttEstimator {
    /// An estimator with no sample yet, assuming `initial_rtt`.
    pub const fn new(initial_rtt: Duration) -> Self {
        Self {
            latest: Duration::ZERO,
            smoothed: initial_rtt,
            var: match initial_rtt.checked_div(2) {
                Some(half) => half,
                None => initial_rtt,
            },
            min: Duration::ZERO,
            first_sample: None,
        }
    }

    /// Forgets every sample and starts over from `initial_rtt`, as on a new
    /// path.
    pub fn reset(&mut self, initial_rtt: Duration) {
        *self = Self::new(initial_rtt);
    }

    /// Feeds the sample `latest_rtt` taken at `now`, with the ACK delay the
    /// peer reported, already capped by the caller where the RFC requires.
    pub fn update(&mut self, now: Instant, latest_rtt: Duration, ack_delay: Duration) {
        self.latest = latest_rtt;
        if self.first_sample.is_none() {
            //= https://www.rfc-editor.org/rfc/rfc9002#section-5.2
            //# min_rtt MUST be set to the latest_rtt on the first RTT sample.
            self.first_sample = Some(now);
            self.min = latest_rtt;
            self.smoothed = latest_rtt;
            self.var = latest_rtt / 2;
            return;
        }
        self.min = self.min.min(latest_rtt);
        //= https://www.rfc-editor.org/rfc/rfc9002#section-5.3
        //# MUST NOT subtract the acknowledgment delay from the RTT sample if the
        //# resulting value is smaller than the min_rtt.
        let adjusted = if latest_rtt >= self.min.saturating_add(ack_delay) {
            latest_rtt - ack_delay
        } else {
            latest_rtt
        };
        let deviation = self.smoothed.abs_diff(adjusted);
        self.var = self.var.saturating_mul(3).saturating_add(deviation) / 4;
        self.smoothed = self.smoothed.saturating_mul(7).saturating_add(adjusted) / 8;
    }

    /// Takes the latest sample as the minimum, as after persistent
    /// congestion (§5.2), so that an RTT increase is not mistaken for it
    /// again.
    pub fn reset_min_rtt(&mut self) {
        if self.first_sample.is_some() {
            self.min = self.latest;
        }
    }

    /// The most recent sample (zero before the first).
    pub const fn latest(&self) -> Duration {
        self.latest
    }

    /// The smoothed RTT.
    pub const fn smoothed(&self) -> Duration {
        self.smoothed
    }

    /// The RTT variation.
    pub const fn var(&self) -> Duration {
        self.var
    }

    /// The minimum RTT seen (zero before the first sample).
    pub const fn min(&self) -> Duration {
        self.min
    }

    /// When the first sample was taken, if any.
    pub const fn first_sample_time(&self) -> Option<Instant> {
        self.first_sample
    }

    /// `smoothed_rtt + max(4 * rttvar, kGranularity)`: the PTO period
    /// without max_ack_delay and backoff.
    pub fn pto_base(&self) -> Duration {
        self.smoothed
            .saturating_add(self.var.saturating_mul(4).max(GRANULARITY))
    }

    /// How long after a later packet was acknowledged an earlier one is
    /// declared lost: `max(9/8 * max(smoothed_rtt, latest_rtt), kGranularity)`.
    pub fn loss_delay(&self) -> Duration {
        let rtt = self.smoothed.max(self.latest);
        (rtt.saturating_mul(TIME_THRESHOLD_NUM) / TIME_THRESHOLD_DEN).max(GRANULARITY)
    }
}

impl Default for RttEstimator {
    fn default() -> Self {
        Self::new(crate::protocol::recovery::INITIAL_RTT)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_rtt))]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn initial_state() {
        let rtt = RttEstimator::default();
        assert_eq!(rtt.smoothed(), Duration::from_millis(333));
        assert_eq!(rtt.var(), Duration::from_micros(166_500));
        assert_eq!(rtt.first_sample_time(), None);
        // PTO base = 333 + 4 * 166.5 = 999 ms.
        assert_eq!(rtt.pto_base(), Duration::from_millis(999));
    }

    #[test]
    fn first_sample_resets_the_estimator() {
        let mut rtt = RttEstimator::default();
        // The ACK delay is ignored for the first sample.
        rtt.update(at(100), 100 * MS, 10 * MS);
        assert_eq!(rtt.latest(), 100 * MS);
        assert_eq!(rtt.min(), 100 * MS);
        assert_eq!(rtt.smoothed(), 100 * MS);
        assert_eq!(rtt.var(), 50 * MS);
        assert_eq!(rtt.first_sample_time(), Some(at(100)));
    }

    #[test]
    fn subsequent_samples_follow_the_rfc_formulas() {
        let mut rtt = RttEstimator::default();
        rtt.update(at(100), 100 * MS, Duration::ZERO);
        // latest 160, ack delay 20 >= min 100 + 20: adjusted = 140.
        // rttvar = 3/4 * 50 + 1/4 * |100 - 140| = 47.5
        // smoothed = 7/8 * 100 + 1/8 * 140 = 105
        rtt.update(at(300), 160 * MS, 20 * MS);
        assert_eq!(rtt.min(), 100 * MS);
        assert_eq!(rtt.var(), Duration::from_micros(47_500));
        assert_eq!(rtt.smoothed(), 105 * MS);
        // latest 110 with ack delay 30: 110 < 100 + 30, so not adjusted.
        // rttvar = 3/4 * 47.5 + 1/4 * |105 - 110| = 36.875
        // smoothed = 7/8 * 105 + 1/8 * 110 = 105.625
        rtt.update(at(500), 110 * MS, 30 * MS);
        assert_eq!(rtt.var(), Duration::from_nanos(36_875_000));
        assert_eq!(rtt.smoothed(), Duration::from_nanos(105_625_000));
        // A lower sample lowers min_rtt, ACK delay or not.
        rtt.update(at(600), 80 * MS, 50 * MS);
        assert_eq!(rtt.min(), 80 * MS);
        assert_eq!(rtt.latest(), 80 * MS);
    }

    #[test]
    fn loss_delay_and_granularity() {
        let mut rtt = RttEstimator::default();
        rtt.update(at(1), 80 * MS, Duration::ZERO);
        // 9/8 * max(80, 80) = 90 ms.
        assert_eq!(rtt.loss_delay(), 90 * MS);
        rtt.update(at(2), 160 * MS, Duration::ZERO);
        // smoothed = 90, latest = 160: 9/8 * 160 = 180 ms.
        assert_eq!(rtt.loss_delay(), 180 * MS);
        let mut tiny = RttEstimator::new(Duration::from_micros(100));
        tiny.update(at(1), Duration::from_micros(100), Duration::ZERO);
        assert_eq!(tiny.loss_delay(), GRANULARITY);
        // 4 * rttvar = 200 us is below the granularity.
        assert_eq!(tiny.pto_base(), Duration::from_micros(1_100));
    }

    #[test]
    fn huge_ack_delay_does_not_overflow() {
        let mut rtt = RttEstimator::default();
        rtt.update(at(1), 10 * MS, Duration::ZERO);
        rtt.update(at(2), 10 * MS, Duration::MAX);
        assert_eq!(rtt.min(), 10 * MS);
        rtt.update(at(3), Duration::MAX, Duration::ZERO);
        assert!(rtt.pto_base() > Duration::from_secs(1));
    }

    #[test]
    fn min_rtt_reset_after_persistent_congestion() {
        let mut rtt = RttEstimator::default();
        rtt.update(at(1), 10 * MS, Duration::ZERO);
        rtt.update(at(2), 50 * MS, Duration::ZERO);
        assert_eq!(rtt.min(), 10 * MS);
        rtt.reset_min_rtt();
        assert_eq!(rtt.min(), 50 * MS);
        rtt.reset(Duration::from_millis(100));
        assert_eq!(rtt.smoothed(), 100 * MS);
        assert_eq!(rtt.first_sample_time(), None);
    }
}
