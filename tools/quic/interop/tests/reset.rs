// SPDX-License-Identifier: GPL-2.0

//! RESET_STREAM and STOP_SENDING with application error codes, each sent
//! by each side: the receiver of a reset reads its code; the receiver of
//! STOP_SENDING sees its code, its writes fail with it, and it resets the
//! stream (RFC 9000 §3.5).

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::peer::WriteError;
use quic_interop::setup::Setup;
use quic_interop::transfer::{open, side};
use std::time::Duration;

fn reset_and_stop(p: &mut Pair, client: bool, reset_code: u64, stop_code: u64) {
    // Stream a: the sender writes part of it, then resets it.
    let a = open(p, client, true);
    assert_eq!(side(p, client).write(a, b"partial"), Ok(7));
    p.run_for(Duration::from_millis(100));
    side(p, client).reset(a, reset_code);
    let ok = p.run_until(Duration::from_secs(2), |p| {
        side(p, !client).reset_received(a).is_some()
    });
    assert!(ok, "reset not received");
    assert_eq!(side(p, !client).reset_received(a), Some(reset_code));
    // Stream b: the receiver asks the sender to stop.
    let b = open(p, client, true);
    assert_eq!(side(p, client).write(b, b"hello"), Ok(5));
    let ok = p.run_until(Duration::from_secs(2), |p| {
        side(p, !client)
            .received(b)
            .is_some_and(|(d, _)| d == b"hello")
    });
    assert!(ok, "stream data not received");
    side(p, !client).stop_sending(b, stop_code);
    let ok = p.run_until(Duration::from_secs(2), |p| {
        side(p, client).stop_sending_received(b).is_some()
    });
    assert!(ok, "STOP_SENDING not received");
    assert_eq!(side(p, client).stop_sending_received(b), Some(stop_code));
    assert_eq!(
        side(p, client).write(b, b"more"),
        Err(WriteError::Stopped(stop_code))
    );
}

fn resets(direction: Direction) {
    let mut p = Pair::new(direction, &Setup::default());
    p.handshake();
    reset_and_stop(&mut p, true, 0x77, 0x99);
    reset_and_stop(&mut p, false, 0x1234, 0x4321_0000);
    // Resets close streams, not the connection.
    assert_eq!(p.closes(), [None, None]);
    quic_interop::transfer::send(&mut p, true, b"still fine");
}

#[test]
fn our_client_quinn_server() {
    resets(BOTH[0]);
}

#[test]
fn quinn_client_our_server() {
    resets(BOTH[1]);
}
