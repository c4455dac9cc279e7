/*
 * process/process.h: processes on one node — the scheduler, the compute loop and
 * the cache of results and snapshots (DESIGN.md §3, §4).
 *
 * An aox_procs is the process manager over one store. It is thread-safe: calls for
 * different processes run in parallel; calls for the same process are serialised by
 * that process's lock (the node/ worker layer builds queues and deadlines on top).
 *
 * Durability: aox_proc_spawn and aox_proc_schedule return only after the assignment
 * and the slot counter are committed in one store transaction. Concurrent spawns and
 * schedules (of any processes, and several of one process) share that transaction
 * (group commit, process/commit.c): one fsync carries all that arrived while the
 * previous commit ran, and each caller returns only once its own is durable. A result is committed
 * (with the snapshot manifest, when one is due) before aox_proc_compute returns it.
 *
 * Returned messages are owned by the caller (aox_msg_free).
 */
#ifndef AOX_PROCESS_PROCESS_H
#define AOX_PROCESS_PROCESS_H

#include <stdint.h>
#include "core/error.h"
#include "core/message.h"
#include "device/device.h"

typedef struct aox_store aox_store;
typedef struct aox_batch aox_batch;
typedef struct aox_procs aox_procs;

typedef struct aox_procs_opts {
    aox_store *store;              /* required; must outlive the manager */
    uint64_t   snapshot_every;     /* K: snapshot after every K computed slots (0 = 64) */
    /* Node clock for assignment timestamps, in ms since the epoch. NULL = real
     * time (CLOCK_REALTIME). Tests inject a fixed clock. Only the scheduler reads it;
     * the value is recorded in the assignment, so compute never sees the host clock. */
    int64_t  (*clock_ms)(void *ud);
    void      *clock_ud;
    int64_t    block_height;       /* recorded in every assignment (default 0) */
    aox_limits max_limits;         /* node maxima; 0 = unlimited */
    uint64_t   live_states_max;    /* how many device states to keep hot (0 = 1024) */
    /* Cluster mode (node/cluster.c; added with issue 6): called with the batch of a
     * new assignment group for process pid; it fences the batch with the node's
     * lease (aox_batch_fence) or returns an error (the schedule/spawn fails with it).
     * When set, a group commit carries the assignments of one process only. NULL =
     * no fencing, groups mix processes. */
    int      (*fence)(void *ud, const char *pid, aox_batch *b, aox_err *err);
    void      *fence_ud;
} aox_procs_opts;

int  aox_procs_open(const aox_procs_opts *opts, aox_procs **out, aox_err *err);
/* Drops the cached schedule tail of pid (if loaded), so the next schedule reads it
 * from the store: for cluster mode, when this node (re)gains a process that another
 * node may have appended to meanwhile. */
void aox_proc_forget_tail(aox_procs *p, const char *pid);
/* Sets opts.fence/fence_ud after open; only before the manager is used (start-up). */
void aox_procs_set_fence(aox_procs *p,
                         int (*fence)(void *ud, const char *pid, aox_batch *b, aox_err *err),
                         void *ud);
/* Snapshots every live state that is ahead of its last snapshot, then frees all. */
void aox_procs_close(aox_procs *p);
/* Snapshots every live state that is ahead of its last snapshot (clean shutdown,
 * SIGUSR1). Returns the number written, or a negative aox code. */
int  aox_procs_snapshot_all(aox_procs *p, aox_err *err);
aox_store *aox_procs_store(aox_procs *p);

/* Counters since open, for /metrics and logs (added with the process layer). */
typedef struct aox_procs_stats {
    uint64_t processes;            /* process entries loaded in this manager */
    uint64_t live_states;          /* device states held hot now */
    uint64_t assignments;          /* assignments committed (spawn + schedule) */
    uint64_t slots_computed;       /* device compute calls that produced a result */
    uint64_t cache_hits;           /* compute calls answered from the result cache */
    uint64_t guest_errors;         /* computed results carrying an `error` */
    uint64_t node_faults;          /* device compute/init failures (never cached) */
    uint64_t snapshots;            /* snapshot manifests committed */
    uint64_t snapshot_page_bytes;  /* page bytes newly written by snapshots */
    uint64_t evictions;            /* live states dropped by the LRU bound (and by
                                      aox_proc_evict) */
    /* Added with the worker layer (node/workers.h): */
    uint64_t group_commits;        /* store commits carrying assignments (several
                                      schedules share one: assignments/group_commits) */
    uint64_t limit_result_bytes;   /* results replaced by a limit_exceeded error */
    uint64_t limit_message_bytes;  /* schedules refused: message over the limit */
    uint64_t wall_timeouts;        /* device calls stopped at the wall-clock limit */
    /* Added with the isolation retry (AOX_E_CRASHED, see aox_proc_compute): */
    uint64_t worker_crashes;       /* compute attempts that lost their device worker */
    uint64_t worker_crash_retries; /* of those, retried at once from the last snapshot */
} aox_procs_stats;
void aox_procs_stats_get(aox_procs *p, aox_procs_stats *out);

/* Live-state control for the node's worker layer (added with node/workers.h).
 *
 * aox_proc_evict: snapshots the live state of pid if it is ahead of its last
 * snapshot, then frees it. Waits for a compute in progress on pid. *freed (may be
 * NULL) is 1 when a live state was dropped. AOX_E_NOT_FOUND for an unknown pid; a
 * snapshot failure still drops the state (it is rebuilt from the schedule) and
 * returns the error.
 * aox_proc_live_info: where pid's live state stands, without waiting for a compute
 * in progress (AOX_E_BUSY if one holds the state). */
typedef struct aox_proc_live {
    int      live;             /* 1: a device state is held in memory */
    uint64_t at_slot;          /* slots 0..at_slot applied (valid if live) */
    uint64_t memory_bytes;     /* device `memory` op; 0 if the device has none */
} aox_proc_live;
int aox_proc_evict(aox_procs *p, const char *pid, int *freed, aox_err *err);
/* aox_proc_snapshot: snapshots the live state of pid if it is ahead of its last
 * snapshot and keeps it live (the per-process aox_procs_snapshot_all). Waits for a
 * compute in progress on pid. *written (may be NULL) is 1 when a manifest was
 * committed. AOX_E_NOT_FOUND for an unknown pid; a failed snapshot drops the state
 * (its page bookkeeping no longer matches a base) and returns the error; a state the
 * device cannot snapshot now (AOX_E_UNSUPPORTED) is kept. (Added with issue 7.) */
int aox_proc_snapshot(aox_procs *p, const char *pid, int *written, aox_err *err);
int aox_proc_live_info(aox_procs *p, const char *pid, aox_proc_live *out, aox_err *err);

/* Activity of a process, for monitoring (GET /<pid>/status, `aox top`; added with
 * the monitoring layer, process/activity.c). A snapshot of counters that are updated
 * without locks: consistent enough to display, never used for results. */
typedef struct aox_proc_activity {
    char        pid[AOX_ID_LEN + 1];
    int         live;              /* 1: a device state is held (or a compute runs) */
    uint64_t    at_slot;           /* live state's slot (valid if live and not busy) */
    uint64_t    memory_bytes;      /* device `memory` op of the live state (last known
                                      while busy); 0 when none */
    int         busy;              /* 1: a compute holds the state now */
    const char *stage;             /* static: what the process is blocked on — "idle",
                                      "state-lock" (requests wait for a compute), or
                                      the compute's stage: "load", "execute",
                                      "encode", "store", "snapshot" */
    uint64_t    target_slot;       /* slot the compute in progress aims at (if busy) */
    uint64_t    waiting;           /* compute calls waiting for the state */
    uint64_t    computes;          /* compute calls that took the state (not cached) */
    uint64_t    slots_computed;    /* slots this manager computed for it */
    uint64_t    compute_us;        /* microseconds spent holding the state */
    int         last_error_code;   /* aox code of the latest error; 0 = none */
    int         last_error_node;   /* 1: node fault (not cached), 0: guest error */
    uint64_t    last_error_slot;
    char        last_error[160];
} aox_proc_activity;
int aox_proc_activity_get(aox_procs *p, const char *pid, aox_proc_activity *out,
                          aox_err *err);
/* Calls fn for every process loaded in this manager (any order); fn returns non-zero
 * to stop. */
typedef int (*aox_proc_activity_fn)(void *ud, const aox_proc_activity *a);
int aox_procs_activity_list(aox_procs *p, aox_proc_activity_fn fn, void *ud, aox_err *err);

/* The cached result of slot N only: never computes and never waits for a lock.
 * AOX_E_NOT_FOUND when slot N has no result yet (*current, if non-NULL, is then the
 * highest assigned slot), AOX_E_NOT_YET when N is not assigned. */
int aox_proc_compute_cached(aox_procs *p, const char *pid, uint64_t slot,
                            aox_msg **result, uint64_t *current, aox_err *err);

/* Registers a process: validates the definition (its device must be registered),
 * stores it and assigns it slot 0 (the definition is slot 0's message). The pid is
 * the definition's ID. Spawning an existing pid is idempotent: returns 0 with the
 * existing slot-0 assignment. assignment may be NULL. */
int aox_proc_spawn(aox_procs *p, const aox_msg *def, char pid[AOX_ID_LEN + 1],
                   aox_msg **assignment, aox_err *err);

/* Assigns the next dense slot to msg: timestamp (node clock), block-height,
 * hash-chain = SHA-256(previous hash-chain || message ID) (slot 0: SHA-256 of the
 * pid's ID bytes || message ID). Scheduling a message whose ID is already assigned in
 * this process returns its existing assignment (idempotent).
 * AOX_E_NOT_FOUND for an unknown pid. */
int aox_proc_schedule(aox_procs *p, const char *pid, const aox_msg *msg,
                      aox_msg **assignment, aox_err *err);

/* What compute did, for tests, metrics and logs. */
typedef struct aox_compute_info {
    uint64_t current_slot;      /* highest assigned slot */
    int      cached;            /* 1: result came from the cache, nothing ran */
    int      started_from;      /* 0 live state, 1 snapshot, 2 init */
    uint64_t start_slot;        /* slot of the state computing started from */
    uint64_t slots_applied;     /* assignments applied by this call */
} aox_compute_info;

/* The result of slot N (DESIGN.md §3). AOX_E_NOT_YET when N is not assigned yet
 * (err names the current slot; info->current_slot has it). info may be NULL.
 * A device call that returns AOX_E_CRASHED (its isolated worker died) is retried at
 * once from the last snapshot, 3 attempts in all; then AOX_E_CRASHED, whose message
 * names the slot that kept losing its worker and how many times in a row (counted
 * across calls until that slot computes). Nothing is recorded for the slot. */
int aox_proc_compute(aox_procs *p, const char *pid, uint64_t slot,
                     aox_msg **result, aox_compute_info *info, aox_err *err);
/* The result at the highest assigned slot (computing up to it). */
int aox_proc_now(aox_procs *p, const char *pid, aox_msg **result,
                 aox_compute_info *info, aox_err *err);
/* The result for a message by its ID (computing up to its slot). */
int aox_proc_result_by_message(aox_procs *p, const char *pid, const char *msg_id,
                               aox_msg **result, uint64_t *slot, aox_err *err);

/* Dry run: the result `msg` would have if it were scheduled now (slot = current + 1,
 * no hash-chain), computed on the state at the current slot with call->dry_run = 1.
 * The timestamp and block-height are those of the latest assignment (slot current),
 * so a dry run is deterministic: the same state and message give the same result.
 * Nothing is scheduled, cached or kept; the result carries `process`, `slot` and
 * `dry-run: 1`. (Added with the process layer, for the legacy /dry-run route.) */
int aox_proc_dry_run(aox_procs *p, const char *pid, const aox_msg *msg,
                     aox_msg **result, aox_err *err);
/* Options of a dry run (added with issue 7). */
typedef struct aox_dry_run_opts {
    /* The message's ID as the device should see it (the assignment's `message-id`),
     * e.g. the Id a legacy client put in its dry-run body; any text up to 256 bytes.
     * NULL: the message's aox ID. */
    const char *message_id;
} aox_dry_run_opts;
/* aox_proc_dry_run with options (opts may be NULL). AOX_E_INVALID for a message_id
 * that is empty or longer than 256 bytes. */
int aox_proc_dry_run_ex(aox_procs *p, const char *pid, const aox_msg *msg,
                        const aox_dry_run_opts *opts, aox_msg **result, aox_err *err);

/* Reads */
int aox_proc_current_slot(aox_procs *p, const char *pid, uint64_t *slot, aox_err *err);
int aox_proc_definition(aox_procs *p, const char *pid, aox_msg **def, aox_err *err);
int aox_proc_assignment(aox_procs *p, const char *pid, uint64_t slot,
                        aox_msg **assignment, aox_err *err);
int aox_proc_slot_of_message(aox_procs *p, const char *pid, const char *msg_id,
                             uint64_t *slot, aox_err *err);
/* Assignments from..to inclusive (to clamped to the current slot), in order, calling
 * fn for each; fn returns non-zero to stop. */
typedef int (*aox_assign_fn)(void *ud, const aox_msg *assignment);
int aox_proc_assignments(aox_procs *p, const char *pid, uint64_t from, uint64_t to,
                         aox_assign_fn fn, void *ud, aox_err *err);
/* Highest slot with a cached result (the "latest"), without listing slots.
 * AOX_E_NOT_FOUND if nothing computed yet. */
int aox_proc_latest_result_slot(aox_procs *p, const char *pid, uint64_t *slot, aox_err *err);

/* Modules: content-addressed bytes (module/<id>, id = base64url SHA-256 of bytes). */
int aox_module_put(aox_store *s, const void *bytes, size_t len,
                   char id[AOX_ID_LEN + 1], aox_err *err);
int aox_module_get(aox_store *s, const char *id, aox_buf *out, aox_err *err);

#endif
