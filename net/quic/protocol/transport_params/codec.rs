// SPDX-License-Identifier: GPL-2.0

//! The wire format of transport parameters (RFC 9000 §18).
//!
//! ```text
//! Transport Parameter {
//!   Transport Parameter ID (i),
//!   Transport Parameter Length (i),
//!   Transport Parameter Value (..),
//! }
//! ```
//!
//! Encoding writes every parameter that differs from its default, in
//! identifier order, plus optionally one reserved parameter to keep peers
//! honest about ignoring unknown ones. Decoding reads into a
//! [`TransportParameters`] without allocating, refuses duplicates of the
//! parameters it knows and values whose length does not match their
//! content, skips the others, and validates the result for the sender's
//! role.

use crate::protocol::cid::ConnectionId;
use crate::protocol::codec::{BufferTooShort, Reader, Writer};
use crate::protocol::error::TransportError;
use crate::protocol::frame::RESET_TOKEN_LEN;
use crate::protocol::transport_params::{
    param_error, ParameterId, PreferredAddress, Side, TransportParameters, VersionInformation,
};
use crate::protocol::varint::VarInt;

/// A reserved transport parameter (`31 * N + 27`) with a random value, sent
/// so that peers keep ignoring parameters they do not know (RFC 9000 §18.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GreaseParameter {
    id: VarInt,
    len: u8,
    value: [u8; Self::MAX_LEN],
}

impl GreaseParameter {
    /// Room for the value; generated values take 0 to 15 bytes.
    pub const MAX_LEN: usize = 16;

    /// A reserved parameter drawn from `random`, which the caller takes from
    /// its random source: `N` (below 2^16, so the identifier takes at most
    /// four bytes), a value length of 0 to 15 and the value bytes.
    pub fn from_random(random: u64) -> Self {
        let n = (random >> 48) & 0xffff;
        let len = (random & 0x0f) as u8;
        let mut value = [0u8; Self::MAX_LEN];
        let mut state = random | 1;
        for byte in value.iter_mut().take(usize::from(len)) {
            // xorshift64: spreads the caller's randomness over the bytes.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = (state >> 56) as u8;
        }
        Self {
            id: VarInt::saturating(31 * n + 27),
            len,
            value,
        }
    }

    /// The parameter's identifier, always reserved.
    pub fn id(&self) -> ParameterId {
        ParameterId(self.id.into_inner())
    }

    /// The parameter's value.
    pub fn value(&self) -> &[u8] {
        self.value.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// A parameter value, as the encoder visits them.
#[derive(Clone, Copy)]
enum Value<'p> {
    Int(VarInt),
    Bytes(&'p [u8]),
    Flag,
    Preferred(&'p PreferredAddress),
    Versions(&'p VersionInformation),
}

impl Value<'_> {
    fn len(&self) -> usize {
        match self {
            Value::Int(v) => v.size(),
            Value::Bytes(b) => b.len(),
            Value::Flag => 0,
            Value::Preferred(p) => p.encoded_size(),
            Value::Versions(v) => v.encoded_size(),
        }
    }

    /// The size of the whole parameter: identifier, length and value.
    fn param_size(&self, id: ParameterId) -> usize {
        let len = self.len();
        VarInt::size_of(id.0) + VarInt::size_of(len as u64) + len
    }

    fn encode(&self, id: ParameterId, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        w.put_varint(VarInt::from_u64(id.0).map_err(|_| BufferTooShort)?)?;
        w.put_varint(VarInt::try_from_usize(self.len()).map_err(|_| BufferTooShort)?)?;
        match self {
            Value::Int(v) => w.put_varint(*v),
            Value::Bytes(b) => w.put_bytes(b),
            Value::Flag => Ok(()),
            Value::Preferred(p) => p.encode(w),
            Value::Versions(v) => v.encode(w),
        }
    }
}

/// The number of parameters [`TransportParameters`] holds.
const PARAMS: usize = 20;

fn int_value(value: VarInt, default: VarInt) -> Option<Value<'static>> {
    (value != default).then_some(Value::Int(value))
}

fn cid_value(id: &Option<ConnectionId>) -> Option<Value<'_>> {
    id.as_ref().map(|id| Value::Bytes(id.as_slice()))
}

impl TransportParameters {
    /// Every parameter in identifier order, with the value to send or
    /// `None` to leave it out: integers equal to their default, absent
    /// options and false flags are not sent.
    fn wire_values(&self) -> [(ParameterId, Option<Value<'_>>); PARAMS] {
        use ParameterId as Id;
        let d = &Self::DEFAULT;
        [
            (
                Id::ORIGINAL_DESTINATION_CONNECTION_ID,
                cid_value(&self.original_destination_connection_id),
            ),
            (
                Id::MAX_IDLE_TIMEOUT,
                int_value(self.max_idle_timeout, d.max_idle_timeout),
            ),
            (
                Id::STATELESS_RESET_TOKEN,
                self.stateless_reset_token.as_ref().map(|t| Value::Bytes(t)),
            ),
            (
                Id::MAX_UDP_PAYLOAD_SIZE,
                int_value(self.max_udp_payload_size, d.max_udp_payload_size),
            ),
            (
                Id::INITIAL_MAX_DATA,
                int_value(self.initial_max_data, d.initial_max_data),
            ),
            (
                Id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
                int_value(
                    self.initial_max_stream_data_bidi_local,
                    d.initial_max_stream_data_bidi_local,
                ),
            ),
            (
                Id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
                int_value(
                    self.initial_max_stream_data_bidi_remote,
                    d.initial_max_stream_data_bidi_remote,
                ),
            ),
            (
                Id::INITIAL_MAX_STREAM_DATA_UNI,
                int_value(
                    self.initial_max_stream_data_uni,
                    d.initial_max_stream_data_uni,
                ),
            ),
            (
                Id::INITIAL_MAX_STREAMS_BIDI,
                int_value(self.initial_max_streams_bidi, d.initial_max_streams_bidi),
            ),
            (
                Id::INITIAL_MAX_STREAMS_UNI,
                int_value(self.initial_max_streams_uni, d.initial_max_streams_uni),
            ),
            (
                Id::ACK_DELAY_EXPONENT,
                int_value(self.ack_delay_exponent, d.ack_delay_exponent),
            ),
            (
                Id::MAX_ACK_DELAY,
                int_value(self.max_ack_delay, d.max_ack_delay),
            ),
            (
                Id::DISABLE_ACTIVE_MIGRATION,
                self.disable_active_migration.then_some(Value::Flag),
            ),
            (
                Id::PREFERRED_ADDRESS,
                self.preferred_address.as_ref().map(Value::Preferred),
            ),
            (
                Id::ACTIVE_CONNECTION_ID_LIMIT,
                int_value(
                    self.active_connection_id_limit,
                    d.active_connection_id_limit,
                ),
            ),
            (
                Id::INITIAL_SOURCE_CONNECTION_ID,
                cid_value(&self.initial_source_connection_id),
            ),
            (
                Id::RETRY_SOURCE_CONNECTION_ID,
                cid_value(&self.retry_source_connection_id),
            ),
            (
                Id::VERSION_INFORMATION,
                self.version_information.as_ref().map(Value::Versions),
            ),
            (
                Id::MAX_DATAGRAM_FRAME_SIZE,
                int_value(self.max_datagram_frame_size, d.max_datagram_frame_size),
            ),
            (
                Id::GREASE_QUIC_BIT,
                self.grease_quic_bit.then_some(Value::Flag),
            ),
        ]
    }

    /// The exact number of bytes [`TransportParameters::encode`] writes with
    /// the same `grease`.
    pub fn encoded_size(&self, grease: Option<&GreaseParameter>) -> usize {
        let grease = grease.map_or(0, |g| Value::Bytes(g.value()).param_size(g.id()));
        self.wire_values()
            .iter()
            .filter_map(|(id, value)| value.map(|v| v.param_size(*id)))
            .fold(grease, usize::saturating_add)
    }

    /// Writes the quic_transport_parameters extension body: every parameter
    /// that differs from its default, in identifier order, then `grease` if
    /// given. Fails without writing anything if `w` has less room than
    /// [`TransportParameters::encoded_size`].
    ///
    /// The encoder writes what it is given; check local parameters with
    /// [`TransportParameters::validate`] first.
    pub fn encode(
        &self,
        grease: Option<&GreaseParameter>,
        w: &mut Writer<'_>,
    ) -> Result<(), BufferTooShort> {
        if self.encoded_size(grease) > w.remaining() {
            return Err(BufferTooShort);
        }
        for (id, value) in self.wire_values() {
            if let Some(value) = value {
                value.encode(id, w)?;
            }
        }
        match grease {
            Some(g) => Value::Bytes(g.value()).encode(g.id(), w),
            None => Ok(()),
        }
    }

    /// Reads the quic_transport_parameters extension body `bytes` that
    /// `sender` sent, and validates it with
    /// [`TransportParameters::validate`].
    pub fn decode(bytes: &[u8], sender: Side) -> Result<Self, TransportError> {
        let mut params = Self::DEFAULT;
        let mut seen = 0u32;
        let mut r = Reader::new(bytes);
        while !r.is_empty() {
            let id = r
                .read_varint()
                .map_err(|_| param_error("truncated transport parameter"))?;
            //= https://www.rfc-editor.org/rfc/rfc9000#section-7.4
            //# An endpoint MUST NOT send a parameter more than once in a given
            //# transport parameters extension.
            let id = ParameterId(id.into_inner());
            if let Some(bit) = seen_bit(id) {
                if seen & bit != 0 {
                    return Err(param_error("duplicate transport parameter"));
                }
                seen |= bit;
            }
            let value = r
                .read_varint_prefixed()
                .map_err(|_| param_error("transport parameter longer than the extension"))?;
            params.set(id, value)?;
        }
        params.validate(sender)?;
        Ok(params)
    }

    /// Stores the parameter `id` with its encoded `value`; unknown and
    /// reserved parameters are ignored.
    fn set(&mut self, id: ParameterId, value: &[u8]) -> Result<(), TransportError> {
        match id {
            ParameterId::ORIGINAL_DESTINATION_CONNECTION_ID => {
                self.original_destination_connection_id = Some(cid(value)?);
            }
            ParameterId::MAX_IDLE_TIMEOUT => self.max_idle_timeout = int(value)?,
            ParameterId::STATELESS_RESET_TOKEN => {
                let token: [u8; RESET_TOKEN_LEN] = value
                    .try_into()
                    .map_err(|_| param_error("stateless_reset_token is not 16 bytes"))?;
                self.stateless_reset_token = Some(token);
            }
            ParameterId::MAX_UDP_PAYLOAD_SIZE => self.max_udp_payload_size = int(value)?,
            ParameterId::INITIAL_MAX_DATA => self.initial_max_data = int(value)?,
            ParameterId::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL => {
                self.initial_max_stream_data_bidi_local = int(value)?;
            }
            ParameterId::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE => {
                self.initial_max_stream_data_bidi_remote = int(value)?;
            }
            ParameterId::INITIAL_MAX_STREAM_DATA_UNI => {
                self.initial_max_stream_data_uni = int(value)?;
            }
            ParameterId::INITIAL_MAX_STREAMS_BIDI => self.initial_max_streams_bidi = int(value)?,
            ParameterId::INITIAL_MAX_STREAMS_UNI => self.initial_max_streams_uni = int(value)?,
            ParameterId::ACK_DELAY_EXPONENT => self.ack_delay_exponent = int(value)?,
            ParameterId::MAX_ACK_DELAY => self.max_ack_delay = int(value)?,
            ParameterId::DISABLE_ACTIVE_MIGRATION => self.disable_active_migration = flag(value)?,
            ParameterId::PREFERRED_ADDRESS => {
                self.preferred_address = Some(PreferredAddress::decode(value)?);
            }
            ParameterId::ACTIVE_CONNECTION_ID_LIMIT => {
                self.active_connection_id_limit = int(value)?;
            }
            ParameterId::INITIAL_SOURCE_CONNECTION_ID => {
                self.initial_source_connection_id = Some(cid(value)?);
            }
            ParameterId::RETRY_SOURCE_CONNECTION_ID => {
                self.retry_source_connection_id = Some(cid(value)?);
            }
            ParameterId::VERSION_INFORMATION => {
                self.version_information = Some(VersionInformation::decode(value)?);
            }
            ParameterId::MAX_DATAGRAM_FRAME_SIZE => self.max_datagram_frame_size = int(value)?,
            //= https://www.rfc-editor.org/rfc/rfc9287#section-3
            //# an endpoint that understands this transport parameter MUST treat
            //# receipt of a non-empty value of the transport parameter as a
            //# connection error of type TRANSPORT_PARAMETER_ERROR.
            ParameterId::GREASE_QUIC_BIT => self.grease_quic_bit = flag(value)?,
            //= https://www.rfc-editor.org/rfc/rfc9000#section-7.4.2
            //# An endpoint MUST ignore transport parameters that it does not
            //# support.
            _ => {}
        }
        Ok(())
    }
}

/// The bit tracking a known parameter in the duplicate check. Unknown
/// parameters are not tracked: that would take memory or quadratic time,
/// and they are ignored anyway.
fn seen_bit(id: ParameterId) -> Option<u32> {
    match id.0 {
        0x00..=0x11 => Some(1 << id.0),
        0x20 => Some(1 << 18),
        0x2ab2 => Some(1 << 19),
        _ => None,
    }
}

/// An integer parameter: exactly one varint.
fn int(value: &[u8]) -> Result<VarInt, TransportError> {
    let mut r = Reader::new(value);
    match r.read_varint() {
        Ok(v) if r.is_empty() => Ok(v),
        _ => Err(param_error("integer parameter length mismatch")),
    }
}

/// A zero-length parameter; its presence means true.
fn flag(value: &[u8]) -> Result<bool, TransportError> {
    if value.is_empty() {
        Ok(true)
    } else {
        Err(param_error("non-empty flag parameter"))
    }
}

/// A connection ID parameter: the whole value, up to 20 bytes.
fn cid(value: &[u8]) -> Result<ConnectionId, TransportError> {
    ConnectionId::from_slice(value).map_err(|_| param_error("connection ID over 20 bytes"))
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_transport_params_codec))]
mod tests {
    use super::*;
    use crate::protocol::error::TransportErrorCode;
    use crate::protocol::test_rng::XorShift64;
    use core::net::{Ipv4Addr, SocketAddrV4};

    const TPE: Option<TransportErrorCode> = Some(TransportErrorCode::TRANSPORT_PARAMETER_ERROR);

    fn code(r: Result<TransportParameters, TransportError>) -> Option<TransportErrorCode> {
        r.err().map(|e| e.code)
    }

    fn cid_of(bytes: &[u8]) -> ConnectionId {
        ConnectionId::from_slice(bytes).unwrap_or(ConnectionId::EMPTY)
    }

    fn full_server() -> TransportParameters {
        let v = VarInt::from_u32;
        TransportParameters {
            original_destination_connection_id: Some(cid_of(&[1; 8])),
            max_idle_timeout: v(30_000),
            stateless_reset_token: Some([0xab; 16]),
            max_udp_payload_size: v(1472),
            initial_max_data: v(1 << 20),
            initial_max_stream_data_bidi_local: v(1 << 18),
            initial_max_stream_data_bidi_remote: v(1 << 17),
            initial_max_stream_data_uni: v(1 << 16),
            initial_max_streams_bidi: v(100),
            initial_max_streams_uni: v(3),
            ack_delay_exponent: v(10),
            max_ack_delay: v(16_383),
            disable_active_migration: true,
            preferred_address: Some(PreferredAddress {
                ipv4: Some(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 443)),
                ipv6: None,
                id: cid_of(&[7; 20]),
                reset_token: [0xcd; 16],
            }),
            active_connection_id_limit: v(8),
            initial_source_connection_id: Some(cid_of(&[2; 4])),
            retry_source_connection_id: Some(cid_of(&[3; 12])),
            max_datagram_frame_size: v(65535),
            grease_quic_bit: true,
            version_information: VersionInformation::new(1, &[1, 0x6b33_43cf]),
        }
    }

    fn encode<'b>(
        p: &TransportParameters,
        grease: Option<&GreaseParameter>,
        buf: &'b mut [u8],
    ) -> &'b [u8] {
        let mut w = Writer::new(buf);
        assert_eq!(p.encode(grease, &mut w), Ok(()));
        let n = w.len();
        assert_eq!(n, p.encoded_size(grease));
        &buf[..n]
    }

    #[test]
    fn defaults_encode_to_nothing() -> Result<(), TransportError> {
        let mut buf = [0u8; 4];
        let bytes = encode(&TransportParameters::DEFAULT, None, &mut buf);
        assert!(bytes.is_empty());
        assert_eq!(
            TransportParameters::decode(&[], Side::Client)?,
            TransportParameters::DEFAULT
        );
        Ok(())
    }

    #[test]
    fn full_round_trip_with_grease() -> Result<(), TransportError> {
        let p = full_server();
        let grease = GreaseParameter::from_random(0x0123_4567_89ab_cdef);
        assert!(grease.id().is_reserved());
        assert_eq!(grease.value().len(), 0xf);
        let mut buf = [0u8; 256];
        let bytes = encode(&p, Some(&grease), &mut buf);
        assert_eq!(TransportParameters::decode(bytes, Side::Server)?, p);
        // The same parameters from a client are refused.
        assert_eq!(code(TransportParameters::decode(bytes, Side::Client)), TPE);
        Ok(())
    }

    #[test]
    fn known_encoding() -> Result<(), TransportError> {
        let p = TransportParameters {
            max_idle_timeout: VarInt::from_u32(30_000),
            initial_source_connection_id: Some(cid_of(&[0xaa, 0xbb])),
            disable_active_migration: true,
            grease_quic_bit: true,
            ..TransportParameters::DEFAULT
        };
        let mut buf = [0u8; 32];
        let bytes = encode(&p, None, &mut buf);
        assert_eq!(
            bytes,
            &[
                0x01, 0x04, 0x80, 0x00, 0x75, 0x30, // max_idle_timeout 30000
                0x0c, 0x00, // disable_active_migration
                0x0f, 0x02, 0xaa, 0xbb, // initial_source_connection_id
                0x6a, 0xb2, 0x00, // grease_quic_bit
            ]
        );
        assert_eq!(TransportParameters::decode(bytes, Side::Client)?, p);
        Ok(())
    }

    #[test]
    fn unknown_and_reserved_are_ignored() -> Result<(), TransportError> {
        // Reserved 27 with 3 bytes, unknown 0x1234 with 1 byte, reserved 58
        // twice (unknown duplicates are not tracked), then max_data = 5.
        let bytes = [27, 3, 1, 2, 3, 0x52, 0x34, 1, 0, 58, 0, 58, 0, 0x04, 1, 5];
        let p = TransportParameters::decode(&bytes, Side::Client)?;
        assert_eq!(
            p,
            TransportParameters {
                initial_max_data: VarInt::from_u32(5),
                ..TransportParameters::DEFAULT
            }
        );
        Ok(())
    }

    #[test]
    fn duplicates_are_refused() {
        for dup in [
            &[0x04, 1, 5, 0x04, 1, 6][..],
            &[0x0c, 0, 0x0c, 0],
            &[0x20, 1, 1, 0x20, 1, 1],
            &[0x80, 0, 0x2a, 0xb2, 0, 0x80, 0, 0x2a, 0xb2, 0],
            &[0x11, 4, 0, 0, 0, 1, 0x11, 4, 0, 0, 0, 1],
        ] {
            assert_eq!(code(TransportParameters::decode(dup, Side::Server)), TPE);
        }
    }

    #[test]
    fn lengths_must_match_content() {
        let cases: [&[u8]; 12] = [
            // Integer with a trailing byte, and an empty integer.
            &[0x04, 2, 5, 0],
            &[0x04, 0],
            // Integer whose varint claims more bytes than the length.
            &[0x04, 1, 0x40],
            // Flags with a value.
            &[0x0c, 1, 0],
            &[0x6a, 0xb2, 1, 0],
            // Reset tokens of 15 and 17 bytes.
            &[0x02, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x02, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            // A 21-byte connection ID.
            &[
                0x0f, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            // Value longer than the extension.
            &[0x04, 2, 5],
            // Truncated identifier and length.
            &[0x40],
            &[0x04],
            // Version information not a multiple of four.
            &[0x11, 5, 0, 0, 0, 1, 0],
        ];
        for bytes in cases {
            assert_eq!(code(TransportParameters::decode(bytes, Side::Server)), TPE);
        }
    }

    #[test]
    fn decoded_values_are_validated() {
        let cases: [&[u8]; 7] = [
            &[0x03, 2, 0x44, 0xaf],                // max_udp_payload_size 1199
            &[0x0a, 1, 21],                        // ack_delay_exponent 21
            &[0x0b, 2, 0x80 | 0x40, 0],            // not a 2-byte varint: length mismatch
            &[0x0b, 4, 0x80, 0, 0x40, 0],          // max_ack_delay 2^14
            &[0x0e, 1, 1],                         // active_connection_id_limit 1
            &[0x08, 8, 0xd0, 0, 0, 0, 0, 0, 0, 1], // initial_max_streams_bidi 2^60 + 1
            &[0x11, 4, 0, 0, 0, 0],                // chosen version 0
        ];
        for bytes in cases {
            assert_eq!(code(TransportParameters::decode(bytes, Side::Server)), TPE);
        }
        // A client's chosen version must be in its available list.
        let vi = [0x11, 8, 0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(code(TransportParameters::decode(&vi, Side::Client)), TPE);
        assert!(TransportParameters::decode(&vi, Side::Server).is_ok());
    }

    #[test]
    fn short_buffer_is_untouched() {
        let p = full_server();
        let size = p.encoded_size(None);
        let mut buf = [0x77u8; 256];
        let mut w = Writer::new(&mut buf[..size - 1]);
        assert_eq!(p.encode(None, &mut w), Err(BufferTooShort));
        assert!(w.is_empty());
        assert!(buf.iter().all(|b| *b == 0x77));
    }

    #[test]
    fn grease_parameters_vary() {
        let mut rng = XorShift64::new(0x2545_f491_4f6c_dd1d);
        for _ in 0..64 {
            let g = GreaseParameter::from_random(rng.next_u64());
            assert!(g.id().is_reserved());
            assert!(g.id().0 <= 31 * 0xffff + 27);
            assert!(g.value().len() < GreaseParameter::MAX_LEN);
        }
    }
}
