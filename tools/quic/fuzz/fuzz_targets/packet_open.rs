// SPDX-License-Identifier: GPL-2.0

//! Header protection removal and packet opening (RFC 9001 §5.3, §5.4;
//! RFC 9000 §17.1, Appendix A.3) with the null provider.
//!
//! The input describes up to three packets (type, version, connection IDs,
//! token, packet numbers, Fixed/Spin/Key Phase bits, payload). They are
//! sealed with null keys and coalesced into a datagram, which is split,
//! unprotected and opened: every header field, packet number and payload
//! must come back as sent, and the payload's frames are checked. Then one
//! byte of the datagram is flipped: the packets must still split, unprotect
//! and open without panicking, and whatever opens must be consistent.
//!
//! Packet number decoding is checked on its own: a number sent with the
//! length `PacketNumberLen::for_packet` picks decodes back to itself for
//! any largest received packet number between the largest acknowledged one
//! and it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_fuzz::{check_frames, Input};
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::crypto::null::{NullHeaderKey, NullPacketKey};
use quic_protocol::protocol::crypto::{CipherSuite, SAMPLE_LEN, TAG_LEN};
use quic_protocol::protocol::frame::PacketKind as FrameKind;
use quic_protocol::protocol::packet::datagram::Datagram;
use quic_protocol::protocol::packet::header::{DecodeParams, LongHeader, Packet, ShortHeader};
use quic_protocol::protocol::packet::number::{PacketNumberLen, MAX_PACKET_NUMBER};
use quic_protocol::protocol::packet::protection::seal;
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::packet::{LongType, PacketError, PacketKind};

const SUITE: CipherSuite = CipherSuite::Aes128GcmSha256;

#[derive(Debug)]
struct Sent {
    kind: PacketKind,
    version: Version,
    scid: ConnectionId,
    token: Vec<u8>,
    pn: u64,
    largest_rx: Option<u64>,
    payload: Vec<u8>,
    first_bits: u8,
    len: usize,
}

fn frame_kind(kind: PacketKind) -> FrameKind {
    match kind {
        PacketKind::Initial => FrameKind::Initial,
        PacketKind::ZeroRtt => FrameKind::ZeroRtt,
        PacketKind::Handshake => FrameKind::Handshake,
        PacketKind::OneRtt => FrameKind::OneRtt,
    }
}

fn keys(kind: PacketKind) -> (NullPacketKey, NullHeaderKey) {
    let seed = kind as u64 + 1;
    (
        NullPacketKey::new(SUITE, seed),
        NullHeaderKey::new(seed << 8),
    )
}

/// A packet number, the largest acknowledged and a largest received
/// between them, all within the packet number space, and a packet number
/// length at least the one `for_packet` picks. The largest received is
/// moved up to `pn - 1` when the sender had to use a length too short for
/// its unacknowledged range (more than 2^31 packets).
fn numbers(input: &mut Input<'_>) -> (u64, Option<u64>, PacketNumberLen) {
    let pn = input.scaled(62).min(MAX_PACKET_NUMBER);
    let acked = if pn > 0 && input.bool() {
        Some(input.below(pn))
    } else {
        None
    };
    let mut rx = match acked {
        Some(a) if input.bool() => Some(a + input.below(pn - a)),
        Some(a) => Some(a),
        None if pn > 0 && input.bool() => Some(input.below(pn)),
        None => None,
    };
    let min = PacketNumberLen::for_packet(pn, acked);
    // Sometimes a longer packet number than needed.
    let len = match input.u8() % 8 {
        0 => PacketNumberLen::Four,
        1 if min < PacketNumberLen::Three => PacketNumberLen::Three,
        _ => min,
    };
    assert!(len >= min);
    let unacked = acked.map_or(pn + 1, |a| pn - a);
    if unacked.saturating_mul(2) > 1 << (len.bytes() * 8) {
        rx = pn.checked_sub(1);
    }
    (pn, rx, len)
}

fn check_pn_decode(input: &mut Input<'_>) {
    let (pn, rx, len) = numbers(input);
    assert_eq!(len.decode(rx, len.truncate(pn)), pn, "{len:?} {rx:?}");
    // Any largest received number decodes to a nearby packet number.
    let any = input.scaled(62).min(MAX_PACKET_NUMBER);
    let got = len.decode(Some(any), input.u32());
    let win = 1u64 << (len.bytes() * 8);
    assert!(got.abs_diff(any + 1) <= win, "{got} from {any}");
}

fn build(input: &mut Input<'_>, dcid: &ConnectionId, last: bool, out: &mut Vec<u8>) -> Sent {
    let kinds = [
        PacketKind::Initial,
        PacketKind::ZeroRtt,
        PacketKind::Handshake,
        PacketKind::OneRtt,
    ];
    let mut kind = kinds[input.index(4)];
    if kind == PacketKind::OneRtt && !last {
        kind = PacketKind::Handshake;
    }
    let version = if input.bool() {
        Version::V2
    } else {
        Version::V1
    };
    let scid = ConnectionId::from_slice(input.slice(20)).expect("<= 20 bytes");
    let token = if kind == PacketKind::Initial {
        input.slice(63).to_vec()
    } else {
        Vec::new()
    };
    let (pn, largest_rx, pn_len) = numbers(input);
    let flags = input.u8();
    let fixed_bit = flags & 1 == 0;
    let (spin, key_phase) = (flags & 2 != 0, flags & 4 != 0);
    let payload = input.slice(299).to_vec();
    let mut packet = vec![0u8; 128 + token.len() + payload.len() + SAMPLE_LEN + TAG_LEN];
    let room = packet.len();
    let mut w = Writer::new(&mut packet);
    let layout = if kind == PacketKind::OneRtt {
        ShortHeader {
            dcid: *dcid,
            pn,
            pn_len,
            spin,
            key_phase,
            fixed_bit,
        }
        .encode(&mut w)
    } else {
        let ty = match kind {
            PacketKind::Initial => LongType::Initial,
            PacketKind::ZeroRtt => LongType::ZeroRtt,
            _ => LongType::Handshake,
        };
        let header = LongHeader {
            ty,
            version,
            dcid: *dcid,
            scid,
            token: &token,
            pn,
            pn_len,
            fixed_bit,
        };
        assert!(header.max_encoded_len() <= room);
        header.encode(&mut w)
    }
    .expect("a valid header");
    assert_eq!(w.len(), layout.header_len());
    w.put_bytes(&payload).expect("room for the payload");
    let pad = layout
        .min_payload_len(TAG_LEN, SAMPLE_LEN)
        .saturating_sub(payload.len());
    w.reserve(pad + TAG_LEN).expect("room for the tag").fill(0);
    let len = w.len();
    packet.truncate(len);
    let first_bits = packet[0] & 0x64;
    let (pk, hk) = keys(kind);
    seal(&mut packet, &layout, &pk, &hk).expect("seal");
    out.extend_from_slice(&packet);
    let mut payload = payload;
    payload.resize(payload.len() + pad, 0);
    Sent {
        kind,
        version,
        scid,
        token,
        pn,
        largest_rx,
        payload,
        first_bits,
        len,
    }
}

/// Splits, unprotects and opens `datagram`; with `sent`, everything must
/// come back as sent.
fn open_all(datagram: &mut [u8], params: DecodeParams, sent: &[Sent], exact: bool) {
    let total = datagram.len();
    let mut i = 0;
    let mut offset = 0;
    for packet in Datagram::new(datagram, params) {
        let expect = sent.get(i);
        i += 1;
        let p = match packet {
            Ok(Packet::Protected(p)) => p,
            Ok(other) => {
                assert!(!exact, "{other:?}");
                continue;
            }
            Err(e) => {
                assert!(!exact, "{e:?}");
                continue;
            }
        };
        let kind = p.header().kind;
        let len = p.len();
        offset += len;
        assert!(offset <= total);
        let (pk, hk) = keys(kind);
        let largest = expect.map_or(Some(MAX_PACKET_NUMBER / 2), |s| s.largest_rx);
        let e = match p.remove_header_protection(&hk, largest) {
            Ok(e) => e,
            Err(err) => {
                assert!(!exact, "{err:?}");
                assert!(matches!(err, PacketError::TooShort), "{err:?}");
                continue;
            }
        };
        let pn = e.pn();
        let key_phase = e.key_phase();
        match e.decrypt(&pk) {
            Ok(c) => {
                assert_eq!(c.pn(), pn);
                assert_eq!(c.key_phase(), key_phase);
                let range = c.payload_range();
                assert_eq!(range.end + TAG_LEN, c.len());
                let _ = check_frames(c.payload(), Some(frame_kind(kind)), &mut vec![0; c.len()]);
                if let Some(s) = expect.filter(|_| exact) {
                    assert_eq!(kind, s.kind);
                    assert_eq!(len, s.len);
                    assert_eq!(c.pn(), s.pn);
                    assert_eq!(c.payload(), &s.payload[..]);
                    assert_eq!(c.first_byte() & 0x64, s.first_bits);
                    assert_eq!(c.token(), &s.token[..]);
                    if kind != PacketKind::OneRtt {
                        assert_eq!(c.header().version, Some(s.version));
                        assert_eq!(c.header().scid, s.scid);
                    }
                }
            }
            Err(err) => {
                assert!(!exact, "{err:?}");
                assert!(
                    matches!(
                        err,
                        PacketError::Crypto(_) | PacketError::ReservedBits | PacketError::TooShort
                    ),
                    "{err:?}"
                );
            }
        }
    }
    if exact {
        assert_eq!(i, sent.len());
        assert_eq!(offset, total);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    check_pn_decode(&mut input);

    let dcid = ConnectionId::from_slice(input.slice(20)).expect("<= 20 bytes");
    let grease = input.bool();
    let params = DecodeParams {
        local_cid_len: dcid.len(),
        accept_cleared_fixed_bit: grease,
    };
    let count = 1 + input.index(3);
    let mut datagram = Vec::new();
    let mut sent = Vec::new();
    for n in 0..count {
        let s = build(&mut input, &dcid, n + 1 == count, &mut datagram);
        let last = s.kind == PacketKind::OneRtt;
        sent.push(s);
        if last {
            break;
        }
    }
    let original = datagram.clone();
    // A cleared Fixed Bit is accepted only with grease, and then the first
    // packet that has one ends the datagram.
    let cleared = sent.iter().position(|s| s.first_bits & 0x40 == 0);
    if grease || cleared.is_none() {
        open_all(&mut datagram, params, &sent, true);
    } else {
        let mut got = Vec::new();
        for p in Datagram::new(&mut datagram, params) {
            got.push(p.err());
        }
        assert_eq!(got.len(), cleared.map_or(0, |c| c + 1));
        assert_eq!(got.last(), Some(&Some(PacketError::FixedBitCleared)));
    }

    // One byte flipped.
    let mut flipped = original.clone();
    if !flipped.is_empty() {
        let at = input.index(flipped.len());
        let bits = input.u8() | 1;
        flipped[at] ^= bits;
        open_all(&mut flipped, params, &sent, false);
    }

    // The raw input as a datagram.
    let mut raw = data.to_vec();
    open_all(&mut raw, params, &[], false);
});
