// SPDX-License-Identifier: GPL-2.0

//! Client Initial datagrams built with the core's packet code and real
//! AES-GCM, and rustls ClientHellos to put in them.

use quic_host_crypto::RustCrypto;
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::crypto::initial::initial_keys;
use quic_protocol::protocol::crypto::{Side, TAG_LEN};
use quic_protocol::protocol::frame::CryptoFrame;
use quic_protocol::protocol::packet::header::LongHeader;
use quic_protocol::protocol::packet::number::PacketNumberLen;
use quic_protocol::protocol::packet::protection::seal;
use quic_protocol::protocol::packet::version::Version;
use quic_protocol::protocol::packet::LongType;
use quic_protocol::protocol::varint::VarInt;
use std::sync::Arc;

/// The CRYPTO bytes one 1200-byte Initial datagram carries here.
const CHUNK: usize = 1000;

/// Client Initial datagrams of at least 1200 bytes carrying `crypto` (the
/// Initial CRYPTO stream), `CHUNK` bytes per datagram.
pub(crate) fn client_initials(
    version: Version,
    dcid: &ConnectionId,
    scid: &ConnectionId,
    token: &[u8],
    crypto: &[u8],
) -> Vec<Vec<u8>> {
    let keys = initial_keys(&RustCrypto, version, dcid.as_slice(), Side::Client).expect("keys");
    let mut out = Vec::new();
    for (pn, chunk) in crypto.chunks(CHUNK).enumerate() {
        let mut d = vec![0u8; 1500];
        let mut w = Writer::new(&mut d);
        let layout = LongHeader {
            ty: LongType::Initial,
            version,
            dcid: *dcid,
            scid: *scid,
            token,
            pn: pn as u64,
            pn_len: PacketNumberLen::Two,
            fixed_bit: true,
        }
        .encode(&mut w)
        .expect("header");
        CryptoFrame {
            offset: VarInt::try_from_usize(pn * CHUNK).expect("offset"),
            data: chunk,
        }
        .encode(&mut w)
        .expect("crypto frame");
        let pad = 1200usize.saturating_sub(w.len() + TAG_LEN);
        w.reserve(pad).expect("padding").fill(0);
        w.reserve(TAG_LEN).expect("tag");
        let len = w.len();
        seal(
            &mut d[..len],
            &layout,
            &keys.local.packet,
            &keys.local.header,
        )
        .expect("seal");
        d.truncate(len);
        out.push(d);
    }
    out
}

/// The Initial CRYPTO bytes rustls writes for a QUIC client offering
/// `alpn` to `server_name`, with `params` as transport parameters.
pub(crate) fn rustls_client_hello(
    version: rustls::quic::Version,
    alpn: &[&[u8]],
    server_name: &str,
    params: Vec<u8>,
) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned()).expect("name");
    let mut conn = rustls::quic::ClientConnection::new(Arc::new(config), version, name, params)
        .expect("client");
    let mut hello = Vec::new();
    let _ = conn.write_hs(&mut hello);
    assert!(!hello.is_empty());
    hello
}
