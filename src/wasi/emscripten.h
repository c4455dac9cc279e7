/* emscripten.h: the few "env" imports that emscripten 3.1.6 standalone modules need
 * beyond WASI, implemented without JavaScript.
 *
 *   getTempRet0 / setTempRet0        a host-side i32 register (i64 returns split)
 *   emscripten_notify_memory_growth  no-op
 *   _emscripten_throw_longjmp        longjmp in JS-style SjLj: unwinds as a trap ...
 *   invoke_<sig>(index, args...)     ... that these catch: call table[index](args);
 *                                    on a longjmp trap restore the stack pointer
 *                                    (stackRestore(stackSave())), setThrew(1, 0)
 *                                    and return zeros, as emscripten's JS glue does.
 *
 * Not supported: JS-based C++ exceptions (__cxa_* / invoke_* catching C++ throws);
 * build C++ with -fwasm-exceptions instead, and setjmp with -sSUPPORT_LONGJMP=wasm
 * or the JS-style scheme above. Imports not listed stay unresolved (link error).
 */
#ifndef AOX_WASI_EMSCRIPTEN_H
#define AOX_WASI_EMSCRIPTEN_H

#include "wasm/wasm.h"

typedef struct aox_emscripten aox_emscripten;

/* Create / free a shim context (one per instance). free(NULL) is a no-op. */
int aox_emscripten_new(aox_emscripten **out);
void aox_emscripten_free(aox_emscripten *em);

/* Add host functions for the "env" imports of `module` listed above. `em` must
 * outlive every instance created with `imps`. Returns 0 or a WASM_E* code. */
int aox_emscripten_link(aox_emscripten *em, const wasm_module *module, wasm_imports *imps);

/* After instantiation: look up the exports invoke_* needs (stackSave, stackRestore,
 * setThrew). Modules without them simply cannot use invoke_* longjmp recovery. */
void aox_emscripten_bind(aox_emscripten *em, wasm_instance *inst);

#endif
