/*
 * tests/ans104/ans104_tool.c: test helper for the JS cross-check
 * (tests/aoconnect/crosscheck.mjs).
 *
 *   ans104_tool sign WALLET.json OUT_DIR
 *       writes c_*.bin items signed by aox (several shapes and salt lengths) and
 *       OUT_DIR/manifest.json: [{file, id, owner_address, target, anchor, tags,
 *       data_b64}] as aox computed them, for arbundles to check.
 *   ans104_tool verify FILE...
 *       prints "<file> <id> ok" or "<file> bad: <reason>"; exit 1 if any is bad.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "ans104/ans104.h"
#include "core/id.h"

static int slurp(const char *path, aox_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) aox_buf_append(out, tmp, n);
    fclose(f);
    return 0;
}

static json_t *b64url(const uint8_t *p, size_t n)
{
    char *s = malloc(aox_b64url_len(n) + 1);
    aox_b64url_encode(p, n, s);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static int cmd_verify(int argc, char **argv)
{
    int bad = 0;
    for (int i = 0; i < argc; i++) {
        aox_buf b = {0};
        aox_ans104_item *it = NULL;
        aox_err err = {0};
        if (slurp(argv[i], &b)) { printf("%s bad: cannot read\n", argv[i]); bad = 1; continue; }
        if (aox_ans104_parse(b.data, b.len, &it, &err) || aox_ans104_verify(it, &err)) {
            printf("%s bad: %s\n", argv[i], err.msg);
            bad = 1;
        } else {
            char id[AOX_ID_LEN + 1];
            aox_ans104_id(it, id);
            printf("%s %s ok\n", argv[i], id);
        }
        aox_ans104_free(it);
        aox_buf_free(&b);
    }
    return bad;
}

#define T(n, v) { (const uint8_t *)(n), sizeof(n) - 1, (const uint8_t *)(v), sizeof(v) - 1 }

static int cmd_sign(const char *wallet, const char *dir)
{
    aox_buf w = {0}, out = {0};
    aox_ans104_key *k = NULL;
    aox_err err = {0};
    int rc = 1;
    json_t *manifest = json_array();
    if (slurp(wallet, &w) || aox_ans104_key_from_jwk((const char *)w.data, w.len, &k, &err)) {
        fprintf(stderr, "cannot load %s: %s\n", wallet, err.msg);
        goto done;
    }
    static const uint8_t target[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
                                        31, 255 };
    static const uint8_t anchor[32] = "00000000000000000000000000000042";
    static const aox_ans104_tag tags[] = {
        T("Data-Protocol", "ao"), T("Variant", "ao.TN.1"), T("Type", "Message"),
        T("Action", "Eval"), T("Ünïcødé", "✓ yes"), T("Empty", ""),
    };
    static const uint8_t bin[] = { 0, 1, 2, 3, 255, 0, 128 };
    struct { const char *file; aox_ans104_spec spec; int salt; } cases[] = {
        { "c_full.bin",   { target, anchor, tags, 6, (const uint8_t *)"return 1 + 1", 12 }, -1 },
        { "c_salt0.bin",  { target, NULL, tags, 3, bin, sizeof bin }, 0 },
        { "c_empty.bin",  { NULL, NULL, NULL, 0, NULL, 0 }, 32 },
        { "c_anchor.bin", { NULL, anchor, tags + 3, 1, (const uint8_t *)" ", 1 }, 478 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char path[1024];
        aox_buf_reset(&out);
        if (aox_ans104_create(&cases[c].spec, k, cases[c].salt, &out, &err)) {
            fprintf(stderr, "%s: %s\n", cases[c].file, err.msg);
            goto done;
        }
        snprintf(path, sizeof path, "%s/%s", dir, cases[c].file);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(out.data, 1, out.len, f) != out.len) {
            fprintf(stderr, "cannot write %s\n", path);
            if (f) fclose(f);
            goto done;
        }
        fclose(f);
        aox_ans104_item *it = NULL;
        if (aox_ans104_parse(out.data, out.len, &it, &err)) { fprintf(stderr, "%s\n", err.msg); goto done; }
        char id[AOX_ID_LEN + 1], addr[AOX_ANS104_ADDR_LEN + 1];
        aox_ans104_id(it, id);
        aox_ans104_owner_address(it, addr);
        json_t *e = json_object(), *jt = json_array();
        size_t l;
        const uint8_t *p;
        json_object_set_new(e, "file", json_string(cases[c].file));
        json_object_set_new(e, "id", json_string(id));
        json_object_set_new(e, "owner_address", json_string(addr));
        p = aox_ans104_target(it, &l);
        json_object_set_new(e, "target", p ? b64url(p, l) : json_string(""));
        p = aox_ans104_anchor(it, &l);
        json_object_set_new(e, "anchor", json_stringn(p ? (const char *)p : "", l));
        for (size_t t = 0; t < aox_ans104_tag_count(it); t++) {
            const aox_ans104_tag *tg = aox_ans104_tag_at(it, t);
            json_t *o = json_object();
            json_object_set_new(o, "name", json_stringn((const char *)tg->name, tg->name_len));
            json_object_set_new(o, "value", json_stringn((const char *)tg->value, tg->value_len));
            json_array_append_new(jt, o);
        }
        json_object_set_new(e, "tags", jt);
        p = aox_ans104_data(it, &l);
        {
            char *s = malloc(aox_b64url_len(l) + 1);
            aox_b64url_encode(p, l, s);
            json_object_set_new(e, "data_b64url", json_string(s));
            free(s);
        }
        json_array_append_new(manifest, e);
        aox_ans104_free(it);
    }
    char mpath[1024];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    if (json_dump_file(manifest, mpath, JSON_INDENT(1))) { fprintf(stderr, "cannot write manifest\n"); goto done; }
    rc = 0;
done:
    json_decref(manifest);
    aox_ans104_key_free(k);
    aox_buf_free(&w);
    aox_buf_free(&out);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "sign") == 0) return cmd_sign(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "verify") == 0) return cmd_verify(argc - 2, argv + 2);
    fprintf(stderr, "usage: %s sign WALLET OUT_DIR | verify FILE...\n", argv[0]);
    return 2;
}
