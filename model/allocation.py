"""Pro-rata allocation of an integer total over integer weights (R-ALLOC-*).

Every division states its rounding; what the rounding leaves over is returned to the
caller, which sends it to the mechanism's declared sink (I-RESIDUE).
"""
from __future__ import annotations

from functools import cmp_to_key
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

    Contracts (PEP 316; `waterfall crosshair` searches them, spec/rules.md R-ALLOC-1..3):
    pre: 0 <= total <= 1000 and rounding in ROUNDINGS
    pre: len(weights) <= 3 and len(keys) == len(weights) and len(set(keys)) == len(keys)
    pre: all(0 <= w <= 1000 for w in weights)
    post: len(__return__) == len(weights) and all(s >= 0 for s in __return__)
    post: (total > 0 and sum(weights) > 0) or __return__ == [0] * len(weights)  # R-ALLOC-3
    post: all(s == 0 for s, w in zip(__return__, weights) if w == 0)  # R-ALLOC-2, -3
    post: total > sum(weights) or all(s <= w for s, w in zip(__return__, weights))  # R-ALLOC-2
    post: rounding != FLOOR or sum(__return__) <= total  # R-ALLOC-1
    post: rounding != FLOOR or sum(weights) == 0 or all(s * sum(weights) <= total * w < (s + 1) * sum(weights) for s, w in zip(__return__, weights))  # R-ALLOC-1
    post: rounding != CEIL or total == 0 or sum(weights) == 0 or total <= sum(__return__) < total + len(weights)  # R-ALLOC-1
    post: rounding != CEIL or sum(weights) == 0 or all((s - 1) * sum(weights) < total * w <= s * sum(weights) for s, w in zip(__return__, weights))  # R-ALLOC-1
    post: rounding != LARGEST_REMAINDER or sum(weights) == 0 or sum(__return__) == total  # R-ALLOC-2
    post: rounding != LARGEST_REMAINDER or sum(weights) == 0 or all(abs(s * sum(weights) - total * w) < sum(weights) for s, w in zip(__return__, weights))  # R-ALLOC-2
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
    """R-ALLOC-2: indices of the k largest remainders, ties to the smaller key.

    pre: 1 <= k <= len(rems) <= 4 and len(keys) == len(rems) and len(set(keys)) == len(keys)
    post: len(__return__) == k == len(set(__return__)) and all(0 <= i < len(rems) for i in __return__)
    post: all(rems[i] > rems[j] or (rems[i] == rems[j] and keys[i] < keys[j]) for i in __return__ for j in range(len(rems)) if j not in __return__)
    """
    cut = sorted(rems, reverse=True)[k - 1]
    above = [i for i, r in enumerate(rems) if r > cut]
    ties = sorted((i for i, r in enumerate(rems) if r == cut), key=keys.__getitem__)
    return above + ties[: k - len(above)]


def water_fill(total: int, weights: Sequence[int], caps: Sequence[int], keys: Sequence[str],
               rounding: str) -> list[int]:
    """R-ALLOC-4: capped pro-rata: share_i = min(cap_i, eta * w_i) with one common eta,
    found exactly by saturating accounts in increasing cap/weight order; the unsaturated
    rest share what is left with `rounding`, no share above its cap. With floor or largest
    remainder the sum is <= total (the sum of the caps when all are capped); ceil may exceed it by
    fewer units than there are accounts (R-ALLOC-1).

    pre: 0 <= total <= 1000 and rounding in ROUNDINGS
    pre: len(weights) <= 3 and len(caps) == len(keys) == len(weights) and len(set(keys)) == len(keys)
    pre: all(0 <= w <= 1000 for w in weights) and all(0 <= c <= 1000 for c in caps)
    post: len(__return__) == len(weights) and all(0 <= s <= c for s, c in zip(__return__, caps))
    post: all(s == 0 for s, w in zip(__return__, weights) if w == 0)
    post: rounding == CEIL or sum(__return__) <= total
    post: rounding != CEIL or sum(__return__) <= total + max(0, len(weights) - 1)
    post: rounding != LARGEST_REMAINDER or sum(__return__) == min(total, sum(c for c, w in zip(caps, weights) if w > 0))
    """
    shares = [0] * len(weights)
    # increasing cap/weight, compared by cross-multiplication (weights > 0); ties keep index order
    live = sorted((i for i, w in enumerate(weights) if w > 0),
                  key=cmp_to_key(lambda i, j: caps[i] * weights[j] - caps[j] * weights[i]))
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
