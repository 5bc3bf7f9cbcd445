"""Drawing the deficit from the mechanism's layers in seniority order (R-WF-2, R-CH-*)."""
from __future__ import annotations

from typing import Iterable

from .allocation import allocate, water_fill
from .events import acct, layer
from .history import peak
from .mechanism import LayerSpec, Mechanism
from .tx import Tx
from .units import MAX_BALANCE, PPM, div_ceil, div_floor


def sink_key(mech: Mechanism, sink: str, markets: list[str], venue_markets: Iterable[str]) -> str:
    """R-WF-6: the balance a sink names: NAME, or NAME:MARKET for a per-market layer
    (the bankrupt's first market in id order, else the venue's first market; a venue
    without markets uses NAME), or that market's NAME:CURRENCY (R-WF-13)."""
    first = (markets or sorted(venue_markets) or [""])[0]
    for spec in mech.layers:
        if spec.name == sink and (spec.scope == "market" or first in spec.isolated) and first:
            return f"{sink}:{first}"
        if spec.name == sink and spec.settlement and first:  # R-WF-13: the first market's currency
            return spec.keys([first])[0]
    return sink


def draw_layers(tx: Tx, mech: Mechanism, aid: str, deficit: int, markets: list[str],
                deleveraged: bool = False) -> int:
    """R-WF-2: each layer in order pays min(remaining deficit, what it can); returns the rest.
    A layer that only receives pays nothing (R-WF-11); a layer `after_adl` pays only once
    deleveraging has run (R-WF-12)."""
    for spec in mech.layers:
        if deficit == 0:
            break
        if spec.pays and (deleveraged or not spec.after_adl):
            deficit -= DRAW[spec.kind](tx, spec, aid, deficit, markets)
    return deficit


def room(tx: Tx, spec: LayerSpec, key: str, trigger: bool = False, market: str = "") -> int:
    """R-WF-3 / R-WF-8: what a balance key can pay: balance - reserve, and with a drawdown
    rule, while the balance is above `drawdown_floor`, no lower than
    ceil(peak x (1 - drawdown_ppm / 10^6)), the peak taken over the window (R-TIME-3). A
    rule in mode 'trigger' applies only when `trigger` (the fund-first split, R-ADL-7;
    R-WF-8b). R-WF-14: a shared pool measured per market pays for `market` at most
    floor(peak x drawdown_ppm / 10^6) less that market's PnL drawdown (market_drawdown)."""
    bal = tx.layers.get(key, 0)
    out = max(0, bal - spec.reserve)
    applies = spec.drawdown_mode == "cap" or trigger
    if applies and spec.drawdown_ppm > 0 and bal > spec.drawdown_floor:
        top = peak(tx.history, key, bal, tx.clock, spec.drawdown_window)
        if spec.drawdown_by == "market" and key == spec.name:
            allowed = div_floor(top * spec.drawdown_ppm, PPM) - market_drawdown(tx, spec, market)
            return min(out, max(0, allowed))
        level = div_ceil(top * (PPM - spec.drawdown_ppm), PPM)
        out = min(out, max(0, bal - level))
    return out


def market_drawdown(tx: Tx, spec: LayerSpec, market: str) -> int:
    """R-WF-14: how far a market's PnL from the shared pool is below its highest over the
    window: the peak of its record NAME:MARKET (levels above the current PnL, which is 0);
    0 without a market or a record."""
    if not market:
        return 0
    return peak(tx.history, f"{spec.name}:{market}", 0, tx.clock, spec.drawdown_window)


def paid_key(spec: LayerSpec, markets: list[str]) -> str:
    """R-WF-9: the LAYER:MARKET record a draw counts against: the bankrupt's first market."""
    return f"{spec.name}:{(markets or [''])[0]}"


def plan_balance(tx: Tx, spec: LayerSpec, deficit: int, markets: list[str], trigger: bool = False
                 ) -> list[tuple[str, int]]:
    """R-WF-3: (key, amount) a balance layer pays towards `deficit`: min(remaining deficit,
    room (R-WF-8), cap_per_event - paid so far, lifetime_cap - paid for the market (R-WF-9)),
    keys NAME or NAME:MARKET for the bankrupt's markets in id order."""
    paid = 0
    keys = spec.keys(markets)
    left_for_life = spec.lifetime_cap - tx.layer_paid.get(paid_key(spec, markets), 0) if spec.lifetime_cap else 0
    plan = []
    market = spec.shared_market(markets)  # R-WF-14
    for key in keys:
        can = room(tx, spec, key, trigger, market)
        if spec.cap_per_event:
            can = min(can, spec.cap_per_event - paid)
        if spec.lifetime_cap:
            can = min(can, max(0, left_for_life - paid))
        amount = min(deficit - paid, can)
        plan.append((key, amount))
        paid += amount
    return plan


def draw_balance(tx: Tx, spec: LayerSpec, aid: str, deficit: int, markets: list[str]) -> int:
    """R-WF-3: a balance layer pays its plan (plan_balance); a lifetime-capped layer adds
    what it paid to its LAYER:MARKET record (R-WF-9)."""
    paid = 0
    for key, amount in plan_balance(tx, spec, deficit, markets):
        tx.pay("R-WF-3", layer(key), acct(aid), amount, spec.name)
        paid += amount
    if spec.lifetime_cap and paid > 0:
        record = paid_key(spec, markets)
        tx.layer_paid[record] = tx.layer_paid.get(record, 0) + paid
    return paid


def capacity(tx: Tx, mech: Mechanism, markets: list[str], trigger: bool = False) -> int:
    """R-ADL-7: what the balance layers could pay together for the bankrupt's markets
    (with `trigger`, drawdown rules in mode 'trigger' apply too); a layer that pays only
    after deleveraging (R-WF-12) or never (R-WF-11) is not counted."""
    return sum(amount for spec in mech.layers if spec.kind == "balance" and spec.pays and not spec.after_adl
               for _, amount in plan_balance(tx, spec, MAX_BALANCE, markets, trigger))


def draw_defaulter_contribution(tx: Tx, spec: LayerSpec, aid: str, deficit: int, markets: list[str]) -> int:
    """R-CH-1: the defaulter's own default-fund contribution pays first."""
    amount = min(deficit, tx.default_fund.get(aid, 0))
    tx.pay("R-CH-1", "default_fund:" + aid, acct(aid), amount, spec.name)
    return amount


def _members(tx: Tx, aid: str) -> tuple[list[str], list[int]]:
    ids = sorted(m for m, c in tx.base.default_fund.items() if m != aid and c > 0)
    return ids, [tx.base.default_fund[m] for m in ids]


def clip(shares: list[int], limit: int) -> list[int]:
    """R-WF-2: a layer never pays more than the deficit: a ceil over-collection is cut,
    members in id order.

    pre: limit >= 0 and len(shares) <= 4 and all(s >= 0 for s in shares)
    post: len(__return__) == len(shares) and all(0 <= o <= s for o, s in zip(__return__, shares))
    post: sum(__return__) == min(sum(shares), limit)
    post: all(o == s for o, s, later in zip(__return__, shares, __return__[1:]) if later > 0)
    """
    out = []
    for s in shares:
        out.append(min(s, limit))
        limit -= out[-1]
    return out


def draw_default_fund(tx: Tx, spec: LayerSpec, aid: str, deficit: int, markets: list[str]) -> int:
    """R-CH-2: non-defaulters' contributions pay pro rata to what each has left; a floor
    shortfall stays in the deficit for the next layer. R-CH-5: the balance T named by
    `alongside` (the CCP's second tranche) pays alongside them: of amount = min(deficit,
    F + T), F the members' total, it pays floor(amount x T / (F + T)) (rounded down: a
    rounding unit falls on the members) and the members split the rest as above."""
    ids = sorted(m for m, c in tx.default_fund.items() if m != aid and c > 0)
    left = [tx.default_fund[m] for m in ids]
    tranche = tx.layers.get(spec.alongside, 0) if spec.alongside else 0
    total = sum(left) + tranche
    amount = min(deficit, total)
    own = div_floor(amount * tranche, total) if tranche > 0 else 0
    tx.pay("R-CH-2", layer(spec.alongside), acct(aid), own, spec.name)
    shares = clip(allocate(amount - own, left, ids, spec.rounding), amount - own)
    for m, share in zip(ids, shares):
        tx.pay("R-CH-2", "default_fund:" + m, acct(aid), share, spec.name)
    return own + sum(shares)


def draw_assessment(tx: Tx, spec: LayerSpec, aid: str, deficit: int, markets: list[str]) -> int:
    """R-CH-3: non-defaulters are assessed pro rata to their original contribution, each
    capped at multiple x contribution and at its own non-negative equity (R-ALLOC-4); never
    more than the deficit in all. R-CH-4: with an assessment period, a member's allowance
    is set at its first assessment of the period (multiple x its contribution before that
    default) and what it pays comes off it; later defaults of the period are split pro
    rata to the allowances left."""
    if spec.assessment_period == 0:
        ids, contrib = _members(tx, aid)
        caps = [min(c * spec.assessment_multiple_ppm // PPM, max(0, tx.equity(m))) for m, c in zip(ids, contrib)]
        weights = contrib
    else:
        ids, allowance = allowances(tx, spec, aid)
        caps = [min(left, max(0, tx.equity(m))) for m, left in zip(ids, allowance)]
        weights = allowance
    shares = clip(water_fill(deficit, weights, caps, ids, spec.rounding), deficit)
    for m, share, left in zip(ids, shares, weights):
        tx.pay("R-CH-3", acct(m), acct(aid), share, spec.name)
        if spec.assessment_period:
            tx.assessable[m] = left - share
    return sum(shares)


def allowances(tx: Tx, spec: LayerSpec, aid: str) -> tuple[list[str], list[int]]:
    """R-CH-4: non-defaulters with an allowance left this period: the recorded one, else
    multiple x their contribution before this default, at most the balance bound (the
    allowance is recorded in `assessable`, a balance like any other, R-STATE-6)."""
    ids = sorted({m for m, c in tx.base.default_fund.items() if m != aid and c > 0} |
                 {m for m, v in tx.assessable.items() if m != aid and v > 0})
    full = {m: min(tx.base.default_fund.get(m, 0) * spec.assessment_multiple_ppm // PPM, MAX_BALANCE) for m in ids}
    return ids, [tx.assessable.get(m, full[m]) for m in ids]


DRAW = {"balance": draw_balance, "defaulter_contribution": draw_defaulter_contribution,
        "default_fund": draw_default_fund, "assessment": draw_assessment}
