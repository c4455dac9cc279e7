/* wasm_int.h: private structures of the engine, shared by the files of src/wasm/.
 * Nothing outside src/wasm/ includes this.
 *
 * Pipeline:  bytes --wasm_decode.c--> wmodule (sections)  --wasm_compile.c--> slot code
 *            per function (validated in the same pass)  --wasm_instance.c--> instance
 *            --wasm_exec.c--> runs the slot code with threaded dispatch.
 */
#ifndef AOX_WASM_INT_H
#define AOX_WASM_INT_H

#include "wasm/wasm.h"
#include "wasm/config.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

/* A function type. params and results point into one allocation `types`. */
typedef struct wfunctype {
    uint32_t np, nr;
    wasm_valtype *params, *results;
    uint64_t hash;          /* structural hash, for fast call_indirect checks */
} wfunctype;

typedef struct wlimits {
    uint64_t min, max;
    bool has_max;
} wlimits;

/* A constant expression (single instruction in WebAssembly 2.0). */
typedef enum { CE_I32, CE_I64, CE_F32, CE_F64, CE_REFNULL, CE_REFFUNC, CE_GLOBAL } wconst_kind;
typedef struct wconst {
    wconst_kind kind;
    uint64_t val;           /* bits for numbers; function / global index otherwise */
} wconst;

typedef struct wimport {
    char *module, *name;
    uint32_t module_len, name_len;
    wasm_extern_kind kind;
    uint32_t index;         /* index in the kind's index space */
} wimport;

typedef struct wexport {
    char *name;
    uint32_t name_len;
    wasm_extern_kind kind;
    uint32_t index;
} wexport;

typedef struct wtabletype { wasm_valtype elem; wlimits lim; } wtabletype;
typedef struct wmemtype { wlimits lim; bool is64; } wmemtype;
typedef struct wglobaltype { wasm_valtype type; bool mut; wconst init; } wglobaltype;

typedef enum { SEG_ACTIVE, SEG_PASSIVE, SEG_DECLARATIVE } wsegmode;

typedef struct welem {
    wsegmode mode;
    wasm_valtype type;
    uint32_t table;
    wconst offset;
    uint32_t n;
    wconst *items;          /* CE_REFNULL / CE_REFFUNC / CE_GLOBAL */
} welem;

typedef struct wdata {
    wsegmode mode;
    uint32_t mem;
    wconst offset;
    uint64_t len;
    uint8_t *bytes;
} wdata;

/* Exception handler of a try block (per compiled function, see wasm_compile.c). */
typedef struct whandler {
    uint32_t start, end;    /* code cell range [start,end) of the try body */
    uint32_t slot;          /* frame slot holding the caught exception; payload follows */
    int32_t delegate;       /* -2: catch handler; -1: delegate to caller; >=0 handler idx */
    uint32_t ncatch;
    uint32_t *catch_tag;    /* module tag indices */
    uint32_t *catch_pc;     /* code cell of each catch clause */
    int64_t catch_all_pc;   /* -1 if none */
} whandler;

/* Compiled code of one defined function. */
typedef struct wcode {
    uint64_t *cells;        /* threaded code: handler address cell then operand cells */
    uint32_t ncells;
    uint32_t nlocals;       /* params + declared locals */
    uint32_t frame_slots;   /* locals + max operand stack + call scratch */
    uint32_t nhandlers;
    whandler *handlers;
    /* body location in the module bytes for error offsets */
    size_t body_off, body_len;
} wcode;

struct wasm_module {
    wasm_engine *engine;
    _Atomic int refs;            /* embedder's reference + one per live instance
                                    (atomic: instances may live on several threads) */
    wasm_features feat;
    uint64_t hash;               /* FNV-1a of the module bytes (snapshot identity) */

    uint32_t ntypes;   wfunctype *types;
    uint32_t nimports; wimport *imports;
    uint32_t nfuncs, nfunc_imports;   uint32_t *func_type;  /* type index per function */
    wcode *codes;                      /* nfuncs - nfunc_imports */
    uint32_t ntables, ntable_imports; wtabletype *tables;
    uint32_t nmems, nmem_imports;     wmemtype *mems;
    uint32_t nglobals, nglobal_imports; wglobaltype *globals;
    uint32_t ntags, ntag_imports;     uint32_t *tag_type;
    uint32_t nexports; wexport *exports;
    int64_t start;                     /* -1 none */
    uint32_t nelems; welem *elems;
    uint32_t ndatas; wdata *datas;
    int64_t datacount;                 /* -1 if no data count section */
    bool needs_datacount;              /* memory.init/data.drop seen without one */
    uint8_t *declared;                 /* per function: may be ref.func'd */
};

/* ------------------------------------------------------------------ */
/* Runtime objects                                                     */
/* ------------------------------------------------------------------ */

/* Every runtime entity starts with this header; wasm_extern* points to it. */
struct wasm_extern {
    uint8_t kind;           /* wasm_extern_kind */
    int refs;               /* references from instances (memory/table/global/tag) */
    wasm_instance *owner;   /* instance that created it (its store keeps it alive) */
};

/* A store: instances linked to each other through imports live and die together,
 * because references (funcrefs in shared tables, ...) can point anywhere inside it.
 * `users` counts instances the embedder still holds; failed instantiations that
 * already wrote into shared tables stay parked here until the store dies. */
typedef struct wstore {
    int users;
    uint32_t n, cap;
    wasm_instance **insts;
} wstore;

typedef struct wfunc {
    struct wasm_extern hdr;
    const wfunctype *type;
    wasm_instance *inst;    /* owner (NULL for a host function) */
    const wcode *code;      /* NULL for host functions */
    wasm_host_fn host;
    void *ud;
    uint32_t index;         /* function index in its module */
} wfunc;

typedef struct wglobal {
    struct wasm_extern hdr;
    wasm_valtype type;
    bool mut;
    uint64_t val;           /* slot representation (refs: pointer / externref value) */
} wglobal;

typedef struct wtable {
    struct wasm_extern hdr;
    wasm_valtype elem;
    uint64_t size, max;     /* max: effective limit */
    bool has_max;
    uint64_t *elems;        /* wfunc* or externref, 0 = null */
} wtable;

typedef struct wmemory {
    struct wasm_extern hdr;
    wasm_engine *engine;
    uint8_t *data;
    uint64_t size;          /* bytes = pages * 64 KiB */
    uint64_t pages, max_pages;  /* max_pages: min(declared, limits) */
    uint64_t declared_max;
    bool has_max;           /* declared with a maximum */
    bool is64;
    uint8_t *dirty;         /* one byte per WASM_DIRTY_PAGE_SIZE page */
    uint64_t dirty_cap;     /* bytes allocated for dirty map */
    uint64_t peak_pages;
    uint64_t grow_failures;
} wmemory;

typedef struct wtag {
    struct wasm_extern hdr;
    wfunctype type;         /* copy; params = payload */
} wtag;

typedef struct wexn {
    struct wexn *next;      /* live list of the exec context */
    wtag *tag;
    uint32_t n;
    uint64_t vals[];
} wexn;

/* Execution context: value stack + frame stack, shared along a call chain. */
typedef struct wframe {
    const uint64_t *ret_pc; /* where the caller resumes (cell after the call) */
    uint64_t *fp;           /* the caller's frame pointer */
    const wfunc *func;      /* the caller's function */
} wframe;

typedef struct wexec {
    uint64_t *stack, *stack_end;
    wframe *frames;
    uint32_t nframes, max_frames;
    uint32_t native_depth;       /* nested runs (host re-entry) */
    wasm_instance *root;         /* instance whose fuel/interrupt apply */
    wexn *live;                  /* allocated exceptions */
    uint32_t nlive, gc_at;       /* count; collect when nlive reaches gc_at */
    wexn *pending;               /* exception escaping the current run */
    wasm_trap_code trap_code;
    char trap_msg[200];
    uint64_t *sp_top;            /* first free slot for nested runs */
} wexec;

struct wasm_call {
    wexec *exec;
    wasm_instance *inst;         /* caller instance */
    uint64_t *sp;                /* free stack area above the host call's args */
};

struct wasm_instance {
    wasm_module *mod;
    wstore *store;
    wfunc *funcs_own;            /* defined functions */
    wfunc **funcs;               /* nfuncs: imported + defined */
    wtable **tables;
    wmemory *mem;                /* memory 0 or NULL */
    wglobal **globals;
    uint64_t **gvals;            /* &globals[i]->val, for the interpreter */
    wtag **tags;
    uint8_t *elem_dropped, *data_dropped;
    wfunc *host_funcs;           /* copies of imported host functions */
    wfunctype *host_types;
    uint32_t nhost;
    wexec *exec;
    void *userdata;
    int64_t fuel;
    uint64_t fuel_used;
    uint64_t calls;
    _Atomic int interrupt;
    uint64_t max_pages;
    wexn *last_exn;              /* after WASM_EEXCEPTION to the host */
};

struct wasm_engine {
    wasm_config cfg;
    _Atomic uint64_t total_pages;
    const void *const *labels;   /* interpreter handler addresses */
};

/* ------------------------------------------------------------------ */
/* Cross-file internals                                                */
/* ------------------------------------------------------------------ */

/* wasm_compile.c */
typedef struct wdec wdec;
int wasm_compile_function(wdec *d, wasm_module *m, uint32_t defidx, const uint8_t *body,
                          size_t len, size_t base_off, wasm_error *err);
void wasm_code_free(wcode *c);
void wasm_module_release(wasm_module *m);

/* wasm_decode.c helpers usable by the compiler */
bool wasm_valtype_ok(uint8_t b);
uint64_t wasm_functype_hash(const wfunctype *t);
bool wasm_functype_eq(const wfunctype *a, const wfunctype *b);

/* wasm_exec.c */
const void *const *wasm_exec_labels(void);
/* Run func with its args in exec->stack starting at `fp`; results land at fp[0..].
 * Returns 0, WASM_ETRAP (exec->trap_*) or WASM_EEXCEPTION (exec->pending). */
int wasm_exec_run(wexec *ex, const wfunc *func, uint64_t *fp);
int wasm_exec_invoke(wexec *ex, wasm_instance *caller, const wfunc *f, const wasm_val *args,
                     uint32_t nargs, wasm_val *results, uint32_t nresults, uint64_t *sp,
                     wasm_trap *trap);
wexec *wasm_exec_get(wasm_instance *inst);
void wasm_exec_free(wexec *ex);
void wasm_exec_release_exns(wexec *ex);
wexn *wasm_exec_new_exn(wexec *ex, wtag *tag, const uint64_t *fp, const wfunc *cur);
int wasm_exec_set_trap(wexec *ex, wasm_trap_code code, const char *msg);

/* wasm_memory.c */
int wasm_mem_new(wasm_engine *e, const wmemtype *t, uint64_t limit_pages, wmemory **out);
void wasm_mem_unref(wmemory *m);
int64_t wasm_mem_grow(wmemory *m, uint64_t delta);
int wasm_mem_resize(wmemory *m, uint64_t pages);
static inline void wasm_mem_dirty(wmemory *m, uint64_t off, uint64_t len)
{
    if (len == 0) return;
    uint64_t a = off / WASM_DIRTY_PAGE_SIZE, b = (off + len - 1) / WASM_DIRTY_PAGE_SIZE;
    memset(m->dirty + a, 1, (size_t)(b - a + 1));
}
int64_t wasm_table_grow_int(wtable *t, uint64_t delta, uint64_t init);

/* Value conversion between wasm_val and slots. */
static inline uint64_t wasm_val_to_slot(const wasm_val *v)
{
    switch (v->type) {
    case WASM_I32: return (uint32_t)v->of.i32;
    case WASM_I64: return (uint64_t)v->of.i64;
    case WASM_F32: return v->of.f32_bits;
    case WASM_F64: return v->of.f64_bits;
    case WASM_FUNCREF: return (uint64_t)(uintptr_t)v->of.ref;
    case WASM_EXTERNREF: return (uint64_t)v->of.externref;
    }
    return 0;
}
static inline void wasm_slot_to_val(wasm_valtype t, uint64_t s, wasm_val *v)
{
    memset(v, 0, sizeof *v);
    v->type = t;
    switch (t) {
    case WASM_I32: v->of.i32 = (int32_t)(uint32_t)s; break;
    case WASM_I64: v->of.i64 = (int64_t)s; break;
    case WASM_F32: v->of.f32_bits = (uint32_t)s; break;
    case WASM_F64: v->of.f64_bits = s; break;
    case WASM_FUNCREF: v->of.ref = (wasm_extern *)(uintptr_t)s; break;
    case WASM_EXTERNREF: v->of.externref = (uintptr_t)s; break;
    }
}

void wasm_err(wasm_error *err, int64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
