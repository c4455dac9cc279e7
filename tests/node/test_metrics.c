/*
 * tests/node/test_metrics.c: the metrics registry of core/metrics.h — counters,
 * gauges, histograms with labels, collectors, the Prometheus text, and concurrent
 * updates from several threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/metrics.h"

static int fails;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static const uint64_t bounds[] = { 10, 100, 1000 };

static void collect(void *ud)
{
    aox_metric_def d = { AOX_METRIC_GAUGE, "t_collected", "Set by a collector.", NULL,
                         NULL, 0, 0 };
    (*(int *)ud)++;
    aox_metric_set(aox_metric_get(&d), NULL, 0, 42);
}

static void *hammer(void *ud)
{
    aox_metric *c = ud;
    const char *v[] = { "x" };
    for (int i = 0; i < 10000; i++) aox_metric_inc(c, v, 1, 1);
    return NULL;
}

static int contains(const aox_buf *b, const char *s)
{
    return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

int main(void)
{
    aox_metric_def cd = { AOX_METRIC_COUNTER, "t_requests_total", "Requests.", "route,status",
                          NULL, 0, 0 };
    aox_metric_def hd = { AOX_METRIC_HISTOGRAM, "t_stage_seconds", "Stage time.", "stage",
                          bounds, 3, 1e-6 };
    aox_metric_def bad = { AOX_METRIC_GAUGE, "t_requests_total", "Clash.", NULL, NULL, 0, 0 };
    aox_metric_def par = { AOX_METRIC_COUNTER, "t_parallel_total", "Parallel.", "k", NULL, 0,
                           0 };
    aox_metric *c = aox_metric_get(&cd), *h = aox_metric_get(&hd), *p = aox_metric_get(&par);
    const char *l1[] = { "compute", "200" }, *l2[] = { "spawn", "4\"0\\0" };
    const char *exec[] = { "execute" };
    aox_buf b = {0};
    pthread_t th[4];
    int ncollect = 0;

    CHECK(c && h && p);
    CHECK(aox_metric_get(&cd) == c);            /* idempotent */
    CHECK(aox_metric_get(&bad) == NULL);        /* same name, other kind */
    CHECK(aox_metric_series(c, l1, 1) == NULL); /* wrong label count */
    aox_metric_inc(c, l1, 2, 3);
    aox_metric_inc(c, l1, 2, 2);
    aox_metric_inc(c, l2, 2, 1);
    CHECK(aox_series_value(aox_metric_series(c, l1, 2)) == 5);
    aox_metric_observe(h, exec, 1, 5);      /* <= 10 */
    aox_metric_observe(h, exec, 1, 10);     /* <= 10 (le is inclusive) */
    aox_metric_observe(h, exec, 1, 500);    /* <= 1000 */
    aox_metric_observe(h, exec, 1, 5000);   /* +Inf only */
    CHECK(aox_series_value(aox_metric_series(h, exec, 1)) == 4);
    CHECK(aox_series_sum(aox_metric_series(h, exec, 1)) == 5515);

    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, hammer, p);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    {
        const char *v[] = { "x" };
        CHECK(aox_series_value(aox_metric_series(p, v, 1)) == 40000);
    }

    CHECK(aox_metrics_collector_add(collect, &ncollect) == 0);
    CHECK(aox_metrics_collector_add(collect, &ncollect) == 0);   /* no duplicate */
    CHECK(aox_metrics_render(&b) == 0);
    CHECK(ncollect == 1);
    CHECK(contains(&b, "# TYPE t_requests_total counter\n"));
    CHECK(contains(&b, "t_requests_total{route=\"compute\",status=\"200\"} 5\n"));
    CHECK(contains(&b, "t_requests_total{route=\"spawn\",status=\"4\\\"0\\\\0\"} 1\n"));
    CHECK(contains(&b, "# TYPE t_stage_seconds histogram\n"));
    CHECK(contains(&b, "t_stage_seconds_bucket{stage=\"execute\",le=\"1e-05\"} 2\n"));
    CHECK(contains(&b, "t_stage_seconds_bucket{stage=\"execute\",le=\"0.0001\"} 2\n"));
    CHECK(contains(&b, "t_stage_seconds_bucket{stage=\"execute\",le=\"0.001\"} 3\n"));
    CHECK(contains(&b, "t_stage_seconds_bucket{stage=\"execute\",le=\"+Inf\"} 4\n"));
    CHECK(contains(&b, "t_stage_seconds_count{stage=\"execute\"} 4\n"));
    CHECK(contains(&b, "t_stage_seconds_sum{stage=\"execute\"} 0.005515\n"));
    CHECK(contains(&b, "t_collected 42\n"));
    CHECK(contains(&b, "t_parallel_total{k=\"x\"} 40000\n"));
    aox_metrics_collector_remove(collect, &ncollect);
    aox_buf_reset(&b);
    CHECK(aox_metrics_render(&b) == 0);
    CHECK(ncollect == 1);
    aox_buf_free(&b);
    if (fails) fprintf(stderr, "%d failure(s)\n", fails);
    return fails ? 1 : 0;
}
