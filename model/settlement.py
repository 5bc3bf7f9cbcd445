"""The haircut at the end of a window (R-HC-7, R-TIME-4): BitMEX's Dynamic Profit
Equalisation, computed once per contract at the weekly settlement.

Source: blog.bitmex.com/dynamic-profit-equalisation/ (profits are held until settlement or
rebalance; at the weekly settlement the total system loss is computed and profits are
adjusted by Total System Loss / Total System Profit).
"""
from __future__ import annotations

from .events import layer
from .haircut import haircut_shares, settle_residue
from .layers import sink_key
from .mechanism import Haircut, Mechanism
from .tx import Tx


def settle_deferred(tx: Tx, mech: Mechanism) -> None:
    """R-HC-7: each market's deferred loss L (markets in id order) is collected from profit
    in that market (the policy's bases and rounding, R-HC-1/2, no bankrupt excluded) and paid
    to the deferred record; an over-collection goes to the surplus sink (R-HC-3), a rounding
    shortfall to the residue sink (R-HC-4); what nobody covers becomes bad debt (R-WF-5)."""
    policy: Haircut = mech.final  # type: ignore[assignment]
    for m in sorted(tx.deferred):
        loss = tx.deferred[m]
        if loss <= 0:
            continue
        me = "deferred:" + m
        ids, shares, target = haircut_shares(tx, policy, "", loss, [m])
        tx.collect("R-HC-2", ids, shares, "", "haircut", dst=me)
        collected = sum(shares)
        if collected > loss:
            tx.pay("R-HC-3", me, layer(sink_key(mech, mech.liquidation.surplus_sink, [m], tx.markets)),
                   collected - loss, "haircut")
            continue
        rest = settle_residue(tx, mech, policy.residue_sink, "", loss - collected, target - collected, [m], payee=me)
        tx.pay("R-WF-5", "bad_debt", me, rest, "bad_debt")
    for m in sorted(tx.deferred):
        if tx.deferred[m] == 0:
            del tx.deferred[m]
