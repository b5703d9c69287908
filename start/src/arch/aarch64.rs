//! aarch64 start code.

// Self-relocation, in asm because it runs before any relocated data may be
// used; the algorithm of the x86_64 routine, except that the dynamic section
// is found through the program headers: a PC-relative reference to an
// undefined weak `_DYNAMIC` (a static image) does not resolve to 0 on this
// architecture. It takes the run-time address of the ELF header (x0), finds
// PT_DYNAMIC and the PT_LOAD that maps the ELF header (file offset 0) among
// the program headers, and takes load offset = run-time address of the ELF
// header - that segment's p_vaddr. Then it walks DT_RELA, DT_RELASZ and
// DT_RELAENT and, for each R_AARCH64_RELATIVE (1027) entry, stores addend +
// offset at r_offset + offset. R_AARCH64_NONE entries are skipped. Then the
// packed relative relocations (DT_RELR, as the x86_64 routine). Returns in
// x0 the number of relocations applied (0 for an image without
// PT_DYNAMIC), -1 for an unsupported relocation type or a RELR table that
// starts with a bitmap (nothing after it is applied), -3 when no PT_LOAD
// maps the ELF header. Uses only x0-x13 (caller-saved), no stack.
core::arch::global_asm!(
    ".pushsection .text.sel4rs_self_relocate,\"ax\",%progbits",
    ".globl __sel4rs_self_relocate",
    ".type __sel4rs_self_relocate,%function",
    "__sel4rs_self_relocate:",
    "    mov x9, #0",
    // Scan the program headers: x2 = phdr, w3 = remaining, x4 = entry size;
    // x10/x13 = link address of the header segment / found, x11/x12 =
    // p_vaddr of PT_DYNAMIC / found.
    "    ldr x2, [x0, #32]",
    "    add x2, x2, x0",
    "    ldrh w3, [x0, #56]",
    "    ldrh w4, [x0, #54]",
    "    mov x12, #0",
    "    mov x13, #0",
    "1:  cbz w3, 2f",
    "    ldr w5, [x2]",
    "    cmp w5, #2",
    "    b.ne 11f",
    "    ldr x11, [x2, #16]",
    "    mov x12, #1",
    "11: cmp w5, #1",
    "    b.ne 12f",
    "    cbnz x13, 12f",
    "    ldr x5, [x2, #8]",
    "    cbnz x5, 12f",
    "    ldr x10, [x2, #16]",
    "    mov x13, #1",
    "12: add x2, x2, x4",
    "    sub w3, w3, #1",
    "    b 1b",
    "2:  cbz x12, 9f",
    "    cbz x13, 8f",
    // x6 = load offset, x1 = run-time address of the dynamic section.
    "    sub x6, x0, x10",
    "    add x1, x11, x6",
    // x0 = the dynamic section, for the RELR pass.
    "    mov x0, x1",
    // Walk the dynamic section: x2 = DT_RELA, x3 = DT_RELASZ, x4 = DT_RELAENT.
    "    mov x2, #0",
    "    mov x3, #0",
    "    mov x4, #24",
    "3:  ldr x5, [x1]",
    "    cbz x5, 4f",
    "    ldr x7, [x1, #8]",
    "    cmp x5, #7",
    "    csel x2, x7, x2, eq",
    "    cmp x5, #8",
    "    csel x3, x7, x3, eq",
    "    cmp x5, #9",
    "    csel x4, x7, x4, eq",
    "    add x1, x1, #16",
    "    b 3b",
    "4:  cbz x2, 20f",
    "    add x2, x2, x6",
    "    add x3, x3, x2",
    // Apply: x2 = entry, x3 = end.
    "5:  cmp x2, x3",
    "    b.hs 20f",
    "    ldr w5, [x2, #8]",
    "    cbz w5, 6f",
    "    cmp w5, #1027",
    "    b.ne 7f",
    "    ldr x5, [x2, #16]",
    "    add x5, x5, x6",
    "    ldr x7, [x2]",
    "    add x7, x7, x6",
    "    str x5, [x7]",
    "    add x9, x9, #1",
    "6:  add x2, x2, x4",
    "    b 5b",
    // RELR: x2 = DT_RELR, x3 = DT_RELRSZ.
    "20: mov x2, #0",
    "    mov x3, #0",
    "21: ldr x5, [x0]",
    "    cbz x5, 22f",
    "    ldr x7, [x0, #8]",
    "    cmp x5, #36",
    "    csel x2, x7, x2, eq",
    "    cmp x5, #35",
    "    csel x3, x7, x3, eq",
    "    add x0, x0, #16",
    "    b 21b",
    "22: cbz x2, 9f",
    "    add x2, x2, x6",
    "    add x3, x3, x2",
    // x2 = entry, x3 = end, x10 = the word the next bitmap starts at.
    "    mov x10, #0",
    "23: cmp x2, x3",
    "    b.hs 9f",
    "    ldr x5, [x2], #8",
    "    tbnz x5, #0, 24f",
    "    add x10, x5, x6",
    "    ldr x7, [x10]",
    "    add x7, x7, x6",
    "    str x7, [x10], #8",
    "    add x9, x9, #1",
    "    b 23b",
    "24: cbz x10, 7f",
    "    mov x11, x10",
    "    lsr x5, x5, #1",
    "25: cbz x5, 26f",
    "    tbz x5, #0, 27f",
    "    ldr x7, [x11]",
    "    add x7, x7, x6",
    "    str x7, [x11]",
    "    add x9, x9, #1",
    "27: lsr x5, x5, #1",
    "    add x11, x11, #8",
    "    b 25b",
    "26: add x10, x10, #504",
    "    b 23b",
    "7:  mov x0, #-1",
    "    ret",
    "8:  mov x0, #-3",
    "    ret",
    "9:  mov x0, x9",
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
/// image of an ELF64 aarch64 file (program headers included), and nothing
/// else may use the image's relocated data while this runs.
pub unsafe fn self_relocate(ehdr: *const u8) -> isize {
    // SAFETY: per the contract; the routine follows the AAPCS64 calling
    // convention and touches only the image described by the headers.
    unsafe { __sel4rs_self_relocate(ehdr) }
}

// The entry point. The kernel starts the root task with x0 = bootinfo and
// every other register 0, sp included (no usable stack; the stack is the
// entry macro's, `crate::stack!`); a loader starts a process with x0 = its
// start-info page, sp = the top of a stack and tpidr_el0 set, relocations
// applied (start contract, `sel4_component_env::start`). Only PC-relative
// addressing (adrp/add) until the relocations are applied.
#[cfg(target_os = "none")]
core::arch::global_asm!(
    ".pushsection .text._start,\"ax\",%progbits",
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "    mov x9, sp",
    "    mov x29, #0",
    "    mov x30, #0",
    "    cbnz x9, 1f",
    // The root task: the static stack, self-relocation.
    "    adrp x1, __sel4rs_stack_top",
    "    add x1, x1, :lo12:__sel4rs_stack_top",
    "    mov sp, x1",
    "    mov x19, x0",
    "    adrp x0, __ehdr_start",
    "    add x0, x0, :lo12:__ehdr_start",
    "    bl __sel4rs_self_relocate",
    "    mov x1, x0",
    "    mov x0, x19",
    "    adrp x2, __ehdr_start",
    "    add x2, x2, :lo12:__ehdr_start",
    "    mov x3, #0",
    "    b 2f",
    // A process: the loader's stack, 16-byte aligned; the loader applied
    // the relocations. x0 (the start-info page) stays.
    "1:  and x9, x9, #0xfffffffffffffff0",
    "    mov sp, x9",
    "    mov x1, #0",
    "    adrp x2, __ehdr_start",
    "    add x2, x2, :lo12:__ehdr_start",
    "    mov x3, #1",
    "2:  bl __sel4rs_rust_start",
    "    bl __sel4rs_runtime_entry",
    "    udf #0",
    ".size _start, . - _start",
    ".popsection",
);
