// SPDX-License-Identifier: GPL-2.0

//! Random numbers from the kernel's cryptographically secure generator.
//!
//! Every function here may be called from any context, including hard and
//! soft interrupts, and never blocks: before the generator is seeded it
//! returns its best effort, as `get_random_bytes()` does in C.
//!
//! C header: [`include/linux/random.h`](srctree/include/linux/random.h).

use crate::bindings;

/// Fills `buf` with random bytes (`get_random_bytes()`).
pub fn fill_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) }
}

/// A random `u32` (`get_random_u32()`), cheaper than [`fill_bytes`] for a
/// few bytes.
pub fn u32() -> u32 {
    // SAFETY: No preconditions.
    unsafe { bindings::get_random_u32() }
}

/// A random `u64` (`get_random_u64()`).
pub fn u64() -> u64 {
    // SAFETY: No preconditions.
    unsafe { bindings::get_random_u64() }
}

/// A random array of `N` bytes.
pub fn array<const N: usize>() -> [u8; N] {
    let mut a = [0u8; N];
    fill_bytes(&mut a);
    a
}

#[macros::kunit_tests(rust_kernel_random)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ() {
        // 2^-128 to fail by chance.
        let a: [u8; 16] = array();
        let b: [u8; 16] = array();
        assert!(a != b);
        let draws = [u64(), u64(), u64()];
        assert!(draws[0] != draws[1] || draws[1] != draws[2]);
    }

    #[test]
    fn fills_the_whole_buffer() {
        // Every byte of a long buffer gets written: the chance that a given
        // 64-byte window stays all zero is 2^-512.
        let mut buf = [0u8; 256];
        fill_bytes(&mut buf);
        assert!(buf.chunks(64).all(|c| c.iter().any(|&b| b != 0)));
        // An empty buffer is fine.
        fill_bytes(&mut []);
    }

    #[test]
    fn u32_covers_high_bits() {
        // Some of 64 draws have the top bit set (chance to fail 2^-64).
        assert!((0..64).any(|_| u32() & 0x8000_0000 != 0));
    }
}
