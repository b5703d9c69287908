//! `sel4-run [options] <image-dir>...` / `sel4-run [options] -- <qemu command...>`
//! (see `sel4-run --help` and the `sel4_runner` library).

fn main() {
    std::process::exit(sel4_runner::main_with_args(std::env::args_os().skip(1)));
}
