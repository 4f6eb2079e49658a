// SPDX-License-Identifier: GPL-2.0

//! Data transfer between our client and server over rustls: bulk data
//! through a lossy, reordering link, many streams past the initial limit,
//! flow control, resets, and datagrams.

mod conn_common;

use conn_common::*;
use quic_protocol::protocol::connection::{Config, Event};
use quic_protocol::protocol::stream::{Dir, StreamError, StreamState};
use quic_protocol::protocol::varint::VarInt;
use std::time::Duration;

/// Writes all of `data` on `id`, running the pair while the send buffer is
/// full, then waits until the server has it all.
fn send_all(
    p: &mut Pair,
    id: quic_protocol::protocol::stream::StreamId,
    data: &[u8],
    within: Duration,
) {
    let mut sent = 0;
    let ok = p.run_until(within, |p| {
        if sent < data.len() {
            let n = p
                .client
                .conn
                .stream_write(id, &data[sent..], true)
                .unwrap_or(0);
            sent += n;
        }
        p.server_conn().is_some_and(|s| s.stream_data(id).is_some())
    });
    assert!(
        ok,
        "transfer did not finish: {sent} of {} written",
        data.len()
    );
}

/// 1 MB under 5% loss, 1% duplication and jitter that reorders: every byte
/// arrives once and in order, and loss recovery had to retransmit.
#[test]
fn bulk_transfer_under_loss_and_reordering() {
    let mut p = Pair::new(Setup {
        link: Link {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(15),
            loss_percent: 5,
            duplicate_percent: 1,
            mtu: 1500,
            ..Link::default()
        },
        seed: 7,
        ..Setup::default()
    });
    p.handshake();
    let data = pattern(1 << 20, 11);
    let id = p.client.conn.stream_open(Dir::Uni).unwrap();
    send_all(&mut p, id, &data, Duration::from_secs(120));
    assert_eq!(p.server().stream_data(id).unwrap(), &data[..]);
    // The sender's part reached Data Recvd once everything was acknowledged.
    let done = p.run_until(Duration::from_secs(30), |p| {
        p.client.events.iter().any(|e| {
            matches!(e, Event::StreamUpdate(u) if u.id == id && u.state == StreamState::SendRecvd)
        })
    });
    assert!(done);
    // With 5% loss some packets were declared lost and their data resent.
    let sent = p.datagrams_sent[0];
    assert!(sent > (1 << 20) / 1200, "{sent} datagrams");
}

/// The server allows 4 bidirectional streams at a time; the client opens
/// 40 one after another. Each new stream waits for MAX_STREAMS, which the
/// server sends as streams close.
#[test]
fn many_streams_beyond_the_initial_limit() {
    let mut server = Config::default();
    server.transport.initial_max_streams_bidi = VarInt::from_u32(4);
    let mut p = Pair::new(Setup {
        server,
        ..Setup::default()
    });
    p.handshake();
    let mut opened = Vec::new();
    let mut limited = 0;
    let ok = p.run_until(Duration::from_secs(60), |p| {
        while opened.len() < 40 {
            match p.client.conn.stream_open(Dir::Bi) {
                Ok(id) => {
                    let msg = format!("stream {}", opened.len());
                    p.client
                        .conn
                        .stream_write(id, msg.as_bytes(), true)
                        .unwrap();
                    opened.push(id);
                }
                Err(StreamError::StreamLimit) => {
                    limited += 1;
                    break;
                }
                Err(e) => panic!("open: {e:?}"),
            }
        }
        // The server answers each stream so that both halves close.
        let server = p.server();
        let done: Vec<u64> = server
            .received
            .iter()
            .filter(|(_, (_, fin))| *fin)
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            let sid = quic_protocol::protocol::stream::StreamId::from_u64(id).unwrap();
            let _ = server.conn.stream_write(sid, b"ok", true);
        }
        opened.len() == 40 && opened.iter().all(|id| p.client.stream_data(*id).is_some())
    });
    assert!(ok, "only {} streams completed", opened.len());
    assert!(limited > 0, "the stream limit never applied");
    assert!(p
        .client
        .events
        .iter()
        .any(|e| matches!(e, Event::MaxStreams { dir: Dir::Bi, .. })));
    for (i, id) in opened.iter().enumerate() {
        let expected = format!("stream {i}");
        assert_eq!(p.server().stream_data(*id).unwrap(), expected.as_bytes());
    }
}

/// A receiver that does not read blocks the sender at its window; once it
/// reads, MAX_STREAM_DATA and MAX_DATA let the rest through.
#[test]
fn flow_control_blocks_and_unblocks() {
    let mut server = Config::default();
    server.transport.initial_max_data = VarInt::from_u32(16 * 1024);
    server.transport.initial_max_stream_data_bidi_remote = VarInt::from_u32(8 * 1024);
    server.max_stream_window = 8 * 1024;
    server.max_data_window = 16 * 1024;
    let mut p = Pair::new(Setup {
        server,
        ..Setup::default()
    });
    p.handshake();
    p.server().reading = false;
    let data = pattern(100_000, 5);
    let id = p.client.conn.stream_open(Dir::Bi).unwrap();
    let n = p.client.conn.stream_write(id, &data, true).unwrap();
    assert_eq!(n, data.len());
    p.run_for(Duration::from_secs(2));
    // Nothing was read: no more than the stream window crossed the link.
    let server = p.server();
    let recv = server
        .conn
        .streams()
        .get(id)
        .and_then(|s| s.recv())
        .unwrap();
    assert!(!recv.peek().is_empty() && recv.peek().len() <= 8 * 1024);
    assert!(!server.received.contains_key(&id.into_inner()));
    // The client is blocked with most of the data still buffered.
    let send = p
        .client
        .conn
        .streams()
        .get(id)
        .and_then(|s| s.send())
        .unwrap();
    assert!(send.buffered() > 90_000, "{} buffered", send.buffered());
    p.server().reading = true;
    let ok = p.run_until(Duration::from_secs(30), |p| {
        p.server().stream_data(id).is_some()
    });
    assert!(ok, "transfer did not resume");
    assert_eq!(p.server().stream_data(id).unwrap(), &data[..]);
    assert!(
        p.client
            .events
            .iter()
            .any(|e| matches!(e, Event::StreamMaxData { .. }))
            || p.client
                .events
                .iter()
                .any(|e| matches!(e, Event::MaxData(_)))
    );
}

/// RESET_STREAM and STOP_SENDING: the client resets one stream, the
/// server asks the client to stop sending on another; both sides see the
/// application error codes.
#[test]
fn reset_and_stop_sending() {
    let mut p = Pair::new(Setup::default());
    p.handshake();
    let a = p.client.conn.stream_open(Dir::Bi).unwrap();
    let b = p.client.conn.stream_open(Dir::Bi).unwrap();
    p.client.conn.stream_write(a, b"partial", false).unwrap();
    p.client
        .conn
        .stream_write(b, b"more to come", false)
        .unwrap();
    p.run_until(Duration::from_secs(2), |p| {
        p.server_conn().is_some_and(|s| s.received.len() == 2)
    });
    p.client.conn.stream_reset(a, 0x77).unwrap();
    p.server().conn.stream_stop_sending(b, 0x99).unwrap();
    let ok = p.run_until(Duration::from_secs(5), |p| {
        p.server_conn()
            .is_some_and(|s| s.resets.iter().any(|r| *r == (a.into_inner(), 0x77)))
            && p.client
                .events
                .iter()
                .any(|e| matches!(e, Event::StreamUpdate(u) if u.id == b && u.errcode == 0x99))
    });
    assert!(ok, "reset or stop_sending not seen");
    // Writing on the stopped stream fails with the peer's code.
    assert!(matches!(
        p.client.conn.stream_write(b, b"x", false),
        Err(StreamError::Stopped(0x99))
            | Err(StreamError::InvalidState)
            | Err(StreamError::UnknownStream)
    ));
}

/// RFC 9221 datagrams both ways; a datagram larger than the peer's
/// max_datagram_frame_size is refused locally.
#[test]
fn datagrams() {
    let mut p = Pair::new(Setup::default());
    p.handshake();
    let max = p.client.conn.datagram_max_size().unwrap();
    assert!(max > 1000);
    p.client.conn.datagram_send(b"ping datagram").unwrap();
    p.server().conn.datagram_send(b"pong datagram").unwrap();
    assert!(p.client.conn.datagram_send(&vec![0u8; max + 1]).is_err());
    let ok = p.run_until(Duration::from_secs(2), |p| {
        !p.client.datagrams.is_empty() && p.server_conn().is_some_and(|s| !s.datagrams.is_empty())
    });
    assert!(ok);
    assert_eq!(p.server().datagrams[0], b"ping datagram");
    assert_eq!(p.client.datagrams[0], b"pong datagram");
    assert!(p.server().saw(&Event::DatagramReceived));
}

/// DPLPMTUD (RFC 8899, RFC 9000 §14.3): with discovery on, the path's
/// maximum datagram size grows from 1200 towards the link MTU after the
/// handshake is confirmed, and bulk data then uses larger datagrams.
#[test]
fn path_mtu_discovery() {
    let pmtud = quic_protocol::protocol::path::pmtud::PmtudConfig {
        max_datagram_size: 1500,
        probe_interval: Duration::from_secs(600),
    };
    let client = Config {
        pmtud,
        ..Config::default()
    };
    let mut p = Pair::new(Setup {
        client,
        link: Link {
            mtu: 1400,
            ..Link::default()
        },
        ..Setup::default()
    });
    p.handshake();
    let grown = p.run_until(Duration::from_secs(10), |p| {
        p.client.conn.paths().active().max_datagram_size() > 1300
    });
    assert!(
        grown,
        "PMTU stayed at {}",
        p.client.conn.paths().active().max_datagram_size()
    );
    let mds = p.client.conn.paths().active().max_datagram_size();
    // Probes above the link MTU were lost: the search stops below it.
    assert!(mds <= 1400, "{mds}");
    let data = pattern(100_000, 4);
    let id = p.client.conn.stream_open(Dir::Uni).unwrap();
    send_all(&mut p, id, &data, Duration::from_secs(30));
    assert_eq!(p.server().stream_data(id).unwrap(), &data[..]);
}

/// The connection's own size: its large parts are boxed, so that it (and
/// its constructors' frames) fit a kernel stack; see `stack_sizes.rs`.
#[test]
fn connection_size() {
    let size = std::mem::size_of::<Conn>();
    eprintln!("Connection: {size} bytes");
    assert!(size <= 1024, "{size} bytes");
}
