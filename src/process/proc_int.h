/*
 * process/proc_int.h: private to src/process/. The manager, its per-process entries
 * and the helpers shared by sched.c, compute.c and cache.c.
 *
 * Locks (always taken in this order, never the reverse):
 *
 *   entry->sched_mu   scheduling of one process (slot counter, hash chain)
 *   entry->state_mu   the live device state of one process and computing on it
 *   procs->mu         the entry table, reference counts, LRU of live states (leaf lock:
 *                     held briefly, never while waiting for another lock)
 *
 * Scheduling and computing use different locks so that a long compute does not hold
 * up new assignments; both are serialised per process.
 */
#ifndef AOX_PROCESS_PROC_INT_H
#define AOX_PROCESS_PROC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include "process/process.h"
#include "store/store.h"

#define PROC_BUCKETS 1024

/* A device state and where it stands. */
typedef struct proc_run {
    void    *state;            /* device state; NULL = none */
    uint64_t at_slot;          /* slots 0..at_slot applied */
    uint64_t snap_slot;        /* slot of the snapshot `base` holds (valid if base.len) */
    aox_buf  base;             /* manifest this state was last written to / restored from */
} proc_run;

/* Group commit (commit.c): assignments from concurrent schedules (of any processes,
 * and several of one process) are added to one forming store batch and committed
 * together; nobody is answered before the batch holding its assignment is durable. */
typedef struct proc_group {
    aox_batch *b;              /* the puts of every member, in join order */
    int        members;
    int        refs;           /* gc_mu: waiters holding the group */
    int        done;           /* gc_mu: committed (or failed) */
    int        rc;             /* outcome, valid when done */
    int        build_rc;       /* a member's put failed, or poisoned: never commit */
    aox_err    err;
    char       pid[AOX_ID_LEN + 1];   /* with opts.fence: the one process it carries */
} proc_group;

/* A schedule or spawn waiting for its group (lives on the waiting thread's stack),
 * listed so that a concurrent duplicate of the same message waits for the same
 * commit instead of taking a second slot. */
typedef struct proc_pending {
    char                 id[AOX_ID_LEN + 1];   /* message ID (spawn: the pid) */
    uint64_t             slot;
    proc_group          *g;
    struct proc_pending *next;
} proc_pending;

/* What a process is doing, for GET /<pid>/status and `aox top` (activity.c).
 * Counters are lock-free; the last error is under err_mu (a leaf lock). */
enum { PROC_STAGE_IDLE, PROC_STAGE_LOAD, PROC_STAGE_EXECUTE, PROC_STAGE_ENCODE,
       PROC_STAGE_STORE, PROC_STAGE_SNAPSHOT, PROC_STAGE__COUNT };
typedef struct proc_act {
    atomic_int           busy;         /* a compute holds state_mu */
    atomic_int           stage;        /* PROC_STAGE_* the compute in progress is in */
    atomic_uint_fast64_t target;       /* slot it aims at (valid while busy) */
    atomic_uint_fast64_t waiting;      /* callers waiting for state_mu */
    atomic_uint_fast64_t computes, slots, compute_us, memory;
    pthread_mutex_t      err_mu;
    int                  last_code, last_node;
    uint64_t             last_slot;
    char                 last_msg[160];
} proc_act;

typedef struct proc_entry {
    char                  pid[AOX_ID_LEN + 1];
    aox_msg              *def;          /* immutable once loaded */
    const aox_device_ops *ops;
    aox_limits            limits;       /* def's limits capped by the node maxima */
    pthread_mutex_t       sched_mu;
    pthread_mutex_t       state_mu;
    /* sched_mu: cached tail of the schedule (valid when chain_ok) */
    int                   chain_ok;
    uint64_t              next_slot;
    uint8_t               chain[32];
    int64_t               last_ts;
    uint64_t              tail_epoch;   /* procs->gc_epoch the tail was built on */
    proc_pending         *pending;      /* schedules waiting for their group commit */
    /* state_mu */
    proc_run              live;
    uint64_t              crash_slot;   /* slot whose compute last lost its worker */
    unsigned              crash_count;  /* consecutive AOX_E_CRASHED there (0: none) */
    /* procs->mu */
    int                   refs;
    int                   in_lru;
    struct proc_entry    *lru_prev, *lru_next;   /* head = most recently used */
    struct proc_entry    *hnext;
    proc_act              act;          /* activity.c */
} proc_entry;

/* A running device call under the wall-clock watchdog (lives on the caller's stack). */
typedef struct proc_watch {
    atomic_int         flag;        /* call->interrupt: set to 1 at the deadline */
    int64_t            deadline;    /* CLOCK_MONOTONIC ms */
    int                listed;
    struct proc_watch *prev, *next;
} proc_watch;

struct aox_procs {
    aox_store       *store;
    aox_procs_opts   opts;          /* with defaults filled in */
    pthread_mutex_t  mu;
    pthread_mutex_t  spawn_mu;
    proc_entry      *buckets[PROC_BUCKETS];
    proc_entry      *lru_head, *lru_tail;
    uint64_t         live_count;
    uint64_t         nentries;              /* mu */
    /* wall-clock watchdog (started on first use, only when some wall_ms > 0) */
    pthread_mutex_t  watch_mu;
    pthread_cond_t   watch_cv;
    pthread_t        watch_thread;
    int              watch_started, watch_stop;
    proc_watch      *watch_head;
    /* group commit of assignments (commit.c) */
    pthread_mutex_t  gc_mu;
    pthread_cond_t   gc_cv;
    proc_group      *gc_forming;            /* gc_mu: the group accepting members */
    int              gc_busy;               /* gc_mu: a commit is in flight */
    atomic_uint_fast64_t gc_epoch;          /* bumped (under gc_mu) by a failed commit */
    proc_pending    *spawn_pending;         /* spawn_mu: spawns awaiting their commit */
    /* counters for aox_procs_stats_get */
    atomic_uint_fast64_t n_assign, n_computed, n_hits, n_guest, n_faults, n_snaps,
                         n_snap_bytes, n_evict, n_groups, n_limit_result,
                         n_limit_message, n_timeouts, n_crashes, n_crash_retries;
};

/* procs.c: entries */
int  proc_entry_get(aox_procs *p, const char *pid, proc_entry **out, aox_err *err);
void proc_entry_put(aox_procs *p, proc_entry *e);
/* Called under e->state_mu after e->live.state changed (set or dropped). */
void proc_lru_touch(aox_procs *p, proc_entry *e);
/* Evicts least recently used live states beyond live_states_max (not `keep`). */
void proc_lru_evict(aox_procs *p, proc_entry *keep);
void proc_run_clear(proc_entry *e, proc_run *r);
/* Effective limits of a definition. */
void proc_limits_of(const aox_procs *p, const aox_msg *def, aox_limits *out);

/* Arms w (flag cleared) for a call limited to wall_ms (0 = no limit: never fires). */
void proc_watch_begin(aox_procs *p, proc_watch *w, uint64_t wall_ms);
void proc_watch_end(aox_procs *p, proc_watch *w);

/* cache.c: keys, results, snapshots */
int  proc_key_prefix(aox_buf *k, const char *pid, const char *what);   /* ".../what/" */
int  proc_get_u64(aox_store *s, const aox_buf *k, uint64_t *v);
int  proc_result_get(aox_procs *p, const char *pid, uint64_t slot, aox_msg **out);
/* Highest slot <= bound with a cached result. AOX_E_NOT_FOUND if none. */
int  proc_result_latest(aox_procs *p, const char *pid, uint64_t bound, uint64_t *slot);
int  proc_result_put(aox_batch *b, const char *pid, uint64_t slot, const aox_buf *enc);
/* Nearest snapshot manifest at a slot <= bound. AOX_E_NOT_FOUND if none. */
int  proc_snap_find(aox_procs *p, const char *pid, uint64_t bound, uint64_t *slot,
                    aox_buf *manifest);
/* Snapshots r->state into a manifest (pages committed already). */
int  proc_snap_take(aox_procs *p, proc_entry *e, proc_run *r, aox_buf *manifest,
                    aox_err *err);
#define PROC_COUNT(p, field, n) atomic_fetch_add_explicit(&(p)->field, (n), memory_order_relaxed)
/* Snapshots r at r->at_slot and commits the manifest on its own; updates r's base. */
int  proc_snap_commit(aox_procs *p, proc_entry *e, proc_run *r, aox_err *err);

/* commit.c: group commit. proc_gc_join returns the forming group and its batch
 * with gc_mu held (the caller adds its puts, then calls proc_gc_joined, which
 * takes a reference for the caller and releases gc_mu). `epoch` is the gc_epoch
 * the caller's schedule tail was built on: if a commit failed since, the join is
 * refused (AOX_E_CONFLICT) because the tail may name uncommitted slots; pass
 * PROC_GC_ANY_EPOCH when nothing depends on earlier commits (spawn).
 * proc_gc_wait waits until g is durable (committing it itself when no commit is in
 * flight), drops the reference and returns the group's outcome. */
#define PROC_GC_ANY_EPOCH UINT64_MAX
int  proc_gc_join(aox_procs *p, uint64_t epoch, const char *pid, proc_group **g,
                  aox_err *err);
void proc_gc_joined(aox_procs *p, proc_group *g, int put_rc);
void proc_gc_ref(aox_procs *p, proc_group *g);
int  proc_gc_wait(aox_procs *p, proc_group *g, aox_err *err);
void proc_gc_init(aox_procs *p);
void proc_gc_destroy(aox_procs *p);

/* activity.c: stage timing (histogram aox_slot_stage_seconds{stage}) and status.
 * proc_stage_begin marks e as in `stage` and returns a start time for
 * proc_stage_end, which records the latency. proc_act_error records the latest
 * node fault (node = 1) or guest error of e. */
void     proc_act_init(proc_entry *e);
void     proc_act_destroy(proc_entry *e);
uint64_t proc_stage_begin(proc_entry *e, int stage);
void     proc_stage_end(int stage, uint64_t t0);
void     proc_act_error(proc_entry *e, int code, int node, uint64_t slot, const char *msg);
/* A computed result: counts the slot, its `gas` (fuel) and guest-error limit hits. */
void     proc_act_result(proc_entry *e, uint64_t slot, const aox_msg *res);

/* sched.c */
int  proc_current_slot(aox_procs *p, const char *pid, uint64_t *slot, aox_err *err);
int  proc_assignment_get(aox_procs *p, const char *pid, uint64_t slot, aox_msg **out,
                         aox_err *err);

#endif
