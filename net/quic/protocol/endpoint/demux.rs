// SPDX-License-Identifier: GPL-2.0

//! Classifying incoming datagrams (RFC 9000 §5.2, §6.1, §8.1, §10.3).
//!
//! [`Router::classify`] looks at one datagram and says what to do with it,
//! as a [`Decision`]: hand it to an existing connection, start a new one for
//! a listener, or answer it statelessly (Version Negotiation, Retry, a
//! refusal, a stateless reset), or drop it. The router owns the state this
//! takes (routes, listeners, pending ClientHellos, rate limiters) but no
//! connection and no randomness: answers are written by the builders of
//! [`crate::protocol::endpoint::response`] with the caller's random bytes.
//!
//! ```text
//!   short header ── DCID known? ── Existing
//!                        └─ no ── StatelessReset (if big enough and allowed) / Drop
//!   long header ─── version 0 (VN) ── Existing (client) / Drop
//!              ├─── unsupported ──── SendVersionNegotiation (>= 1200 bytes) / Drop
//!              ├─── DCID or (DCID, address) known ── Existing
//!              └─── Initial >= 1200 bytes, listening
//!                     ├─ invalid Retry token ──── Refuse(INVALID_TOKEN)
//!                     ├─ too many handshakes ──── Refuse(CONNECTION_REFUSED)
//!                     ├─ no token, Retry wanted ─ SendRetry
//!                     ├─ ClientHello incomplete ─ Buffered (pending)
//!                     ├─ no listener for ALPN ─── Refuse(no_application_protocol)
//!                     ├─ backlog full ─────────── Refuse(CONNECTION_REFUSED)
//!                     └─ NewConnection
//! ```

use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::cid::ConnectionId;
use crate::protocol::codec::Reader;
use crate::protocol::crypto::{PacketKey, Provider};
use crate::protocol::endpoint::assembler::{Assembler, Progress};
pub use crate::protocol::endpoint::decision::{
    Decision, DropReason, NewConnection, Refusal, RetryRequest,
};
use crate::protocol::endpoint::initial::{read_client_initials, InitialError};
use crate::protocol::endpoint::limiter::RateLimiter;
use crate::protocol::endpoint::listener::Listeners;
use crate::protocol::endpoint::pending::{PendingHellos, PendingId, PendingLimits};
use crate::protocol::endpoint::routes::{RouteError, RouteKey, Routes};
use crate::protocol::endpoint::token::{validate_initial, Lifetimes, ReplayFilter, Validation};
use crate::protocol::error::TransportErrorCode;
use crate::protocol::packet::version::Version;
use crate::protocol::packet::version_negotiation::{LongInvariant, MIN_TRIGGER_DATAGRAM_LEN};
use crate::protocol::packet::{LongType, HEADER_FORM_BIT};
use crate::protocol::time::Instant;
use core::net::SocketAddr;
use core::time::Duration;

/// The smallest datagram that may carry a client's Initial (RFC 9000 §14.1).
pub const MIN_INITIAL_DATAGRAM_LEN: usize = 1200;
/// The shortest Destination Connection ID of a client's first Initial.
//= https://www.rfc-editor.org/rfc/rfc9000#section-7.2
//# This Destination Connection ID MUST be at least 8 bytes in length.
pub const MIN_INITIAL_DCID_LEN: usize = 8;
/// The TLS alert no_application_protocol, as a CRYPTO_ERROR (RFC 9001 §8.1).
pub const NO_APPLICATION_PROTOCOL: TransportErrorCode = TransportErrorCode::crypto(120);

/// The settings of a [`Router`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// The length of the connection IDs this endpoint issues (0 to 20):
    /// short headers do not carry it.
    pub local_cid_len: usize,
    /// Whether this endpoint advertises grease_quic_bit (RFC 9287).
    pub accept_cleared_fixed_bit: bool,
    /// The versions accepted, most preferred first (a subset of
    /// [`Version::SUPPORTED`]).
    pub versions: &'static [Version],
    /// The largest ClientHello read for routing.
    pub max_hello_len: usize,
    /// The limits on ClientHellos spanning datagrams.
    pub pending: PendingLimits,
    /// The most connections handshaking at once, for all listeners.
    pub max_handshakes: usize,
    /// Token lifetimes.
    pub lifetimes: Lifetimes,
    /// The rate of Version Negotiation packets.
    pub version_negotiation: RateLimiter,
    /// The rate of stateless resets.
    pub stateless_reset: RateLimiter,
    /// The rate of refusals; beyond it refused Initials are dropped.
    pub refusal: RateLimiter,
}

impl RouterConfig {
    /// Defaults for an endpoint issuing connection IDs of `local_cid_len`
    /// bytes.
    pub const fn new(local_cid_len: usize) -> Self {
        Self {
            local_cid_len,
            accept_cleared_fixed_bit: false,
            versions: &Version::SUPPORTED,
            max_hello_len: 8192,
            pending: PendingLimits {
                max_entries: 64,
                max_datagrams: 8,
                timeout: Duration::from_secs(3),
            },
            max_handshakes: 1024,
            lifetimes: Lifetimes::DEFAULT,
            version_negotiation: RateLimiter::new(100, 100),
            stateless_reset: RateLimiter::new(100, 100),
            refusal: RateLimiter::new(100, 100),
        }
    }
}

/// The readable fields of a long header, parsed without touching the
/// datagram.
struct LongFields<'d> {
    invariant: LongInvariant<'d>,
    ty: Option<LongType>,
    token: &'d [u8],
}

fn long_fields(datagram: &[u8]) -> Option<LongFields<'_>> {
    let (invariant, rest) = LongInvariant::decode(datagram).ok()?;
    let ty = invariant.version.long_type(invariant.first_byte >> 4);
    let token = match ty {
        Some(LongType::Initial) => Reader::new(rest).read_varint_prefixed().ok()?,
        _ => &[],
    };
    Some(LongFields {
        invariant,
        ty,
        token,
    })
}

/// The demultiplexer of one UDP address and port: connection routes,
/// listeners, and what it takes to answer unknown packets.
#[derive(Debug)]
pub struct Router<H, L> {
    config: RouterConfig,
    /// The routes to connections.
    pub routes: Routes<H>,
    /// The listening sockets.
    pub listeners: Listeners<L>,
    pending: PendingHellos<Attempt>,
    handshakes: usize,
    replay: Option<ReplayFilter>,
    scratch: Vec<u8>,
    hello: Option<Assembler<Vec<u8>>>,
}

impl<H: Copy, L: Copy + PartialEq> Router<H, L> {
    /// A router with `config`, hashing routes with `hash_key` (random,
    /// from the caller). Does not allocate.
    pub const fn new(config: RouterConfig, hash_key: [u64; 2]) -> Self {
        Self {
            config,
            routes: Routes::new(hash_key),
            listeners: Listeners::new(),
            pending: PendingHellos::new(),
            handshakes: 0,
            replay: None,
            scratch: Vec::new(),
            hello: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// Remembers up to `capacity` accepted NEW_TOKEN tokens, to accept each
    /// once.
    pub fn set_replay_filter(&mut self, capacity: usize) -> Result<(), AllocError> {
        self.replay = Some(ReplayFilter::new(capacity)?);
        Ok(())
    }

    /// The connections handshaking.
    pub fn handshakes(&self) -> usize {
        self.handshakes
    }

    /// Routes the first packets of `new` to `handle`: the client's
    /// (DCID, address) and the connection ID the server chose. The caller
    /// removes the initial route when the handshake is done
    /// ([`RouteKey::Initial`]).
    pub fn register(
        &mut self,
        new: &NewConnection<L>,
        handle: H,
        local_cid: ConnectionId,
    ) -> Result<(), RouteError> {
        self.routes
            .insert(RouteKey::Initial(new.dcid, new.remote), handle)?;
        let own = if local_cid.is_empty() {
            RouteKey::Addr(new.remote)
        } else {
            RouteKey::Cid(local_cid)
        };
        self.routes.insert(own, handle).inspect_err(|_| {
            let _ = self.routes.remove(&RouteKey::Initial(new.dcid, new.remote));
        })
    }

    /// A connection created by [`Decision::NewConnection`] finished its
    /// handshake, or closed during it.
    pub fn handshake_finished(&mut self) {
        self.handshakes = self.handshakes.saturating_sub(1);
    }

    /// Classifies `datagram`, received from `remote` at `now`. `token_key`
    /// returns the token key of an id; `provider` decrypts Initial packets.
    pub fn classify<'d, 'k, P: Provider, K: PacketKey + 'k>(
        &mut self,
        provider: &P,
        token_key: impl FnOnce(u8) -> Option<&'k K>,
        datagram: &'d [u8],
        remote: SocketAddr,
        now: Instant,
    ) -> Decision<'d, H, L> {
        let Some(&first) = datagram.first() else {
            return Decision::Drop(DropReason::Malformed);
        };
        if first & HEADER_FORM_BIT == 0 {
            return self.classify_short(datagram, remote, now);
        }
        let Some(fields) = long_fields(datagram) else {
            return Decision::Drop(DropReason::Malformed);
        };
        let inv = &fields.invariant;
        if inv.version == Version::NEGOTIATION {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-6.1
            //# An endpoint MUST NOT send a Version Negotiation packet in response to
            //# receiving a Version Negotiation packet.
            return match self.lookup(inv.dcid, remote) {
                Some(h) => Decision::Existing(h),
                None => Decision::Drop(DropReason::UnknownConnection),
            };
        }
        if !self.config.versions.contains(&inv.version) || fields.ty.is_none() {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-5.2.2
            //# Servers MUST drop smaller packets that specify unsupported versions.
            if datagram.len() < MIN_TRIGGER_DATAGRAM_LEN || self.listeners.is_empty() {
                return Decision::Drop(DropReason::UnsupportedVersion);
            }
            if !self.config.version_negotiation.try_acquire(now) {
                return Decision::Drop(DropReason::RateLimited);
            }
            return Decision::SendVersionNegotiation {
                dcid: inv.scid,
                scid: inv.dcid,
            };
        }
        if let Some(h) = self.lookup(inv.dcid, remote) {
            return Decision::Existing(h);
        }
        if fields.ty != Some(LongType::Initial) {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-5.2.2
            //# Clients are not able
            //# to send Handshake packets prior to receiving a server response, so servers
            //# SHOULD ignore any such packets.
            return Decision::Drop(DropReason::NoConnectionForPacket);
        }
        self.classify_initial(provider, token_key, &fields, datagram, remote, now)
    }

    /// The connection of a long header's DCID, sent from `remote`.
    fn lookup(&self, dcid: &[u8], remote: SocketAddr) -> Option<H> {
        if dcid.is_empty() {
            return self.routes.get(&RouteKey::Addr(remote));
        }
        let dcid = ConnectionId::from_slice(dcid).ok()?;
        self.routes
            .get(&RouteKey::Cid(dcid))
            .or_else(|| self.routes.get(&RouteKey::Initial(dcid, remote)))
    }

    fn classify_short<'d>(
        &mut self,
        datagram: &'d [u8],
        remote: SocketAddr,
        now: Instant,
    ) -> Decision<'d, H, L> {
        let len = self.config.local_cid_len;
        if len == 0 {
            return match self.routes.get(&RouteKey::Addr(remote)) {
                Some(h) => Decision::Existing(h),
                None => Decision::Drop(DropReason::UnknownConnection),
            };
        }
        let Some(dcid) = datagram
            .get(1..1 + len)
            .and_then(|d| ConnectionId::from_slice(d).ok())
        else {
            return Decision::Drop(DropReason::Malformed);
        };
        if let Some(h) = self.routes.get(&RouteKey::Cid(dcid)) {
            return Decision::Existing(h);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-10.3.3
        //# An endpoint MUST ensure that every Stateless Reset that it sends is
        //# smaller than the packet that triggered it
        if datagram.len() <= crate::protocol::cid::reset::MIN_SENT_STATELESS_RESET_LEN {
            return Decision::Drop(DropReason::UnknownConnection);
        }
        if !self.config.stateless_reset.try_acquire(now) {
            return Decision::Drop(DropReason::RateLimited);
        }
        Decision::StatelessReset {
            dcid,
            trigger_len: datagram.len(),
        }
    }

    fn refuse<'d>(
        &mut self,
        fields: &LongFields<'_>,
        code: TransportErrorCode,
        pending: Option<PendingId>,
        now: Instant,
    ) -> Decision<'d, H, L> {
        let inv = &fields.invariant;
        let (Ok(dcid), Ok(client_dcid)) = (
            ConnectionId::from_slice(inv.scid),
            ConnectionId::from_slice(inv.dcid),
        ) else {
            return Decision::Drop(DropReason::Malformed);
        };
        if !self.config.refusal.try_acquire(now) {
            return Decision::Drop(DropReason::RateLimited);
        }
        Decision::Refuse(Refusal {
            version: inv.version,
            dcid,
            client_dcid,
            code,
            pending,
        })
    }

    fn classify_initial<'d, 'k, P: Provider, K: PacketKey + 'k>(
        &mut self,
        provider: &P,
        token_key: impl FnOnce(u8) -> Option<&'k K>,
        fields: &LongFields<'d>,
        datagram: &'d [u8],
        remote: SocketAddr,
        now: Instant,
    ) -> Decision<'d, H, L> {
        let inv = &fields.invariant;
        if self.listeners.is_empty() {
            return Decision::Drop(DropReason::NotListening);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-14.1
        //# A server MUST discard an Initial packet that is carried in a UDP
        //# datagram with a payload that is smaller than the smallest allowed
        //# maximum datagram size of 1200 bytes.
        if datagram.len() < MIN_INITIAL_DATAGRAM_LEN {
            return Decision::Drop(DropReason::InitialTooSmall);
        }
        let (Ok(dcid), Ok(scid)) = (
            ConnectionId::from_slice(inv.dcid),
            ConnectionId::from_slice(inv.scid),
        ) else {
            return Decision::Drop(DropReason::Malformed);
        };
        if self.pending.find_mut(&dcid, &remote).is_some() {
            return self.continue_pending(provider, fields, &dcid, datagram, remote, now);
        }
        let validation = validate_initial(
            fields.token,
            token_key,
            &remote,
            &dcid,
            now,
            &self.config.lifetimes,
            self.replay.as_mut(),
        );
        let (odcid, retry_scid, validated) = match validation {
            Validation::InvalidRetry => {
                return self.refuse(fields, TransportErrorCode::INVALID_TOKEN, None, now);
            }
            Validation::Valid(t) if !t.odcid.is_empty() => (t.odcid, Some(dcid), true),
            Validation::Valid(_) => (dcid, None, true),
            Validation::None => (dcid, None, false),
        };
        if retry_scid.is_none() && dcid.len() < MIN_INITIAL_DCID_LEN {
            return Decision::Drop(DropReason::ShortDcid);
        }
        if self.handshakes >= self.config.max_handshakes {
            return self.refuse(fields, TransportErrorCode::CONNECTION_REFUSED, None, now);
        }
        // Address validation comes before any per-connection work: a Retry
        // costs no state.
        if !validated && self.listeners.any_validates() {
            return Decision::SendRetry(RetryRequest {
                version: inv.version,
                remote,
                dcid: scid,
                odcid: dcid,
            });
        }
        let mut hello = match self.hello.take() {
            Some(h) => h,
            None => match Vec::from_elem(0u8, self.config.max_hello_len, GFP) {
                Ok(buf) => Assembler::new(buf),
                Err(_) => return Decision::Drop(DropReason::Overloaded),
            },
        };
        hello.clear();
        let progress = read_client_initials(
            provider,
            datagram,
            self.config.accept_cleared_fixed_bit,
            &mut self.scratch,
            &mut hello,
        );
        let attempt = Attempt {
            version: inv.version,
            remote,
            dcid,
            scid,
            odcid,
            retry_scid,
            address_validated: validated,
        };
        match progress {
            Err(e) => {
                self.hello = Some(hello);
                Decision::Drop(DropReason::BadInitial(e))
            }
            Ok(Progress::NeedMore) => {
                let limits = self.config.pending;
                let version = inv.version;
                match self
                    .pending
                    .insert(dcid, remote, version, hello, attempt, now, &limits)
                {
                    Ok(id) => Decision::Buffered(id),
                    Err(_) => Decision::Drop(DropReason::Overloaded),
                }
            }
            Ok(Progress::Complete) => {
                let decision = self.admit(&hello, &attempt, None, fields, now);
                self.hello = Some(hello);
                decision
            }
        }
    }

    /// Feeds a datagram to the pending ClientHello of (`dcid`, `remote`).
    fn continue_pending<'d, P: Provider>(
        &mut self,
        provider: &P,
        fields: &LongFields<'d>,
        dcid: &ConnectionId,
        datagram: &'d [u8],
        remote: SocketAddr,
        now: Instant,
    ) -> Decision<'d, H, L> {
        let max_datagrams = self.config.pending.max_datagrams;
        let accept_cleared = self.config.accept_cleared_fixed_bit;
        let Some(entry) = self.pending.find_mut(dcid, &remote) else {
            return Decision::Drop(DropReason::PendingFailed);
        };
        let id = entry.id;
        let attempt = entry.context;
        let Some(hello) = entry.hello.as_mut() else {
            return Decision::Drop(DropReason::PendingFailed);
        };
        if entry.datagrams >= max_datagrams || fields.invariant.version != attempt.version {
            return Decision::Drop(DropReason::PendingFailed);
        }
        let progress =
            read_client_initials(provider, datagram, accept_cleared, &mut self.scratch, hello);
        match progress {
            Err(e) => {
                // Keep a tombstone until it expires: the caller frees the
                // datagrams it holds then.
                entry.hello = None;
                Decision::Drop(DropReason::BadInitial(e))
            }
            Ok(Progress::NeedMore) => {
                entry.datagrams += 1;
                Decision::Buffered(id)
            }
            Ok(Progress::Complete) => {
                entry.datagrams += 1;
                let Some(hello) = entry.hello.take() else {
                    return Decision::Drop(DropReason::PendingFailed);
                };
                let decision = self.admit(&hello, &attempt, Some(id), fields, now);
                if matches!(decision, Decision::NewConnection(_) | Decision::Refuse(_)) {
                    let _ = self.pending.remove(id);
                }
                if self.hello.is_none() {
                    self.hello = Some(hello);
                }
                decision
            }
        }
    }

    /// Picks the listener for a complete ClientHello and commits to the
    /// connection.
    fn admit<'d>(
        &mut self,
        hello: &Assembler<Vec<u8>>,
        attempt: &Attempt,
        pending: Option<PendingId>,
        fields: &LongFields<'_>,
        now: Instant,
    ) -> Decision<'d, H, L> {
        let client_hello = match hello.client_hello() {
            Ok(Some(h)) => h,
            Ok(None) => return Decision::Drop(DropReason::Malformed),
            Err(e) => return Decision::Drop(DropReason::BadInitial(InitialError::Hello(e))),
        };
        let Some((listener, alpn)) = self.listeners.select(client_hello.alpn()) else {
            //= https://www.rfc-editor.org/rfc/rfc9001#section-8.1
            //# When using ALPN, endpoints MUST immediately close a connection (see Section
            //# 10.2 of [QUIC-TRANSPORT]) with a no_application_protocol TLS alert
            return self.refuse(fields, NO_APPLICATION_PROTOCOL, pending, now);
        };
        let (id, full) = (listener.id, !listener.has_room());
        if full || (listener.validate_address && !attempt.address_validated) {
            // The second case only follows a ClientHello that spanned
            // datagrams, started when no listener asked for Retry.
            return self.refuse(fields, TransportErrorCode::CONNECTION_REFUSED, pending, now);
        }
        self.listeners.enqueue(id);
        self.handshakes += 1;
        Decision::NewConnection(NewConnection {
            listener: id,
            alpn,
            version: attempt.version,
            remote: attempt.remote,
            dcid: attempt.dcid,
            scid: attempt.scid,
            odcid: attempt.odcid,
            retry_scid: attempt.retry_scid,
            address_validated: attempt.address_validated,
            pending,
        })
    }

    /// Removes one pending ClientHello that expired (or failed and
    /// expired) by `now`: the caller frees the datagrams it held for it.
    pub fn poll_expired_pending(&mut self, now: Instant) -> Option<PendingId> {
        self.pending.poll_expired(now)
    }

    /// When the next pending ClientHello expires, for the caller's timer.
    pub fn next_pending_expiry(&self) -> Option<Instant> {
        self.pending.next_expiry()
    }
}

/// What the first datagram of a connection attempt established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Attempt {
    version: Version,
    remote: SocketAddr,
    dcid: ConnectionId,
    scid: ConnectionId,
    odcid: ConnectionId,
    retry_scid: Option<ConnectionId>,
    address_validated: bool,
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_demux))]
mod tests {
    use super::*;
    use crate::protocol::alloc::{boxed, Box};
    use crate::protocol::codec::Writer;
    use crate::protocol::crypto::null::{NullPacketKey, NullProvider};
    use crate::protocol::crypto::CipherSuite;
    use crate::protocol::endpoint::alpn::{AlpnError, AlpnList, Selection};
    use crate::protocol::endpoint::client_hello::tests::build_hello;
    use crate::protocol::endpoint::client_hello::EXT_ALPN;
    use crate::protocol::endpoint::initial::testing::{put_initial, ClientInitial};
    use crate::protocol::endpoint::listener::Listener;
    use crate::protocol::endpoint::token::{issue, Binding};
    use crate::protocol::test_rng::XorShift64;
    use core::net::{IpAddr, Ipv4Addr};

    const KEY: NullPacketKey = NullPacketKey::new(CipherSuite::Aes128GcmSha256, 77);
    const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), 50000);
    const T0: Instant = Instant::from_nanos(1 << 40);

    type TestRouter = Router<u32, u8>;

    fn key(_: u8) -> Option<&'static NullPacketKey> {
        Some(&KEY)
    }

    fn cid(b: u8) -> ConnectionId {
        ConnectionId::from_slice(&[b; 8]).unwrap_or(ConnectionId::EMPTY)
    }

    /// A router on the heap (it is about 600 bytes).
    fn router(validate: bool, backlog: usize) -> Result<Box<TestRouter>, AlpnError> {
        let mut r = boxed(|| Router::new(RouterConfig::new(8), [1, 2]))?;
        let smb = AlpnList::from_socket_option(b"smb")?;
        let h3 = AlpnList::from_socket_option(b"h3,h3-29")?;
        r.listeners.add(Listener::new(1, smb, false, backlog))?;
        r.listeners.add(Listener::new(2, h3, validate, backlog))?;
        Ok(r)
    }

    /// A client Initial datagram of 1200 bytes offering `alpn` (wire list).
    fn initial(dcid: ConnectionId, token: &[u8], alpn: &[u8]) -> Vec<u8> {
        let mut msg = [0u8; 128];
        let mut body = [0u8; 40];
        let len = alpn.len();
        body[..2].copy_from_slice(&(len as u16).to_be_bytes());
        body[2..2 + len].copy_from_slice(alpn);
        let n = build_hello(&mut msg, &[(EXT_ALPN, &body[..2 + len])]);
        let mut d = Vec::from_elem(0u8, 1300, GFP).unwrap_or_default();
        let mut w = Writer::new(&mut d);
        let p = ClientInitial {
            version: Version::V1,
            dcid,
            scid: cid(0xc),
            token,
            pn: 0,
        };
        let _ = put_initial(&NullProvider, &mut w, &p, &[(0, &msg[..n])], 1200);
        let len = w.len();
        d.truncate(len);
        d
    }

    fn classify<'d>(r: &mut TestRouter, d: &'d [u8], now: Instant) -> Decision<'d, u32, u8> {
        r.classify(&NullProvider, key, d, CLIENT, now)
    }

    #[test]
    fn version_negotiation() -> Result<(), AlpnError> {
        let mut r = router(false, 8)?;
        let mut d = Vec::from_elem(0u8, 1200, GFP)?;
        d[..11].copy_from_slice(&[0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 2, 1, 2, 2, 3, 4]);
        assert_eq!(
            classify(&mut r, &d, T0),
            Decision::SendVersionNegotiation {
                dcid: &[3, 4],
                scid: &[1, 2]
            }
        );
        assert_eq!(
            classify(&mut r, &d[..1199], T0),
            Decision::Drop(DropReason::UnsupportedVersion)
        );
        // Never answer a Version Negotiation packet.
        d[1..5].fill(0);
        assert_eq!(
            classify(&mut r, &d, T0),
            Decision::Drop(DropReason::UnknownConnection)
        );
        Ok(())
    }

    #[test]
    fn stateless_reset_candidates() -> Result<(), AlpnError> {
        let mut r = Router::<u32, u8>::new(RouterConfig::new(8), [0, 0]);
        let mut d = [0x41u8; 60];
        d[1..9].copy_from_slice(&[5; 8]);
        assert_eq!(
            classify(&mut r, &d, T0),
            Decision::StatelessReset {
                dcid: cid(5),
                trigger_len: 60
            }
        );
        assert_eq!(
            classify(&mut r, &d[..41], T0),
            Decision::Drop(DropReason::UnknownConnection)
        );
        let mut limited = 1;
        for _ in 0..200 {
            if classify(&mut r, &d, T0) == Decision::Drop(DropReason::RateLimited) {
                limited += 1;
            }
        }
        assert!(limited > 100);
        assert_eq!(r.routes.insert(RouteKey::Cid(cid(5)), 9), Ok(()));
        assert_eq!(classify(&mut r, &d, T0), Decision::Existing(9));
        Ok(())
    }

    #[test]
    fn new_connection_by_alpn_then_existing() -> Result<(), AlpnError> {
        let mut r = router(false, 8)?;
        let d = initial(cid(1), b"", b"\x05h3-29\x03smb");
        let Decision::NewConnection(new) = classify(&mut r, &d, T0) else {
            return Err(AlpnError::InvalidName);
        };
        // The first listener able to serve the client, with its choice.
        assert_eq!((new.listener, new.alpn), (1, Selection::Protocol(0)));
        assert_eq!((new.dcid, new.scid, new.odcid), (cid(1), cid(0xc), cid(1)));
        assert!(!new.address_validated && new.retry_scid.is_none());
        assert_eq!(r.handshakes(), 1);
        assert_eq!(r.register(&new, 40, cid(0x5e)), Ok(()));
        assert_eq!(classify(&mut r, &d, T0), Decision::Existing(40));
        // Not from another address.
        let other = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)), 50000);
        assert!(matches!(
            r.classify(&NullProvider, key, &d, other, T0),
            Decision::NewConnection(_)
        ));
        let mut short = [0x40u8; 50];
        short[1..9].copy_from_slice(&[0x5e; 8]);
        assert_eq!(classify(&mut r, &short, T0), Decision::Existing(40));
        r.handshake_finished();
        r.listeners.dequeue(1);
        Ok(())
    }

    #[test]
    fn refusals() -> Result<(), AlpnError> {
        let mut r = router(false, 1)?;
        let ftp = initial(cid(1), b"", b"\x03ftp");
        let Decision::Refuse(refusal) = classify(&mut r, &ftp, T0) else {
            return Err(AlpnError::InvalidName);
        };
        assert_eq!(refusal.code, NO_APPLICATION_PROTOCOL);
        assert_eq!((refusal.dcid, refusal.client_dcid), (cid(0xc), cid(1)));
        let h3 = initial(cid(2), b"", b"\x02h3");
        assert!(matches!(
            classify(&mut r, &h3, T0),
            Decision::NewConnection(_)
        ));
        let h3 = initial(cid(3), b"", b"\x02h3");
        assert!(matches!(
            classify(&mut r, &h3, T0),
            Decision::Refuse(Refusal {
                code: TransportErrorCode::CONNECTION_REFUSED,
                ..
            })
        ));
        assert_eq!(
            classify(&mut r, &h3[..1199], T0),
            Decision::Drop(DropReason::InitialTooSmall)
        );
        let short_dcid = initial(
            ConnectionId::from_slice(&[1; 7]).unwrap_or(cid(0)),
            b"",
            b"\x02h3",
        );
        assert_eq!(
            classify(&mut r, &short_dcid, T0),
            Decision::Drop(DropReason::ShortDcid)
        );
        Ok(())
    }

    #[test]
    fn retry_flow() -> Result<(), AlpnError> {
        let mut r = router(true, 8)?;
        let d = initial(cid(1), b"", b"\x02h3");
        let Decision::SendRetry(req) = classify(&mut r, &d, T0) else {
            return Err(AlpnError::InvalidName);
        };
        assert_eq!(
            (req.dcid, req.odcid, req.remote),
            (cid(0xc), cid(1), CLIENT)
        );
        // The client comes back to the Retry's SCID with the token.
        let mut token = [0u8; 64];
        let binding = Binding::Retry {
            client: &CLIENT,
            retry_scid: &cid(0xe),
        };
        let n = issue(&KEY, 0, 1, T0, binding, &cid(1), &mut token).unwrap_or(0);
        let d = initial(cid(0xe), &token[..n], b"\x02h3");
        let Decision::NewConnection(new) = classify(&mut r, &d, T0) else {
            return Err(AlpnError::InvalidName);
        };
        assert_eq!(
            (new.listener, new.odcid, new.retry_scid),
            (2, cid(1), Some(cid(0xe)))
        );
        assert!(new.address_validated);
        // A stale or forged Retry token refuses with INVALID_TOKEN.
        let late = T0 + Duration::from_secs(30);
        let d = initial(cid(0xf), &token[..n], b"\x02h3");
        assert!(matches!(
            classify(&mut r, &d, late),
            Decision::Refuse(Refusal {
                code: TransportErrorCode::INVALID_TOKEN,
                ..
            })
        ));
        // Garbage that is not our token: treated as no token.
        let d = initial(cid(0xf), b"\x01\x02\x03", b"\x02h3");
        assert!(matches!(classify(&mut r, &d, T0), Decision::SendRetry(_)));
        Ok(())
    }

    #[test]
    fn client_hello_across_datagrams() -> Result<(), AlpnError> {
        let mut r = router(false, 8)?;
        let mut msg = Vec::from_elem(0u8, 2000, GFP)?;
        let big = Vec::from_elem(9u8, 1500, GFP)?;
        let n = build_hello(&mut msg, &[(EXT_ALPN, b"\x00\x03\x02h3"), (0x39, &big)]);
        let mut dgrams = [Vec::new(), Vec::new()];
        for (i, range) in [(0, 0..1000), (1, 1000..n)] {
            let mut d = Vec::from_elem(0u8, 1300, GFP)?;
            let mut w = Writer::new(&mut d);
            let p = ClientInitial {
                version: Version::V1,
                dcid: cid(1),
                scid: cid(0xc),
                token: b"",
                pn: i,
            };
            let start = range.start as u64;
            assert!(
                put_initial(&NullProvider, &mut w, &p, &[(start, &msg[range])], 1200).is_some()
            );
            let len = w.len();
            d.truncate(len);
            dgrams[i as usize] = d;
        }
        let Decision::Buffered(id) = classify(&mut r, &dgrams[0], T0) else {
            return Err(AlpnError::InvalidName);
        };
        // A retransmission of the first datagram is held too.
        assert_eq!(classify(&mut r, &dgrams[0], T0), Decision::Buffered(id));
        let Decision::NewConnection(new) = classify(&mut r, &dgrams[1], T0) else {
            return Err(AlpnError::InvalidName);
        };
        assert_eq!((new.listener, new.pending), (2, Some(id)));
        assert_eq!(r.next_pending_expiry(), None);
        // An abandoned one expires.
        assert!(matches!(
            classify(&mut r, &dgrams[0], T0),
            Decision::Buffered(_)
        ));
        assert_eq!(r.poll_expired_pending(T0), None);
        assert!(r
            .poll_expired_pending(T0 + Duration::from_secs(3))
            .is_some());
        Ok(())
    }

    #[test]
    fn random_datagrams_never_panic() -> Result<(), AlpnError> {
        let mut r = router(false, 8)?;
        let base = initial(cid(1), b"", b"\x02h3");
        let mut d = Vec::from_elem(0u8, base.len(), GFP)?;
        let mut rng = XorShift64::new(0x0123_4567_89ab_cdef);
        let mut x = 0;
        for round in 0..300 {
            d.copy_from_slice(&base);
            for _ in 0..1 + round % 8 {
                x = rng.next_u64();
                let i = (x >> 16) as usize % d.len();
                d[i] = (x >> 40) as u8;
            }
            let len = if round % 3 == 0 {
                (x as usize) % d.len()
            } else {
                d.len()
            };
            let now = T0 + Duration::from_millis(round);
            let _ = classify(&mut r, &d[..len], now);
        }
        Ok(())
    }
}
