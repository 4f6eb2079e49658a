// SPDX-License-Identifier: GPL-2.0

//! An in-memory client/server pair of our `Connection`s, with the real TLS
//! 1.3 handshake of rustls (`rustls::quic`, ring) and real AEADs from
//! `quic-host-crypto`, over the deterministic simulated network of
//! `quic-test-support`.
//!
//! The rustls driver, the network, the generator and the TLS
//! configurations are shared with the interop suite (`quic-test-support`).
//! This pair adds what only tests between two of our endpoints need: it
//! plays the endpoint by hand (creates the server from the first Initial
//! and, when asked, answers with a Retry first) and a NAT in front of the
//! client.

#![allow(dead_code, unreachable_pub)]

#[allow(unused_imports)]
pub use quic_test_support::endpoint::{Conn, Endpoint};
#[allow(unused_imports)]
pub use quic_test_support::net::{EcnPolicy, Link};
pub use quic_test_support::tls::{Suites, TlsConfigs};

use quic_host_crypto::RustCrypto;
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::cid::local::RouteChange;
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::{Reader, Writer};
use quic_protocol::protocol::connection::{Config, Incoming, Versions};
use quic_protocol::protocol::packet::retry::RetryHeader;
use quic_protocol::protocol::packet::version_negotiation::LongInvariant;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::stream::{Dir, StreamId};
use quic_protocol::protocol::time::Instant;
use quic_protocol::protocol::transport_params::TransportParameters;
use quic_test_support::cid::Gen;
use quic_test_support::net::{NetStats, Network};
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

pub const CLIENT_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 50000));
pub const SERVER_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 443));
/// The server's second address, which it may offer as its preferred
/// address (RFC 9000 §9.6).
pub const SERVER_PREFERRED_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 2), 443));

fn is_server_addr(a: SocketAddr) -> bool {
    a == SERVER_ADDR || a == SERVER_PREFERRED_ADDR
}

/// What the harness does with the client's first Initial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Accept it.
    Accept,
    /// Answer with a Retry, then accept the Initial carrying its token.
    Retry,
}

/// Options of a test connection.
#[derive(Clone)]
pub struct Setup {
    pub client: Config,
    pub server: Config,
    pub suites: Suites,
    pub link: Link,
    pub seed: u64,
    pub admission: Admission,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            client: Config::new(),
            server: Config::new(),
            suites: Suites::Default,
            link: Link::default(),
            seed: 1,
            admission: Admission::Accept,
        }
    }
}

/// A client and a server on a simulated network.
pub struct Pair {
    pub client: Endpoint,
    pub server: Option<Endpoint>,
    pub now: Instant,
    net: Network,
    setup: Setup,
    tls_configs: Arc<TlsConfigs>,
    retry_sent: Option<(ConnectionId, ConnectionId)>,
    /// Datagrams sent by the client and the server.
    pub datagrams_sent: [u64; 2],
    /// The client's address as the server sees it (a NAT may change it).
    pub nat: Option<SocketAddr>,
    /// Datagrams to the server's second address whose connection ID does
    /// not route to the server, dropped.
    pub unrouted: u64,
    /// The server's connection IDs, as the endpoint's routing table holds
    /// them (kept in step with `poll_route_change`).
    routes: HashSet<ConnectionId>,
}

/// Whether the Destination Connection ID of `datagram` is in `routes`.
fn routed(routes: &HashSet<ConnectionId>, datagram: &[u8]) -> bool {
    let start = if datagram.first().is_some_and(|b| b & 0x80 != 0) {
        6
    } else {
        1
    };
    routes
        .iter()
        .any(|id| datagram.get(start..start + id.len()) == Some(id.as_slice()))
}

impl Pair {
    /// A pair whose client has written its ClientHello.
    pub fn new(setup: Setup) -> Self {
        let configs = Arc::new(TlsConfigs::new(setup.suites));
        Self::with_tls(setup, configs, None)
    }

    /// A pair reusing `configs` (session tickets for resumption), with the
    /// server's transport parameters remembered from an earlier connection.
    pub fn with_tls(
        setup: Setup,
        configs: Arc<TlsConfigs>,
        remembered: Option<TransportParameters>,
    ) -> Self {
        let now = Instant::from_nanos(1_000_000_000);
        let client = Endpoint::connect(
            setup.client,
            Gen::new(setup.seed.wrapping_mul(31)),
            now,
            CLIENT_ADDR,
            SERVER_ADDR,
            &configs.client,
            remembered.as_ref(),
        )
        .expect("connect");
        Self {
            client,
            server: None,
            now,
            net: Network::new(setup.link, setup.seed),
            setup,
            tls_configs: configs,
            retry_sent: None,
            datagrams_sent: [0, 0],
            nat: None,
            unrouted: 0,
            routes: HashSet::new(),
        }
    }

    pub fn server(&mut self) -> &mut Endpoint {
        self.server.as_mut().expect("server not created yet")
    }

    /// What the network did.
    pub fn net_stats(&self) -> NetStats {
        self.net.stats
    }

    /// The link impairments, to change between steps.
    pub fn link_mut(&mut self) -> &mut Link {
        &mut self.net.link
    }

    pub fn tls_configs(&self) -> Arc<TlsConfigs> {
        self.tls_configs.clone()
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, ecn: EcnCodepoint, bytes: &[u8]) {
        let from_client = !is_server_addr(from);
        self.datagrams_sent[usize::from(!from_client)] += 1;
        let from = match (from_client, self.nat) {
            (true, Some(public)) => public,
            _ => from,
        };
        self.net.send(self.now, from, to, ecn, bytes);
    }

    /// Sends what `ep` has to send, splitting GSO batches.
    fn flush_endpoint(&mut self, server: bool) {
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..1000 {
            let now = self.now;
            let ep = if server {
                self.server.as_mut()
            } else {
                Some(&mut self.client)
            };
            let Some(ep) = ep else { return };
            let Some(t) = ep.conn.poll_transmit(now, &mut buf) else {
                break;
            };
            let seg = t.segment_size.unwrap_or(t.len);
            for chunk in buf[..t.len].chunks(seg.max(1)) {
                let chunk = chunk.to_vec();
                self.send(t.local, t.remote, t.ecn, &chunk);
            }
        }
    }

    /// The endpoint's part for a datagram with no connection yet: create
    /// the server, or answer with a Retry.
    fn admit(&mut self, from: SocketAddr, bytes: &mut [u8]) -> bool {
        let (inv, rest) = LongInvariant::decode(bytes).expect("long header");
        let version = inv.version;
        let dcid = ConnectionId::from_slice(inv.dcid).unwrap();
        let scid = ConnectionId::from_slice(inv.scid).unwrap();
        // The token follows the connection IDs in an Initial.
        let token = Reader::new(rest)
            .read_varint_prefixed()
            .unwrap_or(&[])
            .to_vec();
        let mut incoming = Incoming {
            version,
            dcid,
            scid,
            original_dcid: dcid,
            retry_scid: None,
            address_validated: false,
        };
        if self.setup.admission == Admission::Retry {
            match self.retry_sent {
                None => {
                    let retry_scid = ConnectionId::from_slice(&[0xee; 8]).unwrap();
                    let header = RetryHeader {
                        version,
                        dcid: scid,
                        scid: retry_scid,
                        token: dcid.as_slice(),
                        unused: 0,
                        fixed_bit: true,
                    };
                    let mut out = vec![0u8; header.encoded_len()];
                    let mut w = Writer::new(&mut out);
                    header.encode(&RustCrypto, &dcid, &mut w).unwrap();
                    self.retry_sent = Some((dcid, retry_scid));
                    self.send(SERVER_ADDR, from, EcnCodepoint::NotEct, &out);
                    return false;
                }
                Some((odcid, retry_scid)) => {
                    if token != odcid.as_slice() || dcid != retry_scid {
                        return false;
                    }
                    incoming.original_dcid = odcid;
                    incoming.retry_scid = Some(retry_scid);
                    incoming.address_validated = true;
                }
            }
        }
        let server = Endpoint::accept(
            self.setup.server,
            Gen::new(self.setup.seed.wrapping_mul(17) ^ 0xabcd),
            self.now,
            SERVER_ADDR,
            from,
            &incoming,
            &self.tls_configs.server,
        )
        .expect("accept");
        self.server = Some(server);
        true
    }

    /// Delivers the datagrams due now, in arrival order.
    fn deliver(&mut self) {
        while let Some(mut d) = self.net.pop_due(self.now) {
            let now = self.now;
            if is_server_addr(d.to) {
                if self.server.is_none()
                    && (d.to != SERVER_ADDR || !self.admit(d.from, &mut d.bytes))
                {
                    continue;
                }
                let s = self.server.as_mut().unwrap();
                // The endpoint routes by connection ID: only IDs the
                // connection announced reach it at its second address.
                if d.to == SERVER_PREFERRED_ADDR && !routed(&self.routes, &d.bytes) {
                    self.unrouted += 1;
                    continue;
                }
                s.conn
                    .handle_datagram(now, d.to, d.from, d.ecn, &mut d.bytes);
            } else {
                let local = if Some(d.to) == self.nat {
                    self.client.addr
                } else {
                    d.to
                };
                self.client
                    .conn
                    .handle_datagram(now, local, d.from, d.ecn, &mut d.bytes);
            }
        }
    }

    /// Keeps the routing table in step with the server's connection IDs.
    fn sync_routes(&mut self) {
        let Some(s) = self.server.as_mut() else {
            return;
        };
        while let Some(change) = s.conn.poll_route_change() {
            match change {
                RouteChange::Add(id) => self.routes.insert(id),
                RouteChange::Remove(id) => self.routes.remove(&id),
            };
        }
    }

    fn react(&mut self) {
        self.sync_routes();
        let now = self.now;
        self.client.drive_tls(now);
        self.client.drive_app(now);
        if let Some(s) = self.server.as_mut() {
            s.drive_tls(now);
            s.drive_app(now);
        }
    }

    /// One step of the simulation; the clock moves to the next event, but
    /// not past `limit`.
    pub fn step(&mut self, limit: Instant) {
        self.deliver();
        self.react();
        self.flush_endpoint(false);
        self.flush_endpoint(true);
        self.react();
        self.flush_endpoint(false);
        self.flush_endpoint(true);
        let mut next = self.net.next_arrival();
        for t in [
            self.client.conn.poll_timeout(),
            self.server.as_ref().and_then(|s| s.conn.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        self.now = next.unwrap_or(limit).min(limit).max(self.now);
        let now = self.now;
        if self.client.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.client.conn.handle_timeout(now);
        }
        if let Some(s) = self.server.as_mut() {
            if s.conn.poll_timeout().is_some_and(|t| t <= now) {
                s.conn.handle_timeout(now);
            }
        }
    }

    /// Runs until `done` or `within` of virtual time elapsed.
    pub fn run_until(&mut self, within: Duration, mut done: impl FnMut(&mut Pair) -> bool) -> bool {
        let limit = self.now + within;
        for _ in 0..2_000_000 {
            if done(self) {
                return true;
            }
            if self.now >= limit {
                return false;
            }
            self.step(limit);
        }
        false
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    /// Completes the handshake on both sides (confirmed), or panics.
    pub fn handshake(&mut self) {
        let ok = self.run_until(Duration::from_secs(30), |p| {
            p.client.conn.is_handshake_confirmed()
                && p.server
                    .as_ref()
                    .is_some_and(|s| s.conn.is_handshake_confirmed())
        });
        assert!(ok, "handshake did not complete");
    }
}

/// A config with `versions`.
pub fn with_versions(mut c: Config, versions: Versions) -> Config {
    c.versions = versions;
    c
}

/// `n` bytes of a recognisable pattern.
/// Sends `data` from the client on a new stream and waits for it.
pub fn transfer(p: &mut Pair, data: &[u8]) -> StreamId {
    let id = p.client.conn.stream_open(Dir::Uni).unwrap();
    assert_eq!(
        p.client.conn.stream_write(id, data, true).unwrap(),
        data.len()
    );
    let ok = p.run_until(Duration::from_secs(20), |p| {
        p.server().stream_data(id).is_some()
    });
    assert!(ok, "transfer did not complete");
    assert_eq!(p.server().stream_data(id).unwrap(), data);
    id
}

pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
