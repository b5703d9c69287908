# seL4 kernel build for Rust root servers: produces a kernel *stage*
# (docs/design.md): sel4-kernel.json, kernel.elf, kernel32.elf.
#
#   include(<repo>/cmake/sel4-kernel.cmake)
#   sel4rs_kernel(STAGE_DIR <dir> [TARGET <name>])
#
# TARGET (default: sel4-kernel) is a custom target that builds the stage; it
# carries the properties SEL4RS_STAGE_DIR, SEL4RS_KERNEL_VERSION,
# SEL4RS_BUILD_SYSTEM (make | cmake), SEL4RS_ARCH, SEL4RS_QEMU_PROGRAM and
# SEL4RS_QEMU_MACHINE (the QEMU program and machine arguments every boot of
# this kernel uses, also written to <stage>/qemu-machine). The first kernel
# declared becomes the default kernel of sel4rs_rootserver().
#
# Reusing a stage: when STAGE_DIR is outside this build folder and already
# holds a complete stage (sel4-kernel.json and kernel.elf) that another build
# folder made (its <stage>/built-by names another folder) or that was made
# by hand, nothing is built: the target only names that stage, whose
# manifest gives version, build system and architecture (which must be
# SEL4RS_ARCH); SEL4_SRC and the kernel config variables do not apply to it.
# Otherwise the stage is built there, and <stage>/built-by names this build
# folder. A manifest-only stage (scripts/dev-stage.sh) has no kernel and is
# refused.
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
include("${CMAKE_CURRENT_LIST_DIR}/sel4-kernel-config-files.cmake")

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

# A value `set(<name> "<value>" ...)` in a kernel config file (the -C
# initial cache), so that QEMU gets the machine the kernel's device tree was
# dumped from: from the config itself, else from the first file it includes
# that sets it (sel4rs_kernel_config_files; the <arch>-mcs.cmake configs
# include <arch>.cmake).
function(_sel4rs_config_value config name out)
  sel4rs_kernel_config_files("${config}" files)
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "^[ \t]*set\\(${name}[ \t]")
    if(lines MATCHES "set\\(${name}[ \t]+\"([^\"]*)\"")
      set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "Kernel config ${config} does not set ${name}: boot images start QEMU "
    "with the same value the kernel build dumps its device tree with, so the config must set it "
    "(see kernel-config/cmake/${SEL4RS_ARCH}.cmake)")
endfunction()

# The QEMU machine a kernel boots on: the program and the arguments every
# boot of it uses (boot images add -kernel/-initrd and their own arguments).
#   x86_64: q35, the CPU flags the kernel needs, isa-debug-exit on port 0xf4
#   (the root task ends QEMU through it);
#   aarch64, riscv64: virt with the CPU and memory the kernel config dumped
#   the device tree with (ARM_CPU, QEMU_MEMORY), semihosting (the root task
#   ends QEMU through it).
function(_sel4rs_qemu_machine arch kind config out_program out_args)
  if(arch STREQUAL "x86_64")
    if(kind STREQUAL "make")
      set(cpu "qemu64,+fsgsbase,+pdpe1gb")
    else()
      set(cpu "Nehalem,-vme,+pdpe1gb,-xsave,-xsaveopt,-xsavec,+fsgsbase,-invpcid,+syscall,+lm,enforce")
    endif()
    set(program qemu-system-x86_64)
    set(args -machine q35 -cpu ${cpu} -m 512 -nographic -serial mon:stdio -nic none
      -device isa-debug-exit,iobase=0xf4,iosize=0x04)
  else()
    _sel4rs_config_value("${config}" QEMU_MEMORY memory)
    if(arch STREQUAL "aarch64")
      _sel4rs_config_value("${config}" ARM_CPU cpu)
      set(program qemu-system-aarch64)
      set(args -machine virt,secure=off,gic-version=2 -cpu ${cpu} -smp 1 -m ${memory})
    else()
      set(program qemu-system-riscv64)
      set(args -machine virt -cpu rv64 -smp 1 -m ${memory} -bios default)
    endif()
    list(APPEND args -nographic -serial mon:stdio
      -semihosting-config enable=on,target=native,userspace=on)
  endif()
  set(${out_program} "${program}" PARENT_SCOPE)
  set(${out_args} "${args}" PARENT_SCOPE)
endfunction()

# sel4rs_kernel() for a stage that exists already (see the top of this file).
function(_sel4rs_kernel_reuse target stage)
  set(manifest "${stage}/sel4-kernel.json")
  file(READ "${manifest}" text)
  set(fix "point STAGE_DIR (or the SEL4RS_KERNEL_STAGE cache variable of the CMakeLists that has one) at a stage a kernel build made, e.g. <build>/kernel of scripts/boot-example.sh")
  if(text MATCHES "\"manifest_only\": *true")
    message(FATAL_ERROR "sel4rs_kernel: ${stage} is a manifest-only stage (scripts/dev-stage.sh): "
      "it has no kernel to boot; ${fix}")
  endif()
  foreach(key version build_system sel4_arch)
    if(NOT text MATCHES "\"${key}\": *\"([^\"]*)\"")
      message(FATAL_ERROR "sel4rs_kernel: ${manifest} has no \"${key}\"; ${fix}")
    endif()
    set(${key} "${CMAKE_MATCH_1}")
  endforeach()
  if(NOT EXISTS "${stage}/kernel.elf")
    message(FATAL_ERROR "sel4rs_kernel: ${stage} has a manifest but no kernel.elf; ${fix}")
  endif()
  if(NOT sel4_arch STREQUAL SEL4RS_ARCH)
    message(FATAL_ERROR "sel4rs_kernel: the stage ${stage} is for ${sel4_arch}, this build for "
      "SEL4RS_ARCH=${SEL4RS_ARCH}: configure a fresh build folder with -DSEL4RS_ARCH=${sel4_arch}, "
      "or use a ${SEL4RS_ARCH} stage")
  endif()
  set(program "")
  set(args "")
  if(EXISTS "${stage}/qemu-machine")
    file(STRINGS "${stage}/qemu-machine" lines)
    list(FILTER lines EXCLUDE REGEX "^$")
    list(POP_FRONT lines program)
    set(args "${lines}")
  endif()
  add_custom_target(${target})
  set_target_properties(${target} PROPERTIES
    SEL4RS_STAGE_DIR "${stage}"
    SEL4RS_KERNEL_VERSION "${version}"
    SEL4RS_BUILD_SYSTEM "${build_system}"
    SEL4RS_ARCH "${sel4_arch}"
    SEL4RS_KERNEL_REUSED TRUE
    SEL4RS_QEMU_PROGRAM "${program}"
    SEL4RS_QEMU_MACHINE "${args}")
  get_property(default GLOBAL PROPERTY SEL4RS_DEFAULT_KERNEL)
  if(NOT default)
    set_property(GLOBAL PROPERTY SEL4RS_DEFAULT_KERNEL ${target})
  endif()
  message(STATUS "seL4 kernel: reusing the stage ${stage} (seL4 ${version}, ${build_system} build, "
    "${sel4_arch}); nothing is built, SEL4_SRC and the kernel config variables do not apply")
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

  # A stage outside this build folder that another build (or a person) made:
  # use it as it is.
  file(RELATIVE_PATH rel "${CMAKE_BINARY_DIR}" "${stage}")
  set(owner "")
  if(EXISTS "${stage}/built-by")
    file(READ "${stage}/built-by" owner)
    string(STRIP "${owner}" owner)
  endif()
  if(EXISTS "${stage}/sel4-kernel.json" AND rel MATCHES "^\\.\\./" AND NOT owner STREQUAL CMAKE_BINARY_DIR)
    _sel4rs_kernel_reuse(${arg_TARGET} "${stage}")
    return()
  endif()
  file(MAKE_DIRECTORY "${stage}")
  file(WRITE "${stage}/built-by" "${CMAKE_BINARY_DIR}\n")

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
  sel4rs_kernel_config_files("${config}" config_files)
  set(deps ${config_files} "${root}/cmake/sel4-kernel-build.cmake"
    "${root}/cmake/sel4-kernel-config-files.cmake")
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
  # The QEMU machine, in the stage for sel4-run (and for builds that reuse
  # the stage).
  _sel4rs_qemu_machine(${SEL4RS_ARCH} ${kind} "${config}" qemu_program qemu_args)
  set(gen "${CMAKE_CURRENT_BINARY_DIR}/sel4rs-kernels/${arg_TARGET}")
  set(lines "${qemu_program}\n")
  foreach(a IN LISTS qemu_args)
    string(APPEND lines "${a}\n")
  endforeach()
  file(WRITE "${gen}/qemu-machine" "${lines}")
  add_custom_command(
    OUTPUT "${stage}/qemu-machine"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${gen}/qemu-machine" "${stage}/qemu-machine"
    DEPENDS "${gen}/qemu-machine"
    VERBATIM)
  set(stage_files "${stage}/sel4-kernel.json" "${stage}/qemu-machine")
  # aarch64, riscv64: the loader too (sel4-run packs boot images with it),
  # when the Rust glue (cmake/sel4-rust.cmake) is there to build it.
  if(NOT SEL4RS_ARCH STREQUAL "x86_64" AND COMMAND _sel4rs_loader_tools)
    _sel4rs_loader_tools(loader_elf mkimage)
    add_custom_command(
      OUTPUT "${stage}/sel4-loader.elf"
      COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${loader_elf}" "${stage}/sel4-loader.elf"
      DEPENDS sel4rs-loader "${loader_elf}"
      VERBATIM)
    list(APPEND stage_files "${stage}/sel4-loader.elf")
  endif()
  add_custom_target(${arg_TARGET} ALL DEPENDS ${stage_files})
  set_target_properties(${arg_TARGET} PROPERTIES
    SEL4RS_STAGE_DIR "${stage}"
    SEL4RS_KERNEL_VERSION "${version}"
    SEL4RS_BUILD_SYSTEM "${kind}"
    SEL4RS_ARCH "${SEL4RS_ARCH}"
    SEL4RS_KERNEL_CONFIG "${config}"
    SEL4RS_QEMU_PROGRAM "${qemu_program}"
    SEL4RS_QEMU_MACHINE "${qemu_args}")
  get_property(default GLOBAL PROPERTY SEL4RS_DEFAULT_KERNEL)
  if(NOT default)
    set_property(GLOBAL PROPERTY SEL4RS_DEFAULT_KERNEL ${arg_TARGET})
  endif()
  message(STATUS "seL4 kernel: ${what} (${kind} build, ${SEL4RS_ARCH}), stage ${stage}")
endfunction()
