// SPDX-License-Identifier: GPL-2.0

//! The interface both stacks offer the scenarios: a sans-I/O endpoint
//! with one connection (datagrams in and out, a timer) and the
//! application calls the scenarios need. Observations specific to one
//! stack (quinn's frame counters, our connection's paths and events) are
//! reached through [`Peer::as_ours`] and [`Peer::as_quinn`].

use crate::ours::OurPeer;
use crate::quinn::QuinnPeer;
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::time::Instant;

/// Which implementation a peer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// The net/quic core.
    Ours,
    /// quinn-proto.
    Quinn,
}

/// A datagram a peer sends.
pub use quic_test_support::server::Outgoing;

/// How a connection ended, as one side reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// The idle timeout expired (silently).
    IdleTimeout,
    /// An application CONNECTION_CLOSE with this code, and whether the
    /// peer sent it.
    Application {
        /// The error code.
        code: u64,
        /// Whether the peer closed.
        by_peer: bool,
    },
    /// A transport CONNECTION_CLOSE with this code.
    Transport {
        /// The error code.
        code: u64,
        /// Whether the peer closed.
        by_peer: bool,
    },
    /// Anything else (stateless reset, version negotiation, no path).
    Other,
}

/// Why a stream write took nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// Flow control or the send buffer: retry later.
    Blocked,
    /// The peer sent STOP_SENDING with this code.
    Stopped(u64),
    /// The stream cannot be written (unknown, finished, reset, closed).
    Invalid,
}

/// One endpoint with one connection, driven by the pair.
pub trait Peer {
    /// Which implementation this is.
    fn stack(&self) -> Stack;
    /// The address this peer sends from.
    fn local_addr(&self) -> SocketAddr;

    /// A datagram arrived at `local` from `remote`, its IP header
    /// carrying the ECN codepoint `ecn`.
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        bytes: &[u8],
    );
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing>;
    /// When [`Peer::handle_timeout`] is due.
    fn poll_timeout(&mut self) -> Option<Instant>;
    /// The timer fired.
    fn handle_timeout(&mut self, now: Instant);
    /// Lets TLS and the application react to what arrived: read CRYPTO
    /// data, events, streams and datagrams.
    fn drive(&mut self, now: Instant);

    /// Whether the handshake is complete (and confirmed) and the
    /// connection open.
    fn is_established(&self) -> bool;
    /// How the connection ended, once it did.
    fn closed(&self) -> Option<Closed>;
    /// Whether the connection is gone and its state freed.
    fn is_drained(&self) -> bool;
    /// The negotiated ALPN protocol.
    fn alpn(&self) -> Option<Vec<u8>>;
    /// 32 bytes of TLS keying material (RFC 5705 exporter with a fixed
    /// label): equal on both sides only if they share one TLS session.
    fn exporter(&self) -> Option<Vec<u8>>;
    /// Whether 0-RTT was accepted (client: learnt at the end of the
    /// handshake; server: decided on the ClientHello).
    fn accepted_0rtt(&self) -> bool;
    /// Connections this peer created (a server counts accepted ones).
    fn connections(&self) -> usize;
    /// Retry packets this peer sent.
    fn retries_sent(&self) -> usize;

    /// Opens a stream of ours.
    fn open(&mut self, bidi: bool) -> Option<u64>;
    /// Writes to a stream; returns how much was taken.
    fn write(&mut self, id: u64, data: &[u8]) -> Result<usize, WriteError>;
    /// Ends a stream after what was written.
    fn finish(&mut self, id: u64);
    /// Resets the sending part of a stream.
    fn reset(&mut self, id: u64, code: u64);
    /// Asks the peer to stop sending on a stream.
    fn stop_sending(&mut self, id: u64, code: u64);
    /// Streams with data (or a FIN or reset) received, by ID.
    fn received_ids(&self) -> Vec<u64>;
    /// What was received on a stream so far, and whether FIN arrived.
    fn received(&self, id: u64) -> Option<(&[u8], bool)>;
    /// The code of a RESET_STREAM received on a stream.
    fn reset_received(&self, id: u64) -> Option<u64>;
    /// The code of a STOP_SENDING received on a stream.
    fn stop_sending_received(&self, id: u64) -> Option<u64>;
    /// Whether the application reads its streams.
    fn set_reading(&mut self, on: bool);

    /// Queues a datagram (RFC 9221); false if refused.
    fn send_datagram(&mut self, data: &[u8]) -> bool;
    /// The largest datagram the peer accepts now.
    fn max_datagram(&mut self) -> Option<usize>;
    /// Datagrams received, in order.
    fn datagrams(&self) -> &[Vec<u8>];

    /// Starts a key update; false if refused.
    fn key_update(&mut self) -> bool;
    /// Moves this client to a new local address (active migration).
    fn migrate(&mut self, now: Instant, local: SocketAddr) -> bool;
    /// Closes the connection with an application error code.
    fn close(&mut self, now: Instant, code: u64);

    /// Our stack's peer, for its own observations.
    fn as_ours(&self) -> Option<&OurPeer> {
        None
    }
    /// quinn's peer, for its own observations.
    fn as_quinn(&self) -> Option<&QuinnPeer> {
        None
    }
    /// Mutable access to our stack's peer.
    fn as_ours_mut(&mut self) -> Option<&mut OurPeer> {
        None
    }
    /// Mutable access to quinn's peer.
    fn as_quinn_mut(&mut self) -> Option<&mut QuinnPeer> {
        None
    }
}

/// The exporter label of [`Peer::exporter`].
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-quic-interop";
