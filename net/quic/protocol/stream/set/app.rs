// SPDX-License-Identifier: GPL-2.0

//! Stream operations of the local application (RFC 9000 §2.4): what
//! `sendmsg`, `recvmsg` and the `QUIC_SOCKOPT_STREAM_*` options do.

use core::time::Duration;

use super::{find, find_mut, StreamSet};
use crate::protocol::stream::recv::Read;
use crate::protocol::stream::scheduler::Priority;
use crate::protocol::stream::{StreamError, StreamId};
use crate::protocol::time::Instant;
use crate::protocol::varint::VarInt;

impl StreamSet {
    /// Writes as much of `data` to stream `id` as the send budget allows,
    /// and ends the stream if `fin` and all of `data` was taken.
    pub fn write(&mut self, id: StreamId, data: &[u8], fin: bool) -> Result<usize, StreamError> {
        let stream = find_mut(&mut self.streams, id).ok_or(StreamError::UnknownStream)?;
        let send = stream.send.as_mut().ok_or(StreamError::UnknownStream)?;
        let n = send.write(data, &mut self.budget)?;
        if fin && n == data.len() {
            send.finish()?;
        }
        self.refresh(id);
        Ok(n)
    }

    /// Ends stream `id` cleanly after the data written so far.
    pub fn finish(&mut self, id: StreamId) -> Result<(), StreamError> {
        self.write(id, &[], true).map(|_| ())
    }

    /// Resets the sending part of `id` with application error `code`
    /// (`QUIC_SOCKOPT_STREAM_RESET`). Nothing happens if it already ended.
    pub fn reset(&mut self, id: StreamId, code: u64) -> Result<(), StreamError> {
        let stream = find_mut(&mut self.streams, id).ok_or(StreamError::UnknownStream)?;
        let send = stream.send.as_mut().ok_or(StreamError::UnknownStream)?;
        send.reset(VarInt::saturating(code).into_inner(), &mut self.budget);
        self.refresh(id);
        Ok(())
    }

    /// Stops reading `id` with application error `code`
    /// (`QUIC_SOCKOPT_STREAM_STOP_SENDING`): buffered data is dropped and a
    /// STOP_SENDING asks the peer to reset.
    pub fn stop_sending(&mut self, id: StreamId, code: u64) -> Result<(), StreamError> {
        let stream = find_mut(&mut self.streams, id).ok_or(StreamError::UnknownStream)?;
        let recv = stream.recv.as_mut().ok_or(StreamError::UnknownStream)?;
        recv.stop_sending(VarInt::saturating(code).into_inner(), &mut self.conn_recv);
        self.refresh(id);
        Ok(())
    }

    /// Reads from `id` into `out` at `now`; `rtt` (the smoothed RTT) tunes
    /// the receive window. `fin` in the result marks the end of the
    /// stream; [`StreamError::Reset`] reports the peer's reset once.
    pub fn read(
        &mut self,
        id: StreamId,
        out: &mut [u8],
        now: Instant,
        rtt: Duration,
    ) -> Result<Read, StreamError> {
        let stream = find_mut(&mut self.streams, id).ok_or(StreamError::UnknownStream)?;
        let recv = stream.recv.as_mut().ok_or(StreamError::UnknownStream)?;
        let result = recv.read(out, &mut self.conn_recv, now, rtt);
        self.refresh(id);
        result
    }

    /// The readable bytes of `id` stored together, for copying straight to
    /// the application; follow with [`consume`](Self::consume).
    pub fn peek(&self, id: StreamId) -> Result<&[u8], StreamError> {
        let stream = find(&self.streams, id).ok_or(StreamError::UnknownStream)?;
        let recv = stream.recv.as_ref().ok_or(StreamError::UnknownStream)?;
        Ok(recv.peek())
    }

    /// Marks `n` bytes returned by [`peek`](Self::peek) as read. Returns
    /// whether the end of the stream was reached.
    pub fn consume(
        &mut self,
        id: StreamId,
        n: usize,
        now: Instant,
        rtt: Duration,
    ) -> Result<bool, StreamError> {
        let stream = find_mut(&mut self.streams, id).ok_or(StreamError::UnknownStream)?;
        let recv = stream.recv.as_mut().ok_or(StreamError::UnknownStream)?;
        let fin = recv.consume(n, &mut self.conn_recv, now, rtt);
        self.refresh(id);
        Ok(fin)
    }

    /// Sets the scheduling priority of `id`.
    pub fn set_priority(&mut self, id: StreamId, priority: Priority) -> Result<(), StreamError> {
        let stream = find_mut(&mut self.streams, id).ok_or(StreamError::UnknownStream)?;
        stream.priority = priority;
        if stream.in_data {
            self.data.set_priority(id, priority)?;
        }
        Ok(())
    }

    /// The stream to read next: the oldest with data, its end, or a reset
    /// to report. Stays the same until that stream is drained.
    pub fn next_readable(&mut self) -> Option<StreamId> {
        while let Some(&id) = self.readable.first() {
            let stream = find_mut(&mut self.streams, id);
            if let Some(stream) = stream {
                if stream.recv.as_ref().is_some_and(|r| r.is_readable()) {
                    return Some(id);
                }
                stream.in_readable = false;
            }
            let _ = self.readable.remove(0);
        }
        None
    }

    /// Bytes `id` may still buffer for sending: what the send budget has
    /// left, or zero if the stream cannot take data.
    pub fn writable(&self, id: StreamId) -> usize {
        let open = find(&self.streams, id)
            .and_then(|s| s.send.as_ref())
            .is_some_and(|s| s.final_size().is_none());
        if open {
            self.budget.available()
        } else {
            0
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_set_app))]
mod tests {
    use super::*;
    use crate::protocol::alloc::{boxed, Box};
    use crate::protocol::error::TransportError;
    use crate::protocol::stream::set::{StreamConfig, StreamLimits};
    use crate::protocol::stream::{ControlFrame, Dir, Side};

    const RTT: Duration = Duration::from_millis(10);

    fn limits() -> StreamLimits {
        StreamLimits {
            max_data: 1000,
            max_stream_data_bidi_local: 100,
            max_stream_data_bidi_remote: 100,
            max_stream_data_uni: 100,
            max_streams_bidi: 4,
            max_streams_uni: 4,
        }
    }

    /// A stream set on the heap (it is about 600 bytes).
    fn set(side: Side) -> Result<Box<StreamSet>, TransportError> {
        let mut s = boxed(|| {
            StreamSet::new(
                side,
                StreamConfig {
                    local: limits(),
                    max_stream_window: 100,
                    max_data_window: 1000,
                    send_buffer: 1 << 16,
                },
            )
        })?;
        s.set_peer_limits(limits())?;
        Ok(s)
    }

    fn id(v: u64) -> StreamId {
        StreamId(v)
    }

    #[test]
    fn write_and_finish() -> Result<(), StreamError> {
        let mut s = set(Side::Client).map_err(|_| StreamError::InvalidState)?;
        let a = s.open_next(Dir::Bi)?;
        assert_eq!(s.write(a, b"hello", true), Ok(5));
        assert_eq!(s.write(a, b"more", false), Err(StreamError::InvalidState));
        assert_eq!(s.writable(a), 0);
        let b = s.open_next(Dir::Bi)?;
        assert_eq!(s.writable(b), s.budget().available());
        assert!(s.writable(b) > 0);
        assert_eq!(s.finish(b), Ok(()));
        assert_eq!(s.write(id(8), b"x", false), Err(StreamError::UnknownStream));
        Ok(())
    }

    #[test]
    fn wrong_half_is_unknown() -> Result<(), StreamError> {
        let mut s = set(Side::Client).map_err(|_| StreamError::InvalidState)?;
        let uni = s.open_next(Dir::Uni)?;
        let mut out = [0u8; 4];
        let now = Instant::ZERO;
        assert_eq!(
            s.read(uni, &mut out, now, RTT),
            Err(StreamError::UnknownStream)
        );
        assert_eq!(s.stop_sending(uni, 1), Err(StreamError::UnknownStream));
        assert_eq!(s.peek(uni), Err(StreamError::UnknownStream));
        assert_eq!(s.reset(id(6), 1), Err(StreamError::UnknownStream));
        Ok(())
    }

    #[test]
    fn reset_queues_reset_stream() -> Result<(), StreamError> {
        let mut s = set(Side::Client).map_err(|_| StreamError::InvalidState)?;
        let a = s.open_next(Dir::Uni)?;
        s.write(a, b"abc", false)?;
        s.reset(a, 42)?;
        assert_eq!(s.budget().used(), 0);
        let frame = ControlFrame::ResetStream {
            id: a,
            code: 42,
            final_size: 0,
        };
        assert_eq!(s.poll_control(100), Some(frame));
        // No data after a reset.
        assert_eq!(s.poll_stream(100), None);
        // Once acknowledged, the uni stream is gone.
        s.on_control_acked(&frame);
        assert!(s.get(a).is_none());
        Ok(())
    }

    #[test]
    fn read_in_order_then_fin_closes() -> Result<(), StreamError> {
        let mut s = set(Side::Server).map_err(|_| StreamError::InvalidState)?;
        let peer_uni = id(2);
        let now = Instant::ZERO;
        s.on_stream_frame(peer_uni, 3, b"def", true)
            .map_err(|_| StreamError::InvalidState)?;
        // Nothing in order yet.
        assert_eq!(s.next_readable(), None);
        s.on_stream_frame(peer_uni, 0, b"abc", false)
            .map_err(|_| StreamError::InvalidState)?;
        assert_eq!(s.next_readable(), Some(peer_uni));
        assert_eq!(s.peek(peer_uni)?, b"abcdef");
        assert_eq!(s.consume(peer_uni, 2, now, RTT), Ok(false));
        let mut out = [0u8; 8];
        let r = s.read(peer_uni, &mut out, now, RTT)?;
        assert_eq!((r.len, r.fin), (4, true));
        assert_eq!(&out[..4], b"cdef");
        // Both parts terminal: gone, and the next read says so.
        assert!(s.get(peer_uni).is_none());
        assert_eq!(s.next_readable(), None);
        assert_eq!(
            s.read(peer_uni, &mut out, now, RTT),
            Err(StreamError::UnknownStream)
        );
        Ok(())
    }

    #[test]
    fn readable_queue_is_fifo() -> Result<(), TransportError> {
        let mut s = set(Side::Server)?;
        s.on_stream_frame(id(6), 0, b"b", false)?;
        s.on_stream_frame(id(2), 0, b"a", false)?;
        s.on_stream_frame(id(6), 1, b"b", false)?;
        assert_eq!(s.next_readable(), Some(id(6)));
        let mut out = [0u8; 8];
        let now = Instant::ZERO;
        let r = s
            .read(id(6), &mut out, now, RTT)
            .map_err(|_| TransportError::internal("read"))?;
        assert_eq!(r.len, 2);
        assert_eq!(s.next_readable(), Some(id(2)));
        Ok(())
    }

    #[test]
    fn stop_sending_queues_frame() -> Result<(), StreamError> {
        let mut s = set(Side::Server).map_err(|_| StreamError::InvalidState)?;
        s.on_stream_frame(id(0), 0, b"abc", false)
            .map_err(|_| StreamError::InvalidState)?;
        s.stop_sending(id(0), 9)?;
        assert_eq!(
            s.poll_control(100),
            Some(ControlFrame::StopSending { id: id(0), code: 9 })
        );
        assert_eq!(s.next_readable(), None);
        Ok(())
    }

    #[test]
    fn priority_changes_scheduling_order() -> Result<(), StreamError> {
        let mut s = set(Side::Client).map_err(|_| StreamError::InvalidState)?;
        let a = s.open_next(Dir::Uni)?;
        let b = s.open_next(Dir::Uni)?;
        s.write(a, b"aaaa", false)?;
        s.write(b, b"bbbb", false)?;
        s.set_priority(b, Priority::HIGHEST)?;
        assert_eq!(s.poll_stream(100).map(|c| c.id), Some(b));
        assert_eq!(s.poll_stream(100).map(|c| c.id), Some(a));
        assert_eq!(s.get(b).map(|st| st.priority()), Some(Priority::HIGHEST));
        assert_eq!(
            s.set_priority(id(100), Priority::LOWEST),
            Err(StreamError::UnknownStream)
        );
        Ok(())
    }
}
