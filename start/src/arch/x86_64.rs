//! x86_64 start code.

// Self-relocation, in asm because it runs before any relocated data may be
// used. It takes the run-time address of the ELF header (rdi) and of the
// dynamic section (rsi, 0 for an image without one), finds PT_DYNAMIC among
// the program headers, and takes load offset = run-time address of the
// dynamic section - its link address (p_vaddr). Then it walks DT_RELA,
// DT_RELASZ and DT_RELAENT and, for each R_X86_64_RELATIVE entry, stores
// addend + offset at r_offset + offset. R_X86_64_NONE entries are skipped.
// Then the packed relative relocations (DT_RELR, DT_RELRSZ; from
// `-z pack-relative-relocs`, one word per run of up to 63 pointers): an
// even entry is the link address of a word, which gets + offset, and the
// next bitmap starts after it; an odd entry is a bitmap whose bit i (1..63)
// adds offset to the word i - 1 words after the bitmap's start, which then
// moves on by 63 words.
// Returns in rax the number of relocations applied, -1 for an unsupported
// relocation type or a RELR table that starts with a bitmap (nothing after
// it is applied), -2 for a dynamic section without a PT_DYNAMIC header.
// Uses only caller-saved registers, no stack.
core::arch::global_asm!(
    ".pushsection .text.sel4rs_self_relocate,\"ax\",@progbits",
    ".globl __sel4rs_self_relocate",
    ".type __sel4rs_self_relocate,@function",
    "__sel4rs_self_relocate:",
    "    xor eax, eax",
    "    test rsi, rsi",
    "    jz 9f",
    // Find PT_DYNAMIC: r8 = phdr, ecx = remaining, r9 = entry size.
    "    mov r8, qword ptr [rdi + 32]",
    "    add r8, rdi",
    "    movzx ecx, word ptr [rdi + 56]",
    "    movzx r9d, word ptr [rdi + 54]",
    "1:  test ecx, ecx",
    "    jz 8f",
    "    cmp dword ptr [r8], 2",
    "    je 2f",
    "    add r8, r9",
    "    dec ecx",
    "    jmp 1b",
    // r11 = load offset.
    "2:  mov r11, rsi",
    "    sub r11, qword ptr [r8 + 16]",
    // rdi = the dynamic section, for the RELR pass.
    "    mov rdi, rsi",
    // Walk the dynamic section: r8 = DT_RELA, r9 = DT_RELASZ, r10 = DT_RELAENT.
    "    xor r8d, r8d",
    "    xor r9d, r9d",
    "    mov r10d, 24",
    "3:  mov rcx, qword ptr [rsi]",
    "    test rcx, rcx",
    "    jz 4f",
    "    mov rdx, qword ptr [rsi + 8]",
    "    cmp rcx, 7",
    "    cmove r8, rdx",
    "    cmp rcx, 8",
    "    cmove r9, rdx",
    "    cmp rcx, 9",
    "    cmove r10, rdx",
    "    add rsi, 16",
    "    jmp 3b",
    "4:  test r8, r8",
    "    jz 20f",
    "    add r8, r11",
    "    add r9, r8",
    // Apply: r8 = entry, r9 = end.
    "5:  cmp r8, r9",
    "    jae 20f",
    "    mov ecx, dword ptr [r8 + 8]",
    "    test ecx, ecx",
    "    jz 6f",
    "    cmp ecx, 8",
    "    jne 7f",
    "    mov rcx, qword ptr [r8 + 16]",
    "    add rcx, r11",
    "    mov rdx, qword ptr [r8]",
    "    add rdx, r11",
    "    mov qword ptr [rdx], rcx",
    "    inc rax",
    "6:  add r8, r10",
    "    jmp 5b",
    // RELR: r8 = DT_RELR, r9 = DT_RELRSZ.
    "20: xor r8d, r8d",
    "    xor r9d, r9d",
    "21: mov rcx, qword ptr [rdi]",
    "    test rcx, rcx",
    "    jz 22f",
    "    mov rdx, qword ptr [rdi + 8]",
    "    cmp rcx, 36",
    "    cmove r8, rdx",
    "    cmp rcx, 35",
    "    cmove r9, rdx",
    "    add rdi, 16",
    "    jmp 21b",
    "22: test r8, r8",
    "    jz 9f",
    "    add r8, r11",
    "    add r9, r8",
    // r8 = entry, r9 = end, rdx = the word the next bitmap starts at.
    "    xor edx, edx",
    "23: cmp r8, r9",
    "    jae 9f",
    "    mov rcx, qword ptr [r8]",
    "    add r8, 8",
    "    test cl, 1",
    "    jnz 24f",
    "    lea rdx, [rcx + r11]",
    "    add qword ptr [rdx], r11",
    "    add rdx, 8",
    "    inc rax",
    "    jmp 23b",
    "24: test rdx, rdx",
    "    jz 7f",
    "    mov rsi, rdx",
    "    shr rcx, 1",
    "25: test rcx, rcx",
    "    jz 26f",
    "    test cl, 1",
    "    jz 27f",
    "    add qword ptr [rsi], r11",
    "    inc rax",
    "27: shr rcx, 1",
    "    add rsi, 8",
    "    jmp 25b",
    "26: add rdx, 504",
    "    jmp 23b",
    "7:  mov rax, -1",
    "    ret",
    "8:  mov rax, -2",
    "9:  ret",
    ".size __sel4rs_self_relocate, . - __sel4rs_self_relocate",
    ".popsection",
);

extern "C" {
    fn __sel4rs_self_relocate(ehdr: *const u8, dynamic: *const u8) -> isize;
}

/// Applies the relative relocations of a position-independent image loaded
/// with its ELF header at `ehdr` and its dynamic section at `dynamic`, for
/// the address it is loaded at. Returns the number applied, or a negative
/// [`crate::RelocStatus`] code. This is the code `_start` runs on itself.
///
/// # Safety
/// `ehdr` must point at the loaded ELF header of a complete, writable memory
/// image of an ELF64 x86_64 file (program headers included), `dynamic` at
/// that image's dynamic section (or be null), and nothing else may use the
/// image's relocated data while this runs.
pub unsafe fn self_relocate(ehdr: *const u8, dynamic: *const u8) -> isize {
    // SAFETY: per the contract; the routine follows the C calling convention
    // and touches only the image described by the headers.
    unsafe { __sel4rs_self_relocate(ehdr, dynamic) }
}

// The entry point. The kernel starts the root task with rdi = bootinfo and
// every other register 0, rsp included; a loader starts a process with rdi
// = its start-info page, rsp = the top of a stack (minus 8, as after a
// call) and FS base set, relocations applied.
// With the feature `startup-trace` (the start-up boot test only) its first
// instructions keep the time stamp counter in `__sel4rs_start_tsc`
// ([`crate::start_tsc`]).
#[cfg(all(target_os = "none", feature = "startup-trace"))]
macro_rules! start_stamp {
    () => {
        concat!(
            "    rdtsc\n",
            "    shl rdx, 32\n",
            "    or rax, rdx\n",
            "    mov qword ptr [rip + __sel4rs_start_tsc], rax\n",
        )
    };
}
#[cfg(all(target_os = "none", not(feature = "startup-trace")))]
macro_rules! start_stamp {
    () => {
        ""
    };
}

#[cfg(target_os = "none")]
core::arch::global_asm!(
    ".weak _DYNAMIC",
    ".hidden _DYNAMIC",
    ".pushsection .text._start,\"ax\",@progbits",
    ".globl _start",
    ".type _start,@function",
    "_start:",
    start_stamp!(),
    "    xor ebp, ebp",
    "    test rsp, rsp",
    "    jnz 1f",
    // The root task: the static stack, self-relocation.
    "    lea rsp, [rip + __sel4rs_stack_top]",
    "    mov r12, rdi",
    "    lea rdi, [rip + __ehdr_start]",
    "    lea rsi, [rip + _DYNAMIC]",
    "    call __sel4rs_self_relocate",
    "    mov rdi, r12",
    "    mov rsi, rax",
    "    lea rdx, [rip + __ehdr_start]",
    "    xor ecx, ecx",
    "    jmp 2f",
    // A process: the loader's stack, 16-byte aligned for the call; the
    // loader applied the relocations.
    "1:  and rsp, -16",
    "    xor esi, esi",
    "    lea rdx, [rip + __ehdr_start]",
    "    mov ecx, 1",
    "2:  call __sel4rs_rust_start",
    "    mov rdi, rax",
    "    call __sel4rs_runtime_entry",
    "    ud2",
    ".size _start, . - _start",
    ".popsection",
);
