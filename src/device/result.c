/*
 * device/result.c: helpers for result messages (see device.h for the keys), and
 * aox_call_init.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/device.h"

int aox_result_set_error(aox_msg *result, int code, const char *fmt, ...)
{
    char text[AOX_ERR_MSG_MAX];
    aox_msg *e;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    e = aox_msg_new();
    if (!e)
        return AOX_E_NOMEM;
    rc = aox_msg_set_str(e, "code", aox_code_name(code));
    if (!rc)
        rc = aox_msg_set_str(e, "message", text);
    if (rc) {
        aox_msg_free(e);
        return rc;
    }
    return aox_msg_take_msg(result, "error", e);
}

int aox_result_is_error(const aox_msg *result)
{
    return result && aox_msg_get(result, "error") != NULL;
}

int aox_result_mark_state_lost(aox_msg *result)
{
    return aox_msg_set_int(result, AOX_RESULT_STATE_LOST, 1);
}

void aox_call_init(aox_call *call, const char *pid, const aox_msg *def,
                   const aox_msg *assignment, const aox_msg *body, uint64_t slot,
                   const aox_limits *limits)
{
    int64_t ts = 0, height = 0;

    (void)aox_msg_get_int(assignment, "timestamp", &ts);
    (void)aox_msg_get_int(assignment, "block-height", &height);
    memset(call, 0, sizeof *call);
    call->pid = pid;
    call->process = def;
    call->assignment = assignment;
    call->message = body;
    call->slot = slot;
    call->timestamp = ts;
    call->block_height = height;
    call->limits = limits;
}
