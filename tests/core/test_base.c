/*
 * tests/core/test_base.c: buffers, the error table and logging.
 */
#include <jansson.h>
#include <pthread.h>
#include "check.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"

static void test_buf(void)
{
    aox_buf b = { 0 };
    CHECK_EQ_INT(aox_buf_append_be64(&b, 0x0102030405060708ULL), 0);
    static const uint8_t be[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    CHECK(b.len == 8 && memcmp(b.data, be, 8) == 0);
    aox_buf_reset(&b);
    CHECK_EQ_INT(b.len, 0);
    /* LEB128: 0, 127, 128, 300, 2^64-1 */
    aox_buf_append_uleb(&b, 0);
    aox_buf_append_uleb(&b, 127);
    aox_buf_append_uleb(&b, 128);
    aox_buf_append_uleb(&b, 300);
    aox_buf_append_uleb(&b, UINT64_MAX);
    static const uint8_t leb[] = { 0x00, 0x7f, 0x80, 0x01, 0xac, 0x02, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    CHECK(b.len == sizeof leb && memcmp(b.data, leb, sizeof leb) == 0);
    aox_buf_reset(&b);
    /* printf longer than any internal scratch space */
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ_INT(aox_buf_printf(&b, "<%s|%d>", big, 42), 0);
    CHECK_EQ_INT(b.len, 999 + 5);
    CHECK(b.data[b.len] == 0 && memcmp(b.data + 1000, "|42>", 4) == 0);
    aox_buf_append_str(&b, "!");
    CHECK(b.data[b.len - 1] == '!' && b.data[b.len] == 0);
    size_t n;
    uint8_t *p = aox_buf_steal(&b, &n);
    CHECK(p && n == 1005 && b.data == NULL && b.len == 0 && b.cap == 0);
    free(p);
    aox_buf_append(&b, "", 0);
    CHECK(b.data && b.data[0] == 0);
    aox_buf_free(&b);
    aox_buf_free(&b);
}

static void test_errors(void)
{
    CHECK_STR(aox_code_name(AOX_OK), "ok");
    CHECK_STR(aox_code_name(AOX_E_NOT_FOUND), "not_found");
    CHECK_STR(aox_code_name(AOX_E_UPSTREAM), "upstream");
    CHECK_STR(aox_code_name(-1), "unknown");
    CHECK_STR(aox_code_name(AOX_E__COUNT), "unknown");
    CHECK_EQ_INT(aox_code_http_status(AOX_E_NOT_YET), 425);
    CHECK_EQ_INT(aox_code_http_status(AOX_E_IO), 500);
    CHECK_EQ_INT(aox_code_http_status(AOX_E_TRAP), 200);
    CHECK_EQ_INT(aox_code_group(AOX_E_OUT_OF_FUEL), AOX_EG_GUEST);
    CHECK_EQ_INT(aox_code_group(AOX_E_BAD_JSON), AOX_EG_CALLER);
    CHECK_EQ_INT(aox_code_group(AOX_E_CORRUPT), AOX_EG_NODE);
    CHECK_EQ_INT(aox_code_group(999), AOX_EG_NODE);
    CHECK(aox_code_is_guest(AOX_E_TRAP));
    CHECK(!aox_code_is_guest(AOX_E_IO));
    /* every code has a distinct name */
    for (int i = 0; i < AOX_E__COUNT; i++)
        for (int j = i + 1; j < AOX_E__COUNT; j++)
            CHECK(strcmp(aox_code_name(i), aox_code_name(j)) != 0);

    aox_err e;
    CHECK_EQ_INT(aox_err_set(&e, AOX_E_CONFLICT, "slot %d taken", 3), AOX_E_CONFLICT);
    CHECK_EQ_INT(e.code, AOX_E_CONFLICT);
    CHECK_STR(e.msg, "slot 3 taken");
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    aox_err_set(&e, AOX_E_IO, "%s", big);
    CHECK_EQ_INT(strlen(e.msg), AOX_ERR_MSG_MAX - 1);
    CHECK_EQ_INT(aox_err_set(NULL, AOX_E_IO, "x"), AOX_E_IO);
    aox_err_clear(&e);
    CHECK(e.code == AOX_OK && e.msg[0] == 0);
}

static void *log_thread(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < 200; i++)
        aox_log(AOX_LOG_INFO, "tick", "\"thread\":%ld,\"i\":%d,\"pad\":\"%0300d\"", id, i, 0);
    return NULL;
}

static void test_log(void)
{
    FILE *f = tmpfile();
    REQUIRE(f);
    aox_log_set_output(f);
    aox_log_level lvl;
    CHECK_EQ_INT(aox_log_level_parse("WARN", &lvl), 0);
    CHECK_EQ_INT(lvl, AOX_LOG_WARN);
    CHECK_EQ_INT(aox_log_level_parse("loud", &lvl), AOX_E_INVALID);
    CHECK_STR(aox_log_level_name(AOX_LOG_DEBUG), "debug");

    aox_log_set_level(AOX_LOG_WARN);
    CHECK_EQ_INT(aox_log_get_level(), AOX_LOG_WARN);
    aox_log(AOX_LOG_INFO, "hidden", NULL);
    aox_log(AOX_LOG_ERROR, "shown", "\"slot\":%d", 5);
    aox_log_kv(AOX_LOG_WARN, "kv", "path", "a\"b\\c\n\x01");
    aox_log_set_level(AOX_LOG_INFO);

    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, log_thread, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    aox_log_set_output(NULL);

    rewind(f);
    char line[4096];
    int lines = 0, ticks = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        CHECK(j != NULL);           /* every line is whole, valid JSON */
        if (!j) {
            fprintf(stderr, "  bad line: %s", line);
            continue;
        }
        const char *ts = json_string_value(json_object_get(j, "ts"));
        /* 2026-11-24T01:22:12.123Z */
        CHECK(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
        const char *ev = json_string_value(json_object_get(j, "event"));
        if (lines == 0) {
            CHECK_STR(ev, "shown");
            CHECK_STR(json_string_value(json_object_get(j, "level")), "error");
            CHECK_EQ_INT(json_integer_value(json_object_get(j, "slot")), 5);
        } else if (lines == 1) {
            CHECK_STR(ev, "kv");
            CHECK_STR(json_string_value(json_object_get(j, "path")), "a\"b\\c\n\x01");
        } else {
            CHECK_STR(ev, "tick");
            ticks++;
        }
        json_decref(j);
        lines++;
    }
    CHECK_EQ_INT(ticks, 800);
    CHECK_EQ_INT(lines, 802);
    fclose(f);
}

int main(void)
{
    test_buf();
    test_errors();
    test_log();
    return check_report("core_base");
}
