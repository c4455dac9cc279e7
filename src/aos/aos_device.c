/*
 * aos/aos_device.c: the WASM process device (wasm@1.0, wasm-64@1.0) and the
 * json-iface@1.0 / wasi@1.0 stack markers (see aos.h).
 *
 * State of one process:
 *
 *   live instance  --- the guest runs here; the engine tracks dirty 4 KiB pages
 *   shadow         --- a copy of linear memory as of the last committed message
 *   undo           --- wasm_instance_snapshot(with_memory = 0) of that state
 *                      (memory size, globals, tables)
 *   fs, fs_commit  --- live and committed in-memory file system
 *   snap_dirty     --- bitmap of pages changed since the last snapshot
 *
 * After a successful message the pages the engine reports dirty are copied into the
 * shadow (and marked in snap_dirty), the engine's marks are cleared and a new undo
 * image is taken. After a failing one (trap, out of fuel, memory limit, guest error,
 * or any dry run) the undo image is restored into the instance and the dirty pages
 * are copied back from the shadow, so the state is exactly the one before the
 * message. Cost: one extra copy of memory, plus work proportional to the pages a
 * message touches.
 *
 * Snapshot: meta = "AOS1" + fs + tempRet0 + undo image; pages = 4 KiB memory pages
 * from the shadow, written when marked in snap_dirty (or when the writer has no
 * base), kept otherwise. Restore instantiates the module afresh, restores the undo
 * image and writes every page back.
 *
 * State digest (the `digest` op, `state-digest` in results): SHA-256 over a tag, the
 * image, the memory size, a memory root, SHA-256 of the committed fs encoding,
 * tempRet0 and SHA-256 of the undo image (globals, tables, dropped segments) -- i.e.
 * everything the snapshot holds, all of it committed state. The memory root is a
 * 64-ary hash tree over the shadow: level 0 = SHA-256 of each 4 KiB page (a constant
 * for zero pages), a node of level k >= 1 = SHA-256 of its (up to) 64 children's
 * hashes, up to the first level with one node, the root. commit() only marks the
 * pages it folds (and the fs when it changed) stale, with their level-1 parents;
 * the digest op rehashes the stale pages and their ancestors, so a message that
 * changes one page costs one page hash plus a 2 KiB hash per level (3 levels at
 * 100 MiB), whatever the memory size. init/restore mark every page stale (the tree
 * is rebuilt from the shadow on the first digest; nothing of it is in the snapshot).
 *
 * One engine (fuel metering, memory64 and exceptions on) and a cache of compiled
 * modules (by module ID, reference counted) are shared by all processes.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ans104/ans104.h"
#include "aos/aos.h"
#include "aos/aos_fs.h"
#include "aos/aos_int.h"
#include "aos/aos_json.h"
#include "core/id.h"
#include "device/device.h"
#include "store/store.h"
#include "wasm/wasm.h"

#define PAGE            WASM_DIRTY_PAGE_SIZE          /* 4 KiB */
#define DEFAULT_COMPUTE 9000000000000ull              /* the loader's default gas limit */
#define ENGINE_MAX_PAGES 262144u                      /* 16 GiB of 64 KiB pages */
#define META_MAGIC      "AOS1"
#define DIGEST_FAN      64u                           /* children per tree node */
#define DIGEST_LEVELS   8                             /* 64^7 pages >> 16 GiB */
#define DIGEST_TAG      "aox-wasm-state/1"

/* ------------------------------------------------------------------ stats */

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static aox_aos_stats g_stats;

void aox_aos_get_stats(aox_aos_stats *out)
{
    pthread_mutex_lock(&stats_lock);
    *out = g_stats;
    pthread_mutex_unlock(&stats_lock);
}

static void stat_add(uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&stats_lock);
    *field += n;
    pthread_mutex_unlock(&stats_lock);
}

/* ------------------------------------------------------------------ engine, module cache */

static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static wasm_engine *g_engine;

static void engine_init(void)
{
    wasm_config c;
    memset(&c, 0, sizeof c);
    c.fuel_enabled = 1;
    c.features.memory64 = 1;
    c.features.exceptions = 1;
    c.max_pages_per_instance = ENGINE_MAX_PAGES;
    if (wasm_engine_new(&c, &g_engine))
        g_engine = NULL;
}

typedef struct mod_ent {
    char            id[AOX_ID_LEN + 1];
    wasm_module    *m;
    int             refs;
    struct mod_ent *next;
} mod_ent;

static pthread_mutex_t mods_lock = PTHREAD_MUTEX_INITIALIZER;
static mod_ent *g_mods;

static void mod_release(mod_ent *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&mods_lock);
    if (--e->refs == 0) {
        for (mod_ent **pp = &g_mods; *pp; pp = &(*pp)->next)
            if (*pp == e) {
                *pp = e->next;
                break;
            }
        wasm_module_free(e->m);
        free(e);
    }
    pthread_mutex_unlock(&mods_lock);
}

/* Reads the module bytes: module/<id>, else the data of the ANS-104 item data/<id>. */
static int module_bytes(aox_store *s, const char *id, aox_buf *out, aox_err *err)
{
    aox_buf k = {0};
    int rc = aox_key_simple(&k, "module", id);
    if (!rc)
        rc = aox_store_get(s, k.data, k.len, out);
    if (rc == AOX_E_NOT_FOUND && !aox_key_simple(&k, "data", id) &&
        aox_store_get(s, k.data, k.len, out) == AOX_OK) {
        aox_ans104_item *it = NULL;
        size_t n;
        const uint8_t *d;
        rc = AOX_E_NOT_FOUND;
        if (aox_ans104_parse(out->data, out->len, &it, NULL) == 0 &&
            (d = aox_ans104_data(it, &n)) != NULL) {
            aox_buf tmp = {0};
            rc = aox_buf_append(&tmp, d, n);
            aox_buf_free(out);
            *out = tmp;
        }
        aox_ans104_free(it);
    }
    aox_buf_free(&k);
    if (rc == AOX_E_NOT_FOUND)
        return aox_err_set(err, rc, "module %s not found in the store", id);
    if (rc)
        return aox_err_set(err, rc, "cannot read module %s", id);
    return AOX_OK;
}

static int mod_acquire(aox_store *s, const char *id, mod_ent **out, aox_err *err)
{
    int rc = AOX_OK;
    aox_buf bytes = {0};
    pthread_once(&engine_once, engine_init);
    if (!g_engine)
        return aox_err_set(err, AOX_E_INTERNAL, "cannot create the WebAssembly engine");
    pthread_mutex_lock(&mods_lock);
    for (mod_ent *e = g_mods; e; e = e->next)
        if (strcmp(e->id, id) == 0) {
            e->refs++;
            *out = e;
            goto done;
        }
    if ((rc = module_bytes(s, id, &bytes, err)))
        goto done;
    mod_ent *e = calloc(1, sizeof *e);
    if (!e) {
        rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
        goto done;
    }
    wasm_error werr;
    memset(&werr, 0, sizeof werr);
    if (wasm_module_new(g_engine, bytes.data, bytes.len, NULL, &e->m, &werr)) {
        free(e);
        rc = aox_err_set(err, AOX_E_INVALID, "module %s: %s (at byte %lld)", id,
                         werr.message, (long long)werr.offset);
        goto done;
    }
    snprintf(e->id, sizeof e->id, "%s", id);
    e->refs = 1;
    e->next = g_mods;
    g_mods = e;
    *out = e;
done:
    pthread_mutex_unlock(&mods_lock);
    aox_buf_free(&bytes);
    return rc;
}

/* ------------------------------------------------------------------ wall clock */

/* call->interrupt is a flag the process layer's watchdog sets when a message runs past
 * its wall-clock limit. The engine is stopped with wasm_instance_interrupt(), so one
 * shared thread polls the flags of the calls in flight (every 2 ms while there are
 * any; asleep otherwise) and interrupts their instances. */
typedef struct watch_ent {
    atomic_int       *flag;
    wasm_instance    *inst;
    int               fired;
    struct watch_ent *prev, *next;
} watch_ent;

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv = PTHREAD_COND_INITIALIZER;
static watch_ent *watch_head;
static int watch_started;

static void *watch_main(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&watch_mu);
    for (;;) {
        while (!watch_head)
            pthread_cond_wait(&watch_cv, &watch_mu);
        for (watch_ent *e = watch_head; e; e = e->next)
            if (!e->fired && atomic_load(e->flag)) {
                wasm_instance_interrupt(e->inst);
                e->fired = 1;
            }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 2000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&watch_cv, &watch_mu, &until);
    }
    return NULL;
}

static void watch_begin(watch_ent *e, atomic_int *flag, wasm_instance *inst)
{
    memset(e, 0, sizeof *e);
    if (!flag)
        return;
    e->flag = flag;
    e->inst = inst;
    pthread_mutex_lock(&watch_mu);
    if (!watch_started) {
        pthread_t t;
        if (pthread_create(&t, NULL, watch_main, NULL) == 0) {
            pthread_detach(t);
            watch_started = 1;
        }
    }
    e->next = watch_head;
    if (watch_head)
        watch_head->prev = e;
    watch_head = e;
    pthread_cond_signal(&watch_cv);
    pthread_mutex_unlock(&watch_mu);
}

static void watch_end(watch_ent *e)
{
    if (!e->flag)
        return;
    pthread_mutex_lock(&watch_mu);
    if (e->prev)
        e->prev->next = e->next;
    else
        watch_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    pthread_mutex_unlock(&watch_mu);
}

/* ------------------------------------------------------------------ helpers */

int aox_aos_module_tags_key(aox_buf *k, const char *module_id)
{
    int rc = aox_key_simple(k, "module", module_id);
    return rc ? rc : aox_buf_append_str(k, "/tags");
}

int aox_aos_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s)
        return AOX_E_INVALID;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return AOX_E_INVALID;
    uint64_t mul = 1;
    if (*end == '-' || *end == '_' || *end == ' ')
        end++;
    if (!*end || !strcasecmp(end, "b"))
        mul = 1;
    else if (!strcasecmp(end, "kb") || !strcasecmp(end, "k"))
        mul = 1ull << 10;
    else if (!strcasecmp(end, "mb") || !strcasecmp(end, "m"))
        mul = 1ull << 20;
    else if (!strcasecmp(end, "gb") || !strcasecmp(end, "g"))
        mul = 1ull << 30;
    else if (!strcasecmp(end, "tb") || !strcasecmp(end, "t"))
        mul = 1ull << 40;
    else
        return AOX_E_INVALID;
    if (v > UINT64_MAX / mul)
        return AOX_E_INVALID;
    *out = (uint64_t)v * mul;
    return AOX_OK;
}

/* Module tags JSON: module/<id>/tags, else the tags of the item data/<id>. */
static char *module_tags(aox_store *s, const char *id, size_t *len)
{
    aox_buf k = {0}, v = {0};
    char *res = NULL;
    *len = 0;
    if (aox_aos_module_tags_key(&k, id) == 0 && aox_store_get(s, k.data, k.len, &v) == 0) {
        res = (char *)aox_buf_steal(&v, len);
        goto done;
    }
    aox_ans104_item *it = NULL;
    if (aox_key_simple(&k, "data", id) == 0 && aox_store_get(s, k.data, k.len, &v) == 0 &&
        aox_ans104_parse(v.data, v.len, &it, NULL) == 0) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < aox_ans104_tag_count(it); i++) {
            const aox_ans104_tag *t = aox_ans104_tag_at(it, i);
            json_t *o = json_pack("{s:s%,s:s%}", "name", (const char *)t->name, t->name_len,
                                  "value", (const char *)t->value, t->value_len);
            if (o)
                json_array_append_new(arr, o);
        }
        char *txt = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
        json_decref(arr);
        if (txt) {
            res = txt;
            *len = strlen(txt);
        }
    }
    aox_ans104_free(it);
done:
    aox_buf_free(&k);
    aox_buf_free(&v);
    return res;
}

const char *aox_aos_device_for_module(aox_store *store, const char *module_id)
{
    size_t n = 0;
    char *tags = store && module_id ? module_tags(store, module_id, &n) : NULL;
    char *fmt = tags ? aos_json_tag_value(tags, n, "Module-Format") : NULL;
    const char *dev = fmt && strncmp(fmt, "wasm64", 6) == 0 ? AOX_AOS_DEV_WASM64
                                                           : AOX_AOS_DEV_WASM32;
    free(fmt);
    free(tags);
    return dev;
}

/* ------------------------------------------------------------------ state */

typedef struct aos_proc {
    char           pid[AOX_ID_LEN + 1];
    char           image[128];
    char           function[64];
    char           format[96];
    int            json;            /* json-iface (else raw call) */
    int            stacked;         /* runs inside stack@1.0 */
    int            metering;        /* format with metering.usegas */
    uint64_t       mem_limit;       /* bytes; 0 = engine max */
    uint64_t       compute_limit;   /* fuel per message */
    aox_store     *store;
    mod_ent       *mod;
    wasm_instance *inst;
    aos_host      *host;
    aos_fs        *fs, *fs_commit;
    uint8_t       *shadow;          /* committed memory */
    uint64_t       shadow_len;
    uint8_t       *snap_dirty;      /* bit per page changed since the last snapshot */
    uint64_t       snap_bits;       /* bits allocated */
    int32_t        temp_commit;
    uint64_t       grow_failures_before;  /* engine stat at the start of the call */
    uint8_t       *undo;            /* engine snapshot without memory */
    size_t         undo_len;
    char          *env_json;        /* cached env argument */
    size_t         env_len;
    aos_json_ctx   jctx;
    /* state digest (see the header comment); all over committed state */
    struct {
        uint8_t  (*h)[32];          /* node hashes (level 0: pages) */
        uint64_t  *stale;           /* bit per node: hash out of date */
        uint64_t   n;               /* nodes */
    } dl[DIGEST_LEVELS];
    int            ndl;             /* levels in use (0: no memory) */
    uint8_t        fs_hash[32], undo_hash[32];
    int            fs_stale, undo_stale;
} aos_proc;

static void digest_drop(aos_proc *p);

static void proc_free(void *state)
{
    aos_proc *p = state;
    if (!p)
        return;
    wasm_instance_free(p->inst);
    mod_release(p->mod);
    aos_host_free(p->host);
    aos_fs_free(p->fs);
    aos_fs_free(p->fs_commit);
    free(p->shadow);
    free(p->snap_dirty);
    free(p->undo);
    free(p->env_json);
    digest_drop(p);
    free(p);
}

static int def_str(const aox_msg *def, const char *k, char *out, size_t cap)
{
    const char *s = aox_msg_get_str(def, k, NULL);
    if (!s)
        return 0;
    snprintf(out, cap, "%s", s);
    return 1;
}

/* Reads the configuration from the definition, the module tags and the env. */
static int configure(aos_proc *p, const aox_device_env *env, const aox_msg *def,
                     const char *tags, size_t tags_len, aox_err *err)
{
    const char *dev = aox_device_name_of(def);
    char buf[64];
    p->stacked = dev && strcmp(dev, "stack@1.0") == 0;
    p->json = 1;
    if (p->stacked) {
        const aox_value *l = aox_msg_get(def, "device-stack");
        p->json = 0;
        for (size_t i = 0; l && l->type == AOX_V_LIST && i < l->u.list.len; i++) {
            const aox_value *v = &l->u.list.items[i];
            if (v->type == AOX_V_BYTES && strcmp((const char *)v->u.bytes.ptr, AOX_AOS_DEV_JSON) == 0)
                p->json = 1;
        }
    }
    if (!def_str(def, "function", p->function, sizeof p->function))
        snprintf(p->function, sizeof p->function, "handle");
    if (!def_str(def, "module-format", p->format, sizeof p->format)) {
        char *f = tags ? aos_json_tag_value(tags, tags_len, "Module-Format") : NULL;
        snprintf(p->format, sizeof p->format, "%s", f ? f : "");
        free(f);
    }
    if (p->format[0] && strncmp(p->format, "wasm32-unknown-emscripten", 25) != 0 &&
        strncmp(p->format, "wasm64-unknown-emscripten", 25) != 0)
        return aox_err_set(err, AOX_E_UNSUPPORTED, "unsupported Module-Format '%s'", p->format);
    p->metering = strstr(p->format, "metering") != NULL;
    /* memory */
    uint64_t mem = 0;
    if (def_str(def, "memory-limit", buf, sizeof buf)) {
        if (aox_aos_parse_size(buf, &mem))
            return aox_err_set(err, AOX_E_INVALID, "bad memory-limit '%s'", buf);
    } else {
        char *m = tags ? aos_json_tag_value(tags, tags_len, "Memory-Limit") : NULL;
        int bad = m && aox_aos_parse_size(m, &mem);
        free(m);
        if (bad)
            return aox_err_set(err, AOX_E_INVALID, "bad Memory-Limit tag of module %s", p->image);
    }
    if (env->limits && env->limits->memory_bytes && (!mem || env->limits->memory_bytes < mem))
        mem = env->limits->memory_bytes;
    p->mem_limit = mem;
    /* compute */
    uint64_t comp = 0;
    int64_t iv;
    if (aox_msg_get_int(def, "compute-limit", &iv) == 0 && iv > 0) {
        comp = (uint64_t)iv;
    } else {
        char *c = tags ? aos_json_tag_value(tags, tags_len, "Compute-Limit") : NULL;
        if (c)
            comp = strtoull(c, NULL, 10);
        free(c);
    }
    if (!comp)
        comp = DEFAULT_COMPUTE;
    if (env->limits && env->limits->fuel_per_message && env->limits->fuel_per_message < comp)
        comp = env->limits->fuel_per_message;
    if (comp > (uint64_t)INT64_MAX)
        comp = (uint64_t)INT64_MAX;
    p->compute_limit = comp;
    return AOX_OK;
}

static int bit_get(const aos_proc *p, uint64_t i)
{
    return i < p->snap_bits && (p->snap_dirty[i / 8] >> (i % 8) & 1);
}

static int bit_set(aos_proc *p, uint64_t i)
{
    if (i >= p->snap_bits) {
        uint64_t nb = (i + 1 > p->snap_bits * 2 ? i + 1 : p->snap_bits * 2);
        nb = (nb + 63) & ~(uint64_t)63;
        uint8_t *n = realloc(p->snap_dirty, nb / 8);
        if (!n)
            return AOX_E_NOMEM;
        memset(n + p->snap_bits / 8, 0, (nb - p->snap_bits) / 8);
        p->snap_dirty = n;
        p->snap_bits = nb;
    }
    p->snap_dirty[i / 8] |= (uint8_t)(1u << (i % 8));
    return AOX_OK;
}

static wasm_extern *mem_of(aos_proc *p)
{
    return wasm_instance_memory(p->inst);
}

static int page_is_zero(const uint8_t *pg)
{
    static const uint8_t zero[PAGE];
    return memcmp(pg, zero, PAGE) == 0;
}

/* Makes the shadow an exact copy of memory (init/restore). */
static int shadow_full(aos_proc *p)
{
    wasm_extern *m = mem_of(p);
    uint64_t sz = m ? wasm_memory_size(m) : 0;
    /* calloc'd: the kernel maps zero pages lazily, so only non-zero pages cost */
    uint8_t *n = calloc(1, sz ? sz : 1);
    if (!n)
        return AOX_E_NOMEM;
    free(p->shadow);
    p->shadow = n;
    p->shadow_len = sz;
    const uint8_t *live = sz ? wasm_memory_data(m) : NULL;
    for (uint64_t off = 0; off + PAGE <= sz; off += PAGE)
        if (!page_is_zero(live + off))
            memcpy(p->shadow + off, live + off, PAGE);
    wasm_instance_mark_clean(p->inst);
    return AOX_OK;
}

/* ------------------------------------------------------------------ state digest */

static void stale_set(uint64_t *bits, uint64_t i)
{
    bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static void digest_drop(aos_proc *p)
{
    for (int i = 0; i < DIGEST_LEVELS; i++) {
        free(p->dl[i].h);
        free(p->dl[i].stale);
    }
    memset(p->dl, 0, sizeof p->dl);
    p->ndl = 0;
}

/* Makes the tree cover `pages` pages (memory only grows between restores); the new
 * pages are stale (their ancestors become stale as the digest climbs). On failure
 * the tree is dropped, so the next call rebuilds it whole. */
static int digest_grow(aos_proc *p, uint64_t pages)
{
    uint64_t old = p->ndl ? p->dl[0].n : 0, n = pages;
    int k = 0;
    if (pages <= old)
        return AOX_OK;
    do {
        if (k == DIGEST_LEVELS) {
            digest_drop(p);
            return AOX_E_LIMIT;
        }
        uint64_t ow = (p->dl[k].n + 63) / 64, nw = (n + 63) / 64;
        void *a = realloc(p->dl[k].h, n * 32);
        if (!a) {
            digest_drop(p);
            return AOX_E_NOMEM;
        }
        p->dl[k].h = a;
        if (!(a = realloc(p->dl[k].stale, nw * 8))) {
            digest_drop(p);
            return AOX_E_NOMEM;
        }
        p->dl[k].stale = a;
        memset(p->dl[k].stale + ow, 0, (nw - ow) * 8);
        p->dl[k].n = n;
        k++;
        n = (n + DIGEST_FAN - 1) / DIGEST_FAN;
    } while (k < 2 || p->dl[k - 1].n > 1);
    p->ndl = k;
    for (uint64_t i = old; i < pages; i++) {
        stale_set(p->dl[0].stale, i);
        stale_set(p->dl[1].stale, i / DIGEST_FAN);
    }
    return AOX_OK;
}

static void digest_mark(aos_proc *p, uint64_t page)
{
    if (p->ndl && page < p->dl[0].n) {
        stale_set(p->dl[0].stale, page);
        stale_set(p->dl[1].stale, page / DIGEST_FAN);
    }
}

/* Everything stale (init/restore): the tree is rebuilt from the shadow. */
static int digest_reset(aos_proc *p)
{
    digest_drop(p);
    p->fs_stale = 1;
    p->undo_stale = 1;
    return digest_grow(p, p->shadow_len / PAGE);
}

static uint8_t zero_hash[32];             /* SHA-256 of an all-zero page */
static pthread_once_t zero_once = PTHREAD_ONCE_INIT;

static void zero_hash_init(void)
{
    static const uint8_t zpage[PAGE];
    aox_sha256(zpage, PAGE, zero_hash);
}

static int wasm_digest(void *state, uint8_t out[32])
{
    aos_proc *p = state;
    uint64_t pages = p->shadow_len / PAGE;
    pthread_once(&zero_once, zero_hash_init);
    if (digest_grow(p, pages))
        return AOX_E_NOMEM;
    /* level 1 upwards; a stale level-1 node first rehashes its stale pages (the
     * 64 pages of node j are exactly word j of the level-0 bitmap) */
    uint64_t hashed = 0;
    for (int k = 1; k < p->ndl; k++) {
        uint64_t *st = p->dl[k].stale, nc = p->dl[k - 1].n;
        for (uint64_t w = 0; w < (p->dl[k].n + 63) / 64; w++) {
            while (st[w]) {
                uint64_t j = w * 64 + (uint64_t)__builtin_ctzll(st[w]);
                st[w] &= st[w] - 1;
                if (k == 1) {
                    uint64_t *ps = &p->dl[0].stale[j];
                    while (*ps) {
                        uint64_t i = j * 64 + (uint64_t)__builtin_ctzll(*ps);
                        *ps &= *ps - 1;
                        const uint8_t *pg = p->shadow + i * PAGE;
                        if (page_is_zero(pg))
                            memcpy(p->dl[0].h[i], zero_hash, 32);
                        else
                            aox_sha256(pg, PAGE, p->dl[0].h[i]);
                        hashed++;
                    }
                }
                uint64_t lo = j * DIGEST_FAN, cnt = nc - lo < DIGEST_FAN ? nc - lo : DIGEST_FAN;
                aox_sha256(p->dl[k - 1].h[lo], (size_t)cnt * 32, p->dl[k].h[j]);
                if (k + 1 < p->ndl)
                    stale_set(p->dl[k + 1].stale, j / DIGEST_FAN);
            }
        }
    }
    if (hashed)
        stat_add(&g_stats.pages_hashed, hashed);
    if (p->fs_stale) {
        aox_buf fsb = {0};
        if (aos_fs_encode(p->fs_commit, &fsb)) {
            aox_buf_free(&fsb);
            return AOX_E_NOMEM;
        }
        aox_sha256(fsb.data, fsb.len, p->fs_hash);
        aox_buf_free(&fsb);
        p->fs_stale = 0;
    }
    /* tag | image | be64 memory bytes | root | fs hash | be32 tempRet0 | undo hash */
    uint8_t buf[sizeof DIGEST_TAG + sizeof p->image + 8 + 32 + 32 + 4 + 32], *q = buf;
    size_t il = strlen(p->image);
    memcpy(q, DIGEST_TAG, sizeof DIGEST_TAG);
    q += sizeof DIGEST_TAG;
    memcpy(q, p->image, il + 1);
    q += il + 1;
    for (int i = 7; i >= 0; i--)
        *q++ = (uint8_t)(p->shadow_len >> (8 * i));
    if (p->ndl)
        memcpy(q, p->dl[p->ndl - 1].h[0], 32);
    else
        aox_sha256("", 0, q);
    q += 32;
    memcpy(q, p->fs_hash, 32);
    q += 32;
    uint32_t t = (uint32_t)p->temp_commit;
    for (int i = 3; i >= 0; i--)
        *q++ = (uint8_t)(t >> (8 * i));
    if (p->undo_stale) {
        aox_sha256(p->undo ? (const void *)p->undo : "", p->undo_len, p->undo_hash);
        p->undo_stale = 0;
    }
    memcpy(q, p->undo_hash, 32);
    q += 32;
    aox_sha256(buf, (size_t)(q - buf), out);
    return AOX_OK;
}

static int take_undo(aos_proc *p, aox_err *err)
{
    uint8_t *u = NULL;
    size_t n = 0;
    if (wasm_instance_snapshot(p->inst, 0, &u, &n))
        return aox_err_set(err, AOX_E_NOMEM, "engine snapshot failed");
    if (!p->undo || n != p->undo_len || memcmp(u, p->undo, n) != 0)
        p->undo_stale = 1;                     /* (a compare is cheaper than a hash) */
    free(p->undo);
    p->undo = u;
    p->undo_len = n;
    return AOX_OK;
}

/* Successful message: fold the dirty pages into the shadow. */
static int commit(aos_proc *p, aox_err *err)
{
    wasm_extern *m = mem_of(p);
    uint64_t sz = m ? wasm_memory_size(m) : 0, pages[256], copied = 0;
    const uint8_t *live = m ? wasm_memory_data(m) : NULL;
    uint64_t old = p->shadow_len;
    if (sz > p->shadow_len) {
        uint8_t *n = realloc(p->shadow, sz);
        if (!n)
            return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        p->shadow = n;
        memcpy(p->shadow + old, live + old, sz - old);
        for (uint64_t i = old / PAGE; i < sz / PAGE; i++)
            if (bit_set(p, i))
                return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        p->shadow_len = sz;
        if (digest_grow(p, sz / PAGE))
            return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    size_t got;
    uint64_t from = 0;
    while ((got = wasm_instance_dirty_pages(p->inst, from, pages, 256)) > 0) {
        for (size_t i = 0; i < got; i++) {
            uint64_t pg = pages[i];
            if (pg * PAGE >= old)
                continue;                      /* new memory: copied above */
            memcpy(p->shadow + pg * PAGE, live + pg * PAGE, PAGE);
            digest_mark(p, pg);
            if (bit_set(p, pg))
                return aox_err_set(err, AOX_E_NOMEM, "out of memory");
            copied++;
        }
        from = pages[got - 1] + 1;
    }
    wasm_instance_mark_clean(p->inst);
    if (aos_fs_dirty(p->fs)) {
        aos_fs *c = aos_fs_clone(p->fs);
        if (!c)
            return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        aos_fs_free(p->fs_commit);
        p->fs_commit = c;
        aos_fs_clear_dirty(p->fs);
        p->fs_stale = 1;
    }
    p->temp_commit = p->host->temp_ret0;
    stat_add(&g_stats.pages_committed, copied);
    return take_undo(p, err);
}

/* Failed message or dry run: back to the committed state. */
static int rollback(aos_proc *p, aox_err *err)
{
    uint64_t *dirty = NULL, pages[256];
    size_t nd = 0, capd = 0, got;
    uint64_t from = 0, restored = 0;
    int rc = AOX_OK;
    while ((got = wasm_instance_dirty_pages(p->inst, from, pages, 256)) > 0) {
        if (nd + got > capd) {
            size_t nc = capd ? capd * 2 + got : 512 + got;
            uint64_t *n = realloc(dirty, nc * sizeof *n);
            if (!n) {
                rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
                goto done;
            }
            dirty = n;
            capd = nc;
        }
        memcpy(dirty + nd, pages, got * sizeof *pages);
        nd += got;
        from = pages[got - 1] + 1;
    }
    wasm_error werr;
    if (wasm_instance_restore(p->inst, p->undo, p->undo_len, &werr)) {
        rc = aox_err_set(err, AOX_E_INTERNAL, "rollback: %s", werr.message);
        goto done;
    }
    for (size_t i = 0; i < nd; i++) {
        if ((dirty[i] + 1) * PAGE > p->shadow_len)
            continue;
        if (wasm_instance_write_page(p->inst, dirty[i], p->shadow + dirty[i] * PAGE)) {
            rc = aox_err_set(err, AOX_E_INTERNAL, "rollback: cannot write page");
            goto done;
        }
        restored++;
    }
    wasm_instance_mark_clean(p->inst);
    if (aos_fs_dirty(p->fs)) {
        aos_fs *c = aos_fs_clone(p->fs_commit);
        if (!c) {
            rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
            goto done;
        }
        aos_fs_free(p->fs);
        p->fs = c;
        p->host->fs = c;
        aos_fs_clear_dirty(c);
    }
    p->host->temp_ret0 = p->temp_commit;
    stat_add(&g_stats.rollbacks, 1);
    stat_add(&g_stats.pages_restored, restored);
done:
    free(dirty);
    return rc;
}

/* Loads the module and instantiates it with the host functions; no constructors. */
static int instantiate(aos_proc *p, const aox_device_env *env, const aox_msg *def,
                       aox_err *err)
{
    wasm_imports *imps = NULL;
    int rc;
    const char *image = aox_msg_get_str(def, "image", NULL);
    if (!image)
        image = aox_msg_get_str(def, "module", NULL);
    if (!image || !aox_id_valid(image))
        return aox_err_set(err, AOX_E_INVALID, "process definition has no valid image");
    snprintf(p->image, sizeof p->image, "%s", image);
    snprintf(p->pid, sizeof p->pid, "%s", env->pid ? env->pid : "");
    p->store = env->store;
    size_t tl = 0;
    char *tags = module_tags(env->store, image, &tl);
    rc = configure(p, env, def, tags, tl, err);
    if (!rc) {
        p->jctx.pid = p->pid;
        p->jctx.module_id = p->image;
        aox_buf eb = {0};
        rc = aos_json_env(def, &p->jctx, tags, tl, &eb, err);
        p->env_json = (char *)aox_buf_steal(&eb, &p->env_len);
        if (!rc && !p->env_json)
            rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    free(tags);
    if (rc)
        return rc;
    if ((rc = mod_acquire(env->store, image, &p->mod, err)))
        return rc;
    if ((rc = aos_host_new(&p->host)))
        return aox_err_set(err, rc, "out of memory");
    p->host->fs = p->fs;
    p->host->store = env->store;
    p->host->max_bytes = p->mem_limit;
    if (wasm_imports_new(&imps))
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    rc = aos_host_link(p->host, p->mod->m, imps, err);
    if (!rc) {
        wasm_error werr;
        wasm_trap trap;
        memset(&werr, 0, sizeof werr);
        memset(&trap, 0, sizeof trap);
        int wrc = wasm_instance_new(p->mod->m, imps, &p->inst, &werr, &trap);
        if (wrc == WASM_ETRAP)
            rc = aox_err_set(err, AOX_E_INVALID, "module start trapped: %s", trap.message);
        else if (wrc)
            rc = aox_err_set(err, AOX_E_INVALID, "cannot instantiate module %s: %s", image,
                             werr.message);
    }
    wasm_imports_free(imps);
    if (rc)
        return rc;
    aos_host_bind(p->host, p->inst);
    if (p->format[0] && (p->format[4] == '6') != (p->host->is64 != 0))
        return aox_err_set(err, AOX_E_INVALID, "Module-Format %s does not match the module "
                           "(%s memory)", p->format, p->host->is64 ? "64-bit" : "32-bit");
    wasm_extern *m = mem_of(p);
    if (p->mem_limit) {
        uint64_t maxp = p->mem_limit / 65536;
        if (m && wasm_memory_size(m) > p->mem_limit)
            return aox_err_set(err, AOX_E_LIMIT, "module memory (%llu bytes) exceeds the "
                               "memory limit (%llu bytes)",
                               (unsigned long long)wasm_memory_size(m),
                               (unsigned long long)p->mem_limit);
        wasm_instance_set_max_pages(p->inst, maxp);
    }
    return AOX_OK;
}

static aos_proc *proc_new(void)
{
    aos_proc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->fs = aos_fs_new();
    p->fs_commit = aos_fs_new();
    if (!p->fs || !p->fs_commit) {
        proc_free(p);
        return NULL;
    }
    return p;
}

/* ------------------------------------------------------------------ device ops */

static int wasm_init(const aox_device_env *env, const aox_msg *def, void **state, aox_err *err)
{
    aos_proc *p = proc_new();
    int rc;
    if (!p)
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    if ((rc = instantiate(p, env, def, err)))
        goto fail;
    /* run the constructors like emscripten's runtime init */
    const char *ctor = aos_export(p->host, p->inst, "_initialize") ? "_initialize"
                     : aos_export(p->host, p->inst, "__wasm_call_ctors") ? "__wasm_call_ctors"
                     : NULL;
    wasm_trap trap;
    aos_host_begin(p->host, 0, p->pid, strlen(p->pid));
    wasm_instance_set_fuel(p->inst, (int64_t)p->compute_limit);
    if (ctor && aos_call_export(p->inst, aos_export(p->host, p->inst, ctor), NULL, 0, NULL,
                                &trap)) {
        rc = aox_err_set(err, AOX_E_INVALID, "module initialisation (%s) failed: %s",
                         ctor, trap.message);
        goto fail;
    }
    /* emscripten's glue runs main(0, 0) at start-up when the module has one */
    wasm_extern *fmain = aos_export(p->host, p->inst, "main");
    if (!fmain)
        fmain = aos_export(p->host, p->inst, "__main_argc_argv");
    if (fmain) {
        uint64_t args[2] = { 0, 0 };
        wasm_externtype mt;
        wasm_extern_type(fmain, &mt);
        int mrc = aos_call_export(p->inst, fmain, args, mt.func.nparams <= 2 ? mt.func.nparams : 0,
                                  NULL, &trap);
        if (mrc && !(p->host->unwind == AOS_UNWIND_EXIT && p->host->exit_code == 0)) {
            rc = aox_err_set(err, AOX_E_INVALID, "module main() failed: %s", trap.message);
            goto fail;
        }
    }
    /* files written by constructors or main() are part of the initial state */
    aos_fs *fc = aos_fs_clone(p->fs);
    if (!fc) {
        rc = AOX_E_NOMEM;
        goto fail;
    }
    aos_fs_free(p->fs_commit);
    p->fs_commit = fc;
    aos_fs_clear_dirty(p->fs);
    if ((rc = shadow_full(p)))
        goto fail;
    for (uint64_t i = 0; i < p->shadow_len / PAGE; i++)
        if ((rc = bit_set(p, i)))
            goto fail;
    if ((rc = digest_reset(p)))
        goto fail;
    p->temp_commit = p->host->temp_ret0;
    if ((rc = take_undo(p, err)))
        goto fail;
    *state = p;
    return AOX_OK;
fail:
    proc_free(p);
    if (rc == AOX_E_NOMEM)
        aox_err_set(err, rc, "out of memory");
    return rc;
}

/* Guest memory helpers for the JSON interface. */
/* Copies a string into the guest: malloc'd (freed after the call), or, for modules
 * without a free export (the legacy minified format), on the stack with stackAlloc
 * as emscripten's ccall does (the caller restores the stack pointer). */
static int put_string(aos_proc *p, const char *s, size_t n, uint64_t *ptr, wasm_trap *trap)
{
    uint64_t sz = n + 1, at = 0;
    wasm_extern *alloc = p->host->f_malloc;
    if (!p->host->f_free && aos_export(p->host, p->inst, "stackAlloc"))
        alloc = aos_export(p->host, p->inst, "stackAlloc");
    if (!alloc)
        return -1;
    int rc = aos_call_export(p->inst, alloc, &sz, 1, &at, trap);
    if (rc)
        return rc;
    wasm_extern *m = mem_of(p);
    if (!at || !m || wasm_memory_write(m, at, s, n) || wasm_memory_write(m, at + n, "", 1))
        return -1;
    *ptr = at;
    return 0;
}

static int read_cstring(aos_proc *p, uint64_t at, uint64_t max, aox_buf *out)
{
    wasm_extern *m = mem_of(p);
    if (!m || !at)
        return -1;
    uint64_t sz = wasm_memory_size(m);
    if (at >= sz)
        return -1;
    const uint8_t *d = wasm_memory_data(m) + at;
    uint64_t lim = sz - at;
    if (max && lim > max + 1)
        lim = max + 1;
    const uint8_t *z = memchr(d, 0, (size_t)lim);
    if (!z)
        return -2;
    return aox_buf_append(out, d, (size_t)(z - d)) ? -3 : 0;
}

/* Classifies a failed call into the result's error. */
static int set_failure(aos_proc *p, int wrc, const wasm_trap *trap, aox_msg *result)
{
    aos_host *h = p->host;
    if (h->unwind == AOS_UNWIND_GAS || trap->code == WASM_TRAP_OUT_OF_FUEL)
        return aox_result_set_error(result, AOX_E_OUT_OF_FUEL, "out of gas!");
    if (h->grow_refused)
        return aox_result_set_error(result, AOX_E_OUT_OF_MEMORY,
                                    "Cannot enlarge memory, requested %llu bytes, but the "
                                    "limit is %llu bytes!",
                                    (unsigned long long)h->grow_requested,
                                    (unsigned long long)p->mem_limit);
    wasm_stats st;
    wasm_instance_stats(p->inst, &st);
    if (st.grow_failures > p->grow_failures_before)
        return aox_result_set_error(result, AOX_E_OUT_OF_MEMORY,
                                    "Cannot enlarge memory beyond the limit of %llu bytes!",
                                    (unsigned long long)(p->mem_limit ? p->mem_limit
                                                         : (uint64_t)ENGINE_MAX_PAGES << 16));
    if (trap->code == WASM_TRAP_OUT_OF_MEMORY)
        return aox_result_set_error(result, AOX_E_OUT_OF_MEMORY, "%s", trap->message);
    if (h->unwind == AOS_UNWIND_EXIT)
        return aox_result_set_error(result, AOX_E_GUEST, "process exited with code %d",
                                    h->exit_code);
    if (h->unwind == AOS_UNWIND_ABORT)
        return aox_result_set_error(result, AOX_E_GUEST, "%s", h->abort_msg);
    if (wrc == WASM_EEXCEPTION)
        return aox_result_set_error(result, AOX_E_TRAP, "uncaught exception");
    return aox_result_set_error(result, AOX_E_TRAP, "%s",
                                trap->message[0] ? trap->message : "trap");
}

static int call_json(aos_proc *p, const aox_call *call, aox_msg *result, aox_err *err,
                     int *failed)
{
    aox_buf mj = {0}, out = {0};
    wasm_trap trap;
    uint64_t pm = 0, pe = 0, pr = 0, sp = 0;
    int rc, wrc;
    char hc[128] = "";
    memset(&trap, 0, sizeof trap);
    if (call->assignment && aox_msg_get_str(call->assignment, "hash-chain", NULL))
        snprintf(hc, sizeof hc, "%s", aox_msg_get_str(call->assignment, "hash-chain", NULL));
    p->jctx.timestamp = call->timestamp;
    p->jctx.block_height = call->block_height;
    p->jctx.hash_chain = hc[0] ? hc : NULL;
    /* Id as assigned: the message's aox ID for a scheduled message (the scheduler
     * records it), the client's Id for a dry run */
    p->jctx.id = call->assignment ? aox_msg_get_str(call->assignment, "message-id", NULL)
                                  : NULL;
    if (p->jctx.id && !aox_utf8_valid(p->jctx.id, strlen(p->jctx.id)))
        p->jctx.id = NULL;
    rc = aos_json_message(call->message, &p->jctx, &mj, err);
    p->jctx.id = NULL;
    if (rc)
        goto done;
    if (call->limits && call->limits->message_bytes && mj.len > call->limits->message_bytes) {
        rc = aox_result_set_error(result, AOX_E_LIMIT, "message too large (%zu bytes)", mj.len);
        *failed = 1;
        goto done;
    }
    if (!p->host->f_free && p->host->f_stack_save)
        aos_call_export(p->inst, p->host->f_stack_save, NULL, 0, &sp, &trap);
    if ((wrc = put_string(p, (const char *)mj.data, mj.len, &pm, &trap)) ||
        (wrc = put_string(p, p->env_json, p->env_len, &pe, &trap))) {
        if (wrc < 0)
            rc = aox_result_set_error(result, AOX_E_OUT_OF_MEMORY,
                                      p->host->f_malloc ? "malloc failed for the message"
                                                        : "module exports no malloc");
        else
            rc = set_failure(p, wrc, &trap, result);
        *failed = 1;
        goto done;
    }
    wasm_extern *f = aos_export(p->host, p->inst, p->function);
    if (!f) {
        rc = aox_result_set_error(result, AOX_E_GUEST, "module exports no function '%s'",
                                  p->function);
        *failed = 1;
        goto done;
    }
    uint64_t args[2] = { pm, pe };
    wrc = aos_call_export(p->inst, f, args, 2, &pr, &trap);
    if (wrc == WASM_EINVAL) {
        rc = aox_result_set_error(result, AOX_E_GUEST, "'%s' is not handle(msg, env) -> ptr",
                                  p->function);
        *failed = 1;
        goto done;
    }
    if (wrc) {
        rc = set_failure(p, wrc, &trap, result);
        *failed = 1;
        goto done;
    }
    uint64_t max = call->limits ? call->limits->result_bytes : 0;
    int r = read_cstring(p, pr, max, &out);
    if (r) {
        rc = r == -3 ? AOX_E_NOMEM
             : aox_result_set_error(result, r == -2 ? AOX_E_LIMIT : AOX_E_GUEST,
                                    r == -2 ? "result too large or not NUL-terminated"
                                            : "handle returned an invalid pointer");
        *failed = rc != AOX_E_NOMEM;
        goto done;
    }
    rc = aos_json_result((const char *)out.data, out.len, &p->jctx, result);
    if (!rc && aox_result_is_error(result))
        *failed = 1;
    /* free the argument strings (the result string belongs to the module) */
    if (!*failed && p->host->f_free) {
        aos_call_export(p->inst, p->host->f_free, &pm, 1, NULL, &trap);
        aos_call_export(p->inst, p->host->f_free, &pe, 1, NULL, &trap);
    } else if (!*failed && sp && p->host->f_stack_restore) {
        aos_call_export(p->inst, p->host->f_stack_restore, &sp, 1, NULL, &trap);
    }
done:
    aox_buf_free(&mj);
    aox_buf_free(&out);
    return rc;
}

/* Raw mode: call `function` with the message's `parameters` (a list of integers). */
static int call_raw(aos_proc *p, const aox_call *call, aox_msg *result, int *failed)
{
    wasm_extern *f = aos_export(p->host, p->inst, p->function);
    wasm_trap trap;
    memset(&trap, 0, sizeof trap);
    if (!f) {
        *failed = 1;
        return aox_result_set_error(result, AOX_E_GUEST, "module exports no function '%s'",
                                    p->function);
    }
    wasm_externtype t;
    wasm_extern_type(f, &t);
    wasm_val av[16], rv[8];
    if (t.func.nparams > 16 || t.func.nresults > 8) {
        *failed = 1;
        return aox_result_set_error(result, AOX_E_GUEST, "'%s' has too many values", p->function);
    }
    const aox_value *params = aox_msg_get(call->message, "parameters");
    for (uint32_t i = 0; i < t.func.nparams; i++) {
        int64_t v = 0;
        if (params && params->type == AOX_V_LIST && i < params->u.list.len &&
            params->u.list.items[i].type == AOX_V_INT)
            v = params->u.list.items[i].u.i;
        av[i].type = t.func.params[i];
        switch (av[i].type) {
        case WASM_I64: av[i].of.i64 = v; break;
        case WASM_F64: av[i].of.f64 = (double)v; break;
        case WASM_F32: av[i].of.f32 = (float)v; break;
        default: av[i].of.i32 = (int32_t)v; break;
        }
    }
    int wrc = wasm_instance_call(p->inst, f, av, t.func.nparams, rv, t.func.nresults, &trap);
    if (wrc == WASM_ETRAP && p->host->unwind == AOS_UNWIND_EXIT && p->host->exit_code == 0)
        wrc = 0;                                 /* exit(0): a clean end */
    if (wrc) {
        *failed = 1;
        return set_failure(p, wrc, &trap, result);
    }
    for (uint32_t i = 0; i < t.func.nresults; i++) {
        aox_value v;
        memset(&v, 0, sizeof v);
        if (rv[i].type == WASM_I32) { v.type = AOX_V_INT; v.u.i = rv[i].of.i32; }
        else if (rv[i].type == WASM_I64) { v.type = AOX_V_INT; v.u.i = rv[i].of.i64; }
        else if (rv[i].type == WASM_F64) { v.type = AOX_V_FLOAT; v.u.f = rv[i].of.f64; }
        else if (rv[i].type == WASM_F32) { v.type = AOX_V_FLOAT; v.u.f = rv[i].of.f32; }
        else continue;
        int rc = aox_msg_list_append(result, "results", &v);
        if (rc)
            return rc;
    }
    const aox_buf *o = aos_fs_capture(p->fs, 1);
    return aox_msg_set_bytes(result, "output", o->data ? (const char *)o->data : "", o->len);
}

static int wasm_compute(void *state, const aox_call *call, aox_msg *result, aox_err *err)
{
    aos_proc *p = state;
    int rc, failed = 0;
    if (call->stack && call->pass != 0)
        return AOX_OK;                         /* the work is done on the first pass */
    char idbuf[AOX_ID_LEN + 1];
    const char *mid = call->assignment ? aox_msg_get_str(call->assignment, "message-id", NULL)
                                       : NULL;
    if (!mid) {
        if (aox_msg_id(call->message, idbuf))
            return aox_err_set(err, AOX_E_INVALID, "cannot compute the message id");
        mid = idbuf;
    }
    aos_host_begin(p->host, call->timestamp, mid, strlen(mid));
    p->host->gas_limit = p->metering ? p->compute_limit : 0;
    aos_fs_reset_capture(p->fs);
    wasm_instance_set_fuel(p->inst, (int64_t)p->compute_limit);
    wasm_instance_clear_interrupt(p->inst);
    wasm_stats st0;
    wasm_instance_stats(p->inst, &st0);
    p->grow_failures_before = st0.grow_failures;
    watch_ent watch;
    watch_begin(&watch, call->interrupt, p->inst);
    if (p->json)
        rc = call_json(p, call, result, err, &failed);
    else
        rc = call_raw(p, call, result, &failed);
    watch_end(&watch);
    if (!rc && failed && call->interrupt && atomic_load(call->interrupt)) {
        /* past the wall-clock limit: not deterministic, so a node fault, not a result */
        rc = aox_err_set(err, AOX_E_TIMEOUT, "message ran past its wall-clock limit");
        goto fault;
    }
    if (rc)
        goto fault;
    int64_t left = wasm_instance_fuel(p->inst);
    uint64_t used = left < 0 ? p->compute_limit
                  : (uint64_t)left > p->compute_limit ? 0 : p->compute_limit - (uint64_t)left;
    if ((rc = aox_msg_set_int(result, "gas", (int64_t)(p->metering ? p->host->gas_used : used))))
        goto fault;
    const aox_buf *so = aos_fs_capture(p->fs, 1), *se = aos_fs_capture(p->fs, 2);
    if (p->json && so->len && (rc = aox_msg_set_bytes(result, "stdout", so->data, so->len)))
        goto fault;
    if (se->len && (rc = aox_msg_set_bytes(result, "stderr", se->data, se->len)))
        goto fault;
    if (failed || call->dry_run)
        rc = rollback(p, err);
    else
        rc = commit(p, err);
    return rc;
fault:
    /* a node fault: bring the instance back anyway so the state stays usable */
    rollback(p, NULL);
    if (rc == AOX_E_NOMEM)
        aox_err_set(err, rc, "out of memory");
    else if (err && !err->code)
        aox_err_set(err, rc, "wasm compute failed");
    return rc;
}

static int wasm_snapshot(void *state, aox_snap_writer *w, aox_err *err)
{
    aos_proc *p = state;
    aox_buf meta = {0};
    int rc = aox_buf_append(&meta, META_MAGIC, 4);
    aox_buf fsb = {0};
    rc = rc ? rc : aos_fs_encode(p->fs_commit, &fsb);
    rc = rc ? rc : aox_buf_append_uleb(&meta, fsb.len);
    rc = rc ? rc : aox_buf_append(&meta, fsb.data, fsb.len);
    rc = rc ? rc : aox_buf_append_uleb(&meta, (uint32_t)p->temp_commit);
    rc = rc ? rc : aox_buf_append_uleb(&meta, p->shadow_len);
    rc = rc ? rc : aox_buf_append_uleb(&meta, p->undo_len);
    rc = rc ? rc : aox_buf_append(&meta, p->undo, p->undo_len);
    rc = rc ? rc : aox_snap_write_meta(w, meta.data, meta.len);
    aox_buf_free(&meta);
    aox_buf_free(&fsb);
    if (rc)
        return aox_err_set(err, rc, "snapshot: cannot write meta");
    /* All-zero pages are left out (a missing page reads back as zeros): an unchanged
     * page the base does not hold was zero there and still is. */
    int base = aox_snap_has_base(w);
    for (uint64_t i = 0; i < p->shadow_len / PAGE; i++) {
        if (base && !bit_get(p, i)) {
            rc = aox_snap_keep_page(w, i);
            if (rc == AOX_OK || rc == AOX_E_NOT_FOUND)
                continue;
            return aox_err_set(err, rc, "snapshot: cannot keep page %llu",
                               (unsigned long long)i);
        }
        if (page_is_zero(p->shadow + i * PAGE))
            continue;
        if ((rc = aox_snap_write_page(w, i, p->shadow + i * PAGE, PAGE)))
            return aox_err_set(err, rc, "snapshot: cannot write page %llu",
                               (unsigned long long)i);
    }
    memset(p->snap_dirty, 0, p->snap_bits / 8);
    return AOX_OK;
}

static int get_uleb(const uint8_t **q, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned s = 0; s < 64; s += 7) {
        if (*q >= end)
            return -1;
        uint8_t b = *(*q)++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int aox_aos_snapshot_memory(const uint8_t *meta, size_t n, uint64_t *memory_bytes,
                            uint32_t *page_size)
{
    const uint8_t *q = meta, *end = meta + n;
    uint64_t fsl, tr, memlen;
    if (!meta || n < 4 || memcmp(q, META_MAGIC, 4) != 0)
        return AOX_E_CORRUPT;
    q += 4;
    if (get_uleb(&q, end, &fsl) || fsl > (uint64_t)(end - q))
        return AOX_E_CORRUPT;
    q += fsl;
    if (get_uleb(&q, end, &tr) || get_uleb(&q, end, &memlen))
        return AOX_E_CORRUPT;
    *memory_bytes = memlen;
    *page_size = PAGE;
    return AOX_OK;
}

static int wasm_restore(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                        void **state, aox_err *err)
{
    const uint8_t *meta, *q, *end;
    size_t mlen;
    uint64_t fsl, tr, memlen, ul;
    int rc;
    aos_proc *p = proc_new();
    aox_buf page = {0};
    if (!p)
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    if ((rc = aox_snap_read_meta(r, &meta, &mlen)))
        goto fail;
    q = meta;
    end = meta + mlen;
    if (mlen < 4 || memcmp(q, META_MAGIC, 4) != 0 || (q += 4, get_uleb(&q, end, &fsl)) ||
        fsl > (uint64_t)(end - q)) {
        rc = aox_err_set(err, AOX_E_CORRUPT, "wasm snapshot: bad meta");
        goto fail;
    }
    aos_fs_free(p->fs);
    aos_fs_free(p->fs_commit);
    p->fs = aos_fs_decode(q, fsl);
    p->fs_commit = aos_fs_decode(q, fsl);
    q += fsl;
    if (!p->fs || !p->fs_commit || get_uleb(&q, end, &tr) || get_uleb(&q, end, &memlen) ||
        get_uleb(&q, end, &ul) || ul != (uint64_t)(end - q)) {
        rc = aox_err_set(err, AOX_E_CORRUPT, "wasm snapshot: bad meta");
        goto fail;
    }
    if ((rc = instantiate(p, env, def, err)))
        goto fail;
    wasm_error werr;
    if (wasm_instance_restore(p->inst, q, ul, &werr)) {
        rc = aox_err_set(err, AOX_E_CORRUPT, "wasm snapshot: %s", werr.message);
        goto fail;
    }
    p->host->temp_ret0 = (int32_t)(uint32_t)tr;
    p->temp_commit = p->host->temp_ret0;
    wasm_extern *m = mem_of(p);
    if ((m ? wasm_memory_size(m) : 0) != memlen) {
        rc = aox_err_set(err, AOX_E_CORRUPT, "wasm snapshot: memory size mismatch");
        goto fail;
    }
    static const uint8_t zero[PAGE];
    for (uint64_t i = 0; i < memlen / PAGE; i++) {
        rc = aox_snap_read_page(r, i, &page);
        if (rc == AOX_E_NOT_FOUND)
            rc = wasm_instance_write_page(p->inst, i, zero) ? AOX_E_INTERNAL : AOX_OK;
        else if (!rc && page.len != PAGE)
            rc = AOX_E_CORRUPT;
        else if (!rc)
            rc = wasm_instance_write_page(p->inst, i, page.data) ? AOX_E_INTERNAL : AOX_OK;
        if (rc) {
            aox_err_set(err, rc, "wasm snapshot: cannot restore page %llu",
                        (unsigned long long)i);
            goto fail;
        }
    }
    if ((rc = shadow_full(p)) || (rc = take_undo(p, err)) || (rc = digest_reset(p)))
        goto fail;
    aox_buf_free(&page);
    *state = p;
    return AOX_OK;
fail:
    aox_buf_free(&page);
    proc_free(p);
    if (err && !err->code)
        aox_err_set(err, rc, "wasm restore failed");
    return rc;
}

static uint64_t wasm_memory_use(void *state)
{
    aos_proc *p = state;
    wasm_extern *m = mem_of(p);
    return (m ? wasm_memory_size(m) : 0) + p->shadow_len +
           (p->ndl ? p->dl[0].n * 33 : 0);
}

/* ------------------------------------------------------------------ markers */

static int marker_init(const aox_device_env *env, const aox_msg *def, void **state,
                       aox_err *err)
{
    *state = malloc(1);
    return *state ? AOX_OK : aox_err_set(err, AOX_E_NOMEM, "out of memory");
}

static int marker_compute(void *state, const aox_call *call, aox_msg *result, aox_err *err)
{
    return AOX_OK;
}

static int marker_snapshot(void *state, aox_snap_writer *w, aox_err *err)
{
    return AOX_OK;
}

static int marker_restore(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                          void **state, aox_err *err)
{
    return marker_init(env, def, state, err);
}

static void marker_free(void *state)
{
    free(state);
}

/* Boot: a process that runs the aos JSON interface gets its own Process message
 * through handle() at slot 0, as the legacy compute unit (the spawn message is the
 * first message it evaluates) and HyperBEAM (slot 0 computed through the stack) do.
 * Raw calls (a stack without json-iface@1.0) keep slot 0 as init only. */
static int wasm_boot(const aox_msg *def)
{
    const char *dev = aox_device_name_of(def);
    const aox_value *l;
    if (!dev || strcmp(dev, "stack@1.0") != 0)
        return 1;
    l = aox_msg_get(def, "device-stack");
    for (size_t i = 0; l && l->type == AOX_V_LIST && i < l->u.list.len; i++) {
        const aox_value *v = &l->u.list.items[i];
        if (v->type == AOX_V_BYTES && strcmp((const char *)v->u.bytes.ptr, AOX_AOS_DEV_JSON) == 0)
            return 1;
    }
    return 0;
}

#define WASM_OPS(n) { .name = n, .init = wasm_init, .compute = wasm_compute,            \
                      .snapshot = wasm_snapshot, .restore = wasm_restore, .free = proc_free, \
                      .memory = wasm_memory_use, .digest = wasm_digest, .boot = wasm_boot }
#define MARKER_OPS(n) { .name = n, .init = marker_init, .compute = marker_compute,      \
                        .snapshot = marker_snapshot, .restore = marker_restore,           \
                        .free = marker_free, .memory = NULL, .digest = NULL, .boot = NULL }

static const aox_device_ops dev_wasm32 = WASM_OPS(AOX_AOS_DEV_WASM32);
static const aox_device_ops dev_wasm64 = WASM_OPS(AOX_AOS_DEV_WASM64);
static const aox_device_ops dev_json = MARKER_OPS(AOX_AOS_DEV_JSON);
static const aox_device_ops dev_wasi = MARKER_OPS(AOX_AOS_DEV_WASI);

int aox_aos_register_devices(void)
{
    const aox_device_ops *all[] = { &dev_wasm32, &dev_wasm64, &dev_json, &dev_wasi };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        const aox_device_ops *have = aox_device_find(all[i]->name);
        if (have == all[i])
            continue;                          /* already registered by us */
        if (have) {
            if (i < 2)
                return AOX_E_CONFLICT;         /* someone else owns a wasm name */
            continue;                          /* a real marker device exists: fine */
        }
        int rc = aox_device_register(all[i]);
        if (rc && rc != AOX_E_CONFLICT)
            return rc;
    }
    return AOX_OK;
}
