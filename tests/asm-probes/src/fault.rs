//! Fault sites at known addresses, for fault handlers that check the
//! fault's instruction address and restart the thread after it (as
//! seL4test's PAGEFAULT0001-0005 do with labels in inline asm).
//!
//! Each probe loads a value (`val`) into a register, faults at a known
//! instruction ([`Site::ip`]), and returns that register when it comes
//! back at [`Site::restart`]. A handler that writes a new value into the
//! register and moves the thread's instruction pointer to the restart
//! address (through `TCB_WriteRegisters` or the fault reply) makes the
//! probe return the new value. Without a handler the faulting thread never
//! comes back.
//!
//! The memory faults use [`FAULT_VADDR`], an address in the lower half of
//! the address space that nothing in sel4rs maps (the root task's image,
//! heap and thread stacks are far below it). A task that maps a frame
//! there itself, through its VSpace capability, lets the read or write
//! probe read or write that frame; like any use of that capability, this
//! is outside what Rust's safety covers (see docs/design.md).

use sel4_sys::Word;

/// The address the memory-fault probes touch: sel4test's 64-bit
/// `BAD_VADDR`, with bits set above bit 32 so that a fault message that
/// cuts the address to 32 bits shows.
pub const FAULT_VADDR: Word = 0x7EDC_BA98_7650;

/// The value the probes start with (sel4test's `BAD_MAGIC`, `~GOOD_MAGIC`
/// as a 32-bit int).
pub const BAD_MAGIC: u32 = !0x1583_1851;
/// The value a handler puts in (sel4test's `GOOD_MAGIC`).
pub const GOOD_MAGIC: u32 = 0x1583_1851;

/// Where a probe faults and where it may be restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site {
    /// The address of the faulting instruction.
    pub ip: Word,
    /// The address to restart at (right after it).
    pub restart: Word,
}

core::arch::global_asm!(
    ".pushsection .text.sel4rs_probe_fault, \"ax\", @progbits",
    // u32 read(u32 val): EAX = val; EAX = *(u32 *)FAULT_VADDR; return EAX.
    ".p2align 4",
    ".global sel4rs_probe_read_fault",
    ".type sel4rs_probe_read_fault, @function",
    "sel4rs_probe_read_fault:",
    "mov eax, edi",
    "mov rcx, 0x7EDCBA987650",
    ".global sel4rs_probe_read_fault_ip",
    "sel4rs_probe_read_fault_ip:",
    "mov eax, dword ptr [rcx]",
    ".global sel4rs_probe_read_fault_restart",
    "sel4rs_probe_read_fault_restart:",
    "ret",
    // u32 write(u32 val): EAX = val; *(u32 *)FAULT_VADDR = EAX; return EAX.
    ".p2align 4",
    ".global sel4rs_probe_write_fault",
    ".type sel4rs_probe_write_fault, @function",
    "sel4rs_probe_write_fault:",
    "mov eax, edi",
    "mov rcx, 0x7EDCBA987650",
    ".global sel4rs_probe_write_fault_ip",
    "sel4rs_probe_write_fault_ip:",
    "mov dword ptr [rcx], eax",
    ".global sel4rs_probe_write_fault_restart",
    "sel4rs_probe_write_fault_restart:",
    "ret",
    // u32 exec(u32 val): EAX = val; jump to FAULT_VADDR; return EAX (when
    // restarted after the jump).
    ".p2align 4",
    ".global sel4rs_probe_exec_fault",
    ".type sel4rs_probe_exec_fault, @function",
    "sel4rs_probe_exec_fault:",
    "mov eax, edi",
    "mov rcx, 0x7EDCBA987650",
    "jmp rcx",
    ".global sel4rs_probe_exec_fault_restart",
    "sel4rs_probe_exec_fault_restart:",
    "ret",
    // u32 bad_syscall(u32 val, u64 number): EBX = val; `syscall` with
    // RDX = number (RSP kept in R12: the kernel returns with RSP = 0);
    // return EBX.
    ".p2align 4",
    ".global sel4rs_probe_bad_syscall",
    ".type sel4rs_probe_bad_syscall, @function",
    "sel4rs_probe_bad_syscall:",
    "push rbx",
    "push r12",
    "mov ebx, edi",
    "mov rdx, rsi",
    "mov r12, rsp",
    ".global sel4rs_probe_bad_syscall_ip",
    "sel4rs_probe_bad_syscall_ip:",
    "syscall",
    ".global sel4rs_probe_bad_syscall_restart",
    "sel4rs_probe_bad_syscall_restart:",
    "mov rsp, r12",
    "mov eax, ebx",
    "pop r12",
    "pop rbx",
    "ret",
    // u32 undefined_instruction(u32 val, u64 sp_marker): RCX = RFLAGS,
    // EAX = val, RSP = sp_marker (the original RSP kept in RBX); `ud2`;
    // after a restart RSP comes back from RBX; return EAX.
    ".p2align 4",
    ".global sel4rs_probe_ud",
    ".type sel4rs_probe_ud, @function",
    "sel4rs_probe_ud:",
    "push rbx",
    "mov rbx, rsp",
    "pushfq",
    "pop rcx",
    "mov eax, edi",
    "mov rsp, rsi",
    ".global sel4rs_probe_ud_ip",
    "sel4rs_probe_ud_ip:",
    "ud2",
    ".global sel4rs_probe_ud_restart",
    "sel4rs_probe_ud_restart:",
    "mov rsp, rbx",
    "pop rbx",
    "ret",
    ".popsection",
);

extern "C" {
    fn sel4rs_probe_read_fault(val: u32) -> u32;
    fn sel4rs_probe_read_fault_ip();
    fn sel4rs_probe_read_fault_restart();
    fn sel4rs_probe_write_fault(val: u32) -> u32;
    fn sel4rs_probe_write_fault_ip();
    fn sel4rs_probe_write_fault_restart();
    fn sel4rs_probe_exec_fault(val: u32) -> u32;
    fn sel4rs_probe_exec_fault_restart();
    fn sel4rs_probe_bad_syscall(val: u32, number: Word) -> u32;
    fn sel4rs_probe_bad_syscall_ip();
    fn sel4rs_probe_bad_syscall_restart();
    fn sel4rs_probe_ud(val: u32, sp_marker: Word) -> u32;
    fn sel4rs_probe_ud_ip();
    fn sel4rs_probe_ud_restart();
}

fn addr(f: unsafe extern "C" fn()) -> Word {
    f as *const () as usize as Word
}

/// Reads 4 bytes at [`FAULT_VADDR`] into EAX (which holds `val` before);
/// returns EAX.
#[inline(never)]
pub fn read(val: u32) -> u32 {
    // SAFETY: the routine changes RAX and RCX only (caller-saved) and reads
    // 4 bytes at FAULT_VADDR, which is no Rust allocation (see the module
    // documentation); unmapped, the thread faults there and comes back
    // only if a handler restarts it at the restart address, where the
    // routine returns like a C function.
    unsafe { sel4rs_probe_read_fault(val) }
}

/// Where [`read`] faults.
pub fn read_site() -> Site {
    Site {
        ip: addr(sel4rs_probe_read_fault_ip),
        restart: addr(sel4rs_probe_read_fault_restart),
    }
}

/// Writes `val` (held in EAX) to the 4 bytes at [`FAULT_VADDR`]; returns
/// EAX.
#[inline(never)]
pub fn write(val: u32) -> u32 {
    // SAFETY: as for `read`, with a 4-byte write to FAULT_VADDR, which no
    // Rust allocation covers.
    unsafe { sel4rs_probe_write_fault(val) }
}

/// Where [`write`] faults.
pub fn write_site() -> Site {
    Site {
        ip: addr(sel4rs_probe_write_fault_ip),
        restart: addr(sel4rs_probe_write_fault_restart),
    }
}

/// Jumps to [`FAULT_VADDR`] with `val` in EAX; returns EAX when restarted
/// at [`exec_site`]'s restart address.
#[inline(never)]
pub fn exec(val: u32) -> u32 {
    // SAFETY: the routine changes RAX and RCX only and jumps to
    // FAULT_VADDR, where no code is mapped (nothing in sel4rs maps it):
    // the instruction fetch faults and the thread comes back only if a
    // handler restarts it at the restart address, where the routine
    // returns like a C function with the stack as it was.
    unsafe { sel4rs_probe_exec_fault(val) }
}

/// Where [`exec`] faults ([`FAULT_VADDR`] itself) and where to restart it.
pub fn exec_site() -> Site {
    Site {
        ip: FAULT_VADDR,
        restart: addr(sel4rs_probe_exec_fault_restart),
    }
}

/// Performs the syscall `number` (one the kernel does not know, so that
/// it raises an unknown-syscall fault) with `val` in EBX; returns EBX
/// when restarted at [`bad_syscall_site`]'s restart address.
#[inline(never)]
pub fn bad_syscall(val: u32, number: Word) -> u32 {
    // SAFETY: the routine saves and restores RBX and R12, keeps the stack
    // pointer in R12 across `syscall` (the kernel returns with RSP = 0)
    // and changes RAX, RCX, RDX, R11 (caller-saved). The kernel treats a
    // number it does not know as a fault; a known number is an ordinary
    // syscall with whatever the other registers hold, which the kernel
    // checks as any syscall's arguments (the memory it may touch is this
    // thread's IPC buffer, which no Rust reference covers during the call).
    unsafe { sel4rs_probe_bad_syscall(val, number) }
}

/// Where [`bad_syscall`] faults (its `syscall` instruction) and where to
/// restart it.
pub fn bad_syscall_site() -> Site {
    Site {
        ip: addr(sel4rs_probe_bad_syscall_ip),
        restart: addr(sel4rs_probe_bad_syscall_restart),
    }
}

/// Executes `ud2` with `val` in EAX, RFLAGS in RCX and RSP = `sp_marker`
/// (the fault message reports it); returns EAX when restarted at
/// [`undefined_instruction_site`]'s restart address (which takes RSP back
/// from RBX, whatever the handler set).
#[inline(never)]
pub fn undefined_instruction(val: u32, sp_marker: Word) -> u32 {
    // SAFETY: the routine saves RBX, keeps the stack pointer in it while
    // RSP holds the marker (no instruction uses the stack meanwhile: the
    // exception enters the kernel, which does not use the user stack), and
    // after a restart puts RSP back from RBX, restores RBX and returns like
    // a C function; it changes RAX and RCX (caller-saved). Without a
    // handler that restarts it, the thread does not come back.
    unsafe { sel4rs_probe_ud(val, sp_marker) }
}

/// Where [`undefined_instruction`] faults and where to restart it.
pub fn undefined_instruction_site() -> Site {
    Site {
        ip: addr(sel4rs_probe_ud_ip),
        restart: addr(sel4rs_probe_ud_restart),
    }
}
