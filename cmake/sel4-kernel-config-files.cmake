# The files a kernel config (the -C initial cache) consists of: the file
# itself and, recursively, every file it includes from its own folder
# (`include("${CMAKE_CURRENT_LIST_DIR}/<file>")`, as the <arch>-mcs.cmake
# configs include <arch>.cmake). Used by sel4-kernel.cmake (what the
# kernel build depends on; the QEMU machine's values), sel4-c-rootserver.cmake
# (whether the kernel is MCS) and sel4-kernel-build.cmake (when the kernel's
# build folder must start clean), so that a change to an included file
# rebuilds the kernel as a change to the config itself does.
include_guard(GLOBAL)
function(sel4rs_kernel_config_files config out)
  set(files "${config}")
  file(STRINGS "${config}" includes REGEX "^[ \t]*include\\(\"\\\${CMAKE_CURRENT_LIST_DIR}/[^\"]+\"\\)")
  get_filename_component(dir "${config}" DIRECTORY)
  foreach(line IN LISTS includes)
    if(line MATCHES "CMAKE_CURRENT_LIST_DIR}/([^\"]+)\"")
      sel4rs_kernel_config_files("${dir}/${CMAKE_MATCH_1}" more)
      list(APPEND files ${more})
    endif()
  endforeach()
  set(${out} ${files} PARENT_SCOPE)
endfunction()
