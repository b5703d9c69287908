//! Processes (`sel4_rootserver::process`): the image `tests/process-test`
//! loaded into CSpaces and VSpaces of its own, the start contract, what
//! destroying gives back, isolation, several threads, and sel4test's
//! inter-address-space tests (VSPACE0000, IPC1001-IPC1004,
//! PAGEFAULT1001-PAGEFAULT1004, VSPACE0003-VSPACE0006).

use alloc::format;
use alloc::vec::Vec;

use process_test::{f, self_check};
use sel4_rootserver::memory::MemoryKind;
use sel4_rootserver::objects::Objects;
use sel4_rootserver::process::{
    receive_event, ProcessBuilder, ProcessError, ProcessEvent, SlotLayout, ThreadSpec,
};
use sel4_rootserver::vspace::RW;
use sel4_rootserver::{Endpoint, Notification, Owned};
use sel4_sys::{CapRights, Fault, LookupFailure};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

use crate::util::fw;

/// The process image (tests/process-test), embedded by the build.
pub const IMAGE: &[u8] = sel4_rootserver::embedded_elf!(PROCESS_TEST);

/// Slots of the test's `Objects` (processes cost the root task few).
const SLOTS: usize = 160;

/// The priority processes run at: above the harness and the test thread
/// (200), which poll and yield, so that a process runs once the test
/// thread blocks.
pub const PRIO: u8 = 220;

/// A builder for the test image running function `func` with `args`.
pub fn image<'a>(name: &'a str, func: u64, args: &[u64]) -> ProcessBuilder<'a> {
    let mut b = ProcessBuilder::new(name, IMAGE).arg(0, func).priority(PRIO);
    for (i, &a) in args.iter().enumerate() {
        b = b.arg(i + 1, a);
    }
    b
}

/// What `Objects` has handed out, to compare before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    pub ram_used: u64,
    pub slots_used: usize,
    pub caps: usize,
    pub objects: usize,
    pub window_used: u64,
}

pub fn figures(objs: &Objects) -> Figures {
    Figures {
        ram_used: objs.pool().usage(MemoryKind::Ram).used,
        slots_used: objs.cspace().slots().used(),
        caps: objs.pool().registry().len(),
        objects: objs.pool().registry().objects(),
        window_used: objs.vspace().window().used_bytes(),
    }
}

fn pe(what: &'static str) -> impl Fn(ProcessError) -> Failure {
    move |e| Failure::fail(format!("{what}: {e}"))
}

fn destroyed(
    r: Result<(), sel4_rootserver::Refused<sel4_rootserver::process::Process>>,
) -> TestResult {
    r.map_err(|r| Failure::fail(format!("destroying the process: {}", r.error)))
}

/// Runs `b` (reports and faults to `report` with badge 1) until its first
/// event, destroys it and returns the event.
pub fn run_once(
    objs: &mut Objects,
    report: &Owned<Endpoint>,
    b: ProcessBuilder<'_>,
) -> Result<ProcessEvent, Failure> {
    let p = b
        .report_endpoint(report, 1)
        .fault_endpoint(report, 1)
        .spawn(objs)
        .map_err(pe("spawn"))?;
    let ev = receive_event(report.cap());
    destroyed(p.destroy(objs))?;
    Ok(ev)
}

fn exit_code(ev: ProcessEvent) -> Result<u64, Failure> {
    match ev {
        ProcessEvent::Exited { code, .. } => Ok(code),
        other => Err(Failure::fail(format!("expected an exit, got {other:?}"))),
    }
}

/// The start contract from inside: TLS from PT_TLS (`.tdata`, `.tbss`,
/// the thread pointer), the heap, the IPC buffer, the image range, the
/// CSpace figures, the stack and the relocated data.
#[sel4_test]
fn process_start_contract_holds_inside(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    let code = exit_code(run_once(
        &mut objs,
        &report,
        image("self-check", f::SELF_CHECK, &[]),
    )?)?;
    let names = [
        (self_check::TDATA, ".tdata"),
        (self_check::TBSS, ".tbss"),
        (self_check::THREAD_POINTER, "thread pointer"),
        (self_check::HEAP_ZERO, "heap zeroed"),
        (self_check::HEAP_WRITE, "heap writable"),
        (self_check::IPC_BUFFER, "IPC buffer"),
        (self_check::IMAGE_RANGE, "image range"),
        (self_check::CSPACE, "CSpace figures"),
        (self_check::STACK, "stack"),
        (self_check::RELOCATED, "relocation"),
    ];
    let failed: Vec<&str> = names
        .iter()
        .filter(|(b, _)| code & b != 0)
        .map(|(_, n)| *n)
        .collect();
    ensure!(
        failed.is_empty(),
        "failed checks inside the process: {failed:?} (code {code:#x})"
    );
    // The name and generation arrive too.
    let b = image("kv-store-7", f::NAME_HASH, &[]).generation(7);
    let code = exit_code(run_once(&mut objs, &report, b)?)?;
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for c in "kv-store-7".bytes() {
        h ^= c as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    ensure_eq!(code, h.wrapping_add(7), "name hash + generation");
    Ok(())
}

/// VSPACE0000: a thread in another CSpace and VSpace runs a function and
/// returns its value.
#[sel4_test(sel4test = "VSPACE0000")]
fn vspace0000_threads_in_different_cspace_and_vspace(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    let code = exit_code(run_once(
        &mut objs,
        &report,
        image("remote", f::RETURN, &[42]),
    )?)?;
    ensure_eq!(code, 42);
    Ok(())
}

/// Destroying a process gives back every byte, slot, capability record
/// and mapping window byte it took (after a first one made the root task's
/// own paging structures for the loader's views), and in the end the
/// kernel sees the untyped whole again.
#[sel4_test(timeout_ms = 60000)]
fn process_destroy_gives_everything_back(ctx: &mut Ctx) -> TestResult {
    let bits = 23;
    let (mut objs, ut) = ctx.objects_over_untyped(SLOTS, bits)?;
    let report = objs.create::<Endpoint>()?;
    let ntfn = objs.create::<Notification>()?;
    exit_code(run_once(
        &mut objs,
        &report,
        image("warm-up", f::RETURN, &[1]),
    )?)?;
    let before = figures(&objs);
    for i in 0..20u64 {
        let code = exit_code(run_once(
            &mut objs,
            &report,
            image("cycle", f::RETURN, &[i]),
        )?)?;
        ensure_eq!(code, i);
        ensure_eq!(figures(&objs), before, "after process {i}");
    }
    // A process with another thread, grants and a larger heap (a budget
    // of another size: the first one carves it, the second reuses it).
    let mut after_first = None;
    for round in 0..2 {
        let b = image("bigger", f::THREADS, &[])
            .heap_size(256 * 1024)
            .grant(20, &ntfn, RW)
            .grant_badged(21, &report, CapRights(1), 99)
            .report_endpoint(&report, 1)
            .fault_endpoint(&report, 1)
            .suspended();
        let mut p = b.spawn(&mut objs).map_err(pe("spawn"))?;
        // An endpoint of its own budget, given to it: gone with it.
        let own_ep = p.create::<Endpoint>(&mut objs).map_err(pe("create"))?;
        p.grant(&mut objs, 22, &own_ep, RW).map_err(pe("grant"))?;
        let entry = p
            .address_of(IMAGE, "process_test_thread")
            .map_err(pe("symbol"))?
            .ok_or_else(|| Failure::fail("no process_test_thread symbol in the image"))?;
        let spec = ThreadSpec {
            entry,
            arg: 5,
            priority: PRIO,
            stack_size: 16 * 1024,
            fault: Some((&report, 2)),
            ..ThreadSpec::default()
        };
        p.add_thread(&mut objs, spec).map_err(pe("add_thread"))?;
        p.start().map_err(pe("start"))?;
        let code = exit_code(receive_event(report.cap()))?;
        ensure_eq!(code, 16, "thread 1 published 5 * 3 + 1");
        destroyed(p.destroy(&mut objs))?;
        // The kernel deleted it with the budget: its slot is empty.
        ensure_eq!(
            crate::util::cap_type(own_ep.cptr())?,
            crate::util::tag::NULL
        );
        objs.delete(own_ep).map_err(fw("delete"))?;
        let now = figures(&objs);
        match after_first {
            None => {
                // The new budget size left one spare untyped (a slot and a
                // record) and the alignment padding of carving it.
                ensure_eq!(now.slots_used, before.slots_used + 1, "round {round}");
                ensure_eq!(now.caps, before.caps + 1);
                after_first = Some(now);
            }
            Some(first) => ensure_eq!(now, first, "the second bigger process gave everything back"),
        }
    }
    // The kernel's view: with everything deleted (dropping the Objects
    // deletes the paging structures of its window), the untyped is whole.
    objs.delete(ntfn).map_err(fw("delete"))?;
    objs.delete(report).map_err(fw("delete"))?;
    drop(objs);
    ensure!(
        ctx.untyped_is_whole(ut, bits)?,
        "the kernel still sees something made from the untyped"
    );
    Ok(())
}

/// A process has several threads: thread 1 (started at a symbol of the
/// image, with its own stack, IPC buffer and TLS block) publishes a value
/// in the shared heap; the main thread sees it, and each thread's TLS is
/// its own.
#[sel4_test]
fn process_has_several_threads(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    let mut p = image("threads", f::THREADS, &[])
        .report_endpoint(&report, 1)
        .fault_endpoint(&report, 1)
        .suspended()
        .spawn(&mut objs)
        .map_err(pe("spawn"))?;
    let entry = p
        .address_of(IMAGE, "process_test_thread")
        .map_err(pe("symbol"))?
        .ok_or_else(|| Failure::fail("no process_test_thread symbol"))?;
    let i = p
        .add_thread(
            &mut objs,
            ThreadSpec {
                entry,
                arg: 1000,
                priority: PRIO,
                stack_size: 8192,
                fault: Some((&report, 2)),
                ..ThreadSpec::default()
            },
        )
        .map_err(pe("add_thread"))?;
    ensure_eq!(i, 1);
    ensure_eq!(p.thread_count(), 2);
    let (t0, t1) = (*p.thread(0).unwrap(), *p.thread(1).unwrap());
    ensure!(t0.thread_pointer != t1.thread_pointer && t0.ipc_buffer != t1.ipc_buffer);
    ensure!(t1.stack_bottom >= t0.stack_top, "stacks apart");
    p.start().map_err(pe("start"))?;
    let ev = receive_event(report.cap());
    destroyed(p.destroy(&mut objs))?;
    ensure_eq!(exit_code(ev)?, 3001, "thread 1 published 1000 * 3 + 1");
    Ok(())
}

/// A panic inside a process arrives as a report with its message.
#[sel4_test]
fn process_panic_is_reported_with_its_message(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    match run_once(
        &mut objs,
        &report,
        image("panicker", f::PANIC, &[]).generation(3),
    )? {
        ProcessEvent::Panicked { badge, message } => {
            ensure_eq!(badge, 1);
            ensure_eq!(
                message.as_str(),
                "deliberate panic in panicker (generation 3)"
            );
        }
        other => fail!("expected a panic report, got {other:?}"),
    }
    Ok(())
}

/// Isolation: a process reaches only the capabilities it was given. A
/// capability pointer beyond its CSpace (the root task's slot numbers
/// included) is a capability fault whose lookup failure names the slot; an
/// empty slot of its own CSpace is an InvalidCapability error.
#[sel4_test]
fn process_slot_not_given_is_a_cap_fault(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    let ntfn = objs.create::<Notification>()?;
    for slot in [report.cptr(), ntfn.cptr(), 0x1_0000, u64::MAX] {
        match run_once(&mut objs, &report, image("prober", f::INVOKE_SLOT, &[slot]))? {
            ProcessEvent::Faulted {
                fault:
                    Fault::CapFault {
                        addr,
                        in_recv_phase,
                        lookup_failure,
                        ..
                    },
                ..
            } => {
                ensure_eq!(addr, slot, "the fault names the slot");
                ensure!(!in_recv_phase);
                ensure!(
                    matches!(lookup_failure, LookupFailure::GuardMismatch { .. }),
                    "slot {slot:#x}: {lookup_failure:?} (a guard mismatch: the slot is outside its CSpace)"
                );
            }
            other => fail!("slot {slot:#x}: expected a capability fault, got {other:?}"),
        }
    }
    let b = image("prober", f::INVOKE_SLOT, &[30]);
    let code = exit_code(run_once(&mut objs, &report, b)?)?;
    ensure_eq!(
        code,
        sel4_sys::Error::InvalidCapability as u64,
        "an empty slot of its own"
    );
    // Neither root object was touched: nothing signalled the notification.
    ensure_eq!(sel4_sys::poll(ntfn.cptr()), 0);
    Ok(())
}

fn vm_fault(ev: ProcessEvent) -> Result<(u64, u64, u64), Failure> {
    match ev {
        ProcessEvent::Faulted {
            fault: Fault::VmFault { ip, addr, fsr, .. },
            ..
        } => Ok((ip, addr, fsr)),
        other => Err(Failure::fail(format!("expected a VM fault, got {other:?}"))),
    }
}

/// The fault address as this kernel reports it (seL4 5.x: 32 bits).
pub fn reported(addr: u64) -> u64 {
    if sel4_sys::KERNEL_VERSION_MAJOR < 6 {
        addr & 0xffff_ffff
    } else {
        addr
    }
}

/// Isolation: another process's memory and the root task's are not
/// mapped in a process; reading there faults; and a process's memory is
/// its own (a second process at the same addresses sees its own zeros).
#[sel4_test]
fn process_cannot_read_other_memory(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    // The root task's: a view holding a secret.
    let mut secret = objs.new_view()?;
    secret.write::<u64>(0, 0x5ec2e7).map_err(fw("write"))?;
    let (_, addr, _) = vm_fault(run_once(
        &mut objs,
        &report,
        image("reader", f::READ_ADDR, &[secret.vaddr()]),
    )?)?;
    ensure_eq!(addr, reported(secret.vaddr()));
    // Another process's: A lives with its heap moved to where B has none.
    let heap_a = 0x3_0000_0000u64;
    let a = image("holder", f::HEAP_WRITE, &[0xa11ce])
        .heap_at(heap_a, 4096)
        .report_endpoint(&report, 1)
        .fault_endpoint(&report, 1)
        .spawn(&mut objs)
        .map_err(pe("spawn a"))?;
    ensure_eq!(exit_code(receive_event(report.cap()))?, 0xa11ce);
    let (_, addr, _) = vm_fault(run_once(
        &mut objs,
        &report,
        image("reader", f::READ_ADDR, &[heap_a]),
    )?)?;
    ensure_eq!(addr, reported(heap_a), "B reading A's heap address faults");
    // The same heap address in both: B reads its own zeros, not A's value.
    let b = image("reader", f::HEAP_READ, &[]).heap_at(heap_a, 4096);
    ensure_eq!(exit_code(run_once(&mut objs, &report, b)?)?, 0);
    destroyed(a.destroy(&mut objs))?;
    let f = objs
        .unmap_view(secret)
        .map_err(|r| Failure::fail(format!("{}", r.error)))?;
    objs.delete(f).map_err(fw("delete"))?;
    Ok(())
}

/// Isolation: a process cannot write its own code or read-only data
/// (write faults at the address, with the page present).
#[sel4_test]
fn process_cannot_write_its_text_or_rodata(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    for (func, what) in [(f::WRITE_TEXT, "text"), (f::WRITE_RODATA, "rodata")] {
        let (_, addr, fsr) = vm_fault(run_once(&mut objs, &report, image("writer", func, &[]))?)?;
        ensure!(
            (0x40_0000..0x1_0000_0000).contains(&addr),
            "{what}: fault at {addr:#x}, not in the image"
        );
        let write = Fault::VmFault {
            ip: 0,
            addr,
            prefetch_fault: false,
            fsr,
        }
        .vm_access();
        ensure_eq!(
            write,
            Some(sel4_sys::VmAccess::Write),
            "{what}: a write (fsr {fsr:#x})"
        );
        if cfg!(target_arch = "x86_64") {
            ensure_eq!(
                fsr & 0b11,
                0b11,
                "{what}: a write to a present page (fsr {fsr:#x})"
            );
        }
    }
    Ok(())
}

/// Only a process's code is executable, where the kernel lets the loader
/// say so: on aarch64 and riscv64 the loader maps everything but the
/// image's `PF_X` segments execute-never, so a jump into the heap (code
/// written there) is an instruction-fetch fault at the heap's address.
/// seL4 on x86 never sets the execute-disable bit of user mappings, so
/// there the process runs the code it wrote: this documents the kernel's
/// behaviour the loader cannot change (see the process module's
/// documentation); if a kernel starts honouring it, this test fails and
/// the documentation must change.
#[sel4_test]
fn process_heap_is_executable_only_on_x86_sel4(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    let heap = 0x3_0000_0000u64;
    let b = image("exec", f::EXEC_HEAP, &[]).heap_at(heap, 4096);
    match run_once(&mut objs, &report, b)? {
        ProcessEvent::Exited { code, .. } if cfg!(target_arch = "x86_64") => {
            ensure_eq!(code, process_test::SUCCESS)
        }
        ProcessEvent::Faulted {
            fault: f @ Fault::VmFault { ip, addr, .. },
            ..
        } if !cfg!(target_arch = "x86_64") => {
            ensure_eq!(
                (ip, addr),
                (heap, heap),
                "the fetch at the heap's start faults"
            );
            ensure_eq!(f.vm_access(), Some(sel4_sys::VmAccess::Execute), "{f:?}");
        }
        other if cfg!(target_arch = "x86_64") => {
            fail!("jumping into the heap: {other:?} (the kernel now sets NX: update docs)")
        }
        other => fail!("jumping into the heap: {other:?} (expected an instruction-fetch fault)"),
    }
    Ok(())
}

/// Bad input: each error names the problem, and nothing is lost.
#[sel4_test]
fn process_bad_input_is_an_error_and_loses_nothing(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    exit_code(run_once(
        &mut objs,
        &report,
        image("warm-up", f::RETURN, &[1]),
    )?)?;
    let before = figures(&objs);
    let not_elf = [0u8; 64];
    let e = ProcessBuilder::new("junk", &not_elf).spawn(&mut objs).err();
    ensure!(matches!(e, Some(ProcessError::Image(_))), "{e:?}");
    let e = image("small", f::RETURN, &[])
        .budget_bits(14)
        .spawn(&mut objs)
        .err();
    ensure!(
        matches!(e, Some(ProcessError::BudgetTooSmall { .. })),
        "{e:?}"
    );
    let e = image("overlap", f::RETURN, &[])
        .heap_at(0x40_0000, 4096)
        .spawn(&mut objs)
        .err();
    ensure!(matches!(e, Some(ProcessError::Overlap { .. })), "{e:?}");
    let e = image("taken", f::RETURN, &[])
        .grant(SlotLayout::COMPONENT.report, &report, RW)
        .report_endpoint(&report, 1)
        .spawn(&mut objs)
        .err();
    ensure!(matches!(e, Some(ProcessError::Slot { .. })), "{e:?}");
    let e = image("outside", f::RETURN, &[])
        .cspace_bits(4)
        .grant(100, &report, RW)
        .spawn(&mut objs)
        .err();
    ensure!(matches!(e, Some(ProcessError::Slot { .. })), "{e:?}");
    let e = image("too-high", f::RETURN, &[])
        .base(0xffff_f000)
        .spawn(&mut objs)
        .err();
    ensure!(
        matches!(e, Some(ProcessError::ImageTooLarge { .. })),
        "{e:?}"
    );
    // A budget that fits the plan but not the objects: fails while making
    // them and gives back what it made.
    let e = image("tight", f::RETURN, &[])
        .heap_size(1 << 20)
        .budget_bits(18)
        .spawn(&mut objs)
        .err();
    ensure!(e.is_some(), "a 256 KiB budget for a 1 MiB heap");
    let msg = format!("{}", e.unwrap());
    ensure!(msg.contains("budget"), "{msg}");
    ensure_eq!(figures(&objs), before);
    // A handle of another Objects is refused.
    let mut other = ctx.objects(8)?;
    let foreign = other.create::<Endpoint>()?;
    let e = image("foreign", f::RETURN, &[])
        .grant(20, &foreign, RW)
        .spawn(&mut objs)
        .err();
    ensure!(
        matches!(
            e,
            Some(ProcessError::Resources(
                sel4_rootserver::Error::NotOwner { .. }
            ))
        ),
        "{e:?}"
    );
    ensure_eq!(figures(&objs), before);
    Ok(())
}
