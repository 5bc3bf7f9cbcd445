"""Boundary scenarios (R-CONF-1, issue 21 third pass): small venues built so that one value
sits exactly on a boundary a rule tests, with the value drawn at, one unit under and one
unit over it. The generated scenarios (waterfall/conformance/venues.py) reach the branches;
these reach the values between branches that `make kit-mutate` showed no vector had:

- R-LIQ-6 partial liquidation: a position's notional exactly at `step_threshold`, one-lot
  long positions closed by a partial step, equity at `step_min_margin_ppm` of the
  maintenance requirement (-1/0/+1), a last partial step a cooldown -1/0/+1 s ago;
- R-POOL-2 / R-POOL-3 / R-POOL-4 pool: a PnL of exactly +-1 (and small losses) paid while the
  side's PnL is above the cap, an ADL order against a pool of value 0, opening and adding
  trades with a funded pool;
- R-ADL-7 fund first: a one-lot (or two-lot) position filled off its planned price so that
  equity after the fill is exactly 0, -1 or +1, with the layers' budget 0, 1, small or ample;
- every mechanism: a bankruptcy by exactly 1 or 2 in one or two markets, layers at 0, 1,
  their reserve -1/0/+1 or the deficit plus the reserve -1/0/+1, a defaulter still holding a
  default-fund contribution, time records at their boundaries;
- every mechanism: a trade that closes a position to exactly zero (or one lot short of it,
  or a flip) by an account below its initial requirement;
- every mechanism: a trade taking an open notional to exactly 10^36 -1/0/+1 (R-UNIT-3);
- R-ADL-6b dYdX's collateral check: an ADL counterparty left below initial margin whose
  maintenance requirement is 0 or 1 before and after the fill, with the close price on
  either side of the mark (previous mark).

Each builder is seeded by the same Draw as the generator; the tags name the boundary reached, so vectors.py keeps the first vector
of each (a feature, like a branch). Money stays integer; every value is checked by the
model's own validate_state.
"""
from __future__ import annotations

from typing import Callable

from waterfall.conformance.venues import Draw, market_ids, time_records, windows_of
from waterfall.model.mechanism import Adl, Mechanism, Pool
from waterfall.model.ops import AdvanceTime, Deleverage, Liquidate, Op, Trade
from waterfall.model.replay import prepare
from waterfall.model.state import Account, Market, Position, State, margin_requirement, validate_state
from waterfall.model.units import MAX_BALANCE, PPM

Scenario = tuple[State, tuple[Op, ...]]


def edge_scenario(d: Draw, mech: Mechanism) -> Scenario:
    """R-CONF-1: one boundary scenario for `mech`, from the builders its rules admit or the
    ones every mechanism admits."""
    builders = [b for b, applies in BUILDERS if applies(mech)]
    slot = d.int(0, len(builders))  # each rule of the mechanism one slot, the every-mechanism edges one
    return builders[slot](d, mech) if slot < len(builders) else d.pick(GENERIC)(d, mech)


def _venue(mech: Mechanism, markets: dict[str, Market], accounts: dict[str, Account], layers: int,
           **records: object) -> State:
    """R-STATE-5: the state fitted to `mech` (R-RUN-1), every layer key funded with `layers`."""
    keys = mech.layer_keys(sorted(markets))
    state = State(markets, accounts, {k: layers for k in keys}, **records)  # type: ignore[arg-type]
    return validate_state(prepare(state, mech))


def _balanced(positions: dict[str, dict[str, Position]], holder: str) -> None:
    """R-STATE-5: `holder` takes the opposite of every market's sizes and open notionals."""
    for m in {m for ps in positions.values() for m in ps}:
        size = -sum(ps[m].size for ps in positions.values() if m in ps)
        notional = -sum(ps[m].open_notional for ps in positions.values() if m in ps)
        if size or notional:
            positions[holder][m] = Position(size, notional)


# ------------------------------------------------------------------ R-LIQ-6 partial liquidation


def partial_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-LIQ-6: 'a' holds one or two positions (one-lot longs among them) with notionals at,
    under or over step_threshold, equity at step_min_margin_ppm of its requirement -1/0/+1 (or
    between it and the requirement, or 0), a last partial step a cooldown -1/0/+1 s ago; 'c'
    liquidates it, again after the cooldown -1/0/+1 s."""
    rule = mech.liquidation
    threshold = max(1, rule.step_threshold)
    ids = market_ids(mech)[:d.int(1, 2)]
    markets, positions = {}, {"a": {}, "b": {}, "c": {}}
    for m in ids:
        lots = d.pick((1, 1, 2, 5))
        exact = max(1, threshold // lots)
        mark = d.pick((exact, exact, exact + 1, 2 * exact + 1, max(1, exact - 1)))
        markets[m] = Market(m, mark, 100_000, d.pick((50_000, 61_729)))
        sign = d.pick((1, 1, -1))
        positions["a"][m] = Position(sign * lots, sign * lots * mark)
        if lots * mark in (threshold, threshold + 1):
            d.tags.add(f"position notional {'at' if lots * mark == threshold else 'one unit over'} step_threshold")
        if lots == 1 and sign > 0 and mark > threshold:
            d.tags.add("one-lot long above step_threshold")
    _balanced(positions, "b")
    probe = State(markets, {"a": Account(0, 0, positions["a"])})
    mm = margin_requirement(probe, probe.accounts["a"], initial=False)
    at_min = -(-rule.step_min_margin_ppm * mm // PPM)  # the least equity with eq x 10^6 >= min x mm
    kind = d.int(0, 3)
    equity = (max(0, at_min + d.pick((-1, 0, 0, 1))), d.int(0, max(0, at_min - 1)), max(0, mm - 1 - d.int(0, mm // 10)), 0)[kind]
    d.tags.add(("equity at step_min_margin_ppm -1/0/+1", "equity below step_min_margin_ppm",
                "equity between step_min_margin_ppm and maintenance", "equity 0 in a partial liquidation")[kind])
    big = 10 * (mm + 1) * PPM
    accounts = {"a": Account(equity, equity, positions["a"]), "b": Account(big, big, positions["b"]),
                "c": Account(big, big, {})}
    clock = 100_000 + d.int(0, 99)
    cooldown = rule.step_cooldown
    partial = {}
    if d.int(0, 1):
        partial = {"a": clock - max(cooldown, 1) + d.int(-1, 1)}
        d.tags.add("last partial step a cooldown -1/0/+1 s ago")
    state = _venue(mech, markets, accounts, d.pick((0, big)), clock=clock, partial_at=partial)
    wait = AdvanceTime(max(1, cooldown + d.int(-1, 1)))
    return state, (Liquidate("a", "c", {}, "0"), wait, Liquidate("a", "c", {}, "0"))


# ------------------------------------------------------------------ R-POOL pool


def pool_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-POOL-2/3/4: trader 'a' holds a few lots whose PnL is +-1, 0 or a small loss while 'c'
    on the same side holds a PnL far above the pool's cap; the pool's value is 0, small or
    ample; then decreases against the pool, an ADL order, an opening trade of the flat 'e' and
    an adding trade of 'a' with the pool."""
    policy: Pool = mech.final  # type: ignore[assignment]
    pool = policy.account
    m = market_ids(mech)[0]
    mark = d.pick((7, 1_000, 10**6))
    sign = d.pick((1, -1))
    lots = d.pick((1, 1, 2, 3))
    pnl = d.pick((1, 1, -1, 0, -2, 2, sign * lots * (mark - 1)))  # the last: an entry value of 1 per lot
    positions: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "c", "e", pool)}
    positions["a"][m] = Position(sign * lots, sign * lots * mark - pnl)
    positions["c"][m] = Position(sign * 100, sign * 100 * mark - 50 * mark)  # profit 50 x mark either side
    _balanced(positions, "b")
    value = d.pick((0, mark, 10 * mark, 200 * mark))
    shape = f"PnL {pnl if abs(pnl) <= 2 else 'to an entry value of 1 per lot'} on {lots} lot(s), " \
        f"pool value {'0' if value == 0 else 'under the side PnL'}"
    d.tags.add("pool " + shape)
    rich = 1_000 * mark * 100
    accounts = {i: Account(rich, rich, positions[i]) for i in ("a", "b", "c", "e")}
    accounts[pool] = Account(value, value, positions[pool])
    state = _venue(mech, {m: Market(m, mark, 100_000, 50_000)}, accounts, 0)
    close = (Trade(pool, "a", m, lots, mark) if sign > 0 else Trade("a", pool, m, lots, mark))
    ops = {"decrease": close, "deleverage": Deleverage("a", m, lots),
           "open": Trade("e", pool, m, 1, mark) if d.int(0, 1) else Trade(pool, "e", m, 1, mark),
           "add": Trade("a", pool, m, 1, mark) if sign > 0 else Trade(pool, "a", m, 1, mark)}
    first = d.pick(sorted(ops))
    d.tags.add(f"pool {first}")
    d.tags.add(f"pool {first} first, {shape}")
    rest = [ops[k] for k in sorted(ops) if k != first and d.int(0, 1)]
    return state, (ops[first], *rest)


# ------------------------------------------------------------------ R-ADL-6b margin ratio


def ratio_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-ADL-6b: bankrupt 'a' is long in X; counterparty 'j' is short in X (mm_ppm 0 or not)
    and long in Y whose requirement is 0 or 1; j's equity is 0, 1, about its initial
    requirement or ample; a well-funded 'b' may hold part of the short side (so j's ranking
    ratio, over an equity of 1, decides the order: R-ADL-4); the previous mark is the mark
    -1/0/+1 or 10 % off; 'a' is liquidated by ADL."""
    x, y = market_ids(mech)[:2]  # MARKETS follow the named ones: always two or more
    mark = d.pick((1, 10, 1_000, 99_991))  # 1: one lot entered at 1 (open notional x size = 1, R-ADL-4)
    prev = max(1, mark + d.pick((-1, 0, 1, -mark // 10, mark // 10, 1 - mark)))  # 1 - mark: a previous mark of 1
    mm_x = d.pick((0, 0, 50_000))
    y_mm = d.pick((0, 1))  # Y's requirement: 0, or 1 (one lot at mark 1, mm_ppm 1, rounded up)
    markets = {x: Market(x, mark, 100_000, mm_x, prev), y: Market(y, 1, 100_000, y_mm)}
    lots = d.pick((1, 2, 3, 5))
    other = d.pick((0, 0, 1, lots))  # lots of the well-funded short 'b', ranked against j
    positions: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "j", "k")}
    positions["a"][x] = Position(lots + other, (lots + other) * mark)
    positions["j"][x] = Position(-lots, -lots * mark)
    positions["b"][x] = Position(-other - 1, -(other + 1) * mark)
    positions["k"][x] = Position(1, mark)  # a second long: the short side exceeds the bankrupt's size, so
    positions["j"][y] = Position(1, 1)     # the ADL order decides who is filled last, partially
    positions["k"][y] = Position(-1, -1)
    probe = State(markets, {"j": Account(0, 0, positions["j"])})
    im = margin_requirement(probe, probe.accounts["j"], initial=True)
    big = 1_000 * mark * (lots + other)
    eq_j = d.pick((0, 1, 1, im // 2, max(0, im - 1), big))  # 1: a ranking ratio over exactly 1 (R-ADL-4)
    d.tags.add(f"ADL counterparty {'below' if eq_j < im else 'above'} initial margin, requirements x "
               f"{'0' if mm_x == 0 else '>0'}, y {y_mm}, previous mark {'at' if prev == mark else 'off'}"
               + (", equity 1" if eq_j == 1 else "") + (", a second short" if other else ""))
    loss = d.int(1, lots * mark)
    accounts = {"a": Account(-loss, 0, positions["a"]), "j": Account(eq_j, eq_j, positions["j"]),
                "k": Account(big, big, positions["k"]), "b": Account(big, big, positions["b"])}
    state = _venue(mech, markets, accounts, 0, clock=1)
    return state, (Liquidate("a", None, {}, str(d.int(0, 3))),)


# ------------------------------------------------------------------ R-ADL-7 fund first


def fund_first_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-ADL-7: 'a' (one or two lots, long or short, below maintenance) is liquidated to 'c' at
    a fill price that leaves its equity exactly 0, -1, +1 or a loss, off the planned price;
    the layers hold 0, 1, a little or plenty; 'b' and 'e' hold the opposite side for ADL."""
    m = market_ids(mech)[0]
    mark = d.pick((1_000, 10**6))
    lots = d.pick((1, 1, 2))
    sign = d.pick((1, 1, -1))
    coll = d.int(0, lots * mark * 50_000 // PPM - 1)
    target = d.pick((0, 0, -1, 1, -d.int(2, mark)))
    fill = max(1, mark + sign * (target - coll) // lots)
    d.tags.add(f"fund first: {lots} lot(s) {'long' if sign > 0 else 'short'}, equity after the fill "
               + ("0" if target == 0 else "+-1" if abs(target) == 1 else "a loss"))
    positions: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "c", "e")}
    positions["a"][m] = Position(sign * lots, sign * lots * mark)
    positions["e"][m] = Position(-sign, -sign * mark)
    _balanced(positions, "b")
    big = 1_000 * mark * lots
    accounts = {i: Account(big, big, positions[i]) for i in ("b", "c", "e")}
    accounts["a"] = Account(coll, coll, positions["a"])
    fund = d.pick((0, 1, d.int(1, mark), big))
    state = _venue(mech, {m: Market(m, mark, 100_000, 50_000, max(1, mark + d.int(-2, 2)))}, accounts, fund, clock=1)
    return state, (Liquidate("a", "c", {m: fill}, str(d.int(0, 3))),)


# ------------------------------------------------------------------ a deficit of 1 (every mechanism)


def deficit_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-WF-1..R-WF-9 and every final policy at its smallest inputs: 'a' (long in one or two
    markets) is bankrupt by exactly 1, 2 or a little more; each layer balance is 0, 1, its
    reserve -1/0/+1 or the deficit plus its reserve -1/0/+1; 'a' may still hold a default-fund
    contribution; 'b' and 'e' hold the profitable short side (haircuts, levies, ADL); the
    mechanism's time records drawn at their boundaries one time in two; 'a' is liquidated at
    mark to 'c' (or, under ADL, alone)."""
    ids = market_ids(mech)[:d.int(1, 2)]
    mark = d.pick((10, 1_000, 10**6))
    deficit = d.pick((1, 1, 2, d.int(3, mark)))
    markets = {m: Market(m, mark, 100_000, 50_000, mark) for m in ids}
    positions: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "c", "e")}
    held = d.pick((ids, ids, ids[1:], ()))  # not the venue's first market; no position at all (collateral < 0)
    for m in ids:
        lots = d.pick((1, 2, 7))
        if m in held:
            positions["a"][m] = Position(lots, lots * mark)
        positions["e"][m] = Position(-1, -mark - d.int(1, mark))  # short since a higher price: a profit
        positions["c"][m] = Position(1, mark)  # a second long: the ADL order decides who is filled last
    _balanced(positions, "b")
    big = 1_000 * mark * 10
    accounts = {i: Account(big, big - d.int(0, big // 2), positions[i]) for i in ("b", "c", "e")}
    accounts["a"] = Account(-deficit, d.pick((0, deficit, big)), positions["a"])
    if d.int(0, 2) == 0:  # 'e' at a loss with equity exactly 0 or -1: no ADL score (R-ADL-4)
        for m in ids:
            positions["e"][m] = Position(-1, -mark + 1)
        rebalanced = {i: dict(positions[i]) for i in ("a", "c", "e")} | {"b": {}}  # b: the rest of the short side
        _balanced(rebalanced, "b")
        positions["b"] = rebalanced["b"]
        accounts["b"] = Account(big, big, positions["b"])
        accounts["e"] = Account(len(ids) - d.int(0, 1), 0, positions["e"])
        d.tags.add("an opposite holder at a loss with equity 0 or -1")
    reserves = {spec.name: spec.reserve for spec in mech.layers}
    layers = {}
    for k in mech.layer_keys(sorted(markets)):
        reserve = reserves.get(k.partition(":")[0], 0)
        layers[k] = max(0, d.pick((0, 1, reserve + d.int(-1, 1), deficit + reserve + d.int(-1, 1), big)))
    fund = {i: d.pick((1, 5, big)) for i in ("a", "b", "e") if d.int(0, 1)}
    d.tags.add(f"deficit {deficit if deficit <= 2 else 'small'} in {len(held)} of {len(ids)} market(s)"
               + (", the defaulter holds a contribution" if "a" in fund else ""))
    state = prepare(State(markets, accounts, layers, fund, 0, clock=1), mech)
    state = validate_state(time_records(d, state, mech) if d.int(0, 1) else state)
    adl = isinstance(mech.final, Adl) and d.int(0, 1)
    ops: tuple[Op, ...] = (Liquidate("a", None if adl else "c", {}, str(d.int(0, 3))),)
    spans = windows_of(mech)
    if spans:  # then to the next window edge: a settlement haircut, a new window or period
        w = d.pick(spans)
        ops += (AdvanceTime(w - state.clock % w),)
    return state, ops


# ------------------------------------------------------------------ R-OP-3 a trade that closes to zero


def close_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-OP-3 / R-MARGIN-2: 'a' holds two positions with equity below its initial requirement
    (or below maintenance) and trades one of them to exactly zero with 'b' at mark (no
    initial-margin check for a reducing trade), or one lot less, or one lot beyond (a flip)."""
    ids = market_ids(mech)[:2]
    mark = d.pick((10, 1_000))
    lots = d.pick((1, 3))
    positions: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b")}
    for m in ids:
        positions["a"][m] = Position(lots, lots * mark)
    _balanced(positions, "b")
    markets = {m: Market(m, mark, 100_000, 50_000) for m in ids}
    probe = State(markets, {"a": Account(0, 0, positions["a"])})
    im = margin_requirement(probe, probe.accounts["a"], initial=True)
    kind = d.int(0, 2)
    coll = (im - 1, im // 2 + 1, 0)[kind]
    big = 1_000 * mark * lots
    accounts = {"a": Account(coll, coll, positions["a"]), "b": Account(big, big, positions["b"])}
    size = max(1, lots + d.pick((0, 0, -1, 1)))
    d.tags.add(("a trade closing to zero" if size == lots else "a reducing or flipping trade")
               + (" below initial margin", ", half the initial margin left", ", no collateral left")[kind])
    return _venue(mech, markets, accounts, 0), (Trade("b", "a", ids[0], size, mark),)


# ------------------------------------------------------------------ R-UNIT-3 an open notional at the bound


def bound_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-UNIT-3: a trade of one lot at 10^18 that takes an open notional to exactly
    MAX_BALANCE (10^36) -1/0/+1: allowed at the bound, refused (E-BOUND) one unit beyond."""
    m = market_ids(mech)[0]
    mark, size = 10**18, 10**18 - 2
    off = d.pick((-1, 0, 0, 1))
    on = MAX_BALANCE + off - mark
    coll = MAX_BALANCE - 10
    positions = {"a": {m: Position(size, on)}, "b": {m: Position(-size, -on)}}
    accounts = {i: Account(coll, coll, positions[i]) for i in ("a", "b")}
    grows = d.int(0, 1)  # the long buys (its open notional grows) or sells
    d.tags.add(f"an open notional {'taken' if grows else 'one lot from'} 10^36 {off:+d}")
    buy = Trade("a", "b", m, 1, mark) if grows else Trade("b", "a", m, 1, mark)
    return _venue(mech, {m: Market(m, mark, 100_000, 50_000)}, accounts, 0), (buy,)


def _fund_first(mech: Mechanism) -> bool:
    """R-ADL-7 applies: ADL that sends lots to the book while the layers can pay."""
    return isinstance(mech.final, Adl) and mech.final.fund_first


def _margin_ratio(mech: Mechanism) -> bool:
    """R-ADL-6b applies: ADL with skip_insolvent and dYdX's margin_ratio check."""
    f = mech.final
    return isinstance(f, Adl) and f.skip_insolvent and f.collateral_check == "margin_ratio"


BUILDERS: tuple[tuple[Callable[[Draw, Mechanism], Scenario], Callable[[Mechanism], bool]], ...] = (
    (partial_edge, lambda mech: mech.liquidation.step_ppm > 0),
    (pool_edge, lambda mech: isinstance(mech.final, Pool)),
    (ratio_edge, _margin_ratio),
    (fund_first_edge, _fund_first),
)
GENERIC: tuple[Callable[[Draw, Mechanism], Scenario], ...] = (deficit_edge, close_edge, bound_edge)
