// SPDX-License-Identifier: GPL-2.0

//! The version_information transport parameter (RFC 9368 §3).
//!
//! ```text
//! Version Information {
//!   Chosen Version (32),
//!   Available Versions (32) ...,
//! }
//! ```
//!
//! The available versions are kept inline, up to
//! [`VersionInformation::MAX_AVAILABLE`]. Reserved versions (0x?a?a?a?a)
//! beyond that are dropped, since they are never selected; more real
//! versions than that are refused.

use crate::protocol::codec::{BufferTooShort, Reader, Writer};
use crate::protocol::error::TransportError;
use crate::protocol::transport_params::{param_error, Side};

/// Version Information: the sender's chosen version and the versions its
/// first flight is compatible with (client) or it fully supports (server).
///
/// # Invariants
///
/// `len as usize <= MAX_AVAILABLE`; entries past `len` are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionInformation {
    chosen: u32,
    available: [u32; Self::MAX_AVAILABLE],
    len: u8,
}

/// Whether `version` is reserved to exercise version negotiation
/// (RFC 9000 §15: the pattern 0x?a?a?a?a).
pub const fn is_reserved_version(version: u32) -> bool {
    version & 0x0f0f_0f0f == 0x0a0a_0a0a
}

impl VersionInformation {
    /// How many available versions are kept.
    pub const MAX_AVAILABLE: usize = 16;

    /// Version Information with `chosen` and `available`, or `None` if there
    /// are more than [`VersionInformation::MAX_AVAILABLE`] available versions.
    pub fn new(chosen: u32, available: &[u32]) -> Option<Self> {
        let mut out = Self {
            chosen,
            available: [0; Self::MAX_AVAILABLE],
            len: 0,
        };
        out.available
            .get_mut(..available.len())?
            .copy_from_slice(available);
        // INVARIANT: at most MAX_AVAILABLE (16) entries were copied.
        out.len = u8::try_from(available.len()).ok()?;
        Some(out)
    }

    /// The Chosen Version.
    pub fn chosen(&self) -> u32 {
        self.chosen
    }

    /// The Available Versions, in the order they were sent.
    pub fn available(&self) -> &[u32] {
        self.available
            .get(..usize::from(self.len))
            .unwrap_or_default()
    }

    /// Decodes the parameter's value.
    //= https://www.rfc-editor.org/rfc/rfc9368#section-4
    //# If that leads to a parsing failure (for example, if it is too short or if
    //# its length is not divisible by four), then the endpoint MUST close the
    //# connection;
    pub(crate) fn decode(value: &[u8]) -> Result<Self, TransportError> {
        let malformed = param_error("malformed version_information");
        if value.len() & 3 != 0 {
            return Err(malformed);
        }
        let mut r = Reader::new(value);
        let chosen = r.read_u32().map_err(|_| malformed)?;
        let mut out = Self {
            chosen,
            available: [0; Self::MAX_AVAILABLE],
            len: 0,
        };
        while !r.is_empty() {
            let version = r.read_u32().map_err(|_| malformed)?;
            if version == 0 {
                return Err(param_error("available version of zero"));
            }
            match out.available.get_mut(usize::from(out.len)) {
                Some(slot) => {
                    *slot = version;
                    // INVARIANT: a slot existed, so len < MAX_AVAILABLE.
                    out.len += 1;
                }
                None if is_reserved_version(version) => {}
                None => return Err(param_error("too many available versions")),
            }
        }
        Ok(out)
    }

    /// Checks the rules of RFC 9368 §4 that need no connection state.
    pub(crate) fn validate(&self, sender: Side) -> Result<(), TransportError> {
        //= https://www.rfc-editor.org/rfc/rfc9368#section-4
        //# If an endpoint receives a Chosen Version equal to zero, or any Available
        //# Version equal to zero, it MUST treat it as a parsing failure.
        if self.chosen == 0 || self.available().contains(&0) {
            return Err(param_error("version of zero"));
        }
        //= https://www.rfc-editor.org/rfc/rfc9368#section-4
        //# If a server receives Version Information where the Chosen Version is not
        //# included in Available Versions, it MUST treat it as a parsing failure.
        if sender == Side::Client && !self.available().contains(&self.chosen) {
            return Err(param_error("chosen version not available"));
        }
        Ok(())
    }

    /// The exact size of the encoded value.
    pub fn encoded_size(&self) -> usize {
        4 + 4 * self.available().len()
    }

    /// Writes the value. Fails without writing anything if `w` has less
    /// room than [`VersionInformation::encoded_size`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooShort> {
        if self.encoded_size() > w.remaining() {
            return Err(BufferTooShort);
        }
        w.put_u32(self.chosen)?;
        for &version in self.available() {
            w.put_u32(version)?;
        }
        Ok(())
    }
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(
    not(test),
    kernel::macros::kunit_tests(quic_transport_params_version_info)
)]
mod tests {
    use super::*;
    use crate::protocol::error::TransportErrorCode;

    const V1: u32 = 0x0000_0001;
    const V2: u32 = 0x6b33_43cf;
    const GREASE: u32 = 0x1a2a_3a4a;

    fn code<T>(r: Result<T, TransportError>) -> Option<TransportErrorCode> {
        r.err().map(|e| e.code)
    }

    #[test]
    fn round_trip() -> Result<(), TransportError> {
        let info = VersionInformation::new(V2, &[V2, V1, GREASE]);
        assert!(info.is_some());
        let Some(info) = info else { return Ok(()) };
        let mut buf = [0u8; 16];
        let mut w = Writer::new(&mut buf);
        assert_eq!(info.encode(&mut w), Ok(()));
        assert_eq!(w.len(), info.encoded_size());
        assert_eq!(
            w.written(),
            &[0x6b, 0x33, 0x43, 0xcf, 0x6b, 0x33, 0x43, 0xcf, 0, 0, 0, 1, 0x1a, 0x2a, 0x3a, 0x4a]
        );
        let back = VersionInformation::decode(&buf)?;
        assert_eq!(back, info);
        assert_eq!(back.chosen(), V2);
        assert_eq!(back.available(), &[V2, V1, GREASE]);
        assert_eq!(back.validate(Side::Client), Ok(()));
        Ok(())
    }

    #[test]
    fn parsing_failures() {
        let tpe = Some(TransportErrorCode::TRANSPORT_PARAMETER_ERROR);
        assert_eq!(code(VersionInformation::decode(&[])), tpe);
        assert_eq!(code(VersionInformation::decode(&[0, 0, 0])), tpe);
        assert_eq!(code(VersionInformation::decode(&[0, 0, 0, 1, 0, 0])), tpe);
        assert_eq!(
            code(VersionInformation::decode(&[0, 0, 0, 1, 0, 0, 0, 0])),
            tpe
        );
        // A chosen version of zero parses but does not validate.
        let zero = VersionInformation::decode(&[0, 0, 0, 0]);
        assert_eq!(zero.map(|i| code(i.validate(Side::Server))), Ok(tpe));
    }

    #[test]
    fn chosen_must_be_available_from_a_client() {
        let info = VersionInformation::new(V1, &[V2]);
        assert_eq!(info.map(|i| code(i.validate(Side::Client))), Some(tpe()));
        // A server's list need not hold its chosen version, and may be empty.
        assert_eq!(info.map(|i| i.validate(Side::Server)), Some(Ok(())));
        let empty = VersionInformation::new(V1, &[]);
        assert_eq!(empty.map(|i| i.validate(Side::Server)), Some(Ok(())));
        assert_eq!(empty.map(|i| code(i.validate(Side::Client))), Some(tpe()));
    }

    fn tpe() -> Option<TransportErrorCode> {
        Some(TransportErrorCode::TRANSPORT_PARAMETER_ERROR)
    }

    #[test]
    fn capacity() -> Result<(), TransportError> {
        let mut buf = [0u8; 4 + 4 * 20];
        buf[..4].copy_from_slice(&V1.to_be_bytes());
        for i in 0..20 {
            let v = if i < 16 { V1 + i as u32 } else { GREASE };
            buf[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_be_bytes());
        }
        // Sixteen real versions then four reserved ones: the reserved ones go.
        let info = VersionInformation::decode(&buf)?;
        assert_eq!(info.available().len(), 16);
        assert_eq!(info.validate(Side::Client), Ok(()));
        // A seventeenth real version is refused.
        buf[4 + 4 * 16..8 + 4 * 16].copy_from_slice(&V2.to_be_bytes());
        assert_eq!(code(VersionInformation::decode(&buf)), tpe());
        assert!(VersionInformation::new(V1, &[V1; 17]).is_none());
        assert!(VersionInformation::new(V1, &[V1; 16]).is_some());
        assert!(is_reserved_version(0xfafa_fafa) && !is_reserved_version(V2));
        Ok(())
    }
}
