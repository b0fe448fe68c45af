//! A windowed reader: many files, possibly far larger than memory, read at random through
//! windows mapped on demand, under budgets of mapped bytes, open files and windows that hold
//! at every moment (the design of smmap's `SlidingWindowMapManager`, made native,
//! thread-safe, and strict).
//!
//! - A [`WindowManager`] owns the windows (read-only shared mappings of page-aligned byte
//!   ranges) and the descriptors. When a new window or descriptor would exceed a budget, it
//!   first unmaps the least recently used windows that no cursor pins, and closes the least
//!   recently used descriptors no read is using.
//! - A [`Cursor`] reads one file: a raw file of elements of any dtype from any byte offset, a
//!   `.npy` file (data after its header, count from its shape) or an mba array (data at its
//!   `data_offset`, count from its live `len`, checked against the file's size). It reads
//!   any element range, across windows, into the caller's memory ([`Cursor::read`]), and
//!   lends out a pinned window without copying ([`Cursor::pin`]). A cursor pins at most one
//!   window: the one it last lent out, until its next call. Reads pin windows only while
//!   they copy, so idle cursors hold no part of the budget.
//! - The size of a file (and its header) is re-read whenever a read reaches past the known
//!   length, and by [`Cursor::refresh`]: growth is seen.
//! - [`WindowManager::collect`] and [`WindowManager::close`] release everything not pinned,
//!   at once.
//!
//! # Reads and SIGBUS: the contract
//! A mapping of a file that another process truncates raises SIGBUS when the cut pages are
//! touched. So:
//! - **Reads** ([`Cursor::read`]) never touch a mapping that could be cut: unless the file is
//!   sealed against shrinking (`F_SEAL_SHRINK`, as mba's anonymous arrays are) or the
//!   manager was created with [`WindowConfig::mapped_reads`], they use `pread`. A file that
//!   shrinks or is deleted under a live cursor gives `OutOfBounds` (or reads on: a deleted
//!   file stays readable while the manager holds its descriptor; once that descriptor was
//!   closed for the budget, `NotFound`), never a signal. With `mapped_reads`, reads copy from
//!   the windows: plain `mmap`'s speed and plain `mmap`'s contract (truncation by another
//!   process while reading raises SIGBUS).
//! - **Borrows** ([`Cursor::pin`]) re-read the file's size (`fstat`) before lending a window
//!   out, and lend only bytes below it. If the file is shrunk below the borrowed bytes while
//!   the borrow is held, touching them raises SIGBUS: a borrow is a mapping
//!   (docs/GUARANTEES.md §10 says why mba installs no signal handler).
//! - Deleting (unlinking) a file never cuts a mapping: windows and borrows stay valid.
//!
//! # Which reads map windows
//! A read that misses every mapped window maps a new one if the budgets have free room, or
//! if it continues the window this cursor used last (a sequential scan): then the least
//! recently used unpinned windows are evicted to make room. A random read that would need an
//! eviction uses `pread` instead of churning mappings (mapping, faulting and unmapping a
//! window costs several times a `pread` of the bytes). Borrows always evict to make room; a
//! borrow at random under a full budget maps only the pages it asks for (at least 64 KiB).

mod budget;
mod cursor;
mod file;
mod manager;
mod region;

pub use budget::WindowConfig;
pub use cursor::{Cursor, CursorInfo, Pinned};
pub use file::{Geometry, Kind};
pub use manager::{Stats, WindowInfo, WindowManager};
