/*
 * tests/process/proctest.h: helpers for the process-layer tests — a fixed clock, a
 * counting wrapper around test-counter@1.0, spawning and scheduling shortcuts, and
 * temporary LMDB directories.
 */
#ifndef AOX_TESTS_PROCTEST_H
#define AOX_TESTS_PROCTEST_H

#include <dirent.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/id.h"
#include "process/process.h"
#include "store/store.h"
#include "ptest.h"

#define PT_CLOCK_MS 1700000000000ll

PT_UNUSED static int64_t pt_clock(void *ud) { (void)ud; return PT_CLOCK_MS; }

/* counting@1.0: test-counter@1.0 with call counters, so tests can see what ran. */
static atomic_int pt_inits, pt_computes, pt_restores;
static const aox_device_ops *pt_tc;

PT_UNUSED static int cnt_init(const aox_device_env *env, const aox_msg *def, void **s, aox_err *err)
{
    atomic_fetch_add(&pt_inits, 1);
    return pt_tc->init(env, def, s, err);
}
PT_UNUSED static int cnt_compute(void *s, const aox_call *c, aox_msg *r, aox_err *err)
{
    atomic_fetch_add(&pt_computes, 1);
    return pt_tc->compute(s, c, r, err);
}
PT_UNUSED static int cnt_snapshot(void *s, aox_snap_writer *w, aox_err *err)
{
    return pt_tc->snapshot(s, w, err);
}
PT_UNUSED static int cnt_restore(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                       void **s, aox_err *err)
{
    atomic_fetch_add(&pt_restores, 1);
    return pt_tc->restore(env, def, r, s, err);
}
PT_UNUSED static void cnt_free(void *s) { pt_tc->free(s); }
PT_UNUSED static uint64_t cnt_memory(void *s) { return pt_tc->memory(s); }
PT_UNUSED static int cnt_digest(void *s, uint8_t out[32]) { return pt_tc->digest(s, out); }

static const aox_device_ops pt_counting = {
    .name = "counting@1.0", .init = cnt_init, .compute = cnt_compute,
    .snapshot = cnt_snapshot, .restore = cnt_restore, .free = cnt_free,
    .memory = cnt_memory, .digest = cnt_digest,
};

PT_UNUSED static void pt_register(void)
{
    REQUIRE(aox_device_register_builtin() == AOX_OK);
    pt_tc = aox_device_find("test-counter@1.0");
    REQUIRE(pt_tc);
    REQUIRE(aox_device_register(&pt_counting) == AOX_OK);
}

PT_UNUSED static void pt_reset_counts(void)
{
    atomic_store(&pt_inits, 0);
    atomic_store(&pt_computes, 0);
    atomic_store(&pt_restores, 0);
}

PT_UNUSED static aox_procs *pt_open(aox_store *s, uint64_t K, uint64_t live_max)
{
    aox_procs_opts o;
    aox_procs *p = NULL;
    aox_err err = {0};
    memset(&o, 0, sizeof o);
    o.store = s;
    o.snapshot_every = K;
    o.live_states_max = live_max;
    o.clock_ms = pt_clock;
    o.block_height = 7;
    REQUIRE(aox_procs_open(&o, &p, &err) == AOX_OK);
    return p;
}

PT_UNUSED static aox_msg *pt_def(const char *device, int64_t tag)
{
    aox_msg *d = aox_msg_new();
    REQUIRE(d && aox_msg_set_str(d, "type", "Process") == AOX_OK);
    REQUIRE(aox_msg_set_str(d, "execution-device", device) == AOX_OK);
    REQUIRE(aox_msg_set_int(d, "tag", tag) == AOX_OK);
    return d;
}

PT_UNUSED static void pt_spawn(aox_procs *p, const char *device, int64_t tag, char pid[44])
{
    aox_msg *d = pt_def(device, tag);
    aox_err err = {0};
    int rc = aox_proc_spawn(p, d, pid, NULL, &err);
    if (rc)
        fprintf(stderr, "spawn: %s\n", err.msg);
    REQUIRE(rc == AOX_OK);
    aox_msg_free(d);
}

/* Message n: {value: n, nonce: n} (+ action). Unique per n. */
PT_UNUSED static aox_msg *pt_msg(int64_t n, const char *action)
{
    aox_msg *m = aox_msg_new();
    REQUIRE(m && aox_msg_set_int(m, "value", n) == AOX_OK);
    REQUIRE(aox_msg_set_int(m, "nonce", n) == AOX_OK);
    if (action)
        REQUIRE(aox_msg_set_str(m, "action", action) == AOX_OK);
    return m;
}

PT_UNUSED static uint64_t pt_schedule(aox_procs *p, const char *pid, aox_msg *m)
{
    aox_msg *a = NULL;
    aox_err err = {0};
    int64_t slot = -1;
    int rc = aox_proc_schedule(p, pid, m, &a, &err);
    if (rc)
        fprintf(stderr, "schedule: %s\n", err.msg);
    REQUIRE(rc == AOX_OK && a);
    REQUIRE(aox_msg_get_int(a, "slot", &slot) == AOX_OK);
    aox_msg_free(a);
    aox_msg_free(m);
    return (uint64_t)slot;
}

PT_UNUSED static aox_msg *pt_compute(aox_procs *p, const char *pid, uint64_t slot, aox_compute_info *info)
{
    aox_msg *r = NULL;
    aox_err err = {0};
    int rc = aox_proc_compute(p, pid, slot, &r, info, &err);
    if (rc)
        fprintf(stderr, "compute %llu: %s\n", (unsigned long long)slot, err.msg);
    REQUIRE(rc == AOX_OK && r);
    return r;
}

PT_UNUSED static void pt_encode(const aox_msg *m, aox_buf *out)
{
    aox_buf_reset(out);
    REQUIRE(aox_msg_encode(m, out) == AOX_OK);
}

PT_UNUSED static int pt_store_has(aox_store *s, const char *pid, const char *what, uint64_t slot)
{
    aox_buf k = {0}, v = {0};
    int rc = aox_key_proc(&k, pid, what, slot);
    if (!rc)
        rc = aox_store_get(s, k.data, k.len, &v);
    aox_buf_free(&k);
    aox_buf_free(&v);
    return rc == AOX_OK;
}

PT_UNUSED static void pt_store_del(aox_store *s, const char *pid, const char *what, uint64_t slot)
{
    aox_buf k = {0};
    REQUIRE(aox_key_proc(&k, pid, what, slot) == AOX_OK);
    REQUIRE(aox_store_del(s, k.data, k.len) == AOX_OK);
    aox_buf_free(&k);
}

/* A fresh directory for an LMDB store; pt_rmdir removes it (flat: LMDB's files). */
PT_UNUSED static void pt_tmpdir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/aox-proc-test-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
}

PT_UNUSED static void pt_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

PT_UNUSED static aox_store *pt_lmdb(const char *dir)
{
    char uri[512];
    aox_store *s = NULL;
    aox_err err = {0};
    snprintf(uri, sizeof uri, "lmdb:%s", dir);
    if (aox_store_open(uri, NULL, &s, &err) != AOX_OK)
        fprintf(stderr, "lmdb open: %s\n", err.msg);
    REQUIRE(s);
    return s;
}

PT_UNUSED static aox_store *pt_memory(void)
{
    aox_store *s = NULL;
    REQUIRE(aox_store_open("memory:", NULL, &s, NULL) == AOX_OK);
    return s;
}

#endif
