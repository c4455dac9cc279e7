/*
 * tests/node/test_options.c: the runtime option table — defaults, precedence
 * (flag > env > config file > default), parsing of sizes/durations/bools/enums,
 * validation errors naming their source, config-file sections, and the views
 * (JSON, help, Markdown) covering every option.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/options.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    failures++; } } while (0)

static char tmpdir[] = "/tmp/aox-node-test-XXXXXX";

/* Returns a path in a static ring, valid for the next few calls. */
static const char *write_file(const char *name, const char *text)
{
    static char ring[8][256];
    static int next;
    char *path = ring[next++ % 8];
    FILE *f;
    snprintf(path, sizeof ring[0], "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    if (!f) { perror(path); exit(1); }
    fputs(text, f);
    fclose(f);
    return path;
}

/* load with argv (NULL-terminated list) and envp; returns the code */
static int load(aox_node_config *c, char **argv, char **envp, aox_err *err)
{
    int argc = 0;
    while (argv && argv[argc]) argc++;
    if (aox_node_config_init(c) != 0) { fprintf(stderr, "init failed\n"); exit(1); }
    aox_err_clear(err);
    return aox_node_config_load(c, argc, argv, envp, err);
}

static void test_defaults(void)
{
    aox_node_config c;
    aox_err err;
    char *env[] = { NULL };
    CHECK(load(&c, NULL, env, &err) == 0);
    CHECK(c.port == 8734);
    CHECK(strcmp(c.bind, "127.0.0.1") == 0);
    CHECK(strcmp(c.data, "./aox-data") == 0);
    CHECK(c.snapshot_every == 64);
    CHECK(c.max_body == 16u * 1024 * 1024);
    CHECK(c.log_level == 1);            /* info */
    CHECK(c.clock_fixed_ms == -1);
    CHECK(c.store_no_sync == 0);
    CHECK(c.http_timeout_ms == 60000);
    for (size_t i = 0; i < aox_node_opt_count(); i++)
        CHECK(c.source[i] == AOX_SRC_DEFAULT);
    aox_node_config_free(&c);
}

static void test_precedence(void)
{
    aox_node_config c;
    aox_err err;
    const char *file = write_file("prec.conf",
        "# comment\n; another\n\nport = 1000\nsnapshot-every=7\nbind = \"::1\"\n"
        "log_level = warn\n");
    char envcfg[300], *env_all[4], *env_file[2];
    char *flags[] = { (char *)"--port", (char *)"3000", NULL };
    char *flags_cfg[] = { (char *)"--config", (char *)file, (char *)"--port=3001", NULL };
    const aox_node_opt *port = aox_node_opt_find("port");

    snprintf(envcfg, sizeof envcfg, "AOX_CONFIG=%s", file);
    env_all[0] = envcfg; env_all[1] = (char *)"AOX_PORT=2000";
    env_all[2] = (char *)"AOX_SNAPSHOT_EVERY=9"; env_all[3] = NULL;
    env_file[0] = envcfg; env_file[1] = NULL;

    /* flag beats env beats file */
    CHECK(load(&c, flags, env_all, &err) == 0);
    CHECK(c.port == 3000);
    CHECK(c.source[port - aox_node_opt_at(0)] == AOX_SRC_FLAG);
    CHECK(c.snapshot_every == 9);              /* env beats file */
    CHECK(strcmp(c.bind, "::1") == 0);         /* file beats default, quotes stripped */
    CHECK(c.log_level == 2);                   /* underscore spelling accepted */
    aox_node_config_free(&c);

    /* env beats file */
    CHECK(load(&c, NULL, env_all, &err) == 0);
    CHECK(c.port == 2000);
    CHECK(c.source[port - aox_node_opt_at(0)] == AOX_SRC_ENV);
    aox_node_config_free(&c);

    /* file beats default */
    CHECK(load(&c, NULL, env_file, &err) == 0);
    CHECK(c.port == 1000);
    CHECK(c.snapshot_every == 7);
    CHECK(c.source[port - aox_node_opt_at(0)] == AOX_SRC_FILE);
    {
        json_t *j = aox_node_config_to_json(&c, 1);
        json_t *p = json_object_get(json_object_get(j, "port"), "value");
        json_t *s = json_object_get(json_object_get(j, "port"), "source");
        CHECK(json_integer_value(p) == 1000);
        CHECK(s && strcmp(json_string_value(s), "file") == 0);
        CHECK(json_object_size(j) == aox_node_opt_count());
        json_decref(j);
    }
    aox_node_config_free(&c);

    /* --config on the command line, no environment */
    {
        char *noenv[] = { NULL };
        CHECK(load(&c, flags_cfg, noenv, &err) == 0);
        CHECK(c.port == 3001);
        CHECK(c.snapshot_every == 7);
        aox_node_config_free(&c);
    }
    /* AOX_DATA is the data option's variable */
    {
        char *env[] = { (char *)"AOX_DATA=/srv/aox", (char *)"AOX_OTHER=1", NULL };
        CHECK(load(&c, NULL, env, &err) == 0);
        CHECK(strcmp(c.data, "/srv/aox") == 0);
        aox_node_config_free(&c);
    }
}

static void test_values(void)
{
    aox_node_config c;
    aox_err err;
    char *env[] = { NULL };
    char *flags[] = { (char *)"--max-body", (char *)"64K", (char *)"--max-memory=1MiB",
                      (char *)"--http-timeout", (char *)"5s", (char *)"--max-wall=250ms",
                      (char *)"--store-no-sync", (char *)"--log-level", (char *)"DEBUG",
                      (char *)"--block-height", (char *)"42", (char *)"--clock-fixed-ms=0",
                      NULL };
    char *neg[] = { (char *)"--store-no-sync", (char *)"--no-store-no-sync", NULL };
    CHECK(load(&c, flags, env, &err) == 0);
    CHECK(c.max_body == 65536);
    CHECK(c.max_memory == 1048576);
    CHECK(c.http_timeout_ms == 5000);
    CHECK(c.max_wall_ms == 250);
    CHECK(c.store_no_sync == 1);
    CHECK(c.log_level == 0);
    CHECK(c.block_height == 42);
    CHECK(c.clock_fixed_ms == 0);
    {
        aox_buf b = {0};
        CHECK(aox_node_config_format(&c, aox_node_opt_find("http-timeout"), &b) == 0);
        CHECK(strcmp((char *)b.data, "5000ms") == 0);
        aox_buf_free(&b);
    }
    aox_node_config_free(&c);
    CHECK(load(&c, neg, env, &err) == 0);
    CHECK(c.store_no_sync == 0);
    aox_node_config_free(&c);
}

/* Each bad input must fail with AOX_E_INVALID/CONFIG and a message containing `want`. */
static void expect_fail(char **argv, char **envp, int code, const char *want)
{
    aox_node_config c;
    aox_err err;
    int rc = load(&c, argv, envp, &err);
    CHECK(rc == code);
    if (rc != code || !strstr(err.msg, want)) {
        fprintf(stderr, "  got rc=%d msg='%s', wanted code %d and '%s'\n", rc, err.msg,
                code, want);
        if (rc == code) failures++;
    }
    aox_node_config_free(&c);
}

static void test_validation(void)
{
    char *noenv[] = { NULL };
#define A(...) ((char *[]){ __VA_ARGS__, NULL })
    expect_fail(A("--port", "70000"), noenv, AOX_E_INVALID, "port");
    expect_fail(A("--port", "-1"), noenv, AOX_E_INVALID, "port");
    expect_fail(A("--port", "12ab"), noenv, AOX_E_INVALID, "port");
    expect_fail(A("--port"), noenv, AOX_E_INVALID, "needs a value");
    expect_fail(A("--snapshot-every", "0"), noenv, AOX_E_INVALID, "snapshot-every");
    expect_fail(A("--max-body", "12XB"), noenv, AOX_E_INVALID, "max-body");
    expect_fail(A("--max-body", "99999999999999999999"), noenv, AOX_E_INVALID, "max-body");
    expect_fail(A("--log-level", "loud"), noenv, AOX_E_INVALID, "debug, info");
    expect_fail(A("--store-no-sync=maybe"), noenv, AOX_E_INVALID, "store-no-sync");
    expect_fail(A("--frobnicate"), noenv, AOX_E_INVALID, "unknown option '--frobnicate'");
    expect_fail(A("stray"), noenv, AOX_E_INVALID, "unexpected argument");
    expect_fail(A("--http-timeout", "5 fortnights"), noenv, AOX_E_INVALID, "http-timeout");
    expect_fail(NULL, A("AOX_PORT=abc"), AOX_E_INVALID, "AOX_PORT");
    {
        const char *bad = write_file("bad.conf", "port = 1\nsnapshot-every = 0\n");
        const char *unk = write_file("unk.conf", "# x\nprot = 1\n");
        const char *syn = write_file("syn.conf", "port 1\n");
        const char *cfg = write_file("cfg.conf", "config = other.conf\n");
        expect_fail(A("--config", (char *)bad), noenv, AOX_E_CONFIG, "bad.conf:2");
        expect_fail(A("--config", (char *)unk), noenv, AOX_E_CONFIG,
                    "unk.conf:2: unknown option 'prot'");
        expect_fail(A("--config", (char *)syn), noenv, AOX_E_CONFIG, "syn.conf:1");
        expect_fail(A("--config", (char *)cfg), noenv, AOX_E_CONFIG, "cannot be set");
        expect_fail(A("--config", "/nonexistent/aox.conf"), noenv, AOX_E_CONFIG,
                    "/nonexistent/aox.conf");
    }
#undef A
}

static void test_sections(void)
{
    aox_node_config c;
    aox_err err;
    char *noenv[] = { NULL };
    const char *f = write_file("sec.conf",
        "port = 1234\n[processes.counter]\nport = 9\nwhatever = 1\n[other]\nx = y\n");
    char *argv[] = { (char *)"--config", (char *)f, NULL };
    CHECK(load(&c, argv, noenv, &err) == 0);
    CHECK(c.port == 1234);                       /* section contents ignored */
    CHECK(c.warnings.len > 0);
    /* [processes.NAME] defines a node process (node/names.c): no warning */
    CHECK(!strstr((char *)c.warnings.data, "processes.counter"));
    CHECK(c.warnings.data && strstr((char *)c.warnings.data, "[other]"));
    aox_node_config_free(&c);
}

static void test_views(void)
{
    aox_buf help = {0}, md = {0};
    CHECK(aox_node_config_help(&help) == 0);
    CHECK(aox_node_config_markdown(&md) == 0);
    for (size_t i = 0; i < aox_node_opt_count(); i++) {
        const aox_node_opt *o = aox_node_opt_at(i);
        char flag[80], env[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        aox_node_opt_env_name(o, env);
        CHECK(strstr((char *)help.data, flag) != NULL);
        CHECK(strstr((char *)help.data, env) != NULL);
        CHECK(strstr((char *)md.data, flag) != NULL);
        CHECK(aox_node_opt_find(o->name) == o);
    }
    CHECK(aox_node_opt_find("snapshot_every") == aox_node_opt_find("snapshot-every"));
    CHECK(aox_node_opt_find("nope") == NULL);
    {
        char env[64];
        aox_node_opt_env_name(aox_node_opt_find("live-states-max"), env);
        CHECK(strcmp(env, "AOX_LIVE_STATES_MAX") == 0);
    }
    aox_buf_free(&help);
    aox_buf_free(&md);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_defaults();
    test_precedence();
    test_values();
    test_validation();
    test_sections();
    test_views();
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("node options: all checks passed\n");
    return 0;
}
