"""R-POOL-3's boundary in the vector generator (waterfall/conformance/venues.py, issue 21):
pool_to_trigger puts a side's PnL-to-pool factor exactly at gmx-v2's ADL trigger (85 %), so
an order the model accepts one unit of pool value above it is refused at it (E-ADL): the
vector that catches an engine comparing with >= (tests/engine_bugs.py pool-trigger-inclusive).
Also the generator's venues and trades the kit mutation run found missing: markets a
mechanism names (R-WF-13) and trades with the pool account (R-POOL-4)."""
from __future__ import annotations

from typing import Any, Sequence

import pytest

from waterfall.conformance.venues import pool_to_trigger
from waterfall.model.errors import AdlRefused
from waterfall.model.loader import catalogue, load_mechanism
from waterfall.model.ops import Deleverage, Deposit, SetMark, Trade, Withdraw
from waterfall.model.pool import side_pnl
from waterfall.model.state import Account, Market, Position, State
from waterfall.model.step import step
from waterfall.model.tx import Tx

GMX = load_mechanism(catalogue()["gmx-v2"])


class Fixed:
    """A draw whose picks are scripted (the offset from the exact pool value)."""

    def __init__(self, offset: int) -> None:
        self.offset, self.tags, self.pending = offset, set(), []

    def int(self, lo: int, hi: int) -> int:
        return lo

    def pick(self, seq: Sequence[Any]) -> Any:
        return self.offset if self.offset in seq else seq[0]


def venue(mark: int) -> State:
    """A long (100 lots entered at 1,000) against the pool, the pool holding 10,000."""
    m = Market("M0", mark, 100_000, 50_000)
    return State({"M0": m}, {"a": Account(50_000, 50_000, {"M0": Position(100, 100_000)}),
                             "pool": Account(10_000, 10_000, {"M0": Position(-100, -100_000)})})


def run(state: State, ops: list[Any]) -> State:
    for op in ops:
        state = step(state, op, GMX)[0]
    return state


@pytest.mark.parametrize("mark", [1_200, 1_201, 1_216])
def test_R_POOL_3_generator_puts_the_side_exactly_at_the_trigger(mark: int) -> None:
    ops = pool_to_trigger(Fixed(0), venue(mark), GMX, Deleverage("a", "M0", 100))
    *setup, order = ops
    assert isinstance(order, Deleverage) and all(isinstance(o, (SetMark, Deposit, Withdraw)) for o in setup)
    at = run(venue(mark), setup)
    pnl, value = side_pnl(Tx(at), GMX.final, "M0", 1), at.accounts["pool"].collateral
    assert pnl > 0 and pnl * 10**6 == GMX.final.adl_trigger_ppm * value  # exactly at the trigger
    with pytest.raises(AdlRefused):  # not strictly above: refused
        step(at, order, GMX)


def test_R_POOL_3_generator_offsets_straddle_the_trigger() -> None:
    values, outcomes = [], []
    for offset in (-1, 0, 1):
        *setup, order = pool_to_trigger(Fixed(offset), venue(1_200), GMX, Deleverage("a", "M0", 100))
        at = run(venue(1_200), setup)
        values.append(at.accounts["pool"].collateral)
        try:
            step(at, order, GMX)
            outcomes.append("ok")
        except AdlRefused:
            outcomes.append("E-ADL")
    assert values[0] + 1 == values[1] == values[2] - 1
    assert outcomes == ["ok", "E-ADL", "E-ADL"]  # one unit of pool value above the trigger: accepted


def test_R_WF_13_generated_venues_use_the_markets_a_mechanism_names() -> None:
    from waterfall.conformance.venues import RandomDraw, market_ids, venue
    deribit = load_mechanism(catalogue()["deribit"])
    assert market_ids(deribit)[:2] == ("BTC-PERPETUAL", "ETH-PERPETUAL") and market_ids(GMX)[0] == "M0"
    keys = {k for seed in range(20) for k in venue(RandomDraw(seed), deribit).layers}
    assert {"insurance_fund:BTC", "insurance_fund:ETH"} <= keys, keys  # the funds per settlement currency


def test_R_POOL_4_generated_trades_name_the_pool() -> None:
    from waterfall.conformance.venues import RandomDraw, scenario
    trades = [op for seed in range(80) for op in scenario(RandomDraw(seed), GMX)[1] if isinstance(op, Trade)]
    assert any("pool" in (t.buyer, t.seller) for t in trades)
