//! The windowed reader (`mba::window`): reads checked against the files' bytes, budgets
//! checked after every call (and against the process's real memory map and descriptors),
//! LRU eviction, growth, threads, and files deleted or truncated under live cursors.

mod common;
use common::TempDir;
use mba::window::{Cursor, Kind, WindowConfig, WindowManager};
use mba::ErrorKind;
use std::io::Write;
use std::path::{Path, PathBuf};

/// xorshift64*: reproducible random numbers without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn page() -> u64 {
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as u64 }
}

/// Mappings and descriptors of files under `dir` that this process really has, from /proc.
fn real_usage(dir: &Path) -> (u64, u64) {
    let d = dir.to_str().unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mut bytes = 0;
    for line in maps.lines() {
        if line.contains(d) {
            let range = line.split_whitespace().next().unwrap();
            let (a, b) = range.split_once('-').unwrap();
            bytes += u64::from_str_radix(b, 16).unwrap() - u64::from_str_radix(a, 16).unwrap();
        }
    }
    let mut fds = 0;
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(e.path()) {
            if target.to_string_lossy().starts_with(d) {
                fds += 1;
            }
        }
    }
    (bytes, fds)
}

fn assert_in_budget(m: &WindowManager, cfg: &WindowConfig, when: &str) {
    let (bytes, windows, files) = m.usage();
    assert!(bytes <= cfg.max_mapped_bytes, "{when}: {bytes} bytes mapped, budget {}", cfg.max_mapped_bytes);
    assert!(files <= cfg.max_open_files, "{when}: {files} files open, budget {}", cfg.max_open_files);
    if cfg.max_windows > 0 {
        assert!(windows <= cfg.max_windows, "{when}: {windows} windows, budget {}", cfg.max_windows);
    }
}

/// A file of random bytes read as elements of `dtype` from `offset`.
struct Spec {
    path: PathBuf,
    bytes: Vec<u8>,
    dtype: u32,
    itemsize: u64,
    offset: u64,
}

fn itemsize(dtype: u32) -> u64 {
    [0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 1, 2, 8, 16][dtype as usize]
}

/// Files of random bytes totalling `total`, with several dtypes and odd offsets (so elements
/// straddle window boundaries).
fn random_files(dir: &Path, rng: &mut Rng, total: u64) -> Vec<Spec> {
    let kinds = [(2, 0), (4, 3), (6, 0), (10, 8), (14, 0), (3, 1)];
    let each = total / kinds.len() as u64;
    kinds
        .iter()
        .enumerate()
        .map(|(i, &(dtype, offset))| {
            let size = each + rng.below(page() * 3);
            let path = dir.join(format!("f{i}.bin"));
            let bytes = rng.bytes(size as usize);
            write_file(&path, &bytes);
            Spec { path, bytes, dtype, itemsize: itemsize(dtype), offset }
        })
        .collect()
}

/// One random read or borrow of `spec` through `c`, checked against the file's bytes.
fn random_access(rng: &mut Rng, c: &mut Cursor, spec: &Spec, max_elems: u64, keep_borrows: bool) {
    let n_elems = (spec.bytes.len() as u64 - spec.offset) / spec.itemsize;
    let count = 1 + rng.below(max_elems.min(n_elems));
    let index = rng.below(n_elems - count + 1);
    let b = (spec.offset + index * spec.itemsize) as usize;
    let want = &spec.bytes[b..b + (count * spec.itemsize) as usize];
    if rng.below(4) == 0 {
        let p = c.pin(index, count).unwrap();
        assert!(p.count >= 1 && p.count <= count);
        let got = unsafe { std::slice::from_raw_parts(p.ptr, (p.count * spec.itemsize) as usize) };
        assert_eq!(got, &want[..got.len()], "borrow of {count} at {index} in {}", spec.path.display());
        if !keep_borrows {
            c.unpin();
        }
    } else {
        let mut got = vec![0u8; want.len()];
        c.read_bytes(index, &mut got).unwrap();
        assert_eq!(got, want, "read of {count} at {index} in {}", spec.path.display());
    }
}

/// 400,000 random typed reads and borrows over six files of random data totalling four
/// times the memory budget, every one checked against the files' bytes; the budgets are
/// checked after every call, and against /proc every 1,000 calls; the peaks at the end.
#[test]
fn random_reads_over_four_times_the_budget_stay_in_budget() {
    let dir = TempDir::new("window-random");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let budget = 64 * page();
    let specs = random_files(&dir.0, &mut rng, 4 * budget);
    for (mapped_reads, calls) in [(true, 280_000), (false, 120_000)] {
        let cfg = WindowConfig {
            window_size: 4 * page(),
            max_mapped_bytes: budget,
            max_open_files: 3,
            max_windows: 12,
            mapped_reads,
        };
        let m = WindowManager::new(cfg).unwrap();
        let mut cursors: Vec<Cursor> =
            specs.iter().map(|s| m.open(&s.path, Kind::Raw, s.dtype, s.offset).unwrap()).collect();
        for call in 0..calls {
            let f = rng.below(specs.len() as u64) as usize;
            random_access(&mut rng, &mut cursors[f], &specs[f], 3 * page(), true);
            assert_in_budget(&m, &cfg, &format!("call {call}"));
            if call % 1000 == 0 {
                let (bytes, fds) = real_usage(&dir.0);
                assert!(bytes <= budget, "call {call}: /proc/self/maps shows {bytes} bytes of our files");
                assert!(fds <= 3, "call {call}: /proc/self/fd shows {fds} of our files");
            }
        }
        let s = m.stats();
        assert!(s.peak_mapped_bytes <= budget && s.peak_open_files <= 3 && s.peak_windows <= 12, "{s:?}");
        assert!(s.evictions > 0 && s.closes > 0, "the budgets were really exercised: {s:?}");
        if mapped_reads {
            assert!(s.maps > 100, "{s:?}");
        } else {
            assert!(s.preads > 40_000, "{s:?}");
        }
        drop(cursors);
        assert_eq!(m.usage().2, 0, "dropping every cursor closes every descriptor");
        m.collect();
        assert_eq!(m.usage(), (0, 0, 0), "collect unmaps the windows left cached");
    }
}

#[test]
fn reads_cross_windows_and_typed_reads_check_the_dtype() {
    let dir = TempDir::new("window-cross");
    let path = dir.0.join("u32.bin");
    let vals: Vec<u32> = (0..100_000u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
    write_file(&path, &vals.iter().flat_map(|v| v.to_ne_bytes()).collect::<Vec<_>>());
    for mapped_reads in [false, true] {
        let m = WindowManager::new(WindowConfig {
            window_size: page(),
            max_mapped_bytes: 4 * page(),
            mapped_reads,
            ..Default::default()
        })
        .unwrap();
        let mut c = m.open(&path, Kind::Raw, 6, 0).unwrap();
        assert_eq!(c.len(), 100_000);
        // The whole file in one read: 100 windows' worth through a 4-window budget.
        assert_eq!(c.read_vec::<u32>(0, 100_000).unwrap(), vals);
        assert_eq!(c.read_vec::<u32>(1000, 3000).unwrap(), &vals[1000..4000]);
        assert_eq!(c.read::<f32>(0, &mut [0.0]).unwrap_err().kind(), ErrorKind::TypeMismatch);
        assert_eq!(c.read_vec::<u32>(99_999, 2).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(c.read_vec::<u32>(u64::MAX, 2).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert!(m.usage().0 <= 4 * page());
    }
}

/// A file of ten pages of `byte` in a new directory, and a manager whose budget holds three
/// one-page windows.
fn three_windows_over_ten_pages(name: &str, byte: u8) -> (TempDir, PathBuf, WindowManager) {
    let dir = TempDir::new(name);
    let path = dir.0.join("f.bin");
    write_file(&path, &vec![byte; (10 * page()) as usize]);
    let cfg = WindowConfig { window_size: page(), max_mapped_bytes: 3 * page(), ..Default::default() };
    (dir, path, WindowManager::new(cfg).unwrap())
}

#[test]
fn least_recently_used_unpinned_window_is_evicted_first() {
    let (_dir, path, m) = three_windows_over_ten_pages("window-lru", 7);
    let mut a = m.open(&path, Kind::Raw, 0, 0).unwrap();
    let mut b = a.try_clone().unwrap();
    let p = page();
    // Windows 0, 1, 2; then 0 used again: the LRU order is 1, 2, 0.
    for w in [0, 1, 2, 0] {
        a.pin(w * p, 1).unwrap();
    }
    a.unpin();
    let offsets = |m: &WindowManager| m.windows().iter().map(|w| w.offset / p).collect::<Vec<_>>();
    assert_eq!(offsets(&m), vec![1, 2, 0]);
    // b pins window 1 (the LRU): mapping window 3 must evict window 2, the LRU unpinned one.
    b.pin(p, 1).unwrap();
    a.pin(3 * p, 1).unwrap();
    assert_eq!(offsets(&m), vec![0, 1, 3]);
    assert_eq!(m.stats().evictions, 1);
    // Everything pinned: a third cursor cannot map, and says why; a read falls back to pread.
    let mut c = a.try_clone().unwrap();
    a.pin(3 * p, 1).unwrap();
    let mut d = m.open(&path, Kind::Raw, 0, 0).unwrap();
    d.pin(0, 1).unwrap();
    let e = c.pin(5 * p, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.message().contains("pinned"), "{e}");
    assert_eq!(c.read_vec::<u8>(5 * p, 10).unwrap(), vec![7u8; 10]);
    assert_eq!(m.usage().0, 3 * p);
    // A read leaves the reading cursor's own borrow in place (mba.h, WINDOW.md): a reads
    // elsewhere, and still pins window 3, whose pointer the C ABI says stays valid.
    assert_eq!(a.read_vec::<u8>(0, 10).unwrap(), vec![7u8; 10]);
    assert_eq!(a.window().map(|w| w.offset / p), Some(3));
    assert_eq!(c.pin(5 * p, 1).unwrap_err().kind(), ErrorKind::Busy, "window 3 is still pinned");
}

#[test]
fn a_borrow_asking_for_every_element_under_a_full_budget_is_mapped_in_bounds() {
    // pin(index, u64::MAX) at random under a full budget sizes its window from index + count:
    // that sum overflowed (a panic in a debug build, MBA_ERR_PANIC through the C ABI).
    let (_dir, path, m) = three_windows_over_ten_pages("window-huge-count", 3);
    let mut a = m.open(&path, Kind::Raw, 0, 0).unwrap();
    for w in [0, 2, 4] {
        a.pin(w * page(), 1).unwrap();
    }
    a.unpin();
    let p = a.pin(7 * page() + 5, u64::MAX).unwrap();
    assert!(p.count >= 1 && p.count <= 3 * page() - 5, "{}", p.count);
    assert!(m.usage().0 <= 3 * page());
}

#[test]
fn growth_is_seen_on_demand_for_raw_files() {
    let dir = TempDir::new("window-grow");
    let path = dir.0.join("grow.bin");
    write_file(&path, &1u64.to_ne_bytes());
    for mapped_reads in [false, true] {
        let m = WindowManager::new(WindowConfig { mapped_reads, ..Default::default() }).unwrap();
        let mut c = m.open(&path, Kind::Raw, 8, 0).unwrap();
        let start = c.len();
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        for i in 0..3000u64 {
            f.write_all(&(start + i + 1).to_ne_bytes()).unwrap();
            // Each new element is read at once: the read past the known length refreshes.
            assert_eq!(c.read_vec::<u64>(start + i, 1).unwrap(), vec![start + i + 1]);
            if i % 500 == 0 {
                let p = c.pin(start + i, 0).unwrap();
                assert_eq!(p.count, 1, "the borrow ends at the file's end");
            }
        }
        assert_eq!(c.len(), start + 3000);
        assert_eq!(c.file_size(true).unwrap(), (start + 3000) * 8);
    }
}

#[test]
fn mba_arrays_read_at_their_data_offset_with_their_live_length() {
    let name = common::Name::new("window-mba");
    let a = mba::Array::create(name.uri(), mba::Dtype::U32, 4, common::rw()).unwrap();
    for i in 0..1000u32 {
        a.push(i * 3).unwrap();
    }
    let m = WindowManager::new(WindowConfig::default()).unwrap();
    let mut c = m.open(name.path(), Kind::Auto, 0, 0).unwrap();
    let info = c.info();
    assert_eq!((info.kind, info.dtype, info.len, info.data_offset), (Kind::Mba, 6, 1000, 4096));
    assert!(info.file_size > 1000 * 4 + 4096, "spare capacity lies beyond len");
    assert_eq!(c.read_vec::<u32>(0, 1000).unwrap(), (0..1000).map(|i| i * 3).collect::<Vec<_>>());
    // Elements past len are not readable, though the file holds room for them.
    assert_eq!(c.read_vec::<u32>(1000, 1).unwrap_err().kind(), ErrorKind::OutOfBounds);
    for i in 1000..200_000u32 {
        a.push(i * 3).unwrap();
    }
    assert_eq!(c.read_vec::<u32>(199_999, 1).unwrap(), vec![599_997], "growth is seen");
    assert_eq!(m.open(name.path(), Kind::Mba, 10, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(m.open(name.path(), Kind::Mba, 0, 8).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

fn npy_file(path: &Path, dtype: u32, shape: &[u64], data: &[u8]) {
    let mut bytes = mba::npy::write_header(dtype, shape, true).unwrap();
    bytes.extend_from_slice(data);
    write_file(path, &bytes);
}

#[test]
fn npy_files_read_after_their_header_in_either_byte_order() {
    let dir = TempDir::new("window-npy");
    let path = dir.0.join("a.npy");
    let vals: Vec<f64> = (0..600).map(|i| i as f64 * 0.5).collect();
    npy_file(&path, 10, &[200, 3], &vals.iter().flat_map(|v| v.to_ne_bytes()).collect::<Vec<_>>());
    let m = WindowManager::new(WindowConfig::default()).unwrap();
    let mut c = m.open(&path, Kind::Auto, 0, 0).unwrap();
    let i = c.info();
    assert_eq!((i.kind, i.dtype, i.len, i.ndim, i.shape[0], i.shape[1]), (Kind::Npy, 10, 600, 2, 200, 3));
    assert_eq!(c.read_vec::<f64>(0, 600).unwrap(), vals);

    // A big-endian file (as numpy writes with dtype '>u4'): typed reads swap, borrows do not.
    let be = dir.0.join("be.npy");
    let mut h = mba::npy::write_header(6, &[5], false).unwrap();
    let text = String::from_utf8_lossy(&h).into_owned();
    assert!(text.contains("'<u4'") || cfg!(target_endian = "big"));
    let pos = h.windows(4).position(|w| w == b"'<u4").unwrap();
    h[pos + 1] = b'>';
    for v in [1u32, 2, 3, 0xDEADBEEF, 5] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    write_file(&be, &h);
    let mut c = m.open(&be, Kind::Npy, 6, 0).unwrap();
    assert!(c.info().byteswapped);
    assert_eq!(c.read_vec::<u32>(0, 5).unwrap(), vec![1, 2, 3, 0xDEADBEEF, 5]);
    let p = c.pin(3, 1).unwrap();
    assert_eq!(unsafe { std::slice::from_raw_parts(p.ptr, 4) }, 0xDEADBEEFu32.to_be_bytes());

    // Refusals name what is refused.
    let f = dir.0.join("f.npy");
    let mut h = mba::npy::write_header(10, &[2, 2], false).unwrap();
    let pos = h.windows(5).position(|w| w == b"False").unwrap();
    h.splice(pos..pos + 5, b"True ".iter().copied());
    h.extend_from_slice(&[0u8; 32]);
    write_file(&f, &h);
    let e = m.open(&f, Kind::Npy, 0, 0).unwrap_err();
    assert!(e.message().contains("Fortran order"), "{e}");
}

#[test]
fn npy_growth_is_seen_after_the_shape_is_rewritten() {
    let dir = TempDir::new("window-npy-grow");
    let path = dir.0.join("g.npy");
    npy_file(&path, 5, &[1, 2], &[1, 0, 0, 0, 2, 0, 0, 0]);
    let m = WindowManager::new(WindowConfig::default()).unwrap();
    let mut c = m.open(&path, Kind::Npy, 5, 0).unwrap();
    assert_eq!(c.len(), 2);
    // Append a row, then rewrite the header's shape in place.
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[3, 0, 0, 0, 4, 0, 0, 0]).unwrap();
    assert_eq!(
        c.read_vec::<i32>(2, 2).unwrap_err().kind(),
        ErrorKind::OutOfBounds,
        "the header still says 1 row"
    );
    let old = std::fs::read(&path).unwrap();
    let hl = c.info().data_offset as usize;
    let new = mba::npy::rewrite_shape(&old[..hl], &[2, 2]).unwrap();
    std::os::unix::fs::FileExt::write_all_at(
        &std::fs::File::options().write(true).open(&path).unwrap(),
        &new,
        0,
    )
    .unwrap();
    assert_eq!(c.read_vec::<i32>(2, 2).unwrap(), vec![3, 4]);
    assert_eq!(c.info().shape[0], 2);
}

#[test]
fn file_deleted_or_truncated_under_a_live_cursor_gives_errors_not_sigbus() {
    let dir = TempDir::new("window-delete");
    let path = dir.0.join("d.bin");
    let data: Vec<u8> = (0..(8 * page())).map(|i| i as u8).collect();
    write_file(&path, &data);
    let m = WindowManager::new(WindowConfig { window_size: page(), ..Default::default() }).unwrap();
    let mut c = m.open(&path, Kind::Raw, 0, 0).unwrap();
    let mut w = c.try_clone().unwrap();
    assert_eq!(c.read_vec::<u8>(10, 3).unwrap(), vec![10, 11, 12]);
    let p = w.pin(page(), 10).unwrap();
    let ptr = p.ptr;
    std::fs::remove_file(&path).unwrap();
    // Deleting cuts nothing: the descriptor and the borrowed window still read the file.
    assert_eq!(c.read_vec::<u8>(5 * page(), 1).unwrap(), vec![data[5 * page() as usize]]);
    assert_eq!(unsafe { ptr.read_volatile() }, data[page() as usize]);
    // Once the manager had to let the descriptor go, the deleted file cannot be reopened.
    w.unpin();
    m.collect();
    assert_eq!(m.usage(), (0, 0, 0));
    let e = c.read_vec::<u8>(0, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.message().contains("deleted"), "{e}");
    // A path that now names another file is refused too: no silent switch to other data.
    write_file(&path, &[1, 2, 3]);
    let e = c.read_vec::<u8>(0, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.message().contains("replaced") || e.message().contains("another file"), "{e}");

    // Truncation under a live cursor without mapped reads: errors, never SIGBUS.
    let path = dir.0.join("t.bin");
    write_file(&path, &data);
    let mut c = m.open(&path, Kind::Raw, 0, 0).unwrap();
    assert_eq!(c.read_vec::<u8>(7 * page(), 1).unwrap(), vec![data[7 * page() as usize]]);
    c.pin(6 * page(), 1).unwrap();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(2 * page()).unwrap();
    let e = c.read_vec::<u8>(7 * page(), 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfBounds, "{e}");
    assert!(c.read_vec::<u8>(3 * page(), 1).is_err());
    // A borrow re-checks the size: the cut part is never lent.
    assert_eq!(c.pin(6 * page(), 1).err().map(|e| e.kind()), Some(ErrorKind::OutOfBounds));
    let p = c.pin(page(), 0).unwrap();
    assert_eq!(p.count, page(), "the borrow stops at the new end of the file");
    assert_eq!(c.read_vec::<u8>(0, 2).unwrap(), vec![0, 1]);
}

#[test]
fn descriptors_given_by_the_caller_are_duplicated_never_closed() {
    use std::os::fd::AsRawFd;
    let dir = TempDir::new("window-fd");
    let path = dir.0.join("fd.bin");
    write_file(&path, &[9u8; 100]);
    let f = std::fs::File::open(&path).unwrap();
    let m = WindowManager::new(WindowConfig::default()).unwrap();
    let mut c = m.open_fd(f.as_raw_fd(), Kind::Raw, 0, 0).unwrap();
    assert_eq!(c.read_vec::<u8>(99, 1).unwrap(), vec![9]);
    m.close().unwrap();
    assert_eq!(c.read_vec::<u8>(0, 1).unwrap_err().message(), "the window manager was closed");
    drop(c);
    // Still ours and open.
    assert!(unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFD) } >= 0);
    assert_eq!(m.open_fd(-1, Kind::Raw, 0, 0).err().map(|e| e.kind()), Some(ErrorKind::InvalidArgument));
}

#[test]
fn close_releases_everything_not_pinned_and_reports_pins() {
    let dir = TempDir::new("window-close");
    let path = dir.0.join("c.bin");
    write_file(&path, &vec![1u8; (4 * page()) as usize]);
    let m =
        WindowManager::new(WindowConfig { window_size: page(), mapped_reads: true, ..Default::default() })
            .unwrap();
    let mut a = m.open(&path, Kind::Raw, 0, 0).unwrap();
    let mut b = a.try_clone().unwrap();
    a.read_vec::<u8>(0, 4 * page()).unwrap();
    a.unpin();
    let ptr = b.pin(2 * page(), 1).unwrap().ptr;
    assert_eq!(m.stats().windows, 4);
    let e = m.close().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    // Only the pinned window is left, and it still reads.
    assert_eq!(m.usage(), (page(), 1, 0));
    assert_eq!(unsafe { ptr.read_volatile() }, 1);
    assert!(a.read_vec::<u8>(0, 1).is_err() && m.open(&path, Kind::Raw, 0, 0).is_err());
    drop(b);
    assert_eq!(m.usage(), (0, 0, 0));
    drop(a);
    assert_eq!(m.stats().files, 0);
}

#[test]
fn open_refuses_what_it_cannot_read() {
    let dir = TempDir::new("window-refuse");
    let m = WindowManager::new(WindowConfig::default()).unwrap();
    assert_eq!(m.open(&dir.0, Kind::Raw, 0, 0).err().map(|e| e.kind()), Some(ErrorKind::InvalidArgument));
    assert_eq!(
        m.open(dir.0.join("none"), Kind::Raw, 0, 0).err().map(|e| e.kind()),
        Some(ErrorKind::NotFound)
    );
    let p = dir.0.join("x");
    write_file(&p, b"not an array at all");
    assert_eq!(m.open(&p, Kind::Mba, 0, 0).err().map(|e| e.kind()), Some(ErrorKind::Corrupt));
    assert_eq!(m.open(&p, Kind::Npy, 0, 0).err().map(|e| e.kind()), Some(ErrorKind::Corrupt));
    assert_eq!(m.open(&p, Kind::Raw, 99, 0).err().map(|e| e.kind()), Some(ErrorKind::InvalidArgument));
    assert_eq!(m.open(&p, Kind::Auto, 0, 0).unwrap().info().kind, Kind::Raw);
    for bad in [
        WindowConfig { max_open_files: 0, ..Default::default() },
        WindowConfig { window_size: 2 << 30, ..Default::default() },
    ] {
        assert_eq!(WindowManager::new(bad).err().map(|e| e.kind()), Some(ErrorKind::InvalidArgument));
    }
    assert_eq!(m.stats().files, 0, "failed opens leave nothing behind");
}

/// Eight threads with cursors on the same manager and files read and borrow at random; every
/// result is checked and the budgets hold after every call of every thread.
#[test]
fn many_threads_share_one_manager() {
    let dir = TempDir::new("window-threads");
    let mut rng = Rng(42);
    let budget = 32 * page();
    let specs = std::sync::Arc::new(random_files(&dir.0, &mut rng, 4 * budget));
    for mapped_reads in [true, false] {
        let cfg = WindowConfig {
            window_size: 2 * page(),
            max_mapped_bytes: budget,
            max_open_files: 2,
            max_windows: 0,
            mapped_reads,
        };
        let m = WindowManager::new(cfg).unwrap();
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (m, specs) = (m.clone(), specs.clone());
                s.spawn(move || {
                    let mut rng = Rng(1000 + t);
                    let mut cursors: Vec<Cursor> = specs
                        .iter()
                        .map(|s| m.open(&s.path, Kind::Raw, s.dtype, s.offset).unwrap())
                        .collect();
                    for _ in 0..20_000 {
                        let f = rng.below(specs.len() as u64) as usize;
                        random_access(&mut rng, &mut cursors[f], &specs[f], page(), false);
                        assert_in_budget(&m, &cfg, "thread");
                        if rng.below(50) == 0 {
                            cursors[f].unpin();
                        }
                    }
                });
            }
        });
        let s = m.stats();
        assert!(s.peak_mapped_bytes <= budget && s.peak_open_files <= 2, "{s:?}");
        m.collect();
        assert_eq!(m.usage(), (0, 0, 0), "{s:?}");
    }
}

/// tests/c/window.c (the C API: reads, borrows, errors, growth, deletion, truncation) under
/// AddressSanitizer + UndefinedBehaviorSanitizer and under Valgrind: zero reports.
#[test]
fn c_windowed_reader_is_clean_under_asan_ubsan_and_valgrind() {
    use common::cprog::build_with;
    use std::process::Command;
    let flags =
        ["-std=c11", "-D_DEFAULT_SOURCE", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"];
    let asan = build_with("tests/c/window.c", "window_asan", &flags, false);
    let dir = TempDir::new("window-asan");
    let o = Command::new(&asan)
        .args([dir.0.to_str().unwrap(), "0", "20000"])
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:halt_on_error=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success() && out.starts_with("window ok"), "ASan/UBSan: {}\n{out}{err}", o.status);
    assert!(!err.contains("Sanitizer") && !err.contains("runtime error"), "{err}");

    let plain = common::cprog::build("tests/c/window.c");
    let dir = TempDir::new("window-valgrind");
    let o = Command::new("valgrind")
        .args(["--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite", "-q"])
        .arg(&plain)
        .args([dir.0.to_str().unwrap(), "1", "5000"])
        .output()
        .expect("valgrind is required (apt-get install valgrind)");
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success() && out.starts_with("window ok"), "Valgrind: {}\n{out}{err}", o.status);
}
