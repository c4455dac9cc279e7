/*
 * http/legacy.h (private to http/): the legacy ao compute-unit, messenger and
 * gateway routes that `@permaweb/aoconnect` uses unchanged (issue 7 part 6; the
 * spec is docs/parts/legacy-routes.md):
 *
 *   POST /                                   ANS-104 item: Module (store), Process
 *                                            (spawn) or Message (schedule on Target)
 *   POST /?process-id=<pid>&assign=<msg>     schedule a stored item on <pid>
 *   POST /graphql                            transactions(ids: [...]) from data/<id>
 *   GET  /result/<msg>?process-id=<pid>      compute-unit result shape
 *   GET  /results/<pid>?from=&to=&sort=&limit=   edges/cursor pages of results
 *   POST /dry-run?process-id=<pid>           evaluate without scheduling
 *   GET  /state/<pid>                        the state image after the latest slot
 *
 * Every answer, errors included, is JSON (except /state's octet stream): aoconnect
 * ignores the status on compute-unit routes and parses the body.
 */
#ifndef AOX_HTTP_LEGACY_H
#define AOX_HTTP_LEGACY_H

#include <jansson.h>
#include "http/dispatch.h"

/* The feature name /~meta@1.0/info lists once these routes exist. */
#define AOX_HTTP_LEGACY_FEATURE "legacy-routes"

/* Serves req when it is one of the routes above: returns 1 with *rc the outcome
 * (0 or the aox code; resp is filled either way). Returns 0 and touches nothing
 * when the request is not a legacy route (aox_http_dispatch routes it). */
int aox_http_legacy_serve(const aox_http_ctx *ctx, const aox_http_request *req,
                          aox_http_response *resp, int *rc);

/* Adds "features": [..., "legacy-routes"] to the info object (a new or borrowed
 * object reference; returned as is, NULL stays NULL). */
json_t *aox_http_legacy_info(json_t *info);

/* The ao compute-unit form of an aox result message (Output, Messages, Spawns,
 * Assignments, Error when the slot failed, GasUsed). New reference; NULL on OOM. */
json_t *aox_http_legacy_result_json(const aox_msg *result);

#endif
