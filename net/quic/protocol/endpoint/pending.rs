// SPDX-License-Identifier: GPL-2.0

//! ClientHellos that span datagrams.
//!
//! A listener cannot pick a socket before it has the client's whole
//! ClientHello, and a large one (post-quantum key shares, many PSKs) takes
//! more than one datagram. Until the rest arrives the endpoint keeps a
//! [`PendingHello`]: the reassembly so far, keyed by the client's address
//! and Destination Connection ID, while the caller holds on to the
//! datagrams themselves to replay them into the connection once it exists.
//!
//! This is state an unvalidated client creates, so it is bounded three
//! ways: the number of entries, the datagrams per entry, and time. An entry
//! that fails (malformed, too large) stays as a tombstone until it expires,
//! so the client's retransmissions are dropped cheaply.

use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::cid::ConnectionId;
use crate::protocol::endpoint::assembler::Assembler;
use crate::protocol::packet::version::Version;
use crate::protocol::path::canonical;
use crate::protocol::time::Instant;
use core::net::SocketAddr;
use core::time::Duration;

/// Names a pending ClientHello for the caller, which queues the datagrams
/// that belong to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PendingId(pub u32);

/// A ClientHello being reassembled across datagrams, with the caller's
/// context `T` (what it learnt from the first datagram).
#[derive(Debug)]
pub struct PendingHello<T> {
    /// Its name.
    pub id: PendingId,
    /// The Destination Connection ID of the client's Initial.
    pub dcid: ConnectionId,
    /// The client.
    pub remote: SocketAddr,
    /// The version of the client's Initial.
    pub version: Version,
    /// The reassembly so far; `None` once it failed.
    pub hello: Option<Assembler<Vec<u8>>>,
    /// Datagrams the caller holds for it.
    pub datagrams: usize,
    /// The caller's context.
    pub context: T,
    expires: Instant,
}

/// The pending ClientHellos of an endpoint.
#[derive(Debug)]
pub struct PendingHellos<T> {
    entries: Vec<PendingHello<T>>,
    next_id: u32,
}

/// The limits on pending ClientHellos.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingLimits {
    /// The most entries at once.
    pub max_entries: usize,
    /// The most datagrams of one entry.
    pub max_datagrams: usize,
    /// How long an entry waits for the rest of its ClientHello.
    pub timeout: Duration,
}

impl<T> Default for PendingHellos<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> PendingHellos<T> {
    /// None pending.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
            next_id: 0,
        }
    }

    /// The number of entries, failed ones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of the client at `remote` using `dcid`.
    pub fn find_mut(
        &mut self,
        dcid: &ConnectionId,
        remote: &SocketAddr,
    ) -> Option<&mut PendingHello<T>> {
        let remote = canonical(*remote);
        self.entries
            .iter_mut()
            .find(|p| p.dcid == *dcid && p.remote == remote)
    }

    /// Starts an entry with the reassembly so far, if `limits` allow.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        dcid: ConnectionId,
        remote: SocketAddr,
        version: Version,
        hello: Assembler<Vec<u8>>,
        context: T,
        now: Instant,
        limits: &PendingLimits,
    ) -> Result<PendingId, AllocError> {
        if self.entries.len() >= limits.max_entries {
            return Err(AllocError);
        }
        let id = PendingId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.entries.push(
            PendingHello {
                id,
                dcid,
                remote: canonical(remote),
                version,
                hello: Some(hello),
                datagrams: 1,
                context,
                expires: now + limits.timeout,
            },
            GFP,
        )?;
        Ok(id)
    }

    /// Removes entry `id`.
    pub fn remove(&mut self, id: PendingId) -> Option<PendingHello<T>> {
        let i = self.entries.iter().position(|p| p.id == id)?;
        self.entries.remove(i).ok()
    }

    /// Removes one entry that expired by `now`, for the caller to free the
    /// datagrams it holds for it.
    pub fn poll_expired(&mut self, now: Instant) -> Option<PendingId> {
        let i = self.entries.iter().position(|p| p.expires <= now)?;
        self.entries.remove(i).ok().map(|p| p.id)
    }

    /// The earliest expiry, for the caller's timer.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.entries.iter().map(|p| p.expires).min()
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_pending))]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    const LIMITS: PendingLimits = PendingLimits {
        max_entries: 2,
        max_datagrams: 4,
        timeout: Duration::from_secs(1),
    };

    #[test]
    fn bounded_and_expiring() -> Result<(), AllocError> {
        let mut p = PendingHellos::new();
        let a = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1);
        let b = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 1);
        let c = ConnectionId::from_slice(&[1; 8]).unwrap_or(ConnectionId::EMPTY);
        let t0 = Instant::from_nanos(100);
        let hello = || Assembler::new(Vec::new());
        let ia = p.insert(c, a, Version::V1, hello(), (), t0, &LIMITS)?;
        let ib = p.insert(
            c,
            b,
            Version::V1,
            hello(),
            (),
            t0 + Duration::from_millis(500),
            &LIMITS,
        )?;
        assert!(ia != ib);
        assert!(p
            .insert(c, a, Version::V1, hello(), (), t0, &LIMITS)
            .is_err());
        assert_eq!(p.find_mut(&c, &b).map(|e| e.id), Some(ib));
        assert!(p.find_mut(&ConnectionId::EMPTY, &b).is_none());
        assert_eq!(p.next_expiry(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(p.poll_expired(t0), None);
        assert_eq!(p.poll_expired(t0 + Duration::from_secs(1)), Some(ia));
        assert_eq!(p.len(), 1);
        assert!(p.remove(ib).is_some());
        assert!(p.is_empty());
        Ok(())
    }
}
