// SPDX-License-Identifier: GPL-2.0

//! Packet header decoding (RFC 9000 §17, RFC 8999, RFC 9287, RFC 9369):
//! short, long, Version Negotiation and Retry headers, with and without
//! accepting a cleared Fixed Bit (grease_quic_bit).
//!
//! The first input byte sets the decoding parameters (local connection ID
//! length, grease); the rest is a datagram. A decoded packet must lie
//! within the datagram with its fields where the header says; a Version
//! Negotiation packet must re-encode to the same bytes, and a Retry packet
//! to the same bytes up to its integrity tag (and verify when re-encoded).

#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_fuzz::Input;
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::crypto::null::NullProvider;
use quic_protocol::protocol::packet::header::{decode, DecodeParams, Packet};
use quic_protocol::protocol::packet::retry::{Retry, RetryHeader};
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::packet::version_negotiation::{LongInvariant, VersionNegotiation};
use quic_protocol::protocol::packet::{PacketError, PacketKind, FIXED_BIT};

fn check_retry(r: &Retry<'_>, bytes: &[u8]) {
    assert!(!r.token.is_empty());
    assert_eq!(r.tag().len(), 16);
    assert!(r.version.is_supported());
    let odcid = if r.scid.as_slice() == [0xff; 20] {
        [0xfe; 20]
    } else {
        [0xff; 20]
    };
    let odcid = ConnectionId::from_slice(&odcid).expect("20 bytes");
    let _ = r.verify(&NullProvider, &odcid);
    let header = RetryHeader {
        version: r.version,
        dcid: r.dcid,
        scid: r.scid,
        token: r.token,
        unused: bytes[0] & 0x0f,
        fixed_bit: bytes[0] & FIXED_BIT != 0,
    };
    assert_eq!(header.encoded_len(), bytes.len());
    let mut out = vec![0u8; bytes.len()];
    let mut w = Writer::new(&mut out);
    header
        .encode(&NullProvider, &odcid, &mut w)
        .expect("re-encode a Retry");
    assert_eq!(w.len(), bytes.len());
    let body = bytes.len() - 16;
    assert_eq!(out[..body], bytes[..body]);
    let again = Retry::decode(&out, true).expect("decode the re-encoded Retry");
    assert_eq!(again.verify(&NullProvider, &odcid), Ok(()));
}

fn check_vn(vn: &VersionNegotiation<'_>, bytes: &[u8]) {
    let versions: Vec<Version> = vn.versions().collect();
    assert_eq!(
        versions.len(),
        (bytes.len() - 7 - vn.dcid.len() - vn.scid.len()) / 4
    );
    for v in &versions {
        assert!(vn.offers(*v));
    }
    let mut out = vec![0u8; bytes.len()];
    let mut w = Writer::new(&mut out);
    VersionNegotiation::encode(&mut w, vn.dcid, vn.scid, bytes[0] & 0x7f, &versions)
        .expect("re-encode a Version Negotiation packet");
    assert_eq!(w.len(), bytes.len());
    assert_eq!(out, bytes);
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let b = input.u8();
    let params = DecodeParams {
        local_cid_len: usize::from(b & 0x1f).min(22),
        accept_cleared_fixed_bit: b & 0x80 != 0,
    };
    let original = input.rest().to_vec();
    let mut buf = original.clone();
    let total = buf.len();
    let res = decode(&mut buf, &params);
    let (packet, rest) = match res {
        Ok(decoded) => decoded,
        Err(e) => {
            assert!(
                matches!(
                    e,
                    PacketError::Malformed
                        | PacketError::FixedBitCleared
                        | PacketError::UnsupportedVersion
                ),
                "{e:?}"
            );
            if e == PacketError::FixedBitCleared {
                assert!(!params.accept_cleared_fixed_bit);
                assert_eq!(original[0] & FIXED_BIT, 0);
            }
            return;
        }
    };
    let rest_len = rest.len();
    let first = original[0];
    if first & FIXED_BIT == 0
        && !matches!(
            packet,
            Packet::VersionNegotiation(_) | Packet::UnsupportedVersion(_)
        )
    {
        assert!(params.accept_cleared_fixed_bit);
    }
    match &packet {
        Packet::Protected(p) => {
            let len = p.len();
            assert_eq!(len + rest_len, total);
            assert_eq!(p.as_bytes(), &original[..len]);
            let h = p.header();
            assert!(p.pn_offset() <= len);
            assert!(h.token.end <= p.pn_offset());
            assert_eq!(p.token(), &original[h.token.clone()]);
            if h.kind == PacketKind::OneRtt {
                assert_eq!(rest_len, 0);
                assert!(first & 0x80 == 0);
                assert_eq!(h.dcid.len(), params.local_cid_len);
                assert_eq!(h.dcid.as_slice(), &original[1..1 + h.dcid.len()]);
                assert_eq!(p.pn_offset(), 1 + h.dcid.len());
                assert!(h.version.is_none() && h.scid.is_empty());
            } else {
                let version = h.version.expect("long header version");
                assert!(version.is_supported());
                assert_eq!(u32::from(version).to_be_bytes(), original[1..5]);
                assert_eq!(usize::from(original[5]), h.dcid.len());
                assert_eq!(h.dcid.as_slice(), &original[6..6 + h.dcid.len()]);
                let s = 6 + h.dcid.len();
                assert_eq!(h.scid.as_slice(), &original[s + 1..s + 1 + h.scid.len()]);
                assert!(h.token.is_empty() || h.kind == PacketKind::Initial);
            }
        }
        Packet::Retry(r) => {
            assert_eq!(rest_len, 0);
            check_retry(r, &original);
            assert_eq!(
                Retry::decode(&original, params.accept_cleared_fixed_bit).as_ref(),
                Ok(r)
            );
        }
        Packet::VersionNegotiation(vn) => {
            assert_eq!(rest_len, 0);
            check_vn(vn, &original);
        }
        Packet::UnsupportedVersion(inv) => {
            assert_eq!(rest_len, 0);
            assert!(!inv.version.is_supported());
            assert_ne!(inv.version, Version::NEGOTIATION);
            let (again, _) = LongInvariant::decode(&original).expect("the same invariant");
            assert_eq!(&again, inv);
        }
    }

    // The standalone decoders never panic on the whole input either.
    if let Ok(r) = Retry::decode(&original, params.accept_cleared_fixed_bit) {
        check_retry(&r, &original);
    }
    if let Ok(vn) = VersionNegotiation::decode(&original) {
        check_vn(&vn, &original);
    }
    let _ = LongInvariant::decode(&original);
});
