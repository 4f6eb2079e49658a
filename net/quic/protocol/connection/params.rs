// SPDX-License-Identifier: GPL-2.0

//! Transport parameters on a connection (RFC 9000 §7.3, §7.4, §18; RFC 9368
//! §4 and §5).
//!
//! The local parameters are the configured ones plus what only the
//! connection knows: its connection IDs, the server's stateless reset
//! token, and version_information. They are encoded for TLS, which carries
//! them in the quic_transport_parameters extension; the peer's come back
//! the same way and are checked here:
//!
//! - the handshake connection IDs authenticate what the packets said
//!   (§7.3): a mismatch is a TRANSPORT_PARAMETER_ERROR;
//! - version_information must agree with the versions the packets used
//!   (RFC 9368 §4): a mismatch is a VERSION_NEGOTIATION_ERROR.
//!
//! A client keeps the parameters it remembers from an earlier connection
//! to send 0-RTT data within their limits (§7.4.1).

use crate::protocol::cid::{ConnectionId, Generator};
use crate::protocol::codec::{BufferTooShort, Writer};
use crate::protocol::connection::config::limits_of;
use crate::protocol::connection::Connection;
use crate::protocol::crypto::Provider;
use crate::protocol::error::{TransportError, TransportErrorCode};
use crate::protocol::packet::version::Version;
use crate::protocol::side::Side;
use crate::protocol::time::Instant;
use crate::protocol::transport_params::{GreaseParameter, TransportParameters, VersionInformation};
use core::time::Duration;

fn param_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::TRANSPORT_PARAMETER_ERROR, reason)
}

fn vn_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::VERSION_NEGOTIATION_ERROR, reason)
}

/// Whether a first flight in `from` can be converted to `to`: version 1
/// and version 2 are compatible both ways (RFC 9369 §4).
const fn compatible(from: Version, to: Version) -> bool {
    from.is_supported() && to.is_supported()
}

impl<P: Provider, G: Generator> Connection<P, G> {
    /// The local transport parameters, as sent.
    pub fn local_params(&self) -> TransportParameters {
        let mut p = self.config.transport;
        p.initial_source_connection_id = Some(self.local_cid());
        p.original_destination_connection_id = None;
        p.retry_source_connection_id = None;
        p.stateless_reset_token = None;
        p.preferred_address = self.preferred_address_param();
        let mut available = [0u32; 2];
        let offered = self.offered_versions();
        let versions: &[Version] = match self.side {
            Side::Client => offered.as_slice(),
            Side::Server => self.config.versions.as_slice(),
        };
        let mut n = 0;
        for (slot, v) in available.iter_mut().zip(versions) {
            *slot = v.0;
            n += 1;
        }
        let chosen = match self.side {
            Side::Client => self.original_version,
            Side::Server => self.version,
        };
        p.version_information =
            VersionInformation::new(chosen.0, available.get(..n).unwrap_or(&[]));
        if self.side.is_server() {
            p.original_destination_connection_id = Some(self.cids.original_dcid);
            p.retry_source_connection_id = self.cids.retry_scid;
            p.stateless_reset_token = self.local_cids.initial_reset_token().map(|t| *t.as_bytes());
        }
        p
    }

    fn grease_parameter(&self) -> Option<GreaseParameter> {
        // Derived from the connection's grease seed: the same on every call.
        self.config
            .grease_transport_parameter
            .then(|| GreaseParameter::from_random(self.grease_state.rotate_left(17)))
    }

    /// Writes the local transport parameters, the body of the TLS
    /// quic_transport_parameters extension
    /// (`QUIC_SOCKOPT_TRANSPORT_PARAM_EXT`), into `buf`; returns its length.
    /// From then on the local parameters are fixed.
    pub fn local_transport_parameters(&mut self, buf: &mut [u8]) -> Result<usize, BufferTooShort> {
        let params = self.local_params();
        let grease = self.grease_parameter();
        let mut w = Writer::new(buf);
        params.encode(grease.as_ref(), &mut w)?;
        self.local_params_sent = true;
        Ok(w.len())
    }

    /// The peer's transport parameters, once received.
    pub fn peer_transport_parameters(&self) -> Option<&TransportParameters> {
        self.peer_params.as_ref()
    }

    /// Restores the server's parameters remembered from an earlier
    /// connection, so that a client can send 0-RTT data within their limits
    /// (RFC 9000 §7.4.1; `QUIC_SOCKOPT_TRANSPORT_PARAM` with `remote = 1`).
    pub fn set_remembered_transport_parameters(
        &mut self,
        remembered: &TransportParameters,
    ) -> Result<(), TransportError> {
        if self.side.is_server() || self.peer_params.is_some() {
            return Err(TransportError::internal("nothing to remember"));
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-7.4.1
        //# A client that attempts to send 0-RTT data MUST remember all other
        //# transport parameters used by the server that it is able to process.
        self.streams.set_peer_limits(limits_of(remembered))?;
        self.peer_max_datagram_frame = remembered.max_datagram_frame_size.into_inner();
        *self.remembered_params = Some(*remembered);
        Ok(())
    }

    /// Takes the peer's transport parameters, the extension body TLS
    /// received (`QUIC_SOCKOPT_TRANSPORT_PARAM_EXT`). On any error the
    /// connection is closed with it.
    pub fn set_peer_transport_parameters(
        &mut self,
        now: Instant,
        bytes: &[u8],
    ) -> Result<(), TransportError> {
        let result = TransportParameters::decode(bytes, self.side.peer())
            .and_then(|p| self.check_peer_params(&p).map(|()| p))
            .and_then(|p| self.apply_peer_params(p, now));
        if let Err(e) = result {
            self.close_on_error(now, e);
        }
        self.update_timers(now);
        result
    }

    /// The connection ID checks of RFC 9000 §7.3 and the version checks of
    /// RFC 9368 §4.
    fn check_peer_params(&mut self, p: &TransportParameters) -> Result<(), TransportError> {
        if self.peer_params.is_some() {
            return Err(param_error("transport parameters received twice"));
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-7.3
        //# An endpoint MUST treat the absence of the initial_source_connection_id
        //# transport parameter from either endpoint or the absence of the
        //# original_destination_connection_id transport parameter from the server
        //# as a connection error of type TRANSPORT_PARAMETER_ERROR.
        let scid = p
            .initial_source_connection_id
            .ok_or(param_error("initial_source_connection_id missing"))?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-7.3
        //# An endpoint MUST treat the following as a connection error of type
        //# TRANSPORT_PARAMETER_ERROR or PROTOCOL_VIOLATION:
        if self.cids.peer_initial_scid != Some(scid) {
            return Err(param_error("initial_source_connection_id mismatch"));
        }
        if self.side.is_client() {
            let odcid = p
                .original_destination_connection_id
                .ok_or(param_error("original_destination_connection_id missing"))?;
            if odcid != self.cids.original_dcid {
                return Err(param_error("original_destination_connection_id mismatch"));
            }
            if p.retry_source_connection_id != self.cids.retry_scid {
                return Err(param_error("retry_source_connection_id mismatch"));
            }
        }
        self.check_version_information(p.version_information.as_ref())
    }

    fn check_version_information(
        &mut self,
        info: Option<&VersionInformation>,
    ) -> Result<(), TransportError> {
        match self.side {
            Side::Server => {
                let Some(info) = info else {
                    // The client does not negotiate: stay on its version.
                    return self.server_settle_version(&[self.original_version.0]);
                };
                //= https://www.rfc-editor.org/rfc/rfc9368#section-4
                //# the server MUST validate that the client's Chosen Version
                //# matches the version in use for the connection.
                if info.chosen() != self.original_version.0 {
                    return Err(vn_error("client's chosen version mismatch"));
                }
                self.server_settle_version(info.available())
            }
            Side::Client => {
                let reacted = self.reacted_to_version_negotiation();
                let assumed;
                let info = match info {
                    Some(info) => info,
                    None if reacted => {
                        assumed = self.assumed_version_information()?;
                        &assumed
                    }
                    None if self.version != self.original_version => {
                        return Err(vn_error("version changed without version_information"));
                    }
                    None => return Ok(()),
                };
                //= https://www.rfc-editor.org/rfc/rfc9368#section-4
                //# If a client receives Version Information where the server's Chosen
                //# Version was not sent by the client as part of its Available Versions,
                //# the client MUST close the connection with a version negotiation error.
                let chosen = Version(info.chosen());
                if !self.offered_versions().contains(chosen) {
                    return Err(vn_error("server chose a version not offered"));
                }
                //= https://www.rfc-editor.org/rfc/rfc9368#section-4
                //# clients MUST validate that the server's
                //# Chosen Version is equal to the Negotiated Version
                if chosen != self.version {
                    return Err(vn_error("server's chosen version differs from its packets"));
                }
                if reacted {
                    self.check_available_versions(info)?;
                }
                Ok(())
            }
        }
    }

    /// A server picks the version at accept time, from its preference and
    /// the client's Initial version (RFC 9368 §2.3).
    pub(crate) fn choose_server_version(&mut self) {
        if !self.config.compatible_version_negotiation {
            return;
        }
        let from = self.original_version;
        let preferred = self
            .config
            .versions
            .as_slice()
            .iter()
            .copied()
            .find(|v| compatible(from, *v));
        if let Some(v) = preferred {
            self.switch_version(v);
        }
    }

    /// Makes sure the server's version is one the client's first flight is
    /// compatible with (`available`); a choice not yet announced may still
    /// change.
    fn server_settle_version(&mut self, available: &[u32]) -> Result<(), TransportError> {
        if available.contains(&self.version.0) {
            return Ok(());
        }
        if self.local_params_sent {
            return Err(vn_error("negotiated version not available to the client"));
        }
        let fallback = self
            .config
            .versions
            .as_slice()
            .iter()
            .copied()
            .find(|v| available.contains(&v.0) && compatible(self.original_version, *v))
            .unwrap_or(self.original_version);
        self.switch_version(fallback);
        Ok(())
    }

    /// Sends (and derives Initial keys) in `version` from now on.
    pub(crate) fn switch_version(&mut self, version: Version) {
        if version == self.version {
            return;
        }
        let dcid = self.cids.initial_dcid;
        if self
            .keys
            .switch_initial_version(&self.provider, version, dcid.as_slice(), self.side)
            .is_ok()
        {
            self.version = version;
        }
    }

    fn apply_peer_params(
        &mut self,
        p: TransportParameters,
        now: Instant,
    ) -> Result<(), TransportError> {
        self.streams.set_peer_limits(limits_of(&p))?;
        if let Some(token) = p.stateless_reset_token {
            self.peer_cids
                .set_handshake_reset_token(crate::protocol::cid::reset::ResetToken::new(token));
        }
        if let Some(pa) = &p.preferred_address {
            let token = crate::protocol::cid::reset::ResetToken::new(pa.reset_token);
            self.peer_cids.on_preferred_address(pa.id, token)?;
        }
        self.local_cids
            .set_peer_limit(p.active_connection_id_limit.into_inner());
        if self.keys.can_send(crate::protocol::crypto::Level::OneRtt) {
            self.local_cids.replenish(&mut self.gen)?;
        }
        self.paths.set_peer_transport_parameters(
            p.max_udp_payload_size.into_inner(),
            p.disable_active_migration,
        );
        self.recovery
            .set_peer_max_ack_delay(Duration::from_millis(p.max_ack_delay.into_inner()));
        //= https://www.rfc-editor.org/rfc/rfc9000#section-10.1
        //# Each endpoint advertises a max_idle_timeout, but the effective value
        //# at an endpoint is computed as the minimum of the two advertised
        //# values
        let peer_idle = Duration::from_millis(p.max_idle_timeout.into_inner());
        self.idle_timeout = match (self.config.idle_timeout(), peer_idle) {
            (a, b) if a.is_zero() => b,
            (a, b) if b.is_zero() => a,
            (a, b) => a.min(b),
        };
        self.peer_max_datagram_frame = p.max_datagram_frame_size.into_inner();
        *self.peer_params = Some(p);
        self.reset_idle_timer(now);
        Ok(())
    }

    /// The peer's Source Connection ID of its first packet, recorded for
    /// the §7.3 check (client side; the server knows it from the start).
    pub(crate) fn record_peer_initial_scid(&mut self, scid: ConnectionId) {
        if self.cids.peer_initial_scid.is_none() {
            self.cids.peer_initial_scid = Some(scid);
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_params))]
mod tests {
    use super::*;
    use crate::protocol::connection::testing::{client, server_for, TestResult};

    #[test]
    fn local_parameters_carry_the_connection_ids() -> TestResult {
        let mut c = client()?;
        let mut buf = [0u8; 256];
        let n = c
            .local_transport_parameters(&mut buf)
            .map_err(|_| "encode")?;
        let p = TransportParameters::decode(buf.get(..n).unwrap_or(&[]), Side::Client)
            .map_err(|_| "decode")?;
        assert_eq!(p.initial_source_connection_id, Some(c.local_cid()));
        assert_eq!(p.original_destination_connection_id, None);
        let info = p.version_information.ok_or("no version information")?;
        assert_eq!(info.chosen(), Version::V1.0);
        assert_eq!(info.available(), &[Version::V1.0, Version::V2.0]);
        Ok(())
    }

    #[test]
    fn server_parameters_are_authenticated() -> TestResult {
        let mut c = client()?;
        let s = server_for(&c)?;
        // A server claiming another original DCID is refused.
        let mut p = s.local_params();
        p.original_destination_connection_id = Some(ConnectionId::EMPTY);
        c.record_peer_initial_scid(s.local_cid());
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf);
        p.encode(None, &mut w).map_err(|_| "encode")?;
        let n = w.len();
        let err = c.set_peer_transport_parameters(Instant::ZERO, buf.get(..n).unwrap_or(&[]));
        assert_eq!(
            err.map_err(|e| e.code),
            Err(TransportErrorCode::TRANSPORT_PARAMETER_ERROR)
        );
        assert!(c.is_closed());
        Ok(())
    }

    #[test]
    fn server_prefers_its_version_when_compatible() -> TestResult {
        let c = client()?;
        let mut config = crate::protocol::connection::testing::config();
        config.versions = crate::protocol::connection::Versions::V2_V1;
        let s = crate::protocol::connection::testing::server_with(&c, config)?;
        assert_eq!(s.version(), Version::V2);
        assert_eq!(
            s.local_params().version_information.map(|i| i.chosen()),
            Some(Version::V2.0)
        );
        Ok(())
    }
}
