// Hand-computed checks of the arithmetic and of operations the bundled scenarios do not reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { divFloor, divCeil, cmpId, allocate, step } from '../waterfall-node.mjs';

const GENERIC = JSON.parse(readFileSync(new URL('../generic-socialized-loss.json', import.meta.url), 'utf8'));

test('R-UNIT-2: floor and ceil division on negatives', () => {
  assert.equal(divFloor(-7n, 2n), -4n);
  assert.equal(divFloor(7n, -2n), -4n);
  assert.equal(divFloor(-6n, 2n), -3n);
  assert.equal(divCeil(-7n, 2n), -3n);
  assert.equal(divCeil(7n, 2n), 4n);
  assert.equal(divFloor(7n, 2n), 3n);
});

test('R-ALLOC-2: code-point id order, not UTF-16 order', () => {
  // U+FF5E (one UTF-16 unit 0xFF5E) sorts before U+1F600 (surrogates 0xD83D...) by code point.
  assert.ok(cmpId('\uFF5E', '\u{1F600}') < 0);
  assert.ok('\uFF5E' > '\u{1F600}'); // JS's own comparison gets it the other way round
  assert.ok(cmpId('a', 'ab') < 0);
});

test('R-ALLOC-2: largest remainder, ties to the smaller id', () => {
  const w = [['carol', 100n], ['alice', 100n], ['bob', 100n]];
  assert.deepEqual(Object.fromEntries(allocate(2n, w, 'largest_remainder')), { carol: 0n, alice: 1n, bob: 1n });
  assert.deepEqual(Object.fromEntries(allocate(2n, w, 'floor')), { carol: 0n, alice: 0n, bob: 0n });
  assert.deepEqual(Object.fromEntries(allocate(2n, w, 'ceil')), { carol: 1n, alice: 1n, bob: 1n });
  assert.equal(allocate(0n, w, 'largest_remainder').size, 0); // R-ALLOC-3
  // 500 over 5000 / 1000: 416 r 4000 and 83 r 2000 -> 417, 83
  assert.deepEqual(Object.fromEntries(allocate(500n, [['alice', 5000n], ['bob', 1000n]], 'largest_remainder')), { alice: 417n, bob: 83n });
});

const base = {
  markets: [{ id: 'BTC-PERP', mark: '1000', im_ppm: '100000', mm_ppm: '50000' }],
  accounts: [
    { id: 'a', collateral: '1000', positions: [{ market: 'BTC-PERP', size: '10', open_notional: '10000' }] },
    { id: 'b', collateral: '5000', positions: [{ market: 'BTC-PERP', size: '-10', open_notional: '-10000' }] },
    { id: 'mm', collateral: '100000' },
  ],
  layers: { insurance_fund: '7' },
};

test('R-LIQ-5: surplus pays the fee floor(5000 * notional at mark / 10^6) to the fund', () => {
  // mark 955: a's equity 1000 - 450 = 550 < maintenance ceil(10*955*0.05) = 478? no: 550 >= 478 -> healthy
  const healthy = step(GENERIC, { ...base, markets: [{ ...base.markets[0], mark: '955' }] }, { op: 'liquidate', account: 'a', counterparty: 'mm' });
  assert.deepEqual([healthy.ok, healthy.error], [false, 'E-HEALTHY']);
  // mark 941: equity 1000 - 590 = 410 < ceil(10*941*50000/10^6) = 471. Fill at 941 (mark).
  // fee = min(410, floor(5000 * 9410 / 10^6) = 47) = 47
  const r = step(GENERIC, { ...base, markets: [{ ...base.markets[0], mark: '941' }] }, { op: 'liquidate', account: 'a', counterparty: 'mm' });
  assert.equal(r.ok, true);
  const fee = r.events.find((e) => e.rule === 'R-LIQ-5');
  assert.deepEqual([fee.src, fee.dst, fee.amount, fee.layer, fee.market], ['account:a', 'layer:insurance_fund', '47', 'surplus', '']);
  assert.equal(r.state.layers.insurance_fund, '54');
  const a = r.state.accounts.find((x) => x.id === 'a');
  // the realised loss stays in a flat position's open notional (R-STATE-2)
  assert.deepEqual(a.positions, [{ market: 'BTC-PERP', size: '0', open_notional: '590' }]);
  assert.equal(a.collateral, '953');
});

test('R-LIQ-5: the fee is capped at the remaining equity', () => {
  // mark 901, fill 900: equity after closing 1000 - 1000 = 0 -> no fee, no deficit
  const r = step(GENERIC, { ...base, markets: [{ ...base.markets[0], mark: '901' }] }, { op: 'liquidate', account: 'a', counterparty: 'mm', fill_prices: { 'BTC-PERP': '900' } });
  assert.equal(r.ok, true);
  assert.deepEqual(r.events.map((e) => e.rule), ['R-LIQ-3']); // the close (R-EVT-3)
});

test('R-OP-3: margin only when a position grows or flips', () => {
  // b (short 10, equity 5000) buys 5 back from mm: reduces, no check needed
  const r1 = step(GENERIC, base, { op: 'trade', buyer: 'b', seller: 'mm', market: 'BTC-PERP', size: '5', price: '1000' });
  assert.equal(r1.ok, true);
  // a (equity 1000, IM 1000 at size 10) buys 1 more: IM 1100 > equity 1000 -> E-MARGIN
  const r2 = step(GENERIC, base, { op: 'trade', buyer: 'a', seller: 'mm', market: 'BTC-PERP', size: '1', price: '1000' });
  assert.deepEqual([r2.ok, r2.error], [false, 'E-MARGIN']);
  // a sells 20: flips to short 10, equity 1000 >= IM 1000 -> accepted
  const r3 = step(GENERIC, base, { op: 'trade', buyer: 'mm', seller: 'a', market: 'BTC-PERP', size: '20', price: '1000' });
  assert.equal(r3.ok, true);
  // a sells 21: flips to short 11, IM 1100 > 1000 -> refused
  const r4 = step(GENERIC, base, { op: 'trade', buyer: 'mm', seller: 'a', market: 'BTC-PERP', size: '21', price: '1000' });
  assert.deepEqual([r4.ok, r4.error], [false, 'E-MARGIN']);
});

test('R-OP-5: funding through funding:MARKET nets to zero', () => {
  const r = step(GENERIC, base, { op: 'funding', market: 'BTC-PERP', rate: '-3' });
  assert.equal(r.ok, true);
  const key = (e) => [e.rule, e.src, e.dst, e.amount, e.layer, e.market].join('|');
  assert.deepEqual(r.events.map(key).sort(), ['R-OP-5|account:b|funding:BTC-PERP|30|funding|BTC-PERP', 'R-OP-5|funding:BTC-PERP|account:a|30|funding|BTC-PERP']);
});

test('R-OP-2: withdraw checks collateral and initial margin', () => {
  const ok = step(GENERIC, base, { op: 'withdraw', account: 'b', amount: '4000' }); // equity 1000 >= IM 1000
  assert.equal(ok.ok, true);
  assert.equal(ok.state.accounts.find((x) => x.id === 'b').net_deposit, '1000');
  const no = step(GENERIC, base, { op: 'withdraw', account: 'b', amount: '4001' });
  assert.deepEqual([no.ok, no.error], [false, 'E-MARGIN']);
});

test('R-UNIT-3: bounds on inputs and results', () => {
  const big = step(GENERIC, base, { op: 'deposit', account: 'a', amount: '1000000000000000001' });
  assert.equal(big.error, 'E-BOUND');
  const edge = step(GENERIC, base, { op: 'deposit', account: 'a', amount: '1000000000000000000' });
  assert.equal(edge.ok, true);
});

test('R-WF-5: a deficit nobody covers is bad debt; the bankrupt ends at equity 0', () => {
  // mark 800: a's equity 1000 - 2000 = -1000; fund 7; b's profit 2000 capped at equity 7000 -> haircut 993
  const r = step(GENERIC, { ...base, markets: [{ ...base.markets[0], mark: '800' }] }, { op: 'liquidate', account: 'a', counterparty: 'mm' });
  assert.equal(r.ok, true);
  assert.equal(r.state.bad_debt, '0');
  assert.equal(r.state.accounts.find((x) => x.id === 'b').collateral, '4007');
  // fill at 700 against mark 800: mm gains 1000 of unrealised profit and shares the haircut
  const r2 = step(GENERIC, { ...base, markets: [{ ...base.markets[0], mark: '800' }] }, { op: 'liquidate', account: 'a', counterparty: 'mm', fill_prices: { 'BTC-PERP': '700' } });
  // D = 2000 - 7 = 1993 over b 2000, mm 1000: 1328.66.. / 664.33.. -> 1329, 664
  const col = Object.fromEntries(r2.state.accounts.map((x) => [x.id, x.collateral]));
  assert.deepEqual([col.b, col.mm], [String(5000 - 1329), String(100000 - 664)]);
});
