/* spectest_engine.c: the spec runner's seam implemented on aox's engine (wasm/wasm.h).
 *
 * Holds, per script: one wasm_engine, the `spectest` host module, every module and
 * instance loaded so far (kept alive to the end of the script, because registered
 * or named instances may be imported or invoked later), the current instance, the
 * "$name" -> instance map and the register "as" -> instance map.
 *
 * The `spectest` module is what the spec harness defines: functions print,
 * print_i32, print_i64, print_f32, print_f64, print_i32_f32, print_f64_f64 (they
 * do nothing here), globals global_i32 = 666, global_i64 = 666, global_f32 = 666.6,
 * global_f64 = 666.6, a funcref table of 10..20 elements and a memory of 1..2 pages.
 * The non-function parts come from a tiny wasm module (bytes below, produced by
 * wat2wasm from the text in the comment) so they are real engine externs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spectest_engine.h"
#include "wasm/wasm.h"

/*
 * (module
 *   (global (export "global_i32") i32 (i32.const 666))
 *   (global (export "global_i64") i64 (i64.const 666))
 *   (global (export "global_f32") f32 (f32.const 666.6))
 *   (global (export "global_f64") f64 (f64.const 666.6))
 *   (table (export "table") 10 20 funcref)
 *   (memory (export "memory") 1 2))
 */
static const uint8_t spectest_wasm[] = {
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x04, 0x05, 0x01, 0x70,
  0x01, 0x0a, 0x14, 0x05, 0x04, 0x01, 0x01, 0x01, 0x02, 0x06, 0x21, 0x04,
  0x7f, 0x00, 0x41, 0x9a, 0x05, 0x0b, 0x7e, 0x00, 0x42, 0x9a, 0x05, 0x0b,
  0x7d, 0x00, 0x43, 0x66, 0xa6, 0x26, 0x44, 0x0b, 0x7c, 0x00, 0x44, 0xcd,
  0xcc, 0xcc, 0xcc, 0xcc, 0xd4, 0x84, 0x40, 0x0b, 0x07, 0x46, 0x06, 0x0a,
  0x67, 0x6c, 0x6f, 0x62, 0x61, 0x6c, 0x5f, 0x69, 0x33, 0x32, 0x03, 0x00,
  0x0a, 0x67, 0x6c, 0x6f, 0x62, 0x61, 0x6c, 0x5f, 0x69, 0x36, 0x34, 0x03,
  0x01, 0x0a, 0x67, 0x6c, 0x6f, 0x62, 0x61, 0x6c, 0x5f, 0x66, 0x33, 0x32,
  0x03, 0x02, 0x0a, 0x67, 0x6c, 0x6f, 0x62, 0x61, 0x6c, 0x5f, 0x66, 0x36,
  0x34, 0x03, 0x03, 0x05, 0x74, 0x61, 0x62, 0x6c, 0x65, 0x01, 0x00, 0x06,
  0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00
};

typedef struct named {
  char *name;
  wasm_instance *inst;
} named;

struct st_engine {
  wasm_engine *engine;
  wasm_features features;
  wasm_module *spectest_mod;
  wasm_instance *spectest;
  wasm_module **mods;       /* every module decoded (freed last) */
  size_t nmods, capmods;
  wasm_instance **insts;    /* every instance made (freed before modules) */
  size_t ninsts, capinsts;
  wasm_instance *current;
  named *names;             /* "$m" -> instance */
  size_t nnames, capnames;
  named *regs;              /* register "as" -> instance */
  size_t nregs, capregs;
};

static int host_print(wasm_call *call, const wasm_val *args, wasm_val *results, void *ud) {
  (void)call; (void)args; (void)results; (void)ud;
  return 0;
}

static int push(void **arr, size_t *n, size_t *cap, size_t elem, const void *item) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    void *na = realloc(*arr, nc * elem);
    if (!na) return -1;
    *arr = na;
    *cap = nc;
  }
  memcpy((char *)*arr + *n * elem, item, elem);
  (*n)++;
  return 0;
}

static int set_named(named **arr, size_t *n, size_t *cap, const char *name,
                     wasm_instance *inst) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*arr)[i].name, name) == 0) { (*arr)[i].inst = inst; return 0; }
  named nm = {strdup(name), inst};
  if (!nm.name) return -1;
  if (push((void **)arr, n, cap, sizeof nm, &nm) != 0) { free(nm.name); return -1; }
  return 0;
}

static wasm_instance *find_named(named *arr, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(arr[i].name, name) == 0) return arr[i].inst;
  return NULL;
}

int st_engine_new(st_engine **out, int memory64, int exceptions) {
  st_engine *e = calloc(1, sizeof *e);
  wasm_error err;
  wasm_config cfg;
  memset(&cfg, 0, sizeof cfg);
  *out = NULL;
  if (!e) return -1;
  cfg.features.memory64 = memory64;
  cfg.features.exceptions = exceptions;
  e->features = cfg.features;
  if (wasm_engine_new(&cfg, &e->engine) != 0) goto fail;
  if (wasm_module_new(e->engine, spectest_wasm, sizeof spectest_wasm, NULL,
                      &e->spectest_mod, &err) != 0)
    goto fail;
  {
    wasm_imports *none = NULL;
    int rc;
    if (wasm_imports_new(&none) != 0) goto fail;
    rc = wasm_instance_new(e->spectest_mod, none, &e->spectest, &err, NULL);
    wasm_imports_free(none);
    if (rc != 0) goto fail;
  }
  *out = e;
  return 0;
fail:
  st_engine_free(e);
  return -1;
}

void st_engine_free(st_engine *e) {
  if (!e) return;
  /* Every instance before any module: an instance freed early may live on (its
   * functions referenced from another instance's table) until the last instance
   * holding such a reference goes, and it needs its module until then. */
  if (e->spectest) wasm_instance_free(e->spectest);
  for (size_t i = e->ninsts; i-- > 0;) wasm_instance_free(e->insts[i]);
  for (size_t i = 0; i < e->nmods; i++) wasm_module_free(e->mods[i]);
  if (e->spectest_mod) wasm_module_free(e->spectest_mod);
  for (size_t i = 0; i < e->nnames; i++) free(e->names[i].name);
  for (size_t i = 0; i < e->nregs; i++) free(e->regs[i].name);
  free(e->names);
  free(e->regs);
  free(e->insts);
  free(e->mods);
  if (e->engine) wasm_engine_free(e->engine);
  free(e);
}

static int add_spectest(st_engine *e, wasm_imports *imps) {
  static const wasm_valtype I32 = WASM_I32, I64 = WASM_I64, F32 = WASM_F32, F64 = WASM_F64;
  static const wasm_valtype I32F32[2] = {WASM_I32, WASM_F32};
  static const wasm_valtype F64F64[2] = {WASM_F64, WASM_F64};
  static const char *const ext[] = {"global_i32", "global_i64", "global_f32",
                                    "global_f64", "table", "memory"};
  int rc = 0;
  rc |= wasm_imports_add_func(imps, "spectest", "print", NULL, 0, NULL, 0, host_print, e);
  rc |= wasm_imports_add_func(imps, "spectest", "print_i32", &I32, 1, NULL, 0, host_print, e);
  rc |= wasm_imports_add_func(imps, "spectest", "print_i64", &I64, 1, NULL, 0, host_print, e);
  rc |= wasm_imports_add_func(imps, "spectest", "print_f32", &F32, 1, NULL, 0, host_print, e);
  rc |= wasm_imports_add_func(imps, "spectest", "print_f64", &F64, 1, NULL, 0, host_print, e);
  rc |= wasm_imports_add_func(imps, "spectest", "print_i32_f32", I32F32, 2, NULL, 0,
                              host_print, e);
  rc |= wasm_imports_add_func(imps, "spectest", "print_f64_f64", F64F64, 2, NULL, 0,
                              host_print, e);
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
    wasm_extern *x = wasm_instance_export(e->spectest, ext[i]);
    if (!x) return -1;
    rc |= wasm_imports_add_extern(imps, "spectest", ext[i], x);
  }
  return rc;
}

st_load_result st_engine_load(st_engine *e, const uint8_t *bytes, size_t len,
                              const char *name, int instantiate, char *err,
                              size_t errlen) {
  wasm_module *m = NULL;
  wasm_imports *imps = NULL;
  wasm_instance *inst = NULL;
  wasm_error werr;
  wasm_trap trap;
  st_load_result res = ST_LOAD_OTHER;
  int rc;
  memset(&werr, 0, sizeof werr);
  memset(&trap, 0, sizeof trap);
  err[0] = 0;

  rc = wasm_module_new(e->engine, bytes, len, &e->features, &m, &werr);
  if (rc != 0) {
    snprintf(err, errlen, "%s (offset %lld)", werr.message, (long long)werr.offset);
    if (rc != WASM_EDECODE) res = ST_LOAD_OTHER;
    else if (werr.kind == WASM_ERR_MALFORMED) res = ST_LOAD_MALFORMED;
    else if (werr.kind == WASM_ERR_INVALID) res = ST_LOAD_INVALID;
    else res = ST_LOAD_REJECTED;   /* rejected without saying which phase */
    goto done;
  }
  if (push((void **)&e->mods, &e->nmods, &e->capmods, sizeof m, &m) != 0) {
    wasm_module_free(m);
    goto done;
  }
  if (!instantiate) { res = ST_LOAD_OK; goto done; }
  if (wasm_imports_new(&imps) != 0) goto done;
  if (add_spectest(e, imps) != 0) { snprintf(err, errlen, "cannot add spectest"); goto done; }
  for (size_t i = 0; i < e->nregs; i++)
    if (wasm_imports_add_instance(imps, e->regs[i].name, e->regs[i].inst) != 0) {
      snprintf(err, errlen, "cannot add registered module %s", e->regs[i].name);
      goto done;
    }
  rc = wasm_instance_new(m, imps, &inst, &werr, &trap);
  if (rc == WASM_ELINK) {
    snprintf(err, errlen, "%s", werr.message);
    res = ST_LOAD_UNLINKABLE;
    goto done;
  }
  if (rc == WASM_ETRAP || rc == WASM_EEXCEPTION) {
    snprintf(err, errlen, "%s", trap.message);
    res = ST_LOAD_UNINSTANTIABLE;
    goto done;
  }
  if (rc != 0) {
    snprintf(err, errlen, "instantiate: code %d: %s", rc, werr.message);
    goto done;
  }
  if (push((void **)&e->insts, &e->ninsts, &e->capinsts, sizeof inst, &inst) != 0) {
    wasm_instance_free(inst);
    goto done;
  }
  e->current = inst;
  if (name && set_named(&e->names, &e->nnames, &e->capnames, name, inst) != 0) goto done;
  res = ST_LOAD_OK;
done:
  if (imps) wasm_imports_free(imps);
  return res;
}

static wasm_instance *pick(st_engine *e, const char *module) {
  return module ? find_named(e->names, e->nnames, module) : e->current;
}

int st_engine_register(st_engine *e, const char *name, const char *as, char *err,
                       size_t errlen) {
  wasm_instance *inst = pick(e, name);
  if (!inst) {
    snprintf(err, errlen, "no module %s", name ? name : "(current)");
    return -1;
  }
  return set_named(&e->regs, &e->nregs, &e->capregs, as, inst);
}

/* Externref host values: the script's ref.extern N is carried as N + 1 so that
 * ref.extern 0 differs from WASM_EXTERNREF_NULL. */
static int to_wasm(const st_value *v, wasm_val *w) {
  memset(w, 0, sizeof *w);
  switch (v->type) {
  case ST_I32: w->type = WASM_I32; w->of.i32 = (int32_t)(uint32_t)v->bits; return 0;
  case ST_I64: w->type = WASM_I64; w->of.i64 = (int64_t)v->bits; return 0;
  case ST_F32: w->type = WASM_F32; w->of.f32_bits = (uint32_t)v->bits; return 0;
  case ST_F64: w->type = WASM_F64; w->of.f64_bits = v->bits; return 0;
  case ST_FUNCREF:
    w->type = WASM_FUNCREF;
    w->of.ref = NULL;
    return v->is_null ? 0 : -1;   /* scripts only pass null funcrefs */
  case ST_EXTERNREF:
    w->type = WASM_EXTERNREF;
    w->of.externref = v->is_null ? WASM_EXTERNREF_NULL : (uintptr_t)(v->bits + 1);
    return 0;
  default: return -1;
  }
}

static int from_wasm(const wasm_val *w, st_value *v) {
  memset(v, 0, sizeof *v);
  switch (w->type) {
  case WASM_I32: v->type = ST_I32; v->bits = (uint32_t)w->of.i32; return 0;
  case WASM_I64: v->type = ST_I64; v->bits = (uint64_t)w->of.i64; return 0;
  case WASM_F32: v->type = ST_F32; v->bits = w->of.f32_bits; return 0;
  case WASM_F64: v->type = ST_F64; v->bits = w->of.f64_bits; return 0;
  case WASM_FUNCREF:
    v->type = ST_FUNCREF;
    v->is_null = w->of.ref == NULL;
    v->bits = v->is_null ? 0 : 1;  /* identity is not observable from scripts */
    return 0;
  case WASM_EXTERNREF:
    v->type = ST_EXTERNREF;
    v->is_null = w->of.externref == WASM_EXTERNREF_NULL;
    v->bits = v->is_null ? 0 : (uint64_t)w->of.externref - 1;
    return 0;
  }
  return -1;
}

st_call_result st_engine_invoke(st_engine *e, const char *module, const char *field,
                                size_t field_len, const st_value *args, size_t nargs, st_value *results,
                                size_t max_results, size_t *nresults, char *err,
                                size_t errlen) {
  wasm_instance *inst = pick(e, module);
  wasm_extern *fn;
  wasm_externtype ty;
  wasm_val wargs[64], wres[64];
  wasm_trap trap;
  int rc;
  *nresults = 0;
  err[0] = 0;
  if (!inst) { snprintf(err, errlen, "no module %s", module ? module : "(current)"); return ST_CALL_ERROR; }
  fn = wasm_instance_export_n(inst, field, field_len);
  if (!fn || wasm_extern_kind_of(fn) != WASM_EXTERN_FUNC) {
    snprintf(err, errlen, "no exported function \"%s\"", field);
    return ST_CALL_ERROR;
  }
  wasm_extern_type(fn, &ty);
  if (nargs > 64 || ty.func.nresults > 64 || ty.func.nresults > max_results) {
    snprintf(err, errlen, "too many values");
    return ST_CALL_ERROR;
  }
  for (size_t i = 0; i < nargs; i++)
    if (to_wasm(&args[i], &wargs[i]) != 0) {
      snprintf(err, errlen, "argument %zu not representable", i);
      return ST_CALL_ERROR;
    }
  memset(&trap, 0, sizeof trap);
  rc = wasm_instance_call(inst, fn, wargs, (uint32_t)nargs, wres, ty.func.nresults, &trap);
  if (rc == WASM_EEXCEPTION) {
    snprintf(err, errlen, "%s", trap.message);
    return ST_CALL_EXCEPTION;
  }
  if (rc == WASM_ETRAP) {
    snprintf(err, errlen, "%s", trap.message);
    return trap.code == WASM_TRAP_STACK_EXHAUSTED ? ST_CALL_EXHAUSTED : ST_CALL_TRAP;
  }
  if (rc != 0) {
    snprintf(err, errlen, "call failed with code %d", rc);
    return ST_CALL_ERROR;
  }
  for (uint32_t i = 0; i < ty.func.nresults; i++)
    if (from_wasm(&wres[i], &results[i]) != 0) {
      snprintf(err, errlen, "result %u has unknown type 0x%x", i, (unsigned)wres[i].type);
      return ST_CALL_ERROR;
    }
  *nresults = ty.func.nresults;
  return ST_CALL_OK;
}

st_call_result st_engine_get(st_engine *e, const char *module, const char *field,
                             size_t field_len, st_value *out, char *err, size_t errlen) {
  wasm_instance *inst = pick(e, module);
  wasm_extern *g;
  wasm_val v;
  err[0] = 0;
  if (!inst) { snprintf(err, errlen, "no module %s", module ? module : "(current)"); return ST_CALL_ERROR; }
  g = wasm_instance_export_n(inst, field, field_len);
  if (!g || wasm_extern_kind_of(g) != WASM_EXTERN_GLOBAL) {
    snprintf(err, errlen, "no exported global \"%s\"", field);
    return ST_CALL_ERROR;
  }
  if (wasm_global_get(g, &v) != 0 || from_wasm(&v, out) != 0) {
    snprintf(err, errlen, "cannot read global \"%s\"", field);
    return ST_CALL_ERROR;
  }
  return ST_CALL_OK;
}
