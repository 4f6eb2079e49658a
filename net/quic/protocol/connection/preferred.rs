// SPDX-License-Identifier: GPL-2.0

//! The server's preferred address at the connection (RFC 9000 §9.6).
//!
//! A server configured with a preferred address
//! ([`Config::preferred_address_v4`], [`Config::preferred_address_v6`])
//! issues connection ID sequence number 1 when it is created and
//! advertises it with the addresses in the preferred_address transport
//! parameter. The ID is routed like every other (the endpoint drains
//! `Connection::poll_route_change`), so packets the client sends to the
//! preferred address reach the connection; the paths probe the client from
//! there and follow it once it validated the path and sent a non-probing
//! packet (§9.6.2, in `path::migration`).
//!
//! A client, once the handshake is confirmed, probes the preferred address
//! of its own address family with an unused connection ID (the
//! parameter's, unless the peer retired it) and moves there once the path
//! is validated, reported as [`Event::Migrated`] with
//! [`MigrationKind::PreferredAddress`]; if validation fails it stays where
//! it is (§9.6.1).
//!
//! [`Config::preferred_address_v4`]: super::Config::preferred_address_v4
//! [`Config::preferred_address_v6`]: super::Config::preferred_address_v6
//! [`Event::Migrated`]: super::Event::Migrated
//! [`MigrationKind::PreferredAddress`]: crate::protocol::path::event::MigrationKind::PreferredAddress

use crate::protocol::cid::Generator;
use crate::protocol::connection::{ConnectError, Connection};
use crate::protocol::crypto::Provider;
use crate::protocol::error::TransportError;
use crate::protocol::path::SocketAddr;
use crate::protocol::time::Instant;
use crate::protocol::transport_params::PreferredAddress;

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Server: issues connection ID 1 for the configured preferred address,
    /// before anything else is issued.
    pub(crate) fn issue_preferred_address_cid(&mut self) -> Result<(), ConnectError> {
        if self.config.preferred_address_v4.is_none() && self.config.preferred_address_v6.is_none()
        {
            return Ok(());
        }
        self.local_cids
            .issue_preferred_address(&mut self.gen)
            .map(|_| ())
            .map_err(|_| ConnectError::Config(TransportError::internal("preferred address ID")))
    }

    /// Server: the preferred_address transport parameter to send, if
    /// configured and its connection ID was issued.
    pub(crate) fn preferred_address_param(&self) -> Option<PreferredAddress> {
        let (ipv4, ipv6) = (
            self.config.preferred_address_v4,
            self.config.preferred_address_v6,
        );
        if !self.side.is_server() || (ipv4.is_none() && ipv6.is_none()) {
            return None;
        }
        let (id, token) = self.local_cids.get(1)?;
        Some(PreferredAddress {
            ipv4,
            ipv6,
            id,
            reset_token: *token.as_bytes(),
        })
    }

    /// Client: the handshake is confirmed; start probing the server's
    /// preferred address, if it has one this client can and may use.
    pub(crate) fn start_preferred_address_migration(&mut self, now: Instant) {
        if self.side.is_server() || !self.config.migrate_to_preferred_address {
            return;
        }
        let Some(pa) = self.peer_params.as_ref().and_then(|p| p.preferred_address) else {
            return;
        };
        // The address of the family this client sends from (§9.6.3 asks
        // the same of a client that moved to a new address).
        let remote = match self.paths.active().local() {
            SocketAddr::V4(_) => pa.ipv4.map(SocketAddr::V4),
            SocketAddr::V6(_) => pa.ipv6.map(SocketAddr::V6),
        };
        let Some(remote) = remote else {
            return;
        };
        //= https://www.rfc-editor.org/rfc/rfc9000#section-9.6.1
        //# A client constructs packets using any previously unused
        //# active connection ID, taken from either the preferred_address transport
        //# parameter or a NEW_CONNECTION_ID frame.
        if self.peer_cids.unused_count() == 0 {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-9.6.1
        //# Once the handshake is confirmed, the client SHOULD select one of the two
        //# addresses provided by the server and initiate path validation
        let Ok(id) = self.paths.migrate_to_preferred_address(remote, now) else {
            return;
        };
        if let Some((seq, _)) = self.peer_cids.take_unused() {
            if let Some(p) = self.paths.get_mut(id) {
                p.set_dcid_sequence(Some(seq));
            }
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_preferred))]
mod tests {
    use super::*;
    use crate::protocol::cid::local::RouteChange;
    use crate::protocol::connection::testing::{
        config, Pair, TestResult, CLIENT, CLIENT_ADDR, SERVER, SERVER_ADDR, SERVER_PREFERRED_ADDR,
    };
    use crate::protocol::connection::{Config, Event};
    use crate::protocol::path::event::MigrationKind;
    use crate::protocol::stream::Dir;
    use core::time::Duration;

    fn server_config() -> Config {
        let mut c = config();
        if let SocketAddr::V4(a) = SERVER_PREFERRED_ADDR {
            c.preferred_address_v4 = Some(a);
        }
        c
    }

    /// Sends `data` on a new stream from `side` and runs until the other
    /// side has read it all.
    fn exchange(p: &mut Pair, side: usize, data: &[u8]) -> TestResult {
        let id = p.conn(side)?.stream_open(Dir::Uni).map_err(|_| "open")?;
        let n = p.conn(side)?.stream_write(id, data, true);
        assert_eq!(n, Ok(data.len()));
        let mut got = 0;
        let mut buf = [0u8; 256];
        p.run_until(Duration::from_secs(5), |p| {
            let now = p.now;
            if let Ok(c) = p.conn(side ^ 1) {
                while let Ok(r) = c.stream_read(now, id, &mut buf) {
                    got += r.len;
                    if r.len == 0 {
                        break;
                    }
                }
            }
            got == data.len()
        })
    }

    #[test]
    fn client_moves_to_the_preferred_address() -> TestResult {
        let mut p = Pair::new(config(), server_config())?;
        // The server routes the preferred address's ID from the start.
        let pref_cid = p.conn(SERVER)?.local_cids.get(1).map(|(id, _)| id);
        let mut routed = false;
        while let Some(change) = p.conn(SERVER)?.poll_route_change() {
            routed |= Some(change) == pref_cid.map(RouteChange::Add);
        }
        assert!(routed);
        p.handshake()?;
        let c = p.conn(CLIENT)?;
        // Probing first: non-probing packets still go to the original address.
        assert_eq!(c.paths().active().remote(), SERVER_ADDR);
        let candidate = c
            .paths()
            .candidate()
            .map(|p| (p.remote(), p.dcid_sequence()));
        assert_eq!(candidate, Some((SERVER_PREFERRED_ADDR, Some(1))));
        p.run_until(Duration::from_secs(2), |p| {
            p.saw(
                CLIENT,
                &Event::Migrated {
                    kind: MigrationKind::PreferredAddress,
                },
            )
        })?;
        let c = p.conn(CLIENT)?;
        assert_eq!(c.paths().active().remote(), SERVER_PREFERRED_ADDR);
        //= https://www.rfc-editor.org/rfc/rfc9000#section-9.6.1
        //# As soon as path validation succeeds, the client SHOULD begin sending all
        //# future packets to the new server address using the new connection ID
        assert_eq!(Some(c.remote_cid()), pref_cid);
        assert!(p.saw(CLIENT, &Event::ConnectionIdChanged { sequence: 1 }));
        // Data flows both ways at the new address; the server moved there
        // after validating the client from it (§9.6.2).
        exchange(&mut p, CLIENT, b"to the preferred address")?;
        exchange(&mut p, SERVER, b"from the preferred address")?;
        let s = p.conn(SERVER)?;
        assert_eq!(s.paths().active().local(), SERVER_PREFERRED_ADDR);
        assert_eq!(s.paths().active().remote(), CLIENT_ADDR);
        //= https://www.rfc-editor.org/rfc/rfc9000#section-9.6.2
        //# The server MUST probe on the path toward the client from its
        //# preferred address.
        assert!(s.paths().active().is_validated());
        assert!(p.saw(
            SERVER,
            &Event::Migrated {
                kind: MigrationKind::Peer
            }
        ));
        // Nothing is sent to or from the original server address any more.
        let stale = p.datagrams_via(SERVER_ADDR);
        exchange(&mut p, CLIENT, b"more")?;
        assert_eq!(p.datagrams_via(SERVER_ADDR), stale);
        Ok(())
    }

    #[test]
    fn client_stays_when_the_preferred_address_fails() -> TestResult {
        let mut p = Pair::new(config(), server_config())?;
        p.unreachable = Some(SERVER_PREFERRED_ADDR);
        p.handshake()?;
        let probing = p.conn(CLIENT)?.paths().candidate().map(|c| c.remote());
        assert_eq!(probing, Some(SERVER_PREFERRED_ADDR));
        p.run_for(Duration::from_secs(5))?;
        let c = p.conn(CLIENT)?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-9.6.1
        //# If path validation fails, the client
        //# MUST continue sending all future packets to the server's original IP
        //# address.
        assert_eq!(c.paths().active().remote(), SERVER_ADDR);
        assert!(c.paths().candidate().is_none());
        assert!(!p.events[CLIENT]
            .iter()
            .any(|e| matches!(e, Event::Migrated { .. })));
        exchange(&mut p, CLIENT, b"still on the original address")?;
        Ok(())
    }

    #[test]
    fn client_may_decline_or_lack_a_matching_family() -> TestResult {
        let mut off = config();
        off.migrate_to_preferred_address = false;
        let mut p = Pair::new(off, server_config())?;
        p.handshake()?;
        p.run_for(Duration::from_millis(500))?;
        assert_eq!(p.conn(CLIENT)?.paths().active().remote(), SERVER_ADDR);
        assert!(p.conn(CLIENT)?.paths().candidate().is_none());
        // An IPv6 preferred address is of no use to an IPv4 client.
        let mut v6 = config();
        v6.preferred_address_v6 = Some(core::net::SocketAddrV6::new(
            core::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
            443,
            0,
            0,
        ));
        let mut p = Pair::new(config(), v6)?;
        p.handshake()?;
        p.run_for(Duration::from_millis(500))?;
        assert!(p.conn(CLIENT)?.paths().candidate().is_none());
        assert_eq!(p.conn(CLIENT)?.paths().active().remote(), SERVER_ADDR);
        // The parameter did reach the client, with ID 1.
        let pa = p
            .conn(CLIENT)?
            .peer_transport_parameters()
            .and_then(|t| t.preferred_address);
        assert!(pa.is_some_and(|pa| pa.ipv4.is_none() && pa.ipv6.is_some()));
        Ok(())
    }
}
