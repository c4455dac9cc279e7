/*
 * tests/lua/lua_test.h: tiny assertion helpers shared by the lua@5.3 tests.
 */
#ifndef AOX_TESTS_LUA_TEST_H
#define AOX_TESTS_LUA_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "lua/lua_env.h"

static int t_failures;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    t_failures++; } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) { \
    fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__, \
            b_ ? b_ : "(null)", a_ ? a_ : "(null)"); t_failures++; } } while (0)

static inline aox_lua_opts t_opts(void)
{
    aox_lua_opts o;
    memset(&o, 0, sizeof o);
    o.fuel = 2000000;
    o.memory = 16u << 20;
    o.process_id = "PROCESS-ID";
    return o;
}

static inline aox_lua *t_new(const char *script)
{
    aox_lua_opts o = t_opts();
    char err[512];
    aox_lua *lx = NULL;
    int rc = aox_lua_new(&o, NULL, script, strlen(script), &lx, err, sizeof err);
    if (rc) {
        fprintf(stderr, "aox_lua_new: %d %s\n", rc, err);
        exit(1);
    }
    return lx;
}

/* Runs one message given as JSON text; returns the result as compact sorted JSON
 * text (malloc'd) or NULL on a host fault. */
static inline char *t_run_at(aox_lua *lx, const char *msg, uint64_t slot)
{
    json_error_t je;
    json_t *m = json_loads(msg, 0, &je);
    if (!m) {
        fprintf(stderr, "bad test JSON: %s\n", msg);
        exit(1);
    }
    char id[32];
    snprintf(id, sizeof id, "msg-%llu", (unsigned long long)slot);
    json_t *a = json_pack("{s:I,s:I}", "slot", (json_int_t)slot, "timestamp",
                          (json_int_t)(1700000000000LL + (long long)slot * 1000));
    aox_lua_call c = {m, a, id, slot, 1700000000000LL + (int64_t)slot * 1000, NULL, 0};
    json_t *r = NULL;
    char err[512];
    int rc = aox_lua_compute(lx, &c, &r, err, sizeof err);
    json_decref(m);
    json_decref(a);
    if (rc) {
        fprintf(stderr, "aox_lua_compute: %d %s\n", rc, err);
        return NULL;
    }
    char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(r);
    return s;
}

static inline char *t_run(aox_lua *lx, const char *msg) { return t_run_at(lx, msg, 1); }

/* Returns the "output" member of a result text as a string (static buffer). */
static inline const char *t_output(const char *res)
{
    static char buf[4096];
    json_t *r = json_loads(res ? res : "{}", 0, NULL);
    json_t *o = json_object_get(r, "output");
    if (json_is_string(o))
        snprintf(buf, sizeof buf, "%s", json_string_value(o));
    else if (o) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        snprintf(buf, sizeof buf, "%s", s);
        free(s);
    } else
        snprintf(buf, sizeof buf, "(none)");
    json_decref(r);
    return buf;
}

/* "code: message" of a result's error, or "" */
static inline const char *t_error(const char *res)
{
    static char buf[4096];
    json_t *r = json_loads(res ? res : "{}", 0, NULL);
    json_t *e = json_object_get(r, "error");
    if (e)
        snprintf(buf, sizeof buf, "%s: %s", json_string_value(json_object_get(e, "code")),
                 json_string_value(json_object_get(e, "message")));
    else
        buf[0] = 0;
    json_decref(r);
    return buf;
}

/* Evaluates `code` as the body of handle(msg) via a message {code=...}. The state
 * must have been created with T_EVAL_SCRIPT. */
#define T_EVAL_SCRIPT \
    "function handle(msg) local f = assert(load(msg.code)); return f(msg) end"

static inline char *t_eval(aox_lua *lx, const char *code)
{
    json_t *m = json_pack("{s:s}", "code", code);
    char *txt = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    char *r = t_run(lx, txt);
    free(txt);
    return r;
}

#endif
