// SPDX-License-Identifier: GPL-2.0

//! Migrations a client starts (RFC 9000 §9.2, §9.6).
//!
//! Only clients migrate: to a new local address when the application asks
//! (the CONNECTION_MIGRATION socket option), and to the server's preferred
//! address after the handshake. Either way the new path is probed as the
//! candidate and becomes active only once validated; a failure leaves the
//! connection where it was.

use super::Paths;
use crate::protocol::path::{canonical, is_specified, SocketAddr};
use crate::protocol::path::{Origin, PathId};
use crate::protocol::side::Side;
use crate::protocol::time::Instant;

/// Why a migration request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationError {
    /// Only clients migrate (§9).
    NotClient,
    /// The handshake is not confirmed yet.
    HandshakeNotConfirmed,
    /// The peer sent disable_active_migration.
    DisabledByPeer,
    /// The path already uses that address.
    SameAddress,
    /// The address cannot be sent to.
    InvalidAddress,
}

impl Paths {
    /// Starts a migration to `local` (the CONNECTION_MIGRATION socket
    /// option): the new path is probed and becomes active once validated,
    /// reported as [`MigrationKind::Local`]. Give the path an unused peer
    /// connection ID.
    ///
    /// [`MigrationKind::Local`]: crate::protocol::path::event::MigrationKind::Local
    pub fn migrate(&mut self, local: SocketAddr, now: Instant) -> Result<PathId, MigrationError> {
        let local = canonical(local);
        self.check_migration()?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-9
        //# If the peer sent the disable_active_migration transport parameter, an
        //# endpoint also MUST NOT send packets (including probing packets; see
        //# Section 9.1) from a different local address to the address the peer
        //# used during the handshake
        if self.peer_disables_migration && self.active.remote == self.handshake_remote {
            return Err(MigrationError::DisabledByPeer);
        }
        if !is_specified(&local) {
            return Err(MigrationError::InvalidAddress);
        }
        if local == self.active.local {
            return Err(MigrationError::SameAddress);
        }
        let remote = self.active.remote;
        let mut path = self.new_path(local, remote, Origin::Local);
        path.validation.start(now);
        Ok(self.set_candidate(path))
    }

    /// Starts the client's move to the server's preferred address `remote`:
    /// the path is validated first, then becomes active, reported as
    /// [`MigrationKind::PreferredAddress`][kind]. If validation fails the client
    /// stays on the original address. Give the path an unused peer
    /// connection ID (the preferred address carries one).
    ///
    /// [kind]: crate::protocol::path::event::MigrationKind::PreferredAddress
    //= https://www.rfc-editor.org/rfc/rfc9000#section-9.6.2
    //# A client that migrates to a preferred address MUST validate the
    //# address it chooses before migrating
    pub fn migrate_to_preferred_address(
        &mut self,
        remote: SocketAddr,
        now: Instant,
    ) -> Result<PathId, MigrationError> {
        let remote = canonical(remote);
        self.check_migration()?;
        if !is_specified(&remote) {
            return Err(MigrationError::InvalidAddress);
        }
        if remote == self.active.remote {
            return Err(MigrationError::SameAddress);
        }
        let local = self.active.local;
        let mut path = self.new_path(local, remote, Origin::PreferredAddress);
        path.validation.start(now);
        Ok(self.set_candidate(path))
    }

    fn check_migration(&self) -> Result<(), MigrationError> {
        if self.role != Side::Client {
            return Err(MigrationError::NotClient);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-9
        //# An endpoint MUST NOT initiate connection migration before the
        //# handshake is confirmed, as defined in Section 4.1.2 of [QUIC-TLS].
        if !self.handshake_confirmed {
            return Err(MigrationError::HandshakeNotConfirmed);
        }
        Ok(())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_path_migration_client))]
mod tests {
    use super::*;
    use crate::protocol::alloc::{AllocError, Box};
    use crate::protocol::path::event::{MigrationKind, PathEvent};
    use crate::protocol::path::pmtud::PmtudState;

    use crate::protocol::path::migration::fixtures::{
        ms, pmtud, v4, CLIENT, CLIENT_NEW, CLIENT_REBOUND, PTO, SERVER, SERVER_PREFERRED,
    };

    /// A client after its handshake with SERVER.
    fn client() -> Result<Box<Paths>, AllocError> {
        let mut paths = Paths::new(Side::Client, CLIENT, SERVER, pmtud())?;
        paths.on_handshake_confirmed(ms(0));
        Ok(paths)
    }

    fn server() -> Result<Box<Paths>, AllocError> {
        let mut paths = Paths::new(Side::Server, SERVER, CLIENT, pmtud())?;
        paths.on_peer_address_validated();
        paths.on_handshake_confirmed(ms(0));
        Ok(paths)
    }

    fn events(paths: &mut Paths) -> [Option<PathEvent>; 3] {
        [paths.poll_event(), paths.poll_event(), paths.poll_event()]
    }

    /// Sends the challenge due on `id` with data `[tag; 8]`.
    fn send_challenge(paths: &mut Paths, id: PathId, tag: u8, now: Instant) {
        if let Some(p) = paths.get_mut(id) {
            let len = p.probe_datagram_len();
            p.on_challenge_sent([tag; 8], len, now, PTO);
            p.on_datagram_sent(len);
        }
    }

    #[test]
    fn local_migration() -> Result<(), AllocError> {
        let mut paths = Paths::new(Side::Client, CLIENT, SERVER, pmtud())?;
        assert_eq!(
            paths.migrate(CLIENT_NEW, ms(0)),
            Err(MigrationError::HandshakeNotConfirmed)
        );
        paths.on_handshake_confirmed(ms(0));
        assert_eq!(
            paths.migrate(CLIENT, ms(0)),
            Err(MigrationError::SameAddress)
        );
        assert_eq!(
            paths.migrate(v4([0; 4], 1), ms(0)),
            Err(MigrationError::InvalidAddress)
        );
        let old = paths.active().id();
        let new = paths.migrate(CLIENT_NEW, ms(0)).unwrap_or(old);
        // Probed first; our own new address has no amplification limit.
        assert_eq!(paths.active().id(), old);
        assert_eq!(paths.poll_challenge(ms(0)), Some(new));
        assert_eq!(paths.get(new).map(|p| p.probe_datagram_len()), Some(1200));
        send_challenge(&mut paths, new, 3, ms(0));
        // The response may come on any path.
        paths.on_path_response(&[3; 8], ms(1));
        assert_eq!(
            events(&mut paths),
            [
                Some(PathEvent::Validated { id: new }),
                Some(PathEvent::Migrated {
                    kind: MigrationKind::Local,
                    from: old,
                    to: new,
                    reset_congestion: true,
                }),
                Some(PathEvent::Abandoned {
                    id: old,
                    dcid_seq: Some(0),
                    validation_failed: false,
                }),
            ]
        );
        assert_eq!(paths.active().local(), CLIENT_NEW);
        assert_eq!(paths.active().pmtud().state(), PmtudState::Searching);
        // Servers do not migrate.
        let mut s = server()?;
        assert_eq!(
            s.migrate(SERVER_PREFERRED, ms(0)),
            Err(MigrationError::NotClient)
        );
        Ok(())
    }

    #[test]
    fn failed_local_migration_stays() -> Result<(), AllocError> {
        let mut paths = client()?;
        let old = paths.active().id();
        let new = paths.migrate(CLIENT_NEW, ms(0)).unwrap_or(old);
        send_challenge(&mut paths, new, 3, ms(0));
        // Retransmitted one PTO later.
        assert_eq!(paths.poll_challenge(ms(99)), None);
        assert_eq!(paths.poll_challenge(ms(100)), Some(new));
        paths.on_timeout(ms(10_000));
        assert_eq!(
            paths.poll_event(),
            Some(PathEvent::Abandoned {
                id: new,
                dcid_seq: None,
                validation_failed: true,
            })
        );
        assert_eq!(paths.active().id(), old);
        assert!(paths.candidate().is_none());
        // A second request replaces a pending one.
        let a = paths.migrate(CLIENT_NEW, ms(0));
        let b = paths.migrate(CLIENT_REBOUND, ms(0));
        assert!(a.is_ok() && b.is_ok() && a != b);
        assert!(matches!(
            paths.poll_event(),
            Some(PathEvent::Abandoned { .. })
        ));
        Ok(())
    }

    #[test]
    fn disable_active_migration_and_preferred_address() -> Result<(), AllocError> {
        let mut paths = client()?;
        paths.set_peer_transport_parameters(1400, true);
        assert_eq!(
            paths.migrate(CLIENT_NEW, ms(0)),
            Err(MigrationError::DisabledByPeer)
        );
        assert_eq!(
            paths.migrate_to_preferred_address(SERVER, ms(0)),
            Err(MigrationError::SameAddress)
        );
        let old = paths.active().id();
        let pref = paths
            .migrate_to_preferred_address(SERVER_PREFERRED, ms(0))
            .unwrap_or(old);
        // Validated before any non-probing packet goes there.
        assert_eq!(paths.active().remote(), SERVER);
        send_challenge(&mut paths, pref, 4, ms(0));
        paths.on_path_response(&[4; 8], ms(1));
        assert_eq!(paths.active().remote(), SERVER_PREFERRED);
        assert_eq!(paths.poll_event(), Some(PathEvent::Validated { id: pref }));
        assert!(matches!(
            paths.poll_event(),
            Some(PathEvent::Migrated {
                kind: MigrationKind::PreferredAddress,
                ..
            })
        ));
        // The peer's limit reaches paths opened after the parameters.
        assert_eq!(paths.active().pmtud().next_probe_size(), Some(1400));
        // Late packets from the original address still count, on the
        // active path; other addresses stay unknown.
        let active = paths.active().id();
        assert_eq!(
            paths.on_datagram_received(CLIENT, SERVER, 100, true, ms(2)),
            Some(active)
        );
        assert_eq!(
            paths.on_datagram_received(CLIENT_NEW, SERVER, 100, true, ms(2)),
            None
        );
        // disable_active_migration no longer applies.
        assert!(paths.migrate(CLIENT_NEW, ms(2)).is_ok());
        Ok(())
    }
}
