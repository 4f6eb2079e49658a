// SPDX-License-Identifier: GPL-2.0

//! Decoding arbitrary bytes as transport parameters never panics.
//!
//! Random buffers, random sequences of (identifier, length, value) built
//! around the known identifiers, and mutations of a valid encoding go
//! through the decoder for both roles. Whatever decodes must validate,
//! re-encode to its reported size and decode back to the same parameters;
//! whatever fails must fail with TRANSPORT_PARAMETER_ERROR.

use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::error::TransportErrorCode;
use quic_protocol::protocol::transport_params::{Side, TransportParameters};
use quic_protocol::protocol::varint::VarInt;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const KNOWN: [u64; 21] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x20, 0x2ab2, 27,
];

fn check(bytes: &[u8]) -> usize {
    let mut ok = 0;
    for side in [Side::Client, Side::Server] {
        match TransportParameters::decode(bytes, side) {
            Ok(p) => {
                ok += 1;
                assert_eq!(p.validate(side), Ok(()));
                let size = p.encoded_size(None);
                let mut buf = vec![0u8; size];
                let mut w = Writer::new(&mut buf);
                p.encode(None, &mut w).unwrap();
                assert_eq!(w.len(), size);
                assert_eq!(TransportParameters::decode(&buf, side), Ok(p));
            }
            Err(e) => assert_eq!(e.code, TransportErrorCode::TRANSPORT_PARAMETER_ERROR),
        }
    }
    ok
}

#[test]
fn random_buffers_never_panic() {
    let mut rng = Rng(0x510e_527f_ade6_82d1);
    let mut buf = [0u8; 128];
    for _ in 0..100_000 {
        let len = rng.below(buf.len() + 1);
        for b in &mut buf[..len] {
            *b = rng.next() as u8;
        }
        check(&buf[..len]);
    }
}

#[test]
fn random_parameter_sequences_never_panic() {
    let mut rng = Rng(0x9b05_688c_2b3e_6c1f);
    let mut buf = vec![0u8; 1024];
    let mut decoded = 0;
    for _ in 0..100_000 {
        let mut w = Writer::new(&mut buf);
        for _ in 0..rng.below(8) {
            let id = KNOWN[rng.below(KNOWN.len())];
            // Mostly plausible lengths, with a value that is a varint or
            // random bytes; sometimes a lying length.
            let mut value = [0u8; 64];
            let len = match rng.below(4) {
                0 => {
                    let v = VarInt::saturating(rng.next() >> (2 + rng.below(60)));
                    let mut vw = Writer::new(&mut value);
                    v.encode(&mut vw).unwrap();
                    vw.len()
                }
                1 => [0, 4, 8, 16, 20, 21][rng.below(6)],
                _ => rng.below(64),
            };
            if rng.below(4) != 0 {
                for b in &mut value[len.min(64)..] {
                    *b = 0;
                }
            }
            for b in value
                .iter_mut()
                .take(len)
                .skip(if rng.below(2) == 0 { len } else { 0 })
            {
                *b = rng.next() as u8;
            }
            let _ = VarInt::saturating(id).encode(&mut w);
            let claimed = if rng.below(16) == 0 {
                len + rng.below(4)
            } else {
                len
            };
            let _ = VarInt::saturating(claimed as u64).encode(&mut w);
            let _ = w.put_bytes(&value[..len]);
        }
        let n = w.len();
        decoded += check(&buf[..n]);
    }
    assert!(decoded > 10_000, "only {decoded} sets decoded");
}

#[test]
fn mutated_valid_encoding_never_panics() {
    let valid: &[u8] = &[
        0x00, 0x04, 1, 2, 3, 4, // original_destination_connection_id
        0x01, 0x02, 0x40, 0x64, // max_idle_timeout 100
        0x02, 0x10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, // reset token
        0x04, 0x04, 0x80, 0x10, 0x00, 0x00, // initial_max_data
        0x08, 0x01, 0x10, // initial_max_streams_bidi 16
        0x0c, 0x00, // disable_active_migration
        0x0d, 0x2a, 10, 0, 0, 1, 0x01, 0xbb, // preferred_address: IPv4
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // IPv6 none
        1, 0xaa, // CID
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, // token
        0x0f, 0x01, 0xbb, // initial_source_connection_id
        0x11, 0x08, 0, 0, 0, 1, 0, 0, 0, 1, // version_information
        0x20, 0x02, 0x44, 0x00, // max_datagram_frame_size 1024
        0x6a, 0xb2, 0x00, // grease_quic_bit
    ];
    assert!(TransportParameters::decode(valid, Side::Server).is_ok());
    let mut rng = Rng(0x1f83_d9ab_fb41_bd6b);
    let mut buf = Vec::with_capacity(valid.len() + 16);
    for _ in 0..50_000 {
        buf.clear();
        buf.extend_from_slice(valid);
        for _ in 0..1 + rng.below(3) {
            if buf.is_empty() {
                break;
            }
            match rng.below(4) {
                0 => {
                    let i = rng.below(buf.len());
                    buf[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let i = rng.below(buf.len());
                    buf[i] = rng.next() as u8;
                }
                2 => {
                    let cut = rng.below(buf.len() + 1);
                    buf.truncate(cut);
                }
                _ => {
                    let i = rng.below(buf.len() + 1);
                    buf.insert(i, rng.next() as u8);
                }
            }
        }
        check(&buf);
    }
}
