// SPDX-License-Identifier: GPL-2.0

//! QUIC packets (RFC 9000 §12, §17; RFC 8999; RFC 9001 §5; RFC 9287; RFC
//! 9369 §3).
//!
//! Receiving walks a datagram through three typestates, each a view over the
//! caller's buffer that is modified in place:
//!
//! ```text
//!   datagram ──[header::decode / datagram::Datagram]──> ProtectedPacket
//!     ──[remove_header_protection(header key, largest pn)]──> EncryptedPacket
//!     ──[decrypt(packet key)]──> CleartextPacket (pn, key phase, payload)
//! ```
//!
//! Sending writes a [`header::LongHeader`] or [`header::ShortHeader`] with a
//! length field of fixed size, lets the caller append frames after it, and
//! [`protection::seal`] patches the length, encrypts and applies header
//! protection. Nothing allocates per packet. Version Negotiation and Retry
//! packets, which are not protected by packet keys, have their own modules.

use crate::protocol::codec::{BufferTooShort, DecodeError};
use crate::protocol::crypto::{CryptoError, Level};
use crate::protocol::error::TransportError;

pub mod datagram;
pub mod header;
pub mod number;
pub mod protection;
pub mod retry;
pub mod version;
pub mod version_negotiation;

/// The Header Form bit: set for long headers.
pub const HEADER_FORM_BIT: u8 = 0x80;
/// The Fixed Bit, or "QUIC bit" (RFC 9000 §17.2, RFC 9287).
pub const FIXED_BIT: u8 = 0x40;
/// The latency Spin Bit of short headers (RFC 9000 §17.4).
pub const SPIN_BIT: u8 = 0x20;
/// The Key Phase bit of short headers (RFC 9001 §6), under header protection.
pub const KEY_PHASE_BIT: u8 = 0x04;
/// The Reserved Bits of long headers, under header protection.
pub const LONG_RESERVED_BITS: u8 = 0x0c;
/// The Reserved Bits of short headers, under header protection.
pub const SHORT_RESERVED_BITS: u8 = 0x18;
/// The Packet Number Length bits, under header protection.
pub const PN_LEN_BITS: u8 = 0x03;

/// The long header packet types (RFC 9000 §17.2). Their encoding depends on
/// the version: see [`version::Version::long_type_bits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LongType {
    /// Initial (RFC 9000 §17.2.2).
    Initial,
    /// 0-RTT (RFC 9000 §17.2.3).
    ZeroRtt,
    /// Handshake (RFC 9000 §17.2.4).
    Handshake,
    /// Retry (RFC 9000 §17.2.5).
    Retry,
}

/// The packets protected with packet keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// Initial.
    Initial,
    /// 0-RTT.
    ZeroRtt,
    /// Handshake.
    Handshake,
    /// 1-RTT, the only short header packet.
    OneRtt,
}

impl PacketKind {
    /// The encryption level of this kind of packet.
    pub const fn level(self) -> Level {
        match self {
            Self::Initial => Level::Initial,
            Self::ZeroRtt => Level::ZeroRtt,
            Self::Handshake => Level::Handshake,
            Self::OneRtt => Level::OneRtt,
        }
    }

    /// Whether this kind uses the long header.
    pub const fn is_long(self) -> bool {
        !matches!(self, Self::OneRtt)
    }

    /// The long header type of this kind, if it is a long header packet.
    pub const fn long_type(self) -> Option<LongType> {
        match self {
            Self::Initial => Some(LongType::Initial),
            Self::ZeroRtt => Some(LongType::ZeroRtt),
            Self::Handshake => Some(LongType::Handshake),
            Self::OneRtt => None,
        }
    }
}

/// Why a packet could not be decoded, protected or unprotected.
///
/// All but [`PacketError::ReservedBits`] and some [`PacketError::Crypto`]
/// errors mean "drop the packet" (see [`PacketError::transport_error`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// The header is truncated or malformed.
    Malformed,
    /// The Fixed Bit is 0 and this endpoint did not advertise
    /// grease_quic_bit (RFC 9000 §17.2, RFC 9287 §3).
    FixedBitCleared,
    /// The packet is too short to take a header protection sample.
    TooShort,
    /// The Reserved Bits are not 0 after removing protection.
    ReservedBits,
    /// A long header packet of a version this core does not speak.
    UnsupportedVersion,
    /// A packet coalesced after the first one carries a different
    /// Destination Connection ID (RFC 9000 §12.2).
    DcidMismatch,
    /// The output buffer has no room for the packet.
    BufferTooShort,
    /// The packet to encode is invalid (a packet number too large for its
    /// encoding, a Retry through the long header encoder, ...).
    InvalidInput,
    /// Packet protection failed.
    Crypto(CryptoError),
}

impl PacketError {
    /// The connection error this error causes, or `None` when the packet is
    /// silently dropped.
    pub const fn transport_error(self) -> Option<TransportError> {
        match self {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-17.2
            //# An endpoint MUST treat receipt of a packet that has a non-zero value for these
            //# bits after removing both packet and header protection as a connection error
            //# of type PROTOCOL_VIOLATION.
            Self::ReservedBits => Some(TransportError::protocol_violation("reserved bits set")),
            Self::Crypto(e) => e.transport_error(),
            _ => None,
        }
    }
}

impl From<DecodeError> for PacketError {
    fn from(_: DecodeError) -> Self {
        Self::Malformed
    }
}

impl From<BufferTooShort> for PacketError {
    fn from(_: BufferTooShort) -> Self {
        Self::BufferTooShort
    }
}

impl From<CryptoError> for PacketError {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_packet))]
mod tests {
    use super::*;
    use crate::protocol::error::TransportErrorCode;

    #[test]
    fn errors_that_close() {
        assert_eq!(
            PacketError::ReservedBits.transport_error().map(|e| e.code),
            Some(TransportErrorCode::PROTOCOL_VIOLATION)
        );
        assert_eq!(PacketError::Malformed.transport_error(), None);
        assert_eq!(
            PacketError::Crypto(CryptoError::AuthenticationFailed).transport_error(),
            None
        );
        assert_eq!(
            PacketError::from(DecodeError::Invalid),
            PacketError::Malformed
        );
    }

    #[test]
    fn kinds() {
        assert_eq!(PacketKind::OneRtt.level(), Level::OneRtt);
        assert!(PacketKind::Handshake.is_long());
        assert_eq!(PacketKind::OneRtt.long_type(), None);
        assert_eq!(PacketKind::ZeroRtt.long_type(), Some(LongType::ZeroRtt));
    }
}
