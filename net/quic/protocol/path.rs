// SPDX-License-Identifier: GPL-2.0

//! Network paths (RFC 9000 §8.2, §9, §14).
//!
//! A path is a pair of local and remote transport addresses. Each one has
//! its own anti-amplification budget ([`amplification`]), validation state
//! ([`validation`]), maximum datagram size ([`pmtud`]) and latency spin
//! bit ([`spin`]). [`migration`] holds the paths of a connection, follows
//! the peer when it moves, migrates on request and reverts when a new path
//! fails, reporting each change as an [`event`].
//!
//! Frames are handled elsewhere; paths take PATH_CHALLENGE and PATH_RESPONSE
//! data as plain arguments, and random challenge data from the caller.

pub mod amplification;
pub mod event;
pub mod migration;
pub mod pmtud;
pub mod spin;
pub mod validation;

use crate::protocol::time::Instant;
use amplification::AntiAmplification;
use core::time::Duration;

pub use core::net::{IpAddr, SocketAddr};
use pmtud::{Pmtud, PmtudConfig};
use spin::Spin;
use validation::{ChallengeData, Validation, MIN_DATAGRAM_SIZE};

/// `addr` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) turned into
/// IPv4, so that a dual-stack socket's view of an IPv4 peer equals the IPv4
/// one. Paths compare addresses in this form.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Whether `a` and `b` differ in the port only: the usual mark of a NAT
/// rebinding (RFC 9000 §9.4).
pub fn is_port_change(a: &SocketAddr, b: &SocketAddr) -> bool {
    a.ip() == b.ip() && a.port() != b.port()
}

/// Whether `addr` can be sent to: a specified IP and a non-zero port.
pub fn is_specified(addr: &SocketAddr) -> bool {
    !addr.ip().is_unspecified() && addr.port() != 0
}

/// Names a path for as long as the connection has it. Never reused within a
/// connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathId(u64);

impl PathId {
    /// The number behind the identifier.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

/// Why a path exists, which decides what its validation leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// The handshake's path.
    Handshake,
    /// The peer sent from (or to) a new address.
    Peer,
    /// This endpoint is moving to a new local address.
    Local,
    /// The client is moving to the server's preferred address.
    PreferredAddress,
}

/// One network path of a connection.
#[derive(Clone, Debug)]
pub struct Path {
    id: PathId,
    local: SocketAddr,
    remote: SocketAddr,
    origin: Origin,
    amplification: AntiAmplification,
    validation: Validation,
    pmtud: Pmtud,
    /// Data of the PATH_CHALLENGE to echo on this path.
    response: Option<ChallengeData>,
    /// The sequence number of the peer connection ID used on this path.
    dcid_seq: Option<u64>,
    /// A non-probing packet with the largest packet number arrived on this
    /// path; switch to it once validated (server preferred address, §9.6.2).
    switch_on_validation: bool,
    /// The latency spin bit (§17.4).
    spin: Spin,
}

impl Path {
    fn new(
        id: PathId,
        local: SocketAddr,
        remote: SocketAddr,
        origin: Origin,
        amplification: AntiAmplification,
        validation: Validation,
        pmtud: PmtudConfig,
    ) -> Self {
        Self {
            id,
            local,
            remote,
            origin,
            amplification,
            validation,
            pmtud: Pmtud::new(pmtud),
            response: None,
            dcid_seq: None,
            switch_on_validation: false,
            spin: Spin::new(),
        }
    }

    /// The path's identifier.
    pub fn id(&self) -> PathId {
        self.id
    }

    /// The local address packets on this path are sent from.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The peer address packets on this path are sent to.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Whether the peer is known to be reachable on this path.
    pub fn is_validated(&self) -> bool {
        self.validation.is_validated()
    }

    /// The path's validation state.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// The path's DPLPMTUD state.
    pub fn pmtud(&self) -> &Pmtud {
        &self.pmtud
    }

    /// The path's DPLPMTUD state, to report probes, acknowledgments, losses
    /// and ICMP messages for packets sent on this path.
    pub fn pmtud_mut(&mut self) -> &mut Pmtud {
        &mut self.pmtud
    }

    /// The largest datagram to send on this path, probes aside.
    pub fn max_datagram_size(&self) -> usize {
        self.pmtud.max_datagram_size()
    }

    /// The sequence number of the peer connection ID used on this path, as
    /// set by [`Path::set_dcid_sequence`].
    pub fn dcid_sequence(&self) -> Option<u64> {
        self.dcid_seq
    }

    /// Records which peer connection ID this path uses, so that the events
    /// about the path can name it.
    /// A change of connection ID resets the path's spin value.
    pub fn set_dcid_sequence(&mut self, seq: Option<u64>) {
        if seq != self.dcid_seq {
            self.spin.on_cid_changed();
        }
        self.dcid_seq = seq;
    }

    /// The path's latency spin bit state.
    pub fn spin(&self) -> &Spin {
        &self.spin
    }

    /// The path's latency spin bit state, to update on 1-RTT packets.
    pub fn spin_mut(&mut self) -> &mut Spin {
        &mut self.spin
    }

    /// How many bytes may be sent on this path now (§8.1): unlimited
    /// (`u64::MAX`) once the peer's address is validated.
    pub fn send_budget(&self) -> u64 {
        self.amplification.send_budget()
    }

    /// Counts a datagram of `len` bytes sent on this path.
    pub fn on_datagram_sent(&mut self, len: usize) {
        self.amplification.on_sent(len);
    }

    /// The size to pad a datagram carrying PATH_CHALLENGE or PATH_RESPONSE
    /// to: 1200 bytes, unless the anti-amplification limit allows less.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-8.2.2
    //# An endpoint MUST expand datagrams that contain a PATH_RESPONSE frame
    //# to at least the smallest allowed maximum datagram size of 1200 bytes.
    pub fn probe_datagram_len(&self) -> usize {
        let budget = usize::try_from(self.send_budget()).unwrap_or(usize::MAX);
        MIN_DATAGRAM_SIZE.min(budget)
    }

    /// Whether a PATH_CHALLENGE should be sent on this path now.
    pub fn challenge_due(&self, now: Instant) -> bool {
        self.validation.challenge_due(now)
    }

    /// Records a PATH_CHALLENGE with `data` sent on this path in a datagram
    /// of `datagram_len` bytes; `pto` is the connection's current PTO.
    pub fn on_challenge_sent(
        &mut self,
        data: ChallengeData,
        datagram_len: usize,
        now: Instant,
        pto: Duration,
    ) {
        self.validation
            .on_challenge_sent(data, datagram_len, now, pto);
    }

    /// Records a PATH_CHALLENGE received on this path. Only the latest is
    /// answered: the peer repeats its challenges as needed.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-8.2.2
    //# A PATH_RESPONSE frame MUST be sent on the network path where the
    //# PATH_CHALLENGE frame was received.
    pub fn on_path_challenge(&mut self, data: ChallengeData) {
        self.response = Some(data);
    }

    /// The PATH_RESPONSE data to send on this path, if any.
    pub fn pending_response(&self) -> Option<ChallengeData> {
        self.response
    }

    /// Records that the PATH_RESPONSE was sent: it is never repeated.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-8.2.2
    //# An endpoint MUST NOT send more than one PATH_RESPONSE frame in
    //# response to one PATH_CHALLENGE frame
    pub fn on_response_sent(&mut self) {
        self.response = None;
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_path))]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

    const fn v4(o: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(o[0], o[1], o[2], o[3]),
            port,
        ))
    }

    #[test]
    fn canonical_form() {
        let mapped = SocketAddr::new(
            IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()),
            443,
        );
        assert_eq!(canonical(mapped), v4([192, 0, 2, 1], 443));
        let v6 = SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            443,
        );
        assert_eq!(canonical(v6), v6);
        assert!(!v6.is_ipv4());
        assert!(canonical(mapped).is_ipv4());
    }

    #[test]
    fn port_changes_and_unspecified() {
        let a = v4([192, 0, 2, 1], 4433);
        assert!(is_port_change(&v4([192, 0, 2, 1], 4434), &a));
        assert!(!is_port_change(&v4([192, 0, 2, 2], 4434), &a));
        assert!(!is_port_change(&a, &a));
        assert!(is_specified(&a));
        assert!(!is_specified(&v4([0; 4], 443)));
        assert!(!is_specified(&SocketAddr::new(
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            0
        )));
        assert!(!is_specified(&v4([192, 0, 2, 1], 0)));
    }

    fn path(amplification: AntiAmplification) -> Path {
        Path::new(
            PathId(7),
            v4([192, 0, 2, 1], 4433),
            v4([198, 51, 100, 1], 443),
            Origin::Peer,
            amplification,
            Validation::new(),
            PmtudConfig::DISABLED,
        )
    }

    #[test]
    fn responses_are_sent_once() {
        let mut p = path(AntiAmplification::validated());
        assert_eq!(p.pending_response(), None);
        p.on_path_challenge([1; 8]);
        p.on_path_challenge([2; 8]);
        assert_eq!(p.pending_response(), Some([2; 8]));
        p.on_response_sent();
        assert_eq!(p.pending_response(), None);
    }

    #[test]
    fn probe_padding_respects_the_amplification_limit() {
        let mut p = path(AntiAmplification::unvalidated());
        assert_eq!(p.probe_datagram_len(), 0);
        p.amplification.on_received(100);
        assert_eq!(p.probe_datagram_len(), 300);
        p.amplification.on_received(1000);
        assert_eq!(p.probe_datagram_len(), 1200);
        p.on_datagram_sent(3000);
        assert_eq!(p.send_budget(), 300);
        assert_eq!(p.probe_datagram_len(), 300);
        assert_eq!(
            path(AntiAmplification::validated()).probe_datagram_len(),
            1200
        );
    }

    #[test]
    fn a_new_connection_id_resets_the_spin_value() {
        use crate::protocol::side::Side;
        let mut p = path(AntiAmplification::validated());
        p.spin_mut().decide(true, 1);
        p.spin_mut().on_packet_received(Side::Server, 0, true);
        assert!(p.spin().value());
        p.set_dcid_sequence(Some(0));
        assert!(!p.spin().value());
        p.spin_mut().on_packet_received(Side::Server, 1, true);
        // The same connection ID again changes nothing.
        p.set_dcid_sequence(Some(0));
        assert!(p.spin().value());
    }

    #[test]
    fn accessors() {
        let mut p = path(AntiAmplification::validated());
        assert_eq!(p.id().as_u64(), 7);
        assert_eq!(p.remote().port(), 443);
        assert_eq!(p.local().port(), 4433);
        assert!(!p.is_validated());
        assert_eq!(p.max_datagram_size(), pmtud::BASE_PLPMTU);
        p.set_dcid_sequence(Some(3));
        assert_eq!(p.dcid_sequence(), Some(3));
        assert!(!p.challenge_due(Instant::ZERO));
    }
}
