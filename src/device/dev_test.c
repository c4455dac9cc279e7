/*
 * device/dev_test.c: test-counter@1.0, a tiny deterministic device so the process
 * layer can be tested (and the node demoed) without a real VM.
 *
 * State: a signed counter, the number of messages applied, a running SHA-256 fold
 * of what was applied, and optionally `pages` (definition entry, 0..64) pages of
 * TC_PAGE bytes that each applied message scribbles on, to exercise the snapshot
 * page path (dirty pages are written, clean ones kept from the base snapshot).
 *
 * Each message (the assignment's body):
 *   action (entry, or tag `Action` in `tags`):
 *     absent / other  add `value` (entry, or tag `Value`; default 0) to the counter
 *     "fail"          guest error (guest_error); state unchanged
 *     "trap"          guest error (trap);          "out-of-fuel", "out-of-memory" alike
 *     "big"           like an add, and the output carries `blob`: `size` bytes
 *                     (default 256 KiB, at most 64 MiB); over limits.result_bytes it is a
 *                     guest error (limit_exceeded) instead
 *     "node-fault"    returns AOX_E_IO: a node fault, for tests of that path only
 *     "spin"          busy-waits until call->interrupt is set, then AOX_E_TIMEOUT (node
 *                     fault); a guest error (limit_exceeded) when there is no wall limit
 *   result: output = {counter, seen, slot, timestamp}, gas = 1
 *
 *   fold' = SHA-256(fold || message-id digest || be64(slot))      (fold0 = SHA-256(pid))
 *
 * Boot (opt-in, for tests of the process layer's slot 0 and of delegation): with
 * the definition entry `boot: 1` the device's boot op says yes, so slot 0 computes
 * the definition itself as a message (its `value`, `action`, ... apply) after init.
 * Without it (or any other value) slot 0 is init only.
 *
 * Snapshot meta (version 1): 'T' 1 be64(counter) be64(seen) fold[32] be32(npages).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/id.h"
#include "device/device.h"
#include "device/device_int.h"
#include "device/isolate.h"
#include <sys/socket.h>
#include <unistd.h>

#define TC_PAGE        256            /* bytes per state page */
#define TC_PAGES_MAX   64
#define TC_META_LEN    (2 + 8 + 8 + AOX_HASH_LEN + 4)
#define TC_BIG_DEFAULT (256u * 1024u)
#define TC_BIG_MAX     (64u * 1024u * 1024u)

typedef struct tc_state {
    int64_t  counter;
    uint64_t seen;                     /* messages applied */
    uint8_t  fold[AOX_HASH_LEN];
    uint32_t npages;
    uint8_t *pages;                    /* npages * TC_PAGE */
    uint8_t *dirty;                    /* per page: changed since last snapshot/restore */
} tc_state;

static void tc_free(void *s)
{
    tc_state *st = s;
    if (!st)
        return;
    free(st->pages);
    free(st->dirty);
    free(st);
}

static int tc_alloc(uint32_t npages, tc_state **out)
{
    tc_state *st = calloc(1, sizeof *st);
    *out = NULL;
    if (!st)
        return AOX_E_NOMEM;
    st->npages = npages;
    if (npages) {
        st->pages = calloc(npages, TC_PAGE);
        st->dirty = calloc(npages, 1);
        if (!st->pages || !st->dirty) {
            tc_free(st);
            return AOX_E_NOMEM;
        }
    }
    *out = st;
    return AOX_OK;
}

static int tc_init(const aox_device_env *env, const aox_msg *def, void **state, aox_err *err)
{
    int64_t npages = 0, initial = 0;
    tc_state *st;
    int rc;

    *state = NULL;
    rc = aox_msg_get_int(def, "pages", &npages);
    if (rc == AOX_E_NOT_FOUND)
        npages = 0;
    else if (rc || npages < 0 || npages > TC_PAGES_MAX)
        return aox_err_set(err, AOX_E_INVALID, "test-counter: pages must be 0..%d",
                           TC_PAGES_MAX);
    rc = aox_msg_get_int(def, "initial", &initial);
    if (rc == AOX_E_NOT_FOUND)
        initial = 0;
    else if (rc)
        return aox_err_set(err, AOX_E_INVALID, "test-counter: initial must be an integer");
    rc = tc_alloc((uint32_t)npages, &st);
    if (rc)
        return aox_err_set(err, rc, "test-counter: out of memory");
    st->counter = initial;
    aox_sha256(env->pid, strlen(env->pid), st->fold);
    for (uint32_t i = 0; i < st->npages; i++)
        st->dirty[i] = 1;
    *state = st;
    return AOX_OK;
}

/* The entry `key`, else the value of the tag named `key` in `tags`. */
static const aox_value *find_input(const aox_msg *m, const char *key)
{
    const aox_value *v = aox_msg_get(m, key), *tags;
    if (v)
        return v;
    tags = aox_msg_get(m, "tags");
    if (!tags || tags->type != AOX_V_LIST)
        return NULL;
    for (size_t i = 0; i < tags->u.list.len; i++) {
        const aox_value *t = &tags->u.list.items[i];
        const char *name;
        if (t->type != AOX_V_MSG)
            continue;
        name = aox_msg_get_str(t->u.msg, "name", NULL);
        if (name && strcasecmp(name, key) == 0)
            return aox_msg_get(t->u.msg, "value");
    }
    return NULL;
}

static int value_as_int(const aox_value *v, int64_t *out)
{
    aox_msg *tmp;
    int rc;
    if (!v) {
        *out = 0;
        return AOX_OK;
    }
    if (v->type == AOX_V_INT) {
        *out = v->u.i;
        return AOX_OK;
    }
    /* reuse the message layer's decimal parsing for bytes */
    tmp = aox_msg_new();
    if (!tmp)
        return AOX_E_NOMEM;
    rc = aox_msg_set_value(tmp, "v", v);
    if (!rc)
        rc = aox_msg_get_int(tmp, "v", out);
    aox_msg_free(tmp);
    return rc;
}

static int tc_compute(void *s, const aox_call *call, aox_msg *result, aox_err *err)
{
    tc_state *st = s;
    const aox_value *av = find_input(call->message, "action");
    const char *action = av && av->type == AOX_V_BYTES ? (const char *)av->u.bytes.ptr : "";
    const char *mid;
    uint8_t idh[AOX_HASH_LEN], buf[AOX_HASH_LEN * 2 + 8], fold[AOX_HASH_LEN];
    char idbuf[AOX_ID_LEN + 1];
    int64_t value, size = TC_BIG_DEFAULT, counter;
    aox_msg *out = NULL;
    int rc, big = 0;

    if (strcmp(action, "fail") == 0)
        return aox_result_set_error(result, AOX_E_GUEST, "test-counter: asked to fail");
    if (strcmp(action, "trap") == 0)
        return aox_result_set_error(result, AOX_E_TRAP, "test-counter: asked to trap");
    if (strcmp(action, "out-of-fuel") == 0)
        return aox_result_set_error(result, AOX_E_OUT_OF_FUEL, "test-counter: out of fuel");
    if (strcmp(action, "out-of-memory") == 0)
        return aox_result_set_error(result, AOX_E_OUT_OF_MEMORY,
                                    "test-counter: out of memory");
    /* Test-only, and only inside an isolated worker (device/isolate.h) where they
     * take down one worker process, not the node: "crash" aborts, "forbidden-syscall"
     * opens a network socket (the seccomp filter kills the worker). Elsewhere, or
     * when the socket opens (no filter): a guest error. */
    if (strcmp(action, "crash") == 0 || strcmp(action, "forbidden-syscall") == 0) {
        if (!aox_isolate_in_worker())
            return aox_result_set_error(result, AOX_E_GUEST, "test-counter: %s needs "
                                        "--isolation=process", action);
        if (action[0] == 'c') abort();
        {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd >= 0) close(fd);
            return aox_result_set_error(result, AOX_E_GUEST, "test-counter: the worker "
                                        "could open a socket (fd %d)", fd);
        }
    }
    if (strcmp(action, "node-fault") == 0)
        return aox_err_set(err, AOX_E_IO, "test-counter: injected node fault");
    if (strcmp(action, "spin") == 0) {
        /* busy until the host interrupts (wall-clock limit): a node fault, since
         * wall time is not deterministic; without a limit, a deterministic error */
        if (!call->interrupt || !call->limits || !call->limits->wall_ms)
            return aox_result_set_error(result, AOX_E_LIMIT,
                                        "test-counter: spin needs a wall-clock limit");
        while (!atomic_load(call->interrupt))
            ;
        return aox_err_set(err, AOX_E_TIMEOUT, "test-counter: interrupted after %llu ms",
                           (unsigned long long)call->limits->wall_ms);
    }
    if (value_as_int(find_input(call->message, "value"), &value))
        return aox_result_set_error(result, AOX_E_GUEST, "test-counter: value is not an integer");
    if (strcmp(action, "big") == 0) {
        if (value_as_int(find_input(call->message, "size"), &size) || size < 0 ||
            size > (int64_t)TC_BIG_MAX)
            return aox_result_set_error(result, AOX_E_GUEST, "test-counter: bad size");
        if (call->limits && call->limits->result_bytes &&
            (uint64_t)size > call->limits->result_bytes)
            return aox_result_set_error(result, AOX_E_LIMIT,
                                        "test-counter: output of %lld bytes exceeds the "
                                        "result limit", (long long)size);
        big = 1;
    }

    /* the new values, committed to the state only at the end (rollback = no-op) */
    counter = (int64_t)((uint64_t)st->counter + (uint64_t)value);
    mid = aox_msg_get_str(call->assignment, "message-id", NULL);
    if (!mid || aox_id_to_hash(mid, idh)) {
        if (aox_msg_id(call->message, idbuf))
            return aox_err_set(err, AOX_E_NOMEM, "test-counter: out of memory");
        if (aox_id_to_hash(idbuf, idh))
            memset(idh, 0, sizeof idh);
    }
    memcpy(buf, st->fold, AOX_HASH_LEN);
    memcpy(buf + AOX_HASH_LEN, idh, AOX_HASH_LEN);
    aox_be_put(buf + 2 * AOX_HASH_LEN, call->slot, 8);
    aox_sha256(buf, sizeof buf, fold);

    out = aox_msg_new();
    if (!out)
        return aox_err_set(err, AOX_E_NOMEM, "test-counter: out of memory");
    rc = aox_msg_set_int(out, "counter", counter);
    if (!rc) rc = aox_msg_set_int(out, "seen", (int64_t)(st->seen + 1));
    if (!rc) rc = aox_msg_set_int(out, "slot", (int64_t)call->slot);
    if (!rc) rc = aox_msg_set_int(out, "timestamp", call->timestamp);
    if (!rc && big) {
        uint8_t *blob = malloc(size ? (size_t)size : 1);
        if (!blob) {
            rc = AOX_E_NOMEM;
        } else {
            for (int64_t i = 0; i < size; i++)
                blob[i] = fold[i % AOX_HASH_LEN];
            rc = aox_msg_set_bytes(out, "blob", blob, (size_t)size);
            free(blob);
        }
    }
    if (rc) {
        aox_msg_free(out);
        return aox_err_set(err, rc, "test-counter: out of memory");
    }
    rc = aox_msg_take_msg(result, "output", out);
    if (!rc)
        rc = aox_msg_set_int(result, "gas", 1);
    if (rc)
        return aox_err_set(err, rc, "test-counter: out of memory");

    if (!call->dry_run) {
        st->counter = counter;
        st->seen++;
        memcpy(st->fold, fold, AOX_HASH_LEN);
        if (st->npages) {
            uint32_t pg = (uint32_t)(st->seen % st->npages);
            size_t off = (size_t)((st->seen * AOX_HASH_LEN) % TC_PAGE);
            memcpy(st->pages + (size_t)pg * TC_PAGE + off, fold, AOX_HASH_LEN);
            st->dirty[pg] = 1;
        }
    }
    return AOX_OK;
}

static void tc_meta(const tc_state *st, uint8_t meta[TC_META_LEN])
{
    meta[0] = 'T';
    meta[1] = 1;
    aox_be_put(meta + 2, (uint64_t)st->counter, 8);
    aox_be_put(meta + 10, st->seen, 8);
    memcpy(meta + 18, st->fold, AOX_HASH_LEN);
    meta[50] = (uint8_t)(st->npages >> 24);
    meta[51] = (uint8_t)(st->npages >> 16);
    meta[52] = (uint8_t)(st->npages >> 8);
    meta[53] = (uint8_t)st->npages;
}

static int tc_snapshot(void *s, aox_snap_writer *w, aox_err *err)
{
    tc_state *st = s;
    uint8_t meta[TC_META_LEN];
    int rc;

    tc_meta(st, meta);
    rc = aox_snap_write_meta(w, meta, sizeof meta);
    for (uint32_t i = 0; !rc && i < st->npages; i++) {
        rc = AOX_E_NOT_FOUND;
        if (!st->dirty[i])
            rc = aox_snap_keep_page(w, i);
        if (rc == AOX_E_NOT_FOUND)
            rc = aox_snap_write_page(w, i, st->pages + (size_t)i * TC_PAGE, TC_PAGE);
    }
    if (rc)
        return aox_err_set(err, rc, "test-counter: snapshot failed");
    /* Clean relative to the snapshot just written, which the host will pass as the
     * base of the next one. */
    if (st->npages)
        memset(st->dirty, 0, st->npages);
    return AOX_OK;
}

static int tc_restore(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                      void **state, aox_err *err)
{
    const uint8_t *meta;
    size_t n;
    uint32_t npages;
    tc_state *st = NULL;
    aox_buf page = {0};
    int rc;

    *state = NULL;
    aox_snap_read_meta(r, &meta, &n);
    if (n != TC_META_LEN || meta[0] != 'T' || meta[1] != 1)
        return aox_err_set(err, AOX_E_CORRUPT, "test-counter: bad snapshot meta");
    npages = (uint32_t)meta[50] << 24 | (uint32_t)meta[51] << 16 |
             (uint32_t)meta[52] << 8 | meta[53];
    if (npages > TC_PAGES_MAX)
        return aox_err_set(err, AOX_E_CORRUPT, "test-counter: bad page count");
    rc = tc_alloc(npages, &st);
    if (rc)
        return aox_err_set(err, rc, "test-counter: out of memory");
    st->counter = (int64_t)aox_be_get(meta + 2, 8);
    st->seen = aox_be_get(meta + 10, 8);
    memcpy(st->fold, meta + 18, AOX_HASH_LEN);
    for (uint32_t i = 0; i < npages; i++) {
        rc = aox_snap_read_page(r, i, &page);
        if (rc == AOX_E_NOT_FOUND)
            continue;                                  /* never written: zero */
        if (rc == AOX_OK && page.len != TC_PAGE)
            rc = AOX_E_CORRUPT;
        if (rc) {
            aox_buf_free(&page);
            tc_free(st);
            return aox_err_set(err, rc, "test-counter: cannot read page %u", i);
        }
        memcpy(st->pages + (size_t)i * TC_PAGE, page.data, TC_PAGE);
    }
    aox_buf_free(&page);
    *state = st;
    return AOX_OK;
}

static uint64_t tc_memory(void *s)
{
    tc_state *st = s;
    return sizeof *st + (uint64_t)st->npages * (TC_PAGE + 1);
}

static int tc_digest(void *s, uint8_t out[32])
{
    tc_state *st = s;
    uint8_t meta[TC_META_LEN];
    tc_meta(st, meta);
    if (!st->npages) {
        aox_sha256(meta, sizeof meta, out);
    } else {
        uint8_t ph[AOX_HASH_LEN];
        aox_sha256(st->pages, (size_t)st->npages * TC_PAGE, ph);
        aox_sha256_2(meta, sizeof meta, ph, sizeof ph, out);
    }
    return AOX_OK;
}

static int tc_boot(const aox_msg *def)
{
    int64_t b = 0;
    return aox_msg_get_int(def, "boot", &b) == AOX_OK && b == 1;
}

const aox_device_ops aox_test_counter_device = {
    .name = "test-counter@1.0",
    .init = tc_init,
    .compute = tc_compute,
    .snapshot = tc_snapshot,
    .restore = tc_restore,
    .free = tc_free,
    .memory = tc_memory,
    .digest = tc_digest,
    .boot = tc_boot,
};
