//! The typed view of seL4_BootInfo, for the kernel this image was built for.

use core::ops::Deref;
use sel4_bootinfo::{Layout, SlotRegion};
use sel4_sys::init_caps;

pub use sel4_bootinfo::{ExtraChunk, ExtraChunkId, UntypedDesc};

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
    const_str_eq(SEL4_ARCH, sel4_sys::KERNEL_SEL4_ARCH),
    "the kernel stage (SEL4_KERNEL) is for another architecture than the Rust target"
);

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Bootinfo layout of the configured kernel.
pub const LAYOUT: Layout = match Layout::for_arch(ARCH, sel4_sys::KERNEL_VERSION_MAJOR, false) {
    Some(l) => l.with_max_untypeds(sel4_sys::config::MAX_NUM_BOOTINFO_UNTYPED_CAPS),
    None => panic!("no bootinfo layout for this kernel version"),
};

/// Slots at the start of the empty region that the runtime keeps for itself
/// (the I/O port capability on kernels that issue it from a control cap).
pub const RUNTIME_RESERVED_SLOTS: usize = 1;

/// The root task's bootinfo. Dereferences to the parsed view
/// ([`sel4_bootinfo::BootInfo`]); [`BootInfo::empty`] leaves out the slots
/// the runtime uses.
pub struct BootInfo {
    view: sel4_bootinfo::BootInfo<'static>,
}

impl BootInfo {
    /// Parses the bootinfo the kernel mapped at `addr`.
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
        Ok(BootInfo {
            view: sel4_bootinfo::BootInfo::parse(all, LAYOUT)?,
        })
    }

    /// Empty slots of the root CNode that the application may use.
    pub fn empty(&self) -> SlotRegion {
        let e = self.view.empty();
        let start = core::cmp::min(e.start + RUNTIME_RESERVED_SLOTS, e.end);
        SlotRegion { start, end: e.end }
    }

    /// The parsed view of the whole bootinfo, the runtime's slots included.
    pub fn raw(&self) -> &sel4_bootinfo::BootInfo<'static> {
        &self.view
    }
}

impl Deref for BootInfo {
    type Target = sel4_bootinfo::BootInfo<'static>;
    fn deref(&self) -> &Self::Target {
        &self.view
    }
}

/// A short description of the kernel configuration, for the boot line.
pub fn config_summary() -> &'static str {
    let mcs = sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS { true } else { false } };
    match (sel4_sys::config::DEBUG_BUILD, mcs) {
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
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: per the contract.
    return unsafe { crate::arch::set_thread_pointer(tp) };
    #[cfg(target_arch = "x86_64")]
    sel4_sys::sel4_cfg_if! {
        config FSGSBASE_INST {
            // SAFETY: the kernel enables user-mode wrfsbase in this
            // configuration; `tp` is valid per the contract.
            unsafe { sel4_sys::arch::write_fs_base(tp) };
            Ok(())
        } else {
            // The invocation travels in registers only: the IPC buffer's
            // address lives in TLS, which is not usable yet.
            sel4_sys::Cap::<sel4_sys::cap_type::TCB>::from_cptr(INIT_THREAD_TCB)
                .tcb_set_tls_base(tp as sel4_sys::Word)
        }
    }
}

/// Sets up the capabilities the runtime itself uses (the I/O port for
/// ending QEMU on x86_64; nothing elsewhere).
pub(crate) fn init_runtime_caps(bi: &BootInfo) {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bi;
    #[cfg(target_arch = "x86_64")]
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 && label X86IOPortControlIssue {
            // seL4 10+: issue an IOPort cap for the debug-exit port from the
            // I/O port control cap into the runtime's reserved slot.
            use sel4_sys::{cap_type, Cap};
            if bi.raw().empty().is_empty() {
                return;
            }
            let slot = bi.raw().empty().start as u64;
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
