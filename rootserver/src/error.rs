//! Errors of the framework: kernel errors with their detail words, and the
//! framework's own.

pub use sel4_sys::{InvocationError, LookupFailure};

/// An error from the kernel or from the framework's own checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The kernel refused an invocation.
    Kernel(InvocationError),
    /// No free capability slot is left in the allocator.
    SlotsExhausted,
    /// No untyped memory can satisfy the request.
    UntypedExhausted { size_bits: usize },
    /// An allocator (slots, untyped bookkeeping, virtual ranges) refused
    /// the request; the error names it.
    Alloc(sel4_alloc::AllocError),
    /// A badge does not fit the kernel's badge field.
    BadgeTooLarge { badge: u64 },
    /// The object type has no fixed size; use the sized retype.
    NotRetypable { cap_type: &'static str },
    /// A check of the framework failed (the text says which).
    Check(&'static str),
}

/// Result of a framework operation.
pub type Result<T> = core::result::Result<T, Error>;

impl From<InvocationError> for Error {
    fn from(e: InvocationError) -> Error {
        Error::Kernel(e)
    }
}

impl From<sel4_alloc::AllocError> for Error {
    fn from(e: sel4_alloc::AllocError) -> Error {
        Error::Alloc(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Kernel(e) => write!(f, "kernel error: {e}"),
            Error::SlotsExhausted => write!(f, "no free capability slot"),
            Error::Alloc(e) => write!(f, "{e}"),
            Error::UntypedExhausted { size_bits } => {
                write!(f, "no untyped memory for an object of 2^{size_bits} bytes")
            }
            Error::BadgeTooLarge { badge } => {
                write!(f, "badge {badge:#x} does not fit the kernel's badge field")
            }
            Error::NotRetypable { cap_type } => {
                write!(f, "{cap_type} objects cannot be retyped by type alone")
            }
            Error::Check(what) => write!(f, "check failed: {what}"),
        }
    }
}
