//! The protocols of the component tests (`tests/components`): `Ctl`, on
//! which a probe component asks the test (which serves the `ctl` channels
//! itself) what to do next and reports what happened; `Svc`, between the
//! probe clients and the probe server; `Hub` for the fleet of a hundred;
//! `Bench` for the IPC figures.
#![no_std]

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum CtlRequest {
        /// The component started (its generation).
        Ready { generation: u64 } = 1,
        /// What the last order gave: `kind` (a `result` constant), two
        /// words.
        Done { kind: u64, a: u64, b: u64 } = 2,
    }
}

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum CtlResponse {
        /// Call the server (`svc`) with an `Svc` request of `op` (an `op`
        /// constant) and `arg`.
        CallSvc { op: u64, arg: u64 } = 1,
        /// `seL4_Call` a capability pointer with an empty message.
        InvokeSlot { slot: u64 } = 2,
        /// Read the word at `addr`.
        ReadAddr { addr: u64 } = 3,
        /// Write a byte of its own code.
        WriteText = 4,
        /// Return from `main` with `code`.
        Exit { code: u64 } = 5,
        /// Spin forever without a system call (the MCS budget test measures
        /// how much of the processor the component takes).
        Spin = 7,
    }
}

sel4_ipc::protocol!(pub Ctl: CtlRequest => CtlResponse);

/// `CtlRequest::Done` kinds.
pub mod result {
    /// `a` = the answer, `b` = the server's generation.
    pub const OK: u64 = 0;
    /// The server restarted: `a` = its new generation.
    pub const RESTARTED: u64 = 1;
    /// The server is stopped.
    pub const STOPPED: u64 = 2;
    /// Another failure of the call.
    pub const OTHER: u64 = 3;
    /// The kernel answered a raw call with this label (`a`).
    pub const LABEL: u64 = 4;
    /// A read's value (`a`).
    pub const VALUE: u64 = 5;
}

/// `CallSvc` operations.
pub mod op {
    /// Answer `arg + 1`.
    pub const ECHO: u64 = 1;
    /// Fault in the middle of the request (holding the caller's reply).
    pub const CRASH: u64 = 2;
    /// Wait on the `release` notification, then answer (or crash if the
    /// signal has bit 2).
    pub const BLOCK: u64 = 3;
    /// Answer the server's heap address.
    pub const WHERE: u64 = 4;
}

/// `release` notification bits the test signals.
pub const RELEASE_ANSWER: u64 = 1;
pub const RELEASE_CRASH: u64 = 2;

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SvcRequest {
        Do { op: u64, arg: u64 } = 1,
    }
}

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SvcResponse {
        Answer { value: u64, generation: u64 } = 1,
    }
}

sel4_ipc::protocol!(pub Svc: SvcRequest => SvcResponse);

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum HubRequest {
        CheckIn = 1,
    }
}

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum HubResponse {
        Ack { count: u64 } = 1,
    }
}

sel4_ipc::protocol!(pub Hub: HubRequest => HubResponse);

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum BenchRequest {
        Ping { x: u64 } = 1,
    }
}

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum BenchResponse {
        Pong { x: u64 } = 1,
    }
}

sel4_ipc::protocol!(pub Bench: BenchRequest => BenchResponse);

/// The IPC bench between components (tests/components/bench): its clients'
/// round trips. Its C components (tests/components/bench/c) speak `Bench`
/// on the wire and use the same counts.
pub mod bench {
    /// Round trips before the timed ones.
    pub const WARMUP: u64 = 100;
    /// Timed round trips; a client exits with the cycles per round trip.
    pub const N: u64 = 10_000;
    /// Wire label of `BenchRequest::Ping` (and of `BenchResponse::Pong`):
    /// `sel4_ipc::wire_label` of their label 1.
    pub const PING: u64 = sel4_ipc::wire_label(1);
}
