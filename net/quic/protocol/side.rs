// SPDX-License-Identifier: GPL-2.0

//! The two ends of a connection (RFC 9000 §1.2): the client starts it, the
//! server accepts it. Roles fix stream ID parity, key directions, which
//! transport parameters may be sent and who validates addresses.

/// Client or server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint that sends the first Initial packet; its stream IDs are
    /// even.
    Client = 0,
    /// The endpoint that accepts it; its stream IDs are odd.
    Server = 1,
}

impl Side {
    /// The other endpoint.
    pub const fn peer(self) -> Self {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// Whether this is the client.
    pub const fn is_client(self) -> bool {
        matches!(self, Side::Client)
    }

    /// Whether this is the server.
    pub const fn is_server(self) -> bool {
        matches!(self, Side::Server)
    }
}
