// SPDX-License-Identifier: GPL-2.0

//! The server's preferred address (RFC 9000 §9.6) against quinn-proto.
//! quinn's server advertises one (`ServerConfig::preferred_address_v4`)
//! and our client moves there once the handshake is confirmed; quinn's
//! client does not migrate to a preferred address, but must accept ours.

use quic_interop::pair::{Pair, BOTH};
use quic_interop::setup::{Setup, SERVER_ADDR, SERVER_PREFERRED_ADDR};
use quic_interop::transfer::{pattern, send};
use quic_protocol::protocol::connection::Event;
use quic_protocol::protocol::path::event::MigrationKind;
use quic_protocol::protocol::path::SocketAddr;
use std::time::Duration;

fn setup() -> Setup {
    Setup {
        preferred_address: true,
        ..Setup::default()
    }
}

#[test]
fn our_client_moves_to_quinns_preferred_address() {
    let mut p = Pair::new(BOTH[0], &setup());
    p.handshake();
    let preferred = SocketAddr::V4(SERVER_PREFERRED_ADDR);
    let moved = p.run_until(Duration::from_secs(5), |p| {
        p.ours().saw(&Event::Migrated {
            kind: MigrationKind::PreferredAddress,
        })
    });
    assert!(moved, "our client did not move");
    let conn = &p.ours().endpoint().conn;
    assert_eq!(conn.paths().active().remote(), preferred);
    // The connection ID of the preferred_address parameter, sequence 1.
    let pa = conn
        .peer_transport_parameters()
        .and_then(|t| t.preferred_address)
        .expect("preferred_address");
    assert_eq!(conn.remote_cid(), pa.id);
    // quinn answered our challenge at its preferred address.
    let stats = p.quinn().connection().stats();
    assert!(stats.frame_rx.path_challenge > 0 && stats.frame_tx.path_response > 0);
    send(&mut p, true, &pattern(50_000, 1));
    send(&mut p, false, &pattern(50_000, 2));
    assert_eq!(
        p.ours().endpoint().conn.paths().active().remote(),
        preferred
    );
    assert_eq!(p.closes(), [None, None]);
}

#[test]
fn quinn_client_accepts_our_preferred_address() {
    let mut p = Pair::new(BOTH[1], &setup());
    p.handshake();
    send(&mut p, true, &pattern(30_000, 1));
    send(&mut p, false, &pattern(30_000, 2));
    // quinn stays on the handshake address; so does our server.
    let conn = &p.ours().endpoint().conn;
    assert_eq!(conn.paths().active().local(), SERVER_ADDR);
    assert_eq!(p.closes(), [None, None]);
}
