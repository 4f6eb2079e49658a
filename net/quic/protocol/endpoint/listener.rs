// SPDX-License-Identifier: GPL-2.0

//! The listening sockets of one address and port, and their backlogs.
//!
//! Every listener has an ALPN list ([`AlpnList`]), a flag asking for
//! address validation with Retry (`quic_config.validate_peer_address`), and
//! a backlog: the connections created for it that `accept()` has not taken
//! yet, handshaking or done. A listener whose backlog is full refuses new
//! connections, as TCP's does, rather than queueing unbounded state.

use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::endpoint::alpn::{select_listener, AlpnList, Selection};
use crate::protocol::endpoint::client_hello::AlpnProtocols;

/// A listening socket, identified by `L`.
#[derive(Debug)]
pub struct Listener<L> {
    /// The socket.
    pub id: L,
    /// The ALPN protocols it serves, most preferred first.
    pub alpn: AlpnList,
    /// Whether a client must prove its address with a Retry token first.
    pub validate_address: bool,
    /// The most connections queued for `accept()` at once.
    pub backlog: usize,
    queued: usize,
}

impl<L> Listener<L> {
    /// A listener with an empty queue.
    pub fn new(id: L, alpn: AlpnList, validate_address: bool, backlog: usize) -> Self {
        Self {
            id,
            alpn,
            validate_address,
            backlog,
            queued: 0,
        }
    }

    /// The connections queued for this listener.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Whether another connection fits the backlog.
    pub fn has_room(&self) -> bool {
        self.queued < self.backlog
    }
}

/// The listeners of one address and port, in the order they started
/// listening.
#[derive(Debug)]
pub struct Listeners<L> {
    list: Vec<Listener<L>>,
}

impl<L: Copy + PartialEq> Default for Listeners<L> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L: Copy + PartialEq> Listeners<L> {
    /// No listener.
    pub const fn new() -> Self {
        Self { list: Vec::new() }
    }

    /// Adds a listener after the others.
    pub fn add(&mut self, listener: Listener<L>) -> Result<(), AllocError> {
        self.list.push(listener, GFP)
    }

    /// Removes listener `id`, returning it.
    pub fn remove(&mut self, id: L) -> Option<Listener<L>> {
        let i = self.list.iter().position(|l| l.id == id)?;
        self.list.remove(i).ok()
    }

    /// Listener `id`.
    pub fn get(&self, id: L) -> Option<&Listener<L>> {
        self.list.iter().find(|l| l.id == id)
    }

    /// Listener `id`, to change its settings.
    pub fn get_mut(&mut self, id: L) -> Option<&mut Listener<L>> {
        self.list.iter_mut().find(|l| l.id == id)
    }

    /// Whether there is no listener.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether some listener validates addresses with Retry.
    pub fn any_validates(&self) -> bool {
        self.list.iter().any(|l| l.validate_address)
    }

    /// The listener for a client offering `alpn`, and its protocol choice.
    pub fn select(&self, alpn: Option<AlpnProtocols<'_>>) -> Option<(&Listener<L>, Selection)> {
        select_listener(self.list.iter().map(|l| (l, &l.alpn)), alpn)
    }

    /// Counts a connection created for listener `id`.
    pub(crate) fn enqueue(&mut self, id: L) {
        if let Some(l) = self.get_mut(id) {
            l.queued = l.queued.saturating_add(1);
        }
    }

    /// A connection of listener `id` left its queue: `accept()` took it, or
    /// it closed first.
    pub fn dequeue(&mut self, id: L) {
        if let Some(l) = self.get_mut(id) {
            l.queued = l.queued.saturating_sub(1);
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_listener))]
mod tests {
    use super::*;
    use crate::protocol::endpoint::alpn::AlpnError;

    #[test]
    fn select_and_backlog() -> Result<(), AlpnError> {
        let mut ls = Listeners::new();
        let smb = AlpnList::from_socket_option(b"smb")?;
        let h3 = AlpnList::from_socket_option(b"h3")?;
        ls.add(Listener::new(1u8, smb, false, 1))?;
        ls.add(Listener::new(2u8, h3, true, 2))?;
        assert!(ls.any_validates());
        let offer = AlpnProtocols::checked(b"\x02h3").ok();
        let (l, sel) = ls.select(offer.clone()).ok_or(AlpnError::InvalidName)?;
        assert_eq!((l.id, sel), (2, Selection::Protocol(0)));
        ls.enqueue(2);
        ls.enqueue(2);
        assert!(ls.get(2).is_some_and(|l| !l.has_room()));
        ls.dequeue(2);
        assert!(ls.get(2).is_some_and(|l| l.has_room() && l.queued() == 1));
        assert!(ls.select(None).is_none());
        assert!(ls.remove(2).is_some());
        assert!(ls.select(offer).is_none());
        assert!(!ls.any_validates());
        assert!(ls.remove(2).is_none());
        Ok(())
    }
}
