"""The haircut queue (R-HC-9), from spec/rules.md."""
from __future__ import annotations

from typing import Mapping

from waterfall.model.arith import Cond, Num, all_, any_, floor_div, ite, max_, min_, sum_

PPM = 10**6


def ahead(w_j: Num, w_i: Num, j: str, i: str) -> Cond:
    """R-HC-9: j comes before i in the queue: a larger base, or an equal one and a smaller id."""
    return any_([w_j > w_i, all_([w_j == w_i, j < i])])


def queue_shares(target: Num, bases: Mapping[str, Num]) -> dict[str, Num]:
    """R-HC-9: bases largest first (ties to the smaller id), each pays min(what is left of
    the target, its base): what is left for i is the target less every base ahead of it."""
    out = {}
    for i, w in bases.items():
        before = sum_(ite(ahead(w_j, w, j, i), w_j, 0) for j, w_j in bases.items() if j != i)
        out[i] = min_(w, max_(0, target - before))
    return out


def socialised(deficit: Num, severity_ppm: int, bases: Mapping[str, Num]) -> Num:
    """R-HC-9 / R-HC-2: R = min(floor(D * severity_ppm / 10^6), sum of bases)."""
    return min_(floor_div(deficit * severity_ppm, PPM), sum_(bases.values()))
