// SPDX-License-Identifier: GPL-2.0

//! The endpoint of a UDP tunnel: the core's [`Router`] on the receive path.
//!
//! Every datagram that reaches a tunnel goes through [`Endpoint::receive`],
//! in softirq. The router tells what it is, and the endpoint acts:
//!
//! - a packet of a known connection (by connection ID, or by a client's
//!   first Destination Connection ID and address) goes to its socket
//!   ([`crate::conn`]);
//! - a client's first Initial whose ClientHello a listening socket serves
//!   (by ALPN) becomes a request on that listener's queue, with the
//!   datagrams that carried it; accept(2) turns it into a connection
//!   ([`Endpoint::take_request`]). Datagrams of a ClientHello spanning
//!   several are held until it is complete;
//! - a long header of a version this kernel does not implement, in a
//!   datagram large enough to be a client's first (1200 bytes), gets a
//!   Version Negotiation packet (RFC 9000 §6.1, §5.2.2);
//! - a short header for a connection ID nobody here issued gets a stateless
//!   reset (RFC 9000 §10.3), with the token of the endpoint's static key
//!   ([`Ids`]);
//! - an Initial no listener serves gets an Initial CONNECTION_CLOSE with
//!   no_application_protocol (RFC 9001 §8.1), and one that finds the
//!   listener's queue full CONNECTION_REFUSED (RFC 9000 §5.2.2);
//! - anything else is dropped.
//!
//! The router's limits bound the work and state per datagram and rate
//! limit every stateless answer. Nothing here sleeps: keys come from the
//! kernel's library crypto and memory from `GFP_ATOMIC`. The router and
//! the [`Table`] of what its routes point at live under one BH spinlock,
//! which is never held while a connection is locked the other way round:
//! the receive path unlocks the endpoint before it locks a connection.

use crate::{
    clock,
    crypto::{KernelCrypto, KernelPacketKey},
    protocol::{
        cid::{local::RouteChange, ConnectionId},
        endpoint::{
            alpn::AlpnList,
            decision::{Decision, DropReason as Verdict, NewConnection, Refusal},
            demux::{Router, RouterConfig},
            listener::Listener,
            pending::PendingId,
            response::{
                write_refusal, write_stateless_reset, write_version_negotiation, ResponseError,
            },
            routes::RouteKey,
        },
        packet::version::Version,
    },
    socket::Quic,
};
use kernel::{
    net::{
        protocol::ProtoSock,
        skbuff::{DropReason, SkBuff},
        udp_tunnel::{RecvInfo, SendOptions, TunnelSock, TX_HEADROOM},
    },
    new_spinlock_bh,
    prelude::*,
    random,
    sync::{aref::ARef, Arc, SpinLockBh},
};

mod ids;
mod table;

pub(crate) use ids::{ConnIds, Ids, LOCAL_CID_LEN};
pub(crate) use table::Handle;
use table::{Entry, Listening, Table};

/// The largest stateless answer: a Version Negotiation echoing two 255-byte
/// connection IDs of an unknown version (RFC 9000 §17.2.1) with eight
/// versions is 549 bytes; resets and refusals are much smaller.
const MAX_ANSWER_LEN: usize = 640;

/// Random bytes in a stateless reset: with the token, resets of up to 80
/// bytes, one byte shorter than their trigger when it is smaller.
const RESET_RANDOM_LEN: usize = 64;

/// Datagrams kept with a request until accept(2): a ClientHello spans at
/// most a few, and a client retransmits the rest.
const MAX_REQUEST_DATAGRAMS: usize = 8;

/// Datagrams held for ClientHellos spanning several, over all clients.
const MAX_HELD_DATAGRAMS: usize = 64;

/// A client's first Initial, waiting for its listener's accept(2).
pub(crate) struct Request {
    /// The router's decision: versions, connection IDs, ALPN choice.
    pub(crate) new: NewConnection<Handle>,
    /// The local address the client sent to.
    pub(crate) local: kernel::net::addr::SocketAddr,
    /// The datagrams that came for it, oldest first.
    pub(crate) datagrams: KVec<(SkBuff, RecvInfo)>,
}

/// The router and what its routes point at.
struct Routing {
    router: Router<Handle, Handle>,
    table: Table,
    /// Datagrams of ClientHellos not complete yet, by pending id.
    held: KVec<(PendingId, SkBuff, RecvInfo)>,
}

impl Routing {
    /// Frees the datagrams held for pending ClientHellos that expired.
    fn expire(&mut self, now: crate::protocol::time::Instant) {
        while let Some(id) = self.router.poll_expired_pending(now) {
            self.held.retain(|(p, _, _)| *p != id);
        }
    }

    /// Removes `h`'s entry and every route to it.
    fn forget(&mut self, h: Handle) -> Option<Entry> {
        self.router.routes.retain(|_, to| to != h);
        self.table.remove(h)
    }
}

/// What the receive path does once the endpoint is unlocked.
enum Action {
    /// Drop the datagram.
    Drop(DropReason),
    /// The table keeps the datagram; wake a listener if any.
    Kept(Option<ARef<ProtoSock<Quic>>>),
    /// Hand the datagram to a connection.
    Deliver(ARef<ProtoSock<Quic>>),
    /// Send this stateless answer.
    Send(SkBuff),
    /// Answer with a stateless reset for this connection ID.
    Reset { dcid: ConnectionId, trigger: usize },
    /// Answer with an Initial CONNECTION_CLOSE.
    Refuse(Refusal),
}

/// The endpoint of one UDP tunnel.
#[pin_data]
pub(crate) struct Endpoint {
    #[pin]
    routing: SpinLockBh<Routing>,
    ids: Arc<Ids>,
}

impl Endpoint {
    /// An endpoint with no listener, fresh keys and a random route hash key.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        let hash_key = [random::u64(), random::u64()];
        try_pin_init!(Self {
            routing <- new_spinlock_bh!(Routing {
                router: Router::new(RouterConfig::new(LOCAL_CID_LEN), hash_key),
                table: Table::default(),
                held: KVec::new(),
            }),
            ids: Arc::new(Ids::new()?, GFP_KERNEL)?,
        })
    }

    /// The endpoint's reset key, for its connections' generators.
    pub(crate) fn ids(&self) -> &Arc<Ids> {
        &self.ids
    }

    /// Starts routing new connections whose ALPN `alpn` serves to the
    /// listening socket `sk`, at most `backlog` of them waiting for
    /// accept(2). Returns the listener's handle.
    pub(crate) fn listen(
        &self,
        sk: &ProtoSock<Quic>,
        alpn: AlpnList,
        backlog: usize,
    ) -> Result<Handle> {
        let mut r = self.routing.lock();
        let listening = Listening {
            sk: ARef::from(sk),
            queue: KVec::new(),
        };
        let h = r.table.insert(Entry::Listener(listening))?;
        if let Err(e) = r
            .router
            .listeners
            .add(Listener::new(h, alpn, false, backlog))
        {
            let _ = r.table.remove(h);
            return Err(e.into());
        }
        Ok(h)
    }

    /// Changes the backlog of the listener `h` (a second listen(2)).
    pub(crate) fn set_backlog(&self, h: Handle, backlog: usize) {
        if let Some(l) = self.routing.lock().router.listeners.get_mut(h) {
            l.backlog = backlog;
        }
    }

    /// Stops routing to the listener `h`; its requests go with it (their
    /// clients time out, or retry to another listener).
    pub(crate) fn unlisten(&self, h: Handle) {
        let mut r = self.routing.lock();
        let _ = r.router.listeners.remove(h);
        if let Some(Entry::Listener(l)) = r.forget(h) {
            for req in l.queue.iter() {
                if let Some(Entry::Request(_)) = r.forget(*req) {
                    r.router.handshake_finished();
                }
            }
        }
    }

    /// Whether the listener `h` has a request waiting.
    pub(crate) fn has_request(&self, h: Handle) -> bool {
        match self.routing.lock().table.get(h) {
            Some(Entry::Listener(l)) => !l.queue.is_empty(),
            _ => false,
        }
    }

    /// Takes the oldest request of the listener `h`, for accept(2): its
    /// handle stays reserved (datagrams for it are dropped meanwhile) until
    /// [`Endpoint::attach`] or [`Endpoint::release`].
    pub(crate) fn take_request(&self, h: Handle) -> Option<(Handle, KBox<Request>)> {
        let mut r = self.routing.lock();
        loop {
            let Some(Entry::Listener(l)) = r.table.get_mut(h) else {
                return None;
            };
            if l.queue.is_empty() {
                return None;
            }
            let req = l.queue.remove(0).ok()?;
            r.router.listeners.dequeue(h);
            // A request freed by its listener's close is gone: try the next.
            if let Ok(Entry::Request(request)) = r.table.replace(req, Entry::Accepting) {
                return Some((req, request));
            }
        }
    }

    /// Routes the socket of a new connection: a client's (a new handle), or
    /// one accept(2) made for request `h`.
    pub(crate) fn attach(&self, sk: &ProtoSock<Quic>, h: Option<Handle>) -> Result<Handle> {
        let mut r = self.routing.lock();
        let entry = Entry::Conn(ARef::from(sk));
        match h {
            None => r.table.insert(entry),
            Some(h) => match r.table.replace(h, entry) {
                Ok(_) => Ok(h),
                Err(_) => Err(EINVAL),
            },
        }
    }

    /// Forgets the connection (or reserved request) `h` and its routes.
    pub(crate) fn release(&self, h: Handle) {
        let old = self.routing.lock().forget(h);
        // The socket reference goes after the lock.
        drop(old);
    }

    /// Applies a connection's route change.
    pub(crate) fn route(&self, h: Handle, change: RouteChange) {
        let mut r = self.routing.lock();
        match change {
            RouteChange::Add(cid) => {
                // A full table only costs this ID: the peer uses another.
                let _ = r.router.routes.insert(RouteKey::Cid(cid), h);
            }
            RouteChange::Remove(cid) => {
                if r.router.routes.get(&RouteKey::Cid(cid)) == Some(h) {
                    let _ = r.router.routes.remove(&RouteKey::Cid(cid));
                }
            }
        }
    }

    /// Removes the route by a client's first Destination Connection ID and
    /// address, once the server's handshake is done.
    pub(crate) fn remove_initial_route(&self, dcid: ConnectionId, remote: core::net::SocketAddr) {
        let _ = self
            .routing
            .lock()
            .router
            .routes
            .remove(&RouteKey::Initial(dcid, remote));
    }

    /// A connection accepted from a request finished its handshake, or
    /// closed during it: one fewer for the router's limit.
    pub(crate) fn handshake_finished(&self) {
        self.routing.lock().router.handshake_finished();
    }

    /// Handles a datagram that arrived on `sock`.
    pub(crate) fn receive(&self, sock: &TunnelSock<'_>, mut skb: SkBuff, info: &RecvInfo) {
        if skb.linearize().is_err() {
            skb.drop_with_reason(DropReason::NOMEM);
            return;
        }
        let now = clock::now();
        let (action, skb) = {
            let mut r = self.routing.lock();
            r.expire(now);
            self.decide(&mut r, skb, info, now)
        };
        match action {
            Action::Drop(reason) => {
                if let Some(skb) = skb {
                    skb.drop_with_reason(reason);
                }
            }
            Action::Kept(listener) => {
                if let Some(sk) = listener {
                    sk.data_ready();
                }
            }
            Action::Deliver(sk) => {
                if let Some(skb) = skb {
                    crate::conn::deliver(&sk, skb, info);
                }
            }
            Action::Send(answer) => {
                if let Some(skb) = skb {
                    skb.consume();
                }
                Self::send(sock, answer, info);
            }
            Action::Reset { dcid, trigger } => {
                if let Some(skb) = skb {
                    skb.consume();
                }
                let token = self.ids.reset_token(&dcid);
                let unpredictable: [u8; RESET_RANDOM_LEN] = random::array();
                if let Ok(answer) =
                    Self::answer(|out| write_stateless_reset(&token, trigger, &unpredictable, out))
                {
                    Self::send(sock, answer, info);
                }
            }
            Action::Refuse(refusal) => {
                if let Some(skb) = skb {
                    skb.consume();
                }
                let scid = Ids::random_cid(LOCAL_CID_LEN);
                if let Ok(answer) =
                    Self::answer(|out| write_refusal(&KernelCrypto, &refusal, &scid, out))
                {
                    Self::send(sock, answer, info);
                }
            }
        }
    }

    /// Decides under the endpoint's lock. Returns the action and the
    /// datagram, unless the table kept it.
    fn decide(
        &self,
        r: &mut Routing,
        skb: SkBuff,
        info: &RecvInfo,
        now: crate::protocol::time::Instant,
    ) -> (Action, Option<SkBuff>) {
        let versions = r.router.config().versions;
        // The decision borrows the datagram: turn it into what outlives it.
        let decision = match r.router.classify(
            &KernelCrypto,
            |_| None::<&KernelPacketKey>,
            skb.data(),
            info.src.into(),
            now,
        ) {
            Decision::SendVersionNegotiation { dcid, scid } => {
                let grease = random::u32();
                return match Self::answer(|out| {
                    write_version_negotiation(dcid, scid, versions, grease, out)
                }) {
                    Ok(vn) => (Action::Send(vn), Some(skb)),
                    Err(reason) => (Action::Drop(reason), Some(skb)),
                };
            }
            Decision::Existing(h) => Owned::Existing(h),
            Decision::NewConnection(new) => Owned::New(new),
            Decision::Buffered(id) => Owned::Buffered(id),
            Decision::Refuse(refusal) => Owned::Action(Action::Refuse(refusal)),
            Decision::StatelessReset { dcid, trigger_len } => Owned::Action(Action::Reset {
                dcid,
                trigger: trigger_len,
            }),
            // No listener asks for address validation yet.
            Decision::SendRetry(_) => Owned::Action(Action::Drop(DropReason::UNHANDLED_PROTO)),
            Decision::Drop(verdict) => Owned::Action(Action::Drop(drop_reason(verdict))),
        };
        match decision {
            Owned::Action(a) => (a, Some(skb)),
            Owned::Existing(h) => match r.table.get_mut(h) {
                Some(Entry::Conn(sk)) => (Action::Deliver(sk.clone()), Some(skb)),
                Some(Entry::Request(req)) if req.datagrams.len() < MAX_REQUEST_DATAGRAMS => {
                    keep(&mut req.datagrams, (skb, *info))
                }
                _ => (Action::Drop(DropReason::NO_SOCKET), Some(skb)),
            },
            Owned::Buffered(id) => {
                if r.held.len() >= MAX_HELD_DATAGRAMS {
                    return (Action::Drop(DropReason::PROTO_MEM), Some(skb));
                }
                if r.held.reserve(1, GFP_ATOMIC).is_err() {
                    return (Action::Drop(DropReason::NOMEM), Some(skb));
                }
                match r.held.push_within_capacity((id, skb, *info)) {
                    Ok(()) => (Action::Kept(None), None),
                    Err(e) => (Action::Drop(DropReason::NOMEM), Some((e.0).1)),
                }
            }
            Owned::New(new) => Self::request(r, new, skb, info),
        }
    }

    /// Queues a new connection on its listener.
    fn request(
        r: &mut Routing,
        new: NewConnection<Handle>,
        skb: SkBuff,
        info: &RecvInfo,
    ) -> (Action, Option<SkBuff>) {
        let undo = |r: &mut Routing| {
            r.router.listeners.dequeue(new.listener);
            r.router.handshake_finished();
        };
        let listener = match r.table.get(new.listener) {
            Some(Entry::Listener(l)) => l.sk.clone(),
            _ => {
                undo(r);
                return (Action::Drop(DropReason::NO_SOCKET), Some(skb));
            }
        };
        // The datagrams held for its ClientHello come first.
        let mut datagrams = KVec::new();
        if let Some(id) = new.pending {
            let mut i = 0;
            while i < r.held.len() && datagrams.len() + 1 < MAX_REQUEST_DATAGRAMS {
                if r.held[i].0 != id {
                    i += 1;
                    continue;
                }
                match r.held.remove(i) {
                    Ok((_, held, held_info)) => {
                        if let (_, Some(lost)) = keep(&mut datagrams, (held, held_info)) {
                            lost.drop_with_reason(DropReason::NOMEM);
                        }
                    }
                    Err(_) => break,
                }
            }
            // What did not fit goes: the client sends it again.
            r.held.retain(|(p, _, _)| *p != id);
        }
        let remote = new.remote;
        let dcid = new.dcid;
        let request = Request {
            new,
            local: info.dst,
            datagrams,
        };
        let mut request = match KBox::new(request, GFP_ATOMIC) {
            Ok(b) => b,
            Err(_) => {
                undo(r);
                return (Action::Drop(DropReason::NOMEM), Some(skb));
            }
        };
        if let (_, Some(skb)) = keep(&mut request.datagrams, (skb, *info)) {
            undo(r);
            return (Action::Drop(DropReason::NOMEM), Some(skb));
        }
        let h = match r.table.insert(Entry::Request(request)) {
            Ok(h) => h,
            Err(_) => {
                undo(r);
                return (Action::Drop(DropReason::NOMEM), None);
            }
        };
        let queued = match r.table.get_mut(new.listener) {
            Some(Entry::Listener(l)) => l.queue.push(h, GFP_ATOMIC).is_ok(),
            _ => false,
        };
        if !queued
            || r.router
                .routes
                .insert(RouteKey::Initial(dcid, remote), h)
                .is_err()
        {
            let _ = r.forget(h);
            undo(r);
            return (Action::Drop(DropReason::NOMEM), None);
        }
        (Action::Kept(Some(listener)), None)
    }

    /// Writes a stateless answer into a new skb.
    fn answer(
        write: impl FnOnce(&mut [u8]) -> core::result::Result<usize, ResponseError>,
    ) -> core::result::Result<SkBuff, DropReason> {
        let mut skb = SkBuff::alloc(TX_HEADROOM, MAX_ANSWER_LEN, GFP_ATOMIC)
            .map_err(|_| DropReason::NOMEM)?;
        let out = skb.put(MAX_ANSWER_LEN).map_err(|_| DropReason::NOMEM)?;
        let len = write(out).map_err(|e| match e {
            ResponseError::BufferTooShort => DropReason::PKT_TOO_BIG,
            _ => DropReason::NOT_SPECIFIED,
        })?;
        skb.trim(len).map_err(|_| DropReason::NOT_SPECIFIED)?;
        Ok(skb)
    }

    /// Sends a stateless answer back to where `info`'s datagram came from.
    fn send(sock: &TunnelSock<'_>, answer: SkBuff, info: &RecvInfo) {
        let opts = SendOptions {
            src: Some(info.dst),
            ..Default::default()
        };
        // A failed answer is as good as a lost one.
        let _ = sock.send(answer, &info.src, &opts);
    }
}

/// Appends a datagram to `list`, or gives it back if memory is short.
fn keep(list: &mut KVec<(SkBuff, RecvInfo)>, d: (SkBuff, RecvInfo)) -> (Action, Option<SkBuff>) {
    if list.reserve(1, GFP_ATOMIC).is_err() {
        return (Action::Drop(DropReason::NOMEM), Some(d.0));
    }
    match list.push_within_capacity(d) {
        Ok(()) => (Action::Kept(None), None),
        Err(e) => (Action::Drop(DropReason::NOMEM), Some((e.0).0)),
    }
}

/// A decision that no longer borrows the datagram.
enum Owned {
    Existing(Handle),
    New(NewConnection<Handle>),
    Buffered(PendingId),
    Action(Action),
}

/// The drop reason reported for a router verdict.
fn drop_reason(verdict: Verdict) -> DropReason {
    match verdict {
        Verdict::Malformed
        | Verdict::InitialTooSmall
        | Verdict::ShortDcid
        | Verdict::BadInitial(_) => DropReason::INVALID_PROTO,
        Verdict::UnsupportedVersion => DropReason::UNHANDLED_PROTO,
        Verdict::UnknownConnection | Verdict::NoConnectionForPacket | Verdict::NotListening => {
            DropReason::NO_SOCKET
        }
        Verdict::Overloaded => DropReason::PROTO_MEM,
        Verdict::RateLimited | Verdict::PendingFailed => DropReason::NOT_SPECIFIED,
    }
}

/// The versions the endpoint accepts, most preferred first.
#[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
fn versions() -> &'static [Version] {
    RouterConfig::new(LOCAL_CID_LEN).versions
}

#[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
#[kernel::macros::kunit_tests(quic_endpoint_glue)]
mod tests {
    use super::*;
    use crate::protocol::cid::reset::MIN_SENT_STATELESS_RESET_LEN;

    fn endpoint() -> Result<Pin<KBox<Endpoint>>> {
        KBox::pin_init(Endpoint::new(), GFP_KERNEL)
    }

    fn info() -> RecvInfo {
        let a = |port| kernel::net::addr::SocketAddr::V4 {
            addr: [127, 0, 0, 1],
            port,
        };
        RecvInfo {
            src: a(4433),
            dst: a(443),
            ecn: 0,
        }
    }

    /// What the endpoint does with `datagram`: the answer it would send, or
    /// the drop.
    fn answer_to(ep: &Endpoint, datagram: &[u8]) -> Result<core::result::Result<SkBuff, ()>> {
        let mut skb = SkBuff::alloc(0, datagram.len(), GFP_KERNEL)?;
        skb.put_data(datagram)?;
        let (action, skb) = {
            let mut r = ep.routing.lock();
            ep.decide(&mut r, skb, &info(), clock::now())
        };
        drop(skb);
        Ok(match action {
            Action::Send(answer) => Ok(answer),
            Action::Reset { dcid, trigger } => {
                let token = ep.ids.reset_token(&dcid);
                let unpredictable: [u8; RESET_RANDOM_LEN] = random::array();
                Endpoint::answer(|out| write_stateless_reset(&token, trigger, &unpredictable, out))
                    .map_err(|_| ())
            }
            _ => Err(()),
        })
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
        assert!(answer_to(&ep, &d)?.is_err());
        // A listener, as the router knows it (no socket behind it).
        {
            let mut r = ep.routing.lock();
            let h = r.table.insert(Entry::Accepting)?;
            r.router
                .listeners
                .add(Listener::new(h, AlpnList::new(), false, 8))?;
        }
        let Ok(vn) = answer_to(&ep, &d)? else {
            return Err(EINVAL);
        };
        let p = vn.data();
        // Long header, version 0, the client's IDs swapped.
        assert_eq!((p[0] & 0x80), 0x80);
        assert_eq!(&p[1..5], &[0, 0, 0, 0]);
        assert_eq!(&p[5..9], &[3, 5, 6, 7]);
        assert_eq!(&p[9..14], &[4, 1, 2, 3, 4]);
        let offered = &p[14..];
        assert_eq!((offered.len() % 4), 0);
        let offers = |v: u32| offered.chunks(4).any(|c| c == v.to_be_bytes());
        for v in versions() {
            assert!(offers(v.0));
        }
        // A greased version (0x?a?a?a?a) keeps clients honest.
        assert!(offered
            .chunks(4)
            .any(|c| c.iter().all(|b| b & 0x0f == 0x0a)));
        // Too small to be a first Initial: dropped (RFC 9000 §5.2.2).
        d.truncate(1199);
        assert!(answer_to(&ep, &d)?.is_err());
        Ok(())
    }

    #[test]
    fn unknown_short_header_gets_stateless_reset() -> Result {
        let ep = endpoint()?;
        let mut d = KVec::new();
        d.push(0x40, GFP_KERNEL)?;
        d.extend_from_slice(&[0x11; LOCAL_CID_LEN], GFP_KERNEL)?;
        d.resize(100, 0x22, GFP_KERNEL)?;
        let Ok(reset) = answer_to(&ep, &d)? else {
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
        assert_eq!(&p[p.len() - 16..], token.as_bytes());
        // Too small to answer without risking a loop.
        d.truncate(MIN_SENT_STATELESS_RESET_LEN);
        assert!(answer_to(&ep, &d)?.is_err());
        Ok(())
    }
}
