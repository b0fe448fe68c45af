//! Cursors: one reader's position in one file. A cursor reads elements of any range, across
//! windows, into the caller's memory (pinning each window only while it copies), and lends
//! out one pinned window at a time.

use super::file::{self, Geometry, Kind};
use super::manager::{Fd, FdUse, FileNode, Shared, WindowInfo};
use super::region::Mapping;
use crate::dtype::Element;
use crate::error::{bail, Error, ErrorKind, Result};
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};

/// A reader of one file through a [`WindowManager`](super::WindowManager).
///
/// `Send + Sync`; every call that reads or moves the cursor takes `&mut self`, so one thread
/// uses it at a time (clone it with [`try_clone`](Self::try_clone) for another thread).
/// Dropping it lets go of its window and of its share of the file.
pub struct Cursor {
    pub(crate) shared: Arc<Shared>,
    pub(crate) node: Arc<FileNode>,
    pub(crate) geo: Geometry,
    len: u64,
    /// The window lent out by the last `pin` (a pin: it cannot be unmapped meanwhile).
    pin: Option<Pin>,
    /// The windows recent reads went through, not pinned, by window-grid cell (direct-mapped):
    /// a read upgrades its cell's window without the manager's lock if it is still mapped.
    cache: Vec<Option<Cached>>,
    /// The descriptor the last `pread` used, likewise.
    fd_cache: Option<Weak<Fd>>,
    /// End (file offset) of the window this cursor used last: a read that needs the window
    /// starting there is a sequential scan, which may evict to map it.
    last_end: u64,
}

/// A window held for a caller: its mapping, file offset, table index and id.
struct Held {
    map: Arc<Mapping>,
    start: u64,
    slot: usize,
    id: u64,
}

/// The least a borrow at random under a full budget maps: the kernel's fault-around unit
/// (64 KiB), so one fault fills it, and the windows stay few.
const SMALL_WINDOW: u64 = 64 << 10;

/// Cells of a cursor's cache of windows: enough for a working set of 64 windows read at random.
const CACHE_CELLS: usize = 64;

struct Cached {
    map: Weak<Mapping>,
    start: u64,
    end: u64,
}

struct Pin {
    map: Arc<Mapping>,
    slot: usize,
    id: u64,
    start: u64,
}

impl Pin {
    fn end(&self) -> u64 {
        self.start + self.map.len()
    }
}

/// What a cursor reads, as of its last refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorInfo {
    pub kind: Kind,
    /// mba dtype code (1..=14).
    pub dtype: u32,
    pub itemsize: u64,
    /// The file's bytes are in the other byte order: typed reads swap them, borrows do not.
    pub byteswapped: bool,
    /// File offset of element 0.
    pub data_offset: u64,
    /// Elements visible (a multiple of the row size).
    pub len: u64,
    /// The file's size in bytes as last seen.
    pub file_size: u64,
    pub ndim: u32,
    /// `shape[0]` = rows (len / row size), then the trailing extents; unused entries 0.
    pub shape: [u64; 8],
    /// Reads go through mapped windows (`mapped_reads`, or a file sealed against shrinking)
    /// rather than `pread`.
    pub mapped_reads: bool,
}

/// A zero-copy borrow of a pinned window: `count` elements from `ptr`, valid until the
/// cursor reads, pins, unpins or is dropped.
///
/// The bytes are the file's, in its byte order, and other processes may change them: read
/// them through the raw pointer (never as a Rust reference or slice). If another process
/// shrinks the file below them meanwhile, touching the cut pages raises SIGBUS, as with any
/// mapping; see the module documentation.
pub struct Pinned<'a> {
    pub ptr: *const u8,
    /// Whole elements available from `ptr` (at least 1).
    pub count: u64,
    /// The window lent out.
    pub window_id: u64,
    /// File offset and mapped length of that window.
    pub window_offset: u64,
    pub window_len: u64,
    /// Bytes of that window inside the file, at the size the borrow was checked against.
    pub window_valid: u64,
    _cursor: PhantomData<&'a mut Cursor>,
}

fn out_of_bounds(what: String) -> Error {
    Error::new(ErrorKind::OutOfBounds, what)
}

impl Cursor {
    pub(crate) fn new(shared: Arc<Shared>, node: Arc<FileNode>, geo: Geometry) -> Cursor {
        Cursor { shared, node, geo, len: 0, pin: None, cache: Vec::new(), fd_cache: None, last_end: u64::MAX }
    }

    fn fid(&self) -> usize {
        self.node.slot
    }

    fn mapped(&self) -> bool {
        self.shared.b.mapped_reads || self.node.no_shrink.load(Relaxed)
    }

    /// Elements visible as of the last refresh (reads past it refresh by themselves).
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What the cursor reads: kind, dtype, shape, length as last seen.
    pub fn info(&self) -> CursorInfo {
        let mut shape = self.geo.trailing;
        shape[0] = self.len / self.geo.row_size.max(1);
        CursorInfo {
            kind: self.geo.kind,
            dtype: self.geo.dtype,
            itemsize: self.geo.itemsize,
            byteswapped: self.geo.swap != 0,
            data_offset: self.geo.data_offset,
            len: self.len,
            file_size: self.node.size.load(Relaxed),
            ndim: self.geo.ndim,
            shape,
            mapped_reads: self.mapped(),
        }
    }

    /// The path or descriptor the file was first opened by.
    pub fn name(&self) -> &str {
        &self.node.name
    }

    /// Re-reads the file's size (and the `.npy` or mba header), so growth (or shrinking) is
    /// seen; returns the element count now visible.
    pub fn refresh(&mut self) -> Result<u64> {
        self.shared.check_open()?;
        let fd = Self::use_fd(&self.shared, &mut self.fd_cache, self.node.slot)?;
        let st = file::stat_fd(fd.fd().as_raw_fd())
            .map_err(|e| Error::os(format_args!("fstat {}", self.node.name), e))?;
        self.node.size.store(st.size, Relaxed);
        self.len = self.geo.count(Some(fd.fd()), st.size, &self.node.name)?;
        Ok(self.len)
    }

    /// A descriptor of the cursor's file: the one it used last if it is still open (no lock),
    /// else one from the manager.
    fn use_fd<'s>(sh: &'s Shared, cache: &mut Option<Weak<Fd>>, fid: usize) -> Result<FdUse<'s>> {
        if let Some(fd) = cache.as_ref().and_then(Weak::upgrade) {
            fd.last_use.fetch_max(sh.tick(), Relaxed);
            return Ok(FdUse::new(fd, sh));
        }
        let u = sh.use_fd(fid)?;
        *cache = Some(Arc::downgrade(u.arc()));
        Ok(u)
    }

    pub(crate) fn set_len_from_size(&mut self, size: u64) {
        self.len = size.saturating_sub(self.geo.data_offset) / self.geo.itemsize;
    }

    /// The file's size in bytes: as last seen, or re-read with `refresh`.
    pub fn file_size(&mut self, refresh: bool) -> Result<u64> {
        if refresh {
            self.refresh()?;
        }
        Ok(self.node.size.load(Relaxed))
    }

    /// Checks `[index, index + count)` against the length (refreshing it once if the range
    /// reaches past it) and gives the byte range.
    fn bytes_of(&mut self, index: u64, count: u64) -> Result<(u64, u64)> {
        let end = index.checked_add(count);
        let Some(end) = end else {
            bail!(InvalidArgument, "index {index} + count {count} overflows");
        };
        if end > self.len {
            self.refresh()?;
            if end > self.len {
                return Err(out_of_bounds(format!(
                    "elements [{index}, {end}) lie beyond the {} elements of {}",
                    self.len, self.node.name
                )));
            }
        }
        // In bounds of a file, so no overflow: len * itemsize + data_offset <= file size.
        let b = self.geo.data_offset + index * self.geo.itemsize;
        Ok((b, b + count * self.geo.itemsize))
    }

    /// Reads elements `[index, index + count)`, in this machine's byte order, into `out`.
    ///
    /// # Safety
    /// `out` must be valid for writes of `count * itemsize` bytes.
    pub unsafe fn read_raw(&mut self, index: u64, count: u64, out: *mut u8) -> Result<()> {
        self.shared.check_open()?;
        let (b, e) = self.bytes_of(index, count)?;
        if b == e {
            return Ok(());
        }
        if self.mapped() {
            self.read_mapped(b, e, out)?;
        } else {
            self.pread(b, e, out)?;
        }
        if self.geo.swap > 1 {
            let s = std::slice::from_raw_parts_mut(out, (e - b) as usize);
            for unit in s.chunks_exact_mut(self.geo.swap as usize) {
                unit.reverse();
            }
        }
        Ok(())
    }

    /// Reads `out.len() / itemsize` elements from `index` into `out` (whose length must be a
    /// multiple of the item size), in this machine's byte order.
    pub fn read_bytes(&mut self, index: u64, out: &mut [u8]) -> Result<()> {
        if out.len() as u64 % self.geo.itemsize != 0 {
            bail!(
                InvalidArgument,
                "buffer of {} bytes is not whole elements of {} bytes",
                out.len(),
                self.geo.itemsize
            );
        }
        // SAFETY: out is writable for its whole length.
        unsafe { self.read_raw(index, out.len() as u64 / self.geo.itemsize, out.as_mut_ptr()) }
    }

    fn check_dtype<T: Element>(&self) -> Result<()> {
        if T::DTYPE.code() != self.geo.dtype {
            bail!(
                TypeMismatch,
                "{} holds {}, not {}",
                self.node.name,
                crate::npy::dtype_name(self.geo.dtype).unwrap_or("?"),
                T::DTYPE.name()
            );
        }
        Ok(())
    }

    /// Reads `out.len()` elements from `index`. `T` must be the file's dtype.
    pub fn read<T: Element>(&mut self, index: u64, out: &mut [T]) -> Result<()> {
        self.check_dtype::<T>()?;
        // SAFETY: out is writable for out.len() elements of T, whose size is the itemsize.
        unsafe { self.read_raw(index, out.len() as u64, out.as_mut_ptr().cast()) }
    }

    /// [`read`](Self::read) into a new vector.
    pub fn read_vec<T: Element>(&mut self, index: u64, count: u64) -> Result<Vec<T>> {
        self.check_dtype::<T>()?;
        // Checked against the file first, so the allocation is no larger than the file.
        self.bytes_of(index, count)?;
        let mut v: Vec<T> = Vec::with_capacity(count as usize);
        // SAFETY: v has room for count elements; read_raw fills all of them or fails, and
        // every bit pattern is a valid T (Element's contract).
        unsafe {
            self.read_raw(index, count, v.as_mut_ptr().cast())?;
            v.set_len(count as usize);
        }
        Ok(v)
    }

    unsafe fn pread(&mut self, b: u64, e: u64, out: *mut u8) -> Result<()> {
        let n = (e - b) as usize;
        let got = {
            let fd = Self::use_fd(&self.shared, &mut self.fd_cache, self.node.slot)?;
            self.shared.counters.preads.fetch_add(1, Relaxed);
            file::pread_raw(fd.fd(), out, n, b)
                .map_err(|e| Error::os(format_args!("read {}", self.node.name), e))?
        };
        if got < n {
            let size = self.refresh().map(|_| self.node.size.load(Relaxed)).unwrap_or(b + got as u64);
            return Err(out_of_bounds(format!(
                "{} shrank to {size} bytes while it was read (the buffer's content is unspecified)",
                self.node.name
            )));
        }
        Ok(())
    }

    /// Copies bytes `[b, e)` through mapped windows: the cursor's borrowed window, the window
    /// it read through last (upgraded without the lock), or another found or mapped under the
    /// lock. Windows are held only while copied from, so a read leaves nothing pinned (idle
    /// cursors hold no budget).
    unsafe fn read_mapped(&mut self, b: u64, e: u64, out: *mut u8) -> Result<()> {
        let mut pos = b;
        while pos < e {
            if let Some(p) = &self.pin {
                if p.start <= pos && pos < p.end() {
                    let n = e.min(p.end()) - pos;
                    p.map.last_use.fetch_max(self.shared.tick(), Relaxed);
                    copy(&p.map, p.start, pos, n, out.add((pos - b) as usize));
                    pos += n;
                    continue;
                }
            }
            let cell = (pos / self.shared.b.window) as usize % CACHE_CELLS;
            let cached = match self.cache.get(cell) {
                Some(Some(c)) if c.start <= pos && pos < c.end => c.map.upgrade().map(|m| (m, c.start)),
                _ => None,
            };
            let (map, start) = match cached {
                Some(hit) => {
                    hit.0.last_use.store(self.shared.tick(), Relaxed);
                    hit
                }
                None => match self.find_or_map(pos, pos + 1, false, 0)? {
                    Some(Held { map, start, .. }) => {
                        if self.cache.is_empty() {
                            self.cache.resize_with(CACHE_CELLS, || None);
                        }
                        self.cache[cell] =
                            Some(Cached { map: Arc::downgrade(&map), start, end: start + map.len() });
                        (map, start)
                    }
                    // No room without churning mappings: the rest with pread.
                    None => return self.pread(pos, e, out.add((pos - b) as usize)),
                },
            };
            let n = e.min(start + map.len()) - pos;
            copy(&map, start, pos, n, out.add((pos - b) as usize));
            pos += n;
        }
        Ok(())
    }

    /// Where a window holding bytes `[b, e)` starts and how long it is: the window grid
    /// cell of `b`, or (when `[b, e)` straddles the cell's end: an element at an odd offset)
    /// a window starting at `b`'s page.
    fn window_for(&self, b: u64, e: u64) -> (u64, u64) {
        let (w, p) = (self.shared.b.window, self.shared.b.page);
        let mut start = b / w * w;
        if e > start + w {
            start = b / p * p;
        }
        let file_end = self.node.size.load(Relaxed).div_ceil(p) * p;
        let mut len = w.min(file_end.saturating_sub(start));
        if start + len < e {
            len = (e - start).div_ceil(p) * p;
        }
        (start, len)
    }

    /// A window holding bytes `[b, e)`, held for the caller: one mapped already, or a new one.
    /// A new window may evict others when `evict` is set or when it continues this cursor's
    /// last window (a sequential scan); otherwise it is mapped only into free room. An evicting
    /// borrow at random maps only the pages of `want` bytes from `b` rather than a whole window.
    /// `None` when not mapped. Returns the window with its start, table index and id.
    fn find_or_map(&mut self, b: u64, e: u64, evict: bool, want: u64) -> Result<Option<Held>> {
        let (mut start, mut len) = self.window_for(b, e);
        let sh = &*self.shared;
        let fid = self.node.slot;
        let mut st = sh.lock();
        let found = match sh.find_window(&st, fid, b, e) {
            Some(i) => Some(i),
            None => {
                let sequential = self.last_end == start;
                if evict && !sequential && !sh.b.window_fits(&sh.counters, len) {
                    // A borrow at random under a full budget: map only the pages it asks for
                    // (`want` bytes from b), not a whole window, so that evicting and mapping
                    // cost no more than they must.
                    let p = sh.b.page;
                    let file_end = self.node.size.load(Relaxed).div_ceil(p) * p;
                    start = b / p * p;
                    // `want` comes from the caller (count * itemsize, up to u64::MAX): saturate,
                    // the clamps below bring it back inside the window and the file.
                    len = (b.saturating_add(want.max(e - b)).div_ceil(p).saturating_mul(p) - start)
                        .max(SMALL_WINDOW);
                    len = len
                        .min(sh.b.window.max(e.div_ceil(p) * p - start))
                        .min(file_end.saturating_sub(start));
                }
                let (st2, got) = sh.map_window(st, fid, start, len, evict || sequential)?;
                st = st2;
                got
            }
        };
        let Some(i) = found else { return Ok(None) };
        st.windows.touch(i, sh.tick());
        let w = st.windows.get(i).expect("window");
        self.last_end = w.end();
        Ok(Some(Held { map: w.map.clone(), start: w.start, slot: i, id: w.id }))
    }

    /// Pins a window holding bytes `[b, e)` and, if it has to be mapped at random under a full
    /// budget, `want` bytes from `b` (see [`find_or_map`](Self::find_or_map)), as the cursor's
    /// borrow, letting go of the previous one. False when none could be mapped.
    fn pin_window(&mut self, b: u64, e: u64, want: u64) -> Result<bool> {
        self.unpin();
        let Some(Held { map, start, slot, id }) = self.find_or_map(b, e, true, want)? else {
            return Ok(false);
        };
        self.pin = Some(Pin { map, slot, id, start });
        Ok(true)
    }

    /// Pins the window holding element `index` and lends it out: at most `count` elements
    /// (0 = as many as the window holds) from `index`, at least one.
    ///
    /// Unless reads are mapped (see [`CursorInfo::mapped_reads`]), the file's size is
    /// re-read first, so the borrow never covers bytes that were cut off before the call.
    /// Evicts least recently used unpinned windows to make room; `Busy` when every window
    /// in the budget is pinned by other cursors.
    pub fn pin(&mut self, index: u64, count: u64) -> Result<Pinned<'_>> {
        self.shared.check_open()?;
        if index >= self.len || !self.mapped() {
            // A borrow of a file that could be cut re-checks its size (and sees growth).
            self.refresh()?;
        }
        if index >= self.len {
            return Err(out_of_bounds(format!(
                "element {index} lies beyond the {} elements of {}",
                self.len, self.node.name
            )));
        }
        let isz = self.geo.itemsize;
        let b = self.geo.data_offset + index * isz;
        let covered = self.pin.as_ref().is_some_and(|p| p.start <= b && b + isz <= p.end());
        let want = if count == 0 { self.shared.b.window } else { count.saturating_mul(isz) };
        if !covered && !self.pin_window(b, b + isz, want)? {
            bail!(
                Busy,
                "no window of {} can be mapped: the budget of {} bytes in {} windows is held by pinned windows",
                self.node.name,
                self.shared.b.max_mapped,
                if self.shared.b.max_windows == u64::MAX { "any number of".to_string() } else { self.shared.b.max_windows.to_string() }
            );
        }
        let p = self.pin.as_ref().expect("pinned");
        let data_end = self.geo.data_offset + self.len * isz;
        let avail = (p.end().min(data_end) - b) / isz;
        let count = if count == 0 { avail } else { count.min(avail) };
        Ok(Pinned {
            // SAFETY: b lies inside the pinned mapping.
            ptr: unsafe { p.map.ptr().add((b - p.start) as usize) },
            count,
            window_id: p.id,
            window_offset: p.start,
            window_len: p.map.len(),
            window_valid: self.node.size.load(Relaxed).saturating_sub(p.start).min(p.map.len()),
            _cursor: PhantomData,
        })
    }

    /// Lets go of the cursor's window, if it pins one (it stays mapped until evicted).
    pub fn unpin(&mut self) {
        if let Some(p) = self.pin.take() {
            p.map.last_use.fetch_max(self.shared.tick(), Relaxed);
        }
    }

    /// The window the cursor pins now.
    pub fn window(&self) -> Option<WindowInfo> {
        let p = self.pin.as_ref()?;
        let st = self.shared.lock();
        if st.windows.get(p.slot).is_some_and(|w| w.id == p.id) {
            return Some(self.shared.window_info(&st, p.slot));
        }
        let size = self.node.size.load(Relaxed);
        Some(WindowInfo {
            id: p.id,
            offset: p.start,
            len: p.map.len(),
            valid: size.saturating_sub(p.start).min(p.map.len()),
            pins: Arc::strong_count(&p.map) as u64,
        })
    }

    /// Another cursor on the same file, at the same place, pinning the same window (so that
    /// window stays mapped while either pins it).
    pub fn try_clone(&self) -> Result<Cursor> {
        self.shared.check_open()?;
        let mut st = self.shared.lock();
        st.files[self.fid()].as_mut().expect("cursor's file").cursors += 1;
        let pin =
            self.pin.as_ref().map(|p| Pin { map: p.map.clone(), slot: p.slot, id: p.id, start: p.start });
        drop(st);
        Ok(Cursor {
            shared: self.shared.clone(),
            node: self.node.clone(),
            geo: self.geo.clone(),
            len: self.len,
            pin,
            cache: Vec::new(),
            fd_cache: None,
            last_end: self.last_end,
        })
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        self.unpin();
        self.cache.clear();
        self.fd_cache = None;
        let sh = self.shared.clone();
        let mut st = sh.lock();
        let fid = self.node.slot;
        if let Some(f) = st.files[fid].as_mut() {
            f.cursors -= 1;
        }
        sh.maybe_drop_file(&mut st, fid);
    }
}

/// Copies `n` bytes of the file from offset `pos` out of `map`, which starts at file offset
/// `start` and covers `[pos, pos + n)`.
///
/// # Safety
/// `dst` must be valid for `n` bytes of writes.
unsafe fn copy(map: &Mapping, start: u64, pos: u64, n: u64, dst: *mut u8) {
    debug_assert!(start <= pos && pos + n <= start + map.len());
    // The mapping is foreign memory other processes may write: copied as bytes through raw
    // pointers, never seen as a Rust reference.
    std::ptr::copy_nonoverlapping(map.ptr().add((pos - start) as usize), dst, n as usize);
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("file", &self.node.name)
            .field("geometry", &self.geo)
            .field("len", &self.len)
            .field("window", &self.pin.as_ref().map(|p| (p.id, p.start, p.map.len())))
            .finish()
    }
}

impl std::fmt::Debug for Pinned<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinned")
            .field("ptr", &self.ptr)
            .field("count", &self.count)
            .field("window", &(self.window_id, self.window_offset, self.window_len, self.window_valid))
            .finish()
    }
}
