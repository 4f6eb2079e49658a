// SPDX-License-Identifier: GPL-2.0

//! Stateless reset (RFC 9000 §10.3).
//!
//! A stateless reset token is a 16-byte secret bound to one connection ID.
//! Receiving a datagram that ends in the token of a connection ID in use
//! means the peer lost the connection's state: the connection enters the
//! draining period. An endpoint that receives a packet it cannot associate
//! with a connection may answer with a stateless reset: a datagram shaped
//! like a short-header packet whose last 16 bytes are the token for the
//! packet's Destination Connection ID.
//!
//! Tokens are compared in constant time so that timing does not leak them.

use core::hint::black_box;

/// A stateless reset token.
///
/// Equality runs in constant time.
#[derive(Clone, Copy, Eq)]
pub struct ResetToken([u8; ResetToken::LEN]);

impl ResetToken {
    /// The size of a token in bytes.
    pub const LEN: usize = 16;

    /// Wraps token bytes.
    pub const fn new(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// The token's bytes.
    pub const fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// Compares with `other` without branching on the contents.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-10.3.1
    //# When comparing a datagram to stateless reset token values, endpoints
    //# MUST perform the comparison without leaking information about the
    //# value of the token.
    pub fn ct_eq(&self, other: &[u8; Self::LEN]) -> bool {
        let diff = self
            .0
            .iter()
            .zip(other.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        black_box(diff) == 0
    }
}

impl PartialEq for ResetToken {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(&other.0)
    }
}

impl core::fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // A token lets anyone close the connection: keep it out of logs.
        f.write_str("ResetToken(..)")
    }
}

/// The smallest datagram that can be a stateless reset: 5 bytes that look
/// like a short header (2 fixed bits and 38 unpredictable bits) then the
/// token.
pub const MIN_STATELESS_RESET_LEN: usize = 5 + ResetToken::LEN;

/// The smallest stateless reset this endpoint sends. Smaller ones might be
/// told apart from ordinary packets by an observer.
//= https://www.rfc-editor.org/rfc/rfc9000#section-10.3.3
//# A Stateless Reset that is smaller than 41 bytes might be identifiable as a
//# Stateless Reset by an observer, depending upon the length of the peer's
//# connection IDs.
pub const MIN_SENT_STATELESS_RESET_LEN: usize = 41;

/// The trailing 16 bytes of `datagram`, the place a stateless reset token
/// would be, or `None` if the datagram is too short to be a stateless reset.
///
/// No header bit is checked: any packet ending in a valid token is a reset.
//= https://www.rfc-editor.org/rfc/rfc9000#section-10.3
//# endpoints MUST treat any packet ending in a valid stateless reset token
//# as a Stateless Reset, as other QUIC versions might allow the use of a
//# long header.
pub fn token_candidate(datagram: &[u8]) -> Option<&[u8; ResetToken::LEN]> {
    if datagram.len() < MIN_STATELESS_RESET_LEN {
        return None;
    }
    let tail = datagram.get(datagram.len() - ResetToken::LEN..)?;
    tail.try_into().ok()
}

/// Why no stateless reset was built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetNotSent {
    /// The triggering packet is too small to answer without the reset being
    /// either recognisable (under 41 bytes) or not smaller than it (§10.3.3).
    TriggerTooSmall,
    /// `unpredictable` or `out` cannot make a reset of the minimum size.
    NotEnoughRoom,
}

/// Writes a stateless reset answering a datagram of `trigger_len` bytes and
/// returns its length.
///
/// The reset is one byte shorter than the trigger, bounded by `out` and by
/// the `unpredictable` bytes the caller supplies (random, at least 25 of
/// them): those fill everything but the two fixed header bits and the
/// token. It is never shorter than [`MIN_SENT_STATELESS_RESET_LEN`], so no
/// reset answers a datagram of 41 bytes or less. Being smaller than its
/// trigger, it can neither amplify nor loop.
pub fn encode_stateless_reset(
    token: &ResetToken,
    trigger_len: usize,
    unpredictable: &[u8],
    out: &mut [u8],
) -> Result<usize, ResetNotSent> {
    //= https://www.rfc-editor.org/rfc/rfc9000#section-10.3.3
    //# An endpoint MUST ensure that every Stateless Reset that it sends is
    //# smaller than the packet that triggered it
    let Some(len) = trigger_len.checked_sub(1) else {
        return Err(ResetNotSent::TriggerTooSmall);
    };
    if len < MIN_SENT_STATELESS_RESET_LEN {
        return Err(ResetNotSent::TriggerTooSmall);
    }
    let len = len
        .min(out.len())
        .min(unpredictable.len().saturating_add(ResetToken::LEN));
    if len < MIN_SENT_STATELESS_RESET_LEN {
        return Err(ResetNotSent::NotEnoughRoom);
    }
    let random_len = len - ResetToken::LEN;
    let (head, tail) = out[..len].split_at_mut(random_len);
    head.copy_from_slice(&unpredictable[..random_len]);
    // Header Form 0 and Fixed Bit 1: it looks like a short-header packet.
    head[0] = 0x40 | (head[0] & 0x3f);
    tail.copy_from_slice(token.as_bytes());
    Ok(len)
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_cid_reset))]
mod tests {
    use super::*;

    const TOKEN: ResetToken = ResetToken::new([0xa5; 16]);

    #[test]
    fn constant_time_equality() {
        let mut other = [0xa5; 16];
        assert!(TOKEN.ct_eq(&other));
        other[15] ^= 1;
        assert!(!TOKEN.ct_eq(&other));
        assert!(TOKEN != ResetToken::new(other));
        assert!(TOKEN == ResetToken::new([0xa5; 16]));
    }

    #[test]
    fn candidate_needs_a_minimum_size() {
        let mut datagram = [0u8; MIN_STATELESS_RESET_LEN];
        datagram[5..].copy_from_slice(TOKEN.as_bytes());
        assert_eq!(token_candidate(&datagram), Some(TOKEN.as_bytes()));
        assert_eq!(token_candidate(&datagram[1..]), None);
        assert_eq!(token_candidate(&[]), None);
        assert_eq!(token_candidate(&[0xa5; 16]), None);
    }

    #[test]
    fn reset_is_one_byte_smaller_than_its_trigger() {
        let random = [0xff; 100];
        let mut out = [0u8; 200];
        assert_eq!(
            encode_stateless_reset(&TOKEN, 60, &random, &mut out),
            Ok(59)
        );
        // Short header shape: form bit clear, fixed bit set.
        assert_eq!(out[0], 0x7f);
        assert_eq!(&out[1..43], &random[1..43]);
        assert_eq!(token_candidate(&out[..59]), Some(TOKEN.as_bytes()));
    }

    #[test]
    fn reset_size_limits() {
        let random = [0x11; 100];
        let mut out = [0u8; 200];
        // Never answer 41 bytes or less; 42 gets the 41-byte minimum.
        assert_eq!(
            encode_stateless_reset(&TOKEN, 41, &random, &mut out),
            Err(ResetNotSent::TriggerTooSmall)
        );
        assert_eq!(
            encode_stateless_reset(&TOKEN, 0, &random, &mut out),
            Err(ResetNotSent::TriggerTooSmall)
        );
        assert_eq!(
            encode_stateless_reset(&TOKEN, 42, &random, &mut out),
            Ok(41)
        );
        assert_eq!(out[0], 0x51);
        // Bounded by the random bytes supplied and by the buffer.
        assert_eq!(
            encode_stateless_reset(&TOKEN, 1500, &random, &mut out),
            Ok(116)
        );
        assert_eq!(
            encode_stateless_reset(&TOKEN, 1500, &random, &mut out[..50]),
            Ok(50)
        );
        assert_eq!(
            encode_stateless_reset(&TOKEN, 1500, &random[..24], &mut out),
            Err(ResetNotSent::NotEnoughRoom)
        );
        assert_eq!(
            encode_stateless_reset(&TOKEN, 1500, &random, &mut out[..40]),
            Err(ResetNotSent::NotEnoughRoom)
        );
    }
}
