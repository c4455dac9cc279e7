/* wasi.h: the deterministic WASI preview1 host of aox: command modules (`aox wasm run`)
 * and, through hooks, the aos process devices (src/aos/).
 *
 * Everything a guest can observe comes from the embedder: arguments, environment,
 * stdin bytes, a virtual clock and a random seed, or the hooks that replace them
 * (clock, random stream, fuel charging, proc_exit, a file system behind the fds; see
 * aox_wasi_hooks). Nothing is read from the host (no real clock, no real files, no
 * host entropy), so two runs with the same configuration see the same world.
 *
 * What is implemented (module "wasi_snapshot_preview1"):
 *   args_get/args_sizes_get, environ_get/environ_sizes_get,
 *   fd_write (fd 1, 2 -> the caller's sink or an internal capture buffer),
 *   fd_read (fd 0 <- caller-supplied bytes), fd_close, fd_seek/fd_tell (ESPIPE on
 *   stdio), fd_fdstat_get, fd_fdstat_set_flags, fd_prestat_get/fd_prestat_dir_name
 *   (no preopens: EBADF), proc_exit (ends the call: see aox_wasi_run_start),
 *   clock_time_get/clock_res_get (virtual clock), random_get (SHA-256 counter-mode
 *   stream from the seed), sched_yield, poll_oneoff (clock and stdio subscriptions
 *   complete at once; clock subscriptions advance the virtual clock); with a file
 *   system also fd_pread/fd_pwrite/fd_filestat_get/fd_sync/fd_datasync/path_open, and
 *   every fd call goes to it.
 * Every other preview1 function the module imports is linked to a stub returning
 * ENOSYS (52), so modules that merely import e.g. sock_accept still run.
 *
 * Pointer width: pointers and sizes are 32- or 64-bit after the memory of the calling
 * instance (memory64 modules get 8-byte size_t and pointers, 16-byte iovecs).
 *
 * Threads: an aox_wasi is used by one thread at a time, like the instance it serves.
 */
#ifndef AOX_WASI_H
#define AOX_WASI_H

#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* WASI errno values used by this host (preview1 numbering). */
enum {
  AOX_WASI_ESUCCESS = 0,
  AOX_WASI_EBADF = 8,
  AOX_WASI_EFAULT = 21,
  AOX_WASI_EINVAL = 28,
  AOX_WASI_EIO = 29,
  AOX_WASI_ENOSPC = 51,
  AOX_WASI_ENOSYS = 52,
  AOX_WASI_ESPIPE = 70
};

/* Output sink: receives the bytes a guest writes to fd 1 or 2. Return 0 to accept
 * them, or a WASI errno to fail the guest's fd_write. */
typedef int (*aox_wasi_write_fn)(void *ud, int fd, const uint8_t *data, size_t len);

/* Optional file system behind the fds (a small vtable; the aos processes plug their
 * in-memory fs in here). With one, every fd call (including 0..2, whose meaning is
 * then the fs's) and fd_pread/fd_pwrite/fd_filestat_get/fd_sync/fd_datasync/
 * path_open go to it; without one, fds 0..2 are the built-in stdio and those six
 * calls are ENOSYS. Counts and offsets are >= 0 on success; errors are WASI errnos,
 * negated where the function returns a count. Paths reach open() absolute ("/" +
 * the guest's path, no preopens). */
typedef struct aox_wasi_fs {
  int64_t (*read)(void *ud, int fd, uint8_t *dst, uint64_t len, int64_t at); /* at < 0: */
  int64_t (*write)(void *ud, int fd, const uint8_t *src, uint64_t len, int64_t at); /* fd pos */
  int64_t (*seek)(void *ud, int fd, int64_t off, int whence);   /* new position */
  int (*close)(void *ud, int fd);
  int (*fdstat)(void *ud, int fd, uint8_t *filetype, uint16_t *fdflags, uint64_t *rights);
  int (*set_flags)(void *ud, int fd, uint16_t fdflags);
  int (*filestat)(void *ud, int fd, uint8_t *filetype, uint64_t *ino, uint64_t *size);
  int (*sync)(void *ud, int fd);
  int (*open)(void *ud, const char *path, uint16_t oflags, uint64_t rights, uint16_t fdflags,
              int *fd);
} aox_wasi_fs;

/* What the embedder supplies instead of the built-ins (every member optional; the
 * struct is copied by aox_wasi_new, `fs` must outlive the context). */
typedef struct aox_wasi_hooks {
  void *ud;                     /* passed to every hook and fs function */
  /* clock_time_get / clock_res_get: a WASI errno. When clock_time is set the virtual
   * clock of the config is not used and poll_oneoff is not provided (ENOSYS). */
  int (*clock_time)(void *ud, uint32_t id, uint64_t *ns);
  int (*clock_res)(void *ud, uint32_t id, uint64_t *ns);
  /* random_get: the next len bytes of the embedder's stream into dst (host memory). */
  void (*random)(void *ud, uint8_t *dst, uint64_t len);
  /* Fuel for host work: `units` (one per random byte, one per 16 bytes of fs I/O).
   * Return 0, or raise a trap with wasm_call_trap and return its value. */
  int (*charge)(void *ud, wasm_call *call, uint64_t units);
  /* proc_exit: must raise a trap with wasm_call_trap and return its value. */
  int (*exit)(void *ud, wasm_call *call, int code);
  const aox_wasi_fs *fs;
} aox_wasi_hooks;

/* Configuration. Strings and buffers are copied by aox_wasi_new(); the caller may
 * free them afterwards. Zero-initialise and set what you need. */
typedef struct aox_wasi_config {
  int argc;                     /* argv[0] is the program name the guest sees */
  const char *const *argv;
  size_t envc;                  /* "KEY=VALUE" strings */
  const char *const *envp;
  const uint8_t *stdin_data;    /* bytes fd 0 reads, then EOF */
  size_t stdin_len;
  aox_wasi_write_fn write;      /* NULL: capture into internal buffers (see below) */
  void *write_ud;
  size_t max_capture;           /* capture cap per stream in bytes; 0 = 16 MiB. Beyond
                                   it fd_write fails with ENOSPC. */
  uint64_t clock_ns;            /* virtual clock start (all clock ids), in ns */
  uint64_t clock_step_ns;       /* added after each clock_time_get (0 = frozen) */
  uint64_t clock_res_ns;        /* reported resolution; 0 = 1 */
  const uint8_t *seed;          /* random_get seed; may be empty */
  size_t seed_len;
  const aox_wasi_hooks *hooks;  /* NULL: all built-in (see aox_wasi_hooks) */
} aox_wasi_config;

typedef struct aox_wasi aox_wasi;

/* Create a WASI context. Returns 0, or -1 on allocation failure / bad config.
 * Free with aox_wasi_free(). */
int aox_wasi_new(const aox_wasi_config *cfg, aox_wasi **out);
void aox_wasi_free(aox_wasi *w);

/* Add to `imps` a host function for every "wasi_snapshot_preview1" function import
 * of `module`: the implementation if we have one (with the canonical preview1
 * signature for the module's pointer width, so a mismatching import fails to
 * instantiate), else an ENOSYS stub with the import's own signature. Other imports are left alone. `w` must outlive every
 * instance created with `imps`. Returns 0 or a WASM_E* code. */
int aox_wasi_link(aox_wasi *w, const wasm_module *module, wasm_imports *imps);

/* For embedders with their own linker: add to `imps` the import `module_name`.
 * `import_name` with the given signature, implementing the preview1 function
 * `wasi_name` (ENOSYS if we have none). Arguments are read whatever their integer
 * type (i32 or i64 pointers; an i64 may also come legalised as two i32s) and the
 * result is converted to the import's result type. Returns 0 or a WASM_E* code. */
int aox_wasi_link_import(aox_wasi *w, wasm_imports *imps, const char *module_name,
                         const char *import_name, const char *wasi_name,
                         const wasm_valtype *params, uint32_t nparams,
                         const wasm_valtype *results, uint32_t nresults);

/* Host-function plumbing shared with embedders that link by the import's own
 * signature: an argument as unsigned 64-bit whatever its type (floats: truncated,
 * negatives 0), and v stored into the first of nresults results converted to its type. */
uint64_t aox_wasi_val_u64(const wasm_val *v);
void aox_wasi_set_result(wasm_val *results, uint32_t nresults, int64_t v);
/* The 64-bit argument at *i of a call whose import has `params`: one i64 (or f64), or
 * a (low, high) i32 pair as emscripten legalises it; *i moves past it. */
uint64_t aox_wasi_arg_i64(const wasm_valtype *params, uint32_t nparams, const wasm_val *args,
                          uint32_t *i);

/* Whether `module` imports anything from "wasi_snapshot_preview1". */
int aox_wasi_module_uses_wasi(const wasm_module *module);

/* Outcome of running a command module. */
typedef enum {
  AOX_WASI_RUN_EXIT = 0,   /* returned from _start (exit code 0) or called proc_exit */
  AOX_WASI_RUN_TRAP,       /* the guest trapped (trap filled; includes out of fuel) */
  AOX_WASI_RUN_EXCEPTION,  /* an uncaught wasm exception escaped _start */
  AOX_WASI_RUN_ERROR       /* no _start export, or it has the wrong type */
} aox_wasi_run_result;

/* Call the command entry point `_start` of `inst` (whose imports came from
 * aox_wasi_link on this context). proc_exit(n) unwinds the guest through the
 * engine's trap path and is reported as AOX_WASI_RUN_EXIT with *exit_code = n.
 * `trap` (may be NULL) receives the trap for AOX_WASI_RUN_TRAP/EXCEPTION. */
aox_wasi_run_result aox_wasi_run_start(aox_wasi *w, wasm_instance *inst,
                                       int *exit_code, wasm_trap *trap);

/* Whether the guest called proc_exit, and with which code. */
int aox_wasi_exited(const aox_wasi *w, int *exit_code);

/* Captured output (only when cfg.write was NULL). The pointer stays valid until the
 * next guest write or aox_wasi_free(). fd is 1 or 2; other fds give NULL. */
const uint8_t *aox_wasi_output(const aox_wasi *w, int fd, size_t *len);

/* Number of random bytes handed out so far (the position in the random stream). */
uint64_t aox_wasi_random_position(const aox_wasi *w);

/* The current value of the virtual clock in ns. */
uint64_t aox_wasi_clock(const aox_wasi *w);

/* Guest-visible WASI state that changes while the guest runs: stdin position,
 * virtual clock, random stream position, the fd table (kinds and flags) and the
 * exit status. Together with an engine snapshot of the instance it lets a run be
 * resumed in a fresh context made from the same aox_wasi_config.
 * aox_wasi_state_save fills *out (malloc'd, caller frees) with a versioned byte
 * string; aox_wasi_state_restore returns 0, or -1 if the bytes are malformed or do
 * not fit this context (e.g. a stdin position past its stdin), leaving it as it was.
 * Captured output is not part of the state. */
int aox_wasi_state_save(const aox_wasi *w, uint8_t **out, size_t *out_len);
int aox_wasi_state_restore(aox_wasi *w, const uint8_t *bytes, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* AOX_WASI_H */
