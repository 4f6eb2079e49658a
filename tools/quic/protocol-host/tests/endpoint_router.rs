// SPDX-License-Identifier: GPL-2.0

//! The endpoint's router with real crypto: rustls ClientHellos routed by
//! ALPN, the Retry round trip, refusals and Version Negotiation decoded as a
//! client would, stateless resets, the routing table at scale, and a
//! never-panic run of the classifier over mutated datagrams.

#[path = "endpoint_common/datagrams.rs"]
mod datagrams;

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use datagrams::{client_initials, rustls_client_hello};
use quic_host_crypto::{Aead, RustCrypto};
use quic_protocol::protocol::cid::reset::{token_candidate, ResetToken};
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::crypto::initial::initial_keys;
use quic_protocol::protocol::crypto::{CipherSuite, Iv, Provider, Side};
use quic_protocol::protocol::endpoint::alpn::{AlpnList, Selection};
use quic_protocol::protocol::endpoint::demux::{
    Decision, DropReason, Router, RouterConfig, NO_APPLICATION_PROTOCOL,
};
use quic_protocol::protocol::endpoint::listener::Listener;
use quic_protocol::protocol::endpoint::response::{
    write_refusal, write_retry, write_stateless_reset, write_version_negotiation,
};
use quic_protocol::protocol::endpoint::routes::{RouteKey, Routes};
use quic_protocol::protocol::error::TransportErrorCode;
use quic_protocol::protocol::frame::{Frame, Frames};
use quic_protocol::protocol::packet::header::{decode, DecodeParams, Packet};
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::time::Instant;
use std::time::Duration;

const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)), 61000);
const T0: Instant = Instant::from_nanos(1 << 42);

fn token_key() -> Aead {
    RustCrypto
        .packet_key(
            CipherSuite::Aes128GcmSha256,
            &[0x3c; 16],
            Iv::new([0x11; 12]),
        )
        .expect("token key")
}

fn cid(bytes: &[u8]) -> ConnectionId {
    ConnectionId::from_slice(bytes).expect("cid")
}

/// A router with an "smb" listener (1) and an "h3" listener (2).
fn router(validate_h3: bool) -> Router<u64, u8> {
    let mut r = Router::new(RouterConfig::new(8), [0xdead, 0xbeef]);
    let smb = AlpnList::from_socket_option(b"smb").expect("alpn");
    let h3 = AlpnList::from_socket_option(b"h3").expect("alpn");
    r.listeners
        .add(Listener::new(1, smb, false, 16))
        .expect("add");
    r.listeners
        .add(Listener::new(2, h3, validate_h3, 16))
        .expect("add");
    r
}

fn first_initial(alpn: &[&[u8]], dcid: &ConnectionId, token: &[u8]) -> Vec<Vec<u8>> {
    let hello = rustls_client_hello(rustls::quic::Version::V1, alpn, "example.com", vec![]);
    client_initials(Version::V1, dcid, &cid(&[0xc1; 4]), token, &hello)
}

#[test]
fn rustls_clients_reach_the_listener_of_their_alpn() {
    let key = token_key();
    let mut r = router(false);
    for (alpn, listener) in [
        (&[&b"h3"[..]][..], 2u8),
        (&[b"smb", b"h3"], 1),
        (&[b"x", b"h3"], 2),
    ] {
        let dcid = cid(&[listener, 0xd1, 2, 3, 4, 5, 6, 7, alpn.len() as u8]);
        let d = first_initial(alpn, &dcid, b"").remove(0);
        let Decision::NewConnection(new) = r.classify(&RustCrypto, |_| Some(&key), &d, CLIENT, T0)
        else {
            panic!("no new connection for {alpn:?}");
        };
        assert_eq!(new.listener, listener);
        assert_eq!(new.alpn, Selection::Protocol(0));
        assert_eq!(new.odcid, dcid);
    }
    // Nobody serves "ftp": refused with no_application_protocol, which the
    // client can read.
    let dcid = cid(&[9; 8]);
    let d = first_initial(&[b"ftp"], &dcid, b"").remove(0);
    let Decision::Refuse(refusal) = r.classify(&RustCrypto, |_| Some(&key), &d, CLIENT, T0) else {
        panic!("not refused");
    };
    let mut out = vec![0u8; 1500];
    let n = write_refusal(&RustCrypto, &refusal, &cid(&[0x5e; 8]), &mut out).expect("refusal");
    let keys = initial_keys(&RustCrypto, Version::V1, dcid.as_slice(), Side::Client).expect("keys");
    let params = DecodeParams {
        local_cid_len: 4,
        accept_cleared_fixed_bit: false,
    };
    let (Packet::Protected(p), _) = decode(&mut out[..n], &params).expect("decode") else {
        panic!("not a protected packet");
    };
    let clear = p
        .remove_header_protection(&keys.remote.header, None)
        .and_then(|p| p.decrypt(&keys.remote.packet))
        .expect("the client opens the refusal");
    let Some(Ok(Frame::ConnectionClose(close))) = Frames::new(clear.payload()).next() else {
        panic!("no CONNECTION_CLOSE");
    };
    assert_eq!(close.error_code.into_inner(), NO_APPLICATION_PROTOCOL.0);
}

#[test]
fn retry_round_trip_with_real_crypto() {
    let key = token_key();
    let mut r = router(true);
    let odcid = cid(&[0x0d; 12]);
    let d = first_initial(&[b"h3"], &odcid, b"").remove(0);
    let Decision::SendRetry(req) = r.classify(&RustCrypto, |_| Some(&key), &d, CLIENT, T0) else {
        panic!("no Retry");
    };
    let new_scid = cid(&[0x5c; 8]);
    let mut out = vec![0u8; 256];
    let n = write_retry(&RustCrypto, &req, &new_scid, &key, 0, 1, T0, &mut out).expect("retry");
    // The client checks the integrity tag against its original DCID.
    let params = DecodeParams {
        local_cid_len: 4,
        accept_cleared_fixed_bit: false,
    };
    let (Packet::Retry(retry), _) = decode(&mut out[..n], &params).expect("decode") else {
        panic!("not a Retry");
    };
    retry
        .verify(&RustCrypto, &odcid)
        .expect("Retry integrity tag");
    assert!(retry.verify(&RustCrypto, &new_scid).is_err());
    assert_eq!(retry.scid, new_scid);
    let token = retry.token.to_vec();
    // It comes back to the new SCID with the token.
    let later = T0 + Duration::from_millis(80);
    let d = first_initial(&[b"h3"], &new_scid, &token).remove(0);
    let Decision::NewConnection(new) = r.classify(&RustCrypto, |_| Some(&key), &d, CLIENT, later)
    else {
        panic!("no connection after Retry");
    };
    assert_eq!(
        (new.listener, new.odcid, new.retry_scid),
        (2, odcid, Some(new_scid))
    );
    assert!(new.address_validated);
    // The token is bound to the client's address and port.
    let moved = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)), 61001);
    assert!(matches!(
        r.classify(&RustCrypto, |_| Some(&key), &d, moved, later),
        Decision::Refuse(refusal) if refusal.code == TransportErrorCode::INVALID_TOKEN
    ));
}

#[test]
fn multi_datagram_hello_through_the_router() {
    let key = token_key();
    let mut r = router(false);
    let mut params = vec![0x80, 0x00, 0x2a, 0x3b, 0x4b, 0xb8];
    params.extend(std::iter::repeat_n(7, 3000));
    let hello = rustls_client_hello(rustls::quic::Version::V2, &[b"smb"], "example.com", params);
    let dcid = cid(&[0x77; 8]);
    let datagrams = client_initials(Version::V2, &dcid, &cid(&[1]), b"", &hello);
    let (last, first) = datagrams.split_last().expect("datagrams");
    let mut id = None;
    for d in first {
        match r.classify(&RustCrypto, |_| Some(&key), d, CLIENT, T0) {
            Decision::Buffered(p) => assert_eq!(*id.get_or_insert(p), p),
            other => panic!("{other:?}"),
        }
    }
    let Decision::NewConnection(new) = r.classify(&RustCrypto, |_| Some(&key), last, CLIENT, T0)
    else {
        panic!("no connection");
    };
    assert_eq!(
        (new.listener, new.version, new.pending),
        (1, Version::V2, id)
    );
    assert_eq!(r.poll_expired_pending(T0 + Duration::from_secs(60)), None);
}

#[test]
fn version_negotiation_and_stateless_reset() {
    let key = token_key();
    let mut r = router(false);
    let mut d = first_initial(&[b"h3"], &cid(&[3; 8]), b"").remove(0);
    d[1..5].copy_from_slice(&0xff00_001du32.to_be_bytes());
    let Decision::SendVersionNegotiation { dcid, scid } =
        r.classify(&RustCrypto, |_| Some(&key), &d, CLIENT, T0)
    else {
        panic!("no VN");
    };
    let mut out = vec![0u8; 128];
    let n =
        write_version_negotiation(dcid, scid, &Version::SUPPORTED, 0xabcd, &mut out).expect("VN");
    let params = DecodeParams {
        local_cid_len: 4,
        accept_cleared_fixed_bit: false,
    };
    let (Packet::VersionNegotiation(vn), _) = decode(&mut out[..n], &params).expect("decode")
    else {
        panic!("not VN");
    };
    assert_eq!((vn.dcid, vn.scid), (&[0xc1; 4][..], &[3; 8][..]));
    assert!(vn.offers(Version::V1) && vn.offers(Version::V2));
    // A short header for an unknown connection ID.
    let mut short = vec![0x40u8; 100];
    short[1..9].copy_from_slice(&[0x99; 8]);
    let Decision::StatelessReset { dcid, trigger_len } =
        r.classify(&RustCrypto, |_| Some(&key), &short, CLIENT, T0)
    else {
        panic!("no reset");
    };
    assert_eq!((dcid, trigger_len), (cid(&[0x99; 8]), 100));
    let token = ResetToken::new([0x44; 16]);
    let n = write_stateless_reset(&token, trigger_len, &[0x1f; 64], &mut out).expect("reset");
    assert!(n < trigger_len && n >= 41);
    assert_eq!(token_candidate(&out[..n]), Some(token.as_bytes()));
}

#[test]
fn routing_table_at_scale() {
    let mut t: Routes<u32> = Routes::new([7, 8]);
    let key = |n: u32| {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&n.to_le_bytes());
        RouteKey::Cid(cid(&b))
    };
    let addr = |n: u32| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(n)), 443);
    for n in 0..100_000 {
        t.insert(key(n), n).expect("insert");
        t.insert(RouteKey::Addr(addr(n)), n).expect("insert");
    }
    assert_eq!(t.len(), 200_000);
    for n in (0..100_000).step_by(7) {
        assert_eq!(t.get(&key(n)), Some(n));
        assert_eq!(t.get(&RouteKey::Addr(addr(n))), Some(n));
    }
    for n in 0..100_000 {
        if n % 3 != 0 {
            assert_eq!(t.remove(&key(n)), Some(n));
        }
    }
    t.retain(|k, _| !matches!(k, RouteKey::Addr(_)));
    assert_eq!(t.len(), 33_334);
    for n in 0..100_000 {
        assert_eq!(t.get(&key(n)), (n % 3 == 0).then_some(n));
    }
}

#[test]
fn mutated_datagrams_never_panic() {
    let key = token_key();
    let mut r = router(false);
    let mut bases = first_initial(&[b"h3"], &cid(&[5; 8]), b"");
    let mut short = vec![0x40u8; 60];
    short[1..9].copy_from_slice(&[1; 8]);
    bases.push(short);
    let mut x = 0x5eed_0003u64;
    for round in 0..3000usize {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut d = bases[round % bases.len()].clone();
        for k in 0..1 + round % 5 {
            let i = (x >> (k * 8)) as usize % d.len();
            d[i] = (x >> 32) as u8 ^ k as u8;
        }
        if round % 4 == 0 {
            d.truncate(x as usize % d.len());
        }
        let now = T0 + Duration::from_millis(round as u64);
        let decision = r.classify(&RustCrypto, |_| Some(&key), &d, CLIENT, now);
        if let Decision::Drop(reason) = decision {
            assert!(reason != DropReason::NotListening);
        }
        while r.poll_expired_pending(now).is_some() {}
    }
}
