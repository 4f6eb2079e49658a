// SPDX-License-Identifier: GPL-2.0

//! Data flow control (RFC 9000 §4.1–4.2), for one stream or the connection.
//!
//! [`SendCredit`] is the limit the peer set on what we send (MAX_DATA or
//! MAX_STREAM_DATA) and reports when we are blocked by it, once per limit
//! (DATA_BLOCKED or STREAM_DATA_BLOCKED). [`RecvWindow`] is the limit we set
//! on the peer: it checks received data against it, and advertises a new
//! limit once the application has consumed half the window. The window
//! grows, up to a maximum, when the application consumes it faster than two
//! round trips per half window — the rate the peer could not sustain without
//! running into the limit (the scheme of Chromium and quiche).

use core::time::Duration;

use super::MAX_OFFSET;
use crate::protocol::error::{TransportError, TransportErrorCode};
use crate::protocol::time::Instant;

/// Credit the peer gave us: bytes we may send on a stream or the connection.
#[derive(Debug, Clone)]
pub struct SendCredit {
    /// The largest limit received.
    limit: u64,
    /// Bytes counted against the limit.
    used: u64,
    /// The limit at which we last reported being blocked.
    blocked_at: Option<u64>,
    /// A blocked frame for `blocked_at` waits to be sent.
    blocked_pending: bool,
}

impl SendCredit {
    /// Credit up to `limit` (an initial transport parameter).
    pub const fn new(limit: u64) -> Self {
        Self {
            limit,
            used: 0,
            blocked_at: None,
            blocked_pending: false,
        }
    }

    /// The peer's limit.
    pub const fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes sent against the limit.
    pub const fn used(&self) -> u64 {
        self.used
    }

    /// Bytes that may still be sent.
    pub const fn available(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    /// Counts `n` sent bytes, at most what is [`available`](Self::available).
    pub fn consume(&mut self, n: u64) {
        self.used = self.used.saturating_add(n.min(self.available()));
    }

    /// Takes a new limit from MAX_DATA, MAX_STREAM_DATA or a transport
    /// parameter. Returns whether it raised the limit.
    pub fn raise(&mut self, limit: u64) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-4.1
        //# A sender MUST ignore any MAX_STREAM_DATA or MAX_DATA frames that do
        //# not increase flow control limits.
        if limit <= self.limit {
            return false;
        }
        self.limit = limit;
        self.blocked_pending = false;
        true
    }

    /// Notes that data waits but the credit is exhausted. Queues a blocked
    /// frame unless one was already queued for the current limit.
    pub fn on_blocked(&mut self) {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-4.1
        //# A sender SHOULD send a STREAM_DATA_BLOCKED or DATA_BLOCKED frame to
        //# indicate to the receiver that it has data to write but is blocked
        if self.available() == 0 && self.blocked_at != Some(self.limit) {
            self.blocked_at = Some(self.limit);
            self.blocked_pending = true;
        }
    }

    /// Whether a blocked frame waits to be sent.
    pub const fn has_blocked(&self) -> bool {
        self.blocked_pending
    }

    /// Takes the limit to report in a blocked frame, if one is due.
    pub fn poll_blocked(&mut self) -> Option<u64> {
        if !core::mem::take(&mut self.blocked_pending) {
            return None;
        }
        Some(self.limit)
    }

    /// A blocked frame reporting `limit` was lost: send it again if we are
    /// still blocked at that limit.
    pub fn on_blocked_lost(&mut self, limit: u64) {
        if limit == self.limit && self.blocked_at == Some(limit) && self.available() == 0 {
            self.blocked_pending = true;
        }
    }

    /// Drops any pending blocked frame (the stream was reset).
    pub fn cancel_blocked(&mut self) {
        self.blocked_pending = false;
    }
}

/// The window we give the peer: its flow-control limit on a stream or on the
/// connection, with auto-tuning.
///
/// For a stream, amounts are offsets: `received` is the largest offset
/// received and `consumed` what the application has read. For the
/// connection, they are sums over all streams.
///
/// # Invariants
///
/// `consumed <= received <= limit <= 2^62 - 1` and `window <= max_window`.
#[derive(Debug, Clone)]
pub struct RecvWindow {
    /// The largest limit advertised (or about to be, if `update_pending`).
    limit: u64,
    /// Credit used by the peer.
    received: u64,
    /// Credit released by the application.
    consumed: u64,
    /// Credit kept available to the peer beyond `consumed`.
    window: u64,
    /// The largest `window` auto-tuning may reach.
    max_window: u64,
    /// When the last limit increase was decided, for auto-tuning.
    last_update: Option<Instant>,
    /// A MAX_DATA or MAX_STREAM_DATA for `limit` waits to be sent.
    update_pending: bool,
}

impl RecvWindow {
    /// A window of `window` bytes, allowed to grow to `max_window`; the
    /// initial limit is `window` (the transport parameter we sent).
    pub fn new(window: u64, max_window: u64) -> Self {
        let window = window.min(MAX_OFFSET);
        // INVARIANT: nothing received or consumed; limit = window <= 2^62 - 1.
        Self {
            limit: window,
            received: 0,
            consumed: 0,
            window,
            max_window: max_window.clamp(window, MAX_OFFSET),
            last_update: None,
            update_pending: false,
        }
    }

    /// The largest limit advertised.
    pub const fn limit(&self) -> u64 {
        self.limit
    }

    /// Credit used by the peer.
    pub const fn received(&self) -> u64 {
        self.received
    }

    /// Credit released by the application.
    pub const fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The current window size.
    pub const fn window(&self) -> u64 {
        self.window
    }

    /// Checks that the peer may use credit up to `total`.
    pub fn check(&self, total: u64) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-4.1
        //# A receiver MUST close the connection with an error of type
        //# FLOW_CONTROL_ERROR if the sender violates the advertised connection
        //# or stream data limits
        if total > self.limit {
            return Err(TransportError::new(
                TransportErrorCode::FLOW_CONTROL_ERROR,
                "data beyond the flow control limit",
            ));
        }
        Ok(())
    }

    /// Records that the peer used credit up to `total`, already checked.
    pub fn record(&mut self, total: u64) {
        // INVARIANT: `check` passed, so `total <= limit`.
        self.received = self.received.max(total.min(self.limit));
    }

    /// The application read `n` bytes at `now`; `rtt` is the smoothed RTT.
    /// May grow the window and queue a limit update.
    pub fn on_read(&mut self, n: u64, now: Instant, rtt: Duration) {
        self.add_consumed(n);
        self.maybe_update(Some((now, rtt)));
    }

    /// `n` bytes were released without being read (a reset or discarded
    /// stream). May queue a limit update, but never grows the window.
    pub fn on_release(&mut self, n: u64) {
        self.add_consumed(n);
        self.maybe_update(None);
    }

    fn add_consumed(&mut self, n: u64) {
        // INVARIANT: callers only release received credit; clamp anyway.
        self.consumed = self.consumed.saturating_add(n).min(self.received);
    }

    /// Grows the window to at least `min` (bounded by the maximum), as the
    /// connection window must stay larger than any stream window.
    pub fn ensure_window(&mut self, min: u64) {
        if min > self.window {
            self.window = min.min(self.max_window);
        }
    }

    /// Queues an update if the application consumed half the window since
    /// the last one.
    fn maybe_update(&mut self, tune: Option<(Instant, Duration)>) {
        let available = self.limit.saturating_sub(self.consumed);
        if available.saturating_mul(2) > self.window {
            return;
        }
        if let Some((now, rtt)) = tune {
            self.autotune(now, rtt);
        }
        self.advance_limit();
    }

    /// Sets the limit to `consumed + window` if that raises it.
    fn advance_limit(&mut self) {
        let limit = self.consumed.saturating_add(self.window).min(MAX_OFFSET);
        if limit > self.limit {
            self.limit = limit;
            self.update_pending = true;
        }
    }

    /// Doubles the window if the previous half window was consumed in less
    /// than two round trips.
    fn autotune(&mut self, now: Instant, rtt: Duration) {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-4.2
        //# A receiver can use an autotuning mechanism to tune the frequency and
        //# amount of advertised additional credit based on a round-trip time
        //# estimate and the rate at which the receiving application consumes data
        if let Some(last) = self.last_update {
            if now.saturating_duration_since(last) < rtt.saturating_mul(2) {
                self.window = self.window.saturating_mul(2).min(self.max_window);
            }
        }
        self.last_update = Some(now);
    }

    /// The peer says it is blocked at `limit` (DATA_BLOCKED or
    /// STREAM_DATA_BLOCKED): advertise any credit we hold back.
    pub fn on_peer_blocked(&mut self, limit: u64) {
        if limit >= self.limit {
            self.advance_limit();
        }
    }

    /// Whether an update waits to be sent.
    pub const fn has_update(&self) -> bool {
        self.update_pending
    }

    /// Takes the limit to advertise, if an update is due.
    pub fn poll_update(&mut self) -> Option<u64> {
        if !core::mem::take(&mut self.update_pending) {
            return None;
        }
        Some(self.limit)
    }

    /// An update advertising `limit` was lost: send the current limit again
    /// unless a later update superseded it.
    pub fn on_update_lost(&mut self, limit: u64) {
        if limit == self.limit {
            self.update_pending = true;
        }
    }

    /// Drops a pending update: the peer no longer needs credit (it sent its
    /// final size).
    pub fn cancel_update(&mut self) {
        self.update_pending = false;
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_flow_control))]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn send_credit_ignores_smaller_limits() {
        let mut c = SendCredit::new(100);
        c.consume(60);
        assert_eq!(c.available(), 40);
        assert!(!c.raise(100));
        assert!(!c.raise(50));
        assert_eq!(c.limit(), 100);
        assert!(c.raise(150));
        assert_eq!(c.available(), 90);
        // Consuming more than available is clamped.
        c.consume(1000);
        assert_eq!(c.used(), 150);
    }

    #[test]
    fn blocked_once_per_limit() {
        let mut c = SendCredit::new(10);
        c.on_blocked();
        // Not blocked while credit remains.
        assert_eq!(c.poll_blocked(), None);
        c.consume(10);
        c.on_blocked();
        assert_eq!(c.poll_blocked(), Some(10));
        c.on_blocked();
        // Once per limit.
        assert_eq!(c.poll_blocked(), None);
        // Loss re-arms it while still blocked at that limit.
        c.on_blocked_lost(10);
        assert_eq!(c.poll_blocked(), Some(10));
        assert!(c.raise(20));
        c.on_blocked_lost(10);
        // Stale loss after a raise.
        assert_eq!(c.poll_blocked(), None);
        c.consume(10);
        c.on_blocked();
        assert!(c.has_blocked());
        assert_eq!(c.poll_blocked(), Some(20));
    }

    #[test]
    fn raise_cancels_pending_blocked() {
        let mut c = SendCredit::new(0);
        c.on_blocked();
        assert!(c.has_blocked());
        assert!(c.raise(5));
        assert_eq!(c.poll_blocked(), None);
    }

    #[test]
    fn recv_window_violation() {
        let mut w = RecvWindow::new(100, 100);
        assert_eq!(w.check(100), Ok(()));
        let err = w.check(101).map_err(|e| e.code);
        assert_eq!(err, Err(TransportErrorCode::FLOW_CONTROL_ERROR));
        w.record(80);
        w.record(50);
        assert_eq!(w.received(), 80);
    }

    #[test]
    fn update_after_half_window() {
        let mut w = RecvWindow::new(100, 100);
        w.record(100);
        let t = Instant::from_nanos(0);
        w.on_read(49, t, MS);
        assert_eq!(w.poll_update(), None);
        w.on_read(1, t, MS);
        assert_eq!(w.poll_update(), Some(150));
        assert_eq!(w.poll_update(), None);
        // A lost update is resent until superseded.
        w.on_update_lost(150);
        assert!(w.has_update());
        assert_eq!(w.poll_update(), Some(150));
        w.on_read(50, t, MS);
        assert_eq!(w.poll_update(), Some(200));
        w.on_update_lost(150);
        assert_eq!(w.poll_update(), None);
    }

    #[test]
    fn autotune_grows_on_fast_reads_only() {
        let rtt = Duration::from_millis(10);
        let mut w = RecvWindow::new(100, 400);
        let mut now = Instant::from_nanos(0);
        let read = |w: &mut RecvWindow, now: Instant| {
            w.record(w.limit());
            w.on_read(w.limit() - w.consumed(), now, rtt);
            w.poll_update()
        };
        // First update: no previous epoch, no growth.
        assert_eq!(read(&mut w, now), Some(200));
        assert_eq!(w.window(), 100);
        // A window consumed within 2 RTTs doubles the window.
        now = now + rtt;
        assert_eq!(read(&mut w, now), Some(400));
        assert_eq!(w.window(), 200);
        now = now + rtt;
        assert_eq!(read(&mut w, now), Some(800));
        assert_eq!(w.window(), 400);
        // Capped by the maximum.
        now = now + rtt;
        assert_eq!(read(&mut w, now), Some(1200));
        assert_eq!(w.window(), 400);
        // Slow reads keep the window.
        let mut slow = RecvWindow::new(100, 400);
        let mut now = Instant::from_nanos(0);
        for _ in 0..4 {
            now = now + rtt * 3;
            read(&mut slow, now);
        }
        assert_eq!(slow.window(), 100);
    }

    #[test]
    fn release_does_not_grow() {
        let mut w = RecvWindow::new(100, 1000);
        w.record(100);
        w.on_release(60);
        assert_eq!(w.poll_update(), Some(160));
        w.record(160);
        w.on_release(100);
        assert_eq!(w.poll_update(), Some(260));
        assert_eq!(w.window(), 100);
        // Releasing more than received is clamped.
        w.on_release(1000);
        assert_eq!(w.consumed(), 160);
    }

    #[test]
    fn peer_blocked_and_ensure_window() {
        let mut w = RecvWindow::new(100, 1000);
        w.record(100);
        w.on_release(10);
        // Less than half consumed.
        assert_eq!(w.poll_update(), None);
        w.on_peer_blocked(100);
        assert_eq!(w.poll_update(), Some(110));
        w.ensure_window(5000);
        assert_eq!(w.window(), 1000);
        w.cancel_update();
        assert!(!w.has_update());
    }

    #[test]
    fn limits_stay_varints() {
        let mut w = RecvWindow::new(u64::MAX, u64::MAX);
        assert_eq!(w.limit(), MAX_OFFSET);
        w.record(u64::MAX);
        assert_eq!(w.received(), MAX_OFFSET);
        w.on_release(u64::MAX);
        assert_eq!(w.poll_update(), None);
    }
}
