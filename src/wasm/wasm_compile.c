/* wasm_compile.c: validate a function body and compile it to slot code, in one pass.
 *
 * The validator keeps the spec's operand and control stacks. Each operand-stack
 * entry also says where its value lives at run time:
 *
 *    K_STACK  in its canonical slot  nlocals + position
 *    K_LOCAL  still in local i (local.get emits nothing; the read is folded into the
 *             consumer's operand)
 *    K_CONST  a constant not yet written anywhere (folded as an immediate where the
 *             consumer has an _I variant, else written to the canonical slot)
 *
 * Entries are "materialized" (written to their canonical slot) when a consumer needs
 * it: block boundaries, branches, calls, and before local.set overwrites a local
 * that deferred entries still refer to. Calls pass arguments in place: the callee's
 * frame starts at the slot of its first argument, results come back there.
 *
 * Peepholes: `op; local.set x` writes op's result straight into x; an i32 compare
 * (or eqz) followed by br_if / if becomes one compare-and-branch.
 *
 * Metering: with fuel enabled, each basic block starts with FUEL n (LOOP_FUEL at
 * loop headers, which also polls the interrupt flag) where n sums the costs of the
 * block's instructions (config.h). Backward branches poll the interrupt flag too, so
 * without fuel no metering code is emitted at all.
 */
#include "wasm/wasm_int.h"
#include "wasm/wasm_dec.h"
#include "wasm/wasm_ops.h"

#include <stdlib.h>

#define T_ANY 0   /* bottom type (from unreachable code) */
#define OK(x) do { if (!(x)) return false; } while (0)

enum { K_STACK, K_LOCAL, K_CONST };

typedef struct sval {
    uint8_t t;        /* wasm_valtype or T_ANY */
    uint8_t kind;
    uint32_t idx;     /* local index for K_LOCAL */
    uint64_t k;       /* constant bits for K_CONST */
} sval;

enum { B_FUNC, B_BLOCK, B_LOOP, B_IF, B_ELSE, B_TRY, B_CATCH, B_CATCH_ALL };

typedef struct ctrl {
    uint8_t kind;
    bool unreachable;         /* validation: rest of the frame is stack-polymorphic */
    bool dead;                /* emission: code here can never run */
    uint32_t height;          /* operand stack height at entry (validation floor) */
    uint32_t base;            /* stack position where label values go */
    uint32_t np, nr;
    const wasm_valtype *params, *results;
    int64_t patches;          /* chain of forward branch offset cells, -1 = none */
    uint32_t loop_pc;         /* loop header cell */
    int64_t else_patch;       /* if: branch to else, -1 = none */
    uint32_t handler;         /* try/catch: handler index */
} ctrl;

typedef struct comp {
    wdec *d;
    wasm_module *m;
    const void *const *labels;
    bool fuel;
    /* locals */
    uint32_t nlocals;
    wasm_valtype *ltypes;
    /* operand stack */
    sval *st;
    uint32_t sp, st_cap, max_h;
    /* control stack */
    ctrl *cs;
    uint32_t csp, cs_cap;
    /* code */
    uint64_t *code;
    uint32_t n, cap;
    int64_t fuel_cell;        /* cell of the current block's FUEL amount, -1 none */
    /* last value-producing instruction, for peepholes */
    int64_t last_start, last_end, last_dst;
    int last_op;
    /* the producer right before it (prev_end == last_start), -1 none */
    int64_t prev_start, prev_end, prev_dst;
    int prev_op;
    int64_t cmp_add;          /* an I32_ADD_I right before the last i32 compare, -1 none */
    /* handlers */
    whandler *h;
    uint32_t nh, h_cap;
    bool oom;
} comp;

/* ------------------------------------------------------------------ */
/* Code emission                                                       */
/* ------------------------------------------------------------------ */

static bool fail(comp *c, const char *msg)
{
    return dec_fail(c->d, "%s", msg);
}

static bool reserve(comp *c, uint32_t k)
{
    if (c->n + k <= c->cap) return true;
    uint32_t nc = c->cap ? c->cap * 2 : 256;
    while (nc < c->n + k) nc *= 2;
    uint64_t *p = realloc(c->code, (size_t)nc * sizeof *p);
    if (!p) { c->oom = true; return fail(c, "out of memory"); }
    c->code = p;
    c->cap = nc;
    return true;
}

static inline bool dead(comp *c)
{
    const ctrl *f = &c->cs[c->csp - 1];
    return f->dead || f->unreachable;
}

/* Emit an op with up to 5 operands. Returns the start cell, or -1 if dead code. */
static int64_t emit5(comp *c, int op, int nops, uint64_t a, uint64_t b, uint64_t x, uint64_t y,
                     uint64_t z)
{
    if (dead(c)) return -1;
    if (!reserve(c, 6)) return -1;
    int64_t s = c->n;
    c->code[c->n++] = (uint64_t)(uintptr_t)c->labels[op];
    if (nops > 0) c->code[c->n++] = a;
    if (nops > 1) c->code[c->n++] = b;
    if (nops > 2) c->code[c->n++] = x;
    if (nops > 3) c->code[c->n++] = y;
    if (nops > 4) c->code[c->n++] = z;
    if (c->last_end == s) {
        c->prev_start = c->last_start;
        c->prev_end = s;
        c->prev_dst = c->last_dst;
        c->prev_op = c->last_op;
    } else {
        c->prev_end = -1;
    }
    c->last_end = -1;
    return s;
}

static int64_t emit(comp *c, int op, int nops, uint64_t a, uint64_t b, uint64_t x, uint64_t y)
{
    return emit5(c, op, nops, a, b, x, y, 0);
}

static void charge(comp *c, int cost)
{
    if (c->fuel && c->fuel_cell >= 0 && !dead(c)) c->code[c->fuel_cell] += (uint64_t)cost;
}

/* Start a new basic block (label target). */
static void new_block(comp *c, bool loop)
{
    c->last_end = -1;
    if (dead(c)) return;
    if (c->fuel) {
        int64_t s = emit(c, loop ? OP_LOOP_FUEL : OP_FUEL, 1, 0, 0, 0, 0);
        c->fuel_cell = s >= 0 ? s + 1 : -1;
    }
    /* without fuel, loops poll the interrupt flag on their backward branches */
}

static inline uint32_t slot_of(comp *c, uint32_t pos) { return c->nlocals + pos; }

/* Add a forward branch: the cell at `cell` will get target - cell. */
static void add_patch(comp *c, ctrl *f, int64_t cell)
{
    if (cell < 0) return;
    c->code[cell] = (uint64_t)f->patches;
    f->patches = cell;
}

static void bind_patches(comp *c, int64_t head, uint32_t target)
{
    while (head >= 0) {
        int64_t next = (int64_t)c->code[head];
        c->code[head] = (uint64_t)((int64_t)target - head);
        head = next;
    }
}

/* ------------------------------------------------------------------ */
/* Operand stack                                                       */
/* ------------------------------------------------------------------ */

static bool push(comp *c, uint8_t t, uint8_t kind, uint32_t idx, uint64_t k)
{
    if (c->sp == c->st_cap) {
        uint32_t nc = c->st_cap ? c->st_cap * 2 : 64;
        sval *p = realloc(c->st, nc * sizeof *p);
        if (!p) { c->oom = true; return fail(c, "out of memory"); }
        c->st = p;
        c->st_cap = nc;
    }
    if (c->nlocals + c->sp + 1 > WASM_CFG_MAX_FUNC_SLOTS) return fail(c, "function too complex");
    c->st[c->sp++] = (sval){t, kind, idx, k};
    if (c->sp > c->max_h) c->max_h = c->sp;
    return true;
}

static inline bool push_t(comp *c, uint8_t t) { return push(c, t, K_STACK, 0, 0); }

/* Pop an entry expecting type `t` (T_ANY: any). */
static bool pop(comp *c, uint8_t t, sval *out)
{
    ctrl *f = &c->cs[c->csp - 1];
    if (c->sp == f->height) {
        if (f->unreachable) {
            *out = (sval){t, K_STACK, 0, 0};
            out->t = T_ANY;
            return true;
        }
        return fail(c, "type mismatch");
    }
    sval v = c->st[--c->sp];
    if (t != T_ANY && v.t != T_ANY && v.t != t) return fail(c, "type mismatch");
    *out = v;
    return true;
}

static void produced(comp *c, int64_t start, int op, uint32_t dst_cell_off);

/* fp[dst] = fp[src]. A copy right after another copy (no label between: last_end is
 * reset at every branch target) extends it into one COPY2 that does both in order.
 * The copy is recorded as the producer of dst, so `local.set` can retarget it. */
static void emit_copy(comp *c, uint32_t dst, uint32_t src)
{
    if (!dead(c) && c->last_end == (int64_t)c->n && c->last_op == OP_COPY) {
        if (!reserve(c, 2)) return;
        int64_t s = c->last_start;
        c->code[s] = (uint64_t)(uintptr_t)c->labels[OP_COPY2];
        c->code[c->n++] = dst;
        c->code[c->n++] = src;
        produced(c, s, OP_COPY2, 3);
        return;
    }
    int64_t s = emit(c, OP_COPY, 2, dst, src, 0, 0);
    produced(c, s, OP_COPY, 1);
}

/* Write entry v (at stack position pos) into slot dst. */
static void move_to(comp *c, const sval *v, uint32_t pos, uint32_t dst)
{
    if (v->kind == K_LOCAL) emit_copy(c, dst, v->idx);
    else if (v->kind == K_CONST) emit(c, OP_CONST, 2, dst, v->k, 0, 0);
    else if (slot_of(c, pos) != dst) emit_copy(c, dst, slot_of(c, pos));
}

static void materialize(comp *c, uint32_t pos)
{
    sval *v = &c->st[pos];
    if (v->kind == K_STACK) return;
    move_to(c, v, pos, slot_of(c, pos));
    v->kind = K_STACK;
}

static void materialize_from(comp *c, uint32_t from)
{
    for (uint32_t i = from; i < c->sp; i++) materialize(c, i);
}

/* Materialize deferred local reads everywhere (before control flow splits). */
static void flush_locals(comp *c)
{
    for (uint32_t i = 0; i < c->sp; i++)
        if (c->st[i].kind == K_LOCAL) materialize(c, i);
}

/* Slot operand for an entry that is being consumed (already popped, at pos). */
static uint32_t operand(comp *c, sval *v, uint32_t pos)
{
    if (v->kind == K_LOCAL) return v->idx;
    if (v->kind == K_CONST) {
        emit(c, OP_CONST, 2, slot_of(c, pos), v->k, 0, 0);
        v->kind = K_STACK;
    }
    return slot_of(c, pos);
}

/* Record the just-emitted instruction as producer of stack position pos. */
static void produced(comp *c, int64_t start, int op, uint32_t dst_cell_off)
{
    if (start < 0) return;
    c->last_start = start;
    c->last_end = c->n;
    c->last_dst = start + dst_cell_off;
    c->last_op = op;
}

/* The last instruction is an I32_ADD_I2 whose second addition a consumer wants to
 * fuse with (an addressed load/store, a fused pair): split it back into two
 * I32_ADD_I, the second one last. */
static void split_add2(comp *c)
{
    int64_t s = c->last_start;
    uint64_t d2 = c->code[s + 4], a2 = c->code[s + 5], k2 = c->code[s + 6];
    c->code[s] = (uint64_t)(uintptr_t)c->labels[OP_I32_ADD_I];
    c->n = (uint32_t)s + 4;
    int64_t t = emit(c, OP_I32_ADD_I, 3, d2, a2, k2, 0);
    produced(c, t, OP_I32_ADD_I, 1);
}

static inline bool last_is_add2_of(comp *c, const sval *v, uint32_t pos)
{
    return !dead(c) && v->kind == K_STACK && c->last_end == (int64_t)c->n &&
           c->last_op == OP_I32_ADD_I2 && c->code[c->last_dst] == slot_of(c, pos);
}

/* ------------------------------------------------------------------ */
/* Control stack                                                       */
/* ------------------------------------------------------------------ */

static bool push_ctrl(comp *c, uint8_t kind, uint32_t np, const wasm_valtype *params,
                      uint32_t nr, const wasm_valtype *results)
{
    if (c->csp == c->cs_cap) {
        uint32_t nc = c->cs_cap ? c->cs_cap * 2 : 16;
        ctrl *p = realloc(c->cs, nc * sizeof *p);
        if (!p) { c->oom = true; return fail(c, "out of memory"); }
        c->cs = p;
        c->cs_cap = nc;
    }
    bool unr = c->csp ? dead(c) : false;
    ctrl *f = &c->cs[c->csp++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->dead = unr;
    f->np = np;
    f->nr = nr;
    f->params = params;
    f->results = results;
    f->height = c->sp - np;
    f->base = f->height;
    f->patches = -1;
    f->else_patch = -1;
    return true;
}

static void set_unreachable(comp *c)
{
    ctrl *f = &c->cs[c->csp - 1];
    c->sp = f->height;
    f->unreachable = true;
    c->last_end = -1;
}

/* Label arity/types of frame f (loop: params, else: results). */
static inline uint32_t label_n(const ctrl *f) { return f->kind == B_LOOP ? f->np : f->nr; }
static inline const wasm_valtype *label_t(const ctrl *f)
{
    return f->kind == B_LOOP ? f->params : f->results;
}

/* Check the top n entries against types (without popping). */
static bool check_top(comp *c, uint32_t n, const wasm_valtype *types)
{
    ctrl *f = &c->cs[c->csp - 1];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t depth = n - i;   /* entry at sp - depth has type types[i] */
        if (c->sp < f->height + depth) {
            if (!f->unreachable) return fail(c, "type mismatch");
            continue;
        }
        sval *v = &c->st[c->sp - depth];
        if (v->t != T_ANY && v->t != types[i]) return fail(c, "type mismatch");
    }
    return true;
}

/* In an unreachable frame the stack may hold fewer than n entries: pad with T_ANY
 * entries so that stack positions stay consistent. */
static bool pad_top(comp *c, uint32_t n, const wasm_valtype *types)
{
    ctrl *f = &c->cs[c->csp - 1];
    if (c->sp - f->height >= n) return true;
    uint32_t have = c->sp - f->height;
    /* shift existing entries up */
    for (uint32_t i = have; i < n; i++)
        if (!push_t(c, T_ANY)) return false;
    for (uint32_t i = 0; i < have; i++) c->st[c->sp - 1 - i] = c->st[f->height + have - 1 - i];
    for (uint32_t i = 0; i < n - have; i++) c->st[f->height + i] = (sval){T_ANY, K_STACK, 0, 0};
    (void)types;
    return true;
}

/* Move the top n values into the label slots of frame f (emits nothing if dead). */
static void emit_label_moves(comp *c, const ctrl *f, uint32_t n)
{
    if (dead(c)) return;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pos = c->sp - n + i;
        move_to(c, &c->st[pos], pos, slot_of(c, f->base + i));
    }
}

static bool label_needs_moves(comp *c, const ctrl *f, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pos = c->sp - n + i;
        if (c->st[pos].kind != K_STACK || pos != f->base + i) return true;
    }
    return false;
}

/* Emit a jump to frame f (after moves). */
static void emit_jump(comp *c, ctrl *f)
{
    if (dead(c)) return;
    if (f->kind == B_LOOP && !c->fuel && f->loop_pc < c->n) {
        /* the loop's first instruction (final: only the last one emitted can still
         * change, and a br ends that) goes into the branch: BRH_<op> */
        static const int heads[4][3] = {{OP_COPY, OP_BRH_COPY, 3}, {OP_COPY2, OP_BRH_COPY2, 5},
                                        {OP_I32_ADD_I, OP_BRH_ADD_I, 4},
                                        {OP_I32_ADD_I2, OP_BRH_ADD_I2, 7}};
        uint32_t h = f->loop_pc;
        for (int i = 0; i < 4; i++) {
            uint32_t len = (uint32_t)heads[i][2];
            if (c->code[h] != (uint64_t)(uintptr_t)c->labels[heads[i][0]] || h + len > c->n)
                continue;
            if (!reserve(c, len + 1)) return;
            int64_t s = c->n;
            c->code[c->n++] = (uint64_t)(uintptr_t)c->labels[heads[i][1]];
            for (uint32_t j = 1; j < len; j++) c->code[c->n++] = c->code[h + j];
            c->code[c->n++] = (uint64_t)((int64_t)h - s);
            c->last_end = -1;
            return;
        }
    }
    int64_t s = emit(c, OP_BR, 1, 0, 0, 0, 0);
    if (s < 0) return;
    if (f->kind == B_LOOP) c->code[s + 1] = (uint64_t)((int64_t)f->loop_pc - (s + 1));
    else add_patch(c, f, s + 1);
}

static void emit_branch_off(comp *c, ctrl *f, int64_t cell)
{
    if (cell < 0) return;
    if (f->kind == B_LOOP) c->code[cell] = (uint64_t)((int64_t)f->loop_pc - cell);
    else add_patch(c, f, cell);
}

/* Emit a return: results to fp[0..nr), RET. */
static void emit_return(comp *c)
{
    ctrl *f = &c->cs[0];
    if (dead(c)) return;
    uint32_t n = f->nr;
    materialize_from(c, c->sp - n);
    uint32_t base = c->sp - n;
    for (uint32_t i = 0; i < n; i++)
        if (slot_of(c, base + i) != i) emit_copy(c, i, slot_of(c, base + i));
    emit(c, OP_RET, 0, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------ */
/* Block types                                                         */
/* ------------------------------------------------------------------ */

static bool read_blocktype(comp *c, uint32_t *np, const wasm_valtype **params, uint32_t *nr,
                           const wasm_valtype **results, wasm_valtype *single)
{
    uint8_t b;
    *np = *nr = 0;
    *params = *results = NULL;
    if (c->d->p >= c->d->end) return dec_fail(c->d, "unexpected end");
    b = *c->d->p;
    if (b == 0x40) {
        c->d->p++;
        *np = *nr = 0;
        *params = *results = NULL;
        return true;
    }
    if (wasm_valtype_ok(b)) {
        c->d->p++;
        *single = (wasm_valtype)b;
        *np = 0;
        *params = NULL;
        *nr = 1;
        *results = NULL;   /* caller points it at the frame's own storage */
        return true;
    }
    if (b == 0x7B) return dec_fail(c->d, "unsupported feature: SIMD (v128)");
    int64_t idx;
    if (!dec_s33(c->d, &idx)) return false;
    if (idx < 0) return dec_fail(c->d, "malformed value type");
    if ((uint64_t)idx >= c->m->ntypes) return dec_fail(c->d, "unknown type");
    const wfunctype *t = &c->m->types[idx];
    *np = t->np;
    *params = t->params;
    *nr = t->nr;
    *results = t->results;
    return true;
}

static const wasm_valtype *single_type(wasm_valtype t)
{
    static const wasm_valtype ts[6] = {WASM_I32, WASM_I64, WASM_F32, WASM_F64, WASM_FUNCREF,
                                       WASM_EXTERNREF};
    for (int i = 0; i < 6; i++)
        if (ts[i] == t) return &ts[i];
    return &ts[0];
}

/* Open a block-like frame: pops/validates params, pushes them back canonical. */
static bool open_block(comp *c, uint8_t kind)
{
    uint32_t np, nr;
    const wasm_valtype *params, *results;
    wasm_valtype single = WASM_I32;
    if (!read_blocktype(c, &np, &params, &nr, &results, &single)) return false;
    if (!check_top(c, np, params)) return false;
    if (!pad_top(c, np, params)) return false;
    for (uint32_t i = 0; i < np; i++)
        if (c->st[c->sp - np + i].t == T_ANY) c->st[c->sp - np + i].t = params[i];
    if (!push_ctrl(c, kind, np, params, nr, results)) return false;
    ctrl *f = &c->cs[c->csp - 1];
    if (nr == 1 && !results) f->results = single_type(single);
    return true;
}

/* ------------------------------------------------------------------ */
/* Instruction helpers                                                 */
/* ------------------------------------------------------------------ */

static const uint8_t tmap[] = {[0] = 0};
#define TY_I32 WASM_I32
#define TY_I64 WASM_I64
#define TY_F32 WASM_F32
#define TY_F64 WASM_F64

static bool op_unary(comp *c, int op, uint8_t tin, uint8_t tout)
{
    sval a;
    if (!pop(c, tin, &a)) return false;
    uint32_t pos = c->sp;
    uint32_t sa = operand(c, &a, pos);
    int64_t s = emit(c, op, 2, slot_of(c, pos), sa, 0, 0);
    if (!push_t(c, tout)) return false;
    produced(c, s, op, 1);
    return true;
}

static bool commutative(int op)
{
    switch (op) {
    case OP_I32_EQ: case OP_I32_NE: case OP_I32_ADD: case OP_I32_MUL: case OP_I32_AND:
    case OP_I32_OR: case OP_I32_XOR: case OP_I64_EQ: case OP_I64_NE: case OP_I64_ADD:
    case OP_I64_MUL: case OP_I64_AND: case OP_I64_OR: case OP_I64_XOR:
        return true;
    }
    return false;
}

/* The fused op for producer p feeding consumer op (wasm_ops.h), or -1; from_right:
 * p's result is op's right operand, which needs op commutative. */
static int fused_op(int p, int op, bool from_right)
{
    static const struct { int16_t p, c, f; } tab[] = {
#define Y_FUSED_S(P, E, C, O) {OP_I32_##P, OP_I32_##C, OP_FU_##P##_##C},
        WASM_FUSED_SS(Y_FUSED_S)
        WASM_FUSED_SI(Y_FUSED_S)
#undef Y_FUSED_S
#define Y_FUSED_F(P, E, C, O) {OP_F64_##P, OP_F64_##C, OP_FUF_##P##_##C},
        WASM_FUSED_FF(Y_FUSED_F)
#undef Y_FUSED_F
    };
    if (from_right && (op == OP_I32_SUB || op == OP_F64_SUB)) return -1;
    /* rows of one producer are contiguous: 5 consumers per i32 producer, 3 per f64 */
    size_t n = sizeof tab / sizeof tab[0], nf = 9, ni = n - nf;
    for (size_t i = 0; i < n; i += i < ni ? 5 : 3) {
        if (tab[i].p != p) continue;
        for (size_t j = i; j < n && tab[j].p == p; j++)
            if (tab[j].c == op) return tab[j].f;
        return -1;
    }
    return -1;
}

/* The FUK_ op for producer p feeding the immediate form op_i (wasm_ops.h), or -1. */
static int fused_k_op(int p, int op_i)
{
    static const struct { int16_t p, c, f; } tab[] = {
#define Y_FUSED_K(P, E, C, F) {OP_I32_##P, OP_I32_##C, OP_FUK_##P##_##C},
        WASM_FUSED_KS(Y_FUSED_K)
        WASM_FUSED_KI(Y_FUSED_K)
#undef Y_FUSED_K
    };
    if (p < OP_I32_ADD || p > OP_I32_ROTR_I) return -1;
    /* rows of one producer are contiguous, 10 consumers each */
    size_t n = sizeof tab / sizeof tab[0];
    for (size_t i = 0; i < n; i += 10) {
        if (tab[i].p != p) continue;
        for (size_t j = i; j < i + 10; j++)
            if (tab[j].c == op_i) return tab[j].f;
        return -1;
    }
    return -1;
}

/* op_i (an i32 _I form) of slot `sa` and immediate k, when slot sa was written by the
 * last instruction, an i32 binop: one FUK_ instruction (its op in *fop_out). Returns
 * its start or -1. */
static int64_t try_fuse_k(comp *c, int op_i, uint32_t sa, uint64_t k, uint32_t dst, int *fop_out)
{
    if (dead(c) || c->last_end != (int64_t)c->n || c->code[c->last_dst] != sa ||
        sa < c->nlocals)
        return -1;
    if (c->last_op == OP_I32_ADD_I2 && fused_k_op(OP_I32_ADD_I, op_i) >= 0) split_add2(c);
    int fop = fused_k_op(c->last_op, op_i);
    if (fop < 0) return -1;
    uint64_t x = c->code[c->last_start + 2], y = c->code[c->last_start + 3];
    c->n = (uint32_t)c->last_start;
    c->last_end = -1;
    *fop_out = fop;
    return emit5(c, fop, 4, dst, x, y, k, 0);
}

static bool op_binary(comp *c, int op, uint8_t tin, uint8_t tout, bool has_imm)
{
    /* an i32.add of an immediate just before an i32 compare can join the branch */
    int64_t prev_add = !dead(c) && c->last_end == (int64_t)c->n && c->last_op == OP_I32_ADD_I
                           ? c->last_start : -1;
    c->cmp_add = -1;
    sval a, b;
    if (!pop(c, tin, &b) || !pop(c, tin, &a)) return false;
    uint32_t pos = c->sp;   /* a's position; b at pos + 1 */
    int64_t s;
    int eop = op;
    if (op == OP_I32_ADD && b.kind == K_STACK && a.kind != K_CONST && !dead(c) &&
        c->last_end == (int64_t)c->n && c->last_op == OP_I32_SHL_I &&
        c->code[c->last_dst] == slot_of(c, pos + 1)) {
        /* i32.shl by a constant feeding i32.add: d = a + (x << k) */
        uint64_t x = c->code[c->last_start + 2], k = c->code[c->last_start + 3] & 31;
        c->n = (uint32_t)c->last_start;
        c->last_end = -1;
        uint32_t sa = operand(c, &a, pos);
        s = emit(c, OP_I32_ADD_SHL, 4, slot_of(c, pos), sa, x, k);
        eop = OP_I32_ADD_SHL;
        goto done;
    }
    if ((tin == WASM_I32 || tin == WASM_F64) && !dead(c) && c->last_end == (int64_t)c->n) {
        /* an i32 (f64) binop whose result feeds this one: one FU_<P>_<C> (FUF_) */
        int fop = -1;
        bool fused_b = b.kind == K_STACK && a.kind != K_CONST &&
                       c->code[c->last_dst] == slot_of(c, pos + 1);
        bool fused_a = !fused_b && a.kind == K_STACK && b.kind == K_LOCAL &&
                       c->code[c->last_dst] == slot_of(c, pos);
        if ((fused_b || fused_a) && c->last_op == OP_I32_ADD_I2 &&
            fused_op(OP_I32_ADD_I, op, fused_b) >= 0)
            split_add2(c);
        if (fused_b || fused_a) fop = fused_op(c->last_op, op, fused_b);
        if (fused_b && a.kind == K_STACK && c->prev_end == c->last_start &&
            c->code[c->prev_dst] == slot_of(c, pos) &&
            ((fop == OP_FU_ROTL_I_XOR && (c->prev_op == OP_I32_ROTL_I || c->prev_op == OP_XR2)) ||
             (fop == OP_FU_SHR_U_I_XOR && c->prev_op == OP_XR2)) &&
            reserve(c, 2)) {
            /* the xor's other operand was just computed by a rotation (or an XR2) that
             * nothing else reads (a stack entry): one XR2 / XR3 / XR2S */
            uint64_t x = c->code[c->last_start + 2], k = c->code[c->last_start + 3];
            int64_t p0 = c->prev_start;
            eop = c->prev_op == OP_I32_ROTL_I ? OP_XR2 : fop == OP_FU_ROTL_I_XOR ? OP_XR3 : OP_XR2S;
            c->n = (uint32_t)(c->prev_op == OP_I32_ROTL_I ? p0 + 4 : p0 + 6);
            c->code[p0] = (uint64_t)(uintptr_t)c->labels[eop];
            c->code[p0 + 1] = slot_of(c, pos);
            c->code[c->n++] = x;
            c->code[c->n++] = k;
            c->last_end = -1;
            s = p0;
            goto done;
        }
        if (fop >= 0) {
            uint64_t x = c->code[c->last_start + 2], y = c->code[c->last_start + 3];
            c->n = (uint32_t)c->last_start;
            c->last_end = -1;
            uint32_t z = fused_b ? operand(c, &a, pos) : operand(c, &b, pos + 1);
            s = emit5(c, fop, 4, slot_of(c, pos), x, y, z, 0);
            eop = fop;
            goto done;
        }
    }
    if (has_imm && a.kind == K_CONST && b.kind != K_CONST && commutative(op)) {
        sval t = a; a = b; b = t;
        if (a.kind == K_STACK) {
            /* a was at pos+1; its value lives in slot pos+1 */
            uint32_t sa = slot_of(c, pos + 1);
            if (tin == WASM_I32 && (s = try_fuse_k(c, op + 1, sa, b.k, slot_of(c, pos), &eop)) >= 0)
                goto done;
            s = emit(c, op + 1, 3, slot_of(c, pos), sa, b.k, 0);
            eop = op + 1;
            goto done;
        }
    }
    if (has_imm && b.kind == K_CONST) {
        uint32_t sa = operand(c, &a, pos);
        if (tin == WASM_I32 && a.kind == K_STACK &&
            (s = try_fuse_k(c, op + 1, sa, b.k, slot_of(c, pos), &eop)) >= 0)
            goto done;
        if (op == OP_I32_ADD && !dead(c) && c->last_end == (int64_t)c->n &&
            c->last_op == OP_I32_ADD_I && reserve(c, 4)) {
            /* right after another i32.add of an immediate: one I32_ADD_I2 */
            s = c->last_start;
            c->code[s] = (uint64_t)(uintptr_t)c->labels[OP_I32_ADD_I2];
            c->code[c->n++] = slot_of(c, pos);
            c->code[c->n++] = sa;
            c->code[c->n++] = b.k;
            if (!push_t(c, tout)) return false;
            produced(c, s, OP_I32_ADD_I2, 4);
            return true;
        }
        s = emit(c, op + 1, 3, slot_of(c, pos), sa, b.k, 0);
        eop = op + 1;
    } else {
        uint32_t sa = operand(c, &a, pos);
        uint32_t sb = operand(c, &b, pos + 1);
        s = emit(c, op, 3, slot_of(c, pos), sa, sb, 0);
    }
done:
    if (!push_t(c, tout)) return false;
    produced(c, s, eop, 1);
    if (prev_add >= 0 && s == prev_add + 4 && eop >= OP_I32_EQ && eop <= OP_I32_GE_U_I)
        c->cmp_add = prev_add;
    return true;
}

static bool memarg(comp *c, uint32_t natural_log2, uint64_t *offset)
{
    uint32_t align;
    if (!dec_u32(c->d, &align)) return false;
    if (c->m->nmems == 0) return fail(c, "unknown memory 0");
    bool is64 = c->m->mems[0].is64;
    if (is64) {
        if (!dec_u64(c->d, offset)) return false;
    } else {
        uint32_t o;
        if (!dec_u32(c->d, &o)) return false;
        *offset = o;
    }
    if (align > natural_log2) return fail(c, "alignment must not be larger than natural");
    return true;
}

static inline uint8_t addr_t(comp *c) { return c->m->nmems && c->m->mems[0].is64 ? WASM_I64 : WASM_I32; }

/* Was stack entry v (at pos) just produced by an i32.add (slot+slot or slot+imm)? */
static bool last_is_add(comp *c, const sval *v, uint32_t pos)
{
    return !dead(c) && v->kind == K_STACK && c->last_end == (int64_t)c->n &&
           c->code[c->last_dst] == slot_of(c, pos) &&
           (c->last_op == OP_I32_ADD || c->last_op == OP_I32_ADD_I ||
            c->last_op == OP_I32_ADD_SHL);
}

/* i32.eqz right after an integer compare: negate the compare in place. */
static bool eqz_folds(comp *c)
{
    if (dead(c) || c->sp == 0) return false;
    uint32_t pos = c->sp - 1;
    const sval *v = &c->st[pos];
    if (v->kind != K_STACK || c->last_end != (int64_t)c->n || c->code[c->last_dst] != slot_of(c, pos))
        return false;
    int op = c->last_op, base;
    if (op >= OP_I32_EQ && op <= OP_I32_GE_U_I) base = OP_I32_EQ;
    else if (op >= OP_I64_EQ && op <= OP_I64_GE_U_I) base = OP_I64_EQ;
    else return false;
    static const int negi[10] = {1, 0, 8, 9, 6, 7, 4, 5, 2, 3};
    int i = (op - base) / 2, imm = (op - base) % 2;
    int nop = base + 2 * negi[i] + imm;
    c->code[c->last_start] = (uint64_t)(uintptr_t)c->labels[nop];
    c->last_op = nop;
    return true;
}

static bool op_load(comp *c, int op32, uint32_t nat, uint8_t tout)
{
    uint64_t off;
    if (!memarg(c, nat, &off)) return false;
    bool is64 = c->m->mems[0].is64;
    int op = is64 ? op32 + (OP_LD64_I32 - OP_LD_I32) : op32;
    sval a;
    if (!pop(c, addr_t(c), &a)) return false;
    uint32_t pos = c->sp;
    int64_t s;
    if (!is64 && last_is_add2_of(c, &a, pos)) split_add2(c);
    if (!is64 && last_is_add(c, &a, pos)) {
        /* fuse the address computation: ea = (u32)(x + y) + off */
        int lop = c->last_op;
        uint64_t x = c->code[c->last_start + 2], y = c->code[c->last_start + 3];
        uint64_t k = lop == OP_I32_ADD_SHL ? c->code[c->last_start + 4] : 0;
        c->n = (uint32_t)c->last_start;
        c->last_end = -1;
        if (lop == OP_I32_ADD_SHL) {
            op = OP_LDAS_I32 + (op32 - OP_LD_I32);
            s = emit5(c, op, 5, slot_of(c, pos), x, y, k, off);
        } else {
            op = (lop == OP_I32_ADD_I ? OP_LDAI_I32 : OP_LDA_I32) + (op32 - OP_LD_I32);
            s = emit(c, op, 4, slot_of(c, pos), x, y, off);
        }
    } else if (!is64 && a.kind == K_CONST) {
        /* constant address: ea = k + offset, no wrap-around in 64 bits */
        op = OP_LDK_I32 + (op32 - OP_LD_I32);
        s = emit(c, op, 2, slot_of(c, pos), (uint64_t)(uint32_t)a.k + off, 0, 0);
    } else {
        uint32_t sa = operand(c, &a, pos);
        s = emit(c, op, 3, slot_of(c, pos), sa, off, 0);
    }
    if (!push_t(c, tout)) return false;
    produced(c, s, op, 1);
    return true;
}

static bool op_store(comp *c, int op32, uint32_t nat, uint8_t tval)
{
    uint64_t off;
    if (!memarg(c, nat, &off)) return false;
    bool is64 = c->m->mems[0].is64;
    int op = is64 ? op32 + (OP_ST64_8 - OP_ST_8) : op32;
    sval a, v;
    if (!pop(c, tval, &v) || !pop(c, addr_t(c), &a)) return false;
    uint32_t pos = c->sp;
    if (!is64 && v.kind == K_LOCAL && last_is_add2_of(c, &a, pos)) split_add2(c);
    if (!is64 && v.kind == K_LOCAL && last_is_add(c, &a, pos)) {
        int lop = c->last_op;
        uint64_t x = c->code[c->last_start + 2], y = c->code[c->last_start + 3];
        uint64_t k = lop == OP_I32_ADD_SHL ? c->code[c->last_start + 4] : 0;
        c->n = (uint32_t)c->last_start;
        c->last_end = -1;
        if (lop == OP_I32_ADD_SHL) {
            emit5(c, OP_STAS_8 + (op32 - OP_ST_8), 5, x, y, k, v.idx, off);
        } else {
            op = (lop == OP_I32_ADD_I ? OP_STAI_8 : OP_STA_8) + (op32 - OP_ST_8);
            emit(c, op, 4, x, y, v.idx, off);
        }
        return true;
    }
    if (!is64 && v.kind == K_STACK && a.kind != K_CONST && !dead(c) &&
        c->last_end == (int64_t)c->n && c->code[c->last_dst] == slot_of(c, pos + 1)) {
        /* the value was just loaded (same width, plain address): one MV_<w> */
        int lop = c->last_op, w = op32 - OP_ST_8;   /* 0..3: 8, 16, 32, 64 bits */
        bool same = (w == 0 && (lop == OP_LD_I32_8U || lop == OP_LD_I32_8S ||
                                lop == OP_LD_I64_8U || lop == OP_LD_I64_8S)) ||
                    (w == 1 && (lop == OP_LD_I32_16U || lop == OP_LD_I32_16S ||
                                lop == OP_LD_I64_16U || lop == OP_LD_I64_16S)) ||
                    (w == 2 && (lop == OP_LD_I32 || lop == OP_LD_I64_32U || lop == OP_LD_I64_32S)) ||
                    (w == 3 && lop == OP_LD_I64);
        if (same) {
            uint64_t src = c->code[c->last_start + 2], soff = c->code[c->last_start + 3];
            c->n = (uint32_t)c->last_start;
            c->last_end = -1;
            uint32_t sa = operand(c, &a, pos);
            emit(c, OP_MV_8 + w, 4, sa, off, src, soff);
            return true;
        }
    }
    if (!is64 && a.kind == K_CONST) {
        uint32_t sv = operand(c, &v, pos + 1);
        emit(c, OP_STK_8 + (op32 - OP_ST_8), 2, (uint64_t)(uint32_t)a.k + off, sv, 0, 0);
        return true;
    }
    uint32_t sa = operand(c, &a, pos);
    uint32_t sv = operand(c, &v, pos + 1);
    emit(c, op, 3, sa, sv, off, 0);
    return true;
}

/* Pop n values of the given types into canonical slots (for calls/throws):
 * returns the stack position of the first. */
static bool pop_args(comp *c, uint32_t n, const wasm_valtype *types, uint32_t *base)
{
    if (!check_top(c, n, types)) return false;
    if (!pad_top(c, n, types)) return false;
    uint32_t b = c->sp - n;
    materialize_from(c, b);
    c->sp = b;
    *base = b;
    return true;
}

/* Put just-popped operands back into their canonical slots for an instruction that
 * reads them from consecutive slots (bulk memory/table ops). Returns the first slot's
 * stack position. In dead code nothing is emitted and nothing is written (operands
 * popped from a polymorphic stack may not occupy stack entries at all). */
static uint32_t place_args(comp *c, const sval *v, uint32_t n)
{
    uint32_t base = c->sp;
    if (dead(c)) return base;
    /* live code: these n entries were just popped, so they fit the array */
    for (uint32_t i = 0; i < n; i++) c->st[base + i] = v[i];
    c->sp = base + n;
    materialize_from(c, base);
    c->sp = base;
    return base;
}

static bool push_results(comp *c, uint32_t n, const wasm_valtype *types)
{
    for (uint32_t i = 0; i < n; i++)
        if (!push_t(c, types[i])) return false;
    return true;
}

static bool local_set(comp *c, uint32_t x, bool tee)
{
    if (x >= c->nlocals) return fail(c, "unknown local");
    sval v;
    if (!pop(c, c->ltypes[x], &v)) return false;
    uint32_t pos = c->sp;
    if (!dead(c)) {
        bool refs = false;
        for (uint32_t i = 0; i < c->sp; i++)
            if (c->st[i].kind == K_LOCAL && c->st[i].idx == x) { refs = true; break; }
        if (v.kind == K_STACK && !refs && c->last_end == (int64_t)c->n &&
            c->code[c->last_dst] == slot_of(c, pos)) {
            /* retarget the producer */
            c->code[c->last_dst] = x;
        } else {
            if (refs)
                for (uint32_t i = 0; i < c->sp; i++)
                    if (c->st[i].kind == K_LOCAL && c->st[i].idx == x) materialize(c, i);
            if (!(v.kind == K_LOCAL && v.idx == x)) move_to(c, &v, pos, x);
        }
        /* a copy or an i32.add of an immediate stays the last instruction (now
         * writing local x, which no stack entry matches), so that the next one like
         * it can join it (COPY2, I32_ADD_I2) */
        if (c->last_end != (int64_t)c->n ||
            (c->last_op != OP_COPY && c->last_op != OP_COPY2 && c->last_op != OP_I32_ADD_I))
            c->last_end = -1;
    }
    if (tee) return push(c, c->ltypes[x], K_LOCAL, x, 0);
    return true;
}

/* Compare-and-branch fusion: if the top of stack (just popped as `cond`, at position
 * pos) was produced by the previous i32 compare, remove that compare and return its
 * fused branch op (negated if `neg`), with operands in *a, *b. Returns -1 if not. */
static int fuse_cmp(comp *c, const sval *cond, uint32_t pos, bool neg, uint64_t *a, uint64_t *b,
                    bool *is_eqz)
{
    *is_eqz = false;
    if (dead(c) || cond->kind != K_STACK || c->last_end != (int64_t)c->n ||
        c->code[c->last_dst] != slot_of(c, pos))
        return -1;
    int op = c->last_op;
    static const int base_ops[10] = {OP_I32_EQ, OP_I32_NE, OP_I32_LT_S, OP_I32_LT_U, OP_I32_GT_S,
                                     OP_I32_GT_U, OP_I32_LE_S, OP_I32_LE_U, OP_I32_GE_S,
                                     OP_I32_GE_U};
    static const int negi[10] = {1, 0, 8, 9, 6, 7, 4, 5, 2, 3};
    if (op == OP_I32_EQZ) {
        *a = c->code[c->last_start + 2];
        c->n = (uint32_t)c->last_start;
        c->last_end = -1;
        *is_eqz = true;
        return neg ? OP_BRIF : OP_BRIFZ;
    }
    for (int i = 0; i < 10; i++) {
        int imm = -1;
        if (op == base_ops[i]) imm = 0;
        else if (op == base_ops[i] + 1) imm = 1;  /* the _I variant follows each op */
        if (imm < 0) continue;
        int k = neg ? negi[i] : i;
        *a = c->code[c->last_start + 2];
        *b = c->code[c->last_start + 3];
        c->n = (uint32_t)c->last_start;
        c->last_end = -1;
        return (imm ? OP_BR_EQ_I : OP_BR_EQ) + k;
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* The body                                                            */
/* ------------------------------------------------------------------ */

static bool check_table(comp *c, uint32_t t)
{
    if (t >= c->m->ntables) return dec_fail(c->d, "unknown table %u", t);
    return true;
}

static bool compile_body(comp *c, const wfunctype *ft)
{
    wdec *d = c->d;
    wasm_module *m = c->m;
    if (!push_ctrl(c, B_FUNC, 0, NULL, ft->nr, ft->results)) return false;
    new_block(c, false);

    while (c->csp > 0) {
        if (d->p >= d->end) return dec_fail(d, "unexpected end of section or function");
        uint8_t opc = *d->p++;
        sval a, b, v;
        uint32_t x, y;
        switch (opc) {
        case 0x00: /* unreachable */
            charge(c, 1);
            emit(c, OP_UNREACHABLE, 0, 0, 0, 0, 0);
            set_unreachable(c);
            break;
        case 0x01: break;
        case 0x02: /* block */
        case 0x03: /* loop */ {
            flush_locals(c);
            if (!open_block(c, opc == 0x02 ? B_BLOCK : B_LOOP)) return false;
            ctrl *f = &c->cs[c->csp - 1];
            materialize_from(c, f->height);
            if (opc == 0x03) {
                new_block(c, true);
                f->loop_pc = c->n;
                /* branches back go to the loop's LOOP_FUEL, so each iteration pays */
                if (!dead(c) && c->fuel) f->loop_pc = c->n - 2;
            }
            break;
        }
        case 0x04: { /* if */
            if (!pop(c, WASM_I32, &a)) return false;
            uint32_t cpos = c->sp;
            charge(c, 1);
            bool eqz;
            uint64_t fa = 0, fb = 0;
            int fop = fuse_cmp(c, &a, cpos, true, &fa, &fb, &eqz);
            uint32_t sa = 0;
            if (fop < 0) sa = operand(c, &a, cpos);
            /* params (and everything below) must be in place on both paths */
            materialize_from(c, 0);
            int64_t s;
            if (fop >= 0) {
                if (eqz) s = emit(c, fop, 2, fa, 0, 0, 0);
                else s = emit(c, fop, 3, fa, fb, 0, 0);
            } else {
                s = emit(c, OP_BRIFZ, 2, sa, 0, 0, 0);
            }
            if (!open_block(c, B_IF)) return false;
            ctrl *f = &c->cs[c->csp - 1];
            if (s >= 0) f->else_patch = s + (fop >= 0 && !eqz ? 3 : 2);
            new_block(c, false);
            break;
        }
        case 0x05: { /* else */
            ctrl *f = &c->cs[c->csp - 1];
            if (f->kind != B_IF) return fail(c, "else without if");
            if (!check_top(c, f->nr, f->results)) return false;
            if (c->sp - f->height != f->nr && !(f->unreachable && c->sp - f->height < f->nr))
                return fail(c, "type mismatch");
            if (!dead(c)) {
                emit_label_moves(c, f, f->nr);
                emit_jump(c, f);
            }
            f->kind = B_ELSE;
            f->unreachable = false;
            c->sp = f->height;
            for (uint32_t i = 0; i < f->np; i++)
                if (!push_t(c, f->params[i])) return false;
            if (f->else_patch >= 0) {
                c->code[f->else_patch] = (uint64_t)((int64_t)c->n - f->else_patch);
                f->else_patch = -1;
            }
            c->last_end = -1;
            new_block(c, false);
            break;
        }
        case 0x06: { /* try */
            if (!m->feat.exceptions) goto illegal;
            flush_locals(c);
            if (!open_block(c, B_TRY)) return false;
            ctrl *f = &c->cs[c->csp - 1];
            materialize_from(c, f->height);
            if (c->nh == c->h_cap) {
                uint32_t nc = c->h_cap ? c->h_cap * 2 : 4;
                whandler *p = realloc(c->h, nc * sizeof *p);
                if (!p) { c->oom = true; return fail(c, "out of memory"); }
                c->h = p;
                c->h_cap = nc;
            }
            f->handler = c->nh++;
            whandler *h = &c->h[f->handler];
            memset(h, 0, sizeof *h);
            h->start = c->n;
            h->end = UINT32_MAX;
            h->slot = slot_of(c, f->height);
            h->delegate = -2;
            h->catch_all_pc = -1;
            c->last_end = -1;
            break;
        }
        case 0x07:   /* catch */
        case 0x19: { /* catch_all */
            if (!m->feat.exceptions) goto illegal;
            ctrl *f = &c->cs[c->csp - 1];
            if (f->kind != B_TRY && f->kind != B_CATCH)
                return fail(c, opc == 0x07 ? "catch without try" : "catch_all without try");
            const wfunctype *tt = NULL;
            if (opc == 0x07) {
                if (!dec_u32(d, &x)) return false;
                if (x >= m->ntags) return dec_fail(d, "unknown tag %u", x);
                tt = &m->types[m->tag_type[x]];
            }
            if (!check_top(c, f->nr, f->results)) return false;
            if (c->sp - f->height != f->nr && !(f->unreachable && c->sp - f->height < f->nr))
                return fail(c, "type mismatch");
            if (!dead(c)) {
                emit_label_moves(c, f, f->nr);
                emit_jump(c, f);
            }
            whandler *h = &c->h[f->handler];
            if (f->kind == B_TRY) h->end = c->n;
            f->unreachable = false;
            c->last_end = -1;
            if (opc == 0x07) {
                uint32_t *p1 = realloc(h->catch_tag, (h->ncatch + 1) * sizeof *p1);
                if (!p1) { c->oom = true; return fail(c, "out of memory"); }
                h->catch_tag = p1;
                uint32_t *p2 = realloc(h->catch_pc, (h->ncatch + 1) * sizeof *p2);
                if (!p2) { c->oom = true; return fail(c, "out of memory"); }
                h->catch_pc = p2;
                h->catch_tag[h->ncatch] = x;
                h->catch_pc[h->ncatch] = c->n;
                h->ncatch++;
            } else {
                h->catch_all_pc = c->n;
            }
            f->kind = opc == 0x07 ? B_CATCH : B_CATCH_ALL;
            /* hidden exception slot at base, payload above it */
            c->sp = f->base;
            if (!push_t(c, T_ANY)) return false;
            f->height = f->base + 1;
            if (tt && !push_results(c, tt->np, tt->params)) return false;
            new_block(c, false);
            break;
        }
        case 0x08: { /* throw */
            if (!m->feat.exceptions) goto illegal;
            if (!dec_u32(d, &x)) return false;
            if (x >= m->ntags) return dec_fail(d, "unknown tag %u", x);
            const wfunctype *tt = &m->types[m->tag_type[x]];
            uint32_t base;
            charge(c, WASM_COST_CALL);
            if (!pop_args(c, tt->np, tt->params, &base)) return false;
            emit(c, OP_THROW, 2, x, slot_of(c, base), 0, 0);
            set_unreachable(c);
            break;
        }
        case 0x09: { /* rethrow */
            if (!m->feat.exceptions) goto illegal;
            if (!dec_u32(d, &x)) return false;
            if (x >= c->csp) return fail(c, "invalid rethrow label");
            ctrl *f = &c->cs[c->csp - 1 - x];
            if (f->kind != B_CATCH && f->kind != B_CATCH_ALL)
                return fail(c, "invalid rethrow label");
            charge(c, WASM_COST_CALL);
            emit(c, OP_RETHROW, 1, slot_of(c, f->base), 0, 0, 0);
            set_unreachable(c);
            break;
        }
        case 0x18: { /* delegate */
            if (!m->feat.exceptions) goto illegal;
            ctrl *f = &c->cs[c->csp - 1];
            if (f->kind != B_TRY) return fail(c, "delegate without try");
            if (!dec_u32(d, &x)) return false;
            if (x >= c->csp - 1) return fail(c, "unknown label");
            whandler *h = &c->h[f->handler];
            h->end = c->n;
            int32_t target = -1;
            for (uint32_t k = x; k + 1 < c->csp; k++) {
                ctrl *g = &c->cs[c->csp - 2 - k];
                if (g->kind == B_TRY) { target = (int32_t)g->handler; break; }
            }
            h->delegate = target;
            goto do_end;
        }
        case 0x0B: /* end */
        do_end: {
            ctrl *f = &c->cs[c->csp - 1];
            if (f->kind == B_IF && f->np != f->nr) return fail(c, "type mismatch");
            if (f->kind == B_IF)
                for (uint32_t i = 0; i < f->np; i++)
                    if (f->params[i] != f->results[i]) return fail(c, "type mismatch");
            if (!check_top(c, f->nr, f->results)) return false;
            if (c->sp - f->height != f->nr && !(f->unreachable && c->sp - f->height < f->nr))
                return fail(c, "type mismatch");
            if (f->kind == B_FUNC) {
                if (!dead(c)) {
                    if (!pad_top(c, f->nr, f->results)) return false;
                    emit_return(c);
                }
                bind_patches(c, f->patches, c->n);
                if (f->patches >= 0) {
                    /* branches to the function label = return */
                    c->cs[0].unreachable = false;
                    c->sp = 0;
                    if (!push_results(c, f->nr, f->results)) return false;
                    emit_return(c);
                }
                c->csp--;
                if (d->p != d->end) return fail(c, "section size mismatch");
                break;
            }
            if (!dead(c)) {
                if (!pad_top(c, f->nr, f->results)) return false;
                emit_label_moves(c, f, f->nr);
            }
            if (f->kind == B_TRY && c->h[f->handler].end == UINT32_MAX) c->h[f->handler].end = c->n;
            if (f->else_patch >= 0) {
                c->code[f->else_patch] = (uint64_t)((int64_t)c->n - f->else_patch);
            }
            bind_patches(c, f->patches, c->n);
            uint32_t base = f->base;
            uint32_t nr = f->nr;
            const wasm_valtype *res = f->results;
            c->csp--;
            c->sp = base;
            if (!push_results(c, nr, res)) return false;
            c->last_end = -1;
            new_block(c, false);
            break;
        }
        case 0x0C: /* br */
        case 0x0D: { /* br_if */
            if (!dec_u32(d, &x)) return false;
            if (x >= c->csp) return fail(c, "unknown label");
            charge(c, 1);
            if (opc == 0x0D) {
                if (!pop(c, WASM_I32, &a)) return false;
            }
            ctrl *f = &c->cs[c->csp - 1 - x];
            uint32_t n = label_n(f);
            if (!check_top(c, n, label_t(f))) return false;
            if (opc == 0x0C) {
                if (!pad_top(c, n, label_t(f))) return false;
                if (!dead(c)) {
                    emit_label_moves(c, f, n);
                    emit_jump(c, f);
                }
                set_unreachable(c);
                break;
            }
            /* br_if */
            uint32_t cpos = c->sp;
            if (!pad_top(c, n, label_t(f))) return false;
            if (c->sp != cpos) { cpos = c->sp; }
            if (dead(c)) {
                for (uint32_t i = 0; i < n; i++)
                    if (c->st[c->sp - n + i].t == T_ANY) c->st[c->sp - n + i].t = label_t(f)[i];
                break;
            }
            if (!label_needs_moves(c, f, n)) {
                bool eqz;
                uint64_t fa = 0, fb = 0;
                int fop = fuse_cmp(c, &a, cpos, false, &fa, &fb, &eqz);
                int64_t s;
                if (fop >= 0 && !eqz && c->cmp_add >= 0 && c->cmp_add + 4 == (int64_t)c->n &&
                    c->code[c->cmp_add] == (uint64_t)(uintptr_t)c->labels[OP_I32_ADD_I] &&
                    reserve(c, 7)) {
                    /* the i32.add of an immediate right before the compare joins too */
                    s = c->cmp_add;
                    c->n = (uint32_t)s + 4;
                    c->code[s] = (uint64_t)(uintptr_t)c->labels[fop - OP_BR_EQ + OP_ADDBR_EQ];
                    c->code[c->n++] = fa;
                    c->code[c->n++] = fb;
                    c->code[c->n++] = 0;
                    c->last_end = -1;
                    emit_branch_off(c, f, s + 6);
                } else if (fop >= 0) {
                    if (eqz) { s = emit(c, fop, 2, fa, 0, 0, 0); emit_branch_off(c, f, s + 2); }
                    else { s = emit(c, fop, 3, fa, fb, 0, 0); emit_branch_off(c, f, s + 3); }
                } else {
                    uint32_t sa = operand(c, &a, cpos);
                    s = emit(c, OP_BRIF, 2, sa, 0, 0, 0);
                    emit_branch_off(c, f, s + 2);
                }
            } else {
                uint32_t sa = operand(c, &a, cpos);
                int64_t s = emit(c, OP_BRIFZ, 2, sa, 0, 0, 0);
                emit_label_moves(c, f, n);
                emit_jump(c, f);
                if (s >= 0) c->code[s + 2] = (uint64_t)((int64_t)c->n - (s + 2));
            }
            c->last_end = -1;
            break;
        }
        case 0x0E: { /* br_table */
            uint32_t cnt;
            if (!dec_count(d, &cnt, 1)) return false;
            uint32_t *labs = malloc(((size_t)cnt + 1) * sizeof *labs);
            if (!labs) { c->oom = true; return fail(c, "out of memory"); }
            for (uint32_t i = 0; i <= cnt; i++)
                if (!dec_u32(d, &labs[i])) { free(labs); return false; }
            charge(c, 2);
            if (!pop(c, WASM_I32, &a)) { free(labs); return false; }
            uint32_t cpos = c->sp;
            if (labs[cnt] >= c->csp) { free(labs); return fail(c, "unknown label"); }
            uint32_t arity = label_n(&c->cs[c->csp - 1 - labs[cnt]]);
            for (uint32_t i = 0; i <= cnt; i++) {
                if (labs[i] >= c->csp) { free(labs); return fail(c, "unknown label"); }
                ctrl *f = &c->cs[c->csp - 1 - labs[i]];
                if (label_n(f) != arity) { free(labs); return fail(c, "type mismatch"); }
                if (!check_top(c, arity, label_t(f))) { free(labs); return false; }
            }
            if (!pad_top(c, arity, NULL)) { free(labs); return false; }
            if (!dead(c)) {
                bool stacked = a.kind == K_STACK;
                uint32_t sa = operand(c, &a, cpos);
                if (c->sp > cpos) { /* padded: shouldn't happen in live code */ }
                int64_t s = -1;
                if (stacked && c->last_end == (int64_t)c->n && c->code[c->last_dst] == sa) {
                    /* the index was just loaded (i32): one BRT_<load> */
                    static const int lds[4][3] = {{OP_LD_I32, OP_BRT_LD_I32, 4},
                                                  {OP_LDA_I32, OP_BRT_LDA_I32, 5},
                                                  {OP_LDAI_I32, OP_BRT_LDAI_I32, 5},
                                                  {OP_LDAS_I32, OP_BRT_LDAS_I32, 6}};
                    for (int i = 0; i < 4; i++)
                        if (c->last_op == lds[i][0] && c->last_start + lds[i][2] == (int64_t)c->n &&
                            reserve(c, 1)) {
                            s = c->last_start;
                            c->code[s] = (uint64_t)(uintptr_t)c->labels[lds[i][1]];
                            c->code[c->n++] = cnt;
                            c->last_end = -1;
                            break;
                        }
                }
                if (s < 0) s = emit(c, OP_BR_TABLE, 2, sa, cnt, 0, 0);
                if (s >= 0 && reserve(c, cnt + 1)) {
                    uint32_t tab = c->n;
                    c->n += cnt + 1;
                    for (uint32_t i = 0; i <= cnt; i++) {
                        ctrl *f = &c->cs[c->csp - 1 - labs[i]];
                        if (!label_needs_moves(c, f, arity)) {
                            emit_branch_off(c, f, tab + i);
                        } else {
                            c->code[tab + i] = (uint64_t)((int64_t)c->n - (tab + i));
                            emit_label_moves(c, f, arity);
                            emit_jump(c, f);
                        }
                    }
                }
            }
            free(labs);
            set_unreachable(c);
            break;
        }
        case 0x0F: /* return */
            charge(c, 1);
            if (!check_top(c, c->cs[0].nr, c->cs[0].results)) return false;
            if (!dead(c)) {
                if (!pad_top(c, c->cs[0].nr, c->cs[0].results)) return false;
                emit_return(c);
            }
            set_unreachable(c);
            break;
        case 0x10: { /* call */
            if (!dec_u32(d, &x)) return false;
            if (x >= m->nfuncs) return dec_fail(d, "unknown function %u", x);
            const wfunctype *t = &m->types[m->func_type[x]];
            uint32_t base;
            charge(c, WASM_COST_CALL);
            if (!pop_args(c, t->np, t->params, &base)) return false;
            emit(c, OP_CALL, 2, x, slot_of(c, base), 0, 0);
            if (!push_results(c, t->nr, t->results)) return false;
            c->last_end = -1;
            break;
        }
        case 0x11: { /* call_indirect */
            if (!dec_u32(d, &y)) return false;
            if (!dec_u32(d, &x)) return false;
            if (y >= m->ntypes) return dec_fail(d, "unknown type %u", y);
            if (!check_table(c, x)) return false;
            if (m->tables[x].elem != WASM_FUNCREF) return fail(c, "type mismatch");
            const wfunctype *t = &m->types[y];
            if (!pop(c, WASM_I32, &a)) return false;
            uint32_t ipos = c->sp;
            charge(c, WASM_COST_CALL);
            /* the index may sit where arguments go: read it into a safe slot first */
            uint32_t base;
            if (!check_top(c, t->np, t->params)) return false;
            if (!pad_top(c, t->np, t->params)) return false;
            uint32_t isl;
            if (a.kind == K_LOCAL) isl = a.idx;
            else {
                isl = operand(c, &a, ipos);
                if (c->sp != ipos) { /* padded */ }
            }
            if (!pop_args(c, t->np, t->params, &base)) return false;
            /* index slot (ipos) is above the args: safe until the call */
            emit(c, OP_CALL_INDIRECT, 4, x, y, isl, slot_of(c, base));
            if (!push_results(c, t->nr, t->results)) return false;
            c->last_end = -1;
            break;
        }
        case 0x1A: /* drop */
            if (!pop(c, T_ANY, &a)) return false;
            break;
        case 0x1B:   /* select */
        case 0x1C: { /* select t */
            uint8_t t = T_ANY;
            if (opc == 0x1C) {
                uint32_t cnt;
                if (!dec_u32(d, &cnt)) return false;
                if (cnt != 1) return fail(c, "invalid result arity");
                wasm_valtype vt;
                if (!dec_valtype(d, &vt)) return false;
                t = vt;
            }
            if (!pop(c, WASM_I32, &v)) return false;
            if (!pop(c, t, &b) || !pop(c, t, &a)) return false;
            if (opc == 0x1B) {
                if (a.t != T_ANY && b.t != T_ANY && a.t != b.t) return fail(c, "type mismatch");
                t = a.t != T_ANY ? a.t : b.t;
                if (t == WASM_FUNCREF || t == WASM_EXTERNREF) return fail(c, "type mismatch");
            }
            charge(c, 1);
            uint32_t pos = c->sp;
            uint32_t sv = operand(c, &v, pos + 2);
            uint32_t sb = operand(c, &b, pos + 1);
            uint32_t sa = operand(c, &a, pos);
            int64_t s = emit(c, OP_SELECT, 4, slot_of(c, pos), sv, sa, sb);
            if (!push_t(c, t)) return false;
            produced(c, s, OP_SELECT, 1);
            break;
        }
        case 0x20: /* local.get */
            if (!dec_u32(d, &x)) return false;
            if (x >= c->nlocals) return fail(c, "unknown local");
            if (!push(c, c->ltypes[x], K_LOCAL, x, 0)) return false;
            break;
        case 0x21: /* local.set */
        case 0x22: /* local.tee */
            if (!dec_u32(d, &x)) return false;
            charge(c, 1);
            if (!local_set(c, x, opc == 0x22)) return false;
            break;
        case 0x23: { /* global.get */
            if (!dec_u32(d, &x)) return false;
            if (x >= m->nglobals) return dec_fail(d, "unknown global %u", x);
            charge(c, 1);
            uint32_t pos = c->sp;
            int64_t s = emit(c, OP_GLOBAL_GET, 2, slot_of(c, pos), x, 0, 0);
            if (!push_t(c, m->globals[x].type)) return false;
            produced(c, s, OP_GLOBAL_GET, 1);
            break;
        }
        case 0x24: { /* global.set */
            if (!dec_u32(d, &x)) return false;
            if (x >= m->nglobals) return dec_fail(d, "unknown global %u", x);
            if (!m->globals[x].mut) return fail(c, "global is immutable");
            if (!pop(c, m->globals[x].type, &a)) return false;
            charge(c, 1);
            uint32_t sa = operand(c, &a, c->sp);
            emit(c, OP_GLOBAL_SET, 2, x, sa, 0, 0);
            break;
        }
        case 0x25:   /* table.get */
        case 0x26: { /* table.set */
            if (!dec_u32(d, &x)) return false;
            if (!check_table(c, x)) return false;
            uint8_t et = m->tables[x].elem;
            charge(c, 1);
            if (opc == 0x25) {
                if (!pop(c, WASM_I32, &a)) return false;
                uint32_t pos = c->sp;
                uint32_t sa = operand(c, &a, pos);
                emit(c, OP_TABLE_GET, 3, slot_of(c, pos), x, sa, 0);
                if (!push_t(c, et)) return false;
            } else {
                if (!pop(c, et, &b) || !pop(c, WASM_I32, &a)) return false;
                uint32_t pos = c->sp;
                uint32_t sb = operand(c, &b, pos + 1);
                uint32_t sa = operand(c, &a, pos);
                emit(c, OP_TABLE_SET, 3, x, sa, sb, 0);
            }
            break;
        }
        case 0x28: OK(op_load(c, OP_LD_I32, 2, WASM_I32)); charge(c, 1); break;
        case 0x29: OK(op_load(c, OP_LD_I64, 3, WASM_I64)); charge(c, 1); break;
        case 0x2A: OK(op_load(c, OP_LD_I32, 2, WASM_F32)); charge(c, 1); break;
        case 0x2B: OK(op_load(c, OP_LD_I64, 3, WASM_F64)); charge(c, 1); break;
        case 0x2C: OK(op_load(c, OP_LD_I32_8S, 0, WASM_I32)); charge(c, 1); break;
        case 0x2D: OK(op_load(c, OP_LD_I32_8U, 0, WASM_I32)); charge(c, 1); break;
        case 0x2E: OK(op_load(c, OP_LD_I32_16S, 1, WASM_I32)); charge(c, 1); break;
        case 0x2F: OK(op_load(c, OP_LD_I32_16U, 1, WASM_I32)); charge(c, 1); break;
        case 0x30: OK(op_load(c, OP_LD_I64_8S, 0, WASM_I64)); charge(c, 1); break;
        case 0x31: OK(op_load(c, OP_LD_I64_8U, 0, WASM_I64)); charge(c, 1); break;
        case 0x32: OK(op_load(c, OP_LD_I64_16S, 1, WASM_I64)); charge(c, 1); break;
        case 0x33: OK(op_load(c, OP_LD_I64_16U, 1, WASM_I64)); charge(c, 1); break;
        case 0x34: OK(op_load(c, OP_LD_I64_32S, 2, WASM_I64)); charge(c, 1); break;
        case 0x35: OK(op_load(c, OP_LD_I64_32U, 2, WASM_I64)); charge(c, 1); break;
        case 0x36: OK(op_store(c, OP_ST_32, 2, WASM_I32)); charge(c, 1); break;
        case 0x37: OK(op_store(c, OP_ST_64, 3, WASM_I64)); charge(c, 1); break;
        case 0x38: OK(op_store(c, OP_ST_32, 2, WASM_F32)); charge(c, 1); break;
        case 0x39: OK(op_store(c, OP_ST_64, 3, WASM_F64)); charge(c, 1); break;
        case 0x3A: OK(op_store(c, OP_ST_8, 0, WASM_I32)); charge(c, 1); break;
        case 0x3B: OK(op_store(c, OP_ST_16, 1, WASM_I32)); charge(c, 1); break;
        case 0x3C: OK(op_store(c, OP_ST_8, 0, WASM_I64)); charge(c, 1); break;
        case 0x3D: OK(op_store(c, OP_ST_16, 1, WASM_I64)); charge(c, 1); break;
        case 0x3E: OK(op_store(c, OP_ST_32, 2, WASM_I64)); charge(c, 1); break;
        case 0x3F: { /* memory.size */
            uint8_t z;
            if (!dec_u8(d, &z)) return false;
            if (z != 0) { d->p--; return fail(c, "zero byte expected"); }
            if (m->nmems == 0) return fail(c, "unknown memory 0");
            charge(c, 1);
            uint32_t pos = c->sp;
            emit(c, OP_MEM_SIZE, 1, slot_of(c, pos), 0, 0, 0);
            if (!push_t(c, addr_t(c))) return false;
            break;
        }
        case 0x40: { /* memory.grow */
            uint8_t z;
            if (!dec_u8(d, &z)) return false;
            if (z != 0) { d->p--; return fail(c, "zero byte expected"); }
            if (m->nmems == 0) return fail(c, "unknown memory 0");
            if (!pop(c, addr_t(c), &a)) return false;
            charge(c, WASM_COST_MEMORY_GROW);
            uint32_t pos = c->sp;
            uint32_t sa = operand(c, &a, pos);
            emit(c, OP_MEM_GROW, 2, slot_of(c, pos), sa, 0, 0);
            if (!push_t(c, addr_t(c))) return false;
            break;
        }
        case 0x41: {
            int32_t k;
            OK(dec_s32(d, &k));
            OK(push(c, WASM_I32, K_CONST, 0, (uint32_t)k));
            break;
        }
        case 0x42: {
            int64_t k;
            OK(dec_s64(d, &k));
            OK(push(c, WASM_I64, K_CONST, 0, (uint64_t)k));
            break;
        }
        case 0x43: {
            const uint8_t *p;
            uint32_t k;
            OK(dec_bytes(d, 4, &p));
            memcpy(&k, p, 4);
            OK(push(c, WASM_F32, K_CONST, 0, k));
            break;
        }
        case 0x44: {
            const uint8_t *p;
            uint64_t k;
            OK(dec_bytes(d, 8, &p));
            memcpy(&k, p, 8);
            OK(push(c, WASM_F64, K_CONST, 0, k));
            break;
        }
        case 0xBC: /* reinterprets: same bits in the slot */
            OK(pop(c, WASM_F32, &a));
            OK(push(c, WASM_I32, a.kind, a.idx, a.k));
            break;
        case 0xBD:
            OK(pop(c, WASM_F64, &a));
            OK(push(c, WASM_I64, a.kind, a.idx, a.k));
            break;
        case 0xBE:
            OK(pop(c, WASM_I32, &a));
            OK(push(c, WASM_F32, a.kind, a.idx, a.k));
            break;
        case 0xBF:
            OK(pop(c, WASM_I64, &a));
            OK(push(c, WASM_F64, a.kind, a.idx, a.k));
            break;
        case 0xD0: { /* ref.null */
            wasm_valtype t;
            uint8_t rb;
            if (!dec_u8(d, &rb)) return false;
            if (rb != WASM_FUNCREF && rb != WASM_EXTERNREF) { d->p--; return fail(c, "malformed reference type"); }
            t = (wasm_valtype)rb;
            if (!push(c, t, K_CONST, 0, 0)) return false;
            break;
        }
        case 0xD1: { /* ref.is_null */
            if (!pop(c, T_ANY, &a)) return false;
            if (a.t != T_ANY && a.t != WASM_FUNCREF && a.t != WASM_EXTERNREF)
                return fail(c, "type mismatch");
            charge(c, 1);
            uint32_t pos = c->sp;
            uint32_t sa = operand(c, &a, pos);
            int64_t s = emit(c, OP_REF_IS_NULL, 2, slot_of(c, pos), sa, 0, 0);
            if (!push_t(c, WASM_I32)) return false;
            produced(c, s, OP_REF_IS_NULL, 1);
            break;
        }
        case 0xD2: { /* ref.func */
            if (!dec_u32(d, &x)) return false;
            if (x >= m->nfuncs) return dec_fail(d, "unknown function %u", x);
            if (!m->declared || !m->declared[x]) return fail(c, "undeclared function reference");
            charge(c, 1);
            uint32_t pos = c->sp;
            emit(c, OP_REF_FUNC, 2, slot_of(c, pos), x, 0, 0);
            if (!push_t(c, WASM_FUNCREF)) return false;
            break;
        }
        case 0xFC: {
            uint32_t sub;
            if (!dec_u32(d, &sub)) return false;
            if (sub <= 7) {
                static const struct { int op; uint8_t ti, to; } sat[8] = {
                    {OP_I32_TRUNC_SAT_F32_S, WASM_F32, WASM_I32}, {OP_I32_TRUNC_SAT_F32_U, WASM_F32, WASM_I32},
                    {OP_I32_TRUNC_SAT_F64_S, WASM_F64, WASM_I32}, {OP_I32_TRUNC_SAT_F64_U, WASM_F64, WASM_I32},
                    {OP_I64_TRUNC_SAT_F32_S, WASM_F32, WASM_I64}, {OP_I64_TRUNC_SAT_F32_U, WASM_F32, WASM_I64},
                    {OP_I64_TRUNC_SAT_F64_S, WASM_F64, WASM_I64}, {OP_I64_TRUNC_SAT_F64_U, WASM_F64, WASM_I64}};
                charge(c, 1);
                if (!op_unary(c, sat[sub].op, sat[sub].ti, sat[sub].to)) return false;
                break;
            }
            switch (sub) {
            case 8: { /* memory.init */
                uint8_t z;
                if (!dec_u32(d, &x)) return false;
                if (!dec_u8(d, &z)) return false;
                if (z != 0) { d->p--; return fail(c, "zero byte expected"); }
                if (m->nmems == 0) return fail(c, "unknown memory 0");
                if (m->datacount < 0) m->needs_datacount = true;
                else if (x >= m->datacount) return dec_fail(d, "unknown data segment %u", x);
                sval n2;
                if (!pop(c, WASM_I32, &n2) || !pop(c, WASM_I32, &b) || !pop(c, addr_t(c), &a)) return false;
                charge(c, WASM_COST_BULK);
                sval v3[3] = {a, b, n2};
                uint32_t base = place_args(c, v3, 3);
                emit(c, OP_MEM_INIT, 2, x, slot_of(c, base), 0, 0);
                break;
            }
            case 9: /* data.drop */
                if (!dec_u32(d, &x)) return false;
                if (m->datacount < 0) m->needs_datacount = true;
                else if (x >= m->datacount) return dec_fail(d, "unknown data segment %u", x);
                charge(c, 1);
                emit(c, OP_DATA_DROP, 1, x, 0, 0, 0);
                break;
            case 10:   /* memory.copy */
            case 11: { /* memory.fill */
                uint8_t z;
                if (!dec_u8(d, &z)) return false;
                if (z != 0) { d->p--; return fail(c, "zero byte expected"); }
                if (sub == 10) {
                    if (!dec_u8(d, &z)) return false;
                    if (z != 0) { d->p--; return fail(c, "zero byte expected"); }
                }
                if (m->nmems == 0) return fail(c, "unknown memory 0");
                sval n2;
                uint8_t at = addr_t(c);
                if (!pop(c, at, &n2) || !pop(c, sub == 10 ? at : WASM_I32, &b) || !pop(c, at, &a))
                    return false;
                charge(c, WASM_COST_BULK);
                sval v3[3] = {a, b, n2};
                uint32_t base = place_args(c, v3, 3);
                emit(c, sub == 10 ? OP_MEM_COPY : OP_MEM_FILL, 1, slot_of(c, base), 0, 0, 0);
                break;
            }
            case 12: { /* table.init */
                if (!dec_u32(d, &y)) return false;
                if (!dec_u32(d, &x)) return false;
                if (!check_table(c, x)) return false;
                if (y >= m->nelems) return dec_fail(d, "unknown elem segment %u", y);
                if (m->elems[y].type != m->tables[x].elem) return fail(c, "type mismatch");
                goto three_i32;
            case 13: /* elem.drop */
                if (!dec_u32(d, &x)) return false;
                if (x >= m->nelems) return dec_fail(d, "unknown elem segment %u", x);
                charge(c, 1);
                emit(c, OP_ELEM_DROP, 1, x, 0, 0, 0);
                break;
            case 14: /* table.copy */
                if (!dec_u32(d, &x)) return false;   /* dst */
                if (!dec_u32(d, &y)) return false;   /* src */
                if (!check_table(c, x) || !check_table(c, y)) return false;
                if (m->tables[x].elem != m->tables[y].elem) return fail(c, "type mismatch");
            three_i32: {
                sval n2;
                if (!pop(c, WASM_I32, &n2) || !pop(c, WASM_I32, &b) || !pop(c, WASM_I32, &a))
                    return false;
                charge(c, WASM_COST_BULK);
                sval v3[3] = {a, b, n2};
                uint32_t base = place_args(c, v3, 3);
                emit(c, sub == 12 ? OP_TABLE_INIT : OP_TABLE_COPY, 3, x, y, slot_of(c, base), 0);
                break;
            }
            }
            case 15: /* table.grow */
            case 17: { /* table.fill */
                if (!dec_u32(d, &x)) return false;
                if (!check_table(c, x)) return false;
                uint8_t et = m->tables[x].elem;
                charge(c, WASM_COST_BULK);
                if (sub == 15) {
                    if (!pop(c, WASM_I32, &b) || !pop(c, et, &a)) return false;
                    sval v2[2] = {a, b};
                    uint32_t base = place_args(c, v2, 2);
                    emit(c, OP_TABLE_GROW, 2, x, slot_of(c, base), 0, 0);
                    if (!push_t(c, WASM_I32)) return false;
                } else {
                    sval n2;
                    if (!pop(c, WASM_I32, &n2) || !pop(c, et, &b) || !pop(c, WASM_I32, &a)) return false;
                    sval v3[3] = {a, b, n2};
                    uint32_t base = place_args(c, v3, 3);
                    emit(c, OP_TABLE_FILL, 2, x, slot_of(c, base), 0, 0);
                }
                break;
            }
            case 16: { /* table.size */
                if (!dec_u32(d, &x)) return false;
                if (!check_table(c, x)) return false;
                charge(c, 1);
                emit(c, OP_TABLE_SIZE, 2, slot_of(c, c->sp), x, 0, 0);
                if (!push_t(c, WASM_I32)) return false;
                break;
            }
            default:
                return fail(c, "illegal opcode");
            }
            break;
        }
        case 0x45: /* i32.eqz */
            if (c->sp > c->cs[c->csp - 1].height && c->st[c->sp - 1].t == WASM_I32 && eqz_folds(c)) {
                charge(c, 1);
                break;
            }
            charge(c, 1);
            OK(op_unary(c, OP_I32_EQZ, WASM_I32, WASM_I32));
            break;
        case 0xFD:
            d->p--;
            return fail(c, "unsupported feature: SIMD (0xFD prefix)");
        default: {
            /* numeric ops via tables */
            switch ((unsigned)opc) {
#define X_UN(n, code, ti, to) case code: charge(c, 1); \
                OK(op_unary(c, OP_##n, WASM_##ti, WASM_##to)); goto next;
#define X_IB(n, code, ti, to) case code: charge(c, (code >= 0x6D && code <= 0x70) || \
                    (code >= 0x7F && code <= 0x82) ? WASM_COST_DIVREM : 1); \
                OK(op_binary(c, OP_##n, WASM_##ti, WASM_##to, true)); goto next;
#define X_FB(n, code, ti, to) case code: charge(c, 1); \
                OK(op_binary(c, OP_##n, WASM_##ti, WASM_##to, false)); goto next;
                WASM_UN_OPS(X_UN)
                WASM_IBIN_OPS(X_IB)
                WASM_FBIN_OPS(X_FB)
#undef X_UN
#undef X_IB
#undef X_FB
            default: break;
            }
        illegal:
            d->p--;
            return fail(c, "illegal opcode");
        next:
            break;
        }
        }
        if (c->oom) return false;
    }
    (void)tmap;
    return true;
}

/* ------------------------------------------------------------------ */
/* Entry                                                               */
/* ------------------------------------------------------------------ */

void wasm_code_free(wcode *c)
{
    if (!c) return;
    free(c->cells);
    for (uint32_t i = 0; i < c->nhandlers; i++) {
        free(c->handlers[i].catch_tag);
        free(c->handlers[i].catch_pc);
    }
    free(c->handlers);
    memset(c, 0, sizeof *c);
}

int wasm_compile_function(wdec *outer, wasm_module *m, uint32_t defidx, const uint8_t *body,
                          size_t len, size_t base_off, wasm_error *err)
{
    wdec dd = {.start = outer->start, .p = body, .end = body + len, .err = err,
               .eof_msg = "unexpected end of section or function"};
    (void)base_off;
    comp cc;
    memset(&cc, 0, sizeof cc);
    comp *c = &cc;
    c->d = &dd;
    c->m = m;
    c->labels = m->engine->labels;
    c->fuel = m->engine->cfg.fuel_enabled;
    c->fuel_cell = -1;
    c->last_end = -1;
    c->prev_end = -1;
    c->cmp_add = -1;
    int rc = WASM_EDECODE;
    uint32_t fidx = m->nfunc_imports + defidx;
    const wfunctype *ft = &m->types[m->func_type[fidx]];

    /* locals */
    uint32_t ngroups;
    uint64_t total = ft->np;
    if (!dec_count(&dd, &ngroups, 2)) goto out;
    const uint8_t *save = dd.p;
    for (uint32_t i = 0; i < ngroups; i++) {
        uint32_t k;
        wasm_valtype t;
        if (!dec_u32(&dd, &k)) goto out;
        if (!dec_valtype(&dd, &t)) goto out;
        total += k;
        if (total > WASM_CFG_MAX_LOCALS) { dec_fail(&dd, "too many locals"); goto out; }
    }
    c->nlocals = (uint32_t)total;
    c->ltypes = malloc((total ? total : 1) * sizeof *c->ltypes);
    if (!c->ltypes) { dec_fail(&dd, "out of memory"); goto out; }
    memcpy(c->ltypes, ft->params, ft->np * sizeof *c->ltypes);
    dd.p = save;
    for (uint32_t i = 0, at = ft->np; i < ngroups; i++) {
        uint32_t k;
        wasm_valtype t;
        dec_u32(&dd, &k);
        dec_valtype(&dd, &t);
        for (uint32_t j = 0; j < k; j++) c->ltypes[at++] = t;
    }
    if (!compile_body(c, ft)) goto out;

    wcode *code = &m->codes[defidx];
    code->cells = c->code;
    c->code = NULL;
    code->ncells = c->n;
    code->nlocals = c->nlocals;
    code->frame_slots = c->nlocals + c->max_h + 2;
    if (code->frame_slots < ft->nr) code->frame_slots = ft->nr;
    code->handlers = c->h;
    code->nhandlers = c->nh;
    c->h = NULL;
    code->body_off = (size_t)(body - outer->start);
    code->body_len = len;
    rc = WASM_OK;
out:
    if (rc != WASM_OK) {
        outer->failed = true;
        if (c->oom) rc = WASM_ENOMEM;
    }
    free(c->ltypes);
    free(c->st);
    free(c->cs);
    free(c->code);
    if (c->h) {
        for (uint32_t i = 0; i < c->nh; i++) { free(c->h[i].catch_tag); free(c->h[i].catch_pc); }
        free(c->h);
    }
    return rc;
}
