// SPDX-License-Identifier: GPL-2.0

//! The preferred_address transport parameter (RFC 9000 §18.2, §9.6).
//!
//! ```text
//! Preferred Address {
//!   IPv4 Address (32), IPv4 Port (16),
//!   IPv6 Address (128), IPv6 Port (16),
//!   Connection ID Length (8), Connection ID (..),
//!   Stateless Reset Token (128),
//! }
//! ```
//!
//! A server may offer one family only by sending an all-zero address and
//! port for the other; those decode to `None`.

use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use crate::protocol::cid::ConnectionId;
use crate::protocol::codec::{BufferTooShort, Reader, Writer};
use crate::protocol::error::TransportError;
use crate::protocol::frame::RESET_TOKEN_LEN;
use crate::protocol::transport_params::param_error;

/// A server's preferred address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreferredAddress {
    /// The IPv4 address and port, if offered.
    pub ipv4: Option<SocketAddrV4>,
    /// The IPv6 address and port, if offered (flow info and scope are not
    /// carried).
    pub ipv6: Option<SocketAddrV6>,
    /// The connection ID to use at that address (sequence number 1); never
    /// empty.
    pub id: ConnectionId,
    /// The stateless reset token bound to `id`.
    pub reset_token: [u8; RESET_TOKEN_LEN],
}

/// The size of everything but the connection ID.
const FIXED_LEN: usize = 4 + 2 + 16 + 2 + 1 + RESET_TOKEN_LEN;

impl PreferredAddress {
    /// Decodes the parameter's value, which must be exactly one preferred
    /// address with a 1 to 20 byte connection ID.
    pub(crate) fn decode(value: &[u8]) -> Result<Self, TransportError> {
        Self::read(&mut Reader::new(value)).ok_or(param_error("malformed preferred_address"))
    }

    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let ip4 = Ipv4Addr::from(r.read_array::<4>().ok()?);
        let port4 = r.read_u16().ok()?;
        let ip6 = Ipv6Addr::from(r.read_array::<16>().ok()?);
        let port6 = r.read_u16().ok()?;
        let id = ConnectionId::decode_with_len_u8(r).ok()?;
        let reset_token = r.read_array().ok()?;
        if id.is_empty() || !r.is_empty() {
            return None;
        }
        let ipv4 = (!ip4.is_unspecified() || port4 != 0).then(|| SocketAddrV4::new(ip4, port4));
        let ipv6 =
            (!ip6.is_unspecified() || port6 != 0).then(|| SocketAddrV6::new(ip6, port6, 0, 0));
        Some(Self {
            ipv4,
            ipv6,
            id,
            reset_token,
        })
    }

    /// The exact size of the encoded value.
    pub fn encoded_size(&self) -> usize {
        FIXED_LEN + self.id.len()
    }

    /// Writes the value. Fails without writing anything if `w` has less
    /// room than [`PreferredAddress::encoded_size`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.encoded_size() > w.remaining() {
            return Err(BufferTooShort);
        }
        let (ip4, port4) = self
            .ipv4
            .map_or((Ipv4Addr::UNSPECIFIED, 0), |a| (*a.ip(), a.port()));
        let (ip6, port6) = self
            .ipv6
            .map_or((Ipv6Addr::UNSPECIFIED, 0), |a| (*a.ip(), a.port()));
        w.put_bytes(&ip4.octets())?;
        w.put_u16(port4)?;
        w.put_bytes(&ip6.octets())?;
        w.put_u16(port6)?;
        self.id.encode_with_len_u8(w)?;
        w.put_bytes(&self.reset_token)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(
    not(test),
    kernel::macros::kunit_tests(quic_transport_params_preferred_address)
)]
mod tests {
    use super::*;

    fn sample() -> PreferredAddress {
        PreferredAddress {
            ipv4: Some(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 443)),
            ipv6: Some(SocketAddrV6::new(
                Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
                4433,
                0,
                0,
            )),
            id: ConnectionId::from_slice(&[0xc1, 0xc2, 0xc3, 0xc4]).unwrap_or(ConnectionId::EMPTY),
            reset_token: [0x5a; 16],
        }
    }

    #[test]
    fn round_trip_and_layout() -> Result<(), TransportError> {
        let pa = sample();
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        assert_eq!(pa.encode(&mut w), Ok(()));
        let n = w.len();
        assert_eq!(n, pa.encoded_size());
        assert_eq!(n, 4 + 2 + 16 + 2 + 1 + 4 + 16);
        assert_eq!(&buf[..6], &[192, 0, 2, 1, 0x01, 0xbb]);
        assert_eq!(&buf[22..25], &[0x11, 0x51, 4]);
        assert_eq!(PreferredAddress::decode(&buf[..n])?, pa);
        Ok(())
    }

    #[test]
    fn one_family_only() -> Result<(), TransportError> {
        for pa in [
            PreferredAddress {
                ipv4: None,
                ..sample()
            },
            PreferredAddress {
                ipv6: None,
                ..sample()
            },
        ] {
            let mut buf = [0u8; 64];
            let mut w = Writer::new(&mut buf);
            assert_eq!(pa.encode(&mut w), Ok(()));
            let n = w.len();
            assert_eq!(PreferredAddress::decode(&buf[..n])?, pa);
        }
        Ok(())
    }

    #[test]
    fn malformed() {
        let pa = sample();
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        assert_eq!(pa.encode(&mut w), Ok(()));
        let n = w.len();
        // Every truncation, and one byte too many.
        for len in (0..n).chain([n + 1]) {
            assert!(PreferredAddress::decode(&buf[..len]).is_err());
        }
        // Zero-length and over-long connection IDs.
        let mut bad = buf;
        bad[24] = 0;
        assert!(PreferredAddress::decode(&bad[..n - 4]).is_err());
        bad[24] = 21;
        assert!(PreferredAddress::decode(&bad[..n + 17]).is_err());
    }
}
