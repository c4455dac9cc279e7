/*
 * tests/device/dtest.h: helpers for driving devices directly (no process layer).
 */
#ifndef AOX_TESTS_DTEST_H
#define AOX_TESTS_DTEST_H

#include "device/device.h"
#include "store/store.h"
#include "../process/ptest.h"

#define DT_PID "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

/* A message {value: v} (plus action when non-NULL). */
PT_UNUSED static aox_msg *dt_msg(int64_t v, const char *action)
{
    aox_msg *m = aox_msg_new();
    REQUIRE(m && aox_msg_set_int(m, "value", v) == AOX_OK);
    if (action)
        REQUIRE(aox_msg_set_str(m, "action", action) == AOX_OK);
    return m;
}

/* Runs ops->compute on msg as slot `slot`; returns the result (caller frees) and rc. */
PT_UNUSED static aox_msg *dt_compute(const aox_device_ops *ops, void *state, const aox_msg *def,
                           const aox_msg *msg, uint64_t slot, const aox_limits *lim,
                           int dry_run, int *rc_out)
{
    aox_msg *a = aox_msg_new(), *res = aox_msg_new();
    aox_call call;
    aox_err err = {0};
    REQUIRE(a && res);
    REQUIRE(aox_msg_set_int(a, "slot", (int64_t)slot) == AOX_OK);
    REQUIRE(aox_msg_set_msg(a, "body", msg) == AOX_OK);
    memset(&call, 0, sizeof call);
    call.pid = DT_PID;
    call.process = def;
    call.assignment = a;
    call.message = aox_msg_get_msg(a, "body");
    call.slot = slot;
    call.timestamp = 1700000000000 + (int64_t)slot;
    call.limits = lim;
    call.dry_run = dry_run;
    *rc_out = ops->compute(state, &call, res, &err);
    aox_msg_free(a);
    return res;
}

PT_UNUSED static int dt_encode_equal(const aox_msg *a, const aox_msg *b)
{
    aox_buf x = {0}, y = {0};
    int eq = aox_msg_encode(a, &x) == AOX_OK && aox_msg_encode(b, &y) == AOX_OK &&
             x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    aox_buf_free(&x);
    aox_buf_free(&y);
    return eq;
}

#endif
