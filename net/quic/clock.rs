// SPDX-License-Identifier: GPL-2.0

//! The protocol core's clock in the kernel.
//!
//! The core reads no clock: every call takes `now`. In the kernel that is
//! `CLOCK_MONOTONIC` (`ktime_get()`), in nanoseconds since boot, the clock
//! hrtimers run on, so an instant the core asks a timer to fire at can be
//! armed as it is.

use crate::protocol::time::Instant;
use kernel::time::{ClockSource, Monotonic};

/// The current instant, for the core.
pub(crate) fn now() -> Instant {
    // `ktime_get()` is in 0..=KTIME_MAX: never negative.
    Instant::from_nanos(Monotonic::ktime_get().unsigned_abs())
}
