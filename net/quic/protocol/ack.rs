// SPDX-License-Identifier: GPL-2.0

//! Generating acknowledgments (RFC 9000 §13.2) and the ECN counts they carry
//! (RFC 9000 §13.4).
//!
//! The receiver side of reliability, per packet-number space:
//!
//! - [`received`]: which packet numbers arrived, as a bounded
//!   [`RangeSet`](crate::protocol::range_set::RangeSet), with duplicate
//!   detection and the ACK-of-ACK cut-off,
//! - [`delay`]: the ACK Delay field and its `ack_delay_exponent` scaling,
//! - [`tracker`]: [`AckTracker`], which decides when an ACK frame is due
//!   (immediately, after enough ack-eliciting packets, or when the
//!   max_ack_delay deadline the caller armed expires) and what it contains.
//!
//! The frame encoder lives elsewhere: this module hands out the ranges to
//! acknowledge, the ACK delay and the ECN counts, and is told when an ACK
//! was sent and when the peer acknowledged one.
//!
//! [`EcnCodepoint`] and [`EcnCounts`] are shared with the sender's ECN
//! validation in [`crate::protocol::recovery::ecn`].

pub mod delay;
pub mod received;
pub mod tracker;

pub use tracker::{AckConfig, AckTracker};

/// The ECN field of an IP header (RFC 3168 §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EcnCodepoint {
    /// Not ECN-Capable Transport.
    #[default]
    NotEct = 0b00,
    /// ECN-Capable Transport, ECT(1).
    Ect1 = 0b01,
    /// ECN-Capable Transport, ECT(0).
    Ect0 = 0b10,
    /// Congestion Experienced.
    Ce = 0b11,
}

impl EcnCodepoint {
    /// The codepoint in the two low bits of a TOS or Traffic Class byte.
    pub const fn from_bits(tos: u8) -> Self {
        match tos & 0b11 {
            0b01 => EcnCodepoint::Ect1,
            0b10 => EcnCodepoint::Ect0,
            0b11 => EcnCodepoint::Ce,
            _ => EcnCodepoint::NotEct,
        }
    }

    /// The two bits to put in the TOS or Traffic Class byte.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

/// The three ECN counters of an ACK frame of type 0x03 (RFC 9000 §19.3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EcnCounts {
    /// Packets received with ECT(0).
    pub ect0: u64,
    /// Packets received with ECT(1).
    pub ect1: u64,
    /// Packets received with ECN-CE.
    pub ce: u64,
}

impl EcnCounts {
    /// All counts zero.
    pub const ZERO: EcnCounts = EcnCounts {
        ect0: 0,
        ect1: 0,
        ce: 0,
    };

    /// Counts one packet received with `codepoint`.
    pub fn increment(&mut self, codepoint: EcnCodepoint) {
        let count = match codepoint {
            EcnCodepoint::NotEct => return,
            EcnCodepoint::Ect0 => &mut self.ect0,
            EcnCodepoint::Ect1 => &mut self.ect1,
            EcnCodepoint::Ce => &mut self.ce,
        };
        *count = count.saturating_add(1);
    }

    /// Whether every count is zero.
    pub const fn is_zero(&self) -> bool {
        self.ect0 == 0 && self.ect1 == 0 && self.ce == 0
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_ack))]
mod tests {
    use super::*;

    #[test]
    fn codepoints_round_trip() {
        for cp in [
            EcnCodepoint::NotEct,
            EcnCodepoint::Ect1,
            EcnCodepoint::Ect0,
            EcnCodepoint::Ce,
        ] {
            assert_eq!(EcnCodepoint::from_bits(cp.bits()), cp);
        }
        // Only the two low bits of a TOS byte are the ECN field.
        assert_eq!(EcnCodepoint::from_bits(0xb9), EcnCodepoint::Ect1);
    }

    #[test]
    fn counting() {
        let mut counts = EcnCounts::ZERO;
        assert!(counts.is_zero());
        counts.increment(EcnCodepoint::NotEct);
        assert!(counts.is_zero());
        counts.increment(EcnCodepoint::Ect0);
        counts.increment(EcnCodepoint::Ect0);
        counts.increment(EcnCodepoint::Ce);
        assert_eq!(
            counts,
            EcnCounts {
                ect0: 2,
                ect1: 0,
                ce: 1
            }
        );
    }
}
