"""The liquidation and its loss waterfall (R-LIQ-*, R-WF-*)."""
from __future__ import annotations

from .adl import deleverage
from .errors import HealthyAccount, MissingCounterparty, SelfTrade
from .events import acct, layer
from .haircut import haircut
from .layers import draw_layers, sink_key
from .levy import levy
from .mechanism import Adl, Haircut, Levy, Mechanism
from .ops import Liquidate
from .state import State, equity, margin_requirement, notional
from .tx import Tx
from .units import check_input, ppm_of

FINAL = {Haircut: haircut, Levy: levy}


def check_liquidatable(state: State, op: Liquidate) -> None:
    """R-LIQ-1: the account exists and its equity is below maintenance margin; the
    counterparty exists and differs; fill prices name known markets and are positive."""
    a = state.account(op.account)
    if op.counterparty is not None:
        state.account(op.counterparty)
        if op.counterparty == op.account:
            raise SelfTrade(f"account {op.account!r} cannot be its own liquidation counterparty",
                            account=op.account)
    for m, price in op.fill_prices.items():
        state.market(m)
        check_input(price, "fill_price", positive=True, market=m)
    eq = equity(state, a)
    mm = margin_requirement(state, a, initial=False)
    if eq >= mm:
        raise HealthyAccount(f"account {op.account!r} is healthy: equity {eq} >= maintenance "
                             f"margin {mm}", account=op.account)


def liquidate(state: State, mech: Mechanism, op: Liquidate) -> Tx:
    """R-LIQ-2: close the positions against the counterparty at the fill prices; for an ADL
    mechanism, if there is no counterparty or the layers cannot cover the fill's deficit,
    deleverage instead (R-ADL-1). Then settle the rest through the waterfall (R-WF-1)."""
    check_liquidatable(state, op)
    aid = op.account
    markets = sorted(m for m, p in state.accounts[aid].positions.items() if p.size != 0)
    scope = sorted(state.accounts[aid].positions)  # R-WF-7: open or flat with unsettled PnL
    adl = isinstance(mech.final, Adl)
    if op.counterparty is None and markets and not adl:
        raise MissingCounterparty(f"mechanism {mech.id!r} closes positions by sale to a "
                                  f"counterparty; liquidation of {aid!r} names none", account=aid)
    if op.counterparty is not None or not markets:
        tx = Tx(state)
        for m in markets:
            close_to(tx, aid, op.counterparty or "", m, op.fill_prices.get(m, tx.markets[m].mark))
        rest = settle(tx, mech, aid, scope, socialise=not adl)
        if not (adl and rest > 0 and markets):
            return finish(tx, aid, rest)
    tx = Tx(state)
    deleverage(tx, mech.final, aid, markets, op.seed)  # type: ignore[arg-type]
    return finish(tx, aid, settle(tx, mech, aid, scope, socialise=False))


def close_to(tx: Tx, aid: str, counterparty: str, market: str, price: int) -> None:
    """R-LIQ-3: the counterparty takes the whole position at `price` (no margin check)."""
    size = tx.accounts[aid].positions[market].size
    buyer, seller = (counterparty, aid) if size > 0 else (aid, counterparty)
    tx.trade("R-LIQ-3", buyer, seller, market, abs(size), price, "close")


def settle(tx: Tx, mech: Mechanism, aid: str, markets: list[str], *, socialise: bool) -> int:
    """R-WF-1: equity >= 0 pays the surplus rule (R-LIQ-5); a deficit is drawn from the
    layers in order (R-WF-2), then, if `socialise`, from the final resort (R-HC, R-LEVY).
    `markets` are the bankrupt's markets (R-WF-7). Returns what is still uncovered."""
    eq = tx.equity(aid)
    surplus_key = sink_key(mech, mech.liquidation.surplus_sink, markets, tx.markets)
    if eq >= 0:
        pay_surplus(tx, mech, aid, eq, surplus_key)
        return 0
    rest = draw_layers(tx, mech, aid, -eq, markets)
    final = FINAL.get(type(mech.final))
    if rest and socialise and final is not None:
        rest = final(tx, mech, aid, rest, markets, surplus_key)
    return rest


def pay_surplus(tx: Tx, mech: Mechanism, aid: str, eq: int, key: str) -> None:
    """R-LIQ-5: 'all' sends the whole remaining equity to the sink; 'fee' sends
    min(equity, floor(fee_ppm x notional closed at mark)); 'none' sends nothing."""
    rule = mech.liquidation
    if rule.surplus == "all":
        amount = eq
    elif rule.surplus == "fee":
        amount = min(eq, ppm_of(notional(tx.base, tx.base.accounts[aid]), rule.fee_ppm, up=False))
    else:
        amount = 0
    tx.pay("R-LIQ-5", acct(aid), layer(key), amount, "surplus")


def finish(tx: Tx, aid: str, rest: int) -> Tx:
    """R-WF-5: an uncovered rest is written off to the bad-debt ledger (I-NOLOSS)."""
    if rest > 0:
        tx.write_off("R-WF-5", aid, rest)
    return tx

