// SPDX-License-Identifier: GPL-2.0

//! Throughput of the protocol core's packet path on the host.
//!
//! Send: a STREAM frame sized by `StreamFrame::fit`, a 1-RTT short header,
//! AES-128-GCM payload protection and AES header protection (host-crypto's
//! RustCrypto provider), written into one reused buffer. Receive: header
//! decoding, header protection removal, packet number recovery, AES-128-GCM
//! open and frame iteration, optionally followed by stream reassembly and a
//! read of the data. Both for full-size packets (1200 and 1452-byte UDP
//! payloads), next to raw AES-128-GCM seal and open of the same payload
//! length on the same machine, which bound what the core can reach.
//!
//! Each figure is the median of several timed runs, in CPU time of the
//! benchmark thread (`CLOCK_THREAD_CPUTIME_ID`), so that other work on a
//! shared machine does not count; wall-clock throughput is printed too. A
//! counting allocator checks that the per-packet path does not allocate.
//! `--quick` runs fewer and shorter rounds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use quic_host_crypto::{Aead, HeaderProtection, RustCrypto};
use quic_protocol::protocol::cid::ConnectionId;
use quic_protocol::protocol::codec::Writer;
use quic_protocol::protocol::crypto::{CipherSuite, Iv, Provider, SAMPLE_LEN, TAG_LEN};
use quic_protocol::protocol::frame::{Frame, Frames, PacketKind, StreamFrame};
use quic_protocol::protocol::packet::header::{decode, DecodeParams, Packet, ShortHeader};
use quic_protocol::protocol::packet::number::PacketNumberLen;
use quic_protocol::protocol::packet::protection::seal;
use quic_protocol::protocol::stream::reassembly::Reassembler;
use quic_protocol::protocol::varint::VarInt;

/// Counts allocations, to show the per-packet path makes none.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const DCID_LEN: usize = 8;
const STREAM_ID: VarInt = VarInt::from_u32(4);

/// One direction's AES-128-GCM keys.
struct Keys {
    packet: Aead,
    header: HeaderProtection,
}

fn keys() -> Keys {
    let provider = RustCrypto;
    let suite = CipherSuite::Aes128GcmSha256;
    Keys {
        packet: provider
            .packet_key(suite, &[0x11; 16], Iv::new([0x22; 12]))
            .expect("AES-128-GCM key"),
        header: provider
            .header_key(suite, &[0x33; 16])
            .expect("AES header key"),
    }
}

fn dcid() -> ConnectionId {
    ConnectionId::from_slice(&[0xc1; DCID_LEN]).expect("8 bytes")
}

/// Builds and seals one 1-RTT packet of at most `buf.len()` bytes carrying
/// as much of `data` as fits at stream `offset`. Returns the packet length
/// and the stream bytes it carries.
fn send_packet(buf: &mut [u8], keys: &Keys, pn: u64, offset: u64, data: &[u8]) -> (usize, usize) {
    let room = buf.len();
    let mut w = Writer::new(buf);
    let header = ShortHeader {
        dcid: dcid(),
        pn,
        pn_len: PacketNumberLen::for_packet(pn, pn.checked_sub(16)),
        spin: false,
        key_phase: false,
        fixed_bit: true,
    };
    let layout = header.encode(&mut w).expect("short header");
    let offset = VarInt::from_u64(offset).expect("stream offset");
    let frame_room = room - layout.header_len() - TAG_LEN;
    let fit = StreamFrame::fit(STREAM_ID, offset, data.len(), frame_room, true).expect("fit");
    let frame = StreamFrame {
        stream_id: STREAM_ID,
        offset,
        fin: false,
        has_length: fit.has_length,
        data: &data[..fit.data_len],
    };
    frame.encode(&mut w).expect("STREAM frame");
    let pad = layout
        .min_payload_len(TAG_LEN, SAMPLE_LEN)
        .saturating_sub(w.len() - layout.header_len());
    w.reserve(pad + TAG_LEN).expect("tag room").fill(0);
    let len = w.len();
    seal(&mut buf[..len], &layout, &keys.packet, &keys.header).expect("seal");
    (len, fit.data_len)
}

/// What the receive path does after opening a packet.
#[derive(Clone, Copy, PartialEq)]
enum Recv {
    /// Iterate the frames only.
    Frames,
    /// Also reassemble the STREAM data and read it out.
    Reassemble,
}

/// Receives one packet in place; returns the stream bytes it delivered.
fn recv_packet(
    buf: &mut [u8],
    keys: &Keys,
    largest: u64,
    mode: Recv,
    stream: &mut (Reassembler, u64, Vec<u8>),
) -> usize {
    let params = DecodeParams {
        local_cid_len: DCID_LEN,
        accept_cleared_fixed_bit: false,
    };
    let Ok((Packet::Protected(p), _)) = decode(buf, &params) else {
        panic!("not a protected packet");
    };
    let p = p
        .remove_header_protection(&keys.header, Some(largest))
        .expect("header protection");
    let clear = p.decrypt(&keys.packet).expect("open");
    let mut delivered = 0;
    for frame in Frames::in_packet(clear.payload(), PacketKind::OneRtt) {
        if let Ok(Frame::Stream(s)) = frame {
            delivered += s.data.len();
            if mode == Recv::Reassemble {
                let (reasm, next, out) = stream;
                // A synthetic, always advancing offset: in-order delivery.
                reasm.insert(*next, s.data).expect("reassembly");
                *next += s.data.len() as u64;
                let n = reasm.read(out);
                black_box(&out[..n]);
            }
        }
    }
    delivered
}

/// CPU time used by this thread.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The medians of several timed runs.
struct Measured {
    /// Stream payload bytes per second of thread CPU time.
    bps: f64,
    /// Packets per second of thread CPU time.
    pps: f64,
    /// Stream payload bytes per second of wall-clock time.
    wall_bps: f64,
    /// Allocations per packet.
    allocs: f64,
}

/// Times `iters` calls of `f` (which returns stream payload bytes), `runs`
/// times, and returns the medians.
fn measure(runs: usize, iters: u64, mut f: impl FnMut(u64) -> usize) -> Measured {
    // Warm up.
    for i in 0..iters / 10 {
        black_box(f(i));
    }
    let allocs_before = ALLOCS.load(Ordering::Relaxed);
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    let mut bytes = 0usize;
    for r in 0..runs {
        let (start, start_cpu) = (Instant::now(), thread_cpu_time());
        bytes = 0;
        for i in 0..iters {
            bytes += f(r as u64 * iters + i);
        }
        cpu.push((thread_cpu_time() - start_cpu).as_secs_f64());
        wall.push(start.elapsed().as_secs_f64());
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs_before;
    cpu.sort_by(f64::total_cmp);
    wall.sort_by(f64::total_cmp);
    let (cpu, wall) = (cpu[runs / 2], wall[runs / 2]);
    Measured {
        bps: bytes as f64 / cpu,
        pps: iters as f64 / cpu,
        wall_bps: bytes as f64 / wall,
        allocs: allocs as f64 / (runs as u64 * iters) as f64,
    }
}

/// Enough iterations for a run of about `target`.
fn calibrate(target: Duration, mut f: impl FnMut(u64) -> usize) -> u64 {
    let mut n = 1000u64;
    loop {
        let start = Instant::now();
        for i in 0..n {
            black_box(f(i));
        }
        let t = start.elapsed();
        if t >= target / 4 {
            return (n as f64 * target.as_secs_f64() / t.as_secs_f64()).max(1000.0) as u64;
        }
        n *= 4;
    }
}

struct Row {
    what: &'static str,
    m: Measured,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (runs, target) = if quick {
        (3, Duration::from_millis(100))
    } else {
        (7, Duration::from_millis(400))
    };
    let data = vec![0x5au8; 1 << 16];
    println!(
        "QUIC packet path, AES-128-GCM (RustCrypto), median of {runs} runs of ~{} ms; \
         Gbit/s of STREAM payload on one core",
        target.as_millis()
    );
    for size in [1200usize, 1452] {
        let k = keys();
        let mut rows = Vec::new();

        // Send path.
        let mut buf = vec![0u8; size];
        let mut offset = 0u64;
        let mut send = |pn: u64| {
            let (_, n) = send_packet(&mut buf, &k, pn, offset % (1 << 40), &data[..4096]);
            offset += n as u64;
            black_box(&buf);
            n
        };
        let iters = calibrate(target, &mut send);
        let m = measure(runs, iters, &mut send);
        let payload = send(0);
        rows.push(Row {
            what: "core send",
            m,
        });

        // Raw AES-128-GCM seal of the same payload length (the packet's
        // plaintext payload, header as AAD).
        let aead = Aes128Gcm::new_from_slice(&[0x11; 16]).expect("key");
        let header_len = 1 + DCID_LEN + 2;
        let text_len = size - header_len - TAG_LEN;
        let aad = vec![0x40u8; header_len];
        let mut text = vec![0x5au8; text_len];
        let mut raw_seal = |i: u64| {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&i.to_be_bytes());
            let tag = aead
                .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut text)
                .expect("seal");
            black_box(tag);
            payload
        };
        let iters = calibrate(target, &mut raw_seal);
        let m = measure(runs, iters, &mut raw_seal);
        rows.push(Row {
            what: "raw AES-GCM seal",
            m,
        });

        // Receive path: a ring of sealed packets, copied into the receive
        // buffer (as a datagram lands in an skb) and opened in place.
        const RING: u64 = 256;
        let packets: Vec<Vec<u8>> = (0..RING)
            .map(|pn| {
                let mut p = vec![0u8; size];
                let (len, _) = send_packet(&mut p, &k, pn + 1000, pn * 4096, &data[..4096]);
                p.truncate(len);
                p
            })
            .collect();
        let mut rx = vec![0u8; size];
        let mut stream = (Reassembler::new(1 << 20), 0u64, vec![0u8; 4096]);
        for mode in [Recv::Frames, Recv::Reassemble] {
            let mut recv = |i: u64| {
                let p = &packets[(i % RING) as usize];
                let buf = &mut rx[..p.len()];
                buf.copy_from_slice(p);
                recv_packet(buf, &k, 999 + i % RING, mode, &mut stream)
            };
            let iters = calibrate(target, &mut recv);
            let m = measure(runs, iters, &mut recv);
            let what = match mode {
                Recv::Frames => "core receive",
                Recv::Reassemble => "core receive+reassembly",
            };
            rows.push(Row { what, m });
        }

        // Raw AES-128-GCM open of the same length, from a copied buffer.
        let mut sealed = vec![0x5au8; text_len];
        let nonce = [7u8; 12];
        let tag = aead
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut sealed)
            .expect("seal");
        let mut opened = vec![0u8; text_len];
        let mut raw_open = |_: u64| {
            opened.copy_from_slice(&sealed);
            aead.decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &aad,
                &mut opened,
                Tag::from_slice(&tag),
            )
            .expect("open");
            black_box(&opened);
            payload
        };
        let iters = calibrate(target, &mut raw_open);
        let m = measure(runs, iters, &mut raw_open);
        rows.push(Row {
            what: "raw AES-GCM open",
            m,
        });

        println!();
        println!(
            "{size}-byte UDP payload: {payload} bytes of stream data per packet, \
             AEAD over {text_len} bytes"
        );
        println!(
            "  {:<24} {:>8} {:>8} {:>12} {:>7} {:>7}",
            "path", "Gbit/s", "Mpkt/s", "wall Gbit/s", "allocs", "vs raw"
        );
        let raw_seal = rows[1].m.bps;
        let raw_open = rows[4].m.bps;
        for (i, r) in rows.iter().enumerate() {
            let ratio = match i {
                0 => format!("{:.2}", r.m.bps / raw_seal),
                2 | 3 => format!("{:.2}", r.m.bps / raw_open),
                _ => String::new(),
            };
            println!(
                "  {:<24} {:>8.2} {:>8.3} {:>12.2} {:>7.2} {:>7}",
                r.what,
                r.m.bps * 8e-9,
                r.m.pps * 1e-6,
                r.m.wall_bps * 8e-9,
                r.m.allocs,
                ratio
            );
        }
    }
    println!();
    println!(
        "Gbit/s and Mpkt/s per second of CPU time; allocs per packet; vs raw: core / raw \
         AES-128-GCM for the same stream payload."
    );
}
