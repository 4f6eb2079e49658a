// SPDX-License-Identifier: GPL-2.0

//! Datagrams in (RFC 9000 §12, §17; RFC 9001 §5).
//!
//! [`Connection::handle_datagram`] attributes the datagram to a path, walks
//! its coalesced packets and, for each, removes header protection, opens it
//! with the keys of its level, drops duplicates, and hands the frames to
//! the dispatcher. Packets that cannot be processed are dropped: bad
//! headers, failed authentication (counted against the integrity limit),
//! levels whose keys are gone. Packets of a level whose keys are not
//! installed yet (a Handshake packet coalesced behind the Initial that
//! carries the ServerHello) are kept, a few, and opened once TLS installs
//! the keys (RFC 9001 §5.7).
//!
//! A datagram in which nothing could be opened may be a stateless reset
//! (RFC 9000 §10.3.1). A client also handles Retry packets here, and hands
//! Version Negotiation packets to `negotiation`; the spin bit of each 1-RTT
//! packet goes to `spin`.

use crate::protocol::ack::EcnCodepoint;
use crate::protocol::alloc::{Vec, GFP};
use crate::protocol::cid::reset::{token_candidate, ResetToken, MIN_STATELESS_RESET_LEN};
use crate::protocol::cid::Generator;
use crate::protocol::connection::event::Event;
use crate::protocol::connection::state::{CloseCause, ConnectionError};
use crate::protocol::connection::tls::space_of;
use crate::protocol::connection::{Connection, State, ZeroRtt};
use crate::protocol::crypto::{CryptoError, Level, PacketKey, Provider};
use crate::protocol::error::{TransportError, TransportErrorCode};
use crate::protocol::frame::{self, Frames};
use crate::protocol::packet::header::{decode, DecodeParams, Packet};
use crate::protocol::packet::protection::{CleartextPacket, ProtectedPacket};
use crate::protocol::packet::retry::Retry;
use crate::protocol::packet::{datagram::Datagram, PacketError, PacketKind};
use crate::protocol::path::{PathId, SocketAddr};
use crate::protocol::time::Instant;

/// Packets waiting for keys, at most.
const MAX_BUFFERED: usize = 8;

/// A packet kept until its level's keys are installed.
#[derive(Debug)]
pub(crate) struct Buffered {
    bytes: Vec<u8>,
    local: SocketAddr,
    remote: SocketAddr,
    ecn: EcnCodepoint,
    level: Level,
}

/// What became of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Authenticated (duplicates included).
    Processed,
    /// Dropped without authentication.
    Dropped,
}

/// The packet kind as the frame rules name it.
const fn frame_kind(kind: PacketKind) -> frame::PacketKind {
    match kind {
        PacketKind::Initial => frame::PacketKind::Initial,
        PacketKind::ZeroRtt => frame::PacketKind::ZeroRtt,
        PacketKind::Handshake => frame::PacketKind::Handshake,
        PacketKind::OneRtt => frame::PacketKind::OneRtt,
    }
}

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Processes a UDP datagram received at `local` from `remote` with the
    /// IP header's `ecn` codepoint. The buffer is decrypted in place.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        data: &mut [u8],
    ) {
        match self.state {
            State::Closed | State::Draining { .. } => return,
            State::Closing { .. } => {
                // Only a known peer gets the close again (RFC 9000 §10.2.1).
                if let Some(c) = self.closing.as_mut() {
                    c.on_packet_received();
                }
                self.update_timers(now);
                return;
            }
            State::Handshake | State::Established => {}
        }
        let len = data.len();
        let reset = token_candidate(data).copied();
        let mut path = self
            .paths
            .on_datagram_received(local, remote, len, false, now);
        if path.is_none() && (self.side.is_client() || !self.handshake.confirmed) {
            return;
        }
        let params = DecodeParams {
            local_cid_len: self.config.cid_len,
            accept_cleared_fixed_bit: self.config.transport.grease_quic_bit,
        };
        let mut any = false;
        for packet in Datagram::new(data, params) {
            let packet = match packet {
                Ok(p) => p,
                Err(PacketError::DcidMismatch) => continue,
                Err(_) => break,
            };
            let outcome = match packet {
                Packet::Protected(p) => {
                    self.on_protected(now, local, remote, ecn, p, &mut path, len)
                }
                Packet::Retry(r) => {
                    self.on_retry(now, &r);
                    Outcome::Dropped
                }
                Packet::VersionNegotiation(vn) => {
                    self.on_version_negotiation(now, &vn, len);
                    Outcome::Dropped
                }
                Packet::UnsupportedVersion(_) => Outcome::Dropped,
            };
            any |= outcome == Outcome::Processed;
            if self.state.is_closed() {
                break;
            }
        }
        if !any {
            if let Some(token) = reset {
                self.check_stateless_reset(now, &token);
            }
        }
        self.after_input(now);
    }

    /// Opens and processes one packet.
    #[allow(clippy::too_many_arguments)]
    fn on_protected(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        packet: ProtectedPacket<'_>,
        path: &mut Option<PathId>,
        datagram_len: usize,
    ) -> Outcome {
        let kind = packet.header().kind;
        let level = kind.level();
        if let Some(v) = packet.header().version {
            if !self.accept_version(v, kind) {
                return Outcome::Dropped;
            }
        }
        if self.keys.is_discarded(level) {
            return Outcome::Dropped;
        }
        if !self.can_open(level) {
            self.buffer(local, remote, ecn, level, packet.as_bytes());
            return Outcome::Dropped;
        }
        let header = packet.header().clone();
        let opened = self.open(now, packet);
        let cleartext = match opened {
            Ok(p) => p,
            Err(e) => {
                self.on_open_error(now, level, e);
                return Outcome::Dropped;
            }
        };
        if path.is_none() {
            *path = self
                .paths
                .on_datagram_received(local, remote, datagram_len, true, now);
        }
        let Some(path_id) = *path else {
            return Outcome::Dropped;
        };
        let space = space_of(level);
        let pn = cleartext.pn();
        let spin = cleartext.spin();
        if self
            .spaces
            .get(space.index())
            .is_none_or(|s| s.ack.is_duplicate(pn))
        {
            return Outcome::Processed;
        }
        if self.side.is_client() && kind != PacketKind::OneRtt && !self.handshake.heard_from_server
        {
            self.handshake.heard_from_server = true;
            self.record_peer_initial_scid(header.scid);
            self.peer_cids.on_handshake_source_cid(header.scid);
        }
        let payload = cleartext.payload();
        let mut ack_eliciting = false;
        let mut non_probing = false;
        for frame in Frames::in_packet(payload, frame_kind(kind)) {
            let result = frame.and_then(|f| {
                ack_eliciting |= f.is_ack_eliciting();
                non_probing |= !f.is_probing();
                self.on_frame(now, level, path_id, &header.dcid, f)
            });
            if let Err(e) = result {
                self.close_on_error(now, e);
                return Outcome::Processed;
            }
            if self.state.is_closed() {
                return Outcome::Processed;
            }
        }
        if let Some(s) = self.spaces.get_mut(space.index()) {
            if s.ack
                .on_packet_received(pn, ack_eliciting, ecn, now)
                .is_err()
            {
                self.close_on_error(now, TransportError::internal("out of memory"));
                return Outcome::Processed;
            }
        }
        if kind == PacketKind::OneRtt {
            self.paths.on_packet_received(path_id, pn, non_probing, now);
            self.on_spin_received(path_id, pn, spin);
        }
        if kind == PacketKind::Handshake {
            self.on_handshake_packet(false, now);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-10.1
        //# An endpoint restarts its idle timer when a packet from its peer is
        //# received and processed successfully.
        self.reset_idle_timer(now);
        Outcome::Processed
    }

    /// Whether a long header packet of `version` belongs to this
    /// connection; a client follows a compatible version switch of the
    /// server on its first packet (RFC 9368 §2.3).
    fn accept_version(
        &mut self,
        version: crate::protocol::packet::version::Version,
        kind: PacketKind,
    ) -> bool {
        if version == self.version {
            return true;
        }
        let other = self.keys.initial_other.as_ref().map(|k| k.version);
        if kind == PacketKind::Initial && other == Some(version) {
            return true;
        }
        if self.side.is_client()
            && !self.handshake.heard_from_server
            && kind == PacketKind::Initial
            && self.config.compatible_version_negotiation
            && self.config.offered_versions().contains(&version)
        {
            self.switch_version(version);
            return self.version == version;
        }
        // A server accepts the client's original version until it switches.
        self.side.is_server() && version == self.original_version
    }

    /// Whether the keys to open `level` are installed.
    fn can_open(&self, level: Level) -> bool {
        match level {
            Level::Initial => self.keys.initial.is_some(),
            Level::ZeroRtt => {
                self.side.is_server()
                    && self.handshake.zero_rtt == ZeroRtt::Accepting
                    && self.keys.zero_rtt.is_some()
            }
            Level::Handshake => self.keys.handshake_recv.is_some(),
            //= https://www.rfc-editor.org/rfc/rfc9001#section-5.7
            //# Even though 1-RTT keys are available to a server after receiving
            //# the first handshake messages from a client, it is missing assurances
            //# on the client state:
            Level::OneRtt => {
                self.keys.one_rtt.is_some() && (self.side.is_client() || self.handshake.complete)
            }
        }
    }

    /// Removes header protection and decrypts with the keys of the
    /// packet's level.
    fn open<'a>(
        &mut self,
        now: Instant,
        packet: ProtectedPacket<'a>,
    ) -> Result<CleartextPacket<'a>, PacketError> {
        let kind = packet.header().kind;
        let space = space_of(kind.level());
        let largest = self
            .spaces
            .get(space.index())
            .and_then(|s| s.ack.largest_received());
        let version = packet.header().version;
        let provider = &self.provider;
        let crypto = PacketError::Crypto(CryptoError::Internal);
        match kind {
            PacketKind::OneRtt => {
                let keys = self.keys.one_rtt.as_mut().ok_or(crypto)?;
                let phase = keys.key_phase();
                let encrypted =
                    packet.remove_header_protection(keys.remote_header_key(), largest)?;
                let clear = encrypted.decrypt_one_rtt(keys, provider, now)?;
                if keys.key_phase() != phase {
                    let phase = keys.key_phase();
                    self.events.push(Event::KeyUpdate { phase });
                }
                Ok(clear)
            }
            PacketKind::Initial => {
                let keys = [self.keys.initial.as_ref(), self.keys.initial_other.as_ref()]
                    .into_iter()
                    .flatten()
                    .find(|k| Some(k.version) == version)
                    .ok_or(crypto)?;
                let remote = &keys.keys.remote;
                packet
                    .remove_header_protection(&remote.header, largest)?
                    .decrypt(&remote.packet)
            }
            PacketKind::ZeroRtt => {
                let keys = self.keys.zero_rtt.as_ref().ok_or(crypto)?;
                packet
                    .remove_header_protection(&keys.header, largest)?
                    .decrypt(&keys.packet)
            }
            PacketKind::Handshake => {
                let keys = self.keys.handshake_recv.as_ref().ok_or(crypto)?;
                packet
                    .remove_header_protection(&keys.header, largest)?
                    .decrypt(&keys.packet)
            }
        }
    }

    fn on_open_error(&mut self, now: Instant, level: Level, e: PacketError) {
        if e == PacketError::Crypto(CryptoError::AuthenticationFailed) {
            let suite = match level {
                Level::OneRtt => self.keys.one_rtt.as_ref().map(|k| k.suite()),
                Level::Handshake => self.keys.handshake_recv.as_ref().map(|k| k.packet.suite()),
                Level::ZeroRtt => self.keys.zero_rtt.as_ref().map(|k| k.packet.suite()),
                Level::Initial => None,
            };
            if let Some(suite) = suite {
                if let Err(e) = self.integrity.on_authentication_failure(suite) {
                    if let Some(err) = e.transport_error() {
                        self.close_on_error(now, err);
                    }
                }
            }
            return;
        }
        if let Some(err) = e.transport_error() {
            self.close_on_error(now, err);
        }
    }

    /// Keeps a packet whose keys are not installed yet.
    fn buffer(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        level: Level,
        bytes: &[u8],
    ) {
        // 0-RTT packets wait only while the server may still accept them.
        if level == Level::ZeroRtt
            && (self.side.is_client() || self.handshake.zero_rtt == ZeroRtt::Rejected)
        {
            return;
        }
        if self.undecryptable.len() >= MAX_BUFFERED {
            return;
        }
        let mut copy = Vec::new();
        if copy.extend_from_slice(bytes, GFP).is_err() {
            return;
        }
        let _ = self.undecryptable.push(
            Buffered {
                bytes: copy,
                local,
                remote,
                ecn,
                level,
            },
            GFP,
        );
    }

    /// Processes the kept packets whose keys are now installed.
    pub(crate) fn process_buffered(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.undecryptable.len() {
            let ready = self
                .undecryptable
                .get(i)
                .is_some_and(|b| self.can_open(b.level) || self.keys.is_discarded(b.level));
            if !ready {
                i += 1;
                continue;
            }
            let Ok(mut b) = self.undecryptable.remove(i) else {
                break;
            };
            if self.keys.is_discarded(b.level) {
                continue;
            }
            let params = DecodeParams {
                local_cid_len: self.config.cid_len,
                accept_cleared_fixed_bit: self.config.transport.grease_quic_bit,
            };
            let len = b.bytes.len();
            if let Ok((Packet::Protected(p), _)) = decode(b.bytes.as_mut_slice(), &params) {
                let mut path = self
                    .paths
                    .on_datagram_received(b.local, b.remote, 0, false, now);
                self.on_protected(now, b.local, b.remote, b.ecn, p, &mut path, len);
            }
            if self.state.is_closed() {
                return;
            }
        }
    }

    /// A datagram nothing in which could be opened: a stateless reset if it
    /// ends in the token of a connection ID in use (RFC 9000 §10.3.1).
    fn check_stateless_reset(&mut self, now: Instant, tail: &[u8; ResetToken::LEN]) {
        let mut probe = [0u8; MIN_STATELESS_RESET_LEN];
        if let Some(dst) = probe.get_mut(MIN_STATELESS_RESET_LEN - ResetToken::LEN..) {
            dst.copy_from_slice(tail);
        }
        if self.peer_cids.is_stateless_reset(&probe) {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-10.3.1
            //# If the last 16 bytes of the datagram are identical in value to a
            //# stateless reset token, the endpoint MUST enter the draining period
            //# and not send any further packets on this connection.
            let err = ConnectionError::silent(
                CloseCause::StatelessReset,
                TransportErrorCode::NO_ERROR,
                true,
            );
            self.enter_draining(now, err);
        }
    }

    /// A Retry packet (RFC 9000 §17.2.5.2): the client starts over with the
    /// server's connection ID and token, keeping its packet numbers.
    fn on_retry(&mut self, now: Instant, retry: &Retry<'_>) {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-17.2.5.2
        //# A client MUST accept and process at most one Retry packet for each
        //# connection attempt.  After the client has received and processed an
        //# Initial or Retry packet from the server, it MUST discard any
        //# subsequent Retry packets that it receives.
        if self.side.is_server() || self.handshake.retried || self.handshake.heard_from_server {
            return;
        }
        if retry.version != self.version || retry.dcid != self.local_cid() {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-17.2.5.2
        //# Clients MUST discard Retry packets that have a Retry Integrity Tag
        //# that cannot be validated
        if retry
            .verify(&self.provider, &self.cids.original_dcid)
            .is_err()
        {
            return;
        }
        let mut token = Vec::new();
        if token.extend_from_slice(retry.token, GFP).is_err() {
            return;
        }
        if self
            .keys
            .reset_initial(
                &self.provider,
                self.version,
                retry.scid.as_slice(),
                self.side,
            )
            .is_err()
        {
            return;
        }
        self.handshake.retried = true;
        self.token = token;
        self.cids.retry_scid = Some(retry.scid);
        self.cids.initial_dcid = retry.scid;
        self.peer_cids.on_handshake_source_cid(retry.scid);
        // Everything sent so far goes again, in new Initial packets with
        // the same CRYPTO data and higher packet numbers (RFC 9002 §6.3).
        let settled = &mut self.settled;
        self.recovery.on_retry(&mut |s| {
            let _ = settled.push(s, GFP);
        });
        self.process_settled(now);
    }

    /// The AEAD used on 1-RTT packets, once known.
    pub fn one_rtt_suite(&self) -> Option<crate::protocol::crypto::CipherSuite> {
        self.keys.one_rtt.as_ref().map(|k| k.suite())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_recv))]
mod tests {
    use super::*;
    use crate::protocol::alloc::Box;
    use crate::protocol::connection::testing::{
        config, Pair, TestConn, TestResult, CLIENT, CLIENT_ADDR, SERVER, SERVER_ADDR,
    };
    use core::time::Duration;

    /// A pair past its handshake.
    fn established() -> TestResult<Box<Pair>> {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        Ok(p)
    }

    /// A stateless reset for the server's handshake connection ID: its
    /// token ends the datagram (TestGen's tokens repeat the ID's last byte
    /// with the generator's tag).
    fn stateless_reset(p: &mut Pair) -> TestResult<Vec<u8>> {
        let scid = p.conn(SERVER)?.local_cid();
        let last = scid.as_slice().last().copied().ok_or("empty cid")?;
        let mut reset = Vec::new();
        reset.extend_with(40, 0x55u8, GFP).map_err(|_| "alloc")?;
        reset[0] = 0x43;
        for b in reset.iter_mut().skip(24) {
            *b = last ^ 0x5e;
        }
        Ok(reset)
    }

    /// Hands `bytes` to the client as if sent from `from`.
    fn to_client<'p>(
        p: &'p mut Pair,
        from: SocketAddr,
        bytes: &mut [u8],
    ) -> TestResult<&'p mut TestConn> {
        let now = p.now;
        let c = p.conn(CLIENT)?;
        c.handle_datagram(now, CLIENT_ADDR, from, EcnCodepoint::NotEct, bytes);
        Ok(c)
    }

    #[test]
    fn stateless_reset_drains() -> TestResult {
        let mut p = established()?;
        let mut reset = stateless_reset(&mut p)?;
        let c = to_client(&mut p, SERVER_ADDR, reset.as_mut_slice())?;
        assert!(matches!(c.state(), State::Draining { .. }));
        let err = c.close_error().copied().ok_or("no error")?;
        assert_eq!(err.cause, CloseCause::StatelessReset);
        assert!(err.by_peer);
        Ok(())
    }

    #[test]
    fn garbage_is_ignored() -> TestResult {
        let mut p = established()?;
        let mut junk = Vec::new();
        junk.extend_with(60, 0x41u8, GFP).map_err(|_| "alloc")?;
        let c = to_client(&mut p, SERVER_ADDR, junk.as_mut_slice())?;
        assert_eq!(c.state(), State::Established);
        Ok(())
    }

    #[test]
    fn client_ignores_unknown_server_addresses() -> TestResult {
        let mut p = established()?;
        // Even a valid stateless reset does not count from there.
        let mut reset = stateless_reset(&mut p)?;
        let other = SocketAddr::new(SERVER_ADDR.ip(), 444);
        let c = to_client(&mut p, other, reset.as_mut_slice())?;
        assert_eq!(c.state(), State::Established);
        p.run_for(Duration::from_millis(100))?;
        assert_eq!(p.conn(CLIENT)?.state(), State::Established);
        Ok(())
    }
}
