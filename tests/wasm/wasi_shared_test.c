/* wasi_shared_test.c: the one WASI host (src/wasi/wasi.h) with the parts the CLI does
 * not use and the process devices (src/aos) do: 64-bit pointers and sizes, embedder
 * hooks (clock, random, fuel, exit) and a file system behind the fds. A fake fs here
 * stands for the aos one. Also the wasm64 built-in path (stdio, virtual clock,
 * SHA-256 stream) that `aox wasm run` now serves.
 *
 * usage: wasi_shared_test PROBE64.wasm LEGAL.wasm
 *        (modules/wasi_probe64.wat, modules/wasi_probe_legal.wat)
 */
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasi/wasi.h"
#include "wasm/wasm.h"

static wasm_engine *eng;
static wasm_module *mod, *legal_mod;

#include "wasi_ctx.h"

/* call export name with integer args converted to its parameter types */
static int32_t call(ctx *c, const char *name, int n, const int64_t *args, int *rc) {
  wasm_val a[8], r[1];
  wasm_trap trap;
  wasm_externtype t;
  memset(a, 0, sizeof a);
  memset(r, 0, sizeof r);
  wasm_extern *fn = wasm_instance_export(c->inst, name);
  wasm_extern_type(fn, &t);
  for (int i = 0; i < n; i++) {
    a[i].type = t.func.params[i];
    if (a[i].type == WASM_I64) a[i].of.i64 = args[i];
    else a[i].of.i32 = (int32_t)args[i];
  }
  *rc = wasm_instance_call(c->inst, fn, a, (uint32_t)n, r, t.func.nresults, &trap);
  return t.func.nresults ? r[0].of.i32 : 0;
}
#define CALL(c, name, rc, ...) \
  call(c, name, (int)(sizeof(int64_t[]){__VA_ARGS__} / sizeof(int64_t)), \
       (int64_t[]){__VA_ARGS__}, rc)

static uint64_t rdn(ctx *c, uint64_t off, int n) {
  uint8_t b[8] = {0};
  uint64_t v = 0;
  wasm_memory_read(c->mem, off, b, (uint64_t)n);
  for (int i = n - 1; i >= 0; i--) v = v << 8 | b[i];
  return v;
}

static void put(ctx *c, uint64_t off, const char *s) {
  wasm_memory_write(c->mem, off, s, strlen(s));
}

static int mem_is(ctx *c, uint64_t off, const void *want, size_t n) {
  uint8_t b[256];
  if (n > sizeof b || wasm_memory_read(c->mem, off, b, n) != 0) return 0;
  return memcmp(b, want, n) == 0;
}

/* ---------------------------------------------------- built-in, wasm64 */

static void test_builtin64(void) {
  static const char *const argv[] = {"prog", "alpha", "be"};
  static const uint8_t in[] = "stdin bytes";
  aox_wasi_config cfg;
  ctx c;
  int rc;
  memset(&cfg, 0, sizeof cfg);
  cfg.argc = 3;
  cfg.argv = argv;
  cfg.stdin_data = in;
  cfg.stdin_len = sizeof in - 1;
  cfg.clock_ns = 1000;
  cfg.clock_step_ns = 10;
  cfg.seed = (const uint8_t *)"s";
  cfg.seed_len = 1;
  if (open_ctx(&c, &cfg) != 0) { failures++; return; }

  /* args: 8-byte sizes and 8-byte pointers */
  CHECK(CALL(&c, "args", &rc, 256, 512) == 0 && rc == 0, "args");
  CHECK(rdn(&c, 32, 8) == 3 && rdn(&c, 40, 8) == 14, "sizes %" PRIu64 " %" PRIu64,
        rdn(&c, 32, 8), rdn(&c, 40, 8));
  CHECK(rdn(&c, 256, 8) == 512 && rdn(&c, 264, 8) == 517 && rdn(&c, 272, 8) == 523,
        "argv pointers %" PRIu64 " %" PRIu64 " %" PRIu64, rdn(&c, 256, 8), rdn(&c, 264, 8),
        rdn(&c, 272, 8));
  CHECK(mem_is(&c, 512, "prog\0alpha\0be\0", 14), "args blob");

  /* fd_write: 16-byte iovec, 8-byte count, into the capture */
  put(&c, 1000, "hello64");
  CHECK(CALL(&c, "write", &rc, 1, 1000, 7) == 0, "write");
  CHECK(rdn(&c, 32, 8) == 7, "nwritten %" PRIu64, rdn(&c, 32, 8));
  size_t n;
  const uint8_t *o = aox_wasi_output(c.w, 1, &n);
  CHECK(n == 7 && memcmp(o, "hello64", 7) == 0, "captured %zu", n);
  CHECK(CALL(&c, "write", &rc, 1, 65530, 100) == AOX_WASI_EFAULT, "write out of bounds");

  /* fd_read from stdin */
  CHECK(CALL(&c, "read", &rc, 0, 2000, 5) == 0 && rdn(&c, 32, 8) == 5, "read");
  CHECK(mem_is(&c, 2000, "stdin", 5), "stdin bytes");

  /* random: SHA-256(seed || k LE) stream, as in wasm32 */
  uint8_t want[64], blk[9] = {'s'};
  SHA256(blk, 9, want);
  blk[1] = 1;
  SHA256(blk, 9, want + 32);
  CHECK(CALL(&c, "random", &rc, 3000, 40) == 0 && mem_is(&c, 3000, want, 40), "random stream");
  CHECK(aox_wasi_random_position(c.w) == 40, "position");

  /* virtual clock steps; poll_oneoff advances it, nevents is 8 bytes */
  CHECK(CALL(&c, "clock", &rc, 0) == 0 && rdn(&c, 32, 8) == 1000, "clock");
  CHECK(CALL(&c, "clock", &rc, 9) == AOX_WASI_EINVAL, "clock id");
  uint8_t sub[48];
  memset(sub, 0, sizeof sub);
  sub[0] = 7;            /* userdata */
  sub[24] = 0x88;        /* timeout 5000 = 0x1388 */
  sub[25] = 0x13;
  wasm_memory_write(c.mem, 4000, sub, 48);
  wasm_memory_write(c.mem, 32, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
  CHECK(CALL(&c, "poll", &rc, 4000, 4100, 1) == 0 && rdn(&c, 32, 8) == 1, "poll nevents %" PRIu64,
        rdn(&c, 32, 8));
  CHECK(aox_wasi_clock(c.w) == 1010 + 5000, "poll advanced to %" PRIu64, aox_wasi_clock(c.w));

  /* no fs: the fs-only calls are ENOSYS, stdio is not seekable */
  CHECK(CALL(&c, "pwrite", &rc, 1, 1000, 1, 0) == AOX_WASI_ENOSYS, "pwrite");
  CHECK(CALL(&c, "open", &rc, 1000, 1, 1, 64, 0) == AOX_WASI_ENOSYS, "path_open");
  CHECK(CALL(&c, "seek", &rc, 1, 0, 0) == AOX_WASI_ESPIPE, "seek stdio");
  CHECK(CALL(&c, "fdstat", &rc, 0) == 0 && rdn(&c, 64, 1) == 2, "fdstat stdin");
  close_ctx(&c);
}

/* ---------------------------------------------------- hooks + a file system */

typedef struct {
  char path[64];
  uint8_t data[512];
  uint64_t len;
} ffile;

typedef struct {
  ffile files[4];
  int nfiles;
  int fd_file[8];        /* -1 closed; fds 0..2 are stdio */
  uint64_t fd_pos[8];
  uint16_t fd_flags[8];
  uint8_t out[256];      /* fd 1 */
  size_t out_len;
  uint64_t charged, budget;
  int exit_code, exits;
  char last_open[80];
  uint8_t rand_next;
} fakefs;

static int fd_ok(fakefs *f, int fd) {
  return fd >= 0 && fd < 8 && (fd <= 2 || f->fd_file[fd] >= 0);
}

static int64_t f_read(void *ud, int fd, uint8_t *dst, uint64_t len, int64_t at) {
  fakefs *f = ud;
  if (!fd_ok(f, fd)) return -AOX_WASI_EBADF;
  if (fd <= 2) return 0;
  ffile *fl = &f->files[f->fd_file[fd]];
  uint64_t pos = at < 0 ? f->fd_pos[fd] : (uint64_t)at;
  uint64_t k = pos < fl->len ? fl->len - pos : 0;
  if (k > len) k = len;
  memcpy(dst, fl->data + pos, k);
  if (at < 0) f->fd_pos[fd] += k;
  return (int64_t)k;
}

static int64_t f_write(void *ud, int fd, const uint8_t *src, uint64_t len, int64_t at) {
  fakefs *f = ud;
  if (!fd_ok(f, fd) || fd == 0) return -AOX_WASI_EBADF;
  if (fd <= 2) {
    if (len > sizeof f->out - f->out_len) return -AOX_WASI_ENOSPC;
    memcpy(f->out + f->out_len, src, len);
    f->out_len += len;
    return (int64_t)len;
  }
  ffile *fl = &f->files[f->fd_file[fd]];
  uint64_t pos = at < 0 ? f->fd_pos[fd] : (uint64_t)at;
  if (pos + len > sizeof fl->data) return -AOX_WASI_ENOSPC;
  memcpy(fl->data + pos, src, len);
  if (pos + len > fl->len) fl->len = pos + len;
  if (at < 0) f->fd_pos[fd] += len;
  return (int64_t)len;
}

static int64_t f_seek(void *ud, int fd, int64_t off, int whence) {
  fakefs *f = ud;
  if (!fd_ok(f, fd)) return -AOX_WASI_EBADF;
  if (fd <= 2) return -AOX_WASI_ESPIPE;
  int64_t base = whence == 0 ? 0 : whence == 1 ? (int64_t)f->fd_pos[fd]
                                               : (int64_t)f->files[f->fd_file[fd]].len;
  if (base + off < 0) return -AOX_WASI_EINVAL;
  f->fd_pos[fd] = (uint64_t)(base + off);
  return base + off;
}

static int f_close(void *ud, int fd) {
  fakefs *f = ud;
  if (!fd_ok(f, fd) || fd <= 2) return AOX_WASI_EBADF;
  f->fd_file[fd] = -1;
  return 0;
}

static int f_fdstat(void *ud, int fd, uint8_t *ft, uint16_t *flags, uint64_t *rights) {
  fakefs *f = ud;
  if (!fd_ok(f, fd)) return AOX_WASI_EBADF;
  *ft = fd <= 2 ? 2 : 4;
  *flags = f->fd_flags[fd];
  *rights = UINT64_MAX;
  return 0;
}

static int f_set_flags(void *ud, int fd, uint16_t flags) {
  fakefs *f = ud;
  if (!fd_ok(f, fd)) return AOX_WASI_EBADF;
  f->fd_flags[fd] = flags;
  return 0;
}

static int f_filestat(void *ud, int fd, uint8_t *ft, uint64_t *ino, uint64_t *size) {
  fakefs *f = ud;
  if (!fd_ok(f, fd)) return AOX_WASI_EBADF;
  *ft = fd <= 2 ? 2 : 4;
  *ino = fd <= 2 ? 0 : 100 + (uint64_t)f->fd_file[fd];
  *size = fd <= 2 ? 0 : f->files[f->fd_file[fd]].len;
  return 0;
}

static int f_sync(void *ud, int fd) { return fd_ok(ud, fd) ? 0 : AOX_WASI_EBADF; }

static int f_open(void *ud, const char *path, uint16_t oflags, uint64_t rights,
                  uint16_t fdflags, int *out) {
  fakefs *f = ud;
  int file = -1, fd;
  (void)rights;
  snprintf(f->last_open, sizeof f->last_open, "%s", path);
  for (int i = 0; i < f->nfiles; i++)
    if (strcmp(f->files[i].path, path) == 0) file = i;
  if (file < 0) {
    if (!(oflags & 1) || f->nfiles == 4) return 44;   /* ENOENT */
    file = f->nfiles++;
    snprintf(f->files[file].path, sizeof f->files[file].path, "%s", path);
  }
  for (fd = 3; fd < 8 && f->fd_file[fd] >= 0; fd++) {}
  if (fd == 8) return 33;                              /* EMFILE */
  f->fd_file[fd] = file;
  f->fd_pos[fd] = 0;
  f->fd_flags[fd] = fdflags;
  *out = fd;
  return 0;
}

static const aox_wasi_fs fake_vt = {f_read, f_write, f_seek, f_close, f_fdstat,
                                    f_set_flags, f_filestat, f_sync, f_open};

static int k_clock(void *ud, uint32_t id, uint64_t *ns) {
  (void)ud;
  *ns = 777000000ull + id;
  return 0;
}

static int k_res(void *ud, uint32_t id, uint64_t *ns) {
  (void)ud; (void)id;
  *ns = 1000000;
  return 0;
}

static void k_random(void *ud, uint8_t *dst, uint64_t len) {
  fakefs *f = ud;
  for (uint64_t i = 0; i < len; i++) dst[i] = f->rand_next++;
}

static int k_charge(void *ud, wasm_call *call, uint64_t units) {
  fakefs *f = ud;
  if (f->charged + units > f->budget) return wasm_call_trap(call, "test: out of gas");
  f->charged += units;
  return 0;
}

static int k_exit(void *ud, wasm_call *call, int code) {
  fakefs *f = ud;
  f->exits++;
  f->exit_code = code;
  return wasm_call_trap(call, "test: exit");
}

static void test_hooks_fs(void) {
  static fakefs f;
  aox_wasi_hooks hooks;
  aox_wasi_config cfg;
  ctx c;
  int rc;
  memset(&f, 0, sizeof f);
  for (int i = 0; i < 8; i++) f.fd_file[i] = -1;
  f.budget = 1000;
  memset(&hooks, 0, sizeof hooks);
  hooks.ud = &f;
  hooks.clock_time = k_clock;
  hooks.clock_res = k_res;
  hooks.random = k_random;
  hooks.charge = k_charge;
  hooks.exit = k_exit;
  hooks.fs = &fake_vt;
  memset(&cfg, 0, sizeof cfg);
  cfg.hooks = &hooks;
  if (open_ctx(&c, &cfg) != 0) { failures++; return; }

  /* path_open: the fs sees "/" + the guest's path; the fd comes back as a u32 */
  put(&c, 1000, "dir/file.txt");
  CHECK(CALL(&c, "open", &rc, 1000, 12, 1, 64, 0) == 0, "open");
  CHECK(strcmp(f.last_open, "/dir/file.txt") == 0, "path '%s'", f.last_open);
  CHECK(rdn(&c, 48, 4) == 3, "fd %" PRIu64, rdn(&c, 48, 4));
  CHECK(CALL(&c, "open", &rc, 1000, 3, 0, 2, 0) == 44, "open missing without O_CREAT");
  CHECK(CALL(&c, "open", &rc, 65530, 100, 1, 64, 0) == AOX_WASI_EFAULT, "open bad path");

  /* fd_write into the file; fuel: one unit per 16 bytes */
  put(&c, 2000, "0123456789abcdefghijklmnopqrstuvwxyzABCD");
  CHECK(CALL(&c, "write", &rc, 3, 2000, 40) == 0 && rdn(&c, 32, 8) == 40, "write file");
  CHECK(f.files[0].len == 40 && memcmp(f.files[0].data, "0123456789", 10) == 0, "file bytes");
  CHECK(f.charged == 2, "charged %" PRIu64, f.charged);
  /* fd_pwrite at an offset: the position does not move */
  CHECK(CALL(&c, "pwrite", &rc, 3, 2000, 2, 1) == 0 && rdn(&c, 32, 8) == 2, "pwrite");
  CHECK(memcmp(f.files[0].data, "001345", 6) == 0, "pwrite bytes");
  CHECK(CALL(&c, "tell", &rc, 3) == 0 && rdn(&c, 32, 8) == 40, "tell %" PRIu64, rdn(&c, 32, 8));
  /* seek + read back; pread */
  CHECK(CALL(&c, "seek", &rc, 3, -38, 1) == 0 && rdn(&c, 32, 8) == 2, "seek CUR");
  CHECK(CALL(&c, "read", &rc, 3, 3000, 4) == 0 && rdn(&c, 32, 8) == 4, "read");
  CHECK(mem_is(&c, 3000, "1345", 4), "read bytes");
  CHECK(CALL(&c, "pread", &rc, 3, 3100, 3, 36) == 0 && rdn(&c, 32, 8) == 3, "pread");
  CHECK(mem_is(&c, 3100, "ABC", 3), "pread bytes");
  CHECK(CALL(&c, "seek", &rc, 3, -1, 0) == AOX_WASI_EINVAL, "seek before start");
  /* fdstat / filestat from the fs */
  CHECK(CALL(&c, "fdstat", &rc, 3) == 0 && rdn(&c, 64, 1) == 4 && rdn(&c, 72, 8) == UINT64_MAX &&
        rdn(&c, 80, 8) == UINT64_MAX, "fdstat file");
  CHECK(CALL(&c, "filestat", &rc, 3) == 0 && rdn(&c, 136, 8) == 100 && rdn(&c, 144, 1) == 4 &&
        rdn(&c, 152, 8) == 1 && rdn(&c, 160, 8) == 40, "filestat");
  /* stdout is the fs's too: nothing in the built-in capture */
  CHECK(CALL(&c, "write", &rc, 1, 2000, 5) == 0, "write stdout");
  size_t n;
  aox_wasi_output(c.w, 1, &n);
  CHECK(f.out_len == 5 && memcmp(f.out, "01234", 5) == 0 && n == 0, "stdout went to the fs");
  CHECK(CALL(&c, "seek", &rc, 1, 0, 0) == AOX_WASI_ESPIPE, "seek stdout (fs says)");
  /* close, sync */
  CHECK(CALL(&c, "sync", &rc, 3) == 0, "sync");
  CHECK(CALL(&c, "close", &rc, 3) == 0, "close");
  CHECK(CALL(&c, "close", &rc, 3) == AOX_WASI_EBADF, "close twice");
  CHECK(CALL(&c, "sync", &rc, 3) == AOX_WASI_EBADF, "sync closed");
  CHECK(CALL(&c, "write", &rc, 3, 2000, 1) == AOX_WASI_EBADF, "write closed");

  /* clock from the hook (no EINVAL check of its own), no poll_oneoff with it */
  CHECK(CALL(&c, "clock", &rc, 0) == 0 && rdn(&c, 32, 8) == 777000000ull, "clock hook");
  CHECK(CALL(&c, "clock", &rc, 9) == 0 && rdn(&c, 32, 8) == 777000009ull, "clock hook id");
  CHECK(CALL(&c, "poll", &rc, 4000, 4100, 1) == AOX_WASI_ENOSYS, "poll_oneoff with a clock hook");

  /* random from the hook, charged one unit per byte */
  uint64_t before = f.charged;
  CHECK(CALL(&c, "random", &rc, 5000, 4) == 0 && mem_is(&c, 5000, "\0\1\2\3", 4), "random hook");
  CHECK(f.charged == before + 4, "random charged %" PRIu64, f.charged - before);
  CHECK(CALL(&c, "random", &rc, 65535, 2) == AOX_WASI_EFAULT && f.charged == before + 4,
        "random out of bounds: EFAULT, nothing charged");
  /* a charge that traps unwinds the guest */
  CALL(&c, "random", &rc, 5000, 2000);
  CHECK(rc == WASM_ETRAP && f.rand_next == 4, "charge trap rc %d", rc);
  f.budget = f.charged;
  CALL(&c, "write", &rc, 1, 2000, 32);
  CHECK(rc == WASM_ETRAP && f.out_len == 5, "write charge trap rc %d", rc);

  /* proc_exit through the hook */
  CALL(&c, "exit", &rc, 7);
  int code = 0;
  CHECK(rc == WASM_ETRAP && f.exits == 1 && f.exit_code == 7, "exit hook %d %d", f.exits, f.exit_code);
  CHECK(aox_wasi_exited(c.w, &code) && code == 7, "exited %d", code);
  close_ctx(&c);
}

/* ---------------------------------------------------- aox_wasi_link_import */

/* An embedder's own linker (the aos one) maps its import names to preview1 functions
 * and keeps each import's own signature: legalised i64 pairs, an i64 result. */
static void test_link_import(void) {
  static fakefs f;
  static const char *const argv[] = {"x", "yz"};
  aox_wasi_hooks hooks;
  aox_wasi_config cfg;
  wasm_imports *imps = NULL;
  wasm_error err;
  wasm_trap trap;
  ctx c;
  int rc;
  memset(&f, 0, sizeof f);
  for (int i = 0; i < 8; i++) f.fd_file[i] = -1;
  f.nfiles = 1;
  f.fd_file[3] = 0;
  memset(&hooks, 0, sizeof hooks);
  hooks.ud = &f;
  hooks.clock_time = k_clock;
  hooks.fs = &fake_vt;
  memset(&cfg, 0, sizeof cfg);
  cfg.argc = 2;
  cfg.argv = argv;
  cfg.hooks = &hooks;
  memset(&c, 0, sizeof c);
  if (aox_wasi_new(&cfg, &c.w) != 0 || wasm_imports_new(&imps) != 0) { failures++; return; }
  static const struct { const char *mod, *name, *wasi; } map[] = {
    {"env", "seek_legal", "fd_seek"}, {"env", "clock_legal", "clock_time_get"},
    {"a", "q", "args_sizes_get"}, {"env", "not_wasi", "no_such_function"},
  };
  uint32_t n = wasm_module_import_count(legal_mod);
  for (uint32_t i = 0; i < n; i++) {
    const char *m, *name, *wasi = NULL;
    wasm_externtype t;
    wasm_module_import(legal_mod, i, &m, &name, &t);
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
      if (strcmp(map[k].mod, m) == 0 && strcmp(map[k].name, name) == 0) wasi = map[k].wasi;
    CHECK(wasi && aox_wasi_link_import(c.w, imps, m, name, wasi, t.func.params,
                                       t.func.nparams, t.func.results, t.func.nresults) == 0,
          "link %s.%s", m, name);
  }
  rc = wasm_instance_new(legal_mod, imps, &c.inst, &err, &trap);
  wasm_imports_free(imps);
  if (rc != 0) { printf("instantiate: %s\n", err.message); failures++; aox_wasi_free(c.w); return; }
  c.mem = wasm_instance_memory(c.inst);

  CHECK(CALL(&c, "seek", &rc, 3, 5, 1, 0) == 0 && rdn(&c, 16, 8) == 0x100000005ull,
        "legalised offset: %" PRIx64, rdn(&c, 16, 8));
  CHECK(f.fd_pos[3] == 0x100000005ull, "fs position %" PRIx64, f.fd_pos[3]);
  /* i64 result: the errno converted; the out pointer after the (lo, hi) pair */
  wasm_val a[1], r[1];
  memset(a, 0, sizeof a);
  memset(r, 0, sizeof r);
  a[0].type = WASM_I32;
  a[0].of.i32 = 2;
  rc = wasm_instance_call(c.inst, wasm_instance_export(c.inst, "clock"), a, 1, r, 1, &trap);
  CHECK(rc == 0 && r[0].of.i64 == 0 && rdn(&c, 24, 8) == 777000002ull, "clock %" PRIu64,
        rdn(&c, 24, 8));
  CHECK(CALL(&c, "sizes", &rc) == 0 && rdn(&c, 32, 4) == 2 && rdn(&c, 36, 4) == 5,
        "minified args_sizes_get");
  CHECK(CALL(&c, "nosys", &rc) == AOX_WASI_ENOSYS, "unknown function: ENOSYS");
  close_ctx(&c);
}

static int load(const char *path, uint8_t **out, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return -1;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  *out = malloc(n > 0 ? (size_t)n : 1);
  *len = n > 0 && *out && fread(*out, 1, (size_t)n, fp) == (size_t)n ? (size_t)n : 0;
  fclose(fp);
  return *len ? 0 : -1;
}

int main(int argc, char **argv) {
  wasm_error err;
  uint8_t *bytes = NULL;
  size_t len = 0;
  uint8_t *lbytes = NULL;
  size_t llen = 0;
  if (argc != 3 || load(argv[1], &bytes, &len) != 0 || load(argv[2], &lbytes, &llen) != 0) {
    fprintf(stderr, "usage: wasi_shared_test PROBE64.wasm LEGAL.wasm\n");
    free(lbytes);
    free(bytes);
    return 2;
  }
  if (wasm_engine_new(NULL, &eng) != 0 ||
      wasm_module_new(eng, bytes, len, NULL, &mod, &err) != 0 ||
      wasm_module_new(eng, lbytes, llen, NULL, &legal_mod, &err) != 0) {
    printf("cannot load probe\n");
    return 1;
  }
  struct { const char *name; void (*fn)(void); } tests[] = {
    {"builtin_wasm64", test_builtin64}, {"hooks_fs_wasm64", test_hooks_fs},
    {"link_import", test_link_import},
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    int before = failures;
    tests[i].fn();
    printf("%s %s\n", failures == before ? "ok  " : "FAIL", tests[i].name);
  }
  wasm_module_free(mod);
  wasm_module_free(legal_mod);
  wasm_engine_free(eng);
  free(bytes);
  free(lbytes);
  return failures ? 1 : 0;
}
