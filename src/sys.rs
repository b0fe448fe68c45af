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

/// The store's size in bytes and whether it is a regular file.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<(u64, bool)> {
    // SAFETY: st is written by fstat before it is read.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok((st.st_size as u64, (st.st_mode & libc::S_IFMT) == libc::S_IFREG))
}

/// Allocates real storage for bytes `offset..offset+len`, growing the file if needed, so
/// later writes through a mapping cannot fault for want of space.
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

/// Writes all of `buf` at `offset`.
pub fn pwrite_all(fd: BorrowedFd<'_>, buf: &[u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: buf[done..] is a valid readable range.
        let n = unsafe {
            libc::pwrite(
                fd.as_raw_fd(),
                buf[done..].as_ptr().cast(),
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
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        done += n as usize;
    }
    Ok(())
}

fn ofd(fd: BorrowedFd<'_>, cmd: libc::c_int, ty: libc::c_int, byte: u64) -> io::Result<libc::flock> {
    // SAFETY: flock is plain data; fcntl reads and (for GETLK) writes it.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ty as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = byte as libc::off_t;
    fl.l_len = 1;
    loop {
        match cvt(unsafe { libc::fcntl(fd.as_raw_fd(), cmd, &mut fl) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(|_| fl),
        }
    }
}

/// Takes an exclusive open-file-description lock on one byte without waiting.
/// `Ok(false)` when another open file description holds it. The kernel drops the
/// lock when the last descriptor of this description closes, including at process death.
pub fn ofd_try_lock(fd: BorrowedFd<'_>, byte: u64) -> io::Result<bool> {
    match ofd(fd, libc::F_OFD_SETLK, libc::F_WRLCK, byte) {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Releases a lock taken by [`ofd_try_lock`].
pub fn ofd_unlock(fd: BorrowedFd<'_>, byte: u64) -> io::Result<()> {
    ofd(fd, libc::F_OFD_SETLK, libc::F_UNLCK, byte).map(|_| ())
}

/// Whether an open file description other than `fd`'s holds a lock on `byte`.
pub fn ofd_locked_by_other(fd: BorrowedFd<'_>, byte: u64) -> io::Result<bool> {
    let fl = ofd(fd, libc::F_OFD_GETLK, libc::F_WRLCK, byte)?;
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

/// Sleeps while `*word == expected`, for at most `timeout`. Works across processes
/// (no FUTEX_PRIVATE_FLAG). Spurious returns are allowed; callers re-check.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: word is a valid, aligned u32 for the duration of the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
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
    // SAFETY: word is a valid, aligned u32.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n, 0usize, 0usize, 0u32);
    }
}

/// This process's id and start time in clock ticks after boot (`/proc/self/stat` field 22),
/// which together name a process even after its pid is reused. Start time 0 if unknown.
pub fn process_identity() -> (u64, u64) {
    // The start time of a process never changes: read it once per pid (a fork has a new pid).
    static CACHE: std::sync::Mutex<(u64, u64)> = std::sync::Mutex::new((0, 0));
    let pid = std::process::id() as u64;
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.0 != pid {
        *cache = (pid, read_start_time());
    }
    *cache
}

fn read_start_time() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
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
