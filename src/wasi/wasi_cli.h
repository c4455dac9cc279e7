/* wasi_cli.h: the `aox wasm ...` command family (run a WASI command module, validate).
 *
 * aox_wasi_cli_main(argc, argv) takes argv[0] = "wasm" (the sub-command word) and
 * the rest of the command line; it prints to stdout/stderr and returns the process
 * exit status (it never calls exit()). See `aox wasm --help` or
 * docs/parts/wasm-harness.md for the options and exit codes.
 */
#ifndef AOX_WASI_CLI_H
#define AOX_WASI_CLI_H

/* Exit codes of the CLI itself (a guest's own exit code passes through `run`). */
#define AOX_WASI_CLI_EUSAGE 2    /* bad command line */
#define AOX_WASI_CLI_ELOAD 1     /* unreadable, malformed, invalid or unlinkable module */
#define AOX_WASI_CLI_ETRAP 134   /* guest trapped (incl. out of fuel / memory) */

int aox_wasi_cli_main(int argc, char **argv);

#endif
