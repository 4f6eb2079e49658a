// SPDX-License-Identifier: GPL-2.0

//! Decoding a packet payload into frames.
//!
//! [`Frames`] is a lazy iterator: each step reads one frame type, checks it
//! (shortest encoding, known type, allowed in the packet type if one was
//! given) and decodes that frame's fields, borrowing variable-length fields
//! from the payload. The first malformed frame yields the error to close the
//! connection with, naming its frame type, and ends the iteration.
//!
//! The iterator checks each frame on its own. Rules that need connection
//! state (a DATAGRAM frame when none was advertised, a NEW_TOKEN frame from a
//! client, stream ID limits) are for the caller.

use core::iter::FusedIterator;

use crate::protocol::codec::Reader;
use crate::protocol::error::TransportError;
use crate::protocol::frame::{
    AckFrame, ConnectionClose, CryptoFrame, DatagramFrame, Dir, Frame, FrameType, NewConnectionId,
    PacketKind, StreamFrame, MAX_STREAM_COUNT,
};
use crate::protocol::varint::VarInt;

/// An iterator over the frames of a decrypted packet payload.
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    r: Reader<'a>,
    kind: Option<PacketKind>,
    started: bool,
    done: bool,
}

impl<'a> Frames<'a> {
    /// Iterates over the frames of `payload`, whatever packet it came in.
    pub fn new(payload: &'a [u8]) -> Self {
        Self {
            r: Reader::new(payload),
            kind: None,
            started: false,
            done: false,
        }
    }

    /// Iterates over the frames of a `kind` packet's `payload`: a frame
    /// type the packet may not carry is a PROTOCOL_VIOLATION, reported
    /// before the frame is decoded.
    pub fn in_packet(payload: &'a [u8], kind: PacketKind) -> Self {
        Self {
            kind: Some(kind),
            ..Self::new(payload)
        }
    }

    fn decode_one(&mut self) -> Result<Frame<'a>, TransportError> {
        let ty = read_type(&mut self.r)?;
        if let Some(kind) = self.kind {
            ty.check_permitted(kind)?;
        }
        decode_fields(ty, &mut self.r).map_err(|e| e.with_frame(ty.0))
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, TransportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.r.is_empty() {
            self.done = true;
            if !self.started {
                //= https://www.rfc-editor.org/rfc/rfc9000#section-12.4
                //# An endpoint MUST treat receipt of a packet containing no frames
                //# as a connection error of type PROTOCOL_VIOLATION.
                return Some(Err(TransportError::protocol_violation(
                    "packet without frames",
                )));
            }
            return None;
        }
        self.started = true;
        let frame = self.decode_one();
        self.done = frame.is_err();
        Some(frame)
    }
}

impl FusedIterator for Frames<'_> {}

/// Reads a frame type and checks that it is known and shortest-encoded.
fn read_type(r: &mut Reader<'_>) -> Result<FrameType, TransportError> {
    let before = r.remaining();
    let ty = r
        .read_varint()
        .map_err(|_| TransportError::frame_encoding("truncated frame type"))?;
    let ty_len = before - r.remaining();
    let ty = FrameType(ty.into_inner());
    //= https://www.rfc-editor.org/rfc/rfc9000#section-12.4
    //# An endpoint MAY treat the receipt of a frame type that uses a longer
    //# encoding than necessary as a connection error of type PROTOCOL_VIOLATION.
    if ty_len != VarInt::size_of(ty.0) {
        return Err(
            TransportError::protocol_violation("frame type not shortest-encoded").with_frame(ty.0),
        );
    }
    //= https://www.rfc-editor.org/rfc/rfc9000#section-12.4
    //# An endpoint MUST treat the receipt of a frame of unknown type as a
    //# connection error of type FRAME_ENCODING_ERROR.
    if !ty.is_known() {
        return Err(TransportError::frame_encoding("unknown frame type").with_frame(ty.0));
    }
    Ok(ty)
}

/// Checks a MAX_STREAMS or STREAMS_BLOCKED count.
//= https://www.rfc-editor.org/rfc/rfc9000#section-19.11
//# Receipt of a frame that permits opening of a stream larger than this
//# limit MUST be treated as a connection error of type FRAME_ENCODING_ERROR.
fn stream_count(r: &mut Reader<'_>) -> Result<VarInt, TransportError> {
    let count = r.read_varint()?;
    if count.into_inner() > MAX_STREAM_COUNT {
        return Err(TransportError::frame_encoding("stream count above 2^60"));
    }
    Ok(count)
}

fn dir_of(ty: FrameType) -> Dir {
    if ty.0 & 1 == 0 {
        Dir::Bi
    } else {
        Dir::Uni
    }
}

/// Decodes the fields of a frame of (known) type `ty`.
fn decode_fields<'a>(ty: FrameType, r: &mut Reader<'a>) -> Result<Frame<'a>, TransportError> {
    Ok(match ty.0 {
        0x00 => {
            // A run of PADDING is one frame: cheap to skip, cheap to report.
            let zeros = r.peek_rest().iter().take_while(|b| **b == 0).count();
            r.skip(zeros)?;
            Frame::Padding { len: 1 + zeros }
        }
        0x01 => Frame::Ping,
        0x02 | 0x03 => Frame::Ack(AckFrame::decode(r, ty == FrameType::ACK_ECN)?),
        0x04 => Frame::ResetStream {
            stream_id: r.read_varint()?,
            error_code: r.read_varint()?,
            final_size: r.read_varint()?,
        },
        0x05 => Frame::StopSending {
            stream_id: r.read_varint()?,
            error_code: r.read_varint()?,
        },
        0x06 => Frame::Crypto(CryptoFrame::decode(r)?),
        0x07 => {
            let token = r.read_varint_prefixed()?;
            //= https://www.rfc-editor.org/rfc/rfc9000#section-19.7
            //# A client MUST treat receipt of a NEW_TOKEN frame with an empty Token
            //# field as a connection error of type FRAME_ENCODING_ERROR.
            if token.is_empty() {
                return Err(TransportError::frame_encoding("empty token"));
            }
            Frame::NewToken { token }
        }
        0x08..=0x0f => Frame::Stream(StreamFrame::decode(ty, r)?),
        0x10 => Frame::MaxData {
            max: r.read_varint()?,
        },
        0x11 => Frame::MaxStreamData {
            stream_id: r.read_varint()?,
            max: r.read_varint()?,
        },
        0x12 | 0x13 => Frame::MaxStreams {
            dir: dir_of(ty),
            max: stream_count(r)?,
        },
        0x14 => Frame::DataBlocked {
            limit: r.read_varint()?,
        },
        0x15 => Frame::StreamDataBlocked {
            stream_id: r.read_varint()?,
            limit: r.read_varint()?,
        },
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.14
        //# Receipt of a frame that encodes a larger stream ID MUST be treated as
        //# a connection error of type STREAM_LIMIT_ERROR or FRAME_ENCODING_ERROR.
        0x16 | 0x17 => Frame::StreamsBlocked {
            dir: dir_of(ty),
            limit: stream_count(r)?,
        },
        0x18 => Frame::NewConnectionId(NewConnectionId::decode(r)?),
        0x19 => Frame::RetireConnectionId {
            sequence: r.read_varint()?,
        },
        0x1a => Frame::PathChallenge {
            data: r.read_array()?,
        },
        0x1b => Frame::PathResponse {
            data: r.read_array()?,
        },
        0x1c | 0x1d => Frame::ConnectionClose(ConnectionClose::decode(ty, r)?),
        0x1e => Frame::HandshakeDone,
        0x30 | 0x31 => Frame::Datagram(DatagramFrame::decode(ty, r)?),
        _ => return Err(TransportError::frame_encoding("unknown frame type")),
    })
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_frame_decode))]
mod tests {
    use super::*;
    use crate::protocol::codec::Writer;
    use crate::protocol::error::TransportErrorCode;
    use crate::protocol::test_rng::XorShift64;

    const ENC: TransportErrorCode = TransportErrorCode::FRAME_ENCODING_ERROR;
    const PV: TransportErrorCode = TransportErrorCode::PROTOCOL_VIOLATION;

    fn first(bytes: &[u8]) -> Option<Result<Frame<'_>, TransportError>> {
        Frames::new(bytes).next()
    }

    fn err_of(bytes: &[u8]) -> Option<(TransportErrorCode, Option<u64>)> {
        match first(bytes) {
            Some(Err(e)) => Some((e.code, e.frame_type)),
            _ => None,
        }
    }

    #[test]
    fn empty_payload_is_protocol_violation_once() {
        let mut frames = Frames::new(&[]);
        assert_eq!(frames.next().map(|r| r.map_err(|e| e.code)), Some(Err(PV)));
        assert_eq!(frames.next(), None);
    }

    #[test]
    fn sequence_then_error_then_nothing() {
        let payload = [0x01, 0x1e, 0x10, 0x05, 0x1f, 0x01];
        let mut frames = Frames::new(&payload);
        assert_eq!(frames.next(), Some(Ok(Frame::Ping)));
        assert_eq!(frames.next(), Some(Ok(Frame::HandshakeDone)));
        assert_eq!(
            frames.next(),
            Some(Ok(Frame::MaxData {
                max: VarInt::from_u32(5)
            }))
        );
        assert_eq!(
            frames.next().map(|r| r.map_err(|e| (e.code, e.frame_type))),
            Some(Err((ENC, Some(0x1f))))
        );
        assert_eq!(frames.next(), None);
    }

    #[test]
    fn frame_type_encoding_rules() {
        // PING as a two-byte varint.
        assert_eq!(err_of(&[0x40, 0x01]), Some((PV, Some(0x01))));
        // DATAGRAM as a four-byte varint.
        assert_eq!(err_of(&[0x80, 0, 0, 0x30]), Some((PV, Some(0x30))));
        // Unknown types, short or long.
        assert_eq!(err_of(&[0x1f]), Some((ENC, Some(0x1f))));
        assert_eq!(err_of(&[0x2f]), Some((ENC, Some(0x2f))));
        assert_eq!(err_of(&[0x40, 0x40]), Some((ENC, Some(0x40))));
        assert_eq!(err_of(&[0x7f, 0xff]), Some((ENC, Some(0x3fff))));
        // A truncated type names no frame.
        assert_eq!(err_of(&[0x40]), Some((ENC, None)));
    }

    #[test]
    fn packet_kind_is_checked_before_fields() {
        // A STREAM frame that is truncated: in an Initial packet the type is
        // refused before the fields are read.
        let payload = [0x0a, 0x00, 0x10];
        let mut frames = Frames::in_packet(&payload, PacketKind::Initial);
        assert_eq!(
            frames.next().map(|r| r.map_err(|e| (e.code, e.frame_type))),
            Some(Err((PV, Some(0x0a))))
        );
        let mut frames = Frames::in_packet(&payload, PacketKind::OneRtt);
        assert_eq!(
            frames.next().map(|r| r.map_err(|e| (e.code, e.frame_type))),
            Some(Err((ENC, Some(0x0a))))
        );
        let ok = [0x06, 0, 1, 0xaa, 0x1c, 0, 0, 0];
        assert!(Frames::in_packet(&ok, PacketKind::Handshake).all(|f| f.is_ok()));
        let app_close = [0x1d, 0, 0];
        assert_eq!(
            Frames::in_packet(&app_close, PacketKind::Handshake)
                .next()
                .map(|r| r.map_err(|e| e.code)),
            Some(Err(PV))
        );
    }

    #[test]
    fn stream_count_limits() {
        // 2^60 is allowed, 2^60 + 1 is not, in both frames and directions.
        for ty in [0x12u8, 0x13, 0x16, 0x17] {
            let max = [ty, 0xd0, 0, 0, 0, 0, 0, 0, 0];
            assert!(matches!(first(&max), Some(Ok(_))));
            let over = [ty, 0xd0, 0, 0, 0, 0, 0, 0, 1];
            assert_eq!(err_of(&over), Some((ENC, Some(u64::from(ty)))));
        }
    }

    #[test]
    fn empty_token_is_frame_encoding_error() {
        assert_eq!(err_of(&[0x07, 0]), Some((ENC, Some(0x07))));
        assert!(matches!(
            first(&[0x07, 1, 9]),
            Some(Ok(Frame::NewToken { token: [9] }))
        ));
    }

    /// Encodes each frame; every strict prefix must fail with
    /// FRAME_ENCODING_ERROR naming that frame type.
    fn check_truncations(frames: &[Frame<'_>]) {
        for frame in frames {
            let mut buf = [0u8; 64];
            let mut w = Writer::new(&mut buf);
            assert_eq!(frame.encode(&mut w), Ok(()));
            let n = w.len();
            assert_eq!(n, frame.encoded_size());
            assert_eq!(first(&buf[..n]), Some(Ok(*frame)));
            for cut in 1..n {
                assert_eq!(err_of(&buf[..cut]), Some((ENC, Some(frame.ty().0))));
            }
        }
    }

    /// Every frame with fields, in two tests (the frames of one would take
    /// 2 KiB of stack): stream and flow control frames ...
    #[test]
    fn truncation_of_stream_frames() {
        let v = VarInt::from_u32;
        check_truncations(&[
            Frame::ResetStream {
                stream_id: v(300),
                error_code: v(70_000),
                final_size: v(1),
            },
            Frame::StopSending {
                stream_id: v(1),
                error_code: v(400),
            },
            Frame::Crypto(CryptoFrame {
                offset: v(64),
                data: b"x",
            }),
            Frame::MaxData { max: v(1 << 20) },
            Frame::MaxStreamData {
                stream_id: v(64),
                max: v(64),
            },
            Frame::MaxStreams {
                dir: Dir::Uni,
                max: v(100),
            },
            Frame::DataBlocked { limit: v(100) },
            Frame::StreamDataBlocked {
                stream_id: v(100),
                limit: v(100),
            },
            Frame::StreamsBlocked {
                dir: Dir::Bi,
                limit: v(100),
            },
        ]);
    }

    /// ... and the connection frames.
    #[test]
    fn truncation_of_connection_frames() {
        let v = VarInt::from_u32;
        let ncid = NewConnectionId {
            sequence: v(1),
            retire_prior_to: v(0),
            id: crate::protocol::cid::ConnectionId::EMPTY,
            reset_token: [7; 16],
        };
        let ncid = match crate::protocol::cid::ConnectionId::from_slice(&[1, 2, 3]) {
            Ok(id) => NewConnectionId { id, ..ncid },
            Err(_) => ncid,
        };
        check_truncations(&[
            Frame::NewToken { token: b"abc" },
            Frame::NewConnectionId(ncid),
            Frame::RetireConnectionId { sequence: v(100) },
            Frame::PathChallenge { data: [1; 8] },
            Frame::PathResponse { data: [2; 8] },
            Frame::ConnectionClose(ConnectionClose::application(v(1), b"no")),
            Frame::Datagram(DatagramFrame {
                has_length: true,
                data: b"dg",
            }),
        ]);
    }

    /// A small deterministic random round trip, cheap enough for KUnit;
    /// the host tests run a much larger one.
    #[test]
    fn random_varint_frames_round_trip() {
        let mut rng = XorShift64::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move || {
            let state = rng.next_u64();
            // Spread values over all four varint sizes.
            VarInt::saturating(state >> (2 + (state & 0x3) * 20))
        };
        for _ in 0..200 {
            let frames = [
                Frame::ResetStream {
                    stream_id: next(),
                    error_code: next(),
                    final_size: next(),
                },
                Frame::MaxStreamData {
                    stream_id: next(),
                    max: next(),
                },
                Frame::RetireConnectionId { sequence: next() },
            ];
            let mut buf = [0u8; 64];
            let mut w = Writer::new(&mut buf);
            for f in &frames {
                assert_eq!(f.encode(&mut w), Ok(()));
            }
            let n = w.len();
            let mut it = Frames::new(&buf[..n]);
            for f in frames {
                assert_eq!(it.next(), Some(Ok(f)));
            }
            assert_eq!(it.next(), None);
        }
    }
}
