// SPDX-License-Identifier: GPL-2.0

//! Connection migration (RFC 9000 §9): the client moves to a new port,
//! either on purpose (active migration: ours through
//! QUIC_SOCKOPT_CONNECTION_MIGRATION, quinn through
//! `local_address_changed`) or behind a NAT that rebinds without telling
//! it (interop runner cases BP/BA). The server validates the new path
//! with PATH_CHALLENGE, the client answers, the server moves, and data
//! keeps flowing both ways.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::peer::Stack;
use quic_interop::setup::Setup;
use quic_interop::transfer::{pattern, send};
use quic_protocol::protocol::connection::Event;
use quic_protocol::protocol::path::event::MigrationKind;
use quic_protocol::protocol::path::SocketAddr;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), port))
}

/// The client's address as the server's connection uses it.
fn server_sees(p: &Pair) -> SocketAddr {
    match p.server.stack() {
        Stack::Ours => p.ours().endpoint().conn.paths().active().remote(),
        Stack::Quinn => p.quinn().connection().remote_address(),
    }
}

/// PATH_CHALLENGE frames quinn sent and PATH_RESPONSE frames it received,
/// and the other way round.
fn quinn_path_frames(p: &Pair) -> [u64; 4] {
    let s = p.quinn().connection().stats();
    [
        s.frame_tx.path_challenge,
        s.frame_rx.path_response,
        s.frame_rx.path_challenge,
        s.frame_tx.path_response,
    ]
}

fn check_moved(p: &mut Pair, new: SocketAddr, before: [u64; 4]) {
    let ok = p.run_until(Duration::from_secs(5), |p| server_sees(p) == new);
    assert!(ok, "server did not move to {new}");
    send(p, true, &pattern(50_000, 1));
    send(p, false, &pattern(50_000, 2));
    let after = quinn_path_frames(p);
    if p.server.stack() == Stack::Quinn {
        // quinn's server challenged the new path and our client answered.
        assert!(after[0] > before[0] && after[1] > before[1], "{after:?}");
        assert!(p.quinn().connection().stats().path.lost_packets < 100);
    } else {
        // Our server challenged the new path and quinn's client answered.
        assert!(after[2] > before[2] && after[3] > before[3], "{after:?}");
        assert!(p.ours().saw(&Event::Migrated {
            kind: MigrationKind::Peer
        }));
    }
    assert_eq!(p.closes(), [None, None]);
}

fn active_migration(direction: Direction) {
    let mut p = Pair::new(direction, &Setup::default());
    p.handshake();
    send(&mut p, true, b"before migration");
    let before = quinn_path_frames(&p);
    let now = p.now;
    assert!(p.client.migrate(now, addr(40_002)));
    check_moved(&mut p, addr(40_002), before);
    if p.client.stack() == Stack::Ours {
        assert!(p.ours().saw(&Event::Migrated {
            kind: MigrationKind::Local
        }));
        // Our client probed the new path and quinn answered.
        let after = quinn_path_frames(&p);
        assert!(after[2] > before[2] && after[3] > before[3], "{after:?}");
    }
}

fn nat_rebinding(direction: Direction) {
    let mut p = Pair::new(direction, &Setup::default());
    p.handshake();
    send(&mut p, true, b"before rebinding");
    let before = quinn_path_frames(&p);
    p.nat = Some(addr(40_001));
    check_moved(&mut p, addr(40_001), before);
}

#[test]
fn active_our_client_quinn_server() {
    active_migration(BOTH[0]);
}

#[test]
fn active_quinn_client_our_server() {
    active_migration(BOTH[1]);
}

#[test]
fn nat_rebinding_our_client_quinn_server() {
    nat_rebinding(BOTH[0]);
}

#[test]
fn nat_rebinding_quinn_client_our_server() {
    nat_rebinding(BOTH[1]);
}
