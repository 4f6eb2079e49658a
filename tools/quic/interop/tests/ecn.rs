// SPDX-License-Identifier: GPL-2.0

//! ECN against quinn-proto (RFC 9000 §13.4, RFC 9002 §7.1): the simulated
//! network carries each datagram's codepoint both ways, so each stack
//! validates the other's ACK_ECN counts. On a clean path both validate
//! and keep marking; on a bleaching path both give up marking; CE marks
//! are a congestion event for whichever side sent the marked packets.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::setup::Setup;
use quic_interop::transfer::{pattern, send};
use quic_protocol::protocol::recovery::ecn::EcnState;
use quic_test_support::net::{EcnPolicy, Link};
use std::time::Duration;

fn pair(direction: Direction, ecn: EcnPolicy) -> Pair {
    let setup = Setup {
        link: Link {
            ecn,
            ..Link::default()
        },
        ..Setup::default()
    };
    let mut p = Pair::new(direction, &setup);
    p.handshake();
    p
}

fn our_ecn(p: &Pair) -> EcnState {
    p.ours().endpoint().conn.recovery().ecn_state()
}

/// Both ways over a clean path: each side validates the other's counts and
/// every datagram of a later transfer is marked, quinn's included.
fn clean_path(direction: Direction) {
    let mut p = pair(direction, EcnPolicy::Keep);
    send(&mut p, true, &pattern(60_000, 1));
    send(&mut p, false, &pattern(60_000, 2));
    assert_eq!(our_ecn(&p), EcnState::Capable);
    let before = p.net.stats;
    send(&mut p, true, &pattern(100_000, 3));
    send(&mut p, false, &pattern(100_000, 4));
    let after = p.net.stats;
    assert!(after.sent - before.sent > 100);
    assert_eq!(after.ect_sent - before.ect_sent, after.sent - before.sent);
    assert_eq!(p.quinn().connection().stats().path.congestion_events, 0);
}

/// A path that clears the codepoint: both stacks stop marking.
fn bleaching_path(direction: Direction) {
    let mut p = pair(direction, EcnPolicy::Bleach);
    send(&mut p, true, &pattern(60_000, 1));
    send(&mut p, false, &pattern(60_000, 2));
    assert_eq!(our_ecn(&p), EcnState::Failed);
    let before = p.net.stats;
    send(&mut p, true, &pattern(60_000, 3));
    send(&mut p, false, &pattern(60_000, 4));
    let after = p.net.stats;
    assert!(after.sent > before.sent);
    assert_eq!(after.ect_sent, before.ect_sent);
}

/// CE marks on a validated path: quinn reacts to the CE counts in our ACK
/// frames, and we react to those in quinn's.
fn ce_marks(direction: Direction) {
    let mut p = pair(direction, EcnPolicy::Keep);
    send(&mut p, true, &pattern(60_000, 1));
    send(&mut p, false, &pattern(60_000, 2));
    p.run_for(Duration::from_millis(200));
    assert_eq!(our_ecn(&p), EcnState::Capable);
    let our_window = p.ours().endpoint().conn.recovery().congestion_window();
    let quinn_events = p.quinn().connection().stats().path.congestion_events;
    p.net.link.ecn = EcnPolicy::Ce { percent: 30 };
    send(&mut p, true, &pattern(60_000, 3));
    send(&mut p, false, &pattern(60_000, 4));
    assert!(p.net.stats.ce_delivered > 0);
    assert!(p.quinn().connection().stats().path.congestion_events > quinn_events);
    assert!(p.ours().endpoint().conn.recovery().congestion_window() < our_window);
    // Neither treats CE as a validation failure, nor lost anything.
    assert_eq!(our_ecn(&p), EcnState::Capable);
    assert_eq!(p.net.stats.lost, 0);
}

#[test]
fn clean_path_our_client_quinn_server() {
    clean_path(BOTH[0]);
}

#[test]
fn clean_path_quinn_client_our_server() {
    clean_path(BOTH[1]);
}

#[test]
fn bleaching_path_our_client_quinn_server() {
    bleaching_path(BOTH[0]);
}

#[test]
fn bleaching_path_quinn_client_our_server() {
    bleaching_path(BOTH[1]);
}

#[test]
fn ce_marks_our_client_quinn_server() {
    ce_marks(BOTH[0]);
}

#[test]
fn ce_marks_quinn_client_our_server() {
    ce_marks(BOTH[1]);
}
