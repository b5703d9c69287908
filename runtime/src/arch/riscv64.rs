//! riscv64 parts of the runtime: the thread pointer and ending QEMU.

/// Loads the initial thread's thread pointer (`tp`, an ordinary register the
/// kernel saves and restores).
///
/// # Safety
/// `tp` must point at a TLS block laid out for this image
/// (`sel4_start::tls`, variant I).
pub(crate) unsafe fn set_thread_pointer(tp: usize) -> Result<(), sel4_sys::InvocationError> {
    // SAFETY: per the contract.
    unsafe { sel4_sys::arch::write_thread_pointer(tp) };
    Ok(())
}

// Semihosting call: a0 = operation, a1 = parameter block. The RISC-V
// semihosting trap is the uncompressed sequence `slli zero, zero, 0x1f;
// ebreak; srai zero, zero, 7`, all three in one page (hence the 16-byte
// alignment). QEMU handles it itself when started with
// `-semihosting-config enable=on,userspace=on` (from U-mode only with
// `userspace=on`); without it `ebreak` is a breakpoint exception, which the
// kernel reports as a fault of this thread.
core::arch::global_asm!(
    ".pushsection .text.sel4rs_semihosting,\"ax\",@progbits",
    ".globl __sel4rs_semihosting_call",
    ".type __sel4rs_semihosting_call,@function",
    ".p2align 4",
    "__sel4rs_semihosting_call:",
    ".option push",
    ".option norvc",
    ".option norelax",
    "    slli zero, zero, 0x1f",
    "    ebreak",
    "    srai zero, zero, 7",
    ".option pop",
    "    ret",
    ".size __sel4rs_semihosting_call, . - __sel4rs_semihosting_call",
    ".popsection",
);

extern "C" {
    fn __sel4rs_semihosting_call(op: usize, param: *const usize) -> usize;
}

/// Performs a semihosting call.
pub(crate) fn semihosting_call(op: usize, param: &[usize]) -> usize {
    // SAFETY: the host only reads the parameter block, which is a valid
    // slice for the duration of the call; the trampoline follows the C
    // calling convention.
    unsafe { __sel4rs_semihosting_call(op, param.as_ptr()) }
}
