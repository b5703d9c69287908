//! Typed capabilities: a `Cap<Endpoint>` cannot be used where a `Cap<Tcb>`
//! is expected.

use core::marker::PhantomData;
use sel4_sys::{CPtr, InvocationLabel, MessageInfo, ObjectType};

use crate::error::{Error, Result};

/// Marker for a kind of kernel object.
pub trait CapType: Copy {
    /// Name, for diagnostics.
    const NAME: &'static str;
}

/// A kind of kernel object with a fixed size, created from untyped memory
/// by its object type alone.
pub trait FixedSize: CapType {
    /// The object type to retype untyped memory into.
    const OBJECT_TYPE: ObjectType;
}

macro_rules! cap_types {
    ($($(#[$m:meta])* $name:ident $(=> $obj:ident)?;)*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name;
        impl CapType for $name {
            const NAME: &'static str = stringify!($name);
        }
        $(impl FixedSize for $name {
            const OBJECT_TYPE: ObjectType = ObjectType::$obj;
        })?
    )*};
}

cap_types! {
    /// Untyped memory.
    Untyped;
    /// A thread control block.
    Tcb => TCBObject;
    /// An IPC endpoint.
    Endpoint => EndpointObject;
    /// A notification object.
    Notification => NotificationObject;
    /// A CNode.
    CNode;
}

/// A capability to an object of type `T`, at a slot of the root task's
/// CSpace.
#[derive(Debug, PartialEq, Eq)]
pub struct Cap<T: CapType> {
    cptr: CPtr,
    _t: PhantomData<T>,
}

impl<T: CapType> Clone for Cap<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: CapType> Copy for Cap<T> {}

impl<T: CapType> Cap<T> {
    /// Names the capability at `cptr` as one to a `T`. The type is a claim:
    /// the kernel still checks every invocation, so a wrong claim gives an
    /// error from the kernel, never undefined behaviour.
    pub const fn from_cptr(cptr: CPtr) -> Self {
        Cap {
            cptr,
            _t: PhantomData,
        }
    }

    /// The capability's address in the CSpace.
    pub const fn cptr(self) -> CPtr {
        self.cptr
    }
}

/// Performs a kernel invocation whose arguments fit in the message
/// registers, returning the reply's register words.
pub(crate) fn invoke_regs(
    cptr: CPtr,
    label: InvocationLabel,
    extra_caps: &[CPtr],
    args: &[u64],
) -> Result<[u64; 4]> {
    debug_assert!(args.len() <= sel4_sys::REGISTER_MRS);
    let mut mrs = [0u64; 4];
    mrs[..args.len()].copy_from_slice(args);
    set_extra_caps(extra_caps);
    let info = MessageInfo::new(label as u64, 0, extra_caps.len() as u64, args.len() as u64);
    let r = sel4_sys::call_regs(cptr, info, mrs);
    check(r.info, r.mrs)
}

/// Performs a kernel invocation with any number of argument words (those
/// beyond the registers go through the IPC buffer).
pub(crate) fn invoke(
    cptr: CPtr,
    label: InvocationLabel,
    extra_caps: &[CPtr],
    args: &[u64],
) -> Result<[u64; 4]> {
    if args.len() <= sel4_sys::REGISTER_MRS {
        return invoke_regs(cptr, label, extra_caps, args);
    }
    sel4_sys::with_ipc_buffer(|b| b.msg[..args.len()].copy_from_slice(args));
    set_extra_caps(extra_caps);
    let info = MessageInfo::new(label as u64, 0, extra_caps.len() as u64, args.len() as u64);
    let reply = sel4_sys::call(cptr, info);
    let mut mrs = [0u64; 4];
    sel4_sys::with_ipc_buffer(|b| mrs.copy_from_slice(&b.msg[..4]));
    check(reply, mrs)
}

fn set_extra_caps(caps: &[CPtr]) {
    if !caps.is_empty() {
        sel4_sys::with_ipc_buffer(|b| b.caps_or_badges[..caps.len()].copy_from_slice(caps));
    }
}

fn check(info: MessageInfo, mrs: [u64; 4]) -> Result<[u64; 4]> {
    match info.get_label() {
        0 => Ok(mrs),
        e => Err(Error::from_reply(e, &mrs)),
    }
}

impl Cap<Notification> {
    /// Signals the notification (ORs its badge into the notification word).
    pub fn signal(self) {
        sel4_sys::signal(self.cptr)
    }

    /// Waits for a signal; returns the accumulated badge bits.
    pub fn wait(self) -> u64 {
        sel4_sys::wait(self.cptr)
    }

    /// Returns the accumulated badge bits without blocking (0 if none).
    pub fn poll(self) -> u64 {
        sel4_sys::poll(self.cptr)
    }
}
