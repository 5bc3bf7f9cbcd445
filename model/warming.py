"""Warming profit burnt before the insurance fund (R-WH-4): Percolator's crisis order.

Source: aeyakovenko/percolator crates/model_safety/src/crisis/haircut.rs (module docs, "Loss
Waterfall": 1. warming PnL, burn unvested PnL first; 2. insurance fund; 3. equity), applied
by one global scale factor, so every account's warming PnL falls by the same fraction.
"""
from __future__ import annotations

from .allocation import allocate
from .mechanism import Mechanism, WithdrawalHaircut
from .tx import Tx


def burn_warming(tx: Tx, mech: Mechanism, aid: str, deficit: int) -> int:
    """R-WH-4: with `warming_first`, before any layer the deficit is taken from the other
    accounts' warming gain w = max(0, min(gain since the window began, equity)) (R-WH-3),
    pro rata, each floor(R x w / W) with R = min(deficit, W): one scale factor for every
    warming gain, rounded down; the rounding shortfall stays in the deficit for the
    layers. Returns what is left for the layers."""
    policy = mech.final
    if not isinstance(policy, WithdrawalHaircut) or not policy.warming_first or deficit <= 0:
        return deficit
    ids, weights = [], []
    for i in sorted(tx.accounts):
        if i == aid:
            continue
        a = tx.accounts[i]
        eq = tx.equity(i)
        w = max(0, min(eq - a.net_deposit - tx.window_base.get(i, 0), eq))
        if w > 0:
            ids.append(i)
            weights.append(w)
    target = min(deficit, sum(weights))
    shares = allocate(target, weights, ids, "floor")
    tx.collect("R-WH-4", ids, shares, aid, "warming")
    return deficit - sum(shares)
