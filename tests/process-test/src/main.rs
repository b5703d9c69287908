//! process-test: the process image of the suite's process tests.
//!
//! Built for the root task's target (x86_64, aarch64, riscv64) as a
//! position-independent executable
//! with the framework's start code (`sel4-start`: stack, self-relocation,
//! TLS), and embedded in the suite's root task, which loads it into
//! processes of its own (`sel4_rootserver::process`). This file is its
//! whole runtime: it reads the start contract
//! (`sel4_component_env::start`), runs the function its first argument
//! word names with the other argument words, and reports the result as an
//! exit code (or a panic) on its report capability.
//!
//! Functions (argument word 0; the others in brackets):
//! - [`f::RETURN`] `[value]`: exits with `value` (sel4test's
//!   `remote_function`, which returns 42).
//! - [`f::SELF_CHECK`]: checks the start contract from inside (TLS from
//!   `PT_TLS`, the thread pointer, the heap, the IPC buffer, the image
//!   range, the CSpace figures); exits with a mask of the failed checks.
//! - [`f::NAME_HASH`]: exits with the FNV-1a hash of its name plus its
//!   generation.
//! - IPC (sel4test's `ipc.c`), `[endpoint slot, seed, nbwait_should_wait]`:
//!   [`f::SEND`], [`f::NBSEND`], [`f::CALL`], [`f::WAIT`], [`f::NBWAIT`],
//!   [`f::REPLY_WAIT`], [`f::REPLY_AND_WAIT`]; exit 0 on success.
//! - faults (sel4test's `faults.c`): [`f::CAUSE_FAULT`] `[kind]`,
//!   [`f::HANDLE_FAULT`] `[endpoint slot, faulter TCB slot, kind, flags]`.
//! - isolation: [`f::INVOKE_SLOT`] `[slot]`, [`f::READ_ADDR`] `[addr]`,
//!   [`f::WRITE_TEXT`], [`f::WRITE_RODATA`], [`f::EXEC_HEAP`],
//!   [`f::HEAP_WRITE`] `[value]` (writes, reads back, exits with it),
//!   [`f::HEAP_READ`] (exits with the heap's first word).
//! - [`f::THREADS`] `[arg]`: waits for thread 1 (started by the root task
//!   at [`process_test_thread`]) to publish `arg * 3 + 1` in the heap.
//! - [`f::PANIC`]: panics (the panic report carries the message).
//! - benchmark: [`f::BENCH_SERVER`] `[endpoint slot, typed]`,
//!   [`f::BENCH_CLIENT`] `[endpoint slot, typed, iterations]` (exits with
//!   the cycles of the timed calls).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use sel4_component_env::start::{self as contract, StartInfo};
use sel4_sys::{cap_type, Cap, MessageInfo};

use process_test::{f, faults as fk};

use process_test::{FAILURE, SUCCESS, UNKNOWN_FUNCTION};

/// The report slot, for the panic handler (0 before the start info is
/// read).
static REPORT_SLOT: AtomicU64 = AtomicU64::new(0);
/// Thread 0's TCB slot (0: not given).
static TCB_SLOT: AtomicU64 = AtomicU64::new(0);

// A TLS variable with an initial value (`.tdata`) and one without
// (`.tbss`), to check the TLS block the loader laid out.
core::arch::global_asm!(
    ".section .tdata.process_test,\"awT\",%progbits",
    ".p2align 3",
    ".globl process_test_tdata",
    "process_test_tdata:",
    ".quad 0x5eed12340042abcd",
    ".section .tbss.process_test,\"awT\",%nobits",
    ".p2align 3",
    ".globl process_test_tbss",
    "process_test_tbss:",
    ".zero 8",
    ".text",
);

/// The value `.tdata` starts with.
const TDATA_INIT: u64 = 0x5eed_1234_0042_abcd;

fn tdata() -> u64 {
    // This thread's TLS block (the loader laid it out from PT_TLS and set
    // the thread pointer before the thread started).
    sel4_sys::__tls_read_word!("process_test_tdata", 0)
}

fn tbss() -> u64 {
    sel4_sys::__tls_read_word!("process_test_tbss", 0)
}

fn set_tbss(v: u64) {
    sel4_sys::__tls_write_word!("process_test_tbss", 0, v)
}

/// The thread pointer: on x86_64 the self pointer at FS:0 (TLS variant
/// II, which the loader wrote), on aarch64 `tpidr_el0`, on riscv64 `tp`.
fn thread_pointer() -> u64 {
    let v: u64;
    // SAFETY: reads the thread pointer (x86_64: the word at FS:0, in this
    // thread's TLS block); no other effect.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) v,
            options(nostack, readonly, preserves_flags));
        #[cfg(target_arch = "aarch64")]
        core::arch::asm!("mrs {}, tpidr_el0", out(reg) v, options(nostack, nomem, preserves_flags));
        #[cfg(target_arch = "riscv64")]
        core::arch::asm!("mv {}, tp", out(reg) v, options(nostack, nomem, preserves_flags));
    }
    v
}

fn read_volatile(addr: u64) -> u64 {
    // SAFETY: a read meant for memory the caller knows is mapped, or meant
    // to fault (the root task then handles the fault and never resumes the
    // thread at this access).
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

fn write_volatile(addr: u64, v: u64) {
    // SAFETY: as `read_volatile`: mapped writable memory of this process,
    // or an access meant to fault.
    unsafe { core::ptr::write_volatile(addr as *mut u64, v) }
}

/// Sends the exit report and stops the thread.
fn exit(code: u64) -> ! {
    let report = REPORT_SLOT.load(Ordering::Relaxed);
    if report != 0 {
        let info = MessageInfo::new(contract::EXIT_LABEL, 0, 0, 1);
        sel4_sys::send_regs(report, info, [code, 0, 0, 0]);
    }
    stop()
}

fn stop() -> ! {
    let tcb = TCB_SLOT.load(Ordering::Relaxed);
    loop {
        if tcb != 0 {
            let _ = Cap::<cap_type::TCB>::from_cptr(tcb).tcb_suspend();
        }
        sel4_sys::yield_now();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let report = REPORT_SLOT.load(Ordering::Relaxed);
    if report != 0 && sel4_sys::ipc_buffer_addr() != 0 {
        let mut text = Text::new();
        let _ = core::fmt::write(&mut text, format_args!("{}", info.message()));
        let mut words = [0u64; contract::REPORT_WORDS];
        let n = contract::encode_panic(text.as_str(), &mut words);
        for (i, w) in words[..n].iter().enumerate() {
            sel4_sys::set_mr(i, *w);
        }
        sel4_sys::send(
            report,
            MessageInfo::new(contract::PANIC_LABEL, 0, 0, n as u64),
        );
    }
    stop()
}

/// A fixed buffer that formats into.
struct Text {
    buf: [u8; contract::PANIC_MESSAGE_MAX],
    len: usize,
}

impl Text {
    fn new() -> Text {
        Text {
            buf: [0; contract::PANIC_MESSAGE_MAX],
            len: 0,
        }
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl core::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The start-info page the loader mapped at `addr`.
fn start_info(addr: usize) -> StartInfo {
    // SAFETY: the start contract maps one read-only page at the address
    // in the first argument register (which the start code hands over as `bootinfo`); nothing
    // writes it while the process runs.
    let page = unsafe { core::slice::from_raw_parts(addr as *const u8, contract::PAGE_SIZE) };
    match StartInfo::decode(page) {
        Ok(s) => s,
        // No report slot known yet: a fault tells the root task.
        Err(_) => fault_now(),
    }
}

fn fault_now() -> ! {
    // SAFETY: an undefined instruction: a UserException fault of this
    // thread; no memory or register the program relies on changes.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        core::arch::asm!("ud2", options(nostack, nomem));
        #[cfg(target_arch = "aarch64")]
        core::arch::asm!("udf #0", options(nostack, nomem));
        #[cfg(target_arch = "riscv64")]
        core::arch::asm!("unimp", options(nostack, nomem));
    }
    stop()
}

/// MCS kernels: the reply object the loader put in thread `index`'s
/// block (its receives on endpoints name it); nothing on other kernels.
fn set_reply(index: u64) {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        sel4_sys::mcs::set_thread_reply(sel4_component_env::slot::thread(
            index,
            sel4_component_env::slot::REPLY,
        ));
    } else {
        let _ = index;
    } }
}
// A process: its loader gives it a stack, so no static stack.
sel4_start::stack!(0);

/// Entered from the start code (`sel4-start`) on the initial thread.
#[no_mangle]
extern "C" fn __sel4rs_runtime_entry(info: &sel4_start::StartInfo) -> ! {
    if info.relocation < 0 || info.kind != sel4_start::Kind::Process {
        fault_now();
    }
    let si = start_info(info.arg);
    let Some(t0) = si.thread(0).copied() else {
        fault_now()
    };
    // SAFETY: the loader gave the kernel this page as thread 0's IPC
    // buffer (start contract), mapped read-write, 1024-byte aligned.
    unsafe { sel4_sys::set_ipc_buffer(t0.ipc_buffer as usize) };
    set_reply(0);
    REPORT_SLOT.store(si.report_slot, Ordering::Relaxed);
    TCB_SLOT.store(t0.tcb_slot, Ordering::Relaxed);
    let code = run(&si);
    exit(code)
}

/// Entry of thread 1 of [`f::THREADS`] (the root task starts it here):
/// publishes `arg * 3 + 1` in the heap's second word once its own TLS
/// checks out.
#[no_mangle]
pub extern "C" fn process_test_thread(
    start_info_addr: u64,
    index: u64,
    ipc_buffer: u64,
    arg: u64,
) -> ! {
    // SAFETY: the start contract: `ipc_buffer` is this thread's.
    unsafe { sel4_sys::set_ipc_buffer(ipc_buffer as usize) };
    set_reply(index);
    // SAFETY: as in `start_info`: the read-only start-info page.
    let page =
        unsafe { core::slice::from_raw_parts(start_info_addr as *const u8, contract::PAGE_SIZE) };
    // Only this thread's entry and the heap's address: a whole StartInfo
    // would not fit a small thread's stack.
    let me = contract::thread_from_page(page, index as usize);
    let heap = contract::word_from_page(page, contract::OFF_HEAP_START).unwrap_or(0);
    let ok = me.is_ok_and(|t| {
        t.thread_pointer == thread_pointer() && t.ipc_buffer == ipc_buffer && t.arg == arg
    });
    // Its own TLS: the template's value, and a .tbss word thread 0 wrote
    // in its block is still 0 here.
    let ok = ok && tdata() == TDATA_INIT && tbss() == 0;
    set_tbss(arg);
    let ok = ok && tbss() == arg;
    let value = if ok { arg * 3 + 1 } else { u64::MAX };
    if heap != 0 {
        write_volatile(heap + 8, value);
    }
    // Stops itself (its own TCB), not thread 0.
    let tcb = me.map_or(0, |t| t.tcb_slot);
    loop {
        if tcb != 0 {
            let _ = Cap::<cap_type::TCB>::from_cptr(tcb).tcb_suspend();
        }
        sel4_sys::yield_now();
    }
}

fn run(si: &StartInfo) -> u64 {
    let a = si.args;
    match a[0] {
        f::RETURN => a[1],
        f::SELF_CHECK => self_check(si),
        f::NAME_HASH => name_hash(si.name()).wrapping_add(si.generation),
        f::SEND => ipc::send(a[1], a[2], false),
        f::NBSEND => ipc::send(a[1], a[2], true),
        f::CALL => ipc::call(a[1], a[2]),
        f::WAIT => ipc::wait(a[1], a[2]),
        f::NBWAIT => {
            if a[3] == 0 {
                SUCCESS
            } else {
                ipc::wait(a[1], a[2])
            }
        }
        f::REPLY_WAIT => ipc::reply_wait(a[1], a[2], true),
        f::REPLY_AND_WAIT => ipc::reply_wait(a[1], a[2], false),
        f::CAUSE_FAULT => faults::cause(a[1]),
        f::HANDLE_FAULT => faults::handle(a[1], a[2], a[3], a[4]),
        f::THREADS => {
            // Keeps thread 1's entry in the image (the root task finds it
            // in the symbol table).
            core::hint::black_box(process_test_thread as *const ());
            set_tbss(0x7777);
            let addr = si.heap_start + 8;
            for _ in 0..1_000_000 {
                let v = read_volatile(addr);
                if v != 0 {
                    // Thread 1's write did not touch this thread's TLS.
                    return if tbss() == 0x7777 { v } else { FAILURE };
                }
                sel4_sys::yield_now();
            }
            FAILURE
        }
        f::INVOKE_SLOT => {
            // A Call on a slot this process was not given: outside its
            // CSpace a capability fault (the thread stops; the root task
            // sees the fault); an empty slot of its own is an error reply,
            // whose label (the kernel's error number) is the exit code.
            let r = sel4_sys::call_regs(a[1], MessageInfo::new(0, 0, 0, 0), [0; 4]);
            r.info.get_label()
        }
        f::READ_ADDR => read_volatile(a[1]),
        f::WRITE_TEXT => {
            write_volatile(run as *const () as u64, 0);
            SUCCESS
        }
        f::WRITE_RODATA => {
            static RODATA: [u64; 4] = [1, 2, 3, 4];
            write_volatile(core::ptr::addr_of!(RODATA) as u64, 0);
            SUCCESS
        }
        f::EXEC_HEAP => {
            // A return instruction at the heap's start, then a call to it:
            // the heap is not executable, so the call faults (x86_64
            // `ret`, aarch64 `ret`, riscv64 `ret` = `jalr x0, 0(ra)`).
            let ret: u64 = if cfg!(target_arch = "x86_64") {
                0xc3
            } else if cfg!(target_arch = "aarch64") {
                0xd65f_03c0
            } else {
                0x0000_8067
            };
            write_volatile(si.heap_start, ret);
            // SAFETY: meant to fault (instruction fetch from a
            // non-executable page); never returns normally.
            let f: extern "C" fn() = unsafe { core::mem::transmute(si.heap_start as usize) };
            f();
            SUCCESS
        }
        f::HEAP_WRITE => {
            write_volatile(si.heap_start, a[1]);
            write_volatile(si.heap_start + si.heap_size - 8, a[1]);
            read_volatile(si.heap_start)
        }
        f::HEAP_READ => read_volatile(si.heap_start),
        f::PANIC => panic!(
            "deliberate panic in {} (generation {})",
            si.name(),
            si.generation
        ),
        f::BENCH_SERVER => bench::server(a[1], a[2] != 0),
        f::BENCH_CLIENT => bench::client(a[1], a[2] != 0, a[3]),
        _ => UNKNOWN_FUNCTION,
    }
}

fn name_hash(name: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Checks the start contract from inside; returns a mask of the checks
/// that failed (0: all passed).
fn self_check(si: &StartInfo) -> u64 {
    use process_test::self_check as sc;
    let mut failed = 0u64;
    let mut check = |bit: u64, ok: bool| {
        if !ok {
            failed |= bit;
        }
    };
    let t0 = si.thread(0).copied().unwrap_or_default();
    // TLS: .tdata from the template, .tbss zero, the self pointer.
    check(sc::TDATA, tdata() == TDATA_INIT);
    check(sc::TBSS, tbss() == 0);
    check(
        sc::THREAD_POINTER,
        thread_pointer() == t0.thread_pointer && t0.thread_pointer != 0,
    );
    // The heap: zeroed and writable, first and last word.
    let heap_ok = si.heap_size >= 8
        && read_volatile(si.heap_start) == 0
        && read_volatile(si.heap_start + si.heap_size - 8) == 0;
    check(sc::HEAP_ZERO, heap_ok);
    if heap_ok {
        write_volatile(si.heap_start, 0x1234);
        write_volatile(si.heap_start + si.heap_size - 8, 0x5678);
        check(
            sc::HEAP_WRITE,
            read_volatile(si.heap_start) == 0x1234
                && read_volatile(si.heap_start + si.heap_size - 8) == 0x5678,
        );
    }
    // The IPC buffer is this thread's: a message register round trip.
    sel4_sys::set_mr(7, 0xfeed);
    check(
        sc::IPC_BUFFER,
        sel4_sys::get_mr(7) == 0xfeed && sel4_sys::ipc_buffer_addr() as u64 == t0.ipc_buffer,
    );
    // This code is inside the image range.
    let here = self_check as *const () as u64;
    check(
        sc::IMAGE_RANGE,
        si.image_start <= here && here < si.image_end && t0.entry >= si.image_start,
    );
    // CSpace figures.
    check(
        sc::CSPACE,
        si.cspace_bits > 0 && si.free_start <= si.free_end && si.free_end <= 1 << si.cspace_bits,
    );
    // The stack the loader gave: above its guard page, below the TLS; and
    // this code runs on it (the start code keeps the loader's stack
    // pointer instead of switching to a static stack of the image).
    let local = 0u64;
    let sp = core::hint::black_box(&local) as *const u64 as u64;
    check(
        sc::STACK,
        t0.stack_bottom < t0.stack_top
            && t0.thread_pointer < t0.stack_top
            && t0.thread_pointer > t0.stack_bottom
            && (t0.stack_bottom..t0.thread_pointer).contains(&sp),
    );
    // The loader relocated the image: a pointer in data points into it.
    static SELF: &u64 = &TDATA_INIT;
    let p = SELF as *const u64 as u64;
    check(sc::RELOCATED, si.image_start <= p && p < si.image_end);
    failed
}

/// sel4test's IPC helpers (`ipc.c`): messages of every length from 0 to
/// seL4_MsgMaxLength words, word i of each a running seed.
mod ipc {
    use super::{FAILURE, SUCCESS};
    use sel4_sys::{get_mr, set_mr, MessageInfo, MSG_MAX_LENGTH};

    pub fn send(ep: u64, mut seed: u64, nb: bool) -> u64 {
        for len in 0..=MSG_MAX_LENGTH {
            for i in 0..len {
                set_mr(i, seed);
                seed = seed.wrapping_add(1);
            }
            let info = MessageInfo::new(0, 0, 0, len as u64);
            if nb {
                sel4_sys::nb_send(ep, info);
            } else {
                sel4_sys::send(ep, info);
            }
        }
        SUCCESS
    }

    fn check_message(info: MessageInfo, len: usize, seed: &mut u64) -> bool {
        let mut ok = info.get_length() as usize == len;
        for i in 0..len {
            ok &= get_mr(i) == *seed;
            *seed = seed.wrapping_add(1);
        }
        ok
    }

    pub fn wait(ep: u64, mut seed: u64) -> u64 {
        let mut ok = true;
        for len in 0..=MSG_MAX_LENGTH {
            let (info, _badge) = sel4_sys::recv(ep);
            ok &= check_message(info, len, &mut seed);
        }
        if ok {
            SUCCESS
        } else {
            FAILURE
        }
    }

    pub fn call(ep: u64, mut seed: u64) -> u64 {
        let mut ok = true;
        for len in 0..=MSG_MAX_LENGTH {
            for i in 0..len {
                set_mr(i, seed);
                seed = seed.wrapping_add(1);
            }
            let info = sel4_sys::call(ep, MessageInfo::new(0, 0, 0, len as u64));
            ok &= check_message(info, len, &mut seed);
        }
        if ok {
            SUCCESS
        } else {
            FAILURE
        }
    }

    /// The server of `call`: with ReplyRecv (`combined`) or Reply then
    /// Recv; the reply of each message is the next seed values.
    pub fn reply_wait(ep: u64, mut seed: u64, combined: bool) -> u64 {
        let mut ok = true;
        let mut reply = MessageInfo::new(0, 0, 0, 0);
        for len in 0..=MSG_MAX_LENGTH {
            let (info, _badge) = if len == 0 {
                sel4_sys::recv(ep)
            } else if combined {
                sel4_sys::reply_recv(ep, reply)
            } else {
                sel4_sys::reply(reply);
                sel4_sys::recv(ep)
            };
            ok &= check_message(info, len, &mut seed);
            for i in 0..len {
                set_mr(i, seed);
                seed = seed.wrapping_add(1);
            }
            reply = MessageInfo::new(0, 0, 0, len as u64);
        }
        sel4_sys::reply(reply);
        if ok {
            SUCCESS
        } else {
            FAILURE
        }
    }
}

/// sel4test's fault helpers (`faults.c`), inter-AS: one process faults,
/// another handles the fault through the faulter's TCB and the fault
/// endpoint.
pub mod faults {
    use super::{FAILURE, SUCCESS};
    use sel4_sys::{cap_type, consts, Cap, Fault, MessageInfo, UserContext, VmAccess, Word};

    use super::fk::*;

    // Each function takes the bad address in its first argument register,
    // loads BAD_MAGIC into the return register, faults at `*_address`,
    // and returns that register; the handler sets it to GOOD_MAGIC and the
    // instruction pointer to `*_restart_address`. The unknown syscall
    // carries the magic in a register of the fault message ([`MAGIC_MR`])
    // and the handler's reply sets it.
    #[cfg(target_arch = "x86_64")]
    core::arch::global_asm!(
        ".text",
        ".globl process_test_read_fault",
        "process_test_read_fault:",
        "    mov eax, {bad}",
        ".globl read_fault_address",
        "read_fault_address:",
        "    mov eax, dword ptr [rdi]",
        ".globl read_fault_restart_address",
        "read_fault_restart_address:",
        "    ret",
        ".globl process_test_write_fault",
        "process_test_write_fault:",
        "    mov eax, {bad}",
        ".globl write_fault_address",
        "write_fault_address:",
        "    mov dword ptr [rdi], eax",
        ".globl write_fault_restart_address",
        "write_fault_restart_address:",
        "    ret",
        ".globl process_test_instruction_fault",
        "process_test_instruction_fault:",
        "    mov eax, {bad}",
        "    jmp rdi",
        ".globl instruction_fault_restart_address",
        "instruction_fault_restart_address:",
        "    ret",
        // An unknown syscall (number in rdx); rbx carries the magic, r12
        // keeps rsp (the kernel returns with rsp = 0 on x86_64).
        ".globl process_test_bad_syscall",
        "process_test_bad_syscall:",
        "    push rbx",
        "    push r12",
        "    mov ebx, {bad}",
        "    mov r12, rsp",
        "    mov rdx, {scno}",
        ".globl bad_syscall_address",
        "bad_syscall_address:",
        "    syscall",
        ".globl bad_syscall_restart_address",
        "bad_syscall_restart_address:",
        "    mov rsp, r12",
        "    mov eax, ebx",
        "    pop r12",
        "    pop rbx",
        "    ret",
        bad = const BAD_MAGIC,
        scno = const BAD_SYSCALL_NUMBER,
    );
    // aarch64: the address in x0, the magic in w0; the unknown syscall's
    // number in x7 and the magic in x0 (the message's X0; the reply gives
    // every register back, lr included).
    #[cfg(target_arch = "aarch64")]
    core::arch::global_asm!(
        ".text",
        ".globl process_test_read_fault",
        "process_test_read_fault:",
        "    mov x1, x0",
        "    movz w0, #{bad_lo}",
        "    movk w0, #{bad_hi}, lsl #16",
        ".globl read_fault_address",
        "read_fault_address:",
        "    ldr w0, [x1]",
        ".globl read_fault_restart_address",
        "read_fault_restart_address:",
        "    ret",
        ".globl process_test_write_fault",
        "process_test_write_fault:",
        "    mov x1, x0",
        "    movz w0, #{bad_lo}",
        "    movk w0, #{bad_hi}, lsl #16",
        ".globl write_fault_address",
        "write_fault_address:",
        "    str w0, [x1]",
        ".globl write_fault_restart_address",
        "write_fault_restart_address:",
        "    ret",
        ".globl process_test_instruction_fault",
        "process_test_instruction_fault:",
        "    mov x1, x0",
        "    movz w0, #{bad_lo}",
        "    movk w0, #{bad_hi}, lsl #16",
        "    br x1",
        ".globl instruction_fault_restart_address",
        "instruction_fault_restart_address:",
        "    ret",
        ".globl process_test_bad_syscall",
        "process_test_bad_syscall:",
        "    movz w0, #{bad_lo}",
        "    movk w0, #{bad_hi}, lsl #16",
        "    mov x7, #{scno}",
        ".globl bad_syscall_address",
        "bad_syscall_address:",
        "    svc #0",
        ".globl bad_syscall_restart_address",
        "bad_syscall_restart_address:",
        "    ret",
        bad_lo = const BAD_MAGIC & 0xffff,
        bad_hi = const BAD_MAGIC >> 16,
        scno = const BAD_SYSCALL_NUMBER,
    );
    // riscv64: the address in a0, the magic in a0; the unknown syscall's
    // number in a7 and the magic in a0 (the message's A0; the reply gives
    // every register back, ra included).
    #[cfg(target_arch = "riscv64")]
    core::arch::global_asm!(
        ".text",
        ".globl process_test_read_fault",
        "process_test_read_fault:",
        "    mv a1, a0",
        "    li a0, {bad}",
        ".globl read_fault_address",
        "read_fault_address:",
        "    lw a0, 0(a1)",
        ".globl read_fault_restart_address",
        "read_fault_restart_address:",
        "    ret",
        ".globl process_test_write_fault",
        "process_test_write_fault:",
        "    mv a1, a0",
        "    li a0, {bad}",
        ".globl write_fault_address",
        "write_fault_address:",
        "    sw a0, 0(a1)",
        ".globl write_fault_restart_address",
        "write_fault_restart_address:",
        "    ret",
        ".globl process_test_instruction_fault",
        "process_test_instruction_fault:",
        "    mv a1, a0",
        "    li a0, {bad}",
        "    jr a1",
        ".globl instruction_fault_restart_address",
        "instruction_fault_restart_address:",
        "    ret",
        ".globl process_test_bad_syscall",
        "process_test_bad_syscall:",
        "    li a0, {bad}",
        "    li a7, {scno}",
        ".globl bad_syscall_address",
        "bad_syscall_address:",
        "    ecall",
        ".globl bad_syscall_restart_address",
        "bad_syscall_restart_address:",
        "    ret",
        bad = const BAD_MAGIC,
        scno = const BAD_SYSCALL_NUMBER,
    );

    /// The unknown syscall's message word that carries the magic.
    #[cfg(target_arch = "x86_64")]
    const MAGIC_MR: usize = consts::UnknownSyscall_RBX;
    #[cfg(target_arch = "aarch64")]
    const MAGIC_MR: usize = consts::UnknownSyscall_X0;
    #[cfg(target_arch = "riscv64")]
    const MAGIC_MR: usize = consts::UnknownSyscall_A0;

    /// Sets the instruction pointer (x86_64 rip, aarch64 and riscv64 pc).
    fn set_pc(ctx: &mut UserContext, pc: Word) {
        #[cfg(target_arch = "x86_64")]
        {
            ctx.rip = pc;
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            ctx.pc = pc;
        }
    }

    /// The register a fault function returns its value in (x86_64 rax,
    /// aarch64 x0, riscv64 a0).
    fn ret_reg(ctx: &mut UserContext) -> &mut Word {
        #[cfg(target_arch = "x86_64")]
        return &mut ctx.rax;
        #[cfg(target_arch = "aarch64")]
        return &mut ctx.x0;
        #[cfg(target_arch = "riscv64")]
        return &mut ctx.a0;
    }

    extern "C" {
        fn process_test_read_fault(addr: u64) -> u32;
        fn process_test_write_fault(addr: u64) -> u32;
        fn process_test_instruction_fault(addr: u64) -> u32;
        fn process_test_bad_syscall() -> u32;
        static read_fault_address: u8;
        static read_fault_restart_address: u8;
        static write_fault_address: u8;
        static write_fault_restart_address: u8;
        static instruction_fault_restart_address: u8;
        static bad_syscall_address: u8;
        static bad_syscall_restart_address: u8;
    }

    fn addr(s: &'static u8) -> Word {
        s as *const u8 as Word
    }

    /// Faults once, is repaired by the handler, and exits 0 if the
    /// repaired value arrived.
    pub fn cause(kind: u64) -> u64 {
        // SAFETY: each function only loads, stores or jumps at BAD_VADDR
        // (unmapped: the access faults and the handler moves the thread on
        // to the restart address with eax set) or makes an unknown syscall.
        let val = unsafe {
            match kind {
                READ => process_test_read_fault(BAD_VADDR),
                WRITE => process_test_write_fault(BAD_VADDR),
                INSTRUCTION => process_test_instruction_fault(BAD_VADDR),
                BAD_SYSCALL => process_test_bad_syscall(),
                _ => return FAILURE,
            }
        };
        if val == GOOD_MAGIC {
            SUCCESS
        } else {
            FAILURE
        }
    }

    /// The kernel's fault address as this kernel reports it (5.x cuts it
    /// to 32 bits).
    fn reported(addr: u64) -> u64 {
        if sel4_sys::KERNEL_VERSION_MAJOR < 6 {
            addr & 0xffff_ffff
        } else {
            addr
        }
    }

    /// Receives one fault on `ep`, checks it against `kind`, repairs the
    /// faulter through its TCB (`tcb`: eax = GOOD_MAGIC, rip = the restart
    /// address) and, with RESTART, replies so that it runs on. Exits 0 if
    /// every check held (bit i of the code says check i failed).
    pub fn handle(ep: u64, tcb: u64, kind: u64, flags: u64) -> u64 {
        let (info, badge) = sel4_sys::recv(ep);
        let len = (info.get_length() as usize).min(sel4_sys::MSG_MAX_LENGTH);
        let mut words = [0 as Word; 32];
        for (i, w) in words.iter_mut().enumerate().take(len.min(32)) {
            *w = sel4_sys::get_mr(i);
        }
        let fault = Fault::decode(info.get_label(), &words[..len.min(32)]);
        let access = fault.vm_access();
        let mut failed = 0u64;
        let mut check = |bit: u32, ok: bool| {
            if !ok {
                failed |= 1 << bit;
            }
        };
        let want_badge = if flags & BADGED != 0 {
            EXPECTED_BADGE
        } else {
            0
        };
        check(0, badge == want_badge);
        let restart = flags & RESTART != 0;
        // SAFETY: taking the addresses of the asm labels (no access).
        let labels = unsafe {
            [
                addr(&read_fault_address),
                addr(&read_fault_restart_address),
                addr(&write_fault_address),
                addr(&write_fault_restart_address),
                addr(&instruction_fault_restart_address),
                addr(&bad_syscall_address),
                addr(&bad_syscall_restart_address),
            ]
        };
        let tcb = Cap::<cap_type::TCB>::from_cptr(tcb);
        match (kind, fault) {
            (
                READ | WRITE | INSTRUCTION,
                Fault::VmFault {
                    ip,
                    addr,
                    prefetch_fault,
                    fsr,
                },
            ) => {
                check(1, len == consts::VMFault_Length);
                check(2, addr == reported(BAD_VADDR));
                let (fault_ip, restart_ip) = match kind {
                    READ => (labels[0], labels[1]),
                    WRITE => (labels[2], labels[3]),
                    _ => (BAD_VADDR, labels[4]),
                };
                check(3, ip == fault_ip);
                // x86 reports no prefetch flag (aarch64 and riscv64 do
                // for a fetch); the fault status says the access
                // (x86: the error code's write bit).
                check(4, !prefetch_fault || kind == INSTRUCTION);
                let _ = fsr;
                check(5, (access == Some(VmAccess::Write)) == (kind == WRITE));
                // Repair through the TCB: the return register and the
                // instruction pointer.
                match tcb.tcb_read_registers(false, 0, UserContext::WORDS as Word) {
                    Ok(mut ctx) => {
                        check(6, *ret_reg(&mut ctx) as u32 == BAD_MAGIC);
                        *ret_reg(&mut ctx) = GOOD_MAGIC as Word;
                        set_pc(&mut ctx, restart_ip);
                        let w = tcb.tcb_write_registers(false, 0, UserContext::WORDS as Word, &ctx);
                        check(7, w.is_ok());
                    }
                    Err(_) => check(6, false),
                }
                if restart {
                    sel4_sys::reply(MessageInfo::new(0, 0, 0, 0));
                }
            }
            (
                BAD_SYSCALL,
                Fault::UnknownSyscall {
                    syscall, ip, regs, ..
                },
            ) => {
                check(1, len == consts::UnknownSyscall_Length);
                check(3, ip == labels[5]);
                check(4, syscall == BAD_SYSCALL_NUMBER);
                check(5, regs[MAGIC_MR] as u32 == BAD_MAGIC);
                // Reply with the registers changed: the magic and the restart
                // address (label 0 restarts the thread, 1 leaves it).
                for (i, w) in words.iter().enumerate().take(len) {
                    sel4_sys::set_mr(i, *w);
                }
                sel4_sys::set_mr(MAGIC_MR, GOOD_MAGIC as Word);
                sel4_sys::set_mr(consts::UnknownSyscall_FaultIP, labels[6]);
                let label = if restart { 0 } else { 1 };
                sel4_sys::reply(MessageInfo::new(label, 0, 0, len as u64));
            }
            _ => check(8, false),
        }
        failed
    }
}

/// IPC round trips between two processes, typed (messages of `sel4-ipc`,
/// encoded and decoded on both sides, as the framework's `Client` and
/// `Server` do) and raw (words in registers).
mod bench {
    use sel4_ipc::Message;
    use sel4_sys::{MessageInfo, Word};

    sel4_ipc::message! {
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub enum Request {
            Ping { value: u64 } = 1,
            Stop = 2,
        }
    }
    sel4_ipc::message! {
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct Pong { pub value: u64 } = 1;
    }

    /// The message in registers under its wire label, as the framework's
    /// `Client` and `Server` send it.
    fn encode<M: Message>(m: &M) -> (MessageInfo, [Word; 4]) {
        let mut w = [0 as Word; 4];
        let n = m.encode(&mut w).unwrap_or(0);
        (
            MessageInfo::new(sel4_ipc::wire_label(m.label()), 0, 0, n as u64),
            w,
        )
    }

    /// The received message, decoded as the framework's fast paths do
    /// (`Message::decode_registers`: the whole info word compared per
    /// label, so no capability, nothing unwrapped and the exact length).
    fn decode<M: Message>(r: &sel4_sys::Received) -> Option<M> {
        M::decode_registers(r.info.0, MessageInfo::LABEL_SHIFT, &r.mrs)
    }

    pub fn server(ep: u64, typed: bool) -> u64 {
        let mut r = sel4_sys::recv_regs(ep);
        loop {
            let (info, mrs) = if typed {
                match decode::<Request>(&r) {
                    Some(Request::Ping { value }) => encode(&Pong { value: value + 1 }),
                    Some(Request::Stop) => return 0,
                    None => return 1,
                }
            } else {
                if r.info.get_label() == sel4_ipc::wire_label(2) {
                    return 0;
                }
                (MessageInfo::new(1, 0, 0, 1), [r.mrs[0] + 1, 0, 0, 0])
            };
            r = sel4_sys::reply_recv_regs(ep, info, mrs);
        }
    }

    /// Exits with the cycles of `n` round trips (after a warm-up), then
    /// stops the server.
    pub fn client(ep: u64, typed: bool, n: u64) -> u64 {
        let mut value = 0u64;
        let round = |value: &mut u64| -> bool {
            if typed {
                let (info, mrs) = encode(&Request::Ping { value: *value });
                let r = sel4_sys::call_regs(ep, info, mrs);
                match decode::<Pong>(&r) {
                    Some(p) => {
                        *value = p.value;
                        true
                    }
                    None => false,
                }
            } else {
                let r = sel4_sys::call_regs(ep, MessageInfo::new(1, 0, 0, 1), [*value, 0, 0, 0]);
                *value = r.mrs[0];
                r.info.get_label() == 1
            }
        };
        for _ in 0..100 {
            if !round(&mut value) {
                return u64::MAX;
            }
        }
        let start = sel4_sys::arch::read_counter();
        for _ in 0..n {
            if !round(&mut value) {
                return u64::MAX;
            }
        }
        let cycles = sel4_sys::arch::read_counter() - start;
        if value != 100 + n {
            return u64::MAX - 1;
        }
        let (info, mrs) = encode(&Request::Stop);
        sel4_sys::send_regs(ep, info, mrs);
        cycles
    }
}
