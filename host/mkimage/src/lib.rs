//! The boot image: the loader's ELF with one more PT_LOAD segment, the
//! payload (`sel4_loader_core::payload`), at the first page after the
//! loader's last segment, where the loader looks for it.
//!
//! The image is a new ELF file: the loader's ELF header, its PT_LOAD
//! segments and the payload segment, no section headers (QEMU's ELF loader
//! reads program headers only). Before writing it, the placement plan the
//! loader will follow is computed here too, so an image that cannot boot
//! (root server too large, kernel outside RAM, wrong architecture) is
//! refused at build time with the same message the loader would print.

use sel4_elf_reloc::{Elf, ProgramHeader, ET_EXEC, PT_LOAD};
use sel4_loader_core::payload::{self, Contents, Payload};
use sel4_loader_core::plan::Plan;
use sel4_loader_core::{align_up, Arch, Region, PAGE_SIZE};
use std::fmt;

/// What went wrong, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn err<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error(msg.into()))
}

/// The loader's PT_LOAD segments and the address the payload goes to.
#[derive(Debug)]
pub struct LoaderImage<'a> {
    pub elf: Elf<'a>,
    pub segments: Vec<ProgramHeader>,
    /// Lowest address of the loader.
    pub start: u64,
    /// First page boundary after its last segment (memory size).
    pub payload_at: u64,
}

impl<'a> LoaderImage<'a> {
    pub fn parse(bytes: &'a [u8], arch: Arch) -> Result<Self, Error> {
        let elf = Elf::parse(bytes).map_err(|e| Error(format!("loader ELF: {e}")))?;
        if elf.machine() != arch.machine() {
            return err(format!(
                "loader ELF is for e_machine {}, the kernel is {} (build the loader for the kernel's architecture)",
                elf.header().e_machine,
                arch.name()
            ));
        }
        if elf.header().e_type != ET_EXEC {
            return err("loader ELF is not ET_EXEC (it must be linked at its run address)");
        }
        let segments: Vec<ProgramHeader> = elf
            .program_headers()
            .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
            .collect();
        if segments.is_empty() {
            return err("loader ELF has no loadable segments");
        }
        let mut start = u64::MAX;
        let mut end = 0u64;
        for p in &segments {
            if p.p_paddr != p.p_vaddr {
                return err(format!(
                    "loader segment at {:#x} has physical address {:#x}: the loader must be linked 1:1",
                    p.p_vaddr, p.p_paddr
                ));
            }
            let seg_end = p
                .vaddr_end()
                .ok_or_else(|| Error("loader segment overflows".into()))?;
            if p.p_offset
                .checked_add(p.p_filesz)
                .map_or(true, |e| e > bytes.len() as u64)
            {
                return err("loader segment lies outside the file");
            }
            start = start.min(p.p_vaddr);
            end = end.max(seg_end);
        }
        let payload_at = align_up(end, PAGE_SIZE)
            .ok_or_else(|| Error("loader ends at the top of memory".into()))?;
        Ok(LoaderImage {
            elf,
            segments,
            start,
            payload_at,
        })
    }
}

/// Packs `payload` after the loader; returns the image and the plan the
/// loader will follow.
pub fn pack(loader: &[u8], contents: &Contents<'_>) -> Result<(Vec<u8>, Plan), Error> {
    let image = LoaderImage::parse(loader, contents.arch)?;
    let mut data = vec![0u8; contents.size()];
    payload::build(contents, &mut data).map_err(|e| Error(e.to_string()))?;
    let parsed = Payload::parse(&data, contents.arch).map_err(|e| Error(e.to_string()))?;
    let end = image
        .payload_at
        .checked_add(data.len() as u64)
        .and_then(|e| align_up(e, PAGE_SIZE))
        .ok_or_else(|| Error("payload extends past the address space".into()))?;
    let plan =
        Plan::new(&parsed, Region::new(image.start, end)).map_err(|e| Error(e.to_string()))?;
    Ok((write_elf(&image, loader, &data), plan))
}

/// Packs `loader`, the kernel stage in `stage_dir` (its `kernel.elf`, the
/// device tree and RAM regions its manifest names) and `rootserver`: what
/// `sel4-mkimage` does, and `sel4-run` for a root task ELF. A root server
/// that fails `sel4_elf_reloc::check_root_task` is refused.
pub fn pack_stage(
    stage_dir: &std::path::Path,
    loader: &[u8],
    rootserver: &[u8],
    user_vaddr: Option<u64>,
) -> Result<(Vec<u8>, Plan), Error> {
    // What the start code cannot run is refused here, at build time
    // (linked at 0, not a static PIE, relocations it does not apply).
    sel4_elf_reloc::check_root_task(rootserver).map_err(|p| {
        Error(format!(
            "root server: {p} (link root servers with the settings of sel4rs's \
             .cargo/config.toml; see docs/guide.md)"
        ))
    })?;
    let stage = kernel_config::Stage::load(stage_dir).map_err(|e| Error(e.to_string()))?;
    let arch = Arch::from_name(&stage.sel4_arch).ok_or_else(|| {
        Error(format!(
            "kernel stage {} is for {}: boot images with the sel4rs loader are for aarch64 and \
             riscv64 (x86_64 kernels boot straight from QEMU)",
            stage_dir.display(),
            stage.sel4_arch
        ))
    })?;
    let dtb_path = stage.dtb.clone().ok_or_else(|| {
        Error(format!(
            "kernel stage {}: its manifest names no device tree (\"dtb\"); rebuild the stage with \
             this project's CMake glue",
            stage_dir.display()
        ))
    })?;
    if stage.memory.is_empty() {
        return err(format!(
            "kernel stage {}: its manifest names no RAM regions (\"memory\"); rebuild the stage \
             with this project's CMake glue",
            stage_dir.display()
        ));
    }
    let memory: Vec<Region> = stage
        .memory
        .iter()
        .map(|m| Region::new(m.start, m.end))
        .collect();
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path)
            .map_err(|e| Error(format!("cannot read the {what} {}: {e}", path.display())))
    };
    let kernel = read(&stage_dir.join("kernel.elf"), "kernel ELF")?;
    let dtb = read(&dtb_path, "device tree")?;
    let contents = Contents {
        arch,
        kernel: &kernel,
        rootserver,
        dtb: Some(&dtb),
        memory: &memory,
        user_vaddr,
    };
    pack(loader, &contents)
}

fn put(out: &mut [u8], off: usize, bytes: &[u8]) {
    out[off..off + bytes.len()].copy_from_slice(bytes);
}

/// The output ELF: header, program headers, then each segment's file bytes
/// at a page-aligned offset (offset and address equal modulo the page
/// size, as loaders expect).
fn write_elf(image: &LoaderImage<'_>, loader: &[u8], payload: &[u8]) -> Vec<u8> {
    const EHDR: usize = 64;
    const PHDR: usize = 56;
    let mut phdrs = image.segments.clone();
    phdrs.push(ProgramHeader {
        p_type: PT_LOAD,
        p_flags: 4, // read
        p_offset: 0,
        p_vaddr: image.payload_at,
        p_paddr: image.payload_at,
        p_filesz: payload.len() as u64,
        p_memsz: payload.len() as u64,
        p_align: PAGE_SIZE,
    });
    let mut off = (EHDR + PHDR * phdrs.len()) as u64;
    let mut sources: Vec<&[u8]> = Vec::new();
    for (i, p) in phdrs.iter_mut().enumerate() {
        off = align_up(off, PAGE_SIZE).unwrap_or(off) + p.p_vaddr % PAGE_SIZE;
        p.p_offset = off;
        off += p.p_filesz;
        sources.push(if i < image.segments.len() {
            let s = &image.segments[i];
            &loader[s.p_offset as usize..(s.p_offset + s.p_filesz) as usize]
        } else {
            payload
        });
    }
    let mut out = vec![0u8; off as usize];
    // ELF header: the loader's identification, type, machine and entry.
    out[..16].copy_from_slice(&loader[..16]);
    let h = image.elf.header();
    put(&mut out, 16, &h.e_type.to_le_bytes());
    put(&mut out, 18, &h.e_machine.to_le_bytes());
    put(&mut out, 20, &1u32.to_le_bytes());
    put(&mut out, 24, &h.e_entry.to_le_bytes());
    put(&mut out, 32, &(EHDR as u64).to_le_bytes());
    put(&mut out, 40, &0u64.to_le_bytes()); // no section headers
    put(&mut out, 48, &h.e_flags.to_le_bytes());
    put(&mut out, 52, &(EHDR as u16).to_le_bytes());
    put(&mut out, 54, &(PHDR as u16).to_le_bytes());
    put(&mut out, 56, &(phdrs.len() as u16).to_le_bytes());
    put(&mut out, 58, &64u16.to_le_bytes());
    for (i, p) in phdrs.iter().enumerate() {
        let o = EHDR + i * PHDR;
        put(&mut out, o, &p.p_type.to_le_bytes());
        put(&mut out, o + 4, &p.p_flags.to_le_bytes());
        put(&mut out, o + 8, &p.p_offset.to_le_bytes());
        put(&mut out, o + 16, &p.p_vaddr.to_le_bytes());
        put(&mut out, o + 24, &p.p_paddr.to_le_bytes());
        put(&mut out, o + 32, &p.p_filesz.to_le_bytes());
        put(&mut out, o + 40, &p.p_memsz.to_le_bytes());
        put(&mut out, o + 48, &p.p_align.to_le_bytes());
        put(&mut out, p.p_offset as usize, sources[i]);
    }
    out
}

/// A one-line description of a plan, for the tool's output.
pub fn describe(plan: &Plan) -> String {
    format!(
        "kernel {} entry {:#x}, device tree {}, root server {} at {:#x} (linked at {:#x})",
        plan.kernel.phys,
        plan.kernel.entry,
        plan.dtb,
        plan.user.phys,
        plan.user.vaddr,
        plan.user.link_base
    )
}

/// Parses a number: decimal or `0x` hexadecimal, `_` separators allowed.
pub fn parse_number(s: &str) -> Option<u64> {
    let t: String = s.chars().filter(|&c| c != '_').collect();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

#[cfg(test)]
mod tests;
