"""Partial liquidation (R-LIQ-6): a step closes part of the positions; the rest stays open.

Sources: Hyperliquid docs trading/liquidations (positions above 100k USDC: 20 % per market
liquidation order, then a 30-second cooldown during which orders are for the whole
position; backstop liquidation below 2/3 of maintenance margin; a liquidation that
restores maintenance margin leaves the remaining collateral with the trader);
dydxprotocol/v4-chain protocol/x/clob/keeper/liquidations.go GetLiquidatablePositionSizeDelta,
GetMaxAndMinPositionNotionalLiquidatable, GetSubaccountMaxNotionalLiquidatable (per block:
max(min_position_notional_liquidated, max_position_portion_liquidated_ppm x notional) of a
position, whole when it is no larger; max_notional_liquidated per subaccount; one position).
"""
from __future__ import annotations

from .events import acct, layer
from .layers import sink_key
from .mechanism import Mechanism
from .ops import Liquidate
from .state import State, equity, margin_requirement
from .tx import Tx
from .units import PPM, div_floor, ppm_of


def partial_applies(state: State, mech: Mechanism, op: Liquidate, markets: list[str]) -> bool:
    """R-LIQ-6: a step is partial when the mechanism has a step rule, a counterparty is
    named, the account's equity is at least step_min_margin_ppm of its maintenance
    requirement (and >= 0), some position's notional exceeds the threshold, and no partial
    step of the account lies within the cooldown."""
    rule = mech.liquidation
    if rule.step_ppm == 0 or op.counterparty is None or not markets:
        return False
    a = state.accounts[op.account]
    eq = equity(state, a)
    if eq < 0 or eq * PPM < rule.step_min_margin_ppm * margin_requirement(state, a, initial=False):
        return False
    last = state.partial_at.get(op.account)
    if last is not None and state.clock - last < rule.step_cooldown:
        return False
    return any(abs(a.positions[m].size) * state.markets[m].mark > rule.step_threshold for m in markets)


def step_lots(notional: int, lots: int, mark: int, rule_ppm: int, threshold: int, floor_notional: int,
              budget: int | None) -> int:
    """R-LIQ-6: lots of one position a step closes: all of it when its notional is at most
    the threshold; else floor(max(floor_notional, floor(notional x ppm / 10^6)), within the
    account's remaining budget) / mark) lots, at least 1 and at most the position.

    pre: notional == lots * mark and lots > 0 and mark > 0 and 0 <= rule_ppm <= 10**6
    post: 1 <= __return__ <= lots
    """
    if notional <= threshold:
        allowed = notional
    else:
        allowed = max(floor_notional, div_floor(notional * rule_ppm, PPM))
    if budget is not None:
        allowed = min(allowed, budget)
    return min(lots, max(1, allowed // mark))


def partial_step(state: State, mech: Mechanism, op: Liquidate, markets: list[str]) -> Tx | None:
    """R-LIQ-6: markets in id order (at most step_markets of them), each closes step_lots to
    the counterparty at its fill price, until equity covers the maintenance requirement of
    what remains. A fee rule charges min(floor(fee_ppm x closed notional at mark / 10^6),
    equity) to the surplus sink; 'all' and 'none' charge nothing (the account keeps its
    margin). The step time is recorded for the cooldown. None when the step would leave the
    account below zero: the liquidation is then done in full (R-LIQ-2)."""
    rule = mech.liquidation
    aid = op.account
    tx = Tx(state)
    budget = rule.step_max_notional if rule.step_max_notional else None
    closed = 0
    for n, m in enumerate(markets):
        if rule.step_markets and n >= rule.step_markets:
            break
        pos = tx.accounts[aid].positions[m]
        mark = tx.markets[m].mark
        size = abs(pos.size)
        q = step_lots(size * mark, size, mark, rule.step_ppm, rule.step_threshold, rule.step_min_notional, budget)
        buyer, seller = (op.counterparty or "", aid) if pos.size > 0 else (aid, op.counterparty or "")
        tx.trade("R-LIQ-3", buyer, seller, m, q, op.fill_prices.get(m, mark), "close")
        closed += q * mark
        if budget is not None:
            budget = max(0, budget - q * mark)
        view = tx.view()
        if equity(view, view.accounts[aid]) >= margin_requirement(view, view.accounts[aid], initial=False):
            break
    eq = tx.equity(aid)
    if eq < 0:
        return None
    if rule.surplus == "fee":
        key = sink_key(mech, rule.surplus_sink, sorted(state.accounts[aid].positions), tx.markets)
        tx.pay("R-LIQ-5", acct(aid), layer(key), min(eq, ppm_of(closed, rule.fee_ppm, up=False)), "surplus")
    tx.partial_at[aid] = tx.clock
    return tx
