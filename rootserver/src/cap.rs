//! Typed capabilities: `sel4_sys`'s [`Cap`] with one marker per kind of
//! capability ([`cap_type`]), and the kernel's methods generated on them
//! (`Cap<TCB>::tcb_suspend`, `Cap<CNode>::cnode_copy`, ...); and the
//! handles through which the framework hands out what it makes.
//!
//! # Names and owners
//!
//! A [`Cap<T>`] is a *name*: a capability pointer with a type claim, `Copy`,
//! used for invocations. Nothing stops a name from outliving the capability
//! it names; after the slot is reused it names whatever lives there now
//! (the kernel checks every invocation, so this is a wrong answer at worst,
//! never undefined behaviour).
//!
//! What the framework creates is handed out as an *owned handle*, neither
//! `Copy` nor `Clone`: [`Owned<T>`] for a capability in the root task's
//! CSpace (an object, a copy or badged copy, a moved capability),
//! [`ChildCap<T>`] for one in a CNode the framework made, and [`Slot`] for
//! an empty slot. Only the owner of the handle can give the slot back
//! ([`Objects::delete`](crate::objects::Objects::delete),
//! [`Objects::move_cap`](crate::objects::Objects::move_cap),
//! [`Objects::free_slot`](crate::objects::Objects::free_slot), ...; they
//! consume the handle), so a stale name cannot make the framework delete,
//! move or reuse a slot that belongs to someone else. Each handle also
//! names the allocator that made it, which refuses handles of another one.
//!
//! Dropping a handle without giving it back leaks its slot (and the object,
//! if it was the object's last capability) until the memory it came from
//! is revoked; it never frees anything behind anyone's back.

use core::sync::atomic::{AtomicU32, Ordering};

pub use sel4_sys::cap_type::{self, *};
use sel4_sys::CPtr;
pub use sel4_sys::{Cap, CapType, FixedSize};

/// Which slot allocator handed a handle out (the root CSpace of one
/// [`Objects`](crate::objects::Objects), or one of its child CNodes).
pub(crate) type OwnerId = u32;

static NEXT_OWNER: AtomicU32 = AtomicU32::new(1);

/// A fresh allocator id (never 0, never reused within a boot).
pub(crate) fn new_owner() -> OwnerId {
    NEXT_OWNER.fetch_add(1, Ordering::Relaxed)
}

/// A capability in a slot of the root task's CSpace that the holder owns:
/// made by the framework, given back only by consuming this handle. Use it
/// as the [`Cap<T>`] it dereferences to (or [`Owned::cap`]) for
/// invocations. See the [module documentation](self).
#[must_use = "an owned capability keeps its slot until it is given back (Objects::delete)"]
pub struct Owned<T: CapType> {
    cap: Cap<T>,
    owner: OwnerId,
}

impl<T: CapType> Owned<T> {
    pub(crate) fn new(cptr: CPtr, owner: OwnerId) -> Owned<T> {
        Owned {
            cap: Cap::from_cptr(cptr),
            owner,
        }
    }

    /// The capability's name, for invocations (it stays `Copy`; after this
    /// handle is given back the name is stale).
    #[inline]
    pub fn cap(&self) -> Cap<T> {
        self.cap
    }

    /// The slot (capability pointer) in the root task's CSpace.
    #[inline]
    pub fn cptr(&self) -> CPtr {
        self.cap.cptr()
    }

    /// The same capability, owned as a `U` (an explicit change of the type
    /// claim; `cast` on the name, through `Deref`, gives a `Cap<U>`).
    pub fn recast<U: CapType>(self) -> Owned<U> {
        Owned {
            cap: self.cap.cast(),
            owner: self.owner,
        }
    }

    pub(crate) fn owner(&self) -> OwnerId {
        self.owner
    }
}

impl<T: CapType> core::ops::Deref for Owned<T> {
    type Target = Cap<T>;
    #[inline]
    fn deref(&self) -> &Cap<T> {
        &self.cap
    }
}

impl<T: CapType> core::fmt::Debug for Owned<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Owned<{}>({:#x})", T::NAME, self.cap.cptr())
    }
}

/// A capability that the holder owns in a CNode the framework made
/// ([`Objects::create_cnode`](crate::objects::Objects::create_cnode)). It
/// has no name in the root task's CSpace; its [`index`](ChildCap::index)
/// is its name in a CSpace whose root is that CNode with the guard of
/// [`Objects::mint_cspace_root`](crate::objects::Objects::mint_cspace_root).
#[must_use = "an owned capability keeps its slot until it is given back (Objects::delete_child)"]
pub struct ChildCap<T: CapType> {
    index: u64,
    owner: OwnerId,
    _t: core::marker::PhantomData<T>,
}

impl<T: CapType> ChildCap<T> {
    pub(crate) fn new(index: u64, owner: OwnerId) -> ChildCap<T> {
        ChildCap {
            index,
            owner,
            _t: core::marker::PhantomData,
        }
    }

    /// The slot's index in its CNode.
    #[inline]
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The same capability, owned as a `U` (an explicit change of the type
    /// claim; for a slot of [`Objects::alloc_child_slot`](crate::objects::Objects::alloc_child_slot)
    /// that a raw invocation filled, say).
    pub fn recast<U: CapType>(self) -> ChildCap<U> {
        ChildCap::new(self.index, self.owner)
    }

    /// Its name in a CSpace rooted at its CNode (see the type's
    /// documentation).
    #[inline]
    pub fn name_in_child(&self) -> Cap<T> {
        Cap::from_cptr(self.index)
    }

    pub(crate) fn owner(&self) -> OwnerId {
        self.owner
    }
}

impl<T: CapType> core::fmt::Debug for ChildCap<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "ChildCap<{}>({:#x} of #{})",
            T::NAME,
            self.index,
            self.owner
        )
    }
}

/// A slot of the root task's CSpace that the holder owns (normally empty),
/// for capabilities the kernel puts there: an IPC receive slot, the target
/// of a raw invocation. Give it back with
/// [`Objects::free_slot`](crate::objects::Objects::free_slot), which first
/// deletes whatever the kernel put there.
#[must_use = "a slot stays taken until it is given back (Objects::free_slot)"]
pub struct Slot {
    cptr: CPtr,
    owner: OwnerId,
}

impl Slot {
    pub(crate) fn new(cptr: CPtr, owner: OwnerId) -> Slot {
        Slot { cptr, owner }
    }

    /// The slot's capability pointer.
    #[inline]
    pub fn cptr(&self) -> CPtr {
        self.cptr
    }

    pub(crate) fn owner(&self) -> OwnerId {
        self.owner
    }
}

impl core::fmt::Debug for Slot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Slot({:#x})", self.cptr)
    }
}

/// Contiguous slots of the root task's CSpace that the holder owns, to
/// give to another owner (`Objects::new` over `[start, end)`, a retype of
/// several objects by hand). Give it back with
/// [`Objects::free_range`](crate::objects::Objects::free_range).
#[must_use = "the slots stay taken until they are given back (Objects::free_range)"]
pub struct SlotRange {
    start: CPtr,
    len: usize,
    owner: OwnerId,
}

impl SlotRange {
    pub(crate) fn new(start: CPtr, len: usize, owner: OwnerId) -> SlotRange {
        SlotRange { start, len, owner }
    }

    /// The first slot.
    pub fn start(&self) -> CPtr {
        self.start
    }

    /// One past the last slot.
    pub fn end(&self) -> CPtr {
        self.start + self.len as u64
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no slot.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn owner(&self) -> OwnerId {
        self.owner
    }
}

impl core::fmt::Debug for SlotRange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SlotRange({:#x}..{:#x})", self.start, self.end())
    }
}
