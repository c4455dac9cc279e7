/*
 * tests/http/test_legacy.c: the legacy ao routes (http/legacy.c) through
 * aox_http_dispatch, without sockets, on a memory store. Items are signed here with
 * the ANS-104 vector wallet (PSS salt 0, so IDs are stable). The process device is
 * test-counter, also registered under the name wasm@1.0 so that `POST /` spawns
 * (Module-Format wasm32-*) and /state can run without a WebAssembly module; the
 * real module path is covered by aoconnect_e2e. Every error path must answer a
 * JSON error body and change nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ans104/test_wallet.h"
#include "ans104/ans104.h"
#include "core/id.h"
#include "core/json.h"
#include "core/log.h"
#include "device/device.h"
#include "http/dispatch.h"
#include "process/process.h"
#include "store/store.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    failures++; } } while (0)

#define NOID "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static aox_http_ctx ctx;
static aox_store *st;
static aox_ans104_key *key;

/* ------------------------------------------------------------------ requests */

typedef struct kv { const char *k, *v; } kv;

static const char *qlookup(void *ud, const char *k)
{
    for (const kv *p = ud; p && p->k; p++) if (strcmp(p->k, k) == 0) return p->v;
    return NULL;
}

/* Dispatches; returns the status; *out gets the parsed JSON body (NULL if none). */
static int req(const char *method, const char *path, const void *body, size_t n,
               const kv *query, json_t **out, aox_http_response *keep)
{
    aox_http_request rq = { method, path, qlookup, (void *)query, body, n };
    aox_http_response resp;
    json_error_t je;
    int status;
    memset(&resp, 0, sizeof resp);
    aox_http_dispatch(&ctx, &rq, &resp);
    status = resp.status;
    if (out)
        *out = strcmp(resp.content_type ? resp.content_type : "", "application/json") == 0
                   ? json_loadb((const char *)resp.body.data, resp.body.len, 0, &je) : NULL;
    if (keep) *keep = resp;
    else aox_http_response_free(&resp);
    return status;
}

static int reqs(const char *method, const char *path, const char *body, const kv *query,
                json_t **out)
{
    return req(method, path, body, body ? strlen(body) : 0, query, out, NULL);
}

/* An error answer: JSON {"error":{"code":code,...}}. Frees j. */
static int is_err(json_t *j, const char *code)
{
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    int ok = c && strcmp(c, code) == 0;
    if (!ok) {
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fprintf(stderr, "  expected error %s, got %s\n", code, s ? s : "(no JSON)");
        free(s);
    }
    json_decref(j);
    return ok;
}

/* ------------------------------------------------------------------ items */

/* Signs an item: tags as name/value pairs (NULL-terminated), target pid or NULL. */
static void item(aox_buf *out, const char *target, const char *data, const char *const *tags)
{
    aox_ans104_tag t[16];
    size_t n = 0;
    uint8_t tb[32];
    aox_buf tbuf = {0};
    aox_ans104_spec spec;
    aox_err err;
    for (; tags && tags[2 * n]; n++) {
        t[n].name = (const uint8_t *)tags[2 * n];
        t[n].name_len = strlen(tags[2 * n]);
        t[n].value = (const uint8_t *)tags[2 * n + 1];
        t[n].value_len = strlen(tags[2 * n + 1]);
    }
    memset(&spec, 0, sizeof spec);
    if (target) {
        CHECK(aox_b64_decode(target, strlen(target), &tbuf) == 0 && tbuf.len == 32);
        memcpy(tb, tbuf.data, 32);
        spec.target = tb;
    }
    spec.tags = t;
    spec.tag_count = n;
    spec.data = (const uint8_t *)data;
    spec.data_len = strlen(data);
    aox_buf_reset(out);
    CHECK(aox_ans104_create(&spec, key, 0, out, &err) == 0);
    aox_buf_free(&tbuf);
}

static void id_of(const aox_buf *raw, char id[AOX_ID_LEN + 1])
{
    aox_ans104_item *it = NULL;
    CHECK(aox_ans104_parse(raw->data, raw->len, &it, NULL) == 0);
    if (it) aox_ans104_id(it, id);
    else strcpy(id, NOID);
    aox_ans104_free(it);
}

static int post_item(const aox_buf *raw, json_t **out)
{
    return req("POST", "/", raw->data, raw->len, NULL, out, NULL);
}

static int stored(const char *id)
{
    aox_buf k = {0}, v = {0};
    int rc;
    aox_ans104_store_key(&k, id);
    rc = aox_store_get(st, k.data, k.len, &v);
    aox_buf_free(&k);
    aox_buf_free(&v);
    return rc == 0;
}

static uint64_t current(const char *pid)
{
    uint64_t c = UINT64_MAX;
    (void)aox_proc_current_slot(ctx.procs, pid, &c, NULL);
    return c;
}

static const char *jstr(json_t *j, const char *k) { return json_string_value(json_object_get(j, k)); }
static json_int_t jint(json_t *j, const char *k) { return json_integer_value(json_object_get(j, k)); }

/* ------------------------------------------------------------------ tests */

static char module_id[AOX_ID_LEN + 1], pid[AOX_ID_LEN + 1];

static void test_items(void)
{
    static const char *const mod_tags[] = { "Data-Protocol", "ao", "Type", "Module",
        "Module-Format", "wasm32-unknown-emscripten4", "Input-Encoding", "JSON-1",
        "Output-Encoding", "JSON-1", "Content-Type", "application/wasm", NULL };
    static const char *const lua_tags[] = { "Type", "Module", "Module-Format", "lua-5.3", NULL };
    static const char *const nofmt_tags[] = { "Type", "Module", NULL };
    aox_buf raw = {0}, bad = {0};
    char id[AOX_ID_LEN + 1], other[AOX_ID_LEN + 1];
    json_t *j;

    /* malformed bodies */
    CHECK(is_err((reqs("POST", "/", NULL, NULL, &j), j), "invalid"));
    CHECK(reqs("POST", "/", "nope", NULL, &j) == 400 && is_err(j, "unsupported"));  /* sig type */
    CHECK(req("POST", "/", "\x01\x00\x00", 3, NULL, &j, NULL) == 400 && is_err(j, "invalid"));
    CHECK(reqs("GET", "/", NULL, NULL, &j) == 405 && is_err(j, "method_not_allowed"));

    /* a module */
    item(&raw, NULL, "wasm", mod_tags);
    id_of(&raw, module_id);
    /* tampered: one data bit flipped -> 400, nothing stored */
    aox_buf_append(&bad, raw.data, raw.len);
    bad.data[bad.len - 1] ^= 1;
    id_of(&bad, id);
    CHECK(post_item(&bad, &j) == 400 && is_err(j, "invalid"));
    CHECK(!stored(id));
    CHECK(post_item(&raw, &j) == 200);
    CHECK(jstr(j, "id") && strcmp(jstr(j, "id"), module_id) == 0);
    json_decref(j);
    CHECK(stored(module_id));

    /* modules that cannot run */
    item(&raw, NULL, "x", lua_tags);
    id_of(&raw, other);
    CHECK(post_item(&raw, &j) == 200);
    json_decref(j);
    {
        const char *const p[] = { "Type", "Process", "Module", other, NULL };
        item(&raw, NULL, " ", p);
        CHECK(post_item(&raw, &j) == 400 && is_err(j, "unsupported"));
    }
    item(&raw, NULL, "y", nofmt_tags);
    id_of(&raw, other);
    CHECK(post_item(&raw, &j) == 200);
    json_decref(j);
    {
        const char *const p[] = { "Type", "Process", "Module", other, NULL };
        const char *const p2[] = { "Type", "Process", "Module", NOID, NULL };
        const char *const p3[] = { "Type", "Process", NULL };
        item(&raw, NULL, " ", p);
        CHECK(post_item(&raw, &j) == 400 && is_err(j, "invalid"));
        item(&raw, NULL, " ", p2);
        CHECK(post_item(&raw, &j) == 404 && is_err(j, "not_found"));
        item(&raw, NULL, " ", p3);
        CHECK(post_item(&raw, &j) == 400 && is_err(j, "invalid"));
    }

    /* spawn (wasm32 -> wasm@1.0, here test-counter underneath), idempotent */
    {
        const char *const p[] = { "Name", "legacy", "Data-Protocol", "ao", "Type", "Process",
                                  "Module", module_id, "Scheduler", NOID, "Pages", "3", NULL };
        aox_msg *def = NULL;
        item(&raw, NULL, " ", p);
        id_of(&raw, pid);
        CHECK(post_item(&raw, &j) == 200);
        CHECK(jstr(j, "process") && strcmp(jstr(j, "process"), pid) == 0);
        CHECK(jstr(j, "id") && strcmp(jstr(j, "id"), pid) == 0);
        CHECK(json_is_integer(json_object_get(j, "slot")) && jint(j, "slot") == 0);
        CHECK(jint(j, "timestamp") == 1700000000000);
        json_decref(j);
        CHECK(post_item(&raw, &j) == 200 && jint(j, "slot") == 0);
        json_decref(j);
        CHECK(current(pid) == 0);
        CHECK(aox_proc_definition(ctx.procs, pid, &def, NULL) == 0);
        CHECK(def && strcmp(aox_msg_get_str(def, "execution-device", NULL), "wasm@1.0") == 0);
        CHECK(def && strcmp(aox_msg_get_str(def, "image", NULL), module_id) == 0);
        aox_msg_free(def);
    }

    /* messages */
    {
        const char *const m[] = { "Action", "Add", "Value", "5", NULL };
        const char *const f[] = { "Action", "fail", NULL };
        const char *const unk[] = { "Type", "Frobnicate", NULL };
        item(&raw, NULL, "no target", m);
        CHECK(post_item(&raw, &j) == 400 && is_err(j, "invalid"));
        item(&raw, NOID, "unknown target", m);
        CHECK(post_item(&raw, &j) == 404 && is_err(j, "not_found"));
        item(&raw, pid, "unknown type", unk);
        CHECK(post_item(&raw, &j) == 400 && is_err(j, "unsupported"));
        CHECK(current(pid) == 0);
        item(&raw, pid, "five", m);
        id_of(&raw, id);
        CHECK(post_item(&raw, &j) == 200 && jint(j, "slot") == 1);
        CHECK(jstr(j, "id") && strcmp(jstr(j, "id"), id) == 0);
        json_decref(j);
        CHECK(post_item(&raw, &j) == 200 && jint(j, "slot") == 1);   /* idempotent */
        json_decref(j);
        item(&raw, pid, "fails", f);
        CHECK(post_item(&raw, &j) == 200 && jint(j, "slot") == 2);
        json_decref(j);
        item(&raw, pid, "seven", (const char *const[]){ "Value", "7", NULL });
        CHECK(post_item(&raw, &j) == 200 && jint(j, "slot") == 3);
        json_decref(j);
        CHECK(current(pid) == 3);
    }
    aox_buf_free(&raw);
    aox_buf_free(&bad);
}

static void test_graphql(void)
{
    char body[512];
    json_t *j, *node;
    snprintf(body, sizeof body, "{\"query\":\"query ($transactionIds: [ID!]!) { transactions("
             "ids: $transactionIds) { edges { node { owner { address } tags { name value } } } } }\","
             "\"variables\":{\"transactionIds\":[\"%s\",\"%s\"]}}", module_id, NOID);
    CHECK(reqs("POST", "/graphql", body, NULL, &j) == 200);
    node = json_object_get(json_array_get(json_object_get(json_object_get(
        json_object_get(j, "data"), "transactions"), "edges"), 0), "node");
    CHECK(json_array_size(json_object_get(json_object_get(json_object_get(j, "data"),
                                                          "transactions"), "edges")) == 1);
    CHECK(jstr(node, "id") && strcmp(jstr(node, "id"), module_id) == 0);
    CHECK(jstr(json_object_get(node, "owner"), "address") &&
          strlen(jstr(json_object_get(node, "owner"), "address")) == 43);
    CHECK(json_array_size(json_object_get(node, "tags")) == 6);
    CHECK(jstr(json_array_get(json_object_get(node, "tags"), 2), "value") &&
          strcmp(jstr(json_array_get(json_object_get(node, "tags"), 2), "value"),
                 "wasm32-unknown-emscripten4") == 0);
    json_decref(j);
    /* IDs as literals in the query text */
    snprintf(body, sizeof body, "{\"query\":\"{ transactions(ids: [\\\"%s\\\"]) { edges "
             "{ node { id } } } }\"}", module_id);
    CHECK(reqs("POST", "/graphql", body, NULL, &j) == 200);
    CHECK(json_array_size(json_object_get(json_object_get(json_object_get(j, "data"),
                                                          "transactions"), "edges")) == 1);
    json_decref(j);
    CHECK(reqs("POST", "/graphql", "{not json", NULL, &j) == 400 && is_err(j, "bad_json"));
    CHECK(reqs("POST", "/graphql", "{\"query\":\"{ blocks { id } }\"}", NULL, &j) == 400 &&
          is_err(j, "invalid"));
    CHECK(reqs("GET", "/graphql", NULL, NULL, &j) == 405 && is_err(j, "method_not_allowed"));
}

static int64_t clock_now;

static void test_reads(void)
{
    kv q_pid[] = { { "process-id", pid }, { NULL, NULL } };
    kv q_none[] = { { NULL, NULL } };
    kv q_bad[] = { { "process-id", "short" }, { NULL, NULL } };
    kv q_unk[] = { { "process-id", NOID }, { NULL, NULL } };
    char path[160];
    json_t *j, *edges;
    uint64_t slot = 0;
    aox_msg *asg = NULL;
    const char *msg1;

    /* /result: slot 1 added 5 */
    CHECK(aox_proc_assignment(ctx.procs, pid, 1, &asg, NULL) == 0);
    msg1 = asg ? aox_msg_get_str(aox_msg_get_msg(asg, "body"), "id", NULL) : NULL;
    CHECK(msg1 != NULL);
    if (!msg1) return;
    snprintf(path, sizeof path, "/result/%s", msg1);
    CHECK(reqs("GET", path, NULL, q_pid, &j) == 200);
    CHECK(jint(json_object_get(j, "Output"), "counter") == 5);
    CHECK(json_is_array(json_object_get(j, "Messages")) && json_is_array(json_object_get(j, "Spawns")));
    CHECK(json_is_array(json_object_get(j, "Assignments")) && !json_object_get(j, "Error"));
    CHECK(jint(j, "GasUsed") == 1);
    json_decref(j);
    CHECK(reqs("GET", path, NULL, q_none, &j) == 400 && is_err(j, "invalid"));
    CHECK(reqs("GET", path, NULL, q_bad, &j) == 400 && is_err(j, "invalid"));
    CHECK(reqs("GET", path, NULL, q_unk, &j) == 404 && is_err(j, "not_found"));
    CHECK(reqs("POST", path, NULL, q_pid, &j) == 405 && is_err(j, "method_not_allowed"));
    CHECK(reqs("GET", "/result/" NOID, NULL, q_pid, &j) == 404 && is_err(j, "not_found"));
    /* the failed slot: Error, and the state is as before it */
    {
        aox_msg *a2 = NULL;
        CHECK(aox_proc_assignment(ctx.procs, pid, 2, &a2, NULL) == 0);
        snprintf(path, sizeof path, "/result/%s",
                 a2 ? aox_msg_get_str(aox_msg_get_msg(a2, "body"), "id", NULL) : NOID);
        aox_msg_free(a2);
        CHECK(reqs("GET", path, NULL, q_pid, &j) == 200);
        CHECK(json_is_string(json_object_get(j, "Error")));
        json_decref(j);
    }

    /* /results */
    snprintf(path, sizeof path, "/results/%s", pid);
    CHECK(reqs("GET", path, NULL, NULL, &j) == 200);
    edges = json_object_get(j, "edges");
    CHECK(json_array_size(edges) == 4);
    CHECK(jstr(json_array_get(edges, 0), "cursor") && strcmp(jstr(json_array_get(edges, 0), "cursor"), "0") == 0);
    CHECK(jint(json_object_get(json_object_get(json_array_get(edges, 3), "node"), "Output"), "counter") == 12);
    json_decref(j);
    {
        kv desc[] = { { "sort", "DESC" }, { "limit", "2" }, { NULL, NULL } };
        kv from[] = { { "from", "1" }, { "to", "2" }, { NULL, NULL } };
        kv past[] = { { "from", "3" }, { NULL, NULL } };
        kv bad1[] = { { "limit", "0" }, { NULL, NULL } };
        kv bad2[] = { { "sort", "UP" }, { NULL, NULL } };
        kv bad3[] = { { "from", "-1" }, { NULL, NULL } };
        CHECK(reqs("GET", path, NULL, desc, &j) == 200);
        edges = json_object_get(j, "edges");
        CHECK(json_array_size(edges) == 2 && strcmp(jstr(json_array_get(edges, 0), "cursor"), "3") == 0 &&
              strcmp(jstr(json_array_get(edges, 1), "cursor"), "2") == 0);
        json_decref(j);
        CHECK(reqs("GET", path, NULL, from, &j) == 200);
        edges = json_object_get(j, "edges");
        CHECK(json_array_size(edges) == 1 && strcmp(jstr(json_array_get(edges, 0), "cursor"), "2") == 0);
        json_decref(j);
        CHECK(reqs("GET", path, NULL, past, &j) == 200 &&
              json_array_size(json_object_get(j, "edges")) == 0);
        json_decref(j);
        CHECK(reqs("GET", path, NULL, bad1, &j) == 400 && is_err(j, "invalid"));
        CHECK(reqs("GET", path, NULL, bad2, &j) == 400 && is_err(j, "invalid"));
        CHECK(reqs("GET", path, NULL, bad3, &j) == 400 && is_err(j, "invalid"));
    }
    CHECK(reqs("GET", "/results/" NOID, NULL, NULL, &j) == 404 && is_err(j, "not_found"));

    /* /dry-run: evaluated on the latest state, nothing scheduled or kept */
    {
        const char *body = "{\"Id\":\"1234\",\"Target\":\"x\",\"Owner\":\"1234\",\"Anchor\":\"0\","
                           "\"Data\":\"d\",\"Tags\":[{\"name\":\"Value\",\"value\":\"100\"}]}";
        CHECK(reqs("POST", "/dry-run", body, q_pid, &j) == 200);
        CHECK(jint(json_object_get(j, "Output"), "counter") == 112);
        json_decref(j);
        CHECK(reqs("POST", "/dry-run", body, q_pid, &j) == 200);
        CHECK(jint(json_object_get(j, "Output"), "counter") == 112);     /* not kept */
        json_decref(j);
        /* the time is the latest assignment's, not the node clock (deterministic) */
        {
            aox_msg *a3 = NULL;
            int64_t ts3 = -1;
            CHECK(aox_proc_assignment(ctx.procs, pid, 3, &a3, NULL) == 0);
            CHECK(a3 && aox_msg_get_int(a3, "timestamp", &ts3) == 0);
            aox_msg_free(a3);
            clock_now += 86400000;
            CHECK(reqs("POST", "/dry-run", body, q_pid, &j) == 200);
            CHECK(jint(json_object_get(j, "Output"), "timestamp") == ts3);
            CHECK(jint(json_object_get(j, "Output"), "slot") == 4);
            json_decref(j);
            clock_now -= 86400000;
        }
        CHECK(current(pid) == 3);
        CHECK(reqs("POST", "/dry-run", "{\"Tags\":[{\"name\":\"Action\",\"value\":\"fail\"}]}",
                   q_pid, &j) == 200);
        CHECK(json_is_string(json_object_get(j, "Error")));
        json_decref(j);
        CHECK(reqs("POST", "/dry-run", body, q_none, &j) == 400 && is_err(j, "invalid"));
        CHECK(reqs("POST", "/dry-run", body, q_unk, &j) == 404 && is_err(j, "not_found"));
        CHECK(reqs("POST", "/dry-run", "[1]", q_pid, &j) == 400 && is_err(j, "bad_json"));
        CHECK(reqs("POST", "/dry-run", "{\"Tags\":[{\"v\":1}]}", q_pid, &j) == 400 &&
              is_err(j, "invalid"));
        CHECK(reqs("POST", "/dry-run", "{\"Tags\":7}", q_pid, &j) == 400 && is_err(j, "invalid"));
        CHECK(current(pid) == 3);
    }

    /* /state: test-counter's pages (3 x 256 B) as whole 64 KiB pages; only this
     * process is snapshotted (another live process ahead of its snapshot is not) */
    {
        aox_http_response resp;
        aox_procs_stats ps0, ps1;
        aox_msg *d2 = aox_msg_new(), *m2 = aox_msg_new(), *r2 = NULL;
        aox_buf k2 = {0}, v2 = {0};
        char pid2[AOX_ID_LEN + 1];
        aox_msg_set_str(d2, "type", "Process");
        aox_msg_set_str(d2, "execution-device", "test-counter@1.0");
        aox_msg_set_str(d2, "name", "bystander");
        CHECK(aox_proc_spawn(ctx.procs, d2, pid2, NULL, NULL) == 0);
        aox_msg_set_int(m2, "value", 3);
        CHECK(aox_proc_schedule(ctx.procs, pid2, m2, NULL, NULL) == 0);
        CHECK(aox_proc_compute(ctx.procs, pid2, 1, &r2, NULL, NULL) == 0);
        aox_msg_free(r2);
        aox_msg_free(m2);
        aox_msg_free(d2);
        aox_procs_stats_get(ctx.procs, &ps0);
        snprintf(path, sizeof path, "/state/%s", pid);
        static char mem[65536 + 1000];
        uint64_t got = 0, nonzero = 0, tail = 0;
        CHECK(req("GET", path, NULL, 0, NULL, NULL, &resp) == 200);
        CHECK(resp.stream_read != NULL && resp.stream_len == 65536);
        CHECK(resp.content_type && strcmp(resp.content_type, "application/octet-stream") == 0);
        while (resp.stream_read && got < resp.stream_len) {
            long long n = resp.stream_read(resp.stream_ud, got, mem + got, 1000);
            CHECK(n > 0 && n <= 1000);
            if (n <= 0) break;
            got += (uint64_t)n;
        }
        CHECK(got == 65536);
        for (uint64_t i = 0; i < got; i++) {
            if (i < 768) nonzero += mem[i] != 0;
            else tail += mem[i] != 0;
        }
        CHECK(nonzero > 0 && tail == 0);      /* 3 test-counter pages of 256 B, then zeros */
        aox_http_response_free(&resp);        /* frees the stream */
        aox_procs_stats_get(ctx.procs, &ps1);
        CHECK(ps1.snapshots == ps0.snapshots + 1);
        CHECK(aox_key_proc(&k2, pid2, "snap", 1) == 0);
        CHECK(aox_store_get(st, k2.data, k2.len, &v2) == AOX_E_NOT_FOUND);
        aox_buf_free(&k2);
        aox_buf_free(&v2);
        CHECK(reqs("GET", "/state/" NOID, NULL, NULL, &j) == 404 && is_err(j, "not_found"));
    }
    (void)slot;
    aox_msg_free(asg);
}

static void test_assign(void)
{
    kv q[] = { { "process-id", NULL }, { "assign", NULL }, { NULL, NULL } };
    kv q_base[] = { { "process-id", pid }, { "assign", NOID }, { "base-layer", "" }, { NULL, NULL } };
    kv q_nopid[] = { { "assign", NOID }, { NULL, NULL } };
    aox_buf raw = {0};
    char pid2[AOX_ID_LEN + 1], mid[AOX_ID_LEN + 1], path[160];
    json_t *j;
    const char *const p[] = { "Type", "Process", "Module", module_id, "Name", "second", NULL };
    const char *const m[] = { "Value", "40", NULL };

    item(&raw, NULL, " ", p);
    id_of(&raw, pid2);
    CHECK(post_item(&raw, &j) == 200);
    json_decref(j);
    item(&raw, pid, "forty", m);          /* a message of the first process */
    id_of(&raw, mid);
    CHECK(post_item(&raw, &j) == 200 && jint(j, "slot") == 4);
    json_decref(j);

    q[0].v = pid2;
    q[1].v = mid;
    CHECK(req("POST", "/", NULL, 0, q, &j, NULL) == 200);
    CHECK(jint(j, "slot") == 1 && jstr(j, "id") && strlen(jstr(j, "id")) == 43);
    CHECK(jstr(j, "message") && strcmp(jstr(j, "message"), mid) == 0);
    CHECK(jstr(j, "process") && strcmp(jstr(j, "process"), pid2) == 0);
    json_decref(j);
    CHECK(req("POST", "/", NULL, 0, q, &j, NULL) == 200 && jint(j, "slot") == 1);
    json_decref(j);
    {
        kv qr[] = { { "process-id", pid2 }, { NULL, NULL } };
        snprintf(path, sizeof path, "/result/%s", mid);
        CHECK(reqs("GET", path, NULL, qr, &j) == 200);
        CHECK(jint(json_object_get(j, "Output"), "counter") == 40);
        json_decref(j);
    }
    CHECK(req("POST", "/", NULL, 0, q_base, &j, NULL) == 400 && is_err(j, "unsupported"));
    CHECK(req("POST", "/", NULL, 0, q_nopid, &j, NULL) == 400 && is_err(j, "invalid"));
    q[1].v = NOID;                         /* no such item */
    CHECK(req("POST", "/", NULL, 0, q, &j, NULL) == 404 && is_err(j, "not_found"));
    q[0].v = NOID;                         /* no such process */
    q[1].v = mid;
    CHECK(req("POST", "/", NULL, 0, q, &j, NULL) == 404 && is_err(j, "not_found"));
    CHECK(current(pid2) == 1);
    aox_buf_free(&raw);
}

static json_t *info_fn(void *ud) { (void)ud; return json_pack("{s:s}", "version", "t"); }

static int64_t clock_now = 1700000000000;   /* moved by test_reads */
static int64_t clock_fixed(void *ud) { (void)ud; return clock_now; }

int main(int argc, char **argv)
{
    static aox_device_ops as_wasm;
    aox_procs_opts po;
    aox_procs *procs = NULL;
    aox_err err;
    json_t *j;
    int rc = tw_wallet_arg(argc, argv, &key);

    if (rc)
        return rc;

    aox_log_set_level(AOX_LOG_WARN);
    CHECK(aox_device_register_builtin() == 0);
    as_wasm = *aox_device_find("test-counter@1.0");
    as_wasm.name = "wasm@1.0";
    CHECK(aox_device_register(&as_wasm) == 0);
    CHECK(aox_store_open("memory:", NULL, &st, &err) == 0);
    memset(&po, 0, sizeof po);
    po.store = st;
    po.clock_ms = clock_fixed;
    CHECK(aox_procs_open(&po, &procs, &err) == 0);
    if (!procs) return 1;
    ctx.procs = procs;
    ctx.page_max = 10;
    ctx.info = info_fn;

    CHECK(reqs("GET", "/~meta@1.0/info", NULL, NULL, &j) == 200);
    CHECK(json_is_string(json_array_get(json_object_get(j, "features"), 0)) &&
          strcmp(json_string_value(json_array_get(json_object_get(j, "features"), 0)),
                 "legacy-routes") == 0);
    json_decref(j);

    test_items();
    test_graphql();
    test_reads();
    test_assign();

    aox_procs_close(procs);
    aox_store_close(st);
    aox_ans104_key_free(key);
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    else printf("ok\n");
    return failures ? 1 : 0;
}
