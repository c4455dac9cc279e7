/*
 * tests/core/gen.h: random messages from a seeded generator, covering every value
 * type, empty and non-UTF-8 bytes, special floats and nesting.
 */
#ifndef AOX_TESTS_GEN_H
#define AOX_TESTS_GEN_H

#include <math.h>
#include "check.h"
#include "core/message.h"

static void gen_key(trng *r, char *k)
{
    static const char *const parts[] = { "a", "b", "data", "Target", "x-y", "é", "1", "_" };
    int n = 1 + (int)trng_below(r, 3);
    k[0] = 0;
    for (int i = 0; i < n; i++)
        strcat(k, parts[trng_below(r, sizeof parts / sizeof parts[0])]);
}

static void gen_value(trng *r, aox_value *v, int depth);

static aox_msg *gen_msg(trng *r, int depth)
{
    aox_msg *m = aox_msg_new();
    REQUIRE(m);
    int n = (int)trng_below(r, depth > 3 ? 2 : 6);
    for (int i = 0; i < n; i++) {
        char k[32];
        aox_value v;
        gen_key(r, k);
        gen_value(r, &v, depth + 1);
        REQUIRE(aox_msg_set_value(m, k, &v) == 0);
        aox_value_free(&v);
    }
    return m;
}

static void gen_value(trng *r, aox_value *v, int depth)
{
    memset(v, 0, sizeof *v);
    int kind = (int)trng_below(r, depth > 3 ? 3 : 5);
    switch (kind) {
    case 0: {
        size_t n = (size_t)trng_below(r, 4) == 0 ? 0 : (size_t)trng_below(r, 40);
        v->type = AOX_V_BYTES;
        v->u.bytes.ptr = malloc(n + 1);
        REQUIRE(v->u.bytes.ptr);
        int text = trng_below(r, 2) == 0;
        for (size_t i = 0; i < n; i++)
            v->u.bytes.ptr[i] = text ? (uint8_t)(' ' + trng_below(r, 95))
                                     : (uint8_t)trng_next(r);
        v->u.bytes.ptr[n] = 0;
        v->u.bytes.len = n;
        break;
    }
    case 1: {
        static const int64_t special[] = { 0, 1, -1, INT64_MIN, INT64_MAX, 255, 1 << 20 };
        v->type = AOX_V_INT;
        v->u.i = trng_below(r, 2) ? special[trng_below(r, 7)] : (int64_t)trng_next(r);
        break;
    }
    case 2: {
        static const double special[] = { 0.0, -0.0, 1.5, -2.25, 1e300, 5e-324,
                                          INFINITY, -INFINITY, NAN };
        v->type = AOX_V_FLOAT;
        if (trng_below(r, 2)) {
            v->u.f = special[trng_below(r, 9)];
        } else {
            uint64_t b = trng_next(r);
            memcpy(&v->u.f, &b, 8);       /* may be a NaN with a payload */
        }
        break;
    }
    case 3: {
        size_t n = (size_t)trng_below(r, 4);
        v->type = AOX_V_LIST;
        v->u.list.items = n ? calloc(n, sizeof(aox_value)) : NULL;
        for (size_t i = 0; i < n; i++)
            gen_value(r, &v->u.list.items[i], depth + 1);
        v->u.list.len = n;
        break;
    }
    default:
        v->type = AOX_V_MSG;
        v->u.msg = gen_msg(r, depth + 1);
        break;
    }
}

#endif
