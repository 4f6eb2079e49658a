// SPDX-License-Identifier: GPL-2.0

//! Transport errors (RFC 9000 §20).
//!
//! A [`TransportError`] is what closes a connection: the code sent in a
//! CONNECTION_CLOSE frame of type 0x1c, the type of the frame that caused it
//! and a short reason phrase for the peer and the logs.

use crate::protocol::alloc::AllocError;
use crate::protocol::codec::DecodeError;

/// A QUIC transport error code (RFC 9000 §20.1). Values outside the ones
/// named here are kept as they are (they may come from the peer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransportErrorCode(pub u64);

impl TransportErrorCode {
    /// An endpoint closes without error.
    pub const NO_ERROR: Self = Self(0x00);
    /// An internal error in the endpoint.
    pub const INTERNAL_ERROR: Self = Self(0x01);
    /// The server refuses the connection.
    pub const CONNECTION_REFUSED: Self = Self(0x02);
    /// More data than the advertised limits.
    pub const FLOW_CONTROL_ERROR: Self = Self(0x03);
    /// A stream beyond the advertised stream limit.
    pub const STREAM_LIMIT_ERROR: Self = Self(0x04);
    /// A frame for a stream in a state that does not allow it.
    pub const STREAM_STATE_ERROR: Self = Self(0x05);
    /// A final size change or data beyond it.
    pub const FINAL_SIZE_ERROR: Self = Self(0x06);
    /// A badly formatted frame.
    pub const FRAME_ENCODING_ERROR: Self = Self(0x07);
    /// Malformed or invalid transport parameters.
    pub const TRANSPORT_PARAMETER_ERROR: Self = Self(0x08);
    /// More connection IDs than active_connection_id_limit.
    pub const CONNECTION_ID_LIMIT_ERROR: Self = Self(0x09);
    /// A protocol violation not covered by a more specific code.
    pub const PROTOCOL_VIOLATION: Self = Self(0x0a);
    /// An invalid Retry or NEW_TOKEN token.
    pub const INVALID_TOKEN: Self = Self(0x0b);
    /// The application or application protocol caused the close.
    pub const APPLICATION_ERROR: Self = Self(0x0c);
    /// More CRYPTO data than the endpoint can buffer.
    pub const CRYPTO_BUFFER_EXCEEDED: Self = Self(0x0d);
    /// A key update error.
    pub const KEY_UPDATE_ERROR: Self = Self(0x0e);
    /// The AEAD confidentiality or integrity limit was reached.
    pub const AEAD_LIMIT_REACHED: Self = Self(0x0f);
    /// No network path can carry the connection.
    pub const NO_VIABLE_PATH: Self = Self(0x10);
    /// Version negotiation failure (RFC 9368 §4).
    pub const VERSION_NEGOTIATION_ERROR: Self = Self(0x11);

    /// The code for a TLS alert: CRYPTO_ERROR is 0x0100 + the alert.
    pub const fn crypto(alert: u8) -> Self {
        Self(0x0100 | alert as u64)
    }
}

/// An error that closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportError {
    /// The error code.
    pub code: TransportErrorCode,
    /// The type of the frame that triggered the error, if any.
    pub frame_type: Option<u64>,
    /// A human-readable reason, sent as the reason phrase.
    pub reason: &'static str,
}

impl TransportError {
    /// An error with `code` and `reason`, not tied to a frame.
    pub const fn new(code: TransportErrorCode, reason: &'static str) -> Self {
        Self {
            code,
            frame_type: None,
            reason,
        }
    }

    /// Names the frame type that caused the error.
    pub const fn with_frame(mut self, frame_type: u64) -> Self {
        self.frame_type = Some(frame_type);
        self
    }

    /// PROTOCOL_VIOLATION with `reason`.
    pub const fn protocol_violation(reason: &'static str) -> Self {
        Self::new(TransportErrorCode::PROTOCOL_VIOLATION, reason)
    }

    /// FRAME_ENCODING_ERROR with `reason`.
    pub const fn frame_encoding(reason: &'static str) -> Self {
        Self::new(TransportErrorCode::FRAME_ENCODING_ERROR, reason)
    }

    /// INTERNAL_ERROR with `reason`.
    pub const fn internal(reason: &'static str) -> Self {
        Self::new(TransportErrorCode::INTERNAL_ERROR, reason)
    }
}

impl From<AllocError> for TransportError {
    fn from(_: AllocError) -> Self {
        Self::internal("out of memory")
    }
}

impl From<DecodeError> for TransportError {
    fn from(_: DecodeError) -> Self {
        Self::frame_encoding("malformed frame")
    }
}
