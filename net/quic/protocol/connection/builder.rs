// SPDX-License-Identifier: GPL-2.0

//! Filling one packet with frames, in priority order (RFC 9000 §13).
//!
//! A [`PacketBuilder`] is a packet being written in the caller's buffer:
//! its header is encoded, its frames go after it, and room for the AEAD
//! tag is kept at the end. [`Connection::fill`] adds frames by priority:
//!
//! 1. ACK (never congestion controlled),
//! 2. CRYPTO,
//! 3. HANDSHAKE_DONE,
//! 4. control frames: NEW_CONNECTION_ID, RETIRE_CONNECTION_ID, then the
//!    stream and flow control frames (MAX_DATA, MAX_STREAM_DATA,
//!    MAX_STREAMS, *_BLOCKED, RESET_STREAM, STOP_SENDING),
//! 5. STREAM data, lost data first (the stream scheduler's order),
//! 6. DATAGRAM,
//! 7. PING, if a probe is due and nothing above made the packet
//!    ack-eliciting.
//!
//! Every frame that must be followed up is recorded in the frame pool with
//! the packet.

use crate::protocol::ack::EcnCodepoint;
use crate::protocol::cid::Generator;
use crate::protocol::codec::{BufferTooShort, Writer};
use crate::protocol::connection::record::SentFrame;
use crate::protocol::connection::tls::crypto_index;
use crate::protocol::connection::Connection;
use crate::protocol::crypto::{Level, Provider};
use crate::protocol::frame::{self, AckEncoder, EcnCounts, Frame, FrameType};
use crate::protocol::packet::header::HeaderLayout;
use crate::protocol::packet::PacketKind;
use crate::protocol::recovery::PacketNumberSpace;
use crate::protocol::stream::{ControlFrame, StreamChunk};
use crate::protocol::time::Instant;
use crate::protocol::varint::VarInt;

/// The most ACK ranges an ACK frame carries.
const MAX_ACK_RANGES: usize = 32;

/// A packet being written at `buf[start..]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PacketBuilder {
    /// Where the packet starts in the buffer.
    pub(crate) start: usize,
    pub(crate) layout: HeaderLayout,
    pub(crate) kind: PacketKind,
    /// Where the next frame goes.
    pub(crate) pos: usize,
    /// The end of the room for frames (the tag follows).
    pub(crate) end: usize,
    pub(crate) tag_len: usize,
    pub(crate) ack_eliciting: bool,
    /// Whether PADDING was added: the packet counts in flight.
    pub(crate) padded: bool,
    /// The pool index of the packet's first recorded frame.
    pub(crate) pool_first: u64,
    pub(crate) frames: u16,
    /// Whether the packet is a DPLPMTUD probe.
    pub(crate) pmtu_probe: bool,
    pub(crate) ecn: EcnCodepoint,
}

impl PacketBuilder {
    pub(crate) fn space(&self) -> PacketNumberSpace {
        match self.kind {
            PacketKind::Initial => PacketNumberSpace::Initial,
            PacketKind::Handshake => PacketNumberSpace::Handshake,
            PacketKind::ZeroRtt | PacketKind::OneRtt => PacketNumberSpace::ApplicationData,
        }
    }

    /// Bytes left for frames.
    pub(crate) fn room(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    /// Where the payload starts.
    pub(crate) fn payload_start(&self) -> usize {
        self.start.saturating_add(self.layout.header_len())
    }

    /// Whether no frame was written.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos <= self.payload_start()
    }

    /// Where the packet ends once sealed.
    pub(crate) fn sealed_end(&self) -> usize {
        self.pos.saturating_add(self.tag_len)
    }

    /// Writes a frame of exactly `size` bytes with `f`. Nothing is written
    /// unless it fits.
    pub(crate) fn write<F>(&mut self, buf: &mut [u8], size: usize, f: F) -> bool
    where
        F: FnOnce(&mut Writer<'_>) -> Result<(), BufferTooShort>,
    {
        if size > self.room() {
            return false;
        }
        let Some(dst) = buf.get_mut(self.pos..self.pos + size) else {
            return false;
        };
        let mut w = Writer::new(dst);
        if f(&mut w).is_err() || w.len() != size {
            return false;
        }
        self.pos += size;
        true
    }

    /// Adds PADDING frames until the packet's frames end at `until` (an
    /// absolute buffer offset), within the room.
    pub(crate) fn pad_to(&mut self, buf: &mut [u8], until: usize) {
        let until = until.min(self.end);
        if until <= self.pos {
            return;
        }
        if let Some(dst) = buf.get_mut(self.pos..until) {
            dst.fill(0);
            self.pos = until;
            self.padded = true;
        }
    }
}

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Records `frame` as carried by the packet `b` is building.
    pub(crate) fn record(&mut self, b: &mut PacketBuilder, frame: SentFrame) {
        if self.pool.push(b.space(), frame).is_ok() {
            b.frames = b.frames.saturating_add(1);
        }
    }

    /// Adds an ACK frame for the packet's space if packets await one.
    pub(crate) fn write_ack(&mut self, buf: &mut [u8], b: &mut PacketBuilder, now: Instant) {
        if b.kind == PacketKind::ZeroRtt {
            return;
        }
        let i = b.space().index();
        let Some(space) = self.spaces.get(i) else {
            return;
        };
        if !space.ack.has_pending() {
            return;
        }
        let ecn = space.ack.ecn_counts().map(|c| EcnCounts {
            ect0: VarInt::saturating(c.ect0),
            ect1: VarInt::saturating(c.ect1),
            ce: VarInt::saturating(c.ce),
        });
        let delay = space.ack.encoded_ack_delay(now);
        let Some(enc) = AckEncoder::new(space.ack.ranges(), delay, ecn, MAX_ACK_RANGES, b.room())
        else {
            return;
        };
        let largest = enc.largest();
        if b.write(buf, enc.encoded_size(), |w| enc.encode(w)) {
            self.record(b, SentFrame::Ack { largest });
            if let Some(s) = self.spaces.get_mut(i) {
                s.ack.on_ack_sent();
            }
            self.timers.stop(crate::protocol::connection::Timer::ack(i));
        }
    }

    /// Adds the ack-eliciting frames of the packet's level, in priority
    /// order, while they fit.
    pub(crate) fn write_data(&mut self, buf: &mut [u8], b: &mut PacketBuilder) {
        let level = b.kind.level();
        self.write_crypto(buf, b, level);
        if b.kind == PacketKind::OneRtt || b.kind == PacketKind::ZeroRtt {
            self.write_app_frames(buf, b);
        }
        self.write_ping(buf, b);
    }

    fn write_crypto(&mut self, buf: &mut [u8], b: &mut PacketBuilder, level: Level) {
        let Some(i) = crypto_index(level) else {
            return;
        };
        loop {
            let Some(stream) = self.crypto.get_mut(i) else {
                return;
            };
            let Some(chunk) = stream.poll_chunk(b.room()) else {
                return;
            };
            let offset = VarInt::saturating(chunk.offset);
            let len = VarInt::saturating(chunk.len as u64);
            let size = 1 + offset.size() + len.size() + chunk.len;
            let stream = &self.crypto[i];
            let written = b.write(buf, size, |w| {
                w.put_varint(VarInt::saturating(FrameType::CRYPTO.0))?;
                w.put_varint(offset)?;
                w.put_varint(len)?;
                let dst = w.reserve(chunk.len)?;
                if stream.copy_out(chunk.offset, dst) != chunk.len {
                    return Err(BufferTooShort);
                }
                Ok(())
            });
            if !written {
                // Put it back: it goes in the next packet.
                let _ = self.crypto[i].on_chunk_lost(chunk);
                return;
            }
            b.ack_eliciting = true;
            self.record(b, SentFrame::Crypto(chunk));
        }
    }

    fn write_app_frames(&mut self, buf: &mut [u8], b: &mut PacketBuilder) {
        let one_rtt = b.kind == PacketKind::OneRtt;
        if one_rtt && self.handshake.done_pending {
            let frame = Frame::HandshakeDone;
            if b.write(buf, frame.encoded_size(), |w| frame.encode(w)) {
                self.handshake.done_pending = false;
                b.ack_eliciting = true;
                self.record(b, SentFrame::HandshakeDone);
            }
        }
        self.write_new_token(buf, b);
        self.write_cid_frames(buf, b, one_rtt);
        while let Some(control) = self.streams.poll_control(b.room()) {
            let frame = control_frame(&control);
            if !b.write(buf, frame.encoded_size(), |w| frame.encode(w)) {
                self.streams.on_control_lost(&control);
                break;
            }
            b.ack_eliciting = true;
            self.record(b, SentFrame::Control(control));
        }
        while let Some(chunk) = self.streams.poll_stream(b.room()) {
            if !self.write_stream_chunk(buf, b, &chunk) {
                let _ = self.streams.on_chunk_lost(&chunk);
                break;
            }
        }
        self.write_datagrams(buf, b);
    }

    fn write_cid_frames(&mut self, buf: &mut [u8], b: &mut PacketBuilder, one_rtt: bool) {
        while let Some(n) = self.local_cids.pending_new_connection_id() {
            let frame = frame::NewConnectionId {
                sequence: VarInt::saturating(n.sequence),
                retire_prior_to: VarInt::saturating(n.retire_prior_to),
                id: n.id,
                reset_token: *n.reset_token.as_bytes(),
            };
            if !b.write(buf, frame.encoded_size(), |w| frame.encode(w)) {
                break;
            }
            self.local_cids.on_new_connection_id_sent(n.sequence);
            b.ack_eliciting = true;
            self.record(b, SentFrame::NewConnectionId(n.sequence));
        }
        // RETIRE_CONNECTION_ID is not allowed in 0-RTT packets.
        while let Some(seq) = self.peer_cids.pending_retire().filter(|_| one_rtt) {
            let frame = Frame::RetireConnectionId {
                sequence: VarInt::saturating(seq),
            };
            if !b.write(buf, frame.encoded_size(), |w| frame.encode(w)) {
                break;
            }
            self.peer_cids.on_retire_sent(seq);
            b.ack_eliciting = true;
            self.record(b, SentFrame::RetireConnectionId(seq));
        }
    }

    /// Writes a STREAM frame with a Length field for `chunk`.
    fn write_stream_chunk(
        &mut self,
        buf: &mut [u8],
        b: &mut PacketBuilder,
        chunk: &StreamChunk,
    ) -> bool {
        let id = VarInt::saturating(chunk.id.into_inner());
        let offset = VarInt::saturating(chunk.offset);
        let len = VarInt::saturating(chunk.len as u64);
        let mut ty = FrameType::STREAM.0 | FrameType::STREAM_LEN;
        let mut size = 1 + id.size() + len.size() + chunk.len;
        if chunk.offset != 0 {
            ty |= FrameType::STREAM_OFF;
            size += offset.size();
        }
        if chunk.fin {
            ty |= FrameType::STREAM_FIN;
        }
        let streams = &self.streams;
        let written = b.write(buf, size, |w| {
            w.put_varint(VarInt::saturating(ty))?;
            w.put_varint(id)?;
            if chunk.offset != 0 {
                w.put_varint(offset)?;
            }
            w.put_varint(len)?;
            let dst = w.reserve(chunk.len)?;
            if streams.copy_chunk(chunk, dst) != chunk.len {
                return Err(BufferTooShort);
            }
            Ok(())
        });
        if written {
            b.ack_eliciting = true;
            self.record(b, SentFrame::Stream(*chunk));
        }
        written
    }

    fn write_datagrams(&mut self, buf: &mut [u8], b: &mut PacketBuilder) {
        while let Some(len) = self.datagrams.front_len() {
            let size = 1 + VarInt::size_of(len as u64) + len;
            if size > b.room() {
                // Too big for any packet on this path: it never goes.
                if size > self.max_payload() {
                    self.datagrams.pop_front();
                    continue;
                }
                return;
            }
            let datagrams = &self.datagrams;
            let written = b.write(buf, size, |w| {
                w.put_varint(VarInt::saturating(FrameType::DATAGRAM_LEN.0))?;
                w.put_varint(VarInt::saturating(len as u64))?;
                let dst = w.reserve(len)?;
                datagrams.copy_front(dst);
                Ok(())
            });
            if !written {
                return;
            }
            self.datagrams.pop_front();
            b.ack_eliciting = true;
        }
    }

    /// Adds a PING when a probe or keep-alive is due and the packet is not
    /// ack-eliciting yet.
    pub(crate) fn write_ping(&mut self, buf: &mut [u8], b: &mut PacketBuilder) {
        let i = b.space().index();
        let due = self.spaces.get(i).is_some_and(|s| s.ping > 0);
        if !due {
            return;
        }
        if !b.ack_eliciting {
            let frame = Frame::Ping;
            if !b.write(buf, 1, |w| frame.encode(w)) {
                return;
            }
            b.ack_eliciting = true;
        }
        if let Some(s) = self.spaces.get_mut(i) {
            s.ping -= 1;
        }
    }

    /// The largest frame a 1-RTT packet can carry on the active path.
    fn max_payload(&self) -> usize {
        let mds = self.paths.active().max_datagram_size();
        // Short header with the longest ID and packet number, and the tag.
        mds.saturating_sub(1 + 20 + 4 + 16)
    }
}

/// The wire frame for a stream or flow control frame.
fn control_frame(c: &ControlFrame) -> Frame<'static> {
    let v = VarInt::saturating;
    match *c {
        ControlFrame::ResetStream {
            id,
            code,
            final_size,
        } => Frame::ResetStream {
            stream_id: v(id.into_inner()),
            error_code: v(code),
            final_size: v(final_size),
        },
        ControlFrame::StopSending { id, code } => Frame::StopSending {
            stream_id: v(id.into_inner()),
            error_code: v(code),
        },
        ControlFrame::MaxStreamData { id, limit } => Frame::MaxStreamData {
            stream_id: v(id.into_inner()),
            max: v(limit),
        },
        ControlFrame::StreamDataBlocked { id, limit } => Frame::StreamDataBlocked {
            stream_id: v(id.into_inner()),
            limit: v(limit),
        },
        ControlFrame::MaxData { limit } => Frame::MaxData { max: v(limit) },
        ControlFrame::DataBlocked { limit } => Frame::DataBlocked { limit: v(limit) },
        ControlFrame::MaxStreams { dir, count } => Frame::MaxStreams { dir, max: v(count) },
        ControlFrame::StreamsBlocked { dir, count } => Frame::StreamsBlocked {
            dir,
            limit: v(count),
        },
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_builder))]
mod tests {
    use super::*;
    use crate::protocol::stream::{Dir, StreamId};

    #[test]
    fn control_frames_encode_as_their_stream_sizes() {
        let id = StreamId::from_u64(8).unwrap_or(StreamId::from(VarInt::ZERO));
        let frames = [
            ControlFrame::ResetStream {
                id,
                code: 300,
                final_size: 1 << 20,
            },
            ControlFrame::StopSending { id, code: 1 },
            ControlFrame::MaxStreamData { id, limit: 99_999 },
            ControlFrame::StreamDataBlocked { id, limit: 7 },
            ControlFrame::MaxData { limit: 1 << 30 },
            ControlFrame::DataBlocked { limit: 0 },
            ControlFrame::MaxStreams {
                dir: Dir::Uni,
                count: 100,
            },
            ControlFrame::StreamsBlocked {
                dir: Dir::Bi,
                count: 3,
            },
        ];
        for c in frames {
            let f = control_frame(&c);
            assert_eq!(f.encoded_size(), c.encoded_len());
            assert_eq!(f.ty().0, c.frame_type());
        }
    }

    #[test]
    fn writes_never_overflow_the_room() {
        let mut buf = [0u8; 64];
        let mut b = PacketBuilder {
            start: 0,
            layout: HeaderLayout {
                pn: 0,
                pn_len: crate::protocol::packet::number::PacketNumberLen::One,
                pn_offset: 1,
                length_field: None,
            },
            kind: PacketKind::OneRtt,
            pos: 2,
            end: 10,
            tag_len: 16,
            ack_eliciting: false,
            padded: false,
            pool_first: 0,
            frames: 0,
            pmtu_probe: false,
            ecn: EcnCodepoint::NotEct,
        };
        assert!(b.is_empty());
        assert!(!b.write(&mut buf, 9, |w| w.put_bytes(&[1; 9])));
        assert!(b.write(&mut buf, 8, |w| w.put_bytes(&[1; 8])));
        assert_eq!(b.room(), 0);
        // A writer that writes less than it promised is refused.
        let mut c = b;
        c.pos = 2;
        assert!(!c.write(&mut buf, 4, |w| w.put_bytes(&[1; 3])));
        c.pad_to(&mut buf, 100);
        assert_eq!(c.pos, 10);
        assert!(c.padded);
        assert_eq!(c.sealed_end(), 26);
    }
}
