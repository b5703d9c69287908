//! riscv64 start code.

// Self-relocation, in asm because it runs before any relocated data may be
// used; the algorithm of the x86_64 routine, except that the dynamic section
// is found through the program headers: a PC-relative reference to an
// undefined weak `_DYNAMIC` (a static image) does not resolve to 0 on this
// architecture. It takes the run-time address of the ELF header (a0), finds
// PT_DYNAMIC and the PT_LOAD that maps the ELF header (file offset 0) among
// the program headers, and takes load offset = run-time address of the ELF
// header - that segment's p_vaddr. Then it walks DT_RELA, DT_RELASZ and
// DT_RELAENT and, for each R_RISCV_RELATIVE (3) entry, stores addend +
// offset at r_offset + offset. R_RISCV_NONE entries are skipped. Then the
// packed relative relocations (DT_RELR, as the x86_64 routine). Returns in
// a0 the number of relocations applied (0 for an image without PT_DYNAMIC),
// -1 for an unsupported relocation type or a RELR table that starts with a
// bitmap (nothing after it is applied), -3 when no PT_LOAD maps the ELF
// header. Uses only a0-a7 and t0-t6 (caller-saved), no stack.
core::arch::global_asm!(
    ".pushsection .text.sel4rs_self_relocate,\"ax\",@progbits",
    ".globl __sel4rs_self_relocate",
    ".type __sel4rs_self_relocate,@function",
    "__sel4rs_self_relocate:",
    "    li t2, 0",
    // Scan the program headers: a2 = phdr, a3 = remaining, a4 = entry size;
    // t3/t6 = link address of the header segment / found, t4/t5 = p_vaddr
    // of PT_DYNAMIC / found.
    "    ld a2, 32(a0)",
    "    add a2, a2, a0",
    "    lhu a3, 56(a0)",
    "    lhu a4, 54(a0)",
    "    li t5, 0",
    "    li t6, 0",
    "1:  beqz a3, 2f",
    "    lwu a5, 0(a2)",
    "    li t0, 2",
    "    bne a5, t0, 11f",
    "    ld t4, 16(a2)",
    "    li t5, 1",
    "11: li t0, 1",
    "    bne a5, t0, 12f",
    "    bnez t6, 12f",
    "    ld a5, 8(a2)",
    "    bnez a5, 12f",
    "    ld t3, 16(a2)",
    "    li t6, 1",
    "12: add a2, a2, a4",
    "    addi a3, a3, -1",
    "    j 1b",
    "2:  beqz t5, 9f",
    "    beqz t6, 8f",
    // a6 = load offset, a1 = run-time address of the dynamic section.
    "    sub a6, a0, t3",
    "    add a1, t4, a6",
    // a0 = the dynamic section, for the RELR pass.
    "    mv a0, a1",
    // Walk the dynamic section: a2 = DT_RELA, a3 = DT_RELASZ, a4 = DT_RELAENT.
    "    li a2, 0",
    "    li a3, 0",
    "    li a4, 24",
    "3:  ld a5, 0(a1)",
    "    beqz a5, 4f",
    "    ld a7, 8(a1)",
    "    li t0, 7",
    "    bne a5, t0, 31f",
    "    mv a2, a7",
    "31: li t0, 8",
    "    bne a5, t0, 32f",
    "    mv a3, a7",
    "32: li t0, 9",
    "    bne a5, t0, 33f",
    "    mv a4, a7",
    "33: addi a1, a1, 16",
    "    j 3b",
    "4:  beqz a2, 20f",
    "    add a2, a2, a6",
    "    add a3, a3, a2",
    // Apply: a2 = entry, a3 = end.
    "    li t1, 3",
    "5:  bgeu a2, a3, 20f",
    "    lwu a5, 8(a2)",
    "    beqz a5, 6f",
    "    bne a5, t1, 7f",
    "    ld a5, 16(a2)",
    "    add a5, a5, a6",
    "    ld a7, 0(a2)",
    "    add a7, a7, a6",
    "    sd a5, 0(a7)",
    "    addi t2, t2, 1",
    "6:  add a2, a2, a4",
    "    j 5b",
    // RELR: a2 = DT_RELR, a3 = DT_RELRSZ.
    "20: li a2, 0",
    "    li a3, 0",
    "21: ld a5, 0(a0)",
    "    beqz a5, 22f",
    "    ld a7, 8(a0)",
    "    li t0, 36",
    "    bne a5, t0, 211f",
    "    mv a2, a7",
    "211: li t0, 35",
    "    bne a5, t0, 212f",
    "    mv a3, a7",
    "212: addi a0, a0, 16",
    "    j 21b",
    "22: beqz a2, 9f",
    "    add a2, a2, a6",
    "    add a3, a3, a2",
    // a2 = entry, a3 = end, t3 = the word the next bitmap starts at.
    "    li t3, 0",
    "23: bgeu a2, a3, 9f",
    "    ld a5, 0(a2)",
    "    addi a2, a2, 8",
    "    andi t0, a5, 1",
    "    bnez t0, 24f",
    "    add t3, a5, a6",
    "    ld a7, 0(t3)",
    "    add a7, a7, a6",
    "    sd a7, 0(t3)",
    "    addi t3, t3, 8",
    "    addi t2, t2, 1",
    "    j 23b",
    "24: beqz t3, 7f",
    "    mv t4, t3",
    "    srli a5, a5, 1",
    "25: beqz a5, 26f",
    "    andi t0, a5, 1",
    "    beqz t0, 27f",
    "    ld a7, 0(t4)",
    "    add a7, a7, a6",
    "    sd a7, 0(t4)",
    "    addi t2, t2, 1",
    "27: srli a5, a5, 1",
    "    addi t4, t4, 8",
    "    j 25b",
    "26: addi t3, t3, 504",
    "    j 23b",
    "7:  li a0, -1",
    "    ret",
    "8:  li a0, -3",
    "    ret",
    "9:  mv a0, t2",
    "    ret",
    ".size __sel4rs_self_relocate, . - __sel4rs_self_relocate",
    ".popsection",
);

extern "C" {
    fn __sel4rs_self_relocate(ehdr: *const u8) -> isize;
}

/// Applies the relative relocations of a position-independent image loaded
/// with its ELF header at `ehdr`, for the address it is loaded at (found
/// through the program headers). Returns the number applied, or a negative
/// [`crate::RelocStatus`] code. This is the code `_start` runs on itself.
///
/// # Safety
/// `ehdr` must point at the loaded ELF header of a complete, writable memory
/// image of an ELF64 riscv64 file (program headers included), and nothing
/// else may use the image's relocated data while this runs.
pub unsafe fn self_relocate(ehdr: *const u8) -> isize {
    // SAFETY: per the contract; the routine follows the RISC-V calling
    // convention and touches only the image described by the headers.
    unsafe { __sel4rs_self_relocate(ehdr) }
}

// The entry point. The kernel starts the root task with a0 = bootinfo and
// every other register 0, sp included (no usable stack; the stack is the
// entry macro's, `crate::stack!`); a loader starts a process with a0 = its
// start-info page, sp = the top of a stack and tp set, relocations applied
// (start contract, `sel4_component_env::start`). Only PC-relative
// addressing (`lla`) until the relocations are applied; `gp` is not used
// (no linker relaxation against it in a PIE).
#[cfg(target_os = "none")]
core::arch::global_asm!(
    ".pushsection .text._start,\"ax\",@progbits",
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "    .option push",
    "    .option norelax",
    "    li fp, 0",
    "    li ra, 0",
    "    bnez sp, 1f",
    // The root task: the static stack, self-relocation.
    "    lla sp, __sel4rs_stack_top",
    "    mv s1, a0",
    "    lla a0, __ehdr_start",
    "    call __sel4rs_self_relocate",
    "    mv a1, a0",
    "    mv a0, s1",
    "    lla a2, __ehdr_start",
    "    li a3, 0",
    "    j 2f",
    // A process: the loader's stack, 16-byte aligned; the loader applied
    // the relocations. a0 (the start-info page) stays.
    "1:  andi sp, sp, -16",
    "    li a1, 0",
    "    lla a2, __ehdr_start",
    "    li a3, 1",
    "2:  call __sel4rs_rust_start",
    "    call __sel4rs_runtime_entry",
    "    unimp",
    "    .option pop",
    ".size _start, . - _start",
    ".popsection",
);
