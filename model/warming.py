"""Warming profit burnt before the insurance fund (R-WH-4): Percolator's crisis order.

Source: aeyakovenko/percolator crates/model_safety/src/crisis/haircut.rs (module docs, "Loss
Waterfall": 1. warming PnL, burn unvested PnL first; 2. insurance fund; 3. equity), applied
by one global scale factor, so every account's warming PnL falls by the same fraction.
"""
from __future__ import annotations

from .allocation import allocate
from .mechanism import Mechanism, WithdrawalHaircut
from .tx import Tx
from .withdrawal import unmatured_gain


def burn_warming(tx: Tx, mech: Mechanism, aid: str, deficit: int) -> int:
    """R-WH-4: with `warming_first`, before any layer the deficit is taken from the other
    accounts' warming gain (R-WH-3's gain since the window began, capped at equity >= 0),
    pro rata with largest remainder, R = min(deficit, sum of warming gains); returns what
    is left for the layers."""
    policy = mech.final
    if not isinstance(policy, WithdrawalHaircut) or not policy.warming_first or deficit <= 0:
        return deficit
    ids, weights = [], []
    for i in sorted(tx.accounts):
        if i == aid:
            continue
        w = min(unmatured_gain(tx, policy, i), max(0, tx.equity(i)))
        if w > 0:
            ids.append(i)
            weights.append(w)
    target = min(deficit, sum(weights))
    shares = allocate(target, weights, ids, "largest_remainder")
    tx.collect("R-WH-4", ids, shares, aid, "warming")
    return deficit - sum(shares)
