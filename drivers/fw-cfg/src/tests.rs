//! The reader against a model of QEMU's MMIO fw_cfg device.

use super::*;
use sel4_device::mmio::check;
use std::cell::RefCell;
use std::vec;
use std::vec::Vec;

/// QEMU's fw_cfg as an MMIO region of 0x18 bytes: items by key, the
/// selector decoded big endian, the data register a byte stream.
#[derive(Debug)]
struct FakeDevice {
    items: Vec<(u16, Vec<u8>)>,
    state: RefCell<(Option<u16>, usize)>,
    size: usize,
}

impl FakeDevice {
    fn new(files: &[(&str, &[u8])]) -> FakeDevice {
        let mut dir = (files.len() as u32).to_be_bytes().to_vec();
        let mut items = vec![(KEY_SIGNATURE, b"QEMU".to_vec())];
        for (i, (name, data)) in files.iter().enumerate() {
            let key = 0x20 + i as u16;
            let mut e = [0u8; 64];
            e[..4].copy_from_slice(&(data.len() as u32).to_be_bytes());
            e[4..6].copy_from_slice(&key.to_be_bytes());
            e[8..8 + name.len()].copy_from_slice(name.as_bytes());
            dir.extend_from_slice(&e);
            items.push((key, data.to_vec()));
        }
        items.push((KEY_FILE_DIR, dir));
        FakeDevice {
            items,
            state: RefCell::new((None, 0)),
            size: 0x18,
        }
    }
}

impl Mmio for FakeDevice {
    fn size(&self) -> usize {
        self.size
    }
    fn read8(&self, o: usize) -> Result<u8, MmioError> {
        check(o, 1, self.size)?;
        assert_eq!(o, MMIO_DATA, "byte read of a register other than data");
        let mut s = self.state.borrow_mut();
        let (key, pos) = *s;
        let item = key.and_then(|k| self.items.iter().find(|(i, _)| *i == k));
        // QEMU reads 0 past an item's end and from an unknown key.
        let b = item.and_then(|(_, d)| d.get(pos).copied()).unwrap_or(0);
        s.1 += 1;
        Ok(b)
    }
    fn read16(&self, o: usize) -> Result<u16, MmioError> {
        check(o, 2, self.size)?;
        panic!("16-bit read at {o:#x}");
    }
    fn read32(&self, o: usize) -> Result<u32, MmioError> {
        check(o, 4, self.size)?;
        panic!("32-bit read at {o:#x}");
    }
    fn read64(&self, o: usize) -> Result<u64, MmioError> {
        check(o, 8, self.size)?;
        panic!("64-bit read at {o:#x}");
    }
    fn write8(&self, o: usize, _: u8) -> Result<(), MmioError> {
        check(o, 1, self.size)?;
        panic!("8-bit write at {o:#x} (the selector takes 16-bit writes only)");
    }
    fn write16(&self, o: usize, v: u16) -> Result<(), MmioError> {
        check(o, 2, self.size)?;
        assert_eq!(o, MMIO_SELECTOR, "16-bit write off the selector");
        // The register is big endian: the bytes as they lie in memory.
        *self.state.borrow_mut() = (Some(u16::from_be_bytes(v.to_ne_bytes())), 0);
        Ok(())
    }
    fn write32(&self, o: usize, _: u32) -> Result<(), MmioError> {
        check(o, 4, self.size)?;
        panic!("32-bit write at {o:#x}");
    }
    fn write64(&self, o: usize, _: u64) -> Result<(), MmioError> {
        check(o, 8, self.size)?;
        panic!("64-bit write at {o:#x}");
    }
}

fn open(files: &[(&str, &[u8])]) -> FwCfg<MmioTransport<FakeDevice>> {
    FwCfg::open(MmioTransport::new(FakeDevice::new(files), 0).unwrap()).unwrap()
}

#[test]
fn files_are_found_by_name_and_read_whole() {
    let d = open(&[
        ("opt/sel4rs/shard", b"2/3\n"),
        ("opt/sel4rs/filter", b"cnode::,ipc"),
        ("etc/other", &[1, 2, 3]),
    ]);
    assert_eq!(
        d.text("opt/sel4rs/filter").unwrap().as_deref(),
        Some("cnode::,ipc")
    );
    assert_eq!(d.text("opt/sel4rs/shard").unwrap().as_deref(), Some("2/3"));
    assert_eq!(d.file("etc/other").unwrap(), Some(vec![1, 2, 3]));
    assert_eq!(d.find("etc/other").unwrap(), Some((3, 0x22)));
    // A name that is a prefix of a file's is another file.
    assert_eq!(d.file("opt/sel4rs/filte").unwrap(), None);
    assert_eq!(d.file("opt/sel4rs/filter2").unwrap(), None);
    assert_eq!(d.file("opt/sel4rs/bench-c").unwrap(), None);
}

#[test]
fn an_empty_directory_has_no_files() {
    let d = open(&[]);
    assert_eq!(d.text("opt/sel4rs/filter").unwrap(), None);
}

#[test]
fn the_selector_is_written_big_endian() {
    // Key 0x0019 written in the CPU's order would select 0x1900 on a
    // little-endian CPU: no directory, and the file not found.
    let t = MmioTransport::new(FakeDevice::new(&[("a", b"x")]), 0).unwrap();
    t.select(KEY_FILE_DIR).unwrap();
    let mut count = [0u8; 4];
    t.read(&mut count).unwrap();
    assert_eq!(u32::from_be_bytes(count), 1);
}

#[test]
fn a_device_without_the_signature_is_refused() {
    let mut dev = FakeDevice::new(&[]);
    dev.items[0].1 = b"XEMU".to_vec();
    let e = FwCfg::open(MmioTransport::new(dev, 0).unwrap()).unwrap_err();
    assert_eq!(e, Error::NoDevice(*b"XEMU"));
    assert!(std::format!("{e}").contains("no fw_cfg device"), "{e}");
}

#[test]
fn a_file_over_the_limit_is_refused_unread() {
    let big = vec![b'a'; MAX_FILE_SIZE as usize + 1];
    let d = open(&[
        ("opt/sel4rs/big", &big),
        ("opt/sel4rs/ok", &big[..MAX_FILE_SIZE as usize]),
    ]);
    assert_eq!(
        d.file("opt/sel4rs/big").unwrap_err(),
        Error::TooLarge {
            size: MAX_FILE_SIZE + 1
        }
    );
    assert_eq!(
        d.file("opt/sel4rs/ok").unwrap().map(|f| f.len()),
        Some(MAX_FILE_SIZE as usize)
    );
}

#[test]
fn registers_off_the_start_of_the_region_and_regions_too_small() {
    let mut dev = FakeDevice::new(&[("f", b"1/2")]);
    dev.size = 0x1000;
    // The fake decodes offsets from 0: a device at +0x10 of a page is
    // modelled by a window that shifts them back.
    struct Shifted(FakeDevice);
    impl Mmio for Shifted {
        fn size(&self) -> usize {
            self.0.size
        }
        fn read8(&self, o: usize) -> Result<u8, MmioError> {
            self.0.read8(o - 0x10)
        }
        fn read16(&self, o: usize) -> Result<u16, MmioError> {
            self.0.read16(o - 0x10)
        }
        fn read32(&self, o: usize) -> Result<u32, MmioError> {
            self.0.read32(o - 0x10)
        }
        fn read64(&self, o: usize) -> Result<u64, MmioError> {
            self.0.read64(o - 0x10)
        }
        fn write8(&self, o: usize, v: u8) -> Result<(), MmioError> {
            self.0.write8(o - 0x10, v)
        }
        fn write16(&self, o: usize, v: u16) -> Result<(), MmioError> {
            self.0.write16(o - 0x10, v)
        }
        fn write32(&self, o: usize, v: u32) -> Result<(), MmioError> {
            self.0.write32(o - 0x10, v)
        }
        fn write64(&self, o: usize, v: u64) -> Result<(), MmioError> {
            self.0.write64(o - 0x10, v)
        }
    }
    let d = FwCfg::open(MmioTransport::new(Shifted(dev), 0x10).unwrap()).unwrap();
    assert_eq!(d.text("f").unwrap().as_deref(), Some("1/2"));
    let mut small = FakeDevice::new(&[]);
    small.size = 8;
    assert!(matches!(
        MmioTransport::new(small, 0),
        Err(MmioError::OutOfRange { .. })
    ));
    assert!(matches!(
        MmioTransport::new(FakeDevice::new(&[]), 1),
        Err(MmioError::Misaligned { .. })
    ));
}

#[test]
fn directory_entries_split_into_size_key_and_name() {
    let mut e = [0u8; 64];
    e[..4].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    e[4..6].copy_from_slice(&0x0a0bu16.to_be_bytes());
    e[8..11].copy_from_slice(b"abc");
    assert_eq!(parse_dir_entry(&e), (0x0102_0304, 0x0a0b, &b"abc"[..]));
    // A name filling all 56 bytes has no NUL.
    e[8..].fill(b'z');
    assert_eq!(parse_dir_entry(&e).2.len(), 56);
}
