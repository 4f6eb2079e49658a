// SPDX-License-Identifier: GPL-2.0

//! Socket buffers (`struct sk_buff`).
//!
//! An skb holds one packet. Its linear buffer runs from `head` to `end`; the
//! packet's first bytes sit in it between the headroom and the tailroom, and
//! the rest, if any, in page fragments (`data_len` bytes):
//!
//! ```text
//! head        data                 tail         end
//!  | headroom  | linear data         | tailroom   |   + fragments
//!              |<------ headlen ---->|
//!              |<------------- len -------------------------->|
//! ```
//!
//! [`SkBuff`] owns an skb: it is freed when the owner is dropped, as a drop
//! (`kfree_skb_reason()`, seen by the drop monitor) or as a normal end of
//! life (`consume_skb()`). [`SkBuffRef`] is an skb borrowed from its owner.
//! Every operation that could run out of room checks first and returns an
//! error where the C function would `BUG()`.
//!
//! C header: [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h).

use super::sock::Sock;
use crate::{
    alloc::Flags,
    bindings,
    error::to_result,
    prelude::*,
    types::Opaque, //
};
use core::{mem::ManuallyDrop, ops::Deref, ptr::NonNull};

/// The largest skb [`SkBuff::alloc`] creates (headroom included): a 64 KiB
/// GSO batch plus headers.
pub const MAX_ALLOC: usize = 128 * 1024;

/// Why an skb was dropped (`enum skb_drop_reason`), reported to the drop
/// monitor and the `kfree_skb` tracepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropReason(bindings::skb_drop_reason);

impl DropReason {
    /// No reason given.
    pub const NOT_SPECIFIED: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_NOT_SPECIFIED);
    /// No socket wants the packet.
    pub const NO_SOCKET: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_NO_SOCKET);
    /// The socket is being closed.
    pub const SOCKET_CLOSE: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_SOCKET_CLOSE);
    /// The socket's receive buffer is full.
    pub const SOCKET_RCVBUFF: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_SOCKET_RCVBUFF);
    /// The socket's backlog is full.
    pub const SOCKET_BACKLOG: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_SOCKET_BACKLOG);
    /// The packet is too short for its protocol.
    pub const PKT_TOO_SMALL: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_PKT_TOO_SMALL);
    /// The packet is too big.
    pub const PKT_TOO_BIG: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_PKT_TOO_BIG);
    /// The protocol's memory limit is reached.
    pub const PROTO_MEM: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_PROTO_MEM);
    /// Out of memory.
    pub const NOMEM: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_NOMEM);
    /// The packet does not follow its protocol.
    pub const INVALID_PROTO: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_INVALID_PROTO);
    /// The protocol (or this use of it) is not handled.
    pub const UNHANDLED_PROTO: Self =
        Self(bindings::skb_drop_reason_SKB_DROP_REASON_UNHANDLED_PROTO);
    /// A queue was purged.
    pub const QUEUE_PURGE: Self = Self(bindings::skb_drop_reason_SKB_DROP_REASON_QUEUE_PURGE);
}

/// How an owned skb is freed when its [`SkBuff`] is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeReason {
    /// The packet was used up normally (`consume_skb()`).
    Consumed,
    /// The packet was dropped (`kfree_skb_reason()`).
    Dropped(DropReason),
}

/// The checksum state of an skb (`skb->ip_summed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// `CHECKSUM_NONE`: not verified (receive) or computed in software
    /// (transmit).
    None,
    /// `CHECKSUM_UNNECESSARY`: verified by the device or the stack.
    Unnecessary,
    /// `CHECKSUM_COMPLETE`: `skb->csum` holds the checksum of the packet.
    Complete,
    /// `CHECKSUM_PARTIAL`: to be completed by the device or by software at
    /// `csum_start + csum_offset`.
    Partial,
}

/// An skb borrowed from its owner.
///
/// Only reads are possible through a shared reference; changing an skb
/// needs its owner, [`SkBuff`].
///
/// # Invariants
///
/// The `struct sk_buff` is valid, and neither its metadata nor its data
/// change, for as long as a `&SkBuffRef` exists.
#[repr(transparent)]
pub struct SkBuffRef(Opaque<bindings::sk_buff>);

// SAFETY: An skb is not tied to a thread; `&SkBuffRef` only reads.
unsafe impl Send for SkBuffRef {}
// SAFETY: Shared references only read, and the type invariant says nobody
// changes the skb meanwhile.
unsafe impl Sync for SkBuffRef {}

impl SkBuffRef {
    /// Creates a reference to an skb.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid skb that nobody changes for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::sk_buff) -> &'a Self {
        // SAFETY: `SkBuffRef` is transparent over `struct sk_buff`; validity
        // and stability are guaranteed by the caller.
        unsafe { &*ptr.cast() }
    }

    /// The raw `struct sk_buff` pointer.
    pub fn as_raw(&self) -> *mut bindings::sk_buff {
        self.0.get()
    }

    /// The packet length, linear part and fragments (`skb->len`).
    pub fn len(&self) -> usize {
        // SAFETY: The skb is valid by the type invariant.
        unsafe { (*self.as_raw()).len as usize }
    }

    /// Whether the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes held in page fragments (`skb->data_len`).
    pub fn data_len(&self) -> usize {
        // SAFETY: The skb is valid by the type invariant.
        unsafe { (*self.as_raw()).data_len as usize }
    }

    /// The bytes in the linear buffer (`skb_headlen()`).
    pub fn headlen(&self) -> usize {
        // SAFETY: The skb is valid by the type invariant.
        unsafe { bindings::skb_headlen(self.as_raw()) as usize }
    }

    /// Whether all the data is in the linear buffer.
    pub fn is_linear(&self) -> bool {
        self.data_len() == 0
    }

    /// The free space before the data (`skb_headroom()`).
    pub fn headroom(&self) -> usize {
        // SAFETY: The skb is valid by the type invariant.
        unsafe { bindings::skb_headroom(self.as_raw()) as usize }
    }

    /// The free space after the data (`skb_tailroom()`); zero for a
    /// non-linear skb, which cannot grow at its tail.
    pub fn tailroom(&self) -> usize {
        // SAFETY: The skb is valid by the type invariant.
        let room = unsafe { bindings::skb_tailroom(self.as_raw()) };
        usize::try_from(room).unwrap_or(0)
    }

    /// The memory the skb accounts for (`skb->truesize`).
    pub fn truesize(&self) -> usize {
        // SAFETY: The skb is valid by the type invariant.
        unsafe { (*self.as_raw()).truesize as usize }
    }

    /// The linear data, `headlen()` bytes from `skb->data`.
    pub fn data(&self) -> &[u8] {
        // SAFETY: `skb->data` is valid for reads of `skb_headlen()` bytes
        // (and never null); by the type invariant they do not change while
        // `self` is borrowed.
        unsafe { core::slice::from_raw_parts((*self.as_raw()).data, self.headlen()) }
    }

    /// Copies `out.len()` bytes at `offset` (linear data or fragments) into
    /// `out` (`skb_copy_bits()`). Fails with `EINVAL` past the end.
    pub fn copy_bits(&self, offset: usize, out: &mut [u8]) -> Result {
        let end = offset.checked_add(out.len()).ok_or(EINVAL)?;
        if end > self.len() {
            return Err(EINVAL);
        }
        // SAFETY: The range is within the packet (checked above) and `out` is
        // valid for writes of its length. Lengths fit `int`: they are at most
        // `skb->len`.
        to_result(unsafe {
            bindings::skb_copy_bits(
                self.as_raw(),
                offset as i32,
                out.as_mut_ptr().cast(),
                out.len() as i32,
            )
        })
    }

    /// Whether the data is shared with a clone (`skb_cloned()`).
    pub fn is_cloned(&self) -> bool {
        // SAFETY: The skb is valid by the type invariant.
        unsafe { bindings::skb_cloned(self.as_raw()) != 0 }
    }

    /// The link-layer protocol (`skb->protocol`, e.g. `ETH_P_IP`), host
    /// order.
    pub fn protocol(&self) -> u16 {
        // SAFETY: The skb is valid by the type invariant.
        u16::from_be(unsafe { bindings::skb_get_protocol(self.as_raw()) })
    }

    /// The queueing priority (`skb->priority`).
    pub fn priority(&self) -> u32 {
        // SAFETY: The skb is valid by the type invariant.
        unsafe { bindings::skb_get_priority(self.as_raw()) }
    }

    /// The firewall mark (`skb->mark`).
    pub fn mark(&self) -> u32 {
        // SAFETY: The skb is valid by the type invariant.
        unsafe { bindings::skb_get_mark(self.as_raw()) }
    }

    /// The checksum state (`skb->ip_summed`).
    pub fn checksum(&self) -> Checksum {
        // SAFETY: The skb is valid by the type invariant.
        match u32::from(unsafe { bindings::skb_get_ip_summed(self.as_raw()) }) {
            bindings::CHECKSUM_UNNECESSARY => Checksum::Unnecessary,
            bindings::CHECKSUM_COMPLETE => Checksum::Complete,
            bindings::CHECKSUM_PARTIAL => Checksum::Partial,
            _ => Checksum::None,
        }
    }

    fn shinfo(&self) -> *mut bindings::skb_shared_info {
        // SAFETY: The skb is valid by the type invariant; its shared info
        // sits at `end` and lives as long as the data.
        unsafe { bindings::skb_shinfo(self.as_raw()) }
    }

    /// The GSO segment size (payload bytes per segment), 0 if not GSO.
    pub fn gso_size(&self) -> u16 {
        // SAFETY: `shinfo()` is valid while `self` is.
        unsafe { (*self.shinfo()).gso_size }
    }

    /// The number of GSO segments.
    pub fn gso_segs(&self) -> u16 {
        // SAFETY: `shinfo()` is valid while `self` is.
        unsafe { (*self.shinfo()).gso_segs }
    }

    /// The GSO type bits (`SKB_GSO_*`).
    pub fn gso_type(&self) -> u32 {
        // SAFETY: `shinfo()` is valid while `self` is.
        unsafe { (*self.shinfo()).gso_type }
    }

    /// Whether the skb is a GSO batch (`skb_is_gso()`).
    pub fn is_gso(&self) -> bool {
        self.gso_size() != 0
    }

    /// The offset of the network header from `data`, negative when the
    /// header lies before the data (e.g. after the stack pulled it).
    pub fn network_offset(&self) -> isize {
        // SAFETY: The skb is valid by the type invariant.
        unsafe { bindings::skb_network_offset(self.as_raw()) as isize }
    }

    /// The offset of the transport header from `data`.
    pub fn transport_offset(&self) -> isize {
        // SAFETY: The skb is valid by the type invariant.
        unsafe { bindings::skb_transport_offset(self.as_raw()) as isize }
    }

    /// `len` bytes of the linear buffer at `off` bytes from `data`; `off`
    /// may be negative to reach headers already pulled (they stay in the
    /// headroom). `None` outside `head .. data + headlen`.
    pub fn linear_at(&self, off: isize, len: usize) -> Option<&[u8]> {
        let start = isize::try_from(self.headroom()).ok()?.checked_add(off)?;
        let start = usize::try_from(start).ok()?;
        let end = start.checked_add(len)?;
        if end > self.headroom() + self.headlen() {
            return None;
        }
        // SAFETY: `head .. data + headlen` is initialised packet memory that
        // does not change while `self` is borrowed; the range is inside it.
        Some(unsafe { core::slice::from_raw_parts((*self.as_raw()).head.add(start), len) })
    }
}

/// An owned skb.
///
/// # Invariants
///
/// `skb` points to a valid `struct sk_buff` of which this object is the only
/// owner: it holds the single reference (`skb->users == 1`), nothing else
/// frees or changes the skb, and it is not on any list. The data may be
/// shared with clones (`skb_cloned()`); it is then only written after
/// `skb_unclone()`. `free` says how the skb is freed on drop.
pub struct SkBuff {
    skb: NonNull<bindings::sk_buff>,
    free: FreeReason,
}

// SAFETY: An owned skb may be freed and used from any context and thread.
unsafe impl Send for SkBuff {}
// SAFETY: Shared references only read (see `SkBuffRef`).
unsafe impl Sync for SkBuff {}

impl SkBuff {
    /// Allocates an empty linear skb with `headroom` bytes reserved for
    /// headers pushed later and at least `size` bytes of tailroom.
    ///
    /// Fails with `EMSGSIZE` above [`MAX_ALLOC`] and `ENOMEM` when out of
    /// memory.
    pub fn alloc(headroom: usize, size: usize, flags: Flags) -> Result<Self> {
        let total = headroom.checked_add(size).ok_or(EMSGSIZE)?;
        if total > MAX_ALLOC {
            return Err(EMSGSIZE);
        }
        // SAFETY: Any size and flags may be passed; the size fits `u32`.
        let skb = unsafe { bindings::alloc_skb(total as u32, (flags | __GFP_NOWARN).as_raw()) };
        let mut skb = Self {
            skb: NonNull::new(skb).ok_or(ENOMEM)?,
            free: FreeReason::Dropped(DropReason::NOT_SPECIFIED),
        };
        // INVARIANT: A new skb has one user and is ours alone.
        skb.reserve(headroom)?;
        Ok(skb)
    }

    /// Takes ownership of an skb.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid skb whose single reference the caller owns and
    /// gives away: nothing else may use or free it afterwards.
    pub unsafe fn from_raw(ptr: NonNull<bindings::sk_buff>) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            skb: ptr,
            free: FreeReason::Dropped(DropReason::NOT_SPECIFIED),
        }
    }

    /// Gives the skb away, e.g. to a C function that consumes it.
    pub fn into_raw(self) -> NonNull<bindings::sk_buff> {
        ManuallyDrop::new(self).skb
    }

    /// Sets how the skb is freed when dropped (the default is a drop with
    /// [`DropReason::NOT_SPECIFIED`]).
    pub fn set_free_reason(&mut self, reason: FreeReason) {
        self.free = reason;
    }

    /// Frees the skb as consumed: its life ended normally.
    pub fn consume(mut self) {
        self.free = FreeReason::Consumed;
    }

    /// Frees the skb as dropped, for `reason`.
    pub fn drop_with_reason(mut self, reason: DropReason) {
        self.free = FreeReason::Dropped(reason);
    }

    fn raw(&self) -> *mut bindings::sk_buff {
        self.skb.as_ptr()
    }

    /// Makes the data private to this skb if it is shared with a clone.
    fn make_writable(&mut self) -> Result {
        // SAFETY: We own the skb; `skb_unclone` copies the data if shared.
        to_result(unsafe { bindings::skb_unclone(self.raw(), bindings::GFP_ATOMIC) })
    }

    /// Reserves `len` bytes of headroom in an empty skb (`skb_reserve()`).
    ///
    /// Fails with `EINVAL` if the skb is not empty and `EMSGSIZE` if the
    /// tailroom is too small.
    pub fn reserve(&mut self, len: usize) -> Result {
        if !self.is_empty() {
            return Err(EINVAL);
        }
        if len > self.tailroom() {
            return Err(EMSGSIZE);
        }
        // SAFETY: We own the empty, linear skb and `len` fits the tailroom
        // (so it also fits `int`).
        unsafe { bindings::skb_reserve(self.raw(), len as i32) };
        Ok(())
    }

    /// Appends `len` zeroed bytes to the linear data (`skb_put_zero()`) and
    /// returns them to be filled.
    ///
    /// Fails with `EMSGSIZE` if the tailroom is too small (a non-linear skb
    /// has none) and `ENOMEM` if shared data cannot be copied.
    pub fn put(&mut self, len: usize) -> Result<&mut [u8]> {
        // `skb_put()` on a non-linear skb panics, even for zero bytes.
        if !self.is_linear() || len > self.tailroom() {
            return Err(EMSGSIZE);
        }
        self.make_writable()?;
        // `skb_unclone` only grows the tailroom.
        // SAFETY: We own the linear skb, the data is private, and `len` fits
        // the tailroom, so `skb_put` does not panic.
        let p = unsafe { bindings::skb_put(self.raw(), len as u32) }.cast::<u8>();
        // SAFETY: `skb_put` returned the old tail: `len` bytes inside the
        // buffer, private to this skb.
        unsafe {
            p.write_bytes(0, len);
            Ok(core::slice::from_raw_parts_mut(p, len))
        }
    }

    /// Appends `data` to the linear data.
    pub fn put_data(&mut self, data: &[u8]) -> Result {
        self.put(data.len())?.copy_from_slice(data);
        Ok(())
    }

    /// Prepends `len` zeroed bytes (`skb_push()`) and returns them.
    ///
    /// Fails with `EMSGSIZE` if the headroom is too small and `ENOMEM` if
    /// shared data cannot be copied.
    pub fn push(&mut self, len: usize) -> Result<&mut [u8]> {
        if len > self.headroom() {
            return Err(EMSGSIZE);
        }
        self.make_writable()?;
        // `skb_unclone` keeps the headroom.
        // SAFETY: We own the skb, the data is private, and `len` fits the
        // headroom, so `skb_push` does not panic.
        let p = unsafe { bindings::skb_push(self.raw(), len as u32) }.cast::<u8>();
        // SAFETY: `skb_push` returned the new `data`: `len` bytes inside the
        // buffer, private to this skb.
        unsafe {
            p.write_bytes(0, len);
            Ok(core::slice::from_raw_parts_mut(p, len))
        }
    }

    /// Prepends `data`.
    pub fn push_data(&mut self, data: &[u8]) -> Result {
        self.push(data.len())?.copy_from_slice(data);
        Ok(())
    }

    /// Removes `len` bytes from the start of the data (`skb_pull()`) and
    /// returns them (they stay in the headroom). Bytes still in fragments
    /// are first moved into the linear buffer (`pskb_may_pull()`).
    ///
    /// Fails with `EINVAL` past the end of the packet and `ENOMEM` if the
    /// linear buffer cannot grow.
    pub fn pull(&mut self, len: usize) -> Result<&[u8]> {
        self.may_pull(len)?;
        // SAFETY: We own the skb and its first `len` bytes are linear, so
        // `skb_pull` succeeds without touching fragments.
        let old = unsafe { bindings::skb_pull(self.raw(), len as u32) };
        if old.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: The pulled bytes are the `len` bytes before the new `data`,
        // in the buffer and borrowed from `self`.
        Ok(unsafe { core::slice::from_raw_parts((*self.raw()).data.sub(len), len) })
    }

    /// Makes the first `len` bytes linear (`pskb_may_pull()`), so that
    /// [`SkBuffRef::data`] covers them.
    ///
    /// Fails with `EINVAL` past the end of the packet and `ENOMEM` if the
    /// linear buffer cannot grow.
    pub fn may_pull(&mut self, len: usize) -> Result {
        if len > self.len() {
            return Err(EINVAL);
        }
        // SAFETY: We own the skb; `len` fits `u32` as it is at most `len()`.
        if unsafe { bindings::pskb_may_pull(self.raw(), len as u32) } {
            Ok(())
        } else {
            Err(ENOMEM)
        }
    }

    /// Cuts the packet to `len` bytes (`pskb_trim()`).
    ///
    /// Fails with `EINVAL` if `len` is longer than the packet and `ENOMEM`
    /// if trimming fragments needs memory.
    pub fn trim(&mut self, len: usize) -> Result {
        if len > self.len() {
            return Err(EINVAL);
        }
        // SAFETY: We own the skb and `len` is at most `skb->len`.
        to_result(unsafe { bindings::pskb_trim(self.raw(), len as u32) })
    }

    /// Moves all the data into the linear buffer (`skb_linearize()`).
    pub fn linearize(&mut self) -> Result {
        // SAFETY: We own the skb.
        to_result(unsafe { bindings::skb_linearize(self.raw()) })
    }

    /// Makes sure `headroom` bytes can be pushed and the headers are
    /// private (`skb_cow_head()`).
    pub fn ensure_headroom(&mut self, headroom: usize) -> Result {
        let headroom = u32::try_from(headroom).map_err(|_| EMSGSIZE)?;
        // SAFETY: We own the skb.
        to_result(unsafe { bindings::skb_cow_head(self.raw(), headroom) })
    }

    /// The linear data, writable: shared data is copied first.
    pub fn data_mut(&mut self) -> Result<&mut [u8]> {
        self.make_writable()?;
        // SAFETY: The data is private to this skb, which we own exclusively
        // through `&mut self`; `data` is valid for `headlen` bytes.
        Ok(unsafe { core::slice::from_raw_parts_mut((*self.raw()).data, self.headlen()) })
    }

    /// A second skb sharing this one's data (`skb_clone()`). Both see the
    /// data as shared until one of them is written to or freed.
    pub fn try_clone(&self, flags: Flags) -> Result<SkBuff> {
        // SAFETY: We own the skb; `skb_clone` does not change it except for
        // the shared-data bookkeeping.
        let c = unsafe { bindings::skb_clone(self.raw(), flags.as_raw()) };
        // INVARIANT: The clone is a new skb with a single user: ours.
        Ok(Self {
            skb: NonNull::new(c).ok_or(ENOMEM)?,
            free: FreeReason::Dropped(DropReason::NOT_SPECIFIED),
        })
    }

    /// Marks the skb as a UDP GSO batch (`SKB_GSO_UDP_L4`) of `segment`-byte
    /// datagrams: the current data is the UDP payload of all of them.
    ///
    /// An skb that fits one segment is left non-GSO. Fails with `EINVAL`
    /// for a zero segment size or more than `u16::MAX` segments, `ENOMEM`
    /// if data shared with a clone cannot be copied (the GSO fields live
    /// with the data).
    pub fn set_gso_udp_l4(&mut self, segment: u16) -> Result {
        if segment == 0 {
            return Err(EINVAL);
        }
        let segs = self.len().div_ceil(usize::from(segment));
        if segs <= 1 {
            return self.clear_gso();
        }
        let segs = u16::try_from(segs).map_err(|_| EINVAL)?;
        self.make_writable()?;
        let sh = self.shinfo();
        // SAFETY: We own the skb and its data (with the shared info at its
        // end) is private to it.
        unsafe {
            (*sh).gso_size = segment;
            (*sh).gso_segs = segs;
            (*sh).gso_type = bindings::SKB_GSO_UDP_L4 as u32;
        }
        Ok(())
    }

    /// Makes the skb a single packet again. Fails with `ENOMEM` if data
    /// shared with a clone cannot be copied.
    pub fn clear_gso(&mut self) -> Result {
        if !self.is_gso() {
            return Ok(());
        }
        self.make_writable()?;
        let sh = self.shinfo();
        // SAFETY: As in `set_gso_udp_l4`.
        unsafe {
            (*sh).gso_size = 0;
            (*sh).gso_segs = 0;
            (*sh).gso_type = 0;
        }
        Ok(())
    }

    /// Sets the checksum state to `CHECKSUM_NONE` (transmit: compute in
    /// software) or `CHECKSUM_UNNECESSARY` (receive: verified).
    ///
    /// `CHECKSUM_COMPLETE` and `CHECKSUM_PARTIAL` need more state than a
    /// flag and fail with `EINVAL`.
    pub fn set_checksum(&mut self, state: Checksum) -> Result {
        let v = match state {
            Checksum::None => bindings::CHECKSUM_NONE,
            Checksum::Unnecessary => bindings::CHECKSUM_UNNECESSARY,
            Checksum::Complete | Checksum::Partial => return Err(EINVAL),
        };
        // SAFETY: We own the skb.
        unsafe { bindings::skb_set_ip_summed(self.raw(), v as u8) };
        Ok(())
    }

    /// Sets `CHECKSUM_PARTIAL`: the checksum over the data from
    /// `start` (offset from `head`) is stored at `start + offset`.
    ///
    /// # Safety
    ///
    /// `start + offset + 2` must be within the linear buffer once the skb is
    /// transmitted.
    pub(crate) unsafe fn set_checksum_partial(&mut self, start: u16, offset: u16) {
        // SAFETY: We own the skb; the caller guarantees the offsets.
        unsafe { bindings::skb_set_csum_partial(self.raw(), start, offset) };
    }

    /// Sets the queueing priority (`skb->priority`).
    pub fn set_priority(&mut self, prio: u32) {
        // SAFETY: We own the skb.
        unsafe { bindings::skb_set_priority(self.raw(), prio) };
    }

    /// Sets the firewall mark (`skb->mark`).
    pub fn set_mark(&mut self, mark: u32) {
        // SAFETY: We own the skb.
        unsafe { bindings::skb_set_mark(self.raw(), mark) };
    }

    /// Charges the skb to `sk`'s send memory (`skb_set_owner_w()`): its
    /// `truesize` counts in `sk_wmem_alloc` until the skb is freed. The
    /// charge holds the socket's memory (`sk_free()` waits for it), so the
    /// skb may outlive any reference to `sk`.
    pub fn set_owner_w(&mut self, sk: &Sock) {
        // SAFETY: We own the skb and `sk` is a live socket.
        unsafe { bindings::skb_set_owner_w(self.raw(), sk.as_raw()) };
    }

    /// Releases the skb's socket charge, if any (`skb_orphan()`).
    pub fn orphan(&mut self) {
        // SAFETY: We own the skb.
        unsafe { bindings::skb_orphan(self.raw()) };
    }
}

impl Deref for SkBuff {
    type Target = SkBuffRef;

    fn deref(&self) -> &SkBuffRef {
        // SAFETY: By the type invariant the skb is valid, and it cannot change
        // while `self` is borrowed shared.
        unsafe { SkBuffRef::from_raw(self.raw()) }
    }
}

impl Drop for SkBuff {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold the only reference.
        unsafe {
            match self.free {
                FreeReason::Consumed => bindings::consume_skb(self.raw()),
                FreeReason::Dropped(r) => bindings::kfree_skb_reason(self.raw(), r.0),
            }
        }
    }
}

#[macros::kunit_tests(rust_kernel_net_skbuff)]
mod tests {
    use super::*;

    /// The linear layout: headroom + headlen + tailroom stays constant.
    fn total(skb: &SkBuff) -> usize {
        skb.headroom() + skb.headlen() + skb.tailroom()
    }

    #[test]
    fn alloc_reserve() -> Result {
        let skb = SkBuff::alloc(64, 256, GFP_KERNEL)?;
        assert_eq!(skb.headroom(), 64);
        assert!(skb.tailroom() >= 256);
        assert_eq!(skb.len(), 0);
        assert!(skb.is_empty());
        assert!(skb.is_linear());
        assert!(!skb.is_cloned());
        assert!(!skb.is_gso());
        assert_eq!(skb.data().len(), 0);
        assert!(skb.truesize() >= 320);
        Ok(())
    }

    #[test]
    fn put_push_pull_trim() -> Result {
        let mut skb = SkBuff::alloc(16, 64, GFP_KERNEL)?;
        let size = total(&skb);
        let tail = skb.tailroom();

        skb.put_data(b"hello")?;
        assert_eq!(skb.len(), 5);
        assert_eq!(skb.headlen(), 5);
        assert_eq!(skb.tailroom(), tail - 5);
        assert_eq!(skb.data(), b"hello");
        assert_eq!(total(&skb), size);

        let hdr = skb.push(3)?;
        assert_eq!(hdr, &[0, 0, 0]);
        hdr.copy_from_slice(b"abc");
        assert_eq!(skb.headroom(), 13);
        assert_eq!(skb.data(), b"abchello");
        assert_eq!(total(&skb), size);

        assert_eq!(skb.pull(3)?, b"abc");
        assert_eq!(skb.headroom(), 16);
        assert_eq!(skb.data(), b"hello");
        // The pulled header is still reachable behind `data`.
        assert_eq!(skb.linear_at(-3, 3), Some(&b"abc"[..]));
        assert_eq!(skb.linear_at(-17, 1), None);
        assert_eq!(skb.linear_at(0, 6), None);

        skb.trim(2)?;
        assert_eq!(skb.data(), b"he");
        assert_eq!(skb.tailroom(), tail - 2);
        assert_eq!(total(&skb), size);

        skb.data_mut()?[0] = b'w';
        assert_eq!(skb.data(), b"we");
        let mut out = [0u8; 2];
        skb.copy_bits(0, &mut out)?;
        assert_eq!(&out, b"we");
        skb.consume();
        Ok(())
    }

    #[test]
    fn out_of_room_fails() -> Result {
        let mut skb = SkBuff::alloc(8, 32, GFP_KERNEL)?;
        let (head, tail) = (skb.headroom(), skb.tailroom());
        assert_eq!(skb.put(tail + 1).err(), Some(EMSGSIZE));
        assert_eq!(skb.push(head + 1).err(), Some(EMSGSIZE));
        assert_eq!(skb.pull(1).err(), Some(EINVAL));
        assert_eq!(skb.trim(1), Err(EINVAL));
        // Nothing moved.
        assert_eq!((skb.headroom(), skb.tailroom(), skb.len()), (head, tail, 0));

        skb.put_data(b"xyz")?;
        assert_eq!(skb.reserve(1), Err(EINVAL));
        assert_eq!(skb.pull(4).err(), Some(EINVAL));
        assert_eq!(skb.pull(usize::MAX).err(), Some(EINVAL));
        assert_eq!(skb.trim(4), Err(EINVAL));
        let mut out = [0u8; 2];
        assert_eq!(skb.copy_bits(2, &mut out), Err(EINVAL));
        assert_eq!(skb.copy_bits(usize::MAX, &mut out), Err(EINVAL));
        assert_eq!(skb.len(), 3);

        // The whole room can be used.
        skb.put(skb.tailroom())?;
        assert_eq!(skb.tailroom(), 0);
        skb.push(skb.headroom())?;
        assert_eq!(skb.headroom(), 0);
        assert_eq!(skb.put(1).err(), Some(EMSGSIZE));
        assert_eq!(skb.push(1).err(), Some(EMSGSIZE));

        assert_eq!(
            SkBuff::alloc(MAX_ALLOC, 1, GFP_KERNEL).err(),
            Some(EMSGSIZE)
        );
        assert_eq!(
            SkBuff::alloc(usize::MAX, 1, GFP_KERNEL).err(),
            Some(EMSGSIZE)
        );
        skb.drop_with_reason(DropReason::PKT_TOO_SMALL);
        Ok(())
    }

    #[test]
    fn clone_shares_then_copies() -> Result {
        let mut a = SkBuff::alloc(16, 64, GFP_KERNEL)?;
        a.put_data(b"shared")?;
        let mut b = a.try_clone(GFP_KERNEL)?;
        assert!(a.is_cloned());
        assert!(b.is_cloned());
        assert_eq!(b.data(), b"shared");
        assert_eq!(a.data().as_ptr(), b.data().as_ptr());

        // Writing to one copies its data first.
        b.data_mut()?[0] = b'S';
        assert!(!b.is_cloned());
        assert!(a.data().as_ptr() != b.data().as_ptr());
        assert_eq!(a.data(), b"shared");
        assert_eq!(b.data(), b"Shared");
        assert!(!a.is_cloned());

        // Growing a clone does not show in the other.
        let c = a.try_clone(GFP_KERNEL)?;
        a.put_data(b"!")?;
        assert_eq!(a.data(), b"shared!");
        assert_eq!(c.data(), b"shared");
        drop(c);
        assert!(!a.is_cloned());
        Ok(())
    }

    #[test]
    fn gso_and_metadata() -> Result {
        let mut skb = SkBuff::alloc(64, 300, GFP_KERNEL)?;
        skb.put(250)?;
        skb.set_gso_udp_l4(100)?;
        assert!(skb.is_gso());
        assert_eq!(skb.gso_size(), 100);
        assert_eq!(skb.gso_segs(), 3);
        assert_eq!(skb.gso_type(), bindings::SKB_GSO_UDP_L4 as u32);
        skb.clear_gso()?;
        assert!(!skb.is_gso());
        // The GSO fields live with the data: a clone's are its own once set.
        skb.set_gso_udp_l4(100)?;
        let mut c = skb.try_clone(GFP_KERNEL)?;
        c.clear_gso()?;
        assert!(!c.is_gso());
        assert!(skb.is_gso());
        skb.clear_gso()?;
        skb.set_gso_udp_l4(250)?;
        assert!(!skb.is_gso());
        assert_eq!(skb.set_gso_udp_l4(0), Err(EINVAL));

        assert_eq!(skb.checksum(), Checksum::None);
        skb.set_checksum(Checksum::Unnecessary)?;
        assert_eq!(skb.checksum(), Checksum::Unnecessary);
        assert_eq!(skb.set_checksum(Checksum::Partial), Err(EINVAL));
        skb.set_priority(6);
        skb.set_mark(0x42);
        assert_eq!((skb.priority(), skb.mark()), (6, 0x42));
        skb.set_free_reason(FreeReason::Consumed);
        Ok(())
    }

    #[test]
    fn raw_round_trip() -> Result {
        let mut skb = SkBuff::alloc(0, 16, GFP_KERNEL)?;
        skb.put_data(&[1, 2, 3])?;
        let raw = skb.into_raw();
        // SAFETY: `raw` came from `into_raw` just above; we give the only
        // reference back.
        let skb = unsafe { SkBuff::from_raw(raw) };
        assert_eq!(skb.data(), &[1, 2, 3]);
        Ok(())
    }
}
