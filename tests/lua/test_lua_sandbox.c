/*
 * tests/lua/test_lua_sandbox.c: the lua@5.3 sandbox — escapes that must fail,
 * fuel and memory limits (and that the next message runs normally), no addresses
 * or hash order in results, deterministic time and randomness, and rollback.
 */
#include <time.h>
#include "lua_test.h"

/* Each snippet must fail: either a guest error result or a falsy/none output. */
static const char *const escapes[] = {
    "return io.open('/etc/passwd')",
    "return io.write('x')",
    "return os.execute('true')",
    "return os.getenv('HOME')",
    "return os.exit(1)",
    "return os.remove('/tmp/x')",
    "return os.rename('/tmp/x', '/tmp/y')",
    "return os.tmpname()",
    "return require('io')",
    "return require('os')",
    "return require('debug')",
    "return package.loadlib('libc.so.6', 'system')",
    "return debug.getregistry()",
    "return debug.sethook()",
    "return dofile('/etc/passwd')",
    "return loadfile('/etc/passwd')",
    "return string.dump(function() end)",
    "return getmetatable('').__index.dump(function() end)",
    "return collectgarbage('setpause', 1)",
    "return collectgarbage('setstepmul', 1)",
    "return collectgarbage('stop')",
    "return collectgarbage('generational')",
    "return rawget(_G, 'io').open",
    "return rawget(_G, 'dofile')('x')",
    "return rawget(_G, 'debug').getinfo",
    "return rawget(string, 'dump')(print)",
    "setmetatable(_G, {__index = function(t, k) return rawget(t, k) end}) return io.open",
    "return setmetatable({}, {__gc = function() end})",
    "return setmetatable({}, {__mode = 'k'})",
    "return load(function() return nil end)",
    "return coroutine.wrap(function() return io end)().open",
    "return coroutine.wrap(load)('return debug')().traceback",
    "return _ENV.loadstring('return 1')",
    "return newproxy(true)",
    "return module('x')",
    "return setfenv(1, {})",
    "return getfenv(0).io.open",
    "return (function(...) return select('#', ...) end)(unpack({1,2}))",
    NULL
};

static void test_escapes(aox_lua *lx)
{
    for (int i = 0; escapes[i]; i++) {
        char *r = t_eval(lx, escapes[i]);
        CHECK(r != NULL);
        int failed = strstr(r, "\"error\"") != NULL;
        if (!failed)
            fprintf(stderr, "escape not refused: %s -> %s\n", escapes[i], r);
        CHECK(failed);
        free(r);
    }
    /* binary chunks are refused by load (mode forced to text) */
    char *r = t_eval(lx, "local f, e = load('\\27LuaS\\0\\25\\147\\r\\n\\26\\n') return e");
    CHECK(strstr(t_output(r), "attempt to load a binary chunk") != NULL ||
          strstr(t_output(r), "text chunk") != NULL);
    free(r);
    r = t_eval(lx, "local f, e = load('return 1', 'x', 'b') return e");
    CHECK(strstr(t_output(r), "mode is 'b'") != NULL);
    free(r);
    /* the string metatable reaches the (sandboxed) string table, nothing more */
    r = t_eval(lx, "return getmetatable('').__index == string and string.dump == nil");
    CHECK_STR(t_output(r), "true");
    free(r);
    /* load with an env cannot reach the host either */
    r = t_eval(lx, "return load('return io', 'c', 't', {})() == nil and "
                   "load('return io')() == nil");
    CHECK_STR(t_output(r), "true");
    free(r);
    r = t_eval(lx, "return collectgarbage('count') == 0 and collectgarbage() == 0 and "
                   "collectgarbage('step') == true");
    CHECK_STR(t_output(r), "true");
    free(r);
}

static void test_limits(void)
{
    aox_lua *lx = t_new(T_EVAL_SCRIPT " n = 0");
    static const char *const loops[] = {
        "while true do end",
        "while true do pcall(function() while true do end end) end",
        "local co = coroutine.wrap(function() while true do end end) co()",
        "while true do local ok = pcall(error, 'x') end",
        "local function f() return f() end return f()",
        "table.sort({3,2,1,5,4}, function(a, b) while true do end end)",
        "string.gsub(string.rep('a', 1000), 'a', function() while true do end end)",
        NULL
    };
    for (int i = 0; loops[i]; i++) {
        clock_t t0 = clock();
        char *r = t_eval(lx, loops[i]);
        double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
        CHECK_STR(t_error(r), "out_of_fuel: out of fuel");
        CHECK(secs < 20);
        free(r);
        r = t_eval(lx, "n = n + 1 return n");
        CHECK(r && strstr(r, "\"error\"") == NULL);
        free(r);
    }
    static const char *const bombs[] = {
        "local t = {} for i = 1, 1e9 do t[i] = i end",
        "return string.rep('x', 1 << 30)",
        "local s = 'x' while true do s = s .. s end",
        "local t = {} while true do t[#t + 1] = {} end",
        "local ok = pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end) return ok",
        "local t = {} for i = 1, 1e9 do t[i] = tostring(i) .. 'padding-padding' end",
        NULL
    };
    for (int i = 0; bombs[i]; i++) {
        char *r = t_eval(lx, bombs[i]);
        CHECK_STR(t_error(r), "out_of_memory: out of memory");
        free(r);
        r = t_eval(lx, "n = n + 1 local t = {} for i = 1, 1000 do t[i] = i end return n");
        CHECK(r && strstr(r, "\"error\"") == NULL);
        free(r);
    }
    /* each successful message counted once: failures were rolled back */
    char *r = t_eval(lx, "return n");
    char want[16];
    snprintf(want, sizeof want, "%d", 7 + 6);
    CHECK_STR(t_output(r), want);
    free(r);
    aox_lua_free(lx);
}

static void test_errors_and_rollback(void)
{
    aox_lua *lx = t_new(T_EVAL_SCRIPT " bal = {alice = 10}");
    char *r = t_eval(lx, "bal.alice = 0 bal.bob = 10 error({code = 42})");
    CHECK(strstr(t_error(r), "guest_error: (error object is a table value)") != NULL);
    free(r);
    r = t_eval(lx, "bal.alice = 5 local x = nil; return x.y");
    CHECK(strstr(t_error(r), "attempt to index a nil value") != NULL);
    CHECK(strstr(r, "stack traceback") != NULL);
    free(r);
    r = t_eval(lx, "return bal.alice, bal.bob");
    CHECK_STR(t_output(r), "10");
    free(r);
    r = t_eval(lx, "return bal.bob == nil");
    CHECK_STR(t_output(r), "true");
    free(r);
    /* error objects with __tostring, and a return value that cannot be encoded */
    r = t_eval(lx, "error(setmetatable({}, {__tostring = function() return 'custom' end}))");
    CHECK(strstr(t_error(r), "custom") != NULL);
    free(r);
    r = t_eval(lx, "bal.carol = 1 return print");
    CHECK(strstr(t_error(r), "cannot encode") != NULL);
    free(r);
    r = t_eval(lx, "return bal.carol == nil");
    CHECK_STR(t_output(r), "true");
    free(r);
    /* bytes that are not UTF-8 in prints and errors keep the result encodable */
    r = t_eval(lx, "print('a' .. string.char(255)) return nil");
    CHECK(r && strstr(r, "\"output\":{\"@b64\":\"Yf8K\"}") != NULL);
    free(r);
    r = t_eval(lx, "error('bad \\255 byte')");
    CHECK(strstr(t_error(r), "bad ? byte") != NULL);
    free(r);
    /* missing handler */
    aox_lua *l2 = t_new("x = 1");
    r = t_run(l2, "{\"a\":1}");
    CHECK(strstr(t_error(r), "no global function 'handle'") != NULL);
    free(r);
    aox_lua_free(l2);
    /* a script that fails at init is refused */
    aox_lua_opts o = t_opts();
    char err[256];
    aox_lua *l3 = NULL;
    CHECK(aox_lua_new(&o, NULL, "error('nope')", 13, &l3, err, sizeof err) == AOX_LUA_EINVAL);
    CHECK(strstr(err, "nope") != NULL);
    CHECK(aox_lua_new(&o, NULL, "\x1bLua", 4, &l3, err, sizeof err) == AOX_LUA_EINVAL);
    aox_lua_free(lx);
}

static void test_determinism(void)
{
    /* two independent states: same results byte for byte, no addresses */
    const char *prog =
        "local t = {} for i = 1, 200 do t['k' .. (i * 7919 % 1000)] = i end "
        "t[true] = 1 t[3.5] = 2 t[-1] = 3 "
        "local a, b = {}, {} tostring(a) tostring(b) t[b] = 'b' t[a] = 'a' "
        "local out = {} for k, v in pairs(t) do out[#out + 1] = tostring(k) .. '=' .. tostring(v) end "
        "local k, n = next(t), 0 while k ~= nil do n = n + 1 k = next(t, k) end "
        "out[#out + 1] = n "
        "out[#out + 1] = tostring({}) .. tostring(print) .. string.format('%s|%5s', {}, true) "
        "out[#out + 1] = os.time() .. ' ' .. os.date('!%Y-%m-%d %H:%M:%S', 86400 * 365) .. os.clock() "
        "out[#out + 1] = math.random(1, 1000000) .. ' ' .. math.random() "
        "math.randomseed(7) out[#out + 1] = math.random(1, 1000000) "
        "local s = {} for i = 1, 300 do s[i] = {k = i % 3, i = i} end "
        "table.sort(s, function(x, y) return x.k < y.k end) "
        "for i = 1, 300, 37 do out[#out + 1] = s[i].k .. ':' .. s[i].i end "
        "return table.concat(out, ',')";
    char *r1, *r2, *junk;
    aox_lua *a, *b;
    a = t_new(T_EVAL_SCRIPT);
    b = t_new(T_EVAL_SCRIPT);
    /* vary the heap of b so addresses and hash layouts differ */
    junk = t_eval(b, "local j = {} for i = 1, 5000 do j[i] = {i, s = 'k' .. i} end junk = j");
    free(junk);
    r1 = t_eval(a, prog);
    r2 = t_eval(b, prog);
    CHECK(r1 && r2);
    CHECK_STR(r1, r2);
    CHECK(strstr(r1, "0x7f") == NULL && strstr(r1, "0x5") == NULL);
    /* pairs order is canonical: numbers, strings, booleans, then tables */
    CHECK(strstr(r1, "-1=3,3.5=2,k") != NULL);
    CHECK(strstr(r1, "true=1,table: 0x") != NULL);
    CHECK(strstr(r1, "1700000001 1971-01-01 00:00:00") != NULL);
    free(r1);
    free(r2);
    /* randomness depends on the message: another slot gives another sequence */
    r1 = t_run_at(a, "{\"code\":\"return math.random(1, 1e9)\"}", 5);
    r2 = t_run_at(b, "{\"code\":\"return math.random(1, 1e9)\"}", 5);
    CHECK_STR(r1, r2);
    free(r2);
    r2 = t_run_at(b, "{\"code\":\"return math.random(1, 1e9)\"}", 6);
    CHECK(strcmp(r1, r2) != 0);
    free(r1);
    free(r2);
    aox_lua_free(a);
    aox_lua_free(b);
}

static void test_messages(void)
{
    aox_lua *lx = t_new(
        "function handle(msg, a) "
        "  ao.send({Target = 'P2', Action = 'Credit', Data = 'x', Tags = {Quantity = '5'}}) "
        "  ao.send({target = 'P3', Tags = {{name = 'Ref', value = '7'}}}) "
        "  ao.spawn('MODULE', {Data = 'init'}) "
        "  ao.assign({Processes = {'P4'}, Message = 'M1'}) "
        "  ao.event('hello', 1) "
        "  print(msg.Action, msg.tags[1].name, a.slot, ao.id, ao.env.Assignment.slot) "
        "  return {action = msg.Action, from = msg.From, n = #msg.tags, "
        "          bh = msg['Block-Height'], d = msg.Data} "
        "end");
    char *r = t_run_at(lx, "{\"from\":\"ME\",\"block-height\":7,\"data\":\"d\",\"tags\":[{\"name\":\"Action\","
                           "\"value\":\"Transfer\"},{\"name\":\"X\",\"value\":\"1\"}]}", 9);
    CHECK(r != NULL);
    json_t *j = json_loads(r, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "output"), "action")),
              "Transfer");
    CHECK(json_integer_value(json_object_get(json_object_get(j, "output"), "n")) == 2);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "output"), "bh")) == 7);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "output"), "from")), "ME");
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "output"), "d")), "d");
    CHECK_STR(json_string_value(json_object_get(j, "print")), "Transfer\tAction\t9\tPROCESS-ID\t9\n");
    json_t *ob = json_object_get(j, "outbox");
    CHECK(json_array_size(ob) == 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(ob, 0), "target")), "P2");
    CHECK_STR(json_string_value(json_object_get(json_array_get(ob, 0), "quantity")), "5");
    CHECK_STR(json_string_value(json_object_get(json_array_get(ob, 0), "action")), "Credit");
    CHECK_STR(json_string_value(json_object_get(json_array_get(ob, 1), "ref")), "7");
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(j, "spawns"), 0),
                                                "module")), "MODULE");
    CHECK(json_array_size(json_object_get(j, "assignments")) == 1);
    CHECK(json_array_size(json_object_get(j, "events")) == 1);
    CHECK(json_integer_value(json_object_get(j, "gas")) > 0);
    json_decref(j);
    free(r);
    /* binary data survives as {"@b64": ...}; tags derived from keys when absent */
    aox_lua *l2 = t_new("function handle(msg) return {d = msg.data .. '\\255', t = msg.tags[1].name, "
                        "n = #msg.tags, e = pcall(function() ao.env.x = 1 end)} end");
    r = t_run(l2, "{\"data\":{\"@b64\":\"AAE\"},\"zeta\":\"z\",\"alpha\":\"a\"}");
    CHECK(r && strstr(r, "\"d\":{\"@b64\":\"AAH_\"}") != NULL);
    CHECK(r && strstr(r, "\"t\":\"alpha\"") != NULL && strstr(r, "\"n\":2") != NULL);
    CHECK(r && strstr(r, "\"e\":false") != NULL);
    free(r);
    aox_lua_free(l2);
    aox_lua_free(lx);
}

/* The host's interrupt stops a message (no result) and leaves the state as it was. */
static void test_interrupt(void)
{
    aox_lua *lx = t_new(T_EVAL_SCRIPT " n = 0");
    json_t *m = json_pack("{s:s}", "code", "n = n + 1 while true do end");
    atomic_int stop = 1;
    aox_lua_call c = {m, NULL, "id", 1, 0, &stop, 0};
    json_t *r = NULL;
    char err[256];
    CHECK(aox_lua_compute(lx, &c, &r, err, sizeof err) == AOX_LUA_EINTR);
    CHECK(r == NULL);
    json_decref(m);
    char *res = t_eval(lx, "n = n + 1 return n");
    CHECK_STR(t_output(res), "1");
    free(res);
    aox_lua_free(lx);
}

/* require returns host-preloaded modules only, once, and they survive a snapshot. */
static void test_require(void)
{
    static const char src[] = "local M = {} M.n = 0 function M.bump() M.n = M.n + 1 "
                              "return M.n end return M";
    aox_lua_module mods[] = {{"counter", src, sizeof src - 1}};
    aox_lua_opts o = t_opts();
    o.modules = mods;
    o.nmodules = 1;
    char err[256];
    aox_lua *lx = NULL;
    CHECK(aox_lua_new(&o, NULL, T_EVAL_SCRIPT, strlen(T_EVAL_SCRIPT), &lx, err,
                      sizeof err) == 0);
    if (!lx)
        return;
    char *r = t_eval(lx, "local c = require('counter') c.bump() "
                         "return require('counter') == c and c.bump()");
    CHECK_STR(t_output(r), "2");
    free(r);
    r = t_eval(lx, "return require('json')");
    CHECK(strstr(t_error(r), "module 'json' not found") != NULL);
    free(r);
    r = t_eval(lx, "require('counter').bump() error('undo')");
    free(r);
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(aox_lua_snapshot(lx, &b, &n, err, sizeof err) == 0);
    aox_lua *l2 = NULL;
    aox_lua_opts o2 = t_opts();
    CHECK(aox_lua_restore(&o2, NULL, "", 0, b, n, &l2, err, sizeof err) == 0);
    free(b);
    if (l2) {
        r = t_eval(l2, "return require('counter').bump()");
        CHECK_STR(t_output(r), "3");
        free(r);
    }
    aox_lua_free(l2);
    aox_lua_free(lx);
    /* a module that does not compile is refused at creation */
    aox_lua_module bad[] = {{"bad", "this is not lua", 15}};
    o.modules = bad;
    CHECK(aox_lua_new(&o, NULL, "x = 1", 5, &lx, err, sizeof err) == AOX_LUA_EINVAL);
}

/* Memory limits swept across the boundary of one message's needs: every run either
 * succeeds with the right answer or is out of memory, and the next message works. */
static void test_memory_sweep(void)
{
    int ok = 0, oom = 0;
    for (size_t lim = 48 << 10; lim <= (320 << 10); lim += 8 << 10) {
        aox_lua_opts o = t_opts();
        o.memory = lim;
        char err[256];
        aox_lua *lx = NULL;
        if (aox_lua_new(&o, NULL, T_EVAL_SCRIPT, strlen(T_EVAL_SCRIPT), &lx, err,
                        sizeof err) != 0) {
            CHECK(strstr(err, "out of memory") != NULL);
            continue;
        }
        char *r = t_eval(lx, "local t = {} for i = 1, 2000 do t[i] = 'v' .. i end "
                             "return #t .. t[2000]");
        ok += strcmp(t_output(r), "2000v2000") == 0;
        oom += strcmp(t_error(r), "out_of_memory: out of memory") == 0;
        CHECK(strcmp(t_output(r), "2000v2000") == 0 ||
              strcmp(t_error(r), "out_of_memory: out of memory") == 0);
        free(r);
        r = t_eval(lx, "return 6 * 7");
        CHECK_STR(t_output(r), "42");
        free(r);
        aox_lua_free(lx);
    }
    CHECK(ok > 0 && oom > 0);        /* the sweep crossed the boundary */
}

int main(void)
{
    test_interrupt();
    test_require();
    test_memory_sweep();
    aox_lua *lx = t_new(T_EVAL_SCRIPT);
    test_escapes(lx);
    aox_lua_free(lx);
    test_limits();
    test_errors_and_rollback();
    test_determinism();
    test_messages();
    if (t_failures)
        fprintf(stderr, "%d failure(s)\n", t_failures);
    return t_failures ? 1 : 0;
}
