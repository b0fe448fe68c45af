//! Claim and commit: a writer fills room past the published length in place, then publishes
//! any prefix of it with one release store of the length.
//!
//! [`Array::claim_raw`] takes the right to change the length exactly as an append does (the
//! lease holder takes no lock; any other handle takes the append lock, and its own lock), makes
//! room for `count` elements (growing the store with the same allocation as an append, so no
//! write into the room can fault), and returns a pointer to that room. The right stays with the
//! handle, in its [`ClaimState`], until [`Array::commit`] publishes the first `k` claimed
//! elements or [`Array::abort`] publishes none; both give the right back. Readers see nothing of
//! the room until the commit, and then all `k` elements at once.
//!
//! While a claim is open, the handle's other length-changing calls fail with `Busy` (when they
//! come from the claiming thread, or from any thread of a lease holder's unsynchronised C
//! calls) or wait for the commit, bounded by the handle's timeout (other threads, through the
//! handle's own lock). The lease holder's lock-free append is shut for the claim's duration by
//! setting its own length to `u64::MAX`, which its fast path compares against, so the fast
//! path costs nothing more. A writer killed between claim and commit is recovered from exactly
//! as one killed mid-append: its lock or lease names a dead slot, and what it claimed was never
//! published. Freeing a handle with an open claim aborts it. In a forked child an inherited
//! handle's claim is the parent's: commit and abort there fail with `WrongProcess` and touch
//! nothing.

use crate::array::Array;
use crate::dtype::Element;
use crate::error::{bail, ErrorKind, Result};
use crate::region;
use crate::writer::Writer;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

const OPEN: u32 = 1;
/// The claim holds the handle's own lock.
const LOCAL: u32 = 2;
/// The claim holds the append lock, whose word is `lock_word`.
const LOCKED: u32 = 4;

/// How many elements a batching appender claims at a time unless told otherwise: 4096 (16 KiB
/// of `u32`), enough to make the claim and commit calls vanish per element, few enough that
/// readers see progress often and a block stays in the cache.
pub const DEFAULT_BATCH: usize = 4096;

/// The claim open on a handle, if any.
#[derive(Debug, Default)]
pub(crate) struct ClaimState {
    /// 0 when no claim is open; else `OPEN`, with `LOCAL` and `LOCKED` as held.
    flags: AtomicU32,
    lock_word: AtomicU64,
    /// The published length when the claim was made: the claimed room starts there.
    start: AtomicU64,
    /// Elements claimed.
    count: AtomicU64,
    /// The claiming thread (`pthread_self`), so that it is told at once, instead of waiting for
    /// itself, when it calls a length-changing function before committing.
    owner: AtomicU64,
}

fn this_thread() -> u64 {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as u64 }
}

impl ClaimState {
    /// Whether a claim is open on the handle.
    #[inline]
    pub(crate) fn is_open(&self) -> bool {
        self.flags.load(Acquire) != 0
    }
    /// Whether a claim is open and the calling thread made it.
    pub(crate) fn held_by_this_thread(&self) -> bool {
        self.is_open() && self.owner.load(Relaxed) == this_thread()
    }
}

impl Array {
    /// Claims room for `count` elements (a whole number of rows) past the published length and
    /// returns a pointer to the first. Write the elements there (shared memory: raw pointer
    /// writes only, never a Rust reference), then [`Array::commit`] the first `k` of them, or
    /// [`Array::abort`]. The store grows first if needed, allocated for real, so no write into
    /// the room can fault.
    ///
    /// Until the commit or abort this handle keeps the right to change the length: the append
    /// lock (unless it holds the lease) and its own lock, so other threads' length-changing
    /// calls on it wait (bounded by the timeout) and other appenders wait or get `Busy` as they
    /// would during a long append. The claiming thread's own length-changing calls fail with
    /// `Busy`. Readers see nothing of the room until the commit.
    pub fn claim_raw(&self, count: u64) -> Result<*mut u8> {
        self.claim_impl(count, true)
    }

    /// [`Array::claim_raw`] without serialising this handle's threads: the lease holder takes
    /// no lock at all (the C ABI's contract).
    ///
    /// # Safety
    /// As [`Array::append_raw_unsync`]: no other thread may be in a length-changing call of
    /// this handle (claims included) until the commit or abort.
    pub unsafe fn claim_raw_unsync(&self, count: u64) -> Result<*mut u8> {
        self.claim_impl(count, false)
    }

    fn claim_impl(&self, count: u64, sync: bool) -> Result<*mut u8> {
        let op = "claim";
        self.bytes_of(op, count)?;
        self.check_rows(op, "count", count)?;
        let w = self.writer(op, sync)?;
        let n = w.len();
        // Without the lease the length is the header's: a peer may have written anything there.
        self.ensure_mapped(op, n)?;
        self.room_for(op, n, count)?;
        let ptr = self.region.elem_ptr(n);
        let (lock, local) = w.keep();
        let c = &self.claim;
        c.start.store(n, Relaxed);
        c.count.store(count, Relaxed);
        c.lock_word.store(lock.unwrap_or(0), Relaxed);
        c.owner.store(this_thread(), Relaxed);
        if self.lease {
            // Shuts the lock-free append until the claim ends (see the module comment).
            self.fork.local_len.store(u64::MAX, Relaxed);
        }
        let flags = OPEN | if local { LOCAL } else { 0 } | if lock.is_some() { LOCKED } else { 0 };
        c.flags.store(flags, Release);
        Ok(ptr)
    }

    /// Publishes the first `count` elements of the open claim (a whole number of rows, at most
    /// the number claimed; 0 publishes nothing) with one release store of the length, and ends
    /// the claim. Readers then see all of them at once. An invalid `count` is refused and
    /// leaves the claim open.
    pub fn commit(&self, count: u64) -> Result<()> {
        self.end_claim("commit", Some(count))
    }

    /// Ends the open claim without publishing anything.
    pub fn abort(&self) -> Result<()> {
        self.end_claim("abort", None)
    }

    fn end_claim(&self, op: &str, count: Option<u64>) -> Result<()> {
        self.check_writable(op)?;
        let c = &self.claim;
        if !c.is_open() {
            bail!(InvalidArgument, "{op} {}: no claim is open on this handle", self.uri);
        }
        if let Some(k) = count {
            let claimed = c.count.load(Relaxed);
            if k > claimed {
                bail!(InvalidArgument, "{op} {}: {k} elements exceed the {claimed} claimed", self.uri);
            }
            self.check_rows(op, "count", k)?;
        }
        let flags = c.flags.swap(0, AcqRel);
        if flags == 0 {
            bail!(InvalidArgument, "{op} {}: no claim is open on this handle", self.uri);
        }
        let start = c.start.load(Relaxed);
        let lock = (flags & LOCKED != 0).then(|| c.lock_word.load(Relaxed));
        // SAFETY: these are what `claim_impl` kept, and the swap above ended the claim once.
        let w = unsafe { Writer::resume(self, lock, flags & LOCAL != 0) };
        match count {
            Some(k) => w.publish(start + k),
            None if self.lease => self.fork.local_len.store(start, Relaxed),
            None => {}
        }
        Ok(())
    }

    /// When the handle is freed: an open claim publishes nothing and lets the append lock go
    /// (its own lock dies with it).
    pub(crate) fn abort_on_free(&self) {
        let flags = self.claim.flags.swap(0, AcqRel);
        if flags & LOCKED != 0 {
            self.coord().unlock(self.claim.lock_word.load(Relaxed));
        }
    }

    /// A batching appender: [`Appender::push`] writes into room claimed [`DEFAULT_BATCH`]
    /// elements at a time and commits each block when it is full, on [`Appender::flush`] and
    /// when dropped. For a one-dimensional array of `T`.
    pub fn appender<T: Element>(&self) -> Result<Appender<'_, T>> {
        self.appender_with_batch(DEFAULT_BATCH)
    }

    /// [`Array::appender`] claiming `batch` elements at a time (at least 1).
    pub fn appender_with_batch<T: Element>(&self, batch: usize) -> Result<Appender<'_, T>> {
        if T::DTYPE != self.dtype() {
            bail!(
                TypeMismatch,
                "appender {}: array holds {}, not {}",
                self.uri,
                self.dtype().name(),
                T::DTYPE.name()
            );
        }
        if self.row_size() != 1 {
            bail!(
                InvalidArgument,
                "appender {}: the array has rows of {} elements; claim and commit whole rows instead",
                self.uri,
                self.row_size()
            );
        }
        if batch == 0 || self.bytes_of("appender", batch as u64).is_err() {
            bail!(
                InvalidArgument,
                "appender {}: batch {batch} must be at least 1 and fit in memory",
                self.uri
            );
        }
        self.check_writable("appender")?;
        Ok(Appender { array: self, ptr: std::ptr::null_mut(), filled: 0, room: 0, batch, _t: PhantomData })
    }
}

/// Appends through claimed room: each [`Appender::push`] is a store into shared memory and an
/// increment, with a claim and a commit once per block. Readers see a block when it is
/// committed: as soon as it is full, on [`Appender::flush`], and when the appender is dropped
/// (which ignores errors: call `flush` to see them).
///
/// While a block is open the array's handle holds the right to append (see
/// [`Array::claim_raw`]): other appenders wait for the block, so flush when you pause.
pub struct Appender<'a, T: Element> {
    array: &'a Array,
    /// The claimed room (shared memory; never made into a reference), or null.
    ptr: *mut u8,
    filled: usize,
    room: usize,
    batch: usize,
    _t: PhantomData<T>,
}

impl<T: Element> Appender<'_, T> {
    /// Appends `value`: published when its block fills (at once, by this call), on
    /// [`Appender::flush`], or when the appender is dropped.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<()> {
        // An open block always has room: a full one is committed at once.
        if self.filled == self.room {
            self.next_block()?;
        }
        let size = std::mem::size_of::<T>();
        // SAFETY: filled < room, so the element lies in the claimed room, inside the mapping and
        // allocated; T is an element type of exactly `size` bytes.
        unsafe { region::store_elem((&value as *const T).cast(), self.ptr.add(self.filled * size), size) };
        self.filled += 1;
        if self.filled == self.room {
            return self.flush();
        }
        Ok(())
    }

    /// Appends all of `values`, block by block.
    pub fn extend_from_slice(&mut self, mut values: &[T]) -> Result<()> {
        while !values.is_empty() {
            if self.filled == self.room {
                self.next_block()?;
            }
            let n = values.len().min(self.room - self.filled);
            let size = std::mem::size_of::<T>();
            // SAFETY: as in push, for n elements; values is private memory.
            unsafe { region::store_elems(values.as_ptr().cast(), self.ptr.add(self.filled * size), n, size) };
            self.filled += n;
            values = &values[n..];
            if self.filled == self.room {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Commits what has been pushed and ends the block: readers see it, and other appenders
    /// may go on. The next push claims a new block.
    pub fn flush(&mut self) -> Result<()> {
        if self.room == 0 {
            return Ok(());
        }
        let filled = std::mem::take(&mut self.filled);
        self.room = 0;
        self.ptr = std::ptr::null_mut();
        self.array.commit(filled as u64)
    }

    /// Elements pushed but not yet committed.
    pub fn pending(&self) -> usize {
        self.filled
    }

    /// Elements claimed per block.
    pub fn batch(&self) -> usize {
        self.batch
    }

    #[cold]
    fn next_block(&mut self) -> Result<()> {
        self.flush()?;
        let ptr = match self.array.claim_raw(self.batch as u64) {
            Ok(p) => (p, self.batch),
            // Near the maximum capacity (or a full file system) a whole block may not fit: go
            // on one element at a time, as append would.
            Err(e) if e.kind() == ErrorKind::NoSpace && self.batch > 1 => (self.array.claim_raw(1)?, 1),
            Err(e) => return Err(e),
        };
        (self.ptr, self.room) = ptr;
        Ok(())
    }
}

impl<T: Element> Drop for Appender<'_, T> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<T: Element> std::fmt::Debug for Appender<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender")
            .field("uri", &self.array.uri())
            .field("pending", &self.filled)
            .field("batch", &self.batch)
            .finish()
    }
}
