/*
 * cli/top.c: `aox top` (cli/top.h). One frame = one GET /~meta@1.0/processes (sorted
 * by the node) and one GET /metrics (node totals). Rates (slots/s) come from the
 * difference between two frames, so the first frame (and --once) shows totals only.
 */
#include "cli/top.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "http/client.h"

#define TOP_MAX 64

typedef struct prev_row { char pid[44]; long long slots; } prev_row;

static volatile sig_atomic_t stop;
static void on_sigint(int sig) { (void)sig; stop = 1; }

/* Value of the first sample line starting with `prefix` (name plus labels) in a
 * Prometheus text body; -1 when absent. */
static double metric(const aox_buf *b, const char *prefix)
{
    size_t pl = strlen(prefix);
    const char *p = (const char *)b->data, *end = p + b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len > pl && memcmp(p, prefix, pl) == 0 && p[pl] == ' ') {
            char num[64];
            size_t n = len - pl - 1 < sizeof num - 1 ? len - pl - 1 : sizeof num - 1;
            memcpy(num, p + pl + 1, n);
            num[n] = '\0';
            return strtod(num, NULL);
        }
        p = nl ? nl + 1 : end;
    }
    return -1;
}

static int get(aox_http_client *hc, const char *path, aox_buf *out, long *status,
               aox_err *err)
{
    aox_buf_reset(out);
    return aox_http_client_request(hc, "GET", path, NULL, 0, NULL, status, out, err);
}

static long long jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* Prints one frame; prev/nprev carry the previous frame's slot counts (for rates). */
static int frame(aox_http_client *hc, const char *base, const char *sort, unsigned limit,
                 double dt, prev_row *prev, size_t *nprev, int ansi)
{
    aox_buf pb = {0}, mb = {0};
    aox_err err;
    long st1 = 0, st2 = 0;
    char path[128];
    json_t *root = NULL, *arr;
    json_error_t je;
    prev_row cur[TOP_MAX];
    size_t ncur = 0;
    int rc;

    aox_err_clear(&err);
    snprintf(path, sizeof path, "/~meta@1.0/processes?sort=%s&limit=%u", sort, limit);
    rc = get(hc, path, &pb, &st1, &err);
    if (rc == 0) rc = get(hc, "/metrics", &mb, &st2, &err);
    if (rc) {
        fprintf(stderr, "aox top: cannot reach the node at %s: %s\n", base, err.msg);
        rc = 3;
        goto out;
    }
    if (st1 != 200 || st2 != 200) {
        fprintf(stderr, "aox top: the node answered HTTP %ld/%ld\n", st1, st2);
        if (pb.len) fprintf(stderr, "%.*s\n", (int)pb.len, (const char *)pb.data);
        rc = 1;
        goto out;
    }
    root = json_loadb((const char *)pb.data, pb.len, 0, &je);
    arr = root ? json_object_get(root, "processes") : NULL;
    if (!json_is_array(arr)) {
        fprintf(stderr, "aox top: unexpected answer from the node\n");
        rc = 1;
        goto out;
    }
    if (ansi) fputs("\033[H\033[2J", stdout);
    printf("aox top - %s - processes %lld, busy %.0f, live states %.0f, "
           "slots computed %.0f, cache hits %.0f, queued %.0f\n", base,
           jint(root, "total"), metric(&mb, "aox_processes_busy"),
           metric(&mb, "aox_live_states"), metric(&mb, "aox_slots_computed_total"),
           metric(&mb, "aox_cache_hits_total"),
           metric(&mb, "aox_queue_depth{queue=\"compute\"}"));
    printf("memory: rss %.0f KiB, live states %.0f KiB; node faults %.0f, guest errors %.0f\n",
           metric(&mb, "aox_memory_bytes{category=\"rss\"}") / 1024.0,
           metric(&mb, "aox_memory_bytes{category=\"live_states\"}") / 1024.0,
           metric(&mb, "aox_node_faults_total"), metric(&mb, "aox_guest_errors_total"));
    printf("%-43s %-10s %9s %8s %9s %10s %9s  %s\n", "PROCESS", "STATE", "SLOTS", "SLOTS/S",
           "CPU-S", "MEM-KIB", "AT-SLOT", "LAST-ERROR");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i), *le = json_object_get(o, "last-error");
        const char *pid = json_string_value(json_object_get(o, "process"));
        const char *stage = json_string_value(json_object_get(o, "blocked-on"));
        long long slots = jint(o, "slots-computed"), at = jint(o, "at-slot");
        double cpu = json_number_value(json_object_get(o, "compute-seconds"));
        char rate[32] = "-", ats[32] = "-";
        if (!pid) continue;
        for (size_t k = 0; k < *nprev && dt > 0; k++)
            if (strcmp(prev[k].pid, pid) == 0)
                snprintf(rate, sizeof rate, "%.1f", (double)(slots - prev[k].slots) / dt);
        if (at >= 0) snprintf(ats, sizeof ats, "%lld", at);
        printf("%-43s %-10s %9lld %8s %9.3f %10.1f %9s  %s\n", pid, stage ? stage : "?",
               slots, rate, cpu, (double)jint(o, "memory-bytes") / 1024.0, ats,
               json_is_object(le) ? json_string_value(json_object_get(le, "code")) : "-");
        if (ncur < TOP_MAX) {
            snprintf(cur[ncur].pid, sizeof cur[ncur].pid, "%s", pid);
            cur[ncur].slots = slots;
            ncur++;
        }
    }
    fflush(stdout);
    memcpy(prev, cur, ncur * sizeof cur[0]);
    *nprev = ncur;
    rc = 0;
out:
    json_decref(root);
    aox_buf_free(&pb);
    aox_buf_free(&mb);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int aox_cli_top(const char *base_url, int argc, char **argv)
{
    aox_http_client *hc = NULL;
    aox_err err;
    const char *sort = "busy";
    unsigned long interval_ms = 1000, limit = 20;
    int once = 0, rc;
    prev_row prev[TOP_MAX];
    size_t nprev = 0;
    double last = 0;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (strcmp(a, "--once") == 0) once = 1;
        else if (strncmp(a, "--interval=", 11) == 0) {
            interval_ms = strtoul(a + 11, &end, 10);
            if (!*(a + 11) || *end || interval_ms == 0) goto usage;
        } else if (strncmp(a, "--limit=", 8) == 0) {
            limit = strtoul(a + 8, &end, 10);
            if (!*(a + 8) || *end || limit == 0 || limit > TOP_MAX) goto usage;
        } else if (strncmp(a, "--sort=", 7) == 0) {
            sort = a + 7;
            if (strcmp(sort, "busy") && strcmp(sort, "slots") && strcmp(sort, "memory") &&
                strcmp(sort, "pid"))
                goto usage;
        } else
            goto usage;
    }
    aox_err_clear(&err);
    if (aox_http_client_new(base_url, 5000, &hc, &err) != 0) {
        fprintf(stderr, "aox top: %s\n", err.msg);
        return 3;
    }
    if (!once) signal(SIGINT, on_sigint);
    for (;;) {
        double t = now_s();
        rc = frame(hc, base_url, sort, (unsigned)limit, last > 0 ? t - last : 0, prev, &nprev,
                   !once);
        last = t;
        if (rc || once || stop) break;
        {
            struct timespec ts = { (time_t)(interval_ms / 1000),
                                   (long)(interval_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        if (stop) break;
    }
    aox_http_client_free(hc);
    return rc;
usage:
    fprintf(stderr, "aox top: bad option '%s' (--once, --interval=MS, --limit=1..%d, "
            "--sort=busy|slots|memory|pid)\n", argv[0], TOP_MAX);
    return 2;
}
