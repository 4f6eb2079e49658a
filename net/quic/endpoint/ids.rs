// SPDX-License-Identifier: GPL-2.0

//! Connection IDs and stateless reset tokens of an endpoint.
//!
//! IDs are random. The reset token of an ID is `HKDF-Expand(key, label |
//! id, 16)` under a random static key of the endpoint (RFC 9000 §10.3.2),
//! so that the endpoint can recompute it for a datagram of a connection it
//! no longer has. Every connection of the endpoint derives its tokens from
//! that key ([`ConnIds`]).

use crate::protocol::cid::{reset::ResetToken, ConnectionId, Generator};
use kernel::{crypto::hkdf, prelude::*, random, sync::Arc};

/// The HKDF info prefix of stateless reset tokens.
const RESET_LABEL: &[u8] = b"linux quic reset token";

/// The length of the connection IDs this endpoint issues: short headers do
/// not carry it, so every connection of a tunnel uses the same.
pub(crate) const LOCAL_CID_LEN: usize = 16;

/// The endpoint's static reset key.
pub(crate) struct Ids {
    key: hkdf::Prk,
}

impl Ids {
    /// A fresh random key.
    pub(crate) fn new() -> Result<Self> {
        let mut secret: [u8; 32] = random::array();
        let key = hkdf::Prk::new(hkdf::Hash::Sha256, &secret);
        secret.fill(0);
        Ok(Self { key: key? })
    }

    /// A random connection ID of `len` bytes (at most 20).
    pub(crate) fn random_cid(len: usize) -> ConnectionId {
        let mut id = [0u8; ConnectionId::MAX_LEN];
        let id = &mut id[..len.min(ConnectionId::MAX_LEN)];
        random::fill_bytes(id);
        ConnectionId::from_slice(id).unwrap_or(ConnectionId::EMPTY)
    }

    /// The stateless reset token of `cid`.
    pub(crate) fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
        let mut info = [0u8; RESET_LABEL.len() + ConnectionId::MAX_LEN];
        let (label, id) = info.split_at_mut(RESET_LABEL.len());
        label.copy_from_slice(RESET_LABEL);
        id[..cid.len()].copy_from_slice(cid.as_slice());
        let mut token = [0u8; ResetToken::LEN];
        // Expanding 16 bytes cannot fail (at most 255 hash outputs).
        if self
            .key
            .expand(&info[..RESET_LABEL.len() + cid.len()], &mut token)
            .is_err()
        {
            random::fill_bytes(&mut token);
        }
        ResetToken::new(token)
    }
}

/// The connection ID generator of a connection of the endpoint.
pub(crate) struct ConnIds(Arc<Ids>);

impl ConnIds {
    /// A generator deriving reset tokens with `ids`' key.
    pub(crate) fn new(ids: Arc<Ids>) -> Self {
        Self(ids)
    }
}

impl Generator for ConnIds {
    fn new_cid(&mut self, len: usize) -> ConnectionId {
        Ids::random_cid(len)
    }

    fn reset_token(&self, cid: &ConnectionId) -> ResetToken {
        self.0.reset_token(cid)
    }
}

#[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
#[kernel::macros::kunit_tests(quic_endpoint_ids)]
mod tests {
    use super::*;

    #[test]
    fn reset_tokens_are_a_function_of_key_and_id() -> Result {
        let ids = Arc::new(Ids::new()?, GFP_KERNEL)?;
        let mut gen = ConnIds::new(ids.clone());
        let a = gen.new_cid(LOCAL_CID_LEN);
        let b = gen.new_cid(LOCAL_CID_LEN);
        assert_eq!(a.len(), LOCAL_CID_LEN);
        assert!(a != b);
        // The same ID gets the same token, from the endpoint and from its
        // connections; another ID or key another one.
        assert!(gen.reset_token(&a) == ids.reset_token(&a));
        assert!(ids.reset_token(&a) != ids.reset_token(&b));
        let other = Ids::new()?;
        assert!(other.reset_token(&a) != ids.reset_token(&a));
        // Zero-length and maximal IDs work too.
        assert_eq!(gen.new_cid(0).len(), 0);
        assert_eq!(
            gen.new_cid(ConnectionId::MAX_LEN).len(),
            ConnectionId::MAX_LEN
        );
        Ok(())
    }
}
