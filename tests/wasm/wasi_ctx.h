/* tests/wasm/wasi_ctx.h: what the WASI host tests share (wasi_test.c,
 * wasi_shared_test.c): CHECK, and an instance of the test program's module `mod`
 * linked to one aox_wasi host. Included once by each test program, after it has
 * declared `static wasm_module *mod;`. */
#ifndef AOX_TESTS_WASI_CTX_H
#define AOX_TESTS_WASI_CTX_H

#include <stdio.h>
#include <string.h>

#include "wasi/wasi.h"
#include "wasm/wasm.h"

static int failures;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      failures++;                                                     \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
      printf(__VA_ARGS__);                                            \
      printf("\n");                                                   \
    }                                                                 \
  } while (0)

typedef struct {
  aox_wasi *w;
  wasm_instance *inst;
  wasm_extern *mem;
} ctx;

/* A host from cfg and an instance of `mod` linked to it. 0, or -1 with a line printed. */
static int open_ctx(ctx *c, const aox_wasi_config *cfg) {
  wasm_imports *imps = NULL;
  wasm_error err;
  wasm_trap trap;
  memset(c, 0, sizeof *c);
  if (aox_wasi_new(cfg, &c->w) != 0) { printf("aox_wasi_new failed\n"); return -1; }
  if (wasm_imports_new(&imps) != 0 || aox_wasi_link(c->w, mod, imps) != 0) return -1;
  int rc = wasm_instance_new(mod, imps, &c->inst, &err, &trap);
  wasm_imports_free(imps);
  if (rc != 0) { printf("instantiate: %s\n", err.message); return -1; }
  c->mem = wasm_instance_memory(c->inst);
  return 0;
}

static void close_ctx(ctx *c) {
  if (c->inst) wasm_instance_free(c->inst);
  aox_wasi_free(c->w);
  memset(c, 0, sizeof *c);
}

#endif
