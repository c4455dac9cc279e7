/*
 * device/device.h: the execution-device interface (DESIGN.md §2).
 *
 * A device is a vtable (aox_device_ops) registered by name ("name@version"). The
 * process layer owns one device state per live process and calls:
 *
 *   init(env, def)                 -> state          (state for "before slot 1", or,
 *                                                      when boot(def), before slot 0)
 *   compute(state, call, result)   -> fills result   (applies one assignment)
 *   snapshot(state, writer)        -> meta + pages   (restorable image)
 *   restore(env, def, reader)      -> state
 *   free(state)
 *
 * Contracts every device keeps:
 *   - Determinism: the result bytes and the state after compute depend only on the
 *     definition, the state before, and the call (assignment). No host clock or
 *     randomness; time/seeds come from the call.
 *   - Return codes: compute returns AOX_OK whenever it produced a *result*, including
 *     a guest failure. A guest failure (trap, script error, out of fuel, out of memory,
 *     limit) is reported by setting the result's `error` entry (aox_result_set_error)
 *     and the device MUST leave the state exactly as it was before the call
 *     (rollback). A non-OK return code means a node fault (I/O, node OOM, bug): the
 *     process layer does not cache anything and reports the fault; the state is then
 *     considered lost and will be rebuilt from a snapshot.
 *   - snapshot() does not change the state's observable behaviour; restore() of a
 *     snapshot gives a state that computes identically to the one snapshotted.
 *
 * Result message keys (all optional except as noted):
 *   output       any value: what the guest printed/returned
 *   outbox       list of messages to send (each with at least `target`)
 *   spawns       list of process definitions to spawn
 *   assignments  list of assignment requests
 *   error        message {code: "<aox code name>", message: "..."} — the guest failed
 *   gas          int: fuel/gas used by this slot (set by the device)
 * The process layer adds `slot`, `process` and `state-digest` (when the device
 * implements `digest`).
 */
#ifndef AOX_DEVICE_DEVICE_H
#define AOX_DEVICE_DEVICE_H

#include <stdatomic.h>
#include <stdint.h>
#include "core/error.h"
#include "core/message.h"
#include "device/snapshot.h"

typedef struct aox_store aox_store;

/* Limits for one process, already capped by the node maxima. 0 = no limit. */
typedef struct aox_limits {
    uint64_t fuel_per_message;    /* device-defined units (instructions, Lua count) */
    uint64_t memory_bytes;        /* guest memory */
    uint64_t wall_ms;             /* per message; enforced through call->interrupt */
    uint64_t result_bytes;        /* encoded result incl. outbox */
    uint64_t message_bytes;       /* incoming message size */
} aox_limits;

/* Host services for init/restore. Valid for the duration of the call only, except
 * `store`, which outlives every device state. */
typedef struct aox_device_env {
    const char       *pid;        /* process ID, 43 chars */
    aox_store        *store;      /* to read modules (module/<id>), pages, data items */
    const aox_limits *limits;
} aox_device_env;

typedef struct aox_stack_frame aox_stack_frame;

/* One call to compute. Everything is read-only and valid for the duration of the call. */
typedef struct aox_call {
    const char       *pid;
    const aox_msg    *process;    /* the definition (slot 0's message) */
    const aox_msg    *assignment; /* process, slot, timestamp, block-height, hash-chain, body */
    const aox_msg    *message;    /* the assignment's body */
    uint64_t          slot;
    int64_t           timestamp;  /* ms since epoch, from the assignment */
    int64_t           block_height;
    const aox_limits *limits;
    atomic_int       *interrupt;  /* set non-zero by the host to stop (wall clock); may be NULL */
    int               dry_run;    /* 1: result only; the device must not keep state changes */
    /* stack context (NULL outside a stack): lets stacked devices find each other */
    const aox_stack_frame *stack;
    int               pass;       /* 0-based pass number within a stack */
} aox_call;

/* Fills *call for slot `slot` of process pid (definition def): zeroes it, then sets
 * the assignment, its message (body), the assignment's timestamp and block-height
 * (0 when absent) and limits. Callers set interrupt, dry_run and stack themselves.
 * Every pointer must outlive the call. */
void aox_call_init(aox_call *call, const char *pid, const aox_msg *def,
                   const aox_msg *assignment, const aox_msg *body, uint64_t slot,
                   const aox_limits *limits);

typedef struct aox_device_ops {
    const char *name;             /* "name@version", e.g. "lua@5.3" */
    int  (*init)(const aox_device_env *env, const aox_msg *def, void **state, aox_err *err);
    int  (*compute)(void *state, const aox_call *call, aox_msg *result, aox_err *err);
    int  (*snapshot)(void *state, aox_snap_writer *w, aox_err *err);
    int  (*restore)(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                    void **state, aox_err *err);
    void (*free)(void *state);
    /* Optional (may be NULL): */
    /* bytes of memory the state holds (for the node's memory budget) */
    uint64_t (*memory)(void *state);
    /* a SHA-256 digest of the state, recorded in results as `state-digest` */
    int  (*digest)(void *state, uint8_t out[32]);
    /* Boot: nonzero when, for this definition, the process message itself (slot 0's
     * body, the definition) is computed at slot 0 like any other message (aos
     * processes: the legacy CU and HyperBEAM evaluate the spawn message first). Pure
     * function of the definition; runs no device code. NULL or 0: slot 0 is init only.
     * When set, the process layer calls compute(state, call) right after init, with
     * call->slot = 0 and the slot-0 assignment, and caches that result as slot 0's
     * (a guest failure there is cached and the state is init's); the state "at slot
     * 0" is then the state after that call, wherever init runs (added with issue 7). */
    int  (*boot)(const aox_msg *def);
} aox_device_ops;

/* Registry: process-wide, name -> ops. Register at start-up, before serving.
 * AOX_E_CONFLICT if the name is taken. The ops must outlive the registry. */
int  aox_device_register(const aox_device_ops *ops);
const aox_device_ops *aox_device_find(const char *name);
/* Replaces the ops registered under ops->name (device/isolate.c swaps in its proxies
 * before serving). AOX_E_NOT_FOUND if no device has that name. */
int  aox_device_replace(const aox_device_ops *ops);
/* Names of all registered devices in sorted order; count returned. */
size_t aox_device_list(const char **names, size_t max);
/* Registers the built-in devices of this folder (stack@1.0, test-counter@1.0). */
int  aox_device_register_builtin(void);

/* The device named by a process definition: `execution-device`, else `device`. */
const char *aox_device_name_of(const aox_msg *def);
/* Checks that the device a definition names is registered (for stack@1.0: every
 * device in its `device-stack`, and `passes` in 1..16). AOX_E_INVALID naming the
 * device otherwise. Cheap: runs no device code. (Added by the process layer.) */
int aox_device_check(const aox_msg *def, aox_err *err);

/* Result helpers */
int aox_result_set_error(aox_msg *result, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True when the result carries an `error` entry. */
int aox_result_is_error(const aox_msg *result);
/* For a device that cannot undo partial changes of a failed call (stack@1.0 when a
 * later member fails after earlier ones changed their state): after setting the
 * error, mark the result so the process layer does not trust the state — it rebuilds
 * the state before this slot from a snapshot and replay (failed slots are skipped on
 * replay) and stores the result without the marker. (Added with the process layer.) */
#define AOX_RESULT_STATE_LOST "aox-state-lost"
int aox_result_mark_state_lost(aox_msg *result);

/* Stack device (stack@1.0): the definition lists devices in `device-stack`
 * (a list of names) and optionally `passes` (int, default 1). Each compute runs
 * every device's compute in order, `passes` times, all filling the same result
 * message. A device in a stack can reach a sibling's state through the frame: */
void *aox_stack_sibling(const aox_call *call, const char *device_name);

#endif
