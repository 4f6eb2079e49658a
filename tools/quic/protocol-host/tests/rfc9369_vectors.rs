// SPDX-License-Identifier: GPL-2.0

//! RFC 9369 Appendix A: sample packet protection for QUIC version 2,
//! reproduced byte for byte with the RustCrypto provider. The vectors and
//! checks are the core's (`net/quic/protocol/crypto/vectors.rs`), which the
//! kernel's KUnit suite runs over the kernel's crypto.

use quic_host_crypto::RustCrypto;
use quic_protocol::protocol::crypto::vectors::{self, VectorResult, V2};

#[test]
fn rfc9369_a1_keys() -> VectorResult {
    vectors::check_keys(&RustCrypto, &V2)
}

#[test]
fn rfc9369_a2_client_initial() -> VectorResult {
    vectors::check_client_initial(&RustCrypto, &V2)
}

#[test]
fn rfc9369_a3_server_initial() -> VectorResult {
    vectors::check_server_initial(&RustCrypto, &V2)
}

#[test]
fn rfc9369_a4_retry() -> VectorResult {
    vectors::check_retry(&RustCrypto, &V2)
}

#[test]
fn rfc9369_a5_chacha20_short_header() -> VectorResult {
    vectors::check_chacha20_short_header(&RustCrypto, &V2)
}
