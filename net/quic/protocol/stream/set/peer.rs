// SPDX-License-Identifier: GPL-2.0

//! Stream frames received from the peer (RFC 9000 §19.4–19.14), already
//! decoded by the frame parser.
//!
//! Every frame naming a stream goes through [`StreamSet::resolve`] first:
//! it rejects frames for a part the stream does not have
//! (STREAM_STATE_ERROR), for our streams not yet opened
//! (STREAM_STATE_ERROR) and for peer streams beyond our limit
//! (STREAM_LIMIT_ERROR), and opens the peer's streams implicitly. A frame
//! for a stream that was closed and forgotten is ignored.

use super::{find_mut, recv_update, send_update, StreamSet};
use crate::protocol::error::{TransportError, TransportErrorCode};
use crate::protocol::stream::{
    Dir, StreamId, StreamUpdate, FRAME_MAX_STREAMS_BIDI, FRAME_MAX_STREAM_DATA, FRAME_RESET_STREAM,
    FRAME_STOP_SENDING, FRAME_STREAM, FRAME_STREAMS_BLOCKED_BIDI, FRAME_STREAM_DATA_BLOCKED,
};

/// The part of a stream a received frame is about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Our receiving part: STREAM, RESET_STREAM, STREAM_DATA_BLOCKED.
    Recv,
    /// Our sending part: STOP_SENDING, MAX_STREAM_DATA.
    Send,
}

fn state_error(frame: u64, reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::STREAM_STATE_ERROR, reason).with_frame(frame)
}

impl StreamSet {
    /// Checks that frame type `frame` may name stream `id` for `part`, and
    /// opens the peer's streams up to `id`.
    fn resolve(&mut self, id: StreamId, part: Part, frame: u64) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.8
        //# An endpoint MUST terminate the connection with error
        //# STREAM_STATE_ERROR if it receives a STREAM frame for a locally
        //# initiated stream that has not yet been created, or for a send-only
        if part == Part::Recv && id.is_send_only(self.side) {
            return Err(state_error(frame, "frame for our send-only stream"));
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.5
        //# An endpoint that receives a STOP_SENDING frame for a receive-only
        //# stream MUST terminate the connection with error STREAM_STATE_ERROR.
        if part == Part::Send && id.is_recv_only(self.side) {
            return Err(state_error(frame, "frame for our receive-only stream"));
        }
        let dir = id.dir().index();
        if id.initiator() == self.side {
            let opened = self.outgoing.get(dir).map_or(0, |o| o.opened());
            if id.index() >= opened {
                return Err(state_error(frame, "frame for a stream we did not open"));
            }
            return Ok(());
        }
        let Some(incoming) = self.incoming.get_mut(dir) else {
            return Ok(());
        };
        let count = incoming
            .to_open(id.index())
            .map_err(|e| e.with_frame(frame))?;
        if count == 0 {
            return Ok(());
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-3.2
        //# Before a stream is created, all streams of the same type with
        //# lower-numbered stream IDs MUST be created.
        self.reserve(id.type_index(), count)?;
        if let Some(incoming) = self.incoming.get_mut(dir) {
            let new = incoming
                .open_to(id.index())
                .map_err(|e| e.with_frame(frame))?;
            self.create(self.side.peer(), id.dir(), new.start, new.end);
        }
        Ok(())
    }

    /// A STREAM frame: `data` at `offset` on `id`, with `fin` if it ends
    /// the stream. Returns the receiving part's new state, if it changed.
    pub fn on_stream_frame(
        &mut self,
        id: StreamId,
        offset: u64,
        data: &[u8],
        fin: bool,
    ) -> Result<Option<StreamUpdate>, TransportError> {
        self.resolve(id, Part::Recv, FRAME_STREAM)?;
        let Some(recv) = find_mut(&mut self.streams, id).and_then(|s| s.recv.as_mut()) else {
            return Ok(None);
        };
        let changed = recv.on_data(offset, data, fin, &mut self.conn_recv)?;
        let update = changed.map(|_| recv_update(id, recv));
        self.refresh(id);
        Ok(update)
    }

    /// A RESET_STREAM frame for `id` with application error `code`.
    pub fn on_reset_stream(
        &mut self,
        id: StreamId,
        code: u64,
        final_size: u64,
    ) -> Result<Option<StreamUpdate>, TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.4
        //# An endpoint that receives a RESET_STREAM frame for a send-only
        //# stream MUST terminate the connection with error STREAM_STATE_ERROR.
        self.resolve(id, Part::Recv, FRAME_RESET_STREAM)?;
        let Some(recv) = find_mut(&mut self.streams, id).and_then(|s| s.recv.as_mut()) else {
            return Ok(None);
        };
        let changed = recv.on_reset(code, final_size, &mut self.conn_recv)?;
        let update = changed.map(|_| recv_update(id, recv));
        self.refresh(id);
        Ok(update)
    }

    /// A STREAM_DATA_BLOCKED frame for `id` at `limit`.
    pub fn on_stream_data_blocked(
        &mut self,
        id: StreamId,
        limit: u64,
    ) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.13
        //# An endpoint that receives a STREAM_DATA_BLOCKED frame for a
        //# send-only stream MUST terminate the connection with error
        //# STREAM_STATE_ERROR.
        self.resolve(id, Part::Recv, FRAME_STREAM_DATA_BLOCKED)?;
        if let Some(recv) = find_mut(&mut self.streams, id).and_then(|s| s.recv.as_mut()) {
            recv.on_data_blocked(limit);
            self.queue_control(id);
        }
        Ok(())
    }

    /// A STOP_SENDING frame for `id`: the sending part is reset with the
    /// same code. Returns the update (Reset Sent) if it was.
    pub fn on_stop_sending(
        &mut self,
        id: StreamId,
        code: u64,
    ) -> Result<Option<StreamUpdate>, TransportError> {
        self.resolve(id, Part::Send, FRAME_STOP_SENDING)?;
        let Some(send) = find_mut(&mut self.streams, id).and_then(|s| s.send.as_mut()) else {
            return Ok(None);
        };
        let update = send
            .on_stop_sending(code, &mut self.budget)
            .then(|| send_update(id, send));
        self.refresh(id);
        Ok(update)
    }

    /// A MAX_STREAM_DATA frame for `id`. Returns whether it let more data
    /// be sent (`QUIC_EVENT_STREAM_MAX_DATA`).
    pub fn on_max_stream_data(&mut self, id: StreamId, limit: u64) -> Result<bool, TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.10
        //# An endpoint that receives a MAX_STREAM_DATA frame for a
        //# receive-only stream MUST terminate the connection with error
        //# STREAM_STATE_ERROR.
        self.resolve(id, Part::Send, FRAME_MAX_STREAM_DATA)?;
        let Some(send) = find_mut(&mut self.streams, id).and_then(|s| s.send.as_mut()) else {
            return Ok(false);
        };
        let raised = send.on_max_stream_data(limit);
        self.queue_data(id);
        Ok(raised)
    }

    /// A MAX_DATA frame. Returns whether it raised the connection limit.
    pub fn on_max_data(&mut self, limit: u64) -> bool {
        // Streams blocked only by the connection stay scheduled.
        self.conn_send.raise(limit)
    }

    /// A DATA_BLOCKED frame at `limit`.
    pub fn on_data_blocked(&mut self, limit: u64) {
        self.conn_recv.on_peer_blocked(limit);
    }

    /// A MAX_STREAMS frame for `dir`. Returns whether it raised the limit
    /// (`QUIC_EVENT_STREAM_MAX_STREAM`).
    pub fn on_max_streams(&mut self, dir: Dir, count: u64) -> Result<bool, TransportError> {
        let frame = FRAME_MAX_STREAMS_BIDI + dir as u64;
        match self.outgoing.get_mut(dir.index()) {
            Some(out) => out.on_max_streams(count).map_err(|e| e.with_frame(frame)),
            None => Ok(false),
        }
    }

    /// A STREAMS_BLOCKED frame for `dir` at `count`.
    pub fn on_streams_blocked(&mut self, dir: Dir, count: u64) -> Result<(), TransportError> {
        let frame = FRAME_STREAMS_BLOCKED_BIDI + dir as u64;
        match self.incoming.get_mut(dir.index()) {
            Some(inc) => inc.on_peer_blocked(count).map_err(|e| e.with_frame(frame)),
            None => Ok(()),
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_set_peer))]
mod tests {
    use super::*;
    use crate::protocol::alloc::{boxed, Box};
    use crate::protocol::stream::set::{StreamConfig, StreamLimits};
    use crate::protocol::stream::{ControlFrame, Side, StreamState};

    fn limits(streams: u64) -> StreamLimits {
        StreamLimits {
            max_data: 1000,
            max_stream_data_bidi_local: 100,
            max_stream_data_bidi_remote: 100,
            max_stream_data_uni: 100,
            max_streams_bidi: streams,
            max_streams_uni: streams,
        }
    }

    /// A stream set on the heap (it is about 600 bytes).
    fn set(side: Side, streams: u64) -> Result<Box<StreamSet>, TransportError> {
        let mut s = boxed(|| {
            StreamSet::new(
                side,
                StreamConfig {
                    local: limits(streams),
                    max_stream_window: 100,
                    max_data_window: 1000,
                    send_buffer: 1 << 16,
                },
            )
        })?;
        s.set_peer_limits(limits(streams))?;
        Ok(s)
    }

    fn id(v: u64) -> StreamId {
        StreamId(v)
    }

    fn code<T>(r: Result<T, TransportError>) -> Option<(TransportErrorCode, Option<u64>)> {
        r.err().map(|e| (e.code, e.frame_type))
    }

    const STATE: TransportErrorCode = TransportErrorCode::STREAM_STATE_ERROR;

    #[test]
    fn implicit_open_of_lower_streams() -> Result<(), TransportError> {
        let mut s = set(Side::Server, 4)?;
        // Client bidi index 2 opens indices 0 and 1 as well.
        s.on_stream_frame(id(8), 0, b"x", false)?;
        for v in [0, 4, 8] {
            assert!(s.get(id(v)).is_some());
        }
        assert!(s.get(id(12)).is_none());
        // Peer bidi streams get both parts; uni only a receiving one.
        assert!(s.get(id(0)).is_some_and(|st| st.send().is_some()));
        s.on_stream_frame(id(2), 0, b"x", false)?;
        assert!(s.get(id(2)).is_some_and(|st| st.send().is_none()));
        Ok(())
    }

    //= https://www.rfc-editor.org/rfc/rfc9000#section-4.6
    //# An endpoint that receives a frame with a stream ID exceeding the
    //# limit it has sent MUST treat this as a connection error of type
    //# STREAM_LIMIT_ERROR
    #[test]
    fn stream_limit_error() -> Result<(), TransportError> {
        let mut s = set(Side::Server, 2)?;
        s.on_stream_frame(id(4), 0, b"x", false)?;
        let err = code(s.on_stream_frame(id(8), 0, b"x", false));
        assert_eq!(
            err,
            Some((TransportErrorCode::STREAM_LIMIT_ERROR, Some(0x08)))
        );
        let err = code(s.on_max_stream_data(id(8), 10));
        assert_eq!(
            err,
            Some((TransportErrorCode::STREAM_LIMIT_ERROR, Some(0x11)))
        );
        Ok(())
    }

    #[test]
    fn stream_state_errors() -> Result<(), TransportError> {
        let mut c = set(Side::Client, 4)?;
        // Our uni stream 2 is send-only; the server's uni 3 receive-only.
        c.open(id(2))
            .map_err(|_| TransportError::internal("open"))?;
        assert_eq!(
            code(c.on_stream_frame(id(2), 0, b"x", false)),
            Some((STATE, Some(0x08)))
        );
        assert_eq!(
            code(c.on_reset_stream(id(2), 0, 0)),
            Some((STATE, Some(0x04)))
        );
        assert_eq!(
            code(c.on_stream_data_blocked(id(2), 0)),
            Some((STATE, Some(0x15)))
        );
        assert_eq!(code(c.on_stop_sending(id(3), 0)), Some((STATE, Some(0x05))));
        assert_eq!(
            code(c.on_max_stream_data(id(3), 9)),
            Some((STATE, Some(0x11)))
        );
        // Our bidi stream 4 was never opened.
        assert_eq!(
            code(c.on_stream_frame(id(4), 0, b"x", false)),
            Some((STATE, Some(0x08)))
        );
        assert_eq!(
            code(c.on_max_stream_data(id(4), 9)),
            Some((STATE, Some(0x11)))
        );
        assert_eq!(code(c.on_stop_sending(id(4), 9)), Some((STATE, Some(0x05))));
        Ok(())
    }

    #[test]
    fn frames_for_closed_streams_are_ignored() -> Result<(), TransportError> {
        let mut s = set(Side::Server, 4)?;
        s.on_stream_frame(id(2), 0, b"ab", true)?;
        let mut out = [0u8; 4];
        let now = crate::protocol::time::Instant::ZERO;
        let rtt = core::time::Duration::from_millis(1);
        let read = s
            .read(id(2), &mut out, now, rtt)
            .map_err(|_| TransportError::internal("read"))?;
        assert!(read.fin);
        assert!(s.get(id(2)).is_none());
        assert_eq!(s.on_stream_frame(id(2), 0, b"ab", true)?, None);
        assert_eq!(s.on_reset_stream(id(2), 1, 2)?, None);
        Ok(())
    }

    #[test]
    fn peer_opens_bidi_with_max_stream_data_or_stop_sending() -> Result<(), TransportError> {
        let mut s = set(Side::Server, 4)?;
        // Below the initial credit: no change.
        assert!(!s.on_max_stream_data(id(0), 50)?);
        assert!(s.get(id(0)).is_some());
        let update = s.on_stop_sending(id(4), 7)?;
        assert_eq!(
            update.map(|u| (u.state, u.errcode)),
            Some((StreamState::SendResetSent, 7))
        );
        assert!(matches!(
            s.poll_control(100),
            Some(ControlFrame::ResetStream { code: 7, .. })
        ));
        Ok(())
    }

    #[test]
    fn updates_for_receive_transitions() -> Result<(), TransportError> {
        let mut s = set(Side::Server, 4)?;
        let u = s.on_stream_frame(id(0), 5, b"world", true)?;
        assert_eq!(
            u.map(|u| (u.state, u.final_size)),
            Some((StreamState::RecvSizeKnown, 10))
        );
        let u = s.on_stream_frame(id(0), 0, b"hello", false)?;
        assert_eq!(u.map(|u| u.state), Some(StreamState::RecvRecvd));
        let u = s.on_reset_stream(id(4), 3, 20)?;
        assert_eq!(
            u.map(|u| (u.state, u.errcode, u.final_size)),
            Some((StreamState::RecvResetRecvd, 3, 20))
        );
        assert_eq!(s.on_stream_frame(id(0), 0, b"hello", false)?, None);
        Ok(())
    }

    #[test]
    fn connection_flow_control_across_streams() -> Result<(), TransportError> {
        let mut s = set(Side::Server, 20)?;
        for n in 0..10 {
            s.on_stream_frame(id(n * 4), 0, &[0u8; 100], false)?;
        }
        let err = code(s.on_stream_frame(id(40), 0, &[0u8; 1], false));
        assert_eq!(
            err,
            Some((TransportErrorCode::FLOW_CONTROL_ERROR, Some(0x08)))
        );
        Ok(())
    }

    #[test]
    fn connection_level_frames() -> Result<(), TransportError> {
        let mut s = set(Side::Client, 1)?;
        assert!(!s.on_max_data(1000));
        assert!(s.on_max_data(2000));
        assert!(s.on_max_streams(Dir::Uni, 3)?);
        assert!(!s.on_max_streams(Dir::Uni, 2)?);
        assert_eq!(s.peer_max_streams(Dir::Uni), 3);
        let err = code(s.on_max_streams(Dir::Bi, (1 << 60) + 1));
        assert_eq!(
            err,
            Some((TransportErrorCode::FRAME_ENCODING_ERROR, Some(0x12)))
        );
        let err = code(s.on_streams_blocked(Dir::Uni, (1 << 60) + 1));
        assert_eq!(
            err,
            Some((TransportErrorCode::FRAME_ENCODING_ERROR, Some(0x17)))
        );
        s.on_streams_blocked(Dir::Uni, 1)?;
        // Nothing closed yet: no credit to give.
        assert_eq!(s.poll_control(100), None);
        s.on_data_blocked(1000);
        // Nothing consumed.
        assert_eq!(s.poll_control(100), None);
        Ok(())
    }
}
