// SPDX-License-Identifier: GPL-2.0

//! The application's commands: streams, datagrams, key update, migration,
//! connection IDs and the socket options that read or change parameters.
//!
//! Stream calls pass through to the [`StreamSet`]; their effect on the wire
//! shows on the next [`Connection::poll_transmit`]. Errors here never close
//! the connection.
//!
//! [`StreamSet`]: crate::protocol::stream::set::StreamSet

use crate::protocol::cid::{Generator, RequestError};
use crate::protocol::connection::datagram::DatagramError;
use crate::protocol::connection::event::Event;
use crate::protocol::connection::Connection;
use crate::protocol::crypto::{CryptoError, Level, Provider};
use crate::protocol::error::TransportError;
use crate::protocol::path::migration::client::MigrationError;
use crate::protocol::path::SocketAddr;
use crate::protocol::stream::recv::Read;
use crate::protocol::stream::{Dir, StreamError, StreamId};
use crate::protocol::time::Instant;
use crate::protocol::transport_params::TransportParameters;

impl<P: Provider, G: Generator> Connection<P, G> {
    fn check_open(&self) -> Result<(), StreamError> {
        if self.state.is_closed() {
            return Err(StreamError::InvalidState);
        }
        Ok(())
    }

    /// Opens this endpoint's next stream of direction `dir`
    /// (`QUIC_SOCKOPT_STREAM_OPEN` with stream ID -1).
    pub fn stream_open(&mut self, dir: Dir) -> Result<StreamId, StreamError> {
        self.check_open()?;
        self.streams.open_next(dir)
    }

    /// Opens this endpoint's stream `id` and the lower ones of its type.
    pub fn stream_open_id(&mut self, id: StreamId) -> Result<(), StreamError> {
        self.check_open()?;
        self.streams.open(id)
    }

    /// Writes `data` to stream `id`, ending the stream with `fin` once all
    /// of it is taken. Returns how much was taken (less than `data` when
    /// the send buffer is full: wait for [`Event::StreamWritable`]).
    pub fn stream_write(
        &mut self,
        id: StreamId,
        data: &[u8],
        fin: bool,
    ) -> Result<usize, StreamError> {
        self.check_open()?;
        self.streams.write(id, data, fin)
    }

    /// Ends stream `id` after the data written.
    pub fn stream_finish(&mut self, id: StreamId) -> Result<(), StreamError> {
        self.check_open()?;
        self.streams.finish(id)
    }

    /// Reads stream `id` into `out`.
    pub fn stream_read(
        &mut self,
        now: Instant,
        id: StreamId,
        out: &mut [u8],
    ) -> Result<Read, StreamError> {
        let rtt = self.recovery.rtt().smoothed();
        let result = self.streams.read(id, out, now, rtt);
        self.update_timers(now);
        result
    }

    /// The next stream with something to read.
    pub fn stream_readable(&mut self) -> Option<StreamId> {
        self.streams.next_readable()
    }

    /// Bytes stream `id` can take now.
    pub fn stream_writable(&self, id: StreamId) -> usize {
        self.streams.writable(id)
    }

    /// Resets the sending part of `id` (`QUIC_SOCKOPT_STREAM_RESET`).
    pub fn stream_reset(&mut self, id: StreamId, code: u64) -> Result<(), StreamError> {
        self.check_open()?;
        self.streams.reset(id, code)
    }

    /// Asks the peer to stop sending on `id`
    /// (`QUIC_SOCKOPT_STREAM_STOP_SENDING`).
    pub fn stream_stop_sending(&mut self, id: StreamId, code: u64) -> Result<(), StreamError> {
        self.check_open()?;
        self.streams.stop_sending(id, code)
    }

    /// Queues a DATAGRAM frame (RFC 9221). Refused if the peer did not
    /// advertise max_datagram_frame_size or the datagram cannot fit it.
    pub fn datagram_send(&mut self, data: &[u8]) -> Result<(), DatagramError> {
        let max = self.datagram_max_size().ok_or(DatagramError::TooLarge)?;
        if data.len() > max {
            return Err(DatagramError::TooLarge);
        }
        self.datagrams.send(data)
    }

    /// The length of the next received datagram, if one waits.
    pub fn datagram_readable(&self) -> Option<usize> {
        self.datagrams.recv_len()
    }

    /// Reads the next received datagram into `out`; returns its length.
    pub fn datagram_recv(&mut self, out: &mut [u8]) -> Option<usize> {
        self.datagrams.recv(out)
    }

    /// The largest datagram [`Connection::datagram_send`] takes, if the
    /// peer accepts DATAGRAM frames.
    pub fn datagram_max_size(&self) -> Option<usize> {
        let frame_max = usize::try_from(self.peer_max_datagram_frame).unwrap_or(usize::MAX);
        if frame_max == 0 {
            return None;
        }
        // Type and a two-byte length; a short header, a 4-byte packet
        // number and the tag on a 1200-byte path.
        let packet_max = self
            .paths
            .active()
            .max_datagram_size()
            .saturating_sub(1 + 20 + 4 + 16);
        Some(frame_max.min(packet_max).saturating_sub(3))
    }

    /// Starts a key update (`QUIC_SOCKOPT_KEY_UPDATE`). Refused until the
    /// handshake is confirmed and the current keys were acknowledged
    /// (RFC 9001 §6.1).
    pub fn request_key_update(&mut self) -> Result<(), CryptoError> {
        let keys = self
            .keys
            .one_rtt
            .as_mut()
            .ok_or(CryptoError::KeyUpdateNotPermitted)?;
        keys.initiate_update(&self.provider)?;
        let phase = keys.key_phase();
        self.events.push(Event::KeyUpdate { phase });
        Ok(())
    }

    /// Updates the keys when the confidentiality limit approaches
    /// (RFC 9001 §6.6), before a 1-RTT packet is sealed.
    pub(crate) fn maybe_update_keys(&mut self) {
        let due = self
            .keys
            .one_rtt
            .as_ref()
            .is_some_and(|k| k.should_update() && k.can_initiate_update());
        if due {
            let _ = self.request_key_update();
        }
    }

    /// Moves to the local address `local` (`QUIC_SOCKOPT_CONNECTION_MIGRATION`):
    /// the new path is validated first, then used. Clients only.
    pub fn migrate(&mut self, now: Instant, local: SocketAddr) -> Result<(), MigrationError> {
        let id = self.paths.migrate(local, now)?;
        if let Some((seq, _)) = self.peer_cids.take_unused() {
            if let Some(p) = self.paths.get_mut(id) {
                p.set_dcid_sequence(Some(seq));
            }
        }
        self.update_timers(now);
        Ok(())
    }

    /// Asks the peer to retire our connection IDs below `prior_to` (source
    /// side of `QUIC_SOCKOPT_CONNECTION_ID`).
    pub fn retire_local_cids(&mut self, prior_to: u64) -> Result<(), RequestError> {
        self.local_cids.retire_prior_to(prior_to, &mut self.gen)
    }

    /// Switches to the peer's connection ID `sequence` (destination side of
    /// `QUIC_SOCKOPT_CONNECTION_ID`).
    pub fn set_active_peer_cid(&mut self, sequence: u64) -> Result<(), RequestError> {
        let old = self.peer_cids.current_sequence();
        self.peer_cids.set_current(sequence)?;
        if old != sequence {
            let _ = self.peer_cids.retire(old);
            self.on_peer_cid_changed();
        }
        Ok(())
    }

    /// Changes the local transport parameters (`QUIC_SOCKOPT_TRANSPORT_PARAM`
    /// with `remote = 0`) before they are handed to TLS. The connection ID
    /// parameters are the connection's own and are ignored.
    pub fn set_local_transport_parameters(
        &mut self,
        params: &TransportParameters,
    ) -> Result<(), TransportError> {
        if self.local_params_sent || self.spaces.iter().any(|s| s.next_pn > 0) {
            return Err(TransportError::internal(
                "transport parameters already sent",
            ));
        }
        params.validate(self.side)?;
        let mut config = *self.config;
        config.transport = *params;
        self.apply_config(config)
    }

    /// Changes the configuration (`QUIC_SOCKOPT_CONFIG`) before the
    /// connection sends anything. Streams and flow control pick up the new
    /// limits; the transport parameters follow `config.transport`.
    pub fn set_config(
        &mut self,
        config: crate::protocol::connection::Config,
    ) -> Result<(), TransportError> {
        if self.local_params_sent || self.spaces.iter().any(|s| s.next_pn > 0) {
            return Err(TransportError::internal("configuration already in use"));
        }
        config.validate(self.side)?;
        self.apply_config(config)
    }

    fn apply_config(
        &mut self,
        config: crate::protocol::connection::Config,
    ) -> Result<(), TransportError> {
        if config.cid_len != self.config.cid_len {
            return Err(TransportError::internal("connection ID length is fixed"));
        }
        *self.streams =
            crate::protocol::stream::set::StreamSet::new(self.side, config.stream_config());
        if let Some(remembered) = *self.remembered_params {
            self.streams
                .set_peer_limits(crate::protocol::connection::config::limits_of(&remembered))?;
        }
        self.idle_timeout = config.idle_timeout();
        *self.config = config;
        Ok(())
    }

    /// Whether 1-RTT packets can be sent: the handshake completed, or (for
    /// a server) is about to.
    pub fn can_send_1rtt(&self) -> bool {
        self.keys.can_send(Level::OneRtt)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_app))]
mod tests {
    use super::*;
    use crate::protocol::connection::testing::{
        client, config, Pair, TestResult, CLIENT, CLIENT_ADDR, SERVER,
    };
    use core::time::Duration;

    #[test]
    fn refused_before_the_peer_allows() -> TestResult {
        let mut c = client()?;
        // No peer limits yet: no stream, no datagram.
        assert_eq!(c.stream_open(Dir::Bi), Err(StreamError::StreamLimit));
        assert_eq!(c.datagram_send(b"x"), Err(DatagramError::TooLarge));
        assert_eq!(
            c.request_key_update(),
            Err(CryptoError::KeyUpdateNotPermitted)
        );
        assert!(c.migrate(Instant::ZERO, CLIENT_ADDR).is_err());
        assert!(c.set_token(b"token").is_ok());
        Ok(())
    }

    #[test]
    fn remembered_parameters_allow_early_streams() -> TestResult {
        let mut c = client()?;
        let mut p = TransportParameters::DEFAULT;
        p.initial_max_streams_bidi = crate::protocol::varint::VarInt::from_u32(2);
        p.initial_max_data = crate::protocol::varint::VarInt::from_u32(1000);
        p.initial_max_stream_data_bidi_remote = crate::protocol::varint::VarInt::from_u32(1000);
        c.set_remembered_transport_parameters(&p)
            .map_err(|_| "remember")?;
        assert!(c.stream_open(Dir::Bi).is_ok());
        assert!(c.stream_open(Dir::Bi).is_ok());
        assert_eq!(c.stream_open(Dir::Bi), Err(StreamError::StreamLimit));
        Ok(())
    }

    #[test]
    fn settings_are_fixed_once_sent() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let c = p.conn(CLIENT)?;
        assert!(c.set_token(b"late").is_err());
        assert!(c.set_config(config()).is_err());
        let params = c.local_params();
        assert!(c.set_local_transport_parameters(&params).is_err());
        Ok(())
    }

    #[test]
    fn server_cannot_migrate() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        let now = p.now;
        assert_eq!(
            p.conn(SERVER)?.migrate(now, CLIENT_ADDR),
            Err(MigrationError::NotClient)
        );
        Ok(())
    }

    #[test]
    fn peer_connection_id_switch() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        p.run_for(Duration::from_millis(100))?;
        let c = p.conn(CLIENT)?;
        let before = c.remote_cid();
        c.set_active_peer_cid(1).map_err(|_| "switch")?;
        assert_ne!(c.remote_cid(), before);
        let mut seen = false;
        while let Some(e) = c.poll_event() {
            seen |= e == Event::ConnectionIdChanged { sequence: 1 };
        }
        assert!(seen);
        // The old ID is retired and the connection keeps working.
        p.run_for(Duration::from_millis(200))?;
        assert!(!p.conn(CLIENT)?.is_closed());
        Ok(())
    }
}
