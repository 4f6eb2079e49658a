// SPDX-License-Identifier: GPL-2.0

//! Packet and header protection of whole packets (RFC 9001 §5.3, §5.4).
//!
//! Receiving: a [`ProtectedPacket`] from [`crate::protocol::packet::header`]
//! becomes an [`EncryptedPacket`] once header protection is removed (the
//! packet number and Key Phase are then known), and a [`CleartextPacket`]
//! once the AEAD opened it. Each step consumes the previous state, so a
//! payload cannot be used before it was authenticated.
//!
//! Sending: [`seal`] takes a buffer holding a header encoded by
//! [`crate::protocol::packet::header`], the plaintext payload and room for
//! the tag; it patches the Length field, encrypts and applies header
//! protection.

use crate::protocol::codec::Writer;
use crate::protocol::crypto::key_update::OneRttKeys;
use crate::protocol::crypto::{CryptoError, HeaderKey, PacketKey, Provider, MASK_LEN};
use crate::protocol::packet::header::{HeaderInfo, HeaderLayout};
use crate::protocol::packet::number::PacketNumberLen;
use crate::protocol::packet::{
    PacketError, PacketKind, HEADER_FORM_BIT, KEY_PHASE_BIT, LONG_RESERVED_BITS,
    SHORT_RESERVED_BITS, SPIN_BIT,
};
use crate::protocol::time::Instant;
use crate::protocol::varint::VarInt;
use core::ops::Range;

/// The offset of the header protection sample from the Packet Number field:
/// the sample assumes a four-byte packet number (RFC 9001 §5.4.2).
const SAMPLE_OFFSET: usize = 4;

/// The bits of the first byte header protection covers.
const fn protected_bits(first: u8) -> u8 {
    if first & HEADER_FORM_BIT != 0 {
        0x0f
    } else {
        0x1f
    }
}

/// The header protection mask of `packet`, whose Packet Number field starts
/// at `pn_offset`.
fn mask<H: HeaderKey + ?Sized>(
    key: &H,
    packet: &[u8],
    pn_offset: usize,
) -> Result<[u8; MASK_LEN], PacketError> {
    let start = pn_offset
        .checked_add(SAMPLE_OFFSET)
        .ok_or(PacketError::TooShort)?;
    let end = start
        .checked_add(key.sample_len())
        .ok_or(PacketError::TooShort)?;
    //= https://www.rfc-editor.org/rfc/rfc9001#section-5.4.2
    //# An endpoint MUST discard packets that are not long enough to contain a complete
    //# sample.
    let sample = packet.get(start..end).ok_or(PacketError::TooShort)?;
    Ok(key.mask(sample)?)
}

/// Applies header protection to `packet`, whose header is unprotected and
/// whose payload is encrypted (RFC 9001 §5.4.1).
pub fn apply_header_protection<H: HeaderKey + ?Sized>(
    key: &H,
    packet: &mut [u8],
    pn_offset: usize,
) -> Result<(), PacketError> {
    let mask = mask(key, packet, pn_offset)?;
    let first = packet.first_mut().ok_or(PacketError::TooShort)?;
    let pn_len = PacketNumberLen::from_first_byte(*first).bytes();
    *first ^= mask[0] & protected_bits(*first);
    let pn = packet
        .get_mut(pn_offset..pn_offset + pn_len)
        .ok_or(PacketError::TooShort)?;
    for (b, m) in pn.iter_mut().zip(&mask[1..]) {
        *b ^= m;
    }
    Ok(())
}

/// Removes header protection from `packet` (RFC 9001 §5.4.1). Returns the
/// unprotected first byte, the packet number length and the truncated
/// packet number.
pub fn remove_header_protection<H: HeaderKey + ?Sized>(
    key: &H,
    packet: &mut [u8],
    pn_offset: usize,
) -> Result<(u8, PacketNumberLen, u32), PacketError> {
    let mask = mask(key, packet, pn_offset)?;
    let first = packet.first_mut().ok_or(PacketError::TooShort)?;
    *first ^= mask[0] & protected_bits(*first);
    let first = *first;
    let pn_len = PacketNumberLen::from_first_byte(first);
    let pn = packet
        .get_mut(pn_offset..pn_offset + pn_len.bytes())
        .ok_or(PacketError::TooShort)?;
    let mut truncated = 0u32;
    for (b, m) in pn.iter_mut().zip(&mask[1..]) {
        *b ^= m;
        truncated = (truncated << 8) | u32::from(*b);
    }
    Ok((first, pn_len, truncated))
}

/// Seals the packet in `packet` with `packet_key` and `header_key`.
///
/// `packet` holds exactly the header described by `layout`, the plaintext
/// payload and `packet_key.tag_len()` bytes of room for the tag. The Length
/// field of a long header is set to cover the packet number, payload and
/// tag. Fails with [`PacketError::TooShort`] if the payload is too short to
/// sample (see [`HeaderLayout::min_payload_len`]).
pub fn seal<K: PacketKey + ?Sized, H: HeaderKey + ?Sized>(
    packet: &mut [u8],
    layout: &HeaderLayout,
    packet_key: &K,
    header_key: &H,
) -> Result<(), PacketError> {
    seal_with(packet, layout, header_key, |pn, header, payload| {
        packet_key.seal(pn, header, payload)
    })
}

/// Like [`seal`], with the AEAD step done by `seal_payload(pn, header,
/// payload)`.
pub fn seal_with<H, F>(
    packet: &mut [u8],
    layout: &HeaderLayout,
    header_key: &H,
    seal_payload: F,
) -> Result<(), PacketError>
where
    H: HeaderKey + ?Sized,
    F: FnOnce(u64, &[u8], &mut [u8]) -> Result<(), CryptoError>,
{
    let (header, payload) = prepare(packet, layout, header_key.sample_len())?;
    seal_payload(layout.pn, header, payload)?;
    apply_header_protection(header_key, packet, layout.pn_offset)
}

/// Seals a 1-RTT packet with `keys`, which count the packets each key
/// protects (see [`OneRttKeys::seal`]). The Key Phase bit of the header is
/// set from [`OneRttKeys::key_phase`].
pub fn seal_one_rtt<P: Provider>(
    packet: &mut [u8],
    layout: &HeaderLayout,
    keys: &mut OneRttKeys<P>,
) -> Result<(), PacketError> {
    let first = packet.first_mut().ok_or(PacketError::TooShort)?;
    if *first & HEADER_FORM_BIT != 0 {
        return Err(PacketError::InvalidInput);
    }
    if keys.key_phase() {
        *first |= KEY_PHASE_BIT;
    } else {
        *first &= !KEY_PHASE_BIT;
    }
    let (header, payload) = prepare(packet, layout, keys.local_header_key().sample_len())?;
    keys.seal(layout.pn, header, payload)?;
    apply_header_protection(keys.local_header_key(), packet, layout.pn_offset)
}

/// Checks that `packet` can be sampled, patches its Length field and splits
/// it into header and payload.
fn prepare<'p>(
    packet: &'p mut [u8],
    layout: &HeaderLayout,
    sample_len: usize,
) -> Result<(&'p mut [u8], &'p mut [u8]), PacketError> {
    let sample_end = layout
        .pn_offset
        .saturating_add(SAMPLE_OFFSET)
        .saturating_add(sample_len);
    if sample_end > packet.len() {
        return Err(PacketError::TooShort);
    }
    if let Some((offset, size)) = layout.length_field {
        // `pn_offset` is below `packet.len()`, checked above.
        let length = VarInt::try_from_usize(packet.len() - layout.pn_offset)
            .map_err(|_| PacketError::BufferTooShort)?;
        let field = packet
            .get_mut(offset..offset.saturating_add(size))
            .ok_or(PacketError::InvalidInput)?;
        length.encode_with_size(size, &mut Writer::new(field))?;
    }
    // The header ends at most four bytes after `pn_offset`, before the sample.
    Ok(packet.split_at_mut(layout.header_len()))
}

/// A packet before header protection removal: only the fields outside
/// header protection are known.
#[derive(Debug)]
pub struct ProtectedPacket<'a> {
    info: HeaderInfo,
    pn_offset: usize,
    bytes: &'a mut [u8],
}

impl<'a> ProtectedPacket<'a> {
    pub(crate) fn new(info: HeaderInfo, pn_offset: usize, bytes: &'a mut [u8]) -> Self {
        Self {
            info,
            pn_offset,
            bytes,
        }
    }

    /// The readable header fields.
    pub const fn header(&self) -> &HeaderInfo {
        &self.info
    }

    /// The Initial token (empty for other packets).
    pub fn token(&self) -> &[u8] {
        self.bytes.get(self.info.token.clone()).unwrap_or(&[])
    }

    /// The offset of the Packet Number field.
    pub const fn pn_offset(&self) -> usize {
        self.pn_offset
    }

    /// The packet's length in the datagram.
    pub const fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the packet is empty (never: it has at least a first byte).
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The packet's bytes, as received.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes
    }

    /// Removes header protection with `key`, and restores the full packet
    /// number given the largest one successfully processed in the packet
    /// number space.
    pub fn remove_header_protection<H: HeaderKey + ?Sized>(
        self,
        key: &H,
        largest_pn: Option<u64>,
    ) -> Result<EncryptedPacket<'a>, PacketError> {
        let (first, pn_len, truncated) = remove_header_protection(key, self.bytes, self.pn_offset)?;
        Ok(EncryptedPacket {
            info: self.info,
            first,
            pn: pn_len.decode(largest_pn, truncated),
            header_len: self.pn_offset + pn_len.bytes(),
            bytes: self.bytes,
        })
    }
}

/// A packet whose header protection is removed: its packet number and Key
/// Phase are known, its payload is still encrypted.
#[derive(Debug)]
pub struct EncryptedPacket<'a> {
    info: HeaderInfo,
    first: u8,
    pn: u64,
    header_len: usize,
    bytes: &'a mut [u8],
}

impl<'a> EncryptedPacket<'a> {
    /// The readable header fields.
    pub const fn header(&self) -> &HeaderInfo {
        &self.info
    }

    /// The full packet number.
    pub const fn pn(&self) -> u64 {
        self.pn
    }

    /// The Key Phase bit (1-RTT packets only; `false` for long headers).
    pub const fn key_phase(&self) -> bool {
        self.first & HEADER_FORM_BIT == 0 && self.first & KEY_PHASE_BIT != 0
    }

    /// Decrypts the payload with `key`.
    pub fn decrypt<K: PacketKey + ?Sized>(
        self,
        key: &K,
    ) -> Result<CleartextPacket<'a>, PacketError> {
        self.decrypt_with(|pn, _, header, payload| key.open(pn, header, payload))
    }

    /// Decrypts a 1-RTT packet with the key its Key Phase and packet number
    /// select, following a key update of the peer (see
    /// [`OneRttKeys::open`]).
    pub fn decrypt_one_rtt<P: Provider>(
        self,
        keys: &mut OneRttKeys<P>,
        provider: &P,
        now: Instant,
    ) -> Result<CleartextPacket<'a>, PacketError> {
        if self.info.kind != PacketKind::OneRtt {
            return Err(PacketError::InvalidInput);
        }
        self.decrypt_with(|pn, key_phase, header, payload| {
            keys.open(provider, now, pn, key_phase, header, payload)
        })
    }

    /// Decrypts the payload with `open(pn, key_phase, header, payload)`,
    /// which returns the plaintext length.
    pub fn decrypt_with<F>(self, open: F) -> Result<CleartextPacket<'a>, PacketError>
    where
        F: FnOnce(u64, bool, &[u8], &mut [u8]) -> Result<usize, CryptoError>,
    {
        let key_phase = self.key_phase();
        if self.header_len > self.bytes.len() {
            return Err(PacketError::TooShort);
        }
        let (header, payload) = self.bytes.split_at_mut(self.header_len);
        let len = open(self.pn, key_phase, header, payload)?;
        if len > payload.len() {
            return Err(PacketError::Crypto(CryptoError::Internal));
        }
        let reserved = if self.first & HEADER_FORM_BIT != 0 {
            LONG_RESERVED_BITS
        } else {
            SHORT_RESERVED_BITS
        };
        if self.first & reserved != 0 {
            return Err(PacketError::ReservedBits);
        }
        Ok(CleartextPacket {
            info: self.info,
            first: self.first,
            pn: self.pn,
            payload: self.header_len..self.header_len + len,
            bytes: self.bytes,
        })
    }
}

/// An authenticated, decrypted packet.
#[derive(Debug)]
pub struct CleartextPacket<'a> {
    info: HeaderInfo,
    first: u8,
    pn: u64,
    payload: Range<usize>,
    bytes: &'a mut [u8],
}

impl<'a> CleartextPacket<'a> {
    /// The readable header fields.
    pub const fn header(&self) -> &HeaderInfo {
        &self.info
    }

    /// The Initial token (empty for other packets).
    pub fn token(&self) -> &[u8] {
        self.bytes.get(self.info.token.clone()).unwrap_or(&[])
    }

    /// The full packet number.
    pub const fn pn(&self) -> u64 {
        self.pn
    }

    /// The unprotected first byte.
    pub const fn first_byte(&self) -> u8 {
        self.first
    }

    /// The Key Phase bit (1-RTT packets only).
    pub const fn key_phase(&self) -> bool {
        self.first & HEADER_FORM_BIT == 0 && self.first & KEY_PHASE_BIT != 0
    }

    /// The Spin Bit (1-RTT packets only).
    pub const fn spin(&self) -> bool {
        self.first & HEADER_FORM_BIT == 0 && self.first & SPIN_BIT != 0
    }

    /// Where the plaintext payload is in the packet.
    pub fn payload_range(&self) -> Range<usize> {
        self.payload.clone()
    }

    /// The plaintext payload: the frames.
    pub fn payload(&self) -> &[u8] {
        self.bytes.get(self.payload.clone()).unwrap_or(&[])
    }

    /// The packet's length in the datagram.
    pub const fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the packet is empty (never).
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Gives up the packet, keeping the plaintext payload.
    pub fn into_payload(self) -> &'a mut [u8] {
        let range = self.payload;
        match self.bytes.get_mut(range) {
            Some(payload) => payload,
            None => &mut [],
        }
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_packet_protection))]
mod tests {
    use super::*;
    use crate::protocol::cid::ConnectionId;
    use crate::protocol::crypto::null::{NullHeaderKey, NullPacketKey, NullProvider};
    use crate::protocol::crypto::{CipherSuite, HashAlgorithm, Secret, TAG_LEN};
    use crate::protocol::packet::header::{decode, DecodeParams, LongHeader, Packet, ShortHeader};
    use crate::protocol::packet::version::Version;
    use crate::protocol::packet::{LongType, PacketKind};
    use crate::protocol::test_rng::XorShift64;

    const PARAMS: DecodeParams = DecodeParams {
        local_cid_len: 8,
        accept_cleared_fixed_bit: false,
    };

    fn keys(seed: u64) -> (NullPacketKey, NullHeaderKey) {
        (
            NullPacketKey::new(CipherSuite::Aes128GcmSha256, seed),
            NullHeaderKey::new(seed),
        )
    }

    fn cid() -> ConnectionId {
        ConnectionId::from_slice(&[8; 8]).unwrap_or(ConnectionId::EMPTY)
    }

    /// Writes a 1-RTT packet carrying `payload`; returns its length.
    fn short_packet(
        buf: &mut [u8],
        pn: u64,
        pn_len: PacketNumberLen,
        payload: &[u8],
    ) -> Result<usize, PacketError> {
        let (pk, hk) = keys(1);
        let mut w = Writer::new(buf);
        let layout = ShortHeader {
            dcid: cid(),
            pn,
            pn_len,
            spin: false,
            key_phase: true,
            fixed_bit: true,
        }
        .encode(&mut w)?;
        w.put_bytes(payload)?;
        w.reserve(TAG_LEN)?;
        let len = w.len();
        seal(&mut buf[..len], &layout, &pk, &hk)?;
        Ok(len)
    }

    #[test]
    fn short_seal_open_round_trip() -> Result<(), PacketError> {
        let mut buf = [0u8; 64];
        let len = short_packet(&mut buf, 0x1_0203, PacketNumberLen::Two, b"frames")?;
        let (pk, hk) = keys(1);
        let (packet, _) = decode(&mut buf[..len], &PARAMS)?;
        let Packet::Protected(p) = packet else {
            return Err(PacketError::Malformed);
        };
        let e = p.remove_header_protection(&hk, Some(0x1_01ff))?;
        assert_eq!(e.pn(), 0x1_0203);
        assert!(e.key_phase());
        let c = e.decrypt(&pk)?;
        assert_eq!(c.payload(), b"frames");
        assert_eq!(c.payload_range(), 11..17);
        assert!(c.key_phase());
        assert!(!c.spin());
        assert_eq!(c.into_payload(), b"frames");
        Ok(())
    }

    #[test]
    fn long_seal_patches_length() -> Result<(), PacketError> {
        let (pk, hk) = keys(2);
        let mut buf = [0u8; 128];
        let mut w = Writer::new(&mut buf);
        let layout = LongHeader {
            ty: LongType::Handshake,
            version: Version::V2,
            dcid: cid(),
            scid: ConnectionId::EMPTY,
            token: &[],
            pn: 7,
            pn_len: PacketNumberLen::One,
            fixed_bit: true,
        }
        .encode(&mut w)?;
        w.put_bytes(&[1, 0, 0, 0])?;
        w.reserve(TAG_LEN)?;
        let len = w.len();
        seal(&mut buf[..len], &layout, &pk, &hk)?;
        // A second packet coalesced behind it must not be swallowed.
        let (packet, rest) = decode(&mut buf[..len + 3], &PARAMS)?;
        assert_eq!(rest.len(), 3);
        let Packet::Protected(p) = packet else {
            return Err(PacketError::Malformed);
        };
        assert_eq!(p.header().kind, PacketKind::Handshake);
        let c = p.remove_header_protection(&hk, None)?.decrypt(&pk)?;
        assert_eq!(c.pn(), 7);
        assert_eq!(c.payload(), &[1, 0, 0, 0]);
        Ok(())
    }

    #[test]
    fn tampering_and_wrong_keys_fail() -> Result<(), PacketError> {
        let mut buf = [0u8; 64];
        let len = short_packet(&mut buf, 5, PacketNumberLen::One, b"abcd")?;
        let (pk, hk) = keys(1);
        let (other_pk, _) = keys(3);
        let mut copy = buf;
        copy[len - 1] ^= 0x80;
        let Ok((Packet::Protected(p), _)) = decode(&mut copy[..len], &PARAMS) else {
            return Err(PacketError::Malformed);
        };
        assert_eq!(
            p.remove_header_protection(&hk, None)?.decrypt(&pk).err(),
            Some(PacketError::Crypto(CryptoError::AuthenticationFailed))
        );
        let mut copy = buf;
        let Ok((Packet::Protected(p), _)) = decode(&mut copy[..len], &PARAMS) else {
            return Err(PacketError::Malformed);
        };
        assert_eq!(
            p.remove_header_protection(&hk, None)?
                .decrypt(&other_pk)
                .err(),
            Some(PacketError::Crypto(CryptoError::AuthenticationFailed))
        );
        Ok(())
    }

    #[test]
    fn too_short_to_sample() -> Result<(), PacketError> {
        let (pk, hk) = keys(1);
        // 1-byte packet number, 2-byte payload: 19 bytes after the pn offset.
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        let layout = ShortHeader {
            dcid: cid(),
            pn: 0,
            pn_len: PacketNumberLen::One,
            spin: false,
            key_phase: false,
            fixed_bit: true,
        }
        .encode(&mut w)?;
        assert_eq!(layout.min_payload_len(TAG_LEN, 16), 3);
        w.put_bytes(&[1, 0])?;
        w.reserve(TAG_LEN)?;
        let len = w.len();
        assert_eq!(
            seal(&mut buf[..len], &layout, &pk, &hk),
            Err(PacketError::TooShort)
        );
        // Receiving a packet that short is an error too, never a panic.
        for cut in 0..len {
            let mut copy = buf;
            if let Ok((Packet::Protected(p), _)) = decode(&mut copy[..cut], &PARAMS) {
                assert_eq!(
                    p.remove_header_protection(&hk, None).err(),
                    Some(PacketError::TooShort)
                );
            }
        }
        Ok(())
    }

    #[test]
    fn reserved_bits_checked_after_decryption() -> Result<(), PacketError> {
        let (pk, hk) = keys(1);
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        let layout = ShortHeader {
            dcid: cid(),
            pn: 1,
            pn_len: PacketNumberLen::Four,
            spin: false,
            key_phase: false,
            fixed_bit: true,
        }
        .encode(&mut w)?;
        w.put_bytes(&[1; 8])?;
        w.reserve(TAG_LEN)?;
        let len = w.len();
        buf[0] |= SHORT_RESERVED_BITS;
        seal(&mut buf[..len], &layout, &pk, &hk)?;
        let Ok((Packet::Protected(p), _)) = decode(&mut buf[..len], &PARAMS) else {
            return Err(PacketError::Malformed);
        };
        assert_eq!(
            p.remove_header_protection(&hk, None)?.decrypt(&pk).err(),
            Some(PacketError::ReservedBits)
        );
        Ok(())
    }

    #[test]
    fn one_rtt_helpers_follow_key_phase() -> Result<(), PacketError> {
        let suite = CipherSuite::Aes128GcmSha256;
        let c = Secret::new(HashAlgorithm::Sha256, &[1; 32])?;
        let s = Secret::new(HashAlgorithm::Sha256, &[2; 32])?;
        let mut client = OneRttKeys::new(&NullProvider, Version::V1, suite, &c, &s)?;
        let mut server = OneRttKeys::new(&NullProvider, Version::V1, suite, &s, &c)?;
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        // The header claims phase 1; the keys are in phase 0 and win.
        let layout = ShortHeader {
            dcid: cid(),
            pn: 3,
            pn_len: PacketNumberLen::One,
            spin: false,
            key_phase: true,
            fixed_bit: true,
        }
        .encode(&mut w)?;
        w.put_bytes(b"ping")?;
        w.reserve(TAG_LEN)?;
        let len = w.len();
        seal_one_rtt(&mut buf[..len], &layout, &mut client)?;
        assert_eq!(client.packets_sealed(), 1);
        let Ok((Packet::Protected(p), _)) = decode(&mut buf[..len], &PARAMS) else {
            return Err(PacketError::Malformed);
        };
        let e = p.remove_header_protection(server.remote_header_key(), None)?;
        assert!(!e.key_phase());
        let c = e.decrypt_one_rtt(&mut server, &NullProvider, Instant::ZERO)?;
        assert_eq!((c.pn(), c.payload()), (3, &b"ping"[..]));
        // Long headers are not 1-RTT packets.
        let mut long = [0xc0u8; 64];
        assert_eq!(
            seal_one_rtt(&mut long, &layout, &mut client),
            Err(PacketError::InvalidInput)
        );
        Ok(())
    }

    #[test]
    fn absurd_layouts_fail_cleanly() {
        let (pk, hk) = keys(1);
        let mut buf = [0x40u8; 64];
        let layout = HeaderLayout {
            pn: 0,
            pn_len: PacketNumberLen::Four,
            pn_offset: usize::MAX - 2,
            length_field: None,
        };
        assert_eq!(
            seal(&mut buf, &layout, &pk, &hk),
            Err(PacketError::TooShort)
        );
        let layout = HeaderLayout {
            pn_offset: 1,
            length_field: Some((usize::MAX, 2)),
            ..layout
        };
        assert_eq!(
            seal(&mut buf, &layout, &pk, &hk),
            Err(PacketError::InvalidInput)
        );
    }

    #[test]
    fn round_trip_all_lengths() -> Result<(), PacketError> {
        let mut rng = XorShift64::new(0x853c_49e6_748f_ea9b);
        for _ in 0..300 {
            let x = rng.next_u64();
            let largest = x >> 34;
            let pn = largest + (x & 0xff) + 1;
            let pn_len = PacketNumberLen::for_packet(pn, Some(largest));
            let payload_len = 4 + (x >> 20) as usize % 40;
            let payload = [0xa5u8; 48];
            let mut buf = [0u8; 96];
            let len = short_packet(&mut buf, pn, pn_len, &payload[..payload_len])?;
            let (pk, hk) = keys(1);
            let Ok((Packet::Protected(p), _)) = decode(&mut buf[..len], &PARAMS) else {
                return Err(PacketError::Malformed);
            };
            let c = p
                .remove_header_protection(&hk, Some(largest))?
                .decrypt(&pk)?;
            assert_eq!(c.pn(), pn);
            assert_eq!(c.payload(), &payload[..payload_len]);
        }
        Ok(())
    }
}
