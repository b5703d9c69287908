//! Kernel object invocations: the one `seL4_Call` path every generated
//! method goes through, and the errors the kernel returns.

use core::fmt;

use crate::{
    call_regs, consts, ipc_buffer, CPtr, Error, InvocationLabel, MessageInfo, Word, REGISTER_MRS,
};

/// The kernel's reply to an invocation: the message info and the message
/// words that came back in registers; further words are read from the IPC
/// buffer on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The reply's message info: label (0 or the error), length, caps.
    pub info: MessageInfo,
    /// The first message words, as the kernel returned them in registers
    /// (words past the length are stale).
    pub mrs: [Word; REGISTER_MRS],
}

impl Reply {
    /// Number of message words in the reply.
    pub fn len(&self) -> usize {
        self.info.get_length() as usize
    }

    /// Whether the reply has no message words.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Message word `i` of the reply: from the registers for the first
    /// [`REGISTER_MRS`], from the IPC buffer after that (0 for a buffer word
    /// the kernel did not send, `i >= len()`).
    ///
    /// Register words are returned whatever the reply's length says, as
    /// libsel4's stubs do: some kernels put a result in a message register
    /// and reply with length 0 (seL4 5.0.0's X86_Page_GetAddress).
    pub fn word(&self, i: usize) -> Word {
        if i < REGISTER_MRS {
            self.mrs[i]
        } else if i < self.len() && i < crate::MSG_MAX_LENGTH {
            ipc_buffer().msg(i)
        } else {
            0
        }
    }
}

/// Performs a kernel invocation: `label`, extra capabilities `caps`, message
/// words `words`. The first [`REGISTER_MRS`] words travel in registers;
/// only the extra capabilities and the words after those are written to
/// the IPC buffer, so an invocation with at most that many words and no
/// extra capability never touches it.
///
/// # Panics
/// If `caps` or the words beyond the registers need the IPC buffer and this
/// thread has none (see [`set_ipc_buffer`](crate::set_ipc_buffer)), or if
/// there are more than `seL4_MsgMaxExtraCaps` caps or `seL4_MsgMaxLength`
/// words (the generated methods never pass more).
#[inline]
pub fn call(
    service: CPtr,
    label: InvocationLabel,
    caps: &[CPtr],
    words: &[Word],
) -> Result<Reply, InvocationError> {
    let mut mrs = [0; REGISTER_MRS];
    let in_regs = core::cmp::min(words.len(), REGISTER_MRS);
    mrs[..in_regs].copy_from_slice(&words[..in_regs]);
    if !caps.is_empty() || words.len() > REGISTER_MRS {
        let b = ipc_buffer();
        b.set_caps(caps);
        if words.len() > REGISTER_MRS {
            b.write_msgs(REGISTER_MRS, &words[REGISTER_MRS..]);
        }
    }
    let info = MessageInfo::new(label as Word, 0, caps.len() as Word, words.len() as Word);
    let r = call_regs(service, info, mrs);
    let reply = Reply {
        info: r.info,
        mrs: r.mrs,
    };
    match reply.info.get_label() {
        0 => Ok(reply),
        _ => Err(reply_error(
            reply.info.0,
            reply.mrs[0],
            reply.mrs[1],
            reply.mrs[2],
            reply.mrs[3],
        )),
    }
}

/// The error of a reply with a nonzero label, out of line: the reply's
/// words travel as scalars (in registers), so the success path stores
/// none of them.
#[cold]
#[inline(never)]
fn reply_error(info: Word, mr0: Word, mr1: Word, mr2: Word, mr3: Word) -> InvocationError {
    let reply = Reply {
        info: MessageInfo(info),
        mrs: [mr0, mr1, mr2, mr3],
    };
    InvocationError::decode(reply.info.get_label(), |i| reply.word(i))
}

/// Why a capability lookup failed (`seL4_LookupFailureType` and its
/// detail words), as in error replies and capability fault messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupFailure {
    /// The root CNode capability was invalid.
    InvalidRoot,
    /// A slot on the way was empty or not a CNode; `bits_left` bits were
    /// still to be resolved.
    MissingCapability {
        /// Bits of the address not yet resolved (`seL4_CapFault_BitsLeft`).
        bits_left: Word,
    },
    /// The depth did not match the bits the CNodes resolve.
    DepthMismatch {
        /// Bits of the address not yet resolved (`seL4_CapFault_BitsLeft`).
        bits_left: Word,
        /// Bits the CNode there would resolve (`seL4_CapFault_DepthMismatch_BitsFound`).
        bits_found: Word,
    },
    /// A CNode's guard did not match.
    GuardMismatch {
        /// Bits of the address not yet resolved (`seL4_CapFault_BitsLeft`).
        bits_left: Word,
        /// The CNode's guard (`seL4_CapFault_GuardMismatch_GuardFound`).
        guard_found: Word,
        /// The guard's size in bits (`seL4_CapFault_GuardMismatch_BitsFound`).
        guard_size: Word,
    },
    /// A failure type this crate does not know (or `seL4_NoFailure`).
    Unknown(Word),
}

impl LookupFailure {
    /// Decodes a lookup failure from its words: `w(0)` is the type, the
    /// following words its details.
    pub fn decode(w: impl Fn(usize) -> Word) -> LookupFailure {
        let ty = w(0);
        if ty == consts::InvalidRoot as Word {
            LookupFailure::InvalidRoot
        } else if ty == consts::MissingCapability as Word {
            LookupFailure::MissingCapability { bits_left: w(1) }
        } else if ty == consts::DepthMismatch as Word {
            LookupFailure::DepthMismatch {
                bits_left: w(1),
                bits_found: w(2),
            }
        } else if ty == consts::GuardMismatch as Word {
            LookupFailure::GuardMismatch {
                bits_left: w(1),
                guard_found: w(2),
                guard_size: w(3),
            }
        } else {
            LookupFailure::Unknown(ty)
        }
    }
}

impl fmt::Display for LookupFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupFailure::InvalidRoot => write!(f, "invalid root"),
            LookupFailure::MissingCapability { bits_left } => {
                write!(f, "missing capability ({bits_left} bits left)")
            }
            LookupFailure::DepthMismatch {
                bits_left,
                bits_found,
            } => write!(
                f,
                "depth mismatch ({bits_left} bits left, {bits_found} bits found)"
            ),
            LookupFailure::GuardMismatch {
                bits_left,
                guard_found,
                guard_size,
            } => write!(
                f,
                "guard mismatch ({bits_left} bits left, guard {guard_found:#x} of {guard_size} bits found)"
            ),
            LookupFailure::Unknown(t) => write!(f, "lookup failure of unknown type {t}"),
        }
    }
}

/// An error the kernel returned for an invocation, with its detail words
/// (seL4 reference manual, "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvocationError {
    /// Argument number `argument` (0 based, message words) is invalid.
    InvalidArgument {
        /// Index of the invalid message word (0 based).
        argument: Word,
    },
    /// Capability argument number `argument` is invalid (0 = the invoked
    /// capability, 1.. = the extra capabilities).
    InvalidCapability {
        /// 0 = the invoked capability, 1.. = the extra capabilities.
        argument: Word,
    },
    /// The operation is not allowed (e.g. missing rights).
    IllegalOperation,
    /// An argument is out of the range `[min, max]`.
    RangeError {
        /// The smallest value allowed.
        min: Word,
        /// The largest value allowed.
        max: Word,
    },
    /// An address or size is not aligned as needed.
    AlignmentError,
    /// A capability lookup failed; `source` tells whether it was the
    /// source capability of a copy-type operation (else the destination).
    FailedLookup {
        /// The source capability's lookup failed (else the destination's).
        source: bool,
        /// Why the lookup failed.
        lookup_failure: LookupFailure,
    },
    /// The message was shorter than the method needs.
    TruncatedMessage,
    /// The destination slot is not empty.
    DeleteFirst,
    /// The capability has children (derived capabilities or objects) that
    /// must be revoked first.
    RevokeFirst,
    /// The untyped memory has `available` bytes left, too few.
    NotEnoughMemory {
        /// Bytes the untyped has left.
        available: Word,
    },
    /// An error label this crate does not know.
    Unknown(Word),
}

impl InvocationError {
    /// Decodes the error from the reply label and its message words
    /// (`w(i)` = message word `i`).
    pub fn decode(label: Word, w: impl Fn(usize) -> Word) -> InvocationError {
        let Some(e) = Error::from_usize(label as usize) else {
            return InvocationError::Unknown(label);
        };
        match e {
            Error::InvalidArgument => InvocationError::InvalidArgument { argument: w(0) },
            Error::InvalidCapability => InvocationError::InvalidCapability { argument: w(0) },
            Error::IllegalOperation => InvocationError::IllegalOperation,
            Error::RangeError => InvocationError::RangeError {
                min: w(0),
                max: w(1),
            },
            Error::AlignmentError => InvocationError::AlignmentError,
            Error::FailedLookup => InvocationError::FailedLookup {
                source: w(0) != 0,
                lookup_failure: LookupFailure::decode(|i| w(i + 1)),
            },
            Error::TruncatedMessage => InvocationError::TruncatedMessage,
            Error::DeleteFirst => InvocationError::DeleteFirst,
            Error::RevokeFirst => InvocationError::RevokeFirst,
            Error::NotEnoughMemory => InvocationError::NotEnoughMemory { available: w(0) },
            _ => InvocationError::Unknown(label),
        }
    }

    /// The kernel's error code (`seL4_Error`), if it is one this kernel has.
    pub fn code(&self) -> Option<Error> {
        Some(match self {
            InvocationError::InvalidArgument { .. } => Error::InvalidArgument,
            InvocationError::InvalidCapability { .. } => Error::InvalidCapability,
            InvocationError::IllegalOperation => Error::IllegalOperation,
            InvocationError::RangeError { .. } => Error::RangeError,
            InvocationError::AlignmentError => Error::AlignmentError,
            InvocationError::FailedLookup { .. } => Error::FailedLookup,
            InvocationError::TruncatedMessage => Error::TruncatedMessage,
            InvocationError::DeleteFirst => Error::DeleteFirst,
            InvocationError::RevokeFirst => Error::RevokeFirst,
            InvocationError::NotEnoughMemory { .. } => Error::NotEnoughMemory,
            InvocationError::Unknown(_) => return None,
        })
    }
}

impl fmt::Display for InvocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvocationError::InvalidArgument { argument } => {
                write!(f, "invalid argument {argument}")
            }
            InvocationError::InvalidCapability { argument } => {
                write!(f, "invalid capability argument {argument}")
            }
            InvocationError::IllegalOperation => write!(f, "illegal operation"),
            InvocationError::RangeError { min, max } => {
                write!(f, "argument out of range [{min}, {max}]")
            }
            InvocationError::AlignmentError => write!(f, "alignment error"),
            InvocationError::FailedLookup {
                source,
                lookup_failure,
            } => {
                f.write_str(if *source {
                    "lookup of the source capability failed: "
                } else {
                    "lookup of the destination capability failed: "
                })?;
                lookup_failure.fmt(f)
            }
            InvocationError::TruncatedMessage => write!(f, "truncated message"),
            InvocationError::DeleteFirst => write!(f, "destination slot not empty (delete first)"),
            InvocationError::RevokeFirst => write!(f, "capability has children (revoke first)"),
            InvocationError::NotEnoughMemory { available } => {
                write!(f, "not enough memory ({available} bytes available)")
            }
            InvocationError::Unknown(l) => write!(f, "unknown kernel error {l}"),
        }
    }
}
