/* aox_wasm_main.c: standalone `aox-wasm` executable, the same as `aox wasm ...`
 * (kept for tests and benchmarks until/besides the aox main program). */
#include "wasi/wasi_cli.h"

int main(int argc, char **argv) {
  return aox_wasi_cli_main(argc, argv);
}
