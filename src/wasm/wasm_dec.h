/* wasm_dec.h: private byte reader shared by the decoder and the compiler. */
#ifndef AOX_WASM_DEC_H
#define AOX_WASM_DEC_H

#include "wasm/wasm_int.h"

struct wdec {
    const uint8_t *start;   /* module start (offsets are relative to it) */
    const uint8_t *p, *end; /* cursor and current limit (section or body end) */
    wasm_error *err;
    const char *eof_msg;    /* message when reading past end */
    bool failed;
    bool have_invalid;      /* a validation error is pending (see sec_code) */
    wasm_error pending;
};

bool dec_fail(wdec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool dec_u8(wdec *d, uint8_t *out);
bool dec_bytes(wdec *d, size_t n, const uint8_t **out);
bool dec_u32(wdec *d, uint32_t *out);
bool dec_u64(wdec *d, uint64_t *out);
bool dec_s32(wdec *d, int32_t *out);
bool dec_s33(wdec *d, int64_t *out);
bool dec_s64(wdec *d, int64_t *out);
bool dec_count(wdec *d, uint32_t *out, size_t min_size);
bool dec_valtype(wdec *d, wasm_valtype *out);

#endif
