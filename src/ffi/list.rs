//! Listing arrays from C: `mba_list_open`, `mba_list_count`, `mba_list_get`, `mba_list_free`.

use super::error::*;
use crate::error::{Error, ErrorKind};
use crate::list::{self, Entry, Liveness};
use std::ffi::{c_char, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `mba_list_entry.creator_alive`: the creator process still runs.
pub const MBA_CREATOR_ALIVE: i32 = 1;
/// `mba_list_entry.creator_alive`: the creator has exited (its pid is free, reused by a
/// process started at another time, or a zombie).
pub const MBA_CREATOR_DEAD: i32 = 0;
/// `mba_list_entry.creator_alive`: cannot tell (no pid recorded, or hidden by /proc).
pub const MBA_CREATOR_UNKNOWN: i32 = -1;

/// A snapshot of the arrays in a directory, taken by mba_list_open. Opaque: read it with
/// mba_list_count and mba_list_get, give it back with mba_list_free.
#[allow(non_camel_case_types)]
pub struct mba_list {
    items: Vec<Item>,
}

struct Item {
    entry: mba_list_entry,
    // Own the strings entry points into (heap buffers: they do not move with Item).
    _strings: [CString; 4],
}

/// One array of an mba_list. The strings belong to the list and stay valid until mba_list_free.
///
/// For a corrupt array (`status` MBA_ERR_CORRUPT), `problem` says why, and the fields that
/// come from its header (dtype .. capacity, created_ns, creator_*, typecode, max_capacity) are as read, or 0.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct mba_list_entry {
    /// `"shm://NAME"` for /dev/shm, else `"file://DIR/NAME"` with DIR as passed to mba_list_open.
    pub uri: *const c_char,
    /// The file's path.
    pub path: *const c_char,
    /// The owner's user name, or the uid in decimal.
    pub owner: *const c_char,
    /// `""` for a valid array; else why its header does not hold up.
    pub problem: *const c_char,
    /// MBA_OK, or MBA_ERR_CORRUPT (a damaged, truncated or unsupported-version array).
    pub status: mba_status,
    /// Element type code (MBA_I8 ...); 0 if the header holds an unknown one.
    pub dtype: u32,
    /// Bytes per element (one scalar).
    pub itemsize: u32,
    /// Number of dimensions (1 ..= 8).
    pub ndim: u32,
    /// `shape[0]`: rows now (len / row size); `shape[1 .. ndim]`: extents of the other axes; rest 0.
    pub shape: [u64; 8],
    /// Published length in elements (scalars).
    pub len: u64,
    /// Capacity in elements, as the header says.
    pub capacity: u64,
    /// The store's size in bytes.
    pub size: u64,
    /// Bytes the store occupies in memory or on disk (st_blocks * 512).
    pub bytes: u64,
    /// The owner's user id.
    pub uid: u32,
    /// Permission bits (st_mode & 07777).
    pub mode: u32,
    /// Creation time (header), nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// Last modification of the store's size or metadata, nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
    /// The creator's pid and start time (clock ticks after boot), from the header.
    pub creator_pid: u64,
    pub creator_start: u64,
    /// MBA_CREATOR_ALIVE, MBA_CREATOR_DEAD or MBA_CREATOR_UNKNOWN.
    pub creator_alive: i32,
    /// The binding's typecode hint stored at create (an ASCII character such as 'd'; 0 for none).
    pub typecode: u32,
    /// The store's device and inode numbers (as in /proc/PID/maps and stat(2)).
    pub dev: u64,
    pub ino: u64,
    /// The most elements the array may ever hold (fixed at create).
    pub max_capacity: u64,
    /// Writer handles in the slot table whose process still runs (or cannot be checked).
    pub writers: u32,
    /// Reserved; 0.
    pub reserved: u32,
}

fn cstring(b: &[u8]) -> CString {
    // Paths cannot hold NUL; a problem message might: escape it rather than cut it.
    CString::new(b).unwrap_or_else(|_| CString::new(b.escape_ascii().to_string()).unwrap_or_default())
}

fn item(e: &Entry) -> Item {
    let strings = [
        cstring(e.uri.as_bytes()),
        cstring(e.path.as_os_str().as_bytes()),
        cstring(e.owner.as_bytes()),
        cstring(e.problem.as_deref().unwrap_or("").as_bytes()),
    ];
    let mut shape = [0u64; 8];
    for (d, s) in shape.iter_mut().zip(&e.shape) {
        *d = *s;
    }
    let entry = mba_list_entry {
        uri: strings[0].as_ptr(),
        path: strings[1].as_ptr(),
        owner: strings[2].as_ptr(),
        problem: strings[3].as_ptr(),
        status: if e.is_valid() { MBA_OK } else { MBA_ERR_CORRUPT },
        dtype: e.dtype.map_or(0, |d| d.code()),
        itemsize: e.header.itemsize,
        ndim: e.header.ndim,
        shape,
        len: e.len,
        capacity: e.capacity,
        size: e.size,
        bytes: e.bytes,
        uid: e.uid,
        mode: e.mode,
        created_ns: e.created_ns,
        mtime_ns: e.mtime_ns,
        creator_pid: e.creator_pid,
        creator_start: e.creator_start,
        creator_alive: match e.creator {
            Liveness::Alive => MBA_CREATOR_ALIVE,
            Liveness::Dead => MBA_CREATOR_DEAD,
            Liveness::Unknown => MBA_CREATOR_UNKNOWN,
        },
        typecode: e.typecode,
        dev: e.dev,
        ino: e.ino,
        max_capacity: e.max_capacity,
        writers: e.writers.iter().filter(|w| w.alive != Liveness::Dead).count() as u32,
        reserved: 0,
    };
    Item { entry, _strings: strings }
}

/// Lists the mba arrays in the directory `dir`, or in /dev/shm (as `shm://` URIs) when `dir`
/// is NULL, sorted by name, and returns the snapshot in `*out`.
///
/// Nothing is mapped or opened for writing: each regular file is opened read-only without
/// following links and its header read. Files that are not mba arrays, are not regular files,
/// or cannot be opened (permissions) are skipped and never make the call fail; an array whose
/// header does not hold up is listed with status MBA_ERR_CORRUPT. Staging files of unfinished
/// creates (`.NAME.mba-new.PID.*`) are not listed.
///
/// - `flags`: 0 (reserved).
///
/// Errors: MBA_ERR_NOT_FOUND / MBA_ERR_PERMISSION / MBA_ERR_INVALID_ARGUMENT when `dir`
/// cannot be read as a directory; MBA_ERR_INVALID_ARGUMENT for unknown flags.
/// Ownership: on MBA_OK, `*out` is a new list the caller owns and passes to mba_list_free;
/// on failure `*out` is untouched. Threads: any; a list may be read from several threads.
#[no_mangle]
pub extern "C" fn mba_list_open(dir: *const c_char, flags: u32, out: *mut *mut mba_list) -> mba_status {
    ffi_status!("mba_list_open", {
        let out = non_null!(out);
        if flags != 0 {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("unknown list flag bits {flags:#x}")));
        }
        let dir = if dir.is_null() {
            None
        } else {
            // SAFETY: a NUL-terminated string (documented).
            Some(Path::new(OsStr::from_bytes(unsafe { CStr::from_ptr(dir) }.to_bytes())))
        };
        let entries = list::list(dir)?;
        let l = mba_list { items: entries.iter().map(item).collect() };
        super::macros::give_box(out, l);
        Ok(())
    })
}

/// The number of arrays in the list. 0 for NULL. Threads: any.
#[no_mangle]
pub extern "C" fn mba_list_count(l: *const mba_list) -> u64 {
    ffi_boundary!("mba_list_count", {
        // SAFETY: a list from mba_list_open, or NULL.
        unsafe { l.as_ref() }.map_or(0, |l| l.items.len() as u64)
    })
}

/// Copies entry `index` (0 .. mba_list_count) of the list to `*out`.
///
/// - `size`: `sizeof(mba_list_entry)` as the caller was compiled with; at least the size of
///   this version's struct. Later versions may add fields at the end and write only `size` bytes.
///
/// The strings `*out` points to belong to the list and stay valid until mba_list_free.
/// Errors: MBA_ERR_OUT_OF_BOUNDS (index past the count), MBA_ERR_INVALID_ARGUMENT (size too
/// small), MBA_ERR_NULL_POINTER. `*out` is written only on MBA_OK. Threads: any.
#[no_mangle]
pub extern "C" fn mba_list_get(
    l: *const mba_list,
    index: u64,
    out: *mut mba_list_entry,
    size: usize,
) -> mba_status {
    ffi_status!("mba_list_get", {
        let l = non_null!(l);
        let out = non_null!(out);
        // SAFETY: a list from mba_list_open (documented); non-NULL checked.
        let l = unsafe { &*l };
        let need = std::mem::size_of::<mba_list_entry>();
        if size < need {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("entry size {size} is smaller than this version's mba_list_entry ({need} bytes)"),
            ));
        }
        let Some(it) = usize::try_from(index).ok().and_then(|i| l.items.get(i)) else {
            return Err(Error::new(
                ErrorKind::OutOfBounds,
                format!("index {index} is out of bounds (count {})", l.items.len()),
            ));
        };
        // SAFETY: out points at `size` >= need writable bytes (documented).
        unsafe { out.write_unaligned(it.entry) };
        Ok(())
    })
}

/// Frees a list and its strings. NULL is a no-op returning MBA_OK.
/// Ownership: `l` and every string its entries pointed to are invalid afterwards.
/// Threads: no other call may be using `l`.
#[no_mangle]
pub extern "C" fn mba_list_free(l: *mut mba_list) -> mba_status {
    ffi_status!("mba_list_free", {
        super::macros::free_box(l);
        Ok(())
    })
}
