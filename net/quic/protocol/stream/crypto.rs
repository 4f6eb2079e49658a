// SPDX-License-Identifier: GPL-2.0

//! The CRYPTO stream of one encryption level (RFC 9000 §19.6, §7.5;
//! RFC 9001 §4).
//!
//! TLS handshake bytes flow like stream data without a stream ID, a FIN or
//! flow control: [`CryptoStream`] pairs a [`SendBuffer`] (retransmission of
//! lost data before new data) with a [`Reassembler`] whose limit is the
//! CRYPTO buffer the endpoint commits. The connection keeps one per
//! encryption level (Initial, Handshake, 1-RTT) and drops it with the keys.

use super::reassembly::{Reassembler, ReassemblyError};
use super::send_buf::{SendBudget, SendBuffer};
use super::{clamp_usize, len_u64, varint_len, FRAME_CRYPTO};
use crate::protocol::alloc::AllocError;
use crate::protocol::error::{TransportError, TransportErrorCode};

/// CRYPTO data to send in one CRYPTO frame; handed back on ack or loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CryptoChunk {
    /// Offset of the first byte in this level's CRYPTO stream.
    pub offset: u64,
    /// Number of bytes.
    pub len: usize,
}

/// The largest number of data bytes a CRYPTO frame of at most `room` bytes
/// can carry at `offset`; `None` if not even the header fits.
pub fn crypto_frame_capacity(room: usize, offset: u64) -> Option<usize> {
    let rest = room.checked_sub(1 + varint_len(offset))?;
    rest.checked_sub(varint_len(len_u64(rest)))
}

/// The CRYPTO stream of one encryption level.
#[derive(Debug)]
pub struct CryptoStream {
    send: SendBuffer,
    recv: Reassembler,
    /// The level's keys are gone: nothing more is sent or received.
    discarded: bool,
}

impl CryptoStream {
    /// The smallest receive buffer allowed.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-7.5
    //# Implementations MUST support buffering at least 4096 bytes of data
    //# received in out-of-order CRYPTO frames.
    pub const MIN_RECV_BUFFER: u64 = 4096;

    /// A CRYPTO stream buffering received data up to `max_recv_buffer`
    /// bytes past what TLS has read (at least [`Self::MIN_RECV_BUFFER`]).
    pub fn new(max_recv_buffer: u64) -> Self {
        Self {
            send: SendBuffer::new(),
            recv: Reassembler::new(max_recv_buffer.max(Self::MIN_RECV_BUFFER)),
            discarded: false,
        }
    }

    /// Changes the receive buffer limit, for instance to let a large
    /// certificate chain through during the handshake.
    pub fn set_max_recv_buffer(&mut self, max: u64) {
        self.recv.set_limit(max.max(Self::MIN_RECV_BUFFER));
    }

    /// Buffers as much of `data` (from TLS) as `budget` allows.
    pub fn write(&mut self, data: &[u8], budget: &mut SendBudget) -> Result<usize, AllocError> {
        if self.discarded {
            return Ok(0);
        }
        self.send.write(data, budget)
    }

    /// Whether a CRYPTO frame waits to be sent.
    pub fn wants_to_send(&self) -> bool {
        !self.discarded && (self.send.has_lost() || self.send.unsent() > 0)
    }

    /// Whether everything written was acknowledged.
    pub fn is_fully_acked(&self) -> bool {
        self.send.is_fully_acked()
    }

    /// The next CRYPTO frame fitting in `room` bytes: lost data first.
    pub fn poll_chunk(&mut self, room: usize) -> Option<CryptoChunk> {
        if self.discarded {
            return None;
        }
        let range = if let Some(lost) = self.send.next_lost() {
            let cap = crypto_frame_capacity(room, lost.start).filter(|&c| c > 0)?;
            let end = lost.end.min(lost.start.saturating_add(len_u64(cap)));
            self.send.retransmit_to(end);
            lost.start..end
        } else if self.send.unsent() > 0 {
            let cap = crypto_frame_capacity(room, self.send.sent()).filter(|&c| c > 0)?;
            self.send.send_new(len_u64(cap))
        } else {
            return None;
        };
        Some(CryptoChunk {
            offset: range.start,
            len: clamp_usize(range.end - range.start),
        })
    }

    /// Copies the bytes of a chunk at `offset` into `out`; returns how many.
    pub fn copy_out(&self, offset: u64, out: &mut [u8]) -> usize {
        self.send.copy_out(offset, out)
    }

    /// A CRYPTO frame was acknowledged.
    pub fn on_chunk_acked(
        &mut self,
        chunk: CryptoChunk,
        budget: &mut SendBudget,
    ) -> Result<(), AllocError> {
        if self.discarded {
            return Ok(());
        }
        let end = chunk.offset.saturating_add(len_u64(chunk.len));
        self.send.on_acked(chunk.offset..end, budget)
    }

    /// A CRYPTO frame was lost. Returns whether data must be sent again.
    pub fn on_chunk_lost(&mut self, chunk: CryptoChunk) -> Result<bool, AllocError> {
        if self.discarded {
            return Ok(false);
        }
        let end = chunk.offset.saturating_add(len_u64(chunk.len));
        self.send.on_lost(chunk.offset..end)
    }

    /// A received CRYPTO frame. Returns whether new data became readable.
    pub fn on_crypto_frame(&mut self, offset: u64, data: &[u8]) -> Result<bool, TransportError> {
        if self.discarded {
            return Ok(false);
        }
        let before = self.recv.readable();
        match self.recv.insert(offset, data) {
            Ok(_) => Ok(self.recv.readable() > before),
            //= https://www.rfc-editor.org/rfc/rfc9000#section-7.5
            //# If an endpoint does not expand its buffer, it MUST close the
            //# connection with a CRYPTO_BUFFER_EXCEEDED error code.
            Err(ReassemblyError::LimitExceeded | ReassemblyError::TooFragmented) => {
                Err(TransportError::new(
                    TransportErrorCode::CRYPTO_BUFFER_EXCEEDED,
                    "CRYPTO data beyond the buffer",
                )
                .with_frame(FRAME_CRYPTO))
            }
            Err(ReassemblyError::OutOfMemory) => Err(TransportError::internal("out of memory")),
        }
    }

    /// Bytes TLS can read now.
    pub fn readable(&self) -> u64 {
        self.recv.readable()
    }

    /// The readable bytes stored together; see [`consume`](Self::consume).
    pub fn peek(&self) -> &[u8] {
        self.recv.peek()
    }

    /// Marks `n` bytes returned by [`peek`](Self::peek) as read.
    pub fn consume(&mut self, n: usize) {
        self.recv.consume(len_u64(n));
    }

    /// Copies readable data into `out` and returns how many bytes.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        self.recv.read(out)
    }

    /// Bytes of memory held (both directions).
    pub fn memory(&self) -> usize {
        self.recv.memory() + self.send.charged()
    }

    /// The level's keys were discarded: frees everything and ignores all
    /// later frames and callbacks.
    pub fn discard(&mut self, budget: &mut SendBudget) {
        self.discarded = true;
        self.send.clear(budget);
        self.recv.discard();
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_crypto))]
mod tests {
    use super::*;

    #[test]
    fn send_lose_retransmit_ack() -> Result<(), AllocError> {
        let mut budget = SendBudget::new(1 << 16);
        let mut c = CryptoStream::new(0);
        assert_eq!(c.write(&[1u8; 100], &mut budget)?, 100);
        // Type + 1-byte offset + 1-byte length + 37 bytes.
        let first = c.poll_chunk(40);
        assert_eq!(first, Some(CryptoChunk { offset: 0, len: 37 }));
        let second = c.poll_chunk(1000);
        assert_eq!(
            second,
            Some(CryptoChunk {
                offset: 37,
                len: 63
            })
        );
        assert_eq!(c.poll_chunk(1000), None);
        assert!(!c.wants_to_send());
        if let Some(first) = first {
            assert!(c.on_chunk_lost(first)?);
            assert_eq!(c.poll_chunk(1000), Some(first));
            c.on_chunk_acked(first, &mut budget)?;
        }
        if let Some(second) = second {
            c.on_chunk_acked(second, &mut budget)?;
        }
        assert!(c.is_fully_acked());
        assert_eq!(budget.used(), 0);
        Ok(())
    }

    #[test]
    fn frame_sizing() {
        assert_eq!(crypto_frame_capacity(2, 0), None);
        assert_eq!(crypto_frame_capacity(3, 0), Some(0));
        assert_eq!(crypto_frame_capacity(1200, 1 << 20), Some(1200 - 1 - 4 - 2));
    }

    #[test]
    fn reassembles_out_of_order() -> Result<(), TransportError> {
        let mut c = CryptoStream::new(0);
        assert!(!c.on_crypto_frame(3, b"def")?);
        assert!(c.on_crypto_frame(0, b"abc")?);
        let mut out = [0u8; 8];
        assert_eq!(c.read(&mut out), 6);
        assert_eq!(&out[..6], b"abcdef");
        // Retransmission.
        assert!(!c.on_crypto_frame(0, b"abc")?);
        Ok(())
    }

    #[test]
    fn buffer_exceeded() -> Result<(), TransportError> {
        let mut c = CryptoStream::new(0);
        // At least 4096 bytes out of order must be accepted.
        assert!(!c.on_crypto_frame(4000, &[0u8; 96])?);
        let err = c
            .on_crypto_frame(4096, &[0u8; 1])
            .map_err(|e| (e.code, e.frame_type));
        assert_eq!(
            err,
            Err((TransportErrorCode::CRYPTO_BUFFER_EXCEEDED, Some(0x06)))
        );
        // Offsets near 2^64 are rejected the same way.
        let err = c.on_crypto_frame(u64::MAX, &[0u8; 1]).map_err(|e| e.code);
        assert_eq!(err, Err(TransportErrorCode::CRYPTO_BUFFER_EXCEEDED));
        // A larger buffer lets it through.
        c.set_max_recv_buffer(8192);
        assert!(!c.on_crypto_frame(4096, &[0u8; 1])?);
        Ok(())
    }

    #[test]
    fn discard_frees_and_ignores() -> Result<(), TransportError> {
        let mut budget = SendBudget::new(1 << 16);
        let mut c = CryptoStream::new(0);
        c.write(&[0u8; 50], &mut budget)?;
        let chunk = c.poll_chunk(1000);
        c.on_crypto_frame(10, &[0u8; 10])?;
        c.discard(&mut budget);
        assert_eq!(budget.used(), 0);
        assert_eq!(c.memory(), 0);
        assert_eq!(c.poll_chunk(1000), None);
        if let Some(chunk) = chunk {
            assert!(!c.on_chunk_lost(chunk)?);
            c.on_chunk_acked(chunk, &mut budget)?;
        }
        assert!(!c.on_crypto_frame(0, &[0u8; 10])?);
        assert_eq!(c.write(b"x", &mut budget)?, 0);
        Ok(())
    }
}
