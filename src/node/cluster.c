/*
 * node/cluster.c: node-level routes served before the dispatcher's own routing —
 * the delegation peer route, /~name/ (node processes) and signed answers.
 * Contract: node/cluster.h.
 */
#include "node/cluster.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/identity.h"
#include "core/json.h"
#include "node/delegate.h"
#include "node/names.h"
#include "node/options.h"
#include "process/process.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <sys/stat.h>
#include "core/log.h"
#include "http/client.h"
#include "store/store.h"

#define CT_JSON "application/json"

static int cluster_route(aox_cluster *c, const aox_http_request *req, aox_http_response *resp,
                         int *rc);

/* Set while this thread runs a nested dispatch started here, so the hook lets it
 * through to the normal routes. */
static _Thread_local int nested;

static int error_out(aox_http_response *resp, const aox_err *err, int *rc)
{
    aox_http_error_response(resp, err);
    *rc = err->code;
    return 1;
}

static int json_out(aox_http_response *resp, int status, json_t *j, int *rc)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    aox_buf_reset(&resp->body);
    if (!s || aox_buf_append_str(&resp->body, s)) {
        aox_err err;
        free(s);
        aox_err_set(&err, AOX_E_NOMEM, "out of memory");
        return error_out(resp, &err, rc);
    }
    free(s);
    resp->status = status;
    resp->content_type = CT_JSON;
    *rc = AOX_OK;
    return 1;
}

/* Replaces a 200 JSON message body by the same message signed by the node. */
static void sign_body(const aox_identity *id, aox_http_response *resp)
{
    aox_msg *m = NULL;
    aox_buf out = {0};
    aox_err err;

    if (resp->status != 200 || !resp->content_type || strcmp(resp->content_type, CT_JSON)
        || resp->stream_read)
        return;
    if (aox_msg_from_json_text((const char *)resp->body.data, resp->body.len, &m, &err) == 0
        && aox_identity_sign_msg(id, m) == 0 && aox_msg_to_json_text(m, &out) == 0) {
        aox_buf_free(&resp->body);
        resp->body = out;
        out = (aox_buf){0};
    }
    aox_buf_free(&out);
    aox_msg_free(m);
}

static int signable(const char *method, const char *path)
{
    aox_route r;
    aox_err err;
    if (aox_http_route(method, path, &r, &err)) return 0;
    return r.kind == AOX_R_COMPUTE || r.kind == AOX_R_NOW || r.kind == AOX_R_RESULT
           || r.kind == AOX_R_SCHEDULE;
}

/* Runs the normal routes for req with path replaced, signing when asked. */
static int nested_dispatch(const aox_cluster_routes *cr, const aox_http_ctx *ctx,
                           const aox_http_request *req, const char *path,
                           aox_http_response *resp, int *rc)
{
    aox_http_request r2 = *req;
    r2.path = path;
    nested = 1;
    *rc = aox_http_dispatch(ctx, &r2, resp);
    nested = 0;
    if (cr->sign_results && cr->identity && signable(req->method, path))
        sign_body(cr->identity, resp);
    return 1;
}

static int name_route(const aox_cluster_routes *cr, const aox_http_ctx *ctx,
                      const aox_http_request *req, aox_http_response *resp, int *rc)
{
    const char *p = req->path + strlen("/~name/");
    const char *slash = strchr(p, '/');
    char name[80], pid[AOX_ID_LEN + 1], path[1024];
    size_t nl = slash ? (size_t)(slash - p) : strlen(p);
    aox_err err;
    int code;

    aox_err_clear(&err);
    if (!cr->names) {
        aox_err_set(&err, AOX_E_NOT_FOUND, "this node has no named processes");
        return error_out(resp, &err, rc);
    }
    if (nl == 0 || nl >= sizeof name) {
        aox_err_set(&err, AOX_E_NOT_FOUND, "no such route: %s", req->path);
        return error_out(resp, &err, rc);
    }
    memcpy(name, p, nl);
    name[nl] = '\0';
    if (!slash || !slash[1]) {
        if (strcmp(req->method, "POST") == 0) {
            aox_msg *body = NULL;
            const aox_msg *def;
            if (aox_msg_from_json_text((const char *)req->body, req->body_len, &body, &err))
                return error_out(resp, &err, rc);
            def = aox_msg_get_msg(body, "definition");
            if (!def) {
                aox_msg_free(body);
                aox_err_set(&err, AOX_E_INVALID, "body needs definition (object) and token");
                return error_out(resp, &err, rc);
            }
            code = aox_names_register(cr->names, name, def,
                                      aox_msg_get_str(body, "token", NULL), pid, &err);
            aox_msg_free(body);
        } else if (strcmp(req->method, "GET") == 0) {
            code = aox_names_resolve(cr->names, name, pid, &err);
        } else {
            resp->allow = "GET, POST";
            aox_err_set(&err, AOX_E_METHOD, "use GET or POST");
            return error_out(resp, &err, rc);
        }
        if (code) return error_out(resp, &err, rc);
        return json_out(resp, 200, json_pack("{s:s,s:s}", "name", name, "process", pid), rc);
    }
    code = aox_names_resolve(cr->names, name, pid, &err);
    if (code) return error_out(resp, &err, rc);
    snprintf(path, sizeof path, "/%s%s", pid, slash);
    if (cr->cluster) {                 /* cluster mode: the owner serves it */
        aox_http_request r2 = *req;
        r2.path = path;
        if (cluster_route(cr->cluster, &r2, resp, rc)) return 1;
    }
    return nested_dispatch(cr, ctx, req, path, resp, rc);
}

int aox_cluster_pre_route(void *ud, const aox_http_ctx *ctx, const aox_http_request *req,
                          aox_http_response *resp, int *rc)
{
    const aox_cluster_routes *cr = ud;

    if (nested) return 0;
    if (strcmp(req->path, "/~delegate@1.0/compute") == 0) {
        int status = 500;
        aox_err err;
        if (strcmp(req->method, "POST")) {
            resp->allow = "POST";
            aox_err_set(&err, AOX_E_METHOD, "use POST");
            return error_out(resp, &err, rc);
        }
        if (aox_delegate_serve(req->body, req->body_len, &status, &resp->body)) {
            aox_err_set(&err, AOX_E_NOMEM, "out of memory");
            return error_out(resp, &err, rc);
        }
        resp->status = status;
        resp->content_type = CT_JSON;
        *rc = status == 200 ? AOX_OK : AOX_E_UPSTREAM;
        return 1;
    }
    if (strncmp(req->path, "/~name/", 7) == 0) return name_route(cr, ctx, req, resp, rc);
    if (cr->cluster && cluster_route(cr->cluster, req, resp, rc)) return 1;
    if (cr->sign_results && cr->identity && signable(req->method, req->path))
        return nested_dispatch(cr, ctx, req, req->path, resp, rc);
    return 0;
}

/* ---------------------------------------------------------------- node services */

typedef struct held {
    char         pid[AOX_ID_LEN + 1];
    uint64_t     token;
    struct held *next;
} held;

struct aox_cluster {
    aox_identity       *identity;
    aox_names          *names;
    aox_cluster_routes  routes;
    /* cluster mode */
    int                 on;           /* store backend is shared (redis) */
    aox_store          *store;
    aox_procs          *procs;
    uint64_t            ttl_ms;
    char                self[300];    /* this node's URL (lease owner) */
    pthread_mutex_t     mu;           /* held, stop */
    pthread_cond_t      cv;
    held               *held;
    int                 stop, renewer_on;
    pthread_t           renewer;
};

static int owner_of(aox_cluster *c, const char *pid, aox_buf *owner, uint64_t *mine,
                    aox_err *err);
static int own_or_forward(aox_cluster *c, const aox_http_request *req, const char *pid,
                          aox_http_response *resp, int *rc);

/* names.c's claim: a node process is spawned only by the node that owns it. */
static int cluster_claim(void *ud, const char *pid, aox_err *err)
{
    aox_cluster *c = ud;
    aox_buf owner = {0};
    uint64_t token = 0;
    int rc = owner_of(c, pid, &owner, &token, err);
    if (rc == 1)
        rc = aox_err_set(err, AOX_E_CONFLICT, "process %s is owned by %s", pid,
                         (char *)owner.data);
    aox_buf_free(&owner);
    return rc;
}

/* The process layer's fence (aox_procs_set_fence): assignments of pid are written
 * only under this node's lease token; without a held lease the write fails. */
static int cluster_fence(void *ud, const char *pid, aox_batch *b, aox_err *err)
{
    aox_cluster *c = ud;
    char name[AOX_ID_LEN + 8];
    uint64_t token = 0;
    held *h;
    int rc;

    pthread_mutex_lock(&c->mu);
    for (h = c->held; h; h = h->next) if (strcmp(h->pid, pid) == 0) break;
    if (h) token = h->token;
    pthread_mutex_unlock(&c->mu);
    if (!h) return aox_err_set(err, AOX_E_CONFLICT, "this node does not own process %s", pid);
    snprintf(name, sizeof name, "proc/%s", pid);
    rc = aox_batch_fence(b, name, token);
    if (rc) aox_err_set(err, rc, "cannot fence the batch of %s", pid);
    return rc;
}

int aox_cluster_open(const struct aox_node_config *cfg, aox_procs *procs, aox_cluster **out,
                     aox_err *err)
{
    aox_cluster *c = calloc(1, sizeof *c);
    aox_delegate_opts dopts;
    aox_names_opts nopts;
    const char *hooks = getenv("AOX_TEST_HOOKS");
    int rc;

    *out = NULL;
    if (!c) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    if (cfg->test_forge_results && !(hooks && strcmp(hooks, "1") == 0)) {
        rc = aox_err_set(err, AOX_E_CONFIG, "--test-forge-results needs AOX_TEST_HOOKS=1");
        goto fail;
    }
    {   /* the key lives in --data, also when --store points elsewhere: mkdir -p */
        char path[4096];
        size_t i, len = strlen(cfg->data);
        if (len == 0 || len >= sizeof path) {
            rc = aox_err_set(err, AOX_E_CONFIG, "data directory path is empty or too long");
            goto fail;
        }
        memcpy(path, cfg->data, len + 1);
        for (i = 1; i <= len; i++) {
            if (path[i] != '/' && path[i] != '\0') continue;
            path[i] = '\0';
            if (mkdir(path, 0755) && errno != EEXIST) {
                rc = aox_err_set(err, AOX_E_IO, "mkdir %s: %s", path, strerror(errno));
                goto fail;
            }
            if (i < len) path[i] = '/';
        }
    }
    rc = aox_identity_open(cfg->data, &c->identity, NULL, err);
    if (rc) goto fail;
    memset(&nopts, 0, sizeof nopts);
    nopts.procs = procs;
    nopts.identity = c->identity;
    nopts.config_path = cfg->config;
    nopts.token_dir = cfg->data;
    nopts.log_spawns = 1;
    nopts.delegate = cfg->delegate;
    if (strcmp(aox_store_backend(aox_procs_store(procs)), "redis") == 0) {
        nopts.claim = cluster_claim;     /* c->store etc. are set before serving */
        nopts.claim_ud = c;
    }
    rc = aox_names_open(&nopts, &c->names, err);
    if (rc) goto fail;
    memset(&dopts, 0, sizeof dopts);
    dopts.peers = cfg->peers;
    dopts.timeout_ms = cfg->delegate_timeout_ms;
    dopts.peer_max = cfg->delegate_peer_max;
    dopts.identity = c->identity;
    dopts.forge = (aox_delegate_forge)cfg->test_forge_results;
    dopts.store = aox_procs_store(procs);
    rc = aox_delegate_configure(&dopts, err);
    if (rc) goto fail;
    c->routes.names = c->names;
    c->routes.identity = c->identity;
    c->routes.sign_results = cfg->sign_results;
    c->routes.cluster = c;
    c->store = aox_procs_store(procs);
    c->procs = procs;
    c->on = strcmp(aox_store_backend(c->store), "redis") == 0;
    if (c->on) aox_procs_set_fence(procs, cluster_fence, c);
    c->ttl_ms = cfg->lease_ttl_ms ? cfg->lease_ttl_ms : 10000;
    snprintf(c->self, sizeof c->self, "%s", cfg->advertise ? cfg->advertise : "");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return AOX_OK;
fail:
    aox_cluster_close(c);
    return rc;
}

/* ctx->owner: the legacy routes' request about pid is served by its owner. */
static int legacy_owner(void *ud, const aox_http_request *req, const char *pid,
                        aox_http_response *resp, int *rc)
{
    aox_cluster *c = ud;
    if (nested || !c->on) return 0;
    return own_or_forward(c, req, pid, resp, rc);
}

void aox_cluster_http(aox_cluster *c, aox_http_ctx *ctx)
{
    ctx->pre = aox_cluster_pre_route;
    ctx->pre_ud = &c->routes;
    ctx->owner = c->on ? legacy_owner : NULL;      /* one node: nothing to route */
    ctx->owner_ud = c;
}

const char *aox_cluster_address(const aox_cluster *c)
{
    return aox_identity_address(c->identity);
}

void aox_cluster_close(aox_cluster *c)
{
    if (!c) return;
    if (c->renewer_on) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->renewer, NULL);
    }
    while (c->held) {               /* a clean stop hands processes over at once */
        held *h = c->held;
        char name[AOX_ID_LEN + 8];
        c->held = h->next;
        snprintf(name, sizeof name, "proc/%s", h->pid);
        aox_store_lease_release(c->store, name, h->token);
        free(h);
    }
    if (c->store) {                 /* initialised together with the store pointer */
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
    }
    aox_delegate_shutdown();
    aox_names_close(c->names);
    aox_identity_free(c->identity);
    free(c);
}

/* ---------------------------------------------------------------- cluster mode */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *renewer_main(void *ud)
{
    aox_cluster *c = ud;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        struct timespec ts;
        uint64_t wait = c->ttl_ms / 3;
        held **pp;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (c->stop) break;
        for (pp = &c->held; *pp;) {
            held *h = *pp;
            char name[AOX_ID_LEN + 8];
            int rc;
            snprintf(name, sizeof name, "proc/%s", h->pid);
            rc = aox_store_lease_renew(c->store, name, h->token, c->ttl_ms);
            if (rc == AOX_E_CONFLICT) {        /* lost: another node owns it now */
                aox_log(AOX_LOG_WARN, "lease-lost", "\"pid\":\"%s\"", h->pid);
                *pp = h->next;
                free(h);
                continue;
            }
            pp = &h->next;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

void aox_cluster_serving(aox_cluster *c, const char *bind, unsigned port)
{
    if (!c->self[0]) {
        if (strchr(bind, ':')) snprintf(c->self, sizeof c->self, "http://[%s]:%u", bind, port);
        else snprintf(c->self, sizeof c->self, "http://%s:%u", bind, port);
    }
    if (c->on && pthread_create(&c->renewer, NULL, renewer_main, c) == 0) c->renewer_on = 1;
    if (c->on)
        aox_log(AOX_LOG_INFO, "cluster", "\"self\":\"%s\",\"lease-ttl-ms\":%llu", c->self,
                (unsigned long long)c->ttl_ms);
}

/* 0: this node owns pid (now); 1: owner (URL) holds it; else an aox error code. */
static int owner_of(aox_cluster *c, const char *pid, aox_buf *owner, uint64_t *mine,
                    aox_err *err)
{
    char name[AOX_ID_LEN + 8];
    held *h;
    uint64_t token = 0, left = 0;
    int rc, tries;

    pthread_mutex_lock(&c->mu);
    for (h = c->held; h; h = h->next) if (strcmp(h->pid, pid) == 0) break;
    if (h) *mine = h->token;
    pthread_mutex_unlock(&c->mu);
    if (h) return 0;
    snprintf(name, sizeof name, "proc/%s", pid);
    for (tries = 0; tries < 3; tries++) {
        rc = aox_store_lease_acquire(c->store, name, c->self, c->ttl_ms, &token);
        if (rc == 0) {
            h = calloc(1, sizeof *h);
            if (!h) { aox_store_lease_release(c->store, name, token); return AOX_E_NOMEM; }
            memcpy(h->pid, pid, AOX_ID_LEN + 1);
            h->token = token;
            *mine = token;
            pthread_mutex_lock(&c->mu);
            h->next = c->held;
            c->held = h;
            pthread_mutex_unlock(&c->mu);
            /* another node may have appended while we did not own it */
            aox_proc_forget_tail(c->procs, pid);
            aox_log(AOX_LOG_INFO, "lease-acquired", "\"pid\":\"%s\",\"token\":%llu", pid,
                    (unsigned long long)token);
            return 0;
        }
        if (rc != AOX_E_CONFLICT) return aox_err_set(err, rc, "lease %s: store error", name);
        aox_buf_reset(owner);
        rc = aox_store_lease_get(c->store, name, owner, &token, &left);
        if (rc == 0) return 1;
        if (rc != AOX_E_NOT_FOUND) return aox_err_set(err, rc, "lease %s: store error", name);
    }
    return aox_err_set(err, AOX_E_BUSY, "lease %s keeps changing hands", name);
}

/* Before a write: renews the lease (so it is still ours right now). On loss drops it
 * from the held list and returns AOX_E_CONFLICT. This narrows, but does not close,
 * the window in which a node that lost its lease could still write (no fencing). */
static int confirm(aox_cluster *c, const char *pid, uint64_t token)
{
    char name[AOX_ID_LEN + 8];
    held **pp;
    int rc;
    snprintf(name, sizeof name, "proc/%s", pid);
    rc = aox_store_lease_renew(c->store, name, token, c->ttl_ms);
    if (rc != AOX_E_CONFLICT) return AOX_OK;      /* store errors: the write reports them */
    pthread_mutex_lock(&c->mu);
    for (pp = &c->held; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->pid, pid) == 0) {
            held *h = *pp;
            *pp = h->next;
            free(h);
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    aox_log(AOX_LOG_WARN, "lease-lost", "\"pid\":\"%s\"", pid);
    return AOX_E_CONFLICT;
}

static const char *const fwd_keys[] = { "slot", "from", "to", "process-id", "limit", "sort",
                                        "assign", "base-layer", NULL };

static void qs_append(aox_buf *b, const char *k, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    aox_buf_printf(b, "%c%s=", strchr((char *)b->data, '?') ? '&' : '?', k);
    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') aox_buf_append_u8(b, ch);
        else { aox_buf_append_u8(b, '%'); aox_buf_append_u8(b, (uint8_t)hex[ch >> 4]);
               aox_buf_append_u8(b, (uint8_t)hex[ch & 15]); }
    }
}

/* A forwarded request reached a node that does not own pid: 503 `busy` whose error
 * object names the owner it knows (`owner`), which tells the forwarding node to look
 * the owner up again rather than pass the answer on (see moving()). */
static void not_owner_out(aox_http_response *resp, const char *pid, const char *owner,
                          int *rc)
{
    aox_err err;
    json_t *j, *o;
    aox_err_set(&err, AOX_E_BUSY, "process %s is owned by %s", pid, owner);
    j = aox_err_to_json(&err);
    o = j ? json_object_get(j, "error") : NULL;
    if (!o || json_object_set_new(o, "owner", json_string(owner))) {
        json_decref(j);
        error_out(resp, &err, rc);
        return;
    }
    json_out(resp, aox_code_http_status(AOX_E_BUSY), j, rc);
    *rc = AOX_E_BUSY;
}

/* 1 when a 503 body is not_owner_out's (the process is moving between nodes: look
 * again); any other 503 (a busy owner: full queue, shutting down) is the owner's
 * answer and goes back to the client as it is. */
static int moving(const aox_buf *body)
{
    json_t *j = body->len ? json_loadb((const char *)body->data, body->len, 0, NULL) : NULL;
    json_t *o = j ? json_object_get(j, "error") : NULL;
    int r = o && json_is_string(json_object_get(o, "owner"));
    json_decref(j);
    return r;
}

/* Serves req locally when this node owns pid, else forwards it to the owner and
 * gives the client the owner's answer: status, body, content type, Retry-After and
 * X-Aox-Compute. Returns 0 to let the normal routes serve it, 1 when answered. */
static int own_or_forward(aox_cluster *c, const aox_http_request *req, const char *pid,
                          aox_http_response *resp, int *rc)
{
    uint64_t deadline = now_ms() + c->ttl_ms + 3000;
    int forwarded = req->query && req->query(req->query_ud, "aox-fwd");
    aox_buf owner = {0}, path = {0}, body = {0};
    aox_err err;
    int r, k, binary = 0;
    char ra[16], compute[sizeof resp->compute];

    aox_err_clear(&err);
    for (;;) {
        long status = 0;
        uint64_t token = 0;
        r = owner_of(c, pid, &owner, &token, &err);
        if (r == 0 && strcmp(req->method, "GET") != 0 && confirm(c, pid, token) != 0)
            continue;                     /* lost it meanwhile: find the new owner */
        if (r == 0) { *rc = 0; r = 0; goto done; }          /* ours: local routes */
        if (r != 1) { error_out(resp, &err, rc); r = 1; goto done; }
        if (forwarded) {
            not_owner_out(resp, pid, (char *)owner.data, rc);
            r = 1;
            goto done;
        }
        {
            aox_http_client *cl = NULL;
            aox_buf_reset(&path);
            aox_buf_append_str(&path, req->path);
            for (k = 0; req->query && fwd_keys[k]; k++) {
                const char *v = req->query(req->query_ud, fwd_keys[k]);
                if (v) qs_append(&path, fwd_keys[k], v);
            }
            qs_append(&path, "aox-fwd", "1");
            aox_err_clear(&err);
            r = aox_http_client_new((char *)owner.data, 30000, &cl, &err);
            if (r == 0)
                r = aox_http_client_request(cl, req->method, (char *)path.data, req->body,
                                            req->body_len, NULL, &status, &body, &err);
            /* GET /state answers raw bytes; everything else is JSON */
            binary = r == 0 && strncmp(aox_http_client_content_type(cl),
                                       "application/octet-stream", 24) == 0;
            ra[0] = compute[0] = '\0';
            if (r == 0) {
                (void)aox_http_client_header(cl, "Retry-After", ra, sizeof ra);
                (void)aox_http_client_header(cl, "X-Aox-Compute", compute, sizeof compute);
            }
            aox_http_client_free(cl);
        }
        if (r == 0 && !(status == 503 && moving(&body))) {
            char *e = NULL;
            unsigned long sec = ra[0] ? strtoul(ra, &e, 10) : 0;
            aox_buf_reset(&resp->body);
            aox_buf_append(&resp->body, body.data ? body.data : (const uint8_t *)"", body.len);
            resp->status = (int)status;
            resp->content_type = binary ? "application/octet-stream" : CT_JSON;
            snprintf(resp->compute, sizeof resp->compute, "%s", compute);
            resp->retry_after = (e && *e == '\0' && sec <= 86400) ? (unsigned)sec : 0;
            *rc = status < 400 ? AOX_OK : status == 503 ? AOX_E_BUSY : AOX_E_UPSTREAM;
            r = 1;
            goto done;
        }
        if (now_ms() > deadline) {
            aox_err_set(&err, AOX_E_UPSTREAM, "owner %s of process %s does not answer",
                        (char *)owner.data, pid);
            error_out(resp, &err, rc);
            r = 1;
            goto done;
        }
        {   /* the owner is gone or moving: wait for its lease to expire */
            struct timespec ts = { 0, 100 * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
done:
    aox_buf_free(&owner);
    aox_buf_free(&path);
    aox_buf_free(&body);
    return r;
}

/* Cluster-mode part of the hook: the process a request is about, if any. */
static int cluster_route(aox_cluster *c, const aox_http_request *req, aox_http_response *resp,
                         int *rc)
{
    aox_route r;
    aox_err err;
    char pid[AOX_ID_LEN + 1];

    if (!c->on) return 0;
    if (aox_http_route(req->method, req->path, &r, &err)) return 0;
    if (r.kind == AOX_R_SPAWN) {
        aox_msg *def = NULL;
        if (aox_msg_from_json_text((const char *)req->body, req->body_len, &def, &err))
            return 0;                                /* the normal route reports it */
        if (aox_msg_id(def, pid)) { aox_msg_free(def); return 0; }
        aox_msg_free(def);
    } else if (r.pid[0]) {
        memcpy(pid, r.pid, sizeof pid);
    } else {
        return 0;
    }
    return own_or_forward(c, req, pid, resp, rc);
}
