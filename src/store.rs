//! Backing stores and their names: `shm://NAME`, `file://PATH`, and anonymous memfds.
//!
//! Every store is a file descriptor of a regular file (tmpfs for shm and memfd). A named
//! store is created unnamed (`O_TMPFILE`), initialised, and only then linked to its name,
//! so a name never refers to a half-made array, even if the creator dies mid-create.

use crate::error::{bail, Error, Result};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Where POSIX shared-memory objects live on Linux (what `shm_open` uses).
pub const SHM_DIR: &str = "/dev/shm";
/// The longest shm name mba accepts, in bytes.
pub const MAX_SHM_NAME: usize = 200;

/// A parsed array URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `shm://NAME`: `/dev/shm/NAME`.
    Shm(PathBuf),
    /// `file://PATH`.
    File(PathBuf),
    /// An unnamed memfd (URI `""` at create).
    Anonymous,
}

impl Location {
    /// Parses `uri`. The empty URI is [`Location::Anonymous`].
    #[link_section = ".text.hot.mba"]
    pub fn parse(uri: &OsStr) -> Result<Location> {
        let b = uri.as_bytes();
        if b.is_empty() {
            return Ok(Location::Anonymous);
        }
        // Only for messages: a URI that parses is never converted (a first attach in a fresh
        // process pays a page fault for each piece of code it runs for the first time).
        let shown = || uri.to_string_lossy();
        if b.contains(&0) {
            bail!(InvalidArgument, "URI {:?} contains a NUL byte", shown());
        }
        if let Some(name) = b.strip_prefix(b"shm://") {
            if name.is_empty() || name.len() > MAX_SHM_NAME {
                bail!(
                    InvalidArgument,
                    "shm name in {:?} must be 1 to {MAX_SHM_NAME} bytes, not {}",
                    shown(),
                    name.len()
                );
            }
            if name.contains(&b'/') || name == b"." || name == b".." {
                bail!(InvalidArgument, "shm name in {:?} may not contain '/' or be '.' or '..'", shown());
            }
            let mut path = Vec::with_capacity(SHM_DIR.len() + 1 + name.len());
            path.extend_from_slice(SHM_DIR.as_bytes());
            path.push(b'/');
            path.extend_from_slice(name);
            return Ok(Location::Shm(PathBuf::from(std::ffi::OsString::from_vec(path))));
        }
        if let Some(path) = b.strip_prefix(b"file://") {
            if path.is_empty() {
                bail!(InvalidArgument, "file URI {:?} has no path", shown());
            }
            return Ok(Location::File(PathBuf::from(OsStr::from_bytes(path))));
        }
        bail!(InvalidArgument, "URI {:?} has no known scheme (use shm://NAME or file://PATH)", shown())
    }

    /// The file-system path of a named store.
    #[link_section = ".text.hot.mba"]
    pub fn path(&self) -> Option<&Path> {
        match self {
            Location::Shm(p) | Location::File(p) => Some(p),
            Location::Anonymous => None,
        }
    }
}

#[link_section = ".text.hot.mba"]
fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::new(crate::ErrorKind::InvalidArgument, "path contains a NUL byte"))
}

fn os_err(what: impl std::fmt::Display) -> Error {
    Error::os(what, std::io::Error::last_os_error())
}

/// Opens the existing store at `path` for attaching; `nofollow`: refuse a symbolic link in
/// its last component (as `shm_open` does, so no one can plant a link in `/dev/shm`).
#[link_section = ".text.hot.mba"]
pub fn open(path: &Path, writable: bool, nofollow: bool) -> Result<File> {
    let c = cpath(path)?;
    let access = if writable { libc::O_RDWR } else { libc::O_RDONLY };
    let follow = if nofollow { libc::O_NOFOLLOW } else { 0 };
    // O_NONBLOCK: opening a FIFO someone named must not hang; it is refused below as not a regular file.
    // SAFETY: c is a valid C string.
    let fd = unsafe {
        libc::open(c.as_ptr(), access | follow | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY)
    };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        if nofollow && e.raw_os_error() == Some(libc::ELOOP) {
            bail!(Permission, "open {}: it is a symbolic link, which shm names never follow", path.display());
        }
        return Err(Error::os(format_args!("open {}", path.display()), e));
    }
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// A close-on-exec duplicate of `fd`, checked to allow what the handle needs: no path is
/// looked up, so the descriptor's own access is what counts.
pub fn dup_fd(fd: RawFd, writable: bool) -> Result<File> {
    if fd < 0 {
        bail!(InvalidArgument, "file descriptor {fd} is negative");
    }
    // SAFETY: fcntl on any integer is safe; an invalid one fails with EBADF.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 {
        return Err(os_err(format_args!("fcntl fd {fd}")));
    }
    let acc = fl & libc::O_ACCMODE;
    if fl & libc::O_PATH != 0 || acc == libc::O_WRONLY {
        bail!(Permission, "descriptor {fd} is not open for reading");
    }
    if writable && acc != libc::O_RDWR {
        bail!(Permission, "descriptor {fd} is open read-only; attach it with read_only");
    }
    // SAFETY: as above.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(os_err(format_args!("dup fd {fd}")));
    }
    // SAFETY: fresh descriptor we own.
    Ok(unsafe { File::from_raw_fd(new) })
}

/// Whether the file at `path` is an mba array (a regular file starting with the magic),
/// without following a symbolic link or opening anything for writing. `NotFound` if absent.
fn is_array(path: &Path) -> Result<bool> {
    let c = cpath(path)?;
    // SAFETY: c is a valid C string.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY,
        )
    };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ELOOP) => Ok(false),
            _ => Err(Error::os(format_args!("open {}", path.display()), e)),
        };
    }
    // SAFETY: fresh descriptor we own.
    let f = unsafe { File::from_raw_fd(fd) };
    let st = crate::sys::fstat(std::os::fd::AsFd::as_fd(&f)).map_err(|e| Error::os("stat", e))?;
    let mut magic = [0u8; 8];
    Ok(st.regular
        && crate::sys::pread_exact(std::os::fd::AsFd::as_fd(&f), &mut magic, 0).is_ok()
        && magic == crate::layout::MAGIC)
}

/// Fails with `Corrupt` unless the file at `path` is an mba array or `force` is set.
fn check_replaceable(path: &Path, force: bool, what: &str) -> Result<()> {
    if force || is_array(path)? {
        return Ok(());
    }
    bail!(Corrupt, "refusing to {what} {}: it is not an mba array (force it with MBA_FORCE)", path.display())
}

/// A store being created: an open descriptor not yet reachable by its name.
pub struct NewStore {
    pub file: File,
    /// A named temporary to rename or remove, when the file system lacks `O_TMPFILE`.
    temp: TempName,
}

/// A temporary name, removed when dropped unless taken.
struct TempName(Option<PathBuf>);

impl Drop for TempName {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = std::fs::remove_file(t);
        }
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The prefix of the hidden staging names of `path`: `.NAME.mba-new.` (NAME cut to 120 chars).
fn staging_prefix(path: &Path) -> String {
    let name = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let short: String = name.chars().take(120).collect();
    format!(".{short}.mba-new.")
}

/// A fresh staging name beside `path`: the prefix, then this process's pid, so that a
/// leftover of a dead creator can be recognised and removed.
fn unique_sibling(path: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (pid, ns) = (std::process::id(), crate::sys::now_ns() % 1_000_000_007);
    parent_of(path).join(format!("{}{pid}.{ns}.{n}", staging_prefix(path)))
}

/// Removes staging leftovers of `path` whose creator process no longer exists (it was killed
/// between staging and renaming). Best effort: a pid reused since only delays the sweep.
fn sweep_dead_staging(path: &Path) {
    let prefix = staging_prefix(path);
    let Ok(dir) = std::fs::read_dir(parent_of(path)) else { return };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<libc::pid_t>().ok()) else { continue };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let gone = pid > 0
            && unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Creates an unnamed store for `loc` (mode 0600, close-on-exec).
pub fn create_unnamed(loc: &Location) -> Result<NewStore> {
    let Some(path) = loc.path() else {
        let name = c"mba";
        // SAFETY: name is a valid C string.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
        if fd < 0 {
            return Err(os_err("memfd_create"));
        }
        // SAFETY: fresh descriptor we own.
        return Ok(NewStore { file: unsafe { File::from_raw_fd(fd) }, temp: TempName(None) });
    };
    let dir = parent_of(path);
    let cdir = cpath(dir)?;
    // SAFETY: cdir is a valid C string.
    let fd = unsafe { libc::open(cdir.as_ptr(), libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC, 0o600) };
    if fd >= 0 {
        // SAFETY: fresh descriptor we own.
        return Ok(NewStore { file: unsafe { File::from_raw_fd(fd) }, temp: TempName(None) });
    }
    let err = std::io::Error::last_os_error();
    if !matches!(err.raw_os_error(), Some(libc::EOPNOTSUPP) | Some(libc::EISDIR) | Some(libc::EINVAL)) {
        return Err(Error::os(format_args!("create in {}", dir.display()), err));
    }
    // No O_TMPFILE here: a hidden named temporary, renamed or linked into place when ready.
    let temp = unique_sibling(path);
    let ctemp = cpath(&temp)?;
    // SAFETY: ctemp is a valid C string.
    let fd = unsafe {
        libc::open(ctemp.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC, 0o600)
    };
    if fd < 0 {
        return Err(os_err(format_args!("create {}", temp.display())));
    }
    // SAFETY: fresh descriptor we own.
    Ok(NewStore { file: unsafe { File::from_raw_fd(fd) }, temp: TempName(Some(temp)) })
}

impl NewStore {
    /// Finishes the store before it gets its name: sets its permission bits exactly (no umask),
    /// and forbids shrinking an anonymous one (`F_SEAL_SHRINK`), so no peer holding its
    /// descriptor can cut the pages out from under a reader.
    pub fn seal(&self, loc: &Location, mode: u32) -> Result<()> {
        let fd = self.file.as_raw_fd();
        // SAFETY: plain system calls on our own descriptor.
        if matches!(loc, Location::Anonymous) {
            if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) } != 0 {
                return Err(os_err("seal memfd"));
            }
        } else if unsafe { libc::fchmod(fd, mode as libc::mode_t) } != 0 {
            return Err(os_err(format_args!("chmod {mode:o}")));
        }
        Ok(())
    }

    /// Gives the finished store its name. Without `overwrite`, an existing name is
    /// `Exists`; with it, the old array is replaced atomically (its live handles keep it).
    pub fn publish(mut self, loc: &Location, overwrite: bool, force: bool) -> Result<File> {
        let Some(path) = loc.path() else {
            return Ok(self.file);
        };
        let cdst = cpath(path)?;
        if !overwrite {
            let linked = match &self.temp.0 {
                Some(t) => {
                    let src = cpath(t)?;
                    // SAFETY: valid C strings.
                    unsafe {
                        libc::linkat(libc::AT_FDCWD, src.as_ptr(), libc::AT_FDCWD, cdst.as_ptr(), 0) == 0
                    }
                }
                None => link_fd(&self.file, &cdst),
            };
            if !linked {
                return Err(os_err(format_args!("create {}", path.display())));
            }
            return Ok(self.file);
        }
        match check_replaceable(path, force, "replace") {
            Err(e) if e.kind() != crate::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let staged = match self.temp.0.take() {
            Some(t) => t,
            None => {
                let t = unique_sibling(path);
                let ct = cpath(&t)?;
                if !link_fd(&self.file, &ct) {
                    return Err(os_err(format_args!("create {}", t.display())));
                }
                t
            }
        };
        if let Err(e) = std::fs::rename(&staged, path) {
            let _ = std::fs::remove_file(&staged);
            return Err(Error::os(format_args!("replace {}", path.display()), e));
        }
        sweep_dead_staging(path);
        Ok(self.file)
    }
}

/// Gives the unnamed file `f` the name `dst`; false with errno set on failure.
///
/// `linkat(fd, "", AT_EMPTY_PATH)` names the descriptor itself, without the walk through
/// `/proc/self/fd/N` that costs as much as the rest of a create; the kernel allows it to
/// processes with `CAP_DAC_READ_SEARCH`, and (since Linux 6.10) to the process that opened the
/// file. Elsewhere it fails with `ENOENT` or `EPERM`, and this process goes through `/proc` from
/// then on.
fn link_fd(f: &File, dst: &std::ffi::CStr) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    static EMPTY_PATH_REFUSED: AtomicBool = AtomicBool::new(false);
    if !EMPTY_PATH_REFUSED.load(Relaxed) {
        // SAFETY: valid descriptor and C strings.
        let r = unsafe {
            libc::linkat(f.as_raw_fd(), c"".as_ptr(), libc::AT_FDCWD, dst.as_ptr(), libc::AT_EMPTY_PATH)
        };
        if r == 0 {
            return true;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::ENOENT) | Some(libc::EPERM) | Some(libc::EINVAL) => {
                EMPTY_PATH_REFUSED.store(true, Relaxed)
            }
            _ => return false, // EEXIST, EACCES, ENOSPC...: the answer for this name either way
        }
    }
    let src = CString::new(format!("/proc/self/fd/{}", f.as_raw_fd())).expect("no NUL in a number");
    // SAFETY: valid C strings.
    unsafe {
        libc::linkat(libc::AT_FDCWD, src.as_ptr(), libc::AT_FDCWD, dst.as_ptr(), libc::AT_SYMLINK_FOLLOW) == 0
    }
}

/// Removes the name of the store at `loc`; handles that are attached keep working.
pub fn delete(loc: &Location, force: bool) -> Result<()> {
    let Some(path) = loc.path() else {
        bail!(InvalidArgument, "an anonymous array has no name to delete");
    };
    check_replaceable(path, force, "delete")?;
    std::fs::remove_file(path).map_err(|e| Error::os(format_args!("delete {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn parse(s: &str) -> Result<Location> {
        Location::parse(OsStr::new(s))
    }

    #[test]
    fn parses_the_three_kinds() {
        assert_eq!(parse("shm://abc").unwrap(), Location::Shm("/dev/shm/abc".into()));
        assert_eq!(parse("file:///tmp/x").unwrap(), Location::File("/tmp/x".into()));
        assert_eq!(parse("file://rel/x").unwrap(), Location::File("rel/x".into()));
        assert_eq!(parse("").unwrap(), Location::Anonymous);
        assert_eq!(
            parse(&format!("shm://{}", "n".repeat(200))).unwrap().path().unwrap().as_os_str().len(),
            209
        );
    }

    #[test]
    fn refuses_bad_uris_with_the_reason() {
        for (uri, why) in [
            ("shm://", "1 to 200"),
            ("shm://a/b", "'/'"),
            ("shm://..", "'.'"),
            ("file://", "no path"),
            ("http://x", "no known scheme"),
            ("/tmp/x", "no known scheme"),
        ] {
            let e = parse(uri).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{uri}");
            assert!(e.message().contains(why), "{uri}: {e}");
        }
        let long = format!("shm://{}", "n".repeat(201));
        assert!(parse(&long).unwrap_err().message().contains("not 201"));
        let nonutf8 = OsStr::from_bytes(b"shm://caf\xe9");
        assert!(Location::parse(nonutf8).is_ok(), "names are bytes, as for shm_open");
    }
}
