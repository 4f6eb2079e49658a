// SPDX-License-Identifier: GPL-2.0

//! Frame dispatch (RFC 9000 §19, RFC 9221 §4).
//!
//! Each frame of an authenticated packet goes to the part of the
//! connection it is about: streams, CRYPTO streams, connection IDs, paths,
//! loss recovery, the handshake or the close machinery. The frame iterator
//! already refused frames the packet type may not carry (§12.4); what
//! needs connection state is checked here (a client's NEW_TOKEN or
//! HANDSHAKE_DONE, a DATAGRAM nobody asked for).

use crate::protocol::cid::reset::ResetToken;
use crate::protocol::cid::{ConnectionId, Generator, NewConnectionId};
use crate::protocol::connection::event::Event;
use crate::protocol::connection::state::{CloseCause, ConnectionError, Reason};
use crate::protocol::connection::tls::{crypto_index, space_of};
use crate::protocol::connection::Connection;
use crate::protocol::crypto::{Level, Provider};
use crate::protocol::error::TransportError;
use crate::protocol::frame::{Frame, FrameType};
use crate::protocol::path::PathId;
use crate::protocol::stream::{Dir, StreamId, StreamUpdate};
use crate::protocol::time::Instant;

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Handles one frame of a packet at `level`, received on `path` and
    /// addressed to `dcid`.
    pub(crate) fn on_frame(
        &mut self,
        now: Instant,
        level: Level,
        path: PathId,
        dcid: &ConnectionId,
        frame: Frame<'_>,
    ) -> Result<(), TransportError> {
        match frame {
            Frame::Padding { .. } | Frame::Ping => Ok(()),
            Frame::Ack(ack) => self.on_ack_frame(now, space_of(level), &ack),
            Frame::Crypto(c) => {
                let i = crypto_index(level).ok_or(TransportError::internal("CRYPTO level"))?;
                let Some(stream) = self.crypto.get_mut(i) else {
                    return Ok(());
                };
                if stream.on_crypto_frame(c.offset.into_inner(), c.data)? {
                    self.events.push(Event::CryptoDataReadable(level));
                }
                Ok(())
            }
            Frame::Stream(s) => {
                let id = StreamId::from(s.stream_id);
                let update =
                    self.streams
                        .on_stream_frame(id, s.offset.into_inner(), s.data, s.fin)?;
                self.after_stream_frame(id, update);
                Ok(())
            }
            Frame::ResetStream {
                stream_id,
                error_code,
                final_size,
            } => {
                let id = StreamId::from(stream_id);
                let update = self.streams.on_reset_stream(
                    id,
                    error_code.into_inner(),
                    final_size.into_inner(),
                )?;
                self.after_stream_frame(id, update);
                Ok(())
            }
            Frame::StopSending {
                stream_id,
                error_code,
            } => {
                let id = StreamId::from(stream_id);
                let update = self.streams.on_stop_sending(id, error_code.into_inner())?;
                self.after_stream_frame(id, update);
                Ok(())
            }
            Frame::MaxData { max } => {
                if self.streams.on_max_data(max.into_inner()) {
                    self.events.push(Event::MaxData(max.into_inner()));
                }
                Ok(())
            }
            Frame::MaxStreamData { stream_id, max } => {
                let id = StreamId::from(stream_id);
                if self.streams.on_max_stream_data(id, max.into_inner())? {
                    let max = max.into_inner();
                    self.events.push(Event::StreamMaxData { id, max });
                    self.events.push(Event::StreamWritable(id));
                }
                self.after_stream_frame(id, None);
                Ok(())
            }
            Frame::MaxStreams { dir, max } => {
                if self.streams.on_max_streams(dir, max.into_inner())? {
                    let count = max.into_inner();
                    self.events.push(Event::MaxStreams { dir, count });
                }
                Ok(())
            }
            Frame::DataBlocked { limit } => {
                self.streams.on_data_blocked(limit.into_inner());
                Ok(())
            }
            Frame::StreamDataBlocked { stream_id, limit } => {
                let id = StreamId::from(stream_id);
                self.streams
                    .on_stream_data_blocked(id, limit.into_inner())?;
                self.after_stream_frame(id, None);
                Ok(())
            }
            Frame::StreamsBlocked { dir, limit } => {
                self.streams.on_streams_blocked(dir, limit.into_inner())
            }
            Frame::NewConnectionId(f) => {
                let frame = NewConnectionId {
                    sequence: f.sequence.into_inner(),
                    retire_prior_to: f.retire_prior_to.into_inner(),
                    id: f.id,
                    reset_token: ResetToken::new(f.reset_token),
                };
                if self.peer_cids.on_new_connection_id(&frame)? {
                    self.on_peer_cid_changed();
                }
                Ok(())
            }
            Frame::RetireConnectionId { sequence } => {
                self.local_cids
                    .on_retire_connection_id(sequence.into_inner(), dcid)?;
                self.local_cids.replenish(&mut self.gen)
            }
            Frame::PathChallenge { data } => {
                self.paths.on_path_challenge(path, data);
                Ok(())
            }
            Frame::PathResponse { data } => {
                self.paths.on_path_response(&data, now);
                Ok(())
            }
            Frame::NewToken { token } => {
                //= https://www.rfc-editor.org/rfc/rfc9000#section-19.7
                //# A server MUST treat receipt
                //# of a NEW_TOKEN frame as a connection error of type
                //# PROTOCOL_VIOLATION.
                if self.side.is_server() {
                    return Err(
                        TransportError::protocol_violation("NEW_TOKEN from a client")
                            .with_frame(FrameType::NEW_TOKEN.0),
                    );
                }
                self.on_new_token(token)
            }
            Frame::HandshakeDone => {
                //= https://www.rfc-editor.org/rfc/rfc9000#section-19.20
                //# A server MUST
                //# treat receipt of a HANDSHAKE_DONE frame as a connection error of
                //# type PROTOCOL_VIOLATION.
                if self.side.is_server() {
                    return Err(
                        TransportError::protocol_violation("HANDSHAKE_DONE from a client")
                            .with_frame(FrameType::HANDSHAKE_DONE.0),
                    );
                }
                self.on_handshake_confirmed(now);
                Ok(())
            }
            Frame::Datagram(d) => {
                let max = self.config.transport.max_datagram_frame_size.into_inner();
                //= https://www.rfc-editor.org/rfc/rfc9221#section-3
                //# An endpoint that receives a DATAGRAM frame when it has not indicated
                //# support via the transport parameter MUST terminate the connection
                //# with an error of type PROTOCOL_VIOLATION.
                let size = u64::try_from(d.encoded_size()).unwrap_or(u64::MAX);
                if max == 0 || size > max {
                    return Err(TransportError::protocol_violation("unexpected DATAGRAM")
                        .with_frame(d.ty().0));
                }
                if self.datagrams.on_received(d.data) {
                    self.events.push(Event::DatagramReceived);
                }
                Ok(())
            }
            Frame::ConnectionClose(close) => {
                let error = ConnectionError {
                    cause: CloseCause::ConnectionClose,
                    code: close.error_code.into_inner(),
                    frame_type: close.frame_type.map_or(0, |t| t.into_inner()),
                    application: close.is_application(),
                    by_peer: true,
                    reason: Reason::new(close.reason),
                };
                //= https://www.rfc-editor.org/rfc/rfc9000#section-10.2.2
                //# An endpoint that receives a CONNECTION_CLOSE frame MAY send a single
                //# packet containing a CONNECTION_CLOSE frame before entering the
                //# draining state
                self.enter_draining(now, error);
                Ok(())
            }
        }
    }

    /// Reports what a frame about stream `id` changed: a new peer stream,
    /// a state change, data to read.
    fn after_stream_frame(&mut self, id: StreamId, update: Option<StreamUpdate>) {
        for dir in [Dir::Bi, Dir::Uni] {
            while let Some(new) = self.streams.accept(dir) {
                self.events.push(Event::StreamOpened(new));
            }
        }
        if let Some(update) = update {
            self.events.push(Event::StreamUpdate(update));
        }
        let readable = self
            .streams
            .get(id)
            .and_then(|s| s.recv())
            .is_some_and(|r| r.is_readable());
        if readable {
            self.events.push(Event::StreamReadable(id));
        }
    }

    /// The peer connection ID in use changed: the active path follows.
    pub(crate) fn on_peer_cid_changed(&mut self) {
        let sequence = self.peer_cids.current_sequence();
        self.paths.active_mut().set_dcid_sequence(Some(sequence));
        self.events.push(Event::ConnectionIdChanged { sequence });
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_frames))]
mod tests {
    use super::*;
    use crate::protocol::connection::testing::{client, server_for, TestResult};
    use crate::protocol::error::TransportErrorCode;
    use crate::protocol::frame::DatagramFrame;

    const PV: TransportErrorCode = TransportErrorCode::PROTOCOL_VIOLATION;

    #[test]
    fn client_only_frames_from_a_client() -> TestResult {
        let c = client()?;
        let mut s = server_for(&c)?;
        let dcid = s.local_cid();
        let path = s.paths().active().id();
        let now = Instant::ZERO;
        let done = s.on_frame(now, Level::OneRtt, path, &dcid, Frame::HandshakeDone);
        assert_eq!(done.map_err(|e| e.code), Err(PV));
        let token = s.on_frame(
            now,
            Level::OneRtt,
            path,
            &dcid,
            Frame::NewToken { token: b"t" },
        );
        assert_eq!(token.map_err(|e| e.code), Err(PV));
        Ok(())
    }

    #[test]
    fn new_token_is_kept_for_the_caller() -> TestResult {
        let mut c = client()?;
        let dcid = c.local_cid();
        let path = c.paths().active().id();
        assert_eq!(c.new_token(), None);
        c.on_frame(
            Instant::ZERO,
            Level::OneRtt,
            path,
            &dcid,
            Frame::NewToken { token: b"abc" },
        )
        .map_err(|_| "new token")?;
        assert_eq!(c.new_token(), Some(&b"abc"[..]));
        assert_eq!(c.poll_event(), Some(Event::NewToken));
        Ok(())
    }

    #[test]
    fn datagrams_only_when_advertised() -> TestResult {
        let mut config = crate::protocol::connection::testing::config();
        config.transport.max_datagram_frame_size = crate::protocol::varint::VarInt::ZERO;
        let mut c = crate::protocol::connection::testing::client_with(config)?;
        let dcid = c.local_cid();
        let path = c.paths().active().id();
        let d = Frame::Datagram(DatagramFrame {
            has_length: true,
            data: b"x",
        });
        let r = c.on_frame(Instant::ZERO, Level::OneRtt, path, &dcid, d);
        assert_eq!(r.map_err(|e| e.code), Err(PV));
        let mut ok = client()?;
        ok.on_frame(Instant::ZERO, Level::OneRtt, path, &dcid, d)
            .map_err(|_| "datagram")?;
        assert_eq!(ok.poll_event(), Some(Event::DatagramReceived));
        let mut buf = [0u8; 4];
        assert_eq!(ok.datagram_recv(&mut buf), Some(1));
        Ok(())
    }

    #[test]
    fn peer_close_drains() -> TestResult {
        let mut c = client()?;
        // Something was sent, so the connection exists for the peer.
        c.crypto_send(Level::Initial, b"x").map_err(|_| "send")?;
        let dcid = c.local_cid();
        let path = c.paths().active().id();
        let close = crate::protocol::frame::ConnectionClose::application(
            crate::protocol::varint::VarInt::from_u32(9),
            b"app",
        );
        c.on_frame(
            Instant::ZERO,
            Level::OneRtt,
            path,
            &dcid,
            Frame::ConnectionClose(close),
        )
        .map_err(|_| "close")?;
        assert!(matches!(
            c.state(),
            crate::protocol::connection::State::Draining { .. }
        ));
        match c.poll_event() {
            Some(Event::Closed(e)) => {
                assert!(e.by_peer && e.application);
                assert_eq!(e.code, 9);
            }
            _ => return Err("no close event"),
        }
        Ok(())
    }
}
