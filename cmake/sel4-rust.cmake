# Rust root servers and boot images on seL4.
#
#   include(<repo>/cmake/sel4-rust.cmake)      # also brings sel4rs_kernel()
#   sel4rs_kernel(STAGE_DIR ${CMAKE_BINARY_DIR}/kernel)
#   sel4rs_rootserver(NAME hello PACKAGE hello)                  # pie
#   sel4rs_rootserver(NAME hello-static PACKAGE hello BIN hello LINK static)
#   sel4rs_boot_image(NAME hello ROOTSERVER hello)
#
# The architecture is SEL4RS_ARCH (cmake/sel4-kernel.cmake: x86_64, aarch64
# or riscv64); one build folder per architecture.
#
# sel4rs_rootserver(NAME <target> PACKAGE <cargo package> [BIN <bin>]
#                   [LINK pie|static] [FEATURES <f>...] [KERNEL <kernel target>]
#                   [MANIFEST_PATH <Cargo.toml>] [EMBED <target>...])
#   Runs `cargo build --release --target <SEL4RS_RUST_TARGET> -p <package>
#   --bin <bin>` every time the target is built (cargo decides what is out of
#   date) with SEL4_KERNEL=<stage of the kernel>, RUSTFLAGS for the link
#   variant and CARGO_TARGET_DIR=<build>/cargo/<variant>. The binary is copied
#   to <build>/rootservers/<target>.elf (target property SEL4RS_ELF).
#   BIN defaults to PACKAGE, LINK to pie, KERNEL to the first sel4rs_kernel(),
#   MANIFEST_PATH to this repository's Cargo.toml.
#   EMBED names targets of sel4rs_process_image() (or sel4rs_rootserver())
#   whose ELF the binary carries: each is built first and its path given to
#   cargo as SEL4RS_EMBED_<TARGET> (upper case, '-' -> '_'), which
#   `sel4_rootserver::embedded_elf!(<TARGET>)` includes.
#
# sel4rs_process_image(NAME <target> PACKAGE <cargo package> [BIN <bin>]
#                      [FEATURES <f>...] [KERNEL <kernel target>] [MANIFEST_PATH ...])
#   A program that a root task loads into a process of its own
#   (`sel4_rootserver::process`): built like a root server, always
#   position-independent, so that the loader can place it at any base.
#
# sel4rs_system(NAME <name> DESCRIPTION <system.toml> ROOT <root task package>
#               [KERNEL <kernel target>] [MANIFEST_PATH <Cargo.toml>] [QEMU_ARGS <arg>...]
#               [DEPENDS <target>...])
#   A system of components (docs/system-description.md). Target <name>
#   runs the host tool `sel4-system build` (host/system-builder): it checks
#   the description (every error with file:line:col and the fix; the build
#   stops on errors), generates each component crate's environment module
#   and builds the crates (position-independent images), checks the
#   budgets again with the built images, writes the plan as Rust
#   (system.rs) and builds the root task ROOT, which carries the images
#   (it includes system.rs; `sel4_rootserver::system!()`). Everything lands
#   in <build>/systems/<name>/ (gen/, images/, rootserver.elf), the root
#   task in <build>/rootservers/<name>.elf (target property SEL4RS_ELF), and
#   a boot image <build>/images/<name>/ with `simulate`
#   (sel4rs_boot_image()). Cargo decides what is out of date each time.
#   `elf` components are looked for next to the description, then in
#   <build>/rootservers (where sel4rs_c_component() puts them); DEPENDS
#   names the targets that build them.
#
# sel4rs_boot_image(NAME <name> ROOTSERVER <target> [USER_VADDR <address>]
#                   [QEMU_ARGS <arg>...])
#   Target image-<name> fills <build>/images/<name>/ with the boot files,
#   rootserver.elf, simulate (runs QEMU; extra arguments go to QEMU; exit
#   status 0 when the root task ended QEMU with success, v for its value v,
#   QEMU's own status otherwise, 255 with a message when QEMU is not
#   installed), qemu-args (QEMU's arguments, one a line, paths relative to
#   the image folder, without the program), qemu-binary (the QEMU program's
#   name) and sel4-kernel.json (the kernel stage's manifest: sel4-run reads
#   the kernel's configuration through it). Target simulate-<name> boots it.
#   - x86_64: kernel32.elf and rootserver.elf, booted by QEMU's multiboot
#     loader; the root task ends QEMU through isa-debug-exit (I/O port 0xf4:
#     QEMU status (v << 1) | 1).
#   - aarch64, riscv64: image.elf, made by sel4-mkimage from the loader
#     (loader/, built for the target), the kernel stage (kernel, device tree,
#     RAM regions) and the root server. The root task ends QEMU through
#     semihosting (status (v << 1) | 1 as well). USER_VADDR: where a
#     position-independent root server runs; default SEL4RS_PIE_RUN_ADDRESS
#     for LINK pie (so every boot exercises the self-relocation), the link
#     address for LINK static.
include_guard(GLOBAL)
cmake_minimum_required(VERSION 3.16)
include("${CMAKE_CURRENT_LIST_DIR}/sel4-kernel.cmake")

# Rust target and link flags per architecture. The `pie` variant's flags
# are those cargo uses alone: the rustflags of [target.<target>] in this
# repository's .cargo/config.toml (read here, so the two never differ; see
# that file for what they do).
if(SEL4RS_ARCH STREQUAL "aarch64")
  set(_sel4rs_target "aarch64-unknown-none")
elseif(SEL4RS_ARCH STREQUAL "riscv64")
  set(_sel4rs_target "riscv64gc-unknown-none-elf")
else()
  set(_sel4rs_target "x86_64-unknown-none")
endif()
set(SEL4RS_RUST_TARGET "${_sel4rs_target}" CACHE STRING "Rust target of root servers")
if(NOT SEL4RS_RUST_TARGET MATCHES "^${SEL4RS_ARCH}")
  message(FATAL_ERROR "SEL4RS_RUST_TARGET=${SEL4RS_RUST_TARGET} is not a ${SEL4RS_ARCH} target "
    "(SEL4RS_ARCH=${SEL4RS_ARCH}): use a fresh build folder per architecture")
endif()
set(_sel4rs_config "${SEL4RS_ROOT}/.cargo/config.toml")
file(READ "${_sel4rs_config}" _sel4rs_text)
string(FIND "${_sel4rs_text}" "[target.${SEL4RS_RUST_TARGET}]" _sel4rs_at)
set(_sel4rs_pie "")
if(_sel4rs_at GREATER_EQUAL 0)
  string(SUBSTRING "${_sel4rs_text}" ${_sel4rs_at} -1 _sel4rs_text)
  if(_sel4rs_text MATCHES "\nrustflags = \\[([^\n]*)\\]")
    string(REGEX MATCHALL "\"[^\"]*\"" _sel4rs_flags "${CMAKE_MATCH_1}")
    string(REPLACE "\"" "" _sel4rs_flags "${_sel4rs_flags}")
    list(JOIN _sel4rs_flags " " _sel4rs_pie)
  endif()
endif()
if(_sel4rs_pie STREQUAL "")
  message(FATAL_ERROR "${_sel4rs_config} has no one-line `rustflags = [...]` under "
    "[target.${SEL4RS_RUST_TARGET}]: the pie link settings of root servers come from there")
endif()
# Read at every configure, and a change of the file configures again: a
# cached copy would keep a build folder on the flags it was first
# configured with (drop one left by an older version of this file).
unset(SEL4RS_RUSTFLAGS_PIE CACHE)
set(SEL4RS_RUSTFLAGS_PIE "${_sel4rs_pie}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_sel4rs_config}")
unset(_sel4rs_target)
unset(_sel4rs_pie)
unset(_sel4rs_config)
unset(_sel4rs_text)
unset(_sel4rs_at)
unset(_sel4rs_flags)
set(SEL4RS_PIE_RUN_ADDRESS "0x10000000" CACHE STRING
  "aarch64/riscv64: where position-independent root servers run (empty: their link address)")
set(SEL4RS_RUSTFLAGS_STATIC
  "-C relocation-model=static -C link-arg=--image-base=0x400000 -C link-arg=-zmax-page-size=4096"
  CACHE STRING "RUSTFLAGS of the static link variant")

# Quotes one argument for a POSIX shell.
function(_sel4rs_sh_quote out arg)
  if(arg MATCHES "^[A-Za-z0-9_./,:=+@%-]+$")
    set(${out} "${arg}" PARENT_SCOPE)
  else()
    string(REPLACE "'" "'\\''" arg "${arg}")
    set(${out} "'${arg}'" PARENT_SCOPE)
  endif()
endfunction()

# The packages of the workspace of <manifest> and their binaries, from
# `cargo metadata --no-deps` (once per manifest and configure run), as a
# list of "<package>:<bin>,<bin>,..." entries in <out>.
function(_sel4rs_cargo_packages manifest out)
  string(MAKE_C_IDENTIFIER "${manifest}" key)
  get_property(have GLOBAL PROPERTY "SEL4RS_PACKAGES_${key}" SET)
  if(have)
    get_property(packages GLOBAL PROPERTY "SEL4RS_PACKAGES_${key}")
    set(${out} "${packages}" PARENT_SCOPE)
    return()
  endif()
  execute_process(
    COMMAND "${SEL4RS_CARGO}" metadata --format-version 1 --no-deps --manifest-path "${manifest}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE json ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cargo metadata --manifest-path ${manifest} failed:\n${err}")
  endif()
  set(packages "")
  string(JSON n LENGTH "${json}" packages)
  if(n GREATER 0)
    math(EXPR last "${n} - 1")
    foreach(i RANGE ${last})
      string(JSON name GET "${json}" packages ${i} name)
      string(JSON nt LENGTH "${json}" packages ${i} targets)
      set(bins "")
      if(nt GREATER 0)
        math(EXPR tlast "${nt} - 1")
        foreach(t RANGE ${tlast})
          string(JSON kinds GET "${json}" packages ${i} targets ${t} kind)
          if(kinds MATCHES "\"bin\"")
            string(JSON bin GET "${json}" packages ${i} targets ${t} name)
            list(APPEND bins "${bin}")
          endif()
        endforeach()
      endif()
      list(JOIN bins "," bins)
      list(APPEND packages "${name}:${bins}")
    endforeach()
  endif()
  set_property(GLOBAL PROPERTY "SEL4RS_PACKAGES_${key}" "${packages}")
  set(${out} "${packages}" PARENT_SCOPE)
endfunction()

function(sel4rs_rootserver)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;PACKAGE;BIN;LINK;KERNEL;MANIFEST_PATH" "FEATURES;EMBED")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "sel4rs_rootserver: unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  # ELFs the binary carries: SEL4RS_EMBED_<TARGET>=<path> for cargo.
  set(embed_env "")
  foreach(e IN LISTS arg_EMBED)
    if(NOT TARGET "${e}")
      message(FATAL_ERROR "sel4rs_rootserver(${arg_NAME}): EMBED ${e} is not a target; declare it with sel4rs_process_image() first")
    endif()
    get_target_property(e_elf "${e}" SEL4RS_ELF)
    if(NOT e_elf)
      message(FATAL_ERROR "sel4rs_rootserver(${arg_NAME}): EMBED ${e} was not declared with sel4rs_process_image() or sel4rs_rootserver()")
    endif()
    string(TOUPPER "${e}" e_var)
    string(MAKE_C_IDENTIFIER "${e_var}" e_var)
    list(APPEND embed_env "SEL4RS_EMBED_${e_var}=${e_elf}")
  endforeach()
  if(NOT arg_NAME OR NOT arg_PACKAGE)
    message(FATAL_ERROR "sel4rs_rootserver: NAME <target> and PACKAGE <cargo package> are required")
  endif()
  if(NOT arg_BIN)
    set(arg_BIN "${arg_PACKAGE}")
  endif()
  if(NOT arg_LINK)
    set(arg_LINK pie)
  endif()
  if(arg_LINK STREQUAL "pie")
    set(rustflags "${SEL4RS_RUSTFLAGS_PIE}")
  elseif(arg_LINK STREQUAL "static")
    set(rustflags "${SEL4RS_RUSTFLAGS_STATIC}")
  else()
    message(FATAL_ERROR "sel4rs_rootserver(${arg_NAME}): LINK must be pie or static, not '${arg_LINK}'")
  endif()
  get_property(root GLOBAL PROPERTY SEL4RS_ROOT)
  get_property(default_kernel GLOBAL PROPERTY SEL4RS_DEFAULT_KERNEL)
  if(NOT arg_KERNEL)
    set(arg_KERNEL "${default_kernel}")
  endif()
  if(NOT arg_KERNEL OR NOT TARGET "${arg_KERNEL}")
    message(FATAL_ERROR "sel4rs_rootserver(${arg_NAME}): no kernel; call sel4rs_kernel(STAGE_DIR ...) first or pass KERNEL <target>")
  endif()
  get_target_property(stage "${arg_KERNEL}" SEL4RS_STAGE_DIR)
  if(NOT arg_MANIFEST_PATH)
    set(arg_MANIFEST_PATH "${root}/Cargo.toml")
  endif()
  get_filename_component(manifest "${arg_MANIFEST_PATH}" ABSOLUTE)
  get_filename_component(manifest_dir "${manifest}" DIRECTORY)

  find_program(SEL4RS_CARGO cargo HINTS "$ENV{HOME}/.cargo/bin")
  if(NOT SEL4RS_CARGO)
    message(FATAL_ERROR "sel4rs_rootserver: cargo not found; install Rust (rustup) and run ${root}/scripts/setup.sh")
  endif()
  if(NOT EXISTS "${manifest}")
    message(FATAL_ERROR "sel4rs_rootserver(${arg_NAME}): MANIFEST_PATH ${manifest} does not exist")
  endif()
  # The package and binary must be in that manifest's workspace (string(JSON)
  # needs CMake 3.19; older ones leave the check to cargo).
  if(NOT CMAKE_VERSION VERSION_LESS 3.19)
    _sel4rs_cargo_packages("${manifest}" packages)
    set(names "")
    set(bins "")
    foreach(p IN LISTS packages)
      string(REGEX REPLACE ":.*" "" pname "${p}")
      list(APPEND names "${pname}")
      if(pname STREQUAL arg_PACKAGE)
        string(REGEX REPLACE "^[^:]*:" "" bins "${p}")
        string(REPLACE "," ";" bins "${bins}")
      endif()
    endforeach()
    if(NOT arg_PACKAGE IN_LIST names)
      list(JOIN names ", " names)
      message(FATAL_ERROR "sel4rs_rootserver(${arg_NAME}): no package ${arg_PACKAGE} in the "
        "workspace of ${manifest} (its packages: ${names}). Pass MANIFEST_PATH <the Cargo.toml "
        "of the package or of its workspace>, or fix PACKAGE.")
    endif()
    if(NOT arg_BIN IN_LIST bins)
      list(JOIN bins ", " bins)
      message(FATAL_ERROR "sel4rs_rootserver(${arg_NAME}): package ${arg_PACKAGE} (${manifest}) "
        "has no binary ${arg_BIN} (its binaries: ${bins}); pass BIN <one of them>")
    endif()
  endif()

  # One target folder per link variant (and per kernel, for extra kernels), so
  # that variants never invalidate each other's builds.
  if(arg_KERNEL STREQUAL default_kernel)
    set(target_dir "${CMAKE_BINARY_DIR}/cargo/${arg_LINK}")
  else()
    set(target_dir "${CMAKE_BINARY_DIR}/cargo/${arg_KERNEL}-${arg_LINK}")
  endif()
  # Feature sets get their own folder too: the final binary's path in a
  # target folder does not depend on the features.
  set(features "")
  if(arg_FEATURES)
    list(JOIN arg_FEATURES "," f)
    set(features --features "${f}")
    string(MAKE_C_IDENTIFIER "${f}" fdir)
    set(target_dir "${target_dir}-f-${fdir}")
  endif()
  set(built "${target_dir}/${SEL4RS_RUST_TARGET}/release/${arg_BIN}")
  set(out "${CMAKE_BINARY_DIR}/rootservers/${arg_NAME}.elf")

  add_custom_target(${arg_NAME} ALL
    COMMAND "${CMAKE_COMMAND}" -E env --unset=CARGO_ENCODED_RUSTFLAGS
      "SEL4_KERNEL=${stage}" "CARGO_TARGET_DIR=${target_dir}" "RUSTFLAGS=${rustflags}"
      ${embed_env}
      "${SEL4RS_CARGO}" build --release --target "${SEL4RS_RUST_TARGET}"
      --manifest-path "${manifest}" -p "${arg_PACKAGE}" --bin "${arg_BIN}" ${features}
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${CMAKE_BINARY_DIR}/rootservers"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${built}" "${out}"
    BYPRODUCTS "${out}"
    WORKING_DIRECTORY "${manifest_dir}"
    COMMENT "cargo: ${arg_PACKAGE} (bin ${arg_BIN}, ${arg_LINK}) -> ${out}"
    USES_TERMINAL
    VERBATIM)
  add_dependencies(${arg_NAME} ${arg_KERNEL})
  foreach(e IN LISTS arg_EMBED)
    add_dependencies(${arg_NAME} ${e})
  endforeach()
  set_target_properties(${arg_NAME} PROPERTIES
    SEL4RS_ELF "${out}"
    SEL4RS_KERNEL "${arg_KERNEL}"
    SEL4RS_LINK "${arg_LINK}")
endfunction()

function(sel4rs_process_image)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;PACKAGE;BIN;KERNEL;MANIFEST_PATH" "FEATURES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "sel4rs_process_image: unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  set(pass NAME "${arg_NAME}" PACKAGE "${arg_PACKAGE}" LINK pie)
  foreach(k BIN KERNEL MANIFEST_PATH)
    if(arg_${k})
      list(APPEND pass ${k} "${arg_${k}}")
    endif()
  endforeach()
  if(arg_FEATURES)
    list(APPEND pass FEATURES ${arg_FEATURES})
  endif()
  sel4rs_rootserver(${pass})
endfunction()

function(sel4rs_boot_image)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;ROOTSERVER;USER_VADDR" "QEMU_ARGS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "sel4rs_boot_image: unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_NAME OR NOT arg_ROOTSERVER)
    message(FATAL_ERROR "sel4rs_boot_image: NAME <name> and ROOTSERVER <target> are required")
  endif()
  if(NOT TARGET "${arg_ROOTSERVER}")
    message(FATAL_ERROR "sel4rs_boot_image(${arg_NAME}): ${arg_ROOTSERVER} is not a target; declare it with sel4rs_rootserver() first")
  endif()
  get_target_property(rs_elf "${arg_ROOTSERVER}" SEL4RS_ELF)
  get_target_property(kernel "${arg_ROOTSERVER}" SEL4RS_KERNEL)
  if(NOT rs_elf OR NOT kernel)
    message(FATAL_ERROR "sel4rs_boot_image(${arg_NAME}): ${arg_ROOTSERVER} was not declared with sel4rs_rootserver()")
  endif()
  get_target_property(stage "${kernel}" SEL4RS_STAGE_DIR)
  get_target_property(build_system "${kernel}" SEL4RS_BUILD_SYSTEM)
  get_target_property(version "${kernel}" SEL4RS_KERNEL_VERSION)
  get_target_property(arch "${kernel}" SEL4RS_ARCH)
  # The QEMU machine of the kernel (sel4rs_kernel(), or a reused stage's
  # qemu-machine file).
  get_target_property(qemu "${kernel}" SEL4RS_QEMU_PROGRAM)
  get_target_property(args_before "${kernel}" SEL4RS_QEMU_MACHINE)
  if(NOT qemu)
    message(FATAL_ERROR "sel4rs_boot_image(${arg_NAME}): the kernel stage ${stage} has no "
      "qemu-machine file (the QEMU machine its kernel boots on), so it was made by an older "
      "sel4rs: rebuild it (cmake --build <its build folder>), or build the kernel here")
  endif()
  if(NOT arch STREQUAL "x86_64")
    _sel4rs_loader_boot_image()
    return()
  endif()
  if(arg_USER_VADDR)
    message(FATAL_ERROR "sel4rs_boot_image(${arg_NAME}): USER_VADDR is for aarch64 and riscv64 images only")
  endif()

  set(qemu_package qemu-system-x86)
  set(args_after ${arg_QEMU_ARGS})

  # Generated at configure time, copied into the image at build time.
  set(gen "${CMAKE_CURRENT_BINARY_DIR}/sel4rs-images/${arg_NAME}")
  set(dir "${CMAKE_BINARY_DIR}/images/${arg_NAME}")
  set(lines "")
  set(all_args ${args_before} -kernel kernel32.elf -initrd rootserver.elf ${args_after})
  foreach(a IN LISTS all_args)
    string(APPEND lines "${a}\n")
  endforeach()
  file(WRITE "${gen}/qemu-args.in" "${lines}")
  file(WRITE "${gen}/qemu-binary.in" "${qemu}\n")

  set(cmd "${qemu}")
  foreach(a IN LISTS args_before)
    _sel4rs_sh_quote(q "${a}")
    string(APPEND cmd " ${q}")
  endforeach()
  string(APPEND cmd " -kernel \"$here/kernel32.elf\" -initrd \"$here/rootserver.elf\"")
  foreach(a IN LISTS args_after)
    _sel4rs_sh_quote(q "${a}")
    string(APPEND cmd " ${q}")
  endforeach()
  file(WRITE "${gen}/simulate.in" "#!/bin/sh
# Boot image ${arg_NAME}: seL4 ${version} (${build_system} build) and the root
# server ${arg_ROOTSERVER}, under QEMU. Generated by sel4rs_boot_image().
# Extra arguments go to QEMU. Exit status: 0 when the root task wrote 0 to I/O
# port 0xf4 (QEMU status 1), v when it wrote v (QEMU status (v<<1)|1), QEMU's
# own status otherwise; 255 (which no QEMU status maps to) when QEMU is not
# installed.
here=$(CDPATH= cd -- \"$(dirname -- \"$0\")\" && pwd) || exit 1
if ! command -v ${qemu} >/dev/null 2>&1; then
    echo \"simulate: ${qemu} not found: install QEMU (Debian package ${qemu_package}) or put ${qemu} on PATH\" >&2
    exit 255
fi
set -- ${cmd} \"$@\"
printf '%s\\n' \"$*\" >&2
\"$@\"
status=$?
if [ \"$status\" -eq 1 ]; then
    exit 0
elif [ $((status % 2)) -eq 1 ]; then
    exit $((status >> 1))
fi
exit \"$status\"
")
  # Set the permissions of the generated script (file(CHMOD) needs CMake 3.19).
  file(COPY "${gen}/simulate.in" DESTINATION "${gen}/x"
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

  set(files "${dir}/kernel32.elf" "${dir}/rootserver.elf" "${dir}/simulate" "${dir}/qemu-args" "${dir}/qemu-binary" "${dir}/sel4-kernel.json")
  add_custom_target(image-${arg_NAME} ALL
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${dir}"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${stage}/kernel32.elf" "${dir}/kernel32.elf"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${rs_elf}" "${dir}/rootserver.elf"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${gen}/x/simulate.in" "${dir}/simulate"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${gen}/qemu-args.in" "${dir}/qemu-args"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${gen}/qemu-binary.in" "${dir}/qemu-binary"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${stage}/sel4-kernel.json" "${dir}/sel4-kernel.json"
    BYPRODUCTS ${files}
    COMMENT "Boot image ${arg_NAME}: ${dir}"
    VERBATIM)
  add_dependencies(image-${arg_NAME} ${arg_ROOTSERVER} ${kernel})
  set_target_properties(image-${arg_NAME} PROPERTIES SEL4RS_IMAGE_DIR "${dir}")
  add_custom_target(simulate-${arg_NAME}
    COMMAND "${dir}/simulate"
    USES_TERMINAL
    VERBATIM)
  add_dependencies(simulate-${arg_NAME} image-${arg_NAME})
endfunction()

# The loader and the image tool, built once per build folder.
function(_sel4rs_loader_tools out_loader out_mkimage)
  get_property(root GLOBAL PROPERTY SEL4RS_ROOT)
  set(loader_dir "${CMAKE_BINARY_DIR}/cargo/loader")
  set(loader "${CMAKE_BINARY_DIR}/loader/sel4-loader.elf")
  set(host_dir "${CMAKE_BINARY_DIR}/cargo/host")
  set(mkimage "${host_dir}/release/sel4-mkimage")
  find_program(SEL4RS_CARGO cargo HINTS "$ENV{HOME}/.cargo/bin")
  if(NOT TARGET sel4rs-loader)
    add_custom_target(sel4rs-loader ALL
      # No root task link settings (empty CARGO_ENCODED_RUSTFLAGS also
      # overrides a .cargo/config.toml's): the loader links at its own
      # fixed address with its own script.
      COMMAND "${CMAKE_COMMAND}" -E env --unset=RUSTFLAGS "CARGO_ENCODED_RUSTFLAGS="
        "CARGO_TARGET_DIR=${loader_dir}"
        "${SEL4RS_CARGO}" build --release --target "${SEL4RS_RUST_TARGET}"
        --manifest-path "${root}/Cargo.toml" -p sel4-loader
      COMMAND "${CMAKE_COMMAND}" -E make_directory "${CMAKE_BINARY_DIR}/loader"
      COMMAND "${CMAKE_COMMAND}" -E copy_if_different
        "${loader_dir}/${SEL4RS_RUST_TARGET}/release/sel4-loader" "${loader}"
      BYPRODUCTS "${loader}"
      WORKING_DIRECTORY "${root}"
      COMMENT "cargo: sel4-loader (${SEL4RS_RUST_TARGET}) -> ${loader}"
      USES_TERMINAL
      VERBATIM)
    add_custom_target(sel4rs-mkimage ALL
      COMMAND "${CMAKE_COMMAND}" -E env --unset=CARGO_ENCODED_RUSTFLAGS --unset=RUSTFLAGS
        "CARGO_TARGET_DIR=${host_dir}"
        "${SEL4RS_CARGO}" build --release --manifest-path "${root}/Cargo.toml" -p sel4-mkimage
      BYPRODUCTS "${mkimage}"
      WORKING_DIRECTORY "${root}"
      COMMENT "cargo: sel4-mkimage (host) -> ${mkimage}"
      USES_TERMINAL
      VERBATIM)
  endif()
  set(${out_loader} "${loader}" PARENT_SCOPE)
  set(${out_mkimage} "${mkimage}" PARENT_SCOPE)
endfunction()

# sel4rs_boot_image() for aarch64 and riscv64 (a macro: it sees the
# caller's arg_* and variables).
macro(_sel4rs_loader_boot_image)
  _sel4rs_loader_tools(loader_elf mkimage)
  get_target_property(link "${arg_ROOTSERVER}" SEL4RS_LINK)
  set(user_vaddr_args "")
  if(arg_USER_VADDR)
    set(user_vaddr_args --user-vaddr "${arg_USER_VADDR}")
  elseif(link STREQUAL "pie" AND NOT "${SEL4RS_PIE_RUN_ADDRESS}" STREQUAL "")
    set(user_vaddr_args --user-vaddr "${SEL4RS_PIE_RUN_ADDRESS}")
  endif()
  if(arch STREQUAL "aarch64")
    set(how "QEMU virt (aarch64)")
  else()
    set(how "QEMU virt (riscv64, QEMU's OpenSBI)")
  endif()
  set(args_after ${arg_QEMU_ARGS})

  set(gen "${CMAKE_CURRENT_BINARY_DIR}/sel4rs-images/${arg_NAME}")
  set(dir "${CMAKE_BINARY_DIR}/images/${arg_NAME}")
  set(lines "")
  set(all_args ${args_before} -kernel image.elf ${args_after})
  foreach(a IN LISTS all_args)
    string(APPEND lines "${a}\n")
  endforeach()
  file(WRITE "${gen}/qemu-args.in" "${lines}")
  file(WRITE "${gen}/qemu-binary.in" "${qemu}\n")
  set(cmd "${qemu}")
  foreach(a IN LISTS args_before)
    _sel4rs_sh_quote(q "${a}")
    string(APPEND cmd " ${q}")
  endforeach()
  string(APPEND cmd " -kernel \"$here/image.elf\"")
  foreach(a IN LISTS args_after)
    _sel4rs_sh_quote(q "${a}")
    string(APPEND cmd " ${q}")
  endforeach()
  file(WRITE "${gen}/simulate.in" "#!/bin/sh
# Boot image ${arg_NAME}: seL4 ${version} (${arch}) and the root server
# ${arg_ROOTSERVER}, packed with the sel4rs loader into image.elf, on ${how}.
# Generated by sel4rs_boot_image(). Extra arguments go to QEMU. Exit status:
# 0 when the root task ended QEMU with success (semihosting exit, QEMU status
# 1), v when it ended it with value v (QEMU status (v<<1)|1; v = 2: the
# loader failed), QEMU's own status otherwise.
here=$(CDPATH= cd -- \"$(dirname -- \"$0\")\" && pwd) || exit 1
set -- ${cmd} \"$@\"
printf '%s\\n' \"$*\" >&2
\"$@\"
status=$?
if [ \"$status\" -eq 1 ]; then
    exit 0
elif [ $((status % 2)) -eq 1 ]; then
    exit $((status >> 1))
fi
exit \"$status\"
")
  file(COPY "${gen}/simulate.in" DESTINATION "${gen}/x"
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

  set(files "${dir}/image.elf" "${dir}/rootserver.elf" "${dir}/simulate" "${dir}/qemu-args" "${dir}/qemu-binary")
  add_custom_target(image-${arg_NAME} ALL
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${dir}"
    COMMAND "${mkimage}" --stage "${stage}" --loader "${loader_elf}" --rootserver "${rs_elf}"
      ${user_vaddr_args} -o "${dir}/image.elf"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${rs_elf}" "${dir}/rootserver.elf"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${gen}/x/simulate.in" "${dir}/simulate"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${gen}/qemu-args.in" "${dir}/qemu-args"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${gen}/qemu-binary.in" "${dir}/qemu-binary"
    BYPRODUCTS ${files}
    COMMENT "Boot image ${arg_NAME} (${arch}): ${dir}"
    VERBATIM)
  add_dependencies(image-${arg_NAME} ${arg_ROOTSERVER} ${kernel} sel4rs-loader sel4rs-mkimage)
  set_target_properties(image-${arg_NAME} PROPERTIES SEL4RS_IMAGE_DIR "${dir}")
  add_custom_target(simulate-${arg_NAME}
    COMMAND "${dir}/simulate"
    USES_TERMINAL
    VERBATIM)
  add_dependencies(simulate-${arg_NAME} image-${arg_NAME})
endmacro()

# The host tool sel4-system (host/system-builder), built once per build
# folder.
function(_sel4rs_system_tool out_tool)
  get_property(root GLOBAL PROPERTY SEL4RS_ROOT)
  set(host_dir "${CMAKE_BINARY_DIR}/cargo/host")
  set(tool "${host_dir}/release/sel4-system")
  if(NOT TARGET sel4rs-system-tool)
    find_program(SEL4RS_CARGO cargo HINTS "$ENV{HOME}/.cargo/bin")
    add_custom_target(sel4rs-system-tool
      COMMAND "${CMAKE_COMMAND}" -E env --unset=CARGO_ENCODED_RUSTFLAGS --unset=RUSTFLAGS
        "CARGO_TARGET_DIR=${host_dir}"
        "${SEL4RS_CARGO}" build --release --manifest-path "${root}/Cargo.toml" -p sel4-system-builder
      BYPRODUCTS "${tool}"
      WORKING_DIRECTORY "${root}"
      COMMENT "cargo: sel4-system (host) -> ${tool}"
      USES_TERMINAL
      VERBATIM)
  endif()
  set(${out_tool} "${tool}" PARENT_SCOPE)
endfunction()

function(sel4rs_system)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;DESCRIPTION;ROOT;KERNEL;MANIFEST_PATH" "QEMU_ARGS;DEPENDS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "sel4rs_system: unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_NAME OR NOT arg_DESCRIPTION OR NOT arg_ROOT)
    message(FATAL_ERROR "sel4rs_system: NAME <name>, DESCRIPTION <system.toml> and ROOT <root task package> are required")
  endif()
  get_property(root GLOBAL PROPERTY SEL4RS_ROOT)
  get_property(default_kernel GLOBAL PROPERTY SEL4RS_DEFAULT_KERNEL)
  if(NOT arg_KERNEL)
    set(arg_KERNEL "${default_kernel}")
  endif()
  if(NOT arg_KERNEL OR NOT TARGET "${arg_KERNEL}")
    message(FATAL_ERROR "sel4rs_system(${arg_NAME}): no kernel; call sel4rs_kernel(STAGE_DIR ...) first or pass KERNEL <target>")
  endif()
  get_target_property(stage "${arg_KERNEL}" SEL4RS_STAGE_DIR)
  if(NOT arg_MANIFEST_PATH)
    set(arg_MANIFEST_PATH "${root}/Cargo.toml")
  endif()
  get_filename_component(manifest "${arg_MANIFEST_PATH}" ABSOLUTE)
  get_filename_component(manifest_dir "${manifest}" DIRECTORY)
  get_filename_component(description "${arg_DESCRIPTION}" ABSOLUTE)
  find_program(SEL4RS_CARGO cargo HINTS "$ENV{HOME}/.cargo/bin")
  if(NOT SEL4RS_CARGO)
    message(FATAL_ERROR "sel4rs_system: cargo not found; install Rust (rustup) and run ${root}/scripts/setup.sh")
  endif()
  _sel4rs_system_tool(tool)
  # The pie target folder, shared with the root servers and process images.
  if(arg_KERNEL STREQUAL default_kernel)
    set(target_dir "${CMAKE_BINARY_DIR}/cargo/pie")
  else()
    set(target_dir "${CMAKE_BINARY_DIR}/cargo/${arg_KERNEL}-pie")
  endif()
  set(out_dir "${CMAKE_BINARY_DIR}/systems/${arg_NAME}")
  set(out "${CMAKE_BINARY_DIR}/rootservers/${arg_NAME}.elf")
  add_custom_target(${arg_NAME} ALL
    COMMAND "${CMAKE_COMMAND}" -E env --unset=CARGO_ENCODED_RUSTFLAGS
      "SEL4_KERNEL=${stage}" "CARGO_TARGET_DIR=${target_dir}" "RUSTFLAGS=${SEL4RS_RUSTFLAGS_PIE}"
      "CARGO=${SEL4RS_CARGO}"
      "${tool}" build --kernel "${stage}" --manifest "${manifest}" --root "${arg_ROOT}"
      --target "${SEL4RS_RUST_TARGET}" --out "${out_dir}"
      --search-path "${CMAKE_BINARY_DIR}/rootservers" "${description}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${CMAKE_BINARY_DIR}/rootservers"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${out_dir}/rootserver.elf" "${out}"
    BYPRODUCTS "${out}"
    WORKING_DIRECTORY "${manifest_dir}"
    COMMENT "sel4-system build ${arg_DESCRIPTION} -> ${out}"
    USES_TERMINAL
    VERBATIM)
  add_dependencies(${arg_NAME} ${arg_KERNEL} sel4rs-system-tool ${arg_DEPENDS})
  set_target_properties(${arg_NAME} PROPERTIES
    SEL4RS_ELF "${out}"
    SEL4RS_KERNEL "${arg_KERNEL}"
    SEL4RS_LINK pie)
  sel4rs_boot_image(NAME ${arg_NAME} ROOTSERVER ${arg_NAME} QEMU_ARGS ${arg_QEMU_ARGS})
endfunction()
