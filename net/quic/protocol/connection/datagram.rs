// SPDX-License-Identifier: GPL-2.0

//! DATAGRAM frame queues (RFC 9221).
//!
//! Datagrams are unreliable: a received one waits to be read, a queued one
//! to be sent, and both queues are bounded. A full receive queue drops the
//! newest datagram (§5: "an endpoint MAY drop"); a full send queue refuses
//! new ones. Lost datagrams are never sent again.

use crate::protocol::alloc::{Vec, GFP};

/// The two DATAGRAM queues of a connection.
#[derive(Debug)]
pub(crate) struct Datagrams {
    recv: Vec<Vec<u8>>,
    send: Vec<Vec<u8>>,
    recv_max: usize,
    send_max: usize,
}

/// Why a datagram was not queued for sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatagramError {
    /// The peer does not accept DATAGRAM frames, or not this large.
    TooLarge,
    /// The send queue is full: try again once it drains.
    Blocked,
    /// Out of memory.
    OutOfMemory,
}

impl Datagrams {
    pub(crate) const fn new(recv_max: usize, send_max: usize) -> Self {
        Self {
            recv: Vec::new(),
            send: Vec::new(),
            recv_max,
            send_max,
        }
    }

    /// Keeps a received datagram. Returns whether it was kept.
    pub(crate) fn on_received(&mut self, data: &[u8]) -> bool {
        if self.recv.len() >= self.recv_max {
            return false;
        }
        let mut copy = Vec::new();
        if copy.extend_from_slice(data, GFP).is_err() {
            return false;
        }
        self.recv.push(copy, GFP).is_ok()
    }

    /// The length of the oldest received datagram, if any.
    pub(crate) fn recv_len(&self) -> Option<usize> {
        self.recv.first().map(|d| d.len())
    }

    /// Reads the oldest received datagram into `out`; returns its length,
    /// truncated to `out`.
    pub(crate) fn recv(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.recv.is_empty() {
            return None;
        }
        let d = self.recv.remove(0).ok()?;
        let n = d.len().min(out.len());
        out.get_mut(..n)?.copy_from_slice(d.get(..n)?);
        Some(n)
    }

    /// Queues a datagram for sending.
    pub(crate) fn send(&mut self, data: &[u8]) -> Result<(), DatagramError> {
        if self.send.len() >= self.send_max {
            return Err(DatagramError::Blocked);
        }
        let mut copy = Vec::new();
        copy.extend_from_slice(data, GFP)
            .map_err(|_| DatagramError::OutOfMemory)?;
        self.send
            .push(copy, GFP)
            .map_err(|_| DatagramError::OutOfMemory)
    }

    pub(crate) fn is_send_empty(&self) -> bool {
        self.send.is_empty()
    }

    /// The length of the next datagram to send.
    pub(crate) fn front_len(&self) -> Option<usize> {
        self.send.first().map(|d| d.len())
    }

    /// Copies the next datagram to send into `out` (its length).
    pub(crate) fn copy_front(&self, out: &mut [u8]) {
        if let Some(d) = self.send.first() {
            let n = d.len().min(out.len());
            if let (Some(dst), Some(src)) = (out.get_mut(..n), d.get(..n)) {
                dst.copy_from_slice(src);
            }
        }
    }

    pub(crate) fn pop_front(&mut self) {
        if !self.send.is_empty() {
            let _ = self.send.remove(0);
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_connection_datagram))]
mod tests {
    use super::*;

    #[test]
    fn bounded_queues() {
        let mut d = Datagrams::new(1, 1);
        assert!(d.on_received(b"one"));
        assert!(!d.on_received(b"two"));
        let mut out = [0u8; 2];
        assert_eq!(d.recv(&mut out), Some(2));
        assert_eq!(&out, b"on");
        assert_eq!(d.recv(&mut out), None);
        assert_eq!(d.send(b"abc"), Ok(()));
        assert_eq!(d.send(b"x"), Err(DatagramError::Blocked));
        assert_eq!(d.front_len(), Some(3));
        let mut buf = [0u8; 3];
        d.copy_front(&mut buf);
        assert_eq!(&buf, b"abc");
        d.pop_front();
        assert!(d.is_send_empty());
    }
}
