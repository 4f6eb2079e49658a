// SPDX-License-Identifier: GPL-2.0

//! Stream transfers the scenarios share: write a whole buffer as flow
//! control allows, and wait for the other side to have it.

use crate::pair::Pair;
use crate::peer::{Peer, WriteError};
use std::time::Duration;

/// `n` bytes of a recognisable pattern (different for each `seed`).
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect()
}

/// The client's or the server's peer.
pub fn side(p: &mut Pair, client: bool) -> &mut dyn Peer {
    if client {
        &mut *p.client
    } else {
        &mut *p.server
    }
}

/// Opens a stream on one side, waiting for stream credit if needed.
pub fn open(p: &mut Pair, client: bool, bidi: bool) -> u64 {
    let mut id = None;
    let ok = p.run_until(Duration::from_secs(10), |p| {
        id = side(p, client).open(bidi);
        id.is_some()
    });
    assert!(ok, "no stream credit");
    id.expect("stream")
}

/// Writes `data` to stream `id` of one side, then FIN, stepping while
/// flow control or the send buffer blocks.
pub fn write_all(p: &mut Pair, client: bool, id: u64, data: &[u8], within: Duration) {
    let mut at = 0;
    let ok = p.run_until(within, |p| {
        while at < data.len() {
            match side(p, client).write(id, &data[at..]) {
                Ok(n) => at += n,
                Err(WriteError::Blocked) => return false,
                Err(e) => panic!("write failed: {e:?}"),
            }
        }
        true
    });
    assert!(ok, "could not write {} bytes, {} written", data.len(), at);
    side(p, client).finish(id);
}

/// Runs until the other side has stream `id` complete (with FIN).
pub fn wait_received(p: &mut Pair, to_client: bool, id: u64, within: Duration) -> Vec<u8> {
    let ok = p.run_until(within, |p| {
        side(p, to_client).received(id).is_some_and(|(_, fin)| fin)
    });
    let got = side(p, to_client).received(id).map(|(d, _)| d.len());
    assert!(ok, "stream {id} incomplete: {got:?} bytes");
    let (data, _) = side(p, to_client).received(id).expect("stream");
    data.to_vec()
}

/// Sends `data` on a new bidirectional stream from one side and returns
/// the stream ID once the other side received all of it.
pub fn send(p: &mut Pair, from_client: bool, data: &[u8]) -> u64 {
    let id = open(p, from_client, true);
    write_all(p, from_client, id, data, Duration::from_secs(60));
    let got = wait_received(p, !from_client, id, Duration::from_secs(60));
    assert!(got == data, "stream {id}: data differs");
    id
}
