// SPDX-License-Identifier: GPL-2.0

//! The probe timeout and the loss detection timer (RFC 9002 §6.2,
//! Appendix A.8).
//!
//! One timer serves loss detection: it fires at the earliest time-threshold
//! loss time of any space if there is one, and otherwise at the probe
//! timeout. The PTO period is
//! `smoothed_rtt + max(4 * rttvar, kGranularity) + max_ack_delay`, doubled at
//! each consecutive expiry, with max_ack_delay counted only for Application
//! Data. This file computes the timer from a [`TimerInput`] snapshot; the
//! [`Manager`](super::Manager) decides when to recompute it.

use crate::protocol::recovery::PacketNumberSpace;
use crate::protocol::time::Instant;
use core::time::Duration;

/// The PTO period after `pto_count` consecutive expiries:
/// `(pto_base + max_ack_delay) * 2^pto_count`, saturating.
///
/// Past 31 expiries (weeks even at the smallest base) the period is
/// [`Duration::MAX`]: the probe timeout is never reached and the idle
/// timeout, or the application, ends the connection. A backoff that stopped
/// growing instead would leave the deadline where it expired, and the
/// timer would fire again at once, forever.
pub fn period(pto_base: Duration, max_ack_delay: Duration, pto_count: u32) -> Duration {
    match 2u32.checked_pow(pto_count) {
        Some(backoff) => pto_base
            .saturating_add(max_ack_delay)
            .saturating_mul(backoff),
        None => Duration::MAX,
    }
}

/// The timer state of one packet-number space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpaceTimer {
    /// When a packet of the space crosses the time threshold, if one will.
    pub loss_time: Option<Instant>,
    /// When the last ack-eliciting packet of the space was sent.
    pub last_ack_eliciting: Option<Instant>,
    /// Whether ack-eliciting packets of the space are in flight.
    pub ack_eliciting_in_flight: bool,
}

/// Why the loss detection timer is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// A packet of the space crosses the time threshold.
    Loss(Instant, PacketNumberSpace),
    /// Probe timeout for the space.
    Probe(Instant, PacketNumberSpace),
    /// A client's anti-deadlock probe: nothing is in flight but the server
    /// may be blocked by its anti-amplification limit (§6.2.2.1).
    AntiDeadlock(Instant),
}

impl Deadline {
    /// When the timer fires.
    pub const fn time(self) -> Instant {
        match self {
            Deadline::Loss(t, _) | Deadline::Probe(t, _) | Deadline::AntiDeadlock(t) => t,
        }
    }
}

/// Everything the loss detection timer depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerInput {
    /// Per-space state, indexed by [`PacketNumberSpace::index`].
    pub spaces: [SpaceTimer; 3],
    /// `smoothed_rtt + max(4 * rttvar, kGranularity)`.
    pub pto_base: Duration,
    /// The peer's max_ack_delay.
    pub max_ack_delay: Duration,
    /// Consecutive PTO expiries without an acknowledgment.
    pub pto_count: u32,
    /// Whether the handshake is confirmed (RFC 9001 §4.1.2).
    pub handshake_confirmed: bool,
    /// Whether the peer validated our address: always for a server; for a
    /// client, once a Handshake ACK arrived or the handshake is confirmed.
    pub peer_completed_address_validation: bool,
    /// Whether a server cannot send because of the anti-amplification limit.
    pub amplification_blocked: bool,
}

impl TimerInput {
    /// The earliest time-threshold loss time and its space.
    pub fn earliest_loss_time(&self) -> Option<(Instant, PacketNumberSpace)> {
        let mut earliest: Option<(Instant, PacketNumberSpace)> = None;
        for (space, timer) in PacketNumberSpace::ALL.into_iter().zip(self.spaces) {
            if let Some(t) = timer.loss_time {
                if earliest.is_none_or(|(e, _)| t < e) {
                    earliest = Some((t, space));
                }
            }
        }
        earliest
    }

    /// The probe timeout, computed at `now`.
    pub fn pto(&self, now: Instant) -> Option<Deadline> {
        let mut earliest: Option<(Instant, PacketNumberSpace)> = None;
        for (space, timer) in PacketNumberSpace::ALL.into_iter().zip(self.spaces) {
            if !timer.ack_eliciting_in_flight {
                continue;
            }
            let max_ack_delay = match space {
                //= https://www.rfc-editor.org/rfc/rfc9002#section-6.2.1
                //# An endpoint MUST NOT set its PTO timer for the Application Data
                //# packet number space until the handshake is confirmed.
                PacketNumberSpace::ApplicationData if !self.handshake_confirmed => break,
                PacketNumberSpace::ApplicationData => self.max_ack_delay,
                _ => Duration::ZERO,
            };
            let Some(sent) = timer.last_ack_eliciting else {
                continue;
            };
            let t = sent + period(self.pto_base, max_ack_delay, self.pto_count);
            if earliest.is_none_or(|(e, _)| t < e) {
                earliest = Some((t, space));
            }
        }
        if let Some((t, space)) = earliest {
            return Some(Deadline::Probe(t, space));
        }
        // Nothing that may be probed is in flight. A client whose address
        // the server may not have validated still arms the timer, so that
        // a server blocked by its amplification limit is not left waiting.
        // This also covers 0-RTT packets in flight before confirmation.
        //= https://www.rfc-editor.org/rfc/rfc9002#section-6.2.2.1
        //# the client MUST set the PTO timer if the client has not received an
        //# acknowledgment for any of its Handshake packets and the handshake is
        //# not confirmed
        if !self.peer_completed_address_validation {
            let t = now + period(self.pto_base, Duration::ZERO, self.pto_count);
            return Some(Deadline::AntiDeadlock(t));
        }
        None
    }

    /// The loss detection timer at `now` (SetLossDetectionTimer).
    pub fn deadline(&self, now: Instant) -> Option<Deadline> {
        if let Some((t, space)) = self.earliest_loss_time() {
            return Some(Deadline::Loss(t, space));
        }
        //= https://www.rfc-editor.org/rfc/rfc9002#section-6.2.2.1
        //# If no additional data can be sent, the server's PTO timer MUST NOT
        //# be armed until datagrams have been received from the client
        if self.amplification_blocked {
            return None;
        }
        self.pto(now)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_pto))]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn input() -> TimerInput {
        TimerInput {
            spaces: [SpaceTimer::default(); 3],
            pto_base: 300 * MS,
            max_ack_delay: 25 * MS,
            pto_count: 0,
            handshake_confirmed: true,
            peer_completed_address_validation: true,
            amplification_blocked: false,
        }
    }

    fn in_flight(sent_ms: u64) -> SpaceTimer {
        SpaceTimer {
            loss_time: None,
            last_ack_eliciting: Some(at(sent_ms)),
            ack_eliciting_in_flight: true,
        }
    }

    #[test]
    fn period_backs_off_exponentially() {
        assert_eq!(period(300 * MS, 25 * MS, 0), 325 * MS);
        assert_eq!(period(300 * MS, 25 * MS, 1), 650 * MS);
        assert_eq!(period(300 * MS, Duration::ZERO, 3), 2400 * MS);
        // Saturates instead of overflowing.
        assert!(period(300 * MS, 25 * MS, 1000) > Duration::from_secs(1 << 30));
    }

    /// Each expiry moves the deadline on, until it is never reached
    /// (found by the `recovery` fuzz target: it stopped moving once the
    /// backoff saturated, after 32 expiries).
    #[test]
    fn backed_off_pto_moves_on() {
        let never = Instant::from_nanos(u64::MAX);
        let mut i = input();
        i.pto_base = MS;
        i.spaces[2] = in_flight(0);
        let mut last = at(0);
        for count in 0..40 {
            i.pto_count = count;
            let t = i.deadline(last).map(Deadline::time);
            assert!(t.is_some_and(|t| t > last || t == never));
            last = t.unwrap_or(last);
        }
        assert_eq!(last, never);
    }

    #[test]
    fn nothing_in_flight_no_timer() {
        assert_eq!(input().deadline(at(0)), None);
    }

    #[test]
    fn loss_time_wins_over_pto() {
        let mut i = input();
        i.spaces[2] = in_flight(0);
        i.spaces[1].loss_time = Some(at(900));
        i.spaces[2].loss_time = Some(at(800));
        assert_eq!(
            i.deadline(at(0)),
            Some(Deadline::Loss(at(800), PacketNumberSpace::ApplicationData))
        );
        // Even when blocked by the amplification limit.
        i.amplification_blocked = true;
        assert_eq!(i.deadline(at(0)).map(Deadline::time), Some(at(800)));
    }

    #[test]
    fn pto_per_space() {
        let mut i = input();
        i.spaces[0] = in_flight(100);
        i.spaces[2] = in_flight(0);
        // Initial: 100 + 300 = 400; Application Data: 0 + 325 = 325.
        assert_eq!(
            i.deadline(at(0)),
            Some(Deadline::Probe(at(325), PacketNumberSpace::ApplicationData))
        );
        i.pto_count = 1;
        // Initial: 100 + 600; Application Data: 0 + 650.
        assert_eq!(
            i.deadline(at(0)),
            Some(Deadline::Probe(at(650), PacketNumberSpace::ApplicationData))
        );
        i.pto_count = 2;
        // Initial: 100 + 1200; Application Data: 1300.
        assert_eq!(
            i.deadline(at(0)),
            Some(Deadline::Probe(at(1300), PacketNumberSpace::Initial))
        );
    }

    #[test]
    fn no_application_pto_before_confirmation() {
        let mut i = input();
        i.handshake_confirmed = false;
        i.spaces[1] = in_flight(500);
        i.spaces[2] = in_flight(0);
        assert_eq!(
            i.deadline(at(0)),
            Some(Deadline::Probe(at(800), PacketNumberSpace::Handshake))
        );
        i.spaces[1] = SpaceTimer::default();
        // Only 1-RTT data in flight: nothing to probe for a server.
        assert_eq!(i.deadline(at(0)), None);
    }

    #[test]
    fn anti_deadlock_and_amplification() {
        let mut i = input();
        i.handshake_confirmed = false;
        i.peer_completed_address_validation = false;
        // A client with nothing in flight arms the timer from now.
        assert_eq!(i.deadline(at(1000)), Some(Deadline::AntiDeadlock(at(1300))));
        i.pto_count = 2;
        assert_eq!(i.deadline(at(1000)), Some(Deadline::AntiDeadlock(at(2200))));
        // A server at its amplification limit arms no PTO.
        let mut s = input();
        s.spaces[0] = in_flight(0);
        s.amplification_blocked = true;
        assert_eq!(s.deadline(at(0)), None);
        s.amplification_blocked = false;
        assert_eq!(
            s.deadline(at(0)),
            Some(Deadline::Probe(at(300), PacketNumberSpace::Initial))
        );
    }
}
