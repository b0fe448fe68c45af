//! # mba — typed, growable arrays in shared memory maps
//!
//! An mba array lives in a POSIX shared-memory object, a file, or an anonymous memfd, with
//! a documented 256-byte header (`docs/FORMAT.md`) and its elements after it. Any number of
//! processes, in any language, attach to it by name and read and append with zero copies:
//!
//! ```
//! use mba::{Array, Dtype, Options};
//! let name = format!("shm://mba-doc-{}", std::process::id());
//! let a = Array::create(&name, Dtype::U32, 4, Options::default())?;
//! let b = Array::attach(&name, Options { read_only: true, ..Options::default() })?;
//! for i in 0..1000u32 { a.push(i)?; }           // grows past capacity 4
//! assert_eq!(b.get::<u32>(999)?, 999);          // seen by the other handle, no re-attach
//! mba::delete(&name)?;
//! # Ok::<(), mba::Error>(())
//! ```
//!
//! The core in this crate knows nothing of C; [`ffi`] turns it into the C ABI of `mba.h`.

// Code layout. The functions a first attach in a new process runs are marked
// `#[link_section = ".text.hot.mba"]`, and `src/ffi/hot.ld` (passed to the linker by build.rs)
// puts them in one output section together with the std, memmap2 and glibc functions they call
// and the library's load-time constructors. The kernel maps code 64 KiB at a time on its first
// touch, one page fault each; the constructors run when the library is loaded, so a first
// mba_attach usually finds its code mapped already. Measured with /proc/self/pagemap across a
// first mba_attach: 52 pages of libmba's code newly mapped before the script, none after; a
// first attach timed inside a new process (the benchmark's `native --attach mba`, 40 interleaved
// runs): 24.8 -> 18.9 us, against 12.1 us for raw shm_open + fstat + mmap. The test
// `the_code_a_first_attach_runs_sits_together_at_one_place_in_the_library` holds the layout.
mod array;
mod claim;
mod dtype;
mod error;
mod fork;
mod growth;
pub mod layout;
pub mod list;
mod lock;
pub mod npy;
mod raw;
mod region;
mod residency;
mod store;
mod sys;
mod wait;
pub mod window;
mod writer;

pub mod ffi;

pub use array::{
    delete, delete_with, Array, Options, DEFAULT_CAPACITY_BYTES, DEFAULT_MAX_BYTES, DEFAULT_MODE,
    DEFAULT_TIMEOUT_MS, GROWTH_DIVISOR, MAX_GROWTH_STEP,
};
pub use claim::{Appender, DEFAULT_BATCH};
pub use dtype::{Bool, Dtype, Element, F16};
pub use error::{Error, ErrorKind, Result};
pub use raw::{Kind, RawOptions};
pub use residency::Advice;
pub use store::{MAX_SHM_NAME, SHM_DIR};
