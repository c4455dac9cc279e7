/*
 * cli/top.h: `aox top` — the busiest processes of a node, live in the terminal.
 */
#ifndef AOX_CLI_TOP_H
#define AOX_CLI_TOP_H

/* argv: options only (--once, --interval=MS, --limit=N, --sort=busy|slots|memory|pid).
 * Polls GET /~meta@1.0/processes and GET /metrics of the node at base_url and redraws
 * with ANSI escapes every interval until interrupted; --once prints one plain frame
 * and returns. Returns a process exit status (0, 1 node error, 2 usage, 3 unreachable). */
int aox_cli_top(const char *base_url, int argc, char **argv);

#endif
