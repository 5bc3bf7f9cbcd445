"""The order of a haircut queue (R-HC-10): by base, by leverage x base, or a given priority.

Source: Chitra, Autodeleveraging: Impossibilities and Optimization, arXiv 2512.01112 (a queue
takes the deficit greedily in its ranking order; production queues rank by PnL and leverage).
"""
from __future__ import annotations

from .mechanism import Haircut
from .state import equity, notional
from .tx import Tx
from .units import div_floor

SCALE = 10**18


def queue_order(tx: Tx, policy: Haircut, ids: list[str], weights: list[int]) -> list[int]:
    """R-HC-10: indices of the payers in queue order, ties to the smaller id. 'profit':
    largest base first; 'leverage_profit': largest floor(10^18 x base x notional / equity)
    first (the base times the effective leverage, R-MARGIN-0; a payer has equity >= its
    base > 0); 'priority': the accounts listed in `priority` in that order, then the others
    by base."""
    if policy.queue_order == "priority":
        rank = {a: k for k, a in enumerate(policy.priority)}
        late = len(rank)
        return sorted(range(len(ids)), key=lambda k: (rank.get(ids[k], late), -weights[k], ids[k]))
    if policy.queue_order == "leverage_profit":
        view = tx.view()
        scores = []
        for i, w in zip(ids, weights):
            a = view.accounts[i]
            scores.append(div_floor(SCALE * w * notional(view, a), equity(view, a)))
        return sorted(range(len(ids)), key=lambda k: (-scores[k], ids[k]))
    return sorted(range(len(ids)), key=lambda k: (-weights[k], ids[k]))
