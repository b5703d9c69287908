//! The pieces of `sel4-system` that touch the outside: the kernel stage's
//! facts, the workspace's packages, the command line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use sel4_sysdesc::model::Arch;
use sel4_sysdesc::KernelFacts;

/// Object sizes, paging levels, MCS and badge width of a built kernel
/// stage (the folder with `sel4-kernel.json`), from the kernel's own files.
pub fn kernel_facts(stage_dir: &Path) -> Result<KernelFacts, String> {
    let stage = sel4_gen::Stage::load(stage_dir).map_err(|e| e.to_string())?;
    let tables = sel4_gen::collect(&stage).map_err(|e| e.to_string())?;
    let arch = match tables.sel4_arch.as_str() {
        "x86_64" => Arch::X86_64,
        "aarch64" => Arch::Aarch64,
        "riscv64" => Arch::Riscv64,
        other => {
            return Err(format!(
                "kernel stage {}: architecture {other} is not supported",
                stage_dir.display()
            ))
        }
    };
    let mcs = tables.config.is_enabled("KERNEL_MCS");
    let bf = stage.source_dir.join("include/object/structures_64.bf");
    let text = std::fs::read_to_string(&bf).map_err(|e| {
        format!(
            "kernel stage {}: cannot read {}: {e}",
            stage_dir.display(),
            bf.display()
        )
    })?;
    let badge_bits = KernelFacts::endpoint_badge_bits_from_bf(&text).ok_or_else(|| {
        format!(
            "{}: no `field capEPBadge` in the endpoint capability",
            bf.display()
        )
    })?;
    KernelFacts::from_constants(&tables.version, arch, mcs, &tables.constants, badge_bits)
        .map_err(|e| format!("kernel stage {}: {e}", stage_dir.display()))
}

/// Package names of the workspace of `manifest` (`cargo metadata`).
pub fn workspace_packages(manifest: &Path) -> Result<BTreeSet<String>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata --manifest-path {} failed: {}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    Ok(v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect())
}

/// The nearest `Cargo.toml` with a `[workspace]` table from `dir` upwards.
pub fn find_workspace(dir: &Path) -> Option<PathBuf> {
    let mut d = std::fs::canonicalize(dir).ok()?;
    loop {
        let m = d.join("Cargo.toml");
        if std::fs::read_to_string(&m).is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]")) {
            return Some(m);
        }
        if !d.pop() {
            return None;
        }
    }
}

/// Command line of `sel4-system`.
#[derive(Debug, Default)]
pub struct Args {
    pub command: String,
    pub description: PathBuf,
    pub manifest: Option<PathBuf>,
    pub no_crate_check: bool,
    pub kernel: Option<PathBuf>,
    pub images: BTreeMap<String, PathBuf>,
    pub out: Option<PathBuf>,
    pub env_crate: Option<String>,
    /// `build`: the root task's package.
    pub root: Option<String>,
    /// `build`: the Rust target (default x86_64-unknown-none).
    pub target: Option<String>,
    /// Folders where `elf` images are looked for after the description's
    /// own folder (`--search-path`, repeatable).
    pub search_path: Vec<PathBuf>,
    /// `c-header`: the component whose environment is written.
    pub component: Option<String>,
}

pub const USAGE: &str = "usage: sel4-system <check|plan|gen|build|c-header> [options] <system.toml>
  check   report every problem of the description (file:line:col, message, fix)
  plan    check, then print the system plan as JSON (or write it to --out FILE)
  gen     check, then write to --out DIR: plan.json, one <package>.rs environment module per
          component crate, and system.rs (the plan as Rust for the root task) when --image names
          every crate's built ELF
  build   check, generate into --out DIR/gen, build every component crate with cargo
          (SEL4RS_SYSTEM_GEN=DIR/gen), check again with the built images' sizes, write
          DIR/gen/system.rs and build the root task (--root PACKAGE) with it: DIR/rootserver.elf
          (SEL4_KERNEL, CARGO_TARGET_DIR and RUSTFLAGS pass through to cargo; RUSTFLAGS
          defaults to the position-independent flags of cmake/sel4-rust.cmake)
  c-header  check, then write the environment of --component NAME as a C header to --out FILE
          (capability slots, badges, threads, layout; for a component written in C, an `elf`
          component: its ELF need not exist yet)
options:
  --kernel DIR          kernel stage (folder with sel4-kernel.json): object sizes for the memory budgets
  --manifest FILE       Cargo.toml of the workspace holding the component crates
                        (default: [system] manifest, else the nearest workspace above the description)
  --no-crate-check      do not check that component crates exist (for descriptions whose crates are not written yet)
  --image NAME=FILE     built ELF of component NAME or of every component of crate NAME: its size
                        replaces image_size (gen: system.rs includes it)
  --out PATH            output file (plan) or folder (gen, build)
  --env-crate PATH      path of sel4-component-env in generated code (default ::sel4_component_env)
  --root PACKAGE        build: the root task's package (it includes DIR/gen/system.rs)
  --target TRIPLE       build: the Rust target (default x86_64-unknown-none)
  --search-path DIR     a folder where `elf` images are looked for when they are not next to the
                        description (repeatable, searched in order)
  --component NAME      c-header: the component";

pub fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = args.iter();
    let mut positional = Vec::new();
    while let Some(x) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match x.as_str() {
            "--kernel" => a.kernel = Some(value("--kernel")?.into()),
            "--manifest" => a.manifest = Some(value("--manifest")?.into()),
            "--no-crate-check" => a.no_crate_check = true,
            "--out" => a.out = Some(value("--out")?.into()),
            "--env-crate" => a.env_crate = Some(value("--env-crate")?),
            "--root" => a.root = Some(value("--root")?),
            "--target" => a.target = Some(value("--target")?),
            "--image" => {
                let v = value("--image")?;
                let (n, p) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--image {v}: write NAME=FILE"))?;
                a.images.insert(n.to_string(), p.into());
            }
            "--search-path" => a.search_path.push(value("--search-path")?.into()),
            "--component" => a.component = Some(value("--component")?),
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => positional.push(s.to_string()),
        }
    }
    match positional.as_slice() {
        [c, d] if ["check", "plan", "gen", "build", "c-header"].contains(&c.as_str()) => {
            a.command = c.clone();
            a.description = d.into();
            Ok(a)
        }
        [c, _] => Err(format!("unknown command {c}")),
        _ => Err("give a command and one description file".into()),
    }
}

/// The `objcopy` that reads images of Rust target `target`: the OBJCOPY
/// environment variable's if set (`objcopy`), else binutils' for the
/// target's architecture (Debian packages binutils,
/// binutils-aarch64-linux-gnu, binutils-riscv64-linux-gnu, which the
/// kernel build of those architectures needs too).
pub fn objcopy_for(target: &str, env: Option<std::ffi::OsString>) -> std::ffi::OsString {
    if let Some(o) = env {
        return o;
    }
    if target.starts_with("aarch64") {
        "aarch64-linux-gnu-objcopy".into()
    } else if target.starts_with("riscv64") {
        "riscv64-linux-gnu-objcopy".into()
    } else {
        "objcopy".into()
    }
}

#[cfg(test)]
mod objcopy_tests {
    use super::objcopy_for;

    #[test]
    fn objcopy_per_target() {
        assert_eq!(objcopy_for("x86_64-unknown-none", None), "objcopy");
        assert_eq!(
            objcopy_for("aarch64-unknown-none", None),
            "aarch64-linux-gnu-objcopy"
        );
        assert_eq!(
            objcopy_for("riscv64gc-unknown-none-elf", None),
            "riscv64-linux-gnu-objcopy"
        );
        assert_eq!(
            objcopy_for("aarch64-unknown-none", Some("llvm-objcopy".into())),
            "llvm-objcopy"
        );
    }
}
