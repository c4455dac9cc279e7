/*
 * tests/node/nodetest.h: helpers shared by the worker-layer tests (test_workers.c,
 * test_backpressure.c): a sleep and a copy of the workers' counters.
 */
#ifndef AOX_TESTS_NODETEST_H
#define AOX_TESTS_NODETEST_H

#include <time.h>

#include "node/workers.h"
#include "ptest.h"

PT_UNUSED static void nt_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

PT_UNUSED static aox_workers_stats nt_stats(aox_workers *w)
{
    aox_workers_stats s;
    aox_workers_stats_get(w, &s);
    return s;
}

#endif
