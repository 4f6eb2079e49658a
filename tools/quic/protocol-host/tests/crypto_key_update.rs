// SPDX-License-Identifier: GPL-2.0

//! 1-RTT key update (RFC 9001 §6) and AEAD limits (§6.6) with real
//! ciphers: whole packets between two endpoints, for every cipher suite the
//! host provider implements and both QUIC versions.

use quic_host_crypto::RustCrypto;
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::crypto::key_update::OneRttKeys;
use quic_protocol::protocol::crypto::{CipherSuite, CryptoError, IntegrityLimit, Secret};
use quic_protocol::protocol::packet::header::{decode, DecodeParams, Packet, ShortHeader};
use quic_protocol::protocol::packet::number::PacketNumberLen;
use quic_protocol::protocol::packet::protection::seal_one_rtt;
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::packet::PacketError;
use quic_protocol::protocol::time::Instant;
use std::time::Duration;

const SUITES: [CipherSuite; 3] = [
    CipherSuite::Aes128GcmSha256,
    CipherSuite::Aes256GcmSha384,
    CipherSuite::ChaCha20Poly1305Sha256,
];
const PTO: Duration = Duration::from_millis(50);
const PARAMS: DecodeParams = DecodeParams {
    local_cid_len: 8,
    accept_cleared_fixed_bit: false,
};

struct Endpoint {
    keys: OneRttKeys<RustCrypto>,
    next_pn: u64,
    largest_received: Option<u64>,
    largest_acked: Option<u64>,
    integrity: IntegrityLimit,
}

impl Endpoint {
    fn pair(version: Version, suite: CipherSuite) -> (Endpoint, Endpoint) {
        let len = suite.hash().output_len();
        let a = Secret::new(suite.hash(), &[0x11; 48][..len]).expect("secret");
        let b = Secret::new(suite.hash(), &[0x22; 48][..len]).expect("secret");
        let new = |local: &Secret, remote: &Secret| Endpoint {
            keys: OneRttKeys::new(&RustCrypto, version, suite, local, remote).expect("keys"),
            next_pn: 0,
            largest_received: None,
            largest_acked: None,
            integrity: IntegrityLimit::new(),
        };
        let mut client = new(&a, &b);
        let mut server = new(&b, &a);
        client.keys.on_handshake_confirmed();
        server.keys.on_handshake_confirmed();
        (client, server)
    }

    /// A protected 1-RTT packet carrying the packet number as payload.
    fn send(&mut self) -> (u64, Vec<u8>) {
        let pn = self.next_pn;
        self.next_pn += 1;
        let header = ShortHeader {
            dcid: ConnectionId::from_slice(&[7; 8]).expect("cid"),
            pn,
            pn_len: PacketNumberLen::for_packet(pn, self.largest_acked),
            spin: false,
            key_phase: false,
            fixed_bit: true,
        };
        let mut buf = vec![0u8; 64];
        let mut w = Writer::new(&mut buf);
        let layout = header.encode(&mut w).expect("header");
        w.put_u64(pn).expect("payload");
        w.reserve(16).expect("tag room");
        let len = w.len();
        buf.truncate(len);
        seal_one_rtt(&mut buf, &layout, &mut self.keys).expect("seal");
        (pn, buf)
    }

    /// Receives a packet; on success returns its packet number and
    /// acknowledges it to `peer` (as an ACK frame would).
    fn recv(&mut self, now: u64, mut packet: Vec<u8>) -> Result<u64, PacketError> {
        let (Packet::Protected(p), _) = decode(&mut packet, &PARAMS)? else {
            return Err(PacketError::Malformed);
        };
        let e = p.remove_header_protection(self.keys.remote_header_key(), self.largest_received)?;
        let result = e.decrypt_one_rtt(&mut self.keys, &RustCrypto, Instant::from_nanos(now));
        let c = match result {
            Err(PacketError::Crypto(CryptoError::AuthenticationFailed)) => {
                self.integrity
                    .on_authentication_failure(self.keys.suite())
                    .map_err(PacketError::Crypto)?;
                return Err(PacketError::Crypto(CryptoError::AuthenticationFailed));
            }
            other => other?,
        };
        assert_eq!(c.payload(), &c.pn().to_be_bytes());
        self.largest_received = Some(self.largest_received.map_or(c.pn(), |l| l.max(c.pn())));
        Ok(c.pn())
    }

    fn acked(&mut self, pn: u64) {
        self.largest_acked = Some(self.largest_acked.map_or(pn, |l| l.max(pn)));
        self.keys.on_ack_received(pn);
    }
}

/// One round trip: `a` sends, `b` acknowledges, `a` gets the ACK.
fn round_trip(a: &mut Endpoint, b: &mut Endpoint, now: u64) {
    let (pn, p) = a.send();
    assert_eq!(b.recv(now, p), Ok(pn));
    let (ack_pn, ack) = b.send();
    assert_eq!(a.recv(now, ack), Ok(ack_pn));
    a.acked(pn);
    b.acked(ack_pn);
}

#[test]
fn repeated_updates_every_suite_and_version() {
    for version in Version::SUPPORTED {
        for suite in SUITES {
            let (mut c, mut s) = Endpoint::pair(version, suite);
            for update in 0..6u64 {
                let now = update * 1_000_000_000;
                round_trip(&mut c, &mut s, now);
                let (initiator, responder) = if update % 2 == 0 {
                    (&mut c, &mut s)
                } else {
                    (&mut s, &mut c)
                };
                assert!(initiator.keys.can_initiate_update());
                let phase = initiator.keys.key_phase();
                initiator.keys.initiate_update(&RustCrypto).expect("update");
                assert_eq!(initiator.keys.key_phase(), !phase);
                // A second update must wait for an acknowledgment.
                assert_eq!(
                    initiator.keys.initiate_update(&RustCrypto),
                    Err(CryptoError::KeyUpdateNotPermitted)
                );
                round_trip(initiator, responder, now + 1);
                assert_eq!(responder.keys.key_phase(), !phase);
                // Both drop their old keys three PTOs later.
                let later = Instant::from_nanos(now + 2) + PTO * 3;
                c.keys.on_timeout(later, PTO);
                s.keys.on_timeout(later, PTO);
                assert!(!c.keys.has_previous_keys());
                assert!(!s.keys.has_previous_keys());
            }
        }
    }
}

#[test]
fn reordered_packets_across_an_update() {
    let (mut c, mut s) = Endpoint::pair(Version::V1, CipherSuite::Aes128GcmSha256);
    round_trip(&mut c, &mut s, 0);
    let (old_pn, old) = c.send();
    c.keys.initiate_update(&RustCrypto).expect("update");
    let (new_pn, new) = c.send();
    // The new-phase packet arrives first and triggers the server's update...
    assert_eq!(s.recv(1, new), Ok(new_pn));
    assert!(s.keys.key_phase());
    // ...then the delayed old-phase one still opens with the previous keys.
    assert_eq!(s.recv(2, old), Ok(old_pn));
    // After the retention period, an old-phase packet can no longer be read.
    let (_, replay) = {
        let mut old_keys = Endpoint::pair(Version::V1, CipherSuite::Aes128GcmSha256).0;
        old_keys.next_pn = 100;
        old_keys.send()
    };
    s.keys.on_timeout(Instant::from_nanos(1) + PTO * 3, PTO);
    assert!(!s.keys.has_previous_keys());
    assert_eq!(
        s.recv(3, replay),
        Err(PacketError::Crypto(CryptoError::AuthenticationFailed))
    );
}

#[test]
fn tampered_packets_are_rejected_and_counted() {
    let (mut c, mut s) = Endpoint::pair(Version::V2, CipherSuite::ChaCha20Poly1305Sha256);
    let (_, packet) = c.send();
    // Flip each byte after the header in turn: the tag never verifies.
    let header_len = 1 + 8 + 1;
    for i in header_len..packet.len() {
        let mut bad = packet.clone();
        bad[i] ^= 0x20;
        assert_eq!(
            s.recv(0, bad),
            Err(PacketError::Crypto(CryptoError::AuthenticationFailed))
        );
    }
    assert_eq!(s.integrity.failures(), (packet.len() - header_len) as u64);
    // The genuine packet is still accepted.
    assert_eq!(s.recv(0, packet), Ok(0));
}

#[test]
fn sealing_counts_packets_per_key() {
    let (mut c, mut s) = Endpoint::pair(Version::V1, CipherSuite::Aes256GcmSha384);
    for _ in 0..10 {
        round_trip(&mut c, &mut s, 0);
    }
    assert_eq!(c.keys.packets_sealed(), 10);
    assert!(!c.keys.should_update());
    c.keys.initiate_update(&RustCrypto).expect("update");
    assert_eq!(c.keys.packets_sealed(), 0);
}
