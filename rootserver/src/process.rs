//! Processes: programs loaded from ELF images into address spaces and
//! CSpaces of their own, with their own memory budget.
//!
//! ```ignore
//! let report = objs.create::<Endpoint>()?;
//! let mut p = ProcessBuilder::new("worker", embedded_elf!(WORKER))
//!     .priority(100)
//!     .heap_size(64 * 1024)
//!     .report_endpoint(&report, 7)      // exit and panic reports, badge 7
//!     .fault_endpoint(&report, 7)       // faults of its threads, same badge
//!     .grant(10, &channel, rights::RW)  // slot 10 of its CSpace
//!     .spawn(&mut objs)?;               // loaded, started
//! match receive_event(report.cap()) {
//!     ProcessEvent::Exited { code, .. } => ...,
//!     ProcessEvent::Faulted { fault, .. } => ...,
//!     ...
//! }
//! p.destroy(&mut objs)?;                // every byte and slot back
//! ```
//!
//! # What a process owns
//!
//! Everything a process holds is made from its **budget**, one untyped
//! carved for it ([`Objects::create_untyped`]): its CSpace's CNode, its
//! VSpace (PML4 and every paging structure under it), the frames of its
//! image, stacks, IPC buffers, heap and start-info page, its TCBs, and a
//! CNode of the root task's where the capabilities of those frames and
//! paging structures are kept (so they cost the root task no slots of its
//! own). [`Process::destroy`] revokes the budget, which deletes all of it
//! at once, and gives the budget back: every byte and slot the process
//! took comes back, which `Objects`' figures show
//! ([`Objects::pool`]`().usage(..)`, [`Objects::cspace`]`().slots()`).
//!
//! The root task keeps, per process, 5 slots of its own CNode (the
//! budget, the two CNodes, the CSpace root with its guard, the PML4) and
//! one per thread (its TCB), whatever the image's size.
//!
//! # Capabilities
//!
//! A process has no capability it was not given: the builder's
//! [`ProcessBuilder::grant`] and [`ProcessBuilder::grant_badged`] (and
//! [`Process::grant`] later) copy or mint one of the caller's capabilities
//! into a slot of the process's CSpace. Its own objects appear only where
//! the [`SlotLayout`] puts them (its CNode, VSpace and TCBs; the component
//! layout of `sel4_component_env::slot` by default). The CSpace is one
//! CNode with a guard that makes a slot index a full-word capability
//! pointer.
//!
//! # The start contract
//!
//! See `sel4_component_env::start`: the first argument register (x86_64
//! `rdi`, aarch64 `x0`, riscv64 `a0`, written through `sel4::Registers`)
//! holds the address of a read-only start-info page (name, generation,
//! image, heap, CSpace figures, slots, argument words, the threads'
//! stacks, IPC buffers and thread pointers); the thread pointer (FS base,
//! `tpidr_el0`, `tp`) is that of a TLS block laid out from the image's
//! `PT_TLS` in the architecture's variant; the stack pointer is the top of
//! a stack with a guard page below it. The image must be for the root
//! task's own machine ([`ProcessError::Image`] with
//! `sel4_elf_reloc::Error::OtherMachine` otherwise). A
//! process reports its end with an exit or panic message on its report
//! capability; the kernel sends its threads' faults to the fault endpoint
//! the caller chose. [`receive_event`] decodes both.
//!
//! # Memory map
//!
//! The image is loaded at [`ProcessBuilder::base`] (the component layout's
//! `IMAGE_BASE` by default) and relocated there; its pages get their
//! segment's permissions (code read-only and executable, read-only data
//! read-only, data read-write); an image whose segments would make a page
//! writable and executable is refused. On aarch64 and riscv64 every page
//! that is not the image's code (`PF_X`) is mapped execute-never: data,
//! heap, stacks, IPC buffers, the start-info page and shared frames. Everything else is placed from
//! `AUTO_BASE` up, each region with an unmapped guard page after it: the
//! start-info page, the heap, then per thread a guard page, its stack and
//! its IPC buffer. Explicit addresses ([`ProcessBuilder::heap_at`],
//! [`ProcessBuilder::stack_at`], ...) are checked against every other
//! region.
//!
//! Note (x86_64): seL4 never sets the execute-disable bit of user
//! mappings (5.0.0 and 16.0.0 alike), so every readable page can be
//! executed there; what the loader guarantees on x86 is that no code page
//! is writable (the suite's `process_heap_is_executable_only_on_x86_sel4`
//! checks both behaviours).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use sel4_component_env::start::{self as contract, StartInfo, StartInfoError, ThreadInfo};
use sel4_component_env::{layout as clayout, slot as cslot};
use sel4_elf_reloc::{Elf, Machine, TlsTemplate, TlsVariant, ET_EXEC};
use sel4_sys::{
    consts, CPtr, CapRights, Fault, FixedSize, InvocationError, MessageInfo, Word, REGISTER_MRS,
};

use crate::cap::{cap_type, CNode, Cap, CapType, ChildCap, Endpoint, Owned, OwnerId, Untyped, TCB};
use crate::cnode::ALL_RIGHTS;
use crate::error::Error;
use crate::objects::{AsidPool, Objects, Refused};
use crate::vspace::{self, level_above, missing_level, Cache};
use sel4::vspace::TABLE_LEVELS;
use sel4::{FrameOps, Registers, TableLevel};

const PAGE: u64 = 4096;

/// Default stack of a thread.
pub const DEFAULT_STACK_SIZE: u64 = 64 * 1024;
/// Default heap of a process.
pub const DEFAULT_HEAP_SIZE: u64 = 16 * 1024;
/// Default number of empty slots a process gets for its own use.
pub const DEFAULT_FREE_SLOTS: u64 = 32;
/// Default priority of a process's threads.
pub const DEFAULT_PRIORITY: u8 = 100;

/// Rights of a fault endpoint copy: send, and the grant right the kernel
/// wants of a fault handler (grant-reply on kernels that have it, grant on
/// seL4 5.x), never receive, so that a process cannot take other
/// processes' fault messages.
fn fault_rights() -> CapRights {
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 && label TCBSetTLSBase { CapRights(0b1001) } else { CapRights(0b0101) }
    }
}

/// Send only: what a process gets of its report endpoint.
pub const SEND_ONLY: CapRights = CapRights(0b0001);

/// Where the capabilities a process gets of its own objects go in its
/// CSpace: fixed slots, then one block of `thread_slots` slots per thread
/// from `first_thread`. [`SlotLayout::COMPONENT`] is the component
/// contract of `sel4_component_env::slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotLayout {
    /// Its own CNode (with the guard), if it gets one.
    pub cnode: Option<u64>,
    /// Its own VSpace root, if it gets one.
    pub vspace: Option<u64>,
    /// The report endpoint (send only), if one is given.
    pub report: u64,
    /// First slot of thread 0's block.
    pub first_thread: u64,
    /// Slots per thread block.
    pub thread_slots: u64,
    /// Offset of the thread's own TCB in its block, if it gets it.
    pub tcb: Option<u64>,
    /// Offset of the thread's fault endpoint in its block (the kernel
    /// looks it up in the thread's CSpace).
    pub fault_endpoint: u64,
    /// Offset of the thread's reply object in its block (MCS kernels: the
    /// thread's receives on endpoints name it; empty on the others).
    pub reply: u64,
    /// First of `sel4_component_env::start::RUNTIME_LOCKS` slots where the
    /// loader puts notifications (made from the budget) for the process
    /// runtime's locks, if it gets them.
    pub runtime_locks: Option<u64>,
}

impl SlotLayout {
    /// The component layout (`sel4_component_env::slot`).
    pub const COMPONENT: SlotLayout = SlotLayout {
        cnode: Some(cslot::CNODE),
        vspace: Some(cslot::VSPACE),
        report: cslot::SUPERVISOR,
        first_thread: cslot::FIRST_THREAD,
        thread_slots: cslot::THREAD_SLOTS,
        tcb: Some(cslot::TCB),
        fault_endpoint: cslot::FAULT_ENDPOINT,
        reply: cslot::REPLY,
        runtime_locks: Some(cslot::RUNTIME_LOCKS),
    };

    /// Slot `offset` of thread `t`'s block.
    pub fn thread_slot(&self, t: u64, offset: u64) -> u64 {
        self.first_thread + t * self.thread_slots + offset
    }

    fn check(&self) -> Result<(), ProcessError> {
        // Every thread block the start-info page can describe lies in a
        // 32-bit CSpace (the largest CNode).
        let end = (contract::MAX_THREADS as u64)
            .checked_mul(self.thread_slots)
            .and_then(|n| n.checked_add(self.first_thread));
        if !matches!(end, Some(e) if e <= 1 << 32) {
            return Err(ProcessError::Slot {
                slot: self.first_thread,
                reason: "the layout's thread blocks reach past 2^32 slots",
            });
        }
        let in_block = |o: u64| o < self.thread_slots;
        if self.thread_slots == 0
            || !in_block(self.fault_endpoint)
            || !in_block(self.reply)
            || self.reply == self.fault_endpoint
            || self
                .tcb
                .is_some_and(|o| !in_block(o) || o == self.fault_endpoint || o == self.reply)
        {
            return Err(ProcessError::Slot {
                slot: self.first_thread,
                reason: "the layout's thread block must hold the fault endpoint, the reply object and the TCB in slots of their own",
            });
        }
        if let Some(l) = self.runtime_locks {
            let end = l.checked_add(contract::RUNTIME_LOCKS);
            let clash = [self.cnode, self.vspace, Some(self.report)]
                .iter()
                .flatten()
                .any(|&f| (l..l + contract::RUNTIME_LOCKS).contains(&f));
            if l == 0 || clash || !matches!(end, Some(e) if e <= self.first_thread) {
                return Err(ProcessError::Slot {
                    slot: l,
                    reason: "the runtime's lock slots must lie below the first thread block, clear of slot 0 and the other fixed slots",
                });
            }
        }
        let fixed = [self.cnode, self.vspace, Some(self.report)];
        for (i, a) in fixed.iter().flatten().enumerate() {
            if *a == 0 {
                return Err(ProcessError::Slot {
                    slot: 0,
                    reason: "slot 0 stays empty (the null capability)",
                });
            }
            if *a >= self.first_thread {
                return Err(ProcessError::Slot {
                    slot: *a,
                    reason: "the layout's fixed slots must lie below the first thread block",
                });
            }
            if fixed.iter().flatten().skip(i + 1).any(|b| b == a) {
                return Err(ProcessError::Slot {
                    slot: *a,
                    reason: "two of the layout's fixed slots are the same",
                });
            }
        }
        Ok(())
    }
}

/// Why a process could not be made, or an operation on it failed. Each
/// message names the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessError {
    /// The ELF image is malformed or unsupported (the error names the
    /// part).
    Image(sel4_elf_reloc::Error),
    /// The image does not fit below the image limit at that base.
    ImageTooLarge {
        /// Where the image would be loaded (virtual address).
        base: u64,
        /// The end of its last segment at that base (exclusive).
        end: u64,
        /// The builder's image limit (`ProcessBuilder::image_limit`).
        limit: u64,
    },
    /// An ET_EXEC image linked for another address.
    NotRelocatable {
        /// The address the image was linked for.
        link_base: u64,
        /// The address it was asked to be loaded at.
        base: u64,
    },
    /// The entry point is not in an executable page.
    BadEntry {
        /// The image's entry point (virtual address after relocation).
        entry: u64,
    },
    /// An address that must be page aligned is not.
    Misaligned {
        /// Which region (stack, IPC buffer, mapping, ...).
        what: &'static str,
        /// The offending address (or size).
        vaddr: u64,
    },
    /// A region would lie outside the user address space.
    OutsideUserSpace {
        /// Which region.
        what: &'static str,
        /// Its start address.
        vaddr: u64,
    },
    /// Two regions of the process's address space overlap.
    Overlap {
        /// The region being placed.
        what: &'static str,
        /// The region already there.
        other: &'static str,
        /// The first address both cover.
        vaddr: u64,
    },
    /// A CSpace slot is outside the CSpace, taken, or not allowed.
    Slot {
        /// The slot index in the process's CSpace.
        slot: u64,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The start-info page holds no more threads.
    TooManyThreads {
        /// The number of threads the start-info page's table holds.
        max: usize,
    },
    /// The budget given is smaller than what the process needs.
    BudgetTooSmall {
        /// Bytes of untyped memory the process needs.
        needed: u64,
        /// Bytes the budget gives (`1 << budget_bits`).
        budget: u64,
    },
    /// The framework could not make an object or a capability.
    Resources(Error),
    /// A kernel invocation failed while setting the process up.
    Setup {
        /// The set-up step that failed (names the invocation).
        step: &'static str,
        /// What the kernel returned.
        error: InvocationError,
    },
    /// The name does not fit the start-info page.
    StartInfo(StartInfoError),
    /// The handle belongs to another `Objects`, or no such thread.
    NotFound {
        /// What was not found, as a sentence for the message.
        what: &'static str,
    },
}

impl From<Error> for ProcessError {
    fn from(e: Error) -> ProcessError {
        ProcessError::Resources(e)
    }
}

impl From<sel4_elf_reloc::Error> for ProcessError {
    fn from(e: sel4_elf_reloc::Error) -> ProcessError {
        ProcessError::Image(e)
    }
}

impl<H> From<Refused<H>> for ProcessError {
    fn from(r: Refused<H>) -> ProcessError {
        ProcessError::Resources(r.error)
    }
}

impl core::fmt::Display for ProcessError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProcessError::Image(e) => write!(f, "the process image: {e}"),
            ProcessError::ImageTooLarge { base, end, limit } => write!(
                f,
                "the image at {base:#x} ends at {end:#x}, past the limit {limit:#x}: load it lower or raise ProcessBuilder::image_limit"
            ),
            ProcessError::NotRelocatable { link_base, base } => write!(
                f,
                "the image is ET_EXEC linked at {link_base:#x} and cannot be loaded at {base:#x}: link it position-independent (relocation-model=pie) or load it at its link address"
            ),
            ProcessError::BadEntry { entry } => {
                write!(f, "the entry point {entry:#x} is not in an executable segment")
            }
            ProcessError::Misaligned { what, vaddr } => {
                write!(f, "{what} at {vaddr:#x} is not page aligned")
            }
            ProcessError::OutsideUserSpace { what, vaddr } => write!(
                f,
                "{what} at {vaddr:#x} does not fit the user address space (below {USER_TOP:#x}, with room for its guard page): place it lower"
            ),
            ProcessError::Overlap { what, other, vaddr } => write!(
                f,
                "{what} overlaps {other} at {vaddr:#x}: place one of them elsewhere"
            ),
            ProcessError::Slot { slot, reason } => write!(f, "slot {slot}: {reason}"),
            ProcessError::TooManyThreads { max } => {
                write!(f, "a process has at most {max} threads (the start-info page's table)")
            }
            ProcessError::BudgetTooSmall { needed, budget } => write!(
                f,
                "the budget of {budget} bytes is too small: the process needs {needed} bytes (give budget_bits of at least {})",
                ceil_log2(*needed)
            ),
            ProcessError::Resources(e) => write!(f, "no resources for the process: {e}"),
            ProcessError::Setup { step, error } => write!(f, "{step} failed: {error}"),
            ProcessError::StartInfo(e) => write!(f, "start-info page: {e}"),
            ProcessError::NotFound { what } => write!(f, "{what}"),
        }
    }
}

fn step(step: &'static str) -> impl Fn(InvocationError) -> ProcessError {
    move |error| ProcessError::Setup { step, error }
}

fn ceil_log2(x: u64) -> u8 {
    if x <= 1 {
        0
    } else {
        (64 - (x - 1).leading_zeros()) as u8
    }
}

fn page_up(x: u64) -> Option<u64> {
    Some(x.checked_add(PAGE - 1)? & !(PAGE - 1))
}

/// A capability to copy or mint into the process's CSpace.
#[derive(Clone, Copy)]
struct Grant {
    slot: u64,
    src: CPtr,
    owner: OwnerId,
    rights: CapRights,
    badge: Option<Word>,
}

/// A frame of the caller's mapped into the process ([`ProcessBuilder::map_frame`]).
#[derive(Clone, Copy)]
struct SharedFrame {
    vaddr: u64,
    src: CPtr,
    owner: OwnerId,
    rights: CapRights,
    cache: Cache,
}

/// A thread to start in a process ([`Process::add_thread`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSpec<'a> {
    /// Entry address in the process (see [`Process::address_of`]).
    pub entry: u64,
    /// The argument word (`rcx` at entry).
    pub arg: Word,
    /// Priority (at most the caller's maximum controlled priority).
    pub priority: u8,
    /// Bytes of stack (a guard page is below it).
    pub stack_size: u64,
    /// Where its faults go: an endpoint of the caller and the badge.
    pub fault: Option<(&'a Owned<Endpoint>, Word)>,
    /// Its stack's lowest address (page aligned; the guard page is the
    /// page below it). `None`: after the last region placed so far.
    pub stack_at: Option<u64>,
    /// Its IPC buffer page (page aligned). `None`: the page right above
    /// the stack.
    pub ipc_buffer_at: Option<u64>,
}

/// Options of a new process; see the [module documentation](self).
#[must_use = "a process builder does nothing until ProcessBuilder::spawn"]
pub struct ProcessBuilder<'a> {
    name: &'a str,
    elf: &'a [u8],
    base: u64,
    image_limit: u64,
    budget_bits: Option<u8>,
    extra_budget: u64,
    cspace_bits: Option<u8>,
    free_slots: u64,
    priority: u8,
    mcp: u8,
    stack_size: u64,
    stack_at: Option<u64>,
    ipc_buffer_at: Option<u64>,
    heap_size: u64,
    heap_at: Option<u64>,
    start_info_at: Option<u64>,
    fault: Option<(&'a Owned<Endpoint>, Word)>,
    report: Option<(&'a Owned<Endpoint>, Word)>,
    grants: Vec<Grant>,
    shared: Vec<SharedFrame>,
    layout: SlotLayout,
    args: [Word; contract::ARGS],
    generation: u64,
    asid_pool: Option<&'a AsidPool>,
    start: bool,
    sched: crate::sched::Budget,
}

impl<'a> ProcessBuilder<'a> {
    /// A process named `name` (at most `sel4_component_env::start::NAME_MAX`
    /// bytes) running the ELF image `elf` (a static PIE, as the framework's
    /// `sel4rs_process_image()` builds; or ET_EXEC at its link address).
    pub fn new(name: &'a str, elf: &'a [u8]) -> ProcessBuilder<'a> {
        ProcessBuilder {
            name,
            elf,
            base: clayout::IMAGE_BASE,
            image_limit: clayout::AUTO_BASE,
            budget_bits: None,
            extra_budget: 0,
            cspace_bits: None,
            free_slots: DEFAULT_FREE_SLOTS,
            priority: DEFAULT_PRIORITY,
            mcp: 0,
            stack_size: DEFAULT_STACK_SIZE,
            stack_at: None,
            ipc_buffer_at: None,
            heap_size: DEFAULT_HEAP_SIZE,
            heap_at: None,
            start_info_at: None,
            fault: None,
            report: None,
            grants: Vec::new(),
            shared: Vec::new(),
            layout: SlotLayout::COMPONENT,
            args: [0; contract::ARGS],
            generation: 0,
            asid_pool: None,
            start: true,
            sched: crate::sched::Budget::DEFAULT,
        }
    }

    /// MCS kernels: the budget and period of each of its threads' scheduling
    /// contexts ([`Budget::DEFAULT`](crate::sched::Budget::DEFAULT), round
    /// robin, without it); every thread gets its own scheduling context with
    /// these parameters. Other kernels have no scheduling contexts and
    /// ignore it.
    pub fn scheduling(mut self, budget: crate::sched::Budget) -> Self {
        self.sched = budget;
        self
    }

    /// Where the image's lowest page goes (page aligned).
    pub fn base(mut self, base: u64) -> Self {
        self.base = base;
        self
    }

    /// The image must end at or below this address (the component
    /// layout's `AUTO_BASE` by default, where the other regions start).
    pub fn image_limit(mut self, limit: u64) -> Self {
        self.image_limit = limit;
        self
    }

    /// The budget: one untyped of `2^bits` bytes. Without it the builder
    /// takes the smallest that holds what it computed (plus
    /// [`ProcessBuilder::extra_budget`]).
    pub fn budget_bits(mut self, bits: u8) -> Self {
        self.budget_bits = Some(bits);
        self
    }

    /// Bytes of budget beyond what the builder computes, for what is made
    /// later ([`Process::add_thread`], [`Process::create`]; 0 by default:
    /// what is left of the power of two the budget is rounded up to).
    pub fn extra_budget(mut self, bytes: u64) -> Self {
        self.extra_budget = bytes;
        self
    }

    /// The CSpace's size (log2 of its slots). Without it: the smallest
    /// that holds the layout's slots, the grants and
    /// [`ProcessBuilder::free_slots`] empty slots.
    pub fn cspace_bits(mut self, bits: u8) -> Self {
        self.cspace_bits = Some(bits);
        self
    }

    /// Empty slots for the process's own use (after the highest one filled).
    pub fn free_slots(mut self, n: u64) -> Self {
        self.free_slots = n;
        self
    }

    /// Priority of the main thread.
    pub fn priority(mut self, p: u8) -> Self {
        self.priority = p;
        self
    }

    /// Maximum controlled priority of its threads (0 by default: it cannot
    /// raise any priority).
    pub fn mcp(mut self, mcp: u8) -> Self {
        self.mcp = mcp;
        self
    }

    /// Bytes of the main thread's stack.
    pub fn stack_size(mut self, bytes: u64) -> Self {
        self.stack_size = bytes;
        self
    }

    /// The main thread's stack at `bottom` (page aligned; the guard page
    /// is the page below it).
    pub fn stack_at(mut self, bottom: u64, bytes: u64) -> Self {
        self.stack_at = Some(bottom);
        self.stack_size = bytes;
        self
    }

    /// The main thread's IPC buffer page.
    pub fn ipc_buffer_at(mut self, vaddr: u64) -> Self {
        self.ipc_buffer_at = Some(vaddr);
        self
    }

    /// Bytes of heap (0: none).
    pub fn heap_size(mut self, bytes: u64) -> Self {
        self.heap_size = bytes;
        self
    }

    /// The heap at `vaddr` (page aligned).
    pub fn heap_at(mut self, vaddr: u64, bytes: u64) -> Self {
        self.heap_at = Some(vaddr);
        self.heap_size = bytes;
        self
    }

    /// The start-info page at `vaddr`.
    pub fn start_info_at(mut self, vaddr: u64) -> Self {
        self.start_info_at = Some(vaddr);
        self
    }

    /// The main thread's faults go to `ep` with `badge`.
    pub fn fault_endpoint(mut self, ep: &'a Owned<Endpoint>, badge: Word) -> Self {
        self.fault = Some((ep, badge));
        self
    }

    /// The process's exit and panic reports go to `ep` with `badge` (a
    /// send-only copy in the layout's report slot).
    pub fn report_endpoint(mut self, ep: &'a Owned<Endpoint>, badge: Word) -> Self {
        self.report = Some((ep, badge));
        self
    }

    /// A copy of `cap` with `rights` in slot `slot` of its CSpace.
    pub fn grant<T: CapType>(mut self, slot: u64, cap: &'a Owned<T>, rights: CapRights) -> Self {
        self.grants.push(Grant {
            slot,
            src: cap.cptr(),
            owner: cap.owner(),
            rights,
            badge: None,
        });
        self
    }

    /// A copy of `cap` with `rights` and `badge` in slot `slot`.
    pub fn grant_badged<T: CapType>(
        mut self,
        slot: u64,
        cap: &'a Owned<T>,
        rights: CapRights,
        badge: Word,
    ) -> Self {
        self.grants.push(Grant {
            slot,
            src: cap.cptr(),
            owner: cap.owner(),
            rights,
            badge: Some(badge),
        });
        self
    }

    /// A copy of the 4 KiB frame `frame` (the caller keeps its capability)
    /// mapped at `vaddr` of the process with `rights` (never writable and
    /// executable at once: it is mapped execute-never on aarch64 and
    /// riscv64, and x86 maps are never execute-disabled) and `cache` (device registers: uncached). Several
    /// processes mapping copies of one frame share its memory. The
    /// mapping's paging structures come from the budget; the copy goes
    /// with the process.
    pub fn map_frame(
        mut self,
        vaddr: u64,
        frame: &'a Owned<sel4::Granule>,
        rights: CapRights,
        cache: Cache,
    ) -> Self {
        self.shared.push(SharedFrame {
            vaddr,
            src: frame.cptr(),
            owner: frame.owner(),
            rights,
            cache,
        });
        self
    }

    /// Where its own capabilities go ([`SlotLayout::COMPONENT`] by default).
    pub fn layout(mut self, layout: SlotLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Argument word `i` (of `sel4_component_env::start::ARGS`) of the
    /// start-info page.
    pub fn arg(mut self, i: usize, value: Word) -> Self {
        if let Some(a) = self.args.get_mut(i) {
            *a = value;
        }
        self
    }

    /// All argument words.
    pub fn args(mut self, args: [Word; contract::ARGS]) -> Self {
        self.args = args;
        self
    }

    /// The instance number the start-info page carries.
    pub fn generation(mut self, g: u64) -> Self {
        self.generation = g;
        self
    }

    /// Its VSpace gets an ASID from this pool (else from the initial pool
    /// or one `Objects` makes, see [`Objects::assign_asid`]).
    pub fn asid_pool(mut self, pool: &'a AsidPool) -> Self {
        self.asid_pool = Some(pool);
        self
    }

    /// Make it, but do not start it ([`Process::start`]).
    pub fn suspended(mut self) -> Self {
        self.start = false;
        self
    }

    /// Makes the process: its budget, CSpace, VSpace, image, heap,
    /// start-info page and main thread; starts it unless
    /// [`ProcessBuilder::suspended`]. On failure everything made so far is
    /// given back.
    pub fn spawn(self, objs: &mut Objects) -> Result<Process, ProcessError> {
        let plan = self.plan()?;
        // seL4 5.x resets the caller's FS base to its TCB's TLS base once a
        // thread with another one (the process's) has run: the initial
        // thread's must be there first.
        if crate::thread::ensure_initial_tls_base(objs).is_err() {
            return Err(ProcessError::Resources(Error::Check(
                "the initial thread's TLS base could not be set in its TCB (seL4 5.x): processes would reset it",
            )));
        }
        let budget = objs.create_untyped(plan.budget_bits)?;
        let mut p = Process::empty(&self, &plan, budget);
        match p.build(objs, &self, &plan) {
            Ok(()) => Ok(p),
            Err(e) => {
                if let Err(r) = p.destroy(objs) {
                    log::warn!("giving back a half-made process: {}", r.error);
                }
                Err(e)
            }
        }
    }

    /// Everything decided before anything is made: addresses, slots, sizes.
    fn plan(&self) -> Result<Plan, ProcessError> {
        self.layout.check()?;
        let elf = Elf::parse(self.elf)?;
        // The loader runs images of its own machine only.
        elf.expect_machine(Machine::NATIVE)?;
        let (link_base, link_end) = elf.load_range()?;
        if !self.base.is_multiple_of(PAGE) {
            return Err(ProcessError::Misaligned {
                what: "the image base",
                vaddr: self.base,
            });
        }
        if elf.header().e_type == ET_EXEC && self.base != link_base {
            return Err(ProcessError::NotRelocatable {
                link_base,
                base: self.base,
            });
        }
        let image_end = self.base.saturating_add(link_end - link_base);
        if image_end > self.image_limit {
            return Err(ProcessError::ImageTooLarge {
                base: self.base,
                end: image_end,
                limit: self.image_limit,
            });
        }
        elf.check_relocations()?;
        // One pass over the image's pages (nothing stored: a hostile image
        // may claim a huge .bss): how many, the paging structures under
        // them, and whether the entry is in an executable one.
        let entry_link = elf.header().e_entry;
        let mut image_pages = 0u64;
        let mut keys = Keys::default();
        let mut entry_ok = false;
        for p in elf.pages()? {
            image_pages += 1;
            keys.add_page(p.vaddr - link_base + self.base);
            entry_ok |= p.executable() && (p.vaddr..p.vaddr + PAGE).contains(&entry_link);
        }
        if !entry_ok {
            return Err(ProcessError::BadEntry { entry: entry_link });
        }
        let tls = elf.tls()?;
        let mut regions = Regions::default();
        regions.add("the image", self.base, image_end)?;
        let mut cursor = page_up(image_end.max(self.image_limit)).unwrap_or(u64::MAX);
        let mut place = |what: &'static str,
                         at: Option<u64>,
                         bytes: u64,
                         guard_below: bool,
                         regions: &mut Regions|
         -> Result<u64, ProcessError> {
            let size =
                page_up(bytes.max(1)).ok_or(ProcessError::Misaligned { what, vaddr: bytes })?;
            let start = match at {
                Some(v) => {
                    if !v.is_multiple_of(PAGE) {
                        return Err(ProcessError::Misaligned { what, vaddr: v });
                    }
                    v
                }
                None => cursor.saturating_add(if guard_below { PAGE } else { 0 }),
            };
            let end = start.saturating_add(size);
            // A guard page below (stacks) is part of the region: nothing
            // may be mapped there.
            let lo = if guard_below {
                start.checked_sub(PAGE)
            } else {
                Some(start)
            };
            let Some(lo) = lo.filter(|_| end <= USER_TOP) else {
                return Err(ProcessError::OutsideUserSpace { what, vaddr: start });
            };
            regions.add(what, lo, end)?;
            if at.is_none() {
                // The next region keeps an unmapped page after this one.
                cursor = end.saturating_add(PAGE);
            }
            Ok(start)
        };
        let start_info = place(
            "the start-info page",
            self.start_info_at,
            PAGE,
            false,
            &mut regions,
        )?;
        let heap = if self.heap_size > 0 {
            place(
                "the heap",
                self.heap_at,
                self.heap_size,
                false,
                &mut regions,
            )?
        } else {
            0
        };
        let heap_size = if self.heap_size > 0 {
            page_up(self.heap_size).unwrap_or(0)
        } else {
            0
        };
        let stack_size = page_up(self.stack_size.max(PAGE)).unwrap_or(PAGE);
        let stack = place(
            "the main thread's stack",
            self.stack_at,
            stack_size,
            true,
            &mut regions,
        )?;
        let ipc_buffer = place(
            "the main thread's IPC buffer",
            self.ipc_buffer_at,
            PAGE,
            false,
            &mut regions,
        )?;
        for f in &self.shared {
            if !f.vaddr.is_multiple_of(PAGE) {
                return Err(ProcessError::Misaligned {
                    what: "a shared frame",
                    vaddr: f.vaddr,
                });
            }
            if f.vaddr.saturating_add(PAGE) > USER_TOP {
                return Err(ProcessError::OutsideUserSpace {
                    what: "a shared frame",
                    vaddr: f.vaddr,
                });
            }
            regions.add("a shared frame", f.vaddr, f.vaddr + PAGE)?;
        }

        // The CSpace.
        let l = &self.layout;
        let mut used: Vec<u64> = [l.cnode, l.vspace].iter().flatten().copied().collect();
        if let Some(first) = l.runtime_locks {
            used.extend(first..first + contract::RUNTIME_LOCKS);
        }
        if self.report.is_some() {
            used.push(l.report);
        }
        used.push(l.thread_slot(0, l.fault_endpoint));
        if let Some(o) = l.tcb {
            used.push(l.thread_slot(0, o));
        }
        for g in &self.grants {
            if g.slot == 0 {
                return Err(ProcessError::Slot {
                    slot: 0,
                    reason: "slot 0 stays empty (the null capability)",
                });
            }
            let block = l.first_thread..l.first_thread + l.thread_slots;
            if used.contains(&g.slot) || block.contains(&g.slot) {
                return Err(ProcessError::Slot {
                    slot: g.slot,
                    reason: "taken by the layout (its own CNode, VSpace, report slot or a thread block) or by another grant",
                });
            }
            used.push(g.slot);
        }
        let highest = used
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(l.first_thread + l.thread_slots - 1);
        let cspace_bits = match self.cspace_bits {
            Some(b) => {
                if b == 0 || b > 32 || used.iter().any(|&s| s >> b != 0) {
                    return Err(ProcessError::Slot {
                        slot: *used.iter().max().unwrap_or(&0),
                        reason: "outside the CSpace: raise cspace_bits",
                    });
                }
                b
            }
            None => {
                let b = ceil_log2(highest.saturating_add(1).saturating_add(self.free_slots)).max(2);
                if b > 32 {
                    return Err(ProcessError::Slot {
                        slot: highest,
                        reason: "more free slots than a CSpace of 2^32 slots holds: ask for fewer",
                    });
                }
                b
            }
        };

        // What the budget must hold.
        let frames = image_pages + 1 + heap_size / PAGE + stack_size / PAGE + 1;
        keys.add_range(start_info, PAGE);
        keys.add_range(heap, heap_size);
        keys.add_range(stack, stack_size);
        keys.add_range(ipc_buffer, PAGE);
        for f in &self.shared {
            keys.add_range(f.vaddr, PAGE);
        }
        let tables = keys.total();
        // Kept capabilities: frames, tables, a spare copy of the start-info
        // frame, and room for threads and objects added later.
        let kept = frames
            .saturating_add(tables)
            .saturating_add(1)
            .saturating_add(self.shared.len() as u64);
        let parked_bits = ceil_log2(kept.saturating_add(64)).max(4);
        if parked_bits > 32 {
            return Err(ProcessError::BudgetTooSmall {
                needed: u64::MAX,
                budget: 0,
            });
        }
        let slot = 1u64 << consts::SlotBits;
        let locks = if l.runtime_locks.is_some() {
            contract::RUNTIME_LOCKS << <cap_type::Notification as FixedSize>::SIZE_BITS
        } else {
            0
        };
        let needed = [
            (1u64 << parked_bits) * slot,
            (1u64 << cspace_bits) * slot,
            kept.saturating_mul(PAGE),
            1u64 << <TCB as FixedSize>::SIZE_BITS,
            sched_bytes(&self.sched),
            1u64 << <sel4::VSpaceRoot as FixedSize>::SIZE_BITS,
            locks,
            self.extra_budget,
        ]
        .iter()
        .fold(0u64, |a, &b| a.saturating_add(b));
        let budget_bits = match self.budget_bits {
            Some(b) => {
                if b >= 64 || (1u64 << b) < needed {
                    return Err(ProcessError::BudgetTooSmall {
                        needed,
                        budget: if b >= 64 { u64::MAX } else { 1 << b },
                    });
                }
                b
            }
            // Objects are made largest first, so a power of two that holds
            // the sum holds them all.
            None => ceil_log2(needed).max(consts::PageBits as u8),
        };
        Ok(Plan {
            link_base,
            image_end,
            tls,
            entry: entry_link - link_base + self.base,
            start_info,
            heap,
            heap_size,
            stack,
            stack_size,
            ipc_buffer,
            cspace_bits,
            free_start: highest + 1,
            parked_bits,
            budget_bits,
            regions,
            cursor,
        })
    }
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    /// A process thread's scheduling context.
    type ThreadSc = cap_type::SchedContext;
    /// A process thread's reply object.
    type ThreadReply = cap_type::Reply;
} else {
    /// No scheduling contexts on these kernels (never made).
    type ThreadSc = cap_type::Null;
    /// No reply objects on these kernels (never made).
    type ThreadReply = cap_type::Null;
} }

/// What [`Process::make_sched`] makes for a thread: its scheduling
/// context and its reply object (MCS kernels; `None` on the others).
type ThreadSched = (Option<Owned<ThreadSc>>, Option<ChildCap<ThreadReply>>);

/// Bytes a thread needs besides its TCB: on MCS kernels its scheduling
/// context (of `budget`'s size) and its reply object; 0 on the others.
#[allow(unused_variables)]
fn sched_bytes(budget: &crate::sched::Budget) -> u64 {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        let sc = crate::sched::sched_context_bits(budget.extra_refills);
        (1u64 << sc) + (1u64 << <cap_type::Reply as FixedSize>::SIZE_BITS)
    } else {
        0
    } }
}

/// Whether a page of a process may be executed: only its image's code
/// (`PF_X` segments) may; everything else is mapped execute-never
/// (aarch64, riscv64; x86_64 mappings have no such bit in seL4, see the
/// module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exec {
    Yes,
    Never,
}

/// Makes the instructions the loader wrote into a code page (through the
/// data cache of its own mapping) visible to the process's instruction
/// fetches: aarch64 `ARM_Page_Unify_Instruction` on the page as the
/// process maps it (clean to the point of unification, invalidate the
/// instruction cache). x86_64 keeps its caches coherent; riscv64 has no
/// such invocation in seL4 (single-core QEMU virt fetches what was
/// written; a multi-hart or hardware port needs a `fence.i`).
fn unify_instructions(frame: CPtr) -> Result<(), ProcessError> {
    #[cfg(target_arch = "aarch64")]
    {
        sel4_sys::Cap::<sel4_sys::cap_type::ARMPage>::from_cptr(frame)
            .arm_page_unify_instruction(0, PAGE as Word)
            .map_err(step("ARM_Page_Unify_Instruction"))
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        let _ = frame;
        Ok(())
    }
}

/// One past the highest page a process can map: the kernel's `seL4_UserTop`
/// of the configured architecture (x86_64 and riscv64 give the end of the
/// user range, aarch64 its last address), rounded down to a page. seL4 5.x
/// has no `seL4_UserTop`; its x86_64 user range is the canonical lower
/// half (47 bits).
pub const USER_TOP: u64 = sel4_sys::sel4_cfg_if! {
    kernel >= 12 {
        (consts::UserTop as u64).wrapping_add(1) & !(PAGE - 1)
    } else {
        1 << 47
    }
};

/// Counts the paging structures (page tables, page directories, PDPTs)
/// that mapped pages need, from their addresses given in increasing order
/// per call (a structure shared by two regions may be counted twice: the
/// budget is then a little larger than needed).
#[derive(Default)]
struct Keys {
    last: [Option<u64>; TABLE_LEVELS.len()],
    count: u64,
}

impl Keys {
    const LEVELS: [TableLevel; TABLE_LEVELS.len()] = TABLE_LEVELS;

    /// A page, at an address above the previous one of this sequence.
    fn add_page(&mut self, vaddr: u64) {
        for (i, l) in Self::LEVELS.iter().enumerate() {
            let k = vaddr >> l.span_bits();
            if self.last[i] != Some(k) {
                self.last[i] = Some(k);
                self.count += 1;
            }
        }
    }

    /// A region of `bytes` from `start` (a new sequence).
    fn add_range(&mut self, start: u64, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let last = start.saturating_add(bytes - 1);
        for l in Self::LEVELS {
            let b = l.span_bits();
            self.count = self.count.saturating_add((last >> b) - (start >> b) + 1);
        }
    }

    fn total(&self) -> u64 {
        self.count
    }
}

/// What [`ProcessBuilder::plan`] decided.
struct Plan {
    link_base: u64,
    image_end: u64,
    tls: Option<TlsTemplate>,
    entry: u64,
    start_info: u64,
    heap: u64,
    heap_size: u64,
    stack: u64,
    stack_size: u64,
    ipc_buffer: u64,
    cspace_bits: u8,
    free_start: u64,
    parked_bits: u8,
    budget_bits: u8,
    regions: Regions,
    cursor: u64,
}

/// The address ranges a process uses, for overlap checks.
#[derive(Debug, Default, Clone)]
struct Regions {
    list: Vec<(u64, u64, &'static str)>,
}

impl Regions {
    fn add(&mut self, what: &'static str, start: u64, end: u64) -> Result<(), ProcessError> {
        if let Some(&(s, e, other)) = self.list.iter().find(|&&(s, e, _)| start < e && s < end) {
            return Err(ProcessError::Overlap {
                what,
                other,
                vaddr: start.max(s).min(e),
            });
        }
        self.list.push((start, end, what));
        Ok(())
    }
}

/// One thread of a process.
struct PThread {
    tcb: Owned<TCB>,
    /// Its scheduling context (MCS kernels), made from the budget.
    sc: Option<Owned<ThreadSc>>,
    /// Its reply object in the process's CSpace (MCS kernels), made from
    /// the budget.
    #[allow(dead_code)] // read on MCS kernels only (`answer_caller`)
    reply: Option<ChildCap<ThreadReply>>,
    info: ThreadInfo,
    started: bool,
}

/// A process made by [`ProcessBuilder::spawn`]. Dropping it without
/// [`Process::destroy`] leaves it running and its budget taken.
#[must_use = "a process keeps its budget until Process::destroy gives it back"]
pub struct Process {
    name: String,
    budget: Option<Owned<Untyped>>,
    budget_bits: u8,
    /// The CNode of the root task's where its frames and paging structures
    /// are kept.
    parked: Option<Owned<CNode>>,
    /// Its CSpace root (the original capability, no guard) and the copy
    /// with the guard its threads get.
    cspace: Option<Owned<CNode>>,
    cspace_root: Option<Owned<CNode>>,
    cspace_bits: u8,
    vspace: Option<Owned<sel4::VSpaceRoot>>,
    threads: Vec<PThread>,
    layout: SlotLayout,
    info: Box<StartInfo>,
    start_info_vaddr: u64,
    /// A spare capability of the start-info frame, kept in `parked`, to
    /// update the page (the other one holds the process's mapping).
    start_info_spare: Option<crate::cap::ChildCap<sel4::Granule>>,
    /// The TLS template and its relocated `.tdata`, for new threads.
    tls: Option<TlsTemplate>,
    tls_init: Vec<u8>,
    load_bias: u64,
    entry: u64,
    mcp: u8,
    /// Budget and period of its threads' scheduling contexts (MCS).
    #[allow(dead_code)] // read on MCS kernels only (`make_sched`)
    sched: crate::sched::Budget,
    regions: Regions,
    cursor: u64,
    /// The capabilities granted into its CSpace (slot, handle), so that a
    /// grant can be taken back ([`Process::ungrant`]).
    granted: Vec<(u64, ChildCap<cap_type::Null>)>,
}

impl core::fmt::Debug for Process {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .field("threads", &self.threads.len())
            .field("entry", &format_args!("{:#x}", self.entry))
            .finish()
    }
}

/// A fresh page of content, or zeros.
type PageBytes = [u8; PAGE as usize];

impl Process {
    fn empty(b: &ProcessBuilder<'_>, plan: &Plan, budget: Owned<Untyped>) -> Process {
        Process {
            name: String::from(b.name),
            budget: Some(budget),
            budget_bits: plan.budget_bits,
            parked: None,
            cspace: None,
            cspace_root: None,
            cspace_bits: plan.cspace_bits,
            vspace: None,
            threads: Vec::new(),
            layout: b.layout,
            info: Box::default(),
            start_info_vaddr: plan.start_info,
            start_info_spare: None,
            tls: plan.tls,
            tls_init: Vec::new(),
            load_bias: b.base.wrapping_sub(plan.link_base),
            entry: plan.entry,
            mcp: b.mcp,
            sched: b.sched,
            regions: plan.regions.clone(),
            cursor: plan.cursor,
            granted: Vec::new(),
        }
    }

    fn budget(&self) -> Result<&Owned<Untyped>, ProcessError> {
        self.budget.as_ref().ok_or(ProcessError::NotFound {
            what: "the process was destroyed",
        })
    }

    fn handle<T: CapType>(h: &Option<Owned<T>>) -> Result<&Owned<T>, ProcessError> {
        h.as_ref().ok_or(ProcessError::NotFound {
            what: "the process is not set up",
        })
    }

    fn build(
        &mut self,
        objs: &mut Objects,
        b: &ProcessBuilder<'_>,
        plan: &Plan,
    ) -> Result<(), ProcessError> {
        let mut info = StartInfo::new(b.name).map_err(ProcessError::StartInfo)?;
        // Largest objects first (no padding in the budget): the CNodes,
        // then pages, then the TCB.
        let budget = Self::handle(&self.budget)?;
        self.parked = Some(objs.create_cnode_in(budget, plan.parked_bits)?);
        let budget = Self::handle(&self.budget)?;
        let cspace = objs.create_cnode_in(budget, plan.cspace_bits)?;
        self.cspace = Some(cspace);
        self.cspace_root = Some(objs.mint_cspace_root(Self::handle(&self.cspace)?)?);
        let budget = Self::handle(&self.budget)?;
        let vspace = objs.create_in::<sel4::VSpaceRoot>(budget)?;
        self.vspace = Some(vspace);
        objs.assign_asid(Self::handle(&self.vspace)?, b.asid_pool)?;

        // The image, page by page from the file.
        let elf = Elf::parse(b.elf)?;
        let mut scratch: Box<PageBytes> = Box::new([0; PAGE as usize]);
        for page in elf.pages()? {
            let (link, flags, file) = (page.vaddr, page.flags, page.file);
            // A page without file bytes is zeros, unless a relocation
            // lands in it.
            let content = if file {
                elf.fill(link, &mut scratch[..])?;
                elf.relocate_window(b.base, link, &mut scratch[..])?;
                true
            } else {
                scratch.fill(0);
                elf.relocate_window(b.base, link, &mut scratch[..])? > 0
            };
            let rights = if flags & sel4_elf_reloc::PF_W != 0 {
                vspace::RW
            } else {
                vspace::RO
            };
            let content = content.then_some(&*scratch);
            let exec = if flags & sel4_elf_reloc::PF_X != 0 {
                Exec::Yes
            } else {
                Exec::Never
            };
            self.map_new_page(objs, link - plan.link_base + b.base, rights, exec, content)?;
        }
        if let Some(t) = &plan.tls {
            let mut init = alloc::vec![0u8; t.filesz as usize];
            let bytes = elf
                .file_bytes_at(t.vaddr, t.filesz)
                .ok_or(ProcessError::Image(sel4_elf_reloc::Error::BadTls))?;
            init.copy_from_slice(bytes);
            elf.relocate_window(b.base, t.vaddr, &mut init)?;
            self.tls_init = init;
        }
        // The heap: zeroed pages.
        for i in 0..plan.heap_size / PAGE {
            self.map_new_page(objs, plan.heap + i * PAGE, vspace::RW, Exec::Never, None)?;
        }

        // Its own capabilities and the grants.
        let l = self.layout;
        let node = Self::handle(&self.cspace)?;
        if let Some(s) = l.cnode {
            let root = Self::handle(&self.cspace_root)?;
            let _ = objs.copy_into_at(node, s, root, ALL_RIGHTS)?;
        }
        if let Some(s) = l.vspace {
            let v = Self::handle(&self.vspace)?;
            let _ = objs.copy_into_at(node, s, v, ALL_RIGHTS)?;
        }
        if let Some((ep, badge)) = b.report {
            let _ = objs.mint_into_at(node, l.report, ep, SEND_ONLY, badge)?;
            info.report_slot = l.report;
        }
        if let Some(first) = l.runtime_locks {
            for i in 0..contract::RUNTIME_LOCKS {
                let n = objs.create_in::<cap_type::Notification>(Self::handle(&self.budget)?)?;
                // The copy in the process's CNode goes with it (the CNode is
                // made from the budget); the root task's slot comes back.
                let copied = objs.copy_into_at(node, first + i, &n, ALL_RIGHTS);
                let deleted = objs.delete(n);
                let _ = copied?;
                deleted?;
            }
            info.lock_slots = first;
        }
        for f in &b.shared {
            let src: Owned<sel4::Granule> = Owned::new(f.src, f.owner);
            let copy = objs.copy(&src, ALL_RIGHTS)?;
            if let Err(e) =
                self.map_in_process_with(objs, copy.cap(), f.vaddr, f.rights, f.cache, Exec::Never)
            {
                let _ = objs.delete(copy);
                return Err(e);
            }
            self.park(objs, copy)?;
        }
        let node = Self::handle(&self.cspace)?;
        for g in &b.grants {
            // A name with the owner it was handed out with: Objects checks
            // both, as for the caller's own handle.
            let src: Owned<cap_type::Null> = Owned::new(g.src, g.owner);
            let c = match g.badge {
                Some(badge) => objs.mint_into_at(node, g.slot, &src, g.rights, badge)?,
                None => objs.copy_into_at(node, g.slot, &src, g.rights)?,
            };
            self.granted.push((g.slot, c));
        }

        info.generation = b.generation;
        info.image_start = b.base;
        info.image_end = plan.image_end;
        info.heap_start = plan.heap;
        info.heap_size = plan.heap_size;
        info.cspace_bits = plan.cspace_bits as u64;
        info.free_start = plan.free_start;
        info.free_end = 1u64 << plan.cspace_bits;
        info.cnode_slot = l.cnode.unwrap_or(0);
        info.vspace_slot = l.vspace.unwrap_or(0);
        info.args = b.args;
        *self.info = info;

        // The main thread.
        self.make_thread(
            objs,
            ThreadPlace {
                index: 0,
                entry: plan.entry,
                arg: 0,
                priority: b.priority,
                stack: plan.stack,
                stack_size: plan.stack_size,
                ipc_buffer: plan.ipc_buffer,
                fault: b.fault,
            },
        )?;
        // The start-info page, readable only, and a spare capability of
        // its frame to update it.
        self.map_start_info(objs)?;
        if b.start {
            self.start()?;
        }
        Ok(())
    }

    /// Makes a frame in the budget, fills it with `content` (through a
    /// view of the root task; none for zeros: the kernel zeroes new
    /// frames), maps it at `vaddr` in the process and keeps its capability
    /// in the parked CNode.
    fn map_new_page(
        &mut self,
        objs: &mut Objects,
        vaddr: u64,
        rights: CapRights,
        exec: Exec,
        content: Option<&PageBytes>,
    ) -> Result<(), ProcessError> {
        let frame = self.new_frame(objs, content)?;
        if let Err(e) = self.map_in_process(objs, frame.cap(), vaddr, rights, exec) {
            let _ = objs.delete(frame);
            return Err(e);
        }
        if exec == Exec::Yes {
            if let Err(e) = unify_instructions(frame.cptr()) {
                let _ = objs.delete(frame);
                return Err(e);
            }
        }
        self.park(objs, frame)
    }

    fn new_frame(
        &mut self,
        objs: &mut Objects,
        content: Option<&PageBytes>,
    ) -> Result<Owned<sel4::Granule>, ProcessError> {
        let frame = objs.create_in::<sel4::Granule>(self.budget()?)?;
        let Some(bytes) = content else {
            return Ok(frame);
        };
        let mut v = match objs.map_view(frame, consts::PageBits as u8, vspace::RW, Cache::Default) {
            Ok(v) => v,
            Err(r) => {
                let _ = objs.delete(r.handle);
                return Err(r.error.into());
            }
        };
        let written = match v.bytes_mut() {
            Some(s) => {
                s.copy_from_slice(&bytes[..]);
                Ok(())
            }
            // Not exclusive (cannot happen for a fresh frame): the
            // volatile path.
            None => v.copy_in(0, &bytes[..]),
        };
        match objs.unmap_view(v) {
            Ok(f) => match written {
                Ok(()) => Ok(f),
                Err(_) => {
                    let _ = objs.delete(f);
                    Err(ProcessError::Resources(Error::Check(
                        "writing a page of the process failed",
                    )))
                }
            },
            Err(r) => Err(r.error.into()),
        }
    }

    fn park<T: CapType>(&mut self, objs: &mut Objects, cap: Owned<T>) -> Result<(), ProcessError> {
        let parked = Self::handle(&self.parked)?;
        match objs.move_into(parked, cap) {
            // The handle is not needed: the parked CNode goes with the
            // budget, and the capability with it.
            Ok(_child) => Ok(()),
            Err(r) => {
                let e = r.error;
                let _ = objs.delete(r.handle);
                Err(e.into())
            }
        }
    }

    /// Maps `frame` at `vaddr` of the process, making the paging
    /// structures that are missing (in the budget; kept in the parked
    /// CNode).
    fn map_in_process(
        &mut self,
        objs: &mut Objects,
        frame: Cap<sel4::Granule>,
        vaddr: u64,
        rights: CapRights,
        exec: Exec,
    ) -> Result<(), ProcessError> {
        self.map_in_process_with(objs, frame, vaddr, rights, Cache::Default, exec)
    }

    fn map_in_process_with(
        &mut self,
        objs: &mut Objects,
        frame: Cap<sel4::Granule>,
        vaddr: u64,
        rights: CapRights,
        cache: Cache,
        exec: Exec,
    ) -> Result<(), ProcessError> {
        let root = Self::handle(&self.vspace)?.cptr();
        let attr = match exec {
            Exec::Yes => cache.attr(),
            Exec::Never => cache.attr().execute_never(),
        };
        for _ in 0..4 {
            match frame.map(Cap::from_cptr(root), vaddr, rights.into(), attr) {
                Ok(()) => return Ok(()),
                Err(InvocationError::FailedLookup { lookup_failure, .. }) => {
                    self.ensure_table(objs, missing_level(lookup_failure), vaddr)?;
                }
                Err(e) => {
                    return Err(ProcessError::Setup {
                        step: "Page_Map",
                        error: e,
                    })
                }
            }
        }
        Err(ProcessError::Resources(Error::Check(
            "paging structures still missing after making them",
        )))
    }

    fn ensure_table(
        &mut self,
        objs: &mut Objects,
        level: TableLevel,
        vaddr: u64,
    ) -> Result<(), ProcessError> {
        let root = Self::handle(&self.vspace)?.cptr();
        for _ in 0..TABLE_LEVELS.len() {
            let budget = self.budget()?;
            let cap = objs.create_table_in(budget, level)?;
            let r = level.map(
                cap.cptr(),
                Cap::from_cptr(root),
                vaddr,
                sel4::VmAttributes::DEFAULT,
            );
            match r {
                Ok(()) => return self.park(objs, cap),
                Err(InvocationError::FailedLookup { .. }) if level != TABLE_LEVELS[0] => {
                    let _ = objs.delete(cap);
                    self.ensure_table(objs, level_above(level), vaddr)?;
                }
                Err(e) => {
                    let _ = objs.delete(cap);
                    return Err(ProcessError::Setup {
                        step: "mapping a paging structure",
                        error: e,
                    });
                }
            }
        }
        Err(ProcessError::Resources(Error::Check(
            "paging structure still unmappable",
        )))
    }

    /// Makes thread `place.index`: stack pages (the top ones holding its
    /// TLS block), IPC buffer, TCB, its slots; configured, not started.
    fn make_thread(
        &mut self,
        objs: &mut Objects,
        place: ThreadPlace<'_>,
    ) -> Result<(), ProcessError> {
        let index = place.index;
        if index >= contract::MAX_THREADS {
            return Err(ProcessError::TooManyThreads {
                max: contract::MAX_THREADS,
            });
        }
        let stack_top = place.stack + place.stack_size;
        // The TLS block at the top of the stack.
        let tls = self.tls.unwrap_or(TlsTemplate {
            vaddr: 0,
            filesz: 0,
            memsz: 0,
            align: 16,
        });
        let area_len = (tls.area_size_for(TlsVariant::NATIVE) + 15) & !15;
        if area_len + 256 > place.stack_size {
            return Err(ProcessError::Resources(Error::Check(
                "the stack is too small for the thread's TLS block: give a larger stack",
            )));
        }
        let area_start = stack_top - area_len;
        let layout = tls.layout_for(TlsVariant::NATIVE, area_start, area_len)?;
        let mut area = alloc::vec![0u8; area_len as usize];
        let init = &self.tls_init[..(tls.filesz as usize).min(self.tls_init.len())];
        layout.write(init, &mut area)?;
        let mut scratch: Box<PageBytes> = Box::new([0; PAGE as usize]);
        for i in 0..place.stack_size / PAGE {
            let page = place.stack + i * PAGE;
            let lo = page.max(area_start);
            let hi = (page + PAGE).min(stack_top);
            let content = if lo < hi {
                scratch.fill(0);
                scratch[(lo - page) as usize..(hi - page) as usize]
                    .copy_from_slice(&area[(lo - area_start) as usize..(hi - area_start) as usize]);
                Some(&*scratch)
            } else {
                None
            };
            self.map_new_page(objs, page, vspace::RW, Exec::Never, content)?;
        }
        // The stack pointer below the TLS area: 16-byte aligned, and on
        // x86_64 minus 8, as after a `call` (the ABI's entry state).
        let sp = if cfg!(target_arch = "x86_64") {
            (area_start & !15) - 8
        } else {
            area_start & !15
        };

        // The IPC buffer: mapped, kept in a root slot until the TCB knows it.
        let ipc = self.new_frame(objs, None)?;
        if let Err(e) =
            self.map_in_process(objs, ipc.cap(), place.ipc_buffer, vspace::RW, Exec::Never)
        {
            let _ = objs.delete(ipc);
            return Err(e);
        }
        let tcb = match objs.create_in::<TCB>(self.budget()?) {
            Ok(t) => t,
            Err(e) => {
                let _ = objs.delete(ipc);
                return Err(e.into());
            }
        };
        let (sc, reply) = match self.make_sched(objs, &place) {
            Ok(s) => s,
            Err(e) => {
                let _ = objs.delete(ipc);
                let _ = objs.delete(tcb);
                return Err(e);
            }
        };
        let configured = self.configure(objs, &tcb, sc.as_ref(), &ipc, &place, sp, layout.tp);
        let parked = self.park(objs, ipc);
        if let Err(e) = configured.and(parked) {
            let _ = objs.delete(tcb);
            if let Some(sc) = sc {
                let _ = objs.delete(sc);
            }
            return Err(e);
        }
        let l = self.layout;
        let info = ThreadInfo {
            stack_bottom: place.stack,
            stack_top,
            ipc_buffer: place.ipc_buffer,
            thread_pointer: layout.tp,
            tcb_slot: l.tcb.map_or(0, |o| l.thread_slot(index as u64, o)),
            fault_slot: l.thread_slot(index as u64, l.fault_endpoint),
            entry: place.entry,
            arg: place.arg,
        };
        self.info
            .set_thread(index, info)
            .map_err(ProcessError::StartInfo)?;
        self.threads.push(PThread {
            tcb,
            sc,
            reply,
            info,
            started: false,
        });
        Ok(())
    }

    /// MCS kernels: the thread's scheduling context (the process's budget
    /// and period, [`ProcessBuilder::scheduling`], made from its memory budget) and its reply object, moved
    /// into the reply slot of its block. `None` on other kernels.
    #[allow(unused_variables)]
    fn make_sched(
        &mut self,
        objs: &mut Objects,
        place: &ThreadPlace<'_>,
    ) -> Result<ThreadSched, ProcessError> {
        sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            let reply = objs.create_in::<cap_type::Reply>(self.budget()?)?;
            let node = Self::handle(&self.cspace)?;
            let slot = self.layout.thread_slot(place.index as u64, self.layout.reply);
            let reply = match objs.move_into_at(node, slot, reply) {
                Ok(c) => c,
                Err(r) => {
                    let _ = objs.delete(r.handle);
                    return Err(r.error.into());
                }
            };
            let budget = self.sched;
            let sc = objs.create_sched_context_in(self.budget()?, &budget)?;
            Ok((Some(sc), Some(reply)))
        } else {
            Ok((None, None))
        } }
    }

    /// The thread's slots, then the TCB: space, priorities (and on MCS
    /// kernels its scheduling context), IPC buffer, registers, TLS base.
    #[allow(clippy::too_many_arguments)]
    fn configure(
        &mut self,
        objs: &mut Objects,
        tcb: &Owned<TCB>,
        sc: Option<&Owned<ThreadSc>>,
        ipc: &Owned<sel4::Granule>,
        place: &ThreadPlace<'_>,
        sp: u64,
        tp: u64,
    ) -> Result<(), ProcessError> {
        let l = self.layout;
        let t = place.index as u64;
        let node = Self::handle(&self.cspace)?;
        if let Some(o) = l.tcb {
            let _ = objs.copy_into_at(node, l.thread_slot(t, o), tcb, ALL_RIGHTS)?;
        }
        let fault_slot = match place.fault {
            Some((ep, badge)) => {
                let s = l.thread_slot(t, l.fault_endpoint);
                let _ = objs.mint_into_at(node, s, ep, fault_rights(), badge)?;
                s
            }
            // No fault endpoint: a fault stops the thread (the kernel finds
            // no handler).
            None => 0,
        };
        let cspace = Self::handle(&self.cspace_root)?.cap();
        let vspace = Self::handle(&self.vspace)?.cptr();
        let authority = Cap::<TCB>::from_cptr(sel4_runtime::bootinfo::INIT_THREAD_TCB);
        // The start contract: the entry, the stack, and the C ABI's first
        // argument registers (x86_64 rdi, rsi, rdx, rcx; aarch64 x0-x3;
        // riscv64 a0-a3).
        let mut ctx = sel4_sys::UserContext::default();
        ctx.set_pc(place.entry);
        ctx.set_sp(sp);
        ctx.set_arg(0, self.start_info_vaddr);
        if place.index > 0 {
            ctx.set_arg(1, place.index as u64);
            ctx.set_arg(2, place.ipc_buffer);
            ctx.set_arg(3, place.arg);
        }
        sel4_sys::sel4_cfg_if! {
            kernel >= 11 && config KERNEL_MCS {
                // MCS kernels copy the fault endpoint into the TCB from
                // the invoker's CSpace: a badged copy in a root slot for
                // the call, deleted after it.
                let _ = fault_slot;
                let fault_root = match place.fault {
                    Some((ep, badge)) => Some(objs.mint(ep, badge)?),
                    None => None,
                };
                let fault_cap = fault_root.as_ref().map(|f| f.cap());
                let r = (|| {
                    use sel4::mcs::TcbMcsOps;
                    tcb.tcb_set_space(fault_cap.map_or(0, |c| c.cptr()), cspace, 0, vspace, 0)
                        .map_err(step("TCB_SetSpace"))?;
                    tcb.cap()
                        .set_sched_params_with(
                            authority,
                            self.mcp,
                            place.priority,
                            sc.map(|s| s.cap()),
                            fault_cap,
                        )
                        .map_err(step("TCB_SetSchedParams"))
                })();
                if let Some(f) = fault_root {
                    let _ = objs.delete(f);
                }
                r?;
                ctx.set_tls_base(tp);
            } else {
                let _ = (sc, &objs);
                sel4_sys::sel4_cfg_if! {
                    kernel >= 10 && label TCBSetTLSBase {
                        tcb.tcb_set_space(fault_slot, cspace, 0, vspace, 0)
                            .map_err(step("TCB_SetSpace"))?;
                        tcb.tcb_set_mc_priority(authority, Word::from(self.mcp))
                            .map_err(step("TCB_SetMCPriority"))?;
                        tcb.tcb_set_priority(authority, Word::from(place.priority))
                            .map_err(step("TCB_SetPriority"))?;
                        ctx.set_tls_base(tp);
                    } else {
                        let none = sel4_sys::CapData::default();
                        tcb.tcb_set_space(fault_slot, cspace, none, Cap::from_cptr(vspace), none)
                            .map_err(step("TCB_SetSpace"))?;
                        let _ = authority;
                        tcb.tcb_set_mc_priority(self.mcp).map_err(step("TCB_SetMCPriority"))?;
                        tcb.tcb_set_priority(place.priority).map_err(step("TCB_SetPriority"))?;
                        ctx.tls_base = tp;
                    }
                }
            }
        }
        tcb.tcb_set_ipc_buffer(place.ipc_buffer, ipc.cptr())
            .map_err(step("TCB_SetIPCBuffer"))?;
        tcb.tcb_write_registers(false, 0, sel4_sys::UserContext::WORDS as Word, &ctx)
            .map_err(step("TCB_WriteRegisters"))?;
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label TCBSetTLSBase {
                tcb.tcb_set_tls_base(tp).map_err(step("TCB_SetTLSBase"))?;
            }
        }
        Ok(())
    }

    /// Maps the start-info page (read-only) and keeps a spare capability
    /// of its frame to update it.
    fn map_start_info(&mut self, objs: &mut Objects) -> Result<(), ProcessError> {
        let mut page: Box<PageBytes> = Box::new([0; PAGE as usize]);
        self.info
            .encode(&mut page[..])
            .map_err(ProcessError::StartInfo)?;
        let frame = self.new_frame(objs, Some(&page))?;
        let spare = match objs.copy(&frame, ALL_RIGHTS) {
            Ok(s) => s,
            Err(e) => {
                let _ = objs.delete(frame);
                return Err(e.into());
            }
        };
        let mapped = self.map_in_process(
            objs,
            frame.cap(),
            self.start_info_vaddr,
            vspace::RO,
            Exec::Never,
        );
        let parked = self.park(objs, frame);
        if let Err(e) = mapped.and(parked) {
            let _ = objs.delete(spare);
            return Err(e);
        }
        let p = Self::handle(&self.parked)?;
        match objs.move_into(p, spare) {
            Ok(c) => {
                self.start_info_spare = Some(c);
                Ok(())
            }
            Err(r) => {
                let _ = objs.delete(r.handle);
                Err(r.error.into())
            }
        }
    }

    /// Writes the start-info page again (after a thread was added).
    fn update_start_info(&mut self, objs: &mut Objects) -> Result<(), ProcessError> {
        let spare = self.start_info_spare.take().ok_or(ProcessError::NotFound {
            what: "the process has no start-info page",
        })?;
        let frame = match objs.move_out(spare) {
            Ok(f) => f,
            Err(r) => {
                self.start_info_spare = Some(r.handle);
                return Err(r.error.into());
            }
        };
        let mut page: Box<PageBytes> = Box::new([0; PAGE as usize]);
        self.info
            .encode(&mut page[..])
            .map_err(ProcessError::StartInfo)?;
        // Two capabilities map this frame: a shared view (volatile writes).
        let mut v = match objs.map_view(frame, consts::PageBits as u8, vspace::RW, Cache::Default) {
            Ok(v) => v,
            Err(r) => {
                let e = r.error;
                let _ = self.park_spare(objs, r.handle);
                return Err(e.into());
            }
        };
        let w = v.copy_in(0, &page[..]);
        let frame = objs
            .unmap_view(v)
            .map_err(|r| ProcessError::Resources(r.error))?;
        self.park_spare(objs, frame)?;
        w.map_err(|_| ProcessError::Resources(Error::Check("writing the start-info page failed")))
    }

    fn park_spare(
        &mut self,
        objs: &mut Objects,
        frame: Owned<sel4::Granule>,
    ) -> Result<(), ProcessError> {
        let p = Self::handle(&self.parked)?;
        match objs.move_into(p, frame) {
            Ok(c) => {
                self.start_info_spare = Some(c);
                Ok(())
            }
            Err(r) => {
                let _ = objs.delete(r.handle);
                Err(r.error.into())
            }
        }
    }

    /// Starts every thread not started yet: the others first, the main
    /// thread last, so that a main thread of a higher priority than the
    /// caller (which runs at once) finds the other threads started.
    pub fn start(&mut self) -> Result<(), ProcessError> {
        let order = (1..self.threads.len()).chain(core::iter::once(0));
        for i in order {
            let Some(t) = self.threads.get_mut(i).filter(|t| !t.started) else {
                continue;
            };
            t.tcb.tcb_resume().map_err(step("TCB_Resume"))?;
            t.started = true;
        }
        Ok(())
    }

    /// Adds a thread (stack with a guard page, IPC buffer, TLS block, TCB,
    /// slots in the thread block `index` of the layout), made from the
    /// budget and started at once if the process runs already. Returns its
    /// index. The start-info page gets its entry before it starts. If it
    /// fails, what was made for the thread stays in the budget until the
    /// process is destroyed.
    pub fn add_thread(
        &mut self,
        objs: &mut Objects,
        spec: ThreadSpec<'_>,
    ) -> Result<usize, ProcessError> {
        let index = self.threads.len();
        let stack_size = page_up(spec.stack_size.max(PAGE)).unwrap_or(PAGE);
        let l = self.layout;
        let last = l.thread_slot(index as u64, l.thread_slots - 1);
        if last >> self.cspace_bits != 0 {
            return Err(ProcessError::Slot {
                slot: last,
                reason: "the thread's block is outside the CSpace: give the process a larger cspace_bits",
            });
        }
        let stack = spec
            .stack_at
            .unwrap_or_else(|| self.cursor.saturating_add(PAGE));
        let ipc_buffer = spec
            .ipc_buffer_at
            .unwrap_or_else(|| stack.saturating_add(stack_size));
        for (what, v) in [
            ("a thread's stack", stack),
            ("a thread's IPC buffer", ipc_buffer),
        ] {
            if !v.is_multiple_of(PAGE) {
                return Err(ProcessError::Misaligned { what, vaddr: v });
            }
        }
        let top = stack
            .saturating_add(stack_size)
            .max(ipc_buffer.saturating_add(PAGE));
        if top > USER_TOP || stack < PAGE {
            return Err(ProcessError::OutsideUserSpace {
                what: "a thread's stack",
                vaddr: stack,
            });
        }
        self.regions
            .add("a thread's stack", stack - PAGE, stack + stack_size)?;
        self.regions
            .add("a thread's IPC buffer", ipc_buffer, ipc_buffer + PAGE)?;
        if spec.stack_at.is_none() && spec.ipc_buffer_at.is_none() {
            self.cursor = ipc_buffer + 2 * PAGE;
        }
        self.make_thread(
            objs,
            ThreadPlace {
                index,
                entry: spec.entry,
                arg: spec.arg,
                priority: spec.priority,
                stack,
                stack_size,
                ipc_buffer,
                fault: spec.fault,
            },
        )?;
        self.update_start_info(objs)?;
        if self.threads.first().is_some_and(|t| t.started) {
            self.start()?;
        }
        Ok(index)
    }

    /// Makes an object from the process's budget (an endpoint it serves on,
    /// a notification it waits on): the handle is the caller's, to grant
    /// to the process and to others; the object goes with the process
    /// ([`Process::destroy`] deletes it and every copy, wherever they are).
    /// Delete the handle before or after the destroy to give its slot back.
    pub fn create<T: FixedSize>(&self, objs: &mut Objects) -> Result<Owned<T>, ProcessError> {
        Ok(objs.create_in::<T>(self.budget()?)?)
    }

    /// Copies `cap` with `rights` into slot `slot` of its CSpace (which
    /// must be empty).
    pub fn grant<T: CapType>(
        &mut self,
        objs: &mut Objects,
        slot: u64,
        cap: &Owned<T>,
        rights: CapRights,
    ) -> Result<(), ProcessError> {
        self.check_slot(slot)?;
        let node = Self::handle(&self.cspace)?;
        let c = objs.copy_into_at(node, slot, cap, rights)?;
        self.granted
            .push((slot, ChildCap::new(c.index(), c.owner())));
        Ok(())
    }

    /// MCS kernels: answers the caller whose call thread `t` (suspended)
    /// received, if any, with `info` and the message words `mrs`, through
    /// the thread's reply object, which is then deleted (the thread
    /// receives nothing more). Whether the thread had a reply object to
    /// answer through; always `false` on other kernels, where the caller's
    /// reply capability lives in the TCB (the supervisor's reply stub).
    pub fn answer_caller(
        &mut self,
        objs: &mut Objects,
        t: usize,
        info: MessageInfo,
        mrs: [Word; sel4_sys::REGISTER_MRS],
    ) -> bool {
        sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            let Some(child) = self.threads.get_mut(t).and_then(|x| x.reply.take()) else {
                return false;
            };
            match objs.move_out(child) {
                Ok(reply) => {
                    // A send on a reply object answers the caller waiting
                    // on it (nothing happens when none is).
                    sel4_sys::send_regs(reply.cptr(), info, mrs);
                    let _ = objs.delete(reply);
                    true
                }
                Err(r) => {
                    if let Some(x) = self.threads.get_mut(t) {
                        x.reply = Some(r.handle);
                    }
                    false
                }
            }
        } else {
            let _ = (objs, t, info, mrs);
            false
        } }
    }

    /// Takes back what a grant put into slot `slot` of its CSpace (the
    /// capability is deleted, the slot free for another grant); whether
    /// there was one.
    pub fn ungrant(&mut self, objs: &mut Objects, slot: u64) -> Result<bool, ProcessError> {
        let Some(i) = self.granted.iter().position(|(s, _)| *s == slot) else {
            return Ok(false);
        };
        let (_, c) = self.granted.swap_remove(i);
        match objs.delete_child(c) {
            Ok(()) => Ok(true),
            Err(r) => {
                self.granted.push((slot, r.handle));
                Err(ProcessError::Resources(r.error))
            }
        }
    }

    /// A badged copy of `cap` in slot `slot` of its CSpace.
    pub fn grant_badged<T: CapType>(
        &mut self,
        objs: &mut Objects,
        slot: u64,
        cap: &Owned<T>,
        rights: CapRights,
        badge: Word,
    ) -> Result<(), ProcessError> {
        self.check_slot(slot)?;
        let node = Self::handle(&self.cspace)?;
        let c = objs.mint_into_at(node, slot, cap, rights, badge)?;
        self.granted
            .push((slot, ChildCap::new(c.index(), c.owner())));
        Ok(())
    }

    fn check_slot(&self, slot: u64) -> Result<(), ProcessError> {
        if slot == 0 || slot >> self.cspace_bits != 0 {
            return Err(ProcessError::Slot {
                slot,
                reason: "outside the process's CSpace (or the null slot 0)",
            });
        }
        Ok(())
    }

    /// The process's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What its start-info page says.
    pub fn start_info(&self) -> &StartInfo {
        &self.info
    }

    /// Where the start-info page is mapped.
    pub fn start_info_vaddr(&self) -> u64 {
        self.start_info_vaddr
    }

    /// The entry point (relocated).
    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// Load address minus link address of the image.
    pub fn load_bias(&self) -> u64 {
        self.load_bias
    }

    /// The run-time address of symbol `name` of `elf` (the image this
    /// process was made from), if its symbol table has it.
    pub fn address_of(&self, elf: &[u8], name: &str) -> Result<Option<u64>, ProcessError> {
        let e = Elf::parse(elf)?;
        Ok(e.symbol(name)?.map(|v| v.wrapping_add(self.load_bias)))
    }

    /// Thread `i`'s TCB.
    pub fn tcb(&self, i: usize) -> Option<Cap<TCB>> {
        self.threads.get(i).map(|t| t.tcb.cap())
    }

    /// Thread `i`'s TCB handle (to copy it somewhere, say into another
    /// process as sel4test's fault handlers get the faulter's TCB).
    pub fn tcb_handle(&self, i: usize) -> Option<&Owned<TCB>> {
        self.threads.get(i).map(|t| &t.tcb)
    }

    /// Thread `i` as the start-info page describes it.
    pub fn thread(&self, i: usize) -> Option<&ThreadInfo> {
        self.threads.get(i).map(|t| &t.info)
    }

    /// Number of threads.
    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    /// log2 of the slots of its CSpace.
    pub fn cspace_bits(&self) -> u8 {
        self.cspace_bits
    }

    /// Bytes of its budget.
    pub fn budget_bytes(&self) -> u64 {
        1u64 << self.budget_bits
    }

    /// Stops every thread, revokes the budget (which deletes everything
    /// the process held: frames, paging structures, CNodes with what the
    /// process was given, TCBs, its VSpace and with it its ASID) and gives
    /// the budget ([`Objects::recycle_untyped`]: kept whole for the next
    /// process) and the root task's slots back. On failure the process
    /// comes back (whatever was already given back stays so).
    #[allow(clippy::result_large_err)]
    pub fn destroy(mut self, objs: &mut Objects) -> Result<(), Refused<Process>> {
        for t in &self.threads {
            let _ = t.tcb.tcb_suspend();
        }
        if let Some(b) = &self.budget {
            if let Err(error) = objs.reclaim(b) {
                return Err(Refused {
                    error,
                    handle: self,
                });
            }
        }
        // Every capability below named something made from the budget:
        // their slots are empty now.
        let mut first = Ok(());
        let mut note = |r: Result<(), Error>| {
            if first.is_ok() {
                first = r;
            }
        };
        for t in self.threads.drain(..) {
            note(objs.delete(t.tcb).map_err(Error::from));
            if let Some(sc) = t.sc {
                note(objs.delete(sc).map_err(Error::from));
            }
        }
        if let Some(c) = self.start_info_spare.take() {
            drop(c);
        }
        // Their slots went with the CNode.
        self.granted.clear();
        for h in [
            self.cspace_root.take(),
            self.cspace.take(),
            self.parked.take(),
        ]
        .into_iter()
        .flatten()
        {
            note(objs.delete(h).map_err(Error::from));
        }
        if let Some(v) = self.vspace.take() {
            note(objs.delete(v).map_err(Error::from));
        }
        // Kept whole for the next process of its size (deleting it would
        // leave a hole the kernel does not reuse while its neighbours live).
        if let Some(b) = self.budget.take() {
            if let Err(r) = objs.recycle_untyped(b) {
                self.budget = Some(r.handle);
                note(Err(r.error));
            }
        }
        match first {
            Ok(()) => Ok(()),
            Err(error) => Err(Refused {
                error,
                handle: self,
            }),
        }
    }
}

/// Where a thread goes.
struct ThreadPlace<'a> {
    index: usize,
    entry: u64,
    arg: Word,
    priority: u8,
    stack: u64,
    stack_size: u64,
    ipc_buffer: u64,
    fault: Option<(&'a Owned<Endpoint>, Word)>,
}

/// What arrived on an endpoint that processes report and fault to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEvent {
    /// A process exited (`sel4_component_env::start::EXIT_LABEL`).
    Exited {
        /// The badge of the capability it reported with (which process).
        badge: Word,
        /// The exit code it passed.
        code: Word,
    },
    /// A process panicked, with its message.
    Panicked {
        /// The badge of the capability it reported with (which process).
        badge: Word,
        /// The panic message (as far as it fit the message registers).
        message: String,
    },
    /// The kernel reported a fault of a thread.
    Faulted {
        /// The badge of the thread's fault endpoint capability.
        badge: Word,
        /// The decoded fault message.
        fault: Fault,
    },
    /// Something else.
    Other {
        /// The badge of the sender's capability.
        badge: Word,
        /// The message label it sent.
        label: Word,
    },
}

/// Receives one event on `ep` (blocking).
pub fn receive_event(ep: Cap<Endpoint>) -> ProcessEvent {
    decode_event(sel4_sys::recv_regs(ep.cptr()))
}

/// Takes one event from `ep` if a sender waits.
pub fn poll_event(ep: Cap<Endpoint>) -> Option<ProcessEvent> {
    let r = sel4_sys::nb_recv_regs(ep.cptr());
    if r.info.get_label() == 0 && r.badge == 0 && r.info.get_length() == 0 {
        return None;
    }
    Some(decode_event(r))
}

/// Decodes a message received on an endpoint that processes report and
/// fault to.
pub fn decode_event(r: sel4_sys::Received) -> ProcessEvent {
    let label = r.info.get_label();
    let len = (r.info.get_length() as usize).min(contract::REPORT_WORDS);
    let mut words = [0 as Word; contract::REPORT_WORDS];
    let in_regs = len.min(REGISTER_MRS);
    words[..in_regs].copy_from_slice(&r.mrs[..in_regs]);
    if len > REGISTER_MRS {
        sel4_sys::ipc_buffer().read_msgs(REGISTER_MRS, &mut words[REGISTER_MRS..len]);
    }
    let badge = r.badge;
    match label {
        contract::EXIT_LABEL => ProcessEvent::Exited {
            badge,
            code: words[0],
        },
        contract::PANIC_LABEL => {
            let mut buf = alloc::vec![0u8; contract::PANIC_MESSAGE_MAX];
            let message = String::from(contract::decode_panic(&words[..len], &mut buf));
            ProcessEvent::Panicked { badge, message }
        }
        _ => match Fault::decode(label, &words[..len.min(32)]) {
            Fault::Unknown { label } => ProcessEvent::Other { badge, label },
            Fault::NullFault => ProcessEvent::Other { badge, label: 0 },
            fault => ProcessEvent::Faulted { badge, fault },
        },
    }
}
