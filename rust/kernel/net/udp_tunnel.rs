// SPDX-License-Identifier: GPL-2.0

//! Kernel UDP tunnel sockets.
//!
//! A [`UdpTunnel`] is a kernel UDP socket bound to a local address and port
//! in a network namespace whose datagrams are not queued for `recvmsg()`:
//! each one is handed, in softirq context, to a [`Handler`] through the
//! socket's `encap_rcv` hook. Datagrams go out through
//! `udp_tunnel_xmit_skb()` / `udp_tunnel6_xmit_skb()` after a route lookup.
//!
//! The handler is an [`Arc`] stored in the socket's `sk_user_data`. Receive
//! paths only borrow it under RCU; releasing the tunnel clears
//! `sk_user_data`, waits for an RCU grace period and only then drops the
//! tunnel's reference, so a handler never runs after its last reference is
//! gone.
//!
//! # GRO and GSO on receive
//!
//! A handler always gets single datagrams. A tunnel may let the stack
//! aggregate the datagrams sent to it on receive ([`UdpTunnel::set_gro`],
//! the `UDP_GRO` socket option's effect): NAPI then merges a train of
//! datagrams of one flow into one GSO skb (`udp_gro_receive()`), which
//! crosses the IP layer once. The UDP layer splits any GSO skb again before
//! `encap_rcv` (`udp_unexpected_gso()` is true for an encapsulation socket
//! unless the skb is itself a tunnel aggregate, which only a socket with its
//! own `gro_receive` hook produces: a tunnel here has none), as it does for
//! a GSO train sent over loopback. Datagrams of a train arrive in order.
//!
//! C header: [`include/net/udp_tunnel.h`](srctree/include/net/udp_tunnel.h).

use super::{
    addr::SocketAddr,
    namespace::Namespace,
    skbuff::{DropReason, SkBuff},
    sock::Sock, //
};
use crate::{
    bindings,
    error::{from_err_ptr, to_result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_void},
    prelude::*,
    sync::{aref::ARef, Arc, ArcBorrow},
    types::ForeignOwnable, //
};
use core::{marker::PhantomData, mem::MaybeUninit, ptr::NonNull};

/// The UDP header length.
pub const UDP_HEADER_LEN: usize = 8;

/// The headroom [`UdpTunnel::send`] needs before the payload: UDP, IPv6 and
/// the largest link-layer header (`MAX_HEADER`). Allocate skbs with at least
/// this much to avoid a copy.
pub const TX_HEADROOM: usize = bindings::MAX_HEADER as usize + 40 + UDP_HEADER_LEN;

/// The ECN codepoint mask of the IP TOS / traffic class byte.
pub const ECN_MASK: u8 = 0x3;

const IP_DF: u16 = 0x4000;

/// Where a received datagram came from and went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvInfo {
    /// The sender's address and port. An IPv4 datagram received on a
    /// dual-stack IPv6 tunnel has IPv4 addresses here.
    pub src: SocketAddr,
    /// The local address and port the datagram was sent to.
    pub dst: SocketAddr,
    /// The ECN codepoint of the IP header (the low two bits of the TOS or
    /// traffic class byte).
    pub ecn: u8,
}

/// An ICMP error about a datagram the tunnel sent (`encap_err_rcv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    /// The error the ICMP message maps to (e.g. `EMSGSIZE` for "packet too
    /// big", `ECONNREFUSED` for "port unreachable").
    pub error: Error,
    /// The remote port of the datagram that caused it.
    pub port: u16,
    /// Extra information: the next-hop MTU for "packet too big".
    pub info: u32,
}

/// The receive side of a UDP tunnel.
///
/// Every method runs in softirq context under `rcu_read_lock()`: it must not
/// sleep.
#[vtable]
pub trait Handler: Send + Sync + Sized + 'static {
    /// A datagram arrived on `sock`. `skb` holds the UDP payload (the UDP
    /// header is pulled: it is at `skb.linear_at(-8, 8)`); the handler owns
    /// it. Replies can go out through `sock` ([`TunnelSock::send`]).
    fn recv(this: ArcBorrow<'_, Self>, sock: &TunnelSock<'_>, skb: SkBuff, info: &RecvInfo);

    /// An ICMP error arrived for a datagram sent from the tunnel.
    fn icmp_error(_this: ArcBorrow<'_, Self>, _err: &IcmpError) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// Transmit options of [`UdpTunnel::send`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// The source address; `None` lets the route choose. Its port is
    /// ignored: datagrams always leave from the tunnel's port.
    pub src: Option<SocketAddr>,
    /// The TOS (IPv4) or traffic class (IPv6) byte: DSCP and ECN bits.
    pub tos: u8,
    /// The TTL / hop limit; 0 uses the route's default.
    pub ttl: u8,
    /// Set the IPv4 "don't fragment" bit. IPv6 datagrams are never
    /// fragmented by routers and ignore it.
    pub df: bool,
}

/// The UDP socket of a tunnel, borrowed: what transmits.
///
/// [`UdpTunnel::sock`] lends it for as long as the tunnel lives, and a
/// [`Handler`] gets it for the duration of a call, to reply from the socket
/// the datagram arrived on.
///
/// # Invariants
///
/// `sk` is a UDP socket set up as a tunnel by [`UdpTunnel::new`], alive for
/// `'a`, bound to port `port`; `v6` tells whether it is an IPv6 socket.
pub struct TunnelSock<'a> {
    sk: &'a Sock,
    port: u16,
    v6: bool,
}

/// A kernel UDP tunnel socket with its receive handler `T`.
///
/// # Invariants
///
/// `sock` is a kernel UDP socket created by `udp_sock_create()` in `net`,
/// set up with `setup_udp_tunnel_sock()` so that its `sk_user_data` is
/// `handler`, a pointer obtained from `Arc::<T>::into_foreign()` that this
/// object owns. Both are released in `drop`.
pub struct UdpTunnel<T: Handler> {
    sock: NonNull<bindings::socket>,
    handler: *mut c_void,
    net: ARef<Namespace>,
    local: SocketAddr,
    _p: PhantomData<Arc<T>>,
}

// SAFETY: The socket may be used and released from any thread (in process
// context); the handler is `Send + Sync`.
unsafe impl<T: Handler> Send for UdpTunnel<T> {}
// SAFETY: `send` and the accessors may run concurrently: the socket layer
// serialises what needs it.
unsafe impl<T: Handler> Sync for UdpTunnel<T> {}

impl<T: Handler> UdpTunnel<T> {
    /// Creates a UDP socket in `net` bound to `local` (port 0: the kernel
    /// picks a free port, see [`UdpTunnel::local_addr`]) whose datagrams go
    /// to `handler`.
    ///
    /// An IPv6 tunnel bound to `::` also receives IPv4 datagrams unless the
    /// namespace's `bindv6only` is set. Fails like bind(2): `EADDRINUSE`,
    /// `EADDRNOTAVAIL` for an address that is not local, `EAFNOSUPPORT`
    /// for IPv6 without IPv6 support. Must be called in process context.
    pub fn new(net: &Namespace, local: &SocketAddr, handler: Arc<T>) -> Result<Self> {
        // SAFETY: All-zero is a valid `struct udp_port_cfg`.
        let mut cfg: bindings::udp_port_cfg = unsafe { MaybeUninit::zeroed().assume_init() };
        cfg.local_udp_port = local.port().to_be();
        cfg.set_use_udp_checksums(1);
        cfg.set_use_udp6_tx_checksums(1);
        cfg.set_use_udp6_rx_checksums(1);
        let mut sock: *mut bindings::socket = core::ptr::null_mut();
        match local {
            SocketAddr::V4 { addr, .. } => {
                cfg.family = bindings::AF_INET as u8;
                cfg.__bindgen_anon_1.local_ip.s_addr = u32::from_ne_bytes(*addr);
                // SAFETY: `net` is alive, `cfg` is initialised and `sock` is
                // a valid out-pointer.
                to_result(unsafe {
                    bindings::udp_sock_create4(net.as_raw(), &mut cfg, &mut sock)
                })?;
            }
            #[cfg(CONFIG_IPV6 = "y")]
            SocketAddr::V6 { addr, scope_id, .. } => {
                cfg.family = bindings::AF_INET6 as u8;
                cfg.__bindgen_anon_1.local_ip6.in6_u.u6_addr8 = *addr;
                // A link-local address is only meaningful on its interface.
                if addr[0] == 0xfe && addr[1] & 0xc0 == 0x80 {
                    cfg.bind_ifindex = i32::try_from(*scope_id).map_err(|_| EINVAL)?;
                }
                // SAFETY: As above.
                to_result(unsafe {
                    bindings::udp_sock_create6(net.as_raw(), &mut cfg, &mut sock)
                })?;
            }
            #[cfg(not(CONFIG_IPV6 = "y"))]
            SocketAddr::V6 { .. } => return Err(EAFNOSUPPORT),
        }
        let sock = NonNull::new(sock).ok_or(EINVAL)?;
        let local = match Self::bound_addr(sock) {
            Ok(a) => a,
            Err(e) => {
                // SAFETY: `sock` was just created and is not set up yet.
                unsafe { bindings::udp_tunnel_sock_release((*sock.as_ptr()).sk) };
                return Err(e);
            }
        };

        let handler = handler.into_foreign();
        // SAFETY: All-zero is a valid `struct udp_tunnel_sock_cfg`.
        let mut tcfg: bindings::udp_tunnel_sock_cfg =
            unsafe { MaybeUninit::zeroed().assume_init() };
        tcfg.sk_user_data = handler;
        // Any non-zero type routes datagrams to `encap_rcv`; 1 is what the
        // other kernel tunnels (VXLAN, Geneve) use.
        tcfg.encap_type = 1;
        tcfg.encap_rcv = Some(Self::encap_rcv);
        if T::HAS_ICMP_ERROR {
            tcfg.encap_err_rcv = Some(Self::encap_err_rcv);
        }
        // SAFETY: `sock` is a fresh kernel UDP socket of `net`; the callbacks
        // match `handler`'s type, and `handler` stays valid until `drop`
        // clears it and waits for readers.
        unsafe { bindings::setup_udp_tunnel_sock(net.as_raw(), (*sock.as_ptr()).sk, &mut tcfg) };
        // INVARIANT: Set up just above.
        Ok(Self {
            sock,
            handler,
            net: net.into(),
            local,
            _p: PhantomData,
        })
    }

    fn bound_addr(sock: NonNull<bindings::socket>) -> Result<SocketAddr> {
        // SAFETY: All-zero is a valid `struct sockaddr_storage`.
        let mut ss: bindings::__kernel_sockaddr_storage =
            unsafe { MaybeUninit::zeroed().assume_init() };
        // SAFETY: `sock` is a live socket and `ss` is large enough for any
        // address.
        let len = unsafe { bindings::kernel_getsockname(sock.as_ptr(), (&raw mut ss).cast()) };
        let len = usize::try_from(len).map_err(|_| Error::from_errno(len))?;
        // SAFETY: `ss` is a plain byte buffer of its size.
        let bytes = unsafe {
            core::slice::from_raw_parts(
                (&raw const ss).cast::<u8>(),
                len.min(size_of::<bindings::__kernel_sockaddr_storage>()),
            )
        };
        SocketAddr::from_bytes(bytes)
    }

    /// The bound address, with the port the kernel picked for port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The namespace the tunnel lives in.
    pub fn net(&self) -> &Namespace {
        &self.net
    }

    /// The receive handler.
    pub fn handler(&self) -> ArcBorrow<'_, T> {
        // SAFETY: `handler` came from `into_foreign` and is only reclaimed in
        // `drop`, after `self` is gone.
        unsafe { <Arc<T> as ForeignOwnable>::borrow(self.handler) }
    }

    /// The UDP socket, to transmit from.
    pub fn sock(&self) -> TunnelSock<'_> {
        // INVARIANT: The tunnel socket lives as long as `self`.
        TunnelSock {
            // SAFETY: The socket is alive while `self` is, by the type
            // invariant.
            sk: unsafe { Sock::from_raw(self.sk()) },
            port: self.local.port(),
            v6: matches!(self.local, SocketAddr::V6 { .. }),
        }
    }

    /// Sends `skb` to `dst` from the tunnel: see [`TunnelSock::send`].
    pub fn send(&self, skb: SkBuff, dst: &SocketAddr, opts: &SendOptions) -> Result {
        self.sock().send(skb, dst, opts)
    }

    /// Lets the UDP stack aggregate datagrams received for this tunnel
    /// (UDP GRO, as `setsockopt(UDP_GRO)` does for a user socket), or stops
    /// it. The handler still gets them one by one (see the module docs):
    /// what is saved is per-packet work below the UDP layer on devices that
    /// do GRO.
    pub fn set_gro(&self, on: bool) {
        // SAFETY: The socket is alive (type invariant); the flag is an atomic
        // bit that the receive path reads locklessly.
        unsafe { bindings::udp_tunnel_set_gro(self.sk(), on) };
    }

    /// Whether UDP GRO is enabled for this tunnel ([`UdpTunnel::set_gro`]).
    pub fn gro(&self) -> bool {
        // SAFETY: The socket is alive (type invariant).
        unsafe { bindings::udp_tunnel_gro_enabled(self.sk()) }
    }

    fn sk(&self) -> *mut bindings::sock {
        // SAFETY: The socket is alive by the type invariant.
        unsafe { (*self.sock.as_ptr()).sk }
    }

    /// Parses the IP and UDP headers of a datagram handed to `encap_rcv`
    /// (`data` at the UDP header).
    fn parse(skb: &SkBuff) -> Option<RecvInfo> {
        let udp = skb.linear_at(0, UDP_HEADER_LEN)?;
        let sport = u16::from_be_bytes([udp[0], udp[1]]);
        let dport = u16::from_be_bytes([udp[2], udp[3]]);
        let nh = skb.network_offset();
        match u32::from(skb.protocol()) {
            bindings::ETH_P_IP => {
                let ip = skb.linear_at(nh, 20)?;
                let a = |o: usize| [ip[o], ip[o + 1], ip[o + 2], ip[o + 3]];
                Some(RecvInfo {
                    src: SocketAddr::V4 {
                        addr: a(12),
                        port: sport,
                    },
                    dst: SocketAddr::V4 {
                        addr: a(16),
                        port: dport,
                    },
                    ecn: ip[1] & ECN_MASK,
                })
            }
            bindings::ETH_P_IPV6 => {
                let ip = skb.linear_at(nh, 40)?;
                let a = |o: usize| {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(&ip[o..o + 16]);
                    b
                };
                #[cfg(CONFIG_IPV6 = "y")]
                // SAFETY: An IPv6 datagram's control block is its `inet6_skb_parm`.
                let iif = unsafe { bindings::inet6_iif(skb.as_raw()) };
                #[cfg(not(CONFIG_IPV6 = "y"))]
                let iif = 0;
                // Link-local addresses are reported with their interface.
                let v6 = |addr: [u8; 16], port| SocketAddr::V6 {
                    addr,
                    port,
                    flowinfo: 0,
                    scope_id: if addr[0] == 0xfe && addr[1] & 0xc0 == 0x80 {
                        u32::try_from(iif).unwrap_or(0)
                    } else {
                        0
                    },
                };
                Some(RecvInfo {
                    src: v6(a(8), sport),
                    dst: v6(a(24), dport),
                    ecn: (ip[1] >> 4) & ECN_MASK,
                })
            }
            _ => None,
        }
    }

    /// # Safety
    ///
    /// Called by the UDP receive path with a tunnel socket set up by `new`
    /// and an skb whose ownership passes to us (we return 0), under RCU.
    unsafe extern "C" fn encap_rcv(sk: *mut bindings::sock, skb: *mut bindings::sk_buff) -> c_int {
        // SAFETY: `skb` is a valid, unshared skb given to us; a segment of a
        // GSO batch may still point to the next one, which the UDP layer
        // holds separately.
        let mut skb = unsafe {
            bindings::skb_mark_not_on_list(skb);
            SkBuff::from_raw(NonNull::new_unchecked(skb))
        };
        // SAFETY: `sk` is a live tunnel socket; we are in an RCU read-side
        // critical section.
        let ptr = unsafe { bindings::rcu_dereference_sk_user_data(sk) };
        if ptr.is_null() {
            // Being released.
            skb.drop_with_reason(DropReason::SOCKET_CLOSE);
            return 0;
        }
        // SAFETY: A non-null `sk_user_data` is the handler set in `new`; it is
        // only reclaimed after an RCU grace period following its clearing,
        // and we are in a read-side critical section that saw it set.
        let handler = unsafe { <Arc<T> as ForeignOwnable>::borrow(ptr) };
        let Some(info) = Self::parse(&skb) else {
            skb.drop_with_reason(DropReason::PKT_TOO_SMALL);
            return 0;
        };
        if skb.pull(UDP_HEADER_LEN).is_err() {
            skb.drop_with_reason(DropReason::PKT_TOO_SMALL);
            return 0;
        }
        // INVARIANT: `sk` is the tunnel socket (we are its `encap_rcv`), alive
        // for this call; the datagram was sent to its port.
        let sock = TunnelSock {
            // SAFETY: The receive path holds the socket for this call.
            sk: unsafe { Sock::from_raw(sk) },
            port: info.dst.port(),
            // SAFETY: `skc_family` is set at creation and never changes.
            v6: unsafe { (*sk).__sk_common.skc_family } == bindings::AF_INET6 as u16,
        };
        T::recv(handler, &sock, skb, &info);
        0
    }

    /// # Safety
    ///
    /// Called by the UDP ICMP error path for a tunnel socket set up by `new`,
    /// under RCU.
    unsafe extern "C" fn encap_err_rcv(
        sk: *mut bindings::sock,
        _skb: *mut bindings::sk_buff,
        err: c_int,
        port: bindings::__be16,
        info: u32,
        _payload: *mut u8,
    ) {
        // SAFETY: As in `encap_rcv`.
        let ptr = unsafe { bindings::rcu_dereference_sk_user_data(sk) };
        if ptr.is_null() {
            return;
        }
        // SAFETY: As in `encap_rcv`.
        let handler = unsafe { <Arc<T> as ForeignOwnable>::borrow(ptr) };
        let err = IcmpError {
            error: Error::from_errno(-err.abs()),
            port: u16::from_be(port),
            info,
        };
        T::icmp_error(handler, &err);
    }
}

impl TunnelSock<'_> {
    /// The local port datagrams leave from.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends the data of `skb` as one UDP datagram (or a GSO batch of them,
    /// see [`SkBuff::set_gso_udp_l4`]) from the tunnel's port to `dst`.
    ///
    /// The skb is consumed either way. IPv4 destinations (or v4-mapped ones)
    /// are allowed on an IPv6 tunnel; an IPv6 destination on an IPv4 tunnel
    /// fails with `EAFNOSUPPORT`. A failed route lookup returns its error
    /// (`ENETUNREACH`, `EHOSTUNREACH`, ...); later losses are silent, as for
    /// any datagram.
    pub fn send(&self, mut skb: SkBuff, dst: &SocketAddr, opts: &SendOptions) -> Result {
        if let Err(e) = skb.ensure_headroom(TX_HEADROOM) {
            skb.drop_with_reason(DropReason::NOMEM);
            return Err(e);
        }
        let dst_v4 = match dst {
            SocketAddr::V4 { .. } => Some(*dst),
            SocketAddr::V6 { .. } => dst.to_v4_mapped(),
        };
        let src_v4 = opts.src.and_then(|s| match s {
            SocketAddr::V4 { .. } => Some(s),
            SocketAddr::V6 { .. } => s.to_v4_mapped(),
        });
        match (self.v6, dst_v4) {
            (_, Some(SocketAddr::V4 { addr, port })) => self.send4(skb, addr, port, src_v4, opts),
            #[cfg(CONFIG_IPV6 = "y")]
            (true, None) => self.send6(skb, dst, opts),
            _ => {
                skb.drop_with_reason(DropReason::INVALID_PROTO);
                Err(EAFNOSUPPORT)
            }
        }
    }

    /// Marks a GSO skb `CHECKSUM_PARTIAL` over the UDP header about to be
    /// pushed, as `__udp_gso_segment()` requires (`udp_set_csum()` does
    /// not for GSO).
    fn prepare_gso(skb: &mut SkBuff) {
        if skb.is_gso() {
            // The headroom holds at least the UDP header (`TX_HEADROOM`).
            let start = skb.headroom() - UDP_HEADER_LEN;
            if let Ok(start) = u16::try_from(start) {
                // SAFETY: `start` is where `udp_tunnel*_xmit_skb()` pushes the
                // UDP header, in the linear buffer; its checksum field is at
                // offset 6.
                unsafe { skb.set_checksum_partial(start, 6) };
            }
        }
    }

    /// Looks up the IPv4 route to `daddr:dport` from `src` (or the source
    /// the route picks): the route, whose reference the caller must drop or
    /// hand on, and the flow with the chosen source address.
    fn route4(
        &self,
        daddr: [u8; 4],
        dport: u16,
        src: Option<SocketAddr>,
        tos: u8,
    ) -> Result<(*mut bindings::rtable, bindings::flowi4)> {
        let saddr = match src {
            Some(SocketAddr::V4 { addr, .. }) => u32::from_ne_bytes(addr),
            _ => 0,
        };
        // SAFETY: All-zero is a valid `struct flowi4`.
        let mut fl4: bindings::flowi4 = unsafe { MaybeUninit::zeroed().assume_init() };
        // SAFETY: `net` and the socket are alive; `fl4` is a valid out
        // parameter. The result is a route or an error pointer.
        let rt = unsafe {
            bindings::ip_route_output_ports(
                self.sk.net().as_raw(),
                &mut fl4,
                self.sk.as_raw(),
                u32::from_ne_bytes(daddr),
                saddr,
                dport.to_be(),
                self.port.to_be(),
                bindings::IPPROTO_UDP as u8,
                tos & !ECN_MASK,
                0,
            )
        };
        Ok((from_err_ptr(rt)?, fl4))
    }

    /// Looks up the IPv6 route to `dst` from `src` (or the source the route
    /// picks): the route, whose reference the caller must drop or hand on,
    /// and the flow with the chosen source address.
    #[cfg(CONFIG_IPV6 = "y")]
    fn route6(
        &self,
        dst: &SocketAddr,
        src: Option<SocketAddr>,
    ) -> Result<(*mut bindings::dst_entry, bindings::flowi6)> {
        let SocketAddr::V6 {
            addr: daddr,
            port: dport,
            flowinfo,
            scope_id,
        } = *dst
        else {
            return Err(EAFNOSUPPORT);
        };
        // SAFETY: All-zero is a valid `struct flowi6`.
        let mut fl6: bindings::flowi6 = unsafe { MaybeUninit::zeroed().assume_init() };
        fl6.__fl_common.flowic_oif = i32::try_from(scope_id).unwrap_or(0);
        fl6.__fl_common.flowic_proto = bindings::IPPROTO_UDP as u8;
        // SAFETY: The socket is alive (type invariant); `sk_mark` is read
        // racily as in C.
        fl6.__fl_common.flowic_mark = unsafe { (*self.sk.as_raw()).sk_mark };
        fl6.daddr.in6_u.u6_addr8 = daddr;
        if let Some(SocketAddr::V6 { addr, .. }) = src {
            fl6.saddr.in6_u.u6_addr8 = addr;
        }
        fl6.flowlabel = (flowinfo & 0x000f_ffff).to_be();
        fl6.uli.ports.dport = dport.to_be();
        fl6.uli.ports.sport = self.port.to_be();
        // SAFETY: `net` and the socket are alive; `fl6` is valid. The result
        // is a route we own or an error pointer.
        let route = unsafe {
            bindings::ip6_dst_lookup_flow(
                self.sk.net().as_raw(),
                self.sk.as_raw(),
                &mut fl6,
                core::ptr::null(),
            )
        };
        Ok((from_err_ptr(route)?, fl6))
    }

    /// The source address datagrams to `dst` leave from, as the routing
    /// table picks it (what connect(2) on a UDP socket records), with the
    /// tunnel's port. An IPv4 or v4-mapped destination gets an IPv4 source.
    /// Fails as the route lookup does (`ENETUNREACH`, ...), or with
    /// `EAFNOSUPPORT` for an IPv6 destination on an IPv4 tunnel.
    pub fn route_source(&self, dst: &SocketAddr) -> Result<SocketAddr> {
        let dst_v4 = match dst {
            SocketAddr::V4 { .. } => Some(*dst),
            SocketAddr::V6 { .. } => dst.to_v4_mapped(),
        };
        match (self.v6, dst_v4) {
            (_, Some(SocketAddr::V4 { addr, port })) => {
                let (rt, fl4) = self.route4(addr, port, None, 0)?;
                // SAFETY: We own the reference the lookup returned.
                unsafe { bindings::dst_release(&raw mut (*rt).dst) };
                Ok(SocketAddr::V4 {
                    addr: fl4.saddr.to_ne_bytes(),
                    port: self.port,
                })
            }
            #[cfg(CONFIG_IPV6 = "y")]
            (true, None) => {
                let (route, fl6) = self.route6(dst, None)?;
                // SAFETY: We own the reference the lookup returned.
                unsafe { bindings::dst_release(route) };
                let scope_id = match dst {
                    SocketAddr::V6 { scope_id, .. } => *scope_id,
                    SocketAddr::V4 { .. } => 0,
                };
                // SAFETY: Every variant of the `in6_addr` union is a view of
                // the same 16 initialised bytes.
                let addr = unsafe { fl6.saddr.in6_u.u6_addr8 };
                Ok(SocketAddr::V6 {
                    addr,
                    port: self.port,
                    flowinfo: 0,
                    scope_id,
                })
            }
            _ => Err(EAFNOSUPPORT),
        }
    }

    fn send4(
        &self,
        mut skb: SkBuff,
        daddr: [u8; 4],
        dport: u16,
        src: Option<SocketAddr>,
        opts: &SendOptions,
    ) -> Result {
        let (rt, fl4) = match self.route4(daddr, dport, src, opts.tos) {
            Ok(r) => r,
            Err(e) => {
                skb.drop_with_reason(DropReason::NOT_SPECIFIED);
                return Err(e);
            }
        };
        let daddr = u32::from_ne_bytes(daddr);
        let sport = self.port.to_be();
        let dport = dport.to_be();
        let ttl = match opts.ttl {
            // SAFETY: `rt` is a valid route we hold a reference to.
            0 => (unsafe { bindings::ip4_dst_hoplimit(&raw mut (*rt).dst) }) as u8,
            t => t,
        };
        let df = if opts.df { IP_DF.to_be() } else { 0 };
        Self::prepare_gso(&mut skb);
        // SAFETY: The route reference and the skb are handed over (the
        // function consumes both); the skb has `TX_HEADROOM` bytes of private
        // headroom; `fl4.saddr` is the source the route chose.
        unsafe {
            bindings::udp_tunnel_xmit_skb(
                rt,
                self.sk.as_raw(),
                skb.into_raw().as_ptr(),
                fl4.saddr,
                daddr,
                opts.tos,
                ttl,
                df,
                sport,
                dport,
                false,
                false,
                0,
            )
        };
        Ok(())
    }

    #[cfg(CONFIG_IPV6 = "y")]
    fn send6(&self, mut skb: SkBuff, dst: &SocketAddr, opts: &SendOptions) -> Result {
        let (dst, fl6) = match self.route6(dst, opts.src) {
            Ok(r) => r,
            Err(e) => {
                skb.drop_with_reason(DropReason::NOT_SPECIFIED);
                return Err(e);
            }
        };
        let ttl = match opts.ttl {
            // SAFETY: `dst` is a valid route we hold a reference to.
            0 => (unsafe { bindings::ip6_dst_hoplimit(dst) }) as u8,
            t => t,
        };
        Self::prepare_gso(&mut skb);
        // SAFETY: The route reference and the skb are handed over; the skb
        // has `TX_HEADROOM` bytes of private headroom; the addresses live in
        // `fl6` for the call.
        unsafe {
            bindings::udp_tunnel6_xmit_skb(
                dst,
                self.sk.as_raw(),
                skb.into_raw().as_ptr(),
                core::ptr::null_mut(),
                &fl6.saddr,
                &fl6.daddr,
                opts.tos,
                ttl,
                fl6.flowlabel,
                fl6.uli.ports.sport,
                fl6.uli.ports.dport,
                false,
                0,
            )
        };
        Ok(())
    }
}

impl<T: Handler> Drop for UdpTunnel<T> {
    fn drop(&mut self) {
        crate::task::might_sleep();
        // SAFETY: By the type invariant the socket is a set-up tunnel that we
        // own; this clears `sk_user_data` and releases the socket.
        unsafe { bindings::udp_tunnel_sock_release(self.sk()) };
        // Receive paths that still see the handler run under RCU: wait for
        // them before dropping our reference.
        crate::sync::rcu::synchronize_rcu();
        // SAFETY: `handler` came from `into_foreign` and nobody borrows it
        // any more.
        drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(self.handler) });
    }
}

#[macros::kunit_tests(rust_kernel_net_udp_tunnel)]
mod tests {
    use super::*;
    use crate::{
        new_spinlock_bh,
        sync::{Completion, SpinLockBh},
        time::msecs_to_jiffies,
    };

    /// Brings the loopback device of `init_net` up: KUnit runs at boot,
    /// before userspace would.
    fn loopback_up() -> Result {
        // SAFETY: `init_net.loopback_dev` is set up at boot and never freed;
        // `dev_open` runs under the RTNL as required and is a no-op for an
        // up device.
        unsafe {
            bindings::rtnl_lock();
            let ret = bindings::dev_open(bindings::init_net.loopback_dev, core::ptr::null_mut());
            bindings::rtnl_unlock();
            to_result(ret)
        }
    }

    #[pin_data]
    struct Catcher {
        #[pin]
        got: SpinLockBh<KVec<(RecvInfo, KVec<u8>)>>,
        #[pin]
        done: Completion,
        want: usize,
    }

    #[vtable]
    impl Handler for Catcher {
        fn recv(this: ArcBorrow<'_, Self>, _: &TunnelSock<'_>, mut skb: SkBuff, info: &RecvInfo) {
            if skb.linearize().is_err() {
                return;
            }
            let mut data = KVec::new();
            if data.extend_from_slice(skb.data(), GFP_ATOMIC).is_err() {
                return;
            }
            skb.consume();
            let mut got = this.got.lock();
            if got.push((*info, data), GFP_ATOMIC).is_ok() && got.len() == this.want {
                this.done.complete_all();
            }
        }
    }

    fn catcher(want: usize) -> Result<Arc<Catcher>> {
        Arc::pin_init(
            pin_init!(Catcher {
                got <- new_spinlock_bh!(KVec::new()),
                done <- Completion::new(),
                want,
            }),
            GFP_KERNEL,
        )
    }

    fn payload_skb(data: &[u8]) -> Result<SkBuff> {
        let mut skb = SkBuff::alloc(TX_HEADROOM, data.len(), GFP_KERNEL)?;
        skb.put_data(data)?;
        Ok(skb)
    }

    /// Sends a datagram from a tunnel to itself and checks what arrives.
    fn loopback(local: SocketAddr) -> Result {
        loopback_up()?;
        let c = catcher(1)?;
        let t = UdpTunnel::new(Namespace::init_net(), &local, c.clone())?;
        let me = t.local_addr();
        assert!(me.port() != 0);
        assert_eq!(me.with_port(0), local);

        let opts = SendOptions {
            tos: 0x01, // ECT(1)
            ..Default::default()
        };
        t.send(payload_skb(b"ping over udp")?, &me, &opts)?;
        let left = c.done.wait_for_completion_timeout(msecs_to_jiffies(5000));
        assert!(left != 0);
        {
            let got = c.got.lock();
            assert_eq!(got.len(), 1);
            if let Some((info, data)) = got.first() {
                assert_eq!(&data[..], b"ping over udp");
                assert_eq!(info.src, me);
                assert_eq!(info.dst, me);
                assert_eq!(info.ecn, 0x01);
            }
        }
        drop(t);
        Ok(())
    }

    #[test]
    fn loopback_v4() -> Result {
        loopback(SocketAddr::V4 {
            addr: [127, 0, 0, 1],
            port: 0,
        })
    }

    #[cfg(CONFIG_IPV6 = "y")]
    #[test]
    fn loopback_v6() -> Result {
        let mut addr = [0u8; 16];
        addr[15] = 1;
        loopback(SocketAddr::V6 {
            addr,
            port: 0,
            flowinfo: 0,
            scope_id: 0,
        })
    }

    /// A GSO train sent over loopback reaches the handler as its
    /// datagrams, in order and intact, with GRO enabled on the receiving
    /// tunnel or not.
    #[test]
    fn gso_train_arrives_as_datagrams() -> Result {
        loopback_up()?;
        let local = SocketAddr::V4 {
            addr: [127, 0, 0, 1],
            port: 0,
        };
        for gro in [false, true] {
            let c = catcher(3)?;
            let t = UdpTunnel::new(Namespace::init_net(), &local, c.clone())?;
            assert!(!t.gro());
            t.set_gro(gro);
            assert_eq!(t.gro(), gro);
            let mut skb = SkBuff::alloc(TX_HEADROOM, 250, GFP_KERNEL)?;
            let data = skb.put(250)?;
            for (i, b) in data.iter_mut().enumerate() {
                // Segment number in the high bits, offset in the low ones.
                *b = (((i / 100) << 6) | (i % 100 % 64)) as u8;
            }
            skb.set_gso_udp_l4(100)?;
            t.send(skb, &t.local_addr(), &SendOptions::default())?;
            assert!(c.done.wait_for_completion_timeout(msecs_to_jiffies(5000)) != 0);
            let got = c.got.lock();
            assert_eq!(got.len(), 3);
            for (seg, (info, d)) in got.iter().enumerate() {
                assert_eq!(info.src, t.local_addr());
                assert_eq!(d.len(), if seg < 2 { 100 } else { 50 });
                let intact = d
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == ((seg << 6) | (i % 64)) as u8);
                assert!(intact);
            }
        }
        Ok(())
    }

    #[test]
    fn bad_input() -> Result {
        let c = catcher(1)?;
        // A non-local address.
        let r = UdpTunnel::new(
            Namespace::init_net(),
            &SocketAddr::V4 {
                addr: [192, 0, 2, 1],
                port: 0,
            },
            c.clone(),
        );
        assert_eq!(r.err(), Some(EADDRNOTAVAIL));

        // The same port twice without sharing.
        let any = SocketAddr::V4 {
            addr: [0; 4],
            port: 0,
        };
        let t = UdpTunnel::new(Namespace::init_net(), &any, c.clone())?;
        let r = UdpTunnel::new(Namespace::init_net(), &t.local_addr(), c.clone());
        assert_eq!(r.err(), Some(EADDRINUSE));

        // An IPv6 destination on an IPv4 tunnel.
        let v6 = SocketAddr::V6 {
            addr: [0; 16],
            port: 9,
            flowinfo: 0,
            scope_id: 0,
        };
        assert_eq!(
            t.send(payload_skb(b"x")?, &v6, &SendOptions::default()),
            Err(EAFNOSUPPORT)
        );
        Ok(())
    }

    #[test]
    fn route_source_picks_the_local_address() -> Result {
        loopback_up()?;
        let c = catcher(1)?;
        let any = SocketAddr::V4 {
            addr: [0; 4],
            port: 0,
        };
        let t = UdpTunnel::new(Namespace::init_net(), &any, c.clone())?;
        let port = t.local_addr().port();
        let lo = SocketAddr::V4 {
            addr: [127, 0, 0, 1],
            port: 9,
        };
        assert_eq!(
            t.sock().route_source(&lo)?,
            SocketAddr::V4 {
                addr: [127, 0, 0, 1],
                port
            }
        );
        let v6 = SocketAddr::V6 {
            addr: [0; 16],
            port: 9,
            flowinfo: 0,
            scope_id: 0,
        };
        assert_eq!(t.sock().route_source(&v6), Err(EAFNOSUPPORT));
        #[cfg(CONFIG_IPV6 = "y")]
        {
            let any6 = SocketAddr::V6 {
                addr: [0; 16],
                port: 0,
                flowinfo: 0,
                scope_id: 0,
            };
            let t6 = UdpTunnel::new(Namespace::init_net(), &any6, c.clone())?;
            let mut one = [0u8; 16];
            one[15] = 1;
            let lo6 = SocketAddr::V6 {
                addr: one,
                port: 9,
                flowinfo: 0,
                scope_id: 0,
            };
            assert_eq!(
                t6.sock().route_source(&lo6)?,
                SocketAddr::V6 {
                    addr: one,
                    port: t6.local_addr().port(),
                    flowinfo: 0,
                    scope_id: 0,
                }
            );
            // A v4-mapped destination on a dual-stack tunnel: an IPv4 source.
            let mut mapped = [0u8; 16];
            mapped[10] = 0xff;
            mapped[11] = 0xff;
            mapped[12..].copy_from_slice(&[127, 0, 0, 1]);
            let src = t6.sock().route_source(&SocketAddr::V6 {
                addr: mapped,
                port: 9,
                flowinfo: 0,
                scope_id: 0,
            })?;
            assert_eq!(
                src,
                SocketAddr::V4 {
                    addr: [127, 0, 0, 1],
                    port: t6.local_addr().port()
                }
            );
        }
        Ok(())
    }
}
