// SPDX-License-Identifier: GPL-2.0

//! The connection IDs the peer issued to this endpoint (RFC 9000 §5.1.2).
//!
//! One of them, the *current* ID, goes in the Destination Connection ID of
//! packets on the active path; other paths take unused ones so that no ID is
//! seen on two paths. NEW_CONNECTION_ID frames add IDs, bounded by our
//! active_connection_id_limit; their Retire Prior To field, a migration or a
//! socket option retire IDs, each with a RETIRE_CONNECTION_ID frame that is
//! retransmitted until acknowledged.
//!
//! The set also holds the stateless reset tokens of the IDs and recognises a
//! stateless reset among datagrams that could not be processed.

use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::cid::reset::{self, ResetToken};
use crate::protocol::cid::{ConnectionId, NewConnectionId, RequestError};
use crate::protocol::error::{TransportError, TransportErrorCode};
use crate::protocol::range_set::RangeSet;

/// The frame type of NEW_CONNECTION_ID, for errors it causes.
const NEW_CONNECTION_ID: u64 = 0x18;

/// How many ranges of retired sequence numbers are remembered. Forgetting
/// the oldest only costs a redundant RETIRE_CONNECTION_ID if the peer repeats
/// a very old frame.
const MAX_RETIRED_RANGES: usize = 16;

#[derive(Clone, Copy, Debug)]
struct PeerCid {
    seq: u64,
    id: ConnectionId,
    /// `None` for the handshake ID of a client (clients send no token).
    reset_token: Option<ResetToken>,
    /// Whether it was put in a packet. Only used IDs' tokens are checked.
    used: bool,
}

#[derive(Clone, Copy, Debug)]
struct Retiring {
    seq: u64,
    /// Whether the RETIRE_CONNECTION_ID frame is in flight.
    sent: bool,
}

/// The set of connection IDs issued by the peer.
///
/// # Invariants
///
/// `ids` is sorted by ascending sequence number, is never empty and holds
/// `current_seq` with `current_id`. Every sequence number in it is at least
/// `largest_retire_prior_to`.
#[derive(Debug)]
pub struct PeerCids {
    ids: Vec<PeerCid>,
    current_seq: u64,
    current_id: ConnectionId,
    /// Our active_connection_id_limit.
    limit: u64,
    largest_retire_prior_to: u64,
    /// Sequence numbers already retired (RETIRE_CONNECTION_ID queued).
    retired: RangeSet,
    /// RETIRE_CONNECTION_ID frames not acknowledged yet.
    retiring: Vec<Retiring>,
    /// The peer chose a zero-length ID: it issues no other.
    zero_length: bool,
}

impl PeerCids {
    /// Creates the set with the ID packets are first sent to: a client's
    /// random initial Destination Connection ID or a server's view of the
    /// client's Source Connection ID. `limit` is our
    /// active_connection_id_limit transport parameter.
    pub fn new(initial: ConnectionId, limit: u64) -> Result<Self, AllocError> {
        let limit = limit.max(super::MIN_ACTIVE_CONNECTION_ID_LIMIT);
        let slots = usize::try_from(limit).map_err(|_| AllocError)?;
        let mut ids = Vec::with_capacity(slots.saturating_add(1), GFP)?;
        ids.push(
            PeerCid {
                seq: 0,
                id: initial,
                reset_token: None,
                used: true,
            },
            GFP,
        )?;
        Ok(Self {
            ids,
            current_seq: 0,
            current_id: initial,
            limit,
            largest_retire_prior_to: 0,
            retired: RangeSet::new(),
            retiring: Vec::with_capacity(slots.saturating_mul(3), GFP)?,
            zero_length: initial.is_empty(),
        })
    }

    /// Replaces the handshake ID (sequence number 0) with the Source
    /// Connection ID of the server's first Retry or Initial packet.
    pub fn on_handshake_source_cid(&mut self, id: ConnectionId) {
        if let Some(first) = self.ids.iter_mut().find(|c| c.seq == 0) {
            first.id = id;
            first.reset_token = None;
        }
        if self.current_seq == 0 {
            self.current_id = id;
        }
        self.zero_length = id.is_empty();
    }

    /// Records the server's stateless_reset_token transport parameter, which
    /// belongs to the handshake ID.
    pub fn set_handshake_reset_token(&mut self, token: ResetToken) {
        if let Some(first) = self.ids.iter_mut().find(|c| c.seq == 0) {
            first.reset_token = Some(token);
        }
    }

    /// Adds the connection ID of the server's preferred_address transport
    /// parameter, sequence number 1.
    pub fn on_preferred_address(
        &mut self,
        id: ConnectionId,
        reset_token: ResetToken,
    ) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-18.2
        //# A server that chooses a zero-length connection ID MUST NOT provide a
        //# preferred address.  Similarly, a server MUST NOT include a
        //# zero-length connection ID in this transport parameter.
        if self.zero_length || id.is_empty() {
            return Err(TransportError::new(
                TransportErrorCode::TRANSPORT_PARAMETER_ERROR,
                "preferred address with a zero-length connection ID",
            ));
        }
        let frame = NewConnectionId {
            sequence: 1,
            retire_prior_to: 0,
            id,
            reset_token,
        };
        match self.on_new_connection_id(&frame) {
            Ok(_) => Ok(()),
            Err(e) if e.code == TransportErrorCode::INTERNAL_ERROR => Err(e),
            Err(e) => Err(TransportError::new(
                TransportErrorCode::TRANSPORT_PARAMETER_ERROR,
                e.reason,
            )),
        }
    }

    /// Processes a NEW_CONNECTION_ID frame.
    ///
    /// Returns `true` when its Retire Prior To retired the current ID: the
    /// active path now uses [`PeerCids::current`]. Other paths must check
    /// that their ID is still [`PeerCids::contains_sequence`].
    pub fn on_new_connection_id(&mut self, f: &NewConnectionId) -> Result<bool, TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.15
        //# An endpoint that is sending packets with a zero-length Destination
        //# Connection ID MUST treat receipt of a NEW_CONNECTION_ID frame as a
        //# connection error of type PROTOCOL_VIOLATION.
        if self.zero_length {
            return Err(new_cid_error(
                TransportErrorCode::PROTOCOL_VIOLATION,
                "NEW_CONNECTION_ID with a zero-length connection ID in use",
            ));
        }
        if f.id.is_empty() {
            return Err(new_cid_error(
                TransportErrorCode::FRAME_ENCODING_ERROR,
                "zero-length connection ID",
            ));
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.15
        //# Receiving a value in the Retire Prior To field that is greater than
        //# that in the Sequence Number field MUST be treated as a connection
        //# error of type FRAME_ENCODING_ERROR.
        if f.retire_prior_to > f.sequence {
            return Err(new_cid_error(
                TransportErrorCode::FRAME_ENCODING_ERROR,
                "Retire Prior To above the sequence number",
            ));
        }
        for c in self.ids.iter() {
            let same_seq = c.seq == f.sequence;
            let same_id = c.id == f.id;
            let same_token = c.reset_token == Some(f.reset_token);
            //= https://www.rfc-editor.org/rfc/rfc9000#section-19.15
            //# Receipt of the same frame multiple times MUST NOT be treated as a
            //# connection error.
            if same_seq && same_id && same_token {
                return Ok(false);
            }
            if same_seq || same_id || same_token {
                return Err(new_cid_error(
                    TransportErrorCode::PROTOCOL_VIOLATION,
                    "connection ID, sequence number or reset token reused",
                ));
            }
        }
        if self.retired.contains(f.sequence) {
            return Ok(false);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.15
        //# An endpoint that receives a NEW_CONNECTION_ID frame with a sequence
        //# number smaller than the Retire Prior To field of a previously
        //# received NEW_CONNECTION_ID frame MUST send a corresponding
        //# RETIRE_CONNECTION_ID frame that retires the newly received
        //# connection ID, unless it has already done so for that sequence
        //# number.
        if f.sequence < self.largest_retire_prior_to {
            self.check_retire_room(1)?;
            self.queue_retire(f.sequence)?;
            return Ok(false);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.15
        //# A receiver MUST ignore any Retire Prior To fields that do not
        //# increase the largest received Retire Prior To value.
        let rpt = f.retire_prior_to.max(self.largest_retire_prior_to);
        let to_retire = self.ids.iter().filter(|c| c.seq < rpt).count();
        //= https://www.rfc-editor.org/rfc/rfc9000#section-5.1.1
        //# After processing a NEW_CONNECTION_ID frame and adding and retiring
        //# active connection IDs, if the number of active connection IDs
        //# exceeds the value advertised in its active_connection_id_limit
        //# transport parameter, an endpoint MUST close the connection with an
        //# error of type CONNECTION_ID_LIMIT_ERROR.
        let active = (self.ids.len() - to_retire).saturating_add(1);
        if u64::try_from(active).unwrap_or(u64::MAX) > self.limit {
            return Err(new_cid_error(
                TransportErrorCode::CONNECTION_ID_LIMIT_ERROR,
                "more connection IDs than active_connection_id_limit",
            ));
        }
        self.check_retire_room(to_retire)?;

        // The limit was checked as if the old IDs were retired first; add
        // the new one before retiring them so that it can become current.
        let pos = self.ids.partition_point(|c| c.seq < f.sequence);
        self.ids.reserve(1, GFP)?;
        self.ids
            .insert_within_capacity(
                pos,
                PeerCid {
                    seq: f.sequence,
                    id: f.id,
                    reset_token: Some(f.reset_token),
                    used: false,
                },
            )
            .map_err(|_| AllocError)?;
        self.largest_retire_prior_to = rpt;
        let current_retired = self.retire_where(|c| c.seq < rpt)?;
        Ok(current_retired)
    }

    /// Retires every ID `pick` selects, replacing the current ID if it goes.
    /// Returns whether it went. The caller checked there is room.
    fn retire_where(&mut self, pick: impl Fn(&PeerCid) -> bool) -> Result<bool, AllocError> {
        let mut current_retired = false;
        while let Some(pos) = self.ids.iter().position(&pick) {
            let c = self.ids.remove(pos).map_err(|_| AllocError)?;
            current_retired |= c.seq == self.current_seq;
            self.queue_retire(c.seq)?;
        }
        if current_retired {
            // The lowest unused ID, or the lowest one if all were used.
            let pos = self.ids.iter().position(|c| !c.used).unwrap_or(0);
            if let Some(c) = self.ids.get_mut(pos) {
                c.used = true;
                self.current_seq = c.seq;
                self.current_id = c.id;
            }
        }
        Ok(current_retired)
    }

    /// Fails with CONNECTION_ID_LIMIT_ERROR if retiring `n` more IDs at the
    /// peer's request would leave too many RETIRE_CONNECTION_ID frames
    /// unacknowledged.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-5.1.2
    //# An endpoint SHOULD allow for sending and tracking a number of
    //# RETIRE_CONNECTION_ID frames of at least twice the value of the
    //# active_connection_id_limit transport parameter.
    fn check_retire_room(&self, n: usize) -> Result<(), TransportError> {
        if self.retiring.len().saturating_add(n) > self.retire_capacity() {
            return Err(new_cid_error(
                TransportErrorCode::CONNECTION_ID_LIMIT_ERROR,
                "too many connection IDs waiting to be retired",
            ));
        }
        Ok(())
    }

    /// How many retirements may be pending: twice the limit for the peer's
    /// requests, plus one limit's worth for our own (see
    /// [`Self::retire_locally`]).
    fn retire_capacity(&self) -> usize {
        usize::try_from(self.limit.saturating_mul(3)).unwrap_or(usize::MAX)
    }

    fn queue_retire(&mut self, seq: u64) -> Result<(), AllocError> {
        self.retiring.push(Retiring { seq, sent: false }, GFP)?;
        self.retired.insert_one(seq)?;
        self.retired.truncate_low(MAX_RETIRED_RANGES);
        Ok(())
    }

    /// The Destination Connection ID for packets on the active path.
    pub fn current(&self) -> &ConnectionId {
        &self.current_id
    }

    /// The sequence number of [`PeerCids::current`] (the destination
    /// `active` of the CONNECTION_ID socket option).
    pub fn current_sequence(&self) -> u64 {
        self.current_seq
    }

    /// The lowest sequence number held (the destination `prior_to` of the
    /// CONNECTION_ID socket option).
    pub fn first_sequence(&self) -> u64 {
        self.ids.first().map_or(self.current_seq, |c| c.seq)
    }

    /// Whether the peer uses a zero-length connection ID.
    pub fn is_zero_length(&self) -> bool {
        self.zero_length
    }

    /// How many IDs are held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no ID is held; never true (one is always current).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The IDs held, by ascending sequence number.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &ConnectionId)> + '_ {
        self.ids.iter().map(|c| (c.seq, &c.id))
    }

    /// Whether `seq` is still held.
    pub fn contains_sequence(&self, seq: u64) -> bool {
        self.ids.iter().any(|c| c.seq == seq)
    }

    /// How many IDs have never been used: the paths that can still be
    /// opened without linking them to another.
    pub fn unused_count(&self) -> usize {
        self.ids.iter().filter(|c| !c.used).count()
    }

    /// Hands out the lowest unused ID for a new path (probing, migration),
    /// marking it used. `None` if the peer supplied no spare ID.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-9.5
    //# An endpoint MUST NOT reuse a connection ID when sending from more than
    //# one local address
    pub fn take_unused(&mut self) -> Option<(u64, ConnectionId)> {
        let c = self.ids.iter_mut().find(|c| !c.used)?;
        c.used = true;
        Some((c.seq, c.id))
    }

    /// Makes `seq` the current ID: the active path switched to a path using
    /// it, or the application chose it (destination `active`).
    pub fn set_current(&mut self, seq: u64) -> Result<(), RequestError> {
        if self.zero_length {
            return Err(RequestError::ZeroLength);
        }
        let c = self
            .ids
            .iter_mut()
            .find(|c| c.seq == seq)
            .ok_or(RequestError::InvalidSequence)?;
        c.used = true;
        self.current_seq = c.seq;
        self.current_id = c.id;
        Ok(())
    }

    /// Retires `seq`, e.g. the ID of a path no longer used. Retiring the
    /// current ID moves to an unused one, and fails if there is none.
    pub fn retire(&mut self, seq: u64) -> Result<(), RequestError> {
        if self.zero_length {
            return Err(RequestError::ZeroLength);
        }
        if !self.contains_sequence(seq) {
            return Err(RequestError::InvalidSequence);
        }
        if seq == self.current_seq && self.unused_count() == 0 {
            return Err(RequestError::Exhausted);
        }
        self.retire_locally(|c| c.seq == seq)
    }

    /// Retires every ID with a sequence number below `seq` (the destination
    /// `prior_to` of the CONNECTION_ID socket option). At least one ID must
    /// remain.
    pub fn retire_prior_to(&mut self, seq: u64) -> Result<(), RequestError> {
        if self.zero_length {
            return Err(RequestError::ZeroLength);
        }
        if !self.ids.iter().any(|c| c.seq >= seq) {
            return Err(RequestError::InvalidSequence);
        }
        self.retire_locally(|c| c.seq < seq)
    }

    /// Retires the IDs `pick` selects at our own initiative. Those may use
    /// at most one limit's worth of pending retirements, so that the peer's
    /// Retire Prior To always finds room.
    fn retire_locally(&mut self, pick: impl Fn(&PeerCid) -> bool) -> Result<(), RequestError> {
        let n = self.ids.iter().filter(|c| pick(c)).count();
        let own = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if self.retiring.len().saturating_add(n) > own {
            return Err(RequestError::Busy);
        }
        self.retire_where(pick)
            .map(|_| ())
            .map_err(|_| RequestError::Internal)
    }

    /// The next RETIRE_CONNECTION_ID frame to send, by sequence number.
    /// Record it with [`PeerCids::on_retire_sent`] once it is in a packet.
    pub fn pending_retire(&self) -> Option<u64> {
        self.retiring.iter().find(|r| !r.sent).map(|r| r.seq)
    }

    /// Records that the RETIRE_CONNECTION_ID frame for `seq` was sent.
    pub fn on_retire_sent(&mut self, seq: u64) {
        if let Some(r) = self.retiring.iter_mut().find(|r| r.seq == seq) {
            r.sent = true;
        }
    }

    /// Records that the RETIRE_CONNECTION_ID frame for `seq` was lost: it
    /// is sent again.
    pub fn on_retire_lost(&mut self, seq: u64) {
        if let Some(r) = self.retiring.iter_mut().find(|r| r.seq == seq) {
            r.sent = false;
        }
    }

    /// Records that the RETIRE_CONNECTION_ID frame for `seq` was
    /// acknowledged: the retirement is complete.
    pub fn on_retire_acked(&mut self, seq: u64) {
        self.retiring.retain(|r| r.seq != seq);
    }

    /// Whether `datagram`, which could not be associated with the connection
    /// or decrypted, is a stateless reset for an ID this endpoint has used.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-10.3.1
    //# An endpoint MUST NOT check for any stateless reset tokens associated
    //# with connection IDs it has not used or for connection IDs that have
    //# been retired.
    pub fn is_stateless_reset(&self, datagram: &[u8]) -> bool {
        let Some(tail) = reset::token_candidate(datagram) else {
            return false;
        };
        // Every token is compared: the time taken does not tell which one
        // matched.
        self.ids
            .iter()
            .filter(|c| c.used)
            .filter_map(|c| c.reset_token.as_ref())
            .fold(false, |found, token| found | token.ct_eq(tail))
    }
}

fn new_cid_error(code: TransportErrorCode, reason: &'static str) -> TransportError {
    TransportError::new(code, reason).with_frame(NEW_CONNECTION_ID)
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_cid_peer))]
mod tests {
    use super::*;

    fn cid(b: u8) -> ConnectionId {
        ConnectionId::from_slice(&[b; 8]).unwrap_or(ConnectionId::EMPTY)
    }

    fn frame(seq: u64, rpt: u64) -> NewConnectionId {
        let b = u8::try_from(seq).unwrap_or(u8::MAX).wrapping_add(0x10);
        NewConnectionId {
            sequence: seq,
            retire_prior_to: rpt,
            id: cid(b),
            reset_token: ResetToken::new([b; 16]),
        }
    }

    fn code<T>(r: Result<T, TransportError>) -> Option<TransportErrorCode> {
        r.err().map(|e| e.code)
    }

    fn retires(set: &mut PeerCids) -> [Option<u64>; 4] {
        let mut out = [None; 4];
        for slot in out.iter_mut() {
            *slot = set.pending_retire();
            if let Some(seq) = *slot {
                set.on_retire_sent(seq);
            }
        }
        out
    }

    #[test]
    fn new_ids_and_duplicates() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 5)?;
        assert_eq!(set.current(), &cid(1));
        assert_eq!(set.on_new_connection_id(&frame(1, 0)), Ok(false));
        assert_eq!(set.on_new_connection_id(&frame(2, 0)), Ok(false));
        // A repeated frame is ignored.
        assert_eq!(set.on_new_connection_id(&frame(1, 0)), Ok(false));
        assert_eq!(set.len(), 3);
        assert_eq!(set.unused_count(), 2);
        // Reordered arrival: IDs are still handed out in sequence order.
        set.on_new_connection_id(&frame(4, 0))?;
        set.on_new_connection_id(&frame(3, 0))?;
        let mut seqs = [0; 5];
        for (slot, (seq, _)) in seqs.iter_mut().zip(set.iter()) {
            *slot = seq;
        }
        assert_eq!(seqs, [0, 1, 2, 3, 4]);
        for seq in 1..=4 {
            assert_eq!(set.take_unused(), Some((seq, frame(seq, 0).id)));
        }
        assert_eq!(set.take_unused(), None);
        Ok(())
    }

    #[test]
    fn conflicting_frames() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 4)?;
        set.on_new_connection_id(&frame(1, 0))?;
        let mut other_id = frame(1, 0);
        other_id.id = cid(0x77);
        assert_eq!(
            code(set.on_new_connection_id(&other_id)),
            Some(TransportErrorCode::PROTOCOL_VIOLATION)
        );
        let mut other_seq = frame(1, 0);
        other_seq.sequence = 2;
        assert_eq!(
            code(set.on_new_connection_id(&other_seq)),
            Some(TransportErrorCode::PROTOCOL_VIOLATION)
        );
        let mut other_token = frame(1, 0);
        other_token.reset_token = ResetToken::new([0x77; 16]);
        assert_eq!(
            code(set.on_new_connection_id(&other_token)),
            Some(TransportErrorCode::PROTOCOL_VIOLATION)
        );
        let mut reused_token = frame(2, 0);
        reused_token.reset_token = frame(1, 0).reset_token;
        assert_eq!(
            code(set.on_new_connection_id(&reused_token)),
            Some(TransportErrorCode::PROTOCOL_VIOLATION)
        );
        Ok(())
    }

    #[test]
    fn malformed_frames() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 4)?;
        let err = set.on_new_connection_id(&frame(1, 2));
        assert_eq!(
            err.map_err(|e| (e.code, e.frame_type)),
            Err((TransportErrorCode::FRAME_ENCODING_ERROR, Some(0x18)))
        );
        let mut empty = frame(1, 0);
        empty.id = ConnectionId::EMPTY;
        assert_eq!(
            code(set.on_new_connection_id(&empty)),
            Some(TransportErrorCode::FRAME_ENCODING_ERROR)
        );
        Ok(())
    }

    #[test]
    fn limit_is_enforced_after_retiring() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 2)?;
        set.on_new_connection_id(&frame(1, 0))?;
        assert_eq!(
            code(set.on_new_connection_id(&frame(2, 0))),
            Some(TransportErrorCode::CONNECTION_ID_LIMIT_ERROR)
        );
        // The same ID with Retire Prior To 1 fits: 0 goes first.
        assert_eq!(set.on_new_connection_id(&frame(2, 1)), Ok(true));
        assert_eq!(set.len(), 2);
        Ok(())
    }

    #[test]
    fn retire_prior_to_retires_and_replaces_current() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 4)?;
        set.on_new_connection_id(&frame(1, 0))?;
        set.on_new_connection_id(&frame(2, 0))?;
        // 0 and 1 go; current moves to the lowest unused ID.
        assert_eq!(set.on_new_connection_id(&frame(3, 2)), Ok(true));
        assert_eq!(set.current_sequence(), 2);
        assert_eq!(set.current(), &frame(2, 0).id);
        assert_eq!(set.first_sequence(), 2);
        assert_eq!(retires(&mut set), [Some(0), Some(1), None, None]);
        // Retiring every ID held moves to the new one.
        assert_eq!(set.on_new_connection_id(&frame(5, 5)), Ok(true));
        assert_eq!(set.current_sequence(), 5);
        assert_eq!(set.len(), 1);
        // A smaller Retire Prior To is ignored.
        assert_eq!(set.on_new_connection_id(&frame(6, 1)), Ok(false));
        assert_eq!(set.len(), 2);
        Ok(())
    }

    #[test]
    fn late_id_below_retire_prior_to_is_retired() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 4)?;
        set.on_new_connection_id(&frame(3, 2))?;
        assert_eq!(retires(&mut set), [Some(0), None, None, None]);
        // 1 arrives late: retired right away, once.
        assert_eq!(set.on_new_connection_id(&frame(1, 0)), Ok(false));
        assert_eq!(set.on_new_connection_id(&frame(1, 0)), Ok(false));
        assert_eq!(retires(&mut set), [Some(1), None, None, None]);
        assert!(!set.contains_sequence(1));
        Ok(())
    }

    #[test]
    fn retirements_are_retransmitted_until_acked() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 4)?;
        set.on_new_connection_id(&frame(1, 1))?;
        assert_eq!(retires(&mut set), [Some(0), None, None, None]);
        set.on_retire_lost(0);
        assert_eq!(retires(&mut set), [Some(0), None, None, None]);
        set.on_retire_acked(0);
        set.on_retire_lost(0);
        assert_eq!(set.pending_retire(), None);
        // A retired ID repeated by the peer is not added back.
        assert_eq!(set.on_new_connection_id(&frame(0, 0)), Ok(false));
        assert!(!set.contains_sequence(0));
        Ok(())
    }

    #[test]
    fn too_many_pending_retirements() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 2)?;
        // Each frame retires the previous ID; nothing is ever acknowledged.
        for seq in 1..=6 {
            set.on_new_connection_id(&frame(seq, seq))?;
        }
        assert_eq!(
            code(set.on_new_connection_id(&frame(7, 7))),
            Some(TransportErrorCode::CONNECTION_ID_LIMIT_ERROR)
        );
        Ok(())
    }

    #[test]
    fn own_retirements_leave_room_for_the_peer() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 2)?;
        set.on_new_connection_id(&frame(1, 0))?;
        assert_eq!(set.retire(0), Ok(()));
        set.on_new_connection_id(&frame(2, 0))?;
        assert_eq!(set.retire(1), Ok(()));
        set.on_new_connection_id(&frame(3, 0))?;
        // Two of our own pending: no more until acknowledged.
        assert_eq!(set.retire(2), Err(RequestError::Busy));
        assert_eq!(set.retire_prior_to(3), Err(RequestError::Busy));
        // The peer still may retire everything we hold.
        assert_eq!(set.on_new_connection_id(&frame(4, 4)), Ok(true));
        set.on_retire_acked(0);
        set.on_retire_acked(1);
        set.on_retire_acked(2);
        set.on_retire_acked(3);
        set.on_new_connection_id(&frame(5, 0))?;
        assert_eq!(set.retire(4), Ok(()));
        Ok(())
    }

    #[test]
    fn local_retirement_and_migration() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 4)?;
        set.on_new_connection_id(&frame(1, 0))?;
        set.on_new_connection_id(&frame(2, 0))?;
        // A new path takes 1; moving there retires 0.
        assert_eq!(set.take_unused(), Some((1, frame(1, 0).id)));
        assert_eq!(set.set_current(1), Ok(()));
        assert_eq!(set.retire(0), Ok(()));
        assert_eq!(set.current(), &frame(1, 0).id);
        assert_eq!(set.retire(0), Err(RequestError::InvalidSequence));
        // Retiring the current ID moves to the spare one; then none is left.
        assert_eq!(set.retire(1), Ok(()));
        assert_eq!(set.current_sequence(), 2);
        assert_eq!(set.retire(2), Err(RequestError::Exhausted));
        assert_eq!(set.take_unused(), None);
        assert_eq!(retires(&mut set), [Some(0), Some(1), None, None]);
        assert_eq!(set.set_current(9), Err(RequestError::InvalidSequence));
        Ok(())
    }

    #[test]
    fn retire_prior_to_request() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 4)?;
        set.on_new_connection_id(&frame(1, 0))?;
        set.on_new_connection_id(&frame(2, 0))?;
        assert_eq!(set.retire_prior_to(3), Err(RequestError::InvalidSequence));
        assert_eq!(set.retire_prior_to(2), Ok(()));
        assert_eq!(set.current_sequence(), 2);
        assert_eq!(set.len(), 1);
        assert_eq!(retires(&mut set), [Some(0), Some(1), None, None]);
        Ok(())
    }

    #[test]
    fn zero_length_peer() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 4)?;
        set.on_handshake_source_cid(ConnectionId::EMPTY);
        assert!(set.is_zero_length());
        assert_eq!(set.current(), &ConnectionId::EMPTY);
        assert_eq!(
            code(set.on_new_connection_id(&frame(1, 0))),
            Some(TransportErrorCode::PROTOCOL_VIOLATION)
        );
        assert_eq!(
            code(set.on_preferred_address(cid(9), ResetToken::new([9; 16]))),
            Some(TransportErrorCode::TRANSPORT_PARAMETER_ERROR)
        );
        assert_eq!(set.retire(0), Err(RequestError::ZeroLength));
        assert_eq!(set.take_unused(), None);
        Ok(())
    }

    #[test]
    fn handshake_and_preferred_address() -> Result<(), TransportError> {
        // A client starts with a random ID, then adopts the server's.
        let mut set = PeerCids::new(cid(0xee), 2)?;
        set.on_handshake_source_cid(cid(1));
        assert_eq!(set.current(), &cid(1));
        set.on_preferred_address(cid(9), ResetToken::new([9; 16]))?;
        assert_eq!(set.take_unused(), Some((1, cid(9))));
        assert_eq!(
            code(set.on_preferred_address(ConnectionId::EMPTY, ResetToken::new([8; 16]))),
            Some(TransportErrorCode::TRANSPORT_PARAMETER_ERROR)
        );
        Ok(())
    }

    #[test]
    fn stateless_reset_detection() -> Result<(), TransportError> {
        let mut set = PeerCids::new(cid(1), 4)?;
        set.set_handshake_reset_token(ResetToken::new([0xab; 16]));
        set.on_new_connection_id(&frame(1, 0))?;
        let mut datagram = [0x41u8; 40];
        datagram[24..].copy_from_slice(&[0xab; 16]);
        assert!(set.is_stateless_reset(&datagram));
        datagram[39] ^= 1;
        assert!(!set.is_stateless_reset(&datagram));
        datagram[39] ^= 1;
        // Too short to be a reset, even ending in the token.
        assert!(!set.is_stateless_reset(&datagram[20..]));
        assert!(set.is_stateless_reset(&datagram[19..]));
        // An unused ID's token is not checked until the ID is used...
        datagram[24..].copy_from_slice(frame(1, 0).reset_token.as_bytes());
        assert!(!set.is_stateless_reset(&datagram));
        set.take_unused();
        assert!(set.is_stateless_reset(&datagram));
        // ...nor once it is retired.
        assert_eq!(set.retire(1), Ok(()));
        assert!(!set.is_stateless_reset(&datagram));
        Ok(())
    }
}
