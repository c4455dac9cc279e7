/*
 * node/node.c: node start-up, signal handling and shutdown (see node.h), and the
 * one place where execution devices are registered.
 */
#include "node/node.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "device/device.h"
#include "device/isolate.h"
#include "http/server.h"
#include "node/cluster.h"
#include "node/delegate.h"
#include "node/monitor.h"
#include "node/workers.h"
#include "process/process.h"
#include "store/store.h"
#ifdef AOX_HAVE_LUA_DEVICE
#include "lua/lua_device.h"
#endif
#ifdef AOX_HAVE_AOS_DEVICES
#include "aos/aos.h"
#endif

struct aox_node {
    const aox_node_config *cfg;
    aox_node_monitor monitor;      /* node/monitor.h: readiness, queue metrics */
    int              monitor_on;   /* its collector is registered */
    aox_store       *store;
    aox_procs       *procs;
    aox_workers     *workers;
    aox_cluster     *cluster;      /* node/cluster.h: identity, names, delegation */
    aox_http_server *http;
    int              lock_fd;      /* <data>/aox.lock, flock'ed while running; -1 none */
    char             store_uri[4096];
};

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */
/* ------------------------------------------------------------------------ */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static int reg_done;

/*
 * >>> The lead wires further devices here. <<<
 * Every device the node can run is registered in this one function, at start-up,
 * before the HTTP server accepts requests. Devices built in optional libraries are
 * guarded by the compile definitions node/CMakeLists.txt sets when their targets
 * exist (e.g. AOX_HAVE_LUA_DEVICE when the aox_lua target is built).
 */
int aox_node_register_devices(aox_err *err)
{
    int rc = AOX_OK;
    pthread_mutex_lock(&reg_lock);
    if (reg_done) goto out;
    rc = aox_device_register_builtin();           /* stack@1.0, test-counter@1.0 */
    if (rc) {
        aox_err_set(err, rc, "registering built-in devices failed");
        goto out;
    }
    rc = aox_device_register(aox_delegate_device());   /* delegated@1.0 (node/delegate.h) */
    if (rc) {
        aox_err_set(err, rc, "registering the delegated@1.0 device failed");
        goto out;
    }
#ifdef AOX_HAVE_LUA_DEVICE
    rc = aox_lua_device_register();               /* lua@5.3 */
    if (rc) {
        aox_err_set(err, rc, "registering the lua@5.3 device failed");
        goto out;
    }
#endif
#ifdef AOX_HAVE_AOS_DEVICES
    rc = aox_aos_register_devices();   /* wasm@1.0, wasm-64@1.0, json-iface, wasi markers */
    if (rc) {
        aox_err_set(err, rc, "registering the aos WASM devices failed");
        goto out;
    }
#endif
    reg_done = 1;
out:
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                */
/* ------------------------------------------------------------------------ */

void aox_node_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* A client hanging up mid-response must not kill the node. */
    signal(SIGPIPE, SIG_IGN);
}

static int64_t fixed_clock(void *ud)
{
    return *(const int64_t *)ud;
}

static json_t *info_cb(void *ud) { return aox_node_info(ud); }

/* http/ reaches the workers through this table (it does not link node/). */
static const aox_http_workers_api workers_api = {
    .compute = aox_workers_compute,
    .now = aox_workers_now,
    .result_by_message = aox_workers_result_by_message,
    .schedule = aox_workers_schedule,
    .dry_run = aox_workers_dry_run_ex,
    .snapshot = aox_workers_snapshot,
};

static int mkdir_p(const char *dir, aox_err *err)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return aox_err_set(err, AOX_E_CONFIG, "data directory path is empty or too long");
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return aox_err_set(err, AOX_E_IO, "mkdir %s: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return aox_err_set(err, AOX_E_IO, "mkdir %s: %s", path, strerror(errno));
    return AOX_OK;
}

/* Two nodes writing one data directory would interleave slots: the first node
 * holds an exclusive flock on <data>/aox.lock (released by the kernel even on
 * kill -9), and a second one refuses to start. */
static int lock_data_dir(aox_node *n, const char *dir, aox_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/aox.lock", dir);
    n->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (n->lock_fd < 0)
        return aox_err_set(err, AOX_E_IO, "open %s: %s", path, strerror(errno));
    if (flock(n->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(n->lock_fd);
        n->lock_fd = -1;
        if (e == EWOULDBLOCK)
            return aox_err_set(err, AOX_E_CONFIG, "data directory %s is in use by another "
                               "aox node (%s is locked)", dir, path);
        return aox_err_set(err, AOX_E_IO, "flock %s: %s", path, strerror(e));
    }
    return AOX_OK;
}

int aox_node_start(const aox_node_config *cfg, aox_node **out, aox_err *err)
{
    aox_node *n = NULL;
    aox_store_opts so;
    aox_procs_opts po;
    aox_http_opts ho;
    int rc;

    *out = NULL;
    aox_node_block_signals();
    aox_log_set_level((aox_log_level)cfg->log_level);
    rc = aox_node_register_devices(err);
    if (rc) return rc;
    n = calloc(1, sizeof *n);
    if (!n) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    n->cfg = cfg;
    n->lock_fd = -1;

    if (cfg->store && cfg->store[0]) {
        snprintf(n->store_uri, sizeof n->store_uri, "%s", cfg->store);
    } else {
        rc = mkdir_p(cfg->data, err);
        if (rc) goto fail;
        rc = lock_data_dir(n, cfg->data, err);
        if (rc) goto fail;
        snprintf(n->store_uri, sizeof n->store_uri, "lmdb:%s", cfg->data);
    }
    memset(&so, 0, sizeof so);
    so.no_sync = cfg->store_no_sync;
    so.cache_max = cfg->store_cache_max;
    rc = aox_store_open(n->store_uri, &so, &n->store, err);
    if (rc) goto fail;
    if (cfg->isolation == 1) {
        /* before any thread starts: the zygote is forked from a single-threaded node */
        aox_isolate_opts io;
        memset(&io, 0, sizeof io);
        io.store_uri = n->store_uri;
        io.prefork = (unsigned)cfg->prefork;
        rc = aox_isolate_start(&io, err);
        if (rc) goto fail;
    }

    memset(&po, 0, sizeof po);
    po.store = n->store;
    po.snapshot_every = cfg->snapshot_every;
    po.block_height = cfg->block_height;
    if (cfg->clock_fixed_ms >= 0) {
        po.clock_ms = fixed_clock;
        po.clock_ud = (void *)&cfg->clock_fixed_ms;
    }
    po.max_limits.fuel_per_message = cfg->max_fuel;
    po.max_limits.memory_bytes = cfg->max_memory;
    po.max_limits.wall_ms = cfg->max_wall_ms;
    po.max_limits.result_bytes = cfg->max_result_bytes;
    po.max_limits.message_bytes = cfg->max_message_bytes;
    po.live_states_max = cfg->live_states_max;
    rc = aox_procs_open(&po, &n->procs, err);
    if (rc) goto fail;
    {
        aox_workers_opts wo;
        memset(&wo, 0, sizeof wo);
        wo.procs = n->procs;
        wo.threads = (unsigned)cfg->workers;
        wo.queue_max = cfg->worker_queue;
        wo.queue_total_max = cfg->queue_max;
        wo.ro_queue_max = cfg->readonly_queue;
        wo.schedules_max = cfg->schedules_max;
        wo.await_ms = cfg->await_timeout_ms;
        wo.idle_ms = cfg->worker_idle_ms;
        wo.memory_budget = cfg->memory_budget;
        wo.live_max = cfg->workers_max;
        rc = aox_workers_open(&wo, &n->workers, err);
        if (rc) goto fail;
        n->monitor.store = n->store;
        n->monitor.workers = n->workers;
        aox_node_bounds_of(&wo, &n->monitor.bounds);
        n->monitor_on = aox_metrics_collector_add(aox_node_monitor_collect, &n->monitor) == 0;
    }

    rc = aox_cluster_open(cfg, n->procs, &n->cluster, err);
    if (rc) goto fail;

    memset(&ho, 0, sizeof ho);
    ho.bind = cfg->bind;
    ho.port = (uint16_t)cfg->port;
    ho.max_body = (size_t)cfg->max_body;
    ho.max_connections = (unsigned)cfg->http_max_connections;
    ho.timeout_s = (unsigned)((cfg->http_timeout_ms + 999) / 1000);
    ho.ctx.procs = n->procs;
    ho.ctx.page_max = cfg->schedule_page_max;
    ho.ctx.info = info_cb;
    ho.ctx.info_ud = n;
    ho.ctx.workers = n->workers;
    ho.ctx.wapi = &workers_api;
    ho.ctx.ready = aox_node_monitor_ready;
    ho.ctx.ready_ud = &n->monitor;
    ho.ctx.status_extra = aox_node_monitor_status;
    ho.ctx.status_ud = &n->monitor;
    aox_cluster_http(n->cluster, &ho.ctx);
    rc = aox_http_start(&ho, &n->http, err);
    if (rc) goto fail;
    aox_cluster_serving(n->cluster, cfg->bind, aox_http_port(n->http));

    aox_log(AOX_LOG_INFO, "listening", "\"bind\":\"%s\",\"port\":%u,\"store\":\"%s\"",
            cfg->bind, (unsigned)aox_http_port(n->http), aox_store_backend(n->store));
    *out = n;
    return AOX_OK;
fail:
    aox_node_stop(n);
    return rc;
}

uint16_t aox_node_port(const aox_node *n) { return aox_http_port(n->http); }
aox_procs *aox_node_procs(aox_node *n) { return n->procs; }
aox_workers *aox_node_workers(aox_node *n) { return n->workers; }

static void snapshot_all(aox_node *n, const char *why)
{
    aox_err err;
    int written;
    aox_err_clear(&err);
    written = aox_procs_snapshot_all(n->procs, &err);
    if (written < 0)
        aox_log(AOX_LOG_ERROR, "snapshot-all", "\"why\":\"%s\",\"code\":\"%s\"", why,
                aox_code_name(-written));
    else
        aox_log(AOX_LOG_INFO, "snapshot-all", "\"why\":\"%s\",\"written\":%d", why, written);
}

int aox_node_run_until_signal(aox_node *n)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGUSR1) {
            snapshot_all(n, "SIGUSR1");
            continue;
        }
        aox_log(AOX_LOG_INFO, "shutdown", "\"signal\":%d", sig);
        return sig;
    }
}

void aox_node_stop(aox_node *n)
{
    if (!n) return;
    aox_http_stop(n->http);         /* no request is running after this */
    n->http = NULL;
    if (n->monitor_on) aox_metrics_collector_remove(aox_node_monitor_collect, &n->monitor);
    n->monitor_on = 0;
    aox_workers_close(n->workers);  /* before the manager: threads call into it */
    n->workers = NULL;
    if (n->procs) {
        snapshot_all(n, "shutdown");
        aox_procs_close(n->procs);
    }
    /* after the last write of the process manager: releases this node's leases */
    aox_cluster_close(n->cluster);
    n->cluster = NULL;
    aox_store_close(n->store);
    if (n->lock_fd >= 0) close(n->lock_fd);     /* releases the flock */
    free(n);
}

json_t *aox_node_info(aox_node *n)
{
    const char *names[64];
    size_t count = aox_device_list(names, 64);
    json_t *devs = json_array();
    json_t *j;
    for (size_t i = 0; devs && i < count && i < 64; i++)
        json_array_append_new(devs, json_string(names[i]));
    /* "log-level" is the current level (it can change at run time); the option's
     * entry under "options" is the level the node started with. */
    j = json_pack("{s:s,s:o,s:{s:s,s:s},s:o,s:I,s:s}",
                  "version", AOX_VERSION_STRING,
                  "devices", devs,
                  "store", "backend", aox_store_backend(n->store), "uri", n->store_uri,
                  "options", aox_node_config_to_json(n->cfg, 1),
                  "port", (json_int_t)aox_http_port(n->http),
                  "log-level", aox_log_level_name(aox_log_get_level()));
    if (j && n->cluster)
        json_object_set_new(j, "address", json_string(aox_cluster_address(n->cluster)));
    if (j)
        json_object_set_new(j, "isolation",
                            json_pack("{s:s,s:b,s:I}", "mode",
                                      n->cfg->isolation == 1 ? "process" : "thread",
                                      "seccomp", n->cfg->isolation == 1 &&
                                                 aox_isolate_seccomp_enabled(),
                                      "prefork", (json_int_t)(n->cfg->isolation == 1
                                                              ? n->cfg->prefork : 0)));
    return j;
}
