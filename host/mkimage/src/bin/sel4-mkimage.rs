//! sel4-mkimage: loader + kernel stage + root server -> one bootable ELF.
//!
//! ```text
//! sel4-mkimage --stage <kernel stage> --loader <sel4-loader ELF>
//!              --rootserver <root server ELF> [--user-vaddr <address>]
//!              -o <image.elf>
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: sel4-mkimage --stage <kernel stage folder> --loader <sel4-loader ELF> \
                     --rootserver <root server ELF> [--user-vaddr <address>] -o <output ELF>";

fn read(path: &PathBuf, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

fn run() -> Result<(), String> {
    let mut stage = None;
    let mut loader = None;
    let mut rootserver = None;
    let mut user_vaddr = None;
    let mut out = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let a = a.to_string_lossy().into_owned();
        if a == "-h" || a == "--help" {
            println!("{USAGE}");
            return Ok(());
        }
        let mut value = || {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--stage" => stage = Some(value()?),
            "--loader" => loader = Some(value()?),
            "--rootserver" => rootserver = Some(value()?),
            "-o" | "--output" => out = Some(value()?),
            "--user-vaddr" => {
                let v = value()?;
                let s = v.to_string_lossy();
                user_vaddr = Some(sel4_mkimage::parse_number(&s).ok_or_else(|| {
                    format!("--user-vaddr {s}: not a number (decimal or 0x hexadecimal)")
                })?);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let need =
        |v: Option<PathBuf>, name: &str| v.ok_or_else(|| format!("{name} is missing\n{USAGE}"));
    let (stage_dir, loader, rootserver, out) = (
        need(stage, "--stage")?,
        need(loader, "--loader")?,
        need(rootserver, "--rootserver")?,
        need(out, "-o")?,
    );
    let loader_bytes = read(&loader, "loader ELF")?;
    let rs = read(&rootserver, "root server ELF")?;
    let (image, plan) = sel4_mkimage::pack_stage(&stage_dir, &loader_bytes, &rs, user_vaddr)
        .map_err(|e| format!("{}: {e}", rootserver.display()))?;
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, &image).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!(
        "sel4-mkimage: {} ({} bytes): {}",
        out.display(),
        image.len(),
        sel4_mkimage::describe(&plan)
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sel4-mkimage: error: {e}");
            ExitCode::FAILURE
        }
    }
}
