/*
 * ans104/ans104.h: ANS-104 data items, the signed envelope ao clients use for
 * processes and messages (`POST /` of the legacy messenger; aoconnect builds them
 * with arbundles).
 *
 * Binary layout (all integers little-endian):
 *
 *   +---------+-----------+-------+---------------+---------------+
 *   | u16     | signature | owner | target        | anchor        |
 *   | sigtype | (siglen)  |(own.) | 0 | 1 + 32 B  | 0 | 1 + 32 B  |
 *   +---------+-----------+-------+---------------+---------------+
 *   | u64 tag count | u64 tag bytes | tags (Avro, tag-bytes long) | data ... |
 *   +---------------+---------------+-----------------------------+----------+
 *
 *   sigtype 1 (Arweave): signature 512 B, owner 512 B (the RSA modulus, e = 65537).
 *   sigtype 2 (ed25519): 64 B / 32 B;  sigtype 3 (Ethereum secp256k1): 65 B / 65 B.
 *   Types 2 and 3 parse; only type 1 verifies (others: AOX_E_UNSUPPORTED).
 *
 *   tags := Avro array of record {name: bytes, value: bytes}: blocks of
 *           zigzag-varint count (a negative count -n is followed by the block's byte
 *           size and means n items), each item two zigzag-varint-length byte
 *           strings, ended by a zero count. Original order is kept.
 *
 * The ID is base64url(SHA-256(raw signature)). The signed message is the Arweave
 * deep hash (SHA-384) of the list
 *   ["dataitem", "1", "<sigtype in decimal>", owner, target, anchor, tag bytes, data]
 * where an absent target/anchor is the empty string. Type 1 signs it with RSA-PSS,
 * SHA-256, MGF1-SHA-256; verification accepts any salt length (arweave-js and
 * aoconnect's signer use the maximum, 478 bytes for a 4096-bit key; browsers 32).
 *
 * Parsing is strict and bounded (fuzz-tested): every length is checked against the
 * input, presence bytes must be 0 or 1, the tag section must be at most
 * AOX_ANS104_MAX_TAG_BYTES long, decode exactly to its declared byte length and
 * hold exactly the declared number of tags. Nothing here prints or exits.
 */
#ifndef AOX_ANS104_ANS104_H
#define AOX_ANS104_ANS104_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/buf.h"
#include "core/error.h"
#include "core/message.h"

#define AOX_ANS104_SIG_ARWEAVE  1
#define AOX_ANS104_SIG_ED25519  2
#define AOX_ANS104_SIG_ETHEREUM 3

#define AOX_ANS104_MAX_TAG_BYTES 4096   /* arbundles' limit on the tag section */
#define AOX_ANS104_MAX_TAGS      128    /* ANS-104's limit on the number of tags */
#define AOX_ANS104_DEEP_HASH_LEN 48     /* SHA-384 */
#define AOX_ANS104_RSA_BYTES     512    /* type 1 signature and owner length */
#define AOX_ANS104_ADDR_LEN      43     /* base64url SHA-256 */

/* A tag: name and value are byte strings (usually UTF-8), NOT NUL-terminated
 * inside the raw item; the views returned by the accessors below are. */
typedef struct aox_ans104_tag {
    const uint8_t *name;  size_t name_len;
    const uint8_t *value; size_t value_len;
} aox_ans104_tag;

/* ----------------------------------------------------------------- parsing */

typedef struct aox_ans104_item aox_ans104_item;

/* Parses p[0..n) (copied: the caller's buffer need not outlive the item). Does not
 * verify the signature. Returns 0, AOX_E_INVALID (malformed; err says where),
 * AOX_E_UNSUPPORTED (unknown signature type) or AOX_E_NOMEM. *out is NULL on
 * failure. */
int  aox_ans104_parse(const uint8_t *p, size_t n, aox_ans104_item **out, aox_err *err);
void aox_ans104_free(aox_ans104_item *it);                 /* NULL-safe */

/* Verifies the signature. 0 when valid; AOX_E_INVALID when it does not verify (or
 * the owner is not a usable RSA key); AOX_E_UNSUPPORTED for signature types other
 * than 1; AOX_E_NOMEM. */
int  aox_ans104_verify(const aox_ans104_item *it, aox_err *err);

/* Accessors. Pointers point into the item and live as long as it; every byte view
 * is followed by a NUL byte (not counted), so text can be used as a C string. */
int             aox_ans104_sig_type(const aox_ans104_item *it);
const uint8_t  *aox_ans104_signature(const aox_ans104_item *it, size_t *len);
const uint8_t  *aox_ans104_owner(const aox_ans104_item *it, size_t *len);
/* target/anchor: NULL and *len = 0 when absent; else 32 bytes. */
const uint8_t  *aox_ans104_target(const aox_ans104_item *it, size_t *len);
const uint8_t  *aox_ans104_anchor(const aox_ans104_item *it, size_t *len);
size_t          aox_ans104_tag_count(const aox_ans104_item *it);
const aox_ans104_tag *aox_ans104_tag_at(const aox_ans104_item *it, size_t i); /* NULL if out of range */
/* First tag whose name equals `name` case-insensitively (ASCII); NULL if none. */
const aox_ans104_tag *aox_ans104_tag_find(const aox_ans104_item *it, const char *name);
const uint8_t  *aox_ans104_tag_bytes(const aox_ans104_item *it, size_t *len); /* raw Avro */
const uint8_t  *aox_ans104_data(const aox_ans104_item *it, size_t *len);
const uint8_t  *aox_ans104_raw(const aox_ans104_item *it, size_t *len);     /* whole item */

/* "<43-char id>" = base64url(SHA-256(signature)). */
void aox_ans104_id(const aox_ans104_item *it, char out[AOX_ID_LEN + 1]);
/* Owner address: base64url(SHA-256(owner bytes)) (the Arweave wallet address for
 * type 1). */
void aox_ans104_owner_address(const aox_ans104_item *it, char out[AOX_ANS104_ADDR_LEN + 1]);
/* The message that the signature covers (see the header comment). */
int  aox_ans104_signature_data(const aox_ans104_item *it,
                               uint8_t out[AOX_ANS104_DEEP_HASH_LEN]);

/* ----------------------------------------------------------------- deep hash */

/* Arweave deep hash of a flat list of byte strings (the only shape ANS-104 needs):
 *   blob(b)  = SHA384(SHA384("blob" || dec(len b)) || SHA384(b))
 *   list(xs) = fold acc := SHA384("list" || dec(count)) with
 *              acc := SHA384(acc || blob(x))
 * ptrs[i] may be NULL when lens[i] == 0. */
void aox_deep_hash_list(const uint8_t *const *ptrs, const size_t *lens, size_t count,
                        uint8_t out[AOX_ANS104_DEEP_HASH_LEN]);

/* ----------------------------------------------------------------- tags (Avro) */

/* Appends the Avro encoding of tags (as arbundles writes it: one block with a
 * positive count, then 0; nothing at all for zero tags). */
int  aox_ans104_tags_encode(const aox_ans104_tag *tags, size_t count, aox_buf *out);

/* ----------------------------------------------------------------- keys, signing */

typedef struct aox_ans104_key aox_ans104_key;   /* an RSA key (public or private) */

/* Loads an Arweave JWK ({"kty":"RSA","n":..,"e":..} plus d, p, q, dp, dq, qi for a
 * private key; values base64url). e must be 65537 and n exactly 4096 bits.
 * Returns 0, AOX_E_INVALID / AOX_E_BAD_JSON, or AOX_E_NOMEM. */
int  aox_ans104_key_from_jwk(const char *json, size_t n, aox_ans104_key **out, aox_err *err);
/* A fresh RSA-4096 key, e = 65537, from OpenSSL's RNG (a node's own wallet; never
 * used for anything that reaches a result). */
int  aox_ans104_key_generate(aox_ans104_key **out, aox_err *err);
/* Appends the key as an Arweave JWK (private fields included when present). */
int  aox_ans104_key_to_jwk(const aox_ans104_key *k, aox_buf *out);
/* The owner bytes (512-byte big-endian modulus) into out[512]. */
void aox_ans104_key_owner(const aox_ans104_key *k, uint8_t out[AOX_ANS104_RSA_BYTES]);
int  aox_ans104_key_is_private(const aox_ans104_key *k);
void aox_ans104_key_address(const aox_ans104_key *k, char out[AOX_ANS104_ADDR_LEN + 1]);
void aox_ans104_key_free(aox_ans104_key *k);             /* NULL-safe */

/* What to put in a new data item. target and anchor are 32 raw bytes or NULL. */
typedef struct aox_ans104_spec {
    const uint8_t        *target;
    const uint8_t        *anchor;
    const aox_ans104_tag *tags;   size_t tag_count;
    const uint8_t        *data;   size_t data_len;
} aox_ans104_spec;

/* PSS salt length used by aox_ans104_create when salt_len < 0. A salt length of 0
 * makes signatures (and so IDs) deterministic for a given key and content; any
 * length verifies everywhere (arbundles, arweave-js and this module accept all). */
#define AOX_ANS104_SALT_DEFAULT 32

/* Builds and signs a type-1 data item with the private key k; appends its bytes to
 * out (unchanged on failure). Returns 0, AOX_E_INVALID (public key only, too many
 * tag bytes/tags), AOX_E_NOMEM or AOX_E_INTERNAL (OpenSSL failure). */
int  aox_ans104_create(const aox_ans104_spec *spec, const aox_ans104_key *k,
                       int salt_len, aox_buf *out, aox_err *err);

/* ----------------------------------------------------------------- messages */

/* Converts a parsed item into an aox message (the shape the aos JSON interface and
 * the legacy routes read):
 *
 *   id         43-char ID                    owner      base64url(owner bytes)
 *   from       owner address (43 chars)      signature  base64url(signature)
 *   target     base64url(32 B), if present   anchor     the 32 raw bytes, if present
 *   data       the data bytes                signature-type  integer (1, 2, 3)
 *   tags       list of {name, value} messages, in the item's order (duplicates kept)
 *
 * and each tag once more under its lower-cased name, as bytes, unless that key is
 * taken: the reserved keys above always win, and of several tags whose names are
 * equal case-insensitively only the first is copied. Tags with an empty name, or a
 * name that is not valid UTF-8, appear only in `tags`. */
int  aox_ans104_to_msg(const aox_ans104_item *it, aox_msg **out, aox_err *err);

/* ----------------------------------------------------------------- JSON views */

/* New reference to a JSON array [{"name": .., "value": ..}, ...] of the tags in the
 * item's order (the shape of ao's Tags, GraphQL tags and module/<id>/tags). Bytes
 * that are not valid UTF-8 become U+FFFD. NULL on OOM. */
json_t *aox_ans104_tags_json(const aox_ans104_item *it);

/* New reference to the GraphQL transaction node the legacy `/graphql` route answers
 * (docs/parts/legacy-routes.md): {"id", "anchor" (text or ""), "signature",
 * "recipient" (target or ""), "owner": {"address", "key"}, "tags",
 * "data": {"size": "<decimal>", "type": <Content-Type tag or null>}, "block": null}.
 * NULL on OOM. */
json_t *aox_ans104_gql_node(const aox_ans104_item *it);

/* Store key of the raw item bytes: resets k to "data/<id>". The legacy routes and
 * WeaveDrive read raw items from there. */
int  aox_ans104_store_key(aox_buf *k, const char *id);

#endif
