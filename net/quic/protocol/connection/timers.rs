// SPDX-License-Identifier: GPL-2.0

//! Keeping the [`TimerTable`] current and acting when timers expire.
//!
//! After every call the connection recomputes its deadlines from the parts
//! that own them (loss recovery, ACK trackers, paths, 1-RTT keys) plus its
//! own (idle, keep-alive, closing). [`Connection::handle_timeout`] runs the
//! expired ones.
//!
//! [`TimerTable`]: crate::protocol::connection::TimerTable

use crate::protocol::cid::Generator;
use crate::protocol::connection::event::Event;
use crate::protocol::connection::state::{CloseCause, ConnectionError};
use crate::protocol::connection::{Connection, State, Timer};
use crate::protocol::crypto::{Level, Provider};
use crate::protocol::error::TransportErrorCode;
use crate::protocol::path::event::PathEvent;
use crate::protocol::recovery::{PacketNumberSpace, TimerOutcome};
use crate::protocol::time::Instant;
use core::time::Duration;

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Runs the timers that expired at `now`. Call it when the timer armed
    /// at [`Connection::poll_timeout`] fires (early or late calls are
    /// harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in Timer::ALL {
            if !self.timers.is_expired(timer, now) {
                continue;
            }
            self.timers.stop(timer);
            self.on_timer(timer, now);
            if self.state == State::Closed {
                break;
            }
        }
        self.after_input(now);
    }

    fn on_timer(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::LossDetection => self.on_loss_detection_timeout(now),
            // The ACK is now due: poll_transmit sends it.
            Timer::AckInitial | Timer::AckHandshake | Timer::AckData | Timer::Pacing => {}
            Timer::Idle => {
                //= https://www.rfc-editor.org/rfc/rfc9000#section-10.1
                //# If a max_idle_timeout is specified by either endpoint in its
                //# transport parameters (Section 18.2), the connection is silently
                //# closed and its state is discarded when it remains idle for longer
                //# than the minimum of the max_idle_timeout value advertised by both
                //# endpoints.
                self.close_silently(ConnectionError::idle_timeout());
            }
            Timer::KeepAlive => {
                if self.keys.can_send(Level::OneRtt) {
                    if let Some(s) = self
                        .spaces
                        .get_mut(PacketNumberSpace::ApplicationData.index())
                    {
                        s.ping = s.ping.max(1);
                    }
                }
            }
            Timer::KeyDiscard => {
                let pto = self.pto();
                if let Some(keys) = self.keys.one_rtt.as_mut() {
                    keys.on_timeout(now, pto);
                }
            }
            Timer::PathValidation | Timer::Pmtud => {
                self.paths.on_timeout(now);
                let mds = self.paths.active().max_datagram_size();
                self.recovery
                    .set_max_datagram_size(u16::try_from(mds).unwrap_or(u16::MAX));
            }
            Timer::Close => {
                self.state = State::Closed;
                self.closing = None;
                self.timers.stop_all();
            }
        }
    }

    fn on_loss_detection_timeout(&mut self, now: Instant) {
        let settled = &mut self.settled;
        let outcome = self.recovery.on_timeout(now, &mut |s| {
            let _ = settled.push(s, crate::protocol::alloc::GFP);
        });
        self.process_settled(now);
        let space = match outcome {
            TimerOutcome::Pending | TimerOutcome::Lost(_) => return,
            TimerOutcome::Probe(space) => space,
            //= https://www.rfc-editor.org/rfc/rfc9002#section-6.2.2.1
            //# the client MUST set the PTO timer if the client has not received an
            //# acknowledgment for any of its Handshake packets and the handshake is
            //# not confirmed
            TimerOutcome::AntiDeadlockProbe => {
                if self.keys.can_send(Level::Handshake) {
                    PacketNumberSpace::Handshake
                } else {
                    PacketNumberSpace::Initial
                }
            }
        };
        //= https://www.rfc-editor.org/rfc/rfc9002#section-6.2.4
        //# When a PTO timer expires, a sender MUST send at least one ack-
        //# eliciting packet in the packet number space as a probe.
        if let Some(s) = self.spaces.get_mut(space.index()) {
            s.ping = s.ping.max(1);
        }
        //= https://www.rfc-editor.org/rfc/rfc9002#section-6.2.4
        //# Endpoints SHOULD include new data in packets that are sent on PTO
        //# expiration.  Previously sent data MAY be sent if no new data can be
        //# sent.
        // The handshake has no new data to send: its probes carry the CRYPTO
        // data still unacknowledged, so that one probe can repair a loss.
        if space != PacketNumberSpace::ApplicationData {
            if let Some(c) = self.crypto.get_mut(space.index()) {
                for chunk in self.pool.crypto_in_flight(space) {
                    let _ = c.on_chunk_lost(chunk);
                }
            }
        }
    }

    /// Common work after any input: path changes, then deadlines.
    pub(crate) fn after_input(&mut self, now: Instant) {
        self.process_path_events();
        self.update_timers(now);
    }

    /// Recomputes every deadline.
    pub(crate) fn update_timers(&mut self, now: Instant) {
        match self.state {
            State::Closed => {
                self.timers.stop_all();
                return;
            }
            State::Closing { until } | State::Draining { until } => {
                self.timers.stop_all();
                self.timers.set(Timer::Close, until);
                return;
            }
            State::Handshake | State::Established => {}
        }
        self.timers
            .set_or_stop(Timer::LossDetection, self.recovery.next_timeout());
        for (i, space) in self.spaces.iter().enumerate() {
            self.timers.set_or_stop(Timer::ack(i), space.ack.deadline());
        }
        let pto = self.pto();
        let discard = self
            .keys
            .one_rtt
            .as_ref()
            .and_then(|k| k.previous_keys_discard_time(pto));
        self.timers.set_or_stop(Timer::KeyDiscard, discard);
        let validation = self
            .paths
            .iter()
            .filter_map(|p| p.validation().next_timeout())
            .min();
        self.timers.set_or_stop(Timer::PathValidation, validation);
        let pmtud = self
            .paths
            .iter()
            .filter_map(|p| p.pmtud().next_timeout())
            .min();
        self.timers.set_or_stop(Timer::Pmtud, pmtud);
        let keep_alive = self.keep_alive_interval();
        let keep_alive =
            (!keep_alive.is_zero() && self.handshake.complete).then(|| self.last_sent + keep_alive);
        self.timers.set_or_stop(Timer::KeepAlive, keep_alive);
        if self.timers.get(Timer::Pacing).is_some_and(|t| t <= now) {
            self.timers.stop(Timer::Pacing);
        }
    }

    /// [`Connection::poll_transmit`] found nothing it could send at `now`.
    /// Whatever is due but held back (by the anti-amplification limit of
    /// an unvalidated path, say) waits for the next input, after which the
    /// caller polls again: an expired timer that only asks for sending
    /// would fire again at once, forever. Path validation keeps its
    /// abandonment deadline.
    pub(crate) fn stop_stalled_timers(&mut self, now: Instant) {
        for timer in [
            Timer::AckInitial,
            Timer::AckHandshake,
            Timer::AckData,
            Timer::KeepAlive,
        ] {
            if self.timers.is_expired(timer, now) {
                self.timers.stop(timer);
            }
        }
        if self.timers.is_expired(Timer::PathValidation, now) {
            let abandon = self
                .paths
                .iter()
                .filter_map(|p| {
                    let v = p.validation();
                    v.next_timeout().filter(|&at| at > now).or(v.deadline())
                })
                .min();
            self.timers.set_or_stop(Timer::PathValidation, abandon);
        }
    }

    /// The keep-alive interval: the configured one, at most half the idle
    /// timeout so that a PING always lands in time.
    fn keep_alive_interval(&self) -> Duration {
        let interval = self.config.keep_alive;
        if self.idle_timeout.is_zero() {
            interval
        } else {
            interval.min(self.idle_timeout / 2)
        }
    }

    /// Restarts the idle timer (RFC 9000 §10.1).
    pub(crate) fn reset_idle_timer(&mut self, now: Instant) {
        self.idle_armed_by_send = false;
        if self.idle_timeout.is_zero() {
            self.timers.stop(Timer::Idle);
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9000#section-10.1
        //# To avoid excessively small idle timeout periods, endpoints MUST
        //# increase the idle timeout period to be at least three times the
        //# current Probe Timeout (PTO).
        let period = self.idle_timeout.max(self.pto().saturating_mul(3));
        self.timers.set(Timer::Idle, now + period);
    }

    /// An ack-eliciting packet was sent.
    pub(crate) fn on_ack_eliciting_sent(&mut self, now: Instant) {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-10.1
        //# An endpoint also restarts its
        //# idle timer when sending an ack-eliciting packet if no other ack-
        //# eliciting packets have been sent since last receiving and processing
        //# a packet.
        if !self.idle_armed_by_send {
            self.reset_idle_timer(now);
            self.idle_armed_by_send = true;
        }
    }

    /// Acts on what the paths reported.
    fn process_path_events(&mut self) {
        while let Some(event) = self.paths.poll_event() {
            match event {
                PathEvent::Migrated {
                    kind,
                    to,
                    reset_congestion,
                    ..
                } => {
                    if reset_congestion {
                        self.recovery.on_path_changed();
                    }
                    let seq = self.paths.get(to).and_then(|p| p.dcid_sequence());
                    if let Some(seq) = seq {
                        if seq != self.peer_cids.current_sequence()
                            && self.peer_cids.set_current(seq).is_ok()
                        {
                            self.events
                                .push(Event::ConnectionIdChanged { sequence: seq });
                        }
                    }
                    self.events.push(Event::Migrated { kind });
                    let mds = self.paths.active().max_datagram_size();
                    self.recovery
                        .set_max_datagram_size(u16::try_from(mds).unwrap_or(u16::MAX));
                }
                PathEvent::Validated { .. } => {}
                PathEvent::Abandoned { dcid_seq, .. } => {
                    if let Some(seq) = dcid_seq {
                        if seq != self.peer_cids.current_sequence() {
                            let _ = self.peer_cids.retire(seq);
                        }
                    }
                }
                PathEvent::NoViablePath => {
                    //= https://www.rfc-editor.org/rfc/rfc9000#section-9.3.2
                    //# the endpoint MAY discard connection state
                    let err = ConnectionError::silent(
                        CloseCause::NoViablePath,
                        TransportErrorCode::NO_VIABLE_PATH,
                        false,
                    );
                    self.close_silently(err);
                    return;
                }
            }
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_timers))]
mod tests {
    use super::*;
    use crate::protocol::alloc::{Vec, GFP};
    use crate::protocol::connection::testing::{
        client, config, Pair, TestConn, TestResult, CLIENT, SERVER,
    };

    #[test]
    fn client_initial_is_probed_until_answered() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        // Nothing gets through after the first Initial.
        p.blackhole = [true, true];
        let first = p.bytes_sent[CLIENT];
        p.run_for(Duration::from_secs(8))?;
        // PTO probes went out, each a padded Initial.
        let probes = (p.bytes_sent[CLIENT] - first) / 1200;
        assert!(probes >= 2);
        assert!(p.conn(CLIENT)?.recovery().pto_count() >= 2);
        assert!(!p.conn(CLIENT)?.is_closed());
        Ok(())
    }

    /// Drains what `conn` sends at `now`.
    fn drain(conn: &mut TestConn, now: Instant, buf: &mut [u8]) {
        for _ in 0..64 {
            if conn.poll_transmit(now, buf).is_none() {
                break;
            }
        }
    }

    /// A timer that fired moves on: once it ran and everything that could
    /// go was sent, the next deadline is later, even when the
    /// anti-amplification limit of an unvalidated path holds an ACK and a
    /// PATH_CHALLENGE back (found by the `connection` fuzz target).
    #[test]
    fn timers_held_back_by_amplification_do_not_spin() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        p.rebind_client(50001)?;
        let mut buf = Vec::new();
        buf.extend_with(1500, 0u8, GFP).map_err(|_| "alloc")?;
        let mut now = p.now;
        let s = p.conn(SERVER)?;
        drain(s, now, buf.as_mut_slice());
        assert!(!s.paths().active().is_validated());
        let deadline = now + Duration::from_secs(1);
        while let Some(at) = s.poll_timeout().filter(|&at| at < deadline) {
            now = now.max(at);
            s.handle_timeout(now);
            drain(s, now, buf.as_mut_slice());
            assert!(s.poll_timeout().is_none_or(|next| next > now));
        }
        Ok(())
    }

    #[test]
    fn idle_timer_is_armed_from_creation() -> TestResult {
        let c = client()?;
        assert_eq!(
            c.timers.get(Timer::Idle),
            Some(Instant::ZERO + Duration::from_secs(30))
        );
        Ok(())
    }

    #[test]
    fn keep_alive_pings() -> TestResult {
        let mut cc = config();
        cc.keep_alive = Duration::from_millis(300);
        let mut p = Pair::new(cc, config())?;
        p.handshake()?;
        p.run_for(Duration::from_millis(200))?;
        let before = p.bytes_sent[CLIENT];
        p.run_for(Duration::from_secs(2))?;
        // About one PING per interval.
        assert!(p.bytes_sent[CLIENT] > before);
        assert!(p.conn(CLIENT)?.timers.get(Timer::KeepAlive).is_some());
        Ok(())
    }
}
