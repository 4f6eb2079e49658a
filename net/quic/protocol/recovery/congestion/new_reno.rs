// SPDX-License-Identifier: GPL-2.0

//! NewReno (RFC 9002 §7.3 and Appendix B).
//!
//! Slow start grows the window by the bytes acknowledged until the slow
//! start threshold; congestion avoidance then adds one datagram per window
//! acknowledged, counted in bytes (RFC 3465 §2.1) so that integer division
//! loses nothing. A congestion event halves the window and starts a
//! recovery period; persistent congestion collapses it to two datagrams.

use crate::protocol::recovery::congestion::{Controller, Window};
use crate::protocol::recovery::rtt::RttEstimator;
use crate::protocol::time::Instant;

/// The NewReno congestion controller.
#[derive(Clone, Debug)]
pub struct NewReno {
    window: Window,
    /// Bytes acknowledged in congestion avoidance since the window last grew.
    bytes_acked: u64,
}

impl NewReno {
    /// A controller in slow start with the initial window.
    pub fn new(max_datagram_size: u16) -> Self {
        Self {
            window: Window::new(max_datagram_size),
            bytes_acked: 0,
        }
    }

    /// Whether a packet sent at `time_sent` belongs to the recovery period.
    pub fn in_recovery(&self, time_sent: Instant) -> bool {
        self.window.in_recovery(time_sent)
    }
}

impl Controller for NewReno {
    fn on_ack(
        &mut self,
        _now: Instant,
        time_sent: Instant,
        bytes: u64,
        app_limited: bool,
        _rtt: &RttEstimator,
    ) {
        if !self.window.on_ack(time_sent, bytes, app_limited) {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9002#section-7.3.3
        //# A sender in congestion avoidance uses an Additive Increase
        //# Multiplicative Decrease (AIMD) approach that MUST limit the increase
        //# to the congestion window to at most one maximum datagram size for
        //# each congestion window that is acknowledged.
        self.bytes_acked = self.bytes_acked.saturating_add(bytes);
        let cwnd = self.window.cwnd();
        if self.bytes_acked >= cwnd {
            self.bytes_acked -= cwnd;
            self.window.grow(self.window.mds());
        }
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        time_sent: Instant,
        persistent_congestion: bool,
        _ecn: bool,
    ) {
        // kLossReductionFactor: half the window.
        if self
            .window
            .on_congestion_event(now, time_sent, persistent_congestion, |cwnd| cwnd / 2)
        {
            self.bytes_acked = 0;
        }
    }

    fn window(&self) -> u64 {
        self.window.cwnd()
    }

    fn ssthresh(&self) -> u64 {
        self.window.ssthresh()
    }

    fn set_max_datagram_size(&mut self, max_datagram_size: u16) {
        self.window.set_max_datagram_size(max_datagram_size);
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_new_reno))]
mod tests {
    use super::*;

    const MDS: u64 = 1200;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn slow_start_grows_by_bytes_acknowledged() {
        let rtt = RttEstimator::default();
        let mut cc = NewReno::new(1200);
        assert_eq!(cc.window(), 12_000);
        for i in 0..10 {
            cc.on_ack(at(100), at(i), MDS, false, &rtt);
        }
        assert_eq!(cc.window(), 24_000);
    }

    #[test]
    fn app_limited_does_not_grow() {
        let rtt = RttEstimator::default();
        let mut cc = NewReno::new(1200);
        cc.on_ack(at(100), at(1), MDS, true, &rtt);
        assert_eq!(cc.window(), 12_000);
    }

    #[test]
    fn loss_halves_the_window_once_per_recovery_period() {
        let rtt = RttEstimator::default();
        let mut cc = NewReno::new(1200);
        for i in 0..10 {
            cc.on_ack(at(100), at(i), MDS, false, &rtt);
        }
        cc.on_congestion_event(at(200), at(150), false, false);
        assert_eq!(cc.window(), 12_000);
        assert_eq!(cc.ssthresh(), 12_000);
        assert!(cc.in_recovery(at(200)));
        // Another loss of a packet sent before recovery started: no change.
        cc.on_congestion_event(at(210), at(190), false, false);
        assert_eq!(cc.window(), 12_000);
        // Acknowledgments of packets sent before recovery do not grow it.
        cc.on_ack(at(220), at(199), MDS, false, &rtt);
        assert_eq!(cc.window(), 12_000);
        // A loss of a packet sent after recovery started is a new event.
        cc.on_congestion_event(at(400), at(201), true, false);
        assert_eq!(cc.ssthresh(), 6_000);
        // ... here with persistent congestion: the minimum window.
        assert_eq!(cc.window(), 2 * MDS);
        assert!(!cc.in_recovery(at(201)));
    }

    #[test]
    fn congestion_avoidance_adds_one_datagram_per_window() {
        let rtt = RttEstimator::default();
        let mut cc = NewReno::new(1200);
        cc.on_congestion_event(at(10), at(5), false, false);
        assert_eq!(cc.window(), 6_000);
        // Five 1200-byte packets sent after recovery make one window.
        for i in 0..4 {
            cc.on_ack(at(100), at(20 + i), MDS, false, &rtt);
            assert_eq!(cc.window(), 6_000);
        }
        cc.on_ack(at(100), at(30), MDS, false, &rtt);
        assert_eq!(cc.window(), 6_000 + MDS);
        // The next increase needs a full 7200-byte window.
        for i in 0..5 {
            cc.on_ack(at(200), at(40 + i), MDS, false, &rtt);
        }
        assert_eq!(cc.window(), 6_000 + MDS);
        cc.on_ack(at(200), at(50), MDS, false, &rtt);
        assert_eq!(cc.window(), 6_000 + 2 * MDS);
    }

    #[test]
    fn window_never_below_minimum() {
        let mut cc = NewReno::new(1200);
        for i in 0..10 {
            cc.on_congestion_event(at(10 * i + 10), at(10 * i + 5), false, true);
        }
        assert_eq!(cc.window(), 2 * MDS);
        cc.set_max_datagram_size(1500);
        assert_eq!(cc.window(), 3_000);
        // Sizes below the QUIC minimum are raised to it.
        let cc = NewReno::new(100);
        assert_eq!(cc.window(), 12_000);
    }
}
