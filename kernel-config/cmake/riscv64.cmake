# Initial cache (cmake -C) for a seL4 13.0.0-16.0.0 kernel build for riscv64
# on QEMU's virt machine (qemu-riscv-virt), non-MCS, booted by this
# project's loader (loader/) in S-mode under QEMU's bundled OpenSBI
# (`-bios default`). Based on the kernel's own configs/RISCV64_verified.cmake
# with the platform changed and what the framework needs (see shared notes
# kernel-facts-mcs-arches.md):
#   - debug build with printing, and not a verification build (a standalone
#     kernel build defaults to KernelVerificationBuild=ON, which silently
#     turns debug build and printing off again);
#   - the F and D extensions, so user code may use the FPU (the Rust target
#     riscv64gc has them);
#   - 230 bootinfo untyped caps, a 2^19-slot root CNode (as on x86_64).
# The kernel build dumps its device tree from QEMU with these settings;
# boot images (cmake/sel4-rust.cmake) start QEMU with the same memory size
# (QEMU_MEMORY below), or the kernel would see RAM that is not there.

set(KernelPlatform "qemu-riscv-virt" CACHE STRING "")
set(KernelSel4Arch "riscv64" CACHE STRING "")
set(QEMU_MEMORY "3072" CACHE STRING "")
set(KernelRiscvExtF ON CACHE BOOL "")
set(KernelRiscvExtD ON CACHE BOOL "")
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
