/*
 * aos/aos_int.h: private to src/aos/. The host side of an aos/emscripten instance:
 * the emscripten "env" functions, the __syscall_* family, WASI preview1, WeaveDrive
 * and the metering import, all over one aos_host context per process instance.
 *
 * Linking resolves every function import of the module by name with the import's
 * own signature (so one implementation serves wasm32 and wasm64: pointers and
 * sizes are read as unsigned 64-bit whatever their wasm type). An import we do not
 * implement is linked to a stub that traps "unimplemented import <module>.<name>"
 * when called — loading never fails because of an import we do not know, except
 * for non-function imports (memory, table, global), which we cannot provide.
 *
 * Unwinding: longjmp (emscripten JS-style SjLj), legacy C++ throws, exit/proc_exit
 * and abort are raised as engine traps with `unwind` recording why; invoke_*
 * trampolines catch only the longjmp and C++ kinds (as emscripten's JS glue catches
 * only its own throws) and let real traps (out of fuel, out of bounds, ...) and
 * wasm exceptions propagate.
 */
#ifndef AOX_AOS_INT_H
#define AOX_AOS_INT_H

#include <stdint.h>
#include "aos/aos_fs.h"
#include "core/error.h"
#include "wasm/wasm.h"
#include "wasi/wasi.h"

typedef struct aox_store aox_store;

enum aos_unwind {
    AOS_UNWIND_NONE = 0,
    AOS_UNWIND_LONGJMP,     /* _emscripten_throw_longjmp / emscripten_longjmp */
    AOS_UNWIND_EXIT,        /* exit() / proc_exit() */
    AOS_UNWIND_ABORT,       /* abort(), __assert_fail, unimplemented import */
    AOS_UNWIND_GAS,         /* metering.usegas over the compute limit */
    AOS_UNWIND_CXX          /* legacy (JS-style) C++ throw: __cxa_throw & co */
};

typedef struct aos_import aos_import;

typedef struct aos_host {
    aos_fs        *fs;             /* live fs (owned by the device state) */
    aox_wasi      *wasi;           /* the shared WASI preview1 host (hooks below) */
    aox_store     *store;          /* WeaveDrive reads data/<id> (may be NULL) */
    wasm_instance *inst;
    int            is64;           /* memory is 64-bit */
    int            old_stat;       /* emscripten <= 3.1.2x struct stat layout */
    int            minified;       /* wasm32-unknown-emscripten: imports from module "a"
                                      and exports under one-letter names (see
                                      aos_export) */
    /* exports bound after instantiation (NULL when absent) */
    wasm_extern   *f_stack_save, *f_stack_restore, *f_set_threw, *f_malloc, *f_free;
    /* the emscripten tempRet0 register (part of the state) */
    int32_t        temp_ret0;
    /* per call inputs */
    int64_t        timestamp_ms;
    uint8_t        seed[32];
    uint64_t       rand_pos;
    /* limits and accounting */
    uint64_t       max_bytes;      /* memory limit in bytes (0: engine max) */
    int            grow_refused;   /* a grow beyond max_bytes was refused this call */
    uint64_t       grow_requested; /* bytes asked for by the refused grow */
    uint64_t       gas_limit;      /* metering.usegas limit (0: none) */
    uint64_t       gas_used;       /* metering.usegas total this call */
    /* unwinding */
    int            unwind;         /* enum aos_unwind of the trap in flight */
    int            exit_code;
    char           abort_msg[240];
    /* legacy C++ exception ABI (emscripten JS-style, reset at every call) */
    uint64_t       exc_last;       /* exceptionLast: thrown object pointer */
    int32_t        exc_uncaught;   /* uncaughtExceptionCount */
    uint64_t       exc_caught[64]; /* exceptionCaught: CatchInfo pointers */
    uint32_t       exc_ncaught;
    wasm_extern   *f_can_catch, *f_is_pointer_type;
    /* imports (ud of every host function; freed with the host) */
    aos_import    *imports;
    uint32_t       nimports;
    uint32_t       unimplemented;  /* how many imports are trapping stubs */
} aos_host;

int  aos_host_new(aos_host **out);
void aos_host_free(aos_host *h);     /* not the fs */
/* Adds every function import of m to imps (see above). err names an import we
 * cannot provide. */
int  aos_host_link(aos_host *h, const wasm_module *m, wasm_imports *imps, aox_err *err);
/* After instantiation: remember the instance and look up stackSave & co. */
void aos_host_bind(aos_host *h, wasm_instance *inst);
/* An export by its canonical emscripten name ("handle", "malloc", "stackSave",
 * "__wasm_call_ctors", "main", ...), also under the minified names of the legacy
 * wasm32-unknown-emscripten format; NULL if absent or not a function. */
wasm_extern *aos_export(const aos_host *h, wasm_instance *inst, const char *name);
/* Resets the per-call state; seed_src is hashed into the random seed. */
void aos_host_begin(aos_host *h, int64_t timestamp_ms, const void *seed_src, size_t n);

/* Calls an export with integer arguments converted to its parameter types; the first
 * result (if any) converted back into *res. Returns 0 or a WASM_E* code (trap filled). */
int  aos_call_export(wasm_instance *inst, wasm_extern *f, const uint64_t *args, uint32_t n,
                     uint64_t *res, wasm_trap *trap);

/* emscripten's heap growth: the new size in bytes for a request, or 0 if refused. */
uint64_t aos_heap_grow_target(uint64_t old_size, uint64_t requested, uint64_t max_size);

#endif
