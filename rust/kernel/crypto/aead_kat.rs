// SPDX-License-Identifier: GPL-2.0

//! Known-answer vectors and property checks shared by the KUnit suites of
//! the AEAD implementations ([`super::aead`] and [`super::lib_aead`]), so
//! that both are held to the same vectors and the same error contract.
//!
//! The checks report failed assertions to the KUnit test that runs them.

use super::{AeadAlgorithm, AEAD_NONCE_LEN, AEAD_TAG_LEN};
use crate::{
    alloc::{flags::GFP_KERNEL, KVec},
    crypto::test_hex as hex,
    error::{code::*, Result},
};

/// `assert!` reported to the running KUnit test (the suites' own `assert!`
/// is only rewritten inside `#[kunit_tests]` modules).
macro_rules! assert {
    ($cond:expr $(,)?) => {
        crate::kunit_assert!("aead_kat", c"rust/kernel/crypto/aead_kat.rs", 0, $cond)
    };
}

/// `assert_eq!` reported to the running KUnit test.
macro_rules! assert_eq {
    ($left:expr, $right:expr $(,)?) => {
        crate::kunit_assert_eq!(
            "aead_kat",
            c"rust/kernel/crypto/aead_kat.rs",
            0,
            $left,
            $right
        )
    };
}

/// An AEAD under test, keyed for one algorithm.
pub(crate) trait TestAead: Sized {
    /// Keys `alg` with `key`.
    fn new(alg: AeadAlgorithm, key: &[u8]) -> Result<Self>;
    /// The algorithm keyed.
    fn algorithm(&self) -> AeadAlgorithm;
    /// Encrypts `buf` (plaintext then room for the tag) in place.
    fn seal(&self, nonce: &[u8; AEAD_NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result;
    /// Verifies and decrypts `buf` (ciphertext then tag) in place.
    fn open(&self, nonce: &[u8; AEAD_NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<usize>;
}

/// Every algorithm.
pub(crate) const ALGORITHMS: [AeadAlgorithm; 3] = [
    AeadAlgorithm::AesGcm,
    AeadAlgorithm::AesCcm,
    AeadAlgorithm::ChaCha20Poly1305,
];

/// A known answer: `pt` under `key`, `nonce` and `aad` seals to `ct_tag`.
pub(crate) struct Kat {
    pub(crate) alg: AeadAlgorithm,
    pub(crate) key: &'static str,
    pub(crate) nonce: &'static str,
    pub(crate) aad: &'static str,
    pub(crate) pt: &'static str,
    pub(crate) ct_tag: &'static str,
}

/// The 60-byte plaintext of the GCM specification's test cases 4 and 16.
const GCM_PT: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                      1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const GCM_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const GCM_NONCE: &str = "cafebabefacedbaddecaf888";

/// The vectors.
pub(crate) const KATS: [Kat; 5] = [
    // "The Galois/Counter Mode of Operation (GCM)", test case 4.
    Kat {
        alg: AeadAlgorithm::AesGcm,
        key: "feffe9928665731c6d6a8f9467308308",
        nonce: GCM_NONCE,
        aad: GCM_AAD,
        pt: GCM_PT,
        ct_tag: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091\
                 5bc94fbc3221a5db94fae95ae7121a47",
    },
    // "The Galois/Counter Mode of Operation (GCM)", test case 16.
    Kat {
        alg: AeadAlgorithm::AesGcm,
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        nonce: GCM_NONCE,
        aad: GCM_AAD,
        pt: GCM_PT,
        ct_tag: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                 8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
                 76fc6ece0f4e1768cddf8853bb2d551b",
    },
    // RFC 9001 §A.4: the Retry integrity tag, AES-128-GCM over an empty
    // plaintext.
    Kat {
        alg: AeadAlgorithm::AesGcm,
        key: "be0c690b9f66575a1d766b54e368c84e",
        nonce: "461599d35d632bf2239825bb",
        aad: "088394c8f03e515708ff000000010008f067a5502a4262b5746f6b656e",
        pt: "",
        ct_tag: "04a265ba2eff4d829058fb3f0f2496ba",
    },
    // RFC 8439 §2.8.2.
    Kat {
        alg: AeadAlgorithm::ChaCha20Poly1305,
        key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        nonce: "070000004041424344454647",
        aad: "50515253c0c1c2c3c4c5c6c7",
        // "Ladies and Gentlemen of the class of '99: If I could offer you
        // only one tip for the future, sunscreen would be it."
        pt: "4c616469657320616e642047656e746c656d656e206f662074686520636c6173\
             73206f66202739393a204966204920636f756c64206f6666657220796f75206f\
             6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73\
             637265656e20776f756c642062652069742e",
        ct_tag: "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
                 3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
                 92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
                 3ff4def08e4b7a9de576d26586cec64b6116\
                 1ae10b594f09e26a7e902ecbd0600691",
    },
    // NIST SP 800-38C example 3 (12-byte nonce, 20 bytes of associated
    // data), with the 16-byte tag QUIC uses: its first eight bytes are the
    // example's ciphertext tail, the rest as computed by OpenSSL.
    Kat {
        alg: AeadAlgorithm::AesCcm,
        key: "404142434445464748494a4b4c4d4e4f",
        nonce: "101112131415161718191a1b",
        aad: "000102030405060708090a0b0c0d0e0f10111213",
        pt: "202122232425262728292a2b2c2d2e2f3031323334353637",
        ct_tag: "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5\
                 c87ae488918de93f17dd3e4934347f44",
    },
];

/// Decodes a hexadecimal nonce.
pub(crate) fn nonce(s: &str) -> Result<[u8; AEAD_NONCE_LEN]> {
    hex(s)?.as_slice().try_into().map_err(|_| EINVAL)
}

/// A heap copy of `data`, with `extra` zeros appended.
pub(crate) fn buffer(data: &[u8], extra: usize) -> Result<KVec<u8>> {
    let mut buf = KVec::with_capacity(data.len() + extra, GFP_KERNEL)?;
    buf.extend_from_slice(data, GFP_KERNEL)?;
    buf.resize(data.len() + extra, 0, GFP_KERNEL)?;
    Ok(buf)
}

/// Every vector of [`KATS`] seals to its answer and opens back.
pub(crate) fn known_answers<A: TestAead>() -> Result {
    for kat in &KATS {
        let aead = A::new(kat.alg, &hex(kat.key)?)?;
        assert_eq!(aead.algorithm(), kat.alg);
        let (nonce, aad, pt, ct_tag) = (
            nonce(kat.nonce)?,
            hex(kat.aad)?,
            hex(kat.pt)?,
            hex(kat.ct_tag)?,
        );
        let mut buf = buffer(&pt, AEAD_TAG_LEN)?;
        aead.seal(&nonce, &aad, &mut buf)?;
        assert_eq!(&buf[..], &ct_tag[..]);
        assert_eq!(aead.open(&nonce, &aad, &mut buf)?, pt.len());
        assert_eq!(&buf[..pt.len()], &pt[..]);
    }
    Ok(())
}

/// A key of the wrong length is refused with `EINVAL`.
pub(crate) fn wrong_key_length<A: TestAead>() -> Result {
    for (alg, len) in [
        (AeadAlgorithm::AesGcm, 15),
        (AeadAlgorithm::AesGcm, 0),
        (AeadAlgorithm::AesGcm, 33),
        (AeadAlgorithm::AesCcm, 20),
        (AeadAlgorithm::ChaCha20Poly1305, 16),
        (AeadAlgorithm::ChaCha20Poly1305, 31),
    ] {
        assert!(A::new(alg, &[0x42; 40][..len]).err() == Some(EINVAL));
    }
    A::new(AeadAlgorithm::ChaCha20Poly1305, &[0x42; 32])?;
    A::new(AeadAlgorithm::AesCcm, &[0x42; 32])?;
    A::new(AeadAlgorithm::AesGcm, &[0x42; 24])?;
    Ok(())
}

/// A buffer shorter than the tag is refused with `EINVAL`.
pub(crate) fn short_buffer<A: TestAead>() -> Result {
    for alg in ALGORITHMS {
        let aead = A::new(alg, &[7; 32])?;
        let mut buf = buffer(&[], AEAD_TAG_LEN - 1)?;
        assert!(aead.seal(&[0; AEAD_NONCE_LEN], b"h", &mut buf) == Err(EINVAL));
        assert!(aead.open(&[0; AEAD_NONCE_LEN], b"h", &mut buf) == Err(EINVAL));
        assert!(aead.open(&[0; AEAD_NONCE_LEN], b"h", &mut []) == Err(EINVAL));
    }
    Ok(())
}

/// Any change to the ciphertext, tag, associated data or nonce fails with
/// `EBADMSG` and leaves no plaintext behind.
pub(crate) fn tag_mismatch<A: TestAead>() -> Result {
    const NONCE: [u8; AEAD_NONCE_LEN] = [3; AEAD_NONCE_LEN];
    for alg in ALGORITHMS {
        let key_len = if alg == AeadAlgorithm::ChaCha20Poly1305 {
            32
        } else {
            16
        };
        let aead = A::new(alg, &[9; 32][..key_len])?;
        let mut sealed = buffer(b"attack at dawn", AEAD_TAG_LEN)?;
        aead.seal(&NONCE, b"header", &mut sealed)?;
        let forgeries: [(usize, &[u8], [u8; AEAD_NONCE_LEN]); 6] = [
            (0, b"header", NONCE),
            (13, b"header", NONCE),
            (14, b"header", NONCE),
            (29, b"header", NONCE),
            (usize::MAX, b"headeR", NONCE),
            (usize::MAX, b"header", [4; AEAD_NONCE_LEN]),
        ];
        for (flip, aad, nonce) in forgeries {
            let mut buf = buffer(&sealed, 0)?;
            if let Some(b) = buf.get_mut(flip) {
                *b ^= 0x80;
            }
            assert!(aead.open(&nonce, aad, &mut buf) == Err(EBADMSG));
            assert!(buf.iter().all(|&b| b == 0));
        }
        assert_eq!(aead.open(&NONCE, b"header", &mut sealed)?, 14);
        assert_eq!(&sealed[..14], b"attack at dawn");
    }
    Ok(())
}
