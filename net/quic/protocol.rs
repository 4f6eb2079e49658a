// SPDX-License-Identifier: GPL-2.0

//! The QUIC protocol core: RFC 9000/9001/9002, 9221, 9287, 9368 and 9369.
//!
//! The core is sans-I/O. It opens no socket, reads no clock, holds no skb and
//! spawns nothing:
//!
//! - time comes in as a [`time::Instant`] argument (`now`),
//! - datagrams come in as byte slices and go out written into caller memory,
//! - TLS stays outside: CRYPTO stream bytes go in and out per encryption
//!   level and traffic secrets are installed by the caller,
//! - packet protection is behind the [`crypto`] traits, so the kernel supplies
//!   `kernel::crypto` AEADs and the host supplies RustCrypto ones in tests.
//!
//! The same files build into the kernel (`net/quic`, tested with KUnit) and
//! into the host crate `tools/quic/protocol-host` (tested with `cargo test`,
//! fuzzed, and run against quinn-proto). They use only `core` and the
//! one-file allocation shim [`alloc`]; allocation is always fallible.

#![forbid(unsafe_code)]

pub mod alloc;
pub mod codec;
pub mod error;
pub mod side;
pub mod time;
pub mod varint;

pub mod cid;
pub mod crypto;
pub mod packet;
pub mod path;

pub mod frame;
pub mod range_set;
pub mod transport_params;

pub mod ack;
pub mod recovery;
pub mod stream;

pub mod connection;
pub mod endpoint;

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST, fuzzing))]
pub mod test_rng;
