// SPDX-License-Identifier: GPL-2.0

//! Two stream sets, a client and a server, exchanging frames over a link
//! that loses, reorders and spuriously declares packets lost.
//!
//! The client opens more streams than the server allows at once, writes a
//! pattern on each, resets some and stops reading others; the server reads
//! everything and echoes bidirectional streams back. Every byte delivered
//! must match the pattern at its offset, every stream must complete (or
//! end in the expected reset), no side may see a flow-control or stream
//! error, and at the end both sets are empty and every send buffer byte is
//! returned.

use std::collections::BTreeMap;
use std::time::Duration;

use quic_protocol::protocol::stream::set::{StreamConfig, StreamLimits, StreamSet};
use quic_protocol::protocol::stream::{
    ControlFrame, Dir, Side, StreamChunk, StreamError, StreamId, StreamState,
};
use quic_protocol::protocol::time::Instant;
use quic_protocol::protocol::varint::VarInt;

/// A deterministic xorshift64 generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The byte at `offset` of stream `id`.
fn pattern(id: StreamId, offset: u64) -> u8 {
    ((offset * 31 + id.into_inner() * 7) % 251) as u8
}

#[derive(Clone, Debug)]
enum Frame {
    Stream(StreamChunk, Vec<u8>),
    Control(ControlFrame),
}

#[derive(Debug)]
enum Event {
    /// Frames arrive at endpoint `to`.
    Deliver(usize, Vec<Frame>),
    /// Endpoint `to` learns its frames were acknowledged.
    Ack(usize, Vec<Frame>),
    /// Endpoint `to` declares its frames lost.
    Lost(usize, Vec<Frame>),
}

struct Link {
    rng: Rng,
    /// (time in ms, sequence, event), processed in time order.
    events: Vec<(u64, u64, Event)>,
    seq: u64,
    loss: u64,
}

impl Link {
    fn schedule(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.events.push((at, self.seq, event));
    }

    /// Sends a packet from endpoint `from` at time `now`.
    fn send(&mut self, now: u64, from: usize, frames: Vec<Frame>) {
        let to = 1 - from;
        let delay = 5 + self.rng.below(10);
        if self.rng.chance(self.loss) {
            self.schedule(now + 30, Event::Lost(from, frames));
            return;
        }
        if self.rng.chance(3) {
            // Declared lost, then acknowledged anyway.
            self.schedule(now + 1, Event::Lost(from, frames.clone()));
        }
        self.schedule(now + delay, Event::Deliver(to, frames.clone()));
        self.schedule(now + delay + 5, Event::Ack(from, frames));
    }

    /// Takes the events due at `now`, in order.
    fn due(&mut self, now: u64) -> Vec<Event> {
        self.events.sort_by_key(|(t, s, _)| (*t, *s));
        let n = self.events.iter().take_while(|(t, _, _)| *t <= now).count();
        self.events.drain(..n).map(|(_, _, e)| e).collect()
    }
}

fn varint_len(v: u64) -> usize {
    VarInt::size_of(v)
}

/// Builds one packet of at most `room` bytes from `set`.
fn build_packet(set: &mut StreamSet, room: usize) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut left = room;
    while let Some(frame) = set.poll_control(left) {
        assert!(frame.encoded_len() <= left);
        left -= frame.encoded_len();
        frames.push(Frame::Control(frame));
    }
    while let Some(chunk) = set.poll_stream(left) {
        let offset_len = if chunk.offset == 0 {
            0
        } else {
            varint_len(chunk.offset)
        };
        let size = 1
            + varint_len(chunk.id.into_inner())
            + offset_len
            + varint_len(chunk.len as u64)
            + chunk.len;
        assert!(size <= left, "{chunk:?} does not fit {left}");
        left -= size;
        let mut data = vec![0u8; chunk.len];
        assert_eq!(set.copy_chunk(&chunk, &mut data), chunk.len);
        for (i, b) in data.iter().enumerate() {
            assert_eq!(*b, pattern(chunk.id, chunk.offset + i as u64));
        }
        frames.push(Frame::Stream(chunk, data));
    }
    frames
}

/// Applies received frames; any connection error fails the test.
fn receive(set: &mut StreamSet, frames: &[Frame]) {
    for frame in frames {
        let result = match frame {
            Frame::Stream(c, data) => set.on_stream_frame(c.id, c.offset, data, c.fin).map(|_| ()),
            Frame::Control(f) => match *f {
                ControlFrame::ResetStream {
                    id,
                    code,
                    final_size,
                } => set.on_reset_stream(id, code, final_size).map(|_| ()),
                ControlFrame::StopSending { id, code } => set.on_stop_sending(id, code).map(|_| ()),
                ControlFrame::MaxStreamData { id, limit } => {
                    set.on_max_stream_data(id, limit).map(|_| ())
                }
                ControlFrame::StreamDataBlocked { id, limit } => {
                    set.on_stream_data_blocked(id, limit)
                }
                ControlFrame::MaxData { limit } => {
                    set.on_max_data(limit);
                    Ok(())
                }
                ControlFrame::DataBlocked { limit } => {
                    set.on_data_blocked(limit);
                    Ok(())
                }
                ControlFrame::MaxStreams { dir, count } => {
                    set.on_max_streams(dir, count).map(|_| ())
                }
                ControlFrame::StreamsBlocked { dir, count } => set.on_streams_blocked(dir, count),
            },
        };
        if let Err(e) = result {
            panic!("{:?}: connection error {e:?} on {frame:?}", set.side());
        }
    }
}

fn acked(set: &mut StreamSet, frames: &[Frame]) {
    for frame in frames {
        match frame {
            Frame::Stream(c, _) => {
                set.on_chunk_acked(c).expect("ack");
            }
            Frame::Control(f) => {
                set.on_control_acked(f);
            }
        }
    }
}

fn lost(set: &mut StreamSet, frames: &[Frame]) {
    for frame in frames {
        match frame {
            Frame::Stream(c, _) => set.on_chunk_lost(c).expect("loss"),
            Frame::Control(f) => set.on_control_lost(f),
        }
    }
}

/// What one side knows about a stream it writes or reads.
#[derive(Default, Debug)]
struct Log {
    /// Bytes to write in total.
    size: u64,
    written: u64,
    finished: bool,
    /// Reset after this many bytes were written.
    reset_at: Option<u64>,
    /// Stop reading after this many bytes were read.
    stop_at: Option<u64>,
    read: u64,
    read_fin: bool,
    read_reset: Option<u64>,
    /// Server: echo data not yet written.
    echo: Vec<u8>,
    echo_fin: bool,
}

const STREAMS_PER_DIR: u64 = 12;

fn config(send_buffer: usize) -> StreamConfig {
    StreamConfig {
        local: StreamLimits {
            max_data: 64 * 1024,
            max_stream_data_bidi_local: 16 * 1024,
            max_stream_data_bidi_remote: 16 * 1024,
            max_stream_data_uni: 16 * 1024,
            max_streams_bidi: 3,
            max_streams_uni: 3,
        },
        max_stream_window: 256 * 1024,
        max_data_window: 1024 * 1024,
        send_buffer,
    }
}

struct Sim {
    sets: [StreamSet; 2],
    logs: [BTreeMap<StreamId, Log>; 2],
    link: Link,
    app: Rng,
    opened: [u64; 2],
}

const CLIENT: usize = 0;
const SERVER: usize = 1;
const RTT: Duration = Duration::from_millis(20);

impl Sim {
    fn new(seed: u64, loss: u64) -> Self {
        let mut sets = [
            StreamSet::new(Side::Client, config(64 * 1024)),
            StreamSet::new(Side::Server, config(64 * 1024)),
        ];
        for set in sets.iter_mut() {
            set.set_peer_limits(config(0).local).expect("limits");
        }
        Sim {
            sets,
            logs: [BTreeMap::new(), BTreeMap::new()],
            link: Link {
                rng: Rng(seed),
                events: Vec::new(),
                seq: 0,
                loss,
            },
            app: Rng(seed ^ 0x5555_5555),
            opened: [0, 0],
        }
    }

    /// The client opens streams while allowed and writes to them.
    fn client_app(&mut self, now: Instant) {
        for dir in [Dir::Bi, Dir::Uni] {
            while self.opened[dir.index()] < STREAMS_PER_DIR {
                let set = &mut self.sets[CLIENT];
                let id = match set.open_next(dir) {
                    Ok(id) => id,
                    Err(StreamError::StreamLimit) => break,
                    Err(e) => panic!("open: {e:?}"),
                };
                self.opened[dir.index()] += 1;
                let size = match self.app.below(4) {
                    0 => 0,
                    1 => self.app.below(2000),
                    _ => self.app.below(60_000),
                };
                let mut log = Log {
                    size,
                    ..Log::default()
                };
                if self.app.chance(15) {
                    log.reset_at = Some(size / 2);
                }
                if dir == Dir::Bi && self.app.chance(15) {
                    log.stop_at = Some(size / 3);
                }
                self.logs[CLIENT].insert(id, log);
            }
        }
        let set = &mut self.sets[CLIENT];
        for (&id, log) in self.logs[CLIENT].iter_mut() {
            write_side(set, id, log);
            read_side(set, id, log, now);
        }
    }

    /// The server reads what arrives and echoes bidirectional streams.
    fn server_app(&mut self, now: Instant) {
        let set = &mut self.sets[SERVER];
        for dir in [Dir::Bi, Dir::Uni] {
            while let Some(id) = set.accept(dir) {
                self.logs[SERVER].insert(id, Log::default());
            }
        }
        for (&id, log) in self.logs[SERVER].iter_mut() {
            let before = log.read;
            read_side(set, id, log, now);
            if id.dir() == Dir::Bi && log.read > before {
                for offset in before..log.read {
                    log.echo.push(pattern(id, offset));
                }
            }
            if id.dir() == Dir::Bi {
                if let Some(code) = log.read_reset {
                    if set
                        .get(id)
                        .and_then(|s| s.send())
                        .is_some_and(|s| s.final_size().is_none())
                    {
                        set.reset(id, code).expect("reset echo");
                    }
                    log.echo.clear();
                    continue;
                }
                echo(set, id, log);
            }
        }
    }

    fn step(&mut self, ms: u64) {
        let now = Instant::from_nanos(ms * 1_000_000);
        self.client_app(now);
        self.server_app(now);
        for from in [CLIENT, SERVER] {
            for _ in 0..4 {
                if !self.sets[from].wants_to_send() {
                    break;
                }
                let room = 60 + self.link.rng.below(1340) as usize;
                let frames = build_packet(&mut self.sets[from], room);
                if !frames.is_empty() {
                    self.link.send(ms, from, frames);
                }
            }
        }
        for event in self.link.due(ms) {
            match event {
                Event::Deliver(to, frames) => receive(&mut self.sets[to], &frames),
                Event::Ack(to, frames) => acked(&mut self.sets[to], &frames),
                Event::Lost(to, frames) => lost(&mut self.sets[to], &frames),
            }
        }
    }

    fn done(&self) -> bool {
        self.opened == [STREAMS_PER_DIR; 2]
            && self.sets.iter().all(StreamSet::is_empty)
            && self.link.events.is_empty()
    }
}

/// Writes the pattern on `id` as far as the budget allows, then finishes
/// or resets as the log says.
fn write_side(set: &mut StreamSet, id: StreamId, log: &mut Log) {
    if log.finished || set.get(id).and_then(|s| s.send()).is_none() {
        return;
    }
    while log.written < log.size {
        if log.reset_at.is_some_and(|at| log.written >= at) {
            break;
        }
        let end = log.size.min(log.written + 5000);
        let data: Vec<u8> = (log.written..end).map(|o| pattern(id, o)).collect();
        match set.write(id, &data, false) {
            Ok(n) => log.written += n as u64,
            Err(StreamError::Blocked) => return,
            Err(StreamError::Stopped(_)) => {
                log.finished = true;
                return;
            }
            Err(e) => panic!("write {id:?}: {e:?}"),
        }
    }
    if log.reset_at.is_some() {
        set.reset(id, 99).expect("reset");
    } else {
        match set.finish(id) {
            Ok(()) | Err(StreamError::Stopped(_)) => {}
            Err(e) => panic!("finish {id:?}: {e:?}"),
        }
    }
    log.finished = true;
}

/// Reads `id` and checks the pattern; stops reading where the log says.
fn read_side(set: &mut StreamSet, id: StreamId, log: &mut Log, now: Instant) {
    if log.read_fin || log.read_reset.is_some() {
        return;
    }
    let mut buf = [0u8; 1500];
    loop {
        if log.stop_at.is_some_and(|at| log.read >= at) {
            if set.get(id).is_some() {
                set.stop_sending(id, 7).expect("stop");
            }
            log.read_reset = Some(7);
            return;
        }
        match set.read(id, &mut buf, now, RTT) {
            Ok(r) => {
                for (i, b) in buf[..r.len].iter().enumerate() {
                    assert_eq!(*b, pattern(id, log.read + i as u64), "{id:?}");
                }
                log.read += r.len as u64;
                if r.fin {
                    log.read_fin = true;
                    return;
                }
            }
            Err(StreamError::Blocked) => return,
            Err(StreamError::Reset(code)) => {
                log.read_reset = Some(code);
                return;
            }
            // Our own uni stream has no receiving part.
            Err(StreamError::UnknownStream) => return,
            Err(e) => panic!("read {id:?}: {e:?}"),
        }
    }
}

/// Writes pending echo bytes of a server bidi stream; finishes after FIN.
fn echo(set: &mut StreamSet, id: StreamId, log: &mut Log) {
    if log.echo_fin {
        return;
    }
    while !log.echo.is_empty() {
        match set.write(id, &log.echo, false) {
            Ok(n) => {
                log.echo.drain(..n);
            }
            Err(StreamError::Blocked) => return,
            // Stopped by the client; the stream may even be closed already.
            Err(StreamError::Stopped(_) | StreamError::UnknownStream) => {
                log.echo.clear();
                log.echo_fin = true;
                return;
            }
            Err(e) => panic!("echo {id:?}: {e:?}"),
        }
    }
    if log.read_fin {
        match set.finish(id) {
            Ok(()) | Err(StreamError::Stopped(_) | StreamError::UnknownStream) => {}
            Err(e) => panic!("echo fin {id:?}: {e:?}"),
        }
        log.echo_fin = true;
    }
}

fn run(seed: u64, loss: u64) {
    let mut sim = Sim::new(seed, loss);
    let mut ms = 0;
    while !sim.done() {
        ms += 1;
        assert!(
            ms < 200_000,
            "seed {seed}: stuck; client {:?}",
            sim.logs[CLIENT]
        );
        sim.step(ms);
    }
    // Every stream the client wrote completely arrived completely, and
    // every bidi stream came back.
    for (id, log) in &sim.logs[CLIENT] {
        let server = sim.logs[SERVER].get(id).expect("server saw every stream");
        if log.reset_at.is_none() && log.stop_at.is_none() {
            assert!(server.read_fin, "{id:?} incomplete at the server");
            assert_eq!(server.read, log.size, "{id:?}");
            if id.dir() == Dir::Bi {
                assert!(log.read_fin, "{id:?} echo incomplete");
                assert_eq!(log.read, log.size, "{id:?} echo");
            }
        }
        if log.reset_at.is_some() && log.size > 1 {
            assert_eq!(server.read_reset, Some(99), "{id:?}");
        }
    }
    assert_eq!(sim.opened, [STREAMS_PER_DIR; 2]);
    for set in &sim.sets {
        assert_eq!(set.budget().used(), 0);
        assert!(set.conn_recv().consumed() == set.conn_recv().received());
    }
}

#[test]
fn transfer_without_loss() {
    run(0x1234_5678_9abc_def1, 0);
}

#[test]
fn transfer_with_loss_and_reordering() {
    for seed in 1..6u64 {
        run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 10);
    }
}

#[test]
fn transfer_with_heavy_loss() {
    run(0xdead_beef_cafe_f00d, 30);
}

/// The state numbers the socket API reports for each part.
#[test]
fn update_states_follow_the_uapi_order() {
    let states = [
        StreamState::SendReady,
        StreamState::SendSend,
        StreamState::SendSent,
        StreamState::SendRecvd,
        StreamState::SendResetSent,
        StreamState::SendResetRecvd,
        StreamState::RecvRecv,
        StreamState::RecvSizeKnown,
        StreamState::RecvRecvd,
        StreamState::RecvRead,
        StreamState::RecvResetRecvd,
        StreamState::RecvResetRead,
    ];
    for (n, s) in states.iter().enumerate() {
        assert_eq!(usize::from(s.uapi()), n);
    }
}
