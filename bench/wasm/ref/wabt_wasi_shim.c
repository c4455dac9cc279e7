/* bench/wasm/ref/wabt_wasi_shim.c: the few WASI calls the benchmarks make, for wabt's
 * wasm-interp, whose Debian build has no WASI ("wasi support not compiled in").
 *
 * run.sh links this file into a second wasm build of each benchmark (same source,
 * same clang flags). It defines the symbols wasi-libc would otherwise import from
 * wasi_snapshot_preview1, so the module's only import is wasm-interp's generic
 * `host.print` (--host-print), called once per output byte; run.sh decodes those
 * calls back into the program's output and checks it against native. Arguments:
 * argc = 1, so every benchmark runs its default size. The kernels are unchanged;
 * only the I/O path differs, and it runs a few dozen times per program. */
#include <stdint.h>
#include <string.h>

#define IMPORTED(name) __imported_wasi_snapshot_preview1_##name

__attribute__((import_module("host"), import_name("print"))) void host_print(int32_t c);

typedef struct { const uint8_t *buf; uint32_t len; } ciovec;

int32_t IMPORTED(args_sizes_get)(int32_t *argc, int32_t *size);
int32_t IMPORTED(args_get)(uint8_t **argv, uint8_t *buf);
int32_t IMPORTED(fd_close)(int32_t fd);
int32_t IMPORTED(fd_fdstat_get)(int32_t fd, uint8_t *st);
int32_t IMPORTED(fd_seek)(int32_t fd, int64_t off, int32_t whence, uint64_t *pos);
int32_t IMPORTED(fd_write)(int32_t fd, const ciovec *iov, int32_t n, uint32_t *written);
_Noreturn void IMPORTED(proc_exit)(int32_t code);

int32_t IMPORTED(args_sizes_get)(int32_t *argc, int32_t *size) { *argc = 1; *size = 2; return 0; }

int32_t IMPORTED(args_get)(uint8_t **argv, uint8_t *buf) {
  buf[0] = 'p'; buf[1] = 0; argv[0] = buf;
  return 0;
}

int32_t IMPORTED(fd_close)(int32_t fd) { return 0; }

/* a character device without seek rights: stdout is line buffered, as on a tty */
int32_t IMPORTED(fd_fdstat_get)(int32_t fd, uint8_t *st) { memset(st, 0, 24); st[0] = 2; return 0; }

int32_t IMPORTED(fd_seek)(int32_t fd, int64_t off, int32_t whence, uint64_t *pos) { return 70; /* ESPIPE */ }

int32_t IMPORTED(fd_write)(int32_t fd, const ciovec *iov, int32_t n, uint32_t *written) {
  uint32_t total = 0;
  for (int32_t i = 0; i < n; i++) {
    for (uint32_t j = 0; j < iov[i].len; j++) host_print(iov[i].buf[j]);
    total += iov[i].len;
  }
  *written = total;
  return 0;
}

/* a negative value tells run.sh the exit code; the trap ends wasm-interp */
_Noreturn void IMPORTED(proc_exit)(int32_t code) { host_print(-1 - code); __builtin_trap(); }
