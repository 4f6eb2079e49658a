// SPDX-License-Identifier: GPL-2.0

//! The userspace TLS 1.3 handshake of Linux IPPROTO_QUIC sockets, with
//! rustls, and libquic's C API (`libquic.so`).
//!
//! The kernel runs QUIC; userspace runs TLS and talks to the kernel only
//! through the socket (`shared/spec/uapi-abi.md`, "Handshake contract with
//! userspace"): handshake bytes per crypto level with sendmsg/recvmsg and
//! the `QUIC_HANDSHAKE_INFO` cmsg, transport parameters and traffic
//! secrets with socket options.
//!
//! - [`uapi`]: the numbers and structures of `linux/quic.h` used here;
//! - [`socket`]: the [`Socket`] trait, exactly the operations the
//!   handshake needs;
//! - [`fd`]: [`Socket`] over a real descriptor (all the socket `unsafe`);
//! - [`handshake`]: the driver, generic over [`Socket`];
//! - [`tls`]: rustls configurations from PEM files; [`ticket`]: session
//!   tickets sealed with the kernel's ticket key;
//! - [`ffi`]: the C API, [`capi`]: its handshake logic over any
//!   [`Socket`]; [`log`]: its logging hooks.

pub mod capi;
pub mod fd;
pub mod ffi;
pub mod handshake;
pub mod log;
pub mod socket;
pub mod ticket;
pub mod tls;
pub mod uapi;

pub use handshake::{client_handshake, server_handshake, HandshakeError, Negotiated};
pub use socket::Socket;
