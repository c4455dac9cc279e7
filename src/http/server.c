/*
 * http/server.c: libmicrohttpd glue around aox_http_dispatch — body reading with
 * a cap, query-string access, response headers and one debug log line per
 * request. Threading and the body cap are explained in server.h.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"

struct aox_http_server {
    struct MHD_Daemon *daemon;
    aox_http_opts      opts;
    uint16_t           port;
    aox_http_metrics   metrics;       /* served by /metrics through opts.ctx.metrics */
};

/* Per-request state, created on the first call of the access handler. */
typedef struct req_state {
    aox_buf  body;
    int      too_large;        /* body passed the cap: answer 413, drop the rest */
    int      answered;         /* a response was queued early */
    uint64_t t0_us;
} req_state;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *safe_method(const char *m)
{
    static const char *const known[] = { "GET", "POST", "PUT", "DELETE", "HEAD",
                                         "OPTIONS", "PATCH", NULL };
    for (int i = 0; known[i]; i++) if (strcmp(m, known[i]) == 0) return known[i];
    return "other";
}

/* A streamed body (aox_http_response.stream_read) behind MHD's reader callback. */
typedef struct stream_box {
    long long (*read)(void *ud, uint64_t pos, char *buf, size_t max);
    void      (*free)(void *ud);
    void       *ud;
} stream_box;

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_box *b = cls;
    long long n = b->read(b->ud, pos, buf, max);
    return n > 0 && (unsigned long long)n <= max ? (ssize_t)n
                                                  : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free_cb(void *cls)
{
    stream_box *b = cls;
    if (b->free) b->free(b->ud);
    free(b);
}

static struct MHD_Response *stream_response(aox_http_response *r)
{
    stream_box *b = malloc(sizeof *b);
    struct MHD_Response *resp;
    if (!b) {
        aox_http_response_free(r);
        return NULL;
    }
    b->read = r->stream_read;
    b->free = r->stream_free;
    b->ud = r->stream_ud;
    r->stream_read = NULL;          /* owned by the box from here */
    r->stream_free = NULL;
    resp = MHD_create_response_from_callback(r->stream_len, 64 * 1024, stream_cb, b,
                                             stream_free_cb);
    if (!resp) stream_free_cb(b);
    return resp;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, aox_http_server *s,
                                 aox_http_response *r, const char *method, req_state *st)
{
    size_t len = 0;
    uint8_t *data = r->stream_read ? NULL : aox_buf_steal(&r->body, &len);
    struct MHD_Response *resp;
    enum MHD_Result ok;

    if (r->stream_read) {
        len = (size_t)r->stream_len;
        resp = stream_response(r);
    } else {
        resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    }
    aox_buf_free(&r->body);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->compute[0]) MHD_add_response_header(resp, "X-Aox-Compute", r->compute);
    if (r->retry_after) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    ok = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    {
        unsigned long long us = (unsigned long long)(now_us() - st->t0_us);
        aox_http_metrics_count(&s->metrics, r->route, r->status, us);
        aox_log(AOX_LOG_DEBUG, "http",
                "\"method\":\"%s\",\"route\":\"%s\",\"status\":%d,\"bytes\":%zu,"
                "\"us\":%llu", safe_method(method), aox_route_name(r->route), r->status,
                len, us);
    }
    return ok;
}

static enum MHD_Result send_too_large(struct MHD_Connection *conn, aox_http_server *s,
                                      const char *method, req_state *st)
{
    aox_http_response r;
    aox_err err;
    memset(&r, 0, sizeof r);
    aox_err_set(&err, AOX_E_TOO_LARGE, "request body exceeds the limit of %zu bytes "
                "(--max-body)", s->opts.max_body);
    aox_http_error_response(&r, &err);
    st->answered = 1;
    return send_resp(conn, s, &r, method, st);
}

static const char *query_get(void *ud, const char *key)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)ud,
                                       MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    aox_http_server *s = cls;
    req_state *st = *con_cls;
    (void)version;

    if (!st) {
        const char *cl;
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        st->t0_us = now_us();
        *con_cls = st;
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*end == '\0' && n > s->opts.max_body) {
                st->too_large = 1;
                return send_too_large(conn, s, method, st);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_large) return MHD_YES;          /* discard the rest */
        if (st->body.len + n > s->opts.max_body) {
            /* MHD 0.9.75 cannot queue a response in the middle of an upload, so
             * the rest is read and dropped (never buffered); 413 follows at the end. */
            st->too_large = 1;
            aox_buf_free(&st->body);
            return MHD_YES;
        }
        if (aox_buf_append(&st->body, upload_data, n) != 0) return MHD_NO;
        return MHD_YES;
    }
    if (st->answered) return MHD_YES;
    if (st->too_large) return send_too_large(conn, s, method, st);

    {
        aox_http_request req = {
            .method = method, .path = url, .query = query_get, .query_ud = conn,
            .body = st->body.data, .body_len = st->body.len,
        };
        aox_http_response r;
        memset(&r, 0, sizeof r);
        aox_http_dispatch(&s->opts.ctx, &req, &r);
        aox_buf_free(&st->body);
        st->answered = 1;
        return send_resp(conn, s, &r, method, st);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req_state *st = *con_cls;
    (void)cls; (void)conn; (void)toe;
    if (!st) return;
    aox_buf_free(&st->body);
    free(st);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    aox_log_kv(AOX_LOG_WARN, "http-library", "message", line);
}

int aox_http_start(const aox_http_opts *opts, aox_http_server **out, aox_err *err)
{
    aox_http_server *s = NULL;
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    const char *bind = opts->bind ? opts->bind : "127.0.0.1";
    const union MHD_DaemonInfo *di;
    int rc = AOX_OK;

    *out = NULL;
    if (opts->max_body == 0)
        return aox_err_set(err, AOX_E_CONFIG, "max_body must be > 0");
    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, bind, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(opts->port);
    } else if (inet_pton(AF_INET6, bind, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(opts->port);
        flags |= MHD_USE_IPv6;
    } else {
        return aox_err_set(err, AOX_E_CONFIG, "bind: '%s' is not an IPv4 or IPv6 address",
                           bind);
    }
    s = calloc(1, sizeof *s);
    if (!s) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    s->opts = *opts;
    s->opts.bind = NULL;     /* not kept: the caller's string may not outlive us */
    s->opts.ctx.metrics = &s->metrics;
    s->daemon = MHD_start_daemon(
        flags, opts->port, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,      /* first, so it catches everything */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(opts->max_connections ?
                                                opts->max_connections : 256),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opts->timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    if (!s->daemon) {
        rc = aox_err_set(err, AOX_E_IO, "cannot listen on %s:%u (address in use or not "
                         "available?)", bind, (unsigned)opts->port);
        goto fail;
    }
    di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : opts->port;
    *out = s;
    return AOX_OK;
fail:
    free(s);
    return rc;
}

uint16_t aox_http_port(const aox_http_server *s) { return s ? s->port : 0; }

void aox_http_stop(aox_http_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
