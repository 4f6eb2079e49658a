// SPDX-License-Identifier: GPL-2.0

//! quic-echo: a QUIC echo client and server over IPPROTO_QUIC sockets,
//! using the library's handshake and the `quic_sendmsg`/`quic_recvmsg`
//! equivalents. Needs the kernel's QUIC socket support.
//!
//! ```text
//! quic-echo server ADDR:PORT KEY.pem CERT.pem [ALPNS]
//! quic-echo client ADDR:PORT [ALPNS] [--ca CA.pem | --insecure] [--name HOST] [MESSAGE]
//! ```
//!
//! The server echoes each client-initiated stream back on the same stream
//! until the client's FIN, then serves the next connection. The client
//! sends MESSAGE on stream 0 with FIN and prints the echo.

use quic::fd::QuicSocket;
use quic::handshake::DEFAULT_TIMEOUT;
use quic::ticket::kernel_ticketer;
use quic::tls::{client_config, parse_alpns, server_config, Verification};
use quic::uapi::{MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_NEW};
use quic::{client_handshake, server_handshake};
use rustls::pki_types::ServerName;
use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn usage() -> ExitCode {
    eprintln!("usage: quic-echo server ADDR:PORT KEY.pem CERT.pem [ALPNS]");
    eprintln!("       quic-echo client ADDR:PORT [ALPNS] [--ca CA.pem | --insecure] [--name HOST] [MESSAGE]");
    ExitCode::from(2)
}

fn server(args: &[String]) -> Result<()> {
    let [addr, key, cert, rest @ ..] = args else {
        return Err("missing arguments".into());
    };
    let addr: SocketAddr = addr.parse()?;
    let alpn = rest.first().map(String::as_str);
    let mut config = server_config(
        key.as_ref(),
        cert.as_ref(),
        &parse_alpns(alpn.unwrap_or("")),
        0,
    )?;
    let listener = QuicSocket::listen(addr, alpn)?;
    if let Some(ticketer) = kernel_ticketer(&listener.socket())? {
        config.ticketer = ticketer;
    }
    loop {
        let conn = listener.accept()?;
        let sock = conn.socket();
        match server_handshake(sock, &config, DEFAULT_TIMEOUT) {
            Ok(n) => eprintln!("handshake done: {n:?}"),
            Err(e) => {
                eprintln!("handshake failed: {e}");
                continue;
            }
        }
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, sid, flags) = match sock.recv_stream(&mut buf, 0) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("recv: {e}");
                    break;
                }
            };
            if sid < 0 {
                if n == 0 {
                    // End of file: the client closed.
                    break;
                }
                continue;
            }
            let fin = flags & MSG_QUIC_STREAM_FIN;
            sock.send_stream(&buf[..n], sid, fin)?;
            if fin != 0 {
                break;
            }
        }
    }
}

fn client(args: &[String]) -> Result<()> {
    let Some((addr, mut rest)) = args.split_first() else {
        return Err("missing address".into());
    };
    let addr: SocketAddr = addr.parse()?;
    let mut alpns = Vec::new();
    let mut verification = Verification::SystemRoots;
    let mut name = None;
    let mut message = "hello quic".to_string();
    let mut positional = 0;
    while let Some((arg, tail)) = rest.split_first() {
        rest = tail;
        match arg.as_str() {
            "--insecure" => verification = Verification::InsecureNoVerification,
            "--ca" | "--name" => {
                let Some((v, tail)) = rest.split_first() else {
                    return Err(format!("{arg} needs a value").into());
                };
                rest = tail;
                if arg == "--ca" {
                    verification = Verification::CaFile(PathBuf::from(v));
                } else {
                    name = Some(v.clone());
                }
            }
            _ if positional == 0 => {
                alpns = parse_alpns(arg);
                positional += 1;
            }
            _ => message = arg.clone(),
        }
    }
    let config = client_config(&verification, &alpns, 0)?;
    let conn = QuicSocket::connect(addr)?;
    let server_name = match name {
        Some(n) => ServerName::try_from(n)?,
        None => ServerName::IpAddress(addr.ip().into()),
    };
    let n = client_handshake(conn.socket(), &config, server_name, DEFAULT_TIMEOUT)?;
    eprintln!("handshake done: {n:?}");
    let sock = conn.socket();
    sock.send_stream(
        message.as_bytes(),
        0,
        MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN,
    )?;
    let mut echo = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, sid, flags) = sock.recv_stream(&mut buf, 0)?;
        if n == 0 && sid < 0 {
            return Err("the server closed before the whole echo came back".into());
        }
        if sid == 0 {
            echo.extend_from_slice(&buf[..n]);
            if flags & MSG_QUIC_STREAM_FIN != 0 {
                break;
            }
        }
    }
    println!("{}", String::from_utf8_lossy(&echo));
    if echo != message.as_bytes() {
        return Err("echo differs".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        return usage();
    };
    let r = match mode.as_str() {
        "server" => server(rest),
        "client" => client(rest),
        _ => return usage(),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quic-echo: {e}");
            ExitCode::FAILURE
        }
    }
}
