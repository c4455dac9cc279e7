/*
 * tests/http/test_dispatch.c: HTTP routing (pure) and the route handlers against a
 * memory store with the test-counter device, without sockets: status codes, JSON
 * error bodies, 425 with the current slot, paging, and "bad input changes nothing".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "device/device.h"
#include "http/dispatch.h"
#include "process/process.h"
#include "store/store.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    failures++; } } while (0)

#define PID "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static void expect_route(const char *method, const char *path, int code,
                         aox_route_kind kind, const char *arg)
{
    aox_route r;
    aox_err err;
    int rc = aox_http_route(method, path, &r, &err);
    if (rc != code || (code == 0 && r.kind != kind) ||
        (arg && strcmp(r.arg, arg) != 0)) {
        fprintf(stderr, "route %s %s: rc=%d kind=%d arg='%s' (want rc=%d kind=%d arg=%s)\n",
                method, path, rc, (int)r.kind, r.arg, code, (int)kind, arg ? arg : "-");
        failures++;
    }
}

static void test_routes(void)
{
    aox_route r;
    aox_err err;
    expect_route("GET", "/healthz", 0, AOX_R_HEALTHZ, NULL);
    expect_route("GET", "/readyz", 0, AOX_R_READYZ, NULL);
    expect_route("GET", "/metrics", 0, AOX_R_METRICS, NULL);
    expect_route("POST", "/metrics", AOX_E_METHOD, 0, NULL);
    expect_route("GET", "/healthz/", 0, AOX_R_HEALTHZ, NULL);
    expect_route("POST", "/healthz", AOX_E_METHOD, 0, NULL);
    expect_route("GET", "//healthz", AOX_E_NOT_FOUND, 0, NULL);
    expect_route("GET", "/", AOX_E_NOT_FOUND, 0, NULL);
    expect_route("GET", "/nope", AOX_E_NOT_FOUND, 0, NULL);
    expect_route("GET", "/~meta@1.0/info", 0, AOX_R_INFO, NULL);
    expect_route("POST", "/~meta@1.0/log-level", 0, AOX_R_LOG_LEVEL_SET, NULL);
    expect_route("GET", "/~meta@1.0/log-level", 0, AOX_R_LOG_LEVEL_GET, NULL);
    expect_route("GET", "/~meta@1.0/nope", AOX_E_NOT_FOUND, 0, NULL);
    expect_route("POST", "/spawn", 0, AOX_R_SPAWN, NULL);
    expect_route("GET", "/spawn", AOX_E_METHOD, 0, NULL);
    expect_route("POST", "/modules", 0, AOX_R_MODULE_ADD, NULL);
    expect_route("GET", "/modules/" PID, 0, AOX_R_MODULE_GET, PID);
    expect_route("GET", "/modules/short", AOX_E_NOT_FOUND, 0, NULL);
    expect_route("GET", "/" PID, 0, AOX_R_DEFINITION, NULL);
    expect_route("POST", "/" PID "/schedule", 0, AOX_R_SCHEDULE, NULL);
    expect_route("GET", "/" PID "/schedule", 0, AOX_R_ASSIGNMENTS, NULL);
    expect_route("GET", "/" PID "~process@1.0/schedule", 0, AOX_R_ASSIGNMENTS, NULL);
    expect_route("GET", "/" PID "~other@1.0/schedule", AOX_E_NOT_FOUND, 0, NULL);
    expect_route("GET", "/" PID "/compute", 0, AOX_R_COMPUTE, "");
    expect_route("GET", "/" PID "/compute/17", 0, AOX_R_COMPUTE, "17");
    expect_route("POST", "/" PID "/compute", AOX_E_METHOD, 0, NULL);
    expect_route("GET", "/" PID "/now", 0, AOX_R_NOW, NULL);
    expect_route("GET", "/" PID "/slot", 0, AOX_R_SLOT, NULL);
    expect_route("GET", "/" PID "/slot/current", 0, AOX_R_SLOT, NULL);
    expect_route("GET", "/" PID "/slot/other", AOX_E_NOT_FOUND, 0, NULL);
    expect_route("GET", "/" PID "/result/" PID, 0, AOX_R_RESULT, PID);
    expect_route("GET", "/" PID "/result/xyz", AOX_E_NOT_FOUND, 0, NULL);
    expect_route("GET", "/result/" PID, 0, AOX_R_CU_RESULT, PID);
    expect_route("GET", "/" PID "/a/b/c/d/e/f/g", AOX_E_NOT_FOUND, 0, NULL);
    expect_route("GET", "/AAAA/compute", AOX_E_NOT_FOUND, 0, NULL);

    CHECK(aox_http_route("DELETE", "/" PID "/schedule", &r, &err) == AOX_E_METHOD);
    CHECK(r.allow && strcmp(r.allow, "GET, POST") == 0);
    CHECK(strstr(err.msg, "DELETE") != NULL);
    CHECK(strcmp(aox_route_name(AOX_R_COMPUTE), "compute") == 0);
    CHECK(strcmp(aox_route_name(AOX_R_NONE), "unknown") == 0);
}

static void test_slots(void)
{
    uint64_t v = 7;
    CHECK(aox_http_parse_slot("0", &v) == 0 && v == 0);
    CHECK(aox_http_parse_slot("1000", &v) == 0 && v == 1000);
    CHECK(aox_http_parse_slot("18446744073709551615", &v) == 0 && v == UINT64_MAX);
    CHECK(aox_http_parse_slot("18446744073709551616", &v) == AOX_E_INVALID);
    CHECK(aox_http_parse_slot("99999999999999999999999", &v) == AOX_E_INVALID);
    CHECK(aox_http_parse_slot("-1", &v) == AOX_E_INVALID);
    CHECK(aox_http_parse_slot("+1", &v) == AOX_E_INVALID);
    CHECK(aox_http_parse_slot("abc", &v) == AOX_E_INVALID);
    CHECK(aox_http_parse_slot("1 ", &v) == AOX_E_INVALID);
    CHECK(aox_http_parse_slot("", &v) == AOX_E_INVALID);
    CHECK(aox_http_parse_slot(NULL, &v) == AOX_E_INVALID);
}

/* ---- handlers ---- */

typedef struct kv { const char *k, *v; } kv;

static const char *qlookup(void *ud, const char *key)
{
    for (const kv *p = ud; p && p->k; p++)
        if (strcmp(p->k, key) == 0) return p->v;
    return NULL;
}

static aox_http_ctx ctx;

/* Runs one request; returns the status and leaves the parsed body in *j. */
static int req(const char *method, const char *path, const char *body, kv *query,
               json_t **j, aox_http_response *keep)
{
    aox_http_request rq = { method, path, qlookup, query,
                            (const uint8_t *)body, body ? strlen(body) : 0 };
    aox_http_response resp;
    int status;
    memset(&resp, 0, sizeof resp);
    aox_http_dispatch(&ctx, &rq, &resp);
    status = resp.status;
    CHECK(resp.content_type && strcmp(resp.content_type, "application/json") == 0);
    if (j) *j = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
    if (keep) *keep = resp;
    else aox_http_response_free(&resp);
    return status;
}

static const char *err_code(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

static uint64_t current_slot(const char *pid)
{
    char path[100];
    json_t *j;
    uint64_t v;
    snprintf(path, sizeof path, "/%s/slot", pid);
    CHECK(req("GET", path, NULL, NULL, &j, NULL) == 200);
    v = (uint64_t)json_integer_value(json_object_get(j, "current"));
    json_decref(j);
    return v;
}

static void test_handlers(void)
{
    aox_store *st = NULL;
    aox_procs *procs = NULL;
    aox_procs_opts po;
    aox_err err;
    json_t *j;
    char pid[64], path[200];

    CHECK(aox_device_register_builtin() == 0);
    CHECK(aox_store_open("memory:", NULL, &st, &err) == 0);
    memset(&po, 0, sizeof po);
    po.store = st;
    po.snapshot_every = 4;
    CHECK(aox_procs_open(&po, &procs, &err) == 0);
    if (!procs) return;
    ctx.procs = procs;
    ctx.page_max = 2;

    CHECK(req("GET", "/healthz", NULL, NULL, &j, NULL) == 200);
    CHECK(json_is_true(json_object_get(j, "ok")));
    json_decref(j);

    /* spawn */
    CHECK(req("POST", "/spawn", "{\"type\":\"Process\",\"execution-device\":\"test-counter@1.0\"}",
              NULL, &j, NULL) == 200);
    snprintf(pid, sizeof pid, "%s", json_string_value(json_object_get(j, "process")));
    CHECK(strlen(pid) == 43);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "assignment"), "slot")) == 0);
    json_decref(j);
    CHECK(req("POST", "/spawn", "{\"type\":", NULL, &j, NULL) == 400);
    CHECK(err_code(j) && strcmp(err_code(j), "bad_json") == 0);
    json_decref(j);
    CHECK(req("POST", "/spawn", "", NULL, &j, NULL) == 400);
    json_decref(j);

    /* schedule 5 messages */
    snprintf(path, sizeof path, "/%s/schedule", pid);
    for (int i = 1; i <= 5; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"value\":%d,\"n\":%d}", i, i);
        CHECK(req("POST", path, body, NULL, &j, NULL) == 200);
        CHECK(json_integer_value(json_object_get(j, "slot")) == i);
        json_decref(j);
    }
    CHECK(current_slot(pid) == 5);
    /* bad input changes nothing */
    CHECK(req("POST", path, "{not json", NULL, &j, NULL) == 400);
    CHECK(err_code(j) && strcmp(err_code(j), "bad_json") == 0);
    json_decref(j);
    CHECK(req("POST", path, "[1,2]", NULL, &j, NULL) == 400);
    json_decref(j);
    CHECK(current_slot(pid) == 5);

    /* compute */
    snprintf(path, sizeof path, "/%s/compute", pid);
    {
        kv q[] = { { "slot", "5" }, { NULL, NULL } };
        aox_http_response keep;
        CHECK(req("GET", path, NULL, q, &j, &keep) == 200);
        CHECK(keep.compute[0] != '\0');
        aox_http_response_free(&keep);
        CHECK(json_integer_value(json_object_get(json_object_get(j, "output"), "counter")) == 15);
        json_decref(j);
    }
    {
        kv q[] = { { "slot", "6" }, { NULL, NULL } };
        CHECK(req("GET", path, NULL, q, &j, NULL) == 425);
        CHECK(err_code(j) && strcmp(err_code(j), "not_yet") == 0);
        CHECK(json_integer_value(json_object_get(json_object_get(j, "error"), "current")) == 5);
        json_decref(j);
    }
    {
        const char *bad[] = { "abc", "-1", "99999999999999999999999", "", "1.5" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            kv q[] = { { "slot", bad[i] }, { NULL, NULL } };
            CHECK(req("GET", path, NULL, q, &j, NULL) == 400);
            CHECK(err_code(j) && strcmp(err_code(j), "invalid") == 0);
            json_decref(j);
        }
        CHECK(req("GET", path, NULL, NULL, &j, NULL) == 400);   /* missing slot */
        json_decref(j);
    }
    snprintf(path, sizeof path, "/%s/compute/3", pid);
    CHECK(req("GET", path, NULL, NULL, &j, NULL) == 200);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "output"), "counter")) == 6);
    json_decref(j);

    /* unknown process */
    CHECK(req("GET", "/" PID "/slot", NULL, NULL, &j, NULL) == 404);
    CHECK(err_code(j) && strcmp(err_code(j), "not_found") == 0);
    json_decref(j);
    CHECK(req("POST", "/" PID "/schedule", "{}", NULL, &j, NULL) == 404);
    json_decref(j);
    CHECK(req("GET", "/nope", NULL, NULL, &j, NULL) == 404);
    json_decref(j);
    {
        aox_http_response keep;
        CHECK(req("PUT", "/spawn", NULL, NULL, &j, &keep) == 405);
        CHECK(keep.allow && strcmp(keep.allow, "POST") == 0);
        CHECK(err_code(j) && strcmp(err_code(j), "method_not_allowed") == 0);
        aox_http_response_free(&keep);
        json_decref(j);
    }

    /* paging: page_max = 2 */
    snprintf(path, sizeof path, "/%s/schedule", pid);
    {
        kv q[] = { { "from", "1" }, { NULL, NULL } };
        CHECK(req("GET", path, NULL, q, &j, NULL) == 200);
        CHECK(json_array_size(json_object_get(j, "assignments")) == 2);
        CHECK(json_is_true(json_object_get(j, "more")));
        CHECK(json_integer_value(json_object_get(j, "next")) == 3);
        json_decref(j);
    }
    {
        kv q[] = { { "from", "4" }, { "to", "100" }, { NULL, NULL } };
        CHECK(req("GET", path, NULL, q, &j, NULL) == 200);
        CHECK(json_array_size(json_object_get(j, "assignments")) == 2);
        CHECK(json_is_false(json_object_get(j, "more")));
        /* message ID for result lookup: the body of slot 4 */
        {
            aox_msg *m = NULL;
            char id[AOX_ID_LEN + 1];
            json_t *body = json_object_get(json_array_get(json_object_get(j, "assignments"), 0),
                                           "body");
            CHECK(aox_msg_from_json(body, &m, &err) == 0);
            CHECK(m && aox_msg_id(m, id) == 0);
            aox_msg_free(m);
            snprintf(path, sizeof path, "/%s/result/%s", pid, id);
        }
        json_decref(j);
        CHECK(req("GET", path, NULL, NULL, &j, NULL) == 200);
        CHECK(json_integer_value(json_object_get(json_object_get(j, "output"), "counter")) == 10);
        json_decref(j);
    }
    {
        kv q[] = { { "from", "9" }, { NULL, NULL } };      /* past the end: empty page */
        snprintf(path, sizeof path, "/%s/schedule", pid);
        CHECK(req("GET", path, NULL, q, &j, NULL) == 200);
        CHECK(json_array_size(json_object_get(j, "assignments")) == 0);
        CHECK(json_is_false(json_object_get(j, "more")));
        CHECK(json_integer_value(json_object_get(j, "current")) == 5);
        json_decref(j);
    }
    {
        kv q[] = { { "from", "4" }, { "to", "2" }, { NULL, NULL } };
        snprintf(path, sizeof path, "/%s/schedule", pid);
        CHECK(req("GET", path, NULL, q, &j, NULL) == 400);
        json_decref(j);
    }
    /* modules */
    CHECK(req("POST", "/modules", "print('hi')", NULL, &j, NULL) == 200);
    CHECK(strlen(json_string_value(json_object_get(j, "id"))) == 43);
    json_decref(j);
    CHECK(current_slot(pid) == 5);

    /* readiness and metrics */
    CHECK(req("GET", "/readyz", NULL, NULL, &j, NULL) == 200);
    CHECK(json_is_true(json_object_get(j, "ready")));
    json_decref(j);
    {
        static aox_http_metrics m;      /* zeroed */
        aox_http_request rq = { "GET", "/metrics", NULL, NULL, NULL, 0 };
        aox_http_response resp;
        const char *text;
        aox_http_metrics_count(&m, AOX_R_COMPUTE, 425, 10);
        aox_http_metrics_count(&m, AOX_R_COMPUTE, 200, 5);
        aox_http_metrics_count(&m, AOX_R_COMPUTE, 200, 5);
        ctx.metrics = &m;
        memset(&resp, 0, sizeof resp);
        CHECK(aox_http_dispatch(&ctx, &rq, &resp) == 0);
        ctx.metrics = NULL;
        text = resp.body.data ? (const char *)resp.body.data : "";
        CHECK(resp.status == 200);
        CHECK(strncmp(resp.content_type, "text/plain", 10) == 0);
        if (!strstr(text, "# TYPE aox_assignments_total counter\naox_assignments_total 6\n"))
            fprintf(stderr, "%s", text);
        CHECK(strstr(text, "# TYPE aox_assignments_total counter\naox_assignments_total 6\n"));
        CHECK(strstr(text, "aox_http_requests_total{route=\"compute\",status=\"2xx\"} 2\n"));
        CHECK(strstr(text, "aox_http_requests_total{route=\"compute\",status=\"4xx\"} 1\n"));
        CHECK(strstr(text, "aox_http_request_seconds_total{route=\"compute\"} 0.000020\n"));
        CHECK(strstr(text, "aox_cache_hits_total ") != NULL);
        aox_http_response_free(&resp);
    }

    aox_procs_close(procs);
    aox_store_close(st);
}

int main(void)
{
    test_routes();
    test_slots();
    test_handlers();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("http dispatch: all checks passed\n");
    return 0;
}
