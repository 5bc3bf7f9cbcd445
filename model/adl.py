"""Auto-deleveraging (R-ADL-*): the bankrupt position closed against ranked opposite ones."""
from __future__ import annotations

from typing import Iterable, Mapping

from .fill_price import fill_quote, passes_check
from .mechanism import Adl
from .ranking import ranked
from .state import previous_mark
from .tx import Tx
from .units import div_ceil, div_floor


def bankruptcy_price(mark: int, size: int, eq: int, rounding: str) -> int:
    """R-ADL-2: the price P at which closing `size` leaves equity 0 with every other position
    at mark: P = mark - eq / size. 'toward_bankrupt' rounds in the bankrupt's favour (long
    up, short down), so closing at P needs no layer; 'toward_counterparty' the other way.
    P is at least 1.

    With r = eq + (P - mark) * size, the bankrupt's equity after closing at P:
    pre: 1 <= mark <= 10**6 and -10**6 <= size <= 10**6 and size != 0 and -10**9 <= eq <= 10**9
    pre: rounding in ("toward_bankrupt", "toward_counterparty")
    post: __return__ >= 1
    post: rounding != "toward_bankrupt" or __return__ == 1 or 0 <= eq + (__return__ - mark) * size < abs(size)
    post: rounding != "toward_counterparty" or __return__ == 1 or -abs(size) < eq + (__return__ - mark) * size <= 0
    """
    up = (size > 0) == (rounding == "toward_bankrupt")
    if size > 0:
        delta = div_ceil(-eq, size) if up else div_floor(-eq, size)
    else:
        delta = div_ceil(eq, -size) if up else div_floor(eq, -size)
    return max(1, mark + delta)


def at_bankruptcy(policy: Adl, covered: bool) -> bool:
    """R-ADL-2 / R-ADL-10: whether deleveraging uses the bankruptcy price (while equity < 0):
    close price 'bankruptcy', or 'mark_or_bankruptcy' when the layers cannot cover the
    deficit left at mark (`covered` false: OKX, fund nearly depleted)."""
    return policy.close_price == "bankruptcy" or (policy.close_price == "mark_or_bankruptcy" and not covered)


def close_price(tx: Tx, policy: Adl, aid: str, market: str, covered: bool = False) -> int:
    """R-ADL-2 / R-ADL-9: the price one market's deleveraging uses, on the working state:
    the bankruptcy price while the bankrupt's equity < 0 if at_bankruptcy (else mark),
    'mark', or 'previous_mark' (the mark before the last move, R-TIME-2: Hyperliquid)."""
    mk = tx.markets[market]
    if policy.close_price == "previous_mark":
        return previous_mark(mk)
    eq = tx.equity(aid)
    if at_bankruptcy(policy, covered) and eq < 0:
        return bankruptcy_price(mk.mark, tx.accounts[aid].positions[market].size, eq, policy.bankruptcy_rounding)
    return mk.mark


def planned_prices(tx: Tx, policy: Adl, aid: str, markets: list[str], covered: bool = False
                   ) -> tuple[dict[str, int], int]:
    """R-ADL-7: the prices deleveraging every open position would use, market by market in
    id order, each on the equity the earlier closes would leave (close_price), and the
    equity they would leave at the end."""
    eq = tx.equity(aid)
    prices = {}
    for m in markets:
        pos = tx.accounts[aid].positions.get(m)
        if pos is None or pos.size == 0:
            continue
        mk = tx.markets[m]
        if policy.close_price == "previous_mark":
            price = previous_mark(mk)
        elif at_bankruptcy(policy, covered) and eq < 0:
            price = bankruptcy_price(mk.mark, pos.size, eq, policy.bankruptcy_rounding)
        else:
            price = mk.mark
        prices[m] = price
        eq += pos.size * (price - mk.mark)
    return prices, eq


def deleverage(tx: Tx, policy: Adl, aid: str, markets: list[str], seed: str,
               lots: Mapping[str, int] | None = None, prices: Mapping[str, int] | None = None,
               covered: bool = False, book: str | None = None) -> None:
    """R-ADL-1: market by market (id order), close the bankrupt's size (or `lots` of it,
    R-ADL-7) against the opposite side in ranking order, each taking min(remaining, its own
    size), the last partially, at `prices` or close_price (R-ADL-2, R-ADL-9); pricing
    'per_fill' prices each fill on its own (R-ADL-8).
    R-ADL-6: with `skip_insolvent` an account that fails the collateral check is skipped;
    size nobody can take stays open on the bankrupt account (dYdX retries in a later block)
    and its equity is settled by R-WF-1. The counterparty of a fund-first split (`book`)
    takes no part in the deleveraging (R-ADL-7)."""
    start = tx.view()
    if len(markets) > 1:  # R-ADL-3: every market is ranked on the state before any ADL fill
        start = tx.snapshot()
    for m in markets:
        pos = tx.accounts[aid].positions.get(m)
        if pos is None or pos.size == 0:
            continue
        remaining = abs(pos.size) if lots is None else lots[m]
        if remaining == 0:
            continue
        side = -1 if pos.size > 0 else 1
        order = (j for j in ranked(start, policy.ranking, m, side, aid, seed) if j != book)
        if policy.pricing == "per_fill":
            deleverage_per_fill(tx, policy, aid, m, side, remaining, order)
            continue
        mark = tx.markets[m].mark
        price = prices[m] if prices is not None else close_price(tx, policy, aid, m, covered)
        fills = []
        for j in order:
            q = min(remaining, abs(tx.accounts[j].positions[m].size))
            if policy.skip_insolvent and not passes_check(tx, policy, j, m, side, q, q * price):
                continue  # R-ADL-6: the fill would fail j's collateral check
            fills.append((j, q))
            remaining -= q
            if remaining == 0:
                break
        tx.fills("R-ADL-1", aid, m, fills, price, "adl", side)


def deleverage_per_fill(tx: Tx, policy: Adl, aid: str, market: str, side: int, remaining: int,
                        order: Iterable[str]) -> None:
    """R-ADL-8: each opposite account in order takes min(remaining, its size) at the quote
    fill_quote gives on the bankrupt as it is after the fills before it (R-ADL-6 applies)."""
    for j in order:
        q = min(remaining, abs(tx.accounts[j].positions[market].size))
        quote = fill_quote(tx, aid, market, q)
        if policy.skip_insolvent and not passes_check(tx, policy, j, market, side, q, quote):
            continue
        tx.fill_quote("R-ADL-1", aid, market, j, q, quote, "adl", side)
        remaining -= q
        if remaining == 0:
            break
