// SPDX-License-Identifier: GPL-2.0

//! One cipher suite offered on both sides (interop runner case C20 and its
//! AES-256 twin): the handshake uses it, packets are protected with it
//! (our 1-RTT keys report it) and data moves.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::setup::Setup;
use quic_interop::transfer::{pattern, send};
use quic_protocol::protocol::crypto::CipherSuite;
use quic_test_support::tls::Suites;

fn suite_only(direction: Direction, suites: Suites, expected: CipherSuite) {
    let setup = Setup {
        suites,
        ..Setup::default()
    };
    let mut p = Pair::new(direction, &setup);
    p.handshake();
    let ours = p.ours().endpoint();
    assert_eq!(ours.conn.one_rtt_suite(), Some(expected));
    let tls = ours.tls.negotiated_cipher_suite().expect("suite").suite();
    assert_eq!(CipherSuite::from_tls_id(u16::from(tls)), Some(expected));
    assert_eq!(p.client.exporter(), p.server.exporter());
    send(&mut p, true, &pattern(100_000, 3));
    send(&mut p, false, &pattern(100_000, 4));
}

#[test]
fn chacha20_our_client_quinn_server() {
    suite_only(
        BOTH[0],
        Suites::ChaCha20,
        CipherSuite::ChaCha20Poly1305Sha256,
    );
}

#[test]
fn chacha20_quinn_client_our_server() {
    suite_only(
        BOTH[1],
        Suites::ChaCha20,
        CipherSuite::ChaCha20Poly1305Sha256,
    );
}

#[test]
fn aes256_our_client_quinn_server() {
    suite_only(BOTH[0], Suites::Aes256, CipherSuite::Aes256GcmSha384);
}

#[test]
fn aes256_quinn_client_our_server() {
    suite_only(BOTH[1], Suites::Aes256, CipherSuite::Aes256GcmSha384);
}
