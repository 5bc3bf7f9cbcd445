"""R-ADL-7, R-WF-8, R-ADL-10: the fund pays as far as it goes (or as far as its drawdown
rule lets it), and only the rest is deleveraged."""
from __future__ import annotations

from conftest import Adl, LayerSpec, acct, apply, eq_of, mech, mkstate, mkt, pos, trades, transfers
from test_adl import bitmex_state
from waterfall.model.loader import catalogue, load_mechanism
from waterfall.model.ops import AdvanceTime, Liquidate, Trade


def fund_first(**kw) -> object:
    layer = kw.pop("layer", LayerSpec("insurance_fund", scope="market"))
    return mech(final=Adl(ranking="profit", fund_first=True, **kw), layers=(layer,), surplus="all")


# --------------------------------------------------------------------------- BitMEX

def test_R_ADL_7_the_fund_pays_for_what_it_can_and_only_the_rest_is_deleveraged() -> None:
    # bitmex.com/app/autoDeleveragingExamples, extended: x is short 20 with bankruptcy
    # price 650 (mark 700, equity -1000, test_adl.bitmex_state). The liquidation engine
    # (mm) can buy it back at 660 only: 10 worse than 650 per lot. A fund of 100 covers 10
    # lots; "if the insurance fund runs out, the winning trader is auto-deleveraged"
    # (BitMEX, as summarised by btcmex.com/insurance-fund): the other 10 lots go to account 2,
    # first in the ranking, at 650.
    st = bitmex_state()
    st = mkstate(list(st.markets.values()), {**st.accounts, "mm": acct(100_000)}, {"insurance_fund:M": 100})
    post, ev = apply(st, Liquidate("x", "mm", {"M": 660}), fund_first())
    assert trades(ev, "R-ADL-1") == [("account:2", "account:x", "M", 10, 650)]
    assert trades(ev, "R-LIQ-3") == [("account:mm", "account:x", "M", 10, 660)]
    # x: -1000 + 10 x (700 - 650) + 10 x (700 - 660) = -100, paid by the fund
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund:M", "account:x", 100)]
    assert post.layers["insurance_fund:M"] == 0 and eq_of(post, "x") == 0 and post.bad_debt == 0
    assert pos(post, "x", "M") == (0, -12_000 + 6_500 + 6_600)


def test_R_ADL_7_without_fund_first_the_whole_position_is_deleveraged_and_the_fund_kept() -> None:
    st = bitmex_state()
    st = mkstate(list(st.markets.values()), {**st.accounts, "mm": acct(100_000)}, {"insurance_fund:M": 100})
    legacy = mech(final=Adl(ranking="profit"), layers=(LayerSpec("insurance_fund", scope="market"),), surplus="all")
    post, ev = apply(st, Liquidate("x", "mm", {"M": 660}), legacy)
    assert trades(ev, "R-ADL-1") == [("account:2", "account:x", "M", 10, 650), ("account:5", "account:x", "M", 10, 650)]
    assert trades(ev, "R-LIQ-3") == [] and post.layers["insurance_fund:M"] == 100


def test_R_ADL_7_a_fill_the_fund_can_cover_in_full_needs_no_deleveraging() -> None:
    st = bitmex_state()
    st = mkstate(list(st.markets.values()), {**st.accounts, "mm": acct(100_000)}, {"insurance_fund:M": 500})
    post, ev = apply(st, Liquidate("x", "mm", {"M": 660}), fund_first())
    assert trades(ev, "R-ADL-1") == [] and trades(ev, "R-LIQ-3") == [("account:mm", "account:x", "M", 20, 660)]
    assert post.layers["insurance_fund:M"] == 300  # paid 20 x (660 - 650) = 200


# --------------------------------------------------------------------------- Bybit

def bybit_state(fund: int = 1_000_000, history: tuple[int, ...] = (), clock: int = 0) -> object:
    """A is long 350 from 10,000 with no collateral left; mark 9,000: equity -350,000 and
    bankruptcy price 10,000. The book buys at the mark. s holds the opposite 350."""
    st = mkstate([mkt("M", 9_000)], {"A": acct(0, {"M": (350, 3_500_000)}),
                                     "s": acct(1_000_000, {"M": (-350, -3_500_000)}), "book": acct(10**9)},
                  {"insurance_fund:M": fund})
    if history:
        from dataclasses import replace
        st = replace(st, clock=clock, history={"insurance_fund:M": history})
    return st


def bybit_mech() -> object:
    return fund_first(layer=LayerSpec("insurance_fund", scope="market", drawdown_ppm=300_000, drawdown_window=28_800))


def test_R_WF_8_bybit_drawdown_example_fund_bears_30_percent_users_the_rest() -> None:
    # bybit-exchange.github.io/docs/v5/market/adl-alert, example 1: a pool of 1M at its 8-hour
    # maximum; symbol A loses 350K; insurancePnlRatio -0.3: "the bankruptcy price is computed
    # from the -30% drawdown ratio, users need to subsidise 50K". Here: the fund pays 300,000
    # (it may fall to ceil(1M x 0.7) = 700,000), 300 lots go to the book at 9,000 and the other
    # 50 are deleveraged at the bankruptcy price 10,000: s gives up 50 x 1,000 = 50,000.
    st = bybit_state()
    post, ev = apply(st, Liquidate("A", "book", {"M": 9_000}), bybit_mech())
    assert trades(ev, "R-ADL-1") == [("account:A", "account:s", "M", 50, 10_000)]
    assert trades(ev, "R-LIQ-3") == [("account:A", "account:book", "M", 300, 9_000)]
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund:M", "account:A", 300_000)]
    assert post.layers["insurance_fund:M"] == 700_000 and eq_of(post, "A") == 0
    assert eq_of(post, "s") == eq_of(st, "s") - 50_000
    assert post.history == {"insurance_fund:M": (0, 1_000_000, 0, 700_000)}


def test_R_WF_8_the_peak_is_taken_over_the_window() -> None:
    # The fund fell from 1.2M to 1M five hours ago (clock 3,600 -> 21,600): the floor is
    # ceil(1.2M x 0.7) = 840,000, so it pays 160,000 (160 lots to the book) and 190 lots
    # are deleveraged.
    st = bybit_state(history=(0, 1_200_000, 3_600, 1_000_000), clock=21_600)
    post, ev = apply(st, Liquidate("A", "book", {"M": 9_000}), bybit_mech())
    assert post.layers["insurance_fund:M"] == 840_000
    assert trades(ev, "R-ADL-1") == [("account:A", "account:s", "M", 190, 10_000)]
    # three hours later the fall is 8 hours old: 1M is the peak again
    later = apply(st, AdvanceTime(10_800), bybit_mech())[0]
    post, ev = apply(later, Liquidate("A", "book", {"M": 9_000}), bybit_mech())
    assert post.layers["insurance_fund:M"] == 700_000


def test_R_WF_8_below_the_floor_the_fund_pays_down_to_its_reserve() -> None:
    # Bybit's adlTriggerThreshold: the drawdown trigger acts only while the balance exceeds it
    layer = LayerSpec("insurance_fund", scope="market", drawdown_ppm=300_000, drawdown_window=28_800,
                      drawdown_floor=2_000_000)
    post, ev = apply(bybit_state(), Liquidate("A", "book", {"M": 9_000}), fund_first(layer=layer))
    assert trades(ev, "R-ADL-1") == [] and post.layers["insurance_fund:M"] == 650_000


# --------------------------------------------------------------------------- Binance

def test_R_ADL_7_binance_the_fund_takes_over_at_most_its_own_size_in_notional() -> None:
    # binance.com/en/support/faq/360033525371: "The fund will not be allowed to exceed a
    # predefined position notional on the market; by default, this is 100% the size of the
    # insurance fund. Any positions that would increase beyond the max notional will be
    # subjected to counterparty-liquidation." L is long 10 from 1,100 with 700 collateral at
    # mark 1,000: equity -300, bankruptcy price 1,030. A fund of 5,000 could pay the whole
    # deficit (10 x 30) but may take over only 5,000 of notional: 5 lots; 5 are deleveraged.
    st = mkstate([mkt("M", 1_000)], {"L": acct(700, {"M": (10, 11_000)}), "s": acct(5_000, {"M": (-10, -11_000)}),
                                     "fund_desk": acct(10**6)}, {"insurance_fund:M": 5_000})
    binance = fund_first(takeover_cap_ppm=1_000_000)
    post, ev = apply(st, Liquidate("L", "fund_desk", {"M": 1_000}), binance)
    assert trades(ev, "R-LIQ-3") == [("account:L", "account:fund_desk", "M", 5, 1_000)]
    assert trades(ev, "R-ADL-1") == [("account:L", "account:s", "M", 5, 1_030)]
    assert post.layers["insurance_fund:M"] == 5_000 - 150
    # without the cap the fund takes it all
    post, ev = apply(st, Liquidate("L", "fund_desk", {"M": 1_000}), fund_first())
    assert trades(ev, "R-ADL-1") == [] and post.layers["insurance_fund:M"] == 4_700


def cascade_state() -> object:
    """Two bankrupts long 4 from 1,100 with 280 collateral at mark 1,000 (equity -120 each,
    bankruptcy price 1,030); s holds the opposite 8; the fund's book (fund_desk) holds
    nothing yet; a fund of 5,000."""
    return mkstate([mkt("M", 1_000)], {"L1": acct(280, {"M": (4, 4_400)}), "L2": acct(280, {"M": (4, 4_400)}),
                                       "s": acct(10_000, {"M": (-8, -8_800)}), "fund_desk": acct(10**6),
                                       "book": acct(10**6)}, {"insurance_fund:M": 5_000})


def test_R_ADL_12_binance_cascade_the_fund_counts_what_it_took_over_until_offloaded() -> None:
    # binance.com/en/support/articles/360033525371: "The fund will have a maximum net notional
    # position check ... by default, this is 100% the size of the insurance fund. Any
    # position that would increase beyond the max notional will be subject to
    # counterparty-liquidation. The insurance fund will offload positions according to a
    # preset algorithm." The article gives no figures: this cascade is built from the rule.
    # L1's 4 lots (4,000 of notional) fit in the fund's 5,000: taken over, the fund pays 120.
    # L2 comes next: the fund (4,880) already holds 4,000, so only 880 of notional is left,
    # not one lot at 1,000: all 4 of L2's lots are deleveraged against s at 1,030.
    binance = fund_first(takeover_cap_ppm=1_000_000, takeover_cumulative=True)
    st = cascade_state()
    after1, ev = apply(st, Liquidate("L1", "fund_desk", {"M": 1_000}), binance)
    assert trades(ev, "R-LIQ-3") == [("account:L1", "account:fund_desk", "M", 4, 1_000)]
    assert after1.layers["insurance_fund:M"] == 4_880
    post, ev = apply(after1, Liquidate("L2", "fund_desk", {"M": 1_000}), binance)
    assert trades(ev, "R-LIQ-3") == [] and trades(ev, "R-ADL-1") == [("account:L2", "account:s", "M", 4, 1_030)]
    assert post.layers["insurance_fund:M"] == 4_880
    # counting each liquidation alone (R-ADL-7 without R-ADL-12) the fund takes L2's 4 too
    single = fund_first(takeover_cap_ppm=1_000_000)
    post, ev = apply(after1, Liquidate("L2", "fund_desk", {"M": 1_000}), single)
    assert trades(ev, "R-LIQ-3") == [("account:L2", "account:fund_desk", "M", 4, 1_000)]
    # once the fund has offloaded its 4 lots to the market (an ordinary trade), it takes L2's
    offloaded, _ = apply(after1, Trade("book", "fund_desk", "M", 4, 1_000), binance)
    post, ev = apply(offloaded, Liquidate("L2", "fund_desk", {"M": 1_000}), binance)
    assert trades(ev, "R-LIQ-3") == [("account:L2", "account:fund_desk", "M", 4, 1_000)]
    assert trades(ev, "R-ADL-1") == [] and post.layers["insurance_fund:M"] == 4_760


def test_R_ADL_12_binance_catalogue_file_counts_the_takeover_cumulatively() -> None:
    binance = load_mechanism(catalogue()["binance-adl"])
    assert binance.final.takeover_cumulative and binance.final.takeover_cap_ppm == 1_000_000
    st = cascade_state()
    after1, _ = apply(st, Liquidate("L1", "fund_desk", {"M": 1_000}), binance)
    post, ev = apply(after1, Liquidate("L2", "fund_desk", {"M": 1_000}), binance)
    assert trades(ev, "R-LIQ-3") == [] and [t[3] for t in trades(ev, "R-ADL-1")] == [4]


# --------------------------------------------------------------------------- OKX

def okx_state(fund: int) -> object:
    """L long 10 from 1,100 with 500 collateral, mark 1,000: equity -500; the book bids 900."""
    return mkstate([mkt("M", 1_000)], {"L": acct(500, {"M": (10, 11_000)}), "s": acct(5_000, {"M": (-10, -11_000)}),
                                       "book": acct(10**6)}, {"insurance_fund:M": fund})


def okx_mech() -> object:
    layer = LayerSpec("insurance_fund", scope="market", drawdown_ppm=300_000, drawdown_window=28_800,
                      drawdown_mode="trigger")
    return fund_first(layer=layer, close_price="mark_or_bankruptcy")


def test_R_ADL_10_okx_deleverages_at_mark_while_the_fund_can_pay() -> None:
    # okx.com help 'what is the mechanism for early liquidation': ADL when the fund drops
    # 30 % from its 8-hour peak; positions are then matched at the current mark price; the
    # fund-help article: at the bankruptcy price if the fund is nearly depleted. Fund 1,000:
    # selling to the book at 900 would cost it 500 + 10 x 100 = 1,500, beyond the 30 %
    # trigger (300): nothing goes to the book, all 10 lots are deleveraged at mark and the
    # fund pays the 500 deficit at mark.
    post, ev = apply(okx_state(1_000), Liquidate("L", "book", {"M": 900}), okx_mech())
    assert trades(ev, "R-ADL-1") == [("account:L", "account:s", "M", 10, 1_000)]
    assert trades(ev, "R-LIQ-3") == [] and post.layers["insurance_fund:M"] == 500


def test_R_ADL_10_okx_deleverages_at_the_bankruptcy_price_when_the_fund_cannot_pay() -> None:
    post, ev = apply(okx_state(300), Liquidate("L", "book", {"M": 900}), okx_mech())
    assert trades(ev, "R-ADL-1") == [("account:L", "account:s", "M", 10, 1_050)]
    assert post.layers["insurance_fund:M"] == 300 and post.bad_debt == 0


def test_R_ADL_7_catalogue_adl_files_draw_the_fund_first() -> None:
    for mid in ("bitmex-adl", "binance-adl", "bybit-adl", "okx-adl", "dydx-v4-deleveraging"):
        assert load_mechanism(catalogue()[mid]).final.fund_first, mid


def test_R_WF_10_an_isolated_market_has_its_own_fund() -> None:
    # dydxprotocol/v4-chain protocol/x/perpetuals/keeper/perpetual.go GetInsuranceFundName:
    # an isolated perpetual's fund is "insurance_fund:<id>", cross perpetuals share
    # "insurance_fund". i is long 10 of ISO from 110 with 50 collateral at mark 100: -50;
    # the book buys at 100: the ISO fund pays 50, the cross fund is untouched.
    layer = LayerSpec("insurance_fund", isolated=("ISO",))
    m = mech(final=Adl(ranking="cyclic", fund_first=True), layers=(layer,), surplus="fee", fee_ppm=15_000)
    st = mkstate([mkt("ISO", 100), mkt("BTC", 100)],
                 {"i": acct(50, {"ISO": (10, 1_100)}), "s": acct(5_000, {"ISO": (-10, -1_100)}), "book": acct(10**6)},
                 {"insurance_fund": 1_000, "insurance_fund:ISO": 80})
    post, ev = apply(st, Liquidate("i", "book", {"ISO": 100}), m)
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund:ISO", "account:i", 50)]
    assert post.layers == {"insurance_fund": 1_000, "insurance_fund:ISO": 30}
    # a surplus goes to the isolated market's fund too (R-WF-6)
    post, ev = apply(st, Liquidate("i", "book", {"ISO": 106}), m)
    assert transfers(ev, "R-LIQ-5") == [("account:i", "layer:insurance_fund:ISO", 10)]
    assert LayerSpec("f", isolated=("ISO",)).keys(["BTC", "ISO"]) == ["f:ISO", "f"]
