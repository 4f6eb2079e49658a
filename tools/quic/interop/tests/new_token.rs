// SPDX-License-Identifier: GPL-2.0

//! NEW_TOKEN (RFC 9000 §8.1.3, §19.7): once the handshake is confirmed the
//! server hands the client an address validation token; the client's next
//! connection to that server presents it in its Initial packets, and a
//! server that validates addresses accepts it instead of sending a Retry.
//! Our server mints the token with the endpoint's token key and validates
//! it in the endpoint router; quinn keeps it in its client TokenStore.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::peer::Stack;
use quic_interop::setup::Setup;
use quic_interop::transfer::send;
use quinn_proto::TokenMemoryCache;
use std::sync::Arc;
use std::time::Duration;

fn new_token(direction: Direction) {
    let setup = Setup {
        retry: true,
        new_tokens: true,
        quinn_token_store: Some(Arc::new(TokenMemoryCache::default())),
        ..Setup::default()
    };
    let mut first = Pair::new(direction, &setup);
    first.handshake();
    assert_eq!(first.wire.retries, 1);
    // The token follows the handshake: wait for it (our client), or give
    // quinn's client the time to get it.
    let token = if first.client.stack() == Stack::Ours {
        let got = first.run_until(Duration::from_secs(2), |p| p.ours().new_token().is_some());
        assert!(got, "no NEW_TOKEN");
        first.ours().new_token()
    } else {
        first.run_for(Duration::from_millis(300));
        None
    };
    let mut second = Pair::new(
        direction,
        &Setup {
            token,
            tls: Some(first.tls_configs()),
            start_after: Duration::from_secs(60),
            ..setup.clone()
        },
    );
    second.handshake();
    // The token validated the address: no Retry this time.
    assert_eq!(second.wire.retries, 0);
    assert_eq!(second.server.connections(), 1);
    send(&mut second, true, b"validated by NEW_TOKEN");
}

#[test]
fn our_client_quinn_server() {
    new_token(BOTH[0]);
}

#[test]
fn quinn_client_our_server() {
    new_token(BOTH[1]);
}

/// Without a token, the second connection needs a Retry again: the first
/// test's skipped Retry is the token's doing.
#[test]
fn no_token_no_shortcut() {
    for direction in BOTH {
        let setup = Setup {
            retry: true,
            ..Setup::default()
        };
        let mut p = Pair::new(direction, &setup);
        p.handshake();
        assert_eq!(p.wire.retries, 1);
    }
}
