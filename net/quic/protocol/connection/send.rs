// SPDX-License-Identifier: GPL-2.0

//! Datagrams out (RFC 9000 §12.2, §13, §14; RFC 9002 §7).
//!
//! [`Connection::poll_transmit`] writes the next datagram, or a GSO batch
//! of equal-size datagrams, into the caller's buffer. In order:
//!
//! 1. while closing, CONNECTION_CLOSE packets only;
//! 2. PATH_CHALLENGE / PATH_RESPONSE datagrams on the path they belong to,
//!    padded to 1200 bytes within the anti-amplification limit (§8.2);
//! 3. a DPLPMTUD probe on the active path;
//! 4. ordinary datagrams: one packet per level with something to send,
//!    Initial, Handshake, then 0-RTT or 1-RTT, coalesced. Client Initials
//!    and ack-eliciting server Initials are padded to 1200 bytes (§14.1).
//!
//! ACK-only packets ignore the congestion window and pacing; everything
//! else waits for both (PTO probes excepted). A server sends no more than
//! three times what it received from an unvalidated address (§8.1).
//!
//! A packet is sealed once the next one starts (or the datagram ends), so
//! the last packet of a datagram can still take the padding.

use crate::protocol::ack::EcnCodepoint;
use crate::protocol::cid::{ConnectionId, Generator};
use crate::protocol::codec::Writer;
use crate::protocol::connection::builder::PacketBuilder;
use crate::protocol::connection::record::SentRecord;
use crate::protocol::connection::{Connection, State, Timer, Transmit, ZeroRtt};
use crate::protocol::crypto::{Level, Provider, SAMPLE_LEN};
use crate::protocol::error::TransportError;
use crate::protocol::frame::Frame;
use crate::protocol::packet::header::{LongHeader, ShortHeader};
use crate::protocol::packet::number::PacketNumberLen;
use crate::protocol::packet::protection::{seal, seal_one_rtt};
use crate::protocol::packet::{LongType, PacketKind};
use crate::protocol::path::validation::MIN_DATAGRAM_SIZE;
use crate::protocol::path::PathId;
use crate::protocol::recovery::{PacketNumberSpace, SentPacket};
use crate::protocol::time::Instant;

/// Why a datagram is being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    /// Whatever is due, on the active path.
    Normal,
    /// CONNECTION_CLOSE only.
    Close,
    /// PATH_CHALLENGE and PATH_RESPONSE on a path.
    PathProbe(PathId),
    /// A DPLPMTUD probe of this size.
    Pmtu(usize),
}

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Writes the next datagram(s) to send into `buf`, or returns `None`
    /// when nothing is to be sent now. See the module documentation.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let t = self.transmit(now, buf);
        self.update_timers(now);
        if t.is_none() {
            self.stop_stalled_timers(now);
        }
        t
    }

    fn transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        // One codepoint for the IP header of everything returned, and for
        // the record of every packet in it (RFC 9000 §13.4.2 counts marks
        // per packet): ECN validation may stop marking after any packet.
        let ecn = self.recovery.ecn_marking();
        match self.state {
            State::Closed | State::Draining { .. } => return None,
            State::Closing { .. } => {
                let len = self.build_datagram(now, buf, Purpose::Close, ecn)?;
                self.close_levels_done();
                let id = self.paths.active().id();
                return Some(self.finish_transmit(len, None, id, ecn));
            }
            State::Handshake | State::Established => {}
        }
        if self.keys.can_send(Level::OneRtt) {
            if let Some(t) = self.transmit_probe(now, buf, ecn) {
                return Some(t);
            }
            if let Some(size) = self.pmtu_probe_size(now) {
                if let Some(len) = self.build_datagram(now, buf, Purpose::Pmtu(size), ecn) {
                    let id = self.paths.active().id();
                    return Some(self.finish_transmit(len, None, id, ecn));
                }
            }
        }
        let active = self.paths.active().id();
        let mtu = self.paths.active().max_datagram_size();
        let max_segments = self.config.max_gso_segments.max(1);
        let mut total = 0;
        let mut segment = None;
        for _ in 0..max_segments {
            let Some(rest) = buf.get_mut(total..) else {
                break;
            };
            if total > 0 && (rest.len() < mtu || self.recovery.ecn_marking() != ecn) {
                break;
            }
            let Some(len) = self.build_datagram(now, rest, Purpose::Normal, ecn) else {
                break;
            };
            total += len;
            match segment {
                None => segment = Some(len),
                // A shorter datagram ends the batch.
                Some(size) if len < size => break,
                Some(_) => {}
            }
            if len < mtu {
                break;
            }
        }
        if total == 0 {
            return None;
        }
        let segment_size = segment.filter(|s| *s < total);
        Some(self.finish_transmit(total, segment_size, active, ecn))
    }

    fn finish_transmit(
        &mut self,
        len: usize,
        segment_size: Option<usize>,
        path: PathId,
        ecn: EcnCodepoint,
    ) -> Transmit {
        let p = self.paths.get(path).unwrap_or(self.paths.active());
        Transmit {
            len,
            remote: p.remote(),
            local: p.local(),
            ecn,
            segment_size,
        }
    }

    /// A datagram with the PATH_RESPONSE or PATH_CHALLENGE due on a path,
    /// responses first, on the first such path that can take one: the
    /// anti-amplification limit of an unvalidated path may leave it no
    /// room, which must not hold back the probes of the other paths.
    fn transmit_probe(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        ecn: EcnCodepoint,
    ) -> Option<Transmit> {
        // Active, candidate and fallback paths, each with a response and a
        // challenge at most.
        let mut due = [None; 6];
        let responses = self.paths.iter().filter(|p| p.pending_response().is_some());
        let challenges = self.paths.iter().filter(|p| p.challenge_due(now));
        for (slot, p) in due.iter_mut().zip(responses.chain(challenges)) {
            *slot = Some(p.id());
        }
        due.into_iter().flatten().find_map(|id| {
            let len = self.build_datagram(now, buf, Purpose::PathProbe(id), ecn)?;
            Some(self.finish_transmit(len, None, id, ecn))
        })
    }

    fn pmtu_probe_size(&self, now: Instant) -> Option<usize> {
        if !self.handshake.confirmed {
            return None;
        }
        let size = self.paths.active().pmtud().next_probe_size()?;
        let space = PacketNumberSpace::ApplicationData;
        let paced = self.recovery.next_send_time(now, size as u64).is_some();
        (self.recovery.can_send(space, size as u64) && !paced).then_some(size)
    }

    /// Builds one datagram at the start of `buf`; returns its length.
    fn build_datagram(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        purpose: Purpose,
        ecn: EcnCodepoint,
    ) -> Option<usize> {
        let path_id = match purpose {
            Purpose::PathProbe(id) => id,
            _ => self.paths.active().id(),
        };
        let path = self.paths.get(path_id)?;
        let budget = usize::try_from(path.send_budget()).unwrap_or(usize::MAX);
        let mut limit = buf.len().min(path.max_datagram_size()).min(budget);
        if let Purpose::Pmtu(size) = purpose {
            limit = buf.len().min(size).min(budget);
        }
        let blocked = limit < MIN_DATAGRAM_SIZE && budget != usize::MAX;
        self.recovery
            .set_amplification_blocked(blocked && self.side.is_server(), now);
        let buf = buf.get_mut(..limit)?;
        let mut pending: Option<PacketBuilder> = None;
        let mut pad_to = 0;
        let mut end = 0;
        let levels: &[Level] = match purpose {
            Purpose::Normal | Purpose::Close => &[Level::Initial, Level::Handshake, Level::OneRtt],
            Purpose::PathProbe(_) | Purpose::Pmtu(_) => &[Level::OneRtt],
        };
        for &level in levels {
            let start = pending.map_or(end, |p| p.sealed_end());
            let Some(kind) = self.kind_to_send(level, now, purpose) else {
                continue;
            };
            // The previous packet is final now: seal it.
            if let Some(p) = pending.take() {
                end = self.seal_packet(buf, p, now, path_id).ok()?;
            }
            let Some(mut b) = self.start_packet(buf, start, kind, path_id, ecn) else {
                continue;
            };
            self.fill(buf, &mut b, now, purpose, path_id);
            if b.is_empty() {
                self.pool.truncate(b.pool_first);
                continue;
            }
            if kind == PacketKind::Initial && (self.side.is_client() || b.ack_eliciting) {
                pad_to = MIN_DATAGRAM_SIZE;
            }
            pending = Some(b);
        }
        let mut last = pending?;
        match purpose {
            Purpose::PathProbe(id) => {
                let len = self.paths.get(id).map_or(0, |p| p.probe_datagram_len());
                pad_to = pad_to.max(len);
            }
            Purpose::Pmtu(size) => pad_to = size,
            Purpose::Normal | Purpose::Close => {}
        }
        if pad_to > last.sealed_end() {
            last.pad_to(buf, pad_to.saturating_sub(last.tag_len));
        }
        end = self.seal_packet(buf, last, now, path_id).ok()?;
        if let Some(p) = self.paths.get_mut(path_id) {
            p.on_datagram_sent(end);
        }
        self.last_sent = now;
        Some(end)
    }

    /// The packet type to send at `level` now, if anything is due there.
    fn kind_to_send(&mut self, level: Level, now: Instant, purpose: Purpose) -> Option<PacketKind> {
        let kind = match level {
            Level::Initial if self.keys.can_send(Level::Initial) => PacketKind::Initial,
            Level::Handshake if self.keys.can_send(Level::Handshake) => PacketKind::Handshake,
            Level::OneRtt if self.keys.can_send(Level::OneRtt) => PacketKind::OneRtt,
            Level::OneRtt
                if self.handshake.zero_rtt == ZeroRtt::Sending
                    && self.keys.can_send(Level::ZeroRtt) =>
            {
                PacketKind::ZeroRtt
            }
            _ => return None,
        };
        let wanted = match purpose {
            Purpose::Close => {
                self.closing.is_some_and(|c| c.wants_to_send()) && self.closes_at(level)
            }
            Purpose::PathProbe(_) | Purpose::Pmtu(_) => true,
            Purpose::Normal => self.wants_to_send(kind, now),
        };
        wanted.then_some(kind)
    }

    /// Whether a packet of `kind` has something to carry.
    fn wants_to_send(&mut self, kind: PacketKind, now: Instant) -> bool {
        let space = match kind {
            PacketKind::Initial => PacketNumberSpace::Initial,
            PacketKind::Handshake => PacketNumberSpace::Handshake,
            _ => PacketNumberSpace::ApplicationData,
        };
        let i = space.index();
        let ack_due =
            kind != PacketKind::ZeroRtt && self.spaces.get(i).is_some_and(|s| s.ack.ack_due(now));
        if ack_due {
            return true;
        }
        if !self.congestion_allows(space, now) {
            return false;
        }
        let ping = self.spaces.get(i).is_some_and(|s| s.ping > 0);
        let crypto = match kind {
            PacketKind::Initial => self.crypto[0].wants_to_send(),
            PacketKind::Handshake => self.crypto[1].wants_to_send(),
            PacketKind::OneRtt => self.crypto[2].wants_to_send(),
            PacketKind::ZeroRtt => false,
        };
        let app = matches!(kind, PacketKind::OneRtt | PacketKind::ZeroRtt)
            && ((kind == PacketKind::OneRtt
                && (self.handshake.done_pending
                    || self.new_token_due()
                    || self.peer_cids.pending_retire().is_some()))
                || self.local_cids.pending_new_connection_id().is_some()
                || self.streams.wants_to_send()
                || !self.datagrams.is_send_empty());
        let wants = ping || crypto || app;
        if !wants && space == PacketNumberSpace::ApplicationData {
            // The window is not the limit: the application is.
            self.recovery.set_app_limited(true);
        }
        wants
    }

    /// Whether congestion control and pacing let an ack-eliciting packet go
    /// in `space` now.
    fn congestion_allows(&mut self, space: PacketNumberSpace, now: Instant) -> bool {
        let mtu = self.paths.active().max_datagram_size() as u64;
        if !self.recovery.can_send(space, mtu) {
            return false;
        }
        let probing = self.spaces.get(space.index()).is_some_and(|s| s.ping > 0);
        if let Some(at) = self.recovery.next_send_time(now, mtu) {
            if !probing {
                self.timers.set(Timer::Pacing, at);
                return false;
            }
        }
        self.recovery.set_app_limited(false);
        true
    }

    /// Writes the header of a `kind` packet at `buf[start..]`.
    fn start_packet(
        &mut self,
        buf: &mut [u8],
        start: usize,
        kind: PacketKind,
        path: PathId,
        ecn: EcnCodepoint,
    ) -> Option<PacketBuilder> {
        let space = match kind {
            PacketKind::Initial => PacketNumberSpace::Initial,
            PacketKind::Handshake => PacketNumberSpace::Handshake,
            _ => PacketNumberSpace::ApplicationData,
        };
        let pn = self.spaces.get(space.index())?.next_pn;
        let pn_len = PacketNumberLen::for_packet(pn, self.recovery.largest_acked(space));
        let dcid = self.dcid_for(path);
        let fixed_bit = self.fixed_bit();
        let tag_len = crate::protocol::crypto::TAG_LEN;
        if kind == PacketKind::OneRtt {
            self.maybe_update_keys();
        }
        let out = buf.get_mut(start..)?;
        let mut w = Writer::new(out);
        let layout = match kind {
            PacketKind::OneRtt => {
                let key_phase = self.keys.one_rtt.as_ref().is_some_and(|k| k.key_phase());
                ShortHeader {
                    dcid,
                    pn,
                    pn_len,
                    spin: self.spin_to_send(path),
                    key_phase,
                    fixed_bit,
                }
                .encode(&mut w)
            }
            _ => {
                let ty = match kind {
                    PacketKind::Initial => LongType::Initial,
                    PacketKind::ZeroRtt => LongType::ZeroRtt,
                    _ => LongType::Handshake,
                };
                let token: &[u8] = if kind == PacketKind::Initial && self.side.is_client() {
                    &self.token
                } else {
                    &[]
                };
                LongHeader {
                    ty,
                    version: self.version,
                    dcid,
                    scid: self.local_cid(),
                    token,
                    pn,
                    pn_len,
                    fixed_bit,
                }
                .encode(&mut w)
            }
        }
        .ok()?;
        let header_end = start.checked_add(layout.header_len())?;
        let end = buf.len().checked_sub(tag_len)?;
        if header_end >= end {
            return None;
        }
        Some(PacketBuilder {
            start,
            layout,
            kind,
            pos: header_end,
            end,
            tag_len,
            ack_eliciting: false,
            padded: false,
            pool_first: self.pool.next_index(),
            frames: 0,
            pmtu_probe: false,
            ecn,
        })
    }

    /// The Destination Connection ID for packets on `path`.
    fn dcid_for(&mut self, path: PathId) -> ConnectionId {
        let seq = self.paths.get(path).and_then(|p| p.dcid_sequence());
        if let Some(seq) = seq {
            if let Some((_, id)) = self.peer_cids.iter().find(|(s, _)| *s == seq) {
                return *id;
            }
        }
        if path != self.paths.active().id() {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-9.5
            //# An endpoint MUST NOT reuse a connection ID when sending to more than one
            //# destination address.
            if let Some((seq, id)) = self.peer_cids.take_unused() {
                if let Some(p) = self.paths.get_mut(path) {
                    p.set_dcid_sequence(Some(seq));
                }
                return id;
            }
        }
        *self.peer_cids.current()
    }

    /// The QUIC Bit to send: greased at random when the peer allows it
    /// (RFC 9287 §3.1).
    fn fixed_bit(&mut self) -> bool {
        let peer_allows = self.peer_params.is_some_and(|p| p.grease_quic_bit);
        !(self.config.grease_quic_bit && peer_allows && self.grease_random() & 1 == 1)
    }

    /// Adds the frames `purpose` calls for.
    fn fill(
        &mut self,
        buf: &mut [u8],
        b: &mut PacketBuilder,
        now: Instant,
        purpose: Purpose,
        path: PathId,
    ) {
        match purpose {
            Purpose::Close => self.write_close(buf, b),
            Purpose::PathProbe(id) => self.write_path_frames(buf, b, id, now),
            Purpose::Pmtu(size) => {
                if b.write(buf, 1, |w| Frame::Ping.encode(w)) {
                    b.ack_eliciting = true;
                    b.pmtu_probe = true;
                    if let Some(p) = self.paths.get_mut(path) {
                        let pn = b.layout.pn;
                        p.pmtud_mut().on_probe_sent(pn, size);
                    }
                }
            }
            Purpose::Normal => {
                self.write_ack(buf, b, now);
                if self.congestion_allows(b.space(), now) {
                    self.write_data(buf, b);
                }
            }
        }
    }

    fn write_path_frames(
        &mut self,
        buf: &mut [u8],
        b: &mut PacketBuilder,
        id: PathId,
        now: Instant,
    ) {
        if let Some((rid, data)) = self.paths.poll_response() {
            if rid == id {
                let frame = Frame::PathResponse { data };
                if b.write(buf, frame.encoded_size(), |w| frame.encode(w)) {
                    if let Some(p) = self.paths.get_mut(id) {
                        p.on_response_sent();
                    }
                    b.ack_eliciting = true;
                }
            }
        }
        if self.paths.get(id).is_some_and(|p| p.challenge_due(now)) {
            let mut data = [0u8; 8];
            let random = self.gen.new_cid(8);
            data.copy_from_slice(random.as_slice().get(..8).unwrap_or(&[0; 8]));
            let frame = Frame::PathChallenge { data };
            if b.write(buf, frame.encoded_size(), |w| frame.encode(w)) {
                let pto = self.pto();
                let len = self.paths.get(id).map_or(0, |p| p.probe_datagram_len());
                if let Some(p) = self.paths.get_mut(id) {
                    p.on_challenge_sent(data, len, now, pto);
                }
                b.ack_eliciting = true;
            }
        }
    }

    /// Seals the packet `b` built and records it; returns where it ends.
    fn seal_packet(
        &mut self,
        buf: &mut [u8],
        mut b: PacketBuilder,
        now: Instant,
        path: PathId,
    ) -> Result<usize, TransportError> {
        let min = b.layout.min_payload_len(b.tag_len, SAMPLE_LEN);
        let payload = b.pos.saturating_sub(b.payload_start());
        if payload < min {
            let until = b.pos + (min - payload);
            b.pad_to(buf, until);
        }
        let end = b.sealed_end();
        let packet = buf
            .get_mut(b.start..end)
            .ok_or(TransportError::internal("packet out of bounds"))?;
        let result = match b.kind {
            PacketKind::OneRtt => {
                let keys = self
                    .keys
                    .one_rtt
                    .as_mut()
                    .ok_or(TransportError::internal("no 1-RTT keys"))?;
                seal_one_rtt(packet, &b.layout, keys)
            }
            PacketKind::Initial => {
                let k = self
                    .keys
                    .initial
                    .as_ref()
                    .ok_or(TransportError::internal("no Initial keys"))?;
                seal(
                    packet,
                    &b.layout,
                    &k.keys.local.packet,
                    &k.keys.local.header,
                )
            }
            PacketKind::Handshake => {
                let k = self
                    .keys
                    .handshake_send
                    .as_ref()
                    .ok_or(TransportError::internal("no Handshake keys"))?;
                seal(packet, &b.layout, &k.packet, &k.header)
            }
            PacketKind::ZeroRtt => {
                let k = self
                    .keys
                    .zero_rtt
                    .as_ref()
                    .ok_or(TransportError::internal("no 0-RTT keys"))?;
                seal(packet, &b.layout, &k.packet, &k.header)
            }
        };
        if let Err(e) = result {
            let err = e
                .transport_error()
                .unwrap_or(TransportError::internal("packet protection failure"));
            self.close_on_error(now, err);
            return Err(err);
        }
        let space = b.space();
        if let Some(s) = self.spaces.get_mut(space.index()) {
            s.next_pn = s.next_pn.saturating_add(1);
        }
        let record = SentRecord {
            first: b.pool_first,
            len: b.frames,
            path,
            pmtu_probe: b.pmtu_probe,
        };
        let sent = SentPacket {
            time_sent: now,
            size: u16::try_from(end - b.start).unwrap_or(u16::MAX),
            ack_eliciting: b.ack_eliciting,
            in_flight: b.ack_eliciting || b.padded,
            ecn: b.ecn,
            payload: record,
        };
        if let Err(e) = self.recovery.on_packet_sent(space, b.layout.pn, sent) {
            self.close_on_error(now, e);
            return Err(e);
        }
        if b.ack_eliciting {
            self.on_ack_eliciting_sent(now);
        }
        if b.kind == PacketKind::Handshake {
            self.on_handshake_packet(true, now);
        }
        Ok(end)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_send))]
mod tests {
    use super::*;
    use crate::protocol::alloc::{Vec, GFP};
    use crate::protocol::connection::testing::{client, config, Pair, TestResult, CLIENT, SERVER};
    use crate::protocol::stream::Dir;
    use core::time::Duration;

    fn buffer(n: usize) -> TestResult<Vec<u8>> {
        let mut v = Vec::new();
        v.extend_with(n, 0u8, GFP).map_err(|_| "alloc")?;
        Ok(v)
    }

    #[test]
    fn nothing_before_the_client_hello_then_a_padded_initial() -> TestResult {
        let mut c = client()?;
        let mut buf = buffer(1500)?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-14.1
        //# A client MUST expand the payload of all UDP datagrams carrying Initial
        //# packets to at least the smallest allowed maximum datagram size of
        //# 1200 bytes
        assert!(c.poll_transmit(Instant::ZERO, buf.as_mut_slice()).is_none());
        c.crypto_send(Level::Initial, b"client hello")
            .map_err(|_| "send")?;
        let t = c
            .poll_transmit(Instant::ZERO, buf.as_mut_slice())
            .ok_or("nothing")?;
        assert_eq!(t.len, 1200);
        assert_eq!(t.segment_size, None);
        assert!(c.poll_transmit(Instant::ZERO, buf.as_mut_slice()).is_none());
        Ok(())
    }

    #[test]
    fn server_respects_the_amplification_limit() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        // The client's packets after its first never arrive: the server's
        // address validation never completes.
        p.blackhole[SERVER] = true;
        p.run_for(Duration::from_secs(3))?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-8.1
        //# Prior to validating the client address, servers MUST NOT send more
        //# than three times as many bytes as the number of bytes they have
        //# received.
        assert!(p.bytes_sent[SERVER] > 0);
        assert!(p.bytes_sent[SERVER] <= 3 * 1200);
        Ok(())
    }

    #[test]
    fn gso_batches_equal_segments() -> TestResult {
        let mut c = config();
        c.max_gso_segments = 8;
        let mut p = Pair::new(c, config())?;
        p.handshake()?;
        let now = p.now;
        let conn = p.conn(CLIENT)?;
        let id = conn.stream_open(Dir::Uni).map_err(|_| "open")?;
        let data = buffer(6000)?;
        conn.stream_write(id, &data, true).map_err(|_| "write")?;
        let mut buf = buffer(8 * 1500)?;
        let t = conn
            .poll_transmit(now, buf.as_mut_slice())
            .ok_or("nothing")?;
        let seg = t.segment_size.ok_or("no GSO")?;
        assert_eq!(seg, 1200);
        assert!(t.len > 3 * seg && t.len <= 6 * seg);
        Ok(())
    }

    #[test]
    fn acks_go_out_even_when_congestion_blocks_data() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        // Fill the client's window with unacknowledged data.
        p.blackhole[SERVER] = true;
        let now = p.now;
        let conn = p.conn(CLIENT)?;
        let id = conn.stream_open(Dir::Uni).map_err(|_| "open")?;
        let data = buffer(200_000)?;
        conn.stream_write(id, &data, false).map_err(|_| "write")?;
        let mut buf = buffer(1500)?;
        while conn.poll_transmit(now, buf.as_mut_slice()).is_some() {}
        assert!(conn.recovery().bytes_in_flight() >= conn.recovery().congestion_window() - 1200);
        // The server sends something ack-eliciting; the client answers
        // with an ACK despite the full window.
        p.blackhole[SERVER] = false;
        let s = p.conn(SERVER)?;
        let sid = s.stream_open(Dir::Uni).map_err(|_| "open")?;
        s.stream_write(sid, b"ping", true).map_err(|_| "write")?;
        let before = p.bytes_sent[CLIENT];
        p.run_for(Duration::from_millis(50))?;
        assert!(p.bytes_sent[CLIENT] > before);
        Ok(())
    }

    /// A path whose anti-amplification limit holds its PATH_CHALLENGE back
    /// does not stop the other paths' probes: after a NAT rebinding, the
    /// server still probes the client's old, validated address.
    #[test]
    fn held_back_probe_does_not_starve_other_paths() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let rebound = p.rebind_client(50001)?;
        let mut buf = buffer(1500)?;
        let mut now = p.now;
        let s = p.conn(SERVER)?;
        let mut to_old = 0;
        for _ in 0..32 {
            for _ in 0..8 {
                let Some(t) = s.poll_transmit(now, buf.as_mut_slice()) else {
                    break;
                };
                to_old += usize::from(t.remote != rebound);
            }
            let Some(at) = s.poll_timeout() else {
                break;
            };
            now = now.max(at);
            s.handle_timeout(now);
        }
        // The first challenge to the old address, and resends.
        assert!(to_old >= 2);
        Ok(())
    }
}
