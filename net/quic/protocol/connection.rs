// SPDX-License-Identifier: GPL-2.0

//! The QUIC connection state machine (RFC 9000, RFC 9001, RFC 9002, with
//! RFC 9221 datagrams, RFC 9287 grease, RFC 9368 compatible version
//! negotiation and RFC 9369 version 2).
//!
//! [`Connection`] ties the building blocks together: packet protection and
//! keys per encryption level, ACK generation, loss recovery and congestion
//! control, streams and flow control, connection IDs and paths. It does no
//! I/O, reads no clock and runs no TLS.
//!
//! # The driving contract
//!
//! The caller (the socket glue in the kernel, a test harness on the host)
//! owns the sockets, the clock, the timer and the TLS library, and drives
//! the connection with these calls, in any order, from one context at a
//! time:
//!
//! - **Create** a client with [`Connection::connect`]: it installs the
//!   Initial keys and sends nothing until TLS hands over its ClientHello.
//!   A server is created with [`Connection::accept`] from the first Initial
//!   packet (the endpoint has parsed it and decided on Retry and address
//!   validation), then fed that datagram. Both return the connection in a
//!   [`Box`] (the kernel's `KBox`), built on the heap part by part: keep
//!   it there, never move it out onto the stack.
//! - **Input**: [`Connection::handle_datagram`] for every UDP datagram
//!   routed to the connection; [`Connection::handle_timeout`] when the
//!   timer fires; application commands (streams, datagrams, close, key
//!   update, migration, socket options).
//! - **TLS** (RFC 9001 §4.1): after input, read the peer's CRYPTO data with
//!   [`Connection::crypto_recv`] per level (announced by
//!   [`Event::CryptoDataReadable`]) and feed it to TLS; pass what TLS
//!   writes to [`Connection::crypto_send`] at the level in force when it was
//!   written; install each traffic secret with
//!   [`Connection::install_secret`] as TLS derives it; give TLS
//!   [`Connection::local_transport_parameters`] and hand back the peer's
//!   with [`Connection::set_peer_transport_parameters`]; call
//!   [`Connection::tls_handshake_done`] when TLS reports the handshake
//!   complete. Session tickets arrive as 1-RTT CRYPTO data.
//! - **Version Negotiation** (RFC 9000 §6.2, RFC 9368): on
//!   [`Event::VersionNegotiation`] a client calls
//!   [`Connection::restart_after_version_negotiation`] and starts TLS over
//!   in the version the event names: a new session, new
//!   [`Connection::local_transport_parameters`], a new ClientHello. Until
//!   then the abandoned attempt sends nothing.
//! - **Address validation tokens** (RFC 9000 §8.1.3): a server's endpoint
//!   mints a token for the client's address and hands it to
//!   [`Connection::send_new_token`] once it sees
//!   [`Event::HandshakeConfirmed`]; a client reads it with
//!   [`Connection::new_token`] on [`Event::NewToken`] and gives it to
//!   [`Connection::set_token`] of a later connection to the same server,
//!   before that connection's first [`Connection::poll_transmit`]. A client
//!   that took a Retry keeps the Retry's token instead.
//! - **Output**: after any input, drain, in this order,
//!   1. [`Connection::poll_transmit`] until it returns `None`, sending each
//!      [`Transmit`] (several GSO segments of `segment_size` bytes when
//!      asked for by [`Config::max_gso_segments`]);
//!   2. [`Connection::poll_timeout`], and arm the one timer at that
//!      instant (or stop it on `None`);
//!   3. [`Connection::poll_event`] until `None`, and
//!      [`Connection::poll_route_change`] for the endpoint's connection ID
//!      table.
//! - **ECN** (RFC 9000 §13.4): pass the codepoint of each datagram's IP
//!   header to `handle_datagram` (the TOS or traffic class byte) and set
//!   [`Transmit::ecn`] on what is sent; all the packets of one
//!   [`Transmit`] were counted with that codepoint, so a GSO batch keeps
//!   one.
//! - **Free** the connection once [`Connection::is_drained`], after
//!   removing its routes from the endpoint ([`Connection::routed_cids`]).
//!   How the endpoint creates, routes and frees connections is described
//!   in [`crate::protocol::endpoint`].
//!
//! The connection owns its crypto [`Provider`] (a zero-sized handle to
//! `kernel::crypto` or RustCrypto) and its connection ID [`Generator`]
//! (the endpoint's randomness and reset-token key): new IDs, PATH_CHALLENGE
//! data, grease values and the latency spin bit's random choices come from
//! the generator, never from the core.
//!
//! Nothing here blocks or panics on peer input; allocation failures close
//! the connection with INTERNAL_ERROR. Sending a packet does not allocate
//! once the per-connection pools have grown to the flight size.
//!
//! # Stack use
//!
//! The constructors run on a kernel stack of 16 KiB, in a system call
//! (`connect`) or in softirq (a server's first Initial, from the UDP
//! receive path), and so do all the calls above. A connection's state is
//! about 7 KiB, so the [`Connection`] value holds its large parts (paths,
//! loss recovery, configuration, keys, streams, CRYPTO streams, packet
//! number spaces, peer connection IDs, transport parameters, timers) in
//! boxes of their own and stays under 1 KiB. Each part is built alone,
//! in a frame of its own ([`boxed`]), so a constructor never holds more
//! than one large part (at most about 1.5 KiB) on the stack, and the
//! connection is boxed last. No function of the core, nor any of its tests,
//! has a frame over 2 KiB (`tools/quic/kdev/stack-frames.py` checks the
//! kernel object, `tools/quic/kdev/host-stack-frames.sh` the host build).
//!
//! # Files
//!
//! One concern per file: [`config`], [`state`], [`event`], [`timer`],
//! `keys` and `record` (per-level keys and sent-frame records), [`tls`]
//! (CRYPTO data, secrets, handshake progress), `params` (transport
//! parameters and their §7.3 and RFC 9368 checks), `recv` (datagrams in),
//! `frames` (frame dispatch), `settle` (acknowledgement and loss of sent
//! packets), `preferred` (the server's preferred address, §9.6), `send`
//! and `builder` (packets out), `close`, `timers` (expiry), [`app`] (the
//! application's commands), `datagram`, `negotiation` (Version Negotiation
//! and its downgrade checks), `token` (NEW_TOKEN and Initial tokens) and
//! `spin` (the latency spin bit).

use crate::protocol::ack::{AckTracker, EcnCodepoint};
use crate::protocol::alloc::{boxed, try_boxed, Box, Vec, GFP};
use crate::protocol::cid::local::LocalCids;
use crate::protocol::cid::peer::PeerCids;
use crate::protocol::cid::{ConnectionId, Generator};
use crate::protocol::crypto::{CryptoError, IntegrityLimit, Provider};
use crate::protocol::error::TransportError;
use crate::protocol::packet::version::Version;
use crate::protocol::path::migration::Paths;
use crate::protocol::path::SocketAddr;
use crate::protocol::recovery::{self, Manager, PacketNumberSpace, Settled};
use crate::protocol::side::Side;
use crate::protocol::stream::crypto::CryptoStream;
use crate::protocol::stream::send_buf::SendBudget;
use crate::protocol::stream::set::StreamSet;
use crate::protocol::time::Instant;
use crate::protocol::transport_params::TransportParameters;
use core::time::Duration;

pub mod app;
pub mod config;
pub mod event;
pub mod record;
pub mod state;
pub mod timer;
pub mod tls;

mod builder;
mod close;
mod datagram;
mod frames;
mod keys;
mod negotiation;
mod params;
mod preferred;
mod recv;
mod send;
mod settle;
mod spin;
mod timers;
mod token;

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST, fuzzing))]
pub mod testing;

pub use config::{Config, Versions};
pub use datagram::DatagramError;
pub use event::Event;
pub use keys::Direction;
pub use state::{CloseCause, ConnectionError, State};
pub use timer::{Timer, TimerTable};

use close::Closing;
use datagram::Datagrams;
use event::Events;
use keys::KeySet;
use record::{FramePool, SentRecord};

/// One datagram (or a GSO batch of them) written by
/// [`Connection::poll_transmit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Bytes written at the start of the caller's buffer.
    pub len: usize,
    /// Where to send it.
    pub remote: SocketAddr,
    /// Which local address to send it from.
    pub local: SocketAddr,
    /// The ECN codepoint for the IP header.
    pub ecn: EcnCodepoint,
    /// With several datagrams, the size of each but the last (GSO).
    pub segment_size: Option<usize>,
}

/// What the endpoint learnt from a client's first Initial packet, to
/// create the server side of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Incoming {
    /// The version of the Initial packet.
    pub version: Version,
    /// Its Destination Connection ID: the Initial keys derive from it.
    pub dcid: ConnectionId,
    /// Its Source Connection ID: the client's.
    pub scid: ConnectionId,
    /// The Destination Connection ID of the client's very first Initial:
    /// `dcid`, or the one before the Retry when the token is a Retry token.
    pub original_dcid: ConnectionId,
    /// The Source Connection ID of the Retry this endpoint sent, if the
    /// token came from one.
    pub retry_scid: Option<ConnectionId>,
    /// Whether the token proved the client's address (RFC 9000 §8.1.2).
    pub address_validated: bool,
}

/// Why a connection could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// The configuration is not usable.
    Config(TransportError),
    /// Key derivation failed.
    Crypto(CryptoError),
    /// Out of memory.
    OutOfMemory,
}

impl From<crate::protocol::alloc::AllocError> for ConnectError {
    fn from(_: crate::protocol::alloc::AllocError) -> Self {
        ConnectError::OutOfMemory
    }
}

/// One packet number space: its receiver state and sender numbering.
#[derive(Debug)]
pub(crate) struct Space {
    pub(crate) ack: AckTracker,
    pub(crate) next_pn: u64,
    /// Ack-eliciting packets to send now: PTO probes, keep-alive, or a
    /// PING requested to elicit an ACK.
    pub(crate) ping: u8,
}

/// Where the handshake stands (RFC 9001 §4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Handshake {
    /// TLS reported the handshake complete.
    pub(crate) tls_done: bool,
    /// TLS done and both 1-RTT secrets installed (§4.1.1).
    pub(crate) complete: bool,
    /// §4.1.2.
    pub(crate) confirmed: bool,
    /// A server's HANDSHAKE_DONE waits to be sent (or resent).
    pub(crate) done_pending: bool,
    /// A Handshake packet was sent (client: discard Initial keys).
    pub(crate) sent_handshake: bool,
    /// A Handshake packet was processed (server: discard Initial keys).
    pub(crate) received_handshake: bool,
    /// The client received a packet from the server (any long header
    /// packet): the server's SCID is known.
    pub(crate) heard_from_server: bool,
    /// The client processed a Retry.
    pub(crate) retried: bool,
    /// 0-RTT state.
    pub(crate) zero_rtt: ZeroRtt,
    /// Incompatible version negotiation (client).
    pub(crate) negotiation: negotiation::Negotiation,
}

/// The 0-RTT state (RFC 9001 §4.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ZeroRtt {
    /// Not attempted.
    #[default]
    None,
    /// Client: early keys installed, 0-RTT packets may go out.
    Sending,
    /// Server: early keys installed, 0-RTT packets are accepted.
    Accepting,
    /// Accepted by the server (client learns it when 1-RTT is ready).
    Accepted,
    /// Rejected: 0-RTT packets are dropped (server) or their data resent as
    /// 1-RTT (client).
    Rejected,
}

/// The connection IDs the handshake authenticates (RFC 9000 §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HandshakeCids {
    /// The client's first Destination Connection ID.
    pub(crate) original_dcid: ConnectionId,
    /// The Destination Connection ID Initial keys derive from: the
    /// original one, or the Retry's Source Connection ID.
    pub(crate) initial_dcid: ConnectionId,
    /// The peer's Source Connection ID from its first packet.
    pub(crate) peer_initial_scid: Option<ConnectionId>,
    /// The Source Connection ID of the Retry (client: received, server:
    /// sent).
    pub(crate) retry_scid: Option<ConnectionId>,
}

/// A QUIC connection. See the module documentation for how to drive it.
///
/// Its large parts (configuration, keys, CRYPTO streams, packet number
/// spaces, loss recovery, streams, paths, peer connection IDs, transport
/// parameters, timers) are boxed one by one, so that the connection itself
/// stays under 1 KiB and no constructor holds more than one large part on
/// the kernel stack at a time. The constructors return it boxed.
pub struct Connection<P: Provider, G: Generator> {
    pub(crate) provider: P,
    pub(crate) gen: G,
    pub(crate) side: Side,
    pub(crate) config: Box<Config>,
    pub(crate) state: State,
    /// The version long headers are sent with and keys derive from.
    pub(crate) version: Version,
    /// The version of the client's first Initial packet.
    pub(crate) original_version: Version,
    pub(crate) handshake: Handshake,
    pub(crate) keys: Box<KeySet<P>>,
    /// CRYPTO streams of the Initial, Handshake and 1-RTT levels.
    pub(crate) crypto: Box<[CryptoStream; 3]>,
    pub(crate) crypto_budget: SendBudget,
    pub(crate) spaces: Box<[Space; 3]>,
    pub(crate) recovery: Box<Manager<SentRecord>>,
    pub(crate) pool: FramePool,
    /// Packets settled by loss recovery, waiting to be processed.
    pub(crate) settled: Vec<Settled<SentRecord>>,
    pub(crate) streams: Box<StreamSet>,
    pub(crate) paths: Box<Paths>,
    pub(crate) local_cids: LocalCids,
    pub(crate) peer_cids: Box<PeerCids>,
    pub(crate) cids: HandshakeCids,
    /// A client's token for Initial packets (Retry or NEW_TOKEN).
    pub(crate) token: Vec<u8>,
    /// Client: the last NEW_TOKEN received; server: the token to send in
    /// NEW_TOKEN.
    pub(crate) new_token: Vec<u8>,
    /// A server's NEW_TOKEN waits to be sent (or resent).
    pub(crate) new_token_pending: bool,
    pub(crate) peer_params: Box<Option<TransportParameters>>,
    /// The peer's parameters remembered from an earlier connection, for
    /// 0-RTT (client).
    pub(crate) remembered_params: Box<Option<TransportParameters>>,
    /// Local parameters were handed to TLS: they cannot change any more.
    pub(crate) local_params_sent: bool,
    pub(crate) timers: Box<TimerTable>,
    pub(crate) events: Events,
    pub(crate) datagrams: Datagrams,
    pub(crate) closing: Option<Closing>,
    /// The negotiated idle timeout; zero for none.
    pub(crate) idle_timeout: Duration,
    /// The last time something was sent, for keep-alive.
    pub(crate) last_sent: Instant,
    pub(crate) integrity: IntegrityLimit,
    /// The peer's max_datagram_frame_size; zero for none.
    pub(crate) peer_max_datagram_frame: u64,
    /// Xorshift state for grease decisions (seeded from the generator).
    pub(crate) grease_state: u64,
    /// Packets waiting for the keys of their level.
    pub(crate) undecryptable: Vec<recv::Buffered>,
    /// A version offered by a Version Negotiation packet (client).
    pub(crate) vn_offer: Option<Version>,
    /// Why the connection closed.
    pub(crate) close_reason: Option<ConnectionError>,
    /// The idle timer was restarted by a send since the last receipt.
    pub(crate) idle_armed_by_send: bool,
}

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Creates a client connection from `local` to `remote`: picks the
    /// Destination and Source Connection IDs from `gen` and installs the
    /// Initial keys. Nothing is sent until TLS writes its ClientHello with
    /// [`Connection::crypto_send`].
    ///
    /// The connection is returned boxed: it is built part by part on the
    /// heap and never crosses the stack whole.
    pub fn connect(
        config: Config,
        provider: P,
        mut gen: G,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Box<Self>, ConnectError> {
        config
            .validate(Side::Client)
            .map_err(ConnectError::Config)?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-7.2
        //# When an Initial packet is sent by a client that has not previously
        //# received an Initial or Retry packet from the server, the client
        //# populates the Destination Connection ID field with an unpredictable
        //# value.  This Destination Connection ID MUST be at least 8 bytes in length.
        let dcid = gen.new_cid(config.cid_len.max(8));
        let version = config.versions.first();
        let cids = HandshakeCids {
            original_dcid: dcid,
            initial_dcid: dcid,
            peer_initial_scid: None,
            retry_scid: None,
        };
        let keys = try_boxed(|| {
            KeySet::new(&provider, version, dcid.as_slice(), Side::Client)
                .map_err(ConnectError::Crypto)
        })?;
        Self::new(
            config,
            provider,
            gen,
            Side::Client,
            now,
            local,
            remote,
            cids,
            keys,
            version,
        )
    }

    /// Creates a server connection for the client whose first Initial
    /// packet `incoming` describes. Feed that datagram to
    /// [`Connection::handle_datagram`] next. Boxed, like
    /// [`Connection::connect`].
    pub fn accept(
        config: Config,
        provider: P,
        gen: G,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        incoming: &Incoming,
    ) -> Result<Box<Self>, ConnectError> {
        config
            .validate(Side::Server)
            .map_err(ConnectError::Config)?;
        let cids = HandshakeCids {
            original_dcid: incoming.original_dcid,
            initial_dcid: incoming.dcid,
            peer_initial_scid: Some(incoming.scid),
            retry_scid: incoming.retry_scid,
        };
        let keys = try_boxed(|| {
            KeySet::new(
                &provider,
                incoming.version,
                incoming.dcid.as_slice(),
                Side::Server,
            )
            .map_err(ConnectError::Crypto)
        })?;
        let mut conn = Self::new(
            config,
            provider,
            gen,
            Side::Server,
            now,
            local,
            remote,
            cids,
            keys,
            incoming.version,
        )?;
        conn.peer_cids.on_handshake_source_cid(incoming.scid);
        conn.issue_preferred_address_cid()?;
        conn.choose_server_version();
        if incoming.address_validated {
            conn.on_peer_address_validated(now);
        }
        Ok(conn)
    }

    /// Builds the connection on the heap, one part at a time: each large
    /// part is made by [`boxed`] in a frame of its own, and the connection
    /// itself (pointers and small state) is the last thing boxed.
    #[allow(clippy::too_many_arguments)]
    fn new(
        config: Config,
        provider: P,
        mut gen: G,
        side: Side,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        cids: HandshakeCids,
        keys: Box<KeySet<P>>,
        version: Version,
    ) -> Result<Box<Self>, ConnectError> {
        let config = boxed(|| config)?;
        let local_cids = LocalCids::new(config.cid_len, &mut gen).map_err(ConnectError::Config)?;
        let peer_limit = config.transport.active_connection_id_limit.into_inner();
        let peer_initial = match side {
            Side::Client => cids.initial_dcid,
            Side::Server => cids.peer_initial_scid.unwrap_or(ConnectionId::EMPTY),
        };
        let peer_cids = try_boxed(|| PeerCids::new(peer_initial, peer_limit))?;
        let ack = config.ack_config();
        let space = |s| Space {
            ack: AckTracker::new(s, ack),
            next_pn: 0,
            ping: 0,
        };
        let spaces = boxed(|| {
            [
                space(PacketNumberSpace::Initial),
                space(PacketNumberSpace::Handshake),
                space(PacketNumberSpace::ApplicationData),
            ]
        })?;
        let recovery = boxed(|| {
            Manager::new(recovery::Config {
                is_server: side.is_server(),
                initial_rtt: config.initial_rtt,
                algorithm: config.congestion,
                max_datagram_size: crate::protocol::path::pmtud::BASE_PLPMTU as u16,
                ecn: config.ecn,
            })
        })?;
        let streams = boxed(|| StreamSet::new(side, config.stream_config()))?;
        let paths = Paths::new(side, local, remote, config.pmtud)?;
        let crypto_buffer = config.crypto_buffer;
        let crypto = boxed(|| {
            [
                CryptoStream::new(crypto_buffer),
                CryptoStream::new(crypto_buffer),
                CryptoStream::new(crypto_buffer),
            ]
        })?;
        let peer_params = boxed(|| None)?;
        let remembered_params = boxed(|| None)?;
        let timers = boxed(TimerTable::new)?;
        let seed = u64::from_be_bytes(gen.new_cid(8).as_slice().try_into().unwrap_or([0x5a; 8]));
        let mut settled = Vec::new();
        settled.reserve(32, GFP)?;
        let conn = Self {
            streams,
            paths,
            crypto,
            crypto_budget: SendBudget::new(1 << 20),
            spaces,
            recovery,
            pool: FramePool::new(),
            settled,
            local_cids,
            peer_cids,
            cids,
            token: Vec::new(),
            new_token: Vec::new(),
            new_token_pending: false,
            peer_params,
            remembered_params,
            local_params_sent: false,
            timers,
            events: Events::new(),
            datagrams: Datagrams::new(config.datagram_recv_queue, config.datagram_send_queue),
            closing: None,
            idle_timeout: config.idle_timeout(),
            last_sent: now,
            integrity: IntegrityLimit::new(),
            peer_max_datagram_frame: 0,
            grease_state: seed | 1,
            undecryptable: Vec::new(),
            vn_offer: None,
            close_reason: None,
            idle_armed_by_send: false,
            provider,
            gen,
            side,
            config,
            state: State::Handshake,
            version,
            original_version: version,
            handshake: Handshake::default(),
            keys,
        };
        let mut conn = Box::new(conn, GFP)?;
        conn.reset_idle_timer(now);
        Ok(conn)
    }

    /// Client or server.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The life-cycle state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The version in use (after compatible negotiation, the negotiated
    /// one).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the handshake completed (RFC 9001 §4.1.1).
    pub fn is_handshake_complete(&self) -> bool {
        self.handshake.complete
    }

    /// Whether the handshake is confirmed (RFC 9001 §4.1.2).
    pub fn is_handshake_confirmed(&self) -> bool {
        self.handshake.confirmed
    }

    /// Whether the connection is gone and can be freed.
    pub fn is_drained(&self) -> bool {
        self.state.is_drained()
    }

    /// Whether the connection is closing, draining or closed.
    pub fn is_closed(&self) -> bool {
        self.state.is_closed()
    }

    /// The streams, for inspection.
    pub fn streams(&self) -> &StreamSet {
        &self.streams
    }

    /// The paths, for inspection.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Loss recovery and congestion control, for inspection.
    pub fn recovery(&self) -> &Manager<SentRecord> {
        &self.recovery
    }

    /// The Source Connection ID of the handshake (this endpoint's first).
    pub fn local_cid(&self) -> ConnectionId {
        self.local_cids
            .first()
            .map_or(ConnectionId::EMPTY, |(_, id)| *id)
    }

    /// The Destination Connection ID packets are sent with now.
    pub fn remote_cid(&self) -> ConnectionId {
        *self.peer_cids.current()
    }

    /// The client's original Destination Connection ID.
    pub fn original_dcid(&self) -> ConnectionId {
        self.cids.original_dcid
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// The next change to the endpoint's connection ID → connection table.
    pub fn poll_route_change(&mut self) -> Option<crate::protocol::cid::local::RouteChange> {
        self.local_cids.poll_route_change()
    }

    /// The connection IDs routed here, to remove them all when the
    /// connection is freed.
    pub fn routed_cids(&self) -> impl Iterator<Item = &ConnectionId> + '_ {
        self.local_cids.routed()
    }

    /// When [`Connection::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The current PTO of the application space, base of the closing and
    /// draining periods and of key discard.
    pub(crate) fn pto(&self) -> Duration {
        self.recovery.pto_period(PacketNumberSpace::ApplicationData)
    }

    /// A pseudo-random number for grease decisions; not for secrets.
    pub(crate) fn grease_random(&mut self) -> u64 {
        let mut s = self.grease_state;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        self.grease_state = s;
        s
    }

    /// The server validated the client's address: no more amplification
    /// limit on the handshake path.
    pub(crate) fn on_peer_address_validated(&mut self, now: Instant) {
        self.paths.on_peer_address_validated();
        self.recovery.set_amplification_blocked(false, now);
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection))]
mod tests {
    use super::testing::{config, Pair, TestResult, CLIENT, SERVER};
    use super::*;
    use crate::protocol::crypto::null::NullProvider;
    use crate::protocol::stream::Dir;

    /// The connection is small and its large parts are boxed, each small
    /// enough to be built alone on a kernel stack.
    #[test]
    fn connection_is_small_and_its_parts_are_boxed() {
        use core::mem::size_of;
        assert!(size_of::<super::testing::TestConn>() <= 1024);
        let ptr = size_of::<usize>();
        assert_eq!(size_of::<Box<Config>>(), ptr);
        assert_eq!(size_of::<Box<KeySet<NullProvider>>>(), ptr);
        assert_eq!(size_of::<Box<[CryptoStream; 3]>>(), ptr);
        assert_eq!(size_of::<Box<[Space; 3]>>(), ptr);
        assert_eq!(size_of::<Box<Manager<SentRecord>>>(), ptr);
        assert_eq!(size_of::<Box<StreamSet>>(), ptr);
        assert_eq!(size_of::<Box<Paths>>(), ptr);
        assert_eq!(size_of::<Box<PeerCids>>(), ptr);
        assert_eq!(size_of::<Box<Option<TransportParameters>>>(), ptr);
        assert_eq!(size_of::<Box<TimerTable>>(), ptr);
        assert!(size_of::<Config>() <= 1536);
        assert!(size_of::<KeySet<NullProvider>>() <= 1536);
        assert!(size_of::<[CryptoStream; 3]>() <= 1536);
        assert!(size_of::<[Space; 3]>() <= 1536);
        assert!(size_of::<Manager<SentRecord>>() <= 1536);
        assert!(size_of::<StreamSet>() <= 1536);
        assert!(size_of::<Paths>() <= 1536);
        assert!(size_of::<PeerCids>() <= 1536);
        assert!(size_of::<Option<TransportParameters>>() <= 1536);
        assert!(size_of::<TimerTable>() <= 1536);
        // The test harness keeps its connections boxed, too.
        assert!(size_of::<Pair>() <= 1024);
    }

    #[test]
    fn handshake_completes_and_confirms() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        assert!(p.saw(CLIENT, &Event::Connected));
        assert!(p.saw(SERVER, &Event::Connected));
        assert!(p.saw(CLIENT, &Event::HandshakeConfirmed));
        assert!(p.saw(SERVER, &Event::HandshakeConfirmed));
        assert_eq!(p.conn(CLIENT)?.state(), State::Established);
        assert_eq!(p.version(), Some(Version::V1));
        // Initial and Handshake keys are gone on both sides.
        for side in [CLIENT, SERVER] {
            let c = p.conn(side)?;
            assert!(c.keys.is_discarded(crate::protocol::crypto::Level::Initial));
            assert!(c
                .keys
                .is_discarded(crate::protocol::crypto::Level::Handshake));
        }
        Ok(())
    }

    #[test]
    fn stream_transfer() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let c = p.conn(CLIENT)?;
        let id = c.stream_open(Dir::Bi).map_err(|_| "open")?;
        let mut data = Vec::new();
        data.extend_with(20_000, 0u8, GFP).map_err(|_| "alloc")?;
        for (i, b) in data.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(c.stream_write(id, &data, true), Ok(20_000));
        let mut got = Vec::new();
        let mut buf = Vec::new();
        buf.extend_with(4096, 0u8, GFP).map_err(|_| "alloc")?;
        let mut fin = false;
        p.run_until(Duration::from_secs(10), |p| {
            let now = p.now;
            if let Ok(s) = p.conn(SERVER) {
                while let Ok(r) = s.stream_read(now, id, buf.as_mut_slice()) {
                    let _ = got.extend_from_slice(buf.get(..r.len).unwrap_or(&[]), GFP);
                    fin |= r.fin;
                    if r.len == 0 {
                        break;
                    }
                }
            }
            fin
        })?;
        assert_eq!(got.len(), data.len());
        assert!(got.as_slice() == data.as_slice());
        assert!(p.saw(SERVER, &Event::StreamOpened(id)));
        Ok(())
    }

    #[test]
    fn handshake_survives_loss() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        // Every third datagram is lost, the first flights included.
        // A third of the datagrams are lost, the first flights included.
        p.loss_percent = 33;
        p.handshake()?;
        assert!(p.tls(CLIENT).done && p.tls(SERVER).done);
        Ok(())
    }

    #[test]
    fn application_close_reaches_the_peer() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let now = p.now;
        p.conn(SERVER)?.close(now, 7, 0, b"done", true);
        p.run_until(Duration::from_secs(10), |p| {
            p.conns.iter().all(|c| c.is_drained())
        })?;
        let err = p.conn(CLIENT)?.close_error().copied().ok_or("no error")?;
        assert_eq!(err.code, 7);
        assert!(err.application && err.by_peer);
        assert_eq!(err.reason.as_bytes(), b"done");
        let own = p.conn(SERVER)?.close_error().copied().ok_or("no error")?;
        assert!(!own.by_peer);
        Ok(())
    }

    #[test]
    fn idle_timeout_closes_silently() -> TestResult {
        let mut c = config();
        c.transport.max_idle_timeout = crate::protocol::varint::VarInt::from_u32(1000);
        let mut p = Pair::new(c, c)?;
        p.handshake()?;
        p.run_for(Duration::from_millis(300))?;
        let sent = p.bytes_sent;
        p.run_until(Duration::from_secs(5), |p| {
            p.conns.iter().all(|c| c.is_drained())
        })?;
        let err = p.conn(CLIENT)?.close_error().copied().ok_or("no error")?;
        assert_eq!(err.cause, CloseCause::IdleTimeout);
        // Silent: nothing was sent to close.
        assert_eq!(p.bytes_sent, sent);
        Ok(())
    }

    #[test]
    fn one_rtt_crypto_data_after_the_handshake() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        p.run_until(Duration::from_secs(2), |p| p.tls(CLIENT).tickets == 1)?;
        Ok(())
    }
}
