// SPDX-License-Identifier: GPL-2.0

//! libquic's C API (`include/netinet/quic.h`), built into `libquic.so`.
//!
//! Return conventions are libquic's: the handshake functions return 0 or a
//! negative errno; `quic_sendmsg`/`quic_recvmsg` return a byte count, or -1
//! with `errno` set. Nothing unwinds across the boundary: every entry
//! point runs its body under `catch_unwind` and maps a panic to `-EIO`.
//!
//! The `unsafe` here is the C boundary itself (reading C strings and
//! caller buffers); the handshake functions' logic is in [`crate::capi`],
//! over any [`crate::Socket`]; socket calls are in [`crate::fd`].

use crate::capi;
use crate::fd::FdSocket;
use crate::log::{self, LogFunc};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic into `-EIO`.
fn guard(f: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(-libc::EIO)
}

/// Sets `errno` to `e` and returns -1.
fn fail(e: i32) -> isize {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = e };
    -1
}

/// A C string argument: `Ok(None)` for NULL, `Err(-EINVAL)` unless UTF-8.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string alive for `'a`.
unsafe fn c_str<'a>(p: *const c_char) -> Result<Option<&'a str>, c_int> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: guaranteed by the caller.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map(Some).map_err(|_| -libc::EINVAL)
}

/// Runs the client handshake on the connected socket `sd`, verifying the
/// server against the system's CA bundle as `hostname` (or, if NULL, as
/// the peer's IP address). `pkey_file` is libquic's PSK file and must be
/// NULL (PSK is not supported: `-EOPNOTSUPP`). `alpns` is NULL or a
/// comma-separated list. Returns 0 or a negative errno.
///
/// # Safety
///
/// Each string argument is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn quic_client_handshake(
    sd: c_int,
    pkey_file: *const c_char,
    hostname: *const c_char,
    alpns: *const c_char,
) -> c_int {
    guard(|| {
        // SAFETY: guaranteed by the caller.
        let args = unsafe { (c_str(pkey_file), c_str(hostname), c_str(alpns)) };
        match args {
            (Ok(p), Ok(h), Ok(a)) => {
                let sock = FdSocket::new(sd);
                capi::quic_client_handshake(sock, || sock.peer_addr().map(|a| a.ip()), p, h, a)
            }
            _ => -libc::EINVAL,
        }
    })
}

/// Runs the server handshake on the accepted socket `sd` with the private
/// key and certificate chain of two PEM files. A NULL `cert_file` is
/// libquic's PSK mode, not supported (`-EOPNOTSUPP`). `alpns` is NULL (use
/// the socket's ALPN) or a comma-separated list. Returns 0 or a negative
/// errno.
///
/// # Safety
///
/// Each string argument is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn quic_server_handshake(
    sd: c_int,
    pkey_file: *const c_char,
    cert_file: *const c_char,
    alpns: *const c_char,
) -> c_int {
    guard(|| {
        // SAFETY: guaranteed by the caller.
        let args = unsafe { (c_str(pkey_file), c_str(cert_file), c_str(alpns)) };
        match args {
            (Ok(k), Ok(c), Ok(a)) => capi::quic_server_handshake(FdSocket::new(sd), k, c, a),
            _ => -libc::EINVAL,
        }
    })
}

/// libquic's handshake over a caller-configured gnutls session. This
/// library is built on rustls and has no gnutls session to drive: always
/// `-EOPNOTSUPP`.
#[no_mangle]
pub extern "C" fn quic_handshake(_session: *mut c_void) -> c_int {
    -libc::EOPNOTSUPP
}

/// Sends `len` bytes of `msg` on stream `sid` with stream `flags`
/// (`MSG_QUIC_STREAM_*`). Returns the bytes sent, or -1 with errno set.
///
/// # Safety
///
/// `msg` is valid for reads of `len` bytes (or `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn quic_sendmsg(
    sd: c_int,
    msg: *const c_void,
    len: usize,
    sid: i64,
    flags: u32,
) -> isize {
    let data: &[u8] = if len == 0 {
        &[]
    } else if msg.is_null() {
        return fail(libc::EFAULT);
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(msg.cast(), len) }
    };
    catch_unwind(|| FdSocket::new(sd).send_stream(data, sid, flags))
        .unwrap_or_else(|_| Err(std::io::Error::from_raw_os_error(libc::EIO)))
        .map_or_else(
            |e| fail(e.raw_os_error().unwrap_or(libc::EIO)),
            |n| isize::try_from(n).unwrap_or(isize::MAX),
        )
}

/// Receives into `msg` (up to `len` bytes); `*flags` holds the recvmsg
/// flags on input and msg_flags plus the stream flags on output; `*sid`
/// the stream ID (-1 for a datagram or event). Either pointer may be NULL,
/// as with libquic (no input flags, nothing written back). Returns the
/// bytes received, or -1 with errno set.
///
/// # Safety
///
/// `msg` is valid for writes of `len` bytes; `sid` and `flags` are NULL
/// or valid, aligned pointers.
#[no_mangle]
pub unsafe extern "C" fn quic_recvmsg(
    sd: c_int,
    msg: *mut c_void,
    len: usize,
    sid: *mut i64,
    flags: *mut u32,
) -> isize {
    let buf: &mut [u8] = if len == 0 {
        &mut []
    } else if msg.is_null() {
        return fail(libc::EFAULT);
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(msg.cast(), len) }
    };
    // SAFETY: NULL or valid by the caller's guarantee.
    let in_flags = unsafe { flags.as_ref() }.copied().unwrap_or(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        FdSocket::new(sd).recv_stream(buf, in_flags)
    }))
    .unwrap_or_else(|_| Err(std::io::Error::from_raw_os_error(libc::EIO)));
    match r {
        Ok((n, s, f)) => {
            // SAFETY: NULL or valid by the caller's guarantee.
            if let Some(sid) = unsafe { sid.as_mut() } {
                *sid = s;
            }
            // SAFETY: as above.
            if let Some(flags) = unsafe { flags.as_mut() } {
                *flags = f;
            }
            isize::try_from(n).unwrap_or(isize::MAX)
        }
        Err(e) => fail(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

/// Sets the most verbose syslog level logged (default `LOG_NOTICE`).
#[no_mangle]
pub extern "C" fn quic_set_log_level(level: c_int) {
    log::set_level(level);
}

/// Sets the function receiving log messages; NULL restores stderr.
#[no_mangle]
pub extern "C" fn quic_set_log_func(func: Option<LogFunc>) {
    log::set_func(func);
}
