//! Frames as IPC buffers and frames that are deleted while mapped
//! (seL4test frames.c, FRAMEDIPC0001-0003): a device frame is refused as a
//! thread's IPC buffer, both by TCB_Configure and by TCB_SetIPCBuffer of a
//! running thread (which goes on working); deleting the cap a frame is
//! mapped through unmaps it, so the next access faults.
use sel4_asm_probes::fault::{self, BAD_MAGIC, FAULT_VADDR, GOOD_MAGIC};
use sel4_sys::{Error, FaultLabel, InvocationLabel, MessageInfo, ObjectType, Word};
use sel4_test_harness::kernel::{self, invoke, rights, KResult, ROOT_CNODE, ROOT_VSPACE};
use sel4_test_harness::{ensure_eq, sel4_test, skip, Ctx, Failure, TestResult};

use crate::support::{helper, join, lift, slots_for, start_raw3, TEST_TOP};
use crate::util::{endpoint, expect_err, notification, raw_thread};

/// An IPC buffer address (1 KiB aligned; the frame is never mapped there).
const BUFFER_ADDR: Word = 0x10_0000_0000;

/// A 4 KiB frame of device memory, or why there is none.
fn device_frame(ctx: &mut Ctx) -> Result<Word, Failure> {
    let Some((ut, _, paddr)) = ctx.device_untyped(12) else {
        return Err(Failure::Skip(
            "this machine has no device untyped of 4 KiB or more".into(),
        ));
    };
    let frame = ctx.slot()?;
    kernel::retype(ut, crate::util::GRANULE as usize, 0, frame, 1).map_err(|e| {
        Failure::fail(alloc::format!(
            "a frame from the device untyped at {paddr:#x}: {e}"
        ))
    })?;
    Ok(frame)
}

/// TCB_Configure with the root CNode and VSpace and `frame` as IPC buffer.
fn configure(tcb: Word, frame: Word) -> KResult {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        // MCS kernels: cspace data, vspace data, buffer (no fault endpoint).
        invoke(tcb, InvocationLabel::TCBConfigure, &[ROOT_CNODE, ROOT_VSPACE, frame], &[0, 0, BUFFER_ADDR])
    } else {
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label TCBSetTLSBase {
                // seL4 10+: fault_ep, cspace data, vspace data, buffer.
                invoke(tcb, InvocationLabel::TCBConfigure, &[ROOT_CNODE, ROOT_VSPACE, frame], &[0, 0, 0, BUFFER_ADDR])
            } else {
                // seL4 5.x: fault_ep, priority, cspace data, vspace data, buffer.
                invoke(tcb, InvocationLabel::TCBConfigure, &[ROOT_CNODE, ROOT_VSPACE, frame], &[0, 0, 0, 0, BUFFER_ADDR])
            }
        }
    } }
}

#[sel4_test(sel4test = "FRAMEDIPC0001")]
fn device_frame_refused_by_configure(ctx: &mut Ctx) -> TestResult {
    let dev = device_frame(ctx)?;
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    expect_err(
        configure(tcb, dev),
        Error::IllegalOperation,
        "Configure with a device frame as IPC buffer",
    )?;
    let ram = ctx.create(crate::util::GRANULE, 0)?;
    configure(tcb, ram)?;
    Ok(())
}

#[sel4_test(sel4test = "FRAMEDIPC0002")]
fn device_frame_refused_as_a_running_threads_buffer(ctx: &mut Ctx) -> TestResult {
    let dev = device_frame(ctx)?;
    let ep = endpoint(ctx)?;
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(1))?;
    let h = helper(&mut objs, TEST_TOP - 10, move || {
        // The IPC buffer matters: the second message's words go through it.
        for w in [1, 2] {
            sel4_sys::set_mr(5, w * 11);
            sel4_sys::send(ep, MessageInfo::new(w, 0, 0, 6));
        }
    })?;
    let (info, _) = sel4_sys::recv(ep);
    ensure_eq!(
        (info.get_label(), sel4_sys::get_mr(5)),
        (1, 11),
        "the first message"
    );
    expect_err(
        invoke(
            h.tcb().cptr(),
            InvocationLabel::TCBSetIPCBuffer,
            &[dev],
            &[h.ipc_buffer() as Word],
        ),
        Error::IllegalOperation,
        "SetIPCBuffer with a device frame",
    )?;
    let (info, _) = sel4_sys::recv(ep);
    ensure_eq!(
        (info.get_label(), sel4_sys::get_mr(5)),
        (2, 22),
        "the thread still works, with its own buffer"
    );
    join(&mut objs, h)?;
    Ok(())
}

/// The faulting thread: writes through the probe, reports what it got.
extern "C" fn writer(done: Word, park: Word, _: Word) -> ! {
    let v = fault::write(GOOD_MAGIC);
    sel4_sys::send_regs(done, MessageInfo::new(0, 0, 0, 1), [Word::from(v), 0, 0, 0]);
    loop {
        sel4_sys::wait(park);
    }
}

#[sel4_test(sel4test = "FRAMEDIPC0003")]
fn deleting_a_mapped_frame_cap_unmaps_it(ctx: &mut Ctx) -> TestResult {
    let frame = ctx.create(crate::util::GRANULE, 0)?;
    let copy = ctx.slot()?;
    kernel::cnode_copy(copy, frame, rights::ALL)?;
    crate::vspace::paging_for(ctx, ROOT_VSPACE, FAULT_VADDR)?;
    crate::vspace::map_page(copy, ROOT_VSPACE, FAULT_VADDR & !0xfff, rights::RW)?;
    // Mapped: the probe's write and read at FAULT_VADDR go to the frame.
    ensure_eq!(
        fault::write(GOOD_MAGIC),
        GOOD_MAGIC,
        "write through the mapping"
    );
    ensure_eq!(
        fault::read(BAD_MAGIC),
        GOOD_MAGIC,
        "read back through the mapping"
    );
    kernel::cnode_delete(copy)?;
    if sel4_sys::KERNEL_VERSION_MAJOR < 10 {
        // seL4 5.x unmaps a frame only when its last cap goes (its
        // Mode_finaliseCap unmaps for the final cap only): still mapped.
        ensure_eq!(
            fault::read(BAD_MAGIC),
            GOOD_MAGIC,
            "seL4 5.x: still mapped after deleting a copy"
        );
        skip!(
            "seL4 5.x unmaps a frame only when its last cap is deleted, not when the cap it is \
             mapped through is (checked: still mapped after deleting that copy)"
        );
    }
    // Deleted: the same write from another thread faults.
    let ep = endpoint(ctx)?;
    let done = endpoint(ctx)?;
    let park = notification(ctx)?;
    lift(ctx)?;
    let t = raw_thread(ctx, ep, Word::from(TEST_TOP - 10))?;
    start_raw3(&t, writer as *const () as usize as Word, done, park, 0)?;
    let (info, _) = sel4_sys::recv(ep);
    ensure_eq!(
        info.get_label(),
        FaultLabel::VMFault as Word,
        "a VM fault (label {})",
        info.get_label()
    );
    let addr = sel4_sys::get_mr(sel4_sys::consts::VMFault_Addr);
    ensure_eq!(addr, FAULT_VADDR, "at the address that was mapped");
    let r = sel4_sys::nb_recv_regs(done);
    ensure_eq!(r.info.get_length(), 0, "the write did not go through");
    Ok(())
}
