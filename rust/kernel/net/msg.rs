// SPDX-License-Identifier: GPL-2.0

//! Socket messages: the `struct msghdr` of `sendmsg()` and `recvmsg()`.
//!
//! A [`SendMsg`] gives a protocol the destination address (`msg_name`), the
//! data (an [`IovIterSource`]) and the control messages ([`Cmsg`]) of a
//! send; a [`RecvMsg`] takes the data (an [`IovIterDest`] or an skb), the
//! source address and control messages (`put_cmsg()`) of a receive. Both
//! work for user and kernel callers.
//!
//! C headers: [`include/linux/socket.h`](srctree/include/linux/socket.h),
//! [`include/net/sock.h`](srctree/include/net/sock.h).

use super::{addr::SocketAddr, skbuff::SkBuffRef};
use crate::{
    bindings,
    error::to_result,
    ffi::c_void,
    iov::{IovIterDest, IovIterSource},
    prelude::*,
    uaccess::{UserPtr, UserSlice}, //
};
use core::mem::size_of;

/// The size of `struct cmsghdr`: `cmsg_len` (a `size_t`), `cmsg_level` and
/// `cmsg_type` (two `int`s).
pub const CMSG_HDR_LEN: usize = size_of::<usize>() + 2 * size_of::<i32>();

/// The largest control buffer [`SendMsg::cmsgs`] copies from userspace.
pub const CMSG_MAX: usize = 64 * 1024;

/// `CMSG_ALIGN()`: control messages are aligned to `long`.
pub const fn cmsg_align(len: usize) -> usize {
    let a = size_of::<usize>();
    (len + a - 1) & !(a - 1)
}

/// `CMSG_SPACE()`: the room one control message with `len` bytes of data
/// takes.
pub const fn cmsg_space(len: usize) -> usize {
    cmsg_align(CMSG_HDR_LEN) + cmsg_align(len)
}

/// One control message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cmsg<'a> {
    /// `cmsg_level` (e.g. `SOL_SOCKET`, `SOL_UDP`, the protocol's level).
    pub level: i32,
    /// `cmsg_type`.
    pub ty: i32,
    /// The data after the header, `cmsg_len - CMSG_HDR_LEN` bytes.
    pub data: &'a [u8],
}

/// An iterator over the control messages of a buffer laid out as
/// `msg_control` (headers aligned to `long`), like `for_each_cmsghdr()`
/// with the `CMSG_OK()` check of every header.
///
/// Yields `Err(EINVAL)` once, then stops, for a header whose length is
/// shorter than the header or runs past the buffer; trailing bytes shorter
/// than a header end the iteration, as in C.
///
/// # Invariants
///
/// `off` is the offset of the next header in `buf`; at or past its end the
/// iteration is over.
pub struct CmsgIter<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> CmsgIter<'a> {
    /// Iterates over the control messages in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, off: 0 }
    }
}

impl<'a> Iterator for CmsgIter<'a> {
    type Item = Result<Cmsg<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.off..)?;
        let hdr = rest.get(..CMSG_HDR_LEN)?;
        let (len, tail) = hdr.split_at(size_of::<usize>());
        let mut l = [0u8; size_of::<usize>()];
        l.copy_from_slice(len);
        let len = usize::from_ne_bytes(l);
        let level = i32::from_ne_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let ty = i32::from_ne_bytes([tail[4], tail[5], tail[6], tail[7]]);
        if len < CMSG_HDR_LEN || len > rest.len() {
            self.off = self.buf.len();
            return Some(Err(EINVAL));
        }
        let data = &rest[cmsg_align(CMSG_HDR_LEN).min(len)..len];
        self.off = match self.off.checked_add(cmsg_align(len)) {
            Some(o) => o,
            None => self.buf.len(),
        };
        Some(Ok(Cmsg { level, ty, data }))
    }
}

/// Appends a control message to `out` (for building control buffers, e.g.
/// in tests or kernel callers of `sendmsg()`).
pub fn cmsg_encode(out: &mut KVec<u8>, level: i32, ty: i32, data: &[u8]) -> Result {
    let len = cmsg_align(CMSG_HDR_LEN) + data.len();
    out.extend_from_slice(&len.to_ne_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(&level.to_ne_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(&ty.to_ne_bytes(), GFP_KERNEL)?;
    out.resize(
        out.len() + cmsg_align(CMSG_HDR_LEN) - CMSG_HDR_LEN,
        0,
        GFP_KERNEL,
    )?;
    out.extend_from_slice(data, GFP_KERNEL)?;
    out.resize(
        out.len() + cmsg_align(data.len()) - data.len(),
        0,
        GFP_KERNEL,
    )?;
    Ok(())
}

/// `iov_iter_count()`.
fn iter_count(iter: &bindings::iov_iter) -> usize {
    // SAFETY: Every iterator type keeps its byte count in this union member.
    unsafe { iter.__bindgen_anon_1.__bindgen_anon_1.as_ref().count }
}

/// Control messages of a [`SendMsg`], in kernel memory.
pub enum Cmsgs<'a> {
    /// Borrowed from the message (the socket layer copied them in).
    Borrowed(&'a [u8]),
    /// Copied from userspace.
    Owned(KVec<u8>),
}

impl Cmsgs<'_> {
    /// Iterates over the control messages.
    pub fn iter(&self) -> CmsgIter<'_> {
        match self {
            Self::Borrowed(b) => CmsgIter::new(b),
            Self::Owned(v) => CmsgIter::new(v),
        }
    }
}

/// The message of a `sendmsg()` call.
///
/// # Invariants
///
/// `msg` is the `struct msghdr` of a send in progress: `msg_iter` is a
/// source iterator, `msg_name` (if not null) points to `msg_namelen` bytes
/// of kernel memory, and `msg_control` holds `msg_controllen` bytes of
/// kernel memory (or user memory if `msg_control_is_user`).
pub struct SendMsg<'a> {
    msg: &'a mut bindings::msghdr,
}

impl<'a> SendMsg<'a> {
    /// Wraps a `struct msghdr` passed to `proto_ops.sendmsg`.
    ///
    /// # Safety
    ///
    /// `msg` must satisfy the type invariants for `'a`.
    pub unsafe fn from_raw(msg: *mut bindings::msghdr) -> Self {
        // SAFETY: Guaranteed by the caller.
        let msg = unsafe { &mut *msg };
        Self { msg }
    }

    /// The `MSG_*` flags of the call.
    pub fn flags(&self) -> u32 {
        self.msg.msg_flags
    }

    /// Whether the call must not block (`MSG_DONTWAIT`).
    pub fn nonblocking(&self) -> bool {
        self.msg.msg_flags & bindings::MSG_DONTWAIT != 0
    }

    /// The destination address, if the caller gave one.
    pub fn name(&self) -> Result<Option<SocketAddr>> {
        if self.msg.msg_name.is_null() || self.msg.msg_namelen == 0 {
            return Ok(None);
        }
        // SAFETY: By the type invariant `msg_name` holds `msg_namelen` bytes
        // of kernel memory.
        Ok(Some(unsafe {
            SocketAddr::from_raw(self.msg.msg_name.cast(), self.msg.msg_namelen)?
        }))
    }

    /// The bytes left to send.
    pub fn len(&self) -> usize {
        iter_count(&self.msg.msg_iter)
    }

    /// Whether all the data was consumed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data to send.
    pub fn data(&mut self) -> &mut IovIterSource<'a> {
        // SAFETY: By the type invariant `msg_iter` is a valid source iterator,
        // borrowed mutably through `self`.
        unsafe { IovIterSource::from_raw(&raw mut self.msg.msg_iter) }
    }

    /// Copies up to `out.len()` bytes of data into `out`, returning how many
    /// (fewer at the end of the data or on a fault).
    pub fn copy_from(&mut self, out: &mut [u8]) -> usize {
        self.data().copy_from_iter(out)
    }

    /// The control messages (ancillary data), parsed lazily.
    pub fn cmsgs(&self) -> Result<Cmsgs<'_>> {
        let len = self.msg.msg_controllen;
        if len == 0 {
            return Ok(Cmsgs::Borrowed(&[]));
        }
        // SAFETY: Reading the union field that matches `msg_control_is_user`.
        let ptr = unsafe { self.msg.__bindgen_anon_1.msg_control };
        if ptr.is_null() {
            return Err(EFAULT);
        }
        if !self.msg.msg_control_is_user() {
            // SAFETY: By the type invariant the control buffer is `len` bytes
            // of kernel memory, valid while `self` is borrowed.
            return Ok(Cmsgs::Borrowed(unsafe {
                core::slice::from_raw_parts(ptr.cast::<u8>(), len)
            }));
        }
        if len > CMSG_MAX {
            return Err(ENOBUFS);
        }
        let mut v = KVec::new();
        UserSlice::new(UserPtr::from_ptr(ptr), len).read_all(&mut v, GFP_KERNEL)?;
        Ok(Cmsgs::Owned(v))
    }
}

/// The message of a `recvmsg()` call.
///
/// # Invariants
///
/// `msg` is the `struct msghdr` of a receive in progress: `msg_iter` is a
/// destination iterator, `msg_name` (if not null) points to kernel memory
/// of at least `sizeof(struct sockaddr_storage)` bytes, and the control
/// buffer is as `put_cmsg()` expects.
pub struct RecvMsg<'a> {
    msg: &'a mut bindings::msghdr,
}

impl<'a> RecvMsg<'a> {
    /// Wraps a `struct msghdr` passed to `proto_ops.recvmsg`.
    ///
    /// # Safety
    ///
    /// `msg` must satisfy the type invariants for `'a`.
    pub unsafe fn from_raw(msg: *mut bindings::msghdr) -> Self {
        // SAFETY: Guaranteed by the caller.
        let msg = unsafe { &mut *msg };
        Self { msg }
    }

    /// The room left for data.
    pub fn len(&self) -> usize {
        iter_count(&self.msg.msg_iter)
    }

    /// Whether the caller's buffer is full.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The caller's buffer.
    pub fn data(&mut self) -> &mut IovIterDest<'a> {
        // SAFETY: By the type invariant `msg_iter` is a valid destination,
        // borrowed mutably through `self`.
        unsafe { IovIterDest::from_raw(&raw mut self.msg.msg_iter) }
    }

    /// Copies `data` to the caller, returning how many bytes fit (fewer on a
    /// fault or when the buffer is full).
    pub fn copy_to(&mut self, data: &[u8]) -> usize {
        self.data().copy_to_iter(data)
    }

    /// Copies `len` bytes of `skb` from `offset` to the caller
    /// (`skb_copy_datagram_iter()`, linear data and fragments). Fails with
    /// `EINVAL` past the end of the skb and `EFAULT` on a fault.
    pub fn copy_skb(&mut self, skb: &SkBuffRef, offset: usize, len: usize) -> Result {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if end > skb.len() {
            return Err(EINVAL);
        }
        // SAFETY: The range is inside the skb (so it fits `int`) and
        // `msg_iter` is a valid destination.
        to_result(unsafe {
            bindings::skb_copy_datagram_iter(
                skb.as_raw(),
                offset as i32,
                &raw mut self.msg.msg_iter,
                len as i32,
            )
        })
    }

    /// Reports the source address (`msg_name`), if the caller asked for it.
    pub fn set_name(&mut self, addr: &SocketAddr) -> Result {
        if self.msg.msg_name.is_null() {
            return Ok(());
        }
        // SAFETY: By the type invariant `msg_name` is kernel memory of at
        // least `sizeof(struct sockaddr_storage)` bytes.
        let out = unsafe {
            core::slice::from_raw_parts_mut(
                self.msg.msg_name.cast::<u8>(),
                size_of::<bindings::__kernel_sockaddr_storage>(),
            )
        };
        let n = addr.to_bytes(out)?;
        // The length of an address fits an int.
        self.msg.msg_namelen = n as i32;
        Ok(())
    }

    /// Adds `flags` (`MSG_TRUNC`, `MSG_EOR`, ...) to the returned
    /// `msg_flags`.
    pub fn add_flags(&mut self, flags: u32) {
        self.msg.msg_flags |= flags;
    }

    /// The returned `msg_flags`.
    pub fn flags(&self) -> u32 {
        self.msg.msg_flags
    }

    /// Appends a control message (`put_cmsg()`). When the caller's control
    /// buffer is too small, the message is cut and `MSG_CTRUNC` set, as in
    /// C; a fault returns `EFAULT`.
    pub fn put_cmsg(&mut self, level: i32, ty: i32, data: &[u8]) -> Result {
        let len = i32::try_from(data.len()).map_err(|_| EINVAL)?;
        // SAFETY: `msg` is a receive message and `data` is valid for `len`
        // bytes; `put_cmsg` handles user and kernel control buffers.
        to_result(unsafe {
            bindings::put_cmsg(
                self.msg,
                level,
                ty,
                len,
                data.as_ptr().cast::<c_void>().cast_mut(),
            )
        })
    }
}

#[macros::kunit_tests(rust_kernel_net_msg)]
mod tests {
    use super::*;

    #[test]
    fn cmsg_valid() -> Result {
        let mut buf = KVec::new();
        cmsg_encode(&mut buf, 288, 1, &[1, 2, 3, 4, 5])?;
        cmsg_encode(&mut buf, 1, 2, &[])?;
        cmsg_encode(&mut buf, 41, 67, &[9; 20])?;
        assert_eq!(buf.len(), cmsg_space(5) + cmsg_space(0) + cmsg_space(20));
        let mut it = CmsgIter::new(&buf);
        assert_eq!(
            it.next(),
            Some(Ok(Cmsg {
                level: 288,
                ty: 1,
                data: &[1, 2, 3, 4, 5]
            }))
        );
        assert_eq!(
            it.next(),
            Some(Ok(Cmsg {
                level: 1,
                ty: 2,
                data: &[]
            }))
        );
        let third = it.next();
        assert!(
            matches!(third, Some(Ok(Cmsg { level: 41, ty: 67, data })) if data == &[9u8; 20][..])
        );
        assert_eq!(it.next(), None);
        assert_eq!(CmsgIter::new(&[]).next(), None);
        Ok(())
    }

    #[test]
    fn cmsg_malformed() -> Result {
        let mut buf = KVec::new();
        cmsg_encode(&mut buf, 288, 1, &[7; 4])?;
        let good = buf.len();

        // A length shorter than the header.
        let mut short = KVec::new();
        short.extend_from_slice(&buf, GFP_KERNEL)?;
        short[..size_of::<usize>()].copy_from_slice(&4usize.to_ne_bytes());
        let mut it = CmsgIter::new(&short);
        assert_eq!(it.next(), Some(Err(EINVAL)));
        assert_eq!(it.next(), None);

        // A length past the buffer.
        let mut long = KVec::new();
        long.extend_from_slice(&buf, GFP_KERNEL)?;
        long[..size_of::<usize>()].copy_from_slice(&(good + 1).to_ne_bytes());
        assert_eq!(CmsgIter::new(&long).next(), Some(Err(EINVAL)));
        long[..size_of::<usize>()].copy_from_slice(&usize::MAX.to_ne_bytes());
        assert_eq!(CmsgIter::new(&long).next(), Some(Err(EINVAL)));

        // A good message, then a bad one.
        let mut two = KVec::new();
        two.extend_from_slice(&buf, GFP_KERNEL)?;
        two.extend_from_slice(&short, GFP_KERNEL)?;
        let mut it = CmsgIter::new(&two);
        assert!(matches!(it.next(), Some(Ok(_))));
        assert_eq!(it.next(), Some(Err(EINVAL)));
        assert_eq!(it.next(), None);

        // Trailing bytes shorter than a header are ignored, as in C.
        buf.extend_from_slice(&[0xff; CMSG_HDR_LEN - 1], GFP_KERNEL)?;
        let mut it = CmsgIter::new(&buf);
        assert!(matches!(it.next(), Some(Ok(_))));
        assert_eq!(it.next(), None);
        Ok(())
    }

    #[test]
    fn cmsg_alignment() {
        assert_eq!(cmsg_align(0), 0);
        assert_eq!(cmsg_align(1), size_of::<usize>());
        assert_eq!(cmsg_align(CMSG_HDR_LEN), CMSG_HDR_LEN);
        assert_eq!(cmsg_space(4), CMSG_HDR_LEN + size_of::<usize>());
    }
}
