# Initial cache (cmake -C) for a seL4 13.0.0-16.0.0 kernel build for aarch64
# on QEMU's virt machine (qemu-arm-virt, Cortex-A53), non-MCS, booted by
# this project's loader (loader/). Based on the kernel's own
# configs/AARCH64_verified.cmake with the platform changed and what the
# framework needs (see shared notes kernel-facts-mcs-arches.md):
#   - debug build with printing, and not a verification build (a standalone
#     kernel build defaults to KernelVerificationBuild=ON, which silently
#     turns debug build and printing off again);
#   - no hypervisor support: the loader drops from EL2 to EL1 and the
#     kernel runs at EL1;
#   - TLS through tpidr_el0 (tpidru), which user code writes itself;
#   - 230 bootinfo untyped caps, a 2^19-slot root CNode (as on x86_64);
#   - the generic timer's virtual count readable from user mode
#     (KernelArmExportVCNTUser: cntvct_el0, the counter of
#     sel4_sys::arch::read_counter, which the suite's time limits use);
#   - the generic timer's physical timer programmable from user mode
#     (KernelArmExportPTMRUser: CNTP_TVAL/CNTP_CTL; the kernel ticks on the
#     virtual timer), the timer service's hardware (drivers/arm-generic-timer),
#     as seL4test's settings do for qemu-arm-virt.
# The kernel build dumps its device tree from QEMU with these settings;
# boot images (cmake/sel4-rust.cmake) start QEMU with the same machine, CPU
# and memory size (QEMU_MEMORY, ARM_CPU below), or the kernel would see RAM
# that is not there or miss RAM that is.

set(KernelPlatform "qemu-arm-virt" CACHE STRING "")
set(KernelSel4Arch "aarch64" CACHE STRING "")
set(ARM_CPU "cortex-a53" CACHE STRING "")
set(QEMU_MEMORY "1024" CACHE STRING "")
set(KernelArmHypervisorSupport OFF CACHE BOOL "")
set(KernelArmTLSReg "tpidru" CACHE STRING "")
set(KernelVerificationBuild OFF CACHE BOOL "")
set(KernelDebugBuild ON CACHE BOOL "")
set(KernelPrinting ON CACHE BOOL "")
set(KernelMaxNumNodes "1" CACHE STRING "")
set(KernelOptimisation "-O2" CACHE STRING "")
set(KernelRetypeFanOutLimit "256" CACHE STRING "")
set(KernelBenchmarks "none" CACHE STRING "")
set(KernelDangerousCodeInjection OFF CACHE BOOL "")
set(KernelFastpath ON CACHE BOOL "")
set(KernelNumDomains "1" CACHE STRING "")
set(KernelRootCNodeSizeBits "19" CACHE STRING "")
set(KernelMaxNumBootinfoUntypedCaps "230" CACHE STRING "")
set(KernelIsMCS OFF CACHE BOOL "")
set(KernelArmExportVCNTUser ON CACHE BOOL "")
set(KernelArmExportPTMRUser ON CACHE BOOL "")
