// SPDX-License-Identifier: GPL-2.0

//! Connection ID management (RFC 9000 §5.1, §19.15, §19.16): NEW_CONNECTION_ID
//! frames into `PeerCids`, RETIRE_CONNECTION_ID frames into `LocalCids`.
//!
//! The first input byte picks the scenario:
//!
//! - frames decoded from the input go into a `PeerCids` and a `LocalCids`,
//!   interleaved with the local operations (retire, set current, take
//!   unused, acknowledgements and losses); errors must carry the codes the
//!   RFC names, and the sets must keep their invariants;
//! - an honest exchange: the `LocalCids` of one endpoint issues IDs whose
//!   NEW_CONNECTION_ID frames are encoded, delivered (or lost, duplicated,
//!   reordered) and decoded into the `PeerCids` of the other, whose
//!   RETIRE_CONNECTION_ID frames travel back the same way. Neither side may
//!   ever report an error, and the route changes must add and remove each
//!   ID exactly once.

#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use quic_fuzz::Input;
use quic_protocol::protocol::cid::local::{LocalCids, RouteChange, MAX_ISSUED};
use quic_protocol::protocol::cid::peer::PeerCids;
use quic_protocol::protocol::cid::reset::ResetToken;
use quic_protocol::protocol::cid::{ConnectionId, Generator, NewConnectionId};
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::error::TransportErrorCode;
use quic_protocol::protocol::frame::{self, Frame, Frames};
use quic_protocol::protocol::varint::VarInt;

/// Unique IDs from a counter (for lengths of 4 bytes or more, which the
/// targets use); tokens derived from the ID.
struct Counter(u64);

impl Generator for Counter {
    fn new_cid(&mut self, len: usize) -> ConnectionId {
        self.0 += 1;
        let mut bytes = [0xc1u8; 20];
        bytes[12..].copy_from_slice(&self.0.to_be_bytes());
        ConnectionId::from_slice(&bytes[20 - len.min(20)..]).expect("<= 20")
    }

    fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
        // The low bytes of the ID hold the counter: distinct IDs get
        // distinct tokens.
        let id = cid.as_slice();
        let tail = &id[id.len().saturating_sub(8)..];
        let mut t = [0x5a; 16];
        t[16 - tail.len()..].copy_from_slice(tail);
        t[0] = id.len() as u8;
        ResetToken::new(t)
    }
}

fn check_peer(p: &PeerCids, limit: u64) {
    let seqs: Vec<u64> = p.iter().map(|(s, _)| s).collect();
    assert!(!seqs.is_empty());
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(p.contains_sequence(p.current_sequence()));
    assert_eq!(p.first_sequence(), seqs[0]);
    assert!(
        p.len() as u64 <= limit.max(2) + 1,
        "{} IDs for a limit of {limit}",
        p.len()
    );
    let ids: HashSet<_> = p.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), p.len(), "an ID held twice");
    assert!(p.unused_count() <= p.len());
}

fn check_local(l: &LocalCids) {
    assert!(l.active_count() as u64 <= 2 * MAX_ISSUED);
    if let Some(f) = l.pending_new_connection_id() {
        assert!(f.retire_prior_to <= f.sequence);
    }
}

/// Drains route changes into `routed`, checking each is consistent.
fn drain_routes(l: &mut LocalCids, routed: &mut HashSet<ConnectionId>) {
    while let Some(change) = l.poll_route_change() {
        match change {
            RouteChange::Add(id) => assert!(routed.insert(id), "added twice: {id:?}"),
            RouteChange::Remove(id) => assert!(routed.remove(&id), "removed unknown: {id:?}"),
        }
    }
    let now: HashSet<_> = l.routed().copied().collect();
    assert_eq!(&now, routed);
}

fn to_core(f: &frame::NewConnectionId) -> NewConnectionId {
    NewConnectionId {
        sequence: f.sequence.into_inner(),
        retire_prior_to: f.retire_prior_to.into_inner(),
        id: f.id,
        reset_token: ResetToken::new(f.reset_token),
    }
}

fn raw_frames(input: &mut Input<'_>) {
    let limit = 2 + input.below(8);
    let initial = ConnectionId::from_slice(input.slice(20)).expect("<= 20");
    let mut peer = PeerCids::new(initial, limit).expect("alloc");
    let mut gen = Counter(0);
    let cid_len = match input.index(18) {
        0 => 0,
        n => n + 3,
    };
    let mut local = LocalCids::new(cid_len, &mut gen).expect("a local set");
    local.set_peer_limit(input.scaled(64));
    let mut routed = HashSet::new();
    let mut peer_ok = true;
    let mut local_ok = true;
    while !input.is_empty() && (peer_ok || local_ok) {
        let op = input.u8();
        match op % 8 {
            0..=3 => {
                let payload = input.slice(64);
                for f in Frames::new(payload).map_while(Result::ok) {
                    match f {
                        Frame::NewConnectionId(f) if peer_ok => {
                            if let Err(e) = peer.on_new_connection_id(&to_core(&f)) {
                                assert!(
                                    matches!(
                                        e.code,
                                        TransportErrorCode::PROTOCOL_VIOLATION
                                            | TransportErrorCode::FRAME_ENCODING_ERROR
                                            | TransportErrorCode::CONNECTION_ID_LIMIT_ERROR
                                    ),
                                    "{e:?}"
                                );
                                peer_ok = false;
                            }
                        }
                        Frame::RetireConnectionId { sequence } if local_ok => {
                            let dcid = local
                                .first()
                                .map(|(_, id)| *id)
                                .unwrap_or(ConnectionId::EMPTY);
                            if let Err(e) =
                                local.on_retire_connection_id(sequence.into_inner(), &dcid)
                            {
                                assert_eq!(e.code, TransportErrorCode::PROTOCOL_VIOLATION, "{e:?}");
                                local_ok = false;
                            } else {
                                local.replenish(&mut gen).expect("replenish");
                            }
                        }
                        _ => {}
                    }
                }
            }
            4 if peer_ok => {
                let seq = input.below(16);
                match input.u8() % 6 {
                    0 => {
                        let _ = peer.retire(seq);
                    }
                    1 => {
                        let _ = peer.retire_prior_to(seq);
                    }
                    2 => {
                        let _ = peer.set_current(seq);
                    }
                    3 => {
                        let _ = peer.take_unused();
                    }
                    4 => {
                        if let Some(s) = peer.pending_retire() {
                            peer.on_retire_sent(s);
                        }
                    }
                    _ => {
                        let s = peer.pending_retire().unwrap_or(seq);
                        if input.bool() {
                            peer.on_retire_acked(s);
                        } else {
                            peer.on_retire_lost(s);
                        }
                    }
                }
            }
            5 if local_ok => {
                let seq = input.below(24);
                match input.u8() % 4 {
                    0 => {
                        let _ = local.retire_prior_to(seq, &mut gen);
                    }
                    1 => local.on_new_connection_id_sent(seq),
                    2 => local.on_new_connection_id_lost(seq),
                    _ => local.replenish(&mut gen).expect("replenish"),
                }
            }
            6 => {
                let d = input.slice(64);
                let _ = peer.is_stateless_reset(d);
            }
            _ => {}
        }
        if peer_ok {
            check_peer(&peer, limit);
        }
        if local_ok {
            check_local(&local);
            drain_routes(&mut local, &mut routed);
        }
    }
}

fn encode(f: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; f.encoded_size()];
    let mut w = Writer::new(&mut buf);
    f.encode(&mut w).expect("encode");
    buf
}

fn exchange(input: &mut Input<'_>) {
    let mut gen = Counter(1000);
    let cid_len = 4 + input.index(17);
    let limit = 2 + input.below(8);
    let mut local = LocalCids::new(cid_len, &mut gen).expect("a local set");
    let (_, first) = local.first().expect("sequence 0");
    let mut peer = PeerCids::new(*first, limit).expect("alloc");
    local.set_peer_limit(limit);
    local.replenish(&mut gen).expect("replenish");
    let mut routed = HashSet::new();
    drain_routes(&mut local, &mut routed);
    // Frames in flight each way, encoded.
    let mut to_peer: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut to_local: Vec<(u64, Vec<u8>)> = Vec::new();
    while !input.is_empty() {
        match input.u8() % 8 {
            0 => {
                if let Some(f) = local.pending_new_connection_id() {
                    let frame = Frame::NewConnectionId(frame::NewConnectionId {
                        sequence: VarInt::from_u64(f.sequence).expect("seq"),
                        retire_prior_to: VarInt::from_u64(f.retire_prior_to).expect("rpt"),
                        id: f.id,
                        reset_token: *f.reset_token.as_bytes(),
                    });
                    to_peer.push((f.sequence, encode(&frame)));
                    local.on_new_connection_id_sent(f.sequence);
                }
            }
            1 => {
                if let Some(seq) = peer.pending_retire() {
                    let frame = Frame::RetireConnectionId {
                        sequence: VarInt::from_u64(seq).expect("seq"),
                    };
                    to_local.push((seq, encode(&frame)));
                    peer.on_retire_sent(seq);
                }
            }
            2 if !to_peer.is_empty() => {
                let i = input.index(to_peer.len());
                let dup = input.u8() % 8 == 0;
                let (_, bytes) = if dup {
                    to_peer[i].clone()
                } else {
                    to_peer.remove(i)
                };
                let Some(Ok(Frame::NewConnectionId(f))) = Frames::new(&bytes).next() else {
                    panic!("NEW_CONNECTION_ID did not decode");
                };
                peer.on_new_connection_id(&to_core(&f))
                    .expect("an honest NEW_CONNECTION_ID");
            }
            3 if !to_local.is_empty() => {
                let i = input.index(to_local.len());
                let dup = input.u8() % 8 == 0;
                let (seq, bytes) = if dup {
                    to_local[i].clone()
                } else {
                    to_local.remove(i)
                };
                let Some(Ok(Frame::RetireConnectionId { sequence })) = Frames::new(&bytes).next()
                else {
                    panic!("RETIRE_CONNECTION_ID did not decode");
                };
                // The packet goes to the peer's current ID, which is never
                // the one retired.
                let dcid = *peer.current();
                local
                    .on_retire_connection_id(sequence.into_inner(), &dcid)
                    .expect("an honest RETIRE_CONNECTION_ID");
                // Its packet is acknowledged.
                if !dup {
                    peer.on_retire_acked(seq);
                }
                local.replenish(&mut gen).expect("replenish");
            }
            4 if !to_peer.is_empty() => {
                let (seq, _) = to_peer.remove(input.index(to_peer.len()));
                local.on_new_connection_id_lost(seq);
            }
            5 if !to_local.is_empty() => {
                let (seq, _) = to_local.remove(input.index(to_local.len()));
                peer.on_retire_lost(seq);
            }
            6 => {
                let seq = local.current_retire_prior_to() + input.below(4);
                let _ = local.retire_prior_to(seq, &mut gen);
            }
            _ => match input.u8() % 3 {
                0 => {
                    let _ = peer.take_unused();
                }
                1 => {
                    let seq = peer.current_sequence() + input.below(4);
                    let _ = peer.set_current(seq);
                }
                _ => {
                    let seq = peer.first_sequence() + input.below(4);
                    let _ = peer.retire(seq);
                }
            },
        }
        check_peer(&peer, limit);
        check_local(&local);
        drain_routes(&mut local, &mut routed);
        for (seq, id) in peer.iter() {
            // Every ID the peer holds still routes here: this side forgets
            // an ID only once the peer's RETIRE_CONNECTION_ID arrived.
            assert!(local.contains(id), "peer holds {seq} {id:?}, gone here");
            assert_eq!(local.sequence_of(id), Some(seq));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    if input.bool() {
        raw_frames(&mut input);
    } else {
        exchange(&mut input);
    }
});
