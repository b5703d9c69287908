//! The typed view of seL4_BootInfo, for the kernel this image was built for.

use sel4_bootinfo::Layout;
use sel4_sys::init_caps;

pub use sel4_bootinfo::{ExtraChunk, ExtraChunkId, SlotRegion, UntypedDesc};

/// The initial thread's TCB capability (seL4_CapInitThreadTCB).
pub const INIT_THREAD_TCB: sel4_sys::CPtr = init_caps::CapInitThreadTCB as sel4_sys::CPtr;
/// The initial thread's root CNode capability (seL4_CapInitThreadCNode).
pub const INIT_THREAD_CNODE: sel4_sys::CPtr = init_caps::CapInitThreadCNode as sel4_sys::CPtr;

/// The seL4 architecture the image runs on.
#[cfg(target_arch = "x86_64")]
const ARCH: sel4_bootinfo::Sel4Arch = sel4_bootinfo::Sel4Arch::X86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: sel4_bootinfo::Sel4Arch = sel4_bootinfo::Sel4Arch::Aarch64;
#[cfg(target_arch = "riscv64")]
const ARCH: sel4_bootinfo::Sel4Arch = sel4_bootinfo::Sel4Arch::Riscv64;

/// The seL4 architecture the image runs on.
pub const SEL4_ARCH: &str = ARCH.name();

// The kernel this image was built against must be of the same architecture.
const _: () = assert!(
    sel4_sys::const_str_eq(SEL4_ARCH, sel4_sys::KERNEL_SEL4_ARCH),
    "the kernel stage (SEL4_KERNEL) is for another architecture than the Rust target"
);

/// Whether the configured kernel is an MCS kernel (`KernelIsMCS`).
pub const MCS: bool =
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS { true } else { false } };

/// Bootinfo layout of the configured kernel.
pub const LAYOUT: Layout = match Layout::for_arch(ARCH, sel4_sys::KERNEL_VERSION_MAJOR, MCS) {
    Some(l) => l.with_max_untypeds(sel4_sys::config::MAX_NUM_BOOTINFO_UNTYPED_CAPS),
    None => panic!("no bootinfo layout for this kernel version"),
};

/// Slots at the start of bootinfo's empty region that the runtime keeps
/// for itself ([`RuntimeSlot`]).
pub const RUNTIME_RESERVED_SLOTS: usize = 10;

/// The runtime's slots, by offset from the start of bootinfo's empty
/// region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum RuntimeSlot {
    /// The I/O port capability for the debug-exit port (seL4 10+).
    IoPort = 0,
    /// The RAM untyped the runtime keeps for its own objects.
    Untyped = 1,
    /// The runtime's CNode (heap frames, the growth window's paging
    /// structures, untyped memory given to the heap).
    CNode = 2,
    /// Notification of the heap lock.
    HeapLock = 3,
    /// Notification of the console lock.
    ConsoleLock = 4,
    /// Notification of the thread registry's lock.
    RegistryLock = 5,
    /// Slots where the runtime's objects pass on their way into its CNode.
    Scratch0 = 6,
    /// The second scratch slot (see `Scratch0`).
    Scratch1 = 7,
    /// The I/O port capability of the console's UART, COM1 (seL4 10+, when
    /// the console uses the UART: `console::backend`).
    ConsolePorts = 8,
    /// The initial thread's reply object (MCS kernels; empty on the others).
    InitialReply = 9,
}

/// Smallest untyped (log2 bytes) the runtime takes for its own objects:
/// its CNode (2^[`crate::heap::RUNTIME_CNODE_BITS`] slots), three
/// notifications, the initial thread's reply object (MCS), and the paging
/// structures of the heap's growth window.
pub const RUNTIME_UNTYPED_BITS: u8 = 17;

/// The root task's bootinfo: the one bootinfo type
/// ([`sel4_bootinfo::BootInfo`]), with the runtime's own resources left out
/// by the start code before `main` sees it, consistently:
/// - [`BootInfo::empty`] leaves out the [`RUNTIME_RESERVED_SLOTS`] slots at
///   the start of the kernel's empty region ([`runtime_slot`] names them);
/// - the runtime takes one RAM untyped of at least 2^[`RUNTIME_UNTYPED_BITS`]
///   bytes (the smallest) for its kernel objects (the notifications of its
///   locks, its CNode): it moves that capability to its slot
///   [`RuntimeSlot::Untyped`] and the capability of bootinfo's *last*
///   untyped into the freed slot, so [`BootInfo::untyped`],
///   [`BootInfo::untypeds`] and the other untyped methods describe one
///   untyped less, each descriptor matching the capability in its slot,
///   and none of it is memory the runtime uses
///   ([`BootInfo::taken_untyped`] says which).
///
/// The `kernel_*` accessors ([`BootInfo::kernel_empty`],
/// [`BootInfo::kernel_untypeds`], ...) give the regions as the kernel wrote
/// them at boot.
pub type BootInfo = sel4_bootinfo::BootInfo<'static>;

/// Parses the bootinfo the kernel mapped at `addr` and leaves the
/// runtime's slots out of its empty region.
///
/// # Safety
/// `addr` must be the bootinfo address the kernel passed to the root
/// task: a mapped frame followed by `extraLen` bytes of mapped extra
/// bootinfo, which nothing writes while the program runs.
pub(crate) unsafe fn from_kernel(addr: usize) -> Result<BootInfo, sel4_bootinfo::Error> {
    let frame = LAYOUT.offsets().frame_size;
    // SAFETY: the first frame is mapped (contract).
    let head = unsafe { core::slice::from_raw_parts(addr as *const u8, frame) };
    let len = sel4_bootinfo::BootInfo::total_len(head, LAYOUT)?;
    // SAFETY: the kernel maps extraLen bytes after the frame (contract).
    let all = unsafe { core::slice::from_raw_parts(addr as *const u8, len) };
    let mut bi = sel4_bootinfo::BootInfo::parse(all, LAYOUT)?;
    bi.reserve_empty_slots(RUNTIME_RESERVED_SLOTS);
    Ok(bi)
}

/// The slot of one of the runtime's resources (in the slots
/// [`BootInfo::reserved_empty_slots`] the application does not see).
pub fn runtime_slot(bi: &BootInfo, s: RuntimeSlot) -> sel4_sys::CPtr {
    (bi.kernel_empty().start + s as usize) as sel4_sys::CPtr
}

/// The scheduling control capability of this core (bootinfo's
/// `schedcontrol`; MCS kernels), 0 until the runtime's start.
static SCHED_CONTROL: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The scheduling control capability of the core the root task runs on
/// (MCS kernels): what configures budgets and periods of scheduling
/// contexts. `None` on other kernels.
pub fn sched_control() -> Option<sel4_sys::CPtr> {
    Some(SCHED_CONTROL.load(core::sync::atomic::Ordering::SeqCst)).filter(|&c| c != 0)
}

/// A short description of the kernel configuration, for the boot line.
pub fn config_summary() -> &'static str {
    match (sel4_sys::config::DEBUG_BUILD, MCS) {
        (true, false) => "debug",
        (true, true) => "debug,mcs",
        (false, false) => "release",
        (false, true) => "release,mcs",
    }
}

/// Loads the thread pointer, the way the configured kernel allows.
///
/// # Safety
/// `tp` must point at a TLS block and TCB laid out for this image.
pub(crate) unsafe fn set_thread_pointer(tp: usize) -> Result<(), sel4_sys::InvocationError> {
    // SAFETY: per the contract.
    unsafe { crate::arch::set_thread_pointer(tp) }
}

/// Sets up the console's UART when the console is to use it
/// (`console::wants_uart`): its I/O port capability (seL4 10+: issued for
/// COM1 into [`RuntimeSlot::ConsolePorts`]; 5.x: the capability for every
/// port), then the UART. Returns what failed (the console then stays on
/// the kernel's debug console, if any).
pub(crate) fn init_console(bi: &BootInfo) -> Result<(), &'static str> {
    if !crate::console::wants_uart() {
        return Ok(());
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = bi;
        Ok(())
    }
    #[cfg(target_arch = "x86_64")]
    {
        use sel4_sys::{cap_type, Cap};
        let (first, last) = crate::console::CONSOLE_PORTS;
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label X86IOPortControlIssue {
                if bi.reserved_empty_slots().len() < RUNTIME_RESERVED_SLOTS {
                    return Err("no slot for the console's I/O ports");
                }
                let slot = runtime_slot(bi, RuntimeSlot::ConsolePorts);
                let control = Cap::<cap_type::X86IOPortControl>::from_cptr(init_caps::CapIOPortControl as u64);
                control
                    .x86_io_port_control_issue(
                        u64::from(first),
                        u64::from(last),
                        Cap::from_cptr(INIT_THREAD_CNODE),
                        slot,
                        sel4_sys::config::WORD_SIZE as u8,
                    )
                    .map_err(|_| "issuing COM1's I/O ports")?;
                let cap = Cap::<cap_type::X86IOPort>::from_cptr(slot);
            } else {
                let _ = (bi, first, last);
                let cap = Cap::<cap_type::X86IOPort>::from_cptr(init_caps::CapIOPort as u64);
            }
        }
        crate::console::init_uart(cap)
    }
}

/// Sets up the capabilities the runtime itself uses (the I/O port for
/// ending QEMU on x86_64 with the `test-protocol` feature; nothing
/// elsewhere).
pub(crate) fn init_runtime_caps(bi: &BootInfo) {
    #[cfg(not(all(target_arch = "x86_64", feature = "test-protocol")))]
    let _ = bi;
    #[cfg(all(target_arch = "x86_64", feature = "test-protocol"))]
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 && label X86IOPortControlIssue {
            // seL4 10+: issue an IOPort cap for the debug-exit port from the
            // I/O port control cap into the runtime's reserved slot.
            use sel4_sys::{cap_type, Cap};
            if bi.reserved_empty_slots().is_empty() {
                return;
            }
            let slot = runtime_slot(bi, RuntimeSlot::IoPort);
            let port = u64::from(crate::exit::DEBUG_EXIT_PORT);
            let control = Cap::<cap_type::X86IOPortControl>::from_cptr(init_caps::CapIOPortControl as u64);
            let issued = control.x86_io_port_control_issue(
                port,
                port,
                Cap::from_cptr(INIT_THREAD_CNODE),
                slot,
                sel4_sys::config::WORD_SIZE as u8,
            );
            if issued.is_ok() {
                crate::exit::set_ioport_cap(slot);
            }
        } else {
            // seL4 5.x: the root task holds an I/O port cap for all ports.
            let _ = bi;
            crate::exit::set_ioport_cap(init_caps::CapIOPort as u64);
        }
    }
}

/// Takes the runtime's untyped and makes the runtime's kernel objects
/// (before `main`, on the only thread): the notifications of the heap,
/// console and registry locks, and the CNode for heap frames. Returns
/// what failed.
pub(crate) fn init_runtime_objects(bi: &mut BootInfo) -> Result<(), &'static str> {
    use sel4_sys::{cap_type, Cap, ObjectType, Word};
    if bi.reserved_empty_slots().len() < RUNTIME_RESERVED_SLOTS {
        return Err("bootinfo's empty region is smaller than the runtime's slots");
    }
    // The smallest RAM untyped that holds the runtime's objects (the first
    // of several as small). A plain loop: `min_by_key` over the adapters
    // carried whole descriptors through the comparison (0.8 KiB more).
    let mut chosen: Option<(usize, u8)> = None;
    for (i, d) in bi.kernel_untypeds().enumerate() {
        let fits = !d.is_device && d.size_bits >= RUNTIME_UNTYPED_BITS;
        let smaller = match chosen {
            Some((_, bits)) => d.size_bits < bits,
            None => true,
        };
        if fits && smaller {
            chosen = Some((i, d.size_bits));
        }
    }
    let (index, _) =
        chosen.ok_or("no RAM untyped of at least 2^17 bytes for the runtime's objects")?;
    let first = bi.kernel_untyped().start as Word;
    let last = bi.kernel_untyped().len() - 1;
    let root: Cap<cap_type::CNode> = Cap::from_cptr(INIT_THREAD_CNODE);
    let depth = sel4_sys::config::WORD_SIZE as u8;
    let own = runtime_slot(bi, RuntimeSlot::Untyped);
    root.cnode_move(own, depth, root, first + index as Word, depth)
        .map_err(|_| "moving the runtime's untyped to its slot")?;
    if index != last {
        root.cnode_move(
            first + index as Word,
            depth,
            root,
            first + last as Word,
            depth,
        )
        .map_err(|_| "moving the last untyped into the freed slot")?;
    }
    bi.take_untyped(index)
        .ok_or("the runtime's untyped was taken already")?;
    let ut: Cap<cap_type::Untyped> = Cap::from_cptr(own);
    // One call site for the retypes (out of line: five inlined copies of
    // the invocation cost 0.4 KiB in every root task).
    #[inline(never)]
    fn retype(
        ut: Cap<cap_type::Untyped>,
        ty: ObjectType,
        bits: usize,
        dest: Word,
    ) -> Result<(), sel4_sys::InvocationError> {
        let root: Cap<cap_type::CNode> = Cap::from_cptr(INIT_THREAD_CNODE);
        ut.untyped_retype(ty as Word, bits as Word, root, 0, 0, dest, 1)
    }
    let make = |ty: ObjectType, bits: usize, slot: RuntimeSlot| {
        retype(ut, ty, bits, runtime_slot(bi, slot))
    };
    make(
        ObjectType::CapTableObject,
        crate::heap::RUNTIME_CNODE_BITS as usize,
        RuntimeSlot::CNode,
    )
    .map_err(|_| "creating the runtime's CNode")?;
    for slot in [
        RuntimeSlot::HeapLock,
        RuntimeSlot::ConsoleLock,
        RuntimeSlot::RegistryLock,
    ] {
        make(ObjectType::NotificationObject, 0, slot)
            .map_err(|_| "creating the notifications of the runtime's locks")?;
    }
    // MCS: the initial thread's reply object (its receives on endpoints
    // name it) and the scheduling control capability of this core.
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        make(ObjectType::ReplyObject, 0, RuntimeSlot::InitialReply)
            .map_err(|_| "creating the initial thread's reply object")?;
        let reply = runtime_slot(bi, RuntimeSlot::InitialReply);
        sel4_sys::mcs::set_thread_reply(reply);
        #[cfg(target_arch = "x86_64")]
        crate::thread::set_initial_reply(reply);
        if let Some(sc) = bi.schedcontrol().and_then(|r| r.get(bi.node_id())) {
            SCHED_CONTROL.store(sc as sel4_sys::CPtr, core::sync::atomic::Ordering::SeqCst);
        }
    } }
    // seL4 5.x on x86_64: the initial thread's TLS base, before a second
    // thread can exist (`crate::arch::initial_tls::fix_at_start`).
    #[cfg(target_arch = "x86_64")]
    crate::arch::initial_tls::fix_at_start(
        own,
        runtime_slot(bi, RuntimeSlot::Scratch0),
        crate::thread::initial_thread_pointer() as Word,
    )
    .map_err(|_| "giving the kernel the initial thread's TLS base (TCB_CopyRegisters)")?;
    let n = |s| Cap::<cap_type::Notification>::from_cptr(runtime_slot(bi, s));
    crate::heap::bind(n(RuntimeSlot::HeapLock));
    crate::console::bind(n(RuntimeSlot::ConsoleLock));
    crate::thread::bind_registry(n(RuntimeSlot::RegistryLock));
    crate::heap::set_growth(
        runtime_slot(bi, RuntimeSlot::CNode),
        own,
        [
            runtime_slot(bi, RuntimeSlot::Scratch0),
            runtime_slot(bi, RuntimeSlot::Scratch1),
        ],
    );
    Ok(())
}
