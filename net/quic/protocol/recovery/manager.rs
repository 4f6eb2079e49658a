// SPDX-License-Identifier: GPL-2.0

//! The loss recovery state machine of a connection (RFC 9002 Appendix A).
//!
//! [`Manager`] owns, for one path, the sent packets of the three spaces,
//! the RTT estimator, the congestion controller, the pacer and ECN
//! validation, and is driven by the connection's events:
//!
//! - [`Manager::on_packet_sent`] for every packet sent,
//! - [`Manager::on_ack_received`] for every ACK frame,
//! - [`Manager::on_timeout`] when [`Manager::next_timeout`] expires,
//! - [`Manager::discard_space`], [`Manager::on_handshake_confirmed`],
//!   [`Manager::set_amplification_blocked`] on handshake progress, and
//!   [`Manager::on_retry`], [`Manager::on_0rtt_rejected`] when the
//!   handshake takes a detour.
//!
//! Packets leave through a caller closure as [`Settled`] values, each
//! exactly once, acknowledged packets in packet-number order. Before
//! sending, the connection asks [`Manager::can_send`] (congestion window,
//! PTO probes) and [`Manager::next_send_time`] (pacing).

use crate::protocol::ack::delay::DEFAULT_MAX_ACK_DELAY;
use crate::protocol::ack::{EcnCodepoint, EcnCounts};
use crate::protocol::error::TransportError;
use crate::protocol::recovery::congestion::{Algorithm, AnyController, Controller};
use crate::protocol::recovery::ecn::{EcnState, EcnValidator, NewlyAckedMarks};
use crate::protocol::recovery::loss::{self, LossOutcome};
use crate::protocol::recovery::pacer::Pacer;
use crate::protocol::recovery::persistent::{self, PersistentCongestion};
use crate::protocol::recovery::pto::{self, Deadline, SpaceTimer, TimerInput};
use crate::protocol::recovery::rtt::RttEstimator;
use crate::protocol::recovery::sent::{Fate, PushError, SentPacket, SentPackets, Settled};
use crate::protocol::recovery::{PacketNumberSpace, INITIAL_RTT};
use crate::protocol::time::Instant;
use core::ops::Range;
use core::time::Duration;

/// Probe packets a PTO allows past the congestion window (RFC 9002 §6.2.4).
const PTO_PROBES: u8 = 2;

/// ACK frame types, to name the frame in a PROTOCOL_VIOLATION.
const FRAME_TYPE_ACK: u64 = 0x02;
const FRAME_TYPE_ACK_ECN: u64 = 0x03;

/// Loss recovery settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Whether this endpoint is the server; a client has to keep probing
    /// until the server validated its address (RFC 9002 §6.2.2.1).
    pub is_server: bool,
    /// The RTT assumed before the first sample.
    pub initial_rtt: Duration,
    /// The congestion controller.
    pub algorithm: Algorithm,
    /// The path's maximum datagram size.
    pub max_datagram_size: u16,
    /// Whether to mark packets with ECT(0) and validate ECN on the path.
    pub ecn: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            is_server: false,
            initial_rtt: INITIAL_RTT,
            algorithm: Algorithm::default(),
            max_datagram_size: 1200,
            ecn: true,
        }
    }
}

/// What [`Manager::on_timeout`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerOutcome {
    /// The timer had not expired; nothing was done.
    Pending,
    /// Time-threshold loss detection ran for the space; the packets it
    /// declared lost were handed to the closure.
    Lost(PacketNumberSpace),
    /// The probe timeout expired: send one or two ack-eliciting packets in
    /// the space, preferably with new data, otherwise old data or a PING.
    /// [`Manager::can_send`] lets them past the congestion window, and they
    /// need not wait for pacing.
    Probe(PacketNumberSpace),
    /// A client's anti-deadlock probe: send an ack-eliciting Handshake
    /// packet if Handshake keys are available, otherwise an Initial packet
    /// in a datagram padded to 1200 bytes.
    AntiDeadlockProbe,
}

/// What [`Manager::on_ack_received`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// Packets newly acknowledged.
    pub newly_acked: u64,
    /// Packets declared lost.
    pub lost: u64,
    /// Whether the ACK produced an RTT sample.
    pub rtt_sample: bool,
    /// Whether loss or an ECN-CE increase made a congestion event.
    pub congestion_event: bool,
    /// Whether persistent congestion was established.
    pub persistent_congestion: bool,
}

/// Per-space loss detection state.
#[derive(Debug)]
struct SpaceState<T> {
    sent: SentPackets<T>,
    largest_acked: Option<u64>,
    loss_time: Option<Instant>,
    last_ack_eliciting: Option<Instant>,
    /// Probe packets still allowed past the congestion window.
    probes: u8,
}

impl<T> SpaceState<T> {
    const fn new() -> Self {
        Self {
            sent: SentPackets::new(),
            largest_acked: None,
            loss_time: None,
            last_ack_eliciting: None,
            probes: 0,
        }
    }

    fn timer(&self) -> SpaceTimer {
        SpaceTimer {
            loss_time: self.loss_time,
            last_ack_eliciting: self.last_ack_eliciting,
            ack_eliciting_in_flight: self.sent.ack_eliciting_in_flight() > 0,
        }
    }
}

/// The newly acknowledged packets of an ACK frame, summarised.
#[derive(Default)]
struct NewlyAcked {
    /// The largest packet number the frame acknowledges.
    frame_largest: Option<u64>,
    /// Whether that is above any acknowledged before.
    largest_increased: bool,
    count: u64,
    /// Number and send time of the largest.
    largest: Option<(u64, Instant)>,
    ack_eliciting: bool,
    marks: NewlyAckedMarks,
}

/// Loss detection and congestion control for a connection on one path.
#[derive(Debug)]
pub struct Manager<T> {
    config: Config,
    spaces: [SpaceState<T>; 3],
    rtt: RttEstimator,
    congestion: AnyController,
    pacer: Pacer,
    ecn: EcnValidator,
    pto_count: u32,
    timer: Option<Deadline>,
    peer_max_ack_delay: Duration,
    handshake_confirmed: bool,
    handshake_acked: bool,
    amplification_blocked: bool,
    app_limited: bool,
}

impl<T> Manager<T> {
    /// A manager with nothing sent; does not allocate.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            spaces: [SpaceState::new(), SpaceState::new(), SpaceState::new()],
            rtt: RttEstimator::new(config.initial_rtt),
            congestion: config.algorithm.controller(config.max_datagram_size),
            pacer: Pacer::new(config.max_datagram_size),
            ecn: EcnValidator::new(config.ecn),
            pto_count: 0,
            timer: None,
            peer_max_ack_delay: DEFAULT_MAX_ACK_DELAY,
            handshake_confirmed: false,
            handshake_acked: false,
            amplification_blocked: false,
            app_limited: false,
        }
    }

    /// The RTT estimator.
    pub const fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// The congestion controller.
    pub const fn congestion(&self) -> &AnyController {
        &self.congestion
    }

    /// The congestion window, in bytes.
    pub fn congestion_window(&self) -> u64 {
        self.congestion.window()
    }

    /// Bytes in flight across all spaces.
    pub fn bytes_in_flight(&self) -> u64 {
        self.spaces
            .iter()
            .fold(0u64, |sum, s| sum.saturating_add(s.sent.bytes_in_flight()))
    }

    /// Packets of `space` neither acknowledged nor declared lost.
    pub fn outstanding(&self, space: PacketNumberSpace) -> usize {
        self.space(space).sent.len()
    }

    /// The largest packet number the peer acknowledged in `space`.
    pub fn largest_acked(&self, space: PacketNumberSpace) -> Option<u64> {
        self.space(space).largest_acked
    }

    /// Consecutive probe timeouts without an acknowledgment.
    pub const fn pto_count(&self) -> u32 {
        self.pto_count
    }

    /// The PTO period of `space` without backoff; three of them make the
    /// closing and draining periods (RFC 9000 §10.2).
    pub fn pto_period(&self, space: PacketNumberSpace) -> Duration {
        let max_ack_delay = match space {
            PacketNumberSpace::ApplicationData => self.peer_max_ack_delay,
            _ => Duration::ZERO,
        };
        pto::period(self.rtt.pto_base(), max_ack_delay, 0)
    }

    /// ECN validation state of the path.
    pub const fn ecn_state(&self) -> EcnState {
        self.ecn.state()
    }

    /// The ECN codepoint to send the next packet with.
    pub const fn ecn_marking(&self) -> EcnCodepoint {
        self.ecn.marking()
    }

    /// Whether a packet of `bytes` counting towards bytes in flight may be
    /// sent in `space`: it fits the congestion window, or it is one of the
    /// probes a PTO allows.
    pub fn can_send(&self, space: PacketNumberSpace, bytes: u64) -> bool {
        self.space(space).probes > 0
            || self.bytes_in_flight().saturating_add(bytes) <= self.congestion.window()
    }

    /// When pacing lets a packet of `bytes` go: `None` for now. Packets that
    /// only carry ACK frames should not wait.
    pub fn next_send_time(&self, now: Instant, bytes: u64) -> Option<Instant> {
        let rate = self.congestion.pacing_rate(&self.rtt);
        self.pacer.next_send_time(now, bytes, rate)
    }

    /// When [`Manager::on_timeout`] should run: the loss detection timer.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timer.map(Deadline::time)
    }

    /// Records a packet sent in `space` with number `pn`; packet numbers
    /// must increase within a space.
    pub fn on_packet_sent(
        &mut self,
        space: PacketNumberSpace,
        pn: u64,
        packet: SentPacket<T>,
    ) -> Result<(), TransportError> {
        let now = packet.time_sent;
        let (in_flight, ack_eliciting, ecn) = (packet.in_flight, packet.ack_eliciting, packet.ecn);
        let bytes = u64::from(packet.size);
        let state = &mut self.spaces[space.index()];
        state.sent.push(pn, packet).map_err(|e| match e {
            PushError::Alloc(e) => TransportError::from(e),
            PushError::Reused(_) => TransportError::internal("packet number reused"),
        })?;
        self.ecn.on_packet_sent(space, ecn);
        if !in_flight {
            return Ok(());
        }
        if ack_eliciting {
            state.last_ack_eliciting = Some(now);
            state.probes = state.probes.saturating_sub(1);
        }
        let rate = self.congestion.pacing_rate(&self.rtt);
        self.pacer.on_packet_sent(now, bytes, rate);
        let bytes_in_flight = self.bytes_in_flight();
        self.congestion.on_packet_sent(now, bytes, bytes_in_flight);
        self.set_timer(now);
        Ok(())
    }

    /// Processes an ACK frame received in `space`: its ranges, largest
    /// first, the decoded ACK delay and the ECN counts if the frame had
    /// them. Newly acknowledged and newly lost packets are handed to
    /// `settled`, lost ones first, each group in packet-number order.
    ///
    /// Fails with PROTOCOL_VIOLATION if a range covers a packet number
    /// above any sent; nothing is settled then.
    pub fn on_ack_received<I, F>(
        &mut self,
        space: PacketNumberSpace,
        ranges: I,
        ack_delay: Duration,
        ecn: Option<EcnCounts>,
        now: Instant,
        settled: &mut F,
    ) -> Result<AckOutcome, TransportError>
    where
        I: IntoIterator<Item = Range<u64>>,
        F: FnMut(Settled<T>),
    {
        let newly = self.mark_acked(space, ranges, ecn.is_some())?;
        if newly.frame_largest.is_none() {
            return Ok(AckOutcome::default());
        }
        if space == PacketNumberSpace::Handshake {
            self.handshake_acked = true;
        }
        let Some((largest_newly_acked, largest_time_sent)) = newly.largest else {
            return Ok(AckOutcome::default());
        };
        let mut outcome = AckOutcome {
            newly_acked: newly.count,
            ..AckOutcome::default()
        };

        //= https://www.rfc-editor.org/rfc/rfc9002#section-5.1
        //# An RTT sample MUST NOT be generated on receiving an ACK frame that
        //# does not newly acknowledge at least one ack-eliciting packet.
        if newly.frame_largest == Some(largest_newly_acked) && newly.ack_eliciting {
            let latest_rtt = now.saturating_duration_since(largest_time_sent);
            let ack_delay = match space {
                // Initial packets are acknowledged without delay.
                PacketNumberSpace::Initial => Duration::ZERO,
                //= https://www.rfc-editor.org/rfc/rfc9002#section-5.3
                //# MUST use the lesser of the acknowledgment delay and the peer's
                //# max_ack_delay after the handshake is confirmed
                _ if self.handshake_confirmed => ack_delay.min(self.peer_max_ack_delay),
                _ => ack_delay,
            };
            self.rtt.update(now, latest_rtt, ack_delay);
            outcome.rtt_sample = true;
        }

        if self
            .ecn
            .on_ack(space, newly.marks, newly.largest_increased, ecn)
        {
            self.congestion
                .on_congestion_event(now, largest_time_sent, false, true);
            outcome.congestion_event = true;
        }

        let lost = self.detect_lost(space, now, settled);
        outcome.lost = lost.lost_packets;
        outcome.congestion_event |= lost.congestion_event.is_some();
        outcome.persistent_congestion = lost.persistent_congestion;

        let (congestion, rtt, app_limited) = (&mut self.congestion, &self.rtt, self.app_limited);
        self.spaces[space.index()].sent.take_acked(|pn, packet| {
            if packet.in_flight {
                let bytes = u64::from(packet.size);
                congestion.on_ack(now, packet.time_sent, bytes, app_limited, rtt);
            }
            settled(Settled {
                space,
                packet_number: pn,
                fate: Fate::Acked,
                packet,
            });
        });

        //= https://www.rfc-editor.org/rfc/rfc9002#section-6.2.1
        //# a client does not reset the PTO backoff factor on
        //# receiving acknowledgments in Initial packets.
        if self.peer_completed_address_validation() {
            self.pto_count = 0;
        }
        self.set_timer(now);
        Ok(outcome)
    }

    /// Runs the loss detection timer if it expired at `now`. Packets
    /// declared lost are handed to `settled`.
    pub fn on_timeout<F>(&mut self, now: Instant, settled: &mut F) -> TimerOutcome
    where
        F: FnMut(Settled<T>),
    {
        if self.timer.is_none_or(|t| t.time() > now) {
            return TimerOutcome::Pending;
        }
        let input = self.timer_input();
        if let Some((_, space)) = input.earliest_loss_time() {
            self.detect_lost(space, now, settled);
            self.set_timer(now);
            return TimerOutcome::Lost(space);
        }
        let outcome = match input.pto(now) {
            Some(Deadline::Probe(_, space)) => {
                self.spaces[space.index()].probes = PTO_PROBES;
                TimerOutcome::Probe(space)
            }
            Some(Deadline::AntiDeadlock(_)) => TimerOutcome::AntiDeadlockProbe,
            Some(Deadline::Loss(..)) | None => {
                self.set_timer(now);
                return TimerOutcome::Pending;
            }
        };
        //= https://www.rfc-editor.org/rfc/rfc9002#section-6.2.1
        //# When a PTO timer expires, the PTO backoff MUST be increased,
        //# resulting in the PTO period being set to twice its current value.
        self.pto_count = self.pto_count.saturating_add(1);
        self.set_timer(now);
        outcome
    }

    /// Forgets the packets of `space` because its keys were discarded:
    /// they leave bytes in flight without a congestion signal.
    pub fn discard_space(&mut self, space: PacketNumberSpace, now: Instant) {
        let state = &mut self.spaces[space.index()];
        state.sent.drain_all(|_, _| {});
        state.loss_time = None;
        state.last_ack_eliciting = None;
        state.probes = 0;
        //= https://www.rfc-editor.org/rfc/rfc9002#section-6.2.2
        //# When Initial or Handshake keys are discarded, the PTO and loss
        //# detection timers MUST be reset
        self.pto_count = 0;
        self.set_timer(now);
    }

    /// The handshake is confirmed: Application Data gets a PTO and the
    /// peer's ACK delays are capped by its max_ack_delay.
    pub fn on_handshake_confirmed(&mut self, now: Instant) {
        self.handshake_confirmed = true;
        self.set_timer(now);
    }

    /// Tells a server whether its anti-amplification limit stops it from
    /// sending. While blocked, no PTO is armed; when unblocked the timer is
    /// set again and may already have expired, in which case the caller
    /// runs [`Manager::on_timeout`] at once.
    pub fn set_amplification_blocked(&mut self, blocked: bool, now: Instant) {
        if self.amplification_blocked != blocked {
            self.amplification_blocked = blocked;
            self.set_timer(now);
        }
    }

    /// Sets the peer's max_ack_delay transport parameter.
    pub fn set_peer_max_ack_delay(&mut self, max_ack_delay: Duration) {
        self.peer_max_ack_delay = max_ack_delay;
    }

    /// Tells whether the sender leaves the congestion window unused for
    /// lack of data or flow control credit (not because of pacing); the
    /// window does not grow meanwhile (RFC 9002 §7.8).
    pub fn set_app_limited(&mut self, app_limited: bool) {
        self.app_limited = app_limited;
    }

    /// The path's maximum datagram size changed.
    pub fn set_max_datagram_size(&mut self, max_datagram_size: u16) {
        self.config.max_datagram_size = max_datagram_size;
        self.congestion.set_max_datagram_size(max_datagram_size);
        self.pacer.set_max_datagram_size(max_datagram_size);
    }

    /// The connection moved to a new path: start over with the initial
    /// RTT, a fresh congestion controller and pacer, and test ECN again
    /// (RFC 9000 §9.4). Packets in flight stay tracked.
    pub fn on_path_changed(&mut self) {
        self.rtt.reset(self.config.initial_rtt);
        self.congestion = self
            .config
            .algorithm
            .controller(self.config.max_datagram_size);
        self.pacer = Pacer::new(self.config.max_datagram_size);
        self.ecn.restart();
    }

    /// A client received a Retry: every packet sent so far is handed back
    /// as lost so that its frames go again, without a congestion signal,
    /// and congestion control and timers start over (RFC 9002 §6.3).
    /// Packet numbers keep increasing.
    pub fn on_retry<F>(&mut self, settled: &mut F)
    where
        F: FnMut(Settled<T>),
    {
        for space in PacketNumberSpace::ALL {
            self.requeue_space(space, settled);
        }
        self.congestion = self
            .config
            .algorithm
            .controller(self.config.max_datagram_size);
        self.pacer = Pacer::new(self.config.max_datagram_size);
        self.pto_count = 0;
        self.timer = None;
    }

    /// The server rejected 0-RTT: the Application Data packets sent so far,
    /// all 0-RTT, are handed back as lost so that their frames go again in
    /// 1-RTT packets, without a congestion signal (RFC 9002 §6.4).
    pub fn on_0rtt_rejected<F>(&mut self, now: Instant, settled: &mut F)
    where
        F: FnMut(Settled<T>),
    {
        self.requeue_space(PacketNumberSpace::ApplicationData, settled);
        self.set_timer(now);
    }

    /// Hands every packet of `space` back as lost and forgets its loss
    /// detection state.
    fn requeue_space<F>(&mut self, space: PacketNumberSpace, settled: &mut F)
    where
        F: FnMut(Settled<T>),
    {
        let state = &mut self.spaces[space.index()];
        state.sent.drain_all(|pn, packet| {
            settled(Settled {
                space,
                packet_number: pn,
                fate: Fate::Lost,
                packet,
            })
        });
        state.largest_acked = None;
        state.loss_time = None;
        state.last_ack_eliciting = None;
        state.probes = 0;
    }

    fn space(&self, space: PacketNumberSpace) -> &SpaceState<T> {
        &self.spaces[space.index()]
    }

    fn peer_completed_address_validation(&self) -> bool {
        self.config.is_server || self.handshake_acked || self.handshake_confirmed
    }

    /// Marks the packets `ranges` newly acknowledge and raises the space's
    /// largest acknowledged; undoes the marks on a protocol violation.
    fn mark_acked<I>(
        &mut self,
        space: PacketNumberSpace,
        ranges: I,
        has_ecn: bool,
    ) -> Result<NewlyAcked, TransportError>
    where
        I: IntoIterator<Item = Range<u64>>,
    {
        let state = &mut self.spaces[space.index()];
        let largest_sent = state.sent.largest_sent();
        let mut newly = NewlyAcked::default();
        for range in ranges {
            let Some(last) = range.end.checked_sub(1).filter(|l| *l >= range.start) else {
                continue;
            };
            if largest_sent.is_none_or(|sent| last > sent) {
                state.sent.unmark_acked();
                let frame = if has_ecn {
                    FRAME_TYPE_ACK_ECN
                } else {
                    FRAME_TYPE_ACK
                };
                return Err(TransportError::protocol_violation(
                    "ACK of a packet number never sent",
                )
                .with_frame(frame));
            }
            newly.frame_largest = Some(newly.frame_largest.map_or(last, |l| l.max(last)));
            state.sent.mark_acked(range, |pn, p| {
                newly.count += 1;
                if newly.largest.is_none_or(|(largest, _)| pn > largest) {
                    newly.largest = Some((pn, p.time_sent));
                }
                newly.ack_eliciting |= p.ack_eliciting;
                newly.marks.add(p.ecn);
            });
        }
        if let Some(l) = newly.frame_largest {
            newly.largest_increased = state.largest_acked.is_none_or(|prev| l > prev);
            state.largest_acked = Some(state.largest_acked.map_or(l, |prev| prev.max(l)));
        }
        Ok(newly)
    }

    /// Declares lost the packets of `space` past a threshold and reacts to
    /// the congestion event.
    fn detect_lost<F>(
        &mut self,
        space: PacketNumberSpace,
        now: Instant,
        settled: &mut F,
    ) -> LossOutcome
    where
        F: FnMut(Settled<T>),
    {
        let state = &mut self.spaces[space.index()];
        let Some(largest_acked) = state.largest_acked else {
            state.loss_time = None;
            return LossOutcome::default();
        };
        let persistent = PersistentCongestion::new(
            persistent::duration(&self.rtt, self.peer_max_ack_delay),
            self.rtt.first_sample_time(),
        );
        let ecn = &mut self.ecn;
        let outcome = loss::detect_lost(
            &mut state.sent,
            largest_acked,
            now,
            self.rtt.loss_delay(),
            persistent,
            &mut |pn, packet| {
                ecn.on_packet_lost(packet.ecn);
                settled(Settled {
                    space,
                    packet_number: pn,
                    fate: Fate::Lost,
                    packet,
                });
            },
        );
        state.loss_time = outcome.loss_time;
        if let Some(time_sent) = outcome.congestion_event {
            self.congestion.on_congestion_event(
                now,
                time_sent,
                outcome.persistent_congestion,
                false,
            );
            if outcome.persistent_congestion {
                self.rtt.reset_min_rtt();
            }
        }
        outcome
    }

    fn timer_input(&self) -> TimerInput {
        TimerInput {
            spaces: [
                self.spaces[0].timer(),
                self.spaces[1].timer(),
                self.spaces[2].timer(),
            ],
            pto_base: self.rtt.pto_base(),
            max_ack_delay: self.peer_max_ack_delay,
            pto_count: self.pto_count,
            handshake_confirmed: self.handshake_confirmed,
            peer_completed_address_validation: self.peer_completed_address_validation(),
            amplification_blocked: self.amplification_blocked,
        }
    }

    /// SetLossDetectionTimer.
    fn set_timer(&mut self, now: Instant) {
        self.timer = self.timer_input().deadline(now);
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_recovery_manager))]
// ACK frames are lists of ranges, often of one.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use crate::protocol::alloc::{boxed, AllocError, Box};
    use crate::protocol::error::TransportErrorCode;

    const MS: Duration = Duration::from_millis(1);
    const INITIAL: PacketNumberSpace = PacketNumberSpace::Initial;
    const HANDSHAKE: PacketNumberSpace = PacketNumberSpace::Handshake;
    const DATA: PacketNumberSpace = PacketNumberSpace::ApplicationData;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    /// Settled packets as bitmasks of packet numbers (all below 64).
    #[derive(Default)]
    struct Log {
        acked: u64,
        lost: u64,
        last_acked: Option<u64>,
        out_of_order: bool,
    }

    impl Log {
        fn record(&mut self, s: Settled<u64>) {
            let bit = 1u64 << (s.packet_number % 64);
            assert_eq!(s.packet.payload, s.packet_number);
            assert_eq!((self.acked | self.lost) & bit, 0);
            match s.fate {
                Fate::Acked => {
                    self.acked |= bit;
                    self.out_of_order |= self.last_acked.is_some_and(|l| l >= s.packet_number);
                    self.last_acked = Some(s.packet_number);
                }
                Fate::Lost => self.lost |= bit,
            }
        }
    }

    fn mask(pns: Range<u64>) -> u64 {
        pns.fold(0, |m, pn| m | 1 << pn)
    }

    /// A manager on the heap (it is about 900 bytes).
    fn manager(
        is_server: bool,
        algorithm: Algorithm,
        ecn: bool,
    ) -> Result<Box<Manager<u64>>, AllocError> {
        boxed(|| {
            Manager::new(Config {
                is_server,
                algorithm,
                ecn,
                ..Config::default()
            })
        })
    }

    /// A server past the handshake, with NewReno and no ECN.
    fn confirmed() -> Result<Box<Manager<u64>>, AllocError> {
        let mut m = manager(true, Algorithm::NewReno, false)?;
        m.on_handshake_confirmed(at(0));
        Ok(m)
    }

    fn send(
        m: &mut Manager<u64>,
        space: PacketNumberSpace,
        pn: u64,
        ms: u64,
    ) -> Result<(), TransportError> {
        let ecn = m.ecn_marking();
        m.on_packet_sent(
            space,
            pn,
            SentPacket {
                time_sent: at(ms),
                size: 1200,
                ack_eliciting: true,
                in_flight: true,
                ecn,
                payload: pn,
            },
        )
    }

    fn ack(
        m: &mut Manager<u64>,
        space: PacketNumberSpace,
        ranges: &[Range<u64>],
        ms: u64,
        log: &mut Log,
    ) -> Result<AckOutcome, TransportError> {
        m.on_ack_received(
            space,
            ranges.iter().cloned(),
            Duration::ZERO,
            None,
            at(ms),
            &mut |s| log.record(s),
        )
    }

    #[test]
    fn acks_settle_in_order_and_sample_rtt() -> Result<(), TransportError> {
        let mut m = confirmed()?;
        for pn in 0..6 {
            send(&mut m, DATA, pn, pn)?;
        }
        let mut log = Log::default();
        let out = ack(&mut m, DATA, &[4..6, 0..3], 100, &mut log)?;
        assert_eq!(out.newly_acked, 5);
        assert!(out.rtt_sample);
        assert_eq!(log.acked, mask(0..3) | mask(4..6));
        assert!(!log.out_of_order);
        // Packet 3 is two below the largest and 97 ms old: not lost yet.
        assert_eq!(log.lost, 0);
        assert_eq!(m.rtt().latest(), 95 * MS);
        assert_eq!(m.bytes_in_flight(), 1200);
        assert_eq!(m.largest_acked(DATA), Some(5));
        // A later frame covering everything settles packet 3 only.
        let out = ack(&mut m, DATA, &[0..6], 120, &mut log)?;
        assert_eq!(out.newly_acked, 1);
        assert!(!out.rtt_sample);
        assert_eq!(log.acked, mask(0..6));
        // Acknowledging again changes nothing.
        let out = ack(&mut m, DATA, &[0..6], 130, &mut log)?;
        assert_eq!(out, AckOutcome::default());
        Ok(())
    }

    #[test]
    fn rtt_sample_rules() -> Result<(), TransportError> {
        let mut m = confirmed()?;
        let mut log = Log::default();
        // A packet that is not ack-eliciting gives no sample.
        m.on_packet_sent(
            DATA,
            0,
            SentPacket {
                time_sent: at(0),
                size: 50,
                ack_eliciting: false,
                in_flight: false,
                ecn: EcnCodepoint::NotEct,
                payload: 0,
            },
        )?;
        let out = ack(&mut m, DATA, &[0..1], 100, &mut log)?;
        assert_eq!(out.newly_acked, 1);
        assert!(!out.rtt_sample);
        assert_eq!(m.rtt().first_sample_time(), None);
        // The first sample ignores the ACK delay; later ones subtract it,
        // capped by max_ack_delay once the handshake is confirmed.
        send(&mut m, DATA, 1, 100)?;
        ack(&mut m, DATA, &[1..2], 200, &mut log)?;
        assert_eq!(m.rtt().smoothed(), 100 * MS);
        send(&mut m, DATA, 2, 200)?;
        let out = m.on_ack_received(DATA, [2..3], 100 * MS, None, at(400), &mut |s| {
            log.record(s)
        })?;
        assert!(out.rtt_sample);
        // adjusted = 200 - min(100, 25) = 175; smoothed = (7 * 100 + 175) / 8.
        assert_eq!(m.rtt().smoothed(), Duration::from_micros(109_375));
        // A frame whose largest was acknowledged before gives no sample.
        send(&mut m, DATA, 3, 400)?;
        send(&mut m, DATA, 4, 400)?;
        ack(&mut m, DATA, &[4..5], 450, &mut log)?;
        let out = ack(&mut m, DATA, &[3..5], 460, &mut log)?;
        assert_eq!(out.newly_acked, 1);
        assert!(!out.rtt_sample);
        Ok(())
    }

    #[test]
    fn ack_of_unsent_packet_is_a_protocol_violation() -> Result<(), TransportError> {
        let mut m = confirmed()?;
        for pn in 0..3 {
            send(&mut m, DATA, pn, 0)?;
        }
        let mut log = Log::default();
        let err = ack(&mut m, DATA, &[5..6], 10, &mut log);
        assert_eq!(
            err.map_err(|e| (e.code, e.frame_type)),
            Err((TransportErrorCode::PROTOCOL_VIOLATION, Some(0x02)))
        );
        // A bad range after good ones: nothing is settled.
        assert!(ack(&mut m, DATA, &[0..2, 10..11], 10, &mut log).is_err());
        assert_eq!(log.acked, 0);
        assert_eq!(m.outstanding(DATA), 3);
        // Nothing was ever sent in the Handshake space.
        assert!(ack(&mut m, HANDSHAKE, &[0..1], 10, &mut log).is_err());
        // The packets can still be acknowledged properly.
        assert_eq!(ack(&mut m, DATA, &[0..3], 20, &mut log)?.newly_acked, 3);
        Ok(())
    }

    #[test]
    fn loss_by_packet_threshold_is_a_congestion_event() -> Result<(), TransportError> {
        let mut m = confirmed()?;
        for pn in 0..10 {
            send(&mut m, DATA, pn, pn)?;
        }
        let mut log = Log::default();
        let out = ack(&mut m, DATA, &[4..10], 50, &mut log)?;
        assert_eq!(log.lost, mask(0..4));
        assert_eq!(log.acked, mask(4..10));
        assert_eq!(out.lost, 4);
        assert!(out.congestion_event);
        assert!(!out.persistent_congestion);
        // Halved, and not grown by packets sent before recovery started.
        assert_eq!(m.congestion_window(), 6_000);
        assert_eq!(m.bytes_in_flight(), 0);
        Ok(())
    }

    #[test]
    fn loss_by_time_threshold_on_timeout() -> Result<(), TransportError> {
        let mut m = confirmed()?;
        send(&mut m, DATA, 0, 0)?;
        send(&mut m, DATA, 1, 0)?;
        let mut log = Log::default();
        ack(&mut m, DATA, &[1..2], 100, &mut log)?;
        // latest = smoothed = 100 ms: packet 0 is lost at 9/8 * 100 ms.
        assert_eq!(log.lost, 0);
        assert_eq!(
            m.next_timeout(),
            Some(at(0) + Duration::from_micros(112_500))
        );
        assert_eq!(
            m.on_timeout(at(112), &mut |s| log.record(s)),
            TimerOutcome::Pending
        );
        let t = at(0) + Duration::from_micros(112_500);
        assert_eq!(
            m.on_timeout(t, &mut |s| log.record(s)),
            TimerOutcome::Lost(DATA)
        );
        assert_eq!(log.lost, 1);
        assert_eq!(m.next_timeout(), None);
        // 12000 + 1200 from the acknowledgment, halved.
        assert_eq!(m.congestion_window(), 6_600);
        Ok(())
    }

    #[test]
    fn pto_backoff_and_reset() -> Result<(), TransportError> {
        let mut m = confirmed()?;
        let mut log = Log::default();
        // Fill the window so only probes may go.
        for pn in 0..10 {
            send(&mut m, DATA, pn, 0)?;
        }
        assert!(!m.can_send(DATA, 1200));
        // PTO = 333 + 4 * 166.5 + 25 = 1024 ms.
        assert_eq!(m.next_timeout(), Some(at(1024)));
        assert_eq!(
            m.on_timeout(at(1000), &mut |s| log.record(s)),
            TimerOutcome::Pending
        );
        assert_eq!(
            m.on_timeout(at(1024), &mut |s| log.record(s)),
            TimerOutcome::Probe(DATA)
        );
        assert_eq!(m.pto_count(), 1);
        // A PTO declares nothing lost.
        assert_eq!(log.lost, 0);
        // Two probes may exceed the window.
        assert!(m.can_send(DATA, 1200));
        send(&mut m, DATA, 10, 1024)?;
        assert!(m.can_send(DATA, 1200));
        send(&mut m, DATA, 11, 1024)?;
        assert!(!m.can_send(DATA, 1200));
        // Doubled, from the last ack-eliciting packet.
        assert_eq!(m.next_timeout(), Some(at(1024 + 2048)));
        assert_eq!(
            m.on_timeout(at(3072), &mut |s| log.record(s)),
            TimerOutcome::Probe(DATA)
        );
        assert_eq!(m.pto_count(), 2);
        assert_eq!(m.next_timeout(), Some(at(1024 + 4096)));
        // An acknowledgment resets the backoff.
        ack(&mut m, DATA, &[11..12], 3100, &mut log)?;
        assert_eq!(m.pto_count(), 0);
        Ok(())
    }

    #[test]
    fn client_keeps_backoff_until_address_validated() -> Result<(), TransportError> {
        let mut m = manager(false, Algorithm::NewReno, false)?;
        let mut log = Log::default();
        send(&mut m, INITIAL, 0, 0)?;
        // Initial: no max_ack_delay in the PTO.
        assert_eq!(m.next_timeout(), Some(at(999)));
        assert_eq!(
            m.on_timeout(at(999), &mut |s| log.record(s)),
            TimerOutcome::Probe(INITIAL)
        );
        send(&mut m, INITIAL, 1, 999)?;
        ack(&mut m, INITIAL, &[0..2], 1100, &mut log)?;
        assert_eq!(m.pto_count(), 1);
        // Nothing in flight, but the server may be blocked: anti-deadlock.
        assert_eq!(m.bytes_in_flight(), 0);
        let pto = m.rtt().pto_base() * 2;
        assert_eq!(m.next_timeout(), Some(at(1100) + pto));
        assert_eq!(
            m.on_timeout(at(1100) + pto, &mut |s| log.record(s)),
            TimerOutcome::AntiDeadlockProbe
        );
        assert_eq!(m.pto_count(), 2);
        // A Handshake ACK proves the server validated the address.
        send(&mut m, HANDSHAKE, 0, 3000)?;
        ack(&mut m, HANDSHAKE, &[0..1], 3100, &mut Log::default())?;
        assert_eq!(m.pto_count(), 0);
        assert_eq!(m.next_timeout(), None);
        Ok(())
    }

    #[test]
    fn amplification_blocked_server_arms_no_pto() -> Result<(), TransportError> {
        let mut m = manager(true, Algorithm::Cubic, false)?;
        let mut log = Log::default();
        send(&mut m, INITIAL, 0, 0)?;
        m.set_amplification_blocked(true, at(0));
        assert_eq!(m.next_timeout(), None);
        assert_eq!(
            m.on_timeout(at(5000), &mut |s| log.record(s)),
            TimerOutcome::Pending
        );
        // A datagram from the client unblocks it; the PTO is overdue.
        m.set_amplification_blocked(false, at(2000));
        assert_eq!(m.next_timeout(), Some(at(999)));
        assert_eq!(
            m.on_timeout(at(2000), &mut |s| log.record(s)),
            TimerOutcome::Probe(INITIAL)
        );
        Ok(())
    }

    #[test]
    fn discarding_keys_drops_packets_from_flight() -> Result<(), TransportError> {
        let mut m = manager(true, Algorithm::Cubic, false)?;
        send(&mut m, INITIAL, 0, 0)?;
        send(&mut m, INITIAL, 1, 0)?;
        send(&mut m, HANDSHAKE, 0, 100)?;
        assert_eq!(m.bytes_in_flight(), 3600);
        assert_eq!(m.next_timeout(), Some(at(999)));
        m.discard_space(INITIAL, at(200));
        assert_eq!(m.bytes_in_flight(), 1200);
        assert_eq!(m.outstanding(INITIAL), 0);
        assert_eq!(m.next_timeout(), Some(at(1099)));
        m.discard_space(HANDSHAKE, at(300));
        assert_eq!(m.bytes_in_flight(), 0);
        assert_eq!(m.next_timeout(), None);
        // The window did not shrink: discarding is no congestion signal.
        assert_eq!(m.congestion_window(), 12_000);
        Ok(())
    }

    #[test]
    fn persistent_congestion_collapses_the_window() -> Result<(), TransportError> {
        let mut m = confirmed()?;
        let mut log = Log::default();
        send(&mut m, DATA, 0, 0)?;
        ack(&mut m, DATA, &[0..1], 100, &mut log)?;
        // Packets 1 to 12 from 200 ms to 1300 ms span 1100 ms; all lost when
        // packet 13 is acknowledged. Its 100 ms sample leaves smoothed_rtt at
        // 100 and rttvar at 37.5: the duration is (100 + 150 + 25) * 3 = 825 ms.
        for pn in 1..14 {
            send(&mut m, DATA, pn, 100 + 100 * pn)?;
        }
        let out = ack(&mut m, DATA, &[13..14], 1500, &mut log)?;
        assert_eq!(log.lost, mask(1..13));
        assert!(out.persistent_congestion);
        // The minimum window, then slow start from the acknowledgment of
        // packet 13, sent after the recovery period was reset.
        assert_eq!(m.congestion_window(), 2_400 + 1_200);
        // min_rtt restarts from the latest sample.
        assert_eq!(m.rtt().min(), 100 * MS);
        Ok(())
    }

    #[test]
    fn shorter_losses_are_not_persistent() -> Result<(), TransportError> {
        let mut m = confirmed()?;
        let mut log = Log::default();
        send(&mut m, DATA, 0, 0)?;
        ack(&mut m, DATA, &[0..1], 100, &mut log)?;
        for pn in 1..9 {
            send(&mut m, DATA, pn, 100 + 100 * pn)?;
        }
        send(&mut m, DATA, 9, 1300)?;
        // Packets 1 to 8 span 700 ms, less than the 825 ms needed.
        let out = ack(&mut m, DATA, &[9..10], 1400, &mut log)?;
        assert_eq!(log.lost, mask(1..9));
        assert!(!out.persistent_congestion);
        assert_eq!(m.congestion_window(), 6_600);
        Ok(())
    }

    #[test]
    fn ecn_ce_is_a_congestion_event() -> Result<(), TransportError> {
        let mut m = manager(true, Algorithm::Cubic, true)?;
        m.on_handshake_confirmed(at(0));
        assert_eq!(m.ecn_marking(), EcnCodepoint::Ect0);
        for pn in 0..3 {
            send(&mut m, DATA, pn, pn)?;
        }
        let mut log = Log::default();
        let counts = EcnCounts {
            ect0: 2,
            ect1: 0,
            ce: 1,
        };
        let out = m.on_ack_received(
            DATA,
            [0..3],
            Duration::ZERO,
            Some(counts),
            at(50),
            &mut |s| log.record(s),
        )?;
        assert!(out.congestion_event);
        assert_eq!(out.lost, 0);
        // CUBIC: 12000 * 0.7.
        assert_eq!(m.congestion_window(), 8_400);
        assert_eq!(m.ecn_state(), EcnState::Testing);
        // Marked packets acknowledged without counts: ECN is disabled.
        send(&mut m, DATA, 3, 60)?;
        ack(&mut m, DATA, &[3..4], 100, &mut log)?;
        assert_eq!(m.ecn_state(), EcnState::Failed);
        assert_eq!(m.ecn_marking(), EcnCodepoint::NotEct);
        Ok(())
    }

    #[test]
    fn retry_hands_everything_back() -> Result<(), TransportError> {
        let mut m = manager(false, Algorithm::Cubic, false)?;
        send(&mut m, INITIAL, 0, 0)?;
        send(&mut m, INITIAL, 1, 0)?;
        let mut log = Log::default();
        m.on_retry(&mut |s| log.record(s));
        assert_eq!(log.lost, mask(0..2));
        assert_eq!(m.bytes_in_flight(), 0);
        assert_eq!(m.next_timeout(), None);
        // Packet numbers keep increasing after a Retry.
        assert!(send(&mut m, INITIAL, 1, 10).is_err());
        send(&mut m, INITIAL, 2, 10)?;
        Ok(())
    }

    #[test]
    fn rejected_0rtt_is_handed_back() -> Result<(), TransportError> {
        let mut m = manager(false, Algorithm::NewReno, false)?;
        send(&mut m, INITIAL, 0, 0)?;
        send(&mut m, DATA, 0, 0)?;
        send(&mut m, DATA, 1, 0)?;
        let mut log = Log::default();
        m.on_0rtt_rejected(at(50), &mut |s| log.record(s));
        assert_eq!(log.lost, mask(0..2));
        assert_eq!(m.bytes_in_flight(), 1200);
        assert_eq!(m.congestion_window(), 12_000);
        // The Initial packet still has its PTO.
        assert_eq!(m.next_timeout(), Some(at(999)));
        // 1-RTT packets continue the numbering.
        send(&mut m, DATA, 2, 60)?;
        Ok(())
    }

    #[test]
    fn pacing_spreads_the_window() -> Result<(), TransportError> {
        let mut m = confirmed()?;
        // The initial burst of ten packets goes at once.
        for pn in 0..10 {
            assert_eq!(m.next_send_time(at(0), 1200), None);
            send(&mut m, DATA, pn, 0)?;
        }
        // Then one every 333 ms * 1200 / 12000 / 1.25 = 26.64 ms.
        let next = m.next_send_time(at(0), 1200).map(Instant::as_nanos);
        assert!(next.is_some_and(|t| t.abs_diff(26_640_000) < 1_000));
        Ok(())
    }
}
