// SPDX-License-Identifier: GPL-2.0

//! A client and a server `Connection` (null crypto provider, the scripted
//! TLS of `connection::testing`) driven by a script of operations: deliver,
//! drop, duplicate, corrupt or reorder the datagrams between them, rebind
//! the client's port as a NAT would, move the clock, run the application
//! calls (streams, datagrams, key update, close), and inject hostile input:
//! arbitrary datagrams, and 1-RTT packets sealed with the sender's real
//! keys and next packet number carrying arbitrary frame bytes, which reach
//! frame processing past packet protection.
//!
//! After every step: draining `poll_transmit` and `poll_event` ends; no
//! flow-control credit is exceeded in either direction; the stream set
//! and the loss recovery records stay bounded; a closed connection says
//! why. While neither side received hostile input (the link may still
//! lose, duplicate, reorder and corrupt), neither side closes with a
//! transport error and every byte read from a stream is the byte written
//! at that offset.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_fuzz::{pattern, Input};
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::connection::testing::{
    accept, client_with, config, incoming_from, seal_one_rtt_frames, BoxedConn, FakeTls,
    CLIENT_ADDR, SERVER_ADDR,
};
use quic_protocol::protocol::connection::{CloseCause, Config, Event, State};
use quic_protocol::protocol::recovery::congestion::Algorithm;
use quic_protocol::protocol::recovery::PacketNumberSpace;
use quic_protocol::protocol::side::Side;
use quic_protocol::protocol::stream::{Dir, StreamId};
use quic_protocol::protocol::time::Instant;
use quic_protocol::protocol::varint::VarInt;
use std::net::SocketAddr;
use std::time::Duration;

const CLIENT: usize = 0;
const SERVER: usize = 1;
/// Datagrams the link holds; more are lost.
const LINK_CAP: usize = 64;
/// Streams the harness remembers per side.
const STREAMS_CAP: usize = 64;
/// A bound no drain of `poll_transmit` at one instant may reach.
const MAX_BURST: usize = 10_000;
/// A bound no drain of `poll_event` may reach.
const MAX_EVENTS: usize = 100_000;

/// A stream the harness knows on one side, with how far it wrote and read.
struct Known {
    id: StreamId,
    written: u64,
    read: u64,
}

struct Harness {
    conns: [BoxedConn; 2],
    tls: [FakeTls; 2],
    /// TLS failed on a side (only on hostile input): stop driving it.
    tls_failed: [bool; 2],
    now: Instant,
    /// Datagrams in flight: (destination, bytes).
    link: Vec<(usize, Vec<u8>)>,
    buf: Vec<u8>,
    /// Either side received hostile input.
    tainted: bool,
    /// The application closed a side.
    app_closed: [bool; 2],
    /// The client's address as the server sees it (NAT rebinding moves it).
    client_addr: SocketAddr,
    streams: [Vec<Known>; 2],
}

fn preset(input: &mut Input<'_>) -> Config {
    let mut c = config();
    let flags = input.u8();
    if flags & 1 != 0 {
        c.congestion = Algorithm::NewReno;
    }
    c.ecn = flags & 2 != 0;
    c.grease_quic_bit = flags & 4 != 0;
    if flags & 8 != 0 {
        // Small windows and stream limits, to reach blocking and updates.
        let window = 1u32 << (10 + input.below(8) as u32);
        c.transport.initial_max_data = VarInt::from_u32(window);
        c.transport.initial_max_stream_data_bidi_local = VarInt::from_u32(window / 2);
        c.transport.initial_max_stream_data_bidi_remote = VarInt::from_u32(window / 2);
        c.transport.initial_max_stream_data_uni = VarInt::from_u32(window / 2);
        c.transport.initial_max_streams_bidi = VarInt::from_u32(input.below(8) as u32);
        c.transport.initial_max_streams_uni = VarInt::from_u32(input.below(8) as u32);
        c.max_stream_window = u64::from(window);
        c.max_data_window = u64::from(window) * 2;
        c.send_buffer = 16 << 10;
    }
    if flags & 16 != 0 {
        c.transport.max_datagram_frame_size = VarInt::from_u32(0);
    }
    if flags & 32 != 0 {
        c.keep_alive = Duration::from_millis(1 + input.below(5000));
    }
    c
}

impl Harness {
    fn new(input: &mut Input<'_>) -> Option<Self> {
        let client_config = preset(input);
        let server_config = preset(input);
        let mut client = client_with(client_config).ok()?;
        let mut tls = [FakeTls::new(Side::Client), FakeTls::new(Side::Server)];
        tls[CLIENT].start(&mut client).ok()?;
        let mut buf = vec![0u8; 1500];
        let t = client.poll_transmit(Instant::ZERO, &mut buf)?;
        let incoming = incoming_from(&buf[..t.len]).ok()?;
        let server = accept(&incoming, server_config).ok()?;
        let mut h = Harness {
            conns: [client, server],
            tls,
            tls_failed: [false; 2],
            now: Instant::ZERO,
            link: Vec::new(),
            buf,
            tainted: false,
            app_closed: [false; 2],
            client_addr: CLIENT_ADDR,
            streams: [Vec::new(), Vec::new()],
        };
        h.send(SERVER, t.len);
        Some(h)
    }

    /// Puts `buf[..len]` on the link to `to`, unless the link is full.
    fn send(&mut self, to: usize, len: usize) {
        if self.link.len() < LINK_CAP {
            self.link.push((to, self.buf[..len].to_vec()));
        }
    }

    fn deliver(&mut self, to: usize, mut bytes: Vec<u8>, ecn: EcnCodepoint) {
        let (local, remote) = if to == SERVER {
            (SERVER_ADDR, self.client_addr)
        } else {
            (CLIENT_ADDR, SERVER_ADDR)
        };
        self.conns[to].handle_datagram(self.now, local, remote, ecn, &mut bytes);
    }

    /// Everything `side` sends now goes on the link.
    fn flush(&mut self, side: usize) {
        for n in 0.. {
            assert!(n < MAX_BURST, "poll_transmit does not run dry");
            let Some(t) = self.conns[side].poll_transmit(self.now, &mut self.buf) else {
                break;
            };
            assert!(t.len <= self.buf.len());
            self.send(side ^ 1, t.len);
        }
    }

    /// Runs TLS and takes the events of both sides.
    fn react(&mut self) {
        for side in [CLIENT, SERVER] {
            if !self.tls_failed[side] {
                let now = self.now;
                if self.tls[side].drive(&mut self.conns[side], now).is_err() {
                    // The scripted TLS only fails on messages no honest
                    // peer sends; a real one would abort the handshake.
                    assert!(self.tainted, "TLS failed between honest peers");
                    self.tls_failed[side] = true;
                    self.conns[side].close(now, 0x100 + 10, 0, b"tls", false);
                }
            }
            for n in 0.. {
                assert!(n < MAX_EVENTS, "poll_event does not run dry");
                let Some(e) = self.conns[side].poll_event() else {
                    break;
                };
                self.on_event(side, e);
            }
        }
    }

    fn on_event(&mut self, side: usize, e: Event) {
        match e {
            Event::StreamOpened(id) | Event::StreamReadable(id) => self.know(side, id),
            Event::Closed(err) => {
                assert!(self.conns[side].is_closed());
                if !self.tainted && !self.app_closed[side] && !self.app_closed[side ^ 1] {
                    // Honest peers over a lossy link only ever time out.
                    assert!(
                        matches!(
                            err.cause,
                            CloseCause::IdleTimeout | CloseCause::NoViablePath
                        ),
                        "{side}: {err:?}"
                    );
                }
            }
            _ => {}
        }
    }

    fn know(&mut self, side: usize, id: StreamId) {
        let known = &mut self.streams[side];
        if known.len() < STREAMS_CAP && !known.iter().any(|k| k.id == id) {
            known.push(Known {
                id,
                written: 0,
                read: 0,
            });
        }
    }

    /// Moves the clock to `to` and runs the timers that expired.
    fn advance(&mut self, to: Instant) {
        self.now = self.now.max(to);
        for c in &mut self.conns {
            if c.poll_timeout().is_some_and(|t| t <= self.now) {
                c.handle_timeout(self.now);
            }
        }
    }

    /// Runs the handshake over a perfect link, for scripts that start in
    /// 1-RTT.
    fn handshake(&mut self) {
        for _ in 0..64 {
            if self.conns.iter().all(|c| c.is_handshake_confirmed()) {
                return;
            }
            while !self.link.is_empty() {
                let (to, bytes) = self.link.remove(0);
                self.deliver(to, bytes, EcnCodepoint::NotEct);
            }
            self.react();
            self.flush(CLIENT);
            self.flush(SERVER);
            self.react();
            let at = self.now + Duration::from_millis(5);
            self.advance(at);
        }
    }

    fn pick_stream(&self, input: &mut Input<'_>, side: usize) -> Option<StreamId> {
        let known = &self.streams[side];
        if known.is_empty() || input.bool() {
            // Any stream ID, mostly small ones.
            return StreamId::from_u64(input.scaled(16));
        }
        Some(known[input.index(known.len())].id)
    }

    fn write(&mut self, input: &mut Input<'_>, side: usize) {
        let Some(id) = self.pick_stream(input, side) else {
            return;
        };
        let len = input.index(4097);
        let fin = input.u8() % 8 == 0;
        let at = self.streams[side]
            .iter()
            .find(|k| k.id == id)
            .map_or(0, |k| k.written);
        let data: Vec<u8> = (at..at + len as u64).map(pattern).collect();
        if let Ok(n) = self.conns[side].stream_write(id, &data, fin) {
            assert!(n <= len);
            self.know(side, id);
            if let Some(k) = self.streams[side].iter_mut().find(|k| k.id == id) {
                k.written += n as u64;
            }
        }
    }

    fn read(&mut self, input: &mut Input<'_>, side: usize) {
        let id = if input.bool() {
            self.conns[side].stream_readable()
        } else {
            self.pick_stream(input, side)
        };
        let Some(id) = id else {
            return;
        };
        let mut out = vec![0u8; input.index(8193)];
        let now = self.now;
        let Ok(r) = self.conns[side].stream_read(now, id, &mut out) else {
            return;
        };
        assert!(r.len <= out.len());
        self.know(side, id);
        let tainted = self.tainted;
        if let Some(k) = self.streams[side].iter_mut().find(|k| k.id == id) {
            if !tainted {
                for (i, &b) in out[..r.len].iter().enumerate() {
                    assert_eq!(b, pattern(k.read + i as u64), "stream {id:?} at {}", k.read);
                }
            }
            k.read += r.len as u64;
        }
    }

    /// A 1-RTT packet from the peer of `to` with arbitrary frames.
    fn inject_frames(&mut self, input: &mut Input<'_>, to: usize) {
        let frames = input.slice(1200);
        let mut out = vec![0u8; 1500];
        let now = self.now;
        if let Ok(len) = seal_one_rtt_frames(&mut self.conns[to ^ 1], now, frames, &mut out) {
            out.truncate(len);
            self.tainted = true;
            let ecn = ecn(input);
            self.deliver(to, out, ecn);
        }
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let side = usize::from(input.bool());
        match input.u8() % 20 {
            0..=3 if !self.link.is_empty() => {
                // Deliver, mostly in order; sometimes corrupted.
                let i = if input.bool() {
                    0
                } else {
                    input.index(self.link.len())
                };
                let (to, mut bytes) = self.link.remove(i);
                if input.u8() % 16 == 0 && !bytes.is_empty() {
                    let at = input.index(bytes.len());
                    bytes[at] ^= input.u8() | 1;
                }
                let ecn = ecn(input);
                self.deliver(to, bytes, ecn);
            }
            4 if !self.link.is_empty() => {
                let i = input.index(self.link.len());
                if input.bool() {
                    self.link.remove(i);
                } else if self.link.len() < LINK_CAP {
                    let copy = self.link[i].clone();
                    self.link.push(copy);
                }
            }
            5 | 6 => self.flush(side),
            7 => {
                let d = Duration::from_micros(input.scaled(36));
                self.advance(self.now + d);
            }
            8 => {
                if let Some(t) = self.conns[side].poll_timeout() {
                    self.advance(t);
                }
            }
            9 => {
                let bytes = input.slice(1500).to_vec();
                self.tainted = true;
                let ecn = ecn(input);
                self.deliver(side, bytes, ecn);
            }
            10 | 11 => self.inject_frames(input, side),
            12 => {
                let dir = if input.bool() { Dir::Bi } else { Dir::Uni };
                if let Ok(id) = self.conns[side].stream_open(dir) {
                    self.know(side, id);
                }
            }
            13 => self.write(input, side),
            14 => self.read(input, side),
            15 => {
                if let Some(id) = self.pick_stream(input, side) {
                    let code = input.scaled(62);
                    let _ = match input.u8() % 3 {
                        0 => self.conns[side].stream_reset(id, code),
                        1 => self.conns[side].stream_stop_sending(id, code),
                        _ => self.conns[side].stream_finish(id),
                    };
                }
            }
            16 => {
                if input.bool() {
                    let len = input.index(1300);
                    let data: Vec<u8> = (0..len as u64).map(pattern).collect();
                    let _ = self.conns[side].datagram_send(&data);
                } else {
                    let mut out = vec![0u8; 1500];
                    if let Some(n) = self.conns[side].datagram_recv(&mut out) {
                        assert!(n <= out.len());
                    }
                }
            }
            17 => {
                let _ = self.conns[side].request_key_update();
            }
            18 if input.u8() % 4 == 0 => {
                self.app_closed[side] = true;
                let code = input.scaled(62);
                let reason = input.slice(80);
                let application = input.bool();
                let now = self.now;
                self.conns[side].close(now, code, input.scaled(62), reason, application);
            }
            19 if input.u8() % 4 == 0 => {
                // A NAT rebinding of the client's port: the server sees
                // the client's datagrams come from elsewhere.
                let port = 50_000 + input.below(4) as u16;
                self.client_addr = SocketAddr::new(CLIENT_ADDR.ip(), port);
            }
            _ => {}
        }
        self.react();
        self.check();
    }

    fn check(&self) {
        for (side, c) in self.conns.iter().enumerate() {
            if c.is_closed() {
                assert!(c.close_error().is_some());
            }
            if c.is_drained() {
                assert!(c.is_closed());
            }
            let streams = c.streams();
            let send = streams.conn_send();
            assert!(send.used() <= send.limit(), "{side}: MAX_DATA exceeded");
            let recv = streams.conn_recv();
            assert!(
                recv.received() <= recv.limit(),
                "{side}: peer exceeded MAX_DATA"
            );
            // The peer has at most the streams we allow open at once (100
            // a direction at most), and a script opens at most 512.
            assert!(streams.len() <= 1024, "{side}: {} streams", streams.len());
            for k in &self.streams[side] {
                let Some(s) = streams.get(k.id) else {
                    continue;
                };
                if let Some(send) = s.send() {
                    let credit = send.credit();
                    assert!(credit.used() <= credit.limit());
                    if let Some(size) = send.final_size() {
                        assert!(size <= k.written);
                    }
                }
                if let Some(recv) = s.recv() {
                    let w = recv.window();
                    assert!(w.received() <= w.limit());
                    if let Some(size) = recv.final_size() {
                        assert!(size >= k.read);
                    }
                }
            }
            let r = c.recovery();
            for space in [
                PacketNumberSpace::Initial,
                PacketNumberSpace::Handshake,
                PacketNumberSpace::ApplicationData,
            ] {
                assert!(r.outstanding(space) <= 100_000);
            }
            // Idle timeout, loss detection or the closing period: a
            // connection that is not over always has a timer.
            if c.state() != State::Closed {
                assert!(
                    c.poll_timeout().is_some(),
                    "{side}: no timer in {:?}",
                    c.state()
                );
            }
            if self.tls[side].done && !self.tls_failed[side] {
                assert!(c.is_handshake_complete() || c.is_closed());
            }
        }
    }
}

fn ecn(input: &mut Input<'_>) -> EcnCodepoint {
    match input.u8() % 8 {
        0 => EcnCodepoint::Ect0,
        1 => EcnCodepoint::Ect1,
        2 => EcnCodepoint::Ce,
        _ => EcnCodepoint::NotEct,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let Some(mut h) = Harness::new(&mut input) else {
        return;
    };
    if input.u8() % 4 != 0 {
        h.handshake();
    }
    input.run(512, |input| h.step(input));
    // Whatever the script did, once the link goes dead both connections
    // run down to Closed through their timers (idle timeout, closing or
    // draining period). A timer may be due again at the instant it ran (a
    // probe timeout right after loss detection) but must move on within a
    // few rounds: one that stays in the past would make a driver spin.
    let mut same_instant = 0;
    for _ in 0..1000 {
        let next = h.conns.iter().filter_map(|c| c.poll_timeout()).min();
        let Some(t) = next else {
            break;
        };
        same_instant = if t <= h.now { same_instant + 1 } else { 0 };
        assert!(same_instant < 70, "a timer stays at {t:?}");
        h.advance(t);
        h.react();
        h.flush(CLIENT);
        h.flush(SERVER);
        h.link.clear();
        h.check();
    }
    for (side, c) in h.conns.iter().enumerate() {
        assert_eq!(c.state(), State::Closed, "{side}");
    }
});
