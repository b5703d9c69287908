//! Errors of the framework: kernel errors with their detail words, the
//! allocators' conditions, and the framework's own checks. One condition
//! has one variant: running out of slots is always
//! `Error::Alloc(AllocError::SlotsExhausted { .. })`, out of memory always
//! `Error::Alloc(AllocError::UntypedExhausted { .. })` (or
//! `UntypedFull` for one named untyped), whichever call found it.

pub use sel4_alloc::AllocError;
pub use sel4_sys::{InvocationError, LookupFailure};

/// An error from the kernel or from the framework's own checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The kernel refused an invocation.
    Kernel(InvocationError),
    /// An allocator (slots, untyped memory, virtual ranges, capability
    /// bookkeeping) refused the request; the error names it.
    Alloc(AllocError),
    /// Capability data does not fit the kernel's field: a badge (28 bits
    /// on seL4 5.x, a word later), a CNode guard or its size; the error
    /// names which and the value.
    CapDataTooWide(sel4::DataTooWide),
    /// A handle given to an allocator that did not hand it out (another
    /// `Objects`, another CNode, or one that no longer exists). Nothing
    /// was done.
    NotOwner {
        /// The handle's slot (an index in its CNode for a child capability).
        slot: u64,
    },
    /// The kernel made a frame at another physical address than the one
    /// asked for: the bookkeeping of that memory was wrong (something
    /// retyped from it behind the framework's back). The frame was deleted
    /// again.
    FrameMismatch {
        /// The physical address asked for.
        wanted: u64,
        /// Where the kernel put the frame (`X86_Page_GetAddress`).
        got: u64,
    },
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

impl From<sel4::DataTooWide> for Error {
    fn from(e: sel4::DataTooWide) -> Error {
        Error::CapDataTooWide(e)
    }
}

impl From<AllocError> for Error {
    fn from(e: AllocError) -> Error {
        Error::Alloc(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Kernel(e) => {
                f.write_str("kernel error: ")?;
                e.fmt(f)
            }
            Error::Alloc(e) => e.fmt(f),
            Error::CapDataTooWide(e) => e.fmt(f),
            Error::NotOwner { slot } => write!(
                f,
                "the handle of slot {slot:#x} belongs to another allocator (give it to the Objects that made it)"
            ),
            Error::FrameMismatch { wanted, got } => write!(
                f,
                "asked for the frame at {wanted:#x}, the kernel made it at {got:#x} (the untyped was retyped behind the framework's back)"
            ),
            Error::Check(what) => {
                f.write_str("check failed: ")?;
                f.write_str(what)
            }
        }
    }
}
