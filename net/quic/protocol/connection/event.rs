// SPDX-License-Identifier: GPL-2.0

//! What the connection tells the socket layer ([`Event`]), drained with
//! `Connection::poll_event` after every call into the connection.
//!
//! Events map onto the UAPI's `QUIC_EVENT_*` notifications, onto socket
//! state changes (ESTABLISHED, readable, writable) and onto the TLS glue
//! (CRYPTO data to read). They carry no borrowed data: stream data, CRYPTO
//! bytes, datagrams and tokens stay in the connection until read.

use crate::protocol::alloc::{Vec, GFP};
use crate::protocol::connection::state::ConnectionError;
use crate::protocol::crypto::Level;
use crate::protocol::path::event::MigrationKind;
use crate::protocol::stream::{Dir, StreamId, StreamUpdate};

/// Something the connection reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed: both 1-RTT secrets are installed and TLS
    /// finished (the socket becomes ESTABLISHED).
    Connected,
    /// The handshake is confirmed (RFC 9001 §4.1.2): the client received
    /// HANDSHAKE_DONE, or the server completed the handshake.
    HandshakeConfirmed,
    /// The peer sent CRYPTO data at `Level` that TLS can read now.
    CryptoDataReadable(Level),
    /// The peer opened a stream.
    StreamOpened(StreamId),
    /// Stream data (or its end, or a reset) can be read.
    StreamReadable(StreamId),
    /// A stream that was blocked on flow control or the send buffer can take
    /// more data.
    StreamWritable(StreamId),
    /// A stream changed state (`QUIC_EVENT_STREAM_UPDATE`).
    StreamUpdate(StreamUpdate),
    /// The peer raised a stream's flow control limit
    /// (`QUIC_EVENT_STREAM_MAX_DATA`).
    StreamMaxData {
        /// The stream.
        id: StreamId,
        /// The new limit.
        max: u64,
    },
    /// The peer raised the connection's flow control limit.
    MaxData(u64),
    /// The peer allowed more streams (`QUIC_EVENT_STREAM_MAX_STREAM`).
    MaxStreams {
        /// The direction.
        dir: Dir,
        /// The new cumulative count.
        count: u64,
    },
    /// A DATAGRAM frame was queued for reading.
    DatagramReceived,
    /// The peer connection ID in use changed (`QUIC_EVENT_CONNECTION_ID`).
    ConnectionIdChanged {
        /// The sequence number of the new destination connection ID.
        sequence: u64,
    },
    /// The active path changed (`QUIC_EVENT_CONNECTION_MIGRATION`, whose
    /// `local_migration` is [`MigrationKind::is_local`]).
    Migrated {
        /// Why: this endpoint moved (to a new local address or to the
        /// server's preferred address), or the peer did.
        kind: MigrationKind,
    },
    /// The 1-RTT keys changed phase (`QUIC_EVENT_KEY_UPDATE`).
    KeyUpdate {
        /// The new Key Phase bit.
        phase: bool,
    },
    /// The server sent a NEW_TOKEN; read it with `Connection::new_token`.
    NewToken,
    /// The server does not speak the version of the client's first flight
    /// and offered `version` in a Version Negotiation packet (RFC 9000
    /// §6.2): the attempt is abandoned. Call
    /// `Connection::restart_after_version_negotiation`, then start a new
    /// TLS session in `version`.
    VersionNegotiation {
        /// The version of the new attempt.
        version: crate::protocol::packet::version::Version,
    },
    /// The connection closed, or started closing: no more data moves.
    Closed(ConnectionError),
}

/// How many events may wait; past that, events that can be rebuilt from
/// state (readable, writable, limits) are dropped, never `Closed`.
const MAX_EVENTS: usize = 256;

/// The pending events, oldest first.
#[derive(Debug)]
pub(crate) struct Events {
    queue: Vec<Event>,
    head: usize,
}

impl Events {
    pub(crate) const fn new() -> Self {
        Self {
            queue: Vec::new(),
            head: 0,
        }
    }

    /// Queues `event`, unless the same event already waits (readable and
    /// writable notifications repeat otherwise).
    pub(crate) fn push(&mut self, event: Event) {
        let pending = self.queue.get(self.head..).unwrap_or(&[]);
        let dedup = matches!(
            event,
            Event::StreamReadable(_)
                | Event::StreamWritable(_)
                | Event::CryptoDataReadable(_)
                | Event::DatagramReceived
        );
        if dedup && pending.contains(&event) {
            return;
        }
        if pending.len() >= MAX_EVENTS && !matches!(event, Event::Closed(_)) {
            return;
        }
        // Out of memory loses the event; the state it reports stays readable.
        let _ = self.queue.push(event, GFP);
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        let event = *self.queue.get(self.head)?;
        self.head += 1;
        if self.head == self.queue.len() {
            self.queue.clear();
            self.head = 0;
        }
        Some(event)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_event))]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_dedup() {
        let mut e = Events::new();
        let id = StreamId::from_u64(4);
        assert!(id.is_some());
        let Some(id) = id else { return };
        e.push(Event::Connected);
        e.push(Event::StreamReadable(id));
        e.push(Event::StreamReadable(id));
        e.push(Event::MaxData(10));
        assert_eq!(e.pop(), Some(Event::Connected));
        assert_eq!(e.pop(), Some(Event::StreamReadable(id)));
        assert_eq!(e.pop(), Some(Event::MaxData(10)));
        assert_eq!(e.pop(), None);
        // Once read, the same event can be queued again.
        e.push(Event::StreamReadable(id));
        assert_eq!(e.pop(), Some(Event::StreamReadable(id)));
    }

    #[test]
    fn bounded_except_close() {
        let mut e = Events::new();
        for i in 0..(MAX_EVENTS as u64 + 10) {
            e.push(Event::MaxData(i));
        }
        e.push(Event::Closed(ConnectionError::idle_timeout()));
        let mut n = 0;
        let mut last = None;
        while let Some(ev) = e.pop() {
            n += 1;
            last = Some(ev);
        }
        assert_eq!(n, MAX_EVENTS + 1);
        assert_eq!(last, Some(Event::Closed(ConnectionError::idle_timeout())));
    }
}
