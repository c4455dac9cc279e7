/*
 * process/module.c: content-addressed module bytes (WASM images, Lua sources) at
 * module/<id>, id = base64url SHA-256 of the bytes. Putting the same bytes twice
 * writes once.
 */
#include "core/id.h"
#include "process/process.h"
#include "store/store.h"

int aox_module_put(aox_store *s, const void *bytes, size_t len,
                   char id[AOX_ID_LEN + 1], aox_err *err)
{
    uint8_t h[AOX_HASH_LEN];
    aox_buf k = {0}, v = {0};
    int rc;

    aox_sha256(bytes, len, h);
    aox_id_from_hash(h, id);
    rc = aox_key_simple(&k, "module", id);
    if (rc) {
        aox_err_set(err, rc, "out of memory");
        goto done;
    }
    rc = aox_store_get(s, k.data, k.len, &v);
    if (rc == AOX_OK)
        goto done;                              /* already stored */
    if (rc == AOX_E_NOT_FOUND)
        rc = aox_store_put(s, k.data, k.len, bytes, len);
    if (rc)
        aox_err_set(err, rc, "cannot store module %s", id);
done:
    aox_buf_free(&k);
    aox_buf_free(&v);
    return rc;
}

int aox_module_get(aox_store *s, const char *id, aox_buf *out, aox_err *err)
{
    aox_buf k = {0};
    int rc;

    if (!id || !aox_id_valid(id))
        return aox_err_set(err, AOX_E_INVALID, "'%.64s' is not a module ID", id ? id : "");
    rc = aox_key_simple(&k, "module", id);
    if (!rc)
        rc = aox_store_get(s, k.data, k.len, out);
    aox_buf_free(&k);
    if (rc == AOX_E_NOT_FOUND)
        return aox_err_set(err, rc, "module %s not found", id);
    if (rc)
        return aox_err_set(err, rc, "cannot read module %s", id);
    return AOX_OK;
}
