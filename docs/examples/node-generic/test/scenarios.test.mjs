// Replays the bundled scenarios written for generic-socialized-loss
// (spec/scenarios/*.json) through step() and checks their hand-computed
// `expect` blocks (R-RUN-3), plus conservation (I-CONS), zero-sum (I-ZERO)
// and event replay (R-EVT-2) on every applied step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { step } from '../waterfall-node.mjs';
const GENERIC = JSON.parse(readFileSync(new URL('../generic-socialized-loss.json', import.meta.url), 'utf8'));

const here = dirname(fileURLToPath(import.meta.url));
// a copy made by `waterfall example node-generic DIR` has its scenarios beside it; in the
// repository they are spec/scenarios
const besideIt = join(here, '..', 'scenarios');
const scenarioDir = existsSync(besideIt) ? besideIt : join(here, '..', '..', '..', '..', 'spec', 'scenarios');

function equityOf(state, id) {
  const a = state.accounts.find((x) => x.id === id);
  let e = BigInt(a.collateral);
  for (const p of a.positions ?? []) {
    const mark = BigInt(state.markets.find((m) => m.id === p.market).mark);
    e += BigInt(p.size) * mark - BigInt(p.open_notional);
  }
  return e;
}

function value(state) {
  // I-CONS: sum of equities + layers + contributions - bad debt
  let v = 0n;
  for (const a of state.accounts) v += equityOf(state, a.id);
  for (const x of Object.values(state.layers ?? {})) v += BigInt(x);
  for (const x of Object.values(state.default_fund ?? {})) v += BigInt(x);
  return v - BigInt(state.bad_debt ?? '0');
}

/** R-EVT-2: replay events on the pre-state's balances and positions. */
function replay(pre, events) {
  const bal = new Map();
  const add = (k, d) => bal.set(k, (bal.get(k) ?? 0n) + d);
  for (const a of pre.accounts) {
    add(`account:${a.id}`, BigInt(a.collateral));
    for (const p of a.positions ?? []) {
      add(`size:${a.id}:${p.market}`, BigInt(p.size));
      add(`on:${a.id}:${p.market}`, BigInt(p.open_notional));
    }
  }
  for (const [k, v] of Object.entries(pre.layers ?? {})) add(`layer:${k}`, BigInt(v));
  add('bad_debt', -BigInt(pre.bad_debt ?? '0'));
  for (const e of events) {
    if (e.kind === 'transfer') {
      add(e.src, -BigInt(e.amount));
      add(e.dst, BigInt(e.amount));
    } else {
      assert.equal(e.kind, 'trade');
      const s = e.src.slice('account:'.length);
      const d = e.dst.slice('account:'.length);
      add(`size:${s}:${e.market}`, -BigInt(e.size));
      add(`size:${d}:${e.market}`, BigInt(e.size));
      add(`on:${s}:${e.market}`, -BigInt(e.amount));
      add(`on:${d}:${e.market}`, BigInt(e.amount));
      assert.equal(BigInt(e.amount), BigInt(e.size) * BigInt(e.price));
    }
  }
  return bal;
}

function checkReplay(pre, post, events) {
  const bal = replay(pre, events);
  for (const a of post.accounts) {
    assert.equal(bal.get(`account:${a.id}`) ?? 0n, BigInt(a.collateral), `collateral ${a.id}`);
    for (const p of a.positions) {
      assert.equal(bal.get(`size:${a.id}:${p.market}`) ?? 0n, BigInt(p.size), `size ${a.id} ${p.market}`);
      assert.equal(bal.get(`on:${a.id}:${p.market}`) ?? 0n, BigInt(p.open_notional), `on ${a.id} ${p.market}`);
    }
  }
  for (const [k, v] of Object.entries(post.layers)) assert.equal(bal.get(`layer:${k}`) ?? 0n, BigInt(v), `layer ${k}`);
  assert.equal(-(bal.get('bad_debt') ?? 0n), BigInt(post.bad_debt), 'bad_debt');
}

function checkZeroSum(state) {
  for (const m of state.markets) {
    let s = 0n;
    let o = 0n;
    for (const a of state.accounts) {
      for (const p of a.positions) {
        if (p.market === m.id) {
          s += BigInt(p.size);
          o += BigInt(p.open_notional);
        }
      }
    }
    assert.equal(s, 0n, `I-ZERO sizes ${m.id}`);
    assert.equal(o, 0n, `I-ZERO open notionals ${m.id}`);
  }
}

const files = readdirSync(scenarioDir).filter((f) => f.endsWith('.json')).sort();
for (const file of files) {
  const sc = JSON.parse(readFileSync(join(scenarioDir, file), 'utf8'));
  if (sc.mechanism !== GENERIC.id) continue;
  test(`scenario ${sc.name}`, () => {
    let state = sc.state;
    const errors = [];
    for (const op of sc.ops) {
      const r = step(GENERIC, state, op);
      errors.push(r.ok ? null : r.error);
      if (!r.ok) continue; // R-RUN-2: a refused op leaves the state as it was
      checkReplay(state, r.state, r.events);
      checkZeroSum(r.state);
      if (op.op !== 'deposit' && op.op !== 'withdraw') {
        assert.equal(value(r.state), value(state), `I-CONS on ${op.op}`);
      }
      if (op.op === 'liquidate') assert.ok(equityOf(r.state, op.account) >= 0n, 'I-NOLOSS');
      state = r.state;
    }
    const ex = sc.expect ?? {};
    if (ex.errors) assert.deepEqual(errors, ex.errors);
    else assert.ok(errors.every((e) => e === null), `unexpected errors ${errors}`);
    if (ex.bad_debt !== undefined) assert.equal(state.bad_debt, ex.bad_debt, 'bad_debt');
    for (const [k, v] of Object.entries(ex.layers ?? {})) assert.equal(state.layers[k] ?? '0', v, `layer ${k}`);
    for (const [id, v] of Object.entries(ex.collateral ?? {})) {
      assert.equal(state.accounts.find((a) => a.id === id).collateral, v, `collateral ${id}`);
    }
    for (const [id, v] of Object.entries(ex.equity ?? {})) assert.equal(equityOf(state, id).toString(), v, `equity ${id}`);
  });
}
