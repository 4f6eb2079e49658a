// SPDX-License-Identifier: GPL-2.0

//! Writes the seed corpora of the fuzz targets into `corpus/<target>/`.
//!
//! Seeds are the RFC examples (RFC 9000 A.1 varints, the RFC 9001 A.2–A.5
//! and RFC 9369 A.1–A.5 packets, read from the host test vectors), frames
//! and transport parameters built by the core's encoders, and a few
//! deterministic pseudo-random scripts for the stateful targets. Run it from
//! `tools/quic/fuzz` with `cargo run --example seed_corpus` after changing
//! a target's input format; the files are committed.

use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::path::Path;

use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::frame::{
    AckEncoder, ConnectionClose, CryptoFrame, DatagramFrame, Dir, EcnCounts, Frame,
    NewConnectionId, StreamFrame,
};
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::packet::version_negotiation::VersionNegotiation;
use quic_protocol::protocol::range_set::RangeSet;
use quic_protocol::protocol::transport_params::{
    PreferredAddress, TransportParameters, VersionInformation,
};
use quic_protocol::protocol::varint::VarInt;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii_hexdigit())
        .map(|b| (b as char).to_digit(16).unwrap() as u8)
        .collect();
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

/// The hex string after `name:` or `const NAME: &str =` in a test source.
fn vector(source: &str, name: &str) -> Vec<u8> {
    let start = source
        .find(&format!("{name}: \""))
        .or_else(|| source.find(&format!("{name}: &str = \"")))
        .unwrap_or_else(|| panic!("no {name}"));
    let rest = &source[start..];
    let open = rest.find('"').unwrap() + 1;
    let close = open + rest[open..].find('"').unwrap();
    hex(&rest[open..close])
}

struct Corpus<'a>(&'a Path);

impl Corpus<'_> {
    fn put(&self, target: &str, name: &str, data: &[u8]) {
        let dir = self.0.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), data).unwrap();
    }
}

fn encode_frame(f: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; f.encoded_size()];
    let mut w = Writer::new(&mut buf);
    f.encode(&mut w).unwrap();
    buf
}

fn vi(v: u64) -> VarInt {
    VarInt::from_u64(v).unwrap()
}

fn frames() -> Vec<(&'static str, Vec<u8>)> {
    let cid = ConnectionId::from_slice(&[0xc1, 0xc2, 0xc3, 0xc4]).unwrap();
    let mut set = RangeSet::new();
    for r in [0..3, 5..9, 12..13, 1000..1010] {
        set.insert(r).unwrap();
    }
    let ack = |ecn: Option<EcnCounts>| {
        let enc = AckEncoder::new(&set, vi(25), ecn, 16, 1200).unwrap();
        let mut buf = vec![0u8; enc.encoded_size()];
        enc.encode(&mut Writer::new(&mut buf)).unwrap();
        buf
    };
    let ecn = EcnCounts {
        ect0: vi(4),
        ect1: vi(0),
        ce: vi(1),
    };
    let list: Vec<(&str, Frame<'_>)> = vec![
        ("padding", Frame::Padding { len: 3 }),
        ("ping", Frame::Ping),
        (
            "reset_stream",
            Frame::ResetStream {
                stream_id: vi(4),
                error_code: vi(7),
                final_size: vi(1 << 20),
            },
        ),
        (
            "stop_sending",
            Frame::StopSending {
                stream_id: vi(8),
                error_code: vi(3),
            },
        ),
        (
            "crypto",
            Frame::Crypto(CryptoFrame {
                offset: vi(300),
                data: b"client hello",
            }),
        ),
        ("new_token", Frame::NewToken { token: b"token" }),
        (
            "stream",
            Frame::Stream(StreamFrame {
                stream_id: vi(4),
                offset: vi(70_000),
                fin: false,
                has_length: true,
                data: b"stream data",
            }),
        ),
        (
            "stream_fin",
            Frame::Stream(StreamFrame {
                stream_id: vi(0),
                offset: vi(0),
                fin: true,
                has_length: false,
                data: b"last",
            }),
        ),
        ("max_data", Frame::MaxData { max: vi(1 << 30) }),
        (
            "max_stream_data",
            Frame::MaxStreamData {
                stream_id: vi(2),
                max: vi(65536),
            },
        ),
        (
            "max_streams",
            Frame::MaxStreams {
                dir: Dir::Bi,
                max: vi(100),
            },
        ),
        ("data_blocked", Frame::DataBlocked { limit: vi(1 << 20) }),
        (
            "stream_data_blocked",
            Frame::StreamDataBlocked {
                stream_id: vi(6),
                limit: vi(4096),
            },
        ),
        (
            "streams_blocked",
            Frame::StreamsBlocked {
                dir: Dir::Uni,
                limit: vi(3),
            },
        ),
        (
            "new_connection_id",
            Frame::NewConnectionId(NewConnectionId {
                sequence: vi(2),
                retire_prior_to: vi(1),
                id: cid,
                reset_token: [0xab; 16],
            }),
        ),
        (
            "retire_connection_id",
            Frame::RetireConnectionId { sequence: vi(1) },
        ),
        (
            "path_challenge",
            Frame::PathChallenge { data: *b"8 bytes!" },
        ),
        ("path_response", Frame::PathResponse { data: *b"8 bytes!" }),
        (
            "connection_close",
            Frame::ConnectionClose(ConnectionClose {
                error_code: vi(0x0a),
                frame_type: Some(vi(0x18)),
                reason: b"bad frame",
            }),
        ),
        (
            "application_close",
            Frame::ConnectionClose(ConnectionClose::application(vi(42), b"bye")),
        ),
        ("handshake_done", Frame::HandshakeDone),
        (
            "datagram",
            Frame::Datagram(DatagramFrame {
                has_length: true,
                data: b"datagram",
            }),
        ),
    ];
    let mut out: Vec<_> = list.iter().map(|(n, f)| (*n, encode_frame(f))).collect();
    out.push(("ack", ack(None)));
    out.push(("ack_ecn", ack(Some(ecn))));
    let all: Vec<u8> = out.iter().flat_map(|(_, b)| b.clone()).collect();
    out.push(("all", all));
    out
}

fn transport_params() -> Vec<(&'static str, Vec<u8>)> {
    let cid = |b: u8, n: usize| ConnectionId::from_slice(&vec![b; n]).unwrap();
    let client = TransportParameters {
        max_idle_timeout: vi(30_000),
        initial_max_data: vi(1 << 20),
        initial_max_stream_data_bidi_local: vi(1 << 18),
        initial_max_stream_data_bidi_remote: vi(1 << 18),
        initial_max_stream_data_uni: vi(1 << 18),
        initial_max_streams_bidi: vi(100),
        initial_max_streams_uni: vi(3),
        active_connection_id_limit: vi(4),
        initial_source_connection_id: Some(cid(1, 8)),
        max_datagram_frame_size: vi(1200),
        grease_quic_bit: true,
        version_information: VersionInformation::new(1, &[1, 0x6b33_43cf]),
        ..TransportParameters::DEFAULT
    };
    let server = TransportParameters {
        original_destination_connection_id: Some(cid(2, 8)),
        stateless_reset_token: Some([7; 16]),
        max_udp_payload_size: vi(1472),
        ack_delay_exponent: vi(5),
        max_ack_delay: vi(40),
        disable_active_migration: true,
        preferred_address: Some(PreferredAddress {
            ipv4: Some(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 443)),
            ipv6: Some(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 4433, 0, 0)),
            id: cid(3, 8),
            reset_token: [9; 16],
        }),
        retry_source_connection_id: Some(cid(4, 4)),
        ..client
    };
    let enc = |p: &TransportParameters| {
        let mut buf = vec![0u8; p.encoded_size(None)];
        p.encode(None, &mut Writer::new(&mut buf)).unwrap();
        buf
    };
    vec![("client", enc(&client)), ("server", enc(&server))]
}

/// xorshift64*: deterministic pseudo-random scripts.
fn scripts(seed: u64, count: usize, len: usize) -> Vec<Vec<u8>> {
    let mut s = seed | 1;
    (0..count)
        .map(|i| {
            let n = len / 4 + (len * i) / count;
            (0..n)
                .map(|_| {
                    s ^= s >> 12;
                    s ^= s << 25;
                    s ^= s >> 27;
                    (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
                })
                .collect()
        })
        .collect()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = Corpus(&root.join("corpus"));
    let tests = root.join("../protocol-host/tests");
    let v1 = fs::read_to_string(tests.join("rfc9001_vectors.rs")).unwrap();
    let v2 = fs::read_to_string(tests.join("rfc9369_vectors.rs")).unwrap();
    let common = fs::read_to_string(tests.join("rfc9001_common/vectors.rs")).unwrap();

    // RFC 9000 A.1.
    let varints = ["c2197c5eff14e88c", "9d7f3e7d", "7bbd", "25", "4025"];
    for v in varints {
        corpus.put("varint", &format!("rfc9000-a1-{v}"), &hex(v));
    }
    corpus.put("varint", "rfc9000-a1-all", &hex(&varints.concat()));

    // Frames.
    for (name, bytes) in frames() {
        corpus.put("frames", name, &bytes);
        if name.starts_with("ack") {
            let mut seed = vec![u8::from(name == "ack_ecn")];
            seed.extend_from_slice(&bytes[1..]);
            corpus.put("ack_frame", name, &seed);
        }
    }
    corpus.put(
        "frames",
        "rfc9001-a2-client-crypto",
        &vector(&common, "CLIENT_CRYPTO"),
    );
    corpus.put(
        "frames",
        "rfc9001-a3-server-payload",
        &vector(&common, "SERVER_PAYLOAD"),
    );
    // ACK frames with many ranges and large packet numbers.
    let mut set = RangeSet::new();
    for i in 0..40u64 {
        set.insert(i * 1000..i * 1000 + 1 + i).unwrap();
    }
    set.insert((1 << 40)..(1 << 40) + 3).unwrap();
    let enc = AckEncoder::new(&set, vi(1 << 20), None, 64, 1200).unwrap();
    let mut buf = vec![0u8; enc.encoded_size()];
    enc.encode(&mut Writer::new(&mut buf)).unwrap();
    buf[0] = 0;
    corpus.put("ack_frame", "many-ranges", &buf);

    // Transport parameters: the RFC 9001 A.2 client's, and built ones.
    let hello = vector(&common, "CLIENT_CRYPTO");
    let ext = hello.windows(2).position(|w| w == [0x00, 0x39]).unwrap();
    let len = usize::from(u16::from_be_bytes([hello[ext + 2], hello[ext + 3]]));
    corpus.put(
        "transport_params",
        "rfc9001-a2-client",
        &hello[ext + 4..ext + 4 + len],
    );
    for (name, bytes) in transport_params() {
        corpus.put("transport_params", name, &bytes);
    }

    // Packets: one parameter byte (local connection ID length, grease
    // bit), then the datagram.
    let mut packets = Vec::new();
    for (rfc, src) in [("rfc9001", &v1), ("rfc9369", &v2)] {
        packets.push((
            format!("{rfc}-client-initial"),
            8u8,
            vector(src, "client_packet"),
        ));
        packets.push((
            format!("{rfc}-server-initial"),
            8,
            vector(src, "server_packet"),
        ));
        packets.push((format!("{rfc}-retry"), 8, vector(src, "retry")));
        packets.push((
            format!("{rfc}-chacha-short"),
            0,
            vector(src, "chacha_packet"),
        ));
    }
    let mut vn = vec![0u8; 64];
    let mut w = Writer::new(&mut vn);
    VersionNegotiation::encode(
        &mut w,
        &[1, 2, 3, 4],
        &[5, 6, 7, 8, 9, 10, 11, 12],
        0x40,
        &[Version::V1, Version::V2, Version::reserved(7)],
    )
    .unwrap();
    let n = w.len();
    vn.truncate(n);
    packets.push(("version-negotiation".into(), 4, vn));
    packets.push((
        "unsupported-version".into(),
        4,
        hex("c0 1a2a3a4a 04 01020304 02 0506 ffff"),
    ));
    for (name, params, bytes) in &packets {
        let mut seed = vec![*params];
        seed.extend_from_slice(bytes);
        corpus.put("packet_header", name, &seed);
        corpus.put("datagram", name, &seed);
        // Grease accepted.
        seed[0] |= 0x80;
        corpus.put("packet_header", &format!("{name}-grease"), &seed);
    }
    // A coalesced datagram: the server's Initial then a short header packet.
    let mut coalesced = vec![0u8];
    coalesced.extend_from_slice(&vector(&v1, "server_packet"));
    coalesced.extend_from_slice(&vector(&v1, "chacha_packet"));
    corpus.put("datagram", "rfc9001-coalesced", &coalesced);

    // Scripts for the stateful targets.
    let stateful = [
        ("packet_open", 0x6a09_e667_f3bc_c908u64, 400usize),
        ("cid", 0xbb67_ae85_84ca_a73b, 300),
        ("stream_recv", 0x3c6e_f372_fe94_f82b, 400),
        ("crypto_stream", 0xa54f_f53a_5f1d_36f1, 400),
        ("range_set", 0x510e_527f_ade6_82d1, 300),
        ("key_update", 0x9b05_688c_2b3e_6c1f, 300),
        ("connection", 0x1f83_d9ab_fb41_bd6b, 600),
        ("stream_send", 0x5be0_cd19_137e_2179, 400),
        ("recovery", 0xcbbb_9d5d_c105_9ed8, 400),
    ];
    // Key updates taking turns: send, deliver both ways, update, with time
    // passing so that old keys go.
    let round = [
        0x00, 0x02, 0x00, 0x80, 0x82, 0x00, 0x05, 0x00, 0x00, 0x02, 0x00, 0x80, 0x82, 0x00, 0x85,
        0x80, 0x80, 0x82, 0x01, 0x00, 0x02, 0x00, 0x06, 0xff,
    ];
    corpus.put("key_update", "updates", &round.repeat(4));
    // Connection scripts: default configurations, the handshake, then each
    // frame injected into the server and into the client in a 1-RTT packet,
    // with the answers exchanged between the two.
    for (name, frame) in frames() {
        let mut script = vec![0, 0, 1];
        for to in [1u8, 0] {
            let len = u16::try_from(frame.len()).unwrap().to_be_bytes();
            script.extend_from_slice(&[to, 10, len[0], len[1]]);
            script.extend_from_slice(&frame);
            script.push(3);
            for _ in 0..3 {
                // Both flush, then deliver the oldest datagram twice.
                script.extend_from_slice(&[0, 5, 1, 5, 0, 0, 1, 1, 3, 0, 0, 1, 1, 3]);
            }
        }
        corpus.put("connection", name, &script);
    }
    for (target, seed, len) in stateful {
        for (i, script) in scripts(seed, 8, len).into_iter().enumerate() {
            corpus.put(target, &format!("script-{i}"), &script);
        }
    }
}
