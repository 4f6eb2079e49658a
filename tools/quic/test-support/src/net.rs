// SPDX-License-Identifier: GPL-2.0

//! A simulated network with virtual time: one-way delay, jitter (which
//! reorders datagrams), loss, duplication and an MTU above which datagrams
//! are dropped, all decided by a seeded [`Rng`].
//!
//! Each datagram carries the ECN codepoint of its IP header, as the socket
//! glue reads it from the TOS / traffic class byte (`IP_RECVTOS`) and hands
//! it to `Connection::handle_datagram`. The link may leave it alone, clear
//! it, mark it Congestion Experienced or rewrite it ([`EcnPolicy`]).

use crate::rng::Rng;
use quic_protocol::protocol::ack::EcnCodepoint;
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
    /// What the path does to the ECN codepoint.
    pub ecn: EcnPolicy,
}

/// What the path does to the ECN codepoint of a datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EcnPolicy {
    /// Delivers it as sent.
    #[default]
    Keep,
    /// Clears it, as a middlebox that bleaches the TOS byte
    /// (RFC 9000 §13.4.2).
    Bleach,
    /// Marks this percentage of ECT datagrams Congestion Experienced, as
    /// an AQM router does instead of dropping them (RFC 3168 §5).
    Ce {
        /// Percentage of ECT datagrams marked.
        percent: u32,
    },
    /// Sets every datagram's codepoint to this one, whatever it was sent
    /// with: a path that mangles the field.
    Rewrite(EcnCodepoint),
}

impl Default for Link {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss_percent: 0,
            duplicate_percent: 0,
            mtu: 1500,
            ecn: EcnPolicy::Keep,
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
    /// The ECN codepoint of the IP header, as delivered.
    pub ecn: EcnCodepoint,
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
    /// Datagrams sent with ECT(0) or ECT(1).
    pub ect_sent: u64,
    /// Datagrams whose codepoint the path changed.
    pub ecn_changed: u64,
    /// Datagrams delivered with CE.
    pub ce_delivered: u64,
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

    /// Sends `bytes` from `from` to `to` at `now` with the ECN codepoint
    /// `ecn`, through the impairments.
    pub fn send(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        ecn: EcnCodepoint,
        bytes: &[u8],
    ) {
        self.stats.sent += 1;
        if bytes.len() > self.link.mtu {
            self.stats.too_big += 1;
            return;
        }
        if self.rng.chance(self.link.loss_percent) {
            self.stats.lost += 1;
            return;
        }
        let ecn = self.ecn_through_path(ecn);
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
                ecn,
                bytes: bytes.to_vec(),
            });
        }
    }

    /// The codepoint a datagram sent with `ecn` arrives with.
    fn ecn_through_path(&mut self, ecn: EcnCodepoint) -> EcnCodepoint {
        let ect = matches!(ecn, EcnCodepoint::Ect0 | EcnCodepoint::Ect1);
        if ect {
            self.stats.ect_sent += 1;
        }
        let out = match self.link.ecn {
            EcnPolicy::Keep => ecn,
            EcnPolicy::Bleach => EcnCodepoint::NotEct,
            EcnPolicy::Ce { percent } if ect && self.rng.chance(percent) => EcnCodepoint::Ce,
            EcnPolicy::Ce { .. } => ecn,
            EcnPolicy::Rewrite(to) => to,
        };
        if out != ecn {
            self.stats.ecn_changed += 1;
        }
        if out == EcnCodepoint::Ce {
            self.stats.ce_delivered += 1;
        }
        out
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

/// A simulation that advances in steps of virtual time: the pairs of the
/// connection and interop tests, a server endpoint with many clients.
pub trait Simulation {
    /// The virtual clock.
    fn now(&self) -> Instant;

    /// One step: deliver what is due, let everyone react and send, then
    /// move the clock to the next arrival or timer, not past `limit`.
    fn step(&mut self, limit: Instant);

    /// Runs until `done` holds or `within` of virtual time elapsed;
    /// returns whether `done` held. Bounded in steps as well.
    fn run_until(&mut self, within: Duration, mut done: impl FnMut(&mut Self) -> bool) -> bool
    where
        Self: Sized,
    {
        let limit = self.now() + within;
        for _ in 0..5_000_000 {
            if done(self) {
                return true;
            }
            if self.now() >= limit {
                return false;
            }
            self.step(limit);
        }
        false
    }

    /// Runs for `d` of virtual time.
    fn run_for(&mut self, d: Duration)
    where
        Self: Sized,
    {
        self.run_until(d, |_| false);
    }
}
