/*
 * aos/aos_fs.c: the per-process in-memory file system (see aos_fs.h).
 *
 * Layout: `ents` is an array of entries sorted by path (bytewise), so lookups are
 * binary searches and every listing and serialisation comes out in one order on
 * every node. An open fd remembers the path it was opened with (not an index: the
 * index moves when entries are inserted), its position and its flags.
 *
 *   encoding := "AFS1" uleb(nents) { uleb(plen) path u8(is_dir) uleb(len) bytes }*
 *               uleb(nfds) { uleb(fd) uleb(plen) path uleb(pos) uleb(flags) }*
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/aos_fs.h"

#define PATH_MAX_LEN 1024
#define DEFAULT_CAPTURE_CAP (1u << 20)

typedef struct fs_ent {
    char    *path;
    int      is_dir;
    aox_buf  data;
} fs_ent;

typedef struct fs_fd {
    int      used;
    char    *path;
    uint64_t pos;
    int      flags;
} fs_fd;

struct aos_fs {
    fs_ent  *ents;
    size_t   nents, capents;
    fs_fd    fds[AOS_FS_MAX_FDS];
    uint64_t total_bytes;
    int      dirty;
    aox_buf  out, err;          /* captures of fd 1 and 2 (not state) */
    size_t   capture_cap;
};

/* ------------------------------------------------------------------ paths */

int aos_fs_normalize(const char *path, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = path;
    if (!path || cap < 2)
        return -EINVAL;
    out[n++] = '/';
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - s);
        if (len == 1 && s[0] == '.')
            continue;
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            /* drop the last component */
            if (n > 1) {
                n--;                            /* the trailing char of the component */
                while (n > 1 && out[n - 1] != '/')
                    n--;
                if (n > 1)
                    n--;                        /* the slash before it */
            }
            continue;
        }
        if (n > 1) {
            if (n + 1 >= cap)
                return -ENAMETOOLONG;
            out[n++] = '/';
        }
        if (n + len >= cap)
            return -ENAMETOOLONG;
        memcpy(out + n, s, len);
        n += len;
    }
    out[n] = '\0';
    return 0;
}

/* index of path, or -(insertion point) - 1 */
static long find_ent(const aos_fs *fs, const char *path)
{
    size_t lo = 0, hi = fs->nents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(fs->ents[mid].path, path);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static int is_builtin_dir(const char *p)
{
    return strcmp(p, "/") == 0 || strcmp(p, "/data") == 0;
}

/* 1 when p names a directory (built-in or entry) */
static int dir_exists(const aos_fs *fs, const char *p)
{
    if (is_builtin_dir(p))
        return 1;
    long i = find_ent(fs, p);
    return i >= 0 && fs->ents[i].is_dir;
}

/* The parent directory of a normalised path must exist. */
static int parent_ok(const aos_fs *fs, const char *p)
{
    char parent[PATH_MAX_LEN];
    const char *slash = strrchr(p, '/');
    size_t n = (size_t)(slash - p);
    if (n == 0)
        return 1;                      /* parent is "/" */
    memcpy(parent, p, n);
    parent[n] = '\0';
    if (dir_exists(fs, parent))
        return 1;
    long i = find_ent(fs, parent);
    return i >= 0 ? -ENOTDIR : -ENOENT;
}

static int insert_ent(aos_fs *fs, long where, const char *path, int is_dir)
{
    if (fs->nents >= AOS_FS_MAX_FILES)
        return -ENOSPC;
    if (fs->nents == fs->capents) {
        size_t nc = fs->capents ? fs->capents * 2 : 16;
        fs_ent *ne = realloc(fs->ents, nc * sizeof *ne);
        if (!ne)
            return -ENOMEM;
        fs->ents = ne;
        fs->capents = nc;
    }
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    size_t at = (size_t)where;
    memmove(fs->ents + at + 1, fs->ents + at, (fs->nents - at) * sizeof *fs->ents);
    fs->ents[at].path = copy;
    fs->ents[at].is_dir = is_dir;
    memset(&fs->ents[at].data, 0, sizeof fs->ents[at].data);
    fs->nents++;
    fs->dirty = 1;
    return 0;
}

static void remove_ent(aos_fs *fs, size_t at)
{
    fs->total_bytes -= fs->ents[at].data.len;
    free(fs->ents[at].path);
    aox_buf_free(&fs->ents[at].data);
    memmove(fs->ents + at, fs->ents + at + 1, (fs->nents - at - 1) * sizeof *fs->ents);
    fs->nents--;
    fs->dirty = 1;
}

/* ------------------------------------------------------------------ lifetime */

aos_fs *aos_fs_new(void)
{
    aos_fs *fs = calloc(1, sizeof *fs);
    if (!fs)
        return NULL;
    for (int i = 0; i < 3; i++) {
        fs->fds[i].used = 1;
        fs->fds[i].flags = i == 0 ? AOS_O_RDONLY : AOS_O_WRONLY;
    }
    return fs;
}

void aos_fs_free(aos_fs *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < fs->nents; i++) {
        free(fs->ents[i].path);
        aox_buf_free(&fs->ents[i].data);
    }
    free(fs->ents);
    for (int i = 0; i < AOS_FS_MAX_FDS; i++)
        free(fs->fds[i].path);
    aox_buf_free(&fs->out);
    aox_buf_free(&fs->err);
    free(fs);
}

aos_fs *aos_fs_clone(const aos_fs *src)
{
    aos_fs *fs = aos_fs_new();
    if (!fs)
        return NULL;
    fs->capture_cap = src->capture_cap;
    if (src->nents) {
        fs->ents = calloc(src->nents, sizeof *fs->ents);
        if (!fs->ents)
            goto fail;
        fs->capents = src->nents;
        for (size_t i = 0; i < src->nents; i++) {
            fs->ents[i].path = strdup(src->ents[i].path);
            fs->ents[i].is_dir = src->ents[i].is_dir;
            fs->nents = i + 1;
            if (!fs->ents[i].path)
                goto fail;
            if (src->ents[i].data.len &&
                aox_buf_append(&fs->ents[i].data, src->ents[i].data.data,
                               src->ents[i].data.len))
                goto fail;
        }
    }
    fs->total_bytes = src->total_bytes;
    for (int i = 0; i < AOS_FS_MAX_FDS; i++) {
        fs->fds[i] = src->fds[i];
        fs->fds[i].path = NULL;
        if (src->fds[i].path && !(fs->fds[i].path = strdup(src->fds[i].path)))
            goto fail;
    }
    fs->dirty = src->dirty;
    return fs;
fail:
    aos_fs_free(fs);
    return NULL;
}

int aos_fs_dirty(const aos_fs *fs) { return fs->dirty; }
void aos_fs_clear_dirty(aos_fs *fs) { fs->dirty = 0; }

/* ------------------------------------------------------------------ encoding */

static int get_uleb(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int aos_fs_encode(const aos_fs *fs, aox_buf *out)
{
    int rc = aox_buf_append(out, "AFS1", 4);
    rc = rc ? rc : aox_buf_append_uleb(out, fs->nents);
    for (size_t i = 0; !rc && i < fs->nents; i++) {
        size_t pl = strlen(fs->ents[i].path);
        rc = aox_buf_append_uleb(out, pl);
        rc = rc ? rc : aox_buf_append(out, fs->ents[i].path, pl);
        rc = rc ? rc : aox_buf_append_u8(out, (uint8_t)fs->ents[i].is_dir);
        rc = rc ? rc : aox_buf_append_uleb(out, fs->ents[i].data.len);
        if (!rc && fs->ents[i].data.len)
            rc = aox_buf_append(out, fs->ents[i].data.data, fs->ents[i].data.len);
    }
    size_t nfds = 0;
    for (int i = 3; i < AOS_FS_MAX_FDS; i++)
        nfds += fs->fds[i].used;
    rc = rc ? rc : aox_buf_append_uleb(out, nfds);
    for (int i = 3; !rc && i < AOS_FS_MAX_FDS; i++) {
        const fs_fd *f = &fs->fds[i];
        if (!f->used)
            continue;
        size_t pl = strlen(f->path);
        rc = aox_buf_append_uleb(out, (uint64_t)i);
        rc = rc ? rc : aox_buf_append_uleb(out, pl);
        rc = rc ? rc : aox_buf_append(out, f->path, pl);
        rc = rc ? rc : aox_buf_append_uleb(out, f->pos);
        rc = rc ? rc : aox_buf_append_uleb(out, (uint64_t)(unsigned)f->flags);
    }
    return rc;
}

static char *get_str(const uint8_t **p, const uint8_t *end)
{
    uint64_t n;
    if (get_uleb(p, end, &n) || n >= PATH_MAX_LEN || n > (uint64_t)(end - *p))
        return NULL;
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += n;
    if (strlen(s) != n || s[0] != '/') {
        free(s);
        return NULL;
    }
    return s;
}

aos_fs *aos_fs_decode(const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    uint64_t nents, nfds;
    aos_fs *fs = aos_fs_new();
    if (!fs || n < 4 || memcmp(p, "AFS1", 4) != 0)
        goto fail;
    p += 4;
    if (get_uleb(&p, end, &nents) || nents > AOS_FS_MAX_FILES)
        goto fail;
    if (nents) {
        fs->ents = calloc(nents, sizeof *fs->ents);
        if (!fs->ents)
            goto fail;
        fs->capents = nents;
    }
    for (uint64_t i = 0; i < nents; i++) {
        uint64_t len;
        fs_ent *e = &fs->ents[i];
        e->path = get_str(&p, end);
        fs->nents = i + 1;
        if (!e->path || p >= end)
            goto fail;
        if (i > 0 && strcmp(fs->ents[i - 1].path, e->path) >= 0)
            goto fail;
        e->is_dir = *p++ != 0;
        if (get_uleb(&p, end, &len) || len > (uint64_t)(end - p))
            goto fail;
        if (len && aox_buf_append(&e->data, p, len))
            goto fail;
        p += len;
        fs->total_bytes += len;
    }
    if (get_uleb(&p, end, &nfds) || nfds > AOS_FS_MAX_FDS)
        goto fail;
    for (uint64_t i = 0; i < nfds; i++) {
        uint64_t fd, pos, flags;
        if (get_uleb(&p, end, &fd) || fd < 3 || fd >= AOS_FS_MAX_FDS || fs->fds[fd].used)
            goto fail;
        fs->fds[fd].path = get_str(&p, end);
        if (!fs->fds[fd].path || get_uleb(&p, end, &pos) || get_uleb(&p, end, &flags))
            goto fail;
        fs->fds[fd].used = 1;
        fs->fds[fd].pos = pos;
        fs->fds[fd].flags = (int)flags;
    }
    if (p != end)
        goto fail;
    return fs;
fail:
    aos_fs_free(fs);
    return NULL;
}

/* ------------------------------------------------------------------ helpers */

static int norm(const char *path, char *buf)
{
    return aos_fs_normalize(path, buf, PATH_MAX_LEN);
}

static fs_fd *get_fd(const aos_fs *fs, int fd)
{
    if (fd < 0 || fd >= AOS_FS_MAX_FDS || !fs->fds[fd].used)
        return NULL;
    return (fs_fd *)&fs->fds[fd];
}

/* The entry of a file fd (NULL for stdio, directories and unlinked files). */
static fs_ent *fd_ent(const aos_fs *fs, const fs_fd *f)
{
    if (!f->path)
        return NULL;
    long i = find_ent(fs, f->path);
    return i >= 0 ? &fs->ents[i] : NULL;
}

static int set_len(aos_fs *fs, fs_ent *e, uint64_t len)
{
    if (len > e->data.len) {
        uint64_t extra = len - e->data.len;
        if (fs->total_bytes + extra > AOS_FS_MAX_BYTES)
            return -EFBIG;
        if (aox_buf_reserve(&e->data, (size_t)extra))
            return -ENOMEM;
        memset(e->data.data + e->data.len, 0, (size_t)extra);
        e->data.data[len] = 0;
        fs->total_bytes += extra;
    } else {
        fs->total_bytes -= e->data.len - len;
    }
    e->data.len = (size_t)len;
    fs->dirty = 1;
    return 0;
}

/* ------------------------------------------------------------------ whole files */

int aos_fs_write_file(aos_fs *fs, const char *path, const void *p, size_t n)
{
    int fd = aos_fs_open(fs, path, AOS_O_WRONLY | AOS_O_CREAT | AOS_O_TRUNC);
    if (fd < 0)
        return fd;
    int64_t w = aos_fs_write(fs, fd, p, n);
    aos_fs_close(fs, fd);
    return w < 0 ? (int)w : 0;
}

int aos_fs_read_file(const aos_fs *fs, const char *path, aox_buf *out)
{
    char p[PATH_MAX_LEN];
    int rc = norm(path, p);
    if (rc)
        return rc;
    if (is_builtin_dir(p))
        return -EISDIR;
    long i = find_ent(fs, p);
    if (i < 0)
        return -ENOENT;
    if (fs->ents[i].is_dir)
        return -EISDIR;
    if (fs->ents[i].data.len && aox_buf_append(out, fs->ents[i].data.data, fs->ents[i].data.len))
        return -ENOMEM;
    return 0;
}

/* ------------------------------------------------------------------ fd calls */

int aos_fs_open(aos_fs *fs, const char *path, int flags)
{
    char p[PATH_MAX_LEN];
    int rc = norm(path, p);
    if (rc)
        return rc;
    int fd = 3;
    while (fd < AOS_FS_MAX_FDS && fs->fds[fd].used)
        fd++;
    if (fd == AOS_FS_MAX_FDS)
        return -EMFILE;
    int acc = flags & AOS_O_ACCMODE;
    if (dir_exists(fs, p)) {
        if ((flags & AOS_O_CREAT) && (flags & AOS_O_EXCL))
            return -EEXIST;
        if (acc != AOS_O_RDONLY)
            return -EISDIR;
    } else {
        long i = find_ent(fs, p);
        if (flags & AOS_O_DIRECTORY)
            return i >= 0 ? -ENOTDIR : -ENOENT;
        if (i >= 0) {
            if ((flags & AOS_O_CREAT) && (flags & AOS_O_EXCL))
                return -EEXIST;
            if ((flags & AOS_O_TRUNC) && acc != AOS_O_RDONLY && (rc = set_len(fs, &fs->ents[i], 0)))
                return rc;
        } else {
            if (!(flags & AOS_O_CREAT))
                return -ENOENT;
            if ((rc = parent_ok(fs, p)) != 1)
                return rc;
            if ((rc = insert_ent(fs, -i - 1, p, 0)))
                return rc;
        }
    }
    char *copy = strdup(p);
    if (!copy)
        return -ENOMEM;
    fs->fds[fd].used = 1;
    fs->fds[fd].path = copy;
    fs->fds[fd].pos = 0;
    fs->fds[fd].flags = flags & ~(AOS_O_CREAT | AOS_O_EXCL | AOS_O_TRUNC);
    fs->dirty = 1;
    return fd;
}

int aos_fs_close(aos_fs *fs, int fd)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f)
        return -EBADF;
    if (fd < 3)
        return 0;                      /* stdio stays open */
    free(f->path);
    memset(f, 0, sizeof *f);
    fs->dirty = 1;
    return 0;
}

static int64_t capture(aos_fs *fs, int fd, const void *src, uint64_t n)
{
    aox_buf *b = fd == 1 ? &fs->out : &fs->err;
    size_t cap = fs->capture_cap ? fs->capture_cap : DEFAULT_CAPTURE_CAP;
    uint64_t room = b->len < cap ? cap - b->len : 0;
    uint64_t take = n < room ? n : room;
    if (take && aox_buf_append(b, src, (size_t)take))
        return -ENOMEM;
    return (int64_t)n;               /* excess is dropped silently, like a full pipe reader */
}

int64_t aos_fs_pread(aos_fs *fs, int fd, void *dst, uint64_t n, uint64_t off)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f)
        return -EBADF;
    if (fd == 0)
        return 0;
    if ((f->flags & AOS_O_ACCMODE) == AOS_O_WRONLY)
        return -EBADF;
    if (fd < 3)
        return -EBADF;
    fs_ent *e = fd_ent(fs, f);
    if (!e)
        return dir_exists(fs, f->path) ? -EISDIR : -ENOENT;
    if (e->is_dir)
        return -EISDIR;
    if (off >= e->data.len)
        return 0;
    uint64_t avail = e->data.len - off;
    uint64_t take = n < avail ? n : avail;
    memcpy(dst, e->data.data + off, (size_t)take);
    return (int64_t)take;
}

int64_t aos_fs_pwrite(aos_fs *fs, int fd, const void *src, uint64_t n, uint64_t off)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f)
        return -EBADF;
    if (fd == 1 || fd == 2)
        return capture(fs, fd, src, n);
    if (fd == 0 || (f->flags & AOS_O_ACCMODE) == AOS_O_RDONLY)
        return -EBADF;
    fs_ent *e = fd_ent(fs, f);
    if (!e)
        return -ENOENT;
    if (off > AOS_FS_MAX_BYTES || n > AOS_FS_MAX_BYTES)
        return -EFBIG;
    if (off + n > e->data.len) {
        int rc = set_len(fs, e, off + n);
        if (rc)
            return rc;
    }
    if (n)
        memcpy(e->data.data + off, src, (size_t)n);
    fs->dirty = 1;
    return (int64_t)n;
}

int64_t aos_fs_read(aos_fs *fs, int fd, void *dst, uint64_t n)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f)
        return -EBADF;
    int64_t r = aos_fs_pread(fs, fd, dst, n, f->pos);
    if (r > 0 && fd >= 3) {
        f->pos += (uint64_t)r;
        fs->dirty = 1;
    }
    return r;
}

int64_t aos_fs_write(aos_fs *fs, int fd, const void *src, uint64_t n)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f)
        return -EBADF;
    if (fd < 3)
        return aos_fs_pwrite(fs, fd, src, n, 0);
    if (f->flags & AOS_O_APPEND) {
        fs_ent *e = fd_ent(fs, f);
        if (e)
            f->pos = e->data.len;
    }
    int64_t r = aos_fs_pwrite(fs, fd, src, n, f->pos);
    if (r > 0) {
        f->pos += (uint64_t)r;
        fs->dirty = 1;
    }
    return r;
}

int64_t aos_fs_seek(aos_fs *fs, int fd, int64_t off, int whence)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f)
        return -EBADF;
    if (fd < 3)
        return -ESPIPE;
    int64_t base;
    switch (whence) {
    case 0: base = 0; break;
    case 1: base = (int64_t)f->pos; break;
    case 2: {
        fs_ent *e = fd_ent(fs, f);
        base = e ? (int64_t)e->data.len : 0;
        break;
    }
    default: return -EINVAL;
    }
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
        return -EINVAL;
    f->pos = (uint64_t)(base + off);
    fs->dirty = 1;
    return (int64_t)f->pos;
}

int aos_fs_truncate_fd(aos_fs *fs, int fd, uint64_t len)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f || fd < 3 || (f->flags & AOS_O_ACCMODE) == AOS_O_RDONLY)
        return -EBADF;
    fs_ent *e = fd_ent(fs, f);
    if (!e || e->is_dir)
        return -EINVAL;
    if (len > AOS_FS_MAX_BYTES)
        return -EFBIG;
    return set_len(fs, e, len);
}

int aos_fs_dup(aos_fs *fs, int fd)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f)
        return -EBADF;
    int nfd = 3;
    while (nfd < AOS_FS_MAX_FDS && fs->fds[nfd].used)
        nfd++;
    if (nfd == AOS_FS_MAX_FDS)
        return -EMFILE;
    if (fd < 3)
        return -EINVAL;               /* stdio duplicates are not tracked */
    char *copy = strdup(f->path);
    if (!copy)
        return -ENOMEM;
    fs->fds[nfd] = *f;
    fs->fds[nfd].path = copy;
    fs->dirty = 1;
    return nfd;
}

static void fill_stat(const aos_fs *fs, const char *p, long i, aos_stat *st)
{
    memset(st, 0, sizeof *st);
    if (i >= 0) {
        st->is_dir = fs->ents[i].is_dir;
        st->size = fs->ents[i].is_dir ? 0 : fs->ents[i].data.len;
        st->ino = (uint64_t)i + 3;
    } else {
        st->is_dir = 1;
        st->ino = strcmp(p, "/") == 0 ? 1 : 2;
    }
}

int aos_fs_fstat(const aos_fs *fs, int fd, aos_stat *st)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f)
        return -EBADF;
    if (fd < 3) {
        memset(st, 0, sizeof *st);
        return 0;
    }
    return aos_fs_stat(fs, f->path, st);
}

int aos_fs_stat(const aos_fs *fs, const char *path, aos_stat *st)
{
    char p[PATH_MAX_LEN];
    int rc = norm(path, p);
    if (rc)
        return rc;
    long i = find_ent(fs, p);
    if (i < 0 && !is_builtin_dir(p))
        return -ENOENT;
    fill_stat(fs, p, i, st);
    return 0;
}

int aos_fs_unlink(aos_fs *fs, const char *path)
{
    char p[PATH_MAX_LEN];
    int rc = norm(path, p);
    if (rc)
        return rc;
    if (is_builtin_dir(p))
        return -EISDIR;
    long i = find_ent(fs, p);
    if (i < 0)
        return -ENOENT;
    if (fs->ents[i].is_dir)
        return -EISDIR;
    remove_ent(fs, (size_t)i);
    return 0;
}

int aos_fs_mkdir(aos_fs *fs, const char *path)
{
    char p[PATH_MAX_LEN];
    int rc = norm(path, p);
    if (rc)
        return rc;
    if (is_builtin_dir(p))
        return -EEXIST;
    long i = find_ent(fs, p);
    if (i >= 0)
        return -EEXIST;
    if ((rc = parent_ok(fs, p)) != 1)
        return rc;
    return insert_ent(fs, -i - 1, p, 1);
}

/* 1 when some entry lies below directory p */
static int has_children(const aos_fs *fs, const char *p)
{
    size_t n = strlen(p);
    long i = find_ent(fs, p);
    size_t at = i >= 0 ? (size_t)i + 1 : (size_t)(-i - 1);
    return at < fs->nents && strncmp(fs->ents[at].path, p, n) == 0 &&
           fs->ents[at].path[n] == '/';
}

int aos_fs_rmdir(aos_fs *fs, const char *path)
{
    char p[PATH_MAX_LEN];
    int rc = norm(path, p);
    if (rc)
        return rc;
    if (is_builtin_dir(p))
        return -EBUSY;
    long i = find_ent(fs, p);
    if (i < 0)
        return -ENOENT;
    if (!fs->ents[i].is_dir)
        return -ENOTDIR;
    if (has_children(fs, p))
        return -ENOTEMPTY;
    remove_ent(fs, (size_t)i);
    return 0;
}

int aos_fs_rename(aos_fs *fs, const char *from, const char *to)
{
    char a[PATH_MAX_LEN], b[PATH_MAX_LEN];
    int rc = norm(from, a);
    if (!rc)
        rc = norm(to, b);
    if (rc)
        return rc;
    long i = find_ent(fs, a);
    if (i < 0)
        return is_builtin_dir(a) ? -EBUSY : -ENOENT;
    if (fs->ents[i].is_dir)
        return -EINVAL;                /* renaming directories is not supported */
    if (strcmp(a, b) == 0)
        return 0;
    if (dir_exists(fs, b))
        return -EISDIR;
    if ((rc = parent_ok(fs, b)) != 1)
        return rc;
    /* take the data out, remove the source, (re)create the target */
    aox_buf data = fs->ents[i].data;
    memset(&fs->ents[i].data, 0, sizeof data);
    remove_ent(fs, (size_t)i);
    long j = find_ent(fs, b);
    if (j >= 0) {
        fs->total_bytes -= fs->ents[j].data.len;
        aox_buf_free(&fs->ents[j].data);
    } else if ((rc = insert_ent(fs, -j - 1, b, 0))) {
        aox_buf_free(&data);
        return rc;
    } else {
        j = find_ent(fs, b);
    }
    fs->ents[j].data = data;
    fs->total_bytes += data.len;
    for (int k = 3; k < AOS_FS_MAX_FDS; k++) {
        if (fs->fds[k].used && strcmp(fs->fds[k].path, a) == 0) {
            char *copy = strdup(b);
            if (!copy)
                return -ENOMEM;
            free(fs->fds[k].path);
            fs->fds[k].path = copy;
        }
    }
    fs->dirty = 1;
    return 0;
}

int aos_fs_fd_flags(const aos_fs *fs, int fd)
{
    fs_fd *f = get_fd(fs, fd);
    return f ? f->flags : -EBADF;
}

int aos_fs_set_fd_flags(aos_fs *fs, int fd, int flags)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f)
        return -EBADF;
    f->flags = (f->flags & AOS_O_ACCMODE) | (flags & AOS_O_APPEND);
    fs->dirty = 1;
    return 0;
}

int aos_fs_readdir(const aos_fs *fs, int fd, uint64_t *cookie, char *name, size_t cap,
                   int *is_dir)
{
    fs_fd *f = get_fd(fs, fd);
    if (!f || fd < 3)
        return -EBADF;
    if (!dir_exists(fs, f->path))
        return -ENOTDIR;
    const char *p = f->path;
    size_t n = strcmp(p, "/") == 0 ? 0 : strlen(p);
    uint64_t k = 0;
    /* "/data" is listed under "/" even without an entry */
    if (n == 0 && find_ent(fs, "/data") < 0) {
        if (*cookie == 0) {
            snprintf(name, cap, "data");
            *is_dir = 1;
            (*cookie)++;
            return 1;
        }
        k = 1;
    }
    for (size_t i = 0; i < fs->nents; i++) {
        const char *e = fs->ents[i].path;
        if (strncmp(e, p, n) != 0 || e[n] != '/' || strchr(e + n + 1, '/'))
            continue;
        if (k++ == *cookie) {
            snprintf(name, cap, "%s", e + n + 1);
            *is_dir = fs->ents[i].is_dir;
            (*cookie)++;
            return 1;
        }
    }
    return 0;
}

const aox_buf *aos_fs_capture(const aos_fs *fs, int fd)
{
    return fd == 1 ? &fs->out : fd == 2 ? &fs->err : NULL;
}

void aos_fs_reset_capture(aos_fs *fs)
{
    aox_buf_reset(&fs->out);
    aox_buf_reset(&fs->err);
}

void aos_fs_set_capture_cap(aos_fs *fs, size_t cap)
{
    fs->capture_cap = cap;
}
