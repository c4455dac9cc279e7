/*
 * node/cluster.c: node-level routes served before the dispatcher's own routing —
 * the delegation peer route, /~name/ (node processes) and signed answers.
 * Contract: node/cluster.h.
 */
#include "node/cluster.h"

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
#include <sys/stat.h>

#define CT_JSON "application/json"

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
    if (cr->sign_results && cr->identity && signable(req->method, req->path))
        return nested_dispatch(cr, ctx, req, req->path, resp, rc);
    return 0;
}

/* ---------------------------------------------------------------- node services */

struct aox_cluster {
    aox_identity       *identity;
    aox_names          *names;
    aox_cluster_routes  routes;
};

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
    if (mkdir(cfg->data, 0755) && errno != EEXIST) {
        rc = aox_err_set(err, AOX_E_IO, "mkdir %s: %s", cfg->data, strerror(errno));
        goto fail;
    }
    rc = aox_identity_open(cfg->data, &c->identity, NULL, err);
    if (rc) goto fail;
    memset(&nopts, 0, sizeof nopts);
    nopts.procs = procs;
    nopts.identity = c->identity;
    nopts.config_path = cfg->config;
    nopts.token_dir = cfg->data;
    nopts.log_spawns = 1;
    rc = aox_names_open(&nopts, &c->names, err);
    if (rc) goto fail;
    memset(&dopts, 0, sizeof dopts);
    dopts.peers = cfg->peers;
    dopts.timeout_ms = cfg->delegate_timeout_ms;
    dopts.identity = c->identity;
    dopts.forge = (aox_delegate_forge)cfg->test_forge_results;
    dopts.store = aox_procs_store(procs);
    rc = aox_delegate_configure(&dopts, err);
    if (rc) goto fail;
    c->routes.names = c->names;
    c->routes.identity = c->identity;
    c->routes.sign_results = cfg->sign_results;
    *out = c;
    return AOX_OK;
fail:
    aox_cluster_close(c);
    return rc;
}

void aox_cluster_http(aox_cluster *c, aox_http_ctx *ctx)
{
    ctx->pre = aox_cluster_pre_route;
    ctx->pre_ud = &c->routes;
}

const char *aox_cluster_address(const aox_cluster *c)
{
    return aox_identity_address(c->identity);
}

void aox_cluster_close(aox_cluster *c)
{
    if (!c) return;
    aox_delegate_shutdown();
    aox_names_close(c->names);
    aox_identity_free(c->identity);
    free(c);
}
