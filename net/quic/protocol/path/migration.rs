// SPDX-License-Identifier: GPL-2.0

//! The paths of a connection and connection migration (RFC 9000 §9).
//!
//! [`Paths`] holds at most three paths:
//!
//! - the *active* path, which carries non-probing packets;
//! - a *candidate*: a path being probed, opened by a local migration, by a
//!   client moving to the server's preferred address, or by a peer that
//!   sent from a new address;
//! - a *fallback*: the last validated path before the peer migrated, to go
//!   back to if the new address fails validation.
//!
//! A server follows the client: a non-probing packet carrying the largest
//! packet number so far, received on another path, makes that path active.
//! A client never follows the server; it moves itself ([`client`]), after
//! validating the new path. Everything that changes paths is reported as a
//! [`PathEvent`].
//!
//! Congestion control, connection IDs and frames live elsewhere. The caller
//! reacts to the events: it resets congestion state, gives each new path an
//! unused peer connection ID and retires those of abandoned paths.

pub mod client;

use super::amplification::AntiAmplification;
use super::event::{Events, MigrationKind, PathEvent};
use super::pmtud::PmtudConfig;
use super::validation::{ChallengeData, Validation};
use super::{canonical, is_port_change, SocketAddr};
use super::{Origin, Path, PathId};
use crate::protocol::alloc::{AllocError, Box, GFP};
use crate::protocol::side::Side;
use crate::protocol::time::Instant;

/// The paths of one connection.
#[derive(Clone, Debug)]
pub struct Paths {
    role: Side,
    active: Path,
    candidate: Option<Path>,
    fallback: Option<Path>,
    next_id: u64,
    pmtud: PmtudConfig,
    peer_max_udp_payload_size: Option<u64>,
    handshake_confirmed: bool,
    /// The peer address of the handshake, which disable_active_migration
    /// protects.
    handshake_remote: SocketAddr,
    peer_disables_migration: bool,
    /// A server's local address left for its preferred address: newer
    /// packets arriving there are dropped (§9.6.2).
    left_local: Option<SocketAddr>,
    /// A client's server address left for the server's preferred address:
    /// packets from there are still processed, nothing is sent there.
    left_remote: Option<SocketAddr>,
    /// The largest packet number received in the application data space.
    largest_pn: Option<u64>,
    events: Events,
}

impl Paths {
    /// The paths of a new connection, whose handshake runs between `local`
    /// and `remote`. A client's path is validated from the start; a server's
    /// is limited by the anti-amplification limit until
    /// [`Paths::on_peer_address_validated`].
    ///
    /// At about 1.4 KiB, the paths are built on the heap, from a frame of
    /// this function's own (never inlined into a caller's).
    #[inline(never)]
    pub fn new(
        role: Side,
        local: SocketAddr,
        remote: SocketAddr,
        pmtud: PmtudConfig,
    ) -> Result<Box<Self>, AllocError> {
        let (local, remote) = (canonical(local), canonical(remote));
        let (amplification, validation) = match role {
            Side::Client => (AntiAmplification::validated(), Validation::validated()),
            Side::Server => (AntiAmplification::unvalidated(), Validation::new()),
        };
        let mut active = Path::new(
            PathId(0),
            local,
            remote,
            Origin::Handshake,
            amplification,
            validation,
            pmtud,
        );
        active.dcid_seq = Some(0);
        let paths = Self {
            role,
            active,
            candidate: None,
            fallback: None,
            next_id: 1,
            pmtud,
            peer_max_udp_payload_size: None,
            handshake_confirmed: false,
            handshake_remote: remote,
            peer_disables_migration: false,
            left_local: None,
            left_remote: None,
            largest_pn: None,
            events: Events::new(),
        };
        Box::new(paths, GFP)
    }

    /// Which end of the connection this is.
    pub fn role(&self) -> Side {
        self.role
    }

    /// The path carrying non-probing packets.
    pub fn active(&self) -> &Path {
        &self.active
    }

    /// The path carrying non-probing packets.
    pub fn active_mut(&mut self) -> &mut Path {
        &mut self.active
    }

    /// The path being probed, if any.
    pub fn candidate(&self) -> Option<&Path> {
        self.candidate.as_ref()
    }

    /// The last validated path before the peer migrated, if kept.
    pub fn fallback(&self) -> Option<&Path> {
        self.fallback.as_ref()
    }

    /// Every path: active first.
    pub fn iter(&self) -> impl Iterator<Item = &Path> + '_ {
        core::iter::once(&self.active)
            .chain(self.candidate.iter())
            .chain(self.fallback.iter())
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Path> + '_ {
        core::iter::once(&mut self.active)
            .chain(self.candidate.iter_mut())
            .chain(self.fallback.iter_mut())
    }

    /// The path `id`, if the connection still has it.
    pub fn get(&self, id: PathId) -> Option<&Path> {
        self.iter().find(|p| p.id == id)
    }

    /// The path `id`, if the connection still has it.
    pub fn get_mut(&mut self, id: PathId) -> Option<&mut Path> {
        self.iter_mut().find(|p| p.id == id)
    }

    /// Records that the handshake validated the client's address (a server
    /// processed a Handshake packet, or a valid token): the
    /// anti-amplification limit is lifted.
    pub fn on_peer_address_validated(&mut self) {
        self.active.amplification.validate();
        self.active.validation.set_validated();
    }

    /// Records that the handshake is confirmed: migration may start, and so
    /// does DPLPMTUD on the active path.
    pub fn on_handshake_confirmed(&mut self, now: Instant) {
        self.handshake_confirmed = true;
        self.start_pmtud(now);
    }

    /// Records the peer's max_udp_payload_size and disable_active_migration
    /// transport parameters.
    pub fn set_peer_transport_parameters(
        &mut self,
        max_udp_payload_size: u64,
        disable_active_migration: bool,
    ) {
        self.peer_max_udp_payload_size = Some(max_udp_payload_size);
        self.peer_disables_migration = disable_active_migration;
        for p in self.iter_mut() {
            p.pmtud.set_peer_max_udp_payload_size(max_udp_payload_size);
        }
    }

    fn start_pmtud(&mut self, now: Instant) {
        if self.handshake_confirmed && self.active.is_validated() {
            self.active.pmtud.start(now);
        }
    }

    fn new_path(&mut self, local: SocketAddr, remote: SocketAddr, origin: Origin) -> Path {
        let id = PathId(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        // Only an address the peer showed us needs the limit; one this
        // endpoint picked (§9.2, §9.6) cannot make it an amplifier.
        let amplification = match origin {
            Origin::Peer => AntiAmplification::unvalidated(),
            _ => AntiAmplification::validated(),
        };
        let mut p = Path::new(
            id,
            local,
            remote,
            origin,
            amplification,
            Validation::new(),
            self.pmtud,
        );
        if let Some(max) = self.peer_max_udp_payload_size {
            p.pmtud.set_peer_max_udp_payload_size(max);
        }
        p
    }

    /// Sets a new candidate, abandoning the previous one.
    fn set_candidate(&mut self, path: Path) -> PathId {
        let id = path.id;
        if let Some(old) = self.candidate.replace(path) {
            self.abandon(old, false);
        }
        id
    }

    /// Reports a path that was removed.
    fn abandon(&mut self, path: Path, validation_failed: bool) {
        let shared = path.dcid_seq.is_some() && self.iter().any(|p| p.dcid_seq == path.dcid_seq);
        self.events.push(PathEvent::Abandoned {
            id: path.id,
            dcid_seq: if shared { None } else { path.dcid_seq },
            validation_failed,
        });
    }

    /// Attributes a datagram of `len` bytes received at `local` from
    /// `remote` to a path, counting it for the anti-amplification limit.
    ///
    /// Call it for every datagram attributed to the connection, even if no
    /// packet in it could be processed; `authenticated` tells whether one
    /// could. Returns `None` if the datagram must be dropped: a client hears
    /// only from the addresses it sends to, and a new path needs an
    /// authenticated packet and a confirmed handshake.
    ///
    /// A server opens a candidate for a new address and starts validating
    /// it at once, whether the peer is probing or migrating.
    pub fn on_datagram_received(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        len: usize,
        authenticated: bool,
        now: Instant,
    ) -> Option<PathId> {
        let (local, remote) = (canonical(local), canonical(remote));
        if let Some(p) = self
            .iter_mut()
            .find(|p| p.local == local && p.remote == remote)
        {
            p.amplification.on_received(len);
            return Some(p.id);
        }
        if self.role == Side::Client {
            // The server's original address, left for its preferred one, is
            // not unknown: packets still in flight from there, or from a
            // server that keeps answering from it (quinn-proto 0.11 fixes a
            // connection's local address when it accepts it), are processed
            // as the active path's. Nothing is sent there any more.
            if self.left_remote == Some(remote) && self.active.local == local {
                self.active.amplification.on_received(len);
                return Some(self.active.id);
            }
            //= https://www.rfc-editor.org/rfc/rfc9000#section-9
            //# If a client receives packets from an unknown server address, the
            //# client MUST discard these packets.
            return None;
        }
        if !authenticated || !self.handshake_confirmed {
            return None;
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-9.6.2
        //# The server SHOULD drop newer packets for this connection that are
        //# received on the old IP address.
        if self.left_local == Some(local) {
            return None;
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-9
        //# An endpoint MUST perform path validation (Section 8.2) if it
        //# detects any change to a peer's address, unless it has previously
        //# validated that address.
        let mut path = self.new_path(local, remote, Origin::Peer);
        path.amplification.on_received(len);
        path.validation.start(now);
        Some(self.set_candidate(path))
    }

    /// Processes an authenticated 1-RTT packet numbered `pn` received on
    /// path `id`; `non_probing` tells whether it held any frame other than
    /// PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID and PADDING.
    ///
    /// On a server, a non-probing packet with the largest packet number so
    /// far moves the connection to its path.
    pub fn on_packet_received(&mut self, id: PathId, pn: u64, non_probing: bool, now: Instant) {
        if self.largest_pn.is_some_and(|l| pn <= l) {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-9.3
            //# An endpoint only changes the address to which it sends packets in
            //# response to the highest-numbered non-probing packet.
            return;
        }
        self.largest_pn = Some(pn);
        if !non_probing || self.role == Side::Client || id == self.active.id {
            return;
        }
        if let Some(c) = self.candidate.as_mut().filter(|c| c.id == id) {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-9.6.2
            //# The server MUST send non-probing packets from its original address
            //# until it receives a non-probing packet from the client at its
            //# preferred address and until the server has validated the new path.
            if c.local != self.active.local && !c.is_validated() {
                c.switch_on_validation = true;
                return;
            }
            if let Some(c) = self.candidate.take() {
                self.switch_to(c, MigrationKind::Peer, now);
            }
        } else if self.fallback.as_ref().is_some_and(|f| f.id == id) {
            if let Some(f) = self.fallback.take() {
                self.switch_to(f, MigrationKind::Peer, now);
            }
        }
    }

    /// Makes `new` the active path.
    fn switch_to(&mut self, mut new: Path, kind: MigrationKind, now: Instant) {
        let reset_congestion =
            !(new.local == self.active.local && is_port_change(&new.remote, &self.active.remote));
        new.switch_on_validation = false;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-9.3
        //# If the recipient permits the migration, it MUST send subsequent
        //# packets to the new peer address and MUST initiate path validation
        //# (Section 8.2) to verify the peer's ownership of the address if
        //# validation is not already underway.
        if !new.is_validated() {
            new.validation.start(now);
        }
        let mut old = core::mem::replace(&mut self.active, new);
        self.events.push(PathEvent::Migrated {
            kind,
            from: old.id,
            to: self.active.id,
            reset_congestion,
        });
        if kind == MigrationKind::Peer && old.is_validated() && old.local == self.active.local {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-9.3.3
            //# In response to an apparent migration, endpoints MUST validate the
            //# previously active path using a PATH_CHALLENGE frame.
            old.validation.start(now);
            if let Some(prev) = self.fallback.replace(old) {
                self.abandon(prev, false);
            }
        } else {
            if self.role == Side::Server && old.local != self.active.local {
                self.left_local = Some(old.local);
            }
            if kind == MigrationKind::PreferredAddress {
                self.left_remote = Some(old.remote);
            }
            self.abandon(old, kind == MigrationKind::Revert);
        }
        self.start_pmtud(now);
    }

    /// Records a PATH_CHALLENGE received on path `id`.
    pub fn on_path_challenge(&mut self, id: PathId, data: ChallengeData) {
        if let Some(p) = self.get_mut(id) {
            p.on_path_challenge(data);
        }
    }

    /// Processes a PATH_RESPONSE, received on any path: it validates the
    /// path its challenge was sent on. A validated candidate this endpoint
    /// opened becomes the active path.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-8.2.3
    //# A PATH_RESPONSE frame received on any network path validates the path
    //# on which the PATH_CHALLENGE was sent.
    pub fn on_path_response(&mut self, data: &ChallengeData, now: Instant) {
        let Some((id, validated)) = self
            .iter_mut()
            .find_map(|p| p.validation.on_response(data).map(|v| (p.id, v)))
        else {
            return;
        };
        if let Some(p) = self.get_mut(id) {
            p.amplification.validate();
            //= https://www.rfc-editor.org/rfc/rfc9000#section-8.2.3
            //# the endpoint MUST initiate another path validation with an expanded
            //# datagram to verify that the path supports the required MTU.
            if !validated.mtu {
                p.validation.start(now);
            }
        }
        self.events.push(PathEvent::Validated { id });
        if id == self.active.id {
            self.start_pmtud(now);
        }
        if let Some(c) = self.candidate.as_ref().filter(|c| c.id == id) {
            if let Some(kind) = Self::kind_on_validation(c) {
                if let Some(c) = self.candidate.take() {
                    self.switch_to(c, kind, now);
                }
            }
        }
        self.prune_fallback();
    }

    /// What a candidate's successful validation leads to.
    fn kind_on_validation(c: &Path) -> Option<MigrationKind> {
        match c.origin {
            Origin::Local => Some(MigrationKind::Local),
            Origin::PreferredAddress => Some(MigrationKind::PreferredAddress),
            Origin::Peer | Origin::Handshake => {
                c.switch_on_validation.then_some(MigrationKind::Peer)
            }
        }
    }

    /// Drops the fallback once it is of no more use: the active path is
    /// validated, so there is nothing to revert from, and the fallback's own
    /// validation (§9.3.3) is over. Its peer connection ID can be retired.
    fn prune_fallback(&mut self) {
        let done = self
            .fallback
            .as_ref()
            .is_some_and(|f| !f.validation.in_progress());
        if done && self.active.is_validated() {
            if let Some(f) = self.fallback.take() {
                self.abandon(f, false);
            }
        }
    }
    /// A path that needs a PATH_CHALLENGE sent now. The caller sends one
    /// with fresh random data, padded to [`Path::probe_datagram_len`], and
    /// reports it with [`Path::on_challenge_sent`].
    pub fn poll_challenge(&self, now: Instant) -> Option<PathId> {
        self.iter().find(|p| p.challenge_due(now)).map(|p| p.id)
    }

    /// A PATH_RESPONSE to send: the path and the data. Report it with
    /// [`Path::on_response_sent`].
    pub fn poll_response(&self) -> Option<(PathId, ChallengeData)> {
        self.iter()
            .find_map(|p| p.pending_response().map(|d| (p.id, d)))
    }

    /// The next time [`Paths::on_timeout`] has work: a challenge to resend,
    /// a validation to abandon or a PMTU search to restart.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.iter()
            .flat_map(|p| [p.validation.next_timeout(), p.pmtud.next_timeout()])
            .flatten()
            .min()
    }

    /// Runs the timers that expired by `now`.
    pub fn on_timeout(&mut self, now: Instant) {
        if self
            .candidate
            .as_mut()
            .is_some_and(|c| c.validation.on_timeout(now))
        {
            if let Some(c) = self.candidate.take() {
                self.abandon(c, true);
            }
        }
        // Before the active path: a failed fallback is no place to revert to.
        if self
            .fallback
            .as_mut()
            .is_some_and(|f| f.validation.on_timeout(now))
        {
            if let Some(f) = self.fallback.take() {
                self.abandon(f, true);
            }
        }
        if self.active.validation.on_timeout(now) && !self.active.is_validated() {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-9.3.2
            //# To protect the connection from failing due to such a spurious
            //# migration, an endpoint MUST revert to using the last validated
            //# peer address when validation of a new peer address fails.
            match self.fallback.take() {
                Some(f) => self.switch_to(f, MigrationKind::Revert, now),
                None => self.events.push(PathEvent::NoViablePath),
            }
        }
        self.prune_fallback();
        for p in self.iter_mut() {
            p.pmtud.on_timeout(now);
        }
    }

    /// The next event, if any. Drain them after every call.
    pub fn poll_event(&mut self) -> Option<PathEvent> {
        self.events.pop()
    }
}

/// Addresses, times and settings the migration tests of this module and of
/// [`client`] share.
#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
mod fixtures {
    use super::{PmtudConfig, SocketAddr};
    use crate::protocol::time::Instant;
    use core::time::Duration;

    pub(super) const PTO: Duration = Duration::from_millis(100);

    pub(super) const fn v4(o: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::V4(core::net::SocketAddrV4::new(
            core::net::Ipv4Addr::new(o[0], o[1], o[2], o[3]),
            port,
        ))
    }

    pub(super) const SERVER: SocketAddr = v4([198, 51, 100, 1], 443);
    pub(super) const SERVER_PREFERRED: SocketAddr = v4([198, 51, 100, 2], 443);
    pub(super) const CLIENT: SocketAddr = v4([192, 0, 2, 1], 50000);
    pub(super) const CLIENT_REBOUND: SocketAddr = v4([192, 0, 2, 1], 50001);
    pub(super) const CLIENT_NEW: SocketAddr = v4([203, 0, 113, 9], 50000);

    pub(super) fn ms(n: u64) -> Instant {
        Instant::from_nanos(n * 1_000_000)
    }

    pub(super) fn pmtud() -> PmtudConfig {
        PmtudConfig {
            max_datagram_size: 1452,
            probe_interval: Duration::from_secs(600),
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_path_migration))]
mod tests {
    use super::*;
    use crate::protocol::path::pmtud::PmtudState;
    use core::time::Duration;

    use super::fixtures::{
        ms, pmtud, CLIENT, CLIENT_NEW, CLIENT_REBOUND, PTO, SERVER, SERVER_PREFERRED,
    };

    /// A server after its handshake with CLIENT.
    fn server() -> Result<Box<Paths>, AllocError> {
        let mut paths = Paths::new(Side::Server, SERVER, CLIENT, pmtud())?;
        paths.on_peer_address_validated();
        paths.on_handshake_confirmed(ms(0));
        Ok(paths)
    }

    /// A client after its handshake with SERVER.
    fn client() -> Result<Box<Paths>, AllocError> {
        let mut paths = Paths::new(Side::Client, CLIENT, SERVER, pmtud())?;
        paths.on_handshake_confirmed(ms(0));
        Ok(paths)
    }

    fn events(paths: &mut Paths) -> [Option<PathEvent>; 3] {
        [paths.poll_event(), paths.poll_event(), paths.poll_event()]
    }

    /// Sends the challenge due on `id`, if any, with data `[tag; 8]`.
    fn send_challenge(paths: &mut Paths, id: PathId, tag: u8, now: Instant) {
        if let Some(p) = paths.get_mut(id) {
            let len = p.probe_datagram_len();
            p.on_challenge_sent([tag; 8], len, now, PTO);
            p.on_datagram_sent(len);
        }
    }

    /// A packet from the client at `from`, numbered `pn`.
    fn receive(paths: &mut Paths, from: SocketAddr, pn: u64, non_probing: bool) -> Option<PathId> {
        let id = paths.on_datagram_received(SERVER, from, 100, true, ms(pn))?;
        paths.on_packet_received(id, pn, non_probing, ms(pn));
        Some(id)
    }

    #[test]
    fn server_handshake_path_is_amplification_limited() -> Result<(), AllocError> {
        let mut paths = Paths::new(Side::Server, SERVER, CLIENT, pmtud())?;
        assert_eq!(paths.active().send_budget(), 0);
        let id = paths.on_datagram_received(SERVER, CLIENT, 1200, false, ms(0));
        assert_eq!(id, Some(paths.active().id()));
        assert_eq!(paths.active().send_budget(), 3600);
        // Not validated: no PMTU search yet.
        paths.on_handshake_confirmed(ms(0));
        assert_eq!(paths.active().pmtud().state(), PmtudState::Base);
        paths.on_peer_address_validated();
        assert_eq!(paths.active().send_budget(), u64::MAX);
        paths.on_handshake_confirmed(ms(0));
        assert_eq!(paths.active().pmtud().state(), PmtudState::Searching);
        // No new path before the handshake is confirmed, nor unauthenticated.
        let mut early = Paths::new(Side::Server, SERVER, CLIENT, pmtud())?;
        assert_eq!(
            early.on_datagram_received(SERVER, CLIENT_NEW, 100, true, ms(0)),
            None
        );
        let mut paths = server()?;
        assert_eq!(
            paths.on_datagram_received(SERVER, CLIENT_NEW, 100, false, ms(0)),
            None
        );
        Ok(())
    }

    #[test]
    fn peer_migration_switches_and_validates() -> Result<(), AllocError> {
        let mut paths = server()?;
        let old = paths.active().id();
        receive(&mut paths, CLIENT, 1, true);
        let new = receive(&mut paths, CLIENT_NEW, 2, true);
        assert!(new.is_some());
        let new = new.unwrap_or(old);
        assert_eq!(paths.active().id(), new);
        assert_eq!(
            paths.poll_event(),
            Some(PathEvent::Migrated {
                kind: MigrationKind::Peer,
                from: old,
                to: new,
                reset_congestion: true,
            })
        );
        assert_eq!(paths.poll_event(), None);
        // The new address is limited until validated.
        assert_eq!(paths.active().send_budget(), 300);
        // Both the new path and the old one (§9.3.3) are challenged.
        assert_eq!(paths.fallback().map(|p| p.id()), Some(old));
        assert_eq!(paths.poll_challenge(ms(2)), Some(new));
        send_challenge(&mut paths, new, 1, ms(2));
        assert_eq!(paths.poll_challenge(ms(2)), Some(old));
        send_challenge(&mut paths, old, 2, ms(2));
        assert_eq!(paths.active().send_budget(), 0);
        paths.on_path_response(&[1; 8], ms(3));
        assert_eq!(paths.poll_event(), Some(PathEvent::Validated { id: new }));
        assert!(paths.active().is_validated());
        // The challenge went in a 300-byte datagram: the MTU is checked again.
        assert!(paths.active().validation().in_progress());
        assert_eq!(paths.active().pmtud().state(), PmtudState::Searching);
        // The old path answers too; with nothing left to revert from, it goes.
        assert_eq!(paths.poll_event(), None);
        paths.on_path_response(&[2; 8], ms(4));
        assert_eq!(
            events(&mut paths),
            [
                Some(PathEvent::Validated { id: old }),
                Some(PathEvent::Abandoned {
                    id: old,
                    dcid_seq: Some(0),
                    validation_failed: false,
                }),
                None
            ]
        );
        assert!(paths.fallback().is_none());
        Ok(())
    }

    #[test]
    fn nat_rebinding_keeps_congestion_state() -> Result<(), AllocError> {
        let mut paths = server()?;
        receive(&mut paths, CLIENT_REBOUND, 1, true);
        assert!(matches!(
            paths.poll_event(),
            Some(PathEvent::Migrated {
                kind: MigrationKind::Peer,
                reset_congestion: false,
                ..
            })
        ));
        assert_eq!(paths.active().remote(), CLIENT_REBOUND);
        Ok(())
    }

    #[test]
    fn only_the_largest_non_probing_packet_moves() -> Result<(), AllocError> {
        let mut paths = server()?;
        let old = paths.active().id();
        receive(&mut paths, CLIENT, 10, true);
        // Reordered: an older packet from a new address.
        let new = receive(&mut paths, CLIENT_NEW, 9, true);
        assert_eq!(paths.active().id(), old);
        // Probing only: a candidate under validation, no switch.
        let new2 = receive(&mut paths, CLIENT_NEW, 11, false);
        assert_eq!(new, new2);
        assert_eq!(paths.active().id(), old);
        assert_eq!(paths.candidate().map(|p| p.id()), new);
        let id = new.unwrap_or(old);
        send_challenge(&mut paths, id, 7, ms(11));
        paths.on_path_response(&[7; 8], ms(12));
        assert_eq!(paths.poll_event(), Some(PathEvent::Validated { id }));
        assert_eq!(paths.active().id(), old);
        // Now a non-probing packet: move to the validated path.
        receive(&mut paths, CLIENT_NEW, 12, true);
        assert_eq!(paths.active().id(), id);
        assert!(paths.active().is_validated());
        Ok(())
    }

    #[test]
    fn failed_validation_reverts() -> Result<(), AllocError> {
        let mut paths = server()?;
        let old = paths.active().id();
        paths.active_mut().set_dcid_sequence(Some(0));
        let new = receive(&mut paths, CLIENT_NEW, 1, true).unwrap_or(old);
        if let Some(p) = paths.get_mut(new) {
            p.set_dcid_sequence(Some(1));
        }
        events(&mut paths);
        send_challenge(&mut paths, new, 1, ms(1));
        send_challenge(&mut paths, old, 2, ms(1));
        // The old path answers, the new one never does.
        paths.on_path_response(&[2; 8], ms(2));
        assert_eq!(paths.poll_event(), Some(PathEvent::Validated { id: old }));
        assert!(paths.next_timeout() <= Some(ms(1) + 3 * validation_timeout()));
        paths.on_timeout(ms(1) + 3 * validation_timeout());
        assert_eq!(
            events(&mut paths),
            [
                Some(PathEvent::Migrated {
                    kind: MigrationKind::Revert,
                    from: new,
                    to: old,
                    reset_congestion: true,
                }),
                Some(PathEvent::Abandoned {
                    id: new,
                    dcid_seq: Some(1),
                    validation_failed: true,
                }),
                None
            ]
        );
        assert_eq!(paths.active().id(), old);
        assert!(paths.fallback().is_none());
        Ok(())
    }

    fn validation_timeout() -> Duration {
        crate::protocol::path::validation::NEW_PATH_PTO
    }

    #[test]
    fn no_validated_path_left() -> Result<(), AllocError> {
        let mut paths = server()?;
        let old = paths.active().id();
        let new = receive(&mut paths, CLIENT_NEW, 1, true).unwrap_or(old);
        send_challenge(&mut paths, new, 1, ms(1));
        send_challenge(&mut paths, old, 2, ms(1));
        events(&mut paths);
        paths.on_timeout(ms(10_000));
        assert_eq!(
            events(&mut paths),
            [
                Some(PathEvent::Abandoned {
                    id: old,
                    dcid_seq: Some(0),
                    validation_failed: true,
                }),
                Some(PathEvent::NoViablePath),
                None
            ]
        );
        Ok(())
    }

    #[test]
    fn genuine_packets_pull_back_from_a_spurious_migration() -> Result<(), AllocError> {
        let mut paths = server()?;
        let old = paths.active().id();
        // An attacker forwards a copy from another address; it arrives first.
        let spurious = receive(&mut paths, CLIENT_NEW, 5, true).unwrap_or(old);
        assert_eq!(paths.active().id(), spurious);
        events(&mut paths);
        // The genuine peer keeps sending from its address.
        receive(&mut paths, CLIENT, 6, true);
        assert_eq!(paths.active().id(), old);
        assert_eq!(
            events(&mut paths),
            [
                Some(PathEvent::Migrated {
                    kind: MigrationKind::Peer,
                    from: spurious,
                    to: old,
                    reset_congestion: true,
                }),
                Some(PathEvent::Abandoned {
                    id: spurious,
                    dcid_seq: None,
                    validation_failed: false,
                }),
                None
            ]
        );
        Ok(())
    }

    #[test]
    fn client_drops_unknown_server_addresses() -> Result<(), AllocError> {
        let mut paths = client()?;
        assert_eq!(
            paths.on_datagram_received(CLIENT, SERVER_PREFERRED, 100, true, ms(0)),
            None
        );
        // Nor does the client follow the server to a known other path.
        let id = paths.active().id();
        paths.on_packet_received(id, 1, true, ms(0));
        assert_eq!(paths.active().remote(), SERVER);
        Ok(())
    }

    #[test]
    fn server_preferred_address_waits_for_validation() -> Result<(), AllocError> {
        let mut paths = server()?;
        let old = paths.active().id();
        // The client probes and then talks to the preferred address.
        let new = paths
            .on_datagram_received(SERVER_PREFERRED, CLIENT, 1200, true, ms(1))
            .unwrap_or(old);
        paths.on_packet_received(new, 1, true, ms(1));
        assert_eq!(paths.active().id(), old);
        send_challenge(&mut paths, new, 5, ms(1));
        paths.on_path_response(&[5; 8], ms(2));
        assert_eq!(paths.active().local(), SERVER_PREFERRED);
        assert_eq!(paths.poll_event(), Some(PathEvent::Validated { id: new }));
        assert!(matches!(
            paths.poll_event(),
            Some(PathEvent::Migrated {
                kind: MigrationKind::Peer,
                reset_congestion: true,
                ..
            })
        ));
        // The original address is left for good.
        assert!(paths.fallback().is_none());
        assert_eq!(
            paths.on_datagram_received(SERVER, CLIENT, 100, true, ms(3)),
            None
        );
        Ok(())
    }

    #[test]
    fn path_responses_are_queued_per_path() -> Result<(), AllocError> {
        let mut paths = server()?;
        let id = paths.active().id();
        assert_eq!(paths.poll_response(), None);
        paths.on_path_challenge(id, [9; 8]);
        assert_eq!(paths.poll_response(), Some((id, [9; 8])));
        paths.active_mut().on_response_sent();
        assert_eq!(paths.poll_response(), None);
        // An unknown path is ignored.
        paths.on_path_challenge(PathId(99), [9; 8]);
        assert_eq!(paths.poll_response(), None);
        assert_eq!(paths.role(), Side::Server);
        assert_eq!(paths.iter().count(), 1);
        Ok(())
    }
}
