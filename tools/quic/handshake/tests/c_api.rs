// SPDX-License-Identifier: GPL-2.0

//! The C API without a kernel: argument handling and error mapping, in
//! process and from a C program built against `include/netinet/quic.h`
//! and linked with `libquic.so`. Handshakes through the C API need a
//! kernel with IPPROTO_QUIC (the Rust API behind it is tested over the
//! emulation in `handshake.rs`).

use quic::ffi::{
    quic_client_handshake, quic_handshake, quic_recvmsg, quic_sendmsg, quic_server_handshake,
};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[test]
fn handshake_arguments() -> TestResult {
    let host = CString::new("localhost")?;
    let alpn = CString::new("h3")?;
    let file = CString::new("/nonexistent")?;
    let not_utf8 = CString::new(vec![0xffu8, 0xfe])?;
    assert_eq!(quic_handshake(ptr::null_mut()), -libc::EOPNOTSUPP);
    // SAFETY: NULL or NUL-terminated strings.
    unsafe {
        assert_eq!(
            quic_client_handshake(-1, file.as_ptr(), host.as_ptr(), alpn.as_ptr()),
            -libc::EOPNOTSUPP
        );
        assert_eq!(
            quic_client_handshake(-1, ptr::null(), host.as_ptr(), alpn.as_ptr()),
            -libc::EBADF
        );
        assert_eq!(
            quic_client_handshake(-1, ptr::null(), not_utf8.as_ptr(), ptr::null()),
            -libc::EINVAL
        );
        assert_eq!(
            quic_server_handshake(-1, file.as_ptr(), ptr::null(), ptr::null()),
            -libc::EOPNOTSUPP
        );
        assert_eq!(
            quic_server_handshake(-1, file.as_ptr(), file.as_ptr(), alpn.as_ptr()),
            -libc::EBADF
        );
    }
    Ok(())
}

#[test]
fn stream_io_arguments() -> TestResult {
    let mut buf = [0u8; 8];
    let mut sid = 0i64;
    let mut flags = 0u32;
    // SAFETY: valid buffers and pointers, or deliberately NULL ones the
    // functions must refuse.
    unsafe {
        assert_eq!(quic_sendmsg(-1, b"x".as_ptr().cast(), 1, 0, 0), -1);
        assert_eq!(errno(), libc::EBADF);
        assert_eq!(quic_sendmsg(-1, ptr::null(), 1, 0, 0), -1);
        assert_eq!(errno(), libc::EFAULT);
        let r = quic_recvmsg(-1, buf.as_mut_ptr().cast(), buf.len(), &mut sid, &mut flags);
        assert_eq!(r, -1);
        assert_eq!(errno(), libc::EBADF);
        let r = quic_recvmsg(-1, ptr::null_mut(), buf.len(), &mut sid, &mut flags);
        assert_eq!(r, -1);
        assert_eq!(errno(), libc::EFAULT);
        // NULL sid and flags are allowed, as with libquic.
        let r = quic_recvmsg(
            -1,
            buf.as_mut_ptr().cast(),
            buf.len(),
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(r, -1);
        assert_eq!(errno(), libc::EBADF);
    }
    Ok(())
}

/// target/<profile>/deps, where cargo builds libquic.so with this test
/// (it copies it up to target/<profile> only for `cargo build`).
fn deps_dir() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("no deps directory")?;
    Ok(dir.to_path_buf())
}

#[test]
fn c_program_links_and_checks_the_abi() -> TestResult {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = deps_dir()?;
    if !lib_dir.join("libquic.so").is_file() {
        return Err(format!("{}: no libquic.so", lib_dir.display()).into());
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("quic-c-smoke");
    let uapi = manifest.join("../../../include/uapi");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(manifest.join("include"))
        .arg("-I")
        .arg(&uapi)
        .arg(manifest.join("tests/c/smoke.c"))
        .arg("-o")
        .arg(&out)
        .arg("-L")
        .arg(&lib_dir)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-lquic")
        .status()?;
    assert!(status.success());
    // cargo's LD_LIBRARY_PATH may name target/<profile> first, where an
    // older libquic.so can lie: it would win over the RUNPATH.
    let run = Command::new(&out)
        .env("LD_LIBRARY_PATH", &lib_dir)
        .output()?;
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(run.stdout, b"ok\n");
    Ok(())
}
