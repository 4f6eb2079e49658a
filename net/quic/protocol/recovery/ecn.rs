// SPDX-License-Identifier: GPL-2.0

//! ECN validation (RFC 9000 §13.4.2 and Appendix A.4).
//!
//! A path starts in [`EcnState::Testing`]: the first [`TESTING_PACKETS`]
//! packets are sent with ECT(0). Then the state is [`EcnState::Unknown`] and
//! packets go out unmarked until an ACK frame validates the counts, which
//! makes the path [`EcnState::Capable`] (marked again). Any failed check
//! makes it [`EcnState::Failed`] for good: ECN is disabled on the path.
//!
//! Counts are validated only from ACK frames that newly acknowledge the
//! largest packet number, so that a reordered ACK cannot fail validation.
//! An ACK frame fails it when:
//! - it newly acknowledges ECT packets and carries no ECN counts (the
//!   network bleached the marks or the peer does not report them),
//! - a count decreased,
//! - the increase of ECT(0) + CE (ECT(1) + CE) is less than the newly
//!   acknowledged packets sent with ECT(0) (ECT(1)),
//! - the ECT(0) or ECT(1) count exceeds the packets sent with that mark.
//!
//! The path also fails when every marked packet of the testing period is
//! lost. An increase of the CE count on a path that has not failed is a
//! congestion signal.

use crate::protocol::ack::{EcnCodepoint, EcnCounts};
use crate::protocol::recovery::PacketNumberSpace;

/// Packets sent with ECT(0) while testing a path.
pub const TESTING_PACKETS: u64 = 10;

/// Where a path stands with ECN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcnState {
    /// Marking the first packets on the path.
    Testing,
    /// Testing is over, no verdict yet; packets are not marked.
    Unknown,
    /// Validated: packets are marked.
    Capable,
    /// Validation failed, or ECN is disabled: packets are not marked.
    Failed,
}

/// ECT marks of the packets an ACK frame newly acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewlyAckedMarks {
    /// Packets sent with ECT(0).
    pub ect0: u64,
    /// Packets sent with ECT(1).
    pub ect1: u64,
}

impl NewlyAckedMarks {
    /// Counts one newly acknowledged packet sent with `codepoint`.
    pub fn add(&mut self, codepoint: EcnCodepoint) {
        match codepoint {
            EcnCodepoint::Ect0 => self.ect0 = self.ect0.saturating_add(1),
            EcnCodepoint::Ect1 => self.ect1 = self.ect1.saturating_add(1),
            EcnCodepoint::NotEct | EcnCodepoint::Ce => {}
        }
    }

    fn total(&self) -> u64 {
        self.ect0.saturating_add(self.ect1)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct SpaceEcn {
    sent_ect0: u64,
    sent_ect1: u64,
    /// The counts of the last ACK frame that passed validation.
    peer: EcnCounts,
}

/// ECN validation state of a path.
#[derive(Clone, Copy, Debug)]
pub struct EcnValidator {
    state: EcnState,
    testing_sent: u64,
    marked_acked: u64,
    marked_lost: u64,
    spaces: [SpaceEcn; 3],
}

impl EcnValidator {
    /// A validator that starts testing the path, or that never marks if
    /// `enabled` is false.
    pub fn new(enabled: bool) -> Self {
        Self {
            state: if enabled {
                EcnState::Testing
            } else {
                EcnState::Failed
            },
            testing_sent: 0,
            marked_acked: 0,
            marked_lost: 0,
            spaces: [SpaceEcn::default(); 3],
        }
    }

    /// The current state.
    pub const fn state(&self) -> EcnState {
        self.state
    }

    /// The codepoint to send the next packet with.
    pub const fn marking(&self) -> EcnCodepoint {
        match self.state {
            EcnState::Testing | EcnState::Capable => EcnCodepoint::Ect0,
            EcnState::Unknown | EcnState::Failed => EcnCodepoint::NotEct,
        }
    }

    /// Starts testing again, as on a new path, keeping the counts already
    /// reported by the peer as the baseline. Does nothing once failed.
    pub fn restart(&mut self) {
        if self.state != EcnState::Failed {
            self.state = EcnState::Testing;
            self.testing_sent = 0;
            self.marked_acked = 0;
            self.marked_lost = 0;
        }
    }

    /// Records a packet sent in `space` with `codepoint`.
    pub fn on_packet_sent(&mut self, space: PacketNumberSpace, codepoint: EcnCodepoint) {
        let s = &mut self.spaces[space.index()];
        match codepoint {
            EcnCodepoint::Ect0 => s.sent_ect0 = s.sent_ect0.saturating_add(1),
            EcnCodepoint::Ect1 => s.sent_ect1 = s.sent_ect1.saturating_add(1),
            EcnCodepoint::NotEct | EcnCodepoint::Ce => return,
        }
        if self.state == EcnState::Testing {
            self.testing_sent += 1;
            if self.testing_sent >= TESTING_PACKETS {
                self.state = EcnState::Unknown;
            }
        }
    }

    /// Records that a packet sent with `codepoint` was declared lost.
    pub fn on_packet_lost(&mut self, codepoint: EcnCodepoint) {
        if matches!(codepoint, EcnCodepoint::NotEct | EcnCodepoint::Ce) {
            return;
        }
        self.marked_lost = self.marked_lost.saturating_add(1);
        //= https://www.rfc-editor.org/rfc/rfc9000#section-13.4.2
        //# If all packets marked with non-zero ECN codepoints are subsequently
        //# lost, it can disable marking on the assumption that the marking
        //# caused the loss.
        if self.state == EcnState::Unknown
            && self.marked_acked == 0
            && self.marked_lost >= self.testing_sent
        {
            self.state = EcnState::Failed;
        }
    }

    /// Validates the ECN counts of an ACK frame received in `space` that
    /// newly acknowledged packets with the `newly_acked` marks. Returns
    /// whether the CE count increased: a congestion event.
    ///
    /// `largest_newly_acked` says whether the frame newly acknowledged the
    /// largest packet number it acknowledges; other frames may be
    /// reordered and are not examined.
    pub fn on_ack(
        &mut self,
        space: PacketNumberSpace,
        newly_acked: NewlyAckedMarks,
        largest_newly_acked: bool,
        counts: Option<EcnCounts>,
    ) -> bool {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-13.4.2.1
        //# An endpoint MUST NOT fail ECN validation as a result of processing
        //# an ACK frame that does not increase the largest acknowledged packet
        //# number.
        if self.state == EcnState::Failed || !largest_newly_acked {
            return false;
        }
        match self.validate(space, newly_acked, counts) {
            Some(ce_increase) => {
                if newly_acked.total() > 0 {
                    self.marked_acked = self.marked_acked.saturating_add(newly_acked.total());
                    if self.state == EcnState::Unknown {
                        self.state = EcnState::Capable;
                    }
                }
                ce_increase > 0
            }
            None => {
                //= https://www.rfc-editor.org/rfc/rfc9000#section-13.4.2.2
                //# Network routing and path elements can change mid-connection; an
                //# endpoint MUST disable ECN if validation later fails.
                self.state = EcnState::Failed;
                false
            }
        }
    }

    /// Checks `counts` against the space's history; on success records them
    /// and returns the CE increase.
    fn validate(
        &mut self,
        space: PacketNumberSpace,
        newly_acked: NewlyAckedMarks,
        counts: Option<EcnCounts>,
    ) -> Option<u64> {
        let s = &mut self.spaces[space.index()];
        let Some(counts) = counts else {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-13.4.2.1
            //# If an ACK frame newly acknowledges a packet that the endpoint sent
            //# with either the ECT(0) or ECT(1) codepoint set, ECN validation
            //# fails if the corresponding ECN counts are not present in the ACK
            //# frame.
            return (newly_acked.total() == 0).then_some(0);
        };
        let ect0 = counts.ect0.checked_sub(s.peer.ect0)?;
        let ect1 = counts.ect1.checked_sub(s.peer.ect1)?;
        let ce = counts.ce.checked_sub(s.peer.ce)?;
        if ect0.saturating_add(ce) < newly_acked.ect0 || ect1.saturating_add(ce) < newly_acked.ect1
        {
            return None;
        }
        if counts.ect0 > s.sent_ect0 || counts.ect1 > s.sent_ect1 {
            return None;
        }
        s.peer = counts;
        Some(ce)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_ecn))]
mod tests {
    use super::*;

    const DATA: PacketNumberSpace = PacketNumberSpace::ApplicationData;

    fn counts(ect0: u64, ect1: u64, ce: u64) -> Option<EcnCounts> {
        Some(EcnCounts { ect0, ect1, ce })
    }

    fn marks(ect0: u64) -> NewlyAckedMarks {
        NewlyAckedMarks { ect0, ect1: 0 }
    }

    fn tested() -> EcnValidator {
        let mut ecn = EcnValidator::new(true);
        for _ in 0..TESTING_PACKETS {
            assert_eq!(ecn.marking(), EcnCodepoint::Ect0);
            ecn.on_packet_sent(DATA, ecn.marking());
        }
        ecn
    }

    #[test]
    fn testing_then_capable() {
        let mut ecn = tested();
        assert_eq!(ecn.state(), EcnState::Unknown);
        assert_eq!(ecn.marking(), EcnCodepoint::NotEct);
        assert!(!ecn.on_ack(DATA, marks(4), true, counts(4, 0, 0)));
        assert_eq!(ecn.state(), EcnState::Capable);
        assert_eq!(ecn.marking(), EcnCodepoint::Ect0);
        // CE marks are congestion signals.
        assert!(ecn.on_ack(DATA, marks(3), true, counts(6, 0, 1)));
        assert_eq!(ecn.state(), EcnState::Capable);
        assert!(!ecn.on_ack(DATA, marks(3), true, counts(9, 0, 1)));
    }

    #[test]
    fn validation_during_testing_keeps_testing() {
        let mut ecn = EcnValidator::new(true);
        ecn.on_packet_sent(DATA, EcnCodepoint::Ect0);
        assert!(!ecn.on_ack(DATA, marks(1), true, counts(1, 0, 0)));
        assert_eq!(ecn.state(), EcnState::Testing);
    }

    #[test]
    fn missing_counts_fail() {
        let mut ecn = tested();
        // An ACK of unmarked packets only may omit the counts.
        assert!(!ecn.on_ack(DATA, marks(0), true, None));
        assert_eq!(ecn.state(), EcnState::Unknown);
        assert!(!ecn.on_ack(DATA, marks(2), true, None));
        assert_eq!(ecn.state(), EcnState::Failed);
        assert_eq!(ecn.marking(), EcnCodepoint::NotEct);
    }

    #[test]
    fn decreasing_counts_fail() {
        let mut ecn = tested();
        assert!(!ecn.on_ack(DATA, marks(5), true, counts(5, 0, 0)));
        assert!(!ecn.on_ack(DATA, marks(1), true, counts(4, 0, 2)));
        assert_eq!(ecn.state(), EcnState::Failed);
        // Nothing counts once failed, not even CE.
        assert!(!ecn.on_ack(DATA, marks(1), true, counts(9, 0, 9)));
    }

    #[test]
    fn remarking_fails() {
        // Three ECT(0) packets acknowledged, counts grew by two: bleached.
        let mut ecn = tested();
        assert!(!ecn.on_ack(DATA, marks(3), true, counts(2, 0, 0)));
        assert_eq!(ecn.state(), EcnState::Failed);
        // ECT(1) reported though never sent.
        let mut ecn = tested();
        assert!(!ecn.on_ack(DATA, marks(3), true, counts(3, 1, 0)));
        assert_eq!(ecn.state(), EcnState::Failed);
        // More ECT(0) reported than sent.
        let mut ecn = tested();
        assert!(!ecn.on_ack(DATA, marks(3), true, counts(11, 0, 0)));
        assert_eq!(ecn.state(), EcnState::Failed);
    }

    #[test]
    fn reordered_acks_are_not_examined() {
        let mut ecn = tested();
        assert!(!ecn.on_ack(DATA, marks(3), false, None));
        assert_eq!(ecn.state(), EcnState::Unknown);
        // A later in-order ACK with counts covering them succeeds.
        assert!(!ecn.on_ack(DATA, marks(1), true, counts(4, 0, 0)));
        assert_eq!(ecn.state(), EcnState::Capable);
    }

    #[test]
    fn all_marked_packets_lost_fails() {
        let mut ecn = tested();
        for _ in 0..TESTING_PACKETS - 1 {
            ecn.on_packet_lost(EcnCodepoint::Ect0);
        }
        assert_eq!(ecn.state(), EcnState::Unknown);
        ecn.on_packet_lost(EcnCodepoint::Ect0);
        assert_eq!(ecn.state(), EcnState::Failed);
    }

    #[test]
    fn disabled_and_restart() {
        let mut ecn = EcnValidator::new(false);
        assert_eq!(ecn.marking(), EcnCodepoint::NotEct);
        ecn.restart();
        assert_eq!(ecn.state(), EcnState::Failed);
        let mut ecn = tested();
        assert!(!ecn.on_ack(DATA, marks(2), true, counts(2, 0, 0)));
        assert_eq!(ecn.state(), EcnState::Capable);
        ecn.restart();
        assert_eq!(ecn.state(), EcnState::Testing);
        // The peer's counts carry over as the baseline.
        ecn.on_packet_sent(DATA, EcnCodepoint::Ect0);
        assert!(!ecn.on_ack(DATA, marks(1), true, counts(3, 0, 0)));
        assert_eq!(ecn.state(), EcnState::Testing);
    }
}
