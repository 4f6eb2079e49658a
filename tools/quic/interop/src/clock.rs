// SPDX-License-Identifier: GPL-2.0

//! Virtual time in the types of both stacks.
//!
//! The simulation's clock is our core's [`Instant`] (nanoseconds from an
//! arbitrary origin). quinn-proto takes `std::time::Instant`, which can
//! only be made from the system clock: the [`Clock`] reads it once, as an
//! opaque origin, and maps virtual instants onto it; nothing depends on
//! its value. quinn's Retry token expiry reads a [`SystemClock`] that
//! follows virtual time too.

use quic_protocol::protocol::time::Instant;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Maps virtual instants to `std::time::Instant` and back.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    /// A clock whose virtual zero is an arbitrary `std` instant.
    pub fn new() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }

    /// The `std` instant of virtual time `t`.
    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        self.origin + Duration::from_nanos(t.as_nanos())
    }

    /// The virtual time of a `std` instant obtained from [`Clock::to_std`]
    /// (or computed by quinn from one).
    pub fn from_std(&self, t: std::time::Instant) -> Instant {
        let nanos = t.saturating_duration_since(self.origin).as_nanos();
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// A `SystemTime` source for quinn that follows virtual time: a fixed
/// date plus the virtual nanoseconds, set by the harness as time moves.
#[derive(Debug, Default)]
pub struct SystemClock(AtomicU64);

impl SystemClock {
    /// 2025-01-01T00:00:00Z, the virtual date at time zero.
    const EPOCH_OFFSET: Duration = Duration::from_secs(1_735_689_600);

    /// Moves the clock to virtual time `t`.
    pub fn set(&self, t: Instant) {
        self.0.store(t.as_nanos(), Ordering::Relaxed);
    }

    /// A shared clock at time zero.
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }
}

impl quinn_proto::TimeSource for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
            + Self::EPOCH_OFFSET
            + Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}
