// SPDX-License-Identifier: GPL-2.0

//! Address validation tokens on a connection (RFC 9000 §8.1.3, §19.7).
//!
//! The connection never holds the key that seals tokens: the endpoint mints
//! them ([`crate::protocol::endpoint::token`]) and validates them when they
//! come back. Here:
//!
//! - a server sends the token its caller hands it
//!   ([`Connection::send_new_token`]) in a NEW_TOKEN frame, in 1-RTT packets
//!   once the handshake is confirmed, and sends it again if that packet is
//!   lost;
//! - a client keeps the last token received ([`Connection::new_token`],
//!   announced by [`Event::NewToken`]) for its caller to store, and puts the
//!   token its caller gives it ([`Connection::set_token`]) in the Initial
//!   packets of a later connection to the same server.
//!
//! [`Event::NewToken`]: crate::protocol::connection::Event::NewToken

use crate::protocol::alloc::GFP;
use crate::protocol::cid::Generator;
use crate::protocol::connection::builder::PacketBuilder;
use crate::protocol::connection::event::Event;
use crate::protocol::connection::record::SentFrame;
use crate::protocol::connection::Connection;
use crate::protocol::crypto::Provider;
use crate::protocol::error::TransportError;
use crate::protocol::frame::Frame;
use crate::protocol::packet::PacketKind;

/// The largest token a server sends: it must fit a packet with room to
/// spare (the endpoint's are under 64 bytes).
pub(crate) const MAX_NEW_TOKEN_LEN: usize = 512;

impl<P: Provider, G: Generator> Connection<P, G> {
    /// Sends `token` to the client in a NEW_TOKEN frame once the handshake
    /// is confirmed, for it to use in a later connection (server only).
    /// The endpoint mints it, bound to the client's address
    /// ([`crate::protocol::endpoint::token::issue`]), and unique: a frame
    /// is repeated only to repair its loss (RFC 9000 §8.1.3). A later call
    /// replaces a token not sent yet.
    pub fn send_new_token(&mut self, token: &[u8]) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.7
        //# A client MUST NOT send a NEW_TOKEN frame.
        if self.side.is_client() || self.state.is_closed() {
            return Err(TransportError::internal("NEW_TOKEN not allowed"));
        }
        // An empty token is a FRAME_ENCODING_ERROR for the client (§19.7).
        if token.is_empty() || token.len() > MAX_NEW_TOKEN_LEN {
            return Err(TransportError::internal("bad NEW_TOKEN length"));
        }
        self.new_token.clear();
        self.new_token.extend_from_slice(token, GFP)?;
        self.new_token_pending = true;
        Ok(())
    }

    /// Whether a NEW_TOKEN frame waits to be sent.
    pub(crate) fn new_token_due(&self) -> bool {
        self.new_token_pending && self.handshake.confirmed
    }

    /// Adds the pending NEW_TOKEN frame to a 1-RTT packet, if it fits.
    pub(crate) fn write_new_token(&mut self, buf: &mut [u8], b: &mut PacketBuilder) {
        if b.kind != PacketKind::OneRtt || !self.new_token_due() {
            return;
        }
        let frame = Frame::NewToken {
            token: &self.new_token,
        };
        if b.write(buf, frame.encoded_size(), |w| frame.encode(w)) {
            self.new_token_pending = false;
            b.ack_eliciting = true;
            self.record(b, SentFrame::NewToken);
        }
    }

    /// A packet carrying NEW_TOKEN was lost: send the token again (the
    /// latest one, if it was replaced meanwhile).
    pub(crate) fn on_new_token_lost(&mut self) {
        if !self.new_token.is_empty() {
            self.new_token_pending = true;
        }
    }

    /// A client received NEW_TOKEN: keep the token for the caller, unless it
    /// is the one already kept (a retransmission).
    pub(crate) fn on_new_token(&mut self, token: &[u8]) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.7
        //# Clients are responsible for discarding duplicate values, which might be used
        //# to link connection attempts
        if self.new_token.as_slice() == token {
            return Ok(());
        }
        self.new_token.clear();
        self.new_token.extend_from_slice(token, GFP)?;
        self.events.push(Event::NewToken);
        Ok(())
    }

    /// The token to put in all Initial packets: one from NEW_TOKEN of an
    /// earlier connection to the same server (`QUIC_SOCKOPT_TOKEN`), best
    /// used once (RFC 9000 §8.1.3). Client only, before the first packet
    /// is sent; a Retry replaces it.
    pub fn set_token(&mut self, token: &[u8]) -> Result<(), TransportError> {
        if self.side.is_server() || self.spaces.iter().any(|s| s.next_pn > 0) {
            return Err(TransportError::internal("token too late"));
        }
        self.token.clear();
        self.token.extend_from_slice(token, GFP)?;
        Ok(())
    }

    /// The last NEW_TOKEN the server sent, for a future connection
    /// (client).
    pub fn new_token(&self) -> Option<&[u8]> {
        if self.side.is_server() {
            return None;
        }
        (!self.new_token.is_empty()).then_some(self.new_token.as_slice())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_token))]
mod tests {
    use super::*;
    use crate::protocol::alloc::Vec;
    use crate::protocol::connection::testing::{client, config, Pair, TestResult, CLIENT, SERVER};
    use crate::protocol::error::TransportErrorCode;
    use core::time::Duration;

    const TOKEN: &[u8] = b"a token from the endpoint";

    #[test]
    fn the_client_receives_the_token_after_the_handshake() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        // Queued early, sent only once the handshake is confirmed.
        p.conn(SERVER)?.send_new_token(TOKEN).map_err(|_| "send")?;
        assert!(!p.conn(SERVER)?.new_token_due());
        p.handshake()?;
        p.run_until(Duration::from_secs(1), |p| p.saw(CLIENT, &Event::NewToken))?;
        assert_eq!(p.conn(CLIENT)?.new_token(), Some(TOKEN));
        // The server keeps the token to itself.
        assert_eq!(p.conn(SERVER)?.new_token(), None);
        assert!(!p.conn(SERVER)?.new_token_due());
        Ok(())
    }

    #[test]
    fn a_lost_token_is_sent_again() -> TestResult {
        let mut p = Pair::new(config(), config())?;
        p.handshake()?;
        // The packet carrying the token is lost.
        p.blackhole[CLIENT] = true;
        p.conn(SERVER)?.send_new_token(TOKEN).map_err(|_| "send")?;
        p.run_for(Duration::from_millis(5))?;
        assert!(!p.conn(SERVER)?.new_token_due());
        p.blackhole[CLIENT] = false;
        // Only a retransmission can bring it now.
        p.run_until(Duration::from_secs(5), |p| p.saw(CLIENT, &Event::NewToken))?;
        assert_eq!(p.conn(CLIENT)?.new_token(), Some(TOKEN));
        Ok(())
    }

    #[test]
    fn a_repeated_token_is_reported_once() -> TestResult {
        let mut c = client()?;
        c.on_new_token(TOKEN).map_err(|_| "token")?;
        c.on_new_token(TOKEN).map_err(|_| "token")?;
        assert_eq!(c.poll_event(), Some(Event::NewToken));
        assert_eq!(c.poll_event(), None);
        c.on_new_token(b"another").map_err(|_| "token")?;
        assert_eq!(c.poll_event(), Some(Event::NewToken));
        assert_eq!(c.new_token(), Some(&b"another"[..]));
        Ok(())
    }

    #[test]
    fn only_a_server_sends_tokens_and_never_empty_ones() -> TestResult {
        let mut c = client()?;
        let err = c.send_new_token(TOKEN).map_err(|e| e.code);
        assert_eq!(err, Err(TransportErrorCode::INTERNAL_ERROR));
        let mut long = Vec::new();
        long.extend_with(MAX_NEW_TOKEN_LEN + 1, 0u8, GFP)
            .map_err(|_| "alloc")?;
        let mut p = Pair::new(config(), config())?;
        let s = p.conn(SERVER)?;
        assert!(s.send_new_token(&[]).is_err());
        assert!(s.send_new_token(&long).is_err());
        long.truncate(MAX_NEW_TOKEN_LEN);
        assert!(s.send_new_token(&long).is_ok());
        Ok(())
    }

    #[test]
    fn a_client_token_goes_in_its_initial_packets_only_before_sending() -> TestResult {
        let mut c = client()?;
        c.set_token(TOKEN).map_err(|_| "set")?;
        c.crypto_send(crate::protocol::crypto::Level::Initial, b"hello")
            .map_err(|_| "send")?;
        let mut buf = Vec::new();
        buf.extend_with(1500, 0u8, GFP).map_err(|_| "alloc")?;
        c.poll_transmit(crate::protocol::time::Instant::ZERO, &mut buf)
            .ok_or("nothing sent")?;
        // The token follows the connection IDs of the long header.
        let found = buf.windows(TOKEN.len()).any(|w| w == TOKEN);
        assert!(found);
        assert!(c.set_token(b"late").is_err());
        Ok(())
    }
}
