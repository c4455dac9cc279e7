/* config.h: compile-time tunables of the WebAssembly engine. */
#ifndef AOX_WASM_CONFIG_H
#define AOX_WASM_CONFIG_H

/* Default 64-bit value-stack slots per execution context (8 bytes each).
 * Allocated lazily with malloc (the kernel commits pages on touch). */
#define WASM_CFG_STACK_SLOTS (1u << 20)

/* Host re-entry nesting limit (host function -> wasm_call_func -> guest -> host...).
 * Each nesting level uses a native C interpreter frame; this bounds native stack use. */
#define WASM_CFG_MAX_NATIVE_DEPTH 150u

/* Max locals per function and max operand-stack height we accept (validation). */
#define WASM_CFG_MAX_LOCALS 50000u
#define WASM_CFG_MAX_FUNC_SLOTS 200000u

/* Max table elements (any table); table.grow beyond returns -1. */
#define WASM_CFG_MAX_TABLE_ELEMS 10000000u

/* Fuel cost table (units charged at basic-block entry for each wasm instruction in
 * the block). Everything not listed costs WASM_COST_DEFAULT. */
#define WASM_COST_DEFAULT 1
#define WASM_COST_CALL 5          /* call, call_indirect, throw */
#define WASM_COST_MEMORY_GROW 100
#define WASM_COST_BULK 10         /* memory/table fill/copy/init (plus 1 per 64 bytes at run time) */
#define WASM_COST_DIVREM 2

/* Live exception objects per execution context before unreachable ones are
 * collected (then again each time the live set doubles). */
#define WASM_CFG_EXN_GC_AT 4096u

#endif
