//! Typed capabilities: a `Cap<cap_type::Endpoint>` cannot be passed where a
//! `Cap<cap_type::TCB>` is expected. The kernel's methods are generated as
//! methods on `Cap<cap_type::X>` (see the crate documentation).

use core::marker::PhantomData;

use crate::{CPtr, ObjectType};

/// A kind of capability (a marker of [`cap_type`](crate::cap_type)).
pub trait CapType: Copy {
    /// Name, for diagnostics (`"TCB"`, `"X86Page"`, ...).
    const NAME: &'static str;
    /// The object type that untyped memory is retyped into to make an object
    /// of this kind, if there is one (`TCB` -> `TCBObject`, `CNode` ->
    /// `CapTableObject`, `X86Page` -> `X86_4K`; `None` for `IRQHandler`,
    /// `Null`, ...).
    const OBJECT_TYPE: Option<ObjectType>;
}

/// A kind of object with a fixed size, created from untyped memory by its
/// object type alone (the size argument of `Untyped_Retype` is ignored).
pub trait FixedSize: CapType {
    /// The object type to retype into.
    const TYPE: ObjectType;
    /// log2 of the object's size in bytes (`seL4_TCBBits`, `seL4_PageBits`, ...).
    const SIZE_BITS: usize;
}

/// A capability to an object of kind `T`, named by its address in the
/// current thread's CSpace.
///
/// The type is a claim: the kernel checks every invocation, so a wrong
/// claim gives an [`InvocationError`](crate::InvocationError), never
/// undefined behaviour.
#[repr(transparent)]
pub struct Cap<T: CapType> {
    cptr: CPtr,
    _t: PhantomData<T>,
}

impl<T: CapType> Cap<T> {
    /// Names the capability at `cptr` as one to a `T`.
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

    /// The same capability pointer claimed as a `U` (an explicit retyping
    /// of the claim, e.g. a `Cap<X86Page>` used as a `Cap<Null>`).
    pub const fn cast<U: CapType>(self) -> Cap<U> {
        Cap::from_cptr(self.cptr)
    }
}

impl<T: CapType> Clone for Cap<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: CapType> Copy for Cap<T> {}

impl<T: CapType> PartialEq for Cap<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cptr == other.cptr
    }
}

impl<T: CapType> Eq for Cap<T> {}

impl<T: CapType> core::hash::Hash for Cap<T> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.cptr.hash(state)
    }
}

impl<T: CapType> core::fmt::Debug for Cap<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Cap<{}>({:#x})", T::NAME, self.cptr)
    }
}

impl Cap<crate::cap_type::Notification> {
    /// `seL4_Signal`: ORs this capability's badge into the notification word.
    #[inline]
    pub fn signal(self) {
        crate::signal(self.cptr)
    }

    /// `seL4_Wait`: blocks until signalled; returns the accumulated badge bits.
    #[inline]
    pub fn wait(self) -> crate::Word {
        crate::wait(self.cptr)
    }

    /// `seL4_Poll`: the accumulated badge bits without blocking (0 if none).
    #[inline]
    pub fn poll(self) -> crate::Word {
        crate::poll(self.cptr)
    }
}
