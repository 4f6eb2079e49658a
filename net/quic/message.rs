// SPDX-License-Identifier: GPL-2.0

//! sendmsg(2) and recvmsg(2) on a QUIC socket (draft-lxin-quic-socket-apis
//! §4): TLS handshake messages with a `QUIC_HANDSHAKE_INFO` control
//! message, stream data with `QUIC_STREAM_INFO`, and datagrams with
//! `MSG_QUIC_DATAGRAM`.
//!
//! Data moves between user memory and a kernel buffer with only the
//! socket lock held (copying may fault and sleep); the connection's
//! spinlock is taken around each call into the core. A blocking call
//! waits on the socket with [`SockGuard::wait`], woken by the connection's
//! events ([`crate::conn::ConnState::flush`]).
//!
//! [`SockGuard::wait`]: kernel::net::sock::SockGuard::wait

use crate::{
    clock,
    conn::{with_conn, ConnState, QuicConnection},
    protocol::{
        connection::{tls::TlsError, DatagramError},
        crypto::Level,
        stream::{StreamError, StreamId},
        time::Instant,
    },
    socket::{Quic, SOL_QUIC},
    sockopt::{dir_of, encode_stream_info, level_of, stream_info, uapi_level, STREAM_INFO_LEN},
};
use kernel::{
    bindings,
    net::{
        msg::{RecvMsg, SendMsg},
        protocol::{poll, ProtoSock},
    },
    prelude::*,
    uapi,
};

/// Bytes copied from or to user memory per step.
const CHUNK: usize = 64 * 1024;

/// The largest handshake message accepted in one sendmsg(2).
const HANDSHAKE_MAX: usize = 64 * 1024;

const STREAM_NEW: u32 = uapi::quic_msg_flags_MSG_QUIC_STREAM_NEW;
const STREAM_FIN: u32 = uapi::quic_msg_flags_MSG_QUIC_STREAM_FIN;
const STREAM_DONTWAIT: u32 = uapi::quic_msg_flags_MSG_QUIC_STREAM_DONTWAIT;
const DATAGRAM: u32 = uapi::quic_msg_flags_MSG_QUIC_DATAGRAM;

/// What a sendmsg(2) carries.
enum Kind {
    Handshake(Level),
    Stream { id: i64, flags: u32 },
    Datagram,
}

/// The errno of a refused stream operation.
pub(crate) fn stream_error(e: StreamError) -> Error {
    match e {
        StreamError::UnknownStream | StreamError::InvalidState => EINVAL,
        StreamError::Blocked | StreamError::StreamLimit => EAGAIN,
        StreamError::Stopped(_) => EPIPE,
        StreamError::Reset(_) => ECONNRESET,
        StreamError::OutOfMemory => ENOMEM,
    }
}

fn tls_error(e: TlsError) -> Error {
    match e {
        TlsError::Closed => EPIPE,
        TlsError::AwaitingRestart => EAGAIN,
        TlsError::OutOfMemory => ENOMEM,
        TlsError::InvalidLevel | TlsError::InvalidSecret(_) => EINVAL,
    }
}

/// Opens a stream for `QUIC_SOCKOPT_STREAM_OPEN` or `MSG_QUIC_STREAM_NEW`:
/// the next one of the direction in `flags` for ID -1, else `id` (and the
/// lower ones of its type).
pub(crate) fn open_stream(conn: &mut QuicConnection, id: i64, flags: u32) -> Result<StreamId> {
    if id == -1 {
        return conn.stream_open(dir_of(flags)).map_err(stream_error);
    }
    let id = StreamId::from_u64(u64::try_from(id).map_err(|_| EINVAL)?).ok_or(EINVAL)?;
    conn.stream_open_id(id).map_err(stream_error)?;
    Ok(id)
}

/// The stream a write goes to: `id` (opened first with
/// `MSG_QUIC_STREAM_NEW`, or if it is ours and not open yet), or the one
/// last written to for -1.
fn stream_for(state: &mut ConnState, id: i64, flags: u32) -> Result<StreamId> {
    let sid = if id == -1 && flags & STREAM_NEW == 0 {
        match state.last_stream {
            Some(s) => s,
            None => open_stream(&mut state.conn, -1, flags)?,
        }
    } else if flags & STREAM_NEW != 0 {
        match open_stream(&mut state.conn, id, flags) {
            Ok(s) => s,
            // Already open: write to it.
            Err(e) if e == EINVAL && id != -1 => StreamId::from_u64(id as u64).ok_or(EINVAL)?,
            Err(e) => return Err(e),
        }
    } else {
        StreamId::from_u64(u64::try_from(id).map_err(|_| EINVAL)?).ok_or(EINVAL)?
    };
    state.last_stream = Some(sid);
    Ok(sid)
}

/// Reads the one `SOL_QUIC` control message of `msg`, if any.
fn kind_of(msg: &SendMsg<'_>) -> Result<Option<Kind>> {
    let mut kind = None;
    for c in msg.cmsgs()?.iter() {
        let c = c?;
        if c.level != SOL_QUIC {
            continue;
        }
        // "Only one such type of ancillary data is allowed per sendmsg()".
        if kind.is_some() {
            return Err(EINVAL);
        }
        kind = Some(match u32::try_from(c.ty).map_err(|_| EINVAL)? {
            uapi::quic_cmsg_type_QUIC_HANDSHAKE_INFO => {
                let [level] = <[u8; 1]>::try_from(c.data).map_err(|_| EINVAL)?;
                Kind::Handshake(level_of(level).ok_or(EINVAL)?)
            }
            uapi::quic_cmsg_type_QUIC_STREAM_INFO => {
                let info = c.data.get(..STREAM_INFO_LEN).ok_or(EINVAL)?;
                let info = <&[u8; STREAM_INFO_LEN]>::try_from(info).map_err(|_| EINVAL)?;
                let (id, flags) = stream_info(info);
                Kind::Stream { id, flags }
            }
            _ => return Err(EINVAL),
        });
    }
    Ok(kind)
}

/// sendmsg(2).
pub(crate) fn send(sk: &ProtoSock<Quic>, msg: &mut SendMsg<'_>) -> Result<usize> {
    let flags = msg.flags();
    let kind = match kind_of(msg)? {
        Some(k) => k,
        None if flags & DATAGRAM != 0 => Kind::Datagram,
        None => Kind::Stream {
            id: -1,
            flags: flags & (STREAM_NEW | STREAM_FIN | uapi::quic_msg_flags_MSG_QUIC_STREAM_UNI),
        },
    };
    match kind {
        Kind::Handshake(level) => send_handshake(sk, msg, level),
        Kind::Datagram => send_datagram(sk, msg),
        Kind::Stream { id, flags: sflags } => {
            send_stream(sk, msg, id, sflags | (flags & STREAM_FIN))
        }
    }
}

/// Copies the whole of a short message in.
fn copy_in(msg: &mut SendMsg<'_>, max: usize) -> Result<KVec<u8>> {
    let len = msg.len();
    if len > max {
        return Err(EMSGSIZE);
    }
    let mut buf = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    let n = msg.copy_from(&mut buf);
    if n != len {
        return Err(EFAULT);
    }
    Ok(buf)
}

fn send_handshake(sk: &ProtoSock<Quic>, msg: &mut SendMsg<'_>, level: Level) -> Result<usize> {
    let buf = copy_in(msg, HANDSHAKE_MAX)?;
    with_conn(sk, |state, _| {
        let n = state.conn.crypto_send(level, &buf).map_err(tls_error)?;
        // The CRYPTO send buffer holds a whole TLS flight.
        if n < buf.len() {
            return Err(ENOBUFS);
        }
        Ok(n)
    })
}

fn send_datagram(sk: &ProtoSock<Quic>, msg: &mut SendMsg<'_>) -> Result<usize> {
    let buf = copy_in(msg, CHUNK)?;
    with_conn(sk, |state, _| {
        state.conn.datagram_send(&buf).map_err(|e| match e {
            DatagramError::TooLarge => EMSGSIZE,
            DatagramError::Blocked => EAGAIN,
            DatagramError::OutOfMemory => ENOMEM,
        })?;
        Ok(buf.len())
    })
}

/// Writes `msg` to a stream, waiting for send buffer and flow control
/// credit unless the call is non-blocking. Returns the bytes taken.
fn send_stream(sk: &ProtoSock<Quic>, msg: &mut SendMsg<'_>, id: i64, sflags: u32) -> Result<usize> {
    let nonblock = msg.nonblocking() || sflags & STREAM_DONTWAIT != 0;
    let fin = sflags & STREAM_FIN != 0;
    let total = msg.len();
    let mut timeo = sk.snd_timeout(nonblock);
    let mut guard = sk.lock();
    let sid = with_conn(sk, |state, _| stream_for(state, id, sflags))?;
    if total == 0 {
        if fin {
            with_conn(sk, |state, _| {
                state.conn.stream_finish(sid).map_err(stream_error)
            })?;
        }
        return Ok(0);
    }
    let mut buf = KVec::new();
    let mut off = 0;
    let mut sent = 0;
    while sent < total {
        if off == buf.len() {
            let n = (total - sent).min(CHUNK);
            buf.clear();
            buf.resize(n, 0, GFP_KERNEL)?;
            if msg.copy_from(&mut buf) != n {
                return if sent > 0 { Ok(sent) } else { Err(EFAULT) };
            }
            off = 0;
        }
        let last = sent + (buf.len() - off) == total;
        let taken = with_conn(sk, |state, _| {
            match state.conn.stream_write(sid, &buf[off..], fin && last) {
                Ok(n) => Ok(n),
                Err(StreamError::Blocked) => Ok(0),
                Err(e) => Err(stream_error(e)),
            }
        });
        let taken = match taken {
            Ok(n) => n,
            Err(e) => return if sent > 0 { Ok(sent) } else { Err(e) },
        };
        off += taken;
        sent += taken;
        if taken > 0 {
            continue;
        }
        let waited = guard.wait(&mut timeo, |_| {
            let mut slot = sk.data().conn.lock();
            let state = (*slot).as_mut().ok_or(ENOTCONN)?;
            if let Some(e) = sk.take_error() {
                return Err(e);
            }
            if state.conn.is_closed() {
                return Err(EPIPE);
            }
            Ok(state.conn.stream_writable(sid) > 0)
        });
        if let Err(e) = waited {
            return match (sent, e) {
                (0, e) if e == ETIMEDOUT => Err(EAGAIN),
                (0, e) => Err(e),
                (n, _) => Ok(n),
            };
        }
    }
    Ok(sent)
}

/// What a recvmsg(2) read.
enum Got {
    Handshake(Level, usize),
    Stream(StreamId, usize, bool),
    Datagram(usize),
    Eof,
}

/// Reads what is there, in this order: handshake data, datagrams, stream
/// data; the end of the connection last.
fn read_one(sk: &ProtoSock<Quic>, buf: &mut [u8]) -> Result<Option<Got>> {
    let now = clock::now();
    let mut slot = sk.data().conn.lock();
    let state = (*slot).as_mut().ok_or(ENOTCONN)?;
    let got = read_conn(state, now, buf)?;
    if got.is_some() {
        state.flush(sk, now);
        return Ok(got);
    }
    // What is left to read went first; then the error, once.
    if let Some(e) = sk.take_error() {
        return Err(e);
    }
    if state.conn.is_closed() {
        return Ok(Some(Got::Eof));
    }
    Ok(None)
}

fn read_conn(state: &mut ConnState, now: Instant, buf: &mut [u8]) -> Result<Option<Got>> {
    let conn = &mut state.conn;
    for level in [Level::Initial, Level::Handshake, Level::OneRtt] {
        if conn.crypto_readable(level) > 0 {
            let n = conn.crypto_recv(level, buf).map_err(tls_error)?;
            return Ok(Some(Got::Handshake(level, n)));
        }
    }
    if let Some(n) = conn.datagram_recv(buf) {
        return Ok(Some(Got::Datagram(n)));
    }
    while let Some(id) = conn.stream_readable() {
        match conn.stream_read(now, id, buf) {
            Ok(r) => return Ok(Some(Got::Stream(id, r.len, r.fin))),
            Err(StreamError::Blocked) => continue,
            Err(e) => return Err(stream_error(e)),
        }
    }
    Ok(None)
}

/// Whether recvmsg(2) would find something (or the end).
fn readable(conn: &mut QuicConnection) -> bool {
    [Level::Initial, Level::Handshake, Level::OneRtt]
        .into_iter()
        .any(|l| conn.crypto_readable(l) > 0)
        || conn.datagram_readable().is_some()
        || conn.stream_readable().is_some()
        || conn.is_closed()
}

/// recvmsg(2).
pub(crate) fn recv(sk: &ProtoSock<Quic>, msg: &mut RecvMsg<'_>, flags: u32) -> Result<usize> {
    let nonblock = flags & bindings::MSG_DONTWAIT != 0;
    let mut timeo = sk.rcv_timeout(nonblock);
    let mut buf = KVec::from_elem(0u8, msg.len().min(CHUNK), GFP_KERNEL)?;
    let mut guard = sk.lock();
    let got = loop {
        if let Some(got) = read_one(sk, &mut buf)? {
            break got;
        }
        let waited = guard.wait(&mut timeo, |_| {
            let mut slot = sk.data().conn.lock();
            Ok(sk.has_error() || (*slot).as_mut().is_none_or(|s| readable(&mut s.conn)))
        });
        match waited {
            Ok(()) => {}
            Err(e) if e == ETIMEDOUT => return Err(EAGAIN),
            Err(e) => return Err(e),
        }
    };
    drop(guard);
    match got {
        Got::Handshake(level, n) => {
            copy_out(msg, &buf[..n])?;
            msg.put_cmsg(
                SOL_QUIC,
                uapi::quic_cmsg_type_QUIC_HANDSHAKE_INFO as i32,
                &[uapi_level(level)],
            )?;
            Ok(n)
        }
        Got::Stream(id, n, fin) => {
            copy_out(msg, &buf[..n])?;
            let sflags = if fin { STREAM_FIN } else { 0 };
            let info = encode_stream_info(id.into_inner() as i64, sflags);
            msg.put_cmsg(
                SOL_QUIC,
                uapi::quic_cmsg_type_QUIC_STREAM_INFO as i32,
                &info,
            )?;
            if fin {
                msg.add_flags(STREAM_FIN);
            }
            Ok(n)
        }
        Got::Datagram(n) => {
            copy_out(msg, &buf[..n])?;
            msg.add_flags(DATAGRAM);
            Ok(n)
        }
        Got::Eof => Ok(0),
    }
}

fn copy_out(msg: &mut RecvMsg<'_>, data: &[u8]) -> Result {
    if msg.copy_to(data) != data.len() {
        return Err(EFAULT);
    }
    Ok(())
}

/// poll(2)'s mask for a socket with a connection.
pub(crate) fn poll_mask(conn: &mut QuicConnection) -> u32 {
    let mut mask = 0;
    if readable(conn) {
        mask |= poll::IN | poll::RDNORM;
    }
    if conn.is_closed() {
        mask |= poll::HUP | poll::RDHUP;
    } else {
        mask |= poll::OUT | poll::WRNORM;
    }
    mask
}
