// SPDX-License-Identifier: GPL-2.0

//! The TLS side of the connection, without TLS (RFC 9001 §4).
//!
//! TLS runs outside the core. It exchanges CRYPTO stream bytes per
//! encryption level ([`Connection::crypto_recv`],
//! [`Connection::crypto_send`]), installs its traffic secrets
//! ([`Connection::install_secret`]) and reports the end of the handshake
//! ([`Connection::tls_handshake_done`]). This file turns those calls into
//! handshake progress:
//!
//! - the handshake is *complete* once TLS is done and both 1-RTT secrets
//!   are installed (§4.1.1);
//! - it is *confirmed* at completion for a server and on HANDSHAKE_DONE for
//!   a client (§4.1.2), which discards the Handshake keys (§4.9.2) and
//!   permits key updates;
//! - Initial keys go when a client first sends a Handshake packet and when
//!   a server first processes one (§4.9.1);
//! - 0-RTT keys go when 1-RTT keys arrive (client) or at confirmation
//!   (server) (§4.9.3).

use crate::protocol::cid::Generator;
use crate::protocol::connection::event::Event;
use crate::protocol::connection::keys::Direction;
use crate::protocol::connection::{Connection, State, ZeroRtt};
use crate::protocol::crypto::{CipherSuite, CryptoError, Level, Provider, Secret};
use crate::protocol::recovery::PacketNumberSpace;
use crate::protocol::time::Instant;

/// Why a TLS call was refused. None of these close the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsError {
    /// No CRYPTO stream at this level (0-RTT), or its keys are gone.
    InvalidLevel,
    /// The secret cannot be installed: Initial keys come from the
    /// connection ID, a secret of the wrong length, a direction the level
    /// does not have, or a level already discarded.
    InvalidSecret(CryptoError),
    /// The connection is closed.
    Closed,
    /// Version Negotiation abandoned the attempt: call
    /// `Connection::restart_after_version_negotiation` first.
    AwaitingRestart,
    /// Out of memory.
    OutOfMemory,
}

/// The CRYPTO stream index of a level (0-RTT has none).
pub(crate) const fn crypto_index(level: Level) -> Option<usize> {
    match level {
        Level::Initial => Some(0),
        Level::Handshake => Some(1),
        Level::OneRtt => Some(2),
        Level::ZeroRtt => None,
    }
}

/// The packet number space of a level.
pub(crate) const fn space_of(level: Level) -> PacketNumberSpace {
    match level {
        Level::Initial => PacketNumberSpace::Initial,
        Level::Handshake => PacketNumberSpace::Handshake,
        Level::ZeroRtt | Level::OneRtt => PacketNumberSpace::ApplicationData,
    }
}

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Reads CRYPTO data the peer sent at `level`, in order, into `buf`.
    /// Returns the number of bytes copied; zero when nothing is readable.
    pub fn crypto_recv(&mut self, level: Level, buf: &mut [u8]) -> Result<usize, TlsError> {
        let i = crypto_index(level).ok_or(TlsError::InvalidLevel)?;
        let stream = self.crypto.get_mut(i).ok_or(TlsError::InvalidLevel)?;
        Ok(stream.read(buf))
    }

    /// How many CRYPTO bytes the peer sent at `level` are readable.
    pub fn crypto_readable(&self, level: Level) -> u64 {
        crypto_index(level)
            .and_then(|i| self.crypto.get(i))
            .map_or(0, |s| s.readable())
    }

    /// Queues `data` that TLS wrote at `level` for sending in CRYPTO frames.
    /// Returns how many bytes were taken (all of them unless the CRYPTO
    /// send buffer is full).
    pub fn crypto_send(&mut self, level: Level, data: &[u8]) -> Result<usize, TlsError> {
        if self.state.is_closed() {
            return Err(TlsError::Closed);
        }
        if self.awaiting_restart() {
            return Err(TlsError::AwaitingRestart);
        }
        let i = crypto_index(level).ok_or(TlsError::InvalidLevel)?;
        if self.keys.is_discarded(level) {
            return Err(TlsError::InvalidLevel);
        }
        let stream = self.crypto.get_mut(i).ok_or(TlsError::InvalidLevel)?;
        stream
            .write(data, &mut self.crypto_budget)
            .map_err(|_| TlsError::OutOfMemory)
    }

    /// Installs the traffic secret TLS derived for `level` and `direction`.
    ///
    /// Initial secrets are refused: they come from the connection ID. The
    /// 1-RTT keys are ready once both directions are installed; with TLS
    /// done, that completes the handshake.
    pub fn install_secret(
        &mut self,
        now: Instant,
        level: Level,
        direction: Direction,
        suite: CipherSuite,
        secret: &[u8],
    ) -> Result<(), TlsError> {
        if self.state.is_closed() {
            return Err(TlsError::Closed);
        }
        let secret = Secret::new(suite.hash(), secret).map_err(TlsError::InvalidSecret)?;
        let one_rtt_ready = self
            .keys
            .install(
                &self.provider,
                self.version,
                level,
                direction,
                suite,
                &secret,
            )
            .map_err(TlsError::InvalidSecret)?;
        if level == Level::ZeroRtt {
            self.handshake.zero_rtt = match self.side {
                crate::protocol::side::Side::Client => ZeroRtt::Sending,
                crate::protocol::side::Side::Server => ZeroRtt::Accepting,
            };
        }
        if one_rtt_ready {
            self.on_one_rtt_keys(now);
        }
        self.process_buffered(now);
        self.after_input(now);
        Ok(())
    }

    /// TLS reports the handshake complete (it sent or verified Finished).
    pub fn tls_handshake_done(&mut self, now: Instant) {
        self.handshake.tls_done = true;
        self.maybe_complete(now);
        self.process_buffered(now);
        self.after_input(now);
    }

    /// TLS reports that the server rejected 0-RTT (client) or this server
    /// refuses it: 0-RTT packets are dropped, and a client sends their data
    /// again in 1-RTT packets without a congestion signal (RFC 9002 §6.4).
    pub fn zero_rtt_rejected(&mut self, now: Instant) {
        let was = self.handshake.zero_rtt;
        self.handshake.zero_rtt = ZeroRtt::Rejected;
        self.keys.discard(Level::ZeroRtt);
        if self.side.is_client() && matches!(was, ZeroRtt::Sending | ZeroRtt::Accepted) {
            let settled = &mut self.settled;
            self.recovery.on_0rtt_rejected(now, &mut |s| {
                let _ = settled.push(s, crate::protocol::alloc::GFP);
            });
            self.process_settled(now);
        }
        self.update_timers(now);
    }

    /// Whether the client's 0-RTT data can be sent (early keys installed,
    /// not rejected, 1-RTT not ready yet).
    pub fn is_sending_0rtt(&self) -> bool {
        self.handshake.zero_rtt == ZeroRtt::Sending && self.keys.can_send(Level::ZeroRtt)
    }

    fn on_one_rtt_keys(&mut self, now: Instant) {
        if self.side.is_client() {
            //= https://www.rfc-editor.org/rfc/rfc9001#section-4.9.3
            //# Therefore, a client SHOULD discard 0-RTT keys as soon as it installs
            //# 1-RTT keys as they have no use after that moment.
            if self.handshake.zero_rtt == ZeroRtt::Sending {
                self.handshake.zero_rtt = ZeroRtt::Accepted;
            }
            self.keys.discard(Level::ZeroRtt);
        }
        // New connection IDs go out as soon as 1-RTT packets can.
        if let Err(e) = self.local_cids.replenish(&mut self.gen) {
            self.close_on_error(now, e);
        }
        self.maybe_complete(now);
    }

    fn maybe_complete(&mut self, now: Instant) {
        if self.handshake.complete || !self.handshake.tls_done || self.keys.one_rtt.is_none() {
            return;
        }
        self.handshake.complete = true;
        if self.state == State::Handshake {
            self.state = State::Established;
        }
        self.events.push(Event::Connected);
        //= https://www.rfc-editor.org/rfc/rfc9001#section-4.1.2
        //# the TLS handshake is considered confirmed at the
        //# server when the handshake completes.
        if self.side.is_server() {
            self.handshake.done_pending = true;
            self.on_handshake_confirmed(now);
        }
    }

    /// The handshake is confirmed: Handshake keys go, key updates and
    /// migration are allowed (RFC 9001 §4.1.2, §4.9.2).
    pub(crate) fn on_handshake_confirmed(&mut self, now: Instant) {
        if self.handshake.confirmed {
            return;
        }
        self.handshake.confirmed = true;
        self.discard_level(Level::Initial, now);
        //= https://www.rfc-editor.org/rfc/rfc9001#section-4.9.2
        //# An endpoint MUST discard its Handshake keys when the TLS handshake is
        //# confirmed
        self.discard_level(Level::Handshake, now);
        if self.side.is_server() {
            self.keys.discard(Level::ZeroRtt);
        }
        if let Some(keys) = self.keys.one_rtt.as_mut() {
            keys.on_handshake_confirmed();
        }
        self.recovery.on_handshake_confirmed(now);
        self.paths.on_handshake_confirmed(now);
        self.events.push(Event::HandshakeConfirmed);
        self.start_preferred_address_migration(now);
    }

    /// Drops the keys, CRYPTO stream and packets of `level` (Initial or
    /// Handshake).
    pub(crate) fn discard_level(&mut self, level: Level, now: Instant) {
        if self.keys.is_discarded(level) {
            return;
        }
        self.keys.discard(level);
        let space = space_of(level);
        if let Some(stream) = crypto_index(level).and_then(|i| self.crypto.get_mut(i)) {
            stream.discard(&mut self.crypto_budget);
        }
        self.recovery.discard_space(space, now);
        self.pool.discard_space(space);
        if let Some(s) = self.spaces.get_mut(space.index()) {
            s.ping = 0;
        }
        self.timers
            .stop(crate::protocol::connection::Timer::ack(space.index()));
    }

    /// Called when a Handshake packet was sent (client) or processed
    /// (server): the Initial keys are no longer needed (RFC 9001 §4.9.1).
    pub(crate) fn on_handshake_packet(&mut self, sent: bool, now: Instant) {
        //= https://www.rfc-editor.org/rfc/rfc9001#section-4.9.1
        //# Thus, a client MUST discard Initial keys when it first sends a
        //# Handshake packet and a server MUST discard Initial keys when it first
        //# successfully processes a Handshake packet.
        let discard = if sent {
            self.handshake.sent_handshake = true;
            self.side.is_client()
        } else {
            self.handshake.received_handshake = true;
            self.side.is_server()
        };
        if discard {
            self.discard_level(Level::Initial, now);
        }
        if !sent && self.side.is_server() {
            // A Handshake packet proves the client's address (§8.1).
            self.on_peer_address_validated(now);
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_tls))]
mod tests {
    use super::*;
    use crate::protocol::connection::testing::{client, config, Pair, TestResult, CLIENT, SERVER};

    const SUITE: CipherSuite = CipherSuite::Aes128GcmSha256;

    #[test]
    fn initial_secrets_come_from_the_connection_id() -> TestResult {
        let mut c = client()?;
        let r = c.install_secret(
            Instant::ZERO,
            Level::Initial,
            Direction::Send,
            SUITE,
            &[1; 32],
        );
        assert!(matches!(r, Err(TlsError::InvalidSecret(_))));
        // A secret of the wrong length for the suite.
        let r = c.install_secret(
            Instant::ZERO,
            Level::Handshake,
            Direction::Send,
            SUITE,
            &[1; 48],
        );
        assert!(matches!(r, Err(TlsError::InvalidSecret(_))));
        assert_eq!(
            c.crypto_send(Level::ZeroRtt, b"x"),
            Err(TlsError::InvalidLevel)
        );
        Ok(())
    }

    #[test]
    fn complete_needs_tls_and_both_one_rtt_secrets() -> TestResult {
        let mut c = client()?;
        let now = Instant::ZERO;
        c.tls_handshake_done(now);
        assert!(!c.is_handshake_complete());
        c.install_secret(now, Level::OneRtt, Direction::Send, SUITE, &[3; 32])
            .map_err(|_| "send secret")?;
        assert!(!c.is_handshake_complete());
        c.install_secret(now, Level::OneRtt, Direction::Recv, SUITE, &[4; 32])
            .map_err(|_| "recv secret")?;
        assert!(c.is_handshake_complete());
        // A client is not confirmed before HANDSHAKE_DONE.
        assert!(!c.is_handshake_confirmed());
        assert_eq!(c.poll_event(), Some(Event::Connected));
        Ok(())
    }

    #[test]
    fn server_confirms_on_completion_and_sends_handshake_done() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        assert!(p.saw(SERVER, &Event::HandshakeConfirmed));
        // The client was confirmed by the server's HANDSHAKE_DONE.
        assert!(p.conn(CLIENT)?.is_handshake_confirmed());
        assert!(!p.conn(SERVER)?.handshake.done_pending);
        Ok(())
    }

    #[test]
    fn discarded_levels_refuse_crypto() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let c = p.conn(CLIENT)?;
        assert_eq!(
            c.crypto_send(Level::Handshake, b"late"),
            Err(TlsError::InvalidLevel)
        );
        assert_eq!(c.crypto_send(Level::OneRtt, b"fine"), Ok(4));
        Ok(())
    }
}
