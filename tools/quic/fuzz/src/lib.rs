// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the fuzz targets of the `net/quic` protocol core.
//!
//! The targets (in `fuzz_targets/`) are libFuzzer binaries built on the stable
//! toolchain by `run.sh`. Decoder targets take the fuzzer's bytes as the
//! encoded input; stateful targets read a script of operations from them with
//! [`Input`], which never fails: once the bytes run out every read returns
//! zero, so any input is a valid (if short) script.

use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::error::TransportErrorCode;
use quic_protocol::protocol::frame::{Frame, Frames, PacketKind};

/// A cursor over the fuzzer's bytes for drawing values.
#[derive(Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Whether the bytes are used up.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// One byte, or 0 once the input is used up.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }

    /// A bool from the low bit of a byte.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 != 0
    }

    /// A value below `n` (0 if `n` is 0), from as few bytes as it needs.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let v = if n <= 1 << 8 {
            u64::from(self.u8())
        } else if n <= 1 << 16 {
            u64::from(self.u16())
        } else if n <= 1 << 32 {
            u64::from(self.u32())
        } else {
            self.u64()
        };
        v % n
    }

    /// A `usize` below `n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// A value spread over all magnitudes: the first byte picks how many
    /// bits the value has, so small and huge values are both common.
    pub fn scaled(&mut self, max_bits: u32) -> u64 {
        let bits = u32::from(self.u8()) % (max_bits + 1);
        if bits == 0 {
            return 0;
        }
        let v = self.u64();
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        v & mask
    }

    /// A length of at most `max` drawn from the input, then that many bytes
    /// (fewer if the input runs out).
    pub fn slice(&mut self, max: usize) -> &'a [u8] {
        let n = self.index(max + 1);
        self.bytes(n)
    }

    /// Runs a script: calls `step` until the input is used up or `max`
    /// steps ran.
    pub fn run(&mut self, max: usize, mut step: impl FnMut(&mut Self)) {
        for _ in 0..max {
            if self.is_empty() {
                break;
            }
            step(self);
        }
    }

    /// Up to `n` bytes (fewer if the input runs out).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

/// Every packet type that carries frames, and `None` for "any".
pub const FRAME_KINDS: [Option<PacketKind>; 5] = [
    None,
    Some(PacketKind::Initial),
    Some(PacketKind::ZeroRtt),
    Some(PacketKind::Handshake),
    Some(PacketKind::OneRtt),
];

/// Decodes `payload` as a frame sequence in a packet of `kind` and checks
/// each frame: permitted in `kind`, re-encodes to its reported size and
/// decodes back equal; an error is FRAME_ENCODING_ERROR or
/// PROTOCOL_VIOLATION and ends the iteration. Returns the frames decoded.
pub fn check_frames(payload: &[u8], kind: Option<PacketKind>, scratch: &mut [u8]) -> usize {
    let frames = match kind {
        Some(kind) => Frames::in_packet(payload, kind),
        None => Frames::new(payload),
    };
    let mut decoded = 0;
    let mut failed = false;
    for frame in frames {
        assert!(!failed, "iteration went on after an error");
        match frame {
            Ok(frame) => {
                decoded += 1;
                if let Some(kind) = kind {
                    assert!(frame.ty().permitted_in(kind));
                }
                check_reencode(&frame, scratch);
            }
            Err(err) => {
                failed = true;
                assert!(
                    err.code == TransportErrorCode::FRAME_ENCODING_ERROR
                        || err.code == TransportErrorCode::PROTOCOL_VIOLATION,
                    "{err:?}"
                );
            }
        }
    }
    decoded
}

/// A decoded frame re-encodes to exactly its reported size, fails cleanly
/// into a buffer one byte short, and decodes back alone and equal.
pub fn check_reencode(frame: &Frame<'_>, scratch: &mut [u8]) {
    let size = frame.encoded_size();
    // Every frame is smaller than the packet it came from.
    assert!(size <= scratch.len(), "{size} bytes for {frame:?}");
    if size > 0 {
        let mut short = Writer::new(&mut scratch[..size - 1]);
        assert!(frame.encode(&mut short).is_err());
        assert_eq!(short.len(), 0, "a failed encode wrote bytes");
    }
    let mut w = Writer::new(&mut scratch[..size]);
    frame.encode(&mut w).expect("encode into the reported size");
    assert_eq!(w.len(), size);
    let mut again = Frames::new(&scratch[..size]);
    assert_eq!(again.next().as_ref(), Some(&Ok(*frame)));
    assert!(again.next().is_none());
}

/// The byte at stream offset `offset` in the data the stream targets send,
/// so that any received byte can be checked against its offset.
pub fn pattern(offset: u64) -> u8 {
    (offset.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8
}
