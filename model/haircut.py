"""Pro-rata haircut of profitable accounts (R-HC-*): socialised loss, clawback, VMGH."""
from __future__ import annotations

from .allocation import allocate, water_fill
from .events import acct, layer
from .layers import sink_key
from .mechanism import Haircut, Mechanism
from .tx import Tx
from .units import PPM


def haircut_base(tx: Tx, policy: Haircut, aid: str, markets: list[str]) -> tuple[list[str], list[int]]:
    """R-HC-1: each other account's base w = max(0, min(profit, equity)).

    profit 'upnl': unrealised PnL summed over all markets ('all_markets') or over the
    bankrupt's markets ('bankrupt_markets'); 'total_gain': equity - net deposits (realised
    plus unrealised). Eligibility 'net_profitable' also requires PnL summed over all
    markets > 0 (OKX 2018). Capping at equity keeps every haircut account at equity >= 0."""
    marks = {m: mk.mark for m, mk in tx.markets.items()}
    scope = set(markets) if policy.scope == "bankrupt_markets" else None
    ids: list[str] = []
    weights: list[int] = []
    gain = policy.profit == "total_gain"
    net = policy.eligibility == "net_profitable"
    for i, a in tx.accounts.items():
        if i == aid:
            continue
        total = 0
        scoped = 0
        for m, p in a.positions.items():
            u = p.size * marks[m] - p.open_notional
            total += u
            if scope is None or m in scope:
                scoped += u
        eq = a.collateral + total
        profit = eq - a.net_deposit if gain else scoped
        if profit <= 0 or (net and total <= 0):
            continue
        w = profit if profit < eq else eq
        if w > 0:
            ids.append(i)
            weights.append(w)
    return ids, weights


def haircut(tx: Tx, mech: Mechanism, aid: str, deficit: int, markets: list[str], surplus_key: str) -> int:
    """R-HC-2..4: collect R = min(deficit, sum of bases) pro rata with the mechanism's
    rounding (with caps at cap_ppm of each base, R = min(deficit, sum of caps), R-ALLOC-4);
    a surplus (ceil) goes to the surplus sink, a rounding shortfall (R - collected) to the
    residue sink; returns the uncovered rest."""
    policy: Haircut = mech.final  # type: ignore[assignment]
    ids, weights = haircut_base(tx, policy, aid, markets)
    if policy.cap_ppm < PPM:
        caps = [w * policy.cap_ppm // PPM for w in weights]
        target = min(deficit, sum(caps))
        shares = water_fill(target, weights, caps, ids, policy.rounding)
    else:
        target = min(deficit, sum(weights))
        shares = allocate(target, weights, ids, policy.rounding)
    tx.collect("R-HC-2", ids, shares, aid, "haircut")
    collected = sum(shares)
    if collected > deficit:
        tx.pay("R-HC-3", acct(aid), layer(surplus_key), collected - deficit, "haircut")
        return 0
    return settle_residue(tx, mech, policy.residue_sink, aid, deficit - collected, target - collected, markets)


def settle_residue(tx: Tx, mech: Mechanism, sink: str, aid: str, rest: int, residue: int,
                   markets: list[str]) -> int:
    """R-HC-4 / I-RESIDUE: a rounding shortfall is charged to the declared sink layer as far
    as it can pay above its reserve; anything left stays in `rest` for the bad-debt ledger."""
    if sink == "bad_debt" or residue <= 0:
        return rest
    reserve = next((s.reserve for s in mech.layers if s.name == sink), 0)
    key = sink_key(mech, sink, markets, tx.markets)
    paid = min(residue, max(0, tx.layers.get(key, 0) - reserve))
    tx.pay("R-HC-4", layer(key), acct(aid), paid, "residue")
    return rest - paid
