// SPDX-License-Identifier: GPL-2.0

//! Key updates (RFC 9001 §6, interop runner case U) initiated by each
//! side, twice, with a stream flowing across them. quinn starts one with
//! `force_key_update`; ours with `request_key_update`
//! (QUIC_SOCKOPT_KEY_UPDATE). Our side reports each phase change, whether
//! it started it or answered the peer's.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::peer::Stack;
use quic_interop::setup::Setup;
use quic_interop::transfer::{open, pattern, wait_received, write_all};
use std::time::Duration;

fn key_update(direction: Direction, initiator: Stack) {
    let mut p = Pair::new(direction, &Setup::default());
    p.handshake();
    p.run_for(Duration::from_millis(200));
    let data = pattern(300_000, 5);
    let third = data.len() / 3;
    // Client to server, and server to client on the same stream.
    let id = open(&mut p, true, true);
    let mut sent = 0;
    for round in 0..2 {
        let chunk = &data[sent..sent + third];
        assert_eq!(p.client.write(id, chunk), Ok(chunk.len()));
        sent += third;
        p.run_for(Duration::from_millis(300));
        let peer = if initiator == Stack::Ours {
            p.ours_mut() as &mut dyn quic_interop::peer::Peer
        } else {
            p.quinn_mut() as &mut dyn quic_interop::peer::Peer
        };
        assert!(peer.key_update(), "key update {round} refused");
        p.run_for(Duration::from_millis(300));
    }
    write_all(&mut p, true, id, &data[sent..], Duration::from_secs(10));
    let got = wait_received(&mut p, false, id, Duration::from_secs(10));
    assert!(got == data);
    write_all(&mut p, false, id, &data, Duration::from_secs(10));
    let got = wait_received(&mut p, true, id, Duration::from_secs(10));
    assert!(got == data);
    // Phase 1, then back to 0; seen on our side either way.
    assert_eq!(p.ours().key_phases(), vec![true, false]);
    assert_eq!(p.closes(), [None, None]);
}

#[test]
fn ours_updates_our_client_quinn_server() {
    key_update(BOTH[0], Stack::Ours);
}

#[test]
fn ours_updates_quinn_client_our_server() {
    key_update(BOTH[1], Stack::Ours);
}

#[test]
fn quinn_updates_our_client_quinn_server() {
    key_update(BOTH[0], Stack::Quinn);
}

#[test]
fn quinn_updates_quinn_client_our_server() {
    key_update(BOTH[1], Stack::Quinn);
}
