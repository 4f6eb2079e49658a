// SPDX-License-Identifier: GPL-2.0

//! What an endpoint's routes point at: listening sockets, connection
//! requests waiting for accept(2), and connections.
//!
//! The core's router maps connection IDs (and a client's first Destination
//! Connection ID with its address) to a [`Handle`]: an index into this
//! table with a generation, so that a stale handle (its entry was removed
//! and the slot reused) finds nothing. Entries hold references on their
//! sockets; the table and the router live under the endpoint's lock.

use super::Request;
use crate::socket::Quic;
use kernel::{net::protocol::ProtoSock, prelude::*, sync::aref::ARef};

/// An entry of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handle {
    index: u32,
    gen: u32,
}

/// A listening socket and the requests it has not accepted yet, oldest
/// first.
pub(crate) struct Listening {
    pub(crate) sk: ARef<ProtoSock<Quic>>,
    pub(crate) queue: KVec<Handle>,
}

/// What a handle stands for.
pub(crate) enum Entry {
    /// A listening socket.
    Listener(Listening),
    /// A client's first Initial, waiting for its listener's accept(2).
    Request(KBox<Request>),
    /// accept(2) is making the request's socket.
    Accepting,
    /// A connection.
    Conn(ARef<ProtoSock<Quic>>),
}

struct Slot {
    gen: u32,
    entry: Option<Entry>,
}

/// The table.
///
/// # Invariants
///
/// `free` lists exactly the indices of the slots without an entry, and has
/// room for every slot (so freeing never allocates).
#[derive(Default)]
pub(crate) struct Table {
    slots: KVec<Slot>,
    free: KVec<u32>,
}

impl Table {
    /// Adds `entry`; fails with `ENOMEM` (or `ENOSPC` past 2^32 entries).
    pub(crate) fn insert(&mut self, entry: Entry) -> Result<Handle> {
        if let Some(index) = self.free.pop() {
            let slot = self.slots.get_mut(index as usize).ok_or(EINVAL)?;
            slot.entry = Some(entry);
            return Ok(Handle {
                index,
                gen: slot.gen,
            });
        }
        let index = u32::try_from(self.slots.len()).map_err(|_| ENOSPC)?;
        // INVARIANT: room in `free` for the new slot, before it exists.
        self.free.reserve(1, GFP_ATOMIC)?;
        self.slots.push(
            Slot {
                gen: 0,
                entry: Some(entry),
            },
            GFP_ATOMIC,
        )?;
        Ok(Handle { index, gen: 0 })
    }

    fn slot(&self, h: Handle) -> Option<&Slot> {
        self.slots.get(h.index as usize).filter(|s| s.gen == h.gen)
    }

    fn slot_mut(&mut self, h: Handle) -> Option<&mut Slot> {
        self.slots
            .get_mut(h.index as usize)
            .filter(|s| s.gen == h.gen)
    }

    /// The entry of `h`, if it is still there.
    pub(crate) fn get(&self, h: Handle) -> Option<&Entry> {
        self.slot(h)?.entry.as_ref()
    }

    /// The entry of `h`, if it is still there.
    pub(crate) fn get_mut(&mut self, h: Handle) -> Option<&mut Entry> {
        self.slot_mut(h)?.entry.as_mut()
    }

    /// Puts `entry` in `h`'s place; returns the old one. Fails (giving
    /// `entry` back) if `h` is stale.
    pub(crate) fn replace(
        &mut self,
        h: Handle,
        entry: Entry,
    ) -> core::result::Result<Entry, Entry> {
        match self.slot_mut(h) {
            Some(Slot {
                entry: Some(old), ..
            }) => Ok(core::mem::replace(old, entry)),
            _ => Err(entry),
        }
    }

    /// Removes `h`'s entry; the handle goes stale.
    pub(crate) fn remove(&mut self, h: Handle) -> Option<Entry> {
        let slot = self.slot_mut(h)?;
        let entry = slot.entry.take()?;
        slot.gen = slot.gen.wrapping_add(1);
        // INVARIANT: `free` has room for every slot.
        let _ = self.free.push_within_capacity(h.index);
        Some(entry)
    }

    /// The number of entries.
    #[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
#[kernel::macros::kunit_tests(quic_endpoint_table)]
mod tests {
    use super::*;

    #[test]
    fn handles_go_stale_and_slots_are_reused() -> Result {
        let mut t = Table::default();
        let a = t.insert(Entry::Accepting)?;
        let b = t.insert(Entry::Accepting)?;
        assert!(a != b);
        assert_eq!(t.len(), 2);
        assert!(matches!(t.get(a), Some(Entry::Accepting)));
        assert!(t.remove(a).is_some());
        assert!(t.get(a).is_none());
        assert!(t.remove(a).is_none());
        assert!(t.replace(a, Entry::Accepting).is_err());
        // The slot comes back under a new generation.
        let c = t.insert(Entry::Accepting)?;
        assert!(c != a);
        assert!(t.get(a).is_none());
        assert!(t.get(c).is_some());
        assert!(t.replace(c, Entry::Accepting).is_ok());
        assert_eq!(t.len(), 2);
        Ok(())
    }
}
