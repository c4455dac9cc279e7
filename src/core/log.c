/*
 * core/log.c: JSON-lines logging (log.h). Each event is formatted into a local
 * buffer and written with a single fwrite under flockfile, so lines from different
 * threads never interleave. The level and the output stream are atomics.
 */
#include "core/log.h"
#include "core/buf.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static atomic_int       log_level = AOX_LOG_INFO;
static _Atomic(FILE *)  log_out;          /* NULL means stderr */

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

void aox_log_set_level(aox_log_level lvl)
{
    if ((int)lvl < AOX_LOG_DEBUG || lvl > AOX_LOG_OFF)
        return;
    atomic_store(&log_level, (int)lvl);
}

aox_log_level aox_log_get_level(void)
{
    return (aox_log_level)atomic_load(&log_level);
}

int aox_log_level_parse(const char *s, aox_log_level *out)
{
    if (!s)
        return AOX_E_INVALID;
    for (int i = AOX_LOG_DEBUG; i <= AOX_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (aox_log_level)i;
            return AOX_OK;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = AOX_LOG_WARN;
        return AOX_OK;
    }
    return AOX_E_INVALID;
}

const char *aox_log_level_name(aox_log_level lvl)
{
    if ((int)lvl < AOX_LOG_DEBUG || lvl > AOX_LOG_OFF)
        return "unknown";
    return level_names[lvl];
}

void aox_log_set_output(FILE *f)
{
    atomic_store(&log_out, f);
}

/* Appends s as a JSON string body (without quotes). Bytes >= 0x80 pass through
 * unchanged (callers log UTF-8); control characters are escaped. */
static void json_escape(aox_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"':  aox_buf_append(b, "\\\"", 2); break;
        case '\\': aox_buf_append(b, "\\\\", 2); break;
        case '\n': aox_buf_append(b, "\\n", 2); break;
        case '\r': aox_buf_append(b, "\\r", 2); break;
        case '\t': aox_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                aox_buf_append(b, e, 6);
            } else {
                aox_buf_append_u8(b, c);
            }
        }
    }
}

static void begin_line(aox_buf *b, aox_log_level lvl, const char *event)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    aox_buf_printf(b, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                   "\"event\":\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                   tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                   aox_log_level_name(lvl));
    json_escape(b, event ? event : "");
    aox_buf_append_u8(b, '"');
}

static void emit(aox_buf *b)
{
    if (aox_buf_append(b, "}\n", 2) == AOX_OK) {
        FILE *f = atomic_load(&log_out);
        if (!f)
            f = stderr;
        flockfile(f);
        fwrite(b->data, 1, b->len, f);
        fflush(f);
        funlockfile(f);
    }
    aox_buf_free(b);
}

static int enabled(aox_log_level lvl)
{
    return lvl != AOX_LOG_OFF && (int)lvl >= atomic_load(&log_level);
}

void aox_log(aox_log_level lvl, const char *event, const char *fields, ...)
{
    if (!enabled(lvl))
        return;
    aox_buf b = { 0 };
    begin_line(&b, lvl, event);
    if (fields && fields[0]) {
        char small[512];
        va_list ap;
        va_start(ap, fields);
        int n = vsnprintf(small, sizeof small, fields, ap);
        va_end(ap);
        if (n > 0) {
            aox_buf_append_u8(&b, ',');
            if ((size_t)n < sizeof small) {
                aox_buf_append(&b, small, (size_t)n);
            } else if (aox_buf_reserve(&b, (size_t)n) == AOX_OK) {
                va_start(ap, fields);
                vsnprintf((char *)b.data + b.len, (size_t)n + 1, fields, ap);
                va_end(ap);
                b.len += (size_t)n;
            }
        }
    }
    emit(&b);
}

void aox_log_kv(aox_log_level lvl, const char *event, const char *key, const char *value)
{
    if (!enabled(lvl))
        return;
    aox_buf b = { 0 };
    begin_line(&b, lvl, event);
    if (key) {
        aox_buf_append(&b, ",\"", 2);
        json_escape(&b, key);
        aox_buf_append(&b, "\":\"", 3);
        json_escape(&b, value ? value : "");
        aox_buf_append_u8(&b, '"');
    }
    emit(&b);
}
