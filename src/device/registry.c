/*
 * device/registry.c: the process-wide table of execution devices, name -> ops.
 * Registration happens at start-up; lookups are rare (once per process loaded), so
 * one mutex guards the table. The table is kept sorted by name.
 */
#include <pthread.h>
#include <string.h>

#include "device/device.h"
#include "device/device_int.h"

#define REGISTRY_MAX 64

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const aox_device_ops *reg[REGISTRY_MAX];
static size_t nreg;

int aox_device_register(const aox_device_ops *ops)
{
    int rc = AOX_OK;
    size_t i;

    if (!ops || !ops->name || !ops->name[0] || !ops->init || !ops->compute ||
        !ops->snapshot || !ops->restore || !ops->free)
        return AOX_E_INVALID;
    pthread_mutex_lock(&reg_mu);
    for (i = 0; i < nreg; i++) {
        int c = strcmp(reg[i]->name, ops->name);
        if (c == 0) {
            /* Registering the very same table again is a no-op (idempotent start-up). */
            rc = reg[i] == ops ? AOX_OK : AOX_E_CONFLICT;
            goto done;
        }
        if (c > 0)
            break;
    }
    if (nreg == REGISTRY_MAX) {
        rc = AOX_E_CONFIG;
        goto done;
    }
    memmove(&reg[i + 1], &reg[i], (nreg - i) * sizeof reg[0]);
    reg[i] = ops;
    nreg++;
done:
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

int aox_device_replace(const aox_device_ops *ops)
{
    int rc = AOX_E_NOT_FOUND;
    if (!ops || !ops->name) return AOX_E_INVALID;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < nreg; i++)
        if (strcmp(reg[i]->name, ops->name) == 0) {
            reg[i] = ops;
            rc = AOX_OK;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

const aox_device_ops *aox_device_find(const char *name)
{
    const aox_device_ops *found = NULL;
    if (!name)
        return NULL;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < nreg; i++)
        if (strcmp(reg[i]->name, name) == 0) {
            found = reg[i];
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    return found;
}

size_t aox_device_list(const char **names, size_t max)
{
    size_t n;
    pthread_mutex_lock(&reg_mu);
    n = nreg;
    for (size_t i = 0; i < nreg && i < max; i++)
        names[i] = reg[i]->name;
    pthread_mutex_unlock(&reg_mu);
    return n;
}

int aox_device_register_builtin(void)
{
    int rc = aox_device_register(&aox_stack_device);
    if (rc == AOX_OK)
        rc = aox_device_register(&aox_test_counter_device);
    return rc;
}

const char *aox_device_name_of(const aox_msg *def)
{
    const char *s = aox_msg_get_str(def, "execution-device", NULL);
    if (!s)
        s = aox_msg_get_str(def, "device", NULL);
    return s;
}

int aox_device_check(const aox_msg *def, aox_err *err)
{
    const char *name = aox_device_name_of(def);
    const aox_device_ops *ops;

    if (!name)
        return aox_err_set(err, AOX_E_INVALID,
                           "process definition names no execution-device");
    ops = aox_device_find(name);
    if (!ops)
        return aox_err_set(err, AOX_E_INVALID, "device '%s' is not registered", name);
    if (ops == &aox_stack_device)
        return aox_stack_check(def, err);
    return AOX_OK;
}
