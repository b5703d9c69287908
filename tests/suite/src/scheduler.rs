//! The scheduler as seL4test's scheduler.c checks it: resuming oneself
//! (SCHED0002), suspend and resume with preemption (SCHED0003), threads at
//! every priority (SCHED0004), changing priorities within the MCP
//! (SCHED0005), IPC between threads of four priorities (SCHED0006), and
//! raising another thread above oneself (SCHED0020).

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sel4_rootserver::thread::ThreadBuilder;
use sel4_sys::{Error, InvocationLabel, MessageInfo, ObjectType, Word};
use sel4_test_harness::kernel::{invoke, KResult};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, skip, Ctx, TestResult};

use crate::support::{helper, join, lift, lower_harness, slots_for, HELPER_STACK, TEST_TOP};
use crate::util::{endpoint, fw, notification, set_priority, RawThread};

/// Failures recorded by helper threads that may never return.
type Errors = Arc<spin::Mutex<Vec<String>>>;

/// seL4test's CHECK_STEP: the shared step must be `n`; it moves on to
/// `n + 1` either way.
fn check_step(step: &AtomicU64, n: u64, who: &str, errors: &Errors) {
    let was = step.fetch_add(1, Ordering::SeqCst);
    if was != n {
        errors
            .lock()
            .push(format!("{who}: step {was} where {n} was expected"));
    }
}

fn no_errors(errors: &Errors) -> TestResult {
    let e = errors.lock();
    ensure!(e.is_empty(), "{}", e.join("; "));
    Ok(())
}

#[sel4_test(sel4test = "SCHED0002")]
fn resume_self(ctx: &mut Ctx) -> TestResult {
    invoke(ctx.own_tcb(), InvocationLabel::TCBResume, &[], &[])?;
    // Still running, and still receiving: a signal sent to itself arrives.
    let n = notification(ctx)?;
    sel4_sys::signal(n);
    ensure_eq!(sel4_sys::wait(n), 0);
    Ok(())
}

#[sel4_test(sel4test = "SCHED0003", timeout_ms = 20_000)]
fn suspend_and_resume_preempt(ctx: &mut Ctx) -> TestResult {
    // 2a and 2b share a priority above 1; 2a waits (spinning) until a
    // timer tick lets 2b run, suspends 2b and then itself; 1 resumes 2b,
    // which preempts it at once.
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(3))?;
    let step = Arc::new(AtomicU64::new(0));
    let errors: Errors = Arc::new(spin::Mutex::new(Vec::new()));
    let tcbs = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let p = TEST_TOP - 20;
    let (s, e, t) = (step.clone(), errors.clone(), tcbs.clone());
    let t1 = helper(&mut objs, p, move || {
        check_step(&s, 3, "1", &e);
        let r = invoke(
            t[2].load(Ordering::SeqCst),
            InvocationLabel::TCBResume,
            &[],
            &[],
        );
        if r.is_err() {
            e.lock().push(format!("1: resuming 2b: {r:?}"));
        }
        // 2b ran (and ended) before this thread went on.
        check_step(&s, 5, "1", &e);
    })?;
    let (s, e, t) = (step.clone(), errors.clone(), tcbs.clone());
    let t2a = helper(&mut objs, p + 1, move || {
        check_step(&s, 0, "2a", &e);
        // Until a timer tick makes 2b run.
        while s.load(Ordering::SeqCst) == 1 {
            core::hint::spin_loop();
        }
        if invoke(
            t[2].load(Ordering::SeqCst),
            InvocationLabel::TCBSuspend,
            &[],
            &[],
        )
        .is_err()
        {
            e.lock().push("2a: suspending 2b failed".into());
        }
        check_step(&s, 2, "2a", &e);
        // Suspending itself passes the CPU to 1.
        let _ = invoke(
            t[1].load(Ordering::SeqCst),
            InvocationLabel::TCBSuspend,
            &[],
            &[],
        );
        e.lock().push("2a ran after suspending itself".into());
    })?;
    let (s, e) = (step.clone(), errors.clone());
    let t2b = helper(&mut objs, p + 1, move || {
        let now = s.load(Ordering::SeqCst);
        if now > 1 {
            e.lock().push(format!("2b: started at step {now}"));
        }
        while s.load(Ordering::SeqCst) == 0 {
            sel4_sys::yield_now();
        }
        check_step(&s, 1, "2b", &e);
        // Suspended here by 2a, resumed by 1.
        while s.load(Ordering::SeqCst) == 2 {
            sel4_sys::yield_now();
        }
        check_step(&s, 4, "2b", &e);
    })?;
    tcbs[0].store(t1.tcb().cptr(), Ordering::SeqCst);
    tcbs[1].store(t2a.tcb().cptr(), Ordering::SeqCst);
    tcbs[2].store(t2b.tcb().cptr(), Ordering::SeqCst);
    join(&mut objs, t1)?;
    join(&mut objs, t2b)?;
    ensure_eq!(step.load(Ordering::SeqCst), 6, "final step");
    t2a.kill(&mut objs);
    no_errors(&errors)
}

/// A thread of SCHED0004: sends its priority on the endpoint (the test
/// receives it), then waits on a notification nobody signals. Registers
/// only.
extern "C" fn report_priority(ep: Word, prio: Word, park: Word) -> ! {
    sel4_sys::send_regs(ep, MessageInfo::new(0, 0, 0, 1), [prio, 0, 0, 0]);
    loop {
        sel4_sys::wait(park);
    }
}

#[sel4_test(sel4test = "SCHED0004")]
fn threads_at_every_priority_run_in_order(ctx: &mut Ctx) -> TestResult {
    // A thread at every priority below this one's (255): 0 to 254, all
    // started before any runs; they must run highest first.
    let ep = endpoint(ctx)?;
    let park = notification(ctx)?;
    set_priority(ctx.own_tcb(), 255)?;
    lower_harness()?;
    let mut threads = Vec::new();
    for prio in 0..=254u64 {
        let tcb = ctx.create(ObjectType::TCBObject, 0)?;
        crate::util::set_space(
            tcb,
            0,
            sel4_test_harness::kernel::ROOT_CNODE,
            sel4_test_harness::kernel::ROOT_VSPACE,
        )?;
        set_priority(tcb, prio)?;
        // MCS kernels: a scheduling context of its own, as sel4test's
        // helper threads have.
        let sc = crate::util::bind_sched_context(ctx, tcb)?;
        let t = RawThread {
            tcb,
            sc,
            stack: alloc::vec![0u8; 2048],
        };
        let mut regs = [0u64; crate::util::reg::COUNT];
        regs[crate::util::reg::PC] = report_priority as *const () as usize as Word;
        regs[crate::util::reg::SP] = t.initial_sp();
        regs[crate::util::reg::ARG0] = ep;
        regs[crate::util::reg::ARG1] = prio;
        regs[crate::util::reg::ARG2] = park;
        crate::util::write_regs(tcb, true, &regs)?;
        threads.push(t);
    }
    let order: Vec<Word> = (0..threads.len())
        .map(|_| sel4_sys::recv_regs(ep).mrs[0])
        .collect();
    let want: Vec<Word> = (0..=254).rev().collect();
    ensure_eq!(order, want, "the order the threads ran in");
    Ok(())
}

fn set_prio(tcb: Word, auth: Word, prio: Word) -> KResult {
    // seL4 5.x takes no authority: the caller's own MCP bounds the
    // priority, and here the caller is always the authority.
    invoke(tcb, InvocationLabel::TCBSetPriority, &[auth], &[prio])
}

fn set_mcp(tcb: Word, auth: Word, mcp: Word) -> KResult {
    invoke(tcb, InvocationLabel::TCBSetMCPriority, &[auth], &[mcp])
}

fn expect(r: KResult, want: Option<Error>, what: &str, errors: &Errors) {
    let got = match &r {
        Ok(_) => None,
        Err(e) => e.error,
    };
    if got != want {
        errors
            .lock()
            .push(format!("{what}: {r:?}, wanted {want:?}"));
    }
}

#[sel4_test(sel4test = "SCHED0005")]
fn set_priority_within_the_mcp(ctx: &mut Ctx) -> TestResult {
    // sel4test's SCHED0005_HIGHEST_PRIO.
    const H: u8 = TEST_TOP - 10;
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(2))?;
    let step = Arc::new(AtomicU64::new(0));
    let errors: Errors = Arc::new(spin::Mutex::new(Vec::new()));
    let tcbs = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let h = Word::from(H);
    let (s, e, t) = (step.clone(), errors.clone(), tcbs.clone());
    let t1 = ThreadBuilder::new()
        .priority(H)
        .mcp(H)
        .stack_size(HELPER_STACK)
        .spawn(&mut objs, move || {
            let t1 = t[0].load(Ordering::SeqCst);
            check_step(&s, 0, "1", &e);
            // Lowering itself lets 2 run at once.
            expect(set_prio(t1, t1, h - 4), None, "1 lowers itself", &e);
            check_step(&s, 2, "1", &e);
            expect(set_prio(t1, t1, h), None, "1 back up to its MCP", &e);
            expect(set_mcp(t1, t1, h - 4), None, "1 lowers its MCP", &e);
            expect(
                set_prio(t1, t1, h - 3),
                Some(Error::RangeError),
                "1 above its MCP",
                &e,
            );
            expect(
                set_mcp(t1, t1, h),
                Some(Error::RangeError),
                "1 raises its MCP",
                &e,
            );
        })
        .map_err(fw("spawn"))?;
    let (s, e, t) = (step.clone(), errors.clone(), tcbs.clone());
    let t2 = ThreadBuilder::new()
        .priority(H - 1)
        .mcp(H - 2)
        .stack_size(HELPER_STACK)
        .spawn(&mut objs, move || {
            let (t1, t2) = (t[0].load(Ordering::SeqCst), t[1].load(Ordering::SeqCst));
            check_step(&s, 1, "2", &e);
            expect(
                set_prio(t1, t2, h),
                Some(Error::RangeError),
                "2 raises 1 above its MCP",
                &e,
            );
            expect(set_prio(t1, t2, h - 2), None, "2 raises 1 to its MCP", &e);
            // Dropping below 1 lets 1 run at once.
            expect(set_prio(t2, t2, h - 3), None, "2 lowers itself below 1", &e);
            check_step(&s, 3, "2", &e);
        })
        .map_err(fw("spawn"))?;
    tcbs[0].store(t1.tcb().cptr(), Ordering::SeqCst);
    tcbs[1].store(t2.tcb().cptr(), Ordering::SeqCst);
    join(&mut objs, t1)?;
    join(&mut objs, t2)?;
    ensure_eq!(step.load(Ordering::SeqCst), 4, "final step");
    no_errors(&errors)
}

/// Shared state of SCHED0006.
struct IpcPrios {
    step: AtomicU64,
    bounces: AtomicU64,
    spins: AtomicU64,
    errors: Errors,
}

impl IpcPrios {
    fn step(&self, n: u64, who: &str) {
        check_step(&self.step, n, who, &self.errors);
    }
    fn check(&self, ok: bool, what: &str) {
        if !ok {
            self.errors.lock().push(what.into());
        }
    }
}

fn bounce(ep0: Word) {
    sel4_sys::call_regs(ep0, MessageInfo::new(0, 0, 0, 0), [0; 4]);
}

fn message(len: usize) -> MessageInfo {
    for i in 0..len {
        sel4_sys::set_mr(i, i as Word);
    }
    MessageInfo::new(0, 0, 0, len as Word)
}

fn message_ok(info: MessageInfo, len: usize) -> bool {
    info.get_length() as usize == len && (0..len).all(|i| sel4_sys::get_mr(i) == i as Word)
}

#[sel4_test(sel4test = "SCHED0006", timeout_ms = 20_000)]
fn ipc_between_four_priorities(ctx: &mut Ctx) -> TestResult {
    if crate::util::MCS {
        skip!(
            "sel4test runs SCHED0006 on non-MCS kernels only (!CONFIG_KERNEL_MCS): on an MCS \
             kernel thread 1 reaches its step 5 after thread 3's step 6 (a call to a \
             lower-priority receiver schedules differently); SCHED0007 checks the order of IPC \
             by priority there"
        );
    }
    // Thread 0 (lowest) bounces calls back; 1 receives; 2 spins; 3
    // (highest) sends. Each step is where the priorities say it must be.
    let ep0 = endpoint(ctx)?;
    let ep1 = endpoint(ctx)?;
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(4))?;
    let d = Arc::new(IpcPrios {
        step: AtomicU64::new(0),
        bounces: AtomicU64::new(0),
        spins: AtomicU64::new(0),
        errors: Arc::new(spin::Mutex::new(Vec::new())),
    });
    let base = TEST_TOP - 40;
    let x = d.clone();
    let t0 = helper(&mut objs, base, move || {
        sel4_sys::recv_regs(ep0);
        loop {
            x.bounces.fetch_add(1, Ordering::SeqCst);
            sel4_sys::reply_recv_regs(ep0, MessageInfo::new(0, 0, 0, 0), [0; 4]);
        }
    })?;
    let x = d.clone();
    let t1 = helper(&mut objs, base + 1, move || {
        // Part 1: receive a send that is pending.
        x.step(1, "1");
        let (info, _) = sel4_sys::recv(ep1);
        // Thread 3 preempted this one as soon as the message went through.
        x.step(3, "1");
        x.check(message_ok(info, 20), "1: the 20-word message");
        bounce(ep0);
        // Part 2: receive a send that is not yet pending.
        x.step(5, "1");
        let (info, _) = sel4_sys::recv(ep1);
        x.step(8, "1");
        x.check(message_ok(info, 19), "1: the 19-word message");
    })?;
    let x = d.clone();
    let t2 = helper(&mut objs, base + 2, move || loop {
        let last = x.step.load(Ordering::SeqCst);
        for i in 0..100_000u32 {
            core::hint::black_box(i);
        }
        x.check(
            x.step.load(Ordering::SeqCst) == last,
            "2: a step moved while it spun",
        );
        x.spins.fetch_add(1, Ordering::SeqCst);
        bounce(ep0);
    })?;
    let x = d.clone();
    let t3 = helper(&mut objs, base + 3, move || {
        let counts = || {
            (
                x.spins.load(Ordering::SeqCst),
                x.bounces.load(Ordering::SeqCst),
            )
        };
        // Part 1: send to 1, which does not wait yet.
        x.step(0, "3");
        let (spins, bounces) = counts();
        sel4_sys::send(ep1, message(20));
        // 2 spun once and bounced, which let 1 receive.
        x.step(2, "3");
        x.check(
            counts() == (spins + 1, bounces),
            "3: one spin, no bounce before 1 received",
        );
        bounce(ep0);
        x.check(
            counts() == (spins + 2, bounces + 2),
            "3: two spins, two bounces (2's and this one's)",
        );
        x.step(4, "3");
        // Part 2: send to 1, which waits already.
        let (spins, bounces) = counts();
        bounce(ep0);
        x.step(6, "3");
        sel4_sys::send(ep1, message(19));
        x.step(7, "3");
        bounce(ep0);
        x.step(9, "3");
        x.check(
            counts() == (spins + 2, bounces + 5),
            "3: part 2's spins and bounces",
        );
    })?;
    join(&mut objs, t1)?;
    join(&mut objs, t3)?;
    ensure_eq!(d.step.load(Ordering::SeqCst), 10, "final step");
    t2.kill(&mut objs);
    t0.kill(&mut objs);
    let e = d.errors.lock();
    ensure!(e.is_empty(), "{}", e.join("; "));
    Ok(())
}

#[sel4_test(sel4test = "SCHED0020")]
fn raising_another_thread_above_oneself_runs_it_at_once(ctx: &mut Ctx) -> TestResult {
    if sel4_sys::KERNEL_VERSION_MAJOR < 10 {
        skip!(
            "seL4 5.x: raising another thread's priority only re-queues it (setPriority has no \
             possibleSwitchTo); it runs at this thread's next reschedule, not at once"
        );
    }
    let me = ctx.own_tcb();
    set_priority(me, Word::from(TEST_TOP - 1))?;
    let mut objs = ctx.objects(slots_for(1))?;
    let state = Arc::new(AtomicU64::new(0));
    let s = state.clone();
    // At this thread's priority: it runs only when this one yields or
    // blocks, and then yields first.
    let h = helper(&mut objs, TEST_TOP - 1, move || {
        sel4_sys::yield_now();
        s.store(2, Ordering::SeqCst);
    })?;
    ensure_eq!(
        state.load(Ordering::SeqCst),
        0,
        "the helper ran before it was raised"
    );
    set_priority(h.tcb().cptr(), Word::from(TEST_TOP))?;
    ensure_eq!(
        state.load(Ordering::SeqCst),
        2,
        "raised above this thread, the helper ran before SetPriority returned"
    );
    join(&mut objs, h)?;
    Ok(())
}
