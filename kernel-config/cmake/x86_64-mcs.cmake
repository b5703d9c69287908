# Initial cache (cmake -C) for an MCS kernel build (x86_64 pc99, seL4
# 12.0.0-16.0.0): the settings of x86_64.cmake with the mixed-criticality
# scheduler (KernelIsMCS). scripts/test-all.sh uses it with SEL4RS_MCS=1.
include("${CMAKE_CURRENT_LIST_DIR}/x86_64.cmake")
set(KernelIsMCS ON CACHE BOOL "" FORCE)
