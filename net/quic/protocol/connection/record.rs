// SPDX-License-Identifier: GPL-2.0

//! What each sent packet carried, so that its frames can be acknowledged or
//! sent again (RFC 9000 §13.3).
//!
//! Loss recovery keeps one [`SentRecord`] per packet: a few bytes naming a
//! run of [`SentFrame`]s in a [`FramePool`] shared by all packets. Frames
//! are appended as packets are built and settled as packets are
//! acknowledged, lost or discarded; settled frames at the front of the pool
//! are reclaimed, so steady traffic reuses the same memory and sending a
//! packet does not allocate once the pool has grown to the flight size.
//!
//! Only frames with something to do on acknowledgement or loss are
//! recorded: PADDING, PING, PATH_*, CONNECTION_CLOSE and DATAGRAM frames are
//! never retransmitted.

use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::path::PathId;
use crate::protocol::recovery::PacketNumberSpace;
use crate::protocol::stream::crypto::CryptoChunk;
use crate::protocol::stream::{ControlFrame, StreamChunk};

/// A frame that must be followed up when its packet settles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SentFrame {
    /// An ACK frame acknowledging up to `largest`: once acknowledged, those
    /// packets need not be acknowledged again.
    Ack {
        /// Its Largest Acknowledged.
        largest: u64,
    },
    /// CRYPTO data of the packet's level.
    Crypto(CryptoChunk),
    /// STREAM data.
    Stream(StreamChunk),
    /// A stream or flow control frame.
    Control(ControlFrame),
    /// HANDSHAKE_DONE.
    HandshakeDone,
    /// NEW_TOKEN (the connection keeps the token).
    NewToken,
    /// NEW_CONNECTION_ID for a sequence number.
    NewConnectionId(u64),
    /// RETIRE_CONNECTION_ID for a sequence number.
    RetireConnectionId(u64),
    /// Already dealt with.
    Settled,
}

/// The per-packet payload loss recovery carries: where its frames are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentRecord {
    /// Pool index of the first frame.
    pub first: u64,
    /// Number of frames.
    pub len: u16,
    /// The path the packet was sent on.
    pub path: PathId,
    /// Whether the packet was a DPLPMTUD probe.
    pub pmtu_probe: bool,
}

impl SentRecord {
    /// The pool indices of the packet's frames.
    pub fn indices(&self) -> core::ops::Range<u64> {
        self.first..self.first.saturating_add(u64::from(self.len))
    }
}

/// The frames of every packet in flight, oldest first.
#[derive(Debug)]
pub struct FramePool {
    frames: Vec<(PacketNumberSpace, SentFrame)>,
    /// The pool index of `frames[0]`.
    base: u64,
}

impl Default for FramePool {
    fn default() -> Self {
        Self::new()
    }
}

/// Compact once this many settled frames lead the pool.
const COMPACT_MIN: usize = 64;

impl FramePool {
    /// An empty pool.
    pub const fn new() -> Self {
        Self {
            frames: Vec::new(),
            base: 0,
        }
    }

    /// The pool index the next frame gets.
    pub fn next_index(&self) -> u64 {
        self.base.saturating_add(self.frames.len() as u64)
    }

    /// Appends a frame of a packet being built in `space`.
    pub fn push(&mut self, space: PacketNumberSpace, frame: SentFrame) -> Result<(), AllocError> {
        self.frames.push((space, frame), GFP)
    }

    /// Forgets frames pushed from pool index `from` on: the packet they
    /// were for was not sent.
    pub fn truncate(&mut self, from: u64) {
        if let Some(keep) = from.checked_sub(self.base) {
            self.frames
                .truncate(usize::try_from(keep).unwrap_or(usize::MAX));
        }
    }

    /// Takes the frame at `index`, leaving it settled.
    pub fn take(&mut self, index: u64) -> Option<SentFrame> {
        let at = usize::try_from(index.checked_sub(self.base)?).ok()?;
        let slot = self.frames.get_mut(at)?;
        let frame = core::mem::replace(&mut slot.1, SentFrame::Settled);
        (frame != SentFrame::Settled).then_some(frame)
    }

    /// The CRYPTO data of `space` still in flight.
    pub fn crypto_in_flight(
        &self,
        space: PacketNumberSpace,
    ) -> impl Iterator<Item = CryptoChunk> + '_ {
        self.frames.iter().filter_map(move |(s, f)| match f {
            SentFrame::Crypto(c) if *s == space => Some(*c),
            _ => None,
        })
    }

    /// Settles every frame of `space`: its keys were discarded.
    pub fn discard_space(&mut self, space: PacketNumberSpace) {
        for slot in self.frames.iter_mut().filter(|s| s.0 == space) {
            slot.1 = SentFrame::Settled;
        }
        self.compact();
    }

    /// Reclaims the settled frames at the front.
    pub fn compact(&mut self) {
        let lead = self
            .frames
            .iter()
            .take_while(|s| s.1 == SentFrame::Settled)
            .count();
        if lead == self.frames.len() {
            self.base = self.next_index();
            self.frames.clear();
            return;
        }
        if lead < COMPACT_MIN || lead < self.frames.len() / 2 {
            return;
        }
        let len = self.frames.len();
        self.frames.as_mut_slice().copy_within(lead..len, 0);
        self.frames.truncate(len - lead);
        self.base = self.base.saturating_add(lead as u64);
    }

    /// Frames held, settled ones included.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_record))]
mod tests {
    use super::*;

    const DATA: PacketNumberSpace = PacketNumberSpace::ApplicationData;
    const INITIAL: PacketNumberSpace = PacketNumberSpace::Initial;

    #[test]
    fn take_settles_once() -> Result<(), AllocError> {
        let mut pool = FramePool::new();
        let first = pool.next_index();
        pool.push(DATA, SentFrame::HandshakeDone)?;
        pool.push(DATA, SentFrame::Ack { largest: 7 })?;
        let rec = SentRecord {
            first,
            len: 2,
            path: PathId::default(),
            pmtu_probe: false,
        };
        let mut it = rec.indices();
        assert_eq!(
            it.next().and_then(|i| pool.take(i)),
            Some(SentFrame::HandshakeDone)
        );
        assert_eq!(pool.take(first), None);
        assert_eq!(
            it.next().and_then(|i| pool.take(i)),
            Some(SentFrame::Ack { largest: 7 })
        );
        pool.compact();
        assert!(pool.is_empty());
        assert_eq!(pool.next_index(), first + 2);
        Ok(())
    }

    #[test]
    fn compaction_keeps_indices() -> Result<(), AllocError> {
        let mut pool = FramePool::new();
        for i in 0..200 {
            pool.push(DATA, SentFrame::NewConnectionId(i))?;
        }
        for i in 0..150 {
            assert_eq!(pool.take(i), Some(SentFrame::NewConnectionId(i)));
        }
        pool.compact();
        assert_eq!(pool.len(), 50);
        assert_eq!(pool.take(150), Some(SentFrame::NewConnectionId(150)));
        assert_eq!(pool.take(10), None);
        pool.truncate(190);
        assert_eq!(pool.next_index(), 190);
        Ok(())
    }

    #[test]
    fn discarding_a_space() -> Result<(), AllocError> {
        let mut pool = FramePool::new();
        pool.push(INITIAL, SentFrame::Ack { largest: 1 })?;
        pool.push(DATA, SentFrame::HandshakeDone)?;
        pool.discard_space(INITIAL);
        assert_eq!(pool.take(0), None);
        assert_eq!(pool.take(1), Some(SentFrame::HandshakeDone));
        Ok(())
    }
}
