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
    use crate::protocol::connection::testing::{config, Pair, TestResult, CLIENT, SERVER};
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
}
