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

mod array;
mod dtype;
mod error;
pub mod layout;
mod lock;
pub mod npy;
mod store;
mod sys;
pub mod window;

pub mod ffi;

pub use array::{
    delete, Array, Options, DEFAULT_CAPACITY_BYTES, DEFAULT_MODE, DEFAULT_RESERVATION, GROWTH_DIVISOR,
    MAX_GROWTH_STEP,
};
pub use dtype::{Dtype, Element};
pub use error::{Error, ErrorKind, Result};
pub use store::{MAX_SHM_NAME, SHM_DIR};
