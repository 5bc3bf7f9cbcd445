"""Time (R-TIME-*): the clock and the windows that end as it moves."""
from __future__ import annotations

from .mechanism import Haircut, Mechanism
from .ops import AdvanceTime
from .settlement import settle_deferred
from .state import State
from .tx import Tx
from .units import check_balance, check_input


def advance_time(state: State, op: AdvanceTime, mech: Mechanism) -> Tx:
    """R-TIME-1: the clock moves forward by `seconds` > 0 (the result within the input
    bound). R-TIME-4: if it passes the end of the haircut window (a multiple of `window`
    seconds), the window rolls: a settlement haircut runs first (R-HC-7), then each
    account's gain is recorded as the new window's base (R-HC-6; the warm-up window of a
    withdrawal haircut too, R-WH-3)."""
    check_input(op.seconds, "seconds", positive=True)
    tx = Tx(state)
    tx.clock = check_input(state.clock + op.seconds, "clock")
    for spec in mech.layers:  # R-CH-4: a new assessment period starts afresh
        span = spec.assessment_period
        if span > 0 and state.clock // span < tx.clock // span:
            tx.assessable.clear()
    policy = mech.final
    window = getattr(policy, "window", 0)
    if window > 0 and state.clock // window < tx.clock // window:
        if isinstance(policy, Haircut) and policy.timing == "settlement":
            settle_deferred(tx, mech)
        if not isinstance(policy, Haircut) or policy.profit == "window_gain":
            start_window(tx)
    return tx


def start_window(tx: Tx) -> None:
    """R-HC-6: every account's gain now (equity - net deposits) is its new window base; a
    gain beyond the balance bound refuses the operation (R-UNIT-3, found by I-VALID)."""
    for aid in sorted(tx.accounts):
        gain = tx.equity(aid) - tx.accounts[aid].net_deposit
        tx.window_base[aid] = check_balance(gain, "window_base", account=aid)
