# tests/wasm/harness.cmake: spec-test runner, WASI/C module tests, snapshot tests and
# the decoder fuzz target. Included by tests/wasm/CMakeLists.txt.
#
# Spec tests: one CTest per .wast script (wasm_spec_<folder>_<script>), so they run in
# parallel. Each test converts its script with wast2json at test time into a temp dir
# and runs every command. simd_* scripts report SKIP (exit 77).

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
