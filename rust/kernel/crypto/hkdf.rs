// SPDX-License-Identifier: GPL-2.0

//! HKDF, the HMAC-based key derivation function of RFC 5869.
//!
//! [`extract`] and [`expand`] (or a [`Prk`] prepared once and expanded many
//! times) over the crypto library's HMAC-SHA256 and HMAC-SHA384. Protocols
//! build their own labelled expansions on top (TLS 1.3's
//! `HKDF-Expand-Label`, for instance).
//!
//! The library functions take plain pointers, allocate nothing and do not
//! sleep: any context, any memory. Intermediate state is wiped before
//! returning, and a [`Prk`] is wiped when dropped.
//!
//! C header: [`include/crypto/sha2.h`](srctree/include/crypto/sha2.h).

use crate::{bindings, error::code::EINVAL, error::Result};

/// The hash function under HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

/// The longest hash output: SHA-384's.
pub const MAX_HASH_LEN: usize = bindings::SHA384_DIGEST_SIZE as usize;

impl Hash {
    /// The output length in bytes (`HashLen`).
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha256 => bindings::SHA256_DIGEST_SIZE as usize,
            Self::Sha384 => bindings::SHA384_DIGEST_SIZE as usize,
        }
    }
}

/// `HKDF-Extract(salt, ikm)` into `prk`, which must be
/// [`Hash::output_len`] bytes long (else `EINVAL`).
pub fn extract(hash: Hash, salt: &[u8], ikm: &[u8], prk: &mut [u8]) -> Result {
    if prk.len() != hash.output_len() {
        return Err(EINVAL);
    }
    // HKDF-Extract is HMAC-Hash(salt, IKM).
    // SAFETY: `salt` and `ikm` are valid for reads of their lengths, `prk` for
    // writes of the hash's output length (checked above).
    unsafe {
        match hash {
            Hash::Sha256 => bindings::hmac_sha256_usingrawkey(
                salt.as_ptr(),
                salt.len(),
                ikm.as_ptr(),
                ikm.len(),
                prk.as_mut_ptr(),
            ),
            Hash::Sha384 => bindings::hmac_sha384_usingrawkey(
                salt.as_ptr(),
                salt.len(),
                ikm.as_ptr(),
                ikm.len(),
                prk.as_mut_ptr(),
            ),
        }
    }
    Ok(())
}

/// `HKDF-Expand(prk, info, okm.len())` into `okm`.
///
/// Fails with `EINVAL` if `prk` is shorter than [`Hash::output_len`] or
/// `okm` longer than 255 times that.
pub fn expand(hash: Hash, prk: &[u8], info: &[u8], okm: &mut [u8]) -> Result {
    Prk::new(hash, prk)?.expand(info, okm)
}

/// An HMAC key prepared by the library.
enum Key {
    Sha256(bindings::hmac_sha256_key),
    Sha384(bindings::hmac_sha384_key),
}

/// A pseudorandom key prepared for `HKDF-Expand`: the HMAC key schedule is
/// computed once, for any number of expansions.
///
/// # Invariants
///
/// `key` was initialised by `hmac_sha256_preparekey()` or
/// `hmac_sha384_preparekey()`, according to its variant.
pub struct Prk {
    key: Key,
}

impl Prk {
    /// Prepares `prk`. Fails with `EINVAL` if it is shorter than
    /// [`Hash::output_len`] (RFC 5869 §2.3).
    pub fn new(hash: Hash, prk: &[u8]) -> Result<Self> {
        if prk.len() < hash.output_len() {
            return Err(EINVAL);
        }
        let key = match hash {
            Hash::Sha256 => {
                let mut key: bindings::hmac_sha256_key = pin_init::zeroed();
                // SAFETY: `key` is valid for writes, `prk` for reads of its
                // length.
                unsafe { bindings::hmac_sha256_preparekey(&mut key, prk.as_ptr(), prk.len()) };
                Key::Sha256(key)
            }
            Hash::Sha384 => {
                let mut key: bindings::hmac_sha384_key = pin_init::zeroed();
                // SAFETY: As above.
                unsafe { bindings::hmac_sha384_preparekey(&mut key, prk.as_ptr(), prk.len()) };
                Key::Sha384(key)
            }
        };
        // INVARIANT: the key was prepared for its variant.
        Ok(Self { key })
    }

    /// The hash of this key.
    pub fn hash(&self) -> Hash {
        match self.key {
            Key::Sha256(_) => Hash::Sha256,
            Key::Sha384(_) => Hash::Sha384,
        }
    }

    /// `HMAC-Hash(PRK, parts[0] | parts[1] | ...)` into `out`, which holds
    /// at least [`MAX_HASH_LEN`] bytes.
    fn hmac(&self, parts: &[&[u8]], out: &mut [u8; MAX_HASH_LEN]) {
        match &self.key {
            Key::Sha256(key) => {
                let mut ctx: bindings::hmac_sha256_ctx = pin_init::zeroed();
                // SAFETY: `key` is prepared (type invariant); `ctx` is valid
                // for writes; every part is valid for reads of its length;
                // `out` holds at least the 32 bytes of output.
                unsafe {
                    bindings::hmac_sha256_init(&mut ctx, key);
                    for part in parts {
                        bindings::hmac_sha256_update(&mut ctx, part.as_ptr(), part.len());
                    }
                    bindings::hmac_sha256_final(&mut ctx, out.as_mut_ptr());
                }
                // `hmac_sha256_final()` wipes the context already; this costs
                // little and does not depend on it.
                super::zeroize_value(&mut ctx);
            }
            Key::Sha384(key) => {
                let mut ctx: bindings::hmac_sha384_ctx = pin_init::zeroed();
                // SAFETY: As above, with 48 bytes of output.
                unsafe {
                    bindings::hmac_sha384_init(&mut ctx, key);
                    for part in parts {
                        bindings::hmac_sha384_update(&mut ctx, part.as_ptr(), part.len());
                    }
                    bindings::hmac_sha384_final(&mut ctx, out.as_mut_ptr());
                }
                super::zeroize_value(&mut ctx);
            }
        }
    }

    /// `HKDF-Expand(PRK, info, okm.len())` into `okm`. Fails with `EINVAL` if
    /// `okm` is longer than 255 hash outputs.
    pub fn expand(&self, info: &[u8], okm: &mut [u8]) -> Result {
        let n = self.hash().output_len();
        if okm.len() > 255 * n {
            return Err(EINVAL);
        }
        // T(0) = empty; T(i) = HMAC-Hash(PRK, T(i - 1) | info | i).
        let mut t = [0u8; MAX_HASH_LEN];
        let mut prev = [0u8; MAX_HASH_LEN];
        let mut prev_len = 0;
        for (i, chunk) in okm.chunks_mut(n).enumerate() {
            // At most 255 chunks (checked above): `i + 1` fits in a byte.
            let counter = [(i + 1) as u8];
            self.hmac(&[&prev[..prev_len], info, &counter], &mut t);
            chunk.copy_from_slice(&t[..chunk.len()]);
            prev = t;
            prev_len = n;
        }
        super::zeroize(&mut t);
        super::zeroize(&mut prev);
        Ok(())
    }
}

impl Drop for Prk {
    fn drop(&mut self) {
        match &mut self.key {
            Key::Sha256(key) => super::zeroize_value(key),
            Key::Sha384(key) => super::zeroize_value(key),
        }
    }
}

#[macros::kunit_tests(rust_kernel_crypto_hkdf)]
mod tests {
    use super::*;
    use crate::alloc::{flags::GFP_KERNEL, KVec};
    use crate::crypto::test_hex as hex;

    /// Extracts and expands, checking the PRK and the OKM.
    fn check(hash: Hash, salt: &str, ikm: &str, info: &str, prk: &str, okm: &str) -> Result {
        let (expected_prk, expected_okm) = (hex(prk)?, hex(okm)?);
        let mut got_prk = [0u8; MAX_HASH_LEN];
        let got_prk = &mut got_prk[..hash.output_len()];
        extract(hash, &hex(salt)?, &hex(ikm)?, got_prk)?;
        assert_eq!(&got_prk[..], &expected_prk[..]);
        let mut got_okm = KVec::new();
        got_okm.extend_with(255, 0, GFP_KERNEL)?;
        let got_okm = &mut got_okm[..expected_okm.len()];
        expand(hash, got_prk, &hex(info)?, got_okm)?;
        assert_eq!(&got_okm[..], &expected_okm[..]);
        Ok(())
    }

    /// RFC 5869 §A.1: basic test case with SHA-256.
    #[test]
    fn rfc5869_case1() -> Result {
        check(
            Hash::Sha256,
            "000102030405060708090a0b0c",
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "f0f1f2f3f4f5f6f7f8f9",
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf\
             34007208d5b887185865",
        )
    }

    /// RFC 5869 §A.2: longer inputs and outputs.
    #[test]
    fn rfc5869_case2() -> Result {
        check(
            Hash::Sha256,
            "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f\
             808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\
             a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
             202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\
             404142434445464748494a4b4c4d4e4f",
            "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf\
             d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef\
             f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
            "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
             59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
             cc30c58179ec3e87c14c01d5c1f3434f1d87",
        )
    }

    /// RFC 5869 §A.3: zero-length salt and info.
    #[test]
    fn rfc5869_case3() -> Result {
        check(
            Hash::Sha256,
            "",
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "",
            "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d\
             9d201395faa4b61a96c8",
        )
    }

    /// RFC 5869 case 1's inputs with SHA-384 and 100 bytes of output (three
    /// blocks), as computed by OpenSSL.
    #[test]
    fn sha384() -> Result {
        check(
            Hash::Sha384,
            "000102030405060708090a0b0c",
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            "f0f1f2f3f4f5f6f7f8f9",
            "704b39990779ce1dc548052c7dc39f303570dd13fb39f7acc564680bef80e8de\
             c70ee9a7e1f3e293ef68eceb072a5ade",
            "9b5097a86038b805309076a44b3a9f38063e25b516dcbf369f394cfab43685f7\
             48b6457763e4f0204fc5d95d1da3e62587b22eb8943d0fab6bb631a2fe9df1a6\
             8c6ce5d56116a52005b3f122b88b39b7251fcd6c44d3ef25f20ed96802bf1b2c\
             1d98bf74",
        )
    }

    #[test]
    fn bad_lengths() -> Result {
        let mut prk = [0u8; 48];
        assert!(extract(Hash::Sha256, b"", b"", &mut prk) == Err(EINVAL));
        assert!(extract(Hash::Sha384, b"", b"", &mut prk[..32]) == Err(EINVAL));
        assert!(Prk::new(Hash::Sha384, &prk[..47]).err() == Some(EINVAL));
        let mut okm = KVec::new();
        okm.extend_with(255 * 32 + 1, 0, GFP_KERNEL)?;
        assert!(expand(Hash::Sha256, &prk[..32], b"", &mut okm) == Err(EINVAL));
        // The longest output is allowed, and a prepared key expands twice
        // the same way.
        let prk = Prk::new(Hash::Sha256, &prk[..32])?;
        assert_eq!(prk.hash(), Hash::Sha256);
        prk.expand(b"x", &mut okm[..255 * 32])?;
        let mut again = [0u8; 40];
        prk.expand(b"x", &mut again)?;
        assert_eq!(&again[..], &okm[..40]);
        Ok(())
    }
}
