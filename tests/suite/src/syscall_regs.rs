//! Registers across system calls (sel4test's driver tests SYSCALL0000-0017),
//! the stack alignment threads start with (STACK_ALIGNMENT_001), and what
//! `TCB_ReadRegisters` reports for a thread blocked in a system call.
//!
//! Each syscall test runs the syscall twenty times with magic values in
//! every general register and checks them after (sel4test fills the
//! registers its compiler picks around libsel4's stubs; the probe fills
//! all of them). x86_64: every register the ABI keeps, once with the stack
//! pointer held in R14 (as sel4-sys does) and once in RBX (as libsel4
//! does), so that both registers are checked too; a syscall without a
//! reply keeps every register but RCX, R11 (the `syscall` instruction's)
//! and RSP (the kernel's `sysretq` path returns 0 there); one with a reply
//! (Call, Recv, NBRecv, ReplyRecv, DebugPutChar) also writes RDI, RSI and
//! the message registers R10, R8, R9, R15, as libsel4's stubs declare.
//! aarch64 and riscv64: every general register of the kernel's
//! `seL4_UserContext` (X0-X30 and SP; RA, SP, GP, TP, T0-T6, S0-S11,
//! A0-A7), compared by its names there; a syscall without a reply keeps
//! all of them, one with a reply writes X0-X5 / A0-A5 (badge, message
//! info, message registers 0 to 3). The routines are in `sel4-asm-probes`.
use sel4_asm_probes::{SyscallArgs, MAGIC};
use sel4_sys::{MessageInfo, Syscall, Word};
use sel4_test_harness::{ensure_eq, sel4_test, skip, Ctx, Failure, TestResult};

use crate::util::notification;
#[cfg(target_arch = "x86_64")]
use crate::util::{raw_thread, read_regs, reg, write_regs};

/// Which registers a probed syscall must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    /// All of them: a syscall without a reply.
    All,
    /// All but the ones a reply writes.
    NotReply,
}

/// What a probed syscall returned: the badge, the message info and
/// message register 0 (x86_64 RDI, RSI, R10; aarch64 X0, X1, X2; riscv64
/// A0, A1, A2).
#[derive(Debug, Clone, Copy)]
struct Out {
    badge: Word,
    info: Word,
    mr0: Word,
}

#[cfg(target_arch = "x86_64")]
mod arch {
    use super::{Kept, Out, RUNS};
    use sel4_asm_probes::{syscall_probe, Gprs, Probed, SpHolder, SyscallArgs};
    use sel4_sys::{Syscall, Word};
    use sel4_test_harness::{ensure_eq, TestResult};

    fn value(g: &Gprs, name: &str) -> Word {
        g.named()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or_default()
    }

    /// Whether a syscall's reply writes register `r` (the badge, the
    /// message info and the message registers of sel4-sys's syscall ABI).
    fn written_by_reply(r: &str) -> bool {
        use sel4_sys::syscall_abi::names::{CAP, INFO, MRS};
        r == CAP || r == INFO || MRS.contains(&r)
    }

    /// Every register of the probe (a syscall without a reply keeps all
    /// of them), or all but the ones a reply writes.
    fn check(p: &Probed, kept: Kept, what: &str) -> TestResult {
        for (r, before) in p.before.named() {
            if kept == Kept::NotReply && written_by_reply(r) {
                continue;
            }
            let after = value(&p.after, r);
            ensure_eq!(
                after,
                before,
                "{what}: {r} changed from {before:#x} to {after:#x} across the syscall"
            );
        }
        Ok(())
    }

    /// Run `i` of a test's runs: the first half with the stack pointer in
    /// R14, the second in RBX.
    pub fn probe_once(
        sys: Syscall,
        args: SyscallArgs,
        kept: Kept,
        i: usize,
    ) -> Result<Out, sel4_test_harness::Failure> {
        let holder = if i < RUNS / 2 {
            SpHolder::R14
        } else {
            SpHolder::Rbx
        };
        let p = syscall_probe(sys, args, holder);
        check(
            &p,
            kept,
            &alloc::format!("{sys:?}, run {i}, stack pointer in {holder:?}"),
        )?;
        use sel4_sys::syscall_abi::names::{CAP, INFO, MRS};
        Ok(Out {
            badge: value(&p.after, CAP),
            info: value(&p.after, INFO),
            mr0: value(&p.after, MRS[0]),
        })
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod arch {
    use super::{Kept, Out};
    use sel4_asm_probes::{syscall_probe, SyscallArgs};
    use sel4_sys::syscall_abi::{syscall_of, REPLY_REGISTERS};
    use sel4_sys::{Syscall, UserContext};
    use sel4_test_harness::{ensure_eq, Failure};

    /// Run `i` of a test's runs.
    pub fn probe_once(
        sys: Syscall,
        args: SyscallArgs,
        kept: Kept,
        i: usize,
    ) -> Result<Out, Failure> {
        let p = syscall_probe(sys, args);
        let (before, after) = (p.before.words(), p.after.words());
        for (n, name) in UserContext::NAMES.iter().enumerate() {
            if kept == Kept::NotReply && REPLY_REGISTERS.contains(&n) {
                continue;
            }
            let (b, a) = (before[n], after[n]);
            ensure_eq!(
                a,
                b,
                "{sys:?}, run {i}: {name} changed from {b:#x} to {a:#x} across the syscall"
            );
        }
        let (_, reply) = syscall_of(&p.after);
        Ok(Out {
            badge: reply.cap_or_badge,
            info: reply.info,
            mr0: reply.mr[0],
        })
    }
}

/// Runs `sys` `RUNS` times and checks `kept`; `before_each` runs before
/// each call (to make a receive not block).
fn probe(
    sys: Syscall,
    args: SyscallArgs,
    kept: Kept,
    mut before_each: impl FnMut(),
) -> Result<Out, Failure> {
    let mut last = None;
    for i in 0..RUNS {
        before_each();
        last = Some(arch::probe_once(sys, args, kept, i)?);
    }
    last.ok_or_else(|| Failure::fail("no run"))
}

fn args(cap: Word, info: MessageInfo, mr: [Word; 4]) -> SyscallArgs {
    SyscallArgs {
        cap,
        info: info.0,
        mr,
    }
}

/// Message register values for the *WithMRs tests (sel4test sends zeros;
/// distinct values also show a register that is swapped with another).
const MRS: [Word; 4] = [MAGIC + 10, MAGIC + 11, MAGIC + 12, MAGIC + 13];

fn empty() -> MessageInfo {
    MessageInfo::new(0, 0, 0, 0)
}

#[sel4_test(sel4test = "SYSCALL0000")]
fn yield_keeps_registers() -> TestResult {
    probe(Syscall::Yield, args(0, empty(), [0; 4]), Kept::All, || {})?;
    Ok(())
}

/// A badged notification to send to: the send is a signal, which does
/// something the test can check and which the kernel does not log (sel4test
/// sends to its CNode, an invocation the kernel refuses and logs).
fn target(ctx: &mut Ctx) -> Result<(Word, Word), Failure> {
    let n = notification(ctx)?;
    let b = crate::util::badged(ctx, n, 0x5a)?;
    Ok((n, b))
}

fn signalled(n: Word) -> TestResult {
    ensure_eq!(
        sel4_sys::poll(n),
        0x5a,
        "the sends reached the notification"
    );
    Ok(())
}

#[sel4_test(sel4test = "SYSCALL0001")]
fn send_keeps_registers(ctx: &mut Ctx) -> TestResult {
    let (n, b) = target(ctx)?;
    probe(Syscall::Send, args(b, empty(), [0; 4]), Kept::All, || {})?;
    signalled(n)
}

#[sel4_test(sel4test = "SYSCALL0002")]
fn nb_send_keeps_registers(ctx: &mut Ctx) -> TestResult {
    let (n, b) = target(ctx)?;
    probe(Syscall::NBSend, args(b, empty(), [0; 4]), Kept::All, || {})?;
    signalled(n)
}

/// Probes per register test: ten runs with each stack-pointer holder.
const RUNS: usize = 20;

/// The replies a [`caller`] got: (label, length, words).
type Replies = alloc::vec::Vec<(Word, Word, [Word; 4])>;

/// A thread that calls `ep` `n` times (message word 0 = the call's
/// number) and returns the replies it got.
fn caller(
    objs: &mut sel4_rootserver::objects::Objects,
    ep: Word,
    n: usize,
) -> Result<sel4_rootserver::thread::JoinHandle<Replies>, Failure> {
    sel4_rootserver::thread::spawn(objs, move || {
        (0..n)
            .map(|i| {
                let r = sel4_sys::call_regs(ep, MessageInfo::new(1, 0, 0, 1), [i as Word, 0, 0, 0]);
                (r.info.get_label(), r.info.get_length(), r.mrs)
            })
            .collect()
    })
    .map_err(crate::util::fw("spawn"))
}

/// Replies with `mrs` to a caller `RUNS` times, probing each Reply.
fn reply_to_a_caller(ctx: &mut Ctx, mrs: [Word; 4]) -> TestResult {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        let _ = (ctx, mrs);
        skip!(
            "MCS kernels have no Reply system call (a reply is a Send on a reply object); \
             sel4test runs this test on non-MCS kernels only"
        );
    } else {
        reply_to_a_caller_inner(ctx, mrs)
    } }
}

// Non-MCS kernels only: MCS kernels have no Reply system call.
sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {} else {
    fn reply_to_a_caller_inner(ctx: &mut Ctx, mrs: [Word; 4]) -> TestResult {
        let ep = crate::util::endpoint(ctx)?;
        let mut objs = ctx.objects(crate::util::OBJECT_SLOTS)?;
        // Above this thread: it calls before the first receive.
        let h = caller(&mut objs, ep, RUNS)?;
        let len = if mrs == [0; 4] { 0 } else { 4 };
        probe(
            Syscall::Reply,
            args(0, MessageInfo::new(7, 0, 0, len), mrs),
            Kept::All,
            || {
                sel4_sys::recv_regs(ep);
            },
        )?;
        let replies = h.join(&mut objs).map_err(crate::util::fw("join"))?;
        ensure_eq!(replies.len(), RUNS);
        for r in replies {
            ensure_eq!(
                (r.0, r.1, &r.2[..len as usize]),
                (7, len, &mrs[..len as usize]),
                "a reply the caller got"
            );
        }
        Ok(())
    }
} }

#[sel4_test(sel4test = "SYSCALL0003")]
fn reply_keeps_registers(ctx: &mut Ctx) -> TestResult {
    // sel4test replies with nobody to reply to, which the kernel drops (and
    // logs); here each reply goes to a waiting caller.
    reply_to_a_caller(ctx, [0; 4])
}

#[sel4_test(sel4test = "SYSCALL0004")]
fn signal_keeps_registers(ctx: &mut Ctx) -> TestResult {
    // libsel4's seL4_Signal: Send with an empty message info.
    let (n, b) = target(ctx)?;
    probe(Syscall::Send, args(b, empty(), [0; 4]), Kept::All, || {})?;
    signalled(n)
}

#[sel4_test(sel4test = "SYSCALL0005")]
fn call_keeps_registers(ctx: &mut Ctx) -> TestResult {
    // A call of a notification signals it and gets an empty reply.
    let (n, b) = target(ctx)?;
    let p = probe(
        Syscall::Call,
        args(b, empty(), [0; 4]),
        Kept::NotReply,
        || {},
    )?;
    ensure_eq!(
        MessageInfo(p.info).get_label(),
        0,
        "a call of a notification gets an empty reply (info {:#x})",
        p.info
    );
    signalled(n)
}

#[sel4_test(sel4test = "SYSCALL0006")]
fn debug_put_char_keeps_registers() -> TestResult {
    let Some(sys) = sel4_sys::syscall_opt::DEBUG_PUT_CHAR else {
        skip!("this kernel has no DebugPutChar (a release kernel without printing)");
    };
    probe(
        sys,
        args(Word::from(b' '), empty(), [0; 4]),
        Kept::NotReply,
        || {},
    )?;
    Ok(())
}

#[sel4_test(sel4test = ["SYSCALL0010", "SYSCALL0013"])]
fn recv_keeps_registers(ctx: &mut Ctx) -> TestResult {
    // SYSCALL0010 (seL4_Recv) and SYSCALL0013 (seL4_Wait) are the same
    // syscall on a notification signalled just before, so it does not block.
    let n = notification(ctx)?;
    let p = probe(
        Syscall::Recv,
        args(n, empty(), [0; 4]),
        Kept::NotReply,
        || sel4_sys::signal(n),
    )?;
    ensure_eq!(p.badge, 0, "badge of an unbadged signal");
    Ok(())
}

#[sel4_test(sel4test = "SYSCALL0011")]
fn reply_recv_keeps_registers(ctx: &mut Ctx) -> TestResult {
    if crate::util::MCS {
        // MCS kernels take the reply object of a ReplyRecv from R12 (X6,
        // A6), which the probe fills with a magic value: as sel4test does there, the
        // ReplyRecv replies through no reply object (the kernel ignores the
        // non-blocking reply) and receives a pending signal.
        let n = notification(ctx)?;
        let p = probe(
            Syscall::ReplyRecv,
            args(n, empty(), [0; 4]),
            Kept::NotReply,
            || sel4_sys::signal(n),
        )?;
        ensure_eq!(p.badge, 0, "badge of an unbadged signal");
        return Ok(());
    }
    // sel4test's ReplyRecv replies to nobody and receives a pending signal;
    // here it replies to a caller and receives that caller's next call.
    let ep = crate::util::endpoint(ctx)?;
    let mut objs = ctx.objects(crate::util::OBJECT_SLOTS)?;
    let h = caller(&mut objs, ep, RUNS + 1)?;
    let first = sel4_sys::recv_regs(ep);
    ensure_eq!(first.mrs[0], 0, "the first call");
    let mut next = 1;
    let mut seen = alloc::vec::Vec::new();
    for i in 0..RUNS {
        let p = arch::probe_once(
            Syscall::ReplyRecv,
            args(ep, MessageInfo::new(3, 0, 0, 1), [next * 100, 0, 0, 0]),
            Kept::NotReply,
            i,
        )?;
        seen.push(p.mr0);
        next += 1;
    }
    sel4_sys::reply_regs(MessageInfo::new(3, 0, 0, 1), [next * 100, 0, 0, 0]);
    let replies = h.join(&mut objs).map_err(crate::util::fw("join"))?;
    ensure_eq!(
        seen,
        (1..=RUNS as Word).collect::<alloc::vec::Vec<_>>(),
        "each ReplyRecv received the caller's next call (message word 0)"
    );
    for (i, r) in replies.iter().enumerate() {
        ensure_eq!((r.0, r.2[0]), (3, (i as Word + 1) * 100), "reply {i}");
    }
    Ok(())
}

#[sel4_test(sel4test = "SYSCALL0012")]
fn nb_recv_keeps_registers(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    probe(
        Syscall::NBRecv,
        args(n, empty(), [0; 4]),
        Kept::NotReply,
        || sel4_sys::signal(n),
    )?;
    Ok(())
}

#[sel4_test(sel4test = "SYSCALL0014")]
fn send_with_mrs_keeps_registers(ctx: &mut Ctx) -> TestResult {
    let (n, b) = target(ctx)?;
    probe(Syscall::Send, args(b, empty(), MRS), Kept::All, || {})?;
    signalled(n)
}

#[sel4_test(sel4test = "SYSCALL0015")]
fn nb_send_with_mrs_keeps_registers(ctx: &mut Ctx) -> TestResult {
    let (n, b) = target(ctx)?;
    probe(Syscall::NBSend, args(b, empty(), MRS), Kept::All, || {})?;
    signalled(n)
}

#[sel4_test(sel4test = "SYSCALL0016")]
fn reply_with_mrs_keeps_registers(ctx: &mut Ctx) -> TestResult {
    reply_to_a_caller(ctx, MRS)
}

#[sel4_test(sel4test = "SYSCALL0017")]
fn call_with_mrs_keeps_registers(ctx: &mut Ctx) -> TestResult {
    let (n, b) = target(ctx)?;
    probe(Syscall::Call, args(b, empty(), MRS), Kept::NotReply, || {})?;
    signalled(n)
}

#[inline(never)]
fn deeper(n: usize) -> u64 {
    let pad = core::hint::black_box([0u8; 40]);
    sel4_asm_probes::stack_misalignment() + u64::from(pad[n % 40])
}

#[sel4_test(sel4test = "STACK_ALIGNMENT_001")]
fn threads_start_with_aligned_stacks(ctx: &mut Ctx) -> TestResult {
    // The test's own thread (started by the harness through the
    // framework), and a thread it starts.
    ensure_eq!(
        sel4_asm_probes::stack_misalignment(),
        0,
        "the test thread's stack at a call is off 16-byte alignment by that many bytes"
    );
    let mut objs = ctx.objects(crate::util::OBJECT_SLOTS)?;
    let h = sel4_rootserver::thread::spawn(&mut objs, || {
        (
            sel4_asm_probes::stack_misalignment(),
            // One level deeper, through a function with another frame.
            deeper(core::hint::black_box(24)),
        )
    })
    .map_err(crate::util::fw("spawn"))?;
    let (a, b) = h.join(&mut objs).map_err(crate::util::fw("join"))?;
    ensure_eq!((a, b), (0, 0), "misalignment in a spawned thread");
    Ok(())
}

#[cfg(target_arch = "x86_64")]
/// TSC cycles the probe thread spins with RSP = 0: several timer ticks
/// (the kernel's tick is 2 ms in our configurations; 20 ms leaves room
/// for longer ones).
fn spin_cycles(ctx: &Ctx) -> u64 {
    ctx.machine().tsc_mhz * 20_000
}

#[sel4_test(
    arch = "x86_64",
    arch_reason = "x86_64 only: the kernel's x86_64 `syscall` entry does not save RSP and its `sysretq` path returns with RSP = 0, which this test observes; the aarch64 and riscv64 kernels save and restore the stack pointer on every entry (SYSCALL0000-0017 check that there), so there is no stale stack pointer to read"
)]
fn read_registers_of_thread_blocked_in_syscall_has_stale_rsp(ctx: &mut Ctx) -> TestResult {
    // Why `threads::read_registers_of_blocked_thread` once saw RSP = 0: the
    // kernel's `syscall` entry saves every register but RSP, and its
    // `sysretq` path returns with RSP = 0 until the thread's own code
    // restores it (sel4-sys from R14). So TCB_ReadRegisters of a thread
    // blocked in a syscall reports the RSP of the thread's last entry by
    // an interrupt or exception (or of TCB_WriteRegisters) — 0 when a
    // timer tick came between a syscall's return and that restore. This
    // thread makes that happen every time: it spins with RSP = 0 through
    // several timer ticks, restores RSP, then blocks in Recv.
    let ep = crate::util::endpoint(ctx)?;
    let parked = notification(ctx)?;
    let t = raw_thread(ctx, ep, 250)?;
    let mut regs = [0u64; reg::COUNT];
    regs[reg::PC] = sel4_asm_probes::spin_without_stack_then_wait();
    regs[reg::SP] = t.initial_sp();
    regs[reg::ARG0] = parked;
    regs[reg::ARG1] = spin_cycles(ctx);
    regs[reg::ARG2] = Syscall::Yield as isize as Word;
    regs[5] = Syscall::Recv as isize as Word; // rcx
                                              // Above this thread's priority: it runs, spins and blocks before
                                              // WriteRegisters returns here.
    write_regs(t.tcb, true, &regs)?;
    let now = read_regs(t.tcb, reg::COUNT)?;
    ensure_eq!(
        now[reg::PC],
        sel4_asm_probes::spin_without_stack_wait_site(),
        "rip: the thread waits in its Recv (the kernel reports the syscall instruction)"
    );
    ensure_eq!(now[reg::ARG0], parked, "rdi: the notification it waits on");
    ensure_eq!(now[reg::ARG2] as i64, Syscall::Recv as i64, "rdx: Recv");
    ensure_eq!(
        now[16],
        t.initial_sp(),
        "r14: the stack pointer the thread keeps across its syscalls"
    );
    ensure_eq!(
        now[reg::SP],
        0,
        "rsp: the value the last timer interrupt saved (0, between the Yield and the restore), \
         not the stack pointer at the Recv"
    );
    // Woken, it waits again: still alive and sane.
    sel4_sys::signal(parked);
    let again = read_regs(t.tcb, reg::COUNT)?;
    ensure_eq!(again[16], t.initial_sp(), "r14 after another round");
    Ok(())
}
