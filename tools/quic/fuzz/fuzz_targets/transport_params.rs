// SPDX-License-Identifier: GPL-2.0

//! Transport parameters (RFC 9000 §18; RFC 9221, 9287, 9368), as sent by a
//! client and by a server.
//!
//! Whatever decodes must validate for its sender, re-encode (with and
//! without a grease parameter) to exactly its reported size, no larger than
//! the input without grease, and decode back equal. Whatever fails must
//! fail with TRANSPORT_PARAMETER_ERROR.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::error::TransportErrorCode;
use quic_protocol::protocol::transport_params::{GreaseParameter, Side, TransportParameters};

fn round_trip(p: &TransportParameters, side: Side, grease: Option<&GreaseParameter>) -> usize {
    let size = p.encoded_size(grease);
    let mut buf = vec![0u8; size];
    if size > 0 {
        let mut w = Writer::new(&mut buf[..size - 1]);
        assert!(p.encode(grease, &mut w).is_err());
        assert_eq!(w.len(), 0);
    }
    let mut w = Writer::new(&mut buf);
    p.encode(grease, &mut w)
        .expect("encode into the reported size");
    assert_eq!(w.len(), size);
    assert_eq!(TransportParameters::decode(&buf, side).as_ref(), Ok(p));
    size
}

fuzz_target!(|data: &[u8]| {
    let mut seed = [0u8; 8];
    for (s, d) in seed.iter_mut().zip(data) {
        *s = *d;
    }
    let grease = GreaseParameter::from_random(u64::from_le_bytes(seed));
    assert!(grease.id().is_reserved());
    for side in [Side::Client, Side::Server] {
        match TransportParameters::decode(data, side) {
            Ok(p) => {
                assert_eq!(p.validate(side), Ok(()));
                let size = round_trip(&p, side, None);
                assert!(size <= data.len(), "{size} > {}", data.len());
                round_trip(&p, side, Some(&grease));
                if side == Side::Server {
                    // Server-only parameters make a client's set invalid.
                    let client = TransportParameters::decode(data, Side::Client);
                    let server_only = p.original_destination_connection_id.is_some()
                        || p.stateless_reset_token.is_some()
                        || p.preferred_address.is_some()
                        || p.retry_source_connection_id.is_some();
                    if !server_only && p.version_information.is_none() {
                        assert_eq!(client, Ok(p));
                    }
                }
            }
            Err(e) => assert_eq!(e.code, TransportErrorCode::TRANSPORT_PARAMETER_ERROR),
        }
    }
});
