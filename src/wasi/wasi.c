/* wasi.c: deterministic WASI preview1 host functions (see wasi.h for the contract).
 *
 * Guest memory is touched through wasm_memory_read/wasm_memory_write, or through a
 * bounds-checked host view (gptr: fs I/O and random_get, zero copy) followed by
 * wasm_memory_mark_dirty, so dirty-page tracking stays right; a bad guest pointer
 * gives EFAULT.
 * Pointers and sizes are 4 or 8 bytes after the calling instance's memory (xcall.is64).
 * Every host function is h_dispatch, whose ud (wasi_imp) names the implementation and
 * the import's own signature; handlers take their arguments in order from the xcall.
 */
#include "wasi/wasi.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WASI_MODULE "wasi_snapshot_preview1"
#define DEFAULT_CAPTURE (16u << 20)

/* fd kinds of the built-in stdio (with a file system the fds are the fs's). */
typedef enum { FD_CLOSED = 0, FD_STDIN, FD_STDOUT, FD_STDERR } fd_kind;

typedef struct {
  fd_kind kind;
  uint16_t flags;          /* fdflags as set by fd_fdstat_set_flags */
} wasi_fd;

typedef struct {
  uint8_t *data;
  size_t len, cap;
} capture;

struct aox_wasi {
  /* arguments and environment, each as a NUL-separated blob plus offsets */
  char *args_blob;
  size_t args_blob_len;
  uint32_t argc;
  size_t *arg_off;
  char *env_blob;
  size_t env_blob_len;
  uint32_t envc;
  size_t *env_off;
  /* stdin */
  uint8_t *stdin_data;
  size_t stdin_len, stdin_pos;
  /* output */
  aox_wasi_write_fn write;
  void *write_ud;
  size_t max_capture;
  capture out[2];          /* fd 1, fd 2 when write == NULL */
  /* virtual clock */
  uint64_t clock_ns, clock_step_ns, clock_res_ns;
  /* random stream: block k = SHA-256(seed || k as u64 little-endian) */
  uint8_t *seed;
  size_t seed_len;
  uint64_t rand_pos;
  /* descriptors */
  wasi_fd fds[3];
  uint32_t nfds;
  /* exit */
  int exited;
  int exit_code;
  /* embedder hooks and the linked imports (ud of their host functions) */
  aox_wasi_hooks hooks;
  struct wasi_imp *imps;
};

/* ------------------------------------------------------------------------ */
/* Setup                                                                    */
/* ------------------------------------------------------------------------ */

static int pack_strings(int n, const char *const *v, char **blob, size_t *blob_len,
                        size_t **off) {
  size_t total = 0;
  *blob = NULL;
  *off = NULL;
  *blob_len = 0;
  for (int i = 0; i < n; i++) total += strlen(v[i]) + 1;
  *blob = malloc(total ? total : 1);
  *off = malloc((size_t)(n ? n : 1) * sizeof **off);
  if (!*blob || !*off) return -1;
  for (int i = 0; i < n; i++) {
    size_t l = strlen(v[i]) + 1;
    (*off)[i] = *blob_len;
    memcpy(*blob + *blob_len, v[i], l);
    *blob_len += l;
  }
  return 0;
}

int aox_wasi_new(const aox_wasi_config *cfg, aox_wasi **out) {
  aox_wasi *w = calloc(1, sizeof *w);
  *out = NULL;
  if (!w || !cfg || cfg->argc < 0 || (cfg->argc && !cfg->argv) ||
      (cfg->envc && !cfg->envp) || (cfg->stdin_len && !cfg->stdin_data) ||
      (cfg->seed_len && !cfg->seed))
    goto fail;
  if (pack_strings(cfg->argc, cfg->argv, &w->args_blob, &w->args_blob_len,
                   &w->arg_off) != 0)
    goto fail;
  w->argc = (uint32_t)cfg->argc;
  if (pack_strings((int)cfg->envc, cfg->envp, &w->env_blob, &w->env_blob_len,
                   &w->env_off) != 0)
    goto fail;
  w->envc = (uint32_t)cfg->envc;
  w->stdin_data = malloc(cfg->stdin_len ? cfg->stdin_len : 1);
  w->seed = malloc(cfg->seed_len + 8);
  if (!w->stdin_data || !w->seed) goto fail;
  if (cfg->stdin_len) memcpy(w->stdin_data, cfg->stdin_data, cfg->stdin_len);
  if (cfg->seed_len) memcpy(w->seed, cfg->seed, cfg->seed_len);
  w->stdin_len = cfg->stdin_len;
  w->seed_len = cfg->seed_len;
  w->write = cfg->write;
  w->write_ud = cfg->write_ud;
  w->max_capture = cfg->max_capture ? cfg->max_capture : DEFAULT_CAPTURE;
  w->clock_ns = cfg->clock_ns;
  w->clock_step_ns = cfg->clock_step_ns;
  w->clock_res_ns = cfg->clock_res_ns ? cfg->clock_res_ns : 1;
  w->fds[0].kind = FD_STDIN;
  w->fds[1].kind = FD_STDOUT;
  w->fds[2].kind = FD_STDERR;
  w->nfds = 3;
  if (cfg->hooks) w->hooks = *cfg->hooks;
  *out = w;
  return 0;
fail:
  aox_wasi_free(w);
  return -1;
}

static void free_imps(struct wasi_imp *im);

void aox_wasi_free(aox_wasi *w) {
  if (!w) return;
  free(w->args_blob);
  free(w->arg_off);
  free(w->env_blob);
  free(w->env_off);
  free(w->stdin_data);
  free(w->seed);
  free(w->out[0].data);
  free(w->out[1].data);
  free_imps(w->imps);
  free(w);
}

int aox_wasi_exited(const aox_wasi *w, int *exit_code) {
  if (w->exited && exit_code) *exit_code = w->exit_code;
  return w->exited;
}

const uint8_t *aox_wasi_output(const aox_wasi *w, int fd, size_t *len) {
  if (fd != 1 && fd != 2) { *len = 0; return NULL; }
  *len = w->out[fd - 1].len;
  return w->out[fd - 1].data ? w->out[fd - 1].data : (const uint8_t *)"";
}

uint64_t aox_wasi_random_position(const aox_wasi *w) { return w->rand_pos; }
uint64_t aox_wasi_clock(const aox_wasi *w) { return w->clock_ns; }

/* State image, little-endian:
 *   "AXW1" | stdin_pos u64 | clock_ns u64 | rand_pos u64 | exited u8 | exit_code i32 |
 *   nfds u32 | nfds x (kind u8, flags u16)                                          */
#define STATE_MAGIC "AXW1"

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

int aox_wasi_state_save(const aox_wasi *w, uint8_t **out, size_t *out_len) {
  size_t len = 4 + 8 + 8 + 8 + 1 + 4 + 4 + (size_t)w->nfds * 3;
  uint8_t *b = malloc(len), *p;
  *out = NULL;
  *out_len = 0;
  if (!b) return -1;
  memcpy(b, STATE_MAGIC, 4);
  p = b + 4;
  put_le(p, w->stdin_pos, 8); p += 8;
  put_le(p, w->clock_ns, 8); p += 8;
  put_le(p, w->rand_pos, 8); p += 8;
  *p++ = (uint8_t)(w->exited != 0);
  put_le(p, (uint32_t)w->exit_code, 4); p += 4;
  put_le(p, w->nfds, 4); p += 4;
  for (uint32_t i = 0; i < w->nfds; i++) {
    *p++ = (uint8_t)w->fds[i].kind;
    put_le(p, w->fds[i].flags, 2); p += 2;
  }
  *out = b;
  *out_len = len;
  return 0;
}

int aox_wasi_state_restore(aox_wasi *w, const uint8_t *b, size_t len) {
  const size_t fixed = 4 + 8 + 8 + 8 + 1 + 4 + 4;
  if (!b || len < fixed || memcmp(b, STATE_MAGIC, 4) != 0) return -1;
  uint64_t stdin_pos = get_le(b + 4, 8), clock_ns = get_le(b + 12, 8);
  uint64_t rand_pos = get_le(b + 20, 8);
  uint8_t exited = b[28];
  int32_t code = (int32_t)(uint32_t)get_le(b + 29, 4);
  uint64_t nfds = get_le(b + 33, 4);
  if (stdin_pos > w->stdin_len || exited > 1 ||
      nfds != w->nfds || len != fixed + nfds * 3)
    return -1;
  for (uint64_t i = 0; i < nfds; i++)
    if (b[fixed + 3 * i] > FD_STDERR) return -1;
  w->stdin_pos = (size_t)stdin_pos;
  w->clock_ns = clock_ns;
  w->rand_pos = rand_pos;
  w->exited = exited;
  w->exit_code = code;
  for (uint64_t i = 0; i < nfds; i++) {
    w->fds[i].kind = (fd_kind)b[fixed + 3 * i];
    w->fds[i].flags = (uint16_t)get_le(b + fixed + 3 * i + 1, 2);
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Guest memory and argument plumbing                                       */
/* ------------------------------------------------------------------------ */

/* One linked import: what it implements and its own signature. */
typedef struct wasi_fn wasi_fn;
typedef struct wasi_imp {
  struct wasi_imp *next;
  aox_wasi *w;
  const wasi_fn *fn;       /* NULL: ENOSYS stub */
  uint32_t np, nr;
  wasm_valtype params[16];
  wasm_valtype results[4];
} wasi_imp;

/* A call in progress: arguments are taken in order with the cursor i. */
typedef struct {
  wasm_call *call;
  aox_wasi *w;
  const wasi_imp *im;
  const wasm_val *a;
  uint32_t i;
  wasm_extern *mem;        /* may be NULL: every access then fails (EFAULT) */
  int is64;                /* memory64: pointers and sizes are 8 bytes */
  int64_t err;             /* the result (errno) when the handler returns 0 */
} xcall;

uint64_t aox_wasi_val_u64(const wasm_val *v) {
  switch (v->type) {
  case WASM_I32: return (uint32_t)v->of.i32;
  case WASM_I64: return (uint64_t)v->of.i64;
  case WASM_F64: return v->of.f64 > 0 ? (uint64_t)v->of.f64 : 0;
  case WASM_F32: return v->of.f32 > 0 ? (uint64_t)v->of.f32 : 0;
  default: return 0;
  }
}

/* next argument as an unsigned integer (pointer, size, fd, flags) */
static uint64_t arg_u(xcall *x) {
  return x->i < x->im->np ? aox_wasi_val_u64(&x->a[x->i++]) : (x->i++, 0);
}

uint64_t aox_wasi_arg_i64(const wasm_valtype *params, uint32_t np, const wasm_val *a,
                          uint32_t *i) {
  if (*i < np && (params[*i] == WASM_I64 || params[*i] == WASM_F64))
    return params[*i] == WASM_I64 ? (uint64_t)a[(*i)++].of.i64
                                  : (uint64_t)(int64_t)a[(*i)++].of.f64;
  uint32_t lo = *i < np ? (uint32_t)a[*i].of.i32 : 0;
  uint32_t hi = *i + 1 < np ? (uint32_t)a[*i + 1].of.i32 : 0;
  *i += 2;
  return (uint64_t)hi << 32 | lo;
}

/* next 64-bit argument; emscripten may have legalised it into (low, high) i32s */
static uint64_t arg_64(xcall *x) {
  return aox_wasi_arg_i64(x->im->params, x->im->np, x->a, &x->i);
}

void aox_wasi_set_result(wasm_val *r, uint32_t nr, int64_t v) {
  if (!nr) return;
  switch (r[0].type) {
  case WASM_I32: r[0].of.i32 = (int32_t)v; break;
  case WASM_I64: r[0].of.i64 = v; break;
  case WASM_F64: r[0].of.f64 = (double)v; break;
  case WASM_F32: r[0].of.f32 = (float)v; break;
  default: break;
  }
}

static int rd(const xcall *x, uint64_t ptr, void *dst, uint64_t len) {
  return x->mem && wasm_memory_read(x->mem, ptr, dst, len) == 0 ? 0 : -1;
}

static int wr(const xcall *x, uint64_t ptr, const void *src, uint64_t len) {
  return x->mem && wasm_memory_write(x->mem, ptr, src, len) == 0 ? 0 : -1;
}

static int rdn(const xcall *x, uint64_t ptr, int n, uint64_t *v) {
  uint8_t b[8];
  if (rd(x, ptr, b, (uint64_t)n)) return -1;
  *v = get_le(b, n);
  return 0;
}

static int wrn(const xcall *x, uint64_t ptr, uint64_t v, int n) {
  uint8_t b[8];
  put_le(b, v, n);
  return wr(x, ptr, b, (uint64_t)n);
}

static int psize(const xcall *x) { return x->is64 ? 8 : 4; }

/* a pointer-sized value (size_t, pointer) */
static int wrp(const xcall *x, uint64_t ptr, uint64_t v) { return wrn(x, ptr, v, psize(x)); }

/* host view of guest bytes [addr, addr+len), or NULL when out of bounds */
static uint8_t *gptr(const xcall *x, uint64_t addr, uint64_t len) {
  if (!x->mem) return NULL;
  uint64_t sz = wasm_memory_size(x->mem);
  if (addr > sz || len > sz - addr) return NULL;
  return wasm_memory_data(x->mem) + addr;
}

/* iovec i of the array at iovs: {pointer, size} */
static int iov_get(const xcall *x, uint64_t iovs, uint64_t i, uint64_t *base, uint64_t *len) {
  int ps = psize(x);
  return rdn(x, iovs + i * 2 * (uint64_t)ps, ps, base) ||
         rdn(x, iovs + i * 2 * (uint64_t)ps + (uint64_t)ps, ps, len) ? -1 : 0;
}

static int charge(xcall *x, uint64_t units) {
  const aox_wasi_hooks *k = &x->w->hooks;
  return k->charge ? k->charge(k->ud, x->call, units) : 0;
}

#define RET(e) do { x->err = (e); return 0; } while (0)

/* ------------------------------------------------------------------------ */
/* args, environ                                                            */
/* ------------------------------------------------------------------------ */

static int put_strings(xcall *x, const char *blob, size_t blob_len, const size_t *off,
                       uint32_t n) {
  uint64_t vec = arg_u(x), buf = arg_u(x);
  for (uint32_t i = 0; i < n; i++)
    if (wrp(x, vec + (uint64_t)psize(x) * i, buf + off[i]) != 0) RET(AOX_WASI_EFAULT);
  if (blob_len && wr(x, buf, blob, blob_len) != 0) RET(AOX_WASI_EFAULT);
  RET(0);
}

static int put_sizes(xcall *x, uint64_t count, uint64_t bytes) {
  uint64_t p0 = arg_u(x), p1 = arg_u(x);
  if (wrp(x, p0, count) || wrp(x, p1, bytes)) RET(AOX_WASI_EFAULT);
  RET(0);
}

static int h_args_get(xcall *x) {
  aox_wasi *w = x->w;
  return put_strings(x, w->args_blob, w->args_blob_len, w->arg_off, w->argc);
}

static int h_args_sizes_get(xcall *x) {
  return put_sizes(x, x->w->argc, x->w->args_blob_len);
}

static int h_environ_get(xcall *x) {
  aox_wasi *w = x->w;
  return put_strings(x, w->env_blob, w->env_blob_len, w->env_off, w->envc);
}

static int h_environ_sizes_get(xcall *x) {
  return put_sizes(x, x->w->envc, x->w->env_blob_len);
}

/* ------------------------------------------------------------------------ */
/* fds: the embedder's file system, or the built-in stdio                   */
/* ------------------------------------------------------------------------ */

#define FS(x) ((x)->w->hooks.fs)
#define FSUD(x) ((x)->w->hooks.ud)
#define IOV_MAX_N 1024

static wasi_fd *get_fd(aox_wasi *w, uint64_t fd) {
  if (fd >= w->nfds || w->fds[fd].kind == FD_CLOSED) return NULL;
  return &w->fds[fd];
}

static int emit(aox_wasi *w, int fd, const uint8_t *p, size_t n) {
  if (w->write) return w->write(w->write_ud, fd, p, n);
  capture *c = &w->out[fd - 1];
  if (n > w->max_capture - c->len) return AOX_WASI_ENOSPC;
  if (c->len + n > c->cap) {
    size_t nc = c->cap ? c->cap : 4096;
    while (nc < c->len + n) nc *= 2;
    uint8_t *nd = realloc(c->data, nc);
    if (!nd) return AOX_WASI_EIO;
    c->data = nd;
    c->cap = nc;
  }
  memcpy(c->data + c->len, p, n);
  c->len += n;
  return 0;
}

/* fd_read / fd_write / fd_pread / fd_pwrite through the fs: at < 0 uses the fd's
 * position. Returns the count, a negative errno, or INT64_MIN when charge trapped
 * (*trc then holds the value to return). */
static int64_t fs_iov(xcall *x, int fd, uint64_t iovs, uint64_t n, int writing, int64_t at,
                      int *trc) {
  const aox_wasi_fs *fs = FS(x);
  int64_t total = 0;
  if (n > IOV_MAX_N) return -AOX_WASI_EINVAL;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t base, len;
    if (iov_get(x, iovs, i, &base, &len)) return -AOX_WASI_EFAULT;
    uint8_t *p = gptr(x, base, len);
    if (!p) return -AOX_WASI_EFAULT;
    if ((*trc = charge(x, len / 16)) != 0) return INT64_MIN;
    int64_t pos = at < 0 ? -1 : at + total, r;
    if (writing) {
      r = fs->write(FSUD(x), fd, p, len, pos);
    } else {
      r = fs->read(FSUD(x), fd, p, len, pos);
      if (r > 0) wasm_memory_mark_dirty(x->mem, base, (uint64_t)r);
    }
    if (r < 0) return total ? total : r;
    total += r;
    if ((uint64_t)r < len) break;
  }
  return total;
}

/* the fs I/O calls: (fd, iovs, n, [offset,] count*) */
static int fs_rw(xcall *x, int writing, int positional) {
  int fd = (int)arg_u(x), trc = 0;
  uint64_t iovs = arg_u(x), n = arg_u(x);
  int64_t at = -1;
  if (positional) {
    at = (int64_t)arg_64(x);
    if (at < 0) at = 0;
  }
  uint64_t out = arg_u(x);
  int64_t v = fs_iov(x, fd, iovs, n, writing, at, &trc);
  if (v == INT64_MIN) return trc;
  if (v < 0) RET(-v);
  if (wrp(x, out, (uint64_t)v)) RET(AOX_WASI_EFAULT);
  RET(0);
}

static int h_fd_write(xcall *x) {
  if (FS(x)) return fs_rw(x, 1, 0);
  aox_wasi *w = x->w;
  wasi_fd *f = get_fd(w, arg_u(x));
  uint64_t iovs = arg_u(x), n = arg_u(x), out = arg_u(x), total = 0;
  uint8_t chunk[4096];
  if (!f) RET(AOX_WASI_EBADF);
  if (f->kind != FD_STDOUT && f->kind != FD_STDERR) RET(AOX_WASI_EBADF);
  int fd = f->kind == FD_STDOUT ? 1 : 2;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t p, l;
    if (iov_get(x, iovs, i, &p, &l)) RET(AOX_WASI_EFAULT);
    while (l > 0) {
      uint64_t k = l < sizeof chunk ? l : sizeof chunk;
      if (rd(x, p, chunk, k) != 0) RET(AOX_WASI_EFAULT);
      int e = emit(w, fd, chunk, (size_t)k);
      if (e) RET(e);
      p += k;
      l -= k;
      total += k;
    }
  }
  if (wrp(x, out, x->is64 ? total : (uint32_t)total)) RET(AOX_WASI_EFAULT);
  RET(0);
}

static int h_fd_read(xcall *x) {
  if (FS(x)) return fs_rw(x, 0, 0);
  aox_wasi *w = x->w;
  wasi_fd *f = get_fd(w, arg_u(x));
  uint64_t iovs = arg_u(x), n = arg_u(x), out = arg_u(x), total = 0;
  if (!f || f->kind != FD_STDIN) RET(AOX_WASI_EBADF);
  for (uint64_t i = 0; i < n && w->stdin_pos < w->stdin_len; i++) {
    uint64_t p, l;
    if (iov_get(x, iovs, i, &p, &l)) RET(AOX_WASI_EFAULT);
    size_t left = w->stdin_len - w->stdin_pos;
    uint64_t k = l < left ? l : left;
    if (k && wr(x, p, w->stdin_data + w->stdin_pos, k)) RET(AOX_WASI_EFAULT);
    w->stdin_pos += (size_t)k;
    total += k;
  }
  if (wrp(x, out, total)) RET(AOX_WASI_EFAULT);
  RET(0);
}

static int h_fd_pwrite(xcall *x) { return fs_rw(x, 1, 1); }
static int h_fd_pread(xcall *x) { return fs_rw(x, 0, 1); }

static int h_fd_close(xcall *x) {
  uint64_t fd = arg_u(x);
  if (FS(x)) RET(FS(x)->close(FSUD(x), (int)fd));
  wasi_fd *f = get_fd(x->w, fd);
  if (!f) RET(AOX_WASI_EBADF);
  f->kind = FD_CLOSED;
  RET(0);
}

static int h_fd_seek(xcall *x) {   /* (fd, offset, whence, newoffset*) */
  uint64_t fd = arg_u(x);
  if (FS(x)) {
    int64_t off = (int64_t)arg_64(x);
    int whence = (int)arg_u(x);
    uint64_t out = arg_u(x);
    int64_t v = FS(x)->seek(FSUD(x), (int)fd, off, whence);
    if (v < 0) RET(-v);
    RET(wrn(x, out, (uint64_t)v, 8) ? AOX_WASI_EFAULT : 0);
  }
  if (!get_fd(x->w, fd)) RET(AOX_WASI_EBADF);
  RET(AOX_WASI_ESPIPE);   /* stdio is not seekable */
}

static int h_fd_tell(xcall *x) {
  uint64_t fd = arg_u(x);
  if (FS(x)) {
    uint64_t out = arg_u(x);
    int64_t v = FS(x)->seek(FSUD(x), (int)fd, 0, 1);
    if (v < 0) RET(-v);
    RET(wrn(x, out, (uint64_t)v, 8) ? AOX_WASI_EFAULT : 0);
  }
  if (!get_fd(x->w, fd)) RET(AOX_WASI_EBADF);
  RET(AOX_WASI_ESPIPE);
}

/* rights bits (preview1) */
#define RIGHT_FD_READ (1ull << 1)
#define RIGHT_FD_WRITE (1ull << 6)
#define RIGHT_POLL_FD_READWRITE (1ull << 27)
#define FILETYPE_CHARACTER_DEVICE 2

static int h_fd_fdstat_get(xcall *x) {   /* fdstat: filetype u8, flags u16 @2, rights @8, @16 */
  uint64_t fd = arg_u(x), out = arg_u(x), rights, inherit;
  uint8_t st[24], ft;
  uint16_t flags;
  if (FS(x)) {
    int e = FS(x)->fdstat(FSUD(x), (int)fd, &ft, &flags, &rights);
    if (e) RET(e);
    inherit = rights;
  } else {
    wasi_fd *f = get_fd(x->w, fd);
    if (!f) RET(AOX_WASI_EBADF);
    ft = FILETYPE_CHARACTER_DEVICE;
    flags = f->flags;
    rights = (f->kind == FD_STDIN ? RIGHT_FD_READ : RIGHT_FD_WRITE) | RIGHT_POLL_FD_READWRITE;
    inherit = 0;
  }
  memset(st, 0, sizeof st);
  st[0] = ft;
  put_le(st + 2, flags, 2);
  put_le(st + 8, rights, 8);
  put_le(st + 16, inherit, 8);
  RET(wr(x, out, st, sizeof st) ? AOX_WASI_EFAULT : 0);
}

static int h_fd_fdstat_set_flags(xcall *x) {
  uint64_t fd = arg_u(x);
  uint16_t flags = (uint16_t)arg_u(x);
  if (FS(x)) RET(FS(x)->set_flags(FSUD(x), (int)fd, flags));
  wasi_fd *f = get_fd(x->w, fd);
  if (!f) RET(AOX_WASI_EBADF);
  f->flags = flags;
  RET(0);
}

/* filestat (64 bytes): dev @0, ino @8, filetype u8 @16, nlink @24, size @32, times */
static int h_fd_filestat_get(xcall *x) {
  uint64_t fd = arg_u(x), out = arg_u(x), ino, size;
  uint8_t b[64], ft;
  int e = FS(x)->filestat(FSUD(x), (int)fd, &ft, &ino, &size);
  if (e) RET(e);
  memset(b, 0, sizeof b);
  put_le(b + 8, ino, 8);
  b[16] = ft;
  put_le(b + 24, 1, 8);
  put_le(b + 32, size, 8);
  RET(wr(x, out, b, sizeof b) ? AOX_WASI_EFAULT : 0);
}

static int h_fd_sync(xcall *x) { RET(FS(x)->sync(FSUD(x), (int)arg_u(x))); }

static int h_fd_prestat_get(xcall *x) {
  RET(AOX_WASI_EBADF);   /* no preopened directories */
}

#define PATH_MAX_N 1024

/* (dirfd, dirflags, path, path_len, oflags, rights, rights_inheriting, fdflags, fd*) */
static int h_path_open(xcall *x) {
  char p[PATH_MAX_N];
  (void)arg_u(x);
  (void)arg_u(x);
  uint64_t path = arg_u(x), plen = arg_u(x);
  uint16_t oflags = (uint16_t)arg_u(x);
  uint64_t rights = arg_64(x);
  (void)arg_64(x);
  uint16_t fdflags = (uint16_t)arg_u(x);
  uint64_t out = arg_u(x);
  const uint8_t *src = gptr(x, path, plen);
  int fd;
  if (!src || plen >= sizeof p - 1) RET(AOX_WASI_EFAULT);
  p[0] = '/';
  memcpy(p + 1, src, plen);
  p[plen + 1] = '\0';
  int e = FS(x)->open(FSUD(x), p, oflags, rights, fdflags, &fd);
  if (e) RET(e);
  RET(wrn(x, out, (uint32_t)fd, 4) ? AOX_WASI_EFAULT : 0);
}

/* ------------------------------------------------------------------------ */
/* clocks, random, scheduling                                               */
/* ------------------------------------------------------------------------ */

static int h_clock_res_get(xcall *x) {
  const aox_wasi_hooks *k = &x->w->hooks;
  uint32_t id = (uint32_t)arg_u(x);
  uint64_t out = arg_u(x), ns = x->w->clock_res_ns;
  if (k->clock_res) {
    int e = k->clock_res(k->ud, id, &ns);
    if (e) RET(e);
  } else if (id > 3) {
    RET(AOX_WASI_EINVAL);
  }
  RET(wrn(x, out, ns, 8) ? AOX_WASI_EFAULT : 0);
}

static int h_clock_time_get(xcall *x) {   /* (id, precision, time*) */
  const aox_wasi_hooks *k = &x->w->hooks;
  uint32_t id = (uint32_t)arg_u(x);
  (void)arg_64(x);
  uint64_t out = arg_u(x), ns;
  if (k->clock_time) {
    int e = k->clock_time(k->ud, id, &ns);
    if (e) RET(e);
    RET(wrn(x, out, ns, 8) ? AOX_WASI_EFAULT : 0);
  }
  if (id > 3) RET(AOX_WASI_EINVAL);
  if (wrn(x, out, x->w->clock_ns, 8)) RET(AOX_WASI_EFAULT);
  x->w->clock_ns += x->w->clock_step_ns;
  RET(0);
}

/* Block k of the built-in random stream is SHA-256(seed || k as u64 little-endian).
 * The seed buffer has 8 spare bytes at its end for the counter. */
static void builtin_random(aox_wasi *w, uint8_t *dst, uint64_t n) {
  uint8_t blk[32];
  while (n > 0) {
    uint64_t off = w->rand_pos % 32, k = 32 - off, blkno = w->rand_pos / 32;
    if (k > n) k = n;
    for (int i = 0; i < 8; i++) w->seed[w->seed_len + (size_t)i] = (uint8_t)(blkno >> (8 * i));
    SHA256(w->seed, w->seed_len + 8, blk);
    memcpy(dst, blk + off, (size_t)k);
    w->rand_pos += k;
    dst += k;
    n -= k;
  }
}

static int h_random_get(xcall *x) {
  const aox_wasi_hooks *k = &x->w->hooks;
  uint64_t p = arg_u(x), n = arg_u(x);
  uint8_t *dst = gptr(x, p, n);
  int trc;
  if (!dst) RET(AOX_WASI_EFAULT);
  if ((trc = charge(x, n)) != 0) return trc;
  if (k->random)
    k->random(k->ud, dst, n);
  else
    builtin_random(x->w, dst, n);
  wasm_memory_mark_dirty(x->mem, p, n);
  RET(0);
}

static int h_sched_yield(xcall *x) { RET(0); }

/* poll_oneoff (built-in clock only): every subscription completes immediately.
 * Layouts (preview1):
 *   subscription (48 bytes): userdata u64 @0, tag u8 @8, then
 *     clock: id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40
 *     fd_read / fd_write: fd u32 @16
 *   event (32 bytes): userdata u64 @0, error u16 @8, type u8 @10,
 *     nbytes u64 @16, flags u16 @24
 * A relative clock subscription advances the virtual clock by its timeout, so a
 * guest's sleep() takes no host time and stays deterministic. */
static int h_poll_oneoff(xcall *x) {
  aox_wasi *w = x->w;
  uint64_t in = arg_u(x), out = arg_u(x), n = arg_u(x), nout = arg_u(x);
  uint64_t advance = 0;
  if (n == 0) RET(AOX_WASI_EINVAL);
  for (uint64_t i = 0; i < n; i++) {
    uint8_t sub[48], ev[32];
    if (rd(x, in + 48 * i, sub, 48) != 0) RET(AOX_WASI_EFAULT);
    memset(ev, 0, sizeof ev);
    memcpy(ev, sub, 8);
    ev[10] = sub[8];
    uint64_t fd = get_le(sub + 16, 4);
    uint16_t err = 0;
    if (sub[8] == 0) {            /* clock */
      uint64_t timeout = get_le(sub + 24, 8);
      int absolute = sub[40] & 1;
      if (absolute) {
        if (timeout > w->clock_ns && timeout - w->clock_ns > advance)
          advance = timeout - w->clock_ns;
      } else if (timeout > advance) {
        advance = timeout;
      }
    } else if (sub[8] == 1 || sub[8] == 2) {   /* fd_read, fd_write */
      wasi_fd *f = get_fd(w, fd);
      uint64_t nbytes = 0;
      if (!f || (sub[8] == 1 && f->kind != FD_STDIN) ||
          (sub[8] == 2 && f->kind == FD_STDIN))
        err = AOX_WASI_EBADF;
      else if (sub[8] == 1)
        nbytes = w->stdin_len - w->stdin_pos;
      put_le(ev + 16, nbytes, 8);
      if (sub[8] == 1 && !err && nbytes == 0) ev[24] = 1;   /* hangup: EOF */
    } else {
      err = AOX_WASI_EINVAL;
    }
    put_le(ev + 8, err, 2);
    if (wr(x, out + 32 * i, ev, 32)) RET(AOX_WASI_EFAULT);
  }
  w->clock_ns += advance;
  if (wrp(x, nout, n)) RET(AOX_WASI_EFAULT);
  RET(0);
}

/* ------------------------------------------------------------------------ */
/* process                                                                  */
/* ------------------------------------------------------------------------ */

static int h_proc_exit(xcall *x) {
  aox_wasi *w = x->w;
  const aox_wasi_hooks *k = &w->hooks;
  int code = (int)(int64_t)(x->im->np ? (int32_t)arg_u(x) : 0);
  w->exited = 1;
  w->exit_code = code;
  if (k->exit) return k->exit(k->ud, x->call, code);
  return wasm_call_trap(x->call, "wasi proc_exit");
}

/* ------------------------------------------------------------------------ */
/* Linking                                                                  */
/* ------------------------------------------------------------------------ */

enum { NEED_NONE = 0, NEED_FS, NEED_CLOCK };   /* when the function is provided */

struct wasi_fn {
  const char *name;
  const char *params;      /* canonical: i = i32, I = i64, p = pointer/size (i32 or i64) */
  int has_result;          /* returns an i32 errno */
  int need;
  int (*fn)(xcall *x);
};

static const wasi_fn wasi_table[] = {
  {"args_get", "pp", 1, NEED_NONE, h_args_get},
  {"args_sizes_get", "pp", 1, NEED_NONE, h_args_sizes_get},
  {"environ_get", "pp", 1, NEED_NONE, h_environ_get},
  {"environ_sizes_get", "pp", 1, NEED_NONE, h_environ_sizes_get},
  {"clock_res_get", "ip", 1, NEED_NONE, h_clock_res_get},
  {"clock_time_get", "iIp", 1, NEED_NONE, h_clock_time_get},
  {"fd_close", "i", 1, NEED_NONE, h_fd_close},
  {"fd_datasync", "i", 1, NEED_FS, h_fd_sync},
  {"fd_fdstat_get", "ip", 1, NEED_NONE, h_fd_fdstat_get},
  {"fd_fdstat_set_flags", "ii", 1, NEED_NONE, h_fd_fdstat_set_flags},
  {"fd_filestat_get", "ip", 1, NEED_FS, h_fd_filestat_get},
  {"fd_prestat_get", "ip", 1, NEED_NONE, h_fd_prestat_get},
  {"fd_prestat_dir_name", "ipp", 1, NEED_NONE, h_fd_prestat_get},
  {"fd_pread", "ippIp", 1, NEED_FS, h_fd_pread},
  {"fd_pwrite", "ippIp", 1, NEED_FS, h_fd_pwrite},
  {"fd_read", "ippp", 1, NEED_NONE, h_fd_read},
  {"fd_seek", "iIip", 1, NEED_NONE, h_fd_seek},
  {"fd_sync", "i", 1, NEED_FS, h_fd_sync},
  {"fd_tell", "ip", 1, NEED_NONE, h_fd_tell},
  {"fd_write", "ippp", 1, NEED_NONE, h_fd_write},
  {"path_open", "iippiIIip", 1, NEED_FS, h_path_open},
  {"poll_oneoff", "pppp", 1, NEED_CLOCK, h_poll_oneoff},
  {"proc_exit", "i", 0, NEED_NONE, h_proc_exit},
  {"random_get", "pp", 1, NEED_NONE, h_random_get},
  {"sched_yield", "", 1, NEED_NONE, h_sched_yield},
};

/* the implementation of `name` this context provides, or NULL (ENOSYS) */
static const wasi_fn *find_fn(const aox_wasi *w, const char *name) {
  for (size_t i = 0; i < sizeof wasi_table / sizeof wasi_table[0]; i++) {
    const wasi_fn *f = &wasi_table[i];
    if (strcmp(f->name, name) != 0) continue;
    if (f->need == NEED_FS && !w->hooks.fs) return NULL;
    if (f->need == NEED_CLOCK && w->hooks.clock_time) return NULL;
    return f;
  }
  return NULL;
}

static int h_dispatch(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  const wasi_imp *im = ud;
  xcall x;
  memset(&x, 0, sizeof x);
  x.call = c;
  x.w = im->w;
  x.im = im;
  x.a = a;
  x.mem = wasm_call_memory(c);
  if (x.mem) {
    wasm_externtype t;
    wasm_extern_type(x.mem, &t);
    x.is64 = t.memory.is64;
  }
  if (!im->fn) {   /* ENOSYS stub */
    for (uint32_t i = 0; i < im->nr; i++) memset(&results[i].of, 0, sizeof results[i].of);
    if (im->nr && im->results[0] == WASM_I32) results[0].of.i32 = AOX_WASI_ENOSYS;
    return 0;
  }
  int rc = im->fn->fn(&x);
  if (rc) return rc;
  aox_wasi_set_result(results, im->nr, x.err);
  return 0;
}

static void free_imps(struct wasi_imp *im) {
  while (im) {
    wasi_imp *next = im->next;
    free(im);
    im = next;
  }
}

int aox_wasi_link_import(aox_wasi *w, wasm_imports *imps, const char *module_name,
                         const char *import_name, const char *wasi_name,
                         const wasm_valtype *params, uint32_t nparams,
                         const wasm_valtype *results, uint32_t nresults) {
  wasi_imp *im;
  if (nparams > 16 || nresults > 4) return WASM_EINVAL;
  im = calloc(1, sizeof *im);
  if (!im) return WASM_ENOMEM;
  im->next = w->imps;
  w->imps = im;
  im->w = w;
  im->fn = find_fn(w, wasi_name);
  im->np = nparams;
  im->nr = nresults;
  if (nparams) memcpy(im->params, params, nparams * sizeof *params);
  if (nresults) memcpy(im->results, results, nresults * sizeof *results);
  return wasm_imports_add_func(imps, module_name, import_name, im->params, im->np,
                               im->results, im->nr, h_dispatch, im);
}

int aox_wasi_module_uses_wasi(const wasm_module *module) {
  uint32_t n = wasm_module_import_count(module);
  for (uint32_t i = 0; i < n; i++) {
    const char *mod, *name;
    wasm_externtype t;
    if (wasm_module_import(module, i, &mod, &name, &t) == 0 && strcmp(mod, WASI_MODULE) == 0)
      return 1;
  }
  return 0;
}

/* Whether the module's memory (imported or exported) is 64-bit. */
static int module_is64(const wasm_module *module) {
  uint32_t n = wasm_module_import_count(module);
  for (uint32_t i = 0; i < n; i++) {
    const char *mod, *name;
    wasm_externtype t;
    if (wasm_module_import(module, i, &mod, &name, &t) == 0 && t.kind == WASM_EXTERN_MEMORY)
      return t.memory.is64;
  }
  n = wasm_module_export_count(module);
  for (uint32_t i = 0; i < n; i++) {
    const char *name;
    wasm_externtype t;
    if (wasm_module_export(module, i, &name, &t) == 0 && t.kind == WASM_EXTERN_MEMORY)
      return t.memory.is64;
  }
  return 0;
}

int aox_wasi_link(aox_wasi *w, const wasm_module *module, wasm_imports *imps) {
  uint32_t n = wasm_module_import_count(module);
  int is64 = module_is64(module);
  for (uint32_t i = 0; i < n; i++) {
    const char *mod, *name;
    wasm_externtype t;
    int rc;
    if (wasm_module_import(module, i, &mod, &name, &t) != 0) return WASM_EINVAL;
    if (strcmp(mod, WASI_MODULE) != 0 || t.kind != WASM_EXTERN_FUNC) continue;
    const wasi_fn *f = find_fn(w, name);
    if (f) {   /* the canonical preview1 signature */
      wasm_valtype params[16], res = WASM_I32;
      uint32_t np = (uint32_t)strlen(f->params);
      for (uint32_t k = 0; k < np; k++)
        params[k] = f->params[k] == 'I' || (f->params[k] == 'p' && is64) ? WASM_I64 : WASM_I32;
      rc = aox_wasi_link_import(w, imps, WASI_MODULE, name, name, params, np, &res,
                                f->has_result ? 1 : 0);
    } else {
      rc = aox_wasi_link_import(w, imps, WASI_MODULE, name, name, t.func.params,
                                t.func.nparams, t.func.results, t.func.nresults);
    }
    if (rc != 0) return rc;
  }
  return 0;
}

aox_wasi_run_result aox_wasi_run_start(aox_wasi *w, wasm_instance *inst, int *exit_code,
                                       wasm_trap *trap) {
  wasm_trap local;
  wasm_trap *t = trap ? trap : &local;
  wasm_extern *start = wasm_instance_export(inst, "_start");
  wasm_externtype ty;
  memset(t, 0, sizeof *t);
  *exit_code = 0;
  if (!start || wasm_extern_kind_of(start) != WASM_EXTERN_FUNC) {
    snprintf(t->message, sizeof t->message, "module has no _start function");
    return AOX_WASI_RUN_ERROR;
  }
  wasm_extern_type(start, &ty);
  if (ty.func.nparams != 0 || ty.func.nresults != 0) {
    snprintf(t->message, sizeof t->message, "_start must take and return nothing");
    return AOX_WASI_RUN_ERROR;
  }
  int rc = wasm_instance_call(inst, start, NULL, 0, NULL, 0, t);
  if (rc == 0) return AOX_WASI_RUN_EXIT;
  if (w->exited && rc == WASM_ETRAP && t->code == WASM_TRAP_HOST) {
    *exit_code = w->exit_code;
    return AOX_WASI_RUN_EXIT;
  }
  if (rc == WASM_EEXCEPTION) return AOX_WASI_RUN_EXCEPTION;
  if (rc == WASM_ETRAP) return AOX_WASI_RUN_TRAP;
  snprintf(t->message, sizeof t->message, "call failed (code %d)", rc);
  return AOX_WASI_RUN_ERROR;
}
