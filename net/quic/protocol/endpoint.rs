// SPDX-License-Identifier: GPL-2.0

//! The endpoint: what sits in front of connections on one UDP address and
//! port (RFC 9000 §5.2, §6, §8.1, §10.3, §17.2.5; RFC 9001 §5.2, §5.8; RFC
//! 9369; RFC 7301; draft-lxin-quic-socket-apis §4.2).
//!
//! Every datagram goes through [`demux::Router::classify`], which answers
//! with a [`demux::Decision`]:
//!
//! - packets of known connections are routed by connection ID, by the
//!   client's first Destination Connection ID and address, or by address
//!   alone for zero-length connection IDs ([`routes`]);
//! - a client's first Initial is decrypted with the Initial keys of its
//!   Destination Connection ID ([`initial`]), its ClientHello reassembled
//!   ([`assembler`], possibly across datagrams: [`pending`]) and parsed
//!   ([`client_hello`]), and its ALPN list picks the listening socket
//!   ([`alpn`], [`listener`]);
//! - address validation uses Retry and NEW_TOKEN tokens sealed with a key
//!   of the caller's ([`token`]);
//! - packets nobody can take get stateless answers, rate limited
//!   ([`limiter`]) and written into caller memory ([`response`]): Version
//!   Negotiation, Retry, stateless reset, or an Initial CONNECTION_CLOSE
//!   refusing the connection.
//!
//! Like the rest of the core, the endpoint does no I/O, reads no clock and
//! has no random number generator: the caller passes `now`, the route hash
//! key, the token keys and nonces, new connection IDs and reset tokens. It
//! runs in the receive path, so its work per datagram is bounded (one
//! Initial key derivation, at most eight coalesced packets, a ClientHello
//! of bounded size) and its allocations are fallible and bounded by its
//! configuration ([`demux::RouterConfig`]).

//! # Driving it
//!
//! The socket glue (and `tools/quic/test-support/src/server.rs`, the
//! reference driver the host tests run behind) does, for one UDP socket:
//!
//! 1. For every datagram, [`demux::Router::classify`] it, passing the
//!    source address; then act on the [`demux::Decision`]:
//!    - `Existing(handle)`: `Connection::handle_datagram` with the local
//!      address the datagram was sent to and the ECN codepoint of its IP
//!      header (`IP_RECVTOS` / `IPV6_RECVTCLASS`);
//!    - `NewConnection`: `Connection::accept` with the decision's fields,
//!      [`demux::Router::register`] the handle, queue it on its
//!      listener (dequeued by `accept()`), replay the datagrams held for
//!      its `pending` ClientHello, then deliver this one;
//!    - `Buffered`: hold the datagram, keyed by its pending id, until the
//!      decision that creates the connection or
//!      [`demux::Router::poll_expired_pending`] drops it;
//!    - `SendVersionNegotiation`, `SendRetry`, `Refuse`, `StatelessReset`:
//!      write the answer with [`response`] (a reset's token is the
//!      generator's for that connection ID: every connection of the
//!      endpoint shares its reset key) and send it from the address the
//!      datagram arrived at;
//!    - `Drop`: nothing.
//! 2. After every call into a connection, drain
//!    `Connection::poll_route_change` into [`demux::Router::routes`]; once
//!    the handshake is confirmed (or the connection closed during it),
//!    remove its [`routes::RouteKey::Initial`] route and call
//!    [`demux::Router::handshake_finished`].
//! 3. Once `Connection::is_drained`, remove every route still pointing at
//!    it (`Connection::routed_cids`) and free it; its peer's later packets
//!    are unknown and get stateless resets.
//!
//! A server with a preferred address (RFC 9000 §9.6) receives on both
//! addresses (a wildcard socket or one per address, sharing the router):
//! packets sent to the preferred address carry connection IDs routed like
//! any other.

pub mod alpn;
pub mod assembler;
pub mod client_hello;
pub mod decision;
pub mod demux;
pub mod hash;
pub mod initial;
pub mod limiter;
pub mod listener;
pub mod pending;
pub mod response;
pub mod routes;
pub mod token;
