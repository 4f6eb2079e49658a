// SPDX-License-Identifier: GPL-2.0

//! Connection ID exchange between two endpoints over a lossy channel.
//!
//! The server's `LocalCids` feeds NEW_CONNECTION_ID frames to the client's
//! `PeerCids`, which answers with RETIRE_CONNECTION_ID frames, while frames
//! are lost, repeated and reordered, the client rotates IDs and the server
//! raises Retire Prior To. Neither side may ever see a protocol error, every
//! ID the client holds must route to the server, and once the channel is
//! quiet both sides must agree. Reset tokens come from HMAC-SHA256, as a
//! real endpoint would compute them.

use hmac::{Hmac, Mac};
use quic_protocol::protocol::cid::local::{LocalCids, RouteChange};
use quic_protocol::protocol::cid::peer::PeerCids;
use quic_protocol::protocol::cid::reset::{encode_stateless_reset, ResetToken};
use quic_protocol::protocol::cid::{ConnectionId, Generator, NewConnectionId};
use sha2::Sha256;
use std::collections::HashSet;

/// xorshift64*: deterministic, good enough to drive a simulation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next() as u8;
        }
    }
}

/// Random IDs; tokens are HMAC-SHA256(static key, ID) truncated (§10.3.2).
struct HmacGenerator {
    key: [u8; 32],
    rng: Rng,
}

impl HmacGenerator {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut key = [0; 32];
        rng.fill(&mut key);
        Self { key, rng }
    }
}

impl Generator for HmacGenerator {
    fn new_cid(&mut self, len: usize) -> ConnectionId {
        let mut bytes = [0; ConnectionId::MAX_LEN];
        self.rng.fill(&mut bytes[..len]);
        ConnectionId::from_slice(&bytes[..len]).expect("length within bounds")
    }

    fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(cid.as_slice());
        let digest = mac.finalize().into_bytes();
        ResetToken::new(digest[..16].try_into().expect("16 bytes"))
    }
}

struct Sim {
    rng: Rng,
    gen: HmacGenerator,
    server: LocalCids,
    client: PeerCids,
    /// The server endpoint's demultiplexing table.
    demux: HashSet<ConnectionId>,
    to_client: Vec<NewConnectionId>,
    /// RETIRE_CONNECTION_ID frames, with the DCID of their packet.
    to_server: Vec<(u64, ConnectionId)>,
    loss: u64,
}

impl Sim {
    fn new(seed: u64, limit: u64, loss: u64) -> Self {
        let mut gen = HmacGenerator::new(seed);
        let mut server = LocalCids::new(8, &mut gen).expect("server IDs");
        let (_, first) = server.first().expect("sequence 0");
        let mut client = PeerCids::new(*first, limit).expect("client set");
        // The server's stateless_reset_token transport parameter.
        client.set_handshake_reset_token(server.initial_reset_token().expect("token"));
        server.set_peer_limit(limit);
        let mut sim = Self {
            rng: Rng(seed | 1),
            gen,
            server,
            client,
            demux: HashSet::new(),
            to_client: Vec::new(),
            to_server: Vec::new(),
            loss,
        };
        sim.sync_demux();
        sim
    }

    fn sync_demux(&mut self) {
        while let Some(change) = self.server.poll_route_change() {
            match change {
                RouteChange::Add(id) => assert!(self.demux.insert(id), "added twice"),
                RouteChange::Remove(id) => assert!(self.demux.remove(&id), "not routed"),
            }
        }
    }

    /// The server issues and sends what it has to.
    fn server_sends(&mut self) {
        self.server.replenish(&mut self.gen).expect("replenish");
        self.sync_demux();
        while let Some(f) = self.server.pending_new_connection_id() {
            self.server.on_new_connection_id_sent(f.sequence);
            if self.rng.chance(self.loss) {
                self.server.on_new_connection_id_lost(f.sequence);
            } else {
                self.to_client.push(f);
                if self.rng.chance(5) {
                    // A spurious retransmission.
                    self.to_client.push(f);
                }
            }
        }
    }

    /// The client sends its pending retirements, in a packet to its current ID.
    fn client_sends(&mut self) {
        while let Some(seq) = self.client.pending_retire() {
            self.client.on_retire_sent(seq);
            if self.rng.chance(self.loss) {
                self.client.on_retire_lost(seq);
            } else {
                let dcid = *self.client.current();
                self.to_server.push((seq, dcid));
            }
        }
    }

    /// Delivers one frame in each direction, in random order.
    fn deliver(&mut self) {
        if !self.to_client.is_empty() {
            let i = self.rng.below(self.to_client.len() as u64) as usize;
            let f = self.to_client.swap_remove(i);
            self.client
                .on_new_connection_id(&f)
                .expect("NEW_CONNECTION_ID accepted");
        }
        if !self.to_server.is_empty() {
            let i = self.rng.below(self.to_server.len() as u64) as usize;
            let (seq, dcid) = self.to_server.swap_remove(i);
            if !self.demux.contains(&dcid) {
                // Delayed past the retirement of its own ID: the endpoint
                // drops the packet, and the frame is declared lost.
                self.client.on_retire_lost(seq);
                return;
            }
            self.server
                .on_retire_connection_id(seq, &dcid)
                .expect("RETIRE_CONNECTION_ID accepted");
            self.client.on_retire_acked(seq);
            self.sync_demux();
        }
    }

    /// The client moves to a fresh ID, as on a migration. Returns whether
    /// the old one could be retired.
    fn client_rotates(&mut self) -> bool {
        let old = self.client.current_sequence();
        let Some((seq, _)) = self.client.take_unused() else {
            return false;
        };
        self.client.set_current(seq).expect("held");
        // Refused while too many of our retirements are pending.
        self.client.retire(old).is_ok()
    }

    fn check(&self) {
        for (_, id) in self.client.iter() {
            assert!(self.demux.contains(id), "every held ID routes");
        }
        assert!(self.client.len() as u64 <= 8);
        let routed: HashSet<_> = self.server.routed().copied().collect();
        assert_eq!(routed, self.demux);
    }

    fn quiesce(&mut self) {
        self.loss = 0;
        for _ in 0..100 {
            self.server_sends();
            self.client_sends();
            while !self.to_client.is_empty() || !self.to_server.is_empty() {
                self.deliver();
            }
            self.check();
        }
    }
}

#[test]
fn random_exchange_converges() {
    let (mut rotations, mut raises) = (0, 0);
    for seed in 1..=200 {
        let limit = 2 + seed % 7;
        let mut sim = Sim::new(seed, limit, 20);
        for step in 0..300 {
            match sim.rng.below(10) {
                0..=2 => sim.server_sends(),
                3..=4 => sim.client_sends(),
                5..=7 => sim.deliver(),
                8 => rotations += u32::from(sim.client_rotates()),
                _ => {
                    // The server asks to retire everything up to some point.
                    let rpt = sim.server.current_retire_prior_to() + 1 + step % 2;
                    raises += u32::from(sim.server.retire_prior_to(rpt, &mut sim.gen).is_ok());
                    sim.sync_demux();
                }
            }
            sim.check();
        }
        sim.quiesce();
        // Quiet: the client holds exactly the server's IDs, a full set.
        let held: HashSet<_> = sim.client.iter().map(|(_, id)| *id).collect();
        assert_eq!(held, sim.demux, "seed {seed}");
        assert_eq!(sim.client.len() as u64, limit, "seed {seed}");
        assert_eq!(sim.server.active_count() as u64, limit);
        assert_eq!(sim.client.pending_retire(), None);
    }
    // The runs did exercise both kinds of retirement.
    assert!(rotations > 1000 && raises > 1000, "{rotations} {raises}");
}

#[test]
fn stateless_reset_from_a_server_that_lost_state() {
    let mut sim = Sim::new(7, 4, 0);
    sim.quiesce();
    let dcid = *sim.client.current();
    // A 1-RTT packet from the client, which the restarted server cannot
    // decrypt: it answers with the token it can recompute from the ID.
    let mut packet = vec![0x40];
    packet.extend_from_slice(dcid.as_slice());
    packet.resize(80, 0xaa);
    let token = sim.gen.reset_token(&dcid);
    let mut random = [0; 100];
    sim.rng.fill(&mut random);
    let mut reset = [0; 1500];
    let len = encode_stateless_reset(&token, packet.len(), &random, &mut reset).expect("sent");
    assert_eq!(len, packet.len() - 1);
    assert!(sim.client.is_stateless_reset(&reset[..len]));
    // The token of an ID the client holds but never used is not checked.
    let (_, unused) = sim
        .client
        .iter()
        .find(|(seq, _)| *seq != sim.client.current_sequence())
        .expect("a spare ID");
    let token = sim.gen.reset_token(unused);
    let len = encode_stateless_reset(&token, packet.len(), &random, &mut reset).expect("sent");
    assert!(!sim.client.is_stateless_reset(&reset[..len]));
    // Any datagram that merely fails to decrypt is not a reset.
    assert!(!sim.client.is_stateless_reset(&packet));
}
