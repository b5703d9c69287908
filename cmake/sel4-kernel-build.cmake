# Build-time worker of sel4rs_kernel() (cmake/sel4-kernel.cmake); run as
#   cmake -D<var>=<value>... -P sel4-kernel-build.cmake
#
# Variables (all set by sel4rs_kernel):
#   KIND         make | cmake
#   SRC          the kernel tree to build; empty = the seL4 5.0.0 tree of the
#                crates.io package sel4-sys 0.0.28 (make kernels only)
#   VERSION      the tree's VERSION (checked at configure time)
#   STAGE        the stage folder to produce
#   CONFIG       make: the autoconf.h to build with; cmake: a `-C` initial
#                cache file
#   (cmake kernels: 13.0.0-16.0.0 are built standalone and installed, 12.x
#   through a small project that imports the kernel and libsel4; see below)
#   ARCH         x86_64, aarch64 or riscv64 (SEL4RS_ARCH); the built
#                kernel's SEL4_ARCH must match
#   CROSS        cross compiler prefix of the kernel build (empty: native)
#   FETCH_MANIFEST  tools/kernel-fetch/Cargo.toml (registry kernel only)
#   CARGO, OBJCOPY, MAKE, NINJA, VENV
#   VERBOSE      ON: echo the kernel build's output as well as logging it
#
# The stage is only complete when sel4-kernel.json exists: it is removed first
# and written last (via a rename), so a failed build never leaves a stage that
# looks good.
cmake_minimum_required(VERSION 3.16)
include("${CMAKE_CURRENT_LIST_DIR}/sel4-kernel-config-files.cmake")

if("${ARCH}" STREQUAL "")
  set(ARCH x86_64)
endif()
foreach(var KIND STAGE CONFIG OBJCOPY)
  if("${${var}}" STREQUAL "")
    message(FATAL_ERROR "sel4-kernel-build.cmake: ${var} is not set")
  endif()
endforeach()

set(manifest "${STAGE}/sel4-kernel.json")
file(REMOVE "${manifest}" "${manifest}.tmp" "${STAGE}/kernel.elf" "${STAGE}/kernel32.elf")
file(MAKE_DIRECTORY "${STAGE}/logs")

if(NOT "${VENV}" STREQUAL "" AND EXISTS "${VENV}/bin")
  set(ENV{PATH} "${VENV}/bin:$ENV{PATH}")
  set(ENV{VIRTUAL_ENV} "${VENV}")
endif()

# Run a command with its output going to a log file; on failure show the end
# of the log and stop.
function(run_logged what log)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out)
  file(WRITE "${log}" "${out}")
  if(VERBOSE)
    message("${out}")
  endif()
  if(NOT rc EQUAL 0)
    string(LENGTH "${out}" len)
    if(len GREATER 6000)
      math(EXPR start "${len} - 6000")
      string(SUBSTRING "${out}" ${start} -1 out)
      set(out "...\n${out}")
    endif()
    message("---- last lines of ${log} ----\n${out}\n----")
    message(FATAL_ERROR
      "seL4 kernel build failed while ${what} (exit status: ${rc}); full log: ${log}")
  endif()
endfunction()

# A hash of everything that, when changed, needs a clean kernel build folder.
function(ensure_clean_build_dir build_dir key)
  string(SHA256 key_hash "${key}")
  set(stamp "${build_dir}/.sel4rs-config-stamp")
  set(old "")
  if(EXISTS "${stamp}")
    file(READ "${stamp}" old)
  endif()
  if(NOT old STREQUAL key_hash)
    if(EXISTS "${build_dir}")
      message(STATUS "seL4 kernel: configuration changed, starting from a clean build folder")
      file(REMOVE_RECURSE "${build_dir}")
    endif()
    file(MAKE_DIRECTORY "${build_dir}")
    file(WRITE "${stamp}" "${key_hash}")
  endif()
endfunction()

function(json_string out value)
  if("${value}" STREQUAL "")
    set(${out} "null" PARENT_SCOPE)
    return()
  endif()
  string(REPLACE "\\" "\\\\" value "${value}")
  string(REPLACE "\"" "\\\"" value "${value}")
  set(${out} "\"${value}\"" PARENT_SCOPE)
endfunction()

set(build_dir "${STAGE}/build")
set(install_dir "")

if(KIND STREQUAL "make")
  # ---- seL4 5.x, Makefile build, always from a copy of the tree ----
  if("${SRC}" STREQUAL "")
    # Let cargo download and unpack sel4-sys 0.0.28 (never build it).
    message(STATUS "seL4 kernel: getting the seL4 5.0.0 tree: cargo metadata downloads the "
      "crates.io package sel4-sys 0.0.28 into cargo's registry cache (only once)")
    execute_process(
      COMMAND "${CARGO}" metadata --format-version 1 --manifest-path "${FETCH_MANIFEST}"
      RESULT_VARIABLE rc OUTPUT_VARIABLE meta ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR
        "seL4 kernel: `cargo metadata --manifest-path ${FETCH_MANIFEST}` failed, "
        "so the seL4 5.0.0 tree (crates.io package sel4-sys 0.0.28) could not be downloaded:\n${err}")
    endif()
    string(REGEX MATCH "\"manifest_path\":\"([^\"]*/sel4-sys-0\\.0\\.28/Cargo\\.toml)\"" m "${meta}")
    if(NOT CMAKE_MATCH_1)
      message(FATAL_ERROR "seL4 kernel: cargo metadata did not list the package sel4-sys 0.0.28")
    endif()
    get_filename_component(pkg_dir "${CMAKE_MATCH_1}" DIRECTORY)
    set(origin "${pkg_dir}/seL4")
  else()
    set(origin "${SRC}")
  endif()
  if(NOT EXISTS "${origin}/Makefile" OR NOT EXISTS "${origin}/VERSION")
    message(FATAL_ERROR "seL4 kernel: ${origin} is not a seL4 Makefile tree (no Makefile or VERSION)")
  endif()

  # Copy the tree (top-level entries with ordinary names only: this skips the
  # stray file named ESC O A ESC O A that the crate ships). file(COPY) keeps
  # time stamps and skips files that are already there, so make stays
  # incremental. Our autoconf.h is written separately (only when it differs).
  set(tree "${STAGE}/src")
  set(autoconf_rel "include/plat/pc99/autoconf.h")
  message(STATUS "seL4 kernel ${VERSION}: copying the tree ${origin} to ${tree}")
  file(GLOB entries RELATIVE "${origin}" "${origin}/*")
  file(MAKE_DIRECTORY "${tree}")
  foreach(entry IN LISTS entries)
    if(NOT entry MATCHES "^[A-Za-z0-9._+-]+$")
      continue()
    endif()
    file(COPY "${origin}/${entry}" DESTINATION "${tree}"
      REGEX "/${autoconf_rel}$" EXCLUDE)
  endforeach()
  configure_file("${CONFIG}" "${tree}/${autoconf_rel}" COPYONLY)

  file(READ "${CONFIG}" config_text)
  ensure_clean_build_dir("${build_dir}" "make;${origin};${config_text}")

  set(ENV{CFLAGS} "-Wno-error=address-of-packed-member -Wno-error=array-bounds")
  message(STATUS "seL4 kernel ${VERSION}: building with make in ${build_dir} (log: ${STAGE}/logs/make.log)")
  run_logged("running make" "${STAGE}/logs/make.log"
    "${CMAKE_COMMAND}" -E chdir "${build_dir}"
    "${MAKE}" -f "${tree}/Makefile" "SOURCE_ROOT=${tree}"
    ARCH=x86 PLAT=pc99 SEL4_ARCH=x86_64 DEBUG=y CIRCULAR_INCLUDES=true)
  set(kernel_elf "${build_dir}/kernel.elf")
  set(source_dir "${tree}")
  set(configs "${tree}/${autoconf_rel}")

elseif(KIND STREQUAL "cmake" AND VERSION MATCHES "^12\\.")
  # ---- seL4 12.x, CMake build through a small importing project ----
  # 12.x's top-level CMakeLists builds only the kernel: no libsel4 (so no
  # libsel4 gen_config.h and generated headers), no install rules, no
  # gen_config.json, and kernel.elf is not in the default target. So build it
  # the way seL4 12.x projects do: a project that imports the kernel and
  # libsel4 (FindseL4.cmake), then the targets kernel.elf and sel4_generated
  # explicitly. The configuration is read from the generated gen_config.h
  # headers (kernel and libsel4); there is no install tree.
  file(READ "${CONFIG}" config_text)
  ensure_clean_build_dir("${build_dir}" "cmake;${SRC};${config_text};sel4-12-project")
  set(project_dir "${STAGE}/sel4-12-project")
  file(MAKE_DIRECTORY "${project_dir}")
  file(WRITE "${project_dir}/CMakeLists.txt.new" "\
# Written by sel4-kernel-build.cmake: builds a seL4 12.x kernel and libsel4's
# generated headers, as a seL4 12.x project would.
cmake_minimum_required(VERSION 3.8.2)
include(\"\${SEL4RS_KERNEL_SRC}/FindseL4.cmake\")
sel4_configure_platform_settings()
project(sel4rs_kernel C ASM)
sel4_import_kernel()
sel4_import_libsel4()
")
  # Copied only when different, so an unchanged project is not reconfigured.
  configure_file("${project_dir}/CMakeLists.txt.new" "${project_dir}/CMakeLists.txt" COPYONLY)
  if(NOT EXISTS "${build_dir}/CMakeCache.txt")
    set(extra "")
    # 12.x's tools/circular_includes.py crashes on the line markers of
    # gcc >= 10 (fixed in 13.0.0); that check only looks for circular
    # #includes in the kernel's own sources, so skip it when the tree's copy
    # has the bug.
    file(STRINGS "${SRC}/tools/circular_includes.py" fixed REGEX "len\\(file_stack\\)")
    if(NOT fixed)
      find_program(SEL4RS_TRUE true)
      if(NOT SEL4RS_TRUE)
        message(FATAL_ERROR "seL4 kernel: the program `true` was not found")
      endif()
      list(APPEND extra "-DCIRCULAR_INCLUDES=${SEL4RS_TRUE}")
    endif()
    message(STATUS "seL4 kernel ${VERSION}: configuring ${SRC} with ${CONFIG} in ${build_dir} (log: ${STAGE}/logs/configure.log)")
    # gcc >= 12 warns (-Werror in the 12.x kernel) about array bounds in
    # src/arch/x86/kernel/cmdline.c and packed members; keep them warnings.
    run_logged("configuring the kernel with CMake" "${STAGE}/logs/configure.log"
      "${CMAKE_COMMAND}" -G Ninja "-DCMAKE_MAKE_PROGRAM=${NINJA}"
      -C "${CONFIG}"
      "-DCMAKE_TOOLCHAIN_FILE=${SRC}/gcc.cmake"
      "-DCROSS_COMPILER_PREFIX="
      "-DSEL4RS_KERNEL_SRC=${SRC}"
      "-DCMAKE_C_FLAGS=-Wno-error=array-bounds -Wno-error=address-of-packed-member"
      ${extra}
      -S "${project_dir}" -B "${build_dir}")
  endif()
  message(STATUS "seL4 kernel ${VERSION}: building with ninja in ${build_dir} (log: ${STAGE}/logs/build.log)")
  run_logged("building the kernel with ninja" "${STAGE}/logs/build.log"
    "${CMAKE_COMMAND}" --build "${build_dir}" --target kernel.elf sel4_generated)
  set(kernel_elf "${build_dir}/kernel/kernel.elf")
  set(source_dir "${SRC}")
  set(configs
    "${build_dir}/kernel/gen_config/kernel/gen_config.h"
    "${build_dir}/libsel4/gen_config/sel4/gen_config.h")
  foreach(c IN LISTS configs)
    if(NOT EXISTS "${c}")
      message(FATAL_ERROR "seL4 kernel: ${c} is missing after the build")
    endif()
  endforeach()

elseif(KIND STREQUAL "cmake")
  # ---- seL4 13.0.0-16.0.0, the kernel's own standalone CMake build ----
  # The config and the files it includes: a change to any of them starts
  # the kernel's build folder clean (the -C cache sets no value twice).
  sel4rs_kernel_config_files("${CONFIG}" config_files)
  set(key "cmake;${SRC}")
  foreach(f IN LISTS config_files)
    file(READ "${f}" config_text)
    string(APPEND key ";${config_text}")
  endforeach()
  if(NOT "${CROSS}" STREQUAL "")
    string(APPEND key ";${CROSS}")
  endif()
  ensure_clean_build_dir("${build_dir}" "${key}")
  if(NOT EXISTS "${build_dir}/CMakeCache.txt")
    message(STATUS "seL4 kernel ${VERSION}: configuring ${SRC} with ${CONFIG} in ${build_dir} (log: ${STAGE}/logs/configure.log)")
    run_logged("configuring the kernel with CMake" "${STAGE}/logs/configure.log"
      "${CMAKE_COMMAND}" -G Ninja "-DCMAKE_MAKE_PROGRAM=${NINJA}"
      -C "${CONFIG}"
      "-DCMAKE_TOOLCHAIN_FILE=${SRC}/gcc.cmake"
      "-DCROSS_COMPILER_PREFIX=${CROSS}"
      -S "${SRC}" -B "${build_dir}")
  endif()
  message(STATUS "seL4 kernel ${VERSION}: building with ninja in ${build_dir} (log: ${STAGE}/logs/build.log)")
  run_logged("building the kernel with ninja" "${STAGE}/logs/build.log"
    "${CMAKE_COMMAND}" --build "${build_dir}")
  set(install_dir "${STAGE}/install")
  message(STATUS "seL4 kernel ${VERSION}: installing into ${install_dir} (log: ${STAGE}/logs/install.log)")
  run_logged("installing the kernel" "${STAGE}/logs/install.log"
    "${CMAKE_COMMAND}" --install "${build_dir}" --prefix "${install_dir}")
  set(kernel_elf "${build_dir}/kernel.elf")
  set(source_dir "${SRC}")
  file(GLOB_RECURSE configs "${install_dir}/*/gen_config.json")
  list(SORT configs)
  if(NOT configs)
    message(FATAL_ERROR "seL4 kernel: no gen_config.json under ${install_dir} after the install")
  endif()
else()
  message(FATAL_ERROR "sel4-kernel-build.cmake: unknown KIND '${KIND}'")
endif()

if(NOT EXISTS "${kernel_elf}")
  message(FATAL_ERROR "seL4 kernel: the build finished but ${kernel_elf} is missing")
endif()

# The architecture and platform as the build configured them (seL4 13+:
# gen_config.json; the Makefile and 12.x builds are x86_64 pc99 only).
set(arch_name "x86")
set(sel4_arch "x86_64")
set(plat "pc99")
set(dtb "")
set(memory_json "")
if(install_dir)
  file(READ "${install_dir}/libsel4/include/kernel/gen_config.json" gen_config)
  foreach(pair "ARCH;arch_name" "SEL4_ARCH;sel4_arch" "PLAT;plat")
    list(GET pair 0 key)
    list(GET pair 1 var)
    if(NOT gen_config MATCHES "\"${key}\": *\"([^\"]*)\"")
      message(FATAL_ERROR "seL4 kernel: no ${key} in ${install_dir}/libsel4/include/kernel/gen_config.json")
    endif()
    set(${var} "${CMAKE_MATCH_1}")
  endforeach()
endif()
if(NOT sel4_arch STREQUAL ARCH)
  message(FATAL_ERROR "seL4 kernel: the build is for ${sel4_arch}, SEL4RS_ARCH is ${ARCH}: "
    "the kernel config ${CONFIG} sets another KernelSel4Arch (use kernel-config/cmake/${ARCH}.cmake or one like it)")
endif()
# Arm and RISC-V: the device tree the kernel was configured with and the RAM
# regions it knows (platform_gen.json), which the loader needs.
if(NOT ARCH STREQUAL "x86_64")
  set(dtb "${install_dir}/support/kernel.dtb")
  set(platform "${install_dir}/support/platform_gen.json")
  foreach(f "${dtb}" "${platform}")
    if(NOT EXISTS "${f}")
      message(FATAL_ERROR "seL4 kernel: ${f} is missing after the install")
    endif()
  endforeach()
  file(READ "${platform}" platform_text)
  if(NOT platform_text MATCHES "\"memory\": *\\[([^]]*)\\]")
    message(FATAL_ERROR "seL4 kernel: no \"memory\" list in ${platform}")
  endif()
  string(REGEX MATCHALL "\"start\": *[0-9]+, *\"end\": *[0-9]+" regions "${CMAKE_MATCH_1}")
  if(NOT regions)
    message(FATAL_ERROR "seL4 kernel: no RAM regions in ${platform}")
  endif()
  foreach(r IN LISTS regions)
    string(REGEX MATCH "\"start\": *([0-9]+), *\"end\": *([0-9]+)" m "${r}")
    if(memory_json STREQUAL "")
      set(memory_json "{\"start\": ${CMAKE_MATCH_1}, \"end\": ${CMAKE_MATCH_2}}")
    else()
      set(memory_json "${memory_json}, {\"start\": ${CMAKE_MATCH_1}, \"end\": ${CMAKE_MATCH_2}}")
    endif()
  endforeach()
endif()

# kernel.elf as built (ELF64), and for x86_64 kernel32.elf for QEMU's
# multiboot loader.
file(COPY "${kernel_elf}" DESTINATION "${STAGE}")
if(ARCH STREQUAL "x86_64")
  execute_process(COMMAND "${OBJCOPY}" -O elf32-i386 "${STAGE}/kernel.elf" "${STAGE}/kernel32.elf"
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "seL4 kernel: objcopy -O elf32-i386 failed: ${err}")
  endif()
endif()

# The manifest, last.
json_string(j_version "${VERSION}")
json_string(j_kind "${KIND}")
json_string(j_src "${source_dir}")
json_string(j_build "${build_dir}")
json_string(j_install "${install_dir}")
json_string(j_arch "${arch_name}")
json_string(j_sel4_arch "${sel4_arch}")
json_string(j_plat "${plat}")
json_string(j_dtb "${dtb}")
set(j_configs "")
foreach(c IN LISTS configs)
  json_string(jc "${c}")
  if(j_configs STREQUAL "")
    set(j_configs "\n    ${jc}")
  else()
    set(j_configs "${j_configs},\n    ${jc}")
  endif()
endforeach()
file(WRITE "${manifest}.tmp" "{
  \"version\": ${j_version},
  \"build_system\": ${j_kind},
  \"arch\": ${j_arch},
  \"sel4_arch\": ${j_sel4_arch},
  \"plat\": ${j_plat},
  \"dtb\": ${j_dtb},
  \"memory\": [${memory_json}],
  \"source_dir\": ${j_src},
  \"build_dir\": ${j_build},
  \"install_dir\": ${j_install},
  \"config\": [${j_configs}
  ]
}
")
file(RENAME "${manifest}.tmp" "${manifest}")
message(STATUS "seL4 kernel ${VERSION} (${KIND}): stage ready at ${STAGE}")
