//! The C ABI of mba: the exports of `include/mba.h`.
//!
//! A thin skin over the safe core: every export runs inside one panic boundary
//! (`macros.rs`), checks its pointers in one place, validates every integer that comes
//! from C (flags, dtype codes, counts) before using it, writes outputs only on success,
//! and records a message for [`error::mba_last_error`] on every failure.

// Every export takes raw pointers from C and dereferences them after a NULL check; their
// validity is the documented contract of the C API, as in any C library.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

#[macro_use]
mod macros;
pub mod array;
pub mod claim;
pub mod error;
pub mod list;
pub mod npy;
pub mod raw;
pub mod residency;
pub mod window;

pub use array::*;
pub use claim::*;
pub use error::*;
pub use list::*;
pub use npy::*;
pub use raw::*;
pub use residency::*;
pub use window::*;
