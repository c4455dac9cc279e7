/*
 * core/id.h: hashes and identifiers. IDs are base64url (RFC 4648 §5, no padding)
 * encodings of 32-byte SHA-256 digests: always 43 characters.
 */
#ifndef AOX_CORE_ID_H
#define AOX_CORE_ID_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

#define AOX_HASH_LEN 32

void   aox_sha256(const void *p, size_t n, uint8_t out[AOX_HASH_LEN]);
/* SHA-256 over the concatenation of two byte strings (hash chains). */
void   aox_sha256_2(const void *a, size_t an, const void *b, size_t bn,
                    uint8_t out[AOX_HASH_LEN]);

/* base64url without padding. encode writes 4*ceil(n/3) - padding chars + NUL;
 * out must hold aox_b64url_len(n) + 1 bytes. */
size_t aox_b64url_len(size_t n);
void   aox_b64url_encode(const void *p, size_t n, char *out);
/* Decodes into buf (appends). Accepts standard base64 too (+/ and = padding).
 * Returns 0 or AOX_E_INVALID. */
int    aox_b64_decode(const char *s, size_t n, aox_buf *out);

/* digest -> 43-char ID + NUL */
void   aox_id_from_hash(const uint8_t h[AOX_HASH_LEN], char out[44]);
/* Parses a 43-char ID back to its digest. Returns 0 or AOX_E_INVALID. */
int    aox_id_to_hash(const char *id, uint8_t out[AOX_HASH_LEN]);
/* True when s is exactly 43 base64url characters. */
int    aox_id_valid(const char *s);

#endif
