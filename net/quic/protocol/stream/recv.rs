// SPDX-License-Identifier: GPL-2.0

//! The receiving part of a stream (RFC 9000 §3.2, §4.5).
//!
//! ```text
//!  Recv --STREAM+FIN--> Size Known --all data--> Data Recvd --all read--> Data Read
//!    |                      |
//!    +----------------------+
//!               | RESET_STREAM
//!               v
//!         Reset Recvd --reset read--> Reset Read
//! ```
//!
//! [`RecvStream`] checks every STREAM and RESET_STREAM against the final
//! size and against stream and connection flow control, reassembles the
//! data, and gives the peer more credit as the application reads. A
//! RESET_STREAM is honoured until all data has arrived; after that, the
//! data is delivered and the reset suppressed (RFC 9000 §3.2 leaves this to
//! the implementation).
//!
//! Flow-control credit the peer used is always returned to the connection:
//! bytes read, bytes discarded after STOP_SENDING, and on reset everything
//! up to the final size.

use core::time::Duration;

use super::flow_control::RecvWindow;
use super::reassembly::{Reassembler, ReassemblyError};
use super::{
    len_u64, ControlFrame, StreamError, StreamId, StreamState, FRAME_RESET_STREAM, FRAME_STREAM,
    MAX_OFFSET,
};
use crate::protocol::error::{TransportError, TransportErrorCode};
use crate::protocol::time::Instant;

/// The states of the receiving part (RFC 9000 Figure 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvState {
    /// Receiving; the final size is unknown.
    Recv,
    /// The final size is known; data is missing.
    SizeKnown,
    /// All data received, not all read.
    DataRecvd,
    /// All data read (terminal).
    DataRead,
    /// The peer reset the stream; the application was not told yet.
    ResetRecvd,
    /// The application saw the reset (terminal).
    ResetRead,
}

impl RecvState {
    /// Whether nothing more will happen on this part.
    pub const fn is_terminal(self) -> bool {
        matches!(self, RecvState::DataRead | RecvState::ResetRead)
    }
}

impl From<RecvState> for StreamState {
    fn from(s: RecvState) -> Self {
        match s {
            RecvState::Recv => StreamState::RecvRecv,
            RecvState::SizeKnown => StreamState::RecvSizeKnown,
            RecvState::DataRecvd => StreamState::RecvRecvd,
            RecvState::DataRead => StreamState::RecvRead,
            RecvState::ResetRecvd => StreamState::RecvResetRecvd,
            RecvState::ResetRead => StreamState::RecvResetRead,
        }
    }
}

/// What a read returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// Bytes copied.
    pub len: usize,
    /// Whether the end of the stream was reached (`MSG_QUIC_STREAM_FIN`).
    pub fin: bool,
}

/// Where a STOP_SENDING requested by the application stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// Not requested.
    None,
    /// To be sent with this code.
    Pending(u64),
    /// Sent with this code.
    Sent(u64),
}

/// The receiving part of a stream.
#[derive(Debug)]
pub struct RecvStream {
    state: RecvState,
    buf: Reassembler,
    /// The credit we give the peer on this stream (MAX_STREAM_DATA).
    window: RecvWindow,
    final_size: Option<u64>,
    /// The peer's application error code, once reset.
    reset_code: u64,
    stop: Stop,
    /// Credit returned to the connection window so far.
    released: u64,
}

/// A connection error with `code` caused by a frame of type `frame`.
fn error(code: TransportErrorCode, frame: u64, reason: &'static str) -> TransportError {
    TransportError::new(code, reason).with_frame(frame)
}

impl RecvStream {
    /// A new receiving part in the Recv state with a window of `window`
    /// bytes (the initial MAX_STREAM_DATA we advertised), auto-tuned up to
    /// `max_window`.
    pub fn new(window: u64, max_window: u64) -> Self {
        Self {
            state: RecvState::Recv,
            buf: Reassembler::new(u64::MAX),
            window: RecvWindow::new(window, max_window),
            final_size: None,
            reset_code: 0,
            stop: Stop::None,
            released: 0,
        }
    }

    /// The current state.
    pub const fn state(&self) -> RecvState {
        self.state
    }

    /// The final size, once known.
    pub const fn final_size(&self) -> Option<u64> {
        self.final_size
    }

    /// The peer's application error code, once reset.
    pub const fn reset_code(&self) -> Option<u64> {
        match self.state {
            RecvState::ResetRecvd | RecvState::ResetRead => Some(self.reset_code),
            _ => None,
        }
    }

    /// The stream's flow-control window.
    pub const fn window(&self) -> &RecvWindow {
        &self.window
    }

    /// Bytes of memory held by buffered data.
    pub const fn memory(&self) -> usize {
        self.buf.memory()
    }

    /// Whether a read would return something: data, the end of the stream,
    /// or the reset.
    pub fn is_readable(&self) -> bool {
        match self.state {
            RecvState::ResetRecvd => true,
            RecvState::DataRecvd => self.stop == Stop::None,
            RecvState::Recv | RecvState::SizeKnown => self.buf.readable() > 0,
            RecvState::DataRead | RecvState::ResetRead => false,
        }
    }

    /// A STREAM frame: `data` at `offset`, with `fin` if it ends the stream.
    /// `conn` is the connection window. Returns the new state if it changed.
    pub fn on_data(
        &mut self,
        offset: u64,
        data: &[u8],
        fin: bool,
        conn: &mut RecvWindow,
    ) -> Result<Option<RecvState>, TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.8
        //# Receipt of a frame that exceeds this limit MUST be treated as a
        //# connection error of type FRAME_ENCODING_ERROR or FLOW_CONTROL_ERROR.
        let end = offset
            .checked_add(len_u64(data.len()))
            .filter(|&end| end <= MAX_OFFSET)
            .ok_or_else(|| {
                error(
                    TransportErrorCode::FLOW_CONTROL_ERROR,
                    FRAME_STREAM,
                    "stream offset beyond 2^62 - 1",
                )
            })?;
        self.check_final_size(end, fin, FRAME_STREAM)?;
        self.account(end, conn, FRAME_STREAM)?;
        if fin {
            self.final_size = Some(end);
        }
        let before = self.state;
        if matches!(before, RecvState::Recv | RecvState::SizeKnown) {
            self.buf.insert(offset, data).map_err(|e| match e {
                ReassemblyError::OutOfMemory => TransportError::internal("out of memory"),
                ReassemblyError::TooFragmented => {
                    TransportError::internal("stream data too fragmented").with_frame(FRAME_STREAM)
                }
                // Flow control bounds the data; the limit is unbounded.
                ReassemblyError::LimitExceeded => error(
                    TransportErrorCode::FLOW_CONTROL_ERROR,
                    FRAME_STREAM,
                    "stream data beyond the buffer",
                ),
            })?;
            if self.buf.is_discarding() {
                self.release_to(self.window.received(), conn);
            }
            self.advance();
        }
        Ok((self.state != before).then_some(self.state))
    }

    /// Checks a frame ending at `end` (with `fin` if it sets the final
    /// size) against the final size.
    fn check_final_size(&self, end: u64, fin: bool, frame: u64) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-4.5
        //# Once a final size for a stream is known, it cannot change.  If a
        //# RESET_STREAM or STREAM frame is received indicating a change in the
        //# final size for the stream, an endpoint SHOULD respond with an error
        let changed = match self.final_size {
            Some(size) => end > size || (fin && end != size),
            // Data already received beyond a new final size.
            None => fin && end < self.window.received(),
        };
        if changed {
            return Err(error(
                TransportErrorCode::FINAL_SIZE_ERROR,
                frame,
                "final size changed or exceeded",
            ));
        }
        Ok(())
    }

    /// Counts data up to `end` against stream and connection flow control.
    fn account(
        &mut self,
        end: u64,
        conn: &mut RecvWindow,
        frame: u64,
    ) -> Result<(), TransportError> {
        self.window.check(end).map_err(|e| e.with_frame(frame))?;
        let new = end.saturating_sub(self.window.received());
        let conn_total = conn.received().saturating_add(new);
        conn.check(conn_total).map_err(|e| e.with_frame(frame))?;
        self.window.record(end);
        conn.record(conn_total);
        Ok(())
    }

    /// Moves Recv → Size Known → Data Recvd as far as the data allows, and
    /// on to Data Read if the application no longer reads.
    fn advance(&mut self) {
        let Some(size) = self.final_size else {
            return;
        };
        if self.state == RecvState::Recv {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-3.2
            //# In this state, the endpoint no longer needs to send
            //# MAX_STREAM_DATA frames; it only receives any retransmissions of
            //# stream data.
            self.state = RecvState::SizeKnown;
            self.window.cancel_update();
        }
        if self.state == RecvState::SizeKnown && self.buf.contiguous_end() >= size {
            self.state = RecvState::DataRecvd;
        }
        if self.state == RecvState::DataRecvd && self.stop != Stop::None {
            self.state = RecvState::DataRead;
        }
    }

    /// A RESET_STREAM with application error `code` and `final_size`.
    /// Returns the new state if it changed.
    pub fn on_reset(
        &mut self,
        code: u64,
        final_size: u64,
        conn: &mut RecvWindow,
    ) -> Result<Option<RecvState>, TransportError> {
        if final_size > MAX_OFFSET {
            return Err(TransportError::frame_encoding("final size beyond 2^62 - 1")
                .with_frame(FRAME_RESET_STREAM));
        }
        self.check_final_size(final_size, true, FRAME_RESET_STREAM)?;
        self.account(final_size, conn, FRAME_RESET_STREAM)?;
        if !matches!(self.state, RecvState::Recv | RecvState::SizeKnown) {
            // Data Recvd: all data is here and will be delivered; the reset
            // is suppressed. Later states: a duplicate.
            return Ok(None);
        }
        self.final_size = Some(final_size);
        self.reset_code = code;
        self.buf.discard();
        self.window.cancel_update();
        self.release_to(final_size, conn);
        // An application that stopped reading is not waiting for the reset.
        self.state = if self.stop == Stop::None {
            RecvState::ResetRecvd
        } else {
            RecvState::ResetRead
        };
        Ok(Some(self.state))
    }

    /// Returns the credit used up to `offset` to the connection window.
    fn release_to(&mut self, offset: u64, conn: &mut RecvWindow) {
        if offset > self.released {
            conn.on_release(offset - self.released);
            self.released = offset;
        }
    }

    /// The peer says it is blocked at `limit` on this stream.
    pub fn on_data_blocked(&mut self, limit: u64) {
        if self.state == RecvState::Recv && self.stop == Stop::None {
            self.window.on_peer_blocked(limit);
        }
    }

    /// The readable bytes at the read position that are stored together
    /// (empty if none); see [`consume`](Self::consume).
    pub fn peek(&self) -> &[u8] {
        self.buf.peek()
    }

    /// Marks `n` bytes returned by [`peek`](Self::peek) as read at `now`,
    /// with `rtt` the smoothed RTT for window auto-tuning. Returns whether
    /// the end of the stream was reached.
    pub fn consume(
        &mut self,
        n: usize,
        conn: &mut RecvWindow,
        now: Instant,
        rtt: Duration,
    ) -> bool {
        let n = self.buf.consume(len_u64(n));
        if n > 0 {
            self.window.on_read(n, now, rtt);
            if self.state != RecvState::Recv {
                self.window.cancel_update();
            }
            conn.on_read(n, now, rtt);
            self.released += n;
            // The connection must be able to carry a full stream window,
            // with room for other streams.
            let w = self.window.window();
            conn.ensure_window(w.saturating_add(w / 2));
        }
        if self.state == RecvState::DataRecvd && Some(self.buf.read_offset()) == self.final_size {
            self.state = RecvState::DataRead;
            // Nothing more to read: free the last chunk and the spare.
            self.buf.discard();
            return true;
        }
        false
    }

    /// Copies readable data into `out`. `Blocked` means nothing to read yet;
    /// `Reset` reports the peer's reset once and moves to Reset Read.
    pub fn read(
        &mut self,
        out: &mut [u8],
        conn: &mut RecvWindow,
        now: Instant,
        rtt: Duration,
    ) -> Result<Read, StreamError> {
        match self.state {
            RecvState::ResetRecvd => {
                self.state = RecvState::ResetRead;
                return Err(StreamError::Reset(self.reset_code));
            }
            RecvState::ResetRead => return Err(StreamError::Reset(self.reset_code)),
            RecvState::DataRead => return Ok(Read { len: 0, fin: true }),
            _ if self.stop != Stop::None => return Err(StreamError::InvalidState),
            _ => {}
        }
        let mut len = 0;
        let fin = loop {
            let src = self.peek();
            let dst = out.get_mut(len..).unwrap_or(&mut []);
            let n = src.len().min(dst.len());
            if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
                d.copy_from_slice(s);
            }
            len += n;
            let fin = self.consume(n, conn, now, rtt);
            if n == 0 || fin {
                break fin;
            }
        };
        if len == 0 && !fin {
            return Err(StreamError::Blocked);
        }
        Ok(Read { len, fin })
    }

    /// The application stops reading with error `code`: discards buffered
    /// data, returns its credit, and queues a STOP_SENDING if the peer may
    /// still send. Returns the new state if it changed.
    pub fn stop_sending(&mut self, code: u64, conn: &mut RecvWindow) -> Option<RecvState> {
        if self.stop != Stop::None || self.state.is_terminal() {
            return None;
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-3.5
        //# If the stream is in the "Recv" or "Size Known" state, the transport
        //# SHOULD signal this by sending a STOP_SENDING frame to prompt closure
        //# of the stream in the opposite direction.
        if matches!(self.state, RecvState::Recv | RecvState::SizeKnown) {
            self.stop = Stop::Pending(code);
        } else {
            self.stop = Stop::Sent(code);
        }
        self.buf.discard();
        self.window.cancel_update();
        self.release_to(self.window.received(), conn);
        let before = self.state;
        self.state = match before {
            RecvState::DataRecvd => RecvState::DataRead,
            RecvState::ResetRecvd => RecvState::ResetRead,
            s => s,
        };
        (self.state != before).then_some(self.state)
    }

    /// Whether a STOP_SENDING or MAX_STREAM_DATA waits to be sent.
    pub fn has_control(&self) -> bool {
        matches!(self.stop, Stop::Pending(_))
            || (self.window.has_update() && self.state == RecvState::Recv)
    }

    /// The next STOP_SENDING or MAX_STREAM_DATA for stream `id`, if one is
    /// due and fits in `room` bytes.
    pub fn poll_control(&mut self, id: StreamId, room: usize) -> Option<ControlFrame> {
        if let Stop::Pending(code) = self.stop {
            let frame = ControlFrame::StopSending { id, code };
            if frame.encoded_len() > room {
                return None;
            }
            self.stop = Stop::Sent(code);
            return Some(frame);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-3.3
        //# The receiver only sends MAX_STREAM_DATA frames in the "Recv" state.
        if self.state != RecvState::Recv || !self.window.has_update() {
            return None;
        }
        let frame = ControlFrame::MaxStreamData {
            id,
            limit: self.window.limit(),
        };
        if frame.encoded_len() > room {
            return None;
        }
        self.window.poll_update()?;
        Some(frame)
    }

    /// Our STOP_SENDING was lost: send it again while the peer may still be
    /// sending.
    pub fn on_stop_sending_lost(&mut self) {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-3.5
        //# An endpoint is expected to send another STOP_SENDING frame if a
        //# packet containing a previous STOP_SENDING is lost.
        if let Stop::Sent(code) = self.stop {
            if matches!(self.state, RecvState::Recv | RecvState::SizeKnown) {
                self.stop = Stop::Pending(code);
            }
        }
    }

    /// Our MAX_STREAM_DATA advertising `limit` was lost.
    pub fn on_max_stream_data_lost(&mut self, limit: u64) {
        if self.state == RecvState::Recv && self.stop == Stop::None {
            self.window.on_update_lost(limit);
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_recv))]
mod tests {
    use super::*;

    const ID: StreamId = StreamId(1);
    const RTT: Duration = Duration::from_millis(10);
    const NOW: Instant = Instant::ZERO;

    fn conn() -> RecvWindow {
        RecvWindow::new(1000, 1000)
    }

    fn code(r: Result<Option<RecvState>, TransportError>) -> Option<TransportErrorCode> {
        r.err().map(|e| e.code)
    }

    fn read(s: &mut RecvStream, c: &mut RecvWindow, out: &mut [u8]) -> Result<Read, StreamError> {
        s.read(out, c, NOW, RTT)
    }

    #[test]
    fn recv_size_known_data_recvd_data_read() -> Result<(), TransportError> {
        let mut c = conn();
        let mut s = RecvStream::new(100, 100);
        assert_eq!(
            s.on_data(5, b"world", true, &mut c)?,
            Some(RecvState::SizeKnown)
        );
        assert_eq!(s.final_size(), Some(10));
        assert!(!s.is_readable());
        assert_eq!(
            s.on_data(0, b"hello", false, &mut c)?,
            Some(RecvState::DataRecvd)
        );
        let mut out = [0u8; 4];
        assert_eq!(
            read(&mut s, &mut c, &mut out),
            Ok(Read { len: 4, fin: false })
        );
        assert_eq!(&out, b"hell");
        let mut out = [0u8; 16];
        assert_eq!(
            read(&mut s, &mut c, &mut out),
            Ok(Read { len: 6, fin: true })
        );
        assert_eq!(&out[..6], b"oworld");
        assert_eq!(s.state(), RecvState::DataRead);
        assert!(s.state().is_terminal());
        assert_eq!(s.memory(), 0);
        assert_eq!(
            read(&mut s, &mut c, &mut out),
            Ok(Read { len: 0, fin: true })
        );
        // Retransmissions after the end are harmless.
        assert_eq!(s.on_data(0, b"hello", false, &mut c)?, None);
        assert_eq!(c.consumed(), 10);
        Ok(())
    }

    #[test]
    fn empty_stream_with_fin() -> Result<(), TransportError> {
        let mut c = conn();
        let mut s = RecvStream::new(100, 100);
        assert_eq!(s.on_data(0, &[], true, &mut c)?, Some(RecvState::DataRecvd));
        assert!(s.is_readable());
        assert_eq!(
            read(&mut s, &mut c, &mut []),
            Ok(Read { len: 0, fin: true })
        );
        assert_eq!(s.state(), RecvState::DataRead);
        Ok(())
    }

    #[test]
    fn nothing_to_read_blocks() {
        let mut c = conn();
        let mut s = RecvStream::new(100, 100);
        assert_eq!(
            read(&mut s, &mut c, &mut [0u8; 4]),
            Err(StreamError::Blocked)
        );
    }

    #[test]
    fn final_size_errors() -> Result<(), TransportError> {
        let mut c = conn();
        let mut s = RecvStream::new(100, 100);
        s.on_data(0, &[0; 20], false, &mut c)?;
        // A FIN below data already received.
        let err = code(s.on_data(0, &[0; 10], true, &mut c));
        assert_eq!(err, Some(TransportErrorCode::FINAL_SIZE_ERROR));
        s.on_data(20, &[0; 10], true, &mut c)?;
        // Data beyond the final size, a different FIN, a different reset.
        let errs = [
            code(s.on_data(25, &[0; 10], false, &mut c)),
            code(s.on_data(20, &[0; 5], true, &mut c)),
            code(s.on_reset(1, 31, &mut c)),
            code(s.on_reset(1, 29, &mut c)),
        ];
        for e in errs {
            assert_eq!(e, Some(TransportErrorCode::FINAL_SIZE_ERROR));
        }
        // The same final size again is fine.
        assert_eq!(s.on_data(20, &[0; 10], true, &mut c)?, None);
        Ok(())
    }

    #[test]
    fn reset_below_received_data_is_final_size_error() -> Result<(), TransportError> {
        let mut c = conn();
        let mut s = RecvStream::new(100, 100);
        s.on_data(0, &[0; 20], false, &mut c)?;
        let err = s
            .on_reset(0, 10, &mut c)
            .map_err(|e| (e.code, e.frame_type));
        assert_eq!(err, Err((TransportErrorCode::FINAL_SIZE_ERROR, Some(0x04))));
        Ok(())
    }

    #[test]
    fn flow_control_errors() -> Result<(), TransportError> {
        let mut c = RecvWindow::new(150, 150);
        let mut s = RecvStream::new(100, 100);
        let err = code(s.on_data(90, &[0; 11], false, &mut c));
        assert_eq!(err, Some(TransportErrorCode::FLOW_CONTROL_ERROR));
        s.on_data(0, &[0; 100], false, &mut c)?;
        // The connection limit counts every stream.
        let mut other = RecvStream::new(100, 100);
        other.on_data(0, &[0; 50], false, &mut c)?;
        let err = code(other.on_data(50, &[0; 1], false, &mut c));
        assert_eq!(err, Some(TransportErrorCode::FLOW_CONTROL_ERROR));
        // A reset's final size counts too.
        let err = code(other.on_reset(0, 51, &mut c));
        assert_eq!(err, Some(TransportErrorCode::FLOW_CONTROL_ERROR));
        let huge = code(s.on_data(MAX_OFFSET, &[0; 1], false, &mut c));
        assert_eq!(huge, Some(TransportErrorCode::FLOW_CONTROL_ERROR));
        Ok(())
    }

    #[test]
    fn max_stream_data_after_half_window() -> Result<(), TransportError> {
        let mut c = conn();
        let mut s = RecvStream::new(100, 100);
        s.on_data(0, &[0; 60], false, &mut c)?;
        assert_eq!(read(&mut s, &mut c, &mut [0u8; 40]).map(|r| r.len), Ok(40));
        assert!(!s.has_control());
        assert_eq!(read(&mut s, &mut c, &mut [0u8; 40]).map(|r| r.len), Ok(20));
        assert!(s.has_control());
        // No room.
        assert_eq!(s.poll_control(ID, 2), None);
        let update = ControlFrame::MaxStreamData { id: ID, limit: 160 };
        assert_eq!(s.poll_control(ID, 10), Some(update));
        assert_eq!(s.poll_control(ID, 10), None);
        s.on_max_stream_data_lost(160);
        assert_eq!(s.poll_control(ID, 10), Some(update));
        // Not once the final size is known.
        s.on_max_stream_data_lost(160);
        s.on_data(60, &[], true, &mut c)?;
        assert_eq!(s.poll_control(ID, 10), None);
        Ok(())
    }

    #[test]
    fn peer_blocked_gets_held_back_credit() -> Result<(), TransportError> {
        let mut c = conn();
        let mut s = RecvStream::new(100, 100);
        s.on_data(0, &[0; 100], false, &mut c)?;
        read(&mut s, &mut c, &mut [0u8; 10]).map_err(|_| TransportError::internal("read"))?;
        assert!(!s.has_control());
        s.on_data_blocked(100);
        assert_eq!(
            s.poll_control(ID, 10),
            Some(ControlFrame::MaxStreamData { id: ID, limit: 110 })
        );
        Ok(())
    }

    #[test]
    fn reset_in_recv_and_size_known() -> Result<(), TransportError> {
        for fin in [false, true] {
            let mut c = conn();
            let mut s = RecvStream::new(100, 100);
            s.on_data(10, &[0; 10], fin, &mut c)?;
            assert_eq!(s.on_reset(7, 20, &mut c)?, Some(RecvState::ResetRecvd));
            assert_eq!(s.reset_code(), Some(7));
            // All credit up to the final size goes back to the connection.
            assert_eq!(c.consumed(), 20);
            assert_eq!(s.memory(), 0);
            assert!(s.is_readable());
            // Late data and duplicate resets are ignored.
            assert_eq!(s.on_data(0, &[0; 10], false, &mut c)?, None);
            assert_eq!(s.on_reset(7, 20, &mut c)?, None);
            assert_eq!(
                read(&mut s, &mut c, &mut [0u8; 4]),
                Err(StreamError::Reset(7))
            );
            assert_eq!(s.state(), RecvState::ResetRead);
            assert_eq!(
                read(&mut s, &mut c, &mut [0u8; 4]),
                Err(StreamError::Reset(7))
            );
        }
        Ok(())
    }

    #[test]
    fn reset_suppressed_after_all_data() -> Result<(), TransportError> {
        let mut c = conn();
        let mut s = RecvStream::new(100, 100);
        s.on_data(0, b"abc", true, &mut c)?;
        assert_eq!(s.on_reset(9, 3, &mut c)?, None);
        assert_eq!(s.state(), RecvState::DataRecvd);
        let mut out = [0u8; 8];
        assert_eq!(
            read(&mut s, &mut c, &mut out),
            Ok(Read { len: 3, fin: true })
        );
        Ok(())
    }

    #[test]
    fn stop_sending_discards_and_counts() -> Result<(), TransportError> {
        let mut c = conn();
        let mut s = RecvStream::new(100, 100);
        s.on_data(0, &[0; 30], false, &mut c)?;
        assert_eq!(s.stop_sending(5, &mut c), None);
        assert_eq!(s.memory(), 0);
        assert_eq!(c.consumed(), 30);
        // No room.
        assert_eq!(s.poll_control(ID, 2), None);
        assert_eq!(
            s.poll_control(ID, 10),
            Some(ControlFrame::StopSending { id: ID, code: 5 })
        );
        assert_eq!(s.poll_control(ID, 10), None);
        s.on_stop_sending_lost();
        assert!(s.has_control());
        assert!(s.poll_control(ID, 10).is_some());
        // Data after STOP_SENDING still counts against flow control.
        s.on_data(30, &[0; 20], false, &mut c)?;
        assert_eq!(c.consumed(), 50);
        let err = code(s.on_data(50, &[0; 51], false, &mut c));
        assert_eq!(err, Some(TransportErrorCode::FLOW_CONTROL_ERROR));
        assert_eq!(
            read(&mut s, &mut c, &mut [0u8; 4]),
            Err(StreamError::InvalidState)
        );
        // The peer's reset closes the part without waiting for a read.
        assert_eq!(s.on_reset(5, 60, &mut c)?, Some(RecvState::ResetRead));
        assert_eq!(c.consumed(), 60);
        s.on_stop_sending_lost();
        assert!(!s.has_control());
        Ok(())
    }

    #[test]
    fn stop_sending_then_all_data_closes() -> Result<(), TransportError> {
        let mut c = conn();
        let mut s = RecvStream::new(100, 100);
        s.stop_sending(5, &mut c);
        assert_eq!(
            s.on_data(0, &[0; 8], true, &mut c)?,
            Some(RecvState::DataRead)
        );
        assert_eq!(c.consumed(), 8);
        // Stopping after all data arrived sends nothing and closes.
        let mut t = RecvStream::new(100, 100);
        t.on_data(0, &[0; 8], true, &mut c)?;
        assert_eq!(t.stop_sending(5, &mut c), Some(RecvState::DataRead));
        assert!(!t.has_control());
        assert_eq!(t.stop_sending(5, &mut c), None);
        Ok(())
    }

    #[test]
    fn window_grows_with_fast_reads() -> Result<(), TransportError> {
        let mut c = RecvWindow::new(1000, 1 << 20);
        let mut s = RecvStream::new(100, 800);
        let mut now = Instant::ZERO;
        let mut offset = 0;
        let mut out = [0u8; 64];
        for _ in 0..40 {
            let limit = s.window().limit();
            while offset < limit {
                let n = (limit - offset).min(64);
                s.on_data(offset, &out[..n as usize], false, &mut c)?;
                offset += n;
                while let Ok(r) = s.read(&mut out, &mut c, now, RTT) {
                    assert!(r.len > 0);
                }
            }
            s.poll_control(ID, 100);
            now = now + Duration::from_millis(1);
        }
        assert_eq!(s.window().window(), 800);
        // The connection window follows the stream window.
        assert!(c.window() >= 1200);
        Ok(())
    }

    #[test]
    fn uapi_states() {
        assert_eq!(StreamState::from(RecvState::Recv).uapi(), 6);
        assert_eq!(StreamState::from(RecvState::DataRead).uapi(), 9);
        assert_eq!(StreamState::from(RecvState::ResetRead).uapi(), 11);
    }
}
