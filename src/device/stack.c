/*
 * device/stack.c: stack@1.0 runs a list of devices for every call.
 *
 * Definition: `device-stack` = list of device names (1..16, no nested stack@1.0),
 * `passes` = int 1..16 (default 1). Every sub-device gets the same definition and
 * the same env at init/restore. compute runs, for pass = 0..passes-1, every device in
 * list order on the same result message, with call->stack set (so a device can find
 * a sibling's state with aox_stack_sibling) and call->pass = pass.
 *
 * Failure: a node fault (non-OK) from any device is returned at once. A guest failure
 * (the result gained an `error`) stops the call: later devices and passes do not run.
 * The failing device rolled itself back, but devices that ran earlier in the same call
 * may have changed their state; the stack cannot undo that, so it marks the result
 * AOX_RESULT_STATE_LOST and the process layer rebuilds the state before the slot
 * (snapshot + replay, where failed slots are skipped). A failure at the very first
 * position needs no marker.
 *
 * Snapshot: the stack's meta nests every sub-device's meta, and each sub-device's
 * pages live in its own namespace of page indices (device_int.h):
 *
 *   meta := 'S' u8(1) uleb(n) { uleb(name_len) name uleb(meta_len) meta }*
 *   page index of sub-device i, page j  =  (i << 48) | j
 */
#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "device/device.h"
#include "device/device_int.h"

#define STACK_MAX   16
#define PASSES_MAX  16

typedef struct stack_state {
    size_t                n;
    unsigned              passes;
    const aox_device_ops *ops[STACK_MAX];
    void                 *states[STACK_MAX];
} stack_state;

struct aox_stack_frame {
    const stack_state *st;
};

/* Reads device-stack and passes. ops[] filled; err names the offending device. */
static int parse_def(const aox_msg *def, const aox_device_ops **ops, size_t *n,
                     unsigned *passes, aox_err *err)
{
    const aox_value *list = aox_msg_get(def, "device-stack");
    int64_t p = 1;
    int rc;

    if (!list || list->type != AOX_V_LIST || list->u.list.len == 0)
        return aox_err_set(err, AOX_E_INVALID,
                           "stack@1.0: device-stack must be a non-empty list of names");
    if (list->u.list.len > STACK_MAX)
        return aox_err_set(err, AOX_E_INVALID, "stack@1.0: at most %d devices",
                           STACK_MAX);
    for (size_t i = 0; i < list->u.list.len; i++) {
        const aox_value *v = &list->u.list.items[i];
        const char *name;
        if (v->type != AOX_V_BYTES)
            return aox_err_set(err, AOX_E_INVALID,
                               "stack@1.0: device-stack entry %zu is not a name", i);
        name = (const char *)v->u.bytes.ptr;
        ops[i] = aox_device_find(name);
        if (!ops[i])
            return aox_err_set(err, AOX_E_INVALID, "device '%s' is not registered", name);
        if (ops[i] == &aox_stack_device)
            return aox_err_set(err, AOX_E_INVALID, "stack@1.0 cannot be nested");
    }
    *n = list->u.list.len;
    rc = aox_msg_get_int(def, "passes", &p);
    if (rc == AOX_E_NOT_FOUND)
        p = 1;
    else if (rc || p < 1 || p > PASSES_MAX)
        return aox_err_set(err, AOX_E_INVALID, "stack@1.0: passes must be 1..%d",
                           PASSES_MAX);
    *passes = (unsigned)p;
    return AOX_OK;
}

int aox_stack_check(const aox_msg *def, aox_err *err)
{
    const aox_device_ops *ops[STACK_MAX];
    size_t n;
    unsigned passes;
    return parse_def(def, ops, &n, &passes, err);
}

static void stack_free(void *s)
{
    stack_state *st = s;
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        if (st->states[i])
            st->ops[i]->free(st->states[i]);
    free(st);
}

static int stack_init(const aox_device_env *env, const aox_msg *def, void **state,
                      aox_err *err)
{
    stack_state *st = calloc(1, sizeof *st);
    int rc;

    *state = NULL;
    if (!st)
        return aox_err_set(err, AOX_E_NOMEM, "stack@1.0: out of memory");
    rc = parse_def(def, st->ops, &st->n, &st->passes, err);
    for (size_t i = 0; !rc && i < st->n; i++)
        rc = st->ops[i]->init(env, def, &st->states[i], err);
    if (rc) {
        stack_free(st);
        return rc;
    }
    *state = st;
    return AOX_OK;
}

static int stack_compute(void *s, const aox_call *call, aox_msg *result, aox_err *err)
{
    stack_state *st = s;
    aox_stack_frame frame = { st };
    aox_call sub = *call;
    int rc;

    int ran = 0;                  /* a position before this one ran in this call */

    sub.stack = &frame;
    for (unsigned pass = 0; pass < st->passes; pass++) {
        sub.pass = (int)pass;
        for (size_t i = 0; i < st->n; i++) {
            rc = st->ops[i]->compute(st->states[i], &sub, result, err);
            if (rc)
                return rc;
            if (aox_result_is_error(result))
                /* the failing device rolled itself back, the earlier ones did not */
                return ran && !call->dry_run ? aox_result_mark_state_lost(result) : AOX_OK;
            ran = 1;
        }
    }
    return AOX_OK;
}

static int stack_snapshot(void *s, aox_snap_writer *w, aox_err *err)
{
    stack_state *st = s;
    aox_buf meta = {0};
    int rc;

    rc = aox_buf_append_u8(&meta, 'S');
    if (!rc) rc = aox_buf_append_u8(&meta, 1);
    if (!rc) rc = aox_buf_append_uleb(&meta, st->n);
    for (size_t i = 0; !rc && i < st->n; i++) {
        aox_snap_writer *sw = NULL;
        const uint8_t *m;
        size_t ml, nl = strlen(st->ops[i]->name);
        rc = snap_writer_sub(w, (unsigned)i, &sw);
        if (!rc)
            rc = st->ops[i]->snapshot(st->states[i], sw, err);
        if (!rc) {
            snap_writer_meta(sw, &m, &ml);
            rc = aox_buf_append_uleb(&meta, nl);
            if (!rc) rc = aox_buf_append(&meta, st->ops[i]->name, nl);
            if (!rc) rc = aox_buf_append_uleb(&meta, ml);
            if (!rc) rc = aox_buf_append(&meta, m, ml);
        }
        aox_snap_writer_free(sw);
    }
    if (!rc)
        rc = aox_snap_write_meta(w, meta.data, meta.len);
    aox_buf_free(&meta);
    if (rc && (!err || err->code == AOX_OK))
        aox_err_set(err, rc, "stack@1.0: snapshot failed");
    return rc;
}

static int read_uleb(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return AOX_OK;
        }
    }
    return AOX_E_CORRUPT;
}

static int stack_restore(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                         void **state, aox_err *err)
{
    stack_state *st = calloc(1, sizeof *st);
    const uint8_t *p, *end;
    size_t n;
    uint64_t cnt;
    int rc;

    *state = NULL;
    if (!st)
        return aox_err_set(err, AOX_E_NOMEM, "stack@1.0: out of memory");
    rc = parse_def(def, st->ops, &st->n, &st->passes, err);
    if (rc)
        goto fail;
    aox_snap_read_meta(r, &p, &n);
    end = p + n;
    rc = AOX_E_CORRUPT;
    if (n < 2 || p[0] != 'S' || p[1] != 1)
        goto corrupt;
    p += 2;
    if (read_uleb(&p, end, &cnt) || cnt != st->n)
        goto corrupt;
    for (size_t i = 0; i < st->n; i++) {
        uint64_t nl, ml;
        aox_snap_reader *sr = NULL;
        if (read_uleb(&p, end, &nl) || nl > (uint64_t)(end - p))
            goto corrupt;
        if (nl != strlen(st->ops[i]->name) || memcmp(p, st->ops[i]->name, nl) != 0)
            goto corrupt;
        p += nl;
        if (read_uleb(&p, end, &ml) || ml > (uint64_t)(end - p))
            goto corrupt;
        rc = snap_reader_sub(r, (unsigned)i, p, (size_t)ml, &sr);
        if (rc) {
            aox_err_set(err, rc, "stack@1.0: cannot open sub-snapshot %zu", i);
            goto fail;
        }
        rc = st->ops[i]->restore(env, def, sr, &st->states[i], err);
        aox_snap_reader_free(sr);
        if (rc)
            goto fail;
        p += ml;
    }
    if (p != end)
        goto corrupt;
    *state = st;
    return AOX_OK;
corrupt:
    rc = aox_err_set(err, AOX_E_CORRUPT, "stack@1.0: snapshot meta does not match "
                     "the definition's device-stack");
fail:
    stack_free(st);
    return rc;
}

static uint64_t stack_memory(void *s)
{
    stack_state *st = s;
    uint64_t total = sizeof *st;
    for (size_t i = 0; i < st->n; i++)
        if (st->ops[i]->memory)
            total += st->ops[i]->memory(st->states[i]);
    return total;
}

/* SHA-256 over { name, digest } of every sub-device that has a digest. */
static int stack_digest(void *s, uint8_t out[32])
{
    stack_state *st = s;
    aox_buf b = {0};
    int rc = AOX_OK, any = 0;

    for (size_t i = 0; !rc && i < st->n; i++) {
        uint8_t d[AOX_HASH_LEN];
        if (!st->ops[i]->digest || st->ops[i]->digest(st->states[i], d) != AOX_OK)
            continue;
        any = 1;
        rc = aox_buf_append_str(&b, st->ops[i]->name);
        if (!rc) rc = aox_buf_append_u8(&b, 0);
        if (!rc) rc = aox_buf_append(&b, d, sizeof d);
    }
    if (!rc && !any)
        rc = AOX_E_UNSUPPORTED;
    if (!rc)
        aox_sha256(b.data, b.len, out);
    aox_buf_free(&b);
    return rc;
}

void *aox_stack_sibling(const aox_call *call, const char *device_name)
{
    const stack_state *st;
    if (!call || !call->stack || !device_name)
        return NULL;
    st = call->stack->st;
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->ops[i]->name, device_name) == 0)
            return st->states[i];
    return NULL;
}

/* Boot when any member boots for this definition: the whole stack then computes the
 * process message at slot 0 (every member, as for any other slot). */
static int stack_boot(const aox_msg *def)
{
    const aox_device_ops *ops[STACK_MAX];
    size_t n;
    unsigned passes;
    if (parse_def(def, ops, &n, &passes, NULL))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ops[i]->boot && ops[i]->boot(def))
            return 1;
    return 0;
}

const aox_device_ops aox_stack_device = {
    .name = "stack@1.0",
    .init = stack_init,
    .compute = stack_compute,
    .snapshot = stack_snapshot,
    .restore = stack_restore,
    .free = stack_free,
    .memory = stack_memory,
    .digest = stack_digest,
    .boot = stack_boot,
};
