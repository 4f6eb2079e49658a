// SPDX-License-Identifier: GPL-2.0

//! Authenticated encryption with associated data (AEAD).
//!
//! An [`Aead`] owns a keyed `struct crypto_aead` transform of one of the
//! [`Algorithm`]s record layers use: AES-GCM, AES-CCM or ChaCha20-Poly1305,
//! each with a 12-byte nonce and a 16-byte tag. It encrypts and decrypts in
//! place, authenticating associated data (a packet header) kept in a
//! separate buffer:
//!
//! - over byte slices ([`Aead::encrypt`], [`Aead::decrypt`]): the buffer is
//!   the plaintext followed by [`TAG_LEN`] bytes for the tag, or the
//!   ciphertext followed by the tag;
//! - over the linear data of a socket buffer ([`AeadRequest::encrypt_skb`],
//!   [`AeadRequest::decrypt_skb`]), without copying.
//!
//! Only synchronous implementations are used (the transform is allocated with
//! `CRYPTO_ALG_ASYNC` masked out), so every operation has completed when the
//! call returns, and none sleeps.
//!
//! # Contexts
//!
//! - [`Aead::new`] allocates the transform and may instantiate a template and
//!   load modules: process context only (it may sleep).
//! - An operation needs an `aead_request` of a size the transform decides.
//!   [`Aead::encrypt`] and [`Aead::decrypt`] allocate one per call with the
//!   given flags: pass `GFP_ATOMIC` on the receive path, which runs in
//!   softirq context. An [`AeadRequest`] is allocated once (e.g. per key, in
//!   process context) and reused by an owner with exclusive access; it
//!   allocates nothing afterwards, except for bounce buffers (below).
//! - Dropping an [`Aead`] or an [`AeadRequest`] frees memory and drops
//!   references and does not sleep.
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

use crate::{
    alloc::{flags::GFP_ATOMIC, Flags, KVec},
    bindings,
    error::{code::*, from_err_ptr, to_result, Error, Result},
    str::{CStr, CStrExt as _},
};
use core::ptr::NonNull;

/// The tag length of every [`Algorithm`]: the transform's authsize.
pub const TAG_LEN: usize = 16;
/// The nonce length of every [`Algorithm`].
pub const NONCE_LEN: usize = 12;
/// The longest IV a supported transform takes (`ccm(aes)`'s).
const MAX_IV_LEN: usize = 16;

/// The AEAD algorithms an [`Aead`] implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// AES in Galois/Counter Mode (`gcm(aes)`), 16-, 24- or 32-byte keys.
    AesGcm,
    /// AES in Counter with CBC-MAC mode (`ccm(aes)`), with a 12-byte nonce
    /// (so a 3-byte length field, RFC 3610), 16-, 24- or 32-byte keys.
    AesCcm,
    /// ChaCha20-Poly1305 of RFC 8439 (`rfc7539(chacha20,poly1305)`), 32-byte
    /// keys.
    ChaCha20Poly1305,
}

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

/// A keyed AEAD transform (`struct crypto_aead`).
///
/// # Invariants
///
/// `tfm` is a transform returned by `crypto_alloc_aead()` for
/// `alg.name()` with `CRYPTO_ALG_ASYNC` masked out (so synchronous), owned
/// by this object; its key is set, its authsize is [`TAG_LEN`] and its IV
/// size is `alg.iv_len()`.
pub struct Aead {
    tfm: NonNull<bindings::crypto_aead>,
    alg: Algorithm,
}

// SAFETY: The transform is owned, and not tied to the thread that allocated
// it.
unsafe impl Send for Aead {}
// SAFETY: After `Aead::new` the transform is only read (its key and sizes are
// never changed again); the crypto API allows concurrent requests on one
// transform, and all per-operation state lives in the request.
unsafe impl Sync for Aead {}

impl Aead {
    /// Allocates a synchronous transform for `alg` and sets `key`.
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
        let tfm = NonNull::new(tfm).ok_or(ENOMEM)?;
        // From here on, `Drop` frees the transform on the error paths. The
        // invariants hold once the checks below passed.
        let aead = Self { tfm, alg };
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

    /// The size of the request this transform needs.
    fn reqsize(&self) -> usize {
        // SAFETY: `self.tfm` is a valid transform (type invariant).
        unsafe { bindings::crypto_aead_reqsize(self.tfm.as_ptr()) as usize }
    }

    /// Encrypts `buf[..buf.len() - TAG_LEN]` in place with `nonce` and writes
    /// the tag into the last [`TAG_LEN`] bytes, authenticating `aad`.
    ///
    /// Allocates a request with `flags` (use `GFP_ATOMIC` in atomic
    /// context). Fails with `EINVAL` if `buf` is shorter than the tag.
    pub fn encrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        flags: Flags,
    ) -> Result {
        AeadRequest::new(self, flags)?.encrypt(self, nonce, aad, buf)
    }

    /// Verifies and decrypts `buf` (ciphertext then tag) in place with
    /// `nonce`, authenticating `aad`, and returns the plaintext length
    /// (`buf.len() - TAG_LEN`).
    ///
    /// Allocates a request with `flags`. Fails with `EBADMSG` if the tag does
    /// not verify, in which case `buf` is zeroed (no unauthenticated
    /// plaintext is left behind), and `EINVAL` if `buf` is shorter than the
    /// tag.
    pub fn decrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        flags: Flags,
    ) -> Result<usize> {
        AeadRequest::new(self, flags)?.decrypt(self, nonce, aad, buf)
    }
}

impl Drop for Aead {
    fn drop(&mut self) {
        // SAFETY: `self.tfm` was returned by `crypto_alloc_aead()` and is
        // owned by `self` (type invariant); nothing uses it afterwards.
        unsafe { bindings::crypto_free_aead(self.tfm.as_ptr()) };
    }
}

/// A preallocated `struct aead_request`, reusable for operations on any
/// [`Aead`] whose request size fits.
///
/// # Invariants
///
/// `req` was returned by `aead_request_alloc()` for a transform of request
/// size `reqsize`, and is owned by this object.
pub struct AeadRequest {
    req: NonNull<bindings::aead_request>,
    reqsize: usize,
}

// SAFETY: The request is owned memory, not tied to a thread.
unsafe impl Send for AeadRequest {}
// SAFETY: Operations need `&mut self`; `&self` gives no access to the request.
unsafe impl Sync for AeadRequest {}

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

impl AeadRequest {
    /// Allocates a request for `aead` with `flags`.
    pub fn new(aead: &Aead, flags: Flags) -> Result<Self> {
        // SAFETY: `aead.tfm` is a valid transform (type invariant).
        let req = unsafe { bindings::aead_request_alloc(aead.tfm.as_ptr(), flags.as_raw()) };
        let req = NonNull::new(req).ok_or(ENOMEM)?;
        // INVARIANT: `req` was allocated for `aead`'s request size.
        Ok(Self {
            req,
            reqsize: aead.reqsize(),
        })
    }

    /// Encrypts `buf` in place, as [`Aead::encrypt`], with this request.
    ///
    /// Fails with `EINVAL` if `aead` needs a larger request than this one.
    pub fn encrypt(
        &mut self,
        aead: &Aead,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result {
        self.crypt_slices(aead, Direction::Encrypt, nonce, aad, buf)
            .map(|_| ())
    }

    /// Decrypts `buf` in place, as [`Aead::decrypt`], with this request.
    ///
    /// Fails with `EINVAL` if `aead` needs a larger request than this one.
    pub fn decrypt(
        &mut self,
        aead: &Aead,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        let result = self.crypt_slices(aead, Direction::Decrypt, nonce, aad, buf);
        if result == Err(EBADMSG) {
            super::zeroize(buf);
        }
        result
    }

    fn crypt_slices(
        &mut self,
        aead: &Aead,
        dir: Direction,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        let text_len = buf.len().checked_sub(TAG_LEN).ok_or(EINVAL)?;
        if aad.len().checked_add(buf.len()).ok_or(EINVAL)? > u32::MAX as usize {
            return Err(EINVAL);
        }
        if !linear_mapped(aad) || !linear_mapped(buf) {
            return self.crypt_bounced(aead, dir, nonce, aad, buf);
        }
        self.crypt_direct(aead, dir, nonce, aad, buf)?;
        Ok(text_len)
    }

    /// Runs the operation directly on `aad` and `buf`, which must be
    /// linear-mapped (else `EFAULT`).
    fn crypt_direct(
        &mut self,
        aead: &Aead,
        dir: Direction,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result {
        if !linear_mapped(aad) || !linear_mapped(buf) {
            return Err(EFAULT);
        }
        let mut sg: [bindings::scatterlist; 2] = pin_init::zeroed();
        sg_over(&mut sg, aad, buf)?;
        // SAFETY: `sg` describes `aad` (read only: the crypto API does not
        // write the associated data) and `buf` (exclusively borrowed), both
        // linear-mapped, for the duration of the call.
        unsafe { self.run(aead, dir, nonce, sg.as_mut_ptr(), aad.len(), buf.len()) }
    }

    /// Runs the operation on a linear-mapped copy of `aad` and `buf`, and
    /// copies `buf` back.
    fn crypt_bounced(
        &mut self,
        aead: &Aead,
        dir: Direction,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        let b_len = buf.len();
        let mut bounce = KVec::with_capacity(aad.len() + b_len, GFP_ATOMIC)?;
        bounce.extend_from_slice(aad, GFP_ATOMIC)?;
        bounce.extend_from_slice(buf, GFP_ATOMIC)?;
        let (b_aad, b_buf) = bounce.split_at_mut(aad.len());
        // A `KVec` is `kmalloc()` memory, linear-mapped.
        let result = self.crypt_direct(aead, dir, nonce, b_aad, b_buf);
        if result.is_ok() {
            buf.copy_from_slice(b_buf);
        }
        // The copy held plaintext.
        super::zeroize(&mut bounce);
        result.map(|()| b_len - TAG_LEN)
    }

    /// Encrypts, in place, `text_len` bytes at `offset + aad_len` in the
    /// linear data of `skb`, authenticating the `aad_len` bytes at `offset`,
    /// and writes the tag into the [`TAG_LEN`] bytes that follow.
    ///
    /// Fails with `EINVAL` if that range is not within the linear data.
    ///
    /// # Safety
    ///
    /// `skb` must point to a valid `struct sk_buff` whose data is not shared
    /// (not cloned, or made writable with `skb_ensure_writable()`) and that
    /// nothing else reads or writes for the duration of the call.
    #[cfg(CONFIG_NET)]
    pub unsafe fn encrypt_skb(
        &mut self,
        aead: &Aead,
        nonce: &[u8; NONCE_LEN],
        skb: *mut bindings::sk_buff,
        offset: usize,
        aad_len: usize,
        text_len: usize,
    ) -> Result {
        let len = text_len.checked_add(TAG_LEN).ok_or(EINVAL)?;
        // SAFETY: The caller's guarantees.
        unsafe { self.crypt_skb(aead, Direction::Encrypt, nonce, skb, offset, aad_len, len) }
    }

    /// Verifies and decrypts, in place, the `len` bytes (ciphertext then tag)
    /// at `offset + aad_len` in the linear data of `skb`, authenticating the
    /// `aad_len` bytes at `offset`, and returns the plaintext length.
    ///
    /// Fails with `EBADMSG` if the tag does not verify and `EINVAL` if the
    /// range is not within the linear data or `len` is shorter than the tag.
    ///
    /// # Safety
    ///
    /// As for [`AeadRequest::encrypt_skb`].
    #[cfg(CONFIG_NET)]
    pub unsafe fn decrypt_skb(
        &mut self,
        aead: &Aead,
        nonce: &[u8; NONCE_LEN],
        skb: *mut bindings::sk_buff,
        offset: usize,
        aad_len: usize,
        len: usize,
    ) -> Result<usize> {
        let text_len = len.checked_sub(TAG_LEN).ok_or(EINVAL)?;
        // SAFETY: The caller's guarantees.
        unsafe { self.crypt_skb(aead, Direction::Decrypt, nonce, skb, offset, aad_len, len) }?;
        Ok(text_len)
    }

    /// # Safety
    ///
    /// As for [`AeadRequest::encrypt_skb`].
    #[cfg(CONFIG_NET)]
    #[expect(clippy::too_many_arguments)]
    unsafe fn crypt_skb(
        &mut self,
        aead: &Aead,
        dir: Direction,
        nonce: &[u8; NONCE_LEN],
        skb: *mut bindings::sk_buff,
        offset: usize,
        aad_len: usize,
        len: usize,
    ) -> Result {
        let total = aad_len.checked_add(len).ok_or(EINVAL)?;
        let end = offset.checked_add(total).ok_or(EINVAL)?;
        // SAFETY: The caller guarantees `skb` is valid.
        let (skb_len, data_len) = unsafe { ((*skb).len, (*skb).data_len) };
        let headlen = skb_len.saturating_sub(data_len) as usize;
        if end > headlen || total == 0 {
            return Err(EINVAL);
        }
        let (offset, total) = (
            i32::try_from(offset).map_err(|_| EINVAL)?,
            i32::try_from(total).map_err(|_| EINVAL)?,
        );
        let mut sg: [bindings::scatterlist; 1] = pin_init::zeroed();
        // SAFETY: `sg` has room for one entry.
        unsafe { bindings::sg_init_table(sg.as_mut_ptr(), 1) };
        // SAFETY: `skb` is valid; the range lies within its linear data
        // (checked above), which `skb_to_sgvec()` maps with a single entry.
        let n = unsafe { bindings::skb_to_sgvec(skb, sg.as_mut_ptr(), offset, total) };
        if n != 1 {
            return Err(if n < 0 { Error::from_errno(n) } else { EINVAL });
        }
        // SAFETY: `sg` describes the skb's linear data (linear-mapped), which
        // the caller guarantees nothing else accesses during the call.
        unsafe { self.run(aead, dir, nonce, sg.as_mut_ptr(), aad_len, len) }
    }

    /// Runs one operation on the scatterlist `sg`, which holds `aad_len`
    /// bytes of associated data followed by `len` bytes: plaintext and room
    /// for the tag, or ciphertext and tag.
    ///
    /// # Safety
    ///
    /// `sg` must be a terminated scatterlist over linear-mapped memory of at
    /// least `aad_len + len` bytes, readable (the associated data) and
    /// writable (the rest), that nothing else accesses during the call.
    unsafe fn run(
        &mut self,
        aead: &Aead,
        dir: Direction,
        nonce: &[u8; NONCE_LEN],
        sg: *mut bindings::scatterlist,
        aad_len: usize,
        len: usize,
    ) -> Result {
        if aead.reqsize() > self.reqsize {
            return Err(EINVAL);
        }
        let crypt_len = match dir {
            Direction::Encrypt => len.checked_sub(TAG_LEN).ok_or(EINVAL)?,
            Direction::Decrypt => len,
        };
        let (aad_len, crypt_len) = (
            u32::try_from(aad_len).map_err(|_| EINVAL)?,
            u32::try_from(crypt_len).map_err(|_| EINVAL)?,
        );
        // The transform may use the IV as scratch space (`ccm(aes)` does).
        let mut iv = aead.alg.iv(nonce);
        let req = self.req.as_ptr();
        // SAFETY: `req` is large enough for `aead`'s transform (checked
        // above, type invariant) and exclusively ours (`&mut self`). No
        // callback is set: the transform is synchronous (`Aead` invariant),
        // so the operation is complete when `crypto_aead_*crypt()` returns,
        // as for the other synchronous users (e.g. mac80211's aead_api.c).
        // `sg` is valid as the caller guarantees, and `iv` outlives the call.
        let ret = unsafe {
            bindings::aead_request_set_tfm(req, aead.tfm.as_ptr());
            bindings::aead_request_set_callback(req, 0, None, core::ptr::null_mut());
            bindings::aead_request_set_crypt(req, sg, sg, crypt_len, iv.as_mut_ptr());
            bindings::aead_request_set_ad(req, aad_len);
            match dir {
                Direction::Encrypt => bindings::crypto_aead_encrypt(req),
                Direction::Decrypt => bindings::crypto_aead_decrypt(req),
            }
        };
        to_result(ret)
    }
}

impl Drop for AeadRequest {
    fn drop(&mut self) {
        // SAFETY: `self.req` was returned by `aead_request_alloc()` and is
        // owned by `self` (type invariant).
        unsafe { bindings::aead_request_free(self.req.as_ptr()) };
    }
}

#[macros::kunit_tests(rust_kernel_crypto_aead)]
mod tests {
    use super::*;
    use crate::alloc::flags::GFP_KERNEL;
    use crate::crypto::test_hex as hex;

    /// The 60-byte plaintext of the GCM specification's test cases 4 and 16.
    const GCM_PT: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                          1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    const GCM_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    const GCM_NONCE: [u8; NONCE_LEN] = [
        0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce, 0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88,
    ];

    fn nonce(s: &str) -> Result<[u8; NONCE_LEN]> {
        let v = hex(s)?;
        v.as_slice().try_into().map_err(|_| EINVAL)
    }

    /// Encrypts `pt` and expects `ct_tag`, then decrypts it back.
    fn check_kat(
        alg: Algorithm,
        key: &str,
        nonce: &[u8; NONCE_LEN],
        aad: &str,
        pt: &str,
        ct_tag: &str,
    ) -> Result {
        let aead = Aead::new(alg, &hex(key)?)?;
        assert_eq!(aead.algorithm(), alg);
        let (aad, pt, ct_tag) = (hex(aad)?, hex(pt)?, hex(ct_tag)?);
        let mut buf = KVec::new();
        buf.extend_from_slice(&pt, GFP_KERNEL)?;
        buf.extend_from_slice(&[0; TAG_LEN], GFP_KERNEL)?;
        aead.encrypt(nonce, &aad, &mut buf, GFP_KERNEL)?;
        assert_eq!(&buf[..], &ct_tag[..]);
        assert_eq!(aead.decrypt(nonce, &aad, &mut buf, GFP_KERNEL)?, pt.len());
        assert_eq!(&buf[..pt.len()], &pt[..]);
        Ok(())
    }

    /// "The Galois/Counter Mode of Operation (GCM)", test case 4.
    #[test]
    fn aes128_gcm_kat() -> Result {
        check_kat(
            Algorithm::AesGcm,
            "feffe9928665731c6d6a8f9467308308",
            &GCM_NONCE,
            GCM_AAD,
            GCM_PT,
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091\
             5bc94fbc3221a5db94fae95ae7121a47",
        )
    }

    /// "The Galois/Counter Mode of Operation (GCM)", test case 16.
    #[test]
    fn aes256_gcm_kat() -> Result {
        check_kat(
            Algorithm::AesGcm,
            "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            &GCM_NONCE,
            GCM_AAD,
            GCM_PT,
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
             76fc6ece0f4e1768cddf8853bb2d551b",
        )
    }

    /// RFC 9001 §A.4: the Retry integrity tag, AES-128-GCM over an empty
    /// plaintext.
    #[test]
    fn aes128_gcm_empty_plaintext_rfc9001_retry() -> Result {
        check_kat(
            Algorithm::AesGcm,
            "be0c690b9f66575a1d766b54e368c84e",
            &nonce("461599d35d632bf2239825bb")?,
            "088394c8f03e515708ff000000010008f067a5502a4262b5746f6b656e",
            "",
            "04a265ba2eff4d829058fb3f0f2496ba",
        )
    }

    /// RFC 8439 §2.8.2.
    #[test]
    fn chacha20_poly1305_rfc8439() -> Result {
        check_kat(
            Algorithm::ChaCha20Poly1305,
            "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
            &nonce("070000004041424344454647")?,
            "50515253c0c1c2c3c4c5c6c7",
            // "Ladies and Gentlemen of the class of '99: If I could offer you
            // only one tip for the future, sunscreen would be it."
            "4c616469657320616e642047656e746c656d656e206f662074686520636c6173\
             73206f66202739393a204966204920636f756c64206f6666657220796f75206f\
             6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73\
             637265656e20776f756c642062652069742e",
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
             3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
             92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
             3ff4def08e4b7a9de576d26586cec64b6116\
             1ae10b594f09e26a7e902ecbd0600691",
        )
    }

    /// NIST SP 800-38C example 3 (12-byte nonce, 20 bytes of associated
    /// data), with the 16-byte tag QUIC uses: its first eight bytes are the
    /// example's ciphertext tail, the rest as computed by OpenSSL.
    #[test]
    fn aes128_ccm_kat() -> Result {
        check_kat(
            Algorithm::AesCcm,
            "404142434445464748494a4b4c4d4e4f",
            &nonce("101112131415161718191a1b")?,
            "000102030405060708090a0b0c0d0e0f10111213",
            "202122232425262728292a2b2c2d2e2f3031323334353637",
            "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5\
             c87ae488918de93f17dd3e4934347f44",
        )
    }

    #[test]
    fn wrong_key_length() {
        for (alg, len) in [
            (Algorithm::AesGcm, 15),
            (Algorithm::AesGcm, 0),
            (Algorithm::AesGcm, 33),
            (Algorithm::AesCcm, 20),
            (Algorithm::ChaCha20Poly1305, 16),
            (Algorithm::ChaCha20Poly1305, 31),
        ] {
            assert!(Aead::new(alg, &[0x42; 40][..len]).err() == Some(EINVAL));
        }
        assert!(Aead::new(Algorithm::ChaCha20Poly1305, &[0x42; 32]).is_ok());
        assert!(Aead::new(Algorithm::AesCcm, &[0x42; 32]).is_ok());
    }

    #[test]
    fn short_buffer() -> Result {
        for alg in [
            Algorithm::AesGcm,
            Algorithm::AesCcm,
            Algorithm::ChaCha20Poly1305,
        ] {
            let aead = Aead::new(alg, &[7; 32])?;
            let mut buf = KVec::new();
            buf.extend_from_slice(&[0; TAG_LEN - 1], GFP_KERNEL)?;
            assert!(aead.encrypt(&[0; NONCE_LEN], b"h", &mut buf, GFP_KERNEL) == Err(EINVAL));
            assert!(aead.decrypt(&[0; NONCE_LEN], b"h", &mut buf, GFP_KERNEL) == Err(EINVAL));
            assert!(aead.decrypt(&[0; NONCE_LEN], b"h", &mut [], GFP_KERNEL) == Err(EINVAL));
        }
        Ok(())
    }

    /// Any change to the ciphertext, tag, associated data or nonce fails
    /// with `EBADMSG` and leaves no plaintext behind.
    #[test]
    fn tag_mismatch() -> Result {
        for alg in [
            Algorithm::AesGcm,
            Algorithm::AesCcm,
            Algorithm::ChaCha20Poly1305,
        ] {
            let key_len = if alg == Algorithm::ChaCha20Poly1305 {
                32
            } else {
                16
            };
            let aead = Aead::new(alg, &[9; 32][..key_len])?;
            let mut sealed = KVec::new();
            sealed.extend_from_slice(b"attack at dawn", GFP_KERNEL)?;
            sealed.extend_from_slice(&[0; TAG_LEN], GFP_KERNEL)?;
            let nonce = [3; NONCE_LEN];
            aead.encrypt(&nonce, b"header", &mut sealed, GFP_KERNEL)?;
            for flip in [0, 13, 14, 29] {
                let mut buf = KVec::new();
                buf.extend_from_slice(&sealed, GFP_KERNEL)?;
                buf[flip] ^= 0x80;
                assert!(aead.decrypt(&nonce, b"header", &mut buf, GFP_KERNEL) == Err(EBADMSG));
                assert!(buf.iter().all(|&b| b == 0));
            }
            let mut buf = KVec::new();
            buf.extend_from_slice(&sealed, GFP_KERNEL)?;
            assert!(aead.decrypt(&nonce, b"headeR", &mut buf, GFP_KERNEL) == Err(EBADMSG));
            buf.clear();
            buf.extend_from_slice(&sealed, GFP_KERNEL)?;
            assert!(aead.decrypt(&[4; NONCE_LEN], b"header", &mut buf, GFP_KERNEL) == Err(EBADMSG));
            buf.clear();
            buf.extend_from_slice(&sealed, GFP_KERNEL)?;
            assert_eq!(aead.decrypt(&nonce, b"header", &mut buf, GFP_KERNEL)?, 14);
            assert_eq!(&buf[..14], b"attack at dawn");
        }
        Ok(())
    }

    /// Stack buffers (virtually mapped) and static associated data go
    /// through a bounce buffer, with the same result; no associated data
    /// works too.
    #[test]
    fn stack_buffers_and_empty_aad() -> Result {
        let aead = Aead::new(Algorithm::AesGcm, &[1; 16])?;
        let mut req = AeadRequest::new(&aead, GFP_KERNEL)?;
        for aad in [&b""[..], &b"static header"[..]] {
            let mut heap = KVec::new();
            heap.extend_from_slice(&[0x5a; 48], GFP_KERNEL)?;
            let mut heap_aad = KVec::new();
            heap_aad.extend_from_slice(aad, GFP_KERNEL)?;
            req.encrypt(&aead, &[2; NONCE_LEN], &heap_aad, &mut heap)?;
            let mut stack = [0x5a; 48];
            req.encrypt(&aead, &[2; NONCE_LEN], aad, &mut stack)?;
            assert_eq!(&heap[..], &stack[..]);
            assert_eq!(req.decrypt(&aead, &[2; NONCE_LEN], aad, &mut stack)?, 32);
            assert!(stack[..32].iter().all(|&b| b == 0x5a));
        }
        Ok(())
    }

    /// One request serves several transforms and operations.
    #[test]
    fn request_reuse() -> Result {
        let gcm = Aead::new(Algorithm::AesGcm, &[1; 16])?;
        let chacha = Aead::new(Algorithm::ChaCha20Poly1305, &[1; 32])?;
        let mut req = AeadRequest::new(&gcm, GFP_KERNEL)?;
        let mut buf = KVec::new();
        buf.extend_from_slice(&[0; 32], GFP_KERNEL)?;
        for pn in 0u8..4 {
            req.encrypt(&gcm, &[pn; NONCE_LEN], b"aad", &mut buf)?;
            assert_eq!(req.decrypt(&gcm, &[pn; NONCE_LEN], b"aad", &mut buf)?, 16);
        }
        assert!(buf[..16].iter().all(|&b| b == 0));
        let mut req = AeadRequest::new(&chacha, GFP_KERNEL)?;
        req.encrypt(&chacha, &[0; NONCE_LEN], b"aad", &mut buf)?;
        assert_eq!(
            chacha.decrypt(&[0; NONCE_LEN], b"aad", &mut buf, GFP_KERNEL)?,
            16
        );
        Ok(())
    }

    /// A socket buffer owned by the test.
    #[cfg(CONFIG_NET)]
    struct TestSkb(NonNull<bindings::sk_buff>);

    #[cfg(CONFIG_NET)]
    impl TestSkb {
        fn with_data(data: &[u8]) -> Result<Self> {
            let len = u32::try_from(data.len())?;
            // SAFETY: Plain allocation, no flags, any node.
            let skb = unsafe { bindings::__alloc_skb(len, GFP_KERNEL.as_raw(), 0, -1) };
            let skb = NonNull::new(skb).ok_or(ENOMEM)?;
            // SAFETY: `skb` was just allocated with `len` bytes of tailroom;
            // `skb_put()` returns a pointer to `len` writable bytes.
            unsafe {
                let dst = bindings::skb_put(skb.as_ptr(), len).cast::<u8>();
                core::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
            }
            Ok(Self(skb))
        }

        fn data(&self) -> &[u8] {
            // SAFETY: The skb is ours and linear: `data` holds `len` bytes.
            unsafe {
                let skb = self.0.as_ptr();
                core::slice::from_raw_parts((*skb).data, (*skb).len as usize)
            }
        }
    }

    #[cfg(CONFIG_NET)]
    impl Drop for TestSkb {
        fn drop(&mut self) {
            // SAFETY: The skb is ours, with one reference.
            unsafe { bindings::__kfree_skb(self.0.as_ptr()) };
        }
    }

    /// In place in an skb's linear data, as over a slice.
    #[cfg(CONFIG_NET)]
    #[test]
    fn skb_linear_data() -> Result {
        let aead = Aead::new(Algorithm::ChaCha20Poly1305, &[8; 32])?;
        let mut req = AeadRequest::new(&aead, GFP_KERNEL)?;
        let nonce = [6; NONCE_LEN];
        // 3 bytes of headroom, 5 of header, 20 of payload, the tag, 2 more.
        let mut packet = KVec::new();
        packet.extend_from_slice(&[0xee; 3], GFP_KERNEL)?;
        packet.extend_from_slice(b"hdr:5", GFP_KERNEL)?;
        packet.extend_from_slice(&[0x11; 20], GFP_KERNEL)?;
        packet.extend_from_slice(&[0; TAG_LEN + 2], GFP_KERNEL)?;
        let skb = TestSkb::with_data(&packet)?;
        let mut expected = KVec::new();
        expected.extend_from_slice(&packet[8..8 + 20 + TAG_LEN], GFP_KERNEL)?;
        aead.encrypt(&nonce, b"hdr:5", &mut expected, GFP_KERNEL)?;

        // SAFETY: The skb is ours, not cloned, and not used elsewhere.
        unsafe { req.encrypt_skb(&aead, &nonce, skb.0.as_ptr(), 3, 5, 20) }?;
        assert_eq!(&skb.data()[8..8 + 20 + TAG_LEN], &expected[..]);
        assert_eq!(&skb.data()[..8], b"\xee\xee\xeehdr:5");
        // SAFETY: As above.
        let n = unsafe { req.decrypt_skb(&aead, &nonce, skb.0.as_ptr(), 3, 5, 20 + TAG_LEN) }?;
        assert_eq!(n, 20);
        // The plaintext is back; the tag stays where it was.
        assert_eq!(&skb.data()[..8 + 20], &packet[..8 + 20]);
        assert_eq!(&skb.data()[8 + 20..8 + 20 + TAG_LEN], &expected[20..]);
        // Past the end of the linear data, or too short for a tag.
        // SAFETY: As above.
        let past = unsafe { req.decrypt_skb(&aead, &nonce, skb.0.as_ptr(), 3, 5, 40) };
        assert!(past == Err(EINVAL));
        // SAFETY: As above.
        let short = unsafe { req.decrypt_skb(&aead, &nonce, skb.0.as_ptr(), 3, 5, 15) };
        assert!(short == Err(EINVAL));
        // SAFETY: As above.
        let forged = unsafe { req.decrypt_skb(&aead, &nonce, skb.0.as_ptr(), 3, 5, 20 + TAG_LEN) };
        assert!(forged == Err(EBADMSG));
        Ok(())
    }
}
