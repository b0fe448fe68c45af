//! Errors of the core: a kind per failure class and a message naming the cause.

use std::fmt;
use std::io;

/// The class of a failure. The C layer maps each kind to a stable status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument is malformed: a bad URI, an unknown dtype or flag, an overflowing count.
    InvalidArgument,
    /// A required pointer or reference was missing (the C layer's NULL arguments).
    NullPointer,
    /// An index or range lies outside `0..len`.
    OutOfBounds,
    /// A mutation was asked of a handle attached read-only.
    ReadOnly,
    /// The named array does not exist.
    NotFound,
    /// The name is already taken (create without overwrite).
    Exists,
    /// The store does not hold a valid mba array, or its header contradicts the store.
    Corrupt,
    /// The file system, `/dev/shm` or the handle's address reservation is full.
    NoSpace,
    /// Another handle holds the writer lease.
    Busy,
    /// `pop` on an empty array.
    Empty,
    /// The operating system denied access.
    Permission,
    /// Any other operating-system failure.
    Io,
    /// The wrong element type was used with a typed call.
    TypeMismatch,
    /// A handle inherited through `fork()` was asked to change the array: attach anew.
    WrongProcess,
    /// A compare-and-splice found other elements than the expected ones: nothing changed.
    Changed,
}

/// An error of the mba core: what failed, on which array, and why.
///
/// One pointer wide (the details are boxed), so that `Result<()>` stays small on the hot paths
/// that almost never fail.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.message)]
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    message: String,
    source: Option<io::Error>,
}

/// The result type of the mba core.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `kind` with a message naming the cause.
    #[cold]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner { kind, message: message.into(), source: None }))
    }

    /// An operating-system error: the kind follows from the errno, the message
    /// carries `context` (operation and path) and the errno text.
    #[cold]
    pub fn os(context: impl fmt::Display, err: io::Error) -> Self {
        let kind = kind_of_errno(err.raw_os_error().unwrap_or(0));
        Error(Box::new(Inner { kind, message: format!("{context}: {err}"), source: Some(err) }))
    }

    /// The class of this failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The operating-system error behind this one, if any.
    pub fn os_error(&self) -> Option<&io::Error> {
        self.0.source.as_ref()
    }

    /// The same error with `prefix: ` put in front of its message.
    #[cold]
    pub(crate) fn context(mut self, prefix: impl fmt::Display) -> Self {
        self.0.message = format!("{prefix}: {}", self.0.message);
        self
    }
}

fn kind_of_errno(errno: i32) -> ErrorKind {
    match errno {
        libc::ENOENT => ErrorKind::NotFound,
        libc::EEXIST => ErrorKind::Exists,
        libc::EACCES | libc::EPERM | libc::EROFS => ErrorKind::Permission,
        libc::ENOSPC | libc::EDQUOT | libc::EFBIG | libc::ENOMEM => ErrorKind::NoSpace,
        libc::EINVAL | libc::ENAMETOOLONG | libc::EISDIR | libc::ENOTDIR => ErrorKind::InvalidArgument,
        libc::EWOULDBLOCK => ErrorKind::Busy,
        _ => ErrorKind::Io,
    }
}

/// Shorthand for an early `Err(Error::new(kind, format!(...)))`.
macro_rules! bail {
    ($kind:ident, $($fmt:tt)+) => {
        return Err($crate::error::Error::new($crate::error::ErrorKind::$kind, format!($($fmt)+)))
    };
}
pub(crate) use bail;
