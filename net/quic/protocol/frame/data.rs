// SPDX-License-Identifier: GPL-2.0

//! The frames that carry data: STREAM (RFC 9000 §19.8), CRYPTO (§19.6) and
//! DATAGRAM (RFC 9221 §4).
//!
//! Decoded frames borrow their data from the packet. For sending, each type
//! has a `fit` function that, given the room left in a packet, works out how
//! many data bytes the frame can carry and whether it needs a Length field:
//! a STREAM or DATAGRAM frame that ends the packet may leave it out and run
//! to the end of the payload.

use crate::protocol::codec::{BufferTooShort, Reader, Writer};
use crate::protocol::error::TransportError;
use crate::protocol::frame::{fit_data, prefixed_size, put_type, FrameType};
use crate::protocol::varint::VarInt;

/// What fits of a STREAM, CRYPTO or DATAGRAM frame in the room left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fit {
    /// How many data bytes to put in the frame.
    pub data_len: usize,
    /// Whether the frame needs a Length field; without one it must be the
    /// last frame of the packet.
    pub has_length: bool,
}

/// How many bytes may follow `offset` before a stream ends past 2^62 - 1.
fn room_below_max(offset: VarInt) -> usize {
    let left = VarInt::MAX.into_inner() - offset.into_inner();
    usize::try_from(left).unwrap_or(usize::MAX)
}

/// Checks that data of `len` bytes at `offset` ends at most at 2^62 - 1.
//= https://www.rfc-editor.org/rfc/rfc9000#section-19.8
//# Receipt of a frame that exceeds this limit MUST be treated as a
//# connection error of type FRAME_ENCODING_ERROR or FLOW_CONTROL_ERROR.
fn check_end(offset: VarInt, len: usize) -> Result<(), TransportError> {
    if len > room_below_max(offset) {
        return Err(TransportError::frame_encoding("data ends beyond 2^62-1"));
    }
    Ok(())
}

/// A STREAM frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamFrame<'a> {
    /// The stream the data belongs to.
    pub stream_id: VarInt,
    /// The offset of the first data byte in the stream.
    pub offset: VarInt,
    /// Whether the frame ends the stream.
    pub fin: bool,
    /// Whether the frame has a Length field. Without one it runs to the end
    /// of the packet, so it must be the packet's last frame.
    pub has_length: bool,
    /// The stream data. `offset + data.len()` is at most 2^62 - 1.
    pub data: &'a [u8],
}

impl<'a> StreamFrame<'a> {
    /// Decodes the fields after the type `ty`, one of 0x08 to 0x0f.
    pub(crate) fn decode(ty: FrameType, r: &mut Reader<'a>) -> Result<Self, TransportError> {
        let stream_id = r.read_varint()?;
        let offset = if ty.0 & FrameType::STREAM_OFF != 0 {
            r.read_varint()?
        } else {
            VarInt::ZERO
        };
        let has_length = ty.0 & FrameType::STREAM_LEN != 0;
        let data = if has_length {
            r.read_varint_prefixed()?
        } else {
            r.read_rest()
        };
        check_end(offset, data.len())?;
        Ok(Self {
            stream_id,
            offset,
            fin: ty.0 & FrameType::STREAM_FIN != 0,
            has_length,
            data,
        })
    }

    /// The frame type: OFF when the offset is not zero, LEN and FIN as set.
    pub fn ty(&self) -> FrameType {
        let mut ty = FrameType::STREAM.0;
        if self.offset != VarInt::ZERO {
            ty |= FrameType::STREAM_OFF;
        }
        if self.has_length {
            ty |= FrameType::STREAM_LEN;
        }
        if self.fin {
            ty |= FrameType::STREAM_FIN;
        }
        FrameType(ty)
    }

    /// The stream offset just past the data: the final size if `fin`.
    pub fn end(&self) -> u64 {
        self.offset
            .into_inner()
            .saturating_add(u64::try_from(self.data.len()).unwrap_or(u64::MAX))
    }

    fn header_size(stream_id: VarInt, offset: VarInt) -> usize {
        let offset_size = if offset == VarInt::ZERO {
            0
        } else {
            offset.size()
        };
        1 + stream_id.size() + offset_size
    }

    /// The exact number of bytes [`StreamFrame::encode`] writes.
    pub fn encoded_size(&self) -> usize {
        let header = Self::header_size(self.stream_id, self.offset);
        if self.has_length {
            header + prefixed_size(self.data.len())
        } else {
            header + self.data.len()
        }
    }

    /// Writes the frame. Fails without writing anything if `w` has less room
    /// than [`StreamFrame::encoded_size`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.encoded_size() > w.remaining() {
            return Err(BufferTooShort);
        }
        put_type(w, self.ty())?;
        w.put_varint(self.stream_id)?;
        if self.offset != VarInt::ZERO {
            w.put_varint(self.offset)?;
        }
        if self.has_length {
            w.put_varint_prefixed(self.data)
        } else {
            w.put_bytes(self.data)
        }
    }

    /// Sizes a STREAM frame for `stream_id` at `offset` with `available`
    /// bytes to send and `room` bytes left in the packet.
    ///
    /// With `last_in_packet` the frame leaves out its Length field: the
    /// caller then writes nothing after it (PADDING goes before). The frame
    /// may carry FIN only if all of `available` fits. Returns `None` if not
    /// a single data byte fits, or, with nothing to send (a bare FIN), if
    /// the header does not fit.
    pub fn fit(
        stream_id: VarInt,
        offset: VarInt,
        available: usize,
        room: usize,
        last_in_packet: bool,
    ) -> Option<Fit> {
        let header = Self::header_size(stream_id, offset);
        let sendable = available.min(room_below_max(offset));
        let data_len = fit_data(header, sendable, room, !last_in_packet)?;
        if data_len == 0 && available > 0 {
            return None;
        }
        Some(Fit {
            data_len,
            has_length: !last_in_packet,
        })
    }
}

/// A CRYPTO frame: TLS handshake bytes at an offset of the CRYPTO stream of
/// the packet's encryption level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CryptoFrame<'a> {
    /// The offset of the first byte in the level's CRYPTO stream.
    pub offset: VarInt,
    /// The handshake bytes. `offset + data.len()` is at most 2^62 - 1.
    pub data: &'a [u8],
}

impl<'a> CryptoFrame<'a> {
    /// Decodes the fields after the type.
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Self, TransportError> {
        let offset = r.read_varint()?;
        let data = r.read_varint_prefixed()?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.6
        //# Receipt of a frame that exceeds this limit MUST be treated as a
        //# connection error of type FRAME_ENCODING_ERROR or CRYPTO_BUFFER_EXCEEDED.
        check_end(offset, data.len())?;
        Ok(Self { offset, data })
    }

    /// The stream offset just past the data.
    pub fn end(&self) -> u64 {
        self.offset
            .into_inner()
            .saturating_add(u64::try_from(self.data.len()).unwrap_or(u64::MAX))
    }

    /// The exact number of bytes [`CryptoFrame::encode`] writes.
    pub fn encoded_size(&self) -> usize {
        1 + self.offset.size() + prefixed_size(self.data.len())
    }

    /// Writes the frame. Fails without writing anything if `w` has less room
    /// than [`CryptoFrame::encoded_size`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.encoded_size() > w.remaining() {
            return Err(BufferTooShort);
        }
        put_type(w, FrameType::CRYPTO)?;
        w.put_varint(self.offset)?;
        w.put_varint_prefixed(self.data)
    }

    /// How many of `available` bytes at `offset` a CRYPTO frame can carry in
    /// `room` bytes. `None` if not a single byte fits.
    pub fn fit(offset: VarInt, available: usize, room: usize) -> Option<usize> {
        let sendable = available.min(room_below_max(offset));
        match fit_data(1 + offset.size(), sendable, room, true)? {
            0 => None,
            n => Some(n),
        }
    }
}

/// A DATAGRAM frame (RFC 9221): unreliable application data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramFrame<'a> {
    /// Whether the frame has a Length field; without one it runs to the end
    /// of the packet.
    pub has_length: bool,
    /// The datagram; may be empty.
    pub data: &'a [u8],
}

impl<'a> DatagramFrame<'a> {
    /// Decodes the fields after the type `ty`, 0x30 or 0x31.
    pub(crate) fn decode(ty: FrameType, r: &mut Reader<'a>) -> Result<Self, TransportError> {
        let has_length = ty == FrameType::DATAGRAM_LEN;
        let data = if has_length {
            r.read_varint_prefixed()?
        } else {
            r.read_rest()
        };
        Ok(Self { has_length, data })
    }

    /// DATAGRAM or DATAGRAM_LEN.
    pub fn ty(&self) -> FrameType {
        if self.has_length {
            FrameType::DATAGRAM_LEN
        } else {
            FrameType::DATAGRAM
        }
    }

    /// The exact number of bytes [`DatagramFrame::encode`] writes: what
    /// max_datagram_frame_size limits.
    pub fn encoded_size(&self) -> usize {
        if self.has_length {
            1 + prefixed_size(self.data.len())
        } else {
            1 + self.data.len()
        }
    }

    /// Writes the frame. Fails without writing anything if `w` has less room
    /// than [`DatagramFrame::encoded_size`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.encoded_size() > w.remaining() {
            return Err(BufferTooShort);
        }
        put_type(w, self.ty())?;
        if self.has_length {
            w.put_varint_prefixed(self.data)
        } else {
            w.put_bytes(self.data)
        }
    }

    /// Whether a datagram of `len` bytes fits in `room`; datagrams are never
    /// split. With `last_in_packet` the Length field is left out.
    pub fn fit(len: usize, room: usize, last_in_packet: bool) -> Option<Fit> {
        if fit_data(1, len, room, !last_in_packet)? < len {
            return None;
        }
        Some(Fit {
            data_len: len,
            has_length: !last_in_packet,
        })
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_frame_data))]
mod tests {
    use super::*;
    use crate::protocol::error::TransportErrorCode;
    use crate::protocol::frame::{Frame, Frames};

    fn decode(bytes: &[u8]) -> Result<Frame<'_>, TransportError> {
        Frames::new(bytes)
            .next()
            .unwrap_or(Err(TransportError::internal("empty")))
    }

    fn code_and_type(r: Result<Frame<'_>, TransportError>) -> Option<(TransportErrorCode, u64)> {
        r.err().map(|e| (e.code, e.frame_type.unwrap_or(u64::MAX)))
    }

    const ENC: TransportErrorCode = TransportErrorCode::FRAME_ENCODING_ERROR;

    #[test]
    fn all_eight_stream_types() {
        // Stream 4, offset 0x41 (2 bytes) if OFF, length 2 if LEN, "hi".
        for ty in 0x08u8..=0x0f {
            let mut buf = [0u8; 8];
            let mut n = 0;
            for b in [ty, 4] {
                buf[n] = b;
                n += 1;
            }
            if ty & 0x04 != 0 {
                buf[n..n + 2].copy_from_slice(&[0x40, 0x41]);
                n += 2;
            }
            if ty & 0x02 != 0 {
                buf[n] = 2;
                n += 1;
            }
            buf[n..n + 2].copy_from_slice(b"hi");
            n += 2;
            let offset = if ty & 0x04 != 0 { 0x41 } else { 0 };
            let expected = StreamFrame {
                stream_id: VarInt::from_u32(4),
                offset: VarInt::from_u32(offset),
                fin: ty & 0x01 != 0,
                has_length: ty & 0x02 != 0,
                data: b"hi",
            };
            assert_eq!(decode(&buf[..n]), Ok(Frame::Stream(expected)));
            assert_eq!(expected.ty(), FrameType(u64::from(ty)));
            assert_eq!(expected.encoded_size(), n);
            let mut out = [0u8; 8];
            let mut w = Writer::new(&mut out);
            assert_eq!(expected.encode(&mut w), Ok(()));
            assert_eq!(w.written(), &buf[..n]);
        }
    }

    #[test]
    fn stream_without_length_takes_the_rest() {
        let bytes = [0x09, 0, b'a', b'b', b'c'];
        let frame = decode(&bytes);
        assert!(matches!(frame, Ok(Frame::Stream(s)) if s.data == b"abc" && s.fin));
        // OFF bit with a zero offset decodes to offset zero; re-encoding
        // drops the bit.
        let frame = decode(&[0x0c, 0, 0]);
        assert!(matches!(frame, Ok(Frame::Stream(s)) if s.ty() == FrameType(0x08)));
    }

    #[test]
    fn stream_limits() {
        // Offset 2^62 - 1 with one byte of data ends at 2^62.
        let over = [
            0x0e, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0,
        ];
        assert_eq!(code_and_type(decode(&over)), Some((ENC, 0x0e)));
        // Zero bytes at 2^62 - 1 is fine.
        let edge = [0x0e, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0];
        assert!(matches!(decode(&edge), Ok(Frame::Stream(s)) if s.end() == (1 << 62) - 1));
        // Length beyond the payload.
        assert_eq!(
            code_and_type(decode(&[0x0a, 0, 3, 1, 2])),
            Some((ENC, 0x0a))
        );
        for cut in 1..4 {
            let bytes = [0x0e, 0x40, 0x01, 0x40];
            assert_eq!(code_and_type(decode(&bytes[..cut])), Some((ENC, 0x0e)));
        }
    }

    #[test]
    fn crypto_round_trip_and_limits() {
        let frame = CryptoFrame {
            offset: VarInt::from_u32(1000),
            data: b"hello",
        };
        let mut buf = [0u8; 16];
        let mut w = Writer::new(&mut buf);
        assert_eq!(frame.encode(&mut w), Ok(()));
        assert_eq!(
            w.written(),
            &[0x06, 0x43, 0xe8, 5, b'h', b'e', b'l', b'l', b'o']
        );
        assert_eq!(frame.encoded_size(), 9);
        assert_eq!(decode(&buf[..9]), Ok(Frame::Crypto(frame)));
        for cut in 1..9 {
            assert_eq!(code_and_type(decode(&buf[..cut])), Some((ENC, 0x06)));
        }
        let over = [0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0];
        assert_eq!(code_and_type(decode(&over)), Some((ENC, 0x06)));
    }

    #[test]
    fn datagram_both_types() {
        assert_eq!(
            decode(&[0x30, 1, 2]),
            Ok(Frame::Datagram(DatagramFrame {
                has_length: false,
                data: &[1, 2]
            }))
        );
        assert_eq!(
            decode(&[0x31, 0]),
            Ok(Frame::Datagram(DatagramFrame {
                has_length: true,
                data: &[]
            }))
        );
        assert_eq!(code_and_type(decode(&[0x31, 2, 0])), Some((ENC, 0x31)));
        assert_eq!(code_and_type(decode(&[0x31])), Some((ENC, 0x31)));
    }

    /// Checks that a STREAM fit is valid and maximal for `room`.
    fn check_stream_fit(id: VarInt, offset: VarInt, available: usize, room: usize, last: bool) {
        let data = [0u8; 200];
        let Some(fit) = StreamFrame::fit(id, offset, available, room, last) else {
            // Not even one byte (or the bare header) fits.
            let want = available.min(1);
            let frame = StreamFrame {
                stream_id: id,
                offset,
                fin: false,
                has_length: !last,
                data: &data[..want],
            };
            assert!(frame.encoded_size() > room);
            return;
        };
        assert_eq!(fit.has_length, !last);
        assert!(fit.data_len <= available);
        let mut frame = StreamFrame {
            stream_id: id,
            offset,
            fin: false,
            has_length: fit.has_length,
            data: &data[..fit.data_len],
        };
        assert!(frame.encoded_size() <= room);
        if fit.data_len < available {
            frame.data = &data[..fit.data_len + 1];
            assert!(frame.encoded_size() > room);
        }
    }

    #[test]
    fn stream_fit_is_exact_and_maximal() {
        let ids = [VarInt::from_u32(0), VarInt::from_u32(1 << 20)];
        let offsets = [VarInt::ZERO, VarInt::from_u32(70)];
        for id in ids {
            for offset in offsets {
                for room in 0..140 {
                    for available in [0, 1, 50, 63, 64, 65, 130, 200] {
                        check_stream_fit(id, offset, available, room, false);
                        check_stream_fit(id, offset, available, room, true);
                    }
                }
            }
        }
        // Near the end of the offset space only what ends at 2^62-1 fits.
        let fit = StreamFrame::fit(
            VarInt::ZERO,
            VarInt::saturating((1 << 62) - 4),
            10,
            100,
            true,
        );
        assert_eq!(fit.map(|f| f.data_len), Some(3));
        assert_eq!(
            StreamFrame::fit(VarInt::ZERO, VarInt::MAX, 10, 100, true),
            None
        );
        assert_eq!(
            StreamFrame::fit(VarInt::ZERO, VarInt::MAX, 0, 100, true),
            Some(Fit {
                data_len: 0,
                has_length: false
            })
        );
    }

    #[test]
    fn crypto_and_datagram_fit() {
        let data = [0u8; 100];
        for room in 0..80 {
            let offset = VarInt::from_u32(64);
            match CryptoFrame::fit(offset, 70, room) {
                Some(n) => {
                    let frame = CryptoFrame {
                        offset,
                        data: &data[..n],
                    };
                    assert!(frame.encoded_size() <= room);
                    if n < 70 {
                        let bigger = CryptoFrame {
                            offset,
                            data: &data[..n + 1],
                        };
                        assert!(bigger.encoded_size() > room);
                    }
                }
                None => assert!(room < 1 + 2 + 1 + 1),
            }
            for last in [false, true] {
                let fit = DatagramFrame::fit(60, room, last);
                let frame = DatagramFrame {
                    has_length: !last,
                    data: &data[..60],
                };
                assert_eq!(fit.is_some(), (frame.encoded_size() <= room));
            }
        }
        assert_eq!(CryptoFrame::fit(VarInt::ZERO, 0, 100), None);
        // A 2-byte Length field carrying 16383 bytes beats a 4-byte one.
        let offset = VarInt::from_u32((1 << 30) - 1);
        assert_eq!(CryptoFrame::fit(offset, 20_000, 16_391), Some(16_383));
        assert_eq!(CryptoFrame::fit(offset, 20_000, 16_392), Some(16_383));
        assert_eq!(CryptoFrame::fit(offset, 20_000, 16_393), Some(16_384));
    }
}
