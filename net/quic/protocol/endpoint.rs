// SPDX-License-Identifier: GPL-2.0

//! The endpoint: what sits in front of connections (RFC 9000 §5.2, §6,
//! §8.1, §10.3, §17.2.5).
//!
//! TODO: overview.

pub mod alpn;
pub mod assembler;
pub mod client_hello;
pub mod demux;
pub mod hash;
pub mod initial;
pub mod limiter;
pub mod listener;
pub mod pending;
pub mod response;
pub mod routes;
pub mod token;
