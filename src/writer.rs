//! Who may change the length: the lease holder, or a handle holding the append lock.
//!
//! Every length-changing call asks [`Array::writer`] once for a [`Writer`], which decides the
//! lease-or-lock question in one place and publishes the new length when the call is done.

use crate::array::Array;
use crate::error::{Error, ErrorKind, Result};
use crate::sys;
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::time::{Duration, Instant};

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

    /// Takes the lock if it is free.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<LocalGuard<'_>> {
        self.0.compare_exchange(0, 1, Acquire, Relaxed).is_ok().then(|| LocalGuard(self))
    }

    /// Takes the lock, waiting at most until `deadline`.
    #[cold]
    pub(crate) fn lock_until(&self, deadline: Instant) -> Option<LocalGuard<'_>> {
        loop {
            if self.0.swap(2, Acquire) == 0 {
                return Some(LocalGuard(self));
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            sys::futex_wait(&self.0, 2, (deadline - now).min(Duration::from_millis(100)));
        }
    }
}

impl LocalGuard<'_> {
    /// Keeps the lock held beyond this guard (an open claim); [`Writer::resume`] gives it back.
    pub(crate) fn keep(self) {
        std::mem::forget(self);
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

    /// Publishes `n` as the new length, after the elements it covers. The readers sleeping
    /// until the length changes are woken when the writer is dropped, after the append lock is
    /// released (a reader woken while it is still held would find it taken if it appends in turn).
    #[inline(always)]
    pub(crate) fn publish(&self, n: u64) {
        self.array.region.len_word().store(n, Release);
        if self.lock.is_none() {
            self.array.fork.local_len.store(n, Relaxed);
        }
    }

    /// Ends this guard without releasing what it holds, for a claim that keeps the right to
    /// change the length across calls: returns the append-lock word held (if any) and whether
    /// the handle's own lock is held. [`Writer::resume`] takes them back.
    pub(crate) fn keep(mut self) -> (Option<u64>, bool) {
        let lock = self.lock.take();
        let local = self._local.take().map(LocalGuard::keep).is_some();
        (lock, local)
    }

    /// The writer that [`Writer::keep`] left: releases what it holds when dropped.
    ///
    /// # Safety
    /// `lock` and `local` must be what `keep` returned for this array, not yet resumed.
    pub(crate) unsafe fn resume(array: &Array, lock: Option<u64>, local: bool) -> Writer<'_> {
        let _local = local.then(|| LocalGuard(&array.mutex));
        Writer { array, _local, lock }
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if let Some(word) = self.lock {
            crate::lock::unlock(&self.array.region, word);
        }
        // After any publish (and harmlessly after a call that published nothing): one load when
        // no reader sleeps.
        if self.array.region.len_waiters().load(Relaxed) & crate::wait::COUNT_MASK != 0 {
            self.array.region.wake_len_waiters();
        }
    }
}

impl Array {
    /// The right to change the length for `op`. `sync`: serialise with this handle's other
    /// threads (always for handles without the lease; for the lease holder, unless the caller
    /// guarantees one thread at a time, which is the C contract of its calls).
    pub(crate) fn writer(&self, op: &str, sync: bool) -> Result<Writer<'_>> {
        self.check_growable(op)?;
        self.check_writable(op)?;
        if self.lease {
            let local = if sync {
                Some(self.local(op)?)
            } else {
                if self.claim.is_open() {
                    return Err(self.claim_open_error(op));
                }
                None
            };
            return Ok(Writer { array: self, _local: local, lock: None });
        }
        let local = self.local(op)?;
        let me = self.slot_locked().map_err(|e| e.context(format_args!("{op}")))?;
        let coord = self.coord();
        let word = coord.lock(me).map_err(|e| e.context(format_args!("{op}")))?;
        let w = Writer { array: self, _local: Some(local), lock: Some(word) };
        coord.check_no_lease(op, me)?;
        Ok(w)
    }
}

impl Array {
    /// This handle's own lock, for `op`. Another thread may hold it for long only through an
    /// open claim: the wait is bounded by the handle's timeout (`Busy`), and the claiming
    /// thread itself is told at once instead of waiting for itself.
    #[inline]
    pub(crate) fn local(&self, op: &str) -> Result<LocalGuard<'_>> {
        match self.mutex.try_lock() {
            Some(g) => Ok(g),
            None => self.local_contended(op),
        }
    }

    #[cold]
    fn local_contended(&self, op: &str) -> Result<LocalGuard<'_>> {
        if self.claim.held_by_this_thread() {
            return Err(self.claim_open_error(op));
        }
        let ms = self.timeout_ms();
        self.mutex.lock_until(Instant::now() + Duration::from_millis(ms)).ok_or_else(|| {
            Error::new(
                ErrorKind::Busy,
                format!(
                    "{op} {}: another thread of this process held this handle for more than {ms} ms \
                     (an open claim not yet committed, or a call waiting for the append lock)",
                    self.uri
                ),
            )
        })
    }

    /// The error of a length-changing call made while this handle has a claim open.
    #[cold]
    pub(crate) fn claim_open_error(&self, op: &str) -> Error {
        Error::new(
            ErrorKind::Busy,
            format!("{op} {}: this handle has a claim open (mba_claim); commit or abort it first", self.uri),
        )
    }
}
