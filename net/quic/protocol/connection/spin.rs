// SPDX-License-Identifier: GPL-2.0

//! The latency spin bit on a connection (RFC 9000 §17.4).
//!
//! Each path keeps its spin state ([`crate::protocol::path::spin`]); the
//! connection decides on first use whether the path takes part, from
//! [`Config::spin_bit`](crate::protocol::connection::Config::spin_bit) and
//! a random draw, updates it from every authenticated 1-RTT packet and
//! reads it for every 1-RTT packet it sends. Randomness comes from the
//! connection's pseudo-random stream, seeded by its [`Generator`].

use crate::protocol::cid::Generator;
use crate::protocol::connection::Connection;
use crate::protocol::crypto::Provider;
use crate::protocol::path::spin::SpinMode;
use crate::protocol::path::PathId;

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Decides whether `path` takes part, on its first 1-RTT packet.
    fn decide_spin(&mut self, path: PathId) {
        let undecided = self
            .paths
            .get(path)
            .is_some_and(|p| p.spin().mode() == SpinMode::Undecided);
        if !undecided {
            return;
        }
        let allowed = self.config.spin_bit;
        let random = self.grease_random();
        if let Some(p) = self.paths.get_mut(path) {
            p.spin_mut().decide(allowed, random);
        }
    }

    /// Takes the spin bit of an authenticated 1-RTT packet numbered `pn`
    /// received on `path`.
    pub(crate) fn on_spin_received(&mut self, path: PathId, pn: u64, spin: bool) {
        self.decide_spin(path);
        let side = self.side;
        if let Some(p) = self.paths.get_mut(path) {
            p.spin_mut().on_packet_received(side, pn, spin);
        }
    }

    /// The spin bit of a 1-RTT packet to send on `path`.
    pub(crate) fn spin_to_send(&mut self, path: PathId) -> bool {
        self.decide_spin(path);
        let spin = self.paths.get(path).map(|p| *p.spin());
        match spin {
            Some(s) if s.mode() == SpinMode::Enabled => s.value(),
            _ => self.grease_random() & 1 == 1,
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_spin))]
mod tests {
    use super::SpinMode;
    use crate::protocol::connection::testing::{config, Pair, TestResult, CLIENT, SERVER};
    use crate::protocol::stream::Dir;
    use core::time::Duration;

    /// Sends on a stream every step for `d` and counts the flips of the
    /// client's spin value; returns them with the modes of both ends.
    fn spin_flips(p: &mut Pair, d: Duration) -> TestResult<(u32, SpinMode, SpinMode)> {
        let id = p.conn(CLIENT)?.stream_open(Dir::Uni).map_err(|_| "open")?;
        let mut last = p.conn(CLIENT)?.paths().active().spin().value();
        let mut flips = 0u32;
        let end = p.now + d;
        p.run_until(d + Duration::from_millis(1), |p| {
            if let Ok(c) = p.conn(CLIENT) {
                let _ = c.stream_write(id, &[7u8; 100], false);
                let v = c.paths().active().spin().value();
                flips += u32::from(v != last);
                last = v;
            }
            p.now >= end
        })?;
        let client = p.conn(CLIENT)?.paths().active().spin().mode();
        let server = p.conn(SERVER)?.paths().active().spin().mode();
        Ok((flips, client, server))
    }

    /// With traffic flowing, the client's value flips about once per round
    /// trip (20 ms here), and the server follows.
    #[test]
    fn the_spin_value_flips_once_per_round_trip() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let (flips, client, server) = spin_flips(&mut p, Duration::from_millis(400))?;
        assert_eq!(client, SpinMode::Enabled);
        assert_eq!(server, SpinMode::Enabled);
        // 400 ms at 20 ms per round trip: about 20 flips.
        assert!(flips >= 15);
        assert!(flips <= 25);
        Ok(())
    }

    /// An endpoint configured off does not take part: its value never
    /// moves, whatever the peer sends.
    #[test]
    fn a_disabled_client_ignores_the_spin_bit() -> TestResult {
        let mut off = config();
        off.spin_bit = false;
        let mut p = Pair::new(off, config())?;
        p.handshake()?;
        let (flips, client, _) = spin_flips(&mut p, Duration::from_millis(200))?;
        assert_eq!(client, SpinMode::Disabled);
        assert_eq!(flips, 0);
        Ok(())
    }
}
