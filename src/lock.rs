//! Cross-process coordination of appenders, safe against `kill -9`, forks and read-only peers.
//!
//! Every word involved lives in the store's header page, which only processes that may write
//! the store can change: a process that can only read the array can neither take nor pin
//! anything (format version 1 used file locks on the store, which any reader could place).
//!
//! - **Slots.** A writable handle takes a *slot* (1 to 480) the first time it needs the lock
//!   or the lease, by compare-and-swap of its *identity* into the slot table that follows the
//!   header: its pid, its process start time and whether its pid namespace is the array's. It
//!   gives the slot back when it is freed. A slot whose process is gone (its pid is free, a
//!   zombie, or names a process with another start time) is dead and may be taken by anyone.
//! - **The append lock** (`lock`): `(generation << 25) | (contended << 24) | slot`, slot 0
//!   meaning free, taken by compare-and-swap. A waiter that finds the same word after a 2 ms
//!   futex wait asks whether the owner's slot is dead, and if so takes the lock over; the
//!   generation makes a stale takeover fail instead of hitting a later, live owner. Every wait
//!   is bounded by the handle's timeout, after which the call fails with `Busy` naming the holder.
//! - **The writer lease** (`lease`): `(generation << 25) | slot`, naming the `MBA_EXCLUSIVE`
//!   handle, which then appends without the lock. Taken by compare-and-swap from free or from a
//!   dead slot; appenders without it check under the lock that it names no live slot.
//!
//! Liveness is asked of the operating system through the [`Liveness`] trait, so the protocol
//! can be exercised without processes.

use crate::error::{Error, ErrorKind, Result};
use crate::layout::SLOTS;
use crate::region::Region;
use crate::sys;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

const SLOT_MASK: u64 = (1 << 24) - 1;
const CONTENDED: u64 = 1 << 24;
const GEN_SHIFT: u32 = 25;
/// How long a waiter sleeps before asking whether the owner is still alive.
const WAIT: Duration = Duration::from_millis(2);
/// The bound of every lock wait when the handle sets none: 10 seconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

pub(crate) fn slot_of(w: u64) -> u32 {
    (w & SLOT_MASK) as u32
}
fn gen_of(w: u64) -> u64 {
    w >> GEN_SHIFT << GEN_SHIFT
}
/// The word for a new acquisition by `me` after `w`: next generation, owner `me`.
fn next(w: u64, me: u32) -> u64 {
    (((w >> GEN_SHIFT).wrapping_add(1)) << GEN_SHIFT) | me as u64
}

/// A writer's identity in the slot table: pid in bits 0..22, the low 40 bits of its start time
/// (clock ticks after boot) in bits 22..62, and bit 62 set when its pid namespace is not the
/// array's (then no one can check it). 0 is a free slot.
pub(crate) mod ident {
    pub const PID_BITS: u32 = 22;
    pub const START_BITS: u32 = 40;
    pub const FOREIGN: u64 = 1 << 62;
    pub fn make(pid: u32, start: u64, foreign: bool) -> u64 {
        let pid = pid as u64 & ((1 << PID_BITS) - 1);
        let start = start & ((1 << START_BITS) - 1);
        pid | start << PID_BITS | if foreign { FOREIGN } else { 0 } | if pid == 0 { 1 << 63 } else { 0 }
    }
    pub fn pid(w: u64) -> u32 {
        (w & ((1 << PID_BITS) - 1)) as u32
    }
    pub fn start(w: u64) -> u64 {
        (w >> PID_BITS) & ((1 << START_BITS) - 1)
    }
}

/// What can be known of a slot's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alive {
    Yes,
    No,
    /// It cannot be told (another pid namespace, a hidden `/proc`): treated as alive.
    Unknown,
}

/// Asks whether the process behind a slot identity still runs.
pub(crate) trait Liveness {
    fn alive(&self, identity: u64, same_namespace: bool) -> Alive;
}

/// The operating system's answer: `kill(pid, 0)` and `/proc/PID/stat`.
pub(crate) struct Os;

impl Liveness for Os {
    fn alive(&self, w: u64, same_namespace: bool) -> Alive {
        if w == 0 {
            return Alive::No;
        }
        if w & ident::FOREIGN != 0 || !same_namespace {
            return Alive::Unknown;
        }
        match sys::process_alive(ident::pid(w), ident::start(w), ident::START_BITS) {
            Some(true) => Alive::Yes,
            Some(false) => Alive::No,
            None => Alive::Unknown,
        }
    }
}

/// A writer's view of the coordination words of one array.
pub(crate) struct Coord<'a, L: Liveness = Os> {
    pub(crate) region: &'a Region,
    pub(crate) uri: &'a str,
    /// Whether this process's pid namespace is the array's (so it can check other writers).
    pub(crate) same_namespace: bool,
    /// The bound of every wait, in milliseconds.
    pub(crate) timeout_ms: u64,
    pub(crate) live: L,
}

impl<L: Liveness> Coord<'_, L> {
    fn owner(&self, slot: u32) -> u64 {
        if slot == 0 || slot as usize > SLOTS {
            return 0;
        }
        self.region.slot_word(slot).load(Acquire)
    }

    fn alive(&self, slot: u32) -> Alive {
        self.live.alive(self.owner(slot), self.same_namespace)
    }

    fn describe(&self, slot: u32) -> String {
        match self.owner(slot) {
            0 => format!("slot {slot} (no owner)"),
            w => format!("slot {slot} (pid {})", ident::pid(w)),
        }
    }

    /// Takes a slot for `me` (an identity), preferring free ones, then those of dead owners.
    /// Clears any lock or lease word still naming the slot taken.
    #[cold]
    pub(crate) fn take_slot(&self, me: u64, seed: u64) -> Result<u32> {
        let n = SLOTS as u64;
        for pass in 0..2 {
            for i in 0..n {
                let slot = ((seed + i) % n + 1) as u32;
                let word = self.region.slot_word(slot);
                let cur = word.load(Acquire);
                let free = cur == 0 || (pass == 1 && self.live.alive(cur, self.same_namespace) == Alive::No);
                if free && word.compare_exchange(cur, me, AcqRel, Relaxed).is_ok() {
                    self.clear_stale(self.region.lock_word(), slot);
                    self.clear_stale(self.region.lease_word(), slot);
                    return Ok(slot);
                }
            }
        }
        Err(Error::new(
            ErrorKind::Busy,
            format!("{}: all {SLOTS} writer slots are held by live handles", self.uri),
        ))
    }

    /// Gives back `slot` if it still holds `me`.
    pub(crate) fn release_slot(&self, slot: u32, me: u64) {
        let _ = self.region.slot_word(slot).compare_exchange(me, 0, AcqRel, Relaxed);
    }

    /// Frees `word` if it names `slot`, waking waiters.
    fn clear_stale(&self, word: &AtomicU64, slot: u32) {
        let mut cur = word.load(SeqCst);
        while slot_of(cur) == slot {
            match word.compare_exchange(cur, gen_of(cur), SeqCst, SeqCst) {
                Ok(_) => {
                    let seq = self.region.lock_seq();
                    seq.fetch_add(1, SeqCst);
                    sys::futex_wake(seq, i32::MAX);
                    return;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Takes the append lock for slot `me`. The caller holds the handle's own mutex, so no other
    /// thread of this handle holds the lock: a word naming `me` was left by a dead incarnation or
    /// written by a peer, and is taken over.
    #[inline]
    pub(crate) fn lock(&self, me: u32) -> Result<u64> {
        let lock = self.region.lock_word();
        let cur = lock.load(Relaxed);
        if slot_of(cur) == 0 {
            let word = next(cur, me);
            if lock.compare_exchange(cur, word, Acquire, Relaxed).is_ok() {
                return Ok(word);
            }
        }
        self.lock_contended(me)
    }

    #[cold]
    fn lock_contended(&self, me: u32) -> Result<u64> {
        let (lock, seq) = (self.region.lock_word(), self.region.lock_seq());
        let timeout = Duration::from_millis(self.timeout_ms);
        let deadline = Instant::now() + timeout;
        let mut spins = 0;
        let mut seen_before_wait = None;
        loop {
            let s = seq.load(SeqCst);
            let cur = lock.load(SeqCst);
            let owner = slot_of(cur);
            let take = owner == 0
                || owner == me
                || owner as usize > SLOTS
                || (seen_before_wait == Some(cur & !CONTENDED) && self.alive(owner) == Alive::No);
            if take {
                // Others may sleep: keep the contended flag so our release wakes one.
                let word = next(cur, me) | CONTENDED;
                if lock.compare_exchange(cur, word, SeqCst, Relaxed).is_ok() {
                    return Ok(word);
                }
                continue;
            }
            if spins < 32 {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!(
                        "{}: the append lock is held by {} and was not released within {} ms",
                        self.uri,
                        self.describe(owner),
                        self.timeout_ms
                    ),
                ));
            }
            if cur & CONTENDED == 0 && lock.compare_exchange(cur, cur | CONTENDED, SeqCst, Relaxed).is_err() {
                continue;
            }
            sys::futex_wait(seq, s, WAIT.min(deadline - now));
            seen_before_wait = Some(cur & !CONTENDED);
        }
    }

    /// Releases the lock taken as `word`, unless a peer has rewritten it since.
    #[inline]
    pub(crate) fn unlock(&self, word: u64) {
        unlock(self.region, word);
    }

    /// Fails with `Busy` if a live handle other than slot `me` holds the writer lease, and
    /// clears a lease left by a dead one. Called under the append lock.
    #[inline]
    pub(crate) fn check_no_lease(&self, op: &str, me: u32) -> Result<()> {
        let lease = self.region.lease_word();
        let cur = lease.load(Acquire);
        let holder = slot_of(cur);
        if holder == 0 || holder == me {
            return Ok(());
        }
        self.check_lease_holder(op, cur, holder)
    }

    #[cold]
    fn check_lease_holder(&self, op: &str, cur: u64, holder: u32) -> Result<()> {
        let lease = self.region.lease_word();
        if holder as usize > SLOTS || self.alive(holder) == Alive::No {
            let _ = lease.compare_exchange(cur, gen_of(cur), SeqCst, Relaxed);
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Busy,
            format!("{op} {}: the writer lease is held by {}", self.uri, self.describe(holder)),
        ))
    }

    /// Takes the writer lease for slot `me`, from free or from a dead holder, or fails with `Busy`.
    pub(crate) fn take_lease(&self, me: u32) -> Result<()> {
        let lease = self.region.lease_word();
        let mut cur = lease.load(SeqCst);
        loop {
            let holder = slot_of(cur);
            let free =
                holder == 0 || holder == me || holder as usize > SLOTS || self.alive(holder) == Alive::No;
            if !free {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!("{}: the writer lease is held by {}", self.uri, self.describe(holder)),
                ));
            }
            match lease.compare_exchange(cur, next(cur, me), SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        // Wait out appends already inside the lock; later ones see the lease and give up.
        match self.lock(me) {
            Ok(word) => {
                self.unlock(word);
                Ok(())
            }
            Err(e) => {
                self.drop_lease(me);
                Err(e)
            }
        }
    }

    /// Gives the lease back if slot `me` still holds it.
    pub(crate) fn drop_lease(&self, me: u32) {
        let lease = self.region.lease_word();
        let cur = lease.load(SeqCst);
        if slot_of(cur) == me {
            let _ = lease.compare_exchange(cur, gen_of(cur), SeqCst, Relaxed);
        }
    }
}

/// Releases the append lock of `region` taken as `word`, unless a peer has rewritten it since
/// (all that [`Coord::unlock`] needs, without building a `Coord`).
#[inline]
pub(crate) fn unlock(region: &Region, word: u64) {
    let lock = region.lock_word();
    let mut cur = lock.load(Relaxed);
    while slot_of(cur) == slot_of(word) && gen_of(cur) == gen_of(word) {
        match lock.compare_exchange_weak(cur, gen_of(cur), Release, Relaxed) {
            Ok(_) => {
                if cur & CONTENDED != 0 {
                    let seq = region.lock_seq();
                    seq.fetch_add(1, SeqCst);
                    sys::futex_wake(seq, 1);
                }
                return;
            }
            Err(now) => cur = now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_encoding_keeps_generation_and_slot_apart() {
        let w = next(0, 7);
        assert_eq!(slot_of(w), 7);
        assert_eq!(w & CONTENDED, 0);
        let w2 = next(w | CONTENDED, 9);
        assert_eq!(slot_of(w2), 9);
        assert_eq!(gen_of(w2) >> GEN_SHIFT, 2);
        assert_eq!(slot_of(gen_of(w2)), 0);
        assert_eq!(slot_of(next(u64::MAX, 3)), 3, "generation wraps without touching the slot");
    }

    #[test]
    fn identities_keep_pid_and_start_apart_and_are_never_zero() {
        let w = ident::make(4_194_303, (1 << 40) + 12345, false);
        assert_eq!(ident::pid(w), 4_194_303);
        assert_eq!(ident::start(w), 12345);
        assert_eq!(w & ident::FOREIGN, 0);
        assert_ne!(ident::make(0, 0, false), 0);
        assert_ne!(ident::make(5, 0, true) & ident::FOREIGN, 0);
    }

    #[test]
    fn the_os_sees_this_process_alive_and_a_wrong_start_time_dead() {
        let (pid, start) = sys::process_identity();
        assert_eq!(Os.alive(ident::make(pid as u32, start, false), true), Alive::Yes);
        assert_eq!(Os.alive(ident::make(pid as u32, start + 1, false), true), Alive::No);
        assert_eq!(Os.alive(ident::make(pid as u32, start, true), true), Alive::Unknown);
        assert_eq!(Os.alive(ident::make(pid as u32, start, false), false), Alive::Unknown);
        assert_eq!(Os.alive(0, true), Alive::No);
    }
}
