// SPDX-License-Identifier: GPL-2.0

//! The packet numbers received in one space (RFC 9000 §13.2.3, §13.2.4).
//!
//! [`ReceivedPackets`] remembers received packet numbers as ranges, to
//! detect duplicates and to build ACK frames. Its memory is bounded: at most
//! `max_ranges` ranges are kept, the oldest dropped first. Forgetting a range
//! raises a floor below which packets are no longer accepted, so a packet
//! that was already processed is never processed twice:
//!
//! ```text
//!          floor        ranges (acknowledged in the next ACK frame)
//!   ───────┤░░░░░░░░░░░█████░░░███████░░██████████
//!   refused             ░ missing, accepted if they arrive
//! ```
//!
//! The floor also rises when the peer acknowledges an ACK frame: ranges up
//! to that frame's Largest Acknowledged need not be sent again (§13.2.4).
//! The largest packet number ever received is kept apart; packet number
//! decoding needs it even after every range is gone.

use crate::protocol::alloc::AllocError;
use crate::protocol::range_set::RangeSet;
use crate::protocol::time::Instant;
use core::ops::Range;

/// Received packet numbers of one space.
///
/// # Invariants
///
/// Every value in `ranges` is at least `floor`, and `ranges` holds at most
/// `max_ranges` ranges.
#[derive(Debug)]
pub struct ReceivedPackets {
    ranges: RangeSet,
    floor: u64,
    largest: Option<(u64, Instant)>,
    max_ranges: usize,
}

impl ReceivedPackets {
    /// An empty history keeping at most `max_ranges` ranges (at least one);
    /// does not allocate.
    pub const fn new(max_ranges: usize) -> Self {
        Self {
            ranges: RangeSet::new(),
            floor: 0,
            largest: None,
            max_ranges: if max_ranges == 0 { 1 } else { max_ranges },
        }
    }

    /// Whether `pn` was received already, or is too old to be accepted.
    pub fn is_duplicate(&self, pn: u64) -> bool {
        pn < self.floor || self.ranges.contains(pn)
    }

    /// Records `pn` as received at `now`. Returns false, changing nothing,
    /// for a duplicate.
    pub fn insert(&mut self, pn: u64, now: Instant) -> Result<bool, AllocError> {
        if self.is_duplicate(pn) {
            return Ok(false);
        }
        if !self.ranges.insert_one(pn)? {
            return Ok(false);
        }
        if self.largest.is_none_or(|(largest, _)| pn > largest) {
            self.largest = Some((pn, now));
        }
        while self.ranges.len() > self.max_ranges {
            match self.ranges.pop_min() {
                Some(oldest) => self.floor = self.floor.max(oldest.end),
                None => break,
            }
        }
        Ok(true)
    }

    /// Whether no packet number of `range` at or above the floor is
    /// missing.
    pub fn contains_all(&self, range: Range<u64>) -> bool {
        self.ranges
            .contains_range(range.start.max(self.floor)..range.end)
    }

    /// Stops acknowledging packet numbers up to and including `largest`,
    /// the Largest Acknowledged of an ACK frame the peer acknowledged.
    pub fn acknowledged_up_to(&mut self, largest: u64) {
        let bound = largest.saturating_add(1);
        self.ranges.remove_below(bound);
        self.floor = self.floor.max(bound);
    }

    /// The ranges to acknowledge.
    pub const fn ranges(&self) -> &RangeSet {
        &self.ranges
    }

    /// Packet numbers below this are refused.
    pub const fn floor(&self) -> u64 {
        self.floor
    }

    /// The largest packet number received.
    pub fn largest(&self) -> Option<u64> {
        self.largest.map(|(pn, _)| pn)
    }

    /// When the largest packet number was received.
    pub fn largest_received_time(&self) -> Option<Instant> {
        self.largest.map(|(_, t)| t)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_ack_received))]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn duplicates_and_largest() -> Result<(), AllocError> {
        let mut r = ReceivedPackets::new(8);
        assert!(r.insert(1, at(1))?);
        assert!(r.insert(3, at(2))?);
        assert!(!r.insert(3, at(3))?);
        assert!(r.is_duplicate(1));
        assert!(!r.is_duplicate(2));
        // A late packet does not change the largest or its time.
        assert!(r.insert(2, at(4))?);
        assert_eq!(r.largest(), Some(3));
        assert_eq!(r.largest_received_time(), Some(at(2)));
        assert_eq!(r.ranges().len(), 1);
        Ok(())
    }

    #[test]
    fn bounded_ranges_raise_the_floor() -> Result<(), AllocError> {
        let mut r = ReceivedPackets::new(3);
        for pn in [0, 2, 4, 6, 8] {
            r.insert(pn, at(pn))?;
        }
        // Only the three newest ranges remain; the gaps below them are
        // refused from now on.
        assert_eq!(r.ranges().len(), 3);
        assert_eq!(r.ranges().min(), Some(4));
        assert_eq!(r.floor(), 3);
        assert!(r.is_duplicate(1));
        assert!(r.is_duplicate(2));
        assert!(!r.is_duplicate(3));
        assert!(!r.insert(1, at(10))?);
        // 3 is still accepted and merges.
        assert!(r.insert(3, at(11))?);
        assert_eq!(r.ranges().min(), Some(3));
        Ok(())
    }

    #[test]
    fn ack_of_ack_drops_ranges() -> Result<(), AllocError> {
        let mut r = ReceivedPackets::new(8);
        for pn in [0, 1, 2, 5, 6, 9] {
            r.insert(pn, at(pn))?;
        }
        r.acknowledged_up_to(5);
        assert_eq!(r.ranges().len(), 2);
        assert_eq!(r.ranges().iter().next(), Some(6..7));
        assert_eq!(r.ranges().iter().next_back(), Some(9..10));
        // Packet 4 never arrived and is no longer accepted; 7 is.
        assert!(r.is_duplicate(4));
        assert!(!r.is_duplicate(7));
        assert!(r.contains_all(0..7));
        assert!(!r.contains_all(0..8));
        // The largest survives even when every range is gone.
        r.acknowledged_up_to(9);
        assert!(r.ranges().is_empty());
        assert_eq!(r.largest(), Some(9));
        Ok(())
    }
}
