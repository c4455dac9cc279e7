/*
 * core/json.h: messages to and from JSON (jansson).
 *
 * JSON -> message: object keys are lower-cased; a string becomes bytes (UTF-8), an
 * integer becomes int, a real becomes float, true/false become int 1/0, an array a
 * list, an object a nested message; null is rejected (AOX_E_BAD_JSON). An object
 * of the exact form {"@b64": "<base64url>"} decodes to raw bytes.
 * Message -> JSON: bytes that are valid UTF-8 become a string, other bytes
 * {"@b64": "..."}; int -> integer; float -> real; list -> array; message -> object
 * (keys in sorted order). The two are inverse on every message.
 */
#ifndef AOX_CORE_JSON_H
#define AOX_CORE_JSON_H

#include <jansson.h>
#include "core/message.h"

int     aox_msg_from_json(const json_t *j, aox_msg **out, aox_err *err);
/* Parses text (not necessarily NUL-terminated) and converts; the top level must be an
 * object. Errors name the line/column of malformed JSON. */
int     aox_msg_from_json_text(const char *text, size_t n, aox_msg **out, aox_err *err);
json_t *aox_msg_to_json(const aox_msg *m);              /* new reference; NULL on OOM */
json_t *aox_value_to_json(const aox_value *v);
/* Compact, sorted-key JSON text appended to out. */
int     aox_msg_to_json_text(const aox_msg *m, aox_buf *out);
/* {"error":{"code":"<name>","message":"..."}} for an aox_err. */
json_t *aox_err_to_json(const aox_err *err);

#endif
