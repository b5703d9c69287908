//! aarch64 parts of the runtime: the thread pointer and ending QEMU.

/// Loads the initial thread's thread pointer.
///
/// # Safety
/// `tp` must point at a TLS block and TCB laid out for this image
/// (`sel4_start::tls`, variant I).
pub(crate) unsafe fn set_thread_pointer(tp: usize) -> Result<(), sel4_sys::InvocationError> {
    sel4_sys::sel4_cfg_if! {
        config ARM_TLS_REG_TPIDRU {
            // SAFETY: with `KernelArmTLSReg=tpidru` the TLS register is
            // tpidr_el0, writable from EL0 and saved by the kernel on every
            // switch; `tp` is valid per the contract.
            unsafe { sel4_sys::arch::write_thread_pointer(tp) };
            Ok(())
        } else {
            // tpidrro_el0 is read-only at EL0: the kernel sets it. The
            // invocation travels in registers only: the IPC buffer's address
            // lives in TLS, which is not usable yet.
            sel4_sys::Cap::<sel4_sys::cap_type::TCB>::from_cptr(crate::bootinfo::INIT_THREAD_TCB)
                .tcb_set_tls_base(tp as sel4_sys::Word)
        }
    }
}

// Semihosting call: x0 = operation, x1 = parameter block; `hlt #0xf000` is
// the AArch64 semihosting trap. QEMU handles it itself when started with
// `-semihosting-config enable=on,userspace=on` (from EL0 only with
// `userspace=on`); without it the instruction is an undefined-instruction
// exception, which the kernel reports as a fault of this thread.
core::arch::global_asm!(
    ".pushsection .text.sel4rs_semihosting,\"ax\",%progbits",
    ".globl __sel4rs_semihosting_call",
    ".type __sel4rs_semihosting_call,%function",
    ".p2align 2",
    "__sel4rs_semihosting_call:",
    "    hlt #0xf000",
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
