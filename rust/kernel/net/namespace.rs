// SPDX-License-Identifier: GPL-2.0

//! Network namespaces (`struct net`).
//!
//! C header: [`include/net/net_namespace.h`](srctree/include/net/net_namespace.h).

use crate::{
    bindings,
    sync::aref::AlwaysRefCounted,
    types::Opaque, //
};
use core::ptr::NonNull;

/// A network namespace.
///
/// # Invariants
///
/// The `struct net` is alive (its reference count `ns.count` is non-zero,
/// or it is `init_net`) for as long as a `&Namespace` exists.
#[repr(transparent)]
pub struct Namespace(Opaque<bindings::net>);

// SAFETY: A namespace is refcounted and its fields are immutable or
// internally synchronised; it may be used from any thread.
unsafe impl Send for Namespace {}
// SAFETY: See above.
unsafe impl Sync for Namespace {}

// SAFETY: `get_net()`/`put_net()` keep the namespace alive while a
// reference exists.
unsafe impl AlwaysRefCounted for Namespace {
    fn inc_ref(&self) {
        // SAFETY: The namespace is alive by the type invariant.
        unsafe { bindings::get_net(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it holds.
        unsafe { bindings::put_net(obj.cast().as_ptr()) };
    }
}

impl Namespace {
    /// The initial network namespace, which lives forever.
    pub fn init_net() -> &'static Self {
        // SAFETY: `init_net` is never freed.
        unsafe { Self::from_raw(&raw mut bindings::init_net) }
    }

    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live namespace that stays alive for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::net) -> &'a Self {
        // SAFETY: `Namespace` is transparent over `struct net`; liveness is
        // guaranteed by the caller.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct net` pointer.
    pub fn as_raw(&self) -> *mut bindings::net {
        self.0.get()
    }

    /// The namespace's cookie: unique for the life of the system, never
    /// reused (unlike the address of the `struct net`).
    pub fn cookie(&self) -> u64 {
        // SAFETY: `net_cookie` is written once, before the namespace is
        // visible.
        unsafe { (*self.as_raw()).net_cookie }
    }
}

impl PartialEq for Namespace {
    fn eq(&self, other: &Self) -> bool {
        self.as_raw() == other.as_raw()
    }
}

impl Eq for Namespace {}
