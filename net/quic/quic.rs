// SPDX-License-Identifier: GPL-2.0

//! QUIC: a UDP-based multiplexed and secure transport (RFC 9000).
//!
//! `IPPROTO_QUIC` sockets over kernel UDP tunnels. The protocol logic is the
//! sans-I/O core in [`protocol`]; the rest of the crate is glue between the
//! core and the kernel's sockets, skbs, timers and crypto, all through safe
//! abstractions in `rust/kernel/`: this crate contains no `unsafe`.

#![forbid(unsafe_code)]

use kernel::{net::protocol::Registration, prelude::*};

mod clock;
mod conn;
pub mod crypto;
mod endpoint;
mod message;
pub mod protocol;
mod socket;
mod sockopt;
mod tunnel;

module! {
    type: QuicModule,
    name: "quic",
    authors: ["Linux QUIC developers"],
    description: "QUIC protocol (RFC 9000)",
    license: "GPL",
    params: {
        spin_bit: bool {
            default: true,
            description: "Take part in the latency spin bit (RFC 9000 section 17.4)",
        },
    },
}

#[pin_data]
struct QuicModule {
    #[pin]
    registration: Registration<socket::Quic>,
}

impl kernel::InPlaceModule for QuicModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            registration <- Registration::new(module, tunnel::TunnelRegistry::new()),
        })
    }
}
