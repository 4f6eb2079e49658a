// SPDX-License-Identifier: GPL-2.0

//! What the endpoint decides for a datagram: the outcome of
//! [`Router::classify`](crate::protocol::endpoint::demux::Router::classify),
//! with everything the caller needs to act on it.

use crate::protocol::cid::ConnectionId;
use crate::protocol::endpoint::alpn::Selection;
use crate::protocol::endpoint::initial::InitialError;
use crate::protocol::endpoint::pending::PendingId;
use crate::protocol::error::TransportErrorCode;
use crate::protocol::packet::version::Version;
use core::net::SocketAddr;

/// Why a datagram is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Not even a header.
    Malformed,
    /// No connection matches, and no stateless answer is due.
    UnknownConnection,
    /// A long header of an unsupported version in a datagram too small to
    /// answer (RFC 9000 §5.2.2).
    UnsupportedVersion,
    /// An Initial in a datagram under 1200 bytes (RFC 9000 §14.1).
    InitialTooSmall,
    /// A first Initial whose Destination Connection ID is under 8 bytes.
    ShortDcid,
    /// A 0-RTT or Handshake packet without a connection.
    NoConnectionForPacket,
    /// An Initial, but nobody listens.
    NotListening,
    /// A stateless answer was due, but its rate limit is spent.
    RateLimited,
    /// The Initial packet could not be read.
    BadInitial(InitialError),
    /// The pending ClientHello of this client failed or has all its
    /// datagrams already.
    PendingFailed,
    /// No room for more pending ClientHellos (or no memory).
    Overloaded,
}

/// A new connection to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewConnection<L> {
    /// The listener it is for.
    pub listener: L,
    /// The listener's ALPN choice.
    pub alpn: Selection,
    /// The version of the client's Initial.
    pub version: Version,
    /// The client's address.
    pub remote: SocketAddr,
    /// The Destination Connection ID of this Initial: the Initial keys come
    /// from it.
    pub dcid: ConnectionId,
    /// The client's Source Connection ID.
    pub scid: ConnectionId,
    /// The original_destination_connection_id transport parameter: the
    /// DCID of the client's very first Initial (before any Retry).
    pub odcid: ConnectionId,
    /// The retry_source_connection_id transport parameter, after a Retry.
    pub retry_scid: Option<ConnectionId>,
    /// Whether a token validated the client's address (no amplification
    /// limit then).
    pub address_validated: bool,
    /// The pending ClientHello whose held datagrams come first.
    pub pending: Option<PendingId>,
}

impl<L> NewConnection<L> {
    /// What `Connection::accept` needs from the decision.
    pub fn incoming(&self) -> crate::protocol::connection::Incoming {
        crate::protocol::connection::Incoming {
            version: self.version,
            dcid: self.dcid,
            scid: self.scid,
            original_dcid: self.odcid,
            retry_scid: self.retry_scid,
            address_validated: self.address_validated,
        }
    }
}

/// A Retry to send ([`crate::protocol::endpoint::response::write_retry`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryRequest {
    /// The version of the client's Initial.
    pub version: Version,
    /// The client's address, which the token binds.
    pub remote: SocketAddr,
    /// The client's Source Connection ID: the Retry's destination.
    pub dcid: ConnectionId,
    /// The client's Destination Connection ID, covered by the integrity tag
    /// and kept in the token.
    pub odcid: ConnectionId,
}

/// A connection attempt to refuse with an Initial CONNECTION_CLOSE
/// ([`crate::protocol::endpoint::response::write_refusal`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The version of the client's Initial.
    pub version: Version,
    /// The client's Source Connection ID: the close's destination.
    pub dcid: ConnectionId,
    /// The client's Destination Connection ID, which keys the Initial.
    pub client_dcid: ConnectionId,
    /// The error code.
    pub code: TransportErrorCode,
    /// The pending ClientHello whose held datagrams are to be freed.
    pub pending: Option<PendingId>,
}

/// What to do with a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision<'d, H, L> {
    /// Deliver to this connection.
    Existing(H),
    /// Create a connection for a listener, then deliver to it.
    NewConnection(NewConnection<L>),
    /// Hold the datagram: its ClientHello is not complete yet.
    Buffered(PendingId),
    /// Answer with Version Negotiation
    /// ([`crate::protocol::endpoint::response::write_version_negotiation`]).
    SendVersionNegotiation {
        /// The client's Source Connection ID.
        dcid: &'d [u8],
        /// The client's Destination Connection ID.
        scid: &'d [u8],
    },
    /// Answer with a Retry.
    SendRetry(RetryRequest),
    /// Answer with an Initial CONNECTION_CLOSE.
    Refuse(Refusal),
    /// Answer with a stateless reset
    /// ([`crate::protocol::endpoint::response::write_stateless_reset`]).
    StatelessReset {
        /// The unknown connection ID, whose reset token to use.
        dcid: ConnectionId,
        /// The size of the datagram, which bounds the reset's.
        trigger_len: usize,
    },
    /// Drop it.
    Drop(DropReason),
}
