//! System calls and message info.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use sel4_rootserver::thread::ThreadBuilder;
use sel4_sys::{Error, InvocationLabel, MessageInfo, ObjectType, Syscall};
use sel4_test_harness::kernel::{self, invoke, invoke_label, ROOT_CNODE};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, Failure, TestResult, HARNESS_PRIORITY};

use crate::util::{endpoint, expect_err, notification};

#[sel4_test]
fn msginfo_fields_roundtrip() -> TestResult {
    let m = MessageInfo::new(0x1234, 5, 3, 120);
    ensure_eq!(m.get_label(), 0x1234);
    ensure_eq!(m.get_caps_unwrapped(), 5);
    ensure_eq!(m.get_extra_caps(), 3);
    ensure_eq!(m.get_length(), 120);
    // libsel4's layout: label << 12 | capsUnwrapped << 9 | extraCaps << 7 | length
    ensure_eq!(m.0, (0x1234 << 12) | (5 << 9) | (3 << 7) | 120);
    Ok(())
}

#[sel4_test]
fn msginfo_fields_independent() -> TestResult {
    let m = MessageInfo::new(0, 0, 0, 0).with_length(7).with_label(9);
    ensure_eq!(m.get_length(), 7);
    ensure_eq!(m.get_label(), 9);
    let m2 = m.with_length(1);
    ensure_eq!(m2.get_label(), 9, "changing the length must keep the label");
    ensure_eq!(m2.get_extra_caps(), 0);
    Ok(())
}

#[sel4_test]
fn syscall_numbers_match_kernel() -> TestResult {
    // The numbering of libsel4's generated syscall.h (MCS kernels: the
    // <api-mcs> list, with NBSendRecv, NBSendWait, Wait, NBWait and no
    // Reply; every later number moves).
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        ensure_eq!(Syscall::Call as isize, -1);
        ensure_eq!(Syscall::ReplyRecv as isize, -2);
        ensure_eq!(Syscall::NBSendRecv as isize, -3);
        ensure_eq!(Syscall::NBSendWait as isize, -4);
        ensure_eq!(Syscall::Send as isize, -5);
        ensure_eq!(Syscall::NBSend as isize, -6);
        ensure_eq!(Syscall::Recv as isize, -7);
        ensure_eq!(Syscall::NBRecv as isize, -8);
        ensure_eq!(Syscall::Wait as isize, -9);
        ensure_eq!(Syscall::NBWait as isize, -10);
        ensure_eq!(Syscall::Yield as isize, -11);
        let (put_char_no, halt_no) = (-12, -14);
    } else {
        ensure_eq!(Syscall::Call as isize, -1);
        ensure_eq!(Syscall::ReplyRecv as isize, -2);
        ensure_eq!(Syscall::Send as isize, -3);
        ensure_eq!(Syscall::NBSend as isize, -4);
        ensure_eq!(Syscall::Recv as isize, -5);
        ensure_eq!(Syscall::Reply as isize, -6);
        ensure_eq!(Syscall::Yield as isize, -7);
        ensure_eq!(Syscall::NBRecv as isize, -8);
        let (put_char_no, halt_no) = if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
            (-9, -11)
        } else {
            (-9, -10)
        };
    } }
    // The debug syscalls exist only in kernels configured for them:
    // DebugPutChar with KernelPrinting, DebugHalt with KernelDebugBuild.
    let printing = sel4_sys::sel4_cfg_if! { config PRINTING { true } else { false } };
    let debug = sel4_sys::sel4_cfg_if! { config DEBUG_BUILD { true } else { false } };
    let put_char = sel4_sys::syscall_opt::DEBUG_PUT_CHAR.map(|s| s as isize);
    ensure_eq!(
        put_char,
        printing.then_some(put_char_no),
        "DebugPutChar (printing {printing})"
    );
    let halt = sel4_sys::syscall_opt::DEBUG_HALT.map(|s| s as isize);
    ensure_eq!(
        halt,
        debug.then_some(halt_no),
        "DebugHalt's number for this kernel (debug build {debug})"
    );
    Ok(())
}

/// Yield puts the caller behind the other threads of its priority and
/// returns once they have had their turn: a thread at this thread's
/// priority, which marks the start and the end of each turn and spins a
/// measured time in between, has run before every Yield returns, and a
/// turn it started and finished inside a Yield took at least its spin.
#[sel4_test]
fn yield_runs_the_next_thread_of_the_same_priority_then_returns(ctx: &mut Ctx) -> TestResult {
    const YIELDS: u64 = 20;
    let spin = ctx.machine().tsc_mhz * 200; // 200 µs per turn
                                            // (turns started, turns ended)
    let marks = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let mut objs = ctx.objects(crate::util::OBJECT_SLOTS)?;
    let m = marks.clone();
    let other = ThreadBuilder::new()
        .priority(HARNESS_PRIORITY as u8)
        .spawn(&mut objs, move || loop {
            m[0].fetch_add(1, Ordering::SeqCst);
            let start = sel4_sys::arch::read_counter();
            while sel4_sys::arch::read_counter().wrapping_sub(start) < spin {
                core::hint::spin_loop();
            }
            m[1].fetch_add(1, Ordering::SeqCst);
            sel4_sys::yield_now();
        })
        .map_err(crate::util::fw("spawn"))?;
    let now = || {
        (
            marks[0].load(Ordering::SeqCst),
            marks[1].load(Ordering::SeqCst),
        )
    };
    let mut whole_turns = 0;
    for i in 0..YIELDS {
        let (started, ended) = now();
        let t0 = sel4_sys::arch::read_counter();
        sel4_sys::yield_now();
        let took = sel4_sys::arch::read_counter().wrapping_sub(t0);
        let (started_after, ended_after) = now();
        ensure!(
            (started_after, ended_after) != (started, ended),
            "yield {i}: returned before the other thread ran ({started} turns started, {ended} ended)"
        );
        // A turn cut short by the end of the other thread's time slice
        // (it ends in the next Yield) returns earlier.
        if started_after > started && ended_after == started_after {
            whole_turns += 1;
            ensure!(
                took >= spin,
                "yield {i}: returned after {took} cycles, while the other thread's turn spins {spin}"
            );
        }
    }
    other.kill(&mut objs);
    ensure!(
        whole_turns >= YIELDS / 2,
        "only {whole_turns} of {YIELDS} turns began and ended inside a Yield"
    );
    Ok(())
}

#[sel4_test]
fn invalid_label_on_cnode_is_illegal() -> TestResult {
    let r = invoke(ROOT_CNODE, InvocationLabel::TCBSuspend, &[], &[]);
    expect_err(r, Error::IllegalOperation, "TCBSuspend on a CNode")?;
    Ok(())
}

#[sel4_test]
fn invalid_label_on_untyped_is_illegal(ctx: &mut Ctx) -> TestResult {
    let r = invoke(ctx.untyped(), InvocationLabel::CNodeRevoke, &[], &[0, 64]);
    expect_err(r, Error::IllegalOperation, "CNodeRevoke on an untyped")?;
    Ok(())
}

#[sel4_test]
fn untyped_label_on_tcb_is_illegal(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    let r = invoke_label(tcb, InvocationLabel::UntypedRetype as u64, &[], &[0; 6]);
    expect_err(r, Error::IllegalOperation, "UntypedRetype on a TCB")?;
    Ok(())
}

/// A notification takes no invocations: a Call with any label is a
/// signal (with the cap's badge), answered by the kernel with an empty
/// message, whatever the label and words.
#[sel4_test]
fn any_label_on_notification_is_a_signal(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let b = crate::util::badged(ctx, n, 0x9)?;
    for label in [
        InvocationLabel::UntypedRetype as u64,
        InvocationLabel::TCBSuspend as u64,
        0,
        0xfff,
    ] {
        let r = invoke_label(b, label, &[], &[1, 2, 3, 4, 5, 6])
            .map_err(|e| Failure::fail(alloc::format!("label {label}: {e}")))?;
        ensure_eq!(r.info.get_length(), 0, "label {label}: the kernel's answer");
        ensure_eq!(sel4_sys::poll(n), 0x9, "label {label}: the signal");
    }
    Ok(())
}

#[sel4_test]
fn truncated_message_is_reported() -> TestResult {
    // CNode_Copy needs 5 words and an extra cap.
    let r = invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeCopy,
        &[ROOT_CNODE],
        &[1, 64],
    );
    expect_err(r, Error::TruncatedMessage, "CNodeCopy with 2 words")?;
    Ok(())
}

#[sel4_test]
fn missing_extra_cap_is_truncated() -> TestResult {
    let r = invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeCopy,
        &[],
        &[1, 64, 2, 64, 0xf],
    );
    expect_err(
        r,
        Error::TruncatedMessage,
        "CNodeCopy without its source CNode",
    )?;
    Ok(())
}

#[sel4_test]
fn depth_zero_is_range_error() -> TestResult {
    let r = kernel::invoke(ROOT_CNODE, InvocationLabel::CNodeDelete, &[], &[5, 0]);
    let e = expect_err(r, Error::RangeError, "CNodeDelete with depth 0")?;
    ensure_eq!(e.detail[0], 1, "minimum depth");
    ensure_eq!(e.detail[1], 64, "maximum depth");
    Ok(())
}

/// Issue 7: the IPC buffer is reached through handles, never a reference,
/// so two handles at once are fine and every read sees what the kernel
/// wrote during the last syscall (here: the words of a long reply).
#[sel4_test]
fn ipc_buffer_handles_see_the_kernels_writes(ctx: &mut Ctx) -> TestResult {
    use sel4_rootserver::thread::spawn;
    let ep = endpoint(ctx)?;
    let mut objs = ctx.objects(crate::util::OBJECT_SLOTS)?;
    let server = spawn(&mut objs, move || {
        let r = sel4_sys::recv_regs(ep);
        let b = sel4_sys::ipc_buffer();
        for i in 4..10 {
            b.set_msg(i, 0x100 + i as u64 + r.mrs[0]);
        }
        sel4_sys::reply_regs(MessageInfo::new(0, 0, 0, 10), [1, 2, 3, 4]);
    })
    .map_err(crate::util::fw("spawn"))?;
    let a = sel4_sys::ipc_buffer();
    let b = sel4_sys::ipc_buffer();
    a.write_msgs(4, &[7; 6]);
    ensure_eq!(b.msg(5), 7, "a second handle sees the first one's write");
    let r = sel4_sys::call_regs(ep, MessageInfo::new(1, 0, 0, 1), [0x1000, 0, 0, 0]);
    ensure_eq!(r.info.get_length(), 10);
    let mut words = [0; 6];
    a.read_msgs(4, &mut words);
    ensure_eq!(words, [0x1104, 0x1105, 0x1106, 0x1107, 0x1108, 0x1109]);
    ensure_eq!(b.msg(9), 0x1109);
    server.join(&mut objs).map_err(crate::util::fw("join"))?;
    Ok(())
}

/// Each thread has its own IPC buffer: a second thread's is at another
/// address, a word this thread leaves in its own is neither seen nor
/// changed by the other thread's writes or by the kernel's writes into
/// the other's, and a message's words beyond the registers go from this
/// thread's buffer into the other's.
#[sel4_test]
fn ipc_buffer_is_per_thread(ctx: &mut Ctx) -> TestResult {
    use sel4_rootserver::thread::spawn;
    // Word 100 is in no message of this test; values that no earlier test
    // left there.
    let mine = sel4_sys::arch::read_counter() | 1;
    let theirs = !mine;
    let message: [u64; 6] = core::array::from_fn(|i| mine.rotate_left(8 * i as u32 + 4));
    let ep = endpoint(ctx)?;
    let mut objs = ctx.objects(crate::util::OBJECT_SLOTS)?;
    let me = sel4_sys::ipc_buffer();
    me.set_msg(100, mine);
    // Above this thread: it runs now and waits in its receive.
    let other = spawn(&mut objs, move || {
        let b = sel4_sys::ipc_buffer();
        let found = b.msg(100);
        b.set_msg(100, theirs);
        let r = sel4_sys::recv_regs(ep);
        let mut words = [0; 6];
        b.read_msgs(4, &mut words);
        (b.addr(), found, r.info.get_length(), words, b.msg(100))
    })
    .map_err(crate::util::fw("spawn"))?;
    ensure_eq!(
        me.msg(100),
        mine,
        "this thread's word after the other wrote its own"
    );
    me.write_msgs(4, &message);
    sel4_sys::send(ep, MessageInfo::new(0, 0, 0, 10));
    let (addr, found, len, words, kept) = other.join(&mut objs).map_err(crate::util::fw("join"))?;
    ensure!(addr != me.addr(), "both threads' IPC buffers at {addr:#x}");
    ensure_eq!(addr % 1024, 0, "alignment of the other thread's IPC buffer");
    ensure!(
        found != mine,
        "the other thread found this thread's word in its buffer"
    );
    ensure_eq!(len, 10, "message length");
    ensure_eq!(
        words,
        message,
        "words 4-9 the kernel wrote into the other thread's buffer"
    );
    ensure_eq!(
        kept,
        theirs,
        "the other thread's own word after the kernel's write"
    );
    ensure_eq!(me.msg(100), mine, "this thread's word after all that");
    Ok(())
}

#[sel4_test]
fn debug_cap_identify_names_types(ctx: &mut Ctx) -> TestResult {
    use crate::util::{cap_type, tag};
    ensure_eq!(cap_type(ROOT_CNODE)?, tag::CNODE);
    ensure_eq!(cap_type(kernel::ROOT_VSPACE)?, tag::VSPACE_ROOT);
    ensure_eq!(cap_type(ctx.untyped())?, tag::UNTYPED);
    let free = ctx.slot()?;
    ensure_eq!(cap_type(free)?, tag::NULL);
    Ok(())
}
