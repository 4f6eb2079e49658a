// SPDX-License-Identifier: GPL-2.0

//! The streams of a connection (RFC 9000 §2–4).
//!
//! [`StreamSet`] owns every open stream, the stream count limits of both
//! sides, connection-level flow control and the send budget. Its entry
//! points are split by caller:
//!
//! - the socket layer opens, writes, reads, resets and stops streams
//!   (`app.rs`);
//! - the frame parser hands over stream frames, already decoded, and gets
//!   connection errors back (`peer.rs`);
//! - the packetizer polls control frames and stream chunks to send, copies
//!   chunk data out, and reports acknowledgements and losses
//!   (`transmit.rs`).
//!
//! Streams are kept per type (the two low ID bits) in vectors sorted by
//! stream index: streams of a type are created in index order, so creation
//! appends, lookup is a binary search, and memory follows the open streams
//! only. A stream is removed once both its parts are terminal; a peer's
//! stream then returns its MAX_STREAMS credit. Three queues track streams
//! with something to do — data to send (the [`Scheduler`]), control frames
//! to send, and data or a reset to read — and have room reserved for every
//! stream, so queueing never allocates.

mod app;
mod peer;
mod transmit;

use super::flow_control::{RecvWindow, SendCredit};
use super::limits::{IncomingStreams, OutgoingStreams};
use super::recv::RecvStream;
use super::scheduler::{Priority, Scheduler};
use super::send::SendStream;
use super::send_buf::SendBudget;
use super::{clamp_usize, Dir, Side, StreamError, StreamId, StreamState, StreamUpdate};
use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::error::TransportError;

/// The stream and flow-control limits one endpoint grants the other: the
/// `initial_max_*` transport parameters (RFC 9000 §18.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamLimits {
    /// `initial_max_data`: connection flow control.
    pub max_data: u64,
    /// `initial_max_stream_data_bidi_local`: for bidirectional streams
    /// opened by the endpoint that sets it.
    pub max_stream_data_bidi_local: u64,
    /// `initial_max_stream_data_bidi_remote`: for bidirectional streams
    /// opened by the other endpoint.
    pub max_stream_data_bidi_remote: u64,
    /// `initial_max_stream_data_uni`: for unidirectional streams opened by
    /// the other endpoint.
    pub max_stream_data_uni: u64,
    /// `initial_max_streams_bidi`.
    pub max_streams_bidi: u64,
    /// `initial_max_streams_uni`.
    pub max_streams_uni: u64,
}

impl StreamLimits {
    fn max_streams(&self, dir: Dir) -> u64 {
        match dir {
            Dir::Bi => self.max_streams_bidi,
            Dir::Uni => self.max_streams_uni,
        }
    }
}

/// How a connection's streams are set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// The limits we grant the peer, as sent in our transport parameters.
    /// The stream counts also set how many peer streams may be open at
    /// once: credit comes back as they close.
    pub local: StreamLimits,
    /// The largest a stream's receive window may grow by auto-tuning.
    pub max_stream_window: u64,
    /// The largest the connection's receive window may grow.
    pub max_data_window: u64,
    /// Bytes of memory written data may hold until acknowledged, across
    /// all streams (the socket's send buffer).
    pub send_buffer: usize,
}

/// One stream: its sending and receiving parts (a unidirectional stream
/// has only one) and its place in the queues.
#[derive(Debug)]
pub struct Stream {
    id: StreamId,
    send: Option<SendStream>,
    recv: Option<RecvStream>,
    priority: Priority,
    /// In the data scheduler.
    in_data: bool,
    /// In the control queue.
    in_control: bool,
    /// In the readable queue.
    in_readable: bool,
}

impl Stream {
    /// The stream ID.
    pub const fn id(&self) -> StreamId {
        self.id
    }

    /// The sending part, unless the stream is the peer's unidirectional.
    pub const fn send(&self) -> Option<&SendStream> {
        self.send.as_ref()
    }

    /// The receiving part, unless the stream is our unidirectional.
    pub const fn recv(&self) -> Option<&RecvStream> {
        self.recv.as_ref()
    }

    /// The scheduling priority.
    pub const fn priority(&self) -> Priority {
        self.priority
    }

    /// Whether both parts are terminal, so the stream can be forgotten.
    pub fn is_closed(&self) -> bool {
        let send_done = match &self.send {
            Some(s) => s.state().is_terminal(),
            None => true,
        };
        let recv_done = match &self.recv {
            Some(r) => r.state().is_terminal(),
            None => true,
        };
        send_done && recv_done
    }

    fn has_control(&self) -> bool {
        self.send.as_ref().is_some_and(SendStream::has_control)
            || self.recv.as_ref().is_some_and(RecvStream::has_control)
    }
}

/// The streams of a connection, with connection-level flow control.
#[derive(Debug)]
pub struct StreamSet {
    side: Side,
    config: StreamConfig,
    /// The peer's limits, once its transport parameters are known.
    peer: StreamLimits,
    /// Open streams per type (`StreamId::type_index`), sorted by index.
    streams: [Vec<Stream>; 4],
    /// Streams we open, per direction.
    outgoing: [OutgoingStreams; 2],
    /// Streams the peer opens, per direction.
    incoming: [IncomingStreams; 2],
    /// Peer streams handed out by `accept`, per direction.
    accepted: [u64; 2],
    /// MAX_DATA from the peer.
    conn_send: SendCredit,
    /// MAX_DATA we advertise.
    conn_recv: RecvWindow,
    budget: SendBudget,
    /// Streams with STREAM frames to send.
    data: Scheduler,
    /// Streams with control frames to send, first in first out.
    control: Vec<StreamId>,
    /// Streams with something to read, first in first out.
    readable: Vec<StreamId>,
}

/// The stream `id` in `streams`, if open.
fn find(streams: &[Vec<Stream>; 4], id: StreamId) -> Option<&Stream> {
    let list = streams.get(id.type_index())?;
    let at = list
        .binary_search_by_key(&id.index(), |s| s.id.index())
        .ok()?;
    list.get(at)
}

/// The stream `id` in `streams`, if open, for changing.
fn find_mut(streams: &mut [Vec<Stream>; 4], id: StreamId) -> Option<&mut Stream> {
    let list = streams.get_mut(id.type_index())?;
    let at = list
        .binary_search_by_key(&id.index(), |s| s.id.index())
        .ok()?;
    list.get_mut(at)
}

/// Appends `id` to `queue` unless `queued`; room was reserved for every
/// stream, so this does not allocate.
fn enqueue(queue: &mut Vec<StreamId>, queued: &mut bool, id: StreamId) {
    if !*queued {
        *queued = queue.push(id, GFP).is_ok();
    }
}

/// The update for a change of the sending part of `id`.
fn send_update(id: StreamId, send: &SendStream) -> StreamUpdate {
    StreamUpdate {
        id,
        state: send.state().into(),
        errcode: send.reset_code().unwrap_or(0),
        final_size: send.final_size().unwrap_or(0),
    }
}

/// The update for a change of the receiving part of `id`.
fn recv_update(id: StreamId, recv: &RecvStream) -> StreamUpdate {
    StreamUpdate {
        id,
        state: StreamState::from(recv.state()),
        errcode: recv.reset_code().unwrap_or(0),
        final_size: recv.final_size().unwrap_or(0),
    }
}

impl StreamSet {
    /// The streams of a connection where we are `side`. The peer's limits
    /// start at zero until [`set_peer_limits`](Self::set_peer_limits).
    pub fn new(side: Side, config: StreamConfig) -> Self {
        let local = config.local;
        Self {
            side,
            config,
            peer: StreamLimits::default(),
            streams: [Vec::new(), Vec::new(), Vec::new(), Vec::new()],
            outgoing: [OutgoingStreams::new(), OutgoingStreams::new()],
            incoming: [
                IncomingStreams::new(local.max_streams_bidi),
                IncomingStreams::new(local.max_streams_uni),
            ],
            accepted: [0, 0],
            conn_send: SendCredit::new(0),
            conn_recv: RecvWindow::new(local.max_data, config.max_data_window),
            budget: SendBudget::new(config.send_buffer),
            data: Scheduler::new(),
            control: Vec::new(),
            readable: Vec::new(),
        }
    }

    /// Our role.
    pub const fn side(&self) -> Side {
        self.side
    }

    /// Applies the peer's transport parameters (or, for 0-RTT, the
    /// remembered ones; limits only ever grow). Raises the credit of the
    /// streams already open.
    pub fn set_peer_limits(&mut self, limits: StreamLimits) -> Result<(), TransportError> {
        for dir in [Dir::Bi, Dir::Uni] {
            if let Some(out) = self.outgoing.get_mut(dir.index()) {
                out.set_initial(limits.max_streams(dir))?;
            }
        }
        self.conn_send.raise(limits.max_data);
        self.peer = limits;
        for list in self.streams.iter_mut() {
            for stream in list.iter_mut() {
                let credit = send_credit(self.side, &self.peer, stream.id);
                let Some(send) = stream.send.as_mut() else {
                    continue;
                };
                if send.on_max_stream_data(credit) && send.wants_to_send() && !stream.in_data {
                    stream.in_data = self.data.push(stream.id, stream.priority).is_ok();
                }
            }
        }
        Ok(())
    }

    /// The stream `id`, if open.
    pub fn get(&self, id: StreamId) -> Option<&Stream> {
        find(&self.streams, id)
    }

    /// The number of open streams.
    pub fn len(&self) -> usize {
        self.streams.iter().map(|l| l.len()).sum()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The send budget shared by all streams.
    pub const fn budget(&self) -> &SendBudget {
        &self.budget
    }

    /// Changes the send budget (`SO_SNDBUF`).
    pub fn set_send_buffer(&mut self, limit: usize) {
        self.budget.set_limit(limit);
    }

    /// Connection credit from the peer (MAX_DATA).
    pub const fn conn_send(&self) -> &SendCredit {
        &self.conn_send
    }

    /// Connection credit given to the peer.
    pub const fn conn_recv(&self) -> &RecvWindow {
        &self.conn_recv
    }

    /// The peer's current stream limit for direction `dir` (MAX_STREAMS),
    /// for `QUIC_EVENT_STREAM_MAX_STREAM`.
    pub fn peer_max_streams(&self, dir: Dir) -> u64 {
        self.outgoing
            .get(dir.index())
            .map_or(0, OutgoingStreams::max)
    }

    /// Opens our stream `id`, and every lower-numbered one of its type not
    /// yet open (RFC 9000 §2.1).
    pub fn open(&mut self, id: StreamId) -> Result<(), StreamError> {
        if id.initiator() != self.side {
            return Err(StreamError::InvalidState);
        }
        let out = self
            .outgoing
            .get(id.dir().index())
            .ok_or(StreamError::InvalidState)?;
        let count = id.index().saturating_add(1).saturating_sub(out.opened());
        // Reserve before committing, so a failed allocation opens nothing.
        self.reserve(id.type_index(), count)?;
        let out = self
            .outgoing
            .get_mut(id.dir().index())
            .ok_or(StreamError::InvalidState)?;
        let new = out.open_to(id.index())?;
        self.create(self.side, id.dir(), new.start, new.end);
        Ok(())
    }

    /// Opens our next stream of direction `dir` (stream ID -1 in the socket
    /// API) and returns its ID.
    pub fn open_next(&mut self, dir: Dir) -> Result<StreamId, StreamError> {
        let index = self
            .outgoing
            .get(dir.index())
            .map_or(0, OutgoingStreams::opened);
        let id = StreamId::new(self.side, dir, index).ok_or(StreamError::StreamLimit)?;
        self.open(id)?;
        Ok(id)
    }

    /// The next stream the peer opened in direction `dir` that was not yet
    /// returned. It may already be closed again if the peer reset it.
    pub fn accept(&mut self, dir: Dir) -> Option<StreamId> {
        let opened = self.incoming.get(dir.index())?.opened();
        let next = self.accepted.get_mut(dir.index())?;
        if *next >= opened {
            return None;
        }
        let id = StreamId::new(self.side.peer(), dir, *next)?;
        *next += 1;
        Some(id)
    }

    /// Makes room for `count` more streams of type `t` in every structure
    /// that tracks streams.
    fn reserve(&mut self, t: usize, count: u64) -> Result<(), AllocError> {
        let count = clamp_usize(count);
        let total = self.len().saturating_add(count);
        if let Some(list) = self.streams.get_mut(t) {
            list.reserve(count, GFP)?;
        }
        self.data.reserve_for(total)?;
        for queue in [&mut self.control, &mut self.readable] {
            queue.reserve(total.saturating_sub(queue.len()), GFP)?;
        }
        Ok(())
    }

    /// Creates the streams of `initiator` and `dir` with indices
    /// `first..end`, after [`reserve`](Self::reserve).
    fn create(&mut self, initiator: Side, dir: Dir, first: u64, end: u64) {
        for index in first..end {
            let Some(id) = StreamId::new(initiator, dir, index) else {
                return;
            };
            let stream = self.new_stream(id);
            if let Some(list) = self.streams.get_mut(id.type_index()) {
                // Within the reservation: does not allocate.
                let _ = list.push(stream, GFP);
            }
        }
    }

    /// A new stream `id` with the parts its type has.
    fn new_stream(&self, id: StreamId) -> Stream {
        let local = &self.config.local;
        let window = match (id.dir(), id.initiator() == self.side) {
            (Dir::Bi, true) => local.max_stream_data_bidi_local,
            (Dir::Bi, false) => local.max_stream_data_bidi_remote,
            (Dir::Uni, _) => local.max_stream_data_uni,
        };
        let max_window = self.config.max_stream_window.max(window);
        Stream {
            id,
            send: (!id.is_recv_only(self.side))
                .then(|| SendStream::new(send_credit(self.side, &self.peer, id))),
            recv: (!id.is_send_only(self.side)).then(|| RecvStream::new(window, max_window)),
            priority: Priority::DEFAULT,
            in_data: false,
            in_control: false,
            in_readable: false,
        }
    }

    /// Puts `id` in the data scheduler if it has data to send.
    fn queue_data(&mut self, id: StreamId) {
        let Some(stream) = find_mut(&mut self.streams, id) else {
            return;
        };
        let wants = stream.send.as_ref().is_some_and(SendStream::wants_to_send);
        if wants && !stream.in_data {
            stream.in_data = self.data.push(id, stream.priority).is_ok();
        }
    }

    /// Puts `id` in the control queue if it has control frames to send.
    fn queue_control(&mut self, id: StreamId) {
        if let Some(stream) = find_mut(&mut self.streams, id) {
            if stream.has_control() {
                enqueue(&mut self.control, &mut stream.in_control, id);
            }
        }
    }

    /// Puts `id` in the readable queue if a read would return something.
    fn queue_readable(&mut self, id: StreamId) {
        if let Some(stream) = find_mut(&mut self.streams, id) {
            if stream.recv.as_ref().is_some_and(RecvStream::is_readable) {
                enqueue(&mut self.readable, &mut stream.in_readable, id);
            }
        }
    }

    /// Queues whatever `id` now has to do, and removes it if it is closed.
    fn refresh(&mut self, id: StreamId) {
        self.queue_data(id);
        self.queue_control(id);
        self.queue_readable(id);
        self.remove_if_closed(id);
    }

    /// Forgets `id` if both parts are terminal, returning a peer stream's
    /// credit.
    fn remove_if_closed(&mut self, id: StreamId) {
        let Some(list) = self.streams.get_mut(id.type_index()) else {
            return;
        };
        let Ok(at) = list.binary_search_by_key(&id.index(), |s| s.id.index()) else {
            return;
        };
        if !list.get(at).is_some_and(Stream::is_closed) {
            return;
        }
        let Ok(stream) = list.remove(at) else {
            return;
        };
        if stream.in_data {
            self.data.remove(id);
        }
        if stream.in_control {
            self.control.retain(|q| *q != id);
        }
        if stream.in_readable {
            self.readable.retain(|q| *q != id);
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-4.6
        //# Implementations might choose to increase limits as streams are
        //# closed, to keep the number of streams available to peers roughly
        //# consistent.
        if id.initiator() != self.side {
            if let Some(incoming) = self.incoming.get_mut(id.dir().index()) {
                incoming.on_closed();
            }
        }
    }
}

/// The credit the peer's transport parameters give us on stream `id`.
fn send_credit(side: Side, peer: &StreamLimits, id: StreamId) -> u64 {
    match (id.dir(), id.initiator() == side) {
        (Dir::Bi, true) => peer.max_stream_data_bidi_remote,
        (Dir::Bi, false) => peer.max_stream_data_bidi_local,
        (Dir::Uni, _) => peer.max_stream_data_uni,
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_stream_set))]
mod tests {
    use super::*;

    fn limits(streams: u64) -> StreamLimits {
        StreamLimits {
            max_data: 1000,
            max_stream_data_bidi_local: 100,
            max_stream_data_bidi_remote: 200,
            max_stream_data_uni: 300,
            max_streams_bidi: streams,
            max_streams_uni: streams,
        }
    }

    fn set(side: Side) -> StreamSet {
        StreamSet::new(
            side,
            StreamConfig {
                local: limits(4),
                max_stream_window: 1000,
                max_data_window: 10_000,
                send_buffer: 1 << 16,
            },
        )
    }

    fn id(v: u64) -> StreamId {
        StreamId(v)
    }

    #[test]
    fn open_needs_peer_limits() -> Result<(), TransportError> {
        let mut s = set(Side::Client);
        assert_eq!(s.open_next(Dir::Bi), Err(StreamError::StreamLimit));
        s.set_peer_limits(limits(2))?;
        assert_eq!(s.open_next(Dir::Bi), Ok(id(0)));
        assert_eq!(s.open_next(Dir::Uni), Ok(id(2)));
        assert_eq!(s.open_next(Dir::Bi), Ok(id(4)));
        assert_eq!(s.open_next(Dir::Bi), Err(StreamError::StreamLimit));
        assert_eq!(s.peer_max_streams(Dir::Bi), 2);
        assert_eq!(s.len(), 3);
        Ok(())
    }

    #[test]
    fn open_given_id_opens_lower_ones() -> Result<(), TransportError> {
        let mut s = set(Side::Server);
        s.set_peer_limits(limits(10))?;
        assert_eq!(s.open(id(11)), Ok(()));
        // Server uni streams 3, 7, 11 and 15: the first three open.
        for v in [3, 7, 11] {
            assert!(s.get(id(v)).is_some());
        }
        assert_eq!(s.open(id(7)), Err(StreamError::InvalidState));
        // Client's ID.
        assert_eq!(s.open(id(4)), Err(StreamError::InvalidState));
        assert_eq!(s.open_next(Dir::Uni), Ok(id(15)));
        Ok(())
    }

    #[test]
    fn stream_parts_and_credit_per_type() -> Result<(), TransportError> {
        let mut s = set(Side::Client);
        // 0-RTT: remembered stream counts, no stream credit yet.
        s.set_peer_limits(StreamLimits {
            max_streams_uni: 1,
            ..StreamLimits::default()
        })?;
        s.open_next(Dir::Uni)
            .map_err(|_| TransportError::internal("open"))?;
        let uni = s.get(id(2));
        assert!(uni.is_some_and(|st| st.send().is_some() && st.recv().is_none()));
        let credit = s
            .get(id(2))
            .and_then(|st| st.send())
            .map(|t| t.credit().limit());
        assert_eq!(credit, Some(0));
        // Credit arrives with the peer's parameters: uni uses max_stream_data_uni.
        s.set_peer_limits(limits(1))?;
        let credit = s
            .get(id(2))
            .and_then(|st| st.send())
            .map(|t| t.credit().limit());
        assert_eq!(credit, Some(300));
        s.open_next(Dir::Bi)
            .map_err(|_| TransportError::internal("open"))?;
        let bidi = s.get(id(0));
        // Our bidi stream: the peer's bidi_remote, our bidi_local.
        assert_eq!(
            bidi.and_then(|st| st.send()).map(|t| t.credit().limit()),
            Some(200)
        );
        assert_eq!(
            bidi.and_then(|st| st.recv()).map(|r| r.window().limit()),
            Some(100)
        );
        assert_eq!(s.conn_send().limit(), 1000);
        assert_eq!(s.conn_recv().limit(), 1000);
        Ok(())
    }

    #[test]
    fn peer_stream_limit_above_2_60() {
        let mut s = set(Side::Client);
        let mut bad = limits(1);
        bad.max_streams_uni = (1 << 60) + 1;
        let err = s.set_peer_limits(bad).map_err(|e| e.code);
        assert_eq!(
            err,
            Err(crate::protocol::error::TransportErrorCode::TRANSPORT_PARAMETER_ERROR)
        );
    }

    #[test]
    fn accept_in_order() -> Result<(), TransportError> {
        let mut s = set(Side::Server);
        assert_eq!(s.accept(Dir::Bi), None);
        s.on_stream_frame(id(4), 0, b"x", false)?;
        assert_eq!(s.accept(Dir::Bi), Some(id(0)));
        assert_eq!(s.accept(Dir::Bi), Some(id(4)));
        assert_eq!(s.accept(Dir::Bi), None);
        assert_eq!(s.accept(Dir::Uni), None);
        Ok(())
    }
}
