// SPDX-License-Identifier: GPL-2.0

//! Connection life cycle over rustls: key updates, 0-RTT with resumption
//! (accepted and rejected), idle timeout, application close, migration.

mod conn_common;

use conn_common::*;
use quic_protocol::protocol::connection::{CloseCause, Config, Event, State};
use quic_protocol::protocol::path::event::MigrationKind;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::stream::Dir;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

fn key_updates(events: &[Event]) -> Vec<bool> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::KeyUpdate { phase } => Some(*phase),
            _ => None,
        })
        .collect()
}

/// RFC 9001 §6: the client updates, the server follows; later the server
/// updates and the client follows. Data keeps flowing across each.
#[test]
fn key_update_both_directions() {
    let mut p = Pair::new(Setup::default());
    p.handshake();
    transfer(&mut p, &pattern(20_000, 1));
    // Not before a packet of the current phase was acknowledged: it was.
    p.client
        .conn
        .request_key_update()
        .expect("client key update");
    // A second update before the first is acknowledged is refused.
    assert!(p.client.conn.request_key_update().is_err());
    transfer(&mut p, &pattern(20_000, 2));
    assert_eq!(key_updates(&p.client.events), vec![true]);
    assert_eq!(key_updates(&p.server().events), vec![true]);
    // Now the server, in the other direction.
    let id = p.server().conn.stream_open(Dir::Uni).unwrap();
    p.server().conn.stream_write(id, b"before", false).unwrap();
    p.run_for(Duration::from_millis(200));
    p.server()
        .conn
        .request_key_update()
        .expect("server key update");
    p.server().conn.stream_write(id, b" after", true).unwrap();
    let ok = p.run_until(Duration::from_secs(5), |p| {
        p.client.stream_data(id).is_some()
    });
    assert!(ok);
    assert_eq!(p.client.stream_data(id).unwrap(), b"before after");
    assert_eq!(key_updates(&p.server().events), vec![true, false]);
    assert_eq!(key_updates(&p.client.events), vec![true, false]);
}

/// Runs a first connection to get a session ticket and the server's
/// transport parameters, then returns a second pair resuming it.
fn resumed_pair(reject_early_data: bool) -> Pair {
    let mut first = Pair::new(Setup::default());
    first.handshake();
    transfer(&mut first, b"first connection");
    first.run_for(Duration::from_millis(500));
    let remembered = *first.client.conn.peer_transport_parameters().unwrap();
    let configs = first.tls_configs();
    let configs = if reject_early_data {
        Arc::new(configs.rejecting_early_data())
    } else {
        configs
    };
    // Another seed: new connection IDs, so parameters remembered with the
    // ticket cannot pass for the server's new ones.
    let setup = Setup {
        seed: 2,
        ..Setup::default()
    };
    Pair::with_tls(setup, configs, Some(remembered))
}

/// RFC 9001 §4.6: with a ticket and remembered parameters the client sends
/// stream data in 0-RTT packets with its first flight; the server accepts
/// it and reads it before the handshake completes.
#[test]
fn zero_rtt_accepted() {
    let mut p = resumed_pair(false);
    assert!(p.client.conn.is_sending_0rtt(), "0-RTT keys not installed");
    let id = p.client.conn.stream_open(Dir::Bi).expect("open in 0-RTT");
    p.client.conn.stream_write(id, b"early data", true).unwrap();
    p.handshake();
    let ok = p.run_until(Duration::from_secs(5), |p| {
        p.server().stream_data(id).is_some()
    });
    assert!(ok);
    assert_eq!(p.server().stream_data(id).unwrap(), b"early data");
    // The server saw the stream before its handshake completed.
    let events = &p.server().events;
    let opened = events
        .iter()
        .position(|e| *e == Event::StreamOpened(id))
        .unwrap();
    let connected = events.iter().position(|e| *e == Event::Connected).unwrap();
    assert!(
        opened < connected,
        "stream opened after the handshake: not 0-RTT"
    );
}

/// RFC 9001 §4.6.2, RFC 9002 §6.4: the server rejects 0-RTT; the client
/// sends the same data again in 1-RTT packets and it arrives once.
#[test]
fn zero_rtt_rejected() {
    let mut p = resumed_pair(true);
    assert!(p.client.conn.is_sending_0rtt());
    let id = p.client.conn.stream_open(Dir::Bi).unwrap();
    p.client
        .conn
        .stream_write(id, b"early data, again", true)
        .unwrap();
    p.handshake();
    let ok = p.run_until(Duration::from_secs(5), |p| {
        p.server().stream_data(id).is_some()
    });
    assert!(ok);
    assert_eq!(p.server().stream_data(id).unwrap(), b"early data, again");
    let events = &p.server().events;
    let opened = events
        .iter()
        .position(|e| *e == Event::StreamOpened(id))
        .unwrap();
    let connected = events.iter().position(|e| *e == Event::Connected).unwrap();
    assert!(
        opened > connected,
        "0-RTT data was processed despite the rejection"
    );
}

/// RFC 9000 §10.1: no traffic for the idle timeout closes both sides
/// silently.
#[test]
fn idle_timeout() {
    let mut config = Config::default();
    config.transport.max_idle_timeout = quic_protocol::protocol::varint::VarInt::from_u32(2_000);
    let mut p = Pair::new(Setup {
        client: config,
        server: config,
        ..Setup::default()
    });
    p.handshake();
    let start = p.now;
    p.run_until(Duration::from_secs(10), |p| {
        p.client.conn.is_drained() && p.server_conn().is_some_and(|s| s.conn.is_drained())
    });
    assert!(p.client.conn.is_drained());
    let waited = p.now.saturating_duration_since(start);
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    for ep in [&p.client, p.server_conn().unwrap()] {
        let err = ep.conn.close_error().unwrap();
        assert_eq!(err.cause, CloseCause::IdleTimeout);
    }
}

/// Keep-alive PINGs hold an idle connection open.
#[test]
fn keep_alive_prevents_idle_timeout() {
    let mut config = Config::default();
    config.transport.max_idle_timeout = quic_protocol::protocol::varint::VarInt::from_u32(2_000);
    let mut client = config;
    client.keep_alive = Duration::from_millis(500);
    let mut p = Pair::new(Setup {
        client,
        server: config,
        ..Setup::default()
    });
    p.handshake();
    p.run_for(Duration::from_secs(10));
    assert_eq!(p.client.conn.state(), State::Established);
    assert_eq!(p.server().conn.state(), State::Established);
}

/// RFC 9000 §10.2: an application close reaches the peer with its code and
/// reason; the closer goes through closing, the peer through draining, and
/// both end.
#[test]
fn close_with_application_error() {
    let mut p = Pair::new(Setup::default());
    p.handshake();
    let now = p.now;
    p.client.conn.close(now, 0x42, 0, b"bye now", true);
    assert!(matches!(p.client.conn.state(), State::Closing { .. }));
    let ok = p.run_until(Duration::from_secs(10), |p| {
        p.client.conn.is_drained() && p.server_conn().is_some_and(|s| s.conn.is_drained())
    });
    assert!(ok, "not drained");
    // The endpoint freed the drained connection and its routes.
    assert_eq!(p.endpoint.stats.freed, 1);
    assert_eq!(p.endpoint.router().routes.len(), 0);
    let server = p.server_conn().unwrap();
    let closed = server
        .events
        .iter()
        .find_map(|e| match e {
            Event::Closed(err) => Some(*err),
            _ => None,
        })
        .unwrap();
    assert!(closed.by_peer && closed.application);
    assert_eq!(closed.code, 0x42);
    assert_eq!(closed.reason.as_bytes(), b"bye now");
    assert_eq!(closed.cause, CloseCause::ConnectionClose);
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), port))
}

/// RFC 9000 §9.3: the client's NAT rebinds to a new port. The server sees
/// a non-probing packet from the new address, validates it and moves; data
/// keeps flowing both ways.
#[test]
fn client_nat_rebinding() {
    let mut p = Pair::new(Setup::default());
    p.handshake();
    transfer(&mut p, b"before rebinding");
    p.nat = Some(addr(40_001));
    transfer(&mut p, &pattern(30_000, 9));
    let moved = p.run_until(Duration::from_secs(5), |p| {
        let active = p.server().conn.paths().active();
        active.remote() == addr(40_001) && active.is_validated()
    });
    assert!(moved, "server did not follow the client");
    assert!(p.server().saw(&Event::Migrated {
        kind: MigrationKind::Peer
    }));
    let id = p.server().conn.stream_open(Dir::Uni).unwrap();
    p.server()
        .conn
        .stream_write(id, b"after rebinding", true)
        .unwrap();
    let ok = p.run_until(Duration::from_secs(5), |p| {
        p.client.stream_data(id).is_some()
    });
    assert!(ok);
}

/// RFC 9000 §9.2: the application moves the client to a new local address
/// (CONNECTION_MIGRATION); the path is validated first, then used with a
/// new connection ID.
#[test]
fn client_active_migration() {
    let mut p = Pair::new(Setup::default());
    p.handshake();
    transfer(&mut p, b"before migration");
    let old_dcid = p.client.conn.remote_cid();
    let now = p.now;
    p.client.conn.migrate(now, addr(40_002)).expect("migrate");
    p.client.addr = addr(40_002);
    let ok = p.run_until(Duration::from_secs(5), |p| {
        p.client.saw(&Event::Migrated {
            kind: MigrationKind::Local,
        })
    });
    assert!(ok, "migration did not complete");
    assert_eq!(p.client.conn.paths().active().local(), addr(40_002));
    assert_ne!(p.client.conn.remote_cid(), old_dcid);
    transfer(&mut p, b"after migration");
    assert_eq!(p.server().conn.paths().active().remote(), addr(40_002));
}

fn preferred_setup() -> Setup {
    let SocketAddr::V4(preferred) = SERVER_PREFERRED_ADDR else {
        unreachable!()
    };
    Setup {
        server: Config {
            preferred_address_v4: Some(preferred),
            ..Config::default()
        },
        ..Setup::default()
    }
}

/// RFC 9000 §9.6: the server offers its second address; once the
/// handshake is confirmed the client probes it with the preferred
/// address's connection ID, moves there once validated and the server
/// follows after validating the client from it. The endpoint (here the
/// pair) routes the new address's packets by connection ID.
#[test]
fn client_moves_to_the_servers_preferred_address() {
    let mut p = Pair::new(preferred_setup());
    p.handshake();
    let pa = p
        .client
        .conn
        .peer_transport_parameters()
        .and_then(|t| t.preferred_address)
        .expect("preferred_address parameter");
    assert_eq!(pa.ipv4.map(SocketAddr::V4), Some(SERVER_PREFERRED_ADDR));
    let moved = p.run_until(Duration::from_secs(5), |p| {
        p.client.saw(&Event::Migrated {
            kind: MigrationKind::PreferredAddress,
        })
    });
    assert!(moved, "the client did not move");
    assert_eq!(p.client.conn.remote_cid(), pa.id);
    assert_eq!(
        p.client.conn.paths().active().remote(),
        SERVER_PREFERRED_ADDR
    );
    transfer(&mut p, &pattern(50_000, 3));
    let s = &p.server().conn;
    assert_eq!(s.paths().active().local(), SERVER_PREFERRED_ADDR);
    assert!(s.paths().active().is_validated());
    assert!(p.server().saw(&Event::Migrated {
        kind: MigrationKind::Peer,
    }));
    assert_eq!(p.endpoint.stats.resets, 0);
    // The server answers at its new address only, and data flows back.
    let id = p.server().conn.stream_open(Dir::Uni).unwrap();
    p.server()
        .conn
        .stream_write(id, b"from the preferred address", true)
        .unwrap();
    let ok = p.run_until(Duration::from_secs(5), |p| {
        p.client.stream_data(id).is_some()
    });
    assert!(ok);
    assert_eq!(p.client.conn.close_error(), None);
}

/// A client configured not to move stays on the handshake address, and so
/// does the server.
#[test]
fn client_may_ignore_the_preferred_address() {
    let mut setup = preferred_setup();
    setup.client.migrate_to_preferred_address = false;
    let mut p = Pair::new(setup);
    p.handshake();
    transfer(&mut p, &pattern(20_000, 4));
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.client.conn.paths().active().remote(), SERVER_ADDR);
    assert_eq!(p.server().conn.paths().active().local(), SERVER_ADDR);
}
