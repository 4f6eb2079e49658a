// SPDX-License-Identifier: GPL-2.0

//! The latency spin bit (RFC 9000 §17.4), as an on-path observer sees it:
//! while data flows, the bit each side sends flips once per round trip
//! (20 ms here), the server reflecting the client and the client
//! inverting. quinn takes part too (`allow_spin`), but sends random bits
//! on one connection in eight, as RFC 9000 allows: seed 1 draws that for
//! its client, seed 2 does not. A broken side would show as no flips or
//! as random bits, flipping about every other packet.

use quic_interop::pair::{Pair, BOTH};
use quic_interop::setup::Setup;
use quic_interop::transfer::{pattern, send};

#[test]
fn the_spin_bit_measures_the_round_trip() {
    for direction in BOTH {
        let setup = Setup {
            seed: 2,
            ..Setup::default()
        };
        let mut p = Pair::new(direction, &setup);
        p.handshake();
        let start = p.now;
        let flips = p.wire.spin_flips;
        send(&mut p, true, &pattern(1 << 20, 1));
        send(&mut p, false, &pattern(1 << 20, 2));
        let round_trips = p.now.saturating_duration_since(start).as_millis() as u64 / 20;
        for (side, (now, then)) in p.wire.spin_flips.iter().zip(flips).enumerate() {
            let n = now - then;
            assert!(n >= round_trips / 2, "{direction:?} side {side}: {n} flips");
            assert!(n <= round_trips + 2, "{direction:?} side {side}: {n} flips");
        }
    }
}
