// SPDX-License-Identifier: GPL-2.0

//! Socket option values for `setsockopt()` and `getsockopt()`.
//!
//! Both work for user and kernel callers: the set value is a `sockptr_t`,
//! the get buffer a `sockopt_t` (two `iov_iter`s over user or kernel memory).
//!
//! C headers: [`include/linux/sockptr.h`](srctree/include/linux/sockptr.h),
//! [`include/linux/net.h`](srctree/include/linux/net.h).

use crate::{bindings, iov::IovIterDest, iov::IovIterSource, prelude::*};

/// The value passed to `setsockopt()`.
///
/// # Invariants
///
/// `ptr` is a `sockptr_t` valid for reads of `len` bytes (user memory is
/// checked on access) for the lifetime of the value.
pub struct SetValue {
    ptr: bindings::sockptr_t,
    len: usize,
}

impl SetValue {
    /// Wraps a `sockptr_t` and its length.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid `sockptr_t` for `len` bytes (a user pointer, or a
    /// kernel pointer valid for reads of `len` bytes) while the value lives.
    pub unsafe fn from_raw(ptr: bindings::sockptr_t, len: u32) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            ptr,
            len: len as usize,
        }
    }

    /// The length the caller passed (`optlen`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether `optlen` was zero.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the first `out.len()` bytes of the value into `out`.
    ///
    /// Fails with `EINVAL` if the value is shorter and with `EFAULT` if the
    /// memory cannot be read (a bad or NULL user pointer).
    pub fn read(&self, out: &mut [u8]) -> Result {
        if out.len() > self.len {
            return Err(EINVAL);
        }
        // SAFETY: `out` is valid for `out.len()` bytes, and by the type
        // invariant `ptr` is readable for at least that many.
        let left = unsafe {
            bindings::copy_from_sockptr_offset(out.as_mut_ptr().cast(), self.ptr, 0, out.len())
        };
        if left != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// Reads a fixed-size value; the option must be at least `N` bytes long.
    pub fn read_array<const N: usize>(&self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        self.read(&mut out)?;
        Ok(out)
    }

    /// Reads a `u32` option value (host order), the usual `int` option.
    pub fn read_u32(&self) -> Result<u32> {
        Ok(u32::from_ne_bytes(self.read_array()?))
    }

    /// Reads the whole value into a new vector (at most `max` bytes, else
    /// `EINVAL`).
    pub fn read_vec(&self, max: usize, flags: crate::alloc::Flags) -> Result<KVec<u8>> {
        if self.len > max {
            return Err(EINVAL);
        }
        let mut v = KVec::from_elem(0u8, self.len, flags)?;
        self.read(&mut v)?;
        Ok(v)
    }
}

/// The buffer of a `getsockopt()` call (`sockopt_t`).
///
/// Some options read an input from the buffer first (e.g. a stream ID),
/// then write the result over it.
///
/// # Invariants
///
/// `opt` points to a valid `sockopt_t` set up by the socket layer for the
/// duration of the call.
pub struct GetValue<'a> {
    opt: &'a mut bindings::sockopt_t,
}

impl<'a> GetValue<'a> {
    /// Wraps a `sockopt_t`.
    ///
    /// # Safety
    ///
    /// `opt` must be valid, with both iterators set up over the caller's
    /// buffer, for `'a`.
    pub unsafe fn from_raw(opt: *mut bindings::sockopt_t) -> Self {
        // SAFETY: Guaranteed by the caller.
        let opt = unsafe { &mut *opt };
        Self { opt }
    }

    /// The caller's buffer size (`*optlen` on entry).
    pub fn capacity(&self) -> usize {
        usize::try_from(self.opt.optlen).unwrap_or(0)
    }

    /// Reads the input the caller placed in the buffer, `out.len()` bytes.
    /// Fails with `EINVAL` if the buffer is shorter and `EFAULT` on a fault.
    pub fn read_input(&mut self, out: &mut [u8]) -> Result {
        if out.len() > self.capacity() {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant `iter_in` is a valid source iterator.
        let src = unsafe { IovIterSource::from_raw(&raw mut self.opt.iter_in) };
        if src.copy_from_iter(out) != out.len() {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// Writes `data` as the option value and sets the returned length.
    /// Fails with `EINVAL` if the caller's buffer is too small, `EFAULT` on a
    /// fault.
    pub fn write(&mut self, data: &[u8]) -> Result {
        if data.len() > self.capacity() {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant `iter_out` is a valid destination.
        let dst = unsafe { IovIterDest::from_raw(&raw mut self.opt.iter_out) };
        if dst.copy_to_iter(data) != data.len() {
            return Err(EFAULT);
        }
        // The length fits: it is at most `capacity()`, which came from an int.
        self.opt.optlen = data.len() as i32;
        Ok(())
    }

    /// Writes a `u32` (the usual `int` option).
    pub fn write_u32(&mut self, v: u32) -> Result {
        self.write(&v.to_ne_bytes())
    }
}
