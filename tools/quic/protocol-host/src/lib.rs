// SPDX-License-Identifier: GPL-2.0

//! The `net/quic` protocol core, built on the host.
//!
//! The core's files are compiled from the kernel tree unchanged: the module
//! tree below points at `net/quic/`, so `crate::protocol::...` paths resolve
//! exactly as they do inside the kernel crate. `kernel::alloc` comes from the
//! `kernel-shim` crate. `#![no_std]` keeps the core honest about using only
//! `core`; `forbid(unsafe_code)` proves the shared files have no `unsafe`.

#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

#[path = "../../../../net/quic"]
mod net_quic {
    pub mod protocol;
}

pub use net_quic::protocol;
