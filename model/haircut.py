"""Pro-rata haircut of profitable accounts (R-HC-*): socialised loss, clawback, VMGH."""
from __future__ import annotations

from .allocation import allocate, water_fill
from .events import acct, layer
from .layers import sink_key
from .mechanism import Haircut, Mechanism
from .queue import queue_order
from .tx import Tx
from .units import PPM, div_floor


def haircut_base(tx: Tx, policy: Haircut, aid: str, markets: list[str]) -> tuple[list[str], list[int]]:
    """R-HC-1: each other account's base w = max(0, min(profit, equity)).

    profit 'upnl': unrealised PnL summed over all markets ('all_markets') or over the
    bankrupt's markets ('bankrupt_markets'); 'total_gain': equity - net deposits (realised
    plus unrealised); 'window_gain': total gain less the account's gain when the window
    began (R-HC-6: OKX weekly, Deribit daily). Eligibility 'net_profitable' also requires
    PnL summed over all markets > 0 (OKX 2018). Capping at equity keeps every haircut
    account at equity >= 0. Exempt accounts have no base (R-HC-8)."""
    marks = {m: mk.mark for m, mk in tx.markets.items()}
    scope = set(markets) if policy.scope == "bankrupt_markets" else None
    ids: list[str] = []
    weights: list[int] = []
    gain = policy.profit in ("total_gain", "window_gain")
    since = tx.window_base if policy.profit == "window_gain" else {}
    net = policy.eligibility == "net_profitable"
    for i, a in tx.accounts.items():
        if i == aid or i in policy.exempt:
            continue
        total = 0
        scoped = 0
        for m, p in a.positions.items():
            u = p.size * marks[m] - p.open_notional
            total += u
            if scope is None or m in scope:
                scoped += u
        eq = a.collateral + total
        profit = eq - a.net_deposit - since.get(i, 0) if gain else scoped
        if profit <= 0 or (net and total <= 0):
            continue
        w = profit if profit < eq else eq
        if w > 0:
            ids.append(i)
            weights.append(w)
    return ids, weights


def haircut_shares(tx: Tx, policy: Haircut, aid: str, deficit: int, markets: list[str]
                   ) -> tuple[list[str], list[int], int]:
    """R-HC-2: (payers, shares, target): R = min(deficit, sum of bases) pro rata with the
    policy's rounding (with caps at cap_ppm of each base, R = min(deficit, sum of caps),
    R-ALLOC-4); R-HC-9: only floor(deficit x severity_ppm / 10^6) is socialised, and the
    queue order takes it greedily instead of pro rata."""
    ids, weights = haircut_base(tx, policy, aid, markets)
    deficit = div_floor(deficit * policy.severity_ppm, PPM) if policy.severity_ppm < PPM else deficit
    if policy.order == "queue":
        return ids, queue_shares(deficit, weights, queue_order(tx, policy, ids, weights)), min(deficit, sum(weights))
    if policy.cap_ppm < PPM or policy.account_caps:
        caps = [w * account_cap(policy, i) // PPM for i, w in zip(ids, weights)]
        target = min(deficit, sum(caps))
        return ids, water_fill(target, weights, caps, ids, policy.rounding), target
    target = min(deficit, sum(weights))
    return ids, allocate(target, weights, ids, policy.rounding), target


def account_cap(policy: Haircut, aid: str) -> int:
    """R-HC-11: an account's cap in ppm of its base: its own beta_i from `account_caps`,
    else `cap_ppm`."""
    for a, cap in policy.account_caps:
        if a == aid:
            return cap
    return policy.cap_ppm


def queue_shares(target: int, weights: list[int], order: list[int]) -> list[int]:
    """R-HC-9: the queue: accounts in `order` (R-HC-10), each pays min(what is left of the
    target, its base), the last partially."""
    shares = [0] * len(weights)
    left = target
    for k in order:
        shares[k] = min(left, weights[k])
        left -= shares[k]
    return shares


def haircut(tx: Tx, mech: Mechanism, aid: str, deficit: int, markets: list[str], surplus_key: str) -> int:
    """R-HC-2..4: collect the haircut shares and pay them to the bankrupt; a surplus (ceil)
    goes to the surplus sink, a rounding shortfall (R - collected) to the residue sink;
    returns the uncovered rest. With timing 'settlement' the loss is deferred (R-HC-7)."""
    policy: Haircut = mech.final  # type: ignore[assignment]
    if policy.timing == "settlement":
        return defer(tx, aid, deficit, markets)
    ids, shares, target = haircut_shares(tx, policy, aid, deficit, markets)
    tx.collect("R-HC-2", ids, shares, aid, "haircut")
    collected = sum(shares)
    if collected > deficit:
        tx.pay("R-HC-3", acct(aid), layer(surplus_key), collected - deficit, "haircut")
        return 0
    return settle_residue(tx, mech, policy.residue_sink, aid, deficit - collected, target - collected, markets)


def defer(tx: Tx, aid: str, deficit: int, markets: list[str]) -> int:
    """R-HC-7: the deficit is advanced from the deferred-loss record of the bankrupt's first
    market (else the venue's first market), to be haircut when the window ends."""
    key = (markets or sorted(tx.markets) or [""])[0]
    tx.pay("R-HC-7", "deferred:" + key, acct(aid), deficit, "deferred")
    return 0


def settle_residue(tx: Tx, mech: Mechanism, sink: str, aid: str, rest: int, residue: int,
                   markets: list[str], payee: str | None = None) -> int:
    """R-HC-4 / I-RESIDUE: a rounding shortfall is charged to the declared sink layer as far
    as it can pay above its reserve (to the bankrupt, or `payee`); anything left stays in
    `rest` for the bad-debt ledger."""
    if sink == "bad_debt" or residue <= 0:
        return rest
    reserve = next((s.reserve for s in mech.layers if s.name == sink), 0)
    key = sink_key(mech, sink, markets, tx.markets)
    paid = min(residue, max(0, tx.layers.get(key, 0) - reserve))
    tx.pay("R-HC-4", layer(key), payee or acct(aid), paid, "residue")
    return rest - paid
