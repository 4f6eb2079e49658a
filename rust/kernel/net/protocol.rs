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
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
    ThisModule, //
};

mod accept;
mod timer;

pub use accept::{AcceptQueue, NewSock};

use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    mem::{offset_of, size_of, MaybeUninit},
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

    /// The socket's timer fired ([`ProtoSock::set_timer`]). Runs in softirq,
    /// without the socket lock; must not sleep. A protocol that implements
    /// it gets one timer per socket.
    fn timer(_sk: &ProtoSock<Self>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The memory layout of a socket of protocol `T`: `struct inet_sock`, then
/// the Rust state.
#[repr(C)]
struct SockRepr<T: InetProtocol> {
    inet: bindings::inet_sock,
    /// The protocol timer ([`timer`]), set up at creation if the protocol
    /// has one.
    timer: Opaque<bindings::hrtimer>,
    /// Whether `data` is initialised. The slab object is zeroed by
    /// `sk_alloc()`, so this starts `false`.
    live: bool,
    /// The family's destructor (`inet_sock_destruct()`,
    /// `inet6_sock_destruct()`), which ours calls after dropping `data`.
    family_destruct: Option<unsafe extern "C" fn(*mut bindings::sock)>,
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
/// Its [`InetProtocol::Data`] lives as long as the socket: it is dropped
/// when the last reference goes (`sk_destruct`), not at close, so any
/// holder of a reference ([`ARef<ProtoSock<T>>`](ARef), a pending timer)
/// may use it. That last reference may go in softirq: `Data`'s destructor
/// must not sleep (release what needs process context in
/// [`InetProtocol::close`]).
///
/// # Invariants
///
/// The `struct sock` was allocated with one of `T`'s `struct proto`s, so it
/// has the layout of `SockRepr<T>`, and its `data` is initialised.
#[repr(transparent)]
pub struct ProtoSock<T: InetProtocol>(Sock, PhantomData<T>);

// SAFETY: `sock_hold()` and `sock_put()` manage the socket's reference
// count; the last `sock_put()` frees the socket and its data.
unsafe impl<T: InetProtocol> AlwaysRefCounted for ProtoSock<T> {
    fn inc_ref(&self) {
        // SAFETY: The existence of `&self` means the refcount is non-zero.
        unsafe { bindings::sock_hold(self.0.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns the reference being dropped.
        unsafe { bindings::sock_put(obj.cast().as_ptr()) };
    }
}

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
            if T::HAS_TIMER {
                // SAFETY: `sk` was just allocated with our proto and nobody
                // else uses it yet.
                unsafe { timer::setup(repr) };
            }
            // SAFETY: `sk` was just allocated by `sk_alloc()` with our proto,
            // so it has `SockRepr<T>`'s layout and is valid.
            let slot = unsafe { (*repr).data.get().cast::<T::Data>() };
            // SAFETY: `sk` is valid; the reference lives for this call only.
            let init = T::init(unsafe { Sock::from_raw(sk) });
            // SAFETY: `slot` is valid, uninitialised and never moves: it is
            // inside the socket's slab object.
            unsafe { pin_init::raw_try_init(slot, init)? };
            // SAFETY: As above; nobody else sees the socket yet. From now on
            // the data is dropped by our destructor, after the last
            // reference.
            unsafe {
                (*repr).live = true;
                (*repr).family_destruct = (*sk).sk_destruct;
                (*sk).sk_destruct = Some(Self::destruct_callback);
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by `__sk_destruct()` when the last reference to a socket whose
    /// `init_callback` succeeded is gone.
    unsafe extern "C" fn destruct_callback(sk: *mut bindings::sock) {
        let repr = sk.cast::<SockRepr<T>>();
        // SAFETY: Nobody uses the socket any more; the layout is ours and
        // `data` was initialised by `init_callback`, which installed us.
        unsafe {
            if (*repr).live {
                (*repr).live = false;
                core::ptr::drop_in_place((*repr).data.get().cast::<T::Data>());
            }
            if let Some(f) = (*repr).family_destruct {
                f(sk);
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
        // `inet_sock_destruct()` refuses to free a `SOCK_STREAM` socket that
        // is not closed (a listener, a connection).
        // SAFETY: The socket is live; only `sk_state` is written.
        unsafe { bindings::inet_sk_set_state(sk, bindings::TCP_CLOSE as i32) };
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

#[macros::kunit_tests(rust_kernel_net_protocol)]
mod tests {
    use super::*;
    use crate::{
        net::{
            msg::{cmsg_encode, CmsgIter},
            sock::{SockGuard, State, Timeout, RCV_SHUTDOWN},
        },
        new_mutex,
        sync::{
            atomic::{Atomic, Relaxed},
            Arc, Mutex,
        },
        task::Task,
        time::{delay::fsleep, Delta},
        workqueue,
    };

    /// The protocol number IANA sets aside for experimentation and testing
    /// (RFC 3692).
    const TEST_PROTO: u16 = 253;

    // SAFETY: Built-in code has no module: a null owner is what built-in
    // protocols use.
    static TEST_MODULE: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };

    struct Proto;

    #[pin_data]
    struct Data {
        #[pin]
        inner: Mutex<Inner>,
        #[pin]
        accept: AcceptQueue<Proto>,
    }

    #[derive(Default)]
    struct Inner {
        msg: KVec<u8>,
        name: Option<SocketAddr>,
        cmsg: Option<(i32, i32, KVec<u8>)>,
    }

    #[pin_data]
    struct Shared {
        backlog: Atomic<u32>,
        release_cb: Atomic<u32>,
        closed: Atomic<u32>,
    }

    #[vtable]
    impl InetProtocol for Proto {
        type Data = Data;
        type Shared = Shared;

        const PROTOCOL: u16 = TEST_PROTO;
        const NAME: &'static CStr = c"RUSTTEST";
        const NAME6: &'static CStr = c"RUSTTESTv6";

        fn init(_sk: &Sock) -> impl PinInit<Data, Error> {
            try_pin_init!(Data {
                inner <- new_mutex!(Inner::default()),
                accept <- AcceptQueue::new(2),
            })
        }

        fn close(sk: &ProtoSock<Self>) {
            sk.shared().closed.fetch_add(1, Relaxed);
        }

        fn bind(sk: &ProtoSock<Self>, addr: &SocketAddr) -> Result {
            sk.set_local_addr(addr);
            Ok(())
        }

        fn listen(sk: &ProtoSock<Self>, _backlog: i32) -> Result {
            sk.set_state(State::Listen);
            Ok(())
        }

        fn accept(sk: &ProtoSock<Self>, flags: i32, _kern: bool) -> Result<NewSock<Self>> {
            sk.data().accept.accept(sk, flags)
        }

        fn sendmsg(sk: &ProtoSock<Self>, msg: &mut SendMsg<'_>) -> Result<usize> {
            let name = msg.name()?;
            let mut cmsg = None;
            for c in msg.cmsgs()?.iter() {
                let c = c?;
                let mut data = KVec::new();
                data.extend_from_slice(c.data, GFP_KERNEL)?;
                cmsg = Some((c.level, c.ty, data));
            }
            let mut buf = KVec::from_elem(0u8, msg.len(), GFP_KERNEL)?;
            let n = msg.copy_from(&mut buf);
            buf.truncate(n);
            {
                let mut inner = sk.data().inner.lock();
                inner.msg = buf;
                inner.name = name;
                inner.cmsg = cmsg;
            }
            sk.data_ready();
            Ok(n)
        }

        fn recvmsg(sk: &ProtoSock<Self>, msg: &mut RecvMsg<'_>, _flags: u32) -> Result<usize> {
            let mut inner = sk.data().inner.lock();
            if inner.msg.is_empty() {
                return Err(EAGAIN);
            }
            let n = msg.copy_to(&inner.msg);
            if n < inner.msg.len() {
                msg.add_flags(bindings::MSG_TRUNC);
            }
            if let Some(a) = inner.name {
                msg.set_name(&a)?;
            }
            if let Some((level, ty, data)) = &inner.cmsg {
                msg.put_cmsg(*level, *ty, data)?;
            }
            inner.msg.clear();
            Ok(n)
        }

        fn poll(sk: &ProtoSock<Self>) -> u32 {
            let mut mask = poll::OUT | poll::WRNORM;
            if !sk.data().inner.lock().msg.is_empty() {
                mask |= poll::IN | poll::RDNORM;
            }
            mask
        }

        fn backlog_rcv(sk: &ProtoSock<Self>, skb: SkBuff) -> Result {
            sk.shared().backlog.fetch_add(1, Relaxed);
            skb.consume();
            Ok(())
        }

        fn release_cb(sk: &ProtoSock<Self>) {
            sk.shared().release_cb.fetch_add(1, Relaxed);
        }
    }

    fn register() -> Result<Pin<KBox<Registration<Proto>>>> {
        let shared = try_pin_init!(Shared {
            backlog: Atomic::new(0),
            release_cb: Atomic::new(0),
            closed: Atomic::new(0),
        });
        KBox::try_pin_init(Registration::new(&TEST_MODULE, shared), GFP_KERNEL)
    }

    /// A kernel socket of the test protocol.
    struct KSock(*mut bindings::socket);

    impl KSock {
        fn new(family: u32, ty: u32) -> Result<Self> {
            let mut sock = core::ptr::null_mut();
            // SAFETY: `init_net` lives forever; `sock` is a valid out
            // parameter.
            to_result(unsafe {
                bindings::sock_create_kern(
                    &raw mut bindings::init_net,
                    family as i32,
                    ty as i32,
                    i32::from(TEST_PROTO),
                    &mut sock,
                )
            })?;
            Ok(Self(sock))
        }

        fn sk(&self) -> &ProtoSock<Proto> {
            // SAFETY: A live socket of the test protocol, whose `sk` lives as
            // long as `self`.
            unsafe { ProtoSock::from_raw((*self.0).sk) }
        }

        fn bind(&self, addr: &SocketAddr) -> Result {
            let mut buf = [0u8; 28];
            let len = addr.to_bytes(&mut buf)?;
            // SAFETY: The socket is live and `buf` holds `len` bytes.
            to_result(unsafe { bindings::kernel_bind(self.0, buf.as_mut_ptr().cast(), len as i32) })
        }

        fn poll(&self) -> u32 {
            // SAFETY: A live socket; a null file and poll table only ask
            // for the mask.
            unsafe {
                match (*(*self.0).ops).poll {
                    Some(f) => f(core::ptr::null_mut(), self.0, core::ptr::null_mut()),
                    None => 0,
                }
            }
        }
    }

    impl Drop for KSock {
        fn drop(&mut self) {
            // SAFETY: We own the socket.
            unsafe { bindings::sock_release(self.0) };
        }
    }

    fn lo4(port: u16) -> SocketAddr {
        SocketAddr::V4 {
            addr: [127, 0, 0, 1],
            port,
        }
    }

    #[test]
    fn send_recv_poll() -> Result {
        let reg = register()?;
        let s = KSock::new(bindings::AF_INET, bindings::sock_type_SOCK_DGRAM)?;
        assert!(core::ptr::eq(s.sk().shared(), &reg.shared));
        assert_eq!(s.sk().protocol(), TEST_PROTO);
        s.bind(&lo4(4242))?;
        assert_eq!(s.poll() & poll::IN, 0);

        // sendmsg with a destination, a control message and data.
        let mut data = *b"hello, rust sockets";
        let mut name = [0u8; 28];
        let name_len = lo4(7).to_bytes(&mut name)?;
        let mut control = KVec::new();
        cmsg_encode(&mut control, 288, 5, &[1, 2, 3])?;
        // SAFETY: All-zero is a valid `struct msghdr` (no name, no control).
        let mut msg: bindings::msghdr = unsafe { MaybeUninit::zeroed().assume_init() };
        msg.msg_name = name.as_mut_ptr().cast();
        msg.msg_namelen = name_len as i32;
        msg.__bindgen_anon_1.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len();
        let mut vec = bindings::kvec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: The socket, message and buffers are valid for the call.
        let n = unsafe { bindings::kernel_sendmsg(s.0, &mut msg, &mut vec, 1, data.len()) };
        assert_eq!(n, data.len() as i32);
        assert_eq!(s.poll() & (poll::IN | poll::OUT), poll::IN | poll::OUT);

        // recvmsg into a short buffer: truncated, with name and cmsg.
        let mut out = [0u8; 5];
        let mut from = [0u8; 128];
        let mut ctl = [0u8; 64];
        // SAFETY: As above.
        let mut msg: bindings::msghdr = unsafe { MaybeUninit::zeroed().assume_init() };
        msg.msg_name = from.as_mut_ptr().cast();
        msg.msg_namelen = from.len() as i32;
        msg.__bindgen_anon_1.msg_control = ctl.as_mut_ptr().cast();
        msg.msg_controllen = ctl.len();
        let mut vec = bindings::kvec {
            iov_base: out.as_mut_ptr().cast(),
            iov_len: out.len(),
        };
        // SAFETY: As above.
        let n = unsafe { bindings::kernel_recvmsg(s.0, &mut msg, &mut vec, 1, out.len(), 0) };
        assert_eq!(n, 5);
        assert_eq!(&out, b"hello");
        assert!(msg.msg_flags & bindings::MSG_TRUNC != 0);
        let namelen = usize::try_from(msg.msg_namelen).unwrap_or(0);
        assert_eq!(SocketAddr::from_bytes(&from[..namelen])?, lo4(7));
        let used = ctl.len() - msg.msg_controllen;
        let mut it = CmsgIter::new(&ctl[..used]);
        assert!(
            matches!(it.next(), Some(Ok(c)) if c.level == 288 && c.ty == 5 && c.data == [1, 2, 3])
        );
        assert!(it.next().is_none());
        assert_eq!(s.poll() & poll::IN, 0);

        // Nothing left.
        // SAFETY: As above.
        let n = unsafe { bindings::kernel_recvmsg(s.0, &mut msg, &mut vec, 1, out.len(), 0) };
        assert_eq!(n, EAGAIN.to_errno());
        drop(s);
        assert_eq!(reg.shared.closed.load(Relaxed), 1);
        Ok(())
    }

    fn accept_family(family: u32) -> Result {
        let reg = register()?;
        let l = KSock::new(family, bindings::sock_type_SOCK_STREAM)?;
        for i in 0..3 {
            let child = l.sk().new_child()?;
            assert_eq!(child.family(), family as u16);
            assert_eq!(child.protocol(), TEST_PROTO);
            assert_eq!(child.sock_type(), bindings::sock_type_SOCK_STREAM as u16);
            assert!(core::ptr::eq(child.shared(), &reg.shared));
            child.set_state(State::Established);
            let r = l.sk().data().accept.push(l.sk(), child);
            // The queue holds two; the third is refused and closed.
            assert_eq!(r.is_ok(), i < 2);
        }
        assert_eq!(reg.shared.closed.load(Relaxed), 1);
        let mut new = core::ptr::null_mut();
        // SAFETY: `l` is a live socket; `new` is a valid out parameter.
        to_result(unsafe { bindings::kernel_accept(l.0, &mut new, bindings::O_NONBLOCK as i32) })?;
        let a = KSock(new);
        assert_eq!(a.sk().family(), family as u16);
        assert_eq!(a.sk().state(), State::Established as u8);
        assert_eq!(a.poll() & poll::OUT, poll::OUT);
        // SAFETY: As above.
        to_result(unsafe { bindings::kernel_accept(l.0, &mut new, bindings::O_NONBLOCK as i32) })?;
        let b = KSock(new);
        assert_eq!(reg.shared.closed.load(Relaxed), 1);
        drop(a);
        drop(b);
        assert_eq!(reg.shared.closed.load(Relaxed), 3);

        // An empty queue.
        // SAFETY: As above.
        let r = unsafe { bindings::kernel_accept(l.0, &mut new, bindings::O_NONBLOCK as i32) };
        assert_eq!(r, EAGAIN.to_errno());

        // A blocking accept(2) wakes up when a connection is queued.
        let child = l.sk().new_child()?;
        child.set_state(State::Established);
        let slot = Arc::pin_init(new_mutex!(Some(child)), GFP_KERNEL)?;
        let (s2, lref): (_, ARef<Sock>) = (slot.clone(), ARef::from(&**l.sk()));
        let done = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let d2 = done.clone();
        workqueue::system().try_spawn(GFP_KERNEL, move || {
            fsleep(Delta::from_millis(20));
            if let Some(c) = s2.lock().take() {
                // SAFETY: `lref` is a live listener of the test protocol.
                let l = unsafe { ProtoSock::<Proto>::from_raw(lref.as_raw()) };
                let _ = l.data().accept.push(l, c);
            }
            drop(lref);
            d2.store(1, Relaxed);
        })?;
        // SAFETY: As above.
        to_result(unsafe { bindings::kernel_accept(l.0, &mut new, 0) })?;
        let c = KSock(new);
        assert_eq!(c.sk().family(), family as u16);
        drop(c);
        wait_for(&done);

        // A child still queued is closed with the listener.
        let closed = reg.shared.closed.load(Relaxed);
        let child = l.sk().new_child()?;
        assert!(l.sk().data().accept.push(l.sk(), child).is_ok());
        assert_eq!(l.sk().data().accept.len(), 1);
        drop(l);
        assert_eq!(reg.shared.closed.load(Relaxed), closed + 2);
        Ok(())
    }

    #[test]
    fn accept_v4() -> Result {
        accept_family(bindings::AF_INET)
    }

    #[cfg(CONFIG_IPV6 = "y")]
    #[test]
    fn accept_v6() -> Result {
        accept_family(bindings::AF_INET6)
    }

    #[test]
    fn backlog_and_release_cb() -> Result {
        let reg = register()?;
        let s = KSock::new(bindings::AF_INET, bindings::sock_type_SOCK_DGRAM)?;
        let sk = s.sk();
        assert!(!sk.bh_lock().owned_by_user());
        let before = reg.shared.release_cb.load(Relaxed);
        {
            let _owner = sk.lock();
            let mut bh = sk.bh_lock();
            assert!(bh.owned_by_user());
            for _ in 0..2 {
                let skb = SkBuff::alloc(0, 16, GFP_ATOMIC)?;
                assert!(bh.add_backlog(skb).is_ok());
            }
            drop(bh);
            assert_eq!(reg.shared.backlog.load(Relaxed), 0);
        }
        // `release_sock()` ran the backlog, then `release_cb`.
        assert_eq!(reg.shared.backlog.load(Relaxed), 2);
        assert!(reg.shared.release_cb.load(Relaxed) > before);
        Ok(())
    }

    /// Waits (at most 5 s) for a worker to report it is done.
    fn wait_for(flag: &Atomic<u32>) {
        wait_for_value(flag, 1);
    }

    /// Waits (at most 5 s) for `flag` to reach `value`.
    fn wait_for_value(flag: &Atomic<u32>, value: u32) {
        let mut n = 0;
        while flag.load(Relaxed) < value && n < 5000 {
            fsleep(Delta::from_millis(1));
            n += 1;
        }
        assert_eq!(flag.load(Relaxed), value);
    }

    /// In 20 ms, from a worker: runs `f` with `sk` locked (so while a waiter
    /// has released the lock), then wakes the socket's waiters. The flag
    /// returned is 1 once `f` ran and 2 once the worker let go of the socket
    /// (which must happen before the protocol is unregistered).
    fn locked_later(
        sk: &Sock,
        f: impl FnOnce(&mut SockGuard<'_>) + Send + 'static,
    ) -> Result<Arc<Atomic<u32>>> {
        let flag = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let (done, sref): (_, ARef<Sock>) = (flag.clone(), ARef::from(sk));
        workqueue::system().try_spawn(GFP_KERNEL, move || {
            fsleep(Delta::from_millis(20));
            let mut g = sref.lock();
            f(&mut g);
            done.store(1, Relaxed);
            drop(g);
            sref.data_ready();
            drop(sref);
            done.store(2, Relaxed);
        })?;
        Ok(flag)
    }

    #[test]
    fn waits() -> Result {
        let _reg = register()?;
        let s = KSock::new(bindings::AF_INET, bindings::sock_type_SOCK_DGRAM)?;
        let sk = s.sk();
        let mut g = sk.lock();

        let mut t = Timeout::NONBLOCK;
        assert_eq!(g.wait(&mut t, |_| Ok(false)), Err(EAGAIN));
        let mut t = Timeout::from_millis(20);
        assert_eq!(g.wait(&mut t, |_| Ok(false)), Err(ETIMEDOUT));
        assert!(t.is_zero());
        let mut t = Timeout::INFINITE;
        assert_eq!(g.wait(&mut t, |_| Ok(true)), Ok(()));
        assert_eq!(g.wait(&mut t, |_| Err(EPIPE)), Err(EPIPE));

        // A wake-up from another context, with the socket lock released
        // while waiting.
        let flag = locked_later(sk, |_| {})?;
        let mut t = Timeout::from_millis(5000);
        assert_eq!(g.wait(&mut t, |_| Ok(flag.load(Relaxed) >= 1)), Ok(()));
        assert!(!t.is_zero());
        drop(g);
        wait_for_value(&flag, 2);

        // A disconnect while the waiter sleeps fails the wait with `EPIPE`,
        // even though the condition then holds.
        let mut g = sk.lock();
        let flag = locked_later(sk, |g| g.count_disconnect())?;
        let mut t = Timeout::from_millis(5000);
        assert_eq!(g.wait(&mut t, |_| Ok(flag.load(Relaxed) >= 1)), Err(EPIPE));
        drop(g);
        wait_for_value(&flag, 2);

        // A pending signal interrupts a wait: restartable without a timeout,
        // `EINTR` with one.
        let mut g = sk.lock();
        // SAFETY: The test runs in a kernel thread, which takes signals only
        // when allowed; the signal is flushed and disallowed again below.
        unsafe {
            bindings::allow_signal(bindings::SIGUSR1 as i32);
            bindings::send_sig(bindings::SIGUSR1 as i32, Task::current_raw(), 1);
        }
        let mut t = Timeout::INFINITE;
        let r1 = g.wait(&mut t, |_| Ok(false));
        let mut t = Timeout::from_millis(5000);
        let r2 = g.wait(&mut t, |_| Ok(false));
        // A true condition wins over the signal.
        let r3 = g.wait(&mut t, |_| Ok(true));
        // SAFETY: As above.
        unsafe {
            bindings::flush_signals(Task::current_raw());
            bindings::disallow_signal(bindings::SIGUSR1 as i32);
        }
        assert_eq!(r1, Err(ERESTARTSYS));
        assert_eq!(r2, Err(EINTR));
        assert_eq!(r3, Ok(()));
        Ok(())
    }

    #[test]
    fn errors_shutdown_and_rcv_queue() -> Result {
        let _reg = register()?;
        let s = KSock::new(bindings::AF_INET, bindings::sock_type_SOCK_DGRAM)?;
        let sk = s.sk();
        assert_eq!(sk.net(), crate::net::namespace::Namespace::init_net());

        assert_eq!(sk.take_error(), None);
        sk.set_error(ECONNRESET);
        assert_eq!(sk.take_error(), Some(ECONNRESET));
        assert_eq!(sk.take_error(), None);

        assert_eq!(sk.shutdown_bits(), 0);
        sk.set_shutdown_bits(RCV_SHUTDOWN);
        assert_eq!(sk.shutdown_bits(), RCV_SHUTDOWN);

        assert_eq!(sk.rmem_alloc(), 0);
        let mut skb = SkBuff::alloc(0, 32, GFP_KERNEL)?;
        skb.put_data(b"queued")?;
        sk.queue_rcv_skb(skb)?;
        assert_eq!(sk.rcv_queue_len(), 1);
        assert!(sk.rmem_alloc() > 0);
        let got = sk.dequeue_rcv_skb();
        assert_eq!(sk.rmem_alloc(), 0);
        assert!(matches!(&got, Some(skb) if skb.data() == b"queued"));
        assert!(sk.dequeue_rcv_skb().is_none());

        // Send memory: charged while the skb lives.
        let mut skb = SkBuff::alloc(0, 32, GFP_KERNEL)?;
        let base = sk.wmem_alloc();
        skb.set_owner_w(sk);
        assert!(sk.wmem_alloc() > base);
        drop(skb);
        assert_eq!(sk.wmem_alloc(), base);
        assert!(sk.writeable());
        Ok(())
    }
}
