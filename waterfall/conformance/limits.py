"""Vectors for the limits an implementation can get wrong (R-UNIT-3, issue 20): the bounds
that no balance the conformance runner compares would show crossing on its own. An engine
can pass every other vector and still accept a deposit that takes a net deposit past 10^36,
or a trade that leaves a position of more than 10^18 lots at a price so low that no open
notional comes near 10^36. Each limit is given at the bound (applied) and one past it
(refused with E-BOUND), on venues whose other numbers stay far from every bound, so the
only check that can refuse the step is the one under test.
"""
from __future__ import annotations

from waterfall.model.ops import Deposit, Op, Trade, Withdraw
from waterfall.model.state import Account, Market, Position, State
from waterfall.model.units import MAX_BALANCE, MAX_INPUT



def net_deposit_venue(net_deposit: int) -> State:
    """Account a has a net deposit `net_deposit` (near +-10^36: large deposits, or profits
    withdrawn, in its past) and collateral far from any bound; b is a bystander."""
    return State({"M0": Market("M0", 1_000, 100_000, 50_000)},
                 {"a": Account(10**18, net_deposit, {}), "b": Account(10**6, 10**6, {})})


def size_venue() -> State:
    """a long and b short 10^18 - 1 lots at mark 1: open notionals about 10^18, far below
    10^36, so only the size bound can refuse a trade that grows them."""
    size = MAX_INPUT - 1
    return State({"M0": Market("M0", 1, 100_000, 50_000)},
                 {"a": Account(10**20, 10**20, {"M0": Position(size, size)}),
                  "b": Account(10**20, 10**20, {"M0": Position(-size, -size)})})


LIMIT_CASES: tuple[tuple[str, str, State, Op], ...] = (
    ("op-limit-net-deposit", "a deposit of 10 that takes a net deposit of 10^36 - 5 past 10^36, collateral "
     "staying near 10^18 (E-BOUND on net_deposit, R-UNIT-3)", net_deposit_venue(MAX_BALANCE - 5), Deposit("a", 10)),
    ("op-limit-net-deposit-exact", "a deposit of 5 that takes a net deposit of 10^36 - 5 to exactly 10^36 "
     "(applied, R-UNIT-3)", net_deposit_venue(MAX_BALANCE - 5), Deposit("a", 5)),
    ("op-limit-net-withdrawn", "a withdrawal of 10 that takes a net deposit of -(10^36 - 5) past -10^36 "
     "(E-BOUND on net_deposit, R-UNIT-3)", net_deposit_venue(-(MAX_BALANCE - 5)), Withdraw("a", 10)),
    ("op-limit-size", "a trade of 2 lots at price 1 that leaves positions of 10^18 + 1 lots, open notionals "
     "near 10^18 (E-BOUND on the size, R-UNIT-3)", size_venue(), Trade("a", "b", "M0", 2, 1)),
    ("op-limit-size-exact", "a trade of 1 lot at price 1 that leaves positions of exactly 10^18 lots "
     "(applied, R-UNIT-3)", size_venue(), Trade("a", "b", "M0", 1, 1)),
)
