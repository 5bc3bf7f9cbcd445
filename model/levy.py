"""Open-interest levy (R-LEVY-*): the loss charged per lot of both sides (Drift v2, Mango v4).

Sources: drift-labs/protocol-v2 controller/liquidation.rs resolve_perp_bankruptcy (loss
per unit of base, ceil, added to the longs' and subtracted from the shorts' cumulative
funding); blockworks-foundation/mango-v4 perp_liq_negative_pnl_or_bankruptcy.rs.
"""
from __future__ import annotations

from .events import acct, layer
from .allocation import allocate
from .haircut import settle_residue
from .layers import capacity
from .mechanism import Levy, Mechanism
from .tx import Tx
from .units import div_ceil, div_floor


def levy(tx: Tx, mech: Mechanism, aid: str, deficit: int, markets: list[str], surplus_key: str) -> int:
    """R-LEVY-1..3: rate = ceil(deficit * scale / OI) with OI = sum of |size| over the
    bankrupt's markets, both sides; each account pays floor(|size| * rate / scale) from its
    collateral, losers included. Zero OI charges nobody (R-LEVY-4). Exempt accounts are
    outside OI and pay nothing (R-LEVY-5: Drift's AMM). Surplus to the surplus sink,
    shortfall to the residue sink; returns the uncovered rest. R-LEVY-6: with
    `only_when_exhausted`, nothing is levied while a balance layer could still pay (its
    transfer was limited, e.g. by the liquidator's cap): the rest stays on the account, to
    be liquidated again (Mango). R-LEVY-7: with `per_market` each of the bankrupt's markets
    is resolved on its own: its part of the deficit is levied on that market's open
    interest only (Drift resolve_perp_bankruptcy(market_index))."""
    policy: Levy = mech.final  # type: ignore[assignment]
    if policy.only_when_exhausted and capacity(tx, mech, markets) > 0:  # R-LEVY-6
        return 0
    if policy.per_market and len(markets) > 1:  # R-LEVY-7
        return sum(levy_in(tx, mech, aid, part, [m], surplus_key) for m, part in market_parts(tx, aid, deficit, markets))
    return levy_in(tx, mech, aid, deficit, markets, surplus_key)


def market_parts(tx: Tx, aid: str, deficit: int, markets: list[str]) -> list[tuple[str, int]]:
    """R-LEVY-7: the deficit split over the bankrupt's markets pro rata to its loss in each,
    max(0, open notional - size x mark), largest remainder (ties to the smaller market id);
    with no loss in any market (the deficit is negative collateral alone) the first market
    takes it all."""
    positions = tx.accounts[aid].positions
    losses = []
    for m in markets:
        p = positions.get(m)
        losses.append(max(0, p.open_notional - p.size * tx.markets[m].mark) if p is not None else 0)
    if sum(losses) == 0:
        return [(markets[0], deficit)]
    return list(zip(markets, allocate(deficit, losses, markets, "largest_remainder")))


def levy_in(tx: Tx, mech: Mechanism, aid: str, deficit: int, markets: list[str], surplus_key: str) -> int:
    """R-LEVY-1..5 over the open interest of `markets`; returns the uncovered rest."""
    policy: Levy = mech.final  # type: ignore[assignment]
    if deficit <= 0:
        return 0
    scope = set(markets)
    lots = {i: sum(abs(p.size) for m, p in a.positions.items() if m in scope)
            for i, a in tx.accounts.items() if i != aid and i not in policy.exempt}
    oi = sum(lots.values())
    if oi == 0:
        return deficit
    rdiv = div_ceil if policy.rate_rounding == "ceil" else div_floor
    pdiv = div_ceil if policy.payment_rounding == "ceil" else div_floor
    rate = rdiv(deficit * policy.rate_scale, oi)
    payers = sorted(lots)
    pays = [pdiv(lots[i] * rate, policy.rate_scale) for i in payers]
    tx.collect("R-LEVY-2", payers, pays, aid, "levy")
    collected = sum(pays)
    if collected > deficit:
        tx.pay("R-LEVY-3", acct(aid), layer(surplus_key), collected - deficit, "levy")
        return 0
    return settle_residue(tx, mech, policy.residue_sink, aid, deficit - collected, deficit - collected, markets)
