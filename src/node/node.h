/*
 * node/node.h: the node's lifecycle — from an effective configuration
 * (node/options.h) to a serving node and back to a clean stop.
 *
 *   aox_node_start:  register devices -> open the store (LMDB under --data unless
 *                    --store says otherwise) -> open the process manager -> start
 *                    the workers (node/workers.h) -> start HTTP
 *   aox_node_run_until_signal: blocks SIGINT, SIGTERM, SIGUSR1 (in every thread
 *                    created after aox_node_block_signals) and waits:
 *                      SIGUSR1          snapshot all live states, keep serving
 *                      SIGINT, SIGTERM  return (the caller then stops the node)
 *   aox_node_stop:   stop HTTP (in-flight requests finish) -> stop the workers ->
 *                    snapshot all live
 *                    states -> close the process manager -> close the store
 *
 * The node does not own the configuration: it must outlive the node.
 */
#ifndef AOX_NODE_NODE_H
#define AOX_NODE_NODE_H

#include <jansson.h>
#include <stdint.h>
#include "core/error.h"
#include "node/options.h"

typedef struct aox_node aox_node;
typedef struct aox_procs aox_procs;
typedef struct aox_workers aox_workers;

/* The project version, from CMake's project(VERSION) (node/CMakeLists.txt). */
#ifndef AOX_VERSION_STRING
#define AOX_VERSION_STRING "0.0.0-unknown"
#endif

/* Registers every execution device the node offers (built-ins, then Lua, WASM...
 * when they are built). Idempotent: later calls do nothing. */
int aox_node_register_devices(aox_err *err);

/* Blocks the signals the node handles in the calling thread; call before starting
 * any thread (aox_node_start does it too) so that only sigwait sees them. */
void aox_node_block_signals(void);

int  aox_node_start(const aox_node_config *cfg, aox_node **out, aox_err *err);
/* Port actually listened on (differs from the option when it was 0). */
uint16_t   aox_node_port(const aox_node *n);
aox_procs *aox_node_procs(aox_node *n);
aox_workers *aox_node_workers(aox_node *n);   /* node/workers.h */
/* Waits for SIGINT/SIGTERM, serving SIGUSR1 meanwhile. Returns the signal. */
int  aox_node_run_until_signal(aox_node *n);
void aox_node_stop(aox_node *n);           /* NULL-safe */

/* The /~meta@1.0/info object: version, devices, store backend, options
 * (effective values with their sources). New reference or NULL on OOM. */
json_t *aox_node_info(aox_node *n);

#endif
