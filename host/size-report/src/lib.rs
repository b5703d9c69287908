//! Where the bytes of a root task's image go (issue 11's size figure).
//!
//! Reads an ELF64 little-endian image with its symbol table (the build's
//! unstripped output) and tells, for what `strip` keeps:
//! - the loaded sections and their sizes ([`Elf::sections`]);
//! - per crate, the bytes of the functions and data objects it owns
//!   ([`by_crate`]: a symbol belongs to the crate of its demangled path, an
//!   impl `<T as Trait>` to the crate of `T` unless `T` is a primitive or
//!   a reference to one, then to the trait's crate);
//! - the largest symbols.
//!
//! With link-time optimisation, code inlined into a function counts for the
//! function's crate, as in `cargo bloat`. The stripped size itself is the
//! size of the file `strip` writes (the `sel4-size` tool runs it).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What went wrong reading an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not an ELF64 little-endian file (names what is missing).
    NotElf64(&'static str),
    /// A header or table points outside the file.
    Truncated(&'static str),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotElf64(what) => write!(
                f,
                "not an ELF64 little-endian image ({what}): give the root task's ELF file"
            ),
            Error::Truncated(what) => write!(f, "the ELF file is cut short ({what})"),
        }
    }
}

impl std::error::Error for Error {}

/// Section header flag: occupies memory at run time.
pub const SHF_ALLOC: u64 = 2;
/// Section type: no bytes in the file (`.bss`, `.tbss`).
pub const SHT_NOBITS: u32 = 8;
const SHT_SYMTAB: u32 = 2;

/// One section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Its name (`.text`, ...).
    pub name: String,
    /// `sh_type`.
    pub kind: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// Bytes in memory (in the file too, unless [`SHT_NOBITS`]).
    pub size: u64,
}

impl Section {
    /// Loaded at run time (kept by `strip`).
    pub fn is_alloc(&self) -> bool {
        self.flags & SHF_ALLOC != 0
    }

    /// Bytes it takes in the file.
    pub fn file_bytes(&self) -> u64 {
        if self.kind == SHT_NOBITS {
            0
        } else {
            self.size
        }
    }
}

/// One sized symbol (a function or data object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// The raw (mangled) name.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// The section it lies in (index into [`Elf::sections`]).
    pub section: usize,
}

/// The parts of an ELF image the report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elf {
    /// Every section, in file order (index 0 is the null section).
    pub sections: Vec<Section>,
    /// The symbols with a size, defined in a section.
    pub symbols: Vec<Symbol>,
}

fn bytes<'a>(d: &'a [u8], off: u64, len: u64, what: &'static str) -> Result<&'a [u8], Error> {
    let off = usize::try_from(off).map_err(|_| Error::Truncated(what))?;
    let len = usize::try_from(len).map_err(|_| Error::Truncated(what))?;
    let end = off.checked_add(len).ok_or(Error::Truncated(what))?;
    d.get(off..end).ok_or(Error::Truncated(what))
}

fn u16_at(d: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([d[off], d[off + 1]])
}

fn u32_at(d: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(d[off..off + 4].try_into().expect("4 bytes"))
}

fn u64_at(d: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(d[off..off + 8].try_into().expect("8 bytes"))
}

fn c_str(table: &[u8], off: u32) -> String {
    let start = (off as usize).min(table.len());
    let end = table[start..]
        .iter()
        .position(|&b| b == 0)
        .map_or(table.len(), |n| start + n);
    String::from_utf8_lossy(&table[start..end]).into_owned()
}

impl Elf {
    /// Parses the section headers and the symbol table of `data`.
    pub fn parse(data: &[u8]) -> Result<Elf, Error> {
        if data.len() < 64 || &data[..4] != b"\x7fELF" {
            return Err(Error::NotElf64("no ELF magic"));
        }
        if data[4] != 2 {
            return Err(Error::NotElf64("not 64-bit"));
        }
        if data[5] != 1 {
            return Err(Error::NotElf64("not little-endian"));
        }
        let shoff = u64_at(data, 0x28);
        let shentsize = u64::from(u16_at(data, 0x3a));
        let shnum = u64::from(u16_at(data, 0x3c));
        let shstrndx = u16_at(data, 0x3e) as usize;
        if shentsize < 64 {
            return Err(Error::NotElf64("section header entries under 64 bytes"));
        }
        let table = bytes(data, shoff, shentsize * shnum, "section headers")?;
        struct Raw {
            name: u32,
            kind: u32,
            flags: u64,
            offset: u64,
            size: u64,
            link: u32,
            entsize: u64,
        }
        let raw: Vec<Raw> = (0..shnum as usize)
            .map(|i| {
                let h = &table[i * shentsize as usize..];
                Raw {
                    name: u32_at(h, 0),
                    kind: u32_at(h, 4),
                    flags: u64_at(h, 8),
                    offset: u64_at(h, 0x18),
                    size: u64_at(h, 0x20),
                    link: u32_at(h, 0x28),
                    entsize: u64_at(h, 0x38),
                }
            })
            .collect();
        let names = match raw.get(shstrndx) {
            Some(s) => bytes(data, s.offset, s.size, "section names")?,
            None => &[],
        };
        let sections: Vec<Section> = raw
            .iter()
            .map(|r| Section {
                name: c_str(names, r.name),
                kind: r.kind,
                flags: r.flags,
                size: r.size,
            })
            .collect();
        let mut symbols = Vec::new();
        if let Some(st) = raw.iter().find(|r| r.kind == SHT_SYMTAB) {
            let entsize = st.entsize.max(24);
            let syms = bytes(data, st.offset, st.size, "symbol table")?;
            let strtab = match raw.get(st.link as usize) {
                Some(s) => bytes(data, s.offset, s.size, "symbol names")?,
                None => return Err(Error::Truncated("symbol names")),
            };
            for i in 0..(st.size / entsize) as usize {
                let s = &syms[i * entsize as usize..];
                let name = u32_at(s, 0);
                let info = s[4];
                let shndx = u16_at(s, 6) as usize;
                let size = u64_at(s, 16);
                // functions (2) and objects (1) with a size, in a section
                let kind = info & 0xf;
                if size == 0 || !(kind == 1 || kind == 2) || shndx == 0 || shndx >= sections.len() {
                    continue;
                }
                symbols.push(Symbol {
                    name: c_str(strtab, name),
                    size,
                    section: shndx,
                });
            }
        }
        // aliases (several names for one address and size) would count twice
        symbols.sort_by(|a, b| b.size.cmp(&a.size).then(a.name.cmp(&b.name)));
        Ok(Elf { sections, symbols })
    }

    /// The loaded sections with bytes in the file, and the bytes they hold.
    pub fn loaded_file_bytes(&self) -> u64 {
        self.sections
            .iter()
            .filter(|s| s.is_alloc())
            .map(Section::file_bytes)
            .sum()
    }
}

/// Demangles a Rust symbol (legacy `_ZN..E` or v0 `_R..`, as the
/// precompiled `core` has), without its hash; other names come back as
/// they are.
pub fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_string(),
    }
}

/// Primitive types, whose impls belong to the trait's crate.
fn is_primitive(t: &str) -> bool {
    matches!(
        t,
        "bool"
            | "char"
            | "str"
            | "u8"
            | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "f32"
            | "f64"
            | "!"
            | "()"
    ) || t.starts_with('[')
        || t.starts_with('(')
        || t.starts_with("fn")
        || t.starts_with("dyn ")
}

/// Splits `<A as B>::rest` into `A` and `Some(B)` (`<A>::rest`: `A`, `None`).
fn split_impl(path: &str) -> Option<(&str, Option<&str>)> {
    let inner = path.strip_prefix('<')?;
    let mut depth = 0usize;
    let b = inner.as_bytes();
    let mut as_at = None;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'<' | b'[' | b'(' => depth += 1,
            b'>' | b']' | b')' if depth > 0 => depth -= 1,
            b'>' => {
                return Some(match as_at {
                    Some(a) => (&inner[..a], Some(&inner[a + 4..i])),
                    None => (&inner[..i], None),
                });
            }
            b' ' if depth == 0 && as_at.is_none() && inner[i..].starts_with(" as ") => {
                as_at = Some(i);
            }
            _ => {}
        }
    }
    None
}

/// The crate a demangled path belongs to: its first path component; for
/// an impl `<T as Trait>`, `T`'s crate unless `T` is a primitive (then the
/// trait's); names that are no Rust path (assembly, C) give `[no crate]`.
pub fn crate_of(path: &str) -> String {
    if let Some((ty, tr)) = split_impl(path) {
        let mut t = ty.trim();
        loop {
            let before = t;
            for p in ["&", "mut ", "*const ", "*mut ", "dyn "] {
                t = t.strip_prefix(p).unwrap_or(t);
            }
            t = t.trim_start();
            if t == before {
                break;
            }
        }
        if !is_primitive(t) && t.contains("::") {
            return crate_of(t);
        }
        return match tr {
            Some(tr) => crate_of(tr),
            // inherent impls on primitives: core's (or alloc's) own
            None => "core".to_string(),
        };
    }
    match path.find("::") {
        Some(n) if !path[..n].contains(['<', ' ']) => path[..n].to_string(),
        _ => "[no crate]".to_string(),
    }
}

/// Bytes per crate, per section kind (code, read-only data, other).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrateBytes {
    /// In executable sections.
    pub code: u64,
    /// In read-only data.
    pub rodata: u64,
    /// Elsewhere (writable data, TLS).
    pub data: u64,
}

impl CrateBytes {
    /// All of it.
    pub fn total(&self) -> u64 {
        self.code + self.rodata + self.data
    }
}

/// The symbols' bytes per crate (loaded, file-backed sections only; an
/// alias at the same size and section counts once per name, which LTO
/// images rarely have).
pub fn by_crate(elf: &Elf) -> BTreeMap<String, CrateBytes> {
    let mut m: BTreeMap<String, CrateBytes> = BTreeMap::new();
    for s in &elf.symbols {
        let sec = &elf.sections[s.section];
        if !sec.is_alloc() || sec.kind == SHT_NOBITS {
            continue;
        }
        let e = m.entry(crate_of(&demangle(&s.name))).or_default();
        if sec.flags & 4 != 0 {
            e.code += s.size;
        } else if sec.flags & 1 == 0 {
            e.rodata += s.size;
        } else {
            e.data += s.size;
        }
    }
    m
}

/// The report: the figure line `size NAME stripped=N target=N`, then the
/// sections, the crates and the `top` largest symbols.
pub fn report(name: &str, elf: &Elf, stripped: u64, target: u64, top: usize) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "size {name} stripped={stripped} target={target}");
    let _ = writeln!(
        o,
        "  {:<24} {:>8} {:>8}",
        "section (loaded)", "bytes", "symbols"
    );
    for (i, s) in elf.sections.iter().enumerate() {
        if !s.is_alloc() || s.size == 0 {
            continue;
        }
        let in_symbols: u64 = elf
            .symbols
            .iter()
            .filter(|y| y.section == i)
            .map(|y| y.size)
            .sum();
        let note = if s.kind == SHT_NOBITS {
            " (not in file)"
        } else {
            ""
        };
        let _ = writeln!(o, "  {:<24} {:>8} {:>8}{note}", s.name, s.size, in_symbols);
    }
    let loaded = elf.loaded_file_bytes();
    let _ = writeln!(
        o,
        "  {:<24} {:>8}",
        "headers and padding",
        stripped.saturating_sub(loaded)
    );
    let crates = by_crate(elf);
    let mut rows: Vec<(&String, &CrateBytes)> = crates.iter().collect();
    rows.sort_by(|a, b| b.1.total().cmp(&a.1.total()).then(a.0.cmp(b.0)));
    let _ = writeln!(
        o,
        "  {:<24} {:>8} {:>8} {:>8}",
        "crate (symbols)", "code", "rodata", "data"
    );
    for (c, b) in &rows {
        let _ = writeln!(o, "  {:<24} {:>8} {:>8} {:>8}", c, b.code, b.rodata, b.data);
    }
    let _ = writeln!(o, "  largest symbols:");
    for s in elf.symbols.iter().take(top) {
        let _ = writeln!(
            o,
            "  {:>8} {:<10} {}",
            s.size,
            elf.sections[s.section].name,
            demangle(&s.name)
        );
    }
    o
}

#[cfg(test)]
mod tests;
