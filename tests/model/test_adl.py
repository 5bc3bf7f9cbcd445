"""R-ADL-*: auto-deleveraging: bankruptcy price, ranking, cyclic order, partial fills."""
from __future__ import annotations

from dataclasses import replace
from hashlib import sha256

import pytest

from conftest import Adl, LayerSpec, acct, apply, eq_of, mech, mkstate, mkt, pos, trades, transfers
from waterfall.model.adl import bankruptcy_price
from waterfall.model.ops import Liquidate
from waterfall.model.ranking import (cyclic_order, ranked, score_binance, score_bitmex, score_hyperliquid,
                                      score_hyperliquid_side)
from waterfall.model.state import Position


def adl(ranking: str = "profit", **kw) -> object:
    return mech(final=Adl(ranking=ranking, **kw))


# --------------------------------------------------------------------------- R-ADL-2

@pytest.mark.parametrize("mark,size,eq,expected", [
    # dydxprotocol/v4-chain protocol/x/clob/keeper/liquidations_test.go,
    # TestGetBankruptcyPriceInQuoteQuantums, BTC at $50,000, 0.1 BTC positions. Our units:
    # 1 lot = 0.1 BTC, $1 = 1, so mark 5000 and the subaccount's TNC is our equity.
    (5000, 1, 499, 4501),     # long, quote -$4,501: TNC 499 -> "$4,501"
    (5000, 1, 0, 5000),       # long at the bankruptcy price (quote -$5,000) -> "$5,000"
    (5000, 1, -100, 5100),    # long below the bankruptcy price (quote -$5,100) -> "$5,100"
    (5000, -1, 499, 5499),    # short, quote $5,499: TNC 499 -> "-$5,499" (buy for at most)
    (5000, -1, 0, 5000),      # short at the bankruptcy price -> "-$5,000"
    (5000, -1, -100, 4900),   # short below the bankruptcy price (quote $4,900) -> "-$4,900"
    # deleveraging_test.go TestOffsetSubaccountPerpetualPosition: 1 BTC short with TNC $4,999
    # -> "the bankruptcy price to close 1 BTC short is $54,999" (1 lot = 1 BTC here).
    (50_000, -1, 4999, 54_999),
])
def test_R_ADL_2_bankruptcy_price_matches_dydx_examples(mark: int, size: int, eq: int, expected: int) -> None:
    # P = mark - eq / size (the price at which closing leaves equity 0)
    assert bankruptcy_price(mark, size, eq, "toward_bankrupt") == expected


def test_R_ADL_2_rounding_direction() -> None:
    # dYdX rounds the bankruptcy quote up for a long and down for a short (liquidations_test.go
    # "Rounds up ... long", "rounded down ... short") so that closing at it needs no insurance.
    # long 3, mark 100, equity -10: P = 100 + 10/3 = 103.33 -> 104 toward the bankrupt, 103
    # toward the counterparty.
    assert bankruptcy_price(100, 3, -10, "toward_bankrupt") == 104
    assert bankruptcy_price(100, 3, -10, "toward_counterparty") == 103
    # short 3: P = 100 - 10/3 = 96.67 -> 96 toward the bankrupt, 97 toward the counterparty.
    assert bankruptcy_price(100, -3, -10, "toward_bankrupt") == 96
    assert bankruptcy_price(100, -3, -10, "toward_counterparty") == 97
    # never below 1: short 1 at mark 5 with equity -10 -> 5 - 10 = -5 -> 1
    assert bankruptcy_price(5, -1, -10, "toward_bankrupt") == 1


# --------------------------------------------------------------------------- R-ADL-1

def bitmex_state():
    # bitmex.com/app/autoDeleveragingExamples: six longs with quantities 10, 10, 20, 30, 20, 10
    # (accounts 1..6) and PnL ranking scores 3, 6, 1, 4, 5, 2; a short of size 20 is liquidated
    # at bankruptcy price 650. Our translation: mark 700, and entry prices chosen so that the
    # 'profit' score (unrealised PnL) orders them the same way: upnl 300, 600, 100, 400, 500,
    # 200 (open notional = size * 700 - upnl). The bankrupt x is short 20 from 600 (upnl
    # -2000) with collateral 1000 -> equity -1000, so P = 700 - 1000/20 = 650. Another short
    # s holds the remaining -80 (open notional = -(67_900 - 12_000) = -55_900, upnl -100).
    longs = {"1": (10, 300), "2": (10, 600), "3": (20, 100), "4": (30, 400), "5": (20, 500), "6": (10, 200)}
    accounts = {i: acct(1000, {"M": (q, q * 700 - u)}) for i, (q, u) in longs.items()}
    accounts["x"] = acct(1000, {"M": (-20, -12_000)})
    accounts["s"] = acct(100_000, {"M": (-80, -55_900)})
    return mkstate([mkt("M", 700)], accounts, {"insurance_fund": 0})


def test_R_ADL_1_bitmex_ranking_example() -> None:
    st = bitmex_state()
    post, ev = apply(st, Liquidate("x"), adl("profit"))
    # "Accounts 2 and 5 will be deleveraged at the bankruptcy price of USD 650. Account 2 will
    # have their entire position of 10 contracts closed, while the remaining 10 contracts ...
    # will be assigned to account 5. Account 5 will thus have 10 contracts remaining."
    assert trades(ev, "R-ADL-1") == [("account:2", "account:x", "M", 10, 650),
                                     ("account:5", "account:x", "M", 10, 650)]
    assert pos(post, "5", "M") == (10, 13_500 - 6_500)
    assert post.accounts["2"].positions["M"] == Position(0, 6_400 - 6_500)
    for i in ("1", "3", "4", "6", "s"):
        assert post.accounts[i] == st.accounts[i]
    # x: open notional -12_000 + 20 * 650 = 1000 at size 0 -> equity 1000 - 1000 = 0
    assert eq_of(post, "x") == 0
    # account 2 gave up 10 * (700 - 650) = 500 of its 600 profit; account 5 the same on 10 lots
    assert eq_of(post, "2") == 1100 and eq_of(post, "5") == 1000


def rounding_state(fund: int):
    # b long 3 from 110 (upnl -30), collateral 20 -> equity -10; s1 short 3 from 110 (+30).
    return mkstate([mkt("M", 100)], {"b": acct(20, {"M": (3, 330)}), "s1": acct(100, {"M": (-3, -330)})},
                   {"insurance_fund": fund})


def test_R_ADL_1_toward_bankrupt_price_needs_no_layer() -> None:
    post, ev = apply(rounding_state(5), Liquidate("b"), adl(bankruptcy_rounding="toward_bankrupt"))
    # P = 104: b's open notional 330 - 312 = 18 -> equity 20 - 18 = 2 >= 0; fund untouched
    assert trades(ev) == [("account:b", "account:s1", "M", 3, 104)]
    assert eq_of(post, "b") == 2 and post.layers["insurance_fund"] == 5
    assert post.accounts["s1"].positions["M"] == Position(0, -18)


def test_R_ADL_1_toward_counterparty_price_leaves_a_unit_for_the_layers() -> None:
    post, ev = apply(rounding_state(5), Liquidate("b"), adl(bankruptcy_rounding="toward_counterparty"))
    # P = 103: 330 - 309 = 21 -> equity -1; the fund pays 1
    assert trades(ev) == [("account:b", "account:s1", "M", 3, 103)]
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:b", 1)]
    post, _ = apply(rounding_state(0), Liquidate("b"), adl(bankruptcy_rounding="toward_counterparty"))
    assert post.bad_debt == 1


def test_R_ADL_1_close_price_mark_leaves_the_deficit_to_layers_and_bad_debt() -> None:
    post, ev = apply(rounding_state(5), Liquidate("b"), adl(close_price="mark"))
    # closed at 100: open notional 330 - 300 = 30 -> equity -10; fund 5, bad debt 5
    assert trades(ev) == [("account:b", "account:s1", "M", 3, 100)]
    assert post.layers["insurance_fund"] == 0 and post.bad_debt == 5


def test_R_ADL_1_solvent_but_liquidatable_account_is_closed_at_mark() -> None:
    # equity 49 >= 0 but < MM 50: no bankruptcy price; closed at mark, surplus 'all' -> fund
    st = mkstate([mkt("M", 100)], {"b": acct(49, {"M": (10, 1000)}), "s": acct(1000, {"M": (-10, -1000)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), mech(final=Adl(), surplus="all"))
    assert trades(ev) == [("account:b", "account:s", "M", 10, 100)]
    assert post.layers["insurance_fund"] == 49 and eq_of(post, "b") == 0


def test_R_ADL_1_markets_in_id_order_bankruptcy_price_only_while_equity_negative() -> None:
    # A at 100, B at 50. b long 2 A from 120 (upnl -40), long 2 B from 50 (upnl 0),
    # collateral 20 -> equity -20. A first: P = 100 + 20/2 = 110 brings equity to 0, so B is
    # closed at its mark 50.
    st = mkstate([mkt("B", 50), mkt("A", 100)],
                 {"b": acct(20, {"B": (2, 100), "A": (2, 240)}),
                  "sB": acct(100, {"B": (-2, -100)}), "sA": acct(100, {"A": (-2, -240)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), adl())
    assert trades(ev) == [("account:b", "account:sA", "A", 2, 110), ("account:b", "account:sB", "B", 2, 50)]
    assert post.accounts["sA"].positions["A"] == Position(0, -20)
    assert eq_of(post, "b") == 0


def fill_or_adl_state(fund: int):
    # b long 10 from 110 (upnl -100), collateral 80 -> equity -20; s short 10 from 110.
    return mkstate([mkt("M", 100)],
                   {"b": acct(80, {"M": (10, 1100)}), "s": acct(1000, {"M": (-10, -1100)}),
                    "c": acct(10_000)}, {"insurance_fund": fund})


def test_R_LIQ_2_adl_mechanism_uses_the_counterparty_when_the_layers_cover_the_fill() -> None:
    post, ev = apply(fill_or_adl_state(50), Liquidate("b", "c"), adl())
    # fill at mark 100: b's equity -20, the fund pays 20; no deleveraging
    assert trades(ev, "R-ADL-1") == []
    assert pos(post, "c", "M") == (10, 1000)
    assert post.layers["insurance_fund"] == 30
    assert post.accounts["s"] == fill_or_adl_state(50).accounts["s"]


def test_R_LIQ_2_adl_mechanism_deleverages_when_the_layers_cannot_cover() -> None:
    # Binance FAQ 360033525471 / BitMEX: ADL when the insurance fund cannot take the position.
    # fund 10 < 20: the fill is abandoned; ADL against s at P = 100 + 20/10 = 102; the fund
    # and c are untouched.
    st = fill_or_adl_state(10)
    post, ev = apply(st, Liquidate("b", "c"), adl())
    assert trades(ev) == [("account:b", "account:s", "M", 10, 102)]
    assert post.accounts["c"] == st.accounts["c"]
    assert post.layers["insurance_fund"] == 10
    assert eq_of(post, "b") == 0


# --------------------------------------------------------------------------- R-ADL-3, R-ADL-4

def test_R_ADL_3_only_opposite_side_and_R_ADL_4a_ties_to_smaller_id() -> None:
    # b long 3 from 120 (upnl -60), collateral 50 -> equity -10, P = 100 + ceil(10/3) = 104.
    # q and p are short 3 each with the same upnl +30 (a tie): p < q, so p goes first and takes
    # all 3. l is long (same side as b) and is never touched.
    st = mkstate([mkt("M", 100)],
                 {"q": acct(100, {"M": (-3, -330)}), "l": acct(100, {"M": (3, 300)}),
                  "p": acct(100, {"M": (-3, -330)}), "b": acct(50, {"M": (3, 360)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), adl("profit"))
    assert trades(ev) == [("account:b", "account:p", "M", 3, 104)]
    assert post.accounts["q"] == st.accounts["q"] and post.accounts["l"] == st.accounts["l"]


def bitmex_vs_profit_state():
    # A short 10 from 110 (upnl 100), collateral 900 -> equity 1000 (leverage 1).
    # B short 10 from 105 (upnl 50), collateral 10 -> equity 60 (leverage 16.7).
    # b long 10 from 110 (upnl -100), collateral 50 -> equity -50; L long 10 from 105.
    return mkstate([mkt("M", 100)],
                   {"A": acct(900, {"M": (-10, -1100)}), "B": acct(10, {"M": (-10, -1050)}),
                    "b": acct(50, {"M": (10, 1100)}), "L": acct(1000, {"M": (10, 1050)})},
                   {"insurance_fund": 0})


def test_R_ADL_4b_bitmex_ranking_prefers_leverage_over_raw_profit() -> None:
    # BitMEX score (bitmex.com/app/autoDeleveraging) PnL% x EffLev:
    # A: 100/1100 x 1000/1000 = 0.091; B: 50/1050 x 1000/60 = 0.794 -> B first.
    # P = 100 + 50/10 = 105. B buys back 10 at 105: open notional -1050 + 1050 = 0.
    st = bitmex_vs_profit_state()
    post, ev = apply(st, Liquidate("b"), adl("bitmex"))
    assert trades(ev) == [("account:b", "account:B", "M", 10, 105)]
    assert "M" not in post.accounts["B"].positions and eq_of(post, "B") == 10
    assert post.accounts["A"] == st.accounts["A"]
    # by raw profit A (100) comes before B (50)
    post, ev = apply(st, Liquidate("b"), adl("profit"))
    assert trades(ev) == [("account:b", "account:A", "M", 10, 105)]


def test_R_ADL_4b_bitmex_score_values() -> None:
    st = mkstate([mkt("M", 120)], {})
    # long 10 from 100 at 120, collateral 100: upnl 200, equity 300, entry value 1000, mark
    # value 1200 -> PnL% 0.2 x EffLev 4 = 0.8 -> 0.8e18
    a = acct(100, {"M": (10, 1000)})
    assert score_bitmex(st, a, "M", a.positions["M"]) == 800_000_000_000_000_000
    # losing: long 10 from 100 at 90, collateral 300: upnl -100, equity 200, mark value 900;
    # PnL% -0.1 / EffLev 4.5 = -0.0222..: floor(1e18 * -20_000 / 900_000) = -22222222222222223
    st90 = mkstate([mkt("M", 90)], {})
    a = acct(300, {"M": (10, 1000)})
    assert score_bitmex(st90, a, "M", a.positions["M"]) == -22_222_222_222_222_223
    # undefined: equity <= 0, or zero entry value
    a = acct(-300, {"M": (10, 1000)})
    assert score_bitmex(st, a, "M", a.positions["M"]) is None
    a = acct(100, {"M": (10, 0)})
    assert score_bitmex(st, a, "M", a.positions["M"]) is None


def test_R_ADL_4_undefined_scores_rank_after_every_scored_account() -> None:
    # X short 5 from 120 (upnl 100) but collateral -150 -> equity -50: no BitMEX score.
    # Y short 5 from 102 (upnl 10), collateral 100 -> scored. b long 5 from 112 (upnl -60),
    # collateral 50 -> equity -10, P = 102; l long 5 from 110.
    st = mkstate([mkt("M", 100)],
                 {"X": acct(-150, {"M": (-5, -600)}), "Y": acct(100, {"M": (-5, -510)}),
                  "b": acct(50, {"M": (5, 560)}), "l": acct(100, {"M": (5, 550)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), adl("bitmex"))
    assert trades(ev) == [("account:b", "account:Y", "M", 5, 102)]
    post, ev = apply(st, Liquidate("b"), adl("profit"))
    assert trades(ev) == [("account:b", "account:X", "M", 5, 102)]


def test_R_ADL_4c_binance_score_values() -> None:
    # Binance FAQ 360033525471: PnL% = max(0, UP) / max(1, WB), MarginRatio = MM / (WB + UP).
    st = mkstate([mkt("M", 100)], {})
    # WB 100, long 10 from 95 at 100: UP 50; MM = ceil(1000 * 5 %) = 50.
    # score = 50/100 x 50/150 = 1/6 -> floor(1e18 / 6)
    a = acct(100, {"M": (10, 950)})
    assert score_binance(st, a, "M", a.positions["M"]) == 166_666_666_666_666_666
    # WB + UP <= 0 -> undefined: ranks after every scored account (R-ADL-4, R-ADL-4c)
    a = acct(-100, {"M": (10, 950)})
    assert score_binance(st, a, "M", a.positions["M"]) is None
    # WB 0 -> max(1, WB) = 1: 50/1 x 50/50 = 50
    a = acct(0, {"M": (10, 950)})
    assert score_binance(st, a, "M", a.positions["M"]) == 50 * 10**18
    # a loss: max(0, UP) = 0
    a = acct(100, {"M": (10, 1050)})
    assert score_binance(st, a, "M", a.positions["M"]) == 0


def test_R_ADL_4d_hyperliquid_score_values() -> None:
    # Hyperliquid docs: (mark / entry) x (notional / account value).
    # long 10 from 100 at 120, collateral 100 -> equity 300: 1.2 x 1200/300 = 4.8
    st = mkstate([mkt("M", 120)], {})
    a = acct(100, {"M": (10, 1000)})
    assert score_hyperliquid(st, a, "M", a.positions["M"]) == 4_800_000_000_000_000_000
    # short 10 from 100 at 80, collateral 100 -> upnl 200, equity 300: 0.8 x 800/300 = 2.1333..
    st = mkstate([mkt("M", 80)], {})
    a = acct(100, {"M": (-10, -1000)})
    assert score_hyperliquid(st, a, "M", a.positions["M"]) == 2_133_333_333_333_333_333
    a = acct(-300, {"M": (-10, -1000)})
    assert score_hyperliquid(st, a, "M", a.positions["M"]) is None


def test_R_ADL_4_scores_at_the_unit_boundaries() -> None:
    # long 1 lot from 1 at mark 2, collateral 0: upnl 1, equity 1, entry value 1, mark value 2.
    # bitmex: PnL% 1 x EffLev 2 = 2; hyperliquid: (2/1) x (2/1) = 4. Every quantity is 1 or 2,
    # so an off-by-one in a guard (equity <= 1, entry == 1, upnl > 1, den > 1) changes the score.
    st = mkstate([mkt("M", 2)], {})
    a = acct(0, {"M": (1, 1)})
    assert score_bitmex(st, a, "M", a.positions["M"]) == 2 * 10**18
    assert score_hyperliquid(st, a, "M", a.positions["M"]) == 4 * 10**18
    # binance: WB 1, UP 0 -> WB + UP = 1 > 0 is defined: 0 / 1 x MM / 1 = 0
    a = acct(1, {"M": (1, 2)})
    assert score_binance(st, a, "M", a.positions["M"]) == 0


# --------------------------------------------------------------------------- R-ADL-5

def expected_cyclic(ids: list[str], seed: str, market: str, bankrupt: str) -> list[str]:
    # the R-ADL-5 formula, written out independently
    h = int.from_bytes(sha256(f"{seed}|{market}|{bankrupt}".encode()).digest()[:8], "big")
    ids = sorted(ids)
    k = h % len(ids)
    return ids[k:] + ids[:k]


def test_R_ADL_5_cyclic_order_starts_at_hash_and_wraps() -> None:
    ids = ["z", "x", "y"]
    starts = set()
    for seed in ["0", "1", "2", "3", "4", "5", "abc"]:
        order = cyclic_order(sorted(ids), seed, "M", "b")
        assert order == expected_cyclic(ids, seed, "M", "b")
        starts.add(order[0])
    assert len(starts) > 1  # the seed moves the start
    assert cyclic_order([], "0", "M", "b") == []


@pytest.mark.parametrize("seed", ["0", "7", "seed-x"])
def test_R_ADL_5_cyclic_deleveraging_first_takes_all_it_can_next_takes_the_rest(seed: str) -> None:
    # b long 4 from 100 with collateral -8 -> equity -8, P = 100 + 8/4 = 102. Shorts x, y, z
    # hold 3 each; L is long 5. In cyclic order the first short takes 3, the second 1.
    st = mkstate([mkt("M", 100)],
                 {"x": acct(100, {"M": (-3, -300)}), "y": acct(100, {"M": (-3, -300)}),
                  "z": acct(100, {"M": (-3, -300)}), "L": acct(100, {"M": (5, 500)}),
                  "b": acct(-8, {"M": (4, 400)})}, {"insurance_fund": 0})
    first, second, third = expected_cyclic(["x", "y", "z"], seed, "M", "b")
    post, ev = apply(st, Liquidate("b", seed=seed), adl("cyclic"))
    assert trades(ev) == [("account:b", f"account:{first}", "M", 3, 102),
                          ("account:b", f"account:{second}", "M", 1, 102)]
    assert pos(post, second, "M") == (-2, -300 + 102)
    assert post.accounts[third] == st.accounts[third]
    assert eq_of(post, "b") == 0


def test_R_ADL_5_dydx_multiple_offsetting_subaccounts() -> None:
    # dydxprotocol/v4-chain protocol/x/clob/keeper/deleveraging_test.go,
    # TestOffsetSubaccountPerpetualPosition "Can get multiple offsetting subaccounts": Carl is
    # 1 BTC short with $54,999 USDC (TNC $4,999, BTC at $50,000, 100 % margin), Dave_Num0 and
    # Dave_Num1 are 0.5 BTC long each; fills are 0.5 BTC (50_000_000 quantums) from each Dave
    # and nothing remains. Our units: 1 lot = 0.1 BTC, mark 5000: Carl -10 lots from 5000 with
    # collateral 4999 (equity 4999 < MM 50_000), each Dave +5 lots.
    # Documented difference: dYdX closes at the bankruptcy price $54,999 even with TNC > 0
    # (Carl ends at 0, each Dave gets +$27,499.5); our R-ADL-1 uses the bankruptcy price only
    # while equity < 0, so the fills are at mark 5000 and Carl keeps 4999 (surplus 'none').
    st = mkstate([mkt("BTC", 5000, im_ppm=1_000_000, mm_ppm=1_000_000)],
                 {"carl": acct(4999, {"BTC": (-10, -50_000)}),
                  "dave0": acct(50_000, {"BTC": (5, 25_000)}), "dave1": acct(50_000, {"BTC": (5, 25_000)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("carl"), adl("cyclic"))
    # carl is short, so carl buys: the Daves are the sellers (src) of each fill
    fills = {e[0]: e[3] for e in trades(ev, "R-ADL-1")}
    assert all(e[1] == "account:carl" for e in trades(ev))
    assert fills == {"account:dave0": 5, "account:dave1": 5}
    assert all(e[4] == 5000 for e in trades(ev))
    assert post.accounts["carl"].positions == {}
    assert eq_of(post, "carl") == 4999


# --------------------------------------------------------------------------- R-ADL-6

def dydx_skip_state(with_dave1: bool):
    # dydxprotocol/v4-chain protocol/x/clob/keeper/deleveraging_test.go,
    # TestOffsetSubaccountPerpetualPosition "Skips subaccounts with non-overlapping bankruptcy
    # prices": Carl 1 BTC short with $50,000 USDC (TNC $0 -> bankruptcy price $50,000),
    # Dave_Num0 1 BTC long with -$50,001 USDC (TNC -$1: fails the collateral check and is
    # skipped), Dave_Num1 1 BTC long with $50,000 (fills 1 BTC at $50,000). Without Dave_Num1
    # ("Returns an error if not enough subaccounts ...") nothing fills and 1 BTC remains.
    # Our units: 1 lot = 1 BTC, mark 50_000, margins 100 %. Erin (short 1, same side as Carl)
    # only makes the sizes sum to zero; she is never touched.
    accounts = {"carl": acct(0, {"BTC": (-1, -50_000)}), "dave0": acct(-1, {"BTC": (1, 50_000)})}
    if with_dave1:
        accounts["dave1"] = acct(50_000, {"BTC": (1, 50_000)})
        accounts["erin"] = acct(10**6, {"BTC": (-1, -50_000)})
    return mkstate([mkt("BTC", 50_000, im_ppm=1_000_000, mm_ppm=1_000_000)], accounts, {"insurance_fund": 0})


@pytest.mark.parametrize("seed", ["0", "1", "2"])
def test_R_ADL_6_dydx_skips_an_offsetting_account_the_fill_would_leave_insolvent(seed: str) -> None:
    st = dydx_skip_state(with_dave1=True)
    post, ev = apply(st, Liquidate("carl", seed=seed), adl("cyclic", skip_insolvent=True))
    # Carl's equity 0 -> closed at mark 50_000; dave0 (equity -1) is skipped whatever the order
    assert trades(ev) == [("account:dave1", "account:carl", "BTC", 1, 50_000)]
    assert post.accounts["dave0"] == st.accounts["dave0"] and post.accounts["erin"] == st.accounts["erin"]
    assert post.accounts["carl"].positions == {}


def test_R_ADL_6_nobody_able_to_take_the_size_leaves_it_open() -> None:
    st = dydx_skip_state(with_dave1=False)
    post, ev = apply(st, Liquidate("carl"), adl("cyclic", skip_insolvent=True))
    # dYdX: no fills, 100_000_000 quantums (1 BTC) remaining
    assert trades(ev) == []
    assert pos(post, "carl", "BTC") == (-1, -50_000)


def test_R_ADL_6_skip_accounts_whose_equity_cannot_absorb_the_bankruptcy_price() -> None:
    # b long 3 from 110 (upnl -30), collateral 20 -> equity -10, P = 104 (see above).
    # s1 short 3 from 110 (upnl +30) with collateral -19 -> equity 11; it ranks first by profit,
    # but buying 3 at 104 against mark 100 costs it 12 > 11 -> skipped. s2 short 3 from 100
    # (equity 100) takes the fill: open notional -300 + 312 = 12 -> equity 88.
    st = mkstate([mkt("M", 100)],
                 {"s1": acct(-19, {"M": (-3, -330)}), "s2": acct(100, {"M": (-3, -300)}),
                  "l": acct(100, {"M": (3, 300)}), "b": acct(20, {"M": (3, 330)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), adl("profit", skip_insolvent=True))
    assert trades(ev) == [("account:b", "account:s2", "M", 3, 104)]
    assert eq_of(post, "s2") == 88 and post.accounts["s1"] == st.accounts["s1"]
    # without the check s1 is first and is left at 11 - 12 = -1
    post, ev = apply(st, Liquidate("b"), adl("profit"))
    assert trades(ev) == [("account:b", "account:s1", "M", 3, 104)]
    assert eq_of(post, "s1") == -1


# --------------------------------------------------------------------------- R-ADL-4: undefined scores, signed entry

def zero_equity_state():
    # Mark 100; the bankrupt side is long (b), so the shorts A and Z are ranked.
    # A: short 5 at 100 (open notional -500, upnl 0), collateral 0 -> equity exactly 0.
    # Z: short 5 at 90 (open notional -450, upnl -500 + 450 = -50), collateral 100 -> equity 50.
    # b: long 10 with open notional 950 balances the market.
    return mkstate([mkt("M", 100)], {"A": acct(0, {"M": (-5, -500)}), "Z": acct(100, {"M": (-5, -450)}),
                                     "b": acct(0, {"M": (10, 950)})})


def test_R_ADL_4b_bitmex_equity_zero_is_undefined_and_ranks_after_a_negative_score() -> None:
    st = zero_equity_state()
    a, z = st.accounts["A"], st.accounts["Z"]
    assert score_bitmex(st, a, "M", a.positions["M"]) is None
    # Z loses: PnL% / EffLev = (-50 / 450) / (500 / 50) -> floor(10^18 * -50 * 50 / (450 * 500))
    # = floor(-10^18 / 90) = -11_111_111_111_111_112
    assert score_bitmex(st, z, "M", z.positions["M"]) == -11_111_111_111_111_112
    # a negative score still ranks before an undefined one (A would win an id tie)
    assert list(ranked(st, "bitmex", "M", -1, "b", "0")) == ["Z", "A"]


def test_R_ADL_4c_binance_insolvent_ranks_after_a_zero_score() -> None:
    st = zero_equity_state()
    a, z = st.accounts["A"], st.accounts["Z"]
    # A: WB 0 + UP 0 = 0 <= 0 -> undefined. Z: WB 100 + UP -50 = 50 > 0 and max(0, UP) = 0
    # -> score exactly 0.
    assert score_binance(st, a, "M", a.positions["M"]) is None
    assert score_binance(st, z, "M", z.positions["M"]) == 0
    # with A scored 0 too, the id tie would put A first; undefined puts it last
    assert list(ranked(st, "binance", "M", -1, "b", "0")) == ["Z", "A"]


def test_R_ADL_4_hyperliquid_equity_zero_is_undefined_and_ranks_after_a_negative_score() -> None:
    # A as above (equity exactly 0). Y: short 5 with open notional +4000 (signed entry
    # 4000 / -5 = -800), collateral 5000: upnl -500 - 4000 = -4500 -> equity 500; score
    # floor(10^18 * 100^2 * -5 * 5 / (4000 * 500)) = -10^18 / 8 = -125_000_000_000_000_000.
    # b: long 10 with open notional -3500 balances the market.
    st = mkstate([mkt("M", 100)], {"A": acct(0, {"M": (-5, -500)}), "Y": acct(5000, {"M": (-5, 4000)}),
                                   "b": acct(0, {"M": (10, -3500)})})
    a, y = st.accounts["A"], st.accounts["Y"]
    assert score_hyperliquid(st, a, "M", a.positions["M"]) is None
    assert score_hyperliquid(st, y, "M", y.positions["M"]) == -125_000_000_000_000_000
    assert list(ranked(st, "hyperliquid", "M", -1, "b", "0")) == ["Y", "A"]


def test_R_ADL_4d_hyperliquid_signed_entry_short_with_negative_entry_scores_negative() -> None:
    # Mark 100. A: short 5 with open notional +4000 (signed entry -800), collateral 5000:
    # equity 500; score = floor(10^18 * mark^2 * size * |size| / (open_notional * equity))
    # = floor(10^18 * 10_000 * -25 / (4000 * 500)) = -125_000_000_000_000_000 (negative).
    # Z: short 1 at 100 (open notional -100, entry 100), collateral 1000 -> upnl 0, equity
    # 1000; score = 10^18 * 10_000 * -1 / (-100 * 1000) = 10^17 (positive).
    # With |open notional| instead of the signed entry A would score +1.25 x 10^17 > 10^17.
    # b: long 6 with open notional -3900 balances the market.
    st = mkstate([mkt("M", 100)], {"A": acct(5000, {"M": (-5, 4000)}), "Z": acct(1000, {"M": (-1, -100)}),
                                   "b": acct(0, {"M": (6, -3900)})})
    a, z = st.accounts["A"], st.accounts["Z"]
    assert score_hyperliquid(st, a, "M", a.positions["M"]) == -125_000_000_000_000_000
    assert score_hyperliquid(st, z, "M", z.positions["M"]) == 100_000_000_000_000_000
    assert list(ranked(st, "hyperliquid", "M", -1, "b", "0")) == ["Z", "A"]


# --------------------------------------------------------------------------- boundaries

def test_R_ADL_1_a_one_lot_long_is_deleveraged() -> None:
    # b long 1 from 110 at mark 100, collateral 5 -> equity -5; P = 100 + 5/1 = 105
    st = mkstate([mkt("M", 100)], {"b": acct(5, {"M": (1, 110)}), "s": acct(100, {"M": (-1, -110)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), adl())
    assert trades(ev) == [("account:b", "account:s", "M", 1, 105)]
    assert eq_of(post, "b") == 0 and pos(post, "b", "M") == (0, 5)   # size 0, open notional 110 - 105 = 5


def test_R_ADL_6_a_fill_that_leaves_exactly_zero_equity_is_taken() -> None:
    # as test_R_ADL_6_skip_accounts_whose_equity_cannot_absorb_the_bankruptcy_price, with s1's
    # collateral -18: equity 12 pays exactly the 12 the fill at 104 costs it -> not skipped.
    st = mkstate([mkt("M", 100)],
                 {"s1": acct(-18, {"M": (-3, -330)}), "s2": acct(100, {"M": (-3, -300)}),
                  "l": acct(100, {"M": (3, 300)}), "b": acct(20, {"M": (3, 330)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), adl("profit", skip_insolvent=True))
    assert trades(ev) == [("account:b", "account:s1", "M", 3, 104)]
    assert eq_of(post, "s1") == 0


def test_R_LIQ_2_adl_mechanism_deleverages_when_one_unit_is_left_uncovered() -> None:
    # b long 10 from 110, collateral 99 -> equity -1; the fund is empty, so the fill to c at
    # mark leaves 1 uncovered: ADL instead, at P = 100 + ceil(1/10) = 101.
    st = mkstate([mkt("M", 100)], {"b": acct(99, {"M": (10, 1100)}), "s": acct(1000, {"M": (-10, -1100)}),
                                   "c": acct(10_000)}, {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b", "c"), adl())
    assert trades(ev) == [("account:b", "account:s", "M", 10, 101)]
    assert post.accounts["c"] == st.accounts["c"] and post.bad_debt == 0


def test_R_WF_7_after_adl_at_mark_a_per_market_layer_pays_the_bankrupts_market() -> None:
    # close_price 'mark': the deficit 5 stays after ADL and is drawn from fund:M (R-WF-1)
    st = mkstate([mkt("M", 100)], {"b": acct(5, {"M": (1, 110)}), "s": acct(100, {"M": (-1, -110)})},
                 {"fund:M": 10})
    m = mech(final=Adl(close_price="mark"), layers=(LayerSpec("fund", scope="market"),), surplus_sink="fund")
    post, ev = apply(st, Liquidate("b"), m)
    assert trades(ev) == [("account:b", "account:s", "M", 1, 100)]
    assert post.layers == {"fund:M": 5} and post.bad_debt == 0


def test_R_ADL_3_two_markets_are_both_ranked_on_the_state_before_any_fill() -> None:
    # b: long 1 in A from 100, long 2 in B from 110, collateral 10 -> equity -10.
    # s1: short 1 in A from 100, short 1 in B from 110, collateral 30 -> equity 40.
    # s2: short 1 in B from 110, collateral 25 -> equity 35.
    # A first: P = 110, s1 takes it and pays 10 over mark (equity 30); b's equity is then 0,
    # so B closes at mark. BitMEX scores in B on the state before ADL: 10*100/(110*eq):
    # s2 (eq 35) before s1 (eq 40). Ranked after A's fill, s1 (eq 30) would come first.
    st = mkstate([mkt("A", 100), mkt("B", 100)],
                 {"b": acct(10, {"A": (1, 100), "B": (2, 220)}),
                  "s1": acct(30, {"A": (-1, -100), "B": (-1, -110)}),
                  "s2": acct(25, {"B": (-1, -110)})}, {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), adl("bitmex"))
    assert trades(ev) == [("account:b", "account:s1", "A", 1, 110),
                          ("account:b", "account:s2", "B", 1, 100),
                          ("account:b", "account:s1", "B", 1, 100)]


def test_R_ADL_6_the_solvency_check_is_exact_integer_arithmetic() -> None:
    # At 10^20 a float cannot tell -(10^20 + 1) from -10^20. b: long 1 at mark 10^18 with
    # open notional 10^18 + 10^20 + 1 and no collateral -> equity -(10^20 + 1), P = mark + 10^20 + 1.
    # s: the mirror short, upnl 10^20 + 1, collateral -1 -> equity 10^20; buying at P costs it
    # 10^20 + 1 -> equity -1 < 0: skipped (exactly), so nobody takes the lot: the liquidation is
    # pending (R-ADL-11), nothing is settled and b keeps its position and its negative equity.
    mark, loss = 10**18, 10**20 + 1
    st = mkstate([mkt("M", mark)], {"b": acct(0, {"M": (1, mark + loss)}), "s": acct(-1, {"M": (-1, -mark - loss)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), adl("profit", skip_insolvent=True))
    assert trades(ev) == [] and post.accounts["s"] == st.accounts["s"]
    assert post.bad_debt == 0 and post.accounts["b"] == st.accounts["b"] and eq_of(post, "b") == -loss


# --------------------------------------------------------------------------- Hyperliquid

def hl_shorts_state():
    """B long 20 from 100 at mark 100 with -10 collateral; two shorts of 10 with equity 1,000:
    w sold at 110 (winning 100), l at 90 (losing 100)."""
    return mkstate([mkt("M", 100)], {"B": acct(-10, {"M": (20, 2_000)}),
                                     "w": acct(900, {"M": (-10, -1_100)}), "l": acct(1_100, {"M": (-10, -900)})},
                   {"insurance_fund": 0})


def test_R_ADL_4d_literal_hyperliquid_formula_ranks_a_losing_short_first() -> None:
    # hyperliquid docs (copy at docs.hyperodd.com/trading/adl): (mark / entry) x (notional /
    # account value). For shorts: w 100/110 x 1,000/1,000 = 0.91, l 100/90 x 1 = 1.11:
    # the short that is losing is deleveraged first.
    st = hl_shorts_state()
    assert list(ranked(st, "hyperliquid", "M", -1, "B", "0")) == ["l", "w"]


def test_R_ADL_4e_side_aware_hyperliquid_ranks_the_winning_short_first() -> None:
    # entry / mark for shorts: w 110/100 = 1.1, l 90/100 = 0.9 (times notional / value = 1)
    st = hl_shorts_state()
    assert list(ranked(st, "hyperliquid_side", "M", -1, "B", "0")) == ["w", "l"]
    assert score_hyperliquid_side(st, st.accounts["w"], "M", st.accounts["w"].positions["M"]) == 11 * 10**17
    # a long keeps the documented form: L long 10 from 80 at mark 100, equity 1,200:
    # (100 / 80) x (1,000 / 1,200) = 1.0416...
    long_st = mkstate([mkt("M", 100)], {"L": acct(1_000, {"M": (10, 800)}), "x": acct(0, {"M": (-10, -800)})})
    assert score_hyperliquid_side(long_st, long_st.accounts["L"], "M", long_st.accounts["L"].positions["M"]) == \
        10**18 * 100 * 100 * 10 * 10 // (800 * 1_200)


def test_R_ADL_9_hyperliquid_closes_at_the_previous_mark() -> None:
    # hyperliquid.gitbook.io/hyperliquid-docs/trading/auto-deleveraging: "Those traders'
    # positions are closed at the previous oracle price against the now underwater user,
    # ensuring that the platform has no bad debt." B long 10 from 100 with 50 collateral;
    # the mark falls 100 -> 90: equity -50. Closed at the previous price 100, B realises
    # nothing and keeps its 50; s, short from 100, gives up the 100 the fall earned it.
    from waterfall.model.ops import SetMark
    m = mech(final=Adl(ranking="hyperliquid_side", close_price="previous_mark"), layers=())
    st = mkstate([mkt("M", 100)], {"B": acct(50, {"M": (10, 1_000)}), "s": acct(1_000, {"M": (-10, -1_000)})})
    st = apply(st, SetMark("M", 90), m)[0]
    post, ev = apply(st, Liquidate("B"), m)
    assert trades(ev, "R-ADL-1") == [("account:B", "account:s", "M", 10, 100)]
    assert eq_of(post, "B") == 50 and post.bad_debt == 0 and eq_of(post, "s") == 1_000
    # at the current mark (the catalogue's reading before R-ADL-9) the 50 is bad debt
    post, _ = apply(st, Liquidate("B"), mech(final=Adl(ranking="hyperliquid_side", close_price="mark"), layers=()))
    assert post.bad_debt == 50 and eq_of(post, "s") == 1_100


def test_R_ADL_11_dydx_no_valid_taker_no_transfer_the_account_stays_negative() -> None:
    # dydxprotocol/v4-chain protocol/x/clob/keeper/deleveraging_test.go (and
    # liquidations_test.go), "Can place a liquidation order that is unfilled and cannot be
    # deleveraged due to non-overlapping bankruptcy prices": Carl_Num0_1BTC_Short_49999USD
    # (TNC -$1 at $50,000: bankruptcy price $49,999), Dave_Num0_1BTC_Long_50000USD_Short
    # (TNC $0), insurance fund 0. Dave selling at $49,999 would leave him at -$1: he fails the
    # collateral check. Expected: both subaccounts unchanged. Our units: 1 lot = 1 BTC,
    # BtcUsd 20 % initial / 10 % maintenance; Carl's $49,999 of USDC is collateral -1 with
    # the short's entry value -50,000 (the same equity).
    from waterfall.model.loader import catalogue, load_mechanism
    st = mkstate([mkt("BTC", 50_000, im_ppm=200_000, mm_ppm=100_000)],
                 {"carl": acct(-1, {"BTC": (-1, -50_000)}), "dave": acct(0, {"BTC": (1, 50_000)})},
                 {"insurance_fund": 0})
    m = load_mechanism(catalogue()["dydx-v4-deleveraging"])
    post, ev = apply(st, Liquidate("carl"), m)
    assert ev == [] and post.accounts == st.accounts and post.bad_debt == 0 and post.layers == st.layers
    assert eq_of(post, "carl") == -1
    # with a fund the model used to draw 1 from it while the short stayed open: no longer
    funded = replace(st, layers={"insurance_fund": 10})
    post, ev = apply(funded, Liquidate("carl"), m)
    assert ev == [] and post.layers == {"insurance_fund": 10}


def test_R_WF_12_hyperliquid_backstop_pays_what_adl_leaves_never_before() -> None:
    # hyperliquid docs trading/auto-deleveraging: ADL closes at the previous price "ensuring
    # that the platform has no bad debt". B long 10 from 100 with -20 collateral: even at the
    # previous mark 100 its equity is -20. The catalogue's HLP backstop (after_adl) pays it;
    # it is not drawn before ADL: the book fill at 90 (deficit 120) is still abandoned for ADL.
    from waterfall.model.loader import catalogue, load_mechanism
    from waterfall.model.ops import SetMark
    hl = load_mechanism(catalogue()["hyperliquid-adl"])
    st = mkstate([mkt("M", 100)], {"B": acct(-20, {"M": (10, 1_000)}), "s": acct(1_000, {"M": (-10, -1_000)}),
                                   "c": acct(10**6)}, {"backstop": 1_000})
    st = apply(st, SetMark("M", 90), hl)[0]
    for op in (Liquidate("B"), Liquidate("B", "c")):
        post, ev = apply(st, op, hl)
        assert trades(ev, "R-ADL-1") == [("account:B", "account:s", "M", 10, 100)]
        assert transfers(ev, "R-WF-3") == [("layer:backstop", "account:B", 20)]
        assert post.bad_debt == 0 and eq_of(post, "B") == 0 and post.layers["backstop"] == 980
    # an empty backstop: what ADL leaves is bad debt
    post, _ = apply(replace(st, layers={"backstop": 0}), Liquidate("B"), hl)
    assert post.bad_debt == 20


def test_R_ADL_4b_bitmex_isolated_position_ranked_by_its_own_margin() -> None:
    # bitmex.com/app/autoDeleveraging: EffLev = MarkValue / (MarkValue - BankruptValue), the
    # margin of the position (isolated) or of the account (cross). An isolated position is an
    # account of its own in the model (R-WF-10), so its equity is the position's own margin.
    # Trader T: short 10 from 110 at mark 100 (PnL 100) with 100 isolated margin, plus 10,000
    # of cross collateral elsewhere; U: short 10 from 110 with 500 of margin, cross. Ranked
    # with T's whole 10,100 of equity T comes last (EffLev 1,000 / 10,200); with its isolated
    # margin (T's position in its own account "T.iso") it comes first (1,000 / 200 vs 1,000 / 600).
    from waterfall.model.ranking import ranked
    def venue(accounts):
        return mkstate([mkt("M", 100)], {**accounts, "B": acct(10_000, {"M": (20, 2_200)})})
    cross = venue({"T": acct(10_100, {"M": (-10, -1_100)}), "U": acct(500, {"M": (-10, -1_100)})})
    iso = venue({"T": acct(10_000), "T.iso": acct(100, {"M": (-10, -1_100)}), "U": acct(500, {"M": (-10, -1_100)})})
    assert list(ranked(cross, "bitmex", "M", -1, "B", "")) == ["U", "T"]
    assert list(ranked(iso, "bitmex", "M", -1, "B", "")) == ["T.iso", "U"]
