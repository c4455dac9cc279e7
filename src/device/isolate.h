/*
 * device/isolate.h: process isolation of execution devices (--isolation=process).
 *
 * aox_isolate_start forks a *zygote* (a small single-threaded copy of the node taken
 * before any thread starts) and replaces every registered device by a proxy of the
 * same name. Each device state then lives in its own worker OS process, taken on
 * init/restore from the zygote's pre-forked spares (or forked then when none is
 * left), and every device call is forwarded over a socketpair:
 *
 *   node (proxy device)                    worker process (real device)
 *   init/restore/compute/snapshot/free ─►  frames: u32 length, u8 type, payload
 *   snapshot writer/reader             ◄─  pages one by one (write, keep, read)
 *
 * Messages travel in their canonical encoding; snapshot pages travel through the
 * socket and are stored by the node (the worker never writes to the store). The
 * worker opens the node's store by URI, read-only in practice, for what init needs
 * (modules); the in-memory store cannot be shared and is refused.
 *
 * In the worker, before any guest code: rlimits (RLIMIT_AS = the process's memory
 * limit + slack when one is set, RLIMIT_CPU, RLIMIT_NOFILE = 0 new files,
 * RLIMIT_FSIZE = 0, RLIMIT_CORE = 0) and, unless the build uses AddressSanitizer
 * (which needs many more syscalls), a seccomp filter that kills the worker on any
 * syscall outside a short allow-list (read/write on its socket, write on stderr,
 * memory management, futex, clocks, exit, signal return...).
 *
 * A worker that dies (crash, seccomp kill, SIGKILL, wall-clock limit) makes the
 * proxy call return a node fault (AOX_E_CRASHED, or AOX_E_TIMEOUT for the wall clock):
 * nothing is cached, the process layer drops the state and rebuilds it from the last
 * snapshot on the next call, in a new worker.
 */
#ifndef AOX_DEVICE_ISOLATE_H
#define AOX_DEVICE_ISOLATE_H

#include <stdint.h>
#include "core/error.h"

typedef struct aox_isolate_opts {
    const char *store_uri;       /* the node's store (not "memory:") */
    uint64_t    memory_slack;    /* added to a process's memory limit for RLIMIT_AS
                                    (0 = 256 MiB); no memory limit: no RLIMIT_AS */
    uint64_t    cpu_seconds;     /* RLIMIT_CPU of a worker (0 = none) */
    int         no_seccomp;      /* 1: do not install the filter (debugging) */
    unsigned    prefork;         /* spare workers the zygote keeps forked (0 = fork on
                                    request; at most 64) */
} aox_isolate_opts;

/* Forks the zygote and swaps every registered device for its proxy. Call once, after
 * the devices are registered and before any thread is started. AOX_E_CONFIG for a
 * memory store; AOX_E_IO if fork fails. Idempotent: a second call does nothing. */
int  aox_isolate_start(const aox_isolate_opts *opts, aox_err *err);
/* Stops the zygote (workers exit when their socket closes). Proxies stay registered
 * and fail with AOX_E_IO afterwards. */
void aox_isolate_stop(void);

/* Pre-forked spares: the zygote keeps up to opts.prefork idle workers forked (each
 * has opened the store and waits for its start frame, unsandboxed: rlimits and the
 * filter come with the start frame, as for a worker forked on request), hands out the
 * oldest on a request and forks a replacement when no request is waiting. */
typedef struct aox_isolate_stats {
    unsigned prefork;            /* spares wanted (0 before start or when disabled) */
    unsigned spares;             /* idle spares now */
    uint64_t from_spare;         /* workers handed out from the spares */
    uint64_t from_fork;          /* workers forked on request */
} aox_isolate_stats;
/* Zeroes when isolation has not started. Also exported on /metrics as
 * aox_isolation_spare_workers and aox_isolation_workers_started_total{from}. */
void aox_isolate_stats_get(aox_isolate_stats *out);

/* 1 inside a worker process (test-counter's test-only actions check it). */
int  aox_isolate_in_worker(void);
/* 1 when workers install the seccomp filter (0 in AddressSanitizer builds). */
int  aox_isolate_seccomp_enabled(void);

#endif
