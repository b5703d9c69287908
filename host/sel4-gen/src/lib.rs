//! Generators for `sel4-sys`: syscall numbers, invocation labels, error codes,
//! object types, constants and bitfield types of one seL4 kernel (a *stage*,
//! see `docs/design.md`), read from the kernel's own interface files at build
//! time and written out as Rust source.
//!
//! ```no_run
//! let stage = kernel_config::Stage::load("/path/to/stage").unwrap();
//! let rust_source = sel4_gen::generate(&stage).unwrap();
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use kernel_config::{self, Config, Error, KernelFiles, Stage, Value};

pub mod api;
pub mod bitfield;
pub mod cheader;
pub mod cpp;
mod emit;
pub mod interface;
pub mod names;

pub use emit::{emit, screaming_snake, snake_case};
pub use interface::{Condition, Invocations, SyscallDef, Syscalls};
pub use names::{NameSet, Names};

/// Everything the generated source is made of.
#[derive(Debug, Clone)]
pub struct Tables {
    pub version: String,
    pub version_major: u32,
    pub arch: String,
    pub sel4_arch: String,
    pub plat: String,
    pub config: Config,
    pub syscalls: Syscalls,
    pub invocations: Invocations,
    /// `seL4_Error` without the prefix and without `seL4_NumErrors`.
    pub errors: Vec<(String, usize)>,
    /// `seL4_NumErrors`.
    pub num_errors: usize,
    /// Object types without the prefix, by number (0, 1, ...).
    pub object_types: Vec<(String, usize)>,
    /// The enum-end markers (`NonArchObjectTypeCount`, `ModeObjectTypeCount`,
    /// `ObjectTypeCount`) and their values.
    pub object_type_counts: Vec<(String, usize)>,
    /// `seL4_` constants of the constants.h files, prefix stripped.
    pub constants: BTreeMap<String, i128>,
    /// One-word `seL4_` bitfield blocks.
    pub bitfields: Vec<bitfield::Block>,
    /// Initial capability slots of the root task (`seL4_RootCNodeCapSlots`
    /// of bootinfo_types.h: `CapInitThreadTCB`, ...), prefix stripped.
    pub init_caps: Vec<(String, usize)>,
    /// The interface XML files (generic, sel4_arch, arch), as written.
    pub api_files: Vec<api::ApiFile>,
    /// The methods of the configured kernel (conditions true), file order.
    pub methods: Vec<api::Method>,
    /// Parameter type knowledge (caps, bitfields, structs).
    pub types: api::Types,
    /// Word-sized enum types of the types.h headers
    /// (`seL4_X86_VMAttributes`, ...): (name, values), prefix stripped.
    pub word_enums: Vec<(String, Vec<(String, i128)>)>,
    /// One-word tagged unions of one-word blocks (5.x's `seL4_CapData` of
    /// `Badge` and `Guard`).
    pub word_unions: Vec<bitfield::WordUnion>,
    /// Every name `sel4_cfg_if!` knows, with whether this kernel has it.
    pub names: Names,
    /// Tags of the `seL4_Fault` tagged union (fault message labels).
    pub fault_tags: Vec<(String, u64)>,
    /// Every file that was read.
    pub inputs: Vec<PathBuf>,
}

fn read(path: &Path, stage: &Stage) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| {
        Error(format!(
            "kernel stage {}: cannot read {}: {}",
            stage.dir.display(),
            path.display(),
            e
        ))
    })
}

fn in_file<T>(r: Result<T, String>, path: &Path, stage: &Stage) -> Result<T, Error> {
    r.map_err(|e| {
        Error(format!(
            "kernel stage {} (seL4 {}): {}: {}",
            stage.dir.display(),
            stage.version,
            path.display(),
            e
        ))
    })
}

/// Reads the stage's config and interface files and computes the tables.
pub fn collect(stage: &Stage) -> Result<Tables, Error> {
    let config = stage.config()?;
    let files = stage.files()?;
    collect_with(stage, &files, config)
}

/// [`collect`] with the files and config already found.
pub fn collect_with(stage: &Stage, files: &KernelFiles, config: Config) -> Result<Tables, Error> {
    let mut inputs: Vec<PathBuf> = vec![stage.manifest_path()];
    inputs.extend(config.sources.iter().cloned());
    inputs.extend(files.all().into_iter().map(Path::to_path_buf));

    let mut names = Names::default();

    // syscalls
    let p = &files.syscall_xml;
    let syscalls = in_file(
        interface::parse_syscalls(&read(p, stage)?, &config),
        p,
        stage,
    )?;
    for n in &syscalls.all_names {
        names.syscall.add(n, syscalls.number(n).is_some());
    }

    // the interface XML files, each parsed once: this kernel's three for
    // the methods and labels, the other architectures' for the names only
    let parse = |p: &Path| -> Result<api::ApiFile, Error> {
        let what = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        in_file(api::parse_api(&read(p, stage)?, &what), p, stage)
    };
    let mut api_files = Vec::new();
    let mut label_lists = Vec::new();
    for p in [
        &files.interface_generic,
        &files.interface_sel4_arch,
        &files.interface_arch,
    ] {
        let f = parse(p)?;
        label_lists.push(in_file(api::label_ids(&f, &config), p, stage)?);
        api_files.push(f);
    }
    let invocations = Invocations::new(&label_lists[0], &label_lists[1], &label_lists[2]);
    for (n, _) in &invocations.labels {
        names.label.add(n, true);
    }
    for f in &api_files {
        for m in &f.methods {
            names.label.add(&m.id, false);
        }
    }
    for p in &files.other_interfaces {
        for m in parse(p)?.methods {
            names.label.add(&m.id, false);
        }
    }

    // C structs and word-sized enums of the types.h headers
    let mut c_structs = Vec::new();
    let mut word_enums = Vec::new();
    for p in &files.types_h {
        let text = read(p, stage)?;
        c_structs.extend(in_file(cheader::word_structs(&text, &config), p, stage)?);
        let h = in_file(cheader::CHeader::parse(&text, &config), p, stage)?;
        for e in &h.enums {
            let Some(name) = e.typedef_name.as_deref() else {
                continue;
            };
            if !name.starts_with("seL4_") {
                continue;
            }
            let mut sym = cheader::Symbols::new(&config);
            let vals = in_file(sym.eval_enums(&[e]), p, stage)?.remove(0);
            word_enums.push((
                strip(name).to_string(),
                vals.into_iter()
                    .map(|(n, v)| (strip(&n).to_string(), v))
                    .collect(),
            ));
        }
    }

    // errors
    let p = &files.errors_h;
    let h = in_file(cheader::CHeader::parse(&read(p, stage)?, &config), p, stage)?;
    let e = h
        .enums
        .iter()
        .find(|e| e.entries.iter().any(|x| x.name == "seL4_NoError"))
        .ok_or_else(|| Error(format!("{}: no enum with seL4_NoError", p.display())))?;
    let mut sym = cheader::Symbols::new(&config);
    let vals = in_file(sym.eval_enums(&[e]), p, stage)?.remove(0);
    let mut errors = Vec::new();
    let mut num_errors = None;
    for (n, v) in vals {
        let v = in_file(to_usize(&n, v), p, stage)?;
        match strip(&n) {
            "NumErrors" => num_errors = Some(v),
            s => errors.push((s.to_string(), v)),
        }
    }
    let num_errors = num_errors.unwrap_or(errors.len());

    // object types: the three headers' enums, values as the C compiler gives them
    let ot_files = [
        &files.objecttype_api,
        &files.objecttype_sel4_arch,
        &files.objecttype_arch,
    ];
    let mut headers = Vec::new();
    for p in ot_files {
        headers.push(in_file(
            cheader::CHeader::parse(&read(p, stage)?, &config),
            p,
            stage,
        )?);
    }
    let enums: Vec<&cheader::CEnum> = headers.iter().flat_map(|h| h.enums.iter()).collect();
    let mut sym = cheader::Symbols::new(&config);
    let all = sym.eval_enums(&enums).map_err(|e| {
        Error(format!(
            "kernel stage {}: object type headers: {e}",
            stage.dir.display()
        ))
    })?;
    let mut object_types = Vec::new();
    let mut object_type_counts = Vec::new();
    for (n, v) in all.into_iter().flatten() {
        let v = in_file(to_usize(&n, v), ot_files[0], stage)?;
        let s = strip(&n).to_string();
        if s.ends_with("ObjectTypeCount") {
            object_type_counts.push((s, v));
        } else {
            object_types.push((s, v));
        }
    }
    object_types.sort_by_key(|x| x.1);
    for (n, _) in &object_types {
        names.object.add(n, true);
    }
    for p in ot_files.iter().copied().chain(&files.other_objecttypes) {
        for e in in_file(cheader::enums_all_branches(&read(p, stage)?), p, stage)? {
            for x in e.entries {
                let n = strip(&x.name);
                if !n.ends_with("ObjectTypeCount") {
                    names.object.add(n, false);
                }
            }
        }
    }
    for (i, (n, v)) in object_types.iter().enumerate() {
        if *v != i {
            return Err(Error(format!(
                "kernel stage {}: object types are not numbered 0, 1, 2, ...: {n} = {v} at position {i}",
                stage.dir.display()
            )));
        }
    }

    // constants
    let mut headers = Vec::new();
    for p in files
        .constants
        .iter()
        .chain(std::iter::once(&files.shared_types_h))
    {
        headers.push(in_file(
            cheader::CHeader::parse(&read(p, stage)?, &config),
            p,
            stage,
        )?);
    }
    let mut sym = cheader::Symbols::new(&config);
    for h in &headers {
        sym.add_defines(h);
    }
    let enums: Vec<&cheader::CEnum> = headers.iter().flat_map(|h| h.enums.iter()).collect();
    let mut constants = BTreeMap::new();
    for (n, v) in sym.eval_enums_lenient(&enums) {
        if n.starts_with("seL4_") {
            constants.insert(strip(&n).to_string(), v);
        }
    }
    for h in &headers {
        for (n, _) in &h.defines {
            if n.starts_with("seL4_") {
                if let Some(v) = sym.value(n) {
                    constants.insert(strip(n).to_string(), v);
                }
            }
        }
    }

    // bitfields and the tagged unions (fault labels, 5.x's CapData)
    let mut bitfields: Vec<bitfield::Block> = Vec::new();
    let mut word_unions = Vec::new();
    let mut fault_tags = Vec::new();
    for p in &files.bitfields {
        let (blocks, unions) = in_file(
            bitfield::parse_file(&read(p, stage)?, &config, stage.word_size()),
            p,
            stage,
        )?;
        word_unions.extend(bitfield::WordUnion::find(&unions, &blocks));
        for u in unions {
            if u.name == "seL4_Fault" {
                fault_tags = u.tags;
            }
        }
        for b in blocks {
            if b.name.starts_with("seL4_")
                && b.is_single_word()
                && !bitfields.iter().any(|x| x.name == b.name)
            {
                bitfields.push(b);
            }
        }
    }
    if fault_tags.is_empty() {
        return Err(Error(format!(
            "kernel stage {}: no seL4_Fault tagged union in the bitfield files",
            stage.dir.display()
        )));
    }

    // the object API: methods and their parameter types
    let bitfield_names: Vec<String> = bitfields
        .iter()
        .map(|b| strip(&b.name).to_string())
        .chain(word_unions.iter().map(|u| strip(&u.name).to_string()))
        .collect();
    let file_refs: Vec<&api::ApiFile> = api_files.iter().collect();
    let types = api::Types::new(&file_refs, &bitfield_names, &c_structs, stage.word_size())
        .map_err(|e| Error(format!("kernel stage {}: {e}", stage.dir.display())))?;
    let methods = api::enabled_methods(&file_refs, &config)
        .map_err(|e| Error(format!("kernel stage {}: {e}", stage.dir.display())))?;
    for m in &methods {
        api::plan(m, &types)
            .map_err(|e| Error(format!("kernel stage {}: {e}", stage.dir.display())))?;
    }

    // initial capability slots
    let p = &files.bootinfo_types_h;
    let h = in_file(cheader::CHeader::parse(&read(p, stage)?, &config), p, stage)?;
    let e = h
        .enums
        .iter()
        .find(|e| e.entries.iter().any(|x| x.name == "seL4_CapInitThreadTCB"))
        .ok_or_else(|| {
            Error(format!(
                "{}: no enum with seL4_CapInitThreadTCB",
                p.display()
            ))
        })?;
    let mut sym = cheader::Symbols::new(&config);
    let mut init_caps = Vec::new();
    for (n, v) in in_file(sym.eval_enums(&[e]), p, stage)?.remove(0) {
        init_caps.push((strip(&n).to_string(), in_file(to_usize(&n, v), p, stage)?));
    }
    for (n, _) in &init_caps {
        names.init_cap.add(n, true);
    }
    let text = read(p, stage)?;
    for e in in_file(cheader::enums_all_branches(&text), p, stage)? {
        if e.entries.iter().any(|x| x.name == "seL4_CapInitThreadTCB") {
            for x in e.entries {
                names.init_cap.add(strip(&x.name), false);
            }
        }
    }

    // config options: the values, and every option the tree declares
    for (k, v) in config.iter() {
        let on = match v {
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Str(s) => !s.is_empty(),
        };
        names.config.add(k.strip_prefix("CONFIG_").unwrap_or(k), on);
    }
    for k in &config.declared {
        names
            .config
            .add(k.strip_prefix("CONFIG_").unwrap_or(k), false);
    }

    Ok(Tables {
        init_caps,
        version: stage.version.clone(),
        version_major: stage.version_major()?,
        arch: stage.arch.clone(),
        sel4_arch: stage.sel4_arch.clone(),
        plat: stage.plat.clone(),
        config,
        syscalls,
        invocations,
        errors,
        num_errors,
        object_types,
        object_type_counts,
        constants,
        bitfields,
        api_files,
        methods,
        types,
        word_enums,
        word_unions,
        names,
        fault_tags,
        inputs,
    })
}

fn strip(n: &str) -> &str {
    n.strip_prefix("seL4_").unwrap_or(n)
}

fn to_usize(n: &str, v: i128) -> Result<usize, String> {
    usize::try_from(v).map_err(|_| format!("{n} = {v} is not a valid number"))
}

/// The Rust source for `sel4-sys` (`$OUT_DIR/generated.rs`) of a stage.
pub fn generate(stage: &Stage) -> Result<String, Error> {
    Ok(emit(&collect(stage)?))
}

/// [`generate`] from a stage folder path.
pub fn generate_from_dir(dir: impl AsRef<Path>) -> Result<String, Error> {
    generate(&Stage::load(dir)?)
}
