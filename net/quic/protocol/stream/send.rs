// SPDX-License-Identifier: GPL-2.0

//! The sending part of a stream (RFC 9000 §3.1).
//!
//! ```text
//!  Ready --STREAM--> Send --STREAM+FIN--> Data Sent --all acked--> Data Recvd
//!    |                |                      |
//!    +----------------+----------------------+
//!                     | RESET_STREAM (application, or STOP_SENDING received)
//!                     v
//!                 Reset Sent --acked--> Reset Recvd
//! ```
//!
//! [`SendStream`] owns the stream's [`SendBuffer`] and the credit the peer
//! gave for it. Each call to [`SendStream::poll_chunk`] yields one STREAM
//! frame's worth: lost data first, then new data as far as stream and
//! connection credit allow, then a bare FIN. Running out of credit queues a
//! STREAM_DATA_BLOCKED (and marks the connection credit blocked).

use super::flow_control::SendCredit;
use super::send_buf::{SendBudget, SendBuffer};
use super::{
    clamp_usize, len_u64, stream_frame_capacity, ControlFrame, StreamChunk, StreamError, StreamId,
    StreamState, MAX_OFFSET,
};
use crate::protocol::alloc::AllocError;

/// The states of the sending part (RFC 9000 Figure 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendState {
    /// Open; nothing sent yet.
    Ready,
    /// Sending data.
    Send,
    /// All data and the FIN were sent; retransmissions only.
    DataSent,
    /// All data acknowledged (terminal).
    DataRecvd,
    /// RESET_STREAM sent, not acknowledged.
    ResetSent,
    /// RESET_STREAM acknowledged (terminal).
    ResetRecvd,
}

impl SendState {
    /// Whether no further frame will be sent for this part.
    pub const fn is_terminal(self) -> bool {
        matches!(self, SendState::DataRecvd | SendState::ResetRecvd)
    }

    /// Whether the part is open for sending data (not finished or reset).
    const fn is_live(self) -> bool {
        matches!(
            self,
            SendState::Ready | SendState::Send | SendState::DataSent
        )
    }
}

impl From<SendState> for StreamState {
    fn from(s: SendState) -> Self {
        match s {
            SendState::Ready => StreamState::SendReady,
            SendState::Send => StreamState::SendSend,
            SendState::DataSent => StreamState::SendSent,
            SendState::DataRecvd => StreamState::SendRecvd,
            SendState::ResetSent => StreamState::SendResetSent,
            SendState::ResetRecvd => StreamState::SendResetRecvd,
        }
    }
}

/// Where the FIN bit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fin {
    /// The application may still write.
    Open,
    /// The application finished; the FIN was never sent.
    Queued,
    /// Sent and not acknowledged.
    InFlight,
    /// Declared lost; to be sent again.
    Lost,
    /// Acknowledged.
    Acked,
}

/// The sending part of a stream.
#[derive(Debug)]
pub struct SendStream {
    state: SendState,
    buf: SendBuffer,
    /// The peer's MAX_STREAM_DATA for this stream.
    credit: SendCredit,
    fin: Fin,
    /// The application error code of our RESET_STREAM.
    reset_code: u64,
    /// A RESET_STREAM waits to be sent.
    reset_pending: bool,
    /// The code of the peer's STOP_SENDING, if one was received.
    stop_code: Option<u64>,
}

impl SendStream {
    /// A new sending part in the Ready state, with `max_stream_data` of
    /// credit from the peer's transport parameters.
    pub const fn new(max_stream_data: u64) -> Self {
        Self {
            state: SendState::Ready,
            buf: SendBuffer::new(),
            credit: SendCredit::new(max_stream_data),
            fin: Fin::Open,
            reset_code: 0,
            reset_pending: false,
            stop_code: None,
        }
    }

    /// The current state.
    pub const fn state(&self) -> SendState {
        self.state
    }

    /// The stream-level credit.
    pub const fn credit(&self) -> &SendCredit {
        &self.credit
    }

    /// The application error code of the reset, once reset.
    pub const fn reset_code(&self) -> Option<u64> {
        match self.state {
            SendState::ResetSent | SendState::ResetRecvd => Some(self.reset_code),
            _ => None,
        }
    }

    /// The final size, once known to the peer (FIN or reset decided).
    pub fn final_size(&self) -> Option<u64> {
        match (self.state, self.fin) {
            (SendState::ResetSent | SendState::ResetRecvd, _) => Some(self.buf.sent()),
            (_, Fin::Open) => None,
            _ => Some(self.buf.end()),
        }
    }

    /// Bytes written and not yet acknowledged, for `SIOCOUTQ`-like queries.
    pub fn buffered(&self) -> u64 {
        self.buf.end().saturating_sub(self.buf.acked_prefix())
    }

    /// New bytes that may be sent now given `conn`, the connection credit.
    pub fn sendable(&self, conn: &SendCredit) -> u64 {
        if !matches!(self.state, SendState::Ready | SendState::Send) {
            return 0;
        }
        self.buf
            .unsent()
            .min(self.credit.available())
            .min(conn.available())
    }

    /// Buffers as much of `data` as `budget` allows and returns how much.
    pub fn write(&mut self, data: &[u8], budget: &mut SendBudget) -> Result<usize, StreamError> {
        self.check_writable()?;
        // Offsets must stay varints; unreachable with any real budget.
        let room = clamp_usize(MAX_OFFSET - self.buf.end());
        let data = data.get(..data.len().min(room)).unwrap_or(&[]);
        if data.is_empty() {
            return Ok(0);
        }
        let n = self.buf.write(data, budget)?;
        if n == 0 {
            return Err(StreamError::Blocked);
        }
        // Data waits and the stream credit is gone: tell the peer.
        self.credit.on_blocked();
        Ok(n)
    }

    fn check_writable(&self) -> Result<(), StreamError> {
        if let Some(code) = self.stop_code {
            return Err(StreamError::Stopped(code));
        }
        if matches!(self.state, SendState::Ready | SendState::Send) && self.fin == Fin::Open {
            return Ok(());
        }
        Err(StreamError::InvalidState)
    }

    /// Ends the stream cleanly: a FIN follows the data written so far.
    pub fn finish(&mut self) -> Result<(), StreamError> {
        self.check_writable()?;
        self.fin = Fin::Queued;
        Ok(())
    }

    /// Abandons the stream with application error `code` (the application
    /// asked, or the peer sent STOP_SENDING). Frees the buffer and queues a
    /// RESET_STREAM. Returns whether the state changed.
    pub fn reset(&mut self, code: u64, budget: &mut SendBudget) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-3.1
        //# From any state that is one of "Ready", "Send", or "Data Sent", an
        //# application can signal that it wishes to abandon transmission of
        //# stream data.
        if !self.state.is_live() {
            return false;
        }
        self.buf.clear(budget);
        self.credit.cancel_blocked();
        self.state = SendState::ResetSent;
        self.reset_code = code;
        self.reset_pending = true;
        true
    }

    /// The peer sent STOP_SENDING with `code`: reset with the same code.
    /// Returns whether the state changed (to Reset Sent).
    pub fn on_stop_sending(&mut self, code: u64, budget: &mut SendBudget) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-3.5
        //# An endpoint that receives a STOP_SENDING frame MUST send a
        //# RESET_STREAM frame if the stream is in the "Ready" or "Send" state.
        if !self.state.is_live() {
            return false;
        }
        self.stop_code = Some(code);
        self.reset(code, budget)
    }

    /// The peer raised the stream's credit to `limit` (MAX_STREAM_DATA or
    /// transport parameters). Returns whether more data may now be sent.
    pub fn on_max_stream_data(&mut self, limit: u64) -> bool {
        self.credit.raise(limit) && matches!(self.state, SendState::Ready | SendState::Send)
    }

    /// Whether a STREAM frame could be sent now, ignoring connection credit
    /// and packet room.
    pub fn wants_to_send(&self) -> bool {
        if !self.state.is_live() {
            return false;
        }
        let unsent = self.buf.unsent();
        self.buf.has_lost()
            || (unsent > 0 && self.credit.available() > 0)
            || (unsent == 0 && matches!(self.fin, Fin::Queued | Fin::Lost))
    }

    /// Whether a STREAM frame could be sent now given `conn`, the
    /// connection credit (new data needs it; retransmissions and a bare
    /// FIN do not).
    pub fn can_send(&self, conn: &SendCredit) -> bool {
        self.wants_to_send()
            && (self.buf.has_lost() || self.buf.unsent() == 0 || conn.available() > 0)
    }

    /// Whether a RESET_STREAM or STREAM_DATA_BLOCKED waits to be sent.
    pub const fn has_control(&self) -> bool {
        (self.reset_pending && matches!(self.state, SendState::ResetSent))
            || (self.credit.has_blocked()
                && matches!(self.state, SendState::Ready | SendState::Send))
    }

    /// The next STREAM frame for stream `id` that fits in `room` bytes, with
    /// `conn` the connection credit. Lost data goes first, then new data,
    /// then a FIN alone.
    pub fn poll_chunk(
        &mut self,
        id: StreamId,
        room: usize,
        conn: &mut SendCredit,
    ) -> Option<StreamChunk> {
        if !self.state.is_live() {
            return None;
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-3.1
        //# In the "Send" state, an endpoint transmits -- and retransmits as
        //# necessary -- stream data in STREAM frames.
        if let Some(lost) = self.buf.next_lost() {
            let cap = stream_frame_capacity(room, id, lost.start).filter(|&c| c > 0)?;
            let end = lost.end.min(lost.start.saturating_add(len_u64(cap)));
            self.buf.retransmit_to(end);
            return Some(self.chunk(id, lost.start, end));
        }
        let unsent = self.buf.unsent();
        if unsent > 0 {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-4.1
            //# Senders MUST NOT send data in excess of either limit.
            let credit = unsent.min(self.credit.available()).min(conn.available());
            if credit == 0 {
                self.credit.on_blocked();
                conn.on_blocked();
                return None;
            }
            let cap = stream_frame_capacity(room, id, self.buf.sent()).filter(|&c| c > 0)?;
            let range = self.buf.send_new(credit.min(len_u64(cap)));
            self.credit.consume(range.end - range.start);
            conn.consume(range.end - range.start);
            if self.buf.unsent() > 0 {
                // Report blocking in the same packet, not a round later.
                self.credit.on_blocked();
                conn.on_blocked();
            }
            return Some(self.chunk(id, range.start, range.end));
        }
        if matches!(self.fin, Fin::Queued | Fin::Lost) {
            let end = self.buf.end();
            stream_frame_capacity(room, id, end)?;
            return Some(self.chunk(id, end, end));
        }
        None
    }

    /// Builds the chunk for `start..end`, with the FIN if it reaches the
    /// final size, and moves the state forward.
    fn chunk(&mut self, id: StreamId, start: u64, end: u64) -> StreamChunk {
        let fin = self.fin != Fin::Open && end == self.buf.end();
        if fin {
            if self.fin != Fin::Acked {
                self.fin = Fin::InFlight;
            }
            self.state = SendState::DataSent;
        } else if self.state == SendState::Ready {
            self.state = SendState::Send;
        }
        StreamChunk {
            id,
            offset: start,
            len: clamp_usize(end - start),
            fin,
        }
    }

    /// The next RESET_STREAM or STREAM_DATA_BLOCKED for stream `id`, if one
    /// is due and fits in `room` bytes.
    pub fn poll_control(&mut self, id: StreamId, room: usize) -> Option<ControlFrame> {
        if self.reset_pending && self.state == SendState::ResetSent {
            let frame = ControlFrame::ResetStream {
                id,
                code: self.reset_code,
                final_size: self.buf.sent(),
            };
            if frame.encoded_len() > room {
                return None;
            }
            self.reset_pending = false;
            return Some(frame);
        }
        if !matches!(self.state, SendState::Ready | SendState::Send) || !self.credit.has_blocked() {
            return None;
        }
        let frame = ControlFrame::StreamDataBlocked {
            id,
            limit: self.credit.limit(),
        };
        if frame.encoded_len() > room {
            return None;
        }
        self.credit.poll_blocked()?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-3.1
        //# Sending the first STREAM or STREAM_DATA_BLOCKED frame causes a
        //# sending part of a stream to enter the "Send" state.
        self.state = SendState::Send;
        Some(frame)
    }

    /// Copies the bytes of a chunk at `offset` into `out`; returns how many.
    pub fn copy_out(&self, offset: u64, out: &mut [u8]) -> usize {
        self.buf.copy_out(offset, out)
    }

    /// A STREAM frame `offset..offset + len` (with `fin`) was acknowledged.
    /// Returns whether the part just reached Data Recvd.
    pub fn on_chunk_acked(
        &mut self,
        offset: u64,
        len: usize,
        fin: bool,
        budget: &mut SendBudget,
    ) -> Result<bool, AllocError> {
        if !self.state.is_live() {
            return Ok(false);
        }
        let end = offset.saturating_add(len_u64(len));
        self.buf.on_acked(offset..end, budget)?;
        if fin {
            self.fin = Fin::Acked;
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-3.1
        //# Once all stream data has been successfully acknowledged, the
        //# sending part of the stream enters the "Data Recvd" state
        if self.state == SendState::DataSent && self.fin == Fin::Acked && self.buf.is_fully_acked()
        {
            self.state = SendState::DataRecvd;
            return Ok(true);
        }
        Ok(false)
    }

    /// A STREAM frame `offset..offset + len` (with `fin`) was lost. Returns
    /// whether something must be sent again.
    pub fn on_chunk_lost(
        &mut self,
        offset: u64,
        len: usize,
        fin: bool,
    ) -> Result<bool, AllocError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.4
        //# After sending a RESET_STREAM, an endpoint ceases transmission and
        //# retransmission of STREAM frames on the identified stream.
        if !matches!(self.state, SendState::Send | SendState::DataSent) {
            return Ok(false);
        }
        let end = offset.saturating_add(len_u64(len));
        let mut again = self.buf.on_lost(offset..end)?;
        if fin && self.fin == Fin::InFlight {
            self.fin = Fin::Lost;
            again = true;
        }
        Ok(again)
    }

    /// Our RESET_STREAM was acknowledged. Returns whether the part just
    /// reached Reset Recvd.
    pub fn on_reset_acked(&mut self) -> bool {
        if self.state != SendState::ResetSent {
            return false;
        }
        self.state = SendState::ResetRecvd;
        self.reset_pending = false;
        true
    }

    /// Our RESET_STREAM was lost: send it again.
    pub fn on_reset_lost(&mut self) {
        if self.state == SendState::ResetSent {
            self.reset_pending = true;
        }
    }

    /// Our STREAM_DATA_BLOCKED at `limit` was lost.
    pub fn on_blocked_lost(&mut self, limit: u64) {
        if matches!(self.state, SendState::Ready | SendState::Send) {
            self.credit.on_blocked_lost(limit);
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_send))]
mod tests {
    use super::*;

    const ID: StreamId = StreamId(4);

    struct Env {
        budget: SendBudget,
        conn: SendCredit,
    }

    fn env() -> Env {
        Env {
            budget: SendBudget::new(1 << 20),
            conn: SendCredit::new(1 << 20),
        }
    }

    fn poll(s: &mut SendStream, e: &mut Env, room: usize) -> Option<StreamChunk> {
        s.poll_chunk(ID, room, &mut e.conn)
    }

    fn chunk(offset: u64, len: usize, fin: bool) -> Option<StreamChunk> {
        Some(StreamChunk {
            id: ID,
            offset,
            len,
            fin,
        })
    }

    #[test]
    fn ready_send_sent_recvd() -> Result<(), StreamError> {
        let mut e = env();
        let mut s = SendStream::new(1000);
        assert_eq!(s.state(), SendState::Ready);
        assert_eq!(s.write(b"hello world", &mut e.budget), Ok(11));
        // Writing alone sends nothing.
        assert_eq!(s.state(), SendState::Ready);
        assert_eq!(poll(&mut s, &mut e, 10), chunk(0, 7, false));
        assert_eq!(s.state(), SendState::Send);
        s.finish()?;
        assert_eq!(s.final_size(), Some(11));
        assert_eq!(poll(&mut s, &mut e, 100), chunk(7, 4, true));
        assert_eq!(s.state(), SendState::DataSent);
        assert_eq!(poll(&mut s, &mut e, 100), None);
        assert_eq!(s.write(b"x", &mut e.budget), Err(StreamError::InvalidState));
        assert!(!s.on_chunk_acked(7, 4, true, &mut e.budget)?);
        assert!(s.on_chunk_acked(0, 7, false, &mut e.budget)?);
        assert_eq!(s.state(), SendState::DataRecvd);
        assert!(s.state().is_terminal());
        assert_eq!(e.budget.used(), 0);
        Ok(())
    }

    #[test]
    fn fin_alone_and_empty_stream() -> Result<(), StreamError> {
        let mut e = env();
        let mut s = SendStream::new(0);
        s.finish()?;
        assert_eq!(s.finish(), Err(StreamError::InvalidState));
        // A FIN needs no credit.
        assert_eq!(poll(&mut s, &mut e, 3), chunk(0, 0, true));
        assert_eq!(s.state(), SendState::DataSent);
        // Lost FIN is sent again, alone.
        assert!(s.on_chunk_lost(0, 0, true)?);
        assert!(s.wants_to_send());
        assert_eq!(poll(&mut s, &mut e, 3), chunk(0, 0, true));
        assert!(s.on_chunk_acked(0, 0, true, &mut e.budget)?);
        Ok(())
    }

    #[test]
    fn lost_data_goes_first_and_carries_fin() -> Result<(), StreamError> {
        let mut e = env();
        let mut s = SendStream::new(1000);
        s.write(&[7u8; 30], &mut e.budget)?;
        assert_eq!(poll(&mut s, &mut e, 13), chunk(0, 10, false));
        assert_eq!(poll(&mut s, &mut e, 14), chunk(10, 10, false));
        assert!(s.on_chunk_lost(0, 10, false)?);
        assert_eq!(poll(&mut s, &mut e, 13), chunk(0, 10, false));
        s.finish()?;
        assert_eq!(poll(&mut s, &mut e, 100), chunk(20, 10, true));
        // Data and FIN lost together come back together.
        assert!(s.on_chunk_lost(20, 10, true)?);
        assert_eq!(poll(&mut s, &mut e, 100), chunk(20, 10, true));
        // Losing something already acknowledged needs nothing.
        s.on_chunk_acked(0, 10, false, &mut e.budget)?;
        assert!(!s.on_chunk_lost(0, 10, false)?);
        Ok(())
    }

    #[test]
    fn stream_credit_blocks_and_reports_once() -> Result<(), StreamError> {
        let mut e = env();
        let mut s = SendStream::new(5);
        s.write(&[1u8; 20], &mut e.budget)?;
        assert_eq!(s.sendable(&e.conn), 5);
        assert_eq!(poll(&mut s, &mut e, 100), chunk(0, 5, false));
        assert_eq!(poll(&mut s, &mut e, 100), None);
        assert!(!s.wants_to_send());
        assert!(s.has_control());
        let blocked = ControlFrame::StreamDataBlocked { id: ID, limit: 5 };
        // No room.
        assert_eq!(s.poll_control(ID, 2), None);
        assert_eq!(s.poll_control(ID, 100), Some(blocked));
        assert_eq!(poll(&mut s, &mut e, 100), None);
        // Once per limit.
        assert_eq!(s.poll_control(ID, 100), None);
        s.on_blocked_lost(5);
        assert_eq!(s.poll_control(ID, 100), Some(blocked));
        assert!(!s.on_max_stream_data(5));
        assert!(s.on_max_stream_data(12));
        assert!(s.wants_to_send());
        assert_eq!(poll(&mut s, &mut e, 100), chunk(5, 7, false));
        Ok(())
    }

    #[test]
    fn blocked_frame_opens_the_stream() {
        let mut e = env();
        let mut s = SendStream::new(0);
        assert_eq!(s.write(b"abc", &mut e.budget), Ok(3));
        assert_eq!(poll(&mut s, &mut e, 100), None);
        assert_eq!(s.state(), SendState::Ready);
        assert!(s.poll_control(ID, 100).is_some());
        assert_eq!(s.state(), SendState::Send);
    }

    #[test]
    fn connection_credit_limits_new_data_only() -> Result<(), StreamError> {
        let mut e = env();
        e.conn = SendCredit::new(8);
        let mut s = SendStream::new(100);
        s.write(&[3u8; 20], &mut e.budget)?;
        assert_eq!(poll(&mut s, &mut e, 100), chunk(0, 8, false));
        assert_eq!(poll(&mut s, &mut e, 100), None);
        assert_eq!(e.conn.poll_blocked(), Some(8));
        // The stream itself is not blocked.
        assert!(!s.has_control());
        // Retransmissions need no credit.
        s.on_chunk_lost(0, 8, false)?;
        assert_eq!(poll(&mut s, &mut e, 100), chunk(0, 8, false));
        Ok(())
    }

    #[test]
    fn reset_from_every_live_state() -> Result<(), StreamError> {
        for sent in 0..3 {
            let mut e = env();
            let mut s = SendStream::new(100);
            s.write(&[0u8; 10], &mut e.budget)?;
            if sent >= 1 {
                poll(&mut s, &mut e, 8);
            }
            if sent >= 2 {
                s.finish()?;
                poll(&mut s, &mut e, 100);
                assert_eq!(s.state(), SendState::DataSent);
            }
            assert!(s.reset(9, &mut e.budget));
            assert_eq!(e.budget.used(), 0);
            assert_eq!(s.state(), SendState::ResetSent);
            let final_size = [0, 5, 10][sent];
            assert_eq!(s.final_size(), Some(final_size));
            let reset = ControlFrame::ResetStream {
                id: ID,
                code: 9,
                final_size,
            };
            assert_eq!(s.poll_control(ID, 100), Some(reset));
            assert_eq!(s.poll_control(ID, 100), None);
            // No more data, not even lost data.
            assert!(!s.on_chunk_lost(0, 5, false)?);
            assert_eq!(poll(&mut s, &mut e, 100), None);
            s.on_reset_lost();
            assert_eq!(s.poll_control(ID, 100), Some(reset));
            assert!(!s.reset(1, &mut e.budget));
            assert!(s.on_reset_acked());
            assert_eq!(s.state(), SendState::ResetRecvd);
            assert_eq!(s.reset_code(), Some(9));
            assert!(!s.on_reset_acked());
            s.on_reset_lost();
            assert!(!s.has_control());
        }
        Ok(())
    }

    #[test]
    fn stop_sending_resets_with_its_code() -> Result<(), StreamError> {
        let mut e = env();
        let mut s = SendStream::new(100);
        s.write(b"data", &mut e.budget)?;
        assert!(s.on_stop_sending(77, &mut e.budget));
        assert_eq!(s.state(), SendState::ResetSent);
        assert_eq!(
            s.write(b"more", &mut e.budget),
            Err(StreamError::Stopped(77))
        );
        assert!(matches!(
            s.poll_control(ID, 100),
            Some(ControlFrame::ResetStream { code: 77, .. })
        ));
        // A second STOP_SENDING, or one after Data Recvd, changes nothing.
        assert!(!s.on_stop_sending(78, &mut e.budget));
        let mut done = SendStream::new(100);
        done.finish()?;
        poll(&mut done, &mut e, 100);
        done.on_chunk_acked(0, 0, true, &mut e.budget)?;
        assert_eq!(done.state(), SendState::DataRecvd);
        assert!(!done.on_stop_sending(1, &mut e.budget));
        assert_eq!(done.state(), SendState::DataRecvd);
        Ok(())
    }

    #[test]
    fn budget_exhaustion_blocks_writes() {
        let mut e = env();
        e.budget = SendBudget::new(4);
        let mut s = SendStream::new(100);
        assert_eq!(s.write(b"abcdef", &mut e.budget), Ok(4));
        assert_eq!(s.write(b"gh", &mut e.budget), Err(StreamError::Blocked));
        assert_eq!(s.write(b"", &mut e.budget), Ok(0));
        assert_eq!(s.buffered(), 4);
    }

    #[test]
    fn uapi_states() {
        assert_eq!(StreamState::from(SendState::Ready).uapi(), 0);
        assert_eq!(StreamState::from(SendState::DataSent).uapi(), 2);
        assert_eq!(StreamState::from(SendState::ResetRecvd).uapi(), 5);
    }
}
