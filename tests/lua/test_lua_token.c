/*
 * tests/lua/test_lua_token.c: a small token process (Balances, a Handlers list,
 * Transfer/Balance/Mint handlers installed at run time as closures sharing state)
 * run for a few thousand messages. The same schedule is run uninterrupted, run
 * again from scratch, and run with snapshot + restore at arbitrary slots; every
 * result and the final image must be byte-identical.
 */
#include "lua_test.h"

#define NMSG 1500

static const char *const script =
    "Balances = {} Handlers = {list = {}} "
    "function Handlers.add(name, match, fn) "
    "  for _, h in ipairs(Handlers.list) do "
    "    if h.name == name then h.match = match h.fn = fn return end end "
    "  table.insert(Handlers.list, {name = name, match = match, fn = fn}) end "
    "function Handlers.evaluate(msg) "
    "  for _, h in ipairs(Handlers.list) do if h.match(msg) then return h.fn(msg) end end "
    "  error('no handler for ' .. tostring(msg.Action)) end "
    "function action(a) return function(msg) return msg.Action == a end end "
    "Handlers.add('Eval', action('Eval'), function(msg) return assert(load(msg.data))() end) "
    "function handle(msg) return Handlers.evaluate(msg) end";

/* Installed by an Eval message: closures sharing `stats` as an upvalue. */
static const char *const handlers =
    "local stats = {transfers = 0, credits = 0} "
    "Handlers.add('Mint', action('Mint'), function(msg) "
    "  local q = math.tointeger(tonumber(msg.Quantity)) "
    "  Balances[msg.Recipient] = (Balances[msg.Recipient] or 0) + q return 'minted' end) "
    "Handlers.add('Transfer', action('Transfer'), function(msg) "
    "  local q = math.tointeger(tonumber(msg.Quantity)) "
    "  local bal = Balances[msg.from] or 0 "
    "  if q == nil or q <= 0 then error('bad quantity') end "
    "  if bal < q then error('insufficient balance for ' .. msg.from) end "
    "  Balances[msg.from] = bal - q "
    "  Balances[msg.Recipient] = (Balances[msg.Recipient] or 0) + q "
    "  stats.transfers = stats.transfers + 1 "
    "  ao.send({Target = msg.Recipient, Action = 'Credit-Notice', Quantity = tostring(q), "
    "           Sender = msg.from}) "
    "  return {ok = true, n = stats.transfers, r = math.random(1, 100)} end) "
    "Handlers.add('Balance', action('Balance'), function(msg) "
    "  stats.credits = stats.credits + 1 "
    "  return {balance = Balances[msg.Target] or 0, queries = stats.credits} end) "
    "Handlers.add('Balances', action('Balances'), function(msg) "
    "  local o = {} for k, v in pairs(Balances) do o[#o + 1] = k .. '=' .. v end "
    "  return table.concat(o, ',') end) "
    "Handlers.add('Stats', action('Stats'), function() return stats end) "
    "Handlers.add('Spin', action('Spin'), function() while true do end end) "
    "return #Handlers.list";

static uint64_t lcg = 12345;
static unsigned rnd(unsigned n)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((lcg >> 33) % n);
}

/* Builds message i of the schedule (deterministic). */
static char *message(int i)
{
    json_t *tags = json_array(), *m;
    char from[16], to[16], q[16];
    snprintf(from, sizeof from, "addr%u", rnd(12));
    snprintf(to, sizeof to, "addr%u", rnd(12));
    const char *act;
    if (i == 0) {
        act = "Eval";
    } else if (i < 4) {
        act = "Mint";
        snprintf(to, sizeof to, "addr%d", i);
    } else {
        unsigned k = rnd(100);
        act = k < 80 ? "Transfer" : k < 92 ? "Balance" : k < 97 ? "Balances" : k < 99 ? "Stats"
                                                                                    : "Spin";
    }
    snprintf(q, sizeof q, "%u", i < 4 ? 100000u : rnd(300) + 1);
    json_array_append_new(tags, json_pack("{s:s,s:s}", "name", "Action", "value", act));
    json_array_append_new(tags, json_pack("{s:s,s:s}", "name", "Recipient", "value", to));
    json_array_append_new(tags, json_pack("{s:s,s:s}", "name", "Quantity", "value", q));
    json_array_append_new(tags, json_pack("{s:s,s:s}", "name", "Target", "value", to));
    m = json_pack("{s:s,s:o,s:s}", "from", i < 4 ? "owner" : from, "tags", tags, "data",
                  i == 0 ? handlers : "");
    char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(m);
    return s;
}

static aox_lua *fresh(void)
{
    aox_lua_opts o = t_opts();
    o.fuel = 200000;
    char err[512];
    aox_lua *lx = NULL;
    if (aox_lua_new(&o, NULL, script, strlen(script), &lx, err, sizeof err)) {
        fprintf(stderr, "new: %s\n", err);
        exit(1);
    }
    return lx;
}

static aox_lua *reload(aox_lua *lx)
{
    uint8_t *b = NULL;
    size_t n = 0;
    char err[512];
    aox_lua *r = NULL;
    aox_lua_opts o = t_opts();
    o.fuel = 200000;
    if (aox_lua_snapshot(lx, &b, &n, err, sizeof err) ||
        aox_lua_restore(&o, NULL, script, strlen(script), b, n, &r, err, sizeof err)) {
        fprintf(stderr, "snapshot/restore: %s\n", err);
        exit(1);
    }
    free(b);
    aox_lua_free(lx);
    return r;
}

/* Runs the schedule; restores at the given slots (sorted, -1 terminated). Returns
 * all results joined by newlines. */
static char *run(const int *restore_at, int *errors)
{
    aox_lua *lx = fresh();
    size_t cap = 1 << 20, len = 0;
    char *all = malloc(cap);
    lcg = 12345;
    *errors = 0;
    for (int i = 0; i < NMSG; i++) {
        if (*restore_at == i) {
            lx = reload(lx);
            restore_at++;
        }
        char *m = message(i);
        char *r = t_run_at(lx, m, (uint64_t)i + 1);
        free(m);
        CHECK(r != NULL);
        if (!r)
            break;
        if (strstr(r, "\"error\""))
            (*errors)++;
        size_t rl = strlen(r);
        if (len + rl + 2 > cap) {
            cap = (len + rl + 2) * 2;
            all = realloc(all, cap);
        }
        memcpy(all + len, r, rl);
        len += rl;
        all[len++] = '\n';
        free(r);
    }
    all[len] = 0;
    /* the final image is part of the comparison */
    uint8_t *b = NULL;
    size_t n = 0;
    char err[256];
    CHECK(aox_lua_snapshot(lx, &b, &n, err, sizeof err) == 0);
    char *hex = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", b[i]);
    hex[2 * n] = 0;
    all = realloc(all, len + 2 * n + 1);
    memcpy(all + len, hex, 2 * n + 1);
    free(hex);
    free(b);
    aox_lua_free(lx);
    return all;
}

int main(void)
{
    static const int none[] = {-1};
    static const int some[] = {1, 2, 137, 500, 501, 1234, 1499, -1};
    int e1, e2, e3;
    char *a = run(none, &e1);
    char *b = run(none, &e2);
    char *c = run(some, &e3);
    fprintf(stderr, "errors per run: %d\n", e1);
    CHECK(strcmp(a, b) == 0);
    CHECK(strcmp(a, c) == 0);
    if (strcmp(a, c) != 0) {
        size_t i = 0;
        while (a[i] && a[i] == c[i])
            i++;
        fprintf(stderr, "first difference at byte %zu: ...%.200s\n vs ...%.200s\n", i,
                a + (i > 100 ? i - 100 : 0), c + (i > 100 ? i - 100 : 0));
    }
    /* the schedule exercised failures (rolled back) and successes */
    CHECK(e1 > 20 && e1 < NMSG / 2);
    CHECK(strstr(a, "out_of_fuel") != NULL);
    CHECK(strstr(a, "insufficient balance") != NULL);
    CHECK(strstr(a, "Credit-Notice") != NULL);
    /* conservation: 3 mints of 100000, transfers move value around */
    const char *lastbal = NULL;
    for (const char *p = strstr(a, "addr"); p; p = strstr(p + 1, "\"output\":\"addr"))
        lastbal = p;
    CHECK(lastbal != NULL);
    if (lastbal) {
        long sum = 0;
        const char *p = strchr(lastbal, '"') ? lastbal : lastbal;
        for (const char *q = strchr(p, '='); q && q < strchr(p, '}'); q = strchr(q + 1, '='))
            sum += strtol(q + 1, NULL, 10);
        CHECK(sum == 300000);
    }
    free(a);
    free(b);
    free(c);
    if (t_failures)
        fprintf(stderr, "%d failure(s)\n", t_failures);
    return t_failures ? 1 : 0;
}
