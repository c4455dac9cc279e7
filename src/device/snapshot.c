/*
 * device/snapshot.c: the snapshot writer and reader over the store.
 *
 * Manifest format, version 1 (all integers unsigned LEB128 unless noted):
 *
 *   manifest := "AOXS" u8(version = 1)
 *               uleb(meta_len) meta
 *               uleb(page_count)                 highest page index + 1 (0: no pages)
 *               uleb(n) { uleb(index) hash[32] }*  ascending index, unique
 *
 * A page's bytes live at `page/<base64url sha256(bytes)>`. Pages are shared between
 * snapshots and processes and never rewritten: the writer skips a page whose key is
 * already in the store or was already queued by this writer. New pages are queued in
 * one store batch that is committed by aox_snap_writer_finish, *before* the caller
 * commits the manifest that references them, so a durable manifest never names a
 * missing page. An aborted snapshot leaves at most unreferenced pages behind.
 */
#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "device/device_int.h"
#include "device/snapshot.h"
#include "store/store.h"

#define SNAP_MAGIC     "AOXS"
#define SNAP_VERSION   1

typedef struct page_ent {
    uint64_t index;
    uint64_t pos;                  /* writer: order of the write, so the last one wins */
    uint8_t  hash[AOX_HASH_LEN];
} page_ent;

struct aox_snap_writer {
    aox_store       *store;
    aox_snap_writer *parent;       /* sub-writer: forwards pages here */
    uint64_t         ns_bits;      /* sub-writer: namespace in the high index bits */
    aox_buf          meta;
    page_ent        *pages;        /* this snapshot's page table (unsorted until finish) */
    size_t           npages, cappages;
    page_ent        *base;         /* previous manifest's page table, sorted */
    size_t           nbase;
    int              has_base;
    aox_batch       *batch;        /* queued new pages */
    uint8_t         *seen;         /* open-addressing set of queued hashes (32 B each) */
    size_t           nseen, capseen;
    uint64_t         bytes_written;
    const aox_snap_fwd *fwd;       /* forwarding writer (isolation): pages go there */
};

struct aox_snap_reader {
    aox_store       *store;
    aox_snap_reader *parent;
    uint64_t         ns_bits;
    uint8_t         *copy;         /* owned copy of the manifest */
    const uint8_t   *meta;
    size_t           meta_len;
    page_ent        *pages;        /* sorted by index (borrowed for a sub-reader) */
    size_t           npages;
    uint64_t         page_count;
    const aox_snap_fwd *fwd;       /* forwarding reader (isolation) */
};

/* ------------------------------------------------------------------ parsing */

static int read_uleb(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    while (*p < end) {
        uint8_t b = *(*p)++;
        if (shift == 63 && (b & 0x7e))
            return AOX_E_CORRUPT;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return AOX_OK;
        }
        shift += 7;
        if (shift > 63)
            return AOX_E_CORRUPT;
    }
    return AOX_E_CORRUPT;
}

/* Parses a manifest. meta points into p. pages is malloc'd (NULL when empty). */
static int parse_manifest(const uint8_t *p, size_t n, const uint8_t **meta, size_t *meta_len,
                          uint64_t *page_count, page_ent **pages, size_t *npages)
{
    const uint8_t *end = p + n;
    uint64_t ml, pc, cnt;
    page_ent *pg = NULL;
    int rc = AOX_E_CORRUPT;

    *pages = NULL;
    *npages = 0;
    if (n < 5 || memcmp(p, SNAP_MAGIC, 4) != 0 || p[4] != SNAP_VERSION)
        goto fail;
    p += 5;
    if (read_uleb(&p, end, &ml) || ml > (uint64_t)(end - p))
        goto fail;
    *meta = p;
    *meta_len = (size_t)ml;
    p += ml;
    if (read_uleb(&p, end, &pc) || read_uleb(&p, end, &cnt))
        goto fail;
    if (cnt > (uint64_t)(end - p) / (1 + AOX_HASH_LEN))
        goto fail;
    if (cnt) {
        pg = malloc((size_t)cnt * sizeof *pg);
        if (!pg) {
            rc = AOX_E_NOMEM;
            goto fail;
        }
    }
    for (uint64_t i = 0; i < cnt; i++) {
        if (read_uleb(&p, end, &pg[i].index) || (size_t)(end - p) < AOX_HASH_LEN)
            goto fail;
        if ((i > 0 && pg[i].index <= pg[i - 1].index) || pg[i].index >= pc)
            goto fail;
        memcpy(pg[i].hash, p, AOX_HASH_LEN);
        p += AOX_HASH_LEN;
    }
    if (p != end)
        goto fail;
    *page_count = pc;
    *pages = pg;
    *npages = (size_t)cnt;
    return AOX_OK;
fail:
    free(pg);
    return rc;
}

static const page_ent *find_page(const page_ent *v, size_t n, uint64_t index)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].index == index)
            return &v[mid];
        if (v[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int page_key(aox_buf *k, const uint8_t hash[AOX_HASH_LEN])
{
    char id[AOX_ID_LEN + 1];
    aox_id_from_hash(hash, id);
    return aox_key_simple(k, "page", id);
}

/* ------------------------------------------------------------------ writer */

int aox_snap_writer_new(aox_store *s, const uint8_t *base_manifest, size_t base_len,
                        aox_snap_writer **out)
{
    aox_snap_writer *w = calloc(1, sizeof *w);
    int rc;
    *out = NULL;
    if (!w)
        return AOX_E_NOMEM;
    w->store = s;
    if (base_manifest && base_len) {
        const uint8_t *meta;
        size_t ml;
        uint64_t pc;
        rc = parse_manifest(base_manifest, base_len, &meta, &ml, &pc, &w->base, &w->nbase);
        if (rc) {
            free(w);
            return rc;
        }
        w->has_base = 1;
    }
    *out = w;
    return AOX_OK;
}

int snap_writer_sub(aox_snap_writer *parent, unsigned ns, aox_snap_writer **out)
{
    aox_snap_writer *w;
    *out = NULL;
    if (ns > AOX_SNAP_NS_MAX || parent->parent)      /* one level of nesting only */
        return AOX_E_INVALID;
    w = calloc(1, sizeof *w);
    if (!w)
        return AOX_E_NOMEM;
    w->store = parent->store;
    w->parent = parent;
    w->ns_bits = (uint64_t)ns << AOX_SNAP_NS_SHIFT;
    *out = w;
    return AOX_OK;
}

void snap_writer_meta(const aox_snap_writer *w, const uint8_t **p, size_t *n)
{
    *p = w->meta.data;
    *n = w->meta.len;
}

int aox_snap_write_meta(aox_snap_writer *w, const void *p, size_t n)
{
    if (w->fwd) return w->fwd->meta(w->fwd->ud, p, n);
    return aox_buf_append(&w->meta, p, n);
}

int aox_snap_has_base(const aox_snap_writer *w)
{
    if (w->fwd) return w->fwd->has_base;
    return w->parent ? aox_snap_has_base(w->parent) : w->has_base;
}

/* Sets (or replaces) the table entry for index. */
static int put_entry(aox_snap_writer *w, uint64_t index, const uint8_t hash[AOX_HASH_LEN])
{
    /* Devices write pages in ascending order almost always: check the last entry. */
    if (w->npages && w->pages[w->npages - 1].index == index) {
        memcpy(w->pages[w->npages - 1].hash, hash, AOX_HASH_LEN);
        return AOX_OK;
    }
    if (w->npages == w->cappages) {
        size_t nc = w->cappages ? w->cappages * 2 : 64;
        page_ent *np = realloc(w->pages, nc * sizeof *np);
        if (!np)
            return AOX_E_NOMEM;
        w->pages = np;
        w->cappages = nc;
    }
    w->pages[w->npages].index = index;
    w->pages[w->npages].pos = w->npages;
    memcpy(w->pages[w->npages].hash, hash, AOX_HASH_LEN);
    w->npages++;
    return AOX_OK;
}

static uint64_t hash_slot(const uint8_t *h, size_t cap)
{
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return v & (cap - 1);
}

/* Adds h to the set of hashes queued by this writer; returns 1 if it was there. */
static int seen_add(aox_snap_writer *w, const uint8_t h[AOX_HASH_LEN], int *was)
{
    static const uint8_t zero[AOX_HASH_LEN];
    *was = 0;
    if ((w->nseen + 1) * 2 > w->capseen) {
        size_t nc = w->capseen ? w->capseen * 2 : 64;
        uint8_t *ns = calloc(nc, AOX_HASH_LEN);
        if (!ns)
            return AOX_E_NOMEM;
        for (size_t i = 0; i < w->capseen; i++) {
            const uint8_t *e = w->seen + i * AOX_HASH_LEN;
            if (memcmp(e, zero, AOX_HASH_LEN) == 0)
                continue;
            size_t j = hash_slot(e, nc);
            while (memcmp(ns + j * AOX_HASH_LEN, zero, AOX_HASH_LEN) != 0)
                j = (j + 1) & (nc - 1);
            memcpy(ns + j * AOX_HASH_LEN, e, AOX_HASH_LEN);
        }
        free(w->seen);
        w->seen = ns;
        w->capseen = nc;
    }
    /* An all-zero SHA-256 does not occur in practice; it marks empty slots. */
    size_t j = hash_slot(h, w->capseen);
    while (memcmp(w->seen + j * AOX_HASH_LEN, zero, AOX_HASH_LEN) != 0) {
        if (memcmp(w->seen + j * AOX_HASH_LEN, h, AOX_HASH_LEN) == 0) {
            *was = 1;
            return AOX_OK;
        }
        j = (j + 1) & (w->capseen - 1);
    }
    memcpy(w->seen + j * AOX_HASH_LEN, h, AOX_HASH_LEN);
    w->nseen++;
    return AOX_OK;
}

int aox_snap_write_page(aox_snap_writer *w, uint64_t index, const void *p, size_t n)
{
    uint8_t h[AOX_HASH_LEN];
    aox_buf k = {0}, v = {0};
    int rc, was;

    if (w->parent) {
        if (index >> AOX_SNAP_NS_SHIFT)
            return AOX_E_INVALID;
        return aox_snap_write_page(w->parent, w->ns_bits | index, p, n);
    }
    if (w->fwd) return w->fwd->page(w->fwd->ud, index, p, n);
    aox_sha256(p, n, h);
    rc = seen_add(w, h, &was);
    if (rc || was)
        goto done;
    rc = page_key(&k, h);
    if (rc)
        goto done;
    rc = aox_store_get(w->store, k.data, k.len, &v);
    if (rc == AOX_OK)
        goto done;                  /* already stored by an earlier snapshot */
    if (rc != AOX_E_NOT_FOUND)
        goto done;
    if (!w->batch) {
        rc = aox_store_batch_begin(w->store, &w->batch);
        if (rc)
            goto done;
    }
    rc = aox_batch_put(w->batch, k.data, k.len, p, n);
    if (rc)
        goto done;
    w->bytes_written += n;
done:
    if (rc == AOX_OK)
        rc = put_entry(w, index, h);
    aox_buf_free(&k);
    aox_buf_free(&v);
    return rc;
}

int aox_snap_keep_page(aox_snap_writer *w, uint64_t index)
{
    const page_ent *e;
    if (w->parent) {
        if (index >> AOX_SNAP_NS_SHIFT)
            return AOX_E_INVALID;
        return aox_snap_keep_page(w->parent, w->ns_bits | index);
    }
    if (w->fwd) return w->fwd->keep(w->fwd->ud, index);
    e = find_page(w->base, w->nbase, index);
    if (!e)
        return AOX_E_NOT_FOUND;
    return put_entry(w, index, e->hash);
}

static int cmp_page(const void *a, const void *b)
{
    const page_ent *x = a, *y = b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int aox_snap_writer_finish(aox_snap_writer *w, aox_buf *manifest)
{
    uint64_t page_count = 0;
    size_t j = 0;
    int rc;

    if (w->parent)
        return AOX_E_INVALID;
    if (w->batch) {
        aox_batch *b = w->batch;
        w->batch = NULL;
        rc = aox_store_batch_commit(b, NULL);
        if (rc)
            return rc;
    }
    /* Sort by (index, write order); for a repeated index the last write wins. */
    if (w->npages > 1)
        qsort(w->pages, w->npages, sizeof *w->pages, cmp_page);
    for (size_t i = 0; i < w->npages; i++) {
        if (j > 0 && w->pages[j - 1].index == w->pages[i].index)
            j--;
        w->pages[j++] = w->pages[i];
    }
    w->npages = j;
    if (w->npages)
        page_count = w->pages[w->npages - 1].index + 1;

    aox_buf_reset(manifest);
    rc = aox_buf_append(manifest, SNAP_MAGIC, 4);
    if (!rc) rc = aox_buf_append_u8(manifest, SNAP_VERSION);
    if (!rc) rc = aox_buf_append_uleb(manifest, w->meta.len);
    if (!rc) rc = aox_buf_append(manifest, w->meta.data, w->meta.len);
    if (!rc) rc = aox_buf_append_uleb(manifest, page_count);
    if (!rc) rc = aox_buf_append_uleb(manifest, w->npages);
    for (size_t i = 0; !rc && i < w->npages; i++) {
        rc = aox_buf_append_uleb(manifest, w->pages[i].index);
        if (!rc)
            rc = aox_buf_append(manifest, w->pages[i].hash, AOX_HASH_LEN);
    }
    return rc;
}

uint64_t aox_snap_writer_bytes_written(const aox_snap_writer *w)
{
    return w->bytes_written;
}

void aox_snap_writer_free(aox_snap_writer *w)
{
    if (!w)
        return;
    if (w->batch)
        aox_store_batch_abort(w->batch);
    aox_buf_free(&w->meta);
    free(w->pages);
    free(w->base);
    free(w->seen);
    free(w);
}

/* ------------------------------------------------------------------ reader */

int aox_snap_reader_new(aox_store *s, const uint8_t *manifest, size_t len,
                        aox_snap_reader **out, aox_err *err)
{
    aox_snap_reader *r = calloc(1, sizeof *r);
    int rc;
    *out = NULL;
    if (!r)
        return aox_err_set(err, AOX_E_NOMEM, "snapshot reader: out of memory");
    r->store = s;
    r->copy = malloc(len ? len : 1);
    if (!r->copy) {
        free(r);
        return aox_err_set(err, AOX_E_NOMEM, "snapshot reader: out of memory");
    }
    if (len)
        memcpy(r->copy, manifest, len);
    rc = parse_manifest(r->copy, len, &r->meta, &r->meta_len, &r->page_count,
                        &r->pages, &r->npages);
    if (rc) {
        free(r->copy);
        free(r);
        return aox_err_set(err, rc, "snapshot manifest is malformed (%zu bytes)", len);
    }
    *out = r;
    return AOX_OK;
}

int snap_reader_sub(aox_snap_reader *parent, unsigned ns, const uint8_t *meta, size_t n,
                    aox_snap_reader **out)
{
    aox_snap_reader *r;
    uint64_t lo = (uint64_t)ns << AOX_SNAP_NS_SHIFT;
    uint64_t hi = lo | ((1ull << AOX_SNAP_NS_SHIFT) - 1);
    *out = NULL;
    if (ns > AOX_SNAP_NS_MAX || parent->parent)
        return AOX_E_INVALID;
    r = calloc(1, sizeof *r);
    if (!r)
        return AOX_E_NOMEM;
    r->store = parent->store;
    r->parent = parent;
    r->ns_bits = lo;
    r->meta = meta;
    r->meta_len = n;
    /* highest index of the parent's pages inside [lo, hi] */
    for (size_t i = parent->npages; i > 0; i--) {
        uint64_t ix = parent->pages[i - 1].index;
        if (ix < lo)
            break;
        if (ix <= hi) {
            r->page_count = (ix - lo) + 1;
            break;
        }
    }
    *out = r;
    return AOX_OK;
}

int aox_snap_read_meta(aox_snap_reader *r, const uint8_t **p, size_t *n)
{
    if (r->fwd) {
        *p = r->fwd->rmeta;
        *n = r->fwd->rmeta_len;
        return AOX_OK;
    }
    *p = r->meta;
    *n = r->meta_len;
    return AOX_OK;
}

uint64_t aox_snap_page_count(const aox_snap_reader *r)
{
    if (r->fwd) return r->fwd->page_count;
    return r->page_count;
}

int aox_snap_read_page(aox_snap_reader *r, uint64_t index, aox_buf *out)
{
    const page_ent *e;
    uint8_t h[AOX_HASH_LEN];
    aox_buf k = {0};
    int rc;

    if (r->parent) {
        if (index >> AOX_SNAP_NS_SHIFT)
            return AOX_E_NOT_FOUND;
        return aox_snap_read_page(r->parent, r->ns_bits | index, out);
    }
    aox_buf_reset(out);
    if (r->fwd) return r->fwd->read_page(r->fwd->ud, index, out);
    e = find_page(r->pages, r->npages, index);
    if (!e)
        return AOX_E_NOT_FOUND;
    rc = page_key(&k, e->hash);
    if (!rc)
        rc = aox_store_get(r->store, k.data, k.len, out);
    aox_buf_free(&k);
    if (rc == AOX_E_NOT_FOUND)
        return AOX_E_CORRUPT;           /* the manifest names a page the store lacks */
    if (rc)
        return rc;
    aox_sha256(out->data, out->len, h);
    if (memcmp(h, e->hash, AOX_HASH_LEN) != 0)
        return AOX_E_CORRUPT;
    return AOX_OK;
}

void aox_snap_reader_free(aox_snap_reader *r)
{
    if (!r)
        return;
    if (!r->parent) {
        free(r->pages);
        free(r->copy);
    }
    free(r);
}

/* ------------------------------------------------------------------ forwarding */

int aox_snap_writer_new_fwd(const aox_snap_fwd *f, aox_snap_writer **out)
{
    aox_snap_writer *w = calloc(1, sizeof *w);
    if (!w) return AOX_E_NOMEM;
    w->fwd = f;
    *out = w;
    return AOX_OK;
}

int aox_snap_reader_new_fwd(const aox_snap_fwd *f, aox_snap_reader **out)
{
    aox_snap_reader *r = calloc(1, sizeof *r);
    if (!r) return AOX_E_NOMEM;
    r->fwd = f;
    *out = r;
    return AOX_OK;
}
