//! TOML text -> [`Description`]: checks the TOML syntax (every syntax error
//! is reported, then parsing stops), then every table for unknown keys,
//! missing keys and values of the wrong type or form, reporting all of them.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diag::{Diagnostic, Diagnostics, Source, Span};
use crate::model::*;

type Val<'i> = Spanned<DeValue<'i>>;

/// Parses `src`. Returns `None` when the TOML syntax is broken (the errors
/// are in `diags`); otherwise a description of everything that could be
/// read, with every problem found in `diags`.
pub fn parse(src: &Source, diags: &mut Diagnostics) -> Option<Description> {
    let (root, errors) = DeTable::parse_recoverable(&src.text);
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            diags.push(
                Diagnostic::error(span, format!("TOML syntax: {}", e.message().trim()))
                    .help("fix the TOML syntax (https://toml.io): nothing else was checked"),
            );
        }
        return None;
    }
    let mut p = Parser { d: diags };
    let whole = 0..src.text.len();
    Some(p.description(root.get_ref(), whole))
}

struct Parser<'d> {
    d: &'d mut Diagnostics,
}

/// A table being read: reports keys nobody asked for when dropped.
struct Table<'a, 'i> {
    t: &'a DeTable<'i>,
    span: Span,
    /// "component `kv`" etc., for messages.
    what: String,
    known: &'static [&'static str],
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known name closest to `name`, if it is close.
pub(crate) fn suggest<'k>(name: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    known
        .into_iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

impl Parser<'_> {
    fn err(&mut self, d: Diagnostic) {
        self.d.push(d);
    }

    fn table<'a, 'i>(
        &mut self,
        v: &'a Val<'i>,
        what: String,
        known: &'static [&'static str],
    ) -> Option<Table<'a, 'i>> {
        match v.get_ref() {
            DeValue::Table(t) => {
                let tab = Table {
                    t,
                    span: v.span(),
                    what,
                    known,
                };
                self.unknown_keys(&tab);
                Some(tab)
            }
            other => {
                self.err(
                    Diagnostic::error(
                        v.span(),
                        format!("{what} must be a table, not {}", other.type_str()),
                    )
                    .help(format!("write it as `{{ {} = ... }}`", known[0])),
                );
                None
            }
        }
    }

    fn unknown_keys(&mut self, tab: &Table) {
        for (k, _) in tab.t.iter() {
            let key: &str = k.get_ref();
            if !tab.known.contains(&key) {
                let mut d =
                    Diagnostic::error(k.span(), format!("unknown key `{key}` in {}", tab.what));
                d = match suggest(key, tab.known.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!(
                        "the keys of {} are: {}",
                        tab.what,
                        tab.known.join(", ")
                    )),
                };
                self.err(d);
            }
        }
    }

    fn missing(&mut self, tab: &Table, key: &str, example: &str) {
        self.err(
            Diagnostic::error(tab.span.clone(), format!("{} has no `{key}`", tab.what))
                .help(format!("add `{key} = {example}`")),
        );
    }

    fn string(&mut self, v: &Val, what: &str) -> Option<Sp<String>> {
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), v.span())),
            other => {
                self.err(
                    Diagnostic::error(
                        v.span(),
                        format!("{what} must be a string, not {}", other.type_str()),
                    )
                    .help("put the value in double quotes"),
                );
                None
            }
        }
    }

    fn integer(&mut self, v: &Val, what: &str) -> Option<Sp<u64>> {
        match v.get_ref() {
            DeValue::Integer(i) => {
                let text = i.as_str().replace('_', "");
                if text.starts_with('-') {
                    self.err(
                        Diagnostic::error(v.span(), format!("{what} must not be negative"))
                            .help("use a number of 0 or more"),
                    );
                    return None;
                }
                match u64::from_str_radix(text.trim_start_matches('+'), i.radix()) {
                    Ok(n) => Some(Sp::new(n, v.span())),
                    Err(_) => {
                        self.err(
                            Diagnostic::error(v.span(), format!("{what} does not fit in 64 bits"))
                                .help("use a smaller number"),
                        );
                        None
                    }
                }
            }
            other => {
                self.err(
                    Diagnostic::error(
                        v.span(),
                        format!("{what} must be an integer, not {}", other.type_str()),
                    )
                    .help("write a number such as `100` or `0x2f8` (no quotes)"),
                );
                None
            }
        }
    }

    /// A size in bytes: an integer, or a string like "64 KiB".
    fn size(&mut self, v: &Val, what: &str) -> Option<Sp<u64>> {
        if let DeValue::String(s) = v.get_ref() {
            match parse_size(s) {
                Some(n) => Some(Sp::new(n, v.span())),
                None => {
                    self.err(
                        Diagnostic::error(v.span(), format!("{what}: `{s}` is not a size"))
                            .help("write a number of bytes or a number with a unit: \"16 KiB\", \"4 MiB\", \"1 GiB\""),
                    );
                    None
                }
            }
        } else if matches!(v.get_ref(), DeValue::Integer(_)) {
            self.integer(v, what)
        } else {
            self.err(
                Diagnostic::error(
                    v.span(),
                    format!("{what} must be a size, not {}", v.get_ref().type_str()),
                )
                .help("write a number of bytes or a string such as \"64 KiB\""),
            );
            None
        }
    }

    fn boolean(&mut self, v: &Val, what: &str) -> Option<Sp<bool>> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, v.span())),
            other => {
                self.err(
                    Diagnostic::error(
                        v.span(),
                        format!("{what} must be true or false, not {}", other.type_str()),
                    )
                    .help("write `true` or `false` (no quotes)"),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, v: &Val, what: &str, options: &[(&str, T)]) -> Option<Sp<T>> {
        let s = self.string(v, what)?;
        match options.iter().find(|(n, _)| *n == s.value) {
            Some((_, t)) => Some(Sp::new(*t, s.span)),
            None => {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                self.err(
                    Diagnostic::error(s.span, format!("{what}: unknown value \"{}\"", s.value))
                        .help(format!("use one of {}", names.join(", "))),
                );
                None
            }
        }
    }

    /// The entries of an array of tables (`[[x]]` or `x = [{..}, ..]`).
    fn array<'a, 'i>(&mut self, v: &'a Val<'i>, what: &str) -> &'a [Val<'i>] {
        match v.get_ref() {
            DeValue::Array(a) => a,
            other => {
                self.err(
                    Diagnostic::error(
                        v.span(),
                        format!("{what} must be an array, not {}", other.type_str()),
                    )
                    .help("write it as `[ ... ]` or as `[[...]]` tables"),
                );
                &[]
            }
        }
    }

    fn description(&mut self, root: &DeTable, whole: Span) -> Description {
        let top = Table {
            t: root,
            span: whole.clone(),
            what: "the description".into(),
            known: &[
                "system",
                "components",
                "channels",
                "notifications",
                "regions",
            ],
        };
        self.unknown_keys(&top);
        let system = match root.get("system") {
            Some(v) => self.system(v),
            None => {
                self.err(
                    Diagnostic::error(0..0, "the description has no [system] table")
                        .help("start the file with `[system]` and `name = \"my-system\"`"),
                );
                None
            }
        };
        let system = system.unwrap_or(System {
            name: Sp::new(String::new(), 0..0),
            arch: Sp::new(Arch::X86_64, 0..0),
            arch_given: false,
            manifest: None,
            finish: Vec::new(),
            span: 0..0,
        });
        let mut desc = Description {
            system,
            components: Vec::new(),
            channels: Vec::new(),
            notifications: Vec::new(),
            regions: Vec::new(),
        };
        for section in ["components", "channels", "notifications", "regions"] {
            let Some(v) = root.get(section) else { continue };
            let DeValue::Table(t) = v.get_ref() else {
                self.err(
                    Diagnostic::error(
                        v.span(),
                        format!("`{section}` must be a table of named entries"),
                    )
                    .help(format!("write `[{section}.NAME]` tables")),
                );
                continue;
            };
            for (k, v) in t.iter() {
                let name = Sp::new(k.get_ref().to_string(), k.span());
                let item = match section {
                    "components" => self.component(name, v),
                    "channels" => self.channel(name, v),
                    "notifications" => self.notification(name, v),
                    _ => self.region(name, v),
                };
                match item {
                    Some(Item::Component(c)) => desc.components.push(c),
                    Some(Item::Channel(c)) => desc.channels.push(c),
                    Some(Item::Notification(n)) => desc.notifications.push(n),
                    Some(Item::Region(r)) => desc.regions.push(r),
                    None => {}
                }
            }
        }
        desc
    }

    fn system(&mut self, v: &Val) -> Option<System> {
        let t = self.table(
            v,
            "[system]".into(),
            &["name", "arch", "manifest", "finish"],
        )?;
        let name = match t.t.get("name") {
            Some(v) => self.string(v, "system name"),
            None => {
                self.missing(&t, "name", "\"my-system\"");
                None
            }
        };
        let arch = match t.t.get("arch") {
            Some(v) => self.choice(
                v,
                "arch",
                &[
                    ("x86_64", Arch::X86_64),
                    ("aarch64", Arch::Aarch64),
                    ("riscv64", Arch::Riscv64),
                ],
            ),
            None => Some(Sp::new(Arch::X86_64, t.span.clone())),
        };
        let arch_given = t.t.contains_key("arch");
        let manifest = t.t.get("manifest").and_then(|v| self.string(v, "manifest"));
        let mut finish = Vec::new();
        if let Some(v) = t.t.get("finish") {
            for x in self.array(v, "finish") {
                if let Some(s) = self.string(x, "a component of `finish`") {
                    finish.push(s);
                }
            }
        }
        Some(System {
            name: name.unwrap_or(Sp::new(String::new(), t.span.clone())),
            arch: arch.unwrap_or(Sp::new(Arch::X86_64, t.span.clone())),
            arch_given,
            manifest,
            finish,
            span: t.span.clone(),
        })
    }

    fn component(&mut self, name: Sp<String>, v: &Val) -> Option<Item> {
        const KEYS: &[&str] = &[
            "crate",
            "elf",
            "priority",
            "mcp",
            "budget",
            "stack",
            "heap",
            "image_size",
            "free_slots",
            "threads",
            "fault",
            "mcs",
            "ioports",
            "irqs",
        ];
        let what = format!("component `{}`", name.value);
        let t = self.table(v, what.clone(), KEYS)?;
        let image = match (t.t.get("crate"), t.t.get("elf")) {
            (Some(c), None) => self
                .string(c, "crate")
                .map(|s| Sp::new(ImageSource::Crate(s.value), s.span)),
            (None, Some(e)) => self
                .string(e, "elf")
                .map(|s| Sp::new(ImageSource::Elf(s.value), s.span)),
            (Some(_), Some(e)) => {
                self.err(
                    Diagnostic::error(
                        e.span(),
                        format!("{what} names both a crate and an ELF file"),
                    )
                    .help("keep `crate` (built from source) or `elf` (prebuilt), not both"),
                );
                None
            }
            (None, None) => {
                self.err(
                    Diagnostic::error(t.span.clone(), format!("{what} has neither `crate` nor `elf`"))
                        .help("add `crate = \"package-name\"` (a package of the workspace) or `elf = \"path/to/image.elf\"`"),
                );
                None
            }
        };
        let priority = match t.t.get("priority") {
            Some(v) => self.integer(v, "priority"),
            None => {
                self.missing(&t, "priority", "100");
                None
            }
        };
        let budget = match t.t.get("budget") {
            Some(v) => self.size(v, "budget"),
            None => {
                self.missing(&t, "budget", "\"1 MiB\"");
                None
            }
        };
        let mcp = t.t.get("mcp").and_then(|v| self.integer(v, "mcp"));
        let stack = t.t.get("stack").and_then(|v| self.size(v, "stack"));
        let heap = t.t.get("heap").and_then(|v| self.size(v, "heap"));
        let image_size =
            t.t.get("image_size")
                .and_then(|v| self.size(v, "image_size"));
        let free_slots =
            t.t.get("free_slots")
                .and_then(|v| self.integer(v, "free_slots"));
        let mut threads = Vec::new();
        if let Some(v) = t.t.get("threads") {
            for e in self.array(v, "threads") {
                if let Some(th) = self.thread(e, &name.value) {
                    threads.push(th);
                }
            }
        }
        let fault = t.t.get("fault").and_then(|v| self.fault(v, &name.value));
        let mcs = t.t.get("mcs").and_then(|v| self.mcs(v, &name.value));
        let mut ioports = Vec::new();
        if let Some(v) = t.t.get("ioports") {
            for e in self.array(v, "ioports") {
                if let Some(p) = self.ioport(e, &name.value) {
                    ioports.push(p);
                }
            }
        }
        let mut irqs = Vec::new();
        if let Some(v) = t.t.get("irqs") {
            for e in self.array(v, "irqs") {
                if let Some(i) = self.irq(e, &name.value) {
                    irqs.push(i);
                }
            }
        }
        // A component with a missing or bad required value is kept (with
        // `broken` set) so that references to it do not fail as well.
        let broken = image.is_none() || priority.is_none() || budget.is_none();
        let fallback = Sp::new(0, name.span.clone());
        Some(Item::Component(Component {
            image: image.unwrap_or(Sp::new(
                ImageSource::Crate(String::new()),
                name.span.clone(),
            )),
            priority: priority.unwrap_or(fallback.clone()),
            budget: budget.unwrap_or(fallback),
            broken,
            mcp,
            stack,
            heap,
            image_size,
            free_slots,
            threads,
            fault,
            mcs,
            ioports,
            irqs,
            span: name.span.clone(),
            name,
        }))
    }

    fn thread(&mut self, v: &Val, comp: &str) -> Option<Thread> {
        let t = self.table(
            v,
            format!("a thread of component `{comp}`"),
            &["name", "priority", "stack"],
        )?;
        let name = match t.t.get("name") {
            Some(v) => self.string(v, "thread name"),
            None => {
                self.missing(&t, "name", "\"worker\"");
                None
            }
        };
        let priority =
            t.t.get("priority")
                .and_then(|v| self.integer(v, "priority"));
        let stack = t.t.get("stack").and_then(|v| self.size(v, "stack"));
        Some(Thread {
            name: name?,
            priority,
            stack,
            span: t.span.clone(),
        })
    }

    fn fault(&mut self, v: &Val, comp: &str) -> Option<Fault> {
        const ACTIONS: &[(&str, FaultAction)] = &[
            ("restart", FaultAction::Restart),
            ("stop", FaultAction::Stop),
            ("halt", FaultAction::Halt),
        ];
        if let DeValue::String(_) = v.get_ref() {
            let action = self.choice(v, "fault policy", ACTIONS)?;
            return Some(Fault {
                span: action.span.clone(),
                action,
                max_restarts: None,
                backoff_ms: None,
                backoff_max_ms: None,
                then: None,
            });
        }
        let t = self.table(
            v,
            format!("the fault policy of component `{comp}`"),
            &[
                "action",
                "max_restarts",
                "backoff_ms",
                "backoff_max_ms",
                "then",
            ],
        )?;
        let action = match t.t.get("action") {
            Some(v) => self.choice(v, "fault action", ACTIONS),
            None => {
                self.missing(&t, "action", "\"restart\"");
                None
            }
        };
        let max_restarts =
            t.t.get("max_restarts")
                .and_then(|v| self.integer(v, "max_restarts"));
        let backoff_ms =
            t.t.get("backoff_ms")
                .and_then(|v| self.integer(v, "backoff_ms"));
        let backoff_max_ms =
            t.t.get("backoff_max_ms")
                .and_then(|v| self.integer(v, "backoff_max_ms"));
        let then =
            t.t.get("then")
                .and_then(|v| self.choice(v, "then", ACTIONS));
        Some(Fault {
            action: action?,
            max_restarts,
            backoff_ms,
            backoff_max_ms,
            then,
            span: t.span.clone(),
        })
    }

    fn mcs(&mut self, v: &Val, comp: &str) -> Option<Mcs> {
        let t = self.table(
            v,
            format!("the MCS parameters of component `{comp}`"),
            &["budget_us", "period_us", "passive"],
        )?;
        let budget_us = match t.t.get("budget_us") {
            Some(v) => self.integer(v, "budget_us"),
            None => {
                self.missing(&t, "budget_us", "1000");
                None
            }
        };
        let period_us = match t.t.get("period_us") {
            Some(v) => self.integer(v, "period_us"),
            None => {
                self.missing(&t, "period_us", "1000");
                None
            }
        };
        let passive = t.t.get("passive").and_then(|v| self.boolean(v, "passive"));
        Some(Mcs {
            budget_us: budget_us?,
            period_us: period_us?,
            passive,
            span: t.span.clone(),
        })
    }

    fn ioport(&mut self, v: &Val, comp: &str) -> Option<IoPort> {
        let t = self.table(
            v,
            format!("an I/O port range of component `{comp}`"),
            &["name", "base", "size"],
        )?;
        let name = self.required_string(&t, "name", "\"com2\"");
        let base = match t.t.get("base") {
            Some(v) => self.integer(v, "base"),
            None => {
                self.missing(&t, "base", "0x2f8");
                None
            }
        };
        let size = match t.t.get("size") {
            Some(v) => self.integer(v, "size"),
            None => {
                self.missing(&t, "size", "8");
                None
            }
        };
        Some(IoPort {
            name: name?,
            base: base?,
            size: size?,
            span: t.span.clone(),
        })
    }

    fn required_string(&mut self, t: &Table, key: &str, example: &str) -> Option<Sp<String>> {
        match t.t.get(key) {
            Some(v) => self.string(v, key),
            None => {
                self.missing(t, key, example);
                None
            }
        }
    }

    fn required_int(&mut self, t: &Table, key: &str, example: &str) -> Option<Sp<u64>> {
        match t.t.get(key) {
            Some(v) => self.integer(v, key),
            None => {
                self.missing(t, key, example);
                None
            }
        }
    }

    fn irq(&mut self, v: &Val, comp: &str) -> Option<Irq> {
        let t = self.table(
            v,
            format!("an interrupt of component `{comp}`"),
            &[
                "name",
                "notification",
                "badge",
                "ioapic",
                "pin",
                "trigger",
                "polarity",
                "vector",
                "pcidev",
                "handle",
                "irq",
            ],
        )?;
        let name = self.required_string(&t, "name", "\"uart\"");
        let notification =
            t.t.get("notification")
                .and_then(|v| self.string(v, "notification"));
        let badge = t.t.get("badge").and_then(|v| self.integer(v, "badge"));
        let trigger_of = |p: &mut Parser, default: Trigger| match t.t.get("trigger") {
            Some(v) => p.choice(
                v,
                "trigger",
                &[("level", Trigger::Level), ("edge", Trigger::Edge)],
            ),
            None => Some(Sp::new(default, t.span.clone())),
        };
        let kind = if t.t.contains_key("pin") {
            for k in ["pcidev", "handle", "irq"] {
                self.not_with(&t, k, "pin");
            }
            let ioapic = match t.t.get("ioapic") {
                Some(v) => self.integer(v, "ioapic"),
                None => Some(Sp::new(0, t.span.clone())),
            };
            let pin = self.required_int(&t, "pin", "4");
            let trigger = trigger_of(self, Trigger::Level);
            let polarity = match t.t.get("polarity") {
                Some(v) => self.choice(
                    v,
                    "polarity",
                    &[("high", Polarity::High), ("low", Polarity::Low)],
                ),
                None => Some(Sp::new(Polarity::High, t.span.clone())),
            };
            let vector = self.required_int(&t, "vector", "4");
            IrqKind::IoApic {
                ioapic: ioapic?,
                pin: pin?,
                trigger: trigger?,
                polarity: polarity?,
                vector: vector?,
            }
        } else if t.t.contains_key("pcidev") {
            for k in ["ioapic", "trigger", "polarity", "irq"] {
                self.not_with(&t, k, "pcidev");
            }
            let pci = t.t.get("pcidev").and_then(|v| self.string(v, "pcidev"));
            let pci = pci.and_then(|s| match parse_pcidev(&s.value) {
                Some((b, d, f)) => Some((Sp::new(b, s.span.clone()), Sp::new(d, s.span.clone()), Sp::new(f, s.span.clone()))),
                None => {
                    self.err(
                        Diagnostic::error(s.span, format!("pcidev \"{}\" is not a PCI address", s.value))
                            .help("write bus:device.function in hex, e.g. \"00:1f.2\" (bus <= ff, device <= 1f, function <= 7)"),
                    );
                    None
                }
            });
            let handle = self.required_int(&t, "handle", "0");
            let vector = self.required_int(&t, "vector", "5");
            let (bus, device, function) = pci?;
            IrqKind::Msi {
                bus,
                device,
                function,
                handle: handle?,
                vector: vector?,
            }
        } else if t.t.contains_key("irq") {
            for k in ["ioapic", "polarity", "vector", "handle"] {
                self.not_with(&t, k, "irq");
            }
            let irq = self.required_int(&t, "irq", "33");
            let trigger = trigger_of(self, Trigger::Level);
            IrqKind::Line {
                irq: irq?,
                trigger: trigger?,
            }
        } else {
            self.err(
                Diagnostic::error(t.span.clone(), format!("an interrupt of component `{comp}` names no source"))
                    .help("give `pin` and `vector` (x86 I/O APIC), `pcidev`, `handle` and `vector` (x86 MSI), or `irq` (aarch64, riscv64)"),
            );
            return None;
        };
        Some(Irq {
            name: name?,
            kind,
            notification,
            badge,
            span: t.span.clone(),
        })
    }

    fn not_with(&mut self, t: &Table, key: &str, with: &str) {
        if let Some((k, _)) = t.t.get_key_value(key) {
            self.err(
                Diagnostic::error(k.span(), format!("`{key}` does not go with `{with}`")).help(
                    format!("remove `{key}`: an interrupt with `{with}` does not use it"),
                ),
            );
        }
    }

    /// A channel or notification end: `"component"` or `{ component = .., name = .., .. }`.
    fn end(&mut self, v: &Val, what: &str, keys: &'static [&'static str]) -> Option<End> {
        if let DeValue::String(s) = v.get_ref() {
            return Some(End {
                component: Sp::new(s.to_string(), v.span()),
                name: None,
                protocol: None,
                badge: None,
                span: v.span(),
            });
        }
        let t = self.table(v, what.to_string(), keys)?;
        let component = self.required_string(&t, "component", "\"name\"");
        let name = t.t.get("name").and_then(|v| self.string(v, "name"));
        let protocol = t.t.get("protocol").and_then(|v| self.string(v, "protocol"));
        let badge = t.t.get("badge").and_then(|v| self.integer(v, "badge"));
        Some(End {
            component: component?,
            name,
            protocol,
            badge,
            span: t.span.clone(),
        })
    }

    fn channel(&mut self, name: Sp<String>, v: &Val) -> Option<Item> {
        let what = format!("channel `{}`", name.value);
        let t = self.table(v, what.clone(), &["protocol", "server", "clients"])?;
        let protocol = self.required_string(&t, "protocol", "\"my_protocols::Kv\"");
        let server = match t.t.get("server") {
            Some(v) => self.end(
                v,
                &format!("the server of {what}"),
                &["component", "name", "protocol"],
            ),
            None => {
                self.missing(&t, "server", "\"component-name\"");
                None
            }
        };
        let mut clients = Vec::new();
        match t.t.get("clients") {
            Some(v) => {
                for e in self.array(v, "clients") {
                    if let Some(c) = self.end(
                        e,
                        &format!("a client of {what}"),
                        &["component", "name", "protocol", "badge"],
                    ) {
                        clients.push(c);
                    }
                }
            }
            None => self.missing(&t, "clients", "[\"client-a\", \"client-b\"]"),
        }
        Some(Item::Channel(Channel {
            protocol: protocol?,
            server: server?,
            clients,
            span: name.span.clone(),
            name,
        }))
    }

    fn notification(&mut self, name: Sp<String>, v: &Val) -> Option<Item> {
        let what = format!("notification `{}`", name.value);
        let t = self.table(v, what.clone(), &["waiter", "signallers", "bind"])?;
        let waiter = match t.t.get("waiter") {
            Some(v) => self.end(v, &format!("the waiter of {what}"), &["component", "name"]),
            None => {
                self.missing(&t, "waiter", "\"component-name\"");
                None
            }
        };
        let bind = match t.t.get("bind") {
            None => None,
            Some(v) => match v.get_ref() {
                DeValue::Boolean(true) => Some(Sp::new(Bind::MainThread, v.span())),
                DeValue::Boolean(false) => None,
                DeValue::String(s) => Some(Sp::new(Bind::Thread(s.to_string()), v.span())),
                other => {
                    self.err(
                        Diagnostic::error(v.span(), format!("bind must be true, false or a thread name, not {}", other.type_str()))
                            .help("write `bind = true` (the waiter's main thread) or `bind = \"thread-name\"`"),
                    );
                    None
                }
            },
        };
        let mut signallers = Vec::new();
        if let Some(v) = t.t.get("signallers") {
            for e in self.array(v, "signallers") {
                if let Some(s) = self.end(
                    e,
                    &format!("a signaller of {what}"),
                    &["component", "name", "badge"],
                ) {
                    signallers.push(s);
                }
            }
        }
        Some(Item::Notification(Notification {
            waiter: waiter?,
            bind,
            signallers,
            span: name.span.clone(),
            name,
        }))
    }

    fn region(&mut self, name: Sp<String>, v: &Val) -> Option<Item> {
        let what = format!("region `{}`", name.value);
        let t = self.table(
            v,
            what.clone(),
            &["size", "phys", "cached", "owner", "maps"],
        )?;
        let size = match t.t.get("size") {
            Some(v) => self.size(v, "size"),
            None => {
                self.missing(&t, "size", "\"64 KiB\"");
                None
            }
        };
        let phys = t.t.get("phys").and_then(|v| self.integer(v, "phys"));
        let cached = t.t.get("cached").and_then(|v| self.boolean(v, "cached"));
        let owner = t.t.get("owner").and_then(|v| self.string(v, "owner"));
        let mut maps = Vec::new();
        match t.t.get("maps") {
            Some(v) => {
                for e in self.array(v, "maps") {
                    if let Some(m) = self.mapping(e, &what) {
                        maps.push(m);
                    }
                }
            }
            None => self.missing(&t, "maps", "[{ component = \"name\", perms = \"rw\" }]"),
        }
        Some(Item::Region(Region {
            size: size?,
            phys,
            cached,
            owner,
            maps,
            span: name.span.clone(),
            name,
        }))
    }

    fn mapping(&mut self, v: &Val, region: &str) -> Option<Mapping> {
        let t = self.table(
            v,
            format!("a mapping of {region}"),
            &["component", "name", "vaddr", "perms"],
        )?;
        let component = self.required_string(&t, "component", "\"name\"");
        let name = t.t.get("name").and_then(|v| self.string(v, "name"));
        let vaddr = t.t.get("vaddr").and_then(|v| self.integer(v, "vaddr"));
        let perms = match t.t.get("perms") {
            Some(v) => self.string(v, "perms").and_then(|s| match parse_perms(&s.value) {
                Some(p) => Some(Sp::new(p, s.span)),
                None => {
                    self.err(
                        Diagnostic::error(s.span, format!("perms \"{}\" are not valid", s.value))
                            .help("use \"r\", \"rw\" or \"rx\" (a mapping is never writable and executable)"),
                    );
                    None
                }
            }),
            None => Some(Sp::new(
                Perms {
                    read: true,
                    write: true,
                    execute: false,
                },
                t.span.clone(),
            )),
        };
        Some(Mapping {
            component: component?,
            name,
            vaddr,
            perms: perms?,
            span: t.span.clone(),
        })
    }
}

#[allow(clippy::large_enum_variant)] // one per table, moved once
enum Item {
    Component(Component),
    Channel(Channel),
    Notification(Notification),
    Region(Region),
}

/// "64 KiB", "4MiB", "4096", "1 GiB" -> bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: u64 = num.replace('_', "").parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    num.checked_mul(mult)
}

/// "bus:dev.func" in hex, as Microkit writes it.
fn parse_pcidev(s: &str) -> Option<(u64, u64, u64)> {
    let (bus, rest) = s.split_once(':')?;
    let (dev, func) = rest.split_once('.')?;
    let p = |x: &str| u64::from_str_radix(x.trim(), 16).ok();
    let (b, d, f) = (p(bus)?, p(dev)?, p(func)?);
    (b <= 0xff && d <= 0x1f && f <= 7).then_some((b, d, f))
}

fn parse_perms(s: &str) -> Option<Perms> {
    let p = |read, write, execute| Perms {
        read,
        write,
        execute,
    };
    match s {
        "r" => Some(p(true, false, false)),
        "rw" => Some(p(true, true, false)),
        "rx" => Some(p(true, false, true)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64 KiB"), Some(65536));
        assert_eq!(parse_size("4MiB"), Some(4 << 20));
        assert_eq!(parse_size("1_024"), Some(1024));
        assert_eq!(parse_size("2 GiB"), Some(2 << 30));
        assert_eq!(parse_size("2 KB"), None);
        assert_eq!(parse_size("KiB"), None);
        assert_eq!(parse_size("99999999999999999999 GiB"), None);
    }

    #[test]
    fn pci_addresses() {
        assert_eq!(parse_pcidev("00:1f.2"), Some((0, 0x1f, 2)));
        assert_eq!(parse_pcidev("0:20.0"), None);
        assert_eq!(parse_pcidev("0:1.8"), None);
        assert_eq!(parse_pcidev("zz"), None);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("priorty", ["priority", "mcp"]), Some("priority"));
        assert_eq!(suggest("colour", ["priority", "mcp"]), None);
    }
}
