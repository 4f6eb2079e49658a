// SPDX-License-Identifier: GPL-2.0

//! What the paths of a connection report to it.
//!
//! [`super::migration::Paths`] queues a [`PathEvent`] for every change the
//! connection must act on: a new active path (reset congestion control, send
//! the application a CONNECTION_MIGRATION event, switch the peer connection
//! ID), a validated path, a path gone (retire its peer connection ID), or no
//! path left at all.

use super::PathId;

/// What made the active path change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationKind {
    /// This endpoint moved to a new local address (the
    /// CONNECTION_MIGRATION socket option).
    Local,
    /// The peer moved, or came back to an earlier path.
    Peer,
    /// The client moved to the server's preferred address.
    PreferredAddress,
    /// The path the peer moved to failed validation: back to the last
    /// validated one.
    Revert,
}

impl MigrationKind {
    /// Whether this endpoint moved, rather than following its peer.
    pub const fn is_local(self) -> bool {
        matches!(self, Self::Local | Self::PreferredAddress)
    }
}

/// A change to the connection's paths, drained with
/// [`Paths::poll_event`](super::migration::Paths::poll_event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathEvent {
    /// The active path changed.
    Migrated {
        /// Why.
        kind: MigrationKind,
        /// The previous active path.
        from: PathId,
        /// The new active path.
        to: PathId,
        /// Whether congestion control and RTT estimation restart from their
        /// initial values: always, except when only the peer's port changed
        /// (§9.4). Going back to a known path may restore saved state.
        reset_congestion: bool,
    },
    /// A PATH_RESPONSE validated the path.
    Validated {
        /// The path.
        id: PathId,
    },
    /// The path is gone: failed, superseded or no longer needed.
    Abandoned {
        /// The path.
        id: PathId,
        /// The peer connection ID to retire: the path's, unless a remaining
        /// path shares it.
        dcid_seq: Option<u64>,
        /// Whether its validation failed.
        validation_failed: bool,
    },
    /// No validated path is left: the connection must be discarded
    /// silently (§9.3.2).
    NoViablePath,
}

const MAX_EVENTS: usize = 8;

/// A small ring of events. No call queues more than three; if the caller
/// does not drain them, the oldest are dropped.
#[derive(Clone, Copy, Debug)]
pub(super) struct Events {
    ring: [Option<PathEvent>; MAX_EVENTS],
    head: usize,
    len: usize,
}

impl Events {
    pub(super) const fn new() -> Self {
        Self {
            ring: [None; MAX_EVENTS],
            head: 0,
            len: 0,
        }
    }

    pub(super) fn push(&mut self, e: PathEvent) {
        if self.len == MAX_EVENTS {
            self.head = (self.head + 1) % MAX_EVENTS;
            self.len -= 1;
        }
        if let Some(slot) = self.ring.get_mut((self.head + self.len) % MAX_EVENTS) {
            *slot = Some(e);
            self.len += 1;
        }
    }

    pub(super) fn pop(&mut self) -> Option<PathEvent> {
        if self.len == 0 {
            return None;
        }
        let e = self.ring.get_mut(self.head)?.take();
        self.head = (self.head + 1) % MAX_EVENTS;
        self.len -= 1;
        e
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_path_event))]
mod tests {
    use super::*;

    #[test]
    fn event_ring_drops_the_oldest() {
        let mut events = Events::new();
        for i in 0..10 {
            events.push(PathEvent::Validated { id: PathId(i) });
        }
        assert_eq!(events.pop(), Some(PathEvent::Validated { id: PathId(2) }));
        for _ in 0..7 {
            assert!(events.pop().is_some());
        }
        assert_eq!(events.pop(), None);
    }
}
