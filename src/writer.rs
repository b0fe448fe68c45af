//! Who may change the length: the lease holder, or a handle holding the append lock.
//!
//! Every length-changing call asks [`Array::writer`] once for a [`Writer`], which decides the
//! lease-or-lock question in one place and publishes the new length when the call is done.

use crate::array::Array;
use crate::error::Result;
use crate::sys;
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::time::Duration;

/// A handle's own lock, serialising its threads' length-changing calls: a compare-and-swap to
/// take, a swap to give back, a futex to sleep. (No poisoning: nothing it guards can be left
/// half-done by a panic, and `std::sync::Mutex`'s poison checks read thread-local state, a
/// function call in a shared library, on every append.)
#[derive(Debug, Default)]
pub(crate) struct LocalLock(AtomicU32);

/// Holds a [`LocalLock`]; releases it on drop.
pub(crate) struct LocalGuard<'a>(&'a LocalLock);

impl LocalLock {
    #[inline]
    pub(crate) fn lock(&self) -> LocalGuard<'_> {
        if self.0.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
            self.lock_contended();
        }
        LocalGuard(self)
    }

    #[cold]
    fn lock_contended(&self) {
        // 0 free, 1 held, 2 held with sleepers.
        while self.0.swap(2, Acquire) != 0 {
            sys::futex_wait(&self.0, 2, Duration::from_millis(100));
        }
    }
}

impl Drop for LocalGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.0 .0.swap(0, Release) == 2 {
            sys::futex_wake(&self.0 .0, 1);
        }
    }
}

/// The right to change an array's length, for one call.
pub(crate) struct Writer<'a> {
    pub(crate) array: &'a Array,
    /// This handle's own mutex, serialising its threads (absent for an unsynchronised call of
    /// the lease holder, whose caller promised one thread at a time).
    pub(crate) _local: Option<LocalGuard<'a>>,
    /// The append-lock word this call holds, released on drop (absent for the lease holder).
    pub(crate) lock: Option<u64>,
}

impl Writer<'_> {
    /// The current length: the lease holder's own count, or the header's under the lock.
    #[inline(always)]
    pub(crate) fn len(&self) -> u64 {
        if self.lock.is_none() {
            self.array.fork.local_len.load(Relaxed)
        } else {
            self.array.region.len_word().load(Relaxed)
        }
    }

    /// Publishes `n` as the new length, after the elements it covers.
    #[inline(always)]
    pub(crate) fn publish(&self, n: u64) {
        self.array.region.len_word().store(n, Release);
        if self.lock.is_none() {
            self.array.fork.local_len.store(n, Relaxed);
        }
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if let Some(word) = self.lock {
            self.array.coord().unlock(word);
        }
    }
}

impl Array {
    /// The right to change the length for `op`. `sync`: serialise with this handle's other
    /// threads (always for handles without the lease; for the lease holder, unless the caller
    /// guarantees one thread at a time, which is the C contract of its calls).
    pub(crate) fn writer(&self, op: &str, sync: bool) -> Result<Writer<'_>> {
        self.check_writable(op)?;
        if self.lease {
            let local = sync.then(|| self.mutex.lock());
            return Ok(Writer { array: self, _local: local, lock: None });
        }
        let local = self.mutex.lock();
        let me = self.slot_locked().map_err(|e| e.context(format_args!("{op}")))?;
        let coord = self.coord();
        let word = coord.lock(me).map_err(|e| e.context(format_args!("{op}")))?;
        let w = Writer { array: self, _local: Some(local), lock: Some(word) };
        coord.check_no_lease(op, me)?;
        Ok(w)
    }
}
