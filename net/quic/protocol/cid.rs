// SPDX-License-Identifier: GPL-2.0

//! Connection IDs (RFC 9000 §5.1).
//!
//! [`ConnectionId`] is the value type carried in packet headers and frames.
//! The submodules manage the two sets of IDs a connection holds:
//!
//! - [`local`]: the IDs this endpoint issued to its peer, which route incoming
//!   packets to the connection (NEW_CONNECTION_ID out, RETIRE_CONNECTION_ID
//!   in, and the add/remove feed for the endpoint's demultiplexing table);
//! - [`peer`]: the IDs the peer issued, one of which goes in the Destination
//!   Connection ID of every packet sent (NEW_CONNECTION_ID in,
//!   RETIRE_CONNECTION_ID out, stateless reset detection);
//! - [`reset`]: stateless reset tokens and packets (§10.3).
//!
//! The core has no random number generator and no keyed hash: new IDs and
//! their reset tokens come from the caller's [`Generator`].

pub mod local;
pub mod peer;
pub mod reset;

use crate::protocol::codec::{BufferTooShort, DecodeError, Reader, Writer};
use reset::ResetToken;

/// A connection ID of 0 to 20 bytes, stored inline.
///
/// # Invariants
///
/// `self.len as usize <= ConnectionId::MAX_LEN`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; ConnectionId::MAX_LEN],
}

/// A connection ID longer than [`ConnectionId::MAX_LEN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionIdTooLong;

impl ConnectionId {
    /// The largest connection ID QUIC version 1 and 2 allow.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-17.2
    //# In QUIC version 1, this value MUST NOT exceed 20 bytes.
    pub const MAX_LEN: usize = 20;

    /// The empty connection ID.
    pub const EMPTY: ConnectionId = ConnectionId {
        len: 0,
        bytes: [0; Self::MAX_LEN],
    };

    /// Copies `id`, failing if it is longer than [`ConnectionId::MAX_LEN`].
    pub fn from_slice(id: &[u8]) -> Result<Self, ConnectionIdTooLong> {
        if id.len() > Self::MAX_LEN {
            return Err(ConnectionIdTooLong);
        }
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..id.len()].copy_from_slice(id);
        // INVARIANT: checked above; the length fits a u8.
        Ok(Self {
            len: id.len() as u8,
            bytes,
        })
    }

    /// The ID's bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Length in bytes.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether this is the zero-length ID.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Decodes a one-byte length followed by the ID, as in long headers and
    /// NEW_CONNECTION_ID frames. A length above 20 is [`DecodeError::Invalid`].
    pub fn decode_with_len_u8(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(r.read_u8()?);
        if len > Self::MAX_LEN {
            return Err(DecodeError::Invalid);
        }
        Self::from_slice(r.read_bytes(len)?).map_err(|_| DecodeError::Invalid)
    }

    /// Encodes a one-byte length followed by the ID.
    pub fn encode_with_len_u8(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if 1 + self.len() > w.remaining() {
            return Err(BufferTooShort);
        }
        w.put_u8(self.len)?;
        w.put_bytes(self.as_slice())
    }
}

impl core::fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.as_slice() {
            write!(f, "{:02x}", b)?;
        }
        Ok(())
    }
}

/// The smallest and default value of the active_connection_id_limit
/// transport parameter.
//= https://www.rfc-editor.org/rfc/rfc9000#section-18.2
//# The value of the active_connection_id_limit parameter MUST be at least 2.
pub const MIN_ACTIVE_CONNECTION_ID_LIMIT: u64 = 2;

/// The source of new connection IDs and of their stateless reset tokens.
///
/// The endpoint implements it: it owns the randomness and the static key.
pub trait Generator {
    /// Returns a new connection ID of `len` bytes (1 to 20).
    ///
    /// The ID must be unpredictable, must not link to the connection's other
    /// IDs (RFC 9000 §5.1) and must not be routed to any other connection of
    /// the endpoint. The sets check the length and reject repeats within the
    /// connection; anything else is the generator's promise.
    fn new_cid(&mut self, len: usize) -> ConnectionId;

    /// Returns the stateless reset token for `cid`: a pseudorandom function
    /// of a static key and the ID (RFC 9000 §10.3.2), so that the endpoint
    /// can recompute it after losing the connection's state.
    fn reset_token(&self, cid: &ConnectionId) -> ResetToken;
}

/// The contents of a NEW_CONNECTION_ID frame (RFC 9000 §19.15): produced by
/// [`local::LocalCids`] for sending and consumed by [`peer::PeerCids`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewConnectionId {
    /// The sequence number of the ID.
    pub sequence: u64,
    /// IDs with a smaller sequence number are to be retired.
    pub retire_prior_to: u64,
    /// The connection ID.
    pub id: ConnectionId,
    /// The stateless reset token bound to `id`.
    pub reset_token: ResetToken,
}

/// Why a local request (a socket option) on a connection ID set was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The connection uses zero-length connection IDs in that direction.
    ZeroLength,
    /// No connection ID has that sequence number, or the value is out of
    /// range.
    InvalidSequence,
    /// A previous retirement has not completed yet.
    Busy,
    /// No connection ID is available for the request.
    Exhausted,
    /// Out of memory, or the [`Generator`] broke its contract.
    Internal,
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_cid))]
mod tests {
    use super::*;

    #[test]
    fn length_limits() {
        assert!(ConnectionId::from_slice(&[0; 20]).is_ok());
        assert_eq!(ConnectionId::from_slice(&[0; 21]), Err(ConnectionIdTooLong));
        let mut too_long = [0u8; 22];
        too_long[0] = 21;
        let mut r = Reader::new(&too_long);
        assert_eq!(
            ConnectionId::decode_with_len_u8(&mut r),
            Err(DecodeError::Invalid)
        );
    }

    #[test]
    fn round_trip() {
        let id = ConnectionId::from_slice(&[1, 2, 3, 4]);
        assert!(id.is_ok());
        let id = id.unwrap_or(ConnectionId::EMPTY);
        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf);
        assert_eq!(id.encode_with_len_u8(&mut w), Ok(()));
        assert_eq!(w.written(), &[4, 1, 2, 3, 4]);
        let mut r = Reader::new(&buf[..5]);
        assert_eq!(ConnectionId::decode_with_len_u8(&mut r), Ok(id));
    }
}
