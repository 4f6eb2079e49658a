// SPDX-License-Identifier: GPL-2.0

//! The routing table: which connection an incoming packet belongs to (RFC
//! 9000 §5.2).
//!
//! Three kinds of key lead to a connection handle `H`:
//!
//! - [`RouteKey::Cid`]: a connection ID this endpoint issued. Every packet
//!   after the handshake starts is routed this way.
//! - [`RouteKey::Initial`]: the Destination Connection ID the client chose
//!   for its first Initial, paired with the client's address. It routes the
//!   client's retransmitted Initials and its 0-RTT packets until the client
//!   switches to the server's connection ID. The address keeps one client's
//!   choice from capturing another's connection attempt.
//! - [`RouteKey::Addr`]: the peer's address, for a connection whose local
//!   connection ID is empty.
//!
//! The table is open addressing with linear probing over a power-of-two
//! array, indexed by a keyed hash ([`SipHasher13`]) so that peers cannot
//! predict collisions. It grows by rehashing into a fallibly allocated
//! array; lookups and removals never allocate.

use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::cid::ConnectionId;
use crate::protocol::endpoint::hash::SipHasher13;
use crate::protocol::path::canonical;
use core::net::{IpAddr, SocketAddr};

/// What routes a packet to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKey {
    /// A connection ID this endpoint issued.
    Cid(ConnectionId),
    /// A client's first Destination Connection ID, from that client.
    Initial(ConnectionId, SocketAddr),
    /// The peer's address, for zero-length local connection IDs.
    Addr(SocketAddr),
}

impl RouteKey {
    fn hash(&self, key: [u64; 2]) -> u64 {
        let mut h = SipHasher13::new(key);
        let addr = |h: &mut SipHasher13, a: &SocketAddr| {
            match a.ip().to_canonical() {
                IpAddr::V4(ip) => h.write(&ip.octets()),
                IpAddr::V6(ip) => h.write(&ip.octets()),
            }
            h.write(&a.port().to_be_bytes());
        };
        match self {
            Self::Cid(cid) => {
                h.write(&[0]);
                h.write(cid.as_slice());
            }
            Self::Initial(cid, a) => {
                h.write(&[1, cid.len() as u8]);
                h.write(cid.as_slice());
                addr(&mut h, a);
            }
            Self::Addr(a) => {
                h.write(&[2]);
                addr(&mut h, a);
            }
        }
        h.finish()
    }

    fn matches(&self, other: &RouteKey) -> bool {
        match (self, other) {
            (Self::Cid(a), Self::Cid(b)) => a == b,
            (Self::Initial(a, x), Self::Initial(b, y)) => a == b && canonical(*x) == canonical(*y),
            (Self::Addr(x), Self::Addr(y)) => canonical(*x) == canonical(*y),
            _ => false,
        }
    }
}

/// Why a route was not added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// The key already routes to a connection.
    Occupied,
    /// Growing the table failed.
    OutOfMemory,
}

impl From<AllocError> for RouteError {
    fn from(_: AllocError) -> Self {
        Self::OutOfMemory
    }
}

#[derive(Clone, Copy, Debug)]
enum Slot<H> {
    Empty,
    Deleted,
    Full(RouteKey, H),
}

/// The smallest table allocated.
const MIN_SLOTS: usize = 16;

/// A map from [`RouteKey`] to connection handles.
///
/// # Invariants
///
/// `slots.len()` is zero or a power of two, `len` counts the full slots and
/// `deleted` the tombstones, and at least one slot is empty whenever the
/// table is allocated, so every probe ends.
#[derive(Debug)]
pub struct Routes<H> {
    slots: Vec<Slot<H>>,
    len: usize,
    deleted: usize,
    key: [u64; 2],
}

impl<H: Copy> Routes<H> {
    /// An empty table hashing with `key`, which the caller draws at random.
    /// Does not allocate.
    pub const fn new(key: [u64; 2]) -> Self {
        Self {
            slots: Vec::new(),
            len: 0,
            deleted: 0,
            key,
        }
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no route.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The probe sequence of `key`: every slot index, starting at its hash.
    fn probe(&self, key: &RouteKey) -> impl Iterator<Item = usize> {
        let mask = self.slots.len().wrapping_sub(1);
        let start = key.hash(self.key) as usize;
        (0..self.slots.len()).map(move |i| start.wrapping_add(i) & mask)
    }

    /// The slot holding `key`.
    fn find(&self, key: &RouteKey) -> Option<usize> {
        for i in self.probe(key) {
            match self.slots.get(i)? {
                Slot::Empty => return None,
                Slot::Full(k, _) if k.matches(key) => return Some(i),
                _ => {}
            }
        }
        None
    }

    /// The connection `key` routes to.
    pub fn get(&self, key: &RouteKey) -> Option<H> {
        match self.slots.get(self.find(key)?)? {
            Slot::Full(_, h) => Some(*h),
            _ => None,
        }
    }

    /// Routes `key` to `handle`. Fails if `key` is routed already, or if the
    /// table must grow and cannot; the table is then unchanged.
    pub fn insert(&mut self, key: RouteKey, handle: H) -> Result<(), RouteError> {
        if self.find(&key).is_some() {
            return Err(RouteError::Occupied);
        }
        // Keep the load, tombstones included, at 7/8 at most.
        if (self.len + self.deleted + 1) * 8 > self.slots.len() * 7 {
            self.rehash((self.len + 1).saturating_mul(2))?;
        }
        self.place(key, handle);
        self.len += 1;
        Ok(())
    }

    /// Puts an entry in the first free slot of its probe sequence; the
    /// caller made room.
    fn place(&mut self, key: RouteKey, handle: H) {
        let Some(i) = self
            .probe(&key)
            .find(|i| !matches!(self.slots.get(*i), Some(Slot::Full(..))))
        else {
            return;
        };
        if let Some(slot) = self.slots.get_mut(i) {
            if matches!(slot, Slot::Deleted) {
                self.deleted -= 1;
            }
            *slot = Slot::Full(key, handle);
        }
    }

    /// Moves every entry into a new array of at least `want` slots.
    fn rehash(&mut self, want: usize) -> Result<(), RouteError> {
        let size = want
            .max(MIN_SLOTS)
            .checked_next_power_of_two()
            .ok_or(RouteError::OutOfMemory)?;
        let mut slots = Vec::with_capacity(size, GFP)?;
        slots.extend_with(size, Slot::Empty, GFP)?;
        // INVARIANT: the new array has no tombstones and room to spare.
        let old = core::mem::replace(&mut self.slots, slots);
        self.deleted = 0;
        for slot in old.into_iter() {
            if let Slot::Full(k, h) = slot {
                self.place(k, h);
            }
        }
        Ok(())
    }

    /// Removes the route of `key`, returning its handle.
    pub fn remove(&mut self, key: &RouteKey) -> Option<H> {
        let i = self.find(key)?;
        let slot = self.slots.get_mut(i)?;
        let Slot::Full(_, h) = core::mem::replace(slot, Slot::Deleted) else {
            return None;
        };
        self.len -= 1;
        self.deleted += 1;
        if self.len == 0 {
            // Reset cheaply: nothing left to probe past.
            self.slots.iter_mut().for_each(|s| *s = Slot::Empty);
            self.deleted = 0;
        }
        Some(h)
    }

    /// Removes every route for which `keep` returns false, e.g. all of a
    /// closed connection's. Walks the whole table.
    pub fn retain(&mut self, mut keep: impl FnMut(&RouteKey, H) -> bool) {
        for slot in self.slots.iter_mut() {
            if let Slot::Full(k, h) = slot {
                if !keep(k, *h) {
                    *slot = Slot::Deleted;
                    self.len -= 1;
                    self.deleted += 1;
                }
            }
        }
    }

    /// Iterates over the routes.
    pub fn iter(&self) -> impl Iterator<Item = (&RouteKey, H)> + '_ {
        self.slots.iter().filter_map(|s| match s {
            Slot::Full(k, h) => Some((k, *h)),
            _ => None,
        })
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_routes))]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn cid(n: u32) -> RouteKey {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&n.to_be_bytes());
        RouteKey::Cid(ConnectionId::from_slice(&b).unwrap_or(ConnectionId::EMPTY))
    }

    const A: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 443);

    #[test]
    fn insert_get_remove() -> Result<(), RouteError> {
        let mut t = Routes::new([1, 2]);
        assert_eq!(t.get(&cid(1)), None);
        assert_eq!(t.remove(&cid(1)), None);
        t.insert(cid(1), 10u32)?;
        t.insert(RouteKey::Addr(A), 11)?;
        let dcid = ConnectionId::from_slice(&[1; 8]).unwrap_or(ConnectionId::EMPTY);
        t.insert(RouteKey::Initial(dcid, A), 12)?;
        assert_eq!(t.insert(cid(1), 13), Err(RouteError::Occupied));
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(&cid(1)), Some(10));
        assert_eq!(t.get(&RouteKey::Addr(A)), Some(11));
        assert_eq!(t.get(&RouteKey::Initial(dcid, A)), Some(12));
        // The same ID from another address is another key.
        let b = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 443);
        assert_eq!(t.get(&RouteKey::Initial(dcid, b)), None);
        assert_eq!(t.get(&RouteKey::Cid(dcid)), None);
        // An IPv4-mapped address is the same address.
        let mapped = SocketAddr::new(
            IpAddr::V6(Ipv6Addr::from([
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1,
            ])),
            443,
        );
        assert_eq!(t.get(&RouteKey::Addr(mapped)), Some(11));
        assert_eq!(t.remove(&cid(1)), Some(10));
        assert_eq!(t.get(&cid(1)), None);
        t.retain(|_, h| h != 12);
        assert_eq!(t.len(), 1);
        assert!(t.iter().eq([(&RouteKey::Addr(A), 11)]));
        Ok(())
    }

    #[test]
    fn churn_keeps_probes_bounded() -> Result<(), RouteError> {
        let mut t = Routes::new([3, 4]);
        // Insert and remove many more keys than ever live at once:
        // tombstones must not fill the table.
        for n in 0..2000u32 {
            t.insert(cid(n), n)?;
            if n >= 8 {
                assert_eq!(t.remove(&cid(n - 8)), Some(n - 8));
            }
        }
        assert_eq!(t.len(), 8);
        assert!(t.slots.len() <= 64);
        for n in 1992..2000 {
            assert_eq!(t.get(&cid(n)), Some(n));
        }
        Ok(())
    }

    #[test]
    fn many_routes() -> Result<(), RouteError> {
        let mut t = Routes::new([5, 6]);
        for n in 0..1000u32 {
            t.insert(cid(n), n)?;
        }
        for n in 0..1000u32 {
            assert_eq!(t.get(&cid(n)), Some(n));
        }
        for n in (0..1000u32).step_by(2) {
            assert_eq!(t.remove(&cid(n)), Some(n));
        }
        for n in 0..1000u32 {
            assert_eq!(t.get(&cid(n)), (n % 2 == 1).then_some(n));
        }
        for n in (0..1000u32).rev() {
            let _ = t.remove(&cid(n));
        }
        assert!(t.is_empty());
        Ok(())
    }
}
