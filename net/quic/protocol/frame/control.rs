// SPDX-License-Identifier: GPL-2.0

//! The control frames with more than varint fields: NEW_CONNECTION_ID
//! (RFC 9000 §19.15) and CONNECTION_CLOSE (§19.19).
//!
//! The remaining control frames are a type and one to three varints; they
//! are [`Frame`](crate::protocol::frame::Frame) variants decoded in
//! [`decode`](crate::protocol::frame::decode).

use crate::protocol::cid::ConnectionId;
use crate::protocol::codec::{BufferTooShort, Reader, Writer};
use crate::protocol::error::TransportError;
use crate::protocol::frame::{fit_data, prefixed_size, put_type, FrameType, RESET_TOKEN_LEN};
use crate::protocol::varint::VarInt;

/// A NEW_CONNECTION_ID frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewConnectionId {
    /// The sequence number of the new connection ID.
    pub sequence: VarInt,
    /// Connection IDs with lower sequence numbers are to be retired; at most
    /// `sequence`.
    pub retire_prior_to: VarInt,
    /// The connection ID, 1 to 20 bytes.
    pub id: ConnectionId,
    /// The stateless reset token bound to `id`.
    pub reset_token: [u8; RESET_TOKEN_LEN],
}

impl NewConnectionId {
    /// Decodes the fields after the type.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, TransportError> {
        let sequence = r.read_varint()?;
        let retire_prior_to = r.read_varint()?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.15
        //# Values less than 1 and greater than 20 are invalid and MUST be
        //# treated as a connection error of type FRAME_ENCODING_ERROR.
        let len = usize::from(r.read_u8()?);
        if len == 0 || len > ConnectionId::MAX_LEN {
            return Err(TransportError::frame_encoding("bad connection ID length"));
        }
        let id = ConnectionId::from_slice(r.read_bytes(len)?)
            .map_err(|_| TransportError::frame_encoding("bad connection ID length"))?;
        let reset_token = r.read_array()?;
        //= https://www.rfc-editor.org/rfc/rfc9000#section-19.15
        //# Receiving a value in the Retire Prior To field that is greater than
        //# that in the Sequence Number field MUST be treated as a connection
        //# error of type FRAME_ENCODING_ERROR.
        if retire_prior_to > sequence {
            return Err(TransportError::frame_encoding(
                "retire prior to above sequence number",
            ));
        }
        Ok(Self {
            sequence,
            retire_prior_to,
            id,
            reset_token,
        })
    }

    /// The exact number of bytes [`NewConnectionId::encode`] writes.
    pub fn encoded_size(&self) -> usize {
        1 + self.sequence.size() + self.retire_prior_to.size() + 1 + self.id.len() + RESET_TOKEN_LEN
    }

    /// Writes the frame. Fails without writing anything if `w` has less room
    /// than [`NewConnectionId::encoded_size`]. The caller provides a
    /// non-empty `id` and `retire_prior_to <= sequence`.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.encoded_size() > w.remaining() {
            return Err(BufferTooShort);
        }
        put_type(w, FrameType::NEW_CONNECTION_ID)?;
        w.put_varint(self.sequence)?;
        w.put_varint(self.retire_prior_to)?;
        self.id.encode_with_len_u8(w)?;
        w.put_bytes(&self.reset_token)
    }
}

/// A CONNECTION_CLOSE frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionClose<'a> {
    /// A transport error code (type 0x1c) or an application one (0x1d).
    pub error_code: VarInt,
    /// For a transport close, the type of the frame that caused the error
    /// (0 if unknown); `None` for an application close.
    pub frame_type: Option<VarInt>,
    /// The reason phrase; meant to be UTF-8 but not checked.
    pub reason: &'a [u8],
}

impl<'a> ConnectionClose<'a> {
    /// Decodes the fields after the type `ty`, 0x1c or 0x1d.
    pub(crate) fn decode(ty: FrameType, r: &mut Reader<'a>) -> Result<Self, TransportError> {
        let error_code = r.read_varint()?;
        let frame_type = if ty == FrameType::CONNECTION_CLOSE {
            Some(r.read_varint()?)
        } else {
            None
        };
        let reason = r.read_varint_prefixed()?;
        Ok(Self {
            error_code,
            frame_type,
            reason,
        })
    }

    /// The transport close (0x1c) that reports `err`.
    pub fn transport(err: &TransportError) -> ConnectionClose<'static> {
        ConnectionClose {
            error_code: VarInt::saturating(err.code.0),
            frame_type: Some(VarInt::saturating(err.frame_type.unwrap_or(0))),
            reason: err.reason.as_bytes(),
        }
    }

    /// An application close (0x1d) with `error_code` and `reason`.
    pub fn application(error_code: VarInt, reason: &'a [u8]) -> Self {
        Self {
            error_code,
            frame_type: None,
            reason,
        }
    }

    /// CONNECTION_CLOSE or APPLICATION_CLOSE.
    pub fn ty(&self) -> FrameType {
        match self.frame_type {
            Some(_) => FrameType::CONNECTION_CLOSE,
            None => FrameType::APPLICATION_CLOSE,
        }
    }

    /// Whether this is an application close.
    pub fn is_application(&self) -> bool {
        self.frame_type.is_none()
    }

    fn header_size(&self) -> usize {
        1 + self.error_code.size() + self.frame_type.map_or(0, VarInt::size)
    }

    /// The exact number of bytes [`ConnectionClose::encode`] writes.
    pub fn encoded_size(&self) -> usize {
        self.header_size() + prefixed_size(self.reason.len())
    }

    /// The same frame with its reason phrase cut, at a UTF-8 character
    /// boundary, so that the frame fits `room` bytes. `None` if even an
    /// empty reason does not fit.
    pub fn truncated_to(self, room: usize) -> Option<Self> {
        let mut cut = fit_data(self.header_size(), self.reason.len(), room, true)?;
        // Do not split a multi-byte character: back off continuation bytes.
        while cut > 0 && self.reason.get(cut).is_some_and(|b| b & 0xc0 == 0x80) {
            cut -= 1;
        }
        Some(Self {
            reason: self.reason.get(..cut)?,
            ..self
        })
    }

    /// Writes the frame. Fails without writing anything if `w` has less room
    /// than [`ConnectionClose::encoded_size`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.encoded_size() > w.remaining() {
            return Err(BufferTooShort);
        }
        put_type(w, self.ty())?;
        w.put_varint(self.error_code)?;
        if let Some(frame_type) = self.frame_type {
            w.put_varint(frame_type)?;
        }
        w.put_varint_prefixed(self.reason)
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_frame_control))]
mod tests {
    use super::*;
    use crate::protocol::error::TransportErrorCode;
    use crate::protocol::frame::{Frame, Frames};

    fn decode(bytes: &[u8]) -> Result<Frame<'_>, TransportError> {
        Frames::new(bytes)
            .next()
            .unwrap_or(Err(TransportError::internal("empty")))
    }

    fn code_and_type(r: Result<Frame<'_>, TransportError>) -> Option<(TransportErrorCode, u64)> {
        r.err().map(|e| (e.code, e.frame_type.unwrap_or(u64::MAX)))
    }

    const ENC: TransportErrorCode = TransportErrorCode::FRAME_ENCODING_ERROR;

    fn ncid_bytes(cid_len: u8, seq: u8, rpt: u8) -> ([u8; 64], usize) {
        let mut buf = [0u8; 64];
        let head = [0x18, seq, rpt, cid_len];
        buf[..4].copy_from_slice(&head);
        let n = 4 + usize::from(cid_len) + RESET_TOKEN_LEN;
        for (i, b) in buf[4..n].iter_mut().enumerate() {
            *b = i as u8;
        }
        (buf, n)
    }

    #[test]
    fn new_connection_id_round_trip() -> Result<(), TransportError> {
        for len in 1..=20u8 {
            let (buf, n) = ncid_bytes(len, 7, 3);
            let frame = decode(&buf[..n])?;
            let Frame::NewConnectionId(ncid) = frame else {
                assert!(matches!(frame, Frame::NewConnectionId(_)));
                continue;
            };
            assert_eq!(ncid.sequence, VarInt::from_u32(7));
            assert_eq!(ncid.retire_prior_to, VarInt::from_u32(3));
            assert_eq!(ncid.id.len(), usize::from(len));
            assert_eq!(ncid.encoded_size(), n);
            let mut out = [0u8; 64];
            let mut w = Writer::new(&mut out);
            assert_eq!(ncid.encode(&mut w), Ok(()));
            assert_eq!(w.written(), &buf[..n]);
        }
        Ok(())
    }

    #[test]
    fn new_connection_id_malformed() {
        for len in [0u8, 21, 255] {
            let (buf, _) = ncid_bytes(0, 1, 0);
            let mut bad = buf;
            bad[3] = len;
            assert_eq!(code_and_type(decode(&bad)), Some((ENC, 0x18)));
        }
        // Retire Prior To above the sequence number.
        let (buf, n) = ncid_bytes(8, 3, 4);
        assert_eq!(code_and_type(decode(&buf[..n])), Some((ENC, 0x18)));
        // Equal is fine.
        let (buf, n) = ncid_bytes(8, 4, 4);
        assert!(decode(&buf[..n]).is_ok());
        // Truncated anywhere, including inside the reset token.
        for cut in 1..n {
            assert_eq!(code_and_type(decode(&buf[..cut])), Some((ENC, 0x18)));
        }
    }

    #[test]
    fn connection_close_both_types() -> Result<(), TransportError> {
        let transport = [0x1c, 0x0a, 0x06, 3, b'b', b'a', b'd'];
        let app = [0x1d, 0x40, 0x80, 0];
        assert_eq!(
            decode(&transport)?,
            Frame::ConnectionClose(ConnectionClose {
                error_code: VarInt::from_u32(0x0a),
                frame_type: Some(VarInt::from_u32(6)),
                reason: b"bad",
            })
        );
        let close = ConnectionClose::application(VarInt::from_u32(0x80), b"");
        assert_eq!(decode(&app)?, Frame::ConnectionClose(close));
        assert!(close.is_application());
        assert_eq!(close.ty(), FrameType::APPLICATION_CLOSE);
        for cut in 1..transport.len() {
            assert_eq!(code_and_type(decode(&transport[..cut])), Some((ENC, 0x1c)));
        }
        for cut in 1..app.len() {
            assert_eq!(code_and_type(decode(&app[..cut])), Some((ENC, 0x1d)));
        }
        Ok(())
    }

    #[test]
    fn connection_close_from_error() {
        let err = TransportError::frame_encoding("oops").with_frame(0x18);
        let close = ConnectionClose::transport(&err);
        assert_eq!(close.error_code, VarInt::from_u32(7));
        assert_eq!(close.frame_type, Some(VarInt::from_u32(0x18)));
        assert_eq!(close.reason, b"oops");
        let mut buf = [0u8; 16];
        let mut w = Writer::new(&mut buf);
        assert_eq!(close.encode(&mut w), Ok(()));
        assert_eq!(w.written(), &[0x1c, 7, 0x18, 4, b'o', b'o', b'p', b's']);
    }

    #[test]
    fn reason_truncation_keeps_utf8() {
        // "aé€" is 1 + 2 + 3 bytes.
        let reason = "a\u{e9}\u{20ac}".as_bytes();
        let close = ConnectionClose::application(VarInt::ZERO, reason);
        assert_eq!(close.encoded_size(), 3 + 6);
        assert_eq!(close.truncated_to(9).map(|c| c.reason), Some(reason));
        // One byte short cuts inside the euro sign: back to "aé".
        assert_eq!(close.truncated_to(8).map(|c| c.reason.len()), Some(3));
        assert_eq!(close.truncated_to(6).map(|c| c.reason.len()), Some(3));
        assert_eq!(close.truncated_to(5).map(|c| c.reason.len()), Some(1));
        assert_eq!(close.truncated_to(3).map(|c| c.reason.len()), Some(0));
        assert_eq!(close.truncated_to(2), None);
    }
}
