/*
 * lua/lua_device.h: the `lua@5.3` execution device (see lua_device.c for the
 * definition keys, limits, result entries and snapshot layout).
 *
 * Call aox_lua_device_register() once at start-up (after or alongside
 * aox_device_register_builtin()); registering it again is a no-op.
 */
#ifndef AOX_LUA_DEVICE_H
#define AOX_LUA_DEVICE_H

#include "device/device.h"

extern const aox_device_ops aox_lua_device;
int aox_lua_device_register(void);

#endif
