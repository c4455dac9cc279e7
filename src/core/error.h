/*
 * core/error.h: the one table of error codes for the whole of aox.
 *
 * Codes are grouped. A caller's mistake (4xx) and a guest's deterministic fault
 * (trap, out of fuel, out of memory: these become slot *results*) are kept apart
 * from node faults (I/O, config, internal: these never become results and are
 * never cached). 0 is success everywhere.
 */
#ifndef AOX_CORE_ERROR_H
#define AOX_CORE_ERROR_H

#include <stdarg.h>

/* X(enum, name, http-status, group) */
#define AOX_ERROR_TABLE(X)                                              \
    X(AOX_OK,              "ok",                200, AOX_EG_NONE)       \
    /* caller errors */                                                 \
    X(AOX_E_INVALID,       "invalid",           400, AOX_EG_CALLER)     \
    X(AOX_E_BAD_JSON,      "bad_json",          400, AOX_EG_CALLER)     \
    X(AOX_E_NOT_FOUND,     "not_found",         404, AOX_EG_CALLER)     \
    X(AOX_E_NOT_YET,       "not_yet",           425, AOX_EG_CALLER)     \
    X(AOX_E_TOO_LARGE,     "too_large",         413, AOX_EG_CALLER)     \
    X(AOX_E_CONFLICT,      "conflict",          409, AOX_EG_CALLER)     \
    X(AOX_E_UNSUPPORTED,   "unsupported",       400, AOX_EG_CALLER)     \
    X(AOX_E_METHOD,        "method_not_allowed",405, AOX_EG_CALLER)     \
    X(AOX_E_FORBIDDEN,     "forbidden",         403, AOX_EG_CALLER)     \
    /* guest faults: deterministic, become the slot's error result */   \
    X(AOX_E_GUEST,         "guest_error",       200, AOX_EG_GUEST)      \
    X(AOX_E_TRAP,          "trap",              200, AOX_EG_GUEST)      \
    X(AOX_E_OUT_OF_FUEL,   "out_of_fuel",       200, AOX_EG_GUEST)      \
    X(AOX_E_OUT_OF_MEMORY, "out_of_memory",     200, AOX_EG_GUEST)      \
    X(AOX_E_LIMIT,         "limit_exceeded",    200, AOX_EG_GUEST)      \
    /* node faults: never cached as results */                         \
    X(AOX_E_NOMEM,         "node_out_of_memory",500, AOX_EG_NODE)       \
    X(AOX_E_IO,            "io_error",          500, AOX_EG_NODE)       \
    X(AOX_E_CORRUPT,       "corrupt",           500, AOX_EG_NODE)       \
    X(AOX_E_CONFIG,        "config",            500, AOX_EG_NODE)       \
    X(AOX_E_INTERNAL,      "internal",          500, AOX_EG_NODE)       \
    X(AOX_E_TIMEOUT,       "timeout",           504, AOX_EG_NODE)       \
    X(AOX_E_BUSY,          "busy",              503, AOX_EG_NODE)       \
    X(AOX_E_UPSTREAM,      "upstream",          502, AOX_EG_NODE)       \
    X(AOX_E_CRASHED,       "worker_crashed",    500, AOX_EG_NODE)

typedef enum aox_error_group {
    AOX_EG_NONE, AOX_EG_CALLER, AOX_EG_GUEST, AOX_EG_NODE
} aox_error_group;

#define AOX_ERR_ENUM_(e, n, s, g) e,
typedef enum aox_code { AOX_ERROR_TABLE(AOX_ERR_ENUM_) AOX_E__COUNT } aox_code;
#undef AOX_ERR_ENUM_

/* Error detail carried beside a return code. Functions that take an `aox_err *`
 * fill it on failure (it may be NULL: then only the code is returned). */
#define AOX_ERR_MSG_MAX 512
typedef struct aox_err {
    int  code;                      /* aox_code; AOX_OK when clear */
    char msg[AOX_ERR_MSG_MAX];      /* human-readable, NUL-terminated */
} aox_err;

const char     *aox_code_name(int code);    /* "not_found"; "unknown" if out of range */
int             aox_code_http_status(int code);
aox_error_group aox_code_group(int code);
static inline int aox_code_is_guest(int code) { return aox_code_group(code) == AOX_EG_GUEST; }

/* Sets err (if non-NULL) and returns code, so callers can `return aox_err_set(...)`. */
int  aox_err_set(aox_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int  aox_err_vset(aox_err *err, int code, const char *fmt, va_list ap);
void aox_err_clear(aox_err *err);

#endif
