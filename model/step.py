"""`step(state, op, mechanism) -> (new_state, events)`: the model's one entry point (R-OP-*).

Pure: the input state is never changed; a bad operation raises a typed error before any
new state exists.
"""
from __future__ import annotations

from .clock import advance_time
from .errors import InsufficientMargin, SelfTrade
from .events import Event, acct
from .history import record
from .mechanism import Mechanism, Pool, WithdrawalHaircut
from .ops import AdvanceTime, Deleverage, Deposit, Funding, Liquidate, Op, SetMark, Trade, Withdraw
from .state import State, equity, margin_requirement
from .tx import Tx
from .units import check_balance, check_input
from .pool import deleverage_against_pool
from .pool_decrease import decrease_to_pool, reduced_lots
from .waterfall import liquidate
from .withdrawal import outstanding, pay_fund, repay, unmatured_gain, withdrawal_charge


def step(state: State, op: Op, mech: Mechanism) -> tuple[State, list[Event]]:
    """Apply one operation under a mechanism; returns the new state and its events."""
    handler = HANDLERS.get(type(op))
    if handler is None:
        raise TypeError(f"not an operation: {op!r}")
    tx = handler(state, op, mech)
    record(tx, mech)  # R-TIME-3: layer balances a drawdown rule watches
    return tx.freeze()


def deposit(state: State, op: Deposit, mech: Mechanism) -> Tx:
    """R-OP-1: collateral and net deposit grow by a positive amount."""
    state.account(op.account)
    check_input(op.amount, "amount", positive=True, account=op.account)
    tx = Tx(state)
    tx.pay("R-OP-1", "external", acct(op.account), op.amount, "deposit")
    a = tx.accounts[op.account]
    nd = check_balance(a.net_deposit + op.amount, "net_deposit", account=op.account)
    tx.accounts[op.account] = a._replace(net_deposit=nd)
    return tx


def withdraw(state: State, op: Withdraw, mech: Mechanism) -> Tx:
    """R-OP-2: a positive amount up to the collateral, leaving equity >= initial margin.
    R-WH-2/3: under a withdrawal haircut a charge repays the outstanding shortfall (beyond
    the records it goes to the fund, R-WH-6) and only the rest leaves (net deposits fall by
    what left); profit still warming up stays."""
    a = state.account(op.account)
    check_input(op.amount, "amount", positive=True, account=op.account)
    if op.amount > a.collateral:
        raise InsufficientMargin(f"account {op.account!r}: withdrawal {op.amount} exceeds "
                                 f"collateral {a.collateral}", account=op.account)
    tx = Tx(state)
    policy = mech.final
    charge = withdrawal_charge(tx, mech, op.account, op.amount) if isinstance(policy, WithdrawalHaircut) else 0
    warming = unmatured_gain(tx, policy, op.account) if isinstance(policy, WithdrawalHaircut) else 0
    to_fund = max(0, charge - outstanding(tx))  # R-WH-6: beyond the records
    repay(tx, op.account, charge - to_fund)
    pay_fund(tx, mech, op.account, to_fund)
    tx.pay("R-OP-2", acct(op.account), "external", op.amount - charge, "withdraw")
    a = tx.accounts[op.account]
    nd = check_balance(a.net_deposit - (op.amount - charge), "net_deposit", account=op.account)
    tx.accounts[op.account] = a._replace(net_deposit=nd)
    require_initial_margin(tx, op.account, "withdrawal", warming)
    return tx


def trade(state: State, op: Trade, mech: Mechanism) -> Tx:
    """R-OP-3: distinct known accounts, known market, positive size and price; an account
    whose position grows must end at equity >= initial margin. R-POOL-4: under a pool with
    `cap_on_decrease`, the lots that reduce a trader's position against the pool settle
    their PnL, capped; the rest of the size trades as usual."""
    state.account(op.buyer)
    state.account(op.seller)
    state.market(op.market)
    check_input(op.size, "size", positive=True, market=op.market)
    check_input(op.price, "price", positive=True, market=op.market)
    if op.buyer == op.seller:
        raise SelfTrade(f"account {op.buyer!r} cannot trade with itself", account=op.buyer)
    tx = Tx(state)
    policy = mech.final
    size = op.size
    if isinstance(policy, Pool) and policy.cap_on_decrease and policy.account in (op.buyer, op.seller):
        trader, sign = (op.seller, -1) if op.buyer == policy.account else (op.buyer, 1)
        lots = reduced_lots(tx, trader, op.market, sign, size)
        if lots:  # R-POOL-4: the part that reduces the trader's position settles its capped PnL
            decrease_to_pool(tx, policy, trader, op.market, lots, op.price)
            size -= lots
    if size:
        tx.trade("R-OP-3", op.buyer, op.seller, op.market, size, op.price, "trade")
    for aid in (op.buyer, op.seller):
        old = state.accounts[aid].positions.get(op.market)
        new = tx.accounts[aid].positions.get(op.market)
        old_size = old.size if old else 0
        new_size = new.size if new else 0
        if abs(new_size) > abs(old_size) or old_size * new_size < 0:
            require_initial_margin(tx, aid, "trade")
    return tx


def set_mark(state: State, op: SetMark, mech: Mechanism) -> Tx:
    """R-OP-4: a known market gets a positive mark price; no balance moves."""
    state.market(op.market)
    check_input(op.price, "price", positive=True, market=op.market)
    tx = Tx(state)
    tx.set_mark(op.market, op.price)
    return tx


def funding(state: State, op: Funding, mech: Mechanism) -> Tx:
    """R-OP-5: each account pays size * rate to the market's funding pool and the pool pays
    out the same; since sizes sum to zero the pool nets to exactly zero."""
    state.market(op.market)
    check_input(op.rate, "rate", market=op.market)
    tx = Tx(state)
    pool = "funding:" + op.market
    for aid in sorted(state.accounts):
        p = state.accounts[aid].positions.get(op.market)
        amount = p.size * op.rate if p else 0
        if amount > 0:
            tx.pay("R-OP-5", acct(aid), pool, amount, "funding", op.market)
        elif amount < 0:
            tx.pay("R-OP-5", pool, acct(aid), -amount, "funding", op.market)
    return tx


def require_initial_margin(tx: Tx, aid: str, what: str, held: int = 0) -> None:
    """R-MARGIN-2: equity >= initial margin (>= 0 with no positions), plus `held` (profit
    still warming up, R-WH-3), else refuse."""
    view = tx.view()
    a = view.accounts[aid]
    eq, im = equity(view, a), margin_requirement(view, a, initial=True)
    if eq < im + held:
        warm = f" plus {held} of profit still warming up" if held else ""
        raise InsufficientMargin(f"account {aid!r}: {what} leaves equity {eq} below initial "
                                 f"margin {im}{warm}", account=aid)


HANDLERS = {Deposit: deposit, Withdraw: withdraw, Trade: trade, SetMark: set_mark,
            Funding: funding, Liquidate: lambda s, op, m: liquidate(s, m, op), AdvanceTime: advance_time,
            Deleverage: deleverage_against_pool}
