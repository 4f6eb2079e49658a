// SPDX-License-Identifier: GPL-2.0

//! Flow control with small windows (16 KB per stream, 32 KB per
//! connection, no auto-tuning): while the receiver does not read, the
//! sender stops at the window and says so (STREAM_DATA_BLOCKED or
//! DATA_BLOCKED); once the receiver reads, MAX_STREAM_DATA / MAX_DATA
//! unblock it and every byte arrives.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::peer::{Stack, WriteError};
use quic_interop::setup::{Setup, Windows};
use quic_interop::transfer::{open, pattern, wait_received, write_all};
use std::time::Duration;

const STREAM_WINDOW: u64 = 16 * 1024;

fn flow_control(direction: Direction) {
    let setup = Setup {
        windows: Some(Windows {
            stream: STREAM_WINDOW,
            connection: 2 * STREAM_WINDOW,
        }),
        ..Setup::default()
    };
    let mut p = Pair::new(direction, &setup);
    p.handshake();
    p.server.set_reading(false);
    let data = pattern(200_000, 6);
    let id = open(&mut p, true, true);
    // quinn takes writes up to its credit, ours up to its send buffer:
    // write whatever is taken while the clock runs.
    let mut written = 0;
    let before = p.wire.bytes[0];
    p.run_until(Duration::from_secs(2), |p| {
        pump(p, id, &data, &mut written);
        false
    });
    let sent = p.wire.bytes[0] - before;
    // The window and packet overhead, not 200 KB.
    assert!(
        sent < STREAM_WINDOW + 8 * 1024,
        "{sent} bytes sent while blocked"
    );
    assert!(sent >= STREAM_WINDOW, "{sent}");
    assert!(p.server.received(id).is_none_or(|(d, _)| d.is_empty()));
    let q = p.quinn().connection().stats();
    let blocked = if p.client.stack() == Stack::Quinn {
        q.frame_tx.stream_data_blocked + q.frame_tx.data_blocked
    } else {
        q.frame_rx.stream_data_blocked + q.frame_rx.data_blocked
    };
    assert!(blocked > 0, "the sender did not report being blocked");
    p.server.set_reading(true);
    let ok = p.run_until(Duration::from_secs(30), |p| {
        pump(p, id, &data, &mut written);
        written == data.len()
    });
    assert!(ok, "{written} bytes written");
    p.client.finish(id);
    let got = wait_received(&mut p, false, id, Duration::from_secs(30));
    assert!(got == data);
    let q = p.quinn().connection().stats();
    let raised = if p.client.stack() == Stack::Quinn {
        q.frame_rx.max_stream_data
    } else {
        q.frame_tx.max_stream_data
    };
    // 200 KB through a 16 KB window takes a dozen raises at least.
    assert!(raised >= 12, "{raised} MAX_STREAM_DATA frames");
    // And back the other way, through the client's windows.
    write_all(&mut p, false, id, &data, Duration::from_secs(30));
    let got = wait_received(&mut p, true, id, Duration::from_secs(30));
    assert!(got == data);
}

/// Writes what the client's stream takes of the rest of `data`.
fn pump(p: &mut Pair, id: u64, data: &[u8], written: &mut usize) {
    while *written < data.len() {
        match p.client.write(id, &data[*written..]) {
            Ok(n) => *written += n,
            Err(WriteError::Blocked) => return,
            Err(e) => panic!("{e:?} after {written}"),
        }
    }
}

#[test]
fn our_client_quinn_server() {
    flow_control(BOTH[0]);
}

#[test]
fn quinn_client_our_server() {
    flow_control(BOTH[1]);
}
