// SPDX-License-Identifier: GPL-2.0

//! Version-independent long headers and Version Negotiation (RFC 8999 §5,
//! §6; RFC 9000 §6, §17.2.1).
//!
//! Every QUIC version keeps the first byte's form bit, the version and two
//! length-prefixed connection IDs of up to 255 bytes in the same place
//! ([`LongInvariant`]). That is all a server knows of a packet in a version it
//! does not speak, and all it needs to answer with a [`VersionNegotiation`]
//! packet listing the versions it does.

use crate::protocol::codec::{Reader, Writer};
use crate::protocol::packet::version::Version;
use crate::protocol::packet::{PacketError, HEADER_FORM_BIT};

/// The version-independent fields of a long header (RFC 8999 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongInvariant<'a> {
    /// The first byte; only its high bit is version-independent.
    pub first_byte: u8,
    /// The version.
    pub version: Version,
    /// The Destination Connection ID (up to 255 bytes).
    pub dcid: &'a [u8],
    /// The Source Connection ID (up to 255 bytes).
    pub scid: &'a [u8],
}

impl<'a> LongInvariant<'a> {
    /// Decodes the invariant fields of a long header packet, returning them
    /// and the version-specific bytes that follow.
    pub fn decode(packet: &'a [u8]) -> Result<(Self, &'a [u8]), PacketError> {
        let mut r = Reader::new(packet);
        let first_byte = r.read_u8()?;
        if first_byte & HEADER_FORM_BIT == 0 {
            return Err(PacketError::Malformed);
        }
        let version = Version(r.read_u32()?);
        let dcid_len = usize::from(r.read_u8()?);
        let dcid = r.read_bytes(dcid_len)?;
        let scid_len = usize::from(r.read_u8()?);
        let scid = r.read_bytes(scid_len)?;
        let invariant = Self {
            first_byte,
            version,
            dcid,
            scid,
        };
        Ok((invariant, r.read_rest()))
    }
}

/// A Version Negotiation packet (RFC 9000 §17.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionNegotiation<'a> {
    /// The Destination Connection ID: the client's Source Connection ID.
    pub dcid: &'a [u8],
    /// The Source Connection ID: the client's Destination Connection ID.
    pub scid: &'a [u8],
    versions: &'a [u8],
}

/// The smallest datagram a server answers with Version Negotiation: as for
/// Initial packets, anything smaller could amplify an attack (RFC 9000 §6.1,
/// §14.1).
pub const MIN_TRIGGER_DATAGRAM_LEN: usize = 1200;

impl<'a> VersionNegotiation<'a> {
    /// Decodes a Version Negotiation packet: a long header with version 0
    /// followed by a list of 32-bit versions.
    pub fn decode(packet: &'a [u8]) -> Result<Self, PacketError> {
        let (invariant, versions) = LongInvariant::decode(packet)?;
        if invariant.version != Version::NEGOTIATION || versions.len() % 4 != 0 {
            return Err(PacketError::Malformed);
        }
        Ok(Self {
            dcid: invariant.dcid,
            scid: invariant.scid,
            versions,
        })
    }

    /// The versions the server offers.
    pub fn versions(&self) -> impl Iterator<Item = Version> + 'a {
        self.versions.chunks_exact(4).map(|v| {
            let mut be = [0u8; 4];
            be.copy_from_slice(v);
            Version(u32::from_be_bytes(be))
        })
    }

    /// Whether `version` is offered. A client MUST discard a Version
    /// Negotiation packet listing the version it attempted (RFC 9000 §6.2).
    pub fn offers(&self, version: Version) -> bool {
        self.versions().any(|v| v == version)
    }

    /// The size of a Version Negotiation packet.
    pub const fn encoded_len(dcid: &[u8], scid: &[u8], versions: usize) -> usize {
        1 + 4 + 1 + dcid.len() + 1 + scid.len() + 4 * versions
    }

    /// Writes a Version Negotiation packet. `unused` fills the seven low bits
    /// of the first byte (an arbitrary value; RFC 9000 §17.2.1 recommends
    /// setting 0x40); `versions` should include a reserved version now and
    /// then ([`Version::reserved`]).
    pub fn encode(
        w: &mut Writer<'_>,
        dcid: &[u8],
        scid: &[u8],
        unused: u8,
        versions: &[Version],
    ) -> Result<(), PacketError> {
        let dcid_len = u8::try_from(dcid.len()).map_err(|_| PacketError::InvalidInput)?;
        let scid_len = u8::try_from(scid.len()).map_err(|_| PacketError::InvalidInput)?;
        if Self::encoded_len(dcid, scid, versions.len()) > w.remaining() {
            return Err(PacketError::BufferTooShort);
        }
        w.put_u8(HEADER_FORM_BIT | unused)?;
        w.put_u32(Version::NEGOTIATION.0)?;
        w.put_u8(dcid_len)?;
        w.put_bytes(dcid)?;
        w.put_u8(scid_len)?;
        w.put_bytes(scid)?;
        for v in versions {
            w.put_u32(v.0)?;
        }
        Ok(())
    }

    /// Writes the answer to a client packet of an unsupported version: its
    /// connection IDs swapped (RFC 9000 §17.2.1), 0x40 in the first byte
    /// (RFC 9000 §17.2.1, for demultiplexing with other protocols).
    //= https://www.rfc-editor.org/rfc/rfc9000#section-17.2.1
    //# The server MUST include the value from the Source Connection ID field
    //# of the packet it receives in the Destination Connection ID field.
    pub fn encode_response(
        w: &mut Writer<'_>,
        to: &LongInvariant<'_>,
        versions: &[Version],
    ) -> Result<(), PacketError> {
        Self::encode(w, to.scid, to.dcid, 0x40, versions)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(
    not(test),
    kernel::macros::kunit_tests(quic_packet_version_negotiation)
)]
mod tests {
    use super::*;

    #[test]
    fn response_round_trip() -> Result<(), PacketError> {
        let client = [
            0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 3, 1, 2, 3, 2, 4, 5, 0xff, 0xff,
        ];
        let (invariant, rest) = LongInvariant::decode(&client)?;
        assert_eq!(invariant.version, Version(0x1a2a3a4a));
        assert_eq!(rest, &[0xff, 0xff]);
        let offered = [Version::V1, Version::V2, Version::reserved(0x5555_5555)];
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        VersionNegotiation::encode_response(&mut w, &invariant, &offered)?;
        assert_eq!(
            w.len(),
            VersionNegotiation::encoded_len(&[4, 5], &[1, 2, 3], 3)
        );
        assert_eq!(&w.written()[..12], &[0xc0, 0, 0, 0, 0, 2, 4, 5, 3, 1, 2, 3]);
        let n = w.len();
        let vn = VersionNegotiation::decode(&buf[..n])?;
        assert_eq!(vn.dcid, &[4, 5]);
        assert_eq!(vn.scid, &[1, 2, 3]);
        assert!(vn.versions().eq(offered.iter().copied()));
        assert!(vn.offers(Version::V2));
        assert!(!vn.offers(Version(0x1a2a3a4a)));
        Ok(())
    }

    #[test]
    fn malformed() {
        // Short header, truncated CID, version list not a multiple of 4,
        // non-zero version.
        for bad in [
            &[0x40u8, 0, 0, 0, 0, 0, 0][..],
            &[0x80, 0, 0, 0, 0, 5, 1],
            &[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            &[0x80, 0, 0, 0, 1, 0, 0],
        ] {
            assert_eq!(
                VersionNegotiation::decode(bad).err(),
                Some(PacketError::Malformed)
            );
        }
        let mut buf = [0u8; 300];
        let long = [0u8; 256];
        assert_eq!(
            VersionNegotiation::encode(&mut Writer::new(&mut buf), &long, &[], 0, &[]),
            Err(PacketError::InvalidInput)
        );
        assert_eq!(
            VersionNegotiation::encode(
                &mut Writer::new(&mut buf[..10]),
                &[],
                &[],
                0,
                &[Version::V1; 2]
            ),
            Err(PacketError::BufferTooShort)
        );
    }

    #[test]
    fn long_connection_ids() -> Result<(), PacketError> {
        // RFC 8999 allows connection IDs of up to 255 bytes.
        let dcid = [7u8; 255];
        let mut buf = [0u8; 600];
        let mut w = Writer::new(&mut buf);
        VersionNegotiation::encode(&mut w, &dcid, &dcid[..200], 0x7f, &[Version::V1])?;
        let n = w.len();
        let vn = VersionNegotiation::decode(&buf[..n])?;
        assert_eq!(vn.dcid.len(), 255);
        assert_eq!(vn.scid.len(), 200);
        Ok(())
    }
}
