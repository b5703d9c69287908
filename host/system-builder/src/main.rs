//! `sel4-system`: checks a system description and writes its plan and the
//! components' environment modules. See `sel4-system --help` and
//! `docs/system-description.md`.

use std::process::ExitCode;

use sel4_sysdesc::codegen::{component_module, CodegenOptions};
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

fn run(args: &Args) -> Result<bool, String> {
    let text = std::fs::read_to_string(&args.description)
        .map_err(|e| format!("cannot read {}: {e}", args.description.display()))?;
    let src = Source::new(&args.description, text);
    let mut opts = Options::default();
    if let Some(k) = &args.kernel {
        opts.kernel = Some(kernel_facts(k)?);
    }
    for (name, path) in &args.images {
        let data = std::fs::read(path)
            .map_err(|e| format!("--image {name}: cannot read {}: {e}", path.display()))?;
        let (lo, hi) = sel4_elf_reloc_range(&data)
            .map_err(|e| format!("--image {name}: {}: {e}", path.display()))?;
        opts.images.insert(name.clone(), hi - lo);
    }
    if !args.no_crate_check {
        // the manifest: --manifest, else [system] manifest, else the nearest workspace
        let pre = sel4_sysdesc::parse::parse(&src, &mut Default::default());
        let manifest = match (
            &args.manifest,
            pre.as_ref().and_then(|d| d.system.manifest.clone()),
        ) {
            (Some(m), _) => Some(m.clone()),
            (None, Some(m)) => Some(src.dir().join(m.value)),
            (None, None) => find_workspace(src.dir()),
        };
        let manifest = manifest.ok_or_else(|| {
            format!(
                "no Cargo workspace above {}: give --manifest, or --no-crate-check",
                args.description.display()
            )
        })?;
        let pkgs = workspace_packages(&manifest)?;
        opts.packages = Some((pkgs, manifest.display().to_string()));
    }
    let out = check(&src, &opts);
    eprint!("{}", out.diagnostics.render(&src));
    let errors = out.diagnostics.error_count();
    let warnings = out
        .diagnostics
        .items
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let Some(plan) = out.plan else {
        eprintln!(
            "{}: {errors} error(s), {warnings} warning(s)",
            args.description.display()
        );
        return Ok(false);
    };
    if opts.kernel.is_none() {
        eprintln!("note: no --kernel given: kernel objects are left out of the memory budgets");
    }
    if opts.packages.is_none() {
        eprintln!("note: --no-crate-check: component crates were not looked up");
    }
    match args.command.as_str() {
        "check" => {
            eprintln!(
                "{}: ok ({} components, {} channels, {} notifications, {} regions; {warnings} warning(s))",
                args.description.display(),
                plan.components.len(),
                plan.channels.len(),
                plan.notifications.len(),
                plan.regions.len()
            );
        }
        "plan" => match &args.out {
            Some(p) => std::fs::write(p, plan.to_json())
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?,
            None => println!("{}", plan.to_json()),
        },
        _ => {
            let dir = args.out.as_ref().ok_or("gen needs --out DIR")?;
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let copts = CodegenOptions {
                env_crate: args
                    .env_crate
                    .clone()
                    .unwrap_or_else(|| CodegenOptions::default().env_crate),
            };
            std::fs::write(dir.join("plan.json"), plan.to_json()).map_err(|e| e.to_string())?;
            for c in &plan.components {
                let m = component_module(&plan, &c.name, &copts).expect("component of the plan");
                std::fs::write(dir.join(format!("{}.rs", c.name)), m).map_err(|e| e.to_string())?;
            }
            eprintln!(
                "wrote plan.json and {} environment modules to {}",
                plan.components.len(),
                dir.display()
            );
        }
    }
    Ok(true)
}

fn sel4_elf_reloc_range(data: &[u8]) -> Result<(u64, u64), String> {
    sel4_sysdesc::elf_load_range(data)
}
