"""The price a deleveraging fill uses (R-ADL-2, R-ADL-7's planned prices, R-ADL-9, R-ADL-10,
R-TIME-2), from spec/rules.md."""
from __future__ import annotations

from waterfall.model.arith import Cond, Num, all_, any_, ceil_div, floor_div, ite, max_, not_
from waterfall.model.mechanism import Adl, Mechanism
from waterfall.model.state import Market, State, equity

from waterfall.spec.reference.layers import capacity


def previous_mark(mk: Market) -> Num:
    """R-TIME-2: the recorded previous mark, the mark when none (0) is recorded."""
    return ite(mk.prev_mark > 0, mk.prev_mark, mk.mark)


def bankruptcy_price(mark: Num, size: Num, eq: Num, rounding: str) -> Num:
    """R-ADL-2: P = mark - eq / size, rounded in the bankrupt's favour ('toward_bankrupt':
    a long up, a short down) or the other way ('toward_counterparty'); at least 1."""
    if size > 0:  # a long: P = mark + (-eq) / size
        up = rounding == "toward_bankrupt"
        delta = ceil_div(-eq, size) if up else floor_div(-eq, size)
    else:  # a short: P = mark + eq / |size|
        up = rounding == "toward_counterparty"
        delta = ceil_div(eq, -size) if up else floor_div(eq, -size)
    return max_(1, mark + delta)


def covered_at_mark(pre: State, mech: Mechanism, aid: str, scope: list[str]) -> Cond:
    """R-ADL-10: the balance layers (R-WF-3 with every rule) can pay the deficit the
    bankrupt has at mark."""
    return capacity(pre, mech, scope) >= -equity(pre, pre.accounts[aid])


def at_bankruptcy(policy: Adl, covered: Cond) -> Cond:
    """R-ADL-2 / R-ADL-10: close price 'bankruptcy', or 'mark_or_bankruptcy' not covered."""
    if policy.close_price == "bankruptcy":
        return True
    return all_([policy.close_price == "mark_or_bankruptcy", not_(covered)])


def close_price(pre: State, policy: Adl, market: str, size: Num, eq: Num, covered: Cond) -> Num:
    """R-ADL-2 / R-ADL-9 / R-ADL-10: one market's price on the running equity `eq`: the
    previous mark ('previous_mark'); the bankruptcy price while eq < 0 when it applies; else mark."""
    mk = pre.markets[market]
    if policy.close_price == "previous_mark":
        return previous_mark(mk)
    if at_bankruptcy(policy, covered) and eq < 0:
        return bankruptcy_price(mk.mark, size, eq, policy.bankruptcy_rounding)
    return mk.mark


def planned(pre: State, policy: Adl, aid: str, markets: list[str], covered: Cond
            ) -> tuple[dict[str, Num], Num]:
    """R-ADL-7: the prices deleveraging every open position would use, markets in id order,
    each on the equity the earlier closes leave, and the equity left after them all."""
    eq = equity(pre, pre.accounts[aid])
    prices: dict[str, Num] = {}
    for m in markets:
        p = pre.accounts[aid].positions[m]
        prices[m] = close_price(pre, policy, m, p.size, eq, covered)
        eq = eq + p.size * (prices[m] - pre.markets[m].mark)
    return prices, eq


def adl_prices(pre: State, mech: Mechanism, aid: str, scope: list[str], markets: list[str],
               lots: dict[str, Num]) -> dict[str, Num]:
    """R-ADL-2/9/10: the price of every deleveraging fill by market. Fund first (R-ADL-7):
    the planned prices. Otherwise each market on the equity the earlier markets' fills left
    (`lots` deleveraged there, which is the whole position unless R-ADL-6 skipped some)."""
    policy: Adl = mech.final  # type: ignore[assignment]
    covered = covered_at_mark(pre, mech, aid, scope) if policy.close_price == "mark_or_bankruptcy" else False
    if policy.fund_first:
        return planned(pre, policy, aid, markets, covered)[0]
    eq = equity(pre, pre.accounts[aid])
    prices: dict[str, Num] = {}
    for m in markets:
        p = pre.accounts[aid].positions[m]
        prices[m] = close_price(pre, policy, m, p.size, eq, covered)
        signed = lots.get(m, 0) if p.size > 0 else -lots.get(m, 0)
        eq = eq + signed * (prices[m] - pre.markets[m].mark)
    return prices


def open_markets(pre: State, aid: str) -> list[str]:
    """R-ADL-1: the bankrupt's markets with an open position, in id order."""
    return sorted(m for m, p in pre.accounts[aid].positions.items() if bool(any_([p.size > 0, p.size < 0])))
