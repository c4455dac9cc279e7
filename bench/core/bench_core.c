/*
 * bench/core/bench_core.c: throughput and latency of the process core, in process
 * and over loopback HTTP, measured in the same run so the HTTP figures have a
 * baseline:
 *
 *   schedule   assignments/s: aox_proc_schedule directly; then POST /<pid>/schedule
 *              over 1 and 4 keep-alive connections; then 16 threads in process over
 *              16 processes and over 1 process (group commit shares fsyncs between
 *              concurrent schedules); then in-process without fsync
 *   compute    slots/s: computing slot N from init (test-counter@1.0, snapshots
 *              every 64 slots), directly and as one GET /<pid>/compute over HTTP
 *   cached     latency of a cached result: aox_proc_compute vs GET (p50/p99)
 *
 * Usage: bench_core [N]   (N messages per process, default 2000)
 * Data goes to a temporary LMDB directory (durable commits unless noted), removed
 * at the end. Timing uses CLOCK_MONOTONIC; nothing here is a test.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "device/device.h"
#include "http/client.h"
#include "http/server.h"
#include "process/process.h"
#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const aox_err *err)
{
    fprintf(stderr, "bench_core: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char port_s[16];

static void spawn(aox_procs *p, const char *name, char pid[AOX_ID_LEN + 1])
{
    aox_msg *def = aox_msg_new();
    aox_err err;
    aox_msg_set_str(def, "type", "Process");
    aox_msg_set_str(def, "execution-device", "test-counter@1.0");
    aox_msg_set_str(def, "name", name);
    if (aox_proc_spawn(p, def, pid, NULL, &err) != 0) die("spawn", &err);
    aox_msg_free(def);
}

static double sched_inproc(aox_procs *p, const char *pid, int n)
{
    double t0 = now_s();
    for (int i = 1; i <= n; i++) {
        aox_msg *m = aox_msg_new();
        aox_msg *asg = NULL;
        aox_err err;
        aox_msg_set_int(m, "value", i);
        aox_msg_set_int(m, "seq", i);
        if (aox_proc_schedule(p, pid, m, &asg, &err) != 0) die("schedule", &err);
        aox_msg_free(asg);
        aox_msg_free(m);
    }
    return n / (now_s() - t0);
}

typedef struct inproc_job { aox_procs *p; const char *pid; int base, n; } inproc_job;

static void *sched_inproc_thread(void *ud)
{
    inproc_job *job = ud;
    for (int i = 0; i < job->n; i++) {
        aox_msg *m = aox_msg_new();
        aox_msg *asg = NULL;
        aox_err err;
        aox_msg_set_int(m, "value", job->base + i);
        aox_msg_set_int(m, "seq", job->base + i);
        if (aox_proc_schedule(job->p, job->pid, m, &asg, &err) != 0) die("schedule", &err);
        aox_msg_free(asg);
        aox_msg_free(m);
    }
    return NULL;
}

/* T threads, thread t scheduling n/T messages into pids[t % npids]. */
static double sched_threads(aox_procs *p, char (*pids)[AOX_ID_LEN + 1], int npids, int T,
                            int n)
{
    pthread_t th[16];
    inproc_job jobs[16];
    double t0 = now_s();
    for (int t = 0; t < T; t++) {
        jobs[t].p = p;
        jobs[t].pid = pids[t % npids];
        jobs[t].base = 1000000 * (t + 1);
        jobs[t].n = n / T;
        pthread_create(&th[t], NULL, sched_inproc_thread, &jobs[t]);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    return (n / T * T) / (now_s() - t0);
}

typedef struct http_job { const char *pid; int n; } http_job;

static void *sched_http(void *ud)
{
    http_job *job = ud;
    aox_http_client *c;
    aox_buf resp = {0};
    aox_err err;
    char url[64], path[128], body[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%s", port_s);
    snprintf(path, sizeof path, "/%s/schedule", job->pid);
    if (aox_http_client_new(url, 0, &c, &err) != 0) die("client", &err);
    for (int i = 1; i <= job->n; i++) {
        long status = 0;
        int len = snprintf(body, sizeof body, "{\"value\":%d,\"seq\":%d}", i, i);
        if (aox_http_client_request(c, "POST", path, body, (size_t)len, NULL, &status, &resp,
                                    &err) != 0 || status != 200)
            die("POST schedule", &err);
    }
    aox_buf_free(&resp);
    aox_http_client_free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    char dir[] = "/tmp/aox-bench-XXXXXX", dir2[] = "/tmp/aox-bench-nosync-XXXXXX";
    char uri[128], pid_a[AOX_ID_LEN + 1], pid_b[AOX_ID_LEN + 1], pid_n[AOX_ID_LEN + 1];
    char pids4[4][AOX_ID_LEN + 1], pids16[16][AOX_ID_LEN + 1];
    aox_store *st, *st2;
    aox_procs *procs, *procs2;
    aox_procs_opts po;
    aox_http_server *srv;
    aox_http_opts ho;
    aox_store_opts so;
    aox_err err;
    double r_in, r_h1, r_h4, r_t16, r_t16one, r_ns, c_in, c_http;
    int samples = 2000;
    double *lat_in, *lat_http;

    if (n < 10) n = 10;
    aox_log_set_level(AOX_LOG_WARN);     /* keep the figures readable */
    if (!mkdtemp(dir) || !mkdtemp(dir2)) die("mkdtemp", NULL);
    if (aox_device_register_builtin() != 0) die("devices", NULL);
    snprintf(uri, sizeof uri, "lmdb:%s", dir);
    if (aox_store_open(uri, NULL, &st, &err) != 0) die("store", &err);
    memset(&po, 0, sizeof po);
    po.store = st;
    po.snapshot_every = 64;
    if (aox_procs_open(&po, &procs, &err) != 0) die("procs", &err);
    memset(&ho, 0, sizeof ho);
    ho.bind = "127.0.0.1";
    ho.max_body = 1 << 20;
    ho.ctx.procs = procs;
    ho.ctx.page_max = 1000;
    if (aox_http_start(&ho, &srv, &err) != 0) die("http", &err);
    snprintf(port_s, sizeof port_s, "%u", (unsigned)aox_http_port(srv));

    printf("aox core benchmark: %d messages per process, test-counter@1.0, LMDB in %s\n", n,
           dir);

    /* --- schedule --- */
    spawn(procs, "a", pid_a);
    r_in = sched_inproc(procs, pid_a, n);
    spawn(procs, "b", pid_b);
    {
        http_job job = { pid_b, n };
        double t0 = now_s();
        sched_http(&job);
        r_h1 = n / (now_s() - t0);
    }
    {
        pthread_t th[4];
        http_job jobs[4];
        double t0;
        for (int i = 0; i < 4; i++) {
            char name[16];
            snprintf(name, sizeof name, "c%d", i);
            spawn(procs, name, pids4[i]);
            jobs[i].pid = pids4[i];
            jobs[i].n = n / 4;
        }
        t0 = now_s();
        for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, sched_http, &jobs[i]);
        for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
        r_h4 = (n / 4 * 4) / (now_s() - t0);
    }
    for (int i = 0; i < 16; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        spawn(procs, name, pids16[i]);
    }
    r_t16 = sched_threads(procs, pids16, 16, 16, n);
    r_t16one = sched_threads(procs, pids16, 1, 16, n);
    snprintf(uri, sizeof uri, "lmdb:%s", dir2);
    memset(&so, 0, sizeof so);
    so.no_sync = 1;
    if (aox_store_open(uri, &so, &st2, &err) != 0) die("store2", &err);
    po.store = st2;
    if (aox_procs_open(&po, &procs2, &err) != 0) die("procs2", &err);
    spawn(procs2, "n", pid_n);
    r_ns = sched_inproc(procs2, pid_n, n);

    printf("schedule  in-process (durable)          %10.0f assignments/s\n", r_in);
    printf("schedule  HTTP, 1 keep-alive connection %10.0f assignments/s\n", r_h1);
    printf("schedule  HTTP, 4 connections/4 procs   %10.0f assignments/s\n", r_h4);
    printf("schedule  16 threads / 16 procs         %10.0f assignments/s\n", r_t16);
    printf("schedule  16 threads / 1 proc           %10.0f assignments/s\n", r_t16one);
    printf("schedule  in-process, no fsync          %10.0f assignments/s\n", r_ns);

    /* --- compute --- */
    {
        aox_msg *res = NULL;
        aox_compute_info ci;
        double t0 = now_s();
        if (aox_proc_compute(procs, pid_a, (uint64_t)n, &res, &ci, &err) != 0)
            die("compute", &err);
        c_in = (double)ci.slots_applied / (now_s() - t0);
        aox_msg_free(res);
    }
    {
        aox_http_client *c;
        aox_buf resp = {0};
        long status = 0;
        char url[64], path[160];
        double t0;
        snprintf(url, sizeof url, "http://127.0.0.1:%s", port_s);
        snprintf(path, sizeof path, "/%s/compute?slot=%d", pid_b, n);
        if (aox_http_client_new(url, 0, &c, &err) != 0) die("client", &err);
        t0 = now_s();
        if (aox_http_client_request(c, "GET", path, NULL, 0, NULL, &status, &resp, &err) != 0 ||
            status != 200)
            die("GET compute", &err);
        c_http = n / (now_s() - t0);
        printf("compute   in-process, from init         %10.0f slots/s\n", c_in);
        printf("compute   HTTP, one GET from init       %10.0f slots/s\n", c_http);

        /* --- cached result latency --- */
        lat_in = calloc((size_t)samples, sizeof *lat_in);
        lat_http = calloc((size_t)samples, sizeof *lat_http);
        if (!lat_in || !lat_http) die("calloc", NULL);
        {
            uint64_t x = 12345;    /* fixed LCG: the same slots every run */
            for (int i = 0; i < samples; i++) {
                uint64_t slot;
                aox_msg *res = NULL;
                double t1;
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                slot = 1 + (x >> 33) % (uint64_t)n;
                t1 = now_s();
                if (aox_proc_compute(procs, pid_a, slot, &res, NULL, &err) != 0)
                    die("cached compute", &err);
                lat_in[i] = (now_s() - t1) * 1e6;
                aox_msg_free(res);
                snprintf(path, sizeof path, "/%s/compute?slot=%llu", pid_b,
                         (unsigned long long)slot);
                t1 = now_s();
                if (aox_http_client_request(c, "GET", path, NULL, 0, NULL, &status, &resp,
                                            &err) != 0 || status != 200)
                    die("GET cached", &err);
                lat_http[i] = (now_s() - t1) * 1e6;
            }
        }
        qsort(lat_in, (size_t)samples, sizeof *lat_in, cmp_double);
        qsort(lat_http, (size_t)samples, sizeof *lat_http, cmp_double);
        printf("cached    in-process  p50 %8.1f us   p99 %8.1f us   (%d samples)\n",
               lat_in[samples / 2], lat_in[samples * 99 / 100], samples);
        printf("cached    HTTP GET    p50 %8.1f us   p99 %8.1f us   (%d samples)\n",
               lat_http[samples / 2], lat_http[samples * 99 / 100], samples);
        free(lat_in);
        free(lat_http);
        aox_buf_free(&resp);
        aox_http_client_free(c);
    }

    aox_http_stop(srv);
    aox_procs_close(procs);
    aox_procs_close(procs2);
    aox_store_close(st);
    aox_store_close(st2);
    {
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, dir2);
        if (system(cmd) != 0) fprintf(stderr, "bench_core: could not remove %s\n", dir);
    }
    return 0;
}
