// SPDX-License-Identifier: GPL-2.0

//! Reassembly of stream and CRYPTO data against a reference model, with
//! random overlapping, duplicated and reordered segments (xorshift PRNG).

use std::time::Duration;

use quic_protocol::protocol::error::TransportErrorCode;
use quic_protocol::protocol::stream::crypto::CryptoStream;
use quic_protocol::protocol::stream::flow_control::RecvWindow;
use quic_protocol::protocol::stream::reassembly::Reassembler;
use quic_protocol::protocol::stream::recv::{RecvState, RecvStream};
use quic_protocol::protocol::stream::send_buf::CHUNK_SIZE;
use quic_protocol::protocol::time::Instant;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// Random segments of `data`: offsets biased so that every byte, the first
/// included, is covered eventually.
fn segment(rng: &mut Rng, len: usize, max: u64) -> (usize, usize) {
    let start = rng.below(len as u64 + max).saturating_sub(max) as usize;
    let n = (rng.below(max) as usize).min(len - start.min(len));
    (start.min(len), n)
}

#[test]
fn reassembler_matches_reference() {
    const LEN: usize = 200_000;
    for seed in 1..=8u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let src = data(LEN, seed);
        let mut r = Reassembler::new(u64::MAX);
        let mut seen = vec![false; LEN];
        let mut prefix = 0;
        let mut out = Vec::with_capacity(LEN);
        while out.len() < LEN {
            let (start, n) = segment(&mut rng, LEN, 3000);
            let new = seen[start..start + n].iter().any(|b| !b);
            seen[start..start + n].iter_mut().for_each(|b| *b = true);
            assert_eq!(r.insert(start as u64, &src[start..start + n]), Ok(new));
            while prefix < LEN && seen[prefix] {
                prefix += 1;
            }
            assert_eq!(r.contiguous_end(), prefix as u64);
            assert_eq!(r.readable(), (prefix - out.len()) as u64);
            // Memory stays within the span from the read position to the
            // highest byte received, plus the partial chunks and a spare.
            let span = r.received_end() - r.read_offset();
            assert!(r.memory() as u64 <= span + 3 * CHUNK_SIZE as u64);
            // Read a random amount, alternating zero-copy and copying reads.
            let mut want = rng.below(20_000) as usize;
            while want > 0 {
                let got = if rng.below(2) == 0 {
                    let chunk = r.peek();
                    let n = chunk.len().min(want);
                    out.extend_from_slice(&chunk[..n]);
                    r.consume(n as u64);
                    n
                } else {
                    let mut buf = vec![0u8; want.min(5000)];
                    let n = r.read(&mut buf);
                    out.extend_from_slice(&buf[..n]);
                    n
                };
                if got == 0 {
                    break;
                }
                want -= got;
            }
            assert_eq!(r.read_offset(), out.len() as u64);
        }
        assert_eq!(out, src, "seed {seed}");
        assert!(r.memory() <= 2 * CHUNK_SIZE);
    }
}

#[test]
fn recv_stream_out_of_order_with_fin() {
    const LEN: usize = 100_000;
    let rtt = Duration::from_millis(10);
    for seed in 1..=4u64 {
        let mut rng = Rng(seed * 7919);
        let src = data(LEN, seed + 100);
        let mut conn = RecvWindow::new(LEN as u64, LEN as u64);
        let mut s = RecvStream::new(LEN as u64, LEN as u64);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 4096];
        let mut fin_sent = false;
        let mut steps = 0;
        while s.state() != RecvState::DataRead {
            steps += 1;
            assert!(steps < 100_000);
            let (start, n) = segment(&mut rng, LEN, 2000);
            let fin = start + n == LEN && rng.below(2) == 0;
            fin_sent |= fin;
            s.on_data(start as u64, &src[start..start + n], fin, &mut conn)
                .expect("valid data");
            if fin_sent && s.final_size().is_none() {
                panic!("final size lost");
            }
            if let Ok(r) = s.read(&mut buf, &mut conn, Instant::ZERO, rtt) {
                out.extend_from_slice(&buf[..r.len]);
            }
        }
        assert_eq!(out, src);
        assert_eq!(conn.consumed(), LEN as u64);
        assert_eq!(s.memory(), 0);
    }
}

#[test]
fn crypto_stream_within_its_buffer() {
    const LEN: usize = 30_000;
    let mut rng = Rng(42);
    let src = data(LEN, 7);
    let mut c = CryptoStream::new(8192);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1000];
    while out.len() < LEN {
        let read = out.len();
        // Segments stay within the buffer past the read position.
        let start = read + rng.below(6000) as usize;
        let n = (rng.below(1500) as usize).min(LEN.saturating_sub(start));
        if start < LEN {
            c.on_crypto_frame(start as u64, &src[start..start + n])
                .expect("within the buffer");
        }
        // And the first missing byte arrives sometimes.
        if rng.below(4) == 0 {
            let n = 500.min(LEN - read);
            c.on_crypto_frame(read as u64, &src[read..read + n])
                .expect("in order");
        }
        let n = c.read(&mut buf);
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(out, src);
    let err = c
        .on_crypto_frame((LEN + 8192) as u64, &[0])
        .map_err(|e| e.code);
    assert_eq!(err, Err(TransportErrorCode::CRYPTO_BUFFER_EXCEEDED));
}
