/*
 * tests/ans104/fuzz_ans104.c: libFuzzer target for the ANS-104 decoder (built only
 * with -DAOX_FUZZ=ON and clang). Every input must parse or fail cleanly; a parsed
 * item is run through every accessor, the message and JSON conversions and
 * verification.
 *
 *   build-fuzz/tests/ans104/fuzz_ans104 -max_total_time=60 tests/ans104/vectors
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "ans104/ans104.h"
#include "core/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aox_ans104_item *it = NULL;
    aox_err err;
    if (aox_ans104_parse(data, size, &it, &err) != 0)
        return 0;
    size_t l;
    volatile uint8_t sink = 0;
    const uint8_t *p = aox_ans104_signature(it, &l); sink ^= l ? p[l - 1] : 0;
    p = aox_ans104_owner(it, &l);                    sink ^= l ? p[l - 1] : 0;
    p = aox_ans104_target(it, &l);                   sink ^= p ? p[l - 1] : 0;
    p = aox_ans104_anchor(it, &l);                   sink ^= p ? p[l - 1] : 0;
    p = aox_ans104_data(it, &l);                     sink ^= p[l];
    for (size_t i = 0; i < aox_ans104_tag_count(it); i++) {
        const aox_ans104_tag *t = aox_ans104_tag_at(it, i);
        sink ^= t->name[t->name_len] ^ t->value[t->value_len];
    }
    (void)aox_ans104_tag_find(it, "type");
    char id[AOX_ID_LEN + 1];
    aox_ans104_id(it, id);
    aox_ans104_owner_address(it, id);
    aox_msg *m = NULL;
    if (aox_ans104_to_msg(it, &m, &err) == 0) {
        aox_buf enc = {0};
        aox_msg_encode(m, &enc);
        aox_buf_free(&enc);
        aox_msg_free(m);
    }
    json_decref(aox_ans104_tags_json(it));
    json_decref(aox_ans104_gql_node(it));
    (void)aox_ans104_verify(it, &err);     /* must not crash; seeds do verify */
    aox_ans104_free(it);
    (void)sink;
    return 0;
}
