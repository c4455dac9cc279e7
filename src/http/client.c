/*
 * http/client.c: libcurl easy-handle wrapper; see client.h.
 */
#include "http/client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"

struct aox_http_client {
    CURL *curl;
    char *base;
    long  timeout_ms;
    aox_buf hdrs;       /* the last response's header lines, "Name: value\r\n"... */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_global(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int aox_http_client_new(const char *base_url, long timeout_ms,
                        aox_http_client **out, aox_err *err)
{
    aox_http_client *c;
    size_t n;

    *out = NULL;
    pthread_once(&curl_once, curl_global);
    if (curl_init_rc != CURLE_OK)
        return aox_err_set(err, AOX_E_INTERNAL, "curl_global_init: %s",
                           curl_easy_strerror(curl_init_rc));
    c = calloc(1, sizeof *c);
    if (!c) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    c->base = strdup(base_url);
    c->curl = curl_easy_init();
    if (!c->base || !c->curl) {
        aox_http_client_free(c);
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/') c->base[--n] = '\0';
    c->timeout_ms = timeout_ms;
    *out = c;
    return AOX_OK;
}

void aox_http_client_free(aox_http_client *c)
{
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    free(c->base);
    aox_buf_free(&c->hdrs);
    free(c);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    aox_buf *b = ud;
    size_t n = size * nmemb;
    return aox_buf_append(b, p, n) == 0 ? n : 0;
}

/* Header lines; a status line starts a new response (after a 1xx), so only the
 * final response's headers are kept. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    aox_buf *b = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) aox_buf_reset(b);
    return aox_buf_append(b, p, n) == 0 ? n : 0;
}

int aox_http_client_request(aox_http_client *c, const char *method, const char *path,
                            const void *body, size_t body_len, const char *content_type,
                            long *status, aox_buf *resp, aox_err *err)
{
    aox_buf url = {0};
    struct curl_slist *hdrs = NULL;
    char ct[128];
    CURLcode cc;
    int rc = AOX_OK;

    aox_buf_reset(resp);
    aox_buf_reset(&c->hdrs);
    if (aox_buf_printf(&url, "%s%s", c->base, path) != 0) {
        rc = aox_err_set(err, AOX_E_NOMEM, "out of memory");
        goto out;
    }
    curl_easy_reset(c->curl);   /* keeps the connection cache */
    curl_easy_setopt(c->curl, CURLOPT_URL, (const char *)url.data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &c->hdrs);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    if (c->timeout_ms > 0) curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") == 0) curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        else curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 content_type ? content_type : "application/json");
        hdrs = curl_slist_append(hdrs, ct);
        /* No "Expect: 100-continue" round trip: bodies are small and the server
         * answers oversize ones with 413 from the Content-Length alone. */
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    }
    cc = curl_easy_perform(c->curl);
    if (cc != CURLE_OK) {
        rc = aox_err_set(err, cc == CURLE_OPERATION_TIMEDOUT ? AOX_E_TIMEOUT : AOX_E_UPSTREAM,
                         "%s %s: %s", method, (const char *)url.data, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
out:
    curl_slist_free_all(hdrs);
    aox_buf_free(&url);
    return rc;
}

const char *aox_http_client_content_type(aox_http_client *c)
{
    char *ct = NULL;
    if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK || !ct) return "";
    return ct;
}

int aox_http_client_header(aox_http_client *c, const char *name, char *out, size_t cap)
{
    const char *p = c->hdrs.data ? (const char *)c->hdrs.data : "";
    const char *end = p + c->hdrs.len;
    size_t nl = strlen(name);

    out[0] = '\0';
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        if ((size_t)(line_end - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1, *e = line_end;
            size_t n;
            while (v < e && (*v == ' ' || *v == '\t')) v++;
            while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
            n = (size_t)(e - v) < cap - 1 ? (size_t)(e - v) : cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 1;
        }
        p = line_end + 1;
    }
    return 0;
}
