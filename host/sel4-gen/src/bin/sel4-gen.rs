//! `sel4-gen <stage>`: prints the Rust source generated for a kernel stage
//! (what sel4-sys's build script writes to `$OUT_DIR/generated.rs`).
//! `sel4-gen --inputs <stage>` lists the files it reads instead.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (inputs, stage) = match args.as_slice() {
        [s] if !s.starts_with('-') => (false, s.clone()),
        [f, s] if f == "--inputs" => (true, s.clone()),
        _ => {
            eprintln!("usage: sel4-gen [--inputs] <stage folder with sel4-kernel.json>");
            return ExitCode::from(2);
        }
    };
    let result = sel4_gen::Stage::load(&stage).and_then(|s| sel4_gen::collect(&s));
    match result {
        Ok(t) if inputs => {
            for p in &t.inputs {
                println!("{}", p.display());
            }
            ExitCode::SUCCESS
        }
        Ok(t) => {
            print!("{}", sel4_gen::emit(&t));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sel4-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
