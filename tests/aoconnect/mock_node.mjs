// A reference implementation of docs/parts/legacy-routes.md in JavaScript, small
// and in-memory, for one purpose: to keep tests/aoconnect/e2e.mjs honest (CTest
// `aoconnect_e2e_mock` runs the e2e script against it, so a failure of
// `aoconnect_e2e` against aox points at aox, not at the test). It is not aox: it
// runs the module with Node's WebAssembly and keeps everything in memory.
//
//   node mock_node.mjs serve --data DIR --port N [--log-level L]   (aox's arguments)
import http from 'node:http';
import crypto from 'node:crypto';
import * as arbundles from '@dha-team/arbundles';

const { DataItem } = arbundles;
const args = process.argv.slice(2);
const port = Number(args[args.indexOf('--port') + 1]);
const items = new Map();      // id -> { raw, item }
const procs = new Map();      // pid -> { def, slots: [{msgId, ts, body}], results: [], inst, mem }
const addr = (ownerB64) => crypto.createHash('sha256').update(Buffer.from(ownerB64, 'base64url')).digest('base64url');
let clock = 1700000000000;

const json = (res, status, o) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(o)); };
const err = (res, status, code, message) => json(res, status, { error: { code, message } });
const tag = (tags, n) => tags.find((t) => t.name.toLowerCase() === n.toLowerCase())?.value;

async function instantiate(moduleId) {
  const { item } = items.get(moduleId);
  const { instance } = await WebAssembly.instantiate(Buffer.from(item.rawData), {});
  return instance.exports;
}
function call(e, msg, env) {
  const enc = new TextEncoder();
  const put = (s) => { const b = enc.encode(s + '\0'); const p = e.malloc(b.length); new Uint8Array(e.memory.buffer, p, b.length).set(b); return p; };
  const r = e.handle(put(JSON.stringify(msg)), put(JSON.stringify(env)));
  const m = new Uint8Array(e.memory.buffer); let end = r; while (m[end]) end++;
  return JSON.parse(new TextDecoder().decode(m.subarray(r, end)));
}
// One evaluation with rollback on Error (or always, for a dry-run).
function evaluate(p, msg, keep) {
  const before = Buffer.from(new Uint8Array(p.inst.memory.buffer));
  const out = call(p.inst, msg, { Process: { Id: p.def.id, Owner: addr(p.def.owner), Tags: p.def.tags } });
  const resp = out.ok ? out.response : { Error: out.response };
  const failed = !out.ok || (resp.Error !== undefined && resp.Error !== '');
  if (failed || !keep) new Uint8Array(p.inst.memory.buffer).set(before);
  const r = { Output: resp.Output ?? '', Messages: resp.Messages ?? [], Spawns: resp.Spawns ?? [], Assignments: resp.Assignments ?? [], GasUsed: 0 };
  if (failed) r.Error = resp.Error ?? out.response;
  return r;
}
const asMsg = (item, ts) => ({ Id: item.id, Owner: addr(item.owner), From: addr(item.owner), Target: item.target,
  Anchor: item.rawAnchor.length ? item.rawAnchor.toString() : undefined, Tags: item.tags,
  Data: Buffer.from(item.rawData).toString(), Timestamp: ts, 'Block-Height': 0 });
function computeTo(p, slot) {
  while (p.results.length <= slot && p.results.length < p.slots.length) {
    const s = p.slots[p.results.length];
    p.results.push(evaluate(p, asMsg(items.get(s.msgId).item, s.ts), true));
  }
}
function schedule(p, msgId) {
  const i = p.slots.findIndex((s) => s.msgId === msgId);
  if (i >= 0) return i;
  p.slots.push({ msgId, ts: clock++ });
  return p.slots.length - 1;
}

const server = http.createServer(async (req, res) => {
  const chunks = []; for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  const u = new URL(req.url, 'http://x');
  const seg = u.pathname.split('/').filter(Boolean);
  try {
    if (req.method === 'GET' && u.pathname === '/healthz') return json(res, 200, { ok: true });
    if (req.method === 'GET' && u.pathname === '/~meta@1.0/info') return json(res, 200, { features: ['legacy-routes'] });
    if (req.method === 'POST' && u.pathname === '/' && u.searchParams.has('assign')) {
      const pid = u.searchParams.get('process-id'), mid = u.searchParams.get('assign');
      if (u.searchParams.has('base-layer')) return err(res, 400, 'unsupported', 'base-layer');
      const p = procs.get(pid);
      if (!p || !items.has(mid)) return err(res, 404, 'not_found', 'unknown process or message');
      const slot = schedule(p, mid);
      return json(res, 200, { id: crypto.createHash('sha256').update(`${pid}/${slot}`).digest('base64url'), process: pid, slot, message: mid });
    }
    if (req.method === 'POST' && u.pathname === '/') {
      let item;
      try { item = new DataItem(body); if (!(await DataItem.verify(body))) throw new Error('signature does not verify'); } catch (e) {
        return err(res, 400, 'invalid', `ans104: ${e.message}`);
      }
      items.set(item.id, { raw: body, item });
      const type = tag(item.tags, 'Type');
      if (type === 'Module') return json(res, 200, { id: item.id });
      if (type === 'Process') {
        const mod = tag(item.tags, 'Module');
        if (!items.has(mod)) return err(res, 404, 'not_found', `module ${mod} not found`);
        if (!procs.has(item.id)) {
          const inst = await instantiate(mod);
          procs.set(item.id, { def: item, slots: [{ msgId: item.id, ts: clock++ }], results: [], inst });
        }
        return json(res, 200, { id: item.id, process: item.id, slot: 0, timestamp: procs.get(item.id).slots[0].ts });
      }
      const p = procs.get(item.target);
      if (!p) return err(res, 404, 'not_found', `unknown process ${item.target}`);
      const slot = schedule(p, item.id);
      return json(res, 200, { id: item.id, process: item.target, slot, timestamp: p.slots[slot].ts });
    }
    if (req.method === 'POST' && u.pathname === '/graphql') {
      const q = JSON.parse(body.toString());
      const ids = Object.values(q.variables || {}).find((v) => Array.isArray(v)) || [];
      const edges = ids.filter((id) => items.has(id)).map((id) => {
        const { item } = items.get(id);
        return { cursor: id, node: { id, owner: { address: addr(item.owner), key: item.owner }, tags: item.tags, block: null,
          data: { size: String(item.rawData.length), type: tag(item.tags, 'Content-Type') ?? null } } };
      });
      return json(res, 200, { data: { transactions: { pageInfo: { hasNextPage: false }, edges } } });
    }
    if (req.method === 'GET' && seg[0] === 'result' && seg.length === 2) {
      const p = procs.get(u.searchParams.get('process-id'));
      const slot = p ? p.slots.findIndex((s) => s.msgId === seg[1]) : -1;
      if (slot < 0) return err(res, 404, 'not_found', 'unknown process or message');
      computeTo(p, slot);
      return json(res, 200, p.results[slot]);
    }
    if (req.method === 'GET' && seg[0] === 'results' && seg.length === 2) {
      const p = procs.get(seg[1]);
      if (!p) return err(res, 404, 'not_found', 'unknown process');
      const to = u.searchParams.has('to') ? Number(u.searchParams.get('to')) : p.slots.length - 1;
      const from = u.searchParams.has('from') ? Number(u.searchParams.get('from')) : -1;
      computeTo(p, to);
      let edges = p.results.map((node, slot) => ({ cursor: String(slot), node })).filter((e) => Number(e.cursor) > from && Number(e.cursor) <= to);
      if (u.searchParams.get('sort') === 'DESC') edges.reverse();
      edges = edges.slice(0, Math.min(Number(u.searchParams.get('limit') || 25), 1000));
      return json(res, 200, { edges });
    }
    if (req.method === 'POST' && u.pathname === '/dry-run') {
      const p = procs.get(u.searchParams.get('process-id'));
      if (!p) return err(res, 404, 'not_found', 'unknown process');
      computeTo(p, p.slots.length - 1);
      const m = JSON.parse(body.toString());
      return json(res, 200, evaluate(p, { ...m, From: m.From ?? m.Owner, Timestamp: p.slots.at(-1).ts, 'Block-Height': 0 }, false));
    }
    if (req.method === 'GET' && seg[0] === 'state' && seg.length === 2) {
      const p = procs.get(seg[1]);
      if (!p) return err(res, 404, 'not_found', 'unknown process');
      computeTo(p, p.slots.length - 1);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(Buffer.from(new Uint8Array(p.inst.memory.buffer)));
    }
    return err(res, 404, 'not_found', `no route ${req.method} ${u.pathname}`);
  } catch (e) {
    return err(res, 500, 'internal', String(e.stack || e));
  }
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
