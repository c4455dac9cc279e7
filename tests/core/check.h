/*
 * tests/core/check.h: minimal assertion macros for aox unit tests, plus a seeded
 * random generator (xorshift64*) so that "random" tests are the same on every run.
 */
#ifndef AOX_TESTS_CHECK_H
#define AOX_TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond) do {                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                   \
        }                                                                       \
    } while (0)

#define CHECK_EQ_INT(a, b) do {                                                 \
        long long va_ = (long long)(a), vb_ = (long long)(b);                   \
        if (va_ != vb_) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",   \
                    __FILE__, __LINE__, #a, #b, va_, vb_);                      \
            check_failures++;                                                   \
        }                                                                       \
    } while (0)

#define CHECK_STR(a, b) do {                                                    \
        const char *sa_ = (a), *sb_ = (b);                                      \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", \
                    __FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)",           \
                    sb_ ? sb_ : "(null)");                                      \
            check_failures++;                                                   \
        }                                                                       \
    } while (0)

/* Fatal: stop the test when continuing would only crash. */
#define REQUIRE(cond) do {                                                      \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

static inline int check_report(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

typedef struct trng { uint64_t s; } trng;

static inline uint64_t trng_next(trng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t trng_below(trng *r, uint64_t n)
{
    return n ? trng_next(r) % n : 0;
}

#endif
