// SPDX-License-Identifier: GPL-2.0

//! Checks shared by the RFC 9001 Appendix A (version 1) and RFC 9369
//! Appendix A (version 2) sample packet protection vectors, which have the
//! same structure.

use quic_host_crypto::{hex, RustCrypto};
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::crypto::initial::{initial_keys, InitialSecrets, SALT_V1, SALT_V2};
use quic_protocol::protocol::crypto::schedule::{
    hkdf_expand_label, next_secret, DirectionalKeys, Labels,
};
use quic_protocol::protocol::crypto::{CipherSuite, HashAlgorithm, Iv, Provider, Secret, Side};
use quic_protocol::protocol::packet::header::{
    decode, DecodeParams, LongHeader, Packet, ShortHeader,
};
use quic_protocol::protocol::packet::number::PacketNumberLen;
use quic_protocol::protocol::packet::protection::seal;
use quic_protocol::protocol::packet::retry::{Retry, RetryHeader};
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::packet::{LongType, PacketKind};

/// The client's Destination Connection ID in every sample.
pub(crate) const ODCID: &str = "8394c8f03e515708";
/// The server's Source Connection ID in the server samples.
pub(crate) const SERVER_SCID: &str = "f067a5502a4262b5";

/// The CRYPTO frame of the client Initial (padded to 1162 bytes).
const CLIENT_CRYPTO: &str = "
060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
0d0010000e0403050306030203080408 050806002d00020101001c0002400100
3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
75300901100f088394c8f03e51570806 048000ffff";

/// The payload of the server Initial.
const SERVER_PAYLOAD: &str = "
02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739
88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94
0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00
020304";

/// The ChaCha20-Poly1305 application secret of the short header sample.
const CHACHA_SECRET: &str = "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b";

/// The values of one version's appendix.
pub(crate) struct Vectors {
    pub(crate) version: Version,
    pub(crate) initial_secret: &'static str,
    pub(crate) client_secret: &'static str,
    pub(crate) client_key: &'static str,
    pub(crate) client_iv: &'static str,
    pub(crate) client_hp: &'static str,
    pub(crate) server_secret: &'static str,
    pub(crate) server_key: &'static str,
    pub(crate) server_iv: &'static str,
    pub(crate) server_hp: &'static str,
    pub(crate) client_header: &'static str,
    pub(crate) client_packet: &'static str,
    pub(crate) server_header: &'static str,
    pub(crate) server_packet: &'static str,
    pub(crate) retry: &'static str,
    pub(crate) chacha_key: &'static str,
    pub(crate) chacha_iv: &'static str,
    pub(crate) chacha_hp: &'static str,
    pub(crate) chacha_ku: &'static str,
    pub(crate) chacha_nonce: &'static str,
    pub(crate) chacha_packet: &'static str,
}

fn cid(s: &str) -> ConnectionId {
    ConnectionId::from_slice(&hex(s)).expect("a short CID")
}

fn expand(secret: &Secret, label: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    hkdf_expand_label(&RustCrypto, secret, label, &[], &mut out).expect("HKDF-Expand-Label");
    out
}

/// A.1: the Initial secrets and the keys derived from them.
pub(crate) fn check_keys(v: &Vectors) {
    let salt: &[u8] = if v.version == Version::V1 {
        &SALT_V1
    } else {
        &SALT_V2
    };
    let mut initial = [0u8; 32];
    RustCrypto
        .hkdf_extract(HashAlgorithm::Sha256, salt, &hex(ODCID), &mut initial)
        .expect("HKDF-Extract");
    assert_eq!(initial.to_vec(), hex(v.initial_secret));

    let secrets = InitialSecrets::new(&RustCrypto, v.version, &hex(ODCID)).expect("secrets");
    assert_eq!(secrets.client.as_bytes(), hex(v.client_secret));
    assert_eq!(secrets.server.as_bytes(), hex(v.server_secret));
    let labels = Labels::for_version(v.version).expect("labels");
    for (secret, key, iv, hp) in [
        (&secrets.client, v.client_key, v.client_iv, v.client_hp),
        (&secrets.server, v.server_key, v.server_iv, v.server_hp),
    ] {
        assert_eq!(expand(secret, labels.key, 16), hex(key));
        assert_eq!(expand(secret, labels.iv, 12), hex(iv));
        assert_eq!(expand(secret, labels.hp, 16), hex(hp));
    }
}

/// Seals a long header packet of `header` and `payload` into a fresh buffer.
fn seal_long(header: &LongHeader<'_>, payload: &[u8], side: Side) -> Vec<u8> {
    let keys = initial_keys(&RustCrypto, header.version, &hex(ODCID), side).expect("keys");
    let mut buf = vec![0u8; 1500];
    let mut w = Writer::new(&mut buf);
    let layout = header.encode(&mut w).expect("header");
    w.put_bytes(payload).expect("payload");
    w.reserve(16).expect("tag room");
    let len = w.len();
    buf.truncate(len);
    seal(&mut buf, &layout, &keys.local.packet, &keys.local.header).expect("seal");
    buf
}

/// Opens `packet` as the peer of `sender` and returns (pn, payload).
fn open_long(
    mut packet: Vec<u8>,
    sender: Side,
    version: Version,
    kind: PacketKind,
) -> (u64, Vec<u8>) {
    let receiver = match sender {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    };
    let keys = initial_keys(&RustCrypto, version, &hex(ODCID), receiver).expect("keys");
    let params = DecodeParams {
        local_cid_len: 8,
        accept_cleared_fixed_bit: false,
    };
    let (Packet::Protected(p), rest) = decode(&mut packet, &params).expect("decode") else {
        panic!("not a protected packet");
    };
    assert!(rest.is_empty());
    assert_eq!(p.header().kind, kind);
    assert_eq!(p.header().version, Some(version));
    let c = p
        .remove_header_protection(&keys.remote.header, None)
        .expect("header protection")
        .decrypt(&keys.remote.packet)
        .expect("decrypt");
    (c.pn(), c.payload().to_vec())
}

/// A.2: the client Initial, byte for byte, and back.
pub(crate) fn check_client_initial(v: &Vectors) {
    let mut payload = hex(CLIENT_CRYPTO);
    payload.resize(1162, 0);
    let header = LongHeader {
        ty: LongType::Initial,
        version: v.version,
        dcid: cid(ODCID),
        scid: ConnectionId::EMPTY,
        token: &[],
        pn: 2,
        pn_len: PacketNumberLen::Four,
        fixed_bit: true,
    };
    // The unprotected header, with the Length already patched.
    let mut buf = [0u8; 1200];
    let mut w = Writer::new(&mut buf);
    header.encode(&mut w).expect("header");
    let mut unprotected = w.written().to_vec();
    unprotected[16..18].copy_from_slice(&[0x44, 0x9e]);
    assert_eq!(unprotected, hex(v.client_header));

    let packet = seal_long(&header, &payload, Side::Client);
    assert_eq!(packet.len(), 1200);
    assert_eq!(packet, hex(v.client_packet));
    assert_eq!(
        open_long(packet, Side::Client, v.version, PacketKind::Initial),
        (2, payload)
    );
}

/// A.3: the server Initial, byte for byte, and back.
pub(crate) fn check_server_initial(v: &Vectors) {
    let payload = hex(SERVER_PAYLOAD);
    let header = LongHeader {
        ty: LongType::Initial,
        version: v.version,
        dcid: ConnectionId::EMPTY,
        scid: cid(SERVER_SCID),
        token: &[],
        pn: 1,
        pn_len: PacketNumberLen::Two,
        fixed_bit: true,
    };
    let packet = seal_long(&header, &payload, Side::Server);
    assert_eq!(packet, hex(v.server_packet));
    assert_eq!(
        open_long(packet, Side::Server, v.version, PacketKind::Initial),
        (1, payload)
    );
    // The unprotected header as printed.
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    header.encode(&mut w).expect("header");
    let mut unprotected = w.written().to_vec();
    unprotected[16..18].copy_from_slice(&[0x40, 0x75]);
    assert_eq!(unprotected, hex(v.server_header));
}

/// A.4: the Retry packet, decoded, verified and re-encoded.
pub(crate) fn check_retry(v: &Vectors) {
    let wire = hex(v.retry);
    let retry = Retry::decode(&wire, false).expect("retry");
    assert_eq!(retry.version, v.version);
    assert!(retry.dcid.is_empty());
    assert_eq!(retry.scid, cid(SERVER_SCID));
    assert_eq!(retry.token, b"token");
    retry
        .verify(&RustCrypto, &cid(ODCID))
        .expect("integrity tag");
    assert!(retry.verify(&RustCrypto, &cid(SERVER_SCID)).is_err());

    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    RetryHeader {
        version: v.version,
        dcid: ConnectionId::EMPTY,
        scid: cid(SERVER_SCID),
        token: b"token",
        unused: wire[0] & 0x0f,
        fixed_bit: true,
    }
    .encode(&RustCrypto, &cid(ODCID), &mut w)
    .expect("encode");
    assert_eq!(w.written(), &wire[..]);

    // Any flipped bit breaks the tag.
    for i in 0..wire.len() {
        let mut bad = wire.clone();
        bad[i] ^= 0x01;
        if let Ok(r) = Retry::decode(&bad, true) {
            assert!(
                r.verify(&RustCrypto, &cid(ODCID)).is_err(),
                "bit in byte {i}"
            );
        }
    }
}

/// A.5: the ChaCha20-Poly1305 short header packet.
pub(crate) fn check_chacha20_short_header(v: &Vectors) {
    const PN: u64 = 654_360_564;
    let suite = CipherSuite::ChaCha20Poly1305Sha256;
    let secret = Secret::new(HashAlgorithm::Sha256, &hex(CHACHA_SECRET)).expect("secret");
    let labels = Labels::for_version(v.version).expect("labels");
    assert_eq!(expand(&secret, labels.key, 32), hex(v.chacha_key));
    assert_eq!(expand(&secret, labels.hp, 32), hex(v.chacha_hp));
    let iv = expand(&secret, labels.iv, 12);
    assert_eq!(iv, hex(v.chacha_iv));
    let iv = Iv::new(iv.try_into().expect("12 bytes"));
    assert_eq!(iv.nonce(PN).to_vec(), hex(v.chacha_nonce));
    let ku = next_secret(&RustCrypto, v.version, &secret).expect("ku");
    assert_eq!(ku.as_bytes(), hex(v.chacha_ku));

    let keys = DirectionalKeys::new(&RustCrypto, v.version, suite, &secret).expect("keys");
    let header = ShortHeader {
        dcid: ConnectionId::EMPTY,
        pn: PN,
        pn_len: PacketNumberLen::Three,
        spin: false,
        key_phase: false,
        fixed_bit: true,
    };
    let mut buf = [0u8; 21];
    let mut w = Writer::new(&mut buf);
    let layout = header.encode(&mut w).expect("header");
    assert_eq!(w.written(), &hex("4200bff4")[..]);
    w.put_u8(0x01).expect("PING");
    w.reserve(16).expect("tag room");
    seal(&mut buf, &layout, &keys.packet, &keys.header).expect("seal");
    assert_eq!(buf.to_vec(), hex(v.chacha_packet));

    let params = DecodeParams {
        local_cid_len: 0,
        accept_cleared_fixed_bit: false,
    };
    let (Packet::Protected(p), _) = decode(&mut buf, &params).expect("decode") else {
        panic!("not a protected packet");
    };
    let c = p
        .remove_header_protection(&keys.header, Some(PN - 1))
        .expect("header protection")
        .decrypt(&keys.packet)
        .expect("decrypt");
    assert_eq!(c.pn(), PN);
    assert_eq!(c.payload(), &[0x01]);
    assert!(!c.key_phase());
}
