/*
 * node/names.c: node processes — configured `[processes.NAME]` definitions spawned
 * on first use, `name/<NAME>` records written by compare-and-set, the operator token
 * for run-time registration. Contract: node/names.h.
 */
#include "node/names.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/id.h"
#include "core/identity.h"
#include "core/json.h"
#include "core/log.h"
#include "device/device.h"
#include "process/process.h"
#include "store/store.h"

#define NAME_MAX_LEN 64
#define TOKEN_LEN    43

typedef struct conf_proc {
    char     name[NAME_MAX_LEN + 1];
    aox_msg *def;
} conf_proc;

struct aox_names {
    aox_procs          *procs;
    aox_store          *store;
    const aox_identity *identity;
    int                 log_spawns;
    int               (*claim)(void *ud, const char *pid, aox_err *err);
    void               *claim_ud;
    pthread_mutex_t     mu;          /* serialises first uses and registrations */
    conf_proc          *conf;
    size_t              nconf;
    char                token[TOKEN_LEN + 1];   /* "" = registration refused */
    char               *delegate;               /* ",NAME,NAME," or NULL */
    unsigned long       spawns;
};

int aox_names_valid(const char *name)
{
    size_t i, n = name ? strlen(name) : 0;
    if (n < 1 || n > NAME_MAX_LEN) return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-')) return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- config file */

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t') s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) *--e = '\0';
    return s;
}

/* Sets key = text in def: JSON when it parses as a JSON value, else a string. */
static int conf_set(aox_msg *def, const char *key, const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    aox_msg *wrap = NULL;
    json_t *o;
    int rc;

    if (!j || json_is_null(j)) {
        json_decref(j);
        return aox_msg_set_str(def, key, text);
    }
    o = json_object();
    if (!o) { json_decref(j); return AOX_E_NOMEM; }
    json_object_set_new(o, "v", j);
    rc = aox_msg_from_json(o, &wrap, NULL);
    json_decref(o);
    if (rc) return rc;
    rc = aox_msg_set_value(def, key, aox_msg_get(wrap, "v"));
    aox_msg_free(wrap);
    return rc;
}

static int conf_load(aox_names *n, const char *path, aox_err *err)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    unsigned lineno = 0;
    conf_proc *cur = NULL;
    int rc = AOX_OK;

    if (!f) return aox_err_set(err, AOX_E_CONFIG, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *s = trim(line), *eq, *k, *v;
        lineno++;
        if (!*s || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            cur = NULL;
            if (e && strncmp(s, "[processes.", 11) == 0) {
                conf_proc *nc;
                *e = '\0';
                if (!aox_names_valid(s + 11)) {
                    rc = aox_err_set(err, AOX_E_CONFIG, "%s:%u: bad process name '%s'", path,
                                     lineno, s + 11);
                    goto done;
                }
                nc = realloc(n->conf, (n->nconf + 1) * sizeof *nc);
                if (!nc) { rc = aox_err_set(err, AOX_E_NOMEM, "out of memory"); goto done; }
                n->conf = nc;
                cur = &n->conf[n->nconf];
                snprintf(cur->name, sizeof cur->name, "%s", s + 11);
                cur->def = aox_msg_new();
                if (!cur->def) { rc = aox_err_set(err, AOX_E_NOMEM, "out of memory"); goto done; }
                n->nconf++;
            }
            continue;
        }
        if (!cur) continue;                 /* top level and other sections: options.c */
        eq = strchr(s, '=');
        if (!eq) {
            rc = aox_err_set(err, AOX_E_CONFIG, "%s:%u: expected key = value", path, lineno);
            goto done;
        }
        *eq = '\0';
        k = trim(s);
        v = trim(eq + 1);
        if (strcmp(k, "definition") == 0) {
            aox_msg *d = NULL;
            aox_err je;
            if (aox_msg_from_json_text(v, strlen(v), &d, &je)) {
                rc = aox_err_set(err, AOX_E_CONFIG, "%s:%u: definition: %s", path, lineno,
                                 je.msg);
                goto done;
            }
            aox_msg_free(cur->def);
            cur->def = d;
        } else if ((rc = conf_set(cur->def, k, v))) {
            rc = aox_err_set(err, AOX_E_CONFIG, "%s:%u: bad entry '%s'", path, lineno, k);
            goto done;
        }
    }
done:
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------------- operator token */

static int token_load(aox_names *n, const char *dir, aox_err *err)
{
    char path[4096];
    struct stat st;
    int fd, rc = AOX_OK;
    ssize_t r;

    snprintf(path, sizeof path, "%s/%s", dir, AOX_NAMES_TOKEN_FILE);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        uint8_t raw[32];
        char tmp[4200];
        if (RAND_bytes(raw, sizeof raw) != 1)
            return aox_err_set(err, AOX_E_INTERNAL, "no randomness for the operator token");
        aox_b64url_encode(raw, sizeof raw, n->token);
        OPENSSL_cleanse(raw, sizeof raw);
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return aox_err_set(err, AOX_E_IO, "%s: %s", tmp, strerror(errno));
        if (write(fd, n->token, TOKEN_LEN) != TOKEN_LEN || fsync(fd)) {
            close(fd);
            unlink(tmp);
            return aox_err_set(err, AOX_E_IO, "%s: write failed", tmp);
        }
        close(fd);
        /* link, not rename: a token written meanwhile by another node wins */
        if (link(tmp, path) && errno != EEXIST) {
            unlink(tmp);
            return aox_err_set(err, AOX_E_IO, "%s: %s", path, strerror(errno));
        }
        unlink(tmp);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) return aox_err_set(err, AOX_E_IO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) || (st.st_mode & 077)) {
        rc = aox_err_set(err, AOX_E_CONFIG, "%s: must not be accessible to group/others", path);
        goto done;
    }
    r = read(fd, n->token, TOKEN_LEN);
    if (r != TOKEN_LEN) { rc = aox_err_set(err, AOX_E_CORRUPT, "%s: bad token", path); goto done; }
    n->token[TOKEN_LEN] = '\0';
done:
    close(fd);
    if (rc) n->token[0] = '\0';
    return rc;
}

/* ---------------------------------------------------------------- table */

int aox_names_open(const aox_names_opts *o, aox_names **out, aox_err *err)
{
    aox_names *n = calloc(1, sizeof *n);
    int rc;

    if (!n) return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    n->procs = o->procs;
    n->store = aox_procs_store(o->procs);
    n->identity = o->identity;
    n->log_spawns = o->log_spawns;
    n->claim = o->claim;
    n->claim_ud = o->claim_ud;
    pthread_mutex_init(&n->mu, NULL);
    if (o->delegate && *o->delegate) {
        size_t l = strlen(o->delegate);
        n->delegate = malloc(l + 3);
        if (!n->delegate) { rc = aox_err_set(err, AOX_E_NOMEM, "out of memory"); goto fail; }
        snprintf(n->delegate, l + 3, ",%s,", o->delegate);
    }
    if (o->config_path && *o->config_path && (rc = conf_load(n, o->config_path, err))) goto fail;
    if (o->token_dir && (rc = token_load(n, o->token_dir, err))) goto fail;
    *out = n;
    return AOX_OK;
fail:
    aox_names_close(n);
    return rc;
}

void aox_names_close(aox_names *n)
{
    size_t i;
    if (!n) return;
    for (i = 0; i < n->nconf; i++) aox_msg_free(n->conf[i].def);
    free(n->conf);
    OPENSSL_cleanse(n->token, sizeof n->token);
    free(n->delegate);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

unsigned long aox_names_spawns(const aox_names *n) { return n->spawns; }

static int record_get(aox_names *n, const char *name, aox_buf *val, char pid[AOX_ID_LEN + 1],
                      aox_err *err)
{
    char key[NAME_MAX_LEN + 8];
    json_t *j;
    const char *p;
    int rc;

    snprintf(key, sizeof key, "name/%s", name);
    aox_buf_reset(val);
    rc = aox_store_get(n->store, key, strlen(key), val);
    if (rc == AOX_E_NOT_FOUND) return rc;
    if (rc) return aox_err_set(err, rc, "name %s: store read failed", name);
    j = json_loadb((const char *)val->data, val->len, 0, NULL);
    p = j ? json_string_value(json_object_get(j, "process")) : NULL;
    if (!p || !aox_id_valid(p)) {
        json_decref(j);
        return aox_err_set(err, AOX_E_CORRUPT, "name %s: corrupt record", name);
    }
    memcpy(pid, p, AOX_ID_LEN + 1);
    json_decref(j);
    return AOX_OK;
}

/* Signs (when the node has an identity) and spawns def as NAME's process. */
static int spawn_named(aox_names *n, const char *name, const aox_msg *def,
                       char pid[AOX_ID_LEN + 1], aox_err *err)
{
    aox_msg *d = aox_msg_clone(def), *asg = NULL;
    int rc;

    if (!d || aox_msg_set_str(d, "node-process", name)) {
        aox_msg_free(d);
        return aox_err_set(err, AOX_E_NOMEM, "out of memory");
    }
    if (n->delegate) {                 /* --delegate: computed by peers */
        char pat[NAME_MAX_LEN + 3];
        const char *dev = aox_device_name_of(def);
        snprintf(pat, sizeof pat, ",%s,", name);
        if (strstr(n->delegate, pat) && dev && strcmp(dev, "delegated@1.0")) {
            char inner[128];
            snprintf(inner, sizeof inner, "%s", dev);
            aox_msg_remove(d, "device");
            if (aox_msg_set_str(d, "delegate-device", inner)
                || aox_msg_set_str(d, "execution-device", "delegated@1.0")) {
                aox_msg_free(d);
                return aox_err_set(err, AOX_E_NOMEM, "out of memory");
            }
        }
    }
    if (n->identity && (rc = aox_identity_sign_msg(n->identity, d))) {
        aox_msg_free(d);
        return aox_err_set(err, rc, "cannot sign the definition of %s", name);
    }
    if (n->claim) {
        rc = aox_msg_id(d, pid);
        if (rc == 0) rc = n->claim(n->claim_ud, pid, err);
        if (rc) {
            aox_msg_free(d);
            if (err->code == AOX_OK) aox_err_set(err, rc, "cannot claim %s", name);
            return rc;
        }
    }
    rc = aox_proc_spawn(n->procs, d, pid, &asg, err);
    aox_msg_free(d);
    aox_msg_free(asg);
    if (rc == 0) {
        n->spawns++;
        if (n->log_spawns)
            aox_log(AOX_LOG_INFO, "node-process-spawn", "\"name\":\"%s\",\"pid\":\"%s\"", name, pid);
    }
    return rc;
}

/* CAS name/<name> from expect (NULL = absent) to the record of pid. */
static int record_set(aox_names *n, const char *name, const char *pid, const char *source,
                      const aox_buf *expect, aox_err *err)
{
    char key[NAME_MAX_LEN + 8], val[256];
    int rc, vl;

    snprintf(key, sizeof key, "name/%s", name);
    vl = snprintf(val, sizeof val, "{\"name\":\"%s\",\"process\":\"%s\",\"source\":\"%s\"}",
                  name, pid, source);
    rc = aox_store_cas(n->store, key, strlen(key), expect ? expect->data : NULL,
                       expect ? expect->len : 0, val, (size_t)vl, NULL);
    if (rc && rc != AOX_E_CONFLICT) aox_err_set(err, rc, "name %s: store write failed", name);
    return rc;
}

int aox_names_resolve(aox_names *n, const char *name, char pid[AOX_ID_LEN + 1], aox_err *err)
{
    aox_buf val = {0};
    const conf_proc *c = NULL;
    size_t i;
    int rc;

    if (!aox_names_valid(name)) return aox_err_set(err, AOX_E_INVALID, "bad name '%.64s'", name);
    rc = record_get(n, name, &val, pid, err);
    if (rc != AOX_E_NOT_FOUND) goto done;
    for (i = 0; i < n->nconf; i++) if (strcmp(n->conf[i].name, name) == 0) c = &n->conf[i];
    if (!c) { rc = aox_err_set(err, AOX_E_NOT_FOUND, "no process named %s", name); goto done; }
    pthread_mutex_lock(&n->mu);
    rc = record_get(n, name, &val, pid, err);          /* a first use may have won */
    if (rc == AOX_E_NOT_FOUND) {
        char mine[AOX_ID_LEN + 1];
        rc = spawn_named(n, name, c->def, mine, err);
        if (rc == 0) rc = record_set(n, name, mine, "config", NULL, err);
        if (rc == AOX_E_CONFLICT)      /* another node on a shared store recorded it */
            rc = record_get(n, name, &val, pid, err);
        else if (rc == 0)
            memcpy(pid, mine, AOX_ID_LEN + 1);
    }
    pthread_mutex_unlock(&n->mu);
done:
    aox_buf_free(&val);
    return rc;
}

int aox_names_register(aox_names *n, const char *name, const aox_msg *def, const char *token,
                       char pid[AOX_ID_LEN + 1], aox_err *err)
{
    aox_buf val = {0};
    char old[AOX_ID_LEN + 1];
    int rc, have;

    if (!n->token[0])
        return aox_err_set(err, AOX_E_FORBIDDEN, "run-time names are disabled on this node");
    if (!token || strlen(token) != TOKEN_LEN || CRYPTO_memcmp(token, n->token, TOKEN_LEN))
        return aox_err_set(err, AOX_E_FORBIDDEN, "operator token missing or wrong");
    if (!aox_names_valid(name)) return aox_err_set(err, AOX_E_INVALID, "bad name '%.64s'", name);
    pthread_mutex_lock(&n->mu);
    rc = record_get(n, name, &val, old, err);
    have = rc == 0;
    if (rc && rc != AOX_E_NOT_FOUND) goto done;
    rc = spawn_named(n, name, def, pid, err);
    if (rc) goto done;
    rc = record_set(n, name, pid, "api", have ? &val : NULL, err);
    if (rc == AOX_E_CONFLICT)
        rc = aox_err_set(err, AOX_E_CONFLICT, "name %s changed concurrently; retry", name);
done:
    pthread_mutex_unlock(&n->mu);
    aox_buf_free(&val);
    return rc;
}
