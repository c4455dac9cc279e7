/*
 * core/message.h: aox's data model. A message is a map from lower-case keys to
 * values; a value is bytes, a signed 64-bit integer, a float (double), a list of
 * values, or a nested message.
 *
 *   - Keys are compared case-insensitively on input and stored lower-case.
 *   - Entries are kept sorted by key (bytewise), so iteration order, the canonical
 *     encoding and the JSON form are the same on every node.
 *   - A message owns its keys and values. Setters copy their input (except the
 *     *_take variants, which take ownership of a heap message / list).
 *   - Messages are not thread-safe for concurrent mutation; concurrent reads are fine.
 *
 * Canonical encoding (version 1), used for IDs, storage and hashing:
 *
 *   message := 'M' uleb(count) { uleb(klen) key value }*     (keys sorted, unique)
 *   value   := 'B' uleb(len) bytes
 *            | 'I' 8-byte big-endian two's complement
 *            | 'F' 8-byte big-endian IEEE-754 bits (NaN canonicalised to 0x7ff8...0)
 *            | 'L' uleb(count) value*
 *            | message
 *
 * The encoding is canonical: uleb128 integers are minimal, keys are non-empty,
 * lower-case, NUL-free UTF-8 in strictly ascending bytewise order, and NaN has the
 * one bit pattern above (-0.0 is kept as is). aox_msg_decode accepts only canonical
 * input, so encode(decode(b)) == b for every accepted b. Containers (messages and
 * lists, the top-level message included) nest at most AOX_MSG_MAX_DEPTH deep; encode
 * returns AOX_E_INVALID for a deeper message.
 *
 * The ID of a message is base64url (no padding, 43 chars) of SHA-256 over its
 * canonical encoding, unless it carries a signature (`signature` + `owner` from an
 * ANS-104 data item): then its ID is the ANS-104 one, base64url(SHA-256(raw
 * signature bytes)), where the `signature` value is a bytes value holding the
 * base64url (or base64) text of the raw signature. If that text does not decode (or
 * the value is not bytes), the canonical-encoding rule applies instead.
 *
 * Keys: setters return AOX_E_INVALID for an empty key or one that is not valid
 * UTF-8; only ASCII letters are lower-cased.
 */
#ifndef AOX_CORE_MESSAGE_H
#define AOX_CORE_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/error.h"

typedef struct aox_msg aox_msg;

typedef enum aox_vtype {
    AOX_V_BYTES = 1, AOX_V_INT, AOX_V_FLOAT, AOX_V_LIST, AOX_V_MSG
} aox_vtype;

typedef struct aox_value aox_value;
struct aox_value {
    aox_vtype type;
    union {
        struct { uint8_t *ptr; size_t len; } bytes;   /* ptr NUL-terminated for convenience */
        int64_t  i;
        double   f;
        struct { aox_value *items; size_t len; } list;
        aox_msg *msg;
    } u;
};

#define AOX_ID_LEN 43          /* base64url SHA-256, no padding */
#define AOX_MSG_MAX_DEPTH 64    /* max nesting of messages/lists, top level included */

/* Lifetime */
aox_msg *aox_msg_new(void);                        /* NULL on OOM */
void     aox_msg_free(aox_msg *m);                 /* NULL-safe, frees everything */
aox_msg *aox_msg_clone(const aox_msg *m);          /* deep copy; NULL on OOM */

/* Setters: replace any existing value at key. Return 0 or AOX_E_NOMEM/AOX_E_INVALID
 * (empty key). */
int aox_msg_set_bytes(aox_msg *m, const char *key, const void *p, size_t n);
int aox_msg_set_str(aox_msg *m, const char *key, const char *s);
int aox_msg_set_int(aox_msg *m, const char *key, int64_t v);
int aox_msg_set_float(aox_msg *m, const char *key, double v);
int aox_msg_set_value(aox_msg *m, const char *key, const aox_value *v);  /* deep copy */
int aox_msg_set_msg(aox_msg *m, const char *key, const aox_msg *sub);   /* deep copy */
int aox_msg_take_msg(aox_msg *m, const char *key, aox_msg *sub);        /* takes sub, even on error */
/* Appends a deep copy of v to the list at key (creating the list). */
int aox_msg_list_append(aox_msg *m, const char *key, const aox_value *v);
int aox_msg_list_append_msg(aox_msg *m, const char *key, aox_msg *sub); /* takes sub */
int aox_msg_remove(aox_msg *m, const char *key);   /* 0, or AOX_E_NOT_FOUND */

/* Getters: key lookup is case-insensitive. Returned pointers live until the entry is
 * replaced/removed or the message is freed. */
const aox_value *aox_msg_get(const aox_msg *m, const char *key);        /* NULL if absent */
/* Bytes value as a string (NUL-terminated); NULL if absent or not bytes. */
const char *aox_msg_get_str(const aox_msg *m, const char *key, size_t *len);
/* Integer value; also accepts a bytes value holding a decimal integer.
 * Returns 0, AOX_E_NOT_FOUND, or AOX_E_INVALID (wrong type / not a number). */
int aox_msg_get_int(const aox_msg *m, const char *key, int64_t *out);
const aox_msg *aox_msg_get_msg(const aox_msg *m, const char *key);      /* NULL if not a message */

/* Iteration in canonical (sorted) key order. */
size_t           aox_msg_count(const aox_msg *m);
const char      *aox_msg_key_at(const aox_msg *m, size_t i);
const aox_value *aox_msg_value_at(const aox_msg *m, size_t i);

/* Value helpers */
void aox_value_free(aox_value *v);                  /* frees contents, not v itself */
int  aox_value_copy(aox_value *dst, const aox_value *src);
int  aox_value_equal(const aox_value *a, const aox_value *b);
int  aox_msg_equal(const aox_msg *a, const aox_msg *b);

/* Canonical encoding. encode appends to out (out is unchanged on failure). decode is
 * strict (rejects trailing bytes, unsorted/duplicate keys, bad tags, truncated input,
 * non-minimal integers, lengths beyond the input, nesting deeper than
 * AOX_MSG_MAX_DEPTH): AOX_E_CORRUPT with the offset in err, AOX_E_NOMEM, or
 * AOX_E_INVALID for a NULL input. */
int aox_msg_encode(const aox_msg *m, aox_buf *out);
int aox_msg_decode(const uint8_t *p, size_t n, aox_msg **out, aox_err *err);

/* The message's ID (43 chars + NUL) as defined above. */
int aox_msg_id(const aox_msg *m, char out[AOX_ID_LEN + 1]);

/* 1 when p[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF; NUL allowed), else 0. */
int aox_utf8_valid(const void *p, size_t n);

#endif
