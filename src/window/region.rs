//! Windows: one read-only shared mapping of a byte range of a file each, and the table of
//! all windows of a manager with its least-recently-used order.
//!
//! A window is pinned while anything besides the table holds its [`Mapping`] (an `Arc`): a
//! cursor that lends it out, or a read copying from it. A window is unmapped when the last
//! `Arc` goes, wherever that happens; the counters follow the real `munmap`, so the budgets
//! stay exact. Cursors also keep a `Weak` of the window they last read through, and upgrade
//! it without the lock on their next read: if that races with an eviction, the mapping simply
//! lives (and stays counted) until the read is done.
//!
//! Least recently used is exact: every use stores a fresh tick in the window's `last_use`
//! (an atomic, so reads need no lock), and the table's order, keyed by the tick it last saw,
//! is corrected lazily when it looks for a victim (see [`Table::lru_unpinned`]).

use super::budget::Counters;
use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// A read-only `MAP_SHARED` mapping, unmapped (and uncounted) when dropped.
pub(crate) struct Mapping {
    /// Tick of the last use (see [`Table`]).
    pub last_use: AtomicU64,
    ptr: NonNull<u8>,
    len: usize,
    file_bytes: u64,
    counters: Arc<Counters>,
}

// SAFETY: the mapping is plain memory owned by this value; it is only ever read through raw
// pointers (never as references, since other processes may write the file), and unmapped once.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` from `offset` (a page multiple), `file_bytes` of which lie
    /// inside the file. The caller has checked the budget; the window is counted here before
    /// `mmap` and uncounted if it fails.
    pub fn new(
        fd: BorrowedFd<'_>,
        offset: u64,
        len: usize,
        file_bytes: u64,
        counters: &Arc<Counters>,
    ) -> std::io::Result<Mapping> {
        counters.add_window(len as u64, file_bytes);
        let Ok(off) = libc::off_t::try_from(offset) else {
            counters.remove_window(len as u64, file_bytes);
            return Err(std::io::Error::from_raw_os_error(libc::EOVERFLOW));
        };
        // SAFETY: a fresh mapping chosen by the kernel; no existing memory is affected.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, fd.as_raw_fd(), off)
        };
        if p == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            counters.remove_window(len as u64, file_bytes);
            return Err(e);
        }
        counters.maps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Mapping {
            last_use: AtomicU64::new(0),
            ptr: NonNull::new(p.cast()).expect("mmap returned NULL"),
            len,
            file_bytes,
            counters: counters.clone(),
        })
    }

    pub fn ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    pub fn len(&self) -> u64 {
        self.len as u64
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned; nothing uses the mapping any more
        // (every user held an Arc of this value).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        self.counters.remove_window(self.len as u64, self.file_bytes);
        self.counters.unmaps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One window in the table.
pub(crate) struct Slot {
    /// Unique for the manager's life, never reused: what bindings compare windows by.
    pub id: u64,
    /// The file slot it belongs to.
    pub file: usize,
    /// File offset of its first byte (a page multiple).
    pub start: u64,
    pub map: Arc<Mapping>,
    /// The tick this slot is filed under in `Table::order` (at most its `last_use`).
    key: u64,
}

impl Slot {
    /// Whether anything besides the table holds it.
    pub fn pinned(&self) -> bool {
        Arc::strong_count(&self.map) > 1
    }

    pub fn end(&self) -> u64 {
        self.start + self.map.len()
    }
}

/// All windows of a manager, in a slab, ordered by the tick of their last use as last seen.
pub(crate) struct Table {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    order: BTreeSet<(u64, usize)>,
    next_id: u64,
}

impl Table {
    pub fn new() -> Table {
        Table { slots: Vec::new(), free: Vec::new(), order: BTreeSet::new(), next_id: 1 }
    }

    pub fn get(&self, i: usize) -> Option<&Slot> {
        self.slots.get(i).and_then(Option::as_ref)
    }

    /// Adds a window used at `tick`; returns its index.
    pub fn insert(&mut self, file: usize, start: u64, map: Arc<Mapping>, tick: u64) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        map.last_use.store(tick, Relaxed);
        let slot = Slot { id, file, start, map, key: tick };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.order.insert((tick, i));
        i
    }

    /// Takes a window out of the table (the caller drops it, or a pin outlives it).
    pub fn remove(&mut self, i: usize) -> Slot {
        let s = self.slots[i].take().expect("removing a free window slot");
        self.order.remove(&(s.key, i));
        self.free.push(i);
        s
    }

    /// Records a use of `i` at `tick` (the order catches up in `lru_unpinned`).
    pub fn touch(&self, i: usize, tick: u64) {
        self.slots[i].as_ref().expect("touching a free slot").map.last_use.fetch_max(tick, Relaxed);
    }

    /// The least recently used window that nothing pins.
    ///
    /// Walks the order from the oldest key. A window used since it was filed (its `last_use`
    /// is past its key) is refiled under its real tick, and the walk starts again, since it
    /// may have been older than the candidate found after it. Each restart refiles a window
    /// to a later tick, so the walk ends; the window it returns has no older unpinned one.
    pub fn lru_unpinned(&mut self) -> Option<usize> {
        loop {
            let mut refile = Vec::new();
            let mut victim = None;
            for &(key, i) in &self.order {
                let s = self.slots[i].as_ref().expect("filed slot is free");
                let used = s.map.last_use.load(Relaxed);
                if used != key {
                    refile.push((key, i, used));
                } else if !s.pinned() {
                    victim = Some(i);
                    break;
                }
            }
            if refile.is_empty() {
                return victim;
            }
            for (key, i, used) in refile {
                self.order.remove(&(key, i));
                self.order.insert((used, i));
                self.slots[i].as_mut().expect("refiled slot").key = used;
            }
        }
    }

    /// Indices of every window, least recently used first.
    pub fn lru_order(&self) -> Vec<usize> {
        let mut v: Vec<(u64, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (s.map.last_use.load(Relaxed), i)))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, i)| i).collect()
    }

    pub fn find_id(&self, id: u64) -> Option<usize> {
        self.slots.iter().position(|s| s.as_ref().is_some_and(|s| s.id == id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn lru_follows_uses_and_skips_pinned_windows() {
        let counters = Arc::new(Counters::default());
        let f = std::fs::File::open("/proc/self/exe").unwrap();
        let m = || Arc::new(Mapping::new(f.as_fd(), 0, 4096, 4096, &counters).unwrap());
        let mut t = Table::new();
        let a = t.insert(0, 0, m(), 1);
        let b = t.insert(0, 4096, m(), 2);
        let c = t.insert(0, 8192, m(), 3);
        assert_eq!(t.lru_order(), vec![a, b, c]);
        t.touch(a, 4);
        assert_eq!(t.lru_order(), vec![b, c, a]);
        let pin = t.get(b).unwrap().map.clone();
        assert_eq!(t.lru_unpinned(), Some(c), "b is pinned");
        drop(pin);
        assert_eq!(t.lru_unpinned(), Some(b));
        // A use recorded without the lock (a stale key) is honoured: c, used last, is kept.
        t.touch(b, 5);
        t.get(c).unwrap().map.last_use.store(6, Relaxed);
        assert_eq!(t.lru_unpinned(), Some(a));
        assert_eq!(counters.windows.load(Relaxed), 3);
        drop(t.remove(b));
        assert_eq!(t.lru_order(), vec![a, c]);
        assert_eq!(counters.mapped_bytes.load(Relaxed), 8192);
        let d = t.insert(0, 0, m(), 7);
        assert_eq!(d, b, "the slot is reused");
        assert_ne!(t.get(d).unwrap().id, t.get(a).unwrap().id);
        assert_eq!(t.find_id(t.get(d).unwrap().id), Some(d));
    }
}
