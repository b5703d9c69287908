//! The supervisor: instantiates a system of components from its plan
//! (`sel4_component_env::plan`, generated from the description), starts
//! them in dependency order, receives every component's faults, panics and
//! exits, logs each with the component's name and the decoded fault, and
//! applies the component's fault policy: restart (a fresh instance, with a
//! back-off), stop, or halt the system. It can also start and stop a
//! component at run time from the images it carries.
//!
//! ```ignore
//! let mut objs = Objects::try_from_bootinfo(bootinfo)?;
//! let mut sup = Supervisor::new(&mut objs, &system::PLAN, &system::IMAGES, Config::new(tsc_mhz))?;
//! sup.start_all(&mut objs)?;
//! let end = sup.run(&mut objs);          // until the `finish` components exited, or a halt
//! ```
//!
//! # What belongs to whom
//!
//! The *system's* objects are made once, by [`Supervisor::new`], from the
//! supervisor's memory, and outlive every instance of every component:
//! channel endpoints, notifications, shared regions' frames, IRQ handlers
//! and I/O port capabilities. A *component instance* is a process
//! (`crate::process`) made from the component's own budget: its CSpace
//! gets copies of the system's objects in the slots the plan names (the
//! slots its generated environment module names), its VSpace maps the
//! shared frames at the plan's addresses. Destroying an instance revokes
//! its budget: every byte and slot it had comes back, the system's objects
//! stay.
//!
//! # Restarts and the callers of a dead server
//!
//! A restart is a fresh instance: the old one's budget revoked, the image
//! loaded again from the embedded ELF (data and bss as at the first
//! start), the same capabilities granted again, its generation one higher
//! (the start-info page carries it). Clients learn of it:
//! - **a call in flight** (the server received it and faulted before
//!   replying): on non-MCS kernels the caller's reply capability lives in
//!   the server thread's TCB, where nothing but that thread can use it, and
//!   deleting the TCB leaves the caller blocked for good. So before the old
//!   instance goes, the supervisor has each of its threads answer: it
//!   writes the thread's registers for a `Reply` syscall carrying
//!   `ErrorReply::ServerRestarted { generation }` (or `ServerStopped`),
//!   points it at the runtime's two-instruction reply stub (the syscall
//!   instruction, then an undefined one: `syscall; ud2`, `svc #0; udf #0`,
//!   `ecall; unimp`; `sel4_runtime::process::REPLY_STUB_SYMBOL`) and
//!   resumes it; the undefined instruction tells the supervisor it is done. A thread that holds no reply
//!   capability replies to nobody (the kernel prints a debug line).
//! - **a call made to the dead instance** (queued on the endpoint, which
//!   outlives instances, while the server was dead or backing off): every
//!   client capability carries the server's generation in its badge
//!   (`sel4_component_env::badge`); at a restart the supervisor mints the
//!   clients' capabilities again with the new generation, and the new
//!   instance answers a call with an old generation with `ServerRestarted`
//!   instead of serving it (the kernel recorded the badge when the call
//!   was queued).
//! - the next call goes to the new instance.
//!
//! A stopped server's clients lose their capabilities (a later call fails
//! at once: the slot is empty) and the calls queued for it are answered
//! with `ServerStopped`.
//!
//! # Timing
//!
//! The supervisor runs at the priority of the thread that calls
//! [`Supervisor::run`] (the root task's 255: above every component), so
//! it handles an event as soon as it arrives. A restart's back-off is
//! measured with the architecture's counter (`sel4_sys::arch::read_counter`:
//! the TSC, `cntvct_el0`, `time`) by a helper thread at priority 1,
//! which only runs when every component is blocked: a back-off never
//! starves a component, and a component that keeps the CPU delays restarts.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use sel4_component_env::badge;
use sel4_component_env::plan::{CapPlan, FaultAction, SystemPlan};
use sel4_ipc::{ErrorReply, ERROR_LABEL};
use sel4_sys::{cap_type, CapRights, Fault, MessageInfo, UserContext, Word};

use crate::cap::{Endpoint, Notification, Owned};
use crate::cnode::ALL_RIGHTS;
use crate::error::Error;
use crate::objects::Objects;
use crate::process::{self, Process, ProcessBuilder, ProcessError, ProcessEvent, ThreadSpec};
use crate::thread::{JoinHandle, ThreadBuilder};
use crate::vspace::Cache;

/// Badge of the back-off timer's messages on the event endpoint (above
/// every fault and report badge the plan hands out, within 28 bits).
const TIMER_BADGE: Word = (1 << 28) - 1;

/// Priority of the back-off timer thread.
const TIMER_PRIORITY: u8 = 1;

fn recv_rights() -> CapRights {
    CapRights(0b0010)
}
fn send_rights() -> CapRights {
    CapRights(0b0001)
}
/// Send, grant (capabilities in requests) and, where the kernel has it,
/// grant-reply (a `Call` needs it to make the reply capability).
fn client_rights() -> CapRights {
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 && label TCBSetTLSBase { CapRights(0b1101) } else { CapRights(0b0101) }
    }
}

/// How the supervisor runs.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Counter ticks per microsecond (`sel4_sys::arch::read_counter`;
    /// x86_64: bootinfo's TSC frequency), for back-offs.
    pub tsc_mhz: u64,
    /// Log each fault, restart, stop and exit (on by default).
    pub log: bool,
}

impl Config {
    /// A configuration for a machine whose time stamp counter runs at
    /// `tsc_mhz` ticks per microsecond, with logging on.
    pub fn new(tsc_mhz: u64) -> Config {
        Config { tsc_mhz, log: true }
    }
}

/// Why the supervisor could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisorError {
    /// Making the system's objects failed.
    Resources {
        /// What the supervisor was making (e.g. "narrowing the I/O port
        /// capability").
        what: &'static str,
        /// The allocator's or kernel's error.
        error: Error,
    },
    /// A component's instance could not be made.
    Process {
        /// The component's name in the plan.
        component: &'static str,
        /// Why building or starting its process failed.
        error: ProcessError,
    },
    /// No component of that name.
    NoSuchComponent(String),
    /// The plan names an image the supervisor was not given.
    NoImage {
        /// The component's name in the plan.
        component: &'static str,
    },
    /// The component is running already (start) or not (stop).
    WrongState {
        /// The component's name in the plan.
        component: &'static str,
        /// The state it is in, which the request does not allow.
        state: State,
    },
    /// A kernel invocation failed.
    Kernel {
        /// The invocation's purpose (what the supervisor was doing).
        what: &'static str,
        /// The kernel's error.
        error: sel4_sys::InvocationError,
    },
    /// A component of the `finish` list exited with a non-zero code.
    Failed {
        /// The component's name in the plan.
        component: &'static str,
        /// Its exit code (returned from `main` or passed to
        /// `sel4_component::exit`).
        code: u64,
    },
    /// A component's policy halted the system.
    Halted {
        /// The name of the component whose fault or panic halted it.
        component: &'static str,
    },
}

impl core::fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SupervisorError::Resources { what, error } => write!(f, "{what}: {error}"),
            SupervisorError::Process { component, error } => {
                write!(f, "component `{component}`: {error}")
            }
            SupervisorError::NoSuchComponent(n) => {
                write!(f, "no component `{n}` in the system's plan")
            }
            SupervisorError::NoImage { component } => {
                write!(
                    f,
                    "no image for component `{component}`: build the system with its images"
                )
            }
            SupervisorError::WrongState { component, state } => {
                write!(f, "component `{component}` is {state:?}")
            }
            SupervisorError::Kernel { what, error } => write!(f, "{what}: {error}"),
            SupervisorError::Failed { component, code } => {
                write!(f, "component `{component}` exited with code {code}")
            }
            SupervisorError::Halted { component } => {
                write!(
                    f,
                    "component `{component}`'s fault policy halted the system"
                )
            }
        }
    }
}

fn res(what: &'static str) -> impl Fn(Error) -> SupervisorError {
    move |error| SupervisorError::Resources { what, error }
}

/// Where a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started (yet).
    NotStarted,
    /// An instance runs.
    Running,
    /// It faulted; a new instance comes when the back-off ends.
    BackingOff,
    /// Stopped (by its policy or by [`Supervisor::stop`]).
    Stopped,
    /// It returned from `main` with this exit code.
    Exited(u64),
}

/// What happened to a component, as [`Supervisor::step`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// A thread faulted (thread index, the kernel's fault); `then` is what
    /// the policy did.
    Faulted {
        /// Index of the component in the plan's `components`.
        component: usize,
        /// Index of the faulting thread in the component's `threads`
        /// (main thread 0), found from the fault endpoint's badge.
        thread: usize,
        /// The fault the kernel reported.
        fault: Fault,
        /// What the fault policy did.
        then: Action,
    },
    /// It panicked.
    Panicked {
        /// Index of the component in the plan's `components`.
        component: usize,
        /// The panic message the component reported.
        message: String,
        /// What the fault policy did.
        then: Action,
    },
    /// It returned from `main` (the instance is gone).
    Exited {
        /// Index of the component in the plan's `components`.
        component: usize,
        /// Its exit code (returned from `main` or passed to
        /// `sel4_component::exit`).
        code: u64,
    },
    /// A back-off ended: the new instance runs.
    Restarted {
        /// Index of the component in the plan's `components`.
        component: usize,
        /// The new instance's generation (the first instance has 0; one
        /// up at each restart and at each start after a stop).
        generation: u64,
    },
    /// A message no component could have sent.
    Unknown {
        /// The badge it arrived with on the supervisor's event endpoint:
        /// no component's report or fault badge, or a component's with a
        /// message the process protocol does not know.
        badge: Word,
        /// The message's label.
        label: Word,
    },
}

/// What the policy did about a fault or panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A fresh instance runs (generation), or will after a back-off.
    Restart {
        /// The generation of the new instance.
        generation: u64,
        /// The back-off before it starts (ms; 0: it runs already).
        delay_ms: u64,
    },
    /// The component is stopped.
    Stop,
    /// The system is to halt.
    Halt,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Every component of the plan's `finish` list exited: their codes.
    Finished(Vec<(&'static str, u64)>),
    /// A component's policy halts the system.
    Halted {
        /// The name of the component whose fault or panic halted it.
        component: &'static str,
    },
    /// Nothing runs any more and nothing will (no `finish` list).
    Idle,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Faults of components' threads received.
    pub faults: u64,
    /// Panics components reported.
    pub panics: u64,
    /// Restarts the fault policies ordered (an instance ended and a new
    /// generation begun, with or without a back-off).
    pub restarts: u64,
    /// Components stopped, by their policy or by [`Supervisor::stop`].
    pub stops: u64,
    /// Components that returned from `main`.
    pub exits: u64,
    /// Callers of a dead server answered by its threads (reply stubs run).
    pub stubs_run: u64,
}

/// One channel's objects.
struct ChannelObjs {
    ep: Owned<Endpoint>,
    /// Per client (in the plan's order): the badged capability (the
    /// client's badge and the server's generation) whose copies the
    /// client's instances get; `None` while the server is stopped.
    clients: Vec<Option<Owned<Endpoint>>>,
}

/// One component's state.
struct Comp {
    process: Option<Process>,
    generation: u64,
    state: State,
    restarts: u64,
    /// Counter value at which a backing-off component restarts.
    restart_at: u64,
}

/// The back-off timer thread's shared state.
struct Timer {
    deadline: AtomicU64,
    wake: sel4_sys::Cap<cap_type::Notification>,
    send: sel4_sys::Cap<cap_type::Endpoint>,
}

/// The back-off timer thread and what it uses.
struct TimerThread {
    shared: Arc<Timer>,
    handle: JoinHandle<()>,
    wake: Owned<Notification>,
    send: Owned<Endpoint>,
}

/// A running system (module documentation).
pub struct Supervisor<'a> {
    plan: &'a SystemPlan,
    images: &'a [&'a [u8]],
    config: Config,
    events: Owned<Endpoint>,
    channels: Vec<ChannelObjs>,
    notifications: Vec<Owned<Notification>>,
    regions: Vec<Vec<Owned<sel4::Granule>>>,
    #[cfg(target_arch = "x86_64")]
    ioports: Vec<Owned<cap_type::X86IOPort>>,
    irqs: Vec<Owned<cap_type::IRQHandler>>,
    /// Minted notification capabilities the interrupts signal.
    irq_ntfns: Vec<Owned<Notification>>,
    comps: Vec<Comp>,
    /// Per image: link addresses of the reply stub and the thread entry.
    stubs: Vec<Option<u64>>,
    thread_entries: Vec<Option<u64>>,
    pending: VecDeque<sel4_sys::Received>,
    timer: Option<TimerThread>,
    stats: Stats,
}

fn ceil_log2(x: u64) -> u8 {
    if x <= 1 {
        0
    } else {
        (64 - (x - 1).leading_zeros()) as u8
    }
}

impl<'a> Supervisor<'a> {
    /// Makes the system's objects (module documentation) from `objs`; no
    /// component runs yet ([`Supervisor::start_all`], [`Supervisor::start`]).
    pub fn new(
        objs: &mut Objects,
        plan: &'a SystemPlan,
        images: &'a [&'a [u8]],
        config: Config,
    ) -> Result<Supervisor<'a>, SupervisorError> {
        let events = objs
            .create::<Endpoint>()
            .map_err(res("the event endpoint"))?;
        let mut s = Supervisor {
            plan,
            images,
            config,
            events,
            channels: Vec::new(),
            notifications: Vec::new(),
            regions: Vec::new(),
            #[cfg(target_arch = "x86_64")]
            ioports: Vec::new(),
            irqs: Vec::new(),
            irq_ntfns: Vec::new(),
            comps: plan
                .components
                .iter()
                .map(|_| Comp {
                    process: None,
                    generation: 0,
                    state: State::NotStarted,
                    restarts: 0,
                    restart_at: 0,
                })
                .collect(),
            stubs: Vec::new(),
            thread_entries: Vec::new(),
            pending: VecDeque::new(),
            timer: None,
            stats: Stats::default(),
        };
        if let Err(e) = s.make_objects(objs) {
            s.destroy(objs);
            return Err(e);
        }
        Ok(s)
    }

    fn make_objects(&mut self, objs: &mut Objects) -> Result<(), SupervisorError> {
        let plan = self.plan;
        for c in plan.components {
            if self.images.get(c.image).is_none() {
                return Err(SupervisorError::NoImage { component: c.name });
            }
        }
        for img in self.images {
            let sym = |name: &str| {
                sel4_elf_reloc::Elf::parse(img)
                    .and_then(|e| e.symbol(name))
                    .ok()
                    .flatten()
            };
            self.stubs
                .push(sym(sel4_runtime::process::REPLY_STUB_SYMBOL));
            self.thread_entries
                .push(sym(sel4_runtime::process::THREAD_ENTRY_SYMBOL));
        }
        for ch in plan.channels {
            let ep = objs
                .create::<Endpoint>()
                .map_err(res("a channel endpoint"))?;
            let mut clients = Vec::new();
            for &(_, b) in ch.clients {
                clients.push(Some(
                    objs.mint_with(&ep, client_rights(), badge::with_generation(b, 0))
                        .map_err(res("a client's badged endpoint"))?,
                ));
            }
            self.channels.push(ChannelObjs { ep, clients });
        }
        for _ in plan.notifications {
            self.notifications.push(
                objs.create::<Notification>()
                    .map_err(res("a notification"))?,
            );
        }
        for r in plan.regions {
            let mut frames = Vec::new();
            for i in 0..r.size / 4096 {
                let f = match r.phys {
                    Some(p) => objs.device_frame(p + i * 4096),
                    None => objs.create::<sel4::Granule>(),
                }
                .map_err(res("a frame of a shared region"))?;
                frames.push(f);
            }
            self.regions.push(frames);
        }
        #[cfg(target_arch = "x86_64")]
        for p in plan.ioports {
            let port = self.issue_ports(objs, p.first, p.last)?;
            self.ioports.push(port);
        }
        // I/O ports exist on x86 only (the description's check refuses
        // them elsewhere; a plan made by hand gets this error).
        #[cfg(not(target_arch = "x86_64"))]
        if !plan.ioports.is_empty() {
            return Err(SupervisorError::Kernel {
                what:
                    "I/O ports (they exist on x86_64 only: map the device's registers as a region)",
                error: sel4_sys::InvocationError::IllegalOperation,
            });
        }
        for irq in plan.irqs {
            let h = self.irq_handler(objs, irq)?;
            self.irqs.push(h);
        }
        Ok(())
    }

    /// An I/O port capability for `first..=last`.
    #[cfg(target_arch = "x86_64")]
    fn issue_ports(
        &mut self,
        objs: &mut Objects,
        first: u16,
        last: u16,
    ) -> Result<Owned<cap_type::X86IOPort>, SupervisorError> {
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label X86IOPortControlIssue {
                let slot = objs.alloc_slot().map_err(res("a slot for I/O ports"))?;
                let control = sel4_sys::Cap::<cap_type::X86IOPortControl>::from_cptr(
                    sel4_sys::init_caps::CapIOPortControl as u64,
                );
                let r = control.x86_io_port_control_issue(
                    first.into(),
                    last.into(),
                    crate::cnode::root(),
                    slot.cptr(),
                    crate::cnode::depth(),
                );
                if let Err(error) = r {
                    let _ = objs.free_slot(slot);
                    return Err(SupervisorError::Kernel { what: "X86_IOPortControl_Issue", error });
                }
                Ok(objs.adopt(slot))
            } else {
                // seL4 5.x: a copy of the root task's all-ports capability,
                // narrowed to the range by the mint's data (first and last
                // port, `io_port_capdata`: first in bits 16..32, last in
                // 0..16).
                let slot = objs.alloc_slot().map_err(res("a slot for I/O ports"))?;
                let data = sel4::CapData::x86_io_port_range(first, last);
                let r = crate::cnode::mint_data(
                    crate::cnode::SlotRef::root(slot.cptr()),
                    crate::cnode::SlotRef::root(sel4_sys::init_caps::CapIOPort as u64),
                    ALL_RIGHTS,
                    data,
                );
                if let Err(error) = r {
                    let _ = objs.free_slot(slot);
                    return Err(SupervisorError::Resources { what: "narrowing the I/O port capability", error });
                }
                Ok(objs.adopt(slot))
            }
        }
    }

    /// The IRQ handler of `irq`, signalling its notification with its badge.
    fn irq_handler(
        &mut self,
        objs: &mut Objects,
        irq: &sel4_component_env::plan::IrqPlan,
    ) -> Result<Owned<cap_type::IRQHandler>, SupervisorError> {
        #[cfg(target_arch = "x86_64")]
        use sel4::arch::X86IrqControlOps;
        use sel4_component_env::IrqSource;
        let slot = objs
            .alloc_slot()
            .map_err(res("a slot for an IRQ handler"))?;
        let control = sel4_sys::Cap::<cap_type::IRQControl>::from_cptr(
            sel4_sys::init_caps::CapIRQControl as u64,
        );
        let dest = sel4::Slot {
            root: crate::cnode::root(),
            index: slot.cptr(),
            depth: crate::cnode::depth(),
        };
        let r = match irq.source {
            #[cfg(target_arch = "x86_64")]
            IrqSource::IoApic {
                ioapic,
                pin,
                level,
                active_low,
                vector,
            } => control.get_ioapic(
                dest,
                ioapic.into(),
                pin.into(),
                level,
                active_low,
                vector.into(),
            ),
            #[cfg(target_arch = "x86_64")]
            IrqSource::Msi {
                bus,
                device,
                function,
                handle,
                vector,
            } => control.get_msi(
                dest,
                bus.into(),
                device.into(),
                function.into(),
                handle.into(),
                vector.into(),
            ),
            #[cfg(target_arch = "x86_64")]
            IrqSource::Line { .. } => Err(sel4_sys::InvocationError::IllegalOperation),
            // The GIC's interrupt with its trigger.
            #[cfg(target_arch = "aarch64")]
            IrqSource::Line { irq, level } => control.irq_control_get_trigger(
                irq.into(),
                Word::from(!level),
                dest.root,
                dest.index,
                dest.depth,
            ),
            // The PLIC's interrupt (the kernel takes no trigger here).
            #[cfg(target_arch = "riscv64")]
            IrqSource::Line { irq, .. } => {
                control.irq_control_get(irq.into(), dest.root, dest.index, dest.depth)
            }
            #[cfg(not(target_arch = "x86_64"))]
            IrqSource::IoApic { .. } | IrqSource::Msi { .. } => {
                Err(sel4_sys::InvocationError::IllegalOperation)
            }
        };
        if let Err(error) = r {
            let _ = objs.free_slot(slot);
            return Err(SupervisorError::Kernel {
                what: "IRQControl (an interrupt of the plan)",
                error,
            });
        }
        let h: Owned<cap_type::IRQHandler> = objs.adopt(slot);
        let n = objs
            .mint_with(
                &self.notifications[irq.notification],
                send_rights(),
                irq.badge,
            )
            .map_err(res("the badged notification of an interrupt"))?;
        if let Err(error) = h.irq_handler_set_notification(n.cptr()) {
            return Err(SupervisorError::Kernel {
                what: "IRQHandler_SetNotification",
                error,
            });
        }
        self.irq_ntfns.push(n);
        Ok(h)
    }

    /// The plan.
    pub fn plan(&self) -> &'a SystemPlan {
        self.plan
    }

    /// Counters since the start.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn index(&self, name: &str) -> Result<usize, SupervisorError> {
        self.plan
            .component_index(name)
            .ok_or_else(|| SupervisorError::NoSuchComponent(String::from(name)))
    }

    /// Where component `name` is.
    pub fn state(&self, name: &str) -> Option<State> {
        Some(self.comps[self.plan.component_index(name)?].state)
    }

    /// Component `name`'s current generation and restarts so far.
    pub fn generation(&self, name: &str) -> Option<(u64, u64)> {
        let c = &self.comps[self.plan.component_index(name)?];
        Some((c.generation, c.restarts))
    }

    /// The endpoint of channel `name` (the supervisor's own capability,
    /// all rights): a root task may serve a channel itself, or call its
    /// server (mint a badged copy).
    pub fn channel_endpoint(&self, name: &str) -> Option<&Owned<Endpoint>> {
        let i = self.plan.channels.iter().position(|c| c.name == name)?;
        Some(&self.channels[i].ep)
    }

    /// Notification `name` (the supervisor's own capability).
    pub fn notification(&self, name: &str) -> Option<&Owned<Notification>> {
        let i = self
            .plan
            .notifications
            .iter()
            .position(|n| n.name == name)?;
        self.notifications.get(i)
    }

    /// The running instance of component `name`.
    pub fn process(&self, name: &str) -> Option<&Process> {
        self.comps[self.plan.component_index(name)?]
            .process
            .as_ref()
    }

    /// Starts every component not started yet, in the plan's start order
    /// (servers before their clients).
    pub fn start_all(&mut self, objs: &mut Objects) -> Result<(), SupervisorError> {
        for &i in self.plan.start_order {
            if self.comps[i].state == State::NotStarted {
                self.instantiate(objs, i)?;
            }
        }
        Ok(())
    }

    /// Starts component `name` (not running: never started, stopped or
    /// exited) from its image: a fresh instance.
    pub fn start(&mut self, objs: &mut Objects, name: &str) -> Result<(), SupervisorError> {
        let i = self.index(name)?;
        match self.comps[i].state {
            State::Running | State::BackingOff => Err(SupervisorError::WrongState {
                component: self.plan.components[i].name,
                state: self.comps[i].state,
            }),
            State::Stopped => {
                // A new generation: its clients get capabilities again.
                self.comps[i].generation += 1;
                self.remint_clients(objs, i)?;
                self.instantiate(objs, i)
            }
            _ => self.instantiate(objs, i),
        }
    }

    /// Stops component `name`: its callers are answered
    /// (`ServerStopped`), its instance destroyed, its clients' capabilities
    /// to it taken away.
    pub fn stop(&mut self, objs: &mut Objects, name: &str) -> Result<(), SupervisorError> {
        let i = self.index(name)?;
        match self.comps[i].state {
            State::Running | State::BackingOff => {
                self.end_instance(objs, i, ErrorReply::ServerStopped);
                self.stop_serving(objs, i);
                self.comps[i].state = State::Stopped;
                self.stats.stops += 1;
                Ok(())
            }
            state => Err(SupervisorError::WrongState {
                component: self.plan.components[i].name,
                state,
            }),
        }
    }

    /// Makes and starts an instance of component `i` (its current
    /// generation).
    fn instantiate(&mut self, objs: &mut Objects, i: usize) -> Result<(), SupervisorError> {
        let c = &self.plan.components[i];
        let err = |error| SupervisorError::Process {
            component: c.name,
            error,
        };
        let image = self.images[c.image];
        let t0 = &c.threads[0];
        let generation = self.comps[i].generation;
        let mut b = ProcessBuilder::new(c.name, image)
            .priority(c.priority)
            .mcp(c.mcp)
            .budget_bits(ceil_log2(c.budget).max(12))
            .cspace_bits(c.cspace_bits)
            .stack_at(t0.stack_bottom, t0.stack_size)
            .ipc_buffer_at(t0.ipc_buffer)
            .start_info_at(c.start_info)
            .fault_endpoint(&self.events, t0.fault_badge)
            .report_endpoint(&self.events, c.report_badge)
            .generation(generation)
            .suspended();
        if let Some(m) = c.mcs {
            b = b.scheduling(crate::sched::Budget::periodic(m.budget_us, m.period_us));
        }
        b = if c.heap_size > 0 {
            b.heap_at(c.heap_start, c.heap_size)
        } else {
            b.heap_size(0)
        };
        for cap in c.caps {
            b = match *cap {
                CapPlan::Client {
                    slot,
                    channel,
                    badge: _,
                } => {
                    let k = self.plan.channels[channel]
                        .clients
                        .iter()
                        .position(|&(comp, _)| comp == i)
                        .unwrap_or(0);
                    match &self.channels[channel].clients[k] {
                        Some(parent) => b.grant(slot, parent, client_rights()),
                        // The server is stopped: the slot stays empty (a
                        // call fails at once).
                        None => b,
                    }
                }
                CapPlan::Server { slot, channel } => {
                    b.grant(slot, &self.channels[channel].ep, recv_rights())
                }
                CapPlan::Signal {
                    slot,
                    notification,
                    badge,
                } => b.grant_badged(
                    slot,
                    &self.notifications[notification],
                    send_rights(),
                    badge,
                ),
                CapPlan::Wait { slot, notification } => {
                    b.grant(slot, &self.notifications[notification], ALL_RIGHTS)
                }
                #[cfg(target_arch = "x86_64")]
                CapPlan::IoPorts { slot, ioport } => {
                    b.grant(slot, &self.ioports[ioport], ALL_RIGHTS)
                }
                // Refused when the objects were made (`make_objects`).
                #[cfg(not(target_arch = "x86_64"))]
                CapPlan::IoPorts { .. } => b,
                CapPlan::IrqHandler { slot, irq } => b.grant(slot, &self.irqs[irq], ALL_RIGHTS),
            };
        }
        for m in c.mappings {
            let rights = if m.writable {
                crate::vspace::RW
            } else {
                crate::vspace::RO
            };
            let cache = if m.cached {
                Cache::Default
            } else {
                Cache::Uncached
            };
            for (k, f) in self.regions[m.region].iter().enumerate() {
                b = b.map_frame(m.vaddr + k as u64 * 4096, f, rights, cache);
            }
        }
        let mut p = b.spawn(objs).map_err(err)?;
        let entry = self.thread_entries[c.image].map(|e| e.wrapping_add(p.load_bias()));
        for t in &c.threads[1..] {
            let Some(entry) = entry else {
                let _ = p.destroy(objs);
                return Err(err(ProcessError::NotFound {
                    what:
                        "the image has no thread entry (sel4_runtime::process::THREAD_ENTRY_SYMBOL)",
                }));
            };
            let spec = ThreadSpec {
                entry,
                arg: 0,
                priority: t.priority,
                stack_size: t.stack_size,
                fault: Some((&self.events, t.fault_badge)),
                stack_at: Some(t.stack_bottom),
                ipc_buffer_at: Some(t.ipc_buffer),
            };
            if let Err(e) = p.add_thread(objs, spec) {
                let _ = p.destroy(objs);
                return Err(err(e));
            }
        }
        for (ti, t) in c.threads.iter().enumerate() {
            if let (Some(n), Some(tcb)) = (t.bound_notification, p.tcb(ti)) {
                if let Err(error) = tcb.tcb_bind_notification(self.notifications[n].cptr()) {
                    let _ = p.destroy(objs);
                    return Err(SupervisorError::Kernel {
                        what: "TCB_BindNotification",
                        error,
                    });
                }
            }
        }
        if let Err(e) = p.start() {
            let _ = p.destroy(objs);
            return Err(err(e));
        }
        let comp = &mut self.comps[i];
        comp.process = Some(p);
        comp.state = State::Running;
        Ok(())
    }

    /// Has every thread of component `i`'s instance answer the caller whose
    /// reply capability it holds with `answer` (module documentation), then
    /// destroys the instance.
    fn end_instance(&mut self, objs: &mut Objects, i: usize, answer: ErrorReply) {
        let Some(mut p) = self.comps[i].process.take() else {
            return;
        };
        let c = &self.plan.components[i];
        for t in 0..p.thread_count() {
            if let Some(tcb) = p.tcb(t) {
                let _ = tcb.tcb_suspend();
            }
        }
        if c.serves() && sel4_sys::syscall_opt::REPLY.is_none() {
            // MCS kernels: a caller waits on the reply object of the thread
            // that received its call; the supervisor answers through it.
            let w = answer.encode();
            let info = MessageInfo::new(ERROR_LABEL, 0, 0, ErrorReply::WORDS as u64);
            let mut mrs = [0; sel4_sys::REGISTER_MRS];
            for (m, v) in mrs.iter_mut().zip(w.iter()) {
                *m = *v;
            }
            for t in 0..p.thread_count() {
                if p.answer_caller(objs, t, info, mrs) {
                    self.stats.stubs_run += 1;
                }
            }
        }
        let stub = self.stubs[c.image].map(|s| s.wrapping_add(p.load_bias()));
        if let (true, Some(stub)) = (c.serves(), stub) {
            for t in 0..p.thread_count() {
                if self.run_reply_stub(
                    &p,
                    t,
                    c.threads.get(t).map_or(0, |x| x.fault_badge),
                    stub,
                    answer,
                ) {
                    self.stats.stubs_run += 1;
                }
            }
        }
        if let Err(r) = p.destroy(objs) {
            // Its budget stays taken; nothing else breaks.
            log::error!("supervisor: destroying `{}`: {}", c.name, r.error);
        }
    }

    /// Runs the reply stub on thread `t` of `p` (suspended) and waits for
    /// its end. Whether it ran.
    fn run_reply_stub(
        &mut self,
        p: &Process,
        t: usize,
        fault_badge: Word,
        stub: u64,
        answer: ErrorReply,
    ) -> bool {
        let (Some(tcb), Some(reply)) = (p.tcb(t), sel4_sys::syscall_opt::REPLY) else {
            return false;
        };
        let w = answer.encode();
        let info = MessageInfo::new(ERROR_LABEL, 0, 0, ErrorReply::WORDS as u64);
        let ctx = reply_stub_context(stub, reply as isize, info, w);
        if let Err(e) = tcb.tcb_write_registers(true, 0, UserContext::WORDS as Word, &ctx) {
            log::error!(
                "supervisor: `{}` thread {t}: writing the reply stub's registers: {e}",
                p.name()
            );
            return false;
        }
        // Its end: a fault of that thread (the stub's undefined instruction, or anything
        // else if its image is broken). Other events wait their turn.
        loop {
            let r = sel4_sys::recv_regs(self.events.cptr());
            if r.badge == fault_badge {
                let _ = tcb.tcb_suspend();
                return true;
            }
            self.pending.push_back(r);
        }
    }

    /// The slot of channel `chi`'s client end in component `client`.
    fn client_slot(&self, client: usize, chi: usize) -> Option<u64> {
        self.plan.components[client]
            .caps
            .iter()
            .find_map(|c| match *c {
                CapPlan::Client { slot, channel, .. } if channel == chi => Some(slot),
                _ => None,
            })
    }

    /// Takes the clients' capabilities of channel `chi` away: from the
    /// running clients' CSpaces and the supervisor's badged originals.
    fn drop_clients(&mut self, objs: &mut Objects, chi: usize) {
        let ch = &self.plan.channels[chi];
        for (k, &(client, _)) in ch.clients.iter().enumerate() {
            if let (Some(slot), Some(p)) = (
                self.client_slot(client, chi),
                self.comps[client].process.as_mut(),
            ) {
                if let Err(e) = p.ungrant(objs, slot) {
                    log::error!(
                        "supervisor: taking `{}`'s end of `{}` back: {e}",
                        p.name(),
                        ch.name
                    );
                }
            }
            if let Some(parent) = self.channels[chi].clients[k].take() {
                let _ = objs.delete(parent);
            }
        }
    }

    /// Takes component `i`'s clients' capabilities to it away and answers
    /// the calls queued for it (it is stopped).
    fn stop_serving(&mut self, objs: &mut Objects, i: usize) {
        for chi in 0..self.plan.channels.len() {
            if self.plan.channels[chi].server != i {
                continue;
            }
            self.drop_clients(objs, chi);
            // No client can send any more: answer what is queued.
            loop {
                let r = sel4_sys::nb_recv_regs(self.channels[chi].ep.cptr());
                if r.badge == 0 && r.info.0 == 0 {
                    break;
                }
                let w = ErrorReply::ServerStopped.encode();
                sel4_sys::reply_regs(
                    MessageInfo::new(ERROR_LABEL, 0, 0, ErrorReply::WORDS as u64),
                    w,
                );
            }
        }
    }

    /// Mints component `i`'s clients' capabilities again with its current
    /// generation, in every running client's CSpace.
    fn remint_clients(&mut self, objs: &mut Objects, i: usize) -> Result<(), SupervisorError> {
        let generation = self.comps[i].generation;
        for chi in 0..self.plan.channels.len() {
            let ch = &self.plan.channels[chi];
            if ch.server != i {
                continue;
            }
            self.drop_clients(objs, chi);
            for (k, &(client, b)) in ch.clients.iter().enumerate() {
                let parent = objs
                    .mint_with(
                        &self.channels[chi].ep,
                        client_rights(),
                        badge::with_generation(b, generation),
                    )
                    .map_err(res("a client's badged endpoint"))?;
                let slot = self.client_slot(client, chi);
                if let (Some(p), Some(slot)) = (self.comps[client].process.as_mut(), slot) {
                    p.grant(objs, slot, &parent, client_rights())
                        .map_err(|error| SupervisorError::Process {
                            component: self.plan.components[client].name,
                            error,
                        })?;
                }
                self.channels[chi].clients[k] = Some(parent);
            }
        }
        Ok(())
    }

    /// The back-off of restart number `n` (0 = the first).
    fn backoff_ms(&self, i: usize, n: u64) -> u64 {
        let f = self.plan.components[i].fault;
        let d = f.backoff_ms.saturating_mul(1u64 << n.min(63));
        d.min(f.backoff_max_ms.max(f.backoff_ms))
    }

    /// Applies component `i`'s policy to a fault or panic.
    fn on_failure(&mut self, objs: &mut Objects, i: usize) -> Action {
        let c = &self.plan.components[i];
        let comp = &self.comps[i];
        let action = match c.fault.action {
            FaultAction::Restart if comp.restarts < c.fault.max_restarts => FaultAction::Restart,
            FaultAction::Restart => c.fault.then,
            a => a,
        };
        match action {
            FaultAction::Restart => {
                let generation = comp.generation + 1;
                let delay = self.backoff_ms(i, comp.restarts);
                self.end_instance(objs, i, ErrorReply::ServerRestarted { generation });
                let comp = &mut self.comps[i];
                comp.generation = generation;
                comp.restarts += 1;
                self.stats.restarts += 1;
                if let Err(e) = self.remint_clients(objs, i) {
                    log::error!("supervisor: `{}`: {e}", c.name);
                }
                if delay == 0 {
                    if let Err(e) = self.instantiate(objs, i) {
                        log::error!("supervisor: restarting `{}`: {e}; it stays stopped", c.name);
                        self.stop_serving(objs, i);
                        self.comps[i].state = State::Stopped;
                        return Action::Stop;
                    }
                } else {
                    let ticks = delay
                        .saturating_mul(1000)
                        .saturating_mul(self.config.tsc_mhz);
                    self.comps[i].restart_at = sel4_sys::arch::read_counter().saturating_add(ticks);
                    self.comps[i].state = State::BackingOff;
                    if let Err(e) = self.arm_timer(objs) {
                        log::error!(
                            "supervisor: no back-off timer ({e}): restarting `{}` now",
                            c.name
                        );
                        self.comps[i].restart_at = 0;
                    }
                }
                Action::Restart {
                    generation,
                    delay_ms: delay,
                }
            }
            FaultAction::Stop => {
                self.end_instance(objs, i, ErrorReply::ServerStopped);
                self.stop_serving(objs, i);
                self.comps[i].state = State::Stopped;
                self.stats.stops += 1;
                Action::Stop
            }
            FaultAction::Halt => {
                self.end_instance(objs, i, ErrorReply::ServerStopped);
                self.comps[i].state = State::Stopped;
                Action::Halt
            }
        }
    }

    /// Sets the timer thread to the earliest back-off deadline.
    fn arm_timer(&mut self, objs: &mut Objects) -> Result<(), SupervisorError> {
        let earliest = self
            .comps
            .iter()
            .filter(|c| c.state == State::BackingOff)
            .map(|c| c.restart_at)
            .min()
            .unwrap_or(0);
        if self.timer.is_none() {
            let wake = objs
                .create::<Notification>()
                .map_err(res("the timer's notification"))?;
            let send = objs
                .mint_with(&self.events, send_rights(), TIMER_BADGE)
                .map_err(res("the timer's endpoint"))?;
            let t = Arc::new(Timer {
                deadline: AtomicU64::new(0),
                wake: wake.cap(),
                send: send.cap(),
            });
            let shared = Arc::clone(&t);
            let handle = ThreadBuilder::new()
                .priority(TIMER_PRIORITY)
                .spawn(objs, move || timer_thread(&shared))
                .map_err(|e| SupervisorError::Resources {
                    what: "the timer thread",
                    error: Error::Check(match e {
                        crate::thread::ThreadError::Resources(_) => "no memory or slots for it",
                        _ => "it could not start",
                    }),
                })?;
            self.timer = Some(TimerThread {
                shared: t,
                handle,
                wake,
                send,
            });
        }
        if let Some(t) = &self.timer {
            t.shared.deadline.store(earliest, Ordering::SeqCst);
            t.shared.wake.signal();
        }
        Ok(())
    }

    /// Restarts the components whose back-off is over.
    fn restart_due(&mut self, objs: &mut Objects, out: &mut Vec<Happening>) {
        let now = sel4_sys::arch::read_counter();
        for i in 0..self.comps.len() {
            if self.comps[i].state == State::BackingOff && self.comps[i].restart_at <= now {
                let name = self.plan.components[i].name;
                match self.instantiate(objs, i) {
                    Ok(()) => {
                        let generation = self.comps[i].generation;
                        if self.config.log {
                            log::info!("supervisor: `{name}` restarted (generation {generation})");
                        }
                        out.push(Happening::Restarted {
                            component: i,
                            generation,
                        });
                    }
                    Err(e) => {
                        log::error!("supervisor: restarting `{name}`: {e}; it stays stopped");
                        self.stop_serving(objs, i);
                        self.comps[i].state = State::Stopped;
                    }
                }
            }
        }
        if self.comps.iter().any(|c| c.state == State::BackingOff) {
            let _ = self.arm_timer(objs);
        }
    }

    /// Which component and thread a badge names.
    fn who(&self, b: Word) -> Option<(usize, Option<usize>)> {
        for (i, c) in self.plan.components.iter().enumerate() {
            if c.report_badge == b {
                return Some((i, None));
            }
            if let Some(t) = c.threads.iter().position(|t| t.fault_badge == b) {
                return Some((i, Some(t)));
            }
        }
        None
    }

    /// Waits for the next event (a fault, panic or exit of a component, or
    /// the end of a back-off) and handles it. What happened.
    pub fn step(&mut self, objs: &mut Objects) -> Vec<Happening> {
        let r = match self.pending.pop_front() {
            Some(r) => r,
            None => sel4_sys::recv_regs(self.events.cptr()),
        };
        self.handle(objs, r)
    }

    /// Handles one received event.
    fn handle(&mut self, objs: &mut Objects, r: sel4_sys::Received) -> Vec<Happening> {
        let mut out = Vec::new();
        if r.badge == TIMER_BADGE {
            self.restart_due(objs, &mut out);
            return out;
        }
        let label = r.info.get_label();
        let Some((i, thread)) = self.who(r.badge) else {
            out.push(Happening::Unknown {
                badge: r.badge,
                label,
            });
            return out;
        };
        let name = self.plan.components[i].name;
        if self.comps[i].state != State::Running {
            // A late message of an instance that is gone (it cannot happen:
            // destroying a process takes its queued messages with it).
            return out;
        }
        let generation = self.comps[i].generation;
        match process::decode_event(r) {
            ProcessEvent::Faulted { fault, .. } => {
                self.stats.faults += 1;
                let t = thread.unwrap_or(0);
                let tname = self.plan.components[i]
                    .threads
                    .get(t)
                    .map_or("?", |x| x.name);
                if self.config.log {
                    log::warn!("supervisor: `{name}` (generation {generation}) thread `{tname}` faulted: {fault:?}");
                }
                let then = self.on_failure(objs, i);
                self.log_action(name, then);
                out.push(Happening::Faulted {
                    component: i,
                    thread: t,
                    fault,
                    then,
                });
            }
            ProcessEvent::Panicked { message, .. } => {
                self.stats.panics += 1;
                if self.config.log {
                    log::warn!(
                        "supervisor: `{name}` (generation {generation}) panicked: {message}"
                    );
                }
                let then = self.on_failure(objs, i);
                self.log_action(name, then);
                out.push(Happening::Panicked {
                    component: i,
                    message,
                    then,
                });
            }
            ProcessEvent::Exited { code, .. } => {
                self.stats.exits += 1;
                if self.config.log {
                    log::info!("supervisor: `{name}` exited with code {code}");
                }
                self.end_instance(objs, i, ErrorReply::ServerStopped);
                self.stop_serving(objs, i);
                self.comps[i].state = State::Exited(code);
                out.push(Happening::Exited { component: i, code });
            }
            ProcessEvent::Other { badge, label } => out.push(Happening::Unknown { badge, label }),
        }
        out
    }

    fn log_action(&self, name: &str, a: Action) {
        if !self.config.log {
            return;
        }
        match a {
            Action::Restart {
                generation,
                delay_ms: 0,
            } => log::info!("supervisor: `{name}` restarted (generation {generation})"),
            Action::Restart {
                generation,
                delay_ms,
            } => log::info!(
                "supervisor: `{name}` restarts in {delay_ms} ms (generation {generation})"
            ),
            Action::Stop => log::info!("supervisor: `{name}` stopped"),
            Action::Halt => log::error!("supervisor: `{name}`'s policy halts the system"),
        }
    }

    /// Handles events until every component of the plan's `finish` list
    /// exited, a policy halts the system, or nothing runs any more.
    pub fn run(&mut self, objs: &mut Objects) -> RunEnd {
        loop {
            if let Some(end) = self.finished() {
                return end;
            }
            for h in self.step(objs) {
                let halt = matches!(
                    h,
                    Happening::Faulted {
                        then: Action::Halt,
                        ..
                    } | Happening::Panicked {
                        then: Action::Halt,
                        ..
                    }
                );
                if halt {
                    let c = match h {
                        Happening::Faulted { component, .. }
                        | Happening::Panicked { component, .. } => component,
                        _ => 0,
                    };
                    return RunEnd::Halted {
                        component: self.plan.components[c].name,
                    };
                }
            }
        }
    }

    fn finished(&self) -> Option<RunEnd> {
        let plan = self.plan;
        if !plan.finish.is_empty() {
            let mut codes = Vec::new();
            for &i in plan.finish {
                match self.comps[i].state {
                    State::Exited(code) => codes.push((plan.components[i].name, code)),
                    _ => return None,
                }
            }
            return Some(RunEnd::Finished(codes));
        }
        let alive = self
            .comps
            .iter()
            .any(|c| matches!(c.state, State::Running | State::BackingOff));
        (!alive).then_some(RunEnd::Idle)
    }

    /// Stops everything and gives every object back to `objs`: the
    /// instances (their callers answered with `ServerStopped`), the timer
    /// thread, the system's objects.
    pub fn destroy(mut self, objs: &mut Objects) {
        for i in 0..self.comps.len() {
            self.end_instance(objs, i, ErrorReply::ServerStopped);
        }
        if let Some(t) = self.timer.take() {
            let _ = t.handle.kill(objs);
            let _ = objs.delete(t.wake);
            let _ = objs.delete(t.send);
        }
        for ch in self.channels.drain(..) {
            for c in ch.clients.into_iter().flatten() {
                let _ = objs.delete(c);
            }
            let _ = objs.delete(ch.ep);
        }
        for n in self.irq_ntfns.drain(..) {
            let _ = objs.delete(n);
        }
        for h in self.irqs.drain(..) {
            let _ = h.irq_handler_clear();
            let _ = objs.delete(h);
        }
        #[cfg(target_arch = "x86_64")]
        for p in self.ioports.drain(..) {
            let _ = objs.delete(p);
        }
        for n in self.notifications.drain(..) {
            let _ = objs.delete(n);
        }
        for r in self.regions.drain(..) {
            for f in r {
                let _ = objs.delete(f);
            }
        }
        let events = self.events;
        let _ = objs.delete(events);
    }
}

/// The back-off timer: waits until a deadline is set, spins (yielding)
/// until it passes, then tells the supervisor.
fn timer_thread(t: &Timer) {
    loop {
        t.wake.wait();
        loop {
            let d = t.deadline.load(Ordering::SeqCst);
            if d == 0 {
                break;
            }
            if sel4_sys::arch::read_counter() >= d {
                t.deadline.store(0, Ordering::SeqCst);
                sel4_sys::send_regs(t.send.cptr(), MessageInfo::new(0, 0, 0, 0), [0; 4]);
                break;
            }
            sel4_sys::yield_now();
        }
    }
}

/// Runs the system of `plan` on a root task: the supervisor over all the
/// root task's memory, every component started, then events handled until
/// the plan's `finish` components exited (Ok when each exited with 0) or
/// a policy halted the system.
pub fn run_system(
    bootinfo: &crate::BootInfo,
    plan: &SystemPlan,
    images: &[&[u8]],
) -> Result<(), SupervisorError> {
    let tsc_mhz = counter_mhz(bootinfo)?;
    let start = sel4_sys::arch::read_counter();
    let mut objs = Objects::try_from_bootinfo(bootinfo).map_err(res("the root task's objects"))?;
    let mut sup = Supervisor::new(&mut objs, plan, images, Config::new(tsc_mhz))?;
    sup.start_all(&mut objs)?;
    let started = sel4_sys::arch::read_counter();
    // The root task's start is recorded on x86_64 only (the runtime reads
    // no counter at start elsewhere: aarch64's may not be readable): the
    // figure then counts from the supervisor's start.
    #[cfg(target_arch = "x86_64")]
    let root_start = sel4_runtime::root_task_started_at();
    #[cfg(not(target_arch = "x86_64"))]
    let root_start = start;
    log::info!(
        "supervisor: system `{}`: {} components running, {} cycles after the root task's start of the supervisor",
        plan.name,
        plan.components.len(),
        started - start
    );
    // Under QEMU's -icount shift=0 (the examples' boot images), a cycle of
    // the time stamp counter is one instruction.
    crate::println!(
        "figure: system `{}`: from the root task's start to all {} components running: {} cycles ({} of them in the supervisor)",
        plan.name,
        plan.components.len(),
        started.saturating_sub(root_start),
        started - start
    );
    let end = sup.run(&mut objs);
    let stats = sup.stats();
    log::info!(
        "supervisor: system `{}` ends: {end:?}; {} faults, {} panics, {} restarts, {} stops, {} exits",
        plan.name,
        stats.faults,
        stats.panics,
        stats.restarts,
        stats.stops,
        stats.exits
    );
    match end {
        RunEnd::Finished(codes) => match codes.iter().find(|(_, code)| *code != 0) {
            Some(&(component, code)) => Err(SupervisorError::Failed { component, code }),
            None => Ok(()),
        },
        RunEnd::Idle => Ok(()),
        RunEnd::Halted { component } => Err(SupervisorError::Halted { component }),
    }
}

/// The registers of a thread sent to the reply stub: the instruction
/// pointer at the stub, and the kernel's syscall registers for `syscall`
/// (the `Reply` syscall's number) with the message info and four message
/// words, placed as sel4-sys's syscall ABI places them.
fn reply_stub_context(stub: Word, syscall: isize, info: MessageInfo, w: [Word; 4]) -> UserContext {
    let mut ctx = UserContext::default();
    sel4::Registers::set_pc(&mut ctx, stub);
    let regs = sel4_sys::Regs {
        cap_or_badge: 0,
        info: info.0,
        mr: w,
    };
    sel4_sys::syscall_abi::set_syscall(&mut ctx, syscall, &regs);
    ctx
}

/// Ticks of the counter the supervisor measures back-offs with
/// (`sel4_sys::arch::read_counter`) per microsecond: x86_64 bootinfo's TSC
/// frequency (1000 if the kernel gives none); aarch64 and riscv64 the
/// kernel configuration's timer frequency, rounded up (a back-off is then
/// at most a tick per microsecond longer).
#[allow(unused_variables)]
fn counter_mhz(bootinfo: &crate::BootInfo) -> Result<u64, SupervisorError> {
    #[cfg(target_arch = "x86_64")]
    return Ok(bootinfo
        .tsc_mhz()
        .or_else(|| bootinfo.extra_tsc_mhz().map(u64::from))
        .unwrap_or(1000));
    #[cfg(not(target_arch = "x86_64"))]
    match sel4_sys::arch::COUNTER_HZ {
        Some(hz) => Ok(hz.div_ceil(1_000_000).max(1)),
        None => Err(SupervisorError::Kernel {
            what: "reading the counter for back-offs (user mode cannot on this kernel: build it with KernelArmExportVCNTUser=ON)",
            error: sel4_sys::InvocationError::IllegalOperation,
        }),
    }
}
