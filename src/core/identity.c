/*
 * core/identity.c: node key pair, address and Ed25519 signatures (identity.h), on
 * OpenSSL's EVP interface.
 */
#include "core/identity.h"
#include "core/id.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct aox_identity {
    EVP_PKEY *key;
    uint8_t   pub[AOX_ED25519_PUB_LEN];
    char      addr[AOX_ID_LEN + 1];
};

/* ------------------------------------------------------------------ key file */

static int path_of(char *out, size_t n, const char *dir, const char *name)
{
    int w = snprintf(out, n, "%s/%s", dir, name);
    return w > 0 && (size_t)w < n ? AOX_OK : AOX_E_INVALID;
}

/* Loads an Ed25519 private key from path into *out. */
static int key_load(const char *path, EVP_PKEY **out, aox_err *err)
{
    struct stat st;
    FILE *f = NULL;
    int rc = AOX_OK;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return aox_err_set(err, errno == ENOENT ? AOX_E_NOT_FOUND : AOX_E_IO,
                           "identity: open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = aox_err_set(err, AOX_E_IO, "identity: stat %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        rc = aox_err_set(err, AOX_E_CONFIG,
                         "identity: %s must be a regular file of mode 0600 (it is %04o)",
                         path, (unsigned)(st.st_mode & 07777));
        goto done;
    }
    if (!(f = fdopen(fd, "r"))) {
        rc = aox_err_set(err, AOX_E_IO, "identity: fdopen %s: %s", path, strerror(errno));
        goto done;
    }
    fd = -1;
    *out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    if (!*out || EVP_PKEY_id(*out) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(*out);
        *out = NULL;
        rc = aox_err_set(err, AOX_E_CORRUPT, "identity: %s is not an Ed25519 PEM private key",
                         path);
    }
done:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Creates a key at path unless one appears there first: write a temporary file,
 * fsync it, link() it into place (fails if path exists), fsync the directory. */
static int key_create(const char *dir, const char *path, aox_err *err)
{
    char tmp[4200];
    EVP_PKEY_CTX *kc = NULL;
    EVP_PKEY *key = NULL;
    FILE *f = NULL;
    int fd = -1, rc = AOX_OK, linked = 0;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (!(kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) || EVP_PKEY_keygen_init(kc) != 1 ||
        EVP_PKEY_keygen(kc, &key) != 1) {
        rc = aox_err_set(err, AOX_E_INTERNAL, "identity: Ed25519 key generation failed");
        goto done;
    }
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = aox_err_set(err, AOX_E_IO, "identity: create %s: %s", tmp, strerror(errno));
        goto done;
    }
    if (fchmod(fd, 0600) != 0 || !(f = fdopen(fd, "w"))) {
        rc = aox_err_set(err, AOX_E_IO, "identity: %s: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        rc = aox_err_set(err, AOX_E_IO, "identity: writing %s failed", tmp);
        goto done;
    }
    if (link(tmp, path) == 0) {
        linked = 1;
    } else if (errno != EEXIST) {
        rc = aox_err_set(err, AOX_E_IO, "identity: link %s: %s", path, strerror(errno));
        goto done;
    }
    if (linked) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
done:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(kc);
    return rc;
}

int aox_identity_open(const char *dir, aox_identity **out, int *created, aox_err *err)
{
    char path[4096];
    aox_identity *id = NULL;
    EVP_PKEY *key = NULL;
    int rc;
    size_t pl = AOX_ED25519_PUB_LEN;
    *out = NULL;
    if (created)
        *created = 0;
    if (!dir || !dir[0] || path_of(path, sizeof path - 32, dir, AOX_IDENTITY_FILE))
        return aox_err_set(err, AOX_E_INVALID, "identity: bad data directory");
    rc = key_load(path, &key, err);
    if (rc == AOX_E_NOT_FOUND) {
        if ((rc = key_create(dir, path, err)))
            goto fail;
        if (created)
            *created = 1;
        rc = key_load(path, &key, err);
    }
    if (rc)
        goto fail;
    if (!(id = calloc(1, sizeof *id))) {
        rc = aox_err_set(err, AOX_E_NOMEM, "identity: out of memory");
        goto fail;
    }
    if (EVP_PKEY_get_raw_public_key(key, id->pub, &pl) != 1 || pl != AOX_ED25519_PUB_LEN) {
        rc = aox_err_set(err, AOX_E_CORRUPT, "identity: cannot read the public key");
        goto fail;
    }
    id->key = key;
    aox_identity_address_of(id->pub, id->addr);
    *out = id;
    return AOX_OK;
fail:
    EVP_PKEY_free(key);
    free(id);
    return rc;
}

void aox_identity_free(aox_identity *id)
{
    if (!id)
        return;
    EVP_PKEY_free(id->key);
    free(id);
}

const char *aox_identity_address(const aox_identity *id)
{
    return id->addr;
}

const uint8_t *aox_identity_public_key(const aox_identity *id)
{
    return id->pub;
}

void aox_identity_address_of(const uint8_t pub[AOX_ED25519_PUB_LEN],
                             char out[AOX_ID_LEN + 1])
{
    uint8_t h[AOX_HASH_LEN];
    aox_sha256(pub, AOX_ED25519_PUB_LEN, h);
    aox_id_from_hash(h, out);
}

/* ------------------------------------------------------------------ bytes */

int aox_identity_sign(const aox_identity *id, const void *p, size_t n,
                      uint8_t sig[AOX_ED25519_SIG_LEN])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t sl = AOX_ED25519_SIG_LEN;
    int rc = AOX_OK;
    if (!c)
        return AOX_E_NOMEM;
    if (EVP_DigestSignInit(c, NULL, NULL, NULL, id->key) != 1 ||
        EVP_DigestSign(c, sig, &sl, p ? p : (const void *)"", n) != 1 ||
        sl != AOX_ED25519_SIG_LEN)
        rc = AOX_E_INTERNAL;
    EVP_MD_CTX_free(c);
    return rc;
}

int aox_identity_verify(const uint8_t pub[AOX_ED25519_PUB_LEN], const void *p, size_t n,
                        const uint8_t sig[AOX_ED25519_SIG_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
                                              AOX_ED25519_PUB_LEN);
    EVP_MD_CTX *c = NULL;
    int rc = AOX_E_FORBIDDEN;
    if (!k)
        return AOX_E_FORBIDDEN;         /* not a valid public key */
    if (!(c = EVP_MD_CTX_new())) {
        rc = AOX_E_NOMEM;
        goto done;
    }
    if (EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1 &&
        EVP_DigestVerify(c, sig, AOX_ED25519_SIG_LEN, p ? p : (const void *)"", n) == 1)
        rc = AOX_OK;
done:
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    return rc;
}

/* ------------------------------------------------------------------ messages */

/* The signed bytes: encoding of m without the two signature entries. */
static int signed_bytes(const aox_msg *m, aox_buf *out)
{
    aox_msg *c = aox_msg_clone(m);
    int rc;
    if (!c)
        return AOX_E_NOMEM;
    aox_msg_remove(c, AOX_SIG_KEY_ENTRY);
    aox_msg_remove(c, AOX_SIG_ENTRY);
    rc = aox_msg_encode(c, out);
    aox_msg_free(c);
    return rc;
}

int aox_identity_sign_msg(const aox_identity *id, aox_msg *m)
{
    aox_buf b = { 0 };
    uint8_t sig[AOX_ED25519_SIG_LEN];
    char sig64[90], key64[AOX_ID_LEN + 1];
    int rc;
    aox_msg_remove(m, AOX_SIG_ENTRY);
    if ((rc = signed_bytes(m, &b)) || (rc = aox_identity_sign(id, b.data, b.len, sig)))
        goto done;
    aox_b64url_encode(sig, sizeof sig, sig64);
    aox_b64url_encode(id->pub, sizeof id->pub, key64);
    if ((rc = aox_msg_set_str(m, AOX_SIG_KEY_ENTRY, key64)) ||
        (rc = aox_msg_set_str(m, AOX_SIG_ENTRY, sig64)))
        goto done;
done:
    aox_buf_free(&b);
    return rc;
}

/* Decodes the base64url text of entry `key` into exactly n bytes. */
static int entry_raw(const aox_msg *m, const char *key, uint8_t *out, size_t n)
{
    size_t len;
    aox_buf b = { 0 };
    int rc = AOX_E_INVALID;
    const char *s = aox_msg_get_str(m, key, &len);
    if (s && len == aox_b64url_len(n) && aox_b64_decode(s, len, &b) == 0 && b.len == n) {
        memcpy(out, b.data, n);
        rc = AOX_OK;
    }
    aox_buf_free(&b);
    return rc;
}

int aox_identity_verify_msg(const aox_msg *m, const char *expect_addr,
                            char addr_out[AOX_ID_LEN + 1], aox_err *err)
{
    uint8_t pub[AOX_ED25519_PUB_LEN], sig[AOX_ED25519_SIG_LEN];
    char addr[AOX_ID_LEN + 1];
    aox_buf b = { 0 };
    int rc;
    if (addr_out)
        addr_out[0] = 0;
    if (entry_raw(m, AOX_SIG_KEY_ENTRY, pub, sizeof pub) ||
        entry_raw(m, AOX_SIG_ENTRY, sig, sizeof sig)) {
        rc = aox_err_set(err, AOX_E_INVALID,
                         "identity: message lacks a well-formed node-key/node-signature");
        goto done;
    }
    aox_identity_address_of(pub, addr);
    if ((rc = signed_bytes(m, &b))) {
        aox_err_set(err, rc, "identity: cannot encode the message");
        goto done;
    }
    if ((rc = aox_identity_verify(pub, b.data, b.len, sig))) {
        aox_err_set(err, rc, "identity: node-signature does not verify for node %s", addr);
        goto done;
    }
    if (addr_out)
        memcpy(addr_out, addr, sizeof addr);
    if (expect_addr && strcmp(expect_addr, addr) != 0)
        rc = aox_err_set(err, AOX_E_FORBIDDEN, "identity: signed by %s, expected %s", addr,
                         expect_addr);
done:
    aox_buf_free(&b);
    return rc;
}
