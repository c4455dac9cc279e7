/* engine_test.c: unit tests of the WebAssembly engine through its public API.
 *
 *   engine_test <suite> <dir-with-wasm-files>
 *
 * Suites: basic, host, limits, snapshot, malformed, fused (every fused i32 binop pair
 * and the merged copies, in a module built here, against C arithmetic; then fused.wat's
 * loop back edges and br_table on loads, with and without fuel). The .wasm files are built from
 * tests/wasm/engine/wat/ with wat2wasm at build time.
 */
#include "wasm/wasm.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
static const char *dir;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)
#define REQUIRE(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); exit(1); } } while (0)

static uint8_t *read_file(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    REQUIRE(b && fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static wasm_module *load(wasm_engine *e, const char *name)
{
    size_t len;
    uint8_t *b = read_file(name, &len);
    wasm_module *m = NULL;
    wasm_error err;
    int rc = wasm_module_new(e, b, len, NULL, &m, &err);
    if (rc) fprintf(stderr, "%s: %s at %lld\n", name, err.message, (long long)err.offset);
    REQUIRE(rc == 0);
    free(b);
    return m;
}

static wasm_val I32(int32_t v) { wasm_val x = {.type = WASM_I32}; x.of.i32 = v; return x; }
static wasm_val I64(int64_t v) { wasm_val x = {.type = WASM_I64}; x.of.i64 = v; return x; }
static wasm_val F64(double v) { wasm_val x = {.type = WASM_F64}; x.of.f64 = v; return x; }
static wasm_val F32B(uint32_t bits) { wasm_val x = {.type = WASM_F32}; x.of.f32_bits = bits; return x; }

static int32_t call_i32(wasm_instance *in, const char *name, int n, int32_t a, int32_t b,
                        wasm_trap *trap, int *rc_out)
{
    wasm_val args[2] = {I32(a), I32(b)}, res[1];
    wasm_trap t;
    int rc = wasm_instance_call_export(in, name, args, (uint32_t)n, res, 1, trap ? trap : &t);
    if (rc_out) *rc_out = rc;
    return rc ? INT32_MIN : res[0].of.i32;
}

/* ------------------------------------------------------------------ */

static void *interrupter(void *arg);

static void test_basic(void)
{
    wasm_engine *e;
    REQUIRE(wasm_engine_new(NULL, &e) == 0);
    wasm_module *m = load(e, "basic.wasm");
    CHECK(wasm_module_export_count(m) >= 10);
    wasm_instance *in;
    wasm_error err;
    wasm_trap trap;
    REQUIRE(wasm_instance_new(m, NULL, &in, &err, &trap) == 0);

    CHECK(call_i32(in, "fib", 1, 20, 0, NULL, NULL) == 6765);
    CHECK(call_i32(in, "loop", 1, 100, 0, NULL, NULL) == 5050);

    wasm_val a2[2] = {I64(1LL << 40), I64(5)}, r2[2];
    CHECK(wasm_instance_call_export(in, "sum", a2, 2, r2, 1, &trap) == 0);
    CHECK(r2[0].type == WASM_I64 && r2[0].of.i64 == (1LL << 40) + 5);

    /* 0/0 is NaN: canonicalised */
    wasm_val f2[2] = {F64(0.0), F64(0.0)};
    CHECK(wasm_instance_call_export(in, "fdiv", f2, 2, r2, 1, &trap) == 0);
    CHECK(r2[0].of.f64_bits == 0x7FF8000000000000ull);
    /* neg keeps the payload of a NaN */
    wasm_val f1 = F32B(0x7FA00001u);
    CHECK(wasm_instance_call_export(in, "fneg", &f1, 1, r2, 1, &trap) == 0);
    CHECK(r2[0].of.f32_bits == 0xFFA00001u);

    wasm_val s2[2] = {I32(1), I32(2)};
    CHECK(wasm_instance_call_export(in, "swap", s2, 2, r2, 2, &trap) == 0);
    CHECK(r2[0].of.i32 == 2 && r2[1].of.i32 == 1);

    /* memory through the API and the guest */
    wasm_extern *mem = wasm_instance_memory(in);
    REQUIRE(mem != NULL);
    CHECK(wasm_memory_pages(mem) == 1);
    uint32_t v = 0xDEADBEEF;
    CHECK(wasm_memory_write(mem, 100, &v, 4) == 0);
    CHECK((uint32_t)call_i32(in, "load", 1, 100, 0, NULL, NULL) == 0xDEADBEEF);
    CHECK(wasm_memory_write(mem, 65534, &v, 4) == WASM_EINVAL);
    int rc;
    call_i32(in, "load", 1, 65533, 0, &trap, &rc);
    CHECK(rc == WASM_ETRAP && trap.code == WASM_TRAP_MEMORY_OOB);
    CHECK(strcmp(trap.message, "out of bounds memory access") == 0);
    CHECK(call_i32(in, "grow", 1, 2, 0, NULL, NULL) == 1);
    CHECK(call_i32(in, "grow", 1, 2, 0, NULL, NULL) == -1);   /* max 4 */
    CHECK(wasm_memory_pages(mem) == 3);

    /* regression (aos helper, bug A1): fused compare-and-branch with an immediate */
    CHECK(call_i32(in, "a1_t", 1, 1, 0, NULL, NULL) == 777);
    CHECK(call_i32(in, "a1_u", 1, 108, 0, NULL, NULL) == 108);
    CHECK(call_i32(in, "a1_u", 1, 5, 0, NULL, NULL) == 777);
    call_i32(in, "div", 2, 1, 0, &trap, &rc);
    CHECK(rc == WASM_ETRAP && trap.code == WASM_TRAP_DIV_ZERO);
    call_i32(in, "div", 2, INT32_MIN, -1, &trap, &rc);
    CHECK(rc == WASM_ETRAP && trap.code == WASM_TRAP_INT_OVERFLOW);

    /* globals */
    wasm_extern *g = wasm_instance_export(in, "g");
    wasm_val gv;
    REQUIRE(g && wasm_extern_kind_of(g) == WASM_EXTERN_GLOBAL);
    CHECK(wasm_global_get(g, &gv) == 0 && gv.of.i32 == 7);
    gv.of.i32 = 9;
    CHECK(wasm_global_set(g, &gv) == 0);
    CHECK(wasm_global_get(g, &gv) == 0 && gv.of.i32 == 9);

    /* wrong argument types / counts are API errors */
    wasm_val bad = I64(1);
    CHECK(wasm_instance_call_export(in, "fib", &bad, 1, r2, 1, &trap) == WASM_EINVAL);
    CHECK(wasm_instance_call_export(in, "nope", NULL, 0, NULL, 0, &trap) == WASM_ENOTFOUND);

    /* interrupt without fuel: polled on loop back-edges */
    pthread_t th;
    pthread_create(&th, NULL, interrupter, in);
    rc = wasm_instance_call_export(in, "spin", NULL, 0, NULL, 0, &trap);
    pthread_join(th, NULL);
    CHECK(rc == WASM_ETRAP && trap.code == WASM_TRAP_INTERRUPTED);
    wasm_instance_clear_interrupt(in);

    wasm_instance_free(in);
    wasm_module_free(m);
    wasm_engine_free(e);
}

/* ------------------------------------------------------------------ */

static int host_add(wasm_call *call, const wasm_val *args, wasm_val *results, void *ud)
{
    (void)call;
    *(int *)ud += 1;
    results[0].of.i32 = args[0].of.i32 + args[1].of.i32;
    return 0;
}

/* emscripten invoke_*: call table[idx](x), catching traps and exceptions */
static int host_invoke(wasm_call *call, const wasm_val *args, wasm_val *results, void *ud)
{
    (void)ud;
    wasm_extern *f = wasm_call_table_func(call, 0, (uint32_t)args[0].of.i32);
    if (!f) return wasm_call_trap(call, "bad table index");
    wasm_val a = args[1], r;
    wasm_trap t;
    int rc = wasm_call_func(call, f, &a, 1, &r, 1, &t);
    if (rc == WASM_ETRAP) { results[0].of.i32 = -1; return 0; }
    if (rc == WASM_EEXCEPTION) {
        wasm_extern *tag;
        wasm_val p;
        int n = wasm_call_exception(call, &tag, &p, 1);
        results[0].of.i32 = n == 1 ? -100 - p.of.i32 : -2;
        return 0;
    }
    if (rc) return rc;
    results[0] = r;
    return 0;
}

static wasm_extern *g_tag;
static int host_throw(wasm_call *call, const wasm_val *args, wasm_val *results, void *ud)
{
    (void)results;
    (void)ud;
    return wasm_call_throw(call, g_tag, args, 1);
}

static int host_trap(wasm_call *call, const wasm_val *args, wasm_val *results, void *ud)
{
    (void)args;
    (void)results;
    (void)ud;
    return wasm_call_trap(call, "host says no");
}

static void test_host(void)
{
    wasm_engine *e;
    REQUIRE(wasm_engine_new(NULL, &e) == 0);
    wasm_module *m = load(e, "host.wasm");
    CHECK(wasm_module_import_count(m) == 4);
    const char *mod, *name;
    wasm_externtype ty;
    CHECK(wasm_module_import(m, 0, &mod, &name, &ty) == 0);
    CHECK(strcmp(mod, "env") == 0 && strcmp(name, "add") == 0 && ty.kind == WASM_EXTERN_FUNC &&
          ty.func.nparams == 2 && ty.func.nresults == 1);

    wasm_imports *imps;
    REQUIRE(wasm_imports_new(&imps) == 0);
    wasm_error err;
    wasm_trap trap;
    wasm_instance *in = NULL;
    /* missing import */
    CHECK(wasm_instance_new(m, imps, &in, &err, &trap) == WASM_ELINK);
    CHECK(strstr(err.message, "unknown import") != NULL && in == NULL);

    int count = 0;
    wasm_valtype ii[2] = {WASM_I32, WASM_I32}, i1[1] = {WASM_I32};
    /* wrong signature first: incompatible */
    REQUIRE(wasm_imports_add_func(imps, "env", "add", ii, 1, i1, 1, host_add, &count) == 0);
    REQUIRE(wasm_imports_add_func(imps, "env", "invoke", ii, 2, i1, 1, host_invoke, NULL) == 0);
    REQUIRE(wasm_imports_add_func(imps, "env", "hthrow", i1, 1, NULL, 0, host_throw, NULL) == 0);
    REQUIRE(wasm_imports_add_func(imps, "env", "htrap", NULL, 0, NULL, 0, host_trap, NULL) == 0);
    CHECK(wasm_instance_new(m, imps, &in, &err, &trap) == WASM_ELINK);
    CHECK(strstr(err.message, "incompatible import type") != NULL);
    REQUIRE(wasm_imports_add_func(imps, "env", "add", ii, 2, i1, 1, host_add, &count) == 0);
    REQUIRE(wasm_instance_new(m, imps, &in, &err, &trap) == 0);
    wasm_imports_free(imps);
    g_tag = wasm_instance_export(in, "e");
    REQUIRE(g_tag && wasm_extern_kind_of(g_tag) == WASM_EXTERN_TAG);

    CHECK(call_i32(in, "call_add", 2, 40, 2, NULL, NULL) == 42 && count == 1);
    CHECK(call_i32(in, "via_host", 2, 0, 21, NULL, NULL) == 42);
    CHECK(call_i32(in, "via_host", 2, 1, 21, NULL, NULL) == -1);     /* trap caught by host */
    CHECK(call_i32(in, "via_host", 2, 2, 5, NULL, NULL) == -105);    /* exception caught */
    /* host -> guest -> host -> guest */
    CHECK(call_i32(in, "via_host", 2, 3, 8, NULL, NULL) == 16);
    /* host <-> guest recursion without end: the innermost re-entry traps
     * "call stack exhausted", its host catches it and -1 comes back up */
    CHECK(call_i32(in, "via_host", 2, 4, 8, NULL, NULL) == -1);
    CHECK(call_i32(in, "catch_host", 1, 7, 0, NULL, NULL) == 1007);  /* host throw, guest catch */
    CHECK(call_i32(in, "catch_all", 1, 7, 0, NULL, NULL) == 42);

    int rc;
    wasm_val a = I32(3);
    rc = wasm_instance_call_export(in, "host_trap", NULL, 0, NULL, 0, &trap);
    CHECK(rc == WASM_ETRAP && trap.code == WASM_TRAP_HOST && strcmp(trap.message, "host says no") == 0);
    rc = wasm_instance_call_export(in, "uncaught", &a, 1, NULL, 0, &trap);
    CHECK(rc == WASM_EEXCEPTION && trap.code == WASM_TRAP_UNCAUGHT_EXCEPTION);
    wasm_extern *tag = NULL;
    wasm_val p;
    CHECK(wasm_instance_last_exception(in, &tag, &p, 1) == 1 && tag == g_tag && p.of.i32 == 3);
    /* 20000 throw/catch in one call; sum of 1..20000 */
    CHECK(call_i32(in, "throw_loop", 1, 20000, 0, NULL, NULL) == 200010000);
    CHECK(call_i32(in, "gc_rethrow", 0, 0, 0, NULL, NULL) == 5);
    /* still usable after traps and exceptions */
    CHECK(call_i32(in, "call_add", 2, 1, 2, NULL, NULL) == 3);

    /* a second instance importing the first one's tag and memory */
    wasm_instance_free(in);
    wasm_module_free(m);
    wasm_engine_free(e);
}

/* ------------------------------------------------------------------ */

static void *interrupter(void *arg)
{
    usleep(20000);
    wasm_instance_interrupt((wasm_instance *)arg);
    return NULL;
}

static void test_limits(void)
{
    wasm_config cfg = {0};
    cfg.fuel_enabled = 1;
    cfg.max_call_depth = 500;
    cfg.max_pages_per_instance = 2;
    cfg.features.exceptions = 1;
    wasm_engine *e;
    REQUIRE(wasm_engine_new(&cfg, &e) == 0);
    wasm_module *m = load(e, "basic.wasm");
    wasm_instance *in;
    wasm_error err;
    wasm_trap trap;
    REQUIRE(wasm_instance_new(m, NULL, &in, &err, &trap) == 0);
    int rc;

    /* fuel: deterministic exhaustion point */
    int64_t used[2];
    for (int k = 0; k < 2; k++) {
        wasm_instance_reset_stats(in);
        wasm_instance_set_fuel(in, 5000);
        call_i32(in, "fib", 1, 25, 0, &trap, &rc);
        CHECK(rc == WASM_ETRAP && trap.code == WASM_TRAP_OUT_OF_FUEL);
        CHECK(strcmp(trap.message, "out of fuel") == 0);
        wasm_stats st;
        wasm_instance_stats(in, &st);
        used[k] = (int64_t)st.fuel_used;
        CHECK(st.fuel_used > 4000 && st.fuel_used <= 5000);
        CHECK(wasm_instance_fuel(in) == 5000 - used[k]);
    }
    CHECK(used[0] == used[1]);
    wasm_instance_set_fuel(in, 1000000);
    CHECK(call_i32(in, "fib", 1, 10, 0, NULL, NULL) == 55);
    CHECK(wasm_instance_fuel(in) < 1000000);

    /* call depth: deep recursion traps cleanly */
    wasm_instance_set_fuel(in, INT64_MAX / 2);
    CHECK(call_i32(in, "recurse", 1, 400, 0, NULL, NULL) == 400);
    call_i32(in, "recurse", 1, 100000, 0, &trap, &rc);
    CHECK(rc == WASM_ETRAP && trap.code == WASM_TRAP_STACK_EXHAUSTED);

    /* memory limit: instance cap of 2 pages although the module allows 4 */
    CHECK(call_i32(in, "grow", 1, 1, 0, NULL, NULL) == 1);
    CHECK(call_i32(in, "grow", 1, 1, 0, NULL, NULL) == -1);
    wasm_stats st;
    wasm_instance_stats(in, &st);
    CHECK(st.peak_pages == 2 && st.cur_pages == 2 && st.grow_failures == 1);

    /* interrupt from another thread stops an infinite loop */
    pthread_t th;
    wasm_instance_clear_interrupt(in);
    pthread_create(&th, NULL, interrupter, in);
    rc = wasm_instance_call_export(in, "spin", NULL, 0, NULL, 0, &trap);
    pthread_join(th, NULL);
    CHECK(rc == WASM_ETRAP && trap.code == WASM_TRAP_INTERRUPTED);
    wasm_instance_clear_interrupt(in);
    CHECK(call_i32(in, "fib", 1, 10, 0, NULL, NULL) == 55);

    wasm_instance_free(in);
    wasm_module_free(m);
    wasm_engine_free(e);

    /* engine-wide page cap */
    wasm_config c2 = {0};
    c2.max_total_pages = 3;
    REQUIRE(wasm_engine_new(&c2, &e) == 0);
    m = load(e, "basic.wasm");
    wasm_instance *a, *b;
    REQUIRE(wasm_instance_new(m, NULL, &a, &err, &trap) == 0);
    REQUIRE(wasm_instance_new(m, NULL, &b, &err, &trap) == 0);
    CHECK(wasm_engine_total_pages(e) == 2);
    CHECK(call_i32(a, "grow", 1, 1, 0, NULL, NULL) == 1);
    CHECK(call_i32(b, "grow", 1, 1, 0, NULL, NULL) == -1);
    wasm_instance_free(a);
    CHECK(wasm_engine_total_pages(e) == 1);
    CHECK(call_i32(b, "grow", 1, 1, 0, NULL, NULL) == 1);
    wasm_instance_free(b);
    wasm_module_free(m);
    wasm_engine_free(e);
}

/* ------------------------------------------------------------------ */

static void test_snapshot(void)
{
    wasm_engine *e;
    REQUIRE(wasm_engine_new(NULL, &e) == 0);
    wasm_module *m = load(e, "snap.wasm");
    wasm_instance *a, *b;
    wasm_error err;
    wasm_trap trap;
    REQUIRE(wasm_instance_new(m, NULL, &a, &err, &trap) == 0);
    wasm_instance_mark_clean(a);
    uint64_t pages[64];
    CHECK(wasm_instance_dirty_pages(a, 0, pages, 64) == 0);
    CHECK(call_i32(a, "step", 1, 3, 0, NULL, NULL) == 1);
    CHECK(call_i32(a, "step", 1, 20, 0, NULL, NULL) == 2);
    CHECK(call_i32(a, "step", 1, 5, 0, NULL, NULL) == 3);
    size_t nd = wasm_instance_dirty_pages(a, 0, pages, 64);
    CHECK(nd == 3 && pages[0] == 3 && pages[1] == 5 && pages[2] == 20);
    CHECK(wasm_instance_dirty_pages(a, 4, pages, 64) == 2);
    CHECK(wasm_instance_page_count(a) == 32);
    CHECK(call_i32(a, "callt", 0, 0, 0, NULL, NULL) == 11);
    wasm_instance_call_export(a, "init", NULL, 0, NULL, 0, &trap);
    CHECK(call_i32(a, "grow", 1, 1, 0, NULL, NULL) == 2);

    uint8_t *snap;
    size_t len;
    REQUIRE(wasm_instance_snapshot(a, 1, &snap, &len) == 0);
    CHECK(len < 4 * 4096 + 512);   /* only non-zero 4 KiB pages stored */

    REQUIRE(wasm_instance_new(m, NULL, &b, &err, &trap) == 0);
    REQUIRE(wasm_instance_restore(b, snap, len, &err) == 0);
    CHECK(wasm_memory_pages(wasm_instance_memory(b)) == 3);
    CHECK(call_i32(b, "peek", 1, 20, 0, NULL, NULL) == 2);
    CHECK(call_i32(b, "callt", 0, 0, 0, NULL, NULL) == 11);
    /* counter global restored: next step is 4 in both */
    CHECK(call_i32(b, "step", 1, 7, 0, NULL, NULL) == 4);
    CHECK(call_i32(a, "step", 1, 7, 0, NULL, NULL) == 4);
    CHECK(call_i32(b, "callt", 0, 0, 0, NULL, NULL) == 22);
    /* data segment was dropped before the snapshot: init traps in both */
    int rc1 = wasm_instance_call_export(a, "init", NULL, 0, NULL, 0, &trap);
    int rc2 = wasm_instance_call_export(b, "init", NULL, 0, NULL, 0, &trap);
    CHECK(rc1 == WASM_ETRAP && rc2 == WASM_ETRAP);
    uint8_t hello[5];
    CHECK(wasm_memory_read(wasm_instance_memory(b), 100, hello, 5) == 0 && memcmp(hello, "hello", 5) == 0);

    /* page API: copy dirty pages of a into b after a mark */
    wasm_instance_mark_clean(a);
    CHECK(call_i32(a, "step", 1, 9, 0, NULL, NULL) == 5);
    nd = wasm_instance_dirty_pages(a, 0, pages, 64);
    CHECK(nd == 1 && pages[0] == 9);
    uint8_t page[WASM_DIRTY_PAGE_SIZE];
    CHECK(wasm_instance_read_page(a, 9, page) == 0);
    CHECK(wasm_instance_write_page(b, 9, page) == 0);
    CHECK(call_i32(b, "peek", 1, 9, 0, NULL, NULL) == 5);

    /* snapshot without memory keeps the size; corrupted snapshots are rejected */
    uint8_t *s2;
    size_t l2;
    REQUIRE(wasm_instance_snapshot(a, 0, &s2, &l2) == 0);
    CHECK(l2 < 200);
    CHECK(wasm_instance_restore(b, s2, l2 - 1, &err) == WASM_ESNAPSHOT);
    s2[9] ^= 1;   /* module hash */
    CHECK(wasm_instance_restore(b, s2, l2, &err) == WASM_ESNAPSHOT);
    for (size_t cut = 0; cut < len; cut += 97)
        CHECK(wasm_instance_restore(b, snap, cut, &err) == WASM_ESNAPSHOT);
    free(s2);
    free(snap);
    wasm_instance_free(a);
    wasm_instance_free(b);
    wasm_module_free(m);
    wasm_engine_free(e);
}

/* ------------------------------------------------------------------ */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_malformed(void)
{
    wasm_engine *e;
    REQUIRE(wasm_engine_new(NULL, &e) == 0);
    wasm_module *m = NULL;
    wasm_error err;
    static const uint8_t bad_magic[] = {0, 'a', 's', 'n', 1, 0, 0, 0};
    CHECK(wasm_module_new(e, bad_magic, sizeof bad_magic, NULL, &m, &err) == WASM_EDECODE);
    CHECK(strstr(err.message, "magic header not detected") && err.kind == WASM_ERR_MALFORMED);
    static const uint8_t bad_ver[] = {0, 'a', 's', 'm', 2, 0, 0, 0};
    CHECK(wasm_module_new(e, bad_ver, sizeof bad_ver, NULL, &m, &err) == WASM_EDECODE);
    CHECK(strstr(err.message, "unknown binary version") && err.offset == 4);
    /* type section cut short */
    static const uint8_t cut[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1, 0x60, 0};
    CHECK(wasm_module_new(e, cut, sizeof cut, NULL, &m, &err) == WASM_EDECODE);
    CHECK(strstr(err.message, "unexpected end") != NULL);
    /* (func (result i32) i64.const 0): type mismatch, invalid */
    static const uint8_t tm[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7F,
                                 3, 2, 1, 0, 10, 6, 1, 4, 0, 0x42, 0, 0x0B};
    CHECK(wasm_module_new(e, tm, sizeof tm, NULL, &m, &err) == WASM_EDECODE);
    CHECK(strstr(err.message, "type mismatch") && err.kind == WASM_ERR_INVALID);
    CHECK(err.offset >= 23 && err.offset <= 27);
    /* SIMD: v128.const in a body */
    static const uint8_t simd[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0,
                                   3, 2, 1, 0, 10, 7, 1, 5, 0, 0xFD, 12, 0, 0x0B};
    CHECK(wasm_module_new(e, simd, sizeof simd, NULL, &m, &err) == WASM_EDECODE);
    CHECK(strstr(err.message, "unsupported feature") != NULL);
    /* memory64 off: rejected */
    wasm_features nof = {0};
    static const uint8_t m64[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 5, 3, 1, 4, 1};
    CHECK(wasm_module_new(e, m64, sizeof m64, &nof, &m, &err) == WASM_EDECODE);
    CHECK(wasm_module_new(e, m64, sizeof m64, NULL, &m, &err) == 0);
    wasm_module_free(m);

    /* regression (fuzz crash-dd620f8b): bulk table/memory ops in unreachable code
     * with an empty operand stack: (func unreachable table.grow 0) */
    static const uint8_t dead_grow[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7F,
                                        3, 2, 1, 0, 4, 4, 1, 0x6F, 0, 0, 10, 8, 1, 6, 0, 0,
                                        0xFC, 15, 0, 0x0B};
    CHECK(wasm_module_new(e, dead_grow, sizeof dead_grow, NULL, &m, &err) == 0);
    wasm_module_free(m);
    static const uint8_t dead_fill[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0,
                                        3, 2, 1, 0, 5, 3, 1, 0, 1, 10, 8, 1, 6, 0, 0,
                                        0xFC, 11, 0, 0x0B};
    CHECK(wasm_module_new(e, dead_fill, sizeof dead_fill, NULL, &m, &err) == 0);
    wasm_module_free(m);

    /* mutations of valid modules never crash and never leak (ASan checks) */
    const char *files[] = {"basic.wasm", "host.wasm", "snap.wasm"};
    int accepted = 0;
    for (int fi = 0; fi < 3; fi++) {
        size_t len;
        uint8_t *b = read_file(files[fi], &len);
        uint8_t *c = malloc(len);
        for (int it = 0; it < 3000; it++) {
            memcpy(c, b, len);
            int nmut = 1 + (int)(next_rand() % 4);
            for (int k = 0; k < nmut; k++) {
                size_t at = next_rand() % len;
                switch (next_rand() % 3) {
                case 0: c[at] = (uint8_t)next_rand(); break;
                case 1: c[at] ^= (uint8_t)(1u << (next_rand() % 8)); break;
                default: c[at] = (uint8_t)(c[at] + 1); break;
                }
            }
            size_t l = (next_rand() % 8 == 0) ? next_rand() % len : len;
            wasm_module *mm = NULL;
            if (wasm_module_new(e, c, l, NULL, &mm, &err) == 0) {
                accepted++;
                wasm_module_free(mm);
            } else {
                CHECK(err.message[0] != 0);
                CHECK(err.offset >= -1 && err.offset <= (int64_t)l);
            }
        }
        free(c);
        free(b);
    }
    CHECK(accepted > 0);
    wasm_engine_free(e);
}


/* ------------------------------------------------------------------ */
/* Fused instructions: every i32 binop pair P -> C in every operand shape, against C */

static const uint8_t fu_ops[] = {0x6A, 0x6B, 0x6C, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78};
#define FU_NOPS (sizeof fu_ops / sizeof fu_ops[0])

static uint32_t fu_eval(uint8_t op, uint32_t a, uint32_t b)
{
    uint32_t k = b & 31;
    switch (op) {
    case 0x6A: return a + b;
    case 0x6B: return a - b;
    case 0x6C: return a * b;
    case 0x71: return a & b;
    case 0x72: return a | b;
    case 0x73: return a ^ b;
    case 0x74: return a << k;
    case 0x75: return (uint32_t)((int32_t)a >> k);
    case 0x76: return a >> k;
    case 0x77: return k ? (a << k) | (a >> (32 - k)) : a;
    case 0x78: return k ? (a >> k) | (a << (32 - k)) : a;
    }
    return 0;
}

typedef struct { uint8_t *b; size_t n, cap; } fbuf;
static void fb_put(fbuf *f, const void *p, size_t n)
{
    if (f->n + n > f->cap) {
        f->cap = (f->n + n) * 2 + 64;
        f->b = realloc(f->b, f->cap);
        REQUIRE(f->b != NULL);
    }
    memcpy(f->b + f->n, p, n);
    f->n += n;
}
static void fb_byte(fbuf *f, uint8_t x) { fb_put(f, &x, 1); }
static void fb_u32(fbuf *f, uint32_t v)
{
    do { uint8_t x = v & 0x7F; v >>= 7; if (v) x |= 0x80; fb_byte(f, x); } while (v);
}
static void fb_s32(fbuf *f, int32_t v)
{
    for (;;) {
        uint8_t x = v & 0x7F;
        v >>= 7;
        if ((v == 0 && !(x & 0x40)) || (v == -1 && (x & 0x40))) { fb_byte(f, x); return; }
        fb_byte(f, x | 0x80);
    }
}
static void fb_section(fbuf *m, uint8_t id, const fbuf *body)
{
    fb_byte(m, id);
    fb_u32(m, (uint32_t)body->n);
    fb_put(m, body->b, body->n);
}

/* Shapes, with x, y, z the params 0..2 and k, k2 constants:
 *   0: C(P(x, y), z)   1: C(P(x, k), z)   2: C(z, P(x, y))   3: C(z, P(x, k))
 *   4: C(P(x, y), k2)  5: C(P(x, k), k2)  6: C(k2, P(x, y))
 * Function index = ((p * FU_NOPS) + c) * FU_SHAPES + shape; after them come the functions
 * of `extra` in test_fused (merged copies and additions). */
#define FU_K 13
#define FU_K2 0x9E3779B9
#define FU_SHAPES 7
static void fu_body(fbuf *code, uint8_t p, uint8_t c, int shape)
{
    fbuf b = {0};
    fb_byte(&b, 0);                        /* no locals */
    if (shape == 2 || shape == 3) { fb_byte(&b, 0x20); fb_byte(&b, 2); }
    if (shape == 6) { fb_byte(&b, 0x41); fb_s32(&b, (int32_t)FU_K2); }
    fb_byte(&b, 0x20); fb_byte(&b, 0);
    if (shape == 1 || shape == 3 || shape == 5) { fb_byte(&b, 0x41); fb_s32(&b, FU_K); }
    else { fb_byte(&b, 0x20); fb_byte(&b, 1); }
    fb_byte(&b, p);
    if (shape < 2) { fb_byte(&b, 0x20); fb_byte(&b, 2); }
    if (shape == 4 || shape == 5) { fb_byte(&b, 0x41); fb_s32(&b, (int32_t)FU_K2); }
    fb_byte(&b, c);
    fb_byte(&b, 0x0B);
    fb_u32(code, (uint32_t)b.n);
    fb_put(code, b.b, b.n);
    free(b.b);
}

/* ADDBR: block; z = z + 1 (tee); br_if 0 on z <cmp> x (or on z <cmp> K); z += 1000;
 * end; return z. Function index = base + cmp * 2 + imm. */
#define FU_BK 0x7FFFFFF0
static void fu_addbr_body(fbuf *code, uint8_t cmp, int imm)
{
    fbuf b = {0};
    fb_byte(&b, 0);
    fb_byte(&b, 0x02); fb_byte(&b, 0x40);
    fb_byte(&b, 0x20); fb_byte(&b, 2); fb_byte(&b, 0x41); fb_byte(&b, 1); fb_byte(&b, 0x6A);
    fb_byte(&b, 0x22); fb_byte(&b, 2);
    if (imm) { fb_byte(&b, 0x41); fb_s32(&b, FU_BK); }
    else { fb_byte(&b, 0x20); fb_byte(&b, 0); }
    fb_byte(&b, cmp);
    fb_byte(&b, 0x0D); fb_byte(&b, 0);
    fb_byte(&b, 0x20); fb_byte(&b, 2); fb_byte(&b, 0x41); fb_s32(&b, 1000); fb_byte(&b, 0x6A);
    fb_byte(&b, 0x21); fb_byte(&b, 2);
    fb_byte(&b, 0x0B);
    fb_byte(&b, 0x20); fb_byte(&b, 2);
    fb_byte(&b, 0x0B);
    fb_u32(code, (uint32_t)b.n);
    fb_put(code, b.b, b.n);
    free(b.b);
}

/* f64 pairs: shape 0: C(P(x, y), z), shape 1: C(z, P(x, y)) */
static const uint8_t fuf_ops[] = {0xA0, 0xA1, 0xA2, 0xA3};
static double fuf_eval(uint8_t op, double a, double b)
{
    switch (op) {
    case 0xA0: return a + b;
    case 0xA1: return a - b;
    case 0xA2: return a * b;
    case 0xA3: return a / b;
    }
    return 0;
}
static void fuf_body(fbuf *code, uint8_t p, uint8_t c, int shape)
{
    fbuf b = {0};
    fb_byte(&b, 0);
    if (shape) { fb_byte(&b, 0x20); fb_byte(&b, 2); }
    fb_byte(&b, 0x20); fb_byte(&b, 0); fb_byte(&b, 0x20); fb_byte(&b, 1);
    fb_byte(&b, p);
    if (!shape) { fb_byte(&b, 0x20); fb_byte(&b, 2); }
    fb_byte(&b, c);
    fb_byte(&b, 0x0B);
    fb_u32(code, (uint32_t)b.n);
    fb_put(code, b.b, b.n);
    free(b.b);
}

static bool fu_cmp(uint8_t cmp, uint32_t a, uint32_t b)
{
    switch (cmp) {
    case 0x46: return a == b;
    case 0x47: return a != b;
    case 0x48: return (int32_t)a < (int32_t)b;
    case 0x49: return a < b;
    case 0x4A: return (int32_t)a > (int32_t)b;
    case 0x4B: return a > b;
    case 0x4C: return (int32_t)a <= (int32_t)b;
    case 0x4D: return a <= b;
    case 0x4E: return (int32_t)a >= (int32_t)b;
    case 0x4F: return a >= b;
    }
    return false;
}

static uint32_t fu_rotl(uint32_t x, unsigned k) { k &= 31; return k ? (x << k) | (x >> (32 - k)) : x; }

/* C models of fused.wat's brh_* loops (kind 0: COPY, 1: COPY2, 2: ADD_I, 3: ADD_I2) */
static uint32_t brh_model(int kind, uint32_t n)
{
    uint32_t a = 7, b = 0, s = 0, c = 0;
    for (;;) {
        b = kind < 2 ? a : a + 0x7FFFFFFDu;
        if (kind == 1) c = s;
        if (kind == 3) c = s - 5;
        if (!n) break;
        a = kind < 2 ? b * 31 + n : (b * 31) ^ n;
        n--;
        if (kind == 0) s ^= b;
        else if (kind == 1) s = c ^ b;
        else if (kind == 2) s += b;
        else s = c + b;
    }
    return kind == 0 ? s + b : kind == 1 ? s + b + c * 3 : kind == 2 ? s ^ b : (s ^ b) + c;
}

/* fused.wat: loop heads joined to their back edge (BRH_) and loads feeding br_table
 * (BRT_), on an engine without fuel (where they are used) and with it (not used). */
static void test_fused_ctrl(int fuel)
{
    wasm_config cfg = {0};
    cfg.fuel_enabled = fuel;
    wasm_engine *e;
    REQUIRE(wasm_engine_new(&cfg, &e) == 0);
    wasm_module *m = load(e, "fused.wasm");
    wasm_instance *in;
    wasm_error err;
    wasm_trap trap;
    REQUIRE(wasm_instance_new(m, NULL, &in, &err, &trap) == 0);
    if (fuel) wasm_instance_set_fuel(in, 1000000000);
    static const char *const brh[4] = {"brh_copy", "brh_copy2", "brh_add", "brh_add2"};
    static const uint32_t ns[] = {0, 1, 2, 5, 1000};
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            int rc;
            uint32_t got = (uint32_t)call_i32(in, brh[k], 1, (int32_t)ns[i], 0, NULL, &rc);
            CHECK(rc == 0);
            if (got != brh_model(k, ns[i]))
                fprintf(stderr, "%s(%u) fuel %d: got %08x want %08x\n", brh[k], ns[i], fuel, got,
                        brh_model(k, ns[i]));
            CHECK(got == brh_model(k, ns[i]));
        }
    wasm_extern *mem = wasm_instance_memory(in);
    REQUIRE(mem != NULL);
    static const char *const brt[4] = {"brt_ld", "brt_lda", "brt_ldai", "brt_ldas"};
    static const uint32_t idx[] = {0, 1, 2, 3, 4, 7, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
    const int32_t p = 200, q = 3;
    const uint32_t ea[4] = {p + 4, p + q + 4, p + 8 + 4, p + q * 4};
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
            uint8_t v[4] = {(uint8_t)idx[i], (uint8_t)(idx[i] >> 8), (uint8_t)(idx[i] >> 16),
                            (uint8_t)(idx[i] >> 24)};
            REQUIRE(wasm_memory_write(mem, ea[k], v, 4) == 0);
            int rc;
            int32_t got = call_i32(in, brt[k], 2, p, q, NULL, &rc);
            int32_t want = 10 * (int32_t)(idx[i] < 3 ? idx[i] + 1 : 4) + (k == 3 ? q : 0);
            CHECK(rc == 0);
            if (got != want)
                fprintf(stderr, "%s index %08x fuel %d: got %d want %d\n", brt[k], idx[i], fuel, got, want);
            CHECK(got == want);
        }
        /* the load out of bounds traps */
        int rc;
        call_i32(in, brt[k], 2, 65533, q, &trap, &rc);
        CHECK(rc == WASM_ETRAP && trap.code == WASM_TRAP_MEMORY_OOB);
    }
    /* xors of rotations */
    static const uint32_t xv[][2] = {{0x12345678u, 0x9ABCDEF0u}, {0, 0xFFFFFFFFu}, {0x80000001u, 1},
                                     {0xDEADBEEFu, 0x0F0F0F0Fu}};
    static const char *const xr[6] = {"xr2", "xr3", "xr2s", "xr2m", "xr_tee", "xr_label"};
    for (size_t v = 0; v < sizeof xv / sizeof xv[0]; v++) {
        uint32_t x = xv[v][0], y = xv[v][1];
        uint8_t mx[4] = {(uint8_t)y, (uint8_t)(y >> 8), (uint8_t)(y >> 16), (uint8_t)(y >> 24)};
        REQUIRE(wasm_memory_write(mem, 512, mx, 4) == 0);   /* xr2m loads mem[512] = y */
        uint32_t want[6] = {
            fu_rotl(x, 7) ^ fu_rotl(y, 13),
            fu_rotl(x, 7) ^ fu_rotl(y, 13) ^ fu_rotl(x, 22),
            fu_rotl(x, 25) ^ fu_rotl(y, 14) ^ (x >> 3),
            fu_rotl(y, 5) ^ fu_rotl(x, 9),
            (fu_rotl(x, 7) ^ fu_rotl(y, 13)) + fu_rotl(x, 7),
            (x ? fu_rotl(x, 7) : 5) ^ fu_rotl(y, 13)};
        for (int k = 0; k < 6; k++) {
            int rc;
            uint32_t got = (uint32_t)call_i32(in, xr[k], 2, k == 3 ? 512 : (int32_t)x,
                                              k == 3 ? (int32_t)x : (int32_t)y, NULL, &rc);
            CHECK(rc == 0);
            if (got != want[k])
                fprintf(stderr, "%s(%08x, %08x) fuel %d: got %08x want %08x\n", xr[k], x, y, fuel, got,
                        want[k]);
            CHECK(got == want[k]);
        }
    }
    wasm_instance_free(in);
    wasm_module_free(m);
    wasm_engine_free(e);
}

static void test_fused(void)
{
    /* after the pairs: swap through a local (copies), then i32.add of immediates in
     * a row: through local.set, through local.tee, both on the stack (then split
     * again when the second feeds a fused pair) */
    static const uint8_t extra[][32] = {
        {26, 1, 1, 0x7F, 0x20, 0, 0x21, 3, 0x20, 1, 0x21, 0, 0x20, 3, 0x21, 1,
         0x20, 0, 0x41, 0x80, 0x80, 0x04, 0x6C, 0x20, 1, 0x6A, 0x0B},
        {24, 0, 0x20, 0, 0x41, 5, 0x6A, 0x21, 1, 0x20, 1, 0x41, 0x77, 0x6A, 0x21, 2,
         0x20, 1, 0x41, 8, 0x74, 0x20, 2, 0x73, 0x0B},
        {13, 0, 0x20, 0, 0x41, 7, 0x6A, 0x22, 1, 0x41, 0xE4, 0x00, 0x6A, 0x0B},
        {13, 0, 0x20, 0, 0x41, 3, 0x6A, 0x20, 1, 0x41, 0x7C, 0x6A, 0x6B, 0x0B},
        {13, 0, 0x20, 0, 0x41, 3, 0x6A, 0x20, 1, 0x41, 0x7C, 0x6A, 0x73, 0x0B}};
    const uint32_t nextra = sizeof extra / sizeof extra[0];
    /* (pair functions first: FU_NOPS * FU_NOPS * FU_SHAPES) */
    const uint32_t nbr = 20, brbase = FU_NOPS * FU_NOPS * FU_SHAPES + nextra;
    const uint32_t nff = 4 * 4 * 2, ffbase = brbase + nbr;
    /* load -> store of the same width (MV_<w>): mem[y + 5] = mem[x + 3], then return
     * the stored value read back */
    static const uint8_t mv[4][32] = {
        {17, 0, 0x20, 1, 0x20, 0, 0x2D, 0, 3, 0x3A, 0, 5, 0x20, 1, 0x2D, 0, 5, 0x0B},
        {17, 0, 0x20, 1, 0x20, 0, 0x2E, 1, 3, 0x3B, 1, 5, 0x20, 1, 0x2F, 1, 5, 0x0B},
        {17, 0, 0x20, 1, 0x20, 0, 0x28, 2, 3, 0x36, 2, 5, 0x20, 1, 0x28, 2, 5, 0x0B},
        {18, 0, 0x20, 1, 0x20, 0, 0x29, 3, 3, 0x37, 3, 5, 0x20, 1, 0x29, 3, 5, 0xA7, 0x0B}};
    const uint32_t nmv = 4, mvbase = ffbase + nff;
    uint32_t nf = mvbase + nmv;
    fbuf mod = {0}, sec = {0}, code = {0};
    fb_put(&mod, "\0asm\1\0\0\0", 8);
    /* type 0: (i32 i32 i32) -> i32, type 1: (f64 f64 f64) -> f64 */
    fb_put(&sec, "\2\x60\3\x7F\x7F\x7F\1\x7F\x60\3\x7C\x7C\x7C\1\x7C", 15);
    fb_section(&mod, 1, &sec);
    sec.n = 0;
    fb_u32(&sec, nf);
    for (uint32_t i = 0; i < nf; i++) fb_byte(&sec, i >= ffbase && i < mvbase);
    fb_section(&mod, 3, &sec);
    sec.n = 0;
    fb_put(&sec, "\1\0\1", 3);          /* one memory of one page */
    fb_section(&mod, 5, &sec);
    sec.n = 0;
    fb_u32(&sec, nf);
    for (uint32_t i = 0; i < nf; i++) {
        char name[16];
        int len = snprintf(name, sizeof name, "f%u", i);
        fb_u32(&sec, (uint32_t)len);
        fb_put(&sec, name, (size_t)len);
        fb_byte(&sec, 0);
        fb_u32(&sec, i);
    }
    fb_section(&mod, 7, &sec);
    fb_u32(&code, nf);
    for (uint32_t p = 0; p < FU_NOPS; p++)
        for (uint32_t c = 0; c < FU_NOPS; c++)
            for (int shape = 0; shape < FU_SHAPES; shape++) fu_body(&code, fu_ops[p], fu_ops[c], shape);
    for (uint32_t i = 0; i < nextra; i++) {
        fb_u32(&code, extra[i][0]);
        fb_put(&code, extra[i] + 1, extra[i][0]);
    }
    for (uint8_t cmp = 0x46; cmp <= 0x4F; cmp++)
        for (int imm = 0; imm < 2; imm++) fu_addbr_body(&code, cmp, imm);
    for (uint32_t p = 0; p < 4; p++)
        for (uint32_t c = 0; c < 4; c++)
            for (int shape = 0; shape < 2; shape++) fuf_body(&code, fuf_ops[p], fuf_ops[c], shape);
    for (uint32_t i = 0; i < nmv; i++) {
        fb_u32(&code, mv[i][0]);
        fb_put(&code, mv[i] + 1, mv[i][0]);
    }
    fb_section(&mod, 10, &code);

    wasm_engine *e;
    REQUIRE(wasm_engine_new(NULL, &e) == 0);
    wasm_module *m = NULL;
    wasm_error err;
    int rc = wasm_module_new(e, mod.b, mod.n, NULL, &m, &err);
    if (rc) fprintf(stderr, "fused module: %s at %lld\n", err.message, (long long)err.offset);
    REQUIRE(rc == 0);
    wasm_instance *in;
    wasm_trap trap;
    REQUIRE(wasm_instance_new(m, NULL, &in, &err, &trap) == 0);
    static const uint32_t vals[][3] = {
        {0x12345678u, 0x9ABCDEF0u, 0x0F0F0F0Fu}, {0xFFFFFFFFu, 5, 0x80000000u},
        {7, 33, 0xDEADBEEFu}, {0x80000001u, 0xFFFFFFE1u, 3}};
    int bad = 0;
    for (uint32_t p = 0; p < FU_NOPS; p++)
        for (uint32_t c = 0; c < FU_NOPS; c++)
            for (int shape = 0; shape < FU_SHAPES; shape++)
                for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
                    uint32_t x = vals[v][0], y = vals[v][1], z = vals[v][2];
                    bool k1 = shape == 1 || shape == 3 || shape == 5;
                    uint32_t inner = fu_eval(fu_ops[p], x, k1 ? FU_K : y);
                    uint32_t want = shape < 2 ? fu_eval(fu_ops[c], inner, z)
                                    : shape < 4 ? fu_eval(fu_ops[c], z, inner)
                                    : shape < 6 ? fu_eval(fu_ops[c], inner, FU_K2)
                                    : fu_eval(fu_ops[c], FU_K2, inner);
                    char name[16];
                    snprintf(name, sizeof name, "f%u",
                             (unsigned)(((p * FU_NOPS) + c) * FU_SHAPES + (uint32_t)shape));
                    wasm_val args[3] = {I32((int32_t)x), I32((int32_t)y), I32((int32_t)z)}, res[1];
                    rc = wasm_instance_call_export(in, name, args, 3, res, 1, &trap);
                    if (rc != 0 || (uint32_t)res[0].of.i32 != want) {
                        if (bad++ < 10)
                            fprintf(stderr, "fused %02x -> %02x shape %d values %zu: got %08x want %08x\n",
                                    fu_ops[p], fu_ops[c], shape, v, (uint32_t)res[0].of.i32, want);
                    }
                }
    CHECK(bad == 0);
    for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
        uint32_t x = vals[v][0], y = vals[v][1], y1 = x + 5, z1 = y1 - 9;
        uint32_t want[5] = {y * 65536 + x, (y1 << 8) ^ z1, x + 107, (x + 3) - (y - 4),
                            (x + 3) ^ (y - 4)};
        for (uint32_t i = 0; i < nextra; i++) {
            char name[16];
            snprintf(name, sizeof name, "f%u", brbase - nextra + i);
            wasm_val args[3] = {I32((int32_t)x), I32((int32_t)y), I32(0)}, res[1];
            CHECK(wasm_instance_call_export(in, name, args, 3, res, 1, &trap) == 0);
            if ((uint32_t)res[0].of.i32 != want[i])
                fprintf(stderr, "extra %u values %zu: got %08x want %08x\n", i, v,
                        (uint32_t)res[0].of.i32, want[i]);
            CHECK((uint32_t)res[0].of.i32 == want[i]);
        }
    }
    static const uint32_t brvals[][2] = {{5, 4}, {5, 5}, {5, 6}, {0xFFFFFFFFu, 0x7FFFFFFFu},
                                         {0x80000000u, 0x7FFFFFFEu}, {7, 0xFFFFFFFFu},
                                         {0x7FFFFFF0u, 0x7FFFFFF0u}, {0, 0x7FFFFFEFu}};
    for (uint32_t i = 0; i < nbr; i++)
        for (size_t v = 0; v < sizeof brvals / sizeof brvals[0]; v++) {
            uint8_t cmp = (uint8_t)(0x46 + i / 2);
            uint32_t x = brvals[v][0], z1 = brvals[v][1] + 1;
            uint32_t want = fu_cmp(cmp, z1, (i & 1) ? FU_BK : x) ? z1 : z1 + 1000;
            char name[16];
            snprintf(name, sizeof name, "f%u", brbase + i);
            wasm_val args[3] = {I32((int32_t)x), I32(0), I32((int32_t)brvals[v][1])}, res[1];
            CHECK(wasm_instance_call_export(in, name, args, 3, res, 1, &trap) == 0);
            if ((uint32_t)res[0].of.i32 != want)
                fprintf(stderr, "addbr %02x imm %u values %zu: got %08x want %08x\n", cmp, i & 1, v,
                        (uint32_t)res[0].of.i32, want);
            CHECK((uint32_t)res[0].of.i32 == want);
        }
    static const double fvals[][3] = {{1.5, -2.25, 3.0}, {1e308, 10.0, -1e308}, {0.1, 0.2, 0.3},
                                      {1.0, 0.0, 5.0}, {-0.0, 0.0, -0.0}, {3.0, 1e-300, 1e-300}};
    for (uint32_t i = 0; i < nff; i++)
        for (size_t v = 0; v < sizeof fvals / sizeof fvals[0]; v++) {
            uint8_t p = fuf_ops[i / 8], c = fuf_ops[(i / 2) % 4];
            int shape = (int)(i & 1);
            double x = fvals[v][0], y = fvals[v][1], z = fvals[v][2];
            volatile double inner = fuf_eval(p, x, y);
            double w = shape ? fuf_eval(c, z, inner) : fuf_eval(c, inner, z);
            uint64_t want;
            memcpy(&want, &w, 8);
            if (w != w) want = 0x7FF8000000000000ull;
            char name[16];
            snprintf(name, sizeof name, "f%u", ffbase + i);
            wasm_val args[3] = {F64(x), F64(y), F64(z)}, res[1];
            CHECK(wasm_instance_call_export(in, name, args, 3, res, 1, &trap) == 0);
            if (res[0].of.f64_bits != want)
                fprintf(stderr, "f64 %02x -> %02x shape %d values %zu: got %016llx want %016llx\n", p, c,
                        shape, v, (unsigned long long)res[0].of.f64_bits, (unsigned long long)want);
            CHECK(res[0].of.f64_bits == want);
        }
    wasm_extern *mem = wasm_instance_memory(in);
    REQUIRE(mem != NULL);
    static const uint8_t pat[8] = {0x81, 0x92, 0xA3, 0xB4, 0xC5, 0xD6, 0xE7, 0xF8};
    REQUIRE(wasm_memory_write(mem, 103, pat, 8) == 0);
    for (uint32_t i = 0; i < nmv; i++) {
        size_t w = (size_t)1 << i;
        uint8_t zero[8] = {0}, got[8];
        REQUIRE(wasm_memory_write(mem, 1005, zero, 8) == 0);
        char name[16];
        snprintf(name, sizeof name, "f%u", mvbase + i);
        wasm_val args[3] = {I32(100), I32(1000), I32(0)}, res[1];
        CHECK(wasm_instance_call_export(in, name, args, 3, res, 1, &trap) == 0);
        uint32_t want = 0;
        memcpy(&want, pat, w < 4 ? w : 4);
        CHECK((uint32_t)res[0].of.i32 == want);
        REQUIRE(wasm_memory_read(mem, 1005, got, 8) == 0);
        CHECK(memcmp(got, pat, w) == 0 && (w == 8 || got[w] == 0));
        /* out of bounds source (nothing stored) and destination */
        args[0] = I32(65536 - 3);
        CHECK(wasm_instance_call_export(in, name, args, 3, res, 1, &trap) == WASM_ETRAP);
        CHECK(trap.code == WASM_TRAP_MEMORY_OOB);
        args[0] = I32(100);
        args[1] = I32(65536 - 5 - (int32_t)w + 1);
        CHECK(wasm_instance_call_export(in, name, args, 3, res, 1, &trap) == WASM_ETRAP);
        CHECK(trap.code == WASM_TRAP_MEMORY_OOB);
    }
    wasm_instance_free(in);
    wasm_module_free(m);
    wasm_engine_free(e);
    free(mod.b);
    free(sec.b);
    free(code.b);
    test_fused_ctrl(0);
    test_fused_ctrl(1);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: engine_test basic|host|limits|snapshot|malformed|fused DIR\n");
        return 2;
    }
    dir = argv[2];
    if (!strcmp(argv[1], "basic")) test_basic();
    else if (!strcmp(argv[1], "host")) test_host();
    else if (!strcmp(argv[1], "limits")) test_limits();
    else if (!strcmp(argv[1], "snapshot")) test_snapshot();
    else if (!strcmp(argv[1], "malformed")) test_malformed();
    else if (!strcmp(argv[1], "fused")) test_fused();
    else { fprintf(stderr, "unknown suite %s\n", argv[1]); return 2; }
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
