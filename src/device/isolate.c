/*
 * device/isolate.c: process isolation of execution devices (isolate.h).
 *
 * Three roles in one file: the proxy device (node side), the zygote (forks workers
 * on request and hands their socket to the node with SCM_RIGHTS), and the worker
 * loop (runs the real device under rlimits and seccomp).
 *
 * Frame: u32 little-endian payload length, u8 type, payload. Node -> worker requests
 * are answered by one FR_R_OK / FR_R_ERR frame; while a request runs the worker may send
 * snapshot frames (FR_S_META, FR_S_PAGE, FR_S_KEEP -> FR_A_RC, FR_S_READ -> FR_A_PAGE).
 */
#include "device/isolate.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "device/device.h"
#include "store/store.h"

#if defined(__SANITIZE_ADDRESS__)
#define ISO_SECCOMP 0      /* ASan's runtime needs far more syscalls than the list */
#else
#define ISO_SECCOMP 1
#endif

#define FRAME_MAX (1u << 30)
#define PROXY_MAX 32
#define SPARE_MAX 64
/* The zygote refills spares once no request came for this long: a fork right after
 * handing out a spare competes for the CPU with that worker's start (measured: cold
 * start 2.3-2.7 ms with an immediate refill, 1.1-1.2 ms with this pause, 2 busy cores). */
#define REFILL_QUIET_MS 5

enum {
    FR_T_INIT = 1, FR_T_RESTORE, FR_T_COMPUTE, FR_T_SNAPSHOT,              /* node -> worker */
    FR_R_OK = 16, FR_R_ERR, FR_S_META, FR_S_PAGE, FR_S_KEEP, FR_S_READ,          /* worker -> node */
    FR_A_RC = 32, FR_A_PAGE                                          /* node -> worker */
};

static aox_isolate_opts g_opts;
static int      g_started, g_in_worker;
static int      g_zfd = -1;                   /* node's end of the zygote socket */
static pid_t    g_zpid;
static pthread_mutex_t g_zmu = PTHREAD_MUTEX_INITIALIZER;
static const aox_device_ops *g_real[PROXY_MAX];
static aox_device_ops g_proxy[PROXY_MAX];
static size_t   g_nproxy;

/* Written by the zygote only, read by the node (a shared anonymous mapping made
 * before the zygote is forked). */
typedef struct iso_shared {
    atomic_uint         spares;          /* idle pre-forked workers now */
    atomic_ullong       from_spare;      /* workers handed out from the spares */
    atomic_ullong       from_fork;       /* workers forked on request (no spare) */
} iso_shared;
static iso_shared *g_sh;

int aox_isolate_in_worker(void) { return g_in_worker; }
int aox_isolate_seccomp_enabled(void) { return ISO_SECCOMP; }

/* ------------------------------------------------------------------ frames */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);     /* a dead peer: EPIPE, no signal */
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return AOX_E_IO;
        c += w;
        n -= (size_t)w;
    }
    return AOX_OK;
}

/* interrupt (may be NULL): polled every 20 ms; when set, returns AOX_E_TIMEOUT. */
static int read_all(int fd, void *p, size_t n, atomic_int *interrupt)
{
    char *c = p;
    while (n) {
        ssize_t r;
        if (interrupt) {
            struct pollfd pf = { fd, POLLIN, 0 };
            int k = poll(&pf, 1, 20);
            if (k == 0) {
                if (atomic_load(interrupt)) return AOX_E_TIMEOUT;
                continue;
            }
            if (k < 0 && errno == EINTR) continue;
        }
        r = read(fd, c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return AOX_E_IO;
        c += r;
        n -= (size_t)r;
    }
    return AOX_OK;
}

static int send_frame(int fd, int type, const void *p, size_t n)
{
    uint8_t h[5];
    uint32_t len = (uint32_t)n;
    memcpy(h, &len, 4);               /* little-endian hosts only (x86-64, arm64) */
    h[4] = (uint8_t)type;
    if (write_all(fd, h, 5) != AOX_OK) return AOX_E_IO;
    return n ? write_all(fd, p, n) : AOX_OK;
}

static int recv_frame(int fd, int *type, aox_buf *out, atomic_int *interrupt)
{
    uint8_t h[5];
    uint32_t len;
    int rc = read_all(fd, h, 5, interrupt);
    if (rc) return rc;
    memcpy(&len, h, 4);
    *type = h[4];
    if (len > FRAME_MAX) return AOX_E_CORRUPT;
    aox_buf_reset(out);
    if (aox_buf_reserve(out, len) != 0) return AOX_E_NOMEM;
    rc = read_all(fd, out->data, len, NULL);
    if (rc == AOX_OK) out->len = len;
    return rc;
}

/* payload cursor */
typedef struct cur { const uint8_t *p, *end; } cur;

static int get_u64(cur *c, uint64_t *v)
{
    if ((size_t)(c->end - c->p) < 8) return AOX_E_CORRUPT;
    memcpy(v, c->p, 8);
    c->p += 8;
    return AOX_OK;
}

static int get_bytes(cur *c, const uint8_t **p, size_t *n)
{
    uint64_t len;
    if (get_u64(c, &len) || (uint64_t)(c->end - c->p) < len) return AOX_E_CORRUPT;
    *p = c->p;
    *n = (size_t)len;
    c->p += len;
    return AOX_OK;
}

static int put_u64(aox_buf *b, uint64_t v) { return aox_buf_append(b, &v, 8); }

static int put_bytes(aox_buf *b, const void *p, size_t n)
{
    int rc = put_u64(b, n);
    return rc ? rc : aox_buf_append(b, p, n);
}

static int put_msg(aox_buf *b, const aox_msg *m)
{
    aox_buf e = {0};
    int rc = aox_msg_encode(m, &e);
    if (!rc) rc = put_bytes(b, e.data, e.len);
    aox_buf_free(&e);
    return rc;
}

static int put_limits(aox_buf *b, const aox_limits *l)
{
    aox_limits z;
    if (!l) {
        memset(&z, 0, sizeof z);
        l = &z;
    }
    return put_u64(b, l->fuel_per_message) || put_u64(b, l->memory_bytes) ||
           put_u64(b, l->wall_ms) || put_u64(b, l->result_bytes) ||
           put_u64(b, l->message_bytes) ? AOX_E_NOMEM : AOX_OK;
}

static int get_limits(cur *c, aox_limits *l)
{
    return get_u64(c, &l->fuel_per_message) || get_u64(c, &l->memory_bytes) ||
           get_u64(c, &l->wall_ms) || get_u64(c, &l->result_bytes) ||
           get_u64(c, &l->message_bytes) ? AOX_E_CORRUPT : AOX_OK;
}

/* FR_R_ERR payload: u64 code, message text */
static int send_err(int fd, int code, const char *msg)
{
    aox_buf b = {0};
    int rc = put_u64(&b, (uint64_t)code);
    if (!rc) rc = aox_buf_append_str(&b, msg ? msg : "");
    if (!rc) rc = send_frame(fd, FR_R_ERR, b.data, b.len);
    aox_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------ worker */

typedef struct wstate {
    int                   fd;
    const aox_device_ops *ops;
    void                 *state;
    aox_msg              *def;
    char                  pid[AOX_ID_LEN + 1];
    aox_store            *store;
    aox_limits            limits;
} wstate;

static void set_rlimits(const aox_limits *l)
{
    struct rlimit r;
    uint64_t slack = g_opts.memory_slack ? g_opts.memory_slack : (256ull << 20);
#if !defined(__SANITIZE_ADDRESS__)
    if (l->memory_bytes) {
        r.rlim_cur = r.rlim_max = (rlim_t)(l->memory_bytes + slack);
        (void)setrlimit(RLIMIT_AS, &r);
    }
#else
    (void)l;
    (void)slack;
#endif
    if (g_opts.cpu_seconds) {
        r.rlim_cur = r.rlim_max = (rlim_t)g_opts.cpu_seconds;
        (void)setrlimit(RLIMIT_CPU, &r);
    }
    r.rlim_cur = r.rlim_max = 0;
    (void)setrlimit(RLIMIT_FSIZE, &r);
    (void)setrlimit(RLIMIT_CORE, &r);
    (void)setrlimit(RLIMIT_NOFILE, &r);     /* no new descriptors; open ones stay */
}

#if ISO_SECCOMP
/* Allow-list; anything else kills the worker (SIGSYS). The filter context, or NULL. */
static scmp_filter_ctx build_seccomp(int fd)
{
    static const int plain[] = {
        SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk),
        SCMP_SYS(madvise), SCMP_SYS(mprotect), SCMP_SYS(futex), SCMP_SYS(exit),
        SCMP_SYS(exit_group), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
        SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
        SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(tgkill), SCMP_SYS(poll),
        SCMP_SYS(getrandom), SCMP_SYS(pread64),
    };
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    int rc = ctx ? 0 : -1;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);
    /* first argument == the socket (stderr for write); spelled out rather than
     * SCMP_A0(), whose initialiser leaves datum_b to clang's missing-field warning */
    const struct scmp_arg_cmp on_fd = { .arg = 0, .op = SCMP_CMP_EQ,
                                        .datum_a = (scmp_datum_t)fd, .datum_b = 0 };
    const struct scmp_arg_cmp on_stderr = { .arg = 0, .op = SCMP_CMP_EQ,
                                            .datum_a = 2, .datum_b = 0 };
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, on_fd);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1, on_fd);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, on_stderr);
    /* Opening files is refused (EACCES), not fatal: libraries probe /dev/urandom
     * and the like at start-up and cope with a refusal. Everything else kills. */
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0);
    if (rc != 0 && ctx) {
        seccomp_release(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* The filter compiled ahead of the start frame (while a spare waits): the BPF
 * program libseccomp would generate in seccomp_load, exported once. Installing it is
 * then one prctl, with the same effect as seccomp_load under libseccomp's default
 * attributes (no-new-privs set, no TSYNC, no logging). */
static struct sock_fprog g_prog;
#endif

static void precompile_seccomp(int fd)
{
#if ISO_SECCOMP
    scmp_filter_ctx ctx = build_seccomp(fd);
    int mfd = ctx ? memfd_create("aox-seccomp", MFD_CLOEXEC) : -1;
    off_t n;
    if (mfd >= 0 && seccomp_export_bpf(ctx, mfd) == 0 && (n = lseek(mfd, 0, SEEK_END)) > 0 &&
        n % (off_t)sizeof(struct sock_filter) == 0 && n <= 65536) {
        struct sock_filter *f = malloc((size_t)n);
        if (f && pread(mfd, f, (size_t)n, 0) == (ssize_t)n) {
            g_prog.filter = f;
            g_prog.len = (unsigned short)(n / (off_t)sizeof(struct sock_filter));
        } else {
            free(f);
        }
    }
    if (mfd >= 0) close(mfd);
    if (ctx) seccomp_release(ctx);
#else
    (void)fd;
#endif
}

/* Installs the filter: the precompiled program when there is one, else built now. */
static int install_seccomp(int fd)
{
#if ISO_SECCOMP
    scmp_filter_ctx ctx;
    int rc;
    if (g_prog.filter) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
        return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &g_prog) != 0 ? -1 : 0;
    }
    ctx = build_seccomp(fd);
    if (!ctx) return -1;
    rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc;
#else
    (void)fd;
    return 0;
#endif
}

static void reply_ok_state(wstate *w, const aox_msg *res)
{
    aox_buf b = {0};
    uint8_t d[32];
    int has = w->ops->digest && w->state && w->ops->digest(w->state, d) == AOX_OK;
    int rc = put_u64(&b, w->ops->memory && w->state ? w->ops->memory(w->state) : 0);
    if (!rc) rc = put_u64(&b, (uint64_t)has);
    if (!rc) rc = aox_buf_append(&b, has ? d : (uint8_t[32]){0}, 32);
    if (!rc && res) rc = put_msg(&b, res);
    if (rc) (void)send_err(w->fd, AOX_E_NOMEM, "worker out of memory");
    else (void)send_frame(w->fd, FR_R_OK, b.data, b.len);
    aox_buf_free(&b);
}

/* snapshot forwarding, worker side */
static int fw_meta(void *ud, const void *p, size_t n)
{
    return send_frame(((wstate *)ud)->fd, FR_S_META, p, n);
}

static int fw_page(void *ud, uint64_t index, const void *p, size_t n)
{
    aox_buf b = {0};
    int rc = put_u64(&b, index);
    if (!rc) rc = aox_buf_append(&b, p, n);
    if (!rc) rc = send_frame(((wstate *)ud)->fd, FR_S_PAGE, b.data, b.len);
    aox_buf_free(&b);
    return rc;
}

static int fw_answer(wstate *w, int want, aox_buf *out)
{
    int type = 0;
    int rc = recv_frame(w->fd, &type, out, NULL);
    if (rc) return rc;
    return type == want && out->len >= 8 ? AOX_OK : AOX_E_CORRUPT;
}

static int fw_keep(void *ud, uint64_t index)
{
    wstate *w = ud;
    aox_buf b = {0};
    uint64_t code = AOX_E_IO;
    int rc = send_frame(w->fd, FR_S_KEEP, &index, 8);
    if (!rc) rc = fw_answer(w, FR_A_RC, &b);
    if (!rc) memcpy(&code, b.data, 8);
    aox_buf_free(&b);
    return rc ? rc : (int)code;
}

static int fw_read(void *ud, uint64_t index, aox_buf *out)
{
    wstate *w = ud;
    aox_buf b = {0};
    uint64_t code = AOX_E_IO;
    int rc = send_frame(w->fd, FR_S_READ, &index, 8);
    if (!rc) rc = fw_answer(w, FR_A_PAGE, &b);
    if (!rc) {
        memcpy(&code, b.data, 8);
        if (code == AOX_OK && aox_buf_append(out, b.data + 8, b.len - 8) != 0)
            code = AOX_E_NOMEM;
    }
    aox_buf_free(&b);
    return rc ? rc : (int)code;
}

/* FR_T_INIT / FR_T_RESTORE payload: pid bytes, def bytes, limits; restore adds meta bytes
 * and the page count. */
static int w_start(wstate *w, int restore, cur *c)
{
    const uint8_t *pp, *dp, *mp = NULL;
    size_t pn, dn, mn = 0;
    uint64_t pages = 0;
    aox_err err;
    aox_device_env env;
    int rc;

    aox_err_clear(&err);
    if (get_bytes(c, &pp, &pn) || pn != AOX_ID_LEN || get_bytes(c, &dp, &dn) ||
        get_limits(c, &w->limits) ||
        (restore && (get_bytes(c, &mp, &mn) || get_u64(c, &pages))))
        return send_err(w->fd, AOX_E_CORRUPT, "bad start frame");
    memcpy(w->pid, pp, AOX_ID_LEN);
    w->pid[AOX_ID_LEN] = '\0';
    rc = aox_msg_decode(dp, dn, &w->def, &err);
    if (rc) return send_err(w->fd, rc, err.msg);
    w->ops = aox_device_find(aox_device_name_of(w->def));
    if (!w->ops) return send_err(w->fd, AOX_E_CONFIG, "device not registered in worker");
    /* Sandbox before any device code runs (rlimits need the process's limits, and
     * setrlimit is not on the seccomp allow-list, so the filter comes last). */
    set_rlimits(&w->limits);
    if (install_seccomp(w->fd) != 0) _exit(4);
    env.pid = w->pid;
    env.store = w->store;
    env.limits = &w->limits;
    if (!restore) {
        rc = w->ops->init(&env, w->def, &w->state, &err);
    } else {
        aox_snap_fwd f;
        aox_snap_reader *r = NULL;
        memset(&f, 0, sizeof f);
        f.ud = w;
        f.rmeta = mp;
        f.rmeta_len = mn;
        f.page_count = pages;
        f.read_page = fw_read;
        rc = aox_snap_reader_new_fwd(&f, &r);
        if (!rc) rc = w->ops->restore(&env, w->def, r, &w->state, &err);
        aox_snap_reader_free(r);
    }
    if (rc) {
        w->state = NULL;
        return send_err(w->fd, rc, err.code ? err.msg : "device start failed");
    }
    reply_ok_state(w, NULL);
    return AOX_OK;
}

static void w_compute(wstate *w, cur *c)
{
    const uint8_t *ap;
    size_t an;
    uint64_t slot, ts, height, dry;
    aox_limits lim;
    aox_msg *a = NULL, *res = NULL;
    aox_call call;
    aox_err err;
    int rc;

    aox_err_clear(&err);
    if (get_bytes(c, &ap, &an) || get_u64(c, &slot) || get_u64(c, &ts) ||
        get_u64(c, &height) || get_u64(c, &dry) || get_limits(c, &lim)) {
        (void)send_err(w->fd, AOX_E_CORRUPT, "bad compute frame");
        return;
    }
    rc = aox_msg_decode(ap, an, &a, &err);
    res = rc ? NULL : aox_msg_new();
    if (!rc && !res) rc = aox_err_set(&err, AOX_E_NOMEM, "out of memory");
    if (!rc) {
        memset(&call, 0, sizeof call);
        call.pid = w->pid;
        call.process = w->def;
        call.assignment = a;
        call.message = aox_msg_get_msg(a, "body");
        call.slot = slot;
        call.timestamp = (int64_t)ts;
        call.block_height = (int64_t)height;
        call.limits = &lim;
        call.dry_run = (int)dry;
        if (!call.message) rc = aox_err_set(&err, AOX_E_CORRUPT, "assignment has no body");
        else rc = w->ops->compute(w->state, &call, res, &err);
    }
    if (rc) (void)send_err(w->fd, rc, err.code ? err.msg : "device compute failed");
    else reply_ok_state(w, res);
    aox_msg_free(a);
    aox_msg_free(res);
}

static void w_snapshot(wstate *w, cur *c)
{
    uint64_t has_base = 0;
    aox_snap_fwd f;
    aox_snap_writer *sw = NULL;
    aox_err err;
    int rc;

    aox_err_clear(&err);
    (void)get_u64(c, &has_base);
    memset(&f, 0, sizeof f);
    f.ud = w;
    f.meta = fw_meta;
    f.page = fw_page;
    f.keep = fw_keep;
    f.has_base = (int)has_base;
    rc = aox_snap_writer_new_fwd(&f, &sw);
    if (!rc) rc = w->ops->snapshot(w->state, sw, &err);
    aox_snap_writer_free(sw);
    if (rc) (void)send_err(w->fd, rc, err.code ? err.msg : "device snapshot failed");
    else reply_ok_state(w, NULL);
}

static void worker_main(int fd)
{
    wstate w;
    aox_buf in = {0};
    aox_err err;

    memset(&w, 0, sizeof w);
    w.fd = fd;
    g_in_worker = 1;
    aox_log_set_level(AOX_LOG_OFF);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    aox_err_clear(&err);
    if (aox_store_open(g_opts.store_uri, NULL, &w.store, &err) != AOX_OK) _exit(3);
    {
        /* One read now: LMDB registers this process's reader slot (fcntl lock) on the
         * first read, and fcntl is not allowed once the filter is on. */
        aox_buf v = {0};
        (void)aox_store_get(w.store, "node/worker-probe", 17, &v);
        aox_buf_free(&v);
    }
    precompile_seccomp(fd);          /* off the start path (a spare does it in advance) */
    for (;;) {
        int type = 0;
        cur c;
        if (recv_frame(fd, &type, &in, NULL) != AOX_OK) break;
        c.p = in.data;
        c.end = in.data + in.len;
        if (type == FR_T_INIT || type == FR_T_RESTORE) {
            if (w.ops) break;                          /* one state per worker */
            (void)w_start(&w, type == FR_T_RESTORE, &c);
        } else if (type == FR_T_COMPUTE && w.state) {
            w_compute(&w, &c);
        } else if (type == FR_T_SNAPSHOT && w.state) {
            w_snapshot(&w, &c);
        } else {
            break;
        }
    }
    /* socket closed (free) or protocol error: leave without cleanup; the OS frees */
    _exit(0);
}

/* ------------------------------------------------------------------ zygote */

/* The zygote's idle spares: the node's end of each one's socket, oldest first. */
static int   z_spare_fd[SPARE_MAX];
static pid_t z_spare_pid[SPARE_MAX];
static unsigned z_nspare;

/* Forks a worker; *fd gets the node's end of its socket. In the child, every
 * descriptor of the zygote's protocol (its socket, the spares' node ends) is closed
 * first, so a worker can never reach another worker's socket. */
static pid_t fork_worker(int zfd, int *fd)
{
    int sv[2];
    pid_t pid;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    pid = fork();
    if (pid == 0) {
        close(zfd);
        close(sv[0]);
        for (unsigned i = 0; i < z_nspare; i++) close(z_spare_fd[i]);
        worker_main(sv[1]);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return -1;
    }
    *fd = sv[0];
    return pid;
}

/* A spare still waiting: nothing to read and no hang-up on its socket (a spare that
 * died, e.g. could not open the store, shows POLLHUP). */
static int spare_alive(int fd)
{
    struct pollfd pf = { fd, POLLIN, 0 };
    return poll(&pf, 1, 0) == 0;
}

static void drop_spare(unsigned i)
{
    close(z_spare_fd[i]);
    kill(z_spare_pid[i], SIGKILL);
    z_nspare--;
    memmove(z_spare_fd + i, z_spare_fd + i + 1, (z_nspare - i) * sizeof *z_spare_fd);
    memmove(z_spare_pid + i, z_spare_pid + i + 1, (z_nspare - i) * sizeof *z_spare_pid);
    atomic_store(&g_sh->spares, z_nspare);
}

/* Takes the oldest live spare: 1 (its socket and pid in fd, pid), 0 when none is left. */
static int take_spare(int *fd, pid_t *pid)
{
    while (z_nspare) {
        int f = z_spare_fd[0];
        pid_t p = z_spare_pid[0];
        z_nspare--;
        memmove(z_spare_fd, z_spare_fd + 1, z_nspare * sizeof *z_spare_fd);
        memmove(z_spare_pid, z_spare_pid + 1, z_nspare * sizeof *z_spare_pid);
        atomic_store(&g_sh->spares, z_nspare);
        if (spare_alive(f)) {
            *fd = f;
            *pid = p;
            return 1;
        }
        close(f);
        kill(p, SIGKILL);
    }
    return 0;
}

/* A request (or EOF, or an error: go read it) arrives within ms. */
static int request_within(int zfd, int ms)
{
    struct pollfd pf = { zfd, POLLIN, 0 };
    return poll(&pf, 1, ms) != 0;
}

/* Serves worker requests (the byte F) with a spare when there is one, else a
 * fresh fork, and answers the pid with the socket (SCM_RIGHTS). Between requests it
 * refills the spares up to opts.prefork, one fork at a time, once no request came for
 * REFILL_QUIET_MS, a request always first;
 * while it waits it watches the spares' sockets, so a spare that dies (killed from
 * outside, or unable to open the store) is dropped and replaced within a second
 * (not at once, so a spare that cannot start does not make a fork loop). */
static void zygote_main(int zfd)
{
    struct sigaction sa;
    unsigned want = g_opts.prefork > SPARE_MAX ? SPARE_MAX : g_opts.prefork;
    int refill_failed = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = SA_NOCLDWAIT;                  /* workers are reaped automatically */
    sigaction(SIGCHLD, &sa, NULL);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) {
        struct pollfd pf[1 + SPARE_MAX];
        char req;
        int fd = -1, k;
        pid_t pid;
        ssize_t r;
        if (z_nspare < want && !refill_failed && !request_within(zfd, REFILL_QUIET_MS)) {
            pid = fork_worker(zfd, &fd);
            if (pid > 0) {
                z_spare_fd[z_nspare] = fd;
                z_spare_pid[z_nspare] = pid;
                z_nspare++;
                atomic_store(&g_sh->spares, z_nspare);
            } else {
                refill_failed = 1;        /* again after the next request, or in 1 s */
            }
            continue;
        }
        pf[0].fd = zfd;
        pf[0].events = POLLIN;
        pf[0].revents = 0;
        for (unsigned i = 0; i < z_nspare; i++) {
            pf[1 + i].fd = z_spare_fd[i];
            pf[1 + i].events = POLLIN;
            pf[1 + i].revents = 0;
        }
        k = poll(pf, 1 + z_nspare, refill_failed ? 1000 : -1);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) break;
        if (k == 0) {
            refill_failed = 0;
            continue;
        }
        for (unsigned i = z_nspare; i-- > 0;)
            if (pf[1 + i].revents) {                /* a spare never speaks first: dead */
                drop_spare(i);
                refill_failed = 1;   /* e.g. it cannot open the store: no fork loop */
            }
        if (!pf[0].revents) continue;
        r = read(zfd, &req, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        refill_failed = 0;
        if (take_spare(&fd, &pid)) {
            atomic_fetch_add(&g_sh->from_spare, 1);
        } else {
            pid = fork_worker(zfd, &fd);
            if (pid > 0) atomic_fetch_add(&g_sh->from_fork, 1);
        }
        {
            struct msghdr mh;
            struct iovec iov = { &pid, sizeof pid };
            union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
            memset(&mh, 0, sizeof mh);
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            if (pid > 0) {
                struct cmsghdr *cm;
                mh.msg_control = u.buf;
                mh.msg_controllen = sizeof u.buf;
                cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &fd, sizeof(int));
            }
            if (sendmsg(zfd, &mh, 0) < 0) break;
            if (pid > 0) close(fd);
        }
    }
    _exit(0);
}

/* Asks the zygote for a new worker: its socket and pid. */
static int new_worker(int *fd, pid_t *pid)
{
    char req = 'F';
    struct msghdr mh;
    struct iovec iov = { pid, sizeof *pid };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct cmsghdr *cm;
    int rc = AOX_E_IO;

    pthread_mutex_lock(&g_zmu);
    if (g_zfd < 0 || write_all(g_zfd, &req, 1) != AOX_OK) goto out;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    if (recvmsg(g_zfd, &mh, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof *pid || *pid <= 0) goto out;
    cm = CMSG_FIRSTHDR(&mh);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) goto out;
    memcpy(fd, CMSG_DATA(cm), sizeof(int));
    rc = AOX_OK;
out:
    pthread_mutex_unlock(&g_zmu);
    return rc;
}

/* ------------------------------------------------------------------ proxy */

typedef struct pstate {
    int      fd;
    pid_t    pid;
    uint64_t memory;
    int      has_digest;
    uint8_t  digest[32];
} pstate;

static void kill_worker(pstate *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    if (s->pid > 0) kill(s->pid, SIGKILL);
    s->pid = 0;
}

/* Runs one request: sends it, serves snapshot frames, reads FR_R_OK/FR_R_ERR. On FR_R_OK the
 * state fields are refreshed and *res (may be NULL) gets the result message. */
static int exchange(pstate *s, int type, const aox_buf *req, aox_snap_writer *w,
                    aox_snap_reader *r, atomic_int *interrupt, aox_msg **res, aox_err *err)
{
    aox_buf in = {0}, out = {0};
    int rc, wrc = AOX_OK;

    if (s->fd < 0) return aox_err_set(err, AOX_E_CRASHED, "isolated worker is gone");
    rc = send_frame(s->fd, type, req->data, req->len);
    while (rc == AOX_OK) {
        int t = 0;
        uint64_t v;
        rc = recv_frame(s->fd, &t, &in, interrupt);
        if (rc) break;
        if (t == FR_S_META) {
            if (wrc == AOX_OK) wrc = w ? aox_snap_write_meta(w, in.data, in.len) : AOX_E_CORRUPT;
        } else if (t == FR_S_PAGE && in.len >= 8) {
            memcpy(&v, in.data, 8);
            if (wrc == AOX_OK)
                wrc = w ? aox_snap_write_page(w, v, in.data + 8, in.len - 8) : AOX_E_CORRUPT;
        } else if (t == FR_S_KEEP && in.len == 8) {
            uint64_t code;
            memcpy(&v, in.data, 8);
            code = (uint64_t)(w ? aox_snap_keep_page(w, v) : AOX_E_CORRUPT);
            rc = send_frame(s->fd, FR_A_RC, &code, 8);
        } else if (t == FR_S_READ && in.len == 8) {
            uint64_t code;
            memcpy(&v, in.data, 8);
            aox_buf_reset(&out);
            code = (uint64_t)(r ? aox_snap_read_page(r, v, &out) : AOX_E_CORRUPT);
            {
                aox_buf b = {0};
                rc = put_u64(&b, code);
                if (!rc && code == AOX_OK) rc = aox_buf_append(&b, out.data, out.len);
                if (!rc) rc = send_frame(s->fd, FR_A_PAGE, b.data, b.len);
                aox_buf_free(&b);
            }
        } else if (t == FR_R_ERR && in.len >= 8) {
            memcpy(&v, in.data, 8);
            rc = aox_err_set(err, (int)v ? (int)v : AOX_E_INTERNAL, "%.*s",
                             (int)(in.len - 8 > 200 ? 200 : in.len - 8),
                             (const char *)in.data + 8);
            goto done;
        } else if (t == FR_R_OK && in.len >= 48) {
            cur c = { in.data, in.data + in.len };
            uint64_t has;
            (void)get_u64(&c, &s->memory);
            (void)get_u64(&c, &has);
            s->has_digest = has != 0;
            memcpy(s->digest, c.p, 32);
            c.p += 32;
            if (res && c.p < c.end) {
                const uint8_t *mp;
                size_t mn;
                rc = get_bytes(&c, &mp, &mn);
                if (!rc) rc = aox_msg_decode(mp, mn, res, err);
            }
            if (rc == AOX_OK && wrc) rc = aox_err_set(err, wrc, "snapshot page write failed");
            goto done;
        } else {
            rc = AOX_E_CORRUPT;
        }
    }
    /* the worker died, broke the protocol, or hit the wall clock: it is killed */
    if (rc == AOX_E_TIMEOUT)
        aox_err_set(err, AOX_E_TIMEOUT, "isolated worker (pid %d) stopped at the wall-clock "
                    "limit", (int)s->pid);
    else
        aox_err_set(err, AOX_E_CRASHED, "isolated worker (pid %d) died or broke the protocol",
                    (int)s->pid);
    aox_log(AOX_LOG_WARN, "isolated_worker_lost", "\"pid\":%d,\"code\":\"%s\"", (int)s->pid,
            aox_code_name(rc == AOX_E_TIMEOUT ? rc : AOX_E_CRASHED));
    kill_worker(s);
    rc = rc == AOX_E_TIMEOUT ? AOX_E_TIMEOUT : AOX_E_CRASHED;
done:
    aox_buf_free(&in);
    aox_buf_free(&out);
    return rc;
}

static int p_start(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                   void **state, aox_err *err)
{
    pstate *s = calloc(1, sizeof *s);
    aox_buf req = {0};
    int rc;

    if (!s) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    s->fd = -1;
    rc = new_worker(&s->fd, &s->pid);
    if (rc) {
        aox_err_set(err, rc, "cannot start an isolated worker");
        goto fail;
    }
    rc = put_bytes(&req, env->pid, AOX_ID_LEN);
    if (!rc) rc = put_msg(&req, def);
    if (!rc) rc = put_limits(&req, env->limits);
    if (!rc && r) {
        const uint8_t *mp;
        size_t mn;
        (void)aox_snap_read_meta(r, &mp, &mn);
        rc = put_bytes(&req, mp, mn);
        if (!rc) rc = put_u64(&req, aox_snap_page_count(r));
    }
    if (rc) {
        aox_err_set(err, rc, "out of memory");
        goto fail;
    }
    rc = exchange(s, r ? FR_T_RESTORE : FR_T_INIT, &req, NULL, r, NULL, NULL, err);
    if (rc) goto fail;
    aox_buf_free(&req);
    *state = s;
    return AOX_OK;
fail:
    aox_buf_free(&req);
    kill_worker(s);
    free(s);
    return rc;
}

static int p_init(const aox_device_env *env, const aox_msg *def, void **state, aox_err *err)
{
    return p_start(env, def, NULL, state, err);
}

static int p_restore(const aox_device_env *env, const aox_msg *def, aox_snap_reader *r,
                     void **state, aox_err *err)
{
    return p_start(env, def, r, state, err);
}

static int p_compute(void *state, const aox_call *call, aox_msg *result, aox_err *err)
{
    pstate *s = state;
    aox_buf req = {0};
    aox_msg *res = NULL;
    int rc = put_msg(&req, call->assignment);
    if (!rc) rc = put_u64(&req, call->slot);
    if (!rc) rc = put_u64(&req, (uint64_t)call->timestamp);
    if (!rc) rc = put_u64(&req, (uint64_t)call->block_height);
    if (!rc) rc = put_u64(&req, (uint64_t)call->dry_run);
    if (!rc) rc = put_limits(&req, call->limits);
    if (rc) {
        aox_buf_free(&req);
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    rc = exchange(s, FR_T_COMPUTE, &req, NULL, NULL, call->interrupt, &res, err);
    aox_buf_free(&req);
    if (rc == AOX_OK && res) {
        /* copy the worker's result into the caller's message */
        for (size_t i = 0; rc == AOX_OK && i < aox_msg_count(res); i++)
            rc = aox_msg_set_value(result, aox_msg_key_at(res, i), aox_msg_value_at(res, i));
        if (rc) aox_err_set(err, rc, "out of memory");
    }
    aox_msg_free(res);
    return rc;
}

static int p_snapshot(void *state, aox_snap_writer *w, aox_err *err)
{
    pstate *s = state;
    aox_buf req = {0};
    int rc = put_u64(&req, (uint64_t)aox_snap_has_base(w));
    if (!rc) rc = exchange(s, FR_T_SNAPSHOT, &req, w, NULL, NULL, NULL, err);
    aox_buf_free(&req);
    return rc;
}

static void p_free(void *state)
{
    pstate *s = state;
    if (!s) return;
    kill_worker(s);            /* closing the socket ends the worker; the kill makes sure */
    free(s);
}

static uint64_t p_memory(void *state) { return ((pstate *)state)->memory; }

static int p_digest(void *state, uint8_t out[32])
{
    pstate *s = state;
    if (!s->has_digest) return AOX_E_NOT_FOUND;
    memcpy(out, s->digest, 32);
    return AOX_OK;
}

/* ------------------------------------------------------------------ start/stop */

void aox_isolate_stats_get(aox_isolate_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!g_sh) return;
    out->prefork = g_opts.prefork > SPARE_MAX ? SPARE_MAX : g_opts.prefork;
    out->spares = atomic_load(&g_sh->spares);
    out->from_spare = atomic_load(&g_sh->from_spare);
    out->from_fork = atomic_load(&g_sh->from_fork);
}

static void iso_collect(void *ud)
{
    static const char sh[] = "Workers handed out for a device state, by origin (spare: "
                             "pre-forked by the zygote; fork: forked on request).";
    aox_isolate_stats st;
    (void)ud;
    aox_isolate_stats_get(&st);
    {
        aox_metric_def d = { AOX_METRIC_GAUGE, "aox_isolation_spare_workers",
                             "Idle pre-forked worker processes ready (--prefork).", NULL,
                             NULL, 0, 0 };
        aox_metric_set(aox_metric_get(&d), NULL, 0, (int64_t)st.spares);
    }
    {
        aox_metric_def d = { AOX_METRIC_COUNTER, "aox_isolation_workers_started_total", sh,
                             "from", NULL, 0, 0 };
        const char *spare[] = { "spare" }, *fork_[] = { "fork" };
        aox_metric *m = aox_metric_get(&d);
        aox_metric_set(m, spare, 1, (int64_t)st.from_spare);
        aox_metric_set(m, fork_, 1, (int64_t)st.from_fork);
    }
}

int aox_isolate_start(const aox_isolate_opts *opts, aox_err *err)
{
    const char *names[PROXY_MAX];
    size_t n;
    int sv[2];
    pid_t pid;

    if (g_started) return AOX_OK;
    if (!opts->store_uri || strncmp(opts->store_uri, "memory:", 7) == 0)
        return aox_err_set(err, AOX_E_CONFIG, "--isolation=process needs a store the worker "
                           "processes can open (lmdb or redis), not the memory store");
    g_opts = *opts;
    if (!g_sh) {
        void *m = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
        if (m == MAP_FAILED)
            return aox_err_set(err, AOX_E_IO, "mmap: %s", strerror(errno));
        g_sh = m;
        atomic_init(&g_sh->spares, 0);
        atomic_init(&g_sh->from_spare, 0);
        atomic_init(&g_sh->from_fork, 0);
    }
    n = aox_device_list(names, PROXY_MAX);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return aox_err_set(err, AOX_E_IO, "socketpair: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return aox_err_set(err, AOX_E_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(sv[0]);
        zygote_main(sv[1]);
    }
    close(sv[1]);
    g_zfd = sv[0];
    g_zpid = pid;
    for (size_t i = 0; i < n && g_nproxy < PROXY_MAX; i++) {
        const aox_device_ops *real = aox_device_find(names[i]);
        aox_device_ops *p = &g_proxy[g_nproxy];
        if (!real) continue;
        g_real[g_nproxy] = real;
        p->name = real->name;
        p->init = p_init;
        p->compute = p_compute;
        p->snapshot = p_snapshot;
        p->restore = p_restore;
        p->free = p_free;
        p->memory = p_memory;
        p->digest = real->digest ? p_digest : NULL;
        p->boot = real->boot;             /* a pure function of the definition */
        if (aox_device_replace(p) == AOX_OK) g_nproxy++;
    }
    g_started = 1;
    (void)aox_metrics_collector_add(iso_collect, NULL);
    return AOX_OK;
}

void aox_isolate_stop(void)
{
    pthread_mutex_lock(&g_zmu);
    if (g_zfd >= 0) close(g_zfd);
    g_zfd = -1;
    if (g_zpid > 0) {
        kill(g_zpid, SIGKILL);
        (void)waitpid(g_zpid, NULL, 0);
    }
    g_zpid = 0;
    pthread_mutex_unlock(&g_zmu);
}
