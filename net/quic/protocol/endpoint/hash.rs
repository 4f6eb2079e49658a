// SPDX-License-Identifier: GPL-2.0

//! SipHash-1-3, the keyed hash of the routing table.
//!
//! Clients choose the Destination Connection ID of their first Initial: an
//! unkeyed hash would let them aim every entry at one bucket. SipHash with a
//! key the caller draws at random (the core has no RNG) makes the table's
//! layout unpredictable from outside. One compression and three
//! finalization rounds are plenty for a table index (it is what Rust's
//! standard hash map uses).

/// A SipHash-1-3 state.
#[derive(Clone, Debug)]
pub struct SipHasher13 {
    v: [u64; 4],
    tail: u64,
    ntail: usize,
    len: u64,
}

impl SipHasher13 {
    /// A hasher keyed with `key`.
    pub const fn new(key: [u64; 2]) -> Self {
        Self {
            v: [
                key[0] ^ 0x736f_6d65_7073_6575,
                key[1] ^ 0x646f_7261_6e64_6f6d,
                key[0] ^ 0x6c79_6765_6e65_7261,
                key[1] ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            len: 0,
        }
    }

    fn round(&mut self) {
        let v = &mut self.v;
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }

    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        self.round();
        self.v[0] ^= m;
    }

    /// Feeds `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len() as u64);
        for &b in bytes {
            self.tail |= u64::from(b) << (8 * self.ntail);
            self.ntail += 1;
            if self.ntail == 8 {
                let m = self.tail;
                self.compress(m);
                self.tail = 0;
                self.ntail = 0;
            }
        }
    }

    /// The hash of everything fed.
    pub fn finish(mut self) -> u64 {
        let m = self.tail | (self.len & 0xff) << 56;
        self.compress(m);
        self.v[2] ^= 0xff;
        for _ in 0..3 {
            self.round();
        }
        self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_hash))]
mod tests {
    use super::*;

    fn hash(key: [u64; 2], bytes: &[u8]) -> u64 {
        let mut h = SipHasher13::new(key);
        h.write(bytes);
        h.finish()
    }

    #[test]
    fn keyed_and_input_sensitive() {
        let a = hash([1, 2], b"connection id");
        assert_eq!(a, hash([1, 2], b"connection id"));
        assert!(a != hash([1, 3], b"connection id"));
        assert!(a != hash([1, 2], b"connection ie"));
        // The length is mixed in: trailing zeros matter.
        assert!(hash([0, 0], b"") != hash([0, 0], b"\0"));
        // Split writes equal one write.
        let mut h = SipHasher13::new([1, 2]);
        h.write(b"connec");
        h.write(b"tion id");
        assert_eq!(h.finish(), a);
    }

    #[test]
    fn reference_vector() {
        // The Rust standard library's DefaultHasher is SipHash-1-3 with a
        // zero key.
        assert_eq!(hash([0, 0], b""), 0xd1fb_a762_150c_532c);
        assert_eq!(hash([0, 0], b"hello"), 0xe2e7_7b41_cb4e_1f9e);
        assert_eq!(hash([0, 0], b"0123456789abcdefXYZ"), 0x283e_7687_cd67_183b);
    }
}
