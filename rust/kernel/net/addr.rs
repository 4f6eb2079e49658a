// SPDX-License-Identifier: GPL-2.0

//! IPv4 and IPv6 socket addresses.
//!
//! C headers: [`include/uapi/linux/in.h`](srctree/include/uapi/linux/in.h),
//! [`include/uapi/linux/in6.h`](srctree/include/uapi/linux/in6.h).

use crate::{bindings, prelude::*};

/// An IPv4 or IPv6 address with a port, in host representation: the address
/// bytes are in network order (as on the wire), the port in host order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketAddr {
    /// `struct sockaddr_in`.
    V4 {
        /// The address, network order.
        addr: [u8; 4],
        /// The port.
        port: u16,
    },
    /// `struct sockaddr_in6`.
    V6 {
        /// The address, network order.
        addr: [u8; 16],
        /// The port.
        port: u16,
        /// The flow information (`sin6_flowinfo`), network order.
        flowinfo: u32,
        /// The scope (interface index) for link-local addresses.
        scope_id: u32,
    },
}

/// The smallest `sockaddr_in6` length the kernel accepts (RFC 2133 layout,
/// without `sin6_scope_id`).
const SIN6_LEN_RFC2133: usize = 24;

impl SocketAddr {
    /// The address family: `AF_INET` or `AF_INET6`.
    pub fn family(&self) -> u16 {
        match self {
            Self::V4 { .. } => bindings::AF_INET as u16,
            Self::V6 { .. } => bindings::AF_INET6 as u16,
        }
    }

    /// The port, host order.
    pub fn port(&self) -> u16 {
        match self {
            Self::V4 { port, .. } | Self::V6 { port, .. } => *port,
        }
    }

    /// Returns the address with `port` instead.
    pub fn with_port(mut self, new: u16) -> Self {
        match &mut self {
            Self::V4 { port, .. } | Self::V6 { port, .. } => *port = new,
        }
        self
    }

    /// Whether the address is the wildcard (`INADDR_ANY`, `in6addr_any`).
    pub fn is_unspecified(&self) -> bool {
        match self {
            Self::V4 { addr, .. } => *addr == [0; 4],
            Self::V6 { addr, .. } => *addr == [0; 16],
        }
    }

    /// For an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), the IPv4 address.
    pub fn to_v4_mapped(&self) -> Option<Self> {
        match self {
            Self::V6 { addr, port, .. }
                if addr[..10] == [0; 10] && addr[10] == 0xff && addr[11] == 0xff =>
            {
                Some(Self::V4 {
                    addr: [addr[12], addr[13], addr[14], addr[15]],
                    port: *port,
                })
            }
            _ => None,
        }
    }

    /// Parses a `struct sockaddr` of `len` bytes held in `bytes`.
    ///
    /// Fails with `EINVAL` if it is too short for its family and with
    /// `EAFNOSUPPORT` for a family other than `AF_INET` and `AF_INET6`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let family = match bytes {
            [a, b, ..] => u16::from_ne_bytes([*a, *b]),
            _ => return Err(EINVAL),
        };
        let port = |b: &[u8]| u16::from_be_bytes([b[2], b[3]]);
        match u32::from(family) {
            bindings::AF_INET => {
                if bytes.len() < core::mem::size_of::<bindings::sockaddr_in>() {
                    return Err(EINVAL);
                }
                Ok(Self::V4 {
                    addr: [bytes[4], bytes[5], bytes[6], bytes[7]],
                    port: port(bytes),
                })
            }
            bindings::AF_INET6 => {
                if bytes.len() < SIN6_LEN_RFC2133 {
                    return Err(EINVAL);
                }
                let mut addr = [0u8; 16];
                addr.copy_from_slice(&bytes[8..24]);
                let scope_id = match bytes.get(24..28) {
                    Some(s) => u32::from_ne_bytes([s[0], s[1], s[2], s[3]]),
                    None => 0,
                };
                Ok(Self::V6 {
                    addr,
                    port: port(bytes),
                    flowinfo: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
                    scope_id,
                })
            }
            _ => Err(EAFNOSUPPORT),
        }
    }

    /// Parses a `struct sockaddr` the kernel copied from the caller.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for reads of `len` bytes (if `len` is positive).
    pub unsafe fn from_raw(ptr: *const u8, len: i32) -> Result<Self> {
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        if ptr.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: By the safety requirements, `ptr` is valid for `len` bytes.
        let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
        Self::from_bytes(bytes)
    }

    /// Writes the address as a `struct sockaddr_in` or `sockaddr_in6` into
    /// `out`, returning the length used, or `EINVAL` if `out` is too small.
    pub fn to_bytes(&self, out: &mut [u8]) -> Result<usize> {
        match self {
            Self::V4 { addr, port } => {
                let len = core::mem::size_of::<bindings::sockaddr_in>();
                let out = out.get_mut(..len).ok_or(EINVAL)?;
                out.fill(0);
                out[0..2].copy_from_slice(&(bindings::AF_INET as u16).to_ne_bytes());
                out[2..4].copy_from_slice(&port.to_be_bytes());
                out[4..8].copy_from_slice(addr);
                Ok(len)
            }
            Self::V6 {
                addr,
                port,
                flowinfo,
                scope_id,
            } => {
                let len = core::mem::size_of::<bindings::sockaddr_in6>();
                let out = out.get_mut(..len).ok_or(EINVAL)?;
                out.fill(0);
                out[0..2].copy_from_slice(&(bindings::AF_INET6 as u16).to_ne_bytes());
                out[2..4].copy_from_slice(&port.to_be_bytes());
                out[4..8].copy_from_slice(&flowinfo.to_be_bytes());
                out[8..24].copy_from_slice(addr);
                out[24..28].copy_from_slice(&scope_id.to_ne_bytes());
                Ok(len)
            }
        }
    }
}

impl From<SocketAddr> for core::net::SocketAddr {
    fn from(a: SocketAddr) -> Self {
        use core::net::{SocketAddrV4, SocketAddrV6};
        match a {
            SocketAddr::V4 { addr, port } => Self::V4(SocketAddrV4::new(addr.into(), port)),
            SocketAddr::V6 {
                addr,
                port,
                flowinfo,
                scope_id,
            } => Self::V6(SocketAddrV6::new(
                addr.into(),
                port,
                u32::from_be(flowinfo),
                scope_id,
            )),
        }
    }
}

impl From<core::net::SocketAddr> for SocketAddr {
    fn from(a: core::net::SocketAddr) -> Self {
        match a {
            core::net::SocketAddr::V4(a) => Self::V4 {
                addr: a.ip().octets(),
                port: a.port(),
            },
            core::net::SocketAddr::V6(a) => Self::V6 {
                addr: a.ip().octets(),
                port: a.port(),
                flowinfo: a.flowinfo().to_be(),
                scope_id: a.scope_id(),
            },
        }
    }
}

#[macros::kunit_tests(rust_kernel_net_addr)]
mod tests {
    use super::*;

    #[test]
    fn v4_round_trip() -> Result {
        let a = SocketAddr::V4 {
            addr: [127, 0, 0, 1],
            port: 4433,
        };
        let mut buf = [0u8; 28];
        let n = a.to_bytes(&mut buf)?;
        assert_eq!(n, 16);
        assert_eq!(SocketAddr::from_bytes(&buf[..n])?, a);
        assert!(SocketAddr::from_bytes(&buf[..15]) == Err(EINVAL));
        Ok(())
    }

    #[test]
    fn v6_round_trip_and_mapped() -> Result {
        let mut addr = [0u8; 16];
        addr[10] = 0xff;
        addr[11] = 0xff;
        addr[12..].copy_from_slice(&[10, 0, 0, 1]);
        let a = SocketAddr::V6 {
            addr,
            port: 443,
            flowinfo: 0,
            scope_id: 0,
        };
        let mut buf = [0u8; 28];
        let n = a.to_bytes(&mut buf)?;
        assert_eq!(n, 28);
        assert_eq!(SocketAddr::from_bytes(&buf)?, a);
        assert_eq!(SocketAddr::from_bytes(&buf[..24])?, a);
        assert!(SocketAddr::from_bytes(&buf[..23]) == Err(EINVAL));
        assert_eq!(
            a.to_v4_mapped(),
            Some(SocketAddr::V4 {
                addr: [10, 0, 0, 1],
                port: 443
            })
        );
        Ok(())
    }

    #[test]
    fn bad_family() {
        assert!(SocketAddr::from_bytes(&[0xff, 0xff, 0, 0]) == Err(EAFNOSUPPORT));
        assert!(SocketAddr::from_bytes(&[2]) == Err(EINVAL));
    }

    #[test]
    fn core_net_round_trip() {
        let v4 = SocketAddr::V4 {
            addr: [192, 0, 2, 1],
            port: 4433,
        };
        let c: core::net::SocketAddr = v4.into();
        assert_eq!(c.port(), 4433);
        assert!(c.is_ipv4());
        assert_eq!(SocketAddr::from(c), v4);
        let mut addr = [0u8; 16];
        addr[0] = 0x20;
        addr[1] = 0x01;
        addr[15] = 7;
        let v6 = SocketAddr::V6 {
            addr,
            port: 443,
            flowinfo: 0x0001_2345u32.to_be(),
            scope_id: 3,
        };
        let c = core::net::SocketAddr::from(v6);
        assert!(c.is_ipv6());
        if let core::net::SocketAddr::V6(c) = c {
            assert_eq!(c.flowinfo(), 0x0001_2345);
            assert_eq!(c.scope_id(), 3);
            assert_eq!(c.ip().octets(), addr);
        }
        assert_eq!(SocketAddr::from(c), v6);
    }
}
