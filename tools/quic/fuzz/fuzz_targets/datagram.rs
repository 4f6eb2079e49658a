// SPDX-License-Identifier: GPL-2.0

//! Coalesced packets (RFC 9000 §12.2): splitting a datagram.
//!
//! The first input byte sets the decoding parameters; the rest is a
//! datagram. The packets found must tile a prefix of the datagram in order;
//! iteration ends after the first error other than a Destination Connection
//! ID mismatch; a mismatch is only reported for a packet whose DCID differs
//! from the first packet's.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_fuzz::Input;
use quic_protocol::protocol::crypto::null::NullHeaderKey;
use quic_protocol::protocol::packet::datagram::Datagram;
use quic_protocol::protocol::packet::header::{decode, DecodeParams, Packet};
use quic_protocol::protocol::packet::PacketError;

fn packet_bytes<'p>(p: &'p Packet<'_>) -> Option<&'p [u8]> {
    match p {
        Packet::Protected(p) => Some(p.as_bytes()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let b = input.u8();
    let params = DecodeParams {
        local_cid_len: usize::from(b & 0x1f).min(21),
        accept_cleared_fixed_bit: b & 0x80 != 0,
    };
    let original = input.rest().to_vec();
    let mut buf = original.clone();

    // Walk the same datagram with `decode` step by step, as the model:
    // each step's verdict and length.
    let mut model = original.clone();
    let mut expected: Vec<(Result<(), PacketError>, usize)> = Vec::new();
    let mut rest: &mut [u8] = &mut model;
    let mut first_dcid: Option<Vec<u8>> = None;
    while !rest.is_empty() {
        let len_before = rest.len();
        match decode(core::mem::take(&mut rest), &params) {
            Ok((p, r)) => {
                let consumed = len_before - r.len();
                assert!(consumed > 0, "a packet of zero bytes");
                let dcid = p.dcid().to_vec();
                let mismatch = first_dcid.as_ref().is_some_and(|f| *f != dcid);
                if first_dcid.is_none() && dcid.len() <= 20 {
                    first_dcid = Some(dcid);
                }
                let verdict = if mismatch {
                    Err(PacketError::DcidMismatch)
                } else {
                    Ok(())
                };
                expected.push((verdict, consumed));
                rest = r;
            }
            Err(e) => {
                expected.push((Err(e), 0));
                break;
            }
        }
    }

    let mut offset = 0;
    let mut steps = 0;
    let key = NullHeaderKey::new(u64::from(b));
    for packet in Datagram::new(&mut buf, params) {
        let Some((verdict, consumed)) = expected.get(steps) else {
            panic!("more packets than the model: {expected:?}");
        };
        steps += 1;
        match packet {
            Ok(p) => {
                assert_eq!(*verdict, Ok(()));
                let len = packet_bytes(&p).map_or(original.len() - offset, <[u8]>::len);
                assert_eq!(len, *consumed);
                if let Some(bytes) = packet_bytes(&p) {
                    assert_eq!(bytes, &original[offset..offset + len]);
                }
                if let Packet::Protected(p) = p {
                    // Header protection removal on arbitrary bytes either
                    // fails or yields a packet number; never panics.
                    let _ = p.remove_header_protection(&key, Some(u64::from(b) << 20));
                }
            }
            Err(e) => assert_eq!(*verdict, Err(e)),
        }
        offset += consumed;
    }
    assert_eq!(steps, expected.len());
    assert!(offset <= original.len());
});
