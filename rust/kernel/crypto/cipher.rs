// SPDX-License-Identifier: GPL-2.0

//! Block and stream ciphers from the crypto library, for small inputs.
//!
//! - [`AesEncKey`]: AES encryption of single blocks (AES-ECB on one block),
//!   over `aes_prepareenckey()` and `aes_encrypt()`;
//! - [`ChaCha20Key`]: the ChaCha20 keystream (RFC 8439) for a caller-chosen
//!   block counter and nonce, over `chacha_init()` and `chacha_crypt()`.
//!
//! Both are what header protection needs (QUIC, RFC 9001 §5.4): a mask from a
//! 16-byte sample of ciphertext. The library functions take plain pointers
//! (no scatterlists), allocate nothing and do not sleep: they run in any
//! context, on any memory, including the stack.
//!
//! C headers: [`include/crypto/aes.h`](srctree/include/crypto/aes.h),
//! [`include/crypto/chacha.h`](srctree/include/crypto/chacha.h).

#[cfg(CONFIG_CRYPTO_LIB_AES = "y")]
pub use self::aes::{AesEncKey, AES_BLOCK_SIZE};
#[cfg(CONFIG_CRYPTO_LIB_CHACHA = "y")]
pub use self::chacha::{ChaCha20Key, CHACHA20_IV_SIZE, CHACHA20_KEY_SIZE};

#[cfg(CONFIG_CRYPTO_LIB_AES = "y")]
mod aes {
    use crate::{bindings, error::code::EINVAL, error::Result};

    /// The AES block size.
    pub const AES_BLOCK_SIZE: usize = bindings::AES_BLOCK_SIZE as usize;

    /// An AES key prepared for encryption (`struct aes_enckey`): 16, 24 or
    /// 32 bytes of key.
    ///
    /// # Invariants
    ///
    /// `key` was initialised by a successful `aes_prepareenckey()`.
    pub struct AesEncKey {
        key: bindings::aes_enckey,
    }

    impl AesEncKey {
        /// Prepares `key`. Fails with `EINVAL` unless it is 16, 24 or 32
        /// bytes long.
        pub fn new(key: &[u8]) -> Result<Self> {
            let mut this = Self {
                key: pin_init::zeroed(),
            };
            // SAFETY: `this.key` is valid for writes; `key` is valid for
            // reads of `key.len()` bytes. The length is checked by the callee.
            let ret =
                unsafe { bindings::aes_prepareenckey(&mut this.key, key.as_ptr(), key.len()) };
            if ret != 0 {
                return Err(EINVAL);
            }
            // INVARIANT: `aes_prepareenckey()` succeeded.
            Ok(this)
        }

        /// The key length in bytes.
        pub fn key_len(&self) -> usize {
            self.key.len as usize
        }

        /// Encrypts one block.
        pub fn encrypt_block(&self, block: &[u8; AES_BLOCK_SIZE]) -> [u8; AES_BLOCK_SIZE] {
            let mut out = [0u8; AES_BLOCK_SIZE];
            let key = bindings::aes_encrypt_arg { enc_key: &self.key };
            // SAFETY: `self.key` is a prepared key (type invariant), `out`
            // and `block` are valid for one block each.
            unsafe { bindings::aes_encrypt(key, out.as_mut_ptr(), block.as_ptr()) };
            out
        }
    }

    impl Drop for AesEncKey {
        fn drop(&mut self) {
            super::super::zeroize_value(&mut self.key);
        }
    }
}

#[cfg(CONFIG_CRYPTO_LIB_CHACHA = "y")]
mod chacha {
    use crate::{bindings, error::code::EINVAL, error::Result};

    /// The ChaCha20 key size.
    pub const CHACHA20_KEY_SIZE: usize = bindings::CHACHA_KEY_SIZE as usize;
    /// The size of the initial counter and nonce: a 32-bit little-endian
    /// block counter followed by a 96-bit nonce (RFC 8439 §2.3).
    pub const CHACHA20_IV_SIZE: usize = bindings::CHACHA_IV_SIZE as usize;

    /// A ChaCha20 key.
    pub struct ChaCha20Key {
        /// The key as the little-endian words of the ChaCha state.
        words: [u32; 8],
    }

    impl ChaCha20Key {
        /// A key from its 32 bytes. Fails with `EINVAL` on another length.
        pub fn new(key: &[u8]) -> Result<Self> {
            if key.len() != CHACHA20_KEY_SIZE {
                return Err(EINVAL);
            }
            let mut words = [0u32; 8];
            for (w, b) in words.iter_mut().zip(key.chunks_exact(4)) {
                *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            Ok(Self { words })
        }

        /// XORs `data` with the ChaCha20 keystream starting at `iv`: the
        /// block counter (little endian) then the nonce, as in RFC 8439's
        /// state words 12 to 15.
        pub fn apply_keystream(&self, iv: &[u8; CHACHA20_IV_SIZE], data: &mut [u8]) {
            let mut state: bindings::chacha_state = pin_init::zeroed();
            // SAFETY: `state` is valid for writes, `self.words` holds eight
            // words and `iv` sixteen bytes.
            unsafe { bindings::chacha_init(&mut state, self.words.as_ptr(), iv.as_ptr()) };
            // `chacha_crypt()` takes an `unsigned int` length: go in chunks,
            // whole blocks except at the end, so the counter carries on.
            const CHUNK: usize = 1 << 30;
            for chunk in data.chunks_mut(CHUNK) {
                let ptr = chunk.as_mut_ptr();
                // SAFETY: `state` is initialised; `ptr` is valid for reads and
                // writes of `chunk.len()` bytes, and `chacha_crypt()` allows
                // the source and destination to be the same buffer.
                unsafe { bindings::chacha_crypt(&mut state, ptr, ptr, chunk.len() as u32, 20) };
            }
            super::super::zeroize_value(&mut state);
        }
    }

    impl Drop for ChaCha20Key {
        fn drop(&mut self) {
            super::super::zeroize_value(&mut self.words);
        }
    }
}

#[macros::kunit_tests(rust_kernel_crypto_cipher)]
mod tests {
    use super::*;
    use crate::crypto::test_hex as hex;
    use crate::error::{code::EINVAL, Result};

    fn array<const N: usize>(s: &str) -> Result<[u8; N]> {
        hex(s)?.as_slice().try_into().map_err(|_| EINVAL)
    }

    /// FIPS-197 Appendix C.1 and C.3.
    #[cfg(CONFIG_CRYPTO_LIB_AES = "y")]
    #[test]
    fn aes_fips197() -> Result {
        let pt = array("00112233445566778899aabbccddeeff")?;
        let k128 = AesEncKey::new(&hex("000102030405060708090a0b0c0d0e0f")?)?;
        assert_eq!(k128.key_len(), 16);
        assert_eq!(
            k128.encrypt_block(&pt),
            array("69c4e0d86a7b0430d8cdb78070b4c55a")?
        );
        let k256 = AesEncKey::new(&hex(
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        )?)?;
        assert_eq!(
            k256.encrypt_block(&pt),
            array("8ea2b7ca516745bfeafc49904b496089")?
        );
        Ok(())
    }

    /// RFC 9001 §A.2 and §A.3: header protection masks of the client and
    /// server Initial packets (the first five bytes of AES-ECB of the sample).
    #[cfg(CONFIG_CRYPTO_LIB_AES = "y")]
    #[test]
    fn aes_quic_header_protection() -> Result {
        for (key, sample, mask) in [
            (
                "9f50449e04a0e810283a1e9933adedd2",
                "d1b1c98dd7689fb8ec11d242b123dc9b",
                "437b9aec36",
            ),
            (
                "c206b8d9b9f0f37644430b490eeaa314",
                "2cd0991cd25b0aac406a5816b6394100",
                "2ec0d8356a",
            ),
        ] {
            let block = AesEncKey::new(&hex(key)?)?.encrypt_block(&array(sample)?);
            assert_eq!(&block[..5], &hex(mask)?[..]);
        }
        Ok(())
    }

    #[cfg(CONFIG_CRYPTO_LIB_AES = "y")]
    #[test]
    fn aes_wrong_key_length() {
        for len in [0, 15, 17, 31, 33] {
            assert!(AesEncKey::new(&[0; 40][..len]).err() == Some(EINVAL));
        }
        assert!(AesEncKey::new(&[0; 24]).is_ok());
    }

    /// RFC 8439 §2.4.2: the keystream for counter 1, over 130 bytes (three
    /// blocks: the counter carries on between blocks).
    #[cfg(CONFIG_CRYPTO_LIB_CHACHA = "y")]
    #[test]
    fn chacha20_rfc8439_keystream() -> Result {
        let key = ChaCha20Key::new(&hex(
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        )?)?;
        let iv = array("01000000000000000000004a00000000")?;
        let mut data = crate::alloc::KVec::new();
        data.extend_from_slice(&[0; 130], crate::alloc::flags::GFP_KERNEL)?;
        key.apply_keystream(&iv, &mut data);
        let expected = hex(
            "224f51f3401bd9e12fde276fb8631ded8c131f823d2c06e27e4fcaec9ef3cf78\
             8a3b0aa372600a92b57974cded2b9334794cba40c63e34cdea212c4cf07d41b7\
             69a6749f3f630f4122cafe28ec4dc47e26d4346d70b98c73f3e9c53ac40c5945\
             398b6eda1a832c89c167eacd901d7e2bf363740373201aa188fbbce83991c4ed\
             c8ed",
        )?;
        assert_eq!(&data[..], &expected[..]);
        // Applying it again restores the input.
        key.apply_keystream(&iv, &mut data);
        assert!(data.iter().all(|&b| b == 0));
        Ok(())
    }

    /// RFC 9001 §A.5: the ChaCha20 header protection mask, with the sample as
    /// counter and nonce.
    #[cfg(CONFIG_CRYPTO_LIB_CHACHA = "y")]
    #[test]
    fn chacha20_quic_header_protection() -> Result {
        let key = ChaCha20Key::new(&hex(
            "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
        )?)?;
        let mut mask = [0u8; 5];
        key.apply_keystream(&array("5e5cd55c41f69080575d7999c25a5bfb")?, &mut mask);
        assert_eq!(mask, array("aefefe7d03")?);
        assert!(ChaCha20Key::new(&[0; 16]).err() == Some(EINVAL));
        assert!(ChaCha20Key::new(&[0; 33]).err() == Some(EINVAL));
        Ok(())
    }
}
