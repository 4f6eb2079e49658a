// SPDX-License-Identifier: GPL-2.0

//! Cryptography.
//!
//! Safe abstractions over the kernel's crypto API and crypto library, as
//! packet protection protocols (QUIC, TLS record layers) use them:
//!
//! - [`aead`]: authenticated encryption with associated data over
//!   `crypto_alloc_aead()` transforms (AES-GCM, AES-CCM, ChaCha20-Poly1305),
//!   in place over byte slices and over socket buffers;
//! - [`cipher`]: single-block AES and the ChaCha20 keystream from the crypto
//!   library, for header protection masks;
//! - [`hkdf`]: HKDF (RFC 5869) over the library's HMAC-SHA256 and
//!   HMAC-SHA384.
//!
//! C headers: [`include/crypto/aead.h`](srctree/include/crypto/aead.h),
//! [`include/crypto/aes.h`](srctree/include/crypto/aes.h),
//! [`include/crypto/chacha.h`](srctree/include/crypto/chacha.h),
//! [`include/crypto/sha2.h`](srctree/include/crypto/sha2.h).

#[cfg(CONFIG_CRYPTO_AEAD2 = "y")]
pub mod aead;
#[cfg(any(CONFIG_CRYPTO_LIB_AES = "y", CONFIG_CRYPTO_LIB_CHACHA = "y"))]
pub mod cipher;
#[cfg(all(CONFIG_CRYPTO_LIB_SHA256 = "y", CONFIG_CRYPTO_LIB_SHA512 = "y"))]
pub mod hkdf;

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
