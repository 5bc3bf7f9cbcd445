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

Fourth pass (LATE_BUILDERS, seeds EDGES.. in vectors.py, tried after everything else so every
vector kept before stays kept): ADL queues on a ranking boundary (R-ADL-4), a per-market levy
(R-LEVY-7), a partial step in the venue's second market (R-LIQ-6), a settlement haircut's
residue (R-HC-7/R-HC-4), a warming burn at equity <= 0 (R-WH-4), a profit-based withdrawal
charge (R-WH-2), drawdown records at their boundaries (R-WF-8/R-WF-14/R-TIME-3), a default
fund beside its tranche (R-CH-5), an assessment allowance used up (R-CH-4).

Fifth pass (FIFTH_BUILDERS, the FIFTH_EDGES seeds after those, tried last): a pool ADL order of 0
lots or landing exactly on adl_floor_ppm, a pool whose cap is 0 (R-POOL-2/3), a bitmex-ranked
holder at equity exactly 0 (R-ADL-4b), an ADL counterparty left exactly at its collateral
check's limit (R-ADL-6), a withdrawal charge on base 'amount' beside accounts at equity <= 0
(R-WH-2), a net PnL of exactly 1 under 'net_profitable' (R-HC-1), a position of exactly 10^18
lots (R-UNIT-3), a bankrupt without a position under an after-ADL layer (R-WF-12), a venue of
isolated markets only (R-WF-10).

Each builder is seeded by the same Draw as the generator; the tags name the boundary reached, so vectors.py keeps the first vector
of each (a feature, like a branch). Money stays integer; every value is checked by the
model's own validate_state.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from waterfall.conformance.venues import Draw, market_ids, time_records, windows_of
from waterfall.model.adl import bankruptcy_price
from waterfall.model.fill_price import fill_quote
from waterfall.model.mechanism import Adl, Haircut, Levy, Mechanism, Pool, WithdrawalHaircut
from waterfall.model.pool import side_factor
from waterfall.model.tx import Tx
from waterfall.model.ops import AdvanceTime, Deleverage, Liquidate, Op, Trade, Withdraw
from waterfall.model.replay import prepare
from waterfall.model.state import Account, Market, Position, State, margin_requirement, validate_state
from waterfall.model.units import MAX_BALANCE, PPM, RANK_SCALE

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
    return _partial(d, mech, market_ids(mech)[:d.int(1, 2)])


def _partial(d: Draw, mech: Mechanism, ids: tuple[str, ...]) -> Scenario:
    """R-LIQ-6: partial_edge's scenario with 'a' holding the markets `ids`."""
    rule = mech.liquidation
    threshold = max(1, rule.step_threshold)
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


# ------------------------------------------------------------------ fourth pass (issue 21d)
# Tried after every builder above (seeds EDGES.., vectors.py), so the vectors kept before
# stay kept byte for byte: each reaches a state the kit-mutate survivors of the third pass need.


def ranking_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-ADL-3 / R-ADL-4: bankrupt 'a' holds one lot; two opposite holders 'y' < 'z' of one or
    two lots each, so the first in ADL order takes the whole fill: 'z' with a PnL of exactly 1
    (bitmex), 'z' at a loss with equity 0 or -1 beside 'y' at a smaller loss (undefined score),
    a one-lot long 'z' ahead of a two-lot long (hyperliquid_side), 'z' one lot entered at a
    total of 1 (open notional x size = 1), or 'z' scored exactly one unit above 'y' (profit,
    hyperliquid_side: two scores closer than the number of holders). 'k' holds the rest."""
    ranking = mech.final.ranking  # type: ignore[union-attr]
    cases = {"bitmex": ("pnl 1", "equity <= 0"), "profit": ("one unit apart", "equity <= 0"),
             "hyperliquid_side": ("one-lot long", "entered at 1", "one unit apart", "equity <= 0")}[ranking]
    case = d.pick(cases)
    m = market_ids(mech)[0]
    mark = d.pick((1_000, 10_007))
    side = -1 if case in ("one-lot long", "entered at 1") else 1  # the bankrupt's side; the queue is the other
    q = -side  # the queue's sign
    big = 10**6 * mark * mark
    eq: dict[str, int] = {}
    pos: dict[str, dict[str, Position]] = {i: {} for i in ("a", "k", "y", "z")}
    if case == "pnl 1":  # u = 1: the ratio's two forms differ (R-ADL-4b)
        pos["z"][m], eq["z"] = Position(-1, -mark - 1), big
        pos["y"][m], eq["y"] = Position(-1, -mark - 10), mark
    elif case == "equity <= 0":  # 'z' unscored (ranks last), 'y' at a loss but solvent
        loss = d.pick((1, 5))
        pos["z"][m], eq["z"] = Position(q, q * mark - q * loss), -d.int(0, 1)
        pos["y"][m], eq["y"] = Position(q, q * mark - q), big
    elif case == "one-lot long":
        pos["z"][m], eq["z"] = Position(1, mark), 10 * mark
        pos["y"][m], eq["y"] = Position(2, 2 * mark), 100 * mark
    elif case == "entered at 1":
        pos["z"][m], eq["z"] = Position(1, 1), mark * mark
        pos["y"][m], eq["y"] = Position(2, 2 * mark), 10 * mark
    else:  # one unit apart: profit scores P and P + 1; hyperliquid_side shorts |open notional| at equity RANK_SCALE
        p = d.int(1, 50)
        pos["y"][m] = Position(-1, -mark - p)
        pos["z"][m] = Position(-1, -mark - p - 1)
        eq["y"] = eq["z"] = RANK_SCALE if ranking == "hyperliquid_side" else big
    pos["a"][m] = Position(side, side * mark)
    _balanced(pos, "k")
    accounts = {i: Account(eq[i] - (pos[i][m].size * mark - pos[i][m].open_notional), 0, pos[i]) for i in ("y", "z")}
    deficit = d.pick((1, mark // 2))
    accounts["a"] = Account(-deficit, 0, pos["a"])
    accounts["k"] = Account(big, big, pos["k"])
    d.tags.add(f"ADL queue ({ranking}): {case}")
    state = _venue(mech, {m: Market(m, mark, 100_000, 50_000, mark)}, accounts, 0, clock=1)
    return state, (Liquidate("a", None, {}, str(d.int(0, 3))),)


def levy_market_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-LEVY-7 / R-WF-15: bankrupt 'a' in two markets with different open interest, a
    deficit of 2 or a little more split over them: 'a' at entry = mark in both (no loss: the
    first market takes it all), at a loss in one, or holding the second market only; the
    layers (per-market ones included) hold 0, 1 or their reserve; liquidated to 'c'."""
    x, y = market_ids(mech)[:2]
    mark = d.pick((10, 1_000))
    kind = d.pick(("no loss in either market", "a loss in the second market", "the second market only"))
    pos: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "c", "e")}
    loss = d.int(1, mark) if kind == "a loss in the second market" else 0
    if kind != "the second market only":
        pos["a"][x] = Position(1, mark)
    pos["a"][y] = Position(2, 2 * mark + loss)
    pos["e"][y] = Position(-3, -3 * mark)  # Y's open interest differs from X's
    pos["c"][x] = Position(1, mark)
    _balanced(pos, "b")
    deficit = d.pick((2, 3, d.int(4, 60)))
    big = 1_000 * mark * 100
    accounts = {i: Account(big, big, pos[i]) for i in ("b", "c", "e")}
    accounts["a"] = Account(loss - deficit, 0, pos["a"])
    reserves = {spec.name: spec.reserve for spec in mech.layers}
    fills = {k: d.pick((0, 1, "reserve", "ample")) for k in mech.layer_keys([x, y])}
    layers = {k: {"reserve": reserves.get(k.partition(":")[0], 0), "ample": big}.get(f, f)  # type: ignore[call-overload]
              for k, f in fills.items()}
    d.tags.add(f"per-market levy: {kind}, deficit {deficit if deficit <= 3 else 'small'}, layers "
               + ", ".join(f"{k} {f}" for k, f in sorted(fills.items())))
    state = validate_state(prepare(State({x: Market(x, mark, 100_000, 50_000, mark),
                                          y: Market(y, mark, 100_000, 50_000, mark)}, accounts, layers, clock=1), mech))
    return state, (Liquidate("a", "c", {}, "0"),)


def partial_second_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-LIQ-6 / R-WF-6: partial_edge's scenario with 'a' in the venue's second market only,
    so the fee's sink key names the account's first market, not the venue's."""
    first, second = market_ids(mech)[:2]
    state, ops = _partial(d, mech, (second,))
    p = state.accounts["a"].positions[second]
    over = abs(p.size) * state.markets[second].mark > mech.liquidation.step_threshold
    shape = f"second market only: {abs(p.size)} lot(s), notional {'over' if over else 'at most'} step_threshold, "
    d.tags |= {shape + t for t in d.tags}
    markets = {first: state.markets[second]._replace(id=first), **state.markets}  # the venue's first market, empty
    return validate_state(prepare(replace(state, markets=markets), mech)), ops


def settlement_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-HC-7 / R-HC-4: a deferred loss of 1, 2 or a few units in the venue's first or second
    market, profitable holders there whose floor shares leave a residue, the residue sink's
    balance 0, 1 or ample; time advanced to the window's end."""
    policy: Haircut = mech.final  # type: ignore[assignment]
    ids = market_ids(mech)[:2]
    m = d.pick(ids)
    mark = d.pick((10, 1_000))
    pos: dict[str, dict[str, Position]] = {i: {} for i in ("l", "p", "q", "r")}
    for i, gain in zip(("p", "q", "r"), (1, d.pick((1, 2)), d.pick((1, 3, 4)))):
        pos[i][m] = Position(1, mark - gain)
    _balanced(pos, "l")
    big = 1_000 * mark * 10
    accounts = {i: Account(big, big, pos[i]) for i in pos}
    loss = d.pick((1, 2, 5, 7))
    fill = d.pick((0, 1, big))
    layers = {k: fill for k in mech.layer_keys(list(ids))}
    window = policy.window
    clock = window * d.int(1, 3) - d.int(1, 2)
    where = "the first" if m == ids[0] else "the second"
    d.tags.add(f"settlement haircut in {where} market, loss {loss}, sink balance {min(fill, 2)}")
    state = validate_state(prepare(State({i: Market(i, mark, 100_000, 50_000, mark) for i in ids}, accounts,
                                         layers, clock=clock, deferred={m: loss}), mech))
    return state, (AdvanceTime(window - clock % window),)


def warming_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-WH-4: a warming-first burn for bankrupt 'a' (no position, negative collateral) while
    'g' has warming gain and 'w' has equity 0 or -1 with an unmatured gain above it (a
    negative window base): only positive equity is burned."""
    m = market_ids(mech)[0]
    deficit = d.pick((1, 2, 5))
    gain = d.pick((1, 3, 100))
    w_eq = -d.int(0, 1)
    accounts = {"a": Account(-deficit, 0, {}), "g": Account(gain, 0, {}), "w": Account(w_eq, 0, {}),
                "c": Account(10**6, 10**6, {})}
    d.tags.add(f"warming burn beside an account at equity {w_eq} with an unmatured gain, gain {gain}")
    state = validate_state(prepare(State({m: Market(m, 1_000, 100_000, 50_000)}, accounts,
                                         {k: 0 for k in mech.layer_keys([m])}, clock=1,
                                         window_base={"g": 0, "w": -d.pick((1, 5))}), mech))
    return state, (Liquidate("a", "c", {}, "0"),)


def withdrawal_profit_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-WH-2 base 'profit': a shortfall L outstanding, withdrawer 'a' with a matured gain of
    1..3, others at a gain of 0 or below (they count 0 in G), 'a' withdrawing L or more."""
    m = market_ids(mech)[0]
    gain = d.pick((1, 2, 3))
    loss = d.pick((5, 10, 99))
    nd = 10 * loss
    accounts = {"a": Account(nd + gain, nd, {}), "b": Account(nd, nd, {}), "n": Account(nd - d.int(1, 3), nd, {})}
    amount = d.pick((loss, loss + gain, nd))
    d.tags.add(f"withdrawal charge on a gain of {gain} beside accounts at a gain <= 0")
    state = validate_state(prepare(State({m: Market(m, 1_000, 100_000, 50_000)}, accounts,
                                         {k: 0 for k in mech.layer_keys([m])}, clock=1,
                                         window_base={"a": gain}, deferred={m: loss}), mech))
    return state, (Withdraw("a", amount),)


def drawdown_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-WF-8 / R-WF-14 / R-TIME-3: the first drawdown layer holds B with its history at the
    boundaries: a higher peak replaced exactly at the window's start (clock - window), or a
    peak B; under a pool shared per market (drawdown_by 'market') a positive recorded PnL
    drawdown for the bankrupt's market that binds the draw, or a bankrupt holding no position
    (its flows belong to no market). 'a' owes B, more than any allowance; ADL takes the rest."""
    spec = next(s for s in mech.layers if s.drawdown_ppm > 0 and s.drawdown_window > 0)
    m = market_ids(mech)[0]
    mark = 1_000
    window = spec.drawdown_window
    clock = window + 1_000
    bal = d.pick((1_000, 10_007, 99_999))
    kinds = ["peak replaced exactly at the window's start"]
    if spec.drawdown_by == "market":
        kinds += ["market drawdown binds", "bankrupt without a position"]
    kind = d.pick(kinds)
    key = spec.keys([m])[0] if spec.scope == "market" else spec.name
    history: dict[str, tuple[int, ...]] = {key: (clock - 10, bal)}
    if kind == "peak replaced exactly at the window's start":
        history[key] = (clock - window - 5, 2 * bal, clock - window, bal)
    if spec.drawdown_by == "market":
        allowance = bal * spec.drawdown_ppm // PPM
        history[f"{spec.name}:{m}"] = (clock - 5, d.pick((1, max(1, allowance // 2), max(1, allowance - 1))))
    pos: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "c", "e")}
    if kind != "bankrupt without a position":  # ten lots: the fund's budget sends some to the book (R-ADL-7)
        pos["a"][m] = Position(10, 10 * mark)
    pos["e"][m] = Position(-1, -mark - 7)
    pos["c"][m] = Position(1, mark)
    _balanced(pos, "b")
    big = 10**9
    accounts = {i: Account(big, big, pos[i]) for i in ("b", "c", "e")}
    accounts["a"] = Account(-bal, 0, pos["a"])
    layers = {k: (bal if k == key else 0) for k in mech.layer_keys([m])}
    d.tags.add(f"drawdown ({spec.drawdown_mode}, by {spec.drawdown_by or 'balance'}): {kind}")
    state = validate_state(prepare(State({m: Market(m, mark, 100_000, 50_000, mark)}, accounts, layers,
                                         clock=clock, history=history), mech))
    return state, (Liquidate("a", "c", {}, "0"),)  # to the book: the fund pays first (R-ADL-7)


def default_fund_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-CH-2 / R-CH-5: a default-fund draw with the tranche alongside holding 3 or 7 beside
    members' contributions of 1, 1, 1 or 2, 3, 5: the tranche's part is rounded down and the
    members split the rest with the fund's rounding (ceil over-collects, then is clipped)."""
    spec = next(s for s in mech.layers if s.kind == "default_fund" and s.alongside)
    m = market_ids(mech)[0]
    mark = 1_000
    pos: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "m1", "m2", "m3")}
    pos["a"][m] = Position(1, mark)
    _balanced(pos, "b")
    big = 10**9
    accounts = {i: Account(big, big, pos[i]) for i in ("b", "m1", "m2", "m3")}
    deficit = d.pick((4, 5, 9))
    accounts["a"] = Account(-deficit, 0, pos["a"])
    contributions = dict(zip(("m1", "m2", "m3"), d.pick(((1, 1, 1), (2, 3, 5)))))
    tranche = d.pick((3, 7))
    layers = {k: (tranche if k == spec.alongside else 0) for k in mech.layer_keys([m])}
    d.tags.add(f"default fund ({spec.rounding}) beside a tranche of {tranche}, "
               f"contributions {'1, 1, 1' if contributions['m2'] == 1 else '2, 3, 5'}, deficit {deficit}")
    state = validate_state(prepare(State({m: Market(m, mark, 100_000, 50_000)}, accounts, layers,
                                         contributions, clock=1), mech))
    return state, (Liquidate("a", "b", {}, "0"),)


def assessment_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-CH-3 / R-CH-4: an assessment in a period where member 'm1' has used up its allowance
    (assessable 0) while 'm2' has some left; default-fund contributions of 1 so the deficit
    reaches the assessment."""
    m = market_ids(mech)[0]
    mark = 1_000
    pos: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "m1", "m2")}
    pos["a"][m] = Position(1, mark)
    _balanced(pos, "b")
    big = 10**9
    accounts = {i: Account(big, big, pos[i]) for i in ("b", "m1", "m2")}
    deficit = d.pick((3, 10, 100))
    accounts["a"] = Account(-deficit, 0, pos["a"])
    left = d.pick((1, 5, 1_000))
    d.tags.add(f"assessment with a member's allowance used up, another's {min(left, 5)}")
    state = validate_state(prepare(State({m: Market(m, mark, 100_000, 50_000)}, accounts,
                                         {k: 0 for k in mech.layer_keys([m])}, {"m1": 1, "m2": 1}, clock=1,
                                         assessable={"m1": 0, "m2": left}), mech))
    return state, (Liquidate("a", "b", {}, "0"),)


def _ranked_adl(mech: Mechanism) -> bool:
    """R-ADL-4: ADL by a score whose boundaries ranking_edge draws."""
    return isinstance(mech.final, Adl) and mech.final.ranking in ("bitmex", "profit", "hyperliquid_side")


LATE_BUILDERS: tuple[tuple[Callable[[Draw, Mechanism], Scenario], Callable[[Mechanism], bool]], ...] = (
    (ranking_edge, _ranked_adl),
    (levy_market_edge, lambda mech: isinstance(mech.final, Levy) and mech.final.per_market),
    (partial_second_edge, lambda mech: mech.liquidation.step_ppm > 0),
    (settlement_edge, lambda mech: isinstance(mech.final, Haircut) and mech.final.timing == "settlement"),
    (warming_edge, lambda mech: isinstance(mech.final, WithdrawalHaircut) and mech.final.warming_first),
    (withdrawal_profit_edge, lambda mech: isinstance(mech.final, WithdrawalHaircut) and mech.final.base == "profit"),
    (drawdown_edge, lambda mech: any(s.drawdown_ppm > 0 and s.drawdown_window > 0 for s in mech.layers)),
    (default_fund_edge, lambda mech: any(s.kind == "default_fund" and s.alongside for s in mech.layers)),
    (assessment_edge, lambda mech: any(s.kind == "assessment" and s.assessment_period > 0 for s in mech.layers)),
)


def late_edge_scenario(d: Draw, mech: Mechanism) -> Scenario | None:
    """R-CONF-1: one fourth-pass boundary scenario for `mech` (None: no builder applies)."""
    builders = [b for b, applies in LATE_BUILDERS if applies(mech)]
    return d.pick(builders)(d, mech) if builders else None


# ------------------------------------------------------------------ fifth pass (issue 21e)
# Tried after the fourth pass's seeds (FIFTH_EDGES seeds after EDGES + LATE_EDGES, vectors.py),
# so every vector kept before stays kept byte for byte: each reaches a state a kit-mutate
# survivor of the fourth pass needs (docs/mutation.md, Fifth pass).


def pool_order_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-POOL-2/3: a keeper's ADL order of 0 lots (E-INVALID-AMOUNT); an order on the one-lot
    long 'a' that leaves the long side's PnL-to-pool factor exactly at adl_floor_ppm (or one
    unit of PnL under or over it) while 'c', long too, keeps the rest of the side's PnL; or a
    pool whose cap is 0 (value x factor under 10^6) while 'a', the side's only trader, closes
    its profitable lots to it (R-POOL-4)."""
    policy: Pool = mech.final  # type: ignore[assignment]
    pool = policy.account
    m = market_ids(mech)[0]
    mark = 10**6
    kind = d.pick(("an order of 0 lots", "a one-lot long at the ADL floor", "a one-lot long at the ADL floor",
                   "a pool cap of 0"))
    pos: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "c", pool)}
    big = 10**15
    if kind == "a pool cap of 0":
        lots, pnl = d.pick((1, 2)), d.pick((2, 3, 1_000))
        pos["a"][m] = Position(lots, lots * mark - pnl)
        _balanced(pos, pool)  # the pool holds the short side: its trade with 'a' only reduces it
        value = d.pick((0, 1, max(0, (PPM - 1) // max(1, side_factor(policy, policy.max_pnl_factor_ppm)))))
        accounts = {"a": Account(big, big, pos["a"]), "b": Account(big, big, {}), "c": Account(big, big, {}),
                    pool: Account(value, value, pos[pool])}
        d.tags.add(f"pool: {kind}, value {min(value, 2)}, the side's only trader with a PnL of {min(pnl, 3)}")
        state = _venue(mech, {m: Market(m, mark, 100_000, 50_000)}, accounts, 0)
        return state, (Trade(pool, "a", m, lots, mark),)
    pnl = d.pick((999, 12_345, 30_011))
    off = 0 if kind == "an order of 0 lots" else d.pick((-1, 0, 0, 1))
    found = _pool_at_floor(policy, pnl)
    if found is None:  # no value puts this pool's floor within reach: the order of 0 lots instead
        kind, off = "an order of 0 lots", 0
    value, rest = found or (10 * pnl, pnl)
    pos["a"][m] = Position(1, mark - pnl)
    pos["c"][m] = Position(7, 7 * mark - rest - off)
    _balanced(pos, "b")
    accounts = {"a": Account(big, big, pos["a"]), "b": Account(big, big, pos["b"]), "c": Account(big, big, pos["c"]),
                pool: Account(value, value, {})}
    d.tags.add(f"pool: {kind}" + ("" if kind == "an order of 0 lots" else f", the rest of the side {off:+d}"))
    state = _venue(mech, {m: Market(m, mark, 100_000, 50_000)}, accounts, 0)
    return state, (Deleverage("a", m, 0 if kind == "an order of 0 lots" else 1),)


def _pool_at_floor(policy: Pool, pnl: int) -> tuple[int, int] | None:
    """R-POOL-2/3: (pool value V, the side's PnL S besides `pnl`) such that settling `pnl`
    (capped: floor(pnl x cap / (S + pnl)) when S + pnl > cap) leaves S x 10^6 exactly
    adl_floor_ppm x (V - paid), with S + pnl above adl_trigger_ppm of V and the factor lowered:
    the smallest such pair found from V = pnl up."""
    f, trig = policy.adl_floor_ppm, policy.adl_trigger_ppm
    factor = side_factor(policy, policy.max_pnl_factor_ppm)
    for left in range(pnl, 40 * pnl):  # the pool's value after the order
        if f * left % PPM:
            continue
        rest = f * left // PPM
        before, paid = rest + pnl, 0
        for _ in range(8):  # the payment depends on the value only through the cap: a fixed point
            cap = max(0, (left + paid) * factor // PPM)
            now = pnl * cap // before if before > cap else pnl
            if now == paid:
                break
            paid = now
        value = left + paid
        cap = max(0, value * factor // PPM)
        if (pnl * cap // before if before > cap else pnl) == paid and rest > 0 \
                and before * PPM > trig * value and rest * value < before * left:
            return value, rest
    return None  # e.g. a trigger at the cap's factor: the capped payment cannot leave the floor exactly


def ranking_zero_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-ADL-4b 'bitmex': bankrupt 'a' holds one lot; opposite holder 'z' is at a loss with
    equity exactly 0 (its score undefined: last), 'y' at a loss with positive equity (a
    negative score, ahead of it): 'y' takes the whole fill."""
    m = market_ids(mech)[0]
    mark = d.pick((1_000, 10_007))
    side = d.pick((1, -1))  # the bankrupt's sign; the queue holds the other
    q = -side
    big = 10**6 * mark * mark
    loss_z, loss_y = d.pick((1, 5, mark // 2)), d.pick((1, 3))
    pos: dict[str, dict[str, Position]] = {i: {} for i in ("a", "k", "y", "z")}
    pos["z"][m] = Position(q, q * mark + loss_z)  # PnL -loss_z on either side
    pos["y"][m] = Position(q, q * mark + loss_y)
    pos["a"][m] = Position(side, side * mark)
    _balanced(pos, "k")
    accounts = {"z": Account(loss_z, 0, pos["z"]), "y": Account(big, big, pos["y"]),
                "a": Account(-d.pick((1, mark // 2)), 0, pos["a"]), "k": Account(big, big, pos["k"])}
    d.tags.add(f"ADL queue (bitmex): a holder at a loss with equity exactly 0 ({'long' if q > 0 else 'short'})")
    state = _venue(mech, {m: Market(m, mark, 100_000, 50_000, mark)}, accounts, 0, clock=1)
    return state, (Liquidate("a", None, {}, str(d.int(0, 3))),)


def counterparty_zero_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-ADL-6 (skip_insolvent): bankrupt 'a' long L lots in X is deleveraged against 'j',
    the only short, whose fill leaves it at equity exactly 0 (or -1, +1) under the 'equity'
    check, or exactly at its initial requirement after the fill (0, the released requirement
    having a remainder, or -1, +1) under dYdX's 'margin_ratio' check."""
    policy: Adl = mech.final  # type: ignore[assignment]
    x = market_ids(mech)[0]
    mark = d.pick((1_003, 99_991, 7))  # lots x mark x 10^5 not a multiple of 10^6: a remainder
    lots = d.pick((1, 3))
    prev = max(1, mark + d.pick((1, 2, mark // 10)))
    deficit = d.pick((1, 2, lots * mark // 20 + 1))
    off = d.pick((-1, 0, 0, 1))
    pos: dict[str, dict[str, Position]] = {"a": {x: Position(lots, lots * mark)}, "j": {x: Position(-lots, -lots * mark)}}
    market = Market(x, mark, 100_000, 50_000, prev)
    probe = State({x: market}, {"a": Account(-deficit, 0, pos["a"]), "j": Account(0, 0, pos["j"])})
    tx = Tx(probe)
    if policy.pricing == "per_fill":
        quote = fill_quote(tx, "a", x, lots)
    elif policy.close_price == "previous_mark":
        quote = lots * prev
    elif policy.close_price == "mark":
        quote = lots * mark
    else:
        quote = lots * bankruptcy_price(mark, lots, -deficit, policy.bankruptcy_rounding)
    eq_j = max(0, quote - lots * mark + off)  # j (short) after the fill: eq_j - (quote - lots x mark) = off
    accounts = {"a": Account(-deficit, 0, pos["a"]), "j": Account(eq_j, eq_j, pos["j"])}
    limit = "equity" if policy.collateral_check == "equity" else "its initial requirement"
    d.tags.add(f"ADL counterparty ({policy.collateral_check} check) left at {limit} {eq_j - (quote - lots * mark):+d}")
    state = _venue(mech, {x: market}, accounts, 0, clock=1)
    return state, (Liquidate("a", None, {}, str(d.int(0, 3))),)


def withdrawal_amount_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-WH-2 base 'amount': a shortfall L outstanding; withdrawer 'a' the only account at a
    positive equity beside two or three at equity 0 (C counts none of them), or every
    account at equity <= 0 ('a' by a loss on its position, 'b' by negative collateral): C is
    0 and nothing is charged (the withdrawal is refused, E-MARGIN)."""
    m = market_ids(mech)[0]
    mark = 1_000
    loss = 9  # with C 10 or 12, one to three accounts more in C lower ceil(amount x 9 / C)
    layers = {k: 0 for k in mech.layer_keys([m])}
    if d.int(0, 1):
        coll = d.pick((10, 12))
        zeros = d.pick((2, 3))
        accounts = {"a": Account(coll, coll, {}), **{f"z{i}": Account(0, 0, {}) for i in range(zeros)}}
        amount = d.pick((coll, coll - 1))
        d.tags.add(f"withdrawal charge (amount) beside {zeros} accounts at equity 0")
    else:
        coll, k = d.pick((10, 100)), d.int(0, 1)
        on = mark + coll + k  # 'a' long one lot at a loss of coll + k: equity -k
        accounts = {"a": Account(coll, coll, {m: Position(1, on)}), "b": Account(-(coll + k), 0, {m: Position(-1, -on)})}
        amount = d.pick((1, coll))
        d.tags.add(f"withdrawal charge (amount) with every account at equity <= 0 (the withdrawer's {-k})")
    state = validate_state(prepare(State({m: Market(m, mark, 100_000, 50_000)}, accounts, layers, clock=1,
                                         deferred={m: loss}), mech))
    return state, (Withdraw("a", amount),)


def net_profit_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-HC-1 eligibility 'net_profitable': bankrupt 'a' (long, one lot) leaves a deficit;
    'p' holds PnL +1 over all markets (or 0, or 2: +3 in X and -2 in Y when two markets are
    drawn) beside 'q' at a larger profit; 'a' is liquidated at mark to 'c'."""
    ids = market_ids(mech)[:d.int(1, 2)]
    x = ids[0]
    mark = 1_000
    net = d.pick((1, 1, 0, 2))
    pos: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "p", "q")}
    pos["a"][x] = Position(1, mark)
    if len(ids) == 2:
        pos["p"][x] = Position(-1, -mark - net - 2)
        pos["p"][ids[1]] = Position(1, mark + 2)
    else:
        pos["p"][x] = Position(-1, -mark - net)
    pos["q"][x] = Position(-1, -mark - 5)
    _balanced(pos, "b")
    big = 10**9
    gain = d.pick((0, 2))
    accounts = {"a": Account(-d.pick((1, 3, 7)), 0, pos["a"]), "b": Account(big, big, pos["b"]),
                "c": Account(big, big, {}), "p": Account(big + gain, big, pos["p"]), "q": Account(big, big, pos["q"])}
    d.tags.add(f"haircut (net_profitable): an account whose PnL over {len(ids)} market(s) is {net}")
    state = _venue(mech, {m: Market(m, mark, 100_000, 50_000) for m in ids}, accounts, 0, clock=1)
    return state, (Liquidate("a", "c", {}, "0"),)


def max_size_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-UNIT-3: a trade at a mark of 1 taking a position to exactly 10^18 lots (MAX_INPUT)
    -1/0/+1: allowed at the bound, refused (E-BOUND) one lot beyond."""
    m = market_ids(mech)[0]
    held = 10**18 - 3
    size = 3 + d.pick((-1, 0, 0, 1))
    coll = 10**18
    pos = {"a": {m: Position(held, held)}, "b": {m: Position(-held, -held)}}
    accounts = {i: Account(coll, coll, pos[i]) for i in ("a", "b")}
    d.tags.add(f"a position taken to 10^18 {size - 3:+d} lots")
    return _venue(mech, {m: Market(m, 1, 100_000, 50_000)}, accounts, 0), (Trade("a", "b", m, size, 1),)


def after_adl_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-WF-12: bankrupt 'a' holds no position (negative collateral alone) under ADL with a
    layer that pays only after deleveraging, funded with the deficit -1/0/+1 or plenty: with
    nothing to deleverage it pays at once."""
    m = market_ids(mech)[0]
    deficit = d.pick((1, 5, 1_000))
    after = {s.name for s in mech.layers if s.after_adl}
    fill = d.pick(("deficit - 1", "deficit", "deficit + 1", "plenty"))
    amount = {"deficit - 1": deficit - 1, "deficit": deficit, "deficit + 1": deficit + 1, "plenty": 10**9}[fill]
    pos = {"b": {m: Position(1, 1_007)}, "e": {m: Position(-1, -1_007)}}  # 'e' short since 1,007: the ADL queue
    accounts = {"a": Account(-deficit, 0, {}), "b": Account(10**9, 10**9, pos["b"]), "e": Account(10**9, 10**9, pos["e"])}
    layers = {k: (amount if k.partition(":")[0] in after else 0) for k in mech.layer_keys([m])}
    d.tags.add(f"a bankrupt without a position, the after-ADL layer holding the {fill}")
    state = validate_state(prepare(State({m: Market(m, 1_000, 100_000, 50_000)}, accounts, layers, clock=1), mech))
    return state, (Liquidate("a", None, {}, "0"),)


def isolated_only_edge(d: Draw, mech: Mechanism) -> Scenario:
    """R-WF-10: a venue whose only markets are the ones a layer isolates: that layer's keys
    are its NAME:MARKET balances alone (no shared NAME key); bankrupt 'a' in one of them is
    liquidated to 'c' with the isolated balance 0, 1 or ample."""
    spec = next(s for s in mech.layers if s.isolated)
    ids = sorted(spec.isolated)
    m = ids[0]
    mark = 1_000
    pos: dict[str, dict[str, Position]] = {i: {} for i in ("a", "b", "c")}
    pos["a"][m] = Position(1, mark)
    _balanced(pos, "b")
    deficit = d.pick((1, 5))
    big = 10**9
    fill = d.pick((0, 1, big))
    accounts = {"a": Account(-deficit, 0, pos["a"]), "b": Account(big, big, pos["b"]), "c": Account(big, big, {})}
    d.tags.add(f"a venue of {spec.name}'s isolated markets only, the isolated balance {min(fill, 2)}")
    state = _venue(mech, {i: Market(i, mark, 100_000, 50_000) for i in ids}, accounts, fill, clock=1)
    return state, (Liquidate("a", "c", {}, "0"),)


def _skip_check(mech: Mechanism) -> bool:
    """R-ADL-6: ADL with skip_insolvent at a close price counterparty_zero_edge computes."""
    f = mech.final
    return isinstance(f, Adl) and f.skip_insolvent and (
        f.pricing == "per_fill" or f.close_price in ("bankruptcy", "mark", "previous_mark"))


FIFTH_BUILDERS: tuple[tuple[Callable[[Draw, Mechanism], Scenario], Callable[[Mechanism], bool]], ...] = (
    (pool_order_edge, lambda mech: isinstance(mech.final, Pool)),
    (ranking_zero_edge, lambda mech: isinstance(mech.final, Adl) and mech.final.ranking == "bitmex"),
    (counterparty_zero_edge, _skip_check),
    (withdrawal_amount_edge, lambda mech: isinstance(mech.final, WithdrawalHaircut) and mech.final.base == "amount"),
    (net_profit_edge, lambda mech: isinstance(mech.final, Haircut) and mech.final.eligibility == "net_profitable"),
    (max_size_edge, lambda mech: not isinstance(mech.final, Pool)),
    (after_adl_edge, lambda mech: isinstance(mech.final, Adl) and any(s.after_adl for s in mech.layers)),
    (isolated_only_edge, lambda mech: any(s.isolated for s in mech.layers)),
)


def fifth_edge_scenario(d: Draw, mech: Mechanism) -> Scenario | None:
    """R-CONF-1: one fifth-pass boundary scenario for `mech` (None: no builder applies)."""
    builders = [b for b, applies in FIFTH_BUILDERS if applies(mech)]
    return d.pick(builders)(d, mech) if builders else None
