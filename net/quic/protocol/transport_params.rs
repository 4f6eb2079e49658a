// SPDX-License-Identifier: GPL-2.0

//! Transport parameters (RFC 9000 §7.4 and §18; max_datagram_frame_size from
//! RFC 9221, grease_quic_bit from RFC 9287, version_information from
//! RFC 9368).
//!
//! [`TransportParameters`] holds one endpoint's parameters with the RFC
//! defaults for absent ones. [`TransportParameters::encode`] writes the body
//! of the TLS quic_transport_parameters extension and
//! [`TransportParameters::decode`] reads one: these are the bytes that
//! getsockopt and setsockopt(QUIC_SOCKOPT_TRANSPORT_PARAM_EXT) carry between
//! the kernel and the TLS library in userspace.
//!
//! Decoding never allocates and never panics. Malformed or invalid input is
//! a TRANSPORT_PARAMETER_ERROR; unknown and reserved parameters are skipped.
//! What needs the connection's state stays with the connection: comparing
//! the connection IDs with the ones in the packets (RFC 9000 §7.3), the
//! downgrade checks of RFC 9368 §4, and 0-RTT's remembered limits.

use crate::protocol::cid::ConnectionId;
use crate::protocol::error::{TransportError, TransportErrorCode};
use crate::protocol::frame::{MAX_STREAM_COUNT, RESET_TOKEN_LEN};
use crate::protocol::varint::VarInt;

pub mod codec;
pub mod preferred_address;
pub mod version_info;

pub use codec::GreaseParameter;
pub use preferred_address::PreferredAddress;
pub use version_info::VersionInformation;

pub use crate::protocol::side::Side;

/// A transport parameter identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParameterId(pub u64);

impl ParameterId {
    /// original_destination_connection_id (server only).
    pub const ORIGINAL_DESTINATION_CONNECTION_ID: Self = Self(0x00);
    /// max_idle_timeout, in milliseconds.
    pub const MAX_IDLE_TIMEOUT: Self = Self(0x01);
    /// stateless_reset_token (server only).
    pub const STATELESS_RESET_TOKEN: Self = Self(0x02);
    /// max_udp_payload_size.
    pub const MAX_UDP_PAYLOAD_SIZE: Self = Self(0x03);
    /// initial_max_data.
    pub const INITIAL_MAX_DATA: Self = Self(0x04);
    /// initial_max_stream_data_bidi_local.
    pub const INITIAL_MAX_STREAM_DATA_BIDI_LOCAL: Self = Self(0x05);
    /// initial_max_stream_data_bidi_remote.
    pub const INITIAL_MAX_STREAM_DATA_BIDI_REMOTE: Self = Self(0x06);
    /// initial_max_stream_data_uni.
    pub const INITIAL_MAX_STREAM_DATA_UNI: Self = Self(0x07);
    /// initial_max_streams_bidi.
    pub const INITIAL_MAX_STREAMS_BIDI: Self = Self(0x08);
    /// initial_max_streams_uni.
    pub const INITIAL_MAX_STREAMS_UNI: Self = Self(0x09);
    /// ack_delay_exponent.
    pub const ACK_DELAY_EXPONENT: Self = Self(0x0a);
    /// max_ack_delay, in milliseconds.
    pub const MAX_ACK_DELAY: Self = Self(0x0b);
    /// disable_active_migration.
    pub const DISABLE_ACTIVE_MIGRATION: Self = Self(0x0c);
    /// preferred_address (server only).
    pub const PREFERRED_ADDRESS: Self = Self(0x0d);
    /// active_connection_id_limit.
    pub const ACTIVE_CONNECTION_ID_LIMIT: Self = Self(0x0e);
    /// initial_source_connection_id.
    pub const INITIAL_SOURCE_CONNECTION_ID: Self = Self(0x0f);
    /// retry_source_connection_id (server only).
    pub const RETRY_SOURCE_CONNECTION_ID: Self = Self(0x10);
    /// version_information (RFC 9368).
    pub const VERSION_INFORMATION: Self = Self(0x11);
    /// max_datagram_frame_size (RFC 9221).
    pub const MAX_DATAGRAM_FRAME_SIZE: Self = Self(0x20);
    /// grease_quic_bit (RFC 9287).
    pub const GREASE_QUIC_BIT: Self = Self(0x2ab2);

    /// Whether this is a reserved identifier, `31 * N + 27`, that carries
    /// no meaning and exists to be ignored (RFC 9000 §18.1).
    pub const fn is_reserved(self) -> bool {
        self.0 % 31 == 27
    }

    /// Whether only a server may send this parameter.
    pub const fn is_server_only(self) -> bool {
        matches!(self.0, 0x00 | 0x02 | 0x0d | 0x10)
    }
}

/// The smallest valid max_udp_payload_size.
pub const MIN_MAX_UDP_PAYLOAD_SIZE: u64 = 1200;
/// The largest valid ack_delay_exponent.
pub const MAX_ACK_DELAY_EXPONENT: u64 = 20;
/// max_ack_delay must be below this, in milliseconds.
pub const MAX_ACK_DELAY_LIMIT: u64 = 1 << 14;
/// The smallest valid active_connection_id_limit.
pub const MIN_ACTIVE_CONNECTION_ID_LIMIT: u64 = 2;

/// One endpoint's transport parameters. Absent parameters take the values
/// of [`TransportParameters::DEFAULT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportParameters {
    /// The Destination Connection ID of the client's first Initial packet
    /// (server only).
    pub original_destination_connection_id: Option<ConnectionId>,
    /// The idle timeout in milliseconds; 0 disables it.
    pub max_idle_timeout: VarInt,
    /// The stateless reset token for the handshake connection ID (server
    /// only).
    pub stateless_reset_token: Option<[u8; RESET_TOKEN_LEN]>,
    /// The largest UDP payload the endpoint accepts; at least 1200.
    pub max_udp_payload_size: VarInt,
    /// The initial connection-level flow control limit.
    pub initial_max_data: VarInt,
    /// The initial limit for bidirectional streams the sender opens.
    pub initial_max_stream_data_bidi_local: VarInt,
    /// The initial limit for bidirectional streams the receiver opens.
    pub initial_max_stream_data_bidi_remote: VarInt,
    /// The initial limit for unidirectional streams the receiver opens.
    pub initial_max_stream_data_uni: VarInt,
    /// How many bidirectional streams the receiver may open; at most 2^60.
    pub initial_max_streams_bidi: VarInt,
    /// How many unidirectional streams the receiver may open; at most 2^60.
    pub initial_max_streams_uni: VarInt,
    /// The exponent scaling the ACK Delay field; at most 20.
    pub ack_delay_exponent: VarInt,
    /// The largest delay before acknowledging, in milliseconds; below 2^14.
    pub max_ack_delay: VarInt,
    /// Whether the sender does not support active connection migration.
    pub disable_active_migration: bool,
    /// The server's preferred address (server only).
    pub preferred_address: Option<PreferredAddress>,
    /// How many connection IDs the sender stores for its peer; at least 2.
    pub active_connection_id_limit: VarInt,
    /// The Source Connection ID of the sender's first Initial packet.
    pub initial_source_connection_id: Option<ConnectionId>,
    /// The Source Connection ID of the server's Retry packet (server only).
    pub retry_source_connection_id: Option<ConnectionId>,
    /// The largest DATAGRAM frame the sender accepts; 0: none (RFC 9221).
    pub max_datagram_frame_size: VarInt,
    /// Whether the sender accepts packets with the QUIC Bit cleared
    /// (RFC 9287).
    pub grease_quic_bit: bool,
    /// The sender's chosen and available versions (RFC 9368).
    pub version_information: Option<VersionInformation>,
}

/// TRANSPORT_PARAMETER_ERROR with `reason`.
pub(crate) const fn param_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::TRANSPORT_PARAMETER_ERROR, reason)
}

impl TransportParameters {
    /// The values of absent parameters (RFC 9000 §18.2).
    pub const DEFAULT: Self = Self {
        original_destination_connection_id: None,
        max_idle_timeout: VarInt::ZERO,
        stateless_reset_token: None,
        max_udp_payload_size: VarInt::from_u32(65527),
        initial_max_data: VarInt::ZERO,
        initial_max_stream_data_bidi_local: VarInt::ZERO,
        initial_max_stream_data_bidi_remote: VarInt::ZERO,
        initial_max_stream_data_uni: VarInt::ZERO,
        initial_max_streams_bidi: VarInt::ZERO,
        initial_max_streams_uni: VarInt::ZERO,
        ack_delay_exponent: VarInt::from_u32(3),
        max_ack_delay: VarInt::from_u32(25),
        disable_active_migration: false,
        preferred_address: None,
        active_connection_id_limit: VarInt::from_u32(2),
        initial_source_connection_id: None,
        retry_source_connection_id: None,
        max_datagram_frame_size: VarInt::ZERO,
        grease_quic_bit: false,
        version_information: None,
    };

    /// Checks the values and the sender's role. [`TransportParameters::decode`]
    /// runs this on what it read; run it on local parameters before sending.
    pub fn validate(&self, sender: Side) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-18.2
        //# A server MUST treat receipt of any of these transport parameters as a
        //# connection error of type TRANSPORT_PARAMETER_ERROR.
        if sender == Side::Client
            && (self.original_destination_connection_id.is_some()
                || self.stateless_reset_token.is_some()
                || self.preferred_address.is_some()
                || self.retry_source_connection_id.is_some())
        {
            return Err(param_error("server-only parameter from a client"));
        }
        if self.max_udp_payload_size.into_inner() < MIN_MAX_UDP_PAYLOAD_SIZE {
            return Err(param_error("max_udp_payload_size below 1200"));
        }
        if self.ack_delay_exponent.into_inner() > MAX_ACK_DELAY_EXPONENT {
            return Err(param_error("ack_delay_exponent above 20"));
        }
        if self.max_ack_delay.into_inner() >= MAX_ACK_DELAY_LIMIT {
            return Err(param_error("max_ack_delay of 2^14 or more"));
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-18.2
        //# An endpoint that receives a value less than 2 MUST close the connection
        //# with an error of type TRANSPORT_PARAMETER_ERROR.
        if self.active_connection_id_limit.into_inner() < MIN_ACTIVE_CONNECTION_ID_LIMIT {
            return Err(param_error("active_connection_id_limit below 2"));
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-4.6
        //# If either is received, the connection MUST be closed immediately with a
        //# connection error of type TRANSPORT_PARAMETER_ERROR
        if self.initial_max_streams_bidi.into_inner() > MAX_STREAM_COUNT
            || self.initial_max_streams_uni.into_inner() > MAX_STREAM_COUNT
        {
            return Err(param_error("initial_max_streams above 2^60"));
        }
        if let Some(preferred) = &self.preferred_address {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-18.2
            //# A client MUST treat a violation of these requirements as a
            //# connection error of type TRANSPORT_PARAMETER_ERROR.
            let zero_length_scid = self
                .initial_source_connection_id
                .is_some_and(|id| id.is_empty());
            if preferred.id.is_empty() || zero_length_scid {
                return Err(param_error("preferred_address with a zero-length CID"));
            }
        }
        if let Some(info) = &self.version_information {
            info.validate(sender)?;
        }
        Ok(())
    }
}

impl Default for TransportParameters {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_transport_params))]
mod tests {
    use super::*;

    const TPE: TransportErrorCode = TransportErrorCode::TRANSPORT_PARAMETER_ERROR;

    fn code(r: Result<(), TransportError>) -> Option<TransportErrorCode> {
        r.err().map(|e| e.code)
    }

    fn cid(bytes: &[u8]) -> ConnectionId {
        ConnectionId::from_slice(bytes).unwrap_or(ConnectionId::EMPTY)
    }

    #[test]
    fn rfc_defaults() {
        let p = TransportParameters::default();
        assert_eq!(p.max_udp_payload_size.into_inner(), 65527);
        assert_eq!(p.ack_delay_exponent.into_inner(), 3);
        assert_eq!(p.max_ack_delay.into_inner(), 25);
        assert_eq!(p.active_connection_id_limit.into_inner(), 2);
        assert_eq!(p.max_idle_timeout, VarInt::ZERO);
        assert_eq!(p.initial_max_data, VarInt::ZERO);
        assert_eq!(p.max_datagram_frame_size, VarInt::ZERO);
        assert!(!p.disable_active_migration && !p.grease_quic_bit);
        assert!(p.preferred_address.is_none() && p.version_information.is_none());
        assert_eq!(p.validate(Side::Client), Ok(()));
        assert_eq!(p.validate(Side::Server), Ok(()));
    }

    #[test]
    fn server_only_parameters() {
        let base = TransportParameters::DEFAULT;
        let preferred = PreferredAddress {
            ipv4: None,
            ipv6: None,
            id: cid(&[1]),
            reset_token: [0; 16],
        };
        // One server-only parameter at a time, set on a copy of `base`.
        let cases: [fn(&mut TransportParameters, PreferredAddress); 4] = [
            |p, _| p.original_destination_connection_id = Some(cid(&[1, 2])),
            |p, _| p.stateless_reset_token = Some([1; 16]),
            |p, preferred| p.preferred_address = Some(preferred),
            |p, _| p.retry_source_connection_id = Some(cid(&[])),
        ];
        for set in cases {
            let mut p = base;
            set(&mut p, preferred);
            assert_eq!(code(p.validate(Side::Client)), Some(TPE));
            assert_eq!(p.validate(Side::Server), Ok(()));
        }
        let client_ok = TransportParameters {
            initial_source_connection_id: Some(cid(&[9])),
            ..base
        };
        assert_eq!(client_ok.validate(Side::Client), Ok(()));
    }

    #[test]
    fn value_limits() {
        let base = TransportParameters::DEFAULT;
        let v = VarInt::from_u32;
        // One parameter out of range at a time; the cases change a copy of
        // `base` (an array of parameter sets would take 2 KiB of stack).
        let bad: [fn(&mut TransportParameters); 6] = [
            |p| p.max_udp_payload_size = VarInt::from_u32(1199),
            |p| p.ack_delay_exponent = VarInt::from_u32(21),
            |p| p.max_ack_delay = VarInt::from_u32(1 << 14),
            |p| p.active_connection_id_limit = VarInt::from_u32(1),
            |p| p.initial_max_streams_bidi = VarInt::saturating(MAX_STREAM_COUNT + 1),
            |p| p.initial_max_streams_uni = VarInt::saturating(MAX_STREAM_COUNT + 1),
        ];
        for set in bad {
            let mut p = base;
            set(&mut p);
            assert_eq!(code(p.validate(Side::Server)), Some(TPE));
        }
        let edge = TransportParameters {
            max_udp_payload_size: v(1200),
            ack_delay_exponent: v(20),
            max_ack_delay: v((1 << 14) - 1),
            active_connection_id_limit: v(2),
            initial_max_streams_bidi: VarInt::saturating(MAX_STREAM_COUNT),
            initial_max_streams_uni: VarInt::saturating(MAX_STREAM_COUNT),
            ..base
        };
        assert_eq!(edge.validate(Side::Server), Ok(()));
    }

    #[test]
    fn preferred_address_needs_connection_ids() {
        let preferred = PreferredAddress {
            ipv4: None,
            ipv6: None,
            id: cid(&[]),
            reset_token: [0; 16],
        };
        let p = TransportParameters {
            preferred_address: Some(preferred),
            ..TransportParameters::DEFAULT
        };
        assert_eq!(code(p.validate(Side::Server)), Some(TPE));
        let p = TransportParameters {
            preferred_address: Some(PreferredAddress {
                id: cid(&[1]),
                ..preferred
            }),
            initial_source_connection_id: Some(cid(&[])),
            ..TransportParameters::DEFAULT
        };
        assert_eq!(code(p.validate(Side::Server)), Some(TPE));
    }

    #[test]
    fn reserved_and_server_only_ids() {
        for n in [0u64, 1, 2, 1000, (1 << 56)] {
            assert!(ParameterId(31 * n + 27).is_reserved());
            assert!(!ParameterId(31 * n + 28).is_reserved());
        }
        assert!(!ParameterId::MAX_DATAGRAM_FRAME_SIZE.is_reserved());
        assert!(!ParameterId::GREASE_QUIC_BIT.is_reserved());
        let server_only = [0x00u64, 0x02, 0x0d, 0x10];
        for id in 0..0x12 {
            assert_eq!(ParameterId(id).is_server_only(), server_only.contains(&id));
        }
    }
}
