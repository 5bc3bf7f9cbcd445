"""One generator of venues and operation sequences (R-CONF-1, R-CONF-6), shared by the
committed vectors (waterfall/conformance/vectors.py, seeded PRNG) and differential fuzzing
(waterfall/conformance/differential.py, Hypothesis, so a disagreement shrinks).

A venue has 1-3 markets, 2-14 accounts (ids chosen so that code-point order differs from
case-insensitive and numeric order), zero-sum positions entered at several prices, cloned
accounts (exact ties in every pro-rata rounding and in ADL rankings), funded layers (per
market where the mechanism says so), default-fund contributions, prior bad debt, and one
magnitude scale from unit values to balances near MAX_BALANCE (products beyond 2^63 and
2^128). The operations look at the model's state as they go: price gaps that bankrupt an
account, liquidations of an account below maintenance margin (with or without a
counterparty, at mark or off-mark fills), trades, deposits, withdrawals, funding, and
operations that must be refused. Time (issue 21): start states with a clock (up to beyond
2^31 and 2^32 seconds), previous marks and the records each mechanism keeps (layer
histories at a drawdown threshold, lifetime payouts at a cap, window bases, deferred
losses, partial-liquidation times a cooldown -1/0/+1 second ago, assessment allowances),
exempt accounts; `advance_time` to window edges and exact multiples (-1/0/+1), `deleverage`
against a pool (its side brought exactly to the ADL trigger, +-1), `set_mark` to the same price.
"""
from __future__ import annotations

import random
from functools import lru_cache
from math import gcd
from typing import Any, Protocol, Sequence, TypeVar

from hypothesis import strategies as st

from waterfall.model.errors import WaterfallError
from waterfall.model.mechanism import Adl, Haircut, Mechanism, Pool, WithdrawalHaircut
from waterfall.model.ops import AdvanceTime, Deleverage, Deposit, Funding, Liquidate, Op, SetMark, Trade, Withdraw
from waterfall.model.pool import side_pnl
from waterfall.model.replay import prepare
from waterfall.model.state import Account, Market, Position, State, equity, margin_requirement, validate_state
from waterfall.model.step import step
from waterfall.model.tx import Tx
from waterfall.model.units import MAX_INPUT

T = TypeVar("T")
IDS = ("a", "B", "b", "a10", "a9", "c", "d", "e", "f", "g", "h", "Z", "i", "j")
MARKETS = ("M0", "M1", "m2")
IM_PPM = (100_000, 50_000, 33_333, 123_457, 1_000_000)  # odd rates too: margins with remainders
MM_PPM = (50_000, 16_667, 61_729, 0)
# (price unit, size unit): unit values; int32 overflow; products beyond 2^63; balances near 10^36
SCALES = ((1, 1), (1_000, 1_000), (10**6, 10**7), (10**12, 10**12), (10**14, 10**15))


class Draw(Protocol):
    """Where the choices come from: a seeded PRNG or Hypothesis; `tags` name the special
    cases a scenario drew (ties, boundaries, which refusal), so vector selection keeps one."""

    tags: set[str]
    pending: list[Op]  # operations a drawn operation needs next (e.g. a liquidation after a deposit)

    def int(self, lo: int, hi: int) -> int: ...

    def pick(self, seq: Sequence[T]) -> T: ...


class RandomDraw:
    """Choices from random.Random(seed): the same seed, the same venues."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tags: set[str] = set()
        self.pending: list[Op] = []

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, seq: Sequence[T]) -> T:
        return seq[self.rng.randrange(len(seq))]


class HypothesisDraw:
    """Choices drawn through Hypothesis (st.data()), so a failure shrinks."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self.tags: set[str] = set()
        self.pending: list[Op] = []

    def int(self, lo: int, hi: int) -> int:
        return self.data.draw(_integers(lo, hi))

    def pick(self, seq: Sequence[T]) -> T:
        return seq[self.data.draw(_integers(0, len(seq) - 1))]


@lru_cache(maxsize=4096)
def _integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


def jitter(d: Draw, unit: int, k: int) -> int:
    """k units plus an offset below one unit (so divisions leave remainders)."""
    return k * unit + (d.int(0, unit - 1) if unit > 1 and d.int(0, 3) else 0)


def market_ids(mech: Mechanism) -> tuple[str, ...]:
    """A venue's market ids: those the mechanism names first (R-WF-13: the markets of a fund per
    settlement currency; other ids fall back to the fund's own balance), then MARKETS."""
    named = sorted({m for spec in mech.layers for m, _ in spec.settlement})
    return (*named, *(m for m in MARKETS if m not in named))


def venue(d: Draw, mech: Mechanism) -> State:
    """A valid start state for `mech` (R-STATE-5, R-UNIT-3), fitted to its layers (R-RUN-1)."""
    p_unit, q_unit = d.pick(SCALES)
    markets = {m: Market(m, max(1, jitter(d, p_unit, d.int(20, 2_000))), d.pick(IM_PPM), d.pick(MM_PPM))
               for m in market_ids(mech)[:d.int(1, 3)]}
    for mk in markets.values():
        if mk.mm_ppm > mk.im_ppm:
            markets[mk.id] = mk._replace(mm_ppm=mk.im_ppm)
    twins = d.int(0, 5) == 0  # only a tie pair and the account on the other side hold positions
    n = d.int(3, 5) if twins else d.int(2, 14) if d.int(0, 3) else d.int(10, 14)
    ids = list(IDS[:n])
    exempt = exempt_ids(mech)
    if exempt and d.int(0, 2):  # an exempt account (Drift's AMM) holds the balancing positions
        ids[-1] = exempt[0]
        d.tags.add("exempt account")
    # a tie pair: y copies x exactly (equal weights, scores and remainders); the last id
    # takes the balancing position of every market, so the copy keeps markets zero-sum
    tie = None
    if n >= 3 and (twins or d.int(0, 2)):
        x, y = (0, 1) if twins or d.int(0, 1) else (d.int(0, n - 2), d.int(0, n - 2))  # 'a', 'B': case order differs
        tie = (ids[min(x, y)], ids[max(x, y)]) if x != y else None
        if tie:
            differs = (tie[0] < tie[1]) != (tie[0].lower() < tie[1].lower())
            d.tags.add(("twins" if twins else "tie") + (", case order differs" if differs else ""))
    positions: dict[str, dict[str, Position]] = {i: {} for i in ids}
    for m, mk in markets.items():
        holders = list(tie) if twins and tie else [i for i in ids[:-1] if d.int(0, 4)]
        if tie and tie[0] in holders and tie[1] not in holders:
            holders.append(tie[1])
        holders.append(ids[-1])
        sizes, notionals = [], []
        for i in holders[:-1]:
            if tie and i == tie[1] and tie[0] in holders:
                k = holders.index(tie[0])
                sizes.append(sizes[k])
                notionals.append(notionals[k])
                continue
            s = q_unit * d.int(-30, 30) + (d.int(-q_unit + 1, q_unit - 1) if q_unit > 1 and not d.int(0, 3) else 0)
            sizes.append(s)
            notionals.append(s * max(1, mk.mark + d.int(-mk.mark // 2, mk.mark // 2)))
        sizes.append(-sum(sizes))
        notionals.append(-sum(notionals))
        for i, s, o in zip(holders, sizes, notionals):
            if s or o:
                positions[i][m] = Position(s, o)
    accounts = {}
    for i in ids:
        exposure = sum(abs(p.size) * markets[m].mark for m, p in positions[i].items()) or p_unit * q_unit * 100
        coll = max(0, exposure * d.pick((d.int(0, 40), d.int(0, 150))) // 100 + d.int(0, p_unit * q_unit))
        if not d.int(0, 9):
            coll = -d.int(1, p_unit * q_unit)
        nd = coll if d.int(0, 2) else coll - d.int(-abs(coll) // 2 - 1, abs(coll) // 2 + 1)
        accounts[i] = Account(coll, nd, positions[i])
    fund = {i: p_unit * q_unit * d.int(1, 300) for i in ids if d.int(0, 2) == 0}
    if tie:
        x, y = tie
        accounts[y] = Account(accounts[x].collateral, accounts[x].net_deposit, positions[y])
        if x in fund:
            fund[y] = fund[x]
    layers = {key: d.pick((0, 1, p_unit * q_unit * d.int(1, 500), p_unit * q_unit * d.int(1, 50_000)))
              for key in mech.layer_keys(sorted(markets))}
    bad_debt = 0 if d.int(0, 4) else p_unit * q_unit * d.int(1, 100)
    state = prepare(State(markets, accounts, layers, fund, bad_debt), mech)
    return validate_state(time_records(d, state, mech) if d.int(0, 2) else state)


def exempt_ids(mech: Mechanism) -> tuple[str, ...]:
    """R-HC-8 / R-LEVY-5: the accounts the final resort never charges."""
    return tuple(getattr(mech.final, "exempt", ()))


def windows_of(mech: Mechanism) -> list[int]:
    """Every time span of the mechanism: haircut / warm-up window, drawdown windows,
    assessment periods, the partial-liquidation cooldown (R-TIME-*)."""
    spans = [getattr(mech.final, "window", 0), mech.liquidation.step_cooldown]
    spans += [s.drawdown_window for s in mech.layers] + [s.assessment_period for s in mech.layers]
    return sorted({w for w in spans if w > 0})


def clock_value(d: Draw, mech: Mechanism) -> int:
    """A clock: small, at or next to a multiple of a window, or beyond 2^31 and 2^32 seconds."""
    spans = windows_of(mech) or [86_400]
    w = d.pick(spans)
    big = d.pick((2**31 - 1, 2**31, 2**31 + 1, 2**32 + 7, 10**11 + 3))
    value = d.pick((d.int(1, 1_000), w * d.int(1, 5) + d.int(-1, 1), big, (big // w) * w))
    if value > 2**31 - 1:
        d.tags.add("clock beyond 2^31")
    return max(1, value)


def time_records(d: Draw, state: State, mech: Mechanism) -> State:
    """R-STATE-6: a clock, previous marks and the records `mech` keeps, drawn near the values
    where a time rule changes its answer."""
    clock = clock_value(d, mech)
    ids = sorted(state.accounts)
    markets = {m: mk._replace(prev_mark=max(1, mk.mark + d.int(-mk.mark // 4, mk.mark // 4)))
               if d.int(0, 1) else mk for m, mk in state.markets.items()}
    history: dict[str, tuple[int, ...]] = {}
    paid: dict[str, int] = {}
    for spec in mech.layers:
        keys = [k for k in state.layers if k == spec.name or k.startswith(spec.name + ":")]
        if spec.drawdown_ppm and spec.drawdown_window:
            for k in keys:
                bal = state.layers[k]
                # a peak so that the balance sits at (or one unit off) the drawdown threshold
                peak = max(bal + 1, bal * 1_000_000 // max(1, 1_000_000 - spec.drawdown_ppm) + d.int(-1, 1))
                start = max(0, clock - spec.drawdown_window + d.int(-1, 1))
                history[k] = (min(start, clock), peak)
                d.tags.add("drawdown at its threshold")
                if start >= 1 and d.int(0, 1):  # the peak before the window, a lower point at its edge +-1
                    edge = min(clock, max(start, clock - spec.drawdown_window + d.int(0, 2)))
                    history[k] = (start - 1, peak, edge, max(bal, peak - 1 - d.int(0, max(0, peak - bal - 1))))
                    if history[k][3] >= peak:
                        history[k] = (min(start, clock), peak)
                    else:
                        d.tags.add("drawdown peak at the window's start edge")
        if spec.lifetime_cap:
            for m in sorted(state.markets):
                if d.int(0, 1):
                    paid[f"{spec.name}:{m}"] = max(0, spec.lifetime_cap + d.int(-2, 0))
                    d.tags.add("lifetime cap nearly used")
    final = mech.final
    base = {i: d.int(-1_000, 1_000) for i in ids if d.int(0, 1)} \
        if isinstance(final, (Haircut, WithdrawalHaircut)) and getattr(final, "window", 0) else {}
    deferred = {m: d.int(1, 10_000) for m in sorted(state.markets) if d.int(0, 1)} \
        if isinstance(final, Haircut) and final.timing == "settlement" or isinstance(final, WithdrawalHaircut) else {}
    if len(deferred) > 1:
        d.tags.add("several deferred records")
    cooldown = mech.liquidation.step_cooldown
    partial = {}
    if mech.liquidation.step_ppm:
        for i in ids:
            if state.accounts[i].positions and d.int(0, 1):
                partial[i] = max(0, clock - cooldown + d.int(-1, 1)) if cooldown else d.int(0, clock)
                d.tags.add("partial liquidation a cooldown -1/0/+1 s ago")
    assess = {}
    if any(s.assessment_period for s in mech.layers):
        assess = {i: d.int(0, 10**6) for i in sorted(state.default_fund) if d.int(0, 1)}
    d.tags.add("time records")
    return State(markets, state.accounts, state.layers, state.default_fund, state.bad_debt, clock, history,
                 paid, base, deferred, partial, assess)


def liquidatable(state: State) -> list[str]:
    """Accounts with equity below maintenance margin, most negative equity first."""
    out = [(equity(state, a), i) for i, a in state.accounts.items()
           if equity(state, a) < margin_requirement(state, a, initial=False)]
    return [i for _, i in sorted(out)]


def gap_price(d: Draw, state: State, m: str) -> int:
    """A mark move that bankrupts someone: the price at which the most exposed holder's
    equity is about zero, moved a little further, or a large jump."""
    mk = state.markets[m]
    best = None
    for a in state.accounts.values():
        p = a.positions.get(m)
        if p and p.size:
            eq = equity(state, a)
            target = mk.mark - (eq + d.int(0, max(1, abs(p.size)))) // p.size  # equity about -jitter
            if 1 <= target <= MAX_INPUT and (best is None or d.int(0, 1)):
                best = target
    if best is None or not d.int(0, 3):
        best = max(1, mk.mark * d.pick((1, 3, 5, 8, 12, 20, 30)) // 10 + d.int(-1, 1))
    return min(best, MAX_INPUT)


def boundary_price(d: Draw, state: State, m: str) -> int | None:
    """A mark at which a holder of `m` sits on its maintenance margin: the last price where
    equity >= requirement or the first where it is below (R-LIQ-1's boundary)."""
    holders = [i for i, a in sorted(state.accounts.items()) if a.positions.get(m) and a.positions[m].size]
    if not holders:
        return None
    aid = d.pick(holders)
    size, mark = state.accounts[aid].positions[m].size, state.markets[m].mark

    def gap(price: int) -> int:
        mk = {**state.markets, m: state.markets[m]._replace(mark=price)}
        view = State(mk, state.accounts, state.layers, state.default_fund, state.bad_debt)
        a = view.accounts[aid]
        return equity(view, a) - margin_requirement(view, a, initial=False)

    lo, hi = 1, MAX_INPUT  # gap() is monotone in the price: rising for a long, falling for a short
    if (gap(lo) >= 0) == (gap(hi) >= 0):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (gap(mid) >= 0) == (gap(lo) >= 0):
            lo = mid
        else:
            hi = mid
    if abs(lo - mark) >= 10 * mark + 10:
        return None
    d.tags.add("maintenance boundary")
    return d.pick((lo, hi))


def _per_market_rounding_shows(state: State, aid: str) -> bool:
    """The initial margin rounded up per market exceeds the sum rounded up once."""
    a = state.accounts[aid]
    raw = sum(abs(p.size) * state.markets[m].mark * state.markets[m].im_ppm for m, p in a.positions.items())
    return margin_requirement(state, a, initial=True) > -((-raw) // 1_000_000)


def refusal(d: Draw, state: State, ids: list[str], m: str) -> Op:
    """An operation the model refuses, often with two faults at once (which is reported
    first is part of the spec: R-ERR precedence)."""
    a, b = d.pick(ids), d.pick(ids)
    healthy = [i for i in ids if i not in liquidatable(state)] or ids
    h = d.pick(healthy)
    return d.pick((
        Deposit("nobody", 1), Deposit("nobody", 0), Deposit(a, 0), Deposit(a, -1), Deposit(a, MAX_INPUT + 1),
        Withdraw("nobody", 0), Withdraw(a, 0), Withdraw(a, MAX_INPUT + 1),
        Trade(a, a, m, 1, 1), Trade(a, a, "none", 0, 1), Trade("nobody", "nobody", "none", 0, 0),
        Trade(a, b, m, 0, 1), Trade(a, a, m, 0, 0), Trade(a, b if a != b else "nobody", m, 1, 0),
        Liquidate(h, h, {}, "0"), Liquidate(a, "nobody", {}, "0"), Liquidate(a, b, {"none": 1}, "0"),
        Liquidate(a, b, {m: 0}, "0"), Liquidate(h, None, {}, "0"), Liquidate("nobody", "nobody", {}, "0"),
        SetMark("none", 0), SetMark(m, 0), SetMark(m, MAX_INPUT + 1), Funding("none", 1), Funding(m, MAX_INPUT + 1)))


def operation(d: Draw, state: State, mech: Mechanism) -> Op:
    """One operation on the current state, biased to what the waterfall does."""
    ids = sorted(state.accounts)
    markets = sorted(state.markets)
    if d.int(0, 5) == 5:  # a time operation one time in six (a draw of its own: 0 shrinks to none)
        timed = time_operation(d, state, mech)
        if timed is not None:
            return timed
    kind = d.int(0, 19)
    victims = liquidatable(state)
    if kind == 0 and victims:  # deposit exactly up to the maintenance margin, then liquidate: E-HEALTHY
        who = victims[0]
        a = state.accounts[who]
        short = margin_requirement(state, a, initial=False) - equity(state, a)
        if 0 < short <= MAX_INPUT:
            d.tags.add("exact maintenance boundary")
            others = [i for i in ids if i != who]
            d.pending.append(Liquidate(who, d.pick(others) if others else None, {}, "0"))
            return Deposit(who, short)
    if kind == 1:  # the least healthy healthy account (between maintenance and initial margin?)
        gaps = sorted((equity(state, a) - margin_requirement(state, a, initial=False), i)
                      for i, a in state.accounts.items() if i not in victims and a.positions)
        if gaps:
            who = gaps[0][1]
            d.tags.add("liquidation of the least healthy account")
            return Liquidate(who, d.pick([i for i in ids if i != who]), {}, "0")
    if kind <= 6 and victims:
        who = victims[0] if d.int(0, 2) else d.pick(victims)
        others = [i for i in ids if i != who]
        adl = isinstance(mech.final, Adl)
        cp = None if (adl and d.int(0, 1)) or not others else d.pick(others)
        fills = {}
        for m in sorted(state.accounts[who].positions):
            if d.int(0, 2) == 0:
                mark = state.markets[m].mark
                fills[m] = max(1, min(MAX_INPUT, mark + d.int(-mark // 3, mark // 3)))
        several = len(state.accounts[who].positions) > 1
        d.tags.add(f"liquidation of {'several markets' if several else 'one market'}" + (" off-mark" if fills else ""))
        if several and adl and any(t.startswith("tie") for t in d.tags):
            d.tags.add("ADL over several markets with tied counterparties")
        return Liquidate(who, cp, fills, str(d.int(0, 3)))
    m = d.pick(markets)
    if kind <= 10:
        return SetMark(m, gap_price(d, state, m))
    if kind == 11:
        price = boundary_price(d, state, m)
        if price is not None:
            return SetMark(m, price)
    if kind in (12, 18):  # a withdrawal to the initial-margin boundary, or one unit beyond it
        rooms = {i: equity(state, a) - margin_requirement(state, a, initial=True) for i, a in state.accounts.items()}
        fit = [i for i in ids if 0 <= rooms[i] < min(state.accounts[i].collateral, MAX_INPUT)]
        # where rounding per market (R-MARGIN-1) gives more than one rounding of the sum
        rounded = [i for i in fit if len(state.accounts[i].positions) > 1 and _per_market_rounding_shows(state, i)]
        if fit:
            aid = d.pick(rounded or fit)
            d.tags.add("initial-margin boundary" + (", rounded per market" if rounded else ""))
            return Withdraw(aid, rooms[aid] + d.int(0, 1) or 1)
    if kind == 13:
        mark = state.markets[m].mark
        return SetMark(m, max(1, mark + d.int(-mark // 50 - 1, mark // 50 + 1)))
    if kind == 14:
        b, s = d.pick(ids), d.pick(ids)
        pool = mech.final.account if isinstance(mech.final, Pool) else None
        if pool in state.accounts and d.int(0, 2) == 0:  # R-POOL-4: a trader trades with the pool (either way)
            d.tags.add("trade with the pool")
            b, s = (pool, b) if d.int(0, 1) else (b, pool)
        size = max(1, abs(sum(abs(p.size) for a in state.accounts.values() for p in a.positions.values()) // 20))
        return Trade(b, s, m, d.int(1, min(size, MAX_INPUT)), state.markets[m].mark)
    if kind == 15:
        return Deposit(d.pick(ids), d.int(1, MAX_INPUT) if not d.int(0, 5) else d.int(1, 1000))
    if kind == 16:
        a = state.accounts[d.pick(ids)]
        return Withdraw(d.pick(ids), max(1, min(MAX_INPUT, a.collateral // d.int(1, 4))))
    if kind == 17:
        return Funding(m, d.int(-3, 3) * max(1, state.markets[m].mark // 1000))
    return refusal(d, state, ids, m)


def time_operation(d: Draw, state: State, mech: Mechanism) -> Op | None:
    """advance_time to a window's edge, an exact multiple or one second either side, past a
    cooldown, far beyond 2^31; deleverage against a pool (R-POOL-3); set_mark to the same
    price (a move all the same, R-TIME-2); advance_time(0) (refused)."""
    spans = windows_of(mech)
    choice = d.int(0, 5)
    if choice <= 2 and spans:
        w = d.pick(spans)
        to_edge = w - state.clock % w  # seconds to the next exact multiple
        seconds = d.pick((to_edge - 1, to_edge, to_edge + 1, w, w - 1, w + 1, 2**31, 2 * w))
        d.tags.add("advance to a window edge")
        return AdvanceTime(max(1, seconds)) if seconds > 0 or d.int(0, 1) else AdvanceTime(0)
    if (choice == 3 or choice >= 1 and not spans) and isinstance(mech.final, Pool):  # a pool: mostly ADL orders
        holders = [(i, m, p.size) for i, a in sorted(state.accounts.items()) if i != mech.final.account
                   for m, p in sorted(a.positions.items()) if p.size]
        if holders:
            aid, m, size = d.pick(holders)
            d.tags.add("pool deleverage")
            order = Deleverage(aid, m, d.pick((abs(size), max(1, abs(size) // 2), 1, abs(size), abs(size) + 1)))
            ops = pool_to_trigger(d, state, mech, order)
            if ops:  # first bring the side's factor to the trigger (pool value +-1), then the order
                d.pending.extend(ops[1:])
                return ops[0]
            return order
    if choice == 4 and state.markets:
        m = d.pick(sorted(state.markets))
        d.tags.add("set_mark to the same price")
        return SetMark(m, state.markets[m].mark)
    return AdvanceTime(d.pick((1, 59, 3_600, 0, -1, 2**31)))


def pool_to_trigger(d: Draw, state: State, mech: Mechanism, order: Deleverage) -> list[Op]:
    """R-POOL-3's boundary: operations that put the order's side exactly at the ADL trigger,
    then the order (ADL is allowed only strictly above it). A set_mark first when the side's
    PnL is not a multiple of trigger / gcd(trigger, 10^6) (no pool value gives the exact
    factor otherwise), a deposit to (or withdrawal from) the pool making its value
    PnL x 10^6 / trigger +-1, and the order resized, if need be, to one the model accepts
    one unit above the trigger (a smaller order stays above the floor), so that at the
    trigger only the strict comparison refuses it."""
    policy = mech.final
    pool = state.accounts.get(policy.account) if isinstance(policy, Pool) else None
    if pool is None or policy.adl_trigger_ppm <= 0:
        return []
    g = gcd(policy.adl_trigger_ppm, 1_000_000)
    unit, per_unit = policy.adl_trigger_ppm // g, 1_000_000 // g  # value = pnl / unit x per_unit
    side = 1 if state.accounts[order.account].positions[order.market].size > 0 else -1
    mark = state.markets[order.market].mark
    for move in range(min(unit, MAX_INPUT - mark + 1)):  # the first mark where the side's PnL divides by unit
        marked = [SetMark(order.market, mark + move)] if move else []
        moved = _stepped(state, marked, mech)
        pnl = side_pnl(Tx(moved), policy, order.market, side) if moved else 0
        if moved and pnl > 0 and pnl % unit == 0:
            break
    else:
        return []
    assert moved is not None
    exact = pnl // unit * per_unit  # the pool value at which pnl x 10^6 == trigger x value
    funding = _fund(moved, policy.account, exact + d.pick((0, 0, -1, 1)))  # at the trigger one time in two
    to_above = _fund(moved, policy.account, exact - 1)
    above = _stepped(moved, to_above, mech) if to_above is not None else None
    if funding is None or above is None:
        return []
    d.tags.add("pool value at the ADL trigger")
    size = abs(state.accounts[order.account].positions[order.market].size)
    fit = next((q for q in (order.size, 1, max(1, size // 10), max(1, size // 4))
                if _stepped(above, [Deleverage(order.account, order.market, q)], mech) is not None), order.size)
    return [*marked, *funding, Deleverage(order.account, order.market, fit)]


def _fund(state: State, account: str, value: int) -> list[Op] | None:
    """The deposit to, or withdrawal from, `account` that makes its collateral `value`
    (none when it is already; None when beyond MAX_INPUT)."""
    change = value - state.accounts[account].collateral
    if change == 0 or abs(change) > MAX_INPUT:
        return [] if change == 0 else None
    return [Deposit(account, change) if change > 0 else Withdraw(account, -change)]


def _stepped(state: State, ops: list[Op], mech: Mechanism) -> State | None:
    """The state after `ops` (the model's own steps), None when one is refused."""
    try:
        for op in ops:
            state = step(state, op, mech)[0]
    except WaterfallError:
        return None
    return state


def scenario(d: Draw, mech: Mechanism, most: int = 6) -> tuple[State, tuple[Op, ...]]:
    """A start state and 1..most operations, each drawn on the state the previous left, then
    the operations a drawn one still needs (a pool order after the deposit that set it up)."""
    state = venue(d, mech)
    start, ops = state, []
    drawn = d.int(1, most)
    while len(ops) < drawn or d.pending:
        op = d.pending.pop(0) if d.pending else operation(d, state, mech)
        ops.append(op)
        try:
            state, _ = step(state, op, mech)
        except WaterfallError:
            pass
    return start, tuple(ops)
