// SPDX-License-Identifier: GPL-2.0

//! The anti-amplification limit (RFC 9000 §8.1).
//!
//! Until a peer's address is validated, an endpoint may send it at most three
//! times the bytes it received from it, so that a spoofed source address
//! cannot turn the endpoint into an amplifier. The limit is per path and
//! counts whole UDP payloads, including datagrams whose packets were all
//! discarded.

/// How many bytes may be sent per byte received from an unvalidated address.
//= https://www.rfc-editor.org/rfc/rfc9000#section-8
//# an endpoint MUST limit the amount of data it sends to the unvalidated
//# address to three times the amount of data received from that address.
pub const AMPLIFICATION_FACTOR: u64 = 3;

/// Byte accounting for one path's anti-amplification limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AntiAmplification {
    received: u64,
    sent: u64,
    validated: bool,
}

impl AntiAmplification {
    /// For an address not validated yet: nothing may be sent until something
    /// is received.
    pub const fn unvalidated() -> Self {
        Self {
            received: 0,
            sent: 0,
            validated: false,
        }
    }

    /// For an address known to be the peer's: no limit.
    pub const fn validated() -> Self {
        Self {
            received: 0,
            sent: 0,
            validated: true,
        }
    }

    /// Lifts the limit: the address was validated.
    pub fn validate(&mut self) {
        self.validated = true;
    }

    /// Whether the address was validated.
    pub fn is_validated(&self) -> bool {
        self.validated
    }

    /// Counts a datagram of `bytes` received from the address.
    pub fn on_received(&mut self, bytes: usize) {
        self.received = self.received.saturating_add(saturating_u64(bytes));
    }

    /// Counts a datagram of `bytes` sent to the address.
    pub fn on_sent(&mut self, bytes: usize) {
        self.sent = self.sent.saturating_add(saturating_u64(bytes));
    }

    /// How many more bytes may be sent now: unlimited (`u64::MAX`) once the
    /// address is validated.
    pub fn send_budget(&self) -> u64 {
        if self.validated {
            return u64::MAX;
        }
        self.received
            .saturating_mul(AMPLIFICATION_FACTOR)
            .saturating_sub(self.sent)
    }

    /// Whether a datagram of `bytes` fits the budget.
    pub fn can_send(&self, bytes: usize) -> bool {
        saturating_u64(bytes) <= self.send_budget()
    }
}

fn saturating_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_path_amplification))]
mod tests {
    use super::*;

    #[test]
    fn three_times_what_was_received() {
        let mut a = AntiAmplification::unvalidated();
        assert_eq!(a.send_budget(), 0);
        assert!(!a.can_send(1));
        assert!(a.can_send(0));
        a.on_received(1200);
        assert_eq!(a.send_budget(), 3600);
        assert!(a.can_send(3600));
        assert!(!a.can_send(3601));
        a.on_sent(1200);
        a.on_sent(1200);
        assert_eq!(a.send_budget(), 1200);
        a.on_sent(1200);
        // Exactly at the boundary: nothing more.
        assert_eq!(a.send_budget(), 0);
        assert!(!a.can_send(1));
        // One more byte received allows three more.
        a.on_received(1);
        assert_eq!(a.send_budget(), 3);
    }

    #[test]
    fn overshoot_never_underflows() {
        let mut a = AntiAmplification::unvalidated();
        a.on_received(10);
        a.on_sent(100);
        assert_eq!(a.send_budget(), 0);
        // Huge counts saturate instead of wrapping.
        for _ in 0..4 {
            a.on_received(usize::MAX);
        }
        assert!(a.send_budget() > 0);
    }

    #[test]
    fn validation_lifts_the_limit() {
        let mut a = AntiAmplification::unvalidated();
        a.on_received(100);
        a.on_sent(300);
        assert!(!a.is_validated());
        a.validate();
        assert!(a.is_validated());
        assert_eq!(a.send_budget(), u64::MAX);
        assert!(a.can_send(usize::MAX));
        assert_eq!(AntiAmplification::validated().send_budget(), u64::MAX);
    }
}
