/*
 * aos/aos_fs.h: the per-process in-memory file system of aos/emscripten processes.
 *
 * Deliberately small: a flat, sorted map from absolute path to bytes (plus
 * directory entries), and a table of open file descriptors. It is part of the
 * process state: it is serialised into the snapshot meta and rolled back with the
 * rest of the state when a message fails. Nothing of the host file system is ever
 * visible. fds 0, 1 and 2 are stdin (always empty), stdout and stderr: writes to
 * 1 and 2 go to capture buffers that the device turns into the result, and are not
 * part of the state.
 *
 * Paths are normalised ("." and ".." resolved, repeated slashes removed, relative
 * paths taken from "/"). "/" and "/data" always exist as directories (the legacy
 * loader creates /data for WeaveDrive). Errors are negative Linux errno values
 * (-2 ENOENT, -9 EBADF, -17 EEXIST, -20 ENOTDIR, -21 EISDIR, -22 EINVAL,
 * -24 EMFILE, -27 EFBIG, -39 ENOTEMPTY), the form emscripten's __syscall_* return.
 *
 * Limits (so a guest cannot make the node's memory explode through the fs):
 * at most AOS_FS_MAX_FILES entries, AOS_FS_MAX_FDS open fds and AOS_FS_MAX_BYTES
 * bytes in all files together (-ENOSPC / -EMFILE / -EFBIG beyond).
 */
#ifndef AOX_AOS_FS_H
#define AOX_AOS_FS_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

#define AOS_FS_MAX_FILES 4096
#define AOS_FS_MAX_FDS   256
#define AOS_FS_MAX_BYTES (256u << 20)   /* 256 MiB over all files */

/* open flags (Linux/musl numbering, which both wasm32 and wasm64 emscripten use) */
#define AOS_O_ACCMODE   03
#define AOS_O_RDONLY    00
#define AOS_O_WRONLY    01
#define AOS_O_RDWR      02
#define AOS_O_CREAT     0100
#define AOS_O_EXCL      0200
#define AOS_O_TRUNC     01000
#define AOS_O_APPEND    02000
#define AOS_O_DIRECTORY 0200000

typedef struct aos_fs aos_fs;

typedef struct aos_stat {
    int      is_dir;
    uint64_t size;      /* bytes; 0 for a directory */
    uint64_t ino;       /* stable: 1 + position in the sorted entry table at the call */
} aos_stat;

/* Lifetime. new returns NULL on OOM. clone is a deep copy (captures are not copied). */
aos_fs *aos_fs_new(void);
void    aos_fs_free(aos_fs *fs);
aos_fs *aos_fs_clone(const aos_fs *fs);
/* True when the fs (files, dirs, fds) changed since the last aos_fs_clear_dirty. */
int     aos_fs_dirty(const aos_fs *fs);
void    aos_fs_clear_dirty(aos_fs *fs);

/* Serialisation (part of the snapshot meta). decode returns NULL on malformed input. */
int     aos_fs_encode(const aos_fs *fs, aox_buf *out);
aos_fs *aos_fs_decode(const uint8_t *p, size_t n);

/* Whole-file helpers (host side, e.g. to preload or inspect files). */
int aos_fs_write_file(aos_fs *fs, const char *path, const void *p, size_t n);
/* Appends the file's bytes to out. -ENOENT / -EISDIR. */
int aos_fs_read_file(const aos_fs *fs, const char *path, aox_buf *out);

/* POSIX-like calls used by the emscripten and WASI host functions. Return >= 0 on
 * success (an fd, a count) or a negative errno. */
int     aos_fs_open(aos_fs *fs, const char *path, int flags);
int     aos_fs_close(aos_fs *fs, int fd);
int64_t aos_fs_read(aos_fs *fs, int fd, void *dst, uint64_t n);
int64_t aos_fs_write(aos_fs *fs, int fd, const void *src, uint64_t n);
int64_t aos_fs_pread(aos_fs *fs, int fd, void *dst, uint64_t n, uint64_t off);
int64_t aos_fs_pwrite(aos_fs *fs, int fd, const void *src, uint64_t n, uint64_t off);
/* whence: 0 SET, 1 CUR, 2 END. Returns the new position. */
int64_t aos_fs_seek(aos_fs *fs, int fd, int64_t off, int whence);
int     aos_fs_truncate_fd(aos_fs *fs, int fd, uint64_t len);
int     aos_fs_dup(aos_fs *fs, int fd);
int     aos_fs_fstat(const aos_fs *fs, int fd, aos_stat *st);
int     aos_fs_stat(const aos_fs *fs, const char *path, aos_stat *st);
int     aos_fs_unlink(aos_fs *fs, const char *path);
int     aos_fs_mkdir(aos_fs *fs, const char *path);
int     aos_fs_rmdir(aos_fs *fs, const char *path);
int     aos_fs_rename(aos_fs *fs, const char *from, const char *to);
/* The flags an fd was opened with, or a negative errno. */
int     aos_fs_fd_flags(const aos_fs *fs, int fd);
int     aos_fs_set_fd_flags(aos_fs *fs, int fd, int flags);
/* Directory listing of the directory open at fd: the name (last path component) of
 * the entry at position *cookie and advances it; 0 at the end, 1 when an entry was
 * returned, negative errno. name receives at most cap bytes incl. NUL. */
int     aos_fs_readdir(const aos_fs *fs, int fd, uint64_t *cookie, char *name, size_t cap,
                       int *is_dir);

/* Captured stdout (fd 1) / stderr (fd 2) since the last aos_fs_reset_capture. */
const aox_buf *aos_fs_capture(const aos_fs *fs, int fd);
void           aos_fs_reset_capture(aos_fs *fs);
/* Cap per stream in bytes (0 = 1 MiB); writes beyond are dropped (counted). */
void           aos_fs_set_capture_cap(aos_fs *fs, size_t cap);

/* Normalises path into out (cap bytes). -ENAMETOOLONG (-36) or -EINVAL. */
int aos_fs_normalize(const char *path, char *out, size_t cap);

#endif
