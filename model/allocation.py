"""Pro-rata allocation of an integer total over integer weights (R-ALLOC-*).

Every division states its rounding; what the rounding leaves over is returned to the
caller, which sends it to the mechanism's declared sink (I-RESIDUE).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

FLOOR = "floor"
LARGEST_REMAINDER = "largest_remainder"
CEIL = "ceil"
ROUNDINGS = (FLOOR, LARGEST_REMAINDER, CEIL)


def allocate(total: int, weights: Sequence[int], keys: Sequence[str], rounding: str) -> list[int]:
    """R-ALLOC-1..3: shares of `total` proportional to `weights` (all >= 0).

    floor: floor(total*w/W), sum <= total. ceil: ceil(total*w/W), sum >= total.
    largest_remainder: floor, then one more unit to the largest remainders until the sum is
    exactly `total`; equal remainders go first to the smaller key (code-point order).
    """
    wsum = sum(weights)
    if wsum == 0 or total == 0:
        return [0] * len(weights)
    if rounding == FLOOR:
        return [total * w // wsum for w in weights]
    if rounding == CEIL:
        return [-((-total * w) // wsum) for w in weights]
    if rounding != LARGEST_REMAINDER:
        raise ValueError(f"unknown rounding {rounding!r}")
    pairs = [divmod(total * w, wsum) for w in weights]
    shares = [q for q, _ in pairs]
    extra = total - sum(shares)
    if extra:
        for i in top_remainders([r for _, r in pairs], keys, extra):
            shares[i] += 1
    return shares


def top_remainders(rems: Sequence[int], keys: Sequence[str], k: int) -> list[int]:
    """R-ALLOC-2: indices of the k largest remainders, ties to the smaller key."""
    cut = sorted(rems, reverse=True)[k - 1]
    above = [i for i, r in enumerate(rems) if r > cut]
    ties = sorted((i for i, r in enumerate(rems) if r == cut), key=keys.__getitem__)
    return above + ties[: k - len(above)]


def water_fill(total: int, weights: Sequence[int], caps: Sequence[int], keys: Sequence[str],
               rounding: str) -> list[int]:
    """R-ALLOC-4: capped pro-rata: share_i = min(cap_i, eta * w_i) with one common eta,
    found exactly by saturating accounts in increasing cap/weight order; the unsaturated
    rest share what is left with `rounding`, no share above its cap. With floor or largest
    remainder the sum is <= total (< total when all are capped); ceil may exceed it by
    fewer units than there are accounts (R-ALLOC-1)."""
    shares = [0] * len(weights)
    live = sorted((i for i, w in enumerate(weights) if w > 0), key=lambda i: Fraction(caps[i], weights[i]))
    left, wleft = total, sum(weights[i] for i in live)
    pos = 0
    while pos < len(live) and caps[live[pos]] * wleft <= left * weights[live[pos]]:
        i = live[pos]
        shares[i] = caps[i]
        left -= caps[i]
        wleft -= weights[i]
        pos += 1
    rest = live[pos:]
    part = allocate(left, [weights[i] for i in rest], [keys[i] for i in rest], rounding)
    for i, s in zip(rest, part):
        shares[i] = min(s, caps[i])
    return shares
