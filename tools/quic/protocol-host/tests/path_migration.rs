// SPDX-License-Identifier: GPL-2.0

//! Connection migration between a client and a server, end to end.
//!
//! Two endpoints, each with `Paths`, `LocalCids` and `PeerCids`, exchange
//! datagrams carrying PATH_CHALLENGE, PATH_RESPONSE and data over a small
//! simulated network with a NAT, in virtual time. The scenarios: a client
//! moving to a new address, a NAT rebinding, a spurious migration caused by
//! an attacker replaying packets, and a move to the server's preferred
//! address.

use quic_protocol::protocol::alloc::Box as KBox;
use quic_protocol::protocol::cid::local::LocalCids;
use quic_protocol::protocol::cid::peer::PeerCids;
use quic_protocol::protocol::cid::reset::ResetToken;
use quic_protocol::protocol::cid::{ConnectionId, Generator};
use quic_protocol::protocol::path::event::{MigrationKind, PathEvent};
use quic_protocol::protocol::path::migration::Paths;
use quic_protocol::protocol::path::pmtud::PmtudConfig;
use quic_protocol::protocol::path::PathId;
use quic_protocol::protocol::path::{IpAddr, SocketAddr};
use quic_protocol::protocol::side::Side;
use quic_protocol::protocol::time::Instant;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const PTO: Duration = Duration::from_millis(50);

const fn v4(o: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(o[0], o[1], o[2], o[3]),
        port,
    ))
}
const STEP: Duration = Duration::from_millis(10);

const SERVER: SocketAddr = v4([198, 51, 100, 1], 443);
const SERVER_PREFERRED: SocketAddr = v4([198, 51, 100, 2], 443);
/// The client's own addresses, behind the NAT for CLIENT_A.
const CLIENT_A: SocketAddr = v4([10, 0, 0, 2], 50000);
const CLIENT_B: SocketAddr = v4([203, 0, 113, 7], 40000);
/// The NAT's public address for CLIENT_A.
const NAT_IP: [u8; 4] = [192, 0, 2, 1];
const ATTACKER: SocketAddr = v4([233, 252, 0, 66], 6666);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// IDs `[tag, n, n, ...]`; tokens repeat the ID's last byte.
struct Gen(u8, u8);

impl Generator for Gen {
    fn new_cid(&mut self, len: usize) -> ConnectionId {
        self.1 += 1;
        let mut bytes = [self.1; 8];
        bytes[0] = self.0;
        ConnectionId::from_slice(&bytes[..len]).expect("short")
    }

    fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
        ResetToken::new([*cid.as_slice().last().unwrap_or(&0); 16])
    }
}

#[derive(Clone, Copy, Debug)]
enum Frame {
    Challenge([u8; 8]),
    Response([u8; 8]),
    /// Any non-probing frame.
    Data,
}

#[derive(Clone, Debug)]
struct Datagram {
    src: SocketAddr,
    dst: SocketAddr,
    dcid: ConnectionId,
    pn: u64,
    frame: Frame,
    len: usize,
}

struct Endpoint {
    paths: KBox<Paths>,
    own: LocalCids,
    peer: PeerCids,
    rng: Rng,
    next_pn: u64,
    events: Vec<PathEvent>,
}

impl Endpoint {
    fn new(role: Side, local: SocketAddr, remote: SocketAddr, tag: u8) -> (Self, Gen) {
        let mut gen = Gen(tag, 0);
        let own = LocalCids::new(8, &mut gen).expect("IDs");
        let pmtud = PmtudConfig::DISABLED;
        let endpoint = Self {
            paths: Paths::new(role, local, remote, pmtud).expect("paths"),
            own,
            // Replaced by the other side's ID in `connect`.
            peer: PeerCids::new(ConnectionId::EMPTY, 4).expect("set"),
            rng: Rng(u64::from(tag) * 7919 + 1),
            next_pn: 0,
            events: Vec::new(),
        };
        (endpoint, gen)
    }

    /// The DCID for packets on `id`: the path's own, given at first use.
    fn dcid(&mut self, id: PathId) -> ConnectionId {
        let assigned = self.paths.get(id).and_then(|p| p.dcid_sequence());
        let seq = match assigned {
            Some(seq) => seq,
            None => {
                //= https://www.rfc-editor.org/rfc/rfc9000#section-9.5
                //# Similarly, an endpoint MUST NOT reuse a connection ID when
                //# sending to more than one destination address.
                let seq = self
                    .peer
                    .take_unused()
                    .map_or(self.peer.current_sequence(), |(seq, _)| seq);
                if let Some(p) = self.paths.get_mut(id) {
                    p.set_dcid_sequence(Some(seq));
                }
                seq
            }
        };
        self.peer
            .iter()
            .find(|(s, _)| *s == seq)
            .map_or(*self.peer.current(), |(_, id)| *id)
    }

    fn datagram(&mut self, id: PathId, frame: Frame, len: usize) -> Option<Datagram> {
        let dcid = self.dcid(id);
        let path = self.paths.get_mut(id)?;
        let len = len.min(usize::try_from(path.send_budget()).unwrap_or(usize::MAX));
        if len < 30 {
            // The anti-amplification limit leaves no room.
            return None;
        }
        path.on_datagram_sent(len);
        self.next_pn += 1;
        Some(Datagram {
            src: path.local(),
            dst: path.remote(),
            dcid,
            pn: self.next_pn,
            frame,
            len,
        })
    }

    fn transmit(&mut self, now: Instant, data: bool) -> Vec<Datagram> {
        let mut out = Vec::new();
        while let Some((id, data)) = self.paths.poll_response() {
            let len = self.paths.get(id).map_or(0, |p| p.probe_datagram_len());
            out.extend(self.datagram(id, Frame::Response(data), len));
            if let Some(p) = self.paths.get_mut(id) {
                p.on_response_sent();
            }
        }
        while let Some(id) = self.paths.poll_challenge(now) {
            let data = self.rng.next().to_be_bytes();
            let len = self.paths.get(id).map_or(0, |p| p.probe_datagram_len());
            let Some(d) = self.datagram(id, Frame::Challenge(data), len) else {
                break;
            };
            if let Some(p) = self.paths.get_mut(id) {
                p.on_challenge_sent(data, d.len, now, PTO);
            }
            out.push(d);
        }
        if data {
            let id = self.paths.active().id();
            out.extend(self.datagram(id, Frame::Data, 1200));
        }
        out
    }

    fn receive(&mut self, d: &Datagram, now: Instant) {
        let authenticated = self.own.contains(&d.dcid);
        let Some(id) = self
            .paths
            .on_datagram_received(d.dst, d.src, d.len, authenticated, now)
        else {
            return;
        };
        if !authenticated {
            return;
        }
        let non_probing = matches!(d.frame, Frame::Data);
        self.paths.on_packet_received(id, d.pn, non_probing, now);
        match d.frame {
            Frame::Challenge(data) => self.paths.on_path_challenge(id, data),
            Frame::Response(data) => self.paths.on_path_response(&data, now),
            Frame::Data => {}
        }
        self.handle_events();
    }

    fn on_timeout(&mut self, now: Instant) {
        if self.paths.next_timeout().is_some_and(|t| t <= now) {
            self.paths.on_timeout(now);
            self.handle_events();
        }
    }

    /// What the connection does with path events.
    fn handle_events(&mut self) {
        while let Some(e) = self.paths.poll_event() {
            match e {
                PathEvent::Migrated { to, .. } => {
                    let seq = self.paths.get(to).and_then(|p| p.dcid_sequence());
                    if let Some(seq) = seq {
                        self.peer.set_current(seq).expect("held");
                    }
                }
                PathEvent::Abandoned {
                    dcid_seq: Some(seq),
                    ..
                } if seq != self.peer.current_sequence() => {
                    self.peer.retire(seq).expect("retired");
                }
                _ => {}
            }
            self.events.push(e);
        }
    }

    fn take_events(&mut self) -> Vec<PathEvent> {
        std::mem::take(&mut self.events)
    }
}

/// Hands every ID of `from` to `to`, as NEW_CONNECTION_ID frames would.
fn supply(from: &mut LocalCids, gen: &mut Gen, to: &mut PeerCids) {
    from.set_peer_limit(4);
    from.replenish(gen).expect("issue");
    while let Some(f) = from.pending_new_connection_id() {
        from.on_new_connection_id_sent(f.sequence);
        to.on_new_connection_id(&f).expect("accepted");
    }
}

struct Net {
    client: Endpoint,
    server: Endpoint,
    now: Instant,
    /// The NAT's public port for CLIENT_A.
    nat_port: u16,
    attacker_copies: bool,
    /// The last datagram the attacker saw.
    overheard: Option<Datagram>,
}

impl Net {
    /// A connection whose handshake is done and confirmed.
    fn connect() -> Self {
        let public = v4(NAT_IP, 1000);
        let (mut client, mut cgen) = Endpoint::new(Side::Client, CLIENT_A, SERVER, 1);
        let (mut server, mut sgen) = Endpoint::new(Side::Server, SERVER, public, 2);
        let (_, cscid) = client.own.first().expect("id");
        let (_, sscid) = server.own.first().expect("id");
        client.peer = PeerCids::new(*sscid, 4).expect("set");
        server.peer = PeerCids::new(*cscid, 4).expect("set");
        supply(&mut client.own, &mut cgen, &mut server.peer);
        supply(&mut server.own, &mut sgen, &mut client.peer);
        server.paths.on_peer_address_validated();
        let now = Instant::from_nanos(1_000_000_000);
        client.paths.on_handshake_confirmed(now);
        server.paths.on_handshake_confirmed(now);
        Self {
            client,
            server,
            now,
            nat_port: 1000,
            attacker_copies: false,
            overheard: None,
        }
    }

    /// Client-to-server translation: CLIENT_A goes out through the NAT.
    fn nat_out(&self, mut d: Datagram) -> Datagram {
        if d.src == CLIENT_A {
            d.src = v4(NAT_IP, self.nat_port);
        }
        d
    }

    /// Server-to-client translation; `None` if the NAT has no mapping.
    fn nat_in(&self, mut d: Datagram) -> Option<Datagram> {
        if d.dst.ip() == IpAddr::V4(Ipv4Addr::from(NAT_IP)) {
            if d.dst.port() != self.nat_port {
                return None;
            }
            d.dst = CLIENT_A;
        }
        (d.dst == CLIENT_A || d.dst == CLIENT_B).then_some(d)
    }

    /// One step of virtual time: both sides send, everything is delivered.
    fn step(&mut self, data: bool) {
        self.now = self.now + STEP;
        let now = self.now;
        self.client.on_timeout(now);
        self.server.on_timeout(now);
        for d in self.client.transmit(now, data) {
            let d = self.nat_out(d);
            if self.attacker_copies {
                // Forwarded from the attacker's address, arriving first.
                let mut copy = d.clone();
                copy.src = ATTACKER;
                self.server.receive(&copy, now);
            }
            self.overheard = Some(d.clone());
            if d.dst == SERVER || d.dst == SERVER_PREFERRED {
                self.server.receive(&d, now);
            }
        }
        for d in self.server.transmit(now, false) {
            if let Some(d) = self.nat_in(d) {
                self.client.receive(&d, now);
            }
        }
    }

    fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            self.step(true);
        }
    }
}

fn migrated(events: &[PathEvent], kind: MigrationKind) -> Option<bool> {
    events.iter().find_map(|e| match *e {
        PathEvent::Migrated {
            kind: k,
            reset_congestion,
            ..
        } if k == kind => Some(reset_congestion),
        _ => None,
    })
}

#[test]
fn client_moves_to_a_new_address() {
    let mut net = Net::connect();
    net.run(5);
    let old_dcid = net.client.peer.current_sequence();
    let id = net
        .client
        .paths
        .migrate(CLIENT_B, net.now)
        .expect("allowed");
    // Probing first: the active path is unchanged until validated.
    assert_eq!(net.client.paths.active().local(), CLIENT_A);
    assert_eq!(net.client.paths.poll_challenge(net.now), Some(id));
    net.run(20);
    let events = net.client.take_events();
    assert_eq!(migrated(&events, MigrationKind::Local), Some(true));
    assert_eq!(net.client.paths.active().id(), id);
    // A fresh DCID on the new path; the old one is being retired.
    assert_ne!(net.client.peer.current_sequence(), old_dcid);
    assert_eq!(net.client.peer.pending_retire(), Some(old_dcid));

    // The server followed the client and validated its new address.
    let events = net.server.take_events();
    assert_eq!(migrated(&events, MigrationKind::Peer), Some(true));
    assert_eq!(net.server.paths.active().remote(), CLIENT_B);
    assert!(net.server.paths.active().is_validated());
    // The old address, abandoned by the client, fails validation and goes.
    net.run(400);
    assert!(net.server.paths.fallback().is_none());
    let events = net.server.take_events();
    assert!(events.iter().any(|e| matches!(
        e,
        PathEvent::Abandoned {
            validation_failed: true,
            dcid_seq: Some(_),
            ..
        }
    )));
    assert_eq!(net.server.paths.active().remote(), CLIENT_B);
}

#[test]
fn nat_rebinding() {
    let mut net = Net::connect();
    net.run(5);
    net.nat_port = 1001;
    net.run(20);
    let events = net.server.take_events();
    // A port change: congestion state is kept.
    assert_eq!(migrated(&events, MigrationKind::Peer), Some(false));
    assert_eq!(net.server.paths.active().remote().port(), 1001);
    assert!(net.server.paths.active().is_validated());
    // The client noticed nothing.
    assert!(net.client.take_events().is_empty());
    // The old mapping is gone: its revalidation fails and it is dropped.
    net.run(400);
    assert!(net.server.paths.fallback().is_none());
    assert_eq!(net.server.paths.active().remote().port(), 1001);
}

#[test]
fn spurious_migration_is_undone() {
    let mut net = Net::connect();
    net.run(5);
    // An attacker's copies arrive first, for one packet.
    net.attacker_copies = true;
    net.step(true);
    net.attacker_copies = false;
    assert_eq!(net.server.paths.active().remote(), ATTACKER);
    // The attacker cannot answer; genuine packets pull the server back and
    // the spurious path is abandoned.
    net.run(5);
    let public = v4(NAT_IP, 1000);
    assert_eq!(net.server.paths.active().remote(), public);
    let events = net.server.take_events();
    let kinds: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            PathEvent::Migrated { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [MigrationKind::Peer, MigrationKind::Peer]);
    assert!(net.server.paths.iter().all(|p| p.remote() != ATTACKER));
}

#[test]
fn spurious_migration_without_genuine_traffic_reverts_on_timeout() {
    let mut net = Net::connect();
    net.run(5);
    net.attacker_copies = true;
    net.step(true);
    net.attacker_copies = false;
    assert_eq!(net.server.paths.active().remote(), ATTACKER);
    // The client falls silent (no data); only challenges flow.
    for _ in 0..400 {
        net.step(false);
    }
    let events = net.server.take_events();
    assert_eq!(migrated(&events, MigrationKind::Revert), Some(true));
    assert_eq!(net.server.paths.active().remote(), v4(NAT_IP, 1000));
}

#[test]
fn client_moves_to_the_preferred_address() {
    let mut net = Net::connect();
    // Disabling active migration does not prevent this one.
    net.client.paths.set_peer_transport_parameters(1500, true);
    net.run(5);
    let id = net
        .client
        .paths
        .migrate_to_preferred_address(SERVER_PREFERRED, net.now)
        .expect("allowed");
    net.run(20);
    let events = net.client.take_events();
    assert_eq!(
        migrated(&events, MigrationKind::PreferredAddress),
        Some(true)
    );
    assert_eq!(net.client.paths.active().id(), id);
    assert_eq!(net.client.paths.active().remote(), SERVER_PREFERRED);
    // The server moved its sending to the preferred address once it had
    // validated the client from there.
    assert_eq!(net.server.paths.active().local(), SERVER_PREFERRED);
    assert!(net.server.paths.active().is_validated());
    // The original server address is not used any more.
    assert!(net
        .server
        .paths
        .iter()
        .all(|p| p.local() == SERVER_PREFERRED));
}

#[test]
fn amplification_limit_towards_an_unvalidated_address() {
    let mut net = Net::connect();
    net.run(5);
    // One 100-byte copy from the attacker's address.
    let mut copy = net.overheard.clone().expect("traffic");
    copy.src = ATTACKER;
    copy.len = 100;
    copy.pn += 1000;
    net.server.receive(&copy, net.now);
    assert_eq!(net.server.paths.active().remote(), ATTACKER);
    let mut sent = HashMap::new();
    for _ in 0..50 {
        net.now = net.now + STEP;
        net.server.on_timeout(net.now);
        for d in net.server.transmit(net.now, true) {
            *sent.entry(d.dst).or_insert(0) += d.len;
        }
    }
    assert!(sent.get(&ATTACKER).copied().unwrap_or(0) <= 300);
}
