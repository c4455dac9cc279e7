/*
 * process/cache.c: results and snapshots in the store (DESIGN.md §4).
 *
 *   proc/<pid>/result/<be64 slot>   aox_msg_encode(result)
 *   proc/<pid>/snap/<be64 slot>     snapshot manifest (device/snapshot.c format)
 *
 * "Nearest snapshot <= N" and "latest result" are single aox_store_seek_le calls.
 */
#include <string.h>

#include "process/proc_int.h"

int proc_key_prefix(aox_buf *k, const char *pid, const char *what)
{
    int rc = aox_key_proc(k, pid, what, 0);     /* ".../what/" + be64(0) */
    if (rc == AOX_OK)
        k->len -= 8;
    return rc;
}

int proc_get_u64(aox_store *s, const aox_buf *k, uint64_t *v)
{
    aox_buf val = {0};
    int rc = aox_store_get(s, k->data, k->len, &val);
    if (rc == AOX_OK && val.len != 8)
        rc = AOX_E_CORRUPT;
    if (rc == AOX_OK)
        *v = aox_be_get(val.data, 8);
    aox_buf_free(&val);
    return rc;
}

int proc_result_get(aox_procs *p, const char *pid, uint64_t slot, aox_msg **out)
{
    aox_buf k = {0}, v = {0};
    int rc = aox_key_proc(&k, pid, "result", slot);
    *out = NULL;
    if (!rc)
        rc = aox_store_get(p->store, k.data, k.len, &v);
    if (!rc)
        rc = aox_msg_decode(v.data, v.len, out, NULL);
    aox_buf_free(&k);
    aox_buf_free(&v);
    return rc;
}

int proc_result_put(aox_batch *b, const char *pid, uint64_t slot, const aox_buf *enc)
{
    aox_buf k = {0};
    int rc = aox_key_proc(&k, pid, "result", slot);
    if (!rc)
        rc = aox_batch_put(b, k.data, k.len, enc->data, enc->len);
    aox_buf_free(&k);
    return rc;
}

/* Greatest key under proc/<pid>/<what>/ with slot <= bound. */
static int seek_slot(aox_procs *p, const char *pid, const char *what, uint64_t bound,
                     uint64_t *slot, aox_buf *val)
{
    aox_buf prefix = {0}, b = {0}, key = {0};
    uint8_t be[8];
    int rc = proc_key_prefix(&prefix, pid, what);
    aox_be_put(be, bound, 8);
    if (!rc) rc = aox_buf_append(&b, prefix.data, prefix.len);
    if (!rc) rc = aox_buf_append(&b, be, 8);
    if (!rc)
        rc = aox_store_seek_le(p->store, prefix.data, prefix.len, b.data, b.len, &key, val);
    if (rc == AOX_OK) {
        if (key.len != prefix.len + 8)
            rc = AOX_E_CORRUPT;
        else
            *slot = aox_be_get(key.data + prefix.len, 8);
    }
    aox_buf_free(&prefix);
    aox_buf_free(&b);
    aox_buf_free(&key);
    return rc;
}

int proc_result_latest(aox_procs *p, const char *pid, uint64_t bound, uint64_t *slot)
{
    return seek_slot(p, pid, "result", bound, slot, NULL);
}

int proc_snap_find(aox_procs *p, const char *pid, uint64_t bound, uint64_t *slot,
                   aox_buf *manifest)
{
    return seek_slot(p, pid, "snap", bound, slot, manifest);
}

int aox_proc_latest_result_slot(aox_procs *p, const char *pid, uint64_t *slot, aox_err *err)
{
    proc_entry *e;
    int rc = proc_entry_get(p, pid, &e, err);
    if (rc)
        return rc;
    rc = seek_slot(p, pid, "result", UINT64_MAX, slot, NULL);
    proc_entry_put(p, e);
    if (rc == AOX_E_NOT_FOUND)
        return aox_err_set(err, rc, "process %s has no computed result yet", pid);
    if (rc)
        return aox_err_set(err, rc, "cannot read the results of %s", pid);
    return AOX_OK;
}

int proc_snap_take(aox_procs *p, proc_entry *e, proc_run *r, aox_buf *manifest, aox_err *err)
{
    aox_snap_writer *w = NULL;
    int rc = aox_snap_writer_new(p->store, r->base.len ? r->base.data : NULL, r->base.len, &w);
    if (rc)
        return aox_err_set(err, rc, "snapshot of %s: cannot start a writer", e->pid);
    rc = e->ops->snapshot(r->state, w, err);
    if (rc == AOX_OK) {
        rc = aox_snap_writer_finish(w, manifest);
        if (rc == AOX_OK)
            PROC_COUNT(p, n_snap_bytes, aox_snap_writer_bytes_written(w));
        if (rc)
            aox_err_set(err, rc, "snapshot of %s at slot %llu: cannot write pages",
                        e->pid, (unsigned long long)r->at_slot);
    } else if (!err || err->code == AOX_OK) {
        aox_err_set(err, rc, "snapshot of %s failed", e->pid);
    }
    aox_snap_writer_free(w);
    return rc;
}

int proc_snap_commit(aox_procs *p, proc_entry *e, proc_run *r, aox_err *err)
{
    aox_buf manifest = {0}, k = {0};
    aox_batch *b = NULL;
    int rc = proc_snap_take(p, e, r, &manifest, err);
    if (rc)
        goto done;
    rc = aox_key_proc(&k, e->pid, "snap", r->at_slot);
    if (!rc) rc = aox_store_batch_begin(p->store, &b);
    if (!rc) rc = aox_batch_put(b, k.data, k.len, manifest.data, manifest.len);
    if (rc) {
        if (b)
            aox_store_batch_abort(b);
        aox_err_set(err, rc, "snapshot of %s: out of memory", e->pid);
        goto done;
    }
    rc = aox_store_batch_commit(b, err);
    if (rc)
        goto done;
    PROC_COUNT(p, n_snaps, 1);
    aox_buf_free(&r->base);
    r->base = manifest;
    manifest = (aox_buf){0};
    r->snap_slot = r->at_slot;
done:
    aox_buf_free(&manifest);
    aox_buf_free(&k);
    return rc;
}
