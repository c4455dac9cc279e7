/*
 * tests/lua/test_lua_persist.c: the lua@5.3 persister — cycles, shared references,
 * shared upvalues, metatables, nested closures, int/float, coroutines, large
 * tables, canonical bytes, corrupt images, and restore-vs-uninterrupted behaviour.
 */
#include "lua_test.h"

static aox_lua *t_restore(const uint8_t *b, size_t n)
{
    aox_lua_opts o = t_opts();
    char err[512];
    aox_lua *lx = NULL;
    int rc = aox_lua_restore(&o, NULL, T_EVAL_SCRIPT, strlen(T_EVAL_SCRIPT), b, n, &lx,
                             err, sizeof err);
    if (rc)
        fprintf(stderr, "restore: %d %s\n", rc, err);
    return lx;
}

static int t_snap(aox_lua *lx, uint8_t **b, size_t *n)
{
    char err[512];
    int rc = aox_lua_snapshot(lx, b, n, err, sizeof err);
    if (rc)
        fprintf(stderr, "snapshot: %d %s\n", rc, err);
    return rc;
}

/* Runs the same code on both states; the results must be identical. */
static void same(aox_lua *a, aox_lua *b, const char *code, const char *want)
{
    char *ra = t_eval(a, code), *rb = t_eval(b, code);
    CHECK(ra && rb);
    if (ra && rb && strcmp(ra, rb) != 0)
        fprintf(stderr, "diverged on: %s\n  live:     %s\n  restored: %s\n", code, ra, rb);
    CHECK(ra && rb && strcmp(ra, rb) == 0);
    if (want)
        CHECK_STR(t_output(rb), want);
    free(ra);
    free(rb);
}

static const char *const setup =
    /* cycles and shared references */
    "a = {name = 'a'} a.self = a b = {a, a, {a}} c = {} c[a] = 'keyed by a' "
    /* metatables with functions and __index chains */
    "Point = {} Point.__index = Point "
    "function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end "
    "function Point:len2() return self.x * self.x + self.y * self.y end "
    "Point.__tostring = function(p) return '(' .. p.x .. ',' .. p.y .. ')' end "
    "Point.__add = function(p, q) return Point.new(p.x + q.x, p.y + q.y) end "
    "p1 = Point.new(3, 4) "
    /* closures sharing an upvalue, and nested closures */
    "do local n = 0 inc = function() n = n + 1 return n end get = function() return n end end "
    "function maker(k) local base = k * 10 return function(x) local y = base + x "
    "  return function() base = base + 1 return y + base end end end "
    "mk = maker(2) inner = mk(5) "
    /* numbers keep their kind */
    "nums = {1, 1.0, 2^53, -0.0, 1/0, math.maxinteger, math.mininteger, 0.1} "
    /* a not-yet-started coroutine and a dead one */
    "co = coroutine.create(function(x) coroutine.yield(x + 1) return 'done' end) "
    "dead = coroutine.create(function() end) coroutine.resume(dead) "
    "main = coroutine.running() "
    "gen = coroutine.wrap(function(a) local x = coroutine.yield(a * 2) return x + 1 end) "
    /* a pairs iterator (C closure) kept in a global */
    "iter, itst = pairs({z = 1, y = 2}) "
    /* identities */
    "ida = tostring({}) keep = {} idk = tostring(keep) "
    "big = {} for i = 1, 100000 do big[i] = i * 2 end big.sum = 0 "
    "strs = {} for i = 1, 2000 do strs['key' .. i] = {v = i, s = string.rep('x', i % 17)} end "
    "return 'ok'";

static const char *const probes[] = {
    "return a.self == a and b[1] == b[2] and b[3][1] == a and c[a] == 'keyed by a'",
    "a.name = 'changed' return b[1].name .. b[3][1].name",
    "return tostring(p1) .. ' ' .. p1:len2() .. ' ' .. tostring(p1 + Point.new(1, 1))",
    "return getmetatable(p1) == Point",
    "inc() inc() return get()",
    "inc() return inc() + get()",
    "return inner() .. ',' .. inner() .. ',' .. mk(1)()",
    "local o = {} for i, v in ipairs(nums) do o[i] = math.type(v) .. ':' .. tostring(v) end "
    "return table.concat(o, ' ')",
    "return coroutine.status(co) .. ' ' .. coroutine.status(dead) .. ' ' .. "
    "tostring(select(2, coroutine.resume(co, 41)))",
    "return coroutine.resume(dead)",
    "return coroutine.status(main) .. tostring(main == coroutine.running())",
    "return gen(21) + gen(9)",
    "local k, v = iter(itst) local k2 = iter(itst) return k .. v .. k2",
    "return ida .. ' ' .. idk .. ' ' .. tostring(keep) .. ' ' .. tostring({})",
    "local s = 0 for i = 1, #big do s = s + big[i] end return s",
    "local s = 0 for k, v in pairs(strs) do s = s + v.v + #v.s end return s",
    "local o = {} for k in pairs(c) do o[#o + 1] = tostring(k) end return table.concat(o)",
    NULL
};

static void test_roundtrip(void)
{
    aox_lua *live = t_new(T_EVAL_SCRIPT);
    char *r = t_eval(live, setup);
    CHECK_STR(t_output(r), "ok");
    free(r);
    uint8_t *img = NULL, *img2 = NULL, *img3 = NULL;
    size_t n = 0, n2 = 0, n3 = 0;
    CHECK(t_snap(live, &img, &n) == 0);
    /* canonical: snapshotting again, or snapshotting the restored state, gives
     * the same bytes */
    CHECK(t_snap(live, &img2, &n2) == 0);
    CHECK(n == n2 && memcmp(img, img2, n) == 0);
    aox_lua *rest = t_restore(img, n);
    CHECK(rest != NULL);
    if (!rest)
        goto out;
    CHECK(t_snap(rest, &img3, &n3) == 0);
    CHECK(n == n3 && img3 && memcmp(img, img3, n) == 0);
    for (int i = 0; probes[i]; i++)
        same(live, rest, probes[i], NULL);
    /* spot-check values, not only equality */
    same(live, rest, "return a.self.self.name", "changed");
    same(live, rest, "return get()", "4");
    same(live, rest, "return math.type(nums[2]) .. math.type(nums[1])", "floatinteger");
    aox_lua_free(rest);
out:
    free(img);
    free(img2);
    free(img3);
    aox_lua_free(live);
}

static void test_unpersistable(void)
{
    aox_lua *lx = t_new(T_EVAL_SCRIPT);
    char *r = t_eval(lx, "Handlers = {list = {{}, {}, {co = coroutine.create(function() "
                         "coroutine.yield() end)}}} coroutine.resume(Handlers.list[3].co) "
                         "return coroutine.status(Handlers.list[3].co)");
    CHECK_STR(t_output(r), "suspended");
    free(r);
    uint8_t *b = NULL;
    size_t n = 0;
    char err[512];
    CHECK(aox_lua_snapshot(lx, &b, &n, err, sizeof err) == AOX_LUA_EPERSIST);
    CHECK(strstr(err, "cannot persist suspended coroutine at Handlers.list[3].co") != NULL);
    if (!strstr(err, "Handlers.list[3].co"))
        fprintf(stderr, "got: %s\n", err);
    /* rollback still works without a fresh image (older image + replay) */
    r = t_eval(lx, "x = 1 error('fail')");
    CHECK(strstr(t_error(r), "fail") != NULL);
    free(r);
    r = t_eval(lx, "return x == nil and coroutine.status(Handlers.list[3].co)");
    CHECK_STR(t_output(r), "suspended");
    free(r);
    r = t_eval(lx, "Handlers.list[3].co = nil gm = string.gmatch('a b', '%a')");
    free(r);
    CHECK(aox_lua_snapshot(lx, &b, &n, err, sizeof err) == AOX_LUA_EPERSIST);
    CHECK(strstr(err, "gm") != NULL);
    aox_lua_free(lx);
}

static void test_corrupt(void)
{
    aox_lua *lx = t_new(T_EVAL_SCRIPT " t = {1, 2, {x = 'y'}} f = function() return t end");
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(t_snap(lx, &b, &n) == 0);
    aox_lua_opts o = t_opts();
    char err[256];
    int refused = 0, tried = 0;
    for (size_t cut = 0; cut < n; cut += (n / 97) + 1) {
        aox_lua *r = NULL;
        tried++;
        if (aox_lua_restore(&o, NULL, "", 0, b, cut, &r, err, sizeof err) != 0)
            refused++;
        aox_lua_free(r);
    }
    CHECK(refused == tried);
    uint8_t *bad = malloc(n);
    memcpy(bad, b, n);
    bad[0] ^= 1;
    aox_lua *r = NULL;
    CHECK(aox_lua_restore(&o, NULL, "", 0, bad, n, &r, err, sizeof err) == AOX_LUA_ECORRUPT);
    free(bad);
    free(b);
    aox_lua_free(lx);
}

/* Every single-byte corruption of an image without bytecode either restores or is
 * refused cleanly (run under ASan/UBSan this checks the decoder's bounds). */
static void test_flips(void)
{
    const char *script = "t = {1, 2.5, 'str', {x = {y = true}}, [-7] = false} "
                         "t.self = t s = string.rep('long string ', 8) u = {s, s}";
    aox_lua_opts o = t_opts();
    char err[256];
    aox_lua *lx = NULL;
    CHECK(aox_lua_new(&o, NULL, script, strlen(script), &lx, err, sizeof err) == 0);
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(lx && t_snap(lx, &b, &n) == 0);
    aox_lua_free(lx);
    if (!b)
        return;
    int ok = 0, refused = 0;
    uint8_t *c = malloc(n);
    for (size_t i = 0; i < n; i++) {
        memcpy(c, b, n);
        c[i] ^= (i & 1) ? 0x01 : 0xfe;      /* low and high bits, alternating */
        aox_lua *r = NULL;
        int rc = aox_lua_restore(&o, NULL, "", 0, c, n, &r, err, sizeof err);
        CHECK(rc == 0 || rc == AOX_LUA_ECORRUPT);
        if (rc == 0)
            ok++;
        else
            refused++;
        aox_lua_free(r);
    }
    CHECK(refused > 0);
    free(c);
    free(b);
}

/* Interleaves messages and snapshots: a restored copy must follow the live state
 * message by message, byte for byte. */
static void test_follow(void)
{
    aox_lua *live = t_new(T_EVAL_SCRIPT " acc = {} seq = 0 "
        "function step(k) seq = seq + 1 acc[k] = (acc[k] or 0) + seq "
        "  local o = {} for kk, v in pairs(acc) do o[#o + 1] = kk .. v end "
        "  return table.concat(o, ';') .. math.random(1, 1000) end");
    aox_lua *copy = NULL;
    for (int i = 0; i < 60; i++) {
        char code[128];
        snprintf(code, sizeof code, "return step('k%d')", (i * 37) % 11);
        if (i % 13 == 5) {
            uint8_t *b;
            size_t n;
            CHECK(t_snap(live, &b, &n) == 0);
            aox_lua_free(copy);
            copy = t_restore(b, n);
            free(b);
        }
        char *rl = t_eval(live, code);
        if (copy) {
            char *rc = t_eval(copy, code);
            CHECK(rl && rc && strcmp(rl, rc) == 0);
            free(rc);
        }
        free(rl);
    }
    aox_lua_free(copy);
    aox_lua_free(live);
}

int main(void)
{
    test_roundtrip();
    test_unpersistable();
    test_corrupt();
    test_flips();
    test_follow();
    if (t_failures)
        fprintf(stderr, "%d failure(s)\n", t_failures);
    return t_failures ? 1 : 0;
}
