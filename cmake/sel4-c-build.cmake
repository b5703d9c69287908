# Build-time worker of sel4rs_c_rootserver() (cmake/sel4-c-rootserver.cmake);
# run as
#   cmake -D<var>=<value>... -P sel4-c-build.cmake
#
# Compiles a C root task against the libsel4 of a kernel stage: the stage's
# own headers and its libsel4/src/sel4_bootinfo.c (which defines the
# __sel4_ipc_buffer TLS variable of seL4 10+), nothing of the kernel tree is
# copied anywhere else.
#   - seL4 13.0.0-16.0.0 (CMake builds): the installed headers
#     (<install_dir>/libsel4/include).
#   - seL4 5.x (Makefile builds): the kernel build does not make libsel4's
#     generated headers, so they are generated here with the tree's own
#     generators (invocation_header_gen.py, syscall_header_gen.py,
#     bitfield_gen.py, syscall_stub_gen.py) into <WORK>/libsel4, next to the
#     tree's static headers. (libsel4's own Makefile needs seL4's common
#     build files, and its libsel4.a fails on -Werror=missing-prototypes.)
#   - seL4 12.x has no install tree: not supported (stops with a message).
#
# Variables:
#   STAGE     the kernel stage (sel4-kernel.json)
#   SOURCES   the C sources (a ;-list)
#   OUT       the ELF to write
#   WORK      a folder for generated headers and the log
#   GCC, VENV (the venv's python runs the 5.x generators)
#   INCLUDES  extra include folders (a ;-list, may be empty)
#   LDFLAGS   extra link flags (a ;-list, may be empty)
cmake_minimum_required(VERSION 3.16)

foreach(var STAGE SOURCES OUT WORK GCC)
  if("${${var}}" STREQUAL "")
    message(FATAL_ERROR "sel4-c-build.cmake: ${var} is not set")
  endif()
endforeach()

set(manifest "${STAGE}/sel4-kernel.json")
if(NOT EXISTS "${manifest}")
  message(FATAL_ERROR "sel4-c-build.cmake: no kernel stage at ${STAGE} (build the kernel first)")
endif()
file(READ "${manifest}" json)
# A string field of the manifest ("" for null).
function(manifest_field out key)
  if(json MATCHES "\"${key}\": *\"([^\"]*)\"")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()
manifest_field(version version)
manifest_field(kind build_system)
manifest_field(source_dir source_dir)
manifest_field(install_dir install_dir)
manifest_field(sel4_arch sel4_arch)
if(NOT sel4_arch STREQUAL "x86_64")
  message(FATAL_ERROR "sel4-c-build.cmake: C root tasks are built for x86_64 only (the stage is ${sel4_arch})")
endif()
if(NOT version MATCHES "^([0-9]+)\\.")
  message(FATAL_ERROR "sel4-c-build.cmake: ${manifest} has no version")
endif()
set(major "${CMAKE_MATCH_1}")

file(MAKE_DIRECTORY "${WORK}")
set(log "${WORK}/build.log")
file(WRITE "${log}" "")

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  file(APPEND "${log}" "$ ${ARGN}\n${out}\n")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "C root task: ${what} failed (exit status ${rc}):\n${out}\nlog: ${log}")
  endif()
endfunction()

if(kind STREQUAL "make")
  # seL4 5.x: generate libsel4's headers from the tree.
  set(python python3)
  if(NOT "${VENV}" STREQUAL "" AND EXISTS "${VENV}/bin/python3")
    set(python "${VENV}/bin/python3")
  endif()
  set(lib "${source_dir}/libsel4")
  set(gen "${WORK}/libsel4")
  set(autoconf "${source_dir}/include/plat/pc99/autoconf.h")
  foreach(f "${lib}/tools/invocation_header_gen.py" "${lib}/tools/syscall_stub_gen.py"
      "${source_dir}/tools/bitfield_gen.py" "${autoconf}")
    if(NOT EXISTS "${f}")
      message(FATAL_ERROR "C root task: the seL4 ${version} tree ${source_dir} has no ${f}")
    endif()
  endforeach()
  file(REMOVE_RECURSE "${gen}")
  file(MAKE_DIRECTORY "${gen}/include/sel4" "${gen}/include/interfaces" "${gen}/autoconf"
    "${gen}/arch_include/x86/sel4/arch" "${gen}/sel4_arch_include/x86_64/sel4/sel4_arch" "${gen}/pbf")
  configure_file("${autoconf}" "${gen}/autoconf/autoconf.h" COPYONLY)
  run("generating invocation.h" "${python}" "${lib}/tools/invocation_header_gen.py"
    --xml "${lib}/include/interfaces/sel4.xml" --libsel4 --dest "${gen}/include/sel4/invocation.h")
  run("generating sel4_arch invocation.h" "${python}" "${lib}/tools/invocation_header_gen.py"
    --xml "${lib}/sel4_arch_include/x86_64/interfaces/sel4arch.xml" --libsel4 --sel4_arch
    --dest "${gen}/sel4_arch_include/x86_64/sel4/sel4_arch/invocation.h")
  run("generating arch invocation.h" "${python}" "${lib}/tools/invocation_header_gen.py"
    --xml "${lib}/arch_include/x86/interfaces/sel4arch.xml" --libsel4 --arch
    --dest "${gen}/arch_include/x86/sel4/arch/invocation.h")
  run("generating syscall.h" "${python}" "${lib}/tools/syscall_header_gen.py"
    --xml "${lib}/include/api/syscall.xml" --libsel4_header "${gen}/include/sel4/syscall.h")
  # Bitfields: preprocessed with the configuration, then generated.
  foreach(bf "types_64;include/sel4/types_64.bf;include/sel4/types_gen.h;"
      "shared_types_64;include/sel4/shared_types_64.bf;include/sel4/shared_types_gen.h;"
      "sel4_arch_types;sel4_arch_include/x86_64/sel4/sel4_arch/types.bf;sel4_arch_include/x86_64/sel4/sel4_arch/types_gen.h;-I${lib}/arch_include/x86")
    list(GET bf 0 name)
    list(GET bf 1 src)
    list(GET bf 2 dst)
    list(GET bf 3 extra)
    run("preprocessing ${src}" "${GCC}" -E -P -x c "-I${gen}/autoconf" ${extra}
      "${lib}/${src}" -o "${gen}/pbf/${name}.pbf")
    run("generating ${dst}" "${python}" "${source_dir}/tools/bitfield_gen.py"
      --environment libsel4 "${gen}/pbf/${name}.pbf" "${gen}/${dst}")
  endforeach()
  run("generating sel4_client.h" "${python}" "${lib}/tools/syscall_stub_gen.py"
    -a x86_64 -w 64 -o "${gen}/include/interfaces/sel4_client.h"
    "${lib}/sel4_arch_include/x86_64/interfaces/sel4arch.xml"
    "${lib}/arch_include/x86/interfaces/sel4arch.xml"
    "${lib}/include/interfaces/sel4.xml")
  set(includes "${gen}/autoconf" "${gen}/include" "${gen}/arch_include/x86"
    "${gen}/sel4_arch_include/x86_64" "${lib}/include" "${lib}/arch_include/x86"
    "${lib}/sel4_arch_include/x86_64" "${lib}/sel4_plat_include/pc99")
  # The 5.x headers define their fault message tables in every unit.
  set(extra_flags -fcommon)
elseif(kind STREQUAL "cmake" AND NOT "${install_dir}" STREQUAL "")
  set(includes "${install_dir}/libsel4/include")
  set(extra_flags "")
else()
  message(FATAL_ERROR "C root task: seL4 ${version} has no libsel4 install tree (seL4 12.x); "
    "C root tasks need seL4 5.x or 13.0.0-16.0.0")
endif()

set(bootinfo_c "${source_dir}/libsel4/src/sel4_bootinfo.c")
if(NOT EXISTS "${bootinfo_c}")
  message(FATAL_ERROR "C root task: ${bootinfo_c} is missing")
endif()
set(inc_flags "")
# The lists arrive with their separators escaped (add_custom_command).
string(REPLACE "\\;" ";" INCLUDES "${INCLUDES}")
string(REPLACE "\\;" ";" LDFLAGS "${LDFLAGS}")
foreach(i IN LISTS INCLUDES includes)
  list(APPEND inc_flags "-I${i}")
endforeach()
# Freestanding, static, no PIE; no stack protector (it reads a canary from
# the TLS block at fs:0x28), no CET markers (endbr64 at every function).
run("compiling" "${GCC}" -O2 -static -nostdlib -ffreestanding -mgeneral-regs-only
  -ftls-model=local-exec -fno-pie -no-pie -fno-stack-protector -fcf-protection=none
  -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections ${extra_flags}
  -Wall -Wextra -Wno-unused-parameter
  "-DSEL4RS_KERNEL_MAJOR=${major}" "-DSEL4RS_KERNEL_VERSION=\"${version}\""
  ${inc_flags} ${SOURCES} "${bootinfo_c}"
  -Wl,--gc-sections -Wl,-z,max-page-size=4096 -Wl,--build-id=none ${LDFLAGS}
  -o "${OUT}")
