//! Raw kernel invocations for tests: a label, extra caps and argument
//! words in, the kernel's error code and reply words out. Tests check
//! kernel behaviour at this level (error codes, detail words) the way
//! seL4test does with libsel4, independent of the framework's typed API.

use sel4_sys::{CPtr, Error, InvocationLabel, MessageInfo, REGISTER_MRS};

/// An error returned by the kernel for an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelError {
    /// The error code (the reply's label); `None` when it is not a code
    /// this kernel's errors.h knows.
    pub error: Option<Error>,
    /// The raw label.
    pub code: u64,
    /// The first reply words (the error's detail).
    pub detail: [u64; 3],
}

impl core::fmt::Display for KernelError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.error {
            Some(e) => write!(f, "{e:?} (detail {:x?})", self.detail),
            None => write!(f, "unknown error {} (detail {:x?})", self.code, self.detail),
        }
    }
}

/// Result of a raw invocation: the reply words, or the kernel's error.
pub type KResult = Result<Reply, KernelError>;

/// The reply of a successful invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub info: MessageInfo,
    /// The first four message words of the reply.
    pub mrs: [u64; REGISTER_MRS],
}

/// Performs the invocation `label` on `cap` with `caps` as extra
/// capabilities and `args` as message words (those beyond the registers
/// go through the IPC buffer; the reply's words are read back from it).
pub fn invoke(cap: CPtr, label: InvocationLabel, caps: &[CPtr], args: &[u64]) -> KResult {
    invoke_label(cap, label as u64, caps, args)
}

/// [`invoke`] with a numeric label (to test labels the kernel rejects).
pub fn invoke_label(cap: CPtr, label: u64, caps: &[CPtr], args: &[u64]) -> KResult {
    if !caps.is_empty() {
        sel4_sys::ipc_buffer().set_caps(caps);
    }
    let info = MessageInfo::new(label, 0, caps.len() as u64, args.len() as u64);
    let (reply, mrs) = if args.len() <= REGISTER_MRS {
        let mut mrs = [0u64; REGISTER_MRS];
        mrs[..args.len()].copy_from_slice(args);
        let r = sel4_sys::call_regs(cap, info, mrs);
        (r.info, r.mrs)
    } else {
        sel4_sys::ipc_buffer().write_msgs(0, args);
        let reply = sel4_sys::call(cap, info);
        let mut mrs = [0u64; REGISTER_MRS];
        let n = core::cmp::min(reply.get_length() as usize, REGISTER_MRS);
        sel4_sys::ipc_buffer().read_msgs(0, &mut mrs[..n]);
        (reply, mrs)
    };
    match reply.get_label() {
        0 => Ok(Reply { info: reply, mrs }),
        code => Err(KernelError {
            error: Error::try_from(code as usize).ok(),
            code,
            detail: [mrs[0], mrs[1], mrs[2]],
        }),
    }
}

/// The error code of a result, `Error::NoError` for success: handy in
/// `ensure_eq!(code(r), Error::RangeError)`.
pub fn code<T>(r: &Result<T, KernelError>) -> Option<Error> {
    match r {
        Ok(_) => Some(Error::NoError),
        Err(e) => e.error,
    }
}

/// Guard depth for addressing a slot of the root CNode directly.
pub const DEPTH: u64 = sel4_sys::config::WORD_SIZE as u64;

/// The root task's root CNode.
pub const ROOT_CNODE: CPtr = sel4_sys::init_caps::CapInitThreadCNode as CPtr;
/// The root task's TCB.
pub const ROOT_TCB: CPtr = sel4_sys::init_caps::CapInitThreadTCB as CPtr;
/// The root task's VSpace (PML4 on x86_64).
pub const ROOT_VSPACE: CPtr = sel4_sys::init_caps::CapInitThreadVSpace as CPtr;
/// The initial ASID pool.
pub const ROOT_ASID_POOL: CPtr = sel4_sys::init_caps::CapInitThreadASIDPool as CPtr;
/// The ASID control capability.
pub const ASID_CONTROL: CPtr = sel4_sys::init_caps::CapASIDControl as CPtr;

/// seL4_CNode_Copy within the root CNode.
pub fn cnode_copy(dest: CPtr, src: CPtr, rights: u64) -> KResult {
    invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeCopy,
        &[ROOT_CNODE],
        &[dest, DEPTH, src, DEPTH, rights],
    )
}

/// seL4_CNode_Mint within the root CNode.
pub fn cnode_mint(dest: CPtr, src: CPtr, rights: u64, badge: u64) -> KResult {
    invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeMint,
        &[ROOT_CNODE],
        &[dest, DEPTH, src, DEPTH, rights, badge],
    )
}

/// seL4_CNode_Move within the root CNode.
pub fn cnode_move(dest: CPtr, src: CPtr) -> KResult {
    invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeMove,
        &[ROOT_CNODE],
        &[dest, DEPTH, src, DEPTH],
    )
}

/// seL4_CNode_Mutate within the root CNode.
pub fn cnode_mutate(dest: CPtr, src: CPtr, badge: u64) -> KResult {
    invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeMutate,
        &[ROOT_CNODE],
        &[dest, DEPTH, src, DEPTH, badge],
    )
}

/// seL4_CNode_Rotate within the root CNode: `pivot` moves to `dest`, `src`
/// moves to `pivot` (with the given badges).
pub fn cnode_rotate(
    dest: CPtr,
    dest_badge: u64,
    pivot: CPtr,
    pivot_badge: u64,
    src: CPtr,
) -> KResult {
    invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeRotate,
        &[ROOT_CNODE, ROOT_CNODE],
        &[
            dest,
            DEPTH,
            dest_badge,
            pivot,
            DEPTH,
            pivot_badge,
            src,
            DEPTH,
        ],
    )
}

/// seL4_CNode_Delete of a root CNode slot.
pub fn cnode_delete(slot: CPtr) -> KResult {
    invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeDelete,
        &[],
        &[slot, DEPTH],
    )
}

/// seL4_CNode_Revoke of a root CNode slot.
pub fn cnode_revoke(slot: CPtr) -> KResult {
    invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeRevoke,
        &[],
        &[slot, DEPTH],
    )
}

/// seL4_Untyped_Retype into the root CNode, slots `[dest, dest + count)`.
pub fn retype(untyped: CPtr, ty: usize, size_bits: usize, dest: CPtr, count: usize) -> KResult {
    invoke(
        untyped,
        InvocationLabel::UntypedRetype,
        &[ROOT_CNODE],
        &[ty as u64, size_bits as u64, 0, 0, dest, count as u64],
    )
}

/// seL4_Untyped_Retype into a CNode that the root CNode holds at
/// `cnode` (depth `WORD_SIZE`), slots `[offset, offset + count)`.
pub fn retype_into(
    untyped: CPtr,
    ty: usize,
    size_bits: usize,
    cnode: CPtr,
    offset: u64,
    count: usize,
) -> KResult {
    invoke(
        untyped,
        InvocationLabel::UntypedRetype,
        &[ROOT_CNODE],
        &[
            ty as u64,
            size_bits as u64,
            cnode,
            DEPTH,
            offset,
            count as u64,
        ],
    )
}

/// Cap rights as the kernel encodes them (seL4_CapRights).
pub mod rights {
    pub const WRITE: u64 = 1;
    pub const READ: u64 = 2;
    pub const GRANT: u64 = 4;
    pub const GRANT_REPLY: u64 = 8;
    pub const ALL: u64 = 0xf;
    pub const RW: u64 = READ | WRITE;
    pub const NONE: u64 = 0;
}
