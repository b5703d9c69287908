# Initial cache (cmake -C) for a seL4 12.0.0-16.0.0 kernel build (x86_64 pc99):
# tuned to boot under QEMU TCG. Based on the kernel's own
# configs/X64_verified.cmake, with the changes QEMU needs (see
# shared notes kernel-facts.md):
#   - no PCID (TCG has no INVPCID), FPU via FXSAVE (XSAVE hangs in
#     Arch_initFpu on QEMU 7.2), 230 bootinfo untyped caps (50 leaves the root
#     task without RAM untypeds), debug build with printing, not a
#     verification build.
# Options a given kernel version does not have are ignored by CMake.

set(KernelPlatform "pc99" CACHE STRING "")
set(KernelSel4Arch "x86_64" CACHE STRING "")
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
set(KernelFSGSBase "inst" CACHE STRING "")
set(KernelSupportPCID OFF CACHE BOOL "")
set(KernelFPU "FXSAVE" CACHE STRING "")
set(KernelIOMMU OFF CACHE BOOL "")
set(KernelVTX OFF CACHE BOOL "")
set(KernelIRQController "IOAPIC" CACHE STRING "")
set(KernelLAPICMode "XAPIC" CACHE STRING "")
set(KernelHugePage ON CACHE BOOL "")
set(KernelX86MicroArch "nehalem" CACHE STRING "")
set(KernelIsMCS OFF CACHE BOOL "")
