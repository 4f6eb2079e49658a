// SPDX-License-Identifier: GPL-2.0

//! In-memory interop of the net/quic protocol core against quinn-proto.
//!
//! One side is our core, driven by rustls exactly as the userspace
//! handshake daemon drives the kernel (TLS bytes per level, raw secrets
//! installed per level, transport parameters as the TLS extension body);
//! our server sits behind the core's endpoint router, which decides on
//! new connections and Retry. The other side is quinn-proto 0.11 with
//! rustls 0.23 (ring), driven through its sans-I/O API. Both run over the
//! simulated network of `quic-test-support` with virtual time: no socket,
//! no thread, no wall clock, and every random choice from a seed.
//!
//! - [`peer`]: the interface both stacks offer the scenarios;
//! - [`ours`]: our client and our server behind the endpoint router;
//! - [`quinn`]: a quinn-proto endpoint with one connection;
//! - [`clock`]: virtual time in both stacks' types;
//! - [`setup`]: one scenario's settings, translated for each stack;
//! - [`pair`]: a client and a server on the simulated network;
//! - [`transfer`]: stream transfers the scenarios share.
//!
//! The scenarios are in `tests/`, each run in both directions (our client
//! with a quinn server, a quinn client with our server).

pub mod clock;
pub mod ours;
pub mod pair;
pub mod peer;
pub mod quinn;
pub mod setup;
pub mod transfer;
