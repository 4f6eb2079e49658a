// SPDX-License-Identifier: GPL-2.0

//! One server endpoint in front of many connections, driven as the
//! kernel's socket glue drives it (`quic_test_support::server`): the
//! router classifies every datagram, answers with Retry, refusals and
//! stateless resets, creates connections, keeps routes in step with their
//! connection IDs and frees them once drained.

mod conn_common;

use conn_common::{pattern, SERVER_ADDR};
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::connection::{CloseCause, Config, Event};
use quic_protocol::protocol::endpoint::routes::RouteKey;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::stream::Dir;
use quic_protocol::protocol::time::Instant;
use quic_test_support::cid::Gen;
use quic_test_support::endpoint::Endpoint;
use quic_test_support::net::{Link, Network, Simulation};
use quic_test_support::server::{Handle, Server};
use quic_test_support::tls::{Suites, TlsConfigs};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const CLIENTS: u16 = 20;
/// A Retry token (its first byte says so) the server never issued.
const FORGED_RETRY_TOKEN: [u8; 40] = [0xa5; 40];
/// A NEW_TOKEN token the server never issued: no token at all.
const FORGED_NEW_TOKEN: [u8; 40] = [0x5a; 40];

fn client_addr(i: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 50_000 + i))
}

/// What client `i` puts in its first Initial.
fn token_of(i: u16) -> Option<&'static [u8]> {
    match i % 7 {
        3 => Some(&FORGED_RETRY_TOKEN),
        5 => Some(&FORGED_NEW_TOKEN),
        _ => None,
    }
}

/// A server endpoint and its clients on one network.
struct World {
    server: Server,
    clients: Vec<Endpoint>,
    net: Network,
    now: Instant,
    /// Datagrams from the server to an address with no client.
    strays: Vec<Vec<u8>>,
}

impl World {
    fn new(retry: bool) -> Self {
        Self::with_clients(
            retry,
            false,
            Instant::from_nanos(1_000_000_000),
            CLIENTS,
            |i| token_of(i).map(<[u8]>::to_vec),
        )
    }

    /// A server (sending NEW_TOKEN tokens if `new_tokens`) and `count`
    /// clients starting at `now`, client `i` presenting `token(i)`.
    fn with_clients(
        retry: bool,
        new_tokens: bool,
        now: Instant,
        count: u16,
        token: impl Fn(u16) -> Option<Vec<u8>>,
    ) -> Self {
        let tls = TlsConfigs::new(Suites::Default);
        let mut server = Server::new(SERVER_ADDR, Config::new(), retry, tls.server.clone(), 3);
        server.set_new_tokens(new_tokens);
        let clients = (0..count)
            .map(|i| {
                let mut ep = Endpoint::connect(
                    Config::new(),
                    Gen::new(u64::from(i) * 7919 + 1),
                    now,
                    client_addr(i),
                    SERVER_ADDR,
                    &tls.client,
                    None,
                )
                .expect("connect");
                if let Some(token) = token(i) {
                    ep.conn.set_token(&token).expect("token");
                }
                ep
            })
            .collect();
        Self {
            server,
            clients,
            net: Network::new(Link::default(), 5),
            now,
            strays: Vec::new(),
        }
    }

    /// The server's connection to client `i`.
    fn handle_of(&self, i: usize) -> Option<Handle> {
        let addr = self.clients[i].addr;
        self.server
            .connections()
            .find(|(_, ep)| ep.conn.paths().active().remote() == addr)
            .map(|(h, _)| h)
    }

    fn deliver(&mut self) {
        let now = self.now;
        while let Some(d) = self.net.pop_due(now) {
            if d.to == SERVER_ADDR {
                self.server
                    .handle_datagram(now, d.to, d.from, d.ecn, &d.bytes);
            } else if let Some(c) = self.clients.iter_mut().find(|c| c.addr == d.to) {
                let mut bytes = d.bytes;
                c.conn.handle_datagram(now, d.to, d.from, d.ecn, &mut bytes);
            } else {
                self.strays.push(d.bytes);
            }
        }
    }
}

impl Simulation for World {
    fn now(&self) -> Instant {
        self.now
    }

    fn step(&mut self, limit: Instant) {
        self.deliver();
        let now = self.now;
        let mut buf = vec![0u8; 65536];
        for c in &mut self.clients {
            c.drive_tls(now);
            c.drive_app(now);
            while let Some(t) = c.conn.poll_transmit(now, &mut buf) {
                self.net.send(now, t.local, t.remote, t.ecn, &buf[..t.len]);
            }
        }
        self.server.drive(now);
        while let Some(o) = self.server.poll_transmit(now) {
            self.net.send(now, o.from, o.to, o.ecn, &o.bytes);
        }
        let next = self
            .clients
            .iter()
            .filter_map(|c| c.conn.poll_timeout())
            .chain(self.server.poll_timeout())
            .chain(self.net.next_arrival())
            .min();
        self.now = next.unwrap_or(limit).clamp(self.now, limit);
        let now = self.now;
        for c in &mut self.clients {
            if c.conn.poll_timeout().is_some_and(|t| t <= now) {
                c.conn.handle_timeout(now);
            }
        }
        if self.server.poll_timeout().is_some_and(|t| t <= now) {
            self.server.handle_timeout(now);
        }
    }
}

fn refused(i: u16) -> bool {
    token_of(i) == Some(&FORGED_RETRY_TOKEN)
}

/// Twenty clients at once against one endpoint that validates addresses
/// with Retry: forged Retry tokens are refused with INVALID_TOKEN (RFC
/// 9000 §8.1.2), forged NEW_TOKEN tokens count as none (§8.1.3) and get a
/// Retry like everyone else, and every other client connects and
/// transfers data on its own connection.
#[test]
fn one_endpoint_many_clients() {
    let mut w = World::new(true);
    let ok = w.run_until(Duration::from_secs(10), |w| {
        w.clients.iter().enumerate().all(|(i, c)| {
            if refused(i as u16) {
                c.conn.is_closed()
            } else {
                c.conn.is_handshake_confirmed()
            }
        })
    });
    assert!(ok, "not every client got its answer");
    let refusals = (0..CLIENTS).filter(|i| refused(*i)).count() as u64;
    let accepted = u64::from(CLIENTS) - refusals;
    assert_eq!(w.server.stats.refusals, refusals);
    assert_eq!(w.server.stats.retries, accepted);
    assert_eq!(w.server.stats.accepted, accepted);
    assert_eq!(w.server.stats.new_tokens, 0);
    for (i, c) in w.clients.iter().enumerate() {
        if refused(i as u16) {
            let err = c.conn.close_error().copied().expect("closed");
            assert_eq!((err.code, err.by_peer), (0x0b, true));
        }
    }
    // The handshakes are over: the router counts none, and only
    // connection IDs route (no client's first Destination ID).
    assert_eq!(w.server.router().handshakes(), 0);
    assert!(w
        .server
        .router()
        .routes
        .iter()
        .all(|(k, _)| matches!(k, RouteKey::Cid(_))));
    // Each client's data reaches its own connection.
    let mut sent = Vec::new();
    for (i, c) in w.clients.iter_mut().enumerate() {
        if refused(i as u16) {
            continue;
        }
        let id = c.conn.stream_open(Dir::Uni).expect("open");
        let data = pattern(5_000 + i * 100, i as u8);
        assert_eq!(c.conn.stream_write(id, &data, true), Ok(data.len()));
        sent.push((i, id, data));
    }
    let ok = w.run_until(Duration::from_secs(10), |w| {
        sent.iter().all(|(i, id, data)| {
            w.handle_of(*i)
                .and_then(|h| w.server.connection(h))
                .and_then(|ep| ep.stream_data(*id))
                == Some(data.as_slice())
        })
    });
    assert!(ok, "data did not reach every connection");
}

/// NEW_TOKEN (RFC 9000 §8.1.3): an endpoint that sends them hands every
/// client a token once its handshake is confirmed, and a later connection
/// from the same IP address presenting one skips the Retry; without a
/// token it needs one.
#[test]
fn new_tokens_let_the_next_connection_skip_the_retry() {
    let start = Instant::from_nanos(1_000_000_000);
    let mut first = World::with_clients(true, true, start, 3, |_| None);
    let got = first.run_until(Duration::from_secs(5), |w| {
        w.clients.iter().all(|c| c.conn.new_token().is_some())
    });
    assert!(got, "no NEW_TOKEN");
    assert_eq!(first.server.stats.new_tokens, 3);
    assert_eq!(first.server.stats.retries, 3);
    let token = first.clients[0]
        .conn
        .new_token()
        .map(<[u8]>::to_vec)
        .expect("token");

    // A minute later, a fresh client (another port, same IP) with the
    // token, and one without.
    let later = first.now + Duration::from_secs(60);
    let mut second =
        World::with_clients(true, false, later, 2, |i| (i == 1).then(|| token.clone()));
    let ok = second.run_until(Duration::from_secs(5), |w| {
        w.clients.iter().all(|c| c.conn.is_handshake_confirmed())
    });
    assert!(ok);
    assert_eq!(second.server.stats.accepted, 2);
    assert_eq!(second.server.stats.retries, 1);
}

/// A short-header packet for a connection ID nobody has: the endpoint
/// answers with a stateless reset smaller than the packet (RFC 9000
/// §10.3); a tiny one gets nothing (§10.3.3).
#[test]
fn stray_short_header_packet_gets_a_stateless_reset() {
    let mut w = World::new(false);
    w.run_until(Duration::from_secs(5), |w| {
        w.clients
            .iter()
            .all(|c| c.conn.is_handshake_confirmed() || c.conn.is_closed())
    });
    let stray = client_addr(999);
    let mut packet = vec![0x41u8; 60];
    packet[1..9].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
    let now = w.now;
    w.net
        .send(now, stray, SERVER_ADDR, EcnCodepoint::NotEct, &packet);
    w.net
        .send(now, stray, SERVER_ADDR, EcnCodepoint::NotEct, &packet[..30]);
    let resets = w.server.stats.resets;
    w.run_until(Duration::from_millis(100), |w| !w.strays.is_empty());
    w.step(w.now + Duration::from_millis(100));
    assert_eq!(w.server.stats.resets, resets + 1);
    assert_eq!(w.strays.len(), 1);
    let reset = &w.strays[0];
    assert!(reset.len() < packet.len() && reset.len() >= 21);
    // It looks like a short-header packet.
    assert_eq!(reset[0] & 0xc0, 0x40);
}

/// The server loses a connection's state: the client's next packet is
/// answered with a stateless reset carrying the token the connection
/// gave for that connection ID, and the client closes (RFC 9000 §10.3).
/// A connection that closes normally is freed with its routes once
/// drained.
#[test]
fn lost_state_resets_and_drained_connections_are_freed() {
    let mut w = World::new(false);
    let ok = w.run_until(Duration::from_secs(5), |w| {
        w.clients
            .iter()
            .all(|c| c.conn.is_handshake_confirmed() || c.conn.is_closed())
    });
    assert!(ok);
    let victim = 0;
    let handle = w.handle_of(victim).expect("connection");
    w.server.forget(handle);
    let c = &mut w.clients[victim];
    let id = c.conn.stream_open(Dir::Uni).expect("open");
    c.conn
        .stream_write(id, &pattern(2_000, 1), true)
        .expect("write");
    let reset = w.run_until(Duration::from_secs(5), |w| {
        w.clients[victim].conn.is_closed()
    });
    assert!(reset);
    let err = w.clients[victim]
        .conn
        .close_error()
        .copied()
        .expect("closed");
    assert_eq!(err.cause, CloseCause::StatelessReset);
    assert!(w.server.stats.resets >= 1);

    // A normal close: the server's connection drains and is freed.
    let other = 1;
    let handle = w.handle_of(other).expect("connection");
    let routes_before = w
        .server
        .router()
        .routes
        .iter()
        .filter(|(_, h)| *h == handle)
        .count();
    assert!(routes_before > 0);
    let now = w.now;
    w.clients[other].conn.close(now, 0, 0, b"bye", true);
    let freed = w.run_until(Duration::from_secs(10), |w| !w.server.is_live(handle));
    assert!(freed);
    assert!(w.clients[other].saw(&Event::Closed(
        w.clients[other]
            .conn
            .close_error()
            .copied()
            .expect("closed")
    )));
    assert_eq!(w.server.stats.freed, 1);
    assert_eq!(
        w.server
            .router()
            .routes
            .iter()
            .filter(|(_, h)| *h == handle)
            .count(),
        0
    );
    // The rest carry on.
    let accepted = usize::try_from(w.server.stats.accepted).expect("count");
    assert_eq!(w.server.connections().count(), accepted - 2);
}
