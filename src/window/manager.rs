//! The manager: every file its cursors read, every window mapped, the descriptors it holds,
//! and the least-recently-used eviction that keeps all of it inside the budgets.
//!
//! One mutex guards the tables. The byte copies, `pread`s and the reads of pinned windows
//! happen outside it. Budgets are checked and counters raised under it, before the resource
//! is created, so they hold at every moment (see `budget.rs`).

use super::budget::{Budgets, Counters, WindowConfig};
use super::cursor::Cursor;
use super::file::{self, Geometry, Identity, Kind, Source};
use super::region::{Mapping, Table};
use crate::error::{bail, Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// A windowed reader: maps windows of many files on demand, inside a budget of mapped bytes,
/// open files and windows, evicting the least recently used windows that no cursor pins.
///
/// Cheap to clone (all clones are the same manager). `Send + Sync`: any number of threads may
/// open cursors and read through them at once (each [`Cursor`] is used by one thread at a time).
#[derive(Clone)]
pub struct WindowManager {
    pub(crate) shared: Arc<Shared>,
}

/// A snapshot of a manager's use of its budgets, and what it has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes mapped now (an upper bound: counted before `mmap`, uncounted after `munmap`).
    pub mapped_bytes: u64,
    /// Of those, bytes inside the files when their windows were mapped (smmap's "mapped memory").
    pub mapped_file_bytes: u64,
    /// Windows mapped now, including ones already evicted from the table that a cursor still pins.
    pub windows: u64,
    /// Windows that some cursor pins now.
    pub pinned_windows: u64,
    /// Descriptors open now.
    pub open_files: u64,
    /// Files the manager knows (those with cursors, windows or a descriptor).
    pub files: u64,
    /// The highest `mapped_bytes`, `windows` and `open_files` ever reached.
    pub peak_mapped_bytes: u64,
    pub peak_windows: u64,
    pub peak_open_files: u64,
    /// Cumulative: windows mapped and unmapped, unmapped to make room, descriptors opened and
    /// closed, `pread` calls.
    pub maps: u64,
    pub unmaps: u64,
    pub evictions: u64,
    pub opens: u64,
    pub closes: u64,
    pub preads: u64,
    /// The budgets, as validated: window size (page multiple), bytes, files, windows (0 = no limit).
    pub window_size: u64,
    pub max_mapped_bytes: u64,
    pub max_open_files: u64,
    pub max_windows: u64,
}

/// One window, as bindings see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowInfo {
    /// Unique for the manager's life; never reused.
    pub id: u64,
    /// File offset of the window's first byte.
    pub offset: u64,
    /// Bytes mapped.
    pub len: u64,
    /// Bytes of the window that lie inside the file, as far as the manager knows its size.
    pub valid: u64,
    /// Cursors pinning it now.
    pub pins: u64,
}

pub(crate) struct Shared {
    pub b: Budgets,
    pub counters: Arc<Counters>,
    pub state: Mutex<State>,
    fd_idle: Condvar,
    fd_waiters: AtomicUsize,
    pub closed: AtomicBool,
    /// The clock of least-recently-used: every use of a window or descriptor takes a tick.
    clock: AtomicU64,
}

pub(crate) struct State {
    pub windows: Table,
    pub files: Vec<Option<FileSlot>>,
    free_files: Vec<usize>,
    by_ident: HashMap<Identity, usize>,
}

/// What the table keeps per file.
pub(crate) struct FileSlot {
    pub node: Arc<FileNode>,
    sources: Vec<Source>,
    fd: Option<Arc<Fd>>,
    /// Windows of this file by start offset.
    pub windows: BTreeMap<u64, usize>,
    pub cursors: usize,
}

/// What cursors keep of their file, readable without the lock.
pub(crate) struct FileNode {
    pub ident: Identity,
    /// The path or descriptor it was first opened by, for messages.
    pub name: String,
    /// Its size as last seen (`fstat` on open, on refresh, and when a read reaches past it).
    pub size: AtomicU64,
    /// Sealed against shrinking (`F_SEAL_SHRINK`): mapped reads can never fault.
    pub no_shrink: AtomicBool,
    /// The inode generation seen at the first open ([`NO_GENERATION`] until then, or if the
    /// file system has none): a reopen that finds another generation found another file.
    pub generation: AtomicU64,
    /// Its index in `State::files`, stable while any cursor lives.
    pub slot: usize,
}

/// An open descriptor of a file, uncounted when closed.
pub(crate) struct Fd {
    fd: RawFd,
    /// Tick of the last use: the least recently used idle descriptor is closed first.
    pub last_use: AtomicU64,
    counters: Arc<Counters>,
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once; nothing uses it any more (every user held
        // an Arc of this value).
        unsafe { libc::close(self.fd) };
        self.counters.remove_file();
        self.counters.closes.fetch_add(1, Relaxed);
    }
}

impl Fd {
    fn new(fd: OwnedFd, counters: Arc<Counters>, tick: u64) -> Fd {
        Fd { fd: fd.into_raw_fd(), last_use: AtomicU64::new(tick), counters }
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor stays open as long as self lives.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }
}

/// A descriptor in use outside the lock. While it lives the descriptor cannot be closed to
/// make room; dropping it wakes threads waiting for a descriptor to become free.
pub(crate) struct FdUse<'a> {
    fd: Option<Arc<Fd>>,
    shared: &'a Shared,
}

impl<'a> FdUse<'a> {
    pub fn new(fd: Arc<Fd>, shared: &'a Shared) -> FdUse<'a> {
        FdUse { fd: Some(fd), shared }
    }

    pub fn arc(&self) -> &Arc<Fd> {
        self.fd.as_ref().expect("descriptor in use")
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_ref().expect("descriptor in use").as_fd()
    }
}

impl Drop for FdUse<'_> {
    fn drop(&mut self) {
        drop(self.fd.take());
        // Pairs with the fence in acquire_fd: either the waiter sees this descriptor idle, or
        // this sees the waiter and wakes it.
        fence(SeqCst);
        if self.shared.fd_waiters.load(SeqCst) > 0 {
            let _g = self.shared.lock();
            self.shared.fd_idle.notify_all();
        }
    }
}

pub(crate) const NO_GENERATION: u64 = u64::MAX;

fn closed_error() -> Error {
    Error::new(crate::ErrorKind::InvalidArgument, "the window manager was closed")
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh tick of the least-recently-used clock.
    pub fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Relaxed) + 1
    }

    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Acquire) {
            return Err(closed_error());
        }
        Ok(())
    }

    /// A descriptor of file `fid`, opening it (and closing the least recently used idle
    /// descriptors to stay in budget) if needed. Waits while every descriptor is in use by a
    /// `pread` of another thread. The lock is released while waiting.
    pub fn acquire_fd<'g>(
        &'g self,
        mut st: MutexGuard<'g, State>,
        fid: usize,
    ) -> Result<(MutexGuard<'g, State>, Arc<Fd>)> {
        loop {
            if self.closed.load(Acquire) {
                return Err(closed_error());
            }
            let tick = self.tick();
            let slot = st.files[fid].as_mut().expect("cursor's file slot");
            if let Some(fd) = &slot.fd {
                fd.last_use.fetch_max(tick, Relaxed);
                let fd = fd.clone();
                return Ok((st, fd));
            }
            if !self.b.file_fits(&self.counters) {
                self.fd_waiters.fetch_add(1, SeqCst);
                fence(SeqCst);
                let victim = st
                    .files
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
                    .filter(|(_, s)| s.fd.as_ref().is_some_and(|f| Arc::strong_count(f) == 1))
                    .min_by_key(|(_, s)| s.fd.as_ref().map_or(0, |f| f.last_use.load(Relaxed)))
                    .map(|(i, _)| i);
                match victim {
                    Some(v) => {
                        self.fd_waiters.fetch_sub(1, SeqCst);
                        st.files[v].as_mut().expect("victim").fd = None;
                        self.maybe_drop_file(&mut st, v);
                    }
                    None => {
                        // Every open descriptor is being read through right now; the timeout
                        // is only a safety net, FdUse::drop wakes us.
                        st = self
                            .fd_idle
                            .wait_timeout(st, Duration::from_millis(20))
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                        self.fd_waiters.fetch_sub(1, SeqCst);
                    }
                }
                continue;
            }
            let slot = st.files[fid].as_mut().expect("cursor's file slot");
            self.counters.add_file();
            let mut err = None;
            let mut opened = None;
            for src in &slot.sources {
                match src.open(&slot.node.ident) {
                    Ok(fd) => {
                        opened = Some(fd);
                        break;
                    }
                    Err(e) => err = Some(e),
                }
            }
            let Some(fd) = opened else {
                self.counters.remove_file();
                return Err(
                    err.unwrap_or_else(|| Error::new(crate::ErrorKind::NotFound, "no way to open the file"))
                );
            };
            self.counters.opens.fetch_add(1, Relaxed);
            if let Some(g) = file::generation(fd.as_fd()) {
                let g = g as u64;
                match slot.node.generation.compare_exchange(NO_GENERATION, g, Relaxed, Relaxed) {
                    Ok(_) => {}
                    Err(seen) if seen == g => {}
                    Err(_) => {
                        drop(fd);
                        self.counters.remove_file();
                        bail!(
                            NotFound,
                            "{} now names another file than the one the cursor opened (it was replaced)",
                            slot.node.name
                        );
                    }
                }
            }
            if file::cannot_shrink(fd.as_fd()) {
                slot.node.no_shrink.store(true, Relaxed);
            }
            let fd = Arc::new(Fd::new(fd, self.counters.clone(), tick));
            slot.fd = Some(fd.clone());
            return Ok((st, fd));
        }
    }

    /// [`acquire_fd`](Self::acquire_fd), releasing the lock: for a `pread` or `fstat` outside it.
    pub fn use_fd(&self, fid: usize) -> Result<FdUse<'_>> {
        let st = self.lock();
        let (st, fd) = self.acquire_fd(st, fid)?;
        drop(st);
        Ok(FdUse { fd: Some(fd), shared: self })
    }

    /// Takes window `i` out of the table; it is unmapped now unless a cursor pins it.
    pub fn drop_window(&self, st: &mut State, i: usize) {
        let w = st.windows.remove(i);
        if let Some(f) = st.files[w.file].as_mut() {
            if f.windows.get(&w.start) == Some(&i) {
                f.windows.remove(&w.start);
            }
        }
        let file = w.file;
        drop(w);
        self.maybe_drop_file(st, file);
    }

    /// Evicts least recently used unpinned windows until `len` more bytes in one more window
    /// fit the budgets. False if pinned windows leave no way to make room.
    pub fn make_room(&self, st: &mut State, len: u64) -> bool {
        while !self.b.window_fits(&self.counters, len) {
            match st.windows.lru_unpinned() {
                Some(i) => {
                    self.drop_window(st, i);
                    self.counters.evictions.fetch_add(1, Relaxed);
                }
                None => return false,
            }
        }
        true
    }

    /// Maps `len` bytes of file `fid` from `start`, making room when `may_evict`. `Ok(None)`
    /// when the budgets have no room (or, without `may_evict`, no free room).
    pub fn map_window<'g>(
        &'g self,
        st: MutexGuard<'g, State>,
        fid: usize,
        start: u64,
        len: u64,
        may_evict: bool,
    ) -> Result<(MutexGuard<'g, State>, Option<usize>)> {
        // The descriptor first: getting it may wait and release the lock.
        let (mut st, fd) = self.acquire_fd(st, fid)?;
        // A shorter window at the same start (mapped before the file grew) leaves the table.
        if let Some(&old) = st.files[fid].as_ref().expect("file").windows.get(&start) {
            self.drop_window(&mut st, old);
        }
        let fits =
            if may_evict { self.make_room(&mut st, len) } else { self.b.window_fits(&self.counters, len) };
        if !fits {
            return Ok((st, None));
        }
        let size = st.files[fid].as_ref().expect("file").node.size.load(Relaxed);
        let file_bytes = size.saturating_sub(start).min(len);
        let map = match Mapping::new(fd.as_fd(), start, len as usize, file_bytes, &self.counters) {
            Ok(m) => m,
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => return Ok((st, None)),
            Err(e) => {
                let name = st.files[fid].as_ref().expect("file").node.name.clone();
                return Err(Error::os(format_args!("mmap {len} bytes at {start} of {name}"), e));
            }
        };
        let i = st.windows.insert(fid, start, Arc::new(map), self.tick());
        st.files[fid].as_mut().expect("file").windows.insert(start, i);
        Ok((st, Some(i)))
    }

    /// The window of file `fid` holding bytes `[b, e)`, if one is mapped.
    pub fn find_window(&self, st: &State, fid: usize, b: u64, e: u64) -> Option<usize> {
        let f = st.files[fid].as_ref()?;
        f.windows.range(..=b).rev().take(2).map(|(_, &i)| i).find(|&i| {
            let w = st.windows.get(i).expect("listed window");
            w.start <= b && e <= w.end()
        })
    }

    /// Forgets file `fid` once nothing of it is left: no cursor, window or descriptor. With
    /// no cursor left its descriptor is closed (if idle): windows alone need none.
    pub fn maybe_drop_file(&self, st: &mut State, fid: usize) {
        let Some(f) = st.files[fid].as_mut() else { return };
        if f.cursors > 0 {
            return;
        }
        if f.fd.as_ref().is_some_and(|fd| Arc::strong_count(fd) == 1) {
            f.fd = None;
        }
        if f.windows.is_empty() && f.fd.is_none() {
            let ident = f.node.ident;
            st.files[fid] = None;
            st.free_files.push(fid);
            if st.by_ident.get(&ident) == Some(&fid) {
                st.by_ident.remove(&ident);
            }
        }
    }

    pub fn window_info(&self, st: &State, i: usize) -> WindowInfo {
        let w = st.windows.get(i).expect("window");
        let size = st.files[w.file].as_ref().map_or(0, |f| f.node.size.load(Relaxed));
        WindowInfo {
            id: w.id,
            offset: w.start,
            len: w.map.len(),
            valid: size.saturating_sub(w.start).min(w.map.len()),
            pins: Arc::strong_count(&w.map) as u64 - 1,
        }
    }
}

impl WindowManager {
    /// A manager with the given budgets (see [`WindowConfig`]); `InvalidArgument` when they
    /// contradict each other.
    pub fn new(config: WindowConfig) -> Result<WindowManager> {
        let b = Budgets::new(&config, crate::sys::page_size() as u64)?;
        Ok(WindowManager {
            shared: Arc::new(Shared {
                b,
                counters: Arc::new(Counters::default()),
                state: Mutex::new(State {
                    windows: Table::new(),
                    files: Vec::new(),
                    free_files: Vec::new(),
                    by_ident: HashMap::new(),
                }),
                fd_idle: Condvar::new(),
                fd_waiters: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
                clock: AtomicU64::new(0),
            }),
        })
    }

    /// A cursor over the file at `path`. `kind` says what the file is ([`Kind::Auto`] sniffs
    /// it); `dtype` is the element type of a raw file (0 = u8) or, for `.npy` and mba files,
    /// 0 or the dtype the file must hold; `offset` is where a raw file's elements start.
    /// Raw files are only `stat`ed here; `.npy` and mba files are opened to read the header.
    pub fn open(&self, path: impl AsRef<Path>, kind: Kind, dtype: u32, offset: u64) -> Result<Cursor> {
        let path = path.as_ref();
        let st = file::stat_path(path).map_err(|e| Error::os(format_args!("stat {}", path.display()), e))?;
        self.open_source(Source::Path(path.to_path_buf()), st, kind, dtype, offset)
    }

    /// A cursor over the file open as `fd`, which the caller keeps open while the cursor
    /// is used: the manager duplicates it when it needs a descriptor, and closes only its
    /// duplicates. Arguments as for [`open`](Self::open).
    pub fn open_fd(&self, fd: RawFd, kind: Kind, dtype: u32, offset: u64) -> Result<Cursor> {
        if fd < 0 {
            bail!(InvalidArgument, "file descriptor {fd} is negative");
        }
        let st = file::stat_fd(fd).map_err(|e| Error::os(format_args!("fstat descriptor {fd}"), e))?;
        self.open_source(Source::Fd(fd), st, kind, dtype, offset)
    }

    fn open_source(
        &self,
        src: Source,
        stat: file::Stat,
        kind: Kind,
        dtype: u32,
        offset: u64,
    ) -> Result<Cursor> {
        let sh = &self.shared;
        sh.check_open()?;
        let name = src.describe();
        if !stat.regular {
            bail!(InvalidArgument, "{name} is not a regular file");
        }
        let raw = kind == Kind::Raw;
        let geo = if raw { Some(Geometry::raw(dtype, offset)?) } else { None };
        let node = {
            let mut st = sh.lock();
            // A known file is shared only while the manager holds something of it (a
            // descriptor or a window), which keeps its inode from being freed and its number
            // reused: otherwise this may be another file with the same number.
            let known = st.by_ident.get(&stat.ident).copied().filter(|&f| {
                let f = st.files[f].as_ref().expect("listed file");
                f.fd.is_some() || !f.windows.is_empty()
            });
            let fid = match known {
                Some(f) => f,
                None => {
                    let node = |slot| {
                        Arc::new(FileNode {
                            ident: stat.ident,
                            name: name.clone(),
                            size: AtomicU64::new(stat.size),
                            no_shrink: AtomicBool::new(false),
                            generation: AtomicU64::new(NO_GENERATION),
                            slot,
                        })
                    };
                    let fid = st.free_files.pop().unwrap_or(st.files.len());
                    let slot = FileSlot {
                        node: node(fid),
                        sources: Vec::new(),
                        fd: None,
                        windows: BTreeMap::new(),
                        cursors: 0,
                    };
                    if fid == st.files.len() {
                        st.files.push(Some(slot));
                    } else {
                        st.files[fid] = Some(slot);
                    }
                    st.by_ident.insert(stat.ident, fid);
                    fid
                }
            };
            let f = st.files[fid].as_mut().expect("file");
            if !f.sources.contains(&src) {
                f.sources.push(src);
            }
            f.cursors += 1;
            f.node.size.store(stat.size, Relaxed);
            f.node.clone()
        };
        // From here the cursor's Drop gives the slot back on every error path.
        let mut c = Cursor::new(sh.clone(), node, geo.unwrap_or(Geometry::raw(2, 0)?));
        if raw {
            // Raw files are not opened until read: the size from stat gives the length.
            c.set_len_from_size(stat.size);
        } else {
            let g = {
                let fd = sh.use_fd(c.node.slot)?;
                Geometry::probe(fd.fd(), kind, dtype, offset, &c.node.name)?
            };
            c.geo = g;
            c.refresh()?;
        }
        Ok(c)
    }

    /// Usage of the budgets now, and the cumulative figures.
    pub fn stats(&self) -> Stats {
        let sh = &self.shared;
        let c = &sh.counters;
        let (pinned, files) = {
            let st = sh.lock();
            let pinned = st
                .windows
                .lru_order()
                .into_iter()
                .filter(|&i| st.windows.get(i).is_some_and(|w| w.pinned()))
                .count();
            (pinned as u64, st.files.iter().filter(|f| f.is_some()).count() as u64)
        };
        Stats {
            mapped_bytes: c.mapped_bytes.load(Relaxed),
            mapped_file_bytes: c.mapped_file_bytes.load(Relaxed),
            windows: c.windows.load(Relaxed),
            pinned_windows: pinned,
            open_files: c.open_files.load(Relaxed),
            files,
            peak_mapped_bytes: c.peak_mapped_bytes.load(Relaxed),
            peak_windows: c.peak_windows.load(Relaxed),
            peak_open_files: c.peak_open_files.load(Relaxed),
            maps: c.maps.load(Relaxed),
            unmaps: c.unmaps.load(Relaxed),
            evictions: c.evictions.load(Relaxed),
            opens: c.opens.load(Relaxed),
            closes: c.closes.load(Relaxed),
            preads: c.preads.load(Relaxed),
            window_size: if sh.b.whole_files { 0 } else { sh.b.window },
            max_mapped_bytes: sh.b.max_mapped,
            max_open_files: sh.b.max_files,
            max_windows: if sh.b.max_windows == u64::MAX { 0 } else { sh.b.max_windows },
        }
    }

    /// Just the live figures (mapped bytes, windows, open files), without taking the lock.
    pub fn usage(&self) -> (u64, u64, u64) {
        let c = &self.shared.counters;
        (c.mapped_bytes.load(Relaxed), c.windows.load(Relaxed), c.open_files.load(Relaxed))
    }

    /// Unmaps least recently used unpinned windows until `need_bytes` more bytes (in one more
    /// window) would fit; with `need_bytes == 0`, unmaps every unpinned window. Returns how
    /// many windows were unmapped.
    pub fn trim(&self, need_bytes: u64) -> u64 {
        let sh = &self.shared;
        let mut st = sh.lock();
        let mut n = 0;
        if need_bytes == 0 {
            for i in st.windows.lru_order() {
                if !st.windows.get(i).expect("window").pinned() {
                    sh.drop_window(&mut st, i);
                    n += 1;
                }
            }
        } else {
            while !sh.b.window_fits(&sh.counters, need_bytes) {
                let Some(i) = st.windows.lru_unpinned() else { break };
                sh.drop_window(&mut st, i);
                n += 1;
            }
        }
        sh.counters.evictions.fetch_add(n, Relaxed);
        n
    }

    /// Unmaps every window no cursor pins and closes every descriptor no read is using at this
    /// moment. Returns how many windows were unmapped.
    pub fn collect(&self) -> u64 {
        let n = self.trim(0);
        let sh = &self.shared;
        let mut st = sh.lock();
        for fid in 0..st.files.len() {
            if let Some(f) = st.files[fid].as_mut() {
                if f.fd.as_ref().is_some_and(|fd| Arc::strong_count(fd) == 1) {
                    f.fd = None;
                }
            }
            sh.maybe_drop_file(&mut st, fid);
        }
        n
    }

    /// Releases everything: every window is taken out of the table (and unmapped, unless a
    /// cursor pins it: then when that cursor lets go) and every descriptor closed (one in use
    /// by a read at this moment when that read ends). Afterwards cursors fail every call but
    /// `drop`, and no cursor can be opened. `Busy` if some windows were still pinned.
    pub fn close(&self) -> Result<()> {
        let sh = &self.shared;
        sh.closed.store(true, Release);
        let mut st = sh.lock();
        let mut pinned = 0;
        for i in st.windows.lru_order() {
            if st.windows.get(i).expect("window").pinned() {
                pinned += 1;
            }
            sh.drop_window(&mut st, i);
        }
        for fid in 0..st.files.len() {
            if let Some(f) = st.files[fid].as_mut() {
                f.fd = None;
            }
            sh.maybe_drop_file(&mut st, fid);
        }
        sh.fd_idle.notify_all();
        if pinned > 0 {
            bail!(
                Busy,
                "{pinned} windows are still pinned by cursors; each is unmapped when its cursor lets go of it"
            );
        }
        Ok(())
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Acquire)
    }

    /// The window with id `id`, if it is still in the table.
    pub fn window(&self, id: u64) -> Option<WindowInfo> {
        let st = self.shared.lock();
        st.windows.find_id(id).map(|i| self.shared.window_info(&st, i))
    }

    /// Every window in the table, least recently used first.
    pub fn windows(&self) -> Vec<WindowInfo> {
        let st = self.shared.lock();
        st.windows.lru_order().into_iter().map(|i| self.shared.window_info(&st, i)).collect()
    }
}

impl std::fmt::Debug for WindowManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowManager")
            .field("budgets", &self.shared.b)
            .field("usage", &self.usage())
            .finish()
    }
}
