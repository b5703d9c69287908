//! `Work`: square a number; the answer says which instance served it.
#![no_std]

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum WorkRequest {
        Square { n: u64 } = 1,
    }
}

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum WorkResponse {
        Squared { value: u64, generation: u64, served: u64 } = 1,
    }
}

sel4_ipc::protocol!(pub Work: WorkRequest => WorkResponse);

/// The server crashes on every request number (counted per instance) that
/// is a multiple of this.
pub const CRASH_EVERY: u64 = 4;
