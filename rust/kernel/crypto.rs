// SPDX-License-Identifier: GPL-2.0

//! Cryptography.
//!
//! Safe abstractions over the kernel's crypto API and crypto library, as
//! packet protection protocols (QUIC, TLS record layers) use them:
//!
//! - [`lib_aead`]: the same [`AeadAlgorithm`]s over the crypto library
//!   (`aes_gcm_*()`, `aes_ccm_*()`, ChaCha20 and Poly1305): no transform, no
//!   allocation, any context, in place over byte slices;
//! - [`aead`]: authenticated encryption with associated data over
//!   `crypto_alloc_aead()` transforms (AES-GCM, AES-CCM, ChaCha20-Poly1305),
//!   in place over byte slices and over socket buffers, for callers that
//!   want the crypto API's implementations (e.g. asynchronous offload);
//! - [`cipher`]: single-block AES and the ChaCha20 keystream from the crypto
//!   library, for header protection masks;
//! - [`hkdf`]: HKDF (RFC 5869) over the library's HMAC-SHA256 and
//!   HMAC-SHA384.
//!
//! C headers: [`include/crypto/aead.h`](srctree/include/crypto/aead.h),
//! [`include/crypto/aes-gcm.h`](srctree/include/crypto/aes-gcm.h),
//! [`include/crypto/aes-ccm.h`](srctree/include/crypto/aes-ccm.h),
//! [`include/crypto/poly1305.h`](srctree/include/crypto/poly1305.h),
//! [`include/crypto/aes.h`](srctree/include/crypto/aes.h),
//! [`include/crypto/chacha.h`](srctree/include/crypto/chacha.h),
//! [`include/crypto/sha2.h`](srctree/include/crypto/sha2.h).

#[cfg(CONFIG_CRYPTO_AEAD2 = "y")]
pub mod aead;
#[cfg(CONFIG_KUNIT = "y")]
mod aead_kat;
#[cfg(any(CONFIG_CRYPTO_LIB_AES = "y", CONFIG_CRYPTO_LIB_CHACHA = "y"))]
pub mod cipher;
#[cfg(all(CONFIG_CRYPTO_LIB_SHA256 = "y", CONFIG_CRYPTO_LIB_SHA512 = "y"))]
pub mod hkdf;
#[cfg(all(
    CONFIG_CRYPTO_LIB_AES_GCM = "y",
    CONFIG_CRYPTO_LIB_AES_CCM = "y",
    CONFIG_CRYPTO_LIB_CHACHA = "y",
    CONFIG_CRYPTO_LIB_POLY1305 = "y"
))]
pub mod lib_aead;

/// The tag length of every [`AeadAlgorithm`], as QUIC and TLS 1.3 use them.
pub const AEAD_TAG_LEN: usize = 16;
/// The nonce length of every [`AeadAlgorithm`].
pub const AEAD_NONCE_LEN: usize = 12;

/// The AEAD algorithms of [`aead::Aead`] and [`lib_aead::LibAead`], each
/// with a [`AEAD_NONCE_LEN`]-byte nonce and a [`AEAD_TAG_LEN`]-byte tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AeadAlgorithm {
    /// AES in Galois/Counter Mode, 16-, 24- or 32-byte keys.
    AesGcm,
    /// AES in Counter with CBC-MAC mode with a 12-byte nonce (so a 3-byte
    /// length field, RFC 3610), 16-, 24- or 32-byte keys.
    AesCcm,
    /// ChaCha20-Poly1305 of RFC 8439, 32-byte keys.
    ChaCha20Poly1305,
}

/// Overwrites `bytes` with zeros in a way the compiler does not elide, like
/// C's `memzero_explicit()`: for key material about to go out of scope.
pub fn zeroize(bytes: &mut [u8]) {
    // SAFETY: `bytes` is valid for writes of `bytes.len()` bytes.
    unsafe { zeroize_raw(bytes.as_mut_ptr(), bytes.len()) };
}

/// Overwrites `value` with zeros (padding included), see [`zeroize`]. The
/// all-zero bit pattern is a valid `T` (`T: Zeroable`).
pub fn zeroize_value<T: pin_init::Zeroable>(value: &mut T) {
    // SAFETY: `value` is valid for writes of `size_of::<T>()` bytes, and the
    // zeros written are a valid `T` (`Zeroable`).
    unsafe {
        zeroize_raw(
            core::ptr::from_mut(value).cast::<u8>(),
            core::mem::size_of::<T>(),
        )
    };
}

/// # Safety
///
/// `ptr` must be valid for writes of `len` bytes.
unsafe fn zeroize_raw(ptr: *mut u8, len: usize) {
    for i in 0..len {
        // SAFETY: `i < len`, and the caller guarantees `ptr` is valid for
        // writes of `len` bytes.
        unsafe { core::ptr::write_volatile(ptr.add(i), 0) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// Decodes a hexadecimal test vector; whitespace is skipped.
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) fn test_hex(s: &str) -> crate::error::Result<crate::alloc::KVec<u8>> {
    use crate::{alloc::flags::GFP_KERNEL, error::code::EINVAL};
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(EINVAL),
    };
    let mut out = crate::alloc::KVec::with_capacity(s.len() / 2, GFP_KERNEL)?;
    let mut high = None;
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let n = nibble(c)?;
        match high.take() {
            None => high = Some(n),
            Some(h) => out.push((h << 4) | n, GFP_KERNEL)?,
        }
    }
    if high.is_some() {
        return Err(EINVAL);
    }
    Ok(out)
}
