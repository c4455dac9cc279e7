# tests/wasm/modules.cmake: CLI, WASI and C/C++-to-wasm module tests (included by
# harness.cmake). Programs are compiled at test time; a test reports SKIP (77) only
# when its toolchain is absent.
set(_m ${CMAKE_CURRENT_LIST_DIR}/modules)
set(_aox $<TARGET_FILE:aox-wasm>)

foreach(case help validate errors hello fuel max_memory mem64 wasi64)
  add_test(NAME wasm_cli_${case}
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh ${_aox} ${_m} ${case})
  set_tests_properties(wasm_cli_${case} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60
                       LABELS "wasm;cli")
endforeach()

add_test(NAME wasm_wasi_determinism
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/wasi_determinism_test.sh ${_aox} ${_m})
set_tests_properties(wasm_wasi_determinism PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120
                     LABELS "wasm;wasi")

# name kind source [module_test.sh options...]
function(aox_wasm_module_test name kind src)
  add_test(NAME wasm_c_${name}
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/module_test.sh ${_aox} ${kind} ${_m}/${src}
                   ${ARGN})
  set_tests_properties(wasm_c_${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                       LABELS "wasm;modules")
endfunction()

aox_wasm_module_test(clang_args clang args_env_stdin.c
  --stdin ${_m}/compute.c --env AOX_MODE=test --env AOX_X=1 -- 3 "two words" -)
aox_wasm_module_test(clang_compute clang compute.c)
aox_wasm_module_test(clang_exit clang exit_deep.c)
aox_wasm_module_test(clang_abort clang trap_abort.c)
aox_wasm_module_test(emcc_compute emcc compute.c)
aox_wasm_module_test(emcc_args emcc args_env_stdin.c --stdin ${_m}/hello.wat -- 5 x)
aox_wasm_module_test(emcc_sjlj_wasm emcc-sjlj setjmp_longjmp.c)
aox_wasm_module_test(emcc_sjlj_js emcc-sjlj-js setjmp_longjmp.c)
aox_wasm_module_test(emxx_exceptions em++-eh cxx_exceptions.cpp)
