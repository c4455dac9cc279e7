/*
 * ans104/ans104_int.h: private to src/ans104/. The parsed item keeps its own copy of
 * the raw bytes; every field is a view into that copy.
 */
#ifndef AOX_ANS104_INT_H
#define AOX_ANS104_INT_H

#include "ans104/ans104.h"

/* Views into raw with a NUL after each one live in `strs` (tag names and values are
 * copied there because the raw tag bytes have no room for terminators). */
struct aox_ans104_item {
    uint8_t *raw;      size_t raw_len;      /* whole item, + 1 NUL byte */
    int      sig_type;
    size_t   sig_off,    sig_len;
    size_t   owner_off,  owner_len;
    size_t   target_off, target_len;         /* len 0 when absent */
    size_t   anchor_off, anchor_len;         /* len 0 when absent */
    size_t   tags_off,   tags_len;           /* raw Avro bytes */
    size_t   data_off,   data_len;
    aox_ans104_tag *tags; size_t tag_count;  /* views into strs */
    uint8_t *strs;                            /* NUL-terminated copies of tag bytes */
    /* NUL-terminated copies of the fixed fields, so that accessors can promise a NUL */
    uint8_t *fixed;                           /* sig \0 owner \0 target \0 anchor \0 */
};

/* Signature/owner lengths of a type; 0 when the type is unknown. */
int ans104_sig_lengths(int type, size_t *sig_len, size_t *owner_len);

#endif
