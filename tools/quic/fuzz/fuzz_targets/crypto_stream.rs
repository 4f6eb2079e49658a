// SPDX-License-Identifier: GPL-2.0

//! The CRYPTO stream of one encryption level (RFC 9000 §7.5, §19.6).
//!
//! Receiving: CRYPTO frames (offset, length) and reads against a byte map
//! of what was received; data beyond the buffer limit must fail with
//! CRYPTO_BUFFER_EXCEEDED, bytes read must be the ones sent, in order.
//!
//! Sending: writes, polls of CRYPTO frames for a given room, and
//! acknowledgements and losses of the frames in flight. Every frame must
//! fit its room when encoded, carry the bytes written at its offset, and
//! retransmit lost data before new data. At the end every frame is
//! delivered and the stream must become fully acknowledged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_fuzz::{pattern, Input};
use quic_protocol::protocol::error::TransportErrorCode;
use quic_protocol::protocol::frame::CryptoFrame;
use quic_protocol::protocol::range_set::RangeSet;
use quic_protocol::protocol::stream::crypto::{CryptoChunk, CryptoStream};
use quic_protocol::protocol::stream::reassembly::MAX_RANGES;
use quic_protocol::protocol::stream::send_buf::SendBudget;
use quic_protocol::protocol::varint::VarInt;

fn receive(input: &mut Input<'_>) {
    let max = input.below(1 << 16);
    let limit = max.max(CryptoStream::MIN_RECV_BUFFER);
    let mut c = CryptoStream::new(max);
    let mut received = RangeSet::new();
    let mut read = 0u64;
    let mut out = vec![0u8; 1 << 16];
    let mut discarded = false;
    while !input.is_empty() {
        match input.u8() % 4 {
            0 | 1 => {
                let offset = match input.u8() % 8 {
                    0 => input.scaled(64),
                    _ => read + input.below(limit + 2048),
                };
                let len = input.index(3000);
                let data: Vec<u8> = (0..len as u64)
                    .map(|i| pattern(offset.wrapping_add(i)))
                    .collect();
                let readable = c.readable();
                let res = c.on_crypto_frame(offset, &data);
                if discarded {
                    assert_eq!(res, Ok(false));
                    continue;
                }
                let end = offset.checked_add(len as u64);
                match end {
                    Some(end) if len == 0 || end <= read => assert_eq!(res, Ok(false)),
                    Some(end) if end - read <= limit => {
                        received.insert(offset.max(read)..end).expect("alloc");
                        if received.len() > MAX_RANGES {
                            assert_eq!(
                                res.map_err(|e| e.code),
                                Err(TransportErrorCode::CRYPTO_BUFFER_EXCEEDED)
                            );
                            return;
                        }
                        assert_eq!(res, Ok(c.readable() > readable));
                    }
                    _ => {
                        let err = res.expect_err("data beyond the buffer");
                        assert_eq!(err.code, TransportErrorCode::CRYPTO_BUFFER_EXCEEDED);
                        return;
                    }
                }
            }
            2 => {
                let n = input.index(out.len() + 1);
                let got = c.read(&mut out[..n]);
                for (i, b) in out[..got].iter().enumerate() {
                    assert_eq!(*b, pattern(read + i as u64));
                }
                read += got as u64;
            }
            _ => {
                if input.u8() == 0xff {
                    c.discard(&mut SendBudget::new(0));
                    discarded = true;
                }
            }
        }
        let contiguous = match received.iter().next() {
            Some(r) if r.start == 0 => r.end,
            _ => 0,
        };
        let readable = if discarded { 0 } else { contiguous - read };
        assert_eq!(c.readable(), readable);
        assert!(c.peek().len() as u64 <= readable);
    }
}

fn send(input: &mut Input<'_>) {
    let mut budget = SendBudget::new(1 + input.index(1 << 16));
    let mut c = CryptoStream::new(0);
    let mut written = 0u64;
    let mut acked = RangeSet::new();
    let mut lost = RangeSet::new();
    let mut in_flight: Vec<CryptoChunk> = Vec::new();
    let mut sent_end = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let mut ops = 0;
    let check_chunk = |c: &CryptoStream, chunk: &CryptoChunk, room: usize, buf: &mut [u8]| {
        assert!(chunk.len > 0);
        let copied = c.copy_out(chunk.offset, &mut buf[..chunk.len]);
        assert_eq!(copied, chunk.len);
        for (i, b) in buf[..chunk.len].iter().enumerate() {
            assert_eq!(*b, pattern(chunk.offset + i as u64));
        }
        let frame = CryptoFrame {
            offset: VarInt::from_u64(chunk.offset).expect("offset"),
            data: &buf[..chunk.len],
        };
        assert!(frame.encoded_size() <= room, "{chunk:?} in {room}");
    };
    while !input.is_empty() && ops < 2000 {
        ops += 1;
        match input.u8() % 4 {
            0 => {
                let len = input.index(5000);
                let data: Vec<u8> = (0..len as u64).map(|i| pattern(written + i)).collect();
                let n = c.write(&data, &mut budget).expect("alloc");
                assert!(n <= len);
                written += n as u64;
            }
            1 => {
                let room = input.index(1500);
                let Some(chunk) = c.poll_chunk(room) else {
                    continue;
                };
                check_chunk(&c, &chunk, room, &mut buf);
                let end = chunk.offset + chunk.len as u64;
                assert!(end <= written);
                let first_lost = lost.iter().next();
                if let Some(first) = first_lost {
                    // Lost data goes first.
                    assert_eq!(chunk.offset, first.start, "{lost:?}");
                    assert!(end <= first.end);
                    lost.remove(chunk.offset..end).expect("alloc");
                } else {
                    assert_eq!(chunk.offset, sent_end);
                    sent_end = end;
                }
                in_flight.push(chunk);
            }
            2 if !in_flight.is_empty() => {
                let chunk = in_flight.remove(input.index(in_flight.len()));
                let end = chunk.offset + chunk.len as u64;
                c.on_chunk_acked(chunk, &mut budget).expect("alloc");
                acked.insert(chunk.offset..end).expect("alloc");
                lost.remove(chunk.offset..end).expect("alloc");
            }
            3 if !in_flight.is_empty() => {
                let chunk = in_flight.remove(input.index(in_flight.len()));
                let end = chunk.offset + chunk.len as u64;
                let queued = c.on_chunk_lost(chunk).expect("alloc");
                let mut gaps = RangeSet::new();
                gaps.insert(chunk.offset..end).expect("alloc");
                for a in acked.iter() {
                    gaps.remove(a).expect("alloc");
                }
                let mut new = false;
                for g in gaps.iter() {
                    new |= lost.insert(g).expect("alloc");
                }
                assert_eq!(queued, new);
            }
            _ => {}
        }
        assert_eq!(c.wants_to_send(), !lost.is_empty() || sent_end < written);
        assert!(budget.used() <= budget.limit());
    }
    // Deliver everything: the stream must end fully acknowledged.
    for chunk in in_flight.drain(..) {
        c.on_chunk_acked(chunk, &mut budget).expect("alloc");
    }
    let mut rounds = 0;
    while let Some(chunk) = c.poll_chunk(1200) {
        check_chunk(&c, &chunk, 1200, &mut buf);
        c.on_chunk_acked(chunk, &mut budget).expect("alloc");
        rounds += 1;
        assert!(rounds < 100_000, "poll_chunk never runs dry");
    }
    assert!(!c.wants_to_send());
    assert!(c.is_fully_acked());
    assert!(
        c.memory() <= 4096,
        "{} bytes held after everything was acked",
        c.memory()
    );
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    if input.bool() {
        receive(&mut input);
    } else {
        send(&mut input);
    }
});
