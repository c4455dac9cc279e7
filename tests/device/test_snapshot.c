/*
 * tests/device/test_snapshot.c: the snapshot writer/reader over the memory store —
 * content-addressed pages written once, keep_page with and without a base,
 * bytes_written accounting, last-write-wins, corrupt manifests and pages.
 */
#include "core/id.h"
#include "device/snapshot.h"
#include "store/store.h"
#include "../process/ptest.h"

static aox_store *st;

static void fill(uint8_t *p, uint8_t c, size_t n) { memset(p, c, n); }

static int page_is(aox_snap_reader *r, uint64_t index, uint8_t c, size_t n)
{
    aox_buf b = {0};
    int ok = aox_snap_read_page(r, index, &b) == AOX_OK && b.len == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = b.data[i] == c;
    aox_buf_free(&b);
    return ok;
}

static int store_has_page(const uint8_t *p, size_t n)
{
    uint8_t h[32];
    char id[44];
    aox_buf k = {0}, v = {0};
    int rc;
    aox_sha256(p, n, h);
    aox_id_from_hash(h, id);
    aox_key_simple(&k, "page", id);
    rc = aox_store_get(st, k.data, k.len, &v);
    aox_buf_free(&k);
    aox_buf_free(&v);
    return rc == AOX_OK;
}

static aox_buf m1, m2;

static void test_write_dedup(void)
{
    aox_snap_writer *w;
    aox_snap_reader *r;
    uint8_t a[100], b[100];
    const uint8_t *meta;
    size_t ml;

    fill(a, 'A', sizeof a);
    fill(b, 'B', sizeof b);
    REQUIRE(aox_snap_writer_new(st, NULL, 0, &w) == AOX_OK);
    CHECK(!aox_snap_has_base(w));
    CHECK_RC(aox_snap_write_meta(w, "hel", 3), AOX_OK);
    CHECK_RC(aox_snap_write_meta(w, "lo", 2), AOX_OK);
    CHECK_RC(aox_snap_write_page(w, 0, a, sizeof a), AOX_OK);
    CHECK_RC(aox_snap_write_page(w, 1, b, sizeof b), AOX_OK);
    CHECK_RC(aox_snap_write_page(w, 2, a, sizeof a), AOX_OK);   /* same bytes as page 0 */
    CHECK_RC(aox_snap_keep_page(w, 3), AOX_E_NOT_FOUND);        /* no base */
    CHECK(aox_snap_writer_bytes_written(w) == 200);
    CHECK(!store_has_page(a, sizeof a));                        /* queued until finish */
    CHECK_RC(aox_snap_writer_finish(w, &m1), AOX_OK);
    CHECK(store_has_page(a, sizeof a) && store_has_page(b, sizeof b));
    aox_snap_writer_free(w);

    REQUIRE(aox_snap_reader_new(st, m1.data, m1.len, &r, NULL) == AOX_OK);
    CHECK_RC(aox_snap_read_meta(r, &meta, &ml), AOX_OK);
    CHECK(ml == 5 && memcmp(meta, "hello", 5) == 0);
    CHECK(aox_snap_page_count(r) == 3);
    CHECK(page_is(r, 0, 'A', 100));
    CHECK(page_is(r, 1, 'B', 100));
    CHECK(page_is(r, 2, 'A', 100));
    {
        aox_buf x = {0};
        CHECK_RC(aox_snap_read_page(r, 3, &x), AOX_E_NOT_FOUND);
        CHECK_RC(aox_snap_read_page(r, 1000, &x), AOX_E_NOT_FOUND);
        aox_buf_free(&x);
    }
    aox_snap_reader_free(r);

    /* a second writer without a base: the same bytes are not written again */
    REQUIRE(aox_snap_writer_new(st, NULL, 0, &w) == AOX_OK);
    CHECK_RC(aox_snap_write_page(w, 7, b, sizeof b), AOX_OK);
    CHECK(aox_snap_writer_bytes_written(w) == 0);
    aox_snap_writer_free(w);
}

static void test_keep_with_base(void)
{
    aox_snap_writer *w;
    aox_snap_reader *r;
    uint8_t c[100];

    fill(c, 'C', sizeof c);
    REQUIRE(aox_snap_writer_new(st, m1.data, m1.len, &w) == AOX_OK);
    CHECK(aox_snap_has_base(w));
    CHECK_RC(aox_snap_keep_page(w, 0), AOX_OK);
    CHECK_RC(aox_snap_keep_page(w, 1), AOX_OK);
    CHECK_RC(aox_snap_write_page(w, 2, c, sizeof c), AOX_OK);
    CHECK_RC(aox_snap_keep_page(w, 9), AOX_E_NOT_FOUND);        /* not in the base */
    CHECK(aox_snap_writer_bytes_written(w) == 100);
    CHECK_RC(aox_snap_writer_finish(w, &m2), AOX_OK);
    aox_snap_writer_free(w);

    REQUIRE(aox_snap_reader_new(st, m2.data, m2.len, &r, NULL) == AOX_OK);
    CHECK(aox_snap_page_count(r) == 3);
    CHECK(page_is(r, 0, 'A', 100));
    CHECK(page_is(r, 1, 'B', 100));
    CHECK(page_is(r, 2, 'C', 100));
    aox_snap_reader_free(r);
    /* the base's snapshot is untouched */
    REQUIRE(aox_snap_reader_new(st, m1.data, m1.len, &r, NULL) == AOX_OK);
    CHECK(page_is(r, 2, 'A', 100));
    aox_snap_reader_free(r);
}

static void test_order_and_overwrite(void)
{
    aox_snap_writer *w;
    aox_snap_reader *r;
    aox_buf m = {0};
    uint8_t x[10], y[10], z[10];

    fill(x, 'X', sizeof x);
    fill(y, 'Y', sizeof y);
    fill(z, 'Z', sizeof z);
    REQUIRE(aox_snap_writer_new(st, NULL, 0, &w) == AOX_OK);
    CHECK_RC(aox_snap_write_page(w, 5, x, sizeof x), AOX_OK);
    CHECK_RC(aox_snap_write_page(w, 1, y, sizeof y), AOX_OK);
    CHECK_RC(aox_snap_write_page(w, 5, z, sizeof z), AOX_OK);   /* last write wins */
    CHECK_RC(aox_snap_writer_finish(w, &m), AOX_OK);
    aox_snap_writer_free(w);
    REQUIRE(aox_snap_reader_new(st, m.data, m.len, &r, NULL) == AOX_OK);
    CHECK(aox_snap_page_count(r) == 6);
    CHECK(page_is(r, 1, 'Y', 10));
    CHECK(page_is(r, 5, 'Z', 10));
    aox_snap_reader_free(r);
    aox_buf_free(&m);

    /* an abandoned writer leaves nothing behind */
    uint8_t d[64];
    fill(d, 'D', sizeof d);
    REQUIRE(aox_snap_writer_new(st, NULL, 0, &w) == AOX_OK);
    CHECK_RC(aox_snap_write_page(w, 0, d, sizeof d), AOX_OK);
    aox_snap_writer_free(w);
    CHECK(!store_has_page(d, sizeof d));
}

static void test_corrupt(void)
{
    aox_snap_reader *r = NULL;
    aox_snap_writer *w = NULL;
    aox_err err = {0};
    uint8_t junk[] = "AOXS\x02garbage", b[100], h[32];
    char id[44];
    aox_buf k = {0};

    CHECK_RC(aox_snap_reader_new(st, junk, sizeof junk - 1, &r, &err), AOX_E_CORRUPT);
    CHECK(r == NULL && err.code == AOX_E_CORRUPT);
    CHECK(aox_snap_reader_new(st, m1.data, m1.len - 1, &r, NULL) != AOX_OK);
    CHECK(aox_snap_writer_new(st, m1.data, m1.len - 3, &w) != AOX_OK);

    /* a page whose bytes no longer match its hash */
    fill(b, 'B', sizeof b);
    aox_sha256(b, sizeof b, h);
    aox_id_from_hash(h, id);
    aox_key_simple(&k, "page", id);
    REQUIRE(aox_store_put(st, k.data, k.len, "tampered", 8) == AOX_OK);
    REQUIRE(aox_snap_reader_new(st, m1.data, m1.len, &r, NULL) == AOX_OK);
    {
        aox_buf x = {0};
        CHECK_RC(aox_snap_read_page(r, 1, &x), AOX_E_CORRUPT);
        CHECK_RC(aox_snap_read_page(r, 0, &x), AOX_OK);
        aox_buf_free(&x);
    }
    aox_snap_reader_free(r);
    /* a page missing from the store */
    REQUIRE(aox_store_del(st, k.data, k.len) == AOX_OK);
    REQUIRE(aox_snap_reader_new(st, m1.data, m1.len, &r, NULL) == AOX_OK);
    {
        aox_buf x = {0};
        CHECK_RC(aox_snap_read_page(r, 1, &x), AOX_E_CORRUPT);
        aox_buf_free(&x);
    }
    aox_snap_reader_free(r);
    aox_buf_free(&k);
}

int main(void)
{
    REQUIRE(aox_store_open("memory:", NULL, &st, NULL) == AOX_OK);
    PT_RUN(test_write_dedup);
    PT_RUN(test_keep_with_base);
    PT_RUN(test_order_and_overwrite);
    PT_RUN(test_corrupt);
    aox_buf_free(&m1);
    aox_buf_free(&m2);
    aox_store_close(st);
    PT_DONE();
}
