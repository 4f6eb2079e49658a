// SPDX-License-Identifier: GPL-2.0

//! Coalesced packets (RFC 9000 §12.2).
//!
//! A datagram may carry several long header packets back to back, each
//! delimited by its Length field, and end with one short header packet.
//! [`Datagram`] walks them, splitting the caller's buffer so that each
//! packet can be unprotected in place independently of the others.

use crate::protocol::packet::header::{decode, DecodeParams, Packet};
use crate::protocol::packet::PacketError;

/// An iterator over the packets of a datagram.
///
/// A packet that cannot be parsed ends the iteration after its error: the
/// rest of the datagram cannot be delimited. A packet whose Destination
/// Connection ID differs from the first one's is reported as
/// [`PacketError::DcidMismatch`], and iteration goes on past it.
#[derive(Debug)]
pub struct Datagram<'a> {
    rest: &'a mut [u8],
    params: DecodeParams,
    first_dcid: Option<crate::protocol::cid::ConnectionId>,
}

impl<'a> Datagram<'a> {
    /// Walks the packets of `datagram`.
    pub fn new(datagram: &'a mut [u8], params: DecodeParams) -> Self {
        Self {
            rest: datagram,
            params,
            first_dcid: None,
        }
    }
}

impl<'a> Iterator for Datagram<'a> {
    type Item = Result<Packet<'a>, PacketError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let buf = core::mem::take(&mut self.rest);
        let (packet, rest) = match decode(buf, &self.params) {
            Ok(decoded) => decoded,
            Err(e) => return Some(Err(e)),
        };
        self.rest = rest;
        let dcid = packet.dcid();
        match &self.first_dcid {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-12.2
            //# Receivers SHOULD ignore any subsequent packets with a different
            //# Destination Connection ID than the first packet in the datagram.
            Some(first) if first.as_slice() != dcid => Some(Err(PacketError::DcidMismatch)),
            Some(_) => Some(Ok(packet)),
            None => {
                // Longer IDs (of unsupported versions) end the datagram anyway.
                self.first_dcid = crate::protocol::cid::ConnectionId::from_slice(dcid).ok();
                Some(Ok(packet))
            }
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_packet_datagram))]
mod tests {
    use super::*;
    use crate::protocol::cid::ConnectionId;
    use crate::protocol::codec::Writer;
    use crate::protocol::crypto::null::{NullHeaderKey, NullPacketKey};
    use crate::protocol::crypto::{CipherSuite, TAG_LEN};
    use crate::protocol::packet::header::{LongHeader, ShortHeader};
    use crate::protocol::packet::number::PacketNumberLen;
    use crate::protocol::packet::protection::seal;
    use crate::protocol::packet::version::Version;
    use crate::protocol::packet::{LongType, PacketKind};
    use crate::protocol::test_rng::XorShift64;

    const PARAMS: DecodeParams = DecodeParams {
        local_cid_len: 4,
        accept_cleared_fixed_bit: false,
    };

    fn cid(b: u8) -> ConnectionId {
        ConnectionId::from_slice(&[b; 4]).unwrap_or(ConnectionId::EMPTY)
    }

    /// Appends a sealed packet to `w`: long of `ty`, or short if `None`.
    fn put(
        w: &mut Writer<'_>,
        ty: Option<LongType>,
        dcid: ConnectionId,
        payload: usize,
    ) -> Result<(), PacketError> {
        let pk = NullPacketKey::new(CipherSuite::Aes128GcmSha256, 1);
        let hk = NullHeaderKey::new(1);
        let start = w.len();
        let layout = match ty {
            Some(ty) => LongHeader {
                ty,
                version: Version::V1,
                dcid,
                scid: cid(0),
                token: &[],
                pn: 0,
                pn_len: PacketNumberLen::Two,
                fixed_bit: true,
            }
            .encode(w)?,
            None => ShortHeader {
                dcid,
                pn: 0,
                pn_len: PacketNumberLen::Two,
                spin: false,
                key_phase: false,
                fixed_bit: true,
            }
            .encode(w)?,
        };
        w.reserve(payload + TAG_LEN)?.fill(1);
        let end = w.len();
        let packet = w
            .written_mut()
            .get_mut(start..end)
            .ok_or(PacketError::InvalidInput)?;
        seal(packet, &layout, &pk, &hk)
    }

    #[test]
    fn splits_coalesced_packets() -> Result<(), PacketError> {
        let mut buf = [0u8; 400];
        let mut w = Writer::new(&mut buf);
        put(&mut w, Some(LongType::Initial), cid(1), 40)?;
        put(&mut w, Some(LongType::Handshake), cid(1), 20)?;
        put(&mut w, Some(LongType::Handshake), cid(2), 20)?;
        put(&mut w, None, cid(1), 10)?;
        let n = w.len();
        let mut kinds = [None; 4];
        let mut errors = 0;
        for (i, p) in Datagram::new(&mut buf[..n], PARAMS).enumerate() {
            match p {
                Ok(Packet::Protected(p)) => kinds[i] = Some(p.header().kind),
                Err(PacketError::DcidMismatch) => errors += 1,
                _ => return Err(PacketError::Malformed),
            }
        }
        assert_eq!(
            kinds,
            [
                Some(PacketKind::Initial),
                Some(PacketKind::Handshake),
                None,
                Some(PacketKind::OneRtt)
            ]
        );
        assert_eq!(errors, 1);
        Ok(())
    }

    #[test]
    fn stops_after_garbage() -> Result<(), PacketError> {
        let mut buf = [0u8; 200];
        let mut w = Writer::new(&mut buf);
        put(&mut w, Some(LongType::Initial), cid(1), 40)?;
        // Zero padding after the packet reads as a short header with the
        // Fixed Bit cleared.
        let n = w.len() + 30;
        let mut it = Datagram::new(&mut buf[..n], PARAMS);
        assert!(matches!(it.next(), Some(Ok(Packet::Protected(_)))));
        assert!(matches!(it.next(), Some(Err(PacketError::FixedBitCleared))));
        assert!(it.next().is_none());
        Ok(())
    }

    #[test]
    fn random_datagrams_never_panic() {
        let mut rng = XorShift64::new(0xdead_beef_cafe_f00d);
        let mut buf = [0u8; 128];
        for round in 0..3000 {
            rng.fill(&mut buf);
            let x = rng.next_u64();
            if round % 2 == 0 {
                // A plausible v1 long header with a small length.
                buf[0] |= 0xc0;
                buf[1..5].copy_from_slice(&[0, 0, 0, 1]);
                buf[5] &= 0x0f;
            }
            let len = (x >> 33) as usize % buf.len();
            let grease = DecodeParams {
                accept_cleared_fixed_bit: round % 3 == 0,
                ..PARAMS
            };
            for p in Datagram::new(&mut buf[..len], grease).take(64) {
                if let Ok(Packet::Protected(p)) = p {
                    let _ = p.remove_header_protection(&NullHeaderKey::new(0), None);
                }
            }
        }
    }
}
