// SPDX-License-Identifier: GPL-2.0

//! Address validation tokens: Retry and NEW_TOKEN (RFC 9000 §8.1.2–§8.1.4).
//!
//! A server validates a client's address before the handshake by handing it
//! a token, in a Retry packet or, for a later connection, in a NEW_TOKEN
//! frame, that the client echoes in its Initial packets. The server keeps no
//! state: the token carries what the server needs, sealed with an AEAD key
//! only the server holds.
//!
//! ```text
//!   token = kind (1) | key id (1) | nonce (8) | AEAD(plaintext) | tag (16)
//!   plaintext = issued (8) [| odcid length (1) | odcid]    (odcid: Retry only)
//!   AAD = kind | key id | nonce | address | [Retry's Source CID]
//! ```
//!
//! - The kind is readable (RFC 9000 §8.1.1 allows it), so that an invalid
//!   Retry token can be told from a stale NEW_TOKEN one (§8.1.3).
//! - The client's address is authenticated but not carried: a token names
//!   nothing an observer could link to the connection that issued it
//!   (§8.1.3). Retry tokens bind the IP address and port, NEW_TOKEN tokens
//!   the IP address only (the port rarely survives between connections).
//! - A Retry token also binds the Source Connection ID of the Retry, which
//!   the client must use as Destination Connection ID in its next Initial.
//! - The AEAD is a [`PacketKey`] the caller derives from a secret it owns;
//!   the caller also supplies the nonce (a counter or random value, unique
//!   per key) and picks the key by id, which allows key rotation. The core
//!   has no random number generator.
//! - Tokens expire: Retry tokens soon, since they come right back;
//!   NEW_TOKEN tokens later. [`ReplayFilter`] limits the reuse of NEW_TOKEN
//!   tokens (§8.1.4), while Retry tokens are accepted again for the
//!   client's retransmitted Initials.

use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::cid::ConnectionId;
use crate::protocol::codec::{Reader, Writer};
use crate::protocol::crypto::{PacketKey, TAG_LEN};
use crate::protocol::time::Instant;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

/// Where a token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Sent in a Retry packet, for the connection attempt under way.
    Retry,
    /// Sent in a NEW_TOKEN frame, for future connections.
    NewToken,
}

impl TokenKind {
    const fn byte(self) -> u8 {
        match self {
            Self::Retry => 0xa5,
            Self::NewToken => 0x5a,
        }
    }

    /// The kind a token claims to be, from its first byte (unauthenticated).
    pub fn of(token: &[u8]) -> Option<Self> {
        match token.first() {
            Some(0xa5) => Some(Self::Retry),
            Some(0x5a) => Some(Self::NewToken),
            _ => None,
        }
    }
}

/// The clear-text header: kind, key id, nonce.
const HEADER_LEN: usize = 1 + 1 + 8;
/// The issue time.
const ISSUED_LEN: usize = 8;
/// The longest token this module makes.
pub const MAX_TOKEN_LEN: usize = HEADER_LEN + ISSUED_LEN + 1 + ConnectionId::MAX_LEN + TAG_LEN;
/// Room for the associated data: header, address family, IP, port, CID.
const MAX_AAD_LEN: usize = HEADER_LEN + 1 + 16 + 2 + 1 + ConnectionId::MAX_LEN;

/// How long tokens are accepted after they were issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    /// Retry tokens: the client echoes them within a round trip.
    pub retry: Duration,
    /// NEW_TOKEN tokens: for a later connection.
    pub new_token: Duration,
}

impl Lifetimes {
    /// 10 seconds for Retry tokens, one day for NEW_TOKEN tokens.
    pub const DEFAULT: Lifetimes = Lifetimes {
        retry: Duration::from_secs(10),
        new_token: Duration::from_secs(24 * 60 * 60),
    };

    /// The lifetime of `kind`.
    pub const fn of(&self, kind: TokenKind) -> Duration {
        match kind {
            TokenKind::Retry => self.retry,
            TokenKind::NewToken => self.new_token,
        }
    }
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a token was not made or not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of this format.
    Malformed,
    /// No key for the token's key id (rotated out, or forged).
    UnknownKey,
    /// Authentication failed: forged, modified, or presented from another
    /// address (or, for Retry, with another Destination Connection ID).
    Invalid,
    /// Older than its lifetime, or issued in the future.
    Expired,
    /// Issuing: the output buffer is too small.
    BufferTooShort,
}

/// What a valid token tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidToken {
    /// Where it came from.
    pub kind: TokenKind,
    /// When it was issued.
    pub issued: Instant,
    /// Its nonce, unique per key: what [`ReplayFilter`] remembers.
    pub nonce: u64,
    /// For a Retry token, the Destination Connection ID of the client's
    /// first Initial (the original_destination_connection_id transport
    /// parameter); empty for NEW_TOKEN tokens.
    pub odcid: ConnectionId,
}

/// What a token is bound to.
#[derive(Clone, Copy, Debug)]
pub enum Binding<'a> {
    /// A Retry token: the client's address and port, and the Source
    /// Connection ID of the Retry packet (the client's next DCID).
    Retry {
        /// The client's address.
        client: &'a SocketAddr,
        /// The Retry's Source Connection ID.
        retry_scid: &'a ConnectionId,
    },
    /// A NEW_TOKEN token: the client's IP address.
    NewToken {
        /// The client's IP address.
        client: &'a IpAddr,
    },
}

impl Binding<'_> {
    const fn kind(&self) -> TokenKind {
        match self {
            Self::Retry { .. } => TokenKind::Retry,
            Self::NewToken { .. } => TokenKind::NewToken,
        }
    }

    /// Builds the associated data for `header` into `buf`.
    fn aad<'b>(&self, header: &[u8], buf: &'b mut [u8; MAX_AAD_LEN]) -> &'b [u8] {
        let mut w = Writer::new(buf);
        let ip = match self {
            Self::Retry { client, .. } => client.ip(),
            Self::NewToken { client } => **client,
        };
        // Never fails: the buffer holds the largest binding.
        let _ = w.put_bytes(header);
        let _ = match ip.to_canonical() {
            IpAddr::V4(a) => w.put_u8(4).and_then(|()| w.put_bytes(&a.octets())),
            IpAddr::V6(a) => w.put_u8(6).and_then(|()| w.put_bytes(&a.octets())),
        };
        if let Self::Retry { client, retry_scid } = self {
            let _ = w.put_u16(client.port());
            let _ = retry_scid.encode_with_len_u8(&mut w);
        }
        let n = w.len();
        &buf[..n]
    }
}

/// Issues a token bound to `binding`, issued at `now`, with AEAD `key` of
/// id `key_id` and the caller's unique `nonce`. `odcid` is the Destination
/// Connection ID of the client's Initial for a Retry token, and ignored
/// otherwise. Returns the token's length in `out`.
//= https://www.rfc-editor.org/rfc/rfc9000#section-8.1.4
//# For this design to work, the token MUST be covered by
//# integrity protection against modification or falsification by clients.
pub fn issue<K: PacketKey>(
    key: &K,
    key_id: u8,
    nonce: u64,
    now: Instant,
    binding: Binding<'_>,
    odcid: &ConnectionId,
    out: &mut [u8],
) -> Result<usize, TokenError> {
    let kind = binding.kind();
    let odcid_len = match kind {
        TokenKind::Retry => 1 + odcid.len(),
        TokenKind::NewToken => 0,
    };
    let len = HEADER_LEN + ISSUED_LEN + odcid_len + TAG_LEN;
    let out = out.get_mut(..len).ok_or(TokenError::BufferTooShort)?;
    let (header, payload) = out.split_at_mut(HEADER_LEN);
    let mut w = Writer::new(header);
    w.put_u8(kind.byte())
        .and_then(|()| w.put_u8(key_id))
        .and_then(|()| w.put_u64(nonce))
        .map_err(|_| TokenError::BufferTooShort)?;
    let mut w = Writer::new(payload);
    w.put_u64(now.as_nanos())
        .map_err(|_| TokenError::BufferTooShort)?;
    if kind == TokenKind::Retry {
        odcid
            .encode_with_len_u8(&mut w)
            .map_err(|_| TokenError::BufferTooShort)?;
    }
    let mut aad = [0u8; MAX_AAD_LEN];
    let aad = binding.aad(header, &mut aad);
    key.seal(nonce, aad, payload)
        .map_err(|_| TokenError::BufferTooShort)?;
    Ok(len)
}

/// Checks `token` against `binding` at `now`. `key_for` returns the key of
/// an id, if the caller still has it.
pub fn validate<'k, K: PacketKey + 'k>(
    token: &[u8],
    key_for: impl FnOnce(u8) -> Option<&'k K>,
    binding: Binding<'_>,
    now: Instant,
    lifetimes: &Lifetimes,
) -> Result<ValidToken, TokenError> {
    let kind = binding.kind();
    if token.len() > MAX_TOKEN_LEN || TokenKind::of(token) != Some(kind) {
        return Err(TokenError::Malformed);
    }
    let mut r = Reader::new(token);
    let header = r
        .read_bytes(HEADER_LEN)
        .map_err(|_| TokenError::Malformed)?;
    let key_id = header[1];
    let nonce = Reader::new(&header[2..])
        .read_u64()
        .map_err(|_| TokenError::Malformed)?;
    if r.remaining() < ISSUED_LEN + TAG_LEN {
        return Err(TokenError::Malformed);
    }
    let key = key_for(key_id).ok_or(TokenError::UnknownKey)?;
    let mut payload = [0u8; MAX_TOKEN_LEN - HEADER_LEN];
    let payload = payload
        .get_mut(..r.remaining())
        .ok_or(TokenError::Malformed)?;
    payload.copy_from_slice(r.read_rest());
    let mut aad = [0u8; MAX_AAD_LEN];
    let aad = binding.aad(header, &mut aad);
    let len = key
        .open(nonce, aad, payload)
        .map_err(|_| TokenError::Invalid)?;
    let mut r = Reader::new(payload.get(..len).ok_or(TokenError::Invalid)?);
    let issued = Instant::from_nanos(r.read_u64().map_err(|_| TokenError::Invalid)?);
    let odcid = match kind {
        TokenKind::Retry => {
            ConnectionId::decode_with_len_u8(&mut r).map_err(|_| TokenError::Invalid)?
        }
        TokenKind::NewToken => ConnectionId::EMPTY,
    };
    if !r.is_empty() {
        return Err(TokenError::Invalid);
    }
    //= https://www.rfc-editor.org/rfc/rfc9000#section-8.1.4
    //# Servers SHOULD ensure that tokens sent in Retry packets
    //# are only accepted for a short time, as they are returned immediately by clients.
    let age = now
        .checked_duration_since(issued)
        .ok_or(TokenError::Expired)?;
    if age > lifetimes.of(kind) {
        return Err(TokenError::Expired);
    }
    Ok(ValidToken {
        kind,
        issued,
        nonce,
        odcid,
    })
}

/// What the token of a client's Initial means for the server (RFC 9000
/// §8.1.2, §8.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// No token, or one to ignore: the address is not validated.
    None,
    /// A valid token: the address is validated.
    Valid(ValidToken),
    /// An invalid Retry token: the client will not accept another Retry, so
    /// the server closes the connection with INVALID_TOKEN.
    InvalidRetry,
}

/// Judges the token of an Initial from `client` whose Destination
/// Connection ID is `dcid`. An invalid NEW_TOKEN token is no token; an
/// invalid Retry token refuses the connection. A NEW_TOKEN token `replay`
/// has seen before counts as none.
pub fn validate_initial<'k, K: PacketKey + 'k>(
    token: &[u8],
    key_for: impl FnOnce(u8) -> Option<&'k K>,
    client: &SocketAddr,
    dcid: &ConnectionId,
    now: Instant,
    lifetimes: &Lifetimes,
    replay: Option<&mut ReplayFilter>,
) -> Validation {
    match TokenKind::of(token) {
        Some(TokenKind::Retry) => {
            let binding = Binding::Retry {
                client,
                retry_scid: dcid,
            };
            match validate(token, key_for, binding, now, lifetimes) {
                Ok(valid) => Validation::Valid(valid),
                //= https://www.rfc-editor.org/rfc/rfc9000#section-8.1.2
                //# Instead, the server SHOULD immediately close (Section 10.2) the
                //# connection with an INVALID_TOKEN error.
                Err(_) => Validation::InvalidRetry,
            }
        }
        Some(TokenKind::NewToken) => {
            let client_ip = client.ip();
            let binding = Binding::NewToken { client: &client_ip };
            match validate(token, key_for, binding, now, lifetimes) {
                Ok(valid) => {
                    let fresh = match replay {
                        Some(filter) => filter.check(&valid, now, lifetimes),
                        None => true,
                    };
                    if fresh {
                        Validation::Valid(valid)
                    } else {
                        Validation::None
                    }
                }
                //= https://www.rfc-editor.org/rfc/rfc9000#section-8.1.3
                //# If the token is invalid, then the server SHOULD proceed as if the
                //# client did not have a validated address, including potentially
                //# sending a Retry packet.
                Err(_) => Validation::None,
            }
        }
        // Not one of ours (another server's, or garbage): no token.
        None => Validation::None,
    }
}

/// Remembers the NEW_TOKEN tokens accepted recently, so that each is
/// accepted once (RFC 9000 §8.1.4). The memory is a fixed ring: when it is
/// full the oldest entry is forgotten, so replay is limited, not prevented.
#[derive(Debug, Default)]
pub struct ReplayFilter {
    seen: Vec<(u64, Instant)>,
    capacity: usize,
    next: usize,
}

impl ReplayFilter {
    /// A filter remembering up to `capacity` tokens.
    pub fn new(capacity: usize) -> Result<Self, AllocError> {
        Ok(Self {
            seen: Vec::with_capacity(capacity, GFP)?,
            capacity,
            next: 0,
        })
    }

    /// Records `token`; returns whether it was not seen before. Expired
    /// entries are forgotten on the way.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-8.1.4
    //# To protect against such attacks, servers MUST ensure that
    //# replay of tokens is prevented or limited.
    pub fn check(&mut self, token: &ValidToken, now: Instant, lifetimes: &Lifetimes) -> bool {
        let expiry = token.issued + lifetimes.of(token.kind);
        if self
            .seen
            .iter()
            .any(|(nonce, until)| *nonce == token.nonce && *until >= now)
        {
            return false;
        }
        let entry = (token.nonce, expiry);
        if self.seen.len() < self.capacity {
            // Within capacity: never allocates.
            let _ = self.seen.push(entry, GFP);
        } else if let Some(slot) = self.seen.iter_mut().find(|(_, until)| *until < now) {
            *slot = entry;
        } else if let Some(slot) = self.seen.get_mut(self.next) {
            *slot = entry;
            self.next = (self.next + 1) % self.seen.len();
        }
        true
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_token))]
mod tests {
    use super::*;
    use crate::protocol::crypto::null::NullPacketKey;
    use crate::protocol::crypto::CipherSuite;
    use crate::protocol::test_rng::XorShift64;
    use core::net::{Ipv4Addr, Ipv6Addr};

    const KEY: NullPacketKey = NullPacketKey::new(CipherSuite::Aes128GcmSha256, 0x70c3);
    const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), 4433);
    const T0: Instant = Instant::from_nanos(1_000_000_000_000);

    fn cid(b: u8, len: usize) -> ConnectionId {
        ConnectionId::from_slice(&[b; 20][..len]).unwrap_or(ConnectionId::EMPTY)
    }

    fn key(id: u8) -> Option<&'static NullPacketKey> {
        (id == 7).then_some(&KEY)
    }

    fn retry_token(out: &mut [u8; MAX_TOKEN_LEN], odcid: &ConnectionId) -> usize {
        let binding = Binding::Retry {
            client: &CLIENT,
            retry_scid: &cid(9, 8),
        };
        issue(&KEY, 7, 42, T0, binding, odcid, out).unwrap_or(0)
    }

    #[test]
    fn retry_round_trip() -> Result<(), TokenError> {
        let mut buf = [0u8; MAX_TOKEN_LEN];
        let odcid = cid(3, 20);
        let n = retry_token(&mut buf, &odcid);
        assert_eq!(n, MAX_TOKEN_LEN);
        assert_eq!(TokenKind::of(&buf[..n]), Some(TokenKind::Retry));
        let rscid = cid(9, 8);
        let binding = Binding::Retry {
            client: &CLIENT,
            retry_scid: &rscid,
        };
        let now = T0 + Duration::from_secs(3);
        let valid = validate(&buf[..n], key, binding, now, &Lifetimes::DEFAULT)?;
        assert_eq!(valid.kind, TokenKind::Retry);
        assert_eq!(valid.odcid, odcid);
        assert_eq!((valid.issued, valid.nonce), (T0, 42));
        Ok(())
    }

    #[test]
    fn retry_rejections() {
        let mut buf = [0u8; MAX_TOKEN_LEN];
        let n = retry_token(&mut buf, &cid(3, 8));
        let token = &buf[..n];
        let lt = Lifetimes::DEFAULT;
        let rscid = cid(9, 8);
        let check = |client: &SocketAddr, rscid: &ConnectionId, now| {
            let binding = Binding::Retry {
                client,
                retry_scid: rscid,
            };
            validate(token, key, binding, now, &lt).err()
        };
        let later = T0 + Duration::from_secs(11);
        assert_eq!(check(&CLIENT, &rscid, later), Some(TokenError::Expired));
        assert_eq!(
            check(&CLIENT, &rscid, Instant::ZERO),
            Some(TokenError::Expired)
        );
        let moved = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), 4434);
        assert_eq!(check(&moved, &rscid, T0), Some(TokenError::Invalid));
        assert_eq!(check(&CLIENT, &cid(8, 8), T0), Some(TokenError::Invalid));
        // Every single-bit flip is caught.
        for i in 0..n {
            let mut bad = buf;
            bad[i] ^= 0x10;
            let binding = Binding::Retry {
                client: &CLIENT,
                retry_scid: &rscid,
            };
            assert!(validate(&bad[..n], key, binding, T0, &lt).is_err());
        }
        // Truncated, or of the other kind.
        let client_ip = CLIENT.ip();
        let binding = Binding::NewToken { client: &client_ip };
        assert_eq!(
            validate(token, key, binding, T0, &lt).err(),
            Some(TokenError::Malformed)
        );
        for cut in 0..n {
            let binding = Binding::Retry {
                client: &CLIENT,
                retry_scid: &rscid,
            };
            assert!(validate(&token[..cut], key, binding, T0, &lt).is_err());
        }
    }

    #[test]
    fn new_token_binds_ip_only() -> Result<(), TokenError> {
        let mut buf = [0u8; MAX_TOKEN_LEN];
        let client_ip = CLIENT.ip();
        let binding = Binding::NewToken { client: &client_ip };
        let n = issue(&KEY, 7, 1, T0, binding, &cid(1, 8), &mut buf)?;
        assert_eq!(n, HEADER_LEN + ISSUED_LEN + TAG_LEN);
        let token = &buf[..n];
        let lt = Lifetimes::DEFAULT;
        let later = T0 + Duration::from_secs(3600);
        // A new port is fine, and so is the IPv4-mapped form.
        let mapped = IpAddr::V6(Ipv6Addr::from([
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7,
        ]));
        let v = validate(
            token,
            key,
            Binding::NewToken { client: &mapped },
            later,
            &lt,
        )?;
        assert_eq!(v.odcid, ConnectionId::EMPTY);
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8));
        let binding = Binding::NewToken { client: &other };
        assert_eq!(
            validate(token, key, binding, later, &lt).err(),
            Some(TokenError::Invalid)
        );
        let client_ip = CLIENT.ip();
        let binding = Binding::NewToken { client: &client_ip };
        let old = T0 + Duration::from_secs(2 * 24 * 3600);
        assert_eq!(
            validate(token, key, binding, old, &lt).err(),
            Some(TokenError::Expired)
        );
        assert_eq!(
            validate(token, |_| None::<&NullPacketKey>, binding, later, &lt).err(),
            Some(TokenError::UnknownKey)
        );
        let mut small = [0u8; 20];
        assert_eq!(
            issue(&KEY, 7, 1, T0, binding, &ConnectionId::EMPTY, &mut small),
            Err(TokenError::BufferTooShort)
        );
        Ok(())
    }

    #[test]
    fn initial_token_semantics() -> Result<(), AllocError> {
        let mut buf = [0u8; MAX_TOKEN_LEN];
        let n = retry_token(&mut buf, &cid(3, 8));
        let lt = Lifetimes::DEFAULT;
        let rscid = cid(9, 8);
        let judge = |token: &[u8], now, replay: Option<&mut ReplayFilter>| {
            validate_initial(token, key, &CLIENT, &rscid, now, &lt, replay)
        };
        assert!(matches!(judge(&buf[..n], T0, None), Validation::Valid(_)));
        // Retransmitted Initials repeat the Retry token: still valid.
        assert!(matches!(judge(&buf[..n], T0, None), Validation::Valid(_)));
        let late = T0 + Duration::from_secs(60);
        assert_eq!(judge(&buf[..n], late, None), Validation::InvalidRetry);
        assert_eq!(judge(b"", T0, None), Validation::None);
        assert_eq!(judge(b"\x01other server", T0, None), Validation::None);
        let client_ip = CLIENT.ip();
        let binding = Binding::NewToken { client: &client_ip };
        let m = issue(&KEY, 7, 2, T0, binding, &rscid, &mut buf).unwrap_or(0);
        let mut filter = ReplayFilter::new(4)?;
        assert!(matches!(
            judge(&buf[..m], T0, Some(&mut filter)),
            Validation::Valid(_)
        ));
        assert_eq!(judge(&buf[..m], T0, Some(&mut filter)), Validation::None);
        buf[m - 1] ^= 1;
        assert_eq!(judge(&buf[..m], T0, None), Validation::None);
        Ok(())
    }

    #[test]
    fn replay_filter_is_bounded() -> Result<(), AllocError> {
        let lt = Lifetimes::DEFAULT;
        let mut filter = ReplayFilter::new(3)?;
        let token = |nonce, issued| ValidToken {
            kind: TokenKind::NewToken,
            issued,
            nonce,
            odcid: ConnectionId::EMPTY,
        };
        for nonce in 0..3 {
            assert!(filter.check(&token(nonce, T0), T0, &lt));
        }
        assert!(!filter.check(&token(1, T0), T0, &lt));
        // Full: the oldest is forgotten, so its replay gets through.
        assert!(filter.check(&token(3, T0), T0, &lt));
        assert!(filter.check(&token(0, T0), T0, &lt));
        assert!(!filter.check(&token(3, T0), T0, &lt));
        // Expired entries make room first.
        let later = T0 + Duration::from_secs(2 * 24 * 3600);
        assert!(filter.check(&token(9, later), later, &lt));
        assert!(!filter.check(&token(9, later), later, &lt));
        Ok(())
    }

    #[test]
    fn random_tokens_never_panic() {
        let mut rng = XorShift64::new(0xfeed_f00d_dead_beef);
        let mut buf = [0u8; 80];
        let rscid = cid(9, 8);
        for _ in 0..2000 {
            rng.fill(&mut buf);
            let x = rng.next_u64();
            buf[0] = if x & 1 == 0 { 0xa5 } else { 0x5a };
            let len = (x >> 20) as usize % buf.len();
            let v = validate_initial(
                &buf[..len],
                key,
                &CLIENT,
                &rscid,
                T0,
                &Lifetimes::DEFAULT,
                None,
            );
            assert!(!matches!(v, Validation::Valid(_)));
        }
    }
}
