/*
 * device/device_int.h: private to src/device/. Sub-writers and sub-readers let the
 * stack device nest each sub-device's snapshot inside its own: a sub-writer keeps its
 * own meta blob and forwards pages to the parent under a namespace (the sub-device's
 * position in the stack) placed in the high bits of the page index:
 *
 *   parent page index = ((uint64_t)ns << AOX_SNAP_NS_SHIFT) | sub page index
 *
 * so a sub-device may use page indices below 2^48 (16 TiB of 64 KiB pages).
 */
#ifndef AOX_DEVICE_DEVICE_INT_H
#define AOX_DEVICE_DEVICE_INT_H

#include "device/device.h"

#define AOX_SNAP_NS_SHIFT 48
#define AOX_SNAP_NS_MAX   0xffffu

/* A writer that forwards pages to parent under namespace ns and collects its own meta.
 * Free with aox_snap_writer_free (it owns nothing of the parent's). */
int  snap_writer_sub(aox_snap_writer *parent, unsigned ns, aox_snap_writer **out);
/* The meta collected so far (owned by the writer). */
void snap_writer_meta(const aox_snap_writer *w, const uint8_t **p, size_t *n);

/* A reader over parent's pages in namespace ns whose meta is [meta, meta+n) (borrowed:
 * must outlive the sub-reader). Free with aox_snap_reader_free. */
int  snap_reader_sub(aox_snap_reader *parent, unsigned ns, const uint8_t *meta, size_t n,
                     aox_snap_reader **out);

/* stack@1.0's part of aox_device_check. */
int  aox_stack_check(const aox_msg *def, aox_err *err);

/* Built-in device tables. */
extern const aox_device_ops aox_stack_device;
extern const aox_device_ops aox_test_counter_device;

#endif
