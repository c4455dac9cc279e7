/* emscripten.c: emscripten "env" shim (see emscripten.h). */
#include "wasi/emscripten.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  aox_emscripten *em;
  uint32_t nparams, nresults;
} invoke_sig;

struct aox_emscripten {
  int32_t temp_ret0;
  int longjmp_pending;      /* set by _emscripten_throw_longjmp, cleared by invoke_* */
  wasm_extern *stack_save, *stack_restore, *set_threw;
  invoke_sig **sigs;        /* one per invoke_* import (stable addresses) */
  size_t nsigs;
};

int aox_emscripten_new(aox_emscripten **out) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : -1;
}

void aox_emscripten_free(aox_emscripten *em) {
  if (!em) return;
  for (size_t i = 0; i < em->nsigs; i++) free(em->sigs[i]);
  free(em->sigs);
  free(em);
}

void aox_emscripten_bind(aox_emscripten *em, wasm_instance *inst) {
  em->stack_save = wasm_instance_export(inst, "stackSave");
  em->stack_restore = wasm_instance_export(inst, "stackRestore");
  em->set_threw = wasm_instance_export(inst, "setThrew");
}

static int h_get_temp(wasm_call *c, const wasm_val *a, wasm_val *r, void *ud) {
  aox_emscripten *em = ud;
  (void)c; (void)a;
  r[0].of.i32 = em->temp_ret0;
  return 0;
}

static int h_set_temp(wasm_call *c, const wasm_val *a, wasm_val *r, void *ud) {
  aox_emscripten *em = ud;
  (void)c; (void)r;
  em->temp_ret0 = a[0].of.i32;
  return 0;
}

static int h_noop(wasm_call *c, const wasm_val *a, wasm_val *r, void *ud) {
  (void)c; (void)a; (void)r; (void)ud;
  return 0;
}

static int h_throw_longjmp(wasm_call *c, const wasm_val *a, wasm_val *r, void *ud) {
  aox_emscripten *em = ud;
  (void)a; (void)r;
  em->longjmp_pending = 1;
  return wasm_call_trap(c, "longjmp");
}

static int h_invoke(wasm_call *c, const wasm_val *a, wasm_val *r, void *ud) {
  invoke_sig *sig = ud;
  aox_emscripten *em = sig->em;
  wasm_val sp[1], none[1];
  wasm_trap trap;
  wasm_extern *fn;
  int rc;
  if (sig->nparams == 0) return wasm_call_trap(c, "invoke_*: missing table index");
  if (em->stack_save && wasm_call_func(c, em->stack_save, NULL, 0, sp, 1, &trap) != 0)
    return wasm_call_trap(c, "invoke_*: stackSave failed");
  fn = wasm_call_table_func(c, 0, (uint32_t)a[0].of.i32);
  if (!fn) return wasm_call_trap(c, "invoke_*: bad function table index");
  em->longjmp_pending = 0;
  rc = wasm_call_func(c, fn, a + 1, sig->nparams - 1, r, sig->nresults, &trap);
  if (rc == 0) return 0;
  if (rc != WASM_ETRAP || !em->longjmp_pending || !em->stack_restore || !em->set_threw)
    return rc;   /* a real trap or exception: let it unwind */
  em->longjmp_pending = 0;
  {
    wasm_val threw[2];
    memset(threw, 0, sizeof threw);
    threw[0].type = WASM_I32;
    threw[0].of.i32 = 1;
    threw[1].type = WASM_I32;
    threw[1].of.i32 = 0;
    if (wasm_call_func(c, em->stack_restore, sp, 1, none, 0, &trap) != 0 ||
        wasm_call_func(c, em->set_threw, threw, 2, none, 0, &trap) != 0)
      return wasm_call_trap(c, "invoke_*: stack restore failed");
  }
  for (uint32_t i = 0; i < sig->nresults; i++) memset(&r[i].of, 0, sizeof r[i].of);
  return 0;
}

int aox_emscripten_link(aox_emscripten *em, const wasm_module *module, wasm_imports *imps) {
  uint32_t n = wasm_module_import_count(module);
  for (uint32_t i = 0; i < n; i++) {
    const char *mod, *name;
    wasm_externtype t;
    int rc = 0;
    if (wasm_module_import(module, i, &mod, &name, &t) != 0) return WASM_EINVAL;
    if (strcmp(mod, "env") != 0 || t.kind != WASM_EXTERN_FUNC) continue;
    const wasm_functype *f = &t.func;
    if (strcmp(name, "getTempRet0") == 0 || strcmp(name, "setTempRet0") == 0 ||
        strcmp(name, "emscripten_notify_memory_growth") == 0 ||
        strcmp(name, "_emscripten_throw_longjmp") == 0) {
      wasm_host_fn fn = name[0] == 'g' ? h_get_temp
                      : name[0] == 's' ? h_set_temp
                      : name[0] == 'e' ? h_noop : h_throw_longjmp;
      rc = wasm_imports_add_func(imps, mod, name, f->params, f->nparams, f->results,
                                 f->nresults, fn, em);
    } else if (strncmp(name, "invoke_", 7) == 0) {
      invoke_sig *s = malloc(sizeof *s);
      invoke_sig **ns = realloc(em->sigs, (em->nsigs + 1) * sizeof *ns);
      if (!s || !ns) { free(s); if (ns) em->sigs = ns; return WASM_ENOMEM; }
      em->sigs = ns;
      s->em = em;
      s->nparams = f->nparams;
      s->nresults = f->nresults;
      em->sigs[em->nsigs++] = s;
      rc = wasm_imports_add_func(imps, mod, name, f->params, f->nparams, f->results,
                                 f->nresults, h_invoke, s);
    }
    if (rc != 0) return rc;
  }
  return 0;
}
