#!/usr/bin/env node
// waterfall-node: an independent implementation of the loss waterfall
// (spec/rules.md) for the mechanism generic-socialized-loss, written from the
// spec text alone. Speaks waterfall-conform/1 (spec/conformance.md) over
// stdin/stdout. Exact integers only: every quantity is a BigInt.
//
// Usage: node waterfall-node.mjs            (JSON lines on stdin/stdout)
// As a module: import { step } from './waterfall-node.mjs'

import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

export const PROTOCOL = 'waterfall-conform/1';
export const IMPLEMENTATION = 'waterfall-node';
export const VERSION = '0.2.0';
export const MECHANISMS = ['generic-socialized-loss'];

const PPM = 1_000_000n;
const MAX_INPUT = 10n ** 18n; // R-UNIT-3
const MAX_BALANCE = 10n ** 36n; // R-UNIT-3
const INT_RE = /^-?(0|[1-9][0-9]{0,36})$/; // scenario.md, R-FMT-1

// ---------------------------------------------------------------- errors (R-ERR-1)

export class WaterfallError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}
const fail = (code, message) => {
  throw new WaterfallError(code, message);
};

// ---------------------------------------------------------------- arithmetic (R-UNIT-2)

const abs = (x) => (x < 0n ? -x : x);
const min = (a, b) => (a < b ? a : b);
const max = (a, b) => (a > b ? a : b);

/** floor(a / b), toward minus infinity (BigInt `/` truncates toward zero). */
export function divFloor(a, b) {
  if (b === 0n) throw new RangeError('division by zero');
  if (b < 0n) {
    a = -a;
    b = -b;
  }
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** ceil(a / b), toward plus infinity. */
export function divCeil(a, b) {
  return -divFloor(-a, b);
}

/** Unicode code-point order (= UTF-8 byte order), R-ALLOC-2. JS `<` compares UTF-16 units. */
export function cmpId(a, b) {
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}
const sortedIds = (ids) => [...ids].sort(cmpId);

// ---------------------------------------------------------------- parsing (R-FMT-1)

function int(value, where, code = 'E-SCENARIO') {
  if (typeof value !== 'string' || !INT_RE.test(value)) {
    fail(code, `${where}: expected an integer as a decimal string, got ${JSON.stringify(value)}`);
  }
  return BigInt(value);
}

/** A mechanism integer: the TOML value as JSON; accept a number or a decimal string. */
function mechInt(value, where) {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && INT_RE.test(value)) return BigInt(value);
  fail('E-MECHANISM', `key ${where}: expected an integer, got ${JSON.stringify(value)}`);
}

function parseState(s) {
  if (!s || typeof s !== 'object') fail('E-SCENARIO', 'state: not an object');
  const markets = new Map();
  for (const [i, m] of (s.markets ?? []).entries()) {
    const where = `state.markets[${i}]`;
    if (typeof m.id !== 'string') fail('E-SCENARIO', `${where}.id: not a string`);
    if (markets.has(m.id)) fail('E-SCENARIO', `${where}.id: duplicate market ${m.id}`);
    const mark = int(m.mark, `${where}.mark`);
    if (mark <= 0n) fail('E-SCENARIO', `${where}.mark: must be > 0 (R-STATE-1)`);
    markets.set(m.id, {
      id: m.id,
      mark,
      im_ppm: int(m.im_ppm, `${where}.im_ppm`),
      mm_ppm: int(m.mm_ppm, `${where}.mm_ppm`),
      prev_mark: m.prev_mark === undefined ? 0n : int(m.prev_mark, `${where}.prev_mark`), // R-TIME-2
    });
  }
  const accounts = new Map();
  for (const [i, a] of (s.accounts ?? []).entries()) {
    const where = `state.accounts[${i}]`;
    if (typeof a.id !== 'string') fail('E-SCENARIO', `${where}.id: not a string`);
    if (accounts.has(a.id)) fail('E-SCENARIO', `${where}.id: duplicate account ${a.id}`);
    const collateral = int(a.collateral, `${where}.collateral`);
    const net_deposit = a.net_deposit === undefined ? collateral : int(a.net_deposit, `${where}.net_deposit`);
    const positions = new Map();
    for (const [j, p] of (a.positions ?? []).entries()) {
      const pw = `${where}.positions[${j}]`;
      if (!markets.has(p.market)) fail('E-SCENARIO', `${pw}.market: unknown market ${p.market}`);
      if (positions.has(p.market)) fail('E-SCENARIO', `${pw}.market: duplicate position in ${p.market}`);
      positions.set(p.market, { size: int(p.size, `${pw}.size`), on: int(p.open_notional, `${pw}.open_notional`) });
    }
    accounts.set(a.id, { id: a.id, collateral, net_deposit, positions });
  }
  const layers = new Map();
  for (const [k, v] of Object.entries(s.layers ?? {})) {
    const x = int(v, `state.layers.${k}`);
    if (x < 0n) fail('E-SCENARIO', `state.layers.${k}: negative (R-STATE-5)`);
    layers.set(k, x);
  }
  const default_fund = new Map();
  for (const [k, v] of Object.entries(s.default_fund ?? {})) {
    const x = int(v, `state.default_fund.${k}`);
    if (x < 0n) fail('E-SCENARIO', `state.default_fund.${k}: negative (R-STATE-5)`);
    default_fund.set(k, x);
  }
  const bad_debt = s.bad_debt === undefined ? 0n : int(s.bad_debt, 'state.bad_debt');
  if (bad_debt < 0n) fail('E-SCENARIO', 'state.bad_debt: negative (R-STATE-5)');
  // R-STATE-5: sizes and open notionals sum to zero per market.
  for (const mid of markets.keys()) {
    let ss = 0n;
    let so = 0n;
    for (const a of accounts.values()) {
      const p = a.positions.get(mid);
      if (p) {
        ss += p.size;
        so += p.on;
      }
    }
    if (ss !== 0n || so !== 0n) fail('E-SCENARIO', `state: market ${mid} sizes or open notionals do not sum to 0 (R-STATE-5)`);
  }
  const clock = s.clock === undefined ? 0n : int(s.clock, 'state.clock'); // R-STATE-6
  if (clock < 0n) fail('E-SCENARIO', 'state.clock: negative (R-STATE-6)');
  return { markets, accounts, layers, default_fund, bad_debt, clock };
}

function dumpState(st) {
  const s = (x) => x.toString();
  const mapObj = (m) => Object.fromEntries(sortedIds(m.keys()).map((k) => [k, s(m.get(k))]));
  return {
    markets: sortedIds(st.markets.keys()).map((id) => {
      const m = st.markets.get(id);
      const out = { id, mark: s(m.mark), im_ppm: s(m.im_ppm), mm_ppm: s(m.mm_ppm) };
      if (m.prev_mark !== 0n) out.prev_mark = s(m.prev_mark); // R-FMT-2: only when recorded
      return out;
    }),
    accounts: sortedIds(st.accounts.keys()).map((id) => {
      const a = st.accounts.get(id);
      return {
        id,
        collateral: s(a.collateral),
        net_deposit: s(a.net_deposit),
        positions: sortedIds(a.positions.keys())
          .filter((m) => a.positions.get(m).size !== 0n || a.positions.get(m).on !== 0n)
          .map((m) => ({ market: m, size: s(a.positions.get(m).size), open_notional: s(a.positions.get(m).on) })),
      };
    }),
    layers: mapObj(st.layers),
    default_fund: mapObj(st.default_fund),
    bad_debt: s(st.bad_debt),
    ...(st.clock !== 0n ? { clock: s(st.clock) } : {}), // R-STATE-6: only when set
  };
}

// ---------------------------------------------------------------- mechanism (spec/mechanisms.md)

function parseMechanism(m) {
  if (!m || typeof m !== 'object') fail('E-MECHANISM', 'mechanism: not an object');
  const liq = m.liquidation ?? {};
  const surplus = liq.surplus ?? 'fee';
  if (!['all', 'fee', 'none'].includes(surplus)) fail('E-MECHANISM', `key liquidation.surplus: ${surplus}`);
  const fee_ppm = liq.fee_ppm === undefined ? 0n : mechInt(liq.fee_ppm, 'liquidation.fee_ppm');
  const layers = (m.layers ?? []).map((l, i) => {
    const kind = l.kind ?? 'balance';
    if (kind !== 'balance') fail('E-MECHANISM', `key layers[${i}].kind: ${kind} is not supported by waterfall-node`);
    return {
      name: l.name,
      kind,
      scope: l.scope ?? 'global',
      reserve: l.reserve === undefined ? 0n : mechInt(l.reserve, `layers[${i}].reserve`),
      cap: l.cap_per_event === undefined ? 0n : mechInt(l.cap_per_event, `layers[${i}].cap_per_event`),
    };
  });
  const f = m.final ?? {};
  const policy = f.policy;
  if (policy !== 'haircut' && policy !== 'bad_debt') {
    fail('E-MECHANISM', `key final.policy: ${policy} is not supported by waterfall-node`);
  }
  const final = { policy };
  if (policy === 'haircut') {
    Object.assign(final, {
      profit: f.profit ?? 'upnl',
      scope: f.scope ?? 'all_markets',
      eligibility: f.eligibility ?? 'any_profit',
      rounding: f.rounding ?? 'largest_remainder',
      residue_sink: f.residue_sink ?? 'bad_debt',
      cap_ppm: f.cap_ppm === undefined ? PPM : mechInt(f.cap_ppm, 'final.cap_ppm'),
    });
    if (final.cap_ppm !== PPM) fail('E-MECHANISM', 'key final.cap_ppm: caps below 10^6 are not supported by waterfall-node');
  }
  return {
    id: m.id,
    surplus,
    fee_ppm,
    surplus_sink: liq.surplus_sink ?? 'insurance_fund',
    layers,
    final,
  };
}

// ---------------------------------------------------------------- valuation (R-PNL, R-MARGIN)

function upnl(st, acct, marketFilter = null) {
  let u = 0n;
  for (const [mid, p] of acct.positions) {
    if (marketFilter && !marketFilter.has(mid)) continue;
    u += p.size * st.markets.get(mid).mark - p.on; // R-PNL-1
  }
  return u;
}
const equity = (st, acct) => acct.collateral + upnl(st, acct); // R-PNL-3

function requirement(st, acct, which) {
  // R-MARGIN-1: per market ceil(|size| * mark * rate / 10^6)
  let r = 0n;
  for (const [mid, p] of acct.positions) {
    const m = st.markets.get(mid);
    r += divCeil(abs(p.size) * m.mark * m[which], PPM);
  }
  return r;
}
const hasOpenPosition = (acct) => [...acct.positions.values()].some((p) => p.size !== 0n);

// ---------------------------------------------------------------- events (R-EVT-1)

// R-EVT-3: a transfer carries size = price = 0 and market "" (funding names its
// market); `layer` is the waterfall stage of the event vocabulary table.
function transfer(events, rule, src, dst, amount, layer, market = '') {
  if (amount === 0n) return; // zero transfers are not recorded (R-EVT-3, R-CONF-3)
  if (amount < 0n) throw new Error(`internal: negative transfer ${rule}`);
  events.push({ rule, kind: 'transfer', src, dst, amount, layer, market, size: 0n, price: 0n });
}
const acc = (id) => `account:${id}`;
const lay = (name) => `layer:${name}`;

function dumpEvent(e) {
  const s = (x) => x.toString();
  return {
    rule: e.rule,
    kind: e.kind,
    src: e.src,
    dst: e.dst,
    amount: s(e.amount),
    layer: e.layer,
    market: e.market,
    size: s(e.size),
    price: s(e.price),
  };
}

// ---------------------------------------------------------------- helpers for ops

function getAccount(st, id, field) {
  if (typeof id !== 'string' || !st.accounts.has(id)) fail('E-UNKNOWN-ACCOUNT', `${field}: unknown account ${JSON.stringify(id)}`);
  return st.accounts.get(id);
}
function getMarket(st, id, field) {
  if (typeof id !== 'string' || !st.markets.has(id)) fail('E-UNKNOWN-MARKET', `${field}: unknown market ${JSON.stringify(id)}`);
  return st.markets.get(id);
}
/** An input integer: a decimal string, |x| <= MAX_INPUT (R-UNIT-3). */
function input(op, field) {
  const v = op[field];
  if (typeof v !== 'string' || !INT_RE.test(v)) fail('E-INVALID-AMOUNT', `${field}: not an integer string`);
  const x = BigInt(v);
  if (abs(x) > MAX_INPUT) fail('E-BOUND', `${field}: |${v}| exceeds MAX_INPUT 10^18`);
  return x;
}
function positive(x, field) {
  if (x <= 0n) fail('E-INVALID-AMOUNT', `${field}: must be > 0, got ${x}`);
  return x;
}
function position(acct, mid) {
  let p = acct.positions.get(mid);
  if (!p) {
    p = { size: 0n, on: 0n };
    acct.positions.set(mid, p);
  }
  return p;
}
function addLayer(st, name, delta) {
  st.layers.set(name, (st.layers.get(name) ?? 0n) + delta);
}

/** R-UNIT-3: every resulting balance (net deposits included) and open notional at most
 * MAX_BALANCE in absolute value, every position's size at most MAX_INPUT (the limit vectors
 * op-limit-* of issue 20 showed the first version checked neither; SPEC-GAPS.md B7). */
function checkBounds(st) {
  for (const a of st.accounts.values()) {
    if (abs(a.collateral) > MAX_BALANCE) fail('E-BOUND', `account ${a.id} collateral exceeds MAX_BALANCE 10^36`);
    if (abs(a.net_deposit) > MAX_BALANCE) fail('E-BOUND', `account ${a.id} net_deposit exceeds MAX_BALANCE 10^36`);
    for (const [mid, p] of a.positions) {
      if (abs(p.size) > MAX_INPUT) fail('E-BOUND', `account ${a.id} market ${mid} size exceeds MAX_INPUT 10^18`);
      if (abs(p.on) > MAX_BALANCE) fail('E-BOUND', `account ${a.id} market ${mid} open_notional exceeds MAX_BALANCE 10^36`);
    }
  }
  for (const [k, v] of st.layers) if (v > MAX_BALANCE) fail('E-BOUND', `layer ${k} exceeds MAX_BALANCE 10^36`);
  if (st.bad_debt > MAX_BALANCE) fail('E-BOUND', 'bad_debt exceeds MAX_BALANCE 10^36');
}

/** R-ALLOC-1/2/3: pro rata of total over [id, weight] pairs; returns Map id -> share. */
export function allocate(total, weights, rounding) {
  const out = new Map();
  const W = weights.reduce((s, [, w]) => s + w, 0n);
  if (total === 0n || W === 0n) return out; // R-ALLOC-3
  const rems = [];
  let sum = 0n;
  for (const [id, w] of weights) {
    const share = rounding === 'ceil' ? divCeil(total * w, W) : divFloor(total * w, W);
    out.set(id, share);
    sum += share;
    rems.push([id, (total * w) % W]);
  }
  if (rounding === 'largest_remainder') {
    let left = total - sum;
    rems.sort((a, b) => (a[1] !== b[1] ? (a[1] > b[1] ? -1 : 1) : cmpId(a[0], b[0])));
    for (const [id] of rems) {
      if (left === 0n) break;
      out.set(id, out.get(id) + 1n);
      left -= 1n;
    }
  }
  return out;
}

/** R-WF-6: the state key of a sink or layer name (per-market layers: NAME:MARKET). */
function sinkKey(st, mech, name, bankruptMarkets) {
  const layer = mech.layers.find((l) => l.name === name);
  if (!layer || layer.scope !== 'market') return name;
  if (bankruptMarkets.length) return `${name}:${bankruptMarkets[0]}`;
  const ms = sortedIds(st.markets.keys());
  return ms.length ? `${name}:${ms[0]}` : name;
}

// ---------------------------------------------------------------- operations (R-OP)

function opDeposit(st, op, events) {
  const a = getAccount(st, op.account, 'account');
  const amount = positive(input(op, 'amount'), 'amount');
  a.collateral += amount; // R-OP-1
  a.net_deposit += amount;
  transfer(events, 'R-OP-1', 'external', acc(a.id), amount, 'deposit');
}

function opWithdraw(st, op, events) {
  const a = getAccount(st, op.account, 'account');
  const amount = positive(input(op, 'amount'), 'amount');
  if (amount > a.collateral) fail('E-MARGIN', `withdraw ${amount} exceeds collateral ${a.collateral} of ${a.id}`);
  a.collateral -= amount;
  a.net_deposit -= amount;
  // R-OP-2 / R-MARGIN-2: equity >= initial requirement (0 without positions).
  if (equity(st, a) < requirement(st, a, 'im_ppm')) fail('E-MARGIN', `withdraw leaves ${a.id} below initial margin`);
  transfer(events, 'R-OP-2', acc(a.id), 'external', amount, 'withdraw');
}

function opTrade(st, op, events) {
  const buyer = getAccount(st, op.buyer, 'buyer');
  const seller = getAccount(st, op.seller, 'seller');
  const m = getMarket(st, op.market, 'market');
  const size = positive(input(op, 'size'), 'size');
  const price = positive(input(op, 'price'), 'price');
  if (buyer.id === seller.id) fail('E-SELF-TRADE', `buyer and seller are both ${buyer.id}`);
  const notional = size * price;
  for (const [a, ds, dn] of [
    [buyer, size, notional],
    [seller, -size, -notional],
  ]) {
    const p = position(a, m.id);
    const before = p.size;
    p.size += ds;
    p.on += dn;
    const grows = abs(p.size) > abs(before);
    const flips = before !== 0n && p.size !== 0n && before > 0n !== p.size > 0n;
    if ((grows || flips) && equity(st, a) < requirement(st, a, 'im_ppm')) {
      fail('E-MARGIN', `trade leaves ${a.id} below initial margin`);
    }
  }
  events.push({ rule: 'R-OP-3', kind: 'trade', src: acc(seller.id), dst: acc(buyer.id), amount: notional, layer: 'trade', market: m.id, size, price });
}

function opSetMark(st, op) {
  const m = getMarket(st, op.market, 'market');
  const price = positive(input(op, 'price'), 'price'); // R-OP-4: no events
  m.prev_mark = m.mark; // R-TIME-2: the replaced mark is the previous mark
  m.mark = price;
}

function opAdvanceTime(st, op) {
  // R-TIME-1: the clock moves forward; this mechanism has no window, so nothing else changes.
  const seconds = positive(input(op, 'seconds'), 'seconds');
  if (st.clock + seconds > MAX_INPUT) fail('E-BOUND', `clock: ${st.clock + seconds} exceeds MAX_INPUT 10^18`);
  st.clock += seconds;
}

function opFunding(st, op, events) {
  const m = getMarket(st, op.market, 'market');
  const rate = input(op, 'rate'); // any sign; 0 is a no-op
  const pool = `funding:${m.id}`;
  for (const id of sortedIds(st.accounts.keys())) {
    const a = st.accounts.get(id);
    const p = a.positions.get(m.id);
    if (!p || p.size === 0n) continue;
    const pay = p.size * rate; // R-OP-5: longs pay when rate > 0
    a.collateral -= pay;
    if (pay > 0n) transfer(events, 'R-OP-5', acc(id), pool, pay, 'funding', m.id);
    else transfer(events, 'R-OP-5', pool, acc(id), -pay, 'funding', m.id);
  }
}

// ---------------------------------------------------------------- liquidation (R-LIQ, R-WF, R-HC)

function opLiquidate(st, op, mech, events) {
  const a = getAccount(st, op.account, 'account');
  let cp = null;
  if (op.counterparty !== undefined && op.counterparty !== null) {
    cp = getAccount(st, op.counterparty, 'counterparty');
    if (cp.id === a.id) fail('E-SELF-TRADE', `counterparty ${cp.id} is the liquidated account`);
  }
  const fills = new Map();
  for (const [mid, v] of Object.entries(op.fill_prices ?? {})) {
    getMarket(st, mid, `fill_prices.${mid}`);
    fills.set(mid, positive(input(op.fill_prices, mid), `fill_prices.${mid}`));
  }
  // R-LIQ-1: equity below maintenance (an account without positions: below 0).
  const eq0 = equity(st, a);
  if (eq0 >= requirement(st, a, 'mm_ppm')) fail('E-HEALTHY', `${a.id} has equity ${eq0}, not below maintenance`);
  // R-LIQ-2: no ADL in this mechanism, so a counterparty is required.
  // (an account without open positions has nothing to close: its deficit goes straight to the waterfall)
  const open = [...a.positions.values()].some((p) => p.size !== 0n);
  if (!cp && open) fail('E-NO-COUNTERPARTY', `${mech.id ?? 'mechanism'} needs a counterparty to liquidate ${a.id}`);

  // R-WF-7: the bankrupt's markets, taken before closing.
  const bankruptMarkets = sortedIds([...a.positions].filter(([, p]) => p.size !== 0n || p.on !== 0n).map(([mid]) => mid));

  // R-LIQ-2 / R-LIQ-3: close every position (id order) to the counterparty at the fill price.
  let closedNotional = 0n; // valued at mark, for the fee (R-LIQ-5)
  for (const mid of sortedIds(a.positions.keys())) {
    const p = a.positions.get(mid);
    if (p.size === 0n) continue;
    const mark = st.markets.get(mid).mark;
    const price = fills.get(mid) ?? mark;
    const s = p.size;
    closedNotional += abs(s) * mark;
    const q = position(cp, mid);
    p.size -= s;
    p.on -= s * price;
    q.size += s;
    q.on += s * price;
    const [seller, buyer] = s > 0n ? [a.id, cp.id] : [cp.id, a.id];
    events.push({ rule: 'R-LIQ-3', kind: 'trade', src: acc(seller), dst: acc(buyer), amount: abs(s) * price, layer: 'close', market: mid, size: abs(s), price });
  }

  const eq = equity(st, a);
  if (eq >= 0n) {
    // R-LIQ-5: the surplus rule.
    let take = 0n;
    if (mech.surplus === 'all') take = eq;
    else if (mech.surplus === 'fee') take = min(eq, divFloor(mech.fee_ppm * closedNotional, PPM));
    if (take > 0n) {
      const key = sinkKey(st, mech, mech.surplus_sink, bankruptMarkets);
      a.collateral -= take;
      addLayer(st, key, take);
      transfer(events, 'R-LIQ-5', acc(a.id), lay(key), take, 'surplus');
    }
    return;
  }

  // R-WF-1: deficit D, drawn from the layers in order (R-WF-2, R-WF-3).
  let D = -eq;
  for (const layer of mech.layers) {
    if (D === 0n) break;
    const keys = layer.scope === 'market' ? bankruptMarkets.map((m) => `${layer.name}:${m}`) : [layer.name];
    let capLeft = layer.cap > 0n ? layer.cap : null;
    for (const key of keys) {
      if (D === 0n || capLeft === 0n) break;
      let pay = min(D, max(0n, (st.layers.get(key) ?? 0n) - layer.reserve));
      if (capLeft !== null) pay = min(pay, capLeft);
      if (pay <= 0n) continue;
      addLayer(st, key, -pay);
      a.collateral += pay;
      D -= pay;
      if (capLeft !== null) capLeft -= pay;
      transfer(events, 'R-WF-3', lay(key), acc(a.id), pay, layer.name);
    }
  }

  // Final resort: pro-rata profit haircut (R-HC).
  if (D > 0n && mech.final.policy === 'haircut') {
    const f = mech.final;
    const scopeSet = f.scope === 'bankrupt_markets' ? new Set(bankruptMarkets) : null;
    const weights = [];
    for (const id of sortedIds(st.accounts.keys())) {
      if (id === a.id) continue;
      const o = st.accounts.get(id);
      const e = equity(st, o);
      const profit = f.profit === 'total_gain' ? e - o.net_deposit : upnl(st, o, scopeSet); // R-HC-1
      let w = max(0n, min(profit, e));
      if (f.eligibility === 'net_profitable' && upnl(st, o) <= 0n) w = 0n;
      if (w > 0n) weights.push([id, w]);
    }
    const W = weights.reduce((s, [, w]) => s + w, 0n);
    const R = min(D, W); // R-HC-2
    const shares = allocate(R, weights, f.rounding);
    let collected = 0n;
    for (const [id, share] of shares) {
      if (share === 0n) continue;
      st.accounts.get(id).collateral -= share;
      a.collateral += share;
      collected += share;
      transfer(events, 'R-HC-2', acc(id), acc(a.id), share, 'haircut');
    }
    // R-HC-3: an over-collection (ceil) goes from the bankrupt to the surplus sink.
    if (collected > D) {
      const over = collected - D;
      const key = sinkKey(st, mech, mech.surplus_sink, bankruptMarkets);
      a.collateral -= over;
      addLayer(st, key, over);
      transfer(events, 'R-HC-3', acc(a.id), lay(key), over, 'haircut');
      collected = D;
    }
    D -= collected;
    // R-HC-4: a rounding shortfall R - collected is charged to the residue sink as far as it can pay.
    const shortfall = R > collected ? R - collected : 0n;
    if (shortfall > 0n && f.residue_sink !== 'bad_debt') {
      const layer = mech.layers.find((l) => l.name === f.residue_sink);
      const key = sinkKey(st, mech, f.residue_sink, bankruptMarkets);
      const pay = min(shortfall, max(0n, (st.layers.get(key) ?? 0n) - (layer?.reserve ?? 0n)));
      if (pay > 0n) {
        addLayer(st, key, -pay);
        a.collateral += pay;
        D -= pay;
        transfer(events, 'R-HC-4', lay(key), acc(a.id), pay, 'residue');
      }
    }
  }

  // R-WF-5: what nobody covered is written off.
  if (D > 0n) {
    st.bad_debt += D;
    a.collateral += D;
    transfer(events, 'R-WF-5', 'bad_debt', acc(a.id), D, 'bad_debt');
  }
}

// ---------------------------------------------------------------- step

/**
 * Apply one operation. Returns {ok: true, state, events} (JSON forms) or
 * {ok: false, error: CODE, message}. The input JSON is never modified.
 */
export function step(mechanismJson, stateJson, op) {
  try {
    const mech = parseMechanism(mechanismJson);
    const st = parseState(stateJson);
    const events = [];
    if (!op || typeof op !== 'object') fail('E-SCENARIO', 'op: not an object');
    switch (op.op) {
      case 'deposit':
        opDeposit(st, op, events);
        break;
      case 'withdraw':
        opWithdraw(st, op, events);
        break;
      case 'trade':
        opTrade(st, op, events);
        break;
      case 'set_mark':
        opSetMark(st, op);
        break;
      case 'funding':
        opFunding(st, op, events);
        break;
      case 'liquidate':
        opLiquidate(st, op, mech, events);
        break;
      case 'advance_time':
        opAdvanceTime(st, op);
        break;
      case 'deleverage': // R-POOL-3: a keeper's order needs a pool, which this mechanism has not
        fail('E-ADL', `${mech.id ?? 'mechanism'} has no pool to deleverage against`);
        break;
      default:
        fail('E-SCENARIO', `op: unknown operation ${JSON.stringify(op.op)}`);
    }
    checkBounds(st);
    return { ok: true, state: dumpState(st), events: events.map(dumpEvent) };
  } catch (e) {
    if (e instanceof WaterfallError) return { ok: false, error: e.code, message: e.message };
    throw e;
  }
}

// ---------------------------------------------------------------- protocol (R-CONF-2)

function handle(req) {
  if (req.type === 'hello') {
    return { type: 'hello', protocol: PROTOCOL, implementation: IMPLEMENTATION, version: VERSION, mechanisms: MECHANISMS };
  }
  if (req.type === 'step') {
    const r = step(req.mechanism, req.state, req.op);
    return r.ok
      ? { type: 'result', id: req.id, ok: true, state: r.state, events: r.events }
      : { type: 'result', id: req.id, ok: false, error: r.error };
  }
  return { type: 'error', id: req.id ?? null, message: `unknown request type ${JSON.stringify(req.type)}` };
}

async function main() {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    let out;
    try {
      out = handle(JSON.parse(line));
    } catch (e) {
      out = { type: 'error', message: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
