//! System descriptions: one TOML file (`system.toml`) describes a system of
//! components. This crate parses it ([`parse`]), validates it, reporting
//! every problem with file, line, column and the fix ([`check()`]), resolves
//! it into a [`plan::Plan`] (each component's slots, badges, address space,
//! memory, start order, fault policy), and generates each component's
//! environment module ([`codegen`]).
//!
//! Format reference and rationale: `docs/system-description.md`.
//!
//! ```
//! let src = sel4_sysdesc::Source::new("system.toml", r#"
//! [system]
//! name = "demo"
//! [components.server]
//! crate = "demo-server"
//! priority = 100
//! budget = "1 MiB"
//! [components.client]
//! crate = "demo-client"
//! priority = 50
//! budget = "1 MiB"
//! [channels.calc]
//! protocol = "demo_proto::Calc"
//! server = "server"
//! clients = ["client"]
//! "#);
//! let out = sel4_sysdesc::check(&src, &sel4_sysdesc::Options::default());
//! assert!(!out.diagnostics.has_errors(), "{}", out.diagnostics.render(&src));
//! let plan = out.plan.unwrap();
//! assert_eq!(plan.start_order, ["server", "client"]);
//! ```

pub mod check;
pub mod codegen;
pub mod diag;
pub mod kernel;
pub mod model;
pub mod parse;
pub mod plan;

pub use check::{check, Options, Outcome};
pub use diag::{Diagnostic, Diagnostics, Severity, Source};
pub use kernel::KernelFacts;
pub use plan::Plan;

/// Lowest and highest+1 address of an ELF64 image's loadable segments.
pub fn elf_load_range(data: &[u8]) -> Result<(u64, u64), String> {
    sel4_elf_reloc::Elf::parse(data)
        .and_then(|e| e.load_range())
        .map_err(|e| format!("not a loadable ELF64 image: {e:?}"))
}
