// SPDX-License-Identifier: GPL-2.0

//! One scenario's settings, and their translation into each stack's
//! configuration, so that a scenario states a limit once and both
//! directions apply it the same way.

use quic_protocol::protocol::connection::{Config, Versions};
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::transport_params::TransportParameters;
use quic_protocol::protocol::varint::VarInt;
use quic_test_support::net::Link;
use quic_test_support::tls::{Suites, TlsConfigs};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

/// The client's address.
pub const CLIENT_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 50000));
/// The server's address.
pub const SERVER_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 443));
/// The server's second address, offered as its preferred address when
/// [`Setup::preferred_address`] is set.
pub const SERVER_PREFERRED_ADDR: SocketAddrV4 =
    SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 2), 443);

/// Receive windows, the same on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Per stream.
    pub stream: u64,
    /// Per connection.
    pub connection: u64,
}

/// The settings of a scenario.
#[derive(Clone)]
pub struct Setup {
    /// The TLS cipher suites both sides offer.
    pub suites: Suites,
    /// The network.
    pub link: Link,
    /// Seeds the network, connection IDs and quinn's RNG.
    pub seed: u64,
    /// The idle timeout the client advertises.
    pub client_idle: Duration,
    /// The idle timeout the server advertises.
    pub server_idle: Duration,
    /// Bidirectional streams the server lets the client open at once.
    pub server_max_streams_bidi: u32,
    /// Receive windows without auto-tuning; `None` keeps each stack's
    /// defaults.
    pub windows: Option<Windows>,
    /// Whether the server validates client addresses with Retry.
    pub retry: bool,
    /// TLS configurations, shared across connections for resumption;
    /// `None` makes fresh ones.
    pub tls: Option<Arc<TlsConfigs>>,
    /// The server's transport parameters our client remembers from an
    /// earlier connection, for 0-RTT.
    pub remembered: Option<TransportParameters>,
    /// The versions our client speaks, most preferred (and first tried)
    /// first; `None` keeps the default.
    pub client_versions: Option<Versions>,
    /// Whether the server sends a NEW_TOKEN once the handshake is
    /// confirmed.
    pub new_tokens: bool,
    /// The NEW_TOKEN token of an earlier connection our client presents.
    pub token: Option<Vec<u8>>,
    /// Where quinn's client keeps NEW_TOKEN tokens, shared across
    /// connections; `None` keeps none.
    pub quinn_token_store: Option<Arc<dyn quinn_proto::TokenStore>>,
    /// How far after [`crate::pair::Pair::START`] the scenario starts (a
    /// later connection starts after the earlier one ended).
    pub start_after: Duration,
    /// Whether the server offers [`SERVER_PREFERRED_ADDR`] as its
    /// preferred address (RFC 9000 §9.6).
    pub preferred_address: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            suites: Suites::Default,
            link: Link::default(),
            seed: 1,
            client_idle: Duration::from_secs(30),
            server_idle: Duration::from_secs(30),
            server_max_streams_bidi: 100,
            windows: None,
            retry: false,
            tls: None,
            remembered: None,
            client_versions: None,
            new_tokens: false,
            token: None,
            quinn_token_store: None,
            start_after: Duration::ZERO,
            preferred_address: false,
        }
    }
}

impl Setup {
    /// The TLS configurations to use.
    pub fn tls_configs(&self) -> Arc<TlsConfigs> {
        self.tls
            .clone()
            .unwrap_or_else(|| Arc::new(TlsConfigs::new(self.suites)))
    }

    fn idle(&self, server: bool) -> Duration {
        if server {
            self.server_idle
        } else {
            self.client_idle
        }
    }

    /// Our connection's configuration, as a server or a client.
    pub fn ours(&self, server: bool) -> Config {
        let mut c = Config::new();
        let t = &mut c.transport;
        t.max_idle_timeout = VarInt::saturating(millis(self.idle(server)));
        if server {
            t.initial_max_streams_bidi = VarInt::from_u32(self.server_max_streams_bidi);
        }
        if let Some(v) = self.client_versions.filter(|_| !server) {
            c.versions = v;
        }
        let t = &mut c.transport;
        if let Some(w) = self.windows {
            t.initial_max_stream_data_bidi_local = VarInt::saturating(w.stream);
            t.initial_max_stream_data_bidi_remote = VarInt::saturating(w.stream);
            t.initial_max_stream_data_uni = VarInt::saturating(w.stream);
            t.initial_max_data = VarInt::saturating(w.connection);
            c.max_stream_window = w.stream;
            c.max_data_window = w.connection;
        }
        if server && self.preferred_address {
            c.preferred_address_v4 = Some(SERVER_PREFERRED_ADDR);
        }
        c
    }

    /// quinn's transport configuration, as a server or a client.
    pub fn quinn(&self, server: bool) -> quinn_proto::TransportConfig {
        use quinn_proto::VarInt as QVarInt;
        let mut t = quinn_proto::TransportConfig::default();
        let idle = QVarInt::from_u64(millis(self.idle(server))).expect("idle timeout");
        t.max_idle_timeout(Some(idle.into()));
        if server {
            t.max_concurrent_bidi_streams(QVarInt::from_u32(self.server_max_streams_bidi));
        }
        if let Some(w) = self.windows {
            t.stream_receive_window(QVarInt::from_u64(w.stream).expect("window"));
            t.receive_window(QVarInt::from_u64(w.connection).expect("window"));
        }
        t
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
