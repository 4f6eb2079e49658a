// SPDX-License-Identifier: GPL-2.0

//! What happens to sent packets: acknowledged or lost (RFC 9000 §13.3,
//! RFC 9002 §6).
//!
//! ACK frames go to loss recovery, which hands back every packet it
//! settles — acknowledged or declared lost — exactly once, with the
//! [`SentRecord`] naming its frames. Acknowledged frames release what they
//! hold (stream and CRYPTO send buffers, retirements, the ACK-of-ACK
//! cut-off); lost ones are queued again if their information is still
//! current. DPLPMTUD hears about every 1-RTT packet's fate.
//!
//! [`SentRecord`]: crate::protocol::connection::record::SentRecord

use crate::protocol::ack::EcnCounts;
use crate::protocol::alloc::GFP;
use crate::protocol::cid::Generator;
use crate::protocol::connection::event::Event;
use crate::protocol::connection::record::SentFrame;
use crate::protocol::connection::Connection;
use crate::protocol::crypto::Provider;
use crate::protocol::error::TransportError;
use crate::protocol::frame::AckFrame;
use crate::protocol::recovery::{Fate, PacketNumberSpace};
use crate::protocol::time::Instant;

impl<P: Provider, G: Generator> Connection<P, G> {
    /// An ACK frame received in `space`.
    pub(crate) fn on_ack_frame(
        &mut self,
        now: Instant,
        space: PacketNumberSpace,
        ack: &AckFrame<'_>,
    ) -> Result<(), TransportError> {
        let exponent = self
            .peer_params
            .map_or(3, |p| p.ack_delay_exponent.into_inner());
        let delay = ack.delay(u8::try_from(exponent).unwrap_or(3));
        let ecn = ack.ecn().map(|e| EcnCounts {
            ect0: e.ect0.into_inner(),
            ect1: e.ect1.into_inner(),
            ce: e.ce.into_inner(),
        });
        let settled = &mut self.settled;
        self.recovery
            .on_ack_received(space, ack.ranges(), delay, ecn, now, &mut |s| {
                let _ = settled.push(s, GFP);
            })?;
        if space == PacketNumberSpace::ApplicationData {
            if let Some(keys) = self.keys.one_rtt.as_mut() {
                keys.on_ack_received(ack.largest());
            }
        }
        self.process_settled(now);
        Ok(())
    }

    /// Acts on every packet loss recovery settled.
    pub(crate) fn process_settled(&mut self, now: Instant) {
        let mut settled = core::mem::take(&mut self.settled);
        for s in settled.drain_all() {
            let record = s.packet.payload;
            let acked = s.fate == Fate::Acked;
            for index in record.indices() {
                if let Some(frame) = self.pool.take(index) {
                    let result = if acked {
                        self.on_frame_acked(s.space, frame)
                    } else {
                        self.on_frame_lost(s.space, frame)
                    };
                    if let Err(e) = result {
                        self.close_on_error(now, e);
                    }
                }
            }
            if s.space == PacketNumberSpace::ApplicationData {
                let size = usize::from(s.packet.size);
                if let Some(path) = self.paths.get_mut(record.path) {
                    let pmtud = path.pmtud_mut();
                    if acked {
                        pmtud.on_packet_acked(s.packet_number, size, now);
                    } else {
                        pmtud.on_packet_lost(s.packet_number, size, now);
                    }
                }
                if record.pmtu_probe {
                    let mds = self.paths.active().max_datagram_size();
                    self.recovery
                        .set_max_datagram_size(u16::try_from(mds).unwrap_or(u16::MAX));
                }
            }
        }
        // Keep the capacity for the next round.
        self.settled = settled;
        self.pool.compact();
    }

    fn on_frame_acked(
        &mut self,
        space: PacketNumberSpace,
        frame: SentFrame,
    ) -> Result<(), TransportError> {
        match frame {
            SentFrame::Ack { largest } => {
                if let Some(s) = self.spaces.get_mut(space.index()) {
                    s.ack.on_ack_acked(largest);
                }
            }
            SentFrame::Crypto(chunk) => {
                if let Some(c) = self.crypto.get_mut(space.index()) {
                    c.on_chunk_acked(chunk, &mut self.crypto_budget)?;
                }
            }
            SentFrame::Stream(chunk) => {
                if let Some(update) = self.streams.on_chunk_acked(&chunk)? {
                    self.events.push(Event::StreamUpdate(update));
                }
                if self.streams.writable(chunk.id) > 0 {
                    self.events.push(Event::StreamWritable(chunk.id));
                }
            }
            SentFrame::Control(control) => {
                if let Some(update) = self.streams.on_control_acked(&control) {
                    self.events.push(Event::StreamUpdate(update));
                }
            }
            SentFrame::RetireConnectionId(seq) => self.peer_cids.on_retire_acked(seq),
            SentFrame::HandshakeDone
            | SentFrame::NewToken
            | SentFrame::NewConnectionId(_)
            | SentFrame::Settled => {}
        }
        Ok(())
    }

    fn on_frame_lost(
        &mut self,
        space: PacketNumberSpace,
        frame: SentFrame,
    ) -> Result<(), TransportError> {
        match frame {
            SentFrame::Crypto(chunk) => {
                if let Some(c) = self.crypto.get_mut(space.index()) {
                    c.on_chunk_lost(chunk)?;
                }
            }
            SentFrame::Stream(chunk) => self.streams.on_chunk_lost(&chunk)?,
            SentFrame::Control(control) => self.streams.on_control_lost(&control),
            //= https://www.rfc-editor.org/rfc/rfc9000#section-13.3
            //# The HANDSHAKE_DONE frame MUST be retransmitted until it is
            //# acknowledged.
            SentFrame::HandshakeDone => self.handshake.done_pending = true,
            SentFrame::NewToken => self.on_new_token_lost(),
            SentFrame::NewConnectionId(seq) => self.local_cids.on_new_connection_id_lost(seq),
            SentFrame::RetireConnectionId(seq) => self.peer_cids.on_retire_lost(seq),
            SentFrame::Ack { .. } | SentFrame::Settled => {}
        }
        Ok(())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_settle))]
mod tests {
    use super::*;
    use crate::protocol::ack::EcnCodepoint;
    use crate::protocol::connection::testing::{config, EcnPath, Pair, TestResult, CLIENT, SERVER};
    use crate::protocol::recovery::ecn::EcnState;
    use crate::protocol::stream::{ControlFrame, Dir};

    const DATA: PacketNumberSpace = PacketNumberSpace::ApplicationData;

    #[test]
    fn lost_handshake_done_is_sent_again() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let s = p.conn(SERVER)?;
        assert!(!s.handshake.done_pending);
        s.on_frame_lost(DATA, SentFrame::HandshakeDone)
            .map_err(|_| "lost")?;
        assert!(s.handshake.done_pending);
        Ok(())
    }

    #[test]
    fn lost_control_frames_are_requeued_if_current() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let c = p.conn(CLIENT)?;
        let id = c.stream_open(Dir::Bi).map_err(|_| "open")?;
        c.stream_reset(id, 5).map_err(|_| "reset")?;
        let mut buf = crate::protocol::alloc::Vec::new();
        buf.extend_with(1500, 0u8, GFP).map_err(|_| "alloc")?;
        let now = p.now;
        let c = p.conn(CLIENT)?;
        while c.poll_transmit(now, buf.as_mut_slice()).is_some() {}
        assert!(!c.streams.wants_to_send());
        let frame = ControlFrame::ResetStream {
            id,
            code: 5,
            final_size: 0,
        };
        c.on_frame_lost(DATA, SentFrame::Control(frame))
            .map_err(|_| "lost")?;
        assert!(c.streams.wants_to_send());
        Ok(())
    }

    #[test]
    fn acked_retirement_completes() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        p.run_for(core::time::Duration::from_millis(100))?;
        let c = p.conn(CLIENT)?;
        c.set_active_peer_cid(1).map_err(|_| "switch")?;
        assert_eq!(c.peer_cids.pending_retire(), Some(0));
        c.peer_cids.on_retire_sent(0);
        c.on_frame_lost(DATA, SentFrame::RetireConnectionId(0))
            .map_err(|_| "lost")?;
        assert_eq!(c.peer_cids.pending_retire(), Some(0));
        c.peer_cids.on_retire_sent(0);
        c.on_frame_acked(DATA, SentFrame::RetireConnectionId(0))
            .map_err(|_| "acked")?;
        assert_eq!(c.peer_cids.pending_retire(), None);
        Ok(())
    }

    fn ecn_pair(path: EcnPath) -> TestResult<crate::protocol::alloc::Box<Pair>> {
        let mut c = config();
        c.ecn = true;
        let mut p = Pair::new(c, c)?;
        p.ecn_path = path;
        p.handshake()?;
        let id = p.conn(CLIENT)?.stream_open(Dir::Uni).map_err(|_| "open")?;
        let data = [7u8; 1000];
        for _ in 0..30 {
            p.conn(CLIENT)?
                .stream_write(id, &data, false)
                .map_err(|_| "write")?;
            p.run_for(core::time::Duration::from_millis(20))?;
        }
        p.run_for(core::time::Duration::from_millis(200))?;
        Ok(p)
    }

    /// ACK frames carry the ECN counts of what arrived, and validation
    /// (RFC 9000 §13.4.2) passes on a clean path: every packet of a
    /// datagram is counted with the codepoint its IP header carried.
    #[test]
    fn ecn_validates_on_a_clean_path() -> TestResult {
        let mut p = ecn_pair(EcnPath::Keep)?;
        for side in [CLIENT, SERVER] {
            let r = p.conn(side)?.recovery();
            assert_eq!(r.ecn_state(), EcnState::Capable);
            assert_eq!(r.ecn_marking(), EcnCodepoint::Ect0);
        }
        assert!(p.ecn_delivered[EcnCodepoint::Ect0 as usize] > 20);
        Ok(())
    }

    /// A path that clears the codepoint fails validation: no more marks.
    #[test]
    fn ecn_fails_on_a_bleaching_path() -> TestResult {
        let mut p = ecn_pair(EcnPath::Bleach)?;
        for side in [CLIENT, SERVER] {
            let r = p.conn(side)?.recovery();
            assert_eq!(r.ecn_state(), EcnState::Failed);
            assert_eq!(r.ecn_marking(), EcnCodepoint::NotEct);
        }
        // Only the first Initial, queued before the path was set.
        assert_eq!(p.ecn_delivered[EcnCodepoint::Ect0 as usize], 1);
        Ok(())
    }

    /// CE marks on a validated path are a congestion event (RFC 9002
    /// §7.1): the window shrinks, with nothing lost.
    #[test]
    fn ce_marks_reduce_the_window() -> TestResult {
        let mut p = ecn_pair(EcnPath::Keep)?;
        let before = p.conn(CLIENT)?.recovery().congestion_window();
        p.ecn_path = EcnPath::Ce;
        let id = p.conn(CLIENT)?.stream_open(Dir::Uni).map_err(|_| "open")?;
        p.conn(CLIENT)?
            .stream_write(id, &[1u8; 4000], true)
            .map_err(|_| "write")?;
        p.run_for(core::time::Duration::from_millis(200))?;
        assert!(p.ecn_delivered[EcnCodepoint::Ce as usize] > 0);
        let r = p.conn(CLIENT)?.recovery();
        assert!(r.congestion_window() < before);
        assert_eq!(r.ecn_state(), EcnState::Capable);
        Ok(())
    }

    /// ECN validation leaves its testing state after the tenth marked
    /// packet, in the middle of a GSO batch here: the batch ends there, so
    /// that every datagram's IP header carries the codepoint its packets
    /// were counted with, and the peer's counts validate.
    #[test]
    fn ecn_marking_changes_only_between_transmits() -> TestResult {
        let mut c = config();
        c.ecn = true;
        c.max_gso_segments = 16;
        let mut p = Pair::new(c, c)?;
        p.handshake()?;
        p.run_for(core::time::Duration::from_millis(200))?;
        let client = p.conn(CLIENT)?;
        // As on a new path: test ECN again with ten marked packets.
        client.recovery.on_path_changed();
        let id = client.stream_open(Dir::Uni).map_err(|_| "open")?;
        let data = [3u8; 1000];
        for _ in 0..20 {
            client.stream_write(id, &data, false).map_err(|_| "write")?;
        }
        p.run_for(core::time::Duration::from_millis(300))?;
        assert_eq!(p.conn(CLIENT)?.recovery().ecn_state(), EcnState::Capable);
        Ok(())
    }
}
