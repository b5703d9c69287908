//! This program's own image as it is loaded, read through the one ELF
//! model of the project (`sel4-elf-reloc`, which the process loader also
//! uses): its program headers, where it was linked and where it runs, and
//! its TLS template.
//!
//! Only memory that nothing writes after relocation is ever viewed as a
//! slice: the ELF header with the program header table (the first bytes of
//! the image) and the `.tdata` template.

use sel4_elf_reloc::{Elf, Error, ProgramHeader, TlsTemplate, TlsVariant, PT_LOAD};

/// Bytes of the ELF64 header.
const EHDR: usize = 64;

/// The image's headers and load offset.
#[derive(Clone, Copy)]
pub struct OwnImage {
    elf: Elf<'static>,
    /// Run-time address minus link address.
    offset: usize,
}

impl OwnImage {
    /// The program headers, in table order.
    pub fn program_headers(&self) -> impl Iterator<Item = ProgramHeader> + 'static {
        self.elf.program_headers()
    }

    /// Run-time address of the link-time address `vaddr`.
    pub fn runtime_address(&self, vaddr: u64) -> usize {
        (vaddr as usize).wrapping_add(self.offset)
    }

    /// The TLS template and its initialisation bytes, if the image has
    /// `PT_TLS`.
    pub fn tls(&self) -> Result<ImageTls, Error> {
        let Some(template) = self.elf.tls()? else {
            return Ok(ImageTls::EMPTY);
        };
        let init: &'static [u8] = if template.filesz == 0 {
            &[]
        } else {
            let at = self.runtime_address(template.vaddr);
            // SAFETY: `.tdata` of this image, loaded at its link address
            // plus the load offset (inside the image's first PT_LOAD
            // segments, mapped for the program's life); nothing writes
            // the template after relocation, which is done before any
            // Rust code of the runtime runs.
            unsafe { core::slice::from_raw_parts(at as *const u8, template.filesz as usize) }
        };
        Ok(ImageTls { template, init })
    }
}

/// Reads the headers of the image loaded with its ELF header at `image_start`.
///
/// # Safety
/// `image_start` must be where this program's ELF header was loaded (the
/// start code's `__ehdr_start`), with the header and the program header
/// table mapped and unchanged for the program's life.
pub(crate) unsafe fn read(image_start: usize) -> Result<OwnImage, Error> {
    // SAFETY: per the contract, the header is mapped and never written.
    let head = unsafe { core::slice::from_raw_parts(image_start as *const u8, EHDR) };
    let word = |o: usize| u64::from_le_bytes(head[o..o + 8].try_into().unwrap_or([0; 8]));
    let half = |o: usize| u16::from_le_bytes([head[o], head[o + 1]]);
    // The header and the table: e_phoff + e_phnum * e_phentsize bytes.
    let len = (word(32) as usize)
        .saturating_add(usize::from(half(56)) * usize::from(half(54)))
        .max(EHDR);
    // SAFETY: per the contract, the program header table is mapped and
    // never written (it lies in the image's first page, right after the
    // header, on every image the framework builds; a table elsewhere is
    // still part of the loaded image).
    let bytes = unsafe { core::slice::from_raw_parts(image_start as *const u8, len) };
    let elf = Elf::parse(bytes)?;
    // The ELF header is at the link address of the PT_LOAD segment with
    // file offset 0.
    let link = elf
        .program_headers()
        .find(|p| p.p_type == PT_LOAD && p.p_offset == 0)
        .ok_or(Error::NoLoadSegments)?
        .p_vaddr;
    Ok(OwnImage {
        elf,
        offset: image_start.wrapping_sub(link as usize),
    })
}

/// The image's TLS template with its initialisation bytes: what the
/// runtime lays out a thread's TLS block from.
#[derive(Debug, Clone, Copy)]
pub struct ImageTls {
    /// The image's `PT_TLS` segment (link-time address, sizes and
    /// alignment); all zero with alignment 1 if the image has none.
    pub template: TlsTemplate,
    /// The image's `.tdata` as loaded (`filesz` bytes at the template's
    /// run-time address): copied to the start of each thread's block.
    /// Empty if the image has no initialised TLS.
    pub init: &'static [u8],
}

impl ImageTls {
    const EMPTY: ImageTls = ImageTls {
        template: TlsTemplate {
            vaddr: 0,
            filesz: 0,
            memsz: 0,
            align: 1,
        },
        init: &[],
    };

    /// Bytes an area needs for a block on this architecture, whatever its
    /// alignment.
    pub fn area_size(&self) -> usize {
        self.template.area_size_for(TlsVariant::NATIVE) as usize
    }

    /// Lays a block out in `area` for this architecture, writes it and
    /// returns the thread pointer (an address inside `area`).
    pub fn init_block(&self, area: &mut [u8]) -> Result<usize, Error> {
        let start = area.as_ptr() as u64;
        let layout = self
            .template
            .layout_for(TlsVariant::NATIVE, start, area.len() as u64)?;
        layout.write(self.init, area)?;
        Ok(layout.tp as usize)
    }
}
