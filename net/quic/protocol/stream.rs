// SPDX-License-Identifier: GPL-2.0

//! Streams and flow control (RFC 9000 §2–4).
//!
//! This file holds the small types every part shares: [`StreamId`], the
//! socket API's stream state numbering ([`StreamState`]), and the descriptors
//! of what the packetizer must send ([`StreamChunk`], [`ControlFrame`]).
//! The work is split by RFC concept:
//!
//! - [`flow_control`]: the credit the peer gives us ([`flow_control::SendCredit`])
//!   and the windows we give it, auto-tuned ([`flow_control::RecvWindow`]);
//! - [`limits`]: how many streams of a type each side may open (MAX_STREAMS,
//!   STREAMS_BLOCKED, the 2^60 bound);
//! - [`send_buf`] and [`send`]: the sending part — written data in chunks
//!   charged to a [`send_buf::SendBudget`], sent/acked/lost ranges and the
//!   Ready → Send → Data Sent → Data Recvd / Reset Sent → Reset Recvd machine;
//! - [`reassembly`] and [`recv`]: the receiving part — out-of-order
//!   reassembly, final size and flow-control checks, and the Recv → Size
//!   Known → Data Recvd → Data Read / Reset Recvd → Reset Read machine;
//! - [`crypto`]: the CRYPTO stream of one encryption level, built from the
//!   same send buffer and reassembler;
//! - [`scheduler`]: round-robin with a simple priority;
//! - [`set`]: the streams of a connection, indexed by ID, and the entry
//!   points for the socket layer, the frame parser and the packetizer.
//!
//! Nothing here encodes or decodes frames. Received frames arrive as plain
//! arguments (`on_stream_frame(id, offset, data, fin)`), and what must be
//! sent leaves as a [`StreamChunk`] or a [`ControlFrame`] that the packetizer
//! encodes, remembers with the packet, and hands back to `on_*_acked` or
//! `on_*_lost`.

pub mod crypto;
pub mod flow_control;
pub mod limits;
pub mod reassembly;
pub mod recv;
pub mod scheduler;
pub mod send;
pub mod send_buf;
pub mod set;

use crate::protocol::alloc::AllocError;
use crate::protocol::varint::VarInt;

/// The largest cumulative stream count of one type: stream IDs must stay
/// varints, and `4 * 2^60 > 2^62 - 1`.
//= https://www.rfc-editor.org/rfc/rfc9000#section-4.6
//# If a max_streams transport parameter or a MAX_STREAMS frame is received
//# with a value greater than 2^60, this would allow a maximum stream ID that
//# cannot be expressed as a variable-length integer
pub const MAX_STREAM_COUNT: u64 = 1 << 60;

/// The largest stream offset or flow-control limit: 2^62 - 1.
const MAX_OFFSET: u64 = VarInt::MAX.into_inner();

// Frame types (RFC 9000 §19), used to size control frames and to name the
// frame that caused an error.
const FRAME_RESET_STREAM: u64 = 0x04;
const FRAME_STOP_SENDING: u64 = 0x05;
const FRAME_CRYPTO: u64 = 0x06;
const FRAME_STREAM: u64 = 0x08;
const FRAME_MAX_DATA: u64 = 0x10;
const FRAME_MAX_STREAM_DATA: u64 = 0x11;
const FRAME_MAX_STREAMS_BIDI: u64 = 0x12;
const FRAME_DATA_BLOCKED: u64 = 0x14;
const FRAME_STREAM_DATA_BLOCKED: u64 = 0x15;
const FRAME_STREAMS_BLOCKED_BIDI: u64 = 0x16;

/// `usize` to `u64`: lossless on every target Linux supports.
const fn len_u64(n: usize) -> u64 {
    n as u64
}

/// `u64` to `usize`, saturating: only used to bound a length by a buffer.
fn clamp_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The size of the shortest varint encoding of `v`.
const fn varint_len(v: u64) -> usize {
    VarInt::size_of(v)
}

pub use crate::protocol::side::Side;

/// Whether a stream carries data both ways (bit 0x02 of its ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Bidirectional.
    Bi = 0,
    /// Unidirectional: from the initiator to its peer.
    Uni = 1,
}

impl Dir {
    /// `0` for [`Dir::Bi`], `1` for [`Dir::Uni`]: an index into per-direction
    /// arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// A stream ID (RFC 9000 §2.1): a 62-bit integer whose two low bits give the
/// initiator and the direction, and whose upper bits count the streams of
/// that type.
///
/// # Invariants
///
/// `self.0 <= 2^62 - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(u64);

impl StreamId {
    /// The `index`-th stream (from 0) that `initiator` opens in direction
    /// `dir`, or `None` if `index` is 2^60 or more.
    pub const fn new(initiator: Side, dir: Dir, index: u64) -> Option<Self> {
        if index >= MAX_STREAM_COUNT {
            return None;
        }
        // INVARIANT: index < 2^60, so the ID is below 2^62.
        Some(StreamId(index << 2 | (dir as u64) << 1 | initiator as u64))
    }

    /// The stream ID `v`, or `None` above 2^62 - 1.
    pub const fn from_u64(v: u64) -> Option<Self> {
        if v <= MAX_OFFSET {
            // INVARIANT: just checked.
            Some(StreamId(v))
        } else {
            None
        }
    }

    /// The numeric ID.
    pub const fn into_inner(self) -> u64 {
        self.0
    }

    /// The endpoint that opened the stream.
    pub const fn initiator(self) -> Side {
        if self.0 & 0x1 == 0 {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// The stream's direction.
    pub const fn dir(self) -> Dir {
        if self.0 & 0x2 == 0 {
            Dir::Bi
        } else {
            Dir::Uni
        }
    }

    /// The stream's position among the streams of its type, from 0.
    pub const fn index(self) -> u64 {
        self.0 >> 2
    }

    /// The two type bits (RFC 9000 Table 1) as an index, `0..4`.
    pub const fn type_index(self) -> usize {
        (self.0 & 0x3) as usize
    }

    /// Whether the stream is `side`'s unidirectional stream towards its
    /// peer, so `side` may only send on it.
    pub const fn is_send_only(self, side: Side) -> bool {
        matches!(self.dir(), Dir::Uni) && self.initiator() as u8 == side as u8
    }

    /// Whether the stream is the peer's unidirectional stream towards
    /// `side`, so `side` may only receive on it.
    pub const fn is_recv_only(self, side: Side) -> bool {
        matches!(self.dir(), Dir::Uni) && self.initiator() as u8 != side as u8
    }
}

impl From<VarInt> for StreamId {
    fn from(v: VarInt) -> Self {
        // INVARIANT: a varint is at most 2^62 - 1.
        StreamId(v.into_inner())
    }
}

/// The stream states of the socket API's `QUIC_EVENT_STREAM_UPDATE`, with
/// their UAPI numbers (`QUIC_STREAM_SEND_STATE_READY` = 0 ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StreamState {
    /// Sending part: Ready.
    SendReady = 0,
    /// Sending part: Send.
    SendSend = 1,
    /// Sending part: Data Sent.
    SendSent = 2,
    /// Sending part: Data Recvd.
    SendRecvd = 3,
    /// Sending part: Reset Sent.
    SendResetSent = 4,
    /// Sending part: Reset Recvd.
    SendResetRecvd = 5,
    /// Receiving part: Recv.
    RecvRecv = 6,
    /// Receiving part: Size Known.
    RecvSizeKnown = 7,
    /// Receiving part: Data Recvd.
    RecvRecvd = 8,
    /// Receiving part: Data Read.
    RecvRead = 9,
    /// Receiving part: Reset Recvd.
    RecvResetRecvd = 10,
    /// Receiving part: Reset Read.
    RecvResetRead = 11,
}

impl StreamState {
    /// The value of `struct quic_stream_update`'s `state` field.
    pub const fn uapi(self) -> u8 {
        self as u8
    }
}

/// A state change to report with `QUIC_EVENT_STREAM_UPDATE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamUpdate {
    /// The stream.
    pub id: StreamId,
    /// Its new state.
    pub state: StreamState,
    /// The application error code, for the reset states.
    pub errcode: u64,
    /// The final size, for the receiving part once it is known.
    pub final_size: u64,
}

/// Stream data to send in one STREAM frame (RFC 9000 §19.8). The bytes are
/// copied out with `StreamSet::copy_chunk`; the packetizer keeps the chunk
/// with the packet and passes it back on acknowledgement or loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamChunk {
    /// The stream.
    pub id: StreamId,
    /// Offset of the first byte.
    pub offset: u64,
    /// Number of bytes, possibly zero when only `fin` is carried.
    pub len: usize,
    /// Whether the frame carries the FIN bit.
    pub fin: bool,
}

impl StreamChunk {
    /// One past the last byte.
    pub const fn end(&self) -> u64 {
        self.offset.saturating_add(len_u64(self.len))
    }
}

/// The largest number of data bytes a STREAM frame of at most `room` bytes
/// can carry for `id` at `offset`, assuming Offset and Length fields are
/// present (RFC 9000 §19.8); `None` if not even the header fits.
pub fn stream_frame_capacity(room: usize, id: StreamId, offset: u64) -> Option<usize> {
    let offset_len = if offset == 0 { 0 } else { varint_len(offset) };
    let header = 1 + varint_len(id.0) + offset_len;
    let rest = room.checked_sub(header)?;
    // The Length field describes at most `rest` bytes; a varint of that
    // size is an upper bound on the field.
    rest.checked_sub(varint_len(len_u64(rest)))
}

/// A control frame about streams or flow control that the packetizer must
/// send (RFC 9000 §19.4–19.14 except STREAM and CRYPTO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlFrame {
    /// RESET_STREAM: abandon the sending part of `id`.
    ResetStream {
        /// The stream.
        id: StreamId,
        /// Application protocol error code.
        code: u64,
        /// Final size of the stream.
        final_size: u64,
    },
    /// STOP_SENDING: ask the peer to stop sending on `id`.
    StopSending {
        /// The stream.
        id: StreamId,
        /// Application protocol error code.
        code: u64,
    },
    /// MAX_STREAM_DATA: more credit for the peer on `id`.
    MaxStreamData {
        /// The stream.
        id: StreamId,
        /// The new limit (an absolute offset).
        limit: u64,
    },
    /// STREAM_DATA_BLOCKED: we are blocked on `id` at `limit`.
    StreamDataBlocked {
        /// The stream.
        id: StreamId,
        /// The peer's limit at which we are blocked.
        limit: u64,
    },
    /// MAX_DATA: more connection credit for the peer.
    MaxData {
        /// The new limit (a sum of stream offsets).
        limit: u64,
    },
    /// DATA_BLOCKED: we are blocked by connection flow control.
    DataBlocked {
        /// The peer's limit at which we are blocked.
        limit: u64,
    },
    /// MAX_STREAMS: the peer may open more streams of direction `dir`.
    MaxStreams {
        /// The direction (frame type 0x12 or 0x13).
        dir: Dir,
        /// The new cumulative count.
        count: u64,
    },
    /// STREAMS_BLOCKED: we cannot open a stream of direction `dir`.
    StreamsBlocked {
        /// The direction (frame type 0x16 or 0x17).
        dir: Dir,
        /// The peer's limit at which we are blocked.
        count: u64,
    },
}

impl ControlFrame {
    /// The frame type.
    pub const fn frame_type(&self) -> u64 {
        match self {
            ControlFrame::ResetStream { .. } => FRAME_RESET_STREAM,
            ControlFrame::StopSending { .. } => FRAME_STOP_SENDING,
            ControlFrame::MaxStreamData { .. } => FRAME_MAX_STREAM_DATA,
            ControlFrame::StreamDataBlocked { .. } => FRAME_STREAM_DATA_BLOCKED,
            ControlFrame::MaxData { .. } => FRAME_MAX_DATA,
            ControlFrame::DataBlocked { .. } => FRAME_DATA_BLOCKED,
            ControlFrame::MaxStreams { dir, .. } => FRAME_MAX_STREAMS_BIDI + *dir as u64,
            ControlFrame::StreamsBlocked { dir, .. } => FRAME_STREAMS_BLOCKED_BIDI + *dir as u64,
        }
    }

    /// The encoded size in bytes: a one-byte type and shortest varints.
    pub const fn encoded_len(&self) -> usize {
        1 + match *self {
            ControlFrame::ResetStream {
                id,
                code,
                final_size,
            } => varint_len(id.0) + varint_len(code) + varint_len(final_size),
            ControlFrame::StopSending { id, code } => varint_len(id.0) + varint_len(code),
            ControlFrame::MaxStreamData { id, limit }
            | ControlFrame::StreamDataBlocked { id, limit } => varint_len(id.0) + varint_len(limit),
            ControlFrame::MaxData { limit } | ControlFrame::DataBlocked { limit } => {
                varint_len(limit)
            }
            ControlFrame::MaxStreams { count, .. } | ControlFrame::StreamsBlocked { count, .. } => {
                varint_len(count)
            }
        }
    }

    /// The stream the frame is about, if any.
    pub const fn stream_id(&self) -> Option<StreamId> {
        match *self {
            ControlFrame::ResetStream { id, .. }
            | ControlFrame::StopSending { id, .. }
            | ControlFrame::MaxStreamData { id, .. }
            | ControlFrame::StreamDataBlocked { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// Why a stream operation requested by the local application failed. None
/// of these close the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// No such stream: never opened, already closed, or without the needed
    /// half (reading a send-only stream).
    UnknownStream,
    /// The stream's state does not allow it (writing after FIN, opening a
    /// stream the peer initiates or that is already open).
    InvalidState,
    /// Nothing can be done now: no send buffer left or no data to read.
    Blocked,
    /// The peer's stream limit is reached; a STREAMS_BLOCKED frame is
    /// queued and `QUIC_EVENT_STREAM_MAX_STREAM` tells when to retry.
    StreamLimit,
    /// The peer sent STOP_SENDING with this code, and the stream was reset.
    Stopped(u64),
    /// The peer reset the stream with this code.
    Reset(u64),
    /// An allocation failed.
    OutOfMemory,
}

impl From<AllocError> for StreamError {
    fn from(_: AllocError) -> Self {
        StreamError::OutOfMemory
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream))]
mod tests {
    use super::*;

    //= https://www.rfc-editor.org/rfc/rfc9000#section-2.1
    //# | 0x00 | Client-Initiated, Bidirectional  |
    //# | 0x03 | Server-Initiated, Unidirectional |
    #[test]
    fn id_type_bits() {
        let cases = [
            (Side::Client, Dir::Bi, 0),
            (Side::Server, Dir::Bi, 1),
            (Side::Client, Dir::Uni, 2),
            (Side::Server, Dir::Uni, 3),
        ];
        for (side, dir, bits) in cases {
            let id = StreamId::new(side, dir, 5);
            assert_eq!(id.map(StreamId::into_inner), Some(20 + bits));
            if let Some(id) = id {
                assert_eq!(id.initiator(), side);
                assert_eq!(id.dir(), dir);
                assert_eq!(id.index(), 5);
                assert_eq!(id.type_index(), bits as usize);
            }
        }
    }

    #[test]
    fn id_bounds() {
        assert!(StreamId::new(Side::Server, Dir::Uni, MAX_STREAM_COUNT - 1).is_some());
        assert_eq!(StreamId::new(Side::Client, Dir::Bi, MAX_STREAM_COUNT), None);
        assert_eq!(
            StreamId::new(Side::Server, Dir::Uni, MAX_STREAM_COUNT - 1).map(StreamId::into_inner),
            Some(MAX_OFFSET)
        );
        assert_eq!(StreamId::from_u64(MAX_OFFSET + 1), None);
        assert_eq!(StreamId::from(VarInt::MAX).into_inner(), MAX_OFFSET);
    }

    #[test]
    fn id_direction_per_side() {
        let client_uni = StreamId(2);
        assert!(client_uni.is_send_only(Side::Client));
        assert!(client_uni.is_recv_only(Side::Server));
        assert!(!client_uni.is_recv_only(Side::Client));
        let bidi = StreamId(4);
        assert!(!bidi.is_send_only(Side::Client) && !bidi.is_recv_only(Side::Server));
        assert_eq!(Side::Client.peer(), Side::Server);
    }

    #[test]
    fn uapi_state_numbers() {
        assert_eq!(StreamState::SendReady.uapi(), 0);
        assert_eq!(StreamState::SendResetRecvd.uapi(), 5);
        assert_eq!(StreamState::RecvRecv.uapi(), 6);
        assert_eq!(StreamState::RecvResetRead.uapi(), 11);
    }

    #[test]
    fn stream_frame_sizing() {
        let id = StreamId(4);
        // Type + ID at offset 0: 2 bytes, then a 1-byte length for <= 63.
        assert_eq!(stream_frame_capacity(2, id, 0), None);
        assert_eq!(stream_frame_capacity(3, id, 0), Some(0));
        assert_eq!(stream_frame_capacity(10, id, 0), Some(7));
        // A 2-byte offset and a 2-byte length for a 1200-byte room.
        assert_eq!(
            stream_frame_capacity(1200, id, 100),
            Some(1200 - 1 - 1 - 2 - 2)
        );
    }

    #[test]
    fn control_frame_sizes() {
        let id = StreamId(4);
        let reset = ControlFrame::ResetStream {
            id,
            code: 0x100,
            final_size: 1 << 30,
        };
        assert_eq!(reset.encoded_len(), 1 + 1 + 2 + 8);
        assert_eq!(reset.frame_type(), 0x04);
        assert_eq!(reset.stream_id(), Some(id));
        let ms = ControlFrame::MaxStreams {
            dir: Dir::Uni,
            count: 100,
        };
        assert_eq!(ms.frame_type(), 0x13);
        assert_eq!(ms.encoded_len(), 3);
        assert_eq!(ms.stream_id(), None);
        let sb = ControlFrame::StreamsBlocked {
            dir: Dir::Bi,
            count: 1,
        };
        assert_eq!(sb.frame_type(), 0x16);
    }
}
