// SPDX-License-Identifier: GPL-2.0

//! The frame iterator (RFC 9000 §12.4, §19; RFC 9221).
//!
//! The input is a decrypted packet payload, walked with `Frames::new` and
//! `Frames::in_packet` for every packet type. Each frame decoded must be
//! permitted in the packet type, re-encode to exactly its reported size and
//! decode back equal; an error must be FRAME_ENCODING_ERROR or
//! PROTOCOL_VIOLATION and end the iteration. A packet type filter only ever
//! stops the walk earlier: up to the first refused frame, the frames are
//! the same as without it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_fuzz::{check_frames, FRAME_KINDS};
use quic_protocol::protocol::frame::{CryptoFrame, Frame, Frames, PacketKind, StreamFrame};
use quic_protocol::protocol::varint::VarInt;

/// The sizing helper agrees with the encoder for the frame's own fields.
fn check_stream_fit(s: &StreamFrame<'_>) {
    let size = s.encoded_size();
    for room in [0, 1, 2, 5, size.saturating_sub(1), size, size + 9] {
        for last in [false, true] {
            let Some(fit) = StreamFrame::fit(s.stream_id, s.offset, s.data.len(), room, last)
            else {
                continue;
            };
            assert!(fit.data_len <= s.data.len());
            assert_eq!(fit.has_length, !last);
            let f = StreamFrame {
                data: &s.data[..fit.data_len],
                has_length: fit.has_length,
                ..*s
            };
            assert!(f.encoded_size() <= room, "{fit:?} for {room} bytes");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut scratch = vec![0u8; data.len()];
    let any = check_frames(data, None, &mut scratch);
    for kind in FRAME_KINDS.into_iter().flatten() {
        let n = check_frames(data, Some(kind), &mut scratch);
        assert!(n <= any);
        for (a, b) in Frames::new(data).zip(Frames::in_packet(data, kind)) {
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (_, Err(_)) => break,
                (Err(a), Ok(b)) => panic!("{kind:?} accepted {b:?} refused by {a:?}"),
            }
        }
    }

    // Frame-level facts that need no re-encoding.
    for frame in Frames::in_packet(data, PacketKind::OneRtt).map_while(Result::ok) {
        match frame {
            Frame::Stream(s) => {
                assert!(s.end() <= VarInt::MAX.into_inner());
                check_stream_fit(&s);
            }
            Frame::Crypto(c) => {
                assert!(c.end() <= VarInt::MAX.into_inner());
                for room in [0, 1, 3, 9, c.encoded_size(), c.encoded_size() + 9] {
                    if let Some(n) = CryptoFrame::fit(c.offset, c.data.len(), room) {
                        assert!(n <= c.data.len());
                        let f = CryptoFrame {
                            data: &c.data[..n],
                            ..c
                        };
                        assert!(f.encoded_size() <= room);
                    }
                }
            }
            Frame::ConnectionClose(c) => {
                for room in [0, 1, 2, 8, c.encoded_size(), c.encoded_size() + 1] {
                    if let Some(t) = c.truncated_to(room) {
                        assert!(t.encoded_size() <= room);
                        assert!(c.reason.starts_with(t.reason));
                    }
                }
            }
            Frame::Padding { len } => assert!(len >= 1),
            _ => {}
        }
        let _ = (
            frame.is_ack_eliciting(),
            frame.counts_in_flight(),
            frame.is_probing(),
        );
    }
});
