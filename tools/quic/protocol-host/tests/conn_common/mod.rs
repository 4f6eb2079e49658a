// SPDX-License-Identifier: GPL-2.0

//! An in-memory client/server pair of our `Connection`s, with the real TLS
//! 1.3 handshake of rustls (`rustls::quic`, ring) and real AEADs from
//! `quic-host-crypto`, over the deterministic simulated network of
//! `quic-test-support`.
//!
//! The rustls driver, the server endpoint driver, the network, the
//! generator and the TLS configurations are shared with the interop suite
//! (`quic-test-support`): the server is the core's endpoint router in
//! front of the connection, with Retry when asked for. This pair adds a
//! client, a second server address and a NAT in front of the client.

#![allow(dead_code, unreachable_pub)]

#[allow(unused_imports)]
pub use quic_test_support::endpoint::{Conn, Endpoint};
#[allow(unused_imports)]
pub use quic_test_support::net::{EcnPolicy, Link};
pub use quic_test_support::tls::{Suites, TlsConfigs};

use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::connection::{Config, Versions};
use quic_protocol::protocol::endpoint::response::write_version_negotiation;
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::packet::version_negotiation::LongInvariant;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::stream::{Dir, StreamId};
use quic_protocol::protocol::time::Instant;
use quic_protocol::protocol::transport_params::TransportParameters;
use quic_test_support::cid::Gen;
use quic_test_support::net::{NetStats, Network, Simulation};
use quic_test_support::server::Server;
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

/// What the server endpoint does with the client's first Initial.
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
    /// The versions the endpoint claims in Version Negotiation packets,
    /// answering Initials of any other version; `None` admits every
    /// version.
    pub version_negotiation: Option<&'static [Version]>,
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
            version_negotiation: None,
        }
    }
}

/// A client and a server endpoint on a simulated network.
pub struct Pair {
    pub client: Endpoint,
    /// The server endpoint: the router and the connection it creates.
    pub endpoint: Server,
    pub now: Instant,
    net: Network,
    tls_configs: Arc<TlsConfigs>,
    /// Datagrams sent by the client and the server.
    pub datagrams_sent: [u64; 2],
    /// The client's address as the server sees it (a NAT may change it).
    pub nat: Option<SocketAddr>,
    /// See [`Setup::version_negotiation`].
    version_negotiation: Option<&'static [Version]>,
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
        let endpoint = Server::new(
            SERVER_ADDR,
            setup.server,
            setup.admission == Admission::Retry,
            configs.server.clone(),
            setup.seed,
        );
        Self {
            client,
            endpoint,
            now,
            net: Network::new(setup.link, setup.seed),
            tls_configs: configs,
            datagrams_sent: [0, 0],
            nat: None,
            version_negotiation: setup.version_negotiation,
        }
    }

    /// The server's connection; panics before the endpoint created it.
    pub fn server(&mut self) -> &mut Endpoint {
        let newest = self.endpoint.newest().expect("server not created yet");
        self.endpoint
            .connection_mut(newest)
            .expect("server connection freed")
    }

    /// The server's connection, once created (and even once freed).
    pub fn server_conn(&self) -> Option<&Endpoint> {
        self.endpoint.connection(self.endpoint.newest()?)
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

    /// Sends what the client and the server endpoint have to send,
    /// splitting GSO batches.
    fn flush(&mut self) {
        let mut buf = vec![0u8; 64 * 1024];
        let now = self.now;
        for _ in 0..1000 {
            let Some(t) = self.client.conn.poll_transmit(now, &mut buf) else {
                break;
            };
            let seg = t.segment_size.unwrap_or(t.len);
            for chunk in buf[..t.len].chunks(seg.max(1)) {
                self.send(t.local, t.remote, t.ecn, chunk);
            }
        }
        for _ in 0..1000 {
            let Some(o) = self.endpoint.poll_transmit(now) else {
                break;
            };
            self.send(o.from, o.to, o.ecn, &o.bytes);
        }
    }

    /// Answers, with a Version Negotiation packet listing
    /// [`Setup::version_negotiation`], a first Initial of another version;
    /// returns whether it did.
    fn negotiate(&mut self, from: SocketAddr, bytes: &[u8]) -> bool {
        let Some(versions) = self.version_negotiation else {
            return false;
        };
        if self.endpoint.newest().is_some() {
            return false;
        }
        let Ok((inv, _)) = LongInvariant::decode(bytes) else {
            return false;
        };
        if versions.contains(&inv.version) {
            return false;
        }
        let mut out = vec![0u8; 256];
        let n = write_version_negotiation(inv.scid, inv.dcid, versions, 0x0a0a_0a0a, &mut out)
            .expect("Version Negotiation");
        out.truncate(n);
        self.send(SERVER_ADDR, from, EcnCodepoint::NotEct, &out);
        true
    }

    /// Delivers the datagrams due now, in arrival order.
    fn deliver(&mut self) {
        while let Some(mut d) = self.net.pop_due(self.now) {
            let now = self.now;
            if is_server_addr(d.to) && self.negotiate(d.from, &d.bytes) {
                continue;
            }
            if is_server_addr(d.to) {
                self.endpoint
                    .handle_datagram(now, d.to, d.from, d.ecn, &d.bytes);
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

    fn react(&mut self) {
        let now = self.now;
        self.client.drive_tls(now);
        self.client.drive_app(now);
        self.endpoint.drive(now);
    }

    /// One step of the simulation; the clock moves to the next event, but
    /// not past `limit`.
    pub fn step(&mut self, limit: Instant) {
        self.deliver();
        self.react();
        self.flush();
        self.react();
        self.flush();
        let next = [
            self.net.next_arrival(),
            self.client.conn.poll_timeout(),
            self.endpoint.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        self.now = next.unwrap_or(limit).min(limit).max(self.now);
        let now = self.now;
        if self.client.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.client.conn.handle_timeout(now);
        }
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
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

    /// Completes the handshake on both sides (confirmed), or panics.
    pub fn handshake(&mut self) {
        let ok = self.run_until(Duration::from_secs(30), |p| {
            p.client.conn.is_handshake_confirmed()
                && p.server_conn()
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

/// `n` bytes of a recognisable pattern.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

impl Simulation for Pair {
    fn now(&self) -> Instant {
        self.now
    }

    fn step(&mut self, limit: Instant) {
        Pair::step(self, limit);
    }
}
