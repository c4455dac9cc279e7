/*
 * tests/core/test_identity.c: node identity (core/identity.h): key file creation and
 * reload, file mode, address, signatures over bytes and messages, tampering, a wrong
 * key, and the exact bytes a message signature covers.
 */
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "core/id.h"
#include "core/identity.h"

static char root[256];

static int rm_fn(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static aox_identity *open_dir(const char *dir, int want_created)
{
    aox_identity *id = NULL;
    aox_err err;
    int created = -1;
    int rc = aox_identity_open(dir, &id, &created, &err);
    if (rc)
        fprintf(stderr, "open %s: %s\n", dir, err.msg);
    REQUIRE(rc == 0 && id);
    CHECK_EQ_INT(created, want_created);
    return id;
}

static void test_files(void)
{
    char a[300], b[300], path[400];
    struct stat st;
    aox_err err;
    aox_identity *x = NULL;
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    REQUIRE(mkdir(a, 0700) == 0 && mkdir(b, 0700) == 0);

    mode_t old = umask(0);              /* the file must be 0600 whatever the umask */
    aox_identity *ia = open_dir(a, 1);
    umask(old);
    snprintf(path, sizeof path, "%s/node-key.pem", a);
    REQUIRE(stat(path, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 07777, 0600);
    CHECK(S_ISREG(st.st_mode));
    char addr[44];
    snprintf(addr, sizeof addr, "%s", aox_identity_address(ia));
    CHECK(aox_id_valid(addr));
    /* the address is base64url(SHA-256(raw public key)) */
    uint8_t h[32];
    char want[44];
    aox_sha256(aox_identity_public_key(ia), 32, h);
    aox_id_from_hash(h, want);
    CHECK_STR(addr, want);

    /* reload: same key */
    aox_identity *ia2 = open_dir(a, 0);
    CHECK_STR(aox_identity_address(ia2), addr);
    CHECK(memcmp(aox_identity_public_key(ia2), aox_identity_public_key(ia), 32) == 0);
    /* another directory: another key */
    aox_identity *ib = open_dir(b, 1);
    CHECK(strcmp(aox_identity_address(ib), addr) != 0);
    aox_identity_free(ia2);
    aox_identity_free(ib);
    aox_identity_free(ia);
    aox_identity_free(NULL);

    /* a key file others can read is refused */
    REQUIRE(chmod(path, 0644) == 0);
    CHECK_EQ_INT(aox_identity_open(a, &x, NULL, &err), AOX_E_CONFIG);
    CHECK(strstr(err.msg, "0600") != NULL && x == NULL);
    REQUIRE(chmod(path, 0600) == 0);
    x = open_dir(a, 0);
    CHECK_STR(aox_identity_address(x), addr);
    aox_identity_free(x);
    /* garbage in the key file */
    snprintf(path, sizeof path, "%s/node-key.pem", b);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", f);
    fclose(f);
    CHECK_EQ_INT(aox_identity_open(b, &x, NULL, &err), AOX_E_CORRUPT);
    /* a missing directory */
    snprintf(path, sizeof path, "%s/missing", root);
    CHECK_EQ_INT(aox_identity_open(path, &x, NULL, &err), AOX_E_IO);
    CHECK_EQ_INT(aox_identity_open("", &x, NULL, &err), AOX_E_INVALID);
}

static void test_bytes(aox_identity *a, aox_identity *b)
{
    uint8_t sig[64], sig2[64];
    const char data[] = "assignment bytes";
    CHECK_EQ_INT(aox_identity_sign(a, data, sizeof data, sig), 0);
    CHECK_EQ_INT(aox_identity_verify(aox_identity_public_key(a), data, sizeof data, sig), 0);
    /* deterministic */
    CHECK_EQ_INT(aox_identity_sign(a, data, sizeof data, sig2), 0);
    CHECK(memcmp(sig, sig2, 64) == 0);
    /* tampered data, tampered signature, wrong key */
    char bad[sizeof data];
    memcpy(bad, data, sizeof data);
    bad[3] ^= 1;
    CHECK_EQ_INT(aox_identity_verify(aox_identity_public_key(a), bad, sizeof bad, sig),
                 AOX_E_FORBIDDEN);
    CHECK_EQ_INT(aox_identity_verify(aox_identity_public_key(a), data, sizeof data - 1, sig),
                 AOX_E_FORBIDDEN);
    sig2[10] ^= 0x40;
    CHECK_EQ_INT(aox_identity_verify(aox_identity_public_key(a), data, sizeof data, sig2),
                 AOX_E_FORBIDDEN);
    CHECK_EQ_INT(aox_identity_verify(aox_identity_public_key(b), data, sizeof data, sig),
                 AOX_E_FORBIDDEN);
    /* empty input */
    CHECK_EQ_INT(aox_identity_sign(a, NULL, 0, sig), 0);
    CHECK_EQ_INT(aox_identity_verify(aox_identity_public_key(a), NULL, 0, sig), 0);
}

static aox_msg *sample(void)
{
    aox_msg *m = aox_msg_new(), *sub = aox_msg_new();
    REQUIRE(m && sub);
    aox_msg_set_str(m, "type", "Result");
    aox_msg_set_int(m, "slot", 42);
    aox_msg_set_str(m, "process", "PID");
    aox_msg_set_str(sub, "output", "hello");
    aox_msg_take_msg(m, "result", sub);
    return m;
}

static void test_msgs(aox_identity *a, aox_identity *b)
{
    aox_msg *m = sample();
    aox_err err;
    char addr[44];
    aox_buf enc = { 0 };
    REQUIRE(aox_msg_encode(m, &enc) == 0);      /* the bytes to be signed */
    CHECK_EQ_INT(aox_identity_verify_msg(m, NULL, addr, &err), AOX_E_INVALID);
    CHECK_EQ_INT(aox_identity_sign_msg(a, m), 0);
    CHECK_EQ_INT(aox_msg_count(m), 6);
    size_t l1, l2;
    const char *k = aox_msg_get_str(m, "node-key", &l1);
    const char *sg = aox_msg_get_str(m, "node-signature", &l2);
    CHECK(k && l1 == 43 && sg && l2 == 86);
    CHECK_EQ_INT(aox_identity_verify_msg(m, NULL, addr, &err), 0);
    CHECK_STR(addr, aox_identity_address(a));
    CHECK_EQ_INT(aox_identity_verify_msg(m, aox_identity_address(a), NULL, &err), 0);
    CHECK_EQ_INT(aox_identity_verify_msg(m, aox_identity_address(b), NULL, &err),
                 AOX_E_FORBIDDEN);

    /* the signature is over exactly the encoding without the two entries */
    aox_buf raw = { 0 };
    REQUIRE(aox_b64_decode(sg, l2, &raw) == 0 && raw.len == 64);
    CHECK_EQ_INT(aox_identity_verify(aox_identity_public_key(a), enc.data, enc.len,
                                     raw.data), 0);
    aox_buf_reset(&raw);
    REQUIRE(aox_b64_decode(k, l1, &raw) == 0 && raw.len == 32);
    CHECK(memcmp(raw.data, aox_identity_public_key(a), 32) == 0);

    /* tampering: a changed value, a nested change, an added entry */
    aox_msg *t = aox_msg_clone(m);
    aox_msg_set_int(t, "slot", 43);
    CHECK_EQ_INT(aox_identity_verify_msg(t, NULL, addr, &err), AOX_E_FORBIDDEN);
    CHECK_STR(addr, "");
    aox_msg_free(t);
    t = aox_msg_clone(m);
    aox_msg *sub = aox_msg_new();
    aox_msg_set_str(sub, "output", "hellO");
    aox_msg_take_msg(t, "result", sub);
    CHECK_EQ_INT(aox_identity_verify_msg(t, NULL, NULL, &err), AOX_E_FORBIDDEN);
    aox_msg_free(t);
    t = aox_msg_clone(m);
    aox_msg_set_str(t, "extra", "x");
    CHECK_EQ_INT(aox_identity_verify_msg(t, NULL, NULL, &err), AOX_E_FORBIDDEN);
    aox_msg_free(t);
    /* a wrong key: b's public key in place of a's */
    t = aox_msg_clone(m);
    char kb[44];
    aox_b64url_encode(aox_identity_public_key(b), 32, kb);
    aox_msg_set_str(t, "node-key", kb);
    CHECK_EQ_INT(aox_identity_verify_msg(t, NULL, NULL, &err), AOX_E_FORBIDDEN);
    CHECK(strstr(err.msg, aox_identity_address(b)) != NULL);
    aox_msg_free(t);
    /* malformed or missing entries */
    t = aox_msg_clone(m);
    aox_msg_remove(t, "node-signature");
    CHECK_EQ_INT(aox_identity_verify_msg(t, NULL, NULL, &err), AOX_E_INVALID);
    aox_msg_set_str(t, "node-signature", "short");
    CHECK_EQ_INT(aox_identity_verify_msg(t, NULL, NULL, &err), AOX_E_INVALID);
    aox_msg_set_int(t, "node-signature", 5);
    CHECK_EQ_INT(aox_identity_verify_msg(t, NULL, NULL, &err), AOX_E_INVALID);
    aox_msg_free(t);
    /* re-signing by b replaces a's signature; the signed content is unchanged */
    t = aox_msg_clone(m);
    CHECK_EQ_INT(aox_identity_sign_msg(b, t), 0);
    CHECK_EQ_INT(aox_msg_count(t), 6);
    CHECK_EQ_INT(aox_identity_verify_msg(t, NULL, addr, &err), 0);
    CHECK_STR(addr, aox_identity_address(b));
    /* signing again is deterministic */
    aox_msg *u = aox_msg_clone(t);
    CHECK_EQ_INT(aox_identity_sign_msg(b, u), 0);
    CHECK(aox_msg_equal(t, u));
    aox_msg_free(u);
    aox_msg_free(t);
    aox_buf_free(&raw);
    aox_buf_free(&enc);
    aox_msg_free(m);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/aox-identity-XXXXXX", t && t[0] ? t : "/tmp");
    REQUIRE(mkdtemp(root));
    test_files();
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/c", root);
    REQUIRE(mkdir(b, 0700) == 0);
    aox_identity *ia = open_dir(a, 0), *ib = open_dir(b, 1);
    test_bytes(ia, ib);
    test_msgs(ia, ib);
    aox_identity_free(ia);
    aox_identity_free(ib);
    nftw(root, rm_fn, 16, FTW_DEPTH | FTW_PHYS);
    return check_report("core_identity");
}
