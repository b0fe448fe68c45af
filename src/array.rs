//! The array handle: a typed, growable array in a shared store.
//!
//! Each handle maps its store once, with a length much larger than the store (its
//! *reservation*), so the data pointer never moves: growth only makes more of the
//! mapping valid. Every access is checked against the store size this handle has seen
//! (`known`), never against header fields, which a peer may have scribbled on.

use crate::dtype::{Dtype, Element};
use crate::error::{bail, Error, ErrorKind, Result};
use crate::layout::{Geometry, Header, DATA_OFFSET, HEADER_SIZE, OFF_CAPACITY, OFF_LEN};
use crate::store::{self, Location};
use crate::sys;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::Mutex;

/// Address space each handle reserves for its mapping on 64-bit systems: 1 TiB.
/// Halved until the system grants it (under `ulimit -v`, or Valgrind), but never below
/// twice the store's size at attach time.
pub const DEFAULT_RESERVATION: u64 = 1 << 40;
/// Capacity in elements when 0 is asked for: enough for 64 KiB of data.
pub const DEFAULT_CAPACITY_BYTES: u64 = 64 << 10;
/// Each growth adds `1 / GROWTH_DIVISOR` of the data size (at least a page): geometric, so
/// appends cost amortised O(1), while at most a quarter of the store is allocated ahead of use.
/// (Doubling allocated 1.6x the pages a plain loop touches for 10M u32; see docs/BENCHMARKS.md.)
pub const GROWTH_DIVISOR: u64 = 4;
/// The largest single growth step: 1 GiB.
pub const MAX_GROWTH_STEP: u64 = 1 << 30;

/// How to create or attach an array.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Attach read-only: the store is mapped read-only and every mutator fails with `ReadOnly`.
    pub read_only: bool,
    /// Hold the writer lease for the handle's life: appends take a lock-free path, and other
    /// appenders and other exclusive attaches get `Busy`.
    pub exclusive: bool,
    /// Create: replace an existing array of the same name instead of failing with `Exists`.
    pub overwrite: bool,
    /// Create: permission bits of a named store; `None` is 0o600 (owner only). Applied
    /// exactly, whatever the umask. Must include owner read and write (0o600).
    /// Example: `Some(0o660)` lets the owner's group attach; `Some(0o644)` lets anyone attach read-only.
    pub mode: Option<u32>,
}

/// The permission bits of a store created without [`Options::mode`].
pub const DEFAULT_MODE: u32 = 0o600;

/// A handle on an mba array. `Send` and `Sync`; see [`Array::append_raw`] for which calls
/// may run at once on one handle.
pub struct Array {
    pub(crate) file: File,
    map: memmap2::MmapRaw,
    pub(crate) geo: Geometry,
    pub(crate) uri: String,
    read_only: bool,
    /// This handle's slot (see `lock.rs`); 0 until it first takes the lock, and always 0 when read-only.
    pub(crate) slot: AtomicU32,
    /// Serialises taking the slot.
    pub(crate) slot_lock: Mutex<()>,
    /// Whether this handle holds the writer lease.
    pub(crate) lease: bool,
    /// The lease holder's own length, which no one else may change.
    local_len: AtomicU64,
    /// Bytes of the store known to exist and to lie inside the mapping.
    known: AtomicU64,
    /// The same in whole elements after `data_offset`, for one-compare bounds checks.
    known_elems: AtomicU64,
    /// Serialises the slow path that re-reads the store size.
    refresh_lock: Mutex<()>,
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Array")
            .field("uri", &self.uri)
            .field("dtype", &self.geo.dtype)
            .field("len", &self.len())
            .field("read_only", &self.read_only)
            .field("exclusive", &self.lease)
            .finish()
    }
}

impl Array {
    /// Creates a new array of `dtype` at `uri` (`shm://NAME`, `file://PATH`, or `""` for an
    /// anonymous memfd) with room for `capacity` elements (0: a 64 KiB default).
    pub fn create(uri: impl AsRef<OsStr>, dtype: Dtype, capacity: u64, opts: Options) -> Result<Array> {
        let uri = uri.as_ref();
        let shown = shown(uri);
        Self::create_inner(uri, &shown, dtype, capacity, opts)
            .map_err(|e| e.context(format_args!("create {shown}")))
    }

    fn create_inner(uri: &OsStr, shown: &str, dtype: Dtype, capacity: u64, opts: Options) -> Result<Array> {
        if opts.read_only {
            bail!(InvalidArgument, "an array cannot be created read-only");
        }
        let loc = Location::parse(uri)?;
        let mode = opts.mode.unwrap_or(DEFAULT_MODE);
        if mode & !0o777 != 0 || mode & 0o600 != 0o600 {
            bail!(
                InvalidArgument,
                "mode {mode:o} must be permission bits (at most 777) including owner read and write (600)"
            );
        }
        let item = dtype.itemsize() as u64;
        let capacity = if capacity == 0 { DEFAULT_CAPACITY_BYTES / item } else { capacity };
        // Exactly the capacity asked for; growth later rounds to whole pages.
        let size = capacity
            .checked_mul(item)
            .and_then(|b| b.checked_add(DATA_OFFSET as u64))
            .filter(|&b| b <= i64::MAX as u64)
            .ok_or_else(|| {
                Error::new(ErrorKind::InvalidArgument, format!("capacity {capacity} is too large"))
            })?;
        let new = store::create_unnamed(&loc)?;
        let fd = new.file.as_fd();
        sys::allocate(fd, 0, size).map_err(|e| Error::os(format_args!("allocate {size} bytes"), e))?;
        let (pid, start) = sys::process_identity();
        let header = Header::new(dtype, (size - DATA_OFFSET as u64) / item, pid, start, sys::now_ns());
        sys::pwrite_all(fd, &header.to_bytes(), 0).map_err(|e| Error::os("write header", e))?;
        new.seal(&loc, mode)?;
        let file = new.publish(&loc, opts.overwrite)?;
        Self::from_file(file, shown.to_owned(), opts)
    }

    /// Attaches to the existing array at `uri`.
    pub fn attach(uri: impl AsRef<OsStr>, opts: Options) -> Result<Array> {
        let uri = uri.as_ref();
        let shown = shown(uri);
        let run = || {
            if opts.overwrite || opts.mode.is_some() {
                bail!(InvalidArgument, "overwrite and mode are create options");
            }
            let loc = Location::parse(uri)?;
            let Some(path) = loc.path() else {
                bail!(InvalidArgument, "attach needs a name (an anonymous array is attached by its fd)")
            };
            let file = store::open(path, !opts.read_only)?;
            Self::from_file(file, shown.clone(), opts)
        };
        run().map_err(|e| e.context(format_args!("attach {shown}")))
    }

    /// Attaches a new handle to the array in the store behind `fd` (a memfd received over a
    /// socket, say). `fd` stays the caller's; the handle opens its own description of it.
    pub fn attach_fd(fd: RawFd, opts: Options) -> Result<Array> {
        let shown = format!("fd {fd}");
        let run = || {
            if opts.overwrite || opts.mode.is_some() {
                bail!(InvalidArgument, "overwrite and mode are create options");
            }
            let file = store::reopen_fd(fd, !opts.read_only)?;
            Self::from_file(file, shown.clone(), opts)
        };
        run().map_err(|e| e.context(format_args!("attach {shown}")))
    }

    fn from_file(file: File, uri: String, opts: Options) -> Result<Array> {
        if opts.read_only && opts.exclusive {
            bail!(InvalidArgument, "a read-only handle cannot hold the writer lease");
        }
        let (size, regular) = sys::fstat(file.as_fd()).map_err(|e| Error::os("stat", e))?;
        if !regular {
            bail!(InvalidArgument, "not a regular file or shared-memory object");
        }
        if size < HEADER_SIZE as u64 {
            bail!(Corrupt, "store is {size} bytes, smaller than the {HEADER_SIZE}-byte header");
        }
        // The header is copied out of the mapping (one system call fewer than pread), then checked.
        let map = map_reserved(&file, size, opts.read_only)?;
        let mut raw = [0u8; HEADER_SIZE];
        // SAFETY: the store holds at least HEADER_SIZE bytes (checked above) and the mapping starts
        // at its offset 0; the bytes are copied, never referenced.
        unsafe { ptr::copy_nonoverlapping(map.as_ptr(), raw.as_mut_ptr(), HEADER_SIZE) };
        let geo = Header::from_bytes(&raw).validate(size)?;
        let known = size.min(map.len() as u64);
        let mut a = Array {
            file,
            map,
            geo,
            uri,
            read_only: opts.read_only,
            slot: AtomicU32::new(0),
            slot_lock: Mutex::new(()),
            lease: false,
            local_len: AtomicU64::new(0),
            known: AtomicU64::new(known),
            known_elems: AtomicU64::new((known - geo.data_offset as u64) / geo.itemsize as u64),
            refresh_lock: Mutex::new(()),
        };
        // A writable handle takes its slot when it first needs the lock (see `Array::slot`),
        // so attaching to read or to write in place costs no lock.
        if opts.exclusive {
            a.take_lease()?;
            // Appenders may have grown the store since it was measured above: measure again.
            let len = a.len_word().load(Acquire);
            if len > a.known_elems.load(Relaxed) {
                a.refresh_for(len, a.end_of(len))?;
            }
            a.local_len.store(len, Relaxed);
        }
        Ok(a)
    }

    // ----- accessors -----

    pub(crate) fn base(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }
    fn len_word(&self) -> &AtomicU64 {
        // SAFETY: the header is inside the mapping for the handle's life; 8-aligned.
        unsafe { AtomicU64::from_ptr(self.base().add(OFF_LEN).cast()) }
    }
    fn capacity_word(&self) -> &AtomicU64 {
        // SAFETY: as len_word.
        unsafe { AtomicU64::from_ptr(self.base().add(OFF_CAPACITY).cast()) }
    }

    /// The published length. Another process may append at any moment; elements below the
    /// value returned are fully written.
    #[inline]
    pub fn len(&self) -> u64 {
        self.len_word().load(Acquire)
    }
    /// Whether the published length is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Elements the store has room for before it must grow, as the header says.
    pub fn capacity(&self) -> u64 {
        self.capacity_word().load(Acquire)
    }
    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.geo.dtype
    }
    /// Bytes per element.
    pub fn itemsize(&self) -> usize {
        self.geo.itemsize
    }
    /// The URI this handle was opened with (`fd N` for [`Array::attach_fd`]).
    pub fn uri(&self) -> &str {
        &self.uri
    }
    /// Whether the handle was attached read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }
    /// Whether the handle holds the writer lease.
    pub fn is_exclusive(&self) -> bool {
        self.lease
    }
    /// The store's descriptor, owned by the handle (close-on-exec).
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
    /// The most elements this handle can ever address: its reservation less the header.
    pub fn max_capacity(&self) -> u64 {
        (self.map.len() - self.geo.data_offset) as u64 / self.geo.itemsize as u64
    }
    /// Element 0. Valid, and unmoved, for the handle's whole life, however much the array grows.
    /// Elements `0..len()` may be read through it; it is shared memory that other processes
    /// may write at any time, so never make a Rust reference or slice over it.
    pub fn data_ptr(&self) -> *mut u8 {
        // SAFETY: data_offset <= store size <= mapping length, checked at attach.
        unsafe { self.base().add(self.geo.data_offset) }
    }

    // ----- bounds -----

    /// Byte offset of the end of element `n - 1`, i.e. where `n` elements end.
    #[inline]
    fn end_of(&self, n: u64) -> Option<u64> {
        n.checked_mul(self.geo.itemsize as u64)?.checked_add(self.geo.data_offset as u64)
    }

    /// Makes sure elements `..n` lie in the store as this handle knows it, re-reading the
    /// store size if needed. Errors if the store does not hold them.
    #[inline]
    fn ensure_mapped(&self, op: &str, n: u64) -> Result<()> {
        if n <= self.known_elems.load(Acquire) {
            return Ok(());
        }
        self.refresh_for(n, self.end_of(n)).map_err(|e| e.context(format_args!("{op} {}", self.uri)))
    }

    #[cold]
    fn refresh_for(&self, n: u64, end: Option<u64>) -> Result<()> {
        let Some(end) = end else {
            bail!(Corrupt, "length {n} overflows the address space");
        };
        let size = self.refresh()?;
        if end <= self.known.load(Acquire) {
            return Ok(());
        }
        if end > size {
            bail!(Corrupt, "length {n} exceeds the store ({size} bytes)");
        }
        bail!(
            NoSpace,
            "element {} lies beyond the {} bytes of address space this handle reserved; attach a new handle",
            n - 1,
            self.map.len()
        )
    }

    /// Re-reads the store size and returns it; what lies inside the mapping becomes `known`.
    fn refresh(&self) -> Result<u64> {
        let _g = self.refresh_lock.lock().unwrap_or_else(|p| p.into_inner());
        let (size, _) = sys::fstat(self.file.as_fd()).map_err(|e| Error::os("stat", e))?;
        self.set_known(size.min(self.map.len() as u64));
        Ok(size)
    }

    fn set_known(&self, known: u64) {
        let elems = known.saturating_sub(self.geo.data_offset as u64) / self.geo.itemsize as u64;
        self.known.store(known, Release);
        self.known_elems.store(elems, Release);
    }

    #[cold]
    fn read_only_error(&self, op: &str) -> Error {
        Error::new(ErrorKind::ReadOnly, format!("{op} {}: handle is read-only", self.uri))
    }

    #[cold]
    fn out_of_bounds(&self, op: &str, start: u64, count: u64, len: u64) -> Error {
        if count == 1 {
            Error::new(
                ErrorKind::OutOfBounds,
                format!("{op} {}: index {start} is out of bounds (len {len})", self.uri),
            )
        } else {
            Error::new(
                ErrorKind::OutOfBounds,
                format!("{op} {}: range {start}+{count} is out of bounds (len {len})", self.uri),
            )
        }
    }

    #[cold]
    fn too_many(&self, op: &str, count: u64) -> Error {
        Error::new(ErrorKind::InvalidArgument, format!("{op} {}: count {count} overflows", self.uri))
    }

    /// `count` elements in bytes, or an error if that overflows.
    fn bytes_of(&self, op: &str, count: u64) -> Result<usize> {
        count
            .checked_mul(self.geo.itemsize as u64)
            .and_then(|b| usize::try_from(b).ok())
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(|| self.too_many(op, count))
    }

    /// Checks `start..start+count` against the published length and the store.
    fn check_range(&self, op: &str, start: u64, count: u64) -> Result<usize> {
        let len = self.len();
        match start.checked_add(count) {
            Some(end) if end <= len => {
                self.ensure_mapped(op, end)?;
                self.bytes_of(op, count)
            }
            _ => Err(self.out_of_bounds(op, start, count, len)),
        }
    }

    #[inline]
    fn elem_ptr(&self, index: u64) -> *mut u8 {
        // SAFETY (for callers): index was checked by ensure_mapped, so the element is in the mapping.
        unsafe { self.data_ptr().add(index as usize * self.geo.itemsize) }
    }

    // ----- appending -----

    /// Appends one element read from `src` (`itemsize()` bytes, any alignment).
    ///
    /// Threads: reads (`get`, `read`, `len`, `data_ptr`) may run on one handle from any number
    /// of threads at once, alongside any other call. On a handle without the lease the
    /// length-changing calls (`append`, `extend`, `pop`, `reserve`) may also run from several
    /// threads: the append lock serialises them. On an exclusive handle they take no lock,
    /// so they must come from one thread at a time (or be serialised by the caller).
    ///
    /// # Safety
    /// `src` must be valid for reads of `itemsize()` bytes.
    #[inline]
    pub unsafe fn append_raw(&self, src: *const u8) -> Result<()> {
        if self.try_append_fast(src) {
            return Ok(());
        }
        self.append_slow(src)
    }

    /// The lease holder's append when the store has room: no lock, no system call, no
    /// error to build. `false` when it does not apply; then call `append_slow`.
    ///
    /// # Safety
    /// As [`Array::append_raw`].
    #[inline(always)]
    unsafe fn try_append_fast(&self, src: *const u8) -> bool {
        if !self.lease {
            return false;
        }
        let n = self.local_len.load(Relaxed);
        if n >= self.known_elems.load(Relaxed) {
            return false;
        }
        copy_elem(src, self.elem_ptr(n), self.geo.itemsize);
        self.len_word().store(n + 1, Release);
        self.local_len.store(n + 1, Relaxed);
        true
    }

    /// Every append `try_append_fast` leaves: growth, and handles without the lease.
    ///
    /// # Safety
    /// As [`Array::append_raw`].
    #[inline(never)]
    unsafe fn append_slow(&self, src: *const u8) -> Result<()> {
        if self.lease {
            self.room_for("append", self.local_len.load(Relaxed), 1)?;
            let appended = self.try_append_fast(src); // room_for made room for it
            debug_assert!(appended);
            return Ok(());
        }
        self.extend_shared("append", src, 1)
    }

    /// Appends `count` elements read from `src`.
    ///
    /// # Safety
    /// `src` must be valid for reads of `count * itemsize()` bytes.
    pub unsafe fn extend_raw(&self, src: *const u8, count: u64) -> Result<()> {
        let bytes = self.bytes_of("extend", count)?;
        if count == 0 {
            return if self.read_only { Err(self.read_only_error("extend")) } else { Ok(()) };
        }
        if self.lease {
            let n = self.local_len.load(Relaxed);
            self.room_for("extend", n, count)?;
            ptr::copy_nonoverlapping(src, self.elem_ptr(n), bytes);
            self.len_word().store(n + count, Release);
            self.local_len.store(n + count, Relaxed);
            return Ok(());
        }
        self.extend_shared("extend", src, count)
    }

    unsafe fn extend_shared(&self, op: &str, src: *const u8, count: u64) -> Result<()> {
        if self.read_only {
            return Err(self.read_only_error(op));
        }
        let bytes = self.bytes_of(op, count)?;
        let _g = self.sole_appender(op)?;
        let n = self.len_word().load(Relaxed);
        // The length is the header's: a peer may have written anything there.
        self.ensure_mapped(op, n)?;
        self.room_for(op, n, count)?;
        if count == 1 {
            copy_elem(src, self.elem_ptr(n), self.geo.itemsize);
        } else {
            ptr::copy_nonoverlapping(src, self.elem_ptr(n), bytes);
        }
        self.len_word().store(n + count, Release);
        Ok(())
    }

    /// Makes room for `count` more elements after `n`, growing the store if needed.
    /// Only the lease holder or the append-lock holder calls this.
    fn room_for(&self, op: &str, n: u64, count: u64) -> Result<()> {
        match n.checked_add(count) {
            Some(m) if m <= self.known_elems.load(Relaxed) => Ok(()),
            _ => self.grow(op, n, count),
        }
    }

    #[cold]
    fn grow(&self, op: &str, n: u64, count: u64) -> Result<()> {
        let Some(need) = n.checked_add(count) else {
            bail!(InvalidArgument, "{op} {}: length {n} + {count} overflows", self.uri);
        };
        self.grow_to(need).map_err(|e| e.context(format_args!("{op} {}", self.uri)))
    }

    /// Grows the store to hold at least `need` elements, geometrically (see [`GROWTH_DIVISOR`])
    /// in steps of at most [`MAX_GROWTH_STEP`], with the storage allocated for real so later
    /// writes cannot fault.
    fn grow_to(&self, need: u64) -> Result<()> {
        let Some(need_end) = self.end_of(need) else {
            bail!(InvalidArgument, "{need} elements overflow the address space");
        };
        let known = self.refresh()?.min(self.map.len() as u64);
        if need_end <= known {
            return Ok(());
        }
        let page = sys::page_size() as u64;
        let data = known.saturating_sub(self.geo.data_offset as u64);
        let grown = known.saturating_add((data / GROWTH_DIVISOR).clamp(page, MAX_GROWTH_STEP));
        let target = need_end.max(grown).checked_next_multiple_of(page).unwrap_or(u64::MAX);
        let limit = self.map.len() as u64;
        if need_end > limit {
            bail!(
                NoSpace,
                "{need} elements need {need_end} bytes, beyond the {limit} bytes of address space this handle reserved"
            );
        }
        let mut target = target.min(limit);
        let fd = self.file.as_fd();
        if let Err(e) = sys::allocate(fd, known, target - known) {
            // Out of space for the whole step: take only what this call needs, if that fits.
            let just_enough = need_end.checked_next_multiple_of(page).unwrap_or(need_end).min(limit);
            let full = matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT));
            if !full || just_enough >= target || sys::allocate(fd, known, just_enough - known).is_err() {
                return Err(Error::os(format_args!("grow store from {known} to {target} bytes"), e));
            }
            target = just_enough;
        }
        self.set_known(target);
        let cap = (target - self.geo.data_offset as u64) / self.geo.itemsize as u64;
        self.capacity_word().fetch_max(cap, Release);
        Ok(())
    }

    /// Grows the store to hold at least `capacity` elements.
    pub fn reserve(&self, capacity: u64) -> Result<()> {
        if self.read_only {
            return Err(self.read_only_error("reserve"));
        }
        let _g = self.sole_appender("reserve")?;
        self.grow_to(capacity).map_err(|e| e.context(format_args!("reserve {}", self.uri)))
    }

    /// Removes the last element, copying it to `dst`.
    ///
    /// # Safety
    /// `dst` must be valid for writes of `itemsize()` bytes.
    pub unsafe fn pop_raw(&self, dst: *mut u8) -> Result<()> {
        self.shorten("pop", |n| {
            if n == 0 {
                bail!(Empty, "pop {}: array is empty", self.uri);
            }
            self.ensure_mapped("pop", n)?;
            copy_elem(self.elem_ptr(n - 1), dst, self.geo.itemsize);
            Ok(n - 1)
        })
    }

    /// Shortens the array to `len` elements; like `pop`, under the lease or the append lock.
    /// `OutOfBounds` if `len` exceeds the current length (it never grows the array).
    pub fn truncate(&self, len: u64) -> Result<()> {
        self.shorten("truncate", |n| {
            if len > n {
                bail!(OutOfBounds, "truncate {}: length {len} exceeds the current length {n}", self.uri);
            }
            Ok(len)
        })
    }

    /// Runs `f` on the current length as its only changer (the lease holder, or the holder of
    /// the append lock with no lease about), then publishes the length `f` returns.
    fn shorten(&self, op: &str, f: impl FnOnce(u64) -> Result<u64>) -> Result<()> {
        if self.read_only {
            return Err(self.read_only_error(op));
        }
        let _g = self.sole_appender(op)?;
        let n = if self.lease { self.local_len.load(Relaxed) } else { self.len_word().load(Relaxed) };
        let len = f(n)?;
        self.len_word().store(len, Release);
        if self.lease {
            self.local_len.store(len, Relaxed);
        }
        Ok(())
    }

    // ----- reading and writing in place -----

    /// Copies element `index` to `dst`.
    ///
    /// # Safety
    /// `dst` must be valid for writes of `itemsize()` bytes.
    #[inline]
    pub unsafe fn get_raw(&self, index: u64, dst: *mut u8) -> Result<()> {
        if self.try_get_fast(index, dst) {
            return Ok(());
        }
        self.get_slow(index, dst)
    }

    /// `get` when the element is published and known to be in the store: no error to build.
    ///
    /// # Safety
    /// As [`Array::get_raw`].
    #[inline(always)]
    unsafe fn try_get_fast(&self, index: u64, dst: *mut u8) -> bool {
        if index < self.len() && index < self.known_elems.load(Relaxed) {
            copy_elem(self.elem_ptr(index), dst, self.geo.itemsize);
            return true;
        }
        false
    }

    /// Every `get` that `try_get_fast` leaves: errors, and elements past the store as known.
    ///
    /// # Safety
    /// As [`Array::get_raw`].
    #[inline(never)]
    unsafe fn get_slow(&self, index: u64, dst: *mut u8) -> Result<()> {
        let len = self.len();
        if index >= len {
            return Err(self.out_of_bounds("get", index, 1, len));
        }
        self.ensure_mapped("get", index + 1)?;
        copy_elem(self.elem_ptr(index), dst, self.geo.itemsize);
        Ok(())
    }

    /// Overwrites element `index` with the element at `src`.
    ///
    /// # Safety
    /// `src` must be valid for reads of `itemsize()` bytes.
    pub unsafe fn set_raw(&self, index: u64, src: *const u8) -> Result<()> {
        if self.read_only {
            return Err(self.read_only_error("set"));
        }
        let len = self.len();
        if index >= len {
            return Err(self.out_of_bounds("set", index, 1, len));
        }
        self.ensure_mapped("set", index + 1)?;
        copy_elem(src, self.elem_ptr(index), self.geo.itemsize);
        Ok(())
    }

    /// Copies elements `start..start+count` to `dst`.
    ///
    /// # Safety
    /// `dst` must be valid for writes of `count * itemsize()` bytes.
    pub unsafe fn read_raw(&self, start: u64, count: u64, dst: *mut u8) -> Result<()> {
        let bytes = self.check_range("read", start, count)?;
        ptr::copy_nonoverlapping(self.elem_ptr(start), dst, bytes);
        Ok(())
    }

    /// Overwrites elements `start..start+count` with those at `src`.
    ///
    /// # Safety
    /// `src` must be valid for reads of `count * itemsize()` bytes.
    pub unsafe fn write_raw(&self, start: u64, count: u64, src: *const u8) -> Result<()> {
        if self.read_only {
            return Err(self.read_only_error("write"));
        }
        let bytes = self.check_range("write", start, count)?;
        ptr::copy_nonoverlapping(src, self.elem_ptr(start), bytes);
        Ok(())
    }

    /// Flushes the mapping to the store: the data first, then the header holding the length
    /// that covers it. `sync`: wait for the writes (`MS_SYNC`) rather than schedule them;
    /// `invalidate`: also drop other cached copies (`MS_INVALIDATE`).
    pub fn msync(&self, sync: bool, invalidate: bool) -> Result<()> {
        let known = self.known.load(Acquire) as usize;
        let mode = (if sync { libc::MS_SYNC } else { libc::MS_ASYNC })
            | (if invalidate { libc::MS_INVALIDATE } else { 0 });
        let page = sys::page_size();
        let split = self.geo.data_offset / page * page;
        let ranges = if split > 0 { [(split, known - split), (0, split)] } else { [(0, known), (0, 0)] };
        for (start, len) in ranges {
            if len == 0 {
                continue;
            }
            // SAFETY: start..start+len lies inside the mapping and start is page-aligned.
            if unsafe { libc::msync(self.base().add(start).cast(), len, mode) } != 0 {
                return Err(Error::os(format_args!("msync {}", self.uri), std::io::Error::last_os_error()));
            }
        }
        Ok(())
    }

    // ----- typed API -----

    fn check_type<T: Element>(&self, op: &str) -> Result<()> {
        if T::DTYPE != self.geo.dtype {
            bail!(
                TypeMismatch,
                "{op} {}: array holds {}, not {}",
                self.uri,
                self.geo.dtype.name(),
                T::DTYPE.name()
            );
        }
        Ok(())
    }

    /// Appends `value`.
    pub fn push<T: Element>(&self, value: T) -> Result<()> {
        self.check_type::<T>("append")?;
        // SAFETY: value is a readable T of itemsize bytes.
        unsafe { self.append_raw((&value as *const T).cast()) }
    }

    /// Appends all of `values`.
    pub fn extend_from_slice<T: Element>(&self, values: &[T]) -> Result<()> {
        self.check_type::<T>("extend")?;
        // SAFETY: the slice is readable for its length.
        unsafe { self.extend_raw(values.as_ptr().cast(), values.len() as u64) }
    }

    /// Element `index`.
    pub fn get<T: Element>(&self, index: u64) -> Result<T> {
        self.check_type::<T>("get")?;
        let mut out = std::mem::MaybeUninit::<T>::uninit();
        // SAFETY: out has room for one T; get_raw writes all of it on success.
        unsafe {
            self.get_raw(index, out.as_mut_ptr().cast())?;
            Ok(out.assume_init())
        }
    }

    /// Overwrites element `index`.
    pub fn set<T: Element>(&self, index: u64, value: T) -> Result<()> {
        self.check_type::<T>("set")?;
        // SAFETY: value is a readable T.
        unsafe { self.set_raw(index, (&value as *const T).cast()) }
    }

    /// Removes and returns the last element.
    pub fn pop<T: Element>(&self) -> Result<T> {
        self.check_type::<T>("pop")?;
        let mut out = std::mem::MaybeUninit::<T>::uninit();
        // SAFETY: as in get.
        unsafe {
            self.pop_raw(out.as_mut_ptr().cast())?;
            Ok(out.assume_init())
        }
    }

    /// Copies `out.len()` elements starting at `start` into `out`.
    pub fn read_into<T: Element>(&self, start: u64, out: &mut [T]) -> Result<()> {
        self.check_type::<T>("read")?;
        // SAFETY: out is writable for its length.
        unsafe { self.read_raw(start, out.len() as u64, out.as_mut_ptr().cast()) }
    }

    /// Overwrites elements from `start` with `values`.
    pub fn write_from<T: Element>(&self, start: u64, values: &[T]) -> Result<()> {
        self.check_type::<T>("write")?;
        // SAFETY: values is readable for its length.
        unsafe { self.write_raw(start, values.len() as u64, values.as_ptr().cast()) }
    }

    /// A copy of the elements published now.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.check_type::<T>("read")?;
        let len = self.len();
        // Check the (peer-written) length against the store before allocating for it.
        let bytes = self.check_range("read", 0, len)?;
        let mut v = Vec::<T>::with_capacity(len as usize);
        // SAFETY: the range is in the store and v has room for its `bytes`; set_len after the copy.
        unsafe {
            ptr::copy_nonoverlapping(self.elem_ptr(0), v.as_mut_ptr().cast::<u8>(), bytes);
            v.set_len(len as usize);
        }
        Ok(v)
    }
}

impl Drop for Array {
    fn drop(&mut self) {
        if self.lease {
            self.drop_lease();
        }
        // The mapping unmaps and the descriptor closes, releasing the slot lock.
    }
}

/// Removes the name of the array at `uri`. Attached handles keep working; the storage is
/// freed when the last one is gone.
pub fn delete(uri: impl AsRef<OsStr>) -> Result<()> {
    let uri = uri.as_ref();
    Location::parse(uri)
        .and_then(|loc| store::delete(&loc))
        .map_err(|e| e.context(format_args!("delete {}", shown(uri))))
}

fn shown(uri: &OsStr) -> String {
    uri.to_string_lossy().into_owned()
}

/// Maps `file` with a length far beyond its size, so that it can grow in place.
fn map_reserved(file: &File, size: u64, read_only: bool) -> Result<memmap2::MmapRaw> {
    let floor = size.saturating_mul(2).max(DEFAULT_CAPACITY_BYTES);
    let mut want = DEFAULT_RESERVATION.max(floor).min(isize::MAX as u64 / 2);
    loop {
        let mut o = memmap2::MmapOptions::new();
        o.len(want as usize);
        let r = if read_only { o.map_raw_read_only(file) } else { o.map_raw(file) };
        match r {
            Ok(m) => return Ok(m),
            Err(e)
                if want / 2 >= size.max(HEADER_SIZE as u64)
                    && matches!(e.raw_os_error(), Some(libc::ENOMEM) | Some(libc::EINVAL)) =>
            {
                want /= 2
            }
            Err(e) => return Err(Error::os(format_args!("map {want} bytes"), e)),
        }
    }
}

/// Copies one element of `size` bytes (1, 2, 4 or 8) as a single access where aligned.
#[inline(always)]
unsafe fn copy_elem(src: *const u8, dst: *mut u8, size: usize) {
    match size {
        1 => ptr::write_volatile(dst, ptr::read_volatile(src)),
        2 => ptr::write_unaligned(dst.cast::<u16>(), ptr::read_unaligned(src.cast::<u16>())),
        4 => ptr::write_unaligned(dst.cast::<u32>(), ptr::read_unaligned(src.cast::<u32>())),
        _ => ptr::write_unaligned(dst.cast::<u64>(), ptr::read_unaligned(src.cast::<u64>())),
    }
}

// SAFETY: all interior state is atomic or behind a Mutex; the mapping is shared memory
// accessed only through raw pointers and atomics.
unsafe impl Send for Array {}
unsafe impl Sync for Array {}
