//! A reader of flattened device trees (FDT, the `.dtb` format of the
//! devicetree specification, version 16 and 17), no_std and without
//! allocation: what the runtime needs from the device tree seL4 passes to
//! the root task in extra bootinfo (`SEL4_BOOTINFO_HEADER_FDT`) on Arm and
//! RISC-V.
//!
//! - [`Fdt::new`] checks the header and that every block lies inside the
//!   bytes; every later read is bounds-checked too, so a malformed tree
//!   gives an error or `None`, never a panic.
//! - [`Fdt::node`] finds a node by path (`/soc/serial@10000000`; a
//!   component without `@` matches a node name without its unit address),
//!   [`Fdt::node_by_phandle`] by phandle; [`Node::property`],
//!   [`Node::reg`] (with the parent's `#address-cells`/`#size-cells`);
//!   [`Fdt::find_compatible`], the first node of a `compatible` string.
//! - [`Fdt::stdout_serial`]: the serial device `/chosen`'s `stdout-path`
//!   names (a path or an alias, options after `:` ignored), as a
//!   [`Serial`]: which UART ([`SerialKind`]: an Arm PL011 or a 16550 with
//!   its register stride and access width), its registers' physical
//!   address and size, and its input clock.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;

use core::fmt;

/// The header's magic number.
pub const MAGIC: u32 = 0xd00d_feed;
/// The oldest structure version this reader understands (16: node names
/// without full paths).
pub const MIN_VERSION: u32 = 16;

const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

/// Why a device tree or a device in it could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FdtError {
    /// Fewer bytes than the header, or than the header's `totalsize`.
    Truncated,
    /// The first word is not [`MAGIC`].
    BadMagic(u32),
    /// A structure version this reader does not understand.
    Version {
        /// The tree's version.
        version: u32,
        /// The oldest version it is compatible with.
        last_compatible: u32,
    },
    /// A block, token or property runs outside the tree, at this offset
    /// of the structure block.
    Malformed(usize),
    /// `/chosen` has no `stdout-path` (or the path names no node).
    NoStdout,
    /// The console device is no serial device this crate knows (its first
    /// `compatible` string, cut to 32 bytes).
    UnknownSerial([u8; 32]),
    /// The console device has no usable `reg`.
    NoReg,
}

impl fmt::Display for FdtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FdtError::Truncated => write!(f, "the device tree is cut short"),
            FdtError::BadMagic(m) => write!(f, "not a device tree (magic {m:#x})"),
            FdtError::Version {
                version,
                last_compatible,
            } => write!(
                f,
                "device tree version {version} (compatible with {last_compatible}) is older \
                 than {MIN_VERSION}"
            ),
            FdtError::Malformed(o) => {
                write!(
                    f,
                    "the device tree's structure is malformed at offset {o:#x}"
                )
            }
            FdtError::NoStdout => write!(
                f,
                "the device tree names no console (/chosen has no stdout-path to a node)"
            ),
            FdtError::UnknownSerial(c) => {
                let n = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                write!(
                    f,
                    "the console device is \"{}\": only arm,pl011 and ns16550-compatible UARTs \
                     are supported",
                    core::str::from_utf8(&c[..n]).unwrap_or("?")
                )
            }
            FdtError::NoReg => write!(f, "the console device has no reg property"),
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A parsed device tree over its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Fdt<'a> {
    structs: &'a [u8],
    strings: &'a [u8],
}

/// A node of a [`Fdt`].
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    fdt: Fdt<'a>,
    /// Offset of the node's first property or child (after its name).
    body: usize,
    name: &'a [u8],
    /// The parent's `#address-cells` and `#size-cells` (how this node's
    /// `reg` is laid out).
    parent_cells: (u32, u32),
}

/// One token of the structure block.
enum Token<'a> {
    Begin {
        name: &'a [u8],
        next: usize,
    },
    End {
        next: usize,
    },
    Prop {
        name_off: usize,
        value: &'a [u8],
        next: usize,
    },
    Finish,
}

impl<'a> Fdt<'a> {
    /// Checks the header and the blocks' bounds.
    pub fn new(bytes: &'a [u8]) -> Result<Fdt<'a>, FdtError> {
        let w = |i: usize| be32(bytes, i * 4).ok_or(FdtError::Truncated);
        let magic = w(0)?;
        if magic != MAGIC {
            return Err(FdtError::BadMagic(magic));
        }
        let total = w(1)? as usize;
        if total > bytes.len() || total < 40 {
            return Err(FdtError::Truncated);
        }
        let bytes = &bytes[..total];
        let (off_struct, off_strings) = (w(2)? as usize, w(3)? as usize);
        let (version, last_compatible) = (w(5)?, w(6)?);
        if version < MIN_VERSION && last_compatible < MIN_VERSION {
            return Err(FdtError::Version {
                version,
                last_compatible,
            });
        }
        let (size_strings, size_struct) = (w(8)? as usize, w(9)? as usize);
        let block = |off: usize, len: usize| {
            off.checked_add(len)
                .and_then(|end| bytes.get(off..end))
                .ok_or(FdtError::Truncated)
        };
        Ok(Fdt {
            structs: block(off_struct, size_struct)?,
            strings: block(off_strings, size_strings)?,
        })
    }

    fn token(&self, at: usize) -> Result<Token<'a>, FdtError> {
        let mut at = at;
        loop {
            let t = be32(self.structs, at).ok_or(FdtError::Malformed(at))?;
            match t {
                NOP => at += 4,
                BEGIN_NODE => {
                    let start = at + 4;
                    let rest = self.structs.get(start..).ok_or(FdtError::Malformed(at))?;
                    let len = rest
                        .iter()
                        .position(|&b| b == 0)
                        .ok_or(FdtError::Malformed(at))?;
                    return Ok(Token::Begin {
                        name: &rest[..len],
                        next: start + align4(len + 1),
                    });
                }
                END_NODE => return Ok(Token::End { next: at + 4 }),
                PROP => {
                    let len = be32(self.structs, at + 4).ok_or(FdtError::Malformed(at))? as usize;
                    let name_off =
                        be32(self.structs, at + 8).ok_or(FdtError::Malformed(at))? as usize;
                    let start = at + 12;
                    let value = start
                        .checked_add(len)
                        .and_then(|end| self.structs.get(start..end))
                        .ok_or(FdtError::Malformed(at))?;
                    return Ok(Token::Prop {
                        name_off,
                        value,
                        next: start + align4(len),
                    });
                }
                END => return Ok(Token::Finish),
                _ => return Err(FdtError::Malformed(at)),
            }
        }
    }

    fn string(&self, off: usize) -> Option<&'a [u8]> {
        let rest = self.strings.get(off..)?;
        let len = rest.iter().position(|&b| b == 0)?;
        Some(&rest[..len])
    }

    /// The root node.
    pub fn root(&self) -> Result<Node<'a>, FdtError> {
        match self.token(0)? {
            Token::Begin { name, next } => Ok(Node {
                fdt: *self,
                body: next,
                name,
                parent_cells: (2, 1),
            }),
            _ => Err(FdtError::Malformed(0)),
        }
    }

    /// The node at `path` (absolute, `/` is the root). A path component
    /// with a unit address (`serial@10000000`) matches that name exactly,
    /// one without matches the first node of that name with or without a
    /// unit address.
    pub fn node(&self, path: &str) -> Result<Option<Node<'a>>, FdtError> {
        if !path.starts_with('/') {
            return Ok(None);
        }
        let mut node = self.root()?;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            match node.child(part)? {
                Some(c) => node = c,
                None => return Ok(None),
            }
        }
        Ok(Some(node))
    }

    /// The node whose `phandle` (or `linux,phandle`) is `phandle`.
    pub fn node_by_phandle(&self, phandle: u32) -> Result<Option<Node<'a>>, FdtError> {
        fn search<'a>(n: Node<'a>, phandle: u32) -> Result<Option<Node<'a>>, FdtError> {
            for key in ["phandle", "linux,phandle"] {
                if n.property_u32(key)? == Some(phandle) {
                    return Ok(Some(n));
                }
            }
            let mut found = None;
            n.for_each_child(|c| {
                if found.is_none() {
                    found = search(c, phandle)?;
                }
                Ok(())
            })?;
            Ok(found)
        }
        search(self.root()?, phandle)
    }

    /// The first node, depth first in tree order, whose `compatible` lists
    /// `what` (`qemu,fw-cfg-mmio`, `google,goldfish-rtc`, ...).
    pub fn find_compatible(&self, what: &str) -> Result<Option<Node<'a>>, FdtError> {
        fn search<'a>(n: Node<'a>, what: &str) -> Result<Option<Node<'a>>, FdtError> {
            if n.is_compatible(what)? {
                return Ok(Some(n));
            }
            let mut found = None;
            n.for_each_child(|c| {
                if found.is_none() {
                    found = search(c, what)?;
                }
                Ok(())
            })?;
            Ok(found)
        }
        search(self.root()?, what)
    }

    /// The console's serial device: the node `/chosen`'s `stdout-path`
    /// names (or `linux,stdout-path`; an alias from `/aliases` when it does
    /// not start with `/`; anything from `:` on is options).
    pub fn stdout(&self) -> Result<Node<'a>, FdtError> {
        let chosen = self.node("/chosen")?.ok_or(FdtError::NoStdout)?;
        let path = match chosen.property("stdout-path")? {
            Some(p) => p,
            None => chosen
                .property("linux,stdout-path")?
                .ok_or(FdtError::NoStdout)?,
        };
        let path = cstr(path).ok_or(FdtError::NoStdout)?;
        let path = path.split(':').next().unwrap_or(path);
        let path = if path.starts_with('/') {
            path
        } else {
            let aliases = self.node("/aliases")?.ok_or(FdtError::NoStdout)?;
            aliases
                .property(path)?
                .and_then(cstr)
                .ok_or(FdtError::NoStdout)?
        };
        self.node(path)?.ok_or(FdtError::NoStdout)
    }

    /// The console's serial device ([`Fdt::stdout`]) as a [`Serial`].
    pub fn stdout_serial(&self) -> Result<Serial, FdtError> {
        Serial::of(&self.stdout()?)
    }
}

/// The text of a property holding one NUL-terminated string.
fn cstr(b: &[u8]) -> Option<&str> {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    core::str::from_utf8(&b[..n]).ok()
}

fn cells(v: &[u8], n: u32) -> Option<u64> {
    match n {
        1 => be32(v, 0).map(u64::from),
        2 => Some((u64::from(be32(v, 0)?) << 32) | u64::from(be32(v, 4)?)),
        _ => None,
    }
}

impl<'a> Node<'a> {
    /// The node's name with its unit address (`serial@10000000`; the root's
    /// is empty).
    pub fn name(&self) -> &'a str {
        core::str::from_utf8(self.name).unwrap_or("")
    }

    /// Calls `f` with each property (name, value) of the node.
    fn for_each_property(
        &self,
        mut f: impl FnMut(&'a [u8], &'a [u8]) -> Result<bool, FdtError>,
    ) -> Result<(), FdtError> {
        let mut at = self.body;
        while let Token::Prop {
            name_off,
            value,
            next,
        } = self.fdt.token(at)?
        {
            let name = self.fdt.string(name_off).ok_or(FdtError::Malformed(at))?;
            if !f(name, value)? {
                return Ok(());
            }
            at = next;
        }
        Ok(())
    }

    /// The value of property `name`.
    pub fn property(&self, name: &str) -> Result<Option<&'a [u8]>, FdtError> {
        let mut found = None;
        self.for_each_property(|n, v| {
            if n == name.as_bytes() {
                found = Some(v);
                return Ok(false);
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// Property `name` as one 32-bit cell.
    pub fn property_u32(&self, name: &str) -> Result<Option<u32>, FdtError> {
        Ok(self
            .property(name)?
            .and_then(|v| if v.len() == 4 { be32(v, 0) } else { None }))
    }

    /// Whether one of the node's `compatible` strings is `what`.
    pub fn is_compatible(&self, what: &str) -> Result<bool, FdtError> {
        Ok(self
            .property("compatible")?
            .is_some_and(|v| v.split(|&b| b == 0).any(|s| s == what.as_bytes())))
    }

    /// The `#address-cells` and `#size-cells` this node gives its children
    /// (2 and 1 when absent).
    pub fn child_cells(&self) -> Result<(u32, u32), FdtError> {
        Ok((
            self.property_u32("#address-cells")?.unwrap_or(2),
            self.property_u32("#size-cells")?.unwrap_or(1),
        ))
    }

    /// Calls `f` with each child node.
    pub fn for_each_child(
        &self,
        mut f: impl FnMut(Node<'a>) -> Result<(), FdtError>,
    ) -> Result<(), FdtError> {
        let cells = self.child_cells()?;
        let mut at = self.body;
        loop {
            match self.fdt.token(at)? {
                Token::Prop { next, .. } => at = next,
                Token::Begin { name, next } => {
                    f(Node {
                        fdt: self.fdt,
                        body: next,
                        name,
                        parent_cells: cells,
                    })?;
                    at = self.fdt.skip_node(next)?;
                }
                Token::End { .. } => return Ok(()),
                Token::Finish => return Err(FdtError::Malformed(at)),
            }
        }
    }

    /// The child named `name` (see [`Fdt::node`] for unit addresses).
    pub fn child(&self, name: &str) -> Result<Option<Node<'a>>, FdtError> {
        let want = name.as_bytes();
        let mut found = None;
        self.for_each_child(|c| {
            if found.is_none() {
                let base = c.name.split(|&b| b == b'@').next().unwrap_or(c.name);
                if c.name == want || (!want.contains(&b'@') && base == want) {
                    found = Some(c);
                }
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// Entry `index` of `reg`: (address, size), with the parent's
    /// `#address-cells` and `#size-cells` (1 or 2 each; `None` otherwise
    /// or when there is no such entry).
    pub fn reg(&self, index: usize) -> Result<Option<(u64, u64)>, FdtError> {
        let (ac, sc) = self.parent_cells;
        let Some(v) = self.property("reg")? else {
            return Ok(None);
        };
        let entry = ((ac + sc) as usize) * 4;
        let Some(e) = v.get(index * entry..(index + 1) * entry) else {
            return Ok(None);
        };
        Ok(cells(e, ac).zip(cells(&e[ac as usize * 4..], sc)))
    }
}

impl<'a> Fdt<'a> {
    /// Offset after the end of the node whose body starts at `body`.
    fn skip_node(&self, body: usize) -> Result<usize, FdtError> {
        let mut depth = 1usize;
        let mut at = body;
        loop {
            match self.token(at)? {
                Token::Begin { next, .. } => {
                    depth += 1;
                    at = next;
                }
                Token::Prop { next, .. } => at = next,
                Token::End { next } => {
                    depth -= 1;
                    at = next;
                    if depth == 0 {
                        return Ok(at);
                    }
                }
                Token::Finish => return Err(FdtError::Malformed(at)),
            }
        }
    }
}

/// Which UART a [`Serial`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialKind {
    /// An Arm PrimeCell PL011 (`arm,pl011`): 32-bit registers.
    Pl011,
    /// A 16550-compatible UART (`ns16550a`, `ns16550`, `ns16450`,
    /// `snps,dw-apb-uart`): register `i` at `i << reg_shift`, accessed
    /// `reg_io_width` bytes wide (1 or 4).
    Ns16550 {
        /// `reg-shift` (0 when absent).
        reg_shift: u8,
        /// `reg-io-width` (1 when absent).
        reg_io_width: u8,
    },
}

/// A serial device of the device tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serial {
    /// Which UART.
    pub kind: SerialKind,
    /// Physical address of its registers (`reg` entry 0).
    pub paddr: u64,
    /// Bytes of its registers.
    pub size: u64,
    /// Its input clock in Hz: `clock-frequency`, or that of the first
    /// clock `clocks` names (`None` when neither says).
    pub clock_hz: Option<u32>,
}

impl Serial {
    /// The serial device `node` describes.
    pub fn of(node: &Node<'_>) -> Result<Serial, FdtError> {
        let kind = if node.is_compatible("arm,pl011")? {
            SerialKind::Pl011
        } else if ["ns16550a", "ns16550", "ns16450", "snps,dw-apb-uart"]
            .iter()
            .try_fold(false, |any, c| Ok(any || node.is_compatible(c)?))?
        {
            let reg_shift = node.property_u32("reg-shift")?.unwrap_or(0);
            let reg_io_width = node.property_u32("reg-io-width")?.unwrap_or(1);
            if reg_shift > 3 || !matches!(reg_io_width, 1 | 4) {
                return Err(FdtError::UnknownSerial(first_compatible(node)?));
            }
            SerialKind::Ns16550 {
                reg_shift: reg_shift as u8,
                reg_io_width: reg_io_width as u8,
            }
        } else {
            return Err(FdtError::UnknownSerial(first_compatible(node)?));
        };
        let (paddr, size) = node.reg(0)?.ok_or(FdtError::NoReg)?;
        let mut clock_hz = node.property_u32("clock-frequency")?;
        if clock_hz.is_none() {
            if let Some(phandle) = node.property("clocks")?.and_then(|v| be32(v, 0)) {
                if let Some(clk) = node.fdt.node_by_phandle(phandle)? {
                    clock_hz = clk.property_u32("clock-frequency")?;
                }
            }
        }
        Ok(Serial {
            kind,
            paddr,
            size,
            clock_hz,
        })
    }
}

fn first_compatible(node: &Node<'_>) -> Result<[u8; 32], FdtError> {
    let mut out = [0u8; 32];
    if let Some(v) = node.property("compatible")? {
        let first = v.split(|&b| b == 0).next().unwrap_or(&[]);
        let n = first.len().min(32);
        out[..n].copy_from_slice(&first[..n]);
    }
    Ok(out)
}
