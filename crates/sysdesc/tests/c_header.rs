//! The environment of a component written in C (`sel4-system c-header`)
//! and where `elf` images are found (next to the description, then the
//! search path).

use std::path::{Path, PathBuf};

use sel4_sysdesc::codegen::c_header;
use sel4_sysdesc::plan::{CapPlan, Plan};
use sel4_sysdesc::{check, Options, Source};

/// The component bench's description (two C components).
fn bench_description() -> (PathBuf, String) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/components/bench/system.toml");
    let text = std::fs::read_to_string(&path).expect("the component bench's description");
    (path, text)
}

fn plan(path: &Path, text: &str, opts: &Options) -> Result<Plan, String> {
    let src = Source::new(path, text);
    let out = check(&src, opts);
    out.plan.ok_or_else(|| out.diagnostics.render(&src))
}

/// The header's `#define NAME NUMBER` lines.
fn defines(header: &str) -> Vec<(String, u64)> {
    header
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("#define")).then_some(())?;
            let name = w.next()?.to_string();
            let v = w.next()?.trim_end_matches(['U', 'L']);
            let v = match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok()?,
                None => v.parse().ok()?,
            };
            Some((name, v))
        })
        .collect()
}

fn define(header: &str, name: &str) -> Option<u64> {
    defines(header)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn missing_ok() -> Options {
    Options {
        elf_may_be_missing: true,
        ..Options::default()
    }
}

#[test]
fn the_header_names_the_slots_and_badges_of_the_plan() {
    let (path, text) = bench_description();
    let plan = plan(&path, &text, &missing_ok()).unwrap();
    let server = plan.component("c_server").unwrap();
    let h = c_header(&plan, "c_server").unwrap();
    let ep = server
        .slots
        .iter()
        .find(|s| matches!(&s.cap, CapPlan::Server { channel } if channel == "c"))
        .unwrap();
    assert_eq!(define(&h, "SEL4RS_CAP_BENCH"), Some(ep.slot), "{h}");
    assert_eq!(
        define(&h, "SEL4RS_THREAD_MAIN_TCB"),
        Some(server.threads[0].tcb_slot)
    );
    assert_eq!(
        define(&h, "SEL4RS_THREAD_MAIN_IPC_BUFFER"),
        Some(server.threads[0].ipc_buffer)
    );
    assert_eq!(
        define(&h, "SEL4RS_START_INFO"),
        Some(server.vspace.start_info)
    );
    assert_eq!(
        define(&h, "SEL4RS_FREE_START"),
        Some(server.cspace.free_start)
    );
    // Without a kernel the plan is not an MCS one: no reply object.
    assert_eq!(define(&h, "SEL4RS_THREAD_MAIN_REPLY"), None);
    assert!(h.contains("#ifndef SEL4RS_ENV_C_SERVER_H"));

    let client = plan.component("c_client").unwrap();
    let h = c_header(&plan, "c_client").unwrap();
    let (slot, badge) = client
        .slots
        .iter()
        .find_map(|s| match &s.cap {
            CapPlan::Client { channel, badge } if channel == "c" => Some((s.slot, *badge)),
            _ => None,
        })
        .unwrap();
    assert_eq!(define(&h, "SEL4RS_CAP_SERVER"), Some(slot));
    assert_eq!(define(&h, "SEL4RS_BADGE_SERVER"), Some(badge));
    assert_eq!(define(&h, "SEL4RS_CAP_BENCH"), None, "not the server's");
    assert!(c_header(&plan, "nobody")
        .unwrap_err()
        .contains("no component `nobody` (components: typed_server"));
    assert_eq!(define(&h, "SEL4RS_SLOT_CNODE"), Some(1));
}

#[test]
fn every_define_is_unique_and_the_header_compiles() {
    let (path, text) = bench_description();
    let plan = plan(&path, &text, &missing_ok()).unwrap();
    for c in &plan.components {
        let h = c_header(&plan, &c.name).unwrap();
        let names: Vec<String> = defines(&h).into_iter().map(|(n, _)| n).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(names.len(), unique.len(), "{h}");
        // With a C compiler at hand: the header is C (twice: the guard).
        let Ok(cc) = std::process::Command::new("cc").arg("--version").output() else {
            continue;
        };
        if !cc.status.success() {
            continue;
        }
        let dir = tempdir(&format!("hdr-{}", c.name));
        std::fs::write(dir.join("sel4rs_env.h"), &h).unwrap();
        std::fs::write(
            dir.join("t.c"),
            "#include \"sel4rs_env.h\"\n#include \"sel4rs_env.h\"\nunsigned long long f(void) { return SEL4RS_START_INFO + SEL4RS_FREE_END; }\n",
        )
        .unwrap();
        let out = std::process::Command::new("cc")
            .args(["-std=c11", "-Wall", "-Werror", "-fsyntax-only"])
            .arg(dir.join("t.c"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{h}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sel4rs-c-header-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A description of one C component next to nothing: its ELF is
/// `prog.elf`.
const ONE_C_COMPONENT: &str = r#"
[system]
name = "one"

[components.prog]
elf = "prog.elf"
priority = 100
budget = "64 MiB"
heap = 0
"#;

#[test]
fn an_elf_is_found_next_to_the_description_or_on_the_search_path() {
    let dir = tempdir("search");
    let desc = dir.join("desc").join("system.toml");
    std::fs::create_dir_all(desc.parent().unwrap()).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    // Any loadable ELF64 will do: this test program.
    let elf = std::fs::read(std::env::current_exe().unwrap()).unwrap();

    // Nowhere: an error naming every place looked at and the fix.
    let err = plan(
        &desc,
        ONE_C_COMPONENT,
        &Options {
            search_path: vec![out_dir.clone()],
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(err.contains("cannot find the ELF file `prog.elf`"), "{err}");
    assert!(
        err.contains(&out_dir.join("prog.elf").display().to_string()),
        "{err}"
    );
    assert!(err.contains("--search-path"), "{err}");

    // On the search path.
    std::fs::write(out_dir.join("prog.elf"), &elf).unwrap();
    let p = plan(
        &desc,
        ONE_C_COMPONENT,
        &Options {
            search_path: vec![dir.join("empty"), out_dir.clone()],
            ..Options::default()
        },
    )
    .unwrap();
    let path_of = |p: &Plan| match &p.components[0].image {
        sel4_sysdesc::plan::ImagePlan::Elf { path } => PathBuf::from(path),
        other => panic!("{other:?}"),
    };
    assert_eq!(path_of(&p), out_dir.join("prog.elf"));
    assert!(p.components[0].memory.image.is_some(), "its size is known");

    // Next to the description first.
    std::fs::write(desc.parent().unwrap().join("prog.elf"), &elf).unwrap();
    let p = plan(
        &desc,
        ONE_C_COMPONENT,
        &Options {
            search_path: vec![out_dir.clone()],
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(path_of(&p), desc.parent().unwrap().join("prog.elf"));
}

#[test]
fn names_one_in_c_are_an_error() {
    let text = format!(
        "{ONE_C_COMPONENT}\n[notifications.Go]\nwaiter = \"prog\"\n\n[notifications.go]\nwaiter = \"prog\"\n"
    );
    let plan = plan(Path::new("x/system.toml"), &text, &missing_ok()).unwrap();
    let err = c_header(&plan, "prog").unwrap_err();
    assert!(err.contains("become the C macro SEL4RS_CAP_GO"), "{err}");
}

#[test]
fn the_header_is_the_same_before_and_after_the_elf_is_built() {
    // The header is written before the component's ELF exists, so nothing
    // in it may depend on the image.
    let dir = tempdir("before-after");
    let desc = dir.join("system.toml");
    let before = plan(&desc, ONE_C_COMPONENT, &missing_ok()).unwrap();
    assert!(before.components[0].memory.image.is_none());
    std::fs::write(
        dir.join("prog.elf"),
        std::fs::read(std::env::current_exe().unwrap()).unwrap(),
    )
    .unwrap();
    let after = plan(&desc, ONE_C_COMPONENT, &Options::default()).unwrap();
    assert!(after.components[0].memory.image.is_some());
    assert_eq!(c_header(&before, "prog"), c_header(&after, "prog"));
}
