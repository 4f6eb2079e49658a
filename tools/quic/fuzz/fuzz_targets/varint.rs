// SPDX-License-Identifier: GPL-2.0

//! Variable-length integers (RFC 9000 §16) and the codec's readers.
//!
//! Every varint decoded from the input re-encodes with its received length
//! to the same bytes, and shortest-encoded to `size()` bytes that decode back
//! to the same value. The input is also read as integers to encode, and as
//! a length-prefixed field.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_protocol::protocol::codec::{Reader, Writer};
use quic_protocol::protocol::varint::VarInt;

fn check_value(v: VarInt) {
    let size = v.size();
    assert_eq!(size, VarInt::size_of(v.into_inner()));
    assert!(matches!(size, 1 | 2 | 4 | 8));
    let mut buf = [0u8; VarInt::MAX_SIZE];
    let mut w = Writer::new(&mut buf[..size - 1]);
    assert!(v.encode(&mut w).is_err());
    assert_eq!(w.len(), 0);
    let mut w = Writer::new(&mut buf);
    v.encode(&mut w).expect("room for a varint");
    assert_eq!(w.len(), size);
    let mut r = Reader::new(&buf[..size]);
    assert_eq!(VarInt::decode(&mut r), Ok(v));
    assert!(r.is_empty());
    // Every longer size encodes the same value; shorter ones refuse.
    for len in [1, 2, 4, 8] {
        let mut out = [0u8; VarInt::MAX_SIZE];
        let mut w = Writer::new(&mut out);
        let res = v.encode_with_size(len, &mut w);
        if len < size {
            assert!(res.is_err());
        } else {
            res.expect("a longer encoding");
            assert_eq!(w.len(), len);
            assert_eq!(VarInt::decode(&mut Reader::new(&out[..len])), Ok(v));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The input as a sequence of varints.
    let mut r = Reader::new(data);
    loop {
        let before = r.peek_rest();
        let Ok(v) = VarInt::decode(&mut r) else {
            // Only a truncated varint fails.
            let len = before.first().map_or(0, |b| 1usize << (b >> 6));
            assert!(before.len() < len.max(1));
            break;
        };
        let used = before.len() - r.remaining();
        assert_eq!(used, 1 << (before[0] >> 6));
        assert!(v.size() <= used);
        assert!(v <= VarInt::MAX);
        let mut out = [0u8; VarInt::MAX_SIZE];
        let mut w = Writer::new(&mut out);
        v.encode_with_size(used, &mut w)
            .expect("the received length");
        assert_eq!(w.written(), &before[..used]);
        check_value(v);
    }

    // The input as 64-bit integers to encode.
    for chunk in data.chunks(8) {
        let mut be = [0u8; 8];
        be[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes(be) >> (chunk.first().map_or(0, |b| b & 63));
        match VarInt::from_u64(n) {
            Ok(v) => {
                assert_eq!(v.into_inner(), n);
                assert_eq!(VarInt::saturating(n), v);
                check_value(v);
            }
            Err(_) => {
                assert!(n > VarInt::MAX.into_inner());
                assert_eq!(VarInt::saturating(n), VarInt::MAX);
            }
        }
    }

    // The input as length-prefixed fields.
    let mut r = Reader::new(data);
    while let Ok(field) = r.read_varint_prefixed() {
        let mut buf = vec![0u8; field.len() + VarInt::MAX_SIZE];
        let mut w = Writer::new(&mut buf);
        w.put_varint_prefixed(field).expect("room");
        let n = w.len();
        assert_eq!(Reader::new(&buf[..n]).read_varint_prefixed(), Ok(field));
    }
});
