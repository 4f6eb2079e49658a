// SPDX-License-Identifier: GPL-2.0

//! Deterministic randomized round trips of every frame codec: single frames,
//! whole packets of mixed frames, ACK frames from random packet number sets
//! with range caps and room limits, and the STREAM/CRYPTO/DATAGRAM sizing.

use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::frame::{
    AckEncoder, ConnectionClose, CryptoFrame, DatagramFrame, Dir, EcnCounts, Frame, Frames,
    NewConnectionId, StreamFrame, MAX_STREAM_COUNT,
};
use quic_protocol::protocol::range_set::RangeSet;
use quic_protocol::protocol::varint::VarInt;

/// xorshift64*: small, deterministic, good enough to spread test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn usize_below(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// A varint whose encoded size is uniformly 1, 2, 4 or 8 bytes, with
    /// the edges of each size over-represented.
    fn varint(&mut self) -> VarInt {
        let bits = [6u32, 14, 30, 62][self.usize_below(4)];
        let max = (1u64 << bits) - 1;
        let v = match self.below(8) {
            0 => max,
            1 => 0,
            _ => self.next() & max,
        };
        VarInt::saturating(v)
    }

    fn varint_at_most(&mut self, max: u64) -> VarInt {
        VarInt::saturating(self.varint().into_inner().min(max))
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.next() as u8;
        }
        out
    }
}

/// A random frame other than ACK (which only decoding can build), with its
/// data borrowed from `pool`. Only a frame that ends the packet may leave
/// out its Length field.
fn random_frame<'a>(rng: &mut Rng, pool: &'a [u8], last: bool) -> Frame<'a> {
    let data = |rng: &mut Rng| {
        let len = rng.usize_below(pool.len().min(300));
        &pool[..len]
    };
    match rng.below(21) {
        0 => Frame::Padding {
            len: 1 + rng.usize_below(40),
        },
        1 => Frame::Ping,
        2 => Frame::ResetStream {
            stream_id: rng.varint(),
            error_code: rng.varint(),
            final_size: rng.varint(),
        },
        3 => Frame::StopSending {
            stream_id: rng.varint(),
            error_code: rng.varint(),
        },
        4 => {
            let data = data(rng);
            let room = VarInt::MAX.into_inner() - data.len() as u64;
            Frame::Crypto(CryptoFrame {
                offset: rng.varint_at_most(room),
                data,
            })
        }
        5 => Frame::NewToken {
            token: &pool[..1 + rng.usize_below(100)],
        },
        6 => {
            let data = data(rng);
            let room = VarInt::MAX.into_inner() - data.len() as u64;
            Frame::Stream(StreamFrame {
                stream_id: rng.varint(),
                offset: rng.varint_at_most(room),
                fin: rng.bool(),
                has_length: !last || rng.bool(),
                data,
            })
        }
        7 => Frame::MaxData { max: rng.varint() },
        8 => Frame::MaxStreamData {
            stream_id: rng.varint(),
            max: rng.varint(),
        },
        9 => Frame::MaxStreams {
            dir: if rng.bool() { Dir::Bi } else { Dir::Uni },
            max: rng.varint_at_most(MAX_STREAM_COUNT),
        },
        10 => Frame::DataBlocked {
            limit: rng.varint(),
        },
        11 => Frame::StreamDataBlocked {
            stream_id: rng.varint(),
            limit: rng.varint(),
        },
        12 => Frame::StreamsBlocked {
            dir: if rng.bool() { Dir::Bi } else { Dir::Uni },
            limit: rng.varint_at_most(MAX_STREAM_COUNT),
        },
        13 => {
            let sequence = rng.varint();
            let len = 1 + rng.usize_below(ConnectionId::MAX_LEN);
            Frame::NewConnectionId(NewConnectionId {
                sequence,
                retire_prior_to: rng.varint_at_most(sequence.into_inner()),
                id: ConnectionId::from_slice(&pool[..len]).unwrap(),
                reset_token: rng.bytes(),
            })
        }
        14 => Frame::RetireConnectionId {
            sequence: rng.varint(),
        },
        15 => Frame::PathChallenge { data: rng.bytes() },
        16 => Frame::PathResponse { data: rng.bytes() },
        17 => Frame::ConnectionClose(ConnectionClose {
            error_code: rng.varint(),
            frame_type: Some(rng.varint()),
            reason: &pool[..rng.usize_below(64)],
        }),
        18 => Frame::ConnectionClose(ConnectionClose::application(
            rng.varint(),
            &pool[..rng.usize_below(64)],
        )),
        19 => Frame::HandshakeDone,
        _ => Frame::Datagram(DatagramFrame {
            has_length: !last || rng.bool(),
            data: data(rng),
        }),
    }
}

fn pool(rng: &mut Rng) -> Vec<u8> {
    (0..1200).map(|_| rng.next() as u8).collect()
}

#[test]
fn every_frame_type_round_trips_alone() {
    let mut rng = Rng(0x853c_49e6_748f_ea9b);
    let pool = pool(&mut rng);
    let mut buf = vec![0u8; 2048];
    let mut seen = [false; 21];
    for _ in 0..50_000 {
        let frame = random_frame(&mut rng, &pool, true);
        let size = frame.encoded_size();
        // One byte short fails and writes nothing.
        if size > 0 {
            let mut w = Writer::new(&mut buf[..size - 1]);
            assert!(frame.encode(&mut w).is_err());
            assert!(w.is_empty());
        }
        let mut w = Writer::new(&mut buf[..size]);
        frame.encode(&mut w).unwrap();
        assert_eq!(w.len(), size);
        let mut frames = Frames::new(&buf[..size]);
        assert_eq!(frames.next(), Some(Ok(frame)), "{frame:?}");
        assert_eq!(frames.next(), None);
        seen[kind_index(&frame)] = true;
    }
    assert!(seen.iter().all(|s| *s), "{seen:?}");
}

fn kind_index(frame: &Frame<'_>) -> usize {
    match frame {
        Frame::Padding { .. } => 0,
        Frame::Ping => 1,
        Frame::ResetStream { .. } => 2,
        Frame::StopSending { .. } => 3,
        Frame::Crypto(_) => 4,
        Frame::NewToken { .. } => 5,
        Frame::Stream(_) => 6,
        Frame::MaxData { .. } => 7,
        Frame::MaxStreamData { .. } => 8,
        Frame::MaxStreams { .. } => 9,
        Frame::DataBlocked { .. } => 10,
        Frame::StreamDataBlocked { .. } => 11,
        Frame::StreamsBlocked { .. } => 12,
        Frame::NewConnectionId(_) => 13,
        Frame::RetireConnectionId { .. } => 14,
        Frame::PathChallenge { .. } => 15,
        Frame::PathResponse { .. } => 16,
        Frame::ConnectionClose(c) if !c.is_application() => 17,
        Frame::ConnectionClose(_) => 18,
        Frame::HandshakeDone => 19,
        Frame::Datagram(_) | Frame::Ack(_) => 20,
    }
}

#[test]
fn packets_of_mixed_frames_round_trip() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let pool = pool(&mut rng);
    let mut buf = vec![0u8; 16 * 1024];
    for _ in 0..5_000 {
        let count = 1 + rng.usize_below(12);
        let mut frames: Vec<Frame<'_>> = Vec::new();
        for i in 0..count {
            let frame = random_frame(&mut rng, &pool, i + 1 == count);
            // Adjacent PADDING frames decode as one run.
            if let (Some(Frame::Padding { len }), Frame::Padding { len: more }) =
                (frames.last_mut(), &frame)
            {
                *len += more;
                continue;
            }
            frames.push(frame);
        }
        let mut w = Writer::new(&mut buf);
        for f in &frames {
            f.encode(&mut w).unwrap();
        }
        let n = w.len();
        assert_eq!(n, frames.iter().map(Frame::encoded_size).sum::<usize>());
        let decoded: Vec<_> = Frames::new(&buf[..n]).collect::<Result<_, _>>().unwrap();
        assert_eq!(decoded, frames);
    }
}

fn random_set(rng: &mut Rng) -> RangeSet {
    let mut set = RangeSet::new();
    let span = [100u64, 10_000, 1 << 40, VarInt::MAX.into_inner()][rng.usize_below(4)];
    for _ in 0..1 + rng.below(300) {
        let start = rng.below(span);
        let max_len = if rng.bool() { 3 } else { 1000 };
        let len = 1 + rng.below(max_len);
        let end = start.saturating_add(len).min(VarInt::MAX.into_inner() + 1);
        set.insert(start..end).unwrap();
    }
    set
}

#[test]
fn ack_round_trips_from_random_sets() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut buf = vec![0u8; 4096];
    for _ in 0..3_000 {
        let set = random_set(&mut rng);
        let delay = rng.varint();
        let ecn = rng.bool().then(|| EcnCounts {
            ect0: rng.varint(),
            ect1: rng.varint(),
            ce: rng.varint(),
        });
        let max_ranges = 1 + rng.usize_below(400);
        let room = rng.usize_below(4096);
        let Some(enc) = AckEncoder::new(&set, delay, ecn, max_ranges, room) else {
            // Only when not even the first range fits.
            let all = AckEncoder::new(&set, delay, ecn, 1, usize::MAX).unwrap();
            assert!(all.encoded_size() > room);
            continue;
        };
        assert!(enc.encoded_size() <= room);
        assert!(enc.range_count() <= max_ranges.min(set.len()));
        // Maximal: one more range would not fit the cap or the room.
        if enc.range_count() < set.len() && enc.range_count() < max_ranges {
            let more = AckEncoder::new(&set, delay, ecn, enc.range_count() + 1, usize::MAX);
            assert!(more.unwrap().encoded_size() > room);
        }
        let mut w = Writer::new(&mut buf[..room]);
        enc.encode(&mut w).unwrap();
        let n = w.len();
        assert_eq!(n, enc.encoded_size());

        let mut frames = Frames::new(&buf[..n]);
        let Some(Ok(Frame::Ack(ack))) = frames.next() else {
            panic!("not an ACK");
        };
        assert_eq!(frames.next(), None);
        assert_eq!(ack.ecn(), ecn);
        assert_eq!(ack.raw_delay(), delay);
        assert_eq!(ack.largest(), set.max().unwrap());
        assert_eq!(ack.smallest(), enc.smallest());
        assert_eq!(ack.range_count(), enc.range_count() as u64);
        let expected: Vec<_> = set.iter().rev().take(enc.range_count()).collect();
        let got: Vec<_> = ack.ranges().collect();
        assert_eq!(got, expected);

        // Re-encoding the decoded frame gives the same bytes.
        let mut again = vec![0u8; n];
        let mut w = Writer::new(&mut again);
        Frame::Ack(ack).encode(&mut w).unwrap();
        assert_eq!(w.written(), &buf[..n]);
    }
}

#[test]
fn data_frame_fits_are_exact_and_maximal() {
    let mut rng = Rng(0x1357_9bdf_2468_ace0);
    let data = vec![0u8; 70_000];
    for _ in 0..100_000 {
        let stream_id = rng.varint();
        let offset = rng.varint();
        let max_available = if rng.bool() { 200 } else { 70_000 };
        let available = rng.usize_below(max_available);
        let max_room = if rng.bool() { 80 } else { 20_000 };
        let room = rng.usize_below(max_room);
        let last = rng.bool();
        let limit = (VarInt::MAX.into_inner() - offset.into_inner()) as usize;
        match StreamFrame::fit(stream_id, offset, available, room, last) {
            Some(fit) => {
                assert_eq!(fit.has_length, !last);
                let mut frame = StreamFrame {
                    stream_id,
                    offset,
                    fin: false,
                    has_length: fit.has_length,
                    data: &data[..fit.data_len],
                };
                assert!(frame.encoded_size() <= room);
                assert!(fit.data_len > 0 || available == 0);
                if fit.data_len < available.min(limit) {
                    frame.data = &data[..fit.data_len + 1];
                    assert!(frame.encoded_size() > room);
                }
            }
            None => {
                let frame = StreamFrame {
                    stream_id,
                    offset,
                    fin: false,
                    has_length: !last,
                    data: &data[..available.min(limit).min(1)],
                };
                assert!(frame.encoded_size() > room || (available > 0 && limit == 0));
            }
        }
        match CryptoFrame::fit(offset, available, room) {
            Some(n) => {
                assert!(n > 0 && n <= available);
                let frame = CryptoFrame {
                    offset,
                    data: &data[..n],
                };
                assert!(frame.encoded_size() <= room);
                if n < available.min(limit) {
                    let bigger = CryptoFrame {
                        offset,
                        data: &data[..n + 1],
                    };
                    assert!(
                        bigger.encoded_size() > room,
                        "{offset:?} {available} {room} {n}"
                    );
                }
            }
            None => {
                let one = CryptoFrame {
                    offset,
                    data: &data[..1],
                };
                assert!(available == 0 || limit == 0 || one.encoded_size() > room);
            }
        }
        let len = available.min(2000);
        let frame = DatagramFrame {
            has_length: !last,
            data: &data[..len],
        };
        assert_eq!(
            DatagramFrame::fit(len, room, last).is_some(),
            frame.encoded_size() <= room
        );
    }
}
