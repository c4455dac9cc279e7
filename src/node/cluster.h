/*
 * node/cluster.h: the node-level HTTP routes of issue 6, served through the
 * dispatcher's pre-routing hook (aox_http_ctx.pre):
 *
 *   POST /~delegate@1.0/compute   peer side of delegated compute (node/delegate.h)
 *   GET  /~name/NAME              {"name","process"} (spawns a configured one on first use)
 *   POST /~name/NAME              body {"definition":{...},"token":"<operator token>"}
 *                                 sets NAME -> {"name","process"}
 *   *    /~name/NAME/REST         the route /<pid>/REST of NAME's process
 *
 * With sign_results, answers of GET /<pid>/compute, /now, /result/<id> (also via
 * /~name/) and POST /<pid>/schedule are signed by the node (node-key and
 * node-signature entries over the message, core/identity.h).
 *
 * Cluster mode (on when the store backend is "redis"): each process is owned by one
 * node at a time through the store lease "proc/<pid>" (owner = the node's URL, TTL
 * --lease-ttl, renewed every third of it by a thread; a lease found lost is dropped).
 * A request for /<pid>/... (and POST /spawn, by the definition's ID) on a node that
 * does not own the process acquires the lease when it is free, else is forwarded to
 * the owner's URL (query `aox-fwd=1`; a forwarded request reaching a non-owner is
 * answered 503 whose error object names the owner, `owner`). The owner's answer
 * goes back as it is (status, body, content type, Retry-After, X-Aox-Compute), a
 * busy owner's 503 included; only the not-owner 503 and a transport failure are
 * retried. The legacy ao routes (http/legacy.c) are routed the same way through
 * aox_http_ctx.owner (installed by aox_cluster_http in cluster mode). When the owner
 * does not answer, the node retries until the lease
 * expires (at most TTL + 3 s) and then takes the process over from the shared store.
 * Fenced: assignment commits of the process layer carry the lease token
 * (aox_procs_set_fence -> aox_batch_fence), so a node that lost a lease cannot
 * write assignments. Node processes: a spawn claims the lease first; /~name/NAME/REST
 * is routed to the owner like /<pid>/REST.
 */
#ifndef AOX_NODE_CLUSTER_H
#define AOX_NODE_CLUSTER_H

#include "core/error.h"
#include "http/dispatch.h"

typedef struct aox_names aox_names;
typedef struct aox_identity aox_identity;

typedef struct aox_cluster_routes {
    aox_names          *names;          /* may be NULL: /~name/ answers 404 */
    const aox_identity *identity;       /* may be NULL: no signing */
    int                 sign_results;   /* 1: sign result and assignment answers */
    struct aox_cluster *cluster;        /* cluster mode; may be NULL */
} aox_cluster_routes;

/* The node's issue-6 services, opened by node.c after the process manager:
 * identity (DATA/node-key.pem, created on first start), the names table
 * ([processes.*] of the config file, DATA/operator-token), the delegation
 * configuration (--peers, --delegate-timeout, --test-forge-results, which is refused
 * with AOX_E_CONFIG unless the environment has AOX_TEST_HOOKS=1). */
typedef struct aox_cluster aox_cluster;
struct aox_node_config;
int  aox_cluster_open(const struct aox_node_config *cfg, aox_procs *procs, aox_cluster **out,
                      aox_err *err);
/* Points ctx's pre-routing hook at this node's routes. */
void aox_cluster_http(aox_cluster *c, aox_http_ctx *ctx);
/* Called once the server listens: this node's URL (--advertise, else
 * http://BIND:PORT) and, in cluster mode, the lease renewer start. */
void aox_cluster_serving(aox_cluster *c, const char *bind, unsigned port);
const char *aox_cluster_address(const aox_cluster *c);   /* node address, 43 chars */
void aox_cluster_close(aox_cluster *c);                  /* NULL-safe */

/* The hook (aox_http_ctx.pre with pre_ud = an aox_cluster_routes that outlives the
 * server). */
int aox_cluster_pre_route(void *ud, const aox_http_ctx *ctx, const aox_http_request *req,
                          aox_http_response *resp, int *rc);

#endif
