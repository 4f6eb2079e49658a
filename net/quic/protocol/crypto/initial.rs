// SPDX-License-Identifier: GPL-2.0

//! Initial packet keys (RFC 9001 §5.2, RFC 9369 §3.3.1).
//!
//! Initial packets are protected with keys any observer can compute: the
//! secret is HKDF-Extract of a per-version salt and the Destination
//! Connection ID of the client's first Initial packet, expanded with "client
//! in" and "server in". The cipher suite is always AES-128-GCM with SHA-256.

use crate::protocol::crypto::schedule::{hkdf_expand_label, Keys};
use crate::protocol::crypto::{CipherSuite, CryptoError, HashAlgorithm, Provider, Secret, Side};
use crate::protocol::packet::version::Version;

/// The cipher suite of Initial packets.
pub const INITIAL_SUITE: CipherSuite = CipherSuite::Aes128GcmSha256;

/// The Initial salt of version 1 (RFC 9001 §5.2).
pub const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];

/// The Initial salt of version 2 (RFC 9369 §3.3.1).
pub const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];

/// The Initial salt of `version`.
pub const fn salt(version: Version) -> Result<&'static [u8; 20], CryptoError> {
    match version {
        Version::V1 => Ok(&SALT_V1),
        Version::V2 => Ok(&SALT_V2),
        _ => Err(CryptoError::UnsupportedVersion),
    }
}

/// The client and server Initial secrets.
#[derive(Debug)]
pub struct InitialSecrets {
    /// Protects what the client sends.
    pub client: Secret,
    /// Protects what the server sends.
    pub server: Secret,
}

impl InitialSecrets {
    /// Derives the Initial secrets from `client_dcid`, the Destination
    /// Connection ID of the client's first Initial packet (or the one a Retry
    /// told it to use).
    //= https://www.rfc-editor.org/rfc/rfc9001#section-5.2
    //# initial_secret = HKDF-Extract(initial_salt,
    //#                               client_dst_connection_id)
    pub fn new<P: Provider>(
        provider: &P,
        version: Version,
        client_dcid: &[u8],
    ) -> Result<Self, CryptoError> {
        let salt = salt(version)?;
        let hash = HashAlgorithm::Sha256;
        let mut initial = Secret::zeroed(hash);
        provider.hkdf_extract(hash, salt, client_dcid, initial.as_mut_bytes())?;
        let mut client = Secret::zeroed(hash);
        hkdf_expand_label(provider, &initial, b"client in", &[], client.as_mut_bytes())?;
        let mut server = Secret::zeroed(hash);
        hkdf_expand_label(provider, &initial, b"server in", &[], server.as_mut_bytes())?;
        Ok(Self { client, server })
    }

    /// The secrets `side` sends and receives with, in that order.
    pub fn for_side(&self, side: Side) -> (&Secret, &Secret) {
        match side {
            Side::Client => (&self.client, &self.server),
            Side::Server => (&self.server, &self.client),
        }
    }
}

/// The Initial keys of `side` for a connection whose client chose
/// `client_dcid`.
pub fn initial_keys<P: Provider>(
    provider: &P,
    version: Version,
    client_dcid: &[u8],
    side: Side,
) -> Result<Keys<P>, CryptoError> {
    let secrets = InitialSecrets::new(provider, version, client_dcid)?;
    let (local, remote) = secrets.for_side(side);
    Keys::new(provider, version, INITIAL_SUITE, local, remote)
}

#[cfg(any(test, CONFIG_IP_QUIC_KUNIT_TEST))]
#[cfg_attr(not(test), kernel::macros::kunit_tests(quic_crypto_initial))]
mod tests {
    use super::*;
    use crate::protocol::crypto::null::NullProvider;
    use crate::protocol::crypto::PacketKey;

    const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

    #[test]
    fn client_and_server_mirror() -> Result<(), CryptoError> {
        let client = initial_keys(&NullProvider, Version::V1, &DCID, Side::Client)?;
        let server = initial_keys(&NullProvider, Version::V1, &DCID, Side::Server)?;
        assert_eq!(client.local.packet, server.remote.packet);
        assert_eq!(client.remote.header, server.local.header);
        assert!(client.local.packet != client.remote.packet);
        assert_eq!(client.local.packet.suite(), INITIAL_SUITE);
        Ok(())
    }

    #[test]
    fn depends_on_version_and_dcid() -> Result<(), CryptoError> {
        let v1 = InitialSecrets::new(&NullProvider, Version::V1, &DCID)?;
        let v2 = InitialSecrets::new(&NullProvider, Version::V2, &DCID)?;
        let other = InitialSecrets::new(&NullProvider, Version::V1, &DCID[..7])?;
        assert!(v1.client != v2.client);
        assert!(v1.client != other.client);
        assert!(v1.client != v1.server);
        assert_eq!(
            InitialSecrets::new(&NullProvider, Version(0xbabababa), &DCID).err(),
            Some(CryptoError::UnsupportedVersion)
        );
        Ok(())
    }
}
