//! `sel4-size <elf> [--name NAME] [--target BYTES] [--top N]`: prints the
//! size figure of a root task's image (`size NAME stripped=N target=N`,
//! the size of the file `strip` makes of it) and where the bytes go:
//! sections, crates, the largest symbols (`sel4_size_report`).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn usage() -> ExitCode {
    eprintln!("usage: sel4-size <elf with symbols> [--name NAME] [--target BYTES] [--top N]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut elf_path: Option<PathBuf> = None;
    let mut name: Option<String> = None;
    let mut target = 32 * 1024u64;
    let mut top = 20usize;
    while let Some(a) = args.next() {
        let mut value = |flag: &str| {
            args.next().ok_or_else(|| {
                eprintln!("error: {flag} needs a value");
            })
        };
        match a.as_str() {
            "--name" => match value("--name") {
                Ok(v) => name = Some(v),
                Err(()) => return usage(),
            },
            "--target" | "--top" => {
                let Ok(v) = value(&a) else { return usage() };
                let Ok(n) = v.parse::<u64>() else {
                    eprintln!("error: {a} {v}: give a number");
                    return usage();
                };
                if a == "--target" {
                    target = n;
                } else {
                    top = n as usize;
                }
            }
            _ if a.starts_with('-') => {
                eprintln!("error: unknown option {a}");
                return usage();
            }
            _ if elf_path.is_none() => elf_path = Some(PathBuf::from(a)),
            _ => return usage(),
        }
    }
    let Some(elf_path) = elf_path else {
        return usage();
    };
    let name = name.unwrap_or_else(|| {
        elf_path
            .file_stem()
            .map_or("image".into(), |s| s.to_string_lossy().into_owned())
    });
    let data = match std::fs::read(&elf_path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: reading {}: {e}", elf_path.display());
            return ExitCode::FAILURE;
        }
    };
    let elf = match sel4_size_report::Elf::parse(&data) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {}: {e}", elf_path.display());
            return ExitCode::FAILURE;
        }
    };
    if elf.symbols.is_empty() {
        eprintln!(
            "error: {} has no symbol table: give the build's unstripped ELF",
            elf_path.display()
        );
        return ExitCode::FAILURE;
    }
    // The figure: what `strip` leaves (binutils, as the other scripts use).
    let out =
        std::env::temp_dir().join(format!("sel4-size-{}-{name}.stripped", std::process::id()));
    let status = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(&elf_path)
        .status();
    let stripped = match status {
        Ok(s) if s.success() => std::fs::metadata(&out).map(|m| m.len()),
        Ok(s) => {
            eprintln!("error: strip {} failed ({s})", elf_path.display());
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: running strip: {e} (install binutils)");
            return ExitCode::FAILURE;
        }
    };
    let _ = std::fs::remove_file(&out);
    let stripped = match stripped {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: reading the stripped file: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!(
        "{}",
        sel4_size_report::report(&name, &elf, stripped, target, top)
    );
    ExitCode::SUCCESS
}
