//! What happens to handles across `fork()`.
//!
//! A forked child inherits every handle of its parent: the same mapping, the same descriptor,
//! and the parent's in-process state. Appending through such a handle from both processes would
//! lose elements, and freeing it in the child must release nothing of the parent's. So the
//! library registers a `pthread_atfork` child handler that marks every live handle of the
//! parent as *inherited*: its length-changing calls return `WrongProcess` (reads keep working),
//! and dropping it only unmaps and closes. The registry is taken by the prepare handler and
//! given back by the parent and child handlers, so the child never finds it locked.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Once;

/// The per-handle state the fork handler changes, with the lease holder's length beside it so
/// that the lock-free append reads one cache line; at a stable address (boxed) for its life.
#[derive(Debug, Default)]
pub(crate) struct ForkState {
    /// The lease holder's lock-free room (elements it may fill without a call); the child
    /// handler zeroes it so the lock-free path can never run in a child.
    pub(crate) lease_room: AtomicU64,
    /// The lease holder's own length, which no one else may change.
    pub(crate) local_len: AtomicU64,
    /// Set in the child of a fork.
    pub(crate) inherited: AtomicBool,
}

struct Registry {
    lock: AtomicBool,
    set: std::cell::UnsafeCell<Option<HashSet<usize>>>,
}
// SAFETY: `set` is only touched while `lock` is held.
unsafe impl Sync for Registry {}

static REGISTRY: Registry = Registry { lock: AtomicBool::new(false), set: std::cell::UnsafeCell::new(None) };
static INSTALL: Once = Once::new();

fn acquire() {
    while REGISTRY.lock.compare_exchange_weak(false, true, Acquire, Relaxed).is_err() {
        std::thread::yield_now();
    }
}
fn release() {
    REGISTRY.lock.store(false, Release);
}

extern "C" fn prepare() {
    acquire();
}
extern "C" fn parent() {
    release();
}
extern "C" fn child() {
    // Single-threaded here; the registry is ours since `prepare`.
    // SAFETY: the lock is held (taken in prepare by this very thread before fork).
    if let Some(set) = unsafe { &*REGISTRY.set.get() } {
        for &addr in set {
            // SAFETY: registered addresses are live ForkStates (unregistered before they drop).
            let st = unsafe { &*(addr as *const ForkState) };
            st.inherited.store(true, Relaxed);
            st.lease_room.store(0, Relaxed);
        }
    }
    release();
}

/// Registers a handle's state with the fork handler (installing it on first use).
pub(crate) fn register(st: &ForkState) {
    INSTALL.call_once(|| {
        // SAFETY: the handlers are plain extern "C" functions without arguments.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    });
    acquire();
    // SAFETY: the lock is held.
    unsafe { (*REGISTRY.set.get()).get_or_insert_with(HashSet::new).insert(st as *const ForkState as usize) };
    release();
}

/// Removes a handle's state from the registry (before it is dropped).
pub(crate) fn unregister(st: &ForkState) {
    acquire();
    // SAFETY: the lock is held.
    if let Some(set) = unsafe { &mut *REGISTRY.set.get() } {
        set.remove(&(st as *const ForkState as usize));
    }
    release();
}
