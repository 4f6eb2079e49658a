// SPDX-License-Identifier: GPL-2.0

//! The send buffer of a stream or CRYPTO stream: written data kept until it
//! is acknowledged, with the ranges to retransmit.
//!
//! Data lives in chunks of at most [`CHUNK_SIZE`] bytes. Every chunk but the
//! last is full, so an offset finds its chunk by division. The last chunk
//! starts small and grows as the application writes, so a short message
//! does not cost a full chunk. Chunk memory is charged to a [`SendBudget`]
//! shared by the streams of a connection (the socket's send buffer): a
//! write takes what the budget allows and the rest waits, so the buffer
//! never grows beyond what the caller granted. A chunk is freed, and its
//! memory returned to the budget, once all its bytes are acknowledged.
//!
//! Offsets below `sent` have been sent at least once. Those the packetizer
//! declares lost are kept in a [`RangeSet`] and are sent again before any
//! new data; acknowledged ones are kept in another.

use core::ops::Range;

use super::{clamp_usize, len_u64};
use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::range_set::RangeSet;

/// The size of a full chunk of buffered data.
pub const CHUNK_SIZE: usize = 4096;

/// The smallest allocation for a new chunk.
const MIN_CHUNK: usize = 256;

/// Memory that send buffers may hold, in bytes of chunk capacity.
#[derive(Debug, Clone)]
pub struct SendBudget {
    limit: usize,
    used: usize,
}

impl SendBudget {
    /// A budget of `limit` bytes.
    pub const fn new(limit: usize) -> Self {
        Self { limit, used: 0 }
    }

    /// The budget.
    pub const fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes currently held by send buffers.
    pub const fn used(&self) -> usize {
        self.used
    }

    /// Bytes that may still be taken.
    pub const fn available(&self) -> usize {
        self.limit.saturating_sub(self.used)
    }

    /// Changes the budget (`SO_SNDBUF`). Memory already held stays held.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    fn take(&mut self, n: usize) {
        self.used = self.used.saturating_add(n);
    }

    fn give_back(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
    }
}

/// Written data of one stream and its transmission state.
///
/// # Invariants
///
/// - `chunks[i]` holds offsets `base + i * CHUNK_SIZE ..`; every chunk but
///   the last has exactly `CHUNK_SIZE` bytes; `end` is one past the last.
/// - `sent <= end`; `lost` and `acked` are within `0..sent`, disjoint.
/// - Every offset below `base` is acknowledged.
/// - `charged` is the sum of the chunks' capacities.
#[derive(Debug, Default)]
pub struct SendBuffer {
    chunks: Vec<Vec<u8>>,
    /// Offset of the first byte of `chunks[0]`.
    base: u64,
    /// One past the last byte written.
    end: u64,
    /// One past the last byte sent at least once.
    sent: u64,
    /// Offsets acknowledged by the peer.
    acked: RangeSet,
    /// Offsets declared lost and not yet sent again.
    lost: RangeSet,
    /// Bytes charged to the budget.
    charged: usize,
}

impl SendBuffer {
    /// An empty buffer; does not allocate.
    pub const fn new() -> Self {
        Self {
            chunks: Vec::new(),
            base: 0,
            end: 0,
            sent: 0,
            acked: RangeSet::new(),
            lost: RangeSet::new(),
            charged: 0,
        }
    }

    /// One past the last byte written.
    pub const fn end(&self) -> u64 {
        self.end
    }

    /// One past the last byte sent at least once.
    pub const fn sent(&self) -> u64 {
        self.sent
    }

    /// Bytes written but never sent.
    pub const fn unsent(&self) -> u64 {
        self.end - self.sent
    }

    /// Bytes of memory charged to the budget.
    pub const fn charged(&self) -> usize {
        self.charged
    }

    /// The offset below which everything is acknowledged.
    pub fn acked_prefix(&self) -> u64 {
        match self.acked.iter().next() {
            Some(r) if r.start == 0 => r.end,
            _ => 0,
        }
    }

    /// Whether every byte written was sent and acknowledged.
    pub fn is_fully_acked(&self) -> bool {
        self.sent == self.end && self.acked_prefix() == self.end
    }

    /// Appends as much of `data` as `budget` allows and returns how much.
    pub fn write(&mut self, data: &[u8], budget: &mut SendBudget) -> Result<usize, AllocError> {
        let mut written = 0;
        while let Some(rest) = data.get(written..).filter(|r| !r.is_empty()) {
            let n = self.append(rest, budget)?;
            if n == 0 {
                break;
            }
            written += n;
            self.end += len_u64(n);
        }
        Ok(written)
    }

    /// Copies a prefix of `data` into the last chunk, growing it or starting
    /// a new one as the budget allows.
    fn append(&mut self, data: &[u8], budget: &mut SendBudget) -> Result<usize, AllocError> {
        let tail_has_room = self.chunks.last().is_some_and(|c| c.len() < CHUNK_SIZE);
        if !tail_has_room {
            let cap = data
                .len()
                .clamp(MIN_CHUNK, CHUNK_SIZE)
                .min(budget.available());
            if cap == 0 {
                return Ok(0);
            }
            self.chunks.reserve(1, GFP)?;
            let chunk = Vec::with_capacity(cap, GFP)?;
            // The reservation above makes this push infallible.
            self.chunks.push(chunk, GFP)?;
            self.charged += cap;
            budget.take(cap);
        }
        let Some(tail) = self.chunks.last_mut() else {
            return Ok(0);
        };
        let cap = tail.capacity();
        if tail.len() == cap {
            // Grow to fit the write (at least doubling), within the chunk size
            // and the budget.
            let want = tail
                .len()
                .saturating_add(data.len())
                .max(cap.saturating_mul(2));
            let new_cap = want
                .min(CHUNK_SIZE)
                .min(cap.saturating_add(budget.available()));
            if new_cap <= cap {
                return Ok(0);
            }
            let mut grown = Vec::with_capacity(new_cap, GFP)?;
            grown.extend_from_slice(tail, GFP)?;
            *tail = grown;
            let extra = tail.capacity().saturating_sub(cap);
            self.charged += extra;
            budget.take(extra);
        }
        let n = data
            .len()
            .min(tail.capacity() - tail.len())
            .min(CHUNK_SIZE - tail.len());
        tail.extend_from_slice(data.get(..n).unwrap_or(&[]), GFP)?;
        Ok(n)
    }

    /// The first range to retransmit, if any.
    pub fn next_lost(&self) -> Option<Range<u64>> {
        self.lost.iter().next()
    }

    /// Whether data waits to be retransmitted.
    pub fn has_lost(&self) -> bool {
        !self.lost.is_empty()
    }

    /// Takes the lost data below `end` off the retransmission list: the
    /// start of [`next_lost`](Self::next_lost) up to `end` is being sent
    /// again.
    pub fn retransmit_to(&mut self, end: u64) {
        self.lost.remove_below(end);
    }

    /// Takes the next `len` bytes of never-sent data (fewer if fewer are
    /// written) and returns their range.
    pub fn send_new(&mut self, len: u64) -> Range<u64> {
        let start = self.sent;
        self.sent += len.min(self.unsent());
        start..self.sent
    }

    /// The peer acknowledged `range`: frees the chunks that are now fully
    /// acknowledged and returns their memory to `budget`.
    pub fn on_acked(
        &mut self,
        range: Range<u64>,
        budget: &mut SendBudget,
    ) -> Result<(), AllocError> {
        let range = range.start..range.end.min(self.sent);
        if range.start >= range.end {
            return Ok(());
        }
        self.acked.insert(range.clone())?;
        self.lost.remove(range)?;
        let prefix = self.acked_prefix();
        while let Some(first) = self.chunks.first() {
            let len = len_u64(first.len());
            if first.is_empty() || self.base + len > prefix {
                break;
            }
            let freed = first.capacity();
            let _ = self.chunks.remove(0);
            self.base += len;
            self.charged = self.charged.saturating_sub(freed);
            budget.give_back(freed);
        }
        Ok(())
    }

    /// The packet carrying `range` was lost: queues the parts not
    /// acknowledged meanwhile for retransmission. Returns whether any was.
    pub fn on_lost(&mut self, range: Range<u64>) -> Result<bool, AllocError> {
        let end = range.end.min(self.sent);
        let mut start = range.start.max(self.acked_prefix());
        let mut queued = false;
        // Walk the acknowledged ranges that overlap and queue the gaps.
        for acked in self.acked.iter() {
            if start >= end {
                break;
            }
            if acked.end <= start {
                continue;
            }
            if acked.start > start {
                queued |= self.lost.insert(start..acked.start.min(end))?;
            }
            start = start.max(acked.end);
        }
        if start < end {
            queued |= self.lost.insert(start..end)?;
        }
        Ok(queued)
    }

    /// Copies the data at `offset` into `out`, as much as is buffered, and
    /// returns how many bytes were copied. Acknowledged data may be gone.
    pub fn copy_out(&self, offset: u64, out: &mut [u8]) -> usize {
        let Some(rel) = offset.checked_sub(self.base) else {
            return 0;
        };
        let chunk = len_u64(CHUNK_SIZE);
        let mut within = clamp_usize(rel % chunk);
        let mut copied = 0;
        for data in self.chunks.iter().skip(clamp_usize(rel / chunk)) {
            let src = data.get(within..).unwrap_or(&[]);
            let dst = out.get_mut(copied..).unwrap_or(&mut []);
            let n = src.len().min(dst.len());
            if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
                d.copy_from_slice(s);
            }
            copied += n;
            within = 0;
            if copied == out.len() {
                break;
            }
        }
        copied
    }

    /// Drops all data (the stream was reset or its keys discarded) and
    /// returns the memory to `budget`. Offsets are kept.
    pub fn clear(&mut self, budget: &mut SendBudget) {
        self.chunks.clear();
        self.base = self.end;
        budget.give_back(self.charged);
        self.charged = 0;
        self.lost.clear();
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_send_buf))]
mod tests {
    use super::*;

    fn pattern(offset: usize) -> u8 {
        (offset % 251) as u8
    }

    fn fill(
        buf: &mut SendBuffer,
        budget: &mut SendBudget,
        len: usize,
    ) -> Result<usize, AllocError> {
        let start = clamp_usize(buf.end());
        let mut data = Vec::with_capacity(len, GFP)?;
        for i in 0..len {
            data.push(pattern(start + i), GFP)?;
        }
        buf.write(&data, budget)
    }

    fn check_copy(buf: &SendBuffer, range: Range<u64>) -> bool {
        let mut out = [0u8; 64];
        let mut pos = range.start;
        while pos < range.end {
            let want = clamp_usize(range.end - pos).min(out.len());
            let n = buf.copy_out(pos, &mut out[..want]);
            if n != want {
                return false;
            }
            let ok = out[..n]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == pattern(clamp_usize(pos) + i));
            if !ok {
                return false;
            }
            pos += len_u64(n);
        }
        true
    }

    #[test]
    fn small_writes_use_small_chunks() -> Result<(), AllocError> {
        let mut budget = SendBudget::new(1 << 20);
        let mut buf = SendBuffer::new();
        assert_eq!(fill(&mut buf, &mut budget, 10)?, 10);
        assert_eq!(budget.used(), MIN_CHUNK);
        // The tail doubles as it fills.
        assert_eq!(fill(&mut buf, &mut budget, 300)?, 300);
        assert_eq!(budget.used(), 512);
        assert_eq!(buf.charged(), 512);
        assert_eq!(fill(&mut buf, &mut budget, 10_000)?, 10_000);
        assert_eq!(buf.end(), 10_310);
        assert!(budget.used() <= 3 * CHUNK_SIZE);
        assert!(check_copy(&buf, 0..10_310));
        Ok(())
    }

    #[test]
    fn budget_bounds_the_buffer() -> Result<(), AllocError> {
        let mut budget = SendBudget::new(CHUNK_SIZE + 100);
        let mut buf = SendBuffer::new();
        assert_eq!(fill(&mut buf, &mut budget, 10_000)?, CHUNK_SIZE + 100);
        assert_eq!(budget.available(), 0);
        assert_eq!(fill(&mut buf, &mut budget, 1)?, 0);
        assert!(check_copy(&buf, 0..buf.end()));
        // Acknowledging the first chunk frees it.
        assert_eq!(buf.send_new(u64::MAX), 0..buf.end());
        buf.on_acked(0..len_u64(CHUNK_SIZE), &mut budget)?;
        assert_eq!(budget.available(), CHUNK_SIZE);
        assert_eq!(fill(&mut buf, &mut budget, 1)?, 1);
        assert!(check_copy(&buf, len_u64(CHUNK_SIZE)..buf.end()));
        Ok(())
    }

    #[test]
    fn acks_free_in_order_only() -> Result<(), AllocError> {
        let mut budget = SendBudget::new(1 << 20);
        let mut buf = SendBuffer::new();
        fill(&mut buf, &mut budget, 3 * CHUNK_SIZE)?;
        let c = len_u64(CHUNK_SIZE);
        buf.send_new(3 * c);
        buf.on_acked(c..3 * c, &mut budget)?;
        // A hole keeps everything.
        assert_eq!(buf.charged(), 3 * CHUNK_SIZE);
        buf.on_acked(0..c, &mut budget)?;
        assert_eq!(buf.charged(), 0);
        assert_eq!(budget.used(), 0);
        assert!(buf.is_fully_acked());
        // Writing after everything was freed starts a fresh chunk.
        fill(&mut buf, &mut budget, 5)?;
        assert!(check_copy(&buf, 3 * c..3 * c + 5));
        assert!(!buf.is_fully_acked());
        Ok(())
    }

    #[test]
    fn lost_excludes_acked() -> Result<(), AllocError> {
        let mut budget = SendBudget::new(1 << 20);
        let mut buf = SendBuffer::new();
        fill(&mut buf, &mut budget, 100)?;
        buf.send_new(80);
        buf.on_acked(10..20, &mut budget)?;
        buf.on_acked(30..40, &mut budget)?;
        assert!(buf.on_lost(0..100)?);
        let mut lost = [None, None, None, None];
        let mut n = 0;
        while let Some(r) = buf.next_lost() {
            if let Some(slot) = lost.get_mut(n) {
                *slot = Some(r.clone());
            }
            n += 1;
            buf.retransmit_to(r.end);
        }
        // Only sent, unacknowledged data is queued.
        assert_eq!(lost, [Some(0..10), Some(20..30), Some(40..80), None]);
        // Lost after being acknowledged: nothing to do.
        assert!(!buf.on_lost(10..20)?);
        // An ack removes pending retransmissions.
        buf.on_lost(40..80)?;
        buf.on_acked(40..60, &mut budget)?;
        assert_eq!(buf.next_lost(), Some(60..80));
        Ok(())
    }

    #[test]
    fn retransmit_partial_range() -> Result<(), AllocError> {
        let mut budget = SendBudget::new(1 << 20);
        let mut buf = SendBuffer::new();
        fill(&mut buf, &mut budget, 50)?;
        buf.send_new(50);
        buf.on_lost(0..50)?;
        buf.retransmit_to(20);
        assert_eq!(buf.next_lost(), Some(20..50));
        assert!(buf.has_lost());
        Ok(())
    }

    #[test]
    fn clear_returns_memory() -> Result<(), AllocError> {
        let mut budget = SendBudget::new(1 << 20);
        let mut buf = SendBuffer::new();
        fill(&mut buf, &mut budget, 5000)?;
        buf.send_new(100);
        buf.on_lost(0..100)?;
        buf.clear(&mut budget);
        assert_eq!(budget.used(), 0);
        assert!(!buf.has_lost());
        assert_eq!(buf.copy_out(0, &mut [0u8; 4]), 0);
        assert_eq!(buf.end(), 5000);
        Ok(())
    }

    #[test]
    fn copy_out_across_chunks() -> Result<(), AllocError> {
        let mut budget = SendBudget::new(1 << 20);
        let mut buf = SendBuffer::new();
        fill(&mut buf, &mut budget, 2 * CHUNK_SIZE + 7)?;
        let c = len_u64(CHUNK_SIZE);
        assert!(check_copy(&buf, c - 30..c + 30));
        assert!(check_copy(&buf, 2 * c - 1..2 * c + 7));
        // Past the end, only what exists is copied.
        let mut out = [0u8; 16];
        assert_eq!(buf.copy_out(2 * c + 3, &mut out), 4);
        assert_eq!(buf.copy_out(3 * c, &mut out), 0);
        Ok(())
    }
}
