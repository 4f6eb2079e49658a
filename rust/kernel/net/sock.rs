// SPDX-License-Identifier: GPL-2.0

//! Network-layer sockets (`struct sock`).
//!
//! C header: [`include/net/sock.h`](srctree/include/net/sock.h).

use crate::{
    bindings,
    sync::aref::AlwaysRefCounted,
    types::{NotThreadSafe, Opaque},
};
use core::ptr::NonNull;

/// A `struct sock`.
///
/// # Invariants
///
/// The pointer to the inner `struct sock` is valid: its refcount (`sk_refcnt`)
/// is non-zero for as long as a `&Sock` exists.
#[repr(transparent)]
pub struct Sock(Opaque<bindings::sock>);

// SAFETY: `struct sock` is refcounted and its fields are protected by the
// socket lock or atomics; a reference may move to and be used from any thread.
unsafe impl Send for Sock {}
// SAFETY: See above: shared access from several threads is how sockets work.
unsafe impl Sync for Sock {}

// SAFETY: The type invariants guarantee that `Sock` is always refcounted.
unsafe impl AlwaysRefCounted for Sock {
    fn inc_ref(&self) {
        // SAFETY: The existence of `&self` means the refcount is non-zero.
        unsafe { bindings::sock_hold(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The safety requirements guarantee the refcount is non-zero.
        unsafe { bindings::sock_put(obj.cast().as_ptr()) };
    }
}

/// Connection states, the values of `sk_state` (shared with TCP's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// `TCP_ESTABLISHED`: connected, data may flow.
    Established = bindings::TCP_ESTABLISHED as u8,
    /// `TCP_SYN_SENT`: connecting (handshake in progress on a client).
    SynSent = bindings::TCP_SYN_SENT as u8,
    /// `TCP_SYN_RECV`: handshake in progress on a server.
    SynRecv = bindings::TCP_SYN_RECV as u8,
    /// `TCP_CLOSE`: not connected.
    Close = bindings::TCP_CLOSE as u8,
    /// `TCP_LISTEN`: accepting connections.
    Listen = bindings::TCP_LISTEN as u8,
    /// `TCP_CLOSING`: closing.
    Closing = bindings::TCP_CLOSING as u8,
}

impl Sock {
    /// Creates a reference to a [`Sock`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid and its refcount non-zero for the lifetime `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
        // SAFETY: `Sock` is `repr(transparent)` over the C struct, and the
        // caller guarantees validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct sock` pointer.
    pub fn as_raw(&self) -> *mut bindings::sock {
        self.0.get()
    }

    fn common(&self) -> *mut bindings::sock_common {
        // SAFETY: `__sk_common` is the first member; the pointer is valid.
        unsafe { &raw mut (*self.as_raw()).__sk_common }
    }

    /// The address family (`AF_INET`, `AF_INET6`).
    pub fn family(&self) -> u16 {
        // SAFETY: `skc_family` is set at allocation and never changes.
        unsafe { (*self.common()).skc_family }
    }

    /// The protocol number given to socket(2).
    pub fn protocol(&self) -> u16 {
        // SAFETY: `sk_protocol` is set at creation and never changes.
        unsafe { (*self.as_raw()).sk_protocol }
    }

    /// The socket type (`SOCK_STREAM`, `SOCK_DGRAM`).
    pub fn sock_type(&self) -> u16 {
        // SAFETY: `sk_type` is set at creation and never changes.
        unsafe { (*self.as_raw()).sk_type }
    }

    /// The connection state, as last set with [`Sock::set_state`].
    pub fn state(&self) -> u8 {
        // SAFETY: `skc_state` is a byte read racily by design (like
        // `READ_ONCE(sk->sk_state)` in C).
        unsafe { core::ptr::read_volatile(&raw const (*self.common()).skc_state) }
    }

    /// Sets the connection state (`inet_sk_set_state`, with its tracepoint).
    pub fn set_state(&self, state: State) {
        // SAFETY: The pointer is valid; `inet_sk_set_state` only writes
        // `sk_state`.
        unsafe { bindings::inet_sk_set_state(self.as_raw(), state as i32) };
    }

    /// Whether the socket was created by the kernel (a kernel caller's socket).
    pub fn is_kernel(&self) -> bool {
        // SAFETY: `sk_kern_sock` is set at creation and never changes.
        unsafe { (*self.as_raw()).sk_kern_sock() != 0 }
    }

    /// Takes the socket lock (`lock_sock`), sleeping if needed.
    pub fn lock(&self) -> SockGuard<'_> {
        // SAFETY: The pointer is valid; we may sleep here (process context is
        // a requirement of every caller of a `&Sock` method that locks).
        unsafe { bindings::lock_sock(self.as_raw()) };
        // INVARIANT: The lock was just taken.
        SockGuard {
            sk: self,
            _not_send: NotThreadSafe,
        }
    }
}

/// The socket lock, held (`lock_sock` .. `release_sock`).
///
/// # Invariants
///
/// The guard owns the lock of `sk` until it is dropped.
pub struct SockGuard<'a> {
    sk: &'a Sock,
    _not_send: NotThreadSafe,
}

impl SockGuard<'_> {
    /// The locked socket.
    pub fn sock(&self) -> &Sock {
        self.sk
    }
}

impl Drop for SockGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the lock is held by us.
        unsafe { bindings::release_sock(self.sk.as_raw()) };
    }
}
