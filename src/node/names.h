/*
 * node/names.h: node processes (node-process@1.0, issue 6). Names map to process
 * IDs through store records, so a process is reachable as /~name/NAME/... as well
 * as /<pid>/....
 *
 *   record    key "name/<NAME>" -> JSON {"name","process","source":"config"|"api"}
 *             written with aox_store_cas (absent -> record, or old -> new), so among
 *             concurrent first uses exactly one writes it; the others read it.
 *   config    `[processes.NAME]` sections of the node's config file, each a
 *             definition: `definition = {JSON object}`, or one `key = value` line per
 *             entry (a value that parses as JSON — number, object, array, quoted
 *             string — is taken as such, anything else as a string).
 *   delegate  names listed in opts.delegate (--delegate) are spawned with
 *             execution-device delegated@1.0 and delegate-device = their device.
 *   first use a configured name with no record is spawned on first resolve: the
 *             definition gets `node-process = NAME` and is signed by the node
 *             (node-key/node-signature, core/identity.h; unsigned without an
 *             identity), spawned (idempotent), then recorded. A record already in
 *             the store wins over the config file, so run-time changes survive a
 *             restart.
 *   run time  aox_names_register sets or changes a name; the HTTP route demands the
 *             operator token: 32 random bytes, base64url, in DATA/operator-token
 *             (mode 0600, created at start) — anyone who can read the node's data
 *             directory is the operator.
 *
 * Names: 1..64 characters of [a-z0-9._-]. Thread-safe.
 */
#ifndef AOX_NODE_NAMES_H
#define AOX_NODE_NAMES_H

#include "core/error.h"
#include "core/message.h"

typedef struct aox_names aox_names;
typedef struct aox_procs aox_procs;
typedef struct aox_identity aox_identity;

#define AOX_NAMES_TOKEN_FILE "operator-token"

typedef struct aox_names_opts {
    aox_procs          *procs;        /* required; outlives the table */
    const aox_identity *identity;     /* signs spawned definitions; may be NULL */
    const char         *config_path;  /* config file to read [processes.*] from; may be NULL */
    const char         *token_dir;    /* directory of operator-token (created if missing);
                                         NULL = run-time registration refused */
    int                 log_spawns;   /* 1: log {"event":"node-process-spawn"} per spawn */
    /* Cluster mode: called with the pid before a spawn; it takes ownership of the
     * process (node/cluster.c) or fails the spawn. NULL = none. */
    int               (*claim)(void *ud, const char *pid, aox_err *err);
    void               *claim_ud;
    const char         *delegate;     /* "NAME,NAME" (copied): these are spawned as
                                         delegated@1.0 with delegate-device = their
                                         device (node/delegate.h); NULL = none */
} aox_names_opts;

int  aox_names_open(const aox_names_opts *o, aox_names **out, aox_err *err);
void aox_names_close(aox_names *n);              /* NULL-safe */

int  aox_names_valid(const char *name);

/* The process of NAME, spawning a configured one on first use. AOX_E_NOT_FOUND for
 * a name neither recorded nor configured. */
int aox_names_resolve(aox_names *n, const char *name, char pid[AOX_ID_LEN + 1], aox_err *err);

/* Sets NAME to a new process spawned from def (signed like a configured one).
 * token must equal the operator token (AOX_E_FORBIDDEN otherwise). */
int aox_names_register(aox_names *n, const char *name, const aox_msg *def, const char *token,
                       char pid[AOX_ID_LEN + 1], aox_err *err);

/* Spawns done by this table (tests: first use spawns once). */
unsigned long aox_names_spawns(const aox_names *n);

#endif
