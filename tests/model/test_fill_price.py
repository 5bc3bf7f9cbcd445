"""R-ADL-8, R-ADL-6b: dYdX v4 deleveraging, each fill priced on its own, and the
margin-ratio collateral check. Expected values are the cases of dYdX's own tests."""
from __future__ import annotations

import pytest

from conftest import Adl, LayerSpec, acct, apply, eq_of, mech, mkstate, mkt, pos, trades, transfers
from waterfall.model.fill_price import bankruptcy_quote, transition_allowed
from waterfall.model.ops import Liquidate

# dydxprotocol/v4-chain protocol/x/clob/keeper/liquidations_test.go TestGetBankruptcyPriceInQuoteQuantums.
# Units: one lot is one base quantum, money is quote quantums (1e-6 USDC). BTC-USD has atomic
# resolution -8 and trades at $50,000: 500 quote quantums per lot; ETH-USD -9 at $3,000: 3 per
# lot. Maintenance margin 10 % (BtcUsd/EthUsd_20PercentInitial_10PercentMaintenance).
BTC, ETH, MMR = 500, 3, 100_000


def mm(lots: int, price: int) -> int:
    """R-MARGIN-1 of one position: ceil(lots x price x 10 %)."""
    return -(-lots * price * MMR // 1_000_000)


@pytest.mark.parametrize("case, size, delta, usdc, others, expected", [
    # (name, size of the closed position, lots closed, quote balance, other positions [(lots, price)], quote)
    ("fully closing a long slightly below maintenance", 10_000_000, 10_000_000, -4_501_000_000, [], 4_501_000_000),
    ("fully closing a short slightly below maintenance", -10_000_000, 10_000_000, 5_499_000_000, [], 5_499_000_000),
    ("fully closing a long at the bankruptcy price", 10_000_000, 10_000_000, -5_000_000_000, [], 5_000_000_000),
    ("partially closing a long at the bankruptcy price", 10_000_000, 5_000_000, -5_000_000_000, [], 2_500_000_000),
    ("partially closing a short at the bankruptcy price", -10_000_000, 5_000_000, 5_000_000_000, [], 2_500_000_000),
    ("fully closing a short at the bankruptcy price", -10_000_000, 10_000_000, 5_000_000_000, [], 5_000_000_000),
    ("fully closing a long below the bankruptcy price", 10_000_000, 10_000_000, -5_100_000_000, [], 5_100_000_000),
    ("fully closing a short below the bankruptcy price", -10_000_000, 10_000_000, 4_900_000_000, [], 4_900_000_000),
    ("rounds up a partial long close", 100_000_000, 21_347, -13_000_000, [], 2_776),
    ("rounds down a partial short close", -100_000_000, 21_347, 13_000_000, [], 2_775),
    ("a long that cannot be sold at a loss: negative quote", 100_000_000, 100_000_000, 1_000_000, [], -1_000_000),
])
def test_R_ADL_8_bankruptcy_quote_matches_dydx_single_position_cases(case: str, size: int, delta: int, usdc: int,
                                                                    others: list, expected: int) -> None:
    # TNC = quote balance + size x price; TMMR the position's requirement; DMMR what closing
    # `delta` lots releases. dYdX returns the quote delta of the subaccount: received for a
    # long (positive), paid for a short (negative); bankruptcy_quote returns the paid amount.
    eq = usdc + size * BTC
    total = mm(abs(size), BTC)
    released = total - mm(abs(size) - delta, BTC)
    assert bankruptcy_quote(size, delta, BTC, eq, released, total, abs(size) * BTC) == expected, case


@pytest.mark.parametrize("case, btc, eth, usdc, expected", [
    # the ETH position (1e8 lots, 0.1 ETH) is closed; BTC 0.004 = 400,000 lots stays
    ("fully closing one long with multiple longs", 400_000, 100_000_000, -490_000_000, 294_000_000),
    ("fully closing one short with multiple shorts", -400_000, -100_000_000, 510_000_000, 306_000_000),
    ("fully closing one short with a long and a short", 400_000, -100_000_000, 110_000_000, 306_000_000),
])
def test_R_ADL_8_the_deficit_is_split_across_positions_by_maintenance_margin(case: str, btc: int, eth: int,
                                                                            usdc: int, expected: int) -> None:
    # TNC = USDC + BTC value + ETH value; TMMR = 10 % of $200 + 10 % of $300 = $50; closing ETH
    # releases $30: the quote is $300 -/+ floor(TNC x 30 / 50).
    eq = usdc + btc * BTC + eth * ETH
    total = mm(abs(btc), BTC) + mm(abs(eth), ETH)
    released = mm(abs(eth), ETH)
    value = abs(btc) * BTC + abs(eth) * ETH
    assert bankruptcy_quote(eth, abs(eth), ETH, eq, released, total, value) == expected, case


@pytest.mark.parametrize("case, old_nc, old_mmr, new_nc, new_mmr, allowed", [
    # protocol/x/subaccounts/lib/updates_test.go
    # TestIsValidStateTransitionForUndercollateralizedSubaccount_ZeroMarginRequirements
    ("MMR increases, TNC decreases", -1, 0, -2, 1, False),
    ("MMR increases, TNC the same", -1, 0, -1, 1, False),
    ("MMR increases, TNC increases", -1, 0, 100, 1, False),
    ("both MMR zero, TNC the same", -1, 0, -1, 0, False),
    ("both MMR zero, TNC decreases", -1, 0, -2, 0, False),
    ("both MMR zero, TNC increases", -2, 0, -1, 0, True),
    ("MMR to zero, TNC rises but stays negative", -2, 1, -1, 0, False),
    # the ratio rule (lib/margin/risk.go Risk.Cmp): NC / MMR may not fall
    ("ratio kept", -10, 100, -5, 50, True),
    ("ratio falls", -10, 100, -6, 50, False),
    ("ratio rises", 5, 100, 4, 50, True),
])
def test_R_ADL_6b_dydx_state_transition_cases(case: str, old_nc: int, old_mmr: int, new_nc: int, new_mmr: int,
                                              allowed: bool) -> None:
    assert transition_allowed(old_nc, old_mmr, new_nc, new_mmr) == allowed, case


def dydx(**kw) -> object:
    return mech(final=Adl(ranking="profit", pricing="per_fill", **kw), layers=(LayerSpec("insurance_fund"),),
                surplus="fee", fee_ppm=15_000)


def test_R_ADL_8_each_fill_is_priced_on_the_account_as_it_then_is() -> None:
    # b is long 10 at mark 100 (from 130) with 200 collateral and a long 10 at 50 in N (from 50):
    # equity -100, maintenance (5 %) 50 + 25 = 75. M is deleveraged against s2 (6 lots, profit
    # 180) then s1 (4, profit 120): fill 1: DMMR = 50 - 20 = 30, D = floor(-100 x 30 / 75) =
    # -40: quote 600 + 40 = 640; equity -60, MMR 45; fill 2: DMMR = 20, D = floor(-60 x 20 /
    # 45) = -27: quote 427; equity -33, MMR 25; N: DMMR 25, D = -33: quote 533; equity 0.
    st = mkstate([mkt("M", 100), mkt("N", 50)],
                 {"b": acct(200, {"M": (10, 1_300), "N": (10, 500)}),
                  "s1": acct(5_000, {"M": (-4, -520)}), "s2": acct(5_000, {"M": (-6, -780)}),
                  "s3": acct(5_000, {"N": (-10, -500)})}, {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), dydx())
    assert [(e.dst, e.market, e.size, e.amount) for e in ev if e.rule == "R-ADL-1"] == [
        ("account:s2", "M", 6, 640), ("account:s1", "M", 4, 427), ("account:s3", "N", 10, 533)]
    assert eq_of(post, "b") == 0 and transfers(ev) == []  # no fee on deleveraging, no fund


def test_R_ADL_8_no_fee_on_the_rounding_left_to_the_bankrupt() -> None:
    # long 3 at mark 100 with equity -10, split 1 + 2 between s1 and s2 (equal scores, id
    # order): fill 1: DMMR = ceil(300 x 5 %) - ceil(200 x 5 %) = 5, D = floor(-10 x 5 / 15) =
    # -4 (dYdX rounds toward minus infinity): quote 104, equity -6, MMR 10; fill 2: D = -6:
    # quote 206, equity 0. Each fill rounds in the bankrupt's favour; no fee is taken.
    st = mkstate([mkt("M", 100)], {"b": acct(-10, {"M": (3, 300)}),
                                   "s1": acct(1_000, {"M": (-1, -100)}), "s2": acct(1_000, {"M": (-2, -200)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), dydx())
    assert [(e.dst, e.amount) for e in ev if e.rule == "R-ADL-1"] == [("account:s1", 104), ("account:s2", 206)]
    assert eq_of(post, "b") == 0 and post.layers["insurance_fund"] == 0


def test_R_ADL_6b_margin_ratio_check_skips_an_account_it_would_weaken() -> None:
    # b is short 5 at mark 100 from 60 with 100 collateral: equity -100, it buys back at
    # the bankruptcy price 80. w ranks first (long 5 from 90, profit 50, equity 30, MMR 25):
    # selling at 80 leaves it at -70 with MMR 0: refused (dYdX: MMR falls to 0 while TNC
    # falls). r (long 5 from 100, equity 1,000) takes the 5 lots for 400.
    st = mkstate([mkt("M", 100)], {"b": acct(100, {"M": (-5, -300)}), "w": acct(-20, {"M": (5, 450)}),
                                   "r": acct(1_000, {"M": (5, 500)}), "x": acct(0, {"M": (-5, -650)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), dydx(skip_insolvent=True, collateral_check="margin_ratio"))
    assert [(e.src, e.size, e.amount) for e in ev if e.rule == "R-ADL-1"] == [("account:r", 5, 400)]
    assert pos(post, "w", "M") == (5, 450)
