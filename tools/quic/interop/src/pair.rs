// SPDX-License-Identifier: GPL-2.0

//! A client and a server on the simulated network, one of them ours and
//! the other quinn, stepped in virtual time.
//!
//! Each step delivers the datagrams due, lets both sides react (TLS,
//! application), sends what they have to send, then moves the clock to the
//! next arrival or timer and fires the timers due. A NAT in front of the
//! client can change the address the server sees.

use crate::clock::Clock;
use crate::ours::OurPeer;
use crate::peer::{Closed, Peer};
use crate::quinn::QuinnPeer;
use crate::setup::{Setup, CLIENT_ADDR, SERVER_ADDR, SERVER_PREFERRED_ADDR};
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::time::Instant;
use quic_test_support::net::{Network, Simulation};
use quic_test_support::tls::TlsConfigs;
use std::sync::Arc;
use std::time::Duration;

/// Which side is ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Our client, quinn's server.
    OursToQuinn,
    /// quinn's client, our server.
    QuinnToOurs,
}

/// Both directions, for scenarios that run in each.
pub const BOTH: [Direction; 2] = [Direction::OursToQuinn, Direction::QuinnToOurs];

/// What was seen on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wire {
    /// Retry packets sent by the server.
    pub retries: u64,
    /// Datagrams sent by the client and by the server.
    pub datagrams: [u64; 2],
    /// Bytes sent by the client and by the server.
    pub bytes: [u64; 2],
    /// How often the latency spin bit changed between consecutive
    /// datagrams led by a short header packet, per sender.
    pub spin_flips: [u64; 2],
    /// The last spin bit each side sent.
    pub last_spin: [Option<bool>; 2],
}

/// A client and a server on a simulated network.
pub struct Pair {
    /// The client.
    pub client: Box<dyn Peer>,
    /// The server.
    pub server: Box<dyn Peer>,
    /// The network between them.
    pub net: Network,
    /// Virtual time.
    pub now: Instant,
    /// The client's address as the server sees it, when a NAT rewrites it.
    pub nat: Option<SocketAddr>,
    /// Wire observations.
    pub wire: Wire,
    /// When each side (client, server) first reported its close.
    pub closed_at: [Option<Instant>; 2],
    tls: Arc<TlsConfigs>,
}

impl Pair {
    /// The time the simulation starts at.
    pub const START: Instant = Instant::from_nanos(1_000_000_000);

    /// A pair in `direction`; the client has started its handshake.
    pub fn new(direction: Direction, setup: &Setup) -> Self {
        let tls = setup.tls_configs();
        let clock = Clock::new();
        let now = Self::START + setup.start_after;
        let (client, server): (Box<dyn Peer>, Box<dyn Peer>) = match direction {
            Direction::OursToQuinn => (
                Box::new(OurPeer::client(setup, &tls, CLIENT_ADDR, now)),
                Box::new(QuinnPeer::server(setup, &tls, clock)),
            ),
            Direction::QuinnToOurs => (
                Box::new(QuinnPeer::client(setup, &tls, clock, CLIENT_ADDR, now)),
                Box::new(OurPeer::server(setup, &tls)),
            ),
        };
        Self {
            client,
            server,
            net: Network::new(setup.link, setup.seed),
            now,
            nat: None,
            wire: Wire::default(),
            closed_at: [None, None],
            tls,
        }
    }

    /// The TLS configurations (for resumption in a later pair).
    pub fn tls_configs(&self) -> Arc<TlsConfigs> {
        self.tls.clone()
    }

    /// Our side of the pair.
    pub fn ours(&self) -> &OurPeer {
        self.client
            .as_ours()
            .or_else(|| self.server.as_ours())
            .expect("our side")
    }

    /// Mutable access to our side.
    pub fn ours_mut(&mut self) -> &mut OurPeer {
        if self.client.as_ours().is_some() {
            self.client.as_ours_mut().expect("ours")
        } else {
            self.server.as_ours_mut().expect("ours")
        }
    }

    /// quinn's side of the pair.
    pub fn quinn(&self) -> &QuinnPeer {
        self.client
            .as_quinn()
            .or_else(|| self.server.as_quinn())
            .expect("quinn side")
    }

    /// Mutable access to quinn's side.
    pub fn quinn_mut(&mut self) -> &mut QuinnPeer {
        if self.client.as_quinn().is_some() {
            self.client.as_quinn_mut().expect("quinn")
        } else {
            self.server.as_quinn_mut().expect("quinn")
        }
    }

    fn flush(&mut self, server: bool) {
        let now = self.now;
        for _ in 0..10_000 {
            let peer = if server {
                &mut self.server
            } else {
                &mut self.client
            };
            let Some(out) = peer.poll_transmit(now) else {
                return;
            };
            let side = usize::from(server);
            self.wire.datagrams[side] += 1;
            self.wire.bytes[side] += out.bytes.len() as u64;
            if server && is_retry(&out.bytes) {
                self.wire.retries += 1;
            }
            if let Some(spin) = short_header_spin(&out.bytes) {
                let last = self.wire.last_spin[side].replace(spin);
                self.wire.spin_flips[side] += u64::from(last.is_some_and(|l| l != spin));
            }
            let from = match (server, self.nat) {
                (false, Some(public)) => public,
                _ => out.from,
            };
            self.net.send(now, from, out.to, out.ecn, &out.bytes);
        }
        panic!("a peer sent 10000 datagrams in one step");
    }

    fn deliver(&mut self) {
        while let Some(d) = self.net.pop_due(self.now) {
            if d.to == SERVER_ADDR || d.to == SocketAddr::V4(SERVER_PREFERRED_ADDR) {
                self.server
                    .handle_datagram(self.now, d.to, d.from, d.ecn, &d.bytes);
            } else {
                let local = self.client.local_addr();
                let reachable = d.to == local || Some(d.to) == self.nat;
                if reachable {
                    self.client
                        .handle_datagram(self.now, local, d.from, d.ecn, &d.bytes);
                }
            }
        }
    }

    fn react(&mut self) {
        self.client.drive(self.now);
        self.server.drive(self.now);
        for (i, peer) in [&self.client, &self.server].into_iter().enumerate() {
            if self.closed_at[i].is_none() && peer.closed().is_some() {
                self.closed_at[i] = Some(self.now);
            }
        }
    }

    /// One step; the clock moves to the next event, but not past `limit`.
    pub fn step(&mut self, limit: Instant) {
        self.deliver();
        self.react();
        self.flush(false);
        self.flush(true);
        self.react();
        self.flush(false);
        self.flush(true);
        let mut next = self.net.next_arrival();
        for t in [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        self.now = next.unwrap_or(limit).min(limit).max(self.now);
        let now = self.now;
        for peer in [&mut self.client, &mut self.server] {
            if peer.poll_timeout().is_some_and(|t| t <= now) {
                peer.handle_timeout(now);
            }
        }
    }

    /// Runs until `done` or `within` of virtual time elapsed; returns
    /// whether `done` became true.
    pub fn run_until(&mut self, within: Duration, done: impl FnMut(&mut Self) -> bool) -> bool {
        Simulation::run_until(self, within, done)
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        Simulation::run_for(self, d);
    }

    /// Completes the handshake on both sides, or panics.
    pub fn handshake(&mut self) {
        let ok = self.run_until(Duration::from_secs(30), |p| {
            p.client.is_established() && p.server.is_established()
        });
        assert!(ok, "handshake did not complete");
    }

    /// How each side (client, server) reports the end of the connection.
    pub fn closes(&self) -> [Option<Closed>; 2] {
        [self.client.closed(), self.server.closed()]
    }
}

/// The spin bit of a datagram that starts with a short header packet
/// (RFC 9000 §17.3.1: the bit is not header-protected).
fn short_header_spin(bytes: &[u8]) -> Option<bool> {
    let first = *bytes.first()?;
    (first & 0x80 == 0).then_some(first & 0x20 != 0)
}

/// Whether a datagram is a QUIC v1 Retry packet (long header, type 3).
fn is_retry(bytes: &[u8]) -> bool {
    matches!(bytes, [first, 0, 0, 0, 1, ..] if first & 0xf0 == 0xf0)
}

impl Simulation for Pair {
    fn now(&self) -> Instant {
        self.now
    }

    fn step(&mut self, limit: Instant) {
        Pair::step(self, limit);
    }
}
