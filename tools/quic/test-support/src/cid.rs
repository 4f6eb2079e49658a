// SPDX-License-Identifier: GPL-2.0

//! The connection ID generator handed to our connections: IDs from a
//! seeded RNG, reset tokens a keyed function of the ID (like the kernel's
//! static reset key).

use crate::rng::Rng;
use quic_protocol::protocol::cid::reset::ResetToken;
use quic_protocol::protocol::cid::{ConnectionId, Generator};

/// Connection IDs from a seeded RNG.
#[derive(Debug)]
pub struct Gen {
    rng: Rng,
    key: u64,
}

impl Gen {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            key: seed.rotate_left(7) ^ 0x5bd1_e995,
        }
    }
}

impl Gen {
    /// A generator for one connection of an endpoint: its own stream of
    /// IDs, the endpoint's reset key, so that the endpoint can answer a
    /// packet for any of its connection IDs with the right stateless
    /// reset token.
    pub fn fork(&mut self) -> Self {
        Self {
            rng: Rng::new(self.rng.next_u64()),
            key: self.key,
        }
    }
}

impl Generator for Gen {
    fn new_cid(&mut self, len: usize) -> ConnectionId {
        let bytes: [u8; 24] = self.rng.bytes();
        ConnectionId::from_slice(&bytes[..len.min(ConnectionId::MAX_LEN)]).expect("length")
    }

    fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
        let mut h = self.key;
        for b in cid.as_slice() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x1000_0000_01b3);
        }
        let mut t = [0u8; 16];
        t[..8].copy_from_slice(&h.to_be_bytes());
        t[8..].copy_from_slice(&h.rotate_left(29).to_be_bytes());
        ResetToken::new(t)
    }
}
