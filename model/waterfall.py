"""The liquidation and its loss waterfall (R-LIQ-*, R-WF-*)."""
from __future__ import annotations

from dataclasses import replace

from .adl import deleverage, planned_prices
from .errors import HealthyAccount, MissingCounterparty, SelfTrade
from .events import acct, layer
from .haircut import haircut
from .layers import capacity, draw_layers, sink_key
from .levy import levy, market_parts
from .mechanism import Adl, Haircut, Levy, Mechanism, Pool, WithdrawalHaircut
from .ops import Liquidate
from .partial import partial_applies, partial_step
from .pool import pool_absorbs
from .state import State, equity, margin_requirement, notional
from .tx import Tx
from .units import PPM, check_input, div_floor, ppm_of
from .warming import burn_warming
from .withdrawal import record_shortfall

FINAL = {Haircut: haircut, Levy: levy, WithdrawalHaircut: record_shortfall, Pool: pool_absorbs}


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
    """R-LIQ-2: close the positions against the counterparty at the fill prices (a partial
    step first when R-LIQ-6 applies and leaves the account solvent); for an ADL
    mechanism, if there is no counterparty or the layers cannot cover the fill's deficit,
    deleverage instead (R-ADL-1), or with `fund_first` deleverage only what the layers
    cannot pay for (R-ADL-7). Then settle the rest through the waterfall (R-WF-1)."""
    if op.counterparty is None and isinstance(mech.final, Pool):  # R-POOL-1: the pool takes the position
        op = replace(op, counterparty=mech.final.account)
    check_liquidatable(state, op)
    aid = op.account
    markets = sorted(m for m, p in state.accounts[aid].positions.items() if p.size != 0)
    scope = sorted(state.accounts[aid].positions)  # R-WF-7: open or flat with unsettled PnL
    adl = isinstance(mech.final, Adl)
    if op.counterparty is None and markets and not adl:
        raise MissingCounterparty(f"mechanism {mech.id!r} closes positions by sale to a "
                                  f"counterparty; liquidation of {aid!r} names none", account=aid)
    if partial_applies(state, mech, op, markets):  # R-LIQ-6
        step = partial_step(state, mech, op, markets)
        if step is not None:
            return step
    if op.counterparty is not None or not markets:
        tx = Tx(state)
        for m in markets:
            close_to(tx, aid, op.counterparty or "", m, op.fill_prices.get(m, tx.markets[m].mark))
        if adl and mech.final.fund_first and markets and tx.equity(aid) < 0:  # type: ignore[union-attr]
            return fund_first(state, mech, op, markets, scope)
        rest = settle(tx, mech, aid, scope, socialise=not adl, deleveraged=adl and not markets)
        if not (adl and rest > 0 and markets):
            return finish(tx, aid, rest)
    tx = Tx(state)
    deleverage(tx, mech.final, aid, markets, op.seed, covered=covered_at_mark(tx, mech, aid, scope))  # type: ignore[arg-type]
    return finish(tx, aid, settle_deleveraged(tx, mech, aid, scope))


def covered_at_mark(tx: Tx, mech: Mechanism, aid: str, scope: list[str]) -> bool:
    """R-ADL-10: whether the balance layers can pay the deficit the bankrupt has at mark."""
    return mech.final.close_price != "mark_or_bankruptcy" or capacity(tx, mech, scope) >= -tx.equity(aid)  # type: ignore[union-attr]


def settle_deleveraged(tx: Tx, mech: Mechanism, aid: str, scope: list[str]) -> int:
    """R-WF-1 after deleveraging: no socialisation; with pricing 'per_fill' no surplus rule
    either (dYdX charges no fee on deleveraging: what rounding leaves stays with the account).
    R-ADL-11: with `skip_insolvent`, size no valid taker could take is left open and nothing
    is settled: the account stays as the fills left it, to be liquidated again."""
    if mech.final.skip_insolvent and pending(tx, aid):  # type: ignore[union-attr]
        return 0
    per_fill = mech.final.pricing == "per_fill"  # type: ignore[union-attr]
    if per_fill and tx.equity(aid) >= 0:
        return 0
    return settle(tx, mech, aid, scope, socialise=False, deleveraged=True)


def pending(tx: Tx, aid: str) -> bool:
    """R-ADL-11: the account still holds size after deleveraging (no valid taker for it)."""
    return any(p.size != 0 for p in tx.accounts[aid].positions.values())


def fund_first(state: State, mech: Mechanism, op: Liquidate, markets: list[str], scope: list[str]) -> Tx:
    """R-ADL-7: the layers pay as far as they go and only the rest is deleveraged: per
    market, book_lots go to the counterparty at the fill price and the other lots are
    deleveraged (at the prices deleveraging everything would use); then R-WF-1 settles.
    The budget is what the layers can pay (drawdown triggers included) less what the
    planned deleveraging would still leave uncovered."""
    policy: Adl = mech.final  # type: ignore[assignment]
    tx = Tx(state)
    covered = covered_at_mark(tx, mech, op.account, scope)
    prices, left = planned_prices(tx, policy, op.account, markets, covered)
    fills = {m: op.fill_prices.get(m, tx.markets[m].mark) for m in markets}
    budget = max(0, capacity(tx, mech, scope, trigger=True) + min(0, left))
    takeover = takeover_left(tx, policy, op.counterparty, budget)
    book = book_lots(tx, op.account, markets, prices, fills, budget, takeover)
    deleverage(tx, policy, op.account, markets, op.seed,
               lots={m: abs(tx.accounts[op.account].positions[m].size) - book[m] for m in markets}, prices=prices,
               covered=covered, book=op.counterparty)
    for m in markets:
        if book[m] > 0:
            close_to(tx, op.account, op.counterparty or "", m, fills[m], book[m])
    return finish(tx, op.account, settle_deleveraged(tx, mech, op.account, scope))


def takeover_left(tx: Tx, policy: Adl, counterparty: str | None, budget: int) -> int | None:
    """R-ADL-7 / R-ADL-12: the notional the counterparty may take over: floor(budget x
    takeover_cap_ppm / 10^6), less with `takeover_cumulative` the counterparty's own notional
    at mark before the liquidation (R-MARGIN-0: what the fund took over and has not offloaded
    yet), not below 0; None without a cap."""
    if not policy.takeover_cap_ppm:
        return None
    cap = div_floor(budget * policy.takeover_cap_ppm, PPM)
    if policy.takeover_cumulative and counterparty:
        cap = max(0, cap - notional(tx.view(), tx.accounts[counterparty]))
    return cap


def book_lots(tx: Tx, aid: str, markets: list[str], prices: dict[str, int], fills: dict[str, int],
              budget: int, takeover: int | None) -> dict[str, int]:
    """R-ADL-7: lots each market sends to the counterparty. A lot sold at the fill price
    instead of deleveraged at the planned price costs the layers c = (planned - fill) x sign;
    markets with c <= 0 go first and in full (their gain adds to the budget), then the
    others in id order, each min(lots, floor(budget / c)); with a takeover cap the lots'
    notional at mark stays within it (Binance: the fund's position limit)."""
    costs = {}
    for m in markets:
        size = tx.accounts[aid].positions[m].size
        costs[m] = (prices[m] - fills[m]) if size > 0 else (fills[m] - prices[m])
    first = [m for m in markets if costs[m] <= 0]
    order = first + [m for m in markets if m not in first]
    book = {}
    for m in order:
        q = abs(tx.accounts[aid].positions[m].size)
        if costs[m] > 0:
            q = max(0, min(q, budget // costs[m]))
        mark = tx.markets[m].mark
        if takeover is not None:
            q = min(q, takeover // mark)
            takeover -= q * mark
        budget -= q * costs[m]
        book[m] = q
    return book


def close_to(tx: Tx, aid: str, counterparty: str, market: str, price: int, lots: int | None = None) -> None:
    """R-LIQ-3: the counterparty takes the whole position (or `lots` of it, at most what is
    left) at `price` (no margin check)."""
    pos = tx.accounts[aid].positions.get(market)
    if pos is None or pos.size == 0:
        return
    buyer, seller = (counterparty, aid) if pos.size > 0 else (aid, counterparty)
    tx.trade("R-LIQ-3", buyer, seller, market, abs(pos.size) if lots is None else min(lots, abs(pos.size)), price, "close")


def settle(tx: Tx, mech: Mechanism, aid: str, markets: list[str], *, socialise: bool,
           deleveraged: bool = False) -> int:
    """R-WF-1: equity >= 0 pays the surplus rule (R-LIQ-5); a deficit first burns warming
    profit where the policy says so (R-WH-4), then is drawn from the
    layers in order (R-WF-2; those `after_adl` only once `deleveraged`, R-WF-12), then, if
    `socialise`, from the final resort (R-HC, R-LEVY). `markets` are the bankrupt's markets
    (R-WF-7). Returns what is still uncovered."""
    eq = tx.equity(aid)
    surplus_key = sink_key(mech, mech.liquidation.surplus_sink, markets, tx.markets)
    if eq >= 0:
        pay_surplus(tx, mech, aid, eq, surplus_key)
        return 0
    deficit = burn_warming(tx, mech, aid, -eq)
    if isinstance(mech.final, Levy) and mech.final.layers_per_market and markets and socialise:  # R-WF-15
        for m, part in market_parts(tx, aid, deficit, markets):
            resolve_market(tx, mech, aid, m, part, surplus_key)
        return 0
    rest = draw_layers(tx, mech, aid, deficit, markets, deleveraged)
    final = FINAL.get(type(mech.final))
    if rest and socialise and final is not None:
        rest = final(tx, mech, aid, rest, markets, surplus_key)
    return rest


def resolve_market(tx: Tx, mech: Mechanism, aid: str, market: str, part: int, surplus_key: str) -> None:
    """R-WF-15: one market's part of the deficit: the layers pay it for that market alone
    (R-WF-2/3 with the bankrupt's markets = [market]), the levy takes the rest on that
    market's open interest (R-LEVY-1..6), what is still uncovered is written off (R-WF-5);
    each transfer of the pass carries the market (Drift's resolve_perp_bankruptcy(market_index))."""
    start = len(tx.events)
    rest = draw_layers(tx, mech, aid, part, [market])
    if rest:  # through FINAL, the one dispatch of the final stage (R-WF-4), as the one-pass settlement
        rest = FINAL[Levy](tx, mech, aid, rest, [market], surplus_key)
    finish(tx, aid, rest)
    tx.events[start:] = [e._replace(market=market) for e in tx.events[start:]]


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

