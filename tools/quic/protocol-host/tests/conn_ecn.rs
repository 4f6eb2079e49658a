// SPDX-License-Identifier: GPL-2.0

//! ECN end to end over rustls (RFC 9000 §13.4, RFC 9002 §7.1 and B.7): the
//! connections mark what they send, the simulated network carries the
//! codepoint in each datagram's IP header and may clear, CE-mark or
//! rewrite it, and the receivers hand it to `handle_datagram`, as the
//! socket glue does with the TOS byte.

mod conn_common;

use conn_common::*;
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::connection::Config;
use quic_protocol::protocol::recovery::congestion::{Algorithm, Controller};
use quic_protocol::protocol::recovery::ecn::EcnState;

fn setup(ecn: EcnPolicy) -> Setup {
    Setup {
        link: Link {
            ecn,
            ..Link::default()
        },
        ..Setup::default()
    }
}

fn ecn_states(p: &mut Pair) -> [EcnState; 2] {
    [
        p.client.conn.recovery().ecn_state(),
        p.server().conn.recovery().ecn_state(),
    ]
}

/// (a) On a path that keeps the codepoint, validation succeeds on both
/// sides and every packet stays marked ECT(0).
#[test]
fn clean_path_validates_and_keeps_marking() {
    let mut p = Pair::new(setup(EcnPolicy::Keep));
    p.handshake();
    transfer(&mut p, &pattern(100_000, 1));
    assert_eq!(ecn_states(&mut p), [EcnState::Capable; 2]);
    assert_eq!(p.client.conn.recovery().ecn_marking(), EcnCodepoint::Ect0);
    let before = p.net_stats();
    transfer(&mut p, &pattern(200_000, 2));
    let after = p.net_stats();
    assert!(after.sent - before.sent > 100);
    assert_eq!(after.ect_sent - before.ect_sent, after.sent - before.sent);
    assert_eq!(after.ecn_changed, 0);
    assert_eq!(ecn_states(&mut p), [EcnState::Capable; 2]);
}

/// (b) A path that clears the codepoint: the peer's ACK frames count no
/// ECT packets, validation fails and the sender stops marking
/// (RFC 9000 §13.4.2); data still flows.
#[test]
fn bleaching_path_fails_validation_and_marking_stops() {
    let mut p = Pair::new(setup(EcnPolicy::Bleach));
    p.handshake();
    transfer(&mut p, &pattern(50_000, 1));
    assert_eq!(ecn_states(&mut p), [EcnState::Failed; 2]);
    // Only the testing period was marked.
    let before = p.net_stats();
    assert!(before.ect_sent > 0 && before.ect_sent <= 2 * 10);
    transfer(&mut p, &pattern(100_000, 2));
    let after = p.net_stats();
    assert!(after.sent > before.sent);
    assert_eq!(after.ect_sent, before.ect_sent);
    assert_eq!(p.client.conn.recovery().ecn_marking(), EcnCodepoint::NotEct);
}

/// (c) CE marks come back as ACK_ECN counts and are a congestion signal
/// (RFC 9002 §7.1, B.7): the window shrinks, once for a round trip of
/// marks, not once per ACK frame.
#[test]
fn ce_marks_shrink_the_window_once_per_round_trip() {
    let client = Config {
        congestion: Algorithm::NewReno,
        ..Config::default()
    };
    let mut p = Pair::new(Setup {
        client,
        ..setup(EcnPolicy::Keep)
    });
    p.handshake();
    transfer(&mut p, &pattern(300_000, 1));
    // Let the last ACK frames in: nothing in flight, the window settled.
    p.run_for(std::time::Duration::from_millis(100));
    assert_eq!(p.client.conn.recovery().bytes_in_flight(), 0);
    assert_eq!(ecn_states(&mut p), [EcnState::Capable; 2]);
    let window = p.client.conn.recovery().congestion_window();
    assert_eq!(p.client.conn.recovery().congestion().ssthresh(), u64::MAX);
    assert!(window > 60_000);
    // One flight, well inside the window, every packet CE-marked.
    p.link_mut().ecn = EcnPolicy::Ce { percent: 100 };
    let lost = p.client.conn.recovery().congestion().ssthresh();
    transfer(&mut p, &pattern(24_000, 2));
    p.run_for(std::time::Duration::from_millis(100));
    let stats = p.net_stats();
    assert!(stats.ce_delivered >= 20);
    let recovery = p.client.conn.recovery();
    // NewReno halves the window (kLossReductionFactor), exactly once.
    assert_eq!(recovery.congestion().ssthresh(), window / 2);
    assert!(recovery.congestion_window() >= window / 2);
    assert!(recovery.congestion_window() < window);
    // No packet was lost: the reduction is the CE signal alone.
    assert_eq!(lost, u64::MAX);
    assert_eq!(stats.lost, 0);
    // ECN stays validated: CE marks are not a validation failure.
    assert_eq!(recovery.ecn_state(), EcnState::Capable);
}

/// (d) A path that sets ECT(0) on every datagram makes the server report
/// more ECT(0) packets than the client sent once the client's testing
/// period is over and it sends unmarked packets: the client's validation
/// fails. (The server's first ten packets were validated before it sent
/// any unmarked one, and from then on it marks everything ECT(0) itself:
/// the rewrite changes nothing it could detect.)
#[test]
fn more_ect_reported_than_sent_fails_validation() {
    let mut p = Pair::new(setup(EcnPolicy::Rewrite(EcnCodepoint::Ect0)));
    p.handshake();
    transfer(&mut p, &pattern(50_000, 1));
    assert_eq!(p.client.conn.recovery().ecn_state(), EcnState::Failed);
    assert_eq!(p.client.conn.recovery().ecn_marking(), EcnCodepoint::NotEct);
    assert!(p.net_stats().ecn_changed > 0);
}

/// A path that turns ECT(0) into ECT(1): the ECT(1) count exceeds the
/// (zero) packets sent with it, and ECT(0) + CE grows less than the
/// ECT(0) packets acknowledged.
#[test]
fn remarked_codepoints_fail_validation() {
    let mut p = Pair::new(setup(EcnPolicy::Rewrite(EcnCodepoint::Ect1)));
    p.handshake();
    transfer(&mut p, &pattern(50_000, 1));
    assert_eq!(ecn_states(&mut p), [EcnState::Failed; 2]);
}

/// With ECN off in the configuration nothing is marked and the
/// connection works on any path.
#[test]
fn ecn_disabled_never_marks() {
    let mut p = Pair::new(Setup {
        client: Config {
            ecn: false,
            ..Config::default()
        },
        server: Config {
            ecn: false,
            ..Config::default()
        },
        ..setup(EcnPolicy::Keep)
    });
    p.handshake();
    transfer(&mut p, &pattern(50_000, 1));
    assert_eq!(p.net_stats().ect_sent, 0);
    assert_eq!(ecn_states(&mut p), [EcnState::Failed; 2]);
}
