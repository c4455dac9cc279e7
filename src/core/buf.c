/*
 * core/buf.c: growable byte buffer (buf.h). Capacity grows geometrically; one spare
 * byte past cap is always allocated so that data[len] can hold a NUL.
 */
#include "core/buf.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int aox_buf_reserve(aox_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - 1 - b->len)
        return AOX_E_NOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap && b->data)
        return AOX_OK;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need) {
        if (ncap > (SIZE_MAX - 1) / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    uint8_t *p = realloc(b->data, ncap + 1);
    if (!p)
        return AOX_E_NOMEM;
    b->data = p;
    b->cap = ncap;
    b->data[b->len] = 0;
    return AOX_OK;
}

int aox_buf_append(aox_buf *b, const void *p, size_t n)
{
    int rc = aox_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return AOX_OK;
}

int aox_buf_append_str(aox_buf *b, const char *s)
{
    return aox_buf_append(b, s, strlen(s));
}

int aox_buf_printf(aox_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return AOX_E_INVALID;
    if ((size_t)n < sizeof small)
        return aox_buf_append(b, small, (size_t)n);
    int rc = aox_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return AOX_OK;
}

int aox_buf_append_u8(aox_buf *b, uint8_t v)
{
    return aox_buf_append(b, &v, 1);
}

void aox_be_put(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t aox_be_get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int aox_buf_append_be64(aox_buf *b, uint64_t v)
{
    uint8_t t[8];
    aox_be_put(t, v, 8);
    return aox_buf_append(b, t, 8);
}

int aox_buf_append_uleb(aox_buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            byte |= 0x80;
        t[n++] = byte;
    } while (v);
    return aox_buf_append(b, t, n);
}

void aox_buf_reset(aox_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

void aox_buf_free(aox_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

uint8_t *aox_buf_steal(aox_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
