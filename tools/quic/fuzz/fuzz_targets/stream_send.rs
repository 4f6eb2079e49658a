// SPDX-License-Identifier: GPL-2.0

//! The sending side of streams (RFC 9000 §2.2, §3.1, §4.1, §19.4–19.13)
//! through a `StreamSet`: the send state machine, the send buffers and
//! their shared budget, stream and connection flow control and the
//! scheduler, against a model.
//!
//! The script opens streams, writes (data is a pattern of stream and
//! offset), finishes and resets them, polls STREAM and control frames into
//! packets of random room, acknowledges or loses frames in flight in any
//! order, and delivers STOP_SENDING, MAX_STREAM_DATA and MAX_DATA. The
//! model knows, byte by byte, what was written, sent, declared lost and
//! acknowledged, and the limits granted:
//!
//! - a STREAM frame carries the bytes written at its offsets, within the
//!   stream and connection credit, never a byte already acknowledged nor
//!   one still in flight and not declared lost, and the FIN only at the
//!   end of what was written after a finish; nothing follows a reset;
//! - RESET_STREAM carries the final size (the highest offset sent), and
//!   the final size, once a FIN or a reset may have told the peer, never
//!   changes; blocked frames name the limits in force;
//! - given credit and acknowledgments, every byte written to a stream that
//!   was not reset is eventually acknowledged, and a finished one reaches
//!   Data Recvd.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_fuzz::{pattern, Input};
use quic_protocol::protocol::side::Side;
use quic_protocol::protocol::stream::send::SendState;
use quic_protocol::protocol::stream::set::{StreamConfig, StreamLimits, StreamSet};
use quic_protocol::protocol::stream::{ControlFrame, Dir, StreamChunk, StreamError, StreamId};

/// Streams a script may open.
const MAX_STREAMS: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Byte {
    Unsent,
    InFlight,
    Lost,
    Acked,
}

struct Model {
    id: StreamId,
    /// Per written byte.
    bytes: Vec<Byte>,
    finished: bool,
    /// A FIN was sent.
    fin_sent: bool,
    reset: bool,
    /// The highest MAX_STREAM_DATA (or initial limit).
    limit: u64,
    /// One past the highest offset sent.
    sent: u64,
    final_size: Option<u64>,
}

/// A frame in flight.
enum Sent {
    Stream(StreamChunk),
    Control(ControlFrame),
}

struct Harness {
    set: Box<StreamSet>,
    streams: Vec<Model>,
    in_flight: Vec<Sent>,
    conn_limit: u64,
    peer: StreamLimits,
    buf: Vec<u8>,
}

/// The byte written at `offset` of stream `id`.
fn byte(id: StreamId, offset: u64) -> u8 {
    pattern(offset ^ (id.into_inner() << 40))
}

impl Harness {
    fn new(input: &mut Input<'_>) -> Self {
        let small = |input: &mut Input<'_>| input.scaled(20);
        let peer = StreamLimits {
            max_data: small(input),
            max_stream_data_bidi_local: small(input),
            max_stream_data_bidi_remote: small(input),
            max_stream_data_uni: small(input),
            max_streams_bidi: input.below(6),
            max_streams_uni: input.below(6),
        };
        let config = StreamConfig {
            local: StreamLimits {
                max_data: 1 << 20,
                max_stream_data_bidi_local: 1 << 16,
                max_stream_data_bidi_remote: 1 << 16,
                max_stream_data_uni: 1 << 16,
                max_streams_bidi: 4,
                max_streams_uni: 4,
            },
            max_stream_window: 1 << 20,
            max_data_window: 1 << 22,
            send_buffer: 256 + input.index(64 << 10),
        };
        let side = if input.bool() {
            Side::Client
        } else {
            Side::Server
        };
        let mut set = Box::new(StreamSet::new(side, config));
        set.set_peer_limits(peer).expect("first limits");
        Harness {
            set,
            streams: Vec::new(),
            in_flight: Vec::new(),
            conn_limit: peer.max_data,
            peer,
            buf: vec![0u8; 1500],
        }
    }

    fn pick(&mut self, input: &mut Input<'_>) -> Option<usize> {
        if self.streams.is_empty() {
            return None;
        }
        Some(input.index(self.streams.len()))
    }

    fn open(&mut self, input: &mut Input<'_>) {
        if self.streams.len() >= MAX_STREAMS {
            return;
        }
        let dir = if input.bool() { Dir::Bi } else { Dir::Uni };
        match self.set.open_next(dir) {
            Ok(id) => {
                let limit = match dir {
                    Dir::Bi => self.peer.max_stream_data_bidi_remote,
                    Dir::Uni => self.peer.max_stream_data_uni,
                };
                self.streams.push(Model {
                    id,
                    bytes: Vec::new(),
                    finished: false,
                    fin_sent: false,
                    reset: false,
                    limit,
                    sent: 0,
                    final_size: None,
                });
            }
            Err(e) => assert_eq!(e, StreamError::StreamLimit),
        }
    }

    fn write(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        let len = input.index(6000);
        let fin = input.u8() % 4 == 0;
        let m = &mut self.streams[i];
        let at = m.bytes.len() as u64;
        let data: Vec<u8> = (at..at + len as u64).map(|o| byte(m.id, o)).collect();
        match self.set.write(m.id, &data, fin) {
            Ok(n) => {
                assert!(n <= len);
                assert!(!m.finished && !m.reset);
                m.bytes.resize(m.bytes.len() + n, Byte::Unsent);
                m.finished |= fin && n == len;
            }
            Err(StreamError::Blocked) => assert!(len > 0),
            Err(_) => assert!(m.finished || m.reset || len == 0 && !fin),
        }
    }

    fn poll(&mut self, input: &mut Input<'_>) {
        let room = input.index(1400);
        for _ in 0..input.below(8) {
            if let Some(frame) = self.set.poll_control(room) {
                assert!(frame.encoded_len() <= room);
                self.check_control(&frame);
                self.in_flight.push(Sent::Control(frame));
            } else if let Some(chunk) = self.set.poll_stream(room) {
                self.check_chunk(&chunk, room);
                self.in_flight.push(Sent::Stream(chunk));
            } else {
                break;
            }
        }
    }

    fn model(&mut self, id: StreamId) -> &mut Model {
        self.streams
            .iter_mut()
            .find(|m| m.id == id)
            .expect("a stream we opened")
    }

    fn check_chunk(&mut self, chunk: &StreamChunk, room: usize) {
        let end = chunk.offset + chunk.len as u64;
        let mut out = vec![0u8; chunk.len];
        let copied = self.set.copy_chunk(chunk, &mut out);
        assert_eq!(copied, chunk.len);
        assert!(chunk.len <= room);
        let m = self.model(chunk.id);
        assert!(!m.reset, "STREAM after RESET_STREAM");
        assert!(end <= m.bytes.len() as u64, "beyond what was written");
        assert!(
            end <= m.limit,
            "stream credit exceeded: {end} > {}",
            m.limit
        );
        for (k, o) in (chunk.offset..end).enumerate() {
            let b = &mut m.bytes[o as usize];
            assert!(
                matches!(*b, Byte::Unsent | Byte::Lost),
                "byte {o} of {:?} sent again while in flight or acknowledged",
                chunk.id
            );
            *b = Byte::InFlight;
            assert_eq!(out[k], byte(chunk.id, o));
        }
        if chunk.fin {
            assert!(m.finished && end == m.bytes.len() as u64);
            m.fin_sent = true;
        } else {
            assert!(chunk.len > 0);
        }
        m.sent = m.sent.max(end);
        let total: u64 = self.streams.iter().map(|m| m.sent).sum();
        assert!(total <= self.conn_limit, "connection credit exceeded");
    }

    fn check_control(&mut self, frame: &ControlFrame) {
        match *frame {
            ControlFrame::ResetStream { id, final_size, .. } => {
                let m = self.model(id);
                assert!(m.reset);
                assert_eq!(final_size, m.sent);
            }
            ControlFrame::StreamDataBlocked { id, limit } => {
                let m = self.model(id);
                assert_eq!(limit, m.limit);
                assert!(!m.reset);
            }
            ControlFrame::DataBlocked { limit } => assert_eq!(limit, self.conn_limit),
            ControlFrame::StreamsBlocked { dir, count } => {
                let max = match dir {
                    Dir::Bi => self.peer.max_streams_bidi,
                    Dir::Uni => self.peer.max_streams_uni,
                };
                assert_eq!(count, max);
            }
            // Receive side frames: no data was received.
            _ => panic!("unexpected {frame:?}"),
        }
    }

    /// The frame at `i` in flight is acknowledged (`acked`) or lost.
    fn settle(&mut self, i: usize, acked: bool) {
        match self.in_flight.swap_remove(i) {
            Sent::Stream(chunk) => {
                let end = chunk.offset + chunk.len as u64;
                let m = self.model(chunk.id);
                if !m.reset {
                    for o in chunk.offset..end {
                        let b = &mut m.bytes[o as usize];
                        if acked {
                            *b = Byte::Acked;
                        } else if *b != Byte::Acked {
                            *b = Byte::Lost;
                        }
                    }
                }
                if acked {
                    self.set.on_chunk_acked(&chunk).expect("ack");
                } else {
                    self.set.on_chunk_lost(&chunk).expect("loss");
                }
            }
            Sent::Control(frame) => {
                if acked {
                    self.set.on_control_acked(&frame);
                } else {
                    self.set.on_control_lost(&frame);
                }
            }
        }
    }

    fn reset(&mut self, input: &mut Input<'_>, peer_asked: bool) {
        let Some(i) = self.pick(input) else { return };
        let code = input.scaled(62);
        let id = self.streams[i].id;
        let live = self.set.get(id).and_then(|s| s.send()).is_some_and(|s| {
            matches!(
                s.state(),
                SendState::Ready | SendState::Send | SendState::DataSent
            )
        });
        let ok = if peer_asked {
            self.set.on_stop_sending(id, code).is_ok()
        } else {
            self.set.reset(id, code).is_ok()
        };
        if ok && live {
            self.streams[i].reset = true;
        }
    }

    fn step(&mut self, input: &mut Input<'_>) {
        match input.u8() % 12 {
            0 => self.open(input),
            1 | 2 => self.write(input),
            3 => {
                if let Some(i) = self.pick(input) {
                    let m = &mut self.streams[i];
                    if self.set.finish(m.id).is_ok() {
                        assert!(!m.reset);
                        m.finished = true;
                    }
                }
            }
            4 | 5 => self.poll(input),
            6 | 7 if !self.in_flight.is_empty() => {
                let i = input.index(self.in_flight.len());
                let acked = input.u8() % 4 != 0;
                self.settle(i, acked);
            }
            8 => {
                let peer_asked = input.bool();
                self.reset(input, peer_asked);
            }
            9 => {
                if let Some(i) = self.pick(input) {
                    let limit = input.scaled(20);
                    let m = &mut self.streams[i];
                    if self.set.on_max_stream_data(m.id, limit).is_ok() {
                        m.limit = m.limit.max(limit);
                    }
                }
            }
            10 => {
                let limit = input.scaled(22);
                self.set.on_max_data(limit);
                self.conn_limit = self.conn_limit.max(limit);
            }
            11 => {
                let budget = self.set.budget();
                assert!(budget.used() <= budget.limit());
            }
            _ => {}
        }
        self.check();
    }

    fn check(&mut self) {
        for m in &mut self.streams {
            let Some(send) = self.set.get(m.id).and_then(|s| s.send()) else {
                continue;
            };
            // Once a FIN or a RESET_STREAM may have told the peer, the
            // final size is fixed: everything written, or everything sent.
            let size = send.final_size();
            if m.fin_sent || m.reset {
                if let Some(old) = m.final_size {
                    assert_eq!(size, Some(old), "final size changed");
                }
                let expected = if m.reset {
                    m.sent
                } else {
                    m.bytes.len() as u64
                };
                assert_eq!(size, Some(expected));
                m.final_size = size;
            }
            let credit = send.credit();
            assert_eq!(credit.limit(), m.limit);
            assert!(credit.used() <= credit.limit());
        }
        let c = self.set.conn_send();
        assert_eq!(c.limit(), self.conn_limit);
        assert!(c.used() <= c.limit());
    }

    /// Unlimited credit, and every frame acknowledged as it is sent: all
    /// data written to a live stream is delivered.
    fn finish(&mut self) {
        self.conn_limit = self.conn_limit.max(1 << 40);
        self.set.on_max_data(self.conn_limit);
        for m in &mut self.streams {
            m.limit = m.limit.max(1 << 30);
            let _ = self.set.on_max_stream_data(m.id, m.limit);
        }
        while !self.in_flight.is_empty() {
            self.settle(0, false);
        }
        for _ in 0..100_000 {
            let len = self.buf.len();
            let sent = if let Some(frame) = self.set.poll_control(len) {
                self.check_control(&frame);
                Sent::Control(frame)
            } else if let Some(chunk) = self.set.poll_stream(len) {
                self.check_chunk(&chunk, len);
                Sent::Stream(chunk)
            } else {
                break;
            };
            self.in_flight.push(sent);
            self.settle(0, true);
        }
        self.check();
        assert!(!self.set.wants_to_send());
        for m in &self.streams {
            if m.reset {
                continue;
            }
            assert!(
                m.bytes.iter().all(|&b| b == Byte::Acked),
                "{:?} undelivered",
                m.id
            );
            let state = self.set.get(m.id).and_then(|s| s.send()).map(|s| s.state());
            if m.finished {
                assert!(m.fin_sent);
                // Closed and forgotten, or kept for its receiving part.
                assert!(
                    matches!(state, None | Some(SendState::DataRecvd)),
                    "{state:?}"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mut h = Harness::new(&mut input);
    input.run(1000, |input| h.step(input));
    h.finish();
});
