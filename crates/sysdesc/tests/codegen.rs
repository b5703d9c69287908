//! The generated environment modules compile (against stub protocol crates
//! and `sel4-component-env`, with `cargo check`), bind through a runtime,
//! and a component that uses a channel with another protocol than the
//! description names does not compile.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sel4_sysdesc::codegen::{component_module, CodegenOptions};
use sel4_sysdesc::plan::Plan;
use sel4_sysdesc::{check, Options, Source};

const DEVICES: &str = r#"
[system]
name = "devices"
[components.uart]
crate = "kv-server"
priority = 200
budget = "1 MiB"
ioports = [{ name = "com2", base = 0x2f8, size = 8 }]
irqs = [{ name = "serial", pin = 3, trigger = "edge", vector = 3, notification = "events" }, { name = "nic", pcidev = "00:03.0", handle = 0, vector = 20 }]
[components.app]
crate = "kv-client"
priority = 100
budget = "1 MiB"
[channels.tty]
protocol = "uart_proto::Tty"
server = "uart"
clients = ["app"]
[notifications.events]
waiter = "uart"
bind = true
signallers = [{ component = "app", name = "kick" }]
[regions.hpet]
size = "4 KiB"
phys = 0xfed00000
maps = [{ component = "uart", perms = "rw" }]
[regions.log]
size = "8 KiB"
maps = [{ component = "uart" }, { component = "app", perms = "r" }]
"#;

fn plans() -> Vec<Plan> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../systems");
    let mut texts: Vec<(String, String)> = ["kv-store", "restart", "shared-ring"]
        .iter()
        .map(|s| {
            let p = root.join(s).join("system.toml");
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    texts.push(("devices.toml".into(), DEVICES.into()));
    texts
        .into_iter()
        .map(|(p, t)| {
            let src = Source::new(p, t);
            let out = check(
                &src,
                &Options {
                    packages: None,
                    ..common::options()
                },
            );
            assert!(
                !out.diagnostics.has_errors(),
                "{}",
                out.diagnostics.render(&src)
            );
            out.plan.unwrap()
        })
        .collect()
}

/// Writes a crate with every component's module of `plans` (module
/// `<system>_<component>`), stub protocol crates, and `usage` as extra code;
/// returns `cargo check`'s output.
fn cargo_check(name: &str, plans: &[Plan], usage: &str) -> std::process::Output {
    cargo_run("check", name, plans, usage, &[])
}

/// As [`cargo_check`], with `cargo <command>` and `extra` modules (file
/// name, module name, source) added to the crate.
fn cargo_run(
    command: &str,
    name: &str,
    plans: &[Plan],
    usage: &str,
    extra: &[(String, String, String)],
) -> std::process::Output {
    // One folder per test process: two test runs at once must not write
    // each other's crate.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("sysdesc-codegen")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    // stub protocol crates: one per crate root named by a protocol path
    let mut protos: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in plans {
        for ch in &p.channels {
            let (krate, ty) = ch.protocol.rsplit_once("::").unwrap();
            protos
                .entry(krate.to_string())
                .or_default()
                .push(ty.to_string());
        }
    }
    let mut deps = format!(
        "sel4-component-env = {{ path = {:?} }}\nsel4-ipc = {{ path = {:?} }}\n",
        repo.join("crates/component-env"),
        repo.join("crates/ipc")
    );
    for (krate, tys) in &protos {
        let pdir = dir.join("protos").join(krate);
        std::fs::create_dir_all(pdir.join("src")).unwrap();
        std::fs::write(
            pdir.join("Cargo.toml"),
            format!("[package]\nname = {krate:?}\nversion = \"0.0.0\"\nedition = \"2021\"\n[dependencies]\nsel4-ipc = {{ path = {:?} }}\n", repo.join("crates/ipc")),
        )
        .unwrap();
        let mut lib = String::from("#![no_std]\nsel4_ipc::message! { pub enum Req { Ping { v: u64 } = 1 } }\nsel4_ipc::message! { pub enum Resp { Pong { v: u64 } = 1 } }\n");
        let mut seen = std::collections::BTreeSet::new();
        for t in tys {
            if seen.insert(t) {
                lib.push_str(&format!("sel4_ipc::protocol!(pub {t}: Req => Resp);\n"));
            }
        }
        std::fs::write(pdir.join("src/lib.rs"), lib).unwrap();
        deps.push_str(&format!("{krate} = {{ path = \"protos/{krate}\" }}\n"));
    }
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"generated-envs-{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n[workspace]\n[dependencies]\n{deps}"),
    )
    .unwrap();
    let mut lib = String::from("#![no_std]\n#![deny(warnings)]\n");
    for p in plans {
        for c in &p.components {
            let m = component_module(p, &c.name, &CodegenOptions::default()).unwrap();
            let file = format!("{}_{}.rs", p.system.replace('-', "_"), c.name);
            std::fs::write(dir.join("src").join(&file), m).unwrap();
            lib.push_str(&format!(
                "pub mod {} {{ include!({file:?}); }}\n",
                file.trim_end_matches(".rs")
            ));
        }
    }
    for (file, module, source) in extra {
        std::fs::write(dir.join("src").join(file), source).unwrap();
        lib.push_str(&format!("pub mod {module} {{ include!({file:?}); }}\n"));
    }
    lib.push_str(usage);
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("sysdesc-codegen-target")
        .join(name);
    std::fs::create_dir_all(&target).unwrap();
    // The target folder is shared between runs (its dependencies stay
    // built), and two test runs at once (two kernels' test-all in one
    // checkout) would replace each other's libraries under rustdoc: one
    // build at a time, held until its run is done.
    let _lock = DirLock::take(target.join(".generated-envs.lockdir"));
    Command::new(cargo)
        .args([command, "--offline", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap()
}

/// A lock held while a folder exists (`create_dir` is atomic), released
/// on drop; a lock whose holder is gone (a killed run) is taken over.
/// (`File::lock` needs a newer Rust than the workspace's rust-version.)
struct DirLock(PathBuf);

impl DirLock {
    fn take(path: PathBuf) -> DirLock {
        loop {
            if std::fs::create_dir(&path).is_ok() {
                std::fs::write(path.join("pid"), std::process::id().to_string()).unwrap();
                return DirLock(path);
            }
            if path.exists() && !path.is_dir() {
                // Not a lock of ours.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            // No pid yet: the holder has just made the folder.
            let gone = std::fs::read_to_string(path.join("pid"))
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if gone {
                let _ = std::fs::remove_dir_all(&path);
                continue;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Code a component would write: bind the environment and use its fields
/// with the protocols the description names.
const USAGE: &str = r#"
use sel4_component_env::{ClientCap, Describe, DeviceRegion, IoPortRange, IrqCap, ServerCap, SharedRegion, SignalCap, WaitCap};

pub fn use_envs() {
    let a = kv_store_client_a::Env::bind(&mut Describe("client_a")).unwrap();
    let _: ClientCap<kv_proto::Kv> = a.store;
    let _: ClientCap<kv_proto::Log> = a.log;
    let kv = kv_store_kv::Env::bind(&mut Describe("kv")).unwrap();
    let _: ServerCap<kv_proto::Kv> = kv.requests;
    let _: ClientCap<kv_proto::Log> = kv.log;
    let uart = devices_uart::Env::bind(&mut Describe("uart")).unwrap();
    let _: ServerCap<uart_proto::Tty> = uart.tty;
    let _: WaitCap = uart.events;
    let _: IrqCap = uart.serial;
    let _: IrqCap = uart.nic;
    let _: IoPortRange = uart.com2;
    let _: DeviceRegion = uart.hpet;
    let _: SharedRegion = uart.log;
    let app = devices_app::Env::bind(&mut Describe("app")).unwrap();
    let _: SignalCap = app.kick;
    let ring = shared_ring_consumer::Env::bind(&mut Describe("consumer")).unwrap();
    let _: SharedRegion = ring.ring;
    let _: WaitCap = ring.data_ready;
    let _ = (shared_ring_producer::NAME, restart_counter::FREE_SLOTS, restart_flaky::THREADS);
}
"#;

#[test]
fn generated_modules_compile_and_bind() {
    let out = cargo_check("good", &plans(), USAGE);
    assert!(
        out.status.success(),
        "cargo check failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_channel_used_with_another_protocol_does_not_compile() {
    // client_a's `store` is a kv_proto::Kv channel; code written against
    // kv_proto::Log must be rejected by the compiler.
    let wrong = r#"
fn speak_log<R: sel4_component_env::Runtime>(_c: R::Client<kv_proto::Log>) {}
pub fn wrong<R: sel4_component_env::Runtime>(rt: &mut R) {
    if let Ok(env) = kv_store_client_a::Env::<R>::bind(rt) {
        speak_log::<R>(env.store);
    }
}
"#;
    let out = cargo_check("wrong-protocol", &plans(), wrong);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a mismatched protocol compiled");
    assert!(
        err.contains("E0308") && err.contains("Kv") && err.contains("Log"),
        "unexpected error:\n{err}"
    );
}

/// One crate built for two components (kv-store's client_a and client_b
/// share kv-store-client): one module, one `Env` type, each component
/// bound to its own capabilities by its name; and the system module of the
/// root task (the plan as `'static` tables, the images included) compiles
/// and says what the plan says.
#[test]
fn a_shared_crate_binds_each_component_and_the_system_module_compiles() {
    let plans = plans();
    let kv = &plans[0];
    let opts = CodegenOptions::default();
    let client = sel4_sysdesc::codegen::crate_module(kv, "kv-store-client", &opts).unwrap();
    let img_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sysdesc-images-{}", std::process::id()));
    std::fs::create_dir_all(&img_dir).unwrap();
    let files: Vec<String> = sel4_sysdesc::codegen::images(kv)
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let f = img_dir.join(format!("image{i}.elf"));
            std::fs::write(&f, format!("image {i}")).unwrap();
            f.display().to_string()
        })
        .collect();
    let system = sel4_sysdesc::codegen::system_module(kv, &files, &opts);
    let badge_of = |c: &str| {
        kv.channels[0]
            .clients
            .iter()
            .find(|x| x.component == c)
            .unwrap()
            .badge
    };
    let usage = format!(
        r#"
#[cfg(test)]
extern crate std;
#[cfg(test)]
use std::{{format, vec::Vec}};

#[test]
fn bind_by_name() {{
    use sel4_component_env::{{ClientCap, Describe}};
    assert_eq!(client::COMPONENTS, ["client_a", "client_b"]);
    let a = client::Env::bind(&mut Describe("client_a")).unwrap();
    let b = client::Env::bind(&mut Describe("client_b")).unwrap();
    let (a, b): (ClientCap<kv_proto::Kv>, ClientCap<kv_proto::Kv>) = (a.store, b.store);
    assert_eq!((a.badge, b.badge), ({}, {}));
    assert!(client::Env::bind(&mut Describe("kv")).is_err());
    assert_eq!(client::client_b::NAME, "client_b");
}}

#[test]
fn the_plan_as_rust() {{
    let p = &system::PLAN;
    assert_eq!(p.name, "kv-store");
    assert_eq!(p.components.len(), {});
    let a = p.component_index("client_a").unwrap();
    let b = p.component_index("client_b").unwrap();
    assert_eq!(p.components[a].image, p.components[b].image);
    assert_eq!(system::IMAGES.len(), {});
    assert_eq!(system::IMAGES[p.components[a].image], format!("image {{}}", p.components[a].image).as_bytes());
    assert!(p.components[p.component_index("kv").unwrap()].serves());
    assert!(!p.components[a].serves());
    // servers first
    assert_eq!(p.start_order[0], p.component_index("logger").unwrap());
    assert_eq!(p.channels[0].clients.iter().map(|c| c.1).collect::<Vec<_>>(), [{}, {}]);
}}
"#,
        badge_of("client_a"),
        badge_of("client_b"),
        kv.components.len(),
        files.len(),
        badge_of("client_a"),
        badge_of("client_b"),
    );
    let extra = [
        ("client.rs".to_string(), "client".to_string(), client),
        ("system.rs".to_string(), "system".to_string(), system),
    ];
    let out = cargo_run("test", "shared-crate", &plans[..1], &usage, &extra);
    assert!(
        out.status.success(),
        "cargo test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
