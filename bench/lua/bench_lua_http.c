/*
 * bench/lua/bench_lua_http.c: end-to-end lua@5.3 figures over HTTP against a running
 * `aox serve` (bench/lua/run.sh starts one): the small handler of bench_lua.c is
 * uploaded as a module and spawned, then
 *   - per message: POST /<pid>/schedule, then GET /<pid>/compute?slot=N for that
 *     message (one keep-alive connection per process, C processes at once);
 *   - batched: N schedules, then one GET /<pid>/compute?slot=N that applies them all.
 * Times are wall-clock (the node is another process): messages/s over everything the
 * client waited for. Usage: bench_lua_http URL [messages-per-connection] [connections]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "http/client.h"

static const char *base;

static const char SCRIPT[] =
    "Balances = {} for i = 1, 100 do Balances['addr' .. i] = 1000000 end "
    "function handle(msg) "
    "  local from, to = msg.From, msg.Recipient "
    "  local q = math.tointeger(tonumber(msg.Quantity)) "
    "  Balances[from] = Balances[from] - q "
    "  Balances[to] = Balances[to] + q "
    "  return {ok = true, balance = Balances[from]} "
    "end";

/* %d: a sequence number, so that no two messages are equal (equal messages have one
 * ID and are scheduled once) */
static const char MSG[] =
    "{\"seq\":%d,\"data\":\"\",\"tags\":[{\"name\":\"Action\",\"value\":\"Transfer\"},"
    "{\"name\":\"From\",\"value\":\"addr1\"},{\"name\":\"Recipient\",\"value\":\"addr2\"},"
    "{\"name\":\"Quantity\",\"value\":\"1\"}]}";

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, long status, const aox_err *err, const aox_buf *resp)
{
    fprintf(stderr, "bench_lua_http: %s: status %ld: %s %.*s\n", what, status,
            err && err->code ? err->msg : "",
            resp ? (int)(resp->len > 300 ? 300 : resp->len) : 0,
            resp ? (const char *)resp->data : "");
    exit(1);
}

/* One request that must answer 200; the body is left in *resp. */
static void call(aox_http_client *c, const char *method, const char *path, const char *body,
                 aox_buf *resp)
{
    aox_err err;
    long status = 0;
    aox_err_clear(&err);
    if (aox_http_client_request(c, method, path, body, body ? strlen(body) : 0, NULL,
                                &status, resp, &err) != 0 || status != 200)
        die(path, status, &err, resp);
}

/* Copies the string value of "key":"..." from a JSON text (enough for IDs). */
static void field(const aox_buf *b, const char *key, char *out, size_t cap)
{
    char pat[64];
    const char *p, *e;
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    p = memmem(b->data, b->len, pat, strlen(pat));
    if (!p) die("no field in answer", 200, NULL, b);
    p += strlen(pat);
    e = memchr(p, '"', b->len - (size_t)(p - (const char *)b->data));
    if (!e || (size_t)(e - p) >= cap) die("bad field in answer", 200, NULL, b);
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
}

typedef struct job {
    char module[64];
    int  id, n, batched;
} job;

static void *run_job(void *ud)
{
    job *j = ud;
    aox_http_client *c = NULL;
    aox_buf resp = {0};
    aox_err err;
    char def[256], pid[64], path[128], msg[sizeof MSG + 16];
    aox_err_clear(&err);
    if (aox_http_client_new(base, 0, &c, &err) != 0) die("client", 0, &err, NULL);
    /* a distinct name per job and mode: a fresh process each time */
    snprintf(def, sizeof def, "{\"type\":\"Process\",\"execution-device\":\"lua@5.3\","
             "\"module\":\"%s\",\"name\":\"bench-%d-%d-%ld\"}", j->module, j->id,
             j->batched, (long)time(NULL));
    call(c, "POST", "/spawn", def, &resp);
    field(&resp, "process", pid, sizeof pid);
    for (int i = 1; i <= j->n; i++) {
        snprintf(path, sizeof path, "/%s/schedule", pid);
        snprintf(msg, sizeof msg, MSG, i);
        call(c, "POST", path, msg, &resp);
        if (!j->batched) {
            snprintf(path, sizeof path, "/%s/compute?slot=%d", pid, i);
            call(c, "GET", path, NULL, &resp);
            if (!memmem(resp.data, resp.len, "\"balance\":", 10)) die("result", 200, NULL, &resp);
        }
    }
    if (j->batched) {
        snprintf(path, sizeof path, "/%s/compute?slot=%d", pid, j->n);
        call(c, "GET", path, NULL, &resp);
        if (!memmem(resp.data, resp.len, "\"balance\":", 10)) die("result", 200, NULL, &resp);
    }
    aox_buf_free(&resp);
    aox_http_client_free(c);
    return NULL;
}

static double run(const char *module, int conns, int n, int batched)
{
    pthread_t th[64];
    job jobs[64];
    double t0 = wall();
    for (int i = 0; i < conns; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        snprintf(jobs[i].module, sizeof jobs[i].module, "%s", module);
        jobs[i].id = i;
        jobs[i].n = n;
        jobs[i].batched = batched;
        if (pthread_create(&th[i], NULL, run_job, &jobs[i]) != 0) die("thread", 0, NULL, NULL);
    }
    for (int i = 0; i < conns; i++) pthread_join(th[i], NULL);
    return (double)conns * n / (wall() - t0);
}

int main(int argc, char **argv)
{
    aox_http_client *c = NULL;
    aox_buf resp = {0};
    aox_err err;
    char module[64];
    int n, conns;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_lua_http URL [messages-per-connection] [connections]\n");
        return 2;
    }
    base = argv[1];
    n = argc > 2 ? atoi(argv[2]) : 2000;
    conns = argc > 3 ? atoi(argv[3]) : 4;
    if (n < 1 || conns < 1 || conns > 64) return 2;
    aox_err_clear(&err);
    if (aox_http_client_new(base, 0, &c, &err) != 0) die("client", 0, &err, NULL);
    call(c, "POST", "/modules", SCRIPT, &resp);
    field(&resp, "id", module, sizeof module);
    aox_buf_free(&resp);
    aox_http_client_free(c);

    printf("  schedule + compute per message, 1 connection:  %8.0f msg/s (%d msgs)\n",
           run(module, 1, n, 0), n);
    printf("  schedule + compute per message, %d conn/procs:  %8.0f msg/s (%d msgs)\n", conns,
           run(module, conns, n, 0), conns * n);
    printf("  %d schedules, then one compute, %d conn/procs: %8.0f msg/s\n", n, conns,
           run(module, conns, n, 1));
    return 0;
}
