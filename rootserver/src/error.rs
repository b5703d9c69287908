//! Errors of kernel invocations, with the detail words the kernel returns.

use sel4_sys::Error as KernelError;

/// An error from the kernel or from the framework's own checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The kernel refused an invocation. `detail` holds the message words
    /// the kernel returns with the error (for example the invalid argument's
    /// index, or the range of valid values).
    Kernel {
        error: KernelError,
        detail: [u64; 3],
    },
    /// The kernel returned an error code this build does not know.
    UnknownKernelError(u64),
    /// No free capability slot is left in the allocator.
    SlotsExhausted,
    /// No untyped memory can satisfy the request.
    UntypedExhausted { size_bits: usize },
}

/// Result of a framework operation.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// Builds the error for a non-zero label returned by the kernel, reading
    /// the detail words from the reply's first message registers.
    pub fn from_reply(label: u64, mrs: &[u64; 4]) -> Error {
        match KernelError::try_from(label as usize) {
            Ok(error) => Error::Kernel {
                error,
                detail: [mrs[0], mrs[1], mrs[2]],
            },
            Err(_) => Error::UnknownKernelError(label),
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Kernel { error, detail } => {
                write!(f, "kernel error {error:?} (detail {detail:x?})")
            }
            Error::UnknownKernelError(n) => write!(f, "unknown kernel error {n}"),
            Error::SlotsExhausted => write!(f, "no free capability slot"),
            Error::UntypedExhausted { size_bits } => {
                write!(f, "no untyped memory for an object of 2^{size_bits} bytes")
            }
        }
    }
}
