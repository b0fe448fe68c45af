//! Thin wrappers over the system calls mba uses, returning `io::Error` with errno.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 {
        4096
    } else {
        p as usize
    }
}

/// What mba needs of a store's `fstat`.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// Whether it is a regular file (shm objects and memfds are).
    pub regular: bool,
    /// Owner.
    pub uid: u32,
}

/// `fstat` of a store.
#[link_section = ".text.hot.mba"]
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    // SAFETY: st is written by fstat before it is read.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(Stat {
        size: st.st_size as u64,
        regular: (st.st_mode & libc::S_IFMT) == libc::S_IFREG,
        uid: st.st_uid,
    })
}

/// Whether the store lives in memory (tmpfs, a shm object or a memfd), where reading a
/// hole allocates a page and so can fail with SIGBUS when the file system is full.
#[link_section = ".text.hot.mba"]
pub fn is_shmem(fd: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: sf is written by fstatfs before it is read.
    let mut sf: libc::statfs = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut sf) })?;
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    Ok(sf.f_type as i64 == libc::TMPFS_MAGIC as i64)
}

/// The total size in bytes of the file system holding `fd`.
pub fn fs_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: sv is written by fstatvfs before it is read.
    let mut sv: libc::statvfs = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut sv) })?;
    Ok((sv.f_blocks as u64).saturating_mul(sv.f_frsize as u64))
}

/// The largest file this process may write (`RLIMIT_FSIZE`, `ulimit -f`); `u64::MAX` if unlimited.
/// Growing a file past it raises SIGXFSZ, so mba checks it first.
pub fn file_size_limit() -> u64 {
    // SAFETY: rl is written by getrlimit before it is read.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut rl) } != 0 || rl.rlim_cur == libc::RLIM_INFINITY {
        return u64::MAX;
    }
    rl.rlim_cur as u64
}

/// The memory-lock limit (`RLIMIT_MEMLOCK`) in bytes; `u64::MAX` if unlimited.
pub fn memlock_limit() -> u64 {
    // SAFETY: rl is written by getrlimit before it is read.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut rl) } != 0 || rl.rlim_cur == libc::RLIM_INFINITY {
        return u64::MAX;
    }
    rl.rlim_cur as u64
}

/// The machine's memory in bytes (`MemTotal` of `/proc/meminfo`), from `sysinfo(2)`: one system
/// call, where reading `/proc/meminfo` costs as much as the rest of a small anonymous create.
pub fn memory_total() -> u64 {
    // SAFETY: info is written by sysinfo before it is read.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return memory().0;
    }
    (info.totalram as u64).saturating_mul(info.mem_unit.max(1) as u64)
}

/// `MemTotal` and `MemAvailable` of `/proc/meminfo`, in bytes.
pub fn memory() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kib| kib.saturating_mul(1024))
    };
    let total = field("MemTotal:").unwrap_or(u64::MAX);
    (total, field("MemAvailable:").unwrap_or(total))
}

/// The inode number of this process's pid namespace, 0 if unknown.
pub fn pid_namespace() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").map(|m| m.ino()).unwrap_or(0)
}

/// Whether process `pid`, started at `start` clock ticks after boot (compared on the low
/// `start_bits` bits), is alive in this pid namespace: `Some(false)` when it is gone, a zombie, or
/// another process with its pid; `None` when that cannot be told (its `/proc` entry is hidden).
pub fn process_alive(pid: u32, start: u64, start_bits: u32) -> Option<bool> {
    if pid == 0 || pid > i32::MAX as u32 {
        return Some(false);
    }
    // SAFETY: signal 0 only checks for existence and permission.
    if unsafe { libc::kill(pid as libc::pid_t, 0) } != 0
        && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    {
        return Some(false);
    }
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Some(false),
        Err(_) => return None,
    };
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return Some(false);
    }
    let started: u64 = fields.nth(18)?.parse().ok()?;
    let mask = if start_bits >= 64 { u64::MAX } else { (1u64 << start_bits) - 1 };
    Some(started & mask == start & mask)
}

/// Allocates real storage for bytes `offset..offset+len`, growing the file if needed, so
/// later writes through a mapping cannot fault for want of space. Growing a file past the
/// file-size limit raises SIGXFSZ: callers that extend a file check [`file_size_limit`] first.
pub fn allocate(fd: BorrowedFd<'_>, offset: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    let (Ok(off), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    };
    loop {
        // SAFETY: plain system call on a valid descriptor.
        match unsafe { libc::posix_fallocate(fd.as_raw_fd(), off, len) } {
            0 => return Ok(()),
            libc::EINTR => continue,
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// Maps the pages of `addr..addr+len` (a shared mapping of allocated storage) writable in
/// one call, as writes would one page fault at a time (MADV_POPULATE_WRITE, Linux 5.14). An
/// optimisation only: errors (an older kernel, a peer that truncated the store) are ignored,
/// and the pages then fault in as usual. Never raises a signal: the kernel reports a page it
/// cannot map as an error.
pub fn populate_write(addr: *mut u8, len: usize) {
    let page = page_size();
    let start = (addr as usize) & !(page - 1);
    let end = (addr as usize).saturating_add(len);
    if end > start {
        // SAFETY: madvise only changes page tables of this process's mapping; with
        // MADV_POPULATE_WRITE it neither writes the memory nor frees it.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_POPULATE_WRITE) };
    }
}

/// Which pages of `addr..addr+len` (page-aligned, inside a shared mapping of a file) are in
/// memory and up to date: bit 0 of `out[i]` for page `i` (mincore). A page of a store in
/// memory reads 0 when it is a hole, when it was allocated (`fallocate`) but never written or
/// read, or when it was swapped out.
#[link_section = ".text.hot.mba"]
pub fn resident(addr: *const u8, len: usize, out: &mut [u8]) -> io::Result<()> {
    let page = page_size();
    if len.div_ceil(page) > out.len() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: out holds a byte for each page of the range; mincore only writes out.
    match unsafe { libc::mincore(addr as *mut libc::c_void, len, out.as_mut_ptr()) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Faults in the pages of `addr..addr+len` (page-aligned, inside a shared mapping) as reads
/// would, and reports a page the kernel cannot provide (a hole in a full tmpfs) as an error
/// instead of raising SIGBUS (MADV_POPULATE_READ, Linux 5.14; older kernels: EINVAL).
pub fn populate_read(addr: *const u8, len: usize) -> io::Result<()> {
    // SAFETY: madvise only changes this process's page tables; POPULATE_READ neither writes
    // the memory nor frees it.
    match unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_POPULATE_READ) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Reads all of `buf` from `offset`; `UnexpectedEof` if the file is shorter.
#[link_section = ".text.hot.mba"]
pub fn pread_exact(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: buf[done..] is a valid writable range.
        let n = unsafe {
            libc::pread(
                fd.as_raw_fd(),
                buf[done..].as_mut_ptr().cast(),
                buf.len() - done,
                (offset + done as u64) as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        done += n as usize;
    }
    Ok(())
}

/// Sleeps while `*word == expected`, for at most `timeout`. Works across processes
/// (no FUTEX_PRIVATE_FLAG). Spurious returns are allowed; callers re-check.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    futex_wait_at(word.as_ptr(), expected, timeout)
}

/// [`futex_wait`] on the 4 bytes at `word`, which may be part of a wider atomic (the low half
/// of a 64-bit length) or lie in a read-only mapping: the kernel only reads it.
pub fn futex_wait_at(word: *const u32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: word is a valid, aligned u32 for the duration of the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word,
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            0usize,
            0u32,
        );
    }
}

/// Wakes up to `n` sleepers on `word`, in any process.
pub fn futex_wake(word: &AtomicU32, n: i32) {
    futex_wake_at(word.as_ptr(), n);
}

/// [`futex_wake`] of the 4 bytes at `word`; returns how many sleepers it woke.
pub fn futex_wake_at(word: *const u32, n: i32) -> u64 {
    // SAFETY: word is a valid, aligned u32 in a live mapping.
    let r = unsafe { libc::syscall(libc::SYS_futex, word, libc::FUTEX_WAKE, n, 0usize, 0usize, 0u32) };
    r.max(0) as u64
}

/// This process's id and start time in clock ticks after boot (`/proc/self/stat` field 22),
/// which together name a process even after its pid is reused. Start time 0 if unknown.
/// (Read anew each call: `fork::identity` caches it until a fork.)
pub fn process_identity() -> (u64, u64) {
    (std::process::id() as u64, read_start_time())
}

fn read_start_time() -> u64 {
    // Room for any stat line (52 numeric fields and a command name of at most 64 bytes) up
    // front, and through Take, whose read_to_string neither asks statx for a size procfs
    // reports as 0 nor grows the buffer read by read: one read and an end of file.
    use std::io::Read;
    let mut s = String::with_capacity(4096);
    std::fs::File::open("/proc/self/stat")
        .and_then(|f| f.take(4096).read_to_string(&mut s))
        .ok()
        .and_then(|_| {
            // Fields after the command name, which may itself hold spaces and ')'.
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().nth(19)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Nanoseconds on the monotonic clock (`CLOCK_MONOTONIC`).
pub fn monotonic_ns() -> u64 {
    // SAFETY: ts is written by clock_gettime before it is read.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sysinfo_gives_the_memtotal_of_proc_meminfo() {
        assert_eq!(super::memory_total(), super::memory().0);
    }

    #[test]
    fn the_start_time_is_field_22_of_proc_self_stat() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let want: u64 =
            stat[stat.rfind(')').unwrap() + 1..].split_whitespace().nth(19).unwrap().parse().unwrap();
        assert!(want > 0);
        assert_eq!(super::read_start_time(), want);
    }
}
