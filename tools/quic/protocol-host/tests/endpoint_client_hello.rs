// SPDX-License-Identifier: GPL-2.0

//! Reading ALPN and SNI out of real client Initials: the RFC 9001 / RFC 9369
//! sample packets, and ClientHellos written by rustls, small and spanning
//! several datagrams; plus never-panic runs over mutated input.

#[path = "endpoint_common/datagrams.rs"]
mod datagrams;
#[path = "endpoint_common/vectors.rs"]
mod vectors;

use datagrams::{client_initials, rustls_client_hello};
use quic_host_crypto::{hex, RustCrypto};
use quic_protocol::protocol::alloc::Vec as KVec;
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::endpoint::assembler::{Assembler, Progress};
use quic_protocol::protocol::endpoint::client_hello::{ClientHello, EXT_QUIC_TRANSPORT_PARAMETERS};
use quic_protocol::protocol::endpoint::initial::{read_client_initials, InitialError};
use quic_protocol::protocol::packet::version::Version;

fn read_all(datagrams: &[Vec<u8>], cap: usize) -> (Result<Progress, InitialError>, Vec<u8>) {
    let mut store = vec![0u8; cap];
    let mut hello = Assembler::new(&mut store[..]);
    let mut scratch = KVec::new();
    let mut last = Ok(Progress::NeedMore);
    for d in datagrams {
        last = read_client_initials(&RustCrypto, d, false, &mut scratch, &mut hello);
        if last.is_err() {
            break;
        }
    }
    let msg = hello.message().map(<[u8]>::to_vec).unwrap_or_default();
    (last, msg)
}

#[test]
fn rfc_sample_initials() {
    for vector in [
        vectors::RFC9001_A2_CLIENT_INITIAL,
        vectors::RFC9369_A2_CLIENT_INITIAL,
    ] {
        let datagram = hex(vector);
        let (progress, msg) = read_all(&[datagram], 4096);
        assert_eq!(progress, Ok(Progress::Complete));
        let hello = ClientHello::parse(&msg).expect("ClientHello");
        assert_eq!(hello.server_name(), Some(&b"example.com"[..]));
        let alpn: Vec<&[u8]> = hello.alpn().expect("ALPN").collect();
        assert_eq!(alpn, [&b"alpn"[..]]);
        assert!(hello.cipher_suites().any(|s| s == 0x1301));
        assert!(hello.extension(EXT_QUIC_TRANSPORT_PARAMETERS).is_some());
    }
}

#[test]
fn rustls_client_hellos_both_versions() {
    for (version, quic_version) in [
        (rustls::quic::Version::V1, Version::V1),
        (rustls::quic::Version::V2, Version::V2),
    ] {
        let crypto = rustls_client_hello(version, &[b"smb", b"h3"], "files.example.org", vec![]);
        let dcid = ConnectionId::from_slice(&[0x42; 8]).expect("cid");
        let scid = ConnectionId::from_slice(&[0x43; 5]).expect("cid");
        let datagrams = client_initials(quic_version, &dcid, &scid, b"", &crypto);
        assert_eq!(datagrams.len(), 1);
        let (progress, msg) = read_all(&datagrams, 8192);
        assert_eq!(progress, Ok(Progress::Complete));
        assert_eq!(msg, crypto);
        let hello = ClientHello::parse(&msg).expect("rustls ClientHello");
        assert_eq!(hello.server_name(), Some(&b"files.example.org"[..]));
        let alpn: Vec<&[u8]> = hello.alpn().expect("ALPN").collect();
        assert_eq!(alpn, [&b"smb"[..], b"h3"]);
    }
}

/// A ClientHello of several kilobytes, as with post-quantum key shares or
/// big transport parameters, spans datagrams.
#[test]
fn large_client_hello_spans_datagrams() {
    // A 3000-byte unknown transport parameter (id 0x2a3b, reserved for
    // greasing) inflates the hello.
    let mut params = vec![0x80, 0x00, 0x2a, 0x3b, 0x4b, 0xb8];
    params.extend(std::iter::repeat_n(0x5a, 3000));
    let crypto = rustls_client_hello(rustls::quic::Version::V1, &[b"h3"], "example.net", params);
    assert!(crypto.len() > 3000);
    let dcid = ConnectionId::from_slice(&[7; 16]).expect("cid");
    let datagrams = client_initials(Version::V1, &dcid, &ConnectionId::EMPTY, b"", &crypto);
    assert!(datagrams.len() >= 4);
    // In order, in reverse order: the hello completes with the last piece.
    let (progress, msg) = read_all(&datagrams, 8192);
    assert_eq!(progress, Ok(Progress::Complete));
    assert_eq!(msg, crypto);
    let reversed: Vec<Vec<u8>> = datagrams.iter().rev().cloned().collect();
    let (progress, msg) = read_all(&reversed, 8192);
    assert_eq!(progress, Ok(Progress::Complete));
    assert_eq!(msg, crypto);
    // A cap below its size refuses it.
    let (progress, _) = read_all(&datagrams, 2048);
    assert!(matches!(progress, Err(InitialError::Hello(_))));
    let hello = ClientHello::parse(&msg).expect("ClientHello");
    assert_eq!(hello.server_name(), Some(&b"example.net"[..]));
    assert!(hello.alpn().expect("ALPN").eq([&b"h3"[..]]));
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_client_hellos_never_panic() {
    let base = rustls_client_hello(
        rustls::quic::Version::V1,
        &[b"h3", b"smb"],
        "a.example",
        vec![],
    );
    let mut rng = XorShift(0x5eed_0001);
    let mut accepted = 0;
    for round in 0..20_000 {
        let mut msg = base.clone();
        for _ in 0..1 + round % 6 {
            let i = rng.next() as usize % msg.len();
            msg[i] = rng.next() as u8;
        }
        if round % 5 == 0 {
            msg.truncate(rng.next() as usize % msg.len());
        }
        if let Ok(hello) = ClientHello::parse(&msg) {
            accepted += 1;
            let _ = hello.alpn().map(Iterator::count);
            let _ = hello.server_name();
            let _ = hello.extensions().count();
        }
        // The same bytes through the assembler, in random pieces.
        let mut store = vec![0u8; 4096];
        let mut a = Assembler::new(&mut store[..]);
        let mut off = 0;
        while off < msg.len() {
            let len = 1 + rng.next() as usize % 300;
            let end = (off + len).min(msg.len());
            if a.add(off as u64, &msg[off..end]).is_err() {
                break;
            }
            off = end;
        }
        let _ = a.client_hello();
    }
    // Mutations inside the random bytes or the key share keep it valid.
    assert!(accepted > 0);
}

#[test]
fn random_datagrams_never_panic() {
    let crypto = rustls_client_hello(rustls::quic::Version::V1, &[b"h3"], "example.com", vec![]);
    let dcid = ConnectionId::from_slice(&[1; 8]).expect("cid");
    let base = client_initials(Version::V1, &dcid, &ConnectionId::EMPTY, b"", &crypto).remove(0);
    let mut rng = XorShift(0x5eed_0002);
    let mut scratch = KVec::new();
    for round in 0..5000 {
        let mut d = base.clone();
        for _ in 0..1 + round % 4 {
            let i = rng.next() as usize % d.len();
            d[i] = rng.next() as u8;
        }
        let mut store = vec![0u8; 2048];
        let mut hello = Assembler::new(&mut store[..]);
        let r = read_client_initials(&RustCrypto, &d, round % 2 == 0, &mut scratch, &mut hello);
        // Real AES-GCM: a changed protected byte never authenticates.
        if d[30..] != base[30..] {
            assert!(r.is_err());
        }
    }
}
