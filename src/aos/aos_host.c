/*
 * aos/aos_host.c: host functions for emscripten-built aos modules (see aos_int.h).
 *
 *   section 1  plumbing: argument/result conversion, guest memory access, errno
 *   section 2  emscripten runtime: tempRet0, heap, time, abort/exit, longjmp,
 *              invoke_* trampolines
 *   section 3  __syscall_* against the per-process aos_fs
 *   section 4  WASI preview1 (deterministic: clock from the assignment, random from
 *              the message ID, stdout/stderr captured)
 *   section 5  WeaveDrive and metering
 *   section 6  linking
 *
 * Everything a guest observes comes from the call (timestamp, message ID) or from
 * the process state (fs, memory): no host clock, randomness or files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ans104/ans104.h"
#include "aos/aos_int.h"
#include "core/buf.h"
#include "core/id.h"
#include "store/store.h"

struct aos_import {
    aos_host    *h;
    char        *module, *name;
    uint32_t     np, nr;
    wasm_valtype params[32];
    wasm_valtype results[4];
};

#define HOSTFN(n) static int n(wasm_call *call, const wasm_val *a, wasm_val *r, void *ud)
#define IM ((aos_import *)ud)
#define H (IM->h)

/* ================================================================== 1. plumbing */

/* arguments and results converted like the shared WASI host does (wasi/wasi.h) */
static uint64_t au(const wasm_val *v)
{
    return aox_wasi_val_u64(v);
}

static int64_t as(const wasm_val *v)
{
    switch (v->type) {
    case WASM_I32: return v->of.i32;
    case WASM_I64: return v->of.i64;
    case WASM_F64: return (int64_t)v->of.f64;
    case WASM_F32: return (int64_t)v->of.f32;
    default: return 0;
    }
}

/* An i64 argument that emscripten may have legalised into (low, high) i32s. */
static int64_t arg64(const aos_import *im, const wasm_val *a, uint32_t *i)
{
    return (int64_t)aox_wasi_arg_i64(im->params, im->np, a, i);
}

static void ret(wasm_val *r, uint32_t nr, int64_t v)
{
    aox_wasi_set_result(r, nr, v);
}

static void retf(wasm_val *r, uint32_t nr, double v)
{
    if (!nr)
        return;
    if (r[0].type == WASM_F64)
        r[0].of.f64 = v;
    else if (r[0].type == WASM_F32)
        r[0].of.f32 = (float)v;
    else
        ret(r, nr, (int64_t)v);
}

#define RET(v) do { ret(r, IM->nr, (int64_t)(v)); return 0; } while (0)

static uint8_t *gptr(wasm_call *call, uint64_t addr, uint64_t len)
{
    wasm_extern *m = wasm_call_memory(call);
    if (!m)
        return NULL;
    uint64_t sz = wasm_memory_size(m);
    if (addr > sz || len > sz - addr)
        return NULL;
    return wasm_memory_data(m) + addr;
}

static int gput(wasm_call *call, uint64_t addr, const void *p, uint64_t n)
{
    wasm_extern *m = wasm_call_memory(call);
    return m && wasm_memory_write(m, addr, p, n) == 0 ? 0 : -1;
}

static int gput32(wasm_call *call, uint64_t addr, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    return gput(call, addr, b, 4);
}

static int gput64(wasm_call *call, uint64_t addr, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return gput(call, addr, b, 8);
}

static int gget32(wasm_call *call, uint64_t addr, uint32_t *v)
{
    uint8_t *p = gptr(call, addr, 4);
    if (!p)
        return -1;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return 0;
}

/* NUL-terminated guest string into buf; -1 if unterminated within cap or OOB. */
static int gstr(wasm_call *call, uint64_t addr, char *buf, size_t cap)
{
    wasm_extern *m = wasm_call_memory(call);
    if (!m)
        return -1;
    uint64_t sz = wasm_memory_size(m);
    const uint8_t *d = wasm_memory_data(m);
    for (size_t i = 0; i < cap; i++) {
        if (addr + i >= sz)
            return -1;
        buf[i] = (char)d[addr + i];
        if (!buf[i])
            return 0;
    }
    return -1;
}

/* WASI / emscripten errno numbering for the Linux errno values aos_fs returns. */
static int wasi_errno(int e)
{
    switch (e < 0 ? -e : e) {
    case 0: return 0;
    case EPERM: return 63;
    case ENOENT: return 44;
    case EIO: return 29;
    case EBADF: return 8;
    case ENOMEM: return 48;
    case EACCES: return 2;
    case EBUSY: return 10;
    case EEXIST: return 20;
    case ENOTDIR: return 54;
    case EISDIR: return 31;
    case EINVAL: return 28;
    case EMFILE: return 33;
    case ENOTTY: return 59;
    case EFBIG: return 22;
    case ENOSPC: return 51;
    case ESPIPE: return 70;
    case ENAMETOOLONG: return 37;
    case ENOSYS: return 52;
    case ENOTEMPTY: return 55;
    case ERANGE: return 68;
    default: return 29;
    }
}

/* negative WASI errno for a negative Linux errno, or the value itself */
static int64_t sysret(int64_t v)
{
    return v < 0 ? -(int64_t)wasi_errno((int)-v) : v;
}

static int trap_abort(wasm_call *call, aos_host *h, const char *msg)
{
    h->unwind = AOS_UNWIND_ABORT;
    snprintf(h->abort_msg, sizeof h->abort_msg, "%.*s", (int)sizeof h->abort_msg - 1, msg);
    return wasm_call_trap(call, h->abort_msg);
}

/* Host work proportional to the bytes a guest asks for is paid in fuel like guest
 * instructions (about one unit per byte hashed, one per 16 bytes copied), so a call
 * cannot spend unbounded host time for free. */
static int charge(wasm_call *call, aos_host *h, uint64_t units)
{
    wasm_instance *inst = wasm_call_instance(call);
    int64_t f = wasm_instance_fuel(inst);
    if (f < 0 || (uint64_t)f < units) {
        wasm_instance_set_fuel(inst, 0);
        h->unwind = AOS_UNWIND_GAS;
        return wasm_call_trap(call, "out of gas!");
    }
    wasm_instance_set_fuel(inst, f - (int64_t)units);
    return 0;
}

/* Types f's arguments from raw 64-bit values (i64 params take all 64 bits, the
 * others the low 32) into av[16]; fills t. WASM_EINVAL if the arity is off or
 * larger than the arrays the callers keep. */
static int pack_args(wasm_extern *f, const uint64_t *args, uint32_t n,
                     wasm_externtype *t, wasm_val av[16])
{
    wasm_extern_type(f, t);
    if (t->func.nparams != n || n > 16 || t->func.nresults > 4)
        return WASM_EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        av[i].type = t->func.params[i];
        if (av[i].type == WASM_I64)
            av[i].of.i64 = (int64_t)args[i];
        else
            av[i].of.i32 = (int32_t)args[i];
    }
    return 0;
}

int aos_call_export(wasm_instance *inst, wasm_extern *f, const uint64_t *args, uint32_t n,
                    uint64_t *res, wasm_trap *trap)
{
    wasm_externtype t;
    wasm_val av[16], rv[4];
    if (pack_args(f, args, n, &t, av))
        return WASM_EINVAL;
    int rc = wasm_instance_call(inst, f, av, n, rv, t.func.nresults, trap);
    if (rc == 0 && res && t.func.nresults)
        *res = au(&rv[0]);
    return rc;
}

/* Same, from inside a host function (re-entering the guest). */
static int call_in(wasm_call *call, wasm_extern *f, const uint64_t *args, uint32_t n,
                   uint64_t *res, wasm_trap *trap)
{
    wasm_externtype t;
    wasm_val av[16], rv[4];
    if (pack_args(f, args, n, &t, av))
        return WASM_EINVAL;
    int rc = wasm_call_func(call, f, av, n, rv, t.func.nresults, trap);
    if (rc == 0 && res && t.func.nresults)
        *res = au(&rv[0]);
    return rc;
}

/* ================================================================== 2. emscripten */

HOSTFN(h_get_temp_ret0) { RET(H->temp_ret0); }
HOSTFN(h_set_temp_ret0) { H->temp_ret0 = (int32_t)as(&a[0]); RET(0); }
HOSTFN(h_nop) { RET(0); }

HOSTFN(h_memcpy_big)
{
    uint64_t dst = au(&a[0]), src = au(&a[1]), n = au(&a[2]);
    int crc = charge(call, H, n / 16);
    if (crc)
        return crc;
    uint8_t *d = gptr(call, dst, n), *s = gptr(call, src, n);
    if (!d || !s)
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    memmove(d, s, n);
    wasm_memory_mark_dirty(wasm_call_memory(call), dst, n);
    RET(dst);
}

uint64_t aos_heap_grow_target(uint64_t old_size, uint64_t requested, uint64_t max_size)
{
    /* emscripten's policy: over-grow by 20%, 10%, 6.7%, 5% of the old size (capped at
     * +96 MiB over the request), aligned to 64 KiB, within the maximum. */
    if (requested > max_size)
        return 0;
    for (unsigned cut = 1; cut <= 4; cut++) {
        uint64_t over = old_size + old_size / (5 * cut);
        if (over > requested + (96u << 20))
            over = requested + (96u << 20);
        uint64_t want = requested > over ? requested : over;
        want = (want + 65535) & ~(uint64_t)65535;
        if (want > max_size)
            want = max_size & ~(uint64_t)65535;
        if (want >= requested)
            return want;
    }
    return 0;
}

HOSTFN(h_resize_heap)
{
    aos_host *h = H;
    wasm_extern *m = wasm_call_memory(call);
    uint64_t req = au(&a[0]);
    if (!m)
        RET(0);
    uint64_t old = wasm_memory_size(m);
    uint64_t max = h->max_bytes ? h->max_bytes : (h->is64 ? (16ull << 30) : (4ull << 30) - 65536);
    if (req <= old)
        RET(1);
    uint64_t want = aos_heap_grow_target(old, req, max);
    if (!want) {
        h->grow_refused = 1;
        h->grow_requested = req;
        RET(0);
    }
    if (wasm_memory_grow(m, (want - old + 65535) / 65536) < 0) {
        /* the over-grown size did not fit: try exactly what was asked for */
        uint64_t exact = (req + 65535) & ~(uint64_t)65535;
        if (wasm_memory_grow(m, (exact - old) / 65536) < 0) {
            h->grow_refused = 1;
            h->grow_requested = req;
            RET(0);
        }
    }
    RET(1);
}

HOSTFN(h_get_heap_max)
{
    aos_host *h = H;
    RET(h->max_bytes ? h->max_bytes : (h->is64 ? (16ull << 30) : (4ull << 30) - 65536));
}

HOSTFN(h_date_now) { retf(r, IM->nr, (double)H->timestamp_ms); return 0; }

HOSTFN(h_abort)
{
    char msg[200];
    if (IM->np >= 1 && strcmp(IM->name, "abort") != 0) {
        char what[160];
        if (gstr(call, au(&a[0]), what, sizeof what) == 0) {
            snprintf(msg, sizeof msg, "Aborted(%s)", what);
            return trap_abort(call, H, msg);
        }
    }
    return trap_abort(call, H, "Aborted()");
}

HOSTFN(h_assert_fail)
{
    char cond[80] = "?", file[80] = "?", fn[60] = "?";
    gstr(call, au(&a[0]), cond, sizeof cond);
    gstr(call, au(&a[1]), file, sizeof file);
    if (IM->np >= 4)
        gstr(call, au(&a[3]), fn, sizeof fn);
    char msg[320];
    snprintf(msg, sizeof msg, "Assertion failed: %.79s, at: %.79s,%lld,%.59s", cond, file,
             (long long)as(&a[2]), fn);
    return trap_abort(call, H, msg);
}

HOSTFN(h_exit)
{
    aos_host *h = H;
    h->unwind = AOS_UNWIND_EXIT;
    h->exit_code = IM->np ? (int)as(&a[0]) : 0;
    snprintf(h->abort_msg, sizeof h->abort_msg, "exit(%d)", h->exit_code);
    return wasm_call_trap(call, h->abort_msg);
}

HOSTFN(h_throw_longjmp)
{
    aos_host *h = H;
    h->unwind = AOS_UNWIND_LONGJMP;
    return wasm_call_trap(call, "longjmp");
}

/* emscripten_longjmp(env, value): older SjLj: setThrew(env, value || 1) then throw */
HOSTFN(h_emscripten_longjmp)
{
    aos_host *h = H;
    wasm_trap trap;
    if (h->f_set_threw) {
        uint64_t args[2] = { au(&a[0]), IM->np > 1 && as(&a[1]) ? au(&a[1]) : 1 };
        int rc = call_in(call, h->f_set_threw, args, 2, NULL, &trap);
        if (rc)
            return rc;
    }
    h->unwind = AOS_UNWIND_LONGJMP;
    return wasm_call_trap(call, "longjmp");
}

/* invoke_<sig>(index, args...): call table[index](args...); a longjmp unwinding
 * through it is caught: restore the stack pointer, setThrew(1, 0), return 0. */
HOSTFN(h_invoke)
{
    aos_import *im = ud;
    aos_host *h = im->h;
    wasm_trap trap;
    uint64_t sp = 0;
    int rc;
    if (im->np < 1)
        return trap_abort(call, h, "invoke_* without an index");
    wasm_extern *f = wasm_call_table_func(call, 0, au(&a[0]));
    if (!f)
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_UNINIT_ELEMENT));
    if (h->f_stack_save && (rc = call_in(call, h->f_stack_save, NULL, 0, &sp, &trap)))
        return rc;
    rc = wasm_call_func(call, f, a + 1, im->np - 1, r, im->nr, &trap);
    if (rc == 0)
        return 0;
    if (rc != WASM_ETRAP || (h->unwind != AOS_UNWIND_LONGJMP && h->unwind != AOS_UNWIND_CXX))
        return rc;                         /* a real trap or exception: propagate */
    h->unwind = AOS_UNWIND_NONE;
    if (h->f_stack_restore && (rc = call_in(call, h->f_stack_restore, &sp, 1, NULL, &trap)))
        return rc;
    if (h->f_set_threw) {
        uint64_t args[2] = { 1, 0 };
        if ((rc = call_in(call, h->f_set_threw, args, 2, NULL, &trap)))
            return rc;
    }
    for (uint32_t i = 0; i < im->nr; i++)
        memset(&r[i].of, 0, sizeof r[i].of);
    return 0;
}

/* --- legacy C++ exceptions (emscripten 3.1 JS-style ABI) ---
 * Thrown object layout: a 16-byte header before the object, allocated with malloc:
 *   [-16] refcount i32  [-12] type ptr  [-8] destructor ptr  [-4] caught u8, rethrown u8
 * CatchInfo: malloc(8): base ptr, adjusted ptr (wasm32 ABI; these modules are wasm32). */

static int exc_throw(wasm_call *call, aos_host *h, uint64_t ptr)
{
    h->exc_last = ptr;
    h->unwind = AOS_UNWIND_CXX;
    return wasm_call_trap(call, "uncaught C++ exception");
}

static int g_malloc(wasm_call *call, aos_host *h, uint64_t n, uint64_t *out)
{
    wasm_trap trap;
    *out = 0;
    if (!h->f_malloc)
        return trap_abort(call, h, "C++ exceptions need the module's malloc export");
    return call_in(call, h->f_malloc, &n, 1, out, &trap);
}

static int g_free(wasm_call *call, aos_host *h, uint64_t p)
{
    wasm_trap trap;
    return h->f_free ? call_in(call, h->f_free, &p, 1, NULL, &trap) : 0;
}

HOSTFN(h_cxa_allocate_exception)
{
    uint64_t p;
    int rc = g_malloc(call, H, au(&a[0]) + 16, &p);
    if (rc)
        return rc;
    RET(p + 16);
}

HOSTFN(h_cxa_free_exception)
{
    int rc = g_free(call, H, au(&a[0]) - 16);
    if (rc)
        return rc;
    RET(0);
}

HOSTFN(h_cxa_throw)   /* (ptr, type, destructor) */
{
    uint64_t ptr = au(&a[0]), info = ptr - 16;
    uint8_t z[2] = {0, 0};
    if (gput32(call, info + 4, (uint32_t)au(&a[1])) || gput32(call, info + 8, (uint32_t)au(&a[2])) ||
        gput32(call, info, 0) || gput(call, info + 12, z, 2))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    H->exc_uncaught++;
    return exc_throw(call, H, ptr);
}

/* the pointer a catch clause receives (CatchInfo.get_exception_ptr) */
static int catch_ptr(wasm_call *call, aos_host *h, uint64_t ci, uint64_t *out)
{
    uint32_t base, adj, type, v;
    wasm_trap trap;
    if (gget32(call, ci, &base) || gget32(call, ci + 4, &adj) || gget32(call, base - 12, &type))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    uint64_t isptr = 0, t = type;
    if (h->f_is_pointer_type) {
        int rc = call_in(call, h->f_is_pointer_type, &t, 1, &isptr, &trap);
        if (rc)
            return rc;
    }
    if (isptr) {
        if (gget32(call, base, &v))
            return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
        *out = v;
    } else {
        *out = adj ? adj : base;
    }
    return 0;
}

/* __cxa_find_matching_catch_N(types...): CatchInfo ptr, tempRet0 = selector type */
HOSTFN(h_cxa_find_matching_catch)
{
    aos_import *im = ud;
    aos_host *h = im->h;
    uint64_t thrown = h->exc_last, ci;
    uint32_t type = 0;
    wasm_trap trap;
    int rc;
    if (!thrown) {
        h->temp_ret0 = 0;
        RET(0);
    }
    if (gget32(call, thrown - 12, &type))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    if ((rc = g_malloc(call, h, 8, &ci)))
        return rc;
    if (!ci || gput32(call, ci, (uint32_t)thrown) || gput32(call, ci + 4, (uint32_t)thrown))
        return trap_abort(call, h, "out of memory for a C++ catch");
    if (!type) {
        h->temp_ret0 = 0;
        RET(ci);
    }
    for (uint32_t i = 0; i < im->np; i++) {
        uint64_t caught = au(&a[i]);
        if (caught == 0 || caught == type)
            break;
        uint64_t args[3] = { caught, type, ci + 4 }, yes = 0;
        if (h->f_can_catch && (rc = call_in(call, h->f_can_catch, args, 3, &yes, &trap)))
            return rc;
        if (yes) {
            h->temp_ret0 = (int32_t)caught;
            RET(ci);
        }
    }
    h->temp_ret0 = (int32_t)type;
    RET(ci);
}

HOSTFN(h_cxa_begin_catch)   /* (CatchInfo ptr) */
{
    aos_host *h = H;
    uint64_t ci = au(&a[0]), out = 0;
    uint32_t base, refc;
    uint8_t flags[2];
    if (gget32(call, ci, &base) || !gptr(call, base - 4, 2))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    memcpy(flags, gptr(call, base - 4, 2), 2);
    if (!flags[0]) {
        flags[0] = 1;
        h->exc_uncaught--;
    }
    flags[1] = 0;
    gput(call, base - 4, flags, 2);
    if (h->exc_ncaught < sizeof h->exc_caught / sizeof *h->exc_caught)
        h->exc_caught[h->exc_ncaught++] = ci;
    else
        return trap_abort(call, h, "too many nested C++ catches");
    if (gget32(call, base - 16, &refc) || gput32(call, base - 16, refc + 1))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    int rc = catch_ptr(call, h, ci, &out);
    if (rc)
        return rc;
    RET(out);
}

/* refcount-- ; destroy and free when it reaches 0 and it is not being rethrown */
static int exc_decref(wasm_call *call, aos_host *h, uint64_t base)
{
    uint32_t refc, dtor;
    uint8_t *fl = gptr(call, base - 4, 2);
    if (!fl || gget32(call, base - 16, &refc) || gput32(call, base - 16, refc - 1) ||
        gget32(call, base - 8, &dtor))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    if (refc == 1 && !fl[1]) {
        wasm_trap trap;
        if (dtor) {
            wasm_extern *f = wasm_call_table_func(call, 0, dtor);
            int rc = f ? call_in(call, f, &base, 1, NULL, &trap) : 0;
            if (rc)
                return rc;
        }
        return g_free(call, h, base - 16);
    }
    return 0;
}

HOSTFN(h_cxa_end_catch)
{
    aos_host *h = H;
    wasm_trap trap;
    int rc;
    if (h->f_set_threw) {
        uint64_t args[2] = { 0, 0 };
        if ((rc = call_in(call, h->f_set_threw, args, 2, NULL, &trap)))
            return rc;
    }
    if (!h->exc_ncaught)
        return trap_abort(call, h, "__cxa_end_catch without a catch");
    uint64_t ci = h->exc_caught[--h->exc_ncaught];
    uint32_t base;
    if (gget32(call, ci, &base))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    if ((rc = exc_decref(call, h, base)) || (rc = g_free(call, h, ci)))
        return rc;
    h->exc_last = 0;
    RET(0);
}

HOSTFN(h_resume_exception)   /* (CatchInfo ptr) */
{
    aos_host *h = H;
    uint32_t base;
    if (gget32(call, au(&a[0]), &base))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    if (!h->exc_last)
        h->exc_last = base;
    int rc = g_free(call, h, au(&a[0]));
    if (rc)
        return rc;
    return exc_throw(call, h, h->exc_last);
}

HOSTFN(h_cxa_rethrow)
{
    aos_host *h = H;
    if (!h->exc_ncaught)
        return trap_abort(call, h, "no exception to throw");
    uint64_t ci = h->exc_caught[--h->exc_ncaught];
    uint32_t base;
    if (gget32(call, ci, &base) || !gptr(call, base - 4, 2))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    uint8_t *fl = gptr(call, base - 4, 2);
    if (!fl[1]) {
        h->exc_caught[h->exc_ncaught++] = ci;
        fl[1] = 1;
        fl[0] = 0;
        wasm_memory_mark_dirty(wasm_call_memory(call), base - 4, 2);
        h->exc_uncaught++;
    } else {
        int rc = g_free(call, h, ci);
        if (rc)
            return rc;
    }
    return exc_throw(call, h, base);
}

HOSTFN(h_cxa_uncaught_exceptions) { RET(H->exc_uncaught); }
HOSTFN(h_llvm_eh_typeid_for) { RET(au(&a[0])); }

HOSTFN(h_cxa_incref)
{
    uint64_t p = au(&a[0]);
    uint32_t refc;
    if (p && (gget32(call, p - 16, &refc) || gput32(call, p - 16, refc + 1)))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    RET(0);
}

HOSTFN(h_cxa_decref)
{
    uint64_t p = au(&a[0]);
    int rc = p ? exc_decref(call, H, p) : 0;
    if (rc)
        return rc;
    RET(0);
}

HOSTFN(h_cxa_get_exception_ptr)
{
    uint64_t out = 0;
    int rc = catch_ptr(call, H, au(&a[0]), &out);
    if (rc)
        return rc;
    RET(out);
}

/* --- time: UTC only, from the assignment's timestamp --- */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int write_tm(aos_host *h, wasm_call *call, uint64_t tm, int64_t t)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t secs = t - days * 86400;
    int64_t y;
    int mo, d;
    civil_from_days(days, &y, &mo, &d);
    int32_t f[9];
    f[0] = (int32_t)(secs % 60);
    f[1] = (int32_t)(secs / 60 % 60);
    f[2] = (int32_t)(secs / 3600);
    f[3] = d;
    f[4] = mo - 1;
    f[5] = (int32_t)(y - 1900);
    f[6] = (int32_t)(((days % 7) + 11) % 7);          /* 1970-01-01 was a Thursday */
    f[7] = (int32_t)(days - days_from_civil(y, 1, 1));
    f[8] = 0;
    for (int i = 0; i < 9; i++)
        if (gput32(call, tm + 4 * (uint64_t)i, (uint32_t)f[i]))
            return -1;
    /* tm_gmtoff = 0 (long: 4 bytes at 36 in wasm32, 8 at 40 in wasm64) */
    return h->is64 ? gput64(call, tm + 40, 0) : gput32(call, tm + 36, 0);
}

/* _gmtime_js / _localtime_js: (time_t *time, tm) in emscripten 3.1.6; (i64 time, tm)
 * or the legalised (lo, hi, tm) later. */
HOSTFN(h_gmtime)
{
    aos_import *im = ud;
    int64_t t;
    uint64_t tm;
    if (im->np == 2 && im->params[0] != WASM_I64) {
        uint32_t v;
        if (gget32(call, au(&a[0]), &v))
            return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
        t = (int32_t)v;
        tm = au(&a[1]);
    } else {
        uint32_t i = 0;
        t = arg64(im, a, &i);
        tm = i < im->np ? au(&a[i]) : 0;
    }
    if (write_tm(im->h, call, tm, t))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    RET(0);
}

/* _mktime_js / _timegm_js(tm): UTC; normalises the struct like the JS version. */
HOSTFN(h_mktime)
{
    uint64_t tm = au(&a[0]);
    uint32_t f[6];
    for (int i = 0; i < 6; i++)
        if (gget32(call, tm + 4 * (uint64_t)i, &f[i]))
            return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    int64_t year = (int32_t)f[5] + 1900, mon = (int32_t)f[4];
    year += mon >= 0 ? mon / 12 : -((11 - mon) / 12);
    mon = ((mon % 12) + 12) % 12;
    int64_t t = days_from_civil(year, mon + 1, 1) * 86400 +
                ((int64_t)(int32_t)f[3] - 1) * 86400 + (int64_t)(int32_t)f[2] * 3600 +
                (int64_t)(int32_t)f[1] * 60 + (int32_t)f[0];
    if (write_tm(H, call, tm, t))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    if (IM->nr && r[0].type == WASM_I32)
        H->temp_ret0 = (int32_t)(t >> 32);
    RET(t);
}

/* _tzset_js(timezone, daylight, tzname[2]) (3.1.6: needs malloc'd names) or
 * (timezone, daylight, std_name, dst_name) later: always UTC. */
HOSTFN(h_tzset)
{
    aos_import *im = ud;
    aos_host *h = im->h;
    if (im->np < 3)
        RET(0);
    if (gput32(call, au(&a[0]), 0) || gput32(call, au(&a[1]), 0))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    if (im->np >= 4) {
        if (gput(call, au(&a[2]), "UTC", 4) || gput(call, au(&a[3]), "UTC", 4))
            return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
        RET(0);
    }
    if (!h->f_malloc)
        RET(0);
    wasm_trap trap;
    for (int i = 0; i < 2; i++) {
        uint64_t sz = 4, p = 0;
        int rc = call_in(call, h->f_malloc, &sz, 1, &p, &trap);
        if (rc)
            return rc;
        if (!p || gput(call, p, "UTC", 4))
            RET(0);
        if (h->is64 ? gput64(call, au(&a[2]) + 8 * (uint64_t)i, p)
                    : gput32(call, au(&a[2]) + 4 * (uint64_t)i, (uint32_t)p))
            return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    }
    RET(0);
}

/* ================================================================== 3. syscalls */

#define AT_FDCWD_ (-100)
#define PATHBUF 1024

static int path_arg(wasm_call *call, uint64_t addr, char *buf)
{
    return gstr(call, addr, buf, PATHBUF) ? -ENAMETOOLONG : 0;
}

/* WeaveDrive-style lazy load: "/data/<43-char id>" not yet in the fs is read from
 * the store key data/<id> (if present) and written into the fs. */
static void weavedrive_fetch(aos_host *h, const char *path)
{
    char norm[PATHBUF];
    aos_stat st;
    if (!h->store || aos_fs_normalize(path, norm, sizeof norm) ||
        strncmp(norm, "/data/", 6) != 0 || !aox_id_valid(norm + 6) ||
        aos_fs_stat(h->fs, norm, &st) == 0)
        return;
    aox_buf k = {0}, v = {0};
    if (aox_key_simple(&k, "data", norm + 6) == 0 &&
        aox_store_get(h->store, k.data, k.len, &v) == 0) {
        /* data/<id> holds the raw ANS-104 item: the file is its data payload */
        aox_ans104_item *it = NULL;
        size_t n = 0;
        const uint8_t *d = NULL;
        if (aox_ans104_parse(v.data, v.len, &it, NULL) == 0)
            d = aox_ans104_data(it, &n);
        if (d)
            aos_fs_write_file(h->fs, norm, d, n);
        else
            aos_fs_write_file(h->fs, norm, v.data, v.len);
        aox_ans104_free(it);
    }
    aox_buf_free(&k);
    aox_buf_free(&v);
}

HOSTFN(h_sys_openat)
{
    char p[PATHBUF];
    int rc = path_arg(call, au(&a[1]), p);
    if (rc)
        RET(sysret(rc));
    weavedrive_fetch(H, p);
    RET(sysret(aos_fs_open(H->fs, p, (int)as(&a[2]))));
}

HOSTFN(h_sys_open)   /* __syscall_open(path, flags, varargs) (older emscripten) */
{
    char p[PATHBUF];
    int rc = path_arg(call, au(&a[0]), p);
    if (rc)
        RET(sysret(rc));
    weavedrive_fetch(H, p);
    RET(sysret(aos_fs_open(H->fs, p, (int)as(&a[1]))));
}

HOSTFN(h_sys_fcntl)
{
    aos_host *h = H;
    int fd = (int)as(&a[0]), cmd = (int)as(&a[1]);
    switch (cmd) {
    case 0:                                    /* F_DUPFD */
        RET(sysret(aos_fs_dup(h->fs, fd)));
    case 1: case 2:                            /* F_GETFD, F_SETFD */
        RET(aos_fs_fd_flags(h->fs, fd) < 0 ? -8 : 0);
    case 3: {                                  /* F_GETFL */
        int fl = aos_fs_fd_flags(h->fs, fd);
        RET(sysret(fl));
    }
    case 4: {                                  /* F_SETFL: flags at *varargs */
        uint32_t fl = 0;
        if (IM->np >= 3)
            gget32(call, au(&a[2]), &fl);
        RET(sysret(aos_fs_set_fd_flags(h->fs, fd, (int)fl)));
    }
    case 5: case 6: case 7: case 12: case 13: case 14:  /* locks: always granted */
        RET(0);
    default:
        RET(-28);
    }
}

HOSTFN(h_sys_ioctl)
{
    int fd = (int)as(&a[0]);
    if (aos_fs_fd_flags(H->fs, fd) < 0)
        RET(-8);
    RET(fd <= 2 ? 0 : -59);          /* stdio behaves as a tty; files are not ttys */
}

static int64_t write_stat(aos_host *h, wasm_call *call, uint64_t buf, const aos_stat *st)
{
    uint32_t mode = st->is_dir ? 0040777 : 0100666;
    uint64_t blocks = (st->size + 511) / 512;
    uint8_t z[96];
    memset(z, 0, sizeof z);
    if (h->old_stat) {                         /* emscripten 3.1.6 wasm32: 88 bytes */
        if (gput(call, buf, z, 88))
            return -EFAULT;
        gput32(call, buf + 8, (uint32_t)st->ino);
        gput32(call, buf + 12, mode);
        gput32(call, buf + 16, 1);
        gput64(call, buf + 40, st->size);
        gput32(call, buf + 48, 4096);
        gput32(call, buf + 52, (uint32_t)blocks);
        gput64(call, buf + 80, st->ino);
    } else {                                   /* later layout: 96 bytes */
        if (gput(call, buf, z, 96))
            return -EFAULT;
        gput32(call, buf + 4, mode);
        gput32(call, buf + 8, 1);
        gput64(call, buf + 24, st->size);
        gput32(call, buf + 32, 4096);
        gput32(call, buf + 36, (uint32_t)blocks);
        gput64(call, buf + 88, st->ino);
    }
    return 0;
}

HOSTFN(h_sys_fstat)
{
    aos_stat st;
    int rc = aos_fs_fstat(H->fs, (int)as(&a[0]), &st);
    if (rc)
        RET(sysret(rc));
    RET(sysret(write_stat(H, call, au(&a[1]), &st)));
}

HOSTFN(h_sys_stat)   /* stat64 / lstat64 (path, buf) */
{
    char p[PATHBUF];
    aos_stat st;
    int rc = path_arg(call, au(&a[0]), p);
    if (!rc) {
        weavedrive_fetch(H, p);
        rc = aos_fs_stat(H->fs, p, &st);
    }
    if (rc)
        RET(sysret(rc));
    RET(sysret(write_stat(H, call, au(&a[1]), &st)));
}

HOSTFN(h_sys_newfstatat)   /* (dirfd, path, buf, flags) */
{
    char p[PATHBUF];
    aos_stat st;
    int rc = path_arg(call, au(&a[1]), p);
    if (!rc) {
        weavedrive_fetch(H, p);
        rc = aos_fs_stat(H->fs, p, &st);
    }
    if (rc)
        RET(sysret(rc));
    RET(sysret(write_stat(H, call, au(&a[2]), &st)));
}

HOSTFN(h_sys_getcwd)
{
    if (au(&a[1]) < 2)
        RET(-68);
    if (gput(call, au(&a[0]), "/", 2))
        RET(-21);
    RET(2);
}

HOSTFN(h_sys_unlinkat)   /* (dirfd, path, flags) */
{
    char p[PATHBUF];
    int rc = path_arg(call, au(&a[1]), p);
    if (rc)
        RET(sysret(rc));
    RET(sysret((as(&a[2]) & 0x200) ? aos_fs_rmdir(H->fs, p) : aos_fs_unlink(H->fs, p)));
}

HOSTFN(h_sys_unlink)
{
    char p[PATHBUF];
    int rc = path_arg(call, au(&a[0]), p);
    RET(sysret(rc ? rc : aos_fs_unlink(H->fs, p)));
}

HOSTFN(h_sys_rmdir)
{
    char p[PATHBUF];
    int rc = path_arg(call, au(&a[0]), p);
    RET(sysret(rc ? rc : aos_fs_rmdir(H->fs, p)));
}

HOSTFN(h_sys_mkdirat)   /* (dirfd, path, mode) */
{
    char p[PATHBUF];
    int rc = path_arg(call, au(&a[1]), p);
    RET(sysret(rc ? rc : aos_fs_mkdir(H->fs, p)));
}

HOSTFN(h_sys_mkdir)     /* (path, mode) */
{
    char p[PATHBUF];
    int rc = path_arg(call, au(&a[0]), p);
    RET(sysret(rc ? rc : aos_fs_mkdir(H->fs, p)));
}

HOSTFN(h_sys_renameat)  /* (olddirfd, old, newdirfd, new) */
{
    char p[PATHBUF], q[PATHBUF];
    int rc = path_arg(call, au(&a[1]), p);
    if (!rc)
        rc = path_arg(call, au(&a[3]), q);
    RET(sysret(rc ? rc : aos_fs_rename(H->fs, p, q)));
}

HOSTFN(h_sys_rename)
{
    char p[PATHBUF], q[PATHBUF];
    int rc = path_arg(call, au(&a[0]), p);
    if (!rc)
        rc = path_arg(call, au(&a[1]), q);
    RET(sysret(rc ? rc : aos_fs_rename(H->fs, p, q)));
}

HOSTFN(h_sys_faccessat)   /* (dirfd, path, amode, flags) */
{
    char p[PATHBUF];
    aos_stat st;
    int rc = path_arg(call, au(&a[1]), p);
    if (!rc) {
        weavedrive_fetch(H, p);
        rc = aos_fs_stat(H->fs, p, &st);
    }
    RET(sysret(rc));
}

HOSTFN(h_sys_chdir)
{
    char p[PATHBUF];
    aos_stat st;
    int rc = path_arg(call, au(&a[0]), p);
    if (!rc)
        rc = aos_fs_stat(H->fs, p, &st);
    if (!rc && !st.is_dir)
        rc = -ENOTDIR;
    RET(sysret(rc));
}

HOSTFN(h_sys_ftruncate)   /* (fd, length) length maybe legalised */
{
    uint32_t i = 1;
    int64_t len = arg64(IM, a, &i);
    RET(sysret(len < 0 ? -EINVAL : aos_fs_truncate_fd(H->fs, (int)as(&a[0]), (uint64_t)len)));
}

HOSTFN(h_sys_dup)
{
    RET(sysret(aos_fs_dup(H->fs, (int)as(&a[0]))));
}

HOSTFN(h_sys_getdents)    /* (fd, dirp, count): 280-byte records */
{
    aos_host *h = H;
    int fd = (int)as(&a[0]);
    uint64_t dirp = au(&a[1]), count = au(&a[2]), off = 0;
    int64_t pos = aos_fs_seek(h->fs, fd, 0, 1);
    if (pos < 0)
        RET(sysret(pos));
    uint64_t cookie = (uint64_t)pos;
    while (off + 280 <= count) {
        char name[256];
        int is_dir = 0;
        uint64_t before = cookie;
        int rc = aos_fs_readdir(h->fs, fd, &cookie, name, sizeof name, &is_dir);
        if (rc < 0)
            RET(sysret(rc));
        if (rc == 0)
            break;
        uint8_t rec[280];
        memset(rec, 0, sizeof rec);
        uint64_t ino = before + 3, next = cookie * 280;
        memcpy(rec, &ino, 8);                  /* little-endian host assumed (x86/arm) */
        memcpy(rec + 8, &next, 8);
        rec[16] = 280 & 0xff;
        rec[17] = 280 >> 8;
        rec[18] = is_dir ? 4 : 8;              /* DT_DIR / DT_REG */
        memcpy(rec + 19, name, strlen(name) + 1);
        if (gput(call, dirp + off, rec, sizeof rec))
            RET(-21);
        off += 280;
    }
    aos_fs_seek(h->fs, fd, (int64_t)cookie, 0);
    RET(off);
}

HOSTFN(h_sys_zero) { RET(0); }              /* chmod, fchmod, utimensat, fdatasync ... */
HOSTFN(h_sys_enosys) { RET(-52); }          /* every other __syscall_* */

HOSTFN(h_mmap_js) { RET(-52); }             /* no file mappings: musl falls back */

/* ================================================================== 4. WASI */

/* WASI preview1 itself is the shared host of wasi/wasi.h (aos_host_link hands it every
 * wasi_snapshot_preview1 import); what is the process's comes in through its hooks. */

/* the WASI hooks (wasi/wasi.h): clock and random from the call, fuel, exit */

static int wh_clock_time(void *ud, uint32_t id, uint64_t *ns)
{
    aos_host *h = ud;
    (void)id;
    *ns = h->timestamp_ms > 0 ? (uint64_t)h->timestamp_ms * 1000000u : 0;
    return 0;
}

static int wh_clock_res(void *ud, uint32_t id, uint64_t *ns)
{
    (void)ud;
    (void)id;
    *ns = 1000000u;
    return 0;
}

/* the random stream: block k = SHA-256(seed || k as u64 big-endian) */
static void wh_random(void *ud, uint8_t *p, uint64_t len)
{
    aos_host *h = ud;
    for (uint64_t off = 0; off < len;) {
        uint8_t blk[AOX_HASH_LEN], ctr[8];
        uint64_t n = h->rand_pos / AOX_HASH_LEN, skip = h->rand_pos % AOX_HASH_LEN;
        for (int i = 0; i < 8; i++)
            ctr[i] = (uint8_t)(n >> (56 - 8 * i));
        aox_sha256_2(h->seed, sizeof h->seed, ctr, sizeof ctr, blk);
        uint64_t take = AOX_HASH_LEN - skip;
        if (take > len - off)
            take = len - off;
        memcpy(p + off, blk + skip, take);
        off += take;
        h->rand_pos += take;
    }
}

static int wh_charge(void *ud, wasm_call *call, uint64_t units)
{
    return charge(call, ud, units);
}

static int wh_exit(void *ud, wasm_call *call, int code)
{
    aos_host *h = ud;
    h->unwind = AOS_UNWIND_EXIT;
    h->exit_code = code;
    snprintf(h->abort_msg, sizeof h->abort_msg, "exit(%d)", h->exit_code);
    return wasm_call_trap(call, h->abort_msg);
}

/* the fs behind the WASI fds: aos_fs, with Linux errnos turned into WASI ones */

static int64_t wfs_read(void *ud, int fd, uint8_t *dst, uint64_t len, int64_t at)
{
    aos_host *h = ud;
    return sysret(at < 0 ? aos_fs_read(h->fs, fd, dst, len)
                         : aos_fs_pread(h->fs, fd, dst, len, (uint64_t)at));
}

static int64_t wfs_write(void *ud, int fd, const uint8_t *src, uint64_t len, int64_t at)
{
    aos_host *h = ud;
    return sysret(at < 0 ? aos_fs_write(h->fs, fd, src, len)
                         : aos_fs_pwrite(h->fs, fd, src, len, (uint64_t)at));
}

static int64_t wfs_seek(void *ud, int fd, int64_t off, int whence)
{
    aos_host *h = ud;
    return sysret(aos_fs_seek(h->fs, fd, off, whence));
}

static int wfs_close(void *ud, int fd)
{
    aos_host *h = ud;
    return wasi_errno(aos_fs_close(h->fs, fd));
}

/* WASI filetype: 0..2 character devices, then directories (3) and regular files (4) */
static uint8_t wfs_type(aos_host *h, int fd)
{
    aos_stat st;
    if (fd <= 2)
        return 2;
    return aos_fs_fstat(h->fs, fd, &st) == 0 && st.is_dir ? 3 : 4;
}

static int wfs_fdstat(void *ud, int fd, uint8_t *filetype, uint16_t *fdflags, uint64_t *rights)
{
    aos_host *h = ud;
    int fl = aos_fs_fd_flags(h->fs, fd);
    if (fl < 0)
        return 8;                              /* EBADF */
    *filetype = wfs_type(h, fd);
    *fdflags = (fl & AOS_O_APPEND) ? 1 : 0;
    *rights = UINT64_MAX;                      /* all rights */
    return 0;
}

static int wfs_set_flags(void *ud, int fd, uint16_t fdflags)
{
    aos_host *h = ud;
    return wasi_errno(aos_fs_set_fd_flags(h->fs, fd, (fdflags & 1) ? AOS_O_APPEND : 0));
}

static int wfs_filestat(void *ud, int fd, uint8_t *filetype, uint64_t *ino, uint64_t *size)
{
    aos_host *h = ud;
    aos_stat st;
    int rc = aos_fs_fstat(h->fs, fd, &st);
    if (rc)
        return wasi_errno(rc);
    *filetype = fd <= 2 ? 2 : st.is_dir ? 3 : 4;
    *ino = st.ino;
    *size = st.size;
    return 0;
}

static int wfs_sync(void *ud, int fd)
{
    aos_host *h = ud;
    return aos_fs_fd_flags(h->fs, fd) < 0 ? 8 : 0;
}

static int wfs_open(void *ud, const char *path, uint16_t oflags, uint64_t rights,
                    uint16_t fdflags, int *out)
{
    aos_host *h = ud;
    int flags = (rights & (1u << 6)) ? ((rights & (1u << 1)) ? AOS_O_RDWR : AOS_O_WRONLY)
                                     : AOS_O_RDONLY;
    if (oflags & 1) flags |= AOS_O_CREAT;
    if (oflags & 2) flags |= AOS_O_DIRECTORY;
    if (oflags & 4) flags |= AOS_O_EXCL;
    if (oflags & 8) flags |= AOS_O_TRUNC;
    if (fdflags & 1) flags |= AOS_O_APPEND;
    weavedrive_fetch(h, path);
    int fd = aos_fs_open(h->fs, path, flags);
    if (fd < 0)
        return wasi_errno(fd);
    *out = fd;
    return 0;
}

static const aox_wasi_fs wasi_fs = {
    wfs_read, wfs_write, wfs_seek, wfs_close, wfs_fdstat, wfs_set_flags, wfs_filestat,
    wfs_sync, wfs_open
};

/* time(time_t *t) (emscripten 3.1.6 "env" import): seconds from the assignment */
HOSTFN(h_time)
{
    int64_t t = H->timestamp_ms / 1000;
    if (IM->np && au(&a[0]) && gput32(call, au(&a[0]), (uint32_t)t))
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    RET(t);
}

/* getentropy(buf, len) (emscripten "env" import): the same stream as random_get */
HOSTFN(h_getentropy)
{
    aos_host *h = H;
    uint64_t buf = au(&a[0]), len = au(&a[1]);
    uint8_t *p = gptr(call, buf, len);
    if (!p)
        RET(-1);
    int crc = charge(call, h, len);
    if (crc)
        return crc;
    wh_random(h, p, len);
    wasm_memory_mark_dirty(wasm_call_memory(call), buf, len);
    RET(0);
}

/* system(command): there is no shell (0 for a NULL command, else -1) */
HOSTFN(h_system) { RET(IM->np && au(&a[0]) ? -1 : 0); }

/* strftime(s, maxsize, format, tm) for the legacy format, which took it from JS:
 * formatted here with the C library in the "C" locale, UTC. */
HOSTFN(h_strftime)
{
    uint64_t s = au(&a[0]), max = au(&a[1]), tmp = au(&a[3]);
    char fmt[256], out[512];
    uint32_t f[9];
    if (gstr(call, au(&a[2]), fmt, sizeof fmt))
        RET(0);
    for (int i = 0; i < 9; i++)
        if (gget32(call, tmp + 4 * (uint64_t)i, &f[i]))
            return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_sec = (int32_t)f[0]; tm.tm_min = (int32_t)f[1]; tm.tm_hour = (int32_t)f[2];
    tm.tm_mday = (int32_t)f[3]; tm.tm_mon = (int32_t)f[4]; tm.tm_year = (int32_t)f[5];
    tm.tm_wday = (int32_t)f[6]; tm.tm_yday = (int32_t)f[7]; tm.tm_isdst = 0;
    tm.tm_zone = "GMT";
    size_t n = strftime(out, sizeof out, fmt, &tm);
    if (n == 0 || n + 1 > max || gput(call, s, out, n + 1))
        RET(0);
    RET(n);
}

/* ================================================================== 5. WeaveDrive, metering */

/* weavedrive_open(filename, mode) -> fd or 0 */
HOSTFN(h_wd_open)
{
    char p[PATHBUF];
    if (path_arg(call, au(&a[0]), p))
        RET(0);
    weavedrive_fetch(H, p);
    int fd = aos_fs_open(H->fs, p, AOS_O_RDONLY);
    RET(fd < 0 ? 0 : fd);
}

/* weavedrive_read(fd, dst, length) -> bytes read */
HOSTFN(h_wd_read)
{
    uint64_t dst = au(&a[1]), len = au(&a[2]);
    uint8_t *p = gptr(call, dst, len);
    if (!p)
        return wasm_call_trap(call, wasm_trap_message(WASM_TRAP_MEMORY_OOB));
    int crc = charge(call, H, len / 16);
    if (crc)
        return crc;
    int64_t n = aos_fs_read(H->fs, (int)as(&a[0]), p, len);
    if (n > 0)
        wasm_memory_mark_dirty(wasm_call_memory(call), dst, (uint64_t)n);
    RET(n < 0 ? 0 : n);
}

HOSTFN(h_wd_close) { aos_fs_close(H->fs, (int)as(&a[0])); RET(0); }

/* metering.usegas(amount): the metering formats' gas counter */
HOSTFN(h_usegas)
{
    aos_host *h = H;
    h->gas_used += au(&a[0]);
    if (h->gas_limit && h->gas_used > h->gas_limit) {
        h->unwind = AOS_UNWIND_GAS;
        return wasm_call_trap(call, "out of gas!");
    }
    RET(0);
}

/* ================================================================== 6. linking */

HOSTFN(h_unimplemented)
{
    char msg[200];
    snprintf(msg, sizeof msg, "unimplemented import %s.%s", IM->module, IM->name);
    return trap_abort(call, H, msg);
}

typedef struct host_entry {
    const char  *module;
    const char  *name;
    wasm_host_fn fn;
} host_entry;

static const host_entry host_table[] = {
    { "env", "getTempRet0", h_get_temp_ret0 },
    { "env", "setTempRet0", h_set_temp_ret0 },
    { "env", "emscripten_notify_memory_growth", h_nop },
    { "env", "emscripten_memcpy_big", h_memcpy_big },
    { "env", "_emscripten_memcpy_js", h_memcpy_big },
    { "env", "emscripten_resize_heap", h_resize_heap },
    { "env", "emscripten_get_heap_max", h_get_heap_max },
    { "env", "_emscripten_get_heap_max", h_get_heap_max },
    { "env", "emscripten_get_now", h_date_now },
    { "env", "_emscripten_get_now", h_date_now },
    { "env", "emscripten_date_now", h_date_now },
    { "env", "_emscripten_date_now", h_date_now },
    { "env", "emscripten_get_now_res", h_nop },
    { "env", "_emscripten_get_now_is_monotonic", h_nop },
    { "env", "abort", h_abort },
    { "env", "_abort_js", h_abort },
    { "env", "__assert_fail", h_assert_fail },
    { "env", "exit", h_exit },
    { "env", "_exit", h_exit },
    { "env", "_emscripten_throw_longjmp", h_throw_longjmp },
    { "env", "emscripten_longjmp", h_emscripten_longjmp },
    { "env", "__cxa_allocate_exception", h_cxa_allocate_exception },
    { "env", "__cxa_free_exception", h_cxa_free_exception },
    { "env", "__cxa_throw", h_cxa_throw },
    { "env", "__cxa_begin_catch", h_cxa_begin_catch },
    { "env", "__cxa_end_catch", h_cxa_end_catch },
    { "env", "__cxa_rethrow", h_cxa_rethrow },
    { "env", "__resumeException", h_resume_exception },
    { "env", "__cxa_uncaught_exceptions", h_cxa_uncaught_exceptions },
    { "env", "__cxa_increment_exception_refcount", h_cxa_incref },
    { "env", "__cxa_decrement_exception_refcount", h_cxa_decref },
    { "env", "__cxa_get_exception_ptr", h_cxa_get_exception_ptr },
    { "env", "llvm_eh_typeid_for", h_llvm_eh_typeid_for },
    { "env", "_tzset_js", h_tzset },
    { "env", "time", h_time },
    { "env", "system", h_system },
    { "env", "strftime", h_strftime },
    { "env", "getentropy", h_getentropy },
    { "env", "_localtime_js", h_gmtime },
    { "env", "_gmtime_js", h_gmtime },
    { "env", "_mktime_js", h_mktime },
    { "env", "_timegm_js", h_mktime },
    { "env", "_emscripten_runtime_keepalive_clear", h_nop },
    { "env", "emscripten_scan_registers", h_nop },
    { "env", "_setitimer_js", h_nop },
    { "env", "_mmap_js", h_mmap_js },
    { "env", "_munmap_js", h_nop },
    { "env", "_msync_js", h_nop },
    { "env", "__syscall_openat", h_sys_openat },
    { "env", "__syscall_open", h_sys_open },
    { "env", "__syscall_fcntl64", h_sys_fcntl },
    { "env", "__syscall_ioctl", h_sys_ioctl },
    { "env", "__syscall_fstat64", h_sys_fstat },
    { "env", "__syscall_stat64", h_sys_stat },
    { "env", "__syscall_lstat64", h_sys_stat },
    { "env", "__syscall_newfstatat", h_sys_newfstatat },
    { "env", "__syscall_getcwd", h_sys_getcwd },
    { "env", "__syscall_unlinkat", h_sys_unlinkat },
    { "env", "__syscall_unlink", h_sys_unlink },
    { "env", "__syscall_rmdir", h_sys_rmdir },
    { "env", "__syscall_mkdirat", h_sys_mkdirat },
    { "env", "__syscall_mkdir", h_sys_mkdir },
    { "env", "__syscall_renameat", h_sys_renameat },
    { "env", "__syscall_rename", h_sys_rename },
    { "env", "__syscall_faccessat", h_sys_faccessat },
    { "env", "__syscall_chdir", h_sys_chdir },
    { "env", "__syscall_ftruncate64", h_sys_ftruncate },
    { "env", "__syscall_dup", h_sys_dup },
    { "env", "__syscall_getdents64", h_sys_getdents },
    { "env", "__syscall_chmod", h_sys_zero },
    { "env", "__syscall_fchmod", h_sys_zero },
    { "env", "__syscall_fchmodat", h_sys_zero },
    { "env", "__syscall_fchown32", h_sys_zero },
    { "env", "__syscall_utimensat", h_sys_zero },
    { "env", "__syscall_fdatasync", h_sys_zero },
    { "env", "__syscall_fchdir", h_sys_zero },
    { "env", "__syscall_umask", h_sys_zero },
    { "env", "weavedrive_open", h_wd_open },
    { "env", "weavedrive_read", h_wd_read },
    { "env", "weavedrive_close", h_wd_close },
    { "env", "__asyncjs__weavedrive_open", h_wd_open },
    { "env", "__asyncjs__weavedrive_read", h_wd_read },
    { "env", "__asyncjs__weavedrive_close", h_wd_close },
    { "metering", "usegas", h_usegas },
    { NULL, NULL, NULL }
};

/* The legacy loader's wasm32-unknown-emscripten format (formats/emscripten.cjs) links
 * the module against minified names in import module "a" and reads its exports under
 * one-letter names. Only this one mapping exists for that format. */
static const struct { const char *min, *module, *name; } legacy_imports[] = {
    { "a", "env", "_emscripten_date_now" },
    { "b", "env", "setTempRet0" },
    { "c", "wasi_snapshot_preview1", "fd_close" },
    { "d", "env", "__syscall_fcntl64" },
    { "e", "env", "__syscall_unlinkat" },
    { "f", "wasi_snapshot_preview1", "fd_write" },
    { "g", "env", "__syscall_openat" },
    { "h", "env", "getTempRet0" },
    { "i", "env", "_mktime_js" },
    { "j", "env", "_tzset_js" },
    { "k", "env", "emscripten_memcpy_big" },
    { "l", "env", "exit" },
    { "m", "env", "system" },
    { "n", "env", "strftime" },
    { "o", "wasi_snapshot_preview1", "fd_seek" },
    { "p", "env", "_emscripten_throw_longjmp" },
    { "q", "env", "emscripten_resize_heap" },
    { "r", "env", "__syscall_lstat64" },
    { "s", "env", "__syscall_renameat" },
    { "t", "env", "__syscall_rmdir" },
    { "u", "wasi_snapshot_preview1", "environ_get" },
    { "v", "wasi_snapshot_preview1", "environ_sizes_get" },
    { "w", "env", "__syscall_dup3" },
    { "x", "env", "invoke_vii" },
    { "y", "wasi_snapshot_preview1", "fd_read" },
    { "z", "env", "__syscall_ioctl" },
    { "A", "env", "_emscripten_get_now_is_monotonic" },
    { "B", "env", "_gmtime_js" },
    { "C", "env", "_localtime_js" },
    { "D", "env", "abort" },
    { NULL, NULL, NULL }
};

static const struct { const char *name, *min; } legacy_exports[] = {
    { "__wasm_call_ctors", "F" }, { "handle", "G" }, { "main", "H" }, { "malloc", "J" },
    { "__errno_location", "K" }, { "setThrew", "L" }, { "stackSave", "M" },
    { "stackRestore", "N" }, { "stackAlloc", "O" }, { NULL, NULL }
};

static wasm_host_fn lookup(const char *mod, const char *name)
{
    for (const host_entry *e = host_table; e->module; e++)
        if (strcmp(e->module, mod) == 0 && strcmp(e->name, name) == 0)
            return e->fn;
    if (strcmp(mod, "env") == 0 && strncmp(name, "invoke_", 7) == 0)
        return h_invoke;
    if (strcmp(mod, "env") == 0 && strncmp(name, "__syscall_", 10) == 0)
        return h_sys_enosys;
    if (strcmp(mod, "env") == 0 && strncmp(name, "__cxa_find_matching_catch_", 26) == 0)
        return h_cxa_find_matching_catch;
    return NULL;
}

int aos_host_new(aos_host **out)
{
    aos_host *h = calloc(1, sizeof *h);
    aox_wasi_hooks hooks;
    aox_wasi_config cfg;
    *out = NULL;
    if (!h)
        return AOX_E_NOMEM;
    memset(&hooks, 0, sizeof hooks);
    hooks.ud = h;
    hooks.clock_time = wh_clock_time;
    hooks.clock_res = wh_clock_res;
    hooks.random = wh_random;
    hooks.charge = wh_charge;
    hooks.exit = wh_exit;
    hooks.fs = &wasi_fs;
    memset(&cfg, 0, sizeof cfg);   /* no args, no environment */
    cfg.hooks = &hooks;
    if (aox_wasi_new(&cfg, &h->wasi) != 0) {
        free(h);
        return AOX_E_NOMEM;
    }
    *out = h;
    return AOX_OK;
}

void aos_host_free(aos_host *h)
{
    if (!h)
        return;
    for (uint32_t i = 0; i < h->nimports; i++) {
        free(h->imports[i].module);
        free(h->imports[i].name);
    }
    free(h->imports);
    aox_wasi_free(h->wasi);
    free(h);
}

int aos_host_link(aos_host *h, const wasm_module *m, wasm_imports *imps, aox_err *err)
{
    uint32_t n = wasm_module_import_count(m);
    h->imports = n ? calloc(n, sizeof *h->imports) : NULL;
    if (n && !h->imports)
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const char *mod, *name;
        wasm_externtype t;
        if (wasm_module_import(m, i, &mod, &name, &t))
            return aox_err_set(err, AOX_E_INTERNAL, "cannot read import %u", i);
        if (t.kind != WASM_EXTERN_FUNC)
            return aox_err_set(err, AOX_E_UNSUPPORTED,
                               "module imports %s.%s which is not a function: unsupported",
                               mod, name);
        if (t.func.nparams > 32 || t.func.nresults > 4)
            return aox_err_set(err, AOX_E_UNSUPPORTED, "import %s.%s has too many values",
                               mod, name);
        aos_import *im = &h->imports[h->nimports];
        im->h = h;
        im->module = strdup(mod);
        im->name = strdup(name);
        h->nimports++;
        if (!im->module || !im->name)
            return aox_err_set(err, AOX_E_NOMEM, "out of memory");
        im->np = t.func.nparams;
        im->nr = t.func.nresults;
        memcpy(im->params, t.func.params, im->np * sizeof *im->params);
        memcpy(im->results, t.func.results, im->nr * sizeof *im->results);
        const char *cmod = mod, *cname = name;
        if (strcmp(mod, "a") == 0) {             /* legacy minified names */
            h->minified = 1;
            for (int k = 0; legacy_imports[k].min; k++)
                if (strcmp(legacy_imports[k].min, name) == 0) {
                    cmod = legacy_imports[k].module;
                    cname = legacy_imports[k].name;
                    break;
                }
        }
        wasm_host_fn fn = lookup(cmod, cname);
        if (!fn && strcmp(cmod, "wasi_snapshot_preview1") == 0) {   /* the shared host */
            if (aox_wasi_link_import(h->wasi, imps, mod, name, cname, im->params, im->np,
                                     im->results, im->nr))
                return aox_err_set(err, AOX_E_NOMEM, "cannot add import %s.%s", mod, name);
            continue;
        }
        if (!fn) {
            fn = h_unimplemented;
            h->unimplemented++;
        }
        if (strcmp(cmod, "env") == 0 && strcmp(cname, "emscripten_memcpy_big") == 0)
            h->old_stat = 1;
        if (wasm_imports_add_func(imps, mod, name, im->params, im->np, im->results, im->nr,
                                  fn, im))
            return aox_err_set(err, AOX_E_NOMEM, "cannot add import %s.%s", mod, name);
    }
    return AOX_OK;
}

wasm_extern *aos_export(const aos_host *h, wasm_instance *inst, const char *name)
{
    wasm_extern *e = wasm_instance_export(inst, name);
    if (!e && h->minified)
        for (int k = 0; legacy_exports[k].name; k++)
            if (strcmp(legacy_exports[k].name, name) == 0) {
                e = wasm_instance_export(inst, legacy_exports[k].min);
                break;
            }
    return e && wasm_extern_kind_of(e) == WASM_EXTERN_FUNC ? e : NULL;
}

static wasm_extern *func_export2(const aos_host *h, wasm_instance *inst, const char *a,
                                 const char *b)
{
    wasm_extern *e = aos_export(h, inst, a);
    return e || !b ? e : aos_export(h, inst, b);
}

void aos_host_bind(aos_host *h, wasm_instance *inst)
{
    h->inst = inst;
    h->f_stack_save = func_export2(h, inst, "stackSave", "emscripten_stack_get_current");
    h->f_stack_restore = func_export2(h, inst, "stackRestore", "_emscripten_stack_restore");
    h->f_set_threw = func_export2(h, inst, "setThrew", NULL);
    h->f_malloc = func_export2(h, inst, "malloc", NULL);
    h->f_can_catch = func_export2(h, inst, "__cxa_can_catch", NULL);
    h->f_is_pointer_type = func_export2(h, inst, "__cxa_is_pointer_type", NULL);
    h->f_free = func_export2(h, inst, "free", NULL);
    wasm_extern *mem = wasm_instance_memory(inst);
    if (mem) {
        wasm_externtype t;
        wasm_extern_type(mem, &t);
        h->is64 = t.memory.is64;
    }
    if (h->is64)
        h->old_stat = 0;
}

void aos_host_begin(aos_host *h, int64_t timestamp_ms, const void *seed_src, size_t n)
{
    h->timestamp_ms = timestamp_ms;
    aox_sha256(seed_src, n, h->seed);
    h->rand_pos = 0;
    h->grow_refused = 0;
    h->grow_requested = 0;
    h->gas_used = 0;
    h->unwind = AOS_UNWIND_NONE;
    h->exit_code = 0;
    h->abort_msg[0] = '\0';
    h->exc_last = 0;
    h->exc_uncaught = 0;
    h->exc_ncaught = 0;
}
