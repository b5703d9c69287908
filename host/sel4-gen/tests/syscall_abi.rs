//! sel4-sys's syscall ABI constants (`arch::syscall_abi` in
//! `sel4-sys/src/arch/<arch>.rs`) against the inline asm of the same file:
//! every operand of every syscall asm block (the ones with the syscall
//! instruction) must sit in the register the constants name for what it
//! carries. The constants are what the supervisor's reply stub and the test
//! suite write into a thread's `UserContext`; the asm is what a syscall
//! really loads. Read as text, so that the three architectures are checked
//! on any host.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The file of `arch`.
fn arch_file(arch: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../sel4-sys/src/arch")
        .join(format!("{arch}.rs"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The `&str` constants of `pub mod syscall_abi { ... }` (MRS as `MRS0` to
/// `MRS3`).
fn constants(src: &str) -> BTreeMap<String, String> {
    let start = src
        .find("pub mod syscall_abi {")
        .expect("no `pub mod syscall_abi` in the arch file");
    let body = &src[start..];
    let body = &body[..body.find("\n}\n").expect("the end of `mod syscall_abi`")];
    let mut out = BTreeMap::new();
    for line in body.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("pub const ") else {
            continue;
        };
        let (name, rest) = rest.split_once(':').expect("a constant's type");
        let Some((_, value)) = rest.split_once('=') else {
            continue;
        };
        let strings: Vec<&str> = value.split('"').skip(1).step_by(2).collect();
        match strings.as_slice() {
            [] => {}
            [one] => {
                out.insert(name.to_string(), one.to_string());
            }
            many => {
                for (i, s) in many.iter().enumerate() {
                    out.insert(format!("{name}{i}"), s.to_string());
                }
            }
        }
    }
    out
}

/// What an operand expression of the syscall asm carries, as the name of
/// its constant.
fn meaning(expr: &str) -> Option<String> {
    let expr = expr.trim();
    let m = match expr {
        "sys" => "SYSCALL",
        "cap" | "src" | "regs.cap_or_badge" | "r.cap_or_badge" => "CAP",
        "info" | "regs.info" | "r.info" => "INFO",
        "reply" => "REPLY",
        "nbsr_dest" => "NBSR_DEST",
        _ => {
            let i = expr
                .strip_prefix("regs.mr[")
                .or_else(|| expr.strip_prefix("r.mr["))?
                .strip_suffix(']')?;
            return Some(format!("MRS{i}"));
        }
    };
    Some(m.to_string())
}

/// The (register, expression) operands of every asm block of `src` that
/// contains `insn`, and how many such blocks there are.
fn syscall_operands(src: &str, insn: &str) -> (Vec<(String, String)>, usize) {
    let mut ops = Vec::new();
    let mut blocks = 0;
    for block in src.split("core::arch::asm!(").skip(1) {
        let block = &block[..block.find(");").expect("the end of an asm block")];
        if !block.contains(&format!("\"{insn}\"")) {
            continue;
        }
        blocks += 1;
        for line in block.lines().map(str::trim) {
            let Some((kind, rest)) = line.split_once("(\"") else {
                continue;
            };
            if !["in", "inout", "out", "lateout"].contains(&kind) {
                continue;
            }
            let (reg, expr) = rest.split_once("\")").expect("a register operand");
            // `in_expr => out_expr`: the input says what it carries, unless it is `_`.
            let expr = expr.trim().trim_end_matches(',');
            let (input, output) = expr.split_once("=>").unwrap_or((expr, expr));
            let expr = if input.trim() == "_" { output } else { input };
            ops.push((reg.to_string(), expr.trim().to_string()));
        }
    }
    (ops, blocks)
}

fn check(arch: &str, insn: &str) {
    let src = arch_file(arch);
    let c = constants(&src);
    for name in [
        "SYSCALL",
        "CAP",
        "INFO",
        "MRS0",
        "MRS1",
        "MRS2",
        "MRS3",
        "REPLY",
        "NBSR_DEST",
        "SYSCALL_SP",
    ] {
        assert!(c.contains_key(name), "{arch}: syscall_abi has no {name}");
    }
    let (ops, blocks) = syscall_operands(&src, insn);
    assert!(
        blocks >= 2,
        "{arch}: found {blocks} asm blocks with {insn:?}"
    );
    let mut seen = 0;
    for (reg, expr) in &ops {
        let Some(m) = meaning(expr) else { continue };
        let want = &c[&m];
        assert_eq!(
            reg, want,
            "{arch}: the asm passes `{expr}` in {reg}, the syscall ABI constant {m} says {want}"
        );
        seen += 1;
    }
    // Every syscall block passes at least the number and the capability.
    assert!(
        seen >= 2 * blocks,
        "{arch}: only {seen} operands recognised in {blocks} syscall asm blocks"
    );
    for m in ["SYSCALL", "CAP", "INFO", "MRS3", "REPLY", "NBSR_DEST"] {
        assert!(
            ops.iter().any(|(_, e)| meaning(e).as_deref() == Some(m)),
            "{arch}: no syscall asm operand carries {m}"
        );
    }
}

#[test]
fn x86_64_syscall_abi_matches_its_asm() {
    check("x86_64", "syscall");
    // The stack pointer: kept in the register SYSCALL_SP names.
    let src = arch_file("x86_64");
    let sp = &constants(&src)["SYSCALL_SP"];
    let (_, blocks) = syscall_operands(&src, "syscall");
    let kept = src
        .split("core::arch::asm!(")
        .filter(|b| b.contains("\"syscall\""))
        .filter(|b| {
            b.contains(&format!("\"mov {sp}, rsp\"")) && b.contains(&format!("\"mov rsp, {sp}\""))
        })
        .count();
    assert_eq!(
        kept, blocks,
        "x86_64: a syscall asm block keeps rsp elsewhere than {sp}"
    );
}

#[test]
fn aarch64_syscall_abi_matches_its_asm() {
    check("aarch64", "svc #0");
    assert_eq!(constants(&arch_file("aarch64"))["SYSCALL_SP"], "sp");
}

#[test]
fn riscv64_syscall_abi_matches_its_asm() {
    check("riscv64", "ecall");
    assert_eq!(constants(&arch_file("riscv64"))["SYSCALL_SP"], "sp");
}
