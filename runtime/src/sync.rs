//! Kernel-backed synchronisation: locks whose waiters block in the kernel
//! (on a seL4 notification) instead of spinning.
//!
//! Under seL4's fixed-priority scheduler a waiter that spins can keep the
//! holder from ever running (a higher-priority spinner starves a
//! lower-priority holder for good), so every lock here blocks: a waiter
//! `Wait`s on the lock's notification and the holder hands the lock over
//! when it unlocks (`Signal`). Uncontended, locking and unlocking are one
//! atomic operation each and no system call.
//!
//! # The lock word
//! A [`RawMutex`] keeps its state in atomics: the owner (the thread id of
//! [`crate::thread::current_id`] plus one, 0 when free, [`HANDOFF`] while
//! a released lock waits for a woken waiter to take it), the number of
//! waiters, and a poison flag. `unlock` with waiters sets the owner to
//! [`HANDOFF`] and signals the notification; only a waiter may take a
//! lock in that state, so a thread that arrives later cannot barge in
//! front of the waiters. A waiter that wakes and finds the lock taken
//! waits again (a spurious wake-up costs one system call, never a spin).
//!
//! # When the holder is gone
//! The owner is recorded, and every lock a thread holds is on a list of
//! its control block, so the runtime knows what a thread holds when it
//! ends abnormally:
//! - **panic** (no unwinding here: guards are never dropped): the panic
//!   path of the thread releases every lock it holds and marks it
//!   *poisoned*;
//! - **fault** or **kill** (`JoinHandle::kill` of `sel4-rootserver`): the
//!   thread is stopped; tearing it down (joining or killing it) releases
//!   its locks, poisoned, and withdraws it from the lock it was waiting
//!   for (waking the next waiter if it had been woken already);
//! - **suspended** (by a raw `TCB_Suspend`): nothing is released (the
//!   thread may be resumed); waiters block, without using the CPU, until
//!   it is resumed or torn down.
//!
//! A poisoned lock still works; [`Mutex::lock`] reports the poison once
//! per lock with [`LockError::Poisoned`], which carries the guard (the data
//! may be half-updated; [`Mutex::clear_poison`] accepts it).
//! A thread that locks a lock it holds gets [`LockError::WouldDeadlock`]
//! instead of blocking forever.
//!
//! # The runtime's own locks
//! The heap, the console and the thread registry use this lock with
//! notifications the runtime creates at start, before `main`, from a
//! RAM untyped it keeps for itself (see [`crate::bootinfo`]): there is
//! never a second thread before they exist. Their holders are never
//! killed inside (a kill waits until the thread has left the runtime; see
//! `crate::thread`), and the stack is probed before they are taken, so
//! a stack overflow faults before the lock is held, not inside.
//!
//! # Semaphores and condition variables
//! [`Semaphore`] (counting) and [`Condvar`] (for [`Mutex`]) block the same
//! way, each on a notification of its own: no spinning, and no lost
//! wake-up even when several signals to the notification merge into one
//! (the kernel keeps one pending signal, not a count), which their
//! documentation explains.
//!
//! Notifications for other locks come from the application
//! (`Objects::create::<Notification>()` in `sel4-rootserver`): a lock made
//! with [`Mutex::unbound`] (for statics) works without one as long as it
//! is never contended, and reports [`LockError::NoNotification`] when it
//! is; [`Mutex::bind`] gives it one.

use core::cell::UnsafeCell;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering::SeqCst};

use alloc::sync::Arc;

use sel4_sys::{cap_type, CPtr, Cap};

use crate::thread::{self, Control};

/// Owner word of a released lock that waits for a woken waiter.
pub const HANDOFF: u64 = u64::MAX;

/// The lock word of a kernel-backed mutex (no data): the building block of
/// [`Mutex`] and of the runtime's own locks.
pub struct RawMutex {
    /// 0: free; [`HANDOFF`]: released to a waiter; else owner id + 1.
    owner: AtomicU64,
    waiters: AtomicU32,
    poisoned: AtomicBool,
    /// The notification waiters block on (0: none yet).
    ntfn: AtomicU64,
    /// Next lock on the holder's list of held locks.
    next_held: AtomicPtr<RawMutex>,
}

/// Why a lock was not taken (or was taken with a warning).
pub enum LockError<G> {
    /// The lock's previous holder ended while holding it (panic, fault,
    /// kill); here is the guard anyway.
    Poisoned(G),
    /// The calling thread holds the lock already: waiting would never end.
    WouldDeadlock,
    /// The lock is held by another thread and has no notification to wait
    /// on ([`Mutex::unbound`] without [`Mutex::bind`]).
    NoNotification {
        /// Thread id of the holder.
        owner: Option<u64>,
    },
}

impl<G> fmt::Debug for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Poisoned(_) => write!(f, "Poisoned(..)"),
            LockError::WouldDeadlock => write!(f, "WouldDeadlock"),
            LockError::NoNotification { owner } => {
                write!(f, "NoNotification {{ owner: {owner:?} }}")
            }
        }
    }
}

impl<G> fmt::Display for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Poisoned(_) => write!(f, "the lock's holder ended while holding it"),
            LockError::WouldDeadlock => write!(f, "this thread holds the lock already"),
            LockError::NoNotification { owner } => write!(
                f,
                "the lock is held (by thread {owner:?}) and has no notification to wait on: bind one"
            ),
        }
    }
}

impl<G> LockError<G> {
    /// The guard of a poisoned lock.
    pub fn into_poisoned(self) -> Option<G> {
        match self {
            LockError::Poisoned(g) => Some(g),
            _ => None,
        }
    }
}

/// How a waiter blocks: with or without leaving the thread's critical
/// section while it waits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tracking {
    /// A runtime lock taken inside a critical section that covers the
    /// whole hold: not on the held list, waits inside the critical section.
    Runtime,
    /// An application lock: on the holder's held list; the thread may be
    /// killed while it waits.
    Tracked,
}

impl RawMutex {
    /// A free lock without a notification.
    pub const fn new() -> RawMutex {
        RawMutex {
            owner: AtomicU64::new(0),
            waiters: AtomicU32::new(0),
            poisoned: AtomicBool::new(false),
            ntfn: AtomicU64::new(0),
            next_held: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// A free lock whose waiters block on `ntfn`.
    pub const fn with_notification(ntfn: Cap<cap_type::Notification>) -> RawMutex {
        let m = RawMutex::new();
        m.ntfn_init(ntfn.cptr())
    }

    const fn ntfn_init(self, ntfn: CPtr) -> RawMutex {
        RawMutex {
            ntfn: AtomicU64::new(ntfn),
            ..self
        }
    }

    /// Gives the lock its notification; refused (returns `false`) when it
    /// has one.
    pub fn bind(&self, ntfn: Cap<cap_type::Notification>) -> bool {
        self.ntfn
            .compare_exchange(0, ntfn.cptr(), SeqCst, SeqCst)
            .is_ok()
    }

    /// The notification's capability, if the lock has one.
    pub fn notification(&self) -> Option<Cap<cap_type::Notification>> {
        match self.ntfn.load(SeqCst) {
            0 => None,
            c => Some(Cap::from_cptr(c)),
        }
    }

    /// Thread id of the holder (`None` when free or being handed over).
    pub fn owner(&self) -> Option<u64> {
        match self.owner.load(SeqCst) {
            0 | HANDOFF => None,
            o => Some(o - 1),
        }
    }

    /// Whether the lock is held or being handed over.
    pub fn is_locked(&self) -> bool {
        self.owner.load(SeqCst) != 0
    }

    /// Whether a holder ended while holding it.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(SeqCst)
    }

    /// Forgets the poison.
    pub fn clear_poison(&self) {
        self.poisoned.store(false, SeqCst)
    }

    /// Number of threads waiting for the lock.
    pub fn waiters(&self) -> u32 {
        self.waiters.load(SeqCst)
    }

    fn try_claim(&self, me: u64) -> bool {
        self.owner.compare_exchange(0, me, SeqCst, SeqCst).is_ok()
            || self
                .owner
                .compare_exchange(HANDOFF, me, SeqCst, SeqCst)
                .is_ok()
    }

    /// Takes the lock for the thread of `ctl`. For [`Tracking::Runtime`]
    /// the caller is inside a critical section of `ctl` for the whole
    /// hold; for [`Tracking::Tracked`] this enters and leaves one around
    /// each step, and puts the lock on the thread's held list.
    pub(crate) fn lock_as(&self, ctl: &Control, tracking: Tracking) -> Result<(), LockError<()>> {
        let me = ctl.id() + 1;
        let cs = match tracking {
            Tracking::Tracked => Some(ctl.enter()),
            Tracking::Runtime => None,
        };
        if self.owner.load(SeqCst) == me {
            return Err(LockError::WouldDeadlock);
        }
        // Fast path: free (a lock being handed over belongs to a waiter).
        if self.owner.compare_exchange(0, me, SeqCst, SeqCst).is_ok() {
            self.acquired(ctl, tracking);
            drop(cs);
            return Ok(());
        }
        let ntfn = self.ntfn.load(SeqCst);
        if ntfn == 0 {
            return Err(LockError::NoNotification {
                owner: self.owner(),
            });
        }
        self.waiters.fetch_add(1, SeqCst);
        if tracking == Tracking::Tracked {
            ctl.set_waiting_on(self);
        }
        let mut cs = cs;
        loop {
            if self.try_claim(me) {
                break;
            }
            // Blocks until an unlock hands the lock over (or a spurious
            // wake-up: then the claim above fails and it waits again).
            // An application lock may be killed while it waits: it leaves
            // its critical section, and the killer withdraws it from the
            // waiters (`release_after_death`).
            drop(cs.take());
            sel4_sys::wait(ntfn);
            if tracking == Tracking::Tracked {
                cs = Some(ctl.enter());
            }
        }
        if tracking == Tracking::Tracked {
            ctl.set_waiting_on(ptr::null());
        }
        self.waiters.fetch_sub(1, SeqCst);
        self.acquired(ctl, tracking);
        drop(cs);
        Ok(())
    }

    /// Takes the lock if it is free, without waiting.
    pub(crate) fn try_lock_as(&self, ctl: &Control, tracking: Tracking) -> bool {
        let _cs = match tracking {
            Tracking::Tracked => Some(ctl.enter()),
            Tracking::Runtime => None,
        };
        let me = ctl.id() + 1;
        if self.owner.compare_exchange(0, me, SeqCst, SeqCst).is_ok() {
            self.acquired(ctl, tracking);
            true
        } else {
            false
        }
    }

    fn acquired(&self, ctl: &Control, tracking: Tracking) {
        if tracking == Tracking::Tracked {
            ctl.push_held(self);
        }
    }

    /// Releases the lock of the thread of `ctl`.
    pub(crate) fn unlock_as(&self, ctl: &Control, tracking: Tracking) {
        match tracking {
            Tracking::Tracked => {
                let _cs = ctl.enter();
                let listed = ctl.remove_held(self);
                self.release();
                if listed {
                    // SAFETY: the held list's count on this `Arc` word
                    // (taken by `push_held`), given up once it is unlinked.
                    unsafe { Arc::decrement_strong_count(self as *const RawMutex) };
                }
            }
            Tracking::Runtime => self.release(),
        }
    }

    /// Frees the lock, or hands it to a waiter.
    fn release(&self) {
        if self.waiters.load(SeqCst) == 0 {
            self.owner.store(0, SeqCst);
            if self.waiters.load(SeqCst) == 0 {
                return;
            }
            // A waiter came after the first look: if the lock is still
            // free, hand it over (else its new holder will).
            if self
                .owner
                .compare_exchange(0, HANDOFF, SeqCst, SeqCst)
                .is_err()
            {
                return;
            }
        } else {
            self.owner.store(HANDOFF, SeqCst);
        }
        self.wake();
    }

    fn wake(&self) {
        match self.ntfn.load(SeqCst) {
            0 => {}
            n => sel4_sys::signal(n),
        }
    }

    /// For a lock that a dead thread held (`held`) or waited for: poisons
    /// and releases it, or withdraws the dead waiter. Only for threads that
    /// no longer run; the caller then gives up the count it had.
    pub(crate) fn release_after_death(&self, held: bool) {
        if held {
            self.poisoned.store(true, SeqCst);
            self.next_held.store(ptr::null_mut(), SeqCst);
            self.release();
        } else {
            // It was counted as a waiter; it may have been woken (and the
            // lock handed to it) before it stopped.
            let left = self.waiters.fetch_sub(1, SeqCst) - 1;
            if left > 0 {
                // Wake one more: if the hand-over was the dead thread's, a
                // live waiter takes it; if not, the extra wake-up is
                // spurious and harmless.
                self.wake();
            } else {
                let _ = self.owner.compare_exchange(HANDOFF, 0, SeqCst, SeqCst);
                if self.waiters.load(SeqCst) > 0 {
                    self.wake();
                }
            }
        }
    }

    pub(crate) fn next_held(&self) -> *mut RawMutex {
        self.next_held.load(SeqCst)
    }

    pub(crate) fn set_next_held(&self, next: *mut RawMutex) {
        self.next_held.store(next, SeqCst)
    }
}

impl Default for RawMutex {
    fn default() -> Self {
        RawMutex::new()
    }
}

impl fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawMutex")
            .field("owner", &self.owner())
            .field("handoff", &(self.owner.load(SeqCst) == HANDOFF))
            .field("waiters", &self.waiters())
            .field("poisoned", &self.is_poisoned())
            .field("notification", &self.notification())
            .finish()
    }
}

/// A mutual-exclusion lock over a seL4 notification: waiters block in the
/// kernel, the holder hands the lock over on unlock, the owner is
/// recorded, and the lock is released (poisoned) when its holder ends
/// abnormally (module documentation).
///
/// ```ignore
/// let ntfn = objs.create::<Notification>()?;
/// let counter = Arc::new(Mutex::new(ntfn, 0u64));
/// *counter.lock().unwrap() += 1;
/// ```
pub struct Mutex<T: ?Sized> {
    /// The lock word, in an `Arc` (`Arc::into_raw`; null until first use
    /// for [`Mutex::unbound`]): the holder's list of held locks and a
    /// waiter's record keep a count on it, so a lock word stays where it
    /// is even when the `Mutex` moves or goes while a forgotten guard
    /// still holds it.
    raw: AtomicPtr<RawMutex>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives one thread at a time access to the data (like
// std's Mutex), so sharing it needs only `T: Send`; the lock word is an
// `Arc` of atomics.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: moving the mutex moves the data; the lock word stays put.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    /// A lock whose waiters block on `ntfn` (a notification used for
    /// nothing else).
    pub fn new(ntfn: Cap<cap_type::Notification>, value: T) -> Mutex<T> {
        let raw = Arc::into_raw(Arc::new(RawMutex::with_notification(ntfn)));
        Mutex {
            raw: AtomicPtr::new(raw as *mut RawMutex),
            data: UnsafeCell::new(value),
        }
    }

    /// A lock without a notification yet (for statics): it works as long
    /// as nobody has to wait; [`Mutex::bind`] gives it one.
    pub const fn unbound(value: T) -> Mutex<T> {
        Mutex {
            raw: AtomicPtr::new(ptr::null_mut()),
            data: UnsafeCell::new(value),
        }
    }

    /// The data, taking the lock apart.
    pub fn into_inner(self) -> T {
        let this = core::mem::ManuallyDrop::new(self);
        let p = this.raw.load(SeqCst);
        if !p.is_null() {
            // SAFETY: the Mutex's own count on its lock word, released once
            // (the Mutex is not dropped: ManuallyDrop).
            drop(unsafe { Arc::from_raw(p) });
        }
        // SAFETY: `this` is never used or dropped again.
        unsafe { ptr::read(&this.data) }.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// The lock word (made on first use for an unbound lock).
    pub fn raw(&self) -> &RawMutex {
        let p = self.raw.load(SeqCst);
        if !p.is_null() {
            // SAFETY: a non-null word is the Mutex's own counted reference
            // to its `Arc<RawMutex>`, alive while the Mutex is.
            return unsafe { &*p };
        }
        let new = Arc::into_raw(Arc::new(RawMutex::new())) as *mut RawMutex;
        match self
            .raw
            .compare_exchange(ptr::null_mut(), new, SeqCst, SeqCst)
        {
            // SAFETY: as above, now installed.
            Ok(_) => unsafe { &*new },
            Err(existing) => {
                // SAFETY: `new` was made above and never shared.
                drop(unsafe { Arc::from_raw(new) });
                // SAFETY: as above.
                unsafe { &*existing }
            }
        }
    }

    /// Gives an unbound lock its notification; `false` when it has one.
    pub fn bind(&self, ntfn: Cap<cap_type::Notification>) -> bool {
        self.raw().bind(ntfn)
    }

    /// Takes the lock, waiting in the kernel while another thread holds
    /// it.
    pub fn lock(&self) -> Result<MutexGuard<'_, T>, LockError<MutexGuard<'_, T>>> {
        let ctl = thread::current();
        match self.raw().lock_as(ctl, Tracking::Tracked) {
            Ok(()) => self.guard(ctl),
            Err(LockError::WouldDeadlock) => Err(LockError::WouldDeadlock),
            Err(LockError::NoNotification { owner }) => Err(LockError::NoNotification { owner }),
            Err(LockError::Poisoned(())) => unreachable!("lock_as never reports poison"),
        }
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Option<Result<MutexGuard<'_, T>, LockError<MutexGuard<'_, T>>>> {
        let ctl = thread::current();
        if self.raw().try_lock_as(ctl, Tracking::Tracked) {
            Some(self.guard(ctl))
        } else {
            None
        }
    }

    fn guard(
        &self,
        ctl: &'static Control,
    ) -> Result<MutexGuard<'_, T>, LockError<MutexGuard<'_, T>>> {
        let g = MutexGuard {
            mutex: self,
            ctl,
            _not_send: core::marker::PhantomData,
        };
        if self.raw().is_poisoned() {
            Err(LockError::Poisoned(g))
        } else {
            Ok(g)
        }
    }

    /// Thread id of the holder.
    pub fn owner(&self) -> Option<u64> {
        self.raw().owner()
    }

    /// Whether a holder ended while holding the lock.
    pub fn is_poisoned(&self) -> bool {
        self.raw().is_poisoned()
    }

    /// Accepts the data of a poisoned lock as it is.
    pub fn clear_poison(&self) {
        self.raw().clear_poison()
    }

    /// The data, through an exclusive borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: ?Sized> Drop for Mutex<T> {
    fn drop(&mut self) {
        let p = *self.raw.get_mut();
        if !p.is_null() {
            // SAFETY: the Mutex's own count on its lock word. A held list
            // or waiter that still names the word has its own count.
            drop(unsafe { Arc::from_raw(p) });
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex").field("raw", self.raw()).finish()
    }
}

/// Access to the data of a locked [`Mutex`]; unlocks when dropped.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    ctl: &'static Control,
    /// Unlocked by the thread that locked it (it is on that thread's list).
    _not_send: core::marker::PhantomData<*const ()>,
}

// SAFETY: sharing a guard shares `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference to the
        // data exists.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and the guard is borrowed mutably.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.raw().unlock_as(self.ctl, Tracking::Tracked);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A lock of the runtime itself (heap, console, registry): taken inside a
/// critical section of the calling thread that lasts the whole hold (so
/// the thread is never killed while it holds it), not on the held list.
pub(crate) struct RuntimeLock<T> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: as for `Mutex`.
unsafe impl<T: Send> Sync for RuntimeLock<T> {}

/// A held [`RuntimeLock`]; the critical section ends after the unlock.
pub(crate) struct RuntimeGuard<'a, T> {
    lock: &'a RuntimeLock<T>,
    ctl: &'static Control,
    _cs: thread::Critical<'static>,
    _not_send: core::marker::PhantomData<*const ()>,
}

/// Why a runtime lock could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuntimeLockError {
    /// The calling thread holds it (re-entered from a panic inside it).
    Reentered,
    /// Contended before the runtime created its notifications (cannot
    /// happen: no second thread exists before that).
    NoNotification,
}

impl<T> RuntimeLock<T> {
    pub(crate) const fn new(value: T) -> RuntimeLock<T> {
        RuntimeLock {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    pub(crate) fn bind(&self, ntfn: Cap<cap_type::Notification>) -> bool {
        self.raw.bind(ntfn)
    }

    /// Enters a critical section, then takes the lock.
    pub(crate) fn lock(&self) -> Result<RuntimeGuard<'_, T>, RuntimeLockError> {
        let ctl = thread::current();
        let cs = ctl.enter();
        match self.raw.lock_as(ctl, Tracking::Runtime) {
            Ok(()) => Ok(RuntimeGuard {
                lock: self,
                ctl,
                _cs: cs,
                _not_send: core::marker::PhantomData,
            }),
            Err(LockError::WouldDeadlock) => Err(RuntimeLockError::Reentered),
            Err(_) => Err(RuntimeLockError::NoNotification),
        }
    }
}

impl<T> Deref for RuntimeGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for RuntimeGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and is borrowed mutably.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for RuntimeGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.unlock_as(self.ctl, Tracking::Runtime);
        // `_cs` drops after this: the critical section ends once the lock
        // is free.
    }
}

/// A slot for one value handed from one thread to another: [`Slot::put`]
/// once, [`Slot::take`] once, neither ever waits (for a thread's result,
/// read by its joiner after the thread ended).
pub struct Slot<T> {
    state: core::sync::atomic::AtomicU8,
    value: UnsafeCell<Option<T>>,
}

const SLOT_EMPTY: u8 = 0;
const SLOT_WRITING: u8 = 1;
const SLOT_FULL: u8 = 2;
const SLOT_TAKEN: u8 = 3;

// SAFETY: the state machine gives the value to one thread at a time: the
// writer between EMPTY and FULL, the taker after FULL; moving a `T`
// between threads needs `T: Send`.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// An empty slot.
    pub const fn new() -> Slot<T> {
        Slot {
            state: core::sync::atomic::AtomicU8::new(SLOT_EMPTY),
            value: UnsafeCell::new(None),
        }
    }

    /// Puts the value in; gives it back if the slot was used already.
    pub fn put(&self, v: T) -> Result<(), T> {
        if self
            .state
            .compare_exchange(SLOT_EMPTY, SLOT_WRITING, SeqCst, SeqCst)
            .is_err()
        {
            return Err(v);
        }
        // SAFETY: the WRITING state makes this the only access.
        unsafe { *self.value.get() = Some(v) };
        self.state.store(SLOT_FULL, SeqCst);
        Ok(())
    }

    /// Takes the value out, if it was put in and not taken.
    pub fn take(&self) -> Option<T> {
        if self
            .state
            .compare_exchange(SLOT_FULL, SLOT_TAKEN, SeqCst, SeqCst)
            .is_err()
        {
            return None;
        }
        // SAFETY: FULL -> TAKEN happens once; the writer is done.
        unsafe { (*self.value.get()).take() }
    }

    /// Whether a value is in.
    pub fn is_full(&self) -> bool {
        self.state.load(SeqCst) == SLOT_FULL
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot::new()
    }
}

impl<T> fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Slot(full: {})", self.is_full())
    }
}

/// A counting semaphore over a seL4 notification: [`Semaphore::acquire`]
/// takes a permit or blocks in the kernel until [`Semaphore::release`]
/// gives one; nothing spins.
///
/// The permits and the waiters are two atomic counts; uncontended,
/// acquiring and releasing are one atomic operation each and no system
/// call. A waiter registers, looks for a permit once more, and only then
/// waits; a release adds the permit and then looks for waiters, and
/// signals if there are any: one of the two always sees the other (both
/// steps are sequentially consistent), so no release is lost. Signals to
/// one notification merge while nobody is blocked on it (the kernel keeps
/// one pending signal, not a count), so a waiter that takes a permit and
/// sees more permits and more waiters signals again, passing the wake-up
/// on.
///
/// A semaphore has no owner: a thread that ends (panic, fault, kill) while
/// it holds a permit does not give it back. One killed while it waits
/// takes no permit with it; it stays counted as a waiter, so releases
/// signal the notification for it: the next thread that waits finds the
/// signal pending, looks for a permit, and waits again if there is none
/// (a spurious wake-up, never a lost one).
///
/// ```ignore
/// let slots = Arc::new(Semaphore::new(objs.create::<Notification>()?.cap(), 4));
/// slots.acquire();
/// // ... at most four threads here ...
/// slots.release();
/// ```
pub struct Semaphore {
    /// Permits available.
    permits: AtomicU64,
    /// Threads registered to wait (some may not block yet, or be dead).
    waiters: AtomicU64,
    ntfn: Cap<cap_type::Notification>,
}

impl Semaphore {
    /// A semaphore with `permits` permits whose waiters block on `ntfn` (a
    /// notification used for nothing else).
    pub fn new(ntfn: Cap<cap_type::Notification>, permits: u32) -> Semaphore {
        Semaphore {
            permits: AtomicU64::new(u64::from(permits)),
            waiters: AtomicU64::new(0),
            ntfn,
        }
    }

    /// Takes a permit, waiting in the kernel until one is released.
    pub fn acquire(&self) {
        if self.try_acquire() {
            return;
        }
        self.waiters.fetch_add(1, SeqCst);
        // Registered: a release from now on signals, so a permit released
        // after this look wakes the wait below (the signal stays pending).
        while !self.try_acquire() {
            sel4_sys::wait(self.ntfn.cptr());
        }
        let left = self.waiters.fetch_sub(1, SeqCst) - 1;
        if left > 0 && self.permits.load(SeqCst) > 0 {
            // Another release's signal may have merged into the one this
            // thread took: pass the wake-up on.
            sel4_sys::signal(self.ntfn.cptr());
        }
    }

    /// Takes a permit if one is free, without waiting.
    pub fn try_acquire(&self) -> bool {
        let mut p = self.permits.load(SeqCst);
        while p > 0 {
            match self.permits.compare_exchange(p, p - 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(now) => p = now,
            }
        }
        false
    }

    /// Gives a permit back (or adds one): wakes a waiter if there is one.
    pub fn release(&self) {
        self.permits.fetch_add(1, SeqCst);
        if self.waiters.load(SeqCst) > 0 {
            sel4_sys::signal(self.ntfn.cptr());
        }
    }

    /// Permits free now.
    pub fn available(&self) -> u64 {
        self.permits.load(SeqCst)
    }

    /// Threads registered to wait for a permit (a thread killed while it
    /// waited stays counted).
    pub fn waiters(&self) -> u64 {
        self.waiters.load(SeqCst)
    }

    /// The notification waiters block on.
    pub fn notification(&self) -> Cap<cap_type::Notification> {
        self.ntfn
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available())
            .field("waiters", &self.waiters())
            .field("notification", &self.ntfn)
            .finish()
    }
}

/// A condition variable over a seL4 notification, for [`Mutex`]:
/// [`Condvar::wait`] unlocks the mutex, blocks in the kernel until a
/// notify, and locks it again.
///
/// As with every condition variable, a waiter may wake without the
/// condition having changed (a notify that raced with its own wait, or
/// the wake-up meant for a waiter that was killed): wait in a loop on the
/// condition, or use [`Condvar::wait_while`]. A notify with no thread
/// waiting does nothing.
///
/// ```ignore
/// let ready = Arc::new((Mutex::new(n1, false), Condvar::new(n2)));
/// // waiter
/// let (m, cv) = &*ready;
/// let g = cv.wait_while(m.lock()?, |r| !*r)?;
/// // notifier
/// *m.lock()? = true;
/// cv.notify_one();
/// ```
pub struct Condvar {
    /// Threads that registered for a wake-up and were not notified yet.
    waiters: AtomicU64,
    sem: Semaphore,
}

impl Condvar {
    /// A condition variable whose waiters block on `ntfn` (a notification
    /// used for nothing else, not the mutex's).
    pub fn new(ntfn: Cap<cap_type::Notification>) -> Condvar {
        Condvar {
            waiters: AtomicU64::new(0),
            sem: Semaphore::new(ntfn, 0),
        }
    }

    /// Unlocks `guard`'s mutex, waits for a notify, locks the mutex again
    /// and returns its guard (or the lock's error: poisoned while this
    /// thread waited).
    pub fn wait<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
    ) -> Result<MutexGuard<'a, T>, LockError<MutexGuard<'a, T>>> {
        let mutex = guard.mutex;
        // Registered before the unlock: a notify after the unlock finds
        // this waiter and leaves it a permit, even if it has not blocked yet.
        self.waiters.fetch_add(1, SeqCst);
        drop(guard);
        self.sem.acquire();
        mutex.lock()
    }

    /// Waits until `condition` is false, with the mutex locked whenever it
    /// is evaluated; returns the guard with the condition false.
    pub fn wait_while<'a, T: ?Sized, F: FnMut(&mut T) -> bool>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> Result<MutexGuard<'a, T>, LockError<MutexGuard<'a, T>>> {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Wakes one waiting thread, if any.
    pub fn notify_one(&self) {
        let mut w = self.waiters.load(SeqCst);
        while w > 0 {
            match self.waiters.compare_exchange(w, w - 1, SeqCst, SeqCst) {
                Ok(_) => {
                    self.sem.release();
                    return;
                }
                Err(now) => w = now,
            }
        }
    }

    /// Wakes every waiting thread.
    pub fn notify_all(&self) {
        let w = self.waiters.swap(0, SeqCst);
        for _ in 0..w {
            self.sem.release();
        }
    }

    /// Threads waiting now (registered and not notified).
    pub fn waiters(&self) -> u64 {
        self.waiters.load(SeqCst)
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &self.waiters())
            .field("sem", &self.sem)
            .finish()
    }
}

/// A value set at most once, then read by every thread: the runtime's
/// set-up state (the console's UART, the I/O port for ending QEMU, what
/// the image protection did, the image's headers). Setting never waits
/// (a second setter, or one racing the first, gets its value back) and
/// reading never waits (a value being set reads as not set yet): no
/// spinning and no panic path, unlike a `Once` whose losers wait for the
/// winner.
pub(crate) struct SetOnce<T> {
    /// [`SetOnce::EMPTY`], [`SetOnce::WRITING`] or [`SetOnce::SET`].
    state: core::sync::atomic::AtomicU8,
    value: UnsafeCell<core::mem::MaybeUninit<T>>,
}

// SAFETY: the value is written by the one thread that moved the state
// from EMPTY to WRITING, before it publishes SET (SeqCst); readers only
// read it after seeing SET, and it is never written again: shared reads of
// a `T: Sync` from any thread, and a `T: Send` moved in from the setter.
unsafe impl<T: Send + Sync> Sync for SetOnce<T> {}

impl<T> SetOnce<T> {
    const EMPTY: u8 = 0;
    const WRITING: u8 = 1;
    const SET: u8 = 2;

    /// Not set.
    pub(crate) const fn new() -> SetOnce<T> {
        SetOnce {
            state: core::sync::atomic::AtomicU8::new(Self::EMPTY),
            value: UnsafeCell::new(core::mem::MaybeUninit::uninit()),
        }
    }

    /// Sets the value; gives it back if one is set or being set already.
    pub(crate) fn set(&self, value: T) -> Result<(), T> {
        if self
            .state
            .compare_exchange(Self::EMPTY, Self::WRITING, SeqCst, SeqCst)
            .is_err()
        {
            return Err(value);
        }
        // SAFETY: this thread alone moved the state out of EMPTY, so no
        // other writes, and readers wait for SET.
        unsafe { (*self.value.get()).write(value) };
        self.state.store(Self::SET, SeqCst);
        Ok(())
    }

    /// The value, once set.
    pub(crate) fn get(&self) -> Option<&T> {
        if self.state.load(SeqCst) != Self::SET {
            return None;
        }
        // SAFETY: SET is stored after the value was written, and it is
        // never written again (no `&mut` access exists for a shared cell).
        Some(unsafe { (*self.value.get()).assume_init_ref() })
    }

    /// The value; sets it to `f()` first when none is set (a thread that
    /// finds it being set by another gets its own `f()`: so `f` must give
    /// the same value every time it is called).
    pub(crate) fn get_or_set(&self, f: impl FnOnce() -> T) -> T
    where
        T: Copy,
    {
        if let Some(&v) = self.get() {
            return v;
        }
        let v = f();
        let _ = self.set(v);
        v
    }
}
