"""R-POOL-*: the liquidity pool as counterparty (GMX v2): it absorbs shortfalls, caps the
PnL it pays and lets keepers deleverage while a side's PnL-to-pool factor is too high."""
from __future__ import annotations

import pytest

from conftest import Mechanism, acct, apply, eq_of, mech, mkstate, mkt, pos, transfers
from waterfall.model.errors import AdlRefused
from waterfall.model.loader import catalogue, load_mechanism
from waterfall.model.mechanism import Pool
from waterfall.model.ops import Deleverage, Liquidate
from waterfall.model.step import step

# gmx-io/gmx-synthetics config/markets.ts baseMarketConfig: maxPnlFactorForTraders 90 %,
# maxPnlFactorForAdl 85 %, minPnlFactorAfterAdl 77 %
GMX = Pool(account="pool", max_pnl_factor_ppm=900_000, adl_trigger_ppm=850_000, adl_floor_ppm=770_000)


def gmx() -> Mechanism:
    return mech(final=GMX, layers=())


def longs(mark: int, l1: int = 6, l2: int = 4) -> object:
    """L1 and L2 long from 100 against the pool (1,000 of LP collateral), at `mark`."""
    return mkstate([mkt("M", mark)], {"L1": acct(1_000, {"M": (l1, 100 * l1)}), "L2": acct(1_000, {"M": (l2, 100 * l2)}),
                                      "pool": acct(1_000, {"M": (-(l1 + l2), -100 * (l1 + l2))})})


def test_R_POOL_3_keeper_adl_settles_the_lots_pnl_and_lowers_the_factor() -> None:
    # AdlHandler.executeAdl: the longs' PnL 900 is 90 % of the pool (> 85 %: ADL allowed).
    # Closing 2 of L1's 6 lots settles floor(540 x 2 / 6) = 180 (the cap, 900, is not
    # exceeded): the factor falls to 720 / 820 = 87.8 %, still above the 77 % floor.
    post, ev = apply(longs(190), Deleverage("L1", "M", 2), gmx())
    assert [(e.src, e.dst, e.size, e.amount) for e in ev if e.rule == "R-POOL-3"] == [("account:L1", "account:pool", 2, 200)]
    assert transfers(ev, "R-POOL-2") == [("account:pool", "account:L1", 180)]
    assert pos(post, "L1", "M") == (4, 400) and post.accounts["L1"].collateral == 1_180
    assert post.accounts["pool"].collateral == 820 and eq_of(post, "L1") == eq_of(longs(190), "L1")


def test_R_POOL_2_the_pool_pays_at_most_its_cap() -> None:
    # at 195 the longs' PnL 950 exceeds the cap 900: L1's 6 lots carry 570 and are paid
    # floor(570 x 900 / 950) = 540; the pool keeps 30. Factor after: 380 / 460 = 82.6 %.
    post, ev = apply(longs(195), Deleverage("L1", "M", 6), gmx())
    assert transfers(ev, "R-POOL-2") == [("account:pool", "account:L1", 540)]
    assert post.accounts["pool"].collateral == 460 and eq_of(post, "L1") == eq_of(longs(195), "L1") - 30


@pytest.mark.parametrize("state, order, message", [
    (longs(180), Deleverage("L1", "M", 2), "not required"),          # 800 / 1,000 = 80 % <= 85 %
    (longs(190, 9, 1), Deleverage("L1", "M", 9), "overcorrects"),    # after: 90 / 190 = 47 % < 77 %
    (longs(190), Deleverage("L1", "M", 7), "fewer than"),
    (longs(190), Deleverage("pool", "M", 1), "itself"),
])
def test_R_POOL_3_orders_the_pool_rules_refuse(state, order, message: str) -> None:
    with pytest.raises(AdlRefused, match=message):
        step(state, order, gmx())


def test_R_POOL_3_needs_a_pool_mechanism() -> None:
    with pytest.raises(AdlRefused, match="no pool"):
        step(longs(190), Deleverage("L1", "M", 1), mech())


def test_R_POOL_1_the_pool_takes_a_liquidation_and_absorbs_its_shortfall() -> None:
    # S is short 10 from 100 with 50 collateral against the pool; at 110 it is at -50: the
    # pool takes the position back at mark and its liquidity providers lose the 50.
    st = mkstate([mkt("M", 110)], {"S": acct(50, {"M": (-10, -1_000)}), "pool": acct(1_000, {"M": (10, 1_000)})})
    post, ev = apply(st, Liquidate("S"), gmx())
    assert transfers(ev, "R-POOL-1") == [("account:pool", "account:S", 50)]
    assert eq_of(post, "S") == 0 and eq_of(post, "pool") == 1_050 and post.bad_debt == 0


def test_R_POOL_catalogue_file() -> None:
    assert load_mechanism(catalogue()["gmx-v2"]).final == GMX
