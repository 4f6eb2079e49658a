// SPDX-License-Identifier: GPL-2.0

//! Transport addresses: an IPv4 or IPv6 address and a UDP port.
//!
//! The core has no `std::net`; the glue converts `sockaddr_in`/`sockaddr_in6`
//! and skb headers into these plain values. Addresses are in network byte
//! order, as on the wire.

/// An IP address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpAddr {
    /// An IPv4 address.
    V4([u8; 4]),
    /// An IPv6 address.
    V6([u8; 16]),
}

impl IpAddr {
    /// The same address with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
    /// turned into IPv4, so that a dual-stack socket's view of an IPv4 peer
    /// equals the IPv4 one.
    pub fn to_canonical(self) -> Self {
        match self {
            IpAddr::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]) => {
                IpAddr::V4([a, b, c, d])
            }
            other => other,
        }
    }

    /// Whether this is `0.0.0.0` or `::`, the value that marks an absent
    /// family in the preferred_address transport parameter.
    pub fn is_unspecified(&self) -> bool {
        match self {
            IpAddr::V4(a) => a.iter().all(|b| *b == 0),
            IpAddr::V6(a) => a.iter().all(|b| *b == 0),
        }
    }

    /// Whether this is an IPv4 address.
    pub fn is_ipv4(&self) -> bool {
        matches!(self, IpAddr::V4(_))
    }
}

/// An IP address and a UDP port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketAddr {
    /// The IP address.
    pub ip: IpAddr,
    /// The UDP port, in host byte order.
    pub port: u16,
}

impl SocketAddr {
    /// An address from its parts.
    pub const fn new(ip: IpAddr, port: u16) -> Self {
        Self { ip, port }
    }

    /// An IPv4 address and port.
    pub const fn v4(octets: [u8; 4], port: u16) -> Self {
        Self::new(IpAddr::V4(octets), port)
    }

    /// An IPv6 address and port.
    pub const fn v6(octets: [u8; 16], port: u16) -> Self {
        Self::new(IpAddr::V6(octets), port)
    }

    /// The same address with its IP in canonical form
    /// ([`IpAddr::to_canonical`]).
    pub fn to_canonical(self) -> Self {
        Self::new(self.ip.to_canonical(), self.port)
    }

    /// Whether `self` and `other` differ in the port only: the usual mark of
    /// a NAT rebinding (RFC 9000 §9.4).
    pub fn is_port_change_of(&self, other: &SocketAddr) -> bool {
        self.ip == other.ip && self.port != other.port
    }

    /// Whether this address can be sent to: a specified IP and a non-zero
    /// port.
    pub fn is_specified(&self) -> bool {
        !self.ip.is_unspecified() && self.port != 0
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_path_addr))]
mod tests {
    use super::*;

    #[test]
    fn canonical_form() {
        let mapped = IpAddr::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]);
        assert_eq!(mapped.to_canonical(), IpAddr::V4([192, 0, 2, 1]));
        let v6 = IpAddr::V6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(v6.to_canonical(), v6);
        assert!(!v6.is_ipv4());
        assert!(SocketAddr::new(mapped, 443).to_canonical().ip.is_ipv4());
    }

    #[test]
    fn port_changes_and_unspecified() {
        let a = SocketAddr::v4([192, 0, 2, 1], 4433);
        assert!(SocketAddr::v4([192, 0, 2, 1], 4434).is_port_change_of(&a));
        assert!(!SocketAddr::v4([192, 0, 2, 2], 4434).is_port_change_of(&a));
        assert!(!a.is_port_change_of(&a));
        assert!(a.is_specified());
        assert!(!SocketAddr::v4([0; 4], 443).is_specified());
        assert!(!SocketAddr::v6([0; 16], 0).is_specified());
        assert!(!SocketAddr::v4([192, 0, 2, 1], 0).is_specified());
    }
}
