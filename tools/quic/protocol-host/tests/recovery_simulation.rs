// SPDX-License-Identifier: GPL-2.0

//! A bulk sender over a bottleneck link, in virtual time.
//!
//! The sender is a [`Manager`] pacing 1200-byte packets; the receiver is an
//! [`AckTracker`] sending ACK frames back over a lossless return path. The
//! forward link has a rate, a one-way delay, a drop-tail queue, optional
//! random loss from a seeded generator, and optionally marks ECN-CE instead
//! of queueing past a threshold. Everything is deterministic.
//!
//! Each run checks that every packet sent is settled exactly once (acked or
//! declared lost), that bytes in flight always match the packets still
//! outstanding, and that the congestion window settles around the path's
//! capacity while keeping the link busy.

use quic_protocol::protocol::ack::{delay, AckConfig, AckTracker, EcnCodepoint, EcnCounts};
use quic_protocol::protocol::recovery::congestion::Algorithm;
use quic_protocol::protocol::recovery::ecn::EcnState;
use quic_protocol::protocol::recovery::{
    Config, Fate, Manager, PacketNumberSpace, SentPacket, Settled, TimerOutcome,
};
use quic_protocol::protocol::time::Instant;
use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

const DATA: PacketNumberSpace = PacketNumberSpace::ApplicationData;
const MSS: u64 = 1200;
const EXPONENT: u8 = delay::DEFAULT_EXPONENT;

/// xorshift64*: small, seeded, good enough for loss decisions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn chance(&mut self, per_million: u64) -> bool {
        self.next() % 1_000_000 < per_million
    }
}

#[derive(Clone, Copy)]
struct Path {
    /// Bottleneck rate, bytes per second.
    rate: u64,
    /// One-way propagation delay.
    delay: Duration,
    /// Drop-tail queue limit, bytes.
    queue: u64,
    /// Random loss after the queue, per million packets.
    loss_ppm: u64,
    /// Mark ECT packets CE instead of queueing them past this backlog.
    ce_threshold: Option<u64>,
    /// Drop every packet sent between these times.
    blackout: Option<(Duration, Duration)>,
}

impl Path {
    fn bdp(&self) -> u64 {
        self.rate * 2 * self.delay.as_nanos() as u64 / 1_000_000_000
    }
}

struct Link {
    path: Path,
    free_at: Instant,
    in_transit: VecDeque<(Instant, u64, EcnCodepoint)>,
}

impl Link {
    fn transmit(&mut self, now: Instant, pn: u64, ecn: EcnCodepoint, rng: &mut Rng) {
        let backlog_ns = self.free_at.saturating_duration_since(now).as_nanos() as u64;
        let backlog = backlog_ns * self.path.rate / 1_000_000_000;
        if backlog + MSS > self.path.queue {
            return;
        }
        let mut ecn = ecn;
        if let Some(threshold) = self.path.ce_threshold {
            if backlog > threshold && ecn != EcnCodepoint::NotEct {
                ecn = EcnCodepoint::Ce;
            }
        }
        let start = self.free_at.max(now);
        let depart = start + Duration::from_nanos(MSS * 1_000_000_000 / self.path.rate);
        self.free_at = depart;
        if rng.chance(self.path.loss_ppm) {
            return;
        }
        if let Some((from, to)) = self.path.blackout {
            if now >= Instant::ZERO + from && now < Instant::ZERO + to {
                return;
            }
        }
        self.in_transit
            .push_back((depart + self.path.delay, pn, ecn));
    }
}

struct Ack {
    arrival: Instant,
    ranges: Vec<Range<u64>>,
    delay_field: u64,
    ecn: Option<EcnCounts>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Outstanding,
    Acked,
    Lost,
}

#[derive(Default)]
struct Stats {
    acked_bytes_after_warmup: u64,
    windows: Vec<u64>,
    congestion_events: u64,
    persistent: u64,
    lost: u64,
    lost_after_warmup: u64,
    outstanding: u64,
    probes: u64,
}

struct Sim {
    now: Instant,
    path: Path,
    sender: Manager<u64>,
    status: Vec<Status>,
    link: Link,
    acks: VecDeque<Ack>,
    receiver: AckTracker,
    rng: Rng,
    stop_sending: Instant,
    warmup: Instant,
    stats: Stats,
}

fn settle(status: &mut [Status], stats: &mut Stats, warm: bool, s: Settled<u64>) {
    assert_eq!(s.space, DATA);
    assert_eq!(s.packet.payload, s.packet_number);
    let slot = &mut status[s.packet_number as usize];
    assert_eq!(
        *slot,
        Status::Outstanding,
        "packet {} settled twice",
        s.packet_number
    );
    stats.outstanding -= 1;
    *slot = match s.fate {
        Fate::Acked => {
            if warm {
                stats.acked_bytes_after_warmup += u64::from(s.packet.size);
            }
            Status::Acked
        }
        Fate::Lost => {
            stats.lost += 1;
            if warm {
                stats.lost_after_warmup += 1;
            }
            Status::Lost
        }
    };
}

impl Sim {
    fn new(path: Path, algorithm: Algorithm, ecn: bool, seed: u64, seconds: u64) -> Self {
        let mut sender = Manager::new(Config {
            is_server: true,
            algorithm,
            ecn,
            ..Config::default()
        });
        sender.on_handshake_confirmed(Instant::ZERO);
        Sim {
            now: Instant::ZERO,
            path,
            sender,
            status: Vec::new(),
            link: Link {
                path,
                free_at: Instant::ZERO,
                in_transit: VecDeque::new(),
            },
            acks: VecDeque::new(),
            receiver: AckTracker::new(DATA, AckConfig::default()),
            rng: Rng(seed),
            stop_sending: Instant::ZERO + Duration::from_secs(seconds),
            warmup: Instant::ZERO + Duration::from_secs(seconds / 4),
            stats: Stats::default(),
        }
    }

    fn send_packet(&mut self) {
        let pn = self.status.len() as u64;
        let ecn = self.sender.ecn_marking();
        self.sender
            .on_packet_sent(
                DATA,
                pn,
                SentPacket {
                    time_sent: self.now,
                    size: MSS as u16,
                    ack_eliciting: true,
                    in_flight: true,
                    ecn,
                    payload: pn,
                },
            )
            .expect("packet recorded");
        self.status.push(Status::Outstanding);
        self.stats.outstanding += 1;
        self.link.transmit(self.now, pn, ecn, &mut self.rng);
    }

    fn send_ack(&mut self) {
        let ranges: Vec<Range<u64>> = self.receiver.ranges().iter().rev().collect();
        self.acks.push_back(Ack {
            arrival: self.now + self.path.delay,
            ranges,
            delay_field: self.receiver.encoded_ack_delay(self.now).into_inner(),
            ecn: self.receiver.ecn_counts(),
        });
        self.receiver.on_ack_sent();
    }

    fn receive_ack(&mut self, ack: Ack) {
        let warm = self.now >= self.warmup;
        let (status, stats) = (&mut self.status, &mut self.stats);
        let outcome = self
            .sender
            .on_ack_received(
                DATA,
                ack.ranges,
                delay::decode(ack.delay_field, EXPONENT),
                ack.ecn,
                self.now,
                &mut |s| settle(status, stats, warm, s),
            )
            .expect("valid ACK");
        if outcome.congestion_event {
            self.stats.congestion_events += 1;
        }
        if outcome.persistent_congestion {
            self.stats.persistent += 1;
        }
        if warm && self.now < self.stop_sending {
            self.stats.windows.push(self.sender.congestion_window());
        }
    }

    fn check_in_flight(&self) {
        let outstanding = self.stats.outstanding;
        assert_eq!(self.sender.bytes_in_flight(), outstanding * MSS);
        assert_eq!(self.sender.outstanding(DATA) as u64, outstanding);
    }

    /// Runs until everything sent is settled; returns the number of steps.
    fn run(&mut self) -> u64 {
        let mut steps = 0u64;
        loop {
            steps += 1;
            assert!(steps < 10_000_000, "simulation does not terminate");
            let now = self.now;

            while let Some(&(arrival, pn, ecn)) = self.link.in_transit.front() {
                if arrival > now {
                    break;
                }
                self.link.in_transit.pop_front();
                if self.receiver.is_duplicate(pn) {
                    continue;
                }
                self.receiver
                    .on_packet_received(pn, true, ecn, now)
                    .expect("recorded");
                if self.receiver.ack_due(now) {
                    self.send_ack();
                }
            }
            if self.receiver.ack_due(now) {
                self.send_ack();
            }

            while self.acks.front().is_some_and(|a| a.arrival <= now) {
                if let Some(ack) = self.acks.pop_front() {
                    self.receive_ack(ack);
                }
            }

            if self.sender.next_timeout().is_some_and(|t| t <= now) {
                let warm = now >= self.warmup;
                let (status, stats) = (&mut self.status, &mut self.stats);
                let outcome = self
                    .sender
                    .on_timeout(now, &mut |s| settle(status, stats, warm, s));
                if let TimerOutcome::Probe(space) = outcome {
                    assert_eq!(space, DATA);
                    self.stats.probes += 1;
                    // Probes skip pacing and the congestion window.
                    for _ in 0..2 {
                        if self.sender.can_send(DATA, MSS) {
                            self.send_packet();
                        }
                    }
                }
            }

            let sending = now < self.stop_sending;
            self.sender.set_app_limited(!sending);
            let mut pace_at = None;
            while sending && self.sender.can_send(DATA, MSS) {
                match self.sender.next_send_time(now, MSS) {
                    None => self.send_packet(),
                    Some(t) => {
                        pace_at = Some(t);
                        break;
                    }
                }
            }
            self.check_in_flight();

            let next = [
                self.link.in_transit.front().map(|p| p.0),
                self.acks.front().map(|a| a.arrival),
                self.receiver.deadline(),
                self.sender.next_timeout(),
                pace_at,
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) => self.now = t.max(now),
                None => break,
            }
        }
        steps
    }

    fn report(&self) -> Report {
        let windows = &self.stats.windows;
        let measured = self.stop_sending.saturating_duration_since(self.warmup);
        let capacity = u128::from(self.path.rate) * measured.as_nanos() / 1_000_000_000;
        Report {
            utilization_pct: (u128::from(self.stats.acked_bytes_after_warmup) * 100 / capacity)
                as u64,
            mean_window: windows.iter().sum::<u64>() / windows.len().max(1) as u64,
            min_window: windows.iter().copied().min().unwrap_or(0),
            max_window: windows.iter().copied().max().unwrap_or(0),
            sent: self.status.len() as u64,
        }
    }

    fn assert_all_settled(&self) {
        assert!(self.status.iter().all(|s| *s != Status::Outstanding));
        assert_eq!(self.stats.outstanding, 0);
        assert_eq!(self.sender.bytes_in_flight(), 0);
        assert_eq!(self.sender.next_timeout(), None);
        let lost = self.status.iter().filter(|s| **s == Status::Lost).count() as u64;
        assert_eq!(lost, self.stats.lost);
    }
}

#[derive(Debug)]
struct Report {
    utilization_pct: u64,
    mean_window: u64,
    min_window: u64,
    max_window: u64,
    sent: u64,
}

/// 10 Mbit/s, 40 ms RTT: a bandwidth-delay product of 50 kB.
fn path(queue_bdps_num: u64, loss_ppm: u64) -> Path {
    let mut p = Path {
        rate: 1_250_000,
        delay: Duration::from_millis(20),
        queue: 0,
        loss_ppm,
        ce_threshold: None,
        blackout: None,
    };
    p.queue = p.bdp() * queue_bdps_num / 4;
    p
}

fn run(path: Path, algorithm: Algorithm, ecn: bool, seed: u64) -> (Sim, Report) {
    let mut sim = Sim::new(path, algorithm, ecn, seed, 20);
    sim.run();
    sim.assert_all_settled();
    let report = sim.report();
    eprintln!(
        "{algorithm:?} seed {seed}: {report:?}, lost {} pc {} probes {} events {}",
        sim.stats.lost, sim.stats.persistent, sim.stats.probes, sim.stats.congestion_events
    );
    (sim, report)
}

/// Drop-tail only: the window saw-tooths between beta and 1 times the
/// path's capacity (bandwidth-delay product plus queue) and the link stays
/// busy.
fn converges_on_a_drop_tail_link(algorithm: Algorithm, low_pct: u64) {
    let p = path(4, 0);
    let capacity = p.bdp() + p.queue;
    let (sim, r) = run(p, algorithm, false, 1);
    assert!(r.utilization_pct >= 90, "{algorithm:?}: {r:?}");
    assert!(
        r.mean_window >= capacity * low_pct / 100,
        "{algorithm:?}: {r:?}"
    );
    assert!(r.mean_window <= capacity * 3 / 2, "{algorithm:?}: {r:?}");
    assert!(
        r.min_window >= capacity * (low_pct - 15) / 100,
        "{algorithm:?}: {r:?}"
    );
    assert!(r.max_window <= capacity * 2, "{algorithm:?}: {r:?}");
    // Losses are queue overflows, a few per saw-tooth.
    assert!(sim.stats.lost > 0);
    assert!(sim.stats.lost < r.sent / 50, "{algorithm:?}: {r:?}");
}

#[test]
fn new_reno_converges_on_a_drop_tail_link() {
    converges_on_a_drop_tail_link(Algorithm::NewReno, 50);
}

#[test]
fn cubic_converges_on_a_drop_tail_link() {
    converges_on_a_drop_tail_link(Algorithm::Cubic, 65);
}

#[test]
fn random_loss_settles_every_packet_once() {
    for algorithm in [Algorithm::NewReno, Algorithm::Cubic] {
        for seed in [7, 8, 9] {
            // 2% random loss and a small queue.
            let (sim, r) = run(path(1, 20_000), algorithm, false, seed);
            assert!(sim.stats.lost > r.sent / 100, "{algorithm:?}: {r:?}");
            assert!(sim.stats.congestion_events > 10);
            // Far from the link rate, but moving.
            assert!(r.utilization_pct >= 10, "{algorithm:?}: {r:?}");
            assert!(r.min_window >= 2 * MSS);
        }
    }
}

#[test]
fn cubic_outpaces_new_reno_under_random_loss() {
    let p = path(4, 5_000);
    let (_, reno) = run(p, Algorithm::NewReno, false, 3);
    let (_, cubic) = run(p, Algorithm::Cubic, false, 3);
    assert!(
        cubic.utilization_pct > reno.utilization_pct,
        "{reno:?} {cubic:?}"
    );
}

#[test]
fn ecn_marks_replace_drops() {
    let mut p = path(4, 0);
    p.ce_threshold = Some(p.bdp() / 4);
    for algorithm in [Algorithm::NewReno, Algorithm::Cubic] {
        let (sim, r) = run(p, algorithm, true, 5);
        assert_eq!(sim.sender.ecn_state(), EcnState::Capable);
        // Once slow start is over, congestion is signalled by CE marks
        // before the queue overflows.
        assert_eq!(sim.stats.lost_after_warmup, 0, "{algorithm:?}: {r:?}");
        assert!(sim.stats.congestion_events > 5);
        assert!(r.utilization_pct >= 85, "{algorithm:?}: {r:?}");
        assert!(r.max_window <= p.bdp() * 2, "{algorithm:?}: {r:?}");
    }
}

#[test]
fn blackout_is_survived_by_probes_and_persistent_congestion() {
    // The link drops everything from 2 s to 3 s: 25 RTTs without an
    // acknowledgment.
    let mut p = path(4, 0);
    p.blackout = Some((Duration::from_secs(2), Duration::from_secs(3)));
    for algorithm in [Algorithm::NewReno, Algorithm::Cubic] {
        let mut sim = Sim::new(p, algorithm, false, 13, 8);
        sim.run();
        sim.assert_all_settled();
        // Backed-off probes kept the connection alive ...
        assert!(sim.stats.probes >= 2, "{algorithm:?}");
        // ... and the first acknowledgment after the blackout established
        // persistent congestion.
        assert!(sim.stats.persistent >= 1, "{algorithm:?}");
        let r = sim.report();
        assert!(r.min_window < 10 * MSS, "{algorithm:?}: {r:?}");
        // Measured from 2 s: the blackout costs its second, no more than a
        // few more to climb back.
        assert!(r.utilization_pct >= 50, "{algorithm:?}: {r:?}");
    }
}
