// SPDX-License-Identifier: GPL-2.0

//! Test helpers shared by the connection's unit tests (host and KUnit) and
//! the `connection` fuzz target (`cfg(fuzzing)`, set by its build).
//!
//! - [`TestGen`]: a deterministic connection ID generator;
//! - [`FakeTls`]: a scripted stand-in for TLS 1.3 that exchanges fixed
//!   handshake messages carrying the real transport parameters, installs
//!   fixed secrets at the right moments and reports completion, so that a
//!   full handshake runs over [`NullProvider`] without any cryptography;
//! - [`Pair`]: a client and a server connected by an in-memory link with a
//!   virtual clock, a fixed one-way delay and optional loss. Each datagram
//!   (GSO batches are split) keeps its addresses, so the server may be
//!   reached at a second address ([`SERVER_PREFERRED_ADDR`]) and an
//!   address may be made unreachable, and its ECN codepoint, which the
//!   link may clear or mark CE ([`EcnPath`]);
//! - [`seal_one_rtt_frames`]: a 1-RTT packet carrying arbitrary frame bytes,
//!   as a connection would seal it, to reach frame processing past packet
//!   protection.
//!
//! Everything large lives on the heap: KUnit tests run on a 16 KiB stack.
//! Connections are always boxed ([`BoxedConn`]), never held by value.

use crate::protocol::ack::EcnCodepoint;
use crate::protocol::alloc::{Box, Vec, GFP};
use crate::protocol::cid::reset::ResetToken;
use crate::protocol::cid::{ConnectionId, Generator};
use crate::protocol::codec::Writer;
use crate::protocol::connection::record::SentRecord;
use crate::protocol::connection::{Config, Connection, Direction, Event, Incoming, Transmit};
use crate::protocol::crypto::null::NullProvider;
use crate::protocol::crypto::{CipherSuite, Level, SAMPLE_LEN, TAG_LEN};
use crate::protocol::packet::header::ShortHeader;
use crate::protocol::packet::number::PacketNumberLen;
use crate::protocol::packet::protection::seal_one_rtt;
use crate::protocol::packet::version::Version;
use crate::protocol::packet::version_negotiation::LongInvariant;
use crate::protocol::path::SocketAddr;
use crate::protocol::recovery::sent::SentPacket;
use crate::protocol::recovery::PacketNumberSpace;
use crate::protocol::side::Side;
use crate::protocol::stream::Dir;
use crate::protocol::test_rng::XorShift64;
use crate::protocol::time::Instant;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;

/// The result of a test: a static message on failure.
pub type TestResult<T = ()> = Result<T, &'static str>;

/// A connection over the null provider and the test generator.
pub type TestConn = Connection<NullProvider, TestGen>;

/// A test connection on the heap, as the constructors return it.
pub type BoxedConn = Box<TestConn>;

/// The client's address.
pub const CLIENT_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 50000));
/// The server's address.
pub const SERVER_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 443));
/// The server's second address, for its preferred_address.
pub const SERVER_PREFERRED_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 2), 443));

/// Connection IDs `[tag, n, n, ...]`; reset tokens repeat the last byte.
#[derive(Clone, Copy, Debug)]
pub struct TestGen {
    tag: u8,
    n: u8,
}

impl TestGen {
    /// A generator whose IDs start with `tag`.
    pub const fn new(tag: u8) -> Self {
        Self { tag, n: 0 }
    }
}

impl Generator for TestGen {
    fn new_cid(&mut self, len: usize) -> ConnectionId {
        self.n = self.n.wrapping_add(1);
        let mut bytes = [self.n; ConnectionId::MAX_LEN];
        bytes[0] = self.tag;
        ConnectionId::from_slice(bytes.get(..len).unwrap_or(&[])).unwrap_or(ConnectionId::EMPTY)
    }

    fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
        let last = cid.as_slice().last().copied().unwrap_or(0);
        ResetToken::new([last ^ self.tag; ResetToken::LEN])
    }
}

/// The configuration the tests use: small windows, no grease.
pub fn config() -> Config {
    let mut c = Config::new();
    c.grease_transport_parameter = false;
    c.ecn = false;
    c
}

/// A fresh client.
pub fn client() -> TestResult<BoxedConn> {
    client_with(config())
}

/// A fresh client with `config`.
pub fn client_with(config: Config) -> TestResult<BoxedConn> {
    Connection::connect(
        config,
        NullProvider,
        TestGen::new(0xc0),
        Instant::ZERO,
        CLIENT_ADDR,
        SERVER_ADDR,
    )
    .map_err(|_| "connect")
}

/// The server for `client`'s first Initial, as the endpoint would create it.
pub fn server_for(client: &TestConn) -> TestResult<BoxedConn> {
    server_with(client, config())
}

/// The server for `client`'s first Initial, with `config`.
pub fn server_with(client: &TestConn, config: Config) -> TestResult<BoxedConn> {
    let incoming = Incoming {
        version: client.version(),
        dcid: client.remote_cid(),
        scid: client.local_cid(),
        original_dcid: client.original_dcid(),
        retry_scid: None,
        address_validated: false,
    };
    accept(&incoming, config)
}

/// A server accepting `incoming`.
pub fn accept(incoming: &Incoming, config: Config) -> TestResult<BoxedConn> {
    Connection::accept(
        config,
        NullProvider,
        TestGen::new(0x5e),
        Instant::ZERO,
        SERVER_ADDR,
        CLIENT_ADDR,
        incoming,
    )
    .map_err(|_| "accept")
}

/// What a client's first datagram says, for [`accept`].
pub fn incoming_from(datagram: &[u8]) -> TestResult<Incoming> {
    let (inv, _) = LongInvariant::decode(datagram).map_err(|_| "not a long header")?;
    let dcid = ConnectionId::from_slice(inv.dcid).map_err(|_| "dcid")?;
    Ok(Incoming {
        version: inv.version,
        dcid,
        scid: ConnectionId::from_slice(inv.scid).map_err(|_| "scid")?,
        original_dcid: dcid,
        retry_scid: None,
        address_validated: false,
    })
}

/// Seals `frames` into a 1-RTT packet in `out` as `conn` would send it at
/// `now`: to its peer's current connection ID, under its current keys and
/// Key Phase, with its next packet number, padded so that header
/// protection can sample it. `conn` records the packet as sent, neither
/// ack-eliciting nor in flight and with no frames to retransmit, so that
/// the peer's acknowledgment of it is valid. Returns the length of the
/// packet, or an error if `conn` has no 1-RTT keys or `out` is too short.
pub fn seal_one_rtt_frames(
    conn: &mut TestConn,
    now: Instant,
    frames: &[u8],
    out: &mut [u8],
) -> TestResult<usize> {
    let space = PacketNumberSpace::ApplicationData;
    let dcid = conn.remote_cid();
    let pn = conn.spaces.get(space.index()).ok_or("space")?.next_pn;
    let pn_len = PacketNumberLen::for_packet(pn, conn.recovery.largest_acked(space));
    let keys = conn.keys.one_rtt.as_mut().ok_or("no 1-RTT keys")?;
    let mut w = Writer::new(out);
    let layout = ShortHeader {
        dcid,
        pn,
        pn_len,
        spin: false,
        key_phase: keys.key_phase(),
        fixed_bit: true,
    }
    .encode(&mut w)
    .map_err(|_| "header")?;
    w.put_bytes(frames).map_err(|_| "frames")?;
    let min = layout.min_payload_len(TAG_LEN, SAMPLE_LEN);
    for _ in frames.len()..min {
        w.put_u8(0).map_err(|_| "padding")?;
    }
    w.reserve(TAG_LEN).map_err(|_| "tag")?;
    let len = w.len();
    let packet = out.get_mut(..len).ok_or("len")?;
    seal_one_rtt(packet, &layout, keys).map_err(|_| "seal")?;
    if let Some(s) = conn.spaces.get_mut(space.index()) {
        s.next_pn = s.next_pn.saturating_add(1);
    }
    let record = SentRecord {
        first: 0,
        len: 0,
        path: conn.paths.active().id(),
        pmtu_probe: false,
    };
    let sent = SentPacket {
        time_sent: now,
        size: u16::try_from(len).map_err(|_| "len")?,
        ack_eliciting: false,
        in_flight: false,
        ecn: EcnCodepoint::NotEct,
        payload: record,
    };
    conn.recovery
        .on_packet_sent(space, pn, sent)
        .map_err(|_| "record")?;
    Ok(len)
}

/// Handshake message types of the fake TLS.
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const ENCRYPTED_EXTENSIONS: u8 = 8;
const FINISHED: u8 = 20;
const NEW_SESSION_TICKET: u8 = 4;

/// The fixed secrets: (client's, server's).
const HANDSHAKE_SECRETS: ([u8; 32], [u8; 32]) = ([0x11; 32], [0x22; 32]);
const ONE_RTT_SECRETS: ([u8; 32], [u8; 32]) = ([0x33; 32], [0x44; 32]);
const SUITE: CipherSuite = CipherSuite::Aes128GcmSha256;

/// A scripted TLS 1.3 stand-in. Messages are `type, length (2 bytes),
/// body`; ClientHello and EncryptedExtensions carry the transport
/// parameters.
#[derive(Debug)]
pub struct FakeTls {
    side: Side,
    /// Bytes read but not yet parsed, per level (Initial, Handshake, 1-RTT).
    pending: [Vec<u8>; 3],
    /// Whether the handshake finished.
    pub done: bool,
    /// Session tickets received (client).
    pub tickets: u32,
}

impl FakeTls {
    /// TLS for `side`.
    pub const fn new(side: Side) -> Self {
        Self {
            side,
            pending: [Vec::new(), Vec::new(), Vec::new()],
            done: false,
            tickets: 0,
        }
    }

    /// Writes a message at `level`.
    fn write(conn: &mut TestConn, level: Level, ty: u8, body: &[u8]) -> TestResult {
        let len = u16::try_from(body.len()).map_err(|_| "message too long")?;
        let header = [ty, (len >> 8) as u8, len as u8];
        conn.crypto_send(level, &header)
            .map_err(|_| "crypto_send")?;
        conn.crypto_send(level, body).map_err(|_| "crypto_send")?;
        Ok(())
    }

    fn params(conn: &mut TestConn) -> TestResult<Vec<u8>> {
        let mut buf = Vec::new();
        buf.extend_with(512, 0u8, GFP).map_err(|_| "alloc")?;
        let n = conn
            .local_transport_parameters(buf.as_mut_slice())
            .map_err(|_| "params")?;
        buf.truncate(n);
        Ok(buf)
    }

    fn install(
        conn: &mut TestConn,
        now: Instant,
        level: Level,
        secrets: ([u8; 32], [u8; 32]),
    ) -> TestResult {
        let (client, server) = secrets;
        let (send, recv) = match conn.side() {
            Side::Client => (client, server),
            Side::Server => (server, client),
        };
        conn.install_secret(now, level, Direction::Send, SUITE, &send)
            .map_err(|_| "install send secret")?;
        conn.install_secret(now, level, Direction::Recv, SUITE, &recv)
            .map_err(|_| "install recv secret")
    }

    /// Starts the handshake: the client writes its ClientHello.
    pub fn start(&mut self, conn: &mut TestConn) -> TestResult {
        if self.side == Side::Client {
            let params = Self::params(conn)?;
            Self::write(conn, Level::Initial, CLIENT_HELLO, &params)?;
        }
        Ok(())
    }

    /// Reads whatever CRYPTO data arrived and reacts to complete messages.
    pub fn drive(&mut self, conn: &mut TestConn, now: Instant) -> TestResult {
        let mut chunk = Vec::new();
        chunk.extend_with(256, 0u8, GFP).map_err(|_| "alloc")?;
        for (i, level) in [Level::Initial, Level::Handshake, Level::OneRtt]
            .into_iter()
            .enumerate()
        {
            loop {
                let n = conn
                    .crypto_recv(level, chunk.as_mut_slice())
                    .map_err(|_| "crypto_recv")?;
                if n == 0 {
                    break;
                }
                self.pending[i]
                    .extend_from_slice(chunk.get(..n).unwrap_or(&[]), GFP)
                    .map_err(|_| "alloc")?;
            }
            while let Some((ty, body)) = self.take_message(i)? {
                self.on_message(conn, now, ty, &body)?;
            }
        }
        Ok(())
    }

    fn take_message(&mut self, i: usize) -> TestResult<Option<(u8, Vec<u8>)>> {
        let p = &mut self.pending[i];
        if p.len() < 3 {
            return Ok(None);
        }
        let len = usize::from(p[1]) << 8 | usize::from(p[2]);
        if p.len() < 3 + len {
            return Ok(None);
        }
        let ty = p[0];
        let mut body = Vec::new();
        body.extend_from_slice(p.get(3..3 + len).unwrap_or(&[]), GFP)
            .map_err(|_| "alloc")?;
        let rest_len = p.len() - 3 - len;
        p.as_mut_slice().copy_within(3 + len.., 0);
        p.truncate(rest_len);
        Ok(Some((ty, body)))
    }

    fn on_message(&mut self, conn: &mut TestConn, now: Instant, ty: u8, body: &[u8]) -> TestResult {
        match (self.side, ty) {
            (Side::Server, CLIENT_HELLO) => {
                conn.set_peer_transport_parameters(now, body)
                    .map_err(|_| "client parameters")?;
                Self::write(conn, Level::Initial, SERVER_HELLO, &[])?;
                Self::install(conn, now, Level::Handshake, HANDSHAKE_SECRETS)?;
                let params = Self::params(conn)?;
                Self::write(conn, Level::Handshake, ENCRYPTED_EXTENSIONS, &params)?;
                Self::write(conn, Level::Handshake, FINISHED, &[])?;
                Self::install(conn, now, Level::OneRtt, ONE_RTT_SECRETS)?;
            }
            (Side::Client, SERVER_HELLO) => {
                Self::install(conn, now, Level::Handshake, HANDSHAKE_SECRETS)?;
            }
            (Side::Client, ENCRYPTED_EXTENSIONS) => {
                conn.set_peer_transport_parameters(now, body)
                    .map_err(|_| "server parameters")?;
            }
            (Side::Client, FINISHED) => {
                Self::install(conn, now, Level::OneRtt, ONE_RTT_SECRETS)?;
                Self::write(conn, Level::Handshake, FINISHED, &[])?;
                self.done = true;
                conn.tls_handshake_done(now);
            }
            (Side::Server, FINISHED) => {
                self.done = true;
                conn.tls_handshake_done(now);
                Self::write(conn, Level::OneRtt, NEW_SESSION_TICKET, b"ticket")?;
            }
            (Side::Client, NEW_SESSION_TICKET) => self.tickets += 1,
            _ => return Err("unexpected handshake message"),
        }
        Ok(())
    }
}

/// A datagram on the link.
#[derive(Debug)]
struct InFlight {
    to_server: bool,
    from: SocketAddr,
    to: SocketAddr,
    ecn: EcnCodepoint,
    at: Instant,
    bytes: Vec<u8>,
}

/// What the link does to the ECN codepoint of the IP header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EcnPath {
    /// Delivers it as sent.
    #[default]
    Keep,
    /// Clears it (RFC 9000 §13.4.2: a path that bleaches marks).
    Bleach,
    /// Marks ECT packets Congestion Experienced, as a congested router.
    Ce,
}

impl EcnPath {
    /// The codepoint delivered for one sent with `ecn`.
    pub fn apply(self, ecn: EcnCodepoint) -> EcnCodepoint {
        match (self, ecn) {
            (Self::Keep, e) => e,
            (Self::Bleach, _) => EcnCodepoint::NotEct,
            (Self::Ce, EcnCodepoint::Ect0 | EcnCodepoint::Ect1) => EcnCodepoint::Ce,
            (Self::Ce, e) => e,
        }
    }
}

/// A client and a server over an in-memory link.
pub struct Pair {
    /// `[client, server]`, each in its own box.
    pub(crate) conns: Vec<BoxedConn>,
    tls: [FakeTls; 2],
    /// The virtual clock.
    pub now: Instant,
    /// One-way delay.
    pub delay: Duration,
    /// Drop this percentage of datagrams, at random (seeded).
    pub loss_percent: u64,
    rng: XorShift64,
    /// Drop everything sent to `[client, server]`.
    pub blackhole: [bool; 2],
    /// Bytes sent by `[client, server]`.
    pub bytes_sent: [u64; 2],
    /// Drop everything sent to or from this address.
    pub unreachable: Option<SocketAddr>,
    /// What the link does to ECN codepoints.
    pub ecn_path: EcnPath,
    /// Datagrams delivered with each codepoint: Not-ECT, ECT(1), ECT(0), CE.
    pub ecn_delivered: [u64; 4],
    /// Datagrams sent from or to [`SERVER_ADDR`] and
    /// [`SERVER_PREFERRED_ADDR`].
    via: [u64; 2],
    sent: u32,
    link: Vec<InFlight>,
    buf: Vec<u8>,
    /// Events seen, per side: `[client, server]`.
    pub events: [Vec<Event>; 2],
}

/// Index of the client in a [`Pair`].
pub const CLIENT: usize = 0;
/// Index of the server in a [`Pair`].
pub const SERVER: usize = 1;

impl Pair {
    /// A client that wrote its ClientHello, and the server created from its
    /// first datagram, which is delivered. On the heap, like everything a
    /// test holds that is not small.
    pub fn new(client_config: Config, server_config: Config) -> TestResult<Box<Self>> {
        let mut buf = Vec::new();
        // Room for GSO batches of up to 16 datagrams.
        buf.extend_with(16 * 1500, 0u8, GFP).map_err(|_| "alloc")?;
        let mut conns = Vec::with_capacity(2, GFP).map_err(|_| "alloc")?;
        conns
            .push(client_with(client_config)?, GFP)
            .map_err(|_| "alloc")?;
        let pair = Pair {
            conns,
            tls: [FakeTls::new(Side::Client), FakeTls::new(Side::Server)],
            now: Instant::ZERO,
            delay: Duration::from_millis(10),
            loss_percent: 0,
            rng: XorShift64::new(0x9e37_79b9_7f4a_7c15),
            blackhole: [false; 2],
            bytes_sent: [0; 2],
            unreachable: None,
            ecn_path: EcnPath::Keep,
            ecn_delivered: [0; 4],
            via: [0; 2],
            sent: 0,
            link: Vec::new(),
            buf,
            events: [Vec::new(), Vec::new()],
        };
        let mut boxed = Box::new(pair, GFP).map_err(|_| "alloc")?;
        let pair = &mut *boxed;
        let client = pair.conns.get_mut(CLIENT).ok_or("client")?;
        pair.tls[CLIENT].start(client)?;
        let t = client
            .poll_transmit(pair.now, pair.buf.as_mut_slice())
            .ok_or("no ClientHello")?;
        let first = pair.buf.get(..t.len).ok_or("len")?;
        let incoming = incoming_from(first)?;
        let server = accept(&incoming, server_config)?;
        pair.conns.push(server, GFP).map_err(|_| "alloc")?;
        pair.queue(false, &t, 0, t.len)?;
        Ok(boxed)
    }

    /// The connection at `i` ([`CLIENT`] or [`SERVER`]).
    pub fn conn(&mut self, i: usize) -> TestResult<&mut TestConn> {
        self.conns
            .get_mut(i)
            .map(|c| &mut **c)
            .ok_or("no such side")
    }

    /// The fake TLS at `i`.
    pub fn tls(&self, i: usize) -> &FakeTls {
        &self.tls[i & 1]
    }

    /// How many datagrams were sent from or to `addr`, one of the
    /// server's addresses.
    pub fn datagrams_via(&self, addr: SocketAddr) -> u64 {
        match addr {
            SERVER_ADDR => self.via[0],
            SERVER_PREFERRED_ADDR => self.via[1],
            _ => 0,
        }
    }

    /// Puts the datagram `buf[start..start + len]` of `t`, sent by the
    /// client (`from_server` false) or the server, on the link.
    fn queue(&mut self, from_server: bool, t: &Transmit, start: usize, len: usize) -> TestResult {
        self.sent += 1;
        self.bytes_sent[usize::from(from_server)] += len as u64;
        let to = usize::from(!from_server);
        for (i, addr) in [SERVER_ADDR, SERVER_PREFERRED_ADDR].iter().enumerate() {
            if t.local == *addr || t.remote == *addr {
                self.via[i] += 1;
            }
        }
        let unreachable = self
            .unreachable
            .is_some_and(|a| a == t.local || a == t.remote);
        if self.rng.next_u64() % 100 < self.loss_percent || self.blackhole[to] || unreachable {
            return Ok(());
        }
        let mut bytes = Vec::new();
        bytes
            .extend_from_slice(self.buf.get(start..start + len).ok_or("len")?, GFP)
            .map_err(|_| "alloc")?;
        self.link
            .push(
                InFlight {
                    to_server: !from_server,
                    from: t.local,
                    to: t.remote,
                    ecn: self.ecn_path.apply(t.ecn),
                    at: self.now + self.delay,
                    bytes,
                },
                GFP,
            )
            .map_err(|_| "alloc")
    }

    /// Sends everything both sides have to send now.
    fn flush(&mut self) -> TestResult {
        for side in [CLIENT, SERVER] {
            for _ in 0..64 {
                let now = self.now;
                let conn = self.conns.get_mut(side).ok_or("side")?;
                let Some(t) = conn.poll_transmit(now, self.buf.as_mut_slice()) else {
                    break;
                };
                // A GSO batch: one datagram per segment.
                let seg = t.segment_size.unwrap_or(t.len).max(1);
                let mut start = 0;
                while start < t.len {
                    let len = seg.min(t.len - start);
                    self.queue(side == SERVER, &t, start, len)?;
                    start += len;
                }
            }
        }
        Ok(())
    }

    /// Delivers the datagrams due by now.
    fn deliver(&mut self) -> TestResult {
        let mut i = 0;
        while i < self.link.len() {
            if self.link.get(i).is_some_and(|d| d.at <= self.now) {
                let mut d = self.link.remove(i).map_err(|_| "link")?;
                let to = if d.to_server { SERVER } else { CLIENT };
                if let Some(n) = self.ecn_delivered.get_mut(usize::from(d.ecn as u8 & 3)) {
                    *n += 1;
                }
                let now = self.now;
                let conn = self.conns.get_mut(to).ok_or("side")?;
                conn.handle_datagram(now, d.to, d.from, d.ecn, d.bytes.as_mut_slice());
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Runs TLS and collects events on both sides.
    fn react(&mut self) -> TestResult {
        for side in [CLIENT, SERVER] {
            let now = self.now;
            let conn = self.conns.get_mut(side).ok_or("side")?;
            self.tls[side].drive(conn, now)?;
            while let Some(e) = conn.poll_event() {
                self.events[side].push(e, GFP).map_err(|_| "alloc")?;
            }
        }
        Ok(())
    }

    /// One step: deliver what is due, react, send; then move the clock to
    /// the next arrival or timer, no further than `limit`.
    pub fn step(&mut self, limit: Instant) -> TestResult {
        self.deliver()?;
        self.react()?;
        self.flush()?;
        self.react()?;
        self.flush()?;
        let mut next = self.link.iter().map(|d| d.at).min();
        for side in [CLIENT, SERVER] {
            let t = self.conns.get(side).and_then(|c| c.poll_timeout());
            next = match (next, t) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let next = next.unwrap_or(limit).min(limit).max(self.now);
        self.now = next;
        for side in [CLIENT, SERVER] {
            let now = self.now;
            let conn = self.conns.get_mut(side).ok_or("side")?;
            if conn.poll_timeout().is_some_and(|t| t <= now) {
                conn.handle_timeout(now);
            }
        }
        Ok(())
    }

    /// Runs until `done` holds or `within` elapses; fails on timeout.
    pub fn run_until<F>(&mut self, within: Duration, mut done: F) -> TestResult
    where
        F: FnMut(&mut Pair) -> bool,
    {
        let limit = self.now + within;
        for _ in 0..100_000 {
            if done(self) {
                return Ok(());
            }
            if self.now >= limit {
                return Err("timed out");
            }
            self.step(limit)?;
        }
        Err("too many steps")
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) -> TestResult {
        let end = self.now + d;
        match self.run_until(d, |p| p.now >= end) {
            Ok(()) | Err("timed out") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Completes the handshake on both sides.
    pub fn handshake(&mut self) -> TestResult {
        self.run_until(Duration::from_secs(10), |p| {
            p.conns.iter().all(|c| c.is_handshake_confirmed())
        })
    }

    /// Whether `side` saw `event`.
    pub fn saw(&self, side: usize, event: &Event) -> bool {
        self.events[side & 1].iter().any(|e| e == event)
    }

    /// After the handshake, the client sends one small ack-eliciting
    /// packet that reaches the server from port `port` instead, as after a
    /// NAT rebinding: the server sees a new, unvalidated path to which it
    /// may send three times the packet's size. Returns the new address.
    pub fn rebind_client(&mut self, port: u16) -> TestResult<SocketAddr> {
        let now = self.now;
        let client = self.conns.get_mut(CLIENT).ok_or("client")?;
        let id = client.stream_open(Dir::Bi).map_err(|_| "open")?;
        client.stream_write(id, b"x", false).map_err(|_| "write")?;
        let t = client
            .poll_transmit(now, self.buf.as_mut_slice())
            .ok_or("nothing sent")?;
        let rebound = SocketAddr::new(CLIENT_ADDR.ip(), port);
        let server = self.conns.get_mut(SERVER).ok_or("server")?;
        let datagram = self.buf.get_mut(..t.len).ok_or("len")?;
        server.handle_datagram(now, SERVER_ADDR, rebound, EcnCodepoint::NotEct, datagram);
        Ok(rebound)
    }

    /// The version both ends use, if they agree.
    pub fn version(&self) -> Option<Version> {
        let c = self.conns.first()?.version();
        (self.conns.get(1)?.version() == c).then_some(c)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_testing))]
mod tests {
    use super::*;
    use crate::protocol::connection::State;

    #[test]
    fn sealed_frames_reach_the_peer() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let mut buf = Vec::new();
        buf.extend_with(1500, 0u8, GFP).map_err(|_| "alloc")?;
        // MAX_DATA raising the server's credit to 0x1000_0000.
        let frames = [0x10, 0x90, 0, 0, 0];
        let now = p.now;
        let len = seal_one_rtt_frames(p.conn(CLIENT)?, now, &frames, buf.as_mut_slice())?;
        let packet = buf.get_mut(..len).ok_or("len")?;
        let server = p.conn(SERVER)?;
        server.handle_datagram(now, SERVER_ADDR, CLIENT_ADDR, EcnCodepoint::NotEct, packet);
        assert_eq!(server.streams().conn_send().limit(), 0x1000_0000);
        // The packet number was the client's: its next packets still open.
        p.run_for(Duration::from_secs(1))?;
        for side in [CLIENT, SERVER] {
            assert_eq!(p.conn(side)?.state(), State::Established);
        }
        Ok(())
    }

    #[test]
    fn no_frames_without_1rtt_keys() -> TestResult {
        let mut client = client()?;
        let mut buf = [0u8; 64];
        assert!(seal_one_rtt_frames(&mut client, Instant::ZERO, &[1], &mut buf).is_err());
        Ok(())
    }
}
