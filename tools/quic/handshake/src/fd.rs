// SPDX-License-Identifier: GPL-2.0

//! [`Socket`] over a real IPPROTO_QUIC file descriptor, plus the stream
//! I/O of `quic_sendmsg`/`quic_recvmsg` and the few calls the example
//! needs to open sockets. Every `unsafe` block of the library's socket
//! side is in this file.
//!
//! A descriptor that is not an IPPROTO_QUIC socket only makes the system
//! calls fail (`EBADF`, `ENOTSOCK`, `ENOPROTOOPT`): passing raw
//! descriptors around is memory safe, so [`FdSocket`] can be built from
//! any integer.

use crate::socket::Socket;
use crate::uapi::{
    CryptoLevel, QuicConfig, QuicConnectionClose, QuicCryptoSecret, QuicHandshakeInfo,
    QuicStreamInfo, IPPROTO_QUIC, QUIC_HANDSHAKE_INFO, QUIC_SOCKOPT_ALPN, QUIC_SOCKOPT_CONFIG,
    QUIC_SOCKOPT_CONNECTION_CLOSE, QUIC_SOCKOPT_CRYPTO_SECRET, QUIC_SOCKOPT_SESSION_TICKET,
    QUIC_SOCKOPT_TOKEN, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, QUIC_STREAM_INFO, SOL_QUIC,
};
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::time::Duration;

/// Room for one cmsg of either QUIC type (the larger, quic_stream_info,
/// is 16 bytes), aligned like a `cmsghdr`.
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

/// A borrowed IPPROTO_QUIC socket descriptor (not closed on drop).
#[derive(Clone, Copy, Debug)]
pub struct FdSocket {
    fd: RawFd,
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: isize) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

fn socklen(len: usize) -> io::Result<libc::socklen_t> {
    libc::socklen_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

impl FdSocket {
    /// The socket behind `fd`, which the caller keeps open while this is
    /// used.
    pub const fn new(fd: RawFd) -> Self {
        Self { fd }
    }

    /// The descriptor.
    pub const fn fd(&self) -> RawFd {
        self.fd
    }

    /// getsockopt(SOL_QUIC, `opt`) into `buf`; returns the length.
    pub fn getsockopt(&self, opt: i32, buf: &mut [u8]) -> io::Result<usize> {
        let mut len = socklen(buf.len())?;
        // SAFETY: `buf` is valid for writes of `len` bytes and `len` is a
        // live local the kernel updates.
        cvt(unsafe {
            libc::getsockopt(self.fd, SOL_QUIC, opt, buf.as_mut_ptr().cast(), &mut len)
        })?;
        Ok(usize::try_from(len).map_or(buf.len(), |l| l.min(buf.len())))
    }

    /// setsockopt(SOL_QUIC, `opt`, `val`).
    pub fn setsockopt(&self, opt: i32, val: &[u8]) -> io::Result<()> {
        let len = socklen(val.len())?;
        // SAFETY: `val` is valid for reads of `len` bytes.
        cvt(unsafe { libc::setsockopt(self.fd, SOL_QUIC, opt, val.as_ptr().cast(), len) })?;
        Ok(())
    }

    /// sendmsg of `data` with one SOL_QUIC cmsg of type `ty` carrying
    /// `payload`, and `flags`.
    fn send_with_cmsg(
        &self,
        data: &[u8],
        ty: i32,
        payload: &[u8],
        flags: i32,
    ) -> io::Result<usize> {
        let mut cbuf = CmsgBuf([0; 64]);
        let plen =
            u32::try_from(payload.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut iov = libc::iovec {
            iov_base: data.as_ptr().cast_mut().cast(),
            iov_len: data.len(),
        };
        // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.0.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(plen) } as usize;
        if space > cbuf.0.len() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        msg.msg_controllen = space as _;
        // SAFETY: `msg` points at `cbuf`, which holds `space` bytes, so the
        // first header and its data (`CMSG_LEN(plen)` <= `space`) are
        // inside it; `cbuf` is aligned for `cmsghdr`.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            if cmsg.is_null() {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            (*cmsg).cmsg_level = SOL_QUIC;
            (*cmsg).cmsg_type = ty;
            (*cmsg).cmsg_len = libc::CMSG_LEN(plen) as _;
            ptr::copy_nonoverlapping(payload.as_ptr(), libc::CMSG_DATA(cmsg), payload.len());
        }
        // SAFETY: `msg` and everything it points to (`iov` over `data`,
        // `cbuf`) outlive the call; sendmsg only reads through `iov_base`.
        cvt_size(unsafe { libc::sendmsg(self.fd, &msg, flags) })
    }

    /// recvmsg into `buf` with `flags`; returns the length, msg_flags and
    /// the payload of the first SOL_QUIC cmsg of type `ty` (copied into
    /// `payload`, whose length must be the payload's), if present.
    fn recv_with_cmsg(
        &self,
        buf: &mut [u8],
        flags: i32,
        ty: i32,
        payload: &mut [u8],
    ) -> io::Result<(usize, i32, bool)> {
        let mut cbuf = CmsgBuf([0; 64]);
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: all-zero is a valid msghdr.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.0.as_mut_ptr().cast();
        msg.msg_controllen = cbuf.0.len() as _;
        // SAFETY: `msg` points at `buf` (through `iov`) and `cbuf`, both
        // writable for the lengths given and alive across the call.
        let n = cvt_size(unsafe { libc::recvmsg(self.fd, &mut msg, flags) })?;
        let mut found = false;
        // SAFETY: the kernel filled `msg_controllen` bytes of `cbuf`; the
        // CMSG_* macros stay within them and each data pointer has at
        // least `cmsg_len - CMSG_LEN(0)` readable bytes, checked before
        // copying.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let c = &*cmsg;
                let data_len = (c.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                if c.cmsg_level == SOL_QUIC && c.cmsg_type == ty && data_len >= payload.len() {
                    ptr::copy_nonoverlapping(
                        libc::CMSG_DATA(cmsg),
                        payload.as_mut_ptr(),
                        payload.len(),
                    );
                    found = true;
                    break;
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok((n, msg.msg_flags, found))
    }

    /// Waits up to `timeout` for the socket to be readable.
    fn poll_in(&self, timeout: Duration) -> io::Result<()> {
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        loop {
            // SAFETY: `pfd` is one valid pollfd.
            match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
                Ok(0) => return Err(io::Error::from_raw_os_error(libc::ETIMEDOUT)),
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// `quic_sendmsg`: sends `data` on stream `sid` with stream `flags`
    /// (`MSG_QUIC_STREAM_*`, also passed as sendmsg flags, like libquic).
    pub fn send_stream(&self, data: &[u8], sid: i64, flags: u32) -> io::Result<usize> {
        let info = QuicStreamInfo {
            stream_id: sid,
            stream_flags: flags,
        };
        let mut payload = [0u8; size_of::<QuicStreamInfo>()];
        payload[..8].copy_from_slice(&info.stream_id.to_ne_bytes());
        payload[8..12].copy_from_slice(&info.stream_flags.to_ne_bytes());
        self.send_with_cmsg(data, QUIC_STREAM_INFO, &payload, flags as i32)
    }

    /// `quic_recvmsg`: receives stream data (or a datagram or event) with
    /// recvmsg `flags`; returns the length, the stream ID (-1 if none) and
    /// msg_flags combined with the stream flags.
    pub fn recv_stream(&self, buf: &mut [u8], flags: u32) -> io::Result<(usize, i64, u32)> {
        let mut payload = [0u8; size_of::<QuicStreamInfo>()];
        let (n, msg_flags, found) =
            self.recv_with_cmsg(buf, flags as i32, QUIC_STREAM_INFO, &mut payload)?;
        let mut out = msg_flags as u32;
        let mut sid = -1;
        if found {
            let mut id = [0u8; 8];
            id.copy_from_slice(&payload[..8]);
            sid = i64::from_ne_bytes(id);
            out |= u32::from_ne_bytes([payload[8], payload[9], payload[10], payload[11]]);
        }
        Ok((n, sid, out))
    }

    /// The peer's address (getpeername).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        // SAFETY: all-zero is a valid sockaddr_storage.
        let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
        let mut len = socklen(size_of::<libc::sockaddr_storage>())?;
        // SAFETY: `ss` is writable for `len` bytes.
        cvt(unsafe { libc::getpeername(self.fd, ptr::addr_of_mut!(ss).cast(), &mut len) })?;
        from_sockaddr(&ss)
    }
}

impl Socket for FdSocket {
    fn send_handshake(&self, level: CryptoLevel, data: &[u8]) -> io::Result<()> {
        let info = QuicHandshakeInfo {
            crypto_level: level as u8,
        };
        let mut sent = 0;
        while sent < data.len() {
            sent +=
                self.send_with_cmsg(&data[sent..], QUIC_HANDSHAKE_INFO, &[info.crypto_level], 0)?;
        }
        Ok(())
    }

    fn recv_handshake(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> io::Result<(CryptoLevel, usize)> {
        self.poll_in(timeout)?;
        let mut level = [0u8; 1];
        let (n, _, found) = self.recv_with_cmsg(buf, 0, QUIC_HANDSHAKE_INFO, &mut level)?;
        if n == 0 && !found {
            return Err(io::Error::from_raw_os_error(libc::ECONNRESET));
        }
        let level = CryptoLevel::from_u8(level[0]).filter(|_| found);
        level
            .map(|l| (l, n))
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EPROTO))
    }

    fn transport_param_ext(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.getsockopt(QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, buf)
    }

    fn set_transport_param_ext(&self, ext: &[u8]) -> io::Result<()> {
        self.setsockopt(QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, ext)
    }

    fn set_crypto_secret(&self, secret: &QuicCryptoSecret) -> io::Result<()> {
        self.setsockopt(QUIC_SOCKOPT_CRYPTO_SECRET, &secret.to_bytes())
    }

    fn alpn(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.getsockopt(QUIC_SOCKOPT_ALPN, buf)
    }

    fn set_alpn(&self, alpn: &[u8]) -> io::Result<()> {
        self.setsockopt(QUIC_SOCKOPT_ALPN, alpn)
    }

    fn config(&self) -> io::Result<QuicConfig> {
        let mut b = [0u8; 28];
        let n = self.getsockopt(QUIC_SOCKOPT_CONFIG, &mut b)?;
        QuicConfig::from_bytes(&b[..n]).ok_or_else(|| io::Error::from_raw_os_error(libc::EPROTO))
    }

    fn is_server(&self) -> io::Result<bool> {
        // Room for any token a client may hold (a NEW_TOKEN frame's fits
        // in one packet): too short a buffer fails with EINVAL too.
        let mut token = vec![0u8; 2048];
        match self.getsockopt(QUIC_SOCKOPT_TOKEN, &mut token) {
            Ok(_) => Ok(false),
            // The failure that means "server"; others are real errors.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(true),
            Err(e) => Err(e),
        }
    }

    fn session_ticket(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.getsockopt(QUIC_SOCKOPT_SESSION_TICKET, buf)
    }

    fn set_connection_close(&self, close: &QuicConnectionClose) -> io::Result<()> {
        self.setsockopt(QUIC_SOCKOPT_CONNECTION_CLOSE, &close.to_bytes())
    }
}

fn from_sockaddr(ss: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in,
            // and sockaddr_storage is large and aligned enough for it.
            let sin = unsafe { &*ptr::addr_of!(*ss).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*ptr::addr_of!(*ss).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
    }
}

fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a
            // sockaddr_in; we write through a unique borrow of `ss`.
            let sin = unsafe { &mut *ptr::addr_of_mut!(ss).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &mut *ptr::addr_of_mut!(ss).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// An IPPROTO_QUIC socket this process opened (closed on drop).
#[derive(Debug)]
pub struct QuicSocket(OwnedFd);

impl QuicSocket {
    fn open(addr: &SocketAddr) -> io::Result<Self> {
        let family = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        // SAFETY: plain system call.
        let fd = cvt(unsafe { libc::socket(family, libc::SOCK_DGRAM, IPPROTO_QUIC) })?;
        // SAFETY: `fd` was just returned by socket() and is owned by no
        // one else.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// A client socket connected to `peer` (connect() sends nothing; the
    /// handshake does).
    pub fn connect(peer: SocketAddr) -> io::Result<Self> {
        let s = Self::open(&peer)?;
        let (ss, len) = to_sockaddr(&peer);
        // SAFETY: `ss` holds a valid address of `len` bytes.
        cvt(unsafe { libc::connect(s.0.as_raw_fd(), ptr::addr_of!(ss).cast(), len) })?;
        Ok(s)
    }

    /// A listening socket on `local`, routing ClientHellos offering one of
    /// `alpns` (comma-separated) to it, if given.
    pub fn listen(local: SocketAddr, alpns: Option<&str>) -> io::Result<Self> {
        let s = Self::open(&local)?;
        let (ss, len) = to_sockaddr(&local);
        // SAFETY: `ss` holds a valid address of `len` bytes.
        cvt(unsafe { libc::bind(s.0.as_raw_fd(), ptr::addr_of!(ss).cast(), len) })?;
        if let Some(alpns) = alpns {
            s.socket().setsockopt(QUIC_SOCKOPT_ALPN, alpns.as_bytes())?;
        }
        // SAFETY: plain system call on our descriptor.
        cvt(unsafe { libc::listen(s.0.as_raw_fd(), 16) })?;
        Ok(s)
    }

    /// Accepts a connection on a listening socket.
    pub fn accept(&self) -> io::Result<Self> {
        // SAFETY: null address and length pointers are allowed.
        let fd =
            cvt(unsafe { libc::accept(self.0.as_raw_fd(), ptr::null_mut(), ptr::null_mut()) })?;
        // SAFETY: `fd` was just returned by accept() and is ours.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The socket, for the handshake and stream I/O.
    pub fn socket(&self) -> FdSocket {
        FdSocket::new(self.0.as_raw_fd())
    }

    /// The address a peer IP for certificate checks comes from.
    pub fn peer_ip(&self) -> io::Result<IpAddr> {
        self.socket().peer_addr().map(|a| a.ip())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_round_trip() {
        for a in [
            "192.0.2.1:443".parse::<SocketAddr>(),
            "[2001:db8::1]:4433".parse::<SocketAddr>(),
        ] {
            let a = a.expect("address");
            let (ss, _) = to_sockaddr(&a);
            assert_eq!(from_sockaddr(&ss).expect("decodes"), a);
        }
    }

    #[test]
    fn syscalls_on_a_bad_descriptor_fail_cleanly() {
        let s = FdSocket::new(-1);
        assert_eq!(
            s.config().map_err(|e| e.raw_os_error()),
            Err(Some(libc::EBADF))
        );
        let mut buf = [0u8; 8];
        assert!(s.recv_stream(&mut buf, 0).is_err());
        assert!(s.send_stream(b"x", 0, 0).is_err());
        assert!(s.send_handshake(CryptoLevel::Initial, b"x").is_err());
        assert!(s.is_server().is_err());
    }
}
