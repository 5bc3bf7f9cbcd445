"""R-LIQ-*, R-WF-*: the liquidation, its surplus rule and the order of the loss layers.

Unless a test says otherwise: one market M at mark 100, initial margin 10 %, maintenance 5 %;
the bankrupt 'b' is long 10 lots at entry 100 (open notional 1000), the opposite short 's'
holds -10 at entry 100, and 'c' (collateral 10 000, no position) takes the closed position.
"""
from __future__ import annotations

import pytest

from conftest import (Haircut, LayerSpec, acct, apply, eq_of, mech, mkstate, mkt, pos,
                      short_winners_state, transfers)
from waterfall.model.errors import HealthyAccount
from waterfall.model.loader import resolve_mechanism, scenario_from_doc
from waterfall.model.ops import Liquidate
from waterfall.model.replay import run
from waterfall.model.state import Position


def base_state(b_collateral: int, layers=None, extra_markets=()) -> object:
    return mkstate([mkt("M", 100), *extra_markets],
                   {"b": acct(b_collateral, {"M": (10, 1000)}),
                    "s": acct(1000, {"M": (-10, -1000)}),
                    "c": acct(10_000)}, layers)


GENERIC = mech(final=Haircut(), surplus="fee", fee_ppm=5000)  # spec/mechanisms/generic-socialized-loss.toml


def test_R_LIQ_1_liquidatable_only_below_maintenance_margin() -> None:
    # MM = ceil(10 * 100 * 5 %) = 50. Equity 50 (collateral 50, upnl 0) is healthy ...
    with pytest.raises(HealthyAccount):
        apply(base_state(50, {"insurance_fund": 0}), Liquidate("b", "c"), GENERIC)
    # ... equity 49 is not.
    post, _ = apply(base_state(49, {"insurance_fund": 0}), Liquidate("b", "c"), GENERIC)
    assert "M" not in post.accounts["b"].positions


def test_R_LIQ_3_counterparty_takes_whole_position_at_fill_price_then_fee_R_LIQ_5() -> None:
    st = base_state(49, {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b", "c", {"M": 98}), GENERIC)
    # b sells 10 at 98: open notional 1000 - 980 = 20 at size 0 (realised -20); equity 49 - 20 = 29.
    # c: long 10 at 98 -> (10, 980), upnl at 100 = +20.
    assert pos(post, "c", "M") == (10, 980)
    assert post.accounts["b"].positions["M"] == Position(0, 20)
    # R-LIQ-5 'fee': min(29, floor(5000 ppm x notional at mark 1000)) = min(29, 5) = 5 to the fund.
    assert transfers(ev, "R-LIQ-5") == [("account:b", "layer:insurance_fund", 5)]
    assert post.layers["insurance_fund"] == 5
    assert eq_of(post, "b") == 24
    assert eq_of(post, "c") == 10_020


def test_R_LIQ_3_fill_defaults_to_mark() -> None:
    post, _ = apply(base_state(49, {"insurance_fund": 0}), Liquidate("b", "c"), GENERIC)
    assert pos(post, "c", "M") == (10, 1000)
    # closed at 100 = entry: b keeps 49, pays the fee of 5
    assert eq_of(post, "b") == 44


@pytest.mark.parametrize("surplus,fee_ppm,to_fund", [
    ("all", 0, 29),         # BitMEX: the whole surplus over the bankruptcy price goes to the fund
    ("none", 0, 0),         # nothing
    ("fee", 50_000, 29),    # fee floor(1000 * 5 %) = 50 capped at the equity 29
    ("fee", 5_000, 5),      # fee 5 < 29
])
def test_R_LIQ_5_surplus_rules(surplus: str, fee_ppm: int, to_fund: int) -> None:
    # Source for 'all': shared/mechanisms.md, "the generic waterfall" step 2 (BitMEX: a fill
    # better than the bankruptcy price pays the surplus to the insurance fund).
    m = mech(final=Haircut(), surplus=surplus, fee_ppm=fee_ppm)
    post, _ = apply(base_state(49, {"insurance_fund": 0}), Liquidate("b", "c", {"M": 98}), m)
    # equity after the close is 29 (see above)
    assert post.layers["insurance_fund"] == to_fund
    assert eq_of(post, "b") == 29 - to_fund


@pytest.mark.parametrize("fill,fee,b_after", [(4600, 25, 74), (4510, 9, 0)])
def test_R_LIQ_5_dydx_fee_capped_by_surplus_over_bankruptcy_price(fill: int, fee: int, b_after: int) -> None:
    # dYdX v4: liquidation fee = min(MaxLiquidationFeePpm x |quote|, surplus over the
    # bankruptcy price), MaxLiquidationFeePpm = 5_000 by default
    # (dydxprotocol/v4-chain protocol/x/clob/types/liquidations_config_keeper.go). Position
    # from protocol/x/clob/keeper/liquidations_test.go (TestGetBankruptcyPriceInQuoteQuantums):
    # 0.1 BTC long at $50,000 with TNC $499 (quote -$4,501), BtcUsd 20 % / 10 % margins;
    # bankruptcy price $4,501. Our units: 1 lot = 0.1 BTC, $1 = 1: mark 5000, long 1 lot at
    # entry 5000, collateral 499 (MM = 500, so liquidatable).
    # Fill 4600: equity after close = 499 - (5000 - 4600) = 99 = surplus over bankruptcy;
    # fee = min(floor(5000 ppm x 5000), 99) = min(25, 99) = 25 -> b keeps 74.
    # Fill 4510: surplus 9 -> fee 9 -> b keeps 0.
    # Documented difference: dYdX takes the fee on the fill's quote amount (4600 x 0.5 % = 23),
    # our R-LIQ-5 on the notional at mark (5000 x 0.5 % = 25).
    st = mkstate([mkt("BTC", 5000, im_ppm=200_000, mm_ppm=100_000)],
                 {"b": acct(499, {"BTC": (1, 5000)}), "s": acct(10_000, {"BTC": (-1, -5000)}),
                  "c": acct(10**6)}, {"insurance_fund": 0})
    m = mech(final=Haircut(), surplus="fee", fee_ppm=5000)
    post, _ = apply(st, Liquidate("b", "c", {"BTC": fill}), m)
    assert post.layers["insurance_fund"] == fee
    assert eq_of(post, "b") == b_after


def test_R_WF_1_R_WF_3_insurance_fund_pays_the_deficit() -> None:
    st = base_state(49, {"insurance_fund": 100})
    post, ev = apply(st, Liquidate("b", "c", {"M": 90}), GENERIC)
    # b sells 10 at 90: ON 1000 - 900 = 100, equity 49 - 100 = -51 -> the fund pays 51.
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:b", 51)]
    assert post.layers["insurance_fund"] == 49
    assert eq_of(post, "b") == 0
    # trigger soundness: no haircut while the fund suffices
    assert transfers(ev, "R-HC-2") == [] and post.bad_debt == 0


def test_R_WF_2_layers_in_file_order_each_only_after_the_previous_is_exhausted() -> None:
    layers = (LayerSpec("insurance_fund"), LayerSpec("fee_pool"))
    st = base_state(49, {"insurance_fund": 30, "fee_pool": 100})
    post, ev = apply(st, Liquidate("b", "c", {"M": 90}), mech(layers=layers))
    # deficit 51: fund 30 (all it has), then fee pool 21.
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:b", 30),
                                       ("layer:fee_pool", "account:b", 21)]
    assert post.layers == {"insurance_fund": 0, "fee_pool": 79}
    # the other order: the fee pool covers all 51 and the fund is not touched
    post, ev = apply(st, Liquidate("b", "c", {"M": 90}), mech(layers=layers[::-1]))
    assert transfers(ev, "R-WF-3") == [("layer:fee_pool", "account:b", 51)]
    assert post.layers == {"insurance_fund": 30, "fee_pool": 49}


def test_R_WF_3_reserve_and_cap_per_event_limit_a_balance_layer() -> None:
    # Drift v2 pays min(loss, vault - 1, per-market cap) from the insurance fund
    # (shared/mechanisms.md, drift-labs/protocol-v2 controller/liquidation.rs
    # resolve_perp_bankruptcy): reserve 1, cap 20.
    layers = (LayerSpec("insurance_fund", reserve=1, cap_per_event=20), LayerSpec("fee_pool"))
    st = base_state(49, {"insurance_fund": 100, "fee_pool": 100})
    post, ev = apply(st, Liquidate("b", "c", {"M": 90}), mech(layers=layers))
    # deficit 51: fund min(51, 100 - 1, 20) = 20; fee pool 31.
    assert post.layers == {"insurance_fund": 80, "fee_pool": 69}
    # reserve binding: fund 10, reserve 1 -> pays 9; fee pool 42.
    st = base_state(49, {"insurance_fund": 10, "fee_pool": 100})
    post, _ = apply(st, Liquidate("b", "c", {"M": 90}), mech(layers=layers))
    assert post.layers == {"insurance_fund": 1, "fee_pool": 58}


def test_R_WF_3_per_market_layer_draws_only_the_bankrupt_markets_balance() -> None:
    layers = (LayerSpec("insurance_fund", scope="market"), LayerSpec("fee_pool"))
    st = base_state(49, {"insurance_fund:M": 30, "insurance_fund:N": 100, "fee_pool": 100},
                    extra_markets=(mkt("N", 5),))
    post, _ = apply(st, Liquidate("b", "c", {"M": 90}), mech(layers=layers, surplus_sink="fee_pool"))
    # deficit 51: insurance_fund:M 30, N untouched, fee pool 21
    assert post.layers == {"insurance_fund:M": 0, "insurance_fund:N": 100, "fee_pool": 79}


def test_R_WF_3_cap_per_event_of_a_per_market_layer_bounds_the_sum_over_markets() -> None:
    # Set up: markets M and N at 100; b long 10 M and long 1 N, both at 100, collateral 10
    # (equity 10 < MM 50 + 5). The fund is kept per market (100 in each) with
    # cap_per_event 20; the fee pool (100) is next.
    st = mkstate([mkt("M", 100), mkt("N", 100)],
                 {"b": acct(10, {"M": (10, 1000), "N": (1, 100)}),
                  "s": acct(1000, {"M": (-10, -1000), "N": (-1, -100)}), "c": acct(10_000)},
                 {"insurance_fund:M": 100, "insurance_fund:N": 100, "fee_pool": 100})
    layers = (LayerSpec("insurance_fund", scope="market", cap_per_event=20), LayerSpec("fee_pool"))
    # Act: c takes M at 90 (realised 10 * -10 = -100) and N at mark: equity 10 - 100 = -90.
    post, ev = apply(st, Liquidate("b", "c", {"M": 90}), mech(layers=layers, surplus_sink="fee_pool"))
    # Check: one event, so the cap 20 holds for M and N together: insurance_fund:M pays 20,
    # insurance_fund:N nothing (20 - 20 = 0 left), the fee pool 90 - 20 = 70.
    # (A cap per market would take 20 + 20 and leave 50 for the fee pool.)
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund:M", "account:b", 20),
                                       ("layer:fee_pool", "account:b", 70)]
    assert post.layers == {"insurance_fund:M": 80, "insurance_fund:N": 100, "fee_pool": 30}
    assert eq_of(post, "b") == 0


def test_R_UNIT_2_liquidation_fee_rounds_down() -> None:
    # b long 10 at 100, collateral 49, closed to c at mark: equity 49, notional at mark 1000.
    # fee_ppm 5500: 5500 * 1000 / 10^6 = 5.5 -> floor 5 (in the trader's favour), not 6.
    post, ev = apply(base_state(49, {"insurance_fund": 0}), Liquidate("b", "c"),
                     mech(final=Haircut(), surplus="fee", fee_ppm=5500))
    assert transfers(ev, "R-LIQ-5") == [("account:b", "layer:insurance_fund", 5)]
    assert post.layers["insurance_fund"] == 5 and eq_of(post, "b") == 44


@pytest.mark.parametrize("mech_id", ["bitmex-adl", "drift-v2"])
def test_R_WF_5_R_WF_6_liquidation_in_a_venue_without_markets(mech_id: str) -> None:
    # Both mechanisms keep a per-market layer that is also the surplus sink (bitmex-adl:
    # insurance_fund; drift-v2: fee_pool). With no market at all there is no NAME:MARKET to
    # name; the liquidation must still settle: b (collateral -5, no position) has a deficit
    # of 5, no layer holds anything, so 5 is bad debt and b ends at 0.
    m = resolve_mechanism(mech_id)
    st = mkstate([], {"b": acct(-5)})
    post, ev = apply(st, Liquidate("b"), m)
    assert post.bad_debt == 5 and eq_of(post, "b") == 0
    assert transfers(ev) == [("bad_debt", "account:b", 5)]
    # the same through a scenario run (R-RUN-1 prepares the layers first)
    sc = scenario_from_doc({"format": "waterfall-scenario", "version": 1, "name": "no-markets",
                            "state": {"markets": [], "accounts": [{"id": "b", "collateral": "-5"}]},
                            "ops": [{"op": "liquidate", "account": "b"}]})
    (r,) = run(sc, m)
    assert r.error is None and r.post.bad_debt == 5 and eq_of(r.post, "b") == 0


def test_R_WF_6_per_market_surplus_sink_is_the_bankrupts_first_market() -> None:
    # The venue's first market is A ('A' < 'M' < 'N'), where b holds nothing (nobody does):
    # the sink must be the bankrupt's first market M, not the venue's first market A.
    # b long 10 M at 100 and long 1 N at 100, collateral 10: equity 10 < MM 50 + 5 = 55.
    st = mkstate([mkt("N", 100), mkt("M", 100), mkt("A", 100)],
                 {"b": acct(10, {"M": (10, 1000), "N": (1, 100)}),
                  "s": acct(1000, {"M": (-10, -1000), "N": (-1, -100)}), "c": acct(10_000)},
                 {"insurance_fund:A": 0, "insurance_fund:M": 0, "insurance_fund:N": 0})
    m = mech(layers=(LayerSpec("insurance_fund", scope="market"),), surplus="all")
    post, _ = apply(st, Liquidate("b", "c"), m)
    # closed at mark: equity stays 10, all of it to insurance_fund:M ('M' < 'N'), none to A
    assert post.layers == {"insurance_fund:A": 0, "insurance_fund:M": 10, "insurance_fund:N": 0}


def test_R_WF_5_uncovered_rest_is_bad_debt() -> None:
    st = base_state(49, {"insurance_fund": 10})
    post, ev = apply(st, Liquidate("b", "c", {"M": 90}), mech())
    # deficit 51: fund 10, the rest 41 is written off
    assert post.layers["insurance_fund"] == 0
    assert post.bad_debt == 41
    assert transfers(ev, "R-WF-5") == [("bad_debt", "account:b", 41)]
    assert eq_of(post, "b") == 0


def test_R_WF_1_full_generic_waterfall_fund_then_pro_rata_haircut() -> None:
    # Winners s1 short 6 with upnl 60, s2 short 4 with upnl 40 (collateral 100 each); b long 10
    # with upnl -100 and collateral 49 -> equity -51. Closed to c at mark: c gets upnl 0.
    st = short_winners_state(100, 49, {"s1": (6, 60, 100), "s2": (4, 40, 100)},
                             layers={"insurance_fund": 10})
    post, ev = apply(st, Liquidate("b", "c"), GENERIC)
    # fund pays 10; rest 41 over bases 60 : 40 (Chitra wealth pro-rata h = D / U = 41/100):
    # 24.6 -> 24 r60, 16.4 -> 16 r40; one unit left to the larger remainder: 25, 16.
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:b", 10)]
    assert sorted(transfers(ev, "R-HC-2")) == [("account:s1", "account:b", 25), ("account:s2", "account:b", 16)]
    assert post.accounts["s1"].collateral == 75 and post.accounts["s2"].collateral == 84
    assert eq_of(post, "b") == 0 and post.bad_debt == 0


def test_R_WF_5_account_without_positions_is_settled_without_counterparty() -> None:
    # b has no position and collateral -5 (liquidatable: equity -5 < MM 0). No market to close,
    # so no counterparty is needed; fund pays 3, nobody has profit, 2 is bad debt.
    st = mkstate([mkt("M", 100)], {"b": acct(-5), "x": acct(50)}, {"insurance_fund": 3})
    post, _ = apply(st, Liquidate("b"), GENERIC)
    assert post.layers["insurance_fund"] == 0
    assert post.bad_debt == 2
    assert post.accounts["x"].collateral == 50


def test_R_WF_3_per_market_layer_draws_each_market_for_what_is_still_missing() -> None:
    # deficit 10 over fund:A 4 and fund:B 100: A pays 4, B the remaining 6, not 10 + 4
    from waterfall.model.layers import draw_balance
    from waterfall.model.tx import Tx
    tx = Tx(mkstate([mkt("A", 1), mkt("B", 1)], {"b": acct(-10)}, {"fund:A": 4, "fund:B": 100}))
    assert draw_balance(tx, LayerSpec("fund", scope="market"), "b", 10, ["A", "B"]) == 10
    assert tx.layers == {"fund:A": 0, "fund:B": 94}


def test_R_WF_3_a_balance_layer_missing_from_the_state_pays_nothing() -> None:
    from waterfall.model.layers import draw_balance
    from waterfall.model.tx import Tx
    tx = Tx(mkstate([mkt("M", 1)], {"b": acct(-10)}))
    assert draw_balance(tx, LayerSpec("insurance_fund"), "b", 10, ["M"]) == 0
    assert tx.layers == {} and tx.events == []


def test_R_WF_6_per_market_sink_in_a_venue_without_markets_is_the_plain_name() -> None:
    from waterfall.model.layers import sink_key
    m = mech(layers=(LayerSpec("fee_pool", scope="market"),), surplus_sink="fee_pool")
    assert sink_key(m, "fee_pool", [], []) == "fee_pool"
    assert sink_key(m, "fee_pool", [], ["B", "A"]) == "fee_pool:A"
    assert sink_key(m, "fee_pool", ["B"], ["A", "B"]) == "fee_pool:B"


def test_R_WF_13_deribit_fund_per_settlement_currency() -> None:
    # Deribit keeps one insurance fund per settlement currency: a loss on ETH-PERPETUAL is
    # paid from the ETH fund only, however much the BTC fund holds; with the ETH fund empty
    # the rest goes on to the haircut. The liquidation fee goes to the ETH fund too (R-WF-6).
    from waterfall.model.loader import catalogue, load_mechanism
    from waterfall.model.ops import Liquidate as Liq
    deribit = load_mechanism(catalogue()["deribit"])
    assert deribit.layers[0].keys(["BTC-PERPETUAL", "ETH-PERPETUAL", "X"]) == [
        "insurance_fund:BTC", "insurance_fund:ETH", "insurance_fund"]
    def venue(eth_fund):
        return mkstate([mkt("BTC-PERPETUAL", 100), mkt("ETH-PERPETUAL", 100)],
                       {"b": acct(900, {"ETH-PERPETUAL": (10, 2_000)}), "w": acct(0, {"ETH-PERPETUAL": (-10, -2_000)}),
                        "c": acct(10**6)},
                       {"insurance_fund:BTC": 10_000, "insurance_fund:ETH": eth_fund})
    post, ev = apply(venue(5_000), Liq("b", "c"), deribit)   # b: 900 - 1,000 = -100
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund:ETH", "account:b", 100)]
    assert post.layers["insurance_fund:BTC"] == 10_000
    post, ev = apply(venue(40), Liq("b", "c"), deribit)
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund:ETH", "account:b", 40)]
    assert post.layers["insurance_fund:BTC"] == 10_000 and transfers(ev, "R-HC-2") == [("account:w", "account:b", 60)]
