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
//!
//! Kernel stacks are 16 KiB: large structures live in a [`Box`] (the
//! kernel's `KBox`), built one part at a time by [`boxed`] and
//! [`try_boxed`] so that no function's frame holds more than one of them.

pub use kernel::alloc::AllocError;
pub use kernel::alloc::Flags;
pub use kernel::alloc::KBox as Box;
pub use kernel::alloc::KVec as Vec;

/// The allocation flags every allocation in the core uses.
pub const GFP: Flags = kernel::alloc::flags::GFP_ATOMIC;

/// Builds a value with `f` and moves it into a new [`Box`].
///
/// The value is built in this function's own frame (it is never inlined),
/// so the caller's frame holds only the pointer: a constructor that boxes
/// several large parts with `boxed` needs the stack of the largest, not of
/// their sum.
#[inline(never)]
pub fn boxed<T>(f: impl FnOnce() -> T) -> Result<Box<T>, AllocError> {
    Box::new(f(), GFP)
}

/// [`boxed`] for a fallible constructor: `f`'s error, or out of memory.
#[inline(never)]
pub fn try_boxed<T, E: From<AllocError>>(f: impl FnOnce() -> Result<T, E>) -> Result<Box<T>, E> {
    Ok(Box::new(f()?, GFP)?)
}
