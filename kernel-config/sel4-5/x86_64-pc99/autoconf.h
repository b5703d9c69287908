/*
 * seL4 5.x kernel configuration for x86_64 pc99 under QEMU (TCG).
 *
 * Used by the Makefile build of the kernel (cmake/kernel-make.cmake copies it
 * over include/plat/pc99/autoconf.h of the kernel copy) and read back by the
 * Rust generators (kernel-config crate), so the tables in sel4-sys match the
 * kernel that boots.  Differences from the tree's shipped verification config:
 * xAPIC instead of x2APIC, no IOMMU, no PCID, no VT-x (QEMU TCG lacks them),
 * and printing plus debug syscalls enabled.
 */
#define AUTOCONF_INCLUDED
#define CONFIG_ARCH_X86 1
#define CONFIG_ARCH_X86_64 1
#define CONFIG_X86_64 1
#define CONFIG_PLAT_PC99 1
#define CONFIG_WORD_SIZE 64
#define CONFIG_HAVE_FPU 1
#define CONFIG_FXSAVE 1
#define CONFIG_XSAVE_SIZE 512
#define CONFIG_FPU_MAX_RESTORES_SINCE_SWITCH 64
#define CONFIG_IRQ_IOAPIC 1
#define CONFIG_MAX_NUM_IOAPIC 1
#define CONFIG_XAPIC 1
#define CONFIG_SYSCALL 1
#define CONFIG_FSGSBASE_INST 1
#define CONFIG_HUGE_PAGE 1
#define CONFIG_MULTIBOOT_GRAPHICS_MODE_NONE 1
#define CONFIG_MAX_NUM_NODES 1
#define CONFIG_NUM_DOMAINS 1
#define CONFIG_NUM_PRIORITIES 256
#define CONFIG_ROOT_CNODE_SIZE_BITS 12
#define CONFIG_TIME_SLICE 5
#define CONFIG_TIMER_TICK_MS 2
#define CONFIG_RETYPE_FAN_OUT_LIMIT 256
#define CONFIG_MAX_NUM_WORK_UNITS_PER_PREEMPTION 100
#define CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS 230
#define CONFIG_MAX_RMRR_ENTRIES 32
#define CONFIG_FASTPATH 1
#define CONFIG_CACHE_LN_SZ 64
#define CONFIG_KERNEL_STACK_BITS 12
#define CONFIG_DEBUG_BUILD 1
#define CONFIG_PRINTING 1
#define CONFIG_IRQ_REPORTING 1
#define CONFIG_USER_STACK_TRACE_LENGTH 16
#define CONFIG_DOMAIN_SCHEDULE ""
