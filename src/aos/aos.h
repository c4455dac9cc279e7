/*
 * aos/aos.h: execution devices for aos and other emscripten-built WebAssembly
 * processes (DESIGN.md §2, issue 7): the WASM process device in its wasm32
 * (`wasm@1.0`) and wasm64 (`wasm-64@1.0`) names, and the `json-iface@1.0` and
 * `wasi@1.0` stack markers.
 *
 * Process definitions accepted:
 *   short form   execution-device: wasm@1.0 | wasm-64@1.0, image: <module id>
 *                -> the aos JSON interface (aos_json.h) over the engine.
 *   stack form   execution-device: stack@1.0,
 *                device-stack: [wasi@1.0, json-iface@1.0, wasm-64@1.0] (HyperBEAM)
 *                -> the same; the markers carry no state, the wasm device does the
 *                work on pass 0 (it sees json-iface@1.0 in the stack). Without
 *                json-iface@1.0 the wasm device calls `function` raw (see below).
 * Optional definition keys: `module` (legacy alias of image), `function` (export
 * to call, default "handle"), `memory-limit` and `compute-limit` (override the
 * module's Memory-Limit / Compute-Limit tags), `module-format`.
 *
 * Store keys read (aox_device_env->store):
 *   module/<id>        module bytes (else the data of the ANS-104 item data/<id>)
 *   module/<id>/tags   JSON array [{"name","value"}...] of the module's tags (else
 *                      the tags of the ANS-104 item data/<id>; else none)
 *   data/<id>          raw ANS-104 items: WeaveDrive files /data/<id> (their data)
 *
 * Limits: memory = min(definition or Memory-Limit tag, env limits->memory_bytes),
 * compute (engine fuel) = min(definition or Compute-Limit tag (default 9e12),
 * limits->fuel_per_message). Exceeding them is the slot's error result:
 *   out_of_fuel    "out of gas!"                               (the loader's text)
 *   out_of_memory  "Cannot enlarge memory, requested N bytes, but the limit is M bytes!"
 * and the state is rolled back; the next message runs normally.
 */
#ifndef AOX_AOS_AOS_H
#define AOX_AOS_AOS_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

typedef struct aox_store aox_store;

#define AOX_AOS_DEV_WASM32  "wasm@1.0"
#define AOX_AOS_DEV_WASM64  "wasm-64@1.0"
#define AOX_AOS_DEV_JSON    "json-iface@1.0"
#define AOX_AOS_DEV_WASI    "wasi@1.0"

/* Registers wasm@1.0, wasm-64@1.0, json-iface@1.0 and wasi@1.0. A marker name
 * already taken by another device is left alone. Idempotent. 0 or an aox code. */
int aox_aos_register_devices(void);

/* For legacy spawns (an ANS-104 `Type: Process` item names only its `Module`): the
 * execution device for a module, "wasm-64@1.0" when its Module-Format (from
 * module/<id>/tags or the tags of data item <id>) starts with "wasm64", else
 * "wasm@1.0". Never NULL; store may be NULL (then "wasm@1.0"). */
const char *aox_aos_device_for_module(aox_store *store, const char *module_id);

/* For readers of a wasm@1.0 / wasm-64@1.0 snapshot (e.g. GET /state): from the
 * device's meta blob (aox_snap_read_meta), the linear memory size in bytes and the
 * size of the snapshot's pages (4096; page i holds bytes [i*4096, (i+1)*4096), a
 * missing page is zeros). 0 or AOX_E_CORRUPT when meta is not such a blob. */
int aox_aos_snapshot_memory(const uint8_t *meta, size_t n, uint64_t *memory_bytes,
                            uint32_t *page_size);

/* "module/<id>/tags" into k (reset first). */
int aox_aos_module_tags_key(aox_buf *k, const char *module_id);

/* Parses a Memory-Limit value: bytes ("524288000") or "<n>-<unit>" with unit
 * b, kb, mb, gb, tb (powers of 1024; case-insensitive). 0 or AOX_E_INVALID. */
int aox_aos_parse_size(const char *s, uint64_t *out);

/* Counters since start (for tests and metrics). */
typedef struct aox_aos_stats {
    uint64_t rollbacks;          /* messages whose state changes were undone */
    uint64_t pages_committed;    /* 4 KiB pages copied into the undo image */
    uint64_t pages_restored;     /* 4 KiB pages copied back on rollback */
    uint64_t pages_hashed;       /* 4 KiB pages (re)hashed for the state digest */
} aox_aos_stats;
void aox_aos_get_stats(aox_aos_stats *out);

#endif
