// SPDX-License-Identifier: GPL-2.0

//! Stream reassembly (RFC 9000 §2.2) and the receiving part of a stream
//! (§3.2, §4), against a reference model.
//!
//! The first input byte picks the subject:
//!
//! - a `Reassembler` with a limit, fed (offset, length) insertions, reads,
//!   peeks, consumes, limit changes and a discard. Data is a pattern of the
//!   offset (or arbitrary bytes, unchecked). The model is a byte map of
//!   what was received: every result, every byte read, the readable count,
//!   contiguous and received ends must match it, and memory must stay
//!   within a few chunks of the largest limit.
//! - a `RecvStream` with a connection window, fed STREAM frames (offset,
//!   length, FIN), RESET_STREAM, reads, STOP_SENDING, STREAM_DATA_BLOCKED and
//!   control frame polls. The model knows the final size rules, the flow
//!   control limits in force and the bytes received: errors must be the
//!   ones the RFC names, bytes read must be the ones sent in order, FIN
//!   must come exactly at the final size, states only move forward, and
//!   advertised limits never shrink.

#![no_main]

use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use quic_fuzz::{pattern, Input};
use quic_protocol::protocol::error::TransportErrorCode;
use quic_protocol::protocol::stream::flow_control::RecvWindow;
use quic_protocol::protocol::stream::reassembly::{Reassembler, ReassemblyError, MAX_RANGES};
use quic_protocol::protocol::stream::recv::{RecvState, RecvStream};
use quic_protocol::protocol::stream::send_buf::CHUNK_SIZE;
use quic_protocol::protocol::stream::{StreamError, StreamId};
use quic_protocol::protocol::time::Instant;

const MAX_OFFSET: u64 = (1 << 62) - 1;

/// What was received, byte by byte, from offset 0, with the number of
/// disjoint ranges, the contiguous end and the end kept up to date.
#[derive(Default)]
struct Received {
    bytes: Vec<bool>,
    ranges: usize,
    contiguous: u64,
    end: u64,
}

impl Received {
    fn mark(&mut self, start: u64, end: u64) -> bool {
        let (start, end) = (start as usize, end as usize);
        if self.bytes.len() < end + 1 {
            self.bytes.resize(end + 1, false);
        }
        let mut new = false;
        for i in start..end {
            if self.bytes[i] {
                continue;
            }
            new = true;
            self.bytes[i] = true;
            let before = i > 0 && self.bytes[i - 1];
            let after = self.bytes[i + 1];
            match (before, after) {
                (false, false) => self.ranges += 1,
                (true, true) => self.ranges -= 1,
                _ => {}
            }
        }
        if start < end {
            self.end = self.end.max(end as u64);
        }
        while self
            .bytes
            .get(self.contiguous as usize)
            .copied()
            .unwrap_or(false)
        {
            self.contiguous += 1;
        }
        new
    }

    fn contiguous_end(&self) -> u64 {
        self.contiguous
    }

    fn end(&self) -> u64 {
        self.end
    }

    fn ranges(&self) -> usize {
        self.ranges
    }
}

fn data_for(offset: u64, len: usize, random: Option<&[u8]>) -> Vec<u8> {
    match random {
        Some(r) => (0..len)
            .map(|i| r.get(i % r.len().max(1)).copied().unwrap_or(0))
            .collect(),
        None => (0..len as u64)
            .map(|i| pattern(offset.wrapping_add(i)))
            .collect(),
    }
}

fn reassembler(input: &mut Input<'_>) {
    let random = input.u8() % 8 == 0;
    let noise = input.bytes(16).to_vec();
    let random = random.then_some(&noise[..]);
    let mut limit = 1 + input.below(1 << 16);
    let mut max_limit = limit;
    let mut buf = Reassembler::new(limit);
    let mut model = Received::default();
    let mut read = 0u64;
    let mut discard = false;
    let mut out = vec![0u8; 1 << 16];
    while !input.is_empty() {
        match input.u8() % 8 {
            0..=3 => {
                let base = match input.u8() % 8 {
                    0 => 0,
                    1 => u64::MAX - input.below(1 << 16),
                    _ => read,
                };
                let offset = base.saturating_add(input.below(limit + 4096));
                let len = input.index(3000);
                let data = data_for(offset, len, random);
                let res = buf.insert(offset, &data);
                let Some(end) = offset.checked_add(len as u64) else {
                    assert_eq!(res, Err(ReassemblyError::LimitExceeded));
                    continue;
                };
                if len == 0 || end <= read {
                    assert_eq!(res, Ok(false));
                    continue;
                }
                if end - read > limit {
                    assert_eq!(res, Err(ReassemblyError::LimitExceeded));
                    continue;
                }
                let new = model.mark(offset.max(read), end);
                if model.ranges() > MAX_RANGES {
                    assert_eq!(res, Err(ReassemblyError::TooFragmented));
                    return;
                }
                assert_eq!(res, Ok(new), "insert {offset}+{len}");
            }
            4 => {
                let n = input.index(out.len() + 1);
                let got = buf.read(&mut out[..n]);
                let readable = if discard {
                    0
                } else {
                    model.contiguous_end() - read
                };
                assert_eq!(got as u64, readable.min(n as u64));
                if random.is_none() {
                    for (i, b) in out[..got].iter().enumerate() {
                        assert_eq!(*b, pattern(read + i as u64), "byte {}", read + i as u64);
                    }
                }
                read += got as u64;
            }
            5 => {
                let peek = buf.peek().len() as u64;
                let readable = buf.readable();
                assert!(peek <= readable && (peek > 0 || readable == 0));
                if random.is_none() {
                    for (i, b) in buf.peek().iter().enumerate() {
                        assert_eq!(*b, pattern(read + i as u64));
                    }
                }
                let n = input.below(peek + 2);
                let got = buf.consume(n);
                assert_eq!(got, n.min(readable));
                read += got;
            }
            6 => {
                limit = 1 + input.below(1 << 16);
                max_limit = max_limit.max(limit);
                buf.set_limit(limit);
            }
            _ => {
                if input.u8() == 0xff {
                    buf.discard();
                    discard = true;
                }
            }
        }
        assert_eq!(buf.read_offset(), read);
        assert_eq!(buf.contiguous_end(), model.contiguous_end());
        assert_eq!(buf.received_end(), model.end());
        assert_eq!(buf.is_discarding(), discard);
        let readable = if discard {
            0
        } else {
            model.contiguous_end() - read
        };
        assert_eq!(buf.readable(), readable);
        // Chunks span the limit past the read position, plus the chunk the
        // read position is in, plus one spare.
        let bound = (max_limit as usize / CHUNK_SIZE + 3) * CHUNK_SIZE;
        assert!(
            buf.memory() <= bound,
            "{} bytes held for a limit of {max_limit}",
            buf.memory()
        );
    }
}

fn state_rank(s: RecvState) -> u8 {
    match s {
        RecvState::Recv => 0,
        RecvState::SizeKnown => 1,
        RecvState::DataRecvd | RecvState::ResetRecvd => 2,
        RecvState::DataRead | RecvState::ResetRead => 3,
    }
}

fn recv_stream(input: &mut Input<'_>) {
    let window = 1 + input.below(1 << 16);
    let max_window = window + input.below(1 << 18);
    let conn_window = 1 + input.below(1 << 18);
    let mut s = RecvStream::new(window, max_window);
    let mut conn = RecvWindow::new(conn_window, conn_window.saturating_mul(4));
    let mut model = Received::default();
    let mut final_size: Option<u64> = None;
    let mut highest = 0u64;
    let mut read = 0u64;
    let mut reset = false;
    let mut stopped = false;
    let mut last_limit = s.window().limit();
    let mut now = 0u64;
    let rtt = Duration::from_millis(u64::from(input.u8()));
    let id = StreamId::new(
        quic_protocol::protocol::stream::Side::Client,
        quic_protocol::protocol::stream::Dir::Uni,
        0,
    )
    .expect("stream 0");
    let mut out = vec![0u8; 1 << 16];
    while !input.is_empty() {
        let before = s.state();
        now += u64::from(input.u8()) * 1_000_000;
        let at = Instant::from_nanos(now);
        match input.u8() % 8 {
            0..=2 => {
                let offset = match input.u8() % 16 {
                    0 => MAX_OFFSET - input.below(1 << 12),
                    1 => final_size.unwrap_or(highest),
                    _ => read + input.below(s.window().limit().saturating_sub(read) + 1024),
                };
                let len = input.index(2000);
                let fin = input.u8() % 4 == 0;
                let end = offset.saturating_add(len as u64);
                let limit = s.window().limit();
                let conn_room = conn.limit() - conn.received();
                let data = data_for(offset, len, None);
                let res = s.on_data(offset, &data, fin, &mut conn);
                let code = res.as_ref().err().map(|e| e.code);
                if end > MAX_OFFSET {
                    assert_eq!(code, Some(TransportErrorCode::FLOW_CONTROL_ERROR));
                    return;
                }
                let size_error = match final_size {
                    Some(size) => end > size || (fin && end != size),
                    None => fin && end < highest,
                };
                if size_error {
                    assert_eq!(code, Some(TransportErrorCode::FINAL_SIZE_ERROR));
                    return;
                }
                if end > limit || end.saturating_sub(highest) > conn_room {
                    assert_eq!(code, Some(TransportErrorCode::FLOW_CONTROL_ERROR));
                    return;
                }
                // Data is kept (or, once stopped, only counted) until the
                // final size is reached or the stream is reset.
                if matches!(before, RecvState::Recv | RecvState::SizeKnown) && end > read {
                    model.mark(offset.max(read), end);
                    if model.ranges() > MAX_RANGES {
                        assert_eq!(code, Some(TransportErrorCode::INTERNAL_ERROR));
                        return;
                    }
                }
                assert!(res.is_ok(), "{res:?}");
                highest = highest.max(end);
                if fin {
                    final_size = Some(end);
                }
            }
            3 => {
                let size = match input.u8() % 4 {
                    0 => input.scaled(63),
                    _ => final_size.unwrap_or(highest) + input.below(4),
                };
                let limit = s.window().limit();
                let conn_room = conn.limit() - conn.received();
                let res = s.on_reset(7, size, &mut conn);
                let code = res.as_ref().err().map(|e| e.code);
                if size > MAX_OFFSET {
                    assert_eq!(code, Some(TransportErrorCode::FRAME_ENCODING_ERROR));
                    return;
                }
                if final_size.is_some_and(|f| f != size) || (final_size.is_none() && size < highest)
                {
                    assert_eq!(code, Some(TransportErrorCode::FINAL_SIZE_ERROR));
                    return;
                }
                if size > limit || size.saturating_sub(highest) > conn_room {
                    assert_eq!(code, Some(TransportErrorCode::FLOW_CONTROL_ERROR));
                    return;
                }
                assert!(res.is_ok(), "{res:?}");
                highest = highest.max(size);
                final_size = Some(size);
                if matches!(before, RecvState::Recv | RecvState::SizeKnown) {
                    reset = true;
                    assert_eq!(s.reset_code(), Some(7));
                }
            }
            4 | 5 => {
                let n = input.index(out.len() + 1);
                let res = s.read(&mut out[..n], &mut conn, at, rtt);
                match before {
                    RecvState::ResetRecvd | RecvState::ResetRead => {
                        assert_eq!(res, Err(StreamError::Reset(7)));
                        assert_eq!(s.state(), RecvState::ResetRead);
                    }
                    RecvState::DataRead => assert_eq!(res.map(|r| (r.len, r.fin)), Ok((0, true))),
                    _ if stopped => assert_eq!(res, Err(StreamError::InvalidState)),
                    _ => {
                        let readable = (model.contiguous_end() - read).min(n as u64);
                        let at_end = final_size == Some(read + readable)
                            && model.contiguous_end() >= final_size.unwrap_or(u64::MAX);
                        match res {
                            Ok(r) => {
                                assert_eq!(r.len as u64, readable);
                                assert_eq!(r.fin, at_end);
                                for (i, b) in out[..r.len].iter().enumerate() {
                                    assert_eq!(*b, pattern(read + i as u64));
                                }
                                read += r.len as u64;
                            }
                            Err(e) => {
                                assert_eq!(e, StreamError::Blocked);
                                assert!(readable == 0 && !at_end);
                            }
                        }
                    }
                }
            }
            6 => {
                if input.u8() % 4 == 0 {
                    let _ = s.stop_sending(9, &mut conn);
                    if !before.is_terminal() {
                        stopped = true;
                    }
                } else {
                    s.on_data_blocked(input.scaled(62));
                }
            }
            _ => {
                let room = input.index(64);
                if let Some(frame) = s.poll_control(id, room) {
                    assert!(frame.encoded_len() <= room);
                    match input.u8() % 4 {
                        0 => s.on_stop_sending_lost(),
                        1 => s.on_max_stream_data_lost(s.window().limit()),
                        _ => {}
                    }
                }
            }
        }
        let state = s.state();
        assert!(
            state_rank(state) >= state_rank(before),
            "{before:?} -> {state:?}"
        );
        assert_eq!(s.final_size(), final_size);
        if reset {
            assert!(matches!(
                state,
                RecvState::ResetRecvd | RecvState::ResetRead
            ));
        }
        if state == RecvState::DataRecvd || (state == RecvState::DataRead && !stopped) {
            assert!(final_size.is_some_and(|f| model.contiguous_end() >= f));
        }
        let w = s.window();
        assert!(
            w.consumed() <= w.received() && w.received() <= w.limit() && w.limit() <= MAX_OFFSET
        );
        assert!(w.limit() >= last_limit);
        last_limit = w.limit();
        assert_eq!(w.received(), highest);
        assert!(conn.consumed() <= conn.received() && conn.received() <= conn.limit());
        assert!(s.memory() <= (max_window as usize / CHUNK_SIZE + 3) * CHUNK_SIZE);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    if input.bool() {
        reassembler(&mut input);
    } else {
        recv_stream(&mut input);
    }
});
