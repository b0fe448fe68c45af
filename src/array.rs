//! The array handle: a typed, growable array in a shared store.
//!
//! Each handle maps its store once, reserving address space for the array's maximum capacity
//! (a header field fixed at create, so every process agrees on it), so the data pointer never
//! moves: growth only makes more of the mapping valid. Every access is checked against the part
//! of the store this handle knows to be backed (`Region::known`), never against header fields,
//! which a peer may have scribbled on.

use crate::claim::ClaimState;
use crate::dtype::{Dtype, Element};
use crate::error::{bail, Error, ErrorKind, Result};
use crate::fork::{self, ForkState};
use crate::growth;
use crate::layout::{check_shape, Header, DATA_OFFSET, HEADER_SIZE, MAX_DIMS, MAX_RESERVATION};
use crate::lock::{ident, Coord, Os};
use crate::region::{self, Region};
use crate::store::{self, Location};
use crate::sys;
use crate::writer::LocalLock;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::OnceLock;

pub use crate::growth::{GROWTH_DIVISOR, MAX_GROWTH_STEP};
pub use crate::lock::DEFAULT_TIMEOUT_MS;

/// Capacity in elements when 0 is asked for: enough for 64 KiB of data (whole rows).
pub const DEFAULT_CAPACITY_BYTES: u64 = 64 << 10;
/// The default maximum size of an array's data when its creator names none: 4 GiB, or the
/// size of its file system if smaller (memory, for an anonymous array). Small enough that a
/// process can hold 10,000 such arrays in a 47-bit address space, large enough for ordinary
/// use; a creator who needs more asks for it with [`Options::max_capacity`].
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;

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
    /// Create with `overwrite`, and [`delete_with`]: replace or remove the file even if it is
    /// not an mba array (without it, that is `Corrupt`).
    pub force: bool,
    /// Attach: refuse a store owned by another user (`Permission`).
    pub same_owner: bool,
    /// Create: permission bits of a named store; `None` is 0o600 (owner only). Applied
    /// exactly, whatever the umask. Must include owner read and write (0o600).
    /// Example: `Some(0o660)` lets the owner's group attach; `Some(0o644)` lets anyone attach read-only.
    pub mode: Option<u32>,
    /// Create: the most elements the array may ever hold; 0 for the default
    /// ([`DEFAULT_MAX_BYTES`] worth, or the file system's size if smaller).
    pub max_capacity: u64,
    /// Create: number of dimensions, 1 to 8 (0 means 1).
    pub ndim: u32,
    /// Create: the extents of axes `1..ndim` in `shape[1..ndim]` (C order); `shape[0]` is
    /// ignored, as the first axis is the one that grows.
    pub shape: [u64; MAX_DIMS],
    /// Create: a binding's typecode hint, stored in the header (0: none).
    pub typecode: u32,
    /// The bound of every lock wait of the handle, in milliseconds; 0 for [`DEFAULT_TIMEOUT_MS`].
    pub timeout_ms: u64,
}

impl Options {
    /// These options with a shape: `dims[0]` is ignored (the growing axis), `dims[1..]` are the
    /// extents of the other axes.
    pub fn shaped(mut self, dims: &[u64]) -> Self {
        self.ndim = dims.len().max(1) as u32;
        for (i, d) in dims.iter().take(MAX_DIMS).enumerate() {
            self.shape[i] = *d;
        }
        self
    }
}

/// The permission bits of a store created without [`Options::mode`].
pub const DEFAULT_MODE: u32 = 0o600;

/// A handle on an mba array. `Send` and `Sync`: every call may be made from any thread.
pub struct Array {
    file: File,
    pub(crate) region: Region,
    pub(crate) uri: String,
    read_only: bool,
    /// Whether the store lives in memory (tmpfs, shm, memfd): 0 not yet asked, 1 no, 2 yes.
    shmem: std::sync::atomic::AtomicU8,
    /// Whether this handle holds the writer lease.
    pub(crate) lease: bool,
    /// The fork handler's view of this handle, and the lease holder's own length.
    pub(crate) fork: Box<ForkState>,
    /// This process's slot identity, and the slot (0 until first needed; always 0 read-only).
    /// The identity and whether this process is in the array's pid namespace are worked out
    /// when the first slot is taken (they cost a read of `/proc`), not at attach.
    identity: AtomicU64,
    slot: AtomicU32,
    owner_pid: u32,
    /// The array's pid namespace (from its header), and whether this process shares it:
    /// 0 not yet asked, 1 no, 2 yes.
    pidns: u64,
    same_namespace: std::sync::atomic::AtomicU8,
    timeout_ms: AtomicU64,
    /// Serialises this handle's length-changing calls across its threads.
    pub(crate) mutex: LocalLock,
    /// Serialises the slow path that re-reads the store size.
    refresh_lock: LocalLock,
    /// What the handle maps: an mba array, or a raw or `.npy` file of fixed length (see `raw.rs`).
    kind: crate::raw::Kind,
    /// A `.npy` file in the other byte order (read-only; elements are given as stored).
    swapped: bool,
    /// The claim open on this handle, if any (see `claim.rs`).
    pub(crate) claim: ClaimState,
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Array")
            .field("uri", &self.uri)
            .field("dtype", &self.region.geo.dtype)
            .field("len", &self.len())
            .field("read_only", &self.read_only)
            .field("exclusive", &self.lease)
            .finish()
    }
}

fn this_pid_namespace() -> u64 {
    static NS: OnceLock<u64> = OnceLock::new();
    *NS.get_or_init(sys::pid_namespace)
}

/// How far past what it needs a refresh learns pages already in memory (see `Array::learn`).
const LOOKAHEAD: u64 = 16 << 20;

fn page_round(n: u64) -> Option<u64> {
    n.checked_next_multiple_of(sys::page_size() as u64)
}

/// The address space every handle reserves for an array: its maximum capacity, page-rounded.
#[link_section = ".text.hot.mba"]
fn reservation(geo: &crate::layout::Geometry) -> u64 {
    geo.end_of(geo.max_capacity).and_then(page_round).unwrap_or(u64::MAX)
}

impl Array {
    /// Creates a new array of `dtype` at `uri` (`shm://NAME`, `file://PATH`, or `""` for an
    /// anonymous memfd) with room for `capacity` elements now (0: a 64 KiB default).
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
        if opts.same_owner {
            bail!(InvalidArgument, "same_owner is an attach option");
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
        let (shape, row) = check_shape(opts.ndim.max(1), &opts.shape, dtype.itemsize())?;
        let rows_up = |n: u64| n.div_ceil(row).checked_mul(row);
        let asked = capacity;
        let capacity = if asked == 0 { (DEFAULT_CAPACITY_BYTES / item).max(1) } else { asked };
        let capacity = rows_up(capacity).ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument, format!("capacity {capacity} is too large"))
        })?;
        let new = store::create_unnamed(&loc)?;
        let fd = new.file.as_fd();
        let anonymous = matches!(loc, Location::Anonymous);
        let room = if anonymous { sys::memory_total() } else { sys::fs_size(fd).unwrap_or(u64::MAX) };
        let max = if opts.max_capacity == 0 {
            (DEFAULT_MAX_BYTES.min(room) / item / row * row).max(capacity)
        } else {
            let m = opts.max_capacity;
            if m.checked_mul(item).is_none_or(|b| b > room) {
                bail!(
                    NoSpace,
                    "maximum capacity {m} elements of {item} bytes is more than the {} can hold ({room} bytes)",
                    if anonymous { "machine's memory" } else { "file system" }
                );
            }
            if m < row {
                bail!(InvalidArgument, "maximum capacity {m} is less than one row of {row} elements");
            }
            m / row * row
        };
        // The default capacity never exceeds a maximum the creator chose.
        let capacity = if asked == 0 { capacity.min(max) } else { capacity };
        if capacity > max {
            bail!(InvalidArgument, "capacity {capacity} exceeds the maximum capacity {max}");
        }
        let fits = max.checked_mul(item).and_then(|b| b.checked_add(DATA_OFFSET as u64));
        let Some(_) = fits.filter(|&e| e <= MAX_RESERVATION) else {
            bail!(InvalidArgument, "maximum capacity {max} is too large (at most {MAX_RESERVATION} bytes)");
        };
        let size = DATA_OFFSET as u64 + capacity * item;
        check_file_size(size)?;
        if anonymous {
            check_memory(0, size)?;
        }
        sys::allocate(fd, 0, size).map_err(|e| Error::os(format_args!("allocate {size} bytes"), e))?;
        let header = Header::new(
            dtype,
            capacity,
            max,
            opts.ndim.max(1),
            shape,
            opts.typecode,
            fork::identity(),
            this_pid_namespace(),
            sys::now_ns(),
        );
        // The header goes in through the mapping the handle keeps (one system call fewer than a
        // pwrite); the store has no name yet, so no one can see it half-written.
        let geo = header.validate(size)?;
        let map = Region::map(&new.file, reservation(&geo), false)?;
        let bytes = header.to_bytes();
        // SAFETY: the mapping covers the store, which holds at least the header; no one else
        // can reach the unnamed store yet.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), map.as_mut_ptr(), bytes.len()) };
        new.seal(&loc, mode)?;
        let file = new.publish(&loc, opts.overwrite, opts.force)?;
        let st = sys::Stat { size, regular: true, uid: 0 };
        let in_memory = !matches!(loc, Location::File(_));
        Self::from_parts(file, shown.to_owned(), opts, st, header, Some(map), in_memory)
    }

    /// Attaches to the existing array at `uri`. A `shm://` name is opened without following a
    /// symbolic link, as `shm_open` does.
    #[link_section = ".text.hot.mba"]
    pub fn attach(uri: impl AsRef<OsStr>, opts: Options) -> Result<Array> {
        let uri = uri.as_ref();
        if let Some(r) = crate::raw::attach_scheme(uri, opts) {
            return r; // raw:// and npy:// (see raw.rs)
        }
        let shown = shown(uri);
        let run = || {
            check_attach_options(&opts)?;
            let loc = Location::parse(uri)?;
            let Some(path) = loc.path() else {
                bail!(InvalidArgument, "attach needs a name (an anonymous array is attached by its fd)")
            };
            let shm = matches!(loc, Location::Shm(_));
            let file = store::open(path, !opts.read_only, shm)?;
            Self::from_file(file, shown.clone(), opts, shm)
        };
        run().map_err(|e| e.context(format_args!("attach {shown}")))
    }

    /// Attaches a new handle to the array in the store behind `fd` (a memfd received over a
    /// socket, say), with the access that descriptor carries: no path permission is checked.
    /// `fd` stays the caller's; the handle keeps a duplicate. Nothing of the handle's state is
    /// tied to the descriptor, so whoever else holds it cannot affect the handle.
    pub fn attach_fd(fd: RawFd, opts: Options) -> Result<Array> {
        let shown = format!("fd {fd}");
        let run = || {
            check_attach_options(&opts)?;
            let file = store::dup_fd(fd, !opts.read_only)?;
            Self::from_file(file, shown.clone(), opts, false)
        };
        run().map_err(|e| e.context(format_args!("attach {shown}")))
    }

    #[link_section = ".text.hot.mba"]
    fn from_file(file: File, uri: String, opts: Options, in_memory: bool) -> Result<Array> {
        if opts.read_only && opts.exclusive {
            bail!(InvalidArgument, "a read-only handle cannot hold the writer lease");
        }
        let st = sys::fstat(file.as_fd()).map_err(|e| Error::os("stat", e))?;
        if !st.regular {
            bail!(InvalidArgument, "not a regular file or shared-memory object");
        }
        if opts.same_owner {
            // SAFETY: geteuid has no preconditions.
            let me = unsafe { libc::geteuid() };
            if st.uid != me {
                bail!(Permission, "the store is owned by uid {}, not by this user (uid {me})", st.uid);
            }
        }
        if st.size < HEADER_SIZE as u64 {
            bail!(Corrupt, "store is {} bytes, smaller than the {HEADER_SIZE}-byte header", st.size);
        }
        let mut raw = [0u8; HEADER_SIZE];
        sys::pread_exact(file.as_fd(), &mut raw, 0).map_err(|e| Error::os("read header", e))?;
        Self::from_parts(file, uri, opts, st, Header::from_bytes(&raw), None, in_memory)
    }

    /// A handle on `file`, of `st`, whose header (read from it, or just written) is `header`;
    /// `map`, the mapping already made of it, if any. `in_memory`: the store is known to live in
    /// memory (shm://, whose /dev/shm glibc's shm_open requires to be tmpfs or ramfs, or an
    /// anonymous memfd), so no fstatfs need ask; otherwise the file system is asked when needed.
    #[link_section = ".text.hot.mba"]
    fn from_parts(
        file: File,
        uri: String,
        opts: Options,
        st: sys::Stat,
        header: Header,
        map: Option<memmap2::MmapRaw>,
        in_memory: bool,
    ) -> Result<Array> {
        let geo = header.validate(st.size)?;
        // A create passes the mapping it made of the store it has just allocated whole.
        let created = map.is_some();
        let map = match map {
            Some(m) => m,
            None => Region::map(&file, reservation(&geo), opts.read_only)?,
        };
        let mut a = Array {
            region: Region::new(map, geo, geo.data_offset as u64),
            file,
            uri,
            read_only: opts.read_only,
            shmem: std::sync::atomic::AtomicU8::new(if in_memory { 2 } else { 0 }),
            lease: false,
            fork: Box::default(),
            identity: AtomicU64::new(0),
            slot: AtomicU32::new(0),
            owner_pid: fork::pid() as u32,
            pidns: header.pidns,
            same_namespace: std::sync::atomic::AtomicU8::new(0),
            timeout_ms: AtomicU64::new(0),
            mutex: LocalLock::default(),
            refresh_lock: LocalLock::default(),
            kind: crate::raw::Kind::Array,
            swapped: false,
            claim: ClaimState::default(),
        };
        a.set_timeout(opts.timeout_ms);
        if created {
            a.region.set_known(st.size);
            a.update_lease_room();
        } else {
            // The length as the header read at attach had it: reading it through the mapping
            // would fault the header page in (page tables for the reservation: 3-4 us), which
            // an attach otherwise leaves to the first call that needs it.
            a.learn(st, a.wanted(header.len), header.capacity);
        }
        fork::register(&a.fork);
        // A writable handle takes its slot when it first needs the lock (see `Array::slot_locked`),
        // so attaching to read or to write in place touches no shared word.
        if opts.exclusive {
            let me = a.slot_locked()?;
            a.coord().take_lease(me)?;
            a.lease = true;
            let len = a.region.len_word().load(Acquire);
            a.ensure_mapped("attach", len)?;
            a.fork.local_len.store(len, Relaxed);
            a.update_lease_room();
        }
        Ok(a)
    }

    /// Whether the store lives in memory (asked of the file system once, when first needed).
    #[link_section = ".text.hot.mba"]
    fn shmem(&self) -> bool {
        match self.shmem.load(Relaxed) {
            0 => {
                let yes = sys::is_shmem(self.file.as_fd()).unwrap_or(true);
                self.shmem.store(if yes { 2 } else { 1 }, Relaxed);
                yes
            }
            v => v == 2,
        }
    }

    #[inline]
    pub(crate) fn coord(&self) -> Coord<'_, Os> {
        Coord {
            region: &self.region,
            uri: &self.uri,
            same_namespace: self.same_namespace.load(Relaxed) == 2,
            timeout_ms: self.timeout_ms.load(Relaxed),
            live: Os,
        }
    }

    /// This handle's slot, taken the first time; the caller holds `self.mutex`.
    #[inline]
    pub(crate) fn slot_locked(&self) -> Result<u32> {
        match self.slot.load(Acquire) {
            0 => self.take_slot(),
            s => Ok(s),
        }
    }

    #[cold]
    fn take_slot(&self) -> Result<u32> {
        let mine = this_pid_namespace();
        let same = mine != 0 && mine == self.pidns;
        self.same_namespace.store(if same { 2 } else { 1 }, Relaxed);
        let (pid, start) = fork::identity();
        let identity = ident::make(pid as u32, start, !same);
        self.identity.store(identity, Relaxed);
        let seed = sys::now_ns() ^ (self as *const Self as u64 >> 4) ^ self.owner_pid as u64;
        let s = self.coord().take_slot(identity, seed)?;
        self.slot.store(s, Release);
        Ok(s)
    }

    #[inline]
    pub(crate) fn check_writable(&self, op: &str) -> Result<()> {
        if self.read_only || self.fork.inherited.load(Relaxed) {
            return Err(self.not_writable(op));
        }
        Ok(())
    }

    #[cold]
    fn not_writable(&self, op: &str) -> Error {
        if self.read_only {
            return self.read_only_error(op);
        }
        Error::new(
            ErrorKind::WrongProcess,
            format!(
                "{op} {}: this handle belongs to process {}, and this process inherited it through \
                     fork(); attach the array anew here",
                self.uri, self.owner_pid
            ),
        )
    }

    /// Sets the bound of every lock wait of this handle (0: [`DEFAULT_TIMEOUT_MS`]). A wait
    /// that does not resolve in time fails with `Busy`, naming the holder.
    pub fn set_timeout(&self, timeout_ms: u64) {
        let ms = if timeout_ms == 0 { DEFAULT_TIMEOUT_MS } else { timeout_ms };
        self.timeout_ms.store(ms, Relaxed);
    }
    /// The bound of this handle's lock waits, in milliseconds.
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.load(Relaxed)
    }

    // ----- accessors -----

    /// The published length, never more than this handle can read through [`Array::data_ptr`]:
    /// when the header claims more than the store backs (a peer wrote it), the handle re-checks
    /// the store and returns what it can read. Another process may append at any moment;
    /// elements below the value returned are fully written.
    #[inline]
    pub fn len(&self) -> u64 {
        let l = self.region.len_word().load(Acquire);
        if l <= self.region.known_elems() {
            return l;
        }
        self.len_clamped(l)
    }

    #[cold]
    fn len_clamped(&self, l: u64) -> u64 {
        let _ = self.refresh(self.wanted(l));
        let k = l.min(self.region.known_elems());
        k / self.region.geo.row_size * self.region.geo.row_size
    }

    /// Whether the published length is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Elements the store has room for before it must grow, as the header says.
    pub fn capacity(&self) -> u64 {
        self.region.capacity_word().load(Acquire)
    }
    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.region.geo.dtype
    }
    /// Bytes per element.
    pub fn itemsize(&self) -> usize {
        self.region.geo.itemsize
    }
    /// Number of dimensions (1 to 8).
    pub fn ndim(&self) -> u32 {
        self.region.geo.ndim
    }
    /// The shape now: `[rows, extents of the other axes...]`, `ndim()` values.
    pub fn shape(&self) -> Vec<u64> {
        let g = &self.region.geo;
        let mut s = g.shape[..g.ndim as usize].to_vec();
        s[0] = self.len() / g.row_size;
        s
    }
    /// Elements per row (the product of the extents of axes `1..ndim`; 1 when one-dimensional).
    pub fn row_size(&self) -> u64 {
        self.region.geo.row_size
    }
    /// The binding's typecode hint stored at create (0: none).
    pub fn typecode(&self) -> u32 {
        self.region.geo.typecode
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
    /// Whether this process inherited the handle through `fork()` (its mutators then fail).
    pub fn is_inherited(&self) -> bool {
        self.fork.inherited.load(Relaxed)
    }
    /// The store's descriptor, owned by the handle (close-on-exec). Passing it to another
    /// process (over a Unix socket) lets that process attach with [`Array::attach_fd`].
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
    /// The most elements the array may ever hold (fixed at create, the same in every process).
    pub fn max_capacity(&self) -> u64 {
        self.region.geo.max_capacity
    }
    /// Element 0. Valid, and unmoved, for the handle's whole life, however much the array grows.
    /// Elements `0..len()` may be read through it; it is shared memory that other processes
    /// may write at any time, so never make a Rust reference or slice over it.
    pub fn data_ptr(&self) -> *mut u8 {
        self.region.data_ptr()
    }
    /// The live header (for bindings that read `len` without a call). Shared memory: read
    /// its live fields atomically, and never trust `len` beyond what [`Array::len`] returned.
    pub fn header_ptr(&self) -> *const Header {
        self.region.header().cast()
    }

    // ----- bounds -----

    /// Makes sure elements `..n` lie in the store as this handle knows it, re-reading the
    /// store size if needed. Errors if the store does not hold them.
    #[inline]
    pub(crate) fn ensure_mapped(&self, op: &str, n: u64) -> Result<()> {
        if n <= self.region.known_elems() {
            return Ok(());
        }
        self.refresh_for(n).map_err(|e| e.context(format_args!("{op} {}", self.uri)))
    }

    #[cold]
    fn refresh_for(&self, n: u64) -> Result<()> {
        let Some(end) = self.region.geo.end_of(n) else {
            bail!(Corrupt, "length {n} overflows the address space");
        };
        let size = self.refresh(end)?;
        if end <= self.region.known() {
            return Ok(());
        }
        if end > size {
            bail!(Corrupt, "length {n} exceeds the store ({size} bytes)");
        }
        if end > self.region.reserved() {
            bail!(Corrupt, "length {n} exceeds the array's maximum capacity {}", self.max_capacity());
        }
        bail!(Corrupt, "length {n} reaches into a part of the store that is not allocated (a hole)")
    }

    /// Re-reads the store size and learns what of it is backed, up to byte `want` (see
    /// [`Array::learn`]); returns the size.
    fn refresh(&self, want: u64) -> Result<u64> {
        let st = sys::fstat(self.file.as_fd()).map_err(|e| Error::os("stat", e))?;
        self.learn(st, want, self.region.capacity_word().load(Acquire));
        Ok(st.size)
    }

    /// The byte end of `n` elements, saturating: how far a refresh for them learns.
    #[link_section = ".text.hot.mba"]
    fn wanted(&self, n: u64) -> u64 {
        self.region.geo.end_of(n).unwrap_or(u64::MAX)
    }

    /// Learns the part of a store of `st`, up to byte `want`, that can be read and written
    /// without a signal (and, in memory, what is already there up to the header's `capacity`).
    /// Stores in memory: pages not in memory (a hole a peer left, pages allocated but never
    /// touched, or swapped out) are allocated by a writer (checked against the memory available
    /// when large) and faulted in by a reader, each stopping before the first page the kernel
    /// cannot provide. On disk, a writer allocates the range (a write
    /// into a hole of a full disk raises SIGBUS); reading a hole there reads zeros.
    ///
    /// Nothing cheaper is sound: `st_blocks` counts pages anywhere in the file, so a peer can
    /// leave a hole inside the range and allocate as many pages past the reservation or past
    /// the end of the file (`FALLOC_FL_KEEP_SIZE`).
    #[link_section = ".text.hot.mba"]
    fn learn(&self, st: sys::Stat, want: u64, capacity: u64) {
        if self.kind != crate::raw::Kind::Array {
            return; // a raw or .npy region is fixed, and all of it known since the attach
        }
        let _g = self.refresh_lock.lock();
        let cur = self.region.known();
        let end = st.size.min(self.region.reserved());
        // Whole pages (a page is the unit a hole is made of), within the store.
        let goal = page_round(want).unwrap_or(u64::MAX).min(end);
        if goal <= cur {
            return;
        }
        let backed = if self.shmem() {
            // Past the goal, pages already in memory are learnt too, up to the capacity (a
            // writer raises it after allocating and mapping the step): a reader following an
            // appender then refreshes once per growth step, not once per element.
            let ahead = self.wanted(capacity).min(end).min(goal.saturating_add(LOOKAHEAD)).max(goal);
            self.backed_in_memory(cur, goal, ahead)
        } else if !self.read_only {
            match sys::allocate(self.file.as_fd(), cur, goal - cur) {
                Ok(()) => goal,
                Err(_) => cur,
            }
        } else {
            end // on disk, reading a hole reads zeros
        };
        self.region.set_known(backed);
        self.update_lease_room();
    }

    /// How far from `cur` a store in memory can be touched without a signal: to `goal`
    /// (bytes), making it so on the way (see [`Array::learn`]), then on to `ahead` as long as
    /// the pages are in memory already. Both lie inside the store and the mapping.
    #[link_section = ".text.hot.mba"]
    fn backed_in_memory(&self, cur: u64, goal: u64, ahead: u64) -> u64 {
        let page = sys::page_size() as u64;
        let base = self.region.base();
        let mut at = cur / page * page;
        let mut pages = [0u8; 1024];
        while at < ahead {
            let n = (ahead - at).div_ceil(page).min(pages.len() as u64) as usize;
            // SAFETY (for the pointer arithmetic below): at < ahead <= the mapping's length.
            let addr = unsafe { base.add(at as usize) };
            if sys::resident(addr, n * page as usize, &mut pages[..n]).is_err() {
                return at.max(cur);
            }
            let mut i = 0;
            while i < n {
                if pages[i] & 1 != 0 {
                    i += 1;
                    continue;
                }
                let a = at + i as u64 * page;
                if a >= goal {
                    return a.max(cur); // looking ahead: stop at the first page not in memory
                }
                let j = (i..n).find(|&j| pages[j] & 1 != 0).unwrap_or(n);
                let b = (at + j as u64 * page).min(goal);
                let ok = if self.read_only {
                    // SAFETY: a..b lies inside the mapping.
                    sys::populate_read(unsafe { base.add(a as usize) }, (b - a) as usize).is_ok()
                } else {
                    check_memory(a, b).is_ok() && sys::allocate(self.file.as_fd(), a, b - a).is_ok()
                };
                if !ok {
                    return a.max(cur);
                }
                i = (b - at).div_ceil(page) as usize;
            }
            at += n as u64 * page;
        }
        ahead
    }

    /// Lets the lease holder's lock-free path use what the store now holds.
    fn update_lease_room(&self) {
        let g = &self.region.geo;
        if self.lease && g.row_size == 1 && !self.fork.inherited.load(Relaxed) {
            let room = self.region.known_elems().min(g.max_capacity);
            self.fork.lease_room.fetch_max(room, Relaxed);
        }
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

    /// `count` elements in bytes, or an error if that overflows.
    pub(crate) fn bytes_of(&self, op: &str, count: u64) -> Result<usize> {
        count
            .checked_mul(self.region.geo.itemsize as u64)
            .and_then(|b| usize::try_from(b).ok())
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(|| {
                Error::new(ErrorKind::InvalidArgument, format!("{op} {}: count {count} overflows", self.uri))
            })
    }

    /// Fails unless `count` is a whole number of rows.
    #[inline(always)]
    pub(crate) fn check_rows(&self, op: &str, what: &str, count: u64) -> Result<()> {
        let row = self.region.geo.row_size;
        if row != 1 && count % row != 0 {
            bail!(
                InvalidArgument,
                "{op} {}: {what} {count} is not a whole number of rows of {row} elements",
                self.uri
            );
        }
        Ok(())
    }

    /// Checks `start..start+count` against the published length and the store.
    fn check_range(&self, op: &str, start: u64, count: u64) -> Result<usize> {
        let len = self.region.len_word().load(Acquire);
        match start.checked_add(count) {
            Some(end) if end <= len => {
                self.ensure_mapped(op, end)?;
                self.bytes_of(op, count)
            }
            _ => Err(self.out_of_bounds(op, start, count, len)),
        }
    }

    // ----- appending -----

    /// Appends one element read from `src` (`itemsize()` bytes, any alignment). Any number of
    /// threads may call it on one handle at once.
    ///
    /// # Safety
    /// `src` must be valid for reads of `itemsize()` bytes.
    pub unsafe fn append_raw(&self, src: *const u8) -> Result<()> {
        // (An inherited handle's lock may have been held by a thread of the parent at the fork:
        // never take it there; `writer` refuses such a handle first.)
        if self.lease && !self.fork.inherited.load(Relaxed) {
            let _m = self.local("append")?;
            if self.try_append_fast(src) {
                return Ok(());
            }
        }
        self.extend_impl("append", src, 1, true)
    }

    /// [`Array::append_raw`] for a caller that never makes two length-changing calls on this
    /// handle at once: then the lease holder appends without any lock (the C ABI's contract).
    ///
    /// # Safety
    /// As [`Array::append_raw`]; and no other thread may be in a length-changing call
    /// (`*_unsync`, or their synchronised twins) of this handle meanwhile.
    #[inline]
    pub unsafe fn append_raw_unsync(&self, src: *const u8) -> Result<()> {
        if self.try_append_fast(src) {
            return Ok(());
        }
        self.extend_impl("append", src, 1, false)
    }

    /// The lease holder's append when the store has room: no lock, no system call, no error to
    /// build. `false` when it does not apply (no lease, no room, an inherited handle, rows).
    #[inline(always)]
    unsafe fn try_append_fast(&self, src: *const u8) -> bool {
        let f = &*self.fork;
        let n = f.local_len.load(Relaxed);
        if n >= f.lease_room.load(Relaxed) {
            return false;
        }
        region::store_elem(src, self.region.elem_ptr(n), self.region.geo.itemsize);
        let wake = self.region.publish_len(n + 1);
        f.local_len.store(n + 1, Relaxed);
        if wake {
            self.region.wake_len_waiters();
        }
        true
    }

    /// Appends `count` elements read from `src` (a whole number of rows). Any number of
    /// threads may call it on one handle at once.
    ///
    /// # Safety
    /// `src` must be valid for reads of `count * itemsize()` bytes.
    pub unsafe fn extend_raw(&self, src: *const u8, count: u64) -> Result<()> {
        self.extend_impl("extend", src, count, true)
    }

    /// [`Array::extend_raw`] without serialising this handle's threads (see [`Array::append_raw_unsync`]).
    ///
    /// # Safety
    /// As [`Array::append_raw_unsync`], for `count` elements.
    pub unsafe fn extend_raw_unsync(&self, src: *const u8, count: u64) -> Result<()> {
        self.extend_impl("extend", src, count, false)
    }

    #[inline(never)]
    unsafe fn extend_impl(&self, op: &str, src: *const u8, count: u64, sync: bool) -> Result<()> {
        self.bytes_of(op, count)?;
        self.check_rows(op, "count", count)?;
        if count == 0 {
            self.check_growable(op)?;
            return self.check_writable(op);
        }
        let w = self.writer(op, sync)?;
        let n = w.len();
        // Without the lease the length is the header's: a peer may have written anything there.
        self.ensure_mapped(op, n)?;
        self.room_for(op, n, count)?;
        if count == 1 {
            region::store_elem(src, self.region.elem_ptr(n), self.region.geo.itemsize);
        } else {
            region::store_elems(src, self.region.elem_ptr(n), count as usize, self.region.geo.itemsize);
        }
        w.publish(n + count);
        Ok(())
    }

    /// Makes room for `count` more elements after `n`, growing the store if needed.
    #[inline]
    pub(crate) fn room_for(&self, op: &str, n: u64, count: u64) -> Result<()> {
        match n.checked_add(count) {
            Some(m) if m <= self.region.known_elems() && m <= self.max_capacity() => Ok(()),
            Some(m) => self.grow_to(m).map_err(|e| e.context(format_args!("{op} {}", self.uri))),
            None => bail!(InvalidArgument, "{op} {}: length {n} + {count} overflows", self.uri),
        }
    }

    /// Grows the store to hold at least `need` elements, geometrically (see [`growth`]), with
    /// the storage allocated for real so later writes cannot fault. Fails with `NoSpace` past
    /// the array's maximum capacity, the file-size limit, the memory the machine has, or the
    /// file system's space.
    #[cold]
    fn grow_to(&self, need: u64) -> Result<()> {
        let max = self.max_capacity();
        if need > max {
            bail!(
                NoSpace,
                "{need} elements exceed the array's maximum capacity of {max} elements (set at create)"
            );
        }
        let geo = self.region.geo;
        let Some(need_end) = geo.end_of(need) else {
            bail!(InvalidArgument, "{need} elements overflow the address space");
        };
        // Up to the capacity, which peers raise only after allocating it: a writer sharing the
        // array learns another's growth step whole, not a page at a time.
        self.refresh(self.wanted(need.max(self.region.capacity_word().load(Acquire))))?;
        let known = self.region.known();
        if need_end <= known {
            return Ok(());
        }
        let page = sys::page_size() as u64;
        let limit = self.region.reserved();
        let Some(mut target) = growth::next_size(known, need_end, geo.data_offset as u64, page, limit) else {
            bail!(NoSpace, "{need} elements need {need_end} bytes, past the {limit} bytes reserved");
        };
        let just_enough = page_round(need_end).unwrap_or(need_end).min(limit);
        let fsize = sys::file_size_limit();
        if target > fsize {
            check_file_size(need_end)?;
            target = just_enough.min(fsize).max(need_end);
        }
        if self.shmem() && check_memory(known, target).is_err() {
            check_memory(known, just_enough)?;
            target = just_enough;
        }
        let fd = self.file.as_fd();
        if let Err(e) = sys::allocate(fd, known, target - known) {
            // Out of space for the whole step: take only what this call needs, if that fits.
            let full = matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT));
            if !full || just_enough >= target || sys::allocate(fd, known, just_enough - known).is_err() {
                return Err(Error::os(format_args!("grow store from {known} to {target} bytes"), e));
            }
            target = just_enough;
        }
        if !self.read_only && self.shmem() {
            // The step's pages are allocated (in memory): map them now, in one call, rather than
            // one page fault per page as the writes reach them.
            // SAFETY: known..target lies inside the mapping (target <= reserved) and the store.
            sys::populate_write(unsafe { self.region.base().add(known as usize) }, (target - known) as usize);
        }
        self.region.set_known(target);
        self.update_lease_room();
        let cap = ((target - geo.data_offset as u64) / geo.itemsize as u64).min(max);
        self.region.capacity_word().fetch_max(cap, Release);
        Ok(())
    }

    /// Grows the store to hold at least `capacity` elements.
    pub fn reserve(&self, capacity: u64) -> Result<()> {
        self.reserve_impl(capacity, true)
    }

    /// [`Array::reserve`] without serialising this handle's threads.
    ///
    /// # Safety
    /// As [`Array::append_raw_unsync`].
    pub unsafe fn reserve_unsync(&self, capacity: u64) -> Result<()> {
        self.reserve_impl(capacity, false)
    }

    fn reserve_impl(&self, capacity: u64, sync: bool) -> Result<()> {
        let _w = self.writer("reserve", sync)?;
        self.grow_to(capacity).map_err(|e| e.context(format_args!("reserve {}", self.uri)))
    }

    /// Removes the last element (or row), copying it to `dst`.
    ///
    /// # Safety
    /// `dst` must be valid for writes of `row_size() * itemsize()` bytes.
    pub unsafe fn pop_raw(&self, dst: *mut u8) -> Result<()> {
        self.pop_impl(dst, true)
    }

    /// [`Array::pop_raw`] without serialising this handle's threads.
    ///
    /// # Safety
    /// As [`Array::pop_raw`] and [`Array::append_raw_unsync`].
    pub unsafe fn pop_raw_unsync(&self, dst: *mut u8) -> Result<()> {
        self.pop_impl(dst, false)
    }

    unsafe fn pop_impl(&self, dst: *mut u8, sync: bool) -> Result<()> {
        let w = self.writer("pop", sync)?;
        let n = w.len();
        let row = self.region.geo.row_size;
        if n < row {
            bail!(Empty, "pop {}: array is empty", self.uri);
        }
        self.ensure_mapped("pop", n)?;
        region::load_elems(self.region.elem_ptr(n - row), dst, row as usize, self.region.geo.itemsize);
        w.publish(n - row);
        Ok(())
    }

    /// Shortens the array to `len` elements (a whole number of rows). `OutOfBounds` if `len`
    /// exceeds the current length (it never grows the array).
    pub fn truncate(&self, len: u64) -> Result<()> {
        self.truncate_impl(len, true)
    }

    /// [`Array::truncate`] without serialising this handle's threads.
    ///
    /// # Safety
    /// As [`Array::append_raw_unsync`].
    pub unsafe fn truncate_unsync(&self, len: u64) -> Result<()> {
        self.truncate_impl(len, false)
    }

    fn truncate_impl(&self, len: u64, sync: bool) -> Result<()> {
        self.check_rows("truncate", "length", len)?;
        let w = self.writer("truncate", sync)?;
        let n = w.len();
        if len > n {
            bail!(OutOfBounds, "truncate {}: length {len} exceeds the current length {n}", self.uri);
        }
        w.publish(len);
        Ok(())
    }

    /// Replaces the `delete` elements at `index` with the `insert` elements at `src`, in one
    /// step under the append lock (or the lease): the removed elements are copied to `removed`
    /// (unless it is NULL), the tail moves, the new elements are written, and the new length is
    /// published once. The room is made before anything moves, so a failure leaves the array as
    /// it was. All counts are whole rows.
    ///
    /// Readers see the length change once; elements at and after `index` change in place
    /// while the call runs, so a reader that reads them meanwhile may see old or new values.
    ///
    /// # Safety
    /// `src` must be valid for reads of `insert * itemsize()` bytes (it may be NULL when
    /// `insert` is 0), `removed` NULL or valid for writes of `delete * itemsize()` bytes, and
    /// neither may point into this array's own data.
    pub unsafe fn splice_raw(
        &self,
        index: u64,
        delete: u64,
        removed: *mut u8,
        src: *const u8,
        insert: u64,
    ) -> Result<()> {
        self.splice_impl(index, delete, std::ptr::null(), removed, src, insert, true)
    }

    /// [`Array::splice_raw`] only if the `delete` elements at `index` are, byte for byte, those
    /// at `expected` (a compare-and-splice); otherwise nothing changes and the error is
    /// `Changed`. Lets a caller remove exactly the element it found, whatever other processes
    /// did meanwhile.
    ///
    /// # Safety
    /// As [`Array::splice_raw`], and `expected` valid for reads of `delete * itemsize()` bytes.
    pub unsafe fn splice_if_raw(
        &self,
        index: u64,
        delete: u64,
        expected: *const u8,
        removed: *mut u8,
        src: *const u8,
        insert: u64,
    ) -> Result<()> {
        self.splice_impl(index, delete, expected, removed, src, insert, true)
    }

    /// [`Array::splice_if_raw`] (`expected` may be NULL: no comparison) without serialising this
    /// handle's threads.
    ///
    /// # Safety
    /// As [`Array::splice_if_raw`] and [`Array::append_raw_unsync`].
    pub unsafe fn splice_raw_unsync(
        &self,
        index: u64,
        delete: u64,
        expected: *const u8,
        removed: *mut u8,
        src: *const u8,
        insert: u64,
    ) -> Result<()> {
        self.splice_impl(index, delete, expected, removed, src, insert, false)
    }

    #[allow(clippy::too_many_arguments)] // the C call's six, and whether to serialise threads
    unsafe fn splice_impl(
        &self,
        index: u64,
        delete: u64,
        expected: *const u8,
        removed: *mut u8,
        src: *const u8,
        insert: u64,
        sync: bool,
    ) -> Result<()> {
        let op = "splice";
        self.bytes_of(op, insert)?;
        self.bytes_of(op, delete)?;
        self.check_rows(op, "index", index)?;
        self.check_rows(op, "delete count", delete)?;
        self.check_rows(op, "insert count", insert)?;
        let w = self.writer(op, sync)?;
        let n = w.len();
        self.ensure_mapped(op, n)?;
        let end = index.checked_add(delete).filter(|&e| e <= n);
        let Some(end) = end else {
            return Err(self.out_of_bounds(op, index, delete, n));
        };
        let new_len = (n - delete).checked_add(insert).ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument, format!("{op} {}: length overflows", self.uri))
        })?;
        if new_len > n {
            self.room_for(op, n, new_len - n)?;
        }
        let size = self.region.geo.itemsize;
        if !expected.is_null() && delete > 0 {
            let mut now = vec![0u8; delete as usize * size];
            region::load_elems(self.region.elem_ptr(index), now.as_mut_ptr(), delete as usize, size);
            if now.as_slice() != std::slice::from_raw_parts(expected, now.len()) {
                bail!(
                    Changed,
                    "{op} {}: the {delete} elements at {index} are no longer the expected ones",
                    self.uri
                );
            }
        }
        if !removed.is_null() && delete > 0 {
            region::load_elems(self.region.elem_ptr(index), removed, delete as usize, size);
        }
        let tail = (n - end) as usize;
        if insert != delete && tail > 0 {
            region::move_elems(self.region.elem_ptr(end), self.region.elem_ptr(index + insert), tail, size);
        }
        if insert > 0 {
            region::store_elems(src, self.region.elem_ptr(index), insert as usize, size);
        }
        w.publish(new_len);
        Ok(())
    }

    // ----- reading and writing in place -----

    /// Copies element `index` to `dst`.
    ///
    /// # Safety
    /// `dst` must be valid for writes of `itemsize()` bytes.
    #[inline]
    pub unsafe fn get_raw(&self, index: u64, dst: *mut u8) -> Result<()> {
        if index < self.region.len_word().load(Acquire) && index < self.region.known_elems() {
            region::load_elem(self.region.elem_ptr(index), dst, self.region.geo.itemsize);
            return Ok(());
        }
        self.get_slow(index, dst)
    }

    /// Every `get` the fast path leaves: errors, and elements past the store as known.
    #[inline(never)]
    unsafe fn get_slow(&self, index: u64, dst: *mut u8) -> Result<()> {
        let len = self.region.len_word().load(Acquire);
        if index >= len {
            return Err(self.out_of_bounds("get", index, 1, len));
        }
        self.ensure_mapped("get", index + 1)?;
        region::load_elem(self.region.elem_ptr(index), dst, self.region.geo.itemsize);
        Ok(())
    }

    /// Overwrites element `index` with the element at `src`.
    ///
    /// # Safety
    /// `src` must be valid for reads of `itemsize()` bytes.
    pub unsafe fn set_raw(&self, index: u64, src: *const u8) -> Result<()> {
        self.write_impl("set", index, 1, src)
    }

    /// Copies elements `start..start+count` to `dst`.
    ///
    /// # Safety
    /// `dst` must be valid for writes of `count * itemsize()` bytes.
    pub unsafe fn read_raw(&self, start: u64, count: u64, dst: *mut u8) -> Result<()> {
        self.check_range("read", start, count)?;
        region::load_elems(self.region.elem_ptr(start), dst, count as usize, self.region.geo.itemsize);
        Ok(())
    }

    /// Overwrites elements `start..start+count` with those at `src`.
    ///
    /// # Safety
    /// `src` must be valid for reads of `count * itemsize()` bytes.
    pub unsafe fn write_raw(&self, start: u64, count: u64, src: *const u8) -> Result<()> {
        self.write_impl("write", start, count, src)
    }

    unsafe fn write_impl(&self, op: &str, start: u64, count: u64, src: *const u8) -> Result<()> {
        if self.read_only {
            return Err(self.read_only_error(op));
        }
        self.check_range(op, start, count)?;
        region::store_elems(src, self.region.elem_ptr(start), count as usize, self.region.geo.itemsize);
        Ok(())
    }

    /// Flushes the mapping to the store: the data up to the published length first, then the
    /// header holding that length. `sync`: wait for the writes (`MS_SYNC`) rather than schedule
    /// them; `invalidate`: also drop other cached copies (`MS_INVALIDATE`). A writable handle
    /// without the lease holds the append lock meanwhile, so no appender of the shared kind can
    /// publish a length whose data was not written first.
    pub fn msync(&self, sync: bool, invalidate: bool) -> Result<()> {
        let run = || -> Result<()> {
            if self.kind != crate::raw::Kind::Array {
                return self.msync_data(sync, invalidate);
            }
            // This thread's open claim holds everything msync would take, and this thread cannot
            // commit meanwhile: flush as it stands.
            if self.read_only || self.fork.inherited.load(Relaxed) || self.claim.held_by_this_thread() {
                return self.msync_ranges(sync, invalidate);
            }
            let _local = self.local("msync")?;
            let mut held = None;
            if !self.lease {
                let me = self.slot_locked()?;
                held = Some(self.coord().lock(me)?);
            }
            let r = self.msync_ranges(sync, invalidate);
            if let Some(word) = held {
                self.coord().unlock(word);
            }
            r
        };
        run().map_err(|e| e.context(format_args!("msync {}", self.uri)))
    }

    fn msync_ranges(&self, sync: bool, invalidate: bool) -> Result<()> {
        let mode = (if sync { libc::MS_SYNC } else { libc::MS_ASYNC })
            | (if invalidate { libc::MS_INVALIDATE } else { 0 });
        let len = self.len();
        let end = self.region.geo.end_of(len).unwrap_or(0).min(self.region.known()) as usize;
        let page = sys::page_size();
        let split = self.region.geo.data_offset / page * page;
        for (start, stop) in [(split, end), (0, split.max(page).min(self.region.known() as usize))] {
            if stop <= start {
                continue;
            }
            // SAFETY: start..stop lies inside the mapping and the store; start is page-aligned.
            if unsafe { libc::msync(self.region.base().add(start).cast(), stop - start, mode) } != 0 {
                return Err(Error::os("msync", std::io::Error::last_os_error()));
            }
        }
        Ok(())
    }

    // ----- raw and .npy handles (the rest is in raw.rs) -----

    /// A handle on a region of `file` mapped as `map`, whose elements start `geo.data_offset`
    /// bytes into the mapping and fill `known` bytes of it; `header` is the private header
    /// that gives its fixed length to every fast path.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_fixed(
        file: File,
        uri: String,
        read_only: bool,
        kind: crate::raw::Kind,
        swapped: bool,
        map: memmap2::MmapRaw,
        geo: crate::layout::Geometry,
        known: u64,
    ) -> Array {
        let header = Box::new(crate::raw::private_header(&geo));
        let a = Array {
            region: Region::with_header(map, geo, known, header),
            file,
            uri,
            read_only,
            shmem: std::sync::atomic::AtomicU8::new(0),
            lease: false,
            fork: Box::default(),
            identity: AtomicU64::new(0),
            slot: AtomicU32::new(0),
            owner_pid: fork::pid() as u32,
            pidns: 0,
            same_namespace: std::sync::atomic::AtomicU8::new(0),
            timeout_ms: AtomicU64::new(DEFAULT_TIMEOUT_MS),
            mutex: LocalLock::default(),
            refresh_lock: LocalLock::default(),
            kind,
            swapped,
            claim: ClaimState::default(),
        };
        fork::register(&a.fork);
        a
    }

    /// What the handle maps: an mba array, a raw file's region, or a `.npy` file.
    pub fn kind(&self) -> crate::raw::Kind {
        self.kind
    }

    /// Whether the elements are stored in the other byte order than this machine's (a `.npy`
    /// file written on a machine of the other endianness; such a handle is read-only and gives
    /// the elements as stored).
    pub fn byte_swapped(&self) -> bool {
        self.swapped
    }

    /// Fails for a raw or `.npy` handle, whose length is fixed (every length-changing call).
    #[inline]
    pub(crate) fn check_growable(&self, op: &str) -> Result<()> {
        if self.kind != crate::raw::Kind::Array {
            bail!(InvalidArgument, "{op} {}: a raw file's length is fixed", self.uri);
        }
        Ok(())
    }

    /// msync of a raw or `.npy` handle: its data range only (there is no shared header or lock).
    fn msync_data(&self, sync: bool, invalidate: bool) -> Result<()> {
        let mode = (if sync { libc::MS_SYNC } else { libc::MS_ASYNC })
            | (if invalidate { libc::MS_INVALIDATE } else { 0 });
        let end = self.region.known() as usize;
        if end == 0 {
            return Ok(());
        }
        // SAFETY: the mapping starts page-aligned and holds `known` bytes.
        if unsafe { libc::msync(self.region.base().cast(), end, mode) } != 0 {
            return Err(Error::os("msync", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    // ----- typed API -----

    fn check_type<T: Element>(&self, op: &str) -> Result<()> {
        if T::DTYPE != self.region.geo.dtype {
            bail!(
                TypeMismatch,
                "{op} {}: array holds {}, not {}",
                self.uri,
                self.region.geo.dtype.name(),
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

    /// Appends all of `values` (a whole number of rows).
    pub fn extend_from_slice<T: Element>(&self, values: &[T]) -> Result<()> {
        self.check_type::<T>("extend")?;
        // SAFETY: the slice is readable for its length.
        unsafe { self.extend_raw(values.as_ptr().cast(), values.len() as u64) }
    }

    /// Replaces `delete` elements at `index` with `values` in one step (see
    /// [`Array::splice_raw`]), and returns the elements it removed.
    pub fn splice<T: Element>(&self, index: u64, delete: u64, values: &[T]) -> Result<Vec<T>> {
        self.check_type::<T>("splice")?;
        // Checked before allocating for it; the call checks it against the length.
        if delete > self.len() {
            return Err(self.out_of_bounds("splice", index, delete, self.len()));
        }
        let mut out = Vec::<T>::with_capacity(delete as usize);
        // SAFETY: values is readable and out writable for their lengths, both private memory;
        // out's length is set only after the call filled it.
        unsafe {
            self.splice_raw(
                index,
                delete,
                out.as_mut_ptr().cast(),
                values.as_ptr().cast(),
                values.len() as u64,
            )?;
            out.set_len(delete as usize);
        }
        Ok(out)
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

    /// Removes and returns the last element (of a one-dimensional array).
    pub fn pop<T: Element>(&self) -> Result<T> {
        self.check_type::<T>("pop")?;
        if self.row_size() != 1 {
            bail!(InvalidArgument, "pop {}: the array has rows of {} elements", self.uri, self.row_size());
        }
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
        let len = self.region.len_word().load(Acquire);
        // Check the (peer-written) length against the store before allocating for it.
        self.check_range("read", 0, len)?;
        let mut v = Vec::<T>::with_capacity(len as usize);
        // SAFETY: the range is in the store and v has room for it; set_len after the copy.
        unsafe {
            region::load_elems(self.region.elem_ptr(0), v.as_mut_ptr().cast(), len as usize, self.itemsize());
            v.set_len(len as usize);
        }
        Ok(v)
    }
}

impl Drop for Array {
    #[link_section = ".text.hot.mba"]
    fn drop(&mut self) {
        fork::unregister(&self.fork);
        if self.fork.inherited.load(Relaxed) {
            return; // the parent's: touch nothing shared, only unmap and close
        }
        self.abort_on_free(); // an open claim publishes nothing and lets the append lock go
        let slot = self.slot.load(Acquire);
        if slot != 0 {
            let coord = self.coord();
            if self.lease {
                coord.drop_lease(slot);
            }
            coord.release_slot(slot, self.identity.load(Relaxed));
        }
    }
}

#[link_section = ".text.hot.mba"]
fn check_attach_options(opts: &Options) -> Result<()> {
    if opts.overwrite || opts.force || opts.mode.is_some() {
        bail!(InvalidArgument, "overwrite, force and mode are create options");
    }
    if opts.max_capacity != 0 || opts.ndim > 1 || opts.typecode != 0 {
        bail!(InvalidArgument, "max_capacity, shape and typecode are create options");
    }
    Ok(())
}

/// Fails with `NoSpace` if a file of `end` bytes would pass the file-size limit (which would
/// raise SIGXFSZ).
fn check_file_size(end: u64) -> Result<()> {
    let limit = sys::file_size_limit();
    if end > limit {
        bail!(
            NoSpace,
            "{end} bytes exceed this process's file-size limit (RLIMIT_FSIZE, ulimit -f) of {limit} bytes"
        );
    }
    Ok(())
}

/// Fails with `NoSpace` if growing a store in memory from `from` to `to` bytes needs more
/// memory than the machine has available.
fn check_memory(from: u64, to: u64) -> Result<()> {
    let more = to.saturating_sub(from);
    if more < 64 << 20 {
        return Ok(()); // small steps: the file system's own limit answers
    }
    let (_, available) = sys::memory();
    if more > available {
        bail!(NoSpace, "growing by {more} bytes needs more memory than the {available} bytes available");
    }
    Ok(())
}

/// Removes the name of the array at `uri`. Attached handles keep working; the storage is
/// freed when the last one is gone. A file that is not an mba array is refused (`Corrupt`).
pub fn delete(uri: impl AsRef<OsStr>) -> Result<()> {
    delete_with(uri, false)
}

/// [`delete`]; with `force`, also removes a file that is not an mba array.
pub fn delete_with(uri: impl AsRef<OsStr>, force: bool) -> Result<()> {
    let uri = uri.as_ref();
    Location::parse(uri)
        .and_then(|loc| store::delete(&loc, force))
        .map_err(|e| e.context(format_args!("delete {}", shown(uri))))
}

#[link_section = ".text.hot.mba"]
fn shown(uri: &OsStr) -> String {
    // A valid UTF-8 URI is only checked and copied: no lossy conversion to run (and fault in).
    match uri.to_str() {
        Some(s) => s.to_owned(),
        None => uri.to_string_lossy().into_owned(),
    }
}

// SAFETY: all interior state is atomic or behind a Mutex; the mapping is shared memory
// accessed only through raw pointers and atomics.
unsafe impl Send for Array {}
unsafe impl Sync for Array {}
