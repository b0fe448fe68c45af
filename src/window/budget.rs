//! The manager's configuration and budgets, validated once, and the live counters that the
//! budgets are checked against.
//!
//! A counter is raised *before* the resource exists (before `mmap`, before `open`) and
//! lowered only *after* it is gone (after `munmap`, after `close`), and it is raised only
//! under the manager's lock after checking the budget. So at every moment the counters are an
//! upper bound of what is really mapped and open, and never above the budget. The peaks are
//! kept too, so a test can check the bound held between two samples.

use crate::error::{bail, Result};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What a [`WindowManager`](super::WindowManager) may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    /// Bytes per window, rounded up to the page size. 0 maps whole files (as
    /// `smmap.StaticWindowMapManager` does), but never more than `max_mapped_bytes` at once:
    /// a file larger than that is mapped in windows of `max_mapped_bytes` (rounded down to
    /// pages).
    pub window_size: u64,
    /// The most bytes mapped at any moment, over all windows of all files.
    pub max_mapped_bytes: u64,
    /// The most file descriptors the manager holds open at any moment.
    pub max_open_files: u64,
    /// The most windows mapped at any moment (each is one entry in the process's memory map,
    /// which `vm.max_map_count` limits); 0 = no limit but the bytes.
    pub max_windows: u64,
    /// Read through the mappings even where the file could be shrunk under them. Faster, with
    /// plain `mmap`'s contract: if another process truncates a file while it is read, the
    /// reader gets SIGBUS. Without it, reads of files that could shrink use `pread`.
    pub mapped_reads: bool,
}

/// Default window size: 4 MiB.
pub(crate) const DEFAULT_WINDOW_SIZE: u64 = 4 << 20;
/// Default mapped-bytes budget: 1 GiB.
pub(crate) const DEFAULT_MAX_MAPPED_BYTES: u64 = 1 << 30;
/// Default open-files budget.
pub(crate) const DEFAULT_MAX_OPEN_FILES: u64 = 64;

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            window_size: DEFAULT_WINDOW_SIZE,
            max_mapped_bytes: DEFAULT_MAX_MAPPED_BYTES,
            max_open_files: DEFAULT_MAX_OPEN_FILES,
            max_windows: 0,
            mapped_reads: false,
        }
    }
}

/// The validated budgets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budgets {
    pub page: u64,
    /// Bytes per window: a multiple of `page`, at most `max_mapped`.
    pub window: u64,
    pub whole_files: bool,
    pub max_mapped: u64,
    pub max_files: u64,
    /// `u64::MAX` when unlimited.
    pub max_windows: u64,
    pub mapped_reads: bool,
}

impl Budgets {
    pub fn new(c: &WindowConfig, page: u64) -> Result<Budgets> {
        if c.max_mapped_bytes < page {
            bail!(
                InvalidArgument,
                "max_mapped_bytes {} is less than one page ({page} bytes)",
                c.max_mapped_bytes
            );
        }
        if c.max_open_files == 0 {
            bail!(InvalidArgument, "max_open_files is 0: the manager could open no file");
        }
        let max_mapped = c.max_mapped_bytes / page * page;
        let window = if c.window_size == 0 {
            max_mapped
        } else {
            match c.window_size.checked_next_multiple_of(page) {
                Some(w) if w <= max_mapped => w,
                _ => bail!(
                    InvalidArgument,
                    "window_size {} (rounded up to whole pages) exceeds max_mapped_bytes {}",
                    c.window_size,
                    c.max_mapped_bytes
                ),
            }
        };
        Ok(Budgets {
            page,
            window,
            whole_files: c.window_size == 0,
            max_mapped,
            max_files: c.max_open_files,
            max_windows: if c.max_windows == 0 { u64::MAX } else { c.max_windows },
            mapped_reads: c.mapped_reads,
        })
    }

    /// Whether `add` more mapped bytes in one more window fit the budgets now.
    pub fn window_fits(&self, c: &Counters, add: u64) -> bool {
        c.mapped_bytes.load(Relaxed).saturating_add(add) <= self.max_mapped
            && c.windows.load(Relaxed) < self.max_windows
    }

    /// Whether one more open file fits the budget now.
    pub fn file_fits(&self, c: &Counters) -> bool {
        c.open_files.load(Relaxed) < self.max_files
    }
}

/// Live and cumulative figures, readable without the manager's lock.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub mapped_bytes: AtomicU64,
    /// Bytes of the files inside the mapped windows (what smmap calls mapped memory):
    /// `mapped_bytes` less the part of each file's last page past its end.
    pub mapped_file_bytes: AtomicU64,
    pub windows: AtomicU64,
    pub open_files: AtomicU64,
    pub peak_mapped_bytes: AtomicU64,
    pub peak_windows: AtomicU64,
    pub peak_open_files: AtomicU64,
    pub maps: AtomicU64,
    pub unmaps: AtomicU64,
    pub evictions: AtomicU64,
    pub opens: AtomicU64,
    pub closes: AtomicU64,
    pub preads: AtomicU64,
}

impl Counters {
    /// Counts a window of `len` bytes, `file_bytes` of them inside the file, about to be mapped.
    pub fn add_window(&self, len: u64, file_bytes: u64) {
        self.mapped_file_bytes.fetch_add(file_bytes, Relaxed);
        let b = self.mapped_bytes.fetch_add(len, Relaxed) + len;
        let w = self.windows.fetch_add(1, Relaxed) + 1;
        self.peak_mapped_bytes.fetch_max(b, Relaxed);
        self.peak_windows.fetch_max(w, Relaxed);
    }

    /// Uncounts a window that is no longer mapped (or failed to map).
    pub fn remove_window(&self, len: u64, file_bytes: u64) {
        self.mapped_file_bytes.fetch_sub(file_bytes, Relaxed);
        self.mapped_bytes.fetch_sub(len, Relaxed);
        self.windows.fetch_sub(1, Relaxed);
    }

    pub fn add_file(&self) {
        let f = self.open_files.fetch_add(1, Relaxed) + 1;
        self.peak_open_files.fetch_max(f, Relaxed);
    }

    pub fn remove_file(&self) {
        self.open_files.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn window_is_rounded_to_pages_and_bounded_by_the_memory_budget() {
        let b = Budgets::new(&WindowConfig { window_size: 5000, ..Default::default() }, 4096).unwrap();
        assert_eq!((b.window, b.whole_files), (8192, false));
        let b = Budgets::new(
            &WindowConfig { window_size: 0, max_mapped_bytes: 10_000, ..Default::default() },
            4096,
        )
        .unwrap();
        assert_eq!((b.window, b.max_mapped, b.whole_files), (8192, 8192, true));
        for bad in [
            WindowConfig { window_size: 1 << 20, max_mapped_bytes: 1 << 19, ..Default::default() },
            WindowConfig { max_mapped_bytes: 100, ..Default::default() },
            WindowConfig { max_open_files: 0, ..Default::default() },
            WindowConfig { window_size: u64::MAX, max_mapped_bytes: u64::MAX, ..Default::default() },
        ] {
            assert_eq!(Budgets::new(&bad, 4096).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn fits_checks_every_budget() {
        let cfg = WindowConfig {
            window_size: 4096,
            max_mapped_bytes: 8192,
            max_open_files: 1,
            max_windows: 1,
            ..Default::default()
        };
        let b = Budgets::new(&cfg, 4096).unwrap();
        let c = Counters::default();
        assert!(b.window_fits(&c, 8192) && !b.window_fits(&c, 8193) && b.file_fits(&c));
        c.add_window(4096, 4000);
        c.add_file();
        assert!(!b.window_fits(&c, 1), "the window count is full");
        assert!(!b.file_fits(&c));
        c.remove_window(4096, 4000);
        c.remove_file();
        assert!(b.window_fits(&c, 4096) && b.file_fits(&c));
        assert_eq!(c.peak_mapped_bytes.load(Relaxed), 4096);
    }
}
