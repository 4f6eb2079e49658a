// SPDX-License-Identifier: GPL-2.0

//! The connection's timers in one table (quinn-proto's `TimerTable`).
//!
//! Every deadline the connection has is a slot of [`TimerTable`], indexed by
//! [`Timer`]. The connection recomputes the slots after every call that can
//! move one, and the driver arms a single timer (one hrtimer in the kernel)
//! at [`TimerTable::next`], then calls `handle_timeout` when it fires.

use crate::protocol::time::Instant;

/// A connection deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Loss detection or probe timeout (RFC 9002 §6.2).
    LossDetection = 0,
    /// A delayed ACK is due in the Initial space.
    AckInitial = 1,
    /// A delayed ACK is due in the Handshake space.
    AckHandshake = 2,
    /// A delayed ACK is due in the application data space (max_ack_delay).
    AckData = 3,
    /// The idle timeout (RFC 9000 §10.1): the connection closes silently.
    Idle = 4,
    /// Time to send a PING to keep the connection (or a NAT binding) alive.
    KeepAlive = 5,
    /// The previous 1-RTT receive keys are discarded (RFC 9001 §6.5).
    KeyDiscard = 6,
    /// A PATH_CHALLENGE to resend, or a path validation to abandon.
    PathValidation = 7,
    /// The end of the closing or draining period (RFC 9000 §10.2).
    Close = 8,
    /// Pacing lets the next packet go (RFC 9002 §7.7).
    Pacing = 9,
    /// DPLPMTUD raises its probe size again (RFC 8899 §5.1.1).
    Pmtud = 10,
}

impl Timer {
    /// The number of timers.
    pub const COUNT: usize = 11;

    /// Every timer, in table order.
    pub const ALL: [Timer; Timer::COUNT] = [
        Timer::LossDetection,
        Timer::AckInitial,
        Timer::AckHandshake,
        Timer::AckData,
        Timer::Idle,
        Timer::KeepAlive,
        Timer::KeyDiscard,
        Timer::PathValidation,
        Timer::Close,
        Timer::Pacing,
        Timer::Pmtud,
    ];

    /// The ACK timer of the space with index `space` (0, 1 or 2).
    pub const fn ack(space: usize) -> Timer {
        match space {
            0 => Timer::AckInitial,
            1 => Timer::AckHandshake,
            _ => Timer::AckData,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// One optional deadline per [`Timer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerTable {
    at: [Option<Instant>; Timer::COUNT],
}

impl TimerTable {
    /// Every timer stopped.
    pub const fn new() -> Self {
        Self {
            at: [None; Timer::COUNT],
        }
    }

    /// Arms `timer` at `at`, replacing any earlier deadline.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(slot) = self.at.get_mut(timer.index()) {
            *slot = Some(at);
        }
    }

    /// Arms `timer` at `at`, or stops it for `None`.
    pub fn set_or_stop(&mut self, timer: Timer, at: Option<Instant>) {
        if let Some(slot) = self.at.get_mut(timer.index()) {
            *slot = at;
        }
    }

    /// Stops `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.set_or_stop(timer, None);
    }

    /// Stops every timer.
    pub fn stop_all(&mut self) {
        self.at = [None; Timer::COUNT];
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.at.get(timer.index()).copied().flatten()
    }

    /// Whether `timer` is armed and its deadline passed at `now`.
    pub fn is_expired(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|t| t <= now)
    }

    /// The earliest deadline of all.
    pub fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// The timers expired at `now`, in table order.
    pub fn expired(&self, now: Instant) -> impl Iterator<Item = Timer> + '_ {
        Timer::ALL
            .into_iter()
            .filter(move |t| self.is_expired(*t, now))
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_timer))]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_nanos(n * 1_000_000)
    }

    #[test]
    fn earliest_and_expired() {
        let mut t = TimerTable::new();
        assert_eq!(t.next(), None);
        t.set(Timer::Idle, ms(30));
        t.set(Timer::AckData, ms(10));
        t.set(Timer::Close, ms(20));
        assert_eq!(t.next(), Some(ms(10)));
        assert!(t.is_expired(Timer::AckData, ms(10)));
        assert!(!t.is_expired(Timer::Idle, ms(29)));
        let mut n = 0;
        for timer in t.expired(ms(20)) {
            assert!(timer == Timer::AckData || timer == Timer::Close);
            n += 1;
        }
        assert_eq!(n, 2);
        t.stop(Timer::AckData);
        assert_eq!(t.next(), Some(ms(20)));
        t.set_or_stop(Timer::Close, None);
        assert_eq!(t.get(Timer::Close), None);
        t.stop_all();
        assert_eq!(t.next(), None);
    }

    #[test]
    fn table_order_matches_indices() {
        for (i, timer) in Timer::ALL.into_iter().enumerate() {
            assert_eq!(timer.index(), i);
        }
        assert_eq!(Timer::ack(0), Timer::AckInitial);
        assert_eq!(Timer::ack(2), Timer::AckData);
    }
}
