/*
 * core/error.c: names, HTTP statuses and groups of the error table (error.h),
 * and the aox_err detail buffer.
 */
#include "core/error.h"

#include <stdio.h>
#include <string.h>

typedef struct code_info {
    const char     *name;
    int             http;
    aox_error_group group;
} code_info;

#define AOX_ERR_INFO_(e, n, s, g) [e] = { n, s, g },
static const code_info code_table[AOX_E__COUNT] = { AOX_ERROR_TABLE(AOX_ERR_INFO_) };
#undef AOX_ERR_INFO_

static const code_info *info(int code)
{
    if (code < 0 || code >= AOX_E__COUNT)
        return NULL;
    return &code_table[code];
}

const char *aox_code_name(int code)
{
    const code_info *ci = info(code);
    return ci ? ci->name : "unknown";
}

int aox_code_http_status(int code)
{
    const code_info *ci = info(code);
    return ci ? ci->http : 500;
}

aox_error_group aox_code_group(int code)
{
    const code_info *ci = info(code);
    /* An unknown code is treated as a node fault: never cached, never a 4xx. */
    return ci ? ci->group : AOX_EG_NODE;
}

int aox_err_vset(aox_err *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        if (fmt) {
            /* vsnprintf truncates and always NUL-terminates (size > 0). */
            int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
            if (n < 0)
                err->msg[0] = '\0';
        } else {
            snprintf(err->msg, sizeof err->msg, "%s", aox_code_name(code));
        }
    }
    return code;
}

int aox_err_set(aox_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    aox_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void aox_err_clear(aox_err *err)
{
    if (err) {
        err->code = AOX_OK;
        err->msg[0] = '\0';
    }
}
