// Seeded random venues: build positions by trades, move marks, pay funding, liquidate
// whoever is liquidatable; every applied step must replay (R-EVT-2), stay zero-sum
// (I-ZERO), conserve value (I-CONS), leave the bankrupt at equity >= 0 (I-NOLOSS) and no
// other account, bar the counterparty, pushed below 0 by the waterfall (I-NONNEG), with
// layers and bad debt >= 0 (I-FUND).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { step } from '../waterfall-node.mjs';

const GENERIC = JSON.parse(readFileSync(new URL('../generic-socialized-loss.json', import.meta.url), 'utf8'));

function rng(seed) {
  let s = BigInt(seed) | 1n;
  return (n) => {
    s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    return Number((s >> 33n) % BigInt(n));
  };
}

const eqOf = (st, a) =>
  a.positions.reduce((e, p) => e + BigInt(p.size) * BigInt(st.markets.find((m) => m.id === p.market).mark) - BigInt(p.open_notional), BigInt(a.collateral));
const value = (st) =>
  st.accounts.reduce((v, a) => v + eqOf(st, a), 0n) + Object.values(st.layers).reduce((v, x) => v + BigInt(x), 0n) - BigInt(st.bad_debt);

function check(pre, op, r) {
  const post = r.state;
  // R-EVT-2 replay of collateral, layers and bad debt
  const bal = new Map();
  const add = (k, d) => bal.set(k, (bal.get(k) ?? 0n) + d);
  for (const a of pre.accounts) add(`account:${a.id}`, BigInt(a.collateral));
  for (const [k, v] of Object.entries(pre.layers ?? {})) add(`layer:${k}`, BigInt(v));
  add('bad_debt', -BigInt(pre.bad_debt ?? '0'));
  for (const e of r.events) {
    assert.ok(BigInt(e.amount) > 0n, 'no zero or negative events');
    if (e.kind === 'transfer') {
      add(e.src, -BigInt(e.amount));
      add(e.dst, BigInt(e.amount));
    }
  }
  for (const a of post.accounts) assert.equal(bal.get(`account:${a.id}`), BigInt(a.collateral));
  for (const [k, v] of Object.entries(post.layers)) {
    assert.equal(bal.get(`layer:${k}`) ?? 0n, BigInt(v));
    assert.ok(BigInt(v) >= 0n, 'I-FUND');
  }
  assert.equal(-bal.get('bad_debt'), BigInt(post.bad_debt));
  for (const m of post.markets) {
    let s = 0n;
    let o = 0n;
    for (const a of post.accounts) for (const p of a.positions) if (p.market === m.id) (s += BigInt(p.size)), (o += BigInt(p.open_notional));
    assert.equal(s, 0n);
    assert.equal(o, 0n);
  }
  if (op.op !== 'deposit' && op.op !== 'withdraw') assert.equal(value(post), value(pre), 'I-CONS');
  if (op.op === 'liquidate') {
    assert.ok(eqOf(post, post.accounts.find((a) => a.id === op.account)) >= 0n, 'I-NOLOSS');
    for (const a of post.accounts) {
      if (a.id === op.account || a.id === op.counterparty) continue;
      const before = eqOf(pre, pre.accounts.find((x) => x.id === a.id));
      if (before >= 0n) assert.ok(eqOf(post, a) >= 0n, `I-NONNEG ${a.id}`);
    }
  }
}

test('random venues keep the invariants', () => {
  let liquidations = 0;
  let haircuts = 0;
  for (let seed = 1; seed <= 1000; seed++) {
    const r = rng(seed);
    const ids = ['a', 'b', 'c', 'd', 'mm'];
    let st = {
      markets: [
        { id: 'M0', mark: String(100 + r(1000)), im_ppm: '100000', mm_ppm: '50000' },
        { id: 'M1', mark: String(10 + r(100)), im_ppm: '200000', mm_ppm: '100000' },
      ],
      accounts: ids.map((id) => ({ id, collateral: String(id === 'mm' ? 10 ** 9 : 1000 + r(20000)), positions: [] })),
      layers: { insurance_fund: String(r(3) === 0 ? 0 : r(5000)) },
      bad_debt: '0',
    };
    for (let k = 0; k < 40; k++) {
      const m = st.markets[r(2)];
      const kind = r(10);
      let op;
      if (kind < 4) {
        const b = ids[r(4)];
        let s = ids[r(4)];
        if (s === b) s = 'mm';
        op = { op: 'trade', buyer: b, seller: s, market: m.id, size: String(1 + r(30)), price: String(Math.max(1, Number(m.mark) + r(21) - 10)) };
      } else if (kind < 7) {
        const p = Number(m.mark);
        op = { op: 'set_mark', market: m.id, price: String(Math.max(1, p + Math.floor((p * (r(41) - 20)) / 100))) };
      } else if (kind < 8) {
        op = { op: 'funding', market: m.id, rate: String(r(21) - 10) };
      } else {
        const victim = st.accounts.find((a) => a.id !== 'mm' && step(GENERIC, st, { op: 'liquidate', account: a.id, counterparty: 'mm' }).ok);
        if (!victim) continue;
        op = { op: 'liquidate', account: victim.id, counterparty: 'mm' };
        if (r(2)) op.fill_prices = { [m.id]: String(Math.max(1, Number(m.mark) - r(20))) };
      }
      const res = step(GENERIC, st, op);
      if (!res.ok) continue;
      check(st, op, res);
      if (op.op === 'liquidate') {
        liquidations++;
        if (res.events.some((e) => e.rule === 'R-HC-2')) haircuts++;
      }
      st = res.state;
    }
  }
  console.log(`liquidations ${liquidations}, with haircut ${haircuts}`);
  assert.ok(liquidations > 150, `only ${liquidations} liquidations`);
  assert.ok(haircuts > 20, `only ${haircuts} haircuts`);
});
