// SPDX-License-Identifier: GPL-2.0

//! Loss detection and congestion control (RFC 9002).
//!
//! The sender side of reliability, one concept per file:
//!
//! - [`rtt`]: the RTT estimator (min, smoothed, variation, latest; §5),
//! - [`sent`]: the packets sent and not yet settled, per packet-number space,
//!   each carrying a caller payload `T` so that the frames of a lost packet can
//!   be queued again (Appendix A.1),
//! - [`loss`]: acknowledgment-based loss detection by packet and time
//!   threshold (§6.1),
//! - [`pto`]: the probe timeout and the single loss detection timer (§6.2),
//! - [`persistent`]: persistent congestion (§7.6),
//! - [`ecn`]: ECN validation of the counts in ACK frames (RFC 9000 §13.4.2),
//! - [`congestion`]: the [`congestion::Controller`] trait with NewReno
//!   (§7, Appendix B) and CUBIC (RFC 9438), selected without `dyn`,
//! - [`pacer`]: a token bucket that spreads packets over the RTT (§7.7),
//! - [`manager`]: [`Manager`], which ties them together behind the events a
//!   connection sees: a packet was sent, an ACK frame arrived, the timer
//!   fired, keys were discarded.
//!
//! Everything is integer arithmetic on [`Instant`]s and [`Duration`]s supplied
//! by the caller; nothing here reads a clock, allocates per ACK, or panics on
//! values chosen by the peer.
//!
//! [`Instant`]: crate::protocol::time::Instant

use core::time::Duration;

pub mod congestion;
pub mod ecn;
pub mod loss;
pub mod manager;
pub mod pacer;
pub mod persistent;
pub mod pto;
pub mod rtt;
pub mod sent;

mod arith;

pub use manager::{Config, Manager, TimerOutcome};
pub use rtt::RttEstimator;
pub use sent::{Fate, SentPacket, Settled};

/// Reordering threshold, in packets, before a packet is declared lost.
//= https://www.rfc-editor.org/rfc/rfc9002#section-6.1.1
//# The RECOMMENDED initial value for the packet reordering threshold
//# (kPacketThreshold) is 3
pub const PACKET_THRESHOLD: u64 = 3;

/// Reordering threshold in time, as the fraction
/// `TIME_THRESHOLD_NUM / TIME_THRESHOLD_DEN` of the RTT (9/8).
pub const TIME_THRESHOLD_NUM: u32 = 9;
/// Denominator of the time threshold; see [`TIME_THRESHOLD_NUM`].
pub const TIME_THRESHOLD_DEN: u32 = 8;

/// Timer granularity (kGranularity).
pub const GRANULARITY: Duration = Duration::from_millis(1);

/// The RTT assumed before the first sample (kInitialRtt).
pub const INITIAL_RTT: Duration = Duration::from_millis(333);

/// Persistent congestion threshold, as a multiple of the PTO period.
pub const PERSISTENT_CONGESTION_THRESHOLD: u32 = 3;

/// A packet number space (RFC 9000 §12.3).
///
/// 0-RTT and 1-RTT packets share [`PacketNumberSpace::ApplicationData`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PacketNumberSpace {
    /// Initial packets.
    Initial = 0,
    /// Handshake packets.
    Handshake = 1,
    /// 0-RTT and 1-RTT packets.
    ApplicationData = 2,
}

impl PacketNumberSpace {
    /// The three spaces, in the order the loss detection timer scans them.
    pub const ALL: [PacketNumberSpace; 3] = [
        PacketNumberSpace::Initial,
        PacketNumberSpace::Handshake,
        PacketNumberSpace::ApplicationData,
    ];

    /// The space's index in per-space arrays: 0, 1 or 2.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Whether ack-eliciting packets of this space are acknowledged without
    /// delay by the peer (Initial and Handshake, RFC 9000 §13.2.1).
    pub const fn is_handshake(self) -> bool {
        !matches!(self, PacketNumberSpace::ApplicationData)
    }
}
