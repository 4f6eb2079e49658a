// SPDX-License-Identifier: GPL-2.0

//! ACK frames (RFC 9000 §19.3).
//!
//! An ACK frame lists acknowledged packet numbers as ranges, largest first:
//! the Largest Acknowledged, a First ACK Range counting down from it, then
//! (Gap, ACK Range Length) pairs each counting further down.
//!
//! Decoding checks the whole frame once, so that no range can run below zero,
//! and keeps the encoded pairs as a borrowed slice; [`AckFrame::ranges`]
//! then walks them as [`Range`]s without allocating and without failing.
//! [`AckEncoder`] writes the frame from a [`RangeSet`] of received packet
//! numbers, keeping the highest ranges that fit a range cap and the room
//! left in the packet.

use core::ops::Range;
use core::time::Duration;

use crate::protocol::codec::{BufferTooShort, Reader, Writer};
use crate::protocol::error::TransportError;
use crate::protocol::frame::{put_type, FrameType};
use crate::protocol::range_set::RangeSet;
use crate::protocol::varint::VarInt;

/// The ECN counts of an ACK_ECN frame (RFC 9000 §19.3.2): packets received
/// with each codepoint in the frame's packet number space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EcnCounts {
    /// Packets received with ECT(0).
    pub ect0: VarInt,
    /// Packets received with ECT(1).
    pub ect1: VarInt,
    /// Packets received with ECN-CE.
    pub ce: VarInt,
}

impl EcnCounts {
    fn encoded_size(&self) -> usize {
        self.ect0.size() + self.ect1.size() + self.ce.size()
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, TransportError> {
        Ok(Self {
            ect0: r.read_varint()?,
            ect1: r.read_varint()?,
            ce: r.read_varint()?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        w.put_varint(self.ect0)?;
        w.put_varint(self.ect1)?;
        w.put_varint(self.ce)
    }
}

/// The range below `smallest` that a (Gap, ACK Range Length) pair
/// describes, or `None` if it would reach below packet number zero.
//= https://www.rfc-editor.org/rfc/rfc9000#section-19.3.1
//# If any computed packet number is negative, an endpoint MUST generate a
//# connection error of type FRAME_ENCODING_ERROR.
fn range_below(smallest: u64, gap: VarInt, len: VarInt) -> Option<Range<u64>> {
    let largest = smallest.checked_sub(gap.into_inner())?.checked_sub(2)?;
    let start = largest.checked_sub(len.into_inner())?;
    Some(start..largest + 1)
}

/// A decoded ACK frame.
///
/// # Invariants
///
/// `ranges` holds exactly `additional` encoded (Gap, ACK Range Length)
/// pairs, and walking them down from `largest - first_range` never goes
/// below zero; `first_range <= largest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckFrame<'a> {
    largest: VarInt,
    delay: VarInt,
    first_range: VarInt,
    additional: VarInt,
    ranges: &'a [u8],
    smallest: u64,
    ecn: Option<EcnCounts>,
}

impl<'a> AckFrame<'a> {
    /// Decodes the fields after the type; `ecn` says the type was ACK_ECN.
    pub(crate) fn decode(r: &mut Reader<'a>, ecn: bool) -> Result<Self, TransportError> {
        let malformed = TransportError::frame_encoding("ACK range below zero");
        let largest = r.read_varint()?;
        let delay = r.read_varint()?;
        let additional = r.read_varint()?;
        let first_range = r.read_varint()?;
        let mut smallest = largest
            .into_inner()
            .checked_sub(first_range.into_inner())
            .ok_or(malformed)?;
        let start = r.peek_rest();
        // Each pair takes at least two bytes, so the loop ends with the input.
        for _ in 0..additional.into_inner() {
            let gap = r.read_varint()?;
            let len = r.read_varint()?;
            smallest = range_below(smallest, gap, len).ok_or(malformed)?.start;
        }
        let consumed = start.len() - r.remaining();
        let ranges = start.get(..consumed).ok_or(malformed)?;
        let ecn = if ecn {
            Some(EcnCounts::decode(r)?)
        } else {
            None
        };
        // INVARIANT: every pair was checked above.
        Ok(Self {
            largest,
            delay,
            first_range,
            additional,
            ranges,
            smallest,
            ecn,
        })
    }

    /// ACK or ACK_ECN.
    pub fn ty(&self) -> FrameType {
        if self.ecn.is_some() {
            FrameType::ACK_ECN
        } else {
            FrameType::ACK
        }
    }

    /// The largest packet number acknowledged.
    pub fn largest(&self) -> u64 {
        self.largest.into_inner()
    }

    /// The smallest packet number acknowledged.
    pub fn smallest(&self) -> u64 {
        self.smallest
    }

    /// The ACK Delay field as sent, in units of 2^ack_delay_exponent
    /// microseconds.
    pub fn raw_delay(&self) -> VarInt {
        self.delay
    }

    /// The ACK delay, given the ack_delay_exponent the peer advertised
    /// (at most 20). Saturates rather than overflow.
    pub fn delay(&self, ack_delay_exponent: u8) -> Duration {
        let micros = self.delay.into_inner();
        let exp = u32::from(ack_delay_exponent);
        let scaled = if exp < 64 && micros <= u64::MAX >> exp {
            micros << exp
        } else {
            u64::MAX
        };
        Duration::from_micros(scaled)
    }

    /// The ECN counts, for ACK_ECN.
    pub fn ecn(&self) -> Option<EcnCounts> {
        self.ecn
    }

    /// The number of ranges, the first one included.
    pub fn range_count(&self) -> u64 {
        self.additional.into_inner().saturating_add(1)
    }

    /// The acknowledged packet numbers as half-open ranges, highest first.
    pub fn ranges(&self) -> AckRanges<'a> {
        AckRanges {
            next: Some(self.smallest_first()..self.largest() + 1),
            pairs: Reader::new(self.ranges),
        }
    }

    fn smallest_first(&self) -> u64 {
        // The invariant makes this exact; saturation keeps it panic-free.
        self.largest().saturating_sub(self.first_range.into_inner())
    }

    /// The exact number of bytes [`AckFrame::encode`] writes.
    pub fn encoded_size(&self) -> usize {
        1 + self.largest.size()
            + self.delay.size()
            + self.additional.size()
            + self.first_range.size()
            + self.ranges.len()
            + self.ecn.map_or(0, |e| e.encoded_size())
    }

    /// Writes the frame back, ranges as received.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.encoded_size() > w.remaining() {
            return Err(BufferTooShort);
        }
        put_type(w, self.ty())?;
        w.put_varint(self.largest)?;
        w.put_varint(self.delay)?;
        w.put_varint(self.additional)?;
        w.put_varint(self.first_range)?;
        w.put_bytes(self.ranges)?;
        match &self.ecn {
            Some(ecn) => ecn.encode(w),
            None => Ok(()),
        }
    }
}

/// The ranges of an [`AckFrame`], highest first, as half-open ranges.
#[derive(Clone, Debug)]
pub struct AckRanges<'a> {
    next: Option<Range<u64>>,
    pairs: Reader<'a>,
}

impl Iterator for AckRanges<'_> {
    type Item = Range<u64>;

    fn next(&mut self) -> Option<Range<u64>> {
        let current = self.next.take()?;
        if !self.pairs.is_empty() {
            // Checked when decoding; an error here just ends the walk.
            let gap = self.pairs.read_varint().ok()?;
            let len = self.pairs.read_varint().ok()?;
            self.next = range_below(current.start, gap, len);
        }
        Some(current)
    }
}

/// The ACK Delay field for `delay`: microseconds scaled down by the local
/// ack_delay_exponent (RFC 9000 §19.3), saturating at [`VarInt::MAX`].
pub fn ack_delay_field(delay: Duration, ack_delay_exponent: u8) -> VarInt {
    let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
    VarInt::saturating(
        micros
            .checked_shr(u32::from(ack_delay_exponent))
            .unwrap_or(0),
    )
}

/// Writes an ACK frame from a [`RangeSet`] of received packet numbers.
///
/// The frame carries the highest ranges of the set: all of them, or fewer
/// when a range cap or the room left in the packet says so. The set is
/// borrowed until the frame is written, so it cannot change in between.
#[derive(Clone, Copy, Debug)]
pub struct AckEncoder<'s> {
    set: &'s RangeSet,
    delay: VarInt,
    ecn: Option<EcnCounts>,
    ranges: usize,
    smallest: u64,
    size: usize,
}

impl<'s> AckEncoder<'s> {
    /// Prepares an ACK for the highest ranges of `set`: at most `max_ranges`
    /// of them, and no more than fit `room` bytes.
    ///
    /// `delay` is the ACK Delay field, already scaled down by the local
    /// ack_delay_exponent; `ecn` selects ACK_ECN. Returns `None` if the set
    /// is empty, holds a value that is not a packet number (above
    /// [`VarInt::MAX`]), `max_ranges` is zero, or not even one range fits.
    pub fn new(
        set: &'s RangeSet,
        delay: VarInt,
        ecn: Option<EcnCounts>,
        max_ranges: usize,
        room: usize,
    ) -> Option<Self> {
        if max_ranges == 0 {
            return None;
        }
        let mut ranges = set.iter().rev();
        let first = ranges.next()?;
        let largest = VarInt::from_u64(first.end.checked_sub(1)?).ok()?;
        let first_range = VarInt::from_u64(largest.into_inner() - first.start).ok()?;
        let fixed = 1
            + largest.size()
            + delay.size()
            + first_range.size()
            + ecn.map_or(0, |e| e.encoded_size());
        // One range: the ACK Range Count is 0, a single byte.
        let mut size = fixed + 1;
        if size > room {
            return None;
        }
        let mut count = 1;
        let mut pairs = 0;
        let mut smallest = first.start;
        // The ranges sent are the highest ones: stop at the first that does
        // not fit.
        for range in ranges {
            if count == max_ranges {
                break;
            }
            let Some((gap, len)) = pair_for(smallest, &range) else {
                break;
            };
            pairs += gap.size() + len.size();
            let total = fixed + VarInt::size_of(count as u64) + pairs;
            if total > room {
                break;
            }
            size = total;
            count += 1;
            smallest = range.start;
        }
        Some(Self {
            set,
            delay,
            ecn,
            ranges: count,
            smallest,
            size,
        })
    }

    /// The exact number of bytes [`AckEncoder::encode`] writes.
    pub fn encoded_size(&self) -> usize {
        self.size
    }

    /// How many ranges the frame carries.
    pub fn range_count(&self) -> usize {
        self.ranges
    }

    /// The largest packet number acknowledged.
    pub fn largest(&self) -> u64 {
        self.set.max().unwrap_or(0)
    }

    /// The smallest packet number the frame acknowledges: lower ones did not
    /// fit.
    pub fn smallest(&self) -> u64 {
        self.smallest
    }

    /// Writes the frame. Fails without writing anything if `w` has less room
    /// than [`AckEncoder::encoded_size`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.size > w.remaining() {
            return Err(BufferTooShort);
        }
        let mut ranges = self.set.iter().rev().take(self.ranges);
        let first = ranges.next().ok_or(BufferTooShort)?;
        let largest = first.end - 1;
        let ty = match self.ecn {
            Some(_) => FrameType::ACK_ECN,
            None => FrameType::ACK,
        };
        put_type(w, ty)?;
        w.put_varint(VarInt::saturating(largest))?;
        w.put_varint(self.delay)?;
        w.put_varint(VarInt::saturating(self.ranges.saturating_sub(1) as u64))?;
        w.put_varint(VarInt::saturating(largest - first.start))?;
        let mut smallest = first.start;
        for range in ranges {
            // `new` computed every pair already; this cannot fail.
            let (gap, len) = pair_for(smallest, &range).ok_or(BufferTooShort)?;
            w.put_varint(gap)?;
            w.put_varint(len)?;
            smallest = range.start;
        }
        match &self.ecn {
            Some(ecn) => ecn.encode(w),
            None => Ok(()),
        }
    }
}

/// The (Gap, ACK Range Length) pair for `range`, the next range below one
/// whose smallest value is `smallest`. `None` if `range` is not below it
/// with a gap, which a [`RangeSet`] rules out.
fn pair_for(smallest: u64, range: &Range<u64>) -> Option<(VarInt, VarInt)> {
    // largest = smallest - gap - 2, with largest = range.end - 1.
    let gap = smallest.checked_sub(range.end)?.checked_sub(1)?;
    let len = range.end.checked_sub(1)?.checked_sub(range.start)?;
    Some((VarInt::from_u64(gap).ok()?, VarInt::from_u64(len).ok()?))
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_frame_ack))]
mod tests {
    use super::*;
    use crate::protocol::alloc::AllocError;
    use crate::protocol::error::TransportErrorCode;
    use crate::protocol::frame::{Frame, Frames};

    fn decode(bytes: &[u8]) -> Result<Frame<'_>, TransportError> {
        Frames::new(bytes)
            .next()
            .unwrap_or(Err(TransportError::internal("empty")))
    }

    fn ack_of(frame: Result<Frame<'_>, TransportError>) -> Option<AckFrame<'_>> {
        match frame {
            Ok(Frame::Ack(ack)) => Some(ack),
            _ => None,
        }
    }

    fn set_of(ranges: &[(u64, u64)]) -> Result<RangeSet, AllocError> {
        let mut set = RangeSet::new();
        for &(start, end) in ranges {
            set.insert(start..end)?;
        }
        Ok(set)
    }

    #[test]
    fn decode_example() {
        // Largest 100, delay 3, two more ranges: 95..=100, 90..=92, 80..=80.
        let bytes = [0x02, 0x40, 100, 3, 2, 5, 1, 2, 8, 0];
        let ack = ack_of(decode(&bytes));
        assert!(ack.is_some());
        let Some(ack) = ack else { return };
        assert_eq!(ack.largest(), 100);
        assert_eq!(ack.smallest(), 80);
        assert_eq!(ack.range_count(), 3);
        assert_eq!(ack.ecn(), None);
        assert_eq!(ack.delay(3), Duration::from_micros(24));
        let mut it = ack.ranges();
        assert_eq!(it.next(), Some(95..101));
        assert_eq!(it.next(), Some(90..93));
        assert_eq!(it.next(), Some(80..81));
        assert_eq!(it.next(), None);
        assert_eq!(ack.encoded_size(), bytes.len());
    }

    #[test]
    fn decode_ecn() {
        let bytes = [0x03, 5, 0, 0, 5, 1, 2, 0x40, 3];
        let ack = ack_of(decode(&bytes));
        assert_eq!(
            ack.and_then(|a| a.ecn()),
            Some(EcnCounts {
                ect0: VarInt::from_u32(1),
                ect1: VarInt::from_u32(2),
                ce: VarInt::from_u32(3),
            })
        );
        assert_eq!(ack.map(|a| a.smallest()), Some(0));
    }

    #[test]
    fn underflow_is_frame_encoding_error() {
        let cases: [&[u8]; 4] = [
            // First ACK Range larger than Largest Acknowledged.
            &[0x02, 5, 0, 0, 6],
            // Gap reaching below zero: smallest 3, gap 2 -> 3 - 2 - 2 < 0.
            &[0x02, 5, 0, 1, 2, 2, 0],
            // Range length reaching below zero: largest 1, length 2.
            &[0x02, 5, 0, 1, 2, 0, 2],
            // The same, with ECN counts behind.
            &[0x03, 5, 0, 1, 2, 0, 2, 0, 0],
        ];
        for bytes in cases {
            let err = decode(bytes).err();
            assert_eq!(
                err.map(|e| (e.code, e.frame_type)),
                Some((
                    TransportErrorCode::FRAME_ENCODING_ERROR,
                    bytes.first().map(|b| u64::from(*b))
                ))
            );
        }
        // Smallest 3, gap 1: next largest is 0, length 0: valid.
        assert!(ack_of(decode(&[0x02, 5, 0, 1, 2, 1, 0])).is_some());
    }

    #[test]
    fn truncated_and_huge_counts() {
        let full = [0x03, 60, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3];
        assert!(decode(&full).is_ok());
        for cut in 1..full.len() {
            let err = decode(&full[..cut]).err();
            assert_eq!(
                err.map(|e| (e.code, e.frame_type)),
                Some((TransportErrorCode::FRAME_ENCODING_ERROR, Some(3)))
            );
        }
        // A range count of 2^62 - 1 with nothing behind it.
        let huge = [
            0x02, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
        ];
        assert!(decode(&huge).is_err());
    }

    #[test]
    fn delay_scaling_saturates() {
        let bytes = [
            0x02, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
        ];
        let ack = ack_of(decode(&bytes));
        assert_eq!(
            ack.map(|a| a.delay(20)),
            Some(Duration::from_micros(u64::MAX))
        );
        assert_eq!(
            ack.map(|a| a.delay(0)),
            Some(Duration::from_micros((1 << 62) - 1))
        );
    }

    #[test]
    fn delay_field_scaling() {
        let d = Duration::from_micros(1000);
        assert_eq!(ack_delay_field(d, 3), VarInt::from_u32(125));
        assert_eq!(ack_delay_field(d, 0), VarInt::from_u32(1000));
        assert_eq!(ack_delay_field(Duration::MAX, 0), VarInt::MAX);
        assert_eq!(ack_delay_field(d, 64), VarInt::ZERO);
        // Encoding then decoding loses only the low bits.
        let bytes = [0x02, 0, 0x40, 125, 0, 0];
        let ack = ack_of(decode(&bytes));
        assert_eq!(ack.map(|a| a.delay(3)), Some(d));
    }

    #[test]
    fn encode_from_range_set() -> Result<(), AllocError> {
        let set = set_of(&[(0, 3), (5, 6), (10, 20), (30, 31)])?;
        let enc = AckEncoder::new(&set, VarInt::from_u32(7), None, usize::MAX, 100);
        assert!(enc.is_some());
        let Some(enc) = enc else { return Ok(()) };
        assert_eq!(enc.range_count(), 4);
        assert_eq!(enc.largest(), 30);
        assert_eq!(enc.smallest(), 0);
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        assert_eq!(enc.encode(&mut w), Ok(()));
        assert_eq!(w.len(), enc.encoded_size());
        // 30..=30; gap 30-19-2 = 9, len 9; gap 10-5-2 = 3, len 0;
        // gap 5-2-2 = 1, len 2.
        assert_eq!(w.written(), &[0x02, 30, 7, 3, 0, 9, 9, 3, 0, 1, 2]);
        let n = w.len();
        let ack = ack_of(decode(&buf[..n]));
        let mut got = [0..0, 0..0, 0..0, 0..0, 0..0];
        if let Some(ack) = ack {
            for (slot, r) in got.iter_mut().zip(ack.ranges()) {
                *slot = r;
            }
        }
        assert_eq!(got, [30..31, 10..20, 5..6, 0..3, 0..0]);
        Ok(())
    }

    #[test]
    fn range_cap_and_room() -> Result<(), AllocError> {
        let mut set = RangeSet::new();
        for i in 0..100u64 {
            set.insert_one(i * 3)?;
        }
        let cap = AckEncoder::new(&set, VarInt::ZERO, None, 10, 1000);
        assert_eq!(cap.map(|e| e.range_count()), Some(10));
        assert_eq!(cap.map(|e| e.smallest()), Some(3 * 90));
        // Type, largest (2), delay, count, first: 6 bytes; each pair is 2.
        for room in 0..40 {
            let enc = AckEncoder::new(&set, VarInt::ZERO, None, usize::MAX, room);
            if room < 6 {
                assert!(enc.is_none());
                continue;
            }
            assert!(enc.is_some());
            let Some(enc) = enc else { continue };
            assert!(enc.encoded_size() <= room);
            assert_eq!(enc.range_count(), 1 + (room - 6) / 2);
            let mut buf = [0u8; 40];
            let mut w = Writer::new(&mut buf[..room]);
            assert_eq!(enc.encode(&mut w), Ok(()));
            assert_eq!(w.len(), enc.encoded_size());
        }
        assert!(AckEncoder::new(&set, VarInt::ZERO, None, 0, 1000).is_none());
        assert!(AckEncoder::new(&RangeSet::new(), VarInt::ZERO, None, 9, 100).is_none());
        Ok(())
    }

    #[test]
    fn encode_rejects_non_packet_numbers_and_short_buffers() -> Result<(), AllocError> {
        let set = set_of(&[(1 << 62, (1 << 62) + 1)])?;
        assert!(AckEncoder::new(&set, VarInt::ZERO, None, 1, 100).is_none());
        let set = set_of(&[(0, 1 << 62)])?;
        let enc = AckEncoder::new(&set, VarInt::ZERO, None, 1, 100);
        assert_eq!(enc.map(|e| e.encoded_size()), Some(1 + 8 + 1 + 1 + 8));
        let ecn = Some(EcnCounts::default());
        let set = set_of(&[(2, 4), (7, 9)])?;
        let enc = AckEncoder::new(&set, VarInt::ZERO, ecn, 5, 100);
        let mut buf = [0xeeu8; 9];
        let mut w = Writer::new(&mut buf);
        assert_eq!(enc.map(|e| e.encode(&mut w)), Some(Err(BufferTooShort)));
        assert!(w.is_empty());
        Ok(())
    }
}
