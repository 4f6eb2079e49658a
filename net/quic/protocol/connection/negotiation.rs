// SPDX-License-Identifier: GPL-2.0

//! Incompatible version negotiation on the client (RFC 9000 §6.2, RFC 9368
//! §2.1, §4 and §8).
//!
//! A server that does not speak the version of the client's first flight
//! answers with a Version Negotiation packet listing the versions it does.
//! The client picks its most preferred one the server lists and starts a
//! new attempt in it, conceptually a new connection:
//!
//! 1. [`Connection::handle_datagram`] takes the Version Negotiation packet:
//!    the attempt is abandoned (its Initial packets and CRYPTO data are
//!    dropped, congestion control starts over) and
//!    [`Event::VersionNegotiation`] names the version to move to. When the
//!    server lists no version the client speaks, the connection closes
//!    instead, with [`CloseCause::VersionNegotiation`].
//! 2. The caller calls [`Connection::restart_after_version_negotiation`],
//!    which installs the Initial keys of the new version, then starts a new
//!    TLS session in that version: new local transport parameters
//!    ([`Connection::local_transport_parameters`]) and a new ClientHello
//!    through [`Connection::crypto_send`]. Connection IDs, packet numbers
//!    and the address validation token carry over.
//! 3. The server's version_information is checked against downgrade: the
//!    client must have picked the same version had the Version Negotiation
//!    packet listed exactly the versions the server says it supports.
//!
//! [`Event::VersionNegotiation`]: crate::protocol::connection::Event::VersionNegotiation
//! [`CloseCause::VersionNegotiation`]: crate::protocol::connection::CloseCause::VersionNegotiation

use crate::protocol::cid::Generator;
use crate::protocol::connection::config::Versions;
use crate::protocol::connection::event::Event;
use crate::protocol::connection::state::{CloseCause, ConnectionError};
use crate::protocol::connection::{Connection, State, ZeroRtt};
use crate::protocol::crypto::Provider;
use crate::protocol::error::{TransportError, TransportErrorCode};
use crate::protocol::packet::version::Version;
use crate::protocol::packet::version_negotiation::VersionNegotiation;
use crate::protocol::recovery::PacketNumberSpace;
use crate::protocol::stream::crypto::CryptoStream;
use crate::protocol::time::Instant;
use crate::protocol::transport_params::VersionInformation;

/// Where a client stands with incompatible version negotiation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Negotiation {
    /// No Version Negotiation packet acted on.
    #[default]
    None,
    /// The attempt was abandoned; the caller restarts it.
    AwaitingRestart,
    /// This attempt reacts to a Version Negotiation packet.
    Restarted,
}

fn vn_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::VERSION_NEGOTIATION_ERROR, reason)
}

impl<P: Provider, G: Generator> Connection<P, G> {
    /// A Version Negotiation packet, `len` bytes of datagram.
    pub(crate) fn on_version_negotiation(
        &mut self,
        now: Instant,
        vn: &VersionNegotiation<'_>,
        len: usize,
    ) {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-6.2
        //# A client MUST discard any Version Negotiation packet
        //# if it has received and successfully processed any other packet, including an
        //# earlier Version Negotiation packet.
        if self.side.is_server()
            || self.handshake.heard_from_server
            || self.handshake.retried
            || self.handshake.negotiation != Negotiation::None
            || len == 0
        {
            return;
        }
        if vn.dcid != self.local_cid().as_slice() || vn.scid != self.cids.original_dcid.as_slice() {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9368#section-4
        //# Clients MUST ignore any received Version Negotiation packets that contain the
        //# Original Version.
        if vn.offers(self.original_version) {
            return;
        }
        let Some(version) = self.select_version(|v| vn.offers(v)) else {
            // No version in common: the attempt is over (RFC 9368 §2.1).
            let err = ConnectionError::silent(
                CloseCause::VersionNegotiation,
                TransportErrorCode::VERSION_NEGOTIATION_ERROR,
                true,
            );
            self.enter_draining(now, err);
            self.state = State::Closed;
            self.timers.stop_all();
            return;
        };
        self.vn_offer = Some(version);
        self.abandon_attempt(now);
        self.handshake.negotiation = Negotiation::AwaitingRestart;
        self.events.push(Event::VersionNegotiation { version });
    }

    /// The version this client picks from a server's list: its most
    /// preferred one listed (RFC 9368 §2.1).
    fn select_version(&self, listed: impl Fn(Version) -> bool) -> Option<Version> {
        self.config
            .versions
            .as_slice()
            .iter()
            .copied()
            .find(|v| listed(*v))
    }

    /// Drops what the abandoned attempt sent: its Initial packets and
    /// CRYPTO data, and any 0-RTT packets (their data goes again once the
    /// new attempt has keys for it).
    fn abandon_attempt(&mut self, now: Instant) {
        let settled = &mut self.settled;
        self.recovery.on_retry(&mut |s| {
            let _ = settled.push(s, crate::protocol::alloc::GFP);
        });
        self.pool.discard_space(PacketNumberSpace::Initial);
        if self.handshake.zero_rtt != ZeroRtt::None {
            // Not `discard`: the new attempt may install early keys again.
            self.keys.zero_rtt = None;
            self.handshake.zero_rtt = ZeroRtt::None;
        }
        self.process_settled(now);
        let buffer = self.config.crypto_buffer;
        if let Some(initial) = self.crypto.get_mut(0) {
            initial.discard(&mut self.crypto_budget);
            *initial = CryptoStream::new(buffer);
        }
        self.undecryptable.clear();
        if let Some(s) = self.spaces.get_mut(PacketNumberSpace::Initial.index()) {
            s.ping = 0;
        }
        self.update_timers(now);
    }

    /// Starts the new attempt after [`Event::VersionNegotiation`], in the
    /// version it named, which is returned: the Initial keys of that
    /// version are installed and the local transport parameters are open
    /// again. Then start a new TLS session in that version with new
    /// transport parameters, and pass its ClientHello to
    /// [`Connection::crypto_send`].
    ///
    /// [`Event::VersionNegotiation`]: crate::protocol::connection::Event::VersionNegotiation
    pub fn restart_after_version_negotiation(
        &mut self,
        now: Instant,
    ) -> Result<Version, TransportError> {
        let version = self
            .vn_offer
            .filter(|_| self.handshake.negotiation == Negotiation::AwaitingRestart)
            .filter(|_| !self.state.is_closed())
            .ok_or(TransportError::internal("no Version Negotiation to act on"))?;
        let dcid = self.cids.initial_dcid;
        self.keys
            .reset_initial(&self.provider, version, dcid.as_slice(), self.side)
            .map_err(|_| TransportError::internal("Initial keys"))?;
        self.version = version;
        self.original_version = version;
        self.local_params_sent = false;
        self.handshake.negotiation = Negotiation::Restarted;
        self.reset_idle_timer(now);
        self.update_timers(now);
        Ok(version)
    }

    /// The version a Version Negotiation packet offered that this endpoint
    /// supports, to start the new attempt with.
    pub fn negotiation_offer(&self) -> Option<Version> {
        self.vn_offer
    }

    /// The versions the client's first flight is compatible with
    /// (version_information's Available Versions): every configured
    /// version with compatible negotiation, else the attempt's own.
    pub(crate) fn offered_versions(&self) -> Versions {
        if self.config.compatible_version_negotiation {
            return self.config.versions;
        }
        Versions::new(&[self.original_version]).unwrap_or(self.config.versions)
    }

    /// Whether the abandoned attempt waits for its restart: the old TLS
    /// session may write nothing more.
    pub(crate) fn awaiting_restart(&self) -> bool {
        self.handshake.negotiation == Negotiation::AwaitingRestart
    }

    /// Whether this attempt reacts to a Version Negotiation packet.
    pub(crate) fn reacted_to_version_negotiation(&self) -> bool {
        self.handshake.negotiation == Negotiation::Restarted
    }

    /// The server's version_information when it sent none, after Version
    /// Negotiation (RFC 9368 §8): version 1 servers may not know it.
    pub(crate) fn assumed_version_information(&self) -> Result<VersionInformation, TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9368#section-8
        //# then the client SHALL proceed as if the
        //# server's transport parameters contained a version_information transport
        //# parameter with a Chosen Version set to 0x00000001 and an Available Version list
        if self.version == Version::V1 {
            if let Some(info) = VersionInformation::new(Version::V1.0, &[Version::V1.0]) {
                return Ok(info);
            }
        }
        //= https://www.rfc-editor.org/rfc/rfc9368#section-4
        //# If a client has reacted to a Version Negotiation packet and the server's Version Information was missing, the client
        //# MUST close the connection with a version negotiation error.
        Err(vn_error(
            "version_information missing after Version Negotiation",
        ))
    }

    /// Checks the server's Available Versions after Version Negotiation
    /// (RFC 9368 §4): with them and the negotiated version listed, the
    /// client would have picked the negotiated version.
    pub(crate) fn check_available_versions(
        &self,
        info: &VersionInformation,
    ) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9368#section-4
        //# In particular, if the client reacted to a Version Negotiation packet and the
        //# server's Available Versions field is empty, the client MUST close the connection
        if info.available().is_empty() {
            return Err(vn_error("no Available Versions after Version Negotiation"));
        }
        let negotiated = self.version;
        let would = self.select_version(|v| v == negotiated || info.available().contains(&v.0));
        //= https://www.rfc-editor.org/rfc/rfc9368#section-4
        //# If the client would have selected a different version, the
        //# client MUST close the connection with a version negotiation error.
        if would != Some(negotiated) {
            return Err(vn_error("version downgrade"));
        }
        Ok(())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_negotiation))]
mod tests {
    use super::*;
    use crate::protocol::ack::EcnCodepoint;
    use crate::protocol::alloc::{Vec, GFP};
    use crate::protocol::codec::Writer;
    use crate::protocol::connection::testing::{
        client_with, config, server_for, BoxedConn, TestConn, TestResult, CLIENT_ADDR, SERVER_ADDR,
    };
    use crate::protocol::connection::tls::TlsError;
    use crate::protocol::connection::Config;
    use crate::protocol::crypto::Level;
    use crate::protocol::side::Side;
    use crate::protocol::transport_params::TransportParameters;

    const GREASE: Version = Version::reserved(0x1234_5678);

    /// Has `c` send a (padded) Initial carrying `hello`; returns it.
    fn send_initial(c: &mut TestConn, hello: &[u8]) -> TestResult<Vec<u8>> {
        c.crypto_send(Level::Initial, hello).map_err(|_| "send")?;
        let mut buf = Vec::new();
        buf.extend_with(1500, 0u8, GFP).map_err(|_| "alloc")?;
        let t = c
            .poll_transmit(Instant::ZERO, buf.as_mut_slice())
            .ok_or("nothing sent")?;
        assert!(t.len >= 1200);
        buf.truncate(t.len);
        Ok(buf)
    }

    /// A client that sent its first Initial.
    fn started(config: Config) -> TestResult<BoxedConn> {
        let mut c = client_with(config)?;
        send_initial(&mut c, b"hello")?;
        Ok(c)
    }

    /// Delivers a Version Negotiation packet offering `versions`, addressed
    /// with the given connection IDs.
    fn negotiate_to(
        c: &mut TestConn,
        dcid: &[u8],
        scid: &[u8],
        versions: &[Version],
    ) -> TestResult {
        let mut vn = Vec::new();
        vn.extend_with(64, 0u8, GFP).map_err(|_| "alloc")?;
        let mut w = Writer::new(vn.as_mut_slice());
        VersionNegotiation::encode(&mut w, dcid, scid, 0x40, versions).map_err(|_| "encode")?;
        let n = w.len();
        vn.truncate(n);
        c.handle_datagram(
            Instant::ZERO,
            CLIENT_ADDR,
            SERVER_ADDR,
            EcnCodepoint::NotEct,
            vn.as_mut_slice(),
        );
        Ok(())
    }

    /// Delivers a Version Negotiation packet offering `versions` to `c`.
    fn negotiate(c: &mut TestConn, versions: &[Version]) -> TestResult {
        let (scid, odcid) = (c.local_cid(), c.original_dcid());
        negotiate_to(c, scid.as_slice(), odcid.as_slice(), versions)
    }

    /// A client with `config` whose first attempt met a Version
    /// Negotiation packet offering `offer`, restarted.
    fn restarted(config: Config, offer: &[Version]) -> TestResult<BoxedConn> {
        let mut c = started(config)?;
        negotiate(&mut c, offer)?;
        c.restart_after_version_negotiation(Instant::ZERO)
            .map_err(|_| "restart")?;
        Ok(c)
    }

    /// Hands `c` the server's transport parameters with `info`; returns the
    /// error code it closed with, if any.
    fn server_information(
        c: &mut TestConn,
        info: Option<VersionInformation>,
    ) -> TestResult<Option<TransportErrorCode>> {
        let s = server_for(c)?;
        let mut p: TransportParameters = s.local_params();
        p.version_information = info;
        c.record_peer_initial_scid(s.local_cid());
        let mut buf = Vec::new();
        buf.extend_with(512, 0u8, GFP).map_err(|_| "alloc")?;
        let mut w = Writer::new(buf.as_mut_slice());
        p.encode(None, &mut w).map_err(|_| "encode")?;
        let n = w.len();
        let bytes = buf.get(..n).ok_or("len")?;
        Ok(c.set_peer_transport_parameters(Instant::ZERO, bytes)
            .err()
            .map(|e| e.code))
    }

    fn info(chosen: Version, available: &[u32]) -> Option<VersionInformation> {
        VersionInformation::new(chosen.0, available)
    }

    #[test]
    fn version_negotiation_abandons_the_attempt_and_names_the_version() -> TestResult {
        let mut c = started(config())?;
        negotiate(&mut c, &[GREASE, Version::V2])?;
        assert!(!c.is_closed());
        assert_eq!(
            c.poll_event(),
            Some(Event::VersionNegotiation {
                version: Version::V2
            })
        );
        assert_eq!(c.negotiation_offer(), Some(Version::V2));
        // Nothing of the abandoned attempt goes out any more, and its TLS
        // session may not write.
        let mut buf = Vec::new();
        buf.extend_with(1500, 0u8, GFP).map_err(|_| "alloc")?;
        assert_eq!(c.poll_transmit(Instant::ZERO, buf.as_mut_slice()), None);
        assert_eq!(c.recovery().bytes_in_flight(), 0);
        let late = c.crypto_send(Level::Initial, b"old hello");
        assert_eq!(late, Err(TlsError::AwaitingRestart));
        Ok(())
    }

    /// 0-RTT data of the abandoned attempt is taken back, to go again once
    /// the new attempt can carry it.
    #[test]
    fn zero_rtt_data_of_the_abandoned_attempt_goes_again() -> TestResult {
        use crate::protocol::connection::Direction;
        use crate::protocol::crypto::CipherSuite;
        use crate::protocol::stream::Dir;
        let mut c = client_with(config())?;
        c.set_remembered_transport_parameters(&config().transport)
            .map_err(|_| "remember")?;
        let suite = CipherSuite::Aes128GcmSha256;
        c.install_secret(
            Instant::ZERO,
            Level::ZeroRtt,
            Direction::Send,
            suite,
            &[7; 32],
        )
        .map_err(|_| "early secret")?;
        let id = c.stream_open(Dir::Bi).map_err(|_| "open")?;
        assert_eq!(c.stream_write(id, b"early request", true), Ok(13));
        send_initial(&mut c, b"hello")?;
        assert!(!c.streams().wants_to_send());
        negotiate(&mut c, &[Version::V2])?;
        assert!(!c.is_sending_0rtt());
        assert!(c.streams().wants_to_send());
        assert_eq!(c.recovery().bytes_in_flight(), 0);
        Ok(())
    }

    /// RFC 9000 §6.2: not after any other packet, a Retry included.
    #[test]
    fn version_negotiation_after_another_packet_is_ignored() -> TestResult {
        for retried in [false, true] {
            let mut c = started(config())?;
            if retried {
                c.handshake.retried = true;
            } else {
                c.handshake.heard_from_server = true;
            }
            negotiate(&mut c, &[Version::V2])?;
            assert!(!c.is_closed());
            assert_eq!(c.poll_event(), None);
            assert_eq!(c.negotiation_offer(), None);
        }
        Ok(())
    }

    #[test]
    fn the_restart_speaks_the_new_version() -> TestResult {
        let mut c = restarted(config(), &[Version::V2])?;
        assert_eq!(c.version(), Version::V2);
        // The new ClientHello carries version_information for V2.
        let p = c.local_params();
        let sent = p.version_information.ok_or("no version information")?;
        assert_eq!(sent.chosen(), Version::V2.0);
        assert!(sent.available().contains(&Version::V2.0));
        let sent = send_initial(&mut c, b"hello again")?;
        let version = sent.get(1..5).ok_or("short")?;
        assert_eq!(version, &Version::V2.0.to_be_bytes()[..]);
        // Once only.
        assert!(c.restart_after_version_negotiation(Instant::ZERO).is_err());
        Ok(())
    }

    #[test]
    fn no_restart_without_version_negotiation() -> TestResult {
        let mut c = started(config())?;
        assert!(c.restart_after_version_negotiation(Instant::ZERO).is_err());
        assert_eq!(c.version(), Version::V1);
        Ok(())
    }

    #[test]
    fn version_negotiation_without_a_common_version_closes() -> TestResult {
        let mut c = started(config())?;
        negotiate(&mut c, &[GREASE])?;
        assert!(c.is_drained());
        assert_eq!(c.negotiation_offer(), None);
        let err = c.close_error().copied().ok_or("no error")?;
        assert_eq!(err.cause, CloseCause::VersionNegotiation);
        Ok(())
    }

    #[test]
    fn version_negotiation_listing_our_version_is_ignored() -> TestResult {
        let mut c = started(config())?;
        negotiate(&mut c, &[Version::V2, Version::V1])?;
        assert!(!c.is_closed());
        assert_eq!(c.poll_event(), None);
        Ok(())
    }

    #[test]
    fn version_negotiation_for_other_connection_ids_is_ignored() -> TestResult {
        let mut c = started(config())?;
        let odcid = c.original_dcid();
        negotiate_to(&mut c, &[1, 2, 3], odcid.as_slice(), &[Version::V2])?;
        let scid = c.local_cid();
        negotiate_to(&mut c, scid.as_slice(), &[1, 2, 3], &[Version::V2])?;
        assert_eq!(c.poll_event(), None);
        assert_eq!(c.negotiation_offer(), None);
        Ok(())
    }

    /// RFC 9368 §4: the new attempt ignores Version Negotiation.
    #[test]
    fn the_new_attempt_ignores_version_negotiation() -> TestResult {
        let mut c = restarted(config(), &[Version::V2])?;
        while c.poll_event().is_some() {}
        negotiate(&mut c, &[Version::V1])?;
        assert!(!c.is_closed());
        assert_eq!(c.poll_event(), None);
        assert_eq!(c.version(), Version::V2);
        Ok(())
    }

    /// The server lists the versions it supports: V2 only, so the client,
    /// which prefers V1, would have picked V2 anyway.
    #[test]
    fn genuine_version_negotiation_is_accepted() -> TestResult {
        let mut c = restarted(config(), &[Version::V2])?;
        let got = server_information(&mut c, info(Version::V2, &[Version::V2.0]))?;
        assert_eq!(got, None);
        assert!(!c.is_closed());
        Ok(())
    }

    /// The server supports V1, which the client prefers: the Version
    /// Negotiation packet that drove it to V2 was forged.
    #[test]
    fn a_downgrade_is_refused() -> TestResult {
        let mut c = restarted(config(), &[Version::V2])?;
        let available = [Version::V2.0, Version::V1.0];
        let got = server_information(&mut c, info(Version::V2, &available))?;
        assert_eq!(got, Some(TransportErrorCode::VERSION_NEGOTIATION_ERROR));
        assert!(c.is_closed());
        Ok(())
    }

    #[test]
    fn empty_available_versions_after_negotiation_are_refused() -> TestResult {
        let mut c = restarted(config(), &[Version::V2])?;
        let got = server_information(&mut c, info(Version::V2, &[]))?;
        assert_eq!(got, Some(TransportErrorCode::VERSION_NEGOTIATION_ERROR));
        Ok(())
    }

    #[test]
    fn missing_version_information_after_negotiation_is_refused() -> TestResult {
        let mut c = restarted(config(), &[Version::V2])?;
        let got = server_information(&mut c, None)?;
        assert_eq!(got, Some(TransportErrorCode::VERSION_NEGOTIATION_ERROR));
        Ok(())
    }

    /// RFC 9368 §8: a version 1 server may not send version_information.
    #[test]
    fn a_version_1_server_may_omit_version_information() -> TestResult {
        let mut v2_first = config();
        v2_first.versions = crate::protocol::connection::Versions::V2_V1;
        let mut c = restarted(v2_first, &[Version::V1])?;
        assert_eq!(c.version(), Version::V1);
        let got = server_information(&mut c, None)?;
        assert_eq!(got, None);
        Ok(())
    }

    #[test]
    fn the_chosen_version_must_be_the_negotiated_one() -> TestResult {
        let mut c = restarted(config(), &[Version::V2])?;
        let got = server_information(&mut c, info(Version::V1, &[Version::V2.0]))?;
        assert_eq!(got, Some(TransportErrorCode::VERSION_NEGOTIATION_ERROR));
        Ok(())
    }

    /// Without compatible negotiation, the new attempt offers its own
    /// version alone.
    #[test]
    fn the_restart_offers_its_version_without_compatible_negotiation() -> TestResult {
        let mut only = config();
        only.compatible_version_negotiation = false;
        let c = restarted(only, &[Version::V2])?;
        let sent = c.local_params().version_information.ok_or("none")?;
        assert_eq!(sent.available(), &[Version::V2.0]);
        assert_eq!(c.side(), Side::Client);
        Ok(())
    }
}
