// SPDX-License-Identifier: GPL-2.0

//! Reassembling the ClientHello from Initial CRYPTO frames.
//!
//! The ClientHello is the first message of the client's Initial CRYPTO
//! stream. It may come in several CRYPTO frames, out of order, overlapping,
//! in several Initial packets and datagrams (a post-quantum key share makes
//! it larger than one datagram; some clients split it on purpose). An
//! [`Assembler`] copies the pieces into a buffer the caller owns, whose size
//! caps the message, and tracks which bytes arrived in a fixed array of
//! ranges: it never allocates. Bytes past the end of the ClientHello (a
//! second ClientHello after a HelloRetryRequest) are ignored.

use crate::protocol::endpoint::client_hello::{message_len, ClientHello, HelloError};
use core::ops::DerefMut;

/// The most disjoint pieces an assembler keeps track of. Pieces merge as
/// the gaps between them fill, so only a client sending many small
/// fragments out of order can exceed it.
pub const MAX_PIECES: usize = 16;

/// How far the ClientHello is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Bytes are missing.
    NeedMore,
    /// The whole message arrived; it is [`Assembler::message`].
    Complete,
}

/// Received bytes `start..end` of the message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Piece {
    start: u32,
    end: u32,
}

/// Reassembles the ClientHello into a caller-provided buffer `B` (a slice
/// or a [`Vec`](crate::protocol::alloc::Vec)), whose length is the largest
/// message accepted.
///
/// # Invariants
///
/// `pieces[..count]` are sorted, disjoint, non-adjacent, non-empty ranges
/// within `buf`, and, once `total` is known, within `0..total`.
#[derive(Debug)]
pub struct Assembler<B> {
    buf: B,
    pieces: [Piece; MAX_PIECES],
    count: usize,
    total: Option<u32>,
}

impl<B: DerefMut<Target = [u8]>> Assembler<B> {
    /// An assembler writing into `buf`; messages larger than `buf` are
    /// refused with [`HelloError::TooLarge`] (at most 4 GiB is tracked).
    pub fn new(buf: B) -> Self {
        Self {
            buf,
            pieces: [Piece::default(); MAX_PIECES],
            count: 0,
            total: None,
        }
    }

    /// The largest message accepted.
    pub fn capacity(&self) -> usize {
        self.buf.len().min(u32::MAX as usize)
    }

    /// Forgets every piece, keeping the buffer.
    pub fn clear(&mut self) {
        self.count = 0;
        self.total = None;
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// Whether no byte arrived yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds the `data` of a CRYPTO frame at `offset` of the Initial CRYPTO
    /// stream.
    ///
    /// Fails once the message is known not to be a ClientHello, to be larger
    /// than [`Assembler::capacity`], or to come in more than [`MAX_PIECES`]
    /// disjoint pieces at once; the assembler should then be dropped.
    pub fn add(&mut self, offset: u64, data: &[u8]) -> Result<Progress, HelloError> {
        if self.total.is_none() && offset == 0 {
            if let Some(total) = message_len(data)? {
                self.set_total(total)?;
            }
        }
        let cap = self.capacity() as u64;
        let limit = self.total.map_or(cap, u64::from);
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or(HelloError::TooLarge)?;
        // Anything past the end of a known message is not ours to keep;
        // without a known length, a piece past the buffer means too large.
        let keep_end = end.min(limit);
        if self.total.is_none() && end > cap {
            return Err(HelloError::TooLarge);
        }
        if offset < keep_end {
            // Both bounds are at most `cap`, which fits a u32 and the buffer.
            let (start, stop) = (offset as usize, keep_end as usize);
            let src = data.get(..stop - start).ok_or(HelloError::Malformed)?;
            let dst = self.buf.get_mut(start..stop).ok_or(HelloError::TooLarge)?;
            dst.copy_from_slice(src);
            self.insert(Piece {
                start: start as u32,
                end: stop as u32,
            })?;
        }
        if self.total.is_none() {
            self.learn_total()?;
        }
        Ok(self.progress())
    }

    /// Reads the message length once the header arrived.
    fn learn_total(&mut self) -> Result<(), HelloError> {
        let first = self.pieces[0];
        if self.count == 0 || first.start != 0 {
            return Ok(());
        }
        let have = first.end as usize;
        match message_len(self.buf.get(..have).unwrap_or(&[]))? {
            Some(total) => self.set_total(total),
            None => Ok(()),
        }
    }

    /// Records the message length and drops what lies beyond it.
    fn set_total(&mut self, total: usize) -> Result<(), HelloError> {
        if total > self.capacity() {
            return Err(HelloError::TooLarge);
        }
        // INVARIANT: clip the pieces to the message.
        let total = total as u32;
        self.total = Some(total);
        let mut kept = 0;
        for i in 0..self.count {
            let piece = self.pieces[i];
            if piece.start < total {
                self.pieces[kept] = Piece {
                    start: piece.start,
                    end: piece.end.min(total),
                };
                kept += 1;
            }
        }
        self.count = kept;
        Ok(())
    }

    /// Records `new` as received, merging it with the pieces it touches.
    fn insert(&mut self, new: Piece) -> Result<(), HelloError> {
        let pieces = &mut self.pieces[..self.count];
        // The first piece that ends at or after `new.start`: from there on,
        // pieces starting at or before `new.end` merge with `new`.
        let first = pieces.partition_point(|p| p.end < new.start);
        let last = pieces.partition_point(|p| p.start <= new.end);
        let merged = match pieces.get(first..last) {
            Some([]) | None => new,
            Some(touching) => Piece {
                start: touching.iter().map(|p| p.start).fold(new.start, u32::min),
                end: touching.iter().map(|p| p.end).fold(new.end, u32::max),
            },
        };
        let removed = last.saturating_sub(first);
        if removed == 0 && self.count == MAX_PIECES {
            return Err(HelloError::TooFragmented);
        }
        // INVARIANT: replace pieces[first..last] by `merged`, keeping order.
        if removed == 0 {
            self.pieces[first..=self.count].rotate_right(1);
            self.count += 1;
        } else {
            self.pieces[first + 1..self.count].rotate_left(removed - 1);
            self.count -= removed - 1;
        }
        self.pieces[first] = merged;
        Ok(())
    }

    /// Whether the whole message arrived.
    pub fn progress(&self) -> Progress {
        let whole = |total| Piece {
            start: 0,
            end: total,
        };
        match self.total {
            Some(total) if self.count == 1 && self.pieces[0] == whole(total) => Progress::Complete,
            _ => Progress::NeedMore,
        }
    }

    /// The complete handshake message, once [`Progress::Complete`].
    pub fn message(&self) -> Option<&[u8]> {
        match self.progress() {
            Progress::Complete => self.buf.get(..self.total? as usize),
            Progress::NeedMore => None,
        }
    }

    /// The parsed ClientHello, once complete.
    pub fn client_hello(&self) -> Result<Option<ClientHello<'_>>, HelloError> {
        self.message().map(ClientHello::parse).transpose()
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_assembler))]
mod tests {
    use super::*;
    use crate::protocol::endpoint::client_hello::tests::build_hello;
    use crate::protocol::endpoint::client_hello::EXT_ALPN;
    use crate::protocol::test_rng::XorShift64;

    fn hello(buf: &mut [u8]) -> usize {
        build_hello(buf, &[(EXT_ALPN, b"\x00\x03\x02h3"), (0x39, &[9; 40])])
    }

    #[test]
    fn in_order_and_reversed() -> Result<(), HelloError> {
        let mut msg = [0u8; 128];
        let n = hello(&mut msg);
        let mut store = [0u8; 256];
        let mut a = Assembler::new(&mut store[..]);
        assert_eq!(a.add(0, &msg[..3])?, Progress::NeedMore);
        assert_eq!(a.add(3, &msg[3..50])?, Progress::NeedMore);
        assert_eq!(a.add(50, &msg[50..n])?, Progress::Complete);
        assert_eq!(a.message(), Some(&msg[..n]));
        assert!(a.client_hello()?.and_then(|h| h.alpn()).is_some());
        a.clear();
        assert!(a.is_empty());
        for start in (0..n).step_by(10).rev() {
            let end = (start + 10).min(n);
            let p = a.add(start as u64, &msg[start..end])?;
            assert_eq!((p == Progress::Complete), (start == 0));
        }
        assert_eq!(a.message(), Some(&msg[..n]));
        Ok(())
    }

    #[test]
    fn overlaps_duplicates_and_trailing_data() -> Result<(), HelloError> {
        let mut msg = [0u8; 200];
        let n = hello(&mut msg);
        let mut store = [0u8; 128];
        let mut a = Assembler::new(&mut store[..]);
        assert_eq!(a.add(20, &msg[20..60])?, Progress::NeedMore);
        assert_eq!(a.add(10, &msg[10..30])?, Progress::NeedMore);
        assert_eq!(a.add(50, &msg[50..n])?, Progress::NeedMore);
        assert_eq!(a.add(50, &msg[50..n])?, Progress::NeedMore);
        // A second message after the first is cut off, even past the buffer.
        msg[n..n + 60].fill(0xee);
        assert_eq!(a.add(0, &msg[..n + 60])?, Progress::Complete);
        assert_eq!(a.message(), Some(&msg[..n]));
        assert_eq!(a.add(500, b"late")?, Progress::Complete);
        Ok(())
    }

    #[test]
    fn caps_and_errors() {
        let mut msg = [0u8; 128];
        let n = hello(&mut msg);
        let mut store = [0u8; 64];
        let mut a = Assembler::new(&mut store[..]);
        // The announced length exceeds the buffer.
        assert_eq!(a.add(0, &msg[..8]), Err(HelloError::TooLarge));
        let mut a = Assembler::new(&mut store[..]);
        assert_eq!(a.add(60, &msg[60..n]), Err(HelloError::TooLarge));
        assert_eq!(a.add(u64::MAX, b"x"), Err(HelloError::TooLarge));
        let mut a = Assembler::new(&mut store[..]);
        assert_eq!(a.add(0, &[2, 0, 0, 9]), Err(HelloError::NotClientHello));
        assert_eq!(
            Assembler::new(&mut store[..]).add(0, &[]),
            Ok(Progress::NeedMore)
        );
    }

    #[test]
    fn fragmentation_limit() -> Result<(), HelloError> {
        let mut store = [0u8; 256];
        let mut a = Assembler::new(&mut store[..]);
        for i in 0..MAX_PIECES as u64 {
            assert_eq!(a.add(10 + 2 * i, &[0])?, Progress::NeedMore);
        }
        assert_eq!(a.add(100, &[0]), Err(HelloError::TooFragmented));
        // Filling a gap merges two pieces and frees a slot.
        assert_eq!(a.add(11, &[0])?, Progress::NeedMore);
        assert_eq!(a.add(100, &[0])?, Progress::NeedMore);
        // One piece covering everything collapses the list.
        assert_eq!(a.add(5, &[0; 120])?, Progress::NeedMore);
        assert_eq!(a.count, 1);
        Ok(())
    }

    #[test]
    fn random_pieces_reassemble() -> Result<(), HelloError> {
        let mut msg = [0u8; 128];
        let n = hello(&mut msg);
        let mut rng = XorShift64::new(0x1234_5678_9abc_def1);
        let mut store = [0u8; 128];
        for _ in 0..300 {
            let mut a = Assembler::new(&mut store[..]);
            let mut rounds = 0;
            while a.progress() == Progress::NeedMore && rounds < 10_000 {
                let x = rng.next_u64();
                let start = (x % n as u64) as usize;
                let len = 1 + ((x >> 16) % 24) as usize;
                let end = (start + len).min(n);
                match a.add(start as u64, &msg[start..end]) {
                    Ok(_) => {}
                    Err(HelloError::TooFragmented) => a.clear(),
                    Err(e) => return Err(e),
                }
                rounds += 1;
            }
            assert_eq!(a.message(), Some(&msg[..n]));
        }
        Ok(())
    }
}
