// SPDX-License-Identifier: GPL-2.0

//! Session tickets sealed with the kernel's ticket key.
//!
//! getsockopt(`QUIC_SOCKOPT_SESSION_TICKET`) on a listener, or a socket it
//! accepted, returns the listener's ticket key (`shared/spec/uapi-abi.md`).
//! Keying rustls' ticketer from it lets every handshake on that listener,
//! in this process or another one, resume the others' sessions, instead
//! of each server configuration sealing tickets with a random key of its
//! own.
//!
//! A ticket is `nonce (12) || AES-256-GCM(plaintext) || tag (16)`, under a
//! key derived from the kernel's with HKDF-SHA256 (RFC 5869), so that any
//! key length works and the raw key is used for nothing else.

use crate::socket::Socket;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use std::io;
use std::sync::Arc;

/// The HKDF info of the ticket sealing key.
const INFO: &[u8] = b"linux quic session ticket key";

/// The lifetime clients are told. The key lives as long as the kernel's
/// listener: no rotation here, so keep the hint short.
const LIFETIME_SECS: u32 = 12 * 60 * 60;

/// A [`rustls::server::ProducesTickets`] sealing tickets with a key
/// derived from the kernel's ticket key.
pub struct KernelTicketer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl fmt::Debug for KernelTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KernelTicketer")
    }
}

struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        AES_256_GCM.key_len()
    }
}

impl KernelTicketer {
    /// A ticketer for the kernel's ticket key `kernel_key`; `None` if it
    /// is empty.
    pub fn new(kernel_key: &[u8]) -> Option<Self> {
        if kernel_key.is_empty() {
            return None;
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(kernel_key);
        let mut key = [0u8; 32];
        prk.expand(&[INFO], KeyLen).ok()?.fill(&mut key).ok()?;
        let key = UnboundKey::new(&AES_256_GCM, &key).ok()?;
        Some(Self {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }
}

/// The ticketer for the listener `sock` was accepted on, from
/// getsockopt(SESSION_TICKET); `None` if the kernel has no key.
pub fn kernel_ticketer<S: Socket>(sock: &S) -> io::Result<Option<Arc<KernelTicketer>>> {
    let mut key = [0u8; 256];
    let n = sock.session_ticket(&mut key)?;
    Ok(KernelTicketer::new(key.get(..n).unwrap_or(&[])).map(Arc::new))
}

impl rustls::server::ProducesTickets for KernelTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        LIFETIME_SECS
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut body)
            .ok()?;
        out.extend_from_slice(&body);
        Some(out)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let (nonce, sealed) = ticket.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::server::ProducesTickets;

    #[test]
    fn tickets_open_only_under_the_same_kernel_key() {
        let a = KernelTicketer::new(&[1; 64]).expect("key");
        let b = KernelTicketer::new(&[1; 64]).expect("key");
        let c = KernelTicketer::new(&[2; 64]).expect("key");
        let t = a.encrypt(b"session state").expect("sealed");
        assert_eq!(t.len(), NONCE_LEN + 13 + 16);
        assert_eq!(b.decrypt(&t).as_deref(), Some(&b"session state"[..]));
        assert_eq!(c.decrypt(&t), None);
        // Two tickets of the same state differ (fresh nonces).
        assert_ne!(a.encrypt(b"session state"), Some(t.clone()));
        // Tampering, truncation and garbage fail without panicking.
        let mut bad = t.clone();
        bad[NONCE_LEN] ^= 1;
        assert_eq!(a.decrypt(&bad), None);
        for n in 0..t.len() {
            assert_eq!(a.decrypt(&t[..n]), None);
        }
        assert!(KernelTicketer::new(&[]).is_none());
    }
}
