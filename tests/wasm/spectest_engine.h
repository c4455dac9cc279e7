/* spectest_engine.h: the thin seam between the spec-test runner and the engine.
 *
 * The runner (spectest_runner.c) reads wast2json output and knows nothing of the
 * engine's API; spectest_engine.c implements these calls on top of "wasm/wasm.h".
 * Keeping the seam narrow means an engine API change touches one file.
 */
#ifndef AOX_SPECTEST_ENGINE_H
#define AOX_SPECTEST_ENGINE_H

#include <stddef.h>
#include <stdint.h>

/* Value types as they appear in the JSON commands. */
typedef enum {
  ST_I32, ST_I64, ST_F32, ST_F64, ST_V128, ST_FUNCREF, ST_EXTERNREF, ST_EXNREF
} st_type;

/* One value. Numbers are carried as raw bits (floats never pass through FPU
 * registers, so NaN payloads survive). For references, is_null says null;
 * otherwise `bits` is the extern host value (ref.extern N) or an opaque
 * non-null token for funcref. */
typedef struct {
  st_type type;
  int is_null;
  uint64_t bits;
  uint8_t v128[16];
} st_value;

/* How a module load ended. The phases match the spec's assertion kinds. */
typedef enum {
  ST_LOAD_OK = 0,
  ST_LOAD_MALFORMED,      /* binary decoding failed */
  ST_LOAD_INVALID,        /* validation failed */
  ST_LOAD_REJECTED,       /* decoding or validation failed; the engine does not
                             say which (accepted for assert_malformed and
                             assert_invalid alike) */
  ST_LOAD_UNLINKABLE,     /* import resolution failed */
  ST_LOAD_UNINSTANTIABLE, /* instantiation trapped (segments, start function) */
  ST_LOAD_OTHER           /* anything else (out of host memory, ...) */
} st_load_result;

/* How an invoke/get ended. */
typedef enum {
  ST_CALL_OK = 0,
  ST_CALL_TRAP,       /* a trap (message in err) */
  ST_CALL_EXHAUSTED,  /* call stack exhausted */
  ST_CALL_EXCEPTION,  /* uncaught wasm exception (EH proposal) */
  ST_CALL_ERROR       /* harness-level error: no such module/export, bad args */
} st_call_result;

typedef struct st_engine st_engine;

/* Create an engine context with the `spectest` host module registered, with the
 * memory64 / exception-handling proposals enabled when the flags are non-zero.
 * Returns 0 on success; *out is freed with st_engine_free. */
int st_engine_new(st_engine **out, int memory64, int exceptions);
void st_engine_free(st_engine *e);

/* Decode, validate, link and instantiate `bytes` (len bytes, copied or kept only
 * for the call). On ST_LOAD_OK the instance becomes the current module and, if
 * `name` is non-NULL (e.g. "$m"), is also reachable under that name. With
 * instantiate == 0 the module is only decoded and validated. err gets a message. */
st_load_result st_engine_load(st_engine *e, const uint8_t *bytes, size_t len,
                              const char *name, int instantiate,
                              char *err, size_t errlen);

/* Make the exports of module `name` (NULL = current) importable as module `as`.
 * Returns 0 on success. */
int st_engine_register(st_engine *e, const char *name, const char *as,
                       char *err, size_t errlen);

/* Invoke export `field` (field_len bytes; names may hold NUL bytes) of module
 * `module` (NULL = current). results has room for max_results values; *nresults
 * receives how many the function returned. */
st_call_result st_engine_invoke(st_engine *e, const char *module, const char *field,
                                size_t field_len, const st_value *args, size_t nargs,
                                st_value *results, size_t max_results,
                                size_t *nresults, char *err, size_t errlen);

/* Read exported global `field` of module `module` (NULL = current). */
st_call_result st_engine_get(st_engine *e, const char *module, const char *field,
                             size_t field_len, st_value *out, char *err, size_t errlen);

#endif
