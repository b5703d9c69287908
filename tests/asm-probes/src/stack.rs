//! How far the caller's stack pointer is off the 16-byte alignment the
//! architecture's C ABI requires at a call (sel4test's
//! STACK_ALIGNMENT_001). The routine is in assembly in the architecture's
//! file (`x86_64.rs`, `syscall/aarch64.rs`, `syscall/riscv64.rs`).

extern "C" {
    fn sel4rs_probe_stack_alignment() -> u64;
}

/// How many bytes the caller's stack is off the 16-byte alignment the
/// C ABI requires at a call (x86_64 SysV, AAPCS64, the RISC-V psABI; 0
/// when aligned). On x86_64, when it is 0, the probe also stores and
/// reloads xmm0 on the stack with `movdqa`, which faults on a misaligned
/// address (aarch64's SP alignment check faults on any SP-relative
/// access with a misaligned SP).
#[inline(never)]
pub fn stack_misalignment() -> u64 {
    // SAFETY: the routine reads the stack pointer and changes the return
    // register (and on x86_64 the flags) only, as a C function may; on
    // x86_64, only when the stack is aligned, it also writes 16 bytes
    // below its return address (space it reserved by moving RSP down) and
    // reads them back into xmm0, which therefore keeps its value (and
    // compiled code of this soft-float target does not use it).
    unsafe { sel4rs_probe_stack_alignment() }
}
