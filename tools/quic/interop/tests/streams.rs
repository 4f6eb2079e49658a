// SPDX-License-Identifier: GPL-2.0

//! Many streams beyond the initial limit (interop runner case M): the
//! server allows 10 concurrent bidirectional streams; the client runs 300
//! request/response exchanges, opening each as MAX_STREAMS credit comes.

use quic_interop::pair::{Direction, Pair, BOTH};
use quic_interop::setup::Setup;
use std::collections::BTreeSet;
use std::time::Duration;

const STREAMS: usize = 300;

fn request(i: usize) -> Vec<u8> {
    format!("GET /{i}").into_bytes()
}

fn response(request: &[u8]) -> Vec<u8> {
    let mut r = b"200 ".to_vec();
    r.extend_from_slice(request);
    r
}

fn many_streams(direction: Direction) {
    let setup = Setup {
        server_max_streams_bidi: 10,
        ..Setup::default()
    };
    let mut p = Pair::new(direction, &setup);
    p.handshake();
    let mut opened: Vec<u64> = Vec::new();
    let mut answered = BTreeSet::new();
    let mut most_open = 0;
    let ok = p.run_until(Duration::from_secs(60), |p| {
        // The client opens what credit allows.
        while opened.len() < STREAMS {
            let Some(id) = p.client.open(true) else {
                break;
            };
            let req = request(opened.len());
            assert_eq!(p.client.write(id, &req), Ok(req.len()));
            p.client.finish(id);
            opened.push(id);
        }
        // The server answers every complete request once.
        for id in p.server.received_ids() {
            if answered.contains(&id) {
                continue;
            }
            let Some((req, true)) = p.server.received(id) else {
                continue;
            };
            let resp = response(req);
            assert_eq!(p.server.write(id, &resp), Ok(resp.len()));
            p.server.finish(id);
            answered.insert(id);
        }
        let in_flight = opened.len() - done_count(p, &opened);
        most_open = most_open.max(in_flight);
        opened.len() == STREAMS && done_count(p, &opened) == STREAMS
    });
    assert!(
        ok,
        "{} streams opened, {} done",
        opened.len(),
        done_count(&mut p, &opened)
    );
    for (i, id) in opened.iter().enumerate() {
        let (data, fin) = p.client.received(*id).expect("response");
        assert!(fin);
        assert_eq!(data, response(&request(i)).as_slice());
    }
    // Never more than the server's limit at once.
    assert!(most_open <= 10);
    assert_eq!(answered.len(), STREAMS);
}

fn done_count(p: &mut Pair, opened: &[u64]) -> usize {
    opened
        .iter()
        .filter(|id| p.client.received(**id).is_some_and(|(_, fin)| fin))
        .count()
}

#[test]
fn our_client_quinn_server() {
    many_streams(BOTH[0]);
}

#[test]
fn quinn_client_our_server() {
    many_streams(BOTH[1]);
}
