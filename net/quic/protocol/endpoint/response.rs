// SPDX-License-Identifier: GPL-2.0

//! Stateless answers, written into caller memory: Version Negotiation (RFC
//! 9000 §6.1, §17.2.1), Retry (§8.1.2, §17.2.5), stateless reset (§10.3)
//! and the Initial CONNECTION_CLOSE that refuses a connection (§5.2.2,
//! §10.2.3).
//!
//! Each builder takes the [`Decision`](crate::protocol::endpoint::demux::Decision)
//! that asked for it, plus whatever randomness it needs from the caller,
//! and returns the length of the datagram written.

use crate::protocol::cid::reset::{encode_stateless_reset, ResetNotSent, ResetToken};
use crate::protocol::cid::ConnectionId;
use crate::protocol::codec::Writer;
use crate::protocol::crypto::initial::{InitialSecrets, INITIAL_SUITE};
use crate::protocol::crypto::schedule::DirectionalKeys;
use crate::protocol::crypto::{PacketKey, Provider, TAG_LEN};
use crate::protocol::endpoint::demux::{Refusal, RetryRequest};
use crate::protocol::endpoint::token::{issue, Binding, TokenError, MAX_TOKEN_LEN};
use crate::protocol::error::TransportErrorCode;
use crate::protocol::frame::ConnectionClose;
use crate::protocol::packet::header::LongHeader;
use crate::protocol::packet::number::PacketNumberLen;
use crate::protocol::packet::protection::seal;
use crate::protocol::packet::retry::RetryHeader;
use crate::protocol::packet::version::Version;
use crate::protocol::packet::version_negotiation::VersionNegotiation;
use crate::protocol::packet::{LongType, PacketError};
use crate::protocol::time::Instant;
use crate::protocol::varint::VarInt;

/// Why an answer was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    /// The output buffer is too small.
    BufferTooShort,
    /// An argument is unusable (a connection ID too long, a Retry Source
    /// Connection ID equal to the client's, an unsupported version).
    InvalidInput,
    /// Packet protection failed.
    Crypto,
    /// No stateless reset is due (see [`ResetNotSent`]).
    Reset(ResetNotSent),
}

impl From<PacketError> for ResponseError {
    fn from(e: PacketError) -> Self {
        match e {
            PacketError::BufferTooShort => Self::BufferTooShort,
            PacketError::Crypto(_) => Self::Crypto,
            _ => Self::InvalidInput,
        }
    }
}

/// Writes a Version Negotiation packet answering a client whose Source and
/// Destination Connection IDs are `dcid` and `scid` (the swapped IDs of
/// [`Decision::SendVersionNegotiation`]), offering `versions` and a reserved
/// version derived from `grease` (random, from the caller) to keep clients
/// honest about unknown versions (RFC 9000 §6.3).
///
/// [`Decision::SendVersionNegotiation`]: crate::protocol::endpoint::demux::Decision::SendVersionNegotiation
pub fn write_version_negotiation(
    dcid: &[u8],
    scid: &[u8],
    versions: &[Version],
    grease: u32,
    out: &mut [u8],
) -> Result<usize, ResponseError> {
    let mut list = [Version::NEGOTIATION; 8];
    let n = versions.len().min(list.len() - 1);
    list[..n].copy_from_slice(&versions[..n]);
    list[n] = Version::reserved(grease);
    let mut w = Writer::new(out);
    // The unused bits are arbitrary; 0x40 keeps the QUIC bit set for
    // middleboxes that demultiplex on it (RFC 9000 §17.2.1).
    let unused = 0x40 | ((grease >> 24) as u8 & 0x3f);
    VersionNegotiation::encode(&mut w, dcid, scid, unused, &list[..=n])?;
    Ok(w.len())
}

/// Writes a Retry answering `retry`, with `new_scid` (random, from the
/// caller, different from the client's DCID) and a token sealed with
/// `token_key` (id `key_id`) and the caller's unique `nonce`.
#[allow(clippy::too_many_arguments)]
pub fn write_retry<P: Provider, K: PacketKey>(
    provider: &P,
    retry: &RetryRequest,
    new_scid: &ConnectionId,
    token_key: &K,
    key_id: u8,
    nonce: u64,
    now: Instant,
    out: &mut [u8],
) -> Result<usize, ResponseError> {
    let mut token = [0u8; MAX_TOKEN_LEN];
    let binding = Binding::Retry {
        client: &retry.remote,
        retry_scid: new_scid,
    };
    let token_len = issue(
        token_key,
        key_id,
        nonce,
        now,
        binding,
        &retry.odcid,
        &mut token,
    )
    .map_err(|e| match e {
        TokenError::BufferTooShort => ResponseError::BufferTooShort,
        _ => ResponseError::InvalidInput,
    })?;
    let header = RetryHeader {
        version: retry.version,
        dcid: retry.dcid,
        scid: *new_scid,
        token: token.get(..token_len).ok_or(ResponseError::InvalidInput)?,
        unused: (nonce >> 56) as u8 & 0x0f,
        fixed_bit: true,
    };
    let mut w = Writer::new(out);
    header.encode(provider, &retry.odcid, &mut w)?;
    Ok(w.len())
}

/// Writes a stateless reset answering a datagram of `trigger_len` bytes:
/// `token` is the reset token of the unknown connection ID (from the
/// caller's static key), `unpredictable` random bytes (at least 25) fill
/// the rest. The reset is smaller than its trigger and at least 41 bytes.
pub fn write_stateless_reset(
    token: &ResetToken,
    trigger_len: usize,
    unpredictable: &[u8],
    out: &mut [u8],
) -> Result<usize, ResponseError> {
    encode_stateless_reset(token, trigger_len, unpredictable, out).map_err(ResponseError::Reset)
}

/// The reason phrase sent with a refusal.
const fn reason(code: TransportErrorCode) -> &'static [u8] {
    match code {
        TransportErrorCode::INVALID_TOKEN => b"invalid token",
        TransportErrorCode::CONNECTION_REFUSED => b"connection refused",
        _ => b"no application protocol",
    }
}

/// Writes an Initial packet carrying a CONNECTION_CLOSE of `refusal.code`,
/// protected with the Initial keys of the client's DCID. `scid` is the
/// Source Connection ID to send (random, from the caller). The packet is
/// small: no PADDING is due for a packet that elicits no acknowledgement,
/// and it stays within the amplification limit of the Initial it answers.
pub fn write_refusal<P: Provider>(
    provider: &P,
    refusal: &Refusal,
    scid: &ConnectionId,
    out: &mut [u8],
) -> Result<usize, ResponseError> {
    let secrets = InitialSecrets::new(provider, refusal.version, refusal.client_dcid.as_slice())
        .map_err(|_| ResponseError::InvalidInput)?;
    let keys = DirectionalKeys::new(provider, refusal.version, INITIAL_SUITE, &secrets.server)
        .map_err(|_| ResponseError::Crypto)?;
    let mut w = Writer::new(out);
    let layout = LongHeader {
        ty: LongType::Initial,
        version: refusal.version,
        dcid: refusal.dcid,
        scid: *scid,
        token: &[],
        pn: 0,
        pn_len: PacketNumberLen::One,
        fixed_bit: true,
    }
    .encode(&mut w)?;
    //= https://www.rfc-editor.org/rfc/rfc9000#section-5.2.2
    //# If a server refuses to accept a new connection, it SHOULD send an Initial
    //# packet containing a CONNECTION_CLOSE frame with error code CONNECTION_REFUSED.
    let close = ConnectionClose {
        error_code: VarInt::saturating(refusal.code.0),
        frame_type: Some(VarInt::ZERO),
        reason: reason(refusal.code),
    };
    close
        .encode(&mut w)
        .map_err(|_| ResponseError::BufferTooShort)?;
    // Enough payload to sample for header protection.
    let short = layout.min_payload_len(TAG_LEN, 16);
    let payload = w.len() - layout.header_len();
    if payload < short {
        w.reserve(short - payload)
            .map_err(|_| ResponseError::BufferTooShort)?
            .fill(0);
    }
    w.reserve(TAG_LEN)
        .map_err(|_| ResponseError::BufferTooShort)?;
    let len = w.len();
    let packet = out.get_mut(..len).ok_or(ResponseError::BufferTooShort)?;
    seal(packet, &layout, &keys.packet, &keys.header)?;
    Ok(len)
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_response))]
mod tests {
    use super::*;
    use crate::protocol::crypto::null::{NullPacketKey, NullProvider};
    use crate::protocol::crypto::CipherSuite;
    use crate::protocol::endpoint::token::{validate, Lifetimes};
    use crate::protocol::frame::{Frame, Frames};
    use crate::protocol::packet::header::{decode, DecodeParams, Packet};
    use crate::protocol::packet::retry::Retry;
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};

    fn cid(b: u8) -> ConnectionId {
        ConnectionId::from_slice(&[b; 8]).unwrap_or(ConnectionId::EMPTY)
    }

    #[test]
    fn version_negotiation_is_greased() -> Result<(), ResponseError> {
        let mut out = [0u8; 64];
        let n = write_version_negotiation(
            &[1, 2],
            &[3; 8],
            &Version::SUPPORTED,
            0x1234_5678,
            &mut out,
        )?;
        let vn = VersionNegotiation::decode(&out[..n])?;
        assert_eq!((vn.dcid, vn.scid), (&[1, 2][..], &[3; 8][..]));
        assert!(vn.offers(Version::V1) && vn.offers(Version::V2));
        assert!(vn.versions().any(|v| v.is_reserved()));
        assert!(out[0] & 0xc0 == 0xc0);
        assert_eq!(
            write_version_negotiation(&[], &[], &Version::SUPPORTED, 0, &mut out[..10]),
            Err(ResponseError::BufferTooShort)
        );
        Ok(())
    }

    #[test]
    fn retry_round_trip() -> Result<(), ResponseError> {
        let key = NullPacketKey::new(CipherSuite::Aes128GcmSha256, 5);
        let req = RetryRequest {
            version: Version::V2,
            remote: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 5000),
            dcid: cid(2),
            odcid: cid(1),
        };
        let mut out = [0u8; 128];
        let n = write_retry(
            &NullProvider,
            &req,
            &cid(3),
            &key,
            1,
            99,
            Instant::ZERO,
            &mut out,
        )?;
        let retry = Retry::decode(&out[..n], false)?;
        assert_eq!(
            (retry.version, retry.dcid, retry.scid),
            (Version::V2, cid(2), cid(3))
        );
        retry.verify(&NullProvider, &cid(1))?;
        let binding = Binding::Retry {
            client: &req.remote,
            retry_scid: &cid(3),
        };
        let valid = validate(
            retry.token,
            |_| Some(&key),
            binding,
            Instant::ZERO,
            &Lifetimes::DEFAULT,
        )
        .map_err(|_| ResponseError::InvalidInput)?;
        assert_eq!(valid.odcid, cid(1));
        assert_eq!(
            write_retry(
                &NullProvider,
                &req,
                &cid(1),
                &key,
                1,
                99,
                Instant::ZERO,
                &mut out
            ),
            Err(ResponseError::InvalidInput)
        );
        Ok(())
    }

    #[test]
    fn refusal_decrypts_with_client_keys() -> Result<(), ResponseError> {
        for code in [
            TransportErrorCode::CONNECTION_REFUSED,
            TransportErrorCode::INVALID_TOKEN,
        ] {
            let refusal = Refusal {
                version: Version::V1,
                dcid: cid(7),
                client_dcid: cid(8),
                code,
                pending: None,
            };
            let mut out = [0u8; 128];
            let n = write_refusal(&NullProvider, &refusal, &cid(9), &mut out)?;
            assert!(n < 100);
            let params = DecodeParams {
                local_cid_len: 8,
                accept_cleared_fixed_bit: false,
            };
            let Ok((Packet::Protected(p), _)) = decode(&mut out[..n], &params) else {
                return Err(ResponseError::InvalidInput);
            };
            assert_eq!((p.header().dcid, p.header().scid), (cid(7), cid(9)));
            // The client opens it with the server Initial keys of its DCID.
            let secrets = InitialSecrets::new(&NullProvider, Version::V1, cid(8).as_slice())
                .map_err(|_| ResponseError::Crypto)?;
            let keys =
                DirectionalKeys::new(&NullProvider, Version::V1, INITIAL_SUITE, &secrets.server)
                    .map_err(|_| ResponseError::Crypto)?;
            let c = p
                .remove_header_protection(&keys.header, None)?
                .decrypt(&keys.packet)?;
            let first = Frames::new(c.payload()).next();
            let Some(Ok(Frame::ConnectionClose(close))) = first else {
                return Err(ResponseError::InvalidInput);
            };
            assert_eq!(close.error_code.into_inner(), code.0);
        }
        Ok(())
    }

    #[test]
    fn stateless_reset_size_rules() -> Result<(), ResponseError> {
        let token = ResetToken::new([7; 16]);
        let mut out = [0u8; 200];
        let n = write_stateless_reset(&token, 100, &[0x55; 100], &mut out)?;
        assert_eq!(n, 99);
        assert_eq!(&out[n - 16..n], token.as_bytes());
        assert_eq!(out[0] & 0xc0, 0x40);
        assert_eq!(
            write_stateless_reset(&token, 41, &[0x55; 100], &mut out),
            Err(ResponseError::Reset(ResetNotSent::TriggerTooSmall))
        );
        Ok(())
    }
}
