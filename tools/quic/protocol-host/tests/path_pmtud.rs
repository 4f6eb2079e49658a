// SPDX-License-Identifier: GPL-2.0

//! DPLPMTUD over simulated paths: for many random path MTUs, local maxima
//! and peer limits, with random loss of probes, the search must converge
//! below the path MTU and within the granularity of it, never probe above
//! the limits, and recover from a black hole.

use quic_protocol::protocol::path::pmtud::{
    Pmtud, PmtudConfig, PmtudState, BASE_PLPMTU, MAX_PROBES, SEARCH_GRANULARITY,
};
use quic_protocol::protocol::time::Instant;
use std::time::Duration;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

const INTERVAL: Duration = Duration::from_secs(600);

/// A path carrying datagrams up to `mtu` bytes, losing `loss`% of them.
struct Sim {
    pmtud: Pmtud,
    rng: Rng,
    mtu: usize,
    limit: usize,
    loss: u64,
    pn: u64,
    now: Instant,
    probes: u32,
}

impl Sim {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed | 1);
        let local = rng.range(1200, 9000);
        let peer = rng.range(1200, 65527);
        let mut pmtud = Pmtud::new(PmtudConfig {
            max_datagram_size: local,
            probe_interval: INTERVAL,
        });
        pmtud.set_peer_max_udp_payload_size(peer as u64);
        let mtu = rng.range(1200, 9500);
        Self {
            pmtud,
            loss: rng.next() % 10,
            rng,
            mtu,
            limit: local.min(peer),
            pn: 0,
            now: Instant::from_nanos(1),
            probes: 0,
        }
    }

    /// Sends every probe the search asks for until it completes.
    fn search(&mut self) {
        while let Some(size) = self.pmtud.next_probe_size() {
            assert!(size <= self.limit, "probe above the limits");
            assert!(size > self.pmtud.max_datagram_size());
            self.pn += 1;
            self.probes += 1;
            assert!(self.probes < 200, "search does not end");
            self.pmtud.on_probe_sent(self.pn, size);
            self.now = self.now + Duration::from_millis(100);
            let lost = size > self.mtu || self.rng.next() % 100 < self.loss;
            if lost {
                assert!(!self.pmtud.on_packet_lost(self.pn, size, self.now));
            } else {
                self.pmtud.on_packet_acked(self.pn, size, self.now);
            }
        }
        assert_eq!(self.pmtud.state(), PmtudState::SearchComplete);
    }

    /// Full-size application packets, lost exactly when they exceed the MTU.
    /// Returns whether a black hole was detected.
    fn traffic(&mut self, packets: usize) -> bool {
        let mut black_hole = false;
        for _ in 0..packets {
            let size = self.pmtud.max_datagram_size();
            self.pn += 1;
            if size > self.mtu {
                black_hole |= self.pmtud.on_packet_lost(self.pn, size, self.now);
            } else {
                self.pmtud.on_packet_acked(self.pn, size, self.now);
            }
        }
        black_hole
    }

    fn check_converged(&self) {
        let found = self.pmtud.max_datagram_size();
        let best = self.mtu.min(self.limit);
        assert!(found <= best, "{found} above {best}");
        // Random loss may make a good size fail MAX_PROBES times in a row;
        // without loss the search ends within the granularity.
        if self.loss == 0 {
            assert!(best - found < SEARCH_GRANULARITY, "{found} vs {best}");
        }
    }
}

#[test]
fn search_converges_on_random_paths() {
    for seed in 1..=500 {
        let mut sim = Sim::new(seed);
        sim.pmtud.start(sim.now);
        sim.search();
        sim.check_converged();
        // Base-size and full-size traffic flows without false alarms.
        assert!(!sim.traffic(100));
    }
}

#[test]
fn lossless_search_is_short() {
    for seed in 1..=200 {
        let mut sim = Sim::new(seed);
        sim.loss = 0;
        sim.pmtud.start(sim.now);
        sim.search();
        sim.check_converged();
        // One try at the top, then bisection: each failed size costs
        // MAX_PROBES probes.
        let range = (sim.limit - BASE_PLPMTU).max(2) as f64;
        let bound = (range.log2().ceil() as u32 + 1) * u32::from(MAX_PROBES);
        assert!(sim.probes <= bound, "{} > {bound}", sim.probes);
    }
}

#[test]
fn black_hole_then_recovery() {
    for seed in 1..=200 {
        let mut sim = Sim::new(seed);
        sim.loss = 0;
        sim.pmtud.start(sim.now);
        sim.search();
        let before = sim.pmtud.max_datagram_size();
        if before < 1300 {
            continue;
        }
        // The path shrinks under the current size.
        sim.mtu = sim.rng.range(1200, before - 1);
        assert!(sim.traffic(10), "black hole detected");
        assert_eq!(sim.pmtud.max_datagram_size(), BASE_PLPMTU);
        sim.search();
        sim.check_converged();
        // The path grows back; the raise timer finds it.
        sim.mtu = before;
        let raise = sim.pmtud.next_timeout().expect("raise timer");
        sim.now = raise;
        sim.pmtud.on_timeout(sim.now);
        sim.search();
        sim.check_converged();
        assert!(sim.pmtud.max_datagram_size() > before - SEARCH_GRANULARITY);
    }
}
