# C programs against the configured kernel's own libsel4 (x86_64), for
# baselines such as the bench's (apps/bench/c).
#
#   include(<repo>/cmake/sel4-c-rootserver.cmake)
#   sel4rs_c_rootserver(NAME bench-c SOURCES apps/bench/c/bench.c)
#   sel4rs_boot_image(NAME bench-c ROOTSERVER bench-c)
#   sel4rs_c_process(NAME bench-c-process SOURCES apps/bench/c/process.c)
#   sel4rs_rootserver(NAME bench ... EMBED bench-c-process)
#
# sel4rs_c_rootserver(NAME <target> SOURCES <file>... [KERNEL <kernel target>])
#   Compiles the sources with gcc (-O2, freestanding, static, no PIE) and the
#   kernel stage's libsel4 headers plus its sel4_bootinfo.c into
#   <build>/rootservers/<target>.elf (see cmake/sel4-c-build.cmake for how
#   the headers are found or generated). The sources bring their own
#   `_start`, stack and TLS. SEL4RS_KERNEL_MAJOR and SEL4RS_KERNEL_VERSION
#   are defined. The target carries the properties sel4rs_boot_image()
#   reads. seL4 12.x (no libsel4 install tree) and MCS kernels (the sources
#   use the non-MCS calls) are not supported: the function then makes no
#   target and says so; check `if(TARGET ...)`.
#
# sel4rs_c_process(NAME <target> SOURCES <file>... [KERNEL <kernel target>])
#   The same for a C program that a root task loads as a process
#   (`sel4_rootserver::process`, start contract of
#   crates/component-env/c/sel4rs_start.h, which the sources can include):
#   linked (ET_EXEC, not relocatable) at the loader's default image base,
#   sel4_component_env::layout::IMAGE_BASE (0x400000). The ELF goes to
#   <build>/rootservers/<target>.elf (as sel4rs_process_image()'s do);
#   EMBED takes the target (sel4rs_rootserver()). The same kernels are
#   supported. crates/component-env/c/sel4rs_start.c is compiled in: it
#   brings `_start` and calls the program's sel4rs_main().
#
# sel4rs_c_component(NAME <target> SYSTEM <system.toml> COMPONENT <name>
#                    SOURCES <file>... [KERNEL <kernel target>])
#   A component of a system written in C (an `elf` component of the
#   description, docs/system-description.md): `sel4-system c-header` writes
#   its environment (capability slots, badges, threads, layout) as
#   <sel4rs_env.h>, then the program is built as sel4rs_c_process() builds
#   one, into <build>/rootservers/<target>.elf, where sel4rs_system() looks
#   for `elf` images (--search-path); the description names it
#   `elf = "<target>.elf"`. Give the target to sel4rs_system(DEPENDS ...).
#   Unlike the two above it is built for MCS kernels too: the sources see
#   CONFIG_KERNEL_MCS (libsel4's configuration) and must use the MCS calls
#   there; the header names each thread's reply object
#   (SEL4RS_THREAD_<NAME>_REPLY). seL4 12.x: not built, as above.
include_guard(GLOBAL)
include("${CMAKE_CURRENT_LIST_DIR}/sel4-kernel.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/sel4-rust.cmake")

function(sel4rs_c_rootserver)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;KERNEL" "SOURCES")
  if(arg_UNPARSED_ARGUMENTS OR NOT arg_NAME OR NOT arg_SOURCES)
    message(FATAL_ERROR "sel4rs_c_rootserver(NAME <target> SOURCES <file>... [KERNEL <kernel target>])")
  endif()
  _sel4rs_c_program("${arg_NAME}" "${arg_KERNEL}" "" "" "" OFF ${arg_SOURCES})
endfunction()

function(sel4rs_c_process)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;KERNEL" "SOURCES")
  if(arg_UNPARSED_ARGUMENTS OR NOT arg_NAME OR NOT arg_SOURCES)
    message(FATAL_ERROR "sel4rs_c_process(NAME <target> SOURCES <file>... [KERNEL <kernel target>])")
  endif()
  get_property(root GLOBAL PROPERTY SEL4RS_ROOT)
  # sel4_component_env::layout::IMAGE_BASE: where the loader puts an image
  # by default (a non-relocatable one must be linked there; the loader
  # refuses it otherwise, naming both addresses).
  _sel4rs_c_program("${arg_NAME}" "${arg_KERNEL}"
    "${root}/crates/component-env/c" "-Wl,-Ttext-segment=0x400000" "" OFF
    "${root}/crates/component-env/c/sel4rs_start.c" ${arg_SOURCES})
endfunction()

function(sel4rs_c_component)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;SYSTEM;COMPONENT;KERNEL" "SOURCES")
  if(arg_UNPARSED_ARGUMENTS OR NOT arg_NAME OR NOT arg_SYSTEM OR NOT arg_COMPONENT OR NOT arg_SOURCES)
    message(FATAL_ERROR "sel4rs_c_component(NAME <target> SYSTEM <system.toml> COMPONENT <name> SOURCES <file>... [KERNEL <kernel target>])")
  endif()
  get_property(root GLOBAL PROPERTY SEL4RS_ROOT)
  _sel4rs_c_kernel("${arg_NAME}" "${arg_KERNEL}" arg_KERNEL)
  get_target_property(stage "${arg_KERNEL}" SEL4RS_STAGE_DIR)
  get_filename_component(description "${arg_SYSTEM}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  # The component's environment as a C header (sel4-system c-header), in
  # a folder of its own on the include path.
  _sel4rs_system_tool(tool)
  set(env_dir "${CMAKE_BINARY_DIR}/c/${arg_NAME}/env")
  set(header "${env_dir}/sel4rs_env.h")
  add_custom_command(
    OUTPUT "${header}"
    COMMAND "${tool}" c-header --kernel "${stage}" --no-crate-check
      --component "${arg_COMPONENT}" --out "${header}" "${description}"
    DEPENDS "${description}" sel4rs-system-tool "${stage}/sel4-kernel.json"
    COMMENT "sel4-system c-header: ${arg_COMPONENT} of ${arg_SYSTEM} -> ${header}"
    VERBATIM)
  _sel4rs_c_program("${arg_NAME}" "${arg_KERNEL}"
    "${root}/crates/component-env/c;${env_dir}" "-Wl,-Ttext-segment=0x400000" "${header}" ON
    "${root}/crates/component-env/c/sel4rs_start.c" ${arg_SOURCES})
endfunction()

# The kernel target of C program <name>: <kernel>, else the default one
# (sel4rs_kernel()), into <out>.
function(_sel4rs_c_kernel name kernel out)
  if(NOT kernel)
    get_property(kernel GLOBAL PROPERTY SEL4RS_DEFAULT_KERNEL)
  endif()
  if(NOT kernel OR NOT TARGET "${kernel}")
    message(FATAL_ERROR "C program ${name}: no kernel; call sel4rs_kernel(STAGE_DIR ...) first")
  endif()
  set(${out} "${kernel}" PARENT_SCOPE)
endfunction()

# The work of all three: <includes>, <ldflags> and <deps> are ;-lists of
# extra include folders, link flags and files the build depends on;
# <mcs_ok> ON: the sources handle MCS kernels too (CONFIG_KERNEL_MCS).
function(_sel4rs_c_program name kernel includes ldflags deps mcs_ok)
  set(arg_NAME "${name}")
  set(arg_KERNEL "${kernel}")
  set(arg_SOURCES ${ARGN})
  get_property(root GLOBAL PROPERTY SEL4RS_ROOT)
  _sel4rs_c_kernel("${arg_NAME}" "${arg_KERNEL}" arg_KERNEL)
  get_target_property(arch "${arg_KERNEL}" SEL4RS_ARCH)
  get_target_property(version "${arg_KERNEL}" SEL4RS_KERNEL_VERSION)
  get_target_property(stage "${arg_KERNEL}" SEL4RS_STAGE_DIR)
  if(NOT arch STREQUAL "x86_64")
    message(FATAL_ERROR "C program ${arg_NAME}: x86_64 only (SEL4RS_ARCH is ${arch})")
  endif()
  if(version MATCHES "^12\\.")
    message(STATUS "${arg_NAME}: not built: seL4 ${version} has no libsel4 install tree for C programs")
    return()
  endif()
  # MCS kernels: the C sources are written against the non-MCS libsel4
  # (seL4_Reply, ReplyRecv without a reply object, threads without
  # scheduling contexts).
  get_target_property(config "${arg_KERNEL}" SEL4RS_KERNEL_CONFIG)
  set(texts "")
  if(EXISTS "${config}")
    sel4rs_kernel_config_files("${config}" files)
    foreach(f IN LISTS files)
      file(READ "${f}" text)
      string(APPEND texts "${text}")
    endforeach()
  endif()
  if(NOT mcs_ok AND texts MATCHES "set\\(KernelIsMCS[ \t]+ON")
    message(STATUS "${arg_NAME}: not built: an MCS kernel (the C sources use the non-MCS libsel4 calls)")
    return()
  endif()
  find_program(SEL4RS_GCC gcc)
  if(NOT SEL4RS_GCC)
    message(FATAL_ERROR "C program ${arg_NAME}: gcc not found (Debian package gcc)")
  endif()
  set(sources "")
  foreach(s IN LISTS arg_SOURCES)
    get_filename_component(s "${s}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND sources "${s}")
  endforeach()
  set(out "${CMAKE_BINARY_DIR}/rootservers/${arg_NAME}.elf")
  set(work "${CMAKE_BINARY_DIR}/c/${arg_NAME}")
  string(REPLACE ";" "\\;" sources_arg "${sources}")
  string(REPLACE ";" "\\;" includes_arg "${includes}")
  string(REPLACE ";" "\\;" ldflags_arg "${ldflags}")
  set(header_deps "")
  foreach(i IN LISTS includes)
    file(GLOB h "${i}/*.h")
    list(APPEND header_deps ${h})
  endforeach()
  add_custom_command(
    OUTPUT "${out}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${CMAKE_BINARY_DIR}/rootservers"
    COMMAND "${CMAKE_COMMAND}" "-DSTAGE=${stage}" "-DSOURCES=${sources_arg}" "-DOUT=${out}"
      "-DINCLUDES=${includes_arg}" "-DLDFLAGS=${ldflags_arg}"
      "-DWORK=${work}" "-DGCC=${SEL4RS_GCC}" "-DVENV=${SEL4RS_VENV}"
      -P "${root}/cmake/sel4-c-build.cmake"
    DEPENDS ${sources} ${header_deps} ${deps} "${stage}/sel4-kernel.json" "${root}/cmake/sel4-c-build.cmake"
    COMMENT "gcc: ${arg_NAME} (C, libsel4 of seL4 ${version}) -> ${out}"
    VERBATIM)
  add_custom_target(${arg_NAME} ALL DEPENDS "${out}")
  add_dependencies(${arg_NAME} ${arg_KERNEL})
  set_target_properties(${arg_NAME} PROPERTIES
    SEL4RS_ELF "${out}"
    SEL4RS_KERNEL "${arg_KERNEL}"
    SEL4RS_LINK "static")
endfunction()
