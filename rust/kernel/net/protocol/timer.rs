// SPDX-License-Identifier: GPL-2.0

//! The protocol timer of a socket: one high resolution timer per socket,
//! firing [`InetProtocol::timer`] in softirq.
//!
//! The timer lives in the socket's allocation, set up at creation when the
//! protocol implements [`InetProtocol::timer`]. As TCP's timers do, an
//! armed timer holds a reference on its socket (`sock_hold()`), dropped
//! after the callback or when the timer is stopped, so the socket outlives
//! every pending expiry. Arming and stopping are serialised by the socket's
//! BH lock (`sk_lock.slock`), which makes the reference count exact even
//! when several contexts re-arm at once; the callback runs without it.
//!
//! A callback may re-arm its own timer. [`ProtoSock::stop_timer`] never
//! waits for a running callback (it may be called with the protocol's own
//! locks held, which the callback takes): a callback that already started
//! completes, so it must check the socket's state.

use super::{InetProtocol, ProtoSock, SockRepr};
use crate::{bindings, prelude::*, time::Delta};
use core::mem::offset_of;

/// `HRTIMER_MODE_REL_SOFT`: relative expiry, callback in softirq.
const MODE: bindings::hrtimer_mode = bindings::hrtimer_mode_HRTIMER_MODE_REL_SOFT;

/// Sets up the timer of a new socket.
///
/// # Safety
///
/// `repr` must point to a new socket of protocol `T` that nobody else uses
/// yet.
pub(super) unsafe fn setup<T: InetProtocol>(repr: *mut SockRepr<T>) {
    // SAFETY: By the caller's guarantee the timer is ours to initialise; it
    // never moves (it is inside the socket's slab object).
    unsafe {
        bindings::hrtimer_setup(
            (*repr).timer.get(),
            Some(callback::<T>),
            bindings::CLOCK_MONOTONIC as bindings::clockid_t,
            MODE,
        )
    };
}

/// The hrtimer callback.
///
/// # Safety
///
/// Called by the hrtimer core for a timer set up by [`setup`] and armed by
/// [`ProtoSock::set_timer`], which took a socket reference for it.
unsafe extern "C" fn callback<T: InetProtocol>(
    timer: *mut bindings::hrtimer,
) -> bindings::hrtimer_restart {
    // SAFETY: The timer is the `timer` field of a `SockRepr<T>`, which is a
    // socket (`struct sock` first).
    let sk = unsafe {
        timer
            .cast::<u8>()
            .sub(offset_of!(SockRepr<T>, timer))
            .cast::<bindings::sock>()
    };
    // SAFETY: The reference taken when the timer was armed keeps the socket
    // and its initialised data alive until the `sock_put()` below.
    T::timer(unsafe { ProtoSock::from_raw(sk) });
    // SAFETY: Drops the reference of this expiry; the socket may be freed,
    // and the hrtimer core does not touch a timer that does not restart.
    unsafe { bindings::sock_put(sk) };
    bindings::hrtimer_restart::HRTIMER_NORESTART
}

impl<T: InetProtocol> ProtoSock<T> {
    fn timer_ptr(&self) -> *mut bindings::hrtimer {
        let repr = self.as_raw().cast::<SockRepr<T>>();
        // SAFETY: By the type invariant the socket has `SockRepr<T>`'s layout.
        unsafe { (*repr).timer.get() }
    }

    /// Arms the socket's timer to fire [`InetProtocol::timer`] in `after`
    /// (at once if zero or negative), replacing any earlier expiry.
    ///
    /// Any context but hard IRQ.
    pub fn set_timer(&self, after: Delta) {
        build_assert!(T::HAS_TIMER, "the protocol has no `timer` callback");
        let timer = self.timer_ptr();
        let sk = self.as_raw();
        let after = after.as_nanos().max(0);
        let _serialise = self.bh_lock();
        // SAFETY: The timer was set up at creation (`T::HAS_TIMER`). Every
        // queued expiry holds one reference. One dequeued here (1) passes it
        // on to the new expiry. While the callback runs (-1, and the
        // callback drops the reference of its own expiry), the timer may
        // have been queued again, with a reference that the new expiry,
        // replacing it, takes over; otherwise a new reference is needed, as
        // for an idle timer (0). The BH lock keeps other arming and stopping
        // out, so the queued state cannot change in between.
        unsafe {
            let dequeued = match bindings::hrtimer_try_to_cancel(timer) {
                1 => true,
                -1 => bindings::hrtimer_is_queued(timer),
                _ => false,
            };
            if !dequeued {
                bindings::sock_hold(sk);
            }
            bindings::hrtimer_start_range_ns(timer, after, 0, MODE);
        }
    }

    /// Stops the socket's timer; returns whether it was armed. A callback
    /// already running is not waited for.
    ///
    /// Any context but hard IRQ.
    pub fn stop_timer(&self) -> bool {
        build_assert!(T::HAS_TIMER, "the protocol has no `timer` callback");
        let timer = self.timer_ptr();
        let stopped = {
            let _serialise = self.bh_lock();
            // SAFETY: Set up at creation; serialised as in `set_timer`. A
            // timer queued again while its callback runs cannot be dequeued
            // until the callback is done: that expiry fires later and drops
            // its own reference.
            unsafe { bindings::hrtimer_try_to_cancel(timer) == 1 }
        };
        if stopped {
            // SAFETY: The reference the dequeued expiry held; the caller's
            // own reference (`&self`) keeps the socket alive.
            unsafe { bindings::sock_put(self.as_raw()) };
        }
        stopped
    }
}

#[macros::kunit_tests(rust_kernel_net_protocol_timer)]
mod tests {
    use super::super::Registration;
    use super::*;
    use crate::{
        error::to_result,
        net::sock::Sock,
        sync::{
            atomic::{Atomic, Relaxed},
            Completion,
        },
        time::{delay::fsleep, msecs_to_jiffies},
        ThisModule,
    };

    /// The second protocol number set aside for experimentation (RFC 3692).
    const TIMER_PROTO: u16 = 254;

    // SAFETY: Built-in code has no module: a null owner is what built-in
    // protocols use.
    static TEST_MODULE: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };

    /// Sockets whose data was dropped: counts destructors, which run once
    /// the last reference (the file's, a pending timer's) is gone.
    static DROPPED: Atomic<u32> = Atomic::new(0);

    struct TimerProto;

    struct Dropped;

    impl Drop for Dropped {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Relaxed);
        }
    }

    #[pin_data]
    struct Data {
        fired: Atomic<u32>,
        /// Expiries that re-arm the timer.
        rearm: Atomic<u32>,
        #[pin]
        done: Completion,
        _dropped: Dropped,
    }

    #[vtable]
    impl InetProtocol for TimerProto {
        type Data = Data;
        type Shared = ();

        const PROTOCOL: u16 = TIMER_PROTO;
        const NAME: &'static CStr = c"RUSTTIMER";
        const NAME6: &'static CStr = c"RUSTTIMERv6";

        fn init(_sk: &Sock) -> impl PinInit<Data, Error> {
            try_pin_init!(Data {
                fired: Atomic::new(0),
                rearm: Atomic::new(0),
                done <- Completion::new(),
                _dropped: Dropped,
            })
        }

        fn timer(sk: &ProtoSock<Self>) {
            let d = sk.data();
            d.fired.fetch_add(1, Relaxed);
            let left = d.rearm.load(Relaxed);
            if left > 0 {
                d.rearm.store(left - 1, Relaxed);
                sk.set_timer(Delta::from_millis(1));
            } else {
                d.done.complete_all();
            }
        }
    }

    /// A kernel socket of the timer protocol.
    struct KSock(*mut bindings::socket);

    impl KSock {
        fn new() -> Result<Self> {
            let mut sock = core::ptr::null_mut();
            // SAFETY: `init_net` lives forever; `sock` is a valid out
            // parameter.
            to_result(unsafe {
                bindings::sock_create_kern(
                    &raw mut bindings::init_net,
                    bindings::AF_INET as i32,
                    bindings::sock_type_SOCK_DGRAM as i32,
                    i32::from(TIMER_PROTO),
                    &mut sock,
                )
            })?;
            Ok(Self(sock))
        }

        fn sk(&self) -> &ProtoSock<TimerProto> {
            // SAFETY: A live socket of the timer protocol, whose `sk` lives as
            // long as `self`.
            unsafe { ProtoSock::from_raw((*self.0).sk) }
        }
    }

    impl Drop for KSock {
        fn drop(&mut self) {
            // SAFETY: We own the socket.
            unsafe { bindings::sock_release(self.0) };
        }
    }

    fn register() -> Result<Pin<KBox<Registration<TimerProto>>>> {
        KBox::try_pin_init(
            Registration::new(&TEST_MODULE, Ok::<(), Error>(())),
            GFP_KERNEL,
        )
    }

    /// Waits up to `ms` for the socket's callbacks to be done.
    fn done_within(sk: &ProtoSock<TimerProto>, ms: u32) -> bool {
        sk.data()
            .done
            .wait_for_completion_timeout(msecs_to_jiffies(ms))
            != 0
    }

    /// Waits (at most 2 s) for `n` socket destructors in total.
    fn dropped(n: u32) -> bool {
        let mut waited = 0;
        while DROPPED.load(Relaxed) < n && waited < 2000 {
            fsleep(Delta::from_millis(1));
            waited += 1;
        }
        DROPPED.load(Relaxed) == n
    }

    #[test]
    fn fires_and_rearms() -> Result {
        let _reg = register()?;
        let base = DROPPED.load(Relaxed);
        let s = KSock::new()?;
        s.sk().data().rearm.store(3, Relaxed);
        s.sk().set_timer(Delta::from_millis(1));
        assert!(done_within(s.sk(), 2000));
        assert_eq!(s.sk().data().fired.load(Relaxed), 4);
        // Every expiry gave its socket reference back: closing frees it.
        drop(s);
        assert!(dropped(base + 1));
        Ok(())
    }

    #[test]
    fn stop_and_reset() -> Result {
        let _reg = register()?;
        let base = DROPPED.load(Relaxed);
        let s = KSock::new()?;
        s.sk().set_timer(Delta::from_millis(1000));
        assert!(s.sk().stop_timer());
        assert!(!s.sk().stop_timer());
        fsleep(Delta::from_millis(20));
        assert_eq!(s.sk().data().fired.load(Relaxed), 0);
        // A new expiry replaces the pending one: one callback, soon.
        s.sk().set_timer(Delta::from_millis(1000));
        s.sk().set_timer(Delta::from_millis(5));
        assert!(done_within(s.sk(), 500));
        fsleep(Delta::from_millis(20));
        assert_eq!(s.sk().data().fired.load(Relaxed), 1);
        drop(s);
        assert!(dropped(base + 1));
        Ok(())
    }

    #[test]
    fn armed_timer_outlives_close() -> Result {
        let _reg = register()?;
        let base = DROPPED.load(Relaxed);
        let s = KSock::new()?;
        s.sk().set_timer(Delta::from_millis(30));
        // Closing with the timer armed: the data stays until the expiry has
        // run and given its reference back.
        drop(s);
        assert_eq!(DROPPED.load(Relaxed), base);
        assert!(dropped(base + 1));
        Ok(())
    }
}
