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
    from dataclasses import replace
    assert load_mechanism(catalogue()["gmx-v2"]).final == replace(GMX, cap_on_decrease=True, side_share_ppm=500_000)


# gmx-io/gmx-synthetics@219e0db9f1ca599ff57cb81ac2a8e9146da9849e
# test/exchange/DecreasePosition/CappedPnl.ts: a single-token USDC market with 2,000,000 USDC
# of liquidity (1,000,000 per side); user0 and user1 each open a 250,000 USD long at 5,000
# with 100,000 USDC collateral; the price rises 50 % (7,500) and each closes in full.
def capped_pnl_venue() -> object:
    return mkstate([mkt("ETH", 7_500)], {"user0": acct(100_000, {"ETH": (50, 250_000)}),
                                         "user1": acct(100_000, {"ETH": (50, 250_000)}),
                                         "pool": acct(2_000_000, {"ETH": (-100, -500_000)})})


def gmx_file(factor_ppm: int) -> Mechanism:
    from dataclasses import replace
    m = load_mechanism(catalogue()["gmx-v2"])
    assert m.final.cap_on_decrease and m.final.side_share_ppm == 500_000
    return replace(m, final=replace(m.final, max_pnl_factor_ppm=factor_ppm))


def close_both(m: Mechanism) -> tuple[int, int]:
    from waterfall.model.ops import Trade
    st, _ = step(capped_pnl_venue(), Trade("pool", "user0", "ETH", 50, 7_500), m)
    st, _ = step(st, Trade("pool", "user1", "ETH", 50, 7_500), m)
    assert "user0" not in {a for a, x in st.accounts.items() if x.positions}
    return eq_of(st, "user0"), eq_of(st, "user1")


def test_R_POOL_4_base_case_each_user_receives_225000() -> None:
    # "base case pnl check" (maxPnlFactorForTraders 90 %: no cap binds): 100,000 + 125,000
    assert close_both(gmx_file(900_000)) == (225_000, 225_000)


def test_R_POOL_4_capped_pnl_135000_then_168775() -> None:
    # "capped pnl" (maxPnlFactorForTraders 7 %): the long side is backed by half the pool,
    # 1,000,000; cap 70,000 < side PnL 250,000 -> user0 gets 125,000 x 70,000 / 250,000 =
    # 35,000; the pool paid it, so user1's cap is 7 % of 1,965,000 / 2 = 68,775 and its side
    # PnL is its own 125,000 -> 68,775. GMX: 135,000 and 168,775 USDC received.
    assert close_both(gmx_file(70_000)) == (135_000, 168_775)


def test_R_POOL_4_off_by_default_and_only_for_reductions_against_the_pool() -> None:
    from waterfall.model.ops import Trade
    plain = mech(final=Pool(account="pool", max_pnl_factor_ppm=70_000), layers=())
    st, ev = step(capped_pnl_venue(), Trade("pool", "user0", "ETH", 50, 7_500), plain)
    assert eq_of(st, "user0") == 225_000 and not [e for e in ev if e.rule == "R-POOL-4"]
    capped = mech(final=Pool(account="pool", max_pnl_factor_ppm=70_000, cap_on_decrease=True), layers=())
    # user0 buys more from the pool: an increase, no settlement
    st, ev = step(capped_pnl_venue(), Trade("user0", "pool", "ETH", 1, 7_500), capped)
    assert not [e for e in ev if e.rule == "R-POOL-4"]
    # user0 sells 60 to the pool: 50 close (capped: side 2,000,000 x 7 % = 140,000 -> 70,000),
    # 10 open short at 7,500
    st, ev = step(capped_pnl_venue(), Trade("pool", "user0", "ETH", 60, 7_500), capped)
    assert pos(st, "user0", "ETH") == (-10, -75_000)
    assert st.accounts["user0"].collateral == 170_000
