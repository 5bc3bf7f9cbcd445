"""ADL ranking scores (R-ADL-4): exact integers, higher ranks first, ties to smaller id.

A score that is a ratio is compared as floor(RANK_SCALE * num / den). An account whose
score is undefined (equity <= 0, zero entry value) ranks after every scored account.
"""
from __future__ import annotations

from hashlib import sha256
from typing import Callable, Iterator

from .state import Account, Position, State, account_upnl, margin_requirement
from .units import RANK_SCALE

Score = Callable[[State, Account, str, Position], "int | None"]


def _ratio(num: int, den: int) -> int | None:
    """R-ADL-4: floor(RANK_SCALE * num / den), None (undefined) when den <= 0.

    pre: abs(num) <= 10**12 and abs(den) <= 10**12
    post: (__return__ is None) == (den <= 0)
    post: __return__ is None or __return__ * den <= RANK_SCALE * num < (__return__ + 1) * den
    """
    return RANK_SCALE * num // den if den > 0 else None


def score_profit(state: State, a: Account, market: str, p: Position) -> int | None:
    """R-ADL-4a 'profit': unrealised PnL in the market."""
    return p.size * state.markets[market].mark - p.open_notional


def score_bitmex(state: State, a: Account, market: str, p: Position) -> int | None:
    """R-ADL-4b 'bitmex' (also OKX, Bybit 'pnl_leverage'): PnL% x EffLev if PnL% > 0, else
    PnL% / EffLev; PnL% = upnl / |entry value|, EffLev = |mark value| / equity.
    Source: bitmex.com/app/autoDeleveraging; cross-margin equity stands in for the
    position's margin (MarkValue - BankruptValue)."""
    mark = state.markets[market].mark
    u = p.size * mark - p.open_notional
    eq = a.collateral + account_upnl(state, a)
    entry, value = abs(p.open_notional), abs(p.size) * mark
    if eq <= 0 or entry == 0:
        return None
    return _ratio(u * value, entry * eq) if u > 0 else _ratio(u * eq, entry * value)


def score_binance(state: State, a: Account, market: str, p: Position) -> int | None:
    """R-ADL-4c 'binance': max(0, UP) / max(1, WB) x MM / (WB + UP); undefined (ranks last)
    when WB + UP <= 0. Source: Binance FAQ 360033525471 (partly verified; Binance shows a
    margin ratio of 0 there, which would rank an insolvent account by id among solvent ones)."""
    up = account_upnl(state, a)
    wb = a.collateral
    if wb + up <= 0:
        return None
    return _ratio(max(0, up) * margin_requirement(state, a, initial=False), max(1, wb) * (wb + up))


def score_hyperliquid(state: State, a: Account, market: str, p: Position) -> int | None:
    """R-ADL-4d 'hyperliquid': (mark / entry) x (notional / account value), with the signed
    entry = open_notional / size (negative when open notional and size differ in sign). Source: Hyperliquid docs, trading/auto-deleveraging (the side
    handling of 'mark / entry' for shorts is unverified)."""
    mark = state.markets[market].mark
    eq = a.collateral + account_upnl(state, a)
    if eq <= 0 or p.open_notional == 0:
        return None
    num, den = mark * mark * p.size * abs(p.size), p.open_notional * eq  # (mark*size/on) x (|size|*mark/eq)
    return _ratio(num, den) if den > 0 else _ratio(-num, -den)


def score_hyperliquid_side(state: State, a: Account, market: str, p: Position) -> int | None:
    """R-ADL-4e 'hyperliquid_side': Hyperliquid's (mark / entry) x (notional / account value)
    with the price ratio taken in the position's favour: mark / entry for a long,
    entry / mark for a short, so a winning short ranks above a losing one (the literal
    formula, R-ADL-4d, ranks a short higher the more it loses). With entry = open notional
    / size: a long scores mark^2 x size^2 / (open notional x E), a short
    |open notional| / E; undefined when E <= 0 or the entry is not positive. The short
    form is this specification's reading: Hyperliquid publishes only the long form."""
    mark = state.markets[market].mark
    eq = a.collateral + account_upnl(state, a)
    if eq <= 0 or p.open_notional * p.size <= 0:
        return None
    if p.size > 0:
        return _ratio(mark * mark * p.size * p.size, p.open_notional * eq)
    return _ratio(-p.open_notional, eq)


SCORES: dict[str, Score] = {"profit": score_profit, "bitmex": score_bitmex,
                            "binance": score_binance, "hyperliquid": score_hyperliquid,
                            "hyperliquid_side": score_hyperliquid_side}
RANKINGS = tuple(SCORES) + ("cyclic",)


def ranked(state: State, ranking: str, market: str, side: int, exclude: str, seed: str) -> Iterator[str]:
    """R-ADL-3: ids of accounts holding size of sign `side` in `market`, in ADL order of
    their scores on `state` (the state when deleveraging began)."""
    holders = [(i, a, a.positions[market]) for i, a in state.accounts.items()
               if i != exclude and market in a.positions and a.positions[market].size * side > 0]
    if ranking == "cyclic":
        yield from cyclic_order(sorted(i for i, _, _ in holders), seed, market, exclude)
        return
    score = SCORES[ranking]
    ids = [i for i, _, _ in holders]
    n = len(ids)
    by_id = sorted(range(n), key=ids.__getitem__)
    rank = [0] * n
    for r, k in enumerate(by_id):
        rank[k] = r
    # one integer key per account, -score * n + id rank: sorts by score (high first), then id;
    # the order is read off by sorting positions by key (a key is never used as an index)
    scored, keys, unscored = [], [], []
    for k, (i, a, p) in enumerate(holders):
        s = score(state, a, market, p)
        if s is None:
            unscored.append(rank[k])
        else:
            scored.append(k)
            keys.append(-s * n + rank[k])
    unscored.sort()
    for pos in sorted(range(len(scored)), key=keys.__getitem__):
        yield ids[scored[pos]]
    for r in unscored:
        yield ids[by_id[r]]


def cyclic_order(ids: list[str], seed: str, market: str, bankrupt: str) -> list[str]:
    """R-ADL-5 (dYdX v4): no ranking; start at index H mod n of the id-sorted list, where H
    is the first 8 bytes (big-endian) of SHA-256 of 'seed|market|bankrupt', and go round.
    Source: dydxprotocol/v4-chain protocol/x/clob/keeper/deleveraging.go (pseudo-random
    start, cyclic iteration); the hash is this spec's, not dYdX's.

    pre: len(ids) <= 4 and ids == sorted(set(ids))
    post: sorted(__return__) == ids
    post: not ids or __return__ == ids[ids.index(__return__[0]):] + ids[:ids.index(__return__[0])]
    """
    if not ids:
        return []
    digest = sha256(f"{seed}|{market}|{bankrupt}".encode()).digest()
    start = int.from_bytes(digest[:8], "big") % len(ids)
    return ids[start:] + ids[:start]
