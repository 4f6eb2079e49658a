// SPDX-License-Identifier: GPL-2.0

//! Panic-free byte readers and writers.
//!
//! [`Reader`] consumes a borrowed slice front to back; every read is checked
//! and returns [`DecodeError`] instead of panicking. [`Writer`] fills
//! caller-provided memory (an skb's tailroom in the kernel) and fails with
//! [`BufferTooShort`] rather than writing past its end. Encoders compute their
//! size up front, so a caller can check room before it starts writing.

use crate::protocol::varint::VarInt;

/// Malformed or truncated input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended in the middle of a field.
    UnexpectedEnd,
    /// A field has a value the encoding does not allow.
    Invalid,
}

/// The output buffer has no room for what was to be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferTooShort;

/// A cursor over input bytes. Never panics; never reads past the end.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Creates a reader over `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not read yet.
    pub const fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether everything was read.
    pub const fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The unread bytes, without consuming them.
    pub const fn peek_rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Consumes and returns all unread bytes.
    pub fn read_rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Consumes `n` bytes and returns them.
    pub fn read_bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::UnexpectedEnd);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Consumes `N` bytes into an array.
    pub fn read_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.read_bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.read_bytes(n).map(|_| ())
    }

    /// Returns the next byte without consuming it.
    pub fn peek_u8(&self) -> Result<u8, DecodeError> {
        self.buf.first().copied().ok_or(DecodeError::UnexpectedEnd)
    }

    /// Reads one byte.
    pub fn read_u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.read_array::<1>()?[0])
    }

    /// Reads a big-endian `u16`.
    pub fn read_u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.read_array()?))
    }

    /// Reads a big-endian `u32`.
    pub fn read_u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.read_array()?))
    }

    /// Reads a big-endian `u64`.
    pub fn read_u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.read_array()?))
    }

    /// Reads a QUIC variable-length integer (RFC 9000 §16).
    pub fn read_varint(&mut self) -> Result<VarInt, DecodeError> {
        VarInt::decode(self)
    }

    /// Reads a varint length prefix followed by that many bytes.
    pub fn read_varint_prefixed(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.read_varint()?.into_inner();
        let len = usize::try_from(len).map_err(|_| DecodeError::UnexpectedEnd)?;
        self.read_bytes(len)
    }
}

/// A cursor writing into caller-provided memory.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// Creates a writer that fills `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub const fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing was written yet.
    pub const fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Room left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    /// The bytes written so far, mutably (e.g. to patch a length field).
    pub fn written_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.pos]
    }

    /// Reserves `n` bytes, returning them for the caller to fill.
    pub fn reserve(&mut self, n: usize) -> Result<&mut [u8], BufferTooShort> {
        if n > self.remaining() {
            return Err(BufferTooShort);
        }
        let start = self.pos;
        self.pos += n;
        Ok(&mut self.buf[start..start + n])
    }

    /// Appends `bytes`.
    pub fn put_bytes(&mut self, bytes: &[u8]) -> Result<(), BufferTooShort> {
        self.reserve(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// Appends one byte.
    pub fn put_u8(&mut self, v: u8) -> Result<(), BufferTooShort> {
        self.put_bytes(&[v])
    }

    /// Appends a big-endian `u16`.
    pub fn put_u16(&mut self, v: u16) -> Result<(), BufferTooShort> {
        self.put_bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian `u32`.
    pub fn put_u32(&mut self, v: u32) -> Result<(), BufferTooShort> {
        self.put_bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian `u64`.
    pub fn put_u64(&mut self, v: u64) -> Result<(), BufferTooShort> {
        self.put_bytes(&v.to_be_bytes())
    }

    /// Appends a QUIC variable-length integer in its shortest form.
    pub fn put_varint(&mut self, v: VarInt) -> Result<(), BufferTooShort> {
        v.encode(self)
    }

    /// Appends a varint length prefix and `bytes`.
    pub fn put_varint_prefixed(&mut self, bytes: &[u8]) -> Result<(), BufferTooShort> {
        let len = VarInt::try_from_usize(bytes.len()).map_err(|_| BufferTooShort)?;
        if len.size() + bytes.len() > self.remaining() {
            return Err(BufferTooShort);
        }
        self.put_varint(len)?;
        self.put_bytes(bytes)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_codec))]
mod tests {
    use super::*;

    #[test]
    fn reader_never_reads_past_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.read_u16(), Ok(0x0102));
        assert_eq!(r.read_u16(), Err(DecodeError::UnexpectedEnd));
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.read_u8(), Ok(3));
        assert_eq!(r.read_u8(), Err(DecodeError::UnexpectedEnd));
        assert_eq!(r.read_bytes(usize::MAX), Err(DecodeError::UnexpectedEnd));
    }

    #[test]
    fn writer_refuses_overflow() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.put_u16(0xabcd), Ok(()));
        assert_eq!(w.put_u16(0x1234), Err(BufferTooShort));
        assert_eq!(w.put_u8(0xef), Ok(()));
        assert_eq!(w.written(), &[0xab, 0xcd, 0xef]);
    }

    #[test]
    fn prefixed_round_trip() {
        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.put_varint_prefixed(b"abc"), Ok(()));
        let n = w.len();
        let mut r = Reader::new(&buf[..n]);
        assert_eq!(r.read_varint_prefixed(), Ok(&b"abc"[..]));
        assert!(r.is_empty());
    }
}
