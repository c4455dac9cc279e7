/* tests/aos/mod_c.c: an aos-style test process in C (emscripten, wasm32).
 * handle(msg, env) looks at the message's Data and answers JSON like aos does.
 * Uses setjmp/longjmp (emscripten's JS-style SjLj through invoke_*), malloc,
 * stdio files (the in-memory fs), time() and getentropy().
 * The Process message itself (its Id is the env's Process.Id) is recorded: boots,
 * its Data and Timestamp; "boots" reports them, "whoami" the message's own Id. */
#include <emscripten.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

static jmp_buf jb;
static int counter;
static int boots;                 /* how many times the Process message was handled */
static char boot_data[128], boot_ts[32];
static char out[8192];
static char *hog[100000];

static int dive(int n) { if (n == 0) longjmp(jb, 42); return dive(n - 1) + 1; }
static volatile int zero;
__attribute__((noinline)) static int crash(int n) { if (zero == 0) __builtin_trap(); return n; }
static int (*volatile crash_fp)(int) = crash;

/* the Data string of the message JSON (up to the closing quote) */
static void data_of(const char *msg, char *buf, size_t cap)
{
    const char *p = strstr(msg, "\"Data\":\"");
    size_t n = 0;
    buf[0] = 0;
    if (!p) return;
    p += 8;
    while (p[n] && p[n] != '"' && n + 1 < cap) { buf[n] = p[n]; n++; }
    buf[n] = 0;
}

static void field_of(const char *json, const char *key, char *buf, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    size_t n = 0;
    buf[0] = 0;
    if (!p) return;
    p += strlen(pat);
    while (p[n] && p[n] != '"' && n + 1 < cap) { buf[n] = p[n]; n++; }
    buf[n] = 0;
}

EMSCRIPTEN_KEEPALIVE const char *handle(const char *msg, const char *env)
{
    char data[256], from[64], pid[64];
    data_of(msg, data, sizeof data);
    field_of(msg, "From", from, sizeof from);
    field_of(env, "Id", pid, sizeof pid);
    char id[128];
    field_of(msg, "Id", id, sizeof id);
    if (pid[0] && strcmp(id, pid) == 0) {
        const char *t = strstr(msg, "\"Timestamp\":");
        size_t n = 0;
        boots++;
        snprintf(boot_data, sizeof boot_data, "%s", data);
        if (t)
            for (t += 12; t[n] >= '0' && t[n] <= '9' && n + 1 < sizeof boot_ts; n++)
                boot_ts[n] = t[n];
        boot_ts[n] = 0;
        if (strcmp(data, "fail") == 0) {
            boots += 1000;
            strcpy(out, "{\"ok\":false,\"response\":\"boot refused\"}");
            return out;
        }
        snprintf(out, sizeof out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"booted %s\"},"
                 "\"Messages\":[{\"Target\":\"%s\",\"Data\":\"hello\",\"Tags\":[{\"name\":\"Action\","
                 "\"value\":\"Booted\"}]}]}}", data, pid);
    } else if (strcmp(data, "boots") == 0) {
        snprintf(out, sizeof out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"boots=%d data=%s ts=%s\"}}}",
                 boots, boot_data, boot_ts);
    } else if (strcmp(data, "whoami") == 0) {
        const char *t = strstr(msg, "\"Timestamp\":");
        char ts[32];
        size_t n = 0;
        if (t)
            for (t += 12; t[n] >= '0' && t[n] <= '9' && n + 1 < sizeof ts; n++)
                ts[n] = t[n];
        ts[n] = 0;
        snprintf(out, sizeof out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"id=%s ts=%s\"}}}",
                 id, ts);
    } else if (strcmp(data, "ping") == 0) {
        snprintf(out, sizeof out,
                 "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"pong\",\"print\":true},"
                 "\"Messages\":[{\"Target\":\"%s\",\"Data\":\"pong\",\"Tags\":[{\"name\":\"Action\",\"value\":\"Pong\"},"
                 "{\"name\":\"Reply-To\",\"value\":\"%s\"}]}],\"Spawns\":[],"
                 "\"Assignments\":[{\"Processes\":[\"%s\"],\"Message\":\"m1\"}]}}", from, pid, pid);
    } else if (strcmp(data, "count") == 0) {
        counter++;
        snprintf(out, sizeof out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"%d\"}}}", counter);
    } else if (strcmp(data, "jump") == 0) {
        int r = setjmp(jb);
        if (r == 0) dive(5);
        snprintf(out, sizeof out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"jumped %d\"}}}", r);
    } else if (strcmp(data, "trapjmp") == 0) {
        /* a real trap under setjmp (called through invoke_*) must not be swallowed */
        counter += 1000;
        if (setjmp(jb) == 0) crash_fp(1);
        strcpy(out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"swallowed\"}}}");
    } else if (strcmp(data, "copybig") == 0) {
        /* large copies go through emscripten_memcpy_big: the host charges fuel */
        char *a = malloc(16 << 20), *b = malloc(16 << 20);
        if (!a || !b) abort();
        for (int i = 0; i < 40; i++) { memcpy(a, b, 16 << 20); b[i] = (char)i; }
        snprintf(out, sizeof out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"copied %d\"}}}", a[3]);
    } else if (strcmp(data, "loop") == 0) {
        counter += 1000;
        for (volatile unsigned i = 0;; i++) { }
    } else if (strcmp(data, "grow") == 0) {
        counter += 1000;
        for (int i = 0; i < 100000; i++) {
            hog[i] = malloc(1 << 20);
            if (!hog[i]) abort();
            memset(hog[i], 1, 4096);
        }
        strcpy(out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"never\"}}}");
    } else if (strcmp(data, "fail") == 0) {
        counter += 1000;
        strcpy(out, "{\"ok\":false,\"response\":\"boom\"}");
    } else if (strcmp(data, "error") == 0) {
        counter += 1000;
        strcpy(out, "{\"ok\":true,\"response\":{\"Error\":\"handler said no\",\"Output\":\"\"}}");
    } else if (strcmp(data, "bad") == 0) {
        counter += 1000;
        strcpy(out, "{\"ok\":tru");
    } else if (strcmp(data, "write") == 0) {
        FILE *f = fopen("/data/note.txt", "a");
        if (!f) { strcpy(out, "{\"ok\":false,\"response\":\"fopen\"}"); return out; }
        fputs("line;", f);
        fclose(f);
        strcpy(out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"written\"}}}");
    } else if (strcmp(data, "read") == 0) {
        char buf[512] = "";
        FILE *f = fopen("/data/note.txt", "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        buf[n] = 0;
        if (f) fclose(f);
        snprintf(out, sizeof out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"%s\"}}}", f ? buf : "nofile");
    } else if (strcmp(data, "weave") == 0) {
        /* WeaveDrive: /data/<id> is the data item <id> from the store */
        char buf[256] = "";
        FILE *f = fopen("/data/WEAVEDRIVE00000000000000000000000000000000E", "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        buf[n] = 0;
        if (f) fclose(f);
        snprintf(out, sizeof out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"%s\"}}}", f ? buf : "nofile");
    } else if (strcmp(data, "time") == 0) {
        unsigned char r[8];
        getentropy(r, sizeof r);
        struct tm tm;
        time_t t = time(NULL);
        gmtime_r(&t, &tm);
        snprintf(out, sizeof out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"%lld %04d-%02d-%02d %02x%02x%02x%02x\"}}}",
                 (long long)t, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, r[0], r[1], r[2], r[3]);
    } else if (strcmp(data, "print") == 0) {
        printf("hello from the guest\n");
        fflush(stdout);
        strcpy(out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"printed\"}}}");
    } else {
        snprintf(out, sizeof out, "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"unknown %s\"}}}", data);
    }
    return out;
}
