//! A floating-point calculation on the FPU, for tests of the kernel's FPU
//! context switching (seL4test FPU0000, FPU0001).
//!
//! x86_64: the root task's target uses soft float, so compiled code never
//! touches the FPU; [`calculate`] runs sel4test's `fpu_calculation` in
//! SSE2 instructions, and [`calculate_soft`] the same steps in Rust (soft
//! float). aarch64 and riscv64: the targets (`aarch64-unknown-none`,
//! `riscv64gc-unknown-none-elf`) use the FPU for `f64`, so [`calculate`]
//! is the Rust steps themselves, which run in the FP registers (the
//! values kept there across the loop). Every step rounds to nearest as
//! IEEE 754 requires, so the result is [`EXPECTED_BITS`] to the bit unless
//! the FPU state was corrupted.

/// The IEEE 754 result of the calculation with 1 and with 10 000 rounds
/// (sel4test's count), as bits: computed with IEEE doubles on the host
/// (Python's floats: `a = a*1.123 + a/3.0; a /= 1.111; ...`); the x86_64
/// soft-float steps give the same bits (FPU0000 checks that too).
pub const EXPECTED_BITS: [(u64, u64); 2] =
    [(1, 0x4010_7822_d8eb_1cd4), (10_000, 0x4049_0cfe_1177_42e5)];

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .rodata.sel4rs_probe_fpu, \"a\", @progbits",
    ".p2align 3",
    "sel4rs_probe_fpu_consts:",
    ".double 3.141",
    ".double 1.123",
    ".double 3.0",
    ".double 1.111",
    ".double 100.0",
    ".double 3.1234563212",
    ".double 2.0",
    ".double 1.1232132131",
    ".popsection",
    ".pushsection .text.sel4rs_probe_fpu, \"ax\", @progbits",
    ".p2align 4",
    ".global sel4rs_probe_fpu_calculation",
    ".type sel4rs_probe_fpu_calculation, @function",
    // u64 sel4rs_probe_fpu_calculation(u64 iterations): the bits of the
    // double result; uses xmm0-xmm2 and RCX, RDX.
    "sel4rs_probe_fpu_calculation:",
    "lea rdx, [rip + sel4rs_probe_fpu_consts]",
    "movsd xmm0, qword ptr [rdx]",
    "mov rcx, rdi",
    "2:",
    "test rcx, rcx",
    "jz 9f",
    "movsd xmm1, xmm0",
    "mulsd xmm1, qword ptr [rdx + 8]",
    "movsd xmm2, xmm0",
    "divsd xmm2, qword ptr [rdx + 16]",
    "addsd xmm1, xmm2",
    "divsd xmm1, qword ptr [rdx + 24]",
    "movsd xmm0, xmm1",
    "3:",
    "comisd xmm0, qword ptr [rdx + 32]",
    "jbe 4f",
    "divsd xmm0, qword ptr [rdx + 40]",
    "jmp 3b",
    "4:",
    "comisd xmm0, qword ptr [rdx + 48]",
    "jae 5f",
    "addsd xmm0, qword ptr [rdx + 56]",
    "jmp 4b",
    "5:",
    "dec rcx",
    "jmp 2b",
    "9:",
    "movq rax, xmm0",
    "ret",
    ".size sel4rs_probe_fpu_calculation, . - sel4rs_probe_fpu_calculation",
    ".popsection",
);

#[cfg(target_arch = "x86_64")]
extern "C" {
    fn sel4rs_probe_fpu_calculation(iterations: u64) -> u64;
}

/// sel4test's `fpu_calculation` with `iterations` rounds, on the FPU;
/// returns the result's bits.
#[cfg(not(target_arch = "x86_64"))]
#[inline(never)]
pub fn calculate(iterations: u64) -> u64 {
    // black_box: the compiler may not fold the calculation into a
    // constant; it runs on the FPU.
    steps(
        core::hint::black_box(START),
        core::hint::black_box(iterations),
    )
}

/// sel4test's `fpu_calculation` with `iterations` rounds, on the FPU;
/// returns the result's bits.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
pub fn calculate(iterations: u64) -> u64 {
    // SAFETY: the routine reads its constants (16 doubles' worth of
    // read-only data it defines), changes RAX, RCX, RDX and xmm0-xmm2
    // (caller-saved; compiled code of this soft-float target does not use
    // xmm registers) and the flags, and returns like a C function. The
    // kernel enables SSE for user threads.
    unsafe { sel4rs_probe_fpu_calculation(iterations) }
}

/// sel4test's starting value (not an approximation of pi).
#[allow(clippy::approx_constant)]
const START: f64 = 3.141;

/// The same calculation in Rust `f64` (soft float on x86_64, the FPU on
/// aarch64 and riscv64); returns the result's bits.
pub fn calculate_soft(iterations: u64) -> u64 {
    steps(START, iterations)
}

fn steps(start: f64, iterations: u64) -> u64 {
    let mut a = start;
    for _ in 0..iterations {
        a = a * 1.123 + a / 3.0;
        a /= 1.111;
        while a > 100.0 {
            a /= 3.1234563212;
        }
        while a < 2.0 {
            a += 1.1232132131;
        }
    }
    a.to_bits()
}
