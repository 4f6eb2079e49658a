// SPDX-License-Identifier: GPL-2.0

//! Retry packets (RFC 9000 §17.2.5, RFC 9001 §5.8, RFC 9369 §3.3.3).
//!
//! A Retry carries a token the client must echo and ends with an integrity
//! tag over the packet and the Destination Connection ID of the client's
//! Initial (the "original" DCID), which is not in the packet: only the
//! client, which remembers it, can verify the tag.

use crate::protocol::cid::ConnectionId;
use crate::protocol::codec::{Reader, Writer};
use crate::protocol::crypto::retry::{integrity_tag, verify_integrity_tag, RETRY_TAG_LEN};
use crate::protocol::crypto::Provider;
use crate::protocol::packet::version::Version;
use crate::protocol::packet::{LongType, PacketError, FIXED_BIT, HEADER_FORM_BIT};

/// A received Retry packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry<'a> {
    /// The version.
    pub version: Version,
    /// The Destination Connection ID: the client's Source Connection ID.
    pub dcid: ConnectionId,
    /// The Source Connection ID, which the client uses as Destination
    /// Connection ID from now on.
    pub scid: ConnectionId,
    /// The Retry Token, never empty.
    pub token: &'a [u8],
    packet: &'a [u8],
}

impl<'a> Retry<'a> {
    /// Decodes a Retry packet filling `packet`. Accepts a cleared Fixed Bit
    /// only with `accept_cleared_fixed_bit` (RFC 9287).
    pub fn decode(packet: &'a [u8], accept_cleared_fixed_bit: bool) -> Result<Self, PacketError> {
        let mut r = Reader::new(packet);
        let first = r.read_u8()?;
        let version = Version(r.read_u32()?);
        if first & HEADER_FORM_BIT == 0 {
            return Err(PacketError::Malformed);
        }
        if version.long_type(first >> 4) != Some(LongType::Retry) {
            return Err(if version.is_supported() {
                PacketError::Malformed
            } else {
                PacketError::UnsupportedVersion
            });
        }
        if first & FIXED_BIT == 0 && !accept_cleared_fixed_bit {
            return Err(PacketError::FixedBitCleared);
        }
        let dcid = ConnectionId::decode_with_len_u8(&mut r)?;
        let scid = ConnectionId::decode_with_len_u8(&mut r)?;
        let token_len = r
            .remaining()
            .checked_sub(RETRY_TAG_LEN)
            .ok_or(PacketError::Malformed)?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-17.2.5.2
        //# A client MUST discard a Retry packet with a zero-length Retry Token
        //# field.
        if token_len == 0 {
            return Err(PacketError::Malformed);
        }
        let token = r.read_bytes(token_len)?;
        Ok(Self {
            version,
            dcid,
            scid,
            token,
            packet,
        })
    }

    /// The Retry Integrity Tag.
    pub fn tag(&self) -> &'a [u8] {
        let start = self.packet.len().saturating_sub(RETRY_TAG_LEN);
        self.packet.get(start..).unwrap_or(&[])
    }

    /// Verifies the integrity tag against `odcid`, the Destination
    /// Connection ID of the Initial packet the client sent.
    pub fn verify<P: Provider>(
        &self,
        provider: &P,
        odcid: &ConnectionId,
    ) -> Result<(), PacketError> {
        verify_integrity_tag(provider, self.version, odcid.as_slice(), self.packet)?;
        Ok(())
    }
}

/// A Retry packet to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryHeader<'a> {
    /// The version of the client's Initial.
    pub version: Version,
    /// The Destination Connection ID: the client's Source Connection ID.
    pub dcid: ConnectionId,
    /// The Source Connection ID chosen by the server.
    pub scid: ConnectionId,
    /// The Retry Token, not empty.
    pub token: &'a [u8],
    /// The four low bits of the first byte, arbitrary.
    pub unused: u8,
    /// The Fixed Bit. Only clear it if the client advertised
    /// grease_quic_bit (RFC 9287 §3.1).
    pub fixed_bit: bool,
}

impl RetryHeader<'_> {
    /// The size of the Retry packet, tag included.
    pub const fn encoded_len(&self) -> usize {
        1 + 4 + 1 + self.dcid.len() + 1 + self.scid.len() + self.token.len() + RETRY_TAG_LEN
    }

    /// Writes the Retry packet answering an Initial whose Destination
    /// Connection ID was `odcid`, with its integrity tag.
    pub fn encode<P: Provider>(
        &self,
        provider: &P,
        odcid: &ConnectionId,
        w: &mut Writer<'_>,
    ) -> Result<(), PacketError> {
        let type_bits = self
            .version
            .long_type_bits(LongType::Retry)
            .ok_or(PacketError::InvalidInput)?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-17.2.5.1
        //# This value MUST NOT be equal to the Destination
        //# Connection ID field of the packet sent by the client.
        if self.token.is_empty() || self.scid == *odcid {
            return Err(PacketError::InvalidInput);
        }
        if self.encoded_len() > w.remaining() {
            return Err(PacketError::BufferTooShort);
        }
        let start = w.len();
        let fixed = if self.fixed_bit { FIXED_BIT } else { 0 };
        w.put_u8(HEADER_FORM_BIT | fixed | type_bits << 4 | (self.unused & 0x0f))?;
        w.put_u32(self.version.0)?;
        self.dcid.encode_with_len_u8(w)?;
        self.scid.encode_with_len_u8(w)?;
        w.put_bytes(self.token)?;
        let packet = w.written().get(start..).ok_or(PacketError::InvalidInput)?;
        let tag = integrity_tag(provider, self.version, odcid.as_slice(), packet)?;
        w.put_bytes(&tag)?;
        Ok(())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_packet_retry))]
mod tests {
    use super::*;
    use crate::protocol::crypto::null::NullProvider;
    use crate::protocol::crypto::CryptoError;

    fn cid(bytes: &[u8]) -> ConnectionId {
        ConnectionId::from_slice(bytes).unwrap_or(ConnectionId::EMPTY)
    }

    #[test]
    fn round_trip() -> Result<(), PacketError> {
        let (dcid, scid, odcid) = (cid(&[1; 4]), cid(&[2; 8]), cid(&[3; 8]));
        for version in Version::SUPPORTED {
            let header = RetryHeader {
                version,
                dcid,
                scid,
                token: b"token",
                unused: 0xa,
                fixed_bit: true,
            };
            let mut buf = [0u8; 64];
            let mut w = Writer::new(&mut buf);
            header.encode(&NullProvider, &odcid, &mut w)?;
            let n = w.len();
            assert_eq!(n, header.encoded_len());
            let retry = Retry::decode(&buf[..n], false)?;
            assert_eq!(retry.version, version);
            assert_eq!(retry.dcid, dcid);
            assert_eq!(retry.scid, scid);
            assert_eq!(retry.token, b"token");
            assert_eq!(retry.tag(), &buf[n - 16..n]);
            assert_eq!(retry.verify(&NullProvider, &odcid), Ok(()));
            assert_eq!(
                retry.verify(&NullProvider, &dcid),
                Err(PacketError::Crypto(CryptoError::AuthenticationFailed))
            );
        }
        Ok(())
    }

    #[test]
    fn malformed() {
        // No token, only a tag.
        let mut empty = [0u8; 7 + 16];
        empty[..7].copy_from_slice(&[0xf0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(
            Retry::decode(&empty, false).err(),
            Some(PacketError::Malformed)
        );
        // Truncated before the tag ends.
        assert_eq!(
            Retry::decode(&empty[..20], false).err(),
            Some(PacketError::Malformed)
        );
        // Not a Retry type in v1 (0xe0 is Handshake).
        let mut hs = empty;
        hs[0] = 0xe0;
        assert_eq!(
            Retry::decode(&hs, false).err(),
            Some(PacketError::Malformed)
        );
        // Fixed bit cleared.
        let mut cleared = [0u8; 8 + 16];
        cleared[..8].copy_from_slice(&[0xb0, 0, 0, 0, 1, 0, 0, 9]);
        assert_eq!(
            Retry::decode(&cleared, false).err(),
            Some(PacketError::FixedBitCleared)
        );
        assert!(Retry::decode(&cleared, true).is_ok());
        let mut buf = [0u8; 64];
        let c = cid(&[1]);
        let same_as_odcid = RetryHeader {
            version: Version::V1,
            dcid: c,
            scid: c,
            token: b"t",
            unused: 0,
            fixed_bit: true,
        };
        let mut w = Writer::new(&mut buf);
        assert_eq!(
            same_as_odcid.encode(&NullProvider, &c, &mut w),
            Err(PacketError::InvalidInput)
        );
        let no_token = RetryHeader {
            scid: cid(&[2]),
            token: b"",
            ..same_as_odcid
        };
        assert_eq!(
            no_token.encode(&NullProvider, &c, &mut w),
            Err(PacketError::InvalidInput)
        );
        let unknown = RetryHeader {
            version: Version(0x0a0a_0a0a),
            scid: cid(&[2]),
            ..same_as_odcid
        };
        assert_eq!(
            unknown.encode(&NullProvider, &c, &mut w),
            Err(PacketError::InvalidInput)
        );
        let roomless = RetryHeader {
            scid: cid(&[2]),
            ..same_as_odcid
        };
        let mut small = [0u8; 20];
        assert_eq!(
            roomless.encode(&NullProvider, &c, &mut Writer::new(&mut small)),
            Err(PacketError::BufferTooShort)
        );
    }
}
