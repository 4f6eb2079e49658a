// SPDX-License-Identifier: GPL-2.0

//! 1-RTT packet opening across key updates (RFC 9001 §6) with the null
//! provider: `seal_one_rtt` and `decrypt_one_rtt` between two endpoints.
//!
//! The input is a script: either endpoint sends a packet (which carries an
//! acknowledgement of the largest packet it received), delivers, drops or
//! duplicates a packet in flight (in any order), initiates a key update
//! when allowed, or lets time pass so that old keys are discarded. Both
//! endpoints are honest, so the receiver must never report a key update
//! error; a packet must open exactly when the model says its keys are
//! still held (its generation is the current one, the next one, or the
//! previous one while the previous keys are kept), and the Key Phase bit
//! must follow the generation.

#![no_main]

use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use quic_fuzz::Input;
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::crypto::key_update::OneRttKeys;
use quic_protocol::protocol::crypto::null::NullProvider;
use quic_protocol::protocol::crypto::{CipherSuite, CryptoError, HashAlgorithm, Secret, TAG_LEN};
use quic_protocol::protocol::packet::header::{decode, DecodeParams, Packet, ShortHeader};
use quic_protocol::protocol::packet::number::PacketNumberLen;
use quic_protocol::protocol::packet::protection::seal_one_rtt;
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::packet::PacketError;
use quic_protocol::protocol::time::Instant;

const PTO: Duration = Duration::from_millis(100);

struct InFlight {
    pn: u64,
    generation: u64,
    bytes: Vec<u8>,
}

struct Endpoint {
    keys: OneRttKeys<NullProvider>,
    generation: u64,
    next_pn: u64,
    /// The largest packet number opened from the peer.
    largest_rx: Option<u64>,
    /// Packets on their way to the peer.
    flight: Vec<InFlight>,
}

impl Endpoint {
    fn send(&mut self) {
        let pn = self.next_pn;
        self.next_pn += 1;
        assert_eq!(self.keys.key_phase(), self.generation % 2 == 1);
        let mut packet = vec![0u8; 64];
        let mut w = Writer::new(&mut packet);
        let header = ShortHeader {
            dcid: ConnectionId::EMPTY,
            pn,
            pn_len: PacketNumberLen::Four,
            spin: false,
            key_phase: false,
            fixed_bit: true,
        };
        let layout = header.encode(&mut w).expect("header");
        // The payload: the acknowledgement this packet carries.
        let ack = self.largest_rx.map_or(u64::MAX, |l| l);
        w.put_u64(ack).expect("payload");
        w.reserve(TAG_LEN).expect("tag").fill(0);
        let len = w.len();
        packet.truncate(len);
        seal_one_rtt(&mut packet, &layout, &mut self.keys).expect("seal");
        self.flight.push(InFlight {
            pn,
            generation: self.generation,
            bytes: packet,
        });
    }

    /// Receives `p` from the peer; checks the outcome against the model.
    fn receive(&mut self, p: &InFlight, now: Instant) {
        let c = self.generation;
        let g = p.generation;
        let had_previous = self.keys.has_previous_keys();
        let expected_ok = g == c || g == c + 1 || (g + 1 == c && had_previous);
        let mut bytes = p.bytes.clone();
        let params = DecodeParams {
            local_cid_len: 0,
            accept_cleared_fixed_bit: false,
        };
        let Ok((Packet::Protected(packet), _)) = decode(&mut bytes, &params) else {
            panic!("not a 1-RTT packet");
        };
        let packet = packet
            .remove_header_protection(self.keys.remote_header_key(), self.largest_rx)
            .expect("header protection");
        assert_eq!(packet.pn(), p.pn);
        assert_eq!(packet.key_phase(), g % 2 == 1);
        match packet.decrypt_one_rtt(&mut self.keys, &NullProvider, now) {
            Ok(clear) => {
                assert!(
                    expected_ok,
                    "opened a generation {g} packet at generation {c}"
                );
                assert_eq!(clear.pn(), p.pn);
                if g == c + 1 {
                    self.generation += 1;
                }
                let ack = u64::from_be_bytes(clear.payload().try_into().expect("8 bytes"));
                if ack != u64::MAX {
                    self.keys.on_ack_received(ack);
                }
                self.largest_rx = Some(self.largest_rx.map_or(p.pn, |l| l.max(p.pn)));
            }
            Err(e) => {
                assert_eq!(e, PacketError::Crypto(CryptoError::AuthenticationFailed));
                assert!(
                    !expected_ok,
                    "generation {g} packet {} refused at generation {c}",
                    p.pn
                );
            }
        }
        assert_eq!(self.keys.key_phase(), self.generation % 2 == 1);
    }
}

fn endpoint(local: &Secret, remote: &Secret) -> Endpoint {
    let suite = CipherSuite::Aes128GcmSha256;
    let mut keys = OneRttKeys::new(&NullProvider, Version::V1, suite, local, remote).expect("keys");
    keys.on_handshake_confirmed();
    Endpoint {
        keys,
        generation: 0,
        next_pn: 0,
        largest_rx: None,
        flight: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let a = Secret::new(HashAlgorithm::Sha256, &[1; 32]).expect("secret");
    let b = Secret::new(HashAlgorithm::Sha256, &[2; 32]).expect("secret");
    let mut ends = [endpoint(&a, &b), endpoint(&b, &a)];
    let mut now = 0u64;
    let mut ops = 0;
    while !input.is_empty() && ops < 1000 {
        ops += 1;
        let op = input.u8();
        let (x, y) = if op & 0x80 == 0 { (0, 1) } else { (1, 0) };
        match op & 0x07 {
            0 | 1 => ends[x].send(),
            2 | 3 if !ends[x].flight.is_empty() => {
                let i = input.index(ends[x].flight.len());
                let p = if op & 0x40 == 0 {
                    ends[x].flight.remove(i)
                } else {
                    // A duplicate: the original stays in flight.
                    let f = &ends[x].flight[i];
                    InFlight {
                        pn: f.pn,
                        generation: f.generation,
                        bytes: f.bytes.clone(),
                    }
                };
                ends[y].receive(&p, Instant::from_nanos(now));
            }
            4 if !ends[x].flight.is_empty() => {
                let i = input.index(ends[x].flight.len());
                ends[x].flight.remove(i);
            }
            5 => {
                let e = &mut ends[x];
                if e.keys.can_initiate_update() {
                    e.keys.initiate_update(&NullProvider).expect("update");
                    e.generation += 1;
                } else {
                    assert!(e.keys.initiate_update(&NullProvider).is_err());
                }
            }
            _ => {
                now += u64::from(input.u8()) * 5_000_000;
                for e in &mut ends {
                    e.keys.on_timeout(Instant::from_nanos(now), PTO);
                }
            }
        }
        // Packet numbers stay within what a four-byte field recovers.
        assert!(ends[x].next_pn < 1 << 20);
    }
});
