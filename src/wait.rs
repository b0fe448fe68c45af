//! Readers that sleep until the length reaches a value, woken by appenders through a futex.
//!
//! The futex word is the low 32 bits of the header's `len`: every publish changes it, so a
//! sleeper that read the length and then asks the kernel to sleep while those 32 bits are
//! unchanged can never miss an append that came in between. Appenders only call `FUTEX_WAKE`
//! when the header's `len_waiters` says someone sleeps, so with no sleeper a publish costs one
//! more load of a word in the cache line it has just written.
//!
//! `len_waiters` holds a count of registered sleepers in its low 16 bits and an *epoch* in its
//! high 16 bits. A sleeper killed while asleep would leave the count raised forever, and every
//! publish would pay a system call; so an appender whose wake-ups have found nobody asleep for a
//! whole second (and at least 64 times in a row) starts a new epoch with a count of 0. Live
//! sleepers notice the new epoch when they next wake and register again; none sleeps longer than
//! [`SLICE`] at a time, so none is stranded.
//!
//! The appender stores `len` and then loads `len_waiters` without a fence (a fence on every
//! publish would cost more than the whole append), so a sleeper that registers at the very moment
//! of a publish may not be woken by it: a sleeper's first sleep after registering is therefore
//! short ([`FIRST_SLICE`]), long enough for any store to become visible.
//!
//! A read-only handle cannot write `len_waiters` (its mapping is read-only, and a reader must not
//! be able to slow writers down): it sleeps on the same futex in short slices, from
//! [`RO_SLICE_MIN`] doubling to [`RO_SLICE_MAX`], and is woken at once whenever a registered
//! sleeper exists, since appenders wake every sleeper on the word.

use crate::array::Array;
use crate::error::Result;
use crate::region::Region;
use crate::sys;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

/// The sleeper count in `len_waiters`; the bits above it are the epoch.
pub(crate) const COUNT_MASK: u32 = 0xFFFF;
const EPOCH_ONE: u32 = 1 << 16;
/// How long a waiter spins, re-reading the length, before it sleeps.
const SPIN: Duration = Duration::from_micros(5);
/// The first sleep after registering: covers a publish that raced the registration.
pub(crate) const FIRST_SLICE: Duration = Duration::from_micros(200);
/// The longest a registered sleeper sleeps before it looks again (its epoch may have changed).
pub(crate) const SLICE: Duration = Duration::from_millis(100);
/// The sleeps of a handle that cannot register (read-only, or 65,535 sleepers already).
pub(crate) const RO_SLICE_MIN: Duration = Duration::from_micros(50);
pub(crate) const RO_SLICE_MAX: Duration = Duration::from_millis(2);
/// An appender starts a new epoch after this many wake-ups in a row found nobody asleep...
const HEAL_WAKES: u32 = 64;
/// ...over at least this long.
const HEAL_NS: u64 = 1_000_000_000;

/// A handle's record of its wake-ups that found nobody asleep.
#[derive(Debug, Default)]
pub(crate) struct WakeRecord {
    /// Wake-ups in a row that woke no one.
    wasted: AtomicU32,
    /// When the first of them happened (monotonic nanoseconds).
    since_ns: AtomicU64,
}

impl Region {
    /// Publishes `n` as the length (a release store, after the elements it covers), then wakes
    /// the readers sleeping until it changes, if the header counts any: with none, one load of
    /// a word in the cache line just written.
    #[inline(always)]
    pub(crate) fn publish_len(&self, n: u64) {
        // Both addresses first, from one load of the base.
        let (len, waiters) = (self.len_word(), self.len_waiters());
        len.store(n, Release);
        if waiters.load(Relaxed) & COUNT_MASK != 0 {
            self.wake_len_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_len_slow(&self) {
        let r = &self.wakes;
        if sys::futex_wake_at(self.len_futex(), i32::MAX) > 0 {
            r.wasted.store(0, Relaxed);
            return;
        }
        let now = sys::monotonic_ns();
        let run = r.wasted.fetch_add(1, Relaxed);
        if run == 0 {
            r.since_ns.store(now, Relaxed);
            return;
        }
        if run + 1 >= HEAL_WAKES && now.saturating_sub(r.since_ns.load(Relaxed)) >= HEAL_NS {
            // The count names sleepers that have not slept for a second: killed ones. New epoch.
            let w = self.len_waiters();
            let cur = w.load(Relaxed);
            if cur & COUNT_MASK != 0 {
                let _ = w.compare_exchange(cur, cur.wrapping_add(EPOCH_ONE) & !COUNT_MASK, SeqCst, Relaxed);
            }
            r.wasted.store(0, Relaxed);
        }
    }
}

/// A sleeper's entry in `len_waiters`, given back when dropped.
struct Registration<'a> {
    region: &'a Region,
    /// Whether this handle may write the header.
    writable: bool,
    /// The epoch registered in, if registered.
    epoch: Option<u32>,
    /// Registered since the last sleep: the next one is short.
    fresh: bool,
    /// Sleeps so far without a registration (for the backoff).
    unregistered_sleeps: u32,
}

impl<'a> Registration<'a> {
    fn new(region: &'a Region, writable: bool) -> Self {
        let mut r = Registration { region, writable, epoch: None, fresh: false, unregistered_sleeps: 0 };
        r.register();
        r
    }

    fn register(&mut self) {
        self.epoch = None;
        if !self.writable {
            return;
        }
        let w = self.region.len_waiters();
        let mut cur = w.load(Relaxed);
        while cur & COUNT_MASK != COUNT_MASK {
            // SeqCst: the length is read again after this, never before.
            match w.compare_exchange_weak(cur, cur + 1, SeqCst, Relaxed) {
                Ok(_) => {
                    self.epoch = Some(cur >> 16);
                    self.fresh = true;
                    return;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// How long to sleep next, registering again if an appender started a new epoch.
    fn next_slice(&mut self) -> Duration {
        if let Some(e) = self.epoch {
            if self.region.len_waiters().load(SeqCst) >> 16 != e {
                self.register();
            }
        }
        if self.epoch.is_some() {
            if std::mem::take(&mut self.fresh) {
                return FIRST_SLICE;
            }
            return SLICE;
        }
        let n = self.unregistered_sleeps.min(8);
        self.unregistered_sleeps += 1;
        (RO_SLICE_MIN * (1 << n)).min(RO_SLICE_MAX)
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let Some(e) = self.epoch else { return };
        let w = self.region.len_waiters();
        let mut cur = w.load(Relaxed);
        // Only in our epoch: a new epoch has already forgotten us.
        while cur >> 16 == e && cur & COUNT_MASK != 0 {
            match w.compare_exchange_weak(cur, cur - 1, SeqCst, Relaxed) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }
}

impl Array {
    /// Waits until the published length is at least `len`, or `timeout` passes (`None`: no
    /// limit), and returns the length then: at least `len`, unless the time ran out.
    ///
    /// The caller sleeps in the kernel (after spinning for a few microseconds) and appenders in
    /// any process wake it when they publish. A writable handle registers itself in the header
    /// so that appenders know to wake it; a read-only handle cannot, and looks again every
    /// 2 ms at most. No writer, dead or alive, can keep it asleep past `timeout`. Any number of
    /// threads may wait on one handle, alongside any other call.
    pub fn wait_len(&self, len: u64, timeout: Option<Duration>) -> Result<u64> {
        let now_len = self.len();
        if now_len >= len || timeout == Some(Duration::ZERO) {
            return Ok(now_len);
        }
        let start = Instant::now();
        let deadline = timeout.and_then(|t| start.checked_add(t));
        let spin_until = start + SPIN.min(timeout.unwrap_or(SPIN));
        loop {
            std::hint::spin_loop();
            let l = self.len();
            if l >= len {
                return Ok(l);
            }
            if Instant::now() >= spin_until {
                break;
            }
        }
        let mut reg = Registration::new(&self.region, !self.is_read_only());
        loop {
            let raw = self.region.len_word().load(SeqCst);
            let l = if raw <= self.region.known_elems() { raw } else { self.len() };
            if l >= len {
                return Ok(l);
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) if now >= d => return Ok(l),
                Some(d) => d - now,
                None => SLICE,
            };
            let slice = reg.next_slice().min(left);
            sys::futex_wait_at(self.region.len_futex(), raw as u32, slice);
        }
    }
}
