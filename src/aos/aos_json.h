/*
 * aos/aos_json.h: the aos JSON interface (json-iface@1.0) — the JSON shapes the
 * legacy loader (@permaweb/ao-loader) and HyperBEAM's dev_json_iface hand to an aos
 * module's `handle(msg, env)` and read back from it.
 *
 * Message (what handle() receives as its first argument):
 *   {"Id", "Owner", "From", "Target", "Anchor"?, "Tags": [{"name","value"}...],
 *    "Data", "Module", "Block-Height", "Timestamp", "Signature"?, "Hash-Chain"?}
 *   - Id: ctx->id when set (the assignment's `message-id`, which is the message's aox
 *     ID for a scheduled message and the body's own Id for a dry run), else the
 *     message's aox ID (ANS-104 ID for signed data items).
 *   - Owner: the signer's address: `owner` as is when it is a 43-char ID, else
 *     base64url(SHA-256(public key)) where the key is `owner` decoded from
 *     base64url (or taken raw when it is not text). "" when unsigned.
 *   - From: `from-process` if present, else `from`, else Owner.
 *   - Target: `target`, else the process ID.
 *   - Tags: `original-tags` or `tags` when it is a list of {name, value} messages
 *     (original order and case); otherwise every key of the message except the
 *     reserved ones (id, owner, target, anchor, data, signature, tags,
 *     original-tags, commitments, from, module, timestamp, block-height,
 *     hash-chain), in sorted order, names in header case ("data-protocol" ->
 *     "Data-Protocol"), values as text (integers in decimal).
 *   - Data: `data` as a string when it is UTF-8 text, null otherwise.
 *   - Timestamp and Block-Height: JSON numbers from the assignment.
 * Env (second argument): {"Process": {"Id", "Owner", "Tags"}, "Module": {"Id", "Tags"}}
 *   with the process definition's tags as above and the module's tags as stored.
 *
 * Result (what handle() returns, a NUL-terminated JSON string):
 *   {"ok": true, "response": {"Output", "Messages", "Spawns", "Assignments", "Error"}}
 *   or {"ok": false, "response": <error>}. It becomes the slot result:
 *   output      <- Output (JSON -> value: objects become messages with lower-case
 *                  keys, strings bytes, numbers int/float, booleans 1/0, nulls dropped)
 *   outbox      <- Messages, spawns <- Spawns: each {Target, Data, Anchor, Tags}
 *                  becomes a message with `target`, `data`, `anchor`, one key per tag
 *                  (lower-cased name), `original-tags` (the list as given) and
 *                  `from-process` (the pid) / `from-image` (the module ID)
 *   assignments <- Assignments: {processes: [...], message: "<id>"}
 *   error       <- ok:false, a non-empty Error, or a malformed result (never a crash)
 */
#ifndef AOX_AOS_JSON_H
#define AOX_AOS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/error.h"
#include "core/message.h"

/* Everything the message JSON needs besides the message itself. */
typedef struct aos_json_ctx {
    const char *pid;            /* process ID */
    const char *module_id;      /* the process's `image` (may be "") */
    int64_t     timestamp;      /* ms, from the assignment */
    int64_t     block_height;
    const char *hash_chain;     /* may be NULL */
    const char *id;             /* the message's Id as assigned (the assignment's
                                   `message-id`; a dry run's own Id); NULL: its aox ID */
} aos_json_ctx;

/* Appends the message JSON (compact) to out. */
int aos_json_message(const aox_msg *msg, const aos_json_ctx *ctx, aox_buf *out, aox_err *err);

/* Appends the env JSON. module_tags_json is a JSON array of {name, value} (may be
 * NULL or empty: then Module.Tags is []). */
int aos_json_env(const aox_msg *process_def, const aos_json_ctx *ctx,
                 const char *module_tags_json, size_t module_tags_len,
                 aox_buf *out, aox_err *err);

/* Turns handle()'s returned text into the slot result (adds output, outbox, spawns,
 * assignments, or error). Returns AOX_OK whenever a result was produced — including
 * an error result for malformed text; AOX_E_NOMEM only on node memory failure. */
int aos_json_result(const char *text, size_t n, const aos_json_ctx *ctx, aox_msg *result);

/* Address of an owner value (see Owner above) into out (44 bytes); "" if none. */
void aos_json_owner_address(const aox_msg *msg, char out[AOX_ID_LEN + 1]);

/* Header case: "data-protocol" -> "Data-Protocol" (ASCII only). out gets cap bytes. */
void aos_json_header_case(const char *key, char *out, size_t cap);

/* Value of a module tag (case-insensitive name) from a tags JSON array; returns a
 * malloc'd string or NULL. */
char *aos_json_tag_value(const char *tags_json, size_t n, const char *name);

#endif
