// SPDX-License-Identifier: GPL-2.0

//! QUIC v1 handshakes between our core and quinn, both ways: ALPN, the
//! negotiated cipher, one TLS session on both sides (same exporter
//! output), exactly one connection and no Retry.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::peer::Stack;
use quic_interop::setup::Setup;
use quic_protocol::protocol::crypto::CipherSuite;
use quic_protocol::protocol::packet::version::Version;
use quic_test_support::tls::ALPN;

fn handshake(direction: Direction) {
    let mut p = Pair::new(direction, &Setup::default());
    p.handshake();
    // RTT 20 ms: 1-RTT handshake, confirmed within a few round trips.
    assert!(p.now.saturating_duration_since(Pair::START).as_millis() < 200);
    assert_eq!(p.client.alpn().as_deref(), Some(ALPN));
    assert_eq!(p.server.alpn().as_deref(), Some(ALPN));
    let exporter = p.client.exporter().expect("client exporter");
    assert_eq!(Some(exporter), p.server.exporter());
    let ours = p.ours().endpoint();
    assert_eq!(ours.conn.version(), Version::V1);
    let tls_suite = ours.tls.negotiated_cipher_suite().expect("suite").suite();
    let suite = CipherSuite::from_tls_id(u16::from(tls_suite));
    assert_eq!(ours.conn.one_rtt_suite(), suite);
    assert!(suite.is_some());
    assert_eq!(p.client.connections(), 1);
    assert_eq!(p.server.connections(), 1);
    assert_eq!(p.server.retries_sent(), 0);
    assert_eq!(p.wire.retries, 0);
    assert_eq!(
        p.client.stack() == Stack::Ours,
        direction == Direction::OursToQuinn
    );
}

#[test]
fn our_client_quinn_server() {
    handshake(BOTH[0]);
}

#[test]
fn quinn_client_our_server() {
    handshake(BOTH[1]);
}
