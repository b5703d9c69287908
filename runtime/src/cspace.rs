//! The program's own CSpace root as its runtime reaches it: the initial
//! CNode of a root task, the CNode in its layout's slot for a process (the
//! copy with the guard that makes a slot index a full-word capability
//! pointer). Typed IPC deletes capabilities that landed in receive slots
//! through it.

use core::sync::atomic::{AtomicU64, Ordering};

use sel4_sys::{cap_type, CPtr, Cap};

static ROOT: AtomicU64 = AtomicU64::new(crate::bootinfo::INIT_THREAD_CNODE);

/// Records the CSpace root (process start).
pub(crate) fn set_root(cnode: CPtr) {
    ROOT.store(cnode, Ordering::Relaxed);
}

/// The capability to this program's CSpace root CNode.
pub fn root() -> Cap<cap_type::CNode> {
    Cap::from_cptr(ROOT.load(Ordering::Relaxed))
}

/// The depth at which a slot index of [`root`] resolves: the word's width
/// (the root task's CNode has no guard beyond its own bits; a process's
/// has the guard that makes it so).
pub fn depth() -> u8 {
    sel4_sys::config::WORD_SIZE as u8
}
