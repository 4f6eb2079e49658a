// SPDX-License-Identifier: GPL-2.0

//! Retry (interop runner case S): the server validates the client's
//! address first. quinn's server answers with `Endpoint::retry`; ours with
//! the endpoint router's Retry path (sealed token bound to the address and
//! the Retry's connection ID). Exactly one Retry, one connection, and the
//! handshake authenticates the Retry (retry_source_connection_id).

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::setup::Setup;
use quic_interop::transfer::send;

fn retry(direction: Direction) {
    let setup = Setup {
        retry: true,
        ..Setup::default()
    };
    let mut p = Pair::new(direction, &setup);
    p.handshake();
    assert_eq!(p.server.retries_sent(), 1);
    assert_eq!(p.wire.retries, 1);
    assert_eq!(p.server.connections(), 1);
    // The client's first Initial, the Retry, then the handshake: at least
    // two client Initials were sent.
    assert!(p.wire.datagrams[0] >= 3);
    send(&mut p, true, b"after retry");
    send(&mut p, false, b"and back");
}

#[test]
fn our_client_quinn_server() {
    retry(BOTH[0]);
}

#[test]
fn quinn_client_our_server() {
    retry(BOTH[1]);
}
