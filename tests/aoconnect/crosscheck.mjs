// Cross-checks aox's ANS-104 code against arbundles (the library aoconnect signs
// with), in both directions, with a wallet generated offline at test time:
//   C -> JS: `ans104_tool sign` builds items; arbundles must verify them and read
//            the same ID, owner address, target, anchor, tags and data.
//   JS -> C: arbundles builds items; `ans104_tool verify` must accept them with the
//            same IDs, and reject a tampered copy.
//   crosscheck.mjs ANS104_TOOL WORK_DIR
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import * as arbundles from '@dha-team/arbundles';

const { createData, ArweaveSigner, DataItem } = arbundles;
const [tool, work] = process.argv.slice(2);
if (!tool || !work) { console.error('usage: crosscheck.mjs ANS104_TOOL WORK_DIR'); process.exit(2); }
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
let failures = 0;
const check = (cond, what) => { if (!cond) { failures++; console.error('FAIL:', what); } };

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 65537 });
const jwk = privateKey.export({ format: 'jwk' });
const walletPath = path.join(work, 'wallet.json');
fs.writeFileSync(walletPath, JSON.stringify(jwk));
const address = crypto.createHash('sha256').update(Buffer.from(jwk.n, 'base64url')).digest('base64url');

// C -> JS
execFileSync(tool, ['sign', walletPath, work], { stdio: 'inherit' });
const manifest = JSON.parse(fs.readFileSync(path.join(work, 'manifest.json'), 'utf8'));
check(manifest.length >= 4, 'manifest has the C items');
for (const e of manifest) {
  const raw = fs.readFileSync(path.join(work, e.file));
  const d = new DataItem(raw);
  check(await DataItem.verify(raw), `${e.file}: arbundles verifies the aox signature`);
  check(d.id === e.id, `${e.file}: id ${d.id} vs aox ${e.id}`);
  check(e.owner_address === address, `${e.file}: owner address`);
  check(d.owner === jwk.n, `${e.file}: owner is the wallet's n`);
  check(d.target === e.target, `${e.file}: target ${d.target} vs ${e.target}`);
  check(d.rawAnchor.toString('utf8') === e.anchor, `${e.file}: anchor`);
  check(JSON.stringify(d.tags) === JSON.stringify(e.tags), `${e.file}: tags ${JSON.stringify(d.tags)}`);
  check(d.data === e.data_b64url, `${e.file}: data`);
  const bad = Buffer.from(raw); bad[bad.length - 1] ^= 1;
  check(!(await DataItem.verify(bad)), `${e.file}: arbundles rejects a tampered copy`);
}

// JS -> C
const signer = new ArweaveSigner(jwk);
const shapes = [
  ['js_plain.bin', 'hello', {}],
  ['js_full.bin', Buffer.from([0, 255, 7]), {
    target: manifest[0].id, anchor: 'abcdefghijklmnopqrstuvwxyz012345',
    tags: [{ name: 'Type', value: 'Message' }, { name: 'Ünï', value: 'çødé ✓' }, { name: 'E', value: '' }] }],
  ['js_bigtags.bin', 'x'.repeat(5000), { tags: Array.from({ length: 40 }, (_, i) => ({ name: `Tag-${i}`, value: 'v'.repeat(60) })) }],
];
const ids = {};
for (const [file, data, opts] of shapes) {
  const d = createData(data, signer, opts);
  await d.sign(signer);
  fs.writeFileSync(path.join(work, file), d.getRaw());
  ids[file] = d.id;
}
const out = execFileSync(tool, ['verify', ...shapes.map(([f]) => path.join(work, f))], { encoding: 'utf8' });
for (const line of out.trim().split('\n')) {
  const [file, id, verdict] = line.split(' ');
  check(verdict === 'ok' && id === ids[path.basename(file)], `aox verifies ${line}`);
}
const tampered = Buffer.from(fs.readFileSync(path.join(work, 'js_full.bin')));
tampered[tampered.length - 2] ^= 0x10;
fs.writeFileSync(path.join(work, 'js_tampered.bin'), tampered);
const r = spawnSync(tool, ['verify', path.join(work, 'js_tampered.bin')], { encoding: 'utf8' });
check(r.status === 1 && /bad/.test(r.stdout), `aox rejects a tampered item: ${r.stdout}`);

if (failures) { console.error(`${failures} check(s) failed`); process.exit(1); }
console.log(`ok: ${manifest.length} aox-signed items verified by arbundles, ${shapes.length} arbundles items verified by aox`);
