// SPDX-License-Identifier: GPL-2.0

//! The connection's life cycle (RFC 9000 §10) and why it ended.
//!
//! ```text
//!   Handshake ──(TLS done, 1-RTT keys)──> Established
//!       │                                     │
//!       ├──── close() / error ──> Closing ────┤  (CONNECTION_CLOSE sent,
//!       │                           │         │   repeated on receipt)
//!       ├──── peer CONNECTION_CLOSE / stateless reset ──> Draining
//!       │                           │                     │
//!       └──── idle timeout ─────────┴──(3 × PTO)──────────┴──> Closed
//! ```

use crate::protocol::error::TransportErrorCode;
use crate::protocol::time::Instant;

/// Where the connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The handshake is under way.
    Handshake,
    /// The handshake completed; data flows.
    Established,
    /// This endpoint closed: only CONNECTION_CLOSE is sent, in answer to
    /// incoming packets, until `until` (RFC 9000 §10.2.1).
    Closing {
        /// The end of the closing period.
        until: Instant,
    },
    /// The peer closed (or reset): nothing is sent until `until`
    /// (RFC 9000 §10.2.2).
    Draining {
        /// The end of the draining period.
        until: Instant,
    },
    /// Done: the connection can be freed.
    Closed,
}

impl State {
    /// Whether the connection is closing, draining or closed.
    pub const fn is_closed(&self) -> bool {
        matches!(
            self,
            State::Closing { .. } | State::Draining { .. } | State::Closed
        )
    }

    /// Whether the connection can be freed.
    pub const fn is_drained(&self) -> bool {
        matches!(self, State::Closed)
    }
}

/// The largest reason phrase kept: the UAPI's close phrase buffer.
pub const MAX_REASON_LEN: usize = 64;

/// A reason phrase, truncated to [`MAX_REASON_LEN`] bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    bytes: [u8; MAX_REASON_LEN],
    len: u8,
}

impl Reason {
    /// No reason.
    pub const EMPTY: Reason = Reason {
        bytes: [0; MAX_REASON_LEN],
        len: 0,
    };

    /// The first [`MAX_REASON_LEN`] bytes of `phrase`.
    pub fn new(phrase: &[u8]) -> Self {
        let mut r = Self::EMPTY;
        let n = phrase.len().min(MAX_REASON_LEN);
        if let (Some(dst), Some(src)) = (r.bytes.get_mut(..n), phrase.get(..n)) {
            dst.copy_from_slice(src);
            // INVARIANT: n <= 64.
            r.len = n as u8;
        }
        r
    }

    /// The phrase.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl core::fmt::Debug for Reason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", core::str::from_utf8(self.as_bytes()).ok())
    }
}

/// What ended the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseCause {
    /// A CONNECTION_CLOSE frame, sent or received.
    ConnectionClose,
    /// The idle timeout expired; nothing was sent.
    IdleTimeout,
    /// The peer sent a stateless reset.
    StatelessReset,
    /// The server answered with Version Negotiation offering no version we
    /// can use for this attempt (RFC 9000 §6.2).
    VersionNegotiation,
    /// No path to the peer is left (RFC 9000 §9.3.2).
    NoViablePath,
}

/// Why the connection closed, as reported by [`super::Event::Closed`] and
/// the `QUIC_EVENT_CONNECTION_CLOSE` notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionError {
    /// What ended the connection.
    pub cause: CloseCause,
    /// The error code: transport, or application if `application`.
    pub code: u64,
    /// For a transport error, the frame type that caused it (0 if none).
    pub frame_type: u64,
    /// Whether `code` is an application error code.
    pub application: bool,
    /// Whether the peer closed (or reset) the connection.
    pub by_peer: bool,
    /// The reason phrase, truncated.
    pub reason: Reason,
}

impl ConnectionError {
    /// The connection timed out while idle.
    pub const fn idle_timeout() -> Self {
        Self {
            cause: CloseCause::IdleTimeout,
            code: TransportErrorCode::NO_ERROR.0,
            frame_type: 0,
            application: false,
            by_peer: false,
            reason: Reason::EMPTY,
        }
    }

    /// A close without a CONNECTION_CLOSE exchange: `cause`, reported with
    /// transport error `code`.
    pub const fn silent(cause: CloseCause, code: TransportErrorCode, by_peer: bool) -> Self {
        Self {
            cause,
            code: code.0,
            frame_type: 0,
            application: false,
            by_peer,
            reason: Reason::EMPTY,
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_state))]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_truncated() {
        let long = [b'x'; 100];
        assert_eq!(Reason::new(&long).as_bytes().len(), MAX_REASON_LEN);
        assert_eq!(Reason::new(b"bye").as_bytes(), b"bye");
        assert_eq!(Reason::EMPTY.as_bytes(), b"");
    }

    #[test]
    fn closed_states() {
        assert!(!State::Handshake.is_closed());
        assert!(!State::Established.is_closed());
        let t = Instant::ZERO;
        assert!(State::Closing { until: t }.is_closed());
        assert!(State::Draining { until: t }.is_closed());
        assert!(State::Closed.is_drained());
        assert!(!State::Draining { until: t }.is_drained());
    }
}
