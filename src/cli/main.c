/*
 * cli/main.c: the `aox` program. `aox serve` runs a node in this process; every
 * other command is a thin HTTP client of a running node (--node URL, env AOX_NODE,
 * default http://127.0.0.1:8734) that prints the node's JSON answer.
 *
 * One command table drives dispatch, `aox --help`, `aox help CMD` and
 * `aox CMD --help`; `aox serve --help` adds the node's option table.
 *
 * Exit status: 0 success; 1 the node answered with an error (HTTP status >= 400;
 * the error body goes to stderr); 2 usage error; 3 the node could not be reached;
 * 4 a local error (unreadable file, node failed to start).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "cli/top.h"
#include "core/log.h"
#include "http/client.h"
#include "node/node.h"
#include "node/options.h"
#ifdef AOX_HAVE_WASI
#include "wasi/wasi_cli.h"
#endif

enum { EXIT_NODE_ERROR = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_LOCAL = 4 };

#define DEFAULT_NODE "http://127.0.0.1:8734"

typedef struct cli {
    const char *node;          /* base URL */
} cli;

typedef struct command {
    const char *name;
    const char *args;          /* argument synopsis after the name */
    const char *summary;       /* one line for `aox --help` */
    const char *help;          /* more lines for `aox help CMD` (may be "") */
    int min_args, max_args;    /* positional arguments after the name (-1 = any) */
    int (*run)(const cli *c, int argc, char **argv);
    int remote;                /* talks to a node: accepts --node */
} command;

static const command commands[];
static const size_t ncommands;

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static int read_input(const char *path, aox_buf *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char chunk[65536];
    size_t n;
    int rc = 0;
    if (!f) {
        fprintf(stderr, "aox: cannot open %s: %s\n", path, strerror(errno));
        return EXIT_LOCAL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (aox_buf_append(out, chunk, n) != 0) {
            fprintf(stderr, "aox: out of memory reading %s\n", path);
            rc = EXIT_LOCAL;
            break;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "aox: error reading %s\n", path);
        rc = EXIT_LOCAL;
    }
    if (f != stdin) fclose(f);
    return rc;
}

/* Sends one request and prints the answer: body to stdout on 2xx, else to stderr
 * with the status. Returns the exit status. */
static int call(const cli *c, const char *method, const char *path,
                const void *body, size_t len, const char *content_type)
{
    aox_http_client *hc = NULL;
    aox_buf resp = {0};
    aox_err err;
    long status = 0;
    int rc;

    aox_err_clear(&err);
    rc = aox_http_client_new(c->node, 0, &hc, &err);
    if (rc == 0)
        rc = aox_http_client_request(hc, method, path, body, len, content_type, &status,
                                     &resp, &err);
    aox_http_client_free(hc);
    if (rc) {
        fprintf(stderr, "aox: cannot reach the node at %s: %s\n", c->node, err.msg);
        aox_buf_free(&resp);
        return EXIT_UNREACHABLE;
    }
    if (status >= 200 && status < 300) {
        if (resp.len) fwrite(resp.data, 1, resp.len, stdout);
        fputc('\n', stdout);
        rc = 0;
    } else {
        fprintf(stderr, "aox: the node answered HTTP %ld to %s %s\n", status, method, path);
        if (resp.len) fwrite(resp.data, 1, resp.len, stderr);
        fputc('\n', stderr);
        rc = EXIT_NODE_ERROR;
    }
    aox_buf_free(&resp);
    return rc;
}

static int post_file(const cli *c, const char *path, const char *file, const char *ct)
{
    aox_buf body = {0};
    int rc = read_input(file, &body);
    if (rc == 0) rc = call(c, "POST", path, body.data, body.len, ct);
    aox_buf_free(&body);
    return rc;
}

/* Process IDs and slots go into URLs: check them here for a clear message. */
static int check_pid(const char *pid)
{
    size_t n = strlen(pid);
    if (n != 43 || strspn(pid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789-_") != n) {
        fprintf(stderr, "aox: '%s' is not a process ID (43 base64url characters)\n", pid);
        return EXIT_USAGE;
    }
    return 0;
}

static int check_slot(const char *s)
{
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 20) {
        fprintf(stderr, "aox: '%s' is not a slot number\n", s);
        return EXIT_USAGE;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

static int cmd_serve(const cli *c, int argc, char **argv)
{
    aox_node_config cfg;
    aox_node *node = NULL;
    aox_err err;
    int rc;
    (void)c;

    aox_err_clear(&err);
    if (aox_node_config_init(&cfg) != 0) {
        fprintf(stderr, "aox serve: out of memory\n");
        return EXIT_LOCAL;
    }
    rc = aox_node_config_load(&cfg, argc, argv, NULL, &err);
    if (rc) {
        fprintf(stderr, "aox serve: %s (see `aox serve --help`)\n", err.msg);
        aox_node_config_free(&cfg);
        return rc == AOX_E_INVALID ? EXIT_USAGE : EXIT_LOCAL;
    }
    aox_log_set_level((aox_log_level)cfg.log_level);
    if (cfg.warnings.len) {
        /* one log line per warning */
        char *w = (char *)cfg.warnings.data;
        for (char *line = strtok(w, "\n"); line; line = strtok(NULL, "\n"))
            aox_log_kv(AOX_LOG_WARN, "config", "message", line);
    }
    rc = aox_node_start(&cfg, &node, &err);
    if (rc) {
        fprintf(stderr, "aox serve: %s\n", err.msg);
        aox_node_config_free(&cfg);
        return EXIT_LOCAL;
    }
    aox_node_run_until_signal(node);
    aox_node_stop(node);
    aox_node_config_free(&cfg);
    return 0;
}

static int cmd_spawn(const cli *c, int argc, char **argv)
{
    (void)argc;
    return post_file(c, "/spawn", argv[0], NULL);
}

static int cmd_schedule(const cli *c, int argc, char **argv)
{
    char path[128];
    (void)argc;
    if (check_pid(argv[0])) return EXIT_USAGE;
    snprintf(path, sizeof path, "/%s/schedule", argv[0]);
    return post_file(c, path, argv[1], NULL);
}

static int cmd_compute(const cli *c, int argc, char **argv)
{
    char path[160];
    (void)argc;
    if (check_pid(argv[0]) || check_slot(argv[1])) return EXIT_USAGE;
    snprintf(path, sizeof path, "/%s/compute?slot=%s", argv[0], argv[1]);
    return call(c, "GET", path, NULL, 0, NULL);
}

static int simple_get(const cli *c, const char *pid, const char *op)
{
    char path[160];
    if (check_pid(pid)) return EXIT_USAGE;
    snprintf(path, sizeof path, "/%s/%s", pid, op);
    return call(c, "GET", path, NULL, 0, NULL);
}

static int cmd_now(const cli *c, int argc, char **argv)
{
    (void)argc;
    return simple_get(c, argv[0], "now");
}

static int cmd_slot(const cli *c, int argc, char **argv)
{
    (void)argc;
    return simple_get(c, argv[0], "slot");
}

static int cmd_assignments(const cli *c, int argc, char **argv)
{
    char path[200];
    int n;
    if (check_pid(argv[0])) return EXIT_USAGE;
    if (argc > 1 && check_slot(argv[1])) return EXIT_USAGE;
    if (argc > 2 && check_slot(argv[2])) return EXIT_USAGE;
    n = snprintf(path, sizeof path, "/%s/schedule?from=%s", argv[0], argc > 1 ? argv[1] : "0");
    if (argc > 2) snprintf(path + n, sizeof path - (size_t)n, "&to=%s", argv[2]);
    return call(c, "GET", path, NULL, 0, NULL);
}

static int cmd_result(const cli *c, int argc, char **argv)
{
    char path[200];
    (void)argc;
    if (check_pid(argv[0])) return EXIT_USAGE;
    if (check_pid(argv[1])) return EXIT_USAGE;     /* message IDs have the same shape */
    snprintf(path, sizeof path, "/%s/result/%s", argv[0], argv[1]);
    return call(c, "GET", path, NULL, 0, NULL);
}

static int cmd_info(const cli *c, int argc, char **argv)
{
    (void)argc; (void)argv;
    return call(c, "GET", "/~meta@1.0/info", NULL, 0, NULL);
}

static int cmd_log_level(const cli *c, int argc, char **argv)
{
    char body[64];
    aox_log_level lvl;
    if (argc == 0) return call(c, "GET", "/~meta@1.0/log-level", NULL, 0, NULL);
    if (aox_log_level_parse(argv[0], &lvl) != 0) {
        fprintf(stderr, "aox: '%s' is not a log level (debug, info, warn, error, off)\n",
                argv[0]);
        return EXIT_USAGE;
    }
    snprintf(body, sizeof body, "{\"level\":\"%s\"}", aox_log_level_name(lvl));
    return call(c, "POST", "/~meta@1.0/log-level", body, strlen(body), NULL);
}

static int cmd_module(const cli *c, int argc, char **argv)
{
    if (strcmp(argv[0], "add") == 0 && argc == 2)
        return post_file(c, "/modules", argv[1], "application/octet-stream");
    if (strcmp(argv[0], "get") == 0 && argc == 2) {
        if (check_pid(argv[1])) return EXIT_USAGE;
        {
            /* raw bytes to stdout, no newline */
            aox_http_client *hc = NULL;
            aox_buf resp = {0};
            aox_err err;
            long status = 0;
            char path[128];
            int rc;
            snprintf(path, sizeof path, "/modules/%s", argv[1]);
            rc = aox_http_client_new(c->node, 0, &hc, &err);
            if (rc == 0)
                rc = aox_http_client_request(hc, "GET", path, NULL, 0, NULL, &status,
                                             &resp, &err);
            aox_http_client_free(hc);
            if (rc) {
                fprintf(stderr, "aox: cannot reach the node at %s: %s\n", c->node, err.msg);
                rc = EXIT_UNREACHABLE;
            } else if (status != 200) {
                fprintf(stderr, "aox: the node answered HTTP %ld to GET %s\n", status, path);
                fwrite(resp.data ? (void *)resp.data : (void *)"", 1, resp.len, stderr);
                fputc('\n', stderr);
                rc = EXIT_NODE_ERROR;
            } else {
                fwrite(resp.data ? (void *)resp.data : (void *)"", 1, resp.len, stdout);
            }
            aox_buf_free(&resp);
            return rc;
        }
    }
    fprintf(stderr, "aox module: expected `add FILE` or `get ID` (see `aox help module`)\n");
    return EXIT_USAGE;
}

static int cmd_options(const cli *c, int argc, char **argv)
{
    aox_buf out = {0};
    int md = argc > 0 && strcmp(argv[0], "--markdown") == 0;
    (void)c;
    if (argc > 0 && !md) {
        fprintf(stderr, "aox options: unknown argument '%s'\n", argv[0]);
        return EXIT_USAGE;
    }
    if ((md ? aox_node_config_markdown(&out) : aox_node_config_help(&out)) != 0) {
        fprintf(stderr, "aox: out of memory\n");
        return EXIT_LOCAL;
    }
    fwrite(out.data, 1, out.len, stdout);
    aox_buf_free(&out);
    return 0;
}

static int cmd_wasm(const cli *c, int argc, char **argv)
{
    (void)c;
#ifdef AOX_HAVE_WASI
    /* argv[-1] is the word "wasm": aox_wasi_cli_main wants it as its argv[0]. */
    return aox_wasi_cli_main(argc + 1, argv - 1);
#else
    (void)argc; (void)argv;
    fprintf(stderr, "aox wasm: not built (the aox_wasi library was not available when "
                    "this aox was built)\n");
    return EXIT_USAGE;
#endif
}

static int print_help(const char *name);

static int cmd_top(const cli *c, int argc, char **argv)
{
    return aox_cli_top(c->node, argc, argv);
}

static int cmd_help(const cli *c, int argc, char **argv)
{
    (void)c;
    return print_help(argc ? argv[0] : NULL);
}

static const command commands[] = {
    { "serve", "[OPTIONS]", "run a node (HTTP API on --bind:--port, data under --data)",
      "Runs in the foreground until SIGINT or SIGTERM, then snapshots every live\n"
      "process state and exits. SIGUSR1 snapshots every live state and keeps serving.\n"
      "Options (precedence: flag > environment > config file > default):\n",
      0, -1, cmd_serve, 0 },
    { "spawn", "FILE.json|-", "spawn a process from a definition (JSON object)",
      "Prints {\"process\": PID, \"assignment\": {...slot 0...}}. Example definition:\n"
      "  {\"type\":\"Process\",\"execution-device\":\"test-counter@1.0\"}\n",
      1, 1, cmd_spawn, 1 },
    { "schedule", "PID FILE.json|-", "assign the next slot to a message (JSON object)",
      "Prints the assignment (process, slot, timestamp, block-height, hash-chain, body).\n",
      2, 2, cmd_schedule, 1 },
    { "compute", "PID SLOT", "print the result of slot SLOT (computing up to it)",
      "A slot that is not assigned yet fails with HTTP 425 and the current slot.\n",
      2, 2, cmd_compute, 1 },
    { "now", "PID", "print the result at the current (highest assigned) slot", "",
      1, 1, cmd_now, 1 },
    { "slot", "PID", "print the current slot: {\"current\": N}", "", 1, 1, cmd_slot, 1 },
    { "assignments", "PID [FROM [TO]]", "list assignments FROM..TO (one page)",
      "Pages hold at most --schedule-page-max assignments; the answer says\n"
      "\"more\": true and \"next\": N when there are more.\n",
      1, 3, cmd_assignments, 1 },
    { "result", "PID MESSAGE-ID", "print the result of the slot that holds a message", "",
      2, 2, cmd_result, 1 },
    { "info", "", "print the node's version, devices, store and effective options", "",
      0, 0, cmd_info, 1 },
    { "log-level", "[LEVEL]", "print or set the node's log level at run time",
      "LEVEL is one of debug, info, warn, error, off.\n", 0, 1, cmd_log_level, 1 },
    { "module", "add FILE | get ID", "upload module bytes (prints {\"id\": ...}) or fetch them",
      "Modules are content-addressed: the ID is the base64url SHA-256 of the bytes.\n"
      "`-` reads the module from standard input.\n",
      2, 2, cmd_module, 1 },
    { "options", "[--markdown]", "print the node option table (as Markdown for docs)", "",
      0, 1, cmd_options, 0 },
    { "wasm", "...", "run or validate a WebAssembly module (see `aox wasm --help`)", "",
      0, -1, cmd_wasm, 0 },
    { "top", "[--once] [--interval=MS] [--limit=N] [--sort=KEY]",
      "show the busiest processes of a node, live (Ctrl-C stops)",
      "Polls GET /~meta@1.0/processes and /metrics every --interval (default 1000 ms)\n"
      "and redraws; --once prints one frame. --sort: busy (default), slots, memory, pid.\n"
      "--limit: rows shown (default 20, at most 64).\n", 0, -1, cmd_top, 1 },
    { "help", "[COMMAND]", "print help for aox or one command", "", 0, 1, cmd_help, 0 },
};
static const size_t ncommands = sizeof commands / sizeof commands[0];

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < ncommands; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static int print_help(const char *name)
{
    if (!name) {
        printf("aox %s: an AO process & execution node\n\n"
               "usage: aox [--node URL] COMMAND [ARGS]\n\ncommands:\n",
               AOX_VERSION_STRING);
        for (size_t i = 0; i < ncommands; i++) {
            char syn[64];
            snprintf(syn, sizeof syn, "%s %s", commands[i].name, commands[i].args);
            printf("  %-30s %s\n", syn, commands[i].summary);
        }
        printf("\nClient commands talk to a running node: --node URL, or AOX_NODE, default\n"
               "%s. `aox help COMMAND` or `aox COMMAND --help` for details.\n"
               "Exit status: 0 ok, 1 the node answered an error (body on stderr),\n"
               "2 usage, 3 node unreachable, 4 local error.\n", DEFAULT_NODE);
        return 0;
    }
    {
        const command *cmd = find_command(name);
        if (!cmd) {
            fprintf(stderr, "aox: unknown command '%s' (see `aox --help`)\n", name);
            return EXIT_USAGE;
        }
        if (cmd->run == cmd_wasm) {
            char *args[] = { (char *)"wasm", (char *)"--help", NULL };
            return cmd_wasm(NULL, 1, args + 1);
        }
        printf("usage: aox %s%s %s\n\n%s.\n", cmd->remote ? "[--node URL] " : "",
               cmd->name, cmd->args, cmd->summary);
        if (cmd->help[0]) printf("\n%s", cmd->help);
        if (cmd->run == cmd_serve) {
            aox_buf out = {0};
            if (aox_node_config_help(&out) == 0 && out.len)
                fwrite(out.data, 1, out.len, stdout);
            aox_buf_free(&out);
        }
        if (cmd->remote)
            printf("\n--node URL: the node to talk to (env AOX_NODE, default %s).\n",
                   DEFAULT_NODE);
        return 0;
    }
}

/* ------------------------------------------------------------------------ */
/* main                                                                     */
/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    cli c;
    const command *cmd;
    char *pos[65];
    int npos = 0, i = 1;

    c.node = getenv("AOX_NODE");
    if (!c.node || !*c.node) c.node = DEFAULT_NODE;

    /* global options before the command word */
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return print_help(NULL);
        if (strcmp(argv[i], "--version") == 0) {
            printf("aox %s\n", AOX_VERSION_STRING);
            return 0;
        }
        if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
            c.node = argv[i + 1];
            i += 2;
            continue;
        }
        if (strncmp(argv[i], "--node=", 7) == 0) {
            c.node = argv[i] + 7;
            i++;
            continue;
        }
        fprintf(stderr, "aox: unknown option '%s' (see `aox --help`)\n", argv[i]);
        return EXIT_USAGE;
    }
    if (i >= argc) {
        print_help(NULL);
        return EXIT_USAGE;
    }
    cmd = find_command(argv[i]);
    if (!cmd) {
        fprintf(stderr, "aox: unknown command '%s' (see `aox --help`)\n", argv[i]);
        return EXIT_USAGE;
    }
    i++;
    /* serve, wasm: everything after the word is theirs (they parse their options) */
    if (cmd->run == cmd_serve || cmd->run == cmd_wasm) {
        for (int j = i; j < argc; j++)
            if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0)
                return print_help(cmd->name);
        return cmd->run(&c, argc - i, argv + i);
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return print_help(cmd->name);
        if (cmd->remote && strcmp(a, "--node") == 0 && i + 1 < argc) {
            c.node = argv[++i];
            continue;
        }
        if (cmd->remote && strncmp(a, "--node=", 7) == 0) {
            c.node = a + 7;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0' && !(cmd->run == cmd_options || cmd->run == cmd_top)) {
            fprintf(stderr, "aox %s: unknown option '%s' (see `aox help %s`)\n",
                    cmd->name, a, cmd->name);
            return EXIT_USAGE;
        }
        if (npos == 64) {
            fprintf(stderr, "aox %s: too many arguments\n", cmd->name);
            return EXIT_USAGE;
        }
        pos[npos++] = argv[i];
    }
    if (npos < cmd->min_args || (cmd->max_args >= 0 && npos > cmd->max_args)) {
        fprintf(stderr, "aox %s: expected arguments: %s (see `aox help %s`)\n",
                cmd->name, cmd->args[0] ? cmd->args : "none", cmd->name);
        return EXIT_USAGE;
    }
    pos[npos] = NULL;
    return cmd->run(&c, npos, pos);
}
