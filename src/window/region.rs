//! Windows: one read-only shared mapping of a byte range of a file each, and the table of
//! all windows of a manager with its least-recently-used order.
//!
//! A window is pinned while anything besides the table holds its [`Mapping`] (an `Arc`): a
//! cursor that reads through it or lends it out. Pins are taken only under the manager's
//! lock, so a window the table alone holds (strong count 1) can be unmapped there without a
//! race. A pin may be dropped anywhere; if the table had let go of the window meanwhile
//! (evicted as stale, or the manager closed), the last pin unmaps it.

use super::budget::Counters;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::Arc;

/// A read-only `MAP_SHARED` mapping, unmapped (and uncounted) when dropped.
pub(crate) struct Mapping {
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

const NIL: usize = usize::MAX;

/// One window in the table.
pub(crate) struct Slot {
    /// Unique for the manager's life, never reused: what bindings compare windows by.
    pub id: u64,
    /// The file slot it belongs to.
    pub file: usize,
    /// File offset of its first byte (a page multiple).
    pub start: u64,
    pub map: Arc<Mapping>,
    prev: usize,
    next: usize,
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

/// All windows of a manager, in a slab, with an intrusive doubly-linked list from the most
/// (head) to the least (tail) recently used.
pub(crate) struct Table {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    next_id: u64,
}

impl Table {
    pub fn new() -> Table {
        Table { slots: Vec::new(), free: Vec::new(), head: NIL, tail: NIL, next_id: 1 }
    }

    pub fn get(&self, i: usize) -> Option<&Slot> {
        self.slots.get(i).and_then(Option::as_ref)
    }

    /// Adds a window as the most recently used; returns its index.
    pub fn insert(&mut self, file: usize, start: u64, map: Arc<Mapping>) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        let slot = Slot { id, file, start, map, prev: NIL, next: NIL };
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
        self.link_front(i);
        i
    }

    /// Takes a window out of the table (the caller drops it, or a pin outlives it).
    pub fn remove(&mut self, i: usize) -> Slot {
        self.unlink(i);
        let s = self.slots[i].take().expect("removing a free window slot");
        self.free.push(i);
        s
    }

    /// Makes `i` the most recently used.
    pub fn touch(&mut self, i: usize) {
        if self.head != i {
            self.unlink(i);
            self.link_front(i);
        }
    }

    /// The least recently used window that nothing pins.
    pub fn lru_unpinned(&self) -> Option<usize> {
        let mut i = self.tail;
        while i != NIL {
            let s = self.slots[i].as_ref().expect("listed slot is free");
            if !s.pinned() {
                return Some(i);
            }
            i = s.prev;
        }
        None
    }

    /// Indices of every window, least recently used first.
    pub fn lru_order(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = self.tail;
        while i != NIL {
            out.push(i);
            i = self.slots[i].as_ref().expect("listed slot is free").prev;
        }
        out
    }

    pub fn find_id(&self, id: u64) -> Option<usize> {
        self.slots.iter().position(|s| s.as_ref().is_some_and(|s| s.id == id))
    }

    fn link_front(&mut self, i: usize) {
        let old = self.head;
        {
            let s = self.slots[i].as_mut().expect("linking a free slot");
            s.prev = NIL;
            s.next = old;
        }
        if old != NIL {
            self.slots[old].as_mut().expect("head is free").prev = i;
        } else {
            self.tail = i;
        }
        self.head = i;
    }

    fn unlink(&mut self, i: usize) {
        let (p, n) = {
            let s = self.slots[i].as_ref().expect("unlinking a free slot");
            (s.prev, s.next)
        };
        if p != NIL {
            self.slots[p].as_mut().expect("prev is free").next = n;
        } else {
            self.head = n;
        }
        if n != NIL {
            self.slots[n].as_mut().expect("next is free").prev = p;
        } else {
            self.tail = p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn lru_order_follows_touches_and_skips_pinned_windows() {
        let counters = Arc::new(Counters::default());
        let f = std::fs::File::open("/proc/self/exe").unwrap();
        let m = || Arc::new(Mapping::new(f.as_fd(), 0, 4096, 4096, &counters).unwrap());
        let mut t = Table::new();
        let a = t.insert(0, 0, m());
        let b = t.insert(0, 4096, m());
        let c = t.insert(0, 8192, m());
        assert_eq!(t.lru_order(), vec![a, b, c]);
        t.touch(a);
        assert_eq!(t.lru_order(), vec![b, c, a]);
        let pin = t.get(b).unwrap().map.clone();
        assert_eq!(t.lru_unpinned(), Some(c), "b is pinned");
        drop(pin);
        assert_eq!(t.lru_unpinned(), Some(b));
        assert_eq!(counters.windows.load(std::sync::atomic::Ordering::Relaxed), 3);
        drop(t.remove(b));
        assert_eq!(t.lru_order(), vec![c, a]);
        assert_eq!(counters.mapped_bytes.load(std::sync::atomic::Ordering::Relaxed), 8192);
        let d = t.insert(0, 0, m());
        assert_eq!(d, b, "the slot is reused");
        assert_ne!(t.get(d).unwrap().id, t.get(a).unwrap().id);
        assert_eq!(t.find_id(t.get(d).unwrap().id), Some(d));
    }
}
