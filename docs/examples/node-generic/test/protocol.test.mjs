// The JSON-lines protocol of spec/conformance.md (R-CONF-2), end to end through a subprocess.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const program = fileURLToPath(new URL('../waterfall-node.mjs', import.meta.url));
const mechanism = JSON.parse(readFileSync(new URL('../generic-socialized-loss.json', import.meta.url), 'utf8'));
// beside the copy `waterfall example node-generic DIR` makes, else spec/scenarios of the repository
const besideIt = new URL('../scenarios/fund-short-by-one.json', import.meta.url);
const inRepo = new URL('../../../../spec/scenarios/fund-short-by-one.json', import.meta.url);
const scenario = JSON.parse(readFileSync(existsSync(besideIt) ? besideIt : inRepo, 'utf8'));

function converse(requests) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [program], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lines: out.split('\n').filter(Boolean).map((l) => JSON.parse(l)) }));
    for (const r of requests) child.stdin.write(JSON.stringify(r) + '\n');
    child.stdin.end(); // the runner closes stdin at the end; the implementation exits
  });
}

test('hello, steps, refusal, exit on EOF', async () => {
  const marked = { ...scenario.state, markets: [{ ...scenario.state.markets[0], mark: '880' }] };
  const { code, lines } = await converse([
    { type: 'hello', protocol: 'waterfall-conform/1', spec_version: '1' },
    { type: 'step', id: 'generic-socialized-loss/x#0', mechanism, state: scenario.state, op: scenario.ops[0] },
    { type: 'step', id: 'generic-socialized-loss/x#1', mechanism, state: marked, op: scenario.ops[1] },
    { type: 'step', id: 'generic-socialized-loss/x#2', mechanism, state: marked, op: { op: 'deposit', account: 'ghost', amount: '1' } },
  ]);
  assert.equal(code, 0);
  assert.equal(lines.length, 4);
  assert.deepEqual(lines[0], {
    type: 'hello',
    protocol: 'waterfall-conform/1',
    implementation: 'waterfall-node',
    version: lines[0].version,
    mechanisms: ['generic-socialized-loss'],
  });
  assert.equal(typeof lines[0].version, 'string');
  assert.equal(lines[1].type, 'result');
  assert.equal(lines[1].id, 'generic-socialized-loss/x#0');
  assert.equal(lines[1].ok, true);
  assert.deepEqual(lines[1].events, []); // set_mark moves no balance (R-OP-4, R-EVT-2)
  assert.equal(lines[1].state.markets[0].mark, '880');
  const r = lines[2];
  assert.equal(r.ok, true);
  const key = (e) => [e.rule, e.kind, e.src, e.dst, e.amount, e.layer, e.market, e.size, e.price].join('|');
  assert.deepEqual(r.events.map(key).sort(), [
    'R-HC-2|transfer|account:alice|account:loser|1|haircut||0|0',
    'R-LIQ-3|trade|account:loser|account:mm|88000|close|BTC-PERP|100|880',
    'R-WF-3|transfer|layer:insurance_fund|account:loser|1999|insurance_fund||0|0',
  ].sort());
  // scenario.md "Events": all nine keys, strings, never null ("" / "0" for empty fields)
  for (const e of r.events) {
    assert.deepEqual(Object.keys(e).sort(), ['amount', 'dst', 'kind', 'layer', 'market', 'price', 'rule', 'size', 'src']);
    for (const v of Object.values(e)) assert.equal(typeof v, 'string');
  }
  assert.equal(r.state.bad_debt, '0');
  assert.equal(r.state.layers.insurance_fund, '0');
  assert.deepEqual(lines[3], { type: 'result', id: 'generic-socialized-loss/x#2', ok: false, error: 'E-UNKNOWN-ACCOUNT' });
});
