// SPDX-License-Identifier: GPL-2.0

//! Our side: a client with one connection driven by rustls
//! (`quic_test_support::endpoint`), or a server endpoint
//! (`quic_test_support::server`): the core's router in front of the
//! connections, driven as the kernel's socket glue drives it. The server
//! hands its clients a NEW_TOKEN token once the handshake is confirmed if
//! [`Setup::new_tokens`] is set; our client presents [`Setup::token`].

use crate::peer::{Closed, Outgoing, Peer, Stack, WriteError, EXPORTER_LABEL};
use crate::setup::{Setup, SERVER_ADDR};
use quic_protocol::protocol::ack::EcnCodepoint;
use quic_protocol::protocol::connection::{CloseCause, Event};
use quic_protocol::protocol::path::SocketAddr;
use quic_protocol::protocol::stream::{Dir, StreamError, StreamId, StreamState};
use quic_protocol::protocol::time::Instant;
use quic_test_support::cid::Gen;
use quic_test_support::endpoint::{Conn, Endpoint};
use quic_test_support::server::Server;
use quic_test_support::tls::TlsConfigs;

/// Our client, or our server endpoint.
pub struct OurPeer {
    /// The client's connection.
    client: Option<Endpoint>,
    server: Option<Server>,
    local: SocketAddr,
    buf: Vec<u8>,
}

impl OurPeer {
    /// A client at `local` that has written its ClientHello to the server.
    pub fn client(setup: &Setup, tls: &TlsConfigs, local: SocketAddr, now: Instant) -> Self {
        let mut ep = Endpoint::connect(
            setup.ours(false),
            Gen::new(setup.seed.wrapping_mul(31)),
            now,
            local,
            SERVER_ADDR,
            &tls.client,
            setup.remembered.as_ref(),
        )
        .expect("connect");
        if let Some(token) = &setup.token {
            ep.conn.set_token(token).expect("token");
        }
        Self {
            client: Some(ep),
            server: None,
            local,
            buf: vec![0u8; 64 * 1024],
        }
    }

    /// A server endpoint listening on [`SERVER_ADDR`] for the test ALPN.
    pub fn server(setup: &Setup, tls: &TlsConfigs) -> Self {
        let mut server = Server::new(
            SERVER_ADDR,
            setup.ours(true),
            setup.retry,
            tls.server.clone(),
            setup.seed,
        );
        server.set_new_tokens(setup.new_tokens);
        Self {
            client: None,
            server: Some(server),
            local: SERVER_ADDR,
            buf: vec![0u8; 64 * 1024],
        }
    }

    /// The connection: the client's, or the server's newest (live or
    /// freed after draining).
    fn ep(&self) -> Option<&Endpoint> {
        match &self.server {
            Some(s) => s.connection(s.newest()?),
            None => self.client.as_ref(),
        }
    }

    fn ep_mut(&mut self) -> Option<&mut Endpoint> {
        match &mut self.server {
            Some(s) => {
                let newest = s.newest()?;
                s.connection_mut(newest)
            }
            None => self.client.as_mut(),
        }
    }

    /// The endpoint of the connection; panics before it exists.
    pub fn endpoint(&self) -> &Endpoint {
        self.ep().expect("no connection yet")
    }

    /// Mutable access to the endpoint of the connection.
    pub fn endpoint_mut(&mut self) -> &mut Endpoint {
        self.ep_mut().expect("no connection yet")
    }

    /// Whether the application saw `event`.
    pub fn saw(&self, event: &Event) -> bool {
        self.ep().is_some_and(|e| e.saw(event))
    }

    /// The 1-RTT key phases reported, in order.
    pub fn key_phases(&self) -> Vec<bool> {
        self.ep().map_or(Vec::new(), |e| {
            e.events
                .iter()
                .filter_map(|e| match *e {
                    Event::KeyUpdate { phase } => Some(phase),
                    _ => None,
                })
                .collect()
        })
    }

    /// The last NEW_TOKEN token our client received.
    pub fn new_token(&self) -> Option<Vec<u8>> {
        self.client.as_ref()?.conn.new_token().map(<[u8]>::to_vec)
    }

    fn conn_mut(&mut self) -> Option<&mut Conn> {
        self.ep_mut().map(|e| &mut *e.conn)
    }
}

fn stream_id(id: u64) -> StreamId {
    StreamId::from_u64(id).expect("stream ID")
}

impl Peer for OurPeer {
    fn stack(&self) -> Stack {
        Stack::Ours
    }

    fn local_addr(&self) -> SocketAddr {
        self.ep().map_or(self.local, |e| e.addr)
    }

    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ecn: EcnCodepoint,
        bytes: &[u8],
    ) {
        if let Some(s) = self.server.as_mut() {
            s.handle_datagram(now, local, remote, ecn, bytes);
        } else if let Some(ep) = self.client.as_mut() {
            let mut bytes = bytes.to_vec();
            ep.conn.handle_datagram(now, local, remote, ecn, &mut bytes);
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing> {
        if let Some(s) = self.server.as_mut() {
            return s.poll_transmit(now);
        }
        let ep = self.client.as_mut()?;
        let t = ep.conn.poll_transmit(now, &mut self.buf)?;
        // One datagram at a time: `max_gso_segments` is 1.
        assert!(t.segment_size.is_none_or(|s| s >= t.len));
        Some(Outgoing {
            from: t.local,
            to: t.remote,
            ecn: t.ecn,
            bytes: self.buf[..t.len].to_vec(),
        })
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        match &self.server {
            Some(s) => s.poll_timeout(),
            None => self.client.as_ref().and_then(|e| e.conn.poll_timeout()),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(s) = self.server.as_mut() {
            s.handle_timeout(now);
        } else if let Some(ep) = self.client.as_mut() {
            ep.conn.handle_timeout(now);
        }
    }

    fn drive(&mut self, now: Instant) {
        if let Some(s) = self.server.as_mut() {
            s.drive(now);
        } else if let Some(ep) = self.client.as_mut() {
            ep.drive_tls(now);
            ep.drive_app(now);
        }
    }

    fn is_established(&self) -> bool {
        self.ep()
            .is_some_and(|e| e.conn.is_handshake_confirmed() && !e.conn.is_closed())
    }

    fn closed(&self) -> Option<Closed> {
        let err = self.ep()?.conn.close_error()?;
        Some(match (err.cause, err.application) {
            (CloseCause::IdleTimeout, _) => Closed::IdleTimeout,
            (CloseCause::ConnectionClose, true) => Closed::Application {
                code: err.code,
                by_peer: err.by_peer,
            },
            (CloseCause::ConnectionClose, false) => Closed::Transport {
                code: err.code,
                by_peer: err.by_peer,
            },
            _ => Closed::Other,
        })
    }

    fn is_drained(&self) -> bool {
        self.ep().is_some_and(|e| e.conn.is_drained())
    }

    fn alpn(&self) -> Option<Vec<u8>> {
        self.ep()?.tls.alpn_protocol().map(<[u8]>::to_vec)
    }

    fn exporter(&self) -> Option<Vec<u8>> {
        let ep = self.ep()?;
        ep.tls
            .export_keying_material(vec![0u8; 32], EXPORTER_LABEL, None)
            .ok()
    }

    fn accepted_0rtt(&self) -> bool {
        let Some(ep) = self.ep() else {
            return false;
        };
        match &ep.tls {
            rustls::quic::Connection::Client(c) => {
                ep.early_keys_installed() && c.is_early_data_accepted()
            }
            rustls::quic::Connection::Server(_) => ep.early_keys_installed(),
        }
    }

    fn connections(&self) -> usize {
        match &self.server {
            Some(s) => usize::try_from(s.stats.accepted).unwrap_or(usize::MAX),
            None => 1,
        }
    }

    fn retries_sent(&self) -> usize {
        self.server.as_ref().map_or(0, |s| {
            usize::try_from(s.stats.retries).unwrap_or(usize::MAX)
        })
    }

    fn open(&mut self, bidi: bool) -> Option<u64> {
        let dir = if bidi { Dir::Bi } else { Dir::Uni };
        self.conn_mut()?
            .stream_open(dir)
            .ok()
            .map(StreamId::into_inner)
    }

    fn write(&mut self, id: u64, data: &[u8]) -> Result<usize, WriteError> {
        let conn = self.conn_mut().ok_or(WriteError::Invalid)?;
        match conn.stream_write(stream_id(id), data, false) {
            Ok(0) if !data.is_empty() => Err(WriteError::Blocked),
            Ok(n) => Ok(n),
            Err(StreamError::Blocked) => Err(WriteError::Blocked),
            Err(StreamError::Stopped(code)) => Err(WriteError::Stopped(code)),
            Err(_) => Err(WriteError::Invalid),
        }
    }

    fn finish(&mut self, id: u64) {
        if let Some(c) = self.conn_mut() {
            c.stream_finish(stream_id(id)).expect("finish");
        }
    }

    fn reset(&mut self, id: u64, code: u64) {
        if let Some(c) = self.conn_mut() {
            c.stream_reset(stream_id(id), code).expect("reset");
        }
    }

    fn stop_sending(&mut self, id: u64, code: u64) {
        if let Some(c) = self.conn_mut() {
            c.stream_stop_sending(stream_id(id), code)
                .expect("stop sending");
        }
    }

    fn received_ids(&self) -> Vec<u64> {
        self.ep()
            .map_or(Vec::new(), |e| e.received.keys().copied().collect())
    }

    fn received(&self, id: u64) -> Option<(&[u8], bool)> {
        let (data, fin) = self.ep()?.received.get(&id)?;
        Some((data.as_slice(), *fin))
    }

    fn reset_received(&self, id: u64) -> Option<u64> {
        let ep = self.ep()?;
        ep.resets.iter().find(|r| r.0 == id).map(|r| r.1)
    }

    fn stop_sending_received(&self, id: u64) -> Option<u64> {
        self.ep()?.events.iter().find_map(|e| match e {
            Event::StreamUpdate(u)
                if u.id.into_inner() == id && u.state == StreamState::SendResetSent =>
            {
                Some(u.errcode)
            }
            _ => None,
        })
    }

    fn set_reading(&mut self, on: bool) {
        if let Some(ep) = self.ep_mut() {
            ep.reading = on;
        }
    }

    fn send_datagram(&mut self, data: &[u8]) -> bool {
        self.conn_mut()
            .is_some_and(|c| c.datagram_send(data).is_ok())
    }

    fn max_datagram(&mut self) -> Option<usize> {
        self.ep()?.conn.datagram_max_size()
    }

    fn datagrams(&self) -> &[Vec<u8>] {
        self.ep().map_or(&[], |e| e.datagrams.as_slice())
    }

    fn key_update(&mut self) -> bool {
        self.conn_mut()
            .is_some_and(|c| c.request_key_update().is_ok())
    }

    fn migrate(&mut self, now: Instant, local: SocketAddr) -> bool {
        let Some(ep) = self.ep_mut() else {
            return false;
        };
        if ep.conn.migrate(now, local).is_err() {
            return false;
        }
        ep.addr = local;
        self.local = local;
        true
    }

    fn close(&mut self, now: Instant, code: u64) {
        if let Some(c) = self.conn_mut() {
            c.close(now, code, 0, b"interop", true);
        }
    }

    fn as_ours(&self) -> Option<&OurPeer> {
        Some(self)
    }

    fn as_ours_mut(&mut self) -> Option<&mut OurPeer> {
        Some(self)
    }
}
