// SPDX-License-Identifier: GPL-2.0

//! The parts of `include/uapi/linux/quic.h` the handshake uses: numbers,
//! and the structures as `#[repr(C)]` types with the header's field order,
//! widths and padding (`shared/spec/uapi-abi.md`; checked by the tests at
//! the end of this file).

/// `IPPROTO_QUIC`.
pub const IPPROTO_QUIC: i32 = 261;
/// `SOL_QUIC`: the level of the options and control messages.
pub const SOL_QUIC: i32 = 288;

/// cmsg type of [`QuicStreamInfo`].
pub const QUIC_STREAM_INFO: i32 = 0;
/// cmsg type of [`QuicHandshakeInfo`].
pub const QUIC_HANDSHAKE_INFO: i32 = 1;

/// Socket option: close information (`struct quic_connection_close`).
pub const QUIC_SOCKOPT_CONNECTION_CLOSE: i32 = 5;
/// Socket option: `struct quic_config`.
pub const QUIC_SOCKOPT_CONFIG: i32 = 9;
/// Socket option: address validation token (fails on a server socket).
pub const QUIC_SOCKOPT_TOKEN: i32 = 10;
/// Socket option: comma-separated ALPN list, or the one selected.
pub const QUIC_SOCKOPT_ALPN: i32 = 11;
/// Socket option: session ticket (client) or ticket key (listener).
pub const QUIC_SOCKOPT_SESSION_TICKET: i32 = 12;
/// Socket option: `struct quic_crypto_secret`.
pub const QUIC_SOCKOPT_CRYPTO_SECRET: i32 = 13;
/// Socket option: the quic_transport_parameters TLS extension body.
pub const QUIC_SOCKOPT_TRANSPORT_PARAM_EXT: i32 = 14;

/// Stream flag: open the stream (`MSG_SYN`).
pub const MSG_QUIC_STREAM_NEW: u32 = 0x400;
/// Stream flag: last data of the stream (`MSG_FIN`).
pub const MSG_QUIC_STREAM_FIN: u32 = 0x200;
/// Stream flag: unidirectional (`MSG_CONFIRM`).
pub const MSG_QUIC_STREAM_UNI: u32 = 0x800;
/// Stream flag: do not wait for stream credit (`MSG_WAITFORONE`).
pub const MSG_QUIC_STREAM_DONTWAIT: u32 = 0x10000;
/// Stream flag: block on stream credit (`MSG_ERRQUEUE`).
pub const MSG_QUIC_STREAM_SNDBLOCK: u32 = 0x2000;
/// msg_flags: an unreliable datagram (`MSG_RST`).
pub const MSG_QUIC_DATAGRAM: u32 = 0x1000;
/// msg_flags: an event notification (`MSG_MORE`).
pub const MSG_QUIC_NOTIFICATION: u32 = 0x8000;

/// `QUIC_VERSION_V1`.
pub const QUIC_VERSION_V1: u32 = 0x0000_0001;
/// `QUIC_VERSION_V2`.
pub const QUIC_VERSION_V2: u32 = 0x6b33_43cf;

/// `QUIC_TRANSPORT_ERROR_CRYPTO`: plus the TLS alert (RFC 9001 §4.8).
pub const QUIC_TRANSPORT_ERROR_CRYPTO: u32 = 0x0100;

/// `TLS_CIPHER_AES_GCM_128` (linux/tls.h).
pub const TLS_CIPHER_AES_GCM_128: u32 = 51;
/// `TLS_CIPHER_AES_GCM_256`.
pub const TLS_CIPHER_AES_GCM_256: u32 = 52;
/// `TLS_CIPHER_AES_CCM_128`.
pub const TLS_CIPHER_AES_CCM_128: u32 = 53;
/// `TLS_CIPHER_CHACHA20_POLY1305`.
pub const TLS_CIPHER_CHACHA20_POLY1305: u32 = 54;

/// `QUIC_CRYPTO_SECRET_BUFFER_SIZE`.
pub const QUIC_CRYPTO_SECRET_BUFFER_SIZE: usize = 48;
/// `QUIC_CLOSE_PHRASE_BUFFER_SIZE`.
pub const QUIC_CLOSE_PHRASE_BUFFER_SIZE: usize = 64;

/// A crypto level (`QUIC_CRYPTO_*`), as carried by `QUIC_HANDSHAKE_INFO`
/// and `quic_crypto_secret.level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CryptoLevel {
    /// `QUIC_CRYPTO_APP`: 1-RTT.
    App = 0,
    /// `QUIC_CRYPTO_INITIAL`.
    Initial = 1,
    /// `QUIC_CRYPTO_HANDSHAKE`.
    Handshake = 2,
    /// `QUIC_CRYPTO_EARLY`: 0-RTT.
    Early = 3,
}

impl CryptoLevel {
    /// The level of a `QUIC_CRYPTO_*` value.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::App),
            1 => Some(Self::Initial),
            2 => Some(Self::Handshake),
            3 => Some(Self::Early),
            _ => None,
        }
    }
}

/// `struct quic_handshake_info`: the payload of the `QUIC_HANDSHAKE_INFO`
/// cmsg.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct QuicHandshakeInfo {
    /// A `QUIC_CRYPTO_*` level.
    pub crypto_level: u8,
}

/// `struct quic_stream_info`: the payload of the `QUIC_STREAM_INFO` cmsg.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct QuicStreamInfo {
    /// The stream ID (-1: the next one, where allowed).
    pub stream_id: i64,
    /// `MSG_QUIC_STREAM_*` flags.
    pub stream_flags: u32,
}

/// `struct quic_config`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct QuicConfig {
    /// The QUIC version the connection starts with.
    pub version: u32,
    /// PLPMTUD probe interval, in microseconds (0: off).
    pub plpmtud_probe_interval: u32,
    /// Initial smoothed RTT, in microseconds.
    pub initial_smoothed_rtt: u32,
    /// `TLS_CIPHER_*` the handshake should restrict itself to (0: any).
    pub payload_cipher_type: u32,
    /// `QUIC_CONG_ALG_*`.
    pub congestion_control_algo: u8,
    /// Server: validate client addresses with Retry.
    pub validate_peer_address: u8,
    /// Send stream data without coalescing delay.
    pub stream_data_nodelay: u8,
    /// Client: keep reading 1-RTT CRYPTO data for a session ticket.
    pub receive_session_ticket: u8,
    /// Server: request a client certificate.
    pub certificate_request: u8,
    /// Padding.
    pub reserved: [u8; 3],
    /// Keep-alive interval, in microseconds (0: off).
    pub keepalive_probe_interval: u32,
}

/// `struct quic_crypto_secret`: one traffic secret for
/// `QUIC_SOCKOPT_CRYPTO_SECRET`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct QuicCryptoSecret {
    /// 1 for the send direction, 0 for receive.
    pub send: u8,
    /// A `QUIC_CRYPTO_*` level.
    pub level: u8,
    /// Zero.
    pub reserved: u16,
    /// A `TLS_CIPHER_*` value.
    pub type_: u32,
    /// The secret, zero-padded (32 bytes, or 48 for AES-256-GCM).
    pub secret: [u8; QUIC_CRYPTO_SECRET_BUFFER_SIZE],
}

impl QuicCryptoSecret {
    /// A secret for `level` and direction, or `None` if `secret` is longer
    /// than the buffer.
    pub fn new(level: CryptoLevel, send: bool, cipher: u32, secret: &[u8]) -> Option<Self> {
        let mut buf = [0u8; QUIC_CRYPTO_SECRET_BUFFER_SIZE];
        buf.get_mut(..secret.len())?.copy_from_slice(secret);
        Some(Self {
            send: u8::from(send),
            level: level as u8,
            reserved: 0,
            type_: cipher,
            secret: buf,
        })
    }

    /// The structure's bytes, in native byte order: what setsockopt gets.
    pub fn to_bytes(&self) -> [u8; 56] {
        let mut b = [0u8; 56];
        b[0] = self.send;
        b[1] = self.level;
        b[2..4].copy_from_slice(&self.reserved.to_ne_bytes());
        b[4..8].copy_from_slice(&self.type_.to_ne_bytes());
        b[8..].copy_from_slice(&self.secret);
        b
    }

    /// Parses the bytes setsockopt received; `None` unless exactly the
    /// structure's size.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let b: &[u8; 56] = b.try_into().ok()?;
        let mut secret = [0u8; QUIC_CRYPTO_SECRET_BUFFER_SIZE];
        secret.copy_from_slice(&b[8..]);
        Some(Self {
            send: b[0],
            level: b[1],
            reserved: u16::from_ne_bytes([b[2], b[3]]),
            type_: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            secret,
        })
    }

    /// The length of the secret its cipher uses: 48 for AES-256-GCM
    /// (SHA-384), 32 otherwise; `None` for an unknown cipher.
    pub const fn secret_len(&self) -> Option<usize> {
        match self.type_ {
            TLS_CIPHER_AES_GCM_256 => Some(48),
            TLS_CIPHER_AES_GCM_128 | TLS_CIPHER_AES_CCM_128 | TLS_CIPHER_CHACHA20_POLY1305 => {
                Some(32)
            }
            _ => None,
        }
    }
}

/// `struct quic_connection_close`: what close() sends
/// (`QUIC_SOCKOPT_CONNECTION_CLOSE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct QuicConnectionClose {
    /// The error code.
    pub errcode: u32,
    /// The frame type that caused it (transport errors).
    pub frame: u8,
    /// Padding.
    pub reserved: [u8; 3],
    /// The reason phrase, NUL-padded.
    pub phrase: [u8; QUIC_CLOSE_PHRASE_BUFFER_SIZE],
}

impl QuicConnectionClose {
    /// Close information with `errcode` and `phrase` (truncated to leave a
    /// terminating NUL).
    pub fn new(errcode: u32, phrase: &[u8]) -> Self {
        let mut p = [0u8; QUIC_CLOSE_PHRASE_BUFFER_SIZE];
        let n = phrase.len().min(QUIC_CLOSE_PHRASE_BUFFER_SIZE - 1);
        p[..n].copy_from_slice(&phrase[..n]);
        Self {
            errcode,
            frame: 0,
            reserved: [0; 3],
            phrase: p,
        }
    }

    /// The structure's bytes, in native byte order.
    pub fn to_bytes(&self) -> [u8; 72] {
        let mut b = [0u8; 72];
        b[..4].copy_from_slice(&self.errcode.to_ne_bytes());
        b[4] = self.frame;
        b[8..].copy_from_slice(&self.phrase);
        b
    }

    /// Parses setsockopt bytes; `None` unless exactly the structure's size.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let b: &[u8; 72] = b.try_into().ok()?;
        let mut phrase = [0u8; QUIC_CLOSE_PHRASE_BUFFER_SIZE];
        phrase.copy_from_slice(&b[8..]);
        Some(Self {
            errcode: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            frame: b[4],
            reserved: [b[5], b[6], b[7]],
            phrase,
        })
    }
}

impl QuicConfig {
    /// The structure's bytes, in native byte order.
    pub fn to_bytes(&self) -> [u8; 28] {
        let mut b = [0u8; 28];
        b[..4].copy_from_slice(&self.version.to_ne_bytes());
        b[4..8].copy_from_slice(&self.plpmtud_probe_interval.to_ne_bytes());
        b[8..12].copy_from_slice(&self.initial_smoothed_rtt.to_ne_bytes());
        b[12..16].copy_from_slice(&self.payload_cipher_type.to_ne_bytes());
        b[16] = self.congestion_control_algo;
        b[17] = self.validate_peer_address;
        b[18] = self.stream_data_nodelay;
        b[19] = self.receive_session_ticket;
        b[20] = self.certificate_request;
        b[24..].copy_from_slice(&self.keepalive_probe_interval.to_ne_bytes());
        b
    }

    /// Parses getsockopt bytes; `None` unless exactly the structure's size.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let b: &[u8; 28] = b.try_into().ok()?;
        let u32_at = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Self {
            version: u32_at(0),
            plpmtud_probe_interval: u32_at(4),
            initial_smoothed_rtt: u32_at(8),
            payload_cipher_type: u32_at(12),
            congestion_control_algo: b[16],
            validate_peer_address: b[17],
            stream_data_nodelay: b[18],
            receive_session_ticket: b[19],
            certificate_request: b[20],
            reserved: [b[21], b[22], b[23]],
            keepalive_probe_interval: u32_at(24),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    // Sizes and offsets of include/uapi/linux/quic.h on Linux (all
    // architectures: fixed-width fields, natural alignment).
    #[test]
    fn layouts_match_the_header() {
        assert_eq!(size_of::<QuicHandshakeInfo>(), 1);
        assert_eq!(size_of::<QuicStreamInfo>(), 16);
        assert_eq!(offset_of!(QuicStreamInfo, stream_flags), 8);
        assert_eq!(size_of::<QuicCryptoSecret>(), 56);
        assert_eq!(offset_of!(QuicCryptoSecret, send), 0);
        assert_eq!(offset_of!(QuicCryptoSecret, level), 1);
        assert_eq!(offset_of!(QuicCryptoSecret, reserved), 2);
        assert_eq!(offset_of!(QuicCryptoSecret, type_), 4);
        assert_eq!(offset_of!(QuicCryptoSecret, secret), 8);
        assert_eq!(size_of::<QuicConfig>(), 28);
        assert_eq!(offset_of!(QuicConfig, congestion_control_algo), 16);
        assert_eq!(offset_of!(QuicConfig, certificate_request), 20);
        assert_eq!(offset_of!(QuicConfig, keepalive_probe_interval), 24);
        assert_eq!(size_of::<QuicConnectionClose>(), 72);
        assert_eq!(offset_of!(QuicConnectionClose, frame), 4);
        assert_eq!(offset_of!(QuicConnectionClose, phrase), 8);
        assert_eq!(align_of::<QuicConnectionClose>(), 4);
    }

    #[test]
    fn byte_images_agree_with_the_layouts() {
        let s = QuicCryptoSecret::new(
            CryptoLevel::Handshake,
            true,
            TLS_CIPHER_AES_GCM_256,
            &[7; 48],
        );
        let s = s.expect("fits");
        let b = s.to_bytes();
        let mut head = [1u8, 2, 0, 0, 0, 0, 0, 0];
        head[4..].copy_from_slice(&52u32.to_ne_bytes());
        assert_eq!(&b[..8], &head[..]);
        assert_eq!(&b[8..], &[7u8; 48][..]);
        assert_eq!(QuicCryptoSecret::from_bytes(&b), Some(s));
        assert!(QuicCryptoSecret::new(CryptoLevel::App, false, 51, &[0; 49]).is_none());
        let c = QuicConfig {
            version: QUIC_VERSION_V2,
            receive_session_ticket: 1,
            ..Default::default()
        };
        assert_eq!(QuicConfig::from_bytes(&c.to_bytes()), Some(c));
        let close = QuicConnectionClose::new(0x178, b"no_application_protocol");
        assert_eq!(
            QuicConnectionClose::from_bytes(&close.to_bytes()),
            Some(close)
        );
    }
}
