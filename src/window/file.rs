//! The files a manager reads: who they are (device, inode, birth time), how to open them
//! again after their descriptor was closed to stay in budget, and what a cursor reads in
//! them (raw elements, a `.npy` array, an mba array), with the element count that the file's
//! current size and header give.

use crate::error::{bail, Error, ErrorKind, Result};
use crate::npy;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The first bytes of an mba array, and its byte-order tag (docs/FORMAT.md). Fields at the
/// offsets read here are the same in format versions 1 and 2.
const MBA_MAGIC: [u8; 8] = *b"MBARRAY\0";
const MBA_ENDIAN_TAG: u32 = 0x0102_0304;

/// What a cursor reads in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Kind {
    /// Decide from the first bytes: `.npy` magic, mba magic, else raw.
    Auto = 0,
    /// Headerless elements from a byte offset to the end of the file.
    Raw = 1,
    /// A `.npy` file: data after the header, count from the header's shape.
    Npy = 2,
    /// An mba array: data at `data_offset`, count from the header's live `len`.
    Mba = 3,
}

impl Kind {
    /// The kind with C code `code`, or `None`.
    pub fn from_code(code: u32) -> Option<Kind> {
        [Kind::Auto, Kind::Raw, Kind::Npy, Kind::Mba].get(code as usize).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Auto => "auto",
            Kind::Raw => "raw",
            Kind::Npy => "npy",
            Kind::Mba => "mba",
        }
    }
}

/// Names one file for as long as anything of it is open or mapped (the kernel cannot reuse
/// an inode number while it is). The birth time, where the file system records it, also tells
/// a file apart from a later one that got the same inode number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub btime: Option<(i64, u32)>,
}

/// What `statx` says of a file: who it is, its size, whether it is a regular file.
pub(crate) struct Stat {
    pub ident: Identity,
    pub size: u64,
    pub regular: bool,
}

fn statx(dirfd: RawFd, path: &CString, flags: i32) -> std::io::Result<Stat> {
    // SAFETY: buf is written by statx before it is read; path is a valid C string.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    let mask = libc::STATX_TYPE | libc::STATX_INO | libc::STATX_SIZE | libc::STATX_BTIME;
    if unsafe { libc::statx(dirfd, path.as_ptr(), flags, mask, &mut buf) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let dev = libc::makedev(buf.stx_dev_major, buf.stx_dev_minor);
    let btime =
        (buf.stx_mask & libc::STATX_BTIME != 0).then_some((buf.stx_btime.tv_sec, buf.stx_btime.tv_nsec));
    Ok(Stat {
        ident: Identity { dev, ino: buf.stx_ino, btime },
        size: buf.stx_size,
        regular: (buf.stx_mode as u32 & libc::S_IFMT) == libc::S_IFREG,
    })
}

pub(crate) fn stat_path(path: &Path) -> std::io::Result<Stat> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    statx(libc::AT_FDCWD, &c, 0)
}

pub(crate) fn stat_fd(fd: RawFd) -> std::io::Result<Stat> {
    statx(fd, &CString::default(), libc::AT_EMPTY_PATH)
}

/// How to open a file again: by path, or by duplicating a descriptor its caller keeps open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Path(PathBuf),
    Fd(RawFd),
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Fd(fd) => format!("descriptor {fd}"),
        }
    }

    /// A new read-only descriptor of the file, checked to be `ident`.
    pub fn open(&self, ident: &Identity) -> Result<OwnedFd> {
        let fd = match self {
            Source::Path(p) => {
                let c = CString::new(p.as_os_str().as_bytes())
                    .map_err(|_| Error::new(ErrorKind::InvalidArgument, "path contains a NUL byte"))?;
                // O_NONBLOCK: a FIFO swapped in under the name must not hang us; it is refused below.
                // SAFETY: c is a valid C string.
                let fd = unsafe {
                    libc::open(
                        c.as_ptr(),
                        libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY,
                    )
                };
                if fd < 0 {
                    let e = std::io::Error::last_os_error();
                    if e.raw_os_error() == Some(libc::ENOENT) {
                        bail!(NotFound, "{} was deleted since the cursor opened it, and its descriptor had been closed to keep the open-files budget", p.display());
                    }
                    return Err(Error::os(format_args!("open {}", p.display()), e));
                }
                fd
            }
            // SAFETY: F_DUPFD_CLOEXEC on a descriptor number; a closed one gives EBADF.
            Source::Fd(n) => match unsafe { libc::fcntl(*n, libc::F_DUPFD_CLOEXEC, 0) } {
                fd if fd >= 0 => fd,
                _ => {
                    return Err(Error::os(
                        format_args!(
                            "duplicate descriptor {n} (the caller must keep it open while its cursors read)"
                        ),
                        std::io::Error::last_os_error(),
                    ))
                }
            },
        };
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let st =
            stat_fd(fd.as_raw_fd()).map_err(|e| Error::os(format_args!("fstat {}", self.describe()), e))?;
        if st.ident != *ident {
            bail!(
                NotFound,
                "{} now names another file than the one the cursor opened (it was replaced)",
                self.describe()
            );
        }
        Ok(fd)
    }
}

/// The inode generation (`FS_IOC_GETVERSION`), where the file system has one (ext4, XFS,
/// btrfs): a new inode that reuses a freed inode number gets a new generation, even when it
/// is created within the same clock tick (birth times are only as fine as the kernel's
/// coarse clock).
pub(crate) fn generation(fd: BorrowedFd<'_>) -> Option<u32> {
    let mut v: libc::c_long = 0;
    // SAFETY: the ioctl writes one c_long (its _IOR size) into v.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FS_IOC_GETVERSION, &mut v) };
    (r == 0).then_some(v as u32)
}

/// Reads up to `buf.len()` bytes at `offset`, retrying short reads until end of file.
/// Returns how many bytes were read.
pub(crate) fn pread_full(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    // SAFETY: buf is a valid writable range of buf.len() bytes.
    unsafe { pread_raw(fd, buf.as_mut_ptr(), buf.len(), offset) }
}

/// [`pread_full`] into raw memory.
///
/// # Safety
/// `dst` must be valid for writes of `len` bytes.
pub(crate) unsafe fn pread_raw(
    fd: BorrowedFd<'_>,
    dst: *mut u8,
    len: usize,
    offset: u64,
) -> std::io::Result<usize> {
    let mut done = 0usize;
    while done < len {
        let Ok(off) = libc::off_t::try_from(offset + done as u64) else {
            return Err(std::io::Error::from_raw_os_error(libc::EOVERFLOW));
        };
        // At most 1 GiB per call: Linux reads no more than about 2 GiB at once anyway.
        let want = (len - done).min(1 << 30);
        let n = libc::pread(fd.as_raw_fd(), dst.add(done).cast(), want, off);
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

/// Whether the file can never be shrunk while we map it: a memfd sealed with `F_SEAL_SHRINK`
/// (mba's anonymous arrays are). Reading such a file through a mapping can never fault.
pub(crate) fn cannot_shrink(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: plain fcntl query; EINVAL for files that do not support seals.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & libc::F_SEAL_SHRINK != 0
}

/// What a cursor reads in its file: where the elements start, their type, and how the
/// element count follows from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// Raw, Npy or Mba (never Auto).
    pub kind: Kind,
    /// mba dtype code of the elements (1..=14).
    pub dtype: u32,
    /// Bytes per element.
    pub itemsize: u64,
    /// Byte-swap unit when the file's byte order is not this machine's (`.npy` written on
    /// the other endianness), else 0. Typed reads swap; borrows give the file's bytes.
    pub swap: u64,
    /// File offset of element 0.
    pub data_offset: u64,
    /// Number of dimensions (1 for raw files).
    pub ndim: u32,
    /// Extents of the trailing axes (`shape[1..ndim]`); `shape[0]` is filled in by `shape()`.
    pub trailing: [u64; 8],
    /// Elements per row: the product of the trailing extents (1 for one dimension).
    pub row_size: u64,
    /// For `.npy`: the header's length (data offset) and element count at the last read.
    pub(crate) npy_count: u64,
}

impl Geometry {
    /// Raw elements of `dtype` (0 = u8) from byte `offset`.
    pub(crate) fn raw(dtype: u32, offset: u64) -> Result<Geometry> {
        let dtype = if dtype == 0 { 2 } else { dtype };
        let Some(size) = npy::dtype_itemsize(dtype) else {
            bail!(InvalidArgument, "unknown dtype code {dtype}");
        };
        Ok(Geometry {
            kind: Kind::Raw,
            dtype,
            itemsize: size as u64,
            swap: 0,
            data_offset: offset,
            ndim: 1,
            trailing: [0; 8],
            row_size: 1,
            npy_count: 0,
        })
    }

    /// Reads the file's header as `kind` says (sniffing it for Auto) and checks `dtype`
    /// (0 = any) and `offset` (only raw files take one).
    pub(crate) fn probe(
        fd: BorrowedFd<'_>,
        kind: Kind,
        dtype: u32,
        offset: u64,
        name: &str,
    ) -> Result<Geometry> {
        let kind = if kind == Kind::Auto {
            let mut magic = [0u8; 8];
            let n = pread_full(fd, &mut magic, 0).map_err(|e| Error::os(format_args!("read {name}"), e))?;
            if n >= 6 && &magic[..6] == npy::MAGIC {
                Kind::Npy
            } else if n == 8 && magic == MBA_MAGIC {
                Kind::Mba
            } else {
                Kind::Raw
            }
        } else {
            kind
        };
        if kind == Kind::Raw {
            return Geometry::raw(dtype, offset);
        }
        if offset != 0 {
            bail!(
                InvalidArgument,
                "{name}: an offset applies to raw files only, not to {} files",
                kind.name()
            );
        }
        let g = match kind {
            Kind::Npy => Geometry::npy(fd, name)?,
            _ => Geometry::mba(fd, name)?,
        };
        if dtype != 0 && dtype != g.dtype {
            bail!(
                InvalidArgument,
                "{name} holds {} elements, not {}",
                npy::dtype_name(g.dtype).unwrap_or("?"),
                npy::dtype_name(dtype).unwrap_or("an unknown dtype")
            );
        }
        Ok(g)
    }

    fn npy_header(fd: BorrowedFd<'_>, name: &str) -> Result<npy::NpyHeader> {
        let mut prefix = [0u8; npy::PREFIX_LEN];
        let n = pread_full(fd, &mut prefix, 0).map_err(|e| Error::os(format_args!("read {name}"), e))?;
        let (_, total) = npy::header_len(&prefix[..n]).map_err(|e| e.context(name))?;
        let mut all = vec![0u8; total];
        let n = pread_full(fd, &mut all, 0).map_err(|e| Error::os(format_args!("read {name}"), e))?;
        npy::parse(&all[..n]).map_err(|e| e.context(name))
    }

    fn npy(fd: BorrowedFd<'_>, name: &str) -> Result<Geometry> {
        let h = Geometry::npy_header(fd, name)?;
        let mut trailing = [0u64; 8];
        let mut row_size = 1u64;
        for (i, &d) in h.shape.iter().enumerate().skip(1) {
            trailing[i] = d;
            row_size = row_size.saturating_mul(d);
        }
        Ok(Geometry {
            kind: Kind::Npy,
            dtype: h.dtype,
            itemsize: h.itemsize as u64,
            swap: if h.needs_swap() { npy::swap_unit(h.dtype).unwrap_or(0) as u64 } else { 0 },
            data_offset: h.data_offset,
            ndim: h.shape.len() as u32,
            trailing,
            row_size,
            npy_count: h.count()?,
        })
    }

    fn mba(fd: BorrowedFd<'_>, name: &str) -> Result<Geometry> {
        let mut raw = [0u8; 256];
        let n = pread_full(fd, &mut raw, 0).map_err(|e| Error::os(format_args!("read {name}"), e))?;
        if n < 256 || &raw[..8] != MBA_MAGIC.as_slice() {
            bail!(Corrupt, "{name} is not an mba array (no MBARRAY magic or header cut short)");
        }
        let u32_at = |o: usize| u32::from_ne_bytes(raw[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_ne_bytes(raw[o..o + 8].try_into().unwrap());
        let version = u32_at(8);
        if u32_at(12) != MBA_ENDIAN_TAG {
            bail!(Corrupt, "{name} is an mba array written with the other byte order");
        }
        if !(1..=2).contains(&version) || u32_at(16) != 256 {
            bail!(Corrupt, "{name}: unsupported mba format version {version} or header size {}", u32_at(16));
        }
        let dtype = u32_at(20);
        let Some(itemsize) = npy::dtype_itemsize(dtype) else {
            bail!(Corrupt, "{name}: unknown dtype code {dtype}");
        };
        if u32_at(24) as usize != itemsize {
            bail!(Corrupt, "{name}: item size {} does not match dtype code {dtype}", u32_at(24));
        }
        let ndim = u32_at(28);
        let data_offset = u64_at(32);
        if data_offset < 256 || data_offset % 64 != 0 {
            bail!(Corrupt, "{name}: bad data offset {data_offset}");
        }
        if !(1..=8).contains(&ndim) || (version == 1 && ndim != 1) {
            bail!(Corrupt, "{name}: bad number of dimensions {ndim}");
        }
        let mut trailing = [0u64; 8];
        let mut row_size = 1u64;
        for (i, t) in trailing.iter_mut().enumerate().take(ndim as usize).skip(1) {
            let d = u64_at(136 + 8 * i);
            if d == 0 {
                bail!(Corrupt, "{name}: axis {i} has extent 0");
            }
            *t = d;
            row_size = match row_size.checked_mul(d) {
                Some(r) => r,
                None => bail!(Corrupt, "{name}: row size overflows"),
            };
        }
        Ok(Geometry {
            kind: Kind::Mba,
            dtype,
            itemsize: itemsize as u64,
            swap: 0,
            data_offset,
            ndim,
            trailing,
            row_size,
            npy_count: 0,
        })
    }

    /// Elements the data region of a file of `size` bytes can hold.
    fn fit(&self, size: u64) -> u64 {
        size.saturating_sub(self.data_offset) / self.itemsize
    }

    /// The element count visible now: for raw files what the size holds; for `.npy` the
    /// header's count (re-read, so a shape rewritten after growth is seen), no more than the
    /// size holds; for mba arrays the header's live `len`, clamped the same way. Whole rows only.
    pub(crate) fn count(&mut self, fd: Option<BorrowedFd<'_>>, size: u64, name: &str) -> Result<u64> {
        let n = match (self.kind, fd) {
            (Kind::Raw, _) | (_, None) => self.fit(size),
            (Kind::Npy, Some(fd)) => {
                let h = Geometry::npy_header(fd, name)?;
                if h.data_offset != self.data_offset
                    || h.dtype != self.dtype
                    || h.shape.len() != self.ndim as usize
                {
                    bail!(
                        Corrupt,
                        "{name}: the npy header changed its dtype, dimensions or length under the cursor"
                    );
                }
                if h.shape.iter().skip(1).zip(self.trailing.iter().skip(1)).any(|(a, b)| a != b) {
                    bail!(Corrupt, "{name}: the npy header changed its trailing axes under the cursor");
                }
                self.npy_count = h.count()?;
                self.npy_count.min(self.fit(size))
            }
            (_, Some(fd)) => {
                // len is written atomically by the array's writers; pread copies bytes, so read
                // until two reads agree: a torn value cannot repeat itself.
                let mut last = None;
                let mut len = 0;
                for _ in 0..16 {
                    let mut b = [0u8; 8];
                    if pread_full(fd, &mut b, 64).map_err(|e| Error::os(format_args!("read {name}"), e))? != 8
                    {
                        bail!(Corrupt, "{name}: the mba header was cut short");
                    }
                    len = u64::from_ne_bytes(b);
                    if last == Some(len) {
                        break;
                    }
                    last = Some(len);
                }
                // Elements below the len read are complete (the writer published them first).
                std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
                len.min(self.fit(size))
            }
        };
        Ok(n / self.row_size.max(1) * self.row_size.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_codes() {
        for k in [Kind::Auto, Kind::Raw, Kind::Npy, Kind::Mba] {
            assert_eq!(Kind::from_code(k as u32), Some(k));
        }
        assert_eq!(Kind::from_code(4), None);
    }

    #[test]
    fn raw_geometry_validates_the_dtype() {
        let g = Geometry::raw(0, 3).unwrap();
        assert_eq!((g.dtype, g.itemsize, g.data_offset), (2, 1, 3));
        assert_eq!(Geometry::raw(14, 0).unwrap().itemsize, 16);
        assert!(Geometry::raw(15, 0).is_err());
        assert_eq!(Geometry::raw(6, 2).unwrap().fit(11), 2);
        assert_eq!(Geometry::raw(6, 20).unwrap().fit(11), 0);
    }
}
