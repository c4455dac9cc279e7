/*
 * device/snapshot.h: how a device writes and reads a snapshot.
 *
 * A snapshot is a small device-defined `meta` blob plus an optional array of
 * fixed-index pages (e.g. linear-memory pages). Pages are stored content-addressed
 * (`page/<sha256>`) and shared between snapshots, so a device that knows which pages
 * changed since its previous snapshot writes only those and marks the rest "kept".
 * The writer/reader are implemented in device/snapshot.c over the store; the
 * process layer creates them and persists the resulting manifest.
 *
 *   manifest := version, meta bytes, page count, [page index -> page hash]*
 */
#ifndef AOX_DEVICE_SNAPSHOT_H
#define AOX_DEVICE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/error.h"

typedef struct aox_store aox_store;
typedef struct aox_snap_writer aox_snap_writer;
typedef struct aox_snap_reader aox_snap_reader;

/* --- device side --- */
/* Appends to the device's meta blob (may be called several times). */
int aox_snap_write_meta(aox_snap_writer *w, const void *p, size_t n);
/* Writes page `index` (content-addressed; identical pages are stored once). */
int aox_snap_write_page(aox_snap_writer *w, uint64_t index, const void *p, size_t n);
/* Marks page `index` unchanged since the previous snapshot of this state. Returns
 * AOX_E_NOT_FOUND when the writer has no previous snapshot holding that page: the
 * device must then write it. */
int aox_snap_keep_page(aox_snap_writer *w, uint64_t index);
/* True when the writer has a previous manifest (so keep_page may succeed). */
int aox_snap_has_base(const aox_snap_writer *w);

int aox_snap_read_meta(aox_snap_reader *r, const uint8_t **p, size_t *n);
/* Number of page slots (highest index + 1). */
uint64_t aox_snap_page_count(const aox_snap_reader *r);
/* Reads page `index` into out (reset first). AOX_E_NOT_FOUND for a page never
 * written (the device treats it as zero). */
int aox_snap_read_page(aox_snap_reader *r, uint64_t index, aox_buf *out);

/* --- host side --- */
/* base_manifest (may be NULL) is the manifest of the snapshot this state was last
 * written to or restored from. Pages are written to the store immediately (they
 * are content-addressed, so a page left behind by an aborted snapshot is harmless). */
int  aox_snap_writer_new(aox_store *s, const uint8_t *base_manifest, size_t base_len,
                         aox_snap_writer **out);
/* Serialises the manifest into out. */
int  aox_snap_writer_finish(aox_snap_writer *w, aox_buf *manifest);
/* Bytes of pages actually written (not kept/deduplicated) — for metrics. */
uint64_t aox_snap_writer_bytes_written(const aox_snap_writer *w);
void aox_snap_writer_free(aox_snap_writer *w);

int  aox_snap_reader_new(aox_store *s, const uint8_t *manifest, size_t len,
                         aox_snap_reader **out, aox_err *err);
void aox_snap_reader_free(aox_snap_reader *r);

/* --- forwarding (device/isolate.c) ---
 * A writer/reader whose device-side calls go to callbacks instead of a store: an
 * isolated worker process hands them to its device so that every page travels over
 * the worker's socket to the node, which applies it to the real writer/reader.
 * Sub-writers/readers of a forwarding one forward too. finish() of a forwarding
 * writer is not used (the node finishes the real one). `f` must outlive them. */
typedef struct aox_snap_fwd {
    void          *ud;
    int          (*meta)(void *ud, const void *p, size_t n);
    int          (*page)(void *ud, uint64_t index, const void *p, size_t n);
    int          (*keep)(void *ud, uint64_t index);
    int            has_base;
    const uint8_t *rmeta;          /* reader: the meta blob and page count */
    size_t         rmeta_len;
    uint64_t       page_count;
    int          (*read_page)(void *ud, uint64_t index, aox_buf *out);
} aox_snap_fwd;
int aox_snap_writer_new_fwd(const aox_snap_fwd *f, aox_snap_writer **out);
int aox_snap_reader_new_fwd(const aox_snap_fwd *f, aox_snap_reader **out);

#endif
