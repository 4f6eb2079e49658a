// SPDX-License-Identifier: GPL-2.0

//! When to acknowledge, and what (RFC 9000 §13.2.1, §13.2.2, §13.4.1).
//!
//! [`AckTracker`] is one space's receiver state. For each packet processed
//! the caller calls [`AckTracker::on_packet_received`]; the tracker then says
//! whether an ACK frame is due:
//!
//! - at once after an ack-eliciting packet in the Initial or Handshake
//!   space, one that arrived out of order or CE-marked, or the
//!   `ack_eliciting_threshold`-th (2 by default) since the last ACK frame;
//! - otherwise at [`AckTracker::deadline`], max_ack_delay after the first
//!   ack-eliciting packet not yet acknowledged; the caller arms a timer.
//!
//! Packets that are not ack-eliciting never make an ACK frame due, so two
//! endpoints never ping-pong ACK-only packets; they are acknowledged with
//! the next ACK frame sent for another reason.

use crate::protocol::ack::delay;
use crate::protocol::ack::received::ReceivedPackets;
use crate::protocol::ack::{EcnCodepoint, EcnCounts};
use crate::protocol::alloc::AllocError;
use crate::protocol::range_set::RangeSet;
use crate::protocol::recovery::PacketNumberSpace;
use crate::protocol::time::Instant;
use crate::protocol::varint::VarInt;
use core::time::Duration;

/// Acknowledgment policy, shared by the spaces of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckConfig {
    /// Ack-eliciting packets that make an ACK frame due at once.
    pub ack_eliciting_threshold: u8,
    /// Our max_ack_delay transport parameter: how long an ack-eliciting
    /// packet may wait to be acknowledged.
    pub max_ack_delay: Duration,
    /// Our ack_delay_exponent transport parameter.
    pub ack_delay_exponent: u8,
    /// How many ranges of received packet numbers to remember.
    pub max_ranges: usize,
}

impl Default for AckConfig {
    fn default() -> Self {
        Self {
            ack_eliciting_threshold: 2,
            max_ack_delay: delay::DEFAULT_MAX_ACK_DELAY,
            ack_delay_exponent: delay::DEFAULT_EXPONENT,
            max_ranges: 32,
        }
    }
}

/// The acknowledgment state of one packet number space.
#[derive(Debug)]
pub struct AckTracker {
    space: PacketNumberSpace,
    config: AckConfig,
    received: ReceivedPackets,
    ecn: EcnCounts,
    largest_ack_eliciting: Option<u64>,
    /// Ack-eliciting packets received since the last ACK frame.
    pending_ack_eliciting: u32,
    /// Whether any packet was received since the last ACK frame.
    pending: bool,
    immediate: bool,
    deadline: Option<Instant>,
}

impl AckTracker {
    /// A tracker for `space`; does not allocate.
    pub const fn new(space: PacketNumberSpace, config: AckConfig) -> Self {
        Self {
            space,
            config,
            received: ReceivedPackets::new(config.max_ranges),
            ecn: EcnCounts::ZERO,
            largest_ack_eliciting: None,
            pending_ack_eliciting: 0,
            pending: false,
            immediate: false,
            deadline: None,
        }
    }

    /// Whether packet `pn`, just decrypted, was already processed (or is
    /// too old to be); the caller drops it without processing its frames.
    pub fn is_duplicate(&self, pn: u64) -> bool {
        self.received.is_duplicate(pn)
    }

    /// Records that packet `pn`, received at `now` with the IP header's
    /// `ecn` codepoint, was processed. Duplicates change nothing, ECN counts
    /// included (RFC 9000 §13.4.1).
    pub fn on_packet_received(
        &mut self,
        pn: u64,
        ack_eliciting: bool,
        ecn: EcnCodepoint,
        now: Instant,
    ) -> Result<(), AllocError> {
        if self.received.is_duplicate(pn) {
            return Ok(());
        }
        let out_of_order = ack_eliciting && self.is_out_of_order(pn);
        if !self.received.insert(pn, now)? {
            return Ok(());
        }
        self.ecn.increment(ecn);
        self.pending = true;
        if !ack_eliciting {
            return Ok(());
        }
        if self.largest_ack_eliciting.is_none_or(|l| pn > l) {
            self.largest_ack_eliciting = Some(pn);
        }
        self.pending_ack_eliciting = self.pending_ack_eliciting.saturating_add(1);
        let threshold = u32::from(self.config.ack_eliciting_threshold.max(1));
        //= https://www.rfc-editor.org/rfc/rfc9000#section-13.2.1
        //# An endpoint MUST acknowledge all ack-eliciting Initial and Handshake
        //# packets immediately
        if self.space.is_handshake()
            || out_of_order
            || ecn == EcnCodepoint::Ce
            || self.pending_ack_eliciting >= threshold
        {
            self.immediate = true;
        } else if self.deadline.is_none() {
            self.deadline = Some(now + self.config.max_ack_delay);
        }
        Ok(())
    }

    /// Whether an ack-eliciting packet numbered `pn` arrives out of order:
    /// below the largest ack-eliciting one, or above it with a gap between.
    fn is_out_of_order(&self, pn: u64) -> bool {
        match self.largest_ack_eliciting {
            None => false,
            Some(largest) if pn < largest => true,
            Some(largest) => !self.received.contains_all(largest.saturating_add(1)..pn),
        }
    }

    /// Whether an ACK frame must be sent at `now`.
    pub fn ack_due(&self, now: Instant) -> bool {
        self.immediate || self.deadline.is_some_and(|d| d <= now)
    }

    /// When a delayed ACK frame becomes due, for the caller's timer. An ACK
    /// due at once is reported by [`AckTracker::ack_due`] only.
    pub const fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether ack-eliciting packets await acknowledgment: a packet sent
    /// for another reason should carry an ACK frame.
    pub const fn has_pending_ack_eliciting(&self) -> bool {
        self.pending_ack_eliciting > 0
    }

    /// Whether any packet was received since the last ACK frame was sent.
    pub const fn has_pending(&self) -> bool {
        self.pending
    }

    /// The packet numbers to acknowledge.
    pub const fn ranges(&self) -> &RangeSet {
        self.received.ranges()
    }

    /// The largest packet number received, for packet number decoding.
    pub fn largest_received(&self) -> Option<u64> {
        self.received.largest()
    }

    /// The time since the largest packet number was received: the delay
    /// this endpoint added before acknowledging it.
    pub fn ack_delay(&self, now: Instant) -> Duration {
        self.received
            .largest_received_time()
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }

    /// [`AckTracker::ack_delay`] as the ACK Delay field, scaled by our
    /// ack_delay_exponent.
    pub fn encoded_ack_delay(&self, now: Instant) -> VarInt {
        delay::encode(self.ack_delay(now), self.config.ack_delay_exponent)
    }

    /// The ECN counts to echo, if any packet was received with an ECN
    /// codepoint (an ACK frame of type 0x03).
    pub fn ecn_counts(&self) -> Option<EcnCounts> {
        (!self.ecn.is_zero()).then_some(self.ecn)
    }

    /// An ACK frame with the current [`AckTracker::ranges`] was sent.
    pub fn on_ack_sent(&mut self) {
        self.pending_ack_eliciting = 0;
        self.pending = false;
        self.immediate = false;
        self.deadline = None;
    }

    /// The peer acknowledged a packet carrying an ACK frame whose Largest
    /// Acknowledged was `largest`: stop acknowledging up to it.
    pub fn on_ack_acked(&mut self, largest: u64) {
        self.received.acknowledged_up_to(largest);
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_ack_tracker))]
mod tests {
    use super::*;

    const DATA: PacketNumberSpace = PacketNumberSpace::ApplicationData;
    const NOT_ECT: EcnCodepoint = EcnCodepoint::NotEct;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn lenient() -> AckConfig {
        AckConfig {
            ack_eliciting_threshold: 10,
            ..AckConfig::default()
        }
    }

    #[test]
    fn initial_and_handshake_are_acknowledged_at_once() -> Result<(), AllocError> {
        for space in [PacketNumberSpace::Initial, PacketNumberSpace::Handshake] {
            let mut t = AckTracker::new(space, AckConfig::default());
            t.on_packet_received(0, true, NOT_ECT, at(0))?;
            assert!(t.ack_due(at(0)));
        }
        Ok(())
    }

    #[test]
    fn every_second_ack_eliciting_packet() -> Result<(), AllocError> {
        let mut t = AckTracker::new(DATA, AckConfig::default());
        t.on_packet_received(0, true, NOT_ECT, at(0))?;
        assert!(!t.ack_due(at(0)));
        assert!(t.has_pending_ack_eliciting());
        assert_eq!(t.deadline(), Some(at(25)));
        t.on_packet_received(1, true, NOT_ECT, at(5))?;
        assert!(t.ack_due(at(5)));
        t.on_ack_sent();
        assert!(!t.ack_due(at(100)));
        assert!(!t.has_pending_ack_eliciting());
        assert_eq!(t.deadline(), None);
        Ok(())
    }

    #[test]
    fn delayed_until_max_ack_delay() -> Result<(), AllocError> {
        let mut t = AckTracker::new(DATA, AckConfig::default());
        t.on_packet_received(0, true, NOT_ECT, at(10))?;
        // The deadline runs from the first unacknowledged packet.
        t.on_packet_received(1, false, NOT_ECT, at(20))?;
        assert_eq!(t.deadline(), Some(at(35)));
        assert!(!t.ack_due(at(34)));
        assert!(t.ack_due(at(35)));
        // The ACK delay counts from the largest packet's arrival.
        assert_eq!(t.ack_delay(at(35)), Duration::from_millis(15));
        assert_eq!(t.encoded_ack_delay(at(35)), VarInt::from_u32(15_000 >> 3));
        Ok(())
    }

    #[test]
    fn non_ack_eliciting_packets_never_trigger() -> Result<(), AllocError> {
        let mut t = AckTracker::new(PacketNumberSpace::Initial, AckConfig::default());
        for pn in [0, 1, 5, 3] {
            t.on_packet_received(pn, false, EcnCodepoint::Ce, at(0))?;
        }
        assert!(!t.ack_due(at(1_000)));
        assert_eq!(t.deadline(), None);
        assert!(t.has_pending());
        assert!(!t.has_pending_ack_eliciting());
        assert_eq!(t.ranges().len(), 3);
        Ok(())
    }

    #[test]
    fn out_of_order_is_acknowledged_at_once() -> Result<(), AllocError> {
        // A gap below a new largest.
        let mut t = AckTracker::new(DATA, lenient());
        t.on_packet_received(0, true, NOT_ECT, at(0))?;
        t.on_packet_received(2, true, NOT_ECT, at(1))?;
        assert!(t.ack_due(at(1)));
        // Filling the gap is also out of order.
        t.on_ack_sent();
        t.on_packet_received(1, true, NOT_ECT, at(2))?;
        assert!(t.ack_due(at(2)));
        // A gap filled by a non-ack-eliciting packet is no gap.
        let mut t = AckTracker::new(DATA, lenient());
        t.on_packet_received(0, true, NOT_ECT, at(0))?;
        t.on_packet_received(1, false, NOT_ECT, at(0))?;
        t.on_packet_received(2, true, NOT_ECT, at(0))?;
        assert!(!t.ack_due(at(0)));
        Ok(())
    }

    #[test]
    fn ce_is_acknowledged_at_once_and_counted() -> Result<(), AllocError> {
        let mut t = AckTracker::new(DATA, AckConfig::default());
        assert_eq!(t.ecn_counts(), None);
        t.on_packet_received(0, true, EcnCodepoint::Ect0, at(0))?;
        assert!(!t.ack_due(at(0)));
        t.on_ack_sent();
        t.on_packet_received(1, true, EcnCodepoint::Ce, at(0))?;
        assert!(t.ack_due(at(0)));
        // Duplicates are not counted.
        t.on_packet_received(1, true, EcnCodepoint::Ce, at(0))?;
        t.on_packet_received(2, false, EcnCodepoint::Ect1, at(0))?;
        assert_eq!(
            t.ecn_counts(),
            Some(EcnCounts {
                ect0: 1,
                ect1: 1,
                ce: 1
            })
        );
        Ok(())
    }

    #[test]
    fn ack_of_ack_and_duplicates() -> Result<(), AllocError> {
        let mut t = AckTracker::new(DATA, AckConfig::default());
        for pn in 0..10 {
            t.on_packet_received(pn, true, NOT_ECT, at(pn))?;
        }
        assert!(t.is_duplicate(4));
        t.on_ack_sent();
        t.on_ack_acked(7);
        assert_eq!(t.ranges().min(), Some(8));
        assert_eq!(t.largest_received(), Some(9));
        // A duplicate of an acknowledged packet changes nothing.
        t.on_packet_received(3, true, NOT_ECT, at(20))?;
        assert!(!t.ack_due(at(20)));
        assert!(!t.has_pending());
        Ok(())
    }
}
