//! Readers that sleep until the length reaches a value, woken by appenders through a futex.
//!
//! The futex word is the low 32 bits of the header's `len`: every publish changes it, so a
//! sleeper that read the length and then asks the kernel to sleep while those 32 bits are
//! unchanged can never miss an append that came in between. Appenders only call `FUTEX_WAKE`
//! when the header's `len_waiters` says someone sleeps, so with no sleeper a publish costs one
//! more load of a word in the cache line it has just written. An appender holding the append
//! lock wakes sleepers after releasing it, so that a woken reader that appends in turn finds it
//! free.
//!
//! `len_waiters` holds a count of registered sleepers in its low 16 bits and an *epoch* in its
//! high 16 bits. A sleeper killed while asleep would leave the count raised forever, and every
//! publish would pay a system call; so an appender whose wake-ups have found nobody asleep for a
//! whole second (and at least 64 times in a row) starts a new epoch with a count of 0. Live
//! sleepers notice the new epoch when they next wake and register again; none sleeps longer than
//! [`SLICE`] at a time, so none is stranded.
//!
//! The appender stores `len` and then loads `len_waiters` without a fence (a fence on every
//! publish would cost more than the whole append). A sleeper registers (a locked read-modify-
//! write, a full fence) before it reads the length, and the kernel reads the futex word again
//! when it is asked to sleep, a system call later: a publish whose store was still on its way to
//! memory when its appender read a count of 0 has landed by then, and the sleep does not begin.
//! Should it ever not have, the sleep ends after [`SLICE`] at the latest.
//!
//! Every sleep is bounded, by the caller's timeout and by [`SLICE`]: a timer far enough away that
//! arming it rarely reprograms the hardware, and a sleeper wakes five times a second at most.
//!
//! A read-only handle cannot write `len_waiters` (its mapping is read-only, and a reader must not
//! be able to slow writers down): it sleeps on the same futex in slices of an eighth of the time
//! it has waited so far, from [`RO_SLICE_MIN`] to [`RO_SLICE_MAX`], and is woken at once whenever
//! a registered sleeper exists, since appenders wake every sleeper on the word.
//!
//! Before it sleeps a waiter spins for a few microseconds, re-reading the length: an answer that
//! comes that soon costs neither a sleep nor a wake-up (see [`Array::wait_len`]).

use crate::array::Array;
use crate::error::{bail, Result};
use crate::region::Region;
use crate::sys;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

/// The sleeper count in `len_waiters`; the bits above it are the epoch.
pub(crate) const COUNT_MASK: u32 = 0xFFFF;
const EPOCH_ONE: u32 = 1 << 16;
/// How long a waiter spins before it sleeps, at most: the spin adapts per handle below this.
const SPIN_MAX_NS: u32 = 8_000;
/// A spin that has shrunk below this is dropped, and tried again every 16th wait.
const SPIN_MIN_NS: u32 = 500;
/// The longest a registered sleeper sleeps before it looks again (its epoch may have changed).
pub(crate) const SLICE: Duration = Duration::from_millis(200);
/// The sleeps of a handle that cannot register (read-only, or 65,535 sleepers already).
pub(crate) const RO_SLICE_MIN: Duration = Duration::from_micros(50);
pub(crate) const RO_SLICE_MAX: Duration = Duration::from_millis(10);
/// An appender starts a new epoch after this many wake-ups in a row found nobody asleep...
const HEAL_WAKES: u32 = 64;
/// ...over at least this long.
const HEAL_NS: u64 = 1_000_000_000;

/// A handle's record of its wake-ups that found nobody asleep, and of its waits' spinning.
#[derive(Debug, Default)]
pub(crate) struct WakeRecord {
    /// Wake-ups in a row that woke no one.
    wasted: AtomicU32,
    /// When the first of them happened (monotonic nanoseconds).
    since_ns: AtomicU64,
    /// How long this handle's waits spin before they sleep; 0: not yet set (the maximum).
    spin_ns: AtomicU32,
    /// Waits made with the spin dropped, so that it is tried again now and then.
    unspun: AtomicU32,
}

/// Whether this process may run on more than one CPU (spinning is useless otherwise).
fn several_cpus() -> bool {
    static N: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(true, |n| n.get() > 1))
}

impl Region {
    /// Publishes `n` as the length (a release store, after the elements it covers) and tells
    /// whether readers sleep until it changes (the header counts some): then the caller wakes
    /// them with [`Region::wake_len_waiters`], once it has let go of the append lock. With no
    /// sleeper this costs one load of a word in the cache line just written.
    #[inline(always)]
    #[must_use]
    pub(crate) fn publish_len(&self, n: u64) -> bool {
        // Both addresses first, from one load of the base.
        let (len, waiters) = (self.len_word(), self.len_waiters());
        len.store(n, Release);
        waiters.load(Relaxed) & COUNT_MASK != 0
    }

    /// Wakes every reader sleeping until the length changes (after [`Region::publish_len`]
    /// said there are some).
    #[cold]
    #[inline(never)]
    pub(crate) fn wake_len_waiters(&self) {
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
}

impl<'a> Registration<'a> {
    fn new(region: &'a Region, writable: bool) -> Self {
        let mut r = Registration { region, writable, epoch: None };
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
                    return;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// How long to sleep next, `waited` into the wait, registering again if an appender
    /// started a new epoch.
    fn next_slice(&mut self, waited: Duration) -> Duration {
        if let Some(e) = self.epoch {
            if self.region.len_waiters().load(SeqCst) >> 16 != e {
                self.register();
            }
        }
        if self.epoch.is_some() {
            return SLICE;
        }
        (waited / 8).clamp(RO_SLICE_MIN, RO_SLICE_MAX)
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
    /// The caller first spins for up to a few microseconds, re-reading the length (less, or not
    /// at all, after waits that the spin did not end, and never where the process may use only
    /// one CPU), then sleeps in the kernel until an appender in any process publishes. A
    /// writable handle registers itself in the header so that appenders know to wake it; a
    /// read-only handle cannot, and looks again after an eighth of the time it has waited
    /// (10 ms at most). No writer, dead or alive, can keep it asleep past `timeout`. Any number
    /// of threads may wait on one handle, alongside any other call.
    ///
    /// A handle of a raw or `.npy` file has a fixed length: asked to wait for more, it fails
    /// with `InvalidArgument` at once.
    pub fn wait_len(&self, len: u64, timeout: Option<Duration>) -> Result<u64> {
        let now_len = self.len();
        if now_len >= len || timeout == Some(Duration::ZERO) {
            return Ok(now_len);
        }
        if self.kind() != crate::raw::Kind::Array {
            // A raw or .npy file's length is fixed at attach: the wait could only end by its
            // timeout (or never), spinning on a futex word no appender wakes.
            bail!(
                InvalidArgument,
                "wait for length {len} on {}: a raw or .npy file's length is fixed at {now_len}",
                self.uri()
            );
        }
        let start = Instant::now();
        let deadline = timeout.and_then(|t| start.checked_add(t));
        if let Some(l) = self.spin_for(len, timeout) {
            return Ok(l);
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
            let slice = reg.next_slice(now - start).min(left);
            sys::futex_wait_at(self.region.len_futex(), raw as u32, slice);
        }
    }

    /// The spin before a wait sleeps: re-reads the length for this handle's spin time (at most
    /// `timeout`). The spin time grows by a quarter when the spin ends a wait and halves when
    /// the wait goes on to sleep; below [`SPIN_MIN_NS`] it is dropped and tried again every
    /// 16th wait. Where this process may use only one CPU nothing can change while it spins,
    /// so it never does.
    fn spin_for(&self, len: u64, timeout: Option<Duration>) -> Option<u64> {
        if !several_cpus() {
            return None;
        }
        let rec = &self.region.wakes;
        let spin = match rec.spin_ns.load(Relaxed) {
            0 => SPIN_MAX_NS,
            s => s,
        };
        if spin < SPIN_MIN_NS && rec.unspun.fetch_add(1, Relaxed) % 16 != 15 {
            return None;
        }
        let spin = spin.max(SPIN_MIN_NS);
        let limit = timeout.map_or(spin as u64, |t| (t.as_nanos() as u64).min(spin as u64));
        let t0 = sys::monotonic_ns();
        let mut i = 0u32;
        loop {
            std::hint::spin_loop();
            let l = self.len();
            if l >= len {
                rec.spin_ns.store((spin + spin / 4).min(SPIN_MAX_NS), Relaxed);
                return Some(l);
            }
            i += 1;
            if i % 8 == 0 && sys::monotonic_ns().saturating_sub(t0) >= limit {
                rec.spin_ns.store((spin / 2).max(1), Relaxed);
                return None;
            }
        }
    }
}
