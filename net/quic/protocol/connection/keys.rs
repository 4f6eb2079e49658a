// SPDX-License-Identifier: GPL-2.0

//! The packet protection keys of a connection, per encryption level
//! (RFC 9001 §4, §5).
//!
//! - Initial keys come from the client's first Destination Connection ID;
//!   the core derives them itself. During compatible version negotiation
//!   (RFC 9368) the keys of the original version are kept next to the
//!   negotiated ones, to open Initial packets still sent in it.
//! - 0-RTT and Handshake keys are installed one direction at a time from
//!   TLS secrets.
//! - 1-RTT keys need both secrets ([`OneRttKeys`] derives the next key
//!   phase from both); the first one installed waits for the second.
//!
//! Discarding a level drops its keys: nothing can be sent or opened at it
//! any more, which is how the core stops using Initial and Handshake
//! packets (RFC 9001 §4.9).

use crate::protocol::crypto::initial::initial_keys;
use crate::protocol::crypto::key_update::OneRttKeys;
use crate::protocol::crypto::schedule::{DirectionalKeys, Keys};
use crate::protocol::crypto::{CipherSuite, CryptoError, Level, Provider, Secret};
use crate::protocol::packet::version::Version;
use crate::protocol::side::Side;

/// The direction a secret protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Packets this endpoint sends (`send = 1` in `quic_crypto_secret`).
    Send,
    /// Packets this endpoint receives.
    Recv,
}

/// Initial keys for one version.
pub(crate) struct InitialKeys<P: Provider> {
    pub(crate) version: Version,
    pub(crate) keys: Keys<P>,
}

/// Every key of a connection.
pub(crate) struct KeySet<P: Provider> {
    /// The Initial keys of the version in use.
    pub(crate) initial: Option<InitialKeys<P>>,
    /// The Initial keys of the other version during compatible version
    /// negotiation: only used to open packets.
    pub(crate) initial_other: Option<InitialKeys<P>>,
    pub(crate) zero_rtt: Option<DirectionalKeys<P>>,
    pub(crate) handshake_send: Option<DirectionalKeys<P>>,
    pub(crate) handshake_recv: Option<DirectionalKeys<P>>,
    pub(crate) one_rtt: Option<OneRttKeys<P>>,
    /// A 1-RTT secret waiting for the other direction's.
    pending_one_rtt: Option<(Direction, CipherSuite, Secret)>,
    /// Levels whose keys were discarded for good.
    discarded: [bool; 4],
    side: Side,
}

const fn level_index(level: Level) -> usize {
    match level {
        Level::Initial => 0,
        Level::ZeroRtt => 1,
        Level::Handshake => 2,
        Level::OneRtt => 3,
    }
}

impl<P: Provider> KeySet<P> {
    /// The Initial keys of `side` for `version`, from `client_dcid`.
    pub(crate) fn new(
        provider: &P,
        version: Version,
        client_dcid: &[u8],
        side: Side,
    ) -> Result<Self, CryptoError> {
        let keys = initial_keys(provider, version, client_dcid, side)?;
        Ok(Self {
            initial: Some(InitialKeys { version, keys }),
            initial_other: None,
            zero_rtt: None,
            handshake_send: None,
            handshake_recv: None,
            one_rtt: None,
            pending_one_rtt: None,
            discarded: [false; 4],
            side,
        })
    }

    /// Switches the Initial keys to `version` (compatible version
    /// negotiation), keeping the current ones to open late packets.
    pub(crate) fn switch_initial_version(
        &mut self,
        provider: &P,
        version: Version,
        client_dcid: &[u8],
        side: Side,
    ) -> Result<(), CryptoError> {
        if self.discarded[0] || self.initial.as_ref().is_some_and(|k| k.version == version) {
            return Ok(());
        }
        let keys = initial_keys(provider, version, client_dcid, side)?;
        self.initial_other = self
            .initial
            .replace(InitialKeys { version, keys })
            .or(self.initial_other.take());
        Ok(())
    }

    /// Replaces the Initial keys after a Retry: same version, new DCID.
    pub(crate) fn reset_initial(
        &mut self,
        provider: &P,
        version: Version,
        client_dcid: &[u8],
        side: Side,
    ) -> Result<(), CryptoError> {
        let keys = initial_keys(provider, version, client_dcid, side)?;
        self.initial = Some(InitialKeys { version, keys });
        self.initial_other = None;
        Ok(())
    }

    /// Installs a 0-RTT, Handshake or 1-RTT secret. Returns whether 1-RTT
    /// keys became available.
    pub(crate) fn install(
        &mut self,
        provider: &P,
        version: Version,
        level: Level,
        direction: Direction,
        suite: CipherSuite,
        secret: &Secret,
    ) -> Result<bool, CryptoError> {
        if self.discarded[level_index(level)] || secret.hash() != suite.hash() {
            return Err(CryptoError::InvalidKeyLength);
        }
        match level {
            // Initial keys come from the DCID, never from outside.
            Level::Initial => Err(CryptoError::UnsupportedCipherSuite),
            Level::ZeroRtt => {
                // The client sends 0-RTT, the server receives it.
                let expected = match self.side {
                    Side::Client => Direction::Send,
                    Side::Server => Direction::Recv,
                };
                if direction != expected {
                    return Err(CryptoError::UnsupportedCipherSuite);
                }
                self.zero_rtt = Some(DirectionalKeys::new(provider, version, suite, secret)?);
                Ok(false)
            }
            Level::Handshake => {
                let keys = DirectionalKeys::new(provider, version, suite, secret)?;
                match direction {
                    Direction::Send => self.handshake_send = Some(keys),
                    Direction::Recv => self.handshake_recv = Some(keys),
                }
                Ok(false)
            }
            Level::OneRtt => {
                if self.one_rtt.is_some() {
                    return Err(CryptoError::KeyUpdateNotPermitted);
                }
                match self.pending_one_rtt.take() {
                    Some((d, s, other)) if d != direction && s == suite => {
                        let (local, remote) = match direction {
                            Direction::Send => (secret, &other),
                            Direction::Recv => (&other, secret),
                        };
                        let keys = OneRttKeys::new(provider, version, suite, local, remote)?;
                        self.one_rtt = Some(keys);
                        Ok(true)
                    }
                    Some(_) => Err(CryptoError::UnsupportedCipherSuite),
                    None => {
                        self.pending_one_rtt = Some((direction, suite, secret.clone()));
                        Ok(false)
                    }
                }
            }
        }
    }

    /// Whether packets can be sent at `level`.
    pub(crate) fn can_send(&self, level: Level) -> bool {
        match level {
            Level::Initial => self.initial.is_some(),
            Level::ZeroRtt => self.zero_rtt.is_some(),
            Level::Handshake => self.handshake_send.is_some(),
            Level::OneRtt => self.one_rtt.is_some(),
        }
    }

    /// Drops the keys of `level` for good.
    pub(crate) fn discard(&mut self, level: Level) {
        self.discarded[level_index(level)] = true;
        match level {
            Level::Initial => {
                self.initial = None;
                self.initial_other = None;
            }
            Level::ZeroRtt => self.zero_rtt = None,
            Level::Handshake => {
                self.handshake_send = None;
                self.handshake_recv = None;
            }
            Level::OneRtt => {
                self.one_rtt = None;
                self.pending_one_rtt = None;
            }
        }
    }

    /// Whether the keys of `level` were discarded.
    pub(crate) fn is_discarded(&self, level: Level) -> bool {
        self.discarded[level_index(level)]
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_keys))]
mod tests {
    use super::*;
    use crate::protocol::crypto::null::NullProvider;
    use crate::protocol::crypto::HashAlgorithm;

    const SUITE: CipherSuite = CipherSuite::Aes128GcmSha256;

    fn secret(b: u8) -> Result<Secret, CryptoError> {
        Secret::new(HashAlgorithm::Sha256, &[b; 32])
    }

    #[test]
    fn one_rtt_needs_both_directions() -> Result<(), CryptoError> {
        let p = NullProvider;
        let mut k = KeySet::new(&p, Version::V1, &[1; 8], Side::Client)?;
        assert!(k.can_send(Level::Initial));
        let s = secret(1)?;
        let r = secret(2)?;
        assert_eq!(
            k.install(&p, Version::V1, Level::OneRtt, Direction::Send, SUITE, &s),
            Ok(false)
        );
        assert!(!k.can_send(Level::OneRtt));
        assert_eq!(
            k.install(&p, Version::V1, Level::OneRtt, Direction::Recv, SUITE, &r),
            Ok(true)
        );
        assert!(k.can_send(Level::OneRtt));
        Ok(())
    }

    #[test]
    fn initial_is_refused_and_discard_is_final() -> Result<(), CryptoError> {
        let p = NullProvider;
        let mut k = KeySet::new(&p, Version::V1, &[1; 8], Side::Server)?;
        let s = secret(3)?;
        assert!(k
            .install(&p, Version::V1, Level::Initial, Direction::Send, SUITE, &s)
            .is_err());
        // A server never sends 0-RTT.
        assert!(k
            .install(&p, Version::V1, Level::ZeroRtt, Direction::Send, SUITE, &s)
            .is_err());
        k.install(
            &p,
            Version::V1,
            Level::Handshake,
            Direction::Send,
            SUITE,
            &s,
        )?;
        assert!(k.can_send(Level::Handshake));
        k.discard(Level::Handshake);
        assert!(!k.can_send(Level::Handshake));
        assert!(k.is_discarded(Level::Handshake));
        assert!(k
            .install(
                &p,
                Version::V1,
                Level::Handshake,
                Direction::Send,
                SUITE,
                &s
            )
            .is_err());
        Ok(())
    }

    #[test]
    fn compatible_switch_keeps_the_original_keys() -> Result<(), CryptoError> {
        let p = NullProvider;
        let mut k = KeySet::new(&p, Version::V1, &[1; 8], Side::Server)?;
        k.switch_initial_version(&p, Version::V2, &[1; 8], Side::Server)?;
        assert_eq!(k.initial.as_ref().map(|i| i.version), Some(Version::V2));
        assert_eq!(
            k.initial_other.as_ref().map(|i| i.version),
            Some(Version::V1)
        );
        Ok(())
    }
}
