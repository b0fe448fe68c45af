//! Listing arrays without attaching to them: what is in `/dev/shm` (or a directory of
//! `file://` arrays), what each array holds, who made it, and whether its creator lives.
//!
//! Nothing here maps a store or opens one for writing. Each candidate is opened
//! `O_RDONLY | O_NOFOLLOW | O_NONBLOCK`, its header is read with `pread` and parsed by
//! [`Header::from_bytes`] and [`Header::validate`], and it is closed again. Files that are not
//! mba arrays (no magic), that cannot be opened, or that are not regular files are skipped;
//! a file with the magic whose header does not hold up is listed with [`Entry::problem`] set.

use crate::dtype::Dtype;
use crate::error::{bail, Error, ErrorKind, Result};
use crate::layout::{Header, HEADER_SIZE, MAGIC, SLOTS, SLOT_TABLE_OFFSET};
use crate::lock::{ident, Liveness as _};
use crate::store::{Location, SHM_DIR};
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Whether the process that created an array still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Liveness {
    /// A process with the creator's pid and start time exists (and is not a zombie).
    Alive,
    /// No such process: the pid is free, belongs to a process started at another time
    /// (the pid was reused), or is a zombie.
    Dead,
    /// Cannot tell: no pid recorded, or `/proc` hides the process from this user.
    Unknown,
}

impl Liveness {
    /// `"alive"`, `"dead"` or `"unknown"`.
    pub fn name(self) -> &'static str {
        match self {
            Liveness::Alive => "alive",
            Liveness::Dead => "dead",
            Liveness::Unknown => "unknown",
        }
    }
}

/// One array found by [`list`] or [`inspect`].
#[derive(Debug, Clone)]
pub struct Entry {
    /// `shm://NAME` for `/dev/shm`, else `file://DIR/NAME` (DIR as given to [`list`]).
    pub uri: OsString,
    /// The file's path.
    pub path: PathBuf,
    /// `None` for a valid array; else why its header does not hold up (the array is corrupt,
    /// truncated, or of a format version this library does not read). The fields that come
    /// from the header are then as read, and may be nonsense.
    pub problem: Option<String>,
    /// The header as read (all zeros past the end of a store shorter than a header).
    pub header: Header,
    /// The element type, if the code is one this library knows.
    pub dtype: Option<Dtype>,
    /// The shape: `shape[0]` is the number of rows now (`len / row_size`), then the extents of
    /// the other axes. One value for a one-dimensional array. Empty for a corrupt array.
    pub shape: Vec<u64>,
    /// Published length in elements (scalars), as the header says.
    pub len: u64,
    /// Capacity in elements, as the header says.
    pub capacity: u64,
    /// The most elements the array may ever hold (fixed at create).
    pub max_capacity: u64,
    /// The binding's typecode hint (an ASCII character such as `'d'`; 0 for none).
    pub typecode: u32,
    /// The writers in the slot table: handles that have taken a slot to append (in slot order).
    pub writers: Vec<Writer>,
    /// The store's size in bytes (`st_size`).
    pub size: u64,
    /// Bytes the store occupies in memory or on disk (`st_blocks * 512`).
    pub bytes: u64,
    /// The owner's user id.
    pub uid: u32,
    /// The owner's user name, or the uid in decimal when it has none.
    pub owner: String,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// The store's device and inode, which name it in `/proc/*/fd` and `/proc/*/maps`.
    pub dev: u64,
    pub ino: u64,
    /// Last modification of the store (of its size or metadata; element writes through a
    /// mapping may not update it), nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
    /// Creation time from the header, nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// Creator's pid and start time (clock ticks after boot) from the header.
    pub creator_pid: u64,
    pub creator_start: u64,
    /// Whether that process still runs.
    pub creator: Liveness,
}

/// A writer handle named in an array's slot table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    /// Its slot, 1 to 480 (what the `lock` and `lease` words name).
    pub slot: u32,
    /// Its process.
    pub pid: u32,
    /// Whether that process still runs (a dead writer's slot is taken over by the next writer).
    pub alive: Liveness,
}

impl Entry {
    /// Whether the header holds up.
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }

    /// The writer in slot `slot`, if the slot table names one.
    pub fn writer(&self, slot: u32) -> Option<&Writer> {
        self.writers.iter().find(|w| w.slot == slot)
    }

    /// The slot named by the append lock word (0: free).
    pub fn lock_slot(&self) -> u32 {
        crate::lock::slot_of(self.header.lock)
    }

    /// The slot named by the writer-lease word (0: no lease).
    pub fn lease_slot(&self) -> u32 {
        crate::lock::slot_of(self.header.lease)
    }
}

/// Lists the arrays in `dir`, or in `/dev/shm` when `dir` is `None`, sorted by name.
///
/// Files that are not mba arrays, are not regular files (directories, symbolic links, FIFOs,
/// devices), or cannot be opened or read are skipped; they never make the call fail. An
/// array whose header does not hold up is listed with [`Entry::problem`] set. Errors: only
/// when `dir` itself cannot be read (`NotFound`, `Permission`, `InvalidArgument` for a file).
pub fn list(dir: Option<&Path>) -> Result<Vec<Entry>> {
    let (dir, shm) = match dir {
        Some(d) => (d, false),
        None => (Path::new(SHM_DIR), true),
    };
    let shown = dir.display();
    let rd = std::fs::read_dir(dir).map_err(|e| Error::os(format_args!("list {shown}"), e))?;
    let mut out = Vec::new();
    for ent in rd {
        let Ok(ent) = ent else { continue };
        // The entry's own type, without following a link: only regular files are opened.
        match ent.file_type() {
            Ok(t) if t.is_file() => {}
            _ => continue,
        }
        let name = ent.file_name();
        if is_staging_name(&name) {
            continue;
        }
        let path = dir.join(&name);
        let uri = if shm { prefixed(b"shm://", name.as_bytes()) } else { file_uri(&path) };
        if let Read::Array(e) = read_entry(&path, uri) {
            out.push(*e);
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Reads what [`list`] would say of the one array at `uri` (`shm://NAME` or `file://PATH`),
/// without attaching to it. Errors: `NotFound`, `Permission`, `InvalidArgument` (a bad URI, or
/// a directory or other non-regular file), `Corrupt` when the file is not an mba array at all
/// (no magic). An array whose header does not hold up is returned, with [`Entry::problem`] set.
pub fn inspect(uri: impl AsRef<OsStr>) -> Result<Entry> {
    let uri = uri.as_ref();
    let run = || {
        let loc = Location::parse(uri)?;
        let Some(path) = loc.path() else {
            bail!(InvalidArgument, "an anonymous array has no name to inspect");
        };
        match read_entry(path, uri.to_owned()) {
            Read::Array(e) => Ok(*e),
            Read::NotArray(why) => bail!(Corrupt, "not an mba array ({why})"),
            Read::Failed(e) => Err(e),
        }
    };
    run().map_err(|e: Error| e.context(format_args!("inspect {}", uri.to_string_lossy())))
}

/// A staging file left beside an array by a create that did not finish
/// (`.NAME.mba-new.PID.*`; see docs/FORMAT.md).
#[derive(Debug, Clone)]
pub struct Staging {
    /// The staging file's path.
    pub path: PathBuf,
    /// The pid of the process that made it.
    pub pid: u64,
    /// Whether a process with that pid exists now (it may be a later process that reused it).
    pub alive: bool,
    /// Bytes it occupies (`st_blocks * 512`).
    pub bytes: u64,
    /// Last modification, nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
}

/// Lists the staging files in `dir` (or `/dev/shm`), sorted by name. Errors as [`list`].
pub fn staging(dir: Option<&Path>) -> Result<Vec<Staging>> {
    let dir = dir.unwrap_or(Path::new(SHM_DIR));
    let rd = std::fs::read_dir(dir).map_err(|e| Error::os(format_args!("list {}", dir.display()), e))?;
    let mut out = Vec::new();
    for ent in rd.flatten() {
        let name = ent.file_name();
        let Some(pid) = staging_pid(&name) else { continue };
        let Ok(md) = std::fs::symlink_metadata(ent.path()) else { continue };
        if !md.file_type().is_file() {
            continue;
        }
        use std::os::unix::fs::MetadataExt;
        out.push(Staging {
            path: ent.path(),
            pid,
            alive: pid_exists(pid),
            bytes: md.blocks().saturating_mul(512),
            mtime_ns: ns_of(md.mtime(), md.mtime_nsec()),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The pid in a staging name `.NAME.mba-new.PID.REST`, or `None` if `name` is not one.
pub fn staging_pid(name: &OsStr) -> Option<u64> {
    let b = name.as_bytes();
    if b.first() != Some(&b'.') {
        return None;
    }
    const MARK: &[u8] = b".mba-new.";
    // The last occurrence: NAME itself may contain the marker.
    let at = b.windows(MARK.len()).rposition(|w| w == MARK)?;
    let rest = &b[at + MARK.len()..];
    let pid = rest.split(|&c| c == b'.').next()?;
    if pid.is_empty() || !pid.iter().all(u8::is_ascii_digit) || rest.len() == pid.len() {
        return None;
    }
    std::str::from_utf8(pid).ok()?.parse().ok()
}

fn is_staging_name(name: &OsStr) -> bool {
    staging_pid(name).is_some()
}

/// Whether the creator named by `pid` and `start` (`/proc/PID/stat` field 22; 0 if unknown)
/// still runs. A zombie counts as dead; a pid now used by a process started at another time
/// counts as dead.
pub fn creator_liveness(pid: u64, start: u64) -> Liveness {
    creator_liveness_in(pid, start, 0)
}

/// [`creator_liveness`] of a creator in the pid namespace `pidns` (its inode; 0 = unknown, taken
/// as this process's): `Unknown` when that is not this process's namespace, where pids mean
/// other processes.
pub fn creator_liveness_in(pid: u64, start: u64, pidns: u64) -> Liveness {
    if pidns != 0 && pidns != crate::sys::pid_namespace() {
        return Liveness::Unknown;
    }
    let Ok(p) = libc::pid_t::try_from(pid) else { return Liveness::Unknown };
    if p <= 0 {
        return Liveness::Unknown;
    }
    if !pid_exists(pid) {
        return Liveness::Dead;
    }
    match proc_stat(pid) {
        Some(('Z' | 'X', _)) => Liveness::Dead,
        Some((_, s)) if start != 0 && s != start => Liveness::Dead,
        Some(_) => Liveness::Alive,
        // The process exists (kill says so) but /proc does not show it: hidepid, or another
        // pid namespace's /proc.
        None => Liveness::Unknown,
    }
}

/// Whether a process with this pid exists (in this pid namespace), whoever owns it.
pub fn pid_exists(pid: u64) -> bool {
    let Ok(p) = libc::pid_t::try_from(pid) else { return false };
    if p <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(p, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The state letter and start time (field 22) of `/proc/PID/stat`.
fn proc_stat(pid: u64) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and ')': fields resume after the last ')'.
    let mut rest = s[s.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let start = rest.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The user name of `uid`, or the uid in decimal.
pub fn user_name(uid: u32) -> String {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: pwd and result are written by getpwuid_r; buf outlives every use of pwd's strings.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let r = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result) };
        if r == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if r != 0 || result.is_null() || pwd.pw_name.is_null() {
            return uid.to_string();
        }
        // SAFETY: pw_name points into buf, NUL-terminated.
        return unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }.to_string_lossy().into_owned();
    }
}

fn prefixed(prefix: &[u8], rest: &[u8]) -> OsString {
    let mut v = prefix.to_vec();
    v.extend_from_slice(rest);
    OsString::from_vec(v)
}

fn file_uri(path: &Path) -> OsString {
    prefixed(b"file://", path.as_os_str().as_bytes())
}

fn ns_of(secs: i64, nsec: i64) -> u64 {
    u64::try_from(secs).unwrap_or(0).saturating_mul(1_000_000_000).saturating_add(nsec.max(0) as u64)
}

/// What reading one candidate gave.
enum Read {
    Array(Box<Entry>),
    /// Not an mba array (or not a regular file): why, for `inspect`.
    NotArray(String),
    /// Could not be opened or read.
    Failed(Error),
}

fn stat(fd: &File) -> std::io::Result<libc::stat> {
    // SAFETY: st is written by fstat before it is read.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st)
}

/// Reads up to `buf.len()` bytes at offset 0; returns how many were read.
fn pread_full(fd: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: buf[done..] is writable for its length.
        let n = unsafe {
            libc::pread(
                fd.as_raw_fd(),
                buf[done..].as_mut_ptr().cast(),
                buf.len() - done,
                done as libc::off_t,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        done += n as usize;
    }
    Ok(done)
}

fn read_entry(path: &Path, uri: OsString) -> Read {
    let shown = path.display();
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return Read::Failed(Error::new(ErrorKind::InvalidArgument, "path contains a NUL byte"));
    };
    // Read-only, never through a symbolic link, never waiting (a FIFO), never becoming a
    // controlling terminal.
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: c is a valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ELOOP) {
            return Read::NotArray("a symbolic link".into());
        }
        return Read::Failed(Error::os(format_args!("open {shown}"), e));
    }
    // SAFETY: a fresh descriptor we own.
    let file = unsafe { File::from_raw_fd(fd) };
    let st = match stat(&file) {
        Ok(st) => st,
        Err(e) => return Read::Failed(Error::os(format_args!("stat {shown}"), e)),
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Read::NotArray("not a regular file".into());
    }
    let mut raw = [0u8; HEADER_SIZE];
    let got = match pread_full(&file, &mut raw) {
        Ok(n) => n,
        Err(e) => return Read::Failed(Error::os(format_args!("read {shown}"), e)),
    };
    if got < MAGIC.len() || raw[..MAGIC.len()] != MAGIC {
        return Read::NotArray("no mba magic".into());
    }
    // The size after the header was read: a store only grows, so a length read before is
    // covered by the size read after.
    let st = stat(&file).unwrap_or(st);
    let size = st.st_size.max(0) as u64;
    let header = Header::from_bytes(&raw);
    let problem = if got < HEADER_SIZE {
        Some(format!("store is {size} bytes, smaller than the {HEADER_SIZE}-byte header"))
    } else {
        check(&header, size).err().map(|e| e.message().to_owned())
    };
    let dtype = Dtype::from_code(header.dtype);
    let shape = if problem.is_none() { shape_of(&header) } else { Vec::new() };
    let writers = if problem.is_none() { writers_of(&file, &header) } else { Vec::new() };
    Read::Array(Box::new(Entry {
        uri,
        path: path.to_owned(),
        problem,
        dtype,
        shape,
        len: header.len,
        capacity: header.capacity,
        max_capacity: header.max_capacity,
        typecode: header.typecode,
        writers,
        size,
        bytes: (st.st_blocks.max(0) as u64).saturating_mul(512),
        uid: st.st_uid,
        owner: user_name(st.st_uid),
        mode: st.st_mode & 0o7777,
        dev: st.st_dev,
        ino: st.st_ino,
        mtime_ns: ns_of(st.st_mtime, st.st_mtime_nsec),
        created_ns: header.created_ns,
        creator_pid: header.creator_pid,
        creator_start: header.creator_start,
        creator: creator_liveness_in(header.creator_pid, header.creator_start, header.pidns),
        header,
    }))
}

/// The header's own checks, then the published length against the store.
fn check(h: &Header, size: u64) -> Result<()> {
    let g = h.validate(size)?;
    let end = h.len.checked_mul(g.itemsize as u64).and_then(|b| b.checked_add(g.data_offset as u64));
    match end {
        Some(end) if end <= size => Ok(()),
        _ => bail!(Corrupt, "length {} exceeds the store ({size} bytes)", h.len),
    }
}

/// The writers named in the slot table after the header (a validated header).
fn writers_of(file: &File, h: &Header) -> Vec<Writer> {
    let mut raw = vec![0u8; SLOTS * 8];
    // SAFETY: raw is writable for its length.
    let n = unsafe {
        libc::pread(file.as_raw_fd(), raw.as_mut_ptr().cast(), raw.len(), SLOT_TABLE_OFFSET as libc::off_t)
    };
    if n != raw.len() as isize {
        return Vec::new();
    }
    let same_ns = h.pidns == 0 || h.pidns == crate::sys::pid_namespace();
    raw.chunks_exact(8)
        .enumerate()
        .filter_map(|(i, b)| {
            let w = u64::from_ne_bytes(b.try_into().unwrap());
            (w != 0).then(|| Writer {
                slot: i as u32 + 1,
                pid: ident::pid(w),
                alive: match crate::lock::Os.alive(w, same_ns) {
                    crate::lock::Alive::Yes => Liveness::Alive,
                    crate::lock::Alive::No => Liveness::Dead,
                    crate::lock::Alive::Unknown => Liveness::Unknown,
                },
            })
        })
        .collect()
}

/// Rows now, then the extents of the other axes (a validated header).
fn shape_of(h: &Header) -> Vec<u64> {
    let ndim = (h.ndim as usize).clamp(1, h.shape.len());
    let rest = &h.shape[1..ndim];
    let row: u64 = rest.iter().product::<u64>().max(1);
    let mut v = Vec::with_capacity(ndim);
    v.push(h.len / row);
    v.extend_from_slice(rest);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_are_recognised() {
        let yes = [(".a.mba-new.123.456.0", 123), (".x.mba-new.y.mba-new.7.1.2", 7)];
        for (n, pid) in yes {
            assert_eq!(staging_pid(OsStr::new(n)), Some(pid), "{n}");
        }
        for n in
            ["a.mba-new.1.2", ".a.mba-new.", ".a.mba-new.12", ".a.mba-new.x1.2", ".a.mba-new..2", "plain"]
        {
            assert_eq!(staging_pid(OsStr::new(n)), None, "{n}");
        }
    }

    #[test]
    fn liveness_of_this_process_a_reused_pid_and_no_pid() {
        let (pid, start) = crate::sys::process_identity();
        assert_eq!(creator_liveness(pid, start), Liveness::Alive);
        assert_eq!(creator_liveness(pid, 0), Liveness::Alive, "start unknown: the pid decides");
        assert_eq!(creator_liveness(pid, start + 1), Liveness::Dead, "same pid, another process");
        assert_eq!(creator_liveness(0, 0), Liveness::Unknown);
        assert_eq!(creator_liveness(u64::MAX, 0), Liveness::Unknown);
    }

    #[test]
    fn user_name_of_root_and_of_a_uid_without_a_name() {
        assert_eq!(user_name(0), "root");
        assert_eq!(user_name(4_000_000_123), "4000000123");
    }
}
