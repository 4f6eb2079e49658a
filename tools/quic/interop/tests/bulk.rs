// SPDX-License-Identifier: GPL-2.0

//! Bulk transfer on one stream under 2 % loss and reordering (interop
//! runner case L2 with jitter): 3 MB from the client, checked byte for
//! byte, then 1 MB back on the same stream.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::setup::Setup;
use quic_interop::transfer::{open, pattern, wait_received, write_all};
use quic_test_support::net::Link;
use std::time::Duration;

fn bulk(direction: Direction) {
    let setup = Setup {
        link: Link {
            delay: Duration::from_millis(15),
            jitter: Duration::from_millis(5),
            loss_percent: 2,
            ..Link::default()
        },
        seed: 7,
        ..Setup::default()
    };
    let mut p = Pair::new(direction, &setup);
    p.handshake();
    let up = pattern(3 << 20, 1);
    let id = open(&mut p, true, true);
    write_all(&mut p, true, id, &up, Duration::from_secs(120));
    let got = wait_received(&mut p, false, id, Duration::from_secs(120));
    assert_eq!(got.len(), up.len());
    assert!(got == up, "upload corrupted");
    let down = pattern(1 << 20, 2);
    write_all(&mut p, false, id, &down, Duration::from_secs(60));
    let got = wait_received(&mut p, true, id, Duration::from_secs(60));
    assert!(got == down, "download corrupted");
    // The link really lost and reordered datagrams.
    assert!(p.net.stats.lost > 50);
    assert!(p.closes() == [None, None]);
}

#[test]
fn our_client_quinn_server() {
    bulk(BOTH[0]);
}

#[test]
fn quinn_client_our_server() {
    bulk(BOTH[1]);
}
