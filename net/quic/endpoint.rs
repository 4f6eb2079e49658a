// SPDX-License-Identifier: GPL-2.0

//! The endpoint of a UDP tunnel: the core's [`Router`] on the receive path.
//!
//! Every datagram that reaches a tunnel goes through [`Endpoint::receive`],
//! in softirq, which asks the core's router (`protocol::endpoint`) what it
//! is and answers from the tunnel's socket:
//!
//! - a long header of a version this kernel does not implement, in a
//!   datagram large enough to be a client's first (1200 bytes), gets a
//!   Version Negotiation packet (RFC 9000 §6.1, §5.2.2);
//! - a short header for a connection ID nobody here issued gets a stateless
//!   reset (RFC 9000 §10.3), whose token is derived from the endpoint's
//!   static key ([`Ids`]);
//! - a client's first Initial is matched against the listening sockets by
//!   its ClientHello's ALPN list: without a listener serving it, it gets an
//!   Initial CONNECTION_CLOSE with no_application_protocol (RFC 9001 §8.1).
//!   Connections are not created from the receive path yet, so an Initial
//!   that a listener would take is refused with CONNECTION_REFUSED (RFC 9000
//!   §5.2.2): the client learns it at once instead of timing out;
//! - anything else is dropped.
//!
//! The router's own limits bound the work and state per datagram (one
//! Initial key derivation, a bounded ClientHello) and rate limit every
//! answer. Nothing here sleeps: keys come from the kernel's library crypto
//! and memory from `GFP_ATOMIC`.

use crate::{
    clock,
    crypto::{KernelCrypto, KernelPacketKey},
    protocol::{
        cid::{reset::ResetToken, ConnectionId, Generator},
        endpoint::{
            alpn::AlpnList,
            decision::{Decision, DropReason as Verdict, Refusal},
            demux::{Router, RouterConfig},
            listener::Listener,
            response::{
                write_refusal, write_stateless_reset, write_version_negotiation, ResponseError,
            },
        },
        error::TransportErrorCode,
        packet::version::Version,
    },
};
use kernel::{
    crypto::hkdf,
    net::{
        skbuff::{DropReason, SkBuff},
        sock::Sock,
        udp_tunnel::{RecvInfo, SendOptions, TunnelSock, TX_HEADROOM},
    },
    new_spinlock_bh,
    prelude::*,
    random,
    sync::SpinLockBh,
};

/// The length of the connection IDs this endpoint issues: short headers do
/// not carry it, so every connection of a tunnel uses the same.
pub(crate) const LOCAL_CID_LEN: usize = 16;

/// The largest answer: a Version Negotiation echoing two 255-byte
/// connection IDs of an unknown version (RFC 9000 §17.2.1) with eight
/// versions is 549 bytes; resets and refusals are much smaller.
const MAX_ANSWER_LEN: usize = 640;

/// Random bytes in a stateless reset: with the token, resets of up to 80
/// bytes, one byte shorter than their trigger when it is smaller.
const RESET_RANDOM_LEN: usize = 64;

/// The HKDF info prefix of stateless reset tokens.
const RESET_LABEL: &[u8] = b"linux quic reset token";

/// A listening socket, as the router knows it: the address of its `struct
/// sock`, unique while the socket listens (it unregisters before it is
/// freed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ListenerId(usize);

impl ListenerId {
    /// The id of `sk`.
    pub(crate) fn of(sk: &Sock) -> Self {
        Self(sk.as_raw().addr())
    }
}

/// The connections routed by the endpoint: none yet. No value of this
/// type exists, so the router can hold no route and
/// [`Decision::Existing`] cannot happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoConnection {}

/// Connection IDs and stateless reset tokens of an endpoint.
///
/// IDs are random; the reset token of an ID is `HKDF-Expand(key, label |
/// id, 16)` under a random static key (RFC 9000 §10.3.2), so the endpoint
/// can recompute it for a datagram of a connection it no longer has.
pub(crate) struct Ids {
    key: hkdf::Prk,
}

impl Ids {
    /// A fresh random static key.
    fn new() -> Result<Self> {
        let mut secret: [u8; 32] = random::array();
        let key = hkdf::Prk::new(hkdf::Hash::Sha256, &secret);
        secret.fill(0);
        Ok(Self { key: key? })
    }

    /// A random Source Connection ID for a stateless answer.
    fn new_scid() -> ConnectionId {
        let id: [u8; LOCAL_CID_LEN] = random::array();
        ConnectionId::from_slice(&id).unwrap_or(ConnectionId::EMPTY)
    }
}

impl Generator for Ids {
    fn new_cid(&mut self, len: usize) -> ConnectionId {
        let mut id = [0u8; ConnectionId::MAX_LEN];
        let id = &mut id[..len.min(ConnectionId::MAX_LEN)];
        random::fill_bytes(id);
        ConnectionId::from_slice(id).unwrap_or(ConnectionId::EMPTY)
    }

    fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
        let mut info = [0u8; RESET_LABEL.len() + ConnectionId::MAX_LEN];
        let (label, id) = info.split_at_mut(RESET_LABEL.len());
        label.copy_from_slice(RESET_LABEL);
        id[..cid.len()].copy_from_slice(cid.as_slice());
        let mut token = [0u8; ResetToken::LEN];
        // Expanding 16 bytes cannot fail (at most 255 hash outputs).
        if self
            .key
            .expand(&info[..RESET_LABEL.len() + cid.len()], &mut token)
            .is_err()
        {
            random::fill_bytes(&mut token);
        }
        ResetToken::new(token)
    }
}

/// What a datagram calls for, once the router is unlocked.
enum Answer<'d> {
    /// Nothing: drop the datagram for this reason.
    Drop(DropReason),
    /// Keep quiet: the router holds the datagram's part of a ClientHello.
    Held,
    /// Version Negotiation to the client's IDs.
    VersionNegotiation {
        dcid: &'d [u8],
        scid: &'d [u8],
        versions: &'static [Version],
    },
    /// A stateless reset for an unknown connection ID.
    Reset { dcid: ConnectionId, trigger: usize },
    /// An Initial CONNECTION_CLOSE.
    Refuse(Refusal),
}

/// The endpoint of one UDP tunnel.
#[pin_data]
pub(crate) struct Endpoint {
    #[pin]
    router: SpinLockBh<Router<NoConnection, ListenerId>>,
    ids: Ids,
}

impl Endpoint {
    /// An endpoint with no listener, fresh keys and a random route hash key.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        let hash_key = [random::u64(), random::u64()];
        try_pin_init!(Self {
            router <- new_spinlock_bh!(Router::new(RouterConfig::new(LOCAL_CID_LEN), hash_key)),
            ids: Ids::new()?,
        })
    }

    /// Starts routing new connections whose ALPN `alpn` serves to the
    /// listening socket `id`, at most `backlog` of them waiting for
    /// accept(2).
    pub(crate) fn listen(&self, id: ListenerId, alpn: AlpnList, backlog: usize) -> Result {
        let mut router = self.router.lock();
        if let Some(l) = router.listeners.get_mut(id) {
            l.backlog = backlog;
            return Ok(());
        }
        router
            .listeners
            .add(Listener::new(id, alpn, false, backlog))
            .map_err(|_| ENOMEM)
    }

    /// Stops routing to the listening socket `id`.
    pub(crate) fn unlisten(&self, id: ListenerId) {
        let _ = self.router.lock().listeners.remove(id);
    }

    /// Handles a datagram that arrived on `sock`.
    pub(crate) fn receive(&self, sock: &TunnelSock<'_>, mut skb: SkBuff, info: &RecvInfo) {
        if skb.linearize().is_err() {
            skb.drop_with_reason(DropReason::NOMEM);
            return;
        }
        let now = clock::now();
        let reply = {
            let answer = {
                let mut router = self.router.lock();
                // Forget ClientHellos that never completed.
                while router.poll_expired_pending(now).is_some() {}
                let versions = router.config().versions;
                let decision = router.classify(
                    &KernelCrypto,
                    |_| None::<&KernelPacketKey>,
                    skb.data(),
                    info.src.into(),
                    now,
                );
                Self::decide(&mut router, decision, versions)
            };
            match answer {
                Answer::Drop(reason) => Err(reason),
                Answer::Held => Ok(None),
                answer => self.write(&answer).map(Some),
            }
        };
        match reply {
            Err(reason) => skb.drop_with_reason(reason),
            Ok(reply) => {
                skb.consume();
                if let Some(reply) = reply {
                    let opts = SendOptions {
                        src: Some(info.dst),
                        ..Default::default()
                    };
                    // A failed answer is as good as a lost one.
                    let _ = sock.send(reply, &info.src, &opts);
                }
            }
        }
    }

    /// Turns the router's decision into an answer, under the router's lock.
    fn decide<'d>(
        router: &mut Router<NoConnection, ListenerId>,
        decision: Decision<'d, NoConnection, ListenerId>,
        versions: &'static [Version],
    ) -> Answer<'d> {
        match decision {
            Decision::Existing(conn) => match conn {},
            Decision::NewConnection(new) => {
                // Accepted by a listener, which cannot take it yet: undo the
                // admission and refuse.
                router.listeners.dequeue(new.listener);
                router.handshake_finished();
                Answer::Refuse(Refusal {
                    version: new.version,
                    dcid: new.scid,
                    client_dcid: new.dcid,
                    code: TransportErrorCode::CONNECTION_REFUSED,
                    pending: new.pending,
                })
            }
            Decision::Buffered(_) => Answer::Held,
            Decision::SendVersionNegotiation { dcid, scid } => Answer::VersionNegotiation {
                dcid,
                scid,
                versions,
            },
            Decision::Refuse(refusal) => Answer::Refuse(refusal),
            Decision::StatelessReset { dcid, trigger_len } => Answer::Reset {
                dcid,
                trigger: trigger_len,
            },
            // No listener asks for address validation yet.
            Decision::SendRetry(_) => Answer::Drop(DropReason::UNHANDLED_PROTO),
            Decision::Drop(verdict) => Answer::Drop(match verdict {
                Verdict::Malformed
                | Verdict::InitialTooSmall
                | Verdict::ShortDcid
                | Verdict::BadInitial(_) => DropReason::INVALID_PROTO,
                Verdict::UnsupportedVersion => DropReason::UNHANDLED_PROTO,
                Verdict::UnknownConnection
                | Verdict::NoConnectionForPacket
                | Verdict::NotListening => DropReason::NO_SOCKET,
                Verdict::Overloaded => DropReason::PROTO_MEM,
                Verdict::RateLimited | Verdict::PendingFailed => DropReason::NOT_SPECIFIED,
            }),
        }
    }

    /// Writes `answer` into a new skb.
    fn write(&self, answer: &Answer<'_>) -> core::result::Result<SkBuff, DropReason> {
        let mut skb = SkBuff::alloc(TX_HEADROOM, MAX_ANSWER_LEN, GFP_ATOMIC)
            .map_err(|_| DropReason::NOMEM)?;
        let out = skb.put(MAX_ANSWER_LEN).map_err(|_| DropReason::NOMEM)?;
        let written = match *answer {
            Answer::VersionNegotiation {
                dcid,
                scid,
                versions,
            } => write_version_negotiation(dcid, scid, versions, random::u32(), out),
            Answer::Reset { dcid, trigger } => {
                let token = self.ids.reset_token(&dcid);
                let unpredictable: [u8; RESET_RANDOM_LEN] = random::array();
                write_stateless_reset(&token, trigger, &unpredictable, out)
            }
            Answer::Refuse(refusal) => {
                let scid = Ids::new_scid();
                write_refusal(&KernelCrypto, &refusal, &scid, out)
            }
            Answer::Drop(reason) => return Err(reason),
            Answer::Held => return Err(DropReason::NOT_SPECIFIED),
        };
        let len = written.map_err(|e| match e {
            ResponseError::BufferTooShort => DropReason::PKT_TOO_BIG,
            _ => DropReason::NOT_SPECIFIED,
        })?;
        skb.trim(len).map_err(|_| DropReason::NOT_SPECIFIED)?;
        Ok(skb)
    }
}

#[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
#[kernel::macros::kunit_tests(quic_endpoint_glue)]
mod tests {
    use super::*;
    use crate::protocol::cid::reset::MIN_SENT_STATELESS_RESET_LEN;

    #[test]
    fn reset_tokens_are_a_function_of_key_and_id() -> Result {
        let mut ids = Ids::new()?;
        let a = ids.new_cid(LOCAL_CID_LEN);
        let b = ids.new_cid(LOCAL_CID_LEN);
        assert_eq!(a.len(), LOCAL_CID_LEN);
        assert!(a != b);
        // The same ID gets the same token; another ID or key another one.
        assert!(ids.reset_token(&a) == ids.reset_token(&a));
        assert!(ids.reset_token(&a) != ids.reset_token(&b));
        let other = Ids::new()?;
        assert!(other.reset_token(&a) != ids.reset_token(&a));
        // Zero-length and maximal IDs work too.
        assert_eq!(ids.new_cid(0).len(), 0);
        assert_eq!(
            ids.new_cid(ConnectionId::MAX_LEN).len(),
            ConnectionId::MAX_LEN
        );
        Ok(())
    }

    fn endpoint() -> Result<Pin<KBox<Endpoint>>> {
        KBox::pin_init(Endpoint::new(), GFP_KERNEL)
    }

    fn decide(ep: &Endpoint, datagram: &[u8]) -> Option<core::result::Result<SkBuff, DropReason>> {
        let remote: core::net::SocketAddr = kernel::net::addr::SocketAddr::V4 {
            addr: [192, 0, 2, 1],
            port: 4433,
        }
        .into();
        let now = clock::now();
        let answer = {
            let mut router = ep.router.lock();
            let versions = router.config().versions;
            let d = router.classify(
                &KernelCrypto,
                |_| None::<&KernelPacketKey>,
                datagram,
                remote,
                now,
            );
            Endpoint::decide(&mut router, d, versions)
        };
        match answer {
            Answer::Held => None,
            Answer::Drop(r) => Some(Err(r)),
            a => Some(ep.write(&a)),
        }
    }

    /// A 1200-byte long header of the reserved version 0x?a?a?a?a.
    fn unknown_version(out: &mut KVec<u8>) -> Result {
        out.extend_from_slice(
            &[0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 4, 1, 2, 3, 4, 3, 5, 6, 7],
            GFP_KERNEL,
        )?;
        out.resize(1200, 0, GFP_KERNEL)?;
        Ok(())
    }

    #[test]
    fn unknown_version_gets_version_negotiation() -> Result {
        let ep = endpoint()?;
        let mut d = KVec::new();
        unknown_version(&mut d)?;
        // Nobody listens: nothing to negotiate for.
        assert!(matches!(decide(&ep, &d), Some(Err(_))));
        ep.listen(ListenerId(1), AlpnList::new(), 8)?;
        let Some(Ok(vn)) = decide(&ep, &d) else {
            return Err(EINVAL);
        };
        let p = vn.data();
        // Long header, version 0, the client's IDs swapped.
        assert_eq!((p[0] & 0x80), 0x80);
        assert_eq!(&p[1..5], &[0, 0, 0, 0]);
        assert_eq!(&p[5..9], &[3, 5, 6, 7]);
        assert_eq!(&p[9..14], &[4, 1, 2, 3, 4]);
        let versions = &p[14..];
        assert_eq!((versions.len() % 4), 0);
        let offers = |v: u32| versions.chunks(4).any(|c| c == v.to_be_bytes());
        assert!(offers(1));
        assert!(offers(0x6b33_43cf));
        // A greased version (0x?a?a?a?a) keeps clients honest.
        assert!(versions
            .chunks(4)
            .any(|c| c.iter().all(|b| b & 0x0f == 0x0a)));
        // Too small to be a first Initial: dropped (RFC 9000 §5.2.2).
        d.truncate(1199);
        assert!(matches!(decide(&ep, &d), Some(Err(_))));
        ep.unlisten(ListenerId(1));
        Ok(())
    }

    #[test]
    fn unknown_short_header_gets_stateless_reset() -> Result {
        let ep = endpoint()?;
        let mut d = KVec::new();
        d.push(0x40, GFP_KERNEL)?;
        d.extend_from_slice(&[0x11; LOCAL_CID_LEN], GFP_KERNEL)?;
        d.resize(100, 0x22, GFP_KERNEL)?;
        let Some(Ok(reset)) = decide(&ep, &d) else {
            return Err(EINVAL);
        };
        let p = reset.data();
        // Smaller than the trigger, looks like a short header, ends in the
        // token of the unknown ID.
        assert!(p.len() < d.len());
        assert!(p.len() >= MIN_SENT_STATELESS_RESET_LEN);
        assert_eq!((p[0] & 0xc0), 0x40);
        let cid = ConnectionId::from_slice(&[0x11; LOCAL_CID_LEN]).map_err(|_| EINVAL)?;
        let token = ep.ids.reset_token(&cid);
        assert_eq!(&p[p.len() - ResetToken::LEN..], token.as_bytes());
        // Too small to answer without risking a loop.
        d.truncate(MIN_SENT_STATELESS_RESET_LEN);
        assert!(matches!(decide(&ep, &d), Some(Err(_))));
        Ok(())
    }
}
