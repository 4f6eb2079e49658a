// SPDX-License-Identifier: GPL-2.0

//! How a connection is set up: its transport parameters, versions,
//! congestion control and the local policies the socket options expose
//! (`QUIC_SOCKOPT_TRANSPORT_PARAM`, `QUIC_SOCKOPT_CONFIG`).

use crate::protocol::ack::AckConfig;
use crate::protocol::error::{TransportError, TransportErrorCode};
use crate::protocol::packet::version::Version;
use crate::protocol::path::pmtud::PmtudConfig;
use crate::protocol::recovery::congestion::Algorithm;
use crate::protocol::recovery::INITIAL_RTT;
use crate::protocol::stream::set::{StreamConfig, StreamLimits};
use crate::protocol::transport_params::{Side, TransportParameters};
use crate::protocol::varint::VarInt;
use core::net::{SocketAddrV4, SocketAddrV6};
use core::time::Duration;

/// The QUIC versions an endpoint speaks, most preferred first.
///
/// # Invariants
///
/// `len <= MAX` and every entry below `len` is supported by the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    list: [Version; Versions::MAX],
    len: u8,
}

impl Versions {
    /// How many versions fit.
    pub const MAX: usize = 2;

    /// Version 1 only.
    pub const V1: Versions = Versions {
        list: [Version::V1, Version::V1],
        len: 1,
    };

    /// Both versions, version 1 preferred.
    pub const V1_V2: Versions = Versions {
        list: [Version::V1, Version::V2],
        len: 2,
    };

    /// Both versions, version 2 preferred.
    pub const V2_V1: Versions = Versions {
        list: [Version::V2, Version::V1],
        len: 2,
    };

    /// The supported versions of `list`, in order, or `None` if none is.
    pub fn new(list: &[Version]) -> Option<Self> {
        let mut out = Versions {
            list: [Version::V1; Self::MAX],
            len: 0,
        };
        for v in list.iter().filter(|v| v.is_supported()) {
            if out.contains(*v) {
                continue;
            }
            let slot = out.list.get_mut(usize::from(out.len))?;
            *slot = *v;
            out.len += 1;
        }
        (out.len > 0).then_some(out)
    }

    /// The versions, most preferred first.
    pub fn as_slice(&self) -> &[Version] {
        self.list.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Whether `v` is listed.
    pub fn contains(&self, v: Version) -> bool {
        self.as_slice().contains(&v)
    }

    /// The most preferred version.
    pub fn first(&self) -> Version {
        self.list[0]
    }
}

/// A connection's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The transport parameters to send. The connection fills in the
    /// connection ID parameters, the stateless reset token and
    /// version_information itself.
    pub transport: TransportParameters,
    /// The versions this endpoint speaks, most preferred first. A client
    /// starts with the first (`quic_config.version`); a server negotiates
    /// the most preferred one the client's first flight is compatible with.
    pub versions: Versions,
    /// Compatible version negotiation (RFC 9368): a client offers every
    /// listed version in version_information and follows a server that
    /// switches; a server switches to its preferred one. Off: only the
    /// first version is offered (the UAPI's `disable_compatible_version`).
    pub compatible_version_negotiation: bool,
    /// The congestion controller (`congestion_control_algo`).
    pub congestion: Algorithm,
    /// The RTT assumed before the first sample (`initial_smoothed_rtt`).
    pub initial_rtt: Duration,
    /// Send a PING when nothing was sent for this long; zero disables
    /// (`keepalive_probe_interval`). Capped to half the idle timeout.
    pub keep_alive: Duration,
    /// The length of the connection IDs this endpoint issues (0 to 20; at
    /// least 8 bytes are used for a client's first Destination ID anyway).
    pub cid_len: usize,
    /// Mark packets with ECT(0) and validate ECN on each path.
    pub ecn: bool,
    /// DPLPMTUD (`plpmtud_probe_interval`); disabled keeps 1200 bytes.
    pub pmtud: PmtudConfig,
    /// The socket's send buffer: bytes written to streams and not yet
    /// acknowledged.
    pub send_buffer: usize,
    /// How far auto-tuning may grow a stream's receive window.
    pub max_stream_window: u64,
    /// How far auto-tuning may grow the connection's receive window.
    pub max_data_window: u64,
    /// CRYPTO bytes buffered per level for TLS (at least 4096).
    pub crypto_buffer: u64,
    /// Received DATAGRAM frames kept until read; more are dropped.
    pub datagram_recv_queue: usize,
    /// DATAGRAM frames waiting to be sent; more are refused.
    pub datagram_send_queue: usize,
    /// Send packets with the QUIC Bit cleared at random when the peer
    /// advertised grease_quic_bit (RFC 9287).
    pub grease_quic_bit: bool,
    /// Add a reserved transport parameter to ours (RFC 9000 §18.1).
    pub grease_transport_parameter: bool,
    /// The most datagrams `poll_transmit` batches for GSO.
    pub max_gso_segments: usize,
    /// Ack-eliciting packets received before an ACK is sent at once.
    pub ack_eliciting_threshold: u8,
    /// Take part in the latency spin bit (RFC 9000 §17.4). Even when on,
    /// one path in 16, chosen at random, does not; off, the bit is random.
    pub spin_bit: bool,
    /// A server's preferred IPv4 address (RFC 9000 §9.6), advertised with
    /// a connection ID of its own in the preferred_address transport
    /// parameter. The endpoint must route packets sent there by
    /// connection ID, like those to the handshake address.
    pub preferred_address_v4: Option<SocketAddrV4>,
    /// A server's preferred IPv6 address; see `preferred_address_v4`.
    pub preferred_address_v6: Option<SocketAddrV6>,
    /// A client moves to the server's preferred address of its own
    /// address family once the handshake is confirmed (RFC 9000 §9.6.1).
    pub migrate_to_preferred_address: bool,
}

impl Config {
    /// Defaults close to the Linux QUIC socket's: 1 MiB windows, 100
    /// streams each way, 30 s idle timeout, CUBIC, version 1 with version 2
    /// offered through compatible negotiation.
    pub const fn new() -> Self {
        let mut transport = TransportParameters::DEFAULT;
        transport.max_idle_timeout = VarInt::from_u32(30_000);
        transport.max_udp_payload_size = VarInt::from_u32(65527);
        transport.initial_max_data = VarInt::from_u32(1 << 20);
        transport.initial_max_stream_data_bidi_local = VarInt::from_u32(256 << 10);
        transport.initial_max_stream_data_bidi_remote = VarInt::from_u32(256 << 10);
        transport.initial_max_stream_data_uni = VarInt::from_u32(256 << 10);
        transport.initial_max_streams_bidi = VarInt::from_u32(100);
        transport.initial_max_streams_uni = VarInt::from_u32(100);
        transport.active_connection_id_limit = VarInt::from_u32(4);
        transport.max_datagram_frame_size = VarInt::from_u32(1200);
        Self {
            transport,
            versions: Versions::V1_V2,
            compatible_version_negotiation: true,
            congestion: Algorithm::Cubic,
            initial_rtt: INITIAL_RTT,
            keep_alive: Duration::ZERO,
            cid_len: 8,
            ecn: true,
            pmtud: PmtudConfig::DISABLED,
            send_buffer: 4 << 20,
            max_stream_window: 8 << 20,
            max_data_window: 16 << 20,
            crypto_buffer: 64 << 10,
            datagram_recv_queue: 64,
            datagram_send_queue: 64,
            grease_quic_bit: false,
            grease_transport_parameter: true,
            max_gso_segments: 1,
            ack_eliciting_threshold: 2,
            spin_bit: true,
            preferred_address_v4: None,
            preferred_address_v6: None,
            migrate_to_preferred_address: true,
        }
    }

    /// Checks what the connection relies on.
    pub fn validate(&self, side: Side) -> Result<(), TransportError> {
        let bad = |reason| TransportError::new(TransportErrorCode::INTERNAL_ERROR, reason);
        if self.cid_len > crate::protocol::cid::ConnectionId::MAX_LEN {
            return Err(bad("connection ID length above 20"));
        }
        self.transport.validate(side)?;
        let v4 = self.preferred_address_v4.map(core::net::SocketAddr::V4);
        let v6 = self.preferred_address_v6.map(core::net::SocketAddr::V6);
        for addr in v4.iter().chain(v6.iter()) {
            if side == Side::Client {
                return Err(bad("a client has no preferred address"));
            }
            //= https://www.rfc-editor.org/rfc/rfc9000#section-18.2
            //# A server that chooses a zero-length connection ID MUST NOT provide a
            //# preferred address.
            if self.cid_len == 0 {
                return Err(bad("preferred address with zero-length connection IDs"));
            }
            // An unspecified address and port encode "not offered".
            if !crate::protocol::path::is_specified(addr) {
                return Err(bad("unspecified preferred address"));
            }
        }
        Ok(())
    }

    /// The idle timeout we advertise; zero for none.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.transport.max_idle_timeout.into_inner())
    }

    /// The versions offered in version_information: all with compatible
    /// negotiation, else only the first.
    pub fn offered_versions(&self) -> &[Version] {
        let all = self.versions.as_slice();
        if self.compatible_version_negotiation {
            all
        } else {
            all.get(..1).unwrap_or(all)
        }
    }

    /// The acknowledgment policy our transport parameters promise.
    pub fn ack_config(&self) -> AckConfig {
        let exponent = self.transport.ack_delay_exponent.into_inner();
        AckConfig {
            ack_eliciting_threshold: self.ack_eliciting_threshold.max(1),
            max_ack_delay: Duration::from_millis(self.transport.max_ack_delay.into_inner()),
            ack_delay_exponent: u8::try_from(exponent).unwrap_or(3),
            ..AckConfig::default()
        }
    }

    /// The stream limits our transport parameters grant.
    pub fn stream_config(&self) -> StreamConfig {
        StreamConfig {
            local: limits_of(&self.transport),
            max_stream_window: self.max_stream_window,
            max_data_window: self.max_data_window,
            send_buffer: self.send_buffer,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// The stream limits a set of transport parameters grants.
pub fn limits_of(p: &TransportParameters) -> StreamLimits {
    StreamLimits {
        max_data: p.initial_max_data.into_inner(),
        max_stream_data_bidi_local: p.initial_max_stream_data_bidi_local.into_inner(),
        max_stream_data_bidi_remote: p.initial_max_stream_data_bidi_remote.into_inner(),
        max_stream_data_uni: p.initial_max_stream_data_uni.into_inner(),
        max_streams_bidi: p.initial_max_streams_bidi.into_inner(),
        max_streams_uni: p.initial_max_streams_uni.into_inner(),
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_config))]
mod tests {
    use super::*;

    #[test]
    fn version_lists() {
        let v = Versions::new(&[Version(0x1a2a_3a4a), Version::V2, Version::V2, Version::V1]);
        assert_eq!(v.map(|v| v.first()), Some(Version::V2));
        assert_eq!(v.map(|v| v.as_slice().len()), Some(2));
        assert_eq!(Versions::new(&[Version(7)]), None);
        let mut c = Config::new();
        assert_eq!(c.offered_versions(), &[Version::V1, Version::V2]);
        c.compatible_version_negotiation = false;
        assert_eq!(c.offered_versions(), &[Version::V1]);
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::default();
        assert_eq!(c.validate(Side::Client), Ok(()));
        assert_eq!(c.idle_timeout(), Duration::from_secs(30));
        assert_eq!(c.ack_config().max_ack_delay, Duration::from_millis(25));
        assert_eq!(c.stream_config().local.max_streams_bidi, 100);
        let mut bad = c;
        bad.cid_len = 21;
        assert!(bad.validate(Side::Server).is_err());
        assert!(c.migrate_to_preferred_address);
    }

    #[test]
    fn preferred_address_is_a_server_setting_with_connection_ids() {
        let mut c = Config::new();
        c.preferred_address_v4 = Some(SocketAddrV4::new([198, 51, 100, 2].into(), 443));
        assert_eq!(c.validate(Side::Server), Ok(()));
        assert!(c.validate(Side::Client).is_err());
        let mut zero = c;
        zero.cid_len = 0;
        assert!(zero.validate(Side::Server).is_err());
        let mut unspecified = Config::new();
        unspecified.preferred_address_v6 = Some(SocketAddrV6::new([0u16; 8].into(), 443, 0, 0));
        assert!(unspecified.validate(Side::Server).is_err());
    }
}
