/*
 * core/metrics.h: a small process-wide metrics registry — counters, gauges and
 * histograms with fixed buckets, each family with up to AOX_METRIC_LABELS_MAX label
 * names — and its Prometheus text exposition (format 0.0.4).
 *
 *   family (name, help, kind, label names, buckets)
 *      └── series (one per distinct tuple of label values)
 *             counter/gauge: one atomic value
 *             histogram:     atomic bucket counts, count and sum
 *
 * Hot paths are lock-free: updating a series is one or a few relaxed atomic adds.
 * Finding a series by label values is a short scan without a lock (series are only
 * ever appended, published with a release store); creating a series takes a mutex.
 * Callers on hot paths look a series up once and keep the pointer: families and
 * series live in static storage for the life of the program and are never freed
 * (so nothing here allocates, and there is nothing to release at exit).
 *
 * Values pulled at scrape time (process RSS, queue depths...) come from collectors:
 * functions registered with aox_metrics_collector_add that set gauges just before
 * aox_metrics_render writes the text.
 *
 * Histogram observations are unsigned integers in a base unit (e.g. microseconds);
 * the family's `scale` converts bucket bounds and the sum to the exposed unit
 * (1e-6 for seconds), so no floating-point atomics are needed.
 */
#ifndef AOX_CORE_METRICS_H
#define AOX_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

#define AOX_METRICS_FAMILIES_MAX 64    /* families in the program */
#define AOX_METRICS_SERIES_MAX   1024  /* series over all families */
#define AOX_METRIC_LABELS_MAX    3     /* label names per family */
#define AOX_METRIC_BUCKETS_MAX   20    /* finite histogram bounds (+Inf is implicit) */
#define AOX_METRIC_LABEL_TEXT    160   /* rendered `a="x",b="y"` of one series */

typedef enum aox_metric_kind {
    AOX_METRIC_COUNTER = 0,
    AOX_METRIC_GAUGE,
    AOX_METRIC_HISTOGRAM
} aox_metric_kind;

typedef struct aox_metric aox_metric;    /* a family */
typedef struct aox_series aox_series;    /* one labelled series of a family */

/* Describes a family. `labels` is a comma-separated list of label names ("route,status")
 * or NULL/"" for none. For histograms, `bounds` (ascending, base units) and nbounds
 * (1..AOX_METRIC_BUCKETS_MAX) are required and `scale` is the factor from base units to
 * exposed units (0 means 1). All strings must be static (they are kept by pointer). */
typedef struct aox_metric_def {
    aox_metric_kind  kind;
    const char      *name;     /* [a-zA-Z_:][a-zA-Z0-9_:]* */
    const char      *help;
    const char      *labels;
    const uint64_t  *bounds;
    size_t           nbounds;
    double           scale;
} aox_metric_def;

/* Finds the family named def->name, creating it on first use (thread-safe, idempotent).
 * Returns NULL when the table is full or when an existing family of that name has a
 * different kind. An unlabelled family gets its one series at creation (so it is
 * exposed with value 0 before any update). */
aox_metric *aox_metric_get(const aox_metric_def *def);

/* The series of m for the given label values (nvalues must equal the number of label
 * names; values are copied, escaped on output). Creates it on first use. NULL when m is
 * NULL, the series table is full, or the rendered labels exceed AOX_METRIC_LABEL_TEXT. */
aox_series *aox_metric_series(aox_metric *m, const char *const *values, size_t nvalues);

/* Updates (all NULL-safe, lock-free). */
void aox_series_add(aox_series *s, uint64_t n);        /* counter (or gauge) += n */
void aox_series_set(aox_series *s, int64_t v);         /* gauge = v */
void aox_series_observe(aox_series *s, uint64_t v);    /* histogram: one observation */

/* Reads, for tests and collectors: a counter's or gauge's value, a histogram's count
 * (sum via aox_series_sum). 0 for NULL. */
int64_t  aox_series_value(const aox_series *s);
uint64_t aox_series_sum(const aox_series *s);

/* Shorthands: look the series up and update it (a label lookup per call: fine for
 * per-request paths, keep the series pointer for per-slot ones). */
void aox_metric_inc(aox_metric *m, const char *const *values, size_t nvalues, uint64_t n);
void aox_metric_set(aox_metric *m, const char *const *values, size_t nvalues, int64_t v);
void aox_metric_observe(aox_metric *m, const char *const *values, size_t nvalues,
                        uint64_t v);

/* Collectors run (in registration order, under the render lock, one scrape at a time)
 * at the start of every aox_metrics_render. Registering the same (fn, ud) twice is a
 * no-op. Returns 0, or -1 when the table (16 entries) is full. */
typedef void (*aox_metrics_collect_fn)(void *ud);
int  aox_metrics_collector_add(aox_metrics_collect_fn fn, void *ud);
/* Removes (fn, ud); waits for a render in progress. */
void aox_metrics_collector_remove(aox_metrics_collect_fn fn, void *ud);

/* Appends the Prometheus text of every family (in registration order, series in
 * creation order) to out. Returns 0 or AOX_E_NOMEM. */
int aox_metrics_render(aox_buf *out);

/* Monotonic clock in microseconds, for latency observations. */
uint64_t aox_metrics_now_us(void);

#endif
