// SPDX-License-Identifier: GPL-2.0

//! Network-layer sockets (`struct sock`).
//!
//! A socket has two locks. The socket lock proper ([`Sock::lock`],
//! `lock_sock()`) is taken by system calls in process context and may be
//! held across sleeps. Under it lies a BH spinlock, `sk_lock.slock`
//! ([`Sock::bh_lock`]), that the receive path takes in softirq context: if
//! a process owns the socket ([`SockBhGuard::owned_by_user`]), softirq
//! work is deferred to the socket's backlog ([`SockBhGuard::add_backlog`])
//! and runs, through the protocol's `backlog_rcv`, when the owner calls
//! `release_sock()`.
//!
//! Waiting for a socket event ([`SockGuard::wait`]) releases the socket
//! lock while asleep, like `sk_wait_event()`; the wake-ups are
//! [`Sock::data_ready`], [`Sock::write_space`], [`Sock::state_change`] and
//! [`Sock::error_report`].
//!
//! C header: [`include/net/sock.h`](srctree/include/net/sock.h).

use super::{namespace::Namespace, skbuff::SkBuff};
use crate::{
    bindings,
    ffi::c_long,
    prelude::*,
    sync::{
        aref::AlwaysRefCounted,
        lock::{spinlock::SpinLockBhBackend, Guard, Lock},
    },
    task::{Task, MAX_SCHEDULE_TIMEOUT, TASK_INTERRUPTIBLE},
    types::{NotThreadSafe, Opaque}, //
};
use core::{pin::pin, ptr::NonNull};

/// `sk_shutdown` bit: no more receives.
pub const RCV_SHUTDOWN: u8 = bindings::RCV_SHUTDOWN as u8;
/// `sk_shutdown` bit: no more sends.
pub const SEND_SHUTDOWN: u8 = bindings::SEND_SHUTDOWN as u8;

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

    /// The network namespace of the socket (`sock_net()`).
    pub fn net(&self) -> &Namespace {
        // SAFETY: A socket holds its namespace alive (user sockets through a
        // reference, kernel sockets by being released before it exits).
        unsafe { Namespace::from_raw(bindings::sock_net(self.as_raw())) }
    }

    /// Wakes readers: data (or a connection) is available (`sk_data_ready`).
    pub fn data_ready(&self) {
        // SAFETY: The socket is valid; `sk_data_ready` is always set (by
        // `sock_init_data()`) and may be called from any context.
        unsafe {
            if let Some(f) = (*self.as_raw()).sk_data_ready {
                f(self.as_raw());
            }
        }
    }

    /// Wakes writers: send space became available (`sk_write_space`).
    pub fn write_space(&self) {
        // SAFETY: As in `data_ready`.
        unsafe {
            if let Some(f) = (*self.as_raw()).sk_write_space {
                f(self.as_raw());
            }
        }
    }

    /// Wakes everyone waiting for a state change (`sk_state_change`).
    pub fn state_change(&self) {
        // SAFETY: As in `data_ready`.
        unsafe {
            if let Some(f) = (*self.as_raw()).sk_state_change {
                f(self.as_raw());
            }
        }
    }

    /// Reports `sk_err` to waiters and poll (`sk_error_report()`).
    pub fn error_report(&self) {
        // SAFETY: The socket is valid.
        unsafe { bindings::sk_error_report(self.as_raw()) };
    }

    /// Records a pending socket error (`sk_err`, returned once by the next
    /// call that checks it) and reports it.
    pub fn set_error(&self, err: Error) {
        // SAFETY: `sk_err` is an int written racily by design (as
        // `WRITE_ONCE(sk->sk_err, ...)` in C).
        unsafe { core::ptr::write_volatile(&raw mut (*self.as_raw()).sk_err, -err.to_errno()) };
        self.error_report();
    }

    /// Whether a socket error is pending (`sk_err`), for poll(2).
    pub fn has_error(&self) -> bool {
        // SAFETY: An int read racily by design (`READ_ONCE(sk->sk_err)`).
        unsafe { core::ptr::read_volatile(&raw const (*self.as_raw()).sk_err) != 0 }
    }

    /// Takes the pending socket error, if any (`sock_error()`).
    pub fn take_error(&self) -> Option<Error> {
        // SAFETY: The socket is valid; `sock_error` clears `sk_err`
        // atomically.
        let e = unsafe { bindings::sock_error(self.as_raw()) };
        (e != 0).then(|| Error::from_errno(e))
    }

    /// The `sk_shutdown` bits ([`RCV_SHUTDOWN`], [`SEND_SHUTDOWN`]).
    pub fn shutdown_bits(&self) -> u8 {
        // SAFETY: A byte read racily by design (`READ_ONCE` in C).
        unsafe { core::ptr::read_volatile(&raw const (*self.as_raw()).sk_shutdown) }
    }

    /// Adds `bits` to `sk_shutdown`. Callers serialise writers (socket
    /// lock).
    pub fn set_shutdown_bits(&self, bits: u8) {
        let v = self.shutdown_bits() | (bits & (RCV_SHUTDOWN | SEND_SHUTDOWN));
        // SAFETY: As in `shutdown_bits`.
        unsafe { core::ptr::write_volatile(&raw mut (*self.as_raw()).sk_shutdown, v) };
    }

    /// Bytes of received skbs charged to the socket (`sk_rmem_alloc`).
    pub fn rmem_alloc(&self) -> usize {
        // SAFETY: An atomic read of a valid socket's counter.
        unsafe { bindings::sk_rmem_alloc_get(self.as_raw()) as usize }
    }

    /// Bytes of sent skbs charged to the socket (`sk_wmem_alloc`).
    pub fn wmem_alloc(&self) -> usize {
        // SAFETY: An atomic read of a valid socket's counter.
        unsafe { bindings::sk_wmem_alloc_get(self.as_raw()) as usize }
    }

    /// The receive buffer limit (`SO_RCVBUF`).
    pub fn rcvbuf(&self) -> usize {
        // SAFETY: An int read racily by design (`READ_ONCE` in C).
        let v = unsafe { core::ptr::read_volatile(&raw const (*self.as_raw()).sk_rcvbuf) };
        usize::try_from(v).unwrap_or(0)
    }

    /// The send buffer limit (`SO_SNDBUF`).
    pub fn sndbuf(&self) -> usize {
        // SAFETY: As in `rcvbuf`.
        let v = unsafe { core::ptr::read_volatile(&raw const (*self.as_raw()).sk_sndbuf) };
        usize::try_from(v).unwrap_or(0)
    }

    /// Whether the send memory is below half the send buffer
    /// (`sock_writeable()`), the usual "writable" condition of poll.
    pub fn writeable(&self) -> bool {
        // SAFETY: The socket is valid.
        unsafe { bindings::sock_writeable(self.as_raw()) }
    }

    /// Charges `skb` to the socket's receive memory and appends it to the
    /// socket's receive queue, then wakes readers
    /// (`sock_queue_rcv_skb_reason()`, with the socket filter).
    ///
    /// On failure (filter, `SO_RCVBUF` full, protocol memory) the skb is
    /// dropped with the reason and `ENOBUFS` returned.
    pub fn queue_rcv_skb(&self, skb: SkBuff) -> Result {
        let raw = skb.into_raw().as_ptr();
        // SAFETY: The socket is valid and we hand over our skb; on failure it
        // stays ours.
        let reason = unsafe { bindings::sock_queue_rcv_skb_reason(self.as_raw(), raw) };
        if reason == bindings::skb_drop_reason_SKB_NOT_DROPPED_YET {
            return Ok(());
        }
        // SAFETY: On failure the skb was not queued: it is still ours.
        unsafe { bindings::kfree_skb_reason(raw, reason) };
        Err(ENOBUFS)
    }

    /// Takes the first skb of the receive queue, uncharged from the socket
    /// (so that it may outlive it).
    pub fn dequeue_rcv_skb(&self) -> Option<SkBuff> {
        // SAFETY: The socket is valid; `skb_dequeue` takes the queue lock.
        let skb = NonNull::new(unsafe {
            bindings::skb_dequeue(&raw mut (*self.as_raw()).sk_receive_queue)
        })?;
        // SAFETY: A dequeued skb belongs to us alone.
        let mut skb = unsafe { SkBuff::from_raw(skb) };
        skb.orphan();
        Some(skb)
    }

    /// The number of skbs in the receive queue.
    pub fn rcv_queue_len(&self) -> usize {
        // SAFETY: The socket is valid; a racy read as `skb_queue_len_lockless`.
        unsafe {
            bindings::skb_queue_len_lockless(&raw const (*self.as_raw()).sk_receive_queue) as usize
        }
    }

    /// The receive timeout: 0 for non-blocking calls, else `SO_RCVTIMEO`.
    pub fn rcv_timeout(&self, nonblock: bool) -> Timeout {
        // SAFETY: The socket is valid.
        Timeout(unsafe { bindings::sock_rcvtimeo(self.as_raw(), nonblock) })
    }

    /// The send timeout: 0 for non-blocking calls, else `SO_SNDTIMEO`.
    pub fn snd_timeout(&self, nonblock: bool) -> Timeout {
        // SAFETY: The socket is valid.
        Timeout(unsafe { bindings::sock_sndtimeo(self.as_raw(), nonblock) })
    }

    /// Takes the BH socket lock (`sk_lock.slock` with bottom halves
    /// disabled), in any context but hard IRQ. It excludes the receive
    /// path and the owner's `lock_sock()`/`release_sock()` transitions, not
    /// an owner holding the socket lock: see [`SockBhGuard::owned_by_user`].
    pub fn bh_lock(&self) -> SockBhGuard<'_> {
        // SAFETY: `sk_lock.slock` is initialised by `sock_lock_init()` at
        // allocation and lives as long as the socket.
        let lock =
            unsafe { Lock::<(), SpinLockBhBackend>::from_raw(bindings::sk_slock(self.as_raw())) };
        SockBhGuard {
            _guard: lock.lock(),
            sk: self,
        }
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

    /// Waits until `cond` holds, like `sk_wait_event()`: the socket lock is
    /// released while asleep and taken again to evaluate `cond`, which runs
    /// with it held. `cond` returns `Ok(true)` to stop waiting, `Ok(false)`
    /// to go on, or an error to return (e.g. a socket error).
    ///
    /// Fails with `EAGAIN` if `timeo` is zero (a non-blocking call) and
    /// `cond` is false, `ETIMEDOUT` when `timeo` runs out while waiting,
    /// `ERESTARTSYS` (no timeout) or `EINTR` (with a timeout) when a signal
    /// is pending, and `EPIPE` when the socket was disconnected while the
    /// lock was released ([`SockGuard::count_disconnect`], as
    /// `sk_wait_event()` checks `sk->sk_disconnects`): the state `cond` saw
    /// is gone. `timeo` is updated with the time left. Wake-ups come
    /// from the socket's wait queue (`sk_data_ready` and friends). A socket
    /// not attached to a file yet (an unaccepted child) has no wait queue:
    /// there a false `cond` fails with `EINVAL` at once.
    pub fn wait(
        &mut self,
        timeo: &mut Timeout,
        mut cond: impl FnMut(&Sock) -> Result<bool>,
    ) -> Result {
        let sk = self.sk.as_raw();
        // SAFETY: The socket is valid; `sk_wq` is set while the socket is
        // grafted to a `struct socket` and cleared by `sock_orphan()`, both
        // under the socket lock we hold.
        if unsafe { (*sk).__bindgen_anon_1.sk_wq.is_null() } {
            return match cond(self.sk)? {
                true => Ok(()),
                false => Err(EINVAL),
            };
        }
        // SAFETY: As above, the wait queue lives while the socket is grafted,
        // which it stays while we hold the lock or wait (the owner of the
        // `struct socket` is the caller of this system call).
        let head = unsafe { bindings::sk_sleep(sk) };
        let entry = pin!(Opaque::<bindings::wait_queue_entry>::uninit());
        let e = entry.get();
        // SAFETY: `e` is valid for writes; this is `DEFINE_WAIT_FUNC(wait,
        // woken_wake_function)`.
        unsafe {
            (*e).flags = 0;
            (*e).private = Task::current_raw().cast();
            (*e).func = Some(bindings::woken_wake_function);
            bindings::INIT_LIST_HEAD(&raw mut (*e).entry);
        }
        // SAFETY: `e` is initialised and pinned on this stack frame; it is
        // removed from the queue below before the frame goes away.
        unsafe { bindings::add_wait_queue(head, e) };
        let nonblock = timeo.0 == 0;
        let res = loop {
            match cond(self.sk) {
                Ok(true) => break Ok(()),
                Err(err) => break Err(err),
                Ok(false) => {}
            }
            if timeo.0 == 0 {
                break Err(if nonblock { EAGAIN } else { ETIMEDOUT });
            }
            // SAFETY: `current` is always valid in process context.
            if unsafe { bindings::signal_pending(Task::current_raw()) } != 0 {
                break Err(if timeo.0 == MAX_SCHEDULE_TIMEOUT {
                    ERESTARTSYS
                } else {
                    EINTR
                });
            }
            // SAFETY: We own the socket lock (type invariant), under which
            // `sk_disconnects` changes, and take it back before `cond` runs
            // again; `e` is on the socket's queue.
            let disconnected = unsafe {
                let disconnects = (*sk).sk_disconnects;
                bindings::release_sock(sk);
                timeo.0 = bindings::wait_woken(e, TASK_INTERRUPTIBLE as u32, timeo.0);
                bindings::lock_sock(sk);
                (*sk).sk_disconnects != disconnects
            };
            if disconnected {
                break Err(EPIPE);
            }
        };
        // SAFETY: Added above; `head` is still the socket's wait queue.
        unsafe { bindings::remove_wait_queue(head, e) };
        res
    }
}

impl SockGuard<'_> {
    /// Counts a disconnect of the socket (`sk->sk_disconnects++`), as
    /// `tcp_disconnect()` and `__inet_stream_connect()` do: a
    /// [`SockGuard::wait`] in progress on the socket (asleep with the lock
    /// released) fails with `EPIPE` when it takes the lock back.
    pub fn count_disconnect(&mut self) {
        // SAFETY: We own the socket lock (type invariant), which serialises
        // writers of `sk_disconnects`.
        unsafe { (*self.sk.as_raw()).sk_disconnects += 1 };
    }
}

/// A blocking timeout in jiffies, as used by socket waits.
///
/// # Invariants
///
/// The value is non-negative; [`Timeout::INFINITE`] never runs out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout(c_long);

impl Timeout {
    /// Do not wait.
    pub const NONBLOCK: Self = Self(0);
    /// Wait without a time limit (`MAX_SCHEDULE_TIMEOUT`).
    pub const INFINITE: Self = Self(MAX_SCHEDULE_TIMEOUT);

    /// A timeout of `ms` milliseconds.
    pub fn from_millis(ms: u32) -> Self {
        let j = crate::time::msecs_to_jiffies(ms);
        Self(c_long::try_from(j).unwrap_or(c_long::MAX))
    }

    /// The jiffies left.
    pub fn jiffies(&self) -> c_long {
        self.0
    }

    /// Whether no time is left (or none was given).
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }
}

/// The BH socket lock, held (`spin_lock_bh(&sk->sk_lock.slock)`).
///
/// # Invariants
///
/// `_guard` holds `sk`'s `sk_lock.slock`.
pub struct SockBhGuard<'a> {
    _guard: Guard<'a, (), SpinLockBhBackend>,
    sk: &'a Sock,
}

impl SockBhGuard<'_> {
    /// The locked socket.
    pub fn sock(&self) -> &Sock {
        self.sk
    }

    /// Whether a process holds the socket lock (`sock_owned_by_user()`):
    /// then the socket's state must not be touched from here; defer the
    /// work with [`SockBhGuard::add_backlog`].
    pub fn owned_by_user(&self) -> bool {
        // SAFETY: `sk_lock.owned` is protected by the BH lock we hold.
        unsafe { bindings::sock_owned_by_user_nocheck(self.sk.as_raw()) }
    }

    /// Queues `skb` on the socket's backlog, processed by the protocol's
    /// `backlog_rcv` when the owner releases the socket lock
    /// (`sk_add_backlog()`, limited to `SO_RCVBUF + SO_SNDBUF` with the
    /// receive queue). Gives the skb back if the backlog is full.
    pub fn add_backlog(&mut self, skb: SkBuff) -> core::result::Result<(), SkBuff> {
        let limit = self.sk.rcvbuf().saturating_add(self.sk.sndbuf());
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let raw = skb.into_raw();
        // SAFETY: We hold the BH socket lock, as `sk_add_backlog` requires,
        // and hand over the skb; on failure it is not queued.
        let ret = unsafe { bindings::sk_add_backlog(self.sk.as_raw(), raw.as_ptr(), limit) };
        if ret == 0 {
            Ok(())
        } else {
            // SAFETY: Not queued: the skb is still ours.
            Err(unsafe { SkBuff::from_raw(raw) })
        }
    }
}

impl Drop for SockGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the lock is held by us.
        unsafe { bindings::release_sock(self.sk.as_raw()) };
    }
}
