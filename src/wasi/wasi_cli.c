/* wasi_cli.c: `aox wasm run|validate ...`, the command-line face of the engine + WASI.
 *
 * This file is an adapter: it parses options, reads the module file, wires the
 * engine, the WASI host (wasi.h) and the emscripten shim (emscripten.h) together
 * and turns the outcome into an exit status. The host wall clock is read here only
 * for --stats; it never reaches the guest.
 */
#include "wasi/wasi_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasi/emscripten.h"
#include "wasi/wasi.h"
#include "wasm/wasm.h"

static const char usage_text[] =
  "usage: aox wasm run [OPTIONS] FILE.wasm [ARGS...]\n"
  "       aox wasm validate FILE.wasm\n"
  "\n"
  "run: instantiate a WASI command module and call its _start; the process exits\n"
  "with the guest's exit code (proc_exit(n) or 0 when _start returns).\n"
  "  --fuel N             stop the guest with \"out of fuel\" after N fuel units\n"
  "                       (about one per instruction; see src/wasm/config.h)\n"
  "  --max-memory LIMIT   cap linear memory: a page count (64 KiB pages) or a size\n"
  "                       with a K, M or G suffix (KiB, MiB, GiB)\n"
  "  --stats              print fuel used, peak memory and wall time to stderr\n"
  "  --invoke NAME        call export NAME instead of _start; ARGS are its\n"
  "                       parameters (integers or floats), results go to stdout\n"
  "  --env KEY=VALUE      add an environment variable (repeatable; none by default)\n"
  "  --stdin FILE         bytes the guest reads on fd 0 ('-' = this process's stdin;\n"
  "                       default: empty)\n"
  "  --seed TEXT          seed of the guest's random_get stream (default \"aox\")\n"
  "  --clock NS           virtual clock value in ns since the epoch (default 0)\n"
  "  --argv0 NAME         program name the guest sees (default: FILE)\n"
  "validate: decode and validate FILE; prints \"ok\" or the error with its offset.\n"
  "\n"
  "exit status: the guest's exit code; 1 unreadable/invalid/unlinkable module;\n"
  "2 usage error; 134 the guest trapped (including out of fuel or memory).\n";

typedef struct {
  int64_t fuel;            /* -1 = unlimited */
  uint64_t max_pages;      /* 0 = engine default */
  int stats;
  const char *invoke;
  const char *stdin_path;
  const char *seed;
  uint64_t clock_ns;
  const char *argv0;
  const char **env;
  size_t nenv;
} run_opts;

static int read_all(FILE *f, uint8_t **out, size_t *len) {
  uint8_t *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 65536;
      uint8_t *nb = realloc(buf, nc);
      if (!nb) { free(buf); return -1; }
      buf = nb;
      cap = nc;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  if (ferror(f)) { free(buf); return -1; }
  *out = buf;
  *len = n;
  return 0;
}

static int read_path(const char *path, uint8_t **out, size_t *len) {
  if (strcmp(path, "-") == 0) return read_all(stdin, out, len);
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  int rc = read_all(f, out, len);
  fclose(f);
  return rc;
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (!s || !*s || *s == '-') return -1;
  errno = 0;
  *out = strtoull(s, &end, 0);
  return (errno || *end) ? -1 : 0;
}

/* "256" = pages; "16M", "1G", "512KiB" = bytes rounded up to pages. */
static int parse_memory(const char *s, uint64_t *pages) {
  char *end;
  uint64_t v, mul = 0;
  if (!s || !*s || *s == '-') return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || end == s) return -1;
  if (*end == 0) { *pages = v; return v ? 0 : -1; }
  switch (*end) {
  case 'k': case 'K': mul = 1ull << 10; break;
  case 'm': case 'M': mul = 1ull << 20; break;
  case 'g': case 'G': mul = 1ull << 30; break;
  default: return -1;
  }
  end++;
  if (strcmp(end, "") != 0 && strcmp(end, "i") != 0 && strcmp(end, "iB") != 0 &&
      strcmp(end, "B") != 0)
    return -1;
  if (v > (UINT64_MAX >> 31)) return -1;
  v *= mul;
  *pages = (v + 65535) / 65536;
  return *pages ? 0 : -1;
}

static int sink(void *ud, int fd, const uint8_t *data, size_t len) {
  FILE *f = fd == 2 ? stderr : stdout;
  (void)ud;
  return fwrite(data, 1, len, f) == len ? 0 : AOX_WASI_EIO;
}

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_arg(const char *s, wasm_valtype t, wasm_val *v) {
  char *end;
  memset(v, 0, sizeof *v);
  v->type = t;
  errno = 0;
  switch (t) {
  case WASM_I32: {
    long long x = strtoll(s, &end, 0);
    if (x < INT32_MIN || x > (long long)UINT32_MAX) return -1;
    v->of.i32 = (int32_t)(uint32_t)x;
    break;
  }
  case WASM_I64:
    if (s[0] == '-') v->of.i64 = strtoll(s, &end, 0);
    else v->of.i64 = (int64_t)strtoull(s, &end, 0);
    break;
  case WASM_F32: v->of.f32 = strtof(s, &end); break;
  case WASM_F64: v->of.f64 = strtod(s, &end); break;
  default: return -1;
  }
  return (errno || *end || end == s) ? -1 : 0;
}

static void print_val(const wasm_val *v) {
  switch (v->type) {
  case WASM_I32: printf("%" PRId32 "\n", v->of.i32); break;
  case WASM_I64: printf("%" PRId64 "\n", v->of.i64); break;
  case WASM_F32: printf("%.9g\n", (double)v->of.f32); break;
  case WASM_F64: printf("%.17g\n", v->of.f64); break;
  case WASM_FUNCREF: printf("%s\n", v->of.ref ? "funcref" : "null"); break;
  case WASM_EXTERNREF:
    if (v->of.externref == WASM_EXTERNREF_NULL) printf("null\n");
    else printf("externref\n");
    break;
  }
}

static int do_invoke(wasm_instance *inst, const char *name, int argc, char **argv,
                     wasm_trap *trap) {
  wasm_extern *fn = wasm_instance_export(inst, name);
  wasm_externtype ty;
  wasm_val args[32], res[32];
  if (!fn || wasm_extern_kind_of(fn) != WASM_EXTERN_FUNC) {
    fprintf(stderr, "aox wasm: no exported function \"%s\"\n", name);
    return AOX_WASI_CLI_EUSAGE;
  }
  wasm_extern_type(fn, &ty);
  if ((uint32_t)argc != ty.func.nparams || ty.func.nparams > 32 || ty.func.nresults > 32) {
    fprintf(stderr, "aox wasm: \"%s\" takes %u arguments, %d given\n", name,
            ty.func.nparams, argc);
    return AOX_WASI_CLI_EUSAGE;
  }
  for (int i = 0; i < argc; i++)
    if (parse_arg(argv[i], ty.func.params[i], &args[i]) != 0) {
      fprintf(stderr, "aox wasm: bad argument %d: \"%s\"\n", i + 1, argv[i]);
      return AOX_WASI_CLI_EUSAGE;
    }
  int rc = wasm_instance_call(inst, fn, args, (uint32_t)argc, res, ty.func.nresults, trap);
  if (rc == WASM_ETRAP || rc == WASM_EEXCEPTION) {
    fprintf(stderr, "aox wasm: trap: %s\n", trap->message);
    return AOX_WASI_CLI_ETRAP;
  }
  if (rc != 0) {
    fprintf(stderr, "aox wasm: call failed (code %d)\n", rc);
    return AOX_WASI_CLI_ELOAD;
  }
  for (uint32_t i = 0; i < ty.func.nresults; i++) print_val(&res[i]);
  return 0;
}

static int cmd_run(int argc, char **argv) {
  run_opts o = {.fuel = -1, .seed = "aox"};
  uint8_t *bytes = NULL, *in = NULL;
  size_t len = 0, inlen = 0;
  wasm_engine *eng = NULL;
  wasm_module *mod = NULL;
  wasm_imports *imps = NULL;
  wasm_instance *inst = NULL;
  aox_wasi *wasi = NULL;
  aox_emscripten *em = NULL;
  wasm_error err;
  wasm_trap trap;
  int status = AOX_WASI_CLI_EUSAGE, i, code = 0;
  const char *file = NULL;
  double t0 = now_sec();

  memset(&err, 0, sizeof err);
  memset(&trap, 0, sizeof trap);
  o.env = calloc((size_t)argc + 1, sizeof *o.env);
  if (!o.env) goto done;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage_text, stdout);
      status = 0;
      goto done;
    } else if (strcmp(a, "--stats") == 0) {
      o.stats = 1;
    } else if (strcmp(a, "--fuel") == 0) {
      uint64_t f;
      if (parse_u64(v, &f) != 0 || f > INT64_MAX) {
        fprintf(stderr, "aox wasm: --fuel needs a non-negative integer\n");
        goto done;
      }
      o.fuel = (int64_t)f;
      i++;
    } else if (strcmp(a, "--max-memory") == 0) {
      if (parse_memory(v, &o.max_pages) != 0 || o.max_pages > 65536) {
        fprintf(stderr, "aox wasm: --max-memory needs PAGES (1..65536) or a size like 64M\n");
        goto done;
      }
      i++;
    } else if (strcmp(a, "--invoke") == 0 && v) {
      o.invoke = v;
      i++;
    } else if (strcmp(a, "--env") == 0 && v && strchr(v, '=')) {
      o.env[o.nenv++] = v;
      i++;
    } else if (strcmp(a, "--stdin") == 0 && v) {
      o.stdin_path = v;
      i++;
    } else if (strcmp(a, "--seed") == 0 && v) {
      o.seed = v;
      i++;
    } else if (strcmp(a, "--clock") == 0) {
      if (parse_u64(v, &o.clock_ns) != 0) {
        fprintf(stderr, "aox wasm: --clock needs a non-negative integer (ns)\n");
        goto done;
      }
      i++;
    } else if (strcmp(a, "--argv0") == 0 && v) {
      o.argv0 = v;
      i++;
    } else if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else if (a[0] == '-' && a[1] != 0) {
      fprintf(stderr, "aox wasm: unknown or incomplete option %s (see aox wasm --help)\n", a);
      goto done;
    } else {
      break;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "aox wasm run: missing FILE.wasm (see aox wasm --help)\n");
    goto done;
  }
  file = argv[i++];
  status = AOX_WASI_CLI_ELOAD;
  if (read_path(file, &bytes, &len) != 0) {
    fprintf(stderr, "aox wasm: cannot read %s: %s\n", file, strerror(errno));
    goto done;
  }
  if (o.stdin_path && read_path(o.stdin_path, &in, &inlen) != 0) {
    fprintf(stderr, "aox wasm: cannot read %s: %s\n", o.stdin_path, strerror(errno));
    goto done;
  }

  wasm_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.fuel_enabled = o.fuel >= 0 || o.stats;
  cfg.start_fuel = o.fuel > 0 ? o.fuel : 0;
  cfg.max_pages_per_instance = o.max_pages;
  cfg.features.memory64 = 1;
  cfg.features.exceptions = 1;
  if (wasm_engine_new(&cfg, &eng) != 0) {
    fprintf(stderr, "aox wasm: cannot create engine\n");
    goto done;
  }
  if (wasm_module_new(eng, bytes, len, NULL, &mod, &err) != 0) {
    fprintf(stderr, "aox wasm: %s: error at offset %" PRId64 ": %s\n", file, err.offset,
            err.message);
    goto done;
  }

  /* the guest's argv: program name, then everything after FILE */
  {
    int gargc = argc - i + 1;
    const char **gargv = calloc((size_t)gargc + 1, sizeof *gargv);
    aox_wasi_config wc;
    if (!gargv) goto done;
    gargv[0] = o.argv0 ? o.argv0 : file;
    for (int k = 1; k < gargc; k++) gargv[k] = argv[i + k - 1];
    memset(&wc, 0, sizeof wc);
    wc.argc = gargc;
    wc.argv = gargv;
    wc.envc = o.nenv;
    wc.envp = o.env;
    wc.stdin_data = in;
    wc.stdin_len = inlen;
    wc.write = sink;
    wc.clock_ns = o.clock_ns;
    wc.seed = (const uint8_t *)o.seed;
    wc.seed_len = strlen(o.seed);
    int rc = aox_wasi_new(&wc, &wasi);
    free(gargv);
    if (rc != 0) { fprintf(stderr, "aox wasm: cannot set up WASI\n"); goto done; }
  }
  if (wasm_imports_new(&imps) != 0 || aox_wasi_link(wasi, mod, imps) != 0 ||
      aox_emscripten_new(&em) != 0 || aox_emscripten_link(em, mod, imps) != 0) {
    fprintf(stderr, "aox wasm: cannot set up imports\n");
    goto done;
  }
  int rc = wasm_instance_new(mod, imps, &inst, &err, &trap);
  if (rc == WASM_ETRAP || rc == WASM_EEXCEPTION) {
    fprintf(stderr, "aox wasm: %s: trap during instantiation: %s\n", file, trap.message);
    status = AOX_WASI_CLI_ETRAP;
    goto done;
  }
  if (rc != 0) {
    fprintf(stderr, "aox wasm: %s: cannot instantiate: %s\n", file, err.message);
    goto done;
  }
  aox_emscripten_bind(em, inst);
  /* The start function (if any) ran on cfg.start_fuel: what it left is the
   * budget of the rest of the run, so --fuel bounds the whole run. */
  if (o.fuel >= 0) {
    int64_t left = wasm_instance_fuel(inst);
    wasm_instance_set_fuel(inst, left < o.fuel ? left : o.fuel);
  } else if (o.stats) {
    wasm_instance_set_fuel(inst, INT64_MAX);
  }

  if (o.invoke) {
    status = do_invoke(inst, o.invoke, argc - i, argv + i, &trap);
  } else {
    switch (aox_wasi_run_start(wasi, inst, &code, &trap)) {
    case AOX_WASI_RUN_EXIT:
      status = code & 0xff;
      break;
    case AOX_WASI_RUN_TRAP:
    case AOX_WASI_RUN_EXCEPTION:
      fflush(stdout);
      fprintf(stderr, "aox wasm: trap: %s\n", trap.message);
      status = AOX_WASI_CLI_ETRAP;
      break;
    case AOX_WASI_RUN_ERROR:
      fprintf(stderr, "aox wasm: %s: %s\n", file, trap.message);
      status = AOX_WASI_CLI_ELOAD;
      break;
    }
  }
  fflush(stdout);
  if (o.stats) {
    wasm_stats st;
    wasm_instance_stats(inst, &st);
    fprintf(stderr,
            "stats: fuel used %" PRIu64 "\n"
            "stats: wasm calls %" PRIu64 "\n"
            "stats: peak memory %" PRIu64 " pages (%" PRIu64 " bytes)\n"
            "stats: wall time %.3f ms\n",
            st.fuel_used, st.calls, st.peak_pages, st.peak_pages * 65536,
            (now_sec() - t0) * 1e3);
  }
done:
  if (inst) wasm_instance_free(inst);
  if (imps) wasm_imports_free(imps);
  if (mod) wasm_module_free(mod);
  if (eng) wasm_engine_free(eng);
  aox_emscripten_free(em);
  aox_wasi_free(wasi);
  free(bytes);
  free(in);
  free(o.env);
  return status;
}

static int cmd_validate(int argc, char **argv) {
  uint8_t *bytes = NULL;
  size_t len = 0;
  wasm_engine *eng = NULL;
  wasm_module *mod = NULL;
  wasm_error err;
  int status = AOX_WASI_CLI_ELOAD;
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: aox wasm validate FILE.wasm\n");
    return AOX_WASI_CLI_EUSAGE;
  }
  memset(&err, 0, sizeof err);
  if (read_path(argv[1], &bytes, &len) != 0) {
    fprintf(stderr, "aox wasm: cannot read %s: %s\n", argv[1], strerror(errno));
    goto done;
  }
  if (wasm_engine_new(NULL, &eng) != 0) goto done;
  if (wasm_module_new(eng, bytes, len, NULL, &mod, &err) != 0) {
    printf("%s: error at offset %" PRId64 ": %s\n", argv[1], err.offset, err.message);
    goto done;
  }
  printf("ok\n");
  status = 0;
done:
  if (mod) wasm_module_free(mod);
  if (eng) wasm_engine_free(eng);
  free(bytes);
  return status;
}

int aox_wasi_cli_main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    fputs(usage_text, argc < 2 ? stderr : stdout);
    return argc < 2 ? AOX_WASI_CLI_EUSAGE : 0;
  }
  if (strcmp(argv[1], "run") == 0) return cmd_run(argc - 1, argv + 1);
  if (strcmp(argv[1], "validate") == 0) return cmd_validate(argc - 1, argv + 1);
  fprintf(stderr, "aox wasm: unknown command \"%s\" (try aox wasm --help)\n", argv[1]);
  return AOX_WASI_CLI_EUSAGE;
}
