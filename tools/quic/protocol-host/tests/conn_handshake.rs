// SPDX-License-Identifier: GPL-2.0

//! Handshakes between our client and our server with rustls: versions 1
//! and 2, compatible and incompatible version negotiation (with a forged
//! Version Negotiation packet), Retry, the three cipher suites.

mod conn_common;

use conn_common::*;
use quic_protocol::protocol::connection::{Config, Event, State, Versions};
use quic_protocol::protocol::crypto::CipherSuite;
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::stream::Dir;
use std::time::Duration;

/// Sends `data` on a new client stream and checks it arrives whole.
fn echo_check(p: &mut Pair, data: &[u8]) {
    let id = p.client.conn.stream_open(Dir::Bi).expect("open");
    let n = p.client.conn.stream_write(id, data, true).expect("write");
    assert_eq!(n, data.len());
    let ok = p.run_until(Duration::from_secs(30), |p| {
        p.server().stream_data(id).is_some()
    });
    assert!(ok, "stream data did not arrive");
    assert_eq!(p.server().stream_data(id).unwrap(), data);
}

#[test]
fn handshake_v1() {
    let mut p = Pair::new(Setup {
        client: with_versions(Default::default(), Versions::V1),
        ..Setup::default()
    });
    p.handshake();
    assert_eq!(p.client.conn.version(), Version::V1);
    assert_eq!(p.server().conn.version(), Version::V1);
    assert_eq!(p.client.conn.state(), State::Established);
    assert!(p.client.saw(&Event::Connected) && p.client.saw(&Event::HandshakeConfirmed));
    assert!(p.server().saw(&Event::Connected));
    assert!(p.client.conn.one_rtt_suite().is_some());
    assert_eq!(
        p.client.conn.one_rtt_suite(),
        p.server().conn.one_rtt_suite()
    );
    echo_check(&mut p, b"hello over QUIC v1");
}

#[test]
fn handshake_v2() {
    let v2 = Versions::new(&[Version::V2]).unwrap();
    let mut p = Pair::new(Setup {
        client: with_versions(Default::default(), v2),
        server: with_versions(Default::default(), v2),
        ..Setup::default()
    });
    p.handshake();
    assert_eq!(p.client.conn.version(), Version::V2);
    assert_eq!(p.server().conn.version(), Version::V2);
    echo_check(&mut p, b"hello over QUIC v2");
}

/// RFC 9368: the client starts in v1 offering v2, the server prefers v2
/// and switches; both finish in v2 and the version_information checks
/// pass on both sides.
#[test]
fn compatible_version_negotiation_to_v2() {
    let mut p = Pair::new(Setup {
        client: with_versions(Default::default(), Versions::V1_V2),
        server: with_versions(Default::default(), Versions::V2_V1),
        ..Setup::default()
    });
    assert_eq!(p.client.conn.version(), Version::V1);
    p.handshake();
    assert_eq!(p.client.conn.version(), Version::V2);
    assert_eq!(p.server().conn.version(), Version::V2);
    echo_check(&mut p, b"negotiated v2");
}

/// RFC 9368 §4: a server that already gave TLS parameters choosing v2
/// cannot go back when the client turns out not to offer v2: it closes
/// with VERSION_NEGOTIATION_ERROR rather than complete a downgrade-prone
/// handshake.
#[test]
fn server_refuses_a_version_the_client_did_not_offer() {
    let client = Config {
        compatible_version_negotiation: false,
        ..Config::default()
    };
    let mut p = Pair::new(Setup {
        client,
        server: with_versions(Default::default(), Versions::V2_V1),
        ..Setup::default()
    });
    let closed = p.run_until(Duration::from_secs(5), |p| {
        p.server_conn().is_some_and(|s| s.conn.is_closed())
    });
    assert!(closed);
    let err = p
        .server_conn()
        .unwrap()
        .conn
        .close_error()
        .copied()
        .unwrap();
    assert_eq!(err.code, 0x11);
    assert!(!p.client.conn.is_handshake_complete());
}

/// RFC 9000 §6.2, RFC 9368 §2.1: the client starts in version 2, which
/// the server does not speak; the Version Negotiation packet lists version
/// 1 and the client starts over in it, with a new TLS session. The
/// server's version_information lists version 1 only, so the client would
/// have chosen it anyway: the handshake completes.
#[test]
fn version_negotiation_restarts_in_a_common_version() {
    let mut p = Pair::new(Setup {
        client: with_versions(Default::default(), Versions::V2_V1),
        server: with_versions(Default::default(), Versions::V1),
        version_negotiation: Some(&[Version::V1]),
        ..Setup::default()
    });
    assert_eq!(p.client.conn.version(), Version::V2);
    p.handshake();
    assert!(p.client.saw(&Event::VersionNegotiation {
        version: Version::V1
    }));
    assert_eq!(p.client.conn.version(), Version::V1);
    assert_eq!(p.server().conn.version(), Version::V1);
    let info = p.server().conn.peer_transport_parameters().unwrap();
    let info = info.version_information.unwrap();
    assert_eq!(info.chosen(), Version::V1.0);
    echo_check(&mut p, b"after version negotiation");
}

/// RFC 9368 §4: an attacker forges a Version Negotiation packet listing
/// version 2 only, while the server speaks version 1, which the client
/// prefers. The client starts over in version 2 and the server, which does
/// not negotiate compatible versions, stays there; the client learns from
/// the server's Available Versions that it would have chosen version 1,
/// and closes with VERSION_NEGOTIATION_ERROR.
#[test]
fn a_forged_version_negotiation_is_detected() {
    let server = Config {
        compatible_version_negotiation: false,
        ..Config::default()
    };
    let mut p = Pair::new(Setup {
        client: with_versions(Default::default(), Versions::V1_V2),
        server: with_versions(server, Versions::V1_V2),
        version_negotiation: Some(&[Version::V2]),
        ..Setup::default()
    });
    let closed = p.run_until(Duration::from_secs(5), |p| p.client.conn.is_closed());
    assert!(closed);
    assert!(p.client.saw(&Event::VersionNegotiation {
        version: Version::V2
    }));
    let err = p.client.conn.close_error().copied().unwrap();
    assert_eq!(err.code, 0x11);
    assert!(!err.by_peer);
    assert!(!p.client.conn.is_handshake_complete());
}

/// The same forgery against a server that negotiates compatible versions:
/// it moves the connection back to version 1, the client's preference, and
/// the downgrade is undone rather than refused.
#[test]
fn compatible_negotiation_undoes_a_forged_version_negotiation() {
    let mut p = Pair::new(Setup {
        client: with_versions(Default::default(), Versions::V1_V2),
        server: with_versions(Default::default(), Versions::V1_V2),
        version_negotiation: Some(&[Version::V2]),
        ..Setup::default()
    });
    p.handshake();
    assert!(p.client.saw(&Event::VersionNegotiation {
        version: Version::V2
    }));
    assert_eq!(p.client.conn.version(), Version::V1);
    assert_eq!(p.server().conn.version(), Version::V1);
}

fn suite_test(suites: Suites, expected: CipherSuite) {
    let mut p = Pair::new(Setup {
        suites,
        ..Setup::default()
    });
    p.handshake();
    assert_eq!(p.client.conn.one_rtt_suite(), Some(expected));
    assert_eq!(p.server().conn.one_rtt_suite(), Some(expected));
    echo_check(&mut p, &pattern(50_000, 3));
}

#[test]
fn chacha20_poly1305() {
    suite_test(Suites::ChaCha20, CipherSuite::ChaCha20Poly1305Sha256);
}

#[test]
fn aes_256_gcm() {
    suite_test(Suites::Aes256, CipherSuite::Aes256GcmSha384);
}

/// RFC 9000 §8.1.2, §17.2.5: the server answers the first Initial with a
/// Retry; the client sends its ClientHello again with the token and the
/// new connection ID, keeps its packet numbers, and the handshake
/// authenticates retry_source_connection_id.
#[test]
fn retry() {
    let mut p = Pair::new(Setup {
        admission: Admission::Retry,
        ..Setup::default()
    });
    p.handshake();
    assert_eq!(
        p.client.conn.remote_cid().as_slice().len(),
        p.server().conn.local_cid().len()
    );
    // Two client Initials at least: before and after the Retry.
    assert!(p.datagrams_sent[0] >= 2);
    echo_check(&mut p, b"after retry");
}
