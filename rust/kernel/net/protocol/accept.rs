// SPDX-License-Identifier: GPL-2.0

//! Connections a listener hands out: creating the socket of a new
//! connection ([`ProtoSock::new_child`]), the socket until accept(2) takes
//! it ([`NewSock`]), and a queue of them ([`AcceptQueue`]).

#[cfg(CONFIG_IPV6 = "y")]
use super::Sock6Repr;
use super::{Adapter, InetProtocol, ProtoSock, SockRepr};
use crate::{
    bindings,
    ffi::c_int,
    net::sock::{Sock, Timeout},
    prelude::*,
    sync::SpinLockBh,
};
use core::{
    marker::PhantomData,
    mem::{offset_of, ManuallyDrop},
    ops::Deref,
    ptr::NonNull,
};

impl<T: InetProtocol> ProtoSock<T> {
    /// Creates a socket of the same protocol, family, type and namespace as
    /// `self`, for a connection that a listener hands out with
    /// [`InetProtocol::accept`]. It gets the defaults `socket(2)` gives
    /// (`inet_create()`/`inet6_create()`), inherits the listener's IP
    /// socket flags, and its state comes from [`InetProtocol::init`].
    /// Must be called in process context.
    pub fn new_child(&self) -> Result<NewSock<T>> {
        let lsk = self.0.as_raw();
        let family = self.family();
        // SAFETY: The listener is a live socket of ours; `sk_alloc` returns a
        // zeroed socket of the same proto (so with `T`'s layout) or null.
        let sk = unsafe {
            bindings::sk_alloc(
                bindings::sock_net(lsk),
                c_int::from(family),
                bindings::GFP_KERNEL,
                (*lsk).__sk_common.skc_prot,
                c_int::from(self.is_kernel()),
            )
        };
        if sk.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `sk` is new and ours alone; the listener is live. This
        // follows `inet_create()` and `inet6_create()`.
        unsafe {
            bindings::sock_init_data(core::ptr::null_mut(), sk);
            (*sk).sk_type = (*lsk).sk_type;
            (*sk).sk_protocol = (*lsk).sk_protocol;
            // The listener's own destructor wraps the family's: the child
            // gets the family's, which `init_callback` wraps in turn.
            (*sk).sk_destruct = (*lsk.cast::<SockRepr<T>>()).family_destruct;
            (*sk).sk_backlog_rcv = (*lsk).sk_backlog_rcv;
            (*sk).__bindgen_anon_4.sk_txrehash = (*lsk).__bindgen_anon_4.sk_txrehash;
            let inet = sk.cast::<bindings::inet_sock>();
            let linet = lsk.cast::<bindings::inet_sock>();
            (*inet).inet_flags = (*linet).inet_flags;
            (*inet).uc_ttl = -1;
            (*inet).mc_ttl = 1;
            (*inet).pmtudisc = (*linet).pmtudisc;
            #[cfg(CONFIG_IPV6 = "y")]
            if family == bindings::AF_INET6 as u16 {
                let np = sk
                    .cast::<u8>()
                    .add(offset_of!(Sock6Repr<T>, pinfo))
                    .cast::<bindings::ipv6_pinfo>();
                (*inet).pinet6 = np;
                (*np).hop_limit = -1;
                (*np).mcast_hops = bindings::IPV6_DEFAULT_MCASTHOPS as u8;
                (*np).pmtudisc = bindings::IPV6_PMTUDISC_WANT as u8;
                let lnp = (*linet).pinet6;
                if !lnp.is_null() {
                    (*np).hop_limit = (*lnp).hop_limit;
                    (*np).mcast_hops = (*lnp).mcast_hops;
                    (*np).pmtudisc = (*lnp).pmtudisc;
                    (*np).tclass = (*lnp).tclass;
                }
                let v6only = (*lsk).__sk_common.skc_ipv6only();
                (*sk).__sk_common.set_skc_ipv6only(v6only);
            }
            bindings::security_sk_clone(lsk, sk);
        }
        // SAFETY: The socket is set up as after `sk_alloc()` in
        // `inet_create()`; `init_callback` is `T`'s.
        let ret = unsafe { Adapter::<T>::init_callback(sk) };
        if ret != 0 {
            // SAFETY: `init` failed, so `destroy` has nothing to drop;
            // `sk_common_release` frees the socket (its only reference).
            unsafe { bindings::sk_common_release(sk) };
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: A live socket of ours with initialised data, and we
        // hold its only reference.
        Ok(NewSock {
            // SAFETY: Checked non-null above.
            sk: unsafe { NonNull::new_unchecked(sk) },
            _p: PhantomData,
        })
    }
}

/// A socket made by [`ProtoSock::new_child`], not yet accepted.
///
/// Dropping it closes the socket (the protocol's `close`, then
/// `sk_common_release()`); returning it from [`InetProtocol::accept`] hands
/// it to the new file.
///
/// # Invariants
///
/// `sk` is a live socket of one of `T`'s protos with initialised data, not
/// grafted onto a `struct socket`, whose single owning reference (the one
/// a `struct socket` would hold) is ours.
pub struct NewSock<T: InetProtocol> {
    sk: NonNull<bindings::sock>,
    _p: PhantomData<T>,
}

// SAFETY: A socket may be handed to and closed from any thread.
unsafe impl<T: InetProtocol> Send for NewSock<T> {}
// SAFETY: Shared access goes through `ProtoSock<T>`, which is `Sync`.
unsafe impl<T: InetProtocol> Sync for NewSock<T> {}

impl<T: InetProtocol> NewSock<T> {
    pub(super) fn into_raw(self) -> *mut bindings::sock {
        ManuallyDrop::new(self).sk.as_ptr()
    }
}

impl<T: InetProtocol> Deref for NewSock<T> {
    type Target = ProtoSock<T>;

    fn deref(&self) -> &ProtoSock<T> {
        // SAFETY: By the type invariant the socket is live and ours.
        unsafe { ProtoSock::from_raw(self.sk.as_ptr()) }
    }
}

impl<T: InetProtocol> Drop for NewSock<T> {
    fn drop(&mut self) {
        // SAFETY: The socket was never grafted, so nothing else closes it;
        // this is what `inet_release()` does for a grafted one.
        unsafe { Adapter::<T>::close_callback(self.sk.as_ptr(), 0) };
    }
}

/// The queue of connections waiting for accept(2) on a listener.
///
/// Children are pushed in process context (a [`NewSock`] is made and
/// closed there) and wake the listener; [`AcceptQueue::accept`] implements
/// accept(2)'s blocking, non-blocking and timeout behaviour.
///
/// # Invariants
///
/// `children` holds at most `max` sockets.
#[pin_data]
pub struct AcceptQueue<T: InetProtocol> {
    #[pin]
    children: SpinLockBh<KVec<NewSock<T>>>,
    max: usize,
}

impl<T: InetProtocol> AcceptQueue<T> {
    /// An empty queue of at most `max` connections (listen(2)'s backlog).
    pub fn new(max: usize) -> impl PinInit<Self> {
        pin_init!(Self {
            children <- crate::new_spinlock_bh!(KVec::new()),
            max,
        })
    }

    /// The number of queued connections.
    pub fn len(&self) -> usize {
        self.children.lock().len()
    }

    /// Whether no connection is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes the limit (a second listen(2)); queued connections stay.
    pub fn set_max(self: Pin<&mut Self>, max: usize) {
        // SAFETY: `max` is not structurally pinned.
        unsafe { self.get_unchecked_mut().max = max };
    }

    /// Queues `child` and wakes `listener`'s waiters (accept(2), poll(2)).
    /// Gives the child back when the queue is full (`ECONNREFUSED` for the
    /// peer) or out of memory. Call in process context.
    pub fn push(&self, listener: &Sock, child: NewSock<T>) -> core::result::Result<(), NewSock<T>> {
        let mut q = self.children.lock();
        if q.len() >= self.max || q.reserve(1, GFP_ATOMIC).is_err() {
            return Err(child);
        }
        if let Err(e) = q.push_within_capacity(child) {
            return Err(e.0);
        }
        drop(q);
        listener.data_ready();
        Ok(())
    }

    /// Takes the oldest connection, if any.
    pub fn pop(&self) -> Option<NewSock<T>> {
        let mut q = self.children.lock();
        match q.is_empty() {
            true => None,
            false => q.remove(0).ok(),
        }
    }

    /// accept(2) on `listener`: the oldest connection, waiting for one
    /// unless `flags` has `O_NONBLOCK` (then `EAGAIN`). Waits honour
    /// `SO_RCVTIMEO` (`EAGAIN` when it runs out, as in TCP) and signals
    /// (`ERESTARTSYS`/`EINTR`).
    pub fn accept(&self, listener: &ProtoSock<T>, flags: i32) -> Result<NewSock<T>> {
        let nonblock = flags & bindings::O_NONBLOCK as i32 != 0;
        let mut timeo: Timeout = listener.rcv_timeout(nonblock);
        let mut guard = listener.lock();
        loop {
            if let Some(child) = self.pop() {
                return Ok(child);
            }
            match guard.wait(&mut timeo, |_| Ok(!self.is_empty())) {
                Ok(()) => {}
                Err(e) if e == ETIMEDOUT => return Err(EAGAIN),
                Err(e) => return Err(e),
            }
        }
    }
}
