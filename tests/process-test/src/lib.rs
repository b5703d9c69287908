//! The contract between the process image `process-test` (its binary,
//! `src/main.rs`) and the suite that runs it: function numbers and the
//! constants of its fault tests. Both sides use these.
#![no_std]

/// The function numbers (argument word 0).
pub mod f {
    pub const RETURN: u64 = 1;
    pub const SELF_CHECK: u64 = 2;
    pub const NAME_HASH: u64 = 3;
    pub const SEND: u64 = 10;
    pub const NBSEND: u64 = 11;
    pub const CALL: u64 = 12;
    pub const WAIT: u64 = 13;
    pub const NBWAIT: u64 = 14;
    pub const REPLY_WAIT: u64 = 15;
    pub const REPLY_AND_WAIT: u64 = 16;
    pub const CAUSE_FAULT: u64 = 20;
    pub const HANDLE_FAULT: u64 = 21;
    pub const THREADS: u64 = 30;
    pub const INVOKE_SLOT: u64 = 40;
    pub const READ_ADDR: u64 = 41;
    pub const WRITE_TEXT: u64 = 42;
    pub const WRITE_RODATA: u64 = 43;
    pub const EXEC_HEAP: u64 = 44;
    pub const HEAP_WRITE: u64 = 45;
    pub const HEAP_READ: u64 = 46;
    pub const PANIC: u64 = 50;
    pub const BENCH_SERVER: u64 = 60;
    pub const BENCH_CLIENT: u64 = 61;
}

/// Constants of the fault functions (sel4test's `faults.c`).
pub mod faults {
    /// `CAUSE_FAULT` kinds.
    pub const READ: u64 = 1;
    pub const WRITE: u64 = 2;
    pub const INSTRUCTION: u64 = 3;
    pub const BAD_SYSCALL: u64 = 4;
    /// Flags of `HANDLE_FAULT` (sel4test: the BADGED and RESTART bits).
    pub const BADGED: u64 = 1;
    pub const RESTART: u64 = 2;
    /// The badge a badged fault endpoint carries.
    pub const EXPECTED_BADGE: u64 = 0xabababa;
    /// The address every fault of these tests is at.
    pub const BAD_VADDR: u64 = 0x7EDC_BA98_7650;
    pub const GOOD_MAGIC: u32 = 0x1583_1851;
    pub const BAD_MAGIC: u32 = !GOOD_MAGIC;
    pub const BAD_SYSCALL_NUMBER: u64 = 0xc1;
}

/// Bits of `SELF_CHECK`'s exit code: each names a check that failed.
pub mod self_check {
    pub const TDATA: u64 = 1 << 0;
    pub const TBSS: u64 = 1 << 1;
    pub const THREAD_POINTER: u64 = 1 << 2;
    pub const HEAP_ZERO: u64 = 1 << 3;
    pub const HEAP_WRITE: u64 = 1 << 4;
    pub const IPC_BUFFER: u64 = 1 << 5;
    pub const IMAGE_RANGE: u64 = 1 << 6;
    pub const CSPACE: u64 = 1 << 7;
    pub const STACK: u64 = 1 << 8;
    pub const RELOCATED: u64 = 1 << 9;
}

/// Exit codes.
pub const SUCCESS: u64 = 0;
pub const FAILURE: u64 = 1;
/// An unknown function number.
pub const UNKNOWN_FUNCTION: u64 = 0xbad_f00d;
