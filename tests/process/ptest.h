/*
 * tests/process/ptest.h: tiny assertion helpers, and test-counter's counter, shared by
 * the device and process tests (header-only; each test is one executable).
 */
#ifndef AOX_TESTS_PTEST_H
#define AOX_TESTS_PTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/message.h"

#define PT_UNUSED __attribute__((unused))

static int pt_failures;

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    pt_failures++; } } while (0)

/* Evaluates expr (an aox return code) and checks it equals want. */
#define CHECK_RC(expr, want) do { int rc_ = (expr); if (rc_ != (want)) { \
    fprintf(stderr, "%s:%d: %s returned %s, wanted %s\n", __FILE__, __LINE__, #expr, \
            aox_code_name(rc_), aox_code_name(want)); pt_failures++; } } while (0)

/* Fatal: stops the test when a precondition fails. */
#define REQUIRE(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #c); \
    exit(1); } } while (0)

#define PT_RUN(fn) do { int before_ = pt_failures; fn(); \
    fprintf(stderr, "%-40s %s\n", #fn, pt_failures == before_ ? "ok" : "FAILED"); } while (0)

#define PT_DONE() do { if (pt_failures) fprintf(stderr, "%d check(s) failed\n", pt_failures); \
    return pt_failures ? 1 : 0; } while (0)

/* The output counter of a test-counter@1.0 result (-999999 if there is none). */
PT_UNUSED static int64_t pt_counter(const aox_msg *res)
{
    const aox_msg *out = aox_msg_get_msg(res, "output");
    int64_t c = -999999;
    if (out)
        aox_msg_get_int(out, "counter", &c);
    return c;
}

#endif
