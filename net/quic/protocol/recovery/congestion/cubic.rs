// SPDX-License-Identifier: GPL-2.0

//! CUBIC (RFC 9438), in integer arithmetic.
//!
//! In congestion avoidance the window follows
//! `W_cubic(t) = C * (t - K)^3 + W_max` with `C = 0.4` datagrams/s^3, `t` the
//! time since the avoidance epoch began and `K` the time the curve takes
//! to climb back to `W_max`, the window before the last reduction. Each ACK
//! moves the window towards `W_cubic(t + RTT)`, clamped to 1.5 times the
//! window. Where standard Reno would be faster (the Reno-friendly region),
//! the window tracks the Reno estimate `W_est` instead. A congestion event
//! multiplies the window by `beta = 0.7`; fast convergence lowers `W_max`
//! further when the window had not recovered to the previous `W_max`.
//!
//! Like Linux's `tcp_cubic.c`, time is counted in units of 2^-10 s so that
//! `(t - K)^3` fits 64 bits for 2^21 units (about 34 minutes), and
//! `K = cbrt((W_max - cwnd_epoch) / C)` is an exact integer cube root. Slow
//! start is the standard one (no HyStart++).

use crate::protocol::recovery::arith::{mul_div, nanos};
use crate::protocol::recovery::congestion::{Controller, Window};
use crate::protocol::recovery::rtt::RttEstimator;
use crate::protocol::time::Instant;

/// `C` = 0.4 = `C_NUM / C_DEN`.
const C_NUM: u64 = 4;
const C_DEN: u64 = 10;
/// `beta_cubic` = 0.7 = `BETA_NUM / BETA_DEN`.
const BETA_NUM: u64 = 7;
const BETA_DEN: u64 = 10;
/// `(1 + beta_cubic) / 2` = 0.85, for fast convergence.
const FAST_CONVERGENCE_NUM: u64 = 17;
const FAST_CONVERGENCE_DEN: u64 = 20;
/// `alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic)` = 9/17.
const ALPHA_NUM: u64 = 9;
const ALPHA_DEN: u64 = 17;

/// Time units per second: `t` and `K` are in 2^-10 s.
const UNITS_PER_SEC: u64 = 1 << 10;
/// Beyond this distance from `K`, in time units, the curve stops growing
/// (2^21 units cubed still fits 64 bits).
const MAX_OFFSET: u64 = (1 << 21) - 1;

/// The floor of the cube root of `x`, digit by digit (Hacker's Delight
/// §11-2): 22 steps of three bits.
pub fn cube_root(mut x: u64) -> u64 {
    let mut y: u64 = 0;
    let mut shift: i32 = 63;
    while shift >= 0 {
        y *= 2;
        // (y + 1)^3 - y^3 for the doubled y; at most 3 * 2^42 + 1.
        let b = 3 * y * (y + 1) + 1;
        if (x >> shift) >= b {
            x -= b << shift;
            y += 1;
        }
        shift -= 3;
    }
    y
}

/// A congestion avoidance epoch: from the first ACK after a reduction.
#[derive(Clone, Copy, Debug)]
struct Epoch {
    start: Instant,
    /// K, in time units.
    k: u64,
    /// The window the curve plateaus at: W_max, or the window at the start
    /// of the epoch if that is larger.
    origin: u64,
    /// The Reno-friendly estimate W_est, in bytes.
    w_est: u64,
    /// Remainder of the W_est increase, over `ALPHA_DEN * window`.
    w_est_rem: u64,
}

/// The CUBIC congestion controller.
#[derive(Clone, Debug)]
pub struct Cubic {
    window: Window,
    /// W_max: the window before the last reduction, lowered by fast
    /// convergence.
    w_max: u64,
    /// The window just before the last reduction, where alpha becomes 1.
    cwnd_prior: u64,
    epoch: Option<Epoch>,
    /// Remainder of the window increase, over the window.
    window_rem: u64,
    last_sent: Option<Instant>,
}

impl Cubic {
    /// A controller in slow start with the initial window.
    pub fn new(max_datagram_size: u16) -> Self {
        Self {
            window: Window::new(max_datagram_size),
            w_max: 0,
            cwnd_prior: 0,
            epoch: None,
            window_rem: 0,
            last_sent: None,
        }
    }

    /// W_max, in bytes.
    pub const fn w_max(&self) -> u64 {
        self.w_max
    }

    /// K of the current epoch, in units of 2^-10 s.
    pub fn k(&self) -> Option<u64> {
        self.epoch.map(|e| e.k)
    }

    /// Whether a packet sent at `time_sent` belongs to the recovery period.
    pub fn in_recovery(&self, time_sent: Instant) -> bool {
        self.window.in_recovery(time_sent)
    }

    fn mds(&self) -> u64 {
        self.window.mds()
    }

    fn start_epoch(&self, now: Instant) -> Epoch {
        let cwnd = self.window.cwnd();
        let (k, origin) = if self.w_max > cwnd {
            // K = cbrt((W_max - cwnd) / (C * mds)) s, in 2^-10 s units:
            // cbrt((W_max - cwnd) / mds / C * 2^30).
            let segments_over_c = mul_div(
                self.w_max - cwnd,
                C_DEN * UNITS_PER_SEC * UNITS_PER_SEC * UNITS_PER_SEC,
                C_NUM * self.mds(),
            );
            (cube_root(segments_over_c), self.w_max)
        } else {
            (0, cwnd)
        };
        Epoch {
            start: now,
            k,
            origin,
            w_est: cwnd,
            w_est_rem: 0,
        }
    }

    /// `W_cubic(t)` in bytes, `t` in time units since the epoch start.
    fn w_cubic(&self, epoch: &Epoch, t: u64) -> u64 {
        let (offset, above) = if t >= epoch.k {
            (t - epoch.k, true)
        } else {
            (epoch.k - t, false)
        };
        let offset = offset.min(MAX_OFFSET);
        // C * offset^3 / 2^30 datagrams.
        let delta = mul_div(
            offset * offset * offset,
            C_NUM * self.mds(),
            C_DEN * UNITS_PER_SEC * UNITS_PER_SEC * UNITS_PER_SEC,
        );
        if above {
            epoch.origin.saturating_add(delta)
        } else {
            epoch.origin.saturating_sub(delta)
        }
    }

    fn congestion_avoidance(&mut self, now: Instant, bytes: u64, rtt: &RttEstimator) {
        let mut epoch = match self.epoch {
            Some(epoch) => epoch,
            None => self.start_epoch(now),
        };
        let elapsed = nanos(now.saturating_duration_since(epoch.start));
        let t = mul_div(elapsed, UNITS_PER_SEC, 1_000_000_000);
        let rtt_units = mul_div(nanos(rtt.smoothed()), UNITS_PER_SEC, 1_000_000_000);

        // Reno-friendly estimate: W_est += alpha * acked / cwnd datagrams.
        let (alpha_num, alpha_den) = if epoch.w_est >= self.cwnd_prior {
            (1, 1)
        } else {
            (ALPHA_NUM, ALPHA_DEN)
        };
        let cwnd = self.window.cwnd();
        let den = alpha_den.saturating_mul(cwnd).max(1);
        epoch.w_est_rem = epoch
            .w_est_rem
            .saturating_add(alpha_num.saturating_mul(bytes).saturating_mul(self.mds()));
        epoch.w_est = epoch.w_est.saturating_add(epoch.w_est_rem / den);
        epoch.w_est_rem %= den;

        //= https://www.rfc-editor.org/rfc/rfc9438#section-4.3
        //# When receiving a new ACK in congestion avoidance (where cwnd could
        //# be greater than or less than W_max), CUBIC checks whether W_cubic(t)
        //# is less than W_est. If so, CUBIC is in the Reno-friendly region and
        //# cwnd SHOULD be set to W_est at each reception of a new ACK.
        if self.w_cubic(&epoch, t) < epoch.w_est {
            self.window.raise_to(epoch.w_est);
        } else {
            // Concave or convex region: grow towards W_cubic(t + RTT),
            // by (target - cwnd) / cwnd per datagram acknowledged.
            let max_target = cwnd.saturating_add(cwnd / 2);
            let target = self
                .w_cubic(&epoch, t.saturating_add(rtt_units))
                .clamp(cwnd, max_target);
            self.window_rem = self
                .window_rem
                .saturating_add((target - cwnd).saturating_mul(bytes));
            let divisor = cwnd.max(1);
            self.window.grow(self.window_rem / divisor);
            self.window_rem %= divisor;
        }
        self.epoch = Some(epoch);
    }
}

impl Controller for Cubic {
    fn on_packet_sent(&mut self, now: Instant, bytes: u64, bytes_in_flight: u64) {
        // Restarting after an idle period: shift the epoch by the idle time
        // so that the curve does not jump ahead (Linux's CA_EVENT_TX_START).
        if bytes_in_flight <= bytes {
            if let (Some(epoch), Some(last)) = (self.epoch.as_mut(), self.last_sent) {
                epoch.start = (epoch.start + now.saturating_duration_since(last)).min(now);
            }
        }
        self.last_sent = Some(now);
    }

    fn on_ack(
        &mut self,
        now: Instant,
        time_sent: Instant,
        bytes: u64,
        app_limited: bool,
        rtt: &RttEstimator,
    ) {
        if self.window.on_ack(time_sent, bytes, app_limited) {
            self.congestion_avoidance(now, bytes, rtt);
        }
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        time_sent: Instant,
        persistent_congestion: bool,
        _ecn: bool,
    ) {
        let minimum = self.window.minimum();
        let (w_max, cwnd_prior) = (&mut self.w_max, &mut self.cwnd_prior);
        let reduced =
            self.window
                .on_congestion_event(now, time_sent, persistent_congestion, |cwnd| {
                    //= https://www.rfc-editor.org/rfc/rfc9438#section-4.7
                    //# With fast convergence, when a congestion event occurs, W_max is
                    //# updated as follows, before the window reduction
                    *w_max = if cwnd < *w_max {
                        mul_div(cwnd, FAST_CONVERGENCE_NUM, FAST_CONVERGENCE_DEN)
                    } else {
                        cwnd
                    };
                    *cwnd_prior = cwnd;
                    mul_div(cwnd, BETA_NUM, BETA_DEN).max(minimum)
                });
        if reduced {
            self.epoch = None;
            self.window_rem = 0;
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
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_cubic))]
mod tests {
    use super::*;
    use core::time::Duration;

    const MDS: u64 = 1200;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn rtt(ms: u64) -> RttEstimator {
        let mut rtt = RttEstimator::default();
        rtt.update(at(0), Duration::from_millis(ms), Duration::ZERO);
        rtt
    }

    #[test]
    fn cube_roots() {
        for x in [0u64, 1, 7, 8, 26, 27, 1000, 999, 1 << 30, u64::MAX] {
            let y = cube_root(x);
            assert!(y * y * y <= x);
            let next = y + 1;
            assert!(next
                .checked_mul(next)
                .and_then(|s| s.checked_mul(next))
                .is_none_or(|c| c > x));
        }
        assert_eq!(cube_root(27), 3);
        assert_eq!(cube_root(u64::MAX), 2_642_245);
    }

    /// Grows the window in slow start to `segments`, then loses a packet.
    fn after_loss(segments: u64) -> Cubic {
        let r = rtt(100);
        let mut cc = Cubic::new(1200);
        while cc.window() < segments * MDS {
            cc.on_ack(at(1), at(0), MDS, false, &r);
        }
        cc.on_congestion_event(at(10), at(5), false, false);
        cc
    }

    #[test]
    fn reduction_by_beta() {
        let cc = after_loss(100);
        assert_eq!(cc.w_max(), 100 * MDS);
        assert_eq!(cc.window(), 70 * MDS);
        assert_eq!(cc.ssthresh(), 70 * MDS);
        assert!(cc.in_recovery(at(10)));
    }

    #[test]
    fn fast_convergence() {
        let mut cc = after_loss(100);
        // A second loss before the window got back to W_max = 100.
        cc.on_congestion_event(at(100), at(50), false, false);
        // W_max = 70 * 0.85 = 59.5 datagrams; window = 70 * 0.7 = 49.
        assert_eq!(cc.w_max(), 70 * MDS * 17 / 20);
        assert_eq!(cc.window(), 49 * MDS);
    }

    #[test]
    fn k_matches_the_rfc() {
        // W_max = 100, cwnd = 70: K = cbrt(30 / 0.4) = cbrt(75) = 4.217 s.
        let mut cc = after_loss(100);
        cc.on_ack(at(20), at(15), MDS, false, &rtt(100));
        let k = cc.k().unwrap_or(0);
        // 4.2172 * 1024 = 4318.5
        assert!((4317..=4319).contains(&k));
    }

    /// W_cubic(t) = 0.4 * (t - K)^3 + W_max in bytes, t and K in ms.
    fn rfc_w_cubic(t_ms: i64, k_ms: i64, w_max: i64) -> i64 {
        let d = t_ms - k_ms;
        w_max + 4 * d * d * d * MDS as i64 / 10 / 1_000_000_000
    }

    /// Simulates a fully used window acknowledged one datagram at a time,
    /// every RTT, and compares the window with the RFC: the larger of the
    /// cubic curve and the Reno estimate W_est, which grows by alpha = 9/17
    /// datagram per RTT, then by 1 once it reaches the window before the
    /// loss.
    #[test]
    fn growth_follows_the_rfc() {
        let rtt_ms = 100;
        let r = rtt(rtt_ms);
        let mut cc = after_loss(100);
        let w_max = 100 * MDS as i64;
        let k_ms = 4217;
        // W_est in thousandths of a datagram.
        let mut w_est = 70_000i64;
        let mut now_ms = 20;
        let (mut cubic_rounds, mut reno_rounds) = (0, 0);
        while now_ms < 12_000 {
            // One RTT worth of acknowledgments, spread over the RTT.
            let acks = cc.window() / MDS;
            for i in 0..acks {
                let t = now_ms + i * rtt_ms / acks;
                cc.on_ack(at(t), at(t - 5), MDS, false, &r);
            }
            now_ms += rtt_ms;
            w_est += if w_est >= 100_000 { 1000 } else { 9000 / 17 };
            // The window tracks W_cubic(t + RTT) one RTT behind, i.e.
            // W_cubic(t) at the end of the round, t from the epoch start.
            let cubic = rfc_w_cubic(now_ms as i64 - 20, k_ms, w_max);
            let reno = w_est * MDS as i64 / 1000;
            if cubic >= reno {
                cubic_rounds += 1;
            } else {
                reno_rounds += 1;
            }
            let expected = cubic.max(reno);
            // Within 3% of the RFC (or of one datagram).
            let tolerance = (expected * 3 / 100).max(MDS as i64);
            assert!((cc.window() as i64 - expected).abs() <= tolerance);
        }
        // Both regions were exercised.
        assert!(cubic_rounds > 30);
        assert!(reno_rounds > 10);
        // Well past K the curve is convex: above W_max.
        assert!(cc.window() > 130 * MDS);
    }

    #[test]
    fn reno_friendly_region() {
        // With a tiny RTT Reno grows faster than the curve: the window
        // follows W_est, which adds alpha = 9/17 datagram per window.
        let r = rtt(1);
        let mut cc = after_loss(100);
        let start = cc.window();
        for now in 20..37 {
            let acks = cc.window() / MDS;
            for _ in 0..acks {
                cc.on_ack(at(now), at(now - 1), MDS, false, &r);
            }
        }
        // 17 windows acknowledged over 17 ms: about 9 datagrams of W_est
        // growth, while W_cubic(17 ms) is still near 70.
        let grown = (cc.window() - start) / MDS;
        assert!((8..=10).contains(&grown));
    }

    #[test]
    fn app_limited_and_recovery_do_not_grow() {
        let r = rtt(100);
        let mut cc = after_loss(100);
        let w = cc.window();
        cc.on_ack(at(2_000), at(1_000), MDS, true, &r);
        // Sent before the recovery period started at 10 ms.
        cc.on_ack(at(2_000), at(9), MDS, false, &r);
        assert_eq!(cc.window(), w);
    }

    #[test]
    fn persistent_congestion_collapses_the_window() {
        let mut cc = after_loss(100);
        cc.on_congestion_event(at(500), at(400), true, false);
        assert_eq!(cc.window(), 2 * MDS);
        assert!(!cc.in_recovery(at(400)));
        // Back to slow start below ssthresh.
        cc.on_ack(at(600), at(550), MDS, false, &rtt(100));
        assert_eq!(cc.window(), 3 * MDS);
    }

    #[test]
    fn idle_time_shifts_the_epoch() {
        let r = rtt(100);
        let mut cc = after_loss(100);
        cc.on_packet_sent(at(20), MDS, 50 * MDS);
        cc.on_ack(at(100), at(20), MDS, false, &r);
        let start = cc.epoch.map(|e| e.start);
        assert_eq!(start, Some(at(100)));
        // Idle from 20 ms to 5 s: the epoch moves forward by that much.
        cc.on_packet_sent(at(5_000), MDS, MDS);
        assert_eq!(cc.epoch.map(|e| e.start), Some(at(5_000)));
    }
}
