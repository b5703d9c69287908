# Initial cache (cmake -C) for an MCS kernel build (riscv64 on QEMU virt, seL4
# 13.0.0-16.0.0): the settings of riscv64.cmake with the mixed-criticality
# scheduler (KernelIsMCS). scripts/test-all.sh uses it with SEL4RS_MCS=1
# SEL4RS_ARCH=riscv64.
include("${CMAKE_CURRENT_LIST_DIR}/riscv64.cmake")
set(KernelIsMCS ON CACHE BOOL "" FORCE)
