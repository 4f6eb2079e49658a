// SPDX-License-Identifier: GPL-2.0

//! Acknowledgment-based loss detection (RFC 9002 §6.1, Appendix A.10).
//!
//! Once a packet is acknowledged, every unacknowledged packet sent before it
//! in the same space is declared lost if it is [`PACKET_THRESHOLD`] packet
//! numbers older, or was sent at least the loss delay
//! (`9/8 * max(smoothed_rtt, latest_rtt)`, at least kGranularity) ago. For the
//! others, the earliest time they will cross the time threshold is
//! returned so the caller can arm its timer.
//!
//! The packet threshold assumes the sender skips few packet numbers; a
//! skipped number counts as one packet sent.

use crate::protocol::recovery::persistent::PersistentCongestion;
use crate::protocol::recovery::sent::{SentPacket, SentPackets};
use crate::protocol::recovery::PACKET_THRESHOLD;
use crate::protocol::time::Instant;
use core::time::Duration;

/// What one loss detection pass over a space found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LossOutcome {
    /// When the next unacknowledged packet below the largest acknowledged
    /// crosses the time threshold, if one remains.
    pub loss_time: Option<Instant>,
    /// Number of packets declared lost.
    pub lost_packets: u64,
    /// Bytes in flight of the packets declared lost.
    pub lost_bytes: u64,
    /// Send time of the most recent in-flight packet declared lost: the
    /// congestion event to report, if any.
    pub congestion_event: Option<Instant>,
    /// Whether the losses establish persistent congestion.
    pub persistent_congestion: bool,
}

/// Declares lost the packets of `sent` below `largest_acked` that cross a
/// threshold at `now`, handing each to `lost` in packet-number order.
pub(super) fn detect_lost<T>(
    sent: &mut SentPackets<T>,
    largest_acked: u64,
    now: Instant,
    loss_delay: Duration,
    mut persistent: PersistentCongestion,
    lost: &mut impl FnMut(u64, SentPacket<T>),
) -> LossOutcome {
    let mut outcome = LossOutcome::default();
    sent.drain_below(
        largest_acked,
        |pn, p| {
            let by_time = now.saturating_duration_since(p.time_sent) >= loss_delay;
            let by_number = largest_acked - pn >= PACKET_THRESHOLD;
            let is_lost = by_time || by_number;
            persistent.on_packet(pn, p.time_sent, p.ack_eliciting, is_lost);
            if !is_lost {
                let when = p.time_sent + loss_delay;
                outcome.loss_time = Some(outcome.loss_time.map_or(when, |t| t.min(when)));
                return false;
            }
            outcome.lost_packets += 1;
            if p.in_flight {
                outcome.lost_bytes = outcome.lost_bytes.saturating_add(u64::from(p.size));
                outcome.congestion_event = Some(
                    outcome
                        .congestion_event
                        .map_or(p.time_sent, |t| t.max(p.time_sent)),
                );
            }
            true
        },
        lost,
    );
    outcome.persistent_congestion = persistent.detected();
    outcome
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_loss))]
mod tests {
    use super::*;
    use crate::protocol::ack::EcnCodepoint;
    use crate::protocol::recovery::sent::PushError;

    const MS: Duration = Duration::from_millis(1);

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn send(sent: &mut SentPackets<()>, pn: u64, ms: u64) -> Result<(), PushError> {
        sent.push(
            pn,
            SentPacket {
                time_sent: at(ms),
                size: 1200,
                ack_eliciting: true,
                in_flight: true,
                ecn: EcnCodepoint::NotEct,
                payload: (),
            },
        )
    }

    fn no_pc() -> PersistentCongestion {
        PersistentCongestion::new(Duration::MAX, None)
    }

    #[test]
    fn packet_threshold() -> Result<(), PushError> {
        let mut sent = SentPackets::new();
        for pn in 0..6 {
            send(&mut sent, pn, 10 * pn)?;
        }
        // Packet 5 acknowledged at t=60 with a loss delay of 1 s: only the
        // packet threshold applies. 0, 1 and 2 are 3 or more below 5.
        sent.mark_acked(5..6, |_, _| {});
        sent.take_acked(|_, _| {});
        let mut lost = [false; 6];
        let out = detect_lost(&mut sent, 5, at(60), 1000 * MS, no_pc(), &mut |pn, _| {
            if let Some(l) = lost.get_mut(pn as usize) {
                *l = true;
            }
        });
        assert_eq!(lost, [true, true, true, false, false, false]);
        assert_eq!(out.lost_packets, 3);
        assert_eq!(out.lost_bytes, 3600);
        assert_eq!(out.congestion_event, Some(at(20)));
        // 3 and 4 will be lost one loss delay after they were sent.
        assert_eq!(out.loss_time, Some(at(1030)));
        assert_eq!(sent.len(), 2);
        Ok(())
    }

    #[test]
    fn time_threshold() -> Result<(), PushError> {
        let mut sent = SentPackets::new();
        send(&mut sent, 0, 0)?;
        send(&mut sent, 1, 5)?;
        send(&mut sent, 2, 10)?;
        // Loss delay 9/8 * 80 = 90 ms. Packet 2 acknowledged at t=92:
        // packet 0 was sent 92 ms ago (lost), packet 1 87 ms ago (not yet).
        sent.mark_acked(2..3, |_, _| {});
        sent.take_acked(|_, _| {});
        let mut n = 0;
        let out = detect_lost(&mut sent, 2, at(92), 90 * MS, no_pc(), &mut |pn, _| {
            assert_eq!(pn, 0);
            n += 1;
        });
        assert_eq!(n, 1);
        assert_eq!(out.loss_time, Some(at(95)));
        // At the loss time, packet 1 goes too.
        let out = detect_lost(&mut sent, 2, at(95), 90 * MS, no_pc(), &mut |pn, _| {
            assert_eq!(pn, 1);
            n += 1;
        });
        assert_eq!(n, 2);
        assert_eq!(out.loss_time, None);
        assert_eq!(sent.len(), 0);
        Ok(())
    }

    #[test]
    fn nothing_above_the_largest_acknowledged_is_lost() -> Result<(), PushError> {
        let mut sent = SentPackets::new();
        for pn in 0..10 {
            send(&mut sent, pn, 0)?;
        }
        sent.mark_acked(1..2, |_, _| {});
        sent.take_acked(|_, _| {});
        let out = detect_lost(&mut sent, 1, at(10_000), MS, no_pc(), &mut |pn, _| {
            assert_eq!(pn, 0);
        });
        assert_eq!(out.lost_packets, 1);
        assert_eq!(sent.len(), 8);
        Ok(())
    }

    #[test]
    fn packets_out_of_flight_are_not_a_congestion_event() -> Result<(), PushError> {
        let mut sent = SentPackets::new();
        sent.push(
            0,
            SentPacket {
                time_sent: at(0),
                size: 50,
                ack_eliciting: false,
                in_flight: false,
                ecn: EcnCodepoint::NotEct,
                payload: (),
            },
        )?;
        send(&mut sent, 3, 1)?;
        let out = detect_lost(&mut sent, 3, at(2), 1000 * MS, no_pc(), &mut |_, _| {});
        assert_eq!(out.lost_packets, 1);
        assert_eq!(out.lost_bytes, 0);
        assert_eq!(out.congestion_event, None);
        Ok(())
    }

    #[test]
    fn persistent_congestion_across_a_pass() -> Result<(), PushError> {
        let mut sent = SentPackets::new();
        for pn in 0..10 {
            send(&mut sent, pn, 100 * pn)?;
        }
        sent.mark_acked(9..10, |_, _| {});
        sent.take_acked(|_, _| {});
        // Packets 1..=8 span 700 ms > 600 ms, all lost, none acknowledged;
        // packet 0 was sent before the first RTT sample.
        let pc = PersistentCongestion::new(600 * MS, Some(at(50)));
        let out = detect_lost(&mut sent, 9, at(950), 10 * MS, pc, &mut |_, _| {});
        assert_eq!(out.lost_packets, 9);
        assert!(out.persistent_congestion);
        Ok(())
    }
}
