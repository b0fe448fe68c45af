//! Claim and commit, and waiting for the length: the exports of `claim.rs` and `wait.rs`.

use super::array::mba_array;
use super::error::*;
use std::ffi::c_void;
use std::time::Duration;

/// The `timeout_ms` of mba_wait_len that means no limit.
pub const MBA_WAIT_FOREVER: u64 = u64::MAX;
/// How many elements the bindings' batching appenders (C++ mba::appender, Go Appender) claim at
/// a time unless told otherwise.
pub const MBA_DEFAULT_BATCH: u64 = 4096;
const _: () = assert!(MBA_DEFAULT_BATCH == crate::claim::DEFAULT_BATCH as u64);

/// Claims room for `count` elements past the published length and returns in `*out` a pointer
/// to the first (64-byte aligned for arrays mba creates, as mba_data). Write up to `count`
/// elements there, then publish the first `k` with mba_commit(a, k), or none with mba_abort(a).
/// The store grows first if needed, with its storage allocated, so writes into the room never
/// fault (no SIGBUS). For an array with a shape, `count` is a whole number of rows.
///
/// What readers see: nothing of the room until mba_commit, then all `k` elements at once (one
/// release store of the length); a writer killed before committing leaves the array as it was.
/// Until mba_commit or mba_abort the claim holds the right to append: on a handle without
/// MBA_EXCLUSIVE, the append lock (other handles' appenders, in any process, wait for it up to
/// their timeout and then get MBA_ERR_BUSY, as during a long append; keep claims short) and the
/// handle's own lock. An MBA_EXCLUSIVE handle takes no lock.
///
/// Between claim and commit, on this handle: reads (mba_get, mba_read, mba_len, mba_data,
/// mba_wait_len), in-place writes (mba_set, mba_write) and mba_msync may be called from any
/// thread. Length-changing calls (mba_append, mba_extend, mba_pop, mba_truncate, mba_splice,
/// mba_reserve, mba_claim) fail with MBA_ERR_BUSY when made by the claiming thread or on an
/// MBA_EXCLUSIVE handle; on a handle without MBA_EXCLUSIVE, other threads' calls wait for the
/// commit (up to the handle's timeout, then MBA_ERR_BUSY). mba_free aborts an open claim. In a
/// child of fork() the parent's claim cannot be committed (MBA_ERR_WRONG_PROCESS).
///
/// Errors: as mba_extend (MBA_ERR_READ_ONLY, MBA_ERR_BUSY, MBA_ERR_NO_SPACE,
/// MBA_ERR_INVALID_ARGUMENT for a count that overflows or is not whole rows,
/// MBA_ERR_WRONG_PROCESS), and MBA_ERR_BUSY when this handle already has a claim open.
/// Ownership: the room belongs to the handle; the pointer is valid until mba_free, but the
/// claim, and the right to write there, ends with mba_commit or mba_abort. Threads: the claim
/// may be committed or aborted from any thread, once.
#[no_mangle]
pub extern "C" fn mba_claim(a: *mut mba_array, count: u64, out: *mut *mut c_void) -> mba_status {
    ffi_status!("mba_claim", {
        let a = handle!(a);
        let out = non_null!(out);
        // SAFETY: the caller serialises the length-changing calls of an exclusive handle, a
        // claim counting as one until its commit (documented contract).
        let p = unsafe { a.claim_raw_unsync(count)? };
        // SAFETY: out was checked non-NULL; written only on success.
        unsafe { *out = p.cast() };
        Ok(())
    })
}

/// Publishes the first `count` elements of the claim open on `a` (at most the number claimed;
/// whole rows for an array with a shape; 0 publishes nothing) and ends the claim, giving back
/// the append lock. Readers in every process see all `count` elements at once; the elements
/// after them that were claimed are not published.
///
/// Errors: MBA_ERR_INVALID_ARGUMENT when no claim is open, or `count` exceeds the claim or is
/// not whole rows (the claim then stays open: commit again or abort); MBA_ERR_WRONG_PROCESS in
/// a child of fork(); MBA_ERR_READ_ONLY. Threads: any thread, once per claim.
#[no_mangle]
pub extern "C" fn mba_commit(a: *mut mba_array, count: u64) -> mba_status {
    ffi_status!("mba_commit", { handle!(a).commit(count) })
}

/// Ends the claim open on `a` without publishing anything, giving back the append lock.
///
/// Errors: MBA_ERR_INVALID_ARGUMENT when no claim is open; MBA_ERR_WRONG_PROCESS in a child of
/// fork(); MBA_ERR_READ_ONLY. Threads: any thread, once per claim.
#[no_mangle]
pub extern "C" fn mba_abort(a: *mut mba_array) -> mba_status {
    ffi_status!("mba_abort", { handle!(a).abort() })
}

/// Waits until the published length of `a` is at least `len`, or `timeout_ms` milliseconds pass
/// (0: do not wait; MBA_WAIT_FOREVER: no limit), and writes the length then to `*out_len`: at
/// least `len` unless the time ran out. Returns MBA_OK in both cases.
///
/// The caller spins for a few microseconds, then sleeps in the kernel (no CPU) until an appender
/// in any process publishes: appenders wake sleepers through a futex on the header's `len`
/// (docs/FORMAT.md, Waiting for the length). A handle attached read-write registers itself in the
/// header so that appenders wake it at once; a read-only handle cannot write the header, and
/// looks again after an eighth of the time it has waited, 10 ms at most (attach read-write to be
/// woken at once). Every sleep is bounded, so no writer, dead or alive, can keep a waiter asleep
/// beyond `timeout_ms`. The spin before sleeping adapts to how soon data came in earlier waits
/// of the handle, and is skipped where the process may run on one CPU only.
///
/// Errors: MBA_ERR_NULL_POINTER; MBA_ERR_INVALID_ARGUMENT on a handle of a raw or `.npy` file
/// (mba_attach_ex with a dtype, `npy://`) asked to wait for more than its length, which is
/// fixed. Threads: any number at once, alongside any call (it changes nothing of the array).
#[no_mangle]
pub extern "C" fn mba_wait_len(
    a: *const mba_array,
    len: u64,
    timeout_ms: u64,
    out_len: *mut u64,
) -> mba_status {
    ffi_status!("mba_wait_len", {
        let a = handle!(a);
        let out_len = non_null!(out_len);
        let timeout = (timeout_ms != MBA_WAIT_FOREVER).then(|| Duration::from_millis(timeout_ms));
        let n = a.wait_len(len, timeout)?;
        // SAFETY: out_len was checked non-NULL; written only on success.
        unsafe { *out_len = n };
        Ok(())
    })
}
