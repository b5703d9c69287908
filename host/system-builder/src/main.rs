//! `sel4-system`: checks a system description, writes its plan and the
//! components' environment modules, and builds a whole system (components
//! and the root task that carries them). See `sel4-system --help` and
//! `docs/system-description.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use sel4_sysdesc::codegen::{c_header, crate_module, images, system_module, CodegenOptions};
use sel4_sysdesc::plan::{ImagePlan, Plan};
use sel4_sysdesc::{check, Options, Severity, Source};
use sel4_system_builder::*;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sel4-system: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sel4-system: {e}");
            ExitCode::from(2)
        }
    }
}

/// The description checked with `images` (component or crate name ->
/// ELF file): the plan, or `None` after printing the errors.
fn checked(
    args: &Args,
    src: &Source,
    images: &BTreeMap<String, PathBuf>,
) -> Result<Option<Plan>, String> {
    let mut opts = Options {
        search_path: args.search_path.clone(),
        elf_may_be_missing: args.command == "c-header",
        ..Options::default()
    };
    // `build` builds for the kernel of SEL4_KERNEL when --kernel is not
    // given.
    let kernel = args.kernel.clone().or_else(|| {
        (args.command == "build")
            .then(|| std::env::var_os("SEL4_KERNEL").map(PathBuf::from))
            .flatten()
    });
    if let Some(k) = &kernel {
        opts.kernel = Some(kernel_facts(k)?);
    }
    if !args.no_crate_check {
        let manifest = manifest_of(args, src)?;
        let pkgs = workspace_packages(&manifest)?;
        opts.packages = Some((pkgs, manifest.display().to_string()));
    }
    // Image sizes: by component, or for every component of a crate.
    let pre = sel4_sysdesc::parse::parse(src, &mut Default::default());
    for (name, path) in images {
        let data = std::fs::read(path)
            .map_err(|e| format!("--image {name}: cannot read {}: {e}", path.display()))?;
        let (lo, hi) = sel4_sysdesc::elf_load_range(&data)
            .map_err(|e| format!("--image {name}: {}: {e}", path.display()))?;
        let mut matched = false;
        if let Some(d) = &pre {
            for c in &d.components {
                let of_crate = matches!(&c.image.value, sel4_sysdesc::model::ImageSource::Crate(p) if p == name);
                if c.name.value == *name || of_crate {
                    opts.images.insert(c.name.value.clone(), hi - lo);
                    matched = true;
                }
            }
        }
        if !matched {
            opts.images.insert(name.clone(), hi - lo);
        }
    }
    let out = check(src, &opts);
    eprint!("{}", out.diagnostics.render(src));
    let errors = out.diagnostics.error_count();
    let warnings = out
        .diagnostics
        .items
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    match out.plan {
        None => {
            eprintln!(
                "{}: {errors} error(s), {warnings} warning(s)",
                args.description.display()
            );
            Ok(None)
        }
        Some(plan) => {
            if opts.kernel.is_none() {
                eprintln!(
                    "note: no --kernel given: kernel objects are left out of the memory budgets"
                );
            }
            if opts.packages.is_none() {
                eprintln!("note: --no-crate-check: component crates were not looked up");
            }
            Ok(Some(plan))
        }
    }
}

/// The manifest of the workspace holding the component crates: --manifest,
/// else `[system] manifest`, else the nearest workspace above the file.
fn manifest_of(args: &Args, src: &Source) -> Result<PathBuf, String> {
    let pre = sel4_sysdesc::parse::parse(src, &mut Default::default());
    let manifest = match (
        &args.manifest,
        pre.as_ref().and_then(|d| d.system.manifest.clone()),
    ) {
        (Some(m), _) => Some(m.clone()),
        (None, Some(m)) => Some(src.dir().join(m.value)),
        (None, None) => find_workspace(src.dir()),
    };
    manifest.ok_or_else(|| {
        format!(
            "no Cargo workspace above {}: give --manifest, or --no-crate-check",
            args.description.display()
        )
    })
}

fn codegen_options(args: &Args) -> CodegenOptions {
    CodegenOptions {
        env_crate: args
            .env_crate
            .clone()
            .unwrap_or_else(|| CodegenOptions::default().env_crate),
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    // Unchanged files keep their time stamp (cargo rebuilds less).
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes plan.json and the crates' environment modules into `dir`; with
/// every image known, system.rs too. Returns whether system.rs was written.
fn generate(
    args: &Args,
    plan: &Plan,
    dir: &Path,
    images_by_name: &BTreeMap<String, PathBuf>,
) -> Result<bool, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let copts = codegen_options(args);
    write(&dir.join("plan.json"), &plan.to_json())?;
    let mut crates = 0;
    for img in images(plan) {
        if let ImagePlan::Crate { package } = &img {
            let m = crate_module(plan, package, &copts).expect("a crate of the plan");
            write(&dir.join(format!("{package}.rs")), &m)?;
            crates += 1;
        }
    }
    // The image of each entry of the image table, if known.
    let mut files = Vec::new();
    for img in images(plan) {
        let file = match &img {
            ImagePlan::Elf { path } => Some(PathBuf::from(path)),
            ImagePlan::Crate { package } => images_by_name.get(package).cloned().or_else(|| {
                plan.components
                    .iter()
                    .filter(|c| c.image == img)
                    .find_map(|c| images_by_name.get(&c.name).cloned())
            }),
        };
        match file.map(|f| std::fs::canonicalize(&f).unwrap_or(f)) {
            Some(f) => files.push(f.display().to_string()),
            None => break,
        }
    }
    let complete = files.len() == images(plan).len();
    if complete {
        write(&dir.join("system.rs"), &system_module(plan, &files, &copts))?;
    }
    eprintln!(
        "wrote plan.json, {crates} environment module(s){} to {}",
        if complete { " and system.rs" } else { "" },
        dir.display()
    );
    Ok(complete)
}

/// `p` as an absolute path (cargo runs in the workspace's folder).
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `cargo build --release --target T -p ...` with the system's generated
/// folder, run in the workspace's folder: the link settings are the
/// workspace's `.cargo/config.toml` (the one place of them; CMake passes
/// the same flags in RUSTFLAGS). Returns the built binaries' folder.
fn cargo_build(args: &Args, gen: &Path, packages: &[String]) -> Result<PathBuf, String> {
    let target = args
        .target
        .clone()
        .unwrap_or_else(|| "x86_64-unknown-none".into());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", &target]);
    let manifest = match &args.manifest {
        Some(m) => absolute(m),
        None => find_workspace(Path::new(".")).ok_or("no Cargo workspace here: give --manifest")?,
    };
    cmd.arg("--manifest-path").arg(&manifest);
    if let Some(dir) = manifest.parent() {
        cmd.current_dir(dir);
    }
    // Paths of the environment, made absolute for the workspace's folder.
    for var in ["SEL4_KERNEL", "CARGO_TARGET_DIR"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, absolute(Path::new(&v)));
        }
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    cmd.env("SEL4RS_SYSTEM_GEN", absolute(gen));
    if let Some(k) = &args.kernel {
        cmd.env("SEL4_KERNEL", absolute(k));
    }
    eprintln!("sel4-system: cargo build -p {}", packages.join(" -p "));
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build of {} failed", packages.join(", ")));
    }
    // Where cargo put the binaries.
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => absolute(Path::new(&d)),
        None => manifest
            .parent()
            .map(|p| p.join("target"))
            .ok_or("no target folder")?,
    };
    Ok(target_dir.join(target).join("release"))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    if std::fs::read(from).ok() == std::fs::read(to).ok() && to.exists() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

/// Copies a built component image without its debug sections (the root
/// task carries every image in its own image, whose frames each cost it a
/// capability slot; the symbol table stays: the supervisor finds the
/// runtime's reply stub and thread entry in it). `objcopy` of binutils for
/// the target's architecture, or the program named by OBJCOPY
/// (`sel4_system_builder::objcopy_for`).
fn strip_into(target: &str, from: &Path, to: &Path) -> Result<(), String> {
    let objcopy = sel4_system_builder::objcopy_for(target, std::env::var_os("OBJCOPY"));
    let tmp = to.with_extension("elf.tmp");
    let status = Command::new(&objcopy)
        .arg("--strip-debug")
        .arg(from)
        .arg(&tmp)
        .status()
        .map_err(|e| {
            format!(
                "cannot run {}: {e} (install the Debian package binutils, binutils-aarch64-linux-gnu or binutils-riscv64-linux-gnu for the target, or set OBJCOPY)",
                Path::new(&objcopy).display()
            )
        })?;
    if !status.success() {
        return Err(format!("objcopy --strip-debug {} failed", from.display()));
    }
    if std::fs::read(&tmp).ok() == std::fs::read(to).ok() && to.exists() {
        let _ = std::fs::remove_file(&tmp);
        return Ok(());
    }
    std::fs::rename(&tmp, to).map_err(|e| format!("cannot write {}: {e}", to.display()))
}

fn build(args: &Args, src: &Source) -> Result<bool, String> {
    let out = args.out.as_ref().ok_or("build needs --out DIR")?;
    let root = args.root.as_ref().ok_or("build needs --root PACKAGE")?;
    let gen = out.join("gen");
    let image_dir = out.join("images");
    std::fs::create_dir_all(&image_dir)
        .map_err(|e| format!("cannot create {}: {e}", image_dir.display()))?;
    let gen = std::fs::canonicalize(out)
        .map(|o| o.join("gen"))
        .unwrap_or(gen);
    // 1. The description as written.
    let Some(plan) = checked(args, src, &args.images)? else {
        return Ok(false);
    };
    generate(args, &plan, &gen, &args.images)?;
    // 2. The component crates, with their environment modules.
    let packages: Vec<String> = images(&plan)
        .into_iter()
        .filter_map(|i| match i {
            ImagePlan::Crate { package } => Some(package),
            ImagePlan::Elf { .. } => None,
        })
        .collect();
    let mut built = args.images.clone();
    if !packages.is_empty() {
        let bin = cargo_build(args, &gen, &packages)?;
        for p in &packages {
            let to = image_dir.join(format!("{p}.elf"));
            let target = args.target.as_deref().unwrap_or("x86_64-unknown-none");
            strip_into(target, &bin.join(p), &to)?;
            built.insert(p.clone(), to);
        }
    }
    // 3. Again with the built images' sizes; the plan as Rust.
    let Some(plan) = checked(args, src, &built)? else {
        return Ok(false);
    };
    if !generate(args, &plan, &gen, &built)? {
        return Err("an image of the system is missing".into());
    }
    // 4. The root task that carries them.
    let bin = cargo_build(args, &gen, std::slice::from_ref(root))?;
    let elf = out.join("rootserver.elf");
    copy(&bin.join(root), &elf)?;
    eprintln!(
        "sel4-system: {} ({} components, {} images) -> {}",
        plan.system,
        plan.components.len(),
        images(&plan).len(),
        elf.display()
    );
    Ok(true)
}

fn run(args: &Args) -> Result<bool, String> {
    let text = std::fs::read_to_string(&args.description)
        .map_err(|e| format!("cannot read {}: {e}", args.description.display()))?;
    let src = Source::new(&args.description, text);
    if args.command == "build" {
        return build(args, &src);
    }
    let Some(plan) = checked(args, &src, &args.images)? else {
        return Ok(false);
    };
    match args.command.as_str() {
        "check" => {
            eprintln!(
                "{}: ok ({} components, {} channels, {} notifications, {} regions)",
                args.description.display(),
                plan.components.len(),
                plan.channels.len(),
                plan.notifications.len(),
                plan.regions.len()
            );
        }
        "c-header" => {
            let name = args
                .component
                .as_deref()
                .ok_or("c-header needs --component NAME")?;
            let out = args.out.as_ref().ok_or("c-header needs --out FILE")?;
            let text = c_header(&plan, name)
                .map_err(|e| format!("{}: {e}", args.description.display()))?;
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            write(out, &text)?;
        }
        "plan" => match &args.out {
            Some(p) => std::fs::write(p, plan.to_json())
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?,
            None => println!("{}", plan.to_json()),
        },
        _ => {
            let dir = args.out.as_ref().ok_or("gen needs --out DIR")?;
            generate(args, &plan, dir, &args.images)?;
        }
    }
    Ok(true)
}
