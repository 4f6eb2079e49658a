// SPDX-License-Identifier: GPL-2.0

//! Packets sent and not yet settled (RFC 9002 Appendix A.1).
//!
//! A [`SentPacket`] records what loss detection and congestion control need
//! to know about a packet (A.1.1) plus a caller payload `T`: typically what
//! the connection needs to act on the packet's fate, such as the frames to
//! send again if it is lost or the largest packet number its ACK frame
//! acknowledged. Each packet leaves the tracker exactly once, as a
//! [`Settled`] packet that was acknowledged or declared lost, or silently
//! when its space's keys are discarded.
//!
//! `SentPackets` stores one space's packets in packet-number order in a
//! single vector: lookups are binary searches, removal leaves a vacant slot
//! that is reclaimed once the oldest packets are settled, so steady-state
//! sending and acknowledging does not allocate.

use crate::protocol::ack::EcnCodepoint;
use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::recovery::PacketNumberSpace;
use crate::protocol::time::Instant;
use core::ops::Range;

/// What is remembered about a sent packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentPacket<T> {
    /// When the packet was sent.
    pub time_sent: Instant,
    /// Bytes sent in the packet, including QUIC header and AEAD overhead but
    /// not UDP or IP headers.
    pub size: u16,
    /// Whether the packet contains an ack-eliciting frame.
    pub ack_eliciting: bool,
    /// Whether the packet counts towards bytes in flight: ack-eliciting or
    /// containing PADDING.
    pub in_flight: bool,
    /// The ECN codepoint the packet was sent with.
    pub ecn: EcnCodepoint,
    /// The caller's record of the packet's contents.
    pub payload: T,
}

/// How a packet left the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The peer acknowledged it.
    Acked,
    /// It was declared lost; its frames may need sending again.
    Lost,
}

/// A packet that was acknowledged or declared lost, handed back to the
/// caller with its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled<T> {
    /// The space the packet was sent in.
    pub space: PacketNumberSpace,
    /// Its packet number.
    pub packet_number: u64,
    /// What became of it.
    pub fate: Fate,
    /// The packet, with the caller's payload.
    pub packet: SentPacket<T>,
}

/// A packet number that is not above every packet number already sent in
/// the space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketNumberReused;

/// A failure to record a sent packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// Out of memory.
    Alloc(AllocError),
    /// Packet numbers must increase within a space.
    Reused(PacketNumberReused),
}

impl From<AllocError> for PushError {
    fn from(e: AllocError) -> Self {
        PushError::Alloc(e)
    }
}

#[derive(Debug)]
enum State<T> {
    /// Neither acknowledged nor lost.
    Outstanding(SentPacket<T>),
    /// Newly acknowledged by the ACK frame being processed.
    Acked(SentPacket<T>),
    /// Settled; the slot is reclaimed once it reaches the front.
    Vacant,
}

#[derive(Debug)]
struct Slot<T> {
    pn: u64,
    state: State<T>,
}

/// Totals over the unsettled packets.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    outstanding: usize,
    bytes_in_flight: u64,
    ack_eliciting_in_flight: u64,
}

impl Totals {
    fn add<T>(&mut self, p: &SentPacket<T>) {
        self.outstanding += 1;
        if p.in_flight {
            self.bytes_in_flight = self.bytes_in_flight.saturating_add(u64::from(p.size));
            if p.ack_eliciting {
                self.ack_eliciting_in_flight += 1;
            }
        }
    }

    fn remove<T>(&mut self, p: &SentPacket<T>) {
        self.outstanding = self.outstanding.saturating_sub(1);
        if p.in_flight {
            self.bytes_in_flight = self.bytes_in_flight.saturating_sub(u64::from(p.size));
            if p.ack_eliciting {
                self.ack_eliciting_in_flight = self.ack_eliciting_in_flight.saturating_sub(1);
            }
        }
    }
}

/// One space's unsettled packets, in packet-number order.
///
/// # Invariants
///
/// - `slots` is sorted by strictly increasing `pn`;
/// - `head <= slots.len()` and every slot before `head` is vacant;
/// - `totals` counts the non-vacant slots;
/// - `marked` covers every slot in the `Acked` state.
#[derive(Debug)]
pub(super) struct SentPackets<T> {
    slots: Vec<Slot<T>>,
    head: usize,
    totals: Totals,
    largest_sent: Option<u64>,
    marked: Range<usize>,
}

impl<T> SentPackets<T> {
    /// An empty tracker; does not allocate.
    pub(super) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            head: 0,
            totals: Totals {
                outstanding: 0,
                bytes_in_flight: 0,
                ack_eliciting_in_flight: 0,
            },
            largest_sent: None,
            marked: 0..0,
        }
    }

    /// Number of packets neither acknowledged nor lost.
    pub(super) fn len(&self) -> usize {
        self.totals.outstanding
    }

    /// The largest packet number recorded, settled or not.
    pub(super) fn largest_sent(&self) -> Option<u64> {
        self.largest_sent
    }

    /// Bytes of the outstanding in-flight packets.
    pub(super) fn bytes_in_flight(&self) -> u64 {
        self.totals.bytes_in_flight
    }

    /// Number of outstanding packets that are in flight and ack-eliciting.
    pub(super) fn ack_eliciting_in_flight(&self) -> u64 {
        self.totals.ack_eliciting_in_flight
    }

    /// Records packet `pn`, which must be above every packet number recorded
    /// before.
    pub(super) fn push(&mut self, pn: u64, packet: SentPacket<T>) -> Result<(), PushError> {
        if self.largest_sent.is_some_and(|largest| pn <= largest) {
            return Err(PushError::Reused(PacketNumberReused));
        }
        // When full, reclaim the vacant front instead of growing if that
        // frees at least half: the moves are then paid for by the pushes.
        if self.slots.len() == self.slots.capacity()
            && self.head > 0
            && self.head * 2 >= self.slots.len()
        {
            self.compact();
        }
        let mut totals = self.totals;
        totals.add(&packet);
        self.slots.push(
            Slot {
                pn,
                state: State::Outstanding(packet),
            },
            GFP,
        )?;
        self.totals = totals;
        self.largest_sent = Some(pn);
        Ok(())
    }

    /// Marks the outstanding packets numbered in `pns` as acknowledged and
    /// shows each to `visit`. They stay in place until [`Self::take_acked`]
    /// or [`Self::unmark_acked`], so that loss detection can run between.
    pub(super) fn mark_acked(
        &mut self,
        pns: Range<u64>,
        mut visit: impl FnMut(u64, &SentPacket<T>),
    ) {
        let span = self.index_range(pns);
        let Some(slots) = self.slots.get_mut(span.clone()) else {
            return;
        };
        let mut first = None;
        let mut last = 0;
        for (i, slot) in span.zip(slots.iter_mut()) {
            let state = core::mem::replace(&mut slot.state, State::Vacant);
            slot.state = match state {
                State::Outstanding(p) => {
                    visit(slot.pn, &p);
                    first.get_or_insert(i);
                    last = i + 1;
                    State::Acked(p)
                }
                other => other,
            };
        }
        if let Some(first) = first {
            self.marked = if self.marked.is_empty() {
                first..last
            } else {
                self.marked.start.min(first)..self.marked.end.max(last)
            };
        }
    }

    /// Returns the packets marked acknowledged to the outstanding state.
    pub(super) fn unmark_acked(&mut self) {
        let span = core::mem::replace(&mut self.marked, 0..0);
        for slot in self.slots.get_mut(span).into_iter().flatten() {
            let state = core::mem::replace(&mut slot.state, State::Vacant);
            slot.state = match state {
                State::Acked(p) => State::Outstanding(p),
                other => other,
            };
        }
    }

    /// Removes the packets marked acknowledged, in packet-number order.
    pub(super) fn take_acked(&mut self, mut f: impl FnMut(u64, SentPacket<T>)) {
        let span = core::mem::replace(&mut self.marked, 0..0);
        for i in span {
            let Some(slot) = self.slots.get_mut(i) else {
                break;
            };
            if !matches!(slot.state, State::Acked(_)) {
                continue;
            }
            if let State::Acked(p) = core::mem::replace(&mut slot.state, State::Vacant) {
                self.totals.remove(&p);
                f(slot.pn, p);
            }
        }
        self.advance_head();
    }

    /// Visits the outstanding packets numbered below `bound` in order;
    /// those for which `decide` returns true are removed and handed to
    /// `removed`.
    pub(super) fn drain_below(
        &mut self,
        bound: u64,
        mut decide: impl FnMut(u64, &SentPacket<T>) -> bool,
        mut removed: impl FnMut(u64, SentPacket<T>),
    ) {
        let span = self.index_range(0..bound);
        for i in span {
            let Some(slot) = self.slots.get_mut(i) else {
                break;
            };
            let State::Outstanding(p) = &slot.state else {
                continue;
            };
            if !decide(slot.pn, p) {
                continue;
            }
            if let State::Outstanding(p) = core::mem::replace(&mut slot.state, State::Vacant) {
                self.totals.remove(&p);
                removed(slot.pn, p);
            }
        }
        self.advance_head();
    }

    /// Removes every unsettled packet, in order.
    pub(super) fn drain_all(&mut self, mut f: impl FnMut(u64, SentPacket<T>)) {
        for slot in self.slots.drain_all() {
            match slot.state {
                State::Outstanding(p) | State::Acked(p) => f(slot.pn, p),
                State::Vacant => {}
            }
        }
        self.head = 0;
        self.totals = Totals::default();
        self.marked = 0..0;
    }

    /// The outstanding packet numbered `pn`, if any.
    #[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
    pub(super) fn get(&self, pn: u64) -> Option<&SentPacket<T>> {
        let i = self.index_range(pn..pn.saturating_add(1)).start;
        match self.slots.get(i) {
            Some(Slot {
                pn: found,
                state: State::Outstanding(p),
            }) if *found == pn => Some(p),
            _ => None,
        }
    }

    /// Indices of the slots whose packet number is in `pns`.
    fn index_range(&self, pns: Range<u64>) -> Range<usize> {
        let live = self.slots.get(self.head..).unwrap_or(&[]);
        let start = live.partition_point(|s| s.pn < pns.start);
        let end = live.partition_point(|s| s.pn < pns.end).max(start);
        self.head + start..self.head + end
    }

    /// Skips the settled slots at the front; empties the vector when all are.
    fn advance_head(&mut self) {
        while let Some(Slot {
            state: State::Vacant,
            ..
        }) = self.slots.get(self.head)
        {
            self.head += 1;
        }
        if self.head == self.slots.len() {
            self.slots.clear();
            self.head = 0;
            self.marked = 0..0;
        }
    }

    /// Moves the live slots to the front of the vector.
    fn compact(&mut self) {
        let head = self.head.min(self.slots.len());
        self.slots.rotate_left(head);
        self.slots.truncate(self.slots.len() - head);
        self.marked = self.marked.start.saturating_sub(head)..self.marked.end.saturating_sub(head);
        self.head = 0;
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_sent))]
mod tests {
    use super::*;

    fn packet(ms: u64) -> SentPacket<u64> {
        SentPacket {
            time_sent: Instant::from_nanos(ms * 1_000_000),
            size: 1000,
            ack_eliciting: true,
            in_flight: true,
            ecn: EcnCodepoint::NotEct,
            payload: ms,
        }
    }

    fn fill(sent: &mut SentPackets<u64>, pns: Range<u64>) -> Result<(), PushError> {
        for pn in pns {
            sent.push(pn, packet(pn))?;
        }
        Ok(())
    }

    #[test]
    fn push_requires_increasing_numbers() -> Result<(), PushError> {
        let mut sent = SentPackets::new();
        sent.push(3, packet(0))?;
        assert_eq!(
            sent.push(3, packet(0)),
            Err(PushError::Reused(PacketNumberReused))
        );
        assert_eq!(
            sent.push(1, packet(0)),
            Err(PushError::Reused(PacketNumberReused))
        );
        sent.push(7, packet(0))?;
        assert_eq!(sent.len(), 2);
        assert_eq!(sent.largest_sent(), Some(7));
        assert_eq!(sent.bytes_in_flight(), 2000);
        assert_eq!(sent.ack_eliciting_in_flight(), 2);
        Ok(())
    }

    #[test]
    fn mark_take_and_unmark() -> Result<(), PushError> {
        let mut sent = SentPackets::new();
        fill(&mut sent, 0..10)?;
        let mut seen = 0;
        sent.mark_acked(2..5, |_, _| seen += 1);
        sent.mark_acked(7..100, |_, _| seen += 1);
        // Marking again finds nothing new.
        sent.mark_acked(3..4, |_, _| seen += 1);
        assert_eq!(seen, 6);
        sent.unmark_acked();
        assert_eq!(sent.len(), 10);
        sent.mark_acked(0..3, |_, _| {});
        let mut order = [0u64; 3];
        let mut n = 0;
        sent.take_acked(|pn, p| {
            if let Some(slot) = order.get_mut(n) {
                *slot = pn;
            }
            n += 1;
            assert_eq!(p.payload, pn);
        });
        assert_eq!(order, [0, 1, 2]);
        assert_eq!(sent.len(), 7);
        assert_eq!(sent.bytes_in_flight(), 7000);
        assert!(sent.get(2).is_none());
        assert!(sent.get(3).is_some());
        Ok(())
    }

    #[test]
    fn drain_below_removes_what_is_decided() -> Result<(), PushError> {
        let mut sent = SentPackets::new();
        fill(&mut sent, 0..6)?;
        let mut removed = 0u64;
        sent.drain_below(4, |pn, _| pn % 2 == 0, |pn, _| removed += pn);
        assert_eq!(removed, 2);
        assert_eq!(sent.len(), 4);
        let mut rest = 0;
        sent.drain_all(|_, _| rest += 1);
        assert_eq!(rest, 4);
        assert_eq!(sent.len(), 0);
        assert_eq!(sent.bytes_in_flight(), 0);
        Ok(())
    }

    #[test]
    fn steady_state_reuses_the_allocation() -> Result<(), PushError> {
        let mut sent = SentPackets::new();
        fill(&mut sent, 0..32)?;
        let capacity = sent.slots.capacity();
        // A window of 32 packets slides forward for a while: one packet
        // acknowledged at the front for each one sent at the back.
        for pn in 32..10_000 {
            sent.mark_acked(pn - 32..pn - 31, |_, _| {});
            sent.take_acked(|_, _| {});
            sent.push(pn, packet(pn))?;
        }
        assert_eq!(sent.len(), 32);
        assert!(sent.slots.capacity() <= 2 * capacity);
        assert!(sent.get(9_999).is_some());
        assert!(sent.get(9_967).is_none());
        Ok(())
    }

    #[test]
    fn gaps_in_packet_numbers() -> Result<(), PushError> {
        let mut sent = SentPackets::new();
        sent.push(10, packet(0))?;
        sent.push(1_000_000, packet(1))?;
        let mut n = 0;
        sent.mark_acked(11..1_000_000, |_, _| n += 1);
        assert_eq!(n, 0);
        sent.mark_acked(0..u64::MAX, |_, _| n += 1);
        assert_eq!(n, 2);
        Ok(())
    }
}
