// SPDX-License-Identifier: GPL-2.0

//! A simulated network with virtual time: one-way delay, jitter (which
//! reorders datagrams), loss, duplication and an MTU above which datagrams
//! are dropped, all decided by a seeded [`Rng`].

use crate::rng::Rng;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::time::Instant;
use std::time::Duration;

/// Link impairments, the same both ways.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    /// One-way delay.
    pub delay: Duration,
    /// Extra random delay up to this much: reorders datagrams.
    pub jitter: Duration,
    /// Datagrams lost, in percent.
    pub loss_percent: u32,
    /// Datagrams delivered twice, in percent.
    pub duplicate_percent: u32,
    /// Datagrams above this size are dropped.
    pub mtu: usize,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss_percent: 0,
            duplicate_percent: 0,
            mtu: 1500,
        }
    }
}

/// A datagram on the wire.
#[derive(Clone, Debug)]
pub struct Datagram {
    /// When it arrives.
    pub at: Instant,
    /// Order of sending, to break ties.
    pub seq: u64,
    /// Source address.
    pub from: SocketAddr,
    /// Destination address.
    pub to: SocketAddr,
    /// The UDP payload.
    pub bytes: Vec<u8>,
}

/// What the network did, for assertions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams handed to the network.
    pub sent: u64,
    /// Datagrams dropped by loss.
    pub lost: u64,
    /// Datagrams dropped for exceeding the MTU.
    pub too_big: u64,
    /// Extra copies made.
    pub duplicated: u64,
}

/// Datagrams in flight.
#[derive(Debug)]
pub struct Network {
    /// The impairments; tests may change them between steps.
    pub link: Link,
    rng: Rng,
    queue: Vec<Datagram>,
    seq: u64,
    /// Counters.
    pub stats: NetStats,
}

impl Network {
    /// A network over `link`, its randomness seeded with `seed`.
    pub fn new(link: Link, seed: u64) -> Self {
        Self {
            link,
            rng: Rng::new(seed),
            queue: Vec::new(),
            seq: 0,
            stats: NetStats::default(),
        }
    }

    /// Sends `bytes` from `from` to `to` at `now`, through the
    /// impairments.
    pub fn send(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        self.stats.sent += 1;
        if bytes.len() > self.link.mtu {
            self.stats.too_big += 1;
            return;
        }
        if self.rng.chance(self.link.loss_percent) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.chance(self.link.duplicate_percent) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter_ns = u64::try_from(self.link.jitter.as_nanos()).unwrap_or(u64::MAX);
            let jitter = Duration::from_nanos(self.rng.below(jitter_ns));
            self.seq += 1;
            self.queue.push(Datagram {
                at: now + self.link.delay + jitter,
                seq: self.seq,
                from,
                to,
                bytes: bytes.to_vec(),
            });
        }
    }

    /// When the next datagram arrives.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.queue.iter().map(|d| d.at).min()
    }

    /// The next datagram due by `now`, in arrival order.
    pub fn pop_due(&mut self, now: Instant) -> Option<Datagram> {
        let i = self
            .queue
            .iter()
            .enumerate()
            .filter(|(_, d)| d.at <= now)
            .min_by_key(|(_, d)| (d.at, d.seq))
            .map(|(i, _)| i)?;
        Some(self.queue.swap_remove(i))
    }

    /// Datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }
}
