//! The x86_64 routines of the crate root: the syscall register probe,
//! the stackless spinner, and the stack alignment routine (its wrapper is
//! `stack.rs`'s [`crate::stack_misalignment`]).

use sel4_sys::{Syscall, Word};

/// The magic values the register probes load (sel4test's pattern:
/// `0xdeadbeefdead0000 + register index`).
pub const MAGIC: Word = 0xdead_beef_dead_0000;

/// The x86_64 general registers a syscall can keep: everything but RSP
/// (the kernel's `sysretq` path returns with RSP = 0), RCX and R11 (the
/// `syscall` instruction overwrites them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gprs {
    pub rax: Word,
    pub rbx: Word,
    pub rbp: Word,
    pub r12: Word,
    pub r13: Word,
    pub r14: Word,
    /// The syscall number on the way in.
    pub rdx: Word,
    /// Capability in, badge out.
    pub rdi: Word,
    /// Message info in and out.
    pub rsi: Word,
    /// Message registers 0 to 3.
    pub r10: Word,
    pub r8: Word,
    pub r9: Word,
    pub r15: Word,
}

impl Gprs {
    /// The registers with their names, in a fixed order.
    pub fn named(&self) -> [(&'static str, Word); 13] {
        [
            ("rax", self.rax),
            ("rbx", self.rbx),
            ("rbp", self.rbp),
            ("r12", self.r12),
            ("r13", self.r13),
            ("r14", self.r14),
            ("rdx", self.rdx),
            ("rdi", self.rdi),
            ("rsi", self.rsi),
            ("r10", self.r10),
            ("r8", self.r8),
            ("r9", self.r9),
            ("r15", self.r15),
        ]
    }
}

/// Which register keeps the stack pointer across the `syscall` (the
/// kernel returns with RSP = 0). libsel4 uses RBX, sel4-sys R14; the
/// probe runs with either so that both registers are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpHolder {
    Rbx,
    R14,
}

/// What [`syscall_probe`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probed {
    /// The registers just before the `syscall` instruction. The holder of
    /// the stack pointer has the stack pointer, the others
    /// `MAGIC + index`, the argument registers the arguments.
    pub before: Gprs,
    /// The same registers just after it (the stack pointer restored from
    /// its holder).
    pub after: Gprs,
}

/// The arguments of one probed syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallArgs {
    /// RDI: the capability (or DebugPutChar's character).
    pub cap: Word,
    /// RSI: the message info.
    pub info: Word,
    /// R10, R8, R9, R15: message registers 0 to 3.
    pub mr: [Word; 4],
}

/// Performs the syscall `sys` once with `args`, with `MAGIC + i` in RAX,
/// RBX, RBP, R12, R13, R14 (but the one holding the stack pointer, see
/// [`SpHolder`]), and returns every register before and after.
///
/// The caller checks which ones the kernel kept: all of them for a
/// syscall without a reply (Send, NBSend, Reply, Signal, Yield), all but
/// RDI, RSI and the message registers for one with a reply (Call, Recv,
/// NBRecv, ReplyRecv), as libsel4's stubs assume.
pub fn syscall_probe(sys: Syscall, args: SyscallArgs, holder: SpHolder) -> Probed {
    // [rax, rbx, rbp, r12, r13, r14, rdx, holder before]
    let mut saved = [0 as Word; 8];
    let mut rdx = sys as isize as Word;
    let (mut rdi, mut rsi) = (args.cap, args.info);
    let [mut r10, mut r8, mut r9, mut r15] = args.mr;
    let out = saved.as_mut_ptr();
    match holder {
        // SAFETY: the syscall number comes from the `Syscall` enum (this
        // kernel's own syscall.xml) and the other registers are plain
        // words, which the kernel checks as it checks any syscall's
        // arguments; the only memory the kernel touches is this thread's
        // IPC buffer, which no Rust reference covers during the call. The
        // asm saves RBX and RBP (which it may not name as operands) on the
        // stack and restores them, keeps the stack pointer in R14 across
        // `syscall` and restores it first thing after, then writes 8 words
        // through RCX = `out`, which points at `saved` (8 words, exclusively
        // borrowed here). Every other register it changes is an operand
        // or declared clobbered.
        SpHolder::R14 => unsafe {
            core::arch::asm!(
                "push rbx",
                "push rbp",
                "push rcx",
                "mov r14, rsp",
                "mov [rcx + 56], r14",
                "mov rax, 0xdeadbeefdead0000",
                "mov rbx, 0xdeadbeefdead0001",
                "mov rbp, 0xdeadbeefdead0002",
                "mov r12, 0xdeadbeefdead0003",
                "mov r13, 0xdeadbeefdead0004",
                "syscall",
                "mov rsp, r14",
                "mov rcx, [rsp]",
                "mov [rcx], rax",
                "mov [rcx + 8], rbx",
                "mov [rcx + 16], rbp",
                "mov [rcx + 24], r12",
                "mov [rcx + 32], r13",
                "mov [rcx + 40], r14",
                "mov [rcx + 48], rdx",
                "pop rcx",
                "pop rbp",
                "pop rbx",
                inout("rcx") out => _,
                inout("rdx") rdx,
                inout("rdi") rdi,
                inout("rsi") rsi,
                inout("r10") r10,
                inout("r8") r8,
                inout("r9") r9,
                inout("r15") r15,
                out("rax") _,
                out("r11") _,
                out("r12") _,
                out("r13") _,
                out("r14") _,
            );
        },
        // SAFETY: as above, with RBX holding the stack pointer and R14
        // a magic value.
        SpHolder::Rbx => unsafe {
            core::arch::asm!(
                "push rbx",
                "push rbp",
                "push rcx",
                "mov rbx, rsp",
                "mov [rcx + 56], rbx",
                "mov rax, 0xdeadbeefdead0000",
                "mov rbp, 0xdeadbeefdead0002",
                "mov r12, 0xdeadbeefdead0003",
                "mov r13, 0xdeadbeefdead0004",
                "mov r14, 0xdeadbeefdead0005",
                "syscall",
                "mov rsp, rbx",
                "mov rcx, [rsp]",
                "mov [rcx], rax",
                "mov [rcx + 8], rbx",
                "mov [rcx + 16], rbp",
                "mov [rcx + 24], r12",
                "mov [rcx + 32], r13",
                "mov [rcx + 40], r14",
                "mov [rcx + 48], rdx",
                "pop rcx",
                "pop rbp",
                "pop rbx",
                inout("rcx") out => _,
                inout("rdx") rdx,
                inout("rdi") rdi,
                inout("rsi") rsi,
                inout("r10") r10,
                inout("r8") r8,
                inout("r9") r9,
                inout("r15") r15,
                out("rax") _,
                out("r11") _,
                out("r12") _,
                out("r13") _,
                out("r14") _,
            );
        },
    }
    let _ = rdx;
    let sp = saved[7];
    let magic = |i: Word| MAGIC + i;
    let before = Gprs {
        rax: magic(0),
        rbx: if holder == SpHolder::Rbx {
            sp
        } else {
            magic(1)
        },
        rbp: magic(2),
        r12: magic(3),
        r13: magic(4),
        r14: if holder == SpHolder::R14 {
            sp
        } else {
            magic(5)
        },
        rdx: sys as isize as Word,
        rdi: args.cap,
        rsi: args.info,
        r10: args.mr[0],
        r8: args.mr[1],
        r9: args.mr[2],
        r15: args.mr[3],
    };
    let after = Gprs {
        rax: saved[0],
        rbx: saved[1],
        rbp: saved[2],
        r12: saved[3],
        r13: saved[4],
        r14: saved[5],
        rdx: saved[6],
        rdi,
        rsi,
        r10,
        r8,
        r9,
        r15,
    };
    Probed { before, after }
}

core::arch::global_asm!(
    ".pushsection .text.sel4rs_probe_stack, \"ax\", @progbits",
    ".p2align 4",
    ".global sel4rs_probe_stack_alignment",
    ".type sel4rs_probe_stack_alignment, @function",
    // u64 sel4rs_probe_stack_alignment(void): at entry RSP + 8 (the value
    // before the call pushed the return address) must be a multiple of 16.
    // Returns (RSP + 8) mod 16; when that is 0, also stores and reloads
    // xmm0 with `movdqa` on the stack (which faults on a misaligned
    // address), as sel4test's align_test_asm does.
    "sel4rs_probe_stack_alignment:",
    "lea rax, [rsp + 8]",
    "and rax, 15",
    "jnz 2f",
    "sub rsp, 24",
    "movdqa [rsp], xmm0",
    "movdqa xmm0, [rsp]",
    "add rsp, 24",
    "2:",
    "ret",
    ".size sel4rs_probe_stack_alignment, . - sel4rs_probe_stack_alignment",
    ".popsection",
);

core::arch::global_asm!(
    ".pushsection .text.sel4rs_probe_spin, \"ax\", @progbits",
    ".p2align 4",
    ".global sel4rs_probe_spin_without_stack",
    ".type sel4rs_probe_spin_without_stack, @function",
    // noreturn sel4rs_probe_spin_without_stack(rdi = notification,
    //     rsi = TSC cycles, rdx = Yield's number, rcx = Recv's number)
    // A raw thread's entry: yields once, then, with RSP left at what the
    // kernel's syscall return gave it (0), spins for `rsi` TSC cycles
    // (timer interrupts enter the kernel meanwhile), then restores RSP and
    // waits on the notification, forever. Uses no memory.
    "sel4rs_probe_spin_without_stack:",
    "mov r14, rsp",
    "mov r13, rdi",
    "mov r12, rsi",
    "mov rbp, rcx",
    "syscall",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "mov rbx, rax",
    "3:",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "sub rax, rbx",
    "cmp rax, r12",
    "jb 3b",
    "4:",
    "mov rdi, r13",
    "mov rdx, rbp",
    // One instruction between restoring RSP and the syscall, the only
    // place where an interrupt would save the real RSP.
    "mov rsp, r14",
    ".global sel4rs_probe_spin_without_stack_wait",
    "sel4rs_probe_spin_without_stack_wait:",
    "syscall",
    "jmp 4b",
    ".size sel4rs_probe_spin_without_stack, . - sel4rs_probe_spin_without_stack",
    ".popsection",
);

extern "C" {
    fn sel4rs_probe_spin_without_stack();
    fn sel4rs_probe_spin_without_stack_wait();
}

/// Entry point (an instruction address for a raw thread's RIP) of a
/// thread body that runs with registers only: it yields once, then runs
/// for `rsi` TSC cycles with RSP = 0 (what the kernel's syscall return
/// left there) while timer interrupts enter the kernel, then puts its
/// stack pointer back (from R14) and waits on the notification in `rdi`,
/// forever. Start it with RDI = notification, RSI = cycles, RDX = the
/// `Yield` syscall's number, RCX = `Recv`'s, RSP = a stack pointer; it
/// touches no memory. Its R14 keeps the stack pointer it started with.
pub fn spin_without_stack_then_wait() -> Word {
    sel4rs_probe_spin_without_stack as *const () as usize as Word
}

/// The address of the `syscall` instruction in which
/// [`spin_without_stack_then_wait`] waits.
pub fn spin_without_stack_wait_site() -> Word {
    sel4rs_probe_spin_without_stack_wait as *const () as usize as Word
}
