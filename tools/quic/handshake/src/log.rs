// SPDX-License-Identifier: GPL-2.0

//! libquic's logging hooks: a syslog level (`LOG_ERR` 3 ... `LOG_DEBUG`
//! 7; messages above it are dropped, default `LOG_NOTICE`) and an optional
//! function receiving each message; without one, messages go to stderr.

use std::ffi::CString;
use std::fmt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

/// syslog's `LOG_ERR`.
pub const LOG_ERR: i32 = 3;
/// syslog's `LOG_WARNING`.
pub const LOG_WARNING: i32 = 4;
/// syslog's `LOG_NOTICE`: the default level.
pub const LOG_NOTICE: i32 = 5;
/// syslog's `LOG_INFO`.
pub const LOG_INFO: i32 = 6;
/// syslog's `LOG_DEBUG`.
pub const LOG_DEBUG: i32 = 7;

/// A C log function: `void (*)(int level, const char *msg)`.
pub type LogFunc = extern "C" fn(level: i32, msg: *const libc::c_char);

static LEVEL: AtomicI32 = AtomicI32::new(LOG_NOTICE);
static FUNC: Mutex<Option<LogFunc>> = Mutex::new(None);

/// Sets the most verbose level that is still logged.
pub fn set_level(level: i32) {
    LEVEL.store(level, Ordering::Relaxed);
}

/// Sets the function receiving messages; `None` restores stderr.
pub fn set_func(func: Option<LogFunc>) {
    *FUNC.lock().unwrap_or_else(|e| e.into_inner()) = func;
}

/// Whether a message at `level` would be logged.
pub fn enabled(level: i32) -> bool {
    level <= LEVEL.load(Ordering::Relaxed)
}

/// Logs `args` at `level`.
pub fn log(level: i32, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let msg = args.to_string();
    let func = *FUNC.lock().unwrap_or_else(|e| e.into_inner());
    let Some(func) = func else {
        eprintln!("quic: {msg}");
        return;
    };
    // C strings end at the first NUL: cut the message there.
    let msg = msg.split('\0').next().unwrap_or_default();
    if let Ok(msg) = CString::new(msg) {
        func(level, msg.as_ptr());
    }
}

/// Logs at `LOG_DEBUG`.
pub(crate) fn debug(args: fmt::Arguments<'_>) {
    log(LOG_DEBUG, args);
}

/// Logs at `LOG_ERR`.
pub(crate) fn error(args: fmt::Arguments<'_>) {
    log(LOG_ERR, args);
}
