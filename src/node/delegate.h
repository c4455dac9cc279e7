/*
 * node/delegate.h: delegated compute (issue 6). A process whose definition names
 * `execution-device: delegated@1.0` is computed by peer nodes: this node schedules
 * and stores as usual, and the delegated@1.0 device forwards every slot to peers
 * over HTTP, verifies their node-signed answers and takes the result over.
 *
 * Definition entries read by delegated@1.0:
 *   delegate-device  (required) the device the peers run, e.g. "test-counter@1.0"
 *   verify           (int, default 1) k: a slot is accepted only when k distinct
 *                    peers return the same result and state digest
 *
 * Peer protocol (both ends in delegate.c):
 *
 *   POST /~delegate@1.0/compute   body (JSON message):
 *     process     pid (43 chars)          definition   the process definition
 *     base        slots the sender believes the peer already holds (highest slot)
 *     assignments list of assignments with slot > base, ascending, verbatim
 *     slot        the slot wanted (0 only when delegate-device boots for the definition
 *                 as the peers run it: then assignment 0 is sent with every request
 *                 from base 0, and the peer computes it on its init state; see
 *                 delegated@1.0's boot op in delegate.c and cluster.md)
 *     dry-run     (optional) an assignment for `slot` to run as a dry run on the state
 *                 after every assignment held (nothing cached, nothing kept); the
 *                 answer's state-digest = prev-state-digest = that state's digest
 *   200 answer (JSON message, node-signed: node-key + node-signature, core/identity.h):
 *     process, slot, result (the device's result), state-digest (43 chars, the state
 *     after the slot), prev-state-digest (before it; "" before slot 1)
 *   409 {"error":{...,"have":H}}  the peer holds up to slot H only (or base differs
 *     from what it holds): the sender resends from H.
 *
 * The peer imports assignments verbatim into an in-memory table (not its process
 * store), runs `delegate-device` from init over them (env pid = the delegator's
 * pid, no limits) and caches results per slot. The table is bounded: once it holds
 * more than peer_max assignments, after a request the least recently used processes
 * not in use are dropped (whole: state, assignments, answers) until it fits; a
 * delegator that asks again gets 409 "have": 0 and resends from slot 1, as after a
 * peer restart. One process needing more than peer_max is refused with 413
 * (AOX_E_TOO_LARGE) naming the cap. aox_delegate_peer_stats and the metrics
 * aox_delegate_peer_processes, aox_delegate_peer_assignments (gauges) and
 * aox_delegate_peer_evictions_total show it. The delegator checks: signature,
 * process and slot, prev-state-digest equal to the digest it accepted for the slot
 * before, presence of state-digest, and (verify = k) agreement of k peers. A peer
 * failing a check or the transport is skipped (logged) and the next peer is tried
 * after a backoff (50 ms doubling, capped at 1 s); when fewer than k peers answer
 * or answers disagree, compute fails with AOX_E_UPSTREAM naming the peers (a node
 * fault: nothing is cached, the next compute tries again).
 *
 * Global state: the device and the peer table are process-wide (devices are).
 * aox_delegate_configure must be called before serving; it may be called again
 * (tests). Thread-safe after configure.
 */
#ifndef AOX_NODE_DELEGATE_H
#define AOX_NODE_DELEGATE_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/error.h"
#include "device/device.h"

typedef struct aox_identity aox_identity;
typedef struct aox_store aox_store;

/* Test hook: what a peer does to its answers (refused by the node unless the
 * environment has AOX_TEST_HOOKS=1). */
typedef enum aox_delegate_forge {
    AOX_FORGE_OFF = 0,
    AOX_FORGE_LIE,       /* alters output and state digest, then signs: a valid
                            signature over a wrong result */
    AOX_FORGE_TAMPER     /* signs, then alters output: the signature fails */
} aox_delegate_forge;

typedef struct aox_delegate_opts {
    const char         *peers;       /* "URL,URL,..." (copied); NULL/"" = none */
    uint64_t            timeout_ms;  /* per peer request (0 = 10 s) */
    unsigned            attempts;    /* peer requests per slot at most (0 = 2 x peers) */
    const aox_identity *identity;    /* signs answers as a peer; NULL = cannot serve.
                                        Must outlive use (until the next configure) */
    aox_delegate_forge  forge;
    aox_store          *store;       /* passed to the peer-side device (modules); may
                                        be NULL; must outlive use */
    uint64_t            peer_max;    /* as a peer: imported assignments kept over all
                                        processes (0 = 100000), see below */
} aox_delegate_opts;

int  aox_delegate_configure(const aox_delegate_opts *o, aox_err *err);
/* Frees the peer table and the configuration (tests, node stop). */
void aox_delegate_shutdown(void);

/* The delegated@1.0 device (register with aox_device_register). */
const aox_device_ops *aox_delegate_device(void);

/* Peer side of POST /~delegate@1.0/compute: body is the request JSON. Fills
 * *status and out (JSON). Returns 0 when an answer (any status) was produced. */
int aox_delegate_serve(const uint8_t *body, size_t len, int *status, aox_buf *out);

/* Counters (process-wide): answers served as a peer, peer answers rejected by the
 * checks (bad signature, digest chain, disagreement) as a delegator. */
uint64_t aox_delegate_served(void);
uint64_t aox_delegate_rejected(void);
/* The peer table now: processes, imported assignments; processes dropped so far. */
void aox_delegate_peer_stats(uint64_t *processes, uint64_t *assignments,
                             uint64_t *evictions);

#endif
