// SPDX-License-Identifier: GPL-2.0

//! IP protocols implemented in Rust: `struct proto`, `struct proto_ops` and
//! `struct inet_protosw` registration for `AF_INET` and `AF_INET6`.
//!
//! A protocol implements [`InetProtocol`]; a [`Registration`] makes
//! `socket(AF_INET or AF_INET6, SOCK_STREAM or SOCK_DGRAM, PROTOCOL)` create
//! sockets whose per-socket state ([`InetProtocol::Data`]) lives in the same
//! allocation as the `struct sock`, after the `struct inet_sock`.
//!
//! Operations a protocol does not implement answer `-EOPNOTSUPP` through the
//! kernel's `sock_no_*` helpers; release, getname and ioctl use the inet
//! ones, accept goes through `inet_accept()` (which grafts the socket the
//! protocol returns, see [`NewSock`]) and poll defaults to
//! `datagram_poll()`.
//!
//! State shared by all the sockets of a protocol (e.g. a table of lower
//! sockets) lives in the [`Registration`] as [`InetProtocol::Shared`] and is
//! reached from any socket with [`ProtoSock::shared`].
//!
//! C headers: [`include/net/sock.h`](srctree/include/net/sock.h),
//! [`include/net/protocol.h`](srctree/include/net/protocol.h),
//! [`include/linux/net.h`](srctree/include/linux/net.h).

use super::{
    addr::SocketAddr,
    msg::{RecvMsg, SendMsg},
    skbuff::SkBuff,
    sock::Sock,
    sockopt::{GetValue, SetValue},
};
use crate::ffi::{c_int, c_long, c_uint};
use crate::{
    bindings,
    error::{from_result, to_result, VTABLE_DEFAULT_ERROR},
    prelude::*,
    types::Opaque,
    ThisModule, //
};
use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    mem::{offset_of, size_of, ManuallyDrop, MaybeUninit},
    ops::Deref,
    ptr::NonNull,
};

/// Poll event bits (`EPOLL*`), returned by [`InetProtocol::poll`].
pub mod poll {
    /// Data to read (`EPOLLIN`).
    pub const IN: u32 = 0x0001;
    /// Urgent data (`EPOLLPRI`).
    pub const PRI: u32 = 0x0002;
    /// Room to write (`EPOLLOUT`).
    pub const OUT: u32 = 0x0004;
    /// An error is pending (`EPOLLERR`).
    pub const ERR: u32 = 0x0008;
    /// Hung up: both directions shut down (`EPOLLHUP`).
    pub const HUP: u32 = 0x0010;
    /// Normal data to read (`EPOLLRDNORM`).
    pub const RDNORM: u32 = 0x0040;
    /// Room to write normal data (`EPOLLWRNORM`).
    pub const WRNORM: u32 = 0x0100;
    /// The peer shut down its sending side (`EPOLLRDHUP`).
    pub const RDHUP: u32 = 0x2000;
}

/// An IP protocol implemented in Rust.
///
/// Every method runs in process context, from the socket system call it is
/// named after, without the socket lock held.
#[vtable]
pub trait InetProtocol: Sized + 'static {
    /// Per-socket state, created by [`InetProtocol::init`] and dropped when
    /// the socket is destroyed.
    type Data: Send + Sync;

    /// State shared by every socket of the protocol, created with the
    /// [`Registration`] and reached with [`ProtoSock::shared`].
    type Shared: Send + Sync;

    /// The protocol number (e.g. `IPPROTO_QUIC`).
    const PROTOCOL: u16;

    /// The name of the `AF_INET` protocol, as in `/proc/net/protocols`.
    const NAME: &'static CStr;

    /// The name of the `AF_INET6` protocol.
    const NAME6: &'static CStr;

    /// Creates the per-socket state of a new socket.
    fn init(sk: &Sock) -> impl PinInit<Self::Data, Error>;

    /// The last close(2) of the socket; the socket is then released.
    fn close(_sk: &ProtoSock<Self>) {}

    /// bind(2). The address is parsed; its family is not checked yet.
    fn bind(_sk: &ProtoSock<Self>, _addr: &SocketAddr) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// connect(2).
    fn connect(_sk: &ProtoSock<Self>, _addr: &SocketAddr, _flags: i32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// listen(2).
    fn listen(_sk: &ProtoSock<Self>, _backlog: i32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// shutdown(2).
    fn shutdown(_sk: &ProtoSock<Self>, _how: i32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// setsockopt(2) for every level but `SOL_SOCKET` (which the socket
    /// layer handles).
    fn setsockopt(_sk: &ProtoSock<Self>, _level: i32, _name: i32, _val: &SetValue) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// getsockopt(2) for every level but `SOL_SOCKET`.
    fn getsockopt(
        _sk: &ProtoSock<Self>,
        _level: i32,
        _name: i32,
        _val: &mut GetValue<'_>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// accept(2) on a listener: returns the next connection, a socket made
    /// with [`ProtoSock::new_child`], which `inet_accept()` grafts onto the
    /// new file. `flags` are the `O_NONBLOCK`/`O_CLOEXEC` flags of the call
    /// (non-blocking if `O_NONBLOCK` is set); `kern` is set for kernel
    /// callers (`kernel_accept()`).
    fn accept(_sk: &ProtoSock<Self>, _flags: i32, _kern: bool) -> Result<NewSock<Self>> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// sendmsg(2): returns the number of bytes sent.
    fn sendmsg(_sk: &ProtoSock<Self>, _msg: &mut SendMsg<'_>) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// recvmsg(2): returns the number of bytes received. `flags` are the
    /// call's `MSG_*` flags (`MSG_DONTWAIT`, `MSG_PEEK`, ...).
    fn recvmsg(_sk: &ProtoSock<Self>, _msg: &mut RecvMsg<'_>, _flags: u32) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// poll(2): the current event mask ([`poll`] bits). The caller is
    /// already registered on the socket's wait queue (`sock_poll_wait()`),
    /// so a wake-up after the mask is computed is not lost.
    fn poll(_sk: &ProtoSock<Self>) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Processes an skb that the receive path deferred with
    /// [`SockBhGuard::add_backlog`](super::sock::SockBhGuard::add_backlog)
    /// because a process owned the socket. Runs in process context from
    /// `release_sock()`, with the socket still owned by that process. An
    /// error drops the skb.
    fn backlog_rcv(_sk: &ProtoSock<Self>, _skb: SkBuff) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Runs at the end of every `release_sock()`, after the backlog, with
    /// the BH socket lock held: work deferred by timers or softirqs that
    /// found the socket owned. Must not sleep.
    fn release_cb(_sk: &ProtoSock<Self>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The memory layout of a socket of protocol `T`: `struct inet_sock`, then
/// the Rust state.
#[repr(C)]
struct SockRepr<T: InetProtocol> {
    inet: bindings::inet_sock,
    /// Whether `data` is initialised. The slab object is zeroed by
    /// `sk_alloc()`, so this starts `false`.
    live: bool,
    data: UnsafeCell<MaybeUninit<T::Data>>,
}

/// The `AF_INET6` layout: `struct ipv6_pinfo` follows, found by the IPv6
/// code through `proto.ipv6_pinfo_offset`.
#[cfg(CONFIG_IPV6 = "y")]
#[repr(C)]
struct Sock6Repr<T: InetProtocol> {
    base: SockRepr<T>,
    pinfo: bindings::ipv6_pinfo,
}

/// A socket of protocol `T`.
///
/// # Invariants
///
/// The `struct sock` was allocated with one of `T`'s `struct proto`s, so it
/// has the layout of `SockRepr<T>`, and its `data` is initialised.
#[repr(transparent)]
pub struct ProtoSock<T: InetProtocol>(Sock, PhantomData<T>);

impl<T: InetProtocol> ProtoSock<T> {
    /// # Safety
    ///
    /// `sk` must be a live socket of one of `T`'s protos with initialised
    /// data, valid for `'a`.
    unsafe fn from_raw<'a>(sk: *mut bindings::sock) -> &'a Self {
        // SAFETY: `ProtoSock` is transparent over `Sock`, which is over
        // `struct sock`; validity is guaranteed by the caller.
        unsafe { &*sk.cast() }
    }

    /// The protocol's state for this socket.
    pub fn data(&self) -> &T::Data {
        let repr = self.0.as_raw().cast::<SockRepr<T>>();
        // SAFETY: By the type invariant the socket has the layout of
        // `SockRepr<T>` and `data` is initialised; it is only dropped in
        // `destroy`, after the last user of the socket is gone.
        unsafe { (*(*repr).data.get()).assume_init_ref() }
    }
}

impl<T: InetProtocol> ProtoSock<T> {
    /// The state shared by all sockets of the protocol.
    pub fn shared(&self) -> &T::Shared {
        // SAFETY: By the type invariant the socket was allocated with one of
        // `T`'s protos, which live in the `proto` field of the `v4` or `v6`
        // family of a pinned `Registration<T>`; which one follows from the
        // family (`IPV6_ADDRFORM` never changes the proto of a protocol
        // other than TCP and UDP). The registration outlives every socket:
        // sockets hold a reference to the module owning it.
        unsafe {
            let proto = (*self.0.as_raw()).__sk_common.skc_prot.cast::<u8>();
            let family = if self.family() == bindings::AF_INET6 as u16 {
                offset_of!(Registration<T>, v6)
            } else {
                offset_of!(Registration<T>, v4)
            };
            let reg = proto
                .sub(family + offset_of!(Family<T>, proto))
                .cast::<Registration<T>>();
            &(*reg).shared
        }
    }

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
            (*sk).sk_destruct = (*lsk).sk_destruct;
            (*sk).sk_backlog_rcv = (*lsk).sk_backlog_rcv;
            (*sk).sk_txrehash = (*lsk).sk_txrehash;
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

    fn inet(&self) -> *mut bindings::inet_sock {
        // By the type invariant the socket starts with a `struct inet_sock`.
        self.0.as_raw().cast()
    }

    /// Records the local address reported by getsockname(2) (and used as
    /// the source address of an IPv6 socket).
    ///
    /// An IPv4 address on an IPv6 socket is stored v4-mapped.
    pub fn set_local_addr(&self, addr: &SocketAddr) {
        let inet = self.inet();
        let sk = self.0.as_raw();
        // SAFETY: The socket is valid and an inet socket; callers serialise
        // address changes (bind/connect run under the protocol's lock).
        unsafe {
            let common = &raw mut (*sk).__sk_common;
            (*common).__bindgen_anon_3.__bindgen_anon_1.skc_num = addr.port();
            (*inet).inet_sport = addr.port().to_be();
            match addr {
                SocketAddr::V4 { addr, .. } => {
                    let a = u32::from_ne_bytes(*addr);
                    (*common).__bindgen_anon_1.__bindgen_anon_1.skc_rcv_saddr = a;
                    (*inet).inet_saddr = a;
                }
                #[cfg(CONFIG_IPV6 = "y")]
                SocketAddr::V6 { addr, .. } => {
                    (*common).skc_v6_rcv_saddr.in6_u.u6_addr8 = *addr;
                    let np = (*inet).pinet6;
                    if !np.is_null() {
                        (*np).saddr.in6_u.u6_addr8 = *addr;
                    }
                }
                #[cfg(not(CONFIG_IPV6 = "y"))]
                SocketAddr::V6 { .. } => {}
            }
        }
    }
}

impl<T: InetProtocol> core::ops::Deref for ProtoSock<T> {
    type Target = Sock;

    fn deref(&self) -> &Sock {
        &self.0
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
    fn into_raw(self) -> *mut bindings::sock {
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

/// The registration objects of one address family.
struct Family<T: InetProtocol> {
    proto: Opaque<bindings::proto>,
    ops: Opaque<bindings::proto_ops>,
    sw: [Opaque<bindings::inet_protosw>; 2],
    _p: PhantomData<T>,
}

const SOCK_TYPES: [u32; 2] = [
    bindings::sock_type_SOCK_STREAM,
    bindings::sock_type_SOCK_DGRAM,
];

impl<T: InetProtocol> Family<T> {
    fn new(module: &'static ThisModule, v6: bool) -> Self {
        let name = if v6 { T::NAME6 } else { T::NAME };
        Self {
            proto: Opaque::new(Adapter::<T>::proto(module, name, v6)),
            ops: Opaque::new(Adapter::<T>::ops(module, v6)),
            sw: [Opaque::zeroed(), Opaque::zeroed()],
            _p: PhantomData,
        }
    }

    /// Registers the proto, then one protosw per socket type.
    ///
    /// # Safety
    ///
    /// `self` must be pinned and stay registered until [`Family::unregister`].
    unsafe fn register(
        &self,
        register_sw: unsafe extern "C" fn(*mut bindings::inet_protosw) -> c_int,
        unregister_sw: unsafe extern "C" fn(*mut bindings::inet_protosw),
    ) -> Result {
        // SAFETY: `proto` is initialised and pinned; `1` asks for a slab of
        // `obj_size` objects.
        to_result(unsafe { bindings::proto_register(self.proto.get(), 1) })?;
        for (i, (sw, ty)) in self.sw.iter().zip(SOCK_TYPES).enumerate() {
            // SAFETY: `sw` is not registered yet, so we are its only user.
            unsafe {
                let raw = &mut *sw.get();
                raw.type_ = ty as u16;
                raw.protocol = T::PROTOCOL;
                raw.prot = self.proto.get();
                raw.ops = self.ops.get();
                raw.flags = 0;
            }
            // SAFETY: `sw` is initialised, pinned, and points at our pinned
            // proto and ops, which outlive its registration.
            if let Err(e) = to_result(unsafe { register_sw(sw.get()) }) {
                for done in &self.sw[..i] {
                    // SAFETY: Registered in an earlier iteration.
                    unsafe { unregister_sw(done.get()) };
                }
                // SAFETY: Registered above.
                unsafe { bindings::proto_unregister(self.proto.get()) };
                return Err(e);
            }
        }
        Ok(())
    }

    /// # Safety
    ///
    /// `self` must have been registered with the same functions.
    unsafe fn unregister(&self, unregister_sw: unsafe extern "C" fn(*mut bindings::inet_protosw)) {
        for sw in &self.sw {
            // SAFETY: Registered, by the safety requirements.
            unsafe { unregister_sw(sw.get()) };
        }
        // SAFETY: Registered, by the safety requirements.
        unsafe { bindings::proto_unregister(self.proto.get()) };
    }
}

/// `inet_register_protosw()` cannot fail loudly: it only logs when a
/// permanent protocol already owns the number. Adapt it to the IPv6 shape.
///
/// # Safety
///
/// As for `inet_register_protosw()`.
unsafe extern "C" fn inet_register_protosw(sw: *mut bindings::inet_protosw) -> c_int {
    // SAFETY: Forwarded from `Family::register`'s caller.
    unsafe { bindings::inet_register_protosw(sw) };
    0
}

/// A protocol's registration with the socket layer, for `AF_INET` and (when
/// IPv6 is built in) `AF_INET6`, `SOCK_STREAM` and `SOCK_DGRAM`.
///
/// # Invariants
///
/// When `registered` is true, `v4` (and `v6` if IPv6 is built in) are
/// registered.
#[pin_data(PinnedDrop)]
pub struct Registration<T: InetProtocol> {
    #[pin]
    v4: Family<T>,
    #[pin]
    v6: Family<T>,
    #[pin]
    shared: T::Shared,
    registered: bool,
}

// SAFETY: After registration the C structures are only read by the socket
// layer, which does its own locking; nothing is accessed through `&self`.
unsafe impl<T: InetProtocol> Sync for Registration<T> {}
// SAFETY: See above; the registration can be dropped from any thread.
unsafe impl<T: InetProtocol> Send for Registration<T> {}

impl<T: InetProtocol> Registration<T> {
    /// Registers protocol `T` with the socket layer, with the state its
    /// sockets share.
    pub fn new(
        module: &'static ThisModule,
        shared: impl PinInit<T::Shared, Error>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            v4: Family::new(module, false),
            v6: Family::new(module, true),
            shared <- shared,
            registered: false,
        })
        .pin_chain(|this| {
            // SAFETY: The families are pinned inside `this` and unregistered
            // in `drop` before they go away; `shared` is initialised before
            // any socket can exist.
            unsafe {
                this.v4
                    .register(inet_register_protosw, bindings::inet_unregister_protosw)?;
                #[cfg(CONFIG_IPV6 = "y")]
                if let Err(e) = this.v6.register(
                    bindings::inet6_register_protosw,
                    bindings::inet6_unregister_protosw,
                ) {
                    this.v4.unregister(bindings::inet_unregister_protosw);
                    return Err(e);
                }
            }
            // SAFETY: Setting a flag does not move anything.
            // INVARIANT: Everything is registered.
            unsafe { this.get_unchecked_mut().registered = true };
            Ok(())
        })
    }
}

#[pinned_drop]
impl<T: InetProtocol> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        if !self.registered {
            return;
        }
        // SAFETY: By the type invariant both families are registered.
        unsafe {
            #[cfg(CONFIG_IPV6 = "y")]
            self.v6.unregister(bindings::inet6_unregister_protosw);
            self.v4.unregister(bindings::inet_unregister_protosw);
        }
    }
}

/// The C entry points of protocol `T`.
struct Adapter<T: InetProtocol>(PhantomData<T>);

impl<T: InetProtocol> Adapter<T> {
    fn proto(module: &'static ThisModule, name: &'static CStr, v6: bool) -> bindings::proto {
        // SAFETY: All-zero is a valid `struct proto` (no callbacks set).
        let mut p: bindings::proto = unsafe { MaybeUninit::zeroed().assume_init() };
        let bytes = name.to_bytes();
        let mut i = 0;
        while i < bytes.len() && i < p.name.len() - 1 {
            p.name[i] = bytes[i] as crate::ffi::c_char;
            i += 1;
        }
        p.owner = module.as_ptr();
        p.init = Some(Self::init_callback);
        p.destroy = Some(Self::destroy_callback);
        p.close = Some(Self::close_callback);
        p.hash = Some(Self::hash_callback);
        p.unhash = Some(Self::unhash_callback);
        if T::HAS_ACCEPT {
            p.accept = Some(Self::accept_callback);
        }
        if T::HAS_BACKLOG_RCV {
            p.backlog_rcv = Some(Self::backlog_rcv_callback);
        }
        if T::HAS_RELEASE_CB {
            p.release_cb = Some(Self::release_cb_callback);
        }
        p.no_autobind = true;
        p.obj_size = size_of::<SockRepr<T>>() as c_uint;
        #[cfg(CONFIG_IPV6 = "y")]
        if v6 {
            p.obj_size = size_of::<Sock6Repr<T>>() as c_uint;
            p.ipv6_pinfo_offset = offset_of!(Sock6Repr<T>, pinfo) as c_uint;
        }
        let _ = v6;
        p
    }

    fn ops(module: &'static ThisModule, v6: bool) -> bindings::proto_ops {
        // SAFETY: All-zero is a valid `struct proto_ops` (no callbacks set).
        let mut o: bindings::proto_ops = unsafe { MaybeUninit::zeroed().assume_init() };
        o.family = bindings::PF_INET as c_int;
        o.owner = module.as_ptr();
        o.release = Some(bindings::inet_release);
        o.getname = Some(bindings::inet_getname);
        o.ioctl = Some(bindings::inet_ioctl);
        #[cfg(CONFIG_IPV6 = "y")]
        if v6 {
            o.family = bindings::PF_INET6 as c_int;
            o.release = Some(bindings::inet6_release);
            o.getname = Some(bindings::inet6_getname);
            o.ioctl = Some(bindings::inet6_ioctl);
        }
        let _ = v6;
        o.socketpair = Some(bindings::sock_no_socketpair);
        o.accept = if T::HAS_ACCEPT {
            Some(bindings::inet_accept)
        } else {
            Some(bindings::sock_no_accept)
        };
        o.poll = if T::HAS_POLL {
            Some(Self::poll_callback)
        } else {
            Some(bindings::datagram_poll)
        };
        o.gettstamp = Some(bindings::sock_gettstamp);
        o.mmap = Some(bindings::sock_no_mmap);
        o.sendmsg = if T::HAS_SENDMSG {
            Some(Self::sendmsg_callback)
        } else {
            Some(bindings::sock_no_sendmsg)
        };
        o.recvmsg = if T::HAS_RECVMSG {
            Some(Self::recvmsg_callback)
        } else {
            Some(bindings::sock_no_recvmsg)
        };
        o.bind = if T::HAS_BIND {
            Some(Self::bind_callback)
        } else {
            Some(bindings::sock_no_bind)
        };
        o.connect = if T::HAS_CONNECT {
            Some(Self::connect_callback)
        } else {
            Some(bindings::sock_no_connect)
        };
        o.listen = if T::HAS_LISTEN {
            Some(Self::listen_callback)
        } else {
            Some(bindings::sock_no_listen)
        };
        o.shutdown = if T::HAS_SHUTDOWN {
            Some(Self::shutdown_callback)
        } else {
            Some(bindings::sock_no_shutdown)
        };
        o.setsockopt = if T::HAS_SETSOCKOPT {
            Some(Self::setsockopt_callback)
        } else {
            None
        };
        o.getsockopt_iter = if T::HAS_GETSOCKOPT {
            Some(Self::getsockopt_callback)
        } else {
            None
        };
        o
    }

    /// # Safety
    ///
    /// `sock` must be a valid socket whose `sk` belongs to one of `T`'s
    /// protos and is initialised (true for every `proto_ops` call after a
    /// successful socket(2)).
    unsafe fn sk<'a>(sock: *mut bindings::socket) -> &'a ProtoSock<T> {
        // SAFETY: Guaranteed by the caller.
        unsafe { ProtoSock::from_raw((*sock).sk) }
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn init_callback(sk: *mut bindings::sock) -> c_int {
        from_result(|| {
            let repr = sk.cast::<SockRepr<T>>();
            // SAFETY: `sk` was just allocated by `sk_alloc()` with our proto,
            // so it has `SockRepr<T>`'s layout and is valid.
            let slot = unsafe { (*repr).data.get().cast::<T::Data>() };
            // SAFETY: `sk` is valid; the reference lives for this call only.
            let init = T::init(unsafe { Sock::from_raw(sk) });
            // SAFETY: `slot` is valid, uninitialised and never moves: it is
            // inside the socket's slab object.
            unsafe { pin_init::raw_try_init(slot, init)? };
            // SAFETY: As above; nobody else sees the socket yet.
            unsafe { (*repr).live = true };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn destroy_callback(sk: *mut bindings::sock) {
        let repr = sk.cast::<SockRepr<T>>();
        // SAFETY: `destroy` runs once, from `sk_common_release()`, after the
        // last user of the protocol state; the layout is ours.
        unsafe {
            if (*repr).live {
                (*repr).live = false;
                core::ptr::drop_in_place((*repr).data.get().cast::<T::Data>());
            }
        }
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn close_callback(sk: *mut bindings::sock, _timeout: c_long) {
        if T::HAS_CLOSE {
            // SAFETY: `close` is called by inet(6)_release on a live socket
            // of ours whose `init` succeeded.
            T::close(unsafe { ProtoSock::from_raw(sk) });
        }
        // SAFETY: This drops the reference socket(2) created; it calls
        // `destroy` and frees the socket once the last reference is gone.
        unsafe { bindings::sk_common_release(sk) };
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn hash_callback(_sk: *mut bindings::sock) -> c_int {
        0
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn unhash_callback(_sk: *mut bindings::sock) {}

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn bind_callback(
        sock: *mut bindings::socket,
        addr: *mut bindings::sockaddr_unsized,
        len: c_int,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The socket layer copied `len` bytes of address into
            // kernel memory at `addr`.
            let addr = unsafe { SocketAddr::from_raw(addr.cast(), len)? };
            // SAFETY: A `proto_ops` call on one of our sockets.
            T::bind(unsafe { Self::sk(sock) }, &addr)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn connect_callback(
        sock: *mut bindings::socket,
        addr: *mut bindings::sockaddr_unsized,
        len: c_int,
        flags: c_int,
    ) -> c_int {
        from_result(|| {
            // SAFETY: As in `bind_callback`.
            let addr = unsafe { SocketAddr::from_raw(addr.cast(), len)? };
            // SAFETY: A `proto_ops` call on one of our sockets.
            T::connect(unsafe { Self::sk(sock) }, &addr, flags)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn listen_callback(sock: *mut bindings::socket, backlog: c_int) -> c_int {
        from_result(|| {
            // SAFETY: A `proto_ops` call on one of our sockets.
            T::listen(unsafe { Self::sk(sock) }, backlog)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn shutdown_callback(sock: *mut bindings::socket, how: c_int) -> c_int {
        from_result(|| {
            // SAFETY: A `proto_ops` call on one of our sockets.
            T::shutdown(unsafe { Self::sk(sock) }, how)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn setsockopt_callback(
        sock: *mut bindings::socket,
        level: c_int,
        name: c_int,
        optval: bindings::sockptr_t,
        optlen: c_uint,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The socket layer passes a `sockptr_t` for `optlen`
            // bytes, valid for this call.
            let val = unsafe { SetValue::from_raw(optval, optlen) };
            // SAFETY: A `proto_ops` call on one of our sockets.
            T::setsockopt(unsafe { Self::sk(sock) }, level, name, &val)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn getsockopt_callback(
        sock: *mut bindings::socket,
        level: c_int,
        name: c_int,
        opt: *mut bindings::sockopt_t,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The socket layer set `opt` up for this call.
            let mut val = unsafe { GetValue::from_raw(opt) };
            // SAFETY: A `proto_ops` call on one of our sockets.
            T::getsockopt(unsafe { Self::sk(sock) }, level, name, &mut val)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `inet_accept()` with a valid listener of ours and argument.
    unsafe extern "C" fn accept_callback(
        sk: *mut bindings::sock,
        arg: *mut bindings::proto_accept_arg,
    ) -> *mut bindings::sock {
        // SAFETY: `arg` is valid for the call.
        let (flags, kern) = unsafe { ((*arg).flags, (*arg).kern) };
        // SAFETY: `accept` is called on a live socket of ours.
        match T::accept(unsafe { ProtoSock::from_raw(sk) }, flags, kern) {
            // The reference `NewSock` owned passes to the new `struct socket`.
            Ok(child) => child.into_raw(),
            Err(e) => {
                // SAFETY: As above.
                unsafe { (*arg).err = e.to_errno() };
                core::ptr::null_mut()
            }
        }
    }

    /// # Safety
    ///
    /// Called by `__release_sock()` with a live socket of ours (owned by the
    /// process releasing it) and an skb it hands over.
    unsafe extern "C" fn backlog_rcv_callback(
        sk: *mut bindings::sock,
        skb: *mut bindings::sk_buff,
    ) -> c_int {
        // SAFETY: The skb is ours now (the return value only feeds
        // statistics); it is not null.
        let skb = unsafe { SkBuff::from_raw(NonNull::new_unchecked(skb)) };
        // SAFETY: A live socket of ours.
        match T::backlog_rcv(unsafe { ProtoSock::from_raw(sk) }, skb) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by `release_sock()` with a live socket of ours.
    unsafe extern "C" fn release_cb_callback(sk: *mut bindings::sock) {
        // SAFETY: A live socket of ours.
        T::release_cb(unsafe { ProtoSock::from_raw(sk) });
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn sendmsg_callback(
        sock: *mut bindings::socket,
        msg: *mut bindings::msghdr,
        _len: usize,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The socket layer passes a send `msghdr` for this call.
            let mut msg = unsafe { SendMsg::from_raw(msg) };
            // SAFETY: A `proto_ops` call on one of our sockets.
            let n = T::sendmsg(unsafe { Self::sk(sock) }, &mut msg)?;
            c_int::try_from(n).map_err(|_| EINVAL)
        })
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn recvmsg_callback(
        sock: *mut bindings::socket,
        msg: *mut bindings::msghdr,
        _len: usize,
        flags: c_int,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The socket layer passes a receive `msghdr` for this call.
            let mut msg = unsafe { RecvMsg::from_raw(msg) };
            // SAFETY: A `proto_ops` call on one of our sockets.
            let n = T::recvmsg(unsafe { Self::sk(sock) }, &mut msg, flags as u32)?;
            c_int::try_from(n).map_err(|_| EINVAL)
        })
    }

    /// # Safety
    ///
    /// Called by the socket layer with valid pointers for this protocol.
    unsafe extern "C" fn poll_callback(
        file: *mut bindings::file,
        sock: *mut bindings::socket,
        wait: *mut bindings::poll_table_struct,
    ) -> bindings::__poll_t {
        // SAFETY: The pointers come from the poll(2) machinery for this call.
        unsafe { bindings::sock_poll_wait(file, sock, wait) };
        // SAFETY: A `proto_ops` call on one of our sockets.
        T::poll(unsafe { Self::sk(sock) })
    }
}
