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
 *
 * Details that make the mapping exact (core/json.c):
 *   - A non-finite float is written {"@float": "nan" | "inf" | "-inf"} (JSON has no
 *     literal for it) and read back as that float.
 *   - An object with exactly one member "@b64" or "@float" whose value is a string is
 *     always read as the tagged form (an undecodable one is AOX_E_BAD_JSON). So a
 *     message whose only entry is such a key with a bytes value is written with its
 *     value in @b64 form, e.g. {"@b64": {"@b64": "aGk"}}, which reads back as that
 *     message. The top level is always read as a message.
 *   - Floats are written with 17 significant digits and always with a '.' or an
 *     exponent (1.0, -0.0), so they read back as the same float, not an int.
 *   - Object keys are lower-cased; two keys equal after lower-casing, an empty key,
 *     null, and nesting deeper than AOX_MSG_MAX_DEPTH are AOX_E_BAD_JSON. Strings may
 *     contain \u0000 (bytes keep their NUL).
 *   - Out of memory is AOX_E_NOMEM, never a wrong result: on first use this module
 *     installs jansson allocation functions (json_set_alloc_funcs; plain malloc/free
 *     that also note failures per thread), because jansson's lexer can silently drop
 *     characters when an allocation fails. Other code should not replace them.
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
