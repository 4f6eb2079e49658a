// SPDX-License-Identifier: GPL-2.0

//! AEAD over the crypto library: no transform, no allocation, any context.
//!
//! A [`LibAead`] is a key prepared for one [`AeadAlgorithm`]:
//!
//! - AES-GCM over `aes_gcm_preparekey()`, `aes_gcm_encrypt()` and
//!   `aes_gcm_decrypt()` (arch-accelerated AES and GHASH where available);
//! - AES-CCM over `aes_ccm_preparekey()`, `aes_ccm_encrypt()` and
//!   `aes_ccm_decrypt()`, with a 12-byte nonce;
//! - ChaCha20-Poly1305 as RFC 8439 §2.8 builds it from the library's ChaCha20
//!   (`chacha_init()`, `chacha_crypt()`) and Poly1305 (`poly1305_init()`,
//!   `poly1305_update()`, `poly1305_final()`), with a 96-bit nonce. (The
//!   library's `chacha20poly1305_encrypt()` takes a 64-bit nonce, which does
//!   not fit QUIC, RFC 9001 §5.3.)
//!
//! It seals and opens in place over byte slices: the buffer is the plaintext
//! followed by [`AEAD_TAG_LEN`] bytes of room for the tag, or the ciphertext
//! followed by the tag; the associated data (a packet header) is a separate
//! slice.
//!
//! # Contexts
//!
//! Every function runs in any context, including hard and soft interrupts:
//! the library takes plain pointers (no scatterlists, so any memory, the
//! stack included), allocates nothing and does not sleep. A prepared key is a
//! few hundred bytes: owners that create keys on a receive path box it with
//! `GFP_ATOMIC`.
//!
//! Key material is zeroed when a [`LibAead`] is dropped.
//!
//! C headers: [`include/crypto/aes-gcm.h`](srctree/include/crypto/aes-gcm.h),
//! [`include/crypto/aes-ccm.h`](srctree/include/crypto/aes-ccm.h),
//! [`include/crypto/chacha.h`](srctree/include/crypto/chacha.h),
//! [`include/crypto/poly1305.h`](srctree/include/crypto/poly1305.h).

use super::{zeroize, zeroize_value, AeadAlgorithm, AEAD_NONCE_LEN, AEAD_TAG_LEN};
use crate::{
    alloc::{Flags, KBox},
    bindings,
    error::{code::*, Result},
    ffi::c_int,
};

/// The ChaCha20-Poly1305 key length.
const CHACHA20_POLY1305_KEY_LEN: usize = bindings::CHACHA_KEY_SIZE as usize;

/// The key prepared for one algorithm.
enum Key {
    Gcm(bindings::aes_gcm_key),
    Ccm(bindings::aes_ccm_key),
    /// The ChaCha20 key as the little-endian words of the ChaCha state.
    ChaCha20Poly1305([u32; 8]),
}

/// A key prepared for an [`AeadAlgorithm`] of the crypto library.
///
/// # Invariants
///
/// `key` is the variant of `alg`. A `Gcm` key was prepared by a successful
/// `aes_gcm_preparekey()` and a `Ccm` key by a successful
/// `aes_ccm_preparekey()`, both with an [`AEAD_TAG_LEN`]-byte tag.
pub struct LibAead {
    key: Key,
    alg: AeadAlgorithm,
}

/// The direction of an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Seal,
    Open,
}

impl LibAead {
    /// Prepares `key` for `alg`.
    ///
    /// Fails with `EINVAL` if the key length does not suit the algorithm
    /// (16, 24 or 32 bytes for AES, 32 for ChaCha20-Poly1305). Any context.
    ///
    /// The result is returned by value: moves leave copies of the prepared
    /// key behind (on the stack) that are not zeroed. Use
    /// [`LibAead::new_boxed`] to prepare it where it stays.
    pub fn new(alg: AeadAlgorithm, key: &[u8]) -> Result<Self> {
        let mut this = Self::unkeyed(alg);
        this.prepare(key)?;
        Ok(this)
    }

    /// Prepares `key` for `alg` in a box allocated with `flags`
    /// (`GFP_ATOMIC` in atomic context), as [`LibAead::new`] but without
    /// copies of the prepared key elsewhere.
    pub fn new_boxed(alg: AeadAlgorithm, key: &[u8], flags: Flags) -> Result<KBox<Self>> {
        let mut this = KBox::new(Self::unkeyed(alg), flags)?;
        this.prepare(key)?;
        Ok(this)
    }

    /// An all-zero key of `alg`'s variant, to be prepared in place. It holds
    /// no key material and must not be used before [`LibAead::prepare`]
    /// succeeds.
    fn unkeyed(alg: AeadAlgorithm) -> Self {
        let key = match alg {
            AeadAlgorithm::AesGcm => Key::Gcm(pin_init::zeroed()),
            AeadAlgorithm::AesCcm => Key::Ccm(pin_init::zeroed()),
            AeadAlgorithm::ChaCha20Poly1305 => Key::ChaCha20Poly1305([0; 8]),
        };
        Self { key, alg }
    }

    /// Prepares `key` in place.
    fn prepare(&mut self, key: &[u8]) -> Result {
        let ret = match &mut self.key {
            // SAFETY: `k` is valid for writes and `key` for reads of
            // `key.len()` bytes; the callee checks both lengths.
            Key::Gcm(k) => unsafe {
                bindings::aes_gcm_preparekey(k, key.as_ptr(), key.len(), AEAD_TAG_LEN)
            },
            // SAFETY: As for GCM.
            Key::Ccm(k) => unsafe {
                bindings::aes_ccm_preparekey(k, key.as_ptr(), key.len(), AEAD_TAG_LEN)
            },
            Key::ChaCha20Poly1305(words) => {
                if key.len() != CHACHA20_POLY1305_KEY_LEN {
                    return Err(EINVAL);
                }
                for (w, b) in words.iter_mut().zip(key.chunks_exact(4)) {
                    *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
                0
            }
        };
        // INVARIANT: On success, the key of `alg`'s variant is prepared.
        if ret != 0 {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> AeadAlgorithm {
        self.alg
    }

    /// Encrypts `buf[..buf.len() - AEAD_TAG_LEN]` in place with `nonce` and
    /// writes the tag into the last [`AEAD_TAG_LEN`] bytes, authenticating
    /// `aad`.
    ///
    /// Fails with `EINVAL` if `buf` is shorter than the tag or longer than
    /// the algorithm allows. Any context.
    pub fn encrypt(&self, nonce: &[u8; AEAD_NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result {
        self.crypt(Direction::Seal, nonce, aad, buf).map(|_| ())
    }

    /// Verifies and decrypts `buf` (ciphertext then tag) in place with
    /// `nonce`, authenticating `aad`, and returns the plaintext length
    /// (`buf.len() - AEAD_TAG_LEN`).
    ///
    /// Fails with `EBADMSG` if the tag does not verify, in which case `buf`
    /// is zeroed (no unauthenticated plaintext is left behind), and `EINVAL`
    /// if `buf` is shorter than the tag or longer than the algorithm allows.
    /// Any context.
    pub fn decrypt(
        &self,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        let result = self.crypt(Direction::Open, nonce, aad, buf);
        if result == Err(EBADMSG) {
            zeroize(buf);
        }
        result
    }

    fn crypt(
        &self,
        dir: Direction,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        let text_len = buf.len().checked_sub(AEAD_TAG_LEN).ok_or(EINVAL)?;
        // `u32` lengths fit every algorithm's limits (GCM's is 2^36 - 32
        // bytes, CCM's with a 12-byte nonce 2^24 - 1, checked by the
        // callee) and `chacha_crypt()`'s `unsigned int`.
        if u32::try_from(text_len).is_err() {
            return Err(EINVAL);
        }
        let (text, tag) = buf.split_at_mut(text_len);
        let tag: &mut [u8; AEAD_TAG_LEN] = tag.try_into().map_err(|_| EINVAL)?;
        match &self.key {
            Key::Gcm(key) => aes_gcm(key, dir, nonce, aad, text, tag),
            Key::Ccm(key) => aes_ccm(key, dir, nonce, aad, text, tag),
            Key::ChaCha20Poly1305(words) => chacha20_poly1305(words, dir, nonce, aad, text, tag),
        }?;
        Ok(text_len)
    }
}

/// The result of a library AEAD call.
fn lib_result(ret: c_int) -> Result {
    match ret {
        0 => Ok(()),
        r if r == EBADMSG.to_errno() => Err(EBADMSG),
        // `EINVAL` (never: the nonce length is valid) or `EOVERFLOW` (a CCM
        // message over 2^24 - 1 bytes): the input is too long.
        _ => Err(EINVAL),
    }
}

/// AES-GCM of `text` in place, with `tag` written or verified.
fn aes_gcm(
    key: &bindings::aes_gcm_key,
    dir: Direction,
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    text: &mut [u8],
    tag: &mut [u8; AEAD_TAG_LEN],
) -> Result {
    let (len, text, tag) = (text.len(), text.as_mut_ptr(), tag.as_mut_ptr());
    let (ad, ad_len, nonce) = (aad.as_ptr(), aad.len(), nonce.as_ptr());
    // SAFETY: `key` was prepared with an `AEAD_TAG_LEN`-byte tag (`LibAead`
    // invariant); `text` is valid for reads and writes of `len` bytes (in
    // place is allowed), `tag` for `AEAD_TAG_LEN` bytes, `ad` for `ad_len`
    // and `nonce` for the 12 bytes GCM takes.
    lib_result(unsafe {
        match dir {
            Direction::Seal => {
                bindings::aes_gcm_encrypt(text, text, len, tag, ad, ad_len, nonce, key);
                0
            }
            Direction::Open => {
                bindings::aes_gcm_decrypt(text, text, len, tag, ad, ad_len, nonce, key)
            }
        }
    })
}

/// AES-CCM of `text` in place with a 12-byte nonce, with `tag` written or
/// verified.
fn aes_ccm(
    key: &bindings::aes_ccm_key,
    dir: Direction,
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    text: &mut [u8],
    tag: &mut [u8; AEAD_TAG_LEN],
) -> Result {
    let (len, text, tag) = (text.len(), text.as_mut_ptr(), tag.as_mut_ptr());
    let (ad, ad_len, n) = (aad.as_ptr(), aad.len(), nonce.as_ptr());
    const N: usize = AEAD_NONCE_LEN;
    // SAFETY: As for `aes_gcm()`, with the nonce's length passed along.
    lib_result(unsafe {
        match dir {
            Direction::Seal => {
                bindings::aes_ccm_encrypt(text, text, len, tag, ad, ad_len, n, N, key)
            }
            Direction::Open => {
                bindings::aes_ccm_decrypt(text, text, len, tag, ad, ad_len, n, N, key)
            }
        }
    })
}

impl Drop for LibAead {
    fn drop(&mut self) {
        match &mut self.key {
            Key::Gcm(key) => zeroize_value(key),
            Key::Ccm(key) => zeroize_value(key),
            Key::ChaCha20Poly1305(words) => zeroize_value(words),
        }
    }
}

/// Zeros to pad the Poly1305 input to whole blocks.
const PAD: [u8; 16] = [0; 16];

/// A Poly1305 computation (`struct poly1305_desc_ctx`).
///
/// # Invariants
///
/// `ctx` was initialised by `poly1305_init()`.
struct Poly1305 {
    ctx: bindings::poly1305_desc_ctx,
}

impl Poly1305 {
    fn new(key: &[u8; 32]) -> Self {
        let mut ctx: bindings::poly1305_desc_ctx = pin_init::zeroed();
        // SAFETY: `ctx` is valid for writes and `key` holds the 32 bytes of a
        // Poly1305 key.
        unsafe { bindings::poly1305_init(&mut ctx, key.as_ptr()) };
        // INVARIANT: Initialised above.
        Self { ctx }
    }

    fn update(&mut self, data: &[u8]) {
        // `poly1305_update()` takes an `unsigned int` length.
        for chunk in data.chunks(1 << 30) {
            // SAFETY: `self.ctx` is initialised (type invariant); `chunk` is
            // valid for reads of its length, which fits `u32`.
            unsafe { bindings::poly1305_update(&mut self.ctx, chunk.as_ptr(), chunk.len() as u32) };
        }
    }

    /// Feeds `data` then zeros up to a 16-byte boundary (RFC 8439 §2.8).
    fn update_padded(&mut self, data: &[u8]) {
        self.update(data);
        let rem = data.len() % PAD.len();
        if rem != 0 {
            self.update(&PAD[rem..]);
        }
    }

    fn finalize(mut self) -> [u8; AEAD_TAG_LEN] {
        let mut tag = [0u8; AEAD_TAG_LEN];
        // SAFETY: `self.ctx` is initialised (type invariant); `tag` has room
        // for the 16-byte digest. `poly1305_final()` zeroes the context.
        unsafe { bindings::poly1305_final(&mut self.ctx, tag.as_mut_ptr()) };
        tag
    }
}

/// A ChaCha20 keystream (`struct chacha_state`), zeroed on drop.
struct ChaCha20 {
    state: bindings::chacha_state,
}

impl ChaCha20 {
    /// The keystream of `key` from block `counter` with `nonce` (RFC 8439
    /// §2.3: the state's words 12 to 15).
    fn new(key: &[u32; 8], counter: u32, nonce: &[u8; AEAD_NONCE_LEN]) -> Self {
        let mut iv = [0u8; 16];
        iv[..4].copy_from_slice(&counter.to_le_bytes());
        iv[4..].copy_from_slice(nonce);
        let mut state: bindings::chacha_state = pin_init::zeroed();
        // SAFETY: `state` is valid for writes, `key` holds eight words and
        // `iv` sixteen bytes.
        unsafe { bindings::chacha_init(&mut state, key.as_ptr(), iv.as_ptr()) };
        Self { state }
    }

    /// XORs `data` (at most `u32::MAX` bytes) with the next bytes of the
    /// keystream; the block counter carries on to the next call only on
    /// block boundaries.
    fn apply(&mut self, data: &mut [u8]) {
        let ptr = data.as_mut_ptr();
        // SAFETY: `self.state` is initialised; `ptr` is valid for reads and
        // writes of `data.len()` bytes (callers keep it under `u32::MAX`),
        // and `chacha_crypt()` allows in-place operation.
        unsafe { bindings::chacha_crypt(&mut self.state, ptr, ptr, data.len() as u32, 20) };
    }
}

impl Drop for ChaCha20 {
    fn drop(&mut self) {
        zeroize_value(&mut self.state);
    }
}

/// RFC 8439 §2.8: ChaCha20-Poly1305 of `text` in place, with `tag` written
/// (sealing) or verified (opening, before anything is decrypted).
fn chacha20_poly1305(
    key: &[u32; 8],
    dir: Direction,
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    text: &mut [u8],
    tag: &mut [u8; AEAD_TAG_LEN],
) -> Result {
    // §2.6: the one-time Poly1305 key is the first 32 bytes of block 0;
    // the text is encrypted from block 1 on.
    let mut otk = [0u8; 32];
    ChaCha20::new(key, 0, nonce).apply(&mut otk);
    let mut mac = Poly1305::new(&otk);
    zeroize(&mut otk);
    let mut stream = ChaCha20::new(key, 1, nonce);
    mac.update_padded(aad);
    if dir == Direction::Seal {
        stream.apply(text);
    }
    mac.update_padded(text);
    let mut lens = [0u8; 16];
    lens[..8].copy_from_slice(&(aad.len() as u64).to_le_bytes());
    lens[8..].copy_from_slice(&(text.len() as u64).to_le_bytes());
    mac.update(&lens);
    let mut computed = mac.finalize();
    let result = match dir {
        Direction::Seal => {
            tag.copy_from_slice(&computed);
            Ok(())
        }
        // SAFETY: Both are valid for reads of `AEAD_TAG_LEN` bytes.
        Direction::Open => match unsafe {
            bindings::crypto_memneq(computed.as_ptr().cast(), tag.as_ptr().cast(), AEAD_TAG_LEN)
        } {
            0 => {
                stream.apply(text);
                Ok(())
            }
            _ => Err(EBADMSG),
        },
    };
    zeroize(&mut computed);
    result
}

#[macros::kunit_tests(rust_kernel_crypto_lib_aead)]
mod tests {
    use super::*;
    use crate::crypto::aead_kat::{self, TestAead};

    impl TestAead for LibAead {
        fn new(alg: AeadAlgorithm, key: &[u8]) -> Result<Self> {
            LibAead::new(alg, key)
        }

        fn algorithm(&self) -> AeadAlgorithm {
            LibAead::algorithm(self)
        }

        fn seal(&self, nonce: &[u8; AEAD_NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result {
            self.encrypt(nonce, aad, buf)
        }

        fn open(&self, nonce: &[u8; AEAD_NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<usize> {
            self.decrypt(nonce, aad, buf)
        }
    }

    /// GCM test cases 4 and 16, RFC 9001's Retry tag, NIST SP 800-38C
    /// example 3 and RFC 8439 §2.8.2.
    #[test]
    fn known_answers() -> Result {
        aead_kat::known_answers::<LibAead>()
    }

    #[test]
    fn wrong_key_length() -> Result {
        aead_kat::wrong_key_length::<LibAead>()
    }

    #[test]
    fn short_buffer() -> Result {
        aead_kat::short_buffer::<LibAead>()
    }

    #[test]
    fn tag_mismatch() -> Result {
        aead_kat::tag_mismatch::<LibAead>()
    }

    /// The library takes any memory: the stack, static associated data.
    #[test]
    fn stack_buffers() -> Result {
        for alg in aead_kat::ALGORITHMS {
            let key = LibAead::new(alg, &[3; 32])?;
            let mut buf = [0x5a; 40];
            key.encrypt(&[1; AEAD_NONCE_LEN], b"static header", &mut buf)?;
            assert!(buf[..24].iter().any(|&b| b != 0x5a));
            assert_eq!(
                key.decrypt(&[1; AEAD_NONCE_LEN], b"static header", &mut buf)?,
                24
            );
            assert!(buf[..24].iter().all(|&b| b == 0x5a));
        }
        Ok(())
    }
}
