"""What a balance layer can pay (R-WF-3, R-WF-8, R-WF-8b, R-WF-9, R-WF-10), its peak over a
window (R-TIME-3), the balance a sink names (R-WF-6) and the per-market passes (R-WF-15),
from spec/rules.md.

Functions read the state a liquidation starts from; amounts are built with `arith` (min,
max, if-then-else as terms), so they are one expression over the prover's unknowns.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping

from waterfall.model.arith import Cond, Num, ceil_div, floor_div, ite, max_, min_, sum_
from waterfall.model.mechanism import LayerSpec, Mechanism
from waterfall.model.state import State

PPM = 10**6
UNBOUNDED = 10**36  # R-UNIT-3: MAX_BALANCE, more than any deficit


def keys(spec: LayerSpec, markets: list[str]) -> list[str]:
    """R-WF-3 / R-WF-10: the keys a balance layer pays from for the bankrupt's markets (id
    order): NAME:MARKET per market for scope 'market'; for a global layer NAME:MARKET for
    each isolated market, then NAME once if some market is not isolated (or none is held)."""
    if spec.scope == "market":
        return [f"{spec.name}:{m}" for m in markets]
    if spec.settlement:  # R-WF-13: one fund per settlement currency, NAME for unlisted markets
        currency = dict(spec.settlement)
        named = [f"{spec.name}:{currency[m]}" if m in currency else spec.name for m in markets]
        return list(dict.fromkeys(named)) or [spec.name]
    isolated = [f"{spec.name}:{m}" for m in markets if m in spec.isolated]
    shared = [spec.name] if not markets or any(m not in spec.isolated for m in markets) else []
    return isolated + shared


def peak(points: tuple[Num, ...], balance: Num, clock: Num, window: int) -> Num:
    """R-TIME-3: the highest balance within [clock - window, clock]: the current balance and
    every point (start, balance) in effect at some time of the window, a point holding from
    its start until the next point's start (the last one until now)."""
    best = balance
    starts, values = points[0::2], points[1::2]
    for k, v in enumerate(values):
        ended_before_window = k + 1 < len(starts) and starts[k + 1] <= clock - window
        if not ended_before_window:
            best = max(best, v)
    return best


def peak_term(points: tuple[Num, ...], balance: Num, clock: Num, window: int) -> Num:
    """R-TIME-3: `peak` as one term (no decision), for a claim checked after every operation."""
    best = balance
    starts, values = points[0::2], points[1::2]
    for k, v in enumerate(values):
        if k + 1 < len(starts):
            best = ite(starts[k + 1] > clock - window, max_(best, v), best)
        else:
            best = max_(best, v)
    return best


def room(state: State, spec: LayerSpec, key: str, trigger: bool = False, markets: list[str] | None = None) -> Num:
    """R-WF-3 / R-WF-8 / R-WF-8b: balance - reserve (not below 0); with a drawdown rule that
    applies (mode 'cap', or the fund-first budget with `trigger`) and a balance above the
    floor, at most balance - ceil(peak * (10^6 - drawdown_ppm) / 10^6), not below 0.
    R-WF-14 (`drawdown_by` 'market', the shared key NAME): instead at most
    floor(peak * drawdown_ppm / 10^6) less the drawdown of the bankrupt's first market paid
    from NAME, not below 0."""
    bal = state.layers.get(key, 0)
    out = max(0, bal - spec.reserve)
    if spec.drawdown_ppm == 0 or (spec.drawdown_mode == "trigger" and not trigger):
        return out
    if bal > spec.drawdown_floor:
        top = peak(state.history.get(key, ()), bal, state.clock, spec.drawdown_window)
        if spec.drawdown_by == "market" and key == spec.name:
            market = pool_market(spec, markets or [])
            share = floor_div(top * spec.drawdown_ppm, PPM)
            return min(out, max(0, share - drawdown_of(state, spec, market)))
        out = min(out, max(0, bal - ceil_div(top * (PPM - spec.drawdown_ppm), PPM)))
    return out


def pool_market(spec: LayerSpec, markets: list[str]) -> str:
    """R-WF-14: the first of the bankrupt's markets (id order) paid from the shared key NAME
    (not isolated); '' if none."""
    shared = [m for m in markets if m not in spec.isolated]
    return shared[0] if shared else ""


def drawdown_of(state: State, spec: LayerSpec, market: str) -> Num:
    """R-WF-14: a market's PnL drawdown: the highest level of its record NAME:MARKET in effect
    within the window (the current level being 0); 0 without a market."""
    if not market:
        return 0
    return peak(state.history.get(f"{spec.name}:{market}", ()), 0, state.clock, spec.drawdown_window)


def record_peak(state: State, spec: LayerSpec, market: str) -> Num:
    """R-WF-14: `drawdown_of` as one term (no decision), for a claim."""
    return peak_term(state.history.get(f"{spec.name}:{market}", ()), 0, state.clock, spec.drawdown_window)


def lifetime_key(spec: LayerSpec, markets: list[str]) -> str:
    """R-WF-9: the record LAYER:M of the bankrupt's first market M (id order)."""
    return f"{spec.name}:{markets[0] if markets else ''}"


def lifetime_left(state: State, spec: LayerSpec, markets: list[str]) -> Num:
    """R-WF-9: lifetime_cap - what the layer already paid for that market (not below 0)."""
    return max_(0, spec.lifetime_cap - state.layer_paid.get(lifetime_key(spec, markets), 0))


def plan(state: State, spec: LayerSpec, deficit: Num, markets: list[str], trigger: bool = False
         ) -> list[tuple[str, Num]]:
    """R-WF-3: (key, amount) a balance layer pays towards `deficit`, keys in order: each
    min(deficit left, room, per-event cap left, lifetime allowance left)."""
    out: list[tuple[str, Num]] = []
    paid: Num = 0
    for key in keys(spec, markets):
        can = room(state, spec, key, trigger, markets)
        if spec.cap_per_event:
            can = min(can, spec.cap_per_event - paid)
        if spec.lifetime_cap:
            left = spec.lifetime_cap - state.layer_paid.get(lifetime_key(spec, markets), 0)
            can = min(can, max(0, left - paid))
        amount = max_(0, min_(deficit - paid, can))
        out.append((key, amount))
        paid = paid + amount
    return out


def capacity(state: State, mech: Mechanism, markets: list[str], trigger: bool = False) -> Num:
    """R-ADL-7 / R-ADL-10: what the balance layers together can pay for the bankrupt's markets
    (a layer that pays only after deleveraging, R-WF-12, or never, R-WF-11, is not counted)."""
    return sum_(a for spec in mech.layers if spec.kind == "balance" and spec.pays and not spec.after_adl
                for _, a in plan(state, spec, UNBOUNDED, markets, trigger))


def sink_key(mech: Mechanism, sink: str, markets: list[str], venue_markets: Iterable[str]) -> str:
    """R-WF-6 / R-WF-10: the balance a sink names: NAME:M for a per-market layer or an
    isolated M, M the bankrupt's first market (id order), else the venue's first; else NAME."""
    ordered = sorted(markets) or sorted(venue_markets)
    if not ordered:
        return sink
    first = ordered[0]
    spec = next((s for s in mech.layers if s.name == sink), None)
    if spec is not None and (spec.scope == "market" or first in spec.isolated):
        return f"{sink}:{first}"
    return sink


def kept_peak(state: State, key: str, window: int) -> Num:
    """R-TIME-3: the peak the kept history of `key` gives at the state's clock."""
    return peak_term(state.history.get(key, ()), state.layers.get(key, 0), state.clock, window)


def same_peak(pre: State, post: State, key: str, window: int) -> Cond:
    """R-TIME-3: dropping replaced points keeps the peak: the kept points after an operation
    give the peak that every point ever recorded (the points before, then the balance at the
    new clock) gives."""
    before = pre.history.get(key) or (pre.clock, pre.layers.get(key, post.layers.get(key, 0)))
    bal = post.layers.get(key, 0)
    every = tuple(before) + (post.clock, bal)
    return kept_peak(post, key, window) == peak_term(every, bal, post.clock, window)


def balances(state: Mapping[str, Num], spec: LayerSpec) -> dict[str, Num]:
    """The balance keys of a layer: NAME and NAME:MARKET."""
    return {k: v for k, v in state.items() if k == spec.name or k.startswith(spec.name + ":")}


def split(deficit: Num, losses: list[Num], markets: list[str]) -> list[Num]:
    """R-WF-15 / R-LEVY-7: the deficit's part for each market (id order): floor(D x loss /
    total loss), then one unit each to the markets with the largest fractional parts (the
    remainder D x loss mod total), equal ones to the smaller market id, until the parts sum
    to D; all to the first market when the total loss is 0. Written with ranks, not a sort,
    so it is one term over the prover's unknowns."""
    total = sum_(losses)
    if not markets:
        return []
    none = [deficit] + [0] * (len(markets) - 1)
    if len(markets) == 1:
        return none
    safe = max_(total, 1)
    floors = [floor_div(deficit * w, safe) for w in losses]
    rems = [deficit * w - f * safe for w, f in zip(losses, floors)]
    units = deficit - sum_(floors)
    parts = []
    for i, (f, r) in enumerate(zip(floors, rems)):
        rank = sum_(ite(rems[j] > r, 1, ite(rems[j] == r, 1 if j < i else 0, 0)) for j in range(len(markets)) if j != i)
        parts.append(f + ite(rank < units, 1, 0))
    return [ite(total == 0, n, p) for n, p in zip(none, parts)]


def pass_state(pre: State, before: Iterable[tuple[str, str, Num]]) -> State:
    """R-WF-15: the balances a market's pass starts from: the state before the liquidation
    with each layer key moved by the transfers (src, dst, amount) of the earlier markets'
    passes."""
    moved: dict[str, Num] = dict(pre.layers)
    for src, dst, amount in before:
        if src.startswith("layer:"):
            moved[src[6:]] = moved.get(src[6:], 0) - amount
        if dst.startswith("layer:"):
            moved[dst[6:]] = moved.get(dst[6:], 0) + amount
    return replace(pre, layers=moved)
