// SPDX-License-Identifier: GPL-2.0

//! ALPN lists of sockets, and picking a listener for a ClientHello (RFC
//! 7301; draft-lxin-quic-socket-apis §6.1.7).
//!
//! A socket's ALPN list is set with `setsockopt(QUIC_SOCKOPT_ALPN)` as a
//! comma-separated string, `"smb,h3"`, most preferred first. [`AlpnList`]
//! keeps it in the TLS wire format (each name behind a one-byte length), so
//! it can be matched against a ClientHello and handed to TLS as is.
//!
//! Several listening sockets may share an address and port, each with its
//! own list. An incoming ClientHello goes to the first listener able to
//! serve it, and that listener picks the protocol:
//!
//! - the server picks (RFC 7301 §3.2): the listener's most preferred
//!   protocol that the client offers, whatever the client's order;
//! - a listener without ALPN takes only clients that send no ALPN, and a
//!   client without ALPN goes only to such a listener
//!   (draft-lxin-quic-socket-apis §4.2).

use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::codec::{BufferTooShort, Writer};
use crate::protocol::endpoint::client_hello::AlpnProtocols;

/// The longest protocol name (RFC 7301 §3.1).
pub const MAX_NAME_LEN: usize = 255;
/// The longest list in wire format: what fits its two-byte length.
pub const MAX_LIST_LEN: usize = u16::MAX as usize;

/// Why an ALPN string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlpnError {
    /// An empty name (`"h3,,smb"`, a trailing comma) or one longer than 255
    /// bytes.
    InvalidName,
    /// The list does not fit the TLS extension.
    TooLong,
    /// Out of memory.
    OutOfMemory,
}

impl From<AllocError> for AlpnError {
    fn from(_: AllocError) -> Self {
        Self::OutOfMemory
    }
}

/// A socket's ALPN protocols, most preferred first, in TLS wire format.
///
/// # Invariants
///
/// `wire` is a sequence of names, each a length byte of 1 to 255 then that
/// many bytes, at most [`MAX_LIST_LEN`] bytes in all.
#[derive(Debug, Default)]
pub struct AlpnList {
    wire: Vec<u8>,
}

impl AlpnList {
    /// The empty list: no ALPN.
    pub const fn new() -> Self {
        Self { wire: Vec::new() }
    }

    /// Parses the socket option format: names separated by commas, spaces
    /// around a name ignored. An empty string is the empty list.
    pub fn from_socket_option(option: &[u8]) -> Result<Self, AlpnError> {
        // The kernel copies the option as a C string: stop at a NUL.
        let option = option.split(|b| *b == 0).next().unwrap_or(&[]);
        let mut list = Self::new();
        if option.iter().all(|b| *b == b' ') {
            return Ok(list);
        }
        let names = option.split(|b| *b == b',').map(trim_spaces);
        let wire_len = names
            .clone()
            .try_fold(0usize, |len, name| match name.len() {
                1..=MAX_NAME_LEN => Ok(len + 1 + name.len()),
                _ => Err(AlpnError::InvalidName),
            })?;
        if wire_len > MAX_LIST_LEN {
            return Err(AlpnError::TooLong);
        }
        list.wire.reserve(wire_len, GFP)?;
        for name in names {
            // INVARIANT: the name is 1 to 255 bytes, the total checked above.
            list.wire.push(name.len() as u8, GFP)?;
            list.wire.extend_from_slice(name, GFP)?;
        }
        Ok(list)
    }

    /// Whether no protocol is set.
    pub fn is_empty(&self) -> bool {
        self.wire.is_empty()
    }

    /// The protocols, most preferred first.
    pub fn iter(&self) -> AlpnProtocols<'_> {
        AlpnProtocols::new(&self.wire)
    }

    /// The `protocol_name_list` content without its length: the names, each
    /// behind its length byte.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// The size of [`AlpnList::encode_extension`]'s output.
    pub fn extension_len(&self) -> usize {
        2 + self.wire.len()
    }

    /// Writes the body of an ALPN extension: the two-byte length, then the
    /// names. The list must not be empty (RFC 7301 §3.1 forbids an empty
    /// extension: leave it out instead).
    pub fn encode_extension(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.is_empty() || self.extension_len() > w.remaining() {
            return Err(BufferTooShort);
        }
        // INVARIANT: the length fits, see the type invariant.
        w.put_u16(self.wire.len() as u16)?;
        w.put_bytes(&self.wire)
    }

    /// The size of [`AlpnList::write_socket_option`]'s output.
    pub fn socket_option_len(&self) -> usize {
        // Each length byte becomes a comma, except the first.
        self.wire.len().saturating_sub(1)
    }

    /// Writes the list back in the socket option format, for getsockopt;
    /// returns the length written.
    pub fn write_socket_option(&self, out: &mut [u8]) -> Result<usize, BufferTooShort> {
        let mut w = Writer::new(out);
        if self.socket_option_len() > w.remaining() {
            return Err(BufferTooShort);
        }
        for (i, name) in self.iter().enumerate() {
            if i > 0 {
                w.put_u8(b',')?;
            }
            w.put_bytes(name)?;
        }
        Ok(w.len())
    }

    /// What this list, as a listener's, makes of a client's ALPN offer
    /// (`None`: the client sent no ALPN extension).
    pub fn select(&self, client: Option<AlpnProtocols<'_>>) -> Option<Selection> {
        let Some(client) = client else {
            return self.is_empty().then_some(Selection::NoAlpn);
        };
        //= https://www.rfc-editor.org/rfc/rfc7301#section-3.2
        //# It is expected that a server will have a list of protocols that it
        //# supports, in preference order, and will only select a protocol if
        //# the client supports it.
        self.iter()
            .position(|name| client.contains(name))
            .map(Selection::Protocol)
    }

    /// The protocol of a [`Selection::Protocol`].
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.iter().nth(index)
    }
}

fn trim_spaces(mut s: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' '] = s {
        s = rest;
    }
    s
}

/// A listener's answer to a client's ALPN offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Neither side uses ALPN.
    NoAlpn,
    /// The listener's protocol at this index ([`AlpnList::get`]) is picked.
    Protocol(usize),
}

/// Picks the first of `listeners` that can serve `client`, and its
/// protocol. Listeners are tried in the order given, which should be the
/// order they started listening in.
pub fn select_listener<'l, L: 'l>(
    listeners: impl IntoIterator<Item = (L, &'l AlpnList)>,
    client: Option<AlpnProtocols<'_>>,
) -> Option<(L, Selection)> {
    listeners
        .into_iter()
        .find_map(|(l, list)| list.select(client.clone()).map(|s| (l, s)))
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_alpn))]
mod tests {
    use super::*;

    fn list(s: &str) -> Result<AlpnList, AlpnError> {
        AlpnList::from_socket_option(s.as_bytes())
    }

    fn offer(wire: &[u8]) -> Option<AlpnProtocols<'_>> {
        AlpnProtocols::checked(wire).ok()
    }

    #[test]
    fn socket_option_round_trip() -> Result<(), AlpnError> {
        let l = list("smb, h3 ,ksmbd")?;
        assert_eq!(l.as_wire(), b"\x03smb\x02h3\x05ksmbd");
        let mut out = [0u8; 32];
        let n = l
            .write_socket_option(&mut out)
            .map_err(|_| AlpnError::TooLong)?;
        assert_eq!(&out[..n], b"smb,h3,ksmbd");
        assert_eq!(n, l.socket_option_len());
        assert_eq!(l.write_socket_option(&mut out[..5]), Err(BufferTooShort));
        let mut ext = [0u8; 32];
        let mut w = Writer::new(&mut ext);
        assert_eq!(l.encode_extension(&mut w), Ok(()));
        assert_eq!(w.written(), b"\x00\x0d\x03smb\x02h3\x05ksmbd");
        assert_eq!(l.get(1), Some(&b"h3"[..]));
        assert_eq!(l.get(3), None);
        Ok(())
    }

    #[test]
    fn empty_and_invalid_strings() -> Result<(), AlpnError> {
        for empty in ["", "  ", "\0h3"] {
            let l = list(empty)?;
            assert!(l.is_empty());
            assert_eq!(l.socket_option_len(), 0);
            let mut buf = [0u8; 4];
            assert_eq!(
                l.encode_extension(&mut Writer::new(&mut buf)),
                Err(BufferTooShort)
            );
        }
        assert_eq!(list("h3\0junk")?.as_wire(), b"\x02h3");
        for bad in ["h3,", ",h3", "h3,,smb", "h3, ,smb"] {
            assert_eq!(list(bad).err(), Some(AlpnError::InvalidName));
        }
        let mut long = Vec::new();
        long.extend_with(256, b'a', GFP)?;
        assert_eq!(
            AlpnList::from_socket_option(&long).err(),
            Some(AlpnError::InvalidName)
        );
        // 300 names of 255 bytes do not fit a TLS extension.
        let mut many = Vec::new();
        for _ in 0..300 {
            many.extend_with(255, b'b', GFP)?;
            many.push(b',', GFP)?;
        }
        many.pop();
        assert_eq!(
            AlpnList::from_socket_option(&many).err(),
            Some(AlpnError::TooLong)
        );
        Ok(())
    }

    #[test]
    fn server_preference_wins() -> Result<(), AlpnError> {
        let l = list("h3,smb")?;
        assert_eq!(
            l.select(offer(b"\x03smb\x02h3")),
            Some(Selection::Protocol(0))
        );
        assert_eq!(l.select(offer(b"\x03smb")), Some(Selection::Protocol(1)));
        assert_eq!(l.select(offer(b"\x04h3-x")), None);
        // No prefix matching: "h" is not "h3".
        assert_eq!(l.select(offer(b"\x01h")), None);
        Ok(())
    }

    #[test]
    fn no_alpn_only_matches_no_alpn() -> Result<(), AlpnError> {
        let none = AlpnList::new();
        let some = list("h3")?;
        assert_eq!(none.select(None), Some(Selection::NoAlpn));
        assert_eq!(none.select(offer(b"\x02h3")), None);
        assert_eq!(some.select(None), None);
        Ok(())
    }

    #[test]
    fn first_capable_listener() -> Result<(), AlpnError> {
        let smb = list("smb")?;
        let web = list("h3,h3-29")?;
        let both = list("h3,smb")?;
        let plain = AlpnList::new();
        let listeners = [(1, &smb), (2, &web), (3, &both), (4, &plain)];
        let pick = |wire: Option<&[u8]>| {
            select_listener(listeners, wire.and_then(|w| AlpnProtocols::checked(w).ok()))
        };
        assert_eq!(pick(Some(b"\x02h3")), Some((2, Selection::Protocol(0))));
        assert_eq!(pick(Some(b"\x05h3-29")), Some((2, Selection::Protocol(1))));
        assert_eq!(
            pick(Some(b"\x02h3\x03smb")),
            Some((1, Selection::Protocol(0)))
        );
        assert_eq!(pick(None), Some((4, Selection::NoAlpn)));
        assert_eq!(pick(Some(b"\x03ftp")), None);
        assert_eq!(select_listener([(1, &smb)], None), None);
        Ok(())
    }
}
