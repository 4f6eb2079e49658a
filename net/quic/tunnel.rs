// SPDX-License-Identifier: GPL-2.0

//! The UDP sockets under QUIC sockets.
//!
//! QUIC sockets bound to the same (network namespace, address, port) share
//! one kernel UDP tunnel socket, as the socket API draft allows: "multiple
//! applications MAY bind() to the same address and port, sharing the same
//! lower UDP socket". The [`TunnelRegistry`] finds or creates that socket at
//! bind(2) and releases it when its last QUIC socket closes.
//!
//! Datagrams arriving on a tunnel go to its [`Receiver`], which counts them
//! and hands them to the tunnel's [`Endpoint`].

use crate::endpoint::Endpoint;
use kernel::{
    net::{
        addr::SocketAddr,
        namespace::Namespace,
        skbuff::SkBuff,
        udp_tunnel::{Handler, RecvInfo, SendOptions, TunnelSock, UdpTunnel},
    },
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, ArcBorrow, Mutex,
    }, //
};

/// The receive side of a tunnel.
#[pin_data]
pub(crate) struct Receiver {
    /// Datagrams received.
    datagrams: Atomic<u64>,
    /// UDP payload bytes received.
    bytes: Atomic<u64>,
    /// Where they go.
    #[pin]
    endpoint: Endpoint,
}

impl Receiver {
    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            datagrams: Atomic::new(0),
            bytes: Atomic::new(0),
            endpoint <- Endpoint::new(),
        })
    }

    /// Datagrams received so far.
    #[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
    pub(crate) fn datagrams(&self) -> u64 {
        self.datagrams.load(Relaxed)
    }

    /// UDP payload bytes received so far.
    #[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Relaxed)
    }
}

#[vtable]
impl Handler for Receiver {
    fn recv(this: ArcBorrow<'_, Self>, sock: &TunnelSock<'_>, skb: SkBuff, info: &RecvInfo) {
        this.datagrams.fetch_add(1, Relaxed);
        this.bytes.fetch_add(skb.len() as u64, Relaxed);
        this.endpoint.receive(sock, skb, info);
    }
}

/// A UDP tunnel socket shared by the QUIC sockets bound to its address.
pub(crate) struct Tunnel {
    udp: UdpTunnel<Receiver>,
    /// The tunnel's handler, also held by `udp`.
    receiver: Arc<Receiver>,
}

impl Tunnel {
    /// The endpoint of the tunnel's address.
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.receiver.endpoint
    }

    /// The bound address, with the port the kernel chose for port 0.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.udp.local_addr()
    }

    /// Sends a datagram (or a GSO batch) to `dst`.
    pub(crate) fn send(&self, skb: SkBuff, dst: &SocketAddr, opts: &SendOptions) -> Result {
        self.udp.send(skb, dst, opts)
    }

    /// The local address datagrams to `dst` leave from (see
    /// [`TunnelSock::route_source`]).
    pub(crate) fn route_source(&self, dst: &SocketAddr) -> Result<SocketAddr> {
        self.udp.sock().route_source(dst)
    }

    /// The receive side.
    #[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
    pub(crate) fn receiver(&self) -> &Receiver {
        &self.receiver
    }
}

/// A tunnel of the registry.
///
/// # Invariants
///
/// `users` is the number of [`TunnelRegistry::acquire`] and
/// [`TunnelRegistry::share`] calls that returned `tunnel` and were not
/// [released](TunnelRegistry::release) yet; it is at least 1 (the entry
/// goes with the last user).
struct Entry {
    tunnel: Arc<Tunnel>,
    /// The QUIC sockets using the tunnel.
    users: usize,
}

/// The key under which a tunnel is shared: the address without flow label.
fn key(addr: &SocketAddr) -> SocketAddr {
    match *addr {
        SocketAddr::V6 {
            addr,
            port,
            scope_id,
            ..
        } => SocketAddr::V6 {
            addr,
            port,
            flowinfo: 0,
            scope_id,
        },
        a => a,
    }
}

/// The tunnels of every namespace, keyed by namespace and bound address.
///
/// # Invariants
///
/// No two entries have the same namespace and bound address (the second
/// UDP bind would have failed).
#[pin_data]
pub(crate) struct TunnelRegistry {
    #[pin]
    entries: Mutex<KVec<Entry>>,
}

impl TunnelRegistry {
    /// An empty registry.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            entries <- new_mutex!(KVec::new()),
        })
    }

    /// The tunnel bound to `addr` in `net`, created if needed; port 0
    /// always creates a new tunnel on a port the kernel picks. Every
    /// successful call must be paired with [`TunnelRegistry::release`].
    ///
    /// Fails as bind(2) does (`EADDRINUSE` for a port a non-QUIC socket
    /// holds, `EADDRNOTAVAIL` for an address that is not local).
    pub(crate) fn acquire(&self, net: &Namespace, addr: &SocketAddr) -> Result<Arc<Tunnel>> {
        let want = key(addr);
        let mut entries = self.entries.lock();
        if want.port() != 0 {
            if let Some(e) = entries
                .iter_mut()
                .find(|e| e.tunnel.udp.net() == net && key(&e.tunnel.local_addr()) == want)
            {
                e.users += 1;
                return Ok(e.tunnel.clone());
            }
        }
        entries.reserve(1, GFP_KERNEL)?;
        let receiver = Arc::pin_init(Receiver::new(), GFP_KERNEL)?;
        let udp = UdpTunnel::new(net, addr, receiver.clone())?;
        // Bulk transfers arrive as trains of same-sized datagrams: let GRO
        // carry them through the IP layer as one; the UDP layer splits them
        // before the receiver.
        udp.set_gro(true);
        let tunnel = Arc::new(Tunnel { udp, receiver }, GFP_KERNEL)?;
        entries.push(
            Entry {
                tunnel: tunnel.clone(),
                users: 1,
            },
            GFP_KERNEL,
        )?;
        Ok(tunnel)
    }

    /// Another user of `tunnel`, which a user holds (a listener's accepted
    /// socket shares its tunnel). Pair with [`TunnelRegistry::release`].
    pub(crate) fn share(&self, tunnel: &Arc<Tunnel>) -> Arc<Tunnel> {
        let mut entries = self.entries.lock();
        if let Some(e) = entries.iter_mut().find(|e| Arc::ptr_eq(&e.tunnel, tunnel)) {
            e.users += 1;
        }
        tunnel.clone()
    }

    /// Gives back a tunnel from [`TunnelRegistry::acquire`]; the last user
    /// closes the UDP socket (which waits for an RCU grace period).
    pub(crate) fn release(&self, tunnel: Arc<Tunnel>) {
        let mut entries = self.entries.lock();
        let Some(i) = entries.iter().position(|e| Arc::ptr_eq(&e.tunnel, &tunnel)) else {
            return;
        };
        entries[i].users -= 1;
        if entries[i].users == 0 {
            // Closed under the lock: the port is free again once `release`
            // returns, and a concurrent bind(2) cannot see it half closed.
            drop(entries.remove(i));
            drop(tunnel);
        }
    }

    /// The number of tunnels open.
    #[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
    fn len(&self) -> usize {
        self.entries.lock().len()
    }
}

#[cfg(CONFIG_IP_QUIC_KUNIT_TEST)]
#[kernel::macros::kunit_tests(quic_tunnel)]
mod tests {
    use super::*;

    fn any4() -> SocketAddr {
        SocketAddr::V4 {
            addr: [0; 4],
            port: 0,
        }
    }

    #[test]
    fn shared_and_refcounted() -> Result {
        let reg = KBox::pin_init(TunnelRegistry::new(), GFP_KERNEL)?;
        let net = Namespace::init_net();
        let a = reg.acquire(net, &any4())?;
        let port = a.local_addr().port();
        assert!(port != 0);
        assert!(a.udp.gro());
        assert_eq!(reg.len(), 1);

        // The same address and port: the same tunnel.
        let b = reg.acquire(net, &any4().with_port(port))?;
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(reg.len(), 1);

        // Port 0 again: a new tunnel on another port.
        let c = reg.acquire(net, &any4())?;
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(c.local_addr().port() != port);
        assert_eq!(reg.len(), 2);
        reg.release(c);
        assert_eq!(reg.len(), 1);

        // The tunnel lives until its last user goes.
        reg.release(a);
        assert_eq!(reg.len(), 1);
        assert_eq!(b.receiver().datagrams(), 0);
        assert_eq!(b.receiver().bytes(), 0);
        reg.release(b);
        assert_eq!(reg.len(), 0);

        // The port is free again.
        let d = reg.acquire(net, &any4().with_port(port))?;
        assert_eq!(d.local_addr().port(), port);
        reg.release(d);
        assert_eq!(reg.len(), 0);
        Ok(())
    }

    #[test]
    fn errors_leave_no_entry() -> Result {
        let reg = KBox::pin_init(TunnelRegistry::new(), GFP_KERNEL)?;
        let net = Namespace::init_net();
        let r = reg.acquire(
            net,
            &SocketAddr::V4 {
                addr: [192, 0, 2, 1],
                port: 0,
            },
        );
        assert_eq!(r.err(), Some(EADDRNOTAVAIL));
        assert_eq!(reg.len(), 0);
        Ok(())
    }

    #[cfg(CONFIG_IPV6 = "y")]
    #[test]
    fn families_do_not_mix() -> Result {
        let reg = KBox::pin_init(TunnelRegistry::new(), GFP_KERNEL)?;
        let net = Namespace::init_net();
        let v4 = reg.acquire(net, &any4())?;
        let port = v4.local_addr().port();
        let v6 = SocketAddr::V6 {
            addr: [0; 16],
            port,
            flowinfo: 0,
            scope_id: 0,
        };
        // A dual-stack IPv6 socket on the port an IPv4 tunnel holds: in use.
        assert_eq!(reg.acquire(net, &v6).err(), Some(EADDRINUSE));
        assert_eq!(reg.len(), 1);
        reg.release(v4);
        Ok(())
    }
}
