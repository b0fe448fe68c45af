//! The windowed reader's exports: `mba_window_manager` and `mba_window_cursor`.
//!
//! A manager maps windows of files on demand under three budgets (mapped bytes, open files,
//! windows) that hold at every moment, evicting least recently used unpinned windows. A
//! cursor reads one file (raw, `.npy` or mba array): typed reads of any element range into
//! the caller's buffer, and zero-copy borrows of a pinned window.

use super::error::*;
use super::macros::give_box as give;
use crate::error::{bail, Result};
use crate::window::{Cursor, CursorInfo, Kind, Pinned, WindowConfig, WindowInfo, WindowManager};
use std::ffi::{c_char, c_int, c_void, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;

/// A windowed reader's manager. Opaque: make it with mba_window_manager_new, give it back
/// with mba_window_manager_free.
#[allow(non_camel_case_types)]
pub struct mba_window_manager {
    pub(crate) inner: WindowManager,
}

/// A reader of one file through a manager. Opaque: make it with mba_window_open,
/// mba_window_open_fd or mba_window_cursor_clone, give it back with mba_window_cursor_free.
#[allow(non_camel_case_types)]
pub struct mba_window_cursor {
    pub(crate) inner: Cursor,
}

/// Flag of mba_window_config: reads copy from mapped windows even where another process
/// could truncate the file. As fast as plain mmap, with plain mmap's contract: a truncation
/// while reading raises SIGBUS. Without it, reads of such files use pread (see
/// mba_window_read).
pub const MBA_WINDOW_MAPPED_READS: u32 = 1;

/// File kinds of mba_window_open: decide from the first bytes (`.npy` magic, mba magic, else raw).
pub const MBA_WINDOW_AUTO: u32 = 0;
/// File kind: headerless elements from a byte offset to the end of the file.
pub const MBA_WINDOW_RAW: u32 = 1;
/// File kind: a `.npy` file (format 1.0, 2.0 or 3.0; C order; either byte order).
pub const MBA_WINDOW_NPY: u32 = 2;
/// File kind: an mba array (data at its data_offset, length from its live len).
pub const MBA_WINDOW_MBA: u32 = 3;

/// The budgets of a manager. Fill it with mba_window_config_init, then change fields.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct mba_window_config {
    /// sizeof(mba_window_config): set by mba_window_config_init.
    pub struct_size: u32,
    /// 0 or MBA_WINDOW_MAPPED_READS.
    pub flags: u32,
    /// Bytes per window, rounded up to the page size; default 4 MiB. 0 = whole files, in
    /// windows of at most max_mapped_bytes.
    pub window_size: u64,
    /// The most bytes mapped at any moment; default 1 GiB. At least one page, and at least
    /// window_size.
    pub max_mapped_bytes: u64,
    /// The most file descriptors open at any moment; default 64; at least 1.
    pub max_open_files: u64,
    /// The most windows mapped at any moment; default 0 = no limit but the bytes.
    pub max_windows: u64,
}

/// A manager's use of its budgets (mba_window_manager_stats).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Default)]
pub struct mba_window_stats {
    /// Bytes mapped now: counted before mmap, uncounted after munmap, so never below the truth.
    pub mapped_bytes: u64,
    /// Of those, bytes inside the files when their windows were mapped (the rest is the tail of
    /// each file's last page).
    pub mapped_file_bytes: u64,
    /// Windows mapped now (including evicted ones a cursor still pins).
    pub windows: u64,
    /// Windows some cursor pins now.
    pub pinned_windows: u64,
    /// Descriptors open now.
    pub open_files: u64,
    /// Files known (with cursors, windows or a descriptor).
    pub files: u64,
    /// The highest mapped_bytes, windows and open_files ever reached.
    pub peak_mapped_bytes: u64,
    pub peak_windows: u64,
    pub peak_open_files: u64,
    /// Cumulative counts: windows mapped, unmapped, evicted to make room; descriptors opened,
    /// closed; pread calls.
    pub maps: u64,
    pub unmaps: u64,
    pub evictions: u64,
    pub opens: u64,
    pub closes: u64,
    pub preads: u64,
    /// The budgets as validated (window_size 0 = whole files; max_windows 0 = no limit).
    pub window_size: u64,
    pub max_mapped_bytes: u64,
    pub max_open_files: u64,
    pub max_windows: u64,
}

/// What a cursor reads (filled by mba_window_info).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Default)]
pub struct mba_window_cursor_info {
    /// MBA_WINDOW_RAW, MBA_WINDOW_NPY or MBA_WINDOW_MBA (never AUTO).
    pub kind: u32,
    /// dtype code: MBA_I8 .. MBA_C128.
    pub dtype: u32,
    /// Bytes per element.
    pub itemsize: u32,
    /// Number of dimensions (1 for raw files).
    pub ndim: u32,
    /// 1 if the file is in the other byte order (a big-endian `.npy` on a little-endian
    /// machine): mba_window_read swaps, mba_window_pin lends the file's bytes.
    pub byteswapped: u32,
    /// 1 if reads copy from mapped windows rather than pread (MBA_WINDOW_MAPPED_READS, or a
    /// file sealed against shrinking).
    pub mapped_reads: u32,
    /// File offset of element 0.
    pub data_offset: u64,
    /// Elements visible as of the last refresh (a multiple of the row size).
    pub len: u64,
    /// The file's size as last seen.
    pub file_size: u64,
    /// `shape[0]` = rows (len / row size), then the trailing extents; unused entries 0.
    pub shape: [u64; 8],
}

/// One window (mba_window_manager_region, mba_window_current).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, Default)]
pub struct mba_window_region {
    /// Unique for the manager's life; never reused.
    pub id: u64,
    /// File offset of the window's first byte (a page multiple).
    pub offset: u64,
    /// Bytes mapped.
    pub len: u64,
    /// Bytes of the window inside the file as far as the manager knows its size.
    pub valid: u64,
    /// Cursors pinning it now.
    pub pins: u64,
}

/// A zero-copy borrow (mba_window_pin).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct mba_window_view {
    /// Element `index`, in the pinned window, in the file's byte order.
    pub data: *const c_void,
    /// Whole elements available from `data` (at least 1, at most the count asked).
    pub count: u64,
    /// The window lent out: its id, file offset, mapped length, and bytes inside the file.
    pub window_id: u64,
    pub window_offset: u64,
    pub window_len: u64,
    pub window_valid: u64,
}

fn region_of(w: WindowInfo) -> mba_window_region {
    mba_window_region { id: w.id, offset: w.offset, len: w.len, valid: w.valid, pins: w.pins }
}

fn info_of(i: CursorInfo) -> mba_window_cursor_info {
    mba_window_cursor_info {
        kind: i.kind as u32,
        dtype: i.dtype,
        itemsize: i.itemsize as u32,
        ndim: i.ndim,
        byteswapped: i.byteswapped as u32,
        mapped_reads: i.mapped_reads as u32,
        data_offset: i.data_offset,
        len: i.len,
        file_size: i.file_size,
        shape: i.shape,
    }
}

fn kind_of(kind: u32) -> Result<Kind> {
    match Kind::from_code(kind) {
        Some(k) => Ok(k),
        None => bail!(InvalidArgument, "unknown file kind {kind} (use MBA_WINDOW_AUTO, _RAW, _NPY or _MBA)"),
    }
}

/// The manager behind a non-NULL pointer.
macro_rules! manager {
    ($p:ident) => {{
        let p = non_null!($p);
        // SAFETY: a pointer from mba_window_manager_new not yet freed (documented contract).
        unsafe { &(*p).inner }
    }};
}

/// The cursor behind a non-NULL pointer, for a call that moves it.
macro_rules! cursor_mut {
    ($p:ident) => {{
        let p = non_null!($p);
        // SAFETY: a pointer from mba_window_open* not yet freed, used by one thread at a time
        // (documented contract).
        unsafe { &mut (*p).inner }
    }};
}

/// Fills `*config` with the defaults: 4 MiB windows, 1 GiB mapped, 64 open files, no window
/// limit, no flags; and struct_size. NULL is ignored. Threads: any.
#[no_mangle]
pub extern "C" fn mba_window_config_init(config: *mut mba_window_config) {
    // Nothing here can panic, and a void function has no error to give; the guard keeps
    // unwinding out of C all the same.
    let _ = std::panic::catch_unwind(|| {
        if !config.is_null() {
            let d = WindowConfig::default();
            let c = mba_window_config {
                struct_size: std::mem::size_of::<mba_window_config>() as u32,
                flags: 0,
                window_size: d.window_size,
                max_mapped_bytes: d.max_mapped_bytes,
                max_open_files: d.max_open_files,
                max_windows: d.max_windows,
            };
            // SAFETY: config is non-NULL and points at a mba_window_config (documented).
            unsafe { config.write(c) };
        }
    });
}

/// Makes a manager with the budgets in `*config` (NULL = the defaults of
/// mba_window_config_init) and returns it in `*out`.
///
/// Errors: MBA_ERR_INVALID_ARGUMENT for a struct_size other than sizeof(mba_window_config),
/// unknown flag bits, max_mapped_bytes under one page or under window_size, or
/// max_open_files 0; MBA_ERR_NULL_POINTER for a NULL `out`.
/// Ownership: free `*out` with mba_window_manager_free. Threads: any.
#[no_mangle]
pub extern "C" fn mba_window_manager_new(
    config: *const mba_window_config,
    out: *mut *mut mba_window_manager,
) -> mba_status {
    ffi_status!("mba_window_manager_new", {
        let out = non_null!(out);
        let mut cfg = WindowConfig::default();
        if !config.is_null() {
            // SAFETY: non-NULL pointer to a mba_window_config (documented); its struct_size
            // is checked before the rest is trusted to exist.
            let size = unsafe { std::ptr::addr_of!((*config).struct_size).read() };
            if size as usize != std::mem::size_of::<mba_window_config>() {
                bail!(InvalidArgument, "config.struct_size is {size}, not sizeof(mba_window_config) (call mba_window_config_init)");
            }
            let c = unsafe { config.read() };
            if c.flags & !MBA_WINDOW_MAPPED_READS != 0 {
                bail!(InvalidArgument, "unknown window flag bits {:#x}", c.flags & !MBA_WINDOW_MAPPED_READS);
            }
            cfg = WindowConfig {
                window_size: c.window_size,
                max_mapped_bytes: c.max_mapped_bytes,
                max_open_files: c.max_open_files,
                max_windows: c.max_windows,
                mapped_reads: c.flags & MBA_WINDOW_MAPPED_READS != 0,
            };
        }
        give(out, mba_window_manager { inner: WindowManager::new(cfg)? });
        Ok(())
    })
}

/// Gives back a manager handle. NULL is allowed. Cursors of the manager stay usable: the
/// manager lives on until its last cursor is freed; its windows and descriptors go with it.
/// To release them now, call mba_window_manager_close first.
/// Threads: no other call may be using this manager handle (its cursors may go on).
#[no_mangle]
pub extern "C" fn mba_window_manager_free(m: *mut mba_window_manager) -> mba_status {
    ffi_status!("mba_window_manager_free", {
        super::macros::free_box(m);
        Ok(())
    })
}

/// Releases everything now: unmaps every window no cursor pins, closes every descriptor (one
/// that a read in another thread is using when that read ends), and closes the manager: from
/// then on its cursors fail every call but mba_window_cursor_free with
/// MBA_ERR_INVALID_ARGUMENT, and nothing can be opened.
///
/// Returns MBA_ERR_BUSY if some windows were still pinned by cursors: each is unmapped when
/// its cursor is freed or unpinned (borrowed pointers stay valid until then). The manager is
/// closed either way. Threads: any.
#[no_mangle]
pub extern "C" fn mba_window_manager_close(m: *mut mba_window_manager) -> mba_status {
    ffi_status!("mba_window_manager_close", { manager!(m).close() })
}

/// Unmaps every window no cursor pins and closes every descriptor no read uses; `*released`
/// (may be NULL) gets the number of windows unmapped. Threads: any.
#[no_mangle]
pub extern "C" fn mba_window_manager_collect(m: *mut mba_window_manager, released: *mut u64) -> mba_status {
    ffi_status!("mba_window_manager_collect", {
        let n = manager!(m).collect();
        if !released.is_null() {
            // SAFETY: non-NULL output pointer (documented).
            unsafe { *released = n };
        }
        Ok(())
    })
}

/// Unmaps least recently used unpinned windows until `need_bytes` more bytes in one more
/// window would fit the budgets (0: every unpinned window); `*released` (may be NULL) gets how
/// many were unmapped. Threads: any.
#[no_mangle]
pub extern "C" fn mba_window_manager_trim(
    m: *mut mba_window_manager,
    need_bytes: u64,
    released: *mut u64,
) -> mba_status {
    ffi_status!("mba_window_manager_trim", {
        let n = manager!(m).trim(need_bytes);
        if !released.is_null() {
            // SAFETY: non-NULL output pointer (documented).
            unsafe { *released = n };
        }
        Ok(())
    })
}

/// Writes the manager's use of its budgets and its cumulative figures to `*out`.
/// Errors: MBA_ERR_NULL_POINTER. Threads: any; the figures are a consistent-enough snapshot
/// (each is exact at its own moment).
#[no_mangle]
pub extern "C" fn mba_window_manager_stats(
    m: *const mba_window_manager,
    out: *mut mba_window_stats,
) -> mba_status {
    ffi_status!("mba_window_manager_stats", {
        let out = non_null!(out);
        let s = manager!(m).stats();
        let v = mba_window_stats {
            mapped_bytes: s.mapped_bytes,
            mapped_file_bytes: s.mapped_file_bytes,
            windows: s.windows,
            pinned_windows: s.pinned_windows,
            open_files: s.open_files,
            files: s.files,
            peak_mapped_bytes: s.peak_mapped_bytes,
            peak_windows: s.peak_windows,
            peak_open_files: s.peak_open_files,
            maps: s.maps,
            unmaps: s.unmaps,
            evictions: s.evictions,
            opens: s.opens,
            closes: s.closes,
            preads: s.preads,
            window_size: s.window_size,
            max_mapped_bytes: s.max_mapped_bytes,
            max_open_files: s.max_open_files,
            max_windows: s.max_windows,
        };
        // SAFETY: non-NULL output pointer (documented).
        unsafe { out.write(v) };
        Ok(())
    })
}

/// Writes the window with id `id` to `*out`. MBA_ERR_NOT_FOUND once it was unmapped or
/// evicted. Threads: any.
#[no_mangle]
pub extern "C" fn mba_window_manager_region(
    m: *const mba_window_manager,
    id: u64,
    out: *mut mba_window_region,
) -> mba_status {
    ffi_status!("mba_window_manager_region", {
        let out = non_null!(out);
        let Some(w) = manager!(m).window(id) else {
            bail!(NotFound, "window {id} is no longer mapped");
        };
        // SAFETY: non-NULL output pointer (documented).
        unsafe { out.write(region_of(w)) };
        Ok(())
    })
}

/// Opens a cursor over the file at `path` and returns it in `*out`.
///
/// - `kind`: MBA_WINDOW_AUTO, MBA_WINDOW_RAW, MBA_WINDOW_NPY or MBA_WINDOW_MBA.
/// - `dtype`: for raw files the element type (0 = MBA_U8); for `.npy` and mba files 0 or
///   the dtype the file must hold (else MBA_ERR_INVALID_ARGUMENT naming both).
/// - `offset`: where a raw file's elements start; must be 0 for the other kinds.
///
/// A raw file is only stat'ed here (it is opened at the first read); `.npy` and mba files are
/// opened to read their header. Opening counts against the open-files budget.
/// Errors: MBA_ERR_NOT_FOUND, MBA_ERR_PERMISSION; MBA_ERR_INVALID_ARGUMENT for a file that is
/// not regular, an unknown kind or dtype, a `.npy` in Fortran order or with an object,
/// structured or other non-numeric dtype (the message says which); MBA_ERR_CORRUPT for a bad
/// header. Ownership: free `*out` with mba_window_cursor_free. Threads: any, concurrently
/// with every other call on the manager.
#[no_mangle]
pub extern "C" fn mba_window_open(
    m: *mut mba_window_manager,
    path: *const c_char,
    kind: u32,
    dtype: u32,
    offset: u64,
    out: *mut *mut mba_window_cursor,
) -> mba_status {
    ffi_status!("mba_window_open", {
        let out = non_null!(out);
        let path = non_null!(path);
        let m = manager!(m);
        // SAFETY: a NUL-terminated string (documented).
        let path = OsStr::from_bytes(unsafe { CStr::from_ptr(path) }.to_bytes());
        let c = m.open(path, kind_of(kind)?, dtype, offset)?;
        give(out, mba_window_cursor { inner: c });
        Ok(())
    })
}

/// mba_window_open for a file open as `fd`. The caller keeps `fd` open while the cursor is
/// used: the manager reads through its own duplicates, which it may close and make again
/// to stay in budget; it never closes `fd`. Threads: any.
#[no_mangle]
pub extern "C" fn mba_window_open_fd(
    m: *mut mba_window_manager,
    fd: c_int,
    kind: u32,
    dtype: u32,
    offset: u64,
    out: *mut *mut mba_window_cursor,
) -> mba_status {
    ffi_status!("mba_window_open_fd", {
        let out = non_null!(out);
        let c = manager!(m).open_fd(fd, kind_of(kind)?, dtype, offset)?;
        give(out, mba_window_cursor { inner: c });
        Ok(())
    })
}

/// A second cursor on the same file, pinning the same window as `c` (if any), in `*out`.
/// Ownership: free it with mba_window_cursor_free. Threads: not while another thread moves `c`.
#[no_mangle]
pub extern "C" fn mba_window_cursor_clone(
    c: *const mba_window_cursor,
    out: *mut *mut mba_window_cursor,
) -> mba_status {
    ffi_status!("mba_window_cursor_clone", {
        let out = non_null!(out);
        let c = handle!(c).try_clone()?;
        give(out, mba_window_cursor { inner: c });
        Ok(())
    })
}

/// Gives back a cursor: its pinned window is let go of (and unmapped now if its manager was
/// closed or evicted it). NULL is allowed. Threads: no other call may be using `c`.
#[no_mangle]
pub extern "C" fn mba_window_cursor_free(c: *mut mba_window_cursor) -> mba_status {
    ffi_status!("mba_window_cursor_free", {
        super::macros::free_box(c);
        Ok(())
    })
}

/// Writes what `c` reads to `*out`: kind, dtype, shape, length and file size as last seen.
/// Threads: not while another thread moves `c`.
#[no_mangle]
pub extern "C" fn mba_window_info(
    c: *const mba_window_cursor,
    out: *mut mba_window_cursor_info,
) -> mba_status {
    ffi_status!("mba_window_info", {
        let out = non_null!(out);
        let i = handle!(c).info();
        // SAFETY: non-NULL output pointer (documented).
        unsafe { out.write(info_of(i)) };
        Ok(())
    })
}

/// Elements visible as of the cursor's last refresh; 0 for NULL. Reads past it refresh by
/// themselves. Threads: not while another thread moves `c`.
#[no_mangle]
pub extern "C" fn mba_window_len(c: *const mba_window_cursor) -> u64 {
    ffi_boundary!("mba_window_len", {
        if c.is_null() {
            0
        } else {
            // SAFETY: a live cursor (documented).
            unsafe { (*c).inner.len() }
        }
    })
}

/// Re-reads the file's size (and its `.npy` or mba header) so growth is seen; `*len` (may be
/// NULL) gets the element count now visible. Threads: one thread per cursor.
#[no_mangle]
pub extern "C" fn mba_window_refresh(c: *mut mba_window_cursor, len: *mut u64) -> mba_status {
    ffi_status!("mba_window_refresh", {
        let n = cursor_mut!(c).refresh()?;
        if !len.is_null() {
            // SAFETY: non-NULL output pointer (documented).
            unsafe { *len = n };
        }
        Ok(())
    })
}

/// Reads elements [index, index + count) into `out` (count * itemsize bytes, any alignment),
/// in this machine's byte order (a byte-swapped `.npy` is swapped), across windows as needed.
/// A range past the known length refreshes it once first.
///
/// How: through mapped windows if the file cannot be truncated under them (sealed) or the
/// manager has MBA_WINDOW_MAPPED_READS, else with pread; so without that flag a file truncated
/// or deleted under the cursor gives an error, never SIGBUS. A read that misses every window
/// maps one when the budgets have room, or when it continues the cursor's last window
/// (sequential), evicting least recently used unpinned windows; a random read that would need
/// an eviction uses pread. A read pins windows only while it copies; it leaves the cursor's
/// borrow (mba_window_pin) as it was: that window stays pinned and its pointer valid.
///
/// Errors: MBA_ERR_OUT_OF_BOUNDS past the end (also when the file shrank during the call: then
/// `out`'s content is unspecified, the one exception to "outputs only on success");
/// MBA_ERR_INVALID_ARGUMENT if index + count overflows or the manager was closed;
/// MBA_ERR_NOT_FOUND if the file was deleted or replaced and had to be reopened.
/// Threads: one thread per cursor; any number of cursors at once.
#[no_mangle]
pub extern "C" fn mba_window_read(
    c: *mut mba_window_cursor,
    index: u64,
    count: u64,
    out: *mut c_void,
) -> mba_status {
    ffi_status!("mba_window_read", {
        let c = cursor_mut!(c);
        if count > 0 {
            let out = non_null!(out);
            // SAFETY: out holds count * itemsize writable bytes (documented).
            unsafe { c.read_raw(index, count, out.cast()) }
        } else {
            Ok(())
        }
    })
}

/// Pins the window holding element `index` and lends it out in `*out`: a pointer to the
/// element and how many whole elements follow it in the window (at most `count`; `count` 0 =
/// as many as the window holds). The cursor's previous window is let go of.
///
/// The pointer is valid until the cursor's next pin, unpin or free (reads leave it alone). The bytes are the
/// file's (its byte order: see mba_window_cursor_info.byteswapped), and other processes may change
/// them. Before lending, the file's size is re-read (fstat) unless reads are mapped, so only
/// bytes inside the file are lent. Contract: if the file is then shrunk below the borrowed
/// bytes while the borrow is held, touching them raises SIGBUS, as with any mapping; deleting
/// the file does not affect the borrow.
///
/// Errors: MBA_ERR_OUT_OF_BOUNDS at or past the end; MBA_ERR_BUSY when the budgets are held
/// entirely by windows other cursors pin. Threads: one thread per cursor.
#[no_mangle]
pub extern "C" fn mba_window_pin(
    c: *mut mba_window_cursor,
    index: u64,
    count: u64,
    out: *mut mba_window_view,
) -> mba_status {
    ffi_status!("mba_window_pin", {
        let out = non_null!(out);
        let p: Pinned<'_> = cursor_mut!(c).pin(index, count)?;
        let v = mba_window_view {
            data: p.ptr.cast(),
            count: p.count,
            window_id: p.window_id,
            window_offset: p.window_offset,
            window_len: p.window_len,
            window_valid: p.window_valid,
        };
        // SAFETY: non-NULL output pointer (documented).
        unsafe { out.write(v) };
        Ok(())
    })
}

/// Lets go of the cursor's pinned window (it stays mapped until evicted). Threads: one
/// thread per cursor.
#[no_mangle]
pub extern "C" fn mba_window_unpin(c: *mut mba_window_cursor) -> mba_status {
    ffi_status!("mba_window_unpin", {
        cursor_mut!(c).unpin();
        Ok(())
    })
}

/// Writes the window `c` pins now to `*out`; MBA_ERR_NOT_FOUND if it pins none.
/// Threads: not while another thread moves `c`.
#[no_mangle]
pub extern "C" fn mba_window_current(c: *const mba_window_cursor, out: *mut mba_window_region) -> mba_status {
    ffi_status!("mba_window_current", {
        let out = non_null!(out);
        let Some(w) = handle!(c).window() else {
            bail!(NotFound, "the cursor pins no window");
        };
        // SAFETY: non-NULL output pointer (documented).
        unsafe { out.write(region_of(w)) };
        Ok(())
    })
}
