/* wasi_test.c: unit tests of the WASI host (src/wasi/wasi.h) through a WAT probe.
 *
 * usage: wasi_test PROBE.wasm   (modules/wasi_probe.wat converted by wat2wasm)
 *
 * Each exported probe function wraps one WASI import; the test calls it, then checks
 * errno values, guest memory and the host-side state. Expected values are computed
 * here independently (the random stream with OpenSSL's SHA256 over seed || counter).
 */
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasi/wasi.h"
#include "wasm/wasm.h"

static uint8_t *probe;
static size_t probe_len;
static wasm_engine *eng;
static wasm_module *mod;

#include "wasi_ctx.h"

static const char *const ARGV[] = {"prog", "alpha", "", "gamma delta"};
static const char *const ENVP[] = {"A=1", "LONGER_NAME=some value"};
static const uint8_t STDIN[] = "line one\nline two\n";

static void default_cfg(aox_wasi_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->argc = 4;
  cfg->argv = ARGV;
  cfg->envc = 2;
  cfg->envp = ENVP;
  cfg->stdin_data = STDIN;
  cfg->stdin_len = sizeof STDIN - 1;
  cfg->clock_ns = 1000;
  cfg->clock_step_ns = 10;
  cfg->seed = (const uint8_t *)"seed";
  cfg->seed_len = 4;
}

/* call export name(args...) -> i32 result; *rc gets the API return code */
static int32_t call(ctx *c, const char *name, int n, int32_t a0, int32_t a1, int32_t a2,
                    int *rc) {
  wasm_val a[3], r[1];
  wasm_trap trap;
  memset(a, 0, sizeof a);
  memset(r, 0, sizeof r);
  a[0].type = a[1].type = a[2].type = WASM_I32;
  a[0].of.i32 = a0;
  a[1].of.i32 = a1;
  a[2].of.i32 = a2;
  wasm_extern *fn = wasm_instance_export(c->inst, name);
  wasm_externtype t;
  wasm_extern_type(fn, &t);
  *rc = wasm_instance_call(c->inst, fn, a, (uint32_t)n, r, t.func.nresults, &trap);
  return t.func.nresults ? r[0].of.i32 : 0;
}

static uint32_t rd32(ctx *c, uint64_t off) {
  uint8_t b[4] = {0};
  wasm_memory_read(c->mem, off, b, 4);
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t rd64(ctx *c, uint64_t off) {
  return (uint64_t)rd32(c, off) | (uint64_t)rd32(c, off + 4) << 32;
}

static void test_args_env(void) {
  ctx c;
  aox_wasi_config cfg;
  int rc;
  default_cfg(&cfg);
  if (open_ctx(&c, &cfg) != 0) { failures++; return; }
  CHECK(call(&c, "args", 2, 1000, 2000, 0, &rc) == 0 && rc == 0, "args");
  CHECK(rd32(&c, 16) == 4, "argc %u", rd32(&c, 16));
  size_t want_buf = 0;
  for (int i = 0; i < 4; i++) want_buf += strlen(ARGV[i]) + 1;
  CHECK(rd32(&c, 20) == want_buf, "argv buf size %u vs %zu", rd32(&c, 20), want_buf);
  for (int i = 0; i < 4; i++) {
    char s[64] = {0};
    uint32_t p = rd32(&c, 1000 + 4 * (uint64_t)i);
    wasm_memory_read(c.mem, p, s, strlen(ARGV[i]) + 1);
    CHECK(strcmp(s, ARGV[i]) == 0 && s[strlen(ARGV[i])] == 0, "argv[%d] = '%s'", i, s);
  }
  CHECK(call(&c, "environ", 2, 3000, 4000, 0, &rc) == 0, "environ");
  CHECK(rd32(&c, 16) == 2, "envc %u", rd32(&c, 16));
  char e1[64] = {0};
  wasm_memory_read(c.mem, rd32(&c, 3004), e1, strlen(ENVP[1]));
  CHECK(strcmp(e1, ENVP[1]) == 0, "environ[1] = '%s'", e1);
  /* a pointer past the end of memory is EFAULT, not a crash */
  CHECK(call(&c, "args", 2, 65534, 2000, 0, &rc) == AOX_WASI_EFAULT, "args EFAULT");
  close_ctx(&c);
}

static void test_io(void) {
  ctx c;
  aox_wasi_config cfg;
  int rc;
  size_t n;
  default_cfg(&cfg);
  cfg.max_capture = 20;
  if (open_ctx(&c, &cfg) != 0) { failures++; return; }
  wasm_memory_write(c.mem, 100, "hello", 5);
  CHECK(call(&c, "write", 3, 1, 100, 5, &rc) == 0 && rd32(&c, 16) == 5, "write stdout");
  CHECK(call(&c, "write", 3, 2, 101, 3, &rc) == 0, "write stderr");
  CHECK(call(&c, "write", 3, 1, 100, 5, &rc) == 0, "write stdout 2");
  const uint8_t *o = aox_wasi_output(c.w, 1, &n);
  CHECK(n == 10 && memcmp(o, "hellohello", 10) == 0, "stdout capture (%zu)", n);
  o = aox_wasi_output(c.w, 2, &n);
  CHECK(n == 3 && memcmp(o, "ell", 3) == 0, "stderr capture");
  /* capture cap 20: the next 11 bytes do not fit */
  CHECK(call(&c, "write", 3, 1, 100, 11, &rc) == AOX_WASI_ENOSPC, "capture cap");
  CHECK(call(&c, "write", 3, 0, 100, 1, &rc) == AOX_WASI_EBADF, "write to stdin");
  CHECK(call(&c, "write", 3, 7, 100, 1, &rc) == AOX_WASI_EBADF, "write to fd 7");
  CHECK(call(&c, "write", 3, 1, 65530, 100, &rc) == AOX_WASI_EFAULT, "write EFAULT");
  /* stdin in pieces, then EOF */
  CHECK(call(&c, "read", 2, 200, 5, 0, &rc) == 0 && rd32(&c, 16) == 5, "read 5");
  CHECK(call(&c, "read", 2, 205, 100, 0, &rc) == 0 && rd32(&c, 16) == sizeof STDIN - 6, "read rest");
  char buf[64] = {0};
  wasm_memory_read(c.mem, 200, buf, sizeof STDIN - 1);
  CHECK(memcmp(buf, STDIN, sizeof STDIN - 1) == 0, "stdin bytes");
  CHECK(call(&c, "read", 2, 200, 10, 0, &rc) == 0 && rd32(&c, 16) == 0, "EOF");
  CHECK(call(&c, "seek", 1, 1, 0, 0, &rc) == AOX_WASI_ESPIPE, "seek stdout");
  CHECK(call(&c, "seek", 1, 9, 0, 0, &rc) == AOX_WASI_EBADF, "seek fd 9");
  CHECK(call(&c, "prestat", 1, 3, 0, 0, &rc) == AOX_WASI_EBADF, "no preopens");
  CHECK(call(&c, "fdstat", 1, 1, 0, 0, &rc) == 0, "fdstat stdout");
  uint8_t st[24];
  wasm_memory_read(c.mem, 32, st, 24);
  CHECK(st[0] == 2, "stdout filetype %u (character device)", st[0]);
  CHECK(call(&c, "nosys", 0, 0, 0, 0, &rc) == AOX_WASI_ENOSYS, "sock_accept ENOSYS");
  CHECK(call(&c, "yield", 0, 0, 0, 0, &rc) == 0, "sched_yield");
  CHECK(call(&c, "close", 1, 2, 0, 0, &rc) == 0, "close stderr");
  CHECK(call(&c, "write", 3, 2, 100, 1, &rc) == AOX_WASI_EBADF, "write closed fd");
  CHECK(call(&c, "close", 1, 2, 0, 0, &rc) == AOX_WASI_EBADF, "close twice");
  close_ctx(&c);
}

static void test_clock_random(void) {
  ctx c;
  aox_wasi_config cfg;
  int rc;
  default_cfg(&cfg);
  if (open_ctx(&c, &cfg) != 0) { failures++; return; }
  CHECK(call(&c, "clock", 1, 0, 0, 0, &rc) == 0 && rd64(&c, 16) == 1000, "clock 1");
  CHECK(call(&c, "clock", 1, 1, 0, 0, &rc) == 0 && rd64(&c, 16) == 1010, "clock steps");
  CHECK(call(&c, "clock", 1, 9, 0, 0, &rc) == AOX_WASI_EINVAL, "bad clock id");
  CHECK(call(&c, "clock_res", 1, 0, 0, 0, &rc) == 0 && rd64(&c, 16) == 1, "resolution");
  /* random: 50 bytes then 30 more = the first 80 bytes of the stream */
  uint8_t want[96], got[80], blk_in[12];
  memcpy(blk_in, "seed", 4);
  for (uint64_t k = 0; k < 3; k++) {
    for (int i = 0; i < 8; i++) blk_in[4 + i] = (uint8_t)(k >> (8 * i));
    SHA256(blk_in, 12, want + 32 * k);
  }
  CHECK(call(&c, "random", 2, 500, 50, 0, &rc) == 0, "random 50");
  CHECK(call(&c, "random", 2, 550, 30, 0, &rc) == 0, "random 30");
  wasm_memory_read(c.mem, 500, got, 80);
  CHECK(memcmp(got, want, 80) == 0, "random stream is SHA-256(seed||k)");
  CHECK(aox_wasi_random_position(c.w) == 80, "position %" PRIu64, aox_wasi_random_position(c.w));
  CHECK(call(&c, "random", 2, 65530, 100, 0, &rc) == AOX_WASI_EFAULT, "random EFAULT");
  /* poll_oneoff: one relative clock subscription of 5000 ns advances the clock */
  uint64_t before = aox_wasi_clock(c.w);
  uint8_t sub[48];
  memset(sub, 0, sizeof sub);
  sub[0] = 0x42;                      /* userdata */
  sub[8] = 0;                         /* clock */
  sub[24] = 0x88; sub[25] = 0x13;     /* timeout 5000 */
  wasm_memory_write(c.mem, 1000, sub, 48);
  CHECK(call(&c, "poll", 3, 1000, 2000, 1, &rc) == 0 && rd32(&c, 16) == 1, "poll");
  CHECK(rd32(&c, 2000) == 0x42, "event userdata");
  CHECK(aox_wasi_clock(c.w) == before + 5000, "poll advanced the clock by %" PRIu64,
        aox_wasi_clock(c.w) - before);
  close_ctx(&c);
}

static void test_exit_and_state(void) {
  ctx c, d;
  aox_wasi_config cfg;
  int rc, code = -1;
  uint8_t *st = NULL;
  size_t st_len = 0;
  default_cfg(&cfg);
  if (open_ctx(&c, &cfg) != 0) { failures++; return; }
  call(&c, "exit", 1, 42, 0, 0, &rc);
  CHECK(rc == WASM_ETRAP, "proc_exit unwinds as a trap (%d)", rc);
  CHECK(aox_wasi_exited(c.w, &code) && code == 42, "exit code %d", code);
  close_ctx(&c);

  /* state save/restore: consume some stdin, clock and random, save, restore into a
   * fresh context, and the next reads continue where the first left off */
  if (open_ctx(&c, &cfg) != 0) { failures++; return; }
  call(&c, "read", 2, 200, 4, 0, &rc);
  call(&c, "clock", 1, 0, 0, 0, &rc);
  call(&c, "random", 2, 500, 7, 0, &rc);
  call(&c, "close", 1, 2, 0, 0, &rc);
  CHECK(aox_wasi_state_save(c.w, &st, &st_len) == 0, "save");
  call(&c, "read", 2, 300, 6, 0, &rc);
  call(&c, "clock", 1, 0, 0, 0, &rc);
  uint64_t t_a = rd64(&c, 16);
  call(&c, "random", 2, 600, 9, 0, &rc);
  uint8_t in_a[6], rnd_a[9], in_b[6], rnd_b[9];
  wasm_memory_read(c.mem, 300, in_a, 6);
  wasm_memory_read(c.mem, 600, rnd_a, 9);
  if (open_ctx(&d, &cfg) != 0) { failures++; close_ctx(&c); free(st); return; }
  CHECK(aox_wasi_state_restore(d.w, st, st_len) == 0, "restore");
  call(&d, "read", 2, 300, 6, 0, &rc);
  call(&d, "clock", 1, 0, 0, 0, &rc);
  uint64_t t_b = rd64(&d, 16);
  call(&d, "random", 2, 600, 9, 0, &rc);
  wasm_memory_read(d.mem, 300, in_b, 6);
  wasm_memory_read(d.mem, 600, rnd_b, 9);
  CHECK(memcmp(in_a, in_b, 6) == 0, "stdin continues after restore");
  CHECK(t_a == t_b, "clock continues after restore (%" PRIu64 " vs %" PRIu64 ")", t_a, t_b);
  CHECK(memcmp(rnd_a, rnd_b, 9) == 0, "random stream continues after restore");
  CHECK(call(&d, "write", 3, 2, 100, 1, &rc) == AOX_WASI_EBADF, "closed fd stays closed");
  /* malformed state is rejected and changes nothing */
  uint64_t clk = aox_wasi_clock(d.w);
  CHECK(aox_wasi_state_restore(d.w, st, st_len - 1) != 0, "truncated state accepted");
  uint8_t *bad = malloc(st_len);
  memcpy(bad, st, st_len);
  bad[4] = 0xff; bad[5] = 0xff;   /* stdin position past the end */
  CHECK(aox_wasi_state_restore(d.w, bad, st_len) != 0, "bad stdin position accepted");
  CHECK(aox_wasi_clock(d.w) == clk, "failed restore changed the state");
  free(bad);
  free(st);
  close_ctx(&c);
  close_ctx(&d);
}

static void test_link_only_what_is_imported(void) {
  /* a module without WASI imports links with an empty import set */
  CHECK(aox_wasi_module_uses_wasi(mod) == 1, "probe uses WASI");
  aox_wasi_config cfg;
  memset(&cfg, 0, sizeof cfg);
  aox_wasi *w = NULL;
  CHECK(aox_wasi_new(&cfg, &w) == 0, "empty config");
  aox_wasi_free(w);
  cfg.argc = 1;
  cfg.argv = NULL;
  CHECK(aox_wasi_new(&cfg, &w) != 0 && w == NULL, "argc without argv rejected");
}

static int load(const char *path) {
  FILE *f = fopen(path, "rb");
  long n;
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  probe = malloc((size_t)n);
  if (!probe || fread(probe, 1, (size_t)n, f) != (size_t)n) { fclose(f); return -1; }
  fclose(f);
  probe_len = (size_t)n;
  return 0;
}

int main(int argc, char **argv) {
  wasm_error err;
  if (argc != 2 || load(argv[1]) != 0) {
    fprintf(stderr, "usage: wasi_test PROBE.wasm\n");
    return 2;
  }
  if (wasm_engine_new(NULL, &eng) != 0 ||
      wasm_module_new(eng, probe, probe_len, NULL, &mod, &err) != 0) {
    printf("cannot load probe\n");
    return 1;
  }
  struct { const char *name; void (*fn)(void); } tests[] = {
    {"args_env", test_args_env}, {"io", test_io}, {"clock_random", test_clock_random},
    {"exit_and_state", test_exit_and_state}, {"link", test_link_only_what_is_imported},
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    int before = failures;
    tests[i].fn();
    printf("%s %s\n", failures == before ? "ok  " : "FAIL", tests[i].name);
  }
  wasm_module_free(mod);
  wasm_engine_free(eng);
  free(probe);
  return failures ? 1 : 0;
}
