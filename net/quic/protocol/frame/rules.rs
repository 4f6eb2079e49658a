// SPDX-License-Identifier: GPL-2.0

//! Where a frame may appear and how it counts.
//!
//! - Which packet types may carry which frames (RFC 9000 §12.4 Table 3 and
//!   §12.5; DATAGRAM from RFC 9221 §4).
//! - Ack-eliciting and in-flight frames (RFC 9002 §2).
//! - Probing frames (RFC 9000 §9.1).

use crate::protocol::error::TransportError;
use crate::protocol::frame::FrameType;

/// The packet types that carry frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// Initial packets (Initial packet number space).
    Initial,
    /// 0-RTT packets (application data space, early keys).
    ZeroRtt,
    /// Handshake packets (Handshake packet number space).
    Handshake,
    /// 1-RTT (short header) packets.
    OneRtt,
}

impl FrameType {
    /// Whether a packet of `kind` may carry this frame type. Unknown types
    /// are allowed nowhere.
    ///
    /// Initial and Handshake packets carry only PADDING, PING, ACK, CRYPTO
    /// and transport CONNECTION_CLOSE (0x1c). 0-RTT packets carry what 1-RTT
    /// packets do except ACK, CRYPTO, HANDSHAKE_DONE, NEW_TOKEN,
    /// PATH_RESPONSE and RETIRE_CONNECTION_ID (§12.5).
    pub const fn permitted_in(self, kind: PacketKind) -> bool {
        if !self.is_known() {
            return false;
        }
        match kind {
            //= https://www.rfc-editor.org/rfc/rfc9000#section-12.4
            //# Note that all frames can appear in 1-RTT packets.
            PacketKind::OneRtt => true,
            PacketKind::Initial | PacketKind::Handshake => {
                matches!(self.0, 0x00 | 0x01 | 0x02 | 0x03 | 0x06 | 0x1c)
            }
            //= https://www.rfc-editor.org/rfc/rfc9000#section-12.5
            //# Note that it is not possible to send the following frames in 0-RTT
            //# packets for various reasons: ACK, CRYPTO, HANDSHAKE_DONE, NEW_TOKEN,
            //# PATH_RESPONSE, and RETIRE_CONNECTION_ID.
            PacketKind::ZeroRtt => {
                !matches!(self.0, 0x02 | 0x03 | 0x06 | 0x07 | 0x19 | 0x1b | 0x1e)
            }
        }
    }

    /// [`FrameType::permitted_in`] as the error to close with.
    //= https://www.rfc-editor.org/rfc/rfc9000#section-12.4
    //# An endpoint MUST treat receipt of a frame in a packet type that is not
    //# permitted as a connection error of type PROTOCOL_VIOLATION.
    pub fn check_permitted(self, kind: PacketKind) -> Result<(), TransportError> {
        if self.permitted_in(kind) {
            Ok(())
        } else {
            Err(
                TransportError::protocol_violation("frame not permitted in this packet type")
                    .with_frame(self.0),
            )
        }
    }

    /// Whether the frame makes its packet ack-eliciting: all but ACK,
    /// PADDING and CONNECTION_CLOSE (RFC 9002 §2).
    pub const fn is_ack_eliciting(self) -> bool {
        !matches!(self.0, 0x00 | 0x02 | 0x03 | 0x1c | 0x1d)
    }

    /// Whether the frame puts its packet in flight for congestion control:
    /// ack-eliciting frames and PADDING (RFC 9002 §2).
    pub const fn counts_in_flight(self) -> bool {
        self.is_ack_eliciting() || self.0 == FrameType::PADDING.0
    }

    /// Whether this is a probing frame: a packet of nothing but PADDING,
    /// PATH_CHALLENGE, PATH_RESPONSE and NEW_CONNECTION_ID probes a path
    /// without migrating the connection (RFC 9000 §9.1).
    pub const fn is_probing(self) -> bool {
        matches!(self.0, 0x00 | 0x18 | 0x1a | 0x1b)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_frame_rules))]
mod tests {
    use super::*;
    use crate::protocol::error::TransportErrorCode;

    /// RFC 9000 Table 3 "Pkts" column plus DATAGRAM, with §12.5 applied to
    /// 0-RTT: (types, Initial, 0-RTT, Handshake, 1-RTT).
    const TABLE: [(&[u64], [bool; 4]); 21] = [
        (&[0x00], [true, true, true, true]),
        (&[0x01], [true, true, true, true]),
        (&[0x02, 0x03], [true, false, true, true]),
        (&[0x04], [false, true, false, true]),
        (&[0x05], [false, true, false, true]),
        (&[0x06], [true, false, true, true]),
        (&[0x07], [false, false, false, true]),
        (
            &[0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f],
            [false, true, false, true],
        ),
        (&[0x10], [false, true, false, true]),
        (&[0x11], [false, true, false, true]),
        (&[0x12, 0x13], [false, true, false, true]),
        (&[0x14], [false, true, false, true]),
        (&[0x15], [false, true, false, true]),
        (&[0x16, 0x17], [false, true, false, true]),
        (&[0x18], [false, true, false, true]),
        (&[0x19], [false, false, false, true]),
        (&[0x1a], [false, true, false, true]),
        (&[0x1b], [false, false, false, true]),
        (&[0x1c], [true, true, true, true]),
        (&[0x1d], [false, true, false, true]),
        (&[0x1e, 0x30, 0x31], [false, false, false, true]),
    ];

    const KINDS: [PacketKind; 4] = [
        PacketKind::Initial,
        PacketKind::ZeroRtt,
        PacketKind::Handshake,
        PacketKind::OneRtt,
    ];

    #[test]
    fn permission_table() {
        for (types, allowed) in TABLE {
            for &ty in types {
                for (kind, ok) in KINDS.iter().zip(allowed) {
                    // DATAGRAM is allowed in 0-RTT, unlike HANDSHAKE_DONE.
                    let ok = ok || (ty >= 0x30 && *kind == PacketKind::ZeroRtt);
                    assert_eq!(FrameType(ty).permitted_in(*kind), ok);
                    let err = FrameType(ty).check_permitted(*kind).err();
                    assert_eq!(
                        err.map(|e| (e.code, e.frame_type)),
                        if ok {
                            None
                        } else {
                            Some((TransportErrorCode::PROTOCOL_VIOLATION, Some(ty)))
                        }
                    );
                }
            }
        }
        for kind in KINDS {
            assert!(!FrameType(0x1f).permitted_in(kind));
            assert!(!FrameType(0x40).permitted_in(kind));
        }
    }

    #[test]
    fn ack_eliciting_in_flight_probing() {
        for ty in (0x00..=0x1e).chain(0x30..=0x31) {
            let t = FrameType(ty);
            let non_eliciting = matches!(ty, 0x00 | 0x02 | 0x03 | 0x1c | 0x1d);
            assert_eq!(t.is_ack_eliciting(), !non_eliciting);
            assert_eq!(t.counts_in_flight(), (!non_eliciting || ty == 0x00));
            assert_eq!(t.is_probing(), matches!(ty, 0x00 | 0x18 | 0x1a | 0x1b));
        }
        assert!(FrameType::DATAGRAM.is_ack_eliciting());
        assert!(!FrameType::ACK_ECN.counts_in_flight());
        assert!(!FrameType::APPLICATION_CLOSE.counts_in_flight());
    }
}
