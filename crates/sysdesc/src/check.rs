//! Validation and resolution: a parsed [`Description`] -> every problem
//! (each with its place and fix) and, when there is none, the [`Plan`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::path::PathBuf;

use sel4_component_env::{badge, layout, slot};

use crate::diag::{Diagnostic, Diagnostics, Source, Span};
use crate::kernel::{KernelFacts, NARROWEST_ENDPOINT_BADGE_BITS};
use crate::model::*;
use crate::parse::suggest;
use crate::plan::*;

/// What the checks need besides the description.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Package names of the workspace the component crates must be in, and
    /// where they were read from (for messages). `None`: the missing-crate
    /// check is off.
    pub packages: Option<(BTreeSet<String>, String)>,
    /// Object sizes of the kernel the system is for. `None`: kernel objects
    /// are left out of the memory figures.
    pub kernel: Option<KernelFacts>,
    /// Sizes of built images (page-rounded load range), by component name;
    /// they replace `image_size`.
    pub images: BTreeMap<String, u64>,
    /// Folders where an `elf` path not found next to the description is
    /// looked for, in order (`sel4-system --search-path`; a build folder
    /// the images are built into).
    pub search_path: Vec<PathBuf>,
    /// An `elf` image that is not there yet is no error (its size is then
    /// unknown): for the C header of a component, made before its ELF.
    pub elf_may_be_missing: bool,
}

/// Everything a check produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The parsed description (`None` when it does not parse as TOML).
    pub description: Option<Description>,
    /// Every problem found.
    pub diagnostics: Diagnostics,
    /// The plan (`None` when there is an error).
    pub plan: Option<Plan>,
}

/// Parses, validates and resolves `src`.
pub fn check(src: &Source, opts: &Options) -> Outcome {
    let mut diags = Diagnostics::default();
    let mut desc = crate::parse::parse(src, &mut diags);
    // Without `arch`, the system is for the kernel's architecture.
    if let (Some(d), Some(k)) = (desc.as_mut(), opts.kernel.as_ref()) {
        if !d.system.arch_given {
            d.system.arch.value = k.arch;
        }
    }
    let plan = desc
        .as_ref()
        .and_then(|d| Checker::new(src, d, opts, &mut diags).run());
    diags.sort();
    Outcome {
        description: desc,
        plan: if diags.has_errors() { None } else { plan },
        diagnostics: diags,
    }
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// A Rust identifier that is not a keyword.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    s != "_" && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !KEYWORDS.contains(&s)
}

fn identifier_fix(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if KEYWORDS.contains(&out.as_str()) || out == "_" {
        out.push_str("_0");
    }
    out
}

/// A Rust type path that means the same in every module: `a::b::C` (from
/// a crate), `::a::C`, `crate::x::C` (no generics, no `self`/`super`).
pub fn is_type_path(s: &str) -> bool {
    let s = s.strip_prefix("::").unwrap_or(s);
    let segs: Vec<&str> = s.split("::").collect();
    segs.iter()
        .enumerate()
        .all(|(i, seg)| is_identifier(seg) || (i == 0 && *seg == "crate" && segs.len() > 1))
}

fn normalize_path(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    s.strip_prefix("::").map(str::to_string).unwrap_or(s)
}

fn page_round(n: u64) -> u64 {
    n.div_ceil(layout::PAGE_SIZE) * layout::PAGE_SIZE
}

fn size_text(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Highest user virtual address + 1 the plan uses, per architecture.
fn user_top(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 | Arch::Aarch64 => 0x0000_7fff_ffff_f000,
        Arch::Riscv64 => 0x0000_003f_ffff_f000,
    }
}

const DEFAULT_STACK: u64 = 16 << 10;
const DEFAULT_HEAP: u64 = 64 << 10;
const DEFAULT_FREE_SLOTS: u64 = 32;
const MAX_PRIORITY: u64 = SUPERVISOR_PRIORITY as u64 - 1;

/// An entry of a component's environment.
#[derive(Debug, Clone)]
enum Pending {
    Server {
        channel: usize,
    },
    Client {
        channel: usize,
        client: usize,
    },
    Wait {
        notification: usize,
    },
    Signal {
        notification: usize,
        signaller: usize,
    },
    Irq {
        irq: (usize, usize),
    },
    IrqWait {
        irq: (usize, usize),
    },
    IoPorts {
        port: usize,
    },
    Map {
        region: usize,
        mapping: usize,
    },
}

struct Field {
    name: String,
    span: Span,
    pending: Pending,
}

/// Per component, what the checks learn.
#[derive(Default)]
struct CompInfo {
    fields: Vec<Field>,
    threads: Vec<(String, Span, u8, u64)>,
    max_thread_priority: u8,
    image_size: Option<u64>,
    /// An `elf` component's file, as found (next to the description or on
    /// the search path).
    elf_path: Option<PathBuf>,
    serves: usize,
    waits: usize,
    owned_regions: u64,
    calls: BTreeSet<usize>,
}

/// One notification's sources, resolved.
struct NtfnInfo {
    waiter: usize,
    bound_thread: Option<String>,
    /// (source, explicit badge, span, assigned badge)
    sources: Vec<(Source_, Option<u64>, Span, u64)>,
    private_for: Option<(usize, usize)>,
}

#[derive(Clone, Copy)]
enum Source_ {
    Signaller(usize),
    Irq(usize, usize),
}

struct Checker<'a> {
    src: &'a Source,
    desc: &'a Description,
    opts: &'a Options,
    d: &'a mut Diagnostics,
    by_name: HashMap<&'a str, usize>,
    info: Vec<CompInfo>,
    badge_bits: u32,
}

impl<'a> Checker<'a> {
    fn new(
        src: &'a Source,
        desc: &'a Description,
        opts: &'a Options,
        d: &'a mut Diagnostics,
    ) -> Self {
        let by_name = desc
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        Checker {
            src,
            desc,
            opts,
            d,
            by_name,
            info: desc
                .components
                .iter()
                .map(|_| CompInfo::default())
                .collect(),
            badge_bits: opts
                .kernel
                .as_ref()
                .map_or(NARROWEST_ENDPOINT_BADGE_BITS, |k| k.endpoint_badge_bits),
        }
    }

    fn err(&mut self, d: Diagnostic) {
        self.d.push(d);
    }

    /// The component named by `name`, or an "unknown component" error.
    fn component(&mut self, name: &Sp<String>, role: &str) -> Option<usize> {
        if let Some(&i) = self.by_name.get(name.as_str()) {
            return Some(i);
        }
        let mut d = Diagnostic::error(
            name.span.clone(),
            format!("unknown component `{}` as {role}", name.value),
        );
        d = match suggest(
            &name.value,
            self.desc.components.iter().map(|c| c.name.as_str()),
        ) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!(
                "declare it with `[components.{}]`, or name one of the declared components",
                name.value
            )),
        };
        self.err(d);
        None
    }

    fn identifier(&mut self, name: &str, span: &Span, what: &str) {
        if !is_identifier(name) {
            self.err(
                Diagnostic::error(
                    span.clone(),
                    format!("{what} `{name}` is not a valid Rust identifier (it becomes a name in generated code)"),
                )
                .help(format!("rename it to `{}`", identifier_fix(name))),
            );
        }
    }

    fn run(mut self) -> Option<Plan> {
        self.system();
        for i in 0..self.desc.components.len() {
            self.component_checks(i);
        }
        self.channels();
        let mut ntfns = self.notifications();
        self.irqs(&mut ntfns);
        self.assign_signal_badges(&mut ntfns);
        self.ioports();
        self.regions();
        self.fields();
        self.shared_crates();
        self.finish();
        self.cycles();
        if self.d.has_errors() {
            return None;
        }
        self.resolve(ntfns)
    }

    fn system(&mut self) {
        let name = &self.desc.system.name;
        if !name.value.is_empty()
            && !name
                .value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            self.err(
                Diagnostic::error(name.span.clone(), format!("system name \"{}\" may only hold a-z, 0-9, - and _ (it names the boot image)", name.value))
                    .help(format!("rename it to \"{}\"", identifier_fix(&name.value).replace('_', "-"))),
            );
        }
        if let (Some(k), arch) = (&self.opts.kernel, &self.desc.system.arch) {
            if k.arch != arch.value {
                self.err(
                    Diagnostic::error(arch.span.clone(), format!("the description is for {} but the kernel is built for {}", arch.value.name(), k.arch.name()))
                        .help("set `arch` to the kernel's architecture, or pass the kernel built for this one"),
                );
            }
        }
    }

    fn component_checks(&mut self, i: usize) {
        let c = &self.desc.components[i];
        self.identifier(&c.name.value, &c.name.span, "component name");
        if c.broken {
            return;
        }
        let prio_ok = c.priority.value <= MAX_PRIORITY;
        if !prio_ok {
            self.err(
                Diagnostic::error(c.priority.span.clone(), format!("priority {} of component `{}` is above {MAX_PRIORITY}", c.priority.value, c.name.value))
                    .help(format!("use 0..={MAX_PRIORITY}: priority 255 is the supervisor's, so that a spinning component cannot starve fault handling")),
            );
        }
        if let Some(m) = &c.mcp {
            if m.value > MAX_PRIORITY {
                self.err(
                    Diagnostic::error(m.span.clone(), format!("mcp {} of component `{}` is above {MAX_PRIORITY}", m.value, c.name.value))
                        .help(format!("use 0..={MAX_PRIORITY}: a component may not control the supervisor's priority")),
                );
            }
        }
        if c.budget.value == 0 {
            self.err(
                Diagnostic::error(c.budget.span.clone(), format!("component `{}` has a budget of 0 bytes", c.name.value))
                    .help("give it the memory its image, stacks, heap, regions and kernel objects need, e.g. `budget = \"1 MiB\"`"),
            );
        }
        let stack = c.stack.as_ref().map_or(DEFAULT_STACK, |s| s.value);
        for s in [&c.stack].into_iter().flatten() {
            if s.value < layout::PAGE_SIZE {
                self.err(
                    Diagnostic::error(
                        s.span.clone(),
                        format!("stack of {} bytes is smaller than a page", s.value),
                    )
                    .help("use at least \"4 KiB\""),
                );
            }
        }
        // threads: main first
        let main_prio = c.priority.value.min(MAX_PRIORITY) as u8;
        let mut threads = vec![(
            "main".to_string(),
            c.span.clone(),
            main_prio,
            page_round(stack),
        )];
        let mut seen: HashMap<String, Span> = HashMap::new();
        seen.insert("main".into(), c.span.clone());
        for t in &c.threads {
            self.identifier(&t.name.value, &t.name.span, "thread name");
            if let Some(first) = seen.get(&t.name.value) {
                let d = Diagnostic::error(
                    t.name.span.clone(),
                    format!(
                        "component `{}` has two threads named `{}`",
                        c.name.value, t.name.value
                    ),
                )
                .help(if t.name.value == "main" {
                    "`main` is the component's first thread: name this one differently".to_string()
                } else {
                    "give each thread its own name".to_string()
                });
                let d = if t.name.value == "main" {
                    d
                } else {
                    d.note(first.clone(), "the first one")
                };
                self.err(d);
                continue;
            }
            seen.insert(t.name.value.clone(), t.name.span.clone());
            let p = t.priority.as_ref().map_or(c.priority.value, |p| p.value);
            if p > MAX_PRIORITY {
                let span = t
                    .priority
                    .as_ref()
                    .map_or(t.span.clone(), |p| p.span.clone());
                self.err(
                    Diagnostic::error(
                        span,
                        format!(
                            "priority {p} of thread `{}` is above {MAX_PRIORITY}",
                            t.name.value
                        ),
                    )
                    .help(format!("use 0..={MAX_PRIORITY}")),
                );
            }
            let ts = t.stack.as_ref().map_or(stack, |s| s.value);
            if let Some(s) = &t.stack {
                if s.value < layout::PAGE_SIZE {
                    self.err(
                        Diagnostic::error(
                            s.span.clone(),
                            format!("stack of {} bytes is smaller than a page", s.value),
                        )
                        .help("use at least \"4 KiB\""),
                    );
                }
            }
            threads.push((
                t.name.value.clone(),
                t.name.span.clone(),
                p.min(MAX_PRIORITY) as u8,
                page_round(ts),
            ));
        }
        self.info[i].max_thread_priority = threads.iter().map(|t| t.2).max().unwrap_or(main_prio);
        self.info[i].threads = threads;
        // fault policy
        if let Some(f) = &c.fault {
            if f.action.value != FaultAction::Restart {
                for (k, v) in [
                    ("max_restarts", &f.max_restarts),
                    ("backoff_ms", &f.backoff_ms),
                    ("backoff_max_ms", &f.backoff_max_ms),
                ] {
                    if let Some(v) = v {
                        self.err(
                            Diagnostic::error(
                                v.span.clone(),
                                format!("`{k}` applies only to action \"restart\""),
                            )
                            .help(format!("remove `{k}`, or set `action = \"restart\"`")),
                        );
                    }
                }
                if let Some(t) = &f.then {
                    self.err(
                        Diagnostic::error(
                            t.span.clone(),
                            "`then` applies only to action \"restart\"",
                        )
                        .help("remove `then`"),
                    );
                }
            }
            if let Some(t) = &f.then {
                if t.value == FaultAction::Restart {
                    self.err(
                        Diagnostic::error(t.span.clone(), "`then` must be \"stop\" or \"halt\"")
                            .help("`then` says what happens when the restarts are used up"),
                    );
                }
            }
            if let (Some(b), Some(m)) = (&f.backoff_ms, &f.backoff_max_ms) {
                if m.value < b.value {
                    self.err(
                        Diagnostic::error(
                            m.span.clone(),
                            format!("backoff_max_ms {} is below backoff_ms {}", m.value, b.value),
                        )
                        .help(format!("set backoff_max_ms to at least {}", b.value)),
                    );
                }
            }
        }
        if let Some(m) = &c.mcs {
            if m.budget_us.value == 0 || m.budget_us.value > m.period_us.value {
                self.err(
                    Diagnostic::error(
                        m.budget_us.span.clone(),
                        format!(
                            "MCS budget {} us must be above 0 and at most the period ({} us)",
                            m.budget_us.value, m.period_us.value
                        ),
                    )
                    .help("lower budget_us or raise period_us"),
                );
            }
            if let Some(p) = m.passive.as_ref().filter(|p| p.value) {
                self.err(
                    Diagnostic::error(
                        p.span.clone(),
                        format!("component `{}` is passive, and the supervisor cannot make a component passive yet", c.name.value),
                    )
                    .help("remove `passive`: the component then runs on its own budget and period (passive servers exist for a root task's threads, `ThreadBuilder::passive`, not yet for components)"),
                );
            }
            if let Some(version) = self
                .opts
                .kernel
                .as_ref()
                .filter(|k| !k.mcs)
                .map(|k| k.version.clone())
            {
                self.err(
                    Diagnostic::warning(
                        m.span.clone(),
                        format!("the kernel ({version}) is not an MCS kernel: the `mcs` table of component `{}` has no effect", c.name.value),
                    )
                    .help("build the kernel with KernelIsMCS=ON, or remove the table"),
                );
            }
        }
        // image
        let image_size = match &c.image.value {
            ImageSource::Crate(name) => {
                if let Some((pkgs, from)) = &self.opts.packages {
                    if !pkgs.contains(name) {
                        let d = Diagnostic::error(
                            c.image.span.clone(),
                            format!("no package `{name}` in the workspace of {from}"),
                        );
                        let d = match suggest(name, pkgs.iter().map(String::as_str)) {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None => d.help(format!("add a crate named `{name}` to the workspace members of {from}, or correct the name")),
                        };
                        self.err(d);
                    }
                }
                None
            }
            ImageSource::Elf(path) => self.elf_size(i, path, &c.image.span),
        };
        self.info[i].image_size = self
            .opts
            .images
            .get(&c.name.value)
            .copied()
            .or(image_size)
            .or(c.image_size.as_ref().map(|s| s.value))
            .map(page_round);
    }

    /// Where `elf = path` is: next to the description, else the first
    /// folder of the search path that has it.
    fn find_elf(&self, path: &str) -> Option<PathBuf> {
        std::iter::once(self.src.dir().join(path))
            .chain(self.opts.search_path.iter().map(|d| d.join(path)))
            .find(|p| p.is_file())
    }

    fn elf_size(&mut self, i: usize, path: &str, span: &Span) -> Option<u64> {
        let Some(full) = self.find_elf(path) else {
            if !self.opts.elf_may_be_missing {
                let looked: Vec<String> = std::iter::once(self.src.dir().join(path))
                    .chain(self.opts.search_path.iter().map(|d| d.join(path)))
                    .map(|p| p.display().to_string())
                    .collect();
                self.err(
                    Diagnostic::error(
                        span.clone(),
                        format!("cannot find the ELF file `{path}` (looked at {})", looked.join(", ")),
                    )
                    .help("build the component image first and give its path relative to the description, or the folder it is built into with --search-path"),
                );
            }
            return None;
        };
        let data = match std::fs::read(&full) {
            Ok(d) => d,
            Err(e) => {
                self.err(
                    Diagnostic::error(
                        span.clone(),
                        format!("cannot read the ELF file {}: {e}", full.display()),
                    )
                    .help("give the path of a built component image, relative to the description"),
                );
                return None;
            }
        };
        let size = match sel4_elf_reloc::Elf::parse(&data).and_then(|e| e.load_range()) {
            Ok((lo, hi)) => Some(hi - lo),
            Err(e) => {
                self.err(
                    Diagnostic::error(
                        span.clone(),
                        format!("{} is not a loadable ELF64 image: {e:?}", full.display()),
                    )
                    .help(
                        "give the path of a component image built for this system's architecture",
                    ),
                );
                None
            }
        };
        self.info[i].elf_path = Some(full);
        size
    }

    fn channels(&mut self) {
        let desc = self.desc;
        for (ci, ch) in desc.channels.iter().enumerate() {
            let proto_ok = is_type_path(&ch.protocol.value);
            if !proto_ok {
                self.err(
                    Diagnostic::error(ch.protocol.span.clone(), format!("protocol \"{}\" is not a Rust type path", ch.protocol.value))
                        .help("name the protocol type as generated code will use it, from a crate or `crate::`, e.g. \"kv_proto::Kv\" (no generics, no self/super)"),
                );
            }
            let want = normalize_path(&ch.protocol.value);
            let server = self.component(
                &ch.server.component,
                &format!("the server of channel `{}`", ch.name.value),
            );
            let mut ends: Vec<(&End, Option<usize>, &str)> = vec![(&ch.server, server, "server")];
            for c in &ch.clients {
                let ci_ = self.component(
                    &c.component,
                    &format!("a client of channel `{}`", ch.name.value),
                );
                ends.push((c, ci_, "client"));
            }
            for (end, comp, role) in &ends {
                if let Some(p) = &end.protocol {
                    if proto_ok && normalize_path(&p.value) != want {
                        self.err(
                            Diagnostic::error(p.span.clone(), format!(
                                "the ends of channel `{}` disagree on the protocol: the channel says `{}`, {role} `{}` speaks `{}`",
                                ch.name.value, ch.protocol.value, end.component.value, p.value))
                                .note(ch.protocol.span.clone(), "the channel's protocol")
                                .help(format!("build `{}` against `{}`, or connect it to a channel of `{}`", end.component.value, ch.protocol.value, p.value)),
                        );
                    }
                } else if let Some(c) = comp {
                    if matches!(self.desc.components[*c].image.value, ImageSource::Elf(_)) {
                        self.err(
                            Diagnostic::error(end.span.clone(), format!(
                                "`{}` is a prebuilt ELF, so the description must say which protocol its {role} end of channel `{}` was built with",
                                end.component.value, ch.name.value))
                                .help(format!("write the end as `{{ component = \"{}\", protocol = \"{}\" }}` if that is what it speaks", end.component.value, ch.protocol.value)),
                        );
                    }
                }
            }
            if ch.clients.is_empty() {
                self.err(
                    Diagnostic::warning(
                        ch.name.span.clone(),
                        format!("channel `{}` has no clients", ch.name.value),
                    )
                    .help("add its clients, or remove the channel"),
                );
            }
            let Some(s) = server else { continue };
            let default_name = ch.name.value.clone();
            self.add_field(
                s,
                &ch.server,
                &default_name,
                &ch.name.span,
                Pending::Server { channel: ci },
            );
            self.info[s].serves += 1;
            let mut seen_clients: HashMap<usize, Span> = HashMap::new();
            let mut badges: HashMap<u64, Span> = HashMap::new();
            for (k, c) in ch.clients.iter().enumerate() {
                let Some(cc) = ends[k + 1].1 else { continue };
                if cc == s {
                    self.err(
                        Diagnostic::error(c.component.span.clone(), format!("`{}` is both server and client of channel `{}`: a call to itself deadlocks", c.component.value, ch.name.value))
                            .help("remove it from the clients; call code of the same component directly"),
                    );
                    continue;
                }
                if let Some(first) = seen_clients.get(&cc) {
                    self.err(
                        Diagnostic::error(
                            c.component.span.clone(),
                            format!(
                                "`{}` is a client of channel `{}` twice",
                                c.component.value, ch.name.value
                            ),
                        )
                        .note(first.clone(), "first listed here")
                        .help("list each client once: one capability serves all its threads"),
                    );
                    continue;
                }
                seen_clients.insert(cc, c.component.span.clone());
                if let Some(b) = &c.badge {
                    if b.value == 0 || b.value >= badge::CLIENT_LIMIT {
                        self.err(
                            Diagnostic::error(
                                b.span.clone(),
                                format!("badge {} is not usable on an endpoint", b.value),
                            )
                            .help(format!(
                                "use 1..{} (0 means unbadged; the minted badge carries the server's generation in {} bits below the client's, and seL4 5.x mints {}-bit badges)",
                                badge::CLIENT_LIMIT - 1,
                                badge::GENERATION_BITS,
                                badge::CLIENT_BITS + badge::GENERATION_BITS,
                            )),
                        );
                    } else if let Some(first) = badges.get(&b.value) {
                        self.err(
                            Diagnostic::error(b.span.clone(), format!("badge {} of channel `{}` is granted twice", b.value, ch.name.value))
                                .note(first.clone(), "first granted here")
                                .help("give each client its own badge, or leave `badge` out to have one assigned"),
                        );
                    } else {
                        badges.insert(b.value, b.span.clone());
                    }
                }
                self.add_field(
                    cc,
                    c,
                    &default_name,
                    &ch.name.span,
                    Pending::Client {
                        channel: ci,
                        client: k,
                    },
                );
                self.info[cc].calls.insert(s);
                let (sc, cl) = (&self.desc.components[s], &self.desc.components[cc]);
                if !sc.broken && !cl.broken {
                    let sp = self.info[s].threads.first().map_or(0, |t| t.2);
                    let cp = self.info[cc].max_thread_priority;
                    if cp > sp {
                        self.err(
                            Diagnostic::error(c.component.span.clone(), format!(
                                "priority inversion: client `{}` (priority {cp}) calls `{}` (priority {sp}) through channel `{}`",
                                c.component.value, ch.server.component.value, ch.name.value))
                                .note(sc.priority.span.clone(), "the server's priority")
                                .help(format!("a server must run at least at the priority of its clients' threads: raise `{}` to {cp} or more, or lower `{}`", ch.server.component.value, c.component.value)),
                        );
                    }
                }
            }
        }
    }

    fn add_field(
        &mut self,
        comp: usize,
        end: &End,
        default: &str,
        default_span: &Span,
        pending: Pending,
    ) {
        let (name, span) = match &end.name {
            Some(n) => (n.value.clone(), n.span.clone()),
            None => (default.to_string(), default_span.clone()),
        };
        self.info[comp].fields.push(Field {
            name,
            span,
            pending,
        });
    }

    fn notifications(&mut self) -> Vec<NtfnInfo> {
        let desc = self.desc;
        let mut out = Vec::new();
        for (ni, n) in desc.notifications.iter().enumerate() {
            let waiter = self.component(
                &n.waiter.component,
                &format!("the waiter of notification `{}`", n.name.value),
            );
            let mut sources = Vec::new();
            for (k, s) in n.signallers.iter().enumerate() {
                if let Some(sc) = self.component(
                    &s.component,
                    &format!("a signaller of notification `{}`", n.name.value),
                ) {
                    self.add_field(
                        sc,
                        s,
                        &n.name.value,
                        &n.name.span,
                        Pending::Signal {
                            notification: ni,
                            signaller: k,
                        },
                    );
                    sources.push((
                        Source_::Signaller(k),
                        s.badge.as_ref().map(|b| b.value),
                        s.badge.as_ref().map_or(s.span.clone(), |b| b.span.clone()),
                        0,
                    ));
                }
            }
            let Some(w) = waiter else {
                out.push(NtfnInfo {
                    waiter: usize::MAX,
                    bound_thread: None,
                    sources,
                    private_for: None,
                });
                continue;
            };
            self.add_field(
                w,
                &n.waiter,
                &n.name.value,
                &n.name.span,
                Pending::Wait { notification: ni },
            );
            self.info[w].waits += 1;
            let bound_thread = match &n.bind {
                None => None,
                Some(b) => {
                    let t = match &b.value {
                        Bind::MainThread => "main".to_string(),
                        Bind::Thread(t) => t.clone(),
                    };
                    if !self.info[w].threads.iter().any(|x| x.0 == t)
                        && !self.desc.components[w].broken
                    {
                        self.err(
                            Diagnostic::error(b.span.clone(), format!("component `{}` has no thread `{t}`", n.waiter.component.value))
                                .help("bind to `true` (the main thread) or to a thread listed in the component's `threads`"),
                        );
                    }
                    Some(t)
                }
            };
            out.push(NtfnInfo {
                waiter: w,
                bound_thread,
                sources,
                private_for: None,
            });
        }
        // one notification per thread
        let mut bound: HashMap<(usize, String), usize> = HashMap::new();
        for (ni, info) in out.iter().enumerate() {
            if let Some(t) = &info.bound_thread {
                if let Some(&first) = bound.get(&(info.waiter, t.clone())) {
                    let span = desc.notifications[ni]
                        .bind
                        .as_ref()
                        .map_or(0..0, |b| b.span.clone());
                    let first_span = desc.notifications[first]
                        .bind
                        .as_ref()
                        .map_or(0..0, |b| b.span.clone());
                    self.err(
                        Diagnostic::error(span, format!("thread `{t}` of `{}` already has notification `{}` bound (a thread can have one)", desc.components[info.waiter].name.value, desc.notifications[first].name.value))
                            .note(first_span, "bound here")
                            .help("bind this notification to another thread, or leave it unbound and wait on it explicitly"),
                    );
                } else {
                    bound.insert((info.waiter, t.clone()), ni);
                }
            }
        }
        out
    }

    fn irqs(&mut self, ntfns: &mut Vec<NtfnInfo>) {
        let desc = self.desc;
        let arch = desc.system.arch.value;
        let mut vectors: HashMap<u64, Span> = HashMap::new();
        let mut pins: HashMap<(u64, u64), Span> = HashMap::new();
        let mut msis: HashMap<(u64, u64, u64, u64), Span> = HashMap::new();
        let mut lines: HashMap<u64, Span> = HashMap::new();
        let twice = |what: String, span: Span, first: &Span| {
            Diagnostic::error(span, format!("{what} is granted twice"))
                .note(first.clone(), "first granted here")
                .help("an interrupt can have one handler: remove one of the two, or use another source")
        };
        for (ci, c) in desc.components.iter().enumerate() {
            for (k, irq) in c.irqs.iter().enumerate() {
                let x86 = arch == Arch::X86_64;
                match &irq.kind {
                    IrqKind::IoApic {
                        ioapic,
                        pin,
                        vector,
                        ..
                    } => {
                        if !x86 {
                            self.err(Diagnostic::error(pin.span.clone(), format!("I/O APIC interrupts exist on x86_64 only, the system is {}", arch.name())).help("use `irq = N` (the interrupt controller's number)"));
                        }
                        if let Some(f) = pins.get(&(ioapic.value, pin.value)) {
                            self.err(twice(
                                format!("I/O APIC {} pin {}", ioapic.value, pin.value),
                                pin.span.clone(),
                                f,
                            ));
                        } else {
                            pins.insert((ioapic.value, pin.value), pin.span.clone());
                        }
                        if let Some(f) = vectors.get(&vector.value) {
                            self.err(twice(
                                format!("interrupt vector {}", vector.value),
                                vector.span.clone(),
                                f,
                            ));
                        } else {
                            vectors.insert(vector.value, vector.span.clone());
                        }
                    }
                    IrqKind::Msi {
                        bus,
                        device,
                        function,
                        handle,
                        vector,
                    } => {
                        if !x86 {
                            self.err(Diagnostic::error(bus.span.clone(), format!("MSI interrupts are supported on x86_64 only, the system is {}", arch.name())).help("use `irq = N`"));
                        }
                        let key = (bus.value, device.value, function.value, handle.value);
                        if let Some(f) = msis.get(&key) {
                            self.err(twice(
                                format!(
                                    "MSI handle {} of PCI {:02x}:{:02x}.{}",
                                    handle.value, bus.value, device.value, function.value
                                ),
                                handle.span.clone(),
                                f,
                            ));
                        } else {
                            msis.insert(key, handle.span.clone());
                        }
                        if let Some(f) = vectors.get(&vector.value) {
                            self.err(twice(
                                format!("interrupt vector {}", vector.value),
                                vector.span.clone(),
                                f,
                            ));
                        } else {
                            vectors.insert(vector.value, vector.span.clone());
                        }
                    }
                    IrqKind::Line { irq: n, .. } => {
                        if x86 {
                            self.err(Diagnostic::error(n.span.clone(), "x86_64 interrupts are named by an I/O APIC pin or an MSI, not `irq`").help("give `pin` and `vector` (I/O APIC) or `pcidev`, `handle` and `vector` (MSI)"));
                        }
                        if let Some(f) = lines.get(&n.value) {
                            self.err(twice(format!("interrupt {}", n.value), n.span.clone(), f));
                        } else {
                            lines.insert(n.value, n.span.clone());
                        }
                    }
                }
                self.info[ci].fields.push(Field {
                    name: irq.name.value.clone(),
                    span: irq.name.span.clone(),
                    pending: Pending::Irq { irq: (ci, k) },
                });
                let explicit = irq.badge.as_ref().map(|b| b.value);
                let bspan = irq
                    .badge
                    .as_ref()
                    .map_or(irq.span.clone(), |b| b.span.clone());
                match &irq.notification {
                    Some(nname) => {
                        let found = desc
                            .notifications
                            .iter()
                            .position(|n| n.name.value == nname.value);
                        match found {
                            Some(ni) if ntfns[ni].waiter == ci => {
                                ntfns[ni]
                                    .sources
                                    .push((Source_::Irq(ci, k), explicit, bspan, 0));
                            }
                            Some(ni) => {
                                self.err(
                                    Diagnostic::error(nname.span.clone(), format!("notification `{}` is waited on by `{}`, not by `{}` whose interrupt this is", nname.value, desc.notifications[ni].waiter.component.value, c.name.value))
                                        .help("deliver an interrupt to a notification its own component waits on"),
                                );
                            }
                            None => {
                                let d = Diagnostic::error(
                                    nname.span.clone(),
                                    format!("unknown notification `{}`", nname.value),
                                );
                                let d = match suggest(&nname.value, desc.notifications.iter().map(|n| n.name.as_str())) {
                                    Some(s) => d.help(format!("did you mean `{s}`?")),
                                    None => d.help(format!("declare it with `[notifications.{}]` and `waiter = \"{}\"`, or leave `notification` out to give the interrupt one of its own", nname.value, c.name.value)),
                                };
                                self.err(d);
                            }
                        }
                    }
                    None => {
                        self.info[ci].fields.push(Field {
                            name: String::new(),
                            span: irq.span.clone(),
                            pending: Pending::IrqWait { irq: (ci, k) },
                        });
                        self.info[ci].waits += 1;
                        ntfns.push(NtfnInfo {
                            waiter: ci,
                            bound_thread: None,
                            sources: vec![(Source_::Irq(ci, k), explicit, bspan, 0)],
                            private_for: Some((ci, k)),
                        });
                    }
                }
            }
        }
    }

    fn assign_signal_badges(&mut self, ntfns: &mut [NtfnInfo]) {
        let desc = self.desc;
        for (ni, info) in ntfns.iter_mut().enumerate() {
            let name = match info.private_for {
                Some((c, k)) => format!(
                    "the notification of interrupt `{}`",
                    desc.components[c].irqs[k].name.value
                ),
                None => format!("notification `{}`", desc.notifications[ni].name.value),
            };
            // Every badge is minted through the kernel's capability data,
            // whose badge is 28 bits wide on seL4 5.x (64 later). Signals of
            // a bound notification need no mark: the framework's server
            // tells them from calls by the message info.
            let usable: u64 = if self.badge_bits >= 64 {
                u64::MAX
            } else {
                (1u64 << self.badge_bits) - 1
            };
            let mut taken = 0u64;
            let mut spans: Vec<(u64, Span)> = Vec::new();
            for (_, explicit, span, _) in info.sources.iter() {
                if let Some(b) = explicit {
                    if *b == 0 || b & !usable != 0 {
                        self.d.push(
                            Diagnostic::error(
                                span.clone(),
                                format!("badge {b:#x} is not usable on {name}"),
                            )
                            .help(format!(
                                "use a non-zero badge below {:#x} (badges are {} bits wide{})",
                                usable as u128 + 1,
                                usable.count_ones(),
                                if usable.count_ones() == 28 {
                                    " on seL4 5.x"
                                } else {
                                    ""
                                }
                            )),
                        );
                    } else if let Some((_, first)) = spans.iter().find(|(m, _)| m & b != 0) {
                        self.d.push(
                            Diagnostic::error(span.clone(), format!("badge bits {b:#x} of {name} are granted twice"))
                                .note(first.clone(), "first granted here")
                                .help("give each signaller and interrupt its own bits, or leave `badge` out to have a bit assigned"),
                        );
                    } else {
                        taken |= b;
                        spans.push((*b, span.clone()));
                    }
                }
            }
            for (_, explicit, span, assigned) in info.sources.iter_mut() {
                if let Some(b) = explicit {
                    *assigned = *b;
                    continue;
                }
                let free = usable & !taken;
                if free == 0 {
                    self.d.push(
                        Diagnostic::error(
                            span.clone(),
                            format!(
                                "{name} has no badge bit left: a badge has {} bits",
                                usable.count_ones()
                            ),
                        )
                        .help("split the signallers over two notifications"),
                    );
                    continue;
                }
                let bit = 1u64 << free.trailing_zeros();
                taken |= bit;
                *assigned = bit;
            }
        }
    }

    fn ioports(&mut self) {
        let desc = self.desc;
        let mut ranges: Vec<(u64, u64, Span, String)> = Vec::new();
        for (ci, c) in desc.components.iter().enumerate() {
            for (k, p) in c.ioports.iter().enumerate() {
                if desc.system.arch.value != Arch::X86_64 {
                    self.err(
                        Diagnostic::error(
                            p.span.clone(),
                            format!(
                                "I/O ports exist on x86_64 only, the system is {}",
                                desc.system.arch.value.name()
                            ),
                        )
                        .help("map the device's registers as a region with `phys` instead"),
                    );
                }
                let (base, size) = (p.base.value, p.size.value);
                if size == 0 || base + size > 0x1_0000 {
                    self.err(
                        Diagnostic::error(
                            p.size.span.clone(),
                            format!("I/O port range {base:#x} + {size} is not within 0..0x10000"),
                        )
                        .help("give a size of at least 1 with base + size <= 0x10000"),
                    );
                    continue;
                }
                let who = format!("`{}` of `{}`", p.name.value, c.name.value);
                if let Some((b, s, sp, w)) = ranges
                    .iter()
                    .find(|(b, s, _, _)| base < b + s && *b < base + size)
                {
                    self.err(
                        Diagnostic::error(p.base.span.clone(), format!("I/O ports {base:#x}..{:#x} ({who}) are granted twice: they overlap {:#x}..{:#x} ({w})", base + size - 1, b, b + s - 1))
                            .note(sp.clone(), "first granted here")
                            .help("give each port to one component; a shared device needs one driver component that others call"),
                    );
                    continue;
                }
                ranges.push((base, size, p.base.span.clone(), who));
                self.info[ci].fields.push(Field {
                    name: p.name.value.clone(),
                    span: p.name.span.clone(),
                    pending: Pending::IoPorts { port: k },
                });
            }
        }
    }

    fn regions(&mut self) {
        let desc = self.desc;
        let top = user_top(desc.system.arch.value);
        let mut phys: Vec<(u64, u64, Span, String)> = Vec::new();
        // explicit mappings per component: (start, end, span, region)
        let mut explicit: HashMap<usize, Vec<(u64, u64, Span, String)>> = HashMap::new();
        for (ri, r) in desc.regions.iter().enumerate() {
            let size = r.size.value;
            if size == 0 || size % layout::PAGE_SIZE != 0 {
                self.err(
                    Diagnostic::error(r.size.span.clone(), format!("region `{}`: size {size} is not a positive multiple of the page size (4 KiB)", r.name.value))
                        .help(format!("use {}", size_text(page_round(size.max(1))))),
                );
            }
            if size > top - layout::AUTO_BASE {
                self.err(
                    Diagnostic::error(r.size.span.clone(), format!("region `{}` ({}) is larger than a component's address space for regions", r.name.value, size_text(size)))
                        .help(format!("use at most {}", size_text(top - layout::AUTO_BASE))),
                );
            }
            if let Some(p) = &r.phys {
                if p.value % layout::PAGE_SIZE != 0 {
                    self.err(
                        Diagnostic::error(
                            p.span.clone(),
                            format!("physical address {:#x} is not page aligned", p.value),
                        )
                        .help(format!("use {:#x}", p.value & !(layout::PAGE_SIZE - 1))),
                    );
                } else if let Some((b, s, sp, w)) = phys
                    .iter()
                    .find(|(b, s, _, _)| p.value < b + s && *b < p.value + size)
                {
                    self.err(
                        Diagnostic::error(p.span.clone(), format!("device frames {:#x}..{:#x} of region `{}` are granted twice: they overlap region `{w}` ({b:#x}..{:#x})", p.value, p.value + size, r.name.value, b + s))
                            .note(sp.clone(), "first granted here")
                            .help("declare the device once and map that region into every component that needs it"),
                    );
                } else {
                    phys.push((p.value, size, p.span.clone(), r.name.value.clone()));
                }
                if let Some(o) = &r.owner {
                    self.err(
                        Diagnostic::error(
                            o.span.clone(),
                            "device frames are not paid from a budget: `owner` does not apply",
                        )
                        .help("remove `owner`"),
                    );
                }
            }
            if r.maps.is_empty() {
                self.err(
                    Diagnostic::warning(
                        r.name.span.clone(),
                        format!("region `{}` is mapped nowhere", r.name.value),
                    )
                    .help("map it, or remove it"),
                );
            }
            let mut mapped: HashMap<usize, Span> = HashMap::new();
            for (mi, m) in r.maps.iter().enumerate() {
                let Some(c) = self.component(
                    &m.component,
                    &format!("a mapping of region `{}`", r.name.value),
                ) else {
                    continue;
                };
                if let Some(first) = mapped.get(&c) {
                    self.err(
                        Diagnostic::error(
                            m.component.span.clone(),
                            format!(
                                "region `{}` is mapped into `{}` twice",
                                r.name.value, m.component.value
                            ),
                        )
                        .note(first.clone(), "first mapping")
                        .help("map a region once per component"),
                    );
                    continue;
                }
                mapped.insert(c, m.component.span.clone());
                if r.phys.is_some() && m.perms.value.execute {
                    self.err(
                        Diagnostic::error(
                            m.perms.span.clone(),
                            "device frames cannot be mapped executable",
                        )
                        .help("use \"r\" or \"rw\""),
                    );
                }
                if let Some(v) = &m.vaddr {
                    if v.value % layout::PAGE_SIZE != 0 {
                        self.err(
                            Diagnostic::error(
                                v.span.clone(),
                                format!("vaddr {:#x} is not page aligned", v.value),
                            )
                            .help(format!("use {:#x}", page_round(v.value))),
                        );
                    } else if v.value < layout::AUTO_BASE
                        || v.value.checked_add(size).map_or(true, |e| e > top)
                    {
                        self.err(
                            Diagnostic::error(v.span.clone(), format!("vaddr {:#x} + {} is outside the range for regions", v.value, size_text(size)))
                                .help(format!("use an address from {:#x} (below is the image's) with the region ending by {top:#x}, or leave `vaddr` out", layout::AUTO_BASE)),
                        );
                    } else {
                        let list = explicit.entry(c).or_default();
                        if let Some((b, e, sp, w)) = list
                            .iter()
                            .find(|(b, e, _, _)| v.value < *e && *b < v.value + size)
                        {
                            let d = Diagnostic::error(v.span.clone(), format!("mapping of region `{}` at {:#x}..{:#x} overlaps region `{w}` ({b:#x}..{e:#x}) in `{}`", r.name.value, v.value, v.value + size, m.component.value))
                                .note(sp.clone(), "the other mapping")
                                .help("move one of them, or leave `vaddr` out to have an address chosen");
                            self.err(d);
                        } else {
                            list.push((
                                v.value,
                                v.value + size,
                                v.span.clone(),
                                r.name.value.clone(),
                            ));
                        }
                    }
                }
                let default = r.name.value.clone();
                let end = End {
                    component: m.component.clone(),
                    name: m.name.clone(),
                    protocol: None,
                    badge: None,
                    span: m.span.clone(),
                };
                self.add_field(
                    c,
                    &end,
                    &default,
                    &r.name.span,
                    Pending::Map {
                        region: ri,
                        mapping: mi,
                    },
                );
            }
            if r.phys.is_none() && !r.maps.is_empty() {
                let owner = match &r.owner {
                    Some(o) => {
                        let oc =
                            self.component(o, &format!("the owner of region `{}`", r.name.value));
                        if oc.is_some() && !r.maps.iter().any(|m| m.component.value == o.value) {
                            self.err(
                                Diagnostic::error(
                                    o.span.clone(),
                                    format!(
                                        "owner `{}` does not map region `{}`",
                                        o.value, r.name.value
                                    ),
                                )
                                .help(
                                    "the owner must be one of the components that map the region",
                                ),
                            );
                        }
                        oc
                    }
                    None => self.by_name.get(r.maps[0].component.as_str()).copied(),
                };
                if let Some(o) = owner {
                    self.info[o].owned_regions += page_round(size);
                }
            }
        }
    }

    /// Every environment field name is an identifier and unique in its
    /// component.
    fn fields(&mut self) {
        for ci in 0..self.info.len() {
            let mut seen: HashMap<String, Span> = HashMap::new();
            let fields: Vec<(String, Span)> = self.info[ci]
                .fields
                .iter()
                .filter(|f| !matches!(f.pending, Pending::IrqWait { .. }))
                .map(|f| (f.name.clone(), f.span.clone()))
                .collect();
            let comp = self.desc.components[ci].name.value.clone();
            for (name, span) in fields {
                if !is_identifier(&name) {
                    self.err(
                        Diagnostic::error(span.clone(), format!("`{name}` becomes a field of `{comp}`'s environment but is not a valid Rust identifier"))
                            .help(format!("rename it, or give this end `name = \"{}\"`", identifier_fix(&name))),
                    );
                    continue;
                }
                if let Some(first) = seen.get(&name) {
                    self.err(
                        Diagnostic::error(span.clone(), format!("component `{comp}` gets two capabilities named `{name}`"))
                            .note(first.clone(), "the first one")
                            .help("give one of the two ends its own `name = \"...\"` (the field name in the component's environment)"),
                    );
                } else {
                    seen.insert(name, span);
                }
            }
        }
    }

    /// The environment field `f` of a component as its generated code types
    /// it (`None`: no field).
    fn field_type(&self, f: &Field) -> Option<String> {
        let desc = self.desc;
        Some(match &f.pending {
            Pending::Server { channel } => format!(
                "R::Server<{}>",
                normalize_path(&desc.channels[*channel].protocol.value)
            ),
            Pending::Client { channel, .. } => format!(
                "R::Client<{}>",
                normalize_path(&desc.channels[*channel].protocol.value)
            ),
            Pending::Wait { .. } => "R::Wait".into(),
            Pending::Signal { .. } => "R::Signal".into(),
            Pending::Irq { .. } => "R::Irq".into(),
            Pending::IrqWait { .. } => return None,
            Pending::IoPorts { .. } => "R::IoPorts".into(),
            Pending::Map { region, mapping } => {
                let r = &desc.regions[*region];
                if r.phys.is_some() {
                    "R::Device".into()
                } else if r.maps[*mapping].perms.value.write {
                    "R::SharedRw".into()
                } else {
                    "R::SharedRo".into()
                }
            }
        })
    }

    /// Components built from one crate share its image and its generated
    /// environment type: their environments must have the same fields of
    /// the same types (each gets its own capabilities in them).
    fn shared_crates(&mut self) {
        let desc = self.desc;
        let mut first_of: HashMap<&str, usize> = HashMap::new();
        for (ci, c) in desc.components.iter().enumerate() {
            let ImageSource::Crate(pkg) = &c.image.value else {
                continue;
            };
            let Some(&fi) = first_of.get(pkg.as_str()) else {
                first_of.insert(pkg.as_str(), ci);
                continue;
            };
            let shape = |i: usize| -> BTreeMap<String, String> {
                self.info[i]
                    .fields
                    .iter()
                    .filter_map(|f| Some((f.name.clone(), self.field_type(f)?)))
                    .collect()
            };
            let (a, b) = (shape(fi), shape(ci));
            if a == b {
                continue;
            }
            let first = &desc.components[fi];
            let diff = a
                .iter()
                .find(|(k, v)| b.get(*k) != Some(v))
                .map(|(k, v)| match b.get(k) {
                    Some(w) => format!("field `{k}` is {v} in `{}` but {w} here", first.name.value),
                    None => format!(
                        "`{}` has field `{k}` ({v}), this one has not",
                        first.name.value
                    ),
                })
                .or_else(|| {
                    b.iter().find(|(k, _)| !a.contains_key(*k)).map(|(k, w)| {
                        format!(
                            "this one has field `{k}` ({w}), `{}` has not",
                            first.name.value
                        )
                    })
                })
                .unwrap_or_default();
            self.err(
                Diagnostic::error(
                    c.image.span.clone(),
                    format!(
                        "components `{}` and `{}` share crate `{pkg}` but their environments differ: {diff}",
                        first.name.value, c.name.value
                    ),
                )
                .note(first.image.span.clone(), "the first component of this crate")
                .help("give both the same channels, notifications, regions and devices under the same names (end `name = \"...\"`), or build them from two crates"),
            );
        }
    }

    /// `[system] finish` names components.
    fn finish(&mut self) {
        let desc = self.desc;
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for f in &desc.system.finish {
            if self.component(f, "a component of `finish`").is_none() {
                continue;
            }
            if let Some(first) = seen.get(f.as_str()) {
                self.err(
                    Diagnostic::error(
                        f.span.clone(),
                        format!("component `{}` is listed twice in `finish`", f.value),
                    )
                    .note(first.clone(), "first listed here")
                    .help("list each component once"),
                );
            } else {
                seen.insert(f.as_str(), f.span.clone());
            }
        }
    }

    /// Cycles in the call graph (client -> server) can deadlock: every
    /// component of a cycle may wait in a call for the next.
    fn cycles(&mut self) {
        let n = self.info.len();
        let edges: Vec<Vec<usize>> = self
            .info
            .iter()
            .map(|i| i.calls.iter().copied().collect())
            .collect();
        for scc in tarjan(n, &edges) {
            if scc.len() < 2 {
                continue;
            }
            // a cycle through the SCC, from its first component
            let set: BTreeSet<usize> = scc.iter().copied().collect();
            let start = *set.iter().next().unwrap();
            let mut path = vec![start];
            let mut cur = start;
            let mut visited = BTreeSet::from([start]);
            loop {
                let next = edges[cur]
                    .iter()
                    .copied()
                    .find(|x| set.contains(x) && (*x == start || !visited.contains(x)));
                match next {
                    Some(x) if x == start => {
                        path.push(start);
                        break;
                    }
                    Some(x) => {
                        visited.insert(x);
                        path.push(x);
                        cur = x;
                    }
                    None => {
                        // dead end inside the SCC: fall back to any member edge back
                        path.push(start);
                        break;
                    }
                }
            }
            let names: Vec<&str> = path
                .iter()
                .map(|&i| self.desc.components[i].name.as_str())
                .collect();
            // point at the channel of the last edge of the cycle
            let (a, b) = (path[path.len() - 2], path[path.len() - 1]);
            let span = self
                .desc
                .channels
                .iter()
                .find(|ch| {
                    ch.server.component.value == self.desc.components[b].name.value
                        && ch
                            .clients
                            .iter()
                            .any(|c| c.component.value == self.desc.components[a].name.value)
                })
                .map_or(self.desc.components[start].span.clone(), |ch| {
                    ch.name.span.clone()
                });
            self.err(
                Diagnostic::error(span, format!("the calls {} form a cycle: each may wait for the next, so the system can deadlock", names.join(" -> ")))
                    .help("break the cycle: let one side signal a notification instead of calling, or move the shared work into a component they both call"),
            );
        }
    }

    fn resolve(self, ntfns: Vec<NtfnInfo>) -> Option<Plan> {
        let desc = self.desc;
        let kernel = self.opts.kernel.as_ref();
        let total_threads: u64 = self.info.iter().map(|i| i.threads.len() as u64).sum();
        let mut next_fault_badge = 1u64;
        let report_badge_base = total_threads + 1;
        let mut d = Diagnostics::default();

        // per-component slots
        let mut comps: Vec<ComponentPlan> = Vec::new();
        // (component, pending index) -> slot
        let mut field_slots: Vec<Vec<u64>> = Vec::new();
        // notification index -> wait slot
        let mut wait_slots: Vec<u64> = vec![0; ntfns.len()];
        let mcs = kernel.is_some_and(|k| k.mcs);
        for (ci, c) in desc.components.iter().enumerate() {
            let info = &self.info[ci];
            let mut slots = vec![
                SlotPlan {
                    slot: slot::CNODE,
                    cap: CapPlan::CNode,
                    field: None,
                },
                SlotPlan {
                    slot: slot::VSPACE,
                    cap: CapPlan::VSpace,
                    field: None,
                },
                SlotPlan {
                    slot: slot::SUPERVISOR,
                    cap: CapPlan::Supervisor {
                        badge: report_badge_base + ci as u64,
                    },
                    field: None,
                },
            ];
            let mut threads = Vec::new();
            for (ti, (name, _, prio, stack)) in info.threads.iter().enumerate() {
                let t = ti as u64;
                slots.push(SlotPlan {
                    slot: slot::thread(t, slot::TCB),
                    cap: CapPlan::Tcb {
                        thread: name.clone(),
                    },
                    field: None,
                });
                slots.push(SlotPlan {
                    slot: slot::thread(t, slot::FAULT_ENDPOINT),
                    cap: CapPlan::FaultEndpoint {
                        thread: name.clone(),
                        badge: next_fault_badge,
                    },
                    field: None,
                });
                if mcs {
                    slots.push(SlotPlan {
                        slot: slot::thread(t, slot::SCHED_CONTEXT),
                        cap: CapPlan::SchedContext {
                            thread: name.clone(),
                        },
                        field: None,
                    });
                    slots.push(SlotPlan {
                        slot: slot::thread(t, slot::REPLY),
                        cap: CapPlan::Reply {
                            thread: name.clone(),
                        },
                        field: None,
                    });
                }
                threads.push(ThreadPlan {
                    name: name.clone(),
                    priority: *prio,
                    stack_size: *stack,
                    stack_bottom: 0,
                    stack_top: 0,
                    ipc_buffer: 0,
                    tcb_slot: slot::thread(t, slot::TCB),
                    fault_endpoint_slot: slot::thread(t, slot::FAULT_ENDPOINT),
                    fault_badge: next_fault_badge,
                    sched_context_slot: mcs.then(|| slot::thread(t, slot::SCHED_CONTEXT)),
                    reply_slot: mcs.then(|| slot::thread(t, slot::REPLY)),
                    bound_notification: None,
                });
                next_fault_badge += 1;
            }
            let mut next = slot::thread(info.threads.len() as u64, 0);
            let mut fs = Vec::new();
            for f in &info.fields {
                let (cap, field) = match &f.pending {
                    Pending::Server { channel } => (
                        Some(CapPlan::Server {
                            channel: desc.channels[*channel].name.value.clone(),
                        }),
                        Some(f.name.clone()),
                    ),
                    Pending::Client { channel, .. } => (
                        Some(CapPlan::Client {
                            channel: desc.channels[*channel].name.value.clone(),
                            badge: 0,
                        }),
                        Some(f.name.clone()),
                    ),
                    Pending::Wait { notification } => {
                        wait_slots[*notification] = next;
                        (
                            Some(CapPlan::Wait {
                                notification: desc.notifications[*notification].name.value.clone(),
                            }),
                            Some(f.name.clone()),
                        )
                    }
                    Pending::Signal { notification, .. } => (
                        Some(CapPlan::Signal {
                            notification: desc.notifications[*notification].name.value.clone(),
                            badge: 0,
                        }),
                        Some(f.name.clone()),
                    ),
                    Pending::Irq { irq: (c2, k) } => (
                        Some(CapPlan::IrqHandler {
                            irq: desc.components[*c2].irqs[*k].name.value.clone(),
                        }),
                        Some(f.name.clone()),
                    ),
                    Pending::IrqWait { irq: (c2, k) } => {
                        let ni = ntfns
                            .iter()
                            .position(|n| n.private_for == Some((*c2, *k)))
                            .expect("private notification");
                        wait_slots[ni] = next;
                        (
                            Some(CapPlan::Wait {
                                notification: private_name(desc, *c2, *k),
                            }),
                            None,
                        )
                    }
                    Pending::IoPorts { port } => {
                        let p = &c.ioports[*port];
                        (
                            Some(CapPlan::IoPorts {
                                name: p.name.value.clone(),
                                first: p.base.value as u16,
                                last: (p.base.value + p.size.value - 1) as u16,
                            }),
                            Some(f.name.clone()),
                        )
                    }
                    Pending::Map { .. } => (None, None),
                };
                match cap {
                    Some(cap) => {
                        fs.push(next);
                        slots.push(SlotPlan {
                            slot: next,
                            cap,
                            field,
                        });
                        next += 1;
                    }
                    None => fs.push(u64::MAX),
                }
            }
            field_slots.push(fs);
            let free = c
                .free_slots
                .as_ref()
                .map_or(DEFAULT_FREE_SLOTS, |s| s.value);
            let needed = next.saturating_add(free).max(2);
            let size_bits = 64 - (needed - 1).leading_zeros();
            if size_bits > 28 {
                d.push(
                    Diagnostic::error(
                        c.free_slots
                            .as_ref()
                            .map_or(c.span.clone(), |s| s.span.clone()),
                        format!(
                            "component `{}` needs a CNode of 2^{size_bits} slots",
                            c.name.value
                        ),
                    )
                    .help("ask for fewer free_slots"),
                );
            }
            let fault = match &c.fault {
                None => FaultPlan {
                    action: FaultAction::Stop,
                    max_restarts: 0,
                    backoff_ms: 0,
                    backoff_max_ms: 0,
                    then: FaultAction::Stop,
                },
                Some(f) => {
                    let restart = f.action.value == FaultAction::Restart;
                    let backoff = f
                        .backoff_ms
                        .as_ref()
                        .map_or(if restart { 10 } else { 0 }, |v| v.value);
                    FaultPlan {
                        action: f.action.value,
                        max_restarts: f
                            .max_restarts
                            .as_ref()
                            .map_or(if restart { 3 } else { 0 }, |v| v.value),
                        backoff_ms: backoff,
                        backoff_max_ms: f
                            .backoff_max_ms
                            .as_ref()
                            .map_or(if restart { backoff.max(1000) } else { 0 }, |v| v.value),
                        then: f.then.as_ref().map_or(FaultAction::Stop, |v| v.value),
                    }
                }
            };
            comps.push(ComponentPlan {
                id: ci,
                name: c.name.value.clone(),
                image: match &c.image.value {
                    ImageSource::Crate(p) => ImagePlan::Crate { package: p.clone() },
                    ImageSource::Elf(p) => ImagePlan::Elf {
                        path: self.info[ci]
                            .elf_path
                            .clone()
                            .unwrap_or_else(|| self.src.dir().join(p))
                            .display()
                            .to_string(),
                    },
                },
                priority: c.priority.value as u8,
                mcp: c.mcp.as_ref().map_or(0, |m| m.value as u8),
                mcs: c.mcs.as_ref().map(|m| McsPlan {
                    budget_us: m.budget_us.value,
                    period_us: m.period_us.value,
                    passive: m.passive.as_ref().is_some_and(|p| p.value),
                }),
                fault,
                report_badge: report_badge_base + ci as u64,
                threads,
                cspace: CSpacePlan {
                    size_bits,
                    guard_bits: 64 - size_bits,
                    free_start: next,
                    free_end: 1u64 << size_bits.min(63),
                },
                slots,
                vspace: VSpacePlan {
                    image_base: layout::IMAGE_BASE,
                    image_limit: layout::AUTO_BASE,
                    start_info: 0,
                    heap_start: 0,
                    heap_size: 0,
                    mappings: Vec::new(),
                },
                memory: MemoryPlan {
                    budget: c.budget.value,
                    image: None,
                    stacks: 0,
                    ipc_buffers: 0,
                    heap: 0,
                    regions: 0,
                    paging: None,
                    vspace_root: None,
                    cnode: None,
                    tcbs: None,
                    endpoints: None,
                    notifications: None,
                    sched_contexts: None,
                    replies: None,
                    runtime: None,
                    loader: None,
                    total: 0,
                    complete: false,
                },
                calls: info
                    .calls
                    .iter()
                    .map(|&s| desc.components[s].name.value.clone())
                    .collect(),
            });
        }
        if report_badge_base + desc.components.len() as u64 > (1u64 << self.badge_bits.min(63)) {
            d.push(Diagnostic::error(desc.system.span.clone(), format!("{} threads and {} components need more supervisor badges than a {}-bit endpoint badge holds", total_threads, desc.components.len(), self.badge_bits)).help("use fewer threads"));
        }
        let slot_of = |ci: usize, pending_match: &dyn Fn(&Pending) -> bool| -> u64 {
            let i = self.info[ci]
                .fields
                .iter()
                .position(|f| pending_match(&f.pending))
                .expect("field");
            field_slots[ci][i]
        };
        let field_of = |ci: usize, pending_match: &dyn Fn(&Pending) -> bool| -> String {
            self.info[ci]
                .fields
                .iter()
                .find(|f| pending_match(&f.pending))
                .expect("field")
                .name
                .clone()
        };

        // channels and badges
        let mut channels = Vec::new();
        for (chi, ch) in desc.channels.iter().enumerate() {
            let s = self.by_name[ch.server.component.as_str()];
            let explicit: BTreeSet<u64> = ch
                .clients
                .iter()
                .filter_map(|c| c.badge.as_ref().map(|b| b.value))
                .collect();
            let mut next_badge = 1u64;
            let mut clients = Vec::new();
            for (k, c) in ch.clients.iter().enumerate() {
                let cc = self.by_name[c.component.as_str()];
                let badge = match &c.badge {
                    Some(b) => b.value,
                    None => {
                        while explicit.contains(&next_badge) {
                            next_badge += 1;
                        }
                        next_badge += 1;
                        next_badge - 1
                    }
                };
                let m = move |p: &Pending| matches!(p, Pending::Client { channel, client } if *channel == chi && *client == k);
                let slot = slot_of(cc, &m);
                if let Some(sp) = comps[cc].slots.iter_mut().find(|x| x.slot == slot) {
                    sp.cap = CapPlan::Client {
                        channel: ch.name.value.clone(),
                        badge,
                    };
                }
                clients.push(ClientPlan {
                    component: c.component.value.clone(),
                    badge,
                    slot,
                    field: field_of(cc, &m),
                });
            }
            let m = move |p: &Pending| matches!(p, Pending::Server { channel } if *channel == chi);
            channels.push(ChannelPlan {
                name: ch.name.value.clone(),
                protocol: ch.protocol.value.clone(),
                server: ch.server.component.value.clone(),
                server_slot: slot_of(s, &m),
                server_field: field_of(s, &m),
                clients,
            });
        }

        // notifications and interrupts
        let mut notifications = Vec::new();
        let mut irqs = Vec::new();
        for (ni, n) in ntfns.iter().enumerate() {
            let waiter = &desc.components[n.waiter];
            let name = match n.private_for {
                Some((c, k)) => private_name(desc, c, k),
                None => desc.notifications[ni].name.value.clone(),
            };
            let mut sources = Vec::new();
            for (src_, _, _, badge) in &n.sources {
                match *src_ {
                    Source_::Signaller(k) => {
                        let s = &desc.notifications[ni].signallers[k];
                        let sc = self.by_name[s.component.as_str()];
                        let m = move |p: &Pending| matches!(p, Pending::Signal { notification, signaller } if *notification == ni && *signaller == k);
                        let slot = slot_of(sc, &m);
                        if let Some(sp) = comps[sc].slots.iter_mut().find(|x| x.slot == slot) {
                            sp.cap = CapPlan::Signal {
                                notification: name.clone(),
                                badge: *badge,
                            };
                        }
                        sources.push(SignalPlan::Component {
                            component: s.component.value.clone(),
                            badge: *badge,
                            slot,
                            field: field_of(sc, &m),
                        });
                    }
                    Source_::Irq(c, k) => {
                        let irq = &desc.components[c].irqs[k];
                        sources.push(SignalPlan::Irq {
                            irq: irq.name.value.clone(),
                            badge: *badge,
                        });
                        let m =
                            move |p: &Pending| matches!(p, Pending::Irq { irq } if *irq == (c, k));
                        irqs.push(IrqPlan {
                            component: desc.components[c].name.value.clone(),
                            name: irq.name.value.clone(),
                            source: match &irq.kind {
                                IrqKind::IoApic {
                                    ioapic,
                                    pin,
                                    trigger,
                                    polarity,
                                    vector,
                                } => IrqSourcePlan::IoApic {
                                    ioapic: ioapic.value,
                                    pin: pin.value,
                                    trigger: trigger.value,
                                    polarity: polarity.value,
                                    vector: vector.value,
                                },
                                IrqKind::Msi {
                                    bus,
                                    device,
                                    function,
                                    handle,
                                    vector,
                                } => IrqSourcePlan::Msi {
                                    bus: bus.value,
                                    device: device.value,
                                    function: function.value,
                                    handle: handle.value,
                                    vector: vector.value,
                                },
                                IrqKind::Line { irq, trigger } => IrqSourcePlan::Line {
                                    irq: irq.value,
                                    trigger: trigger.value,
                                },
                            },
                            handler_slot: slot_of(c, &m),
                            notification: name.clone(),
                            notification_slot: wait_slots[ni],
                            badge: *badge,
                        });
                    }
                }
            }
            if let Some(t) = &n.bound_thread {
                if let Some(tp) = comps[n.waiter].threads.iter_mut().find(|x| &x.name == t) {
                    tp.bound_notification = Some(name.clone());
                }
            }
            let wait_field = n.private_for.is_none().then(|| {
                let m = move |p: &Pending| matches!(p, Pending::Wait { notification } if *notification == ni);
                field_of(n.waiter, &m)
            });
            notifications.push(NotificationPlan {
                name,
                waiter: waiter.name.value.clone(),
                wait_slot: wait_slots[ni],
                wait_field,
                bound_thread: n.bound_thread.clone(),
                sources,
            });
        }
        irqs.sort_by(|a, b| (&a.component, &a.name).cmp(&(&b.component, &b.name)));

        let mut ioports = Vec::new();
        for (ci, c) in desc.components.iter().enumerate() {
            for (k, p) in c.ioports.iter().enumerate() {
                let m = move |x: &Pending| matches!(x, Pending::IoPorts { port } if *port == k);
                ioports.push(IoPortPlan {
                    component: c.name.value.clone(),
                    name: p.name.value.clone(),
                    first: p.base.value as u16,
                    last: (p.base.value + p.size.value - 1) as u16,
                    slot: slot_of(ci, &m),
                });
            }
        }

        // address spaces
        let top = user_top(desc.system.arch.value);
        let mut regions: Vec<RegionPlan> = desc
            .regions
            .iter()
            .map(|r| RegionPlan {
                name: r.name.value.clone(),
                size: r.size.value,
                page_size: layout::PAGE_SIZE,
                phys: r.phys.as_ref().map(|p| p.value),
                cached: r.cached.as_ref().map_or(r.phys.is_none(), |c| c.value),
                owner: if r.phys.is_some() {
                    None
                } else {
                    Some(
                        r.owner
                            .as_ref()
                            .map_or_else(|| r.maps[0].component.value.clone(), |o| o.value.clone()),
                    )
                },
                mappings: Vec::new(),
            })
            .collect();
        for (ci, c) in desc.components.iter().enumerate() {
            let info = &self.info[ci];
            // explicit mappings first
            let mut used: Vec<(u64, u64, Span, String)> = Vec::new();
            let mut maps: Vec<(usize, usize, Option<u64>)> = Vec::new();
            for f in &info.fields {
                if let Pending::Map { region, mapping } = f.pending {
                    let m = &desc.regions[region].maps[mapping];
                    let size = desc.regions[region].size.value;
                    if let Some(v) = &m.vaddr {
                        used.push((
                            v.value,
                            v.value + size,
                            v.span.clone(),
                            desc.regions[region].name.value.clone(),
                        ));
                    }
                    maps.push((region, mapping, m.vaddr.as_ref().map(|v| v.value)));
                }
            }
            let mut cursor = layout::AUTO_BASE;
            let mut place =
                |size: u64, used: &mut Vec<(u64, u64, Span, String)>, what: &str| -> u64 {
                    let mut at = cursor + layout::PAGE_SIZE; // a guard page before
                    while let Some((_, e, _, _)) = used.iter().find(|(b, e, _, _)| {
                        at < *e + layout::PAGE_SIZE && *b < at + size + layout::PAGE_SIZE
                    }) {
                        at = e + layout::PAGE_SIZE;
                    }
                    used.push((at, at + size, 0..0, what.to_string()));
                    cursor = at + size;
                    at
                };
            let heap = page_round(c.heap.as_ref().map_or(DEFAULT_HEAP, |h| h.value));
            let plan = &mut comps[ci];
            plan.vspace.start_info = place(layout::PAGE_SIZE, &mut used, "the start-info page");
            if heap > 0 {
                plan.vspace.heap_start = place(heap, &mut used, "the heap");
                plan.vspace.heap_size = heap;
            }
            for t in plan.threads.iter_mut() {
                let bottom = place(t.stack_size, &mut used, "a stack");
                t.stack_bottom = bottom;
                t.stack_top = bottom + t.stack_size;
                t.ipc_buffer = place(layout::PAGE_SIZE, &mut used, "an IPC buffer");
            }
            for (region, mapping, vaddr) in maps {
                let r = &desc.regions[region];
                let m = &r.maps[mapping];
                let vaddr = vaddr.unwrap_or_else(|| place(r.size.value, &mut used, &r.name.value));
                let field = m
                    .name
                    .as_ref()
                    .map_or_else(|| r.name.value.clone(), |n| n.value.clone());
                plan.vspace.mappings.push(MappingPlan {
                    region: r.name.value.clone(),
                    field: field.clone(),
                    vaddr,
                    size: r.size.value,
                    perms: m.perms.value,
                    cached: regions[region].cached,
                    phys: r.phys.as_ref().map(|p| p.value),
                });
                regions[region].mappings.push(RegionMapping {
                    component: c.name.value.clone(),
                    field,
                    vaddr,
                    perms: m.perms.value,
                });
            }
            if cursor > top {
                d.push(
                    Diagnostic::error(
                        c.span.clone(),
                        format!(
                            "component `{}` does not fit its address space",
                            c.name.value
                        ),
                    )
                    .help("make its regions, heap or stacks smaller"),
                );
            }
            // memory
            let mem = &mut plan.memory;
            mem.image = info.image_size;
            mem.stacks = plan.threads.iter().map(|t| t.stack_size).sum();
            mem.ipc_buffers = plan.threads.len() as u64 * layout::PAGE_SIZE;
            mem.heap = heap;
            mem.regions = info.owned_regions;
            if let Some(k) = kernel {
                let mut ranges: Vec<(u64, u64)> = vec![(
                    layout::IMAGE_BASE,
                    layout::IMAGE_BASE
                        + info
                            .image_size
                            .unwrap_or(layout::PAGE_SIZE)
                            .max(layout::PAGE_SIZE),
                )];
                ranges.push((
                    plan.vspace.start_info,
                    plan.vspace.start_info + layout::PAGE_SIZE,
                ));
                if heap > 0 {
                    ranges.push((plan.vspace.heap_start, plan.vspace.heap_start + heap));
                }
                for t in &plan.threads {
                    ranges.push((t.stack_bottom, t.stack_top));
                    ranges.push((t.ipc_buffer, t.ipc_buffer + layout::PAGE_SIZE));
                }
                for m in &plan.vspace.mappings {
                    ranges.push((m.vaddr, m.vaddr + m.size));
                }
                let mut paging = 0u64;
                for level in &k.paging {
                    let mut tables = BTreeSet::new();
                    for (b, e) in &ranges {
                        for t in (b >> level.span_bits)..=((e - 1) >> level.span_bits) {
                            tables.insert(t);
                        }
                    }
                    paging += tables.len() as u64 * (1u64 << level.object_bits);
                }
                let threads = plan.threads.len() as u64;
                let tables = paging_structures(&ranges, &k.paging);
                // The loader keeps a capability per frame and paging
                // structure of the component (and 64 spare) in a CNode of
                // its own, made from the budget.
                let frames = mem.image.unwrap_or(0) / layout::PAGE_SIZE
                    + 1
                    + heap / layout::PAGE_SIZE
                    + mem.stacks / layout::PAGE_SIZE
                    + threads
                    + plan
                        .vspace
                        .mappings
                        .iter()
                        .map(|m| m.size / layout::PAGE_SIZE)
                        .sum::<u64>();
                let kept = frames + tables + 1 + 64;
                let loader_bits = (64 - (kept - 1).leading_zeros()).max(4);
                mem.loader = Some(1u64 << (loader_bits + k.slot_bits));
                mem.runtime = Some(
                    layout::PAGE_SIZE
                        + sel4_component_env::start::RUNTIME_LOCKS * (1u64 << k.notification_bits),
                );
                mem.paging = Some(paging);
                mem.vspace_root = Some(1 << k.vspace_bits);
                mem.cnode = Some(1 << (plan.cspace.size_bits + k.slot_bits));
                mem.tcbs = Some(threads << k.tcb_bits);
                mem.endpoints = Some((info.serves as u64) << k.endpoint_bits);
                mem.notifications = Some((info.waits as u64) << k.notification_bits);
                if k.mcs {
                    mem.sched_contexts = Some(threads << k.sched_context_bits.unwrap_or(0));
                    mem.replies = Some(threads << k.reply_bits.unwrap_or(0));
                } else {
                    mem.sched_contexts = Some(0);
                    mem.replies = Some(0);
                }
            }
            let known = [
                mem.image,
                mem.paging,
                mem.vspace_root,
                mem.cnode,
                mem.tcbs,
                mem.endpoints,
                mem.notifications,
                mem.sched_contexts,
                mem.replies,
                mem.runtime,
                mem.loader,
            ];
            mem.complete = known.iter().all(Option::is_some);
            mem.total = mem.stacks
                + mem.ipc_buffers
                + mem.heap
                + mem.regions
                + known.iter().flatten().sum::<u64>();
            if mem.total > mem.budget {
                let mut parts = vec![
                    format!("stacks {}", size_text(mem.stacks)),
                    format!("IPC buffers {}", size_text(mem.ipc_buffers)),
                    format!("heap {}", size_text(mem.heap)),
                ];
                if mem.regions > 0 {
                    parts.push(format!("regions {}", size_text(mem.regions)));
                }
                if let Some(i) = mem.image {
                    parts.push(format!("image {}", size_text(i)));
                }
                let kobj: u64 = [
                    mem.paging,
                    mem.vspace_root,
                    mem.cnode,
                    mem.tcbs,
                    mem.endpoints,
                    mem.notifications,
                    mem.sched_contexts,
                    mem.replies,
                    mem.runtime,
                    mem.loader,
                ]
                .iter()
                .flatten()
                .sum();
                if kernel.is_some() {
                    parts.push(format!("kernel objects {}", size_text(kobj)));
                }
                d.push(
                    Diagnostic::error(c.budget.span.clone(), format!("component `{}` needs {}{} ({}) but its budget is {}", c.name.value, if mem.complete { "" } else { "at least " }, size_text(mem.total), parts.join(", "), size_text(mem.budget)))
                        .help(format!("raise `budget` to at least \"{}\", or make its stack, heap or regions smaller", size_text(mem.total.div_ceil(4096) * 4096))),
                );
            }
        }

        // start order: servers before clients, else description order
        let n = comps.len();
        let mut indegree = vec![0usize; n];
        let mut clients_of: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (ci, info) in self.info.iter().enumerate() {
            for &s in &info.calls {
                indegree[ci] += 1;
                clients_of[s].push(ci);
            }
        }
        let mut ready: BinaryHeap<Reverse<usize>> =
            (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
        let mut start_order = Vec::new();
        while let Some(Reverse(i)) = ready.pop() {
            start_order.push(comps[i].name.clone());
            for &c in &clients_of[i] {
                indegree[c] -= 1;
                if indegree[c] == 0 {
                    ready.push(Reverse(c));
                }
            }
        }

        let failed = d.has_errors();
        for x in d.items {
            self.d.push(x);
        }
        if failed {
            return None;
        }
        Some(Plan {
            format: PLAN_FORMAT,
            system: desc.system.name.value.clone(),
            arch: desc.system.arch.value,
            description: self.src.path.display().to_string(),
            kernel: kernel.map(|k| KernelSummary {
                version: k.version.clone(),
                mcs: k.mcs,
            }),
            supervisor_priority: SUPERVISOR_PRIORITY,
            components: comps,
            start_order,
            channels,
            notifications,
            regions,
            irqs,
            ioports,
            finish: desc.system.finish.iter().map(|f| f.value.clone()).collect(),
        })
    }
}

/// How many paging structures (all levels below the root) the address
/// ranges need.
fn paging_structures(ranges: &[(u64, u64)], levels: &[crate::kernel::PagingLevel]) -> u64 {
    let mut n = 0u64;
    for level in levels {
        let mut tables = BTreeSet::new();
        for (b, e) in ranges {
            for t in (b >> level.span_bits)..=((e - 1) >> level.span_bits) {
                tables.insert(t);
            }
        }
        n += tables.len() as u64;
    }
    n
}

fn private_name(desc: &Description, c: usize, k: usize) -> String {
    format!(
        "{}.{}",
        desc.components[c].name.value, desc.components[c].irqs[k].name.value
    )
}

/// Strongly connected components (iterative Tarjan).
fn tarjan(n: usize, edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut ei)) = work.last_mut() {
            if *ei == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if *ei < edges[v].len() {
                let w = edges[v][*ei];
                *ei += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(p, _)) = work.last() {
                    low[p] = low[p].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut scc = Vec::new();
                    loop {
                        let w = stack.pop().unwrap();
                        on_stack[w] = false;
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(scc);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_identifier("kv_store"));
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("kv-store"));
        assert!(!is_identifier("1kv"));
        assert!(!is_identifier("type"));
        assert!(!is_identifier("_"));
        assert_eq!(identifier_fix("kv-store"), "kv_store");
        assert_eq!(identifier_fix("2x"), "_2x");
        assert_eq!(identifier_fix("type"), "type_0");
    }

    #[test]
    fn type_paths() {
        assert!(is_type_path("kv_proto::Kv"));
        assert!(is_type_path("::kv_proto::v1::Kv"));
        assert!(is_type_path("crate::protocols::Log"));
        assert!(!is_type_path("kv_proto::"));
        assert!(!is_type_path("Vec<u8>"));
        assert!(!is_type_path("a::crate::B"));
        assert!(!is_type_path("super::Kv"));
        assert!(!is_type_path("crate"));
    }

    #[test]
    fn strongly_connected_components() {
        // 0 -> 1 -> 2 -> 0, 3 -> 0, 4 alone
        let edges = vec![vec![1], vec![2], vec![0], vec![0], vec![]];
        let mut sccs: Vec<Vec<usize>> = tarjan(5, &edges)
            .into_iter()
            .map(|mut s| {
                s.sort();
                s
            })
            .collect();
        sccs.sort();
        assert_eq!(sccs, vec![vec![0, 1, 2], vec![3], vec![4]]);
    }
}
