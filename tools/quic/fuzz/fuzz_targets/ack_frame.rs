// SPDX-License-Identifier: GPL-2.0

//! ACK frame ranges (RFC 9000 §19.3) and the ACK encoder.
//!
//! The first input byte picks ACK or ACK_ECN; the rest are the frame's
//! fields. A decoded frame's ranges must be non-empty, descending, separated
//! by gaps, start at Largest Acknowledged, end at the smallest packet
//! number and number `range_count()`. Put in a `RangeSet` and written by
//! `AckEncoder`, they must decode back to the same ranges; with a range cap
//! and a room limit, the encoder must keep the highest ranges and fit.
//!
//! Then the input is read again as insertions into a `RangeSet`, which is
//! encoded and decoded back the same way.

#![no_main]

use core::ops::Range;
use libfuzzer_sys::fuzz_target;
use quic_fuzz::Input;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::frame::{AckEncoder, AckFrame, EcnCounts, Frame, Frames};
use quic_protocol::protocol::range_set::RangeSet;
use quic_protocol::protocol::varint::VarInt;

fn ranges_of(ack: &AckFrame<'_>) -> Vec<Range<u64>> {
    let ranges: Vec<_> = ack.ranges().collect();
    assert_eq!(ranges.len() as u64, ack.range_count());
    assert_eq!(ranges[0].end - 1, ack.largest());
    assert_eq!(ranges.last().map(|r| r.start), Some(ack.smallest()));
    for r in &ranges {
        assert!(r.start < r.end);
    }
    for pair in ranges.windows(2) {
        // A gap of at least one packet number between ranges.
        assert!(pair[1].end < pair[0].start, "{pair:?}");
    }
    ranges
}

/// Encodes `set` with `max_ranges` and `room`, decodes it, and checks that
/// it carries the highest ranges of `set`.
fn encode_set(
    set: &RangeSet,
    delay: VarInt,
    ecn: Option<EcnCounts>,
    max_ranges: usize,
    room: usize,
) {
    let all: Vec<_> = set.iter().rev().collect();
    let Some(enc) = AckEncoder::new(set, delay, ecn, max_ranges, room) else {
        // Refused: empty, not packet numbers, no range allowed, or too small.
        let big = all
            .first()
            .is_some_and(|r| r.end - 1 > VarInt::MAX.into_inner());
        // A one-range frame takes at most 50 bytes.
        assert!(all.is_empty() || big || max_ranges == 0 || room < 50);
        return;
    };
    let size = enc.encoded_size();
    assert!(size <= room);
    assert!(enc.range_count() >= 1 && enc.range_count() <= max_ranges);
    assert_eq!(enc.largest(), all[0].end - 1);
    let mut buf = vec![0u8; size];
    let mut w = Writer::new(&mut buf[..size - 1]);
    assert!(enc.encode(&mut w).is_err());
    assert_eq!(w.len(), 0);
    let mut w = Writer::new(&mut buf);
    enc.encode(&mut w).expect("encode into the reported size");
    assert_eq!(w.len(), size);
    let mut frames = Frames::new(&buf);
    let Some(Ok(Frame::Ack(ack))) = frames.next() else {
        panic!("encoded ACK does not decode: {buf:02x?}");
    };
    assert!(frames.next().is_none());
    assert_eq!(ack.raw_delay(), delay);
    assert_eq!(ack.ecn(), ecn);
    assert_eq!(ack.smallest(), enc.smallest());
    let got = ranges_of(&ack);
    assert_eq!(got.len(), enc.range_count());
    assert_eq!(&got[..], &all[..got.len()]);
    if max_ranges == usize::MAX && room == usize::MAX {
        assert_eq!(got.len(), all.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let ty = 0x02 | (input.u8() & 1);
    let mut frame = Vec::with_capacity(data.len());
    frame.push(ty);
    frame.extend_from_slice(input.rest());
    if let Some(Ok(Frame::Ack(ack))) = Frames::new(&frame).next() {
        let ranges = ranges_of(&ack);
        for exp in [0, 3, 20, 63, 64, 255] {
            let _ = ack.delay(exp);
        }
        let mut set = RangeSet::new();
        for r in &ranges {
            assert!(set.insert(r.clone()).expect("alloc"));
        }
        assert_eq!(set.len(), ranges.len());
        encode_set(&set, ack.raw_delay(), ack.ecn(), usize::MAX, usize::MAX);
        let limit = data.first().copied().unwrap_or(0) as usize;
        encode_set(&set, ack.raw_delay(), ack.ecn(), 1 + limit % 8, 8 + limit);
    }

    // The input as a RangeSet of received packet numbers.
    let mut input = Input::new(data);
    let mut set = RangeSet::new();
    let delay = VarInt::saturating(input.scaled(62));
    let ecn = input.bool().then(|| EcnCounts {
        ect0: VarInt::saturating(input.scaled(62)),
        ect1: VarInt::saturating(input.scaled(62)),
        ce: VarInt::saturating(input.scaled(62)),
    });
    let max_ranges = input.index(300);
    let room = input.index(2000);
    let mut base = 0u64;
    while !input.is_empty() && set.len() < 1000 {
        base = base.saturating_add(input.scaled(63));
        let len = 1 + input.scaled(16);
        let _ = set.insert(base..base.saturating_add(len));
    }
    encode_set(&set, delay, ecn, usize::MAX, usize::MAX);
    encode_set(&set, delay, ecn, max_ranges, room);
});
