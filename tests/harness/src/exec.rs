//! Executes one test on its own thread.
//!
//! Each test runs on a fresh TCB with its own stack, TLS block and IPC
//! buffer, in the root task's address space and CSpace, at
//! [`HARNESS_PRIORITY`](crate::HARNESS_PRIORITY). The thread's fault
//! endpoint is an endpoint only the harness receives on, and the runtime's
//! thread trampoline reports the end of the test (returned or panicked) on
//! the same endpoint. The harness, at the same priority, polls that
//! endpoint with NBRecv and yields in between, so the test thread gets the
//! CPU; the time stamp counter decides when the test has overrun its time
//! limit. A test that faults, panics or overruns is stopped (its TCB
//! suspended and destroyed) and reported as failed; the run goes on.
//!
//! The TCB and the endpoint are made from a small untyped of the
//! executor's own, revoked after every test ([`Executor::reset`]), which
//! destroys them and every capability derived from them.
//!
//! What isolation cannot undo: a test killed while it held a lock of the
//! root task (the heap's, the console's) leaves it held; heap memory the
//! killed thread owned is not returned.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use sel4_runtime::thread as rt;
use sel4_sys::{CPtr, Fault, InvocationLabel, ObjectType, Word, REGISTER_MRS};

use crate::kernel::{self, invoke, KernelError, ROOT_CNODE, ROOT_TCB, ROOT_VSPACE};
use crate::runner::Ctx;
use crate::{Failure, TestResult};

/// Root CNode slots the executor keeps for itself.
pub const HARNESS_SLOTS: usize = 8;
/// Size (log2 bytes) of the executor's untyped: one TCB and one endpoint
/// per test.
const EXEC_UNTYPED_BITS: usize = 16;
/// Stack of a test thread.
pub const TEST_STACK_SIZE: usize = 256 * 1024;
const PAGE: usize = 4096;

const SLOT_UNTYPED: u64 = 0;
const SLOT_TCB: u64 = 1;
const SLOT_EVENTS: u64 = 2;

/// Most words of a fault message.
const FAULT_WORDS: usize = 32;

#[repr(C, align(4096))]
struct Page([u8; PAGE]);

/// Memory of the current test thread, freed once its TCB is gone.
struct Running {
    id: u64,
    _stack: Vec<u8>,
    _tls: Vec<u8>,
    _ipc_buffer: Box<Page>,
}

/// Runs tests on their own threads.
pub struct Executor {
    slots: CPtr,
    image_frames: CPtr,
    priority: u64,
    running: Option<Running>,
}

/// How a test thread ended, as the harness saw it.
enum End {
    Exit(Word),
    Fault(Fault),
    Timeout,
}

type Shared<T> = Arc<spin::Mutex<Option<T>>>;

impl Executor {
    /// An executor using root CNode slots `[slots, slots + HARNESS_SLOTS)`,
    /// with an untyped carved from `parent`; test threads run at `priority`.
    pub fn new(
        slots: CPtr,
        parent: CPtr,
        image_frames: CPtr,
        priority: u64,
    ) -> Result<Executor, KernelError> {
        kernel::retype(
            parent,
            ObjectType::UntypedObject as usize,
            EXEC_UNTYPED_BITS,
            slots + SLOT_UNTYPED,
            1,
        )?;
        Ok(Executor {
            slots,
            image_frames,
            priority,
            running: None,
        })
    }

    /// The capability slot the next test thread's TCB goes into.
    pub fn tcb_slot(&self) -> CPtr {
        self.slots + SLOT_TCB
    }

    /// Runs `f` with `ctx` on a new thread and waits for it to end, fault,
    /// or overrun `limit_cycles` TSC cycles (`limit_ms` for the report).
    pub fn execute(
        &mut self,
        f: fn(&mut Ctx) -> TestResult,
        mut ctx: Ctx,
        limit_cycles: u64,
        limit_ms: u64,
    ) -> TestResult {
        let result: Shared<TestResult> = Arc::new(spin::Mutex::new(None));
        let panic: Shared<String> = Arc::new(spin::Mutex::new(None));
        let (r2, p2) = (result.clone(), panic.clone());
        let id = rt::register(rt::ThreadSpec {
            main: Box::new(move || {
                let r = f(&mut ctx);
                *r2.lock() = Some(r);
            }),
            on_panic: Box::new(move |m| *p2.lock() = Some(m)),
        });
        if let Err(e) = self.start(id) {
            rt::unregister(id);
            return Err(Failure::fail(format!(
                "the harness could not start the test thread: {e}"
            )));
        }
        let end = self.wait(limit_cycles);
        // Stop the thread whatever happened (it has suspended itself when
        // it ended normally).
        let _ = invoke(self.tcb_slot(), InvocationLabel::TCBSuspend, &[], &[]);
        rt::unregister(id);
        match end {
            End::Exit(rt::EXIT_RETURNED) => result.lock().take().unwrap_or_else(|| {
                Err(Failure::fail(
                    "the test thread ended without leaving a result",
                ))
            }),
            End::Exit(rt::EXIT_PANICKED) => {
                let m = panic.lock().take().unwrap_or_default();
                Err(Failure::fail(format!("panicked: {m}")))
            }
            End::Exit(status) => Err(Failure::fail(format!(
                "the test thread aborted (runtime exit status {status})"
            ))),
            End::Fault(fault) => Err(Failure::fail(format!("fault: {fault}"))),
            End::Timeout => Err(Failure::fail(format!("timeout after {limit_ms} ms"))),
        }
    }

    fn start(&mut self, id: u64) -> Result<(), String> {
        let tls = rt::tls_image().map_err(|e| format!("TLS image: {e:?}"))?;
        let mut tls_area = alloc::vec![0u8; tls.area_size()];
        let tp = tls
            .init_block(&mut tls_area)
            .map_err(|e| format!("TLS block: {e:?}"))?;
        let stack = alloc::vec![0u8; TEST_STACK_SIZE];
        let stack_top = stack.as_ptr() as usize + stack.len();
        let ipc_buffer = Box::new(Page([0; PAGE]));
        let ipc_addr = &*ipc_buffer as *const Page as usize;
        let image_start = rt::image_start();
        if ipc_addr < image_start {
            return Err(format!(
                "the IPC buffer at {ipc_addr:#x} is not in the image (starts at {image_start:#x})"
            ));
        }
        let frame = self.image_frames + ((ipc_addr - image_start) / PAGE) as u64;
        let ut = self.slots + SLOT_UNTYPED;
        let tcb = self.tcb_slot();
        let events = self.slots + SLOT_EVENTS;
        let k = |what: &'static str| move |e: KernelError| format!("{what}: {e}");
        kernel::retype(ut, ObjectType::TCBObject as usize, 0, tcb, 1).map_err(k("TCB"))?;
        kernel::retype(ut, ObjectType::EndpointObject as usize, 0, events, 1)
            .map_err(k("endpoint"))?;
        self.running = Some(Running {
            id,
            _stack: stack,
            _tls: tls_area,
            _ipc_buffer: ipc_buffer,
        });
        invoke(
            tcb,
            InvocationLabel::TCBSetSpace,
            &[ROOT_CNODE, ROOT_VSPACE],
            &[events, 0, 0],
        )
        .map_err(k("TCB_SetSpace"))?;
        invoke(
            tcb,
            InvocationLabel::TCBSetIPCBuffer,
            &[frame],
            &[ipc_addr as Word],
        )
        .map_err(k("TCB_SetIPCBuffer"))?;
        // The test may create threads of any priority (seL4 5.x checks the
        // caller's MCP; later kernels take the root TCB as authority).
        invoke(
            tcb,
            InvocationLabel::TCBSetMCPriority,
            &[ROOT_TCB],
            &[rt_max_priority()],
        )
        .map_err(k("TCB_SetMCPriority"))?;
        invoke(
            tcb,
            InvocationLabel::TCBSetPriority,
            &[ROOT_TCB],
            &[self.priority],
        )
        .map_err(k("TCB_SetPriority"))?;
        let regs = rt::EntryRegs::new(id, stack_top, tp, ipc_addr, tcb, events);
        // rip, rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8-r15, then
        // the TLS base (tls_base on 5.x, fs_base on later kernels).
        let mut words = [0 as Word; 2 + 19];
        words[1] = 19;
        let c = &mut words[2..];
        c[0] = regs.rip;
        c[1] = regs.rsp;
        c[5] = regs.rcx;
        c[6] = regs.rdx;
        c[7] = regs.rsi;
        c[8] = regs.rdi;
        c[10] = regs.r8;
        c[18] = tp as Word;
        invoke(tcb, InvocationLabel::TCBWriteRegisters, &[], &words)
            .map_err(k("TCB_WriteRegisters"))?;
        sel4_sys::sel4_cfg_if! {
            label TCBSetTLSBase {
                invoke(tcb, InvocationLabel::TCBSetTLSBase, &[], &[tp as Word])
                    .map_err(k("TCB_SetTLSBase"))?;
            }
        }
        invoke(tcb, InvocationLabel::TCBResume, &[], &[]).map_err(k("TCB_Resume"))?;
        Ok(())
    }

    /// Polls the event endpoint until the thread ends or faults, or the
    /// time is up.
    fn wait(&self, limit_cycles: u64) -> End {
        let events = self.slots + SLOT_EVENTS;
        let start = sel4_sys::arch::rdtsc();
        loop {
            let r = sel4_sys::nb_recv_regs(events);
            let label = r.info.get_label();
            if label == rt::EXIT_LABEL {
                return End::Exit(r.mrs[0]);
            }
            if label != 0 {
                let len = core::cmp::min(r.info.get_length() as usize, FAULT_WORDS);
                let mut words = [0 as Word; FAULT_WORDS];
                let n = core::cmp::min(len, REGISTER_MRS);
                words[..n].copy_from_slice(&r.mrs[..n]);
                if len > REGISTER_MRS {
                    sel4_sys::with_ipc_buffer(|b| {
                        words[REGISTER_MRS..len].copy_from_slice(&b.msg[REGISTER_MRS..len])
                    });
                }
                return End::Fault(Fault::decode(label, &words[..len]));
            }
            if sel4_sys::arch::rdtsc().saturating_sub(start) > limit_cycles {
                return End::Timeout;
            }
            sel4_sys::yield_now();
        }
    }

    /// Destroys the last test thread (revoking the executor's untyped) and
    /// frees its memory.
    pub fn reset(&mut self) -> Result<(), KernelError> {
        kernel::cnode_revoke(self.slots + SLOT_UNTYPED)?;
        if let Some(r) = self.running.take() {
            rt::unregister(r.id);
        }
        Ok(())
    }
}

fn rt_max_priority() -> u64 {
    u64::from(sel4_rootserver::thread::MAX_PRIORITY)
}
