"""Losses recovered from withdrawals, and profit that must mature first (R-WH-*).

Sources: docs.paradex.trade/risk/socialized-losses (while the insurance fund is bankrupt a
socialised-loss factor is charged on every withdrawal; only users who withdraw during the
shortfall pay it; the charge stops once the fund is recapitalised; an account's bankruptcy
amount is measured at mark, and the fund receives the charge: tradeparadex/paradex-docs
docs/pages/risk-system/socialized-losses.mdx at 47327fa1, 'Example'); aeyakovenko/percolator
crates/model_safety/src/warmup.rs (profit can be withdrawn only as it warms up) and
crates/model_safety/src/crisis (warming PnL is the first thing a shortfall takes).
"""
from __future__ import annotations

from .events import acct, layer
from .haircut import defer
from .layers import capacity, sink_key
from .mechanism import Mechanism, WithdrawalHaircut
from .tx import Tx
from .units import div_ceil


def record_shortfall(tx: Tx, mech: Mechanism, aid: str, deficit: int, markets: list[str], surplus_key: str) -> int:
    """R-WH-1: what the layers leave is not socialised at once: the bankrupt is made whole
    from the deferred-loss record (R-HC-7's ledger), which withdrawals then repay."""
    return defer(tx, aid, deficit, markets)


def outstanding(tx: Tx) -> int:
    """R-WH-2: the shortfall still to recover: the sum of the deferred-loss records."""
    return sum(tx.deferred.values())


def bankrupt_at_mark(tx: Tx) -> int:
    """R-WH-6: the users' bankruptcy amount at the current marks: the sum over accounts of
    max(0, -equity) (Paradex: max(0, -USDC settlement balance at mark), per account)."""
    return sum(max(0, -tx.equity(aid)) for aid in sorted(tx.accounts))


def live_shortfall(tx: Tx, mech: Mechanism) -> int:
    """R-WH-5/6: the shortfall recomputed now: the recorded shortfall plus what accounts are
    bankrupt by at the current marks (R-WH-6), less what the paying balance layers could pay
    now (R-WF-3), not below 0 (Paradex: Exchange Bankruptcy Amount = max(0, users'
    bankruptcy amount - insurance fund balance))."""
    return max(0, outstanding(tx) + bankrupt_at_mark(tx) - capacity(tx, mech, sorted(tx.markets)))


def withdrawal_charge(tx: Tx, mech: Mechanism, aid: str, amount: int) -> int:
    """R-WH-2: the charge on a withdrawal of `amount` while a shortfall L is outstanding:
    base 'amount' (Paradex): ceil(amount x L / C), C the sum of every account's positive
    equity (what the venue owes its clients); base 'profit' (Percolator): only the part of
    the withdrawal that is matured profit, w = min(amount, max(0, gain)), is charged
    ceil(w x L / G), G the sum of positive gains (equity - net deposits). At most L and the
    amount; 0 without a shortfall or a base. R-WH-5: with `recompute`, L is the shortfall
    recomputed now (live_shortfall)."""
    policy: WithdrawalHaircut = mech.final  # type: ignore[assignment]
    loss = live_shortfall(tx, mech) if policy.recompute else outstanding(tx)
    if loss <= 0:
        return 0
    view = tx.view()
    if policy.base == "amount":
        charged, total = amount, sum(max(0, tx.equity(i)) for i in sorted(view.accounts))
    else:
        gain = tx.equity(aid) - tx.accounts[aid].net_deposit
        charged = min(amount, max(0, gain))
        total = sum(max(0, tx.equity(i) - tx.accounts[i].net_deposit) for i in sorted(view.accounts))
    if total <= 0 or charged <= 0:
        return 0
    return min(loss, amount, div_ceil(charged * loss, total))


def repay(tx: Tx, aid: str, charge: int) -> None:
    """R-WH-2: the charge repays the deferred records, keys in id order."""
    left = charge
    for key in sorted(tx.deferred):
        part = min(left, tx.deferred[key])
        tx.pay("R-WH-2", acct(aid), "deferred:" + key, part, "withdrawal_haircut")
        left -= part
    for key in sorted(tx.deferred):
        if tx.deferred[key] == 0:
            del tx.deferred[key]


def pay_fund(tx: Tx, mech: Mechanism, aid: str, amount: int) -> None:
    """R-WH-6: the part of a charge the records cannot take (a shortfall of accounts bankrupt
    at mark) goes to the surplus sink (Paradex: the insurance fund receives the charge)."""
    sink = sink_key(mech, mech.liquidation.surplus_sink, sorted(tx.accounts[aid].positions), tx.markets)
    tx.pay("R-WH-6", acct(aid), layer(sink), amount, "withdrawal_haircut")


def unmatured_gain(tx: Tx, policy: WithdrawalHaircut, aid: str) -> int:
    """R-WH-3: with a warm-up window, the gain made since the window began (window_base,
    R-HC-6) is not yet withdrawable: max(0, equity - net deposits - base)."""
    if policy.window == 0:
        return 0
    a = tx.accounts[aid]
    return max(0, tx.equity(aid) - a.net_deposit - tx.window_base.get(aid, 0))
