// SPDX-License-Identifier: GPL-2.0

//! 0-RTT (RFC 9001 §4.6, interop runner case Z): a first connection leaves
//! the client a session ticket (1-RTT CRYPTO data fed to TLS) and, for our
//! client, the server's transport parameters (QUIC_SOCKOPT_TRANSPORT_PARAM
//! with `remote = 1`); the second connection sends its request in 0-RTT
//! packets. Accepted: the server reads the request before its handshake
//! completes. Rejected (the server's TLS refuses early data, the ticket
//! stays valid): the request arrives once, in 1-RTT packets.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::peer::Stack;
use quic_interop::setup::Setup;
use quic_interop::transfer::{send, write_all};
use std::sync::Arc;
use std::time::Duration;

const REQUEST: &[u8] = b"GET /early-data";

fn zero_rtt(direction: Direction, accept: bool) {
    let mut first = Pair::new(direction, &Setup::default());
    first.handshake();
    send(&mut first, true, b"first connection");
    // Tickets arrive after the handshake.
    first.run_for(Duration::from_millis(300));
    assert!(!first.client.accepted_0rtt());
    let remembered = (first.client.stack() == Stack::Ours).then(|| {
        *first
            .ours()
            .endpoint()
            .conn
            .peer_transport_parameters()
            .expect("server parameters")
    });
    let tls = first.tls_configs();
    let tls = if accept {
        tls
    } else {
        Arc::new(tls.rejecting_early_data())
    };
    let setup = Setup {
        tls: Some(tls),
        remembered,
        seed: 2,
        ..Setup::default()
    };
    let mut p = Pair::new(direction, &setup);
    // Before any packet is exchanged: the stream opens on remembered
    // limits and its data goes with the first flight.
    let mut id = p.client.open(true).expect("0-RTT stream");
    write_all(&mut p, true, id, REQUEST, Duration::ZERO);
    if !accept && p.client.stack() == Stack::Quinn {
        // quinn drops the streams of rejected 0-RTT and leaves it to the
        // application to send again (our core resends by itself).
        p.handshake();
        assert!(!p.client.accepted_0rtt());
        assert_eq!(p.server.received(id), None);
        id = p.client.open(true).expect("1-RTT stream");
        write_all(&mut p, true, id, REQUEST, Duration::ZERO);
    }
    let mut server_established_at_request = None;
    let ok = p.run_until(Duration::from_secs(5), |p| {
        let got = p.server.received(id).is_some_and(|(_, fin)| fin);
        if got && server_established_at_request.is_none() {
            server_established_at_request = Some(p.server.is_established());
        }
        got && p.client.is_established() && p.server.is_established()
    });
    assert!(ok, "request not delivered");
    assert_eq!(p.server.received(id), Some((REQUEST, true)));
    assert_eq!(p.client.accepted_0rtt(), accept);
    assert_eq!(p.server.accepted_0rtt(), accept);
    // Accepted: read before the server's handshake completed, i.e. from
    // 0-RTT packets. Rejected: only after it.
    assert_eq!(server_established_at_request, Some(!accept));
    send(&mut p, false, b"response");
    assert_eq!(p.closes(), [None, None]);
}

#[test]
fn accepted_our_client_quinn_server() {
    zero_rtt(BOTH[0], true);
}

#[test]
fn accepted_quinn_client_our_server() {
    zero_rtt(BOTH[1], true);
}

#[test]
fn rejected_our_client_quinn_server() {
    zero_rtt(BOTH[0], false);
}

#[test]
fn rejected_quinn_client_our_server() {
    zero_rtt(BOTH[1], false);
}
