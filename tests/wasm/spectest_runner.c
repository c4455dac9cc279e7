/* spectest_runner.c: runs WebAssembly spec-test scripts against aox's engine.
 *
 * Each .wast script is converted with wabt's wast2json into a temporary folder
 * (JSON command list + one .wasm per module), then every command is executed
 * through the engine seam in spectest_engine.h:
 *
 *   module, register, action         set up state (a failure here is a failure)
 *   assert_return                    exact bits; nan:canonical / nan:arithmetic;
 *                                    ref.null, ref.extern N, any non-null funcref
 *   assert_trap / assert_exhaustion  the call must trap / exhaust the call stack
 *   assert_exception                 the call must end in an uncaught exception
 *   assert_invalid / _malformed      binary modules must fail validation/decoding
 *                                    (text modules are skipped, as the spec
 *                                    harness conventions say: wast2json cannot
 *                                    produce a binary from malformed text)
 *   assert_unlinkable / _uninstantiable   linking / instantiation must fail
 *
 * Output: one line per script, "name: N passed, M failed, K skipped", preceded by
 * the failures (file:line, command, expected vs got). Exit status 0 only when no
 * command failed; 77 when every script given was skipped (CTest SKIP_RETURN_CODE);
 * 2 on usage or environment errors (missing wast2json, unreadable script).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spectest_engine.h"

extern char **environ;

#define MAX_VALUES 64

typedef struct {
  long passed, failed, skipped;   /* command totals over all scripts */
  long phase_notes;
  long scripts, scripts_skipped, scripts_failed;
} totals;

static totals total;

typedef struct {
  const char *wast2json;   /* path of the converter */
  const char *enable;      /* feature to enable, or NULL = derive from folder */
  int keep_going;          /* continue with the next script after a failing one */
  int verbose;             /* print every failure, not just the first few */
  int max_details;         /* failures printed per script */
  int trace;               /* print each command before running it */
  int strict_phase;        /* malformed vs invalid must match exactly */
} options;

typedef struct {
  const char *script;      /* base name for messages */
  const char *dir;         /* folder holding the .json and .wasm files */
  long passed, failed, skipped;
  long phase_notes;        /* rejected, but in the other phase (decode vs validate) */
  int printed;
  const options *opt;
} run_state;

/* ------------------------------------------------------------------------ */
/* Reporting                                                                */
/* ------------------------------------------------------------------------ */

static void failure(run_state *rs, long line, const char *fmt, ...) {
  rs->failed++;
  if (rs->printed >= rs->opt->max_details) {
    if (rs->printed == rs->opt->max_details)
      printf("  %s: ... more failures not shown (use --verbose)\n", rs->script);
    rs->printed++;
    return;
  }
  rs->printed++;
  printf("  %s.wast:%ld: ", rs->script, line);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
}

static const char *type_name(st_type t) {
  switch (t) {
  case ST_I32: return "i32";
  case ST_I64: return "i64";
  case ST_F32: return "f32";
  case ST_F64: return "f64";
  case ST_V128: return "v128";
  case ST_FUNCREF: return "funcref";
  case ST_EXTERNREF: return "externref";
  case ST_EXNREF: return "exnref";
  }
  return "?";
}

static void fmt_value(char *buf, size_t n, const st_value *v) {
  switch (v->type) {
  case ST_I32: snprintf(buf, n, "i32:%" PRIu32, (uint32_t)v->bits); break;
  case ST_I64: snprintf(buf, n, "i64:%" PRIu64, v->bits); break;
  case ST_F32: snprintf(buf, n, "f32:0x%08" PRIx32, (uint32_t)v->bits); break;
  case ST_F64: snprintf(buf, n, "f64:0x%016" PRIx64, v->bits); break;
  case ST_V128: {
    size_t o = (size_t)snprintf(buf, n, "v128:");
    for (int i = 0; i < 16 && o + 3 < n; i++)
      o += (size_t)snprintf(buf + o, n - o, "%02x", v->v128[i]);
    break;
  }
  case ST_FUNCREF:
  case ST_EXTERNREF:
  case ST_EXNREF:
    if (v->is_null)
      snprintf(buf, n, "%s:null", type_name(v->type));
    else
      snprintf(buf, n, "%s:%" PRIu64, type_name(v->type), v->bits);
    break;
  }
}

/* ------------------------------------------------------------------------ */
/* JSON values                                                              */
/* ------------------------------------------------------------------------ */

/* Expected-value pattern: a concrete value, or a NaN class, or "any non-null". */
typedef enum { PAT_EXACT, PAT_NAN_CANONICAL, PAT_NAN_ARITHMETIC, PAT_ANY_REF } pat_kind;

typedef struct {
  st_value v;
  pat_kind kind;
  /* v128 lanes with NaN patterns: lane shape and per-lane kinds */
  int lane_bits;           /* 0 when not v128 */
  int lane_is_float;
  pat_kind lane_kind[16];
} pattern;

static int parse_type(const char *s, st_type *t) {
  static const struct { const char *n; st_type t; } tab[] = {
    {"i32", ST_I32}, {"i64", ST_I64}, {"f32", ST_F32}, {"f64", ST_F64},
    {"v128", ST_V128}, {"funcref", ST_FUNCREF}, {"externref", ST_EXTERNREF},
    {"exnref", ST_EXNREF},
  };
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
    if (strcmp(s, tab[i].n) == 0) { *t = tab[i].t; return 0; }
  return -1;
}

static int parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  if (*s == '-') {
    long long v = strtoll(s, &end, 10);
    *out = (uint64_t)v;
  } else {
    *out = strtoull(s, &end, 10);
  }
  return (errno || *end) ? -1 : 0;
}

static int parse_lanes(json_t *jv, const char *lane_type, pattern *p) {
  int bits;
  if (!lane_type) return -1;
  if (strcmp(lane_type, "i8") == 0) bits = 8;
  else if (strcmp(lane_type, "i16") == 0) bits = 16;
  else if (strcmp(lane_type, "i32") == 0 || strcmp(lane_type, "f32") == 0) bits = 32;
  else if (strcmp(lane_type, "i64") == 0 || strcmp(lane_type, "f64") == 0) bits = 64;
  else return -1;
  p->lane_bits = bits;
  p->lane_is_float = lane_type[0] == 'f';
  size_t nlanes = 128 / (size_t)bits;
  if (!json_is_array(jv) || json_array_size(jv) != nlanes) return -1;
  for (size_t i = 0; i < nlanes; i++) {
    const char *s = json_string_value(json_array_get(jv, i));
    uint64_t x = 0;
    p->lane_kind[i] = PAT_EXACT;
    if (s && strcmp(s, "nan:canonical") == 0) p->lane_kind[i] = PAT_NAN_CANONICAL;
    else if (s && strcmp(s, "nan:arithmetic") == 0) p->lane_kind[i] = PAT_NAN_ARITHMETIC;
    else if (parse_u64(s, &x) != 0) return -1;
    for (int b = 0; b < bits / 8; b++)   /* little-endian lanes */
      p->v.v128[i * (size_t)bits / 8 + (size_t)b] = (uint8_t)(x >> (8 * b));
  }
  return 0;
}

/* Parses {"type": T, "value": V} into a pattern. Returns 0 on success. */
static int parse_pattern(json_t *j, pattern *p) {
  memset(p, 0, sizeof *p);
  const char *ts = json_string_value(json_object_get(j, "type"));
  if (!ts || parse_type(ts, &p->v.type) != 0) return -1;
  json_t *jv = json_object_get(j, "value");
  if (p->v.type == ST_V128)
    return parse_lanes(jv, json_string_value(json_object_get(j, "lane_type")), p);
  const char *s = json_string_value(jv);
  if (p->v.type == ST_FUNCREF || p->v.type == ST_EXTERNREF || p->v.type == ST_EXNREF) {
    if (!s) { p->kind = PAT_ANY_REF; return 0; }   /* (ref.func) / any non-null */
    if (strcmp(s, "null") == 0) { p->v.is_null = 1; return 0; }
    return parse_u64(s, &p->v.bits);
  }
  if (s && strcmp(s, "nan:canonical") == 0) { p->kind = PAT_NAN_CANONICAL; return 0; }
  if (s && strcmp(s, "nan:arithmetic") == 0) { p->kind = PAT_NAN_ARITHMETIC; return 0; }
  if (parse_u64(s, &p->v.bits) != 0) return -1;
  if (p->v.type == ST_I32 || p->v.type == ST_F32) p->v.bits &= 0xffffffffu;
  return 0;
}

static int nan_matches(pat_kind k, int bits, uint64_t x) {
  if (bits == 32) {
    uint32_t u = (uint32_t)x;
    if ((u & 0x7f800000u) != 0x7f800000u || (u & 0x007fffffu) == 0) return 0;
    return k == PAT_NAN_CANONICAL ? (u & 0x007fffffu) == 0x00400000u
                                  : (u & 0x00400000u) != 0;
  }
  if ((x & 0x7ff0000000000000ull) != 0x7ff0000000000000ull ||
      (x & 0x000fffffffffffffull) == 0)
    return 0;
  return k == PAT_NAN_CANONICAL ? (x & 0x000fffffffffffffull) == 0x0008000000000000ull
                                : (x & 0x0008000000000000ull) != 0;
}

static int pattern_matches(const pattern *p, const st_value *got) {
  if (got->type != p->v.type) return 0;
  switch (p->v.type) {
  case ST_I32: return (uint32_t)got->bits == (uint32_t)p->v.bits;
  case ST_I64: return got->bits == p->v.bits;
  case ST_F32:
    if (p->kind != PAT_EXACT) return nan_matches(p->kind, 32, got->bits);
    return (uint32_t)got->bits == (uint32_t)p->v.bits;
  case ST_F64:
    if (p->kind != PAT_EXACT) return nan_matches(p->kind, 64, got->bits);
    return got->bits == p->v.bits;
  case ST_V128: {
    int lb = p->lane_bits / 8;
    for (int i = 0; i < 16 / lb; i++) {
      uint64_t a = 0, b = 0;
      for (int k = 0; k < lb; k++) {
        a |= (uint64_t)got->v128[i * lb + k] << (8 * k);
        b |= (uint64_t)p->v.v128[i * lb + k] << (8 * k);
      }
      if (p->lane_kind[i] != PAT_EXACT) {
        if (!nan_matches(p->lane_kind[i], p->lane_bits, a)) return 0;
      } else if (a != b) {
        return 0;
      }
    }
    return 1;
  }
  case ST_FUNCREF:
  case ST_EXTERNREF:
  case ST_EXNREF:
    if (p->kind == PAT_ANY_REF) return !got->is_null;
    if (p->v.is_null) return got->is_null;
    if (got->is_null) return 0;
    /* funcref identity is not observable from the script; externref is */
    return p->v.type == ST_FUNCREF || got->bits == p->v.bits;
  }
  return 0;
}

static void fmt_pattern(char *buf, size_t n, const pattern *p) {
  if (p->kind == PAT_NAN_CANONICAL)
    snprintf(buf, n, "%s:nan:canonical", type_name(p->v.type));
  else if (p->kind == PAT_NAN_ARITHMETIC)
    snprintf(buf, n, "%s:nan:arithmetic", type_name(p->v.type));
  else if (p->kind == PAT_ANY_REF)
    snprintf(buf, n, "%s:non-null", type_name(p->v.type));
  else
    fmt_value(buf, n, &p->v);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
  const char *type;        /* "invoke" or "get" */
  const char *module;      /* NULL = current */
  const char *field;
  size_t field_len;        /* bytes; names may contain NUL bytes */
  st_value args[MAX_VALUES];
  size_t nargs;
} action;

static int parse_action(json_t *ja, action *a) {
  memset(a, 0, sizeof *a);
  a->type = json_string_value(json_object_get(ja, "type"));
  a->module = json_string_value(json_object_get(ja, "module"));
  json_t *jf = json_object_get(ja, "field");
  a->field = json_string_value(jf);
  if (!a->type || !a->field) return -1;
  a->field_len = json_string_length(jf);
  json_t *args = json_object_get(ja, "args");
  size_t i;
  json_t *jv;
  json_array_foreach(args, i, jv) {
    pattern p;
    if (i >= MAX_VALUES || parse_pattern(jv, &p) != 0 || p.kind != PAT_EXACT) return -1;
    a->args[i] = p.v;
    a->nargs = i + 1;
  }
  return 0;
}

static void fmt_action(char *buf, size_t n, const action *a) {
  size_t o = (size_t)snprintf(buf, n, "%s %s%s\"%s\"(", a->type,
                              a->module ? a->module : "", a->module ? "." : "", a->field);
  for (size_t i = 0; i < a->nargs && o < n; i++) {
    char v[80];
    fmt_value(v, sizeof v, &a->args[i]);
    o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", v);
  }
  if (o < n) snprintf(buf + o, n - o, ")");
}

static st_call_result do_action(st_engine *e, const action *a, st_value *res,
                                size_t *nres, char *err, size_t errlen) {
  *nres = 0;
  if (strcmp(a->type, "get") == 0) {
    st_call_result r = st_engine_get(e, a->module, a->field, a->field_len, res, err, errlen);
    if (r == ST_CALL_OK) *nres = 1;
    return r;
  }
  if (strcmp(a->type, "invoke") == 0)
    return st_engine_invoke(e, a->module, a->field, a->field_len, a->args, a->nargs, res,
                            MAX_VALUES, nres, err, errlen);
  snprintf(err, errlen, "unknown action type %s", a->type);
  return ST_CALL_ERROR;
}

static const char *call_result_name(st_call_result r) {
  switch (r) {
  case ST_CALL_OK: return "returned";
  case ST_CALL_TRAP: return "trap";
  case ST_CALL_EXHAUSTED: return "call stack exhausted";
  case ST_CALL_EXCEPTION: return "uncaught exception";
  case ST_CALL_ERROR: return "harness error";
  }
  return "?";
}

static const char *load_result_name(st_load_result r) {
  switch (r) {
  case ST_LOAD_OK: return "loaded";
  case ST_LOAD_MALFORMED: return "malformed";
  case ST_LOAD_INVALID: return "invalid";
  case ST_LOAD_REJECTED: return "rejected";
  case ST_LOAD_UNLINKABLE: return "unlinkable";
  case ST_LOAD_UNINSTANTIABLE: return "uninstantiable";
  case ST_LOAD_OTHER: return "load error";
  }
  return "?";
}

static int read_file(const char *path, uint8_t **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t cap = 0, n = 0;
  if (!f) return -1;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) { free(buf); fclose(f); return -1; }
      buf = nb;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) { free(buf); return -1; }
  *out = buf;
  *len = n;
  return 0;
}

static st_load_result load_file(run_state *rs, st_engine *e, const char *filename,
                                const char *name, int instantiate, char *err,
                                size_t errlen) {
  char path[4096];
  uint8_t *bytes = NULL;
  size_t len = 0;
  snprintf(path, sizeof path, "%s/%s", rs->dir, filename);
  if (read_file(path, &bytes, &len) != 0) {
    snprintf(err, errlen, "cannot read %.400s", path);
    return ST_LOAD_OTHER;
  }
  st_load_result r = st_engine_load(e, bytes, len, name, instantiate, err, errlen);
  free(bytes);
  return r;
}

static void run_assert_return(run_state *rs, st_engine *e, json_t *cmd, long line) {
  action a;
  char desc[512], err[512] = "";
  st_value got[MAX_VALUES];
  size_t ngot = 0;
  pattern exp[MAX_VALUES];
  size_t nexp = 0, i;
  json_t *jv;
  if (parse_action(json_object_get(cmd, "action"), &a) != 0) {
    failure(rs, line, "assert_return: cannot parse action");
    return;
  }
  json_array_foreach(json_object_get(cmd, "expected"), i, jv) {
    if (i >= MAX_VALUES || parse_pattern(jv, &exp[i]) != 0) {
      failure(rs, line, "assert_return: cannot parse expected value %zu", i);
      return;
    }
    nexp = i + 1;
  }
  fmt_action(desc, sizeof desc, &a);
  st_call_result r = do_action(e, &a, got, &ngot, err, sizeof err);
  if (r != ST_CALL_OK) {
    failure(rs, line, "assert_return %s: expected a return, got %s: %s", desc,
            call_result_name(r), err);
    return;
  }
  int ok = ngot == nexp;
  for (i = 0; ok && i < nexp; i++) ok = pattern_matches(&exp[i], &got[i]);
  if (ok) { rs->passed++; return; }
  char es[1024] = "", gs[1024] = "";
  size_t eo = 0, go = 0;
  for (i = 0; i < nexp && eo < sizeof es; i++) {
    char v[96];
    fmt_pattern(v, sizeof v, &exp[i]);
    eo += (size_t)snprintf(es + eo, sizeof es - eo, "%s%s", i ? ", " : "", v);
  }
  for (i = 0; i < ngot && go < sizeof gs; i++) {
    char v[96];
    fmt_value(v, sizeof v, &got[i]);
    go += (size_t)snprintf(gs + go, sizeof gs - go, "%s%s", i ? ", " : "", v);
  }
  failure(rs, line, "assert_return %s: expected (%s), got (%s)", desc, es, gs);
}

static void run_assert_call_fails(run_state *rs, st_engine *e, json_t *cmd, long line,
                                  const char *kind, st_call_result want) {
  action a;
  char desc[512], err[512] = "";
  st_value got[MAX_VALUES];
  size_t ngot = 0;
  const char *text = json_string_value(json_object_get(cmd, "text"));
  if (parse_action(json_object_get(cmd, "action"), &a) != 0) {
    failure(rs, line, "%s: cannot parse action", kind);
    return;
  }
  fmt_action(desc, sizeof desc, &a);
  st_call_result r = do_action(e, &a, got, &ngot, err, sizeof err);
  if (r == want) { rs->passed++; return; }
  failure(rs, line, "%s %s: expected %s (\"%s\"), got %s%s%s", kind, desc,
          call_result_name(want), text ? text : "", call_result_name(r),
          err[0] ? ": " : "", err);
}

static void run_assert_module(run_state *rs, st_engine *e, json_t *cmd, long line,
                              const char *kind, st_load_result want) {
  const char *mtype = json_string_value(json_object_get(cmd, "module_type"));
  const char *file = json_string_value(json_object_get(cmd, "filename"));
  const char *text = json_string_value(json_object_get(cmd, "text"));
  char err[512] = "";
  if (mtype && strcmp(mtype, "text") == 0) { rs->skipped++; return; }
  if (!file) { failure(rs, line, "%s: no filename", kind); return; }
  /* malformed/invalid modules are never instantiated */
  int inst = want == ST_LOAD_UNLINKABLE || want == ST_LOAD_UNINSTANTIABLE;
  st_load_result r = load_file(rs, e, file, NULL, inst, err, sizeof err);
  if (r == want || (r == ST_LOAD_REJECTED &&
                    (want == ST_LOAD_MALFORMED || want == ST_LOAD_INVALID))) {
    rs->passed++;
    return;
  }
  /* Which phase rejects a module is partly an implementation choice (a one-pass
   * decoder+validator meets some errors in the other order, and wast2json's binary
   * encoding of a text module can differ from the reference interpreter's), so a
   * rejection in the other phase passes with a note unless --strict-phase. */
  if (!rs->opt->strict_phase &&
      ((want == ST_LOAD_MALFORMED && r == ST_LOAD_INVALID) ||
       (want == ST_LOAD_INVALID && r == ST_LOAD_MALFORMED))) {
    rs->passed++;
    rs->phase_notes++;
    printf("  note: %s.wast:%ld: %s %s: expected %s (\"%s\"), engine said %s: %s\n",
           rs->script, line, kind, file, load_result_name(want), text ? text : "",
           load_result_name(r), err);
    return;
  }
  failure(rs, line, "%s %s: expected %s (\"%s\"), got %s%s%s", kind, file,
          load_result_name(want), text ? text : "", load_result_name(r),
          err[0] ? ": " : "", err);
}

static void run_command(run_state *rs, st_engine *e, json_t *cmd) {
  const char *type = json_string_value(json_object_get(cmd, "type"));
  long line = (long)json_integer_value(json_object_get(cmd, "line"));
  char err[512] = "";
  if (!type) { failure(rs, line, "command without type"); return; }
  if (rs->opt->trace) {
    printf("  [trace] %s.wast:%ld: %s\n", rs->script, line, type);
    fflush(stdout);
  }

  if (strcmp(type, "module") == 0) {
    const char *file = json_string_value(json_object_get(cmd, "filename"));
    const char *name = json_string_value(json_object_get(cmd, "name"));
    const char *mtype = json_string_value(json_object_get(cmd, "module_type"));
    if (mtype && strcmp(mtype, "text") == 0) { rs->skipped++; return; }
    st_load_result r = load_file(rs, e, file ? file : "", name, 1, err, sizeof err);
    if (r == ST_LOAD_OK) rs->passed++;
    else failure(rs, line, "module %s: %s: %s", file ? file : "?", load_result_name(r), err);
  } else if (strcmp(type, "register") == 0) {
    const char *name = json_string_value(json_object_get(cmd, "name"));
    const char *as = json_string_value(json_object_get(cmd, "as"));
    if (!as || st_engine_register(e, name, as, err, sizeof err) != 0)
      failure(rs, line, "register %s as %s: %s", name ? name : "(current)",
              as ? as : "?", err);
    else
      rs->passed++;
  } else if (strcmp(type, "action") == 0) {
    action a;
    st_value got[MAX_VALUES];
    size_t ngot;
    char desc[512];
    if (parse_action(json_object_get(cmd, "action"), &a) != 0) {
      failure(rs, line, "action: cannot parse");
      return;
    }
    fmt_action(desc, sizeof desc, &a);
    st_call_result r = do_action(e, &a, got, &ngot, err, sizeof err);
    if (r == ST_CALL_OK) rs->passed++;
    else failure(rs, line, "action %s: %s: %s", desc, call_result_name(r), err);
  } else if (strcmp(type, "assert_return") == 0) {
    run_assert_return(rs, e, cmd, line);
  } else if (strcmp(type, "assert_trap") == 0) {
    if (json_object_get(cmd, "action"))
      run_assert_call_fails(rs, e, cmd, line, type, ST_CALL_TRAP);
    else   /* older scripts: assert_trap on a module means uninstantiable */
      run_assert_module(rs, e, cmd, line, type, ST_LOAD_UNINSTANTIABLE);
  } else if (strcmp(type, "assert_exhaustion") == 0) {
    run_assert_call_fails(rs, e, cmd, line, type, ST_CALL_EXHAUSTED);
  } else if (strcmp(type, "assert_exception") == 0) {
    run_assert_call_fails(rs, e, cmd, line, type, ST_CALL_EXCEPTION);
  } else if (strcmp(type, "assert_invalid") == 0) {
    run_assert_module(rs, e, cmd, line, type, ST_LOAD_INVALID);
  } else if (strcmp(type, "assert_malformed") == 0) {
    run_assert_module(rs, e, cmd, line, type, ST_LOAD_MALFORMED);
  } else if (strcmp(type, "assert_unlinkable") == 0) {
    run_assert_module(rs, e, cmd, line, type, ST_LOAD_UNLINKABLE);
  } else if (strcmp(type, "assert_uninstantiable") == 0) {
    run_assert_module(rs, e, cmd, line, type, ST_LOAD_UNINSTANTIABLE);
  } else {
    failure(rs, line, "unknown command type %s", type);
  }
}

/* ------------------------------------------------------------------------ */
/* Scripts                                                                  */
/* ------------------------------------------------------------------------ */

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    char p[4096];
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

static const char *feature_for(const options *opt, const char *wast) {
  if (opt->enable) return opt->enable;
  if (strstr(wast, "memory64/")) return "memory64";
  if (strstr(wast, "exception-handling/")) return "exceptions";
  return NULL;
}

/* Runs a command list already converted to JSON. Returns the number of failures,
 * or -1 when the JSON cannot be read. */
static long run_json(const options *opt, const char *script, const char *dir,
                     const char *json_path, const char *feature) {
  json_error_t jerr;
  json_t *root = json_load_file(json_path, JSON_ALLOW_NUL, &jerr);
  run_state rs = {.script = script, .dir = dir, .opt = opt};
  st_engine *e = NULL;
  if (!root) {
    printf("%s: cannot parse %s: %s (line %d)\n", script, json_path, jerr.text, jerr.line);
    return -1;
  }
  int m64 = feature && strcmp(feature, "memory64") == 0;
  int eh = feature && strcmp(feature, "exceptions") == 0;
  if (st_engine_new(&e, m64, eh) != 0) {
    printf("%s: cannot create engine\n", script);
    json_decref(root);
    return -1;
  }
  size_t i;
  json_t *cmd;
  json_array_foreach(json_object_get(root, "commands"), i, cmd) run_command(&rs, e, cmd);
  st_engine_free(e);
  json_decref(root);
  if (rs.phase_notes)
    printf("%s: %ld passed, %ld failed, %ld skipped (%ld rejected in the other phase)\n",
           script, rs.passed, rs.failed, rs.skipped, rs.phase_notes);
  else
    printf("%s: %ld passed, %ld failed, %ld skipped\n", script, rs.passed, rs.failed,
           rs.skipped);
  total.phase_notes += rs.phase_notes;
  total.passed += rs.passed;
  total.failed += rs.failed;
  total.skipped += rs.skipped;
  total.scripts++;
  if (rs.failed) total.scripts_failed++;
  fflush(stdout);
  return rs.failed;
}


/* Converts and runs one .wast. Returns failures, -1 on environment error,
 * -2 when the script was skipped. */
static long run_wast(const options *opt, const char *wast) {
  const char *slash = strrchr(wast, '/');
  char script[256], tmpl[] = "/tmp/aox-spec-XXXXXX", json[4096], feat[64];
  {
    const char *b = slash ? slash + 1 : wast;
    size_t bl = strlen(b);
    if (bl >= sizeof script) bl = sizeof script - 1;
    memcpy(script, b, bl);
    script[bl] = 0;
  }
  char *dot = strrchr(script, '.');
  if (dot && strcmp(dot, ".wast") == 0) *dot = 0;
  if (strncmp(script, "simd_", 5) == 0) {
    printf("%s: skipped (SIMD is not supported by the engine)\n", script);
    total.scripts_skipped++;
    return -2;
  }
  if (access(wast, R_OK) != 0) {
    printf("%s: cannot read %s: %s\n", script, wast, strerror(errno));
    return -1;
  }
  if (!mkdtemp(tmpl)) {
    printf("%s: mkdtemp: %s\n", script, strerror(errno));
    return -1;
  }
  snprintf(json, sizeof json, "%s/%s.json", tmpl, script);
  const char *f = feature_for(opt, wast);
  char *argv[8];
  int ac = 0;
  argv[ac++] = (char *)opt->wast2json;
  if (f) {
    snprintf(feat, sizeof feat, "--enable-%s", f);
    argv[ac++] = feat;
  }
  argv[ac++] = (char *)wast;
  argv[ac++] = (char *)"-o";
  argv[ac++] = json;
  argv[ac] = NULL;
  pid_t pid;
  int st = 0;
  long failed;
  if (posix_spawn(&pid, opt->wast2json, NULL, NULL, argv, environ) != 0 ||
      waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    printf("%s: %s failed to convert %s\n", script, opt->wast2json, wast);
    failed = -1;
  } else {
    failed = run_json(opt, script, tmpl, json, f);
  }
  remove_tree(tmpl);
  return failed;
}

static int has_suffix(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: spectest_runner [options] PATH...\n"
          "  PATH is a .wast script, a folder of .wast scripts, or (with --json)\n"
          "  a wast2json output file whose .wasm files sit next to it.\n"
          "options:\n"
          "  --wast2json PATH   converter to use (default: wast2json from PATH)\n"
          "  --enable FEATURE   pass --enable-FEATURE to wast2json (default: memory64\n"
          "                     for memory64/ scripts, exceptions for exception-handling/)\n"
          "  --json             PATHs are already-converted .json files\n"
          "  --keep-going       run every script even after one fails\n"
          "  --verbose          print every failure (default: first 25 per script)\n"
          "  --trace            print each command (file:line) before running it\n"
          "  --strict-phase     assert_malformed must fail decoding and assert_invalid\n"
          "                     validation (default: the other phase passes, with a note)\n"
          "exit status: 0 all passed, 1 some command failed, 2 environment error,\n"
          "             77 everything given was skipped\n");
}

int main(int argc, char **argv) {
  options opt = {.wast2json = "/usr/bin/wast2json", .max_details = 25};
  int json_mode = 0, i;
  long total_failed = 0, env_errors = 0, ran = 0;
  char **paths = NULL;
  size_t npaths = 0, cap = 0;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--wast2json") == 0 && i + 1 < argc) opt.wast2json = argv[++i];
    else if (strcmp(a, "--enable") == 0 && i + 1 < argc) opt.enable = argv[++i];
    else if (strcmp(a, "--json") == 0) json_mode = 1;
    else if (strcmp(a, "--keep-going") == 0) opt.keep_going = 1;
    else if (strcmp(a, "--trace") == 0) opt.trace = 1;
    else if (strcmp(a, "--strict-phase") == 0) opt.strict_phase = 1;
    else if (strcmp(a, "--verbose") == 0) { opt.verbose = 1; opt.max_details = 1 << 30; }
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); return 0; }
    else if (a[0] == '-') { fprintf(stderr, "unknown option %s\n", a); usage(stderr); return 2; }
    else {
      /* expand folders into their sorted .wast scripts */
      struct stat sb;
      if (!json_mode && stat(a, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(a);
        struct dirent *de;
        size_t first = npaths;
        while (d && (de = readdir(d)) != NULL) {
          if (!has_suffix(de->d_name, ".wast")) continue;
          if (npaths == cap) {
            cap = cap ? cap * 2 : 64;
            paths = realloc(paths, cap * sizeof *paths);
            if (!paths) return 2;
          }
          size_t n = strlen(a) + strlen(de->d_name) + 2;
          paths[npaths] = malloc(n);
          if (!paths[npaths]) return 2;
          snprintf(paths[npaths++], n, "%s/%s", a, de->d_name);
        }
        if (d) closedir(d);
        qsort(paths + first, npaths - first, sizeof *paths, cmp_str);
        if (npaths == first) {
          fprintf(stderr, "no .wast scripts in %s\n", a);
          env_errors++;
        }
      } else {
        if (npaths == cap) {
          cap = cap ? cap * 2 : 64;
          paths = realloc(paths, cap * sizeof *paths);
          if (!paths) return 2;
        }
        paths[npaths++] = strdup(a);
      }
    }
  }
  if (npaths == 0 && env_errors == 0) { usage(stderr); return 2; }
  if (!json_mode && access(opt.wast2json, X_OK) != 0) {
    fprintf(stderr, "spectest_runner: wast2json not found at %s (install wabt)\n",
            opt.wast2json);
    return 2;
  }

  for (size_t k = 0; k < npaths; k++) {
    long f;
    if (json_mode) {
      char dir[4096], script[256];
      snprintf(dir, sizeof dir, "%s", paths[k]);
      char *sl = strrchr(dir, '/');
      const char *base = sl ? sl + 1 : dir;
      size_t bl = strlen(base);
      if (bl >= sizeof script) bl = sizeof script - 1;
      memcpy(script, base, bl);
      script[bl] = 0;
      char *dot = strrchr(script, '.');
      if (dot) *dot = 0;
      if (sl) *sl = 0; else snprintf(dir, sizeof dir, ".");
      f = run_json(&opt, script, dir, paths[k], feature_for(&opt, paths[k]));
    } else {
      f = run_wast(&opt, paths[k]);
    }
    if (f == -2) continue;   /* skipped */
    ran++;
    if (f < 0) env_errors++;
    else total_failed += f;
    if ((f != 0) && !opt.keep_going && npaths > 1 && k + 1 < npaths) {
      printf("stopping after the first failing script (use --keep-going)\n");
      break;
    }
  }
  if (npaths > 1)
    printf("total: %ld passed, %ld failed, %ld skipped commands; %ld scripts run, "
           "%ld with failures, %ld skipped; %ld rejections in the other phase\n",
           total.passed, total.failed, total.skipped, total.scripts, total.scripts_failed,
           total.scripts_skipped, total.phase_notes);
  for (size_t k = 0; k < npaths; k++) free(paths[k]);
  free(paths);
  if (env_errors) return 2;
  if (total_failed) return 1;
  return ran == 0 ? 77 : 0;
}
