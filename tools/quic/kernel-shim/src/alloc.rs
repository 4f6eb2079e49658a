// SPDX-License-Identifier: GPL-2.0

//! `kernel::alloc` for the host: [`KVec`], [`KBox`], [`AllocError`] and
//! [`Flags`].

use core::fmt;
use core::ops::{Deref, DerefMut};
use std_alloc::boxed::Box;
use std_alloc::vec::Vec;

/// Allocation failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError;

/// Allocation flags; accepted and ignored on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(u32);

/// The GFP flags the core may name.
pub mod flags {
    use super::Flags;
    /// `GFP_KERNEL`.
    pub const GFP_KERNEL: Flags = Flags(0);
    /// `GFP_ATOMIC`.
    pub const GFP_ATOMIC: Flags = Flags(1);
    /// `GFP_NOWAIT`.
    pub const GFP_NOWAIT: Flags = Flags(2);
    /// `__GFP_NOWARN`.
    pub const __GFP_NOWARN: Flags = Flags(4);
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The error of [`KVec::remove`] with an out-of-bounds index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoveError;

/// The error of [`KVec::push_within_capacity`]: the vector is full.
pub struct PushError<T>(pub T);

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PushError")
    }
}

/// The error of [`KVec::insert_within_capacity`].
pub enum InsertError<T> {
    /// The index is past the end.
    IndexOutOfBounds(T),
    /// The vector is full.
    OutOfCapacity(T),
}

impl<T> fmt::Debug for InsertError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::IndexOutOfBounds(_) => f.write_str("IndexOutOfBounds"),
            InsertError::OutOfCapacity(_) => f.write_str("OutOfCapacity"),
        }
    }
}

/// A growable array whose every allocation is fallible, like the kernel's.
///
/// Like the kernel's `KVec`, it is not `Clone` (cloning would allocate
/// infallibly) and not `Hash`.
#[derive(PartialEq, Eq)]
pub struct KVec<T>(Vec<T>);

/// Like the kernel's: an empty vector for any `T`.
impl<T> Default for KVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for KVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> KVec<T> {
    /// An empty vector; does not allocate.
    pub const fn new() -> Self {
        KVec(Vec::new())
    }

    /// A vector with room for `capacity` elements.
    pub fn with_capacity(capacity: usize, _flags: Flags) -> Result<Self, AllocError> {
        let mut v = Vec::new();
        v.try_reserve_exact(capacity).map_err(|_| AllocError)?;
        Ok(KVec(v))
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Allocated room.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// The elements as a mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.0
    }

    /// Ensures room for `additional` more elements.
    pub fn reserve(&mut self, additional: usize, _flags: Flags) -> Result<(), AllocError> {
        self.0.try_reserve(additional).map_err(|_| AllocError)
    }

    /// Appends `v`, growing if needed.
    pub fn push(&mut self, v: T, flags: Flags) -> Result<(), AllocError> {
        self.reserve(1, flags)?;
        self.0.push(v);
        Ok(())
    }

    /// Appends `v` if there is room, without allocating.
    pub fn push_within_capacity(&mut self, v: T) -> Result<(), PushError<T>> {
        if self.0.len() < self.0.capacity() {
            self.0.push(v);
            Ok(())
        } else {
            Err(PushError(v))
        }
    }

    /// Inserts `element` at `index` if there is room, without allocating.
    pub fn insert_within_capacity(
        &mut self,
        index: usize,
        element: T,
    ) -> Result<(), InsertError<T>> {
        if index > self.0.len() {
            return Err(InsertError::IndexOutOfBounds(element));
        }
        if self.0.len() >= self.0.capacity() {
            return Err(InsertError::OutOfCapacity(element));
        }
        self.0.insert(index, element);
        Ok(())
    }

    /// Removes and returns the last element.
    pub fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }

    /// Removes and returns the element at `i`, shifting the rest down.
    pub fn remove(&mut self, i: usize) -> Result<T, RemoveError> {
        if i < self.0.len() {
            Ok(self.0.remove(i))
        } else {
            Err(RemoveError)
        }
    }

    /// Drops every element; keeps the allocation.
    pub fn clear(&mut self) {
        self.0.clear()
    }

    /// Keeps the first `len` elements.
    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len)
    }

    /// Keeps the elements for which `f` returns true.
    pub fn retain(&mut self, mut f: impl FnMut(&mut T) -> bool) {
        self.0.retain_mut(|x| f(x))
    }

    /// Removes every element, yielding them in order.
    pub fn drain_all(&mut self) -> impl Iterator<Item = T> + '_ {
        self.0.drain(..)
    }
}

impl<T: Clone> KVec<T> {
    /// Appends clones of `other`'s elements.
    pub fn extend_from_slice(&mut self, other: &[T], flags: Flags) -> Result<(), AllocError> {
        self.reserve(other.len(), flags)?;
        self.0.extend_from_slice(other);
        Ok(())
    }

    /// Appends `n` clones of `value`.
    pub fn extend_with(&mut self, n: usize, value: T, flags: Flags) -> Result<(), AllocError> {
        self.reserve(n, flags)?;
        self.0.resize(self.0.len() + n, value);
        Ok(())
    }

    /// Resizes to `new_len`, filling with `value`.
    pub fn resize(&mut self, new_len: usize, value: T, flags: Flags) -> Result<(), AllocError> {
        if new_len > self.0.len() {
            self.extend_with(new_len - self.0.len(), value, flags)
        } else {
            self.0.truncate(new_len);
            Ok(())
        }
    }

    /// A vector of `n` clones of `value`.
    pub fn from_elem(value: T, n: usize, flags: Flags) -> Result<Self, AllocError> {
        let mut v = Self::with_capacity(n, flags)?;
        v.extend_with(n, value, flags)?;
        Ok(v)
    }
}

impl<T> Deref for KVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> DerefMut for KVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<'a, T> IntoIterator for &'a KVec<T> {
    type Item = &'a T;
    type IntoIter = core::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut KVec<T> {
    type Item = &'a mut T;
    type IntoIter = core::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut()
    }
}

impl<T> IntoIterator for KVec<T> {
    type Item = T;
    type IntoIter = std_alloc::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A heap allocation holding one `T`, like the kernel's `KBox<T>`.
///
/// Only the kernel's subset the core uses is mirrored: the fallible
/// [`KBox::new`], `Deref`, `DerefMut`, `Debug` and dropping. There is no
/// infallible constructor, and the box is not `Clone`. Unlike `std`'s
/// `Box`, it is an ordinary type for the borrow checker (no moving out,
/// no disjoint borrows of the fields behind it), as in the kernel.
pub struct KBox<T>(Box<[T; 1]>);

impl<T> KBox<T> {
    /// Moves `x` to a new heap allocation.
    pub fn new(x: T, _flags: Flags) -> Result<Self, AllocError> {
        // `std` has no stable fallible `Box` constructor: allocate through a
        // vector, whose reservation is fallible, and keep its one-element
        // buffer (exactly sized, so no reallocation).
        let mut v = Vec::new();
        v.try_reserve_exact(1).map_err(|_| AllocError)?;
        v.push(x);
        let one: Box<[T; 1]> = v.into_boxed_slice().try_into().map_err(|_| AllocError)?;
        Ok(KBox(one))
    }
}

impl<T> Deref for KBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        let [x] = &*self.0;
        x
    }
}

impl<T> DerefMut for KBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        let [x] = &mut *self.0;
        x
    }
}

impl<T: fmt::Debug> fmt::Debug for KBox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kbox_holds_and_drops_its_value() {
        let counter = std_alloc::rc::Rc::new(());
        let mut b = KBox::new(
            (std_alloc::rc::Rc::clone(&counter), [7u8; 4096]),
            flags::GFP_ATOMIC,
        )
        .unwrap();
        assert_eq!(std_alloc::rc::Rc::strong_count(&counter), 2);
        b.1[0] = 1;
        assert_eq!((b.1[0], b.1[1]), (1, 7));
        drop(b);
        assert_eq!(std_alloc::rc::Rc::strong_count(&counter), 1);
        let z = KBox::new((), flags::GFP_ATOMIC).unwrap();
        assert_eq!(*z, ());
    }
}
