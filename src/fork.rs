//! What happens to handles across `fork()`.
//!
//! A forked child inherits every handle of its parent: the same mapping, the same descriptor,
//! and the parent's in-process state. Appending through such a handle from both processes would
//! lose elements, and freeing it in the child must release nothing of the parent's. So the
//! library registers a `pthread_atfork` child handler that marks every live handle of the
//! parent as *inherited*: its length-changing calls return `WrongProcess` (reads keep working),
//! and dropping it only unmaps and closes. The registry is taken by the prepare handler and
//! given back by the parent and child handlers, so the child never finds it locked.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

/// The per-handle state the fork handler changes, with the lease holder's length beside it so
/// that the lock-free append reads one cache line; at a stable address (boxed) for its life.
#[derive(Debug)]
pub(crate) struct ForkState {
    /// The lease holder's lock-free room (elements it may fill without a call); the child
    /// handler zeroes it so the lock-free path can never run in a child.
    pub(crate) lease_room: AtomicU64,
    /// The lease holder's own length, which no one else may change.
    pub(crate) local_len: AtomicU64,
    /// Set in the child of a fork.
    pub(crate) inherited: AtomicBool,
    /// The registry's links (touched only under its lock).
    prev: std::cell::Cell<*const ForkState>,
    next: std::cell::Cell<*const ForkState>,
}

impl Default for ForkState {
    fn default() -> Self {
        ForkState {
            lease_room: AtomicU64::new(0),
            local_len: AtomicU64::new(0),
            inherited: AtomicBool::new(false),
            prev: std::cell::Cell::new(std::ptr::null()),
            next: std::cell::Cell::new(std::ptr::null()),
        }
    }
}

// SAFETY: the links are only read or written under the registry's lock; the rest is atomic.
unsafe impl Sync for ForkState {}
unsafe impl Send for ForkState {}

/// The registry: an intrusive doubly-linked list through the registered states (no allocation,
/// no hashing), guarded by a spin lock that the prepare handler holds across the fork.
struct Registry {
    lock: AtomicBool,
    head: std::cell::Cell<*const ForkState>,
}
// SAFETY: `head` and the links are only touched while `lock` is held.
unsafe impl Sync for Registry {}

static REGISTRY: Registry =
    Registry { lock: AtomicBool::new(false), head: std::cell::Cell::new(std::ptr::null()) };
static INSTALL: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// This process's (pid, start time), cached until a fork makes a new process.
static IDENTITY: (AtomicU64, AtomicU64) = (AtomicU64::new(0), AtomicU64::new(0));
/// This process's pid alone (no read of `/proc`), cached likewise.
static PID: AtomicU64 = AtomicU64::new(0);

#[link_section = ".text.hot.mba"]
fn acquire() {
    while REGISTRY.lock.compare_exchange_weak(false, true, Acquire, Relaxed).is_err() {
        std::thread::yield_now();
    }
}
#[link_section = ".text.hot.mba"]
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
    IDENTITY.0.store(0, Relaxed);
    PID.store(0, Relaxed);
    let mut p = REGISTRY.head.get();
    while !p.is_null() {
        // SAFETY: registered states are live (unregistered before they drop); the lock is held.
        let st = unsafe { &*p };
        st.inherited.store(true, Relaxed);
        st.lease_room.store(0, Relaxed);
        p = st.next.get();
    }
    release();
}

/// Installs the fork handlers once per process: 0 not yet, 1 being installed, 2 installed.
/// (An atomic rather than `std::sync::Once`: one piece of code fewer for a first attach to run.)
#[link_section = ".text.hot.mba"]
fn install() {
    if INSTALL.load(Acquire) == 2 {
        return;
    }
    if INSTALL.compare_exchange(0, 1, Acquire, Acquire).is_ok() {
        // SAFETY: the handlers are plain extern "C" functions without arguments.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        INSTALL.store(2, Release);
        return;
    }
    while INSTALL.load(Acquire) != 2 {
        std::thread::yield_now();
    }
}

/// This process's pid and start time (see `sys::process_identity`), read once per process.
pub(crate) fn identity() -> (u64, u64) {
    install();
    let pid = IDENTITY.0.load(Acquire);
    if pid != 0 {
        return (pid, IDENTITY.1.load(Relaxed));
    }
    let (pid, start) = crate::sys::process_identity();
    IDENTITY.1.store(start, Relaxed);
    IDENTITY.0.store(pid, Release);
    PID.store(pid, Relaxed);
    (pid, start)
}

/// This process's pid, read once per process.
#[link_section = ".text.hot.mba"]
pub(crate) fn pid() -> u64 {
    install();
    match PID.load(Relaxed) {
        0 => {
            // SAFETY: getpid has no preconditions.
            let p = unsafe { libc::getpid() } as u64;
            PID.store(p, Relaxed);
            p
        }
        p => p,
    }
}

/// Registers a handle's state with the fork handler (installing it on first use).
#[link_section = ".text.hot.mba"]
pub(crate) fn register(st: &ForkState) {
    install();
    acquire();
    let head = REGISTRY.head.get();
    st.prev.set(std::ptr::null());
    st.next.set(head);
    if !head.is_null() {
        // SAFETY: head is a live registered state; the lock is held.
        unsafe { &*head }.prev.set(st);
    }
    REGISTRY.head.set(st);
    release();
}

/// Removes a handle's state from the registry (before it is dropped).
#[link_section = ".text.hot.mba"]
pub(crate) fn unregister(st: &ForkState) {
    acquire();
    let (prev, next) = (st.prev.get(), st.next.get());
    if prev.is_null() {
        if std::ptr::eq(REGISTRY.head.get(), st) {
            REGISTRY.head.set(next);
        }
    } else {
        // SAFETY: linked states are live; the lock is held.
        unsafe { &*prev }.next.set(next);
    }
    if !next.is_null() {
        // SAFETY: as above.
        unsafe { &*next }.prev.set(prev);
    }
    st.prev.set(std::ptr::null());
    st.next.set(std::ptr::null());
    release();
}
