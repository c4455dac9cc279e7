/*
 * core/buf.h: a growable byte buffer. The zero value `{0}` is an empty buffer;
 * aox_buf_free() releases it and leaves it empty again. Appends return AOX_E_NOMEM
 * on allocation failure and leave the buffer unchanged.
 */
#ifndef AOX_CORE_BUF_H
#define AOX_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct aox_buf {
    uint8_t *data;      /* NULL when cap == 0; always NUL-terminated after an append */
    size_t   len;       /* bytes used */
    size_t   cap;       /* bytes allocated (excluding the spare NUL byte) */
} aox_buf;

int  aox_buf_reserve(aox_buf *b, size_t extra);
int  aox_buf_append(aox_buf *b, const void *p, size_t n);
int  aox_buf_append_str(aox_buf *b, const char *s);
int  aox_buf_printf(aox_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int  aox_buf_append_u8(aox_buf *b, uint8_t v);
int  aox_buf_append_be64(aox_buf *b, uint64_t v);    /* fixed-width big-endian */
int  aox_buf_append_uleb(aox_buf *b, uint64_t v);    /* unsigned LEB128 */
/* Fixed-width big-endian integers of n bytes (1..8) at p: store keys, snapshot headers. */
void     aox_be_put(uint8_t *p, uint64_t v, int n);
uint64_t aox_be_get(const uint8_t *p, int n);
void aox_buf_reset(aox_buf *b);                      /* len = 0, keeps memory */
void aox_buf_free(aox_buf *b);
/* Moves the bytes out: returns data (caller frees with free()), buffer becomes empty. */
uint8_t *aox_buf_steal(aox_buf *b, size_t *len);

#endif
