/*
 * tests/aos/aos_unit_test.c: engine-free unit tests of src/aos/: the in-memory file
 * system (aos_fs) and the aos JSON interface shapes (aos_json).
 *   aos_unit_test fs | json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/aos.h"
#include "aos/aos_fs.h"
#include "aos/aos_json.h"
#include "core/json.h"
#include "device/device.h"

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", \
                                           __FILE__, __LINE__, #c); failures++; } } while (0)

static void test_fs(void)
{
    char n[64];
    CHECK(aos_fs_normalize("a//b/./c/../d", n, sizeof n) == 0 && strcmp(n, "/a/b/d") == 0);
    CHECK(aos_fs_normalize("/../..", n, sizeof n) == 0 && strcmp(n, "/") == 0);

    aos_fs *fs = aos_fs_new();
    CHECK(fs != NULL);
    CHECK(aos_fs_open(fs, "/nope/x", AOS_O_WRONLY | AOS_O_CREAT) == -2);   /* ENOENT */
    CHECK(aos_fs_mkdir(fs, "/nope") == 0);
    int fd = aos_fs_open(fs, "/nope/x", AOS_O_RDWR | AOS_O_CREAT);
    CHECK(fd >= 3);
    CHECK(aos_fs_write(fs, fd, "hello world", 11) == 11);
    CHECK(aos_fs_seek(fs, fd, 6, 0) == 6);
    char buf[32] = "";
    CHECK(aos_fs_read(fs, fd, buf, sizeof buf) == 5 && memcmp(buf, "world", 5) == 0);
    CHECK(aos_fs_pwrite(fs, fd, "W", 1, 6) == 1);
    CHECK(aos_fs_truncate_fd(fs, fd, 8) == 0);
    aos_stat st;
    CHECK(aos_fs_stat(fs, "/nope/x", &st) == 0 && st.size == 8 && !st.is_dir);
    CHECK(aos_fs_stat(fs, "/data", &st) == 0 && st.is_dir);
    CHECK(aos_fs_rmdir(fs, "/nope") == -39);                               /* ENOTEMPTY */
    CHECK(aos_fs_open(fs, "/nope/x", AOS_O_CREAT | AOS_O_EXCL | AOS_O_WRONLY) == -17);

    /* snapshot round trip keeps files and open fds */
    aox_buf enc = {0};
    CHECK(aos_fs_encode(fs, &enc) == 0);
    aos_fs *back = aos_fs_decode(enc.data, enc.len);
    CHECK(back != NULL);
    aox_buf b1 = {0}, b2 = {0};
    CHECK(aos_fs_read_file(back, "/nope/x", &b1) == 0 && b1.len == 8 &&
          memcmp(b1.data, "hello Wo", 8) == 0);
    CHECK(aos_fs_seek(back, fd, 0, 1) == 11);                   /* position survived */
    aox_buf enc2 = {0};
    CHECK(aos_fs_encode(back, &enc2) == 0 && enc2.len == enc.len &&
          memcmp(enc.data, enc2.data, enc.len) == 0);
    CHECK(aos_fs_decode(enc.data, enc.len - 1) == NULL);        /* truncated: rejected */

    /* clone is independent */
    aos_fs *c = aos_fs_clone(fs);
    CHECK(aos_fs_unlink(fs, "/nope/x") == 0);
    CHECK(aos_fs_read_file(fs, "/nope/x", &b2) == -2);
    CHECK(aos_fs_read_file(c, "/nope/x", &b2) == 0 && b2.len == 8);
    CHECK(aos_fs_rename(c, "/nope/x", "/data/y") == 0);
    CHECK(aos_fs_stat(c, "/nope/x", &st) == -2 && aos_fs_stat(c, "/data/y", &st) == 0);

    /* capture of stdout */
    CHECK(aos_fs_write(fs, 1, "out", 3) == 3);
    CHECK(aos_fs_capture(fs, 1)->len == 3);
    aos_fs_reset_capture(fs);
    CHECK(aos_fs_capture(fs, 1)->len == 0);

    /* directory listing */
    int dfd = aos_fs_open(c, "/data", AOS_O_RDONLY | AOS_O_DIRECTORY);
    uint64_t cookie = 0;
    int is_dir = 0;
    CHECK(dfd >= 3 && aos_fs_readdir(c, dfd, &cookie, n, sizeof n, &is_dir) == 1 &&
          strcmp(n, "y") == 0 && !is_dir);
    CHECK(aos_fs_readdir(c, dfd, &cookie, n, sizeof n, &is_dir) == 0);

    aox_buf_free(&enc);
    aox_buf_free(&enc2);
    aox_buf_free(&b1);
    aox_buf_free(&b2);
    aos_fs_free(fs);
    aos_fs_free(back);
    aos_fs_free(c);
}

static void test_json(void)
{
    aox_msg *m = aox_msg_new();
    aox_err err = {0};
    aox_buf out = {0};
    aos_json_ctx ctx = { "PID0000000000000000000000000000000000000001", "MOD", 1700000000123,
                         1500, NULL, NULL };
    /* keys in sorted order become tags in header case */
    aox_msg_set_str(m, "action", "Eval");
    aox_msg_set_str(m, "data-protocol", "ao");
    aox_msg_set_str(m, "data", "return 1");
    aox_msg_set_int(m, "count", 3);
    CHECK(aos_json_message(m, &ctx, &out, &err) == 0);
    json_t *j = json_loadb((const char *)out.data, out.len, 0, NULL);
    CHECK(j != NULL);
    CHECK(strcmp(json_string_value(json_object_get(j, "Data")), "return 1") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "Target")), ctx.pid) == 0);
    CHECK(json_integer_value(json_object_get(j, "Timestamp")) == 1700000000123);
    CHECK(json_integer_value(json_object_get(j, "Block-Height")) == 1500);
    json_t *tags = json_object_get(j, "Tags");
    CHECK(json_array_size(tags) == 3);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(tags, 0), "name")), "Action") == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(tags, 1), "value")), "3") == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(tags, 2), "name")),
                 "Data-Protocol") == 0);
    json_decref(j);

    /* an explicit tags list keeps its order and case; owner -> address; From */
    aox_msg *m2 = aox_msg_new();
    aox_msg *t1 = aox_msg_new(), *t2 = aox_msg_new();
    aox_msg_set_str(t1, "name", "Zeta");
    aox_msg_set_str(t1, "value", "1");
    aox_msg_set_str(t2, "name", "Action");
    aox_msg_set_str(t2, "value", "Ping");
    aox_msg_list_append_msg(m2, "tags", t1);
    aox_msg_list_append_msg(m2, "tags", t2);
    aox_msg_set_str(m2, "owner", "AAAA");                /* base64url of 3 zero bytes */
    aox_msg_set_str(m2, "from-process", "SENDER");
    aox_buf_reset(&out);
    CHECK(aos_json_message(m2, &ctx, &out, &err) == 0);
    j = json_loadb((const char *)out.data, out.len, 0, NULL);
    tags = json_object_get(j, "Tags");
    CHECK(json_array_size(tags) == 2);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(tags, 0), "name")), "Zeta") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "From")), "SENDER") == 0);
    CHECK(strlen(json_string_value(json_object_get(j, "Owner"))) == 43);
    json_decref(j);

    /* env */
    aox_buf_reset(&out);
    const char *mt = "[{\"name\":\"Module-Format\",\"value\":\"wasm32-unknown-emscripten\"}]";
    CHECK(aos_json_env(m, &ctx, mt, strlen(mt), &out, &err) == 0);
    j = json_loadb((const char *)out.data, out.len, 0, NULL);
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(j, "Process"), "Id")),
                 ctx.pid) == 0);
    CHECK(json_array_size(json_object_get(json_object_get(j, "Module"), "Tags")) == 1);
    json_decref(j);
    char *fmt = aos_json_tag_value(mt, strlen(mt), "module-format");
    CHECK(fmt && strcmp(fmt, "wasm32-unknown-emscripten") == 0);
    free(fmt);

    /* results */
    const char *ok = "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"hi\",\"prompt\":\"> \","
                     "\"x\":null},\"Messages\":[{\"Target\":\"T1\",\"Data\":\"d\",\"Tags\":"
                     "[{\"name\":\"Action\",\"value\":\"Reply\"}]}],\"Spawns\":[],"
                     "\"Assignments\":[{\"Processes\":[\"P\"],\"Message\":\"M\"}]}}";
    aox_msg *r = aox_msg_new();
    CHECK(aos_json_result(ok, strlen(ok), &ctx, r) == 0);
    CHECK(!aox_result_is_error(r));
    const aox_msg *o = aox_msg_get_msg(r, "output");
    CHECK(o && strcmp(aox_msg_get_str(o, "data", NULL), "hi") == 0 && !aox_msg_get(o, "x"));
    const aox_value *ob = aox_msg_get(r, "outbox");
    CHECK(ob && ob->type == AOX_V_LIST && ob->u.list.len == 1);
    const aox_msg *om = ob->u.list.items[0].u.msg;
    CHECK(strcmp(aox_msg_get_str(om, "target", NULL), "T1") == 0);
    CHECK(strcmp(aox_msg_get_str(om, "action", NULL), "Reply") == 0);
    CHECK(strcmp(aox_msg_get_str(om, "from-process", NULL), ctx.pid) == 0);
    CHECK(aox_msg_get(om, "original-tags") != NULL);
    const aox_value *as = aox_msg_get(r, "assignments");
    CHECK(as && as->u.list.len == 1);
    CHECK(!aox_msg_get(r, "spawns"));
    aox_msg_free(r);

    const char *bad[] = { "{\"ok\":tru", "[1]", "{\"ok\":false,\"response\":\"boom\"}",
                          "{\"ok\":true,\"response\":{\"Error\":\"no\"}}",
                          "{\"ok\":true,\"response\":7}", "", NULL };
    for (int i = 0; bad[i]; i++) {
        r = aox_msg_new();
        CHECK(aos_json_result(bad[i], strlen(bad[i]), &ctx, r) == 0);
        CHECK(aox_result_is_error(r));
        aox_msg_free(r);
    }
    r = aox_msg_new();
    aos_json_result(bad[2], strlen(bad[2]), &ctx, r);
    CHECK(strcmp(aox_msg_get_str(aox_msg_get_msg(r, "error"), "message", NULL), "boom") == 0);
    aox_msg_free(r);

    uint64_t sz;
    CHECK(aox_aos_parse_size("1-gb", &sz) == 0 && sz == (1ull << 30));
    CHECK(aox_aos_parse_size("524288000", &sz) == 0 && sz == 524288000ull);
    CHECK(aox_aos_parse_size("16-GB", &sz) == 0 && sz == (16ull << 30));
    CHECK(aox_aos_parse_size("lots", &sz) != 0);

    aox_buf_free(&out);
    aox_msg_free(m);
    aox_msg_free(m2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (strcmp(argv[1], "fs") == 0)
        test_fs();
    else if (strcmp(argv[1], "json") == 0)
        test_json();
    else
        return 2;
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
