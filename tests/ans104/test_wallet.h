/*
 * tests/ans104/test_wallet.h: the signing wallet of a test that takes it on its
 * command line (`PROG WALLET.json`, the ANS-104 vector wallet).
 */
#ifndef AOX_TESTS_TEST_WALLET_H
#define AOX_TESTS_TEST_WALLET_H

#include <stdio.h>

#include "ans104/ans104.h"
#include "core/buf.h"
#include "core/error.h"

/* Reads the JWK file argv[1] into *key. Returns 0, or the exit code after a message
 * on stderr: 2 without the argument, 1 if the file cannot be read or is no key. */
static int tw_wallet_arg(int argc, char **argv, aox_ans104_key **key)
{
    aox_buf w = {0};
    aox_err err = {0};
    char chunk[4096];
    size_t n;
    int rc = 0;
    FILE *f;

    if (argc < 2) {
        fprintf(stderr, "usage: %s WALLET.json\n", argv[0]);
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = aox_buf_append(&w, chunk, n);
    fclose(f);
    if (!rc)
        rc = aox_ans104_key_from_jwk((const char *)w.data, w.len, key, &err);
    aox_buf_free(&w);
    if (rc) {
        fprintf(stderr, "wallet %s: %s\n", argv[1], err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    return 0;
}

#endif
