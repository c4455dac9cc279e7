/*
 * bench/lua/bench_lua.c: lua@5.3 figures — messages per second for a small
 * compute-only handler (including the JSON conversions of a message and its result),
 * the cost of a failing message (rollback = restore image + replay), and snapshot /
 * restore time and size for a state of about 50 MB.
 *
 * Times are process CPU time (single-threaded), so a busy host does not inflate them.
 * Usage: bench_lua [state-MB]     (prints one line per figure)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lua/lua_env.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);   /* CPU time: fair on a busy host */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static aox_lua *make(const char *script, uint64_t init_fuel)
{
    aox_lua_opts o;
    memset(&o, 0, sizeof o);
    o.fuel = 100000000;
    o.init_fuel = init_fuel;
    o.process_id = "BENCH";
    char err[512];
    aox_lua *lx = NULL;
    if (aox_lua_new(&o, NULL, script, strlen(script), &lx, err, sizeof err)) {
        fprintf(stderr, "bench_lua: %s\n", err);
        exit(1);
    }
    return lx;
}

static json_t *run(aox_lua *lx, json_t *m, uint64_t slot, int dry)
{
    json_t *r = NULL;
    char err[256];
    aox_lua_call c = {m, NULL, "bench-msg", slot, 1700000000000LL, NULL, dry};
    if (aox_lua_compute(lx, &c, &r, err, sizeof err)) {
        fprintf(stderr, "bench_lua: compute: %s\n", err);
        exit(1);
    }
    return r;
}

static void bench_messages(void)
{
    const char *script =
        "Balances = {} for i = 1, 100 do Balances['addr' .. i] = 1000000 end "
        "function handle(msg) "
        "  local from, to = msg.From, msg.Recipient "
        "  local q = math.tointeger(tonumber(msg.Quantity)) "
        "  if msg.Action == 'Fail' then Balances[from] = 0 error('fail') end "
        "  Balances[from] = Balances[from] - q "
        "  Balances[to] = Balances[to] + q "
        "  return {ok = true, balance = Balances[from]} "
        "end";
    aox_lua *lx = make(script, 0);
    json_t *m = json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "data", "",
                          "tags", "name", "Action", "value", "Transfer", "name", "From",
                          "value", "addr1", "name", "Recipient", "value", "addr2", "name",
                          "Quantity", "value", "1");
    int n = 200000;
    uint64_t gas = 0;
    double t0 = now();
    for (int i = 0; i < n; i++) {
        json_t *r = run(lx, m, (uint64_t)i + 1, 0);
        gas += (uint64_t)json_integer_value(json_object_get(r, "gas"));
        json_decref(r);
    }
    double dt = now() - t0;
    printf("small handler: %d messages in %.3f s = %.0f msg/s (%.1f us/msg, gas %.0f/msg)\n",
           n, dt, n / dt, dt / n * 1e6, (double)gas / n);
    aox_lua_stats st;
    aox_lua_get_stats(lx, &st);
    printf("  rollback images taken meanwhile: %llu (image %zu bytes)\n",
           (unsigned long long)st.images, st.image_bytes);
    {
        uint8_t *b;
        size_t bl;
        char e[128];
        double t1 = now();
        for (int i = 0; i < 1000; i++) {
            aox_lua_snapshot(lx, &b, &bl, e, sizeof e);
            free(b);
        }
        printf("  snapshot of this small state: %.1f us (%zu bytes)\n", (now() - t1) * 1e3,
               bl);
    }
    /* failing messages: each one is undone by restore + replay */
    json_object_set_new(json_array_get(json_object_get(m, "tags"), 0), "value",
                        json_string("Fail"));
    int nf = 2000;
    t0 = now();
    for (int i = 0; i < nf; i++)
        json_decref(run(lx, m, (uint64_t)(n + i + 1), 0));
    dt = now() - t0;
    printf("failing message (rollback, small state): %.1f us/msg\n", dt / nf * 1e6);
    json_decref(m);
    aox_lua_free(lx);
}

static void bench_big(int mb)
{
    char script[1024];
    /* ~ 170 bytes of heap per account entry in Lua 5.3 (string key + node + record) */
    snprintf(script, sizeof script,
             "Balances = {} Meta = {} local n = %d "
             "for i = 1, n do local k = 'account-' .. i "
             "  Balances[k] = i * 3 "
             "  if i %% 4 == 0 then Meta[k] = {since = i, name = 'user ' .. i, flags = {i %% 7, i %% 11}} end "
             "end "
             "function handle(msg) if msg.fail then Balances['account-1'] = -1 error('x') end "
             "  Balances['account-1'] = Balances['account-1'] + 1 return Balances['account-1'] end",
             mb * 1000000 / 170);
    double t0 = now();
    aox_lua *lx = make(script, 10000000000ULL);
    double tinit = now() - t0;
    aox_lua_stats st;
    aox_lua_get_stats(lx, &st);
    printf("big state: heap %.1f MB incl. init garbage (init %.2f s incl. first image)\n",
           (double)aox_lua_memory(lx) / 1e6, tinit);
    uint8_t *img = NULL;
    size_t len = 0;
    char err[256];
    t0 = now();
    if (aox_lua_snapshot(lx, &img, &len, err, sizeof err)) {
        fprintf(stderr, "snapshot: %s\n", err);
        exit(1);
    }
    double tsnap = now() - t0;
    printf("  snapshot: %.3f s, %.1f MB image\n", tsnap, (double)len / 1e6);
    aox_lua_opts o;
    memset(&o, 0, sizeof o);
    o.fuel = 100000000;
    o.process_id = "BENCH";
    aox_lua *r2 = NULL;
    t0 = now();
    if (aox_lua_restore(&o, NULL, script, strlen(script), img, len, &r2, err, sizeof err)) {
        fprintf(stderr, "restore: %s\n", err);
        exit(1);
    }
    double trest = now() - t0;
    printf("  restore: %.3f s (heap after restore %.1f MB)\n", trest,
           (double)aox_lua_memory(r2) / 1e6);
    json_t *ok = json_pack("{s:s}", "data", ""), *bad = json_pack("{s:s,s:i}", "data", "", "fail", 1);
    t0 = now();
    json_decref(run(r2, ok, 1, 0));
    printf("  one message on the big state: %.1f us\n", (now() - t0) * 1e6);
    t0 = now();
    json_decref(run(r2, bad, 2, 0));
    printf("  one failing message (rollback) on the big state: %.3f s\n", now() - t0);
    t0 = now();
    json_decref(run(r2, ok, 3, 1));
    printf("  one dry-run message on the big state: %.3f s\n", now() - t0);
    json_decref(ok);
    json_decref(bad);
    free(img);
    aox_lua_free(r2);
    aox_lua_free(lx);
}

int main(int argc, char **argv)
{
    int mb = argc > 1 ? atoi(argv[1]) : 50;
    bench_messages();
    bench_big(mb);
    return 0;
}
