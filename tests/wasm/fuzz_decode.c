/* fuzz_decode.c: libFuzzer target for the engine's decoder and validator.
 *
 * Every input goes through wasm_module_new (decode + validate + compile) with all
 * proposals the engine supports enabled; a module that is accepted is freed again.
 * Nothing may crash, leak or trip a sanitizer, whatever the bytes.
 *
 * Built two ways:
 *   - with AOX_FUZZ=ON and clang: the libFuzzer target `fuzz_decode`;
 *   - always: `fuzz_decode_regress`, with FUZZ_REGRESS_MAIN defined, a plain main()
 *     that feeds every file named on the command line (or found in the folders
 *     named) through the same function: the regression test over
 *     tests/wasm/fuzz-crashes/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wasm_engine *engine;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wasm_module *m = NULL;
  wasm_error err;
  if (!engine) {
    wasm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.features.memory64 = 1;
    cfg.features.exceptions = 1;
    cfg.fuel_enabled = 1;   /* exercise the metering code paths of the compiler too */
    if (wasm_engine_new(&cfg, &engine) != 0) abort();
  }
  if (wasm_module_new(engine, data, size, NULL, &m, &err) == 0) {
    /* touch the introspection API on accepted modules */
    uint32_t ni = wasm_module_import_count(m), ne = wasm_module_export_count(m);
    for (uint32_t i = 0; i < ni; i++) {
      const char *mod, *name;
      wasm_externtype t;
      (void)wasm_module_import(m, i, &mod, &name, &t);
    }
    for (uint32_t i = 0; i < ne; i++) {
      const char *name;
      wasm_externtype t;
      (void)wasm_module_export(m, i, &name, &t);
    }
    wasm_module_free(m);
  } else if (memchr(err.message, 0, sizeof err.message) == NULL) {
    abort();   /* the error text must be NUL-terminated */
  }
  return 0;
}

#ifdef FUZZ_REGRESS_MAIN
#include <dirent.h>
#include <sys/stat.h>

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  long n;
  if (!f) { fprintf(stderr, "cannot open %s\n", path); return 1; }
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
    fprintf(stderr, "cannot read %s\n", path);
    free(buf);
    fclose(f);
    return 1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)(n > 0 ? n : 0));
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  int bad = 0, count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
      DIR *d = opendir(argv[i]);
      struct dirent *de;
      while (d && (de = readdir(d)) != NULL) {
        char p[4096];
        if (de->d_name[0] == '.' || strcmp(de->d_name, "README.md") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", argv[i], de->d_name);
        bad |= run_file(p);
        count++;
      }
      if (d) closedir(d);
    } else {
      bad |= run_file(argv[i]);
      count++;
    }
  }
  if (engine) wasm_engine_free(engine);
  printf("fuzz regression: %d inputs decoded without crashing\n", count);
  return bad;
}
#endif
