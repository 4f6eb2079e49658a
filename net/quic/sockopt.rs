// SPDX-License-Identifier: GPL-2.0

//! Socket options at level `SOL_QUIC` (draft-lxin-quic-socket-apis §6,
//! `include/uapi/linux/quic.h`).
//!
//! The structures come and go as bytes in the UAPI's layout, decoded here
//! field by field (native byte order, as C writes them); a short or
//! malformed option fails with `EINVAL`. Options that act on the connection
//! take its lock and flush it like any other input.

use crate::{
    conn::with_conn,
    protocol::{
        connection::{Config, Direction},
        crypto::{CipherSuite, HashAlgorithm, Level},
        endpoint::alpn::{AlpnList, Selection},
        packet::version::Version,
        recovery::congestion::Algorithm,
        stream::{Dir, StreamId},
    },
    socket::Quic,
};
use core::time::Duration;
use kernel::{
    net::{
        protocol::ProtoSock,
        sockopt::{GetValue, SetValue},
    },
    prelude::*,
    uapi,
};

/// The longest ALPN list accepted by `QUIC_SOCKOPT_ALPN` (a TLS ALPN
/// extension body is at most 2^16 - 1 bytes; the socket API's users send a
/// handful of short names).
const ALPN_MAX: usize = 255;

/// The longest token accepted by `QUIC_SOCKOPT_TOKEN`.
const TOKEN_MAX: usize = 512;

/// The largest transport parameters extension we write or read.
const TRANSPORT_PARAM_EXT_MAX: usize = 1024;

/// `TLS_CIPHER_*` of `linux/tls.h`, as `quic_crypto_secret.type` and
/// `quic_config.payload_cipher_type` carry them.
const TLS_CIPHER_AES_GCM_128: u32 = 51;
const TLS_CIPHER_AES_GCM_256: u32 = 52;
const TLS_CIPHER_AES_CCM_128: u32 = 53;
const TLS_CIPHER_CHACHA20_POLY1305: u32 = 54;

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(a)
}

/// The suite of a `TLS_CIPHER_*` value.
fn suite_of(ty: u32) -> Option<CipherSuite> {
    Some(match ty {
        TLS_CIPHER_AES_GCM_128 => CipherSuite::Aes128GcmSha256,
        TLS_CIPHER_AES_GCM_256 => CipherSuite::Aes256GcmSha384,
        TLS_CIPHER_AES_CCM_128 => CipherSuite::Aes128CcmSha256,
        TLS_CIPHER_CHACHA20_POLY1305 => CipherSuite::ChaCha20Poly1305Sha256,
        _ => return None,
    })
}

/// The core's level of a `QUIC_CRYPTO_*` value.
pub(crate) fn level_of(level: u8) -> Option<Level> {
    Some(match u32::from(level) {
        uapi::quic_crypto_level_QUIC_CRYPTO_APP => Level::OneRtt,
        uapi::quic_crypto_level_QUIC_CRYPTO_INITIAL => Level::Initial,
        uapi::quic_crypto_level_QUIC_CRYPTO_HANDSHAKE => Level::Handshake,
        uapi::quic_crypto_level_QUIC_CRYPTO_EARLY => Level::ZeroRtt,
        _ => return None,
    })
}

/// The `QUIC_CRYPTO_*` value of a level.
pub(crate) fn uapi_level(level: Level) -> u8 {
    (match level {
        Level::OneRtt => uapi::quic_crypto_level_QUIC_CRYPTO_APP,
        Level::Initial => uapi::quic_crypto_level_QUIC_CRYPTO_INITIAL,
        Level::Handshake => uapi::quic_crypto_level_QUIC_CRYPTO_HANDSHAKE,
        Level::ZeroRtt => uapi::quic_crypto_level_QUIC_CRYPTO_EARLY,
    }) as u8
}

/// `struct quic_crypto_secret`, decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CryptoSecret<'a> {
    pub(crate) level: Level,
    pub(crate) direction: Direction,
    pub(crate) suite: CipherSuite,
    /// The secret, as long as the suite's hash.
    pub(crate) secret: &'a [u8],
}

/// The size of `struct quic_crypto_secret`.
pub(crate) const CRYPTO_SECRET_LEN: usize = 8 + uapi::QUIC_CRYPTO_SECRET_BUFFER_SIZE as usize;

impl<'a> CryptoSecret<'a> {
    /// Decodes the option. Initial secrets are refused: the kernel derives
    /// them from the connection ID.
    pub(crate) fn decode(b: &'a [u8; CRYPTO_SECRET_LEN]) -> Result<Self> {
        let direction = match b[0] {
            0 => Direction::Recv,
            1 => Direction::Send,
            _ => return Err(EINVAL),
        };
        let level = level_of(b[1]).ok_or(EINVAL)?;
        if level == Level::Initial {
            return Err(EINVAL);
        }
        let suite = suite_of(u32_at(b, 4)).ok_or(EINVAL)?;
        let len = match suite.hash() {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
        };
        Ok(Self {
            level,
            direction,
            suite,
            secret: &b[8..8 + len],
        })
    }
}

/// `struct quic_config`: the socket's settings, kept as set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UapiConfig {
    /// The version a client starts with (0: the default, version 1).
    pub(crate) version: u32,
    /// DPLPMTUD probe interval in microseconds; 0 disables it.
    pub(crate) plpmtud_probe_interval: u32,
    /// The initial RTT in microseconds; 0 for the default (333 ms).
    pub(crate) initial_smoothed_rtt: u32,
    /// A `TLS_CIPHER_*` the handshake should pick (for kernel callers).
    pub(crate) payload_cipher_type: u32,
    /// `QUIC_CONG_ALG_*`.
    pub(crate) congestion_control_algo: u8,
    /// Servers send Retry before accepting a connection.
    pub(crate) validate_peer_address: u8,
    /// Send stream data at once, without waiting to fill packets.
    pub(crate) stream_data_nodelay: u8,
    /// Clients wait for a session ticket (kernel callers).
    pub(crate) receive_session_ticket: u8,
    /// Servers ask for a client certificate (kernel callers).
    pub(crate) certificate_request: u8,
    /// Keep-alive PING interval in microseconds; 0 disables it.
    pub(crate) keepalive_probe_interval: u32,
}

/// The size of `struct quic_config`.
pub(crate) const CONFIG_LEN: usize = 28;

impl UapiConfig {
    /// Decodes and checks the option.
    pub(crate) fn decode(b: &[u8; CONFIG_LEN]) -> Result<Self> {
        let c = Self {
            version: u32_at(b, 0),
            plpmtud_probe_interval: u32_at(b, 4),
            initial_smoothed_rtt: u32_at(b, 8),
            payload_cipher_type: u32_at(b, 12),
            congestion_control_algo: b[16],
            validate_peer_address: b[17],
            stream_data_nodelay: b[18],
            receive_session_ticket: b[19],
            certificate_request: b[20],
            keepalive_probe_interval: u32_at(b, 24),
        };
        if c.version != 0 && !Version(c.version).is_supported() {
            return Err(EINVAL);
        }
        if c.payload_cipher_type != 0 && suite_of(c.payload_cipher_type).is_none() {
            return Err(EINVAL);
        }
        if u32::from(c.congestion_control_algo) >= uapi::quic_cong_algo_QUIC_CONG_ALG_MAX
            || c.validate_peer_address > 1
            || c.stream_data_nodelay > 1
            || c.receive_session_ticket > 1
            || c.certificate_request > 2
        {
            return Err(EINVAL);
        }
        Ok(c)
    }

    /// Encodes the option; `version` is the connection's if it has one.
    pub(crate) fn encode(&self, version: u32) -> [u8; CONFIG_LEN] {
        let mut b = [0u8; CONFIG_LEN];
        b[0..4].copy_from_slice(&version.to_ne_bytes());
        b[4..8].copy_from_slice(&self.plpmtud_probe_interval.to_ne_bytes());
        b[8..12].copy_from_slice(&self.initial_smoothed_rtt.to_ne_bytes());
        b[12..16].copy_from_slice(&self.payload_cipher_type.to_ne_bytes());
        b[16] = self.congestion_control_algo;
        b[17] = self.validate_peer_address;
        b[18] = self.stream_data_nodelay;
        b[19] = self.receive_session_ticket;
        b[20] = self.certificate_request;
        b[24..28].copy_from_slice(&self.keepalive_probe_interval.to_ne_bytes());
        b
    }

    /// Applies the settings the core knows to a connection's `config`.
    pub(crate) fn apply(&self, config: &mut Config) -> Result {
        if self.version == Version::V2.0 {
            config.versions = crate::protocol::connection::Versions::V2_V1;
        }
        config.congestion = if self.congestion_control_algo == 0 {
            Algorithm::NewReno
        } else {
            Algorithm::Cubic
        };
        if self.initial_smoothed_rtt != 0 {
            config.initial_rtt = Duration::from_micros(self.initial_smoothed_rtt.into());
        }
        config.keep_alive = Duration::from_micros(self.keepalive_probe_interval.into());
        Ok(())
    }

    /// The version reported before a connection exists.
    fn version(&self) -> u32 {
        if self.version == 0 {
            Version::V1.0
        } else {
            self.version
        }
    }
}

/// `struct quic_connection_close`: the error close(2) sends
/// (`setsockopt`), or the one that closed the connection (`getsockopt`).
#[derive(Debug, Default)]
pub(crate) struct CloseInfo {
    pub(crate) errcode: u32,
    pub(crate) frame: u8,
    pub(crate) phrase: KVec<u8>,
}

/// The size of `struct quic_connection_close`.
pub(crate) const CLOSE_LEN: usize = 8 + uapi::QUIC_CLOSE_PHRASE_BUFFER_SIZE as usize;

impl CloseInfo {
    fn decode(b: &[u8; CLOSE_LEN]) -> Result<Self> {
        let phrase = &b[8..];
        let len = phrase.iter().position(|c| *c == 0).unwrap_or(phrase.len());
        let mut p = KVec::new();
        p.extend_from_slice(&phrase[..len], GFP_KERNEL)?;
        Ok(Self {
            errcode: u32_at(b, 0),
            frame: b[4],
            phrase: p,
        })
    }

    fn encode(errcode: u64, frame: u64, phrase: &[u8]) -> [u8; CLOSE_LEN] {
        let mut b = [0u8; CLOSE_LEN];
        let code = u32::try_from(errcode).unwrap_or(u32::MAX);
        b[0..4].copy_from_slice(&code.to_ne_bytes());
        b[4] = u8::try_from(frame).unwrap_or(u8::MAX);
        // NUL-terminated within the buffer.
        let n = phrase.len().min(CLOSE_LEN - 8 - 1);
        b[8..8 + n].copy_from_slice(&phrase[..n]);
        b
    }
}

/// The ALPN option an accepted socket reports: the protocol its listener
/// picked from its list `list` (socket option format).
pub(crate) fn selected_alpn(list: &[u8], selection: Selection) -> Result<KVec<u8>> {
    let mut out = KVec::new();
    if let Selection::Protocol(i) = selection {
        let alpn = AlpnList::from_socket_option(list).map_err(|_| EINVAL)?;
        out.extend_from_slice(alpn.get(i).ok_or(EINVAL)?, GFP_KERNEL)?;
    }
    Ok(out)
}

/// `struct quic_stream_info` / `struct quic_errinfo`: a stream ID (signed,
/// -1 for "the next one") and a 32-bit value, 16 bytes with padding.
pub(crate) const STREAM_INFO_LEN: usize = 16;

/// Decodes a stream ID and the value after it.
pub(crate) fn stream_info(b: &[u8; STREAM_INFO_LEN]) -> (i64, u32) {
    (u64_at(b, 0) as i64, u32_at(b, 8))
}

/// Encodes a stream ID and a value.
pub(crate) fn encode_stream_info(id: i64, value: u32) -> [u8; STREAM_INFO_LEN] {
    let mut b = [0u8; STREAM_INFO_LEN];
    b[0..8].copy_from_slice(&id.to_ne_bytes());
    b[8..12].copy_from_slice(&value.to_ne_bytes());
    b
}

/// `setsockopt(SOL_QUIC, name)`.
pub(crate) fn set(sk: &ProtoSock<Quic>, name: i32, val: &SetValue) -> Result {
    let name = u32::try_from(name).map_err(|_| ENOPROTOOPT)?;
    match name {
        uapi::QUIC_SOCKOPT_EVENT => {
            let [ty, on] = val.read_array::<2>()?;
            if ty == 0 || u32::from(ty) >= uapi::quic_event_type_QUIC_EVENT_MAX || on > 1 {
                return Err(EINVAL);
            }
            let mut inner = sk.data().inner.lock();
            if on == 1 {
                inner.events |= 1 << ty;
            } else {
                inner.events &= !(1 << ty);
            }
            Ok(())
        }
        uapi::QUIC_SOCKOPT_ALPN => {
            let alpn = val.read_vec(ALPN_MAX, GFP_KERNEL)?;
            // Names of 1 to 255 bytes, separated by commas.
            AlpnList::from_socket_option(&alpn).map_err(|_| EINVAL)?;
            let mut inner = sk.data().inner.lock();
            if inner.listener.is_some() {
                return Err(EINVAL);
            }
            inner.alpn = alpn;
            Ok(())
        }
        uapi::QUIC_SOCKOPT_CONFIG => {
            let config = UapiConfig::decode(&val.read_array::<CONFIG_LEN>()?)?;
            sk.data().inner.lock().config = config;
            Ok(())
        }
        uapi::QUIC_SOCKOPT_TOKEN => {
            let token = val.read_vec(TOKEN_MAX, GFP_KERNEL)?;
            let mut inner = sk.data().inner.lock();
            if inner.server || inner.listener.is_some() {
                return Err(EINVAL);
            }
            inner.token = token;
            Ok(())
        }
        uapi::QUIC_SOCKOPT_CONNECTION_CLOSE => {
            let info = CloseInfo::decode(&val.read_array::<CLOSE_LEN>()?)?;
            sk.data().inner.lock().close = info;
            Ok(())
        }
        uapi::QUIC_SOCKOPT_CRYPTO_SECRET => {
            let bytes = val.read_array::<CRYPTO_SECRET_LEN>()?;
            let secret = CryptoSecret::decode(&bytes)?;
            with_conn(sk, |state, now| {
                state
                    .conn
                    .install_secret(
                        now,
                        secret.level,
                        secret.direction,
                        secret.suite,
                        secret.secret,
                    )
                    .map_err(|_| EINVAL)?;
                if secret.level == Level::OneRtt {
                    state.app_secret_installed(now, secret.direction == Direction::Send);
                }
                Ok(())
            })
        }
        uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT => {
            let ext = val.read_vec(TRANSPORT_PARAM_EXT_MAX, GFP_KERNEL)?;
            with_conn(sk, |state, now| {
                state
                    .conn
                    .set_peer_transport_parameters(now, &ext)
                    .map_err(|_| EINVAL)
            })
        }
        uapi::QUIC_SOCKOPT_KEY_UPDATE => with_conn(sk, |state, _| {
            state.conn.request_key_update().map_err(|_| EINVAL)
        }),
        uapi::QUIC_SOCKOPT_STREAM_RESET | uapi::QUIC_SOCKOPT_STREAM_STOP_SENDING => {
            let (id, code) = stream_info(&val.read_array::<STREAM_INFO_LEN>()?);
            let id = StreamId::from_u64(u64::try_from(id).map_err(|_| EINVAL)?).ok_or(EINVAL)?;
            with_conn(sk, |state, _| {
                let r = if name == uapi::QUIC_SOCKOPT_STREAM_RESET {
                    state.conn.stream_reset(id, code.into())
                } else {
                    state.conn.stream_stop_sending(id, code.into())
                };
                r.map_err(crate::message::stream_error)
            })
        }
        n if n <= uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT => Err(EOPNOTSUPP),
        _ => Err(ENOPROTOOPT),
    }
}

/// `getsockopt(SOL_QUIC, name)`.
pub(crate) fn get(sk: &ProtoSock<Quic>, name: i32, val: &mut GetValue<'_>) -> Result {
    let name = u32::try_from(name).map_err(|_| ENOPROTOOPT)?;
    match name {
        uapi::QUIC_SOCKOPT_EVENT => {
            let mut opt = [0u8; 2];
            val.read_input(&mut opt)?;
            let ty = opt[0];
            if ty == 0 || u32::from(ty) >= uapi::quic_event_type_QUIC_EVENT_MAX {
                return Err(EINVAL);
            }
            opt[1] = u8::from(sk.data().inner.lock().events & (1 << ty) != 0);
            val.write(&opt)
        }
        uapi::QUIC_SOCKOPT_ALPN => {
            let alpn = {
                let inner = sk.data().inner.lock();
                let mut v = KVec::new();
                v.extend_from_slice(&inner.alpn, GFP_KERNEL)?;
                v
            };
            val.write(&alpn)
        }
        uapi::QUIC_SOCKOPT_CONFIG => {
            let config = sk.data().inner.lock().config;
            let version = sk
                .data()
                .conn
                .lock()
                .as_ref()
                .map_or(config.version(), |s| {
                    s.offered_version.unwrap_or(s.conn.version().0)
                });
            val.write(&config.encode(version))
        }
        uapi::QUIC_SOCKOPT_TOKEN => {
            let token = {
                let inner = sk.data().inner.lock();
                // "getsockopt(TOKEN) fails on a server socket" (uapi-abi.md):
                // libraries tell the roles apart with it.
                if inner.server || inner.listener.is_some() {
                    return Err(EINVAL);
                }
                let mut t = KVec::new();
                let slot = sk.data().conn.lock();
                let new = slot.as_ref().and_then(|s| s.conn.new_token());
                t.extend_from_slice(new.unwrap_or(&inner.token), GFP_ATOMIC)?;
                t
            };
            val.write(&token)
        }
        uapi::QUIC_SOCKOPT_SESSION_TICKET => {
            // Tickets are TLS's business: the kernel keeps none, and offers
            // no server ticket key (userspace handshakes use their own).
            val.write(&[])
        }
        uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT => {
            let mut buf = KVec::from_elem(0u8, TRANSPORT_PARAM_EXT_MAX, GFP_KERNEL)?;
            let n = {
                let mut slot = sk.data().conn.lock();
                let state = (*slot).as_mut().ok_or(ENOTCONN)?;
                state
                    .conn
                    .local_transport_parameters(&mut buf)
                    .map_err(|_| EINVAL)?
            };
            val.write(&buf[..n])
        }
        uapi::QUIC_SOCKOPT_CONNECTION_CLOSE => {
            let closed = sk
                .data()
                .conn
                .lock()
                .as_ref()
                .and_then(|s| s.conn.close_error().copied());
            let info = match closed {
                Some(e) => CloseInfo::encode(e.code, e.frame_type, e.reason.as_bytes()),
                None => {
                    let inner = sk.data().inner.lock();
                    let c = &inner.close;
                    CloseInfo::encode(c.errcode.into(), c.frame.into(), &c.phrase)
                }
            };
            val.write(&info)
        }
        uapi::QUIC_SOCKOPT_STREAM_OPEN => {
            let mut opt = [0u8; STREAM_INFO_LEN];
            val.read_input(&mut opt)?;
            let (id, flags) = stream_info(&opt);
            let id = with_conn(sk, |state, _| {
                crate::message::open_stream(&mut state.conn, id, flags)
            })?;
            val.write(&encode_stream_info(id.into_inner() as i64, flags))
        }
        n if n <= uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT => Err(EOPNOTSUPP),
        _ => Err(ENOPROTOOPT),
    }
}

/// A stream's direction from `MSG_QUIC_STREAM_UNI` in `flags`.
pub(crate) fn dir_of(flags: u32) -> Dir {
    if flags & uapi::quic_msg_flags_MSG_QUIC_STREAM_UNI != 0 {
        Dir::Uni
    } else {
        Dir::Bi
    }
}

#[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
#[kernel::macros::kunit_tests(quic_sockopt)]
mod tests {
    use super::*;

    #[test]
    fn crypto_secret_layout() -> Result {
        let mut b = [0u8; CRYPTO_SECRET_LEN];
        b[0] = 1;
        b[1] = 2; // QUIC_CRYPTO_HANDSHAKE
        b[4..8].copy_from_slice(&TLS_CIPHER_AES_GCM_256.to_ne_bytes());
        b[8] = 0xaa;
        b[55] = 0xbb;
        let s = CryptoSecret::decode(&b)?;
        assert_eq!(s.level, Level::Handshake);
        assert_eq!(s.direction, Direction::Send);
        assert_eq!(s.suite, CipherSuite::Aes256GcmSha384);
        assert_eq!(s.secret.len(), 48);
        assert_eq!((s.secret[0], s.secret[47]), (0xaa, 0xbb));
        // SHA-256 suites take 32 bytes.
        b[4..8].copy_from_slice(&TLS_CIPHER_CHACHA20_POLY1305.to_ne_bytes());
        assert_eq!(CryptoSecret::decode(&b)?.secret.len(), 32);
        // Bad direction, level, cipher; Initial secrets are derived here.
        for (at, v) in [(0, 2u8), (1, 4), (1, 1), (4, 50)] {
            let mut bad = b;
            bad[at] = v;
            assert!(CryptoSecret::decode(&bad).is_err());
        }
        Ok(())
    }

    #[test]
    fn config_round_trip_and_checks() -> Result {
        let c = UapiConfig {
            version: Version::V2.0,
            plpmtud_probe_interval: 1,
            initial_smoothed_rtt: 100_000,
            payload_cipher_type: TLS_CIPHER_AES_GCM_128,
            congestion_control_algo: 0,
            validate_peer_address: 1,
            stream_data_nodelay: 1,
            receive_session_ticket: 1,
            certificate_request: 2,
            keepalive_probe_interval: 5,
        };
        let b = c.encode(c.version);
        assert_eq!(UapiConfig::decode(&b)?, c);
        let mut config = Config::new();
        c.apply(&mut config)?;
        assert_eq!(config.versions.first(), Version::V2);
        assert_eq!(config.congestion, Algorithm::NewReno);
        assert_eq!(config.initial_rtt, Duration::from_millis(100));
        for (at, v) in [(0, 7u8), (12, 9), (16, 2), (17, 2), (20, 3)] {
            let mut bad = b;
            bad[at] = v;
            assert!(UapiConfig::decode(&bad).is_err());
        }
        Ok(())
    }

    #[test]
    fn close_info_and_stream_info() -> Result {
        let b = CloseInfo::encode(0x17a, 6, b"bye");
        let c = CloseInfo::decode(&b)?;
        assert_eq!((c.errcode, c.frame), (0x17a, 6));
        assert_eq!(&c.phrase[..], b"bye");
        // A phrase fills at most the buffer less its NUL.
        let long = [b'x'; 100];
        let b = CloseInfo::encode(0, 0, &long);
        assert_eq!(CloseInfo::decode(&b)?.phrase.len(), CLOSE_LEN - 9);
        let s = encode_stream_info(-1, 0x800);
        assert_eq!(stream_info(&s), (-1, 0x800));
        Ok(())
    }

    #[test]
    fn levels_map_both_ways() {
        for l in [
            Level::Initial,
            Level::ZeroRtt,
            Level::Handshake,
            Level::OneRtt,
        ] {
            assert_eq!(level_of(uapi_level(l)), Some(l));
        }
        assert_eq!(level_of(4), None);
    }
}
