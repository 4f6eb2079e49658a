// SPDX-License-Identifier: GPL-2.0

//! Host stand-in for the `kernel` crate items used by the QUIC protocol core.
//!
//! The core (`net/quic/protocol/`) reaches an allocator only through
//! `kernel::alloc`. This crate provides the same names and signatures over
//! `std`'s allocator so the core's files build unchanged with cargo. Only
//! what the core uses is here; every method mirrors `rust/kernel/alloc/kvec.rs`
//! and `rust/kernel/alloc/kbox.rs` in Linux 7.3, including fallibility (allocation failures surface as
//! `AllocError`, never as an abort).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc as std_alloc;

pub mod alloc;
