// SPDX-License-Identifier: GPL-2.0

//! Reading the ClientHello out of a client's first datagram (RFC 9001 §5.2,
//! §4.1.3; RFC 9369 §3.3.1).
//!
//! Initial packets are protected with keys anyone can derive from the
//! Destination Connection ID, so a listener can decrypt them before any
//! connection exists and read the ClientHello for routing. This runs in the
//! receive path (softirq in the kernel), so the work is bounded: one key
//! derivation per datagram, at most [`MAX_PACKETS`] coalesced packets, one
//! copy of the datagram into a caller-owned scratch buffer (the datagram
//! itself is left intact for the connection that will process it), and the
//! CRYPTO bytes into the caller's [`Assembler`].

use crate::protocol::alloc::{AllocError, Vec, GFP};
use crate::protocol::crypto::initial::{InitialSecrets, INITIAL_SUITE};
use crate::protocol::crypto::schedule::DirectionalKeys;
use crate::protocol::crypto::Provider;
use crate::protocol::endpoint::assembler::{Assembler, Progress};
use crate::protocol::endpoint::client_hello::HelloError;
use crate::protocol::frame::{Frame, Frames, PacketKind as FramePacketKind};
use crate::protocol::packet::datagram::Datagram;
use crate::protocol::packet::header::{DecodeParams, Packet};
use crate::protocol::packet::PacketKind;
use core::ops::DerefMut;

/// The most packets of one datagram looked at.
pub const MAX_PACKETS: usize = 8;

/// Why the ClientHello could not be read from a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialError {
    /// The datagram does not start with an Initial packet of a supported
    /// version that can be decrypted.
    NotInitial,
    /// The Initial packet did not decrypt or its frames are malformed.
    Undecryptable,
    /// The CRYPTO data is not an acceptable ClientHello.
    Hello(HelloError),
    /// The scratch buffer could not grow.
    OutOfMemory,
}

impl From<AllocError> for InitialError {
    fn from(_: AllocError) -> Self {
        Self::OutOfMemory
    }
}

impl From<HelloError> for InitialError {
    fn from(e: HelloError) -> Self {
        Self::Hello(e)
    }
}

/// Decrypts the client Initial packets of `datagram` and adds their CRYPTO
/// frames to `hello`. `scratch` is reused between calls and grows to the
/// largest datagram seen. `accept_cleared_fixed_bit` is whether this server
/// advertises grease_quic_bit (RFC 9287).
///
/// Packets other than Initial (0-RTT coalesced behind it) are skipped; an
/// Initial after the first that fails to decrypt is ignored, as the
/// connection itself would.
pub fn read_client_initials<P: Provider, B: DerefMut<Target = [u8]>>(
    provider: &P,
    datagram: &[u8],
    accept_cleared_fixed_bit: bool,
    scratch: &mut Vec<u8>,
    hello: &mut Assembler<B>,
) -> Result<Progress, InitialError> {
    scratch.clear();
    scratch.extend_from_slice(datagram, GFP)?;
    let params = DecodeParams {
        // Short headers are skipped; their length does not matter.
        local_cid_len: 0,
        accept_cleared_fixed_bit,
    };
    let mut keys: Option<DirectionalKeys<P>> = None;
    let mut progress = Progress::NeedMore;
    for (i, packet) in Datagram::new(scratch, params).take(MAX_PACKETS).enumerate() {
        let packet = match packet {
            Ok(Packet::Protected(p)) if p.header().kind == PacketKind::Initial => p,
            // Other packet types coalesced after the first are not ours.
            Ok(_) | Err(_) if i > 0 => continue,
            _ => return Err(InitialError::NotInitial),
        };
        if keys.is_none() {
            let version = packet.header().version.ok_or(InitialError::NotInitial)?;
            let dcid = packet.header().dcid;
            let secrets = InitialSecrets::new(provider, version, dcid.as_slice())
                .map_err(|_| InitialError::NotInitial)?;
            let client = DirectionalKeys::new(provider, version, INITIAL_SUITE, &secrets.client)
                .map_err(|_| InitialError::NotInitial)?;
            keys = Some(client);
        }
        let Some(k) = keys.as_ref() else {
            return Err(InitialError::NotInitial);
        };
        let opened = packet
            .remove_header_protection(&k.header, None)
            .and_then(|p| p.decrypt(&k.packet));
        let cleartext = match opened {
            Ok(c) => c,
            Err(_) if i > 0 => continue,
            Err(_) => return Err(InitialError::Undecryptable),
        };
        for frame in Frames::in_packet(cleartext.payload(), FramePacketKind::Initial) {
            match frame {
                Ok(Frame::Crypto(c)) => progress = hello.add(c.offset.into_inner(), c.data)?,
                Ok(_) => {}
                Err(_) => return Err(InitialError::Undecryptable),
            }
        }
    }
    if keys.is_none() {
        return Err(InitialError::NotInitial);
    }
    Ok(progress)
}

/// Builds client Initial datagrams for tests (null crypto in KUnit, real
/// crypto on the host goes through the host tests' own helper).
#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
pub(crate) mod testing {
    use super::*;
    use crate::protocol::cid::ConnectionId;
    use crate::protocol::codec::Writer;
    use crate::protocol::crypto::initial::initial_keys;
    use crate::protocol::crypto::{Side, TAG_LEN};
    use crate::protocol::frame::CryptoFrame;
    use crate::protocol::packet::header::LongHeader;
    use crate::protocol::packet::number::PacketNumberLen;
    use crate::protocol::packet::protection::seal;
    use crate::protocol::packet::version::Version;
    use crate::protocol::packet::LongType;
    use crate::protocol::varint::VarInt;

    /// A client Initial packet.
    pub(crate) struct ClientInitial<'a> {
        pub(crate) version: Version,
        pub(crate) dcid: ConnectionId,
        pub(crate) scid: ConnectionId,
        pub(crate) token: &'a [u8],
        pub(crate) pn: u64,
    }

    /// Appends an Initial carrying `frames` (offset, data) to `w`, padded
    /// to `pad_to` bytes of packet.
    pub(crate) fn put_initial<P: Provider>(
        provider: &P,
        w: &mut Writer<'_>,
        p: &ClientInitial<'_>,
        frames: &[(u64, &[u8])],
        pad_to: usize,
    ) -> Option<()> {
        let keys = initial_keys(provider, p.version, p.dcid.as_slice(), Side::Client).ok()?;
        let start = w.len();
        let layout = LongHeader {
            ty: LongType::Initial,
            version: p.version,
            dcid: p.dcid,
            scid: p.scid,
            token: p.token,
            pn: p.pn,
            pn_len: PacketNumberLen::Two,
            fixed_bit: true,
        }
        .encode(w)
        .ok()?;
        for (offset, data) in frames {
            let frame = CryptoFrame {
                offset: VarInt::from_u64(*offset).ok()?,
                data,
            };
            frame.encode(w).ok()?;
        }
        let used = w.len() - start + TAG_LEN;
        w.reserve(pad_to.saturating_sub(used).max(4)).ok()?.fill(0);
        w.reserve(TAG_LEN).ok()?;
        let end = w.len();
        let packet = w.written_mut().get_mut(start..end)?;
        seal(packet, &layout, &keys.local.packet, &keys.local.header).ok()
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_endpoint_initial))]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::protocol::cid::ConnectionId;
    use crate::protocol::codec::Writer;
    use crate::protocol::crypto::null::NullProvider;
    use crate::protocol::endpoint::client_hello::tests::build_hello;
    use crate::protocol::endpoint::client_hello::EXT_ALPN;
    use crate::protocol::packet::version::Version;

    fn cid(b: u8) -> ConnectionId {
        ConnectionId::from_slice(&[b; 8]).unwrap_or(ConnectionId::EMPTY)
    }

    fn packet(version: Version, pn: u64) -> ClientInitial<'static> {
        ClientInitial {
            version,
            dcid: cid(1),
            scid: cid(2),
            token: b"",
            pn,
        }
    }

    #[test]
    fn one_datagram_each_version() -> Result<(), InitialError> {
        let mut msg = [0u8; 128];
        let n = build_hello(&mut msg, &[(EXT_ALPN, b"\x00\x03\x02h3")]);
        for version in Version::SUPPORTED {
            let mut dgram = Vec::from_elem(0u8, 1300, GFP)?;
            let mut w = Writer::new(&mut dgram);
            // Split and reordered, as some clients do on purpose.
            let frames = [(40, &msg[40..n]), (0, &msg[..40])];
            assert!(
                put_initial(&NullProvider, &mut w, &packet(version, 0), &frames, 1200).is_some()
            );
            let len = w.len();
            let mut scratch = Vec::new();
            let mut store = [0u8; 256];
            let mut hello = Assembler::new(&mut store[..]);
            let p = read_client_initials(
                &NullProvider,
                &dgram[..len],
                false,
                &mut scratch,
                &mut hello,
            )?;
            assert_eq!(p, Progress::Complete);
            assert_eq!(hello.message(), Some(&msg[..n]));
            // The caller's datagram is untouched: the connection reads it too.
            let mut again = Assembler::new(&mut store[..]);
            let p = read_client_initials(
                &NullProvider,
                &dgram[..len],
                false,
                &mut scratch,
                &mut again,
            )?;
            assert_eq!(p, Progress::Complete);
        }
        Ok(())
    }

    #[test]
    fn coalesced_initials_and_spanning_datagrams() -> Result<(), InitialError> {
        let mut msg = [0u8; 200];
        let n = build_hello(
            &mut msg,
            &[(EXT_ALPN, b"\x00\x03\x02h3"), (0x39, &[5; 100])],
        );
        let mut store = [0u8; 256];
        let mut hello = Assembler::new(&mut store[..]);
        let mut scratch = Vec::new();
        // Datagram 1: two coalesced Initials with the first 120 bytes.
        let mut d1 = Vec::from_elem(0u8, 1400, GFP)?;
        let mut w = Writer::new(&mut d1);
        let v = Version::V1;
        assert!(put_initial(&NullProvider, &mut w, &packet(v, 0), &[(0, &msg[..60])], 0).is_some());
        assert!(put_initial(
            &NullProvider,
            &mut w,
            &packet(v, 1),
            &[(60, &msg[60..120])],
            0
        )
        .is_some());
        let len = w.len();
        let p = read_client_initials(&NullProvider, &d1[..len], false, &mut scratch, &mut hello)?;
        assert_eq!(p, Progress::NeedMore);
        // Datagram 2: the rest.
        let mut d2 = Vec::from_elem(0u8, 1400, GFP)?;
        let mut w = Writer::new(&mut d2);
        assert!(put_initial(
            &NullProvider,
            &mut w,
            &packet(v, 2),
            &[(120, &msg[120..n])],
            1200
        )
        .is_some());
        let len = w.len();
        let p = read_client_initials(&NullProvider, &d2[..len], false, &mut scratch, &mut hello)?;
        assert_eq!(p, Progress::Complete);
        assert!(hello.client_hello()?.and_then(|h| h.alpn()).is_some());
        Ok(())
    }

    #[test]
    fn rejects_what_is_not_a_client_initial() -> Result<(), InitialError> {
        let mut scratch = Vec::new();
        let mut store = [0u8; 64];
        let mut hello = Assembler::new(&mut store[..]);
        let mut read =
            |d: &[u8]| read_client_initials(&NullProvider, d, false, &mut scratch, &mut hello);
        assert_eq!(read(&[]), Err(InitialError::NotInitial));
        assert_eq!(read(&[0x40; 40]), Err(InitialError::NotInitial));
        let mut dgram = Vec::from_elem(0u8, 1300, GFP)?;
        let mut w = Writer::new(&mut dgram);
        assert!(put_initial(
            &NullProvider,
            &mut w,
            &packet(Version::V2, 0),
            &[(0, &[1, 0, 0, 1])],
            1200
        )
        .is_some());
        let len = w.len();
        dgram[len - 1] ^= 1;
        assert_eq!(read(&dgram[..len]), Err(InitialError::Undecryptable));
        Ok(())
    }
}
