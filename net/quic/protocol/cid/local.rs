// SPDX-License-Identifier: GPL-2.0

//! The connection IDs this endpoint issued to its peer (RFC 9000 §5.1.1).
//!
//! Sequence number 0 is the Source Connection ID of the handshake, 1 may go
//! in the server's preferred_address transport parameter, and every further
//! ID is announced in a NEW_CONNECTION_ID frame. The set keeps the peer
//! supplied with up to its active_connection_id_limit IDs, answers
//! RETIRE_CONNECTION_ID frames, and can ask the peer to retire old IDs by
//! raising Retire Prior To.
//!
//! Every ID the set holds routes packets to this connection: the endpoint
//! learns which IDs to add to and remove from its demultiplexing table by
//! draining [`LocalCids::poll_route_change`].

use crate::protocol::alloc::{Vec, GFP};
use crate::protocol::cid::reset::ResetToken;
use crate::protocol::cid::{ConnectionId, Generator, NewConnectionId, RequestError};
use crate::protocol::error::TransportError;
use crate::protocol::varint::VarInt;

/// The frame type of RETIRE_CONNECTION_ID, for errors it causes.
const RETIRE_CONNECTION_ID: u64 = 0x19;

/// How many IDs this endpoint keeps issued at most, whatever the peer's
/// active_connection_id_limit: each one is a demultiplexing table entry and a
/// path the peer may probe with.
pub const MAX_ISSUED: u64 = 8;

/// A change to the endpoint's connection ID → connection table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteChange {
    /// Packets with this Destination Connection ID belong to the connection.
    Add(ConnectionId),
    /// Packets with this Destination Connection ID no longer do.
    Remove(ConnectionId),
}

/// Where an issued ID stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Its NEW_CONNECTION_ID frame was never sent.
    Unsent,
    /// Its NEW_CONNECTION_ID frame is in flight or was received (or the ID
    /// went out in the handshake or the preferred_address parameter).
    Sent,
    /// Its NEW_CONNECTION_ID frame was lost and must be sent again.
    Lost,
    /// Retired: waiting to be removed from the demultiplexing table.
    Retired,
}

#[derive(Clone, Copy, Debug)]
struct Issued {
    seq: u64,
    id: ConnectionId,
    reset_token: ResetToken,
    state: State,
    /// Whether the endpoint was told to route it ([`RouteChange::Add`]).
    routed: bool,
}

/// The set of connection IDs issued to the peer.
///
/// # Invariants
///
/// `issued` is sorted by ascending sequence number, every sequence number is
/// below `next_seq`, and `retire_prior_to <= next_seq`. With zero-length IDs
/// the set holds exactly sequence number 0.
#[derive(Debug)]
pub struct LocalCids {
    issued: Vec<Issued>,
    /// The length of every ID issued; 0 for zero-length IDs.
    cid_len: usize,
    next_seq: u64,
    retire_prior_to: u64,
    /// How many IDs the peer holds at most: its active_connection_id_limit,
    /// capped at [`MAX_ISSUED`].
    limit: u64,
}

impl LocalCids {
    /// Creates the set with the handshake's Source Connection ID, sequence
    /// number 0, drawn from `gen` with length `cid_len` (0 for zero-length
    /// IDs, which can never be replaced).
    pub fn new(cid_len: usize, gen: &mut impl Generator) -> Result<Self, TransportError> {
        if cid_len > ConnectionId::MAX_LEN {
            return Err(TransportError::internal("connection ID too long"));
        }
        let mut set = Self {
            issued: Vec::new(),
            cid_len,
            next_seq: 0,
            retire_prior_to: 0,
            limit: super::MIN_ACTIVE_CONNECTION_ID_LIMIT,
        };
        set.issue(gen, State::Sent)?;
        Ok(set)
    }

    /// The live ID with the lowest sequence number: the handshake's Source
    /// Connection ID until the peer retires it.
    pub fn first(&self) -> Option<(u64, &ConnectionId)> {
        self.live().next().map(|i| (i.seq, &i.id))
    }

    /// The reset token of sequence number 0: a server's
    /// stateless_reset_token transport parameter. `None` once retired.
    pub fn initial_reset_token(&self) -> Option<ResetToken> {
        self.issued
            .iter()
            .find(|i| i.seq == 0 && i.state != State::Retired)
            .map(|i| i.reset_token)
    }

    /// Issues sequence number 1 for a server's preferred_address transport
    /// parameter and returns it with its reset token.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-18.2
    //# A server that chooses a zero-length connection ID MUST NOT provide a
    //# preferred address.
    pub fn issue_preferred_address(
        &mut self,
        gen: &mut impl Generator,
    ) -> Result<(ConnectionId, ResetToken), RequestError> {
        if self.cid_len == 0 {
            return Err(RequestError::ZeroLength);
        }
        if self.next_seq != 1 {
            return Err(RequestError::InvalidSequence);
        }
        self.issue(gen, State::Sent)
            .map_err(|_| RequestError::Internal)?;
        let last = self.issued.last().ok_or(RequestError::Internal)?;
        Ok((last.id, last.reset_token))
    }

    /// Records the peer's active_connection_id_limit transport parameter.
    /// Call [`LocalCids::replenish`] afterwards.
    pub fn set_peer_limit(&mut self, limit: u64) {
        self.limit = limit.clamp(super::MIN_ACTIVE_CONNECTION_ID_LIMIT, MAX_ISSUED);
    }

    /// Issues new IDs until the peer holds as many as it allows.
    ///
    /// Call it once 1-RTT keys are available and after every change that can
    /// free a slot (a retirement, a higher limit). A zero-length set never
    /// issues anything.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-5.1.1
    //# An endpoint SHOULD ensure that its peer has a sufficient number of
    //# available and unused connection IDs.
    pub fn replenish(&mut self, gen: &mut impl Generator) -> Result<(), TransportError> {
        if self.cid_len == 0 {
            return Ok(());
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-5.1.1
        //# An endpoint MUST NOT provide more connection IDs than the peer's
        //# limit.
        while self.active_at_peer() < self.limit {
            self.issue(gen, State::Unsent)?;
        }
        Ok(())
    }

    /// IDs the peer holds once it has received every frame sent: those not
    /// retired and not below Retire Prior To.
    fn active_at_peer(&self) -> u64 {
        let n = self
            .live()
            .filter(|i| i.seq >= self.retire_prior_to)
            .count();
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// IDs not retired by the peer.
    fn live(&self) -> impl Iterator<Item = &Issued> + '_ {
        self.issued.iter().filter(|i| i.state != State::Retired)
    }

    /// Draws the next ID from `gen` and appends it with sequence `next_seq`.
    fn issue(&mut self, gen: &mut impl Generator, state: State) -> Result<(), TransportError> {
        let seq = self.next_seq;
        let next_seq = VarInt::from_u64(seq.saturating_add(1))
            .map_err(|_| TransportError::internal("connection ID sequence exhausted"))?;
        let id = gen.new_cid(self.cid_len);
        if id.len() != self.cid_len || self.issued.iter().any(|i| i.id == id) {
            return Err(TransportError::internal(
                "connection ID generator misbehaved",
            ));
        }
        let reset_token = gen.reset_token(&id);
        self.issued.push(
            Issued {
                seq,
                id,
                reset_token,
                state,
                routed: false,
            },
            GFP,
        )?;
        self.next_seq = next_seq.into_inner();
        Ok(())
    }

    /// The next NEW_CONNECTION_ID frame to send, if any. Record it with
    /// [`LocalCids::on_new_connection_id_sent`] once it is in a packet.
    pub fn pending_new_connection_id(&self) -> Option<NewConnectionId> {
        let i = self
            .issued
            .iter()
            .find(|i| matches!(i.state, State::Unsent | State::Lost))?;
        Some(NewConnectionId {
            sequence: i.seq,
            // A lost frame for an ID since retired by Retire Prior To is sent
            // again so that the peer learns the ID and retires it; its field
            // may not exceed its own sequence number.
            retire_prior_to: self.retire_prior_to.min(i.seq),
            id: i.id,
            reset_token: i.reset_token,
        })
    }

    /// Records that the NEW_CONNECTION_ID frame for `seq` was sent.
    pub fn on_new_connection_id_sent(&mut self, seq: u64) {
        if let Some(i) = self.find_mut(seq) {
            if matches!(i.state, State::Unsent | State::Lost) {
                i.state = State::Sent;
            }
        }
    }

    /// Records that a packet carrying the NEW_CONNECTION_ID frame for `seq`
    /// was lost: the frame is sent again unless the ID was retired since.
    pub fn on_new_connection_id_lost(&mut self, seq: u64) {
        if let Some(i) = self.find_mut(seq) {
            if i.state == State::Sent {
                i.state = State::Lost;
            }
        }
    }

    fn find_mut(&mut self, seq: u64) -> Option<&mut Issued> {
        self.issued.iter_mut().find(|i| i.seq == seq)
    }

    /// Processes a RETIRE_CONNECTION_ID frame for `seq` that arrived in a
    /// packet sent to `packet_dcid`.
    ///
    /// A retired ID keeps routing until the endpoint drains its
    /// [`RouteChange::Remove`]. Call [`LocalCids::replenish`] afterwards.
    pub fn on_retire_connection_id(
        &mut self,
        seq: u64,
        packet_dcid: &ConnectionId,
    ) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.16
        //# An endpoint that provides a zero-length connection ID MUST treat
        //# receipt of a RETIRE_CONNECTION_ID frame as a connection error of
        //# type PROTOCOL_VIOLATION.
        if self.cid_len == 0 {
            return Err(retire_error("RETIRE_CONNECTION_ID with zero-length IDs"));
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.16
        //# Receipt of a RETIRE_CONNECTION_ID frame containing a sequence number
        //# greater than any previously sent to the peer MUST be treated as a
        //# connection error of type PROTOCOL_VIOLATION.
        if seq >= self.next_seq {
            return Err(retire_error("retired a connection ID never issued"));
        }
        let Some(i) = self.find_mut(seq) else {
            // Retired and forgotten already: a repeated frame.
            return Ok(());
        };
        if i.state == State::Retired {
            return Ok(());
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.16
        //# The sequence number specified in a RETIRE_CONNECTION_ID frame MUST
        //# NOT refer to the Destination Connection ID field of the packet in
        //# which the frame is contained.
        if i.id == *packet_dcid {
            return Err(retire_error("retired the connection ID of its own packet"));
        }
        i.state = State::Retired;
        Ok(())
    }

    /// Asks the peer to retire every ID with a sequence number below `rpt`
    /// (the source `prior_to` of the CONNECTION_ID socket option).
    ///
    /// New IDs are issued at once and carry the new Retire Prior To. The old
    /// ones keep routing until the peer retires them. Refused while an
    /// earlier request is still being retired, or if no new ID would fit the
    /// peer's limit.
    pub fn retire_prior_to(
        &mut self,
        rpt: u64,
        gen: &mut impl Generator,
    ) -> Result<(), RequestError> {
        if self.cid_len == 0 {
            return Err(RequestError::ZeroLength);
        }
        if rpt <= self.retire_prior_to || rpt > self.next_seq {
            return Err(RequestError::InvalidSequence);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-5.1.2
        //# Endpoints SHOULD NOT issue updates of the Retire Prior To field
        //# before receiving RETIRE_CONNECTION_ID frames that retire all
        //# connection IDs indicated by the previous Retire Prior To value.
        if self.live().any(|i| i.seq < self.retire_prior_to) {
            return Err(RequestError::Busy);
        }
        let kept = self.live().filter(|i| i.seq >= rpt).count();
        if u64::try_from(kept).unwrap_or(u64::MAX) >= self.limit {
            // No NEW_CONNECTION_ID could carry the new value.
            return Err(RequestError::Exhausted);
        }
        self.retire_prior_to = rpt;
        // IDs the peer never heard of need no retirement by it.
        for i in self.issued.iter_mut() {
            if i.seq < rpt && i.state == State::Unsent {
                i.state = State::Retired;
            }
        }
        self.replenish(gen).map_err(|_| RequestError::Internal)
    }

    /// The current Retire Prior To value.
    pub fn current_retire_prior_to(&self) -> u64 {
        self.retire_prior_to
    }

    /// The sequence number of `id` if it routes to this connection, e.g. to
    /// report which ID the peer is using.
    pub fn sequence_of(&self, id: &ConnectionId) -> Option<u64> {
        self.live().find(|i| i.id == *id).map(|i| i.seq)
    }

    /// The live ID with sequence number `seq` and its reset token, e.g.
    /// sequence number 1 for the preferred_address transport parameter.
    pub fn get(&self, seq: u64) -> Option<(ConnectionId, ResetToken)> {
        self.live()
            .find(|i| i.seq == seq)
            .map(|i| (i.id, i.reset_token))
    }

    /// Whether a packet with Destination Connection ID `id` belongs here.
    pub fn contains(&self, id: &ConnectionId) -> bool {
        self.issued.iter().any(|i| i.id == *id)
    }

    /// The next change for the endpoint's demultiplexing table, if any.
    /// Drain it after every call that can issue or retire IDs.
    pub fn poll_route_change(&mut self) -> Option<RouteChange> {
        while let Some(pos) = self.issued.iter().position(|i| i.state == State::Retired) {
            let i = self.issued.remove(pos).ok()?;
            // One never announced has nothing to undo.
            if i.routed {
                return Some(RouteChange::Remove(i.id));
            }
        }
        let i = self.issued.iter_mut().find(|i| !i.routed)?;
        i.routed = true;
        Some(RouteChange::Add(i.id))
    }

    /// The IDs currently routed to this connection, to remove them all from
    /// the demultiplexing table when it goes away.
    pub fn routed(&self) -> impl Iterator<Item = &ConnectionId> + '_ {
        self.issued.iter().filter(|i| i.routed).map(|i| &i.id)
    }

    /// The number of IDs not retired by the peer.
    pub fn active_count(&self) -> usize {
        self.live().count()
    }
}

fn retire_error(reason: &'static str) -> TransportError {
    TransportError::protocol_violation(reason).with_frame(RETIRE_CONNECTION_ID)
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_cid_local))]
mod tests {
    use super::*;
    use crate::protocol::error::TransportErrorCode;

    /// Hands out IDs 1, 2, 3... and tokens that repeat the ID's first byte.
    struct Counter(u8);

    impl Generator for Counter {
        fn new_cid(&mut self, len: usize) -> ConnectionId {
            self.0 = self.0.wrapping_add(1);
            let bytes = [self.0; ConnectionId::MAX_LEN];
            ConnectionId::from_slice(&bytes[..len]).unwrap_or(ConnectionId::EMPTY)
        }

        fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
            ResetToken::new([cid.as_slice().first().copied().unwrap_or(0); 16])
        }
    }

    fn cid(b: u8) -> ConnectionId {
        ConnectionId::from_slice(&[b; 8]).unwrap_or(ConnectionId::EMPTY)
    }

    fn drain_routes(set: &mut LocalCids) -> (usize, usize) {
        let (mut added, mut removed) = (0, 0);
        while let Some(change) = set.poll_route_change() {
            match change {
                RouteChange::Add(_) => added += 1,
                RouteChange::Remove(_) => removed += 1,
            }
        }
        (added, removed)
    }

    /// Sends every pending NEW_CONNECTION_ID; returns how many.
    fn send_all(set: &mut LocalCids) -> usize {
        let mut n = 0;
        while let Some(f) = set.pending_new_connection_id() {
            set.on_new_connection_id_sent(f.sequence);
            n += 1;
        }
        n
    }

    #[test]
    fn issues_up_to_the_peer_limit() -> Result<(), TransportError> {
        let mut gen = Counter(0);
        let mut set = LocalCids::new(8, &mut gen)?;
        assert_eq!(set.first(), Some((0, &cid(1))));
        assert_eq!(set.initial_reset_token(), Some(ResetToken::new([1; 16])));
        // Before the transport parameters: the default limit of 2.
        set.replenish(&mut gen)?;
        assert_eq!(set.active_count(), 2);
        set.set_peer_limit(4);
        set.replenish(&mut gen)?;
        assert_eq!(set.active_count(), 4);
        let f = set.pending_new_connection_id();
        assert_eq!(
            f,
            Some(NewConnectionId {
                sequence: 1,
                retire_prior_to: 0,
                id: cid(2),
                reset_token: ResetToken::new([2; 16]),
            })
        );
        assert_eq!(send_all(&mut set), 3);
        assert_eq!(set.pending_new_connection_id(), None);
        // A huge limit is capped.
        set.set_peer_limit(1 << 40);
        set.replenish(&mut gen)?;
        assert_eq!(set.active_count() as u64, MAX_ISSUED);
        Ok(())
    }

    #[test]
    fn lost_frames_are_sent_again() -> Result<(), TransportError> {
        let mut gen = Counter(0);
        let mut set = LocalCids::new(8, &mut gen)?;
        set.replenish(&mut gen)?;
        assert_eq!(send_all(&mut set), 1);
        set.on_new_connection_id_lost(1);
        assert_eq!(set.pending_new_connection_id().map(|f| f.sequence), Some(1));
        set.on_new_connection_id_sent(1);
        // Loss of a frame for a retired ID changes nothing.
        set.on_retire_connection_id(1, &cid(1))?;
        set.on_new_connection_id_lost(1);
        assert_eq!(set.pending_new_connection_id(), None);
        Ok(())
    }

    #[test]
    fn retire_and_replenish() -> Result<(), TransportError> {
        let mut gen = Counter(0);
        let mut set = LocalCids::new(8, &mut gen)?;
        set.set_peer_limit(3);
        set.replenish(&mut gen)?;
        send_all(&mut set);
        assert_eq!(drain_routes(&mut set), (3, 0));
        // The peer retires sequence 0 in a packet sent to sequence 1.
        set.on_retire_connection_id(0, &cid(2))?;
        assert!(set.contains(&cid(1)));
        assert_eq!(set.sequence_of(&cid(1)), None);
        assert_eq!(set.poll_route_change(), Some(RouteChange::Remove(cid(1))));
        assert!(!set.contains(&cid(1)));
        set.replenish(&mut gen)?;
        assert_eq!(set.poll_route_change(), Some(RouteChange::Add(cid(4))));
        assert_eq!(set.poll_route_change(), None);
        assert_eq!(set.pending_new_connection_id().map(|f| f.sequence), Some(3));
        // Repeats are harmless.
        set.on_retire_connection_id(0, &cid(2))?;
        assert_eq!(drain_routes(&mut set), (0, 0));
        assert_eq!(set.routed().count(), 3);
        Ok(())
    }

    #[test]
    fn retire_errors() -> Result<(), TransportError> {
        let mut gen = Counter(0);
        let mut set = LocalCids::new(8, &mut gen)?;
        set.replenish(&mut gen)?;
        let err = set.on_retire_connection_id(2, &cid(1));
        assert_eq!(
            err.map_err(|e| (e.code, e.frame_type)),
            Err((TransportErrorCode::PROTOCOL_VIOLATION, Some(0x19)))
        );
        let err = set.on_retire_connection_id(1, &cid(2));
        assert_eq!(
            err.map_err(|e| e.code),
            Err(TransportErrorCode::PROTOCOL_VIOLATION)
        );
        assert_eq!(set.active_count(), 2);
        set.on_retire_connection_id(1, &cid(1))?;
        assert_eq!(set.active_count(), 1);
        Ok(())
    }

    #[test]
    fn zero_length_ids() -> Result<(), TransportError> {
        let mut gen = Counter(0);
        let mut set = LocalCids::new(0, &mut gen)?;
        assert_eq!(set.first(), Some((0, &ConnectionId::EMPTY)));
        set.set_peer_limit(8);
        set.replenish(&mut gen)?;
        assert_eq!(set.active_count(), 1);
        assert_eq!(set.pending_new_connection_id(), None);
        let err = set.on_retire_connection_id(0, &cid(9));
        assert_eq!(
            err.map_err(|e| e.code),
            Err(TransportErrorCode::PROTOCOL_VIOLATION)
        );
        assert_eq!(
            set.issue_preferred_address(&mut gen),
            Err(RequestError::ZeroLength)
        );
        assert_eq!(
            set.retire_prior_to(1, &mut gen),
            Err(RequestError::ZeroLength)
        );
        Ok(())
    }

    #[test]
    fn preferred_address_is_sequence_one() -> Result<(), TransportError> {
        let mut gen = Counter(0);
        let mut set = LocalCids::new(8, &mut gen)?;
        assert_eq!(
            set.issue_preferred_address(&mut gen),
            Ok((cid(2), ResetToken::new([2; 16])))
        );
        // Already sent in the transport parameters.
        assert_eq!(set.pending_new_connection_id(), None);
        assert_eq!(set.get(1), Some((cid(2), ResetToken::new([2; 16]))));
        assert_eq!(set.get(2), None);
        assert_eq!(
            set.issue_preferred_address(&mut gen),
            Err(RequestError::InvalidSequence)
        );
        assert_eq!(set.sequence_of(&cid(2)), Some(1));
        Ok(())
    }

    #[test]
    fn retire_prior_to_replaces_every_id() -> Result<(), TransportError> {
        let mut gen = Counter(0);
        let mut set = LocalCids::new(8, &mut gen)?;
        set.set_peer_limit(2);
        set.replenish(&mut gen)?;
        send_all(&mut set);
        drain_routes(&mut set);
        assert_eq!(
            set.retire_prior_to(0, &mut gen),
            Err(RequestError::InvalidSequence)
        );
        assert_eq!(
            set.retire_prior_to(3, &mut gen),
            Err(RequestError::InvalidSequence)
        );
        assert_eq!(set.retire_prior_to(2, &mut gen), Ok(()));
        assert_eq!(set.current_retire_prior_to(), 2);
        // Two new IDs carry Retire Prior To = 2; the old ones still route.
        assert_eq!(
            set.pending_new_connection_id()
                .map(|f| (f.sequence, f.retire_prior_to)),
            Some((2, 2))
        );
        assert_eq!(send_all(&mut set), 2);
        assert_eq!(drain_routes(&mut set), (2, 0));
        assert_eq!(set.active_count(), 4);
        // Not again until the peer retired 0 and 1.
        assert_eq!(set.retire_prior_to(3, &mut gen), Err(RequestError::Busy));
        set.on_retire_connection_id(0, &cid(3))?;
        set.on_retire_connection_id(1, &cid(3))?;
        assert_eq!(drain_routes(&mut set), (0, 2));
        // Retiring only 2 leaves one slot free.
        assert_eq!(set.retire_prior_to(3, &mut gen), Ok(()));
        assert_eq!(
            set.pending_new_connection_id()
                .map(|f| (f.sequence, f.retire_prior_to)),
            Some((4, 3))
        );
        Ok(())
    }

    #[test]
    fn lost_frame_below_retire_prior_to() -> Result<(), TransportError> {
        let mut gen = Counter(0);
        let mut set = LocalCids::new(8, &mut gen)?;
        set.set_peer_limit(3);
        set.replenish(&mut gen)?;
        send_all(&mut set);
        set.retire_prior_to(2, &mut gen)
            .map_err(|_| TransportError::internal("refused"))?;
        send_all(&mut set);
        // The frame announcing 1 is lost: it goes again, with a Retire Prior
        // To no greater than its sequence number, so the peer can retire it.
        set.on_new_connection_id_lost(1);
        assert_eq!(
            set.pending_new_connection_id()
                .map(|f| (f.sequence, f.retire_prior_to)),
            Some((1, 1))
        );
        Ok(())
    }

    #[test]
    fn unsent_ids_below_retire_prior_to_are_dropped() -> Result<(), TransportError> {
        let mut gen = Counter(0);
        let mut set = LocalCids::new(8, &mut gen)?;
        set.set_peer_limit(3);
        set.replenish(&mut gen)?;
        drain_routes(&mut set);
        // Nothing sent yet: 1 and 2 are unknown to the peer.
        set.retire_prior_to(3, &mut gen)
            .map_err(|_| TransportError::internal("refused"))?;
        assert_eq!(drain_routes(&mut set), (3, 2));
        assert_eq!(set.pending_new_connection_id().map(|f| f.sequence), Some(3));
        Ok(())
    }

    /// Always returns the same ID.
    struct Stuck;

    impl Generator for Stuck {
        fn new_cid(&mut self, len: usize) -> ConnectionId {
            ConnectionId::from_slice(&[7; 20][..len]).unwrap_or(ConnectionId::EMPTY)
        }

        fn reset_token(&self, _: &ConnectionId) -> ResetToken {
            ResetToken::new([0; 16])
        }
    }

    #[test]
    fn generator_repeats_are_caught() -> Result<(), TransportError> {
        let mut set = LocalCids::new(8, &mut Stuck)?;
        let err = set.replenish(&mut Stuck);
        assert_eq!(
            err.map_err(|e| e.code),
            Err(TransportErrorCode::INTERNAL_ERROR)
        );
        assert!(LocalCids::new(21, &mut Stuck).is_err());
        Ok(())
    }
}
