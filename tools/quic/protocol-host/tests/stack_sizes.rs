// SPDX-License-Identifier: GPL-2.0

//! Stack budget of the core's large structures, with the RustCrypto
//! provider (the kernel instantiates the same generic code with
//! `kernel::crypto`).
//!
//! Kernel stacks are 16 KiB and the constructors run in softirq: a
//! [`Connection`] stays under 1 KiB by boxing its large parts, each built
//! alone (at most 1.5 KiB at a time), and the constructors hand it back in
//! a box. `kdev/host-stack-frames.sh` checks the frames themselves.

use quic_host_crypto::RustCrypto;
use quic_protocol::protocol::alloc::Box as KBox;
use quic_protocol::protocol::cid::reset::ResetToken;
use quic_protocol::protocol::cid::{ConnectionId, Generator};
use quic_protocol::protocol::connection::record::SentRecord;
use quic_protocol::protocol::connection::{Config, Connection, Incoming};
use quic_protocol::protocol::endpoint::demux::Router;
use quic_protocol::protocol::path::migration::Paths;
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::recovery::Manager;
use quic_protocol::protocol::stream::set::StreamSet;
use quic_protocol::protocol::time::Instant;
use quic_protocol::protocol::transport_params::TransportParameters;
use std::mem::size_of;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The most a connection may take inline.
const CONNECTION_MAX: usize = 1024;
/// The most any part built on the stack may take.
const PART_MAX: usize = 1536;

/// A generator with a counter, the size of a real one (key and state).
struct Gen(u64, u64);

impl Generator for Gen {
    fn new_cid(&mut self, len: usize) -> ConnectionId {
        self.0 += 1;
        ConnectionId::from_slice(&[self.0 as u8; 20][..len]).expect("length")
    }

    fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
        ResetToken::new([cid.as_slice().first().copied().unwrap_or(0) ^ self.1 as u8; 16])
    }
}

type Conn = Connection<RustCrypto, Gen>;

const CLIENT: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 5000));
const SERVER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 443));

#[test]
fn connection_is_under_1_kib() {
    let size = size_of::<Conn>();
    assert!(size <= CONNECTION_MAX, "Connection is {size} bytes");
}

#[test]
fn large_parts_are_boxed_and_each_fits_the_stack() {
    let ptr = size_of::<usize>();
    assert_eq!(size_of::<KBox<Conn>>(), ptr);
    assert_eq!(size_of::<KBox<Paths>>(), ptr);
    assert_eq!(size_of::<KBox<StreamSet>>(), ptr);
    assert_eq!(size_of::<KBox<Manager<SentRecord>>>(), ptr);
    assert_eq!(size_of::<KBox<Config>>(), ptr);
    for (name, size) in [
        ("Paths", size_of::<Paths>()),
        ("StreamSet", size_of::<StreamSet>()),
        ("Manager", size_of::<Manager<SentRecord>>()),
        ("Config", size_of::<Config>()),
        ("TransportParameters", size_of::<TransportParameters>()),
        ("Router", size_of::<Router<u64, u64>>()),
    ] {
        assert!(size <= PART_MAX, "{name} is {size} bytes");
    }
}

#[test]
fn constructors_return_boxes() {
    let client: KBox<Conn> = Conn::connect(
        Config::new(),
        RustCrypto,
        Gen(0, 1),
        Instant::ZERO,
        CLIENT,
        SERVER,
    )
    .expect("connect");
    let incoming = Incoming {
        version: client.version(),
        dcid: client.remote_cid(),
        scid: client.local_cid(),
        original_dcid: client.original_dcid(),
        retry_scid: None,
        address_validated: false,
    };
    let server: KBox<Conn> = Conn::accept(
        Config::new(),
        RustCrypto,
        Gen(100, 2),
        Instant::ZERO,
        SERVER,
        CLIENT,
        &incoming,
    )
    .expect("accept");
    assert_eq!(server.original_dcid(), client.original_dcid());
    let paths = Paths::new(
        quic_protocol::protocol::side::Side::Client,
        CLIENT,
        SERVER,
        Config::new().pmtud,
    )
    .expect("paths");
    assert_eq!(paths.active().remote(), SERVER);
}
