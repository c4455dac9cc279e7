/*
 * core/identity.h: a node's identity (issue 6): an Ed25519 key pair kept in the
 * node's data directory, the node's address, and signatures over bytes and messages.
 *
 *   key file   DIR/node-key.pem: PKCS#8 PEM private key, mode 0600, created on first
 *              use (written to a temporary file, fsync'd, then linked into place, so
 *              two nodes starting at once on one DIR end up with the same key). A key
 *              file readable or writable by group/others is refused (AOX_E_CONFIG).
 *   address    base64url (no padding, 43 chars) of SHA-256 of the 32-byte raw public
 *              key, like a message ID (core/id.h).
 *
 * Signed messages carry two bytes entries:
 *   node-key        base64url (43 chars) of the signer's raw 32-byte public key
 *   node-signature  base64url (86 chars) of the 64-byte Ed25519 signature
 * The signed bytes are exactly the canonical encoding (core/message.h) of the message
 * without those two entries. So the signature covers every other entry, nested ones
 * included, and nothing else; a message can be re-signed (the old entries are
 * replaced) and a verifier needs nothing but the message. (Ed25519 is deterministic:
 * the same key and message give the same signature.)
 *
 * Errors: AOX_E_FORBIDDEN when a signature does not verify; AOX_E_INVALID when the
 * entries are missing or malformed; AOX_E_IO / AOX_E_CORRUPT / AOX_E_CONFIG for the
 * key file. An identity is immutable after load and may be used from many threads.
 */
#ifndef AOX_CORE_IDENTITY_H
#define AOX_CORE_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "core/message.h"

typedef struct aox_identity aox_identity;

#define AOX_IDENTITY_FILE   "node-key.pem"
#define AOX_ED25519_PUB_LEN 32
#define AOX_ED25519_SIG_LEN 64
#define AOX_SIG_KEY_ENTRY   "node-key"
#define AOX_SIG_ENTRY       "node-signature"

/* Loads DIR/node-key.pem, creating it first if it does not exist (DIR must exist).
 * *created (if non-NULL) says whether this call made it. */
int  aox_identity_open(const char *dir, aox_identity **out, int *created, aox_err *err);
void aox_identity_free(aox_identity *id);                           /* NULL-safe */

const char    *aox_identity_address(const aox_identity *id);      /* 43 chars, NUL */
const uint8_t *aox_identity_public_key(const aox_identity *id);   /* 32 raw bytes */

/* Address of a raw public key. */
void aox_identity_address_of(const uint8_t pub[AOX_ED25519_PUB_LEN],
                             char out[AOX_ID_LEN + 1]);

/* Signs n bytes at p. */
int aox_identity_sign(const aox_identity *id, const void *p, size_t n,
                      uint8_t sig[AOX_ED25519_SIG_LEN]);
/* 0 if sig is pub's signature of the bytes, AOX_E_FORBIDDEN if not. */
int aox_identity_verify(const uint8_t pub[AOX_ED25519_PUB_LEN], const void *p, size_t n,
                        const uint8_t sig[AOX_ED25519_SIG_LEN]);

/* Signs m in place: signs the encoding of m without node-key/node-signature and
 * sets both entries (replacing old ones). On error m is left without a
 * node-signature entry (never with one that does not match). */
int aox_identity_sign_msg(const aox_identity *id, aox_msg *m);
/* Verifies a signed message. addr_out (if non-NULL) receives the signer's address
 * once the signature verifies (else ""). expect_addr non-NULL: a valid signature by
 * another key is AOX_E_FORBIDDEN too. */
int aox_identity_verify_msg(const aox_msg *m, const char *expect_addr,
                            char addr_out[AOX_ID_LEN + 1], aox_err *err);

#endif
