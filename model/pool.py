"""The liquidity pool as counterparty (R-POOL-*): GMX v2.

Sources: gmx-io/gmx-synthetics contracts/market/MarketUtils.sol (getPnlToPoolFactor: the
side's PnL over the pool's value without PnL; getCappedPnl: positive PnL capped at
poolUsd x maxPnlFactor; isPnlFactorExceeded), contracts/position/PositionUtils.sol
(getPositionPnlUsd: a position's PnL scaled by cappedPoolPnl / poolPnl, then pro rata to
the size closed), contracts/exchange/AdlHandler.sol (ADL only while the factor exceeds
MAX_PNL_FACTOR_FOR_ADL; afterwards it must have fallen and stay >= MIN_PNL_FACTOR_AFTER_ADL),
contracts/adl/AdlUtils.sol (a keeper names the account and size).
"""
from __future__ import annotations

from .errors import AdlRefused, UnknownAccount
from .events import acct
from .mechanism import Mechanism, Pool
from .ops import Deleverage
from .state import State
from .tx import Tx
from .units import PPM, check_input, div_floor


def pool_value(tx: Tx, policy: Pool) -> int:
    """R-POOL-1: the pool's value without PnL: its account's collateral."""
    return tx.accounts[policy.account].collateral


def side_factor(policy: Pool, factor_ppm: int) -> int:
    """R-POOL-2: a factor of the side's pool as a factor of the whole pool:
    floor(side_share_ppm x factor_ppm / 10^6) (GMX MarketUtils.getPoolAmount /
    getPoolDivisor: a single-token market's side is half its pool). Both are the
    mechanism's constants, so every comparison stays linear in the pool's value."""
    return factor_ppm if policy.side_share_ppm == PPM else policy.side_share_ppm * factor_ppm // PPM


def capped_pnl(tx: Tx, policy: Pool, pnl: int, side: int) -> int:
    """R-POOL-2: what the pool pays for a PnL `pnl` when the side's PnL is `side`: a
    positive PnL is scaled to floor(pnl x cap / side) when side > cap = floor(value x
    side_factor(max_pnl_factor_ppm) / 10^6), not below 0 (a pool without value pays no
    profit); a loss is paid in full."""
    cap = max(0, div_floor(pool_value(tx, policy) * side_factor(policy, policy.max_pnl_factor_ppm), PPM))
    return div_floor(pnl * cap, side) if pnl > 0 and side > cap else pnl


def side_pnl(tx: Tx, policy: Pool, market: str, side: int) -> int:
    """R-POOL-2: the net unrealised PnL of the traders (every account but the pool) holding
    sign `side` in `market`."""
    mark = tx.markets[market].mark
    return sum(p.size * mark - p.open_notional for i, a in sorted(tx.accounts.items()) if i != policy.account
               for m, p in a.positions.items() if m == market and p.size * side > 0)


def factor_above(pnl: int, value: int, factor_ppm: int) -> bool:
    """R-POOL-2: pnl / value > factor (cross-multiplied; a pool without value has factor 0)."""
    return value > 0 and pnl * PPM > factor_ppm * value


def pool_absorbs(tx: Tx, mech: Mechanism, aid: str, deficit: int, markets: list[str], surplus_key: str) -> int:
    """R-POOL-1: what the layers leave is paid by the pool account (its LPs bear it); the
    pool's own shortfall is bad debt (R-WF-5)."""
    policy: Pool = mech.final  # type: ignore[assignment]
    if aid == policy.account:
        return deficit
    tx.pay("R-POOL-1", acct(policy.account), acct(aid), deficit, "pool")
    return 0


def deleverage_against_pool(state: State, op: Deleverage, mech: Mechanism) -> Tx:
    """R-POOL-3: a keeper's ADL order: `size` lots of the account's position in `market`
    are closed against the pool and their PnL, floor(upnl x size / |position|), is settled:
    the lots go to the pool at their entry value (quote size x mark - PnL) and the pool pays
    the PnL from its collateral, capped (R-POOL-2): if the side's PnL exceeds
    floor(value x max_pnl_factor_ppm / 10^6) the account receives floor(pnl x cap / side
    PnL) and the pool keeps the rest. Allowed only while the side's PnL-to-pool factor
    exceeds adl_trigger_ppm; afterwards it must have fallen and stay at or above
    adl_floor_ppm, else the order is refused (E-ADL) and nothing changes; so is an order
    whose lots' entry value is below one unit per lot (no trade at a price <= 0, R-EVT-1)."""
    policy = mech.final
    if not isinstance(policy, Pool):
        raise AdlRefused(f"mechanism {mech.id!r} has no pool to deleverage against", account=op.account)
    a = state.account(op.account)
    state.market(op.market)
    check_input(op.size, "size", positive=True, account=op.account, market=op.market)
    if op.account == policy.account:
        raise AdlRefused("the pool is not deleveraged against itself", account=op.account)
    if policy.account not in state.accounts:
        raise UnknownAccount(f"pool account {policy.account!r} is not in the state", account=policy.account)
    pos = a.positions.get(op.market)
    if pos is None or abs(pos.size) < op.size:
        raise AdlRefused(f"account {op.account!r} holds fewer than {op.size} lots in {op.market!r}",
                         account=op.account, market=op.market)
    tx = Tx(state)
    side = 1 if pos.size > 0 else -1
    value, before = pool_value(tx, policy), side_pnl(tx, policy, op.market, side)
    if not factor_above(before, value, policy.adl_trigger_ppm):
        raise AdlRefused(f"ADL not required: the {'long' if side > 0 else 'short'} side's PnL {before} is "
                         f"within {policy.adl_trigger_ppm} ppm of the pool's value {value}", market=op.market)
    mark = tx.markets[op.market].mark
    pnl = div_floor((pos.size * mark - pos.open_notional) * op.size, abs(pos.size))
    quote = op.size * mark - pnl if side > 0 else op.size * mark + pnl
    if quote < op.size:  # R-EVT-1: a trade at a positive price (found by I-EVENTS)
        raise AdlRefused(f"the {op.size} lots' entry value {quote} is below one unit per lot: they cannot "
                         f"be closed at it", account=op.account, market=op.market)
    tx.fill_quote("R-POOL-3", op.account, op.market, policy.account, op.size, quote, "adl", -side)
    paid = capped_pnl(tx, policy, pnl, before)
    if paid > 0:
        tx.pay("R-POOL-2", acct(policy.account), acct(op.account), paid, "pool")
    elif paid < 0:
        tx.pay("R-POOL-2", acct(op.account), acct(policy.account), -paid, "pool")
    after, value_after = side_pnl(tx, policy, op.market, side), pool_value(tx, policy)
    if after * value >= before * value_after:
        raise AdlRefused(f"ADL did not lower the PnL-to-pool factor ({after} / {value_after})", market=op.market)
    if after * PPM < policy.adl_floor_ppm * value_after:
        raise AdlRefused(f"ADL overcorrects: the factor {after} / {value_after} falls below {policy.adl_floor_ppm} ppm",
                         market=op.market)
    return tx
