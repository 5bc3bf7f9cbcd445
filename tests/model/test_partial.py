"""R-LIQ-6: partial liquidation: a step closes part of the positions and the rest stays open."""
from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import Adl, LayerSpec, Liquidation, Mechanism, acct, apply, eq_of, mkstate, mkt, pos, trades, transfers
from waterfall.model.loader import catalogue, load_mechanism
from waterfall.model.ops import AdvanceTime, Liquidate
from waterfall.model.partial import step_lots

NO_LIMIT = 10**18


@pytest.mark.parametrize("case, lots, mark, ppm, threshold, floor, budget, expected", [
    # dydxprotocol/v4-chain protocol/x/clob/keeper/liquidations_test.go
    # TestGetLiquidatablePositionSizeDelta. BTC at $50,000 with atomic resolution -8: 500
    # quote quantums per base quantum; a lot is one clob step (StepBaseQuantums) of quantums.
    ("full position when the minimum notional exceeds it", 10_000_000, 500, 1_000_000, 10_000_000_000,
     10_000_000_000, None, 10_000_000),
    ("half the position with max portion 500,000", 10_000_000, 500, 500_000, 1_000, 1_000, None, 5_000_000),
    # StepBaseQuantums 5: a lot is 5 quantums (price 2,500). 140 quantums = 28 lots: 10 % is 14
    # quantums, rounded down to 10 = 2 lots
    ("rounded down to the step", 28, 2_500, 100_000, 1 * 5, 1 * 5, None, 2),
    # 20 quantums = 4 lots: 10 % is 2 quantums, at least one step (5 quantums) = 1 lot
    ("at least one step", 4, 2_500, 100_000, 5, 5, None, 1),
    # no position limits, subaccount limit $10,000 above the $5,000 position: all of it
    ("full position within the subaccount limit", 10_000_000, 500, 1_000_000, 0, 0, 10_000_000_000, 10_000_000),
    # subaccount limit $2,500: 0.05 BTC
    ("subaccount limit below the position", 10_000_000, 500, 1_000_000, 0, 0, 2_500_000_000, 5_000_000),
])
def test_R_LIQ_6_step_lots_match_dydx_cases(case: str, lots: int, mark: int, ppm: int, threshold: int, floor: int,
                                            budget: int | None, expected: int) -> None:
    assert step_lots(lots * mark, lots, mark, ppm, threshold, floor, budget) == expected, case


def hl(**kw) -> Mechanism:
    """Hyperliquid's rule in 1e-6 USDC: above 100k USDC 20 % per step, 30 s cooldown, partial
    only at or above 2/3 of maintenance margin; remaining collateral stays with the trader."""
    rule = dict(surplus="none", step_ppm=200_000, step_threshold=100_000_000_000, step_min_margin_ppm=666_667,
                step_cooldown=30)
    rule.update(kw)
    return Mechanism("hl", "hl", liquidation=Liquidation(**rule), layers=(), final=Adl(ranking="hyperliquid_side"))


def whale(collateral: int) -> object:
    """W long 100 ETH (1 lot = 0.01 ETH: 10,000 lots) at $2,000 = 2e5 USDC of notional:
    mark 2e7 (1e-6 USDC per lot), maintenance 5 %: 1e10."""
    return mkstate([mkt("M", 20_000_000)], {"W": acct(collateral, {"M": (10_000, 200_000_000_000)}),
                                            "s": acct(10**12, {"M": (-10_000, -200_000_000_000)}),
                                            "book": acct(10**12)})


def test_R_LIQ_6_hyperliquid_sends_20_percent_of_a_large_position() -> None:
    # hyperliquid docs trading/liquidations: "for liquidatable positions larger than 100k USDC,
    # only 20% of the position will be sent as a market liquidation order to the book". W's
    # 200k position with equity 9e9 < maintenance 1e10 (and >= 2/3 of it): 2,000 lots go;
    # the remaining 8,000 need 8e9 < 9e9: maintenance is met, the step ends there.
    st = whale(9_000_000_000)
    post, ev = apply(st, Liquidate("W", "book", {"M": 20_000_000}), hl())
    assert trades(ev, "R-LIQ-3") == [("account:W", "account:book", "M", 2_000, 20_000_000)]
    assert pos(post, "W", "M")[0] == 8_000 and eq_of(post, "W") == 9_000_000_000
    assert post.partial_at == {"W": 0}


def test_R_LIQ_6_within_the_cooldown_the_whole_position_goes() -> None:
    # "After a block where any position of a user is partially liquidated, there is a
    # cooldown period of 30 seconds. During this cooldown period, all market liquidation
    # orders for that user will be for the entire position."
    st = replace(whale(9_000_000_000), clock=10, partial_at={"W": 0})
    post, ev = apply(st, Liquidate("W", "book", {"M": 20_000_000}), hl())
    assert trades(ev, "R-LIQ-3") == [("account:W", "account:book", "M", 10_000, 20_000_000)]
    later = replace(st, clock=30)  # the cooldown is over: 20 % again
    post, ev = apply(later, Liquidate("W", "book", {"M": 20_000_000}), hl())
    assert trades(ev, "R-LIQ-3")[0][3] == 2_000


def test_R_LIQ_6_below_two_thirds_of_maintenance_the_backstop_takes_everything() -> None:
    # "Backstop liquidation: triggers when account equity drops below 2/3 of maintenance margin"
    st = whale(6_000_000_000)  # 6e9 < 2/3 x 1e10
    post, ev = apply(st, Liquidate("W", "book", {"M": 20_000_000}), hl())
    assert trades(ev, "R-LIQ-3") == [("account:W", "account:book", "M", 10_000, 20_000_000)]
    assert post.partial_at == {}


def test_R_LIQ_6_a_small_position_is_closed_in_full() -> None:
    st = mkstate([mkt("M", 20_000_000)], {"W": acct(399_999_999, {"M": (400, 8_000_000_000)}),
                                          "s": acct(10**12, {"M": (-400, -8_000_000_000)}), "book": acct(10**12)})
    post, ev = apply(st, Liquidate("W", "book", {"M": 20_000_000}), hl())  # 8k USDC: not large
    assert trades(ev, "R-LIQ-3")[0][3] == 400


def test_R_LIQ_6_a_step_that_would_leave_the_account_below_zero_is_a_full_liquidation() -> None:
    # the book bids far below mark: 2,000 lots at 1.4e7 would lose 1.2e10 > equity 9e9, so the
    # liquidation is done in full (R-LIQ-2); the full fill leaves -5.1e10, more than the
    # (absent) layers cover: the position is deleveraged against s instead, at mark since W's
    # equity at mark is not negative (R-ADL-2)
    post, ev = apply(whale(9_000_000_000), Liquidate("W", "book", {"M": 14_000_000}), hl())
    assert trades(ev, "R-LIQ-3") == []
    assert trades(ev, "R-ADL-1") == [("account:W", "account:s", "M", 10_000, 20_000_000)]
    assert pos(post, "W", "M")[0] == 0 and post.partial_at == {}


def dydx_rule(**kw) -> Mechanism:
    """dYdX mainnet genesis: 10 % of a position, at least 1,000 USDC, 100k USDC per subaccount
    per block, one position per block; liquidation fee 1.5 % to the fund."""
    rule = dict(surplus="fee", fee_ppm=15_000, step_ppm=100_000, step_threshold=1_000_000_000,
                step_min_notional=1_000_000_000, step_max_notional=100_000_000_000, step_markets=1)
    rule.update(kw)
    return Mechanism("d", "d", liquidation=Liquidation(**rule), layers=(LayerSpec("insurance_fund"),),
                     final=Adl(ranking="cyclic", fund_first=True))


def test_R_LIQ_6_dydx_closes_one_position_per_block_within_the_subaccount_limit() -> None:
    # two 2 BTC longs (1 lot = 1e-8 BTC, 500 quote quantums): 1e11 notional each, equity 5e9
    # below maintenance 1e10; 10 % is 1e10 = 2e7 lots, in BTC only (one position per block);
    # the fee is floor(1.5 % x 1e10) = 1.5e8.
    st = mkstate([mkt("BTC", 500), mkt("BTC2", 500)],
                 {"D": acct(5_000_000_000, {"BTC": (200_000_000, 100_000_000_000), "BTC2": (200_000_000, 100_000_000_000)}),
                  "s": acct(10**13, {"BTC": (-200_000_000, -100_000_000_000), "BTC2": (-200_000_000, -100_000_000_000)}),
                  "book": acct(10**13)}, {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("D", "book", {"BTC": 500, "BTC2": 500}), dydx_rule())
    assert trades(ev, "R-LIQ-3") == [("account:D", "account:book", "BTC", 20_000_000, 500)]
    assert transfers(ev, "R-LIQ-5") == [("account:D", "layer:insurance_fund", 150_000_000)]
    assert pos(post, "D", "BTC2")[0] == 200_000_000 and post.partial_at == {"D": 0}
    # with a subaccount limit of 5,000 USDC: 1e7 lots
    post, ev = apply(st, Liquidate("D", "book", {"BTC": 500, "BTC2": 500}), dydx_rule(step_max_notional=5_000_000_000))
    assert trades(ev, "R-LIQ-3") == [("account:D", "account:book", "BTC", 10_000_000, 500)]


def test_R_LIQ_6_catalogue_partial_rules() -> None:
    hl_file = load_mechanism(catalogue()["hyperliquid-adl"]).liquidation
    assert (hl_file.step_ppm, hl_file.step_threshold, hl_file.step_cooldown) == (200_000, 100_000_000_000, 30)
    dydx_file = load_mechanism(catalogue()["dydx-v4-deleveraging"]).liquidation
    assert (dydx_file.step_ppm, dydx_file.step_min_notional, dydx_file.step_max_notional) == (
        100_000, 1_000_000_000, 100_000_000_000)


def test_R_LIQ_6_the_cooldown_runs_on_the_clock() -> None:
    from waterfall.model.codec import state_from_json, state_to_json
    st = replace(whale(9_000_000_000), clock=5, partial_at={"W": 5})
    assert state_from_json(state_to_json(st)).partial_at == {"W": 5}
    after = apply(st, AdvanceTime(30), hl())[0]
    post, ev = apply(after, Liquidate("W", "book", {"M": 20_000_000}), hl())
    assert trades(ev, "R-LIQ-3")[0][3] == 2_000 and post.partial_at == {"W": 35}
