"""GMX's PnL cap on every decrease against the pool (R-POOL-4).

Source: gmx-io/gmx-synthetics contracts/position/DecreasePositionCollateralUtils.sol and
PositionUtils.getPositionPnlUsd (every decrease order realises the PnL of the size closed,
scaled by cappedPoolPnl / poolPnl with MarketUtils.getCappedPnl), test
test/exchange/DecreasePosition/CappedPnl.ts@219e0db9f1ca599ff57cb81ac2a8e9146da9849e
("capped pnl": 135,000 then 168,775 USDC received).
"""
from __future__ import annotations

from .errors import InvalidAmount
from .events import acct
from .mechanism import Pool
from .pool import capped_pnl, side_pnl
from .tx import Tx
from .units import div_floor


def reduced_lots(tx: Tx, aid: str, market: str, sign: int, size: int) -> int:
    """R-POOL-4: how many of `size` lots traded in direction `sign` (+1 buy) reduce the
    account's position: min(size, |position|) when it is opposite to `sign`, else 0."""
    pos = tx.accounts[aid].positions.get(market)
    if pos is None or pos.size * sign >= 0:
        return 0
    return min(size, abs(pos.size))


def decrease_to_pool(tx: Tx, policy: Pool, aid: str, market: str, lots: int, price: int) -> None:
    """R-POOL-4: a trader closes `lots` lots against the pool at `price`: the lots' PnL
    floor((size x price - open notional) x lots / |size|) is settled: the lots go to the pool
    at their entry value (quote lots x price -/+ PnL, long/short) and the pool pays the PnL
    from its collateral, positive PnL capped as in R-POOL-2 on the side's PnL at mark before
    the decrease; a loss is paid by the trader to the pool. An entry value below one unit per
    lot cannot be traded (R-EVT-1): the trade is refused (E-INVALID-AMOUNT)."""
    pos = tx.accounts[aid].positions[market]
    side = 1 if pos.size > 0 else -1
    before = side_pnl(tx, policy, market, side)
    pnl = div_floor((pos.size * price - pos.open_notional) * lots, abs(pos.size))
    quote = lots * price - pnl if side > 0 else lots * price + pnl
    if quote < lots:
        raise InvalidAmount(f"account {aid!r}: the {lots} lots' entry value {quote} is below one unit per lot: "
                            f"they cannot be closed to the pool", account=aid, market=market)
    cap_before = capped_pnl(tx, policy, pnl, before)
    tx.fill_quote("R-POOL-4", aid, market, policy.account, lots, quote, "trade", -side)
    if cap_before > 0:
        tx.pay("R-POOL-2", acct(policy.account), acct(aid), cap_before, "pool")
    elif cap_before < 0:
        tx.pay("R-POOL-2", acct(aid), acct(policy.account), -cap_before, "pool")
