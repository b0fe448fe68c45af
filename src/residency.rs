//! Memory residency of a handle's data: `mlock`, `munlock` and `madvise`.
//!
//! Built only on the public API of [`Array`] (its data pointer, length and sizes): the
//! mapping never moves, so the address ranges below stay valid for the handle's life.
//!
//! - [`Array::mlock`] locks the pages of the elements *published when it is called*
//!   (`0..len()`, rounded out to whole pages): those are the pages known to lie in the store.
//!   Elements appended later are not locked; call it again to lock them too.
//! - [`Array::munlock`] and [`Array::madvise`] act on the handle's whole data mapping, the
//!   elements there are and the ones to come (`max_capacity()` elements), since neither makes
//!   pages resident beyond the store: an advice such as `Sequential` or `HugePage` then also
//!   applies to growth, and `munlock` undoes every earlier `mlock` whatever the length did since.
//!
//! Locks and advice belong to this handle's mapping in this process: other handles and other
//! processes are not affected, and both end when the handle is dropped.

use crate::array::Array;
use crate::error::{bail, Error, ErrorKind, Result};

/// How the data will be accessed, for [`Array::madvise`]. Codes are those of `MBA_ADVICE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Advice {
    /// No special treatment (`MADV_NORMAL`).
    Normal = 0,
    /// Read in order: read ahead aggressively, drop pages soon after (`MADV_SEQUENTIAL`).
    Sequential = 1,
    /// Read in random order: no read-ahead (`MADV_RANDOM`).
    Random = 2,
    /// Will be needed soon: start bringing the pages in (`MADV_WILLNEED`).
    WillNeed = 3,
    /// Not needed soon: drop this mapping's pages. The data stays in the store and comes back
    /// on the next access (`MADV_DONTNEED`; safe on a shared mapping).
    DontNeed = 4,
    /// Back the mapping with transparent huge pages where the system allows it for shared
    /// memory or files (`MADV_HUGEPAGE`; see /sys/kernel/mm/transparent_hugepage/shmem_enabled).
    HugePage = 5,
}

impl Advice {
    /// Every advice, in code order.
    pub const ALL: [Advice; 6] = [
        Advice::Normal,
        Advice::Sequential,
        Advice::Random,
        Advice::WillNeed,
        Advice::DontNeed,
        Advice::HugePage,
    ];

    /// The advice with code `code`, or `None`.
    pub fn from_code(code: u32) -> Option<Advice> {
        Advice::ALL.get(code as usize).copied()
    }

    /// The code (`MBA_ADVICE_*`).
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The lower-case name: `"normal"`, `"sequential"`, `"random"`, `"willneed"`, `"dontneed"`, `"hugepage"`.
    pub fn name(self) -> &'static str {
        match self {
            Advice::Normal => "normal",
            Advice::Sequential => "sequential",
            Advice::Random => "random",
            Advice::WillNeed => "willneed",
            Advice::DontNeed => "dontneed",
            Advice::HugePage => "hugepage",
        }
    }

    fn raw(self) -> libc::c_int {
        match self {
            Advice::Normal => libc::MADV_NORMAL,
            Advice::Sequential => libc::MADV_SEQUENTIAL,
            Advice::Random => libc::MADV_RANDOM,
            Advice::WillNeed => libc::MADV_WILLNEED,
            Advice::DontNeed => libc::MADV_DONTNEED,
            Advice::HugePage => libc::MADV_HUGEPAGE,
        }
    }
}

fn page() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 {
        4096
    } else {
        p as usize
    }
}

/// `[start, start + len)` rounded out to whole pages: (page-aligned address, length).
fn pages(start: usize, len: usize) -> (usize, usize) {
    let p = page();
    let lo = start / p * p;
    let hi = start.saturating_add(len).div_ceil(p).saturating_mul(p);
    (lo, hi - lo)
}

/// The soft and hard `RLIMIT_MEMLOCK` in bytes (`None` = unlimited).
pub fn memlock_limit() -> (Option<u64>, Option<u64>) {
    // SAFETY: rl is written by getrlimit.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut rl) } != 0 {
        return (None, None);
    }
    let f = |v: libc::rlim_t| -> Option<u64> {
        if v == libc::RLIM_INFINITY {
            None
        } else {
            Some(v)
        }
    };
    (f(rl.rlim_cur), f(rl.rlim_max))
}

/// Bytes this process has locked now (`VmLck` of /proc/self/status), if known.
pub fn locked_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmLck:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

impl Array {
    /// Locks the pages of the elements published now into RAM (`mlock(2)`), faulting them in:
    /// later reads and writes of them neither page-fault nor go to swap.
    ///
    /// Elements appended after the call are not covered; call again to cover them. Errors:
    /// `Permission` when `RLIMIT_MEMLOCK` (or its absence of privilege, `CAP_IPC_LOCK`) forbids
    /// it, with the limit and what is locked already in the message; `NoSpace` when the system
    /// is out of memory.
    pub fn mlock(&self) -> Result<()> {
        let (start, len) = self.published_pages()?;
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies in this handle's mapping and in the store (checked above).
        if unsafe { libc::mlock(start as *const libc::c_void, len) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        Err(self.mlock_error(len, e))
    }

    /// Unlocks the handle's data mapping (`munlock(2)`): every page earlier `mlock` calls of
    /// this handle locked may be paged out again. Unlocking pages that are not locked is not
    /// an error. Errors: `Io` (the system refused).
    pub fn munlock(&self) -> Result<()> {
        let (start, len) = self.data_pages();
        // SAFETY: the range lies in this handle's mapping; munlock only changes page flags.
        if unsafe { libc::munlock(start as *const libc::c_void, len) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(Error::os(format_args!("munlock {}", self.label()), e));
        }
        Ok(())
    }

    /// Advises the system how the handle's data mapping will be used (`madvise(2)`), for the
    /// elements there are and those to come. Errors: `InvalidArgument` when the system does not
    /// support `advice` for this store (`HugePage` without transparent huge pages), or for
    /// `DontNeed` while pages are locked by [`Array::mlock`]; `Io`.
    pub fn madvise(&self, advice: Advice) -> Result<()> {
        let (start, len) = self.data_pages();
        // SAFETY: the range lies in this handle's mapping; no advice here makes pages beyond
        // the store resident (WILLNEED reads ahead only what the store holds).
        if unsafe { libc::madvise(start as *mut libc::c_void, len, advice.raw()) } != 0 {
            let e = std::io::Error::last_os_error();
            let hint = if advice == Advice::DontNeed && e.raw_os_error() == Some(libc::EINVAL) {
                " (locked pages cannot be dropped: munlock first)"
            } else {
                ""
            };
            return Err(Error::os(format_args!("madvise {} {}{hint}", self.label(), advice.name()), e));
        }
        Ok(())
    }

    /// Pages of the published elements. `len()` never exceeds what the store backs, even when
    /// a peer scribbled on the header, so these pages all lie in the store.
    fn published_pages(&self) -> Result<(usize, usize)> {
        let n = self.len();
        let Some(bytes) = usize::try_from(n).ok().and_then(|n| n.checked_mul(self.itemsize())) else {
            bail!(InvalidArgument, "mlock {}: length {n} overflows", self.label());
        };
        Ok(pages(self.data_ptr() as usize, bytes))
    }

    /// Pages of the whole data mapping: from element 0 to the end of the reservation.
    fn data_pages(&self) -> (usize, usize) {
        let bytes = (self.max_capacity() as usize).saturating_mul(self.itemsize());
        let (start, len) = pages(self.data_ptr() as usize, bytes);
        // Rounding up must not pass the reservation's end, which is page-aligned: it does not.
        (start, len)
    }

    /// The URI for messages; anonymous arrays have none.
    fn label(&self) -> &str {
        if self.uri().is_empty() {
            "(anonymous array)"
        } else {
            self.uri()
        }
    }

    #[cold]
    fn mlock_error(&self, len: usize, e: std::io::Error) -> Error {
        let uri = self.label();
        let errno = e.raw_os_error().unwrap_or(0);
        if errno != libc::ENOMEM && errno != libc::EPERM && errno != libc::EAGAIN {
            return Error::os(format_args!("mlock {uri}"), e);
        }
        let (soft, hard) = memlock_limit();
        let show = |v: Option<u64>| v.map_or_else(|| "unlimited".to_owned(), |b| format!("{b} bytes"));
        let locked = locked_bytes().map_or_else(String::new, |b| format!(", {b} bytes already locked"));
        let over = match soft {
            Some(l) => (len as u64).saturating_add(locked_bytes().unwrap_or(0)) > l,
            None => false,
        };
        if errno == libc::EPERM || over {
            return Error::new(
                ErrorKind::Permission,
                format!(
                    "mlock {uri}: locking {len} bytes exceeds RLIMIT_MEMLOCK (soft limit {}, hard limit {}{locked}); \
                     raise it (ulimit -l, LimitMEMLOCK=, /etc/security/limits.conf) or grant CAP_IPC_LOCK",
                    show(soft),
                    show(hard)
                ),
            );
        }
        Error::new(
            ErrorKind::NoSpace,
            format!(
                "mlock {uri}: cannot lock {len} bytes: {e} (RLIMIT_MEMLOCK soft limit {}{locked})",
                show(soft)
            ),
        )
    }
}
