// bench/wasm/node_wasi.mjs FILE.wasm [ARGS...]: run a wasm32-wasi command module under
// Node's WASI (used by run.sh as the V8 reference; run.sh picks the V8 tiers by flags).
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
import { argv } from 'node:process';

const wasi = new WASI({ version: 'preview1', args: argv.slice(2), env: {}, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
