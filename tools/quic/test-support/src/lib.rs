// SPDX-License-Identifier: GPL-2.0

//! Test support shared by the host tests of the net/quic protocol core
//! (`quic-protocol`'s `conn_*` tests) and the interop suite
//! (`quic-interop`).
//!
//! - [`rng`]: a seeded xorshift, the only randomness of a simulation;
//! - [`cid`]: a connection ID generator for the core from that RNG;
//! - [`tls`]: rustls configurations (certificate, suites, ALPN) and the
//!   `KeyLog` that captures raw traffic secrets;
//! - [`kernel`]: the kernel side of IPPROTO_QUIC sockets during the
//!   handshake, emulated over the core for `quic-handshake`;
//! - [`endpoint`]: one of our connections driven by rustls exactly as the
//!   userspace handshake daemon drives the kernel;
//! - [`server`]: a server endpoint, the core's router in front of any
//!   number of those connections, as the kernel's socket glue drives it;
//! - [`net`]: a simulated network with virtual time, delay, jitter, loss,
//!   duplication, an MTU and ECN marking.
//!
//! Nothing here reads a clock, opens a socket or spawns a thread.

pub mod cid;
pub mod endpoint;
pub mod kernel;
pub mod net;
pub mod rng;
pub mod server;
pub mod tls;
