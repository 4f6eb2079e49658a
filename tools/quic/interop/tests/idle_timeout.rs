// SPDX-License-Identifier: GPL-2.0

//! Idle timeout (RFC 9000 §10.1): each side advertises its own, the
//! effective one is the smaller, whichever side advertised it, and both
//! sides close silently once it expires after the last activity.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::peer::Closed;
use quic_interop::setup::Setup;
use quic_interop::transfer::send;
use std::time::Duration;

fn idle(direction: Direction, client_idle: u64, server_idle: u64) {
    let setup = Setup {
        client_idle: Duration::from_millis(client_idle),
        server_idle: Duration::from_millis(server_idle),
        ..Setup::default()
    };
    let expected = Duration::from_millis(client_idle.min(server_idle));
    let mut p = Pair::new(direction, &setup);
    p.handshake();
    send(&mut p, true, b"last words");
    // Let the last ACKs and credit updates go out (quinn raises
    // MAX_STREAMS once the stream is done); from then on nothing is sent.
    p.run_for(Duration::from_millis(300));
    let quiet_from = p.now;
    let datagrams = p.wire.datagrams;
    let ok = p.run_until(Duration::from_secs(60), |p| {
        p.closed_at.iter().all(Option::is_some)
    });
    assert!(ok, "not closed: {:?}", p.closes());
    assert_eq!(p.closes(), [Some(Closed::IdleTimeout); 2]);
    // Silent: no CONNECTION_CLOSE, no keep-alive.
    assert_eq!(p.wire.datagrams, datagrams);
    for at in p.closed_at.into_iter().flatten() {
        let idle_for = at.saturating_duration_since(quiet_from);
        // The timer restarts at the last packet (up to ~300 ms before
        // `quiet_from`); 3 PTO is far below the timeout here.
        assert!(
            idle_for + Duration::from_millis(300) >= expected,
            "{idle_for:?}"
        );
        assert!(
            idle_for <= expected + Duration::from_millis(50),
            "{idle_for:?}"
        );
    }
}

#[test]
fn client_shorter_our_client_quinn_server() {
    idle(BOTH[0], 2_000, 5_000);
}

#[test]
fn server_shorter_our_client_quinn_server() {
    idle(BOTH[0], 5_000, 2_000);
}

#[test]
fn client_shorter_quinn_client_our_server() {
    idle(BOTH[1], 2_000, 5_000);
}

#[test]
fn server_shorter_quinn_client_our_server() {
    idle(BOTH[1], 5_000, 2_000);
}
