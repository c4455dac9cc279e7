/* wasm_instance.c: engine, import sets, instantiation (linking, segments, start),
 * export lookup, calls from the host and from host functions, globals and tables,
 * fuel/limits/stats.
 *
 * Sharing: memories, tables, globals and tags are refcounted objects; an instance
 * holds one reference on each object it owns or imports. Functions stay owned by
 * their instance; an instance importing functions of another holds a reference on
 * that instance (wasm_instance_free drops ours; the memory goes when the last
 * reference goes).
 */
#include "wasm/wasm_int.h"

#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------ */
/* Engine                                                              */
/* ------------------------------------------------------------------ */

int wasm_engine_new(const wasm_config *cfg, wasm_engine **out)
{
    if (!out) return WASM_EINVAL;
    wasm_engine *e = calloc(1, sizeof *e);
    if (!e) return WASM_ENOMEM;
    if (cfg) e->cfg = *cfg;
    else {
        e->cfg.features.memory64 = 1;
        e->cfg.features.exceptions = 1;
    }
    if (!e->cfg.max_pages_per_instance) e->cfg.max_pages_per_instance = 65536;
    if (!e->cfg.max_call_depth) e->cfg.max_call_depth = WASM_DEFAULT_CALL_DEPTH;
    e->labels = wasm_exec_labels();
    *out = e;
    return WASM_OK;
}

void wasm_engine_free(wasm_engine *engine) { free(engine); }

uint64_t wasm_engine_total_pages(const wasm_engine *engine)
{
    return engine ? atomic_load(&((wasm_engine *)engine)->total_pages) : 0;
}

/* ------------------------------------------------------------------ */
/* Import sets                                                         */
/* ------------------------------------------------------------------ */

typedef struct impentry {
    char *module, *name;
    wasm_extern *ext;          /* extern of another instance, or NULL for a host func */
    wasm_host_fn fn;
    void *ud;
    wfunctype type;            /* host function signature (owned) */
} impentry;

struct wasm_imports {
    impentry *v;
    uint32_t n, cap;
};

int wasm_imports_new(wasm_imports **out)
{
    if (!out) return WASM_EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? WASM_OK : WASM_ENOMEM;
}

void wasm_imports_free(wasm_imports *imps)
{
    if (!imps) return;
    for (uint32_t i = 0; i < imps->n; i++) {
        free(imps->v[i].module);
        free(imps->v[i].name);
        free(imps->v[i].type.params);
    }
    free(imps->v);
    free(imps);
}

static impentry *imp_add(wasm_imports *imps, const char *module, const char *name)
{
    if (imps->n == imps->cap) {
        uint32_t nc = imps->cap ? imps->cap * 2 : 16;
        impentry *p = realloc(imps->v, nc * sizeof *p);
        if (!p) return NULL;
        imps->v = p;
        imps->cap = nc;
    }
    impentry *e = &imps->v[imps->n];
    memset(e, 0, sizeof *e);
    e->module = strdup(module);
    e->name = strdup(name);
    if (!e->module || !e->name) {
        free(e->module);
        free(e->name);
        return NULL;
    }
    imps->n++;
    return e;
}

int wasm_imports_add_func(wasm_imports *imps, const char *module, const char *name,
                          const wasm_valtype *params, uint32_t nparams,
                          const wasm_valtype *results, uint32_t nresults,
                          wasm_host_fn fn, void *ud)
{
    if (!imps || !module || !name || !fn) return WASM_EINVAL;
    wasm_valtype *ts = malloc(((size_t)nparams + nresults + 1) * sizeof *ts);
    if (!ts) return WASM_ENOMEM;
    if (nparams) memcpy(ts, params, nparams * sizeof *ts);
    if (nresults) memcpy(ts + nparams, results, nresults * sizeof *ts);
    impentry *e = imp_add(imps, module, name);
    if (!e) { free(ts); return WASM_ENOMEM; }
    e->fn = fn;
    e->ud = ud;
    e->type.np = nparams;
    e->type.nr = nresults;
    e->type.params = ts;
    e->type.results = ts + nparams;
    e->type.hash = wasm_functype_hash(&e->type);
    return WASM_OK;
}

int wasm_imports_add_extern(wasm_imports *imps, const char *module, const char *name,
                            wasm_extern *ext)
{
    if (!imps || !module || !name || !ext) return WASM_EINVAL;
    impentry *e = imp_add(imps, module, name);
    if (!e) return WASM_ENOMEM;
    e->ext = ext;
    return WASM_OK;
}

int wasm_imports_add_instance(wasm_imports *imps, const char *module, wasm_instance *inst)
{
    if (!imps || !module || !inst) return WASM_EINVAL;
    const wasm_module *m = inst->mod;
    for (uint32_t i = 0; i < m->nexports; i++) {
        wasm_extern *x = wasm_instance_export_n(inst, m->exports[i].name, m->exports[i].name_len);
        int rc = wasm_imports_add_extern(imps, module, m->exports[i].name, x);
        if (rc) return rc;
    }
    return WASM_OK;
}

/* Last match wins, so re-registering a name overrides. */
static const impentry *imp_find(const wasm_imports *imps, const wimport *im)
{
    if (!imps) return NULL;
    for (uint32_t i = imps->n; i-- > 0;) {
        const impentry *e = &imps->v[i];
        if (strlen(e->module) == im->module_len && strlen(e->name) == im->name_len &&
            memcmp(e->module, im->module, im->module_len) == 0 &&
            memcmp(e->name, im->name, im->name_len) == 0)
            return e;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Instances                                                           */
/* ------------------------------------------------------------------ */

static void instance_destroy(wasm_instance *in)
{
    const wasm_module *m = in->mod;
    wasm_exec_free(in->exec);
    if (in->tables)
        for (uint32_t i = 0; i < m->ntables; i++) {
            wtable *t = in->tables[i];
            if (t && --t->hdr.refs == 0) { free(t->elems); free(t); }
        }
    if (in->mem) wasm_mem_unref(in->mem);
    if (in->globals)
        for (uint32_t i = 0; i < m->nglobals; i++) {
            wglobal *g = in->globals[i];
            if (g && --g->hdr.refs == 0) free(g);
        }
    if (in->tags)
        for (uint32_t i = 0; i < m->ntags; i++) {
            wtag *t = in->tags[i];
            if (t && --t->hdr.refs == 0) { free(t->type.params); free(t); }
        }
    for (uint32_t i = 0; i < in->nhost; i++) free(in->host_types[i].params);
    free(in->host_funcs);
    free(in->host_types);
    free(in->funcs_own);
    free(in->funcs);
    free(in->tables);
    free(in->globals);
    free(in->gvals);
    free(in->tags);
    free(in->elem_dropped);
    free(in->data_dropped);
    free(in->last_exn);
    wasm_module_release(in->mod);
    free(in);
}

static void store_destroy(wstore *st)
{
    for (uint32_t i = 0; i < st->n; i++) instance_destroy(st->insts[i]);
    free(st->insts);
    free(st);
}

void wasm_instance_free(wasm_instance *inst)
{
    if (!inst) return;
    wstore *st = inst->store;
    if (--st->users == 0) store_destroy(st);
}

/* Put `in` into the store of `other` (merging stores if `in` already has one). */
static int store_join(wasm_instance *in, wasm_instance *other)
{
    wstore *dst = other->store;
    wstore *src = in->store;
    if (!dst || src == dst) return WASM_OK;
    if (!src) { in->store = dst; return WASM_OK; }
    /* merge src into dst */
    if (dst->n + src->n > dst->cap) {
        uint32_t nc = dst->cap ? dst->cap : 4;
        while (nc < dst->n + src->n) nc *= 2;
        wasm_instance **p = realloc(dst->insts, nc * sizeof *p);
        if (!p) return WASM_ENOMEM;
        dst->insts = p;
        dst->cap = nc;
    }
    for (uint32_t i = 0; i < src->n; i++) {
        dst->insts[dst->n++] = src->insts[i];
        src->insts[i]->store = dst;
    }
    dst->users += src->users;
    free(src->insts);
    free(src);
    in->store = dst;
    return WASM_OK;
}

static int store_add(wasm_instance *in)
{
    wstore *st = in->store;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return WASM_ENOMEM;
        in->store = st;
    }
    if (st->n == st->cap) {
        uint32_t nc = st->cap ? st->cap * 2 : 4;
        wasm_instance **p = realloc(st->insts, nc * sizeof *p);
        if (!p) return WASM_ENOMEM;
        st->insts = p;
        st->cap = nc;
    }
    st->insts[st->n++] = in;
    return WASM_OK;
}

static bool limits_match(uint64_t have_min, bool have_has_max, uint64_t have_max,
                         const wlimits *want)
{
    if (have_min < want->min) return false;
    if (want->has_max) {
        if (!have_has_max) return false;
        if (have_max > want->max) return false;
    }
    return true;
}

static uint64_t const_eval(const wasm_instance *in, const wconst *c)
{
    switch (c->kind) {
    case CE_I32: case CE_I64: case CE_F32: case CE_F64: return c->val;
    case CE_REFNULL: return 0;
    case CE_REFFUNC: return (uint64_t)(uintptr_t)in->funcs[c->val];
    case CE_GLOBAL: return in->globals[c->val]->val;
    }
    return 0;
}

static int link_imports(wasm_instance *in, const wasm_imports *imps, wasm_error *err)
{
    wasm_module *m = in->mod;
    uint32_t nhost = 0;
    if (imps)
        for (uint32_t i = 0; i < m->nimports; i++) {
            const impentry *e = imp_find(imps, &m->imports[i]);
            if (e && !e->ext) nhost++;
        }
    in->host_funcs = calloc(nhost + 1, sizeof *in->host_funcs);
    in->host_types = calloc(nhost + 1, sizeof *in->host_types);
    if (!in->host_funcs || !in->host_types) return WASM_ENOMEM;

    for (uint32_t i = 0; i < m->nimports; i++) {
        const wimport *im = &m->imports[i];
        const impentry *e = imp_find(imps, im);
        if (!e) {
            wasm_err(err, -1, "unknown import: %s.%s", im->module, im->name);
            return WASM_ELINK;
        }
        wasm_extern_kind kind = e->ext ? (wasm_extern_kind)e->ext->kind : WASM_EXTERN_FUNC;
        if (kind != im->kind) goto incompatible;
        if (e->ext && e->ext->owner && store_join(in, e->ext->owner)) return WASM_ENOMEM;
        switch (im->kind) {
        case WASM_EXTERN_FUNC: {
            const wfunctype *want = &m->types[m->func_type[im->index]];
            if (e->ext) {
                wfunc *f = (wfunc *)e->ext;
                if (!wasm_functype_eq(f->type, want)) goto incompatible;
                in->funcs[im->index] = f;
            } else {
                if (!wasm_functype_eq(&e->type, want)) goto incompatible;
                wfunctype *t = &in->host_types[in->nhost];
                t->np = e->type.np;
                t->nr = e->type.nr;
                t->params = malloc(((size_t)t->np + t->nr + 1) * sizeof *t->params);
                if (!t->params) return WASM_ENOMEM;
                memcpy(t->params, e->type.params, ((size_t)t->np + t->nr) * sizeof *t->params);
                t->results = t->params + t->np;
                t->hash = e->type.hash;
                wfunc *f = &in->host_funcs[in->nhost++];
                f->hdr.kind = WASM_EXTERN_FUNC;
                f->hdr.owner = in;
                f->type = t;
                f->inst = in;
                f->code = NULL;
                f->host = e->fn;
                f->ud = e->ud;
                f->index = im->index;
                in->funcs[im->index] = f;
            }
            break;
        }
        case WASM_EXTERN_TABLE: {
            wtable *t = (wtable *)e->ext;
            const wtabletype *want = &m->tables[im->index];
            if (t->elem != want->elem ||
                !limits_match(t->size, t->has_max, t->max, &want->lim))
                goto incompatible;
            t->hdr.refs++;
            in->tables[im->index] = t;
            break;
        }
        case WASM_EXTERN_MEMORY: {
            wmemory *mm = (wmemory *)e->ext;
            const wmemtype *want = &m->mems[im->index];
            if (mm->is64 != want->is64 ||
                !limits_match(mm->pages, mm->has_max, mm->declared_max, &want->lim))
                goto incompatible;
            mm->hdr.refs++;
            in->mem = mm;
            break;
        }
        case WASM_EXTERN_GLOBAL: {
            wglobal *g = (wglobal *)e->ext;
            const wglobaltype *want = &m->globals[im->index];
            if (g->type != want->type || g->mut != want->mut) goto incompatible;
            g->hdr.refs++;
            in->globals[im->index] = g;
            break;
        }
        case WASM_EXTERN_TAG: {
            wtag *t = (wtag *)e->ext;
            if (!wasm_functype_eq(&t->type, &m->types[m->tag_type[im->index]])) goto incompatible;
            t->hdr.refs++;
            in->tags[im->index] = t;
            break;
        }
        }
        continue;
    incompatible:
        wasm_err(err, -1, "incompatible import type: %s.%s", im->module, im->name);
        return WASM_ELINK;
    }
    return WASM_OK;
}

static int set_trap(wasm_trap *trap, wasm_trap_code code, const char *msg)
{
    if (trap) {
        trap->code = code;
        snprintf(trap->message, sizeof trap->message, "%s", msg ? msg : wasm_trap_message(code));
    }
    return WASM_ETRAP;
}

int wasm_instance_new(wasm_module *m, const wasm_imports *imps, wasm_instance **out,
                      wasm_error *err, wasm_trap *trap)
{
    wasm_error dummy;
    if (!err) err = &dummy;
    err->offset = -1;
    err->message[0] = 0;
    if (trap) { trap->code = WASM_TRAP_NONE; trap->message[0] = 0; }
    if (!m || !out) return WASM_EINVAL;
    *out = NULL;
    int rc = WASM_ENOMEM;
    wasm_engine *eng = m->engine;
    wasm_instance *in = calloc(1, sizeof *in);
    if (!in) return WASM_ENOMEM;
    in->mod = m;
    atomic_fetch_add(&m->refs, 1);
    in->max_pages = eng->cfg.max_pages_per_instance;
    in->fuel = eng->cfg.start_fuel > 0 ? eng->cfg.start_fuel : INT64_MAX;
    uint32_t ndef = m->nfuncs - m->nfunc_imports;
    in->funcs = calloc(m->nfuncs + 1, sizeof *in->funcs);
    in->funcs_own = calloc(ndef + 1, sizeof *in->funcs_own);
    in->tables = calloc(m->ntables + 1, sizeof *in->tables);
    in->globals = calloc(m->nglobals + 1, sizeof *in->globals);
    in->gvals = calloc(m->nglobals + 1, sizeof *in->gvals);
    in->tags = calloc(m->ntags + 1, sizeof *in->tags);
    in->elem_dropped = calloc(m->nelems + 1, 1);
    in->data_dropped = calloc(m->ndatas + 1, 1);
    if (!in->funcs || !in->funcs_own || !in->tables || !in->globals || !in->gvals || !in->tags ||
        !in->elem_dropped || !in->data_dropped)
        goto fail;

    rc = link_imports(in, imps, err);
    if (rc) goto fail;
    rc = WASM_ENOMEM;

    for (uint32_t i = 0; i < ndef; i++) {
        wfunc *f = &in->funcs_own[i];
        uint32_t idx = m->nfunc_imports + i;
        f->hdr.kind = WASM_EXTERN_FUNC;
        f->hdr.owner = in;
        f->type = &m->types[m->func_type[idx]];
        f->inst = in;
        f->code = &m->codes[i];
        f->index = idx;
        in->funcs[idx] = f;
    }
    for (uint32_t i = m->ntable_imports; i < m->ntables; i++) {
        const wtabletype *tt = &m->tables[i];
        if (tt->lim.min > WASM_CFG_MAX_TABLE_ELEMS) {
            rc = set_trap(trap, WASM_TRAP_OUT_OF_MEMORY, "table too large");
            goto fail;
        }
        wtable *t = calloc(1, sizeof *t);
        if (!t) goto fail;
        t->hdr.kind = WASM_EXTERN_TABLE;
        t->hdr.refs = 1;
        t->hdr.owner = in;
        t->elem = tt->elem;
        t->size = tt->lim.min;
        t->has_max = tt->lim.has_max;
        t->max = tt->lim.has_max ? tt->lim.max : UINT32_MAX;
        t->elems = calloc((size_t)t->size + 1, sizeof *t->elems);
        in->tables[i] = t;
        if (!t->elems) goto fail;
    }
    for (uint32_t i = m->nmem_imports; i < m->nmems; i++) {
        wmemory *mm;
        uint64_t lim = in->max_pages;
        if (wasm_mem_new(eng, &m->mems[i], lim, &mm) != WASM_OK) {
            rc = set_trap(trap, WASM_TRAP_OUT_OF_MEMORY, NULL);
            goto fail;
        }
        mm->hdr.owner = in;
        in->mem = mm;
    }
    for (uint32_t i = m->ntag_imports; i < m->ntags; i++) {
        wtag *t = calloc(1, sizeof *t);
        if (!t) goto fail;
        const wfunctype *ft = &m->types[m->tag_type[i]];
        t->hdr.kind = WASM_EXTERN_TAG;
        t->hdr.refs = 1;
        t->hdr.owner = in;
        t->type.np = ft->np;
        t->type.nr = 0;
        t->type.params = malloc(((size_t)ft->np + 1) * sizeof *t->type.params);
        in->tags[i] = t;
        if (!t->type.params) goto fail;
        memcpy(t->type.params, ft->params, ft->np * sizeof *t->type.params);
        t->type.results = t->type.params + ft->np;
        t->type.hash = wasm_functype_hash(&t->type);
    }
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        wglobal *g = calloc(1, sizeof *g);
        if (!g) goto fail;
        g->hdr.kind = WASM_EXTERN_GLOBAL;
        g->hdr.refs = 1;
        g->hdr.owner = in;
        g->type = m->globals[i].type;
        g->mut = m->globals[i].mut;
        in->globals[i] = g;
        g->val = const_eval(in, &m->globals[i].init);
    }
    for (uint32_t i = 0; i < m->nglobals; i++) in->gvals[i] = &in->globals[i]->val;

    /* element segments, in order; active ones trap if out of bounds */
    for (uint32_t i = 0; i < m->nelems; i++) {
        const welem *e = &m->elems[i];
        if (e->mode == SEG_ACTIVE) {
            wtable *t = in->tables[e->table];
            uint64_t off = (uint32_t)const_eval(in, &e->offset);
            if (off + e->n > t->size) {
                rc = set_trap(trap, WASM_TRAP_TABLE_OOB, NULL);
                goto fail;
            }
            for (uint32_t k = 0; k < e->n; k++) t->elems[off + k] = const_eval(in, &e->items[k]);
        }
        if (e->mode != SEG_PASSIVE) in->elem_dropped[i] = 1;
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const wdata *s = &m->datas[i];
        if (s->mode == SEG_ACTIVE) {
            wmemory *mm = in->mem;
            uint64_t off = const_eval(in, &s->offset);
            if (!mm->is64) off = (uint32_t)off;
            if (off > mm->size || s->len > mm->size - off) {
                rc = set_trap(trap, WASM_TRAP_MEMORY_OOB, NULL);
                goto fail;
            }
            if (s->len) {
                memcpy(mm->data + off, s->bytes, (size_t)s->len);
                wasm_mem_dirty(mm, off, s->len);
            }
            in->data_dropped[i] = 1;
        }
    }
    if (m->start >= 0) {
        wasm_trap t2;
        rc = wasm_instance_call(in, (wasm_extern *)in->funcs[m->start], NULL, 0, NULL, 0, &t2);
        if (rc) {
            if (trap) *trap = t2;
            if (rc == WASM_EEXCEPTION) rc = WASM_ETRAP;   /* trap code: uncaught exception */
            goto fail;
        }
    }
    if (store_add(in)) { rc = WASM_ENOMEM; goto fail; }
    in->store->users++;
    *out = in;
    return WASM_OK;
fail:
    if (rc == WASM_ENOMEM && err->message[0] == 0) wasm_err(err, -1, "out of memory");
    if (in->store && in->store->n > 0 && store_add(in) == WASM_OK) {
        /* linked to live instances: segment writes may have put our functions into
         * their tables, so this instance stays parked in the store */
        return rc;
    }
    if (in->store && in->store->n == 0) free(in->store);
    instance_destroy(in);
    return rc;
}

const wasm_module *wasm_instance_module(const wasm_instance *inst) { return inst ? inst->mod : NULL; }
void wasm_instance_set_userdata(wasm_instance *inst, void *ud) { if (inst) inst->userdata = ud; }
void *wasm_instance_userdata(const wasm_instance *inst) { return inst ? inst->userdata : NULL; }

wasm_extern *wasm_instance_export(wasm_instance *inst, const char *name)
{
    return name ? wasm_instance_export_n(inst, name, strlen(name)) : NULL;
}

wasm_extern *wasm_instance_export_n(wasm_instance *inst, const char *name, size_t len)
{
    if (!inst || !name) return NULL;
    const wasm_module *m = inst->mod;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const wexport *e = &m->exports[i];
        if (e->name_len != len || memcmp(e->name, name, len) != 0) continue;
        switch (e->kind) {
        case WASM_EXTERN_FUNC: return &inst->funcs[e->index]->hdr;
        case WASM_EXTERN_TABLE: return &inst->tables[e->index]->hdr;
        case WASM_EXTERN_MEMORY: return &inst->mem->hdr;
        case WASM_EXTERN_GLOBAL: return &inst->globals[e->index]->hdr;
        case WASM_EXTERN_TAG: return &inst->tags[e->index]->hdr;
        }
    }
    return NULL;
}

wasm_extern_kind wasm_extern_kind_of(const wasm_extern *ext) { return (wasm_extern_kind)ext->kind; }

void wasm_extern_type(const wasm_extern *ext, wasm_externtype *t)
{
    memset(t, 0, sizeof *t);
    t->kind = (wasm_extern_kind)ext->kind;
    switch (ext->kind) {
    case WASM_EXTERN_FUNC: {
        const wfunc *f = (const wfunc *)ext;
        t->func.nparams = f->type->np;
        t->func.nresults = f->type->nr;
        t->func.params = f->type->params;
        t->func.results = f->type->results;
        break;
    }
    case WASM_EXTERN_TAG: {
        const wtag *g = (const wtag *)ext;
        t->func.nparams = g->type.np;
        t->func.params = g->type.params;
        t->func.results = g->type.results;
        break;
    }
    case WASM_EXTERN_TABLE: {
        const wtable *tb = (const wtable *)ext;
        t->table.elem = tb->elem;
        t->table.limits.min = tb->size;
        t->table.limits.max = tb->max;
        t->table.limits.has_max = tb->has_max;
        break;
    }
    case WASM_EXTERN_MEMORY: {
        const wmemory *mm = (const wmemory *)ext;
        t->memory.limits.min = mm->pages;
        t->memory.limits.max = mm->declared_max;
        t->memory.limits.has_max = mm->has_max;
        t->memory.is64 = mm->is64;
        break;
    }
    case WASM_EXTERN_GLOBAL: {
        const wglobal *g = (const wglobal *)ext;
        t->global.type = g->type;
        t->global.mutable_ = g->mut;
        break;
    }
    }
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

int wasm_instance_call(wasm_instance *inst, wasm_extern *func, const wasm_val *args,
                       uint32_t nargs, wasm_val *results, uint32_t nresults,
                       wasm_trap *trap)
{
    if (!inst || !func || func->kind != WASM_EXTERN_FUNC || (nargs && !args) ||
        (nresults && !results))
        return WASM_EINVAL;
    wexec *ex = wasm_exec_get(inst);
    if (!ex) return set_trap(trap, WASM_TRAP_OUT_OF_MEMORY, NULL);
    bool top = ex->native_depth == 0;
    if (top) {
        ex->root = inst;
        ex->nframes = 0;
        ex->sp_top = ex->stack;
        ex->pending = NULL;
    }
    int rc = wasm_exec_invoke(ex, inst, (const wfunc *)func, args, nargs, results, nresults,
                              ex->sp_top, trap);
    if (top) {
        if (rc == WASM_EEXCEPTION && ex->pending) {
            wexn *e = ex->pending;
            size_t sz = sizeof *e + (size_t)e->n * sizeof(uint64_t);
            free(inst->last_exn);
            inst->last_exn = malloc(sz);
            if (inst->last_exn) {
                memcpy(inst->last_exn, e, sz);
                inst->last_exn->next = NULL;
            }
        }
        wasm_exec_release_exns(ex);
    }
    return rc;
}

int wasm_instance_call_export(wasm_instance *inst, const char *name, const wasm_val *args,
                              uint32_t nargs, wasm_val *results, uint32_t nresults,
                              wasm_trap *trap)
{
    wasm_extern *f = wasm_instance_export(inst, name);
    if (!f || f->kind != WASM_EXTERN_FUNC) return WASM_ENOTFOUND;
    return wasm_instance_call(inst, f, args, nargs, results, nresults, trap);
}

int wasm_instance_last_exception(wasm_instance *inst, wasm_extern **tag, wasm_val *vals,
                                 uint32_t cap)
{
    if (!inst || !inst->last_exn) return -1;
    wexn *e = inst->last_exn;
    if (tag) *tag = &e->tag->hdr;
    for (uint32_t i = 0; i < e->n && i < cap; i++)
        wasm_slot_to_val(e->tag->type.params[i], e->vals[i], &vals[i]);
    return (int)e->n;
}

/* Host-function side. */
wasm_instance *wasm_call_instance(wasm_call *call) { return call ? call->inst : NULL; }

wasm_extern *wasm_call_memory(wasm_call *call)
{
    return call && call->inst && call->inst->mem ? &call->inst->mem->hdr : NULL;
}

int wasm_call_trap(wasm_call *call, const char *message)
{
    return wasm_exec_set_trap(call->exec, WASM_TRAP_HOST, message ? message : "host trap");
}

int wasm_call_func(wasm_call *call, wasm_extern *func, const wasm_val *args, uint32_t nargs,
                   wasm_val *results, uint32_t nresults, wasm_trap *trap)
{
    if (!call || !func || func->kind != WASM_EXTERN_FUNC) return WASM_EINVAL;
    wexec *ex = call->exec;
    ex->pending = NULL;
    uint32_t saved_frames = ex->nframes;
    int rc = wasm_exec_invoke(ex, call->inst, (const wfunc *)func, args, nargs, results,
                              nresults, ex->sp_top, trap);
    ex->nframes = saved_frames;
    return rc;
}

wasm_extern *wasm_call_table_func(wasm_call *call, uint32_t table_idx, uint64_t idx)
{
    if (!call || !call->inst || table_idx >= call->inst->mod->ntables) return NULL;
    wtable *t = call->inst->tables[table_idx];
    if (idx >= t->size || !t->elems[idx]) return NULL;
    return (wasm_extern *)(uintptr_t)t->elems[idx];
}

int wasm_call_throw(wasm_call *call, wasm_extern *tag, const wasm_val *vals, uint32_t n)
{
    if (!call || !tag || tag->kind != WASM_EXTERN_TAG) return WASM_EINVAL;
    wtag *t = (wtag *)tag;
    if (n != t->type.np) return WASM_EINVAL;
    wexn *e = wasm_exec_new_exn(call->exec, t, NULL, NULL);
    if (!e) return wasm_exec_set_trap(call->exec, WASM_TRAP_OUT_OF_MEMORY, NULL);
    for (uint32_t i = 0; i < n; i++) e->vals[i] = wasm_val_to_slot(&vals[i]);
    call->exec->pending = e;
    return WASM_EEXCEPTION;
}

int wasm_call_exception(wasm_call *call, wasm_extern **tag, wasm_val *vals, uint32_t cap)
{
    if (!call || !call->exec->pending) return -1;
    wexn *e = call->exec->pending;
    if (tag) *tag = &e->tag->hdr;
    for (uint32_t i = 0; i < e->n && i < cap; i++)
        wasm_slot_to_val(e->tag->type.params[i], e->vals[i], &vals[i]);
    return (int)e->n;
}

/* ------------------------------------------------------------------ */
/* Globals and tables                                                  */
/* ------------------------------------------------------------------ */

int wasm_global_get(const wasm_extern *global, wasm_val *out)
{
    if (!global || global->kind != WASM_EXTERN_GLOBAL || !out) return WASM_EINVAL;
    const wglobal *g = (const wglobal *)global;
    wasm_slot_to_val(g->type, g->val, out);
    return WASM_OK;
}

int wasm_global_set(wasm_extern *global, const wasm_val *val)
{
    if (!global || global->kind != WASM_EXTERN_GLOBAL || !val) return WASM_EINVAL;
    wglobal *g = (wglobal *)global;
    if (!g->mut || val->type != g->type) return WASM_EINVAL;
    g->val = wasm_val_to_slot(val);
    return WASM_OK;
}

uint64_t wasm_table_size(const wasm_extern *table)
{
    if (!table || table->kind != WASM_EXTERN_TABLE) return 0;
    return ((const wtable *)table)->size;
}

int wasm_table_get(const wasm_extern *table, uint64_t idx, wasm_val *out)
{
    if (!table || table->kind != WASM_EXTERN_TABLE || !out) return WASM_EINVAL;
    const wtable *t = (const wtable *)table;
    if (idx >= t->size) return WASM_EINVAL;
    wasm_slot_to_val(t->elem, t->elems[idx], out);
    return WASM_OK;
}

int wasm_table_set(wasm_extern *table, uint64_t idx, const wasm_val *val)
{
    if (!table || table->kind != WASM_EXTERN_TABLE || !val) return WASM_EINVAL;
    wtable *t = (wtable *)table;
    if (idx >= t->size || val->type != t->elem) return WASM_EINVAL;
    t->elems[idx] = wasm_val_to_slot(val);
    return WASM_OK;
}

wasm_extern *wasm_instance_memory(wasm_instance *inst)
{
    return inst && inst->mem ? &inst->mem->hdr : NULL;
}

/* ------------------------------------------------------------------ */
/* Metering                                                            */
/* ------------------------------------------------------------------ */

void wasm_instance_set_fuel(wasm_instance *inst, int64_t fuel) { if (inst) inst->fuel = fuel; }
int64_t wasm_instance_fuel(const wasm_instance *inst) { return inst ? inst->fuel : 0; }

void wasm_instance_set_max_pages(wasm_instance *inst, uint64_t max_pages)
{
    if (!inst) return;
    uint64_t cap = inst->mod->engine->cfg.max_pages_per_instance;
    if (max_pages == 0 || max_pages > cap) max_pages = cap;
    inst->max_pages = max_pages;
    if (inst->mem) {
        uint64_t mx = inst->mem->declared_max;
        inst->mem->max_pages = max_pages < mx ? max_pages : mx;
    }
}

void wasm_instance_interrupt(wasm_instance *inst)
{
    if (inst) atomic_store_explicit(&inst->interrupt, 1, memory_order_relaxed);
}

void wasm_instance_clear_interrupt(wasm_instance *inst)
{
    if (inst) atomic_store_explicit(&inst->interrupt, 0, memory_order_relaxed);
}

void wasm_instance_stats(const wasm_instance *inst, wasm_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!inst) return;
    out->fuel_used = inst->fuel_used;
    out->calls = inst->calls;
    if (inst->mem) {
        out->peak_pages = inst->mem->peak_pages;
        out->cur_pages = inst->mem->pages;
        out->grow_failures = inst->mem->grow_failures;
    }
}

void wasm_instance_reset_stats(wasm_instance *inst)
{
    if (!inst) return;
    inst->fuel_used = 0;
    inst->calls = 0;
    if (inst->mem) {
        inst->mem->peak_pages = inst->mem->pages;
        inst->mem->grow_failures = 0;
    }
}
