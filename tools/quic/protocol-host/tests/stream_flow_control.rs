// SPDX-License-Identifier: GPL-2.0

//! Receive-window auto-tuning against a sender on a path with a fixed RTT.
//!
//! A sender always has data and sends whatever credit allows; frames and
//! MAX_STREAM_DATA updates take half an RTT each way. A reader that keeps
//! up with the link should see the window grow to its maximum, so the
//! sender is not limited by flow control; a reader slower than one window
//! per RTT should leave the window where it started.

use std::collections::VecDeque;
use std::time::Duration;

use quic_protocol::protocol::stream::flow_control::{RecvWindow, SendCredit};
use quic_protocol::protocol::stream::recv::RecvStream;
use quic_protocol::protocol::stream::{ControlFrame, StreamId};
use quic_protocol::protocol::time::Instant;

const ONE_WAY_MS: u64 = 10;
const INITIAL: u64 = 16 * 1024;
const MAX: u64 = 1024 * 1024;

/// Runs for `ms` milliseconds with a reader taking at most `rate` bytes per
/// millisecond. Returns the final window and the bytes read.
fn run(rate: usize, ms: u64) -> (u64, u64) {
    let id = StreamId::from_u64(0).expect("stream 0");
    let rtt = Duration::from_millis(2 * ONE_WAY_MS);
    let mut credit = SendCredit::new(INITIAL);
    let mut conn = RecvWindow::new(u64::MAX, u64::MAX);
    let mut recv = RecvStream::new(INITIAL, MAX);
    // (arrival time, offset, len) and (arrival time, limit).
    let mut data: VecDeque<(u64, u64, usize)> = VecDeque::new();
    let mut updates: VecDeque<(u64, u64)> = VecDeque::new();
    let zeros = vec![0u8; MAX as usize];
    let mut sent = 0u64;
    let mut read = 0u64;
    let mut buf = vec![0u8; rate];
    for now_ms in 0..ms {
        let now = Instant::from_nanos(now_ms * 1_000_000);
        // The sender uses all its credit.
        let n = credit.available();
        if n > 0 {
            credit.consume(n);
            data.push_back((now_ms + ONE_WAY_MS, sent, n as usize));
            sent += n;
        }
        while data.front().is_some_and(|d| d.0 <= now_ms) {
            let (_, offset, len) = data.pop_front().expect("front");
            recv.on_data(offset, &zeros[..len], false, &mut conn)
                .expect("within flow control");
        }
        if let Ok(r) = recv.read(&mut buf, &mut conn, now, rtt) {
            read += r.len as u64;
        }
        while let Some(frame) = recv.poll_control(id, 100) {
            if let ControlFrame::MaxStreamData { limit, .. } = frame {
                updates.push_back((now_ms + ONE_WAY_MS, limit));
            }
        }
        while updates.front().is_some_and(|u| u.0 <= now_ms) {
            let (_, limit) = updates.pop_front().expect("front");
            credit.raise(limit);
        }
    }
    (recv.window().window(), read)
}

#[test]
fn fast_reader_grows_the_window_to_the_maximum() {
    let (window, read) = run(1 << 20, 2000);
    assert_eq!(window, MAX);
    // Once grown, a window per RTT flows: well beyond the initial rate.
    let initial_rate = INITIAL * 2000 / (2 * ONE_WAY_MS);
    assert!(read > 10 * initial_rate, "read {read}");
}

#[test]
fn slow_reader_keeps_the_initial_window() {
    // 100 bytes per ms is far below one initial window per RTT.
    let (window, read) = run(100, 2000);
    assert_eq!(window, INITIAL);
    // Limited by the reader only, once the first data arrived.
    assert_eq!(read, 100 * (2000 - ONE_WAY_MS));
}

#[test]
fn window_growth_is_gradual() {
    // A reader at about four initial windows per RTT grows the window a
    // few times, without reaching the maximum.
    let rate = (4 * INITIAL / (2 * ONE_WAY_MS)) as usize;
    let (window, _) = run(rate, 2000);
    assert!(window > INITIAL && window < MAX, "window {window}");
}
