// SPDX-License-Identifier: GPL-2.0

//! Loss detection, the probe timeout and congestion control (RFC 9002)
//! through a recovery `Manager`, with NewReno or CUBIC, against a model.
//!
//! The script sends packets in the three spaces (sizes, ack-eliciting or
//! not, packet numbers with gaps), acknowledges them with ACK frames of
//! any shape (valid ones built from what was sent, and arbitrary ones,
//! possibly above anything sent), with ECN counts or not, moves the clock,
//! runs the loss detection timer, discards spaces, confirms the handshake,
//! toggles the anti-amplification block and app-limited state, changes
//! the datagram size and the path, and takes a Retry or a 0-RTT rejection.
//! The model holds every packet outstanding:
//!
//! - each packet leaves exactly once: acknowledged only if an ACK frame
//!   covered it, lost only below the largest acknowledged (or on Retry and
//!   0-RTT rejection); an ACK above anything sent is refused and settles
//!   nothing;
//! - bytes in flight are the sizes of the in-flight packets outstanding,
//!   and the outstanding counts match;
//! - the congestion window never drops below the minimum window;
//! - the loss detection timer is armed while ack-eliciting packets are
//!   outstanding in a space that may probe (not Application Data before
//!   the handshake is confirmed, nothing while amplification-blocked);
//! - an RTT sample is the age of the largest acknowledged packet, and the
//!   minimum, smoothed RTT and variation stay within the samples taken.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_fuzz::Input;
use quic_protocol::protocol::ack::EcnCounts;
use quic_protocol::protocol::recovery::congestion::{minimum_window, Algorithm};
use quic_protocol::protocol::recovery::manager::{Config, Manager, TimerOutcome};
use quic_protocol::protocol::recovery::sent::{Fate, SentPacket, Settled};
use quic_protocol::protocol::recovery::PacketNumberSpace;
use quic_protocol::protocol::time::Instant;
use std::ops::Range;
use std::time::Duration;

/// A packet the model holds as outstanding.
#[derive(Clone, Copy)]
struct Packet {
    pn: u64,
    size: u16,
    in_flight: bool,
    ack_eliciting: bool,
    time_sent: Instant,
}

#[derive(Default)]
struct Space {
    /// Outstanding, by increasing packet number.
    packets: Vec<Packet>,
    next_pn: u64,
    /// One past the largest packet number sent.
    sent_end: u64,
    largest_acked: Option<u64>,
    discarded: bool,
    ecn: EcnCounts,
}

struct Harness {
    m: Box<Manager<u64>>,
    spaces: [Space; 3],
    now: Instant,
    is_server: bool,
    mds: u16,
    confirmed: bool,
    blocked: bool,
    /// Smallest and largest RTT samples since the last path change.
    samples: Option<(Duration, Duration)>,
    /// Settled packets of the current call.
    settled: Vec<Settled<u64>>,
}

const SPACES: [PacketNumberSpace; 3] = PacketNumberSpace::ALL;

impl Harness {
    fn new(input: &mut Input<'_>) -> Self {
        let flags = input.u8();
        let is_server = flags & 1 != 0;
        let algorithm = if flags & 2 != 0 {
            Algorithm::NewReno
        } else {
            Algorithm::Cubic
        };
        let mds = 1200 + input.below(1500) as u16;
        let config = Config {
            is_server,
            initial_rtt: Duration::from_millis(1 + input.below(1000)),
            algorithm,
            max_datagram_size: mds,
            ecn: flags & 4 != 0,
        };
        Harness {
            m: Box::new(Manager::new(config)),
            spaces: Default::default(),
            now: Instant::ZERO,
            is_server,
            mds,
            confirmed: false,
            blocked: false,
            samples: None,
            settled: Vec::new(),
        }
    }

    fn send(&mut self, input: &mut Input<'_>, s: usize) {
        let space = &mut self.spaces[s];
        if space.discarded {
            return;
        }
        let pn = space.next_pn + input.below(4);
        let size = 1 + input.below(u64::from(self.mds)) as u16;
        let kind = input.u8() % 4;
        let ack_eliciting = kind != 0;
        let in_flight = ack_eliciting || kind == 0 && input.bool();
        let packet = SentPacket {
            time_sent: self.now,
            size,
            ack_eliciting,
            in_flight,
            ecn: self.m.ecn_marking(),
            payload: pn,
        };
        self.m
            .on_packet_sent(SPACES[s], pn, packet)
            .expect("increasing packet numbers");
        space.next_pn = pn + 1;
        space.sent_end = pn + 1;
        space.packets.push(Packet {
            pn,
            size,
            in_flight,
            ack_eliciting,
            time_sent: self.now,
        });
    }

    /// Descending, disjoint ranges: mostly over what was sent, sometimes
    /// anywhere.
    fn ranges(&mut self, input: &mut Input<'_>, s: usize) -> Vec<Range<u64>> {
        let space = &self.spaces[s];
        let mut top = if input.u8() % 8 == 0 {
            input.scaled(62)
        } else {
            space.sent_end.saturating_sub(input.below(4))
        };
        let mut ranges = Vec::new();
        for i in 0..1 + input.below(6) {
            let gap = if i == 0 { 0 } else { 1 + input.below(8) };
            let Some(end) = top.checked_sub(gap) else {
                break;
            };
            let len = 1 + input.below(16);
            let start = end.saturating_sub(len);
            if start >= end {
                break;
            }
            ranges.push(start..end);
            top = start;
        }
        ranges
    }

    fn ack(&mut self, input: &mut Input<'_>, s: usize) {
        let ranges = self.ranges(input, s);
        let ack_delay = Duration::from_micros(input.scaled(24));
        let ecn = if input.bool() {
            let c = &mut self.spaces[s].ecn;
            if input.u8() % 8 == 0 {
                *c = EcnCounts {
                    ect0: input.scaled(62),
                    ect1: input.scaled(62),
                    ce: input.scaled(62),
                };
            } else {
                c.ect0 += input.below(4);
                c.ect1 += input.below(2);
                c.ce += input.below(2);
            }
            Some(*c)
        } else {
            None
        };
        let space = &self.spaces[s];
        let above = ranges.first().is_some_and(|r| r.end > space.sent_end);
        let frame_largest = ranges.first().map(|r| r.end - 1);
        let frame_largest_sent = space
            .packets
            .iter()
            .find(|p| Some(p.pn) == frame_largest)
            .copied();
        let mut settled = std::mem::take(&mut self.settled);
        let result = self.m.on_ack_received(
            SPACES[s],
            ranges.iter().cloned(),
            ack_delay,
            ecn,
            self.now,
            &mut |p| settled.push(p),
        );
        self.settled = settled;
        match result {
            Err(_) => {
                assert!(above, "refused {ranges:?} below {}", space.sent_end);
                assert!(self.settled.is_empty());
            }
            Ok(outcome) => {
                assert!(!above, "accepted {ranges:?} above {}", space.sent_end);
                if let Some(l) = frame_largest {
                    let space = &mut self.spaces[s];
                    space.largest_acked = Some(space.largest_acked.map_or(l, |a| a.max(l)));
                }
                if outcome.rtt_sample {
                    let p = frame_largest_sent.expect("a sample from the largest, newly acked");
                    let sample = self.now.saturating_duration_since(p.time_sent);
                    assert_eq!(self.m.rtt().latest(), sample);
                    self.samples = Some(match self.samples {
                        None => (sample, sample),
                        Some((lo, hi)) => (lo.min(sample), hi.max(sample)),
                    });
                }
                self.take_settled(s, Some(&ranges));
            }
        }
    }

    /// Checks the packets the manager settled in space `s` against the
    /// model and forgets them. `acked` are the ranges of the ACK frame, if
    /// one was processed.
    fn take_settled(&mut self, s: usize, acked: Option<&[Range<u64>]>) {
        for p in std::mem::take(&mut self.settled) {
            let space = &mut self.spaces[p.space.index()];
            let at = space
                .packets
                .iter()
                .position(|q| q.pn == p.packet_number)
                .expect("settled a packet that is not outstanding");
            let q = space.packets.remove(at);
            assert_eq!(p.packet.payload, q.pn);
            assert_eq!(p.packet.size, q.size);
            match p.fate {
                Fate::Acked => {
                    assert_eq!(p.space.index(), s);
                    let ranges = acked.expect("acknowledged without an ACK frame");
                    assert!(ranges.iter().any(|r| r.contains(&q.pn)));
                }
                Fate::Lost => {
                    let largest = space.largest_acked.expect("lost before any ACK");
                    assert!(q.pn < largest, "lost {} not below {largest}", q.pn);
                }
            }
        }
    }

    /// Runs the loss detection timer until it is set in the future: a
    /// probe timeout may be due at the very instant loss detection ran,
    /// but the backoff makes it move on within a few rounds.
    fn timeout(&mut self) {
        // A probe timeout backed off to the end of time (it saturates) is
        // never reached: the idle timeout ends a connection long before.
        let Some(t) = self
            .m
            .next_timeout()
            .filter(|t| t.as_nanos() < u64::MAX / 2)
        else {
            return;
        };
        self.now = self.now.max(t);
        for round in 0.. {
            assert!(round < 70, "timer stuck at {:?}", self.now);
            self.fire();
            if self.m.next_timeout().is_none_or(|n| n > self.now) {
                break;
            }
        }
    }

    fn fire(&mut self) {
        let mut settled = std::mem::take(&mut self.settled);
        let outcome = self.m.on_timeout(self.now, &mut |p| settled.push(p));
        self.settled = settled;
        match outcome {
            TimerOutcome::Lost(space) => self.take_settled(space.index(), None),
            TimerOutcome::Probe(space) => {
                assert!(self.settled.is_empty());
                assert!(self.m.can_send(space, u64::MAX / 2));
            }
            TimerOutcome::AntiDeadlockProbe => {
                assert!(!self.is_server);
                assert!(self.settled.is_empty());
            }
            TimerOutcome::Pending => assert!(self.settled.is_empty()),
        }
    }

    /// Every outstanding packet comes back as lost.
    fn requeue(&mut self, spaces: &[usize]) {
        let mut n = 0;
        for p in std::mem::take(&mut self.settled) {
            assert_eq!(p.fate, Fate::Lost);
            assert!(spaces.contains(&p.space.index()));
            n += 1;
        }
        let expected: usize = spaces.iter().map(|&s| self.spaces[s].packets.len()).sum();
        assert_eq!(n, expected);
        for &s in spaces {
            self.spaces[s].packets.clear();
            self.spaces[s].largest_acked = None;
        }
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let s = input.index(3);
        match input.u8() % 16 {
            0..=4 => self.send(input, s),
            5..=8 => self.ack(input, s),
            9 => self.now = self.now + Duration::from_micros(input.scaled(30)),
            10 => self.timeout(),
            11 => {
                // Initial, then Handshake keys go.
                if s < 2 && !self.spaces[s].discarded {
                    self.m.discard_space(SPACES[s], self.now);
                    self.spaces[s].discarded = true;
                    self.spaces[s].packets.clear();
                }
            }
            12 => match input.u8() % 4 {
                0 => {
                    self.confirmed = true;
                    self.m.on_handshake_confirmed(self.now);
                }
                1 if self.is_server => {
                    self.blocked = input.bool();
                    self.m.set_amplification_blocked(self.blocked, self.now);
                }
                2 => self.m.set_app_limited(input.bool()),
                _ => self
                    .m
                    .set_peer_max_ack_delay(Duration::from_micros(input.scaled(24))),
            },
            13 => {
                self.mds = 1200 + input.below(64_000) as u16;
                self.m.set_max_datagram_size(self.mds);
            }
            14 => {
                self.m.on_path_changed();
                self.samples = None;
            }
            15 => {
                let mut settled = std::mem::take(&mut self.settled);
                if input.bool() && !self.is_server {
                    self.m.on_retry(&mut |p| settled.push(p));
                    self.settled = settled;
                    self.requeue(&[0, 1, 2]);
                } else {
                    self.m.on_0rtt_rejected(self.now, &mut |p| settled.push(p));
                    self.settled = settled;
                    self.requeue(&[2]);
                }
            }
            _ => unreachable!(),
        }
        self.check();
    }

    fn check(&self) {
        let mut in_flight = 0u64;
        let mut probing = false;
        for (i, space) in self.spaces.iter().enumerate() {
            assert_eq!(self.m.outstanding(SPACES[i]), space.packets.len());
            in_flight += space
                .packets
                .iter()
                .filter(|p| p.in_flight)
                .map(|p| u64::from(p.size))
                .sum::<u64>();
            let may_probe = i < 2 || self.confirmed;
            probing |= may_probe && space.packets.iter().any(|p| p.ack_eliciting);
            assert_eq!(self.m.largest_acked(SPACES[i]), space.largest_acked);
        }
        assert_eq!(self.m.bytes_in_flight(), in_flight);
        assert!(self.m.congestion_window() >= minimum_window(self.mds));
        if probing && !self.blocked {
            assert!(
                self.m.next_timeout().is_some(),
                "ack-eliciting packets, no timer"
            );
        }
        let rtt = self.m.rtt();
        if let Some((lo, hi)) = self.samples {
            assert!(lo <= rtt.min() && rtt.min() <= hi);
            assert!(lo <= rtt.smoothed() && rtt.smoothed() <= hi);
            assert!(rtt.var() <= hi);
            assert!(lo <= rtt.latest() && rtt.latest() <= hi);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mut h = Harness::new(&mut input);
    input.run(2000, |input| h.step(input));
    // Acknowledging everything empties the flight.
    for (s, space) in SPACES.into_iter().enumerate() {
        if h.spaces[s].discarded || h.spaces[s].packets.is_empty() {
            continue;
        }
        let all = 0..h.spaces[s].sent_end;
        let mut settled = Vec::new();
        h.m.on_ack_received(
            space,
            std::iter::once(all.clone()),
            Duration::ZERO,
            None,
            h.now,
            &mut |p| settled.push(p),
        )
        .expect("acknowledging what was sent");
        h.settled = settled;
        h.spaces[s].largest_acked = Some(h.spaces[s].sent_end - 1);
        h.take_settled(s, Some(std::slice::from_ref(&all)));
    }
    h.samples = None;
    h.check();
    assert_eq!(h.m.bytes_in_flight(), 0);
});
