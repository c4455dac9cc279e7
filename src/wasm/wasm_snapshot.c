/* wasm_snapshot.c: snapshot/restore of an instance's mutable state.
 *
 * Format (little-endian), version 1:
 *
 *   "AOXWSNP" u8 version=1
 *   u64 module hash           (FNV-1a of the module bytes; restore checks it)
 *   u8  flags                 bit0: memory bytes included
 *   u64 memory pages          (UINT64_MAX: no memory)
 *   [if bit0] u64 npages_nonzero, then npages_nonzero x (u64 page index, 4096 bytes)
 *             (4 KiB pages that are all zero are left out)
 *   u32 nglobals, nglobals x u64 value    (funcref: function index + 1, 0 = null)
 *   u32 ntables, per table: u64 size, size x u64 element (funcref as above;
 *             externref: the opaque value)
 *   u32 nelems, nelems x u8 dropped;  u32 ndatas, ndatas x u8 dropped
 *
 * Function references are stored as indices in the instance's function space so
 * that a fresh instantiation of the same module maps them back.
 */
#include "wasm/wasm_int.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + n) nc *= 2;
        uint8_t *p = realloc(b->p, nc);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put8(buf *b, uint8_t v) { put(b, &v, 1); }

static bool ref_to_index(const wasm_instance *in, uint64_t v, uint64_t *out)
{
    if (v == 0) { *out = 0; return true; }
    const wfunc *f = (const wfunc *)(uintptr_t)v;
    if (f->inst == in && f->index < in->mod->nfuncs && in->funcs[f->index] == f) {
        *out = (uint64_t)f->index + 1;
        return true;
    }
    for (uint32_t i = 0; i < in->mod->nfuncs; i++)
        if (in->funcs[i] == f) { *out = (uint64_t)i + 1; return true; }
    return false;
}

int wasm_instance_snapshot(wasm_instance *inst, int with_memory, uint8_t **out, size_t *out_len)
{
    if (!inst || !out || !out_len) return WASM_EINVAL;
    *out = NULL;
    *out_len = 0;
    const wasm_module *m = inst->mod;
    buf b = {0};
    put(&b, "AOXWSNP", 7);
    put8(&b, 1);
    put64(&b, m->hash);
    put8(&b, with_memory ? 1 : 0);
    wmemory *mem = inst->mem;
    put64(&b, mem ? mem->pages : UINT64_MAX);
    if (mem && with_memory) {
        uint64_t np = mem->size / WASM_DIRTY_PAGE_SIZE, nz = 0;
        static const uint8_t zero[WASM_DIRTY_PAGE_SIZE];
        for (uint64_t i = 0; i < np; i++)
            if (memcmp(mem->data + i * WASM_DIRTY_PAGE_SIZE, zero, WASM_DIRTY_PAGE_SIZE)) nz++;
        put64(&b, nz);
        for (uint64_t i = 0; i < np; i++) {
            const uint8_t *pg = mem->data + i * WASM_DIRTY_PAGE_SIZE;
            if (!memcmp(pg, zero, WASM_DIRTY_PAGE_SIZE)) continue;
            put64(&b, i);
            put(&b, pg, WASM_DIRTY_PAGE_SIZE);
        }
    }
    put32(&b, m->nglobals);
    for (uint32_t i = 0; i < m->nglobals; i++) {
        const wglobal *g = inst->globals[i];
        uint64_t v = g->val;
        if (g->type == WASM_FUNCREF && !ref_to_index(inst, g->val, &v)) goto foreign;
        put64(&b, v);
    }
    put32(&b, m->ntables);
    for (uint32_t i = 0; i < m->ntables; i++) {
        const wtable *t = inst->tables[i];
        put64(&b, t->size);
        for (uint64_t k = 0; k < t->size; k++) {
            uint64_t v = t->elems[k];
            if (t->elem == WASM_FUNCREF && !ref_to_index(inst, t->elems[k], &v)) goto foreign;
            put64(&b, v);
        }
    }
    put32(&b, m->nelems);
    put(&b, inst->elem_dropped, m->nelems);
    put32(&b, m->ndatas);
    put(&b, inst->data_dropped, m->ndatas);
    if (b.oom) { free(b.p); return WASM_ENOMEM; }
    *out = b.p;
    *out_len = b.n;
    return WASM_OK;
foreign:
    free(b.p);
    return WASM_ESNAPSHOT;   /* a function of an unrelated instance cannot be named */
}

typedef struct rd {
    const uint8_t *p, *end;
    bool bad;
} rd;

static bool get(rd *r, void *dst, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) { r->bad = true; return false; }
    memcpy(dst, r->p, n);
    r->p += n;
    return true;
}
static uint64_t get64(rd *r) { uint64_t v = 0; get(r, &v, 8); return v; }
static uint32_t get32(rd *r) { uint32_t v = 0; get(r, &v, 4); return v; }
static uint8_t get8(rd *r) { uint8_t v = 0; get(r, &v, 1); return v; }

int wasm_instance_restore(wasm_instance *inst, const uint8_t *bytes, size_t len, wasm_error *err)
{
    if (!inst || (!bytes && len)) return WASM_EINVAL;
    const wasm_module *m = inst->mod;
    rd r = {bytes, bytes + len, false};
    char magic[7];
    if (!get(&r, magic, 7) || memcmp(magic, "AOXWSNP", 7) != 0) {
        wasm_err(err, 0, "snapshot: bad magic");
        return WASM_ESNAPSHOT;
    }
    if (get8(&r) != 1) { wasm_err(err, 7, "snapshot: unknown version"); return WASM_ESNAPSHOT; }
    if (get64(&r) != m->hash) { wasm_err(err, 8, "snapshot: different module"); return WASM_ESNAPSHOT; }
    uint8_t flags = get8(&r);
    uint64_t pages = get64(&r);
    if (r.bad || (pages == UINT64_MAX) != (inst->mem == NULL)) goto bad;
    /* validate the whole input before changing anything */
    const uint8_t *mem_at = r.p;
    uint64_t nz = 0;
    if (inst->mem) {
        if (pages > inst->mem->max_pages && pages > inst->mem->pages) goto bad;
        if (flags & 1) {
            nz = get64(&r);
            if (r.bad || nz > (uint64_t)(r.end - r.p) / (8 + WASM_DIRTY_PAGE_SIZE)) goto bad;
            r.p += nz * (8 + WASM_DIRTY_PAGE_SIZE);
        }
    }
    const uint8_t *glob_at = r.p;
    if (get32(&r) != m->nglobals) goto bad;
    for (uint32_t i = 0; i < m->nglobals; i++) {
        uint64_t v = get64(&r);
        if (inst->globals[i]->type == WASM_FUNCREF && v > m->nfuncs) goto bad;
    }
    if (get32(&r) != m->ntables) goto bad;
    for (uint32_t i = 0; i < m->ntables; i++) {
        uint64_t sz = get64(&r);
        if (r.bad || sz > (uint64_t)(r.end - r.p) / 8) goto bad;
        for (uint64_t k = 0; k < sz; k++) {
            uint64_t v = get64(&r);
            if (inst->tables[i]->elem == WASM_FUNCREF && v > m->nfuncs) goto bad;
        }
    }
    if (get32(&r) != m->nelems) goto bad;
    r.p += m->nelems <= (size_t)(r.end - r.p) ? m->nelems : 0;
    if (get32(&r) != m->ndatas) goto bad;
    if ((size_t)(r.end - r.p) != m->ndatas) goto bad;
    if (r.bad) goto bad;

    /* apply */
    if (inst->mem) {
        wmemory *mem = inst->mem;
        if (wasm_mem_resize(mem, pages) != WASM_OK) { wasm_err(err, -1, "out of memory"); return WASM_ENOMEM; }
        if (flags & 1) {
            memset(mem->data, 0, (size_t)mem->size);
            rd mr = {mem_at + 8, r.end, false};
            for (uint64_t i = 0; i < nz; i++) {
                uint64_t idx = get64(&mr);
                if (idx >= mem->size / WASM_DIRTY_PAGE_SIZE) continue;
                get(&mr, mem->data + idx * WASM_DIRTY_PAGE_SIZE, WASM_DIRTY_PAGE_SIZE);
            }
        }
        memset(mem->dirty, 0, (size_t)mem->dirty_cap);
    }
    rd gr = {glob_at + 4, r.end, false};
    for (uint32_t i = 0; i < m->nglobals; i++) {
        wglobal *g = inst->globals[i];
        uint64_t v = get64(&gr);
        if (g->type == WASM_FUNCREF) v = v ? (uint64_t)(uintptr_t)inst->funcs[v - 1] : 0;
        g->val = v;
    }
    get32(&gr);
    for (uint32_t i = 0; i < m->ntables; i++) {
        wtable *t = inst->tables[i];
        uint64_t sz = get64(&gr);
        if (sz > t->size) {
            if (wasm_table_grow_int(t, sz - t->size, 0) < 0) { wasm_err(err, -1, "out of memory"); return WASM_ENOMEM; }
        }
        t->size = sz;
        for (uint64_t k = 0; k < sz; k++) {
            uint64_t v = get64(&gr);
            if (t->elem == WASM_FUNCREF) v = v ? (uint64_t)(uintptr_t)inst->funcs[v - 1] : 0;
            t->elems[k] = v;
        }
    }
    get32(&gr);
    get(&gr, inst->elem_dropped, m->nelems);
    get32(&gr);
    get(&gr, inst->data_dropped, m->ndatas);
    return WASM_OK;
bad:
    wasm_err(err, (int64_t)(r.p - bytes), "snapshot: malformed or does not match the instance");
    return WASM_ESNAPSHOT;
}
