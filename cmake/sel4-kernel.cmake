# seL4 kernel build for Rust root servers: produces a kernel *stage*
# (docs/design.md): sel4-kernel.json, kernel.elf, kernel32.elf.
#
#   include(<repo>/cmake/sel4-kernel.cmake)
#   sel4rs_kernel(STAGE_DIR <dir> [TARGET <name>])
#
# TARGET (default: sel4-kernel) is a custom target that builds the stage; it
# carries the properties SEL4RS_STAGE_DIR, SEL4RS_KERNEL_VERSION and
# SEL4RS_BUILD_SYSTEM (make | cmake). The first kernel declared becomes the
# default kernel of sel4rs_rootserver().
#
# Cache variables:
#   SEL4_SRC          seL4 tree to build (default: $ENV{SEL4_SRC}). Empty: the
#                     seL4 5.0.0 tree of crates.io sel4-sys 0.0.28, downloaded
#                     with `cargo metadata`. A 12.0.0-16.0.0 tree is built with
#                     its CMake build, a 5.x tree with its Makefile (from a
#                     copy).
#   SEL4RS_KERNEL_AUTOCONF      autoconf.h for 5.x kernels
#                               (default: kernel-config/sel4-5/x86_64-pc99/autoconf.h)
#   SEL4RS_ARCH       x86_64 (default: $ENV{SEL4RS_ARCH}, else x86_64),
#                     aarch64 (QEMU virt, qemu-arm-virt) or riscv64 (QEMU
#                     virt, qemu-riscv-virt); aarch64 and riscv64 need a
#                     seL4 13.0.0-16.0.0 tree (SEL4_SRC), the matching cross
#                     gcc, dtc and QEMU (the kernel build dumps its device
#                     tree from QEMU)
#   SEL4RS_KERNEL_CMAKE_CONFIG  `-C` initial cache for CMake kernels
#                               (default: kernel-config/cmake/<SEL4RS_ARCH>.cmake)
#   SEL4RS_VENV       Python venv with the kernel's build tools (default:
#                     <repo>/.venv, made by scripts/setup.sh)
#   SEL4RS_KERNEL_VERBOSE  ON: show the kernel build's output (it always goes
#                     to <stage>/logs/)
include_guard(GLOBAL)
cmake_minimum_required(VERSION 3.16)

get_filename_component(_sel4rs_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set_property(GLOBAL PROPERTY SEL4RS_ROOT "${_sel4rs_root}")
set(SEL4RS_ROOT "${_sel4rs_root}")
unset(_sel4rs_root)

# The architecture every kernel, root server and boot image of this build is
# for.
if(DEFINED ENV{SEL4RS_ARCH} AND NOT "$ENV{SEL4RS_ARCH}" STREQUAL "")
  set(_sel4rs_arch_default "$ENV{SEL4RS_ARCH}")
else()
  set(_sel4rs_arch_default "x86_64")
endif()
set(SEL4RS_ARCH "${_sel4rs_arch_default}" CACHE STRING
  "Architecture of kernels and root servers: x86_64, aarch64 (QEMU virt) or riscv64 (QEMU virt)")
set_property(CACHE SEL4RS_ARCH PROPERTY STRINGS x86_64 aarch64 riscv64)
unset(_sel4rs_arch_default)
if(NOT SEL4RS_ARCH MATCHES "^(x86_64|aarch64|riscv64)$")
  message(FATAL_ERROR "SEL4RS_ARCH=${SEL4RS_ARCH}: use x86_64, aarch64 or riscv64")
endif()

# Per architecture: the kernel's cross compiler prefix and what to install
# for it (Debian package names).
function(_sel4rs_arch_tools arch out_prefix out_qemu out_packages)
  if(arch STREQUAL "aarch64")
    set(${out_prefix} "aarch64-linux-gnu-" PARENT_SCOPE)
    set(${out_qemu} "qemu-system-aarch64" PARENT_SCOPE)
    set(${out_packages} "gcc-aarch64-linux-gnu device-tree-compiler qemu-system-arm" PARENT_SCOPE)
  elseif(arch STREQUAL "riscv64")
    set(${out_prefix} "riscv64-linux-gnu-" PARENT_SCOPE)
    set(${out_qemu} "qemu-system-riscv64" PARENT_SCOPE)
    set(${out_packages} "gcc-riscv64-linux-gnu device-tree-compiler qemu-system-misc" PARENT_SCOPE)
  else()
    set(${out_prefix} "" PARENT_SCOPE)
    set(${out_qemu} "qemu-system-x86_64" PARENT_SCOPE)
    set(${out_packages} "" PARENT_SCOPE)
  endif()
endfunction()

# Reads a seL4 tree's VERSION; sets <out_version> and <out_kind> (make|cmake)
# or stops with a message that says what is wrong and what to do.
function(_sel4rs_kernel_kind src out_version out_kind)
  set(hint "Set SEL4_SRC (cache variable or environment) to a seL4 12.0.0-16.0.0 checkout, a seL4 5.x Makefile tree, or leave it empty for the seL4 5.0.0 kernel from crates.io.")
  if(NOT IS_DIRECTORY "${src}")
    message(FATAL_ERROR "SEL4_SRC=${src}: no such folder.\n${hint}")
  endif()
  if(NOT EXISTS "${src}/VERSION")
    message(FATAL_ERROR "SEL4_SRC=${src}: no VERSION file, so this is not the top of a seL4 kernel tree "
      "(point SEL4_SRC at the folder that holds VERSION, src/ and include/, e.g. <workspace>/kernel).\n${hint}")
  endif()
  file(STRINGS "${src}/VERSION" version LIMIT_COUNT 1)
  string(STRIP "${version}" version)
  if(NOT version MATCHES "^([0-9]+)\\.([0-9]+)\\.([0-9]+)")
    message(FATAL_ERROR "SEL4_SRC=${src}: VERSION says '${version}', not a seL4 version number.\n${hint}")
  endif()
  set(major ${CMAKE_MATCH_1})
  if(major EQUAL 5)
    foreach(f Makefile include/plat/pc99 tools)
      if(NOT EXISTS "${src}/${f}")
        message(FATAL_ERROR "SEL4_SRC=${src}: seL4 ${version} tree without ${f}; the 5.x Makefile build needs a complete kernel tree.\n${hint}")
      endif()
    endforeach()
    set(kind make)
  elseif(major GREATER_EQUAL 12 AND version VERSION_LESS_EQUAL 16.0.0)
    set(needed CMakeLists.txt configs gcc.cmake tools config.cmake)
    if(major EQUAL 12)
      # 12.x is built as a small project that imports the kernel and libsel4
      # (see sel4-kernel-build.cmake).
      list(APPEND needed FindseL4.cmake configs/seL4Config.cmake libsel4/CMakeLists.txt)
    endif()
    foreach(f IN LISTS needed)
      if(NOT EXISTS "${src}/${f}")
        message(FATAL_ERROR "SEL4_SRC=${src}: seL4 ${version} tree without ${f}; the CMake kernel build needs a complete kernel checkout.\n${hint}")
      endif()
    endforeach()
    set(kind cmake)
  else()
    message(FATAL_ERROR "SEL4_SRC=${src}: seL4 ${version} is not supported: use seL4 12.0.0 to 16.0.0 "
      "(CMake build) or 5.x (Makefile build).\n${hint}")
  endif()
  set(${out_version} "${version}" PARENT_SCOPE)
  set(${out_kind} "${kind}" PARENT_SCOPE)
endfunction()

# Checks the tools a kernel build needs; one message naming all that is missing.
function(_sel4rs_kernel_check_tools kind venv)
  set(missing "")
  set(programs objcopy)
  if(kind STREQUAL "make")
    list(APPEND programs make gcc xmllint cargo)
    set(modules ply six tempita)
  else()
    list(APPEND programs ninja gcc xmllint)
    set(modules ply yaml jinja2 jsonschema pyfdt)
  endif()
  _sel4rs_arch_tools(${SEL4RS_ARCH} prefix qemu packages)
  if(NOT SEL4RS_ARCH STREQUAL "x86_64")
    list(APPEND programs ${prefix}gcc dtc ${qemu})
  endif()
  foreach(p IN LISTS programs)
    string(TOUPPER "SEL4RS_${p}" var)
    find_program(${var} ${p} HINTS "$ENV{HOME}/.cargo/bin")
    if(NOT ${var})
      list(APPEND missing "program ${p}")
    endif()
  endforeach()
  if(EXISTS "${venv}/bin/python3")
    set(python "${venv}/bin/python3")
  else()
    find_program(SEL4RS_SYSTEM_PYTHON NAMES python3 python)
    set(python "${SEL4RS_SYSTEM_PYTHON}")
  endif()
  if(NOT python)
    list(APPEND missing "python3")
  else()
    foreach(m IN LISTS modules)
      execute_process(COMMAND "${python}" -c "import ${m}"
        RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
      if(NOT rc EQUAL 0)
        list(APPEND missing "Python module ${m} (for ${python})")
      endif()
    endforeach()
  endif()
  if(missing)
    list(JOIN missing ", " missing)
    if(kind STREQUAL "cmake")
      set(env "SEL4_SRC=${SEL4_SRC} ")
    else()
      set(env "")
    endif()
    get_property(root GLOBAL PROPERTY SEL4RS_ROOT)
    if(venv STREQUAL "${root}/.venv")
      set(venv_note "it makes the venv ${venv}")
    else()
      set(venv_note "it makes the venv ${root}/.venv; SEL4RS_VENV is ${venv}, so set SEL4RS_VENV=${root}/.venv or install the modules there")
    endif()
    if(NOT SEL4RS_ARCH STREQUAL "x86_64")
      set(env "SEL4RS_ARCH=${SEL4RS_ARCH} ${env}")
      set(venv_note "${venv_note}; for ${SEL4RS_ARCH} it also needs the Debian packages ${packages}")
    endif()
    message(FATAL_ERROR "Building the seL4 kernel (${kind} build, ${SEL4RS_ARCH}) needs: ${missing}.\n"
      "Fix: run `${env}${root}/scripts/setup.sh` (as root it installs the Debian packages; "
      "${venv_note}), then configure again.")
  endif()
endfunction()

function(sel4rs_kernel)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "STAGE_DIR;TARGET" "")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "sel4rs_kernel: unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_STAGE_DIR)
    message(FATAL_ERROR "sel4rs_kernel: STAGE_DIR <dir> is required")
  endif()
  if(NOT arg_TARGET)
    set(arg_TARGET sel4-kernel)
  endif()
  get_property(root GLOBAL PROPERTY SEL4RS_ROOT)
  get_filename_component(stage "${arg_STAGE_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")

  set(SEL4_SRC "$ENV{SEL4_SRC}" CACHE PATH
    "seL4 kernel tree (12.0.0-16.0.0 CMake or 5.x Makefile); empty: seL4 5.0.0 from crates.io sel4-sys 0.0.28")
  set(SEL4RS_KERNEL_AUTOCONF "${root}/kernel-config/sel4-5/x86_64-pc99/autoconf.h" CACHE FILEPATH
    "autoconf.h for seL4 5.x kernels")
  set(SEL4RS_KERNEL_CMAKE_CONFIG "${root}/kernel-config/cmake/${SEL4RS_ARCH}.cmake" CACHE FILEPATH
    "initial cache (-C) for seL4 12.0.0-16.0.0 kernels")
  set(SEL4RS_VENV "${root}/.venv" CACHE PATH "Python venv with the kernel build's Python modules")
  option(SEL4RS_KERNEL_VERBOSE "Show the kernel build's output" OFF)

  set(src "")
  if(NOT "${SEL4_SRC}" STREQUAL "")
    get_filename_component(src "${SEL4_SRC}" ABSOLUTE)
    _sel4rs_kernel_kind("${src}" version kind)
  else()
    set(version 5.0.0)
    set(kind make)
  endif()
  if(NOT SEL4RS_ARCH STREQUAL "x86_64")
    if(kind STREQUAL "make")
      message(FATAL_ERROR "SEL4RS_ARCH=${SEL4RS_ARCH}: seL4 ${version} (Makefile build) builds for x86_64 only. "
        "Set SEL4_SRC to a seL4 13.0.0-16.0.0 checkout to build for ${SEL4RS_ARCH}.")
    elseif(version MATCHES "^12\\.")
      message(FATAL_ERROR "SEL4RS_ARCH=${SEL4RS_ARCH}: seL4 ${version} is supported on x86_64 only; "
        "use a seL4 13.0.0-16.0.0 checkout for ${SEL4RS_ARCH}.")
    endif()
  endif()
  if(kind STREQUAL "make")
    set(config "${SEL4RS_KERNEL_AUTOCONF}")
  else()
    set(config "${SEL4RS_KERNEL_CMAKE_CONFIG}")
  endif()
  if(NOT EXISTS "${config}")
    message(FATAL_ERROR "sel4rs_kernel: kernel config ${config} does not exist")
  endif()
  _sel4rs_kernel_check_tools(${kind} "${SEL4RS_VENV}")

  # What the build depends on: our config and glue, and for a user's tree its
  # sources (a registry tree never changes).
  set(deps "${config}" "${root}/cmake/sel4-kernel-build.cmake")
  if(src)
    file(GLOB_RECURSE tree_files LIST_DIRECTORIES false
      "${src}/src/*" "${src}/include/*" "${src}/libsel4/*" "${src}/tools/*"
      "${src}/configs/*")
    list(FILTER tree_files EXCLUDE REGEX "/__pycache__/|\\.pyc$")
    list(APPEND deps ${tree_files} "${src}/VERSION")
    foreach(f CMakeLists.txt config.cmake gcc.cmake FindseL4.cmake Makefile)
      if(EXISTS "${src}/${f}")
        list(APPEND deps "${src}/${f}")
      endif()
    endforeach()
  else()
    list(APPEND deps "${root}/tools/kernel-fetch/Cargo.toml")
  endif()

  if(SEL4RS_KERNEL_VERBOSE)
    set(verbose ON)
  else()
    set(verbose OFF)
  endif()
  if(src)
    set(what "seL4 ${version} from ${src}")
  else()
    set(what "seL4 5.0.0 from crates.io sel4-sys 0.0.28")
  endif()
  _sel4rs_arch_tools(${SEL4RS_ARCH} cross qemu packages)
  set(outputs "${stage}/sel4-kernel.json" "${stage}/kernel.elf")
  if(SEL4RS_ARCH STREQUAL "x86_64")
    list(APPEND outputs "${stage}/kernel32.elf")
  endif()
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND "${CMAKE_COMMAND}"
      "-DKIND=${kind}" "-DSRC=${src}" "-DVERSION=${version}" "-DSTAGE=${stage}"
      "-DARCH=${SEL4RS_ARCH}" "-DCROSS=${cross}"
      "-DCONFIG=${config}" "-DFETCH_MANIFEST=${root}/tools/kernel-fetch/Cargo.toml"
      "-DCARGO=${SEL4RS_CARGO}" "-DOBJCOPY=${SEL4RS_OBJCOPY}" "-DMAKE=${SEL4RS_MAKE}"
      "-DNINJA=${SEL4RS_NINJA}" "-DVENV=${SEL4RS_VENV}" "-DVERBOSE=${verbose}"
      -P "${root}/cmake/sel4-kernel-build.cmake"
    DEPENDS ${deps}
    COMMENT "Building ${what} (${kind}, ${SEL4RS_ARCH}) -> ${stage}"
    USES_TERMINAL
    VERBATIM)
  add_custom_target(${arg_TARGET} ALL DEPENDS "${stage}/sel4-kernel.json")
  set_target_properties(${arg_TARGET} PROPERTIES
    SEL4RS_STAGE_DIR "${stage}"
    SEL4RS_KERNEL_VERSION "${version}"
    SEL4RS_BUILD_SYSTEM "${kind}"
    SEL4RS_ARCH "${SEL4RS_ARCH}"
    SEL4RS_KERNEL_CONFIG "${config}")
  get_property(default GLOBAL PROPERTY SEL4RS_DEFAULT_KERNEL)
  if(NOT default)
    set_property(GLOBAL PROPERTY SEL4RS_DEFAULT_KERNEL ${arg_TARGET})
  endif()
  message(STATUS "seL4 kernel: ${what} (${kind} build, ${SEL4RS_ARCH}), stage ${stage}")
endfunction()
