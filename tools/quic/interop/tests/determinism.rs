// SPDX-License-Identifier: GPL-2.0

//! The simulation is deterministic: the same seed gives the same run,
//! datagram for datagram, in virtual time; another seed gives another.
//! (TLS randomness changes bytes, never sizes: the certificate is
//! Ed25519, key shares are X25519.)

use quic_interop::pair::{Direction, Pair, Wire, BOTH};
use quic_interop::setup::Setup;
use quic_interop::transfer::{pattern, send};
use quic_protocol::protocol::time::Instant;
use quic_test_support::net::{Link, NetStats};
use std::time::Duration;

fn run(direction: Direction, seed: u64) -> (Wire, NetStats, Instant) {
    let setup = Setup {
        link: Link {
            jitter: Duration::from_millis(4),
            loss_percent: 3,
            duplicate_percent: 1,
            ..Link::default()
        },
        seed,
        ..Setup::default()
    };
    let mut p = Pair::new(direction, &setup);
    p.handshake();
    send(&mut p, true, &pattern(300_000, 1));
    send(&mut p, false, &pattern(100_000, 2));
    (p.wire, p.net.stats, p.now)
}

fn same_seed_same_run(direction: Direction) {
    let a = run(direction, 11);
    assert_eq!(a, run(direction, 11));
    assert!(a.1.lost > 0 && a.1.duplicated > 0);
    assert_ne!(a, run(direction, 12));
}

#[test]
fn our_client_quinn_server() {
    same_seed_same_run(BOTH[0]);
}

#[test]
fn quinn_client_our_server() {
    same_seed_same_run(BOTH[1]);
}
