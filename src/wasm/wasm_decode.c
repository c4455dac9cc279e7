/* wasm_decode.c: binary format decoder (module sections). Function bodies are
 * validated and compiled by wasm_compile.c from the code section, in the same pass.
 *
 * Every read is bounds checked against the current section end; counts are checked
 * against the remaining bytes before anything is allocated, so no input can make us
 * allocate more than a small multiple of its own size. Errors carry the byte offset
 * and the spec's wording ("unexpected end", "integer too large", ...).
 */
#include "wasm/wasm_int.h"
#include "wasm/wasm_dec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void wasm_err(wasm_error *err, int64_t off, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->offset = off;
}

bool dec_fail(wdec *d, const char *fmt, ...)
{
    if (d->failed) return false;
    d->failed = true;
    if (d->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err->message, sizeof d->err->message, fmt, ap);
        va_end(ap);
        d->err->offset = (int64_t)(d->p - d->start);
    }
    return false;
}

static int error_kind(const char *msg);
static bool is_opcode(uint8_t op);

/* ------------------------------------------------------------------ */
/* Primitive readers                                                   */
/* ------------------------------------------------------------------ */

bool dec_u8(wdec *d, uint8_t *out)
{
    *out = 0;
    if (d->p >= d->end) return dec_fail(d, "%s", d->eof_msg);
    *out = *d->p++;
    return true;
}

bool dec_bytes(wdec *d, size_t n, const uint8_t **out)
{
    *out = NULL;
    if ((size_t)(d->end - d->p) < n) return dec_fail(d, "%s", d->eof_msg);
    *out = d->p;
    d->p += n;
    return true;
}

static bool leb_u(wdec *d, unsigned bits, uint64_t *out)
{
    *out = 0;
    uint64_t r = 0;
    unsigned shift = 0;
    for (;;) {
        uint8_t b;
        if (!dec_u8(d, &b)) return false;
        if (shift + 7 >= bits && shift < bits) {
            /* last allowed byte */
            unsigned used = bits - shift;        /* bits still available */
            if (b & 0x80) return dec_fail(d, "integer representation too long");
            if (used < 7 && (b >> used) != 0) return dec_fail(d, "integer too large");
            r |= (uint64_t)b << shift;
            break;
        }
        r |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    *out = r;
    return true;
}

static bool leb_s(wdec *d, unsigned bits, int64_t *out)
{
    *out = 0;
    uint64_t r = 0;
    unsigned shift = 0;
    uint8_t b;
    for (;;) {
        if (!dec_u8(d, &b)) return false;
        if (shift + 7 >= bits) {
            unsigned used = bits - shift;        /* 1..7 bits meaningful */
            if (b & 0x80) return dec_fail(d, "integer representation too long");
            if (used < 7) {
                /* remaining bits must be the sign extension of the top used bit */
                uint8_t rest = (uint8_t)(b & 0x7f) >> (used - 1);
                uint8_t full = (uint8_t)(0x7f >> (used - 1));
                if (rest != 0 && rest != full) return dec_fail(d, "integer too large");
            }
            r |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            break;
        }
        r |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    if (shift < 64 && (b & 0x40)) r |= ~(uint64_t)0 << shift;
    if (bits < 64) {
        /* sign-extend from `bits` */
        unsigned sh = 64 - bits;
        r = (uint64_t)((int64_t)(r << sh) >> sh);
    }
    *out = (int64_t)r;
    return true;
}

bool dec_u32(wdec *d, uint32_t *out)
{
    uint64_t v;
    *out = 0;
    if (!leb_u(d, 32, &v)) return false;
    *out = (uint32_t)v;
    return true;
}
bool dec_u64(wdec *d, uint64_t *out) { return leb_u(d, 64, out); }
bool dec_s32(wdec *d, int32_t *out)
{
    int64_t v;
    *out = 0;
    if (!leb_s(d, 32, &v)) return false;
    *out = (int32_t)v;
    return true;
}
bool dec_s33(wdec *d, int64_t *out) { return leb_s(d, 33, out); }
bool dec_s64(wdec *d, int64_t *out) { return leb_s(d, 64, out); }

/* A count of items each at least `min_size` bytes long. */
bool dec_count(wdec *d, uint32_t *out, size_t min_size)
{
    if (!dec_u32(d, out)) return false;
    if (min_size && (uint64_t)*out * min_size > (uint64_t)(d->end - d->p))
        return dec_fail(d, "%s", d->eof_msg);
    return true;
}

static bool utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return false;
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
            return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

static bool dec_name(wdec *d, char **out, uint32_t *out_len)
{
    uint32_t n;
    const uint8_t *s;
    if (!dec_u32(d, &n)) return false;
    if ((size_t)(d->end - d->p) < n) return dec_fail(d, "length out of bounds");
    if (!dec_bytes(d, n, &s)) return false;
    if (!utf8_ok(s, n)) return dec_fail(d, "malformed UTF-8 encoding");
    if (out) {
        char *c = malloc((size_t)n + 1);
        if (!c) return dec_fail(d, "out of memory");
        memcpy(c, s, n);
        c[n] = 0;
        *out = c;
        *out_len = n;
    }
    return true;
}

bool wasm_valtype_ok(uint8_t b)
{
    return b == WASM_I32 || b == WASM_I64 || b == WASM_F32 || b == WASM_F64 ||
           b == WASM_FUNCREF || b == WASM_EXTERNREF;
}

bool dec_valtype(wdec *d, wasm_valtype *out)
{
    uint8_t b;
    *out = WASM_I32;
    if (!dec_u8(d, &b)) return false;
    if (b == 0x7B) { d->p--; return dec_fail(d, "unsupported feature: SIMD (v128)"); }
    if (!wasm_valtype_ok(b)) { d->p--; return dec_fail(d, "malformed value type"); }
    *out = (wasm_valtype)b;
    return true;
}

static bool dec_reftype(wdec *d, wasm_valtype *out)
{
    uint8_t b;
    *out = WASM_FUNCREF;
    if (!dec_u8(d, &b)) return false;
    if (b != WASM_FUNCREF && b != WASM_EXTERNREF) {
        d->p--;
        return dec_fail(d, "malformed reference type");
    }
    *out = (wasm_valtype)b;
    return true;
}

uint64_t wasm_functype_hash(const wfunctype *t)
{
    uint64_t h = 1469598103934665603ull;
    h = (h ^ t->np) * 1099511628211ull;
    h = (h ^ t->nr) * 1099511628211ull;
    for (uint32_t i = 0; i < t->np; i++) h = (h ^ (uint64_t)t->params[i]) * 1099511628211ull;
    for (uint32_t i = 0; i < t->nr; i++) h = (h ^ (uint64_t)t->results[i] ^ 0x100) * 1099511628211ull;
    return h;
}

bool wasm_functype_eq(const wfunctype *a, const wfunctype *b)
{
    if (a == b) return true;
    if (a->hash != b->hash || a->np != b->np || a->nr != b->nr) return false;
    for (uint32_t i = 0; i < a->np; i++)
        if (a->params[i] != b->params[i]) return false;
    for (uint32_t i = 0; i < a->nr; i++)
        if (a->results[i] != b->results[i]) return false;
    return true;
}

static bool dec_limits(wdec *d, wlimits *l, bool *is64, bool allow64, uint64_t cap,
                       const char *what)
{
    uint8_t flags;
    if (!dec_u8(d, &flags)) return false;
    bool i64 = false;
    if (flags == 0x04 || flags == 0x05) {
        if (!allow64) { d->p--; return dec_fail(d, "integer too large"); }
        i64 = true;
    } else if (flags > 1) {
        d->p--;
        return dec_fail(d, "integer too large");
    }
    bool has_max = flags & 1;
    uint64_t mn = 0, mx = 0;
    if (i64) {
        if (!dec_u64(d, &mn)) return false;
        if (has_max && !dec_u64(d, &mx)) return false;
    } else {
        uint32_t a, b = 0;
        if (!dec_u32(d, &a)) return false;
        if (has_max && !dec_u32(d, &b)) return false;
        mn = a;
        mx = b;
    }
    l->min = mn;
    l->max = mx;
    l->has_max = has_max;
    if (is64) *is64 = i64;
    if (has_max && mn > mx) return dec_fail(d, "size minimum must not be greater than maximum");
    if (mn > cap || (has_max && mx > cap))
        return dec_fail(d, "%s", what);
    return true;
}

/* ------------------------------------------------------------------ */
/* Constant expressions                                                */
/* ------------------------------------------------------------------ */

static bool dec_const(wdec *d, wasm_module *m, wasm_valtype expect, wconst *c,
                      uint32_t nglobals_visible)
{
    uint8_t op;
    wasm_valtype got;
    if (!dec_u8(d, &op)) return false;
    switch (op) {
    case 0x41: { int32_t v; if (!dec_s32(d, &v)) return false;
        c->kind = CE_I32; c->val = (uint32_t)v; got = WASM_I32; break; }
    case 0x42: { int64_t v; if (!dec_s64(d, &v)) return false;
        c->kind = CE_I64; c->val = (uint64_t)v; got = WASM_I64; break; }
    case 0x43: { const uint8_t *b; if (!dec_bytes(d, 4, &b)) return false;
        uint32_t v; memcpy(&v, b, 4); c->kind = CE_F32; c->val = v; got = WASM_F32; break; }
    case 0x44: { const uint8_t *b; if (!dec_bytes(d, 8, &b)) return false;
        uint64_t v; memcpy(&v, b, 8); c->kind = CE_F64; c->val = v; got = WASM_F64; break; }
    case 0xD0: { if (!dec_reftype(d, &got)) return false;
        c->kind = CE_REFNULL; c->val = got; break; }
    case 0xD2: { uint32_t f; if (!dec_u32(d, &f)) return false;
        if (f >= m->nfuncs) return dec_fail(d, "unknown function %u", f);
        m->declared[f] = 1;
        c->kind = CE_REFFUNC; c->val = f; got = WASM_FUNCREF; break; }
    case 0x23: { uint32_t g; if (!dec_u32(d, &g)) return false;
        if (g >= nglobals_visible) return dec_fail(d, "unknown global %u", g);
        if (g >= m->nglobal_imports) return dec_fail(d, "unknown global %u", g);
        if (m->globals[g].mut) return dec_fail(d, "constant expression required");
        c->kind = CE_GLOBAL; c->val = g; got = m->globals[g].type; break; }
    default:
        d->p--;
        if (op == 0x0B) return dec_fail(d, "type mismatch");
        if (!is_opcode(op)) return dec_fail(d, "illegal opcode");
        /* numeric instructions etc. are valid encodings but not constant */
        return dec_fail(d, "constant expression required");
    }
    if (!dec_u8(d, &op)) return false;
    if (op != 0x0B) {
        d->p--;
        if (op == 0x41 || op == 0x42 || op == 0x43 || op == 0x44 || op == 0xD0 || op == 0xD2 ||
            op == 0x23)
            return dec_fail(d, "type mismatch");
        return dec_fail(d, "constant expression required");
    }
    if (got != expect) return dec_fail(d, "type mismatch");
    return true;
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */
/* ------------------------------------------------------------------ */

static bool sec_type(wdec *d, wasm_module *m)
{
    uint32_t n;
    if (!dec_count(d, &n, 3)) return false;
    m->types = calloc(n ? n : 1, sizeof *m->types);
    if (!m->types) return dec_fail(d, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        uint8_t form;
        uint32_t np, nr;
        if (!dec_u8(d, &form)) return false;
        if (form != 0x60) { d->p--; return dec_fail(d, "integer representation too long"); }
        if (!dec_count(d, &np, 1)) return false;
        const uint8_t *pp = d->p;
        d->p += np;
        if (!dec_count(d, &nr, 1)) return false;
        d->p = pp;
        wfunctype *t = &m->types[i];
        t->params = malloc(((size_t)np + nr + 1) * sizeof(wasm_valtype));
        if (!t->params) return dec_fail(d, "out of memory");
        t->results = t->params + np;
        m->ntypes = i + 1;
        for (uint32_t k = 0; k < np; k++)
            if (!dec_valtype(d, &t->params[k])) return false;
        if (!dec_count(d, &nr, 1)) return false;
        for (uint32_t k = 0; k < nr; k++)
            if (!dec_valtype(d, &t->results[k])) return false;
        t->np = np;
        t->nr = nr;
        t->hash = wasm_functype_hash(t);
    }
    m->ntypes = n;
    return true;
}

static bool grow_arr(wdec *d, void **arr, size_t elem, uint32_t need)
{
    void *p = realloc(*arr, (size_t)(need ? need : 1) * elem);
    if (!p) return dec_fail(d, "out of memory");
    *arr = p;
    return true;
}

static bool sec_import(wdec *d, wasm_module *m)
{
    uint32_t n;
    if (!dec_count(d, &n, 4)) return false;
    m->imports = calloc(n ? n : 1, sizeof *m->imports);
    if (!m->imports) return dec_fail(d, "out of memory");
    /* upper bounds so index arrays can be sized once */
    if (!grow_arr(d, (void **)&m->func_type, sizeof(uint32_t), n) ||
        !grow_arr(d, (void **)&m->tables, sizeof(wtabletype), n) ||
        !grow_arr(d, (void **)&m->mems, sizeof(wmemtype), n) ||
        !grow_arr(d, (void **)&m->globals, sizeof(wglobaltype), n) ||
        !grow_arr(d, (void **)&m->tag_type, sizeof(uint32_t), n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        wimport *im = &m->imports[i];
        m->nimports = i + 1;
        if (!dec_name(d, &im->module, &im->module_len)) return false;
        if (!dec_name(d, &im->name, &im->name_len)) return false;
        uint8_t kind;
        if (!dec_u8(d, &kind)) return false;
        switch (kind) {
        case 0: {
            uint32_t t;
            if (!dec_u32(d, &t)) return false;
            if (t >= m->ntypes) return dec_fail(d, "unknown type %u", t);
            im->kind = WASM_EXTERN_FUNC;
            im->index = m->nfuncs;
            m->func_type[m->nfuncs++] = t;
            m->nfunc_imports++;
            break;
        }
        case 1: {
            wtabletype *tt = &m->tables[m->ntables];
            if (!dec_reftype(d, &tt->elem)) return false;
            if (!dec_limits(d, &tt->lim, NULL, false, UINT32_MAX, "table size")) return false;
            im->kind = WASM_EXTERN_TABLE;
            im->index = m->ntables++;
            m->ntable_imports++;
            break;
        }
        case 2: {
            wmemtype *mt = &m->mems[m->nmems];
            bool is64 = false;
            if (!dec_limits(d, &mt->lim, &is64, m->feat.memory64, UINT64_MAX, "memory size"))
                return false;
            mt->is64 = is64;
            uint64_t cap = is64 ? (1ull << 48) : 65536;
            if (mt->lim.min > cap || (mt->lim.has_max && mt->lim.max > cap))
                return dec_fail(d, "memory size must be at most %llu pages",
                                (unsigned long long)cap);
            im->kind = WASM_EXTERN_MEMORY;
            im->index = m->nmems++;
            m->nmem_imports++;
            break;
        }
        case 3: {
            wglobaltype *g = &m->globals[m->nglobals];
            uint8_t mut;
            if (!dec_valtype(d, &g->type)) return false;
            if (!dec_u8(d, &mut)) return false;
            if (mut > 1) { d->p--; return dec_fail(d, "malformed mutability"); }
            g->mut = mut;
            im->kind = WASM_EXTERN_GLOBAL;
            im->index = m->nglobals++;
            m->nglobal_imports++;
            break;
        }
        case 4: {
            if (!m->feat.exceptions) { d->p--; return dec_fail(d, "malformed import kind"); }
            uint8_t attr;
            uint32_t t;
            if (!dec_u8(d, &attr)) return false;
            if (attr != 0) { d->p--; return dec_fail(d, "malformed tag attribute"); }
            if (!dec_u32(d, &t)) return false;
            if (t >= m->ntypes) return dec_fail(d, "unknown type %u", t);
            if (m->types[t].nr != 0) return dec_fail(d, "non-empty tag result type");
            im->kind = WASM_EXTERN_TAG;
            im->index = m->ntags;
            m->tag_type[m->ntags++] = t;
            m->ntag_imports++;
            break;
        }
        default:
            d->p--;
            return dec_fail(d, "malformed import kind");
        }
    }
    return true;
}

static bool sec_function(wdec *d, wasm_module *m, uint32_t *ndefined)
{
    uint32_t n;
    if (!dec_count(d, &n, 1)) return false;
    if (!grow_arr(d, (void **)&m->func_type, sizeof(uint32_t), m->nfuncs + n)) return false;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t;
        if (!dec_u32(d, &t)) return false;
        if (t >= m->ntypes) return dec_fail(d, "unknown type %u", t);
        m->func_type[m->nfuncs++] = t;
    }
    *ndefined = n;
    return true;
}

static bool sec_table(wdec *d, wasm_module *m)
{
    uint32_t n;
    if (!dec_count(d, &n, 3)) return false;
    if (!grow_arr(d, (void **)&m->tables, sizeof(wtabletype), m->ntables + n)) return false;
    for (uint32_t i = 0; i < n; i++) {
        wtabletype *tt = &m->tables[m->ntables];
        if (!dec_reftype(d, &tt->elem)) return false;
        if (!dec_limits(d, &tt->lim, NULL, false, UINT32_MAX, "table size")) return false;
        m->ntables++;
    }
    return true;
}

static bool sec_memory(wdec *d, wasm_module *m)
{
    uint32_t n;
    if (!dec_count(d, &n, 2)) return false;
    if (!grow_arr(d, (void **)&m->mems, sizeof(wmemtype), m->nmems + n)) return false;
    for (uint32_t i = 0; i < n; i++) {
        wmemtype *mt = &m->mems[m->nmems];
        bool is64 = false;
        if (!dec_limits(d, &mt->lim, &is64, m->feat.memory64, UINT64_MAX, "memory size"))
            return false;
        mt->is64 = is64;
        uint64_t cap = is64 ? (1ull << 48) : 65536;
        if (mt->lim.min > cap || (mt->lim.has_max && mt->lim.max > cap))
            return dec_fail(d, "memory size must be at most %llu pages",
                            (unsigned long long)cap);
        m->nmems++;
    }
    return true;
}

static bool sec_tag(wdec *d, wasm_module *m)
{
    uint32_t n;
    if (!dec_count(d, &n, 2)) return false;
    if (!grow_arr(d, (void **)&m->tag_type, sizeof(uint32_t), m->ntags + n)) return false;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t attr;
        uint32_t t;
        if (!dec_u8(d, &attr)) return false;
        if (attr != 0) { d->p--; return dec_fail(d, "malformed tag attribute"); }
        if (!dec_u32(d, &t)) return false;
        if (t >= m->ntypes) return dec_fail(d, "unknown type %u", t);
        if (m->types[t].nr != 0) return dec_fail(d, "non-empty tag result type");
        m->tag_type[m->ntags++] = t;
    }
    return true;
}

static bool sec_global(wdec *d, wasm_module *m)
{
    uint32_t n;
    if (!dec_count(d, &n, 3)) return false;
    if (!grow_arr(d, (void **)&m->globals, sizeof(wglobaltype), m->nglobals + n)) return false;
    for (uint32_t i = 0; i < n; i++) {
        wglobaltype *g = &m->globals[m->nglobals];
        uint8_t mut;
        if (!dec_valtype(d, &g->type)) return false;
        if (!dec_u8(d, &mut)) return false;
        if (mut > 1) { d->p--; return dec_fail(d, "malformed mutability"); }
        g->mut = mut;
        if (!dec_const(d, m, g->type, &g->init, m->nglobals)) return false;
        m->nglobals++;
    }
    return true;
}

static bool sec_export(wdec *d, wasm_module *m)
{
    uint32_t n;
    if (!dec_count(d, &n, 3)) return false;
    m->exports = calloc(n ? n : 1, sizeof *m->exports);
    if (!m->exports) return dec_fail(d, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        wexport *e = &m->exports[i];
        if (!dec_name(d, &e->name, &e->name_len)) return false;
        m->nexports = i + 1;
        uint8_t kind;
        uint32_t idx;
        if (!dec_u8(d, &kind)) return false;
        if (!dec_u32(d, &idx)) return false;
        switch (kind) {
        case 0:
            if (idx >= m->nfuncs) return dec_fail(d, "unknown function %u", idx);
            m->declared[idx] = 1;
            break;
        case 1:
            if (idx >= m->ntables) return dec_fail(d, "unknown table %u", idx);
            break;
        case 2:
            if (idx >= m->nmems) return dec_fail(d, "unknown memory %u", idx);
            break;
        case 3:
            if (idx >= m->nglobals) return dec_fail(d, "unknown global %u", idx);
            break;
        case 4:
            if (!m->feat.exceptions) return dec_fail(d, "malformed export kind");
            if (idx >= m->ntags) return dec_fail(d, "unknown tag %u", idx);
            break;
        default:
            return dec_fail(d, "malformed export kind");
        }
        e->kind = (wasm_extern_kind)kind;
        e->index = idx;
        for (uint32_t k = 0; k < i; k++)
            if (m->exports[k].name_len == e->name_len &&
                memcmp(m->exports[k].name, e->name, e->name_len) == 0)
                return dec_fail(d, "duplicate export name");
    }
    return true;
}

static bool sec_start(wdec *d, wasm_module *m)
{
    uint32_t f;
    if (!dec_u32(d, &f)) return false;
    if (f >= m->nfuncs) return dec_fail(d, "unknown function %u", f);
    const wfunctype *t = &m->types[m->func_type[f]];
    if (t->np || t->nr) return dec_fail(d, "start function");
    m->start = f;
    return true;
}

static bool sec_elem(wdec *d, wasm_module *m)
{
    uint32_t n;
    if (!dec_count(d, &n, 1)) return false;
    m->elems = calloc(n ? n : 1, sizeof *m->elems);
    if (!m->elems) return dec_fail(d, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        welem *e = &m->elems[i];
        uint32_t flags;
        m->nelems = i + 1;
        if (!dec_u32(d, &flags)) return false;
        if (flags > 7) return dec_fail(d, "malformed elements segment kind");
        e->type = WASM_FUNCREF;
        e->table = 0;
        bool exprs = flags & 4;
        if (flags & 1) e->mode = (flags & 2) ? SEG_DECLARATIVE : SEG_PASSIVE;
        else {
            e->mode = SEG_ACTIVE;
            if (flags & 2) { if (!dec_u32(d, &e->table)) return false; }
            if (e->table >= m->ntables) return dec_fail(d, "unknown table %u", e->table);
            if (!dec_const(d, m, WASM_I32, &e->offset, m->nglobals)) return false;
        }
        if (flags & 3) {
            /* explicit elemkind (0x00 = funcref) or reftype */
            if (exprs) {
                if (!dec_reftype(d, &e->type)) return false;
            } else {
                uint8_t k;
                if (!dec_u8(d, &k)) return false;
                if (k != 0) { d->p--; return dec_fail(d, "malformed element kind"); }
            }
        }
        if (e->mode == SEG_ACTIVE && m->tables[e->table].elem != e->type)
            return dec_fail(d, "type mismatch");
        if (!dec_count(d, &e->n, 1)) return false;
        e->items = calloc(e->n ? e->n : 1, sizeof *e->items);
        if (!e->items) return dec_fail(d, "out of memory");
        for (uint32_t k = 0; k < e->n; k++) {
            if (exprs) {
                if (!dec_const(d, m, e->type, &e->items[k], m->nglobals)) return false;
            } else {
                uint32_t f;
                if (!dec_u32(d, &f)) return false;
                if (f >= m->nfuncs) return dec_fail(d, "unknown function %u", f);
                m->declared[f] = 1;
                e->items[k].kind = CE_REFFUNC;
                e->items[k].val = f;
            }
        }
    }
    return true;
}

static bool sec_datacount(wdec *d, wasm_module *m)
{
    uint32_t n;
    if (!dec_u32(d, &n)) return false;
    m->datacount = n;
    return true;
}

static bool sec_data(wdec *d, wasm_module *m)
{
    uint32_t n;
    if (!dec_count(d, &n, 1)) return false;
    if (m->datacount >= 0 && n != (uint64_t)m->datacount)
        return dec_fail(d, "data count and data section have inconsistent lengths");
    m->datas = calloc(n ? n : 1, sizeof *m->datas);
    if (!m->datas) return dec_fail(d, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        wdata *s = &m->datas[i];
        uint32_t flags, len;
        m->ndatas = i + 1;
        if (!dec_u32(d, &flags)) return false;
        if (flags > 2) return dec_fail(d, "malformed data segment kind");
        s->mode = (flags == 1) ? SEG_PASSIVE : SEG_ACTIVE;
        s->mem = 0;
        if (flags == 2 && !dec_u32(d, &s->mem)) return false;
        if (s->mode == SEG_ACTIVE) {
            if (s->mem >= m->nmems) return dec_fail(d, "unknown memory %u", s->mem);
            if (!dec_const(d, m, m->mems[s->mem].is64 ? WASM_I64 : WASM_I32, &s->offset,
                           m->nglobals))
                return false;
        }
        if (!dec_u32(d, &len)) return false;
        const uint8_t *b;
        if ((size_t)(d->end - d->p) < len) return dec_fail(d, "unexpected end of section or function");
        if (!dec_bytes(d, len, &b)) return false;
        s->len = len;
        s->bytes = malloc(len ? len : 1);
        if (!s->bytes) return dec_fail(d, "out of memory");
        memcpy(s->bytes, b, len);
    }
    return true;
}

/* Syntactic scan of a function body (no validation). Used after a validation
 * error, so that a decoding error later in the module is reported as such, like a
 * decoder that runs fully before validating would. */
static bool is_opcode(uint8_t op)
{
    return op <= 0x11 || op == 0x18 || op == 0x19 || (op >= 0x1A && op <= 0x1C) ||
           (op >= 0x20 && op <= 0x26) || (op >= 0x28 && op <= 0xC4) ||
           (op >= 0xD0 && op <= 0xD2) || op == 0xFC;
}

static bool skip_body(wdec *d, const uint8_t *body, size_t len, bool mem64)
{
    wdec s = *d;
    s.p = body;
    s.end = body + len;
    s.failed = false;
    s.eof_msg = "unexpected end";
    bool ok = false;
    uint32_t ng, depth = 1;
    if (!dec_count(&s, &ng, 2)) goto out;
    for (uint32_t i = 0; i < ng; i++) {
        uint32_t k;
        wasm_valtype t;
        if (!dec_u32(&s, &k) || !dec_valtype(&s, &t)) goto out;
    }
    while (depth > 0) {
        uint8_t op, b;
        uint32_t x;
        uint64_t x64;
        int32_t i32;
        int64_t i64;
        const uint8_t *bp;
        if (!dec_u8(&s, &op)) goto out;
        switch (op) {
        case 0x02: case 0x03: case 0x04: case 0x06:
            if (s.p < s.end && (*s.p == 0x40 || wasm_valtype_ok(*s.p))) s.p++;
            else if (!dec_s33(&s, &i64)) goto out;
            depth++;
            break;
        case 0x0B: depth--; break;
        case 0x18: if (!dec_u32(&s, &x)) goto out; depth--; break;
        case 0x07: case 0x08: case 0x09: case 0x0C: case 0x0D: case 0x10: case 0x20: case 0x21:
        case 0x22: case 0x23: case 0x24: case 0x25: case 0x26: case 0xD2:
            if (!dec_u32(&s, &x)) goto out;
            break;
        case 0x0E: {
            uint32_t n;
            if (!dec_count(&s, &n, 1)) goto out;
            for (uint32_t i = 0; i <= n; i++)
                if (!dec_u32(&s, &x)) goto out;
            break;
        }
        case 0x11: if (!dec_u32(&s, &x) || !dec_u32(&s, &x)) goto out; break;
        case 0x1C: {
            uint32_t n;
            wasm_valtype t;
            if (!dec_count(&s, &n, 1)) goto out;
            for (uint32_t i = 0; i < n; i++)
                if (!dec_valtype(&s, &t)) goto out;
            break;
        }
        case 0x3F: case 0x40: case 0xD0: if (!dec_u8(&s, &b)) goto out; break;
        case 0x41: if (!dec_s32(&s, &i32)) goto out; break;
        case 0x42: if (!dec_s64(&s, &i64)) goto out; break;
        case 0x43: if (!dec_bytes(&s, 4, &bp)) goto out; break;
        case 0x44: if (!dec_bytes(&s, 8, &bp)) goto out; break;
        case 0xFC: {
            uint32_t sub;
            if (!dec_u32(&s, &sub)) goto out;
            int nimm = sub <= 7 ? 0 : (sub == 8 || sub == 10 || sub == 12 || sub == 14) ? 2 : 1;
            if (sub > 17) { dec_fail(&s, "illegal opcode"); goto out; }
            for (int i = 0; i < nimm; i++)
                if (!dec_u32(&s, &x)) goto out;
            break;
        }
        default:
            if (op >= 0x28 && op <= 0x3E) {
                if (!dec_u32(&s, &x)) goto out;
                if (mem64 ? !dec_u64(&s, &x64) : !dec_u32(&s, &x)) goto out;
                break;
            }
            if (!is_opcode(op)) { s.p--; dec_fail(&s, "illegal opcode"); goto out; }
            break;
        }
    }
    if (s.p != s.end) { dec_fail(&s, "section size mismatch"); goto out; }
    ok = true;
out:
    return ok;
}

static bool sec_code(wdec *d, wasm_module *m, uint32_t ndefined)
{
    uint32_t n;
    if (!dec_count(d, &n, 2)) return false;
    if (n != ndefined) return dec_fail(d, "function and code section have inconsistent lengths");
    m->codes = calloc(n ? n : 1, sizeof *m->codes);
    if (!m->codes) return dec_fail(d, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t size;
        if (!dec_u32(d, &size)) return false;
        if ((size_t)(d->end - d->p) < size) return dec_fail(d, "unexpected end of section or function");
        const uint8_t *body = d->p;
        d->p += size;
        bool m64 = m->nmems && m->mems[0].is64;
        if (d->have_invalid) {
            if (!skip_body(d, body, size, m64)) { d->failed = true; return false; }
            continue;
        }
        if (wasm_compile_function(d, m, i, body, size, (size_t)(body - d->start), d->err) != 0) {
            d->failed = true;
            if (error_kind(d->err->message) != WASM_ERR_INVALID) return false;
            /* a decoding error later on takes precedence over this validation error */
            d->pending = *d->err;
            d->have_invalid = true;
            d->failed = false;
            if (!skip_body(d, body, size, m64)) { d->failed = true; return false; }
        }
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Module                                                              */
/* ------------------------------------------------------------------ */

static int section_rank(uint8_t id)
{
    static const int8_t rank[14] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6};
    return id < 14 ? rank[id] : -1;
}

/* Validation (as opposed to decoding) failures, by message. */
static int error_kind(const char *msg)
{
    static const char *const invalid[] = {
        "type mismatch", "unknown ", "alignment must", "invalid result arity",
        "undeclared function reference", "global is immutable", "constant expression required",
        "duplicate export name", "multiple memories", "start function",
        "size minimum must not be greater than maximum", "memory size must be at most",
        "table size", "memory size", "non-empty tag result type", "invalid rethrow label",
        "catch without try", "catch_all without try", "delegate without try", "else without if",
        "function too complex"};
    if (strcmp(msg, "out of memory") == 0) return WASM_ERR_OTHER;
    if (strcmp(msg, "unknown binary version") == 0) return WASM_ERR_MALFORMED;
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
        if (strncmp(msg, invalid[i], strlen(invalid[i])) == 0) return WASM_ERR_INVALID;
    return WASM_ERR_MALFORMED;
}

void wasm_module_free(wasm_module *m)
{
    wasm_module_release(m);
}

void wasm_module_release(wasm_module *m)
{
    if (!m || atomic_fetch_sub(&m->refs, 1) > 1) return;
    for (uint32_t i = 0; i < m->ntypes; i++) free(m->types[i].params);
    free(m->types);
    for (uint32_t i = 0; i < m->nimports; i++) {
        free(m->imports[i].module);
        free(m->imports[i].name);
    }
    free(m->imports);
    free(m->func_type);
    if (m->codes)
        for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++) wasm_code_free(&m->codes[i]);
    free(m->codes);
    free(m->tables);
    free(m->mems);
    free(m->globals);
    free(m->tag_type);
    for (uint32_t i = 0; i < m->nexports; i++) free(m->exports[i].name);
    free(m->exports);
    for (uint32_t i = 0; i < m->nelems; i++) free(m->elems[i].items);
    free(m->elems);
    for (uint32_t i = 0; i < m->ndatas; i++) free(m->datas[i].bytes);
    free(m->datas);
    free(m->declared);
    free(m);
}

int wasm_module_new(wasm_engine *engine, const uint8_t *bytes, size_t len,
                    const wasm_features *features, wasm_module **out, wasm_error *err)
{
    wasm_error dummy;
    if (!err) err = &dummy;
    err->offset = -1;
    err->message[0] = 0;
    err->kind = WASM_ERR_OTHER;
    if (!engine || !out || (!bytes && len)) return WASM_EINVAL;
    *out = NULL;
    wasm_module *m = calloc(1, sizeof *m);
    if (!m) return WASM_ENOMEM;
    m->engine = engine;
    m->refs = 1;
    m->feat = features ? *features : engine->cfg.features;
    m->start = -1;
    m->datacount = -1;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ bytes[i]) * 1099511628211ull;
    m->hash = h;

    wdec dd = {.start = bytes, .p = bytes, .end = bytes + len, .err = err,
               .eof_msg = "unexpected end"};
    wdec *d = &dd;
    const uint8_t *b;
    uint32_t ndefined = 0;
    bool have_func = false, have_code = false, have_data = false;
    int last_rank = 0;

    if (len < 4 || memcmp(bytes, "\0asm", 4) != 0) {
        if (len < 4) { dec_fail(d, "unexpected end"); }
        if (len >= 4 || (len > 0 && memcmp(bytes, "\0asm", len) != 0)) {
            d->failed = false;
            dec_fail(d, "magic header not detected");
        }
        goto fail;
    }
    d->p += 4;
    if (!dec_bytes(d, 4, &b)) goto fail;
    if (memcmp(b, "\1\0\0\0", 4) != 0) { d->p -= 4; dec_fail(d, "unknown binary version"); goto fail; }

    /* declared[] is indexed by function index; sized generously after func section */
    while (d->p < d->end) {
        uint8_t id;
        uint32_t size;
        if (!dec_u8(d, &id)) goto fail;
        if (id > 13 || (id == 13 && !m->feat.exceptions)) {
            d->p--;
            dec_fail(d, "malformed section id");
            goto fail;
        }
        if (!dec_u32(d, &size)) goto fail;
        if ((size_t)(d->end - d->p) < size) {
            dec_fail(d, "unexpected end of section or function");
            if (id == 0) { d->failed = false; dec_fail(d, "unexpected end"); }
            goto fail;
        }
        const uint8_t *sec_end = d->p + size, *outer_end = d->end;
        d->end = sec_end;
        d->eof_msg = "unexpected end of section or function";
        if (id != 0) {
            int r = section_rank(id);
            if (r <= last_rank) { dec_fail(d, "unexpected content after last section"); goto fail; }
            last_rank = r;
        }
        if (id != 0 && section_rank(id) > 3 && !m->declared) {
            /* function index space is final: ref.func declarations may start */
            m->declared = calloc(m->nfuncs ? m->nfuncs : 1, 1);
            if (!m->declared) { dec_fail(d, "out of memory"); goto fail; }
        }
        bool ok = true;
        switch (id) {
        case 0: {
            d->eof_msg = "unexpected end";
            ok = dec_name(d, NULL, NULL);
            d->p = sec_end;
            break;
        }
        case 1: ok = sec_type(d, m); break;
        case 2: ok = sec_import(d, m); break;
        case 3: ok = sec_function(d, m, &ndefined); have_func = true; break;
        case 4: ok = sec_table(d, m); break;
        case 5: ok = sec_memory(d, m); break;
        case 13: ok = sec_tag(d, m); break;
        case 6: ok = sec_global(d, m); break;
        case 7: ok = sec_export(d, m); break;
        case 8: ok = sec_start(d, m); break;
        case 9: ok = sec_elem(d, m); break;
        case 12: ok = sec_datacount(d, m); break;
        case 10: ok = sec_code(d, m, ndefined); have_code = true; break;
        case 11: ok = sec_data(d, m); have_data = true; break;
        }
        if (!ok) goto fail;
        if (d->p != sec_end) { dec_fail(d, "section size mismatch"); goto fail; }
        d->end = outer_end;
        d->eof_msg = "unexpected end";
    }
    if (m->needs_datacount && m->datacount < 0) {
        if (have_data) dec_fail(d, "data count section required");
        else dec_fail(d, "unknown data segment");
        goto fail;
    }
    if (d->have_invalid) {
        *err = d->pending;
        d->failed = true;
        goto fail;
    }
    if (have_func && ndefined && !have_code) {
        dec_fail(d, "function and code section have inconsistent lengths");
        goto fail;
    }
    if (m->nmems > 1) { dec_fail(d, "multiple memories"); goto fail; }
    if (m->datacount < 0 && m->ndatas == 0) { /* fine */ }
    *out = m;
    return WASM_OK;
fail:
    if (!d->failed) dec_fail(d, "unexpected end");
    err->kind = error_kind(err->message);
    wasm_module_free(m);
    return WASM_EDECODE;
}

/* ------------------------------------------------------------------ */
/* Introspection                                                       */
/* ------------------------------------------------------------------ */

static void fill_type(const wasm_module *m, wasm_extern_kind kind, uint32_t idx,
                      wasm_externtype *t)
{
    memset(t, 0, sizeof *t);
    t->kind = kind;
    switch (kind) {
    case WASM_EXTERN_FUNC:
    case WASM_EXTERN_TAG: {
        const wfunctype *ft = &m->types[kind == WASM_EXTERN_FUNC ? m->func_type[idx]
                                                                 : m->tag_type[idx]];
        t->func.nparams = ft->np;
        t->func.nresults = ft->nr;
        t->func.params = ft->params;
        t->func.results = ft->results;
        break;
    }
    case WASM_EXTERN_TABLE:
        t->table.elem = m->tables[idx].elem;
        t->table.limits.min = m->tables[idx].lim.min;
        t->table.limits.max = m->tables[idx].lim.max;
        t->table.limits.has_max = m->tables[idx].lim.has_max;
        break;
    case WASM_EXTERN_MEMORY:
        t->memory.limits.min = m->mems[idx].lim.min;
        t->memory.limits.max = m->mems[idx].lim.max;
        t->memory.limits.has_max = m->mems[idx].lim.has_max;
        t->memory.is64 = m->mems[idx].is64;
        break;
    case WASM_EXTERN_GLOBAL:
        t->global.type = m->globals[idx].type;
        t->global.mutable_ = m->globals[idx].mut;
        break;
    }
}

uint32_t wasm_module_import_count(const wasm_module *m) { return m ? m->nimports : 0; }
uint32_t wasm_module_export_count(const wasm_module *m) { return m ? m->nexports : 0; }

int wasm_module_import(const wasm_module *m, uint32_t i, const char **module_name,
                       const char **name, wasm_externtype *type)
{
    if (!m || i >= m->nimports) return WASM_EINVAL;
    const wimport *im = &m->imports[i];
    if (module_name) *module_name = im->module;
    if (name) *name = im->name;
    if (type) fill_type(m, im->kind, im->index, type);
    return WASM_OK;
}

size_t wasm_module_export_name_len(const wasm_module *m, uint32_t i)
{
    return m && i < m->nexports ? m->exports[i].name_len : 0;
}

int wasm_module_export(const wasm_module *m, uint32_t i, const char **name,
                       wasm_externtype *type)
{
    if (!m || i >= m->nexports) return WASM_EINVAL;
    const wexport *e = &m->exports[i];
    if (name) *name = e->name;
    if (type) fill_type(m, e->kind, e->index, type);
    return WASM_OK;
}
