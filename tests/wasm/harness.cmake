# tests/wasm/harness.cmake: spec-test runner, WASI/C module tests, snapshot tests and
# the decoder fuzz target. Included by tests/wasm/CMakeLists.txt.
#
# Spec tests: one CTest per .wast script (wasm_spec_<folder>_<script>), so they run in
# parallel. Each test converts its script with wast2json at test time into a temp dir
# and runs every command. simd_* scripts report SKIP (exit 77).

if(NOT TARGET aox_wasm OR NOT TARGET aox-wasm)
  message(STATUS "tests/wasm: engine or aox-wasm not built yet; harness tests skipped")
  return()
endif()

set(AOX_WASM_TESTSUITE "${CMAKE_SOURCE_DIR}/../shared/wasm-testsuite" CACHE PATH
    "Folder holding the WebAssembly spec scripts (core/, memory64/, exception-handling/)")
find_program(AOX_WAST2JSON wast2json)
find_program(AOX_WAT2WASM wat2wasm)

add_executable(spectest_runner
  ${CMAKE_CURRENT_LIST_DIR}/spectest_runner.c
  ${CMAKE_CURRENT_LIST_DIR}/spectest_engine.c)
target_link_libraries(spectest_runner PRIVATE aox_wasm PkgConfig::JANSSON)

if(NOT EXISTS "${AOX_WASM_TESTSUITE}/core")
  add_test(NAME wasm_spec_testsuite_missing
           COMMAND sh -c "echo 'wasm spec testsuite not found at ${AOX_WASM_TESTSUITE} (set AOX_WASM_TESTSUITE)'; exit 1")
elseif(NOT AOX_WAST2JSON)
  add_test(NAME wasm_spec_wast2json_missing
           COMMAND sh -c "echo 'wast2json not found: install wabt'; exit 1")
else()
  foreach(folder core memory64 exception-handling)
    if(folder STREQUAL "exception-handling")
      set(tag eh)
    else()
      set(tag ${folder})
    endif()
    file(GLOB scripts "${AOX_WASM_TESTSUITE}/${folder}/*.wast")
    if(NOT scripts)
      add_test(NAME wasm_spec_${tag}_missing
               COMMAND sh -c "echo 'no .wast scripts in ${AOX_WASM_TESTSUITE}/${folder}'; exit 1")
    endif()
    foreach(script ${scripts})
      get_filename_component(name ${script} NAME_WE)
      add_test(NAME wasm_spec_${tag}_${name}
               COMMAND spectest_runner --wast2json ${AOX_WAST2JSON} ${script})
      set_tests_properties(wasm_spec_${tag}_${name} PROPERTIES
                           SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS "wasm;spec")
    endforeach()
  endforeach()
endif()

# WASI command modules, CLI, snapshot, fuzz-regression tests.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/modules.cmake)
  include(${CMAKE_CURRENT_LIST_DIR}/modules.cmake)
endif()

# Decoder fuzzing. The regression driver is always built and replays the saved
# crash inputs; the libFuzzer target needs clang and AOX_FUZZ=ON (see
# scripts/fuzz-wasm.sh, which also instruments the engine with fuzzer-no-link).
add_executable(fuzz_decode_regress ${CMAKE_CURRENT_LIST_DIR}/fuzz_decode.c)
target_compile_definitions(fuzz_decode_regress PRIVATE FUZZ_REGRESS_MAIN)
target_link_libraries(fuzz_decode_regress PRIVATE aox_wasm)
add_test(NAME wasm_fuzz_regress
         COMMAND fuzz_decode_regress ${CMAKE_CURRENT_LIST_DIR}/fuzz-crashes)
set_tests_properties(wasm_fuzz_regress PROPERTIES TIMEOUT 120 LABELS "wasm;fuzz")
if(AOX_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "AOX_FUZZ=ON needs clang (e.g. CC=clang-14)")
  endif()
  add_executable(fuzz_decode ${CMAKE_CURRENT_LIST_DIR}/fuzz_decode.c)
  target_compile_options(fuzz_decode PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_decode PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_decode PRIVATE aox_wasm)
endif()

# Snapshot/restore and limit determinism, through the engine API.
add_executable(wasm_snapshot_test ${CMAKE_CURRENT_LIST_DIR}/snapshot_test.c)
target_link_libraries(wasm_snapshot_test PRIVATE aox_wasm)
if(AOX_WAT2WASM)
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/snap.wasm
                     COMMAND ${AOX_WAT2WASM} ${CMAKE_CURRENT_LIST_DIR}/modules/snap.wat
                             -o ${CMAKE_CURRENT_BINARY_DIR}/snap.wasm
                     DEPENDS ${CMAKE_CURRENT_LIST_DIR}/modules/snap.wat)
  add_custom_target(wasm_snapshot_module ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/snap.wasm)
  add_test(NAME wasm_snapshot
           COMMAND wasm_snapshot_test ${CMAKE_CURRENT_BINARY_DIR}/snap.wasm)
else()
  add_test(NAME wasm_snapshot COMMAND sh -c "echo 'SKIP: wat2wasm (wabt) not installed'; exit 77")
endif()
set_tests_properties(wasm_snapshot PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60 LABELS "wasm")

# WASI host unit test, through a WAT probe module.
add_executable(wasm_wasi_test ${CMAKE_CURRENT_LIST_DIR}/wasi_test.c)
target_link_libraries(wasm_wasi_test PRIVATE aox_wasi OpenSSL::Crypto)
if(AOX_WAT2WASM)
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe.wasm
                     COMMAND ${AOX_WAT2WASM} ${CMAKE_CURRENT_LIST_DIR}/modules/wasi_probe.wat
                             -o ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe.wasm
                     DEPENDS ${CMAKE_CURRENT_LIST_DIR}/modules/wasi_probe.wat)
  add_custom_target(wasm_wasi_probe_module ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe.wasm)
  add_test(NAME wasm_wasi_unit
           COMMAND wasm_wasi_test ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe.wasm)
else()
  add_test(NAME wasm_wasi_unit COMMAND sh -c "echo 'SKIP: wat2wasm (wabt) not installed'; exit 77")
endif()
set_tests_properties(wasm_wasi_unit PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60 LABELS "wasm;wasi")

# The shared WASI host with 64-bit pointers, embedder hooks and a file system
# (what the aos process devices use), through a memory64 WAT probe.
add_executable(wasm_wasi_shared_test ${CMAKE_CURRENT_LIST_DIR}/wasi_shared_test.c)
target_link_libraries(wasm_wasi_shared_test PRIVATE aox_wasi OpenSSL::Crypto)
if(AOX_WAT2WASM)
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe64.wasm
                     COMMAND ${AOX_WAT2WASM} --enable-memory64
                             ${CMAKE_CURRENT_LIST_DIR}/modules/wasi_probe64.wat
                             -o ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe64.wasm
                     DEPENDS ${CMAKE_CURRENT_LIST_DIR}/modules/wasi_probe64.wat)
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe_legal.wasm
                     COMMAND ${AOX_WAT2WASM} ${CMAKE_CURRENT_LIST_DIR}/modules/wasi_probe_legal.wat
                             -o ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe_legal.wasm
                     DEPENDS ${CMAKE_CURRENT_LIST_DIR}/modules/wasi_probe_legal.wat)
  add_custom_target(wasm_wasi_probe64_module ALL
                    DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe64.wasm
                            ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe_legal.wasm)
  add_test(NAME wasm_wasi_shared
           COMMAND wasm_wasi_shared_test ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe64.wasm
                   ${CMAKE_CURRENT_BINARY_DIR}/wasi_probe_legal.wasm)
else()
  add_test(NAME wasm_wasi_shared COMMAND sh -c "echo 'SKIP: wat2wasm (wabt) not installed'; exit 77")
endif()
set_tests_properties(wasm_wasi_shared PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60 LABELS "wasm;wasi")
