// SPDX-License-Identifier: GPL-2.0

//! Path validation (RFC 9000 §8.2).
//!
//! An endpoint proves that the peer is reachable at an address by sending it
//! PATH_CHALLENGE frames with unpredictable data and receiving that data back
//! in a PATH_RESPONSE. Challenges are resent each PTO, backing off, and the
//! attempt is abandoned after three times the larger of the current PTO and
//! a new path's initial PTO.
//!
//! The caller supplies the random challenge data when it sends a challenge;
//! this state machine decides when one is due and matches responses.

use crate::protocol::time::Instant;
use core::time::Duration;

/// The size of PATH_CHALLENGE and PATH_RESPONSE data.
pub const CHALLENGE_LEN: usize = 8;

/// PATH_CHALLENGE or PATH_RESPONSE data.
pub type ChallengeData = [u8; CHALLENGE_LEN];

/// The smallest maximum datagram size: datagrams carrying a PATH_CHALLENGE
/// are expanded to it, which also checks that the path carries QUIC.
pub const MIN_DATAGRAM_SIZE: usize = 1200;

/// The RTT assumed for a path before any sample (RFC 9002 §6.2.2).
pub const INITIAL_RTT: Duration = Duration::from_millis(333);

/// The PTO of a path with no RTT sample: `smoothed_rtt + 4 * rttvar` with
/// `smoothed_rtt = kInitialRtt` and `rttvar = kInitialRtt / 2`.
pub const NEW_PATH_PTO: Duration = Duration::from_millis(3 * 333);

/// The abandonment timer counts this many PTOs.
pub const TIMEOUT_PTOS: u32 = 3;

/// How many challenges of one attempt are remembered; a response to an older
/// one is ignored.
const REMEMBERED: usize = 4;

/// The largest PTO backoff exponent for challenge retransmission.
const MAX_BACKOFF: u32 = 10;

/// The result of a matching PATH_RESPONSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validated {
    /// Whether the matched challenge went in a datagram of at least
    /// [`MIN_DATAGRAM_SIZE`] bytes. If not, the address is validated but the
    /// path MTU is not, and another validation must follow (§8.2.1).
    pub mtu: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Challenge {
    data: ChallengeData,
    expanded: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Attempt {
    /// The last challenges sent, newest at `(next + REMEMBERED - 1) %
    /// REMEMBERED`.
    sent: [Option<Challenge>; REMEMBERED],
    next: usize,
    /// When the next challenge is due.
    send_at: Instant,
    /// When the attempt is abandoned; set by the first challenge sent.
    deadline: Option<Instant>,
    /// Challenges sent so far, for the backoff.
    count: u32,
}

/// The validation state of one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validation {
    validated: bool,
    attempt: Option<Attempt>,
}

impl Default for Validation {
    fn default() -> Self {
        Self::new()
    }
}

impl Validation {
    /// A path not validated, with no attempt under way.
    pub const fn new() -> Self {
        Self {
            validated: false,
            attempt: None,
        }
    }

    /// A path validated by other means (the handshake).
    pub const fn validated() -> Self {
        Self {
            validated: true,
            attempt: None,
        }
    }

    /// Whether a PATH_RESPONSE (or the handshake) validated the path.
    ///
    /// A validated path stays validated while it is validated again.
    pub fn is_validated(&self) -> bool {
        self.validated
    }

    /// Marks the path validated by other means (the handshake), ending any
    /// attempt.
    pub fn set_validated(&mut self) {
        self.validated = true;
        self.attempt = None;
    }

    /// Whether an attempt is under way.
    pub fn in_progress(&self) -> bool {
        self.attempt.is_some()
    }

    /// Starts an attempt, with a challenge due at once. Does nothing if one
    /// is already under way.
    pub fn start(&mut self, now: Instant) {
        if self.attempt.is_none() {
            self.attempt = Some(Attempt {
                sent: [None; REMEMBERED],
                next: 0,
                send_at: now,
                deadline: None,
                count: 0,
            });
        }
    }

    /// Abandons the attempt under way, if any.
    pub fn abandon(&mut self) {
        self.attempt = None;
    }

    /// Whether a PATH_CHALLENGE should be sent now.
    pub fn challenge_due(&self, now: Instant) -> bool {
        self.attempt.is_some_and(|a| a.send_at <= now)
    }

    /// Records a PATH_CHALLENGE with `data` sent in a datagram of
    /// `datagram_len` bytes. `pto` is the current PTO: the next challenge is
    /// due one PTO later, doubling each time, and the first one starts the
    /// abandonment timer.
    ///
    /// `data` must be unpredictable and fresh for every challenge.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-8.2.1
    //# The endpoint MUST use unpredictable data in every PATH_CHALLENGE frame
    //# so that it can associate the peer's response with the corresponding
    //# PATH_CHALLENGE.
    pub fn on_challenge_sent(
        &mut self,
        data: ChallengeData,
        datagram_len: usize,
        now: Instant,
        pto: Duration,
    ) {
        let Some(a) = self.attempt.as_mut() else {
            return;
        };
        if let Some(slot) = a.sent.get_mut(a.next) {
            *slot = Some(Challenge {
                data,
                expanded: datagram_len >= MIN_DATAGRAM_SIZE,
            });
        }
        a.next = (a.next + 1) % REMEMBERED;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-8.2.4
        //# A value of three times the larger of the current PTO or the PTO for
        //# the new path (using kInitialRtt, as defined in [QUIC-RECOVERY]) is
        //# RECOMMENDED.
        if a.deadline.is_none() {
            a.deadline = Some(now + pto.max(NEW_PATH_PTO).saturating_mul(TIMEOUT_PTOS));
        }
        let backoff = 1u32 << a.count.min(MAX_BACKOFF);
        a.send_at = now + pto.saturating_mul(backoff);
        a.count = a.count.saturating_add(1);
    }

    /// Processes a PATH_RESPONSE. On a match with a challenge of the attempt
    /// under way, the path is validated and the attempt ends.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-8.2.3
    //# Path validation succeeds when a PATH_RESPONSE frame is received that
    //# contains the data that was sent in a previous PATH_CHALLENGE frame.
    pub fn on_response(&mut self, data: &ChallengeData) -> Option<Validated> {
        let a = self.attempt.as_ref()?;
        let c = a.sent.iter().flatten().find(|c| c.data == *data)?;
        let mtu = c.expanded;
        self.validated = true;
        self.attempt = None;
        Some(Validated { mtu })
    }

    /// The next time [`Validation::on_timeout`] or a challenge is due.
    pub fn next_timeout(&self) -> Option<Instant> {
        let a = self.attempt.as_ref()?;
        Some(a.deadline.map_or(a.send_at, |d| d.min(a.send_at)))
    }

    /// When the attempt will be abandoned, once its first challenge was
    /// sent.
    pub fn deadline(&self) -> Option<Instant> {
        self.attempt.as_ref()?.deadline
    }

    /// Abandons the attempt if its timer expired. Returns whether it did:
    /// the validation failed.
    pub fn on_timeout(&mut self, now: Instant) -> bool {
        let expired = self
            .attempt
            .is_some_and(|a| a.deadline.is_some_and(|d| d <= now));
        if expired {
            self.attempt = None;
        }
        expired
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_path_validation))]
mod tests {
    use super::*;

    const PTO: Duration = Duration::from_millis(100);

    fn ms(n: u64) -> Instant {
        Instant::from_nanos(n * 1_000_000)
    }

    #[test]
    fn challenge_and_response() {
        let mut v = Validation::new();
        assert!(!v.challenge_due(ms(0)));
        v.start(ms(0));
        assert!(v.in_progress());
        assert!(v.challenge_due(ms(0)));
        v.on_challenge_sent([1; 8], 1200, ms(0), PTO);
        assert!(!v.challenge_due(ms(50)));
        // A response with other data does not validate.
        assert_eq!(v.on_response(&[2; 8]), None);
        assert_eq!(v.on_response(&[1; 8]), Some(Validated { mtu: true }));
        assert!(v.is_validated());
        assert!(!v.in_progress());
        assert_eq!(v.next_timeout(), None);
        // A repeated response is no longer matched.
        assert_eq!(v.on_response(&[1; 8]), None);
    }

    #[test]
    fn retransmits_each_pto_with_backoff() {
        let mut v = Validation::new();
        v.start(ms(0));
        v.on_challenge_sent([1; 8], 1200, ms(0), PTO);
        assert_eq!(v.next_timeout(), Some(ms(100)));
        assert!(v.challenge_due(ms(100)));
        v.on_challenge_sent([2; 8], 1200, ms(100), PTO);
        assert!(!v.challenge_due(ms(299)));
        assert!(v.challenge_due(ms(300)));
        // Any challenge of the attempt may be answered.
        assert_eq!(v.on_response(&[1; 8]), Some(Validated { mtu: true }));
    }

    #[test]
    fn times_out_after_three_ptos() {
        let mut v = Validation::new();
        v.start(ms(0));
        // Nothing sent yet: no abandonment timer.
        assert!(!v.on_timeout(ms(100_000)));
        let big = Duration::from_secs(2);
        v.on_challenge_sent([1; 8], 1200, ms(0), big);
        assert!(!v.on_timeout(ms(5_999)));
        assert!(v.on_timeout(ms(6_000)));
        assert!(!v.in_progress());
        assert!(!v.is_validated());
        assert_eq!(v.on_response(&[1; 8]), None);
    }

    #[test]
    fn timeout_uses_the_new_path_pto_at_least() {
        let mut v = Validation::new();
        v.start(ms(0));
        v.on_challenge_sent([1; 8], 1200, ms(0), PTO);
        assert!(!v.on_timeout(ms(2_996)));
        assert!(v.on_timeout(ms(2_997)));
    }

    #[test]
    fn small_datagram_validates_address_not_mtu() {
        let mut v = Validation::new();
        v.start(ms(0));
        v.on_challenge_sent([1; 8], 300, ms(0), PTO);
        assert_eq!(v.on_response(&[1; 8]), Some(Validated { mtu: false }));
    }

    #[test]
    fn old_challenges_are_forgotten() {
        let mut v = Validation::new();
        v.start(ms(0));
        for i in 0..5u8 {
            v.on_challenge_sent([i; 8], 1200, ms(0), PTO);
        }
        assert_eq!(v.on_response(&[0; 8]), None);
        assert_eq!(v.on_response(&[1; 8]), Some(Validated { mtu: true }));
    }

    #[test]
    fn revalidation_keeps_the_path_validated() {
        let mut v = Validation::validated();
        v.start(ms(0));
        v.on_challenge_sent([1; 8], 1200, ms(0), PTO);
        assert!(v.is_validated());
        // A failed revalidation ends the attempt; what it means for the path
        // is the caller's decision.
        assert!(v.on_timeout(ms(10_000)));
        assert!(v.is_validated());
        assert!(!v.in_progress());
    }

    #[test]
    fn abandon_and_handshake_validation() {
        let mut v = Validation::new();
        v.start(ms(0));
        v.on_challenge_sent([1; 8], 1200, ms(0), PTO);
        v.abandon();
        assert!(!v.in_progress());
        assert_eq!(v.on_response(&[1; 8]), None);
        assert!(!v.is_validated());
        v.start(ms(1));
        v.set_validated();
        assert!(v.is_validated() && !v.in_progress());
    }
}
