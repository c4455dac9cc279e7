/* wasm_exec.c: the interpreter. Runs the slot code of wasm_compile.c with direct
 * threaded dispatch (each instruction's first cell is its handler address; every
 * handler ends with `goto *pc[0]`).
 *
 * Registers of the loop: pc (code cell), fp (frame base: fp[i] is slot i), cur (the
 * running function), I (its instance), mem/msize/dirty (memory 0 of I, reloaded
 * after every call/return/grow), G (global value pointers of I), fuel.
 *
 * Calls never recurse on the C stack: a call pushes {return pc, caller fp, caller}
 * on ex->frames and continues in the same loop. The callee's frame starts at the
 * caller's slot of the first argument, so arguments are passed in place and results
 * come back there. Only host functions re-entering the guest (wasm_call_func) nest
 * native runs, bounded by WASM_CFG_MAX_NATIVE_DEPTH.
 */
#include "wasm/wasm_int.h"
#include "wasm/wasm_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------ */
/* Value helpers                                                       */
/* ------------------------------------------------------------------ */

static inline float f32_of(uint64_t s)
{
    uint32_t u = (uint32_t)s;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline double f64_of(uint64_t s)
{
    double f;
    memcpy(&f, &s, 8);
    return f;
}
static inline uint64_t bits32(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline uint64_t bits64(double f)
{
    uint64_t u;
    memcpy(&u, &f, 8);
    return u;
}
/* Arithmetic results: NaNs are canonicalised (determinism). */
static inline uint64_t cf32(float f) { return f != f ? 0x7FC00000u : bits32(f); }
static inline uint64_t cf64(double f) { return f != f ? 0x7FF8000000000000ull : bits64(f); }

static inline float fmin32(float a, float b)
{
    if (a != a || b != b) return NAN;
    if (a == 0 && b == 0) return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline float fmax32(float a, float b)
{
    if (a != a || b != b) return NAN;
    if (a == 0 && b == 0) return signbit(a) ? b : a;
    return a > b ? a : b;
}
static inline double fmin64(double a, double b)
{
    if (a != a || b != b) return NAN;
    if (a == 0 && b == 0) return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline double fmax64(double a, double b)
{
    if (a != a || b != b) return NAN;
    if (a == 0 && b == 0) return signbit(a) ? b : a;
    return a > b ? a : b;
}
static inline uint32_t rotl32(uint32_t x, uint32_t k) { k &= 31; return (x << k) | (x >> ((32 - k) & 31)); }
static inline uint32_t rotr32(uint32_t x, uint32_t k) { k &= 31; return (x >> k) | (x << ((32 - k) & 31)); }
static inline uint64_t rotl64(uint64_t x, uint64_t k) { k &= 63; return (x << k) | (x >> ((64 - k) & 63)); }
static inline uint64_t rotr64(uint64_t x, uint64_t k) { k &= 63; return (x >> k) | (x << ((64 - k) & 63)); }

/* Saturating truncations. */
static inline uint64_t sat_i32_s(double x)
{
    if (x != x) return 0;
    if (x <= -2147483648.0) return (uint32_t)INT32_MIN;
    if (x >= 2147483647.0) return (uint32_t)INT32_MAX;
    return (uint32_t)(int32_t)x;
}
static inline uint64_t sat_i32_u(double x)
{
    if (x != x || x <= -1.0) return 0;
    if (x >= 4294967295.0) return UINT32_MAX;
    return (uint32_t)x;
}
static inline uint64_t sat_i64_s(double x)
{
    if (x != x) return 0;
    if (x < -9223372036854775808.0) return (uint64_t)INT64_MIN;
    if (x >= 9223372036854775808.0) return (uint64_t)INT64_MAX;
    return (uint64_t)(int64_t)x;
}
static inline uint64_t sat_i64_u(double x)
{
    if (x != x || x <= -1.0) return 0;
    if (x >= 18446744073709551616.0) return UINT64_MAX;
    return (uint64_t)x;
}

/* ------------------------------------------------------------------ */
/* Traps and exceptions                                                */
/* ------------------------------------------------------------------ */

const char *wasm_trap_message(wasm_trap_code code)
{
    switch (code) {
    case WASM_TRAP_NONE: return "no trap";
    case WASM_TRAP_UNREACHABLE: return "unreachable";
    case WASM_TRAP_MEMORY_OOB: return "out of bounds memory access";
    case WASM_TRAP_TABLE_OOB: return "out of bounds table access";
    case WASM_TRAP_DIV_ZERO: return "integer divide by zero";
    case WASM_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_TRAP_INDIRECT_MISMATCH: return "indirect call type mismatch";
    case WASM_TRAP_UNINIT_ELEMENT: return "uninitialized element";
    case WASM_TRAP_STACK_EXHAUSTED: return "call stack exhausted";
    case WASM_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
    case WASM_TRAP_OUT_OF_FUEL: return "out of fuel";
    case WASM_TRAP_OUT_OF_MEMORY: return "out of memory";
    case WASM_TRAP_INTERRUPTED: return "interrupted";
    case WASM_TRAP_HOST: return "host trap";
    case WASM_TRAP_NULL_REFERENCE: return "null reference";
    }
    return "trap";
}

int wasm_exec_set_trap(wexec *ex, wasm_trap_code code, const char *msg)
{
    ex->trap_code = code;
    snprintf(ex->trap_msg, sizeof ex->trap_msg, "%s", msg ? msg : wasm_trap_message(code));
    return WASM_ETRAP;
}

/* Exception objects are freed when the top-level call returns. A guest that throws
 * and catches in a long loop would pile them up, so past a threshold we collect:
 * a caught exception can only be referenced from the hidden slot of a catch handler
 * (wasm_compile.c), so every handler slot of every live frame is a root (a
 * conservative scan: an integer that happens to equal a live pointer only keeps it). */
static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void mark_frame(uintptr_t *sorted, uint8_t *mark, uint32_t n, const uint64_t *fp,
                       const wfunc *f)
{
    if (!fp || !f || !f->code) return;
    const wcode *code = f->code;
    for (uint32_t i = 0; i < code->nhandlers; i++) {
        const whandler *h = &code->handlers[i];
        if (h->delegate != -2) continue;
        uintptr_t v = (uintptr_t)fp[h->slot];
        uintptr_t *hit = bsearch(&v, sorted, n, sizeof *sorted, cmp_ptr);
        if (hit) mark[hit - sorted] = 1;
    }
}

static void exn_collect(wexec *ex, const uint64_t *fp, const wfunc *cur)
{
    uint32_t n = ex->nlive;
    uintptr_t *sorted = malloc((size_t)n * sizeof *sorted);
    uint8_t *mark = calloc(n ? n : 1, 1);
    if (!sorted || !mark) goto out;
    uint32_t k = 0;
    for (wexn *e = ex->live; e && k < n; e = e->next) sorted[k++] = (uintptr_t)e;
    n = k;
    qsort(sorted, n, sizeof *sorted, cmp_ptr);
    for (uint32_t i = 0; i < ex->nframes; i++) mark_frame(sorted, mark, n, ex->frames[i].fp, ex->frames[i].func);
    mark_frame(sorted, mark, n, fp, cur);
    if (ex->pending) {
        uintptr_t v = (uintptr_t)ex->pending;
        uintptr_t *hit = bsearch(&v, sorted, n, sizeof *sorted, cmp_ptr);
        if (hit) mark[hit - sorted] = 1;
    }
    wexn **link = &ex->live;
    uint32_t kept = 0;
    while (*link) {
        wexn *e = *link;
        uintptr_t v = (uintptr_t)e;
        uintptr_t *hit = bsearch(&v, sorted, n, sizeof *sorted, cmp_ptr);
        if (hit && !mark[hit - sorted]) {
            *link = e->next;
            free(e);
        } else {
            link = &e->next;
            kept++;
        }
    }
    ex->nlive = kept;
out:
    /* collect again only after the live set has doubled */
    ex->gc_at = ex->nlive * 2 > WASM_CFG_EXN_GC_AT ? ex->nlive * 2 : WASM_CFG_EXN_GC_AT;
    free(sorted);
    free(mark);
}

wexn *wasm_exec_new_exn(wexec *ex, wtag *tag, const uint64_t *fp, const wfunc *cur)
{
    if (ex->nlive >= ex->gc_at) exn_collect(ex, fp, cur);
    uint32_t n = tag->type.np;
    wexn *e = calloc(1, sizeof *e + (size_t)n * sizeof(uint64_t));
    if (!e) return NULL;
    e->tag = tag;
    e->n = n;
    e->next = ex->live;
    ex->live = e;
    ex->nlive++;
    return e;
}

void wasm_exec_release_exns(wexec *ex)
{
    wexn *e = ex->live;
    while (e) {
        wexn *nx = e->next;
        free(e);
        e = nx;
    }
    ex->live = NULL;
    ex->nlive = 0;
    ex->gc_at = WASM_CFG_EXN_GC_AT;
    ex->pending = NULL;
}

/* Innermost handler at or below index `from` whose try body contains cell `pos`. */
static int64_t find_handler(const wcode *code, uint32_t pos, int64_t from)
{
    for (int64_t i = from; i >= 0; i--) {
        const whandler *h = &code->handlers[i];
        if (h->start <= pos && pos < h->end) return i;
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* The interpreter loop                                                */
/* ------------------------------------------------------------------ */

static const void *const *g_labels;

static int run(wexec *ex, const wfunc *func, uint64_t *fp);

const void *const *wasm_exec_labels(void)
{
    if (!g_labels) run(NULL, NULL, NULL);
    return g_labels;
}

#define NEXT() goto *(const void *)(uintptr_t)pc[0]
#define TRAP(c) do { trap_code = (c); trap_msg = NULL; goto trap; } while (0)
#define TRAPM(c, m) do { trap_code = (c); trap_msg = (m); goto trap; } while (0)

#define LOAD_INST() do { \
    I = cur->inst; \
    wmemory *m_ = I->mem; \
    if (m_) { mem = m_->data; msize = m_->size; dirty = m_->dirty; } \
    else { mem = NULL; msize = 0; dirty = NULL; } \
    G = I->gvals; \
} while (0)

/* Taken branch through the offset in cell pc[K]. Backward branches (loops) poll the
 * interrupt flag: that is the loop back-edge check. */
#define JUMP(K) do { \
    int64_t off_ = (int64_t)pc[K]; \
    if (off_ < 0 && UNLIKELY(atomic_load_explicit(intr, memory_order_relaxed))) \
        TRAP(WASM_TRAP_INTERRUPTED); \
    pc += (K) + off_; \
} while (0)

#define FLUSH_FUEL() do { root->fuel_used += (uint64_t)(root->fuel - fuel); root->fuel = fuel; } while (0)

static int run(wexec *ex, const wfunc *func, uint64_t *fp)
{
    static const void *const labels[OP__COUNT] = {
#define X_CTRL(n) [OP_##n] = &&L_##n,
#define X_NUM(n, c, ti, to) [OP_##n] = &&L_##n,
#define X_IBIN(n, c, ti, to) [OP_##n] = &&L_##n, [OP_##n##_I] = &&L_##n##_I,
        WASM_CTRL_OPS(X_CTRL)
        WASM_UN_OPS(X_NUM)
        WASM_IBIN_OPS(X_IBIN)
        WASM_FBIN_OPS(X_NUM)
#define Y_FUSED(P, E, C, O) [OP_FU_##P##_##C] = &&L_FU_##P##_##C,
        WASM_FUSED_SS(Y_FUSED)
        WASM_FUSED_SI(Y_FUSED)
#undef Y_FUSED
#define Y_FUSED(P, E, C, O) [OP_FUF_##P##_##C] = &&L_FUF_##P##_##C,
        WASM_FUSED_FF(Y_FUSED)
#undef Y_FUSED
#define Y_FUSED(P, E, C, F) [OP_FUK_##P##_##C] = &&L_FUK_##P##_##C,
        WASM_FUSED_KS(Y_FUSED)
        WASM_FUSED_KI(Y_FUSED)
#undef Y_FUSED
#undef X_CTRL
#undef X_NUM
#undef X_IBIN
    };
    if (!ex) {
        g_labels = labels;
        return 0;
    }

    const uint64_t *pc;
    const wfunc *cur = func;
    wasm_instance *I = NULL;
    uint8_t *mem = NULL, *dirty = NULL;
    uint64_t msize = 0;
    uint64_t **G = NULL;
    wasm_instance *root = ex->root;
    int64_t fuel = root->fuel;
    const bool metered = root->mod->engine->cfg.fuel_enabled;
    _Atomic int *intr = &root->interrupt;
    const uint32_t base_frames = ex->nframes;
    wasm_trap_code trap_code = WASM_TRAP_NONE;
    const char *trap_msg = NULL;
    /* call state */
    const wfunc *callee;
    uint64_t *nfp;
    const uint64_t *ret_pc;
    /* exception state */
    wexn *exn = NULL;
    const uint64_t *throw_pc = NULL;

    if (ex->native_depth >= WASM_CFG_MAX_NATIVE_DEPTH) {
        wasm_exec_set_trap(ex, WASM_TRAP_STACK_EXHAUSTED, NULL);
        return WASM_ETRAP;
    }
    ex->native_depth++;

    callee = func;
    nfp = fp;
    ret_pc = NULL;
    fp = NULL;
    goto do_call_entry;

    /* ---------------- control ---------------- */
L_UNREACHABLE:
    TRAP(WASM_TRAP_UNREACHABLE);
L_BR:
    JUMP(1);
    NEXT();
L_BRIF:
    if ((uint32_t)fp[pc[1]]) JUMP(2);
    else pc += 3;
    NEXT();
L_BRIFZ:
    if (!(uint32_t)fp[pc[1]]) JUMP(2);
    else pc += 3;
    NEXT();
#define BRC(N, T, OPR) \
L_BR_##N: \
    if ((T)fp[pc[1]] OPR (T)fp[pc[2]]) JUMP(3); else pc += 4; \
    NEXT(); \
L_BR_##N##_I: \
    if ((T)fp[pc[1]] OPR (T)pc[2]) JUMP(3); else pc += 4; \
    NEXT();
    BRC(EQ, uint32_t, ==)
    BRC(NE, uint32_t, !=)
    BRC(LT_S, int32_t, <)
    BRC(LT_U, uint32_t, <)
    BRC(GT_S, int32_t, >)
    BRC(GT_U, uint32_t, >)
    BRC(LE_S, int32_t, <=)
    BRC(LE_U, uint32_t, <=)
    BRC(GE_S, int32_t, >=)
    BRC(GE_U, uint32_t, >=)
#undef BRC
#define ABRC(N, T, OPR) \
L_ADDBR_##N: \
    fp[pc[1]] = (uint32_t)(fp[pc[2]] + pc[3]); \
    if ((T)fp[pc[4]] OPR (T)fp[pc[5]]) JUMP(6); else pc += 7; \
    NEXT(); \
L_ADDBR_##N##_I: \
    fp[pc[1]] = (uint32_t)(fp[pc[2]] + pc[3]); \
    if ((T)fp[pc[4]] OPR (T)pc[5]) JUMP(6); else pc += 7; \
    NEXT();
    ABRC(EQ, uint32_t, ==)
    ABRC(NE, uint32_t, !=)
    ABRC(LT_S, int32_t, <)
    ABRC(LT_U, uint32_t, <)
    ABRC(GT_S, int32_t, >)
    ABRC(GT_U, uint32_t, >)
    ABRC(LE_S, int32_t, <=)
    ABRC(LE_U, uint32_t, <=)
    ABRC(GE_S, int32_t, >=)
    ABRC(GE_U, uint32_t, >=)
#undef ABRC
L_BR_TABLE: {
    uint32_t i = (uint32_t)fp[pc[1]];
    uint64_t n = pc[2];
    if (i > n) i = (uint32_t)n;
    const uint64_t *cell = pc + 3 + i;
    if (UNLIKELY((int64_t)*cell < 0) && UNLIKELY(atomic_load_explicit(intr, memory_order_relaxed)))
        TRAP(WASM_TRAP_INTERRUPTED);
    pc = cell + (int64_t)*cell;
    NEXT();
}
/* a backward br that also does the loop's first instruction (BRH_, wasm_ops.h) */
#define BRH_POLL() do { \
    if (UNLIKELY(atomic_load_explicit(intr, memory_order_relaxed))) TRAP(WASM_TRAP_INTERRUPTED); \
} while (0)
L_BRH_COPY:
    BRH_POLL();
    fp[pc[1]] = fp[pc[2]];
    pc += 3 + (int64_t)pc[3];
    NEXT();
L_BRH_COPY2:
    BRH_POLL();
    fp[pc[1]] = fp[pc[2]];
    fp[pc[3]] = fp[pc[4]];
    pc += 5 + (int64_t)pc[5];
    NEXT();
L_BRH_ADD_I:
    BRH_POLL();
    fp[pc[1]] = (uint32_t)(fp[pc[2]] + pc[3]);
    pc += 4 + (int64_t)pc[4];
    NEXT();
L_BRH_ADD_I2:
    BRH_POLL();
    fp[pc[1]] = (uint32_t)(fp[pc[2]] + pc[3]);
    fp[pc[4]] = (uint32_t)(fp[pc[5]] + pc[6]);
    pc += 7 + (int64_t)pc[7];
    NEXT();
#undef BRH_POLL
/* an i32 load feeding br_table (BRT_, wasm_ops.h): the count is in pc[L], the
 * table follows it */
#define BRT_LOAD(NAME, L, EA) \
L_BRT_##NAME: { \
    uint64_t ea = (EA); \
    if (UNLIKELY(ea + 4 > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    uint32_t v; memcpy(&v, mem + ea, sizeof v); \
    fp[pc[1]] = v; \
    uint64_t n = pc[L]; \
    if (v > n) v = (uint32_t)n; \
    const uint64_t *cell = pc + (L) + 1 + v; \
    if (UNLIKELY((int64_t)*cell < 0) && UNLIKELY(atomic_load_explicit(intr, memory_order_relaxed))) \
        TRAP(WASM_TRAP_INTERRUPTED); \
    pc = cell + (int64_t)*cell; \
    NEXT(); }
    BRT_LOAD(LD_I32, 4, (uint64_t)(uint32_t)fp[pc[2]] + pc[3])
    BRT_LOAD(LDA_I32, 5, (uint64_t)(uint32_t)(fp[pc[2]] + fp[pc[3]]) + pc[4])
    BRT_LOAD(LDAI_I32, 5, (uint64_t)(uint32_t)(fp[pc[2]] + pc[3]) + pc[4])
    BRT_LOAD(LDAS_I32, 6, (uint64_t)(uint32_t)(fp[pc[2]] + (fp[pc[3]] << pc[4])) + pc[5])
#undef BRT_LOAD
L_COPY:
    fp[pc[1]] = fp[pc[2]];
    pc += 3;
    NEXT();
L_COPY2:
    /* in order: the second copy may read what the first wrote */
    fp[pc[1]] = fp[pc[2]];
    fp[pc[3]] = fp[pc[4]];
    pc += 5;
    NEXT();
L_I32_ADD_I2:
    fp[pc[1]] = (uint32_t)(fp[pc[2]] + pc[3]);
    fp[pc[4]] = (uint32_t)(fp[pc[5]] + pc[6]);
    pc += 7;
    NEXT();
L_CONST:
    fp[pc[1]] = pc[2];
    pc += 3;
    NEXT();
L_SELECT:
    fp[pc[1]] = (uint32_t)fp[pc[2]] ? fp[pc[3]] : fp[pc[4]];
    pc += 5;
    NEXT();
L_FUEL:
    fuel -= (int64_t)pc[1];
    if (UNLIKELY(fuel < 0)) { fuel += (int64_t)pc[1]; TRAP(WASM_TRAP_OUT_OF_FUEL); }
    pc += 2;
    NEXT();
L_LOOP_FUEL:
    if (UNLIKELY(atomic_load_explicit(intr, memory_order_relaxed))) TRAP(WASM_TRAP_INTERRUPTED);
    fuel -= (int64_t)pc[1];
    if (UNLIKELY(fuel < 0)) { fuel += (int64_t)pc[1]; TRAP(WASM_TRAP_OUT_OF_FUEL); }
    pc += 2;
    NEXT();
L_GLOBAL_GET:
    fp[pc[1]] = *G[pc[2]];
    pc += 3;
    NEXT();
L_GLOBAL_SET:
    *G[pc[1]] = fp[pc[2]];
    pc += 3;
    NEXT();

    /* ---------------- calls ---------------- */
L_CALL:
    callee = I->funcs[pc[1]];
    nfp = fp + pc[2];
    ret_pc = pc + 3;
    goto do_call;
L_CALL_INDIRECT: {
    wtable *t = I->tables[pc[1]];
    uint64_t idx = (uint32_t)fp[pc[3]];
    if (UNLIKELY(idx >= t->size)) TRAPM(WASM_TRAP_UNINIT_ELEMENT, "undefined element");
    callee = (const wfunc *)(uintptr_t)t->elems[idx];
    if (UNLIKELY(!callee)) TRAP(WASM_TRAP_UNINIT_ELEMENT);
    const wfunctype *want = &I->mod->types[pc[2]];
    if (UNLIKELY(callee->type != want && !wasm_functype_eq(callee->type, want)))
        TRAP(WASM_TRAP_INDIRECT_MISMATCH);
    nfp = fp + pc[4];
    ret_pc = pc + 5;
    goto do_call;
}
do_call:
    if (UNLIKELY(atomic_load_explicit(intr, memory_order_relaxed))) TRAP(WASM_TRAP_INTERRUPTED);
do_call_entry:
    if (!callee->code) {
        /* host function */
        const wfunctype *ft = callee->type;
        wasm_val argbuf[16], resbuf[16];
        wasm_val *args = argbuf, *res = resbuf;
        if (ft->np > 16 || ft->nr > 16) {
            args = calloc(ft->np + 1, sizeof *args);
            res = calloc(ft->nr + 1, sizeof *res);
            if (!args || !res) {
                if (args != argbuf) free(args);
                if (res != resbuf) free(res);
                TRAP(WASM_TRAP_OUT_OF_MEMORY);
            }
        }
        for (uint32_t i = 0; i < ft->np; i++) wasm_slot_to_val(ft->params[i], nfp[i], &args[i]);
        for (uint32_t i = 0; i < ft->nr; i++) wasm_slot_to_val(ft->results[i], 0, &res[i]);
        wasm_call call = {.exec = ex, .inst = I ? I : root, .sp = NULL};
        uint32_t used = ft->np > ft->nr ? ft->np : ft->nr;
        uint64_t *saved_top = ex->sp_top;
        call.sp = nfp + used;
        ex->sp_top = call.sp;
        if (ex->nframes >= ex->max_frames) {
            if (args != argbuf) free(args);
            if (res != resbuf) free(res);
            TRAP(WASM_TRAP_STACK_EXHAUSTED);
        }
        FLUSH_FUEL();
        ex->trap_code = WASM_TRAP_NONE;
        /* a frame record for the caller, so that exception collection sees its slots */
        wframe *hf = &ex->frames[ex->nframes++];
        hf->ret_pc = ret_pc;
        hf->fp = fp;
        hf->func = ret_pc ? cur : NULL;
        int rc = callee->host(&call, args, res, callee->ud);
        ex->nframes--;
        fuel = root->fuel;
        ex->sp_top = saved_top;
        if (rc == 0) {
            for (uint32_t i = 0; i < ft->nr; i++) {
                res[i].type = ft->results[i];
                nfp[i] = wasm_val_to_slot(&res[i]);
            }
            ex->pending = NULL;
        }
        if (args != argbuf) free(args);
        if (res != resbuf) free(res);
        if (rc != 0) {
            if (rc == WASM_EEXCEPTION && ex->pending) {
                exn = ex->pending;
                ex->pending = NULL;
                if (!ret_pc) {
                    /* host function called directly from the embedder */
                    ex->pending = exn;
                    ex->native_depth--;
                    return WASM_EEXCEPTION;
                }
                throw_pc = ret_pc - 1;
                goto do_throw;
            }
            if (ex->trap_code == WASM_TRAP_NONE) {
                trap_code = WASM_TRAP_HOST;
                trap_msg = "host function failed";
                goto trap;
            }
            trap_code = ex->trap_code;
            goto trap_keep_msg;
        }
        if (!ret_pc) goto done;
        pc = ret_pc;
        LOAD_INST();
        NEXT();
    }
    {
        const wcode *code = callee->code;
        if (UNLIKELY(ex->nframes >= ex->max_frames ||
                     nfp + code->frame_slots > ex->stack_end))
            TRAP(WASM_TRAP_STACK_EXHAUSTED);
        wframe *fr = &ex->frames[ex->nframes++];
        fr->ret_pc = ret_pc;
        fr->fp = fp;
        fr->func = cur;
        uint32_t np = callee->type->np;
        if (code->nlocals > np) {
            uint32_t nz = code->nlocals - np;
            /* a few locals: inline stores, not a call into memset */
            if (nz <= 8) {
                uint64_t *z = nfp + np;
                switch (nz) {
                case 8: z[7] = 0; /* fall through */
                case 7: z[6] = 0; /* fall through */
                case 6: z[5] = 0; /* fall through */
                case 5: z[4] = 0; /* fall through */
                case 4: z[3] = 0; /* fall through */
                case 3: z[2] = 0; /* fall through */
                case 2: z[1] = 0; /* fall through */
                default: z[0] = 0;
                }
            } else {
                memset(nfp + np, 0, (size_t)nz * 8);
            }
        }
        fp = nfp;
        pc = code->cells;
        root->calls++;
        /* same instance: the cached memory/globals are current (they only change
         * through memory.grow and host calls, which reload them) */
        if (callee->inst != I) { cur = callee; LOAD_INST(); }
        else cur = callee;
        NEXT();
    }
L_RET: {
    wframe *fr = &ex->frames[--ex->nframes];
    if (ex->nframes == base_frames) goto done;
    pc = fr->ret_pc;
    fp = fr->fp;
    cur = fr->func;
    /* back in the same instance: memory/globals in the registers are current (the
     * callee's memory.grow and host calls reloaded them) */
    if (cur->inst != I) LOAD_INST();
    NEXT();
}

    /* ---------------- memory ---------------- */
#define LD32(N, T, CONV) \
L_LD_##N: { \
    uint64_t ea = (uint64_t)(uint32_t)fp[pc[2]] + pc[3]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v; memcpy(&v, mem + ea, sizeof v); \
    fp[pc[1]] = CONV(v); pc += 4; NEXT(); } \
L_LD64_##N: { \
    uint64_t a = fp[pc[2]], ea = a + pc[3]; \
    if (UNLIKELY(ea < a || ea > msize || msize - ea < sizeof(T))) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v; memcpy(&v, mem + ea, sizeof v); \
    fp[pc[1]] = CONV(v); pc += 4; NEXT(); } \
L_LDA_##N: { \
    uint64_t ea = (uint64_t)(uint32_t)(fp[pc[2]] + fp[pc[3]]) + pc[4]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v; memcpy(&v, mem + ea, sizeof v); \
    fp[pc[1]] = CONV(v); pc += 5; NEXT(); } \
L_LDAI_##N: { \
    uint64_t ea = (uint64_t)(uint32_t)(fp[pc[2]] + pc[3]) + pc[4]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v; memcpy(&v, mem + ea, sizeof v); \
    fp[pc[1]] = CONV(v); pc += 5; NEXT(); } \
L_LDK_##N: { \
    uint64_t ea = pc[2]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v; memcpy(&v, mem + ea, sizeof v); \
    fp[pc[1]] = CONV(v); pc += 3; NEXT(); } \
L_LDAS_##N: { \
    uint64_t ea = (uint64_t)(uint32_t)(fp[pc[2]] + (fp[pc[3]] << pc[4])) + pc[5]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v; memcpy(&v, mem + ea, sizeof v); \
    fp[pc[1]] = CONV(v); pc += 6; NEXT(); }
#define Z32(v) ((uint64_t)(uint32_t)(v))
#define Z64(v) ((uint64_t)(v))
#define S32TO64(v) ((uint64_t)(uint32_t)(int32_t)(v))
#define SX64(v) ((uint64_t)(int64_t)(v))
    LD32(I32, uint32_t, Z32)
    LD32(I64, uint64_t, Z64)
    LD32(I32_8S, int8_t, S32TO64)
    LD32(I32_8U, uint8_t, Z32)
    LD32(I32_16S, int16_t, S32TO64)
    LD32(I32_16U, uint16_t, Z32)
    LD32(I64_8S, int8_t, SX64)
    LD32(I64_8U, uint8_t, Z64)
    LD32(I64_16S, int16_t, SX64)
    LD32(I64_16U, uint16_t, Z64)
    LD32(I64_32S, int32_t, SX64)
    LD32(I64_32U, uint32_t, Z64)
#undef LD32
/* dirty marks: first and last 4 KiB page touched (one mark for single bytes) */
#define MARK(ea, T) do { dirty[(ea) / WASM_DIRTY_PAGE_SIZE] = 1; \
    if (sizeof(T) > 1) dirty[((ea) + sizeof(T) - 1) / WASM_DIRTY_PAGE_SIZE] = 1; } while (0)
#define ST(N, T) \
L_ST_##N: { \
    uint64_t ea = (uint64_t)(uint32_t)fp[pc[1]] + pc[3]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v = (T)fp[pc[2]]; memcpy(mem + ea, &v, sizeof v); \
    MARK(ea, T); \
    pc += 4; NEXT(); } \
L_STA_##N: { \
    uint64_t ea = (uint64_t)(uint32_t)(fp[pc[1]] + fp[pc[2]]) + pc[4]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v = (T)fp[pc[3]]; memcpy(mem + ea, &v, sizeof v); \
    MARK(ea, T); \
    pc += 5; NEXT(); } \
L_STAI_##N: { \
    uint64_t ea = (uint64_t)(uint32_t)(fp[pc[1]] + pc[2]) + pc[4]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v = (T)fp[pc[3]]; memcpy(mem + ea, &v, sizeof v); \
    MARK(ea, T); \
    pc += 5; NEXT(); } \
L_STK_##N: { \
    uint64_t ea = pc[1]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v = (T)fp[pc[2]]; memcpy(mem + ea, &v, sizeof v); \
    MARK(ea, T); \
    pc += 3; NEXT(); } \
L_STAS_##N: { \
    uint64_t ea = (uint64_t)(uint32_t)(fp[pc[1]] + (fp[pc[2]] << pc[3])) + pc[5]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v = (T)fp[pc[4]]; memcpy(mem + ea, &v, sizeof v); \
    MARK(ea, T); \
    pc += 6; NEXT(); } \
L_ST64_##N: { \
    uint64_t a = fp[pc[1]], ea = a + pc[3]; \
    if (UNLIKELY(ea < a || ea > msize || msize - ea < sizeof(T))) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v = (T)fp[pc[2]]; memcpy(mem + ea, &v, sizeof v); \
    MARK(ea, T); \
    pc += 4; NEXT(); }
    ST(8, uint8_t)
    ST(16, uint16_t)
    ST(32, uint32_t)
    ST(64, uint64_t)
#undef ST
#define MV(N, T) \
L_MV_##N: { \
    uint64_t sa = (uint64_t)(uint32_t)fp[pc[3]] + pc[4]; \
    if (UNLIKELY(sa + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    T v; memcpy(&v, mem + sa, sizeof v); \
    uint64_t ea = (uint64_t)(uint32_t)fp[pc[1]] + pc[2]; \
    if (UNLIKELY(ea + sizeof(T) > msize)) TRAP(WASM_TRAP_MEMORY_OOB); \
    memcpy(mem + ea, &v, sizeof v); \
    MARK(ea, T); \
    pc += 5; NEXT(); }
    MV(8, uint8_t)
    MV(16, uint16_t)
    MV(32, uint32_t)
    MV(64, uint64_t)
#undef MV
L_MEM_SIZE:
    fp[pc[1]] = I->mem->pages;
    pc += 2;
    NEXT();
L_MEM_GROW: {
    wmemory *m = I->mem;
    uint64_t delta = m->is64 ? fp[pc[2]] : (uint32_t)fp[pc[2]];
    int64_t r = wasm_mem_grow(m, delta);
    fp[pc[1]] = m->is64 ? (uint64_t)r : (uint32_t)r;
    LOAD_INST();
    pc += 3;
    NEXT();
}
L_MEM_FILL: {
    uint64_t *s = fp + pc[1];
    uint64_t d = s[0], n = s[2], e;
    if (UNLIKELY(__builtin_add_overflow(d, n, &e) || e > msize)) TRAP(WASM_TRAP_MEMORY_OOB);
    memset(mem + d, (int)(uint8_t)s[1], n);
    wasm_mem_dirty(I->mem, d, n);
    if (metered) fuel -= (int64_t)(n >> 6);
    pc += 2;
    NEXT();
}
L_MEM_COPY: {
    uint64_t *s = fp + pc[1];
    uint64_t d = s[0], src = s[1], n = s[2], e1, e2;
    if (UNLIKELY(__builtin_add_overflow(d, n, &e1) || e1 > msize ||
                 __builtin_add_overflow(src, n, &e2) || e2 > msize))
        TRAP(WASM_TRAP_MEMORY_OOB);
    memmove(mem + d, mem + src, n);
    wasm_mem_dirty(I->mem, d, n);
    if (metered) fuel -= (int64_t)(n >> 6);
    pc += 2;
    NEXT();
}
L_MEM_INIT: {
    uint64_t *s = fp + pc[2];
    const wdata *seg = &I->mod->datas[pc[1]];
    uint64_t seglen = I->data_dropped[pc[1]] ? 0 : seg->len;
    uint64_t d = s[0], src = (uint32_t)s[1], n = (uint32_t)s[2], e;
    if (UNLIKELY(__builtin_add_overflow(d, n, &e) || e > msize || src + n > seglen))
        TRAP(WASM_TRAP_MEMORY_OOB);
    if (n) memcpy(mem + d, seg->bytes + src, n);
    wasm_mem_dirty(I->mem, d, n);
    if (metered) fuel -= (int64_t)(n >> 6);
    pc += 3;
    NEXT();
}
L_DATA_DROP:
    I->data_dropped[pc[1]] = 1;
    pc += 2;
    NEXT();

    /* ---------------- tables ---------------- */
L_TABLE_GET: {
    wtable *t = I->tables[pc[2]];
    uint64_t i = (uint32_t)fp[pc[3]];
    if (UNLIKELY(i >= t->size)) TRAP(WASM_TRAP_TABLE_OOB);
    fp[pc[1]] = t->elems[i];
    pc += 4;
    NEXT();
}
L_TABLE_SET: {
    wtable *t = I->tables[pc[1]];
    uint64_t i = (uint32_t)fp[pc[2]];
    if (UNLIKELY(i >= t->size)) TRAP(WASM_TRAP_TABLE_OOB);
    t->elems[i] = fp[pc[3]];
    pc += 4;
    NEXT();
}
L_TABLE_SIZE:
    fp[pc[1]] = (uint32_t)I->tables[pc[2]]->size;
    pc += 3;
    NEXT();
L_TABLE_GROW: {
    uint64_t *s = fp + pc[2];
    int64_t r = wasm_table_grow_int(I->tables[pc[1]], (uint32_t)s[1], s[0]);
    s[0] = (uint32_t)r;
    pc += 3;
    NEXT();
}
L_TABLE_FILL: {
    wtable *t = I->tables[pc[1]];
    uint64_t *s = fp + pc[2];
    uint64_t i = (uint32_t)s[0], v = s[1], n = (uint32_t)s[2];
    if (UNLIKELY(i + n > t->size)) TRAP(WASM_TRAP_TABLE_OOB);
    for (uint64_t k = 0; k < n; k++) t->elems[i + k] = v;
    if (metered) fuel -= (int64_t)(n >> 4);
    pc += 3;
    NEXT();
}
L_TABLE_COPY: {
    wtable *td = I->tables[pc[1]], *ts = I->tables[pc[2]];
    uint64_t *s = fp + pc[3];
    uint64_t d = (uint32_t)s[0], src = (uint32_t)s[1], n = (uint32_t)s[2];
    if (UNLIKELY(d + n > td->size || src + n > ts->size)) TRAP(WASM_TRAP_TABLE_OOB);
    memmove(td->elems + d, ts->elems + src, n * sizeof(uint64_t));
    if (metered) fuel -= (int64_t)(n >> 4);
    pc += 4;
    NEXT();
}
L_TABLE_INIT: {
    wtable *t = I->tables[pc[1]];
    uint32_t segi = (uint32_t)pc[2];
    uint64_t *s = fp + pc[3];
    uint64_t seglen = I->elem_dropped[segi] ? 0 : I->mod->elems[segi].n;
    uint64_t d = (uint32_t)s[0], src = (uint32_t)s[1], n = (uint32_t)s[2];
    if (UNLIKELY(d + n > t->size || src + n > seglen)) TRAP(WASM_TRAP_TABLE_OOB);
    for (uint64_t k = 0; k < n; k++) {
        const wconst *ce = &I->mod->elems[segi].items[src + k];
        uint64_t v = 0;
        if (ce->kind == CE_REFFUNC) v = (uint64_t)(uintptr_t)I->funcs[ce->val];
        else if (ce->kind == CE_GLOBAL) v = *G[ce->val];
        t->elems[d + k] = v;
    }
    if (metered) fuel -= (int64_t)(n >> 4);
    pc += 4;
    NEXT();
}
L_ELEM_DROP:
    I->elem_dropped[pc[1]] = 1;
    pc += 2;
    NEXT();
L_REF_FUNC:
    fp[pc[1]] = (uint64_t)(uintptr_t)I->funcs[pc[2]];
    pc += 3;
    NEXT();
L_REF_IS_NULL:
    fp[pc[1]] = fp[pc[2]] == 0;
    pc += 3;
    NEXT();

    /* ---------------- exceptions ---------------- */
L_THROW: {
    wtag *tag = I->tags[pc[1]];
    exn = wasm_exec_new_exn(ex, tag, fp, cur);
    if (!exn) TRAP(WASM_TRAP_OUT_OF_MEMORY);
    memcpy(exn->vals, fp + pc[2], (size_t)exn->n * 8);
    throw_pc = pc;
    goto do_throw;
}
L_RETHROW:
    exn = (wexn *)(uintptr_t)fp[pc[1]];
    throw_pc = pc;
    goto do_throw;
do_throw:
    for (;;) {
        const wcode *code = cur->code;
        uint32_t pos = (uint32_t)(throw_pc - code->cells);
        int64_t hi = code->nhandlers ? find_handler(code, pos, (int64_t)code->nhandlers - 1) : -1;
        while (hi >= 0) {
            const whandler *h = &code->handlers[hi];
            if (h->delegate == -1) { hi = -1; break; }
            if (h->delegate >= 0) { hi = h->delegate; continue; }
            for (uint32_t k = 0; k < h->ncatch; k++) {
                if (I->tags[h->catch_tag[k]] == exn->tag) {
                    fp[h->slot] = (uint64_t)(uintptr_t)exn;
                    memcpy(fp + h->slot + 1, exn->vals, (size_t)exn->n * 8);
                    pc = code->cells + h->catch_pc[k];
                    NEXT();
                }
            }
            if (h->catch_all_pc >= 0) {
                fp[h->slot] = (uint64_t)(uintptr_t)exn;
                pc = code->cells + h->catch_all_pc;
                NEXT();
            }
            hi = find_handler(code, h->start, hi - 1);
        }
        /* unwind one frame */
        wframe *fr = &ex->frames[--ex->nframes];
        if (ex->nframes == base_frames) {
            ex->pending = exn;
            FLUSH_FUEL();
            ex->native_depth--;
            return WASM_EEXCEPTION;
        }
        throw_pc = fr->ret_pc - 1;
        fp = fr->fp;
        cur = fr->func;
        LOAD_INST();
    }

    /* ---------------- numeric ---------------- */
#define UN(N, EXPR) L_##N: { uint64_t a = fp[pc[2]]; fp[pc[1]] = (EXPR); pc += 3; NEXT(); }
#define UNT(N, CHECK, EXPR) L_##N: { uint64_t a = fp[pc[2]]; CHECK; fp[pc[1]] = (EXPR); pc += 3; NEXT(); }
    UN(I32_EQZ, (uint32_t)a == 0)
    UN(I64_EQZ, a == 0)
    UN(I32_CLZ, (uint32_t)a ? (uint64_t)__builtin_clz((uint32_t)a) : 32)
    UN(I32_CTZ, (uint32_t)a ? (uint64_t)__builtin_ctz((uint32_t)a) : 32)
    UN(I32_POPCNT, (uint64_t)__builtin_popcount((uint32_t)a))
    UN(I64_CLZ, a ? (uint64_t)__builtin_clzll(a) : 64)
    UN(I64_CTZ, a ? (uint64_t)__builtin_ctzll(a) : 64)
    UN(I64_POPCNT, (uint64_t)__builtin_popcountll(a))
    UN(F32_ABS, a & 0x7FFFFFFFu)
    UN(F32_NEG, (a ^ 0x80000000u) & 0xFFFFFFFFu)
    UN(F32_CEIL, cf32(ceilf(f32_of(a))))
    UN(F32_FLOOR, cf32(floorf(f32_of(a))))
    UN(F32_TRUNC, cf32(truncf(f32_of(a))))
    UN(F32_NEAREST, cf32(nearbyintf(f32_of(a))))
    UN(F32_SQRT, cf32(sqrtf(f32_of(a))))
    UN(F64_ABS, a & 0x7FFFFFFFFFFFFFFFull)
    UN(F64_NEG, a ^ 0x8000000000000000ull)
    UN(F64_CEIL, cf64(ceil(f64_of(a))))
    UN(F64_FLOOR, cf64(floor(f64_of(a))))
    UN(F64_TRUNC, cf64(trunc(f64_of(a))))
    UN(F64_NEAREST, cf64(nearbyint(f64_of(a))))
    UN(F64_SQRT, cf64(sqrt(f64_of(a))))
    UN(I32_WRAP_I64, (uint32_t)a)
#define CHK_NAN(x) if (UNLIKELY((x) != (x))) TRAP(WASM_TRAP_INVALID_CONVERSION)
#define CHK_RANGE(ok) if (UNLIKELY(!(ok))) TRAP(WASM_TRAP_INT_OVERFLOW)
    UNT(I32_TRUNC_F32_S, { float x = f32_of(a); CHK_NAN(x); CHK_RANGE(x >= -2147483648.0f && x < 2147483648.0f); },
        (uint32_t)(int32_t)f32_of(a))
    UNT(I32_TRUNC_F32_U, { float x = f32_of(a); CHK_NAN(x); CHK_RANGE(x > -1.0f && x < 4294967296.0f); },
        (uint32_t)f32_of(a))
    UNT(I32_TRUNC_F64_S, { double x = f64_of(a); CHK_NAN(x); CHK_RANGE(x > -2147483649.0 && x < 2147483648.0); },
        (uint32_t)(int32_t)f64_of(a))
    UNT(I32_TRUNC_F64_U, { double x = f64_of(a); CHK_NAN(x); CHK_RANGE(x > -1.0 && x < 4294967296.0); },
        (uint32_t)f64_of(a))
    UN(I64_EXTEND_I32_S, (uint64_t)(int64_t)(int32_t)(uint32_t)a)
    UN(I64_EXTEND_I32_U, (uint32_t)a)
    UNT(I64_TRUNC_F32_S, { float x = f32_of(a); CHK_NAN(x); CHK_RANGE(x >= -9223372036854775808.0f && x < 9223372036854775808.0f); },
        (uint64_t)(int64_t)f32_of(a))
    UNT(I64_TRUNC_F32_U, { float x = f32_of(a); CHK_NAN(x); CHK_RANGE(x > -1.0f && x < 18446744073709551616.0f); },
        (uint64_t)f32_of(a))
    UNT(I64_TRUNC_F64_S, { double x = f64_of(a); CHK_NAN(x); CHK_RANGE(x >= -9223372036854775808.0 && x < 9223372036854775808.0); },
        (uint64_t)(int64_t)f64_of(a))
    UNT(I64_TRUNC_F64_U, { double x = f64_of(a); CHK_NAN(x); CHK_RANGE(x > -1.0 && x < 18446744073709551616.0); },
        (uint64_t)f64_of(a))
    UN(F32_CONVERT_I32_S, bits32((float)(int32_t)(uint32_t)a))
    UN(F32_CONVERT_I32_U, bits32((float)(uint32_t)a))
    UN(F32_CONVERT_I64_S, bits32((float)(int64_t)a))
    UN(F32_CONVERT_I64_U, bits32((float)a))
    UN(F32_DEMOTE_F64, cf32((float)f64_of(a)))
    UN(F64_CONVERT_I32_S, bits64((double)(int32_t)(uint32_t)a))
    UN(F64_CONVERT_I32_U, bits64((double)(uint32_t)a))
    UN(F64_CONVERT_I64_S, bits64((double)(int64_t)a))
    UN(F64_CONVERT_I64_U, bits64((double)a))
    UN(F64_PROMOTE_F32, cf64((double)f32_of(a)))
    UN(I32_EXTEND8_S, (uint32_t)(int32_t)(int8_t)a)
    UN(I32_EXTEND16_S, (uint32_t)(int32_t)(int16_t)a)
    UN(I64_EXTEND8_S, (uint64_t)(int64_t)(int8_t)a)
    UN(I64_EXTEND16_S, (uint64_t)(int64_t)(int16_t)a)
    UN(I64_EXTEND32_S, (uint64_t)(int64_t)(int32_t)a)
    UN(I32_TRUNC_SAT_F32_S, sat_i32_s((double)f32_of(a)))
    UN(I32_TRUNC_SAT_F32_U, sat_i32_u((double)f32_of(a)))
    UN(I32_TRUNC_SAT_F64_S, sat_i32_s(f64_of(a)))
    UN(I32_TRUNC_SAT_F64_U, sat_i32_u(f64_of(a)))
    UN(I64_TRUNC_SAT_F32_S, sat_i64_s((double)f32_of(a)))
    UN(I64_TRUNC_SAT_F32_U, sat_i64_u((double)f32_of(a)))
    UN(I64_TRUNC_SAT_F64_S, sat_i64_s(f64_of(a)))
    UN(I64_TRUNC_SAT_F64_U, sat_i64_u(f64_of(a)))
#undef UN
#undef UNT

    /* binary integer ops: a, b typed; _I variants take b from the cell */
#define IB32(N, CHECK, EXPR) \
L_##N: { uint32_t a = (uint32_t)fp[pc[2]], b = (uint32_t)fp[pc[3]]; CHECK; \
    fp[pc[1]] = (uint32_t)(EXPR); pc += 4; NEXT(); } \
L_##N##_I: { uint32_t a = (uint32_t)fp[pc[2]], b = (uint32_t)pc[3]; CHECK; \
    fp[pc[1]] = (uint32_t)(EXPR); pc += 4; NEXT(); }
#define IB64(N, CHECK, EXPR) \
L_##N: { uint64_t a = fp[pc[2]], b = fp[pc[3]]; CHECK; \
    fp[pc[1]] = (uint64_t)(EXPR); pc += 4; NEXT(); } \
L_##N##_I: { uint64_t a = fp[pc[2]], b = pc[3]; CHECK; \
    fp[pc[1]] = (uint64_t)(EXPR); pc += 4; NEXT(); }
#define S32(x) ((int32_t)(x))
#define S64(x) ((int64_t)(x))
#define NOCHK (void)0
#define DIV0(b) if (UNLIKELY((b) == 0)) TRAP(WASM_TRAP_DIV_ZERO)
    IB32(I32_EQ, NOCHK, a == b)
    IB32(I32_NE, NOCHK, a != b)
    IB32(I32_LT_S, NOCHK, S32(a) < S32(b))
    IB32(I32_LT_U, NOCHK, a < b)
    IB32(I32_GT_S, NOCHK, S32(a) > S32(b))
    IB32(I32_GT_U, NOCHK, a > b)
    IB32(I32_LE_S, NOCHK, S32(a) <= S32(b))
    IB32(I32_LE_U, NOCHK, a <= b)
    IB32(I32_GE_S, NOCHK, S32(a) >= S32(b))
    IB32(I32_GE_U, NOCHK, a >= b)
    IB64(I64_EQ, NOCHK, a == b)
    IB64(I64_NE, NOCHK, a != b)
    IB64(I64_LT_S, NOCHK, S64(a) < S64(b))
    IB64(I64_LT_U, NOCHK, a < b)
    IB64(I64_GT_S, NOCHK, S64(a) > S64(b))
    IB64(I64_GT_U, NOCHK, a > b)
    IB64(I64_LE_S, NOCHK, S64(a) <= S64(b))
    IB64(I64_LE_U, NOCHK, a <= b)
    IB64(I64_GE_S, NOCHK, S64(a) >= S64(b))
    IB64(I64_GE_U, NOCHK, a >= b)
    IB32(I32_ADD, NOCHK, a + b)
    IB32(I32_SUB, NOCHK, a - b)
    IB32(I32_MUL, NOCHK, a * b)
    IB32(I32_DIV_S, { DIV0(b); if (UNLIKELY(a == 0x80000000u && b == 0xFFFFFFFFu)) TRAP(WASM_TRAP_INT_OVERFLOW); },
         S32(a) / S32(b))
    IB32(I32_DIV_U, DIV0(b), a / b)
    IB32(I32_REM_S, DIV0(b), b == 0xFFFFFFFFu ? 0 : S32(a) % S32(b))
    IB32(I32_REM_U, DIV0(b), a % b)
    IB32(I32_AND, NOCHK, a & b)
    IB32(I32_OR, NOCHK, a | b)
    IB32(I32_XOR, NOCHK, a ^ b)
    IB32(I32_SHL, NOCHK, a << (b & 31))
    IB32(I32_SHR_S, NOCHK, S32(a) >> (b & 31))
    IB32(I32_SHR_U, NOCHK, a >> (b & 31))
    IB32(I32_ROTL, NOCHK, rotl32(a, b))
    IB32(I32_ROTR, NOCHK, rotr32(a, b))
    IB64(I64_ADD, NOCHK, a + b)
    IB64(I64_SUB, NOCHK, a - b)
    IB64(I64_MUL, NOCHK, a * b)
    IB64(I64_DIV_S, { DIV0(b); if (UNLIKELY(a == 0x8000000000000000ull && b == UINT64_MAX)) TRAP(WASM_TRAP_INT_OVERFLOW); },
         S64(a) / S64(b))
    IB64(I64_DIV_U, DIV0(b), a / b)
    IB64(I64_REM_S, DIV0(b), b == UINT64_MAX ? 0 : S64(a) % S64(b))
    IB64(I64_REM_U, DIV0(b), a % b)
    IB64(I64_AND, NOCHK, a & b)
    IB64(I64_OR, NOCHK, a | b)
    IB64(I64_XOR, NOCHK, a ^ b)
    IB64(I64_SHL, NOCHK, a << (b & 63))
    IB64(I64_SHR_S, NOCHK, S64(a) >> (b & 63))
    IB64(I64_SHR_U, NOCHK, a >> (b & 63))
    IB64(I64_ROTL, NOCHK, rotl64(a, b))
    IB64(I64_ROTR, NOCHK, rotr64(a, b))
#undef IB32
#undef IB64

#define FB32(N, EXPR) L_##N: { float a = f32_of(fp[pc[2]]), b = f32_of(fp[pc[3]]); \
    fp[pc[1]] = (EXPR); pc += 4; NEXT(); }
#define FB64(N, EXPR) L_##N: { double a = f64_of(fp[pc[2]]), b = f64_of(fp[pc[3]]); \
    fp[pc[1]] = (EXPR); pc += 4; NEXT(); }
    FB32(F32_EQ, a == b)
    FB32(F32_NE, a != b)
    FB32(F32_LT, a < b)
    FB32(F32_GT, a > b)
    FB32(F32_LE, a <= b)
    FB32(F32_GE, a >= b)
    FB64(F64_EQ, a == b)
    FB64(F64_NE, a != b)
    FB64(F64_LT, a < b)
    FB64(F64_GT, a > b)
    FB64(F64_LE, a <= b)
    FB64(F64_GE, a >= b)
    FB32(F32_ADD, cf32(a + b))
    FB32(F32_SUB, cf32(a - b))
    FB32(F32_MUL, cf32(a * b))
    FB32(F32_DIV, cf32(a / b))
    FB32(F32_MIN, cf32(fmin32(a, b)))
    FB32(F32_MAX, cf32(fmax32(a, b)))
    FB64(F64_ADD, cf64(a + b))
    FB64(F64_SUB, cf64(a - b))
    FB64(F64_MUL, cf64(a * b))
    FB64(F64_DIV, cf64(a / b))
    FB64(F64_MIN, cf64(fmin64(a, b)))
    FB64(F64_MAX, cf64(fmax64(a, b)))
#undef FB32
#undef FB64
    /* xors of rotations by immediates (wasm_ops.h) */
L_XR2:
    fp[pc[1]] = rotl32((uint32_t)fp[pc[2]], (uint32_t)pc[3]) ^ rotl32((uint32_t)fp[pc[4]], (uint32_t)pc[5]);
    pc += 6;
    NEXT();
L_XR3:
    fp[pc[1]] = rotl32((uint32_t)fp[pc[2]], (uint32_t)pc[3]) ^ rotl32((uint32_t)fp[pc[4]], (uint32_t)pc[5]) ^
                rotl32((uint32_t)fp[pc[6]], (uint32_t)pc[7]);
    pc += 8;
    NEXT();
L_XR2S:
    fp[pc[1]] = rotl32((uint32_t)fp[pc[2]], (uint32_t)pc[3]) ^ rotl32((uint32_t)fp[pc[4]], (uint32_t)pc[5]) ^
                ((uint32_t)fp[pc[6]] >> (pc[7] & 31));
    pc += 8;
    NEXT();
    /* fused i32 pairs: d = C(P(x, y), z) */
#define Y_FU_SS(P, E, C, O) \
L_FU_##P##_##C: { uint32_t a = (uint32_t)fp[pc[2]], b = (uint32_t)fp[pc[3]]; \
    fp[pc[1]] = (uint32_t)((uint32_t)(E) O (uint32_t)fp[pc[4]]); pc += 5; NEXT(); }
#define Y_FU_SI(P, E, C, O) \
L_FU_##P##_##C: { uint32_t a = (uint32_t)fp[pc[2]], b = (uint32_t)pc[3]; \
    fp[pc[1]] = (uint32_t)((uint32_t)(E) O (uint32_t)fp[pc[4]]); pc += 5; NEXT(); }
    WASM_FUSED_SS(Y_FU_SS)
    WASM_FUSED_SI(Y_FU_SI)
#undef Y_FU_SS
#undef Y_FU_SI
#define Y_FU_FF(P, E, C, O) \
L_FUF_##P##_##C: { double a = f64_of(fp[pc[2]]), b = f64_of(fp[pc[3]]); double t_ = (E); \
    fp[pc[1]] = cf64(t_ O f64_of(fp[pc[4]])); pc += 5; NEXT(); }
    WASM_FUSED_FF(Y_FU_FF)
#undef Y_FU_FF
#define Y_FU_KS(P, E, C, F) \
L_FUK_##P##_##C: { uint32_t a = (uint32_t)fp[pc[2]], b = (uint32_t)fp[pc[3]]; \
    uint32_t t = (uint32_t)(E), k = (uint32_t)pc[4]; fp[pc[1]] = (uint32_t)(F); pc += 5; NEXT(); }
#define Y_FU_KI(P, E, C, F) \
L_FUK_##P##_##C: { uint32_t a = (uint32_t)fp[pc[2]], b = (uint32_t)pc[3]; \
    uint32_t t = (uint32_t)(E), k = (uint32_t)pc[4]; fp[pc[1]] = (uint32_t)(F); pc += 5; NEXT(); }
    WASM_FUSED_KS(Y_FU_KS)
    WASM_FUSED_KI(Y_FU_KI)
#undef Y_FU_KS
#undef Y_FU_KI
L_I32_ADD_SHL:
    fp[pc[1]] = (uint32_t)(fp[pc[2]] + (fp[pc[3]] << pc[4]));
    pc += 5;
    NEXT();
L_F32_COPYSIGN:
    fp[pc[1]] = (fp[pc[2]] & 0x7FFFFFFFu) | (fp[pc[3]] & 0x80000000u);
    pc += 4;
    NEXT();
L_F64_COPYSIGN:
    fp[pc[1]] = (fp[pc[2]] & 0x7FFFFFFFFFFFFFFFull) | (fp[pc[3]] & 0x8000000000000000ull);
    pc += 4;
    NEXT();

    /* ---------------- exits ---------------- */
trap:
    wasm_exec_set_trap(ex, trap_code, trap_msg);
trap_keep_msg:
    ex->trap_code = trap_code;
    ex->nframes = base_frames;
    FLUSH_FUEL();
    ex->native_depth--;
    return WASM_ETRAP;
done:
    FLUSH_FUEL();
    ex->native_depth--;
    return WASM_OK;
}

int wasm_exec_run(wexec *ex, const wfunc *func, uint64_t *fp)
{
    return run(ex, func, fp);
}

/* ------------------------------------------------------------------ */
/* Execution contexts and invocation                                   */
/* ------------------------------------------------------------------ */

wexec *wasm_exec_get(wasm_instance *inst)
{
    if (inst->exec) return inst->exec;
    const wasm_config *cfg = &inst->mod->engine->cfg;
    wexec *ex = calloc(1, sizeof *ex);
    if (!ex) return NULL;
    size_t slots = cfg->value_stack_slots ? cfg->value_stack_slots : WASM_CFG_STACK_SLOTS;
    ex->max_frames = cfg->max_call_depth ? cfg->max_call_depth : WASM_DEFAULT_CALL_DEPTH;
    ex->stack = malloc(slots * sizeof(uint64_t));
    ex->frames = malloc(((size_t)ex->max_frames + 1) * sizeof(wframe));
    if (!ex->stack || !ex->frames) {
        free(ex->stack);
        free(ex->frames);
        free(ex);
        return NULL;
    }
    ex->stack_end = ex->stack + slots;
    ex->sp_top = ex->stack;
    ex->gc_at = WASM_CFG_EXN_GC_AT;
    inst->exec = ex;
    return ex;
}

void wasm_exec_free(wexec *ex)
{
    if (!ex) return;
    wasm_exec_release_exns(ex);
    free(ex->stack);
    free(ex->frames);
    free(ex);
}

static void fill_trap(wasm_trap *trap, wasm_trap_code code, const char *msg)
{
    if (!trap) return;
    trap->code = code;
    snprintf(trap->message, sizeof trap->message, "%s", msg);
}

int wasm_exec_invoke(wexec *ex, wasm_instance *caller, const wfunc *f, const wasm_val *args,
                     uint32_t nargs, wasm_val *results, uint32_t nresults, uint64_t *sp,
                     wasm_trap *trap)
{
    const wfunctype *t = f->type;
    if (nargs != t->np || nresults < t->nr) return WASM_EINVAL;
    for (uint32_t i = 0; i < nargs; i++)
        if (args[i].type != t->params[i]) return WASM_EINVAL;
    (void)caller;
    uint32_t need = (t->np > t->nr ? t->np : t->nr) + 1;
    if (sp + need > ex->stack_end) {
        fill_trap(trap, WASM_TRAP_STACK_EXHAUSTED, "call stack exhausted");
        ex->trap_code = WASM_TRAP_STACK_EXHAUSTED;
        return WASM_ETRAP;
    }
    for (uint32_t i = 0; i < nargs; i++) sp[i] = wasm_val_to_slot(&args[i]);
    uint64_t *saved_top = ex->sp_top;
    ex->sp_top = sp + need;
    int rc = wasm_exec_run(ex, f, sp);
    ex->sp_top = saved_top;
    if (rc == WASM_OK) {
        for (uint32_t i = 0; i < t->nr; i++) wasm_slot_to_val(t->results[i], sp[i], &results[i]);
        if (trap) { trap->code = WASM_TRAP_NONE; trap->message[0] = 0; }
    } else if (rc == WASM_ETRAP) {
        fill_trap(trap, ex->trap_code, ex->trap_msg);
    } else if (rc == WASM_EEXCEPTION) {
        fill_trap(trap, WASM_TRAP_UNCAUGHT_EXCEPTION, "uncaught exception");
    }
    return rc;
}
