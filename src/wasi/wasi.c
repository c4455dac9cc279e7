/* wasi.c: deterministic WASI preview1 host functions (see wasi.h for the contract).
 *
 * Guest memory is only touched through wasm_memory_read/wasm_memory_write, which
 * bounds-check and keep dirty-page tracking right; a bad guest pointer gives EFAULT.
 * All pointers are wasm32 (u32) offsets.
 */
#include "wasi/wasi.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WASI_MODULE "wasi_snapshot_preview1"
#define DEFAULT_CAPTURE (16u << 20)

/* fd kinds. A later in-memory file system adds FILE and DIR kinds here. */
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
  *out = w;
  return 0;
fail:
  aox_wasi_free(w);
  return -1;
}

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
/* Guest memory helpers                                                     */
/* ------------------------------------------------------------------------ */

static int rd32(wasm_extern *mem, uint32_t ptr, uint32_t *v) {
  uint8_t b[4];
  if (!mem || wasm_memory_read(mem, ptr, b, 4) != 0) return -1;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return 0;
}

static int wr(wasm_extern *mem, uint64_t ptr, const void *src, uint64_t len) {
  return mem && wasm_memory_write(mem, ptr, src, len) == 0 ? 0 : -1;
}

static int wr32(wasm_extern *mem, uint32_t ptr, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  return wr(mem, ptr, b, 4);
}

static int wr64(wasm_extern *mem, uint32_t ptr, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  return wr(mem, ptr, b, 8);
}

static uint32_t A32(const wasm_val *a, int i) { return (uint32_t)a[i].of.i32; }

#define RET(e) do { results[0].of.i32 = (e); return 0; } while (0)

/* ------------------------------------------------------------------------ */
/* args, environ                                                            */
/* ------------------------------------------------------------------------ */

static int put_strings(wasm_extern *mem, uint32_t vec, uint32_t buf, const char *blob,
                       size_t blob_len, const size_t *off, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (wr32(mem, vec + 4 * i, buf + (uint32_t)off[i]) != 0) return AOX_WASI_EFAULT;
  if (blob_len && wr(mem, buf, blob, blob_len) != 0) return AOX_WASI_EFAULT;
  return 0;
}

static int h_args_get(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  RET(put_strings(wasm_call_memory(c), A32(a, 0), A32(a, 1), w->args_blob,
                  w->args_blob_len, w->arg_off, w->argc));
}

static int h_args_sizes_get(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  wasm_extern *m = wasm_call_memory(c);
  if (wr32(m, A32(a, 0), w->argc) || wr32(m, A32(a, 1), (uint32_t)w->args_blob_len))
    RET(AOX_WASI_EFAULT);
  RET(0);
}

static int h_environ_get(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  RET(put_strings(wasm_call_memory(c), A32(a, 0), A32(a, 1), w->env_blob,
                  w->env_blob_len, w->env_off, w->envc));
}

static int h_environ_sizes_get(wasm_call *c, const wasm_val *a, wasm_val *results,
                               void *ud) {
  aox_wasi *w = ud;
  wasm_extern *m = wasm_call_memory(c);
  if (wr32(m, A32(a, 0), w->envc) || wr32(m, A32(a, 1), (uint32_t)w->env_blob_len))
    RET(AOX_WASI_EFAULT);
  RET(0);
}

/* ------------------------------------------------------------------------ */
/* fds                                                                      */
/* ------------------------------------------------------------------------ */

static wasi_fd *get_fd(aox_wasi *w, uint32_t fd) {
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

static int h_fd_write(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  wasm_extern *m = wasm_call_memory(c);
  wasi_fd *f = get_fd(w, A32(a, 0));
  uint32_t iovs = A32(a, 1), n = A32(a, 2), total = 0;
  uint8_t chunk[4096];
  if (!f) RET(AOX_WASI_EBADF);
  if (f->kind != FD_STDOUT && f->kind != FD_STDERR) RET(AOX_WASI_EBADF);
  int fd = f->kind == FD_STDOUT ? 1 : 2;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t p, l;
    if (rd32(m, iovs + 8 * i, &p) || rd32(m, iovs + 8 * i + 4, &l)) RET(AOX_WASI_EFAULT);
    while (l > 0) {
      uint32_t k = l < sizeof chunk ? l : (uint32_t)sizeof chunk;
      if (wasm_memory_read(m, p, chunk, k) != 0) RET(AOX_WASI_EFAULT);
      int e = emit(w, fd, chunk, k);
      if (e) RET(e);
      p += k;
      l -= k;
      total += k;
    }
  }
  if (wr32(m, A32(a, 3), total)) RET(AOX_WASI_EFAULT);
  RET(0);
}

static int h_fd_read(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  wasm_extern *m = wasm_call_memory(c);
  wasi_fd *f = get_fd(w, A32(a, 0));
  uint32_t iovs = A32(a, 1), n = A32(a, 2), total = 0;
  if (!f || f->kind != FD_STDIN) RET(AOX_WASI_EBADF);
  for (uint32_t i = 0; i < n && w->stdin_pos < w->stdin_len; i++) {
    uint32_t p, l;
    if (rd32(m, iovs + 8 * i, &p) || rd32(m, iovs + 8 * i + 4, &l)) RET(AOX_WASI_EFAULT);
    size_t left = w->stdin_len - w->stdin_pos;
    uint32_t k = l < left ? l : (uint32_t)left;
    if (k && wr(m, p, w->stdin_data + w->stdin_pos, k)) RET(AOX_WASI_EFAULT);
    w->stdin_pos += k;
    total += k;
  }
  if (wr32(m, A32(a, 3), total)) RET(AOX_WASI_EFAULT);
  RET(0);
}

static int h_fd_close(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  wasi_fd *f = get_fd(w, A32(a, 0));
  (void)c;
  if (!f) RET(AOX_WASI_EBADF);
  f->kind = FD_CLOSED;
  RET(0);
}

static int h_fd_seek(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  (void)c;
  if (!get_fd(w, A32(a, 0))) RET(AOX_WASI_EBADF);
  RET(AOX_WASI_ESPIPE);   /* stdio is not seekable */
}

static int h_fd_tell(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  (void)c;
  if (!get_fd(w, A32(a, 0))) RET(AOX_WASI_EBADF);
  RET(AOX_WASI_ESPIPE);
}

/* rights bits (preview1) */
#define RIGHT_FD_READ (1ull << 1)
#define RIGHT_FD_WRITE (1ull << 6)
#define RIGHT_POLL_FD_READWRITE (1ull << 27)
#define FILETYPE_CHARACTER_DEVICE 2

static int h_fd_fdstat_get(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  wasi_fd *f = get_fd(w, A32(a, 0));
  uint8_t st[24];
  uint64_t rights;
  if (!f) RET(AOX_WASI_EBADF);
  rights = (f->kind == FD_STDIN ? RIGHT_FD_READ : RIGHT_FD_WRITE) | RIGHT_POLL_FD_READWRITE;
  memset(st, 0, sizeof st);
  st[0] = FILETYPE_CHARACTER_DEVICE;
  st[2] = (uint8_t)f->flags;
  st[3] = (uint8_t)(f->flags >> 8);
  for (int i = 0; i < 8; i++) st[8 + i] = (uint8_t)(rights >> (8 * i));
  if (wr(wasm_call_memory(c), A32(a, 1), st, sizeof st)) RET(AOX_WASI_EFAULT);
  RET(0);
}

static int h_fd_fdstat_set_flags(wasm_call *c, const wasm_val *a, wasm_val *results,
                                 void *ud) {
  aox_wasi *w = ud;
  wasi_fd *f = get_fd(w, A32(a, 0));
  (void)c;
  if (!f) RET(AOX_WASI_EBADF);
  f->flags = (uint16_t)a[1].of.i32;
  RET(0);
}

static int h_fd_prestat_get(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  (void)c; (void)a; (void)ud;
  RET(AOX_WASI_EBADF);   /* no preopened directories */
}

/* ------------------------------------------------------------------------ */
/* clocks, random, scheduling                                               */
/* ------------------------------------------------------------------------ */

static int h_clock_res_get(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  if (A32(a, 0) > 3) RET(AOX_WASI_EINVAL);
  if (wr64(wasm_call_memory(c), A32(a, 1), w->clock_res_ns)) RET(AOX_WASI_EFAULT);
  RET(0);
}

static int h_clock_time_get(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  if (A32(a, 0) > 3) RET(AOX_WASI_EINVAL);
  if (wr64(wasm_call_memory(c), A32(a, 2), w->clock_ns)) RET(AOX_WASI_EFAULT);
  w->clock_ns += w->clock_step_ns;
  RET(0);
}

/* Block k of the random stream is SHA-256(seed || k as u64 little-endian). The
 * seed buffer has 8 spare bytes at its end for the counter. */
static void rand_block(aox_wasi *w, uint64_t k, uint8_t out[32]) {
  for (int i = 0; i < 8; i++) w->seed[w->seed_len + (size_t)i] = (uint8_t)(k >> (8 * i));
  SHA256(w->seed, w->seed_len + 8, out);
}

static int h_random_get(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  wasm_extern *m = wasm_call_memory(c);
  uint32_t p = A32(a, 0), n = A32(a, 1);
  uint8_t blk[32];
  if (!m || (uint64_t)p + n > wasm_memory_size(m)) RET(AOX_WASI_EFAULT);
  while (n > 0) {
    uint64_t off = w->rand_pos % 32;
    uint32_t k = (uint32_t)(32 - off);
    if (k > n) k = n;
    rand_block(w, w->rand_pos / 32, blk);
    if (wr(m, p, blk + off, k)) RET(AOX_WASI_EFAULT);
    w->rand_pos += k;
    p += k;
    n -= k;
  }
  RET(0);
}

static int h_sched_yield(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  (void)c; (void)a; (void)ud;
  RET(0);
}

/* poll_oneoff: every subscription completes immediately. Layouts (preview1):
 *   subscription (48 bytes): userdata u64 @0, tag u8 @8, then
 *     clock: id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40
 *     fd_read / fd_write: fd u32 @16
 *   event (32 bytes): userdata u64 @0, error u16 @8, type u8 @10,
 *     nbytes u64 @16, flags u16 @24
 * A relative clock subscription advances the virtual clock by its timeout, so a
 * guest's sleep() takes no host time and stays deterministic. */
static int h_poll_oneoff(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  wasm_extern *m = wasm_call_memory(c);
  uint32_t in = A32(a, 0), out = A32(a, 1), n = A32(a, 2);
  uint64_t advance = 0;
  if (n == 0) RET(AOX_WASI_EINVAL);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t sub[48], ev[32];
    if (!m || wasm_memory_read(m, in + 48ull * i, sub, 48) != 0) RET(AOX_WASI_EFAULT);
    memset(ev, 0, sizeof ev);
    memcpy(ev, sub, 8);
    ev[10] = sub[8];
    uint32_t fd = (uint32_t)sub[16] | (uint32_t)sub[17] << 8 | (uint32_t)sub[18] << 16 |
                  (uint32_t)sub[19] << 24;
    uint16_t err = 0;
    if (sub[8] == 0) {            /* clock */
      uint64_t timeout = 0;
      for (int k = 0; k < 8; k++) timeout |= (uint64_t)sub[24 + k] << (8 * k);
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
      for (int k = 0; k < 8; k++) ev[16 + k] = (uint8_t)(nbytes >> (8 * k));
      if (sub[8] == 1 && !err && nbytes == 0) ev[24] = 1;   /* hangup: EOF */
    } else {
      err = AOX_WASI_EINVAL;
    }
    ev[8] = (uint8_t)err;
    ev[9] = (uint8_t)(err >> 8);
    if (wr(m, out + 32ull * i, ev, 32)) RET(AOX_WASI_EFAULT);
  }
  w->clock_ns += advance;
  if (wr32(m, A32(a, 3), n)) RET(AOX_WASI_EFAULT);
  RET(0);
}

/* ------------------------------------------------------------------------ */
/* process                                                                  */
/* ------------------------------------------------------------------------ */

static int h_proc_exit(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  aox_wasi *w = ud;
  (void)results;
  w->exited = 1;
  w->exit_code = a[0].of.i32;
  return wasm_call_trap(c, "wasi proc_exit");
}

/* ENOSYS stub for preview1 functions we do not implement. `ud` encodes the
 * import's result shape: (nresults << 1) | (1 if the only result is an i32). */
static int h_nosys(wasm_call *c, const wasm_val *a, wasm_val *results, void *ud) {
  uintptr_t shape = (uintptr_t)ud;
  uint32_t nres = (uint32_t)(shape >> 1);
  (void)c; (void)a;
  for (uint32_t i = 0; i < nres; i++) memset(&results[i].of, 0, sizeof results[i].of);
  if (shape & 1) results[0].of.i32 = AOX_WASI_ENOSYS;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Linking                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *params;      /* one letter per param: i = i32, I = i64 */
  int has_result;          /* returns an i32 errno */
  wasm_host_fn fn;
} wasi_fn;

static const wasi_fn wasi_table[] = {
  {"args_get", "ii", 1, h_args_get},
  {"args_sizes_get", "ii", 1, h_args_sizes_get},
  {"environ_get", "ii", 1, h_environ_get},
  {"environ_sizes_get", "ii", 1, h_environ_sizes_get},
  {"clock_res_get", "ii", 1, h_clock_res_get},
  {"clock_time_get", "iIi", 1, h_clock_time_get},
  {"fd_close", "i", 1, h_fd_close},
  {"fd_fdstat_get", "ii", 1, h_fd_fdstat_get},
  {"fd_fdstat_set_flags", "ii", 1, h_fd_fdstat_set_flags},
  {"fd_prestat_get", "ii", 1, h_fd_prestat_get},
  {"fd_prestat_dir_name", "iii", 1, h_fd_prestat_get},
  {"fd_read", "iiii", 1, h_fd_read},
  {"fd_seek", "iIii", 1, h_fd_seek},
  {"fd_tell", "ii", 1, h_fd_tell},
  {"fd_write", "iiii", 1, h_fd_write},
  {"poll_oneoff", "iiii", 1, h_poll_oneoff},
  {"proc_exit", "i", 0, h_proc_exit},
  {"random_get", "ii", 1, h_random_get},
  {"sched_yield", "", 1, h_sched_yield},
};

static const wasi_fn *find_fn(const char *name) {
  for (size_t i = 0; i < sizeof wasi_table / sizeof wasi_table[0]; i++)
    if (strcmp(wasi_table[i].name, name) == 0) return &wasi_table[i];
  return NULL;
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

int aox_wasi_link(aox_wasi *w, const wasm_module *module, wasm_imports *imps) {
  uint32_t n = wasm_module_import_count(module);
  for (uint32_t i = 0; i < n; i++) {
    const char *mod, *name;
    wasm_externtype t;
    int rc;
    if (wasm_module_import(module, i, &mod, &name, &t) != 0) return WASM_EINVAL;
    if (strcmp(mod, WASI_MODULE) != 0 || t.kind != WASM_EXTERN_FUNC) continue;
    const wasi_fn *f = find_fn(name);
    if (f) {
      wasm_valtype params[8], res = WASM_I32;
      uint32_t np = (uint32_t)strlen(f->params);
      for (uint32_t k = 0; k < np; k++) params[k] = f->params[k] == 'I' ? WASM_I64 : WASM_I32;
      rc = wasm_imports_add_func(imps, WASI_MODULE, name, params, np, &res,
                                 f->has_result ? 1 : 0, f->fn, w);
    } else {
      uintptr_t shape = (uintptr_t)t.func.nresults << 1;
      if (t.func.nresults == 1 && t.func.results[0] == WASM_I32) shape |= 1;
      rc = wasm_imports_add_func(imps, WASI_MODULE, name, t.func.params, t.func.nparams,
                                 t.func.results, t.func.nresults, h_nosys, (void *)shape);
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
