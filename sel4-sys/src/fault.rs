//! Fault messages: what the kernel sends to a thread's fault handler. The
//! labels come from the `seL4_Fault` tagged union of the kernel's bitfield
//! files ([`FaultLabel`]), the word positions from its headers
//! (`seL4_VMFault_IP`, `seL4_CapFault_Addr`, ... in [`consts`]).

use crate::{consts, FaultLabel, LookupFailure, Word};

/// Words of an `UnknownSyscall` fault message.
pub const UNKNOWN_SYSCALL_WORDS: usize = consts::UnknownSyscall_Length;
/// Most words kept for a fault kind this crate does not decode field by field.
pub const OTHER_FAULT_WORDS: usize = 8;

/// What kind of CPU exception a [`Fault::UserException`] was, the same
/// on every architecture ([`Fault::exception_kind`]; the architecture's
/// own number stays in the fault's `number`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    /// An undefined or illegal instruction (x86_64 `#UD`, vector 6;
    /// aarch64 exception class 0x00; riscv64 `scause` 2). Privileged
    /// instructions land here on aarch64 and riscv64 too.
    UndefinedInstruction,
    /// A breakpoint instruction (x86_64 `int3`, vector 3; aarch64 `brk`,
    /// class 0x3c; riscv64 `ebreak`, `scause` 3).
    Breakpoint,
    /// Another exception: the x86 vector, the aarch64 exception class or
    /// the riscv64 `scause`.
    Other(Word),
}

/// What a [`Fault::VmFault`]'s access was, the same on every
/// architecture ([`Fault::vm_access`], from the fault status `fsr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmAccess {
    /// A data read.
    Read,
    /// A data write.
    Write,
    /// An instruction fetch.
    Execute,
}

/// A decoded fault message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No fault (label 0).
    NullFault,
    /// A capability lookup failed in a syscall (`seL4_CapFault_*`).
    CapFault {
        /// Instruction pointer of the faulting syscall (`seL4_CapFault_IP`).
        ip: Word,
        /// The capability address that failed to resolve
        /// (`seL4_CapFault_Addr`).
        addr: Word,
        /// The lookup failed while receiving (a receive slot), not while
        /// sending (`seL4_CapFault_InRecvPhase`).
        in_recv_phase: bool,
        /// Why the lookup failed (`seL4_CapFault_LookupFailureType` and the
        /// words after it).
        lookup_failure: LookupFailure,
    },
    /// A syscall number the kernel does not know (`seL4_UnknownSyscall_*`).
    /// `regs` is the whole message: index it with
    /// `consts::UnknownSyscall_RAX`, `..._RBX`, ... of this architecture.
    UnknownSyscall {
        /// The syscall number the thread used (`seL4_UnknownSyscall_Syscall`).
        syscall: Word,
        /// Instruction pointer of the syscall (`seL4_UnknownSyscall_FaultIP`).
        ip: Word,
        /// Stack pointer at the syscall (`seL4_UnknownSyscall_SP`).
        sp: Word,
        /// The status register: RFLAGS (x86_64), SPSR (aarch64), 0 on
        /// riscv64 (its fault messages carry none).
        flags: Word,
        /// The whole message, register by register
        /// (`seL4_UnknownSyscall_Length` words).
        regs: [Word; UNKNOWN_SYSCALL_WORDS],
    },
    /// A CPU exception other than a page fault (`seL4_UserException_*`).
    UserException {
        /// Instruction pointer of the exception (`seL4_UserException_FaultIP`).
        ip: Word,
        /// Stack pointer at the exception (`seL4_UserException_SP`).
        sp: Word,
        /// The status register, as for `UnknownSyscall`.
        flags: Word,
        /// The architecture's exception number, e.g. the x86 vector
        /// (`seL4_UserException_Number`).
        number: Word,
        /// The exception's error code (`seL4_UserException_Code`).
        code: Word,
    },
    /// A virtual memory fault (`seL4_VMFault_*`).
    VmFault {
        /// Instruction pointer of the faulting access (`seL4_VMFault_IP`).
        ip: Word,
        /// The address that faulted (`seL4_VMFault_Addr`).
        addr: Word,
        /// The fault was an instruction fetch (`seL4_VMFault_PrefetchFault`).
        prefetch_fault: bool,
        /// The architecture's fault status: the page-fault error code on
        /// x86_64 (`seL4_VMFault_FSR`).
        fsr: Word,
    },
    /// A scheduling context ran out of budget while the thread ran on it
    /// (MCS kernels, `seL4_Timeout_*`; sent to the thread's timeout
    /// endpoint, never produced by other kernels).
    Timeout {
        /// The badge the scheduling context was configured with
        /// (`seL4_Timeout_Data`).
        badge: Word,
        /// Time the scheduling context consumed, in microseconds
        /// (`seL4_Timeout_Consumed`).
        consumed: u64,
    },
    /// A fault kind of this kernel without a decoder here (debug exception,
    /// virtualisation faults): its label and first words.
    Other {
        /// The fault's label (`seL4_Fault_*`).
        label: FaultLabel,
        /// How many of `words` came with the message.
        len: usize,
        /// The first message words (`len` of them valid, the rest 0).
        words: [Word; OTHER_FAULT_WORDS],
    },
    /// A label that is not a fault of this kernel.
    Unknown {
        /// The message label received.
        label: Word,
    },
}

impl Fault {
    /// Decodes a fault message from its label and message words (missing
    /// words read as 0).
    pub fn decode(label: Word, mrs: &[Word]) -> Fault {
        let w = |i: usize| mrs.get(i).copied().unwrap_or(0);
        let Some(l) = FaultLabel::from_usize(label as usize) else {
            return Fault::Unknown { label };
        };
        crate::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            if l == FaultLabel::Timeout {
                return Fault::Timeout {
                    badge: w(consts::Timeout_Data),
                    consumed: w(consts::Timeout_Consumed),
                };
            }
        } }
        match l {
            FaultLabel::NullFault => Fault::NullFault,
            FaultLabel::CapFault => Fault::CapFault {
                ip: w(consts::CapFault_IP),
                addr: w(consts::CapFault_Addr),
                in_recv_phase: w(consts::CapFault_InRecvPhase) != 0,
                lookup_failure: LookupFailure::decode(
                    |i| w(consts::CapFault_LookupFailureType + i),
                ),
            },
            FaultLabel::UnknownSyscall => {
                let mut regs = [0; UNKNOWN_SYSCALL_WORDS];
                for (i, r) in regs.iter_mut().enumerate() {
                    *r = w(i);
                }
                Fault::UnknownSyscall {
                    syscall: w(consts::UnknownSyscall_Syscall),
                    ip: w(consts::UnknownSyscall_FaultIP),
                    sp: w(consts::UnknownSyscall_SP),
                    flags: crate::arch::UNKNOWN_SYSCALL_FLAGS.map_or(0, w),
                    regs,
                }
            }
            FaultLabel::UserException => Fault::UserException {
                ip: w(consts::UserException_FaultIP),
                sp: w(consts::UserException_SP),
                flags: crate::arch::USER_EXCEPTION_FLAGS.map_or(0, w),
                number: w(consts::UserException_Number),
                code: w(consts::UserException_Code),
            },
            FaultLabel::VMFault => Fault::VmFault {
                ip: w(consts::VMFault_IP),
                addr: w(consts::VMFault_Addr),
                prefetch_fault: w(consts::VMFault_PrefetchFault) != 0,
                fsr: w(consts::VMFault_FSR),
            },
            #[allow(unreachable_patterns)]
            other => {
                let mut words = [0; OTHER_FAULT_WORDS];
                let len = core::cmp::min(mrs.len(), OTHER_FAULT_WORDS);
                words[..len].copy_from_slice(&mrs[..len]);
                Fault::Other {
                    label: other,
                    len,
                    words,
                }
            }
        }
    }

    /// The kind of a [`Fault::UserException`] (`None` for other faults),
    /// from its architecture's number.
    pub fn exception_kind(&self) -> Option<ExceptionKind> {
        match *self {
            Fault::UserException { number, .. } => Some(crate::arch::exception_kind(number)),
            _ => None,
        }
    }

    /// The access of a [`Fault::VmFault`] (`None` for other faults), from
    /// its architecture's fault status.
    pub fn vm_access(&self) -> Option<VmAccess> {
        match *self {
            Fault::VmFault { fsr, .. } => Some(crate::arch::vm_access(fsr)),
            _ => None,
        }
    }

    /// Message words a fault of kind `label` carries
    /// (`seL4_<Fault>_Length`), for the kinds decoded here.
    pub fn message_len(label: FaultLabel) -> Option<usize> {
        crate::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            if label == FaultLabel::Timeout {
                return Some(consts::Timeout_Length);
            }
        } }
        Some(match label {
            FaultLabel::NullFault => 0,
            FaultLabel::CapFault => consts::CapFault_GuardMismatch_BitsFound + 1,
            FaultLabel::UnknownSyscall => consts::UnknownSyscall_Length,
            FaultLabel::UserException => consts::UserException_Length,
            FaultLabel::VMFault => consts::VMFault_Length,
            #[allow(unreachable_patterns)]
            _ => return None,
        })
    }
}

impl core::fmt::Display for Fault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Fault::NullFault => write!(f, "no fault"),
            Fault::CapFault {
                ip,
                addr,
                in_recv_phase,
                lookup_failure,
            } => write!(
                f,
                "capability fault at ip {ip:#x}: cptr {addr:#x}{}: {lookup_failure}",
                if *in_recv_phase {
                    " (receive phase)"
                } else {
                    ""
                }
            ),
            Fault::UnknownSyscall {
                syscall, ip, sp, ..
            } => write!(
                f,
                "unknown syscall {} at ip {ip:#x} (sp {sp:#x})",
                *syscall as i64
            ),
            Fault::UserException {
                ip,
                sp,
                number,
                code,
                ..
            } => write!(
                f,
                "user exception {number} (code {code:#x}) at ip {ip:#x} (sp {sp:#x})"
            ),
            Fault::VmFault {
                ip,
                addr,
                prefetch_fault,
                fsr,
            } => write!(
                f,
                "VM fault on {} at address {addr:#x}, ip {ip:#x} (fsr {fsr:#x})",
                if *prefetch_fault {
                    "instruction fetch"
                } else {
                    "data access"
                }
            ),
            Fault::Timeout { badge, consumed } => write!(
                f,
                "timeout: the scheduling context with badge {badge:#x} ran out of budget \
                 ({consumed} us consumed)"
            ),
            Fault::Other { label, len, words } => {
                write!(f, "{} fault {:x?}", label.name(), &words[..*len])
            }
            Fault::Unknown { label } => write!(f, "unknown fault label {label}"),
        }
    }
}
