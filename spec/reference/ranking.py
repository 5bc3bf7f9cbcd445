"""ADL scores and queue order (R-ADL-3, R-ADL-4, R-ADL-4a..e, R-ADL-5), from spec/rules.md.

A score is a pair (defined, value): R-ADL-4 ranks an account whose score is undefined after
every scored one. Comparisons are built with `arith` so that one order question is one
condition, also over the prover's unknowns.
"""
from __future__ import annotations

from functools import cmp_to_key
from hashlib import sha256

from waterfall.model.arith import Cond, Num, all_, any_, floor_div, ite, max_, not_
from waterfall.model.state import Account, State, equity

RANK_SCALE = 10**18  # R-ADL-4: scores are floor(10^18 * num / den)
PPM = 10**6

Score = tuple[Cond, Num]


def magnitude(x: Num) -> Num:
    """|x|."""
    return ite(x < 0, -x, x)


def ratio(num: Num, den: Num) -> Score:
    """R-ADL-4: floor(10^18 * num / den) with the denominator made positive; undefined at 0."""
    sign_num = ite(den < 0, -num, num)
    return den != 0, floor_div(RANK_SCALE * sign_num, ite(den == 0, 1, magnitude(den)))


def pnl(state: State, a: Account, market: str) -> Num:
    """R-PNL-1: size * mark - open notional."""
    p = a.positions[market]
    return p.size * state.markets[market].mark - p.open_notional


def maintenance(state: State, a: Account) -> Num:
    """R-MARGIN-1: sum over markets of ceil(|size| * mark * mm_ppm / 10^6)."""
    total: Num = 0
    for m, p in a.positions.items():
        total = total + -floor_div(-(magnitude(p.size) * state.markets[m].mark * state.markets[m].mm_ppm), PPM)
    return total


def score_profit(state: State, a: Account, market: str) -> Score:
    """R-ADL-4a: unrealised PnL in the market."""
    return True, pnl(state, a, market)


def score_bitmex(state: State, a: Account, market: str) -> Score:
    """R-ADL-4b: PnL% x EffLev if PnL% > 0 else PnL% / EffLev, PnL% = upnl / |open notional|,
    EffLev = |size * mark| / equity; undefined when equity <= 0 or the entry value is 0."""
    p = a.positions[market]
    u, eq = pnl(state, a, market), equity(state, a)
    entry, worth = magnitude(p.open_notional), magnitude(p.size) * state.markets[market].mark
    defined, value = ratio(ite(u > 0, u * worth, u * eq), ite(u > 0, entry * eq, entry * worth))
    return all_([eq > 0, entry != 0, defined]), value


def score_binance(state: State, a: Account, market: str) -> Score:
    """R-ADL-4c: max(0, UP) / max(1, WB) x MM / (WB + UP); undefined when WB + UP <= 0."""
    wb = a.collateral
    up = equity(state, a) - wb
    defined, value = ratio(max_(0, up) * maintenance(state, a), max_(1, wb) * (wb + up))
    return all_([wb + up > 0, defined]), value


def score_hyperliquid(state: State, a: Account, market: str) -> Score:
    """R-ADL-4d: (mark / entry) x (|size| * mark / equity), entry = open notional / size."""
    p = a.positions[market]
    mark, eq = state.markets[market].mark, equity(state, a)
    defined, value = ratio(mark * mark * p.size * magnitude(p.size), p.open_notional * eq)
    return all_([eq > 0, p.open_notional != 0, defined]), value


def score_hyperliquid_side(state: State, a: Account, market: str) -> Score:
    """R-ADL-4e: a long scores mark^2 size^2 / (open notional x equity), a short
    |open notional| / equity; undefined when equity <= 0 or the entry is not positive."""
    p = a.positions[market]
    mark, eq = state.markets[market].mark, equity(state, a)
    long_def, long_val = ratio(mark * mark * p.size * p.size, p.open_notional * eq)
    short_def, short_val = ratio(magnitude(p.open_notional), eq)
    entry_positive = any_([all_([p.size > 0, p.open_notional > 0]), all_([p.size < 0, p.open_notional < 0])])
    return (all_([eq > 0, entry_positive, ite(p.size > 0, long_def, short_def)]),
            ite(p.size > 0, long_val, short_val))


SCORES = {"profit": score_profit, "bitmex": score_bitmex, "binance": score_binance,
          "hyperliquid": score_hyperliquid, "hyperliquid_side": score_hyperliquid_side}


def holders(state: State, market: str, side: int, exclude: str) -> list[str]:
    """R-ADL-3: ids (id order) of accounts other than the bankrupt holding the side `side`
    (+1 long, -1 short) of `market`, as conditions are not decided here: concrete sizes."""
    return sorted(i for i, a in state.accounts.items()
                  if i != exclude and market in a.positions and bool(a.positions[market].size * side > 0))


def above(x: Score, y: Score, x_id: str, y_id: str) -> Cond:
    """R-ADL-3/4: x ranks above y: scored before unscored, higher score first, equal scores
    (or both unscored) to the smaller id."""
    (dx, vx), (dy, vy) = x, y
    first = x_id < y_id
    both = all_([dx, dy])
    return any_([all_([dx, not_(dy)]), all_([both, vx > vy]), all_([both, vx == vy, first]),
                 all_([not_(dx), not_(dy), first])])


def cyclic(ids: list[str], seed: str, market: str, bankrupt: str) -> list[str]:
    """R-ADL-5: ids in id order from index H mod n, H the first 8 bytes (big-endian) of
    SHA-256 of 'seed|market|bankrupt', and round."""
    ids = sorted(ids)
    if not ids:
        return []
    h = int.from_bytes(sha256(f"{seed}|{market}|{bankrupt}".encode()).digest()[:8], "big")
    k = h % len(ids)
    return ids[k:] + ids[:k]


def order(state: State, ranking: str, market: str, side: int, exclude: str, seed: str) -> list[str]:
    """R-ADL-3: the ADL queue on concrete numbers (reports, agreement tests): cyclic, or by
    score high first, ties and unscored to the smaller id."""
    ids = holders(state, market, side, exclude)
    if ranking == "cyclic":
        return cyclic(ids, seed, market, exclude)
    scores = {i: SCORES[ranking](state, state.accounts[i], market) for i in ids}
    return sorted(ids, key=cmp_to_key(lambda x, y: -1 if above(scores[x], scores[y], x, y) else 1))
