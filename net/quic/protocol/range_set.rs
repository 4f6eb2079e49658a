// SPDX-License-Identifier: GPL-2.0

//! A set of `u64` values stored as sorted, disjoint, non-adjacent ranges.
//!
//! Used for received packet numbers (ACK ranges), received stream offsets and
//! acknowledged data. Ranges are half-open (`start..end`). Insertion merges
//! with neighbours, so the number of ranges stays as small as the gaps.

use crate::protocol::alloc::{AllocError, Vec, GFP};
use core::ops::Range;

/// Sorted, disjoint, non-adjacent half-open ranges.
///
/// # Invariants
///
/// For every `i`: `ranges[i].start < ranges[i].end` and, if there is a next
/// range, `ranges[i].end < ranges[i + 1].start`.
#[derive(Default, Debug)]
pub struct RangeSet {
    ranges: Vec<Range<u64>>,
}

impl RangeSet {
    /// An empty set; does not allocate.
    pub const fn new() -> Self {
        Self { ranges: Vec::new() }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of disjoint ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The smallest value in the set.
    pub fn min(&self) -> Option<u64> {
        self.ranges.first().map(|r| r.start)
    }

    /// The largest value in the set.
    pub fn max(&self) -> Option<u64> {
        self.ranges.last().map(|r| r.end - 1)
    }

    /// The ranges, ascending.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Range<u64>> + ExactSizeIterator + '_ {
        self.ranges.iter().cloned()
    }

    /// Whether `value` is in the set.
    pub fn contains(&self, value: u64) -> bool {
        self.find(value).is_ok()
    }

    /// Whether every value of `range` is in the set.
    pub fn contains_range(&self, range: Range<u64>) -> bool {
        if range.start >= range.end {
            return true;
        }
        match self.find(range.start) {
            Ok(i) => self.ranges[i].end >= range.end,
            Err(_) => false,
        }
    }

    /// `Ok(index)` of the range holding `value`, or `Err(index)` of the first
    /// range that starts above it.
    fn find(&self, value: u64) -> Result<usize, usize> {
        // The first range whose end is above `value`.
        let i = self.ranges.partition_point(|r| r.end <= value);
        match self.ranges.get(i) {
            Some(r) if r.start <= value => Ok(i),
            _ => Err(i),
        }
    }

    /// Inserts one value. Returns whether it was new.
    pub fn insert_one(&mut self, value: u64) -> Result<bool, AllocError> {
        self.insert(value..value.saturating_add(1))
    }

    /// Inserts `range`. Returns whether any value of it was new.
    pub fn insert(&mut self, range: Range<u64>) -> Result<bool, AllocError> {
        if range.start >= range.end {
            return Ok(false);
        }
        // First range that ends at or after range.start (touching counts).
        let lo = self.ranges.partition_point(|r| r.end < range.start);
        // First range that starts after range.end (touching counts).
        let hi = self.ranges.partition_point(|r| r.start <= range.end);
        if lo == hi {
            // No overlap and no neighbour to merge with: a new range at `lo`.
            self.ranges.reserve(1, GFP)?;
            // The reservation above guarantees room; the index is in bounds.
            return Ok(self.ranges.insert_within_capacity(lo, range).is_ok());
        }
        let new = !self.contains_range(range.clone());
        let start = self.ranges[lo].start.min(range.start);
        let end = self.ranges[hi - 1].end.max(range.end);
        self.ranges[lo] = start..end;
        // Ranges lo+1..hi are now covered by `lo`: drop them.
        if hi - lo > 1 {
            let removed = hi - lo - 1;
            self.ranges[lo + 1..].rotate_left(removed);
            let len = self.ranges.len() - removed;
            self.ranges.truncate(len);
        }
        // INVARIANT: the merged range absorbed every range it touched.
        Ok(new)
    }

    /// Removes every value below `bound`.
    pub fn remove_below(&mut self, bound: u64) {
        let first_kept = self.ranges.partition_point(|r| r.end <= bound);
        if first_kept > 0 {
            self.ranges.rotate_left(first_kept);
            let len = self.ranges.len() - first_kept;
            self.ranges.truncate(len);
        }
        if let Some(r) = self.ranges.first_mut() {
            if r.start < bound {
                r.start = bound;
            }
        }
    }

    /// Removes `range` from the set.
    pub fn remove(&mut self, range: Range<u64>) -> Result<(), AllocError> {
        if range.start >= range.end {
            return Ok(());
        }
        let lo = self.ranges.partition_point(|r| r.end <= range.start);
        let Some(first) = self.ranges.get(lo).cloned() else {
            return Ok(());
        };
        if first.start < range.start && first.end > range.end {
            // Punches a hole: split into two.
            self.ranges.reserve(1, GFP)?;
            self.ranges[lo].end = range.start;
            let _ = self
                .ranges
                .insert_within_capacity(lo + 1, range.end..first.end);
            return Ok(());
        }
        let mut i = lo;
        while i < self.ranges.len() && self.ranges[i].start < range.end {
            let r = self.ranges[i].clone();
            if r.start < range.start {
                self.ranges[i].end = range.start;
                i += 1;
            } else if r.end > range.end {
                self.ranges[i].start = range.end;
                i += 1;
            } else {
                let _ = self.ranges.remove(i);
            }
        }
        Ok(())
    }

    /// Removes and returns the lowest range.
    pub fn pop_min(&mut self) -> Option<Range<u64>> {
        self.ranges.remove(0).ok()
    }

    /// Drops the lowest ranges until at most `max` remain.
    pub fn truncate_low(&mut self, max: usize) {
        if self.ranges.len() > max {
            let drop = self.ranges.len() - max;
            self.ranges.rotate_left(drop);
            self.ranges.truncate(max);
        }
    }

    /// Empties the set; keeps the allocation.
    pub fn clear(&mut self) {
        self.ranges.clear();
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_range_set))]
mod tests {
    use super::*;

    fn ranges(s: &RangeSet) -> [Option<Range<u64>>; 4] {
        let mut out = [None, None, None, None];
        for (slot, r) in out.iter_mut().zip(s.iter()) {
            *slot = Some(r);
        }
        out
    }

    #[test]
    fn insert_merges_neighbours() -> Result<(), AllocError> {
        let mut s = RangeSet::new();
        assert!(s.insert(10..20)?);
        assert!(s.insert(30..40)?);
        assert!(!s.insert(12..18)?);
        assert_eq!(s.len(), 2);
        // Touching on both sides merges everything.
        assert!(s.insert(20..30)?);
        assert_eq!(ranges(&s), [Some(10..40), None, None, None]);
        assert!(s.insert_one(40)?);
        assert!(s.insert_one(5)?);
        assert_eq!(ranges(&s), [Some(5..6), Some(10..41), None, None]);
        assert_eq!(s.min(), Some(5));
        assert_eq!(s.max(), Some(40));
        Ok(())
    }

    #[test]
    fn insert_spanning_many() -> Result<(), AllocError> {
        let mut s = RangeSet::new();
        for i in 0..4 {
            s.insert(i * 10..i * 10 + 2)?;
        }
        assert_eq!(s.len(), 4);
        assert!(s.insert(1..31)?);
        assert_eq!(ranges(&s), [Some(0..32), None, None, None]);
        assert!(s.contains(31));
        assert!(!s.contains(32));
        assert!(s.contains_range(0..32));
        assert!(!s.contains_range(0..33));
        Ok(())
    }

    #[test]
    fn removal() -> Result<(), AllocError> {
        let mut s = RangeSet::new();
        s.insert(0..100)?;
        s.remove(10..20)?;
        assert_eq!(ranges(&s), [Some(0..10), Some(20..100), None, None]);
        s.remove(5..25)?;
        assert_eq!(ranges(&s), [Some(0..5), Some(25..100), None, None]);
        s.remove_below(50);
        assert_eq!(ranges(&s), [Some(50..100), None, None, None]);
        s.insert(200..300)?;
        s.truncate_low(1);
        assert_eq!(ranges(&s), [Some(200..300), None, None, None]);
        assert_eq!(s.pop_min(), Some(200..300));
        assert!(s.is_empty());
        Ok(())
    }

    #[test]
    fn empty_and_edge_ranges() -> Result<(), AllocError> {
        let mut s = RangeSet::new();
        assert!(!s.insert(5..5)?);
        assert!(s.is_empty());
        assert!(s.insert_one(u64::MAX - 1)?);
        assert_eq!(s.max(), Some(u64::MAX - 1));
        Ok(())
    }
}
