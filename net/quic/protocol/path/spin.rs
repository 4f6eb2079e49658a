// SPDX-License-Identifier: GPL-2.0

//! The latency spin bit of one network path (RFC 9000 §17.4).
//!
//! Short header packets carry a spin bit that lets on-path observers
//! measure the round-trip time: the server reflects the value it last
//! received, the client inverts it, so the bit flips once per round trip.
//! Each path keeps its own spin value and the highest packet number it
//! received, and only a 1-RTT packet that raises that number updates the
//! value.
//!
//! Participation is decided per path, once, when the path first sends or
//! receives a 1-RTT packet: off if the configuration disables the spin bit,
//! and off at random on one path in 16 otherwise. A path that does not
//! participate ignores what it receives and sends a random bit.
//!
//! The path holds no randomness: the connection passes random values in.

use crate::protocol::side::Side;

/// Whether a path takes part in the spin bit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpinMode {
    /// Not decided yet: no 1-RTT packet went either way on the path.
    #[default]
    Undecided,
    /// The spin value follows the peer's.
    Enabled,
    /// The bit is random and incoming values are ignored.
    Disabled,
}

/// The spin bit state of a path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spin {
    mode: SpinMode,
    /// The value to send.
    value: bool,
    /// The highest packet number received on the path.
    largest_pn: Option<u64>,
}

/// One path in this many does not take part, even when allowed.
pub const DISABLE_ONE_IN: u64 = 16;

impl Spin {
    /// A path's initial state: undecided, value 0.
    pub const fn new() -> Self {
        Self {
            mode: SpinMode::Undecided,
            value: false,
            largest_pn: None,
        }
    }

    /// Whether the path takes part.
    pub fn mode(&self) -> SpinMode {
        self.mode
    }

    /// The stored spin value (meaningful when enabled).
    pub fn value(&self) -> bool {
        self.value
    }

    /// Decides participation on first use: `allowed` is the configuration,
    /// `random` a random value drawn by the connection for this path.
    pub fn decide(&mut self, allowed: bool, random: u64) {
        if self.mode != SpinMode::Undecided {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-17.4
        //# Even when the
        //# spin bit is not disabled by the administrator, endpoints MUST disable their use
        //# of the spin bit for a random selection of at least one in every 16 network
        let draw = random % DISABLE_ONE_IN;
        self.mode = if allowed && draw != 0 {
            SpinMode::Enabled
        } else {
            SpinMode::Disabled
        };
    }

    /// Takes the spin bit of an authenticated 1-RTT packet numbered `pn`,
    /// received by `side` on this path.
    pub fn on_packet_received(&mut self, side: Side, pn: u64, spin: bool) {
        if self.largest_pn.is_some_and(|l| pn <= l) {
            return;
        }
        self.largest_pn = Some(pn);
        //= https://www.rfc-editor.org/rfc/rfc9000#section-17.4
        //# When the spin bit is disabled, endpoints MAY set the spin bit to any value and
        //# MUST ignore any incoming value.
        if self.mode != SpinMode::Enabled {
            return;
        }
        self.value = match side {
            Side::Server => spin,
            Side::Client => !spin,
        };
    }

    /// The bit to put in a 1-RTT packet sent on this path; `random` is used
    /// when the path does not take part.
    pub fn to_send(&self, random: u64) -> bool {
        match self.mode {
            SpinMode::Enabled => self.value,
            //= https://www.rfc-editor.org/rfc/rfc9000#section-17.4
            //# It is RECOMMENDED that endpoints set the spin
            //# bit to a random value either chosen independently for each packet
            SpinMode::Undecided | SpinMode::Disabled => random & 1 == 1,
        }
    }

    /// The path now uses another connection ID.
    pub fn on_cid_changed(&mut self) {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-17.4
        //# An endpoint resets the spin value for a network path to 0 when changing the
        //# connection ID being used on that network path.
        self.value = false;
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_path_spin))]
mod tests {
    use super::*;

    fn enabled() -> Spin {
        let mut s = Spin::new();
        s.decide(true, 1);
        s
    }

    #[test]
    fn starts_at_zero_and_undecided() {
        let s = Spin::new();
        assert_eq!(s.mode(), SpinMode::Undecided);
        assert!(!s.value());
    }

    #[test]
    fn server_reflects_and_client_inverts() {
        let mut server = enabled();
        server.on_packet_received(Side::Server, 0, true);
        assert!(server.to_send(0));
        server.on_packet_received(Side::Server, 1, false);
        assert!(!server.to_send(1));
        let mut client = enabled();
        client.on_packet_received(Side::Client, 0, false);
        assert!(client.to_send(0));
        client.on_packet_received(Side::Client, 1, true);
        assert!(!client.to_send(1));
    }

    #[test]
    fn only_a_higher_packet_number_updates() {
        let mut s = enabled();
        s.on_packet_received(Side::Server, 5, true);
        // Reordered: an older packet leaves the value alone.
        s.on_packet_received(Side::Server, 4, false);
        assert!(s.value());
        s.on_packet_received(Side::Server, 5, false);
        assert!(s.value());
        s.on_packet_received(Side::Server, 6, false);
        assert!(!s.value());
    }

    #[test]
    fn disabled_ignores_incoming_and_sends_random_bits() {
        let mut s = Spin::new();
        s.decide(false, 1);
        assert_eq!(s.mode(), SpinMode::Disabled);
        s.on_packet_received(Side::Server, 0, true);
        assert!(!s.value());
        assert!(s.to_send(1));
        assert!(!s.to_send(2));
    }

    #[test]
    fn one_path_in_sixteen_is_disabled_at_random() {
        let mut off = 0;
        for r in 0..(DISABLE_ONE_IN * 4) {
            let mut s = Spin::new();
            s.decide(true, r);
            off += u64::from(s.mode() == SpinMode::Disabled);
        }
        assert_eq!(off, 4);
        // Decided once: later draws change nothing.
        let mut s = enabled();
        s.decide(true, 0);
        assert_eq!(s.mode(), SpinMode::Enabled);
    }

    #[test]
    fn a_new_connection_id_resets_the_value() {
        let mut s = enabled();
        s.on_packet_received(Side::Server, 0, true);
        s.on_cid_changed();
        assert!(!s.value());
        // The highest packet number is kept.
        s.on_packet_received(Side::Server, 0, true);
        assert!(!s.value());
    }
}
