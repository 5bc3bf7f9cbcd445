"""Auto-deleveraging (R-ADL-*): the bankrupt position closed against ranked opposite ones."""
from __future__ import annotations

from .mechanism import Adl
from .ranking import ranked
from .state import State
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


def deleverage(tx: Tx, policy: Adl, aid: str, markets: list[str], seed: str) -> None:
    """R-ADL-1: market by market (id order), close the bankrupt's size against the opposite
    side in ranking order, each taking min(remaining, its own size), the last partially, at
    the bankruptcy price while equity < 0 (else, and for close_price 'mark', at mark).
    R-ADL-6: with `skip_insolvent` (dYdX's collateral check) an account whose fill would
    leave it with negative equity is skipped; size nobody can take stays open on the
    bankrupt account (dYdX retries in a later block) and its equity is settled by R-WF-1."""
    start = tx.view()
    if len(markets) > 1:  # R-ADL-3: every market is ranked on the state before any ADL fill
        start = State(dict(tx.markets), dict(tx.accounts), dict(tx.layers), dict(tx.default_fund), tx.bad_debt)
    for m in markets:
        pos = tx.accounts[aid].positions.get(m)
        if pos is None or pos.size == 0:
            continue
        mark = tx.markets[m].mark
        eq = tx.equity(aid)
        price = mark
        if policy.close_price == "bankruptcy" and eq < 0:
            price = bankruptcy_price(mark, pos.size, eq, policy.bankruptcy_rounding)
        side = -1 if pos.size > 0 else 1
        remaining = abs(pos.size)
        fills = []
        for j in ranked(start, policy.ranking, m, side, aid, seed):
            q = min(remaining, abs(tx.accounts[j].positions[m].size))
            if policy.skip_insolvent and tx.equity(j) + q * (price - mark) * side < 0:
                continue  # R-ADL-6: the fill would leave j with negative equity
            fills.append((j, q))
            remaining -= q
            if remaining == 0:
                break
        tx.fills("R-ADL-1", aid, m, fills, price, "adl", side)
