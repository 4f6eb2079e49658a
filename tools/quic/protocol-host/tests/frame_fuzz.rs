// SPDX-License-Identifier: GPL-2.0

//! Decoding arbitrary bytes as a packet payload never panics.
//!
//! Random buffers (biased toward frame types and small varints so that
//! decoding gets past the first byte) and mutations of valid packets go
//! through the frame iterator, with and without a packet type. Whatever
//! decodes must re-encode to exactly its reported size and decode back to
//! the same frame; whatever fails must fail with FRAME_ENCODING_ERROR or
//! PROTOCOL_VIOLATION.

use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::error::TransportErrorCode;
use quic_protocol::protocol::frame::{Frame, Frames, PacketKind};

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

    /// A byte likely to mean something to the decoder.
    fn interesting_byte(&mut self) -> u8 {
        match self.below(6) {
            // Known frame types.
            0 => [
                0x00, 0x01, 0x02, 0x03, 0x06, 0x0f, 0x18, 0x1c, 0x1d, 0x30, 0x31,
            ][self.below(11)],
            // One-byte varints, often lengths.
            1 | 2 => self.below(64) as u8,
            // Multi-byte varint prefixes.
            3 => [0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff][self.below(6)],
            _ => self.next() as u8,
        }
    }
}

const KINDS: [Option<PacketKind>; 5] = [
    None,
    Some(PacketKind::Initial),
    Some(PacketKind::ZeroRtt),
    Some(PacketKind::Handshake),
    Some(PacketKind::OneRtt),
];

/// Decodes `payload` as every packet type and checks each frame.
fn check(payload: &[u8], scratch: &mut [u8]) -> usize {
    let mut decoded = 0;
    for kind in KINDS {
        let frames = match kind {
            Some(kind) => Frames::in_packet(payload, kind),
            None => Frames::new(payload),
        };
        let mut failed = false;
        for frame in frames {
            assert!(!failed, "iteration went on after an error");
            match frame {
                Ok(frame) => {
                    decoded += 1;
                    if let Some(kind) = kind {
                        assert!(frame.ty().permitted_in(kind));
                    }
                    check_reencode(&frame, scratch);
                }
                Err(err) => {
                    failed = true;
                    assert!(
                        err.code == TransportErrorCode::FRAME_ENCODING_ERROR
                            || err.code == TransportErrorCode::PROTOCOL_VIOLATION,
                        "{err:?}"
                    );
                }
            }
        }
    }
    decoded
}

/// A decoded frame re-encodes to its reported size and decodes back alone.
fn check_reencode(frame: &Frame<'_>, scratch: &mut [u8]) {
    let size = frame.encoded_size();
    let mut w = Writer::new(&mut scratch[..size]);
    frame.encode(&mut w).unwrap();
    assert_eq!(w.len(), size);
    let mut again = Frames::new(&scratch[..size]);
    assert_eq!(again.next().as_ref(), Some(&Ok(*frame)));
    assert!(again.next().is_none());
}

#[test]
fn random_buffers_never_panic() {
    let mut rng = Rng(0x6a09_e667_f3bc_c908);
    let mut scratch = vec![0u8; 4096];
    let mut buf = [0u8; 96];
    let mut decoded = 0;
    for _ in 0..100_000 {
        let len = rng.below(buf.len() + 1);
        let biased = rng.next() & 3 != 0;
        for b in &mut buf[..len] {
            *b = if biased {
                rng.interesting_byte()
            } else {
                rng.next() as u8
            };
        }
        decoded += check(&buf[..len], &mut scratch);
    }
    // The bias must let a good share of inputs decode something.
    assert!(decoded > 50_000, "only {decoded} frames decoded");
}

#[test]
fn mutated_valid_packets_never_panic() {
    // A packet with one frame of nearly every type.
    let valid: &[u8] = &[
        0x00, 0x00, // PADDING x2
        0x01, // PING
        0x03, 0x0a, 0x01, 0x01, 0x02, 0x00, 0x01, 0x01, 0x02, 0x03, // ACK_ECN
        0x04, 0x01, 0x02, 0x03, // RESET_STREAM
        0x05, 0x01, 0x02, // STOP_SENDING
        0x06, 0x00, 0x02, 0xaa, 0xbb, // CRYPTO
        0x07, 0x01, 0xcc, // NEW_TOKEN
        0x0e, 0x04, 0x40, 0x10, 0x01, 0xdd, // STREAM (OFF|LEN)
        0x10, 0x3f, 0x11, 0x01, 0x02, 0x12, 0x05, 0x13, 0x05, // MAX_*
        0x14, 0x01, 0x15, 0x01, 0x02, 0x16, 0x01, 0x17, 0x01, // *_BLOCKED
        0x18, 0x02, 0x01, 0x04, 0xc1, 0xc2, 0xc3, 0xc4, // NEW_CONNECTION_ID
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, // reset token
        0x19, 0x01, // RETIRE_CONNECTION_ID
        0x1a, 1, 2, 3, 4, 5, 6, 7, 8, // PATH_CHALLENGE
        0x1b, 1, 2, 3, 4, 5, 6, 7, 8, // PATH_RESPONSE
        0x1c, 0x07, 0x08, 0x01, b'x', // CONNECTION_CLOSE
        0x1d, 0x07, 0x00, // CONNECTION_CLOSE (application)
        0x1e, // HANDSHAKE_DONE
        0x31, 0x01, 0xee, // DATAGRAM with length
        0x09, 0x04, b'e', b'n', b'd', // STREAM to the end, FIN
    ];
    let mut scratch = vec![0u8; 4096];
    assert_eq!(
        Frames::new(valid).filter(Result::is_ok).count(),
        Frames::new(valid).count()
    );
    assert!(check(valid, &mut scratch) > 0);
    let mut rng = Rng(0xbb67_ae85_84ca_a73b);
    let mut buf = Vec::with_capacity(valid.len() + 16);
    for _ in 0..50_000 {
        buf.clear();
        buf.extend_from_slice(valid);
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 => {
                    let i = rng.below(buf.len());
                    buf[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let i = rng.below(buf.len());
                    buf[i] = rng.interesting_byte();
                }
                2 => {
                    let cut = rng.below(buf.len() + 1);
                    buf.truncate(cut);
                }
                _ => {
                    let i = rng.below(buf.len() + 1);
                    buf.insert(i, rng.interesting_byte());
                }
            }
            if buf.is_empty() {
                break;
            }
        }
        check(&buf, &mut scratch);
    }
}
