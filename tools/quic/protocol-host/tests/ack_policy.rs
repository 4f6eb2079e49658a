// SPDX-License-Identifier: GPL-2.0

//! The receiver's acknowledgment policy under reordering, duplication and
//! loss, in virtual time.
//!
//! A seeded generator delivers packets with jitter (so out of order), some
//! twice, some never, some not ack-eliciting, some CE-marked. The receiver
//! follows the [`AckTracker`] like a connection would: drop duplicates,
//! record the rest, send an ACK frame when one is due, and arm a timer at
//! the deadline. The run checks RFC 9000 §13.2:
//!
//! - every ack-eliciting packet is acknowledged within max_ack_delay of its
//!   arrival (the timer fires exactly at the deadline here),
//! - out-of-order and CE-marked ack-eliciting packets are acknowledged at
//!   once,
//! - no ACK frame is sent in response to non-ack-eliciting packets alone,
//!   and never more ACK frames than ack-eliciting packets,
//! - duplicates are refused and not counted in the ECN counts,
//! - ACK frames are bounded in ranges, include the largest packet number
//!   received and report the delay since it arrived.

use quic_protocol::protocol::ack::{delay, AckConfig, AckTracker, EcnCodepoint};
use quic_protocol::protocol::recovery::PacketNumberSpace;
use quic_protocol::protocol::time::Instant;
use std::collections::BTreeMap;
use std::time::Duration;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
}

#[derive(Clone, Copy)]
struct Arrival {
    pn: u64,
    ack_eliciting: bool,
    ecn: EcnCodepoint,
}

#[derive(Default)]
struct Received {
    at: Option<Instant>,
    first_acked: Option<Instant>,
    ack_eliciting: bool,
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn run(seed: u64, config: AckConfig) {
    let mut rng = Rng(seed);
    // Schedule: packet n sent at n ms, arriving after 10 to 19 ms.
    let mut schedule: BTreeMap<(Instant, u64), Arrival> = BTreeMap::new();
    let mut seq = 0u64;
    for pn in 0..5_000u64 {
        if rng.percent(3) {
            continue;
        }
        let arrival = Arrival {
            pn,
            ack_eliciting: !rng.percent(20),
            ecn: if rng.percent(2) {
                EcnCodepoint::Ce
            } else {
                EcnCodepoint::Ect0
            },
        };
        let copies = if rng.percent(5) { 2 } else { 1 };
        for _ in 0..copies {
            let at = Instant::ZERO + ms(pn) + ms(10 + rng.next() % 10);
            seq += 1;
            schedule.insert((at, seq), arrival);
        }
    }

    let mut tracker = AckTracker::new(PacketNumberSpace::ApplicationData, config);
    let mut received: BTreeMap<u64, Received> = BTreeMap::new();
    let mut ack_eliciting_received = 0u64;
    let mut acks_sent = 0u64;
    let mut processed_ecn = (0u64, 0u64);
    let mut largest_received = None;

    let send_ack = |tracker: &mut AckTracker,
                    received: &mut BTreeMap<u64, Received>,
                    now: Instant,
                    largest: Option<u64>| {
        let ranges: Vec<_> = tracker.ranges().iter().rev().collect();
        assert!(!ranges.is_empty());
        assert!(ranges.len() <= config.max_ranges);
        // The first range holds the largest packet number received.
        assert_eq!(ranges.first().map(|r| r.end - 1), largest);
        // The delay field is the time since the largest arrived.
        let largest_at = largest.and_then(|pn| received.get(&pn)).and_then(|r| r.at);
        let expected = now.saturating_duration_since(largest_at.unwrap_or(now));
        assert_eq!(tracker.ack_delay(now), expected);
        let field = tracker.encoded_ack_delay(now).into_inner();
        let decoded = delay::decode(field, config.ack_delay_exponent);
        assert!(decoded <= expected);
        assert!(expected - decoded < Duration::from_micros(1 << config.ack_delay_exponent));
        for range in &ranges {
            for (_, r) in received.range_mut(range.clone()) {
                r.first_acked.get_or_insert(now);
            }
        }
        tracker.on_ack_sent();
    };

    let mut now = Instant::ZERO;
    loop {
        // The next event: an arrival or the delayed-ACK deadline.
        let next_arrival = schedule.keys().next().map(|k| k.0);
        let next = [next_arrival, tracker.deadline()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { break };
        assert!(next >= now);
        now = next;

        while let Some((&(at, seq), &a)) = schedule.iter().next() {
            if at > now {
                break;
            }
            schedule.remove(&(at, seq));
            if tracker.is_duplicate(a.pn) {
                // Only copies or packets older than the kept ranges.
                let r = received.get(&a.pn);
                assert!(r.is_some() || a.pn < tracker.ranges().min().unwrap_or(0));
                continue;
            }
            let out_of_order = a.ack_eliciting
                && received
                    .iter()
                    .rfind(|(_, r)| r.ack_eliciting)
                    .is_some_and(|(&largest, _)| {
                        a.pn < largest || (largest + 1..a.pn).any(|pn| !received.contains_key(&pn))
                    });
            let was_due = tracker.ack_due(now);
            tracker
                .on_packet_received(a.pn, a.ack_eliciting, a.ecn, now)
                .expect("recorded");
            received.insert(
                a.pn,
                Received {
                    at: Some(now),
                    first_acked: None,
                    ack_eliciting: a.ack_eliciting,
                },
            );
            largest_received = largest_received.max(Some(a.pn));
            match a.ecn {
                EcnCodepoint::Ce => processed_ecn.1 += 1,
                _ => processed_ecn.0 += 1,
            }
            if a.ack_eliciting {
                ack_eliciting_received += 1;
                if out_of_order || a.ecn == EcnCodepoint::Ce {
                    assert!(
                        tracker.ack_due(now),
                        "packet {} must be acked at once",
                        a.pn
                    );
                }
            } else {
                // A packet that is not ack-eliciting never makes an ACK due.
                assert_eq!(tracker.ack_due(now), was_due);
            }
            if tracker.ack_due(now) {
                acks_sent += 1;
                send_ack(&mut tracker, &mut received, now, largest_received);
            }
        }
        if tracker.ack_due(now) {
            acks_sent += 1;
            send_ack(&mut tracker, &mut received, now, largest_received);
        }
    }

    assert!(acks_sent <= ack_eliciting_received);
    // Delayed ACKs do happen with a threshold above one.
    if config.ack_eliciting_threshold > 1 {
        assert!(acks_sent < ack_eliciting_received);
    }
    let counts = tracker.ecn_counts().expect("ECN counts");
    assert_eq!((counts.ect0, counts.ce), processed_ecn);
    let mut checked = 0;
    for (pn, r) in &received {
        if !r.ack_eliciting {
            continue;
        }
        let (Some(at), Some(acked)) = (r.at, r.first_acked) else {
            // Only packets that fell below the kept ranges may go
            // unacknowledged.
            assert!(*pn < tracker.ranges().min().unwrap_or(u64::MAX));
            continue;
        };
        let waited = acked.saturating_duration_since(at);
        assert!(
            waited <= config.max_ack_delay,
            "packet {pn} acknowledged after {waited:?}"
        );
        checked += 1;
    }
    assert!(checked > 3_000);
}

#[test]
fn default_policy() {
    for seed in 1..5 {
        run(seed, AckConfig::default());
    }
}

#[test]
fn every_packet_policy_and_few_ranges() {
    run(
        42,
        AckConfig {
            ack_eliciting_threshold: 1,
            max_ranges: 4,
            ..AckConfig::default()
        },
    );
}

#[test]
fn lazy_policy() {
    run(
        7,
        AckConfig {
            ack_eliciting_threshold: 10,
            max_ack_delay: ms(5),
            ack_delay_exponent: 0,
            max_ranges: 64,
        },
    );
}
