/* snapshot_test.c: snapshot/restore and determinism of limits, through the engine API.
 *
 * usage: snapshot_test SNAP.wasm   (modules/snap.wat converted by wat2wasm)
 *
 *   continue   run 10 steps uninterrupted; run 5, snapshot, restore into a fresh
 *              instance (of a separately decoded module), run 5 more: same results,
 *              same memory, same globals, same final snapshot bytes
 *   pages      the same with a memory-less snapshot plus the instance's pages
 *              copied out and written back (the embedder-stores-pages path)
 *   dirty      after mark_clean, exactly the written 4 KiB pages are reported dirty
 *   fuel       out of fuel happens after the same fuel and with the same memory
 *              state on every run; the exact budget succeeds, one less traps
 *   oom        memory.grow under a page cap stops at the same size on every run
 *   restore_bad  garbage or truncated snapshot bytes are rejected, not crashed on
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static uint8_t *wasm_bytes;
static size_t wasm_len;

static int load_file(const char *path) {
  FILE *f = fopen(path, "rb");
  long n;
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  wasm_bytes = malloc((size_t)n);
  if (!wasm_bytes || fread(wasm_bytes, 1, (size_t)n, f) != (size_t)n) { fclose(f); return -1; }
  fclose(f);
  wasm_len = (size_t)n;
  return 0;
}

typedef struct {
  wasm_engine *eng;
  wasm_module *mod;
  wasm_instance *inst;
} env;

static int env_open(env *e, const wasm_config *cfg) {
  wasm_error err;
  wasm_imports *imps = NULL;
  wasm_trap trap;
  memset(e, 0, sizeof *e);
  if (wasm_engine_new(cfg, &e->eng) != 0) { printf("engine_new failed\n"); return -1; }
  if (wasm_module_new(e->eng, wasm_bytes, wasm_len, NULL, &e->mod, &err) != 0) {
    printf("module_new failed: %s\n", err.message);
    return -1;
  }
  if (wasm_imports_new(&imps) != 0) return -1;
  int rc = wasm_instance_new(e->mod, imps, &e->inst, &err, &trap);
  wasm_imports_free(imps);
  if (rc != 0) { printf("instance_new failed: %d %s\n", rc, err.message); return -1; }
  return 0;
}

static void env_close(env *e) {
  if (e->inst) wasm_instance_free(e->inst);
  if (e->mod) wasm_module_free(e->mod);
  if (e->eng) wasm_engine_free(e->eng);
  memset(e, 0, sizeof *e);
}

static int64_t step(wasm_instance *inst, int32_t k) {
  wasm_val a, r;
  wasm_trap trap;
  memset(&a, 0, sizeof a);
  a.type = WASM_I32;
  a.of.i32 = k;
  int rc = wasm_instance_call_export(inst, "step", &a, 1, &r, 1, &trap);
  CHECK(rc == 0, "step(%d) failed: %d %s", k, rc, rc ? trap.message : "");
  return rc == 0 ? r.of.i64 : 0;
}

static int32_t call_i32(wasm_instance *inst, const char *name, int nargs, int32_t a0,
                        int32_t a1, int *rc_out, wasm_trap *trap) {
  wasm_val a[2], r;
  memset(a, 0, sizeof a);
  a[0].type = a[1].type = WASM_I32;
  a[0].of.i32 = a0;
  a[1].of.i32 = a1;
  int rc = wasm_instance_call_export(inst, name, a, (uint32_t)nargs, &r, 1, trap);
  if (rc_out) *rc_out = rc;
  return rc == 0 ? r.of.i32 : 0;
}

static int32_t steps_global(wasm_instance *inst) {
  wasm_val v;
  wasm_extern *g = wasm_instance_export(inst, "steps");
  if (!g || wasm_global_get(g, &v) != 0) return -1;
  return v.of.i32;
}

static int same_memory(wasm_instance *a, wasm_instance *b) {
  wasm_extern *ma = wasm_instance_memory(a), *mb = wasm_instance_memory(b);
  if (!ma || !mb) return 0;
  uint64_t sa = wasm_memory_size(ma), sb = wasm_memory_size(mb);
  return sa == sb && memcmp(wasm_memory_data(ma), wasm_memory_data(mb), (size_t)sa) == 0;
}

static const int32_t K[10] = {3, 50, 7, 1000, 12, 400, 9, 77, 5000, 31};

/* Runs the 10 reference steps on a fresh instance; keeps the instance open. */
static int reference(env *ref, int64_t out[10]) {
  if (env_open(ref, NULL) != 0) return -1;
  for (int i = 0; i < 10; i++) out[i] = step(ref->inst, K[i]);
  return 0;
}

static void test_continue(int with_memory) {
  env ref, a, b;
  int64_t want[10];
  uint8_t *snap = NULL, *final_ref = NULL, *final_b = NULL;
  size_t snap_len = 0, fr_len = 0, fb_len = 0;
  uint8_t *pages = NULL;
  uint64_t npages = 0;
  wasm_error err;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  if (reference(&ref, want) != 0) { failures++; return; }
  if (env_open(&a, NULL) != 0) { failures++; goto done; }
  for (int i = 0; i < 5; i++) CHECK(step(a.inst, K[i]) == want[i], "step %d before snapshot", i);
  CHECK(wasm_instance_snapshot(a.inst, with_memory, &snap, &snap_len) == 0, "snapshot");
  if (!with_memory) {
    npages = wasm_instance_page_count(a.inst);
    pages = malloc((size_t)npages * WASM_DIRTY_PAGE_SIZE + 1);
    for (uint64_t p = 0; p < npages; p++)
      CHECK(wasm_instance_read_page(a.inst, p, pages + p * WASM_DIRTY_PAGE_SIZE) == 0,
            "read_page %" PRIu64, p);
  }
  /* wreck the source instance to prove nothing is shared with it */
  step(a.inst, 999);
  env_close(&a);
  if (env_open(&b, NULL) != 0) { failures++; goto done; }
  step(b.inst, 1);   /* the fresh instance is not pristine either */
  CHECK(wasm_instance_restore(b.inst, snap, snap_len, &err) == 0, "restore: %s", err.message);
  if (!with_memory) {
    CHECK(wasm_instance_page_count(b.inst) == npages, "page count after restore %" PRIu64
          " vs %" PRIu64, wasm_instance_page_count(b.inst), npages);
    for (uint64_t p = 0; p < npages; p++)
      CHECK(wasm_instance_write_page(b.inst, p, pages + p * WASM_DIRTY_PAGE_SIZE) == 0,
            "write_page %" PRIu64, p);
  }
  CHECK(steps_global(b.inst) == 5, "steps global after restore = %d", steps_global(b.inst));
  for (int i = 5; i < 10; i++) {
    int64_t got = step(b.inst, K[i]);
    CHECK(got == want[i], "step %d after restore: %" PRId64 " vs %" PRId64, i, got, want[i]);
  }
  CHECK(same_memory(ref.inst, b.inst), "memory differs from the uninterrupted run");
  CHECK(steps_global(b.inst) == steps_global(ref.inst), "steps global differs");
  wasm_trap trap;
  int rc1, rc2;
  CHECK(call_i32(b.inst, "tcall", 0, 0, 0, &rc1, &trap) ==
        call_i32(ref.inst, "tcall", 0, 0, 0, &rc2, &trap), "table contents differ");
  CHECK(wasm_instance_snapshot(ref.inst, 1, &final_ref, &fr_len) == 0, "final snapshot ref");
  CHECK(wasm_instance_snapshot(b.inst, 1, &final_b, &fb_len) == 0, "final snapshot b");
  CHECK(fr_len == fb_len && final_ref && final_b && memcmp(final_ref, final_b, fr_len) == 0,
        "final snapshots differ (%zu vs %zu bytes)", fr_len, fb_len);
done:
  free(snap);
  free(final_ref);
  free(final_b);
  free(pages);
  env_close(&b);
  env_close(&ref);
}

static void test_dirty(void) {
  env e;
  uint64_t pg[16];
  size_t n;
  int rc;
  wasm_trap trap;
  if (env_open(&e, NULL) != 0) { failures++; return; }
  wasm_instance_mark_clean(e.inst);
  n = wasm_instance_dirty_pages(e.inst, 0, pg, 16);
  CHECK(n == 0, "%zu dirty pages right after mark_clean", n);
  call_i32(e.inst, "poke", 2, 5000, 7, &rc, &trap);
  CHECK(rc == 0, "poke");
  n = wasm_instance_dirty_pages(e.inst, 0, pg, 16);
  CHECK(n == 1 && pg[0] == 1, "after poke(5000): %zu pages, first %" PRIu64, n, n ? pg[0] : 0);
  call_i32(e.inst, "poke", 2, 0x3000 + 17, 9, &rc, &trap);
  call_i32(e.inst, "poke", 2, 5001, 9, &rc, &trap);
  n = wasm_instance_dirty_pages(e.inst, 0, pg, 16);
  CHECK(n == 2 && pg[0] == 1 && pg[1] == 3, "after 3 pokes: %zu pages", n);
  n = wasm_instance_dirty_pages(e.inst, 2, pg, 16);
  CHECK(n == 1 && pg[0] == 3, "dirty pages from index 2: %zu", n);
  /* host writes through the API count too */
  wasm_extern *mem = wasm_instance_memory(e.inst);
  uint8_t x = 1;
  CHECK(wasm_memory_write(mem, 0x9000, &x, 1) == 0, "memory_write");
  n = wasm_instance_dirty_pages(e.inst, 0, pg, 16);
  CHECK(n == 3 && pg[2] == 9, "host write not tracked: %zu pages", n);
  wasm_instance_mark_clean(e.inst);
  CHECK(wasm_instance_dirty_pages(e.inst, 0, pg, 16) == 0, "mark_clean did not clear");
  env_close(&e);
}

static void fuel_run(int64_t fuel, int32_t n, int *rc, wasm_trap *trap, uint64_t *used,
                     uint32_t *word) {
  env e;
  wasm_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.fuel_enabled = 1;
  *rc = -100;
  if (env_open(&e, &cfg) != 0) { failures++; return; }
  wasm_instance_set_fuel(e.inst, fuel);
  wasm_instance_reset_stats(e.inst);
  call_i32(e.inst, "burn", 1, n, 0, rc, trap);
  wasm_stats st;
  wasm_instance_stats(e.inst, &st);
  *used = st.fuel_used;
  CHECK(wasm_memory_read(wasm_instance_memory(e.inst), 4, word, 4) == 0, "read word");
  env_close(&e);
}

static void test_fuel(void) {
  int rc1, rc2, rc3, rc4;
  wasm_trap t1, t2, t3, t4;
  uint64_t u1, u2, u3, u4;
  uint32_t w1, w2, w3, w4;
  fuel_run(20000, 1000000, &rc1, &t1, &u1, &w1);
  fuel_run(20000, 1000000, &rc2, &t2, &u2, &w2);
  CHECK(rc1 == WASM_ETRAP && t1.code == WASM_TRAP_OUT_OF_FUEL, "expected out of fuel, rc %d", rc1);
  CHECK(rc2 == rc1 && t2.code == t1.code, "second run ended differently");
  CHECK(u1 == u2, "fuel used differs: %" PRIu64 " vs %" PRIu64, u1, u2);
  CHECK(w1 == w2, "memory at trap differs: %u vs %u", w1, w2);
  CHECK(w1 != 0, "no progress before running out of fuel");
  /* exact budget for a small run */
  fuel_run(INT64_MAX / 2, 1000, &rc3, &t3, &u3, &w3);
  CHECK(rc3 == 0, "burn(1000) with plenty of fuel: %d", rc3);
  fuel_run((int64_t)u3, 1000, &rc4, &t4, &u4, &w4);
  CHECK(rc4 == 0 && w4 == w3, "burn(1000) with exactly %" PRIu64 " fuel: rc %d", u3, rc4);
  fuel_run((int64_t)u3 - 1, 1000, &rc4, &t4, &u4, &w4);
  CHECK(rc4 == WASM_ETRAP && t4.code == WASM_TRAP_OUT_OF_FUEL,
        "burn(1000) with one fuel less should run out: rc %d", rc4);
}

static void test_oom(void) {
  int32_t pages[2];
  for (int r = 0; r < 2; r++) {
    env e;
    wasm_config cfg;
    wasm_trap trap;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_pages_per_instance = 20;
    if (env_open(&e, &cfg) != 0) { failures++; return; }
    pages[r] = call_i32(e.inst, "hog", 0, 0, 0, &rc, &trap);
    CHECK(rc == 0, "hog trapped: %s", trap.message);
    wasm_stats st;
    wasm_instance_stats(e.inst, &st);
    CHECK(st.peak_pages == 20, "peak pages %" PRIu64, st.peak_pages);
    env_close(&e);
  }
  CHECK(pages[0] == 20 && pages[1] == 20, "hog reached %d and %d pages (cap 20)", pages[0],
        pages[1]);
}

static void test_restore_bad(void) {
  env e;
  uint8_t *snap = NULL;
  size_t len = 0;
  wasm_error err;
  if (env_open(&e, NULL) != 0) { failures++; return; }
  step(e.inst, 10);
  CHECK(wasm_instance_snapshot(e.inst, 1, &snap, &len) == 0 && len > 8, "snapshot");
  int32_t before = steps_global(e.inst);
  for (size_t cut = 0; snap && cut < len; cut += len / 7 + 1)
    CHECK(wasm_instance_restore(e.inst, snap, cut, &err) != 0, "truncated snapshot (%zu of %zu) accepted", cut, len);
  uint8_t junk[64];
  memset(junk, 0xA5, sizeof junk);
  CHECK(wasm_instance_restore(e.inst, junk, sizeof junk, &err) != 0, "junk snapshot accepted");
  /* a failed restore leaves a usable instance */
  CHECK(wasm_instance_restore(e.inst, snap, len, &err) == 0, "good snapshot rejected: %s", err.message);
  CHECK(steps_global(e.inst) == before, "steps after restore");
  free(snap);
  env_close(&e);
}

int main(int argc, char **argv) {
  if (argc != 2 || load_file(argv[1]) != 0) {
    fprintf(stderr, "usage: snapshot_test SNAP.wasm\n");
    return 2;
  }
  struct { const char *name; void (*fn)(void); } tests[] = {
    {"dirty", test_dirty}, {"fuel", test_fuel}, {"oom", test_oom},
    {"restore_bad", test_restore_bad},
  };
  int before = failures;
  test_continue(1);
  printf("%s continue\n", failures == before ? "ok  " : "FAIL");
  before = failures;
  test_continue(0);
  printf("%s pages\n", failures == before ? "ok  " : "FAIL");
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    before = failures;
    tests[i].fn();
    printf("%s %s\n", failures == before ? "ok  " : "FAIL", tests[i].name);
  }
  free(wasm_bytes);
  return failures ? 1 : 0;
}
