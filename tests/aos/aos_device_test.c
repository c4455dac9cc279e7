/*
 * tests/aos/aos_device_test.c: runs emscripten- and WAT-built test modules as
 * processes through the device vtables (wasm@1.0, wasm-64@1.0, stack@1.0) over a
 * memory store, without HTTP.
 *   aos_device_test c    <mod_c.wasm>     C, setjmp/longjmp, fs, limits, rollback
 *   aos_device_test cxx  <mod_cxx.wasm>   C++ with -fwasm-exceptions
 *   aos_device_test w64  <mod64.wasm>     wasm64 WAT: limits, stack and raw forms
 *   aos_device_test snap <mod_c.wasm>     snapshot -> restore -> identical results,
 *                                         only changed pages written
 *   aos_device_test legacy <mod_legacy.wasm>  the loader's minified wasm32 format
 *   aos_device_test digest <mod_c.wasm>   state digest: same history -> same digest
 *                                         (fresh twins, snapshot/restore, incremental
 *                                         snapshot); dry runs and failures keep it
 *   aos_device_test digestw <mod_digest.wasm>  raw WAT: a global, a page, a file, tempRet0
 *                                         and the memory size each change it; a page
 *                                         change rehashes one page
 *   aos_device_test boot <mod_c.wasm>     through the process layer: slot 0 runs the
 *                                         Process message through handle (boot), also
 *                                         after snapshot/restore and restart; dry runs
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/aos.h"
#include "core/id.h"
#include "core/json.h"
#include "device/device.h"
#include "device/snapshot.h"
#include "process/process.h"
#include "store/store.h"

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", \
                                           __FILE__, __LINE__, #c); failures++; } } while (0)

#define PID "PROCESS0000000000000000000000000000000000A"
#define FROM "SENDER00000000000000000000000000000000000B"

static aox_store *store;
static char module_id[AOX_ID_LEN + 1];

static void load_module(const char *path, const char *tags_json)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    aox_buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        aox_buf_append(&b, tmp, n);
    fclose(f);
    uint8_t h[AOX_HASH_LEN];
    aox_sha256(b.data, b.len, h);
    aox_id_from_hash(h, module_id);
    aox_buf k = {0};
    aox_key_simple(&k, "module", module_id);
    CHECK(aox_store_put(store, k.data, k.len, b.data, b.len) == 0);
    if (tags_json) {
        aox_aos_module_tags_key(&k, module_id);
        CHECK(aox_store_put(store, k.data, k.len, tags_json, strlen(tags_json)) == 0);
    }
    aox_buf_free(&k);
    aox_buf_free(&b);
}

typedef struct proc {
    const aox_device_ops *ops;
    void *state;
    aox_msg *def;
    uint64_t slot;
    aox_limits limits;
} proc;

static void proc_init(proc *p, aox_msg *def)
{
    aox_err err = {0};
    aox_device_env env = { PID, store, &p->limits };
    p->def = def;
    p->ops = aox_device_find(aox_device_name_of(def));
    CHECK(p->ops != NULL);
    p->state = NULL;
    p->slot = 0;
    int rc = p->ops ? p->ops->init(&env, def, &p->state, &err) : -1;
    if (rc)
        fprintf(stderr, "init failed: %s\n", err.msg);
    CHECK(rc == 0);
}

/* Runs one message whose data is `data`; returns the result (caller frees). */
static aox_msg *run(proc *p, const char *data, int dry)
{
    aox_msg *m = aox_msg_new(), *asg = aox_msg_new(), *res = aox_msg_new();
    aox_err err = {0};
    aox_msg_set_str(m, "data", data);
    aox_msg_set_str(m, "action", "Eval");
    aox_msg_set_str(m, "from", FROM);
    aox_msg_set_str(asg, "hash-chain", "HC");
    p->slot++;
    aox_call call;
    memset(&call, 0, sizeof call);
    call.pid = PID;
    call.process = p->def;
    call.assignment = asg;
    call.message = m;
    call.slot = p->slot;
    call.timestamp = 1700000000123;
    call.block_height = 1000;
    call.limits = &p->limits;
    call.dry_run = dry;
    int rc = p->ops->compute(p->state, &call, res, &err);
    if (rc)
        fprintf(stderr, "compute(%s) node fault %d: %s\n", data, rc, err.msg);
    CHECK(rc == 0);
    aox_msg_free(m);
    aox_msg_free(asg);
    return res;
}

/* Runs data with the wall-clock flag already raised: a node fault (AOX_E_TIMEOUT). */
static int run_interrupted(proc *p, const char *data)
{
    aox_msg *m = aox_msg_new(), *asg = aox_msg_new(), *res = aox_msg_new();
    aox_err err = {0};
    atomic_int flag;
    atomic_init(&flag, 1);
    aox_msg_set_str(m, "data", data);
    aox_call call;
    memset(&call, 0, sizeof call);
    call.pid = PID;
    call.process = p->def;
    call.assignment = asg;
    call.message = m;
    call.slot = ++p->slot;
    call.timestamp = 1700000000123;
    call.limits = &p->limits;
    call.interrupt = &flag;
    int rc = p->ops->compute(p->state, &call, res, &err);
    aox_msg_free(m);
    aox_msg_free(asg);
    aox_msg_free(res);
    return rc;
}

static const char *out_data(const aox_msg *r)
{
    const aox_msg *o = aox_msg_get_msg(r, "output");
    const char *s = o ? aox_msg_get_str(o, "data", NULL) : NULL;
    return s ? s : "";
}

static const char *err_code(const aox_msg *r)
{
    const aox_msg *e = aox_msg_get_msg(r, "error");
    const char *s = e ? aox_msg_get_str(e, "code", NULL) : NULL;
    return s ? s : "";
}

static const char *err_msg(const aox_msg *r)
{
    const aox_msg *e = aox_msg_get_msg(r, "error");
    const char *s = e ? aox_msg_get_str(e, "message", NULL) : NULL;
    return s ? s : "";
}

/* run and expect output data (or error code when want starts with '!') */
static void expect(proc *p, const char *data, const char *want)
{
    aox_msg *r = run(p, data, 0);
    if (want[0] == '!') {
        if (strcmp(err_code(r), want + 1) != 0)
            fprintf(stderr, "  %s: want error %s, got code '%s' msg '%s' out '%s'\n", data,
                    want + 1, err_code(r), err_msg(r), out_data(r));
        CHECK(strcmp(err_code(r), want + 1) == 0);
    } else {
        if (strcmp(out_data(r), want) != 0 || aox_result_is_error(r))
            fprintf(stderr, "  %s: want '%s', got '%s' (error '%s')\n", data, want,
                    out_data(r), err_msg(r));
        CHECK(strcmp(out_data(r), want) == 0 && !aox_result_is_error(r));
    }
    aox_msg_free(r);
}

static aox_msg *make_def(const char *dev)
{
    aox_msg *d = aox_msg_new();
    aox_msg_set_str(d, "type", "Process");
    aox_msg_set_str(d, "execution-device", dev);
    aox_msg_set_str(d, "image", module_id);
    aox_msg_set_str(d, "name", "test-process");
    return d;
}

static void test_c(const char *path)
{
    load_module(path, "[{\"name\":\"Module-Format\",\"value\":\"wasm32-unknown-emscripten\"},"
                      "{\"name\":\"Memory-Limit\",\"value\":\"64-mb\"},"
                      "{\"name\":\"Compute-Limit\",\"value\":\"20000000\"}]");
    proc p;
    memset(&p, 0, sizeof p);
    proc_init(&p, make_def("wasm@1.0"));
    if (!p.state)
        return;
    aox_msg *r = run(&p, "ping", 0);
    CHECK(strcmp(out_data(r), "pong") == 0);
    const aox_value *ob = aox_msg_get(r, "outbox");
    CHECK(ob && ob->type == AOX_V_LIST && ob->u.list.len == 1);
    if (ob && ob->type == AOX_V_LIST && ob->u.list.len == 1) {
        const aox_msg *om = ob->u.list.items[0].u.msg;
        CHECK(strcmp(aox_msg_get_str(om, "target", NULL), FROM) == 0);
        CHECK(strcmp(aox_msg_get_str(om, "action", NULL), "Pong") == 0);
        CHECK(strcmp(aox_msg_get_str(om, "reply-to", NULL), PID) == 0);   /* env Process.Id */
        CHECK(strcmp(aox_msg_get_str(om, "from-process", NULL), PID) == 0);
        CHECK(strcmp(aox_msg_get_str(om, "from-image", NULL), module_id) == 0);
    }
    const aox_value *as = aox_msg_get(r, "assignments");
    CHECK(as && as->type == AOX_V_LIST && as->u.list.len == 1);
    int64_t gas = 0;
    CHECK(aox_msg_get_int(r, "gas", &gas) == 0 && gas > 0);
    aox_msg_free(r);

    expect(&p, "count", "1");
    expect(&p, "count", "2");
    expect(&p, "jump", "jumped 42");
    expect(&p, "trapjmp", "!trap");
    expect(&p, "fail", "!guest_error");          /* ok:false -> error, counter rolled back */
    expect(&p, "count", "3");
    expect(&p, "error", "!guest_error");         /* response.Error */
    expect(&p, "count", "4");
    expect(&p, "bad", "!guest_error");           /* malformed JSON */
    expect(&p, "count", "5");
    r = run(&p, "loop", 0);                      /* compute limit */
    CHECK(strcmp(err_code(r), "out_of_fuel") == 0 && strcmp(err_msg(r), "out of gas!") == 0);
    aox_msg_free(r);
    expect(&p, "count", "6");
    expect(&p, "copybig", "!out_of_fuel");   /* 640 MiB of host copies > 20M fuel */
    CHECK(run_interrupted(&p, "loop") == AOX_E_TIMEOUT);   /* wall clock: a node fault */
    expect(&p, "count", "7");
    r = run(&p, "grow", 0);                      /* memory limit */
    CHECK(strcmp(err_code(r), "out_of_memory") == 0);
    CHECK(strstr(err_msg(r), "Cannot enlarge memory") != NULL);
    if (strcmp(err_code(r), "out_of_memory") != 0)
        fprintf(stderr, "  grow: got %s: %s\n", err_code(r), err_msg(r));
    aox_msg_free(r);
    expect(&p, "count", "8");
    expect(&p, "weave", "nofile");
    aox_buf wk = {0};
    aox_key_simple(&wk, "data", "WEAVEDRIVE00000000000000000000000000000000E");
    CHECK(aox_store_put(store, wk.data, wk.len, "woven bytes", 11) == 0);
    aox_buf_free(&wk);
    expect(&p, "weave", "woven bytes");
    expect(&p, "read", "nofile");
    expect(&p, "write", "written");
    expect(&p, "read", "line;");
    expect(&p, "write", "written");
    expect(&p, "read", "line;line;");
    /* deterministic time and randomness: 1700000000123 ms = 2023-11-14 */
    r = run(&p, "time", 0);
    CHECK(strncmp(out_data(r), "1700000000 2023-11-14 ", 22) == 0);
    char first[128];
    snprintf(first, sizeof first, "%s", out_data(r));
    aox_msg_free(r);
    r = run(&p, "time", 0);
    CHECK(strcmp(out_data(r), first) == 0);      /* same message ID: same random bytes */
    aox_msg_free(r);
    r = run(&p, "print", 0);
    CHECK(strcmp(out_data(r), "printed") == 0);
    const char *so = aox_msg_get_str(r, "stdout", NULL);
    CHECK(so && strcmp(so, "hello from the guest\n") == 0);
    aox_msg_free(r);
    /* dry run: result but no state change */
    r = run(&p, "count", 1);
    CHECK(strcmp(out_data(r), "9") == 0);
    aox_msg_free(r);
    expect(&p, "count", "9");
    aox_aos_stats st;
    aox_aos_get_stats(&st);
    CHECK(st.rollbacks >= 6);
    p.ops->free(p.state);
    aox_msg_free(p.def);
}

static void test_cxx(const char *path)
{
    load_module(path, NULL);
    proc p;
    memset(&p, 0, sizeof p);
    proc_init(&p, make_def("wasm@1.0"));
    if (!p.state)
        return;
    expect(&p, "hello", "ok 1");
    expect(&p, "throwing", "caught bad input: throwing");
    expect(&p, "uncaught", "!trap");
    expect(&p, "again", "ok 2");
    p.ops->free(p.state);
    aox_msg_free(p.def);
}

static void test_w64(const char *path)
{
    load_module(path, "[{\"name\":\"Module-Format\",\"value\":"
                      "\"wasm64-unknown-emscripten-draft_2024_02_15\"}]");
    proc p;
    memset(&p, 0, sizeof p);
    aox_msg *def = make_def("wasm-64@1.0");
    aox_msg_set_str(def, "memory-limit", "1-mb");
    aox_msg_set_int(def, "compute-limit", 5000000);
    proc_init(&p, def);
    if (!p.state)
        return;
    CHECK(strcmp(aox_aos_device_for_module(store, module_id), "wasm-64@1.0") == 0);
    CHECK(strcmp(aox_aos_device_for_module(store, "nope"), "wasm@1.0") == 0);
    expect(&p, "a", "1");
    expect(&p, "b", "2");
    aox_msg *r = run(&p, "loop", 0);
    CHECK(strcmp(err_code(r), "out_of_fuel") == 0 && strcmp(err_msg(r), "out of gas!") == 0);
    aox_msg_free(r);
    expect(&p, "c", "3");
    r = run(&p, "grow", 0);
    CHECK(strcmp(err_code(r), "out_of_memory") == 0);
    CHECK(strstr(err_msg(r), "limit is 1048576 bytes") != NULL);
    aox_msg_free(r);
    expect(&p, "d", "4");
    r = run(&p, "h", 0);                         /* memory.grow refused by the engine */
    CHECK(strcmp(err_code(r), "out_of_memory") == 0);
    aox_msg_free(r);
    expect(&p, "fail", "!trap");                 /* grew memory then trapped: rolled back */
    expect(&p, "e", "5");
    p.ops->free(p.state);
    aox_msg_free(p.def);

    /* HyperBEAM-style stack */
    memset(&p, 0, sizeof p);
    def = make_def("stack@1.0");
    aox_value names[3];
    const char *n[3] = { "wasi@1.0", "json-iface@1.0", "wasm-64@1.0" };
    for (int i = 0; i < 3; i++) {
        names[i].type = AOX_V_BYTES;
        names[i].u.bytes.ptr = (uint8_t *)n[i];
        names[i].u.bytes.len = strlen(n[i]);
        aox_msg_list_append(def, "device-stack", &names[i]);
    }
    aox_msg_set_int(def, "passes", 2);
    proc_init(&p, def);
    if (p.state) {
        expect(&p, "a", "1");
        expect(&p, "b", "2");
        /* snapshot and restore through stack@1.0 (pages in the wasm device's namespace) */
        aox_snap_writer *w = NULL;
        aox_buf man = {0};
        aox_err err = {0};
        CHECK(aox_snap_writer_new(store, NULL, 0, &w) == 0);
        CHECK(p.ops->snapshot(p.state, w, &err) == 0);
        CHECK(aox_snap_writer_finish(w, &man) == 0);
        aox_snap_writer_free(w);
        expect(&p, "c", "3");
        p.ops->free(p.state);
        p.state = NULL;
        aox_snap_reader *rd = NULL;
        aox_device_env env = { PID, store, &p.limits };
        CHECK(aox_snap_reader_new(store, man.data, man.len, &rd, &err) == 0);
        CHECK(rd && p.ops->restore(&env, p.def, rd, &p.state, &err) == 0);
        aox_snap_reader_free(rd);
        aox_buf_free(&man);
        if (p.state) {
            expect(&p, "c", "3");               /* same as before the restore */
            expect(&p, "d", "4");
            p.ops->free(p.state);
        }
    }
    aox_msg_free(p.def);

    /* raw: a stack without json-iface calls `function` with `parameters` */
    memset(&p, 0, sizeof p);
    def = make_def("stack@1.0");
    aox_msg_list_append(def, "device-stack", &names[2]);
    aox_msg_set_str(def, "function", "malloc");
    proc_init(&p, def);
    if (p.state) {
        aox_msg *m = aox_msg_new(), *asg = aox_msg_new(), *res = aox_msg_new();
        aox_value v = { .type = AOX_V_INT, .u.i = 16 };
        aox_msg_list_append(m, "parameters", &v);
        aox_call call;
        memset(&call, 0, sizeof call);
        call.pid = PID;
        call.process = p.def;
        call.assignment = asg;
        call.message = m;
        call.slot = 1;
        call.limits = &p.limits;
        aox_err err = {0};
        CHECK(p.ops->compute(p.state, &call, res, &err) == 0);
        const aox_value *rl = aox_msg_get(res, "results");
        CHECK(rl && rl->type == AOX_V_LIST && rl->u.list.len == 1 &&
              rl->u.list.items[0].u.i == 65536);
        aox_msg_free(m);
        aox_msg_free(asg);
        aox_msg_free(res);
        p.ops->free(p.state);
    }
    aox_msg_free(p.def);
}

/* legacy wasm32-unknown-emscripten shape: minified imports/exports, stackAlloc args */
static void test_legacy(const char *path)
{
    load_module(path, "[{\"name\":\"Module-Format\",\"value\":\"wasm32-unknown-emscripten\"}]");
    proc p;
    memset(&p, 0, sizeof p);
    proc_init(&p, make_def("wasm@1.0"));
    if (!p.state)
        return;
    for (int i = 0; i < 3; i++) {
        aox_msg *r = run(&p, "hello", 0);
        CHECK(strcmp(out_data(r), "legacy") == 0 && !aox_result_is_error(r));
        const char *so = aox_msg_get_str(r, "stdout", NULL);
        CHECK(so && strcmp(so, "legacy stdout\n") == 0);
        if (aox_result_is_error(r))
            fprintf(stderr, "  legacy: %s\n", err_msg(r));
        aox_msg_free(r);
    }
    p.ops->free(p.state);
    aox_msg_free(p.def);

    /* a format the loader does not know, and a wasm64 format on a wasm32 module */
    const char *bad[] = { "[{\"name\":\"Module-Format\",\"value\":\"riscv-elf\"}]",
                          "[{\"name\":\"Module-Format\",\"value\":"
                          "\"wasm64-unknown-emscripten-draft_2024_02_15\"}]" };
    for (int i = 0; i < 2; i++) {
        load_module(path, bad[i]);
        aox_msg *def = make_def("wasm@1.0");
        aox_device_env env = { PID, store, &p.limits };
        void *st = NULL;
        aox_err err = {0};
        CHECK(p.ops->init(&env, def, &st, &err) != 0 && st == NULL);
        CHECK(strstr(err.msg, "Module-Format") != NULL);
        aox_msg_free(def);
    }
}

static int snap_take(proc *p, const aox_buf *base, aox_buf *manifest, uint64_t *written)
{
    aox_snap_writer *w = NULL;
    aox_err err = {0};
    int rc = aox_snap_writer_new(store, base ? base->data : NULL, base ? base->len : 0, &w);
    if (!rc)
        rc = p->ops->snapshot(p->state, w, &err);
    aox_buf_reset(manifest);
    if (!rc)
        rc = aox_snap_writer_finish(w, manifest);
    *written = w ? aox_snap_writer_bytes_written(w) : 0;
    aox_snap_writer_free(w);
    if (rc)
        fprintf(stderr, "snapshot failed: %d %s\n", rc, err.msg);
    return rc;
}

static void test_snap(const char *path)
{
    load_module(path, NULL);
    proc a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    proc_init(&a, make_def("wasm@1.0"));
    if (!a.state)
        return;
    expect(&a, "count", "1");
    expect(&a, "write", "written");
    aox_buf m1 = {0}, m2 = {0};
    uint64_t w1 = 0, w2 = 0;
    CHECK(snap_take(&a, NULL, &m1, &w1) == 0);
    CHECK(w1 > 0);
    {
        aox_snap_reader *mr = NULL;
        aox_err e2 = {0};
        const uint8_t *meta;
        size_t ml;
        uint64_t membytes = 0;
        uint32_t psz = 0;
        CHECK(aox_snap_reader_new(store, m1.data, m1.len, &mr, &e2) == 0);
        CHECK(mr && aox_snap_read_meta(mr, &meta, &ml) == 0);
        CHECK(mr && aox_aos_snapshot_memory(meta, ml, &membytes, &psz) == 0);
        CHECK(membytes == 1u << 20 && psz == 4096);        /* INITIAL_MEMORY=1MB */
        aox_snap_reader_free(mr);
    }
    /* restore into b and compare behaviour */
    aox_snap_reader *r = NULL;
    aox_err err = {0};
    CHECK(aox_snap_reader_new(store, m1.data, m1.len, &r, &err) == 0);
    aox_device_env env = { PID, store, &a.limits };
    b.ops = a.ops;
    b.def = a.def;
    b.slot = a.slot;
    int rc = r ? a.ops->restore(&env, a.def, r, &b.state, &err) : -1;
    if (rc)
        fprintf(stderr, "restore failed: %s\n", err.msg);
    CHECK(rc == 0);
    aox_snap_reader_free(r);
    if (!b.state)
        return;
    const char *seq[] = { "count", "read", "time", "jump", "fail", "count", "write", "read" };
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
        aox_msg *ra = run(&a, seq[i], 0), *rb = run(&b, seq[i], 0);
        CHECK(aox_msg_equal(ra, rb));
        if (!aox_msg_equal(ra, rb))
            fprintf(stderr, "  %s: restored state diverged ('%s' vs '%s')\n", seq[i],
                    out_data(ra), out_data(rb));
        aox_msg_free(ra);
        aox_msg_free(rb);
    }
    /* incremental: after one small message only a few pages are written */
    expect(&a, "count", "4");
    CHECK(snap_take(&a, &m1, &m2, &w2) == 0);
    fprintf(stderr, "snapshot bytes: full %llu, after one message %llu\n",
            (unsigned long long)w1, (unsigned long long)w2);
    CHECK(w1 > 0 && w2 <= 8 * 4096);
    a.ops->free(a.state);
    b.ops->free(b.state);
    aox_msg_free(a.def);
    aox_buf_free(&m1);
    aox_buf_free(&m2);
}

/* ------------------------------------------------------------------ state digest */

static void digest_of(proc *p, uint8_t out[32])
{
    memset(out, 0, 32);
    CHECK(p->ops->digest != NULL);
    if (p->ops->digest)
        CHECK(p->ops->digest(p->state, out) == 0);
}

static int digest_eq(proc *a, proc *b)
{
    uint8_t da[32], db[32];
    digest_of(a, da);
    digest_of(b, db);
    return memcmp(da, db, 32) == 0;
}

/* Snapshots a (on base when given; the manifest goes to man) and restores it into b. */
static void snap_restore(proc *a, proc *b, const aox_buf *base, aox_buf *man)
{
    uint64_t w = 0;
    aox_snap_reader *r = NULL;
    aox_err err = {0};
    aox_device_env env = { PID, store, &a->limits };
    memset(b, 0, sizeof *b);
    b->ops = a->ops;
    b->def = a->def;
    b->slot = a->slot;
    CHECK(snap_take(a, base, man, &w) == 0);
    CHECK(aox_snap_reader_new(store, man->data, man->len, &r, &err) == 0);
    int rc = r ? a->ops->restore(&env, a->def, r, &b->state, &err) : -1;
    if (rc)
        fprintf(stderr, "restore failed: %s\n", err.msg);
    CHECK(rc == 0);
    aox_snap_reader_free(r);
}

static void test_digest(const char *path)
{
    load_module(path, NULL);
    proc a, b, c, d;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    proc_init(&a, make_def("wasm@1.0"));
    proc_init(&b, make_def("wasm@1.0"));
    if (!a.state || !b.state)
        return;
    uint8_t d0[32], d1[32];
    CHECK(digest_eq(&a, &b));                   /* two fresh instances agree */
    digest_of(&a, d0);
    const char *seq[] = { "count", "write", "jump", "count" };
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
        aox_msg_free(run(&a, seq[i], 0));
        aox_msg_free(run(&b, seq[i], 0));
        CHECK(digest_eq(&a, &b));
        digest_of(&a, d1);
        CHECK(memcmp(d0, d1, 32) != 0);         /* each of these changes the state */
        memcpy(d0, d1, 32);
    }
    /* dry runs and failing messages leave the digest as it was */
    aox_msg *r = run(&a, "count", 1);
    CHECK(strcmp(out_data(r), "3") == 0);
    aox_msg_free(r);
    const char *bad[] = { "fail", "bad", "error", "trapjmp" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = run(&a, bad[i], 0);
        CHECK(aox_result_is_error(r));
        aox_msg_free(r);
        digest_of(&a, d1);
        CHECK(memcmp(d0, d1, 32) == 0);
    }
    CHECK(digest_eq(&a, &b));
    /* snapshot -> restore: the same digest, and the same after more messages */
    aox_buf m1 = {0}, m2 = {0};
    snap_restore(&a, &c, NULL, &m1);
    if (!c.state)
        return;
    CHECK(digest_eq(&a, &c));
    const char *more[] = { "count", "write", "read", "fail", "count" };
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) {
        aox_msg_free(run(&a, more[i], 0));
        aox_msg_free(run(&b, more[i], 0));
        aox_msg_free(run(&c, more[i], 0));
        CHECK(digest_eq(&a, &c));
        CHECK(digest_eq(&a, &b));
    }
    /* incremental snapshot (unchanged pages kept from m1) */
    snap_restore(&a, &d, &m1, &m2);
    if (d.state) {
        CHECK(digest_eq(&a, &d));
        expect(&a, "count", "5");
        expect(&d, "count", "5");
        CHECK(digest_eq(&a, &d));
        d.ops->free(d.state);
    }
    a.ops->free(a.state);
    b.ops->free(b.state);
    c.ops->free(c.state);
    aox_msg_free(a.def);
    aox_msg_free(b.def);
    aox_buf_free(&m1);
    aox_buf_free(&m2);
}

/* raw call op(code, v) of mod_digest.wasm; returns the result (caller frees) */
static aox_msg *run_op(proc *p, int code, int v, int dry)
{
    aox_msg *m = aox_msg_new(), *asg = aox_msg_new(), *res = aox_msg_new();
    aox_value x = { .type = AOX_V_INT, .u.i = code }, y = { .type = AOX_V_INT, .u.i = v };
    aox_msg_list_append(m, "parameters", &x);
    aox_msg_list_append(m, "parameters", &y);
    aox_call call;
    memset(&call, 0, sizeof call);
    call.pid = PID;
    call.process = p->def;
    call.assignment = asg;
    call.message = m;
    call.slot = ++p->slot;
    call.limits = &p->limits;
    call.dry_run = dry;
    aox_err err = {0};
    CHECK(p->ops->compute(p->state, &call, res, &err) == 0);
    aox_msg_free(m);
    aox_msg_free(asg);
    return res;
}

/* runs op and checks whether the digest changed as expected */
static void op_changes(proc *p, int code, int v, int dry, int want_change)
{
    uint8_t before[32], after[32];
    digest_of(p, before);
    aox_msg_free(run_op(p, code, v, dry));
    digest_of(p, after);
    int changed = memcmp(before, after, 32) != 0;
    if (changed != want_change)
        fprintf(stderr, "  op(%d, %d)%s: digest %s\n", code, v, dry ? " dry" : "",
                changed ? "changed" : "did not change");
    CHECK(changed == want_change);
}

static void test_digestw(const char *path)
{
    load_module(path, NULL);
    proc p, q;
    memset(&p, 0, sizeof p);
    aox_msg *def = make_def("stack@1.0");
    aox_value name = { .type = AOX_V_BYTES };
    name.u.bytes.ptr = (uint8_t *)"wasm@1.0";
    name.u.bytes.len = 8;
    aox_msg_list_append(def, "device-stack", &name);
    aox_msg_set_str(def, "function", "op");
    proc_init(&p, def);
    if (!p.state)
        return;
    uint8_t d0[32], d1[32];
    digest_of(&p, d0);
    op_changes(&p, 0, 5, 0, 1);                 /* the global only */
    op_changes(&p, 0, 0, 0, 1);
    digest_of(&p, d1);
    CHECK(memcmp(d0, d1, 32) == 0);             /* back to the same state: same digest */
    aox_aos_stats s0, s1;
    aox_aos_get_stats(&s0);
    op_changes(&p, 1, 1, 0, 1);                 /* one memory page */
    aox_aos_get_stats(&s1);
    CHECK(s1.pages_hashed - s0.pages_hashed == 1);   /* only that page was rehashed */
    op_changes(&p, 2, 0, 0, 1);                 /* a directory in the fs only */
    op_changes(&p, 2, 0, 0, 0);                 /* mkdir again: EEXIST, nothing changes */
    op_changes(&p, 3, 7, 0, 1);                 /* tempRet0 only */
    op_changes(&p, 4, 1, 0, 1);                 /* memory size (a zero page more) */
    op_changes(&p, 1, 33, 0, 1);                /* a page in the new memory */
    op_changes(&p, 5, 0, 0, 0);                 /* page + global, then trap: rolled back */
    op_changes(&p, 1, 1, 1, 0);                 /* dry run */
    op_changes(&p, 2, 1, 1, 0);                 /* dry run of an fs change */
    aox_buf man = {0};
    snap_restore(&p, &q, NULL, &man);
    if (q.state) {
        CHECK(digest_eq(&p, &q));
        q.ops->free(q.state);
    }
    /* growth past a tree level (48 -> 1168 pages): the tree grown message by message
     * equals the one a restore builds from scratch */
    op_changes(&p, 4, 70, 0, 1);
    op_changes(&p, 1, 1000, 0, 1);
    aox_buf man2 = {0};
    snap_restore(&p, &q, &man, &man2);
    aox_buf_free(&man2);
    if (q.state) {
        CHECK(digest_eq(&p, &q));
        aox_msg_free(run_op(&p, 2, 2, 0));
        aox_msg_free(run_op(&q, 2, 2, 0));
        aox_msg_free(run_op(&p, 1, 40, 0));
        aox_msg_free(run_op(&q, 1, 40, 0));
        CHECK(digest_eq(&p, &q));
        q.ops->free(q.state);
    }
    aox_buf_free(&man);
    p.ops->free(p.state);
    aox_msg_free(p.def);
}

/* ------------------------------------------------------------------ boot (slot 0) */

static int64_t boot_clock_ms = 1700000000555;
static int64_t boot_clock(void *ud) { (void)ud; return boot_clock_ms; }

static aox_procs *boot_open(aox_store *s, uint64_t K)
{
    aox_procs_opts o;
    aox_procs *p = NULL;
    aox_err err = {0};
    memset(&o, 0, sizeof o);
    o.store = s;
    o.snapshot_every = K;
    o.clock_ms = boot_clock;
    o.block_height = 5;
    if (aox_procs_open(&o, &p, &err))
        fprintf(stderr, "procs: %s\n", err.msg);
    CHECK(p != NULL);
    return p;
}

static aox_msg *boot_def(const char *data)
{
    aox_msg *d = make_def("wasm@1.0");
    aox_msg_set_str(d, "data", data);
    return d;
}

static void boot_schedule(aox_procs *p, const char *pid, const char *data, int nonce)
{
    aox_msg *m = aox_msg_new();
    aox_err err = {0};
    aox_msg_set_str(m, "data", data);
    aox_msg_set_str(m, "from", FROM);
    aox_msg_set_int(m, "nonce", nonce);
    int rc = aox_proc_schedule(p, pid, m, NULL, &err);
    if (rc)
        fprintf(stderr, "schedule: %s\n", err.msg);
    CHECK(rc == 0);
    aox_msg_free(m);
}

static aox_msg *boot_compute(aox_procs *p, const char *pid, uint64_t slot,
                             aox_compute_info *info)
{
    aox_msg *r = NULL;
    aox_err err = {0};
    int rc = aox_proc_compute(p, pid, slot, &r, info, &err);
    if (rc)
        fprintf(stderr, "compute %llu: %s\n", (unsigned long long)slot, err.msg);
    CHECK(rc == 0 && r);
    return r ? r : aox_msg_new();
}

static void boot_expect(aox_procs *p, const char *pid, uint64_t slot, const char *want)
{
    aox_msg *r = boot_compute(p, pid, slot, NULL);
    if (strcmp(out_data(r), want) != 0)
        fprintf(stderr, "  slot %llu: want '%s', got '%s' (error '%s')\n",
                (unsigned long long)slot, want, out_data(r), err_msg(r));
    CHECK(strcmp(out_data(r), want) == 0 && !aox_result_is_error(r));
    aox_msg_free(r);
}

static void encode_all(aox_procs *p, const char *pid, uint64_t n, aox_buf *out)
{
    for (uint64_t s = 0; s <= n; s++) {
        aox_msg *r = boot_compute(p, pid, s, NULL);
        CHECK(aox_msg_encode(r, out) == 0);
        aox_msg_free(r);
    }
}

static void test_boot(const char *path)
{
    aox_err err = {0};
    aox_store *s2 = NULL;
    aox_msg *def = NULL, *r;
    aox_buf a = {0}, b = {0};
    aox_compute_info info;
    char pid[AOX_ID_LEN + 1], pid2[AOX_ID_LEN + 1];
    char want[256];
    int64_t v = -1;

    load_module(path, NULL);
    aox_procs *p = boot_open(store, 2);
    def = boot_def("boot-data-1");
    CHECK(aox_proc_spawn(p, def, pid, NULL, &err) == 0);

    /* slot 0 is the Process message through handle: output, outbox, state */
    r = boot_compute(p, pid, 0, &info);
    CHECK(strcmp(out_data(r), "booted boot-data-1") == 0 && !aox_result_is_error(r));
    CHECK(aox_msg_get_int(r, "slot", &v) == 0 && v == 0);
    CHECK(aox_msg_get_int(r, "gas", &v) == 0 && v > 0);
    const aox_value *ob = aox_msg_get(r, "outbox");
    CHECK(ob && ob->type == AOX_V_LIST && ob->u.list.len == 1);
    if (ob && ob->type == AOX_V_LIST && ob->u.list.len == 1) {
        const aox_msg *m = ob->u.list.items[0].u.msg;
        CHECK(strcmp(aox_msg_get_str(m, "action", NULL) ? aox_msg_get_str(m, "action", NULL)
                                                        : "", "Booted") == 0);
        CHECK(strcmp(aox_msg_get_str(m, "target", NULL) ? aox_msg_get_str(m, "target", NULL)
                                                        : "", pid) == 0);
    }
    aox_msg_free(r);
    r = boot_compute(p, pid, 0, &info);
    CHECK(info.cached == 1 && strcmp(out_data(r), "booted boot-data-1") == 0);
    aox_msg_free(r);

    /* later slots see the state after boot, which ran exactly once; the boot saw the
     * spawn's timestamp */
    snprintf(want, sizeof want, "boots=1 data=boot-data-1 ts=%lld", (long long)boot_clock_ms);
    boot_clock_ms += 1000;
    for (int i = 1; i <= 5; i++)
        boot_schedule(p, pid, "boots", i);
    for (uint64_t sl = 1; sl <= 5; sl++)
        boot_expect(p, pid, sl, want);

    /* restart: a new manager over the same store starts from the snapshot close took
     * at 5 (after boot), and boot does not run again */
    aox_procs_close(p);
    p = boot_open(store, 2);
    boot_schedule(p, pid, "boots", 6);
    r = boot_compute(p, pid, 6, &info);
    if (info.started_from != 1 || info.start_slot != 5)
        fprintf(stderr, "  restart: from %d at %llu\n", info.started_from,
                (unsigned long long)info.start_slot);
    CHECK(info.started_from == 1 && info.start_slot == 5);
    CHECK(strcmp(out_data(r), want) == 0);
    aox_msg_free(r);
    encode_all(p, pid, 6, &a);

    /* the same process on a fresh store without snapshots (init + boot + replay)
     * gives byte-identical results for every slot */
    CHECK(aox_store_open("memory:", NULL, &s2, &err) == 0);
    {
        aox_buf mk = {0}, mb = {0};
        aox_key_simple(&mk, "module", module_id);
        CHECK(aox_store_get(store, mk.data, mk.len, &mb) == 0);
        CHECK(aox_store_put(s2, mk.data, mk.len, mb.data, mb.len) == 0);
        aox_buf_free(&mk);
        aox_buf_free(&mb);
    }
    aox_procs *q = boot_open(s2, 1000);
    boot_clock_ms -= 1000;
    CHECK(aox_proc_spawn(q, def, pid2, NULL, &err) == 0);
    CHECK(strcmp(pid, pid2) == 0);
    boot_clock_ms += 1000;
    for (int i = 1; i <= 6; i++)
        boot_schedule(q, pid2, "boots", i);
    r = boot_compute(q, pid2, 6, &info);
    CHECK(info.started_from == 2 && info.slots_applied == 6);
    aox_msg_free(r);
    encode_all(q, pid2, 6, &b);
    CHECK(a.len == b.len && a.len > 0 && memcmp(a.data, b.data, a.len) == 0);
    aox_procs_close(q);
    aox_store_close(s2);

    /* dry run: the state after boot, the body's Id, the latest assignment's time (not
     * the node clock, which moved on) */
    boot_clock_ms += 777000;
    {
        aox_msg *m = aox_msg_new();
        aox_dry_run_opts o = { "dry-run-id-1234" };
        aox_msg_set_str(m, "data", "whoami");
        r = NULL;
        CHECK(aox_proc_dry_run_ex(p, pid, m, &o, &r, &err) == 0);
        snprintf(want, sizeof want, "id=dry-run-id-1234 ts=%lld",
                 (long long)(boot_clock_ms - 777000));
        if (r && strcmp(out_data(r), want) != 0)
            fprintf(stderr, "  dry run: want '%s', got '%s'\n", want, out_data(r));
        CHECK(r && strcmp(out_data(r), want) == 0);
        aox_msg_free(r);
        /* without an Id: the message's aox ID */
        char mid[AOX_ID_LEN + 1];
        CHECK(aox_msg_id(m, mid) == 0);
        r = NULL;
        CHECK(aox_proc_dry_run(p, pid, m, &r, &err) == 0);
        CHECK(r && strncmp(out_data(r), "id=", 3) == 0 &&
              strncmp(out_data(r) + 3, mid, AOX_ID_LEN) == 0);
        aox_msg_free(r);
        o.message_id = "";
        CHECK(aox_proc_dry_run_ex(p, pid, m, &o, &r, &err) == AOX_E_INVALID);
        aox_msg_free(m);
        uint64_t cur = 0;
        CHECK(aox_proc_current_slot(p, pid, &cur, &err) == 0 && cur == 6);
    }
    aox_procs_close(p);
    aox_msg_free(def);

    /* a failing boot: slot 0 is a guest error, the state is init's */
    p = boot_open(store, 2);
    def = boot_def("fail");
    CHECK(aox_proc_spawn(p, def, pid, NULL, &err) == 0);
    r = boot_compute(p, pid, 0, NULL);
    CHECK(aox_result_is_error(r) && strcmp(err_msg(r), "boot refused") == 0);
    aox_msg_free(r);
    boot_schedule(p, pid, "boots", 1);
    boot_expect(p, pid, 1, "boots=0 data= ts=");
    /* a dry run on a process that has only its spawn boots first */
    aox_msg_free(def);
    def = boot_def("boot-data-2");
    CHECK(aox_proc_spawn(p, def, pid2, NULL, &err) == 0);
    {
        aox_msg *m = aox_msg_new();
        aox_msg_set_str(m, "data", "boots");
        r = NULL;
        CHECK(aox_proc_dry_run(p, pid2, m, &r, &err) == 0);
        snprintf(want, sizeof want, "boots=1 data=boot-data-2 ts=%lld", (long long)boot_clock_ms);
        CHECK(r && strcmp(out_data(r), want) == 0);
        aox_msg_free(r);
        aox_msg_free(m);
    }
    boot_expect(p, pid2, 0, "booted boot-data-2");
    aox_procs_close(p);
    aox_msg_free(def);
    aox_buf_free(&a);
    aox_buf_free(&b);
}

int main(int argc, char **argv)
{
    aox_err err = {0};
    if (argc < 3)
        return 2;
    if (aox_store_open("memory:", NULL, &store, &err)) {
        fprintf(stderr, "store: %s\n", err.msg);
        return 1;
    }
    aox_device_register_builtin();
    if (aox_aos_register_devices()) {
        fprintf(stderr, "cannot register devices\n");
        return 1;
    }
    if (strcmp(argv[1], "c") == 0)
        test_c(argv[2]);
    else if (strcmp(argv[1], "cxx") == 0)
        test_cxx(argv[2]);
    else if (strcmp(argv[1], "w64") == 0)
        test_w64(argv[2]);
    else if (strcmp(argv[1], "snap") == 0)
        test_snap(argv[2]);
    else if (strcmp(argv[1], "digest") == 0)
        test_digest(argv[2]);
    else if (strcmp(argv[1], "digestw") == 0)
        test_digestw(argv[2]);
    else if (strcmp(argv[1], "legacy") == 0)
        test_legacy(argv[2]);
    else if (strcmp(argv[1], "boot") == 0)
        test_boot(argv[2]);
    else
        return 2;
    aox_store_close(store);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
