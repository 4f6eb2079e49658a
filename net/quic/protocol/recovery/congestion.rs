// SPDX-License-Identifier: GPL-2.0

//! Congestion control (RFC 9002 §7).
//!
//! A [`Controller`] owns the congestion window and reacts to three signals:
//! in-flight packets acknowledged, congestion events (loss or an ECN-CE
//! increase, possibly persistent congestion), and packets sent. Bytes in
//! flight are counted by the loss recovery [`Manager`](super::Manager),
//! which compares them with [`Controller::window`].
//!
//! Two controllers are provided: [`NewReno`] (RFC 9002 §7 and Appendix B)
//! and [`Cubic`] (RFC 9438). The socket option picks one by [`Algorithm`];
//! [`AnyController`] holds either without a `Box` or `dyn`.
//!
//! Both enter a recovery period on a congestion event and ignore further
//! events for packets sent before it started, and neither grows the window
//! while the sender is application-limited (§7.8).

pub mod cubic;
pub mod new_reno;

pub use cubic::Cubic;
pub use new_reno::NewReno;

use crate::protocol::recovery::pacer;
use crate::protocol::recovery::rtt::RttEstimator;
use crate::protocol::time::Instant;

/// The smallest maximum datagram size QUIC allows (RFC 9000 §14).
pub const MIN_DATAGRAM_SIZE: u16 = 1200;

/// The initial window: ten datagrams, limited to the larger of 14,720
/// bytes and two datagrams (RFC 9002 §7.2).
pub const fn initial_window(max_datagram_size: u16) -> u64 {
    let mds = max_datagram_size as u64;
    let limit = if 2 * mds > 14_720 { 2 * mds } else { 14_720 };
    if 10 * mds < limit {
        10 * mds
    } else {
        limit
    }
}

/// The minimum window: two datagrams (RFC 9002 §7.2).
pub const fn minimum_window(max_datagram_size: u16) -> u64 {
    2 * max_datagram_size as u64
}

/// A congestion control algorithm.
pub trait Controller {
    /// A packet of `bytes` counting towards bytes in flight was sent;
    /// `bytes_in_flight` includes it.
    fn on_packet_sent(&mut self, now: Instant, bytes: u64, bytes_in_flight: u64) {
        let _ = (now, bytes, bytes_in_flight);
    }

    /// An in-flight packet of `bytes` sent at `time_sent` was newly
    /// acknowledged. `app_limited` says whether the sender has been leaving
    /// the window unused for lack of data or flow control credit.
    fn on_ack(
        &mut self,
        now: Instant,
        time_sent: Instant,
        bytes: u64,
        app_limited: bool,
        rtt: &RttEstimator,
    );

    /// In-flight packets were declared lost, the most recent of them sent at
    /// `time_sent`, or (`ecn`) the peer reported more CE marks for packets
    /// up to one sent at `time_sent`. `persistent_congestion` asks for the
    /// window to collapse to its minimum.
    fn on_congestion_event(
        &mut self,
        now: Instant,
        time_sent: Instant,
        persistent_congestion: bool,
        ecn: bool,
    );

    /// The congestion window, in bytes.
    fn window(&self) -> u64;

    /// The slow start threshold, in bytes (`u64::MAX` until the first
    /// congestion event).
    fn ssthresh(&self) -> u64;

    /// The path's maximum datagram size changed.
    fn set_max_datagram_size(&mut self, max_datagram_size: u16);

    /// The rate to pace packets at, in bytes per second.
    fn pacing_rate(&self, rtt: &RttEstimator) -> u64 {
        pacer::rate(self.window(), rtt.smoothed())
    }
}

/// The congestion control algorithms, numbered as in the UAPI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// NewReno, `QUIC_CONG_ALG_RENO`.
    NewReno = 0,
    /// CUBIC, `QUIC_CONG_ALG_CUBIC`.
    #[default]
    Cubic = 1,
}

impl Algorithm {
    /// The algorithm for a UAPI value, if it names one.
    pub const fn from_uapi(value: u32) -> Option<Self> {
        match value {
            0 => Some(Algorithm::NewReno),
            1 => Some(Algorithm::Cubic),
            _ => None,
        }
    }

    /// The UAPI value.
    pub const fn uapi(self) -> u32 {
        self as u32
    }

    /// A controller running this algorithm, starting in slow start.
    pub fn controller(self, max_datagram_size: u16) -> AnyController {
        match self {
            Algorithm::NewReno => AnyController::NewReno(NewReno::new(max_datagram_size)),
            Algorithm::Cubic => AnyController::Cubic(Cubic::new(max_datagram_size)),
        }
    }
}

/// One of the built-in controllers.
#[derive(Clone, Debug)]
pub enum AnyController {
    /// NewReno.
    NewReno(NewReno),
    /// CUBIC.
    Cubic(Cubic),
}

impl AnyController {
    /// Which algorithm runs.
    pub const fn algorithm(&self) -> Algorithm {
        match self {
            AnyController::NewReno(_) => Algorithm::NewReno,
            AnyController::Cubic(_) => Algorithm::Cubic,
        }
    }
}

/// Forwards a call to the controller inside an [`AnyController`].
macro_rules! dispatch {
    ($self:expr, $c:ident => $call:expr) => {
        match $self {
            AnyController::NewReno($c) => $call,
            AnyController::Cubic($c) => $call,
        }
    };
}

impl Controller for AnyController {
    fn on_packet_sent(&mut self, now: Instant, bytes: u64, bytes_in_flight: u64) {
        dispatch!(self, c => c.on_packet_sent(now, bytes, bytes_in_flight))
    }

    fn on_ack(
        &mut self,
        now: Instant,
        time_sent: Instant,
        bytes: u64,
        app_limited: bool,
        rtt: &RttEstimator,
    ) {
        dispatch!(self, c => c.on_ack(now, time_sent, bytes, app_limited, rtt))
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        time_sent: Instant,
        persistent_congestion: bool,
        ecn: bool,
    ) {
        dispatch!(self, c => {
            c.on_congestion_event(now, time_sent, persistent_congestion, ecn)
        })
    }

    fn window(&self) -> u64 {
        dispatch!(self, c => c.window())
    }

    fn ssthresh(&self) -> u64 {
        dispatch!(self, c => c.ssthresh())
    }

    fn set_max_datagram_size(&mut self, max_datagram_size: u16) {
        dispatch!(self, c => c.set_max_datagram_size(max_datagram_size))
    }

    fn pacing_rate(&self, rtt: &RttEstimator) -> u64 {
        dispatch!(self, c => c.pacing_rate(rtt))
    }
}

/// The state every controller keeps the same way (RFC 9002 §7): the
/// congestion window, the slow start threshold, the recovery period and the
/// maximum datagram size. A controller adds only how the window grows in
/// congestion avoidance and how much a congestion event takes off it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    max_datagram_size: u16,
    cwnd: u64,
    ssthresh: u64,
    recovery: RecoveryPeriod,
}

impl Window {
    /// The initial window, in slow start, for datagrams of
    /// `max_datagram_size` (raised to the QUIC minimum).
    pub fn new(max_datagram_size: u16) -> Self {
        let mds = max_datagram_size.max(MIN_DATAGRAM_SIZE);
        Self {
            max_datagram_size: mds,
            cwnd: initial_window(mds),
            ssthresh: u64::MAX,
            recovery: RecoveryPeriod::default(),
        }
    }

    /// The congestion window, in bytes.
    pub const fn cwnd(&self) -> u64 {
        self.cwnd
    }

    /// The slow start threshold, in bytes.
    pub const fn ssthresh(&self) -> u64 {
        self.ssthresh
    }

    /// The maximum datagram size, in bytes.
    pub const fn mds(&self) -> u64 {
        self.max_datagram_size as u64
    }

    /// The minimum window: two datagrams.
    pub const fn minimum(&self) -> u64 {
        minimum_window(self.max_datagram_size)
    }

    /// Whether a packet sent at `time_sent` belongs to the recovery period.
    pub fn in_recovery(&self, time_sent: Instant) -> bool {
        self.recovery.covers(time_sent)
    }

    /// Grows the window by `bytes` in congestion avoidance.
    pub fn grow(&mut self, bytes: u64) {
        self.cwnd = self.cwnd.saturating_add(bytes);
    }

    /// Raises the window to at least `cwnd`.
    pub fn raise_to(&mut self, cwnd: u64) {
        self.cwnd = self.cwnd.max(cwnd);
    }

    /// An in-flight packet of `bytes` sent at `time_sent` was
    /// acknowledged. Grows the window in slow start; returns whether the
    /// window is in congestion avoidance, where the controller grows it.
    pub fn on_ack(&mut self, time_sent: Instant, bytes: u64, app_limited: bool) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc9002#section-7.8
        //# When this occurs, the congestion window SHOULD NOT be increased in
        //# either slow start or congestion avoidance.
        if app_limited || self.recovery.covers(time_sent) {
            return false;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd = self.cwnd.saturating_add(bytes);
            return false;
        }
        true
    }

    /// A congestion event for packets up to one sent at `time_sent`. Unless
    /// the recovery period covers it, a new period starts at `now` with the
    /// threshold `ssthresh(cwnd)` and the window reduced to it (at least
    /// the minimum window). Persistent congestion then collapses the window
    /// to the minimum and ends the period. Returns whether the window was
    /// reduced, for the controller to restart its growth state.
    pub fn on_congestion_event(
        &mut self,
        now: Instant,
        time_sent: Instant,
        persistent_congestion: bool,
        ssthresh: impl FnOnce(u64) -> u64,
    ) -> bool {
        let new_period = !self.recovery.covers(time_sent);
        if new_period {
            //= https://www.rfc-editor.org/rfc/rfc9002#section-7.3.2
            //# On entering a recovery period, a sender MUST set the slow start
            //# threshold to half the value of the congestion window when loss is
            //# detected.
            self.recovery.enter(now);
            self.ssthresh = ssthresh(self.cwnd);
            self.cwnd = self.ssthresh.max(self.minimum());
        }
        if persistent_congestion {
            //= https://www.rfc-editor.org/rfc/rfc9002#section-7.6.2
            //# When persistent congestion is declared, the sender's congestion
            //# window MUST be reduced to the minimum congestion window
            self.cwnd = self.minimum();
            self.recovery.reset();
        }
        new_period || persistent_congestion
    }

    /// The path's maximum datagram size changed.
    pub fn set_max_datagram_size(&mut self, max_datagram_size: u16) {
        self.max_datagram_size = max_datagram_size.max(MIN_DATAGRAM_SIZE);
        self.cwnd = self.cwnd.max(self.minimum());
    }
}

/// The recovery period shared by the controllers (RFC 9002 §7.3.2): it
/// starts at a congestion event and covers the packets sent until then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryPeriod {
    start: Option<Instant>,
}

impl RecoveryPeriod {
    /// Whether a packet sent at `time_sent` was sent before the current
    /// recovery period started, so that its loss or acknowledgment belongs
    /// to it.
    pub fn covers(&self, time_sent: Instant) -> bool {
        self.start.is_some_and(|start| time_sent <= start)
    }

    /// Starts a recovery period at `now`.
    pub fn enter(&mut self, now: Instant) {
        self.start = Some(now);
    }

    /// Ends any recovery period, as after persistent congestion.
    pub fn reset(&mut self) {
        self.start = None;
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_congestion))]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(initial_window(1200), 12_000);
        assert_eq!(initial_window(1472), 14_720);
        assert_eq!(initial_window(1500), 14_720);
        assert_eq!(initial_window(9000), 18_000);
        assert_eq!(minimum_window(1200), 2_400);
    }

    #[test]
    fn algorithm_selection() {
        assert_eq!(Algorithm::from_uapi(0), Some(Algorithm::NewReno));
        assert_eq!(Algorithm::from_uapi(1), Some(Algorithm::Cubic));
        assert_eq!(Algorithm::from_uapi(2), None);
        for alg in [Algorithm::NewReno, Algorithm::Cubic] {
            assert_eq!(Algorithm::from_uapi(alg.uapi()), Some(alg));
            let c = alg.controller(1200);
            assert_eq!(c.algorithm(), alg);
            assert_eq!(c.window(), 12_000);
            assert_eq!(c.ssthresh(), u64::MAX);
        }
    }

    #[test]
    fn window_slow_start_recovery_and_collapse() {
        let at = Instant::from_nanos;
        let mut w = Window::new(1000);
        // Raised to the QUIC minimum datagram size.
        assert_eq!((w.mds(), w.cwnd(), w.minimum()), (1200, 12_000, 2_400));
        assert!(!w.on_ack(at(1), 1200, false));
        assert_eq!(w.cwnd(), 13_200);
        assert!(!w.on_ack(at(2), 1200, true));
        assert_eq!(w.cwnd(), 13_200);
        // A congestion event: the threshold the controller computes, once.
        assert!(w.on_congestion_event(at(10), at(5), false, |c| c / 2));
        assert_eq!((w.ssthresh(), w.cwnd()), (6_600, 6_600));
        assert!(w.in_recovery(at(10)));
        assert!(!w.on_congestion_event(at(11), at(9), false, |_| 0));
        assert_eq!(w.cwnd(), 6_600);
        // Acknowledgments from the recovery period do not grow it; later
        // ones are congestion avoidance, for the controller.
        assert!(!w.on_ack(at(9), 1200, false));
        assert!(w.on_ack(at(11), 1200, false));
        w.grow(100);
        w.raise_to(6_000);
        assert_eq!(w.cwnd(), 6_700);
        // Never below the minimum window; persistent congestion collapses.
        assert!(w.on_congestion_event(at(20), at(15), false, |_| 0));
        assert_eq!((w.ssthresh(), w.cwnd()), (0, 2_400));
        assert!(w.on_congestion_event(at(30), at(12), true, |_| 0));
        assert_eq!(w.cwnd(), 2_400);
        assert!(!w.in_recovery(at(12)));
        w.set_max_datagram_size(1500);
        assert_eq!(w.cwnd(), 3_000);
    }

    #[test]
    fn recovery_period() {
        let mut period = RecoveryPeriod::default();
        assert!(!period.covers(Instant::ZERO));
        period.enter(Instant::from_nanos(100));
        assert!(period.covers(Instant::from_nanos(100)));
        assert!(!period.covers(Instant::from_nanos(101)));
        period.reset();
        assert!(!period.covers(Instant::from_nanos(1)));
    }
}
