//! A root task ELF as a boot target: what `cargo run` hands the runner
//! (`runner = "sel4-run"` in `.cargo/config.toml`).
//!
//! The runner checks the ELF's link ([`sel4_elf_reloc::check_root_task`]
//! and the kernel's architecture), refuses a root task that cannot run with
//! a message that names the fix, and otherwise writes a boot image folder
//! next to it, `<dir of the ELF>/sel4-boot/<ELF name>/` (`qemu-args` with
//! the program first, `sel4-kernel.json`, `rootserver.elf` and the boot
//! files, as the CMake glue's image folders have them), from a kernel stage:
//! - x86_64: `kernel32.elf` and the root task as QEMU's multiboot module;
//! - aarch64, riscv64: `image.elf` from the stage's `sel4-loader.elf` (or
//!   `--loader`), its kernel, device tree and RAM regions, and the root
//!   task, packed as `sel4-mkimage` does.
//!
//! QEMU's machine comes from the stage's `qemu-machine` file, which the
//! CMake glue writes (one argument a line, the program first), so a boot
//! here is the boot of a CMake image of the same kernel.

use sel4_elf_reloc::{check_root_task, LinkKind, LinkProblem, Machine, RootTaskLink};
use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable that names the kernel stage when `--stage` is
/// not given (the variable the target crates are built with).
pub const STAGE_ENV: &str = "SEL4_KERNEL";
/// The environment variable that names the loader when `--loader` is not
/// given.
pub const LOADER_ENV: &str = "SEL4RS_LOADER";
/// The stage file with the QEMU machine (program first, then arguments).
pub const QEMU_MACHINE_FILE: &str = "qemu-machine";
/// The loader in an aarch64 or riscv64 stage.
pub const STAGE_LOADER_FILE: &str = "sel4-loader.elf";
/// The folder, next to the ELF, that holds the boot image folders.
pub const BOOT_DIR: &str = "sel4-boot";

/// How root task ELFs are booted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootTaskOptions {
    /// The kernel stage (default: `$SEL4_KERNEL`).
    pub stage: Option<PathBuf>,
    /// aarch64, riscv64: the loader (default: `$SEL4RS_LOADER`, else the
    /// stage's `sel4-loader.elf`).
    pub loader: Option<PathBuf>,
    /// aarch64, riscv64: where a position-independent root task runs
    /// (default: its link address).
    pub user_vaddr: Option<u64>,
}

/// Whether `path` is a file that starts like an ELF file.
pub fn is_elf_file(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// The `sel4_arch` name of a machine, as stage manifests spell it.
pub fn arch_name(m: Machine) -> &'static str {
    match m {
        Machine::X86_64 => "x86_64",
        Machine::Aarch64 => "aarch64",
        Machine::Riscv => "riscv64",
    }
}

/// The Rust target root tasks of an architecture are built for.
pub fn rust_target(sel4_arch: &str) -> &'static str {
    match sel4_arch {
        "aarch64" => "aarch64-unknown-none",
        "riscv64" => "riscv64gc-unknown-none-elf",
        _ => "x86_64-unknown-none",
    }
}

/// What to do about a link problem.
fn fix(p: &LinkProblem) -> &'static str {
    match p {
        LinkProblem::Elf(_) | LinkProblem::EntryNotInCode { .. } => {
            "give the root task's ELF (target/<target>/release/<bin>)"
        }
        _ => {
            "link root tasks with the sel4rs link settings: build inside the sel4rs repository \
             (its .cargo/config.toml has them), or copy that file into your crate's .cargo/ \
             (docs/guide.md, \"A root server in its own crate\"); with CMake, \
             sel4rs_rootserver() passes them"
        }
    }
}

/// Checks the link of the root task in `bytes` (read from `elf`), and its
/// architecture against the stage's when `stage_arch` is given.
pub fn check_link(
    elf: &Path,
    bytes: &[u8],
    stage_arch: Option<&str>,
) -> Result<RootTaskLink, String> {
    let link = check_root_task(bytes).map_err(|p| {
        format!(
            "refusing to boot {}: {p}.\n  fix: {}",
            elf.display(),
            fix(&p)
        )
    })?;
    if let Some(arch) = stage_arch {
        let built = arch_name(link.machine);
        if built != arch {
            return Err(format!(
                "refusing to boot {}: it is built for {built}, the kernel stage is for {arch}.\n  \
                 fix: build it with --target {}, or use a kernel stage for {built}",
                elf.display(),
                rust_target(arch)
            ));
        }
    }
    Ok(link)
}

/// One line about a root task that passed the check.
pub fn describe(elf: &Path, link: &RootTaskLink) -> String {
    let mut s = format!("{}: {} ", elf.display(), arch_name(link.machine));
    match link.kind {
        LinkKind::StaticPie {
            relocations,
            packed,
        } => {
            let _ = write!(
                s,
                "static PIE, {relocations} relative relocations ({packed} packed),"
            );
        }
        LinkKind::Fixed => s.push_str("fixed-address executable,"),
    }
    let _ = write!(
        s,
        " image {:#x}..{:#x}, entry {:#x}: link ok",
        link.base, link.end, link.entry
    );
    s
}

/// The kernel stage of `opts`, or why there is none.
pub fn stage_dir(opts: &RootTaskOptions) -> Result<PathBuf, String> {
    match &opts.stage {
        Some(s) => Ok(s.clone()),
        None => match std::env::var_os(STAGE_ENV) {
            Some(s) if !s.is_empty() => Ok(PathBuf::from(s)),
            _ => Err(format!(
                "a root task ELF needs a kernel stage to boot with: pass --stage <dir> or set \
                 {STAGE_ENV}=<dir> (the folder with sel4-kernel.json and kernel.elf that a \
                 kernel build made, e.g. build/sel4-registry/kernel of scripts/boot-example.sh)"
            )),
        },
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// Checks the root task `elf` and writes its boot image folder (see the
/// module documentation); returns the folder. Says what it did on `out`.
pub fn prepare(elf: &Path, opts: &RootTaskOptions, out: &mut dyn Write) -> Result<PathBuf, String> {
    let stage_dir = stage_dir(opts)?;
    let stage = kernel_config::Stage::load(&stage_dir).map_err(|e| e.to_string())?;
    let bytes = read(elf, "root task")?;
    let link = check_link(elf, &bytes, Some(&stage.sel4_arch))?;
    if link.machine == Machine::X86_64 && opts.user_vaddr.is_some() {
        return Err(
            "--user-vaddr is for aarch64 and riscv64: on x86_64 the kernel maps the root task \
             at its link address"
                .to_string(),
        );
    }
    let kernel = stage_dir.join("kernel.elf");
    if !kernel.is_file() {
        return Err(format!(
            "kernel stage {} has no kernel.elf (a manifest-only stage of scripts/dev-stage.sh is \
             for cargo check, clippy and doc): boot with a stage a kernel build made",
            stage_dir.display()
        ));
    }
    let machine_file = stage_dir.join(QEMU_MACHINE_FILE);
    let machine = fs::read_to_string(&machine_file).map_err(|e| {
        format!(
            "kernel stage {}: cannot read {QEMU_MACHINE_FILE} ({e}), the QEMU machine its kernel \
             boots on, which the sel4rs CMake glue writes: rebuild the stage with it \
             (cmake --build <its build folder>)",
            stage_dir.display()
        )
    })?;
    let mut machine = machine.lines().map(str::trim).filter(|l| !l.is_empty());
    let program = machine
        .next()
        .ok_or_else(|| format!("{} is empty", machine_file.display()))?;
    // qemu-args with the program first (the runner's format; CMake's image
    // folders hold the program in qemu-binary instead).
    let mut args: Vec<String> = std::iter::once(program)
        .chain(machine)
        .map(str::to_string)
        .collect();

    let name = elf
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", elf.display()))?;
    let parent = elf.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = parent.unwrap_or(Path::new(".")).join(BOOT_DIR).join(name);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write(&dir.join("rootserver.elf"), &bytes)?;
    let manifest = stage.manifest_path();
    write(
        &dir.join(crate::run::KERNEL_MANIFEST_FILE),
        &read(&manifest, "stage manifest")?,
    )?;
    if link.machine == Machine::X86_64 {
        let k32 = stage_dir.join("kernel32.elf");
        write(&dir.join("kernel32.elf"), &read(&k32, "multiboot kernel")?)?;
        args.extend(["-kernel", "kernel32.elf", "-initrd", "rootserver.elf"].map(String::from));
    } else {
        let loader = opts
            .loader
            .clone()
            .or_else(|| {
                std::env::var_os(LOADER_ENV)
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| stage_dir.join(STAGE_LOADER_FILE));
        let loader_bytes = fs::read(&loader).map_err(|e| {
            format!(
                "cannot read the loader {} ({e}): the CMake glue puts sel4-loader.elf into \
                 {} stages; or build it in the sel4rs repository (cargo build --release --target \
                 {} -p sel4-loader) and pass --loader <its ELF> or {LOADER_ENV}",
                loader.display(),
                stage.sel4_arch,
                rust_target(&stage.sel4_arch)
            )
        })?;
        let (image, plan) =
            sel4_mkimage::pack_stage(&stage_dir, &loader_bytes, &bytes, opts.user_vaddr)
                .map_err(|e| format!("{}: {e}", elf.display()))?;
        write(&dir.join("image.elf"), &image)?;
        let _ = writeln!(out, "sel4-run: {}", sel4_mkimage::describe(&plan));
        args.extend(["-kernel", "image.elf"].map(String::from));
    }
    let mut text = String::new();
    for a in &args {
        text.push_str(a);
        text.push('\n');
    }
    write(&dir.join(crate::run::QEMU_ARGS_FILE), text.as_bytes())?;
    let _ = writeln!(
        out,
        "sel4-run: {}; seL4 {} ({}) from {}; boot files in {}",
        describe(elf, &link),
        stage.version,
        stage.sel4_arch,
        stage_dir.display(),
        dir.display()
    );
    Ok(dir)
}
