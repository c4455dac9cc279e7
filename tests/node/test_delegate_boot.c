/*
 * node_delegate_boot: a delegated@1.0 process whose delegate-device boots for its
 * definition (test-counter@1.0 with `boot: 1`) computes slot 0 on the peers, and
 * its results — slot 0 included — are byte-identical to a local run of the same
 * process (same pid, same assignments, the definition as the peers run it),
 * computed by a second process manager. Two in-process peers (HTTP on free
 * loopback ports) with verify = 2; then a replay (fresh manager, results deleted,
 * snapshots kept) gives the same bytes again; a non-booting delegate-device keeps
 * slot 0 init only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE                       /* memmem */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/identity.h"
#include "http/server.h"
#include "node/cluster.h"
#include "node/delegate.h"
#include "proctest.h"

#define SLOTS 6

typedef struct copy_ctx {
    aox_store     *to;
    const aox_buf *defkey;
    const aox_buf *defval;
    int            rc;
} copy_ctx;

/* Copies the process's keys except results and snapshots; the definition is
 * replaced by the one a peer runs. */
static int copy_key(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    copy_ctx *c = ud;
    if (memmem(k, kl, "/result/", 8) || memmem(k, kl, "/snap/", 6)) return 0;
    if (kl == c->defkey->len && memcmp(k, c->defkey->data, kl) == 0) {
        v = c->defval->data;
        vl = c->defval->len;
    }
    c->rc = aox_store_put(c->to, k, kl, v, vl);
    return c->rc;
}

static aox_msg *def_of(const char *inner, int boot)
{
    aox_msg *d = aox_msg_new();
    REQUIRE(d && aox_msg_set_str(d, "type", "Process") == AOX_OK);
    REQUIRE(aox_msg_set_str(d, "execution-device", "delegated@1.0") == AOX_OK);
    REQUIRE(aox_msg_set_str(d, "delegate-device", inner) == AOX_OK);
    REQUIRE(aox_msg_set_int(d, "verify", 2) == AOX_OK);
    REQUIRE(aox_msg_set_int(d, "value", 7) == AOX_OK);      /* what the boot adds */
    REQUIRE(aox_msg_set_int(d, "pages", 1) == AOX_OK);
    if (boot) REQUIRE(aox_msg_set_int(d, "boot", 1) == AOX_OK);
    return d;
}

/* Results 0..SLOTS of pid on p, encoded. */
static void results(aox_procs *p, const char *pid, aox_buf enc[SLOTS + 1])
{
    for (uint64_t s = 0; s <= SLOTS; s++) {
        aox_msg *r = pt_compute(p, pid, s, NULL);
        pt_encode(r, &enc[s]);
        aox_msg_free(r);
    }
}

static void free_all(aox_buf enc[SLOTS + 1])
{
    for (int i = 0; i <= SLOTS; i++) aox_buf_free(&enc[i]);
}

/* Spawns def on a fresh delegating manager (K = 2), schedules SLOTS messages,
 * computes; then runs the same process locally and compares byte for byte. */
static void run_case(int boot)
{
    aox_store *sa = NULL, *sb = NULL, *sa2;
    aox_procs *pa, *pb, *pa2;
    aox_msg *def = def_of("test-counter@1.0", boot), *pd, *r0;
    aox_buf got[SLOTS + 1] = {{0}}, want[SLOTS + 1] = {{0}}, again[SLOTS + 1] = {{0}};
    aox_buf defkey = {0}, defval = {0};
    aox_err err = {0};
    char pid[AOX_ID_LEN + 1], prefix[AOX_ID_LEN + 8];
    copy_ctx cc;
    int64_t c = 0;

    REQUIRE(aox_store_open("memory:", NULL, &sa, &err) == AOX_OK);
    REQUIRE(aox_store_open("memory:", NULL, &sb, &err) == AOX_OK);
    pa = pt_open(sa, 2, 16);
    REQUIRE(aox_proc_spawn(pa, def, pid, NULL, &err) == AOX_OK);
    for (int i = 1; i <= SLOTS; i++) pt_schedule(pa, pid, pt_msg(i, NULL));
    results(pa, pid, got);

    /* slot 0 is the boot (counter 7, one message seen), or init only */
    REQUIRE(aox_msg_decode(got[0].data, got[0].len, &r0, &err) == AOX_OK);
    if (boot) {
        CHECK(pt_counter(r0) == 7);
        CHECK(aox_msg_get_int(aox_msg_get_msg(r0, "output"), "seen", &c) == AOX_OK && c == 1);
    } else {
        CHECK(aox_msg_get_msg(r0, "output") == NULL);
    }
    aox_msg_free(r0);
    REQUIRE(aox_msg_decode(got[SLOTS].data, got[SLOTS].len, &r0, &err) == AOX_OK);
    CHECK(pt_counter(r0) == (boot ? 7 : 0) + SLOTS * (SLOTS + 1) / 2);
    aox_msg_free(r0);

    /* the local run: same pid, the assignments copied, the peers' definition */
    if (boot) {
        pd = aox_msg_clone(def);
        REQUIRE(pd && aox_msg_set_str(pd, "execution-device", "test-counter@1.0") == AOX_OK);
        REQUIRE(aox_key_proc(&defkey, pid, "def", AOX_KEY_NOSLOT) == AOX_OK);
        REQUIRE(aox_msg_encode(pd, &defval) == AOX_OK);
        aox_msg_free(pd);
        snprintf(prefix, sizeof prefix, "proc/%s/", pid);
        cc = (copy_ctx){ sb, &defkey, &defval, 0 };
        REQUIRE(aox_store_scan(sa, prefix, strlen(prefix), NULL, 0, 0, copy_key, &cc) == 0);
        pb = pt_open(sb, 64, 16);
        results(pb, pid, want);
        for (int s = 0; s <= SLOTS; s++) {
            CHECK(got[s].len == want[s].len && memcmp(got[s].data, want[s].data, got[s].len) == 0);
            if (got[s].len != want[s].len || memcmp(got[s].data, want[s].data, got[s].len))
                fprintf(stderr, "slot %d differs from the local run\n", s);
        }
        aox_procs_close(pb);
    }

    /* replay on a fresh manager: results 3..SLOTS deleted, snapshot at 2 kept; and
     * every result deleted, a replay from init (the boot asked of the peers again) */
    aox_procs_close(pa);
    for (int s = 3; s <= SLOTS; s++) pt_store_del(sa, pid, "result", s);
    pa2 = pt_open(sa, 2, 16);
    results(pa2, pid, again);
    for (int s = 0; s <= SLOTS; s++)
        CHECK(got[s].len == again[s].len && memcmp(got[s].data, again[s].data, got[s].len) == 0);
    aox_procs_close(pa2);
    free_all(again);
    sa2 = sa;
    for (int s = 0; s <= SLOTS; s++) {
        pt_store_del(sa2, pid, "result", s);
        if (s && pt_store_has(sa2, pid, "snap", s)) pt_store_del(sa2, pid, "snap", s);
    }
    pa2 = pt_open(sa2, 2, 16);
    results(pa2, pid, again);
    for (int s = 0; s <= SLOTS; s++)
        CHECK(got[s].len == again[s].len && memcmp(got[s].data, again[s].data, got[s].len) == 0);
    aox_procs_close(pa2);

    free_all(got);
    free_all(want);
    free_all(again);
    aox_buf_free(&defkey);
    aox_buf_free(&defval);
    aox_msg_free(def);
    aox_store_close(sa);
    aox_store_close(sb);
}

static void delegated_boot_matches_local(void) { run_case(1); }
static void delegated_without_boot(void) { run_case(0); }

int main(void)
{
    aox_http_server *srv[2] = {0};
    aox_cluster_routes routes;
    aox_identity *id = NULL;
    aox_store *peer_store = NULL;
    aox_delegate_opts dopts;
    aox_err err = {0};
    char dir[64], peers[128];

    pt_register();
    REQUIRE(aox_device_register(aox_delegate_device()) == AOX_OK);
    pt_tmpdir(dir, sizeof dir);
    REQUIRE(aox_identity_open(dir, &id, NULL, &err) == AOX_OK);
    REQUIRE(aox_store_open("memory:", NULL, &peer_store, &err) == AOX_OK);
    memset(&routes, 0, sizeof routes);
    for (int i = 0; i < 2; i++) {
        aox_http_opts ho;
        memset(&ho, 0, sizeof ho);
        ho.bind = "127.0.0.1";
        ho.port = 0;                      /* a free loopback port */
        ho.max_body = 1 << 20;
        ho.ctx.pre = aox_cluster_pre_route;
        ho.ctx.pre_ud = &routes;
        ho.ctx.page_max = 100;
        REQUIRE(aox_http_start(&ho, &srv[i], &err) == AOX_OK);
    }
    /* one node plays the delegator and both peers: one identity, two URLs */
    snprintf(peers, sizeof peers, "http://127.0.0.1:%u,http://127.0.0.1:%u",
             (unsigned)aox_http_port(srv[0]), (unsigned)aox_http_port(srv[1]));
    memset(&dopts, 0, sizeof dopts);
    dopts.peers = peers;
    dopts.timeout_ms = 10000;
    dopts.identity = id;
    dopts.store = peer_store;
    REQUIRE(aox_delegate_configure(&dopts, &err) == AOX_OK);

    PT_RUN(delegated_boot_matches_local);
    PT_RUN(delegated_without_boot);

    aox_http_stop(srv[0]);
    aox_http_stop(srv[1]);
    aox_delegate_shutdown();
    aox_identity_free(id);
    aox_store_close(peer_store);
    pt_rmdir(dir);
    PT_DONE();
}
