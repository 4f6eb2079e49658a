// SPDX-License-Identifier: GPL-2.0

//! Connection IDs (RFC 9000 §5.1).
//!
//! [`ConnectionId`] is the value type carried in packet headers and frames.
//! The submodules manage the sets of IDs an endpoint issues to its peer and
//! receives from it.

use crate::protocol::codec::{BufferTooShort, DecodeError, Reader, Writer};

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
