// SPDX-License-Identifier: GPL-2.0

//! The endpoint: what sits in front of connections (RFC 9000 §5.2, §6,
//! §8.1, §10.3, §17.2.5).
//!
//! TODO: overview.

pub mod assembler;
pub mod client_hello;
pub mod alpn;
pub mod token;
pub mod hash;
pub mod limiter;
pub mod routes;
pub mod initial;
pub mod demux;
pub mod listener;
pub mod pending;
pub mod response;
