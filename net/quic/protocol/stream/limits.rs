// SPDX-License-Identifier: GPL-2.0

//! Stream count limits (RFC 9000 §4.6), per direction.
//!
//! [`OutgoingStreams`] counts the streams we open against the peer's
//! MAX_STREAMS and reports, once per limit, when we are blocked
//! (STREAMS_BLOCKED). [`IncomingStreams`] counts the streams the peer opens
//! against the limit we advertise, and returns credit as streams close: the
//! limit follows `closed + window`, so the peer keeps about `window`
//! streams open at once, and a MAX_STREAMS frame goes out whenever half a
//! window of credit has been returned.

use core::ops::Range;

use super::{StreamError, MAX_STREAM_COUNT};
use crate::protocol::error::{TransportError, TransportErrorCode};

/// The streams of one direction that we open.
///
/// # Invariants
///
/// `max <= MAX_STREAM_COUNT`; `opened <= max`.
#[derive(Debug, Clone, Default)]
pub struct OutgoingStreams {
    /// The peer's limit: streams with an index below it may be opened.
    max: u64,
    /// Streams opened so far, which is the next index.
    opened: u64,
    /// The limit at which we last reported being blocked.
    blocked_at: Option<u64>,
    /// A STREAMS_BLOCKED for `max` waits to be sent.
    blocked_pending: bool,
}

impl OutgoingStreams {
    /// No stream may be opened until the peer's limit is known.
    pub const fn new() -> Self {
        Self {
            max: 0,
            opened: 0,
            blocked_at: None,
            blocked_pending: false,
        }
    }

    /// The peer's limit.
    pub const fn max(&self) -> u64 {
        self.max
    }

    /// The number of streams opened, which is the index of the next one.
    pub const fn opened(&self) -> u64 {
        self.opened
    }

    /// Opens the streams up to and including `index` and returns the
    /// indices newly opened. Streams of a type open in order: opening
    /// `index` opens every lower one not yet opened.
    pub fn open_to(&mut self, index: u64) -> Result<Range<u64>, StreamError> {
        if index < self.opened {
            return Err(StreamError::InvalidState);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-4.6
        //# An endpoint that is unable to open a new stream due to the peer's
        //# limits SHOULD send a STREAMS_BLOCKED frame
        if index >= self.max {
            if self.blocked_at != Some(self.max) {
                self.blocked_at = Some(self.max);
                self.blocked_pending = true;
            }
            return Err(StreamError::StreamLimit);
        }
        let first = self.opened;
        // INVARIANT: index < max, so opened <= max.
        self.opened = index + 1;
        Ok(first..self.opened)
    }

    /// Takes the limit from a MAX_STREAMS frame. Returns whether it was
    /// raised.
    pub fn on_max_streams(&mut self, count: u64) -> Result<bool, TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.11
        //# Receipt of a frame that permits opening of a stream larger than
        //# this limit MUST be treated as a connection error of type
        //# FRAME_ENCODING_ERROR.
        if count > MAX_STREAM_COUNT {
            return Err(TransportError::frame_encoding("MAX_STREAMS above 2^60"));
        }
        Ok(self.raise(count))
    }

    /// Takes the limit from the peer's `initial_max_streams_*` transport
    /// parameter (or the remembered one, for 0-RTT).
    pub fn set_initial(&mut self, count: u64) -> Result<bool, TransportError> {
        if count > MAX_STREAM_COUNT {
            return Err(TransportError::new(
                TransportErrorCode::TRANSPORT_PARAMETER_ERROR,
                "initial_max_streams above 2^60",
            ));
        }
        Ok(self.raise(count))
    }

    fn raise(&mut self, count: u64) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-4.6
        //# MAX_STREAMS frames that do not increase the stream limit MUST be
        //# ignored.
        if count <= self.max {
            return false;
        }
        // INVARIANT: count <= MAX_STREAM_COUNT, checked by both callers.
        self.max = count;
        self.blocked_pending = false;
        true
    }

    /// Whether a STREAMS_BLOCKED frame waits to be sent.
    pub const fn has_blocked(&self) -> bool {
        self.blocked_pending
    }

    /// Takes the limit to report in STREAMS_BLOCKED, if one is due.
    pub fn poll_blocked(&mut self) -> Option<u64> {
        if !core::mem::take(&mut self.blocked_pending) {
            return None;
        }
        Some(self.max)
    }

    /// A STREAMS_BLOCKED reporting `count` was lost.
    pub fn on_blocked_lost(&mut self, count: u64) {
        if count == self.max && self.blocked_at == Some(count) && self.opened == self.max {
            self.blocked_pending = true;
        }
    }
}

/// The streams of one direction that the peer opens.
///
/// # Invariants
///
/// `closed <= opened <= max <= MAX_STREAM_COUNT`.
#[derive(Debug, Clone)]
pub struct IncomingStreams {
    /// How many streams the peer may have open at once: the initial limit.
    window: u64,
    /// The largest limit advertised (or about to be, if `update_pending`).
    max: u64,
    /// Streams opened by the peer so far.
    opened: u64,
    /// Streams closed (both parts terminal and state released).
    closed: u64,
    /// A MAX_STREAMS for `max` waits to be sent.
    update_pending: bool,
}

impl IncomingStreams {
    /// Lets the peer keep `window` streams open at once; `window` is also
    /// the initial limit we advertise in the transport parameters.
    pub fn new(window: u64) -> Self {
        let window = window.min(MAX_STREAM_COUNT);
        // INVARIANT: window <= MAX_STREAM_COUNT; nothing opened.
        Self {
            window,
            max: window,
            opened: 0,
            closed: 0,
            update_pending: false,
        }
    }

    /// The limit advertised to the peer.
    pub const fn max(&self) -> u64 {
        self.max
    }

    /// The number of streams the peer opened.
    pub const fn opened(&self) -> u64 {
        self.opened
    }

    /// The number of peer streams closed.
    pub const fn closed(&self) -> u64 {
        self.closed
    }

    /// How many streams the peer's use of stream index `index` opens: zero
    /// if it is open already, or an error if it is beyond our limit.
    pub fn to_open(&self, index: u64) -> Result<u64, TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-4.6
        //# An endpoint that receives a frame with a stream ID exceeding the
        //# limit it has sent MUST treat this as a connection error of type
        //# STREAM_LIMIT_ERROR
        if index >= self.max {
            return Err(TransportError::new(
                TransportErrorCode::STREAM_LIMIT_ERROR,
                "stream ID beyond the advertised limit",
            ));
        }
        Ok((index + 1).saturating_sub(self.opened))
    }

    /// The peer used the stream of index `index`: opens it and every lower
    /// one not yet opened, and returns the indices newly opened (empty if
    /// `index` was already opened).
    pub fn open_to(&mut self, index: u64) -> Result<Range<u64>, TransportError> {
        self.to_open(index)?;
        let first = self.opened;
        // INVARIANT: index < max.
        self.opened = self.opened.max(index + 1);
        Ok(first..self.opened)
    }

    /// A peer stream was closed: return its credit.
    pub fn on_closed(&mut self) {
        if self.closed >= self.opened {
            return;
        }
        // INVARIANT: closed < opened before the increment.
        self.closed += 1;
        let target = self.target();
        // Batch updates: send once half a window of credit is back.
        if target > self.max && (target - self.max).saturating_mul(2) >= self.window.max(1) {
            self.advance();
        }
    }

    /// The peer reports STREAMS_BLOCKED at `count`: advertise any credit
    /// held back.
    pub fn on_peer_blocked(&mut self, count: u64) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.14
        //# Receipt of a frame that encodes a larger stream ID MUST be treated
        //# as a connection error of type STREAM_LIMIT_ERROR or
        //# FRAME_ENCODING_ERROR.
        if count > MAX_STREAM_COUNT {
            return Err(TransportError::frame_encoding("STREAMS_BLOCKED above 2^60"));
        }
        if count >= self.max {
            self.advance();
        }
        Ok(())
    }

    fn target(&self) -> u64 {
        self.closed
            .saturating_add(self.window)
            .min(MAX_STREAM_COUNT)
    }

    fn advance(&mut self) {
        let target = self.target();
        if target > self.max {
            // INVARIANT: target <= MAX_STREAM_COUNT.
            self.max = target;
            self.update_pending = true;
        }
    }

    /// Whether a MAX_STREAMS frame waits to be sent.
    pub const fn has_update(&self) -> bool {
        self.update_pending
    }

    /// Takes the limit to advertise in MAX_STREAMS, if one is due.
    pub fn poll_update(&mut self) -> Option<u64> {
        if !core::mem::take(&mut self.update_pending) {
            return None;
        }
        Some(self.max)
    }

    /// A MAX_STREAMS advertising `count` was lost.
    pub fn on_update_lost(&mut self, count: u64) {
        if count == self.max {
            self.update_pending = true;
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_limits))]
mod tests {
    use super::*;

    #[test]
    fn outgoing_open_in_order() -> Result<(), TransportError> {
        let mut out = OutgoingStreams::new();
        assert_eq!(out.open_to(0), Err(StreamError::StreamLimit));
        assert_eq!(out.poll_blocked(), Some(0));
        assert!(out.set_initial(3)?);
        assert_eq!(out.open_to(0), Ok(0..1));
        // Opening index 2 opens index 1 too.
        assert_eq!(out.open_to(2), Ok(1..3));
        assert_eq!(out.open_to(1), Err(StreamError::InvalidState));
        assert_eq!(out.opened(), 3);
        Ok(())
    }

    #[test]
    fn outgoing_blocked_once_per_limit() -> Result<(), TransportError> {
        let mut out = OutgoingStreams::new();
        out.set_initial(1)?;
        assert!(out.open_to(0).is_ok());
        assert_eq!(out.open_to(1), Err(StreamError::StreamLimit));
        assert_eq!(out.open_to(1), Err(StreamError::StreamLimit));
        assert!(out.has_blocked());
        assert_eq!(out.poll_blocked(), Some(1));
        assert_eq!(out.poll_blocked(), None);
        out.on_blocked_lost(1);
        assert_eq!(out.poll_blocked(), Some(1));
        // A smaller or equal limit is ignored; a larger one unblocks.
        assert!(!out.on_max_streams(1)?);
        assert!(out.on_max_streams(2)?);
        out.on_blocked_lost(1);
        assert_eq!(out.poll_blocked(), None);
        assert_eq!(out.open_to(1), Ok(1..2));
        Ok(())
    }

    #[test]
    fn outgoing_bound_2_60() {
        let mut out = OutgoingStreams::new();
        let frame = out.on_max_streams(MAX_STREAM_COUNT + 1).map_err(|e| e.code);
        assert_eq!(frame, Err(TransportErrorCode::FRAME_ENCODING_ERROR));
        let param = out.set_initial(MAX_STREAM_COUNT + 1).map_err(|e| e.code);
        assert_eq!(param, Err(TransportErrorCode::TRANSPORT_PARAMETER_ERROR));
        assert_eq!(out.on_max_streams(MAX_STREAM_COUNT), Ok(true));
        assert_eq!(out.open_to(MAX_STREAM_COUNT - 1), Ok(0..MAX_STREAM_COUNT));
        assert_eq!(out.open_to(MAX_STREAM_COUNT), Err(StreamError::StreamLimit));
    }

    #[test]
    fn incoming_limit_error() {
        let mut inc = IncomingStreams::new(2);
        assert_eq!(inc.to_open(1), Ok(2));
        assert_eq!(inc.open_to(1), Ok(0..2));
        assert_eq!(inc.to_open(0), Ok(0));
        assert_eq!(inc.open_to(0), Ok(2..2));
        let err = inc.open_to(2).map_err(|e| e.code);
        assert_eq!(err, Err(TransportErrorCode::STREAM_LIMIT_ERROR));
    }

    #[test]
    fn incoming_credit_returned_by_half_windows() {
        let mut inc = IncomingStreams::new(4);
        assert!(inc.open_to(3).is_ok());
        inc.on_closed();
        // A quarter window is held back.
        assert_eq!(inc.poll_update(), None);
        inc.on_closed();
        assert_eq!(inc.poll_update(), Some(6));
        assert_eq!(inc.max(), 6);
        inc.on_update_lost(6);
        assert!(inc.has_update());
        assert_eq!(inc.poll_update(), Some(6));
        assert!(inc.open_to(5).is_ok());
        for _ in 0..4 {
            inc.on_closed();
        }
        assert_eq!(inc.poll_update(), Some(10));
        // Stale losses are not resent.
        inc.on_update_lost(6);
        assert_eq!(inc.poll_update(), None);
        // More closes than opens are ignored.
        inc.on_closed();
        assert_eq!(inc.closed(), 6);
    }

    #[test]
    fn incoming_window_of_one() {
        let mut inc = IncomingStreams::new(1);
        assert!(inc.open_to(0).is_ok());
        inc.on_closed();
        assert_eq!(inc.poll_update(), Some(2));
    }

    #[test]
    fn incoming_peer_blocked() -> Result<(), TransportError> {
        let mut inc = IncomingStreams::new(4);
        assert!(inc.open_to(3).is_ok());
        inc.on_closed();
        assert_eq!(inc.poll_update(), None);
        inc.on_peer_blocked(4)?;
        assert_eq!(inc.poll_update(), Some(5));
        let err = inc
            .on_peer_blocked(MAX_STREAM_COUNT + 1)
            .map_err(|e| e.code);
        assert_eq!(err, Err(TransportErrorCode::FRAME_ENCODING_ERROR));
        assert_eq!(IncomingStreams::new(u64::MAX).max(), MAX_STREAM_COUNT);
        Ok(())
    }
}
