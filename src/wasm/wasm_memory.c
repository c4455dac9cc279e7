/* wasm_memory.c: linear memories and tables: allocation, growth under limits,
 * bounds-checked host access, dirty page tracking and the page API.
 *
 * Memory is one malloc'd block of exactly `size` bytes (+8 spare so that empty
 * memories still have a valid pointer); growing reallocates, so the interpreter
 * reloads its cached base/size after every call and grow. Bounds checks are
 * explicit (one compare against the cached size per access).
 *
 * Dirty tracking: one byte per WASM_DIRTY_PAGE_SIZE (4 KiB) page, set by every store
 * instruction (two byte writes: first and last page touched), bulk op and host
 * write. A byte map is cheaper on the store path than a bit map (no read-modify-write).
 */
#include "wasm/wasm_int.h"

#include <stdlib.h>

#define WPAGE 65536ull
#define DPP (WPAGE / WASM_DIRTY_PAGE_SIZE)   /* dirty pages per wasm page */

int wasm_mem_new(wasm_engine *e, const wmemtype *t, uint64_t limit_pages, wmemory **out)
{
    *out = NULL;
    wmemory *m = calloc(1, sizeof *m);
    if (!m) return WASM_ENOMEM;
    m->hdr.kind = WASM_EXTERN_MEMORY;
    m->hdr.refs = 1;
    m->engine = e;
    m->is64 = t->is64;
    m->has_max = t->lim.has_max;
    m->declared_max = t->lim.has_max ? t->lim.max : (t->is64 ? (1ull << 48) : 65536);
    m->max_pages = m->declared_max;
    if (limit_pages && limit_pages < m->max_pages) m->max_pages = limit_pages;
    if (t->lim.min > m->max_pages) { free(m); return WASM_ENOMEM; }
    uint64_t cap = e->cfg.max_total_pages;
    uint64_t old = atomic_fetch_add(&e->total_pages, t->lim.min);
    if (cap && old + t->lim.min > cap) {
        atomic_fetch_sub(&e->total_pages, t->lim.min);
        free(m);
        return WASM_ENOMEM;
    }
    m->pages = t->lim.min;
    m->size = m->pages * WPAGE;
    m->data = calloc(1, (size_t)m->size + 8);
    m->dirty_cap = m->pages * DPP + 1;
    m->dirty = calloc(1, (size_t)m->dirty_cap);
    if (!m->data || !m->dirty) {
        atomic_fetch_sub(&e->total_pages, t->lim.min);
        free(m->data);
        free(m->dirty);
        free(m);
        return WASM_ENOMEM;
    }
    m->peak_pages = m->pages;
    *out = m;
    return WASM_OK;
}

void wasm_mem_unref(wmemory *m)
{
    if (!m || --m->hdr.refs > 0) return;
    atomic_fetch_sub(&m->engine->total_pages, m->pages);
    free(m->data);
    free(m->dirty);
    free(m);
}

/* Set the size to `pages` (grow or shrink); new bytes are zero. */
int wasm_mem_resize(wmemory *m, uint64_t pages)
{
    if (pages == m->pages) return WASM_OK;
    uint64_t nsize = pages * WPAGE;
    uint8_t *nd = realloc(m->data, (size_t)nsize + 8);
    if (!nd) return WASM_ENOMEM;
    if (nsize > m->size) memset(nd + m->size, 0, (size_t)(nsize - m->size) + 8);
    m->data = nd;
    uint64_t ndirty = pages * DPP + 1;
    if (ndirty > m->dirty_cap) {
        uint8_t *dm = realloc(m->dirty, (size_t)ndirty);
        if (!dm) return WASM_ENOMEM;   /* data already larger: harmless, size unchanged */
        memset(dm + m->dirty_cap, 0, (size_t)(ndirty - m->dirty_cap));
        m->dirty = dm;
        m->dirty_cap = ndirty;
    }
    if (pages > m->pages) atomic_fetch_add(&m->engine->total_pages, pages - m->pages);
    else atomic_fetch_sub(&m->engine->total_pages, m->pages - pages);
    m->pages = pages;
    m->size = nsize;
    if (pages > m->peak_pages) m->peak_pages = pages;
    return WASM_OK;
}

int64_t wasm_mem_grow(wmemory *m, uint64_t delta)
{
    uint64_t old = m->pages;
    if (delta == 0) return (int64_t)old;
    uint64_t cap = m->engine->cfg.max_total_pages;
    if (delta > m->max_pages || old + delta > m->max_pages ||
        (cap && atomic_load(&m->engine->total_pages) + delta > cap) ||
        (old + delta) * WPAGE > (uint64_t)SIZE_MAX / 2 ||
        wasm_mem_resize(m, old + delta) != WASM_OK) {
        m->grow_failures++;
        return -1;
    }
    /* new pages are zero, as they are in a fresh instance resized by restore:
     * they are not marked dirty until written */
    return (int64_t)old;
}

int64_t wasm_table_grow_int(wtable *t, uint64_t delta, uint64_t init)
{
    uint64_t old = t->size;
    if (delta == 0) return (int64_t)old;
    uint64_t lim = t->has_max ? t->max : UINT32_MAX;
    if (lim > WASM_CFG_MAX_TABLE_ELEMS) lim = WASM_CFG_MAX_TABLE_ELEMS;
    if (delta > lim || old + delta > lim) return -1;
    uint64_t *ne = realloc(t->elems, (size_t)(old + delta + 1) * sizeof *ne);
    if (!ne) return -1;
    for (uint64_t i = old; i < old + delta; i++) ne[i] = init;
    t->elems = ne;
    t->size = old + delta;
    return (int64_t)old;
}

/* ------------------------------------------------------------------ */
/* Public memory API                                                   */
/* ------------------------------------------------------------------ */

static wmemory *as_mem(const wasm_extern *e)
{
    return e && e->kind == WASM_EXTERN_MEMORY ? (wmemory *)e : NULL;
}

uint8_t *wasm_memory_data(wasm_extern *memory)
{
    wmemory *m = as_mem(memory);
    return m ? m->data : NULL;
}

uint64_t wasm_memory_size(const wasm_extern *memory)
{
    wmemory *m = as_mem(memory);
    return m ? m->size : 0;
}

uint64_t wasm_memory_pages(const wasm_extern *memory)
{
    wmemory *m = as_mem(memory);
    return m ? m->pages : 0;
}

int wasm_memory_read(const wasm_extern *memory, uint64_t off, void *dst, uint64_t len)
{
    wmemory *m = as_mem(memory);
    if (!m || off > m->size || len > m->size - off) return WASM_EINVAL;
    if (len) memcpy(dst, m->data + off, (size_t)len);
    return WASM_OK;
}

int wasm_memory_write(wasm_extern *memory, uint64_t off, const void *src, uint64_t len)
{
    wmemory *m = as_mem(memory);
    if (!m || off > m->size || len > m->size - off) return WASM_EINVAL;
    if (len) {
        memcpy(m->data + off, src, (size_t)len);
        wasm_mem_dirty(m, off, len);
    }
    return WASM_OK;
}

void wasm_memory_mark_dirty(wasm_extern *memory, uint64_t off, uint64_t len)
{
    wmemory *m = as_mem(memory);
    if (!m || off >= m->size) return;
    if (len > m->size - off) len = m->size - off;
    wasm_mem_dirty(m, off, len);
}

int64_t wasm_memory_grow(wasm_extern *memory, uint64_t delta)
{
    wmemory *m = as_mem(memory);
    return m ? wasm_mem_grow(m, delta) : -1;
}

/* ------------------------------------------------------------------ */
/* Dirty pages                                                         */
/* ------------------------------------------------------------------ */

void wasm_instance_mark_clean(wasm_instance *inst)
{
    if (inst && inst->mem) memset(inst->mem->dirty, 0, (size_t)inst->mem->dirty_cap);
}

uint64_t wasm_instance_page_count(const wasm_instance *inst)
{
    return inst && inst->mem ? inst->mem->pages * DPP : 0;
}

size_t wasm_instance_dirty_pages(const wasm_instance *inst, uint64_t from, uint64_t *pages,
                                 size_t cap)
{
    if (!inst || !inst->mem) return 0;
    const wmemory *m = inst->mem;
    uint64_t n = m->pages * DPP;
    size_t k = 0;
    uint64_t i = from;
    /* skip clean runs 8 bytes at a time */
    while (i < n && k < cap) {
        if ((i & 7) == 0 && i + 8 <= n) {
            uint64_t w;
            memcpy(&w, m->dirty + i, 8);
            if (w == 0) { i += 8; continue; }
        }
        if (m->dirty[i]) pages[k++] = i;
        i++;
    }
    return k;
}

int wasm_instance_read_page(const wasm_instance *inst, uint64_t page, uint8_t *buf)
{
    if (!inst || !inst->mem || page >= inst->mem->pages * DPP) return WASM_EINVAL;
    memcpy(buf, inst->mem->data + page * WASM_DIRTY_PAGE_SIZE, WASM_DIRTY_PAGE_SIZE);
    return WASM_OK;
}

int wasm_instance_write_page(wasm_instance *inst, uint64_t page, const uint8_t *buf)
{
    if (!inst || !inst->mem || page >= inst->mem->pages * DPP) return WASM_EINVAL;
    memcpy(inst->mem->data + page * WASM_DIRTY_PAGE_SIZE, buf, WASM_DIRTY_PAGE_SIZE);
    return WASM_OK;
}
