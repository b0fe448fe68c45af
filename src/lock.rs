//! Cross-process coordination of appenders, safe against `kill -9`.
//!
//! Liveness comes from the kernel, not from pids: every writable handle holds an
//! open-file-description (OFD) lock on one byte of the store, its *slot*, for its whole
//! life, and the kernel drops that lock when the handle's descriptor closes, including
//! when its process dies. The header words name slots, never pids:
//!
//! - `lock` serialises appends of handles without the lease. Free: slot 0. A waiter that
//!   finds the same owner after a timed wait asks the kernel whether that owner's slot is
//!   still locked; if not, the owner is dead and the waiter takes the lock over. The
//!   generation in the word changes at every acquisition, so a takeover can never hit
//!   a later, live owner (no ABA).
//! - `lease` names the slot of the `MBA_EXCLUSIVE` handle. The lease itself is another OFD
//!   lock (on [`LEASE_BYTE`]), so two handles can never both hold it and a dead holder's
//!   lease is free at once; the word only lets appenders see it without a system call.
//!
//! A handle that takes a slot clears any word still naming that slot: its previous owner
//! must be dead, as the kernel just gave the slot away.

use crate::array::Array;
use crate::error::{Error, ErrorKind, Result};
use crate::layout::{OFF_LEASE, OFF_LOCK, OFF_LOCK_SEQ};
use crate::sys;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::Duration;

/// OFD lock byte of the writer lease (far past any real data; locks may lie beyond EOF).
pub const LEASE_BYTE: u64 = 1 << 40;
/// OFD lock byte of slot `k` is `SLOT_BASE + k`.
pub const SLOT_BASE: u64 = LEASE_BYTE;
const SLOT_MASK: u64 = (1 << 24) - 1;
const CONTENDED: u64 = 1 << 24;
const GEN_SHIFT: u32 = 25;
/// How long a waiter sleeps before asking whether the owner is still alive.
const WAIT: Duration = Duration::from_millis(2);

fn slot_of(w: u64) -> u32 {
    (w & SLOT_MASK) as u32
}
fn gen_of(w: u64) -> u64 {
    w >> GEN_SHIFT << GEN_SHIFT
}
/// The word for a new acquisition by `me` after `w`: next generation, owner `me`.
fn next(w: u64, me: u32) -> u64 {
    (((w >> GEN_SHIFT).wrapping_add(1)) << GEN_SHIFT) | me as u64
}

/// Holds the append lock; releases it on drop.
pub(crate) struct LockGuard<'a> {
    array: &'a Array,
    word: u64,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let lock = self.array.lock_word();
        let mut cur = lock.load(Relaxed);
        // Only release what is still ours: a hostile peer may have rewritten the word.
        while slot_of(cur) == slot_of(self.word) && gen_of(cur) == gen_of(self.word) {
            match lock.compare_exchange_weak(cur, gen_of(cur), Release, Relaxed) {
                Ok(_) => {
                    if cur & CONTENDED != 0 {
                        let seq = self.array.seq_word();
                        seq.fetch_add(1, SeqCst);
                        sys::futex_wake(seq, 1);
                    }
                    return;
                }
                Err(now) => cur = now,
            }
        }
    }
}

impl Array {
    pub(crate) fn lock_word(&self) -> &AtomicU64 {
        // SAFETY: the header lies in the mapping for the handle's life; the offset is 8-aligned
        // and the mapping page-aligned.
        unsafe { AtomicU64::from_ptr(self.base().add(OFF_LOCK).cast()) }
    }
    pub(crate) fn lease_word(&self) -> &AtomicU64 {
        // SAFETY: as for lock_word.
        unsafe { AtomicU64::from_ptr(self.base().add(OFF_LEASE).cast()) }
    }
    pub(crate) fn seq_word(&self) -> &AtomicU32 {
        // SAFETY: as for lock_word; 4-aligned.
        unsafe { AtomicU32::from_ptr(self.base().add(OFF_LOCK_SEQ).cast()) }
    }

    /// This handle's slot, taking a free one the first time (and clearing the words its dead
    /// previous owner left).
    pub(crate) fn slot(&self) -> Result<u32> {
        match self.slot.load(Acquire) {
            0 => self.take_slot(),
            s => Ok(s),
        }
    }

    #[cold]
    fn take_slot(&self) -> Result<u32> {
        let _g = self.slot_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let s @ 1.. = self.slot.load(Acquire) {
            return Ok(s); // another thread took it meanwhile
        }
        let fd = self.file.as_fd();
        let pid = std::process::id() as u64; // a seed only
        let mut k = (pid ^ sys::now_ns() ^ (self as *const Self as u64 >> 4)) % SLOT_MASK + 1;
        for _ in 0..SLOT_MASK {
            if sys::ofd_try_lock(fd, SLOT_BASE + k).map_err(|e| Error::os("lock a writer slot", e))? {
                let slot = k as u32;
                self.clear_dead(self.lock_word(), slot);
                self.clear_dead(self.lease_word(), slot);
                self.slot.store(slot, Release);
                return Ok(slot);
            }
            k = k % SLOT_MASK + 1;
        }
        Err(Error::new(ErrorKind::Busy, "every writer slot is taken"))
    }

    /// Frees `word` if it still names `dead`, waking waiters.
    fn clear_dead(&self, word: &AtomicU64, dead: u32) {
        let mut cur = word.load(SeqCst);
        while slot_of(cur) == dead {
            match word.compare_exchange(cur, gen_of(cur), SeqCst, SeqCst) {
                Ok(_) => {
                    let seq = self.seq_word();
                    seq.fetch_add(1, SeqCst);
                    sys::futex_wake(seq, i32::MAX);
                    return;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Whether the handle owning `slot` is alive (its OFD lock is held).
    fn slot_alive(&self, slot: u32) -> Result<bool> {
        if slot == self.slot.load(Relaxed) {
            return Ok(true);
        }
        sys::ofd_locked_by_other(self.file.as_fd(), SLOT_BASE + slot as u64)
            .map_err(|e| Error::os(format_args!("check lock owner of {}", self.uri), e))
    }

    /// Takes the append lock, waiting for live owners and taking it over from dead ones.
    #[inline]
    pub(crate) fn lock(&self) -> Result<LockGuard<'_>> {
        let me = self.slot()?;
        let lock = self.lock_word();
        let cur = lock.load(Relaxed);
        if slot_of(cur) == 0 {
            let word = next(cur, me);
            if lock.compare_exchange(cur, word, Acquire, Relaxed).is_ok() {
                return Ok(LockGuard { array: self, word });
            }
        }
        self.lock_contended(me)
    }

    #[cold]
    fn lock_contended(&self, me: u32) -> Result<LockGuard<'_>> {
        let (lock, seq) = (self.lock_word(), self.seq_word());
        let mut spins = 0;
        let mut seen_before_wait = None;
        loop {
            let s = seq.load(SeqCst);
            let cur = lock.load(SeqCst);
            let owner = slot_of(cur);
            // A free lock, or one whose owner stayed the same over a whole wait and is dead.
            let take =
                owner == 0 || (seen_before_wait == Some(cur & !CONTENDED) && !self.slot_alive(owner)?);
            if take {
                // Others may sleep: keep the contended flag so our release wakes one.
                let word = next(cur, me) | CONTENDED;
                if lock.compare_exchange(cur, word, SeqCst, Relaxed).is_ok() {
                    return Ok(LockGuard { array: self, word });
                }
                continue;
            }
            if spins < 32 {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            if cur & CONTENDED == 0 && lock.compare_exchange(cur, cur | CONTENDED, SeqCst, Relaxed).is_err() {
                continue;
            }
            sys::futex_wait(seq, s, WAIT);
            seen_before_wait = Some(cur & !CONTENDED);
        }
    }

    /// Makes this handle the only one changing the length, for as long as the returned guard
    /// lives: the lease holder already is (no guard); any other handle takes the append lock
    /// and then checks that no live handle holds the lease.
    pub(crate) fn sole_appender(&self, op: &str) -> Result<Option<LockGuard<'_>>> {
        if self.lease {
            return Ok(None);
        }
        let guard = self.lock()?;
        self.check_no_lease(op)?;
        Ok(Some(guard))
    }

    /// Fails with `Busy` if a live handle other than this one holds the writer lease.
    /// Called under the append lock by every length-changing call of a handle without it.
    pub(crate) fn check_no_lease(&self, op: &str) -> Result<()> {
        let lease = self.lease_word();
        let cur = lease.load(Acquire);
        let holder = slot_of(cur);
        if holder == 0 || holder == self.slot.load(Relaxed) {
            return Ok(());
        }
        if self.slot_alive(holder)? {
            return Err(Error::new(
                ErrorKind::Busy,
                format!("{op} {}: another handle holds the writer lease", self.uri),
            ));
        }
        let _ = lease.compare_exchange(cur, gen_of(cur), SeqCst, Relaxed);
        Ok(())
    }

    /// Takes the writer lease for this handle's life, or fails with `Busy`.
    pub(crate) fn take_lease(&mut self) -> Result<()> {
        let fd = self.file.as_fd();
        if !sys::ofd_try_lock(fd, LEASE_BYTE).map_err(|e| Error::os("lock the writer lease", e))? {
            return Err(Error::new(ErrorKind::Busy, "another handle holds the writer lease"));
        }
        let me = self.slot()?;
        let lease = self.lease_word();
        let mut cur = lease.load(SeqCst);
        while let Err(now) = lease.compare_exchange(cur, next(cur, me), SeqCst, SeqCst) {
            cur = now;
        }
        // Wait out appends already inside the lock; later ones see the lease and give up.
        drop(self.lock()?);
        self.lease = true;
        Ok(())
    }

    /// Gives the lease back (called on drop; the kernel does the same if we die).
    pub(crate) fn drop_lease(&mut self) {
        let lease = self.lease_word();
        let cur = lease.load(SeqCst);
        if slot_of(cur) == self.slot.load(Relaxed) {
            let _ = lease.compare_exchange(cur, gen_of(cur), SeqCst, Relaxed);
        }
        let _ = sys::ofd_unlock(self.file.as_fd(), LEASE_BYTE);
        self.lease = false;
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
}
