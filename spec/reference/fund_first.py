"""Fund first (R-ADL-7): how many lots of each market go to the named counterparty before
ADL starts, from spec/rules.md."""
from __future__ import annotations

from waterfall.model.arith import Num, floor_div, max_, min_, sum_
from waterfall.model.mechanism import Adl, Mechanism
from waterfall.model.ops import Liquidate
from waterfall.model.state import State

from waterfall.spec.reference.layers import PPM, capacity
from waterfall.spec.reference.prices import covered_at_mark, planned


def lots(x: Num) -> Num:
    """|x|."""
    return x if x >= 0 else -x


def book_lots(pre: State, mech: Mechanism, op: Liquidate, markets: list[str], scope: list[str]) -> dict[str, Num]:
    """R-ADL-7: budget B = what the balance layers can pay (drawdown triggers included) plus
    min(0, equity after the planned closes); a lot sold at fill F instead of deleveraged at
    the planned price P costs c = P - F (long) or F - P (short); markets with c <= 0 send all
    their lots (their gain adds to B), then the others in id order send min(lots, floor(B / c));
    with a takeover cap the lots' notional at mark stays within floor(B * cap / 10^6) in all,
    less (R-ADL-12, cumulative) the notional at mark the counterparty holds before."""
    policy: Adl = mech.final  # type: ignore[assignment]
    account = pre.accounts[op.account]
    covered = covered_at_mark(pre, mech, op.account, scope)
    prices, left = planned(pre, policy, op.account, markets, covered)
    budget = max_(0, capacity(pre, mech, scope, trigger=True) + min_(0, left))
    takeover = floor_div(budget * policy.takeover_cap_ppm, PPM) if policy.takeover_cap_ppm else None
    if takeover is not None and policy.takeover_cumulative and op.counterparty is not None:  # R-ADL-12
        held = pre.accounts[op.counterparty]
        takeover = max_(0, takeover - sum_(lots(p.size) * pre.markets[m].mark for m, p in held.positions.items()))
    cost = {}
    for m in markets:
        fill = op.fill_prices.get(m, pre.markets[m].mark)
        cost[m] = prices[m] - fill if account.positions[m].size > 0 else fill - prices[m]
    gainers = [m for m in markets if cost[m] <= 0]
    out: dict[str, Num] = {}
    for m in gainers + [m for m in markets if m not in gainers]:
        q = lots(account.positions[m].size)
        if m not in gainers:
            q = max_(0, min_(q, floor_div(budget, cost[m])))
        mark = pre.markets[m].mark
        if takeover is not None:
            q = min_(q, floor_div(takeover, mark))
            takeover = takeover - q * mark
        budget = budget - q * cost[m]
        out[m] = q
    return out
