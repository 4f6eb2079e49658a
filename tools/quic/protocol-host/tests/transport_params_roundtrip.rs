// SPDX-License-Identifier: GPL-2.0

//! Deterministic randomized round trips of the transport parameter codec:
//! random valid parameter sets for both roles, with and without a grease
//! parameter, and with the parameters shuffled and unknown ones mixed in as
//! a peer may send them.

use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::{Reader, Writer};
use quic_protocol::protocol::frame::MAX_STREAM_COUNT;
use quic_protocol::protocol::transport_params::{
    GreaseParameter, PreferredAddress, Side, TransportParameters, VersionInformation,
};
use quic_protocol::protocol::varint::VarInt;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }

    fn varint(&mut self) -> VarInt {
        let bits = [6u32, 14, 30, 62][self.below(4) as usize];
        VarInt::saturating(self.next() & ((1u64 << bits) - 1))
    }

    fn in_range(&mut self, lo: u64, hi: u64) -> VarInt {
        VarInt::saturating(lo + self.below(hi - lo + 1))
    }

    fn cid(&mut self, min: usize) -> ConnectionId {
        let len = min + self.below((ConnectionId::MAX_LEN - min + 1) as u64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| self.next() as u8).collect();
        ConnectionId::from_slice(&bytes).unwrap()
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.next() as u8;
        }
        out
    }
}

fn random_params(rng: &mut Rng, side: Side) -> TransportParameters {
    let mut p = TransportParameters::DEFAULT;
    let server = side == Side::Server;
    if rng.bool() {
        p.max_idle_timeout = rng.varint();
    }
    if rng.bool() {
        p.max_udp_payload_size = rng.in_range(1200, VarInt::MAX.into_inner());
    }
    p.initial_max_data = rng.varint();
    p.initial_max_stream_data_bidi_local = rng.varint();
    p.initial_max_stream_data_bidi_remote = rng.varint();
    p.initial_max_stream_data_uni = rng.varint();
    p.initial_max_streams_bidi = rng.in_range(0, MAX_STREAM_COUNT);
    p.initial_max_streams_uni = rng.in_range(0, 1000);
    p.ack_delay_exponent = rng.in_range(0, 20);
    p.max_ack_delay = rng.in_range(0, (1 << 14) - 1);
    p.disable_active_migration = rng.bool();
    p.active_connection_id_limit = rng.in_range(2, VarInt::MAX.into_inner());
    p.initial_source_connection_id = rng.bool().then(|| rng.cid(1));
    p.max_datagram_frame_size = if rng.bool() {
        rng.varint()
    } else {
        VarInt::ZERO
    };
    p.grease_quic_bit = rng.bool();
    if rng.bool() {
        let versions: Vec<u32> = (0..rng.below(17))
            .map(|_| 1 + rng.next() as u32 % 0xffff_fff0)
            .collect();
        let chosen = match (server, versions.first()) {
            (false, Some(&v)) => v,
            (false, None) => 0,
            (true, _) => 1 + rng.next() as u32 % 0xffff_fff0,
        };
        if chosen != 0 {
            p.version_information = VersionInformation::new(chosen, &versions);
        }
    }
    if server {
        p.original_destination_connection_id = rng.bool().then(|| rng.cid(0));
        p.retry_source_connection_id = rng.bool().then(|| rng.cid(0));
        p.stateless_reset_token = rng.bool().then(|| rng.bytes());
        if rng.bool() && p.initial_source_connection_id.is_some() {
            p.preferred_address = Some(PreferredAddress {
                ipv4: rng.bool().then(|| {
                    SocketAddrV4::new(
                        Ipv4Addr::from(rng.bytes::<4>()),
                        1 + rng.below(65535) as u16,
                    )
                }),
                ipv6: rng.bool().then(|| {
                    SocketAddrV6::new(
                        Ipv6Addr::from(rng.bytes::<16>()),
                        1 + rng.below(65535) as u16,
                        0,
                        0,
                    )
                }),
                id: rng.cid(1),
                reset_token: rng.bytes(),
            });
        }
    }
    p
}

fn encode(p: &TransportParameters, grease: Option<&GreaseParameter>) -> Vec<u8> {
    let size = p.encoded_size(grease);
    let mut buf = vec![0u8; size];
    let mut w = Writer::new(&mut buf);
    p.encode(grease, &mut w).unwrap();
    assert_eq!(w.len(), size);
    buf
}

#[test]
fn random_parameters_round_trip() {
    let mut rng = Rng(0x3c6e_f372_fe94_f82b);
    for i in 0..20_000 {
        let side = if i % 2 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        let p = random_params(&mut rng, side);
        p.validate(side).unwrap();
        let grease = rng.bool().then(|| GreaseParameter::from_random(rng.next()));
        let bytes = encode(&p, grease.as_ref());
        assert_eq!(TransportParameters::decode(&bytes, side), Ok(p));
        // A client's parameters are valid from a server too, not the reverse.
        if side == Side::Client {
            assert_eq!(
                TransportParameters::decode(&bytes, Side::Server).map(|q| q.initial_max_data),
                Ok(p.initial_max_data)
            );
        }
    }
}

/// Splits an encoding into its (id, value) parameters.
fn split(bytes: &[u8]) -> Vec<(VarInt, &[u8])> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let id = r.read_varint().unwrap();
        out.push((id, r.read_varint_prefixed().unwrap()));
    }
    out
}

#[test]
fn order_and_unknown_parameters_do_not_matter() {
    let mut rng = Rng(0xa54f_f53a_5f1d_36f1);
    for i in 0..5_000 {
        let side = if i % 2 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        let p = random_params(&mut rng, side);
        let bytes = encode(&p, None);
        let mut params = split(&bytes);
        // Unknown parameters: reserved ones and unassigned identifiers. Any
        // identifier may come in a longer varint than needed.
        for _ in 0..rng.below(6) {
            let id = if rng.bool() {
                31 * rng.below(1 << 20) + 27
            } else {
                0x2ab3 + rng.below(1 << 30)
            };
            params.push((
                VarInt::saturating(id),
                &bytes[..rng.below(bytes.len() as u64 + 1) as usize],
            ));
        }
        // Fisher-Yates shuffle.
        for j in (1..params.len()).rev() {
            params.swap(j, rng.below(j as u64 + 1) as usize);
        }
        let mut out = vec![0u8; bytes.len() * 3 + 64 * 24];
        let mut w = Writer::new(&mut out);
        for (id, value) in &params {
            let size = if rng.bool() { 8 } else { id.size() };
            id.encode_with_size(size, &mut w).unwrap();
            w.put_varint_prefixed(value).unwrap();
        }
        let n = w.len();
        assert_eq!(TransportParameters::decode(&out[..n], side), Ok(p));
    }
}
