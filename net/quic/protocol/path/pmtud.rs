// SPDX-License-Identifier: GPL-2.0

//! Datagram Packetization Layer PMTU Discovery (RFC 8899, as profiled for
//! QUIC by RFC 9000 §14.3).
//!
//! The maximum datagram size of a path starts at BASE_PLPMTU, 1200 bytes,
//! which the handshake proved. Once the handshake is confirmed the search
//! sends PMTU probes: ack-eliciting packets padded to a candidate size. A
//! probe acknowledged raises the size; [`MAX_PROBES`] losses of one size mark
//! it too big. Each search first tries its upper bound (the smaller of the
//! local maximum and the peer's max_udp_payload_size), which most paths
//! carry, then bisects. When the remaining interval is under
//! [`SEARCH_GRANULARITY`] the search is complete, and starts again after the
//! probe interval (PMTU_RAISE_TIMER) in case the path grew.
//!
//! Black holes: if full-size packets keep being lost while no packet of that
//! size gets through, the path shrank; the size falls back to the base and
//! the search restarts below the failing size.
//!
//! The caller keeps probe losses away from congestion control (§14.4).

use crate::protocol::time::Instant;
use core::time::Duration;

/// BASE_PLPMTU and MIN_PLPMTU: QUIC's smallest maximum datagram size.
//= https://www.rfc-editor.org/rfc/rfc9000#section-14.3
//# Endpoints SHOULD set the initial value of BASE_PLPMTU (Section 5.1 of
//# [DPLPMTUD]) to be consistent with QUIC's smallest allowed maximum
//# datagram size.
pub const BASE_PLPMTU: usize = 1200;

/// The largest UDP payload (the max_udp_payload_size default).
pub const MAX_UDP_PAYLOAD: usize = 65527;

/// How many times a probe of one size is lost before the size is deemed too
/// big (RFC 8899 §5.1.2).
pub const MAX_PROBES: u8 = 3;

/// A search stops when the sizes left to try span less than this.
pub const SEARCH_GRANULARITY: usize = 20;

/// How many suspicious losses of large packets declare a black hole.
pub const BLACK_HOLE_THRESHOLD: u8 = 3;

/// Local DPLPMTUD settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmtudConfig {
    /// The largest datagram the local side can send (from the device MTU).
    pub max_datagram_size: usize,
    /// The time between a completed search and the next one: the
    /// `plpmtud_probe_interval` of `struct quic_config`. Zero disables
    /// discovery, which keeps datagrams at [`BASE_PLPMTU`].
    pub probe_interval: Duration,
}

impl PmtudConfig {
    /// No discovery: every datagram fits [`BASE_PLPMTU`].
    pub const DISABLED: PmtudConfig = PmtudConfig {
        max_datagram_size: BASE_PLPMTU,
        probe_interval: Duration::ZERO,
    };
}

/// The DPLPMTUD phase (RFC 8899 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmtudState {
    /// Discovery is off.
    Disabled,
    /// The base size is in use; no search yet.
    Base,
    /// Probing for a larger size.
    Searching,
    /// The search ended; the next one waits for the raise timer.
    SearchComplete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Probe {
    pn: u64,
    size: usize,
}

/// DPLPMTUD for one path.
///
/// # Invariants
///
/// `BASE_PLPMTU <= plpmtu <= max(search_high, BASE_PLPMTU)` while searching,
/// and `search_high <= self.max_size()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pmtud {
    state: PmtudState,
    /// The confirmed maximum datagram size.
    plpmtu: usize,
    local_max: usize,
    peer_max: usize,
    /// The largest size not known to be too big.
    search_high: usize,
    /// Whether the next probe tries `search_high` rather than bisecting.
    try_high: bool,
    probe: Option<Probe>,
    /// Losses of the current probe size.
    losses: u8,
    interval: Duration,
    raise_at: Option<Instant>,
    /// The most recently sent large packet acknowledged: (number, size).
    large_acked: Option<Probe>,
    suspicious: u8,
    smallest_suspicious: usize,
}

impl Pmtud {
    /// Discovery for a new path, in [`PmtudState::Base`] (or
    /// [`PmtudState::Disabled`]) until [`Pmtud::start`].
    pub fn new(config: PmtudConfig) -> Self {
        let local_max = config.max_datagram_size.clamp(BASE_PLPMTU, MAX_UDP_PAYLOAD);
        let disabled = config.probe_interval.is_zero();
        Self {
            state: if disabled {
                PmtudState::Disabled
            } else {
                PmtudState::Base
            },
            plpmtu: BASE_PLPMTU,
            local_max,
            peer_max: MAX_UDP_PAYLOAD,
            search_high: local_max,
            try_high: true,
            probe: None,
            losses: 0,
            interval: config.probe_interval,
            raise_at: None,
            large_acked: None,
            suspicious: 0,
            smallest_suspicious: usize::MAX,
        }
    }

    /// The current phase.
    pub fn state(&self) -> PmtudState {
        self.state
    }

    /// The current maximum datagram size: every packet but a probe fits it.
    pub fn max_datagram_size(&self) -> usize {
        self.plpmtu
    }

    /// The largest size the search may reach.
    fn max_size(&self) -> usize {
        self.local_max.min(self.peer_max)
    }

    /// Records the peer's max_udp_payload_size transport parameter.
    pub fn set_peer_max_udp_payload_size(&mut self, size: u64) {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        self.peer_max = size.clamp(BASE_PLPMTU, MAX_UDP_PAYLOAD);
        self.search_high = self.search_high.min(self.max_size());
        self.plpmtu = self.plpmtu.min(self.max_size());
    }

    /// Leaves [`PmtudState::Base`] and starts searching: QUIC enters BASE
    /// once the handshake is confirmed (§14.3.1), and the handshake already
    /// proved the base size.
    pub fn start(&mut self, now: Instant) {
        if self.state == PmtudState::Base {
            self.search(self.max_size(), true, now);
        }
    }

    /// Starts a search for sizes up to `high`.
    fn search(&mut self, high: usize, try_high: bool, now: Instant) {
        self.state = PmtudState::Searching;
        self.search_high = high.min(self.max_size());
        self.try_high = try_high;
        self.probe = None;
        self.losses = 0;
        self.raise_at = None;
        self.check_complete(now);
    }

    /// Ends the search if nothing worth a probe is left.
    fn check_complete(&mut self, now: Instant) {
        if self.search_high.saturating_sub(self.plpmtu) < SEARCH_GRANULARITY {
            self.state = PmtudState::SearchComplete;
            self.probe = None;
            // Nothing can grow beyond the maximum: no need to look again.
            self.raise_at = if self.plpmtu < self.max_size() {
                Some(now + self.interval)
            } else {
                None
            };
        }
    }

    /// The size of the PMTU probe to send now, if one is due: the search is
    /// on and no probe is in flight.
    pub fn next_probe_size(&self) -> Option<usize> {
        if self.state != PmtudState::Searching || self.probe.is_some() {
            return None;
        }
        if self.try_high {
            return Some(self.search_high);
        }
        let gap = self.search_high.saturating_sub(self.plpmtu);
        Some(self.plpmtu + gap.div_ceil(2))
    }

    /// Records that the probe of `size` bytes went out in packet `pn`.
    pub fn on_probe_sent(&mut self, pn: u64, size: usize) {
        if self.state == PmtudState::Searching {
            self.probe = Some(Probe { pn, size });
        }
    }

    /// Processes the acknowledgment of 1-RTT packet `pn` of `size` bytes.
    pub fn on_packet_acked(&mut self, pn: u64, size: usize, now: Instant) {
        let newer = !matches!(self.large_acked, Some(a) if a.pn >= pn);
        if size > BASE_PLPMTU && newer {
            self.large_acked = Some(Probe { pn, size });
        }
        if size >= self.plpmtu {
            self.suspicious = 0;
            self.smallest_suspicious = usize::MAX;
        }
        let Some(probe) = self.probe.filter(|p| p.pn == pn) else {
            return;
        };
        self.probe = None;
        self.losses = 0;
        self.try_high = false;
        if probe.size > self.plpmtu {
            self.plpmtu = probe.size.min(self.max_size());
        }
        self.check_complete(now);
    }

    /// Processes the loss of 1-RTT packet `pn` of `size` bytes. Returns
    /// whether a black hole was detected: the maximum datagram size fell
    /// back to [`BASE_PLPMTU`].
    pub fn on_packet_lost(&mut self, pn: u64, size: usize, now: Instant) -> bool {
        if let Some(probe) = self.probe.filter(|p| p.pn == pn) {
            self.probe = None;
            self.losses = self.losses.saturating_add(1);
            if self.losses >= MAX_PROBES {
                // This size does not get through: bisect below it.
                self.losses = 0;
                self.try_high = false;
                self.search_high = probe.size.saturating_sub(1).min(self.search_high);
                self.check_complete(now);
            }
            return false;
        }
        if self.state == PmtudState::Disabled || self.plpmtu <= BASE_PLPMTU || size <= BASE_PLPMTU {
            return false;
        }
        // A later packet at least this large got through: congestion, not
        // the path MTU.
        if self
            .large_acked
            .is_some_and(|a| a.pn > pn && a.size >= size)
        {
            return false;
        }
        self.suspicious = self.suspicious.saturating_add(1);
        self.smallest_suspicious = self.smallest_suspicious.min(size);
        if self.suspicious < BLACK_HOLE_THRESHOLD {
            return false;
        }
        // RFC 8899 §5.2: back to BASE_PLPMTU, then search below the sizes
        // that failed.
        let high = self.smallest_suspicious.saturating_sub(1);
        self.plpmtu = BASE_PLPMTU;
        self.suspicious = 0;
        self.smallest_suspicious = usize::MAX;
        self.large_acked = None;
        self.search(high, false, now);
        true
    }

    /// Processes a validated ICMP Packet Too Big reporting that datagrams
    /// above `max_datagram_size` bytes do not pass.
    pub fn on_packet_too_big(&mut self, max_datagram_size: usize, now: Instant) {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-14.2.1
        //# An endpoint MUST ignore an ICMP message that claims the PMTU has
        //# decreased below QUIC's smallest allowed maximum datagram size.
        if max_datagram_size < BASE_PLPMTU || self.state == PmtudState::Disabled {
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-14.2.1
        //# An endpoint MUST NOT increase the PMTU based on ICMP messages
        if max_datagram_size < self.plpmtu {
            self.plpmtu = max_datagram_size;
        }
        if max_datagram_size < self.search_high {
            self.search_high = max_datagram_size;
            if self.probe.is_some_and(|p| p.size > max_datagram_size) {
                self.probe = None;
                self.losses = 0;
            }
            if self.state == PmtudState::Searching {
                self.check_complete(now);
            }
        }
    }

    /// When [`Pmtud::on_timeout`] is next due: the raise timer.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.raise_at
    }

    /// Starts a new search when the raise timer expired.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.state == PmtudState::SearchComplete && self.raise_at.is_some_and(|t| t <= now) {
            self.search(self.max_size(), true, now);
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_path_pmtud))]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(600);

    fn config(max: usize) -> PmtudConfig {
        PmtudConfig {
            max_datagram_size: max,
            probe_interval: INTERVAL,
        }
    }

    fn t(secs: u64) -> Instant {
        Instant::from_nanos(secs * 1_000_000_000)
    }

    /// Runs the search over a path that carries datagrams up to `mtu`;
    /// returns the number of probes sent.
    fn search(p: &mut Pmtud, mtu: usize, pn: &mut u64) -> u32 {
        let mut probes = 0;
        while let Some(size) = p.next_probe_size() {
            *pn += 1;
            probes += 1;
            p.on_probe_sent(*pn, size);
            if size <= mtu {
                p.on_packet_acked(*pn, size, t(1));
            } else {
                p.on_packet_lost(*pn, size, t(1));
            }
            if probes > 100 {
                break;
            }
        }
        probes
    }

    #[test]
    fn base_until_started() {
        let mut p = Pmtud::new(config(1500));
        assert_eq!(p.state(), PmtudState::Base);
        assert_eq!(p.max_datagram_size(), BASE_PLPMTU);
        assert_eq!(p.next_probe_size(), None);
        p.start(t(0));
        assert_eq!(p.state(), PmtudState::Searching);
        assert_eq!(p.next_probe_size(), Some(1500));
    }

    #[test]
    fn disabled_stays_at_base() {
        let mut p = Pmtud::new(PmtudConfig::DISABLED);
        p.start(t(0));
        assert_eq!(p.state(), PmtudState::Disabled);
        assert_eq!(p.next_probe_size(), None);
        assert!(!p.on_packet_lost(1, 1200, t(0)));
        let mut q = Pmtud::new(PmtudConfig {
            max_datagram_size: 9000,
            probe_interval: Duration::ZERO,
        });
        q.start(t(0));
        assert_eq!(q.max_datagram_size(), BASE_PLPMTU);
    }

    #[test]
    fn first_probe_at_the_maximum() {
        let mut p = Pmtud::new(config(1472));
        p.start(t(0));
        p.on_probe_sent(1, 1472);
        // One probe at a time.
        assert_eq!(p.next_probe_size(), None);
        p.on_packet_acked(1, 1472, t(0));
        assert_eq!(p.max_datagram_size(), 1472);
        assert_eq!(p.state(), PmtudState::SearchComplete);
        // At the maximum already: no raise timer.
        assert_eq!(p.next_timeout(), None);
    }

    #[test]
    fn peer_limit_caps_the_search() {
        let mut p = Pmtud::new(config(9000));
        p.set_peer_max_udp_payload_size(1350);
        p.start(t(0));
        assert_eq!(p.next_probe_size(), Some(1350));
        // Values below the minimum are raised to it.
        let mut q = Pmtud::new(config(9000));
        q.set_peer_max_udp_payload_size(0);
        q.start(t(0));
        assert_eq!(q.state(), PmtudState::SearchComplete);
        assert_eq!(q.max_datagram_size(), BASE_PLPMTU);
    }

    #[test]
    fn bisects_after_max_probes_losses() {
        let mut p = Pmtud::new(config(1500));
        p.start(t(0));
        for pn in 1..=u64::from(MAX_PROBES) {
            assert_eq!(p.next_probe_size(), Some(1500));
            p.on_probe_sent(pn, 1500);
            p.on_packet_lost(pn, 1500, t(0));
        }
        // 1500 failed three times: probes grow from the middle up.
        assert_eq!(p.next_probe_size(), Some(1350));
        p.on_probe_sent(10, 1350);
        p.on_packet_acked(10, 1350, t(0));
        assert_eq!(p.max_datagram_size(), 1350);
        assert_eq!(p.next_probe_size(), Some(1425));
    }

    #[test]
    fn search_converges_and_rearms() {
        let mut p = Pmtud::new(config(1500));
        p.start(t(0));
        let mut pn = 0;
        let probes = search(&mut p, 1400, &mut pn);
        assert_eq!(p.state(), PmtudState::SearchComplete);
        let mtu = p.max_datagram_size();
        assert!(mtu <= 1400 && mtu + SEARCH_GRANULARITY > 1400);
        assert!(probes < 20);
        assert_eq!(p.next_timeout(), Some(t(1) + INTERVAL));
        // The raise timer searches again; the path grew meanwhile.
        p.on_timeout(t(2));
        assert_eq!(p.state(), PmtudState::SearchComplete);
        p.on_timeout(t(1) + INTERVAL);
        assert_eq!(p.next_probe_size(), Some(1500));
        search(&mut p, 1500, &mut pn);
        assert_eq!(p.max_datagram_size(), 1500);
    }

    #[test]
    fn black_hole_falls_back_to_base() {
        let mut p = Pmtud::new(config(1500));
        p.start(t(0));
        let mut pn = 0;
        search(&mut p, 1500, &mut pn);
        assert_eq!(p.max_datagram_size(), 1500);
        // Traffic flows, then the path shrinks to 1300.
        p.on_packet_acked(100, 1500, t(3));
        assert!(!p.on_packet_lost(101, 1500, t(3)));
        // Small packets still get through; that proves nothing.
        p.on_packet_acked(102, 1100, t(3));
        assert!(!p.on_packet_lost(103, 1500, t(3)));
        assert!(p.on_packet_lost(104, 1500, t(3)));
        assert_eq!(p.max_datagram_size(), BASE_PLPMTU);
        assert_eq!(p.state(), PmtudState::Searching);
        // The new search stays below the size that failed.
        search(&mut p, 1300, &mut pn);
        let mtu = p.max_datagram_size();
        assert!(mtu <= 1300 && mtu + SEARCH_GRANULARITY > 1300);
    }

    #[test]
    fn congestion_losses_are_not_a_black_hole() {
        let mut p = Pmtud::new(config(1500));
        p.start(t(0));
        let mut pn = 0;
        search(&mut p, 1500, &mut pn);
        // A burst is lost, but a later full-size packet was acknowledged.
        p.on_packet_acked(110, 1500, t(3));
        for lost in 100..110 {
            assert!(!p.on_packet_lost(lost, 1500, t(3)));
        }
        // Interleaved full-size acknowledgments reset the count.
        for i in 0..10 {
            assert!(!p.on_packet_lost(200 + 2 * i, 1500, t(3)));
            p.on_packet_acked(201 + 2 * i, 1500, t(3));
        }
        // Losses of base-size packets never count.
        for lost in 300..310 {
            assert!(!p.on_packet_lost(lost, 1200, t(3)));
        }
        assert_eq!(p.max_datagram_size(), 1500);
    }

    #[test]
    fn packet_too_big() {
        let mut p = Pmtud::new(config(1500));
        p.start(t(0));
        p.on_probe_sent(1, 1500);
        // Below the minimum: ignored.
        p.on_packet_too_big(1000, t(0));
        assert_eq!(p.next_probe_size(), None);
        // The probe in flight cannot pass: the search goes on below.
        p.on_packet_too_big(1400, t(0));
        assert_eq!(p.next_probe_size(), Some(1400));
        p.on_probe_sent(2, 1400);
        p.on_packet_acked(2, 1400, t(0));
        assert_eq!(p.state(), PmtudState::SearchComplete);
        // Never raises the size; lowers it down to the report.
        p.on_packet_too_big(1450, t(0));
        assert_eq!(p.max_datagram_size(), 1400);
        p.on_packet_too_big(1280, t(0));
        assert_eq!(p.max_datagram_size(), 1280);
    }
}
