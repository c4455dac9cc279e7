/*
 * core/metrics.c: the metrics registry of core/metrics.h. Families and series live
 * in two static tables; both only grow (append under `mu`, publish the new count with
 * a release store), so readers scan them without a lock.
 */
#include "core/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

struct aox_series {
    aox_metric          *family;
    char                 labels[AOX_METRIC_LABEL_TEXT];   /* `a="x",b="y"` or "" */
    atomic_llong         value;                           /* counter, gauge */
    atomic_ullong        count, sum;                      /* histogram */
    atomic_ullong        buckets[AOX_METRIC_BUCKETS_MAX]; /* non-cumulative */
};

struct aox_metric {
    aox_metric_kind  kind;
    const char      *name, *help;
    char             label_names[AOX_METRIC_LABELS_MAX][32];
    size_t           nlabels;
    uint64_t         bounds[AOX_METRIC_BUCKETS_MAX];
    size_t           nbounds;
    double           scale;
    aox_series      *series[AOX_METRICS_SERIES_MAX];      /* this family's, in order */
    atomic_size_t    nseries;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;         /* creation */
static pthread_mutex_t render_mu = PTHREAD_MUTEX_INITIALIZER;  /* collectors, render */
static aox_metric    families[AOX_METRICS_FAMILIES_MAX];
static atomic_size_t nfamilies;
static aox_series    pool[AOX_METRICS_SERIES_MAX];
static size_t        npool;                                    /* mu */

static struct { aox_metrics_collect_fn fn; void *ud; } collectors[16];
static size_t ncollectors;                                     /* render_mu */

/* ------------------------------------------------------------------------ */
/* Families and series                                                      */
/* ------------------------------------------------------------------------ */

static aox_metric *find_family(const char *name)
{
    size_t n = atomic_load_explicit(&nfamilies, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (strcmp(families[i].name, name) == 0) return &families[i];
    return NULL;
}

static int parse_labels(aox_metric *m, const char *labels)
{
    const char *p = labels;
    m->nlabels = 0;
    if (!p || !*p) return 0;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len >= sizeof m->label_names[0] ||
            m->nlabels == AOX_METRIC_LABELS_MAX)
            return -1;
        memcpy(m->label_names[m->nlabels], p, len);
        m->label_names[m->nlabels][len] = '\0';
        m->nlabels++;
        if (!e) return 0;
        p = e + 1;
    }
}

/* Under mu: appends a series with pre-rendered labels to m. */
static aox_series *add_series(aox_metric *m, const char *labels)
{
    size_t n = atomic_load_explicit(&m->nseries, memory_order_relaxed);
    aox_series *s;
    if (npool == AOX_METRICS_SERIES_MAX) return NULL;
    s = &pool[npool++];
    memset(s->labels, 0, sizeof s->labels);
    s->family = m;
    snprintf(s->labels, sizeof s->labels, "%s", labels);
    m->series[n] = s;
    atomic_store_explicit(&m->nseries, n + 1, memory_order_release);
    return s;
}

aox_metric *aox_metric_get(const aox_metric_def *def)
{
    aox_metric *m;
    size_t n;

    if (!def || !def->name || !def->help) return NULL;
    m = find_family(def->name);
    if (m) return m->kind == def->kind ? m : NULL;
    pthread_mutex_lock(&mu);
    m = find_family(def->name);
    if (m) {
        if (m->kind != def->kind) m = NULL;
        goto out;
    }
    n = atomic_load_explicit(&nfamilies, memory_order_relaxed);
    if (n == AOX_METRICS_FAMILIES_MAX) goto out;   /* m == NULL */
    m = &families[n];
    memset(m, 0, sizeof *m);
    m->kind = def->kind;
    m->name = def->name;
    m->help = def->help;
    m->scale = def->scale > 0 ? def->scale : 1.0;
    if (parse_labels(m, def->labels) != 0) {
        m = NULL;
        goto out;
    }
    if (def->kind == AOX_METRIC_HISTOGRAM) {
        if (!def->bounds || def->nbounds == 0 || def->nbounds > AOX_METRIC_BUCKETS_MAX) {
            m = NULL;
            goto out;
        }
        memcpy(m->bounds, def->bounds, def->nbounds * sizeof def->bounds[0]);
        m->nbounds = def->nbounds;
    }
    if (m->nlabels == 0 && !add_series(m, "")) {
        m = NULL;
        goto out;
    }
    atomic_store_explicit(&nfamilies, n + 1, memory_order_release);
out:
    pthread_mutex_unlock(&mu);
    return m;
}

/* Renders `name="value",...` with Prometheus escaping (\\, \", \n). */
static int render_labels(const aox_metric *m, const char *const *values, size_t nvalues,
                         char out[AOX_METRIC_LABEL_TEXT])
{
    size_t o = 0;
    if (nvalues != m->nlabels) return -1;
    for (size_t i = 0; i < nvalues; i++) {
        const char *v = values[i] ? values[i] : "";
        int w = snprintf(out + o, AOX_METRIC_LABEL_TEXT - o, "%s%s=\"", i ? "," : "",
                         m->label_names[i]);
        if (w < 0 || (size_t)w >= AOX_METRIC_LABEL_TEXT - o) return -1;
        o += (size_t)w;
        for (; *v; v++) {
            const char *esc = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n"
                                                                                   : NULL;
            size_t need = esc ? 2 : 1;
            if (o + need + 2 > AOX_METRIC_LABEL_TEXT) return -1;
            if (esc) memcpy(out + o, esc, 2);
            else out[o] = *v;
            o += need;
        }
        if (o + 2 > AOX_METRIC_LABEL_TEXT) return -1;
        out[o++] = '"';
    }
    out[o] = '\0';
    return 0;
}

aox_series *aox_metric_series(aox_metric *m, const char *const *values, size_t nvalues)
{
    char key[AOX_METRIC_LABEL_TEXT];
    aox_series *s = NULL;
    size_t n;

    if (!m || render_labels(m, values, nvalues, key) != 0) return NULL;
    n = atomic_load_explicit(&m->nseries, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (strcmp(m->series[i]->labels, key) == 0) return m->series[i];
    pthread_mutex_lock(&mu);
    n = atomic_load_explicit(&m->nseries, memory_order_relaxed);
    for (size_t i = 0; i < n && !s; i++)
        if (strcmp(m->series[i]->labels, key) == 0) s = m->series[i];
    if (!s) s = add_series(m, key);
    pthread_mutex_unlock(&mu);
    return s;
}

void aox_series_add(aox_series *s, uint64_t n)
{
    if (s) atomic_fetch_add_explicit(&s->value, (long long)n, memory_order_relaxed);
}

void aox_series_set(aox_series *s, int64_t v)
{
    if (s) atomic_store_explicit(&s->value, v, memory_order_relaxed);
}

void aox_series_observe(aox_series *s, uint64_t v)
{
    const aox_metric *m;
    size_t i;
    if (!s) return;
    m = s->family;
    for (i = 0; i < m->nbounds && v > m->bounds[i]; i++) {}
    if (i < m->nbounds) atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum, v, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

int64_t aox_series_value(const aox_series *s)
{
    if (!s) return 0;
    if (s->family->kind == AOX_METRIC_HISTOGRAM)
        return (int64_t)atomic_load_explicit(&s->count, memory_order_relaxed);
    return atomic_load_explicit(&s->value, memory_order_relaxed);
}

uint64_t aox_series_sum(const aox_series *s)
{
    return s ? atomic_load_explicit(&s->sum, memory_order_relaxed) : 0;
}

void aox_metric_inc(aox_metric *m, const char *const *values, size_t nvalues, uint64_t n)
{
    aox_series_add(aox_metric_series(m, values, nvalues), n);
}

void aox_metric_set(aox_metric *m, const char *const *values, size_t nvalues, int64_t v)
{
    aox_series_set(aox_metric_series(m, values, nvalues), v);
}

void aox_metric_observe(aox_metric *m, const char *const *values, size_t nvalues,
                        uint64_t v)
{
    aox_series_observe(aox_metric_series(m, values, nvalues), v);
}

/* ------------------------------------------------------------------------ */
/* Collectors and exposition                                                */
/* ------------------------------------------------------------------------ */

int aox_metrics_collector_add(aox_metrics_collect_fn fn, void *ud)
{
    int rc = 0;
    size_t i;
    pthread_mutex_lock(&render_mu);
    for (i = 0; i < ncollectors; i++)
        if (collectors[i].fn == fn && collectors[i].ud == ud) break;
    if (i == ncollectors) {
        if (ncollectors == sizeof collectors / sizeof collectors[0]) rc = -1;
        else {
            collectors[ncollectors].fn = fn;
            collectors[ncollectors].ud = ud;
            ncollectors++;
        }
    }
    pthread_mutex_unlock(&render_mu);
    return rc;
}

void aox_metrics_collector_remove(aox_metrics_collect_fn fn, void *ud)
{
    pthread_mutex_lock(&render_mu);
    for (size_t i = 0; i < ncollectors; i++)
        if (collectors[i].fn == fn && collectors[i].ud == ud) {
            memmove(&collectors[i], &collectors[i + 1],
                    (ncollectors - i - 1) * sizeof collectors[0]);
            ncollectors--;
            break;
        }
    pthread_mutex_unlock(&render_mu);
}

/* `name{labels,extra}` or `name{extra}` or `name` */
static int put_name(aox_buf *b, const char *name, const char *suffix, const char *labels,
                    const char *extra)
{
    int has = labels[0] || extra[0];
    return aox_buf_printf(b, "%s%s%s%s%s%s%s", name, suffix, has ? "{" : "", labels,
                          labels[0] && extra[0] ? "," : "", extra, has ? "}" : "");
}

static int render_family(aox_buf *b, const aox_metric *m)
{
    static const char *const kinds[] = { "counter", "gauge", "histogram" };
    size_t n = atomic_load_explicit(&m->nseries, memory_order_acquire);
    int rc = aox_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                            kinds[m->kind]);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const aox_series *s = m->series[i];
        if (m->kind != AOX_METRIC_HISTOGRAM) {
            rc = put_name(b, m->name, "", s->labels, "");
            if (rc == 0)
                rc = aox_buf_printf(b, " %lld\n",
                                    (long long)atomic_load_explicit(&s->value,
                                                                    memory_order_relaxed));
            continue;
        }
        {
            uint64_t cum = 0, count = atomic_load_explicit(&s->count, memory_order_relaxed);
            char le[48];
            for (size_t k = 0; k < m->nbounds && rc == 0; k++) {
                cum += atomic_load_explicit(&s->buckets[k], memory_order_relaxed);
                snprintf(le, sizeof le, "le=\"%.9g\"", (double)m->bounds[k] * m->scale);
                rc = put_name(b, m->name, "_bucket", s->labels, le);
                if (rc == 0) rc = aox_buf_printf(b, " %llu\n", (unsigned long long)cum);
            }
            /* +Inf is the count; a concurrent observe may have bumped a bucket after
             * count was read: keep the exposition monotone. */
            if (count < cum) count = cum;
            if (rc == 0) rc = put_name(b, m->name, "_bucket", s->labels, "le=\"+Inf\"");
            if (rc == 0) rc = aox_buf_printf(b, " %llu\n", (unsigned long long)count);
            if (rc == 0) rc = put_name(b, m->name, "_sum", s->labels, "");
            if (rc == 0)
                rc = aox_buf_printf(b, " %.9g\n",
                                    (double)atomic_load_explicit(&s->sum,
                                                                 memory_order_relaxed) *
                                        m->scale);
            if (rc == 0) rc = put_name(b, m->name, "_count", s->labels, "");
            if (rc == 0) rc = aox_buf_printf(b, " %llu\n", (unsigned long long)count);
        }
    }
    return rc;
}

int aox_metrics_render(aox_buf *out)
{
    int rc = 0;
    size_t n;
    pthread_mutex_lock(&render_mu);
    for (size_t i = 0; i < ncollectors; i++) collectors[i].fn(collectors[i].ud);
    n = atomic_load_explicit(&nfamilies, memory_order_acquire);
    for (size_t i = 0; i < n && rc == 0; i++) rc = render_family(out, &families[i]);
    pthread_mutex_unlock(&render_mu);
    return rc ? AOX_E_NOMEM : AOX_OK;
}

uint64_t aox_metrics_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
