/*
 * tests/aoconnect/counter_module.c: a tiny ao process module for the aoconnect
 * end-to-end test, in the aos JSON interface shape (`char *handle(msg, env)` plus
 * `malloc`/`free` exports; no imports at all). Built freestanding at test time:
 *
 *   clang-14 --target=wasm32 -nostdlib -O2 -fuse-ld=lld -Wl,--no-entry
 *            -Wl,--export=handle -Wl,--export=malloc -Wl,--export=free
 *
 * Behaviour, by the message's Action tag:
 *   Ping   count += 1; Output {"data":"pong <count>","prompt":"aox> "}; one message
 *          back to the sender: {Target: From, Data: "pong <count>", Tags: [Action=Pong]}
 *   Count  Output {"data":"count=<count>"} (what dryrun reads); no state change
 *   Echo   Output {"data": <the message's Data>}
 *   Fail   count += 1000, then Error "failed on purpose" (the node must roll the
 *          state back: the next Ping still counts from the old value)
 *   Boots  Output {"data":"booted=<boots>"}; no state change
 *   Whoami Output {"data":"id=<the message's Id> ts=<its Timestamp>"}
 *   other  empty Output
 * The Process message itself (tag Type = Process, slot 0) counts boots += 1 and
 * answers Output {"data":"booted <boots>"}: the node must evaluate it exactly once.
 * The JSON "parsing" is deliberately naive: it reads the flat {"name","value"}
 * objects of Tags and the top-level "From"/"Data" strings, enough for the test.
 */
typedef unsigned long size_t;

extern unsigned char __heap_base;
static unsigned long heap_top;
static unsigned long count;
static unsigned long boots;

/* ---------------------------------------------------------------- allocator */

void *malloc(size_t n);
void free(void *p);
char *handle(const char *msg, const char *env);

void *malloc(size_t n)
{
    if (!heap_top) heap_top = (unsigned long)&__heap_base;
    unsigned long p = (heap_top + 15) & ~15ul;
    unsigned long end = p + n;
    unsigned long have = __builtin_wasm_memory_size(0) * 65536ul;
    if (end > have) {
        unsigned long pages = (end - have + 65535) / 65536;
        if (__builtin_wasm_memory_grow(0, pages) == (unsigned long)-1) return 0;
    }
    heap_top = end;
    return (void *)p;
}

void free(void *p) { (void)p; }      /* bump allocator: a test runs a few dozen calls */

/* ---------------------------------------------------------------- strings */

static size_t slen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static int starts(const char *s, const char *p)
{
    while (*p) if (*s++ != *p++) return 0;
    return 1;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') s++;
    return s;
}

/* s points at a '"': returns the end of the JSON string (the closing quote). */
static const char *str_end(const char *s)
{
    s++;
    while (*s && *s != '"') s += (*s == '\\' && s[1]) ? 2 : 1;
    return s;
}

/* The value after the next `"key":` in *p[0..end) (white space skipped), or 0; *p
 * is left on that key, so the next call searches on after it. */
static const char *next_value(const char **p, const char *end, const char *key)
{
    size_t kl = slen(key);
    for (; *p < end; (*p)++) {
        const char *k = *p;
        if (*k != '"' || !starts(k + 1, key) || k[1 + kl] != '"') continue;
        const char *q = skip_ws(k + 2 + kl);
        if (*q != ':') continue;
        (*p)++;
        return skip_ws(q + 1);
    }
    return 0;
}

/* Finds `"key"` followed by ':' and a string; sets *v and *n to its raw JSON contents
 * (escapes kept) and returns 1. Searches p[0..end). */
static int find_str(const char *p, const char *end, const char *key, const char **v, size_t *n)
{
    for (const char *q; (q = next_value(&p, end, key));) {
        if (*q != '"') continue;
        const char *e = str_end(q);
        *v = q + 1;
        *n = (size_t)(e - q - 1);
        return 1;
    }
    return 0;
}

/* The digits of the number after `"key":` in p[0..end); 0 if none. */
static int find_num(const char *p, const char *end, const char *key, const char **v, size_t *n)
{
    for (const char *q; (q = next_value(&p, end, key));) {
        const char *e = q;
        while (*e >= '0' && *e <= '9') e++;
        if (e == q) continue;
        *v = q;
        *n = (size_t)(e - q);
        return 1;
    }
    return 0;
}

/* The value of the tag named `name` (in a flat {...} object holding "name"). */
static int find_tag(const char *msg, const char *name, const char **v, size_t *n)
{
    for (const char *o = msg; *o; o++) {
        if (*o == '"') { o = str_end(o); if (!*o) break; continue; }
        if (*o != '{') continue;
        const char *c = o + 1;           /* flat object: no nested braces */
        while (*c && *c != '{' && *c != '}') c = (*c == '"') ? str_end(c) + (*c ? 1 : 0) : c + 1;
        if (*c != '}') continue;
        const char *nv; size_t nn;
        if (find_str(o, c, "name", &nv, &nn) && nn == slen(name) && starts(nv, name) &&
            find_str(o, c, "value", v, n))
            return 1;
    }
    return 0;
}

typedef struct out { char *p; size_t n, cap; } out;

static void put(out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o->n + 1 < o->cap; i++) o->p[o->n++] = s[i];
    o->p[o->n] = 0;
}
static void puts_(out *o, const char *s) { put(o, s, slen(s)); }
static void putu(out *o, unsigned long v)
{
    char b[24]; int k = 0;
    do { b[k++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (k) put(o, &b[--k], 1);
}

/* ---------------------------------------------------------------- handle */

char *handle(const char *msg, const char *env)
{
    (void)env;
    size_t in = slen(msg);
    out o = { 0, 0, 1024 + 2 * in };
    o.p = malloc(o.cap);
    if (!o.p) return 0;
    const char *action = "", *from = "", *data = "", *type = "", *id = "", *ts = "";
    size_t al = 0, fl = 0, dl = 0, tl = 0, il = 0, sl = 0;
    find_tag(msg, "Action", &action, &al);
    find_tag(msg, "Type", &type, &tl);
    find_str(msg, msg + in, "Id", &id, &il);
    find_num(msg, msg + in, "Timestamp", &ts, &sl);
    find_str(msg, msg + in, "From", &from, &fl);
    find_str(msg, msg + in, "Data", &data, &dl);

    puts_(&o, "{\"ok\":true,\"response\":{");
    if (tl == 7 && starts(type, "Process")) {
        boots++;
        puts_(&o, "\"Output\":{\"data\":\"booted "); putu(&o, boots); puts_(&o, "\"},\"Messages\":[]");
    } else if (al == 5 && starts(action, "Boots")) {
        puts_(&o, "\"Output\":{\"data\":\"booted="); putu(&o, boots); puts_(&o, "\"},\"Messages\":[]");
    } else if (al == 6 && starts(action, "Whoami")) {
        puts_(&o, "\"Output\":{\"data\":\"id="); put(&o, id, il);
        puts_(&o, " ts="); put(&o, ts, sl); puts_(&o, "\"},\"Messages\":[]");
    } else if (al == 4 && starts(action, "Ping")) {
        count++;
        puts_(&o, "\"Output\":{\"data\":\"pong "); putu(&o, count);
        puts_(&o, "\",\"prompt\":\"aox> \"},\"Messages\":[{\"Target\":\"");
        put(&o, from, fl);
        puts_(&o, "\",\"Data\":\"pong "); putu(&o, count);
        puts_(&o, "\",\"Tags\":[{\"name\":\"Action\",\"value\":\"Pong\"}]}]");
    } else if (al == 5 && starts(action, "Count")) {
        puts_(&o, "\"Output\":{\"data\":\"count="); putu(&o, count); puts_(&o, "\"},\"Messages\":[]");
    } else if (al == 4 && starts(action, "Echo")) {
        puts_(&o, "\"Output\":{\"data\":\""); put(&o, data, dl); puts_(&o, "\"},\"Messages\":[]");
    } else if (al == 4 && starts(action, "Fail")) {
        count += 1000;
        puts_(&o, "\"Error\":\"failed on purpose\",\"Output\":\"\",\"Messages\":[]");
    } else {
        puts_(&o, "\"Output\":\"\",\"Messages\":[]");
    }
    puts_(&o, ",\"Spawns\":[],\"Assignments\":[]}}");
    return o.p;
}
