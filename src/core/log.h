/*
 * core/log.h: structured logging as JSON lines on stderr (or a chosen FILE*).
 * One line per event: {"ts":"...","level":"info","event":"...", <fields>}.
 * The level is process-wide and can be changed at run time (atomically).
 * Host time appears only in logs, never in results.
 */
#ifndef AOX_CORE_LOG_H
#define AOX_CORE_LOG_H

#include <stdio.h>

typedef enum aox_log_level {
    AOX_LOG_DEBUG, AOX_LOG_INFO, AOX_LOG_WARN, AOX_LOG_ERROR, AOX_LOG_OFF
} aox_log_level;

void aox_log_set_level(aox_log_level lvl);
aox_log_level aox_log_get_level(void);
int  aox_log_level_parse(const char *s, aox_log_level *out);   /* "debug".."off" */
const char *aox_log_level_name(aox_log_level lvl);
void aox_log_set_output(FILE *f);                              /* default stderr */

/* fields: a printf-style list of extra JSON members *without* braces, e.g.
 *   aox_log(AOX_LOG_INFO, "spawn", "\"pid\":\"%s\",\"slot\":%d", pid, 0);
 * Pass NULL for none. Strings interpolated into fields must be JSON-safe;
 * use aox_log_kv for untrusted strings. */
void aox_log(aox_log_level lvl, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));
/* Convenience: one string field, escaped properly. */
void aox_log_kv(aox_log_level lvl, const char *event, const char *key, const char *value);

#endif
