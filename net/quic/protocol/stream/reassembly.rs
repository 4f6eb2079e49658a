// SPDX-License-Identifier: GPL-2.0

//! Reassembly of received stream or CRYPTO data into an ordered byte stream
//! (RFC 9000 §2.2, §19.6).
//!
//! Data may arrive out of order, twice, or overlapping earlier data. It is
//! copied into [`CHUNK_SIZE`] chunks indexed by offset, from the chunk that
//! holds the read position, and the offsets received are kept in a
//! [`RangeSet`]; the application reads the contiguous prefix. A chunk is
//! allocated when data first lands in it, starting small, and is released
//! once read (one released chunk is kept for reuse, so a steady flow does
//! not allocate). Memory is bounded by `limit`, the largest distance
//! accepted between the read position and the end of new data: for a
//! stream, flow control already bounds it; for CRYPTO it is the buffer the
//! endpoint is willing to commit (RFC 9000 §7.5).

use super::send_buf::CHUNK_SIZE;
use super::{clamp_usize, len_u64};
use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::range_set::RangeSet;

/// The smallest allocation for a chunk.
const MIN_CHUNK: usize = 256;

/// The most disjoint ranges of received data tracked at once. Honest gaps
/// come from lost packets, so even a window of thousands of packets with
/// every other one lost stays far below; a peer sending tiny scattered
/// frames is stopped before the bookkeeping outgrows the data.
pub const MAX_RANGES: usize = 4096;

/// Why received data could not be buffered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReassemblyError {
    /// The data ends further than `limit` bytes past the read position.
    LimitExceeded,
    /// The data would leave more than [`MAX_RANGES`] disjoint ranges.
    TooFragmented,
    /// An allocation failed.
    OutOfMemory,
}

impl From<AllocError> for ReassemblyError {
    fn from(_: AllocError) -> Self {
        ReassemblyError::OutOfMemory
    }
}

/// An out-of-order receive buffer.
///
/// # Invariants
///
/// - `base` is `read` rounded down to a multiple of `CHUNK_SIZE`, and
///   `chunks[i]` holds offsets `base + i * CHUNK_SIZE ..`; a chunk's length
///   is one past the highest byte stored in it.
/// - `received` holds every offset received; its first range starts at 0
///   once anything is readable, and `read` is within it.
/// - `memory` is the sum of the capacities of `chunks` and `spare`.
#[derive(Debug, Default)]
pub struct Reassembler {
    chunks: Vec<Vec<u8>>,
    /// A released chunk kept for reuse.
    spare: Vec<u8>,
    base: u64,
    /// Offset of the next byte to read.
    read: u64,
    received: RangeSet,
    /// Largest accepted `end - read` for new data.
    limit: u64,
    /// Data is counted but not kept (the application stopped reading).
    discard: bool,
    memory: usize,
}

impl Reassembler {
    /// An empty buffer accepting data up to `limit` bytes past the read
    /// position; does not allocate.
    pub const fn new(limit: u64) -> Self {
        Self {
            chunks: Vec::new(),
            spare: Vec::new(),
            base: 0,
            read: 0,
            received: RangeSet::new(),
            limit,
            discard: false,
            memory: 0,
        }
    }

    /// Changes how far past the read position data is accepted.
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// The offset of the next byte to read.
    pub const fn read_offset(&self) -> u64 {
        self.read
    }

    /// One past the end of the data received without gaps from offset 0.
    pub fn contiguous_end(&self) -> u64 {
        match self.received.iter().next() {
            Some(r) if r.start == 0 => r.end,
            _ => 0,
        }
    }

    /// One past the highest offset received.
    pub fn received_end(&self) -> u64 {
        self.received.max().map_or(0, |m| m.saturating_add(1))
    }

    /// Bytes that can be read now.
    pub fn readable(&self) -> u64 {
        if self.discard {
            return 0;
        }
        self.contiguous_end().saturating_sub(self.read)
    }

    /// Bytes of memory held, for socket receive-memory accounting.
    pub const fn memory(&self) -> usize {
        self.memory
    }

    /// Whether data is being discarded.
    pub const fn is_discarding(&self) -> bool {
        self.discard
    }

    /// Adds `data` received at `offset`. Returns whether any byte of it was
    /// new. Bytes already received are overwritten with the same data.
    /// After an error other than `LimitExceeded` the buffer must not be
    /// used again (the connection is closed).
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> Result<bool, ReassemblyError> {
        let end = offset
            .checked_add(len_u64(data.len()))
            .ok_or(ReassemblyError::LimitExceeded)?;
        if data.is_empty() || end <= self.read {
            return Ok(false);
        }
        if end - self.read > self.limit {
            return Err(ReassemblyError::LimitExceeded);
        }
        let start = offset.max(self.read);
        if !self.discard {
            let skip = clamp_usize(start - offset);
            self.store(start, data.get(skip..).unwrap_or(&[]))?;
        }
        let new = self.received.insert(start..end)?;
        if self.received.len() > MAX_RANGES {
            return Err(ReassemblyError::TooFragmented);
        }
        Ok(new)
    }

    /// Copies `data` into the chunks from offset `start` (at least `read`).
    fn store(&mut self, start: u64, data: &[u8]) -> Result<(), AllocError> {
        let chunk = len_u64(CHUNK_SIZE);
        let mut pos = start;
        let mut rest = data;
        while !rest.is_empty() {
            let rel = pos - self.base;
            let within = clamp_usize(rel % chunk);
            let n = rest.len().min(CHUNK_SIZE - within);
            let dst = self.chunk_mut(clamp_usize(rel / chunk), within + n)?;
            if let (Some(d), Some(s)) = (dst.get_mut(within..within + n), rest.get(..n)) {
                d.copy_from_slice(s);
            }
            rest = rest.get(n..).unwrap_or(&[]);
            pos += len_u64(n);
        }
        Ok(())
    }

    /// The chunk at `index`, at least `len` bytes long.
    fn chunk_mut(&mut self, index: usize, len: usize) -> Result<&mut Vec<u8>, AllocError> {
        if self.chunks.len() <= index {
            self.chunks.reserve(index + 1 - self.chunks.len(), GFP)?;
            while self.chunks.len() <= index {
                // Within the reservation: does not allocate.
                self.chunks.push(Vec::new(), GFP)?;
            }
        }
        let Some(chunk) = self.chunks.get_mut(index) else {
            return Err(AllocError);
        };
        if chunk.len() >= len {
            return Ok(chunk);
        }
        if chunk.capacity() == 0 && self.spare.capacity() >= len {
            core::mem::swap(chunk, &mut self.spare);
        } else if chunk.capacity() < len {
            let cap = len
                .max(chunk.capacity().saturating_mul(2))
                .clamp(MIN_CHUNK, CHUNK_SIZE);
            let mut grown = Vec::with_capacity(cap, GFP)?;
            grown.extend_from_slice(chunk, GFP)?;
            self.memory = self.memory.saturating_sub(chunk.capacity()) + grown.capacity();
            *chunk = grown;
        }
        // Within capacity: does not allocate.
        chunk.resize(len, 0, GFP)?;
        Ok(chunk)
    }

    /// The readable bytes at the read position that are stored together.
    /// Call again after [`consume`](Self::consume) for the rest.
    pub fn peek(&self) -> &[u8] {
        let avail = self.readable();
        if avail == 0 {
            return &[];
        }
        let within = clamp_usize(self.read - self.base);
        let n = clamp_usize(avail).min(CHUNK_SIZE.saturating_sub(within));
        self.chunks
            .first()
            .and_then(|c| c.get(within..within + n))
            .unwrap_or(&[])
    }

    /// Marks `n` readable bytes as read (fewer if fewer are readable) and
    /// releases the chunks left behind. Returns how many were consumed.
    pub fn consume(&mut self, n: u64) -> u64 {
        let n = n.min(self.readable());
        self.read += n;
        self.release_read_chunks();
        n
    }

    /// Copies readable bytes into `out` and returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let mut copied = 0;
        loop {
            let src = self.peek();
            let dst = out.get_mut(copied..).unwrap_or(&mut []);
            let n = src.len().min(dst.len());
            if n == 0 {
                return copied;
            }
            if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
                d.copy_from_slice(s);
            }
            copied += n;
            self.consume(len_u64(n));
        }
    }

    /// Drops chunks wholly below the read position.
    fn release_read_chunks(&mut self) {
        let chunk = len_u64(CHUNK_SIZE);
        let aligned = self.read - self.read % chunk;
        let steps = clamp_usize((aligned - self.base) / chunk);
        if steps == 0 {
            return;
        }
        self.base = aligned;
        let steps = steps.min(self.chunks.len());
        self.chunks.rotate_left(steps);
        for _ in 0..steps {
            if let Some(c) = self.chunks.pop() {
                self.recycle(c);
            }
        }
    }

    /// Keeps a released chunk as the spare if there is none; frees it
    /// otherwise.
    fn recycle(&mut self, mut chunk: Vec<u8>) {
        if self.spare.capacity() < chunk.capacity() {
            chunk.clear();
            core::mem::swap(&mut self.spare, &mut chunk);
        }
        self.memory = self.memory.saturating_sub(chunk.capacity());
    }

    /// Frees all buffered data and keeps only counting what arrives: the
    /// application will not read any more.
    pub fn discard(&mut self) {
        self.discard = true;
        self.chunks.clear();
        self.spare = Vec::new();
        self.memory = 0;
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_reassembly))]
mod tests {
    use super::*;
    use crate::protocol::test_rng::XorShift64;

    fn pattern(offset: u64) -> u8 {
        (offset % 251) as u8
    }

    fn data(offset: u64, len: usize) -> Result<Vec<u8>, AllocError> {
        let mut v = Vec::with_capacity(len, GFP)?;
        for i in 0..len {
            v.push(pattern(offset + len_u64(i)), GFP)?;
        }
        Ok(v)
    }

    fn insert(r: &mut Reassembler, offset: u64, len: usize) -> Result<bool, ReassemblyError> {
        r.insert(offset, &data(offset, len)?)
    }

    /// Reads everything readable and checks it against the pattern.
    fn drain(r: &mut Reassembler) -> Option<u64> {
        let mut out = [0u8; 100];
        let mut total = 0;
        loop {
            let start = r.read_offset();
            let n = r.read(&mut out);
            if n == 0 {
                return Some(total);
            }
            let good = out[..n]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == pattern(start + len_u64(i)));
            if !good {
                return None;
            }
            total += len_u64(n);
        }
    }

    #[test]
    fn in_order() -> Result<(), ReassemblyError> {
        let mut r = Reassembler::new(u64::MAX);
        assert!(insert(&mut r, 0, 10)?);
        assert_eq!(r.readable(), 10);
        assert_eq!(r.peek().len(), 10);
        assert_eq!(drain(&mut r), Some(10));
        assert!(insert(&mut r, 10, 5)?);
        assert_eq!(drain(&mut r), Some(5));
        assert_eq!(r.readable(), 0);
        Ok(())
    }

    #[test]
    fn gaps_duplicates_and_overlaps() -> Result<(), ReassemblyError> {
        let mut r = Reassembler::new(u64::MAX);
        assert!(insert(&mut r, 20, 10)?);
        assert_eq!(r.readable(), 0);
        assert_eq!(r.received_end(), 30);
        // Duplicate.
        assert!(!insert(&mut r, 22, 5)?);
        assert!(insert(&mut r, 5, 10)?);
        assert_eq!(r.readable(), 0);
        // Fills both gaps.
        assert!(insert(&mut r, 0, 25)?);
        assert_eq!(r.contiguous_end(), 30);
        assert_eq!(drain(&mut r), Some(30));
        // Data entirely below the read position is old.
        assert!(!insert(&mut r, 0, 30)?);
        // Overlapping the read position keeps only the new part.
        assert!(insert(&mut r, 25, 10)?);
        assert_eq!(drain(&mut r), Some(5));
        // Empty data is accepted and ignored.
        assert!(!r.insert(1000, &[])?);
        Ok(())
    }

    #[test]
    fn limit_exceeded() -> Result<(), ReassemblyError> {
        let mut r = Reassembler::new(100);
        assert!(insert(&mut r, 90, 10)?);
        assert_eq!(insert(&mut r, 95, 10), Err(ReassemblyError::LimitExceeded));
        assert!(insert(&mut r, 0, 50)?);
        assert_eq!(drain(&mut r), Some(50));
        // The limit moves with the read position.
        assert!(insert(&mut r, 100, 50)?);
        assert_eq!(
            r.insert(u64::MAX, &[1]),
            Err(ReassemblyError::LimitExceeded)
        );
        r.set_limit(1000);
        assert!(insert(&mut r, 1000, 10)?);
        Ok(())
    }

    #[test]
    fn chunks_are_released_and_reused() -> Result<(), ReassemblyError> {
        let mut r = Reassembler::new(u64::MAX);
        let c = len_u64(CHUNK_SIZE);
        assert!(insert(&mut r, 0, 10)?);
        // Small data, small chunk.
        assert_eq!(r.memory(), MIN_CHUNK);
        assert!(insert(&mut r, 10, 3 * CHUNK_SIZE)?);
        // The first chunk grew to full size; the last one is small.
        assert_eq!(r.memory(), 3 * CHUNK_SIZE + MIN_CHUNK);
        assert_eq!(drain(&mut r), Some(3 * c + 10));
        // Three chunks read: one is kept as the spare.
        assert_eq!(r.memory(), CHUNK_SIZE + MIN_CHUNK);
        // New data in the next chunk reuses the spare.
        assert!(insert(&mut r, 4 * c, 10)?);
        assert_eq!(r.memory(), CHUNK_SIZE + MIN_CHUNK);
        Ok(())
    }

    #[test]
    fn discard_counts_without_storing() -> Result<(), ReassemblyError> {
        let mut r = Reassembler::new(u64::MAX);
        assert!(insert(&mut r, 0, 5000)?);
        r.discard();
        assert!(r.is_discarding());
        assert_eq!(r.memory(), 0);
        assert_eq!(r.readable(), 0);
        assert!(r.peek().is_empty());
        assert!(insert(&mut r, 5000, 5000)?);
        assert_eq!(r.contiguous_end(), 10_000);
        assert_eq!(r.memory(), 0);
        Ok(())
    }

    #[test]
    fn fragmentation_is_bounded() -> Result<(), ReassemblyError> {
        let mut r = Reassembler::new(u64::MAX);
        for i in 0..len_u64(MAX_RANGES) {
            assert!(r.insert(1 + 2 * i, &[0])?);
        }
        // Filling a gap merges ranges: always fine, and makes room.
        assert!(r.insert(2, &[0])?);
        let far = 4 * len_u64(MAX_RANGES);
        assert!(r.insert(far, &[0])?);
        // One more isolated range is refused.
        assert_eq!(r.insert(far + 2, &[0]), Err(ReassemblyError::TooFragmented));
        Ok(())
    }

    /// Random overlapping inserts and interleaved reads, checked byte by
    /// byte and against a reference bitmap of received offsets.
    #[test]
    fn random_overlaps_match_reference() -> Result<(), ReassemblyError> {
        const LEN: usize = 3 * CHUNK_SIZE + 123;
        let mut rng = XorShift64::new(0x9e37_79b9_7f4a_7c15);
        for _round in 0..4 {
            let mut r = Reassembler::new(u64::MAX);
            let mut seen = Vec::with_capacity(LEN, GFP)?;
            seen.resize(LEN, false, GFP)?;
            let mut read = 0u64;
            let mut prefix = 0usize;
            let mut steps = 0;
            while read < len_u64(LEN) && steps < 10_000 {
                steps += 1;
                // Offsets near 0 must come up too: shift the range down.
                let offset = rng.below(len_u64(LEN) + 600).saturating_sub(600);
                let len = clamp_usize(rng.below(700)).min(LEN - clamp_usize(offset));
                let mut new = false;
                for slot in seen.iter_mut().skip(clamp_usize(offset)).take(len) {
                    new |= !*slot;
                    *slot = true;
                }
                assert_eq!(insert(&mut r, offset, len)?, new);
                // Reference: the contiguous prefix of the bitmap.
                while seen.get(prefix).copied() == Some(true) {
                    prefix += 1;
                }
                assert_eq!(r.contiguous_end(), len_u64(prefix));
                assert_eq!(r.readable(), len_u64(prefix) - read);
                if rng.below(3) == 0 {
                    assert_eq!(drain(&mut r), Some(len_u64(prefix) - read));
                    read = len_u64(prefix);
                }
            }
            if read < len_u64(LEN) {
                insert(&mut r, 0, LEN)?;
                assert_eq!(drain(&mut r), Some(len_u64(LEN) - read));
            }
            assert_eq!(r.read_offset(), len_u64(LEN));
            assert!(r.memory() <= 2 * CHUNK_SIZE);
        }
        Ok(())
    }
}
