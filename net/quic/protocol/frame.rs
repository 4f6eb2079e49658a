// SPDX-License-Identifier: GPL-2.0

//! Frames (RFC 9000 §12.4 and §19, DATAGRAM from RFC 9221).
//!
//! A packet payload is a sequence of frames. [`Frames`] walks one lazily and
//! yields a [`Frame`] that borrows its data (STREAM, CRYPTO and DATAGRAM
//! bytes, tokens, reason phrases, ACK ranges) from the payload: decoding
//! never allocates. Malformed input becomes the [`TransportError`] the RFC
//! asks for, naming the offending frame type.
//!
//! Encoding is split by cost: every [`Frame`] can write itself with
//! [`Frame::encode`] after reporting its exact [`Frame::encoded_size`]; the
//! frames a sender builds to fill a packet have sizing helpers that work out
//! how much data fits the room left ([`StreamFrame::fit`],
//! [`CryptoFrame::fit`], [`DatagramFrame::fit`]) and an [`AckEncoder`] that
//! writes an ACK frame straight from a [`RangeSet`] of received packet
//! numbers. An encoder checks its size before it writes its first byte, so a
//! full buffer is left untouched.
//!
//! [`PacketKind`] and the [`FrameType`] predicates say which frames each
//! packet type may carry and how a frame counts for acknowledgement,
//! congestion control and path probing.
//!
//! [`TransportError`]: crate::protocol::error::TransportError
//! [`RangeSet`]: crate::protocol::range_set::RangeSet

use crate::protocol::codec::{BufferTooShort, Writer};
use crate::protocol::varint::VarInt;

pub mod ack;
pub mod control;
pub mod data;
pub mod decode;
pub mod rules;

pub use ack::{ack_delay_field, AckEncoder, AckFrame, AckRanges, EcnCounts};
pub use control::{ConnectionClose, NewConnectionId};
pub use data::{CryptoFrame, DatagramFrame, Fit, StreamFrame};
pub use decode::Frames;
pub use rules::PacketKind;

/// A frame type: the varint that starts every frame.
///
/// ACK, STREAM, MAX_STREAMS, STREAMS_BLOCKED, CONNECTION_CLOSE and DATAGRAM
/// carry flags in their type, so a frame kind may span several values.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameType(pub u64);

impl FrameType {
    /// PADDING.
    pub const PADDING: Self = Self(0x00);
    /// PING.
    pub const PING: Self = Self(0x01);
    /// ACK without ECN counts.
    pub const ACK: Self = Self(0x02);
    /// ACK with ECN counts.
    pub const ACK_ECN: Self = Self(0x03);
    /// RESET_STREAM.
    pub const RESET_STREAM: Self = Self(0x04);
    /// STOP_SENDING.
    pub const STOP_SENDING: Self = Self(0x05);
    /// CRYPTO.
    pub const CRYPTO: Self = Self(0x06);
    /// NEW_TOKEN.
    pub const NEW_TOKEN: Self = Self(0x07);
    /// STREAM with no flag set; the flags below are or-ed into it.
    pub const STREAM: Self = Self(0x08);
    /// The STREAM type bit saying an Offset field is present.
    pub const STREAM_OFF: u64 = 0x04;
    /// The STREAM type bit saying a Length field is present.
    pub const STREAM_LEN: u64 = 0x02;
    /// The STREAM type bit marking the end of the stream.
    pub const STREAM_FIN: u64 = 0x01;
    /// MAX_DATA.
    pub const MAX_DATA: Self = Self(0x10);
    /// MAX_STREAM_DATA.
    pub const MAX_STREAM_DATA: Self = Self(0x11);
    /// MAX_STREAMS for bidirectional streams.
    pub const MAX_STREAMS_BIDI: Self = Self(0x12);
    /// MAX_STREAMS for unidirectional streams.
    pub const MAX_STREAMS_UNI: Self = Self(0x13);
    /// DATA_BLOCKED.
    pub const DATA_BLOCKED: Self = Self(0x14);
    /// STREAM_DATA_BLOCKED.
    pub const STREAM_DATA_BLOCKED: Self = Self(0x15);
    /// STREAMS_BLOCKED for bidirectional streams.
    pub const STREAMS_BLOCKED_BIDI: Self = Self(0x16);
    /// STREAMS_BLOCKED for unidirectional streams.
    pub const STREAMS_BLOCKED_UNI: Self = Self(0x17);
    /// NEW_CONNECTION_ID.
    pub const NEW_CONNECTION_ID: Self = Self(0x18);
    /// RETIRE_CONNECTION_ID.
    pub const RETIRE_CONNECTION_ID: Self = Self(0x19);
    /// PATH_CHALLENGE.
    pub const PATH_CHALLENGE: Self = Self(0x1a);
    /// PATH_RESPONSE.
    pub const PATH_RESPONSE: Self = Self(0x1b);
    /// CONNECTION_CLOSE signalling a QUIC-layer error.
    pub const CONNECTION_CLOSE: Self = Self(0x1c);
    /// CONNECTION_CLOSE signalling an application error.
    pub const APPLICATION_CLOSE: Self = Self(0x1d);
    /// HANDSHAKE_DONE.
    pub const HANDSHAKE_DONE: Self = Self(0x1e);
    /// DATAGRAM running to the end of the packet (RFC 9221).
    pub const DATAGRAM: Self = Self(0x30);
    /// DATAGRAM with a Length field (RFC 9221).
    pub const DATAGRAM_LEN: Self = Self(0x31);

    /// Whether this is one of the eight STREAM types, 0x08 to 0x0f.
    pub const fn is_stream(self) -> bool {
        self.0 & !0x07 == Self::STREAM.0
    }

    /// Whether this type is one this implementation understands.
    pub const fn is_known(self) -> bool {
        matches!(self.0, 0x00..=0x1e | 0x30 | 0x31)
    }

    /// The frame's name as the RFCs spell it, for logs.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x00 => "PADDING",
            0x01 => "PING",
            0x02 | 0x03 => "ACK",
            0x04 => "RESET_STREAM",
            0x05 => "STOP_SENDING",
            0x06 => "CRYPTO",
            0x07 => "NEW_TOKEN",
            0x08..=0x0f => "STREAM",
            0x10 => "MAX_DATA",
            0x11 => "MAX_STREAM_DATA",
            0x12 | 0x13 => "MAX_STREAMS",
            0x14 => "DATA_BLOCKED",
            0x15 => "STREAM_DATA_BLOCKED",
            0x16 | 0x17 => "STREAMS_BLOCKED",
            0x18 => "NEW_CONNECTION_ID",
            0x19 => "RETIRE_CONNECTION_ID",
            0x1a => "PATH_CHALLENGE",
            0x1b => "PATH_RESPONSE",
            0x1c | 0x1d => "CONNECTION_CLOSE",
            0x1e => "HANDSHAKE_DONE",
            0x30 | 0x31 => "DATAGRAM",
            _ => "UNKNOWN",
        }
    }
}

impl core::fmt::Debug for FrameType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}({:#x})", self.name(), self.0)
    }
}

pub use crate::protocol::stream::Dir;

/// The largest stream count MAX_STREAMS and STREAMS_BLOCKED may carry, 2^60:
/// beyond it a stream ID would not fit a varint.
//= https://www.rfc-editor.org/rfc/rfc9000#section-19.11
//# This value cannot exceed 2^60, as it is not possible to encode stream IDs
//# larger than 2^62-1.
pub const MAX_STREAM_COUNT: u64 = 1 << 60;

/// The length of a stateless reset token.
pub const RESET_TOKEN_LEN: usize = 16;

/// One decoded frame, borrowing variable-length fields from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A run of `len` PADDING frames (one zero byte each), coalesced.
    Padding {
        /// Number of padding bytes.
        len: usize,
    },
    /// PING.
    Ping,
    /// ACK, with or without ECN counts.
    Ack(AckFrame<'a>),
    /// RESET_STREAM.
    ResetStream {
        /// The stream being reset.
        stream_id: VarInt,
        /// The application protocol error code.
        error_code: VarInt,
        /// The final size of the stream.
        final_size: VarInt,
    },
    /// STOP_SENDING.
    StopSending {
        /// The stream the sender should stop sending on.
        stream_id: VarInt,
        /// The application protocol error code.
        error_code: VarInt,
    },
    /// CRYPTO.
    Crypto(CryptoFrame<'a>),
    /// NEW_TOKEN; the token is never empty.
    NewToken {
        /// The token for a future Initial packet.
        token: &'a [u8],
    },
    /// STREAM, any of the eight variants.
    Stream(StreamFrame<'a>),
    /// MAX_DATA.
    MaxData {
        /// The connection-level limit, in bytes.
        max: VarInt,
    },
    /// MAX_STREAM_DATA.
    MaxStreamData {
        /// The stream the limit applies to.
        stream_id: VarInt,
        /// The stream-level limit, in bytes.
        max: VarInt,
    },
    /// MAX_STREAMS.
    MaxStreams {
        /// Which streams the count is for.
        dir: Dir,
        /// The cumulative stream count, at most [`MAX_STREAM_COUNT`].
        max: VarInt,
    },
    /// DATA_BLOCKED.
    DataBlocked {
        /// The connection-level limit at which the sender is blocked.
        limit: VarInt,
    },
    /// STREAM_DATA_BLOCKED.
    StreamDataBlocked {
        /// The blocked stream.
        stream_id: VarInt,
        /// The stream-level limit at which the sender is blocked.
        limit: VarInt,
    },
    /// STREAMS_BLOCKED.
    StreamsBlocked {
        /// Which streams the sender is blocked on.
        dir: Dir,
        /// The stream count limit, at most [`MAX_STREAM_COUNT`].
        limit: VarInt,
    },
    /// NEW_CONNECTION_ID.
    NewConnectionId(NewConnectionId),
    /// RETIRE_CONNECTION_ID.
    RetireConnectionId {
        /// The sequence number of the connection ID being retired.
        sequence: VarInt,
    },
    /// PATH_CHALLENGE.
    PathChallenge {
        /// Eight bytes of entropy to echo back.
        data: [u8; 8],
    },
    /// PATH_RESPONSE.
    PathResponse {
        /// The PATH_CHALLENGE data being echoed.
        data: [u8; 8],
    },
    /// CONNECTION_CLOSE, transport (0x1c) or application (0x1d).
    ConnectionClose(ConnectionClose<'a>),
    /// HANDSHAKE_DONE.
    HandshakeDone,
    /// DATAGRAM (RFC 9221).
    Datagram(DatagramFrame<'a>),
}

impl Frame<'_> {
    /// The frame's type, flags included, as [`Frame::encode`] writes it.
    pub fn ty(&self) -> FrameType {
        match self {
            Frame::Padding { .. } => FrameType::PADDING,
            Frame::Ping => FrameType::PING,
            Frame::Ack(ack) => ack.ty(),
            Frame::ResetStream { .. } => FrameType::RESET_STREAM,
            Frame::StopSending { .. } => FrameType::STOP_SENDING,
            Frame::Crypto(_) => FrameType::CRYPTO,
            Frame::NewToken { .. } => FrameType::NEW_TOKEN,
            Frame::Stream(stream) => stream.ty(),
            Frame::MaxData { .. } => FrameType::MAX_DATA,
            Frame::MaxStreamData { .. } => FrameType::MAX_STREAM_DATA,
            Frame::MaxStreams { dir: Dir::Bi, .. } => FrameType::MAX_STREAMS_BIDI,
            Frame::MaxStreams { dir: Dir::Uni, .. } => FrameType::MAX_STREAMS_UNI,
            Frame::DataBlocked { .. } => FrameType::DATA_BLOCKED,
            Frame::StreamDataBlocked { .. } => FrameType::STREAM_DATA_BLOCKED,
            Frame::StreamsBlocked { dir: Dir::Bi, .. } => FrameType::STREAMS_BLOCKED_BIDI,
            Frame::StreamsBlocked { dir: Dir::Uni, .. } => FrameType::STREAMS_BLOCKED_UNI,
            Frame::NewConnectionId(_) => FrameType::NEW_CONNECTION_ID,
            Frame::RetireConnectionId { .. } => FrameType::RETIRE_CONNECTION_ID,
            Frame::PathChallenge { .. } => FrameType::PATH_CHALLENGE,
            Frame::PathResponse { .. } => FrameType::PATH_RESPONSE,
            Frame::ConnectionClose(close) => close.ty(),
            Frame::HandshakeDone => FrameType::HANDSHAKE_DONE,
            Frame::Datagram(datagram) => datagram.ty(),
        }
    }

    /// Whether a packet holding this frame must be acknowledged promptly
    /// (RFC 9002 §2): every frame but ACK, PADDING and CONNECTION_CLOSE.
    pub fn is_ack_eliciting(&self) -> bool {
        self.ty().is_ack_eliciting()
    }

    /// Whether a packet holding this frame counts as in flight for congestion
    /// control (RFC 9002 §2): ack-eliciting frames and PADDING.
    pub fn counts_in_flight(&self) -> bool {
        self.ty().counts_in_flight()
    }

    /// Whether this is a probing frame (RFC 9000 §9.1): PATH_CHALLENGE,
    /// PATH_RESPONSE, NEW_CONNECTION_ID or PADDING.
    pub fn is_probing(&self) -> bool {
        self.ty().is_probing()
    }

    /// The exact number of bytes [`Frame::encode`] writes.
    pub fn encoded_size(&self) -> usize {
        let v = VarInt::size;
        match self {
            Frame::Padding { len } => *len,
            Frame::Ping | Frame::HandshakeDone => 1,
            Frame::Ack(ack) => ack.encoded_size(),
            Frame::ResetStream {
                stream_id,
                error_code,
                final_size,
            } => 1 + v(*stream_id) + v(*error_code) + v(*final_size),
            Frame::StopSending {
                stream_id,
                error_code,
            } => 1 + v(*stream_id) + v(*error_code),
            Frame::Crypto(crypto) => crypto.encoded_size(),
            Frame::NewToken { token } => 1 + prefixed_size(token.len()),
            Frame::Stream(stream) => stream.encoded_size(),
            Frame::MaxData { max } => 1 + v(*max),
            Frame::MaxStreamData { stream_id, max } => 1 + v(*stream_id) + v(*max),
            Frame::MaxStreams { max, .. } => 1 + v(*max),
            Frame::DataBlocked { limit } => 1 + v(*limit),
            Frame::StreamDataBlocked { stream_id, limit } => 1 + v(*stream_id) + v(*limit),
            Frame::StreamsBlocked { limit, .. } => 1 + v(*limit),
            Frame::NewConnectionId(ncid) => ncid.encoded_size(),
            Frame::RetireConnectionId { sequence } => 1 + v(*sequence),
            Frame::PathChallenge { .. } | Frame::PathResponse { .. } => 1 + 8,
            Frame::ConnectionClose(close) => close.encoded_size(),
            Frame::Datagram(datagram) => datagram.encoded_size(),
        }
    }

    /// Writes the frame, in the shortest encoding of every field. Fails
    /// without writing anything if `w` has less room than
    /// [`Frame::encoded_size`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.encoded_size() > w.remaining() {
            return Err(BufferTooShort);
        }
        match self {
            Frame::Padding { len } => {
                w.reserve(*len)?.fill(0);
                Ok(())
            }
            Frame::Ack(ack) => ack.encode(w),
            Frame::Crypto(crypto) => crypto.encode(w),
            Frame::Stream(stream) => stream.encode(w),
            Frame::NewConnectionId(ncid) => ncid.encode(w),
            Frame::ConnectionClose(close) => close.encode(w),
            Frame::Datagram(datagram) => datagram.encode(w),
            Frame::NewToken { token } => {
                put_type(w, FrameType::NEW_TOKEN)?;
                w.put_varint_prefixed(token)
            }
            Frame::PathChallenge { data } | Frame::PathResponse { data } => {
                put_type(w, self.ty())?;
                w.put_bytes(data)
            }
            _ => {
                put_type(w, self.ty())?;
                self.put_fields(w)
            }
        }
    }

    /// Writes the varint fields of the fixed-layout frames.
    fn put_fields(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        match *self {
            Frame::ResetStream {
                stream_id,
                error_code,
                final_size,
            } => {
                w.put_varint(stream_id)?;
                w.put_varint(error_code)?;
                w.put_varint(final_size)
            }
            Frame::StopSending {
                stream_id: a,
                error_code: b,
            }
            | Frame::MaxStreamData {
                stream_id: a,
                max: b,
            }
            | Frame::StreamDataBlocked {
                stream_id: a,
                limit: b,
            } => {
                w.put_varint(a)?;
                w.put_varint(b)
            }
            Frame::MaxData { max: a }
            | Frame::MaxStreams { max: a, .. }
            | Frame::DataBlocked { limit: a }
            | Frame::StreamsBlocked { limit: a, .. }
            | Frame::RetireConnectionId { sequence: a } => w.put_varint(a),
            _ => Ok(()),
        }
    }
}

/// Writes a frame type; every type defined so far takes one byte.
pub(crate) fn put_type(w: &mut Writer<'_>, ty: FrameType) -> Result<(), BufferTooShort> {
    w.put_varint(VarInt::saturating(ty.0))
}

/// The encoded size of `n` as a varint. Lengths of in-memory data always fit.
pub(crate) fn usize_varint_size(n: usize) -> usize {
    VarInt::size_of(u64::try_from(n).unwrap_or(u64::MAX))
}

/// The size of a varint length prefix plus `len` bytes.
pub(crate) fn prefixed_size(len: usize) -> usize {
    usize_varint_size(len).saturating_add(len)
}

/// The largest number of data bytes that fit in `room` after a frame
/// header of `header` bytes, with or without a varint Length field, up to
/// `available`. `None` if the header alone does not fit.
pub(crate) fn fit_data(
    header: usize,
    available: usize,
    room: usize,
    has_length: bool,
) -> Option<usize> {
    if !has_length {
        return Some(available.min(room.checked_sub(header)?));
    }
    // For each size of the Length field, the most data it can describe and
    // that fits after it; the best of the four wins. (A longer field can
    // lose: 16383 bytes behind a 2-byte length beat 16382 behind 4 bytes.)
    let max_8 = usize::try_from(VarInt::MAX.into_inner()).unwrap_or(usize::MAX);
    [(1, 63), (2, 16_383), (4, (1 << 30) - 1), (8, max_8)]
        .into_iter()
        .filter_map(|(len_size, max_len)| {
            let max = room.checked_sub(header.saturating_add(len_size))?;
            Some(available.min(max).min(max_len))
        })
        .max()
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_frame))]
mod tests {
    use super::*;
    use crate::protocol::error::TransportError;

    fn vi(v: u32) -> VarInt {
        VarInt::from_u32(v)
    }

    /// Encodes `frame` into `buf` and decodes it back alone.
    fn round_trip<'b>(frame: &Frame<'_>, buf: &'b mut [u8]) -> Result<Frame<'b>, TransportError> {
        let mut w = Writer::new(buf);
        frame
            .encode(&mut w)
            .map_err(|_| TransportError::internal("buffer"))?;
        let n = w.len();
        assert_eq!(n, frame.encoded_size());
        let buf = &*buf;
        let mut frames = Frames::new(buf.get(..n).unwrap_or_default());
        let out = frames
            .next()
            .unwrap_or(Err(TransportError::internal("none")))?;
        assert!(frames.next().is_none());
        Ok(out)
    }

    /// Round-trips each frame through a 64-byte buffer.
    fn check_round_trips(frames: &[Frame<'_>]) -> Result<(), TransportError> {
        for frame in frames {
            let mut buf = [0u8; 64];
            assert_eq!(round_trip(frame, &mut buf)?, *frame);
        }
        Ok(())
    }

    /// The frames without data, in two tests (the frames of one would take
    /// 2 KiB of stack): stream and flow control frames ...
    #[test]
    fn fixed_layout_stream_frames_round_trip() -> Result<(), TransportError> {
        let big = VarInt::MAX;
        check_round_trips(&[
            Frame::ResetStream {
                stream_id: vi(4),
                error_code: big,
                final_size: vi(1 << 20),
            },
            Frame::StopSending {
                stream_id: big,
                error_code: vi(0),
            },
            Frame::MaxData { max: big },
            Frame::MaxStreamData {
                stream_id: vi(3),
                max: vi(65),
            },
            Frame::MaxStreams {
                dir: Dir::Bi,
                max: VarInt::saturating(MAX_STREAM_COUNT),
            },
            Frame::MaxStreams {
                dir: Dir::Uni,
                max: vi(0),
            },
            Frame::DataBlocked { limit: vi(16_384) },
            Frame::StreamDataBlocked {
                stream_id: vi(8),
                limit: vi(63),
            },
            Frame::StreamsBlocked {
                dir: Dir::Bi,
                limit: vi(1),
            },
            Frame::StreamsBlocked {
                dir: Dir::Uni,
                limit: VarInt::saturating(MAX_STREAM_COUNT),
            },
        ])
    }

    /// ... and the others.
    #[test]
    fn fixed_layout_frames_round_trip() -> Result<(), TransportError> {
        check_round_trips(&[
            Frame::Padding { len: 7 },
            Frame::Ping,
            Frame::NewToken { token: b"tok" },
            Frame::RetireConnectionId { sequence: vi(9) },
            Frame::PathChallenge { data: [1; 8] },
            Frame::PathResponse { data: [2; 8] },
            Frame::HandshakeDone,
        ])
    }

    #[test]
    fn encode_refuses_short_buffer_untouched() {
        let frame = Frame::ResetStream {
            stream_id: vi(4),
            error_code: vi(1),
            final_size: vi(1 << 20),
        };
        let size = frame.encoded_size();
        assert_eq!(size, 1 + 1 + 1 + 4);
        let mut buf = [0xaau8; 6];
        let mut w = Writer::new(&mut buf);
        assert_eq!(frame.encode(&mut w), Err(BufferTooShort));
        assert!(w.is_empty());
        assert_eq!(buf, [0xaa; 6]);
    }

    #[test]
    fn frame_type_names_and_flags() {
        assert!(FrameType(0x0f).is_stream());
        assert!(!FrameType(0x10).is_stream());
        assert!(!FrameType(0x07).is_stream());
        assert_eq!(FrameType(0x0b).name(), "STREAM");
        assert_eq!(FrameType(0x1d).name(), "CONNECTION_CLOSE");
        assert_eq!(FrameType(0x1f).name(), "UNKNOWN");
        assert!(FrameType::DATAGRAM_LEN.is_known());
        assert!(!FrameType(0x1f).is_known());
        assert!(!FrameType(0x32).is_known());
        assert_eq!(Frame::Ping.ty(), FrameType::PING);
        assert_eq!(
            Frame::StreamsBlocked {
                dir: Dir::Uni,
                limit: vi(0)
            }
            .ty(),
            FrameType::STREAMS_BLOCKED_UNI
        );
    }

    #[test]
    fn padding_is_coalesced() {
        let payload = [0u8, 0, 0, 1, 0];
        let mut frames = Frames::new(&payload);
        assert_eq!(frames.next(), Some(Ok(Frame::Padding { len: 3 })));
        assert_eq!(frames.next(), Some(Ok(Frame::Ping)));
        assert_eq!(frames.next(), Some(Ok(Frame::Padding { len: 1 })));
        assert_eq!(frames.next(), None);
    }
}
