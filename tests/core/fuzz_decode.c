/*
 * tests/core/fuzz_decode.c: libFuzzer target for the canonical decoder and the JSON
 * reader (built with -DAOX_FUZZ=ON and clang). Invariants checked on every input:
 * no crash; an accepted encoding re-encodes to the same bytes; an accepted JSON text
 * survives message -> JSON -> message.
 */
#include <stdlib.h>
#include <string.h>
#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aox_msg *m = NULL;
    if (aox_msg_decode(data, size, &m, NULL) == 0) {
        aox_buf b = { 0 };
        if (aox_msg_encode(m, &b) != 0 || b.len != size || memcmp(b.data, data, size) != 0)
            abort();
        aox_buf_free(&b);
        aox_msg_free(m);
    }
    m = NULL;
    if (aox_msg_from_json_text((const char *)data, size, &m, NULL) == 0) {
        aox_buf t = { 0 };
        aox_msg *back = NULL;
        if (aox_msg_to_json_text(m, &t) != 0 ||
            aox_msg_from_json_text((const char *)t.data, t.len, &back, NULL) != 0 ||
            !aox_msg_equal(m, back))
            abort();
        aox_msg_free(back);
        aox_buf_free(&t);
        aox_msg_free(m);
    }
    return 0;
}
