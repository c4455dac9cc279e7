/*
 * tests/lua/test_lua_device.c: the lua@5.3 device through the device interface —
 * registry, init from an inline script and from a module in the store, compute with
 * results/errors/limits, dry runs, and snapshot/restore through the snapshot
 * writer/reader over a memory store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json.h"
#include "device/device.h"
#include "lua/lua_config.h"
#include "lua/lua_device.h"
#include "store/store.h"

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", \
    __FILE__, __LINE__, #c); failures++; } } while (0)

static const char *const script =
    "count = 0 "
    "function handle(msg, a) "
    "  if msg.Action == 'Fail' then count = count + 100 error('asked to fail') end "
    "  if msg.Action == 'Spin' then while true do end end "
    "  if msg.Action == 'Big' then return string.rep('x', 5000) end "
    "  if msg.Action == 'Grow' then blob = {} for i = 1, 3 do "
    "    blob[i] = string.rep(string.char(64 + i), 1100000) end return #blob[3] end "
    "  count = count + 1 "
    "  ao.send({Target = msg.from, Action = 'Ack', N = tostring(count)}) "
    "  return {count = count, slot = a.slot, ts = os.time(), proc = ao.id, "
    "          dev = ao.env.Process['execution-device']} "
    "end";

static aox_msg *msg_json(const char *txt)
{
    aox_msg *m = NULL;
    if (aox_msg_from_json_text(txt, strlen(txt), &m, NULL)) {
        fprintf(stderr, "bad JSON %s\n", txt);
        exit(1);
    }
    return m;
}

/* Computes one message; returns the result as JSON text (malloc'd). */
static char *compute(const aox_device_ops *ops, void *st, const aox_limits *lim,
                     const char *action, uint64_t slot, int dry)
{
    char txt[256];
    snprintf(txt, sizeof txt, "{\"from\":\"SENDER\",\"tags\":[{\"name\":\"Action\","
             "\"value\":\"%s\"}]}", action);
    aox_msg *m = msg_json(txt);
    snprintf(txt, sizeof txt, "{\"slot\":%llu,\"timestamp\":%llu,\"process\":\"PID\"}",
             (unsigned long long)slot, (unsigned long long)(1700000000000ULL + slot * 1000));
    aox_msg *a = msg_json(txt);
    aox_msg *def = msg_json("{\"execution-device\":\"lua@5.3\"}");
    aox_msg *res = aox_msg_new();
    aox_call c;
    memset(&c, 0, sizeof c);
    c.pid = "PID";
    c.process = def;
    c.assignment = a;
    c.message = m;
    c.slot = slot;
    c.timestamp = (int64_t)(1700000000000LL + (int64_t)slot * 1000);
    c.limits = lim;
    c.dry_run = dry;
    aox_err err;
    aox_err_clear(&err);
    int rc = ops->compute(st, &c, res, &err);
    char *out = NULL;
    if (rc == AOX_OK) {
        aox_buf b = {0};
        aox_msg_to_json_text(res, &b);
        out = (char *)aox_buf_steal(&b, NULL);
    } else {
        fprintf(stderr, "compute rc=%d %s\n", rc, err.msg);
    }
    aox_msg_free(m);
    aox_msg_free(a);
    aox_msg_free(def);
    aox_msg_free(res);
    return out;
}

int main(void)
{
    aox_store *s = NULL;
    aox_err err;
    CHECK(aox_store_open("memory:", NULL, &s, NULL) == AOX_OK);
    CHECK(aox_lua_device_register() == AOX_OK);
    CHECK(aox_lua_device_register() == AOX_OK);        /* idempotent */
    const aox_device_ops *ops = aox_device_find("lua@5.3");
    CHECK(ops == &aox_lua_device);
    if (!ops || !s)
        return 1;

    /* the script as a module in the store */
    aox_buf key = {0};
    aox_key_simple(&key, "module", "LUAMODULE");
    CHECK(aox_store_put(s, key.data, key.len, script, strlen(script)) == AOX_OK);
    aox_buf_free(&key);

    aox_limits lim = {.fuel_per_message = 100000, .memory_bytes = 8u << 20,
                      .result_bytes = 2000};
    aox_device_env env = {.pid = "PID", .store = s, .limits = &lim};
    aox_msg *def = msg_json("{\"execution-device\":\"lua@5.3\",\"module\":\"LUAMODULE\"}");
    void *st = NULL;
    aox_err_clear(&err);
    CHECK(ops->init(&env, def, &st, &err) == AOX_OK);
    if (!st) {
        fprintf(stderr, "init: %s\n", err.msg);
        return 1;
    }
    /* missing module / bad script are init errors */
    {
        void *bad = NULL;
        aox_msg *d2 = msg_json("{\"module\":\"NOPE\"}");
        CHECK(ops->init(&env, d2, &bad, &err) == AOX_E_NOT_FOUND);
        aox_msg_free(d2);
        d2 = msg_json("{\"script\":\"this is not lua\"}");
        CHECK(ops->init(&env, d2, &bad, &err) == AOX_E_INVALID);
        CHECK(strstr(err.msg, "lua@5.3") != NULL);
        aox_msg_free(d2);
    }

    char *r = compute(ops, st, &lim, "Hello", 1, 0);
    CHECK(r && strstr(r, "\"count\":1") && strstr(r, "\"proc\":\"PID\"") &&
          strstr(r, "\"dev\":\"lua@5.3\"") && strstr(r, "\"ts\":1700000001"));
    CHECK(r && strstr(r, "\"outbox\":[{\"action\":\"Ack\",\"n\":\"1\",\"target\":\"SENDER\"}]"));
    CHECK(r && strstr(r, "\"gas\":"));
    free(r);
    r = compute(ops, st, &lim, "Fail", 2, 0);
    CHECK(r && strstr(r, "\"code\":\"guest_error\"") && strstr(r, "asked to fail") &&
          strstr(r, "traceback"));
    free(r);
    r = compute(ops, st, &lim, "Spin", 3, 0);
    CHECK(r && strstr(r, "\"code\":\"out_of_fuel\"") && strstr(r, "\"gas\":100000"));
    free(r);
    /* Regression: with no limit from the definition or the node (all 0), a runaway
     * loop must still end with out_of_fuel at the device's default fuel. */
    {
        aox_limits none = {0};
        aox_device_env env0 = {.pid = "PID", .store = s, .limits = &none};
        void *st0 = NULL;
        CHECK(ops->init(&env0, def, &st0, &err) == AOX_OK);
        if (st0) {
            char *r0 = compute(ops, st0, &none, "Spin", 1, 0);
            char want[64];
            snprintf(want, sizeof want, "\"gas\":%llu", (unsigned long long)AOXL_DEFAULT_FUEL);
            CHECK(r0 && strstr(r0, "\"code\":\"out_of_fuel\"") && strstr(r0, want));
            free(r0);
            r0 = compute(ops, st0, &none, "Hello", 2, 0);
            CHECK(r0 && strstr(r0, "\"count\":1"));
            free(r0);
            ops->free(st0);
        }
    }
    r = compute(ops, st, &lim, "Big", 4, 0);
    CHECK(r && strstr(r, "\"code\":\"limit_exceeded\""));
    free(r);
    r = compute(ops, st, &lim, "Hello", 5, 1);            /* dry run: not kept */
    CHECK(r && strstr(r, "\"count\":2"));
    free(r);
    r = compute(ops, st, &lim, "Hello", 6, 0);
    CHECK(r && strstr(r, "\"count\":2"));               /* failures were rolled back */
    free(r);
    CHECK(ops->memory(st) > 0);

    /* snapshot through the writer, restore through the reader, continue in step */
    aox_snap_writer *w = NULL;
    aox_buf man = {0};
    CHECK(aox_snap_writer_new(s, NULL, 0, &w) == AOX_OK);
    aox_err_clear(&err);
    CHECK(ops->snapshot(st, w, &err) == AOX_OK);
    CHECK(aox_snap_writer_finish(w, &man) == AOX_OK);
    aox_snap_writer_free(w);
    aox_snap_reader *rd = NULL;
    CHECK(aox_snap_reader_new(s, man.data, man.len, &rd, NULL) == AOX_OK);
    void *st2 = NULL;
    CHECK(ops->restore(&env, def, rd, &st2, &err) == AOX_OK);
    aox_snap_reader_free(rd);
    aox_buf_free(&man);
    for (uint64_t slot = 7; st2 && slot < 12; slot++) {
        char *a = compute(ops, st, &lim, slot == 9 ? "Fail" : "Hello", slot, 0);
        char *b = compute(ops, st2, &lim, slot == 9 ? "Fail" : "Hello", slot, 0);
        CHECK(a && b && strcmp(a, b) == 0);
        free(a);
        free(b);
    }
    r = compute(ops, st2, &lim, "Hello", 12, 0);
    CHECK(r && strstr(r, "\"count\":7"));
    free(r);

    /* an image of several 1 MiB pages round-trips through the store */
    r = compute(ops, st2, &lim, "Grow", 13, 0);
    CHECK(r && strstr(r, "\"output\":1100000"));
    free(r);
    CHECK(aox_snap_writer_new(s, NULL, 0, &w) == AOX_OK);
    CHECK(ops->snapshot(st2, w, &err) == AOX_OK);
    CHECK(aox_snap_writer_finish(w, &man) == AOX_OK);
    aox_snap_writer_free(w);
    CHECK(aox_snap_reader_new(s, man.data, man.len, &rd, NULL) == AOX_OK);
    CHECK(aox_snap_page_count(rd) >= 3);
    void *st3 = NULL;
    CHECK(ops->restore(&env, def, rd, &st3, &err) == AOX_OK);
    aox_snap_reader_free(rd);
    aox_buf_free(&man);
    if (st3) {
        char *a = compute(ops, st2, &lim, "Hello", 14, 0);
        char *b = compute(ops, st3, &lim, "Hello", 14, 0);
        CHECK(a && b && strcmp(a, b) == 0 && strstr(a, "\"count\":8"));
        free(a);
        free(b);
        ops->free(st3);
    }

    ops->free(st2);
    ops->free(st);
    aox_msg_free(def);
    aox_store_close(s);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
