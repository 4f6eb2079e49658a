// SPDX-License-Identifier: GPL-2.0

//! The packetizer's side: what to send next, and what became of it.
//!
//! While building a packet, the packetizer calls
//! [`StreamSet::poll_control`] until it returns `None`, then
//! [`StreamSet::poll_stream`] while room remains, copying each chunk's
//! bytes with [`StreamSet::copy_chunk`]. It keeps the frames with the
//! packet and, once the packet is acknowledged or declared lost, passes
//! each back to `on_chunk_acked` / `on_chunk_lost` or `on_control_acked` /
//! `on_control_lost`. A frame reported lost is queued again only if its
//! information is still current: a newer limit supersedes a lost one.

use super::{find, find_mut, send_update, Stream, StreamSet};
use crate::protocol::error::TransportError;
use crate::protocol::stream::recv::RecvState;
use crate::protocol::stream::send::SendStream;
use crate::protocol::stream::{ControlFrame, Dir, StreamChunk, StreamId, StreamUpdate};

impl StreamSet {
    /// Whether a frame could be sent now.
    pub fn wants_to_send(&self) -> bool {
        self.connection_control().is_some()
            || self
                .control
                .iter()
                .any(|&id| find(&self.streams, id).is_some_and(Stream::has_control))
            || self.data.iter().any(|id| {
                find(&self.streams, id)
                    .and_then(Stream::send)
                    .is_some_and(|s| s.can_send(&self.conn_send))
            })
    }

    /// The connection-level control frame due first, without taking it.
    fn connection_control(&self) -> Option<ControlFrame> {
        if self.conn_recv.has_update() {
            return Some(ControlFrame::MaxData {
                limit: self.conn_recv.limit(),
            });
        }
        if self.conn_send.has_blocked() {
            return Some(ControlFrame::DataBlocked {
                limit: self.conn_send.limit(),
            });
        }
        for dir in [Dir::Bi, Dir::Uni] {
            if let Some(inc) = self.incoming.get(dir.index()).filter(|i| i.has_update()) {
                let count = inc.max();
                return Some(ControlFrame::MaxStreams { dir, count });
            }
            if let Some(out) = self.outgoing.get(dir.index()).filter(|o| o.has_blocked()) {
                let count = out.max();
                return Some(ControlFrame::StreamsBlocked { dir, count });
            }
        }
        None
    }

    /// The next control frame that fits in `room` bytes: connection-level
    /// frames first, then those of streams in the order they were queued.
    /// `None` when nothing is due or the next frame does not fit.
    pub fn poll_control(&mut self, room: usize) -> Option<ControlFrame> {
        if let Some(frame) = self.connection_control() {
            if frame.encoded_len() > room {
                return None;
            }
            match frame {
                ControlFrame::MaxData { .. } => self.conn_recv.poll_update(),
                ControlFrame::DataBlocked { .. } => self.conn_send.poll_blocked(),
                ControlFrame::MaxStreams { dir, .. } => {
                    self.incoming.get_mut(dir.index())?.poll_update()
                }
                ControlFrame::StreamsBlocked { dir, .. } => {
                    self.outgoing.get_mut(dir.index())?.poll_blocked()
                }
                _ => None,
            }?;
            return Some(frame);
        }
        while let Some(&id) = self.control.first() {
            let Some(stream) = find_mut(&mut self.streams, id) else {
                let _ = self.control.remove(0);
                continue;
            };
            let mut frame = stream.send.as_mut().and_then(|s| s.poll_control(id, room));
            if frame.is_none() {
                frame = stream.recv.as_mut().and_then(|r| r.poll_control(id, room));
            }
            let more = stream.has_control();
            if !more {
                stream.in_control = false;
                let _ = self.control.remove(0);
            }
            if frame.is_some() || more {
                // A frame, or one due that does not fit.
                return frame;
            }
        }
        None
    }

    /// The next STREAM frame that fits in `room` bytes. Streams take turns
    /// by priority, one frame each; each sends lost data before new data.
    pub fn poll_stream(&mut self, room: usize) -> Option<StreamChunk> {
        let mut at = 0;
        while let Some(id) = self.data.get(at) {
            let Some(stream) = find_mut(&mut self.streams, id) else {
                self.data.remove_at(at);
                continue;
            };
            let Some(send) = stream.send.as_mut() else {
                stream.in_data = false;
                self.data.remove_at(at);
                continue;
            };
            let chunk = send.poll_chunk(id, room, &mut self.conn_send);
            let more = send.wants_to_send();
            let control = send.has_control();
            if !more {
                stream.in_data = false;
                self.data.remove_at(at);
            }
            if control {
                self.queue_control(id);
            }
            if let Some(chunk) = chunk {
                if more {
                    self.data.rotate(at);
                }
                return Some(chunk);
            }
            if more {
                // Blocked by connection credit or packet room: next stream.
                at += 1;
            }
        }
        None
    }

    /// Copies the data of `chunk` into `out` (at most `chunk.len` bytes) and
    /// returns how many bytes were copied.
    pub fn copy_chunk(&self, chunk: &StreamChunk, out: &mut [u8]) -> usize {
        let Some(send) = find(&self.streams, chunk.id).and_then(Stream::send) else {
            return 0;
        };
        let len = chunk.len.min(out.len());
        send.copy_out(chunk.offset, out.get_mut(..len).unwrap_or(&mut []))
    }

    /// The sending part of `id`, if open.
    fn send_mut(&mut self, id: StreamId) -> Option<&mut SendStream> {
        find_mut(&mut self.streams, id).and_then(|s| s.send.as_mut())
    }

    /// A STREAM frame was acknowledged. Returns the update if the sending
    /// part reached Data Recvd.
    pub fn on_chunk_acked(
        &mut self,
        chunk: &StreamChunk,
    ) -> Result<Option<StreamUpdate>, TransportError> {
        let id = chunk.id;
        let Some(send) = find_mut(&mut self.streams, id).and_then(|s| s.send.as_mut()) else {
            return Ok(None);
        };
        let done = send.on_chunk_acked(chunk.offset, chunk.len, chunk.fin, &mut self.budget)?;
        let update = done.then(|| send_update(id, send));
        self.remove_if_closed(id);
        Ok(update)
    }

    /// A STREAM frame was lost: its data is queued for retransmission.
    pub fn on_chunk_lost(&mut self, chunk: &StreamChunk) -> Result<(), TransportError> {
        let Some(send) = self.send_mut(chunk.id) else {
            return Ok(());
        };
        if send.on_chunk_lost(chunk.offset, chunk.len, chunk.fin)? {
            self.queue_data(chunk.id);
        }
        Ok(())
    }

    /// Our RESET_STREAM for `id` was acknowledged. Returns the update
    /// (Reset Recvd).
    pub fn on_reset_acked(&mut self, id: StreamId) -> Option<StreamUpdate> {
        let send = self.send_mut(id)?;
        let update = send.on_reset_acked().then(|| send_update(id, send));
        self.remove_if_closed(id);
        update
    }

    /// A control frame was acknowledged. Returns an update if a stream
    /// changed state.
    pub fn on_control_acked(&mut self, frame: &ControlFrame) -> Option<StreamUpdate> {
        match *frame {
            ControlFrame::ResetStream { id, .. } => self.on_reset_acked(id),
            _ => None,
        }
    }

    /// A control frame was lost: it is queued again if still current.
    pub fn on_control_lost(&mut self, frame: &ControlFrame) {
        match *frame {
            ControlFrame::MaxData { limit } => self.conn_recv.on_update_lost(limit),
            ControlFrame::DataBlocked { limit } => self.conn_send.on_blocked_lost(limit),
            ControlFrame::MaxStreams { dir, count } => {
                if let Some(inc) = self.incoming.get_mut(dir.index()) {
                    inc.on_update_lost(count);
                }
            }
            ControlFrame::StreamsBlocked { dir, count } => {
                if let Some(out) = self.outgoing.get_mut(dir.index()) {
                    out.on_blocked_lost(count);
                }
            }
            ControlFrame::ResetStream { id, .. } => {
                if let Some(send) = self.send_mut(id) {
                    send.on_reset_lost();
                }
                self.queue_control(id);
            }
            ControlFrame::StreamDataBlocked { id, limit } => {
                if let Some(send) = self.send_mut(id) {
                    send.on_blocked_lost(limit);
                }
                self.queue_control(id);
            }
            ControlFrame::StopSending { id, .. } => {
                if let Some(recv) = find_mut(&mut self.streams, id).and_then(|s| s.recv.as_mut()) {
                    recv.on_stop_sending_lost();
                }
                self.queue_control(id);
            }
            ControlFrame::MaxStreamData { id, limit } => {
                if let Some(recv) = find_mut(&mut self.streams, id).and_then(|s| s.recv.as_mut()) {
                    recv.on_max_stream_data_lost(limit);
                }
                self.queue_control(id);
            }
        }
    }

    /// The streams with a MAX_STREAM_DATA waiting to be sent.
    pub fn max_stream_data_pending(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.control.iter().copied().filter(|&id| {
            find(&self.streams, id)
                .and_then(Stream::recv)
                .is_some_and(|r| r.state() == RecvState::Recv && r.window().has_update())
        })
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_set_transmit))]
mod tests {
    use super::*;
    use crate::protocol::alloc::{boxed, Box};
    use crate::protocol::alloc::{AllocError, Vec, GFP};
    use crate::protocol::stream::scheduler::Priority;
    use crate::protocol::stream::set::{StreamConfig, StreamLimits};
    use crate::protocol::stream::{Side, StreamError, StreamState};
    use crate::protocol::time::Instant;
    use core::time::Duration;

    const RTT: Duration = Duration::from_millis(10);

    fn limits(data: u64, streams: u64) -> StreamLimits {
        StreamLimits {
            max_data: data,
            max_stream_data_bidi_local: data,
            max_stream_data_bidi_remote: data,
            max_stream_data_uni: data,
            max_streams_bidi: streams,
            max_streams_uni: streams,
        }
    }

    /// A stream set on the heap (it is about 600 bytes).
    fn set(side: Side, data: u64, streams: u64) -> Result<Box<StreamSet>, TransportError> {
        let mut s = boxed(|| {
            StreamSet::new(
                side,
                StreamConfig {
                    local: limits(data, streams),
                    max_stream_window: data,
                    max_data_window: data,
                    send_buffer: 1 << 20,
                },
            )
        })?;
        s.set_peer_limits(limits(data, streams))?;
        Ok(s)
    }

    fn open(s: &mut StreamSet, dir: Dir) -> Result<StreamId, TransportError> {
        s.open_next(dir)
            .map_err(|_| TransportError::internal("open"))
    }

    fn write(
        s: &mut StreamSet,
        id: StreamId,
        data: &[u8],
        fin: bool,
    ) -> Result<usize, TransportError> {
        s.write(id, data, fin)
            .map_err(|_| TransportError::internal("write"))
    }

    /// Round-robin: equal-priority streams alternate frame by frame.
    #[test]
    fn round_robin_fairness() -> Result<(), TransportError> {
        let mut s = set(Side::Client, 1 << 20, 8)?;
        let mut ids = [StreamId(0); 3];
        for slot in ids.iter_mut() {
            *slot = open(&mut s, Dir::Uni)?;
            for _ in 0..2 {
                write(&mut s, *slot, &[0u8; 1000], false)?;
            }
        }
        let mut sent = [0usize; 3];
        for turn in 0..30 {
            let chunk = s.poll_stream(100);
            let expect = ids.get(turn % 3).copied();
            assert_eq!(chunk.map(|c| c.id), expect);
            if let (Some(c), Some(n)) = (chunk, sent.get_mut(turn % 3)) {
                *n += c.len;
            }
        }
        assert!(sent[0] == sent[1] && sent[1] == sent[2]);
        // A more urgent stream sends until it is drained, then the others
        // resume their rotation.
        s.set_priority(ids[2], Priority::HIGHEST)
            .map_err(|_| TransportError::internal("priority"))?;
        let mut left = 2000 - sent[2];
        while left > 0 {
            let chunk = s.poll_stream(100);
            assert_eq!(chunk.map(|c| c.id), Some(ids[2]));
            left -= chunk.map_or(left, |c| c.len);
        }
        assert_eq!(s.poll_stream(100).map(|c| c.id), Some(ids[0]));
        assert_eq!(s.poll_stream(100).map(|c| c.id), Some(ids[1]));
        assert_eq!(s.poll_stream(100).map(|c| c.id), Some(ids[0]));
        Ok(())
    }

    /// Writes `len` bytes of a pattern on a new stream of `a`, then runs
    /// frames between `a` and `b` losing every third STREAM frame once,
    /// until `b` has read everything. Checks every byte arrives once, in
    /// order, and that both sides release all state.
    #[test]
    fn send_lose_retransmit_ack() -> Result<(), TransportError> {
        const LEN: usize = 5000;
        let mut a = set(Side::Client, 1000, 1)?;
        let mut b = set(Side::Server, 1000, 1)?;
        let id = open(&mut a, Dir::Uni)?;
        let mut data = Vec::with_capacity(LEN, GFP)?;
        for i in 0..LEN {
            data.push((i % 253) as u8, GFP)?;
        }
        let mut written = 0;
        let mut received = 0usize;
        let mut frames = 0u32;
        let mut buf = [0u8; 200];
        let now = Instant::ZERO;
        let mut rounds = 0;
        while received < LEN || !a.is_empty() {
            rounds += 1;
            // Bounded: every round makes progress.
            assert!(rounds < 1000);
            if written < LEN {
                let rest = data.get(written..).unwrap_or(&[]);
                written += write(&mut a, id, rest, true)?;
            }
            // b → a: flow control credit.
            while let Some(frame) = b.poll_control(100) {
                if let ControlFrame::MaxData { limit } = frame {
                    a.on_max_data(limit);
                } else if let ControlFrame::MaxStreamData { id, limit } = frame {
                    a.on_max_stream_data(id, limit)?;
                }
            }
            // a → b: control frames are delivered; blocked frames only
            // tell b to look at its credit.
            while let Some(frame) = a.poll_control(100) {
                match frame {
                    ControlFrame::DataBlocked { limit } => b.on_data_blocked(limit),
                    ControlFrame::StreamDataBlocked { id, limit } => {
                        b.on_stream_data_blocked(id, limit)?
                    }
                    _ => {}
                }
            }
            while let Some(chunk) = a.poll_stream(150) {
                frames += 1;
                let n = a.copy_chunk(&chunk, &mut buf);
                assert_eq!(n, chunk.len);
                if frames == 3 {
                    frames = 0;
                    a.on_chunk_lost(&chunk)?;
                    continue;
                }
                let bytes = buf.get(..n).unwrap_or(&[]);
                b.on_stream_frame(chunk.id, chunk.offset, bytes, chunk.fin)?;
                a.on_chunk_acked(&chunk)?;
            }
            loop {
                match b.read(id, &mut buf, now, RTT) {
                    Ok(r) => {
                        let expect = data.get(received..received + r.len).unwrap_or(&[]);
                        assert_eq!(buf.get(..r.len).unwrap_or(&[]), expect);
                        received += r.len;
                        if r.fin {
                            assert_eq!(received, LEN);
                            break;
                        }
                    }
                    Err(StreamError::Blocked | StreamError::UnknownStream) => break,
                    Err(_) => return Err(TransportError::internal("read")),
                }
            }
        }
        assert_eq!(received, LEN);
        assert!(b.is_empty() && a.is_empty());
        assert_eq!(a.budget().used(), 0);
        // b got its stream credit back and advertises it.
        let mut max_streams = None;
        while let Some(frame) = b.poll_control(100) {
            if let ControlFrame::MaxStreams { dir, count } = frame {
                max_streams = Some((dir, count));
            }
        }
        assert_eq!(max_streams, Some((Dir::Uni, 2)));
        Ok(())
    }

    #[test]
    fn connection_blocked_reported_once() -> Result<(), TransportError> {
        let mut s = set(Side::Client, 10, 4)?;
        let a = open(&mut s, Dir::Uni)?;
        let b = open(&mut s, Dir::Uni)?;
        write(&mut s, a, &[0u8; 8], false)?;
        write(&mut s, b, &[0u8; 8], false)?;
        assert_eq!(s.poll_stream(100).map(|c| (c.id, c.len)), Some((a, 8)));
        assert_eq!(s.poll_stream(100).map(|c| (c.id, c.len)), Some((b, 2)));
        assert_eq!(s.poll_stream(100), None);
        assert!(!s.wants_to_send() || s.poll_control(100).is_some());
        // DATA_BLOCKED once per limit.
        assert_eq!(s.poll_control(100), None);
        // Lost data still goes out, without credit.
        let lost = StreamChunk {
            id: a,
            offset: 0,
            len: 8,
            fin: false,
        };
        s.on_chunk_lost(&lost)?;
        assert!(s.wants_to_send());
        assert_eq!(s.poll_stream(100), Some(lost));
        // More credit resumes b.
        assert!(s.on_max_data(20));
        assert_eq!(
            s.poll_stream(100).map(|c| (c.id, c.offset, c.len)),
            Some((b, 2, 6))
        );
        Ok(())
    }

    #[test]
    fn control_frames_need_room() -> Result<(), TransportError> {
        let mut s = set(Side::Server, 100, 4)?;
        s.on_stream_frame(StreamId(0), 0, &[0u8; 100], false)?;
        let mut out = [0u8; 100];
        s.read(StreamId(0), &mut out, Instant::ZERO, RTT)
            .map_err(|_| TransportError::internal("read"))?;
        assert_eq!(s.max_stream_data_pending().next(), Some(StreamId(0)));
        // MAX_DATA (3 bytes) comes first, then MAX_STREAM_DATA (4 bytes).
        assert_eq!(s.poll_control(2), None);
        let max_data = s.poll_control(3);
        assert_eq!(max_data, Some(ControlFrame::MaxData { limit: 200 }));
        assert_eq!(s.poll_control(3), None);
        let msd = s.poll_control(4);
        assert_eq!(
            msd,
            Some(ControlFrame::MaxStreamData {
                id: StreamId(0),
                limit: 200
            })
        );
        assert_eq!(s.poll_control(100), None);
        // Lost frames come back while current.
        if let (Some(md), Some(msd)) = (max_data, msd) {
            s.on_control_lost(&md);
            s.on_control_lost(&msd);
            assert_eq!(s.poll_control(100), Some(md));
            assert_eq!(s.poll_control(100), Some(msd));
        }
        Ok(())
    }

    #[test]
    fn lost_reset_and_stop_sending_are_resent() -> Result<(), TransportError> {
        let mut s = set(Side::Client, 100, 4)?;
        let a = open(&mut s, Dir::Bi)?;
        s.reset(a, 3)
            .map_err(|_| TransportError::internal("reset"))?;
        s.stop_sending(a, 4)
            .map_err(|_| TransportError::internal("stop"))?;
        let reset = s.poll_control(100);
        let stop = s.poll_control(100);
        assert!(matches!(
            reset,
            Some(ControlFrame::ResetStream { code: 3, .. })
        ));
        assert_eq!(stop, Some(ControlFrame::StopSending { id: a, code: 4 }));
        assert_eq!(s.poll_control(100), None);
        if let (Some(reset), Some(stop)) = (reset, stop) {
            s.on_control_lost(&stop);
            s.on_control_lost(&reset);
            assert_eq!(s.poll_control(100), Some(reset));
            assert_eq!(s.poll_control(100), Some(stop));
            let update = s.on_control_acked(&reset);
            assert_eq!(update.map(|u| u.state), Some(StreamState::SendResetRecvd));
            // The stream lives on until the peer resets its side.
            assert!(s.get(a).is_some());
            s.on_reset_stream(a, 4, 0)?;
            assert!(s.get(a).is_none());
        }
        Ok(())
    }

    #[test]
    fn stream_data_blocked_and_streams_blocked() -> Result<(), TransportError> {
        let mut s = set(Side::Client, 5, 1)?;
        let a = open(&mut s, Dir::Bi)?;
        assert_eq!(s.open_next(Dir::Bi), Err(StreamError::StreamLimit));
        write(&mut s, a, &[0u8; 10], false)?;
        assert!(s.poll_stream(100).is_some());
        assert_eq!(s.poll_stream(100), None);
        // STREAMS_BLOCKED, DATA_BLOCKED, then STREAM_DATA_BLOCKED.
        let mut frames = [None; 4];
        for slot in frames.iter_mut() {
            *slot = s.poll_control(100);
        }
        assert_eq!(
            frames,
            [
                Some(ControlFrame::DataBlocked { limit: 5 }),
                Some(ControlFrame::StreamsBlocked {
                    dir: Dir::Bi,
                    count: 1
                }),
                Some(ControlFrame::StreamDataBlocked { id: a, limit: 5 }),
                None
            ]
        );
        if let Some(Some(blocked)) = frames.get(2) {
            s.on_control_lost(blocked);
            assert_eq!(s.poll_control(100).as_ref(), Some(blocked));
        }
        assert!(s.on_max_streams(Dir::Bi, 2)?);
        assert!(s.open_next(Dir::Bi).is_ok());
        Ok(())
    }

    #[test]
    fn acks_after_close_are_ignored() -> Result<(), AllocError> {
        let mut s = StreamSet::new(
            Side::Client,
            StreamConfig {
                local: limits(100, 4),
                max_stream_window: 100,
                max_data_window: 100,
                send_buffer: 1000,
            },
        );
        let stray = StreamChunk {
            id: StreamId(2),
            offset: 0,
            len: 5,
            fin: true,
        };
        assert_eq!(s.on_chunk_acked(&stray), Ok(None));
        assert_eq!(s.on_chunk_lost(&stray), Ok(()));
        assert_eq!(s.copy_chunk(&stray, &mut [0u8; 5]), 0);
        assert_eq!(s.on_reset_acked(StreamId(2)), None);
        Ok(())
    }
}
