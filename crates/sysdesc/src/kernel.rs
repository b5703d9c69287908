//! What the plan needs to know about the kernel: object sizes, paging
//! levels, badge width, MCS. Read from a built kernel (the system builder
//! takes them from `sel4-gen`'s tables of the kernel stage), never written
//! by hand: [`KernelFacts::from_constants`] turns the kernel's own
//! `seL4_*Bits` constants into this struct.

use std::collections::BTreeMap;

use crate::model::Arch;

/// One paging-structure level below the VSpace root.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PagingLevel {
    /// The kernel's name of the object (`PageTable`, `PageDir`, `PDPT`).
    pub name: String,
    /// log2 of the object's size in bytes.
    pub object_bits: u32,
    /// log2 of the virtual range one object maps.
    pub span_bits: u32,
}

/// Kernel figures the plan's memory and slot arithmetic needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KernelFacts {
    /// Kernel version (e.g. "5.0.0").
    pub version: String,
    /// The kernel's architecture.
    pub arch: Arch,
    /// A mixed-criticality (MCS) kernel: threads need scheduling contexts,
    /// servers reply objects.
    pub mcs: bool,
    /// log2 of the page size.
    pub page_bits: u32,
    /// log2 of a TCB's size (`seL4_TCBBits`).
    pub tcb_bits: u32,
    /// log2 of an endpoint's size (`seL4_EndpointBits`).
    pub endpoint_bits: u32,
    /// log2 of a notification's size (`seL4_NotificationBits`).
    pub notification_bits: u32,
    /// log2 of one CNode slot's size.
    pub slot_bits: u32,
    /// log2 of the VSpace root object's size.
    pub vspace_bits: u32,
    /// Paging structures from the smallest span up (x86_64: page table,
    /// page directory, PDPT).
    pub paging: Vec<PagingLevel>,
    /// log2 of the scheduling context size the plan creates (MCS).
    pub sched_context_bits: Option<u32>,
    /// log2 of a reply object's size (MCS).
    pub reply_bits: Option<u32>,
    /// Width of an endpoint capability's badge (28 on seL4 5.x, 64 later).
    pub endpoint_badge_bits: u32,
}

impl KernelFacts {
    /// From the kernel's `seL4_` constants (prefix stripped, as `sel4-gen`
    /// collects them from `constants.h`), whether it is MCS, and the
    /// endpoint badge width of its capability layout.
    pub fn from_constants(
        version: &str,
        arch: Arch,
        mcs: bool,
        consts: &BTreeMap<String, i128>,
        endpoint_badge_bits: u32,
    ) -> Result<KernelFacts, String> {
        let get = |name: &str| -> Result<u32, String> {
            consts
                .get(name)
                .and_then(|v| u32::try_from(*v).ok())
                .ok_or_else(|| format!("the kernel's constants have no seL4_{name}"))
        };
        let page_bits = get("PageBits")?;
        // aarch64 and riscv64 define seL4_WordBits as a C expression
        // (`sizeof(seL4_Word) * 8`): from seL4_WordSizeBits there.
        let word_bits = match get("WordBits") {
            Ok(b) => b,
            Err(e) => get("WordSizeBits").map(|b| 8 << b).map_err(|_| e)?,
        };
        let entry_bits = (word_bits / 8).trailing_zeros();
        let (levels, root): (&[(&str, &str)], &str) = match arch {
            Arch::X86_64 => (
                &[
                    ("PageTable", "PageTableBits"),
                    ("PageDir", "PageDirBits"),
                    ("PDPT", "PDPTBits"),
                ],
                "PML4Bits",
            ),
            Arch::Aarch64 | Arch::Riscv64 => (&[("PageTable", "PageTableBits")], "VSpaceBits"),
        };
        let mut paging = Vec::new();
        let mut span = page_bits;
        for (name, c) in levels {
            let object_bits = get(c)?;
            span += object_bits - entry_bits;
            paging.push(PagingLevel {
                name: name.to_string(),
                object_bits,
                span_bits: span,
            });
        }
        Ok(KernelFacts {
            version: version.to_string(),
            arch,
            mcs,
            page_bits,
            tcb_bits: get("TCBBits")?,
            endpoint_bits: get("EndpointBits")?,
            notification_bits: get("NotificationBits")?,
            slot_bits: get("SlotBits")?,
            vspace_bits: get(root)?,
            paging,
            sched_context_bits: if mcs {
                Some(get("MinSchedContextBits")?)
            } else {
                None
            },
            reply_bits: if mcs { Some(get("ReplyBits")?) } else { None },
            endpoint_badge_bits,
        })
    }

    /// The width of `field capEPBadge N` in a kernel's capability layout
    /// (`include/object/structures_64.bf`).
    pub fn endpoint_badge_bits_from_bf(text: &str) -> Option<u32> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix("field capEPBadge"))
            .and_then(|rest| rest.trim().parse().ok())
    }
}

/// Endpoint badge width assumed when no kernel is given: the narrowest of
/// the supported kernels (seL4 5.x, `field capEPBadge 28` in its
/// `structures_64.bf`), so that a plan made without a kernel works on all.
pub const NARROWEST_ENDPOINT_BADGE_BITS: u32 = 28;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_spans_follow_from_object_sizes() {
        let consts: BTreeMap<String, i128> = [
            ("PageBits", 12),
            ("WordBits", 64),
            ("PageTableBits", 12),
            ("PageDirBits", 12),
            ("PDPTBits", 12),
            ("PML4Bits", 12),
            ("TCBBits", 11),
            ("EndpointBits", 4),
            ("NotificationBits", 5),
            ("SlotBits", 5),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let f = KernelFacts::from_constants("5.0.0", Arch::X86_64, false, &consts, 28).unwrap();
        let spans: Vec<u32> = f.paging.iter().map(|l| l.span_bits).collect();
        assert_eq!(spans, [21, 30, 39]);
        let e = KernelFacts::from_constants("16.0.0", Arch::X86_64, true, &consts, 64).unwrap_err();
        assert!(e.contains("MinSchedContextBits"), "{e}");
    }

    #[test]
    fn badge_width_from_the_capability_layout() {
        let bf = "block endpoint_cap(capEPBadge, capType) {\n    field capEPPtr 64\n    padding 28\n    field capEPBadge 28\n}\n";
        assert_eq!(KernelFacts::endpoint_badge_bits_from_bf(bf), Some(28));
        assert_eq!(
            KernelFacts::endpoint_badge_bits_from_bf("field capEPBadge       64"),
            Some(64)
        );
        assert_eq!(KernelFacts::endpoint_badge_bits_from_bf("nothing"), None);
    }
}
