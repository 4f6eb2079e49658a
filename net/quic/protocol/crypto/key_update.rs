// SPDX-License-Identifier: GPL-2.0

//! 1-RTT keys and key update (RFC 9001 §6).
//!
//! [`OneRttKeys`] holds, for the application data space:
//!
//! - the header protection keys, which never change;
//! - the current send and receive AEADs, used with the current Key Phase;
//! - the next send and receive AEADs, derived in advance so that trying them
//!   on a packet with a flipped Key Phase bit takes the same time as the
//!   current ones (§6.3) and a forged flip costs no derivation;
//! - the previous receive AEAD, for packets delayed across an update, until
//!   the caller discards it about three PTOs after the update (§6.5).
//!
//! Both peers' updates go through the same promotion: next becomes current,
//! current receive becomes previous, and a new next generation is derived
//! with "quic ku" (or "quicv2 ku"). An endpoint may initiate an update only
//! once the handshake is confirmed and a packet it sent in the current phase
//! was acknowledged (§6.1). It also counts the packets sealed with each key
//! against the confidentiality limit (§6.6).

use crate::protocol::crypto::schedule::{header_key, next_secret, packet_key};
use crate::protocol::crypto::{CipherSuite, CryptoError, PacketKey, Provider, Secret};
use crate::protocol::packet::version::Version;
use crate::protocol::time::Instant;
use core::time::Duration;

/// The 1-RTT keys of a connection, with key update. See the module docs.
pub struct OneRttKeys<P: Provider> {
    version: Version,
    suite: CipherSuite,
    local_header: P::HeaderKey,
    remote_header: P::HeaderKey,
    /// The Key Phase bit of the current keys.
    phase: bool,
    send: P::PacketKey,
    recv: P::PacketKey,
    next_send: P::PacketKey,
    next_recv: P::PacketKey,
    /// The secrets `next_send` and `next_recv` were derived from.
    next_local_secret: Secret,
    next_remote_secret: Secret,
    prev_recv: Option<P::PacketKey>,
    /// When the first packet under the current receive keys arrived, while
    /// `prev_recv` is kept: the start of the retention period.
    prev_since: Option<Instant>,
    /// Packets sealed with `send`.
    sealed: u64,
    /// The lowest packet number sent with the current keys.
    first_sent_pn: Option<u64>,
    /// The lowest packet number received with the current keys.
    first_recv_pn: Option<u64>,
    /// The highest packet number successfully opened, in any phase.
    largest_recv_pn: Option<u64>,
    /// The handshake is confirmed (RFC 9001 §4.1.2).
    confirmed: bool,
    /// A packet sent with the current keys was acknowledged.
    phase_acked: bool,
}

/// Which receive key a packet is opened with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Generation {
    Previous,
    Current,
    Next,
}

impl<P: Provider> OneRttKeys<P> {
    /// Derives the first 1-RTT keys (Key Phase 0) from the TLS application
    /// traffic secrets: `local` for what this endpoint sends, `remote` for
    /// what it receives.
    pub fn new(
        provider: &P,
        version: Version,
        suite: CipherSuite,
        local: &Secret,
        remote: &Secret,
    ) -> Result<Self, CryptoError> {
        let next_local_secret = next_secret(provider, version, local)?;
        let next_remote_secret = next_secret(provider, version, remote)?;
        Ok(Self {
            version,
            suite,
            local_header: header_key(provider, version, suite, local)?,
            remote_header: header_key(provider, version, suite, remote)?,
            phase: false,
            send: packet_key(provider, version, suite, local)?,
            recv: packet_key(provider, version, suite, remote)?,
            next_send: packet_key(provider, version, suite, &next_local_secret)?,
            next_recv: packet_key(provider, version, suite, &next_remote_secret)?,
            next_local_secret,
            next_remote_secret,
            prev_recv: None,
            prev_since: None,
            sealed: 0,
            first_sent_pn: None,
            first_recv_pn: None,
            largest_recv_pn: None,
            confirmed: false,
            phase_acked: false,
        })
    }

    /// The cipher suite.
    pub const fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// The Key Phase bit to send, and of the current receive keys.
    pub const fn key_phase(&self) -> bool {
        self.phase
    }

    /// The header protection key for sending.
    pub const fn local_header_key(&self) -> &P::HeaderKey {
        &self.local_header
    }

    /// The header protection key for receiving.
    pub const fn remote_header_key(&self) -> &P::HeaderKey {
        &self.remote_header
    }

    /// Packets sealed with the current send key.
    pub const fn packets_sealed(&self) -> u64 {
        self.sealed
    }

    /// Whether the previous receive keys are still kept.
    pub const fn has_previous_keys(&self) -> bool {
        self.prev_recv.is_some()
    }

    /// Seals a packet with the current send key (see [`PacketKey::seal`]).
    /// The header must carry [`OneRttKeys::key_phase`].
    ///
    /// Fails with [`CryptoError::AeadLimitReached`] once the key sealed as
    /// many packets as its confidentiality limit allows: the caller should
    /// have initiated a key update when [`OneRttKeys::should_update`] said so.
    pub fn seal(&mut self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<(), CryptoError> {
        //= https://www.rfc-editor.org/rfc/rfc9001#section-6.6
        //# If the total number of encrypted packets with the same key exceeds the
        //# confidentiality limit for the selected AEAD, the endpoint MUST stop using those
        //# keys.
        if self.sealed >= self.suite.confidentiality_limit() {
            return Err(CryptoError::AeadLimitReached);
        }
        self.send.seal(pn, header, payload)?;
        self.sealed += 1;
        self.first_sent_pn.get_or_insert(pn);
        Ok(())
    }

    /// Opens a packet whose header protection was removed, revealing `pn`
    /// and `key_phase`, with the receive key they select (RFC 9001 §6.3,
    /// §6.5). Returns the plaintext length.
    ///
    /// A packet that opens with the next keys is the peer's key update: this
    /// endpoint follows it, so its next packets use the new keys. Fails with
    /// [`CryptoError::AuthenticationFailed`] (drop the packet and count it
    /// against the integrity limit) or [`CryptoError::KeyUpdate`] (close the
    /// connection with KEY_UPDATE_ERROR).
    pub fn open(
        &mut self,
        provider: &P,
        now: Instant,
        pn: u64,
        key_phase: bool,
        header: &[u8],
        payload: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let generation = if key_phase == self.phase {
            Generation::Current
        } else if self.prev_recv.is_some() && self.first_recv_pn.is_none_or(|first| pn < first) {
            //= https://www.rfc-editor.org/rfc/rfc9001#section-6.5
            //# A recovered packet number
            //# that is lower than any packet number from the current key phase uses the
            //# previous packet protection keys
            Generation::Previous
        } else {
            Generation::Next
        };
        let key = match generation {
            Generation::Current => &self.recv,
            Generation::Next => &self.next_recv,
            Generation::Previous => self.prev_recv.as_ref().ok_or(CryptoError::Internal)?,
        };
        let len = key.open(pn, header, payload)?;
        match generation {
            Generation::Previous => {}
            Generation::Current => {
                if self.first_recv_pn.is_none() && self.prev_recv.is_some() {
                    // The peer answered our update: old keys go in 3 PTOs.
                    self.prev_since = Some(now);
                }
                self.first_recv_pn = Some(self.first_recv_pn.map_or(pn, |f| f.min(pn)));
            }
            Generation::Next => {
                //= https://www.rfc-editor.org/rfc/rfc9001#section-6.4
                //# Packets with higher packet numbers MUST be protected with either the same or
                //# newer packet protection keys than packets with lower packet numbers.
                if self.largest_recv_pn.is_some_and(|largest| pn < largest) {
                    return Err(CryptoError::KeyUpdate);
                }
                // The peer may only update once we acknowledged one of its
                // packets of the current phase, in a packet sent with the
                // current keys: without one, this is an update too many.
                //= https://www.rfc-editor.org/rfc/rfc9001#section-6.2
                //# An endpoint
                //# MAY treat such consecutive key updates as a connection error of type
                //# KEY_UPDATE_ERROR.
                if self.first_sent_pn.is_none() {
                    return Err(CryptoError::KeyUpdate);
                }
                self.promote(provider)?;
                self.first_recv_pn = Some(pn);
                self.prev_since = Some(now);
            }
        }
        self.largest_recv_pn = Some(self.largest_recv_pn.map_or(pn, |l| l.max(pn)));
        Ok(len)
    }

    /// Records that the handshake is confirmed, which permits key updates.
    pub fn on_handshake_confirmed(&mut self) {
        self.confirmed = true;
    }

    /// Records the largest packet number the peer acknowledged in the
    /// application data space.
    pub fn on_ack_received(&mut self, largest_acked: u64) {
        if self
            .first_sent_pn
            .is_some_and(|first| largest_acked >= first)
        {
            self.phase_acked = true;
        }
    }

    /// Whether this endpoint may initiate a key update now.
    //= https://www.rfc-editor.org/rfc/rfc9001#section-6.1
    //# An endpoint MUST NOT initiate a subsequent
    //# key update unless it has received an acknowledgment for a packet that was sent
    //# protected with keys from the current key phase.
    pub const fn can_initiate_update(&self) -> bool {
        self.confirmed && self.phase_acked
    }

    /// Whether the send key has been used enough that a key update should be
    /// initiated now, leaving a quarter of the confidentiality limit for the
    /// update to be permitted (RFC 9001 §6.6).
    pub const fn should_update(&self) -> bool {
        let limit = self.suite.confidentiality_limit();
        self.sealed >= limit - limit / 4
    }

    /// Initiates a key update: the next packets are sent, and expected, with
    /// the next keys and the flipped Key Phase bit (RFC 9001 §6.1). Fails
    /// with [`CryptoError::KeyUpdateNotPermitted`] unless
    /// [`OneRttKeys::can_initiate_update`].
    pub fn initiate_update(&mut self, provider: &P) -> Result<(), CryptoError> {
        if !self.can_initiate_update() {
            return Err(CryptoError::KeyUpdateNotPermitted);
        }
        self.promote(provider)
    }

    /// When the previous receive keys should be discarded: three PTOs after
    /// the first packet protected with the current keys was received
    /// (RFC 9001 §6.5). `None` if there are no previous keys or no such
    /// packet arrived yet.
    pub fn previous_keys_discard_time(&self, pto: Duration) -> Option<Instant> {
        self.prev_recv.as_ref()?;
        Some(self.prev_since? + pto.saturating_mul(3))
    }

    /// Discards the previous receive keys if their time has come.
    pub fn on_timeout(&mut self, now: Instant, pto: Duration) {
        if self
            .previous_keys_discard_time(pto)
            .is_some_and(|t| now >= t)
        {
            self.discard_previous_keys();
        }
    }

    /// Discards the previous receive keys now.
    pub fn discard_previous_keys(&mut self) {
        self.prev_recv = None;
        self.prev_since = None;
    }

    /// Moves to the next key phase and derives the one after it.
    fn promote(&mut self, provider: &P) -> Result<(), CryptoError> {
        // Derive everything first: a failure leaves the state untouched.
        let local = next_secret(provider, self.version, &self.next_local_secret)?;
        let remote = next_secret(provider, self.version, &self.next_remote_secret)?;
        let next_send = packet_key(provider, self.version, self.suite, &local)?;
        let next_recv = packet_key(provider, self.version, self.suite, &remote)?;
        self.send = core::mem::replace(&mut self.next_send, next_send);
        let recv = core::mem::replace(&mut self.next_recv, next_recv);
        self.prev_recv = Some(core::mem::replace(&mut self.recv, recv));
        self.next_local_secret = local;
        self.next_remote_secret = remote;
        self.phase = !self.phase;
        self.sealed = 0;
        self.first_sent_pn = None;
        self.first_recv_pn = None;
        self.prev_since = None;
        self.phase_acked = false;
        Ok(())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_crypto_key_update))]
mod tests {
    use super::*;
    use crate::protocol::crypto::null::NullProvider;
    use crate::protocol::crypto::{HashAlgorithm, TAG_LEN};

    const SUITE: CipherSuite = CipherSuite::ChaCha20Poly1305Sha256;
    const PTO: Duration = Duration::from_millis(100);

    fn pair() -> Result<(OneRttKeys<NullProvider>, OneRttKeys<NullProvider>), CryptoError> {
        let c = Secret::new(HashAlgorithm::Sha256, &[1; 32])?;
        let s = Secret::new(HashAlgorithm::Sha256, &[2; 32])?;
        let client = OneRttKeys::new(&NullProvider, Version::V1, SUITE, &c, &s)?;
        let server = OneRttKeys::new(&NullProvider, Version::V1, SUITE, &s, &c)?;
        Ok((client, server))
    }

    /// Seals a 4-byte payload with `from`'s keys; returns the wire image and
    /// the Key Phase bit it was sent with.
    fn send(
        from: &mut OneRttKeys<NullProvider>,
        pn: u64,
    ) -> Result<([u8; 4 + TAG_LEN], bool), CryptoError> {
        let mut buf = [0u8; 4 + TAG_LEN];
        buf[..4].copy_from_slice(&pn.to_be_bytes()[4..]);
        let phase = from.key_phase();
        from.seal(pn, &[u8::from(phase)], &mut buf)?;
        Ok((buf, phase))
    }

    fn recv(
        to: &mut OneRttKeys<NullProvider>,
        now: u64,
        pn: u64,
        (mut buf, phase): ([u8; 4 + TAG_LEN], bool),
    ) -> Result<usize, CryptoError> {
        to.open(
            &NullProvider,
            Instant::from_nanos(now),
            pn,
            phase,
            &[u8::from(phase)],
            &mut buf,
        )
    }

    /// The client sends packet 0 and the server acknowledges it in its
    /// packet 0, which permits the client's first update.
    fn exchange(
        c: &mut OneRttKeys<NullProvider>,
        s: &mut OneRttKeys<NullProvider>,
    ) -> Result<(), CryptoError> {
        let p = send(c, 0)?;
        assert_eq!(recv(s, 0, 0, p), Ok(4));
        let p = send(s, 0)?;
        assert_eq!(recv(c, 0, 0, p), Ok(4));
        Ok(())
    }

    #[test]
    fn update_round_trip() -> Result<(), CryptoError> {
        let (mut c, mut s) = pair()?;
        exchange(&mut c, &mut s)?;
        // Not before the handshake is confirmed and a packet acknowledged.
        assert_eq!(
            c.initiate_update(&NullProvider),
            Err(CryptoError::KeyUpdateNotPermitted)
        );
        c.on_handshake_confirmed();
        assert!(!c.can_initiate_update());
        c.on_ack_received(0);
        assert!(c.can_initiate_update());
        c.initiate_update(&NullProvider)?;
        assert!(c.key_phase());
        assert!(!c.can_initiate_update());

        // The client's packets in the new phase make the server follow.
        let p = send(&mut c, 1)?;
        assert_eq!(recv(&mut s, 10, 1, p), Ok(4));
        assert!(s.key_phase());
        assert!(s.has_previous_keys());
        // The server's reply in the new phase opens with the client's current keys.
        let p = send(&mut s, 5)?;
        assert_eq!(recv(&mut c, 20, 5, p), Ok(4));
        // Old keys are discarded three PTOs after the first new-phase packet.
        assert_eq!(
            c.previous_keys_discard_time(PTO),
            Some(Instant::from_nanos(20) + PTO * 3)
        );
        c.on_timeout(Instant::from_nanos(19) + PTO * 3, PTO);
        assert!(c.has_previous_keys());
        c.on_timeout(Instant::from_nanos(20) + PTO * 3, PTO);
        assert!(!c.has_previous_keys());
        Ok(())
    }

    #[test]
    fn delayed_packets_use_previous_keys() -> Result<(), CryptoError> {
        let (mut c, mut s) = pair()?;
        c.on_handshake_confirmed();
        exchange(&mut c, &mut s)?;
        let early = send(&mut s, 3)?;
        let p = send(&mut s, 2)?;
        assert_eq!(recv(&mut c, 0, 2, p), Ok(4));
        c.on_ack_received(0);
        c.initiate_update(&NullProvider)?;
        // A packet of the old phase, delayed, still opens.
        assert_eq!(recv(&mut c, 1, 3, early), Ok(4));
        assert!(c.key_phase());
        // Once previous keys are gone, an old-phase packet is tried with the
        // next keys and fails authentication.
        c.discard_previous_keys();
        let old = send(&mut s, 4)?;
        assert_eq!(
            recv(&mut c, 2, 4, old),
            Err(CryptoError::AuthenticationFailed)
        );
        Ok(())
    }

    #[test]
    fn consecutive_updates_rejected() -> Result<(), CryptoError> {
        let (mut c, mut s) = pair()?;
        c.on_handshake_confirmed();
        exchange(&mut c, &mut s)?;
        c.on_ack_received(0);
        c.initiate_update(&NullProvider)?;
        let p = send(&mut c, 1)?;
        assert_eq!(recv(&mut s, 0, 1, p), Ok(4));
        // The client updates again before the server sent anything in the
        // new phase, so before it could have been acknowledged.
        c.phase_acked = true;
        c.initiate_update(&NullProvider)?;
        let p = send(&mut c, 2)?;
        assert_eq!(recv(&mut s, 0, 2, p), Err(CryptoError::KeyUpdate));
        Ok(())
    }

    #[test]
    fn newer_keys_for_lower_packet_number_rejected() -> Result<(), CryptoError> {
        let (mut c, mut s) = pair()?;
        c.on_handshake_confirmed();
        exchange(&mut c, &mut s)?;
        let p = send(&mut c, 10)?;
        assert_eq!(recv(&mut s, 0, 10, p), Ok(4));
        c.on_ack_received(10);
        c.initiate_update(&NullProvider)?;
        // Packet 5 claims the new phase, below packet 10 of the old one.
        let p = send(&mut c, 5)?;
        assert_eq!(recv(&mut s, 0, 5, p), Err(CryptoError::KeyUpdate));
        Ok(())
    }

    #[test]
    fn flipped_phase_forgery_is_cheap_and_harmless() -> Result<(), CryptoError> {
        let (mut c, mut s) = pair()?;
        let (buf, phase) = send(&mut c, 0)?;
        assert_eq!(
            recv(&mut s, 0, 0, (buf, !phase)),
            Err(CryptoError::AuthenticationFailed)
        );
        assert!(!s.key_phase());
        assert_eq!(recv(&mut s, 0, 0, (buf, phase)), Ok(4));
        Ok(())
    }

    #[test]
    fn confidentiality_limit() -> Result<(), CryptoError> {
        let (mut c, _) = pair()?;
        let limit = SUITE.confidentiality_limit();
        c.sealed = limit - limit / 4 - 1;
        assert!(!c.should_update());
        send(&mut c, 0)?;
        assert!(c.should_update());
        c.sealed = limit;
        assert_eq!(send(&mut c, 1).err(), Some(CryptoError::AeadLimitReached));
        Ok(())
    }
}
