/*
 * http/dispatch.c: routing and the route handlers of the HTTP API. Each handler
 * is one call into process/ (DESIGN.md §2: http/ is a thin adapter). The route
 * table is in the header; this file is in two parts: routing, then handlers.
 */
#include "http/dispatch.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "core/json.h"
#include "core/log.h"
#include "http/legacy.h"
#include "http/monitor.h"
#include "process/process.h"

/* ------------------------------------------------------------------------ */
/* Routing                                                                  */
/* ------------------------------------------------------------------------ */

static const char *const route_names[AOX_R__COUNT] = {
    [AOX_R_NONE] = "unknown",          [AOX_R_HEALTHZ] = "healthz",
    [AOX_R_READYZ] = "readyz",         [AOX_R_METRICS] = "metrics",
    [AOX_R_INFO] = "info",             [AOX_R_LOG_LEVEL_GET] = "log-level",
    [AOX_R_LOG_LEVEL_SET] = "log-level-set",
    [AOX_R_SPAWN] = "spawn",           [AOX_R_MODULE_ADD] = "module-add",
    [AOX_R_MODULE_GET] = "module-get", [AOX_R_DEFINITION] = "definition",
    [AOX_R_SCHEDULE] = "schedule",     [AOX_R_ASSIGNMENTS] = "assignments",
    [AOX_R_COMPUTE] = "compute",       [AOX_R_NOW] = "now",
    [AOX_R_SLOT] = "slot",             [AOX_R_RESULT] = "result",
    [AOX_R_CU_RESULT] = "cu-result",
    [AOX_R_LEGACY_ITEM] = "legacy-item", [AOX_R_LEGACY_ASSIGN] = "legacy-assign",
    [AOX_R_GRAPHQL] = "graphql",       [AOX_R_DRY_RUN] = "dry-run",
    [AOX_R_RESULTS] = "results",       [AOX_R_STATE] = "state",
    [AOX_R_STATUS] = "status",         [AOX_R_PROCESSES] = "processes",
    [AOX_R_SNAPSHOT] = "snapshot",
};

const char *aox_route_name(aox_route_kind k)
{
    return (k > AOX_R_NONE && k < AOX_R__COUNT) ? route_names[k] : "unknown";
}

#define MAX_SEGS 6

/* Splits path on '/', skipping the leading and a trailing slash. Returns the
 * number of segments, or -1 when there are too many or one is empty ("//"). */
static int split(const char *path, char segs[MAX_SEGS][AOX_ROUTE_ARG_MAX])
{
    int n = 0;
    const char *p = path;
    if (*p == '/') p++;
    if (*p == '\0') return 0;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) return (e == NULL || e[1] == '\0') && n > 0 ? n : -1;
        if (n == MAX_SEGS || len >= AOX_ROUTE_ARG_MAX) return -1;
        memcpy(segs[n], p, len);
        segs[n][len] = '\0';
        n++;
        if (!e) return n;
        if (e[1] == '\0') return n;   /* trailing slash */
        p = e + 1;
    }
}

static int is(const char *method, const char *m) { return strcmp(method, m) == 0; }

/* method check helper: sets r->allow and returns AOX_E_METHOD when not allowed */
static int want(const char *method, const char *allowed, aox_route *r,
                aox_route_kind kind, aox_err *err)
{
    /* allowed is "GET", "POST" or "GET, POST"; HEAD is not served. */
    if ((strstr(allowed, "GET") && is(method, "GET")) ||
        (strstr(allowed, "POST") && is(method, "POST"))) {
        r->kind = kind;
        return AOX_OK;
    }
    r->allow = allowed;
    return aox_err_set(err, AOX_E_METHOD, "method %s not allowed here (allowed: %s)",
                       method, allowed);
}

int aox_http_route(const char *method, const char *path, aox_route *r, aox_err *err)
{
    char segs[MAX_SEGS][AOX_ROUTE_ARG_MAX];
    int n;

    memset(r, 0, sizeof *r);
    n = split(path, segs);
    if (n <= 0) goto notfound;

    if (n == 1 && strcmp(segs[0], "healthz") == 0)
        return want(method, "GET", r, AOX_R_HEALTHZ, err);
    if (n == 1 && strcmp(segs[0], "readyz") == 0)
        return want(method, "GET", r, AOX_R_READYZ, err);
    if (n == 1 && strcmp(segs[0], "metrics") == 0)
        return want(method, "GET", r, AOX_R_METRICS, err);
    if (n == 1 && strcmp(segs[0], "spawn") == 0)
        return want(method, "POST", r, AOX_R_SPAWN, err);
    if (strcmp(segs[0], "~meta@1.0") == 0 && n == 2) {
        if (strcmp(segs[1], "info") == 0) return want(method, "GET", r, AOX_R_INFO, err);
        if (strcmp(segs[1], "processes") == 0)
            return want(method, "GET", r, AOX_R_PROCESSES, err);
        if (strcmp(segs[1], "snapshot") == 0)
            return want(method, "POST", r, AOX_R_SNAPSHOT, err);
        if (strcmp(segs[1], "log-level") == 0) {
            int rc = want(method, "GET, POST", r, AOX_R_LOG_LEVEL_GET, err);
            if (rc == 0 && is(method, "POST")) r->kind = AOX_R_LOG_LEVEL_SET;
            return rc;
        }
        goto notfound;
    }
    if (strcmp(segs[0], "modules") == 0) {
        if (n == 1) return want(method, "POST", r, AOX_R_MODULE_ADD, err);
        if (n == 2 && aox_id_valid(segs[1])) {
            strcpy(r->arg, segs[1]);
            return want(method, "GET", r, AOX_R_MODULE_GET, err);
        }
        goto notfound;
    }
    if (strcmp(segs[0], "result") == 0 && n == 2 && aox_id_valid(segs[1])) {
        strcpy(r->arg, segs[1]);
        return want(method, "GET", r, AOX_R_CU_RESULT, err);
    }

    /* /<pid>[~process@1.0][/op[/arg]] */
    {
        char *pid = segs[0];
        char *tilde = strchr(pid, '~');
        const char *op;
        if (tilde) {
            if (strcmp(tilde, "~process@1.0") != 0) goto notfound;
            *tilde = '\0';
        }
        if (!aox_id_valid(pid)) goto notfound;
        memcpy(r->pid, pid, AOX_ID_LEN + 1);
        if (n == 1) return want(method, "GET", r, AOX_R_DEFINITION, err);
        op = segs[1];
        if (strcmp(op, "schedule") == 0 && n == 2) {
            int rc = want(method, "GET, POST", r, AOX_R_ASSIGNMENTS, err);
            if (rc == 0 && is(method, "POST")) r->kind = AOX_R_SCHEDULE;
            return rc;
        }
        if (strcmp(op, "compute") == 0 && n <= 3) {
            if (n == 3) strcpy(r->arg, segs[2]);
            return want(method, "GET", r, AOX_R_COMPUTE, err);
        }
        if (strcmp(op, "now") == 0 && n == 2)
            return want(method, "GET", r, AOX_R_NOW, err);
        if (strcmp(op, "status") == 0 && n == 2)
            return want(method, "GET", r, AOX_R_STATUS, err);
        if (strcmp(op, "slot") == 0 && (n == 2 || (n == 3 && strcmp(segs[2], "current") == 0)))
            return want(method, "GET", r, AOX_R_SLOT, err);
        if (strcmp(op, "result") == 0 && n == 3 && aox_id_valid(segs[2])) {
            strcpy(r->arg, segs[2]);
            return want(method, "GET", r, AOX_R_RESULT, err);
        }
    }
notfound:
    memset(r, 0, sizeof *r);
    return aox_err_set(err, AOX_E_NOT_FOUND, "no such route: %.200s", path);
}

int aox_http_parse_slot(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s) return AOX_E_INVALID;
    for (const char *p = s; *p; p++) {
        uint64_t d;
        if (*p < '0' || *p > '9') return AOX_E_INVALID;
        d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return AOX_E_INVALID;
        v = v * 10 + d;
    }
    *out = v;
    return AOX_OK;
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                */
/* ------------------------------------------------------------------------ */

static const char *const CT_JSON = "application/json";

void aox_http_response_free(aox_http_response *resp)
{
    aox_buf_free(&resp->body);
    if (resp->stream_read && resp->stream_free) resp->stream_free(resp->stream_ud);
    resp->stream_read = NULL;
    resp->stream_free = NULL;
}

static int set_json(aox_http_response *resp, int status, json_t *j)
{
    char *s;
    if (!j) return AOX_E_NOMEM;
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s) return AOX_E_NOMEM;
    aox_buf_reset(&resp->body);
    if (aox_buf_append_str(&resp->body, s) != 0) {
        free(s);
        return AOX_E_NOMEM;
    }
    free(s);
    resp->status = status;
    resp->content_type = CT_JSON;
    return AOX_OK;
}

static int set_msg(aox_http_response *resp, const aox_msg *m)
{
    aox_buf_reset(&resp->body);
    if (aox_msg_to_json_text(m, &resp->body) != 0) return AOX_E_NOMEM;
    resp->status = 200;
    resp->content_type = CT_JSON;
    return AOX_OK;
}

/* Error body with optional extra members merged into the error object. */
static void error_with(aox_http_response *resp, const aox_err *err, json_t *extra)
{
    json_t *j = aox_err_to_json(err);
    int status = aox_code_http_status(err->code);
    if (status < 400) status = 500;   /* an error reaching here is never a 2xx */
    if (j && extra) {
        json_t *inner = json_object_get(j, "error");
        if (inner) json_object_update(inner, extra);
    }
    json_decref(extra);
    if (set_json(resp, status, j) != 0) {
        /* Out of memory while reporting: a fixed body still tells the truth. */
        aox_buf_reset(&resp->body);
        aox_buf_append_str(&resp->body,
            "{\"error\":{\"code\":\"node_out_of_memory\",\"message\":\"out of memory\"}}");
        resp->status = 500;
        resp->content_type = CT_JSON;
    }
}

void aox_http_error_response(aox_http_response *resp, const aox_err *err)
{
    error_with(resp, err, NULL);
}

/* ------------------------------------------------------------------------ */
/* Handlers                                                                 */
/* ------------------------------------------------------------------------ */

static const char *q(const aox_http_request *req, const char *key)
{
    return req->query ? req->query(req->query_ud, key) : NULL;
}

static int parse_body_msg(const aox_http_request *req, aox_msg **out, aox_err *err)
{
    if (req->body_len == 0)
        return aox_err_set(err, AOX_E_BAD_JSON, "request body is empty; expected a JSON object");
    return aox_msg_from_json_text((const char *)req->body, req->body_len, out, err);
}

static void compute_header(aox_http_response *resp, const aox_compute_info *ci)
{
    static const char *const from[] = { "live", "snapshot", "init" };
    const char *f = (ci->started_from >= 0 && ci->started_from <= 2)
                    ? from[ci->started_from] : "unknown";
    if (ci->cached)
        snprintf(resp->compute, sizeof resp->compute, "cached=1; current=%llu",
                 (unsigned long long)ci->current_slot);
    else
        snprintf(resp->compute, sizeof resp->compute,
                 "cached=0; from=%s; start-slot=%llu; applied=%llu; current=%llu", f,
                 (unsigned long long)ci->start_slot, (unsigned long long)ci->slots_applied,
                 (unsigned long long)ci->current_slot);
}

/* BUSY and TIMEOUT answers from the workers (node/workers.h) are built here:
 * 503 with Retry-After, or 504 naming the slot waited for and the computed slot.
 * Returns err->code (the response is complete). */
static int work_fail(aox_http_response *resp, aox_err *err, const aox_work_info *wi)
{
    json_t *extra = NULL;
    if (err->code == AOX_E_BUSY)
        resp->retry_after = wi && wi->retry_after_s ? wi->retry_after_s : 1;
    if (err->code == AOX_E_TIMEOUT && wi && wi->waited_ms)
        extra = json_pack("{s:I,s:o,s:I}", "slot", (json_int_t)wi->wait_slot, "computed",
                          wi->has_computed ? json_integer((json_int_t)wi->computed_slot)
                                           : json_null(),
                          "waited-ms", (json_int_t)wi->waited_ms);
    error_with(resp, err, extra);
    return err->code;
}

/* ?timeout=MS: how long to wait for the slot (0 or absent: the node default). */
static int wait_timeout(const aox_http_request *req, uint64_t *ms, aox_err *err)
{
    const char *t = q(req, "timeout");
    *ms = 0;
    if (t && aox_http_parse_slot(t, ms) != 0)
        return aox_err_set(err, AOX_E_INVALID, "timeout: '%.40s' is not a number of ms", t);
    return AOX_OK;
}

static int h_spawn(const aox_http_ctx *ctx, const aox_http_request *req,
                   aox_http_response *resp, aox_err *err)
{
    aox_msg *def = NULL, *asg = NULL;
    char pid[AOX_ID_LEN + 1];
    json_t *j;
    int rc = parse_body_msg(req, &def, err);
    if (rc) goto out;
    rc = aox_proc_spawn(ctx->procs, def, pid, &asg, err);
    if (rc) goto out;
    j = json_pack("{s:s,s:o}", "process", pid, "assignment", aox_msg_to_json(asg));
    rc = set_json(resp, 200, j);
    if (rc == 0) aox_log_kv(AOX_LOG_INFO, "spawn", "pid", pid);
out:
    aox_msg_free(def);
    aox_msg_free(asg);
    return rc;
}

static int h_schedule(const aox_http_ctx *ctx, const aox_route *r,
                      const aox_http_request *req, aox_http_response *resp, aox_err *err)
{
    aox_msg *msg = NULL, *asg = NULL;
    int rc = parse_body_msg(req, &msg, err);
    if (rc) goto out;
    if (ctx->workers && ctx->wapi) {
        aox_work_info wi;
        rc = ctx->wapi->schedule(ctx->workers, r->pid, msg, &asg, &wi, err);
        if (rc == AOX_E_BUSY || rc == AOX_E_TIMEOUT) {
            rc = work_fail(resp, err, &wi);
            goto out;
        }
    } else {
        rc = aox_proc_schedule(ctx->procs, r->pid, msg, &asg, err);
    }
    if (rc) goto out;
    rc = set_msg(resp, asg);
out:
    aox_msg_free(msg);
    aox_msg_free(asg);
    return rc;
}

typedef struct list_ud { json_t *arr; int oom; } list_ud;

static int collect(void *ud, const aox_msg *assignment)
{
    list_ud *l = ud;
    json_t *j = aox_msg_to_json(assignment);
    if (!j || json_array_append_new(l->arr, j) != 0) {
        l->oom = 1;
        return 1;
    }
    return 0;
}

static int h_assignments(const aox_http_ctx *ctx, const aox_route *r,
                         const aox_http_request *req, aox_http_response *resp,
                         aox_err *err)
{
    uint64_t cur, from = 0, to, last;
    const char *fs = q(req, "from"), *ts = q(req, "to");
    int more = 0, rc;
    list_ud l = { NULL, 0 };
    json_t *j;

    if (fs && aox_http_parse_slot(fs, &from) != 0)
        return aox_err_set(err, AOX_E_INVALID, "from: '%.40s' is not a slot number", fs);
    if (ts && aox_http_parse_slot(ts, &to) != 0)
        return aox_err_set(err, AOX_E_INVALID, "to: '%.40s' is not a slot number", ts);
    rc = aox_proc_current_slot(ctx->procs, r->pid, &cur, err);
    if (rc) return rc;
    if (!ts) to = cur > from ? cur : from;     /* from past the end: an empty page */
    if (to < from)
        return aox_err_set(err, AOX_E_INVALID, "to (%llu) is before from (%llu)",
                           (unsigned long long)to, (unsigned long long)from);
    last = to < cur ? to : cur;
    if (from <= last && last - from >= ctx->page_max) {
        last = from + ctx->page_max - 1;
        more = 1;
    }
    l.arr = json_array();
    if (!l.arr) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    if (from <= last) {
        rc = aox_proc_assignments(ctx->procs, r->pid, from, last, collect, &l, err);
        if (rc == 0 && l.oom) rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
        if (rc) {
            json_decref(l.arr);
            return rc;
        }
    }
    j = json_pack("{s:s,s:I,s:I,s:I,s:o,s:b}", "process", r->pid,
                  "current", (json_int_t)cur, "from", (json_int_t)from,
                  "to", (json_int_t)(from <= last ? last : from),
                  "assignments", l.arr, "more", more);
    if (j && more) json_object_set_new(j, "next", json_integer((json_int_t)(last + 1)));
    if (j && from > last) json_object_set_new(j, "to", json_null());
    return set_json(resp, 200, j);
}

/* A 425 carries the current slot so the caller knows how far it can ask. */
static int not_yet(const aox_http_ctx *ctx, const char *pid, aox_http_response *resp,
                   aox_err *err, uint64_t current)
{
    error_with(resp, err, json_pack("{s:I}", "current", (json_int_t)current));
    (void)ctx; (void)pid;
    return err->code;
}

/* Compute of pid at *slot, or its latest state (slot NULL: now), in a worker or in this
 * process: the result with its X-Aox-Compute header, or the error answer. */
static int compute_reply(const aox_http_ctx *ctx, const char *pid, const uint64_t *slot,
                         const aox_http_request *req, aox_http_response *resp, aox_err *err)
{
    aox_compute_info ci;
    aox_msg *res = NULL;
    int rc;
    memset(&ci, 0, sizeof ci);
    if (ctx->workers && ctx->wapi) {
        aox_work_info wi;
        uint64_t tmo;
        rc = wait_timeout(req, &tmo, err);
        if (rc) return rc;
        memset(&wi, 0, sizeof wi);
        rc = slot ? ctx->wapi->compute(ctx->workers, pid, *slot, tmo, &res, &wi, err)
                  : ctx->wapi->now(ctx->workers, pid, tmo, &res, &wi, err);
        ci = wi.ci;
        if (rc == AOX_E_BUSY || rc == AOX_E_TIMEOUT) return work_fail(resp, err, &wi);
    } else {
        rc = slot ? aox_proc_compute(ctx->procs, pid, *slot, &res, &ci, err)
                  : aox_proc_now(ctx->procs, pid, &res, &ci, err);
        if (rc == AOX_E_TIMEOUT) return work_fail(resp, err, NULL);
    }
    if (slot && rc == AOX_E_NOT_YET) return not_yet(ctx, pid, resp, err, ci.current_slot);
    if (rc) return rc;
    rc = set_msg(resp, res);
    compute_header(resp, &ci);
    aox_msg_free(res);
    return rc;
}

static int h_compute(const aox_http_ctx *ctx, const aox_route *r,
                     const aox_http_request *req, aox_http_response *resp, aox_err *err)
{
    const char *s = r->arg[0] ? r->arg : q(req, "slot");
    uint64_t slot;

    if (!s)
        return aox_err_set(err, AOX_E_INVALID, "missing slot: use ?slot=N");
    if (aox_http_parse_slot(s, &slot) != 0)
        return aox_err_set(err, AOX_E_INVALID,
                           "slot: '%.40s' is not a non-negative decimal integer that fits "
                           "in 64 bits", s);
    return compute_reply(ctx, r->pid, &slot, req, resp, err);
}

static int h_now(const aox_http_ctx *ctx, const aox_route *r, const aox_http_request *req,
                 aox_http_response *resp, aox_err *err)
{
    return compute_reply(ctx, r->pid, NULL, req, resp, err);
}

static int h_result(const aox_http_ctx *ctx, const char *pid, const char *msg_id,
                    aox_http_response *resp, aox_err *err)
{
    aox_msg *res = NULL;
    uint64_t slot = 0;
    int rc;
    if (ctx->workers && ctx->wapi) {
        aox_work_info wi;
        memset(&wi, 0, sizeof wi);
        rc = ctx->wapi->result_by_message(ctx->workers, pid, msg_id, 0, &res, &slot, &wi, err);
        if (rc == AOX_E_BUSY || rc == AOX_E_TIMEOUT) return work_fail(resp, err, &wi);
    } else {
        rc = aox_proc_result_by_message(ctx->procs, pid, msg_id, &res, &slot, err);
        if (rc == AOX_E_TIMEOUT) return work_fail(resp, err, NULL);
    }
    if (rc) return rc;
    rc = set_msg(resp, res);
    aox_msg_free(res);
    return rc;
}

static int h_module_add(const aox_http_ctx *ctx, const aox_http_request *req,
                        aox_http_response *resp, aox_err *err)
{
    char id[AOX_ID_LEN + 1];
    int rc;
    if (req->body_len == 0)
        return aox_err_set(err, AOX_E_INVALID, "module body is empty");
    rc = aox_module_put(aox_procs_store(ctx->procs), req->body, req->body_len, id, err);
    if (rc) return rc;
    aox_log(AOX_LOG_INFO, "module-add", "\"id\":\"%s\",\"bytes\":%zu", id, req->body_len);
    return set_json(resp, 200, json_pack("{s:s,s:I}", "id", id, "bytes",
                                         (json_int_t)req->body_len));
}

static int h_module_get(const aox_http_ctx *ctx, const aox_route *r,
                        aox_http_response *resp, aox_err *err)
{
    int rc;
    aox_buf_reset(&resp->body);
    rc = aox_module_get(aox_procs_store(ctx->procs), r->arg, &resp->body, err);
    if (rc) return rc;
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    return AOX_OK;
}

void aox_http_metrics_count(aox_http_metrics *m, aox_route_kind route, int status,
                            unsigned long long micros)
{
    int cls = status / 100;
    if (!m) return;
    if ((int)route < 0 || route >= AOX_R__COUNT) route = AOX_R_NONE;
    if (cls < 1 || cls > 5) cls = 5;
    atomic_fetch_add_explicit(&m->requests[route][cls], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->micros[route], micros, memory_order_relaxed);
}

static int h_log_level(const aox_http_request *req, int set, aox_http_response *resp,
                       aox_err *err)
{
    if (set) {
        aox_msg *m = NULL;
        const char *word;
        aox_log_level lvl;
        int rc = parse_body_msg(req, &m, err);
        if (rc) return rc;
        word = aox_msg_get_str(m, "level", NULL);
        if (!word || aox_log_level_parse(word, &lvl) != 0) {
            aox_msg_free(m);
            return aox_err_set(err, AOX_E_INVALID,
                               "body must be {\"level\": \"debug|info|warn|error|off\"}");
        }
        aox_msg_free(m);
        aox_log_set_level(lvl);
        aox_log_kv(AOX_LOG_WARN, "log-level", "level", aox_log_level_name(lvl));
    }
    return set_json(resp, 200, json_pack("{s:s}", "level",
                                         aox_log_level_name(aox_log_get_level())));
}

static int dispatch(const aox_http_ctx *ctx, const aox_http_request *req,
                    aox_http_response *resp)
{
    aox_route r;
    aox_err err;
    int rc;

    aox_err_clear(&err);
    resp->allow = NULL;
    resp->compute[0] = '\0';
    resp->retry_after = 0;
    resp->route = AOX_R_NONE;
    if (aox_http_legacy_serve(ctx, req, resp, &rc)) return rc;   /* http/legacy.c */
    if (ctx->pre && ctx->pre(ctx->pre_ud, ctx, req, resp, &rc)) return rc;  /* node/ */
    rc = aox_http_route(req->method, req->path, &r, &err);
    if (rc) {
        resp->allow = r.allow;
        goto fail;
    }
    resp->route = r.kind;
    switch (r.kind) {
    case AOX_R_HEALTHZ:
        rc = set_json(resp, 200, json_pack("{s:b}", "ok", 1));
        break;
    case AOX_R_READYZ:
        rc = aox_http_monitor_readyz(ctx, resp);
        break;
    case AOX_R_METRICS:
        rc = aox_http_monitor_metrics(ctx, resp);
        if (rc) aox_err_set(&err, rc, "out of memory");
        break;
    case AOX_R_STATUS:     rc = aox_http_monitor_status(ctx, r.pid, resp, &err); break;
    case AOX_R_PROCESSES:
        rc = aox_http_monitor_processes(ctx, q(req, "sort"), q(req, "limit"), resp, &err);
        break;
    case AOX_R_SNAPSHOT:   rc = aox_http_monitor_snapshot(ctx, resp, &err); break;
    case AOX_R_INFO:
        rc = set_json(resp, 200, aox_http_legacy_info(ctx->info ? ctx->info(ctx->info_ud)
                                                                : json_object()));
        break;
    case AOX_R_LOG_LEVEL_GET:
    case AOX_R_LOG_LEVEL_SET:
        rc = h_log_level(req, r.kind == AOX_R_LOG_LEVEL_SET, resp, &err);
        break;
    case AOX_R_SPAWN:      rc = h_spawn(ctx, req, resp, &err); break;
    case AOX_R_MODULE_ADD: rc = h_module_add(ctx, req, resp, &err); break;
    case AOX_R_MODULE_GET: rc = h_module_get(ctx, &r, resp, &err); break;
    case AOX_R_DEFINITION: {
        aox_msg *def = NULL;
        rc = aox_proc_definition(ctx->procs, r.pid, &def, &err);
        if (rc == 0) rc = set_msg(resp, def);
        aox_msg_free(def);
        break;
    }
    case AOX_R_SCHEDULE:    rc = h_schedule(ctx, &r, req, resp, &err); break;
    case AOX_R_ASSIGNMENTS: rc = h_assignments(ctx, &r, req, resp, &err); break;
    case AOX_R_COMPUTE:
        rc = h_compute(ctx, &r, req, resp, &err);
        if (rc == AOX_E_NOT_YET) return rc;     /* response already built */
        break;
    case AOX_R_NOW:         rc = h_now(ctx, &r, req, resp, &err); break;
    case AOX_R_SLOT: {
        uint64_t cur;
        rc = aox_proc_current_slot(ctx->procs, r.pid, &cur, &err);
        if (rc == 0)
            rc = set_json(resp, 200, json_pack("{s:I}", "current", (json_int_t)cur));
        break;
    }
    case AOX_R_RESULT:      rc = h_result(ctx, r.pid, r.arg, resp, &err); break;
    case AOX_R_CU_RESULT: {
        const char *pid = q(req, "process-id");
        if (!pid || !aox_id_valid(pid)) {
            rc = aox_err_set(&err, AOX_E_INVALID, "missing or malformed ?process-id=");
            break;
        }
        rc = h_result(ctx, pid, r.arg, resp, &err);
        break;
    }
    default:
        rc = aox_err_set(&err, AOX_E_INTERNAL, "unrouted kind %d", (int)r.kind);
        break;
    }
    if (rc == 0) return AOX_OK;
    /* work_fail built these answers already (503 + Retry-After, 504 + slot) */
    if ((rc == AOX_E_BUSY || rc == AOX_E_TIMEOUT) &&
        (r.kind == AOX_R_COMPUTE || r.kind == AOX_R_NOW || r.kind == AOX_R_SCHEDULE ||
         r.kind == AOX_R_RESULT || r.kind == AOX_R_CU_RESULT))
        return rc;
fail:
    if (err.code == AOX_OK) aox_err_set(&err, rc, "%s", aox_code_name(rc));
    error_with(resp, &err, NULL);
    return rc;
}

/* Every 503 carries a Retry-After: the handlers set the workers' value on a busy
 * answer; any other 503 (a route that met AOX_E_BUSY elsewhere, a cluster node that
 * does not own the process, /readyz) gets the default of one second. */
int aox_http_dispatch(const aox_http_ctx *ctx, const aox_http_request *req,
                      aox_http_response *resp)
{
    int rc = dispatch(ctx, req, resp);
    if (resp->status == 503 && resp->retry_after == 0)
        resp->retry_after = AOX_HTTP_RETRY_AFTER_DEFAULT;
    return rc;
}
