// SPDX-License-Identifier: GPL-2.0

//! Which stream sends next: strict priority between urgency levels,
//! round-robin within a level (RFC 9000 §2.3).
//!
//! The [`Scheduler`] is a queue of stream IDs ordered by urgency, first in
//! first out within an urgency. A stream that sent a frame and has more to
//! send moves to the back of its level, so streams of equal urgency take
//! turns frame by frame. The owner keeps every stream at most once in the
//! queue and reserves room for all its streams up front
//! ([`Scheduler::reserve_for`]), so queueing never allocates on the
//! transmit path.

use super::StreamId;
use crate::protocol::alloc::{AllocError, Vec, GFP};

/// The urgency of a stream: lower goes first. Like the urgency of HTTP
/// priorities (RFC 9218), from 0 to 7, 3 by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Priority(u8);

impl Priority {
    /// The most urgent.
    pub const HIGHEST: Priority = Priority(0);
    /// The default.
    pub const DEFAULT: Priority = Priority(3);
    /// The least urgent.
    pub const LOWEST: Priority = Priority(7);

    /// An urgency, clamped to 0..=7.
    pub const fn new(urgency: u8) -> Self {
        if urgency > Self::LOWEST.0 {
            Self::LOWEST
        } else {
            Priority(urgency)
        }
    }

    /// The urgency, 0..=7.
    pub const fn urgency(self) -> u8 {
        self.0
    }
}

impl Default for Priority {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    id: StreamId,
    priority: Priority,
}

/// A priority queue of streams, round-robin within a priority.
///
/// # Invariants
///
/// `queue` is sorted by priority; entries of equal priority are in the
/// order they take turns.
#[derive(Debug)]
pub struct Scheduler {
    queue: Vec<Entry>,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler {
    /// An empty queue; does not allocate.
    pub const fn new() -> Self {
        Self { queue: Vec::new() }
    }

    /// Number of queued streams.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no stream is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Makes room for `streams` entries, so that pushing never allocates
    /// while at most that many are queued.
    pub fn reserve_for(&mut self, streams: usize) -> Result<(), AllocError> {
        let more = streams.saturating_sub(self.queue.len());
        self.queue.reserve(more, GFP)
    }

    /// Queues `id` behind the streams of the same or higher urgency. The
    /// caller makes sure `id` is not queued already.
    pub fn push(&mut self, id: StreamId, priority: Priority) -> Result<(), AllocError> {
        self.queue.reserve(1, GFP)?;
        let at = self.queue.partition_point(|e| e.priority <= priority);
        // The reservation above guarantees room, and `at <= len`.
        self.queue
            .insert_within_capacity(at, Entry { id, priority })
            .map_err(|_| AllocError)
    }

    /// The queued streams in turn order.
    pub fn iter(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.queue.iter().map(|e| e.id)
    }

    /// The stream at position `at` in turn order.
    pub fn get(&self, at: usize) -> Option<StreamId> {
        self.queue.get(at).map(|e| e.id)
    }

    /// The stream at position `at` had its turn and stays queued: moves it
    /// behind the others of its urgency.
    pub fn rotate(&mut self, at: usize) {
        let Some(entry) = self.queue.get(at) else {
            return;
        };
        let level_end = self.queue.partition_point(|e| e.priority <= entry.priority);
        if let Some(level) = self.queue.get_mut(at..level_end) {
            level.rotate_left(1);
        }
    }

    /// Removes the stream at position `at`.
    pub fn remove_at(&mut self, at: usize) -> Option<StreamId> {
        self.queue.remove(at).ok().map(|e| e.id)
    }

    /// Removes `id` if queued. Returns whether it was.
    pub fn remove(&mut self, id: StreamId) -> bool {
        let before = self.queue.len();
        self.queue.retain(|e| e.id != id);
        self.queue.len() != before
    }

    /// Changes the priority of `id` if queued, keeping it last in its new
    /// level.
    pub fn set_priority(&mut self, id: StreamId, priority: Priority) -> Result<(), AllocError> {
        if self.remove(id) {
            self.push(id, priority)?;
        }
        Ok(())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_scheduler))]
mod tests {
    use super::*;

    fn id(n: u64) -> StreamId {
        StreamId(n * 4)
    }

    fn order(s: &Scheduler) -> [Option<StreamId>; 5] {
        let mut out = [None; 5];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = s.get(i);
        }
        out
    }

    #[test]
    fn priority_then_fifo() -> Result<(), AllocError> {
        let mut s = Scheduler::new();
        s.reserve_for(5)?;
        s.push(id(0), Priority::DEFAULT)?;
        s.push(id(1), Priority::LOWEST)?;
        s.push(id(2), Priority::DEFAULT)?;
        s.push(id(3), Priority::HIGHEST)?;
        assert_eq!(
            order(&s),
            [Some(id(3)), Some(id(0)), Some(id(2)), Some(id(1)), None]
        );
        Ok(())
    }

    #[test]
    fn rotate_within_level() -> Result<(), AllocError> {
        let mut s = Scheduler::new();
        for n in 0..3 {
            s.push(id(n), Priority::DEFAULT)?;
        }
        s.push(id(3), Priority::LOWEST)?;
        // Round-robin: each turn moves the head behind its level.
        let mut turns = [None; 6];
        for slot in turns.iter_mut() {
            *slot = s.get(0);
            s.rotate(0);
        }
        assert_eq!(
            turns,
            [
                Some(id(0)),
                Some(id(1)),
                Some(id(2)),
                Some(id(0)),
                Some(id(1)),
                Some(id(2))
            ]
        );
        assert_eq!(s.get(3), Some(id(3)));
        Ok(())
    }

    #[test]
    fn removal_and_reprioritisation() -> Result<(), AllocError> {
        let mut s = Scheduler::new();
        for n in 0..3 {
            s.push(id(n), Priority::DEFAULT)?;
        }
        assert_eq!(s.remove_at(1), Some(id(1)));
        assert!(s.remove(id(2)));
        assert!(!s.remove(id(2)));
        assert_eq!(s.len(), 1);
        s.push(id(4), Priority::DEFAULT)?;
        s.set_priority(id(4), Priority::new(0))?;
        assert_eq!(order(&s), [Some(id(4)), Some(id(0)), None, None, None]);
        s.set_priority(id(9), Priority::HIGHEST)?;
        assert_eq!(s.len(), 2);
        assert_eq!(s.remove_at(7), None);
        assert_eq!(Priority::new(200), Priority::LOWEST);
        assert!(!s.is_empty());
        Ok(())
    }
}
