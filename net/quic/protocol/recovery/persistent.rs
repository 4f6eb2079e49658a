// SPDX-License-Identifier: GPL-2.0

//! Persistent congestion (RFC 9002 §7.6).
//!
//! When every packet sent over a long enough period is lost, the window
//! collapses to its minimum. The period is three PTO periods including the
//! peer's max_ack_delay whatever the space; it must be spanned by two lost
//! ack-eliciting packets with nothing acknowledged in between, both sent
//! after the first RTT sample.
//!
//! [`PersistentCongestion`] is fed the packets one loss detection pass
//! visits, in packet-number order. A packet number missing from the
//! sequence was acknowledged or settled earlier and breaks the run. Only
//! the space being scanned is considered, which RFC 9002 §7.6.2 allows.

use crate::protocol::recovery::rtt::RttEstimator;
use crate::protocol::recovery::PERSISTENT_CONGESTION_THRESHOLD;
use crate::protocol::time::Instant;
use core::time::Duration;

/// The persistent congestion duration:
/// `(smoothed_rtt + max(4 * rttvar, kGranularity) + max_ack_delay) * 3`.
pub fn duration(rtt: &RttEstimator, max_ack_delay: Duration) -> Duration {
    rtt.pto_base()
        .saturating_add(max_ack_delay)
        .saturating_mul(PERSISTENT_CONGESTION_THRESHOLD)
}

/// Looks for a run of losses long enough to be persistent congestion.
#[derive(Clone, Copy, Debug)]
pub struct PersistentCongestion {
    duration: Duration,
    first_rtt_sample: Option<Instant>,
    /// Send time of the first lost ack-eliciting packet of the current run.
    start: Option<Instant>,
    prev_pn: Option<u64>,
    detected: bool,
}

impl PersistentCongestion {
    /// A detector for runs longer than `duration`, counting only packets
    /// sent after `first_rtt_sample`.
    pub const fn new(duration: Duration, first_rtt_sample: Option<Instant>) -> Self {
        Self {
            duration,
            first_rtt_sample,
            start: None,
            prev_pn: None,
            detected: false,
        }
    }

    /// Feeds the next unacknowledged packet, numbered `pn`, and whether it
    /// was just declared lost.
    pub fn on_packet(&mut self, pn: u64, time_sent: Instant, ack_eliciting: bool, lost: bool) {
        let contiguous = self
            .prev_pn
            .is_some_and(|prev| prev.checked_add(1) == Some(pn));
        self.prev_pn = Some(pn);
        if !contiguous || !lost {
            self.start = None;
        }
        if !lost || !ack_eliciting {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9002#section-7.6.2
        //# The persistent congestion period SHOULD NOT start until there is at
        //# least one RTT sample.
        if self.first_rtt_sample.is_none_or(|first| time_sent <= first) {
            return;
        }
        match self.start {
            None => self.start = Some(time_sent),
            Some(start) => {
                if time_sent.saturating_duration_since(start) > self.duration {
                    self.detected = true;
                }
            }
        }
    }

    /// Whether persistent congestion was established.
    pub const fn detected(&self) -> bool {
        self.detected
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_persistent))]
mod tests {
    use super::*;

    fn at(s: u64) -> Instant {
        Instant::from_nanos(s * 1_000_000_000)
    }

    #[test]
    fn duration_formula() {
        let mut rtt = RttEstimator::default();
        rtt.update(at(1), Duration::from_millis(100), Duration::ZERO);
        // (100 + 4 * 50 + 25) * 3 = 975 ms.
        assert_eq!(
            duration(&rtt, Duration::from_millis(25)),
            Duration::from_millis(975)
        );
    }

    /// RFC 9002 §7.6.3: with a PTO of 2 and a threshold of 3, packets 2 to 8
    /// sent from t=1 to t=8 and all lost span 7 > 6. Here the first RTT
    /// sample is taken at t=0.5 so that packet 2 counts.
    #[test]
    fn rfc_example() {
        let times = [1, 2, 3, 4, 5, 6, 8];
        let mut pc = PersistentCongestion::new(Duration::from_secs(6), Some(Instant::ZERO));
        for (pn, t) in (2..).zip(times) {
            pc.on_packet(pn, at(t), true, true);
        }
        assert!(pc.detected());
    }

    #[test]
    fn run_must_exceed_the_duration() {
        let mut pc = PersistentCongestion::new(Duration::from_secs(6), Some(Instant::ZERO));
        for (pn, t) in (2..).zip([2, 3, 5, 8]) {
            pc.on_packet(pn, at(t), true, true);
        }
        // 8 - 2 = 6 is not more than 6.
        assert!(!pc.detected());
    }

    #[test]
    fn acknowledged_packet_breaks_the_run() {
        let mut pc = PersistentCongestion::new(Duration::from_secs(6), Some(Instant::ZERO));
        pc.on_packet(2, at(1), true, true);
        pc.on_packet(3, at(2), true, true);
        // Packet 4 was acknowledged: it is not visited.
        pc.on_packet(5, at(5), true, true);
        pc.on_packet(6, at(8), true, true);
        assert!(!pc.detected());
    }

    #[test]
    fn only_ack_eliciting_packets_after_the_first_sample_count() {
        // Packet 2 is not ack-eliciting: the period starts at packet 3.
        let mut pc = PersistentCongestion::new(Duration::from_secs(6), Some(Instant::ZERO));
        pc.on_packet(2, at(1), false, true);
        pc.on_packet(3, at(3), true, true);
        pc.on_packet(4, at(8), true, true);
        assert!(!pc.detected());
        pc.on_packet(5, at(10), true, true);
        assert!(pc.detected());
        // Packets sent before the first RTT sample do not start a period.
        let mut pc = PersistentCongestion::new(Duration::from_secs(6), Some(at(2)));
        pc.on_packet(2, at(1), true, true);
        pc.on_packet(3, at(8), true, true);
        assert!(!pc.detected());
        // Nor does anything without an RTT sample.
        let mut pc = PersistentCongestion::new(Duration::from_secs(6), None);
        pc.on_packet(2, at(1), true, true);
        pc.on_packet(3, at(20), true, true);
        assert!(!pc.detected());
    }
}
