// End-to-end: the real @permaweb/aoconnect client (legacy mode), used exactly as a
// user would, against a running `aox serve` whose URL is MU_URL, CU_URL and
// GATEWAY_URL at once. Spec of every request: docs/parts/legacy-routes.md.
//
//   e2e.mjs AOX_BINARY WORK_DIR SRC_DIR
// (AOX_BINARY may be mock_node.mjs, the spec's reference mock: CTest aoconnect_e2e_mock.)
//
// Exit 77 (SKIP) with "legacy routes not built" while GET /~meta@1.0/info does not
// list the `legacy-routes` feature; also when clang-14/wasm-ld (for the test module)
// is missing. Any other problem is a failure.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn as spawnChild, execFileSync } from 'node:child_process';
import * as arbundles from '@dha-team/arbundles';
import { connect, createDataItemSigner } from '@permaweb/aoconnect';

const { createData, ArweaveSigner } = arbundles;
const [aoxBin, work, srcDir] = process.argv.slice(2);
if (!aoxBin || !work || !srcDir) { console.error('usage: e2e.mjs AOX_BINARY WORK_DIR SRC_DIR'); process.exit(2); }
const SKIP = 77;
let failures = 0;
const check = (cond, what, extra) => {
  if (!cond) { failures++; console.error('FAIL:', what, extra === undefined ? '' : JSON.stringify(extra)); }
  return cond;
};

// ------------------------------------------------------------------ node process
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const freePort = () => new Promise((res, rej) => {
  const s = net.createServer();
  s.once('error', rej);
  s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
});
let child = null, url = null;
const logPath = path.join(work, 'aox.log');
async function startNode() {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const log = fs.openSync(logPath, 'a');
    const argv = ['serve', '--data', path.join(work, 'data'), '--port', String(port), '--log-level', 'warn'];
    // a .mjs "binary" is the reference mock (mock_node.mjs), run with this node
    child = aoxBin.endsWith('.mjs') ? spawnChild(process.execPath, [aoxBin, ...argv], { stdio: ['ignore', log, log] })
      : spawnChild(aoxBin, argv, { stdio: ['ignore', log, log] });
    let exited = false;
    child.once('exit', () => { exited = true; });
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && !exited) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (r.status === 200) { url = `http://127.0.0.1:${port}`; return; }
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!exited) child.kill('SIGKILL');
  }
  throw new Error(`aox did not start; see ${logPath}`);
}
function stopNode() {
  return new Promise((res) => {
    if (!child || child.exitCode !== null) return res();
    const t = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.once('exit', () => { clearTimeout(t); res(); });
    child.kill('SIGTERM');
  });
}
async function finish(code, msg) {
  await stopNode();
  if (msg) console.log(msg);
  process.exit(code);
}
process.on('unhandledRejection', async (e) => { console.error('FAIL: unhandled', e); await finish(1); });

// ------------------------------------------------------------------ test module
const wasmPath = path.join(work, 'counter.wasm');
try {
  execFileSync('clang-14', ['--target=wasm32', '-nostdlib', '-O2', '-fuse-ld=lld', '-Wl,--no-entry',
    '-Wl,--export=handle', '-Wl,--export=malloc', '-Wl,--export=free', '-o', wasmPath,
    path.join(srcDir, 'counter_module.c')], { stdio: ['ignore', 'inherit', 'inherit'] });
} catch (e) {
  await finish(SKIP, `SKIP: cannot build the test module with clang-14/wasm-ld (${e.message})`);
}

// A wallet generated offline: RSA-4096, e = 65537, as an Arweave JWK.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 65537 });
const jwk = privateKey.export({ format: 'jwk' });
const address = crypto.createHash('sha256').update(Buffer.from(jwk.n, 'base64url')).digest('base64url');
const signer = createDataItemSigner(jwk);

// Start the node only now: no idle keep-alive connection waits through the builds above.
await startNode();

// ------------------------------------------------------------------ feature probe
const info = await (await fetch(`${url}/~meta@1.0/info`)).json().catch(() => ({}));
const features = Array.isArray(info.features) ? info.features
  : (info.features && typeof info.features === 'object') ? Object.keys(info.features).filter((k) => info.features[k]) : [];
if (!features.includes('legacy-routes')) {
  await finish(SKIP, 'SKIP: legacy routes not built (GET /~meta@1.0/info lists no "legacy-routes" feature)');
}

// Publish the module the way a module author uploads one: a signed `Type: Module`
// data item whose data is the wasm (docs/parts/legacy-routes.md, POST /).
const abSigner = new ArweaveSigner(jwk);
const moduleItem = createData(fs.readFileSync(wasmPath), abSigner, { tags: [
  { name: 'Data-Protocol', value: 'ao' }, { name: 'Variant', value: 'ao.TN.1' },
  { name: 'Type', value: 'Module' }, { name: 'Module-Format', value: 'wasm32-unknown-emscripten4' },
  { name: 'Input-Encoding', value: 'JSON-1' }, { name: 'Output-Encoding', value: 'JSON-1' },
  { name: 'Memory-Limit', value: '16-mb' }, { name: 'Compute-Limit', value: '9000000000000' },
  { name: 'Content-Type', value: 'application/wasm' }] });
await moduleItem.sign(abSigner);
const moduleId = moduleItem.id;
{
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream', Accept: 'application/json' },
    body: moduleItem.getRaw() });
  const body = await r.json().catch(() => null);
  check(r.ok && body && body.id === moduleId, 'POST / stores a Type: Module item and answers its id', { status: r.status, body });
}

// The gateway query aoconnect's spawn makes, asked directly.
{
  const r = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ query: 'query GetTransactions ($transactionIds: [ID!]!) { transactions(ids: $transactionIds) { edges { node { owner { address } tags { name value } block { id height timestamp } } } } }',
      variables: { transactionIds: [moduleId] } }) });
  const body = await r.json().catch(() => null);
  const node = body?.data?.transactions?.edges?.[0]?.node;
  check(r.ok && node && node.owner?.address === address, 'graphql answers the module owner', body);
  check(node && node.tags?.find((t) => t.name === 'Module-Format')?.value === 'wasm32-unknown-emscripten4',
    'graphql answers the module tags in order', node?.tags);
  const none = await (await fetch(`${url}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ query: 'query ($ids: [ID!]!) { transactions(ids: $ids) { edges { node { tags { name value } } } } }',
      variables: { ids: ['0'.repeat(43)] } }) })).json().catch(() => null);
  check(Array.isArray(none?.data?.transactions?.edges) && none.data.transactions.edges.length === 0,
    'graphql: unknown ID gives no edges', none);
}

// ------------------------------------------------------------------ aoconnect, as a user
const ao = connect({ MODE: 'legacy', MU_URL: url, CU_URL: url, GATEWAY_URL: url });
const scheduler = typeof info.address === 'string' && info.address.length === 43 ? info.address : address;
const step = async (what, f) => {
  try { return await f(); } catch (e) { check(false, `${what} threw: ${e.stack || e}`); return undefined; }
};

const pid = await step('spawn', () => ao.spawn({ module: moduleId, scheduler, signer, tags: [{ name: 'Name', value: 'aox-e2e' }] }));
check(typeof pid === 'string' && pid.length === 43, 'spawn returns a process id', pid);
if (!pid) await finish(1, `${failures} check(s) failed`);

const send = (action, data) => step(`message ${action}`, () =>
  ao.message({ process: pid, signer, tags: [{ name: 'Action', value: action }], ...(data !== undefined ? { data } : {}) }));
const resultOf = (message, process = pid) => step('result', () => ao.result({ process, message }));
const outData = (r) => (r && r.Output && typeof r.Output === 'object') ? r.Output.data : r?.Output;

// slot 0: the Process message itself was evaluated (once), as the legacy CU does
const r0 = await step('result of the spawn', () => ao.result({ process: pid, message: pid }));
check(outData(r0) === 'booted 1' && !r0?.Error, 'the Process message is evaluated at slot 0', r0);

const m1 = await send('Ping');
const r1 = await resultOf(m1);
check(outData(r1) === 'pong 1', 'result of the first Ping', r1);
check(r1 && !r1.Error, 'no error on Ping', r1);
check(Array.isArray(r1?.Messages) && r1.Messages.length === 1, 'Ping sends one message', r1?.Messages);
const out1 = r1?.Messages?.[0];
check(out1?.Target === address, 'the reply goes to the sender (From = wallet address)', out1);
check(out1?.Data === 'pong 1', 'reply data', out1);
check(Array.isArray(out1?.Tags) && out1.Tags.some((t) => t.name === 'Action' && t.value === 'Pong'), 'reply tags', out1?.Tags);
check(Array.isArray(r1?.Spawns) && Array.isArray(r1?.Assignments ?? []), 'Spawns/Assignments are arrays', r1);

const m2 = await send('Ping');
check(outData(await resultOf(m2)) === 'pong 2', 'second Ping');
const m3 = await send('Fail');
const r3 = await resultOf(m3);
check(r3 && r3.Error && JSON.stringify(r3.Error).includes('failed on purpose'), 'Fail gives the guest error as Error', r3);
const m4 = await send('Ping');
check(outData(await resultOf(m4)) === 'pong 3', 'the failed message left no state behind');
const echo = 'hello "aox" \u2713';
const m5 = await send('Echo', echo);
check(outData(await resultOf(m5)) === echo, 'message data reaches the process (UTF-8, quotes)');
// a result read twice is the same (cached)
check(JSON.stringify(await resultOf(m1)) === JSON.stringify(r1), 'result is stable when read again');

// dryrun: evaluated against the latest state, not scheduled, state unchanged
const d1 = await step('dryrun', () => ao.dryrun({ process: pid, tags: [{ name: 'Action', value: 'Count' }] }));
check(outData(d1) === 'count=3', 'dryrun reads the latest state', d1);
const d2 = await step('dryrun ping', () => ao.dryrun({ process: pid, tags: [{ name: 'Action', value: 'Ping' }], Owner: address }));
check(outData(d2) === 'pong 4', 'dryrun of a state-changing message', d2);
const m6 = await send('Ping');
check(outData(await resultOf(m6)) === 'pong 4', 'dryruns changed nothing');
const d3 = await step('dryrun boots', () => ao.dryrun({ process: pid, tags: [{ name: 'Action', value: 'Boots' }] }));
check(outData(d3) === 'booted=1', 'the boot ran once, its state is kept', d3);

// results: pages of evaluations, cursors
const all = await step('results', () => ao.results({ process: pid, sort: 'ASC', limit: 25 }));
const edges = all?.edges ?? [];
check(edges.length >= 6, 'results lists the evaluations', edges.length);
check(edges.every((e) => typeof e.cursor === 'string' && e.cursor.length > 0 && e.node && typeof e.node === 'object'),
  'every edge has a cursor and a node', edges[0]);
const pongs = edges.map((e) => outData(e.node)).filter((d) => typeof d === 'string' && d.startsWith('pong'));
check(JSON.stringify(pongs) === JSON.stringify(['pong 1', 'pong 2', 'pong 3', 'pong 4']), 'results in slot order', pongs);
const desc = await step('results DESC', () => ao.results({ process: pid, sort: 'DESC', limit: 2 }));
check(desc?.edges?.length === 2 && outData(desc.edges[0].node) === 'pong 4', 'DESC, limit 2: newest first', desc);
if (edges.length >= 3) {
  const page = await step('results from', () => ao.results({ process: pid, from: edges[1].cursor, sort: 'ASC', limit: 1 }));
  check(page?.edges?.length === 1 && page.edges[0].cursor === edges[2].cursor, '`from` is exclusive', page);
  const upto = await step('results to', () => ao.results({ process: pid, to: edges[1].cursor, sort: 'ASC' }));
  check(upto?.edges?.length === 2 && upto.edges[1].cursor === edges[1].cursor, '`to` is inclusive', upto);
}

// dryrun fidelity: the guest sees the body's Id, and the latest assignment's time
const mw = await send('Whoami');
const rw = outData(await resultOf(mw));
const tsw = typeof rw === 'string' ? rw.split(' ts=')[1] : undefined;
check(rw === `id=${mw} ts=${tsw}` && /^[0-9]+$/.test(tsw ?? ''), 'a message sees its own Id and Timestamp', rw);
await new Promise((r) => setTimeout(r, 20));        // the node clock moves on
const dw = await step('dryrun whoami', () => ao.dryrun({ process: pid, Id: 'dry-run-id-7', tags: [{ name: 'Action', value: 'Whoami' }] }));
check(outData(dw) === `id=dry-run-id-7 ts=${tsw}`, 'dryrun: the body Id and the latest assignment timestamp', dw);
const dd = await step('dryrun whoami default', () => ao.dryrun({ process: pid, tags: [{ name: 'Action', value: 'Whoami' }] }));
check(outData(dd) === `id=1234 ts=${tsw}`, "dryrun: aoconnect's default Id", dd);

// assign: the Ping m1 (already on the ledger) assigned to a second process
const pid2 = await step('spawn 2', () => ao.spawn({ module: moduleId, scheduler, signer, tags: [{ name: 'Name', value: 'aox-e2e-2' }] }));
if (check(typeof pid2 === 'string' && pid2 !== pid, 'second spawn', pid2)) {
  const a = await step('assign', () => ao.assign({ process: pid2, message: m1 }));
  check(typeof a === 'string' && a.length > 0, 'assign returns an assignment id', a);
  check(outData(await resultOf(m1, pid2)) === 'pong 1', 'the assigned message ran in the second process');
}

// ------------------------------------------------------------------ raw HTTP edges
{
  // a tampered item is refused with a JSON error and changes nothing
  const item = createData('x', abSigner, { target: pid, tags: [{ name: 'Type', value: 'Message' }, { name: 'Action', value: 'Ping' }] });
  await item.sign(abSigner);
  const bad = Buffer.from(item.getRaw()); bad[bad.length - 1] ^= 1;
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: bad });
  const body = await r.json().catch(() => null);
  check(r.status === 400 && body?.error, 'POST / refuses a bad signature with a 400 JSON error', { status: r.status, body });
  const garbage = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.from('nope') });
  check(garbage.status === 400 && (await garbage.json().catch(() => null))?.error, 'POST / refuses garbage with a JSON error');
  // unknown message: JSON, never HTML, whatever the status
  const u = await fetch(`${url}/result/${'A'.repeat(43)}?process-id=${pid}`);
  const ub = await u.json().catch(() => null);
  check(u.status === 404 && ub?.error, 'result of an unknown message is a JSON error', { status: u.status, ub });
  const m7 = await send('Count');
  check(outData(await resultOf(m7)) === 'count=4', 'the refused item was not scheduled');
  // memory state
  const st = await fetch(`${url}/state/${pid}`);
  const mem = Buffer.from(await st.arrayBuffer());
  check(st.status === 200 && mem.length > 0 && mem.length % 65536 === 0, 'GET /state/<pid> streams the memory', { status: st.status, len: mem.length });
}

if (failures) await finish(1, `${failures} check(s) failed; node log: ${logPath}`);
await finish(0, `ok: module ${moduleId}, process ${pid}, ${edges.length} results`);
