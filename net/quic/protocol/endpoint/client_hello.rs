// SPDX-License-Identifier: GPL-2.0

//! The TLS 1.3 ClientHello, read for routing (RFC 8446 §4.1.2, RFC 7301 §3.1,
//! RFC 6066 §3).
//!
//! A listener picks the socket a new connection goes to from the ALPN
//! protocols (and possibly the server name) of the client's ClientHello,
//! before any TLS library has seen it. [`ClientHello::parse`] checks the
//! structure of the whole message once, then hands out iterators over
//! borrowed bytes: nothing is copied or allocated, and the iterators cannot
//! fail because everything they walk was checked up front.
//!
//! ```text
//!   Handshake { msg_type = 1, length (u24) }
//!   ClientHello { legacy_version (2), random (32), legacy_session_id<0..32>,
//!                 cipher_suites<2..2^16-2>, legacy_compression_methods<1..2^8-1>,
//!                 extensions<8..2^16-1> }
//! ```
//!
//! Only what routing needs is interpreted. Everything else (versions, key
//! shares, transport parameters) is the TLS library's business: a hello this
//! parser accepts may still fail the handshake, but a hello it rejects is not
//! a valid ClientHello.

use crate::protocol::codec::{DecodeError, Reader};

/// The handshake message type of a ClientHello.
pub const CLIENT_HELLO: u8 = 1;
/// The length of a handshake message header: type and 24-bit length.
pub const HANDSHAKE_HEADER_LEN: usize = 4;
/// The server_name extension (RFC 6066 §3).
pub const EXT_SERVER_NAME: u16 = 0;
/// The application_layer_protocol_negotiation extension (RFC 7301 §3.1).
pub const EXT_ALPN: u16 = 16;
/// The quic_transport_parameters extension (RFC 9001 §8.2).
pub const EXT_QUIC_TRANSPORT_PARAMETERS: u16 = 0x39;
/// The host_name type of a ServerName entry (RFC 6066 §3).
const NAME_TYPE_HOST_NAME: u8 = 0;

/// Why bytes are not a ClientHello this parser accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelloError {
    /// The handshake message is not a ClientHello.
    NotClientHello,
    /// The message is truncated, has trailing bytes, or a field breaks its
    /// length bounds.
    Malformed,
    /// The ALPN or server_name extension appears twice, or a server name list
    /// holds two host names: the routing decision would be ambiguous.
    Duplicate,
    /// The message is larger than the caller accepts.
    TooLarge,
    /// The CRYPTO frames arrived in more disjoint pieces than tracked.
    TooFragmented,
}

impl From<DecodeError> for HelloError {
    fn from(_: DecodeError) -> Self {
        Self::Malformed
    }
}

/// The total length of the handshake message that starts with `header`,
/// header included, once its first four bytes are known.
pub fn message_len(header: &[u8]) -> Result<Option<usize>, HelloError> {
    let Some(head) = header.get(..HANDSHAKE_HEADER_LEN) else {
        return Ok(None);
    };
    if head[0] != CLIENT_HELLO {
        return Err(HelloError::NotClientHello);
    }
    let body = usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]);
    Ok(Some(HANDSHAKE_HEADER_LEN + body))
}

/// A ClientHello whose structure has been checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientHello<'a> {
    cipher_suites: &'a [u8],
    extensions: &'a [u8],
    alpn: Option<&'a [u8]>,
    server_name: Option<&'a [u8]>,
}

/// Reads a vector with a one-byte length of `min..=max` bytes.
fn read_vec_u8<'a>(r: &mut Reader<'a>, min: usize, max: usize) -> Result<&'a [u8], HelloError> {
    let len = usize::from(r.read_u8()?);
    if len < min || len > max {
        return Err(HelloError::Malformed);
    }
    Ok(r.read_bytes(len)?)
}

/// Reads a vector with a two-byte length of at least `min` bytes.
fn read_vec_u16<'a>(r: &mut Reader<'a>, min: usize) -> Result<&'a [u8], HelloError> {
    let len = usize::from(r.read_u16()?);
    if len < min {
        return Err(HelloError::Malformed);
    }
    Ok(r.read_bytes(len)?)
}

/// Checks that `body`, the content of an extension, holds exactly one
/// vector with a two-byte length of at least `min` bytes, and returns it.
fn single_vec_u16(body: &[u8], min: usize) -> Result<&[u8], HelloError> {
    let mut r = Reader::new(body);
    let list = read_vec_u16(&mut r, min)?;
    if !r.is_empty() {
        return Err(HelloError::Malformed);
    }
    Ok(list)
}

impl<'a> ClientHello<'a> {
    /// Parses `msg`, a whole handshake message: header, then exactly the
    /// ClientHello body it announces.
    pub fn parse(msg: &'a [u8]) -> Result<Self, HelloError> {
        let len = message_len(msg)?.ok_or(HelloError::Malformed)?;
        if len != msg.len() {
            return Err(HelloError::Malformed);
        }
        let mut r = Reader::new(msg);
        r.skip(HANDSHAKE_HEADER_LEN)?;
        r.skip(2 + 32)?; // legacy_version, random
        read_vec_u8(&mut r, 0, 32)?; // legacy_session_id
        let cipher_suites = read_vec_u16(&mut r, 2)?;
        if cipher_suites.len() % 2 != 0 {
            return Err(HelloError::Malformed);
        }
        read_vec_u8(&mut r, 1, 255)?; // legacy_compression_methods
                                      // A QUIC ClientHello is TLS 1.3 and carries at least
                                      // quic_transport_parameters: the extension block is never absent.
        let extensions = read_vec_u16(&mut r, 0)?;
        if !r.is_empty() {
            return Err(HelloError::Malformed);
        }
        let mut hello = Self {
            cipher_suites,
            extensions,
            alpn: None,
            server_name: None,
        };
        let mut r = Reader::new(extensions);
        while !r.is_empty() {
            let ty = r.read_u16()?;
            let body = read_vec_u16(&mut r, 0)?;
            let slot = match ty {
                EXT_ALPN => &mut hello.alpn,
                EXT_SERVER_NAME => &mut hello.server_name,
                _ => continue,
            };
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.2
            //# There MUST NOT be more than one extension of the same type in a
            //# given extension block.
            if slot.is_some() {
                return Err(HelloError::Duplicate);
            }
            *slot = Some(match ty {
                EXT_ALPN => check_alpn(body)?,
                _ => check_server_name(body)?,
            });
        }
        Ok(hello)
    }

    /// The extensions, in the order the client sent them.
    pub fn extensions(&self) -> Extensions<'a> {
        Extensions {
            r: Reader::new(self.extensions),
        }
    }

    /// The body of the first extension of type `ty`, if present.
    pub fn extension(&self, ty: u16) -> Option<&'a [u8]> {
        self.extensions()
            .find(|(t, _)| *t == ty)
            .map(|(_, body)| body)
    }

    /// The cipher suites offered, as TLS code points.
    pub fn cipher_suites(&self) -> impl Iterator<Item = u16> + 'a {
        self.cipher_suites
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    /// The ALPN protocols the client offers, in its order of preference, or
    /// `None` if it sent no ALPN extension.
    pub fn alpn(&self) -> Option<AlpnProtocols<'a>> {
        self.alpn.map(AlpnProtocols::new)
    }

    /// The host name of the server_name extension, if any. The bytes are
    /// whatever the client sent (RFC 6066 asks for an ASCII DNS name, which
    /// is not checked).
    pub fn server_name(&self) -> Option<&'a [u8]> {
        self.server_name
    }
}

/// Checks an ALPN extension body and returns its protocol list.
fn check_alpn(body: &[u8]) -> Result<&[u8], HelloError> {
    //= https://www.rfc-editor.org/rfc/rfc7301#section-3.1
    //# opaque ProtocolName<1..2^8-1>;
    //#
    //# ProtocolName protocol_name_list<2..2^16-1>
    let list = single_vec_u16(body, 2)?;
    let mut r = Reader::new(list);
    while !r.is_empty() {
        read_vec_u8(&mut r, 1, 255)?;
    }
    Ok(list)
}

/// Checks a server_name extension body and returns its host name.
fn check_server_name(body: &[u8]) -> Result<&[u8], HelloError> {
    let list = single_vec_u16(body, 1)?;
    let mut r = Reader::new(list);
    let mut host = None;
    while !r.is_empty() {
        let name_type = r.read_u8()?;
        // Every name type defined so far has this shape (RFC 6066 §3).
        let name = read_vec_u16(&mut r, 1)?;
        if name_type != NAME_TYPE_HOST_NAME {
            continue;
        }
        //= https://www.rfc-editor.org/rfc/rfc6066#section-3
        //# The ServerNameList MUST NOT contain more than one name of the same
        //# name_type.
        if host.replace(name).is_some() {
            return Err(HelloError::Duplicate);
        }
    }
    // A list of names of unknown types only is no host name.
    Ok(host.unwrap_or(&[]))
}

/// An iterator over the extensions of a ClientHello: `(type, body)`.
#[derive(Clone, Debug)]
pub struct Extensions<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for Extensions<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The block was checked by `ClientHello::parse`: an error here only
        // ends the iteration.
        let ty = self.r.read_u16().ok()?;
        let len = self.r.read_u16().ok()?;
        let body = self.r.read_bytes(usize::from(len)).ok()?;
        Some((ty, body))
    }
}

/// An iterator over a checked ALPN protocol list (the wire format of RFC
/// 7301 §3.1 without its two-byte length): each item is a non-empty name.
#[derive(Clone, Debug)]
pub struct AlpnProtocols<'a> {
    r: Reader<'a>,
}

impl<'a> AlpnProtocols<'a> {
    /// Walks `list`, which must have been checked (by [`ClientHello::parse`]
    /// or [`AlpnProtocols::checked`]); a malformed tail ends the iteration.
    pub(crate) const fn new(list: &'a [u8]) -> Self {
        Self {
            r: Reader::new(list),
        }
    }

    /// Walks `list` after checking it is a sequence of one-byte-length
    /// prefixed, non-empty names (it may be empty).
    pub fn checked(list: &'a [u8]) -> Result<Self, HelloError> {
        let mut r = Reader::new(list);
        while !r.is_empty() {
            read_vec_u8(&mut r, 1, 255)?;
        }
        Ok(Self::new(list))
    }

    /// Whether `protocol` is in the list.
    pub fn contains(&self, protocol: &[u8]) -> bool {
        self.clone().any(|p| p == protocol)
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.r.is_empty()
    }
}

impl<'a> Iterator for AlpnProtocols<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let len = self.r.read_u8().ok()?;
        self.r.read_bytes(usize::from(len)).ok()
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_client_hello))]
pub(crate) mod tests {
    use super::*;
    use crate::protocol::alloc::{Vec, GFP};
    use crate::protocol::codec::Writer;
    use crate::protocol::test_rng::XorShift64;

    /// Writes a ClientHello with the given extensions (type, body) into
    /// `buf`; returns its length. Shared with the other endpoint tests.
    pub(crate) fn build_hello(buf: &mut [u8], exts: &[(u16, &[u8])]) -> usize {
        let mut w = Writer::new(buf);
        let ext_len: usize = exts.iter().map(|(_, b)| 4 + b.len()).sum();
        let body_len = 2 + 32 + 1 + 2 + 2 + 2 + 2 + ext_len;
        let ok = w.put_u8(CLIENT_HELLO).is_ok()
            && w.put_bytes(&(body_len as u32).to_be_bytes()[1..]).is_ok()
            && w.put_u16(0x0303).is_ok()
            && w.put_bytes(&[7; 32]).is_ok()
            && w.put_u8(0).is_ok()
            && w.put_u16(2).is_ok()
            && w.put_u16(0x1301).is_ok()
            && w.put_bytes(&[1, 0]).is_ok()
            && w.put_u16(ext_len as u16).is_ok()
            && exts.iter().all(|(ty, body)| {
                w.put_u16(*ty).is_ok()
                    && w.put_u16(body.len() as u16).is_ok()
                    && w.put_bytes(body).is_ok()
            });
        if ok {
            w.len()
        } else {
            0
        }
    }

    const SNI: &[u8] = b"\x00\x0e\x00\x00\x0bexample.com";

    fn alpn_body() -> [u8; 9] {
        // list length 7: "h3", "smb"
        [0, 7, 2, b'h', b'3', 3, b's', b'm', b'b']
    }

    #[test]
    fn alpn_and_sni() -> Result<(), HelloError> {
        let mut buf = [0u8; 200];
        let alpn = alpn_body();
        let n = build_hello(&mut buf, &[(EXT_SERVER_NAME, SNI), (EXT_ALPN, &alpn)]);
        let hello = ClientHello::parse(&buf[..n])?;
        let mut protos = hello.alpn().ok_or(HelloError::Malformed)?;
        assert_eq!(protos.next(), Some(&b"h3"[..]));
        assert_eq!(protos.next(), Some(&b"smb"[..]));
        assert_eq!(protos.next(), None);
        assert_eq!(hello.server_name(), Some(&b"example.com"[..]));
        assert!(hello.cipher_suites().eq([0x1301]));
        assert_eq!(hello.extension(EXT_ALPN), Some(&alpn[..]));
        assert_eq!(hello.extensions().count(), 2);
        assert!(hello.alpn().is_some_and(|a| a.contains(b"smb")));
        assert!(hello.alpn().is_some_and(|a| !a.contains(b"sm")));
        Ok(())
    }

    #[test]
    fn absent_extensions() -> Result<(), HelloError> {
        let mut buf = [0u8; 100];
        let n = build_hello(&mut buf, &[(0x39, b"\x01\x02")]);
        let hello = ClientHello::parse(&buf[..n])?;
        assert!(hello.alpn().is_none());
        assert_eq!(hello.server_name(), None);
        assert_eq!(hello.extension(0x39), Some(&b"\x01\x02"[..]));
        Ok(())
    }

    #[test]
    fn rejects_bad_extensions() {
        let mut buf = [0u8; 200];
        let alpn = alpn_body();
        type Case<'a> = (&'a [(u16, &'a [u8])], HelloError);
        let cases: [Case<'_>; 7] = [
            // Duplicate ALPN, duplicate host name, empty protocol name,
            // empty list, list length mismatch, empty SNI list, empty name.
            (
                &[(EXT_ALPN, &alpn), (EXT_ALPN, &alpn)],
                HelloError::Duplicate,
            ),
            (
                &[(EXT_SERVER_NAME, b"\x00\x08\x00\x00\x01a\x00\x00\x01b")],
                HelloError::Duplicate,
            ),
            (&[(EXT_ALPN, b"\x00\x03\x02h3\x00")], HelloError::Malformed),
            (&[(EXT_ALPN, b"\x00\x00")], HelloError::Malformed),
            (
                &[(EXT_ALPN, b"\x00\x08\x02h3\x03smb")],
                HelloError::Malformed,
            ),
            (&[(EXT_SERVER_NAME, b"\x00\x00")], HelloError::Malformed),
            (
                &[(EXT_SERVER_NAME, b"\x00\x03\x00\x00\x00")],
                HelloError::Malformed,
            ),
        ];
        for (exts, err) in cases {
            let n = build_hello(&mut buf, exts);
            assert!(n > 0);
            assert_eq!(ClientHello::parse(&buf[..n]), Err(err));
        }
        // Unknown name types are skipped, not errors.
        let n = build_hello(&mut buf, &[(EXT_SERVER_NAME, b"\x00\x04\x07\x00\x01z")]);
        assert_eq!(
            ClientHello::parse(&buf[..n]).map(|h| h.server_name()),
            Ok(Some(&b""[..]))
        );
    }

    #[test]
    fn rejects_bad_structure() {
        let mut buf = [0u8; 100];
        let n = build_hello(&mut buf, &[]);
        assert!(ClientHello::parse(&buf[..n]).is_ok());
        // Every truncation fails; so does a trailing byte.
        for cut in 0..n {
            assert!(ClientHello::parse(&buf[..cut]).is_err());
        }
        buf[3] += 1;
        assert_eq!(
            ClientHello::parse(&buf[..n + 1]),
            Err(HelloError::Malformed)
        );
        buf[3] -= 1;
        let mut other = buf;
        other[0] = 2; // ServerHello
        assert_eq!(
            ClientHello::parse(&other[..n]),
            Err(HelloError::NotClientHello)
        );
        // A session ID of 33 bytes, an odd cipher suite list.
        let mut other = buf;
        other[38] = 33;
        assert!(ClientHello::parse(&other[..n]).is_err());
        let mut other = buf;
        other[40] = 3;
        assert!(ClientHello::parse(&other[..n]).is_err());
    }

    #[test]
    fn message_len_needs_four_bytes() {
        assert_eq!(message_len(&[1, 0, 1]), Ok(None));
        assert_eq!(message_len(&[1, 0, 1, 2]), Ok(Some(4 + 258)));
        assert_eq!(message_len(&[2, 0, 0, 0]), Err(HelloError::NotClientHello));
    }

    #[test]
    fn random_mutations_never_panic() -> Result<(), HelloError> {
        let mut base = Vec::from_elem(0u8, 256, GFP).map_err(|_| HelloError::TooLarge)?;
        let alpn = alpn_body();
        let n = build_hello(&mut base, &[(EXT_SERVER_NAME, SNI), (EXT_ALPN, &alpn)]);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rng = XorShift64::new(x);
        let mut buf = [0u8; 256];
        for _ in 0..3000 {
            buf.copy_from_slice(&base);
            for _ in 0..1 + (x % 4) {
                x = rng.next_u64();
                let i = (x >> 8) as usize % n;
                buf[i] = (x >> 24) as u8;
            }
            let len = if x & 0x100 == 0 {
                n
            } else {
                (x >> 40) as usize % n
            };
            if let Ok(hello) = ClientHello::parse(&buf[..len]) {
                // Iterators over accepted input end cleanly.
                assert!(hello.alpn().map_or(0, |a| a.count()) <= n);
                assert!(hello.extensions().count() <= n);
            }
        }
        Ok(())
    }
}
