/* wasm.h: aox's WebAssembly engine, the one public header of src/wasm/.
 *
 * A self-contained engine: decode + validate (+ compile to an internal slot code)
 * a module, link it against an import set, instantiate, call exports, meter fuel,
 * limit memory and call depth, trap, snapshot/restore an instance and enumerate the
 * memory pages written since a mark. It knows nothing of processes or stores.
 *
 * Supported: WebAssembly 2.0 core (MVP, mutable-global import/export, sign
 * extension, non-trapping float-to-int, multi-value, bulk memory, reference types
 * with multiple tables), memory64, and the legacy exception-handling proposal
 * (try/catch/catch_all/throw/rethrow/delegate, tags) as emscripten emits it.
 * SIMD is rejected ("unsupported feature").
 *
 * Object graph and lifetimes (who frees what, what must outlive what):
 *
 *   wasm_engine      created by the embedder, freed last. Everything below refers to it.
 *   wasm_module      decoded+validated+compiled code. Owns a copy of what it needs from
 *                    the input bytes (the caller may free the bytes after decode).
 *                    Instances hold a reference, so wasm_module_free() may come
 *                    before the instances are freed.
 *   wasm_imports     an import set (builder). Holds host functions and extern handles
 *                    borrowed from other instances; only needed during instantiation
 *                    (it may be freed right after wasm_instance_new).
 *   wasm_instance    one instantiation. Instances linked through imports share a
 *                    store and are destroyed together once the embedder has freed
 *                    all of them (funcrefs may cross instances through shared
 *                    tables), so instances may be freed in any order.
 *   wasm_extern      an exported entity handle (func, global, table, memory, tag). It is
 *                    owned by its instance (or by a store shared among linked instances)
 *                    and is valid while any instance referencing it lives. Never freed
 *                    by the embedder.
 *
 * Threads: an engine and its modules may be shared between threads (read-only after
 * creation; modules are refcounted atomically). Instances linked to each other (a
 * store) are used by one thread at a time; the only cross-thread call allowed on an
 * instance is wasm_instance_interrupt().
 *
 * Errors: functions return 0 on success or a negative WASM_E* code; text goes into a
 * caller-supplied wasm_error. Guest faults while running are traps (wasm_trap), kept
 * apart from API errors. Library code never prints nor exits.
 */
#ifndef AOX_WASM_H
#define AOX_WASM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Basics                                                              */
/* ------------------------------------------------------------------ */

/* Engine version: record it with results/snapshots (anything that changes results,
 * e.g. the fuel cost table, bumps it). */
#define WASM_ENGINE_VERSION "aox-wasm/1"

typedef struct wasm_engine wasm_engine;
typedef struct wasm_module wasm_module;
typedef struct wasm_imports wasm_imports;
typedef struct wasm_instance wasm_instance;
typedef struct wasm_extern wasm_extern;
typedef struct wasm_call wasm_call;   /* context handed to host functions */

/* API return codes (0 = success). */
enum {
    WASM_OK = 0,
    WASM_EINVAL = -1,     /* bad argument / API misuse */
    WASM_ENOMEM = -2,     /* host allocation failed */
    WASM_EDECODE = -3,    /* malformed or invalid module (see wasm_error) */
    WASM_ELINK = -4,      /* unknown import / incompatible import type */
    WASM_ETRAP = -5,      /* the guest trapped (see wasm_trap) */
    WASM_ENOTFOUND = -6,  /* no such export */
    WASM_ESNAPSHOT = -7,  /* snapshot bytes malformed or not for this module */
    WASM_EEXCEPTION = -8  /* an uncaught wasm exception reached the host (see wasm_trap) */
};

typedef enum wasm_valtype {
    WASM_I32 = 0x7F,
    WASM_I64 = 0x7E,
    WASM_F32 = 0x7D,
    WASM_F64 = 0x7C,
    WASM_FUNCREF = 0x70,
    WASM_EXTERNREF = 0x6F
} wasm_valtype;

/* A funcref value: NULL for ref.null, else a function handle (an extern of kind
 * WASM_EXTERN_FUNC, valid while its instance lives). */
typedef struct wasm_val {
    wasm_valtype type;
    union {
        int32_t i32;
        int64_t i64;
        float f32;            /* bit pattern preserved; use f32_bits to see NaN payloads */
        double f64;
        uint32_t f32_bits;
        uint64_t f64_bits;
        wasm_extern *ref;     /* funcref: NULL = null */
        uintptr_t externref;  /* externref: opaque host value; WASM_EXTERNREF_NULL = null */
    } of;
} wasm_val;

/* externref null. Host externref values must differ from it. */
#define WASM_EXTERNREF_NULL ((uintptr_t)0)

/* Error from decode/validate/link/snapshot: message text plus, for decode
 * errors, the byte offset in the module where the problem was found (-1 if none). */
typedef struct wasm_error {
    int64_t offset;
    char message[256];
    int kind;           /* WASM_ERR_* : malformed (binary decoding) vs invalid (validation) */
} wasm_error;

enum { WASM_ERR_OTHER = 0, WASM_ERR_MALFORMED = 1, WASM_ERR_INVALID = 2 };

/* ------------------------------------------------------------------ */
/* Traps                                                               */
/* ------------------------------------------------------------------ */

typedef enum wasm_trap_code {
    WASM_TRAP_NONE = 0,
    WASM_TRAP_UNREACHABLE,          /* "unreachable" */
    WASM_TRAP_MEMORY_OOB,           /* "out of bounds memory access" */
    WASM_TRAP_TABLE_OOB,            /* "out of bounds table access" */
    WASM_TRAP_DIV_ZERO,             /* "integer divide by zero" */
    WASM_TRAP_INT_OVERFLOW,         /* "integer overflow" */
    WASM_TRAP_INVALID_CONVERSION,   /* "invalid conversion to integer" */
    WASM_TRAP_INDIRECT_MISMATCH,    /* "indirect call type mismatch" */
    WASM_TRAP_UNINIT_ELEMENT,       /* "uninitialized element" */
    WASM_TRAP_STACK_EXHAUSTED,      /* "call stack exhausted" */
    WASM_TRAP_UNCAUGHT_EXCEPTION,   /* "uncaught exception" */
    WASM_TRAP_OUT_OF_FUEL,          /* "out of fuel" */
    WASM_TRAP_OUT_OF_MEMORY,        /* "out of memory" (host allocation or limit) */
    WASM_TRAP_INTERRUPTED,          /* "interrupted" */
    WASM_TRAP_HOST,                 /* raised by a host function (message from host) */
    WASM_TRAP_NULL_REFERENCE        /* "null reference" (reserved) */
} wasm_trap_code;

/* A trap. `message` is the spec wording for engine traps, or the host's text.
 * When code == WASM_TRAP_UNCAUGHT_EXCEPTION the exception's tag and payload are kept
 * in the instance and can be fetched with wasm_instance_last_exception(). */
typedef struct wasm_trap {
    wasm_trap_code code;
    char message[200];
} wasm_trap;

/* The canonical message of a trap code ("unreachable", ...). Never NULL. */
const char *wasm_trap_message(wasm_trap_code code);

/* ------------------------------------------------------------------ */
/* Engine                                                              */
/* ------------------------------------------------------------------ */

typedef struct wasm_features {
    int memory64;     /* accept 64-bit index memories */
    int exceptions;   /* accept the legacy exception-handling proposal */
    /* SIMD is never accepted. Everything in WebAssembly 2.0 core is always on. */
} wasm_features;

typedef struct wasm_config {
    uint64_t max_pages_per_instance; /* memory.grow beyond this returns -1; 0 = 65536 (4 GiB) */
    uint64_t max_total_pages;        /* engine-wide cap over live instances; 0 = none */
    uint32_t max_call_depth;         /* wasm+host frames; 0 = WASM_DEFAULT_CALL_DEPTH */
    uint32_t value_stack_slots;      /* 64-bit slots per execution stack; 0 = default (1M) */
    int fuel_enabled;                /* compile metering code; modules compiled with
                                        fuel off cannot meter later */
    int64_t start_fuel;              /* fuel an instance starts with, which its start
                                        function runs on (it cannot be set earlier);
                                        0 = unlimited. Set the per-call fuel after
                                        wasm_instance_new(); wasm_instance_fuel()
                                        then tells what the start function left. */
    wasm_features features;
} wasm_config;

#define WASM_DEFAULT_CALL_DEPTH 10000u

/* Create an engine. `cfg` may be NULL for defaults (fuel off, all features on).
 * Free with wasm_engine_free() after every module and instance made with it. */
int wasm_engine_new(const wasm_config *cfg, wasm_engine **out);
void wasm_engine_free(wasm_engine *engine);
/* Pages (64 KiB) currently held by all live instances of the engine. */
uint64_t wasm_engine_total_pages(const wasm_engine *engine);

/* ------------------------------------------------------------------ */
/* Modules                                                             */
/* ------------------------------------------------------------------ */

typedef enum wasm_extern_kind {
    WASM_EXTERN_FUNC = 0,
    WASM_EXTERN_TABLE = 1,
    WASM_EXTERN_MEMORY = 2,
    WASM_EXTERN_GLOBAL = 3,
    WASM_EXTERN_TAG = 4
} wasm_extern_kind;

/* A function type. Arrays are owned by the module/instance it came from. */
typedef struct wasm_functype {
    uint32_t nparams, nresults;
    const wasm_valtype *params;
    const wasm_valtype *results;
} wasm_functype;

typedef struct wasm_limits {
    uint64_t min;
    uint64_t max;       /* valid if has_max */
    int has_max;
} wasm_limits;

/* Type of an import or export. Which member is valid depends on kind. */
typedef struct wasm_externtype {
    wasm_extern_kind kind;
    wasm_functype func;                                  /* FUNC; TAG: params = payload */
    struct { wasm_valtype elem; wasm_limits limits; } table;  /* TABLE */
    struct { wasm_limits limits; int is64; } memory;     /* MEMORY (limits in pages) */
    struct { wasm_valtype type; int mutable_; } global;  /* GLOBAL */
} wasm_externtype;

/* Decode, validate and compile `len` bytes. `features` NULL = the engine's.
 * On failure returns WASM_EDECODE (or WASM_ENOMEM) and fills *err (offset, message
 * using the spec's wording, e.g. "unexpected end", "type mismatch").
 * The bytes may be freed after the call. Free the module with wasm_module_free(). */
int wasm_module_new(wasm_engine *engine, const uint8_t *bytes, size_t len,
                    const wasm_features *features, wasm_module **out, wasm_error *err);
void wasm_module_free(wasm_module *module);

/* Introspection. Strings are owned by the module and NUL-terminated; a name that
 * itself contains NUL bytes is cut short there (use wasm_module_export_name_len). */
uint32_t wasm_module_import_count(const wasm_module *m);
int wasm_module_import(const wasm_module *m, uint32_t i, const char **module_name,
                       const char **name, wasm_externtype *type);
uint32_t wasm_module_export_count(const wasm_module *m);
int wasm_module_export(const wasm_module *m, uint32_t i, const char **name,
                       wasm_externtype *type);
/* Byte length of export i's name (names may contain NUL bytes). */
size_t wasm_module_export_name_len(const wasm_module *m, uint32_t i);

/* ------------------------------------------------------------------ */
/* Host functions and import sets                                      */
/* ------------------------------------------------------------------ */

/* A host function. `args` holds nparams values, `results` has room for nresults
 * (types already set by the engine). Return 0 to continue, or the value returned
 * by wasm_call_trap()/wasm_call_throw()/a failed wasm_call_func() to unwind.
 * `ud` is the pointer given when the function was added. */
typedef int (*wasm_host_fn)(wasm_call *call, const wasm_val *args, wasm_val *results,
                            void *ud);

/* Create an empty import set. Free with wasm_imports_free(). */
int wasm_imports_new(wasm_imports **out);
void wasm_imports_free(wasm_imports *imps);

/* Add a host function module.name with the given signature (copied). */
int wasm_imports_add_func(wasm_imports *imps, const char *module, const char *name,
                          const wasm_valtype *params, uint32_t nparams,
                          const wasm_valtype *results, uint32_t nresults,
                          wasm_host_fn fn, void *ud);
/* Add an extern exported by another instance (func, global, table, memory, tag)
 * under module.name. The extern stays owned by its instance. */
int wasm_imports_add_extern(wasm_imports *imps, const char *module, const char *name,
                            wasm_extern *ext);
/* Add every export of `inst` under module name `module` (spec `register`). */
int wasm_imports_add_instance(wasm_imports *imps, const char *module,
                              wasm_instance *inst);

/* ------------------------------------------------------------------ */
/* Instances                                                           */
/* ------------------------------------------------------------------ */

/* Instantiate: resolve imports (WASM_ELINK "unknown import" / "incompatible import
 * type" in *err), allocate memory/tables/globals, apply active element and data
 * segments, run the start function. If a segment is out of bounds or the start
 * function traps, returns WASM_ETRAP with *trap filled; per the spec the effects on
 * imported memories/tables already made stay. On any failure *out is NULL.
 * `trap` may be NULL. Free the instance with wasm_instance_free(). */
int wasm_instance_new(wasm_module *m, const wasm_imports *imps, wasm_instance **out,
                      wasm_error *err, wasm_trap *trap);
void wasm_instance_free(wasm_instance *inst);
const wasm_module *wasm_instance_module(const wasm_instance *inst);

/* Set/get an opaque pointer for the embedder (e.g. its WASI context). */
void wasm_instance_set_userdata(wasm_instance *inst, void *ud);
void *wasm_instance_userdata(const wasm_instance *inst);

/* Look up an export by name; NULL if none. The handle is owned by the instance.
 * The _n form takes a length, for names containing NUL bytes. */
wasm_extern *wasm_instance_export(wasm_instance *inst, const char *name);
wasm_extern *wasm_instance_export_n(wasm_instance *inst, const char *name, size_t len);
wasm_extern_kind wasm_extern_kind_of(const wasm_extern *ext);
/* Type of an extern (arrays owned by the extern). */
void wasm_extern_type(const wasm_extern *ext, wasm_externtype *type);

/* Call a function (an extern of kind FUNC) with nargs args; results must have room
 * for the function's result count (types are filled in). Returns 0, WASM_ETRAP
 * (trap filled) or WASM_EEXCEPTION (an uncaught wasm exception; trap->code is
 * WASM_TRAP_UNCAUGHT_EXCEPTION), or WASM_EINVAL on an argument count/type mismatch.
 * `inst` is the instance used for fuel/interrupt/stats accounting (normally the
 * function's own). */
int wasm_instance_call(wasm_instance *inst, wasm_extern *func, const wasm_val *args,
                       uint32_t nargs, wasm_val *results, uint32_t nresults,
                       wasm_trap *trap);
/* Same, looking the export up by name (WASM_ENOTFOUND if none or not a function). */
int wasm_instance_call_export(wasm_instance *inst, const char *name,
                              const wasm_val *args, uint32_t nargs, wasm_val *results,
                              uint32_t nresults, wasm_trap *trap);

/* Globals: get/set the value of a global extern. Setting an immutable global or
 * with the wrong type gives WASM_EINVAL. */
int wasm_global_get(const wasm_extern *global, wasm_val *out);
int wasm_global_set(wasm_extern *global, const wasm_val *val);
/* Tables: size, get and set elements (funcref: val.of.ref; externref: val.of.externref). */
uint64_t wasm_table_size(const wasm_extern *table);
int wasm_table_get(const wasm_extern *table, uint64_t idx, wasm_val *out);
int wasm_table_set(wasm_extern *table, uint64_t idx, const wasm_val *val);

/* Memory of an instance (its memory 0, own or imported); NULL if it has none. */
wasm_extern *wasm_instance_memory(wasm_instance *inst);
/* Data pointer and byte size of a memory. The pointer is invalidated by any
 * memory.grow (guest or host) and by wasm_instance_restore(); re-read it after any
 * call into the guest. Host code that writes through it MUST report the range with
 * wasm_memory_mark_dirty() or dirty page tracking will miss it. */
uint8_t *wasm_memory_data(wasm_extern *memory);
uint64_t wasm_memory_size(const wasm_extern *memory);       /* bytes */
uint64_t wasm_memory_pages(const wasm_extern *memory);      /* 64 KiB pages */
/* Bounds-checked copies; WASM_EINVAL if [off, off+len) is out of bounds.
 * write marks the pages dirty. */
int wasm_memory_read(const wasm_extern *memory, uint64_t off, void *dst, uint64_t len);
int wasm_memory_write(wasm_extern *memory, uint64_t off, const void *src, uint64_t len);
void wasm_memory_mark_dirty(wasm_extern *memory, uint64_t off, uint64_t len);
/* Grow by delta pages; returns the old page count or -1 (limits/cap), like memory.grow. */
int64_t wasm_memory_grow(wasm_extern *memory, uint64_t delta);

/* ------------------------------------------------------------------ */
/* Inside a host function                                              */
/* ------------------------------------------------------------------ */

/* The instance whose code called the host function, and its memory 0 (or NULL). */
wasm_instance *wasm_call_instance(wasm_call *call);
wasm_extern *wasm_call_memory(wasm_call *call);

/* Raise a trap: `return wasm_call_trap(call, "msg");` in the host function. */
int wasm_call_trap(wasm_call *call, const char *message);

/* Re-enter the guest: call a function handle (e.g. from a table) with args.
 * Returns 0 with results filled; or WASM_ETRAP with *trap filled; or WASM_EEXCEPTION
 * when a wasm exception escaped the callee (it is held by the call until the host
 * either returns the code to rethrow it to the guest, or calls another function).
 * To propagate a trap or exception, return the nonzero code from the host function
 * (emscripten invoke_* catch it instead and return 0 after fixing up state).
 * Fuel, interrupts and call depth carry across. Each such re-entry nests one native
 * interpreter run; nesting deeper than WASM_CFG_MAX_NATIVE_DEPTH (config.h, 150)
 * traps "call stack exhausted", which bounds the C stack the engine uses. */
int wasm_call_func(wasm_call *call, wasm_extern *func, const wasm_val *args,
                   uint32_t nargs, wasm_val *results, uint32_t nresults,
                   wasm_trap *trap);
/* The function at index `idx` of table `table_idx` of the calling instance; NULL
 * if out of bounds or null. */
wasm_extern *wasm_call_table_func(wasm_call *call, uint32_t table_idx, uint64_t idx);

/* Throw a wasm exception with `tag` (an extern of kind TAG) and payload values.
 * Use as `return wasm_call_throw(call, tag, vals, n);`. */
int wasm_call_throw(wasm_call *call, wasm_extern *tag, const wasm_val *vals, uint32_t n);
/* After wasm_call_func() returned WASM_EEXCEPTION: the pending exception's tag and
 * payload (up to cap values); returns the payload count or -1 if none pending. */
int wasm_call_exception(wasm_call *call, wasm_extern **tag, wasm_val *vals, uint32_t cap);

/* ------------------------------------------------------------------ */
/* Metering, limits, stats                                             */
/* ------------------------------------------------------------------ */

/* Fuel (only if the engine was created with fuel_enabled). Fuel is charged per basic
 * block at its entry (cost table in config.h); when it would go below 0 the guest
 * traps "out of fuel" at the same point on every run. */
void wasm_instance_set_fuel(wasm_instance *inst, int64_t fuel);
int64_t wasm_instance_fuel(const wasm_instance *inst);

/* Per-instance memory limit in pages (<= engine's); grow beyond returns -1. */
void wasm_instance_set_max_pages(wasm_instance *inst, uint64_t max_pages);

/* Request an interrupt (safe from any thread, async-signal-safe): a guest running a
 * call made through this instance traps "interrupted" at its next loop back-edge
 * (backward branch) or call. The flag stays set (later calls trap at their first
 * back-edge or call) until
 * wasm_instance_clear_interrupt(). */
void wasm_instance_interrupt(wasm_instance *inst);
void wasm_instance_clear_interrupt(wasm_instance *inst);

typedef struct wasm_stats {
    uint64_t fuel_used;        /* fuel charged since creation or last reset */
    uint64_t calls;            /* wasm function calls */
    uint64_t peak_pages;       /* max memory pages reached */
    uint64_t cur_pages;
    uint64_t grow_failures;    /* memory.grow refused (limit, cap or host allocation) */
} wasm_stats;
void wasm_instance_stats(const wasm_instance *inst, wasm_stats *out);
void wasm_instance_reset_stats(wasm_instance *inst);

/* The uncaught exception after WASM_EEXCEPTION from wasm_instance_call: tag extern
 * and payload (up to cap values); returns the payload count or -1. */
int wasm_instance_last_exception(wasm_instance *inst, wasm_extern **tag,
                                 wasm_val *vals, uint32_t cap);

/* ------------------------------------------------------------------ */
/* Snapshot / restore and dirty pages                                  */
/* ------------------------------------------------------------------ */

/* Serialise everything living across calls: memory (size + bytes), globals
 * (defined ones), tables (elements as function indices of the module's function
 * space / null / opaque externref), dropped data/elem flags. Format is versioned;
 * see docs/parts/wasm-engine.md. *out is malloc'd, caller frees with free().
 * If `with_memory` is 0 the memory bytes are left out (size is kept): the embedder
 * then stores pages itself (dirty page API) and writes them back after restore. */
int wasm_instance_snapshot(wasm_instance *inst, int with_memory, uint8_t **out,
                           size_t *out_len);
/* Restore into an instance of the same module (checked by a module hash).
 * Memory grows/shrinks to the recorded size. Marks all memory clean. */
int wasm_instance_restore(wasm_instance *inst, const uint8_t *bytes, size_t len,
                          wasm_error *err);

/* Dirty page tracking on memory 0 of the instance, at WASM_DIRTY_PAGE_SIZE bytes. */
#define WASM_DIRTY_PAGE_SIZE 4096u
/* Forget all dirty marks (e.g. after the embedder saved the changed pages). */
void wasm_instance_mark_clean(wasm_instance *inst);
/* Fill up to cap dirty page indices (ascending) starting at page index `from`;
 * returns how many were written. Pages past the current size are never reported. */
size_t wasm_instance_dirty_pages(const wasm_instance *inst, uint64_t from,
                                 uint64_t *pages, size_t cap);
/* Number of dirty-tracking pages in the current memory. */
uint64_t wasm_instance_page_count(const wasm_instance *inst);
/* Copy one page out / in (the last page may be the only partial one; it never is
 * with 4 KiB pages). write_page does not mark the page dirty. */
int wasm_instance_read_page(const wasm_instance *inst, uint64_t page, uint8_t *buf);
int wasm_instance_write_page(wasm_instance *inst, uint64_t page, const uint8_t *buf);

#ifdef __cplusplus
}
#endif
#endif /* AOX_WASM_H */
