//! Trees written by a small builder in the layout QEMU's virt boards
//! produce (and `dtc`), and the stage's own device tree when one is given.

use super::*;
use std::vec::Vec;

/// Writes a device tree: nodes and properties in order.
struct Builder {
    structs: Vec<u8>,
    strings: Vec<u8>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            structs: Vec::new(),
            strings: Vec::new(),
        }
    }
    fn word(&mut self, w: u32) -> &mut Self {
        self.structs.extend_from_slice(&w.to_be_bytes());
        self
    }
    fn pad(&mut self) {
        while self.structs.len() % 4 != 0 {
            self.structs.push(0);
        }
    }
    fn begin(&mut self, name: &str) -> &mut Self {
        self.word(BEGIN_NODE);
        self.structs.extend_from_slice(name.as_bytes());
        self.structs.push(0);
        self.pad();
        self
    }
    fn end(&mut self) -> &mut Self {
        self.word(END_NODE)
    }
    fn nop(&mut self) -> &mut Self {
        self.word(NOP)
    }
    fn prop(&mut self, name: &str, value: &[u8]) -> &mut Self {
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        self.word(PROP).word(value.len() as u32).word(off);
        self.structs.extend_from_slice(value);
        self.pad();
        self
    }
    fn u32s(&mut self, name: &str, v: &[u32]) -> &mut Self {
        let b: Vec<u8> = v.iter().flat_map(|w| w.to_be_bytes()).collect();
        self.prop(name, &b)
    }
    fn str(&mut self, name: &str, s: &str) -> &mut Self {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.prop(name, &b)
    }
    fn finish(&mut self) -> Vec<u8> {
        self.word(END);
        let off_rsv = 40u32;
        let off_struct = off_rsv + 16;
        let off_strings = off_struct + self.structs.len() as u32;
        let total = off_strings + self.strings.len() as u32;
        let mut out = Vec::new();
        for w in [
            MAGIC,
            total,
            off_struct,
            off_strings,
            off_rsv,
            17,
            16,
            0,
            self.strings.len() as u32,
            self.structs.len() as u32,
        ] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.extend_from_slice(&[0; 16]); // empty memory reservation map
        out.extend_from_slice(&self.structs);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// As QEMU's aarch64 virt board: the PL011 at the root, its clock by
/// phandle, stdout-path a full path.
fn arm_virt() -> Vec<u8> {
    let mut b = Builder::new();
    b.begin("")
        .u32s("#address-cells", &[2])
        .u32s("#size-cells", &[2])
        .str("compatible", "linux,dummy-virt")
        .begin("memory@40000000")
        .u32s("reg", &[0, 0x4000_0000, 0, 0x4000_0000])
        .end()
        .begin("apb-pclk")
        .u32s("phandle", &[0x8000])
        .u32s("clock-frequency", &[24_000_000])
        .str("compatible", "fixed-clock")
        .end()
        .begin("pl011@9000000")
        .u32s("clocks", &[0x8000, 0x8000])
        .u32s("reg", &[0, 0x0900_0000, 0, 0x1000])
        .prop("compatible", b"arm,pl011\0arm,primecell\0")
        .end()
        .nop()
        .begin("chosen")
        .str("stdout-path", "/pl011@9000000")
        .end()
        .begin("fw-cfg@9020000")
        .u32s("reg", &[0, 0x0902_0000, 0, 0x18])
        .str("compatible", "qemu,fw-cfg-mmio")
        .end()
        .end();
    b.finish()
}

/// As QEMU's riscv64 virt board: the 16550 under /soc, stdout-path an
/// alias with options.
fn riscv_virt(extra: impl Fn(&mut Builder)) -> Vec<u8> {
    let mut b = Builder::new();
    b.begin("")
        .u32s("#address-cells", &[2])
        .u32s("#size-cells", &[2])
        .begin("aliases")
        .str("serial0", "/soc/serial@10000000")
        .end()
        .begin("chosen")
        .str("stdout-path", "serial0:115200n8")
        .end()
        .begin("soc")
        .u32s("#address-cells", &[2])
        .u32s("#size-cells", &[2])
        .begin("rtc@101000")
        .u32s("reg", &[0, 0x101000, 0, 0x1000])
        .str("compatible", "google,goldfish-rtc")
        .end()
        .begin("fw-cfg@10100000")
        .u32s("reg", &[0, 0x1010_0000, 0, 0x18])
        .str("compatible", "qemu,fw-cfg-mmio")
        .end()
        .begin("serial@10000000");
    extra(&mut b);
    b.u32s("clock-frequency", &[0x384000])
        .u32s("reg", &[0, 0x1000_0000, 0, 0x100])
        .str("compatible", "ns16550a")
        .end()
        .end()
        .end();
    b.finish()
}

#[test]
fn the_arm_virt_console_is_its_pl011_with_the_clock_by_phandle() {
    let dtb = arm_virt();
    let fdt = Fdt::new(&dtb).unwrap();
    assert_eq!(fdt.stdout().unwrap().name(), "pl011@9000000");
    assert_eq!(
        fdt.stdout_serial().unwrap(),
        Serial {
            kind: SerialKind::Pl011,
            paddr: 0x0900_0000,
            size: 0x1000,
            clock_hz: Some(24_000_000),
        }
    );
    let mem = fdt.node("/memory").unwrap().unwrap();
    assert_eq!(mem.reg(0).unwrap(), Some((0x4000_0000, 0x4000_0000)));
    assert_eq!(mem.reg(1).unwrap(), None);
}

#[test]
fn the_riscv_virt_console_is_its_16550_through_the_alias() {
    let dtb = riscv_virt(|_| {});
    let fdt = Fdt::new(&dtb).unwrap();
    assert_eq!(
        fdt.stdout_serial().unwrap(),
        Serial {
            kind: SerialKind::Ns16550 {
                reg_shift: 0,
                reg_io_width: 1
            },
            paddr: 0x1000_0000,
            size: 0x100,
            clock_hz: Some(0x384000),
        }
    );
    // a path with a unit address matches exactly, one without by name
    assert!(fdt.node("/soc/serial@10000000").unwrap().is_some());
    assert!(fdt.node("/soc/serial@10000001").unwrap().is_none());
    assert_eq!(fdt.node("/soc/rtc").unwrap().unwrap().name(), "rtc@101000");
    assert!(fdt.node("soc").unwrap().is_none());
}

#[test]
fn a_16550_with_a_stride_and_word_accesses() {
    let dtb = riscv_virt(|b| {
        b.u32s("reg-shift", &[2]).u32s("reg-io-width", &[4]);
    });
    let s = Fdt::new(&dtb).unwrap().stdout_serial().unwrap();
    assert_eq!(
        s.kind,
        SerialKind::Ns16550 {
            reg_shift: 2,
            reg_io_width: 4
        }
    );
    // an access width the driver has no access for is refused
    let dtb = riscv_virt(|b| {
        b.u32s("reg-io-width", &[2]);
    });
    assert!(matches!(
        Fdt::new(&dtb).unwrap().stdout_serial(),
        Err(FdtError::UnknownSerial(_))
    ));
}

#[test]
fn unknown_consoles_and_missing_stdout_are_errors_naming_them() {
    let mut b = Builder::new();
    b.begin("")
        .begin("chosen")
        .str("stdout-path", "/uart@0")
        .end()
        .begin("uart@0")
        .str("compatible", "vendor,fancy-uart")
        .u32s("reg", &[0, 0, 0, 0x100])
        .end()
        .end();
    let dtb = b.finish();
    let e = Fdt::new(&dtb).unwrap().stdout_serial().unwrap_err();
    assert!(std::format!("{e}").contains("vendor,fancy-uart"), "{e}");

    let mut b = Builder::new();
    b.begin("").begin("chosen").end().end();
    let dtb = b.finish();
    assert_eq!(
        Fdt::new(&dtb).unwrap().stdout_serial(),
        Err(FdtError::NoStdout)
    );

    let mut b = Builder::new();
    b.begin("")
        .begin("chosen")
        .str("stdout-path", "/nowhere")
        .end()
        .end();
    let dtb = b.finish();
    assert_eq!(
        Fdt::new(&dtb).unwrap().stdout().err(),
        Some(FdtError::NoStdout)
    );
}

#[test]
fn devices_are_found_by_compatible_at_any_depth() {
    let arm = arm_virt();
    let fdt = Fdt::new(&arm).unwrap();
    let n = fdt.find_compatible("qemu,fw-cfg-mmio").unwrap().unwrap();
    assert_eq!(n.name(), "fw-cfg@9020000");
    assert_eq!(n.reg(0).unwrap(), Some((0x0902_0000, 0x18)));
    // A later string of a compatible list matches too.
    let n = fdt.find_compatible("arm,primecell").unwrap().unwrap();
    assert_eq!(n.name(), "pl011@9000000");
    assert!(fdt.find_compatible("arm,pl01").unwrap().is_none());
    assert!(fdt
        .find_compatible("google,goldfish-rtc")
        .unwrap()
        .is_none());
    let rv = riscv_virt(|_| {});
    let fdt = Fdt::new(&rv).unwrap();
    let n = fdt.find_compatible("qemu,fw-cfg-mmio").unwrap().unwrap();
    assert_eq!(n.reg(0).unwrap(), Some((0x1010_0000, 0x18)));
    let n = fdt.find_compatible("google,goldfish-rtc").unwrap().unwrap();
    assert_eq!(n.reg(0).unwrap(), Some((0x101000, 0x1000)));
}

#[test]
fn bad_headers_and_cut_trees_are_refused_without_panics() {
    let dtb = arm_virt();
    assert_eq!(Fdt::new(&dtb[..20]).unwrap_err(), FdtError::Truncated);
    assert_eq!(
        Fdt::new(&dtb[..dtb.len() - 1]).unwrap_err(),
        FdtError::Truncated
    );
    let mut bad = dtb.clone();
    bad[0] = 0;
    assert!(matches!(Fdt::new(&bad), Err(FdtError::BadMagic(_))));
    let mut old = dtb.clone();
    old[20..24].copy_from_slice(&3u32.to_be_bytes());
    old[24..28].copy_from_slice(&2u32.to_be_bytes());
    assert!(matches!(Fdt::new(&old), Err(FdtError::Version { .. })));
    // Every cut of the structure block (its size field shrunk) and every
    // flipped byte either reads or fails; none panics.
    let size_struct = u32::from_be_bytes(dtb[36..40].try_into().unwrap());
    for cut in 0..size_struct {
        let mut d = dtb.clone();
        d[36..40].copy_from_slice(&cut.to_be_bytes());
        if let Ok(f) = Fdt::new(&d) {
            let _ = f.stdout_serial();
            let _ = f.node_by_phandle(0x8000);
        }
    }
    for i in 40..dtb.len() {
        let mut d = dtb.clone();
        d[i] ^= 0xa5;
        if let Ok(f) = Fdt::new(&d) {
            let _ = f.stdout_serial();
        }
    }
}

/// The device tree of a built aarch64 or riscv64 kernel stage
/// (`SEL4_KERNEL`): its console is a UART the runtime drives. Run by
/// scripts/test-all.sh on those architectures.
#[test]
#[ignore = "needs SEL4_KERNEL = an aarch64 or riscv64 kernel stage"]
fn the_stage_device_tree_names_a_supported_console() {
    let stage = std::env::var("SEL4_KERNEL").expect("SEL4_KERNEL");
    let manifest = std::fs::read_to_string(std::format!("{stage}/sel4-kernel.json")).unwrap();
    let dtb_path = manifest
        .split("\"dtb\":")
        .nth(1)
        .and_then(|s| s.split('"').nth(1))
        .expect("the stage manifest names a device tree");
    let dtb = std::fs::read(dtb_path).unwrap();
    let s = Fdt::new(&dtb).unwrap().stdout_serial().unwrap();
    std::println!("{dtb_path}: console {s:x?}");
    // The runner's options reach the root task through this device.
    let fw_cfg = Fdt::new(&dtb)
        .unwrap()
        .find_compatible("qemu,fw-cfg-mmio")
        .unwrap()
        .expect("the stage device tree has QEMU's fw_cfg (qemu,fw-cfg-mmio)");
    std::println!("{dtb_path}: fw_cfg {:x?}", fw_cfg.reg(0).unwrap());
    match manifest.contains("\"sel4_arch\": \"aarch64\"") {
        true => assert_eq!((s.kind, s.paddr), (SerialKind::Pl011, 0x0900_0000)),
        false => assert_eq!(
            (s.kind, s.paddr),
            (
                SerialKind::Ns16550 {
                    reg_shift: 0,
                    reg_io_width: 1
                },
                0x1000_0000
            )
        ),
    }
    assert!(s.clock_hz.is_some());
}
