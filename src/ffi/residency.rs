//! Memory residency from C: `mba_mlock`, `mba_munlock`, `mba_madvise`.

use super::array::mba_array;
use super::error::*;
use crate::error::{Error, ErrorKind};
use crate::residency::Advice;

/// mba_madvise: no special treatment (MADV_NORMAL).
pub const MBA_ADVICE_NORMAL: u32 = 0;
/// mba_madvise: accessed in order; read ahead, free behind (MADV_SEQUENTIAL).
pub const MBA_ADVICE_SEQUENTIAL: u32 = 1;
/// mba_madvise: accessed in random order; no read-ahead (MADV_RANDOM).
pub const MBA_ADVICE_RANDOM: u32 = 2;
/// mba_madvise: needed soon; start bringing the pages in (MADV_WILLNEED).
pub const MBA_ADVICE_WILLNEED: u32 = 3;
/// mba_madvise: not needed soon; drop this mapping's pages, the data stays in the store (MADV_DONTNEED).
pub const MBA_ADVICE_DONTNEED: u32 = 4;
/// mba_madvise: use transparent huge pages where the system allows (MADV_HUGEPAGE).
pub const MBA_ADVICE_HUGEPAGE: u32 = 5;

/// Locks into RAM the pages of the elements published now (`mlock(2)`, elements
/// `0 .. mba_len()` rounded out to whole pages): they are faulted in and never paged out
/// while the lock holds. Elements appended later are not covered: call again to cover them.
/// The lock belongs to this handle's mapping; mba_munlock or mba_free ends it.
///
/// Errors: MBA_ERR_PERMISSION when RLIMIT_MEMLOCK forbids it (the message names the limit,
/// its value and what is locked already), MBA_ERR_NO_SPACE when memory is short.
/// Threads: any.
#[no_mangle]
pub extern "C" fn mba_mlock(a: *const mba_array) -> mba_status {
    ffi_status!("mba_mlock", {
        let a = handle!(a);
        a.mlock()
    })
}

/// Unlocks the handle's whole data mapping (`munlock(2)`), undoing every mba_mlock of this
/// handle. Not an error when nothing is locked. Errors: MBA_ERR_IO. Threads: any.
#[no_mangle]
pub extern "C" fn mba_munlock(a: *const mba_array) -> mba_status {
    ffi_status!("mba_munlock", {
        let a = handle!(a);
        a.munlock()
    })
}

/// Advises the system how the handle's data will be accessed (`madvise(2)`), over its whole
/// data mapping, so the advice holds for elements appended later too. `advice`: one of
/// MBA_ADVICE_NORMAL, _SEQUENTIAL, _RANDOM, _WILLNEED, _DONTNEED, _HUGEPAGE. DONTNEED never
/// loses data: the pages come back from the store on the next access.
///
/// Errors: MBA_ERR_INVALID_ARGUMENT for an unknown advice, one the system does not support for
/// this store (HUGEPAGE without transparent huge pages), or DONTNEED while mba_mlock holds pages;
/// MBA_ERR_IO. Threads: any.
#[no_mangle]
pub extern "C" fn mba_madvise(a: *const mba_array, advice: u32) -> mba_status {
    ffi_status!("mba_madvise", {
        let a = handle!(a);
        let Some(advice) = Advice::from_code(advice) else {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("unknown advice {advice}")));
        };
        a.madvise(advice)
    })
}

const _: () = {
    assert!(MBA_ADVICE_NORMAL == Advice::Normal as u32);
    assert!(MBA_ADVICE_SEQUENTIAL == Advice::Sequential as u32);
    assert!(MBA_ADVICE_RANDOM == Advice::Random as u32);
    assert!(MBA_ADVICE_WILLNEED == Advice::WillNeed as u32);
    assert!(MBA_ADVICE_DONTNEED == Advice::DontNeed as u32);
    assert!(MBA_ADVICE_HUGEPAGE == Advice::HugePage as u32);
};
