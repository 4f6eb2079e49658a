// SPDX-License-Identifier: GPL-2.0

//! Version Negotiation (RFC 9000 §6, RFC 9368 §2.1 and §8, interop runner
//! case V): our client starts in QUIC version 2, which quinn does not
//! speak; quinn answers with a Version Negotiation packet and our client
//! starts over in version 1 with a new TLS session. quinn sends no
//! version_information: our client takes it as version 1 only (RFC 9368
//! §8) and completes the handshake.

use quic_interop::pair::{Pair, BOTH};
use quic_interop::setup::Setup;
use quic_interop::transfer::send;
use quic_protocol::protocol::connection::{Event, Versions};
use quic_protocol::protocol::packet::version::Version;

#[test]
fn our_client_quinn_server() {
    let setup = Setup {
        client_versions: Some(Versions::V2_V1),
        ..Setup::default()
    };
    let mut p = Pair::new(BOTH[0], &setup);
    assert_eq!(p.ours().endpoint().conn.version(), Version::V2);
    p.handshake();
    assert!(p.ours().saw(&Event::VersionNegotiation {
        version: Version::V1
    }));
    assert_eq!(p.ours().endpoint().conn.version(), Version::V1);
    assert_eq!(p.server.connections(), 1);
    send(&mut p, true, b"after version negotiation");
    send(&mut p, false, b"and back");
}
