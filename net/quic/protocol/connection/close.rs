// SPDX-License-Identifier: GPL-2.0

//! Closing a connection (RFC 9000 §10).
//!
//! - [`Connection::close`]: the application closes. The connection enters
//!   the closing state, sends CONNECTION_CLOSE at every level the peer may
//!   be able to read, and sends it again — less and less often — when more
//!   packets arrive, for three PTOs (§10.2.1).
//! - An error (ours): the same with a transport error code.
//! - The peer's CONNECTION_CLOSE or a stateless reset: the draining state,
//!   in which nothing is sent, for three PTOs (§10.2.2).
//! - The idle timeout: closed at once, silently (§10.1).
//!
//! An application close cannot be sent in Initial or Handshake packets,
//! which may reach a peer not yet authenticated: it becomes a transport
//! close with APPLICATION_ERROR and no reason (§10.2.3).

use crate::protocol::cid::Generator;
use crate::protocol::connection::builder::PacketBuilder;
use crate::protocol::connection::event::Event;
use crate::protocol::connection::state::{CloseCause, ConnectionError, Reason};
use crate::protocol::connection::{Connection, State, Timer};
use crate::protocol::crypto::{Level, Provider};
use crate::protocol::error::{TransportError, TransportErrorCode};
use crate::protocol::frame::ConnectionClose;
use crate::protocol::packet::PacketKind;
use crate::protocol::time::Instant;
use crate::protocol::varint::VarInt;

/// The CONNECTION_CLOSE this endpoint sends while closing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Closing {
    error: ConnectionError,
    /// A CONNECTION_CLOSE is due.
    pending: bool,
    /// Packets received since the last CONNECTION_CLOSE was sent.
    received: u32,
    /// Packets to receive before sending it again; doubles each time.
    threshold: u32,
}

impl Closing {
    pub(crate) fn wants_to_send(&self) -> bool {
        self.pending
    }

    /// A packet arrived while closing.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-10.2.1
    //# An endpoint SHOULD limit the rate at which it generates packets in the
    //# closing state.
    pub(crate) fn on_packet_received(&mut self) {
        self.received = self.received.saturating_add(1);
        if self.received >= self.threshold {
            self.pending = true;
        }
    }

    pub(crate) fn on_sent(&mut self) {
        self.pending = false;
        self.received = 0;
        self.threshold = self.threshold.saturating_mul(2);
    }
}

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Closes the connection with `error_code`: an application error code
    /// (`application`, the usual case for `QUIC_SOCKOPT_CONNECTION_CLOSE`)
    /// or a transport one naming `frame_type`. `reason` is sent truncated
    /// to 64 bytes. Does nothing if the connection is already closing.
    pub fn close(
        &mut self,
        now: Instant,
        error_code: u64,
        frame_type: u64,
        reason: &[u8],
        application: bool,
    ) {
        let error = ConnectionError {
            cause: CloseCause::ConnectionClose,
            code: VarInt::saturating(error_code).into_inner(),
            frame_type: if application { 0 } else { frame_type },
            application,
            by_peer: false,
            reason: Reason::new(reason),
        };
        self.enter_closing(now, error);
        self.update_timers(now);
    }

    /// Closes the connection because of `err`, a transport error this
    /// endpoint detected.
    pub(crate) fn close_on_error(&mut self, now: Instant, err: TransportError) {
        let error = ConnectionError {
            cause: CloseCause::ConnectionClose,
            code: err.code.0,
            frame_type: err.frame_type.unwrap_or(0),
            application: false,
            by_peer: false,
            reason: Reason::new(err.reason.as_bytes()),
        };
        self.enter_closing(now, error);
    }

    /// Why the connection closed, once it did.
    pub fn close_error(&self) -> Option<&ConnectionError> {
        self.close_reason.as_ref()
    }

    fn enter_closing(&mut self, now: Instant, error: ConnectionError) {
        if self.state.is_closed() {
            return;
        }
        self.close_reason = Some(error);
        self.events.push(Event::Closed(error));
        // Nothing was ever sent: the peer knows of no connection.
        let sent_any = self.spaces.iter().any(|s| s.next_pn > 0);
        if !sent_any {
            self.state = State::Closed;
            self.timers.stop_all();
            return;
        }
        self.closing = Some(Closing {
            error,
            pending: true,
            received: 0,
            threshold: 1,
        });
        let until = now + self.pto().saturating_mul(3);
        self.state = State::Closing { until };
        self.timers.stop_all();
        self.timers.set(Timer::Close, until);
    }

    /// Enters the draining period: the peer closed or reset the
    /// connection; nothing more is sent (RFC 9000 §10.2.2).
    pub(crate) fn enter_draining(&mut self, now: Instant, error: ConnectionError) {
        if matches!(self.state, State::Draining { .. } | State::Closed) {
            return;
        }
        if self.close_reason.is_none() {
            self.close_reason = Some(error);
            self.events.push(Event::Closed(error));
        }
        self.closing = None;
        let until = now + self.pto().saturating_mul(3);
        self.state = State::Draining { until };
        self.timers.stop_all();
        self.timers.set(Timer::Close, until);
    }

    /// Ends the connection at once, without sending anything.
    pub(crate) fn close_silently(&mut self, error: ConnectionError) {
        if self.close_reason.is_none() {
            self.close_reason = Some(error);
            self.events.push(Event::Closed(error));
        }
        self.closing = None;
        self.state = State::Closed;
        self.timers.stop_all();
    }

    /// Writes the CONNECTION_CLOSE for a packet of `b`'s level.
    pub(crate) fn write_close(&mut self, buf: &mut [u8], b: &mut PacketBuilder) {
        let Some(closing) = self.closing else {
            return;
        };
        let e = closing.error;
        let handshake_level = matches!(b.kind, PacketKind::Initial | PacketKind::Handshake);
        let frame = if !e.application {
            ConnectionClose {
                error_code: VarInt::saturating(e.code),
                frame_type: Some(VarInt::saturating(e.frame_type)),
                reason: e.reason.as_bytes(),
            }
        } else if handshake_level {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-10.2.3
            //# When sending a CONNECTION_CLOSE frame of type 0x1d in an Initial or
            //# Handshake packet, the endpoint MUST replace it with a CONNECTION_CLOSE
            //# frame of type 0x1c.
            ConnectionClose {
                error_code: VarInt::saturating(TransportErrorCode::APPLICATION_ERROR.0),
                frame_type: Some(VarInt::ZERO),
                reason: &[],
            }
        } else {
            ConnectionClose::application(VarInt::saturating(e.code), e.reason.as_bytes())
        };
        let Some(frame) = frame.truncated_to(b.room()) else {
            return;
        };
        b.write(buf, frame.encoded_size(), |w| frame.encode(w));
    }

    /// The levels a CONNECTION_CLOSE goes out at: every one with send keys
    /// until the handshake is confirmed, then 1-RTT only (§10.2.3).
    pub(crate) fn close_levels_done(&mut self) {
        if let Some(c) = self.closing.as_mut() {
            c.on_sent();
        }
    }

    /// Whether the connection still sends at `level` while closing.
    pub(crate) fn closes_at(&self, level: Level) -> bool {
        match level {
            Level::OneRtt => self.keys.can_send(Level::OneRtt) && self.handshake.complete,
            Level::ZeroRtt => false,
            _ => !self.handshake.confirmed && self.keys.can_send(level),
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_close))]
mod tests {
    use super::*;
    use crate::protocol::connection::testing::{config, Pair, TestResult, CLIENT, SERVER};
    use core::time::Duration;

    #[test]
    fn resends_are_rate_limited() {
        let mut c = Closing {
            error: ConnectionError::idle_timeout(),
            pending: true,
            received: 0,
            threshold: 1,
        };
        c.on_sent();
        // Then once after 2 packets, 4 packets, ...
        c.on_packet_received();
        assert!(!c.wants_to_send());
        c.on_packet_received();
        assert!(c.wants_to_send());
        c.on_sent();
        for _ in 0..3 {
            c.on_packet_received();
        }
        assert!(!c.wants_to_send());
        c.on_packet_received();
        assert!(c.wants_to_send());
    }

    #[test]
    fn application_close_during_the_handshake_is_a_transport_close() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        // The server's first flight is on its way; the client gives up.
        p.run_until(Duration::from_secs(1), |p| {
            p.conns.get(SERVER).is_some_and(|s| s.spaces[0].next_pn > 0)
        })?;
        let now = p.now;
        p.conn(CLIENT)?
            .close(now, 0x1234, 0, b"secret reason", true);
        p.run_until(Duration::from_secs(5), |p| {
            p.conns.get(SERVER).is_some_and(|s| s.is_closed())
        })?;
        let err = p.conn(SERVER)?.close_error().copied().ok_or("no error")?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-10.2.3
        //# The CONNECTION_CLOSE frame of type 0x1c
        //# uses the error code APPLICATION_ERROR
        assert!(!err.application);
        assert_eq!(err.code, TransportErrorCode::APPLICATION_ERROR.0);
        assert_eq!(err.reason.as_bytes(), b"");
        Ok(())
    }

    #[test]
    fn close_before_sending_anything_ends_at_once() -> TestResult {
        let mut c = crate::protocol::connection::testing::client()?;
        c.close(Instant::ZERO, 0, 0, b"", true);
        assert!(c.is_drained());
        let mut buf = [0u8; 64];
        assert!(c.poll_transmit(Instant::ZERO, &mut buf).is_none());
        Ok(())
    }

    #[test]
    fn closing_lasts_three_ptos() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let now = p.now;
        let pto = p.conn(CLIENT)?.pto();
        p.conn(CLIENT)?.close(now, 0, 0, b"", false);
        assert_eq!(
            p.conn(CLIENT)?.poll_timeout(),
            Some(now + pto.saturating_mul(3))
        );
        Ok(())
    }
}
