// SPDX-License-Identifier: GPL-2.0

//! RFC 9221 datagrams both ways: each side sends a burst, the other gets
//! every one, in order, intact; neither sends one above the peer's limit.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::setup::Setup;
use std::time::Duration;

fn datagrams(direction: Direction) {
    let mut p = Pair::new(direction, &Setup::default());
    p.handshake();
    for client in [true, false] {
        let peer = if client { &mut p.client } else { &mut p.server };
        let max = peer.max_datagram().expect("peer accepts datagrams");
        // Our limit is max_datagram_frame_size 1200 on a 1200-byte path;
        // quinn's is its MTU.
        assert!(max >= 1000, "{max}");
        assert!(!peer.send_datagram(&vec![0u8; max + 1]));
        for i in 0..8u8 {
            let size = if i == 7 { max } else { 100 + usize::from(i) };
            assert!(peer.send_datagram(&vec![i ^ u8::from(client); size]));
        }
    }
    let ok = p.run_until(Duration::from_secs(2), |p| {
        p.client.datagrams().len() == 8 && p.server.datagrams().len() == 8
    });
    assert!(ok, "datagrams lost on a lossless link");
    for (client, got) in [(false, p.client.datagrams()), (true, p.server.datagrams())] {
        for (i, d) in got.iter().enumerate() {
            assert!(d.iter().all(|b| *b == i as u8 ^ u8::from(client)));
            if i < 7 {
                assert_eq!(d.len(), 100 + i);
            }
        }
    }
}

#[test]
fn our_client_quinn_server() {
    datagrams(BOTH[0]);
}

#[test]
fn quinn_client_our_server() {
    datagrams(BOTH[1]);
}
