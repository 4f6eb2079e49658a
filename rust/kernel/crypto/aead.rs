// SPDX-License-Identifier: GPL-2.0

//! Authenticated encryption with associated data (AEAD) over crypto API
//! transforms.
//!
//! An [`Aead`] owns a keyed `struct crypto_aead` transform of one of the
//! [`Algorithm`]s record layers use: AES-GCM (`gcm(aes)`), AES-CCM
//! (`ccm(aes)`) or ChaCha20-Poly1305 (`rfc7539(chacha20,poly1305)`), each
//! with a 12-byte nonce and a 16-byte tag, and a request preallocated for
//! it. It encrypts and decrypts in place, authenticating associated data (a
//! packet header):
//!
//! - over byte slices ([`Aead::encrypt`], [`Aead::decrypt`]): the buffer is
//!   the plaintext followed by [`TAG_LEN`] bytes for the tag, or the
//!   ciphertext followed by the tag, and the associated data a separate
//!   slice;
//! - over a range of a socket buffer ([`Aead::encrypt_skb`],
//!   [`Aead::decrypt_skb`]): the associated data and the text are adjacent,
//!   as in a packet.
//!
//! Only synchronous implementations are used (the transform is allocated with
//! `CRYPTO_ALG_ASYNC` masked out), so every operation has completed when the
//! call returns. Callers that need no transform (no driver offload) and want
//! to create keys in any context use [`super::lib_aead`] instead.
//!
//! # Contexts
//!
//! - [`Aead::new`] allocates the transform and its request and may
//!   instantiate a template and load modules: process context only (it may
//!   sleep).
//! - Operations need `&mut self` (the request is the per-operation state)
//!   and allocate nothing, except a bounce buffer for memory outside the
//!   linear mapping and, over a socket buffer, what unsharing or linearizing
//!   it takes, all with `GFP_ATOMIC`: any context but hard interrupts.
//! - Dropping an [`Aead`] frees memory and does not sleep.
//!
//! # Memory the crypto API can reach
//!
//! The crypto API walks scatterlists, which describe pages: a buffer must be
//! in the kernel's linear mapping (`kmalloc()` memory, a [`KVec`], an skb's
//! linear data). Buffers elsewhere (the stack, which is virtually mapped with
//! `CONFIG_VMAP_STACK`, `vmalloc()` memory, the kernel image) are copied
//! through a bounce buffer allocated with `GFP_ATOMIC`, transparently, at
//! some cost: keep packets in linear-mapped memory on hot paths.
//!
//! C header: [`include/crypto/aead.h`](srctree/include/crypto/aead.h).
//!
//! [`KVec`]: crate::alloc::KVec

pub use super::{AeadAlgorithm as Algorithm, AEAD_NONCE_LEN as NONCE_LEN, AEAD_TAG_LEN as TAG_LEN};

#[cfg(CONFIG_NET)]
use crate::net::skbuff::SkBuff;
use crate::{
    alloc::{
        flags::{GFP_ATOMIC, GFP_KERNEL},
        KVec,
    },
    bindings,
    error::{code::*, from_err_ptr, to_result, Result},
    str::{CStr, CStrExt as _},
};
use core::ptr::NonNull;

/// The longest IV a supported transform takes (`ccm(aes)`'s).
const MAX_IV_LEN: usize = 16;

impl Algorithm {
    /// The crypto API name of the algorithm.
    pub const fn name(self) -> &'static CStr {
        match self {
            Self::AesGcm => c"gcm(aes)",
            Self::AesCcm => c"ccm(aes)",
            Self::ChaCha20Poly1305 => c"rfc7539(chacha20,poly1305)",
        }
    }

    /// The IV length the transform takes.
    const fn iv_len(self) -> usize {
        match self {
            Self::AesCcm => 16,
            Self::AesGcm | Self::ChaCha20Poly1305 => NONCE_LEN,
        }
    }

    /// The transform's IV for `nonce`.
    fn iv(self, nonce: &[u8; NONCE_LEN]) -> [u8; MAX_IV_LEN] {
        let mut iv = [0u8; MAX_IV_LEN];
        match self {
            // `ccm(aes)` takes the first block of CTR mode: the flags byte
            // L' = L - 1 (L = 15 - 12 = 3 bytes of length), the nonce, and a
            // counter the transform fills in.
            Self::AesCcm => {
                iv[0] = (15 - NONCE_LEN - 1) as u8;
                iv[1..1 + NONCE_LEN].copy_from_slice(nonce);
            }
            Self::AesGcm | Self::ChaCha20Poly1305 => iv[..NONCE_LEN].copy_from_slice(nonce),
        }
        iv
    }
}

/// The direction of an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Encrypt,
    Decrypt,
}

/// A keyed AEAD transform (`struct crypto_aead`) and its request.
///
/// # Invariants
///
/// `tfm` is a transform returned by `crypto_alloc_aead()` for `alg.name()`
/// with `CRYPTO_ALG_ASYNC` masked out (so synchronous), owned by this
/// object; its key is set, its authsize is [`TAG_LEN`] and its IV size is
/// `alg.iv_len()`. `req` was returned by `aead_request_alloc()` for `tfm`
/// and is owned by this object.
pub struct Aead {
    tfm: NonNull<bindings::crypto_aead>,
    req: NonNull<bindings::aead_request>,
    alg: Algorithm,
}

// SAFETY: The transform and the request are owned, and not tied to the
// thread that allocated them.
unsafe impl Send for Aead {}
// SAFETY: `&self` only reads the algorithm; operations need `&mut self`.
unsafe impl Sync for Aead {}

/// Whether the crypto API can map `bytes` through `virt_to_page()`: both ends
/// are in the linear mapping (so, being one object, is all in between, which
/// is then physically contiguous too).
fn linear_mapped(bytes: &[u8]) -> bool {
    let Some(last) = bytes.len().checked_sub(1) else {
        return true;
    };
    let start = bytes.as_ptr();
    // SAFETY: `virt_addr_valid()` only computes on the addresses.
    unsafe {
        bindings::virt_addr_valid(start.cast()) && bindings::virt_addr_valid(start.add(last).cast())
    }
}

/// Builds a scatterlist over `aad` then `buf` (an empty `aad` is left out: the
/// crypto API forbids empty elements) and returns the number of entries.
///
/// The entries point into `aad` and `buf`; the caller keeps them borrowed
/// while the scatterlist is in use, and checked they are linear-mapped.
fn sg_over(sg: &mut [bindings::scatterlist; 2], aad: &[u8], buf: &mut [u8]) -> Result<u32> {
    let aad_len = u32::try_from(aad.len()).map_err(|_| EINVAL)?;
    let buf_len = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
    let n: u32 = if aad.is_empty() { 1 } else { 2 };
    // SAFETY: `sg` has room for `n <= 2` entries.
    unsafe { bindings::sg_init_table(sg.as_mut_ptr(), n) };
    let mut entry = sg.as_mut_ptr();
    if !aad.is_empty() {
        // SAFETY: `entry` is the first of `n` initialised entries; `aad` is
        // valid for `aad_len` bytes.
        unsafe { bindings::sg_set_buf(entry, aad.as_ptr().cast(), aad_len) };
        // SAFETY: `n == 2`: the second entry is in bounds.
        entry = unsafe { entry.add(1) };
    }
    // SAFETY: `entry` is the last initialised entry; `buf` is valid for
    // `buf_len` bytes.
    unsafe { bindings::sg_set_buf(entry, buf.as_mut_ptr().cast(), buf_len) };
    Ok(n)
}

impl Aead {
    /// Allocates a synchronous transform for `alg`, sets `key` and
    /// allocates the transform's request.
    ///
    /// Fails with `EINVAL` if the key length does not suit the algorithm,
    /// `ENOENT` if the kernel does not implement it, `ENOMEM` on allocation
    /// failure. Process context: may sleep.
    pub fn new(alg: Algorithm, key: &[u8]) -> Result<Self> {
        let key_len = u32::try_from(key.len()).map_err(|_| EINVAL)?;
        // SAFETY: The name is a NUL-terminated string; type 0 with
        // `CRYPTO_ALG_ASYNC` in the mask selects a synchronous implementation.
        let tfm = from_err_ptr(unsafe {
            bindings::crypto_alloc_aead(alg.name().as_char_ptr(), 0, bindings::CRYPTO_ALG_ASYNC)
        })?;
        let Some(tfm) = NonNull::new(tfm) else {
            return Err(ENOMEM);
        };
        // SAFETY: `tfm` is a valid transform.
        let req = unsafe { bindings::aead_request_alloc(tfm.as_ptr(), GFP_KERNEL.as_raw()) };
        let Some(req) = NonNull::new(req) else {
            // SAFETY: `tfm` was allocated above and is not used afterwards.
            unsafe { bindings::crypto_free_aead(tfm.as_ptr()) };
            return Err(ENOMEM);
        };
        // From here on, `Drop` frees both on the error paths. The invariants
        // hold once the checks below passed.
        let aead = Self { tfm, req, alg };
        // SAFETY: `tfm` is a valid transform; `key` is valid for reads of
        // `key_len` bytes, which the transform copies.
        to_result(unsafe { bindings::crypto_aead_setkey(tfm.as_ptr(), key.as_ptr(), key_len) })?;
        // SAFETY: `tfm` is a valid transform.
        to_result(unsafe { bindings::crypto_aead_setauthsize(tfm.as_ptr(), TAG_LEN as u32) })?;
        // SAFETY: `tfm` is a valid transform.
        let iv_len = unsafe { bindings::crypto_aead_ivsize(tfm.as_ptr()) };
        if iv_len as usize != alg.iv_len() {
            return Err(EINVAL);
        }
        Ok(aead)
    }

    /// The algorithm of this transform.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Encrypts `buf[..buf.len() - TAG_LEN]` in place with `nonce` and writes
    /// the tag into the last [`TAG_LEN`] bytes, authenticating `aad`.
    ///
    /// Fails with `EINVAL` if `buf` is shorter than the tag.
    pub fn encrypt(&mut self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result {
        self.crypt_slices(Direction::Encrypt, nonce, aad, buf)
            .map(|_| ())
    }

    /// Verifies and decrypts `buf` (ciphertext then tag) in place with
    /// `nonce`, authenticating `aad`, and returns the plaintext length
    /// (`buf.len() - TAG_LEN`).
    ///
    /// Fails with `EBADMSG` if the tag does not verify, in which case `buf` is
    /// zeroed (no unauthenticated plaintext is left behind), and `EINVAL` if
    /// `buf` is shorter than the tag.
    pub fn decrypt(
        &mut self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        let result = self.crypt_slices(Direction::Decrypt, nonce, aad, buf);
        if result == Err(EBADMSG) {
            super::zeroize(buf);
        }
        result
    }

    /// Encrypts, in place, the `text_len` bytes at `offset + aad_len` of
    /// `skb`'s data, authenticating the `aad_len` bytes at `offset`, and
    /// writes the tag into the [`TAG_LEN`] bytes that follow.
    ///
    /// The data is made private first if it is shared with a clone, and
    /// linear if the range reaches into fragments. Fails with `EINVAL` if the
    /// range is not within the data, `ENOMEM` if unsharing or linearizing
    /// fails.
    #[cfg(CONFIG_NET)]
    pub fn encrypt_skb(
        &mut self,
        nonce: &[u8; NONCE_LEN],
        skb: &mut SkBuff,
        offset: usize,
        aad_len: usize,
        text_len: usize,
    ) -> Result {
        let len = text_len.checked_add(TAG_LEN).ok_or(EINVAL)?;
        let (aad, buf) = skb_range(skb, offset, aad_len, len)?;
        self.crypt_slices(Direction::Encrypt, nonce, aad, buf)
            .map(|_| ())
    }

    /// Verifies and decrypts, in place, the `len` bytes (ciphertext then tag)
    /// at `offset + aad_len` of `skb`'s data, authenticating the `aad_len`
    /// bytes at `offset`, and returns the plaintext length.
    ///
    /// As [`Aead::encrypt_skb`], and fails with `EBADMSG` if the tag does not
    /// verify (the range is then zeroed) and `EINVAL` if `len` is shorter
    /// than the tag.
    #[cfg(CONFIG_NET)]
    pub fn decrypt_skb(
        &mut self,
        nonce: &[u8; NONCE_LEN],
        skb: &mut SkBuff,
        offset: usize,
        aad_len: usize,
        len: usize,
    ) -> Result<usize> {
        let (aad, buf) = skb_range(skb, offset, aad_len, len)?;
        self.decrypt(nonce, aad, buf)
    }

    fn crypt_slices(
        &mut self,
        dir: Direction,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        let text_len = buf.len().checked_sub(TAG_LEN).ok_or(EINVAL)?;
        if aad.len().checked_add(buf.len()).ok_or(EINVAL)? > u32::MAX as usize {
            return Err(EINVAL);
        }
        if linear_mapped(aad) && linear_mapped(buf) {
            self.crypt_direct(dir, nonce, aad, buf)?;
        } else {
            self.crypt_bounced(dir, nonce, aad, buf)?;
        }
        Ok(text_len)
    }

    /// Runs the operation on a linear-mapped copy of `aad` and `buf`, and
    /// copies `buf` back.
    fn crypt_bounced(
        &mut self,
        dir: Direction,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result {
        let mut bounce = KVec::with_capacity(aad.len() + buf.len(), GFP_ATOMIC)?;
        bounce.extend_from_slice(aad, GFP_ATOMIC)?;
        bounce.extend_from_slice(buf, GFP_ATOMIC)?;
        let (b_aad, b_buf) = bounce.split_at_mut(aad.len());
        // A `KVec` is `kmalloc()` memory, linear-mapped.
        let result = self.crypt_direct(dir, nonce, b_aad, b_buf);
        if result.is_ok() {
            buf.copy_from_slice(b_buf);
        }
        // The copy held plaintext.
        super::zeroize(&mut bounce);
        result
    }

    /// Runs one operation on `aad` and `buf`, which must be linear-mapped
    /// (else `EFAULT`): `buf` holds the plaintext and room for the tag, or
    /// the ciphertext and the tag.
    fn crypt_direct(
        &mut self,
        dir: Direction,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result {
        if !linear_mapped(aad) || !linear_mapped(buf) {
            return Err(EFAULT);
        }
        let crypt_len = match dir {
            Direction::Encrypt => buf.len().checked_sub(TAG_LEN).ok_or(EINVAL)?,
            Direction::Decrypt => buf.len(),
        };
        let (aad_len, crypt_len) = (
            u32::try_from(aad.len()).map_err(|_| EINVAL)?,
            u32::try_from(crypt_len).map_err(|_| EINVAL)?,
        );
        let mut sg: [bindings::scatterlist; 2] = pin_init::zeroed();
        sg_over(&mut sg, aad, buf)?;
        // The transform may use the IV as scratch space (`ccm(aes)` does).
        let mut iv = self.alg.iv(nonce);
        let req = self.req.as_ptr();
        // SAFETY: `req` was allocated for `self.tfm` (type invariant) and is
        // exclusively ours (`&mut self`). No callback is set: the transform
        // is synchronous (type invariant), so the operation is complete when
        // `crypto_aead_*crypt()` returns, as for the other synchronous users
        // (e.g. mac80211's aead_api.c). `sg` describes `aad` (read only: the
        // crypto API does not write the associated data) and `buf`
        // (exclusively borrowed), both linear-mapped (checked above), for the
        // duration of the call; `iv` outlives it.
        let ret = unsafe {
            bindings::aead_request_set_tfm(req, self.tfm.as_ptr());
            bindings::aead_request_set_callback(req, 0, None, core::ptr::null_mut());
            bindings::aead_request_set_crypt(
                req,
                sg.as_mut_ptr(),
                sg.as_mut_ptr(),
                crypt_len,
                iv.as_mut_ptr(),
            );
            bindings::aead_request_set_ad(req, aad_len);
            match dir {
                Direction::Encrypt => bindings::crypto_aead_encrypt(req),
                Direction::Decrypt => bindings::crypto_aead_decrypt(req),
            }
        };
        to_result(ret)
    }
}

/// The `aad_len` bytes at `offset` of `skb`'s data and the `len` bytes that
/// follow, private to the skb and linear.
#[cfg(CONFIG_NET)]
fn skb_range(
    skb: &mut SkBuff,
    offset: usize,
    aad_len: usize,
    len: usize,
) -> Result<(&[u8], &mut [u8])> {
    let start = offset.checked_add(aad_len).ok_or(EINVAL)?;
    let end = start.checked_add(len).ok_or(EINVAL)?;
    if end > skb.len() {
        return Err(EINVAL);
    }
    if end > skb.headlen() {
        skb.linearize()?;
    }
    let data = skb.data_mut()?;
    let (aad, buf) = data
        .get_mut(offset..end)
        .ok_or(EINVAL)?
        .split_at_mut(aad_len);
    Ok((aad, buf))
}

impl Drop for Aead {
    fn drop(&mut self) {
        // SAFETY: `self.req` and `self.tfm` were returned by
        // `aead_request_alloc()` and `crypto_alloc_aead()` and are owned by
        // `self` (type invariant); the request goes first, nothing uses
        // either afterwards.
        unsafe {
            bindings::aead_request_free(self.req.as_ptr());
            bindings::crypto_free_aead(self.tfm.as_ptr());
        }
    }
}

#[macros::kunit_tests(rust_kernel_crypto_aead)]
mod tests {
    use super::*;
    use crate::crypto::aead_kat::{self, buffer, TestAead};
    use core::cell::RefCell;

    /// The checks need `&self`; operations take `&mut self`.
    struct Shared(RefCell<Aead>);

    impl TestAead for Shared {
        fn new(alg: Algorithm, key: &[u8]) -> Result<Self> {
            Ok(Self(RefCell::new(Aead::new(alg, key)?)))
        }

        fn algorithm(&self) -> Algorithm {
            self.0.borrow().algorithm()
        }

        fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result {
            self.0.borrow_mut().encrypt(nonce, aad, buf)
        }

        fn open(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<usize> {
            self.0.borrow_mut().decrypt(nonce, aad, buf)
        }
    }

    /// GCM test cases 4 and 16, RFC 9001's Retry tag, NIST SP 800-38C
    /// example 3 and RFC 8439 §2.8.2.
    #[test]
    fn known_answers() -> Result {
        aead_kat::known_answers::<Shared>()
    }

    #[test]
    fn wrong_key_length() -> Result {
        aead_kat::wrong_key_length::<Shared>()
    }

    #[test]
    fn short_buffer() -> Result {
        aead_kat::short_buffer::<Shared>()
    }

    #[test]
    fn tag_mismatch() -> Result {
        aead_kat::tag_mismatch::<Shared>()
    }

    /// Stack buffers (virtually mapped) and static associated data go
    /// through a bounce buffer, with the same result; no associated data
    /// works too. The one request serves every operation.
    #[test]
    fn stack_buffers_and_empty_aad() -> Result {
        let mut aead = Aead::new(Algorithm::AesGcm, &[1; 16])?;
        for aad in [&b""[..], &b"static header"[..]] {
            let mut heap = buffer(&[0x5a; 48], 0)?;
            aead.encrypt(&[2; NONCE_LEN], &buffer(aad, 0)?, &mut heap)?;
            let mut stack = [0x5a; 48];
            aead.encrypt(&[2; NONCE_LEN], aad, &mut stack)?;
            assert_eq!(&heap[..], &stack[..]);
            assert_eq!(aead.decrypt(&[2; NONCE_LEN], aad, &mut stack)?, 32);
            assert!(stack[..32].iter().all(|&b| b == 0x5a));
        }
        Ok(())
    }

    /// The same packet sealed in an skb and in a slice, at an offset, in
    /// data shared with a clone (unshared first); bad ranges are refused.
    #[cfg(CONFIG_NET)]
    #[test]
    fn skb_ranges() -> Result {
        let mut aead = Aead::new(Algorithm::ChaCha20Poly1305, &[8; 32])?;
        let nonce = [6; NONCE_LEN];
        // 3 bytes before the header, 5 of header, 20 of payload, the tag, 2
        // more.
        let mut packet = buffer(&[0xee; 3], 0)?;
        packet.extend_from_slice(b"hdr:5", GFP_KERNEL)?;
        packet.extend_from_slice(&[0x11; 20], GFP_KERNEL)?;
        packet.extend_from_slice(&[0; TAG_LEN + 2], GFP_KERNEL)?;
        let mut expected = buffer(&packet[8..8 + 20 + TAG_LEN], 0)?;
        aead.encrypt(&nonce, b"hdr:5", &mut expected)?;

        let mut skb = SkBuff::alloc(0, packet.len(), GFP_KERNEL)?;
        skb.put_data(&packet)?;
        let clone = skb.try_clone(GFP_KERNEL)?;
        aead.encrypt_skb(&nonce, &mut skb, 3, 5, 20)?;
        assert_eq!(&skb.data()[8..8 + 20 + TAG_LEN], &expected[..]);
        assert_eq!(&skb.data()[..8], b"\xee\xee\xeehdr:5");
        // The clone's data was not written: it was unshared first.
        assert_eq!(clone.data(), &packet[..]);

        assert_eq!(aead.decrypt_skb(&nonce, &mut skb, 3, 5, 20 + TAG_LEN)?, 20);
        // The plaintext is back; the tag stays where it was.
        assert_eq!(&skb.data()[..8 + 20], &packet[..8 + 20]);
        assert_eq!(&skb.data()[8 + 20..8 + 20 + TAG_LEN], &expected[20..]);
        // Past the end of the data, or too short for a tag.
        assert!(aead.decrypt_skb(&nonce, &mut skb, 3, 5, 40) == Err(EINVAL));
        assert!(aead.decrypt_skb(&nonce, &mut skb, usize::MAX, 5, 16) == Err(EINVAL));
        assert!(aead.decrypt_skb(&nonce, &mut skb, 3, 5, 15) == Err(EINVAL));
        assert!(aead.decrypt_skb(&nonce, &mut skb, 3, 5, 20 + TAG_LEN) == Err(EBADMSG));
        assert!(skb.data()[8..8 + 20 + TAG_LEN].iter().all(|&b| b == 0));
        Ok(())
    }
}
