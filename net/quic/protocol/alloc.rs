// SPDX-License-Identifier: GPL-2.0

//! The allocation shim: the only door from the protocol core to an allocator.
//!
//! In the kernel this is `kernel::alloc`; on the host, the `kernel-shim` crate
//! provides a `kernel::alloc` with the same signatures over `std`'s
//! allocator. Every allocation is fallible and returns [`AllocError`].
//!
//! The core runs from softirq context (the UDP encap receive path) as well as
//! from process context, so it always allocates with [`GFP`] (`GFP_ATOMIC`).
//! Large, long-lived buffers are sized by the caller's limits (flow-control
//! windows), not by what the peer sends.

pub use kernel::alloc::AllocError;
pub use kernel::alloc::Flags;
pub use kernel::alloc::KVec as Vec;

/// The allocation flags every allocation in the core uses.
pub const GFP: Flags = kernel::alloc::flags::GFP_ATOMIC;
