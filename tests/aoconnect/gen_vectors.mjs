// Generates the ANS-104 test vectors in tests/ans104/vectors/ with the real JS
// libraries (an independent oracle for the C decoder in src/ans104/):
//   - ao_*.bin: items exactly as @permaweb/aoconnect signs and POSTs them (captured
//     by a local HTTP server standing in for the MU/gateway);
//   - ab_*.bin: items built with @dha-team/arbundles directly (edge cases).
// expected.json records, per file, what arbundles says: id, owner address, the
// deep-hash signature data, target, anchor, tags, data, and DataItem.verify().
//
// Run (re-generates everything with a fresh wallet, so IDs change):
//   tests/aoconnect/run.sh <work-dir> gen_vectors.mjs tests/ans104/vectors
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { connect, createDataItemSigner } from '@permaweb/aoconnect';
import * as arbundles from '@dha-team/arbundles';

const { createData, ArweaveSigner, DataItem } = arbundles;
const outDir = process.argv[2];
if (!outDir) { console.error('usage: gen_vectors.mjs OUT_DIR'); process.exit(2); }
fs.mkdirSync(outDir, { recursive: true });

// A throwaway wallet, generated offline: RSA-4096, e = 65537, as an Arweave JWK.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 65537 });
const jwk = privateKey.export({ format: 'jwk' });
fs.writeFileSync(path.join(outDir, 'wallet.json'), JSON.stringify(jwk) + '\n');

const items = [];   // [name, Buffer]

// 1. aoconnect, captured over HTTP.
const MODULE = 'ISShJH1ij-hPPt9St5UFFr_8Ys3Kj5cyg7zrMGt7H9s';
const captured = [];
const server = http.createServer(async (req, res) => {
  const chunks = []; for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  res.setHeader('content-type', 'application/json');
  if (req.url === '/graphql') {
    return res.end(JSON.stringify({ data: { transactions: { edges: [{ node: {
      owner: { address: 'x' }, block: null, tags: [
        { name: 'Data-Protocol', value: 'ao' }, { name: 'Type', value: 'Module' },
        { name: 'Module-Format', value: 'wasm32-unknown-emscripten' },
        { name: 'Input-Encoding', value: 'JSON-1' }, { name: 'Output-Encoding', value: 'JSON-1' }] } }] } } }));
  }
  if (req.method === 'POST' && req.url === '/') {
    captured.push(body);
    return res.end(JSON.stringify({ id: new DataItem(body).id, message: 'Processing DataItem' }));
  }
  res.statusCode = 404; res.end('{}');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}`;
const ao = connect({ MODE: 'legacy', MU_URL: url, CU_URL: url, GATEWAY_URL: url });
const signer = createDataItemSigner(jwk);
const pid = await ao.spawn({ module: MODULE, scheduler: '_GQ33BkPtZrqxA84vM8Zk-N2aO0toNNu_C-l-rawrBA', signer,
  tags: [{ name: 'Name', value: 'aox-vector' }, { name: 'Authority', value: 'fcoN_xJeisVsPXA-trzVAuIiqO3ydLQxM-L4XbrQKzY' }] });
await ao.message({ process: pid, signer, tags: [{ name: 'Action', value: 'Eval' }], data: 'return 1 + 1' });
await ao.message({ process: pid, signer, anchor: '00000000000000000000000000000007',
  tags: [{ name: 'Action', value: 'Ping' }, { name: 'Échelle', value: 'ünïcødé ✓' }] });
server.close();
items.push(['ao_spawn.bin', captured[0]], ['ao_message.bin', captured[1]], ['ao_message_anchor.bin', captured[2]]);

// 2. arbundles directly.
const ab = new ArweaveSigner(jwk);
async function abItem(data, opts) { const d = createData(data, ab, opts); await d.sign(ab); return d.getRaw(); }
items.push(['ab_notags.bin', await abItem('', {})]);
items.push(['ab_binary.bin', await abItem(Buffer.from([0, 1, 2, 255, 254, 0, 10]), {
  target: pid,
  tags: [{ name: 'Action', value: 'First' }, { name: 'action', value: 'second' }, { name: 'Data', value: 'not the data' },
    { name: 'Owner', value: 'not the owner' }, { name: 'X-Empty', value: '' }, { name: 'Content-Type', value: 'application/octet-stream' }],
})]);
// Signed with PSS salt length 0 (deterministic) instead of arbundles' maximum.
{
  const d = createData('salt zero', ab, { tags: [{ name: 'Salt', value: '0' }] });
  const msg = await d.getSignatureData();
  const sig = crypto.sign('sha256', msg, { key: privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 0 });
  await d.setSignature(sig);
  items.push(['ab_salt0.bin', d.getRaw()]);
}

const expected = [];
for (const [name, raw] of items) {
  fs.writeFileSync(path.join(outDir, name), raw);
  const d = new DataItem(Buffer.from(raw));
  expected.push({
    file: name,
    id: d.id,
    owner_address: crypto.createHash('sha256').update(d.rawOwner).digest('base64url'),
    signature_type: d.signatureType,
    signature_data_hex: Buffer.from(await d.getSignatureData()).toString('hex'),
    target: d.target,
    anchor: d.rawAnchor.toString('utf8'),
    tags: d.tags,
    data_b64: Buffer.from(d.rawData).toString('base64'),
    valid: await DataItem.verify(Buffer.from(raw)),
  });
}
fs.writeFileSync(path.join(outDir, 'expected.json'), JSON.stringify(expected, null, 1) + '\n');
console.log(`wrote ${items.length} vectors to ${outDir}`);
