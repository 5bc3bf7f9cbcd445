"""R-LEVY-*: the loss charged per lot of open interest, both sides (Drift v2, Mango v4)."""
from __future__ import annotations

from conftest import LayerSpec, Levy, acct, apply, eq_of, mech, mkstate, mkt, pos, transfers
from waterfall.model.ops import Liquidate


def levies(ev) -> dict[str, int]:
    return {src.partition(":")[2]: amt for src, _, amt in transfers(ev, "R-LEVY-2")}


def drift_state(insurance: int):
    # L long 5 from 100, S short 4 from 100, b short 1 from 100; mark 100; b has collateral 0,
    # equity 0 < MM ceil(100 * 5 %) = 5.
    return mkstate([mkt("M", 100)],
                   {"L": acct(1000, {"M": (5, 500)}), "S": acct(1000, {"M": (-4, -400)}),
                    "b": acct(0, {"M": (-1, -100)})},
                   {"insurance_fund": insurance})


def test_R_LEVY_1_drift_resolve_perp_bankruptcy_example() -> None:
    # drift-labs/protocol-v2 programs/drift/src/controller/liquidation/tests.rs,
    # successful_resolve_perp_bankruptcy: a bankrupt user with a $100 loss, open interest
    # 5 long + 5 short base, empty vault. The cumulative funding rates move by 10 per base
    # (1000 -> 1010 long, -1000 -> -1010 short) and the long and the short user (5 base each)
    # each lose $50.
    # Our translation ($1 = 1, 1 lot = 1 base): b's short is bought back from S at 200, so
    # b's equity is 0 - (-100 + 200) = -100 and S ends short 5: OI = 5 + 5 = 10.
    # rate = ceil(100 * 1e9 / 10) = 1e10 (= 10 per lot at scale 1e9);
    # each pays floor(5 * 1e10 / 1e9) = 50.
    # The fund holds 1 with reserve 1: Drift pays min(loss, vault - 1, cap) = 0 from it.
    m = mech(final=Levy(), layers=(LayerSpec("insurance_fund", reserve=1),))
    post, ev = apply(drift_state(1), Liquidate("b", "S", {"M": 200}), m)
    assert pos(post, "S", "M") == (-5, -600)
    assert levies(ev) == {"L": 50, "S": 50}
    assert post.accounts["L"].collateral == 950 and post.accounts["S"].collateral == 950
    assert eq_of(post, "b") == 0 and post.bad_debt == 0
    assert post.layers["insurance_fund"] == 1


def test_R_LEVY_2_losers_pay_too() -> None:
    # L long 5 from 120 (upnl -100: a loser), S short 4 from 125 (upnl +100), b short 1 from
    # 100 (upnl 0) with collateral -100 -> equity -100; S buys back b's short at mark.
    st = mkstate([mkt("M", 100)],
                 {"L": acct(1000, {"M": (5, 600)}), "S": acct(1000, {"M": (-4, -500)}),
                  "b": acct(-100, {"M": (-1, -100)})}, {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b", "S"), mech(final=Levy()))
    # OI after the close at mark: L 5 + S 5 = 10 -> 50 each, the losing long included
    assert levies(ev) == {"L": 50, "S": 50}


def test_R_LEVY_2_truncated_payments_leave_a_residue_as_bad_debt() -> None:
    # Drift: per-user payments truncate, so collections miss the loss by a few units
    # (shared/mechanisms.md). b long 2 from 100, collateral -10 -> equity -10 at mark 100;
    # c takes the long 2 at mark. Lots then: x 1, S 3, c 2 -> OI 6;
    # rate = ceil(10 * 1e9 / 6) = 1_666_666_667; payments floor(lots * rate / 1e9):
    # x floor(1.666666667) = 1, S floor(5.000000001) = 5, c floor(3.333333334) = 3 -> 9;
    # the missing 1 is bad debt (residue sink bad_debt).
    st = mkstate([mkt("M", 100)],
                 {"x": acct(100, {"M": (1, 100)}), "S": acct(100, {"M": (-3, -300)}),
                  "b": acct(-10, {"M": (2, 200)}), "c": acct(100)},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b", "c"), mech(final=Levy()))
    assert levies(ev) == {"x": 1, "S": 5, "c": 3}
    assert post.bad_debt == 1
    # With payment rounding 'ceil' the same rate collects 2 + 6 + 4 = 12: 2 over, to the
    # surplus sink (R-LEVY-3).
    post, ev = apply(st, Liquidate("b", "c"), mech(final=Levy(payment_rounding="ceil")))
    assert levies(ev) == {"x": 2, "S": 6, "c": 4}
    assert post.layers["insurance_fund"] == 2 and post.bad_debt == 0


def test_R_LEVY_3_over_collection_goes_to_the_surplus_sink() -> None:
    # rate_scale 1: rate = ceil(10 / 6) = 2 per lot -> x 2, S 6, c 4 = 12 > 10; the extra 2
    # goes to the surplus sink (insurance_fund).
    st = mkstate([mkt("M", 100)],
                 {"x": acct(100, {"M": (1, 100)}), "S": acct(100, {"M": (-3, -300)}),
                  "b": acct(-10, {"M": (2, 200)}), "c": acct(100)},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b", "c"), mech(final=Levy(rate_scale=1)))
    assert levies(ev) == {"x": 2, "S": 6, "c": 4}
    assert transfers(ev, "R-LEVY-3") == [("account:b", "layer:insurance_fund", 2)]
    assert post.layers["insurance_fund"] == 2 and eq_of(post, "b") == 0


def test_R_LEVY_1_only_the_bankrupts_markets_count() -> None:
    # n1/n2 hold 7 lots each in market N; they are not charged for b's loss in M.
    st = mkstate([mkt("M", 100), mkt("N", 10)],
                 {"x": acct(100, {"M": (1, 100)}), "S": acct(100, {"M": (-3, -300)}),
                  "b": acct(-10, {"M": (2, 200)}), "c": acct(100),
                  "n1": acct(100, {"N": (7, 70)}), "n2": acct(100, {"N": (-7, -70)})},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b", "c"), mech(final=Levy(rate_scale=1)))
    assert set(levies(ev)) == {"x", "S", "c"}
    assert post.accounts["n1"] == st.accounts["n1"] and post.accounts["n2"] == st.accounts["n2"]


def test_R_LEVY_4_zero_open_interest_charges_nobody() -> None:
    # b holds no position (collateral -7): no market, OI 0 -> nobody is charged, the whole
    # deficit is bad debt (Drift treats zero OI as an error; Mango leaves it to the settler).
    st = mkstate([mkt("M", 100)], {"b": acct(-7), "x": acct(100, {"M": (1, 100)}),
                                   "y": acct(100, {"M": (-1, -100)})}, {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b"), mech(final=Levy()))
    assert levies(ev) == {}
    assert post.bad_debt == 7


def test_R_LEVY_1_rate_rounding_floor() -> None:
    # as test_R_LEVY_3 with rate rounding floor: rate = floor(10 / 6) = 1 per lot ->
    # x 1, S 3, c 2 = 6; the missing 4 is bad debt (residue sink bad_debt).
    st = mkstate([mkt("M", 100)],
                 {"x": acct(100, {"M": (1, 100)}), "S": acct(100, {"M": (-3, -300)}),
                  "b": acct(-10, {"M": (2, 200)}), "c": acct(100)},
                 {"insurance_fund": 0})
    post, ev = apply(st, Liquidate("b", "c"), mech(final=Levy(rate_scale=1, rate_rounding="floor")))
    assert levies(ev) == {"x": 1, "S": 3, "c": 2}
    assert post.bad_debt == 4


def test_R_LEVY_3_shortfall_charged_to_a_per_market_residue_sink() -> None:
    # b: long 2 from 100, equity -10; the per-market 'fund' pays 1 as a layer (cap_per_event),
    # rest 9 over OI 6 (x 1, S 3, c 2 after c takes b's 2 lots): rate ceil(9e9 / 6) = 1.5e9,
    # payments floor: x 1, S 4, c 3 = 8; residue 1 charged to fund:M (the bankrupt's market),
    # not fund:A (the venue's first market). fund:M: 50 - 1 - 1 = 48.
    st = mkstate([mkt("A", 1), mkt("M", 100)],
                 {"x": acct(100, {"M": (1, 100)}), "S": acct(100, {"M": (-3, -300)}),
                  "b": acct(-10, {"M": (2, 200)}), "c": acct(100)},
                 {"fund:A": 50, "fund:M": 50})
    m = mech(final=Levy(residue_sink="fund"), layers=(LayerSpec("fund", scope="market", cap_per_event=1),),
             surplus_sink="fund")
    post, ev = apply(st, Liquidate("b", "c"), m)
    assert levies(ev) == {"x": 1, "S": 4, "c": 3}
    assert transfers(ev, "R-HC-4") == [("layer:fund:M", "account:b", 1)]
    assert post.layers == {"fund:A": 50, "fund:M": 48} and post.bad_debt == 0 and eq_of(post, "b") == 0


def test_R_LEVY_5_drift_amm_is_outside_the_open_interest_and_pays_nothing() -> None:
    # Drift's socialised loss is spread over the users' base totals base_asset_amount_long +
    # |base_asset_amount_short| (math/liquidation.rs calculate_funding_rate_deltas_to_resolve_bankruptcy);
    # the AMM holds the users' net position and is not charged. b's short is bought back from
    # the AMM at 200 (b: -100); users hold L +5 and S -4, the AMM -1. OI = 9: rate =
    # ceil(100 x 1e9 / 9) = 11,111,111,112: L pays floor(5 x 11.11...) = 55, S 44; the unit
    # the truncation misses is bad debt.
    st = drift_state(0)
    st = mkstate(list(st.markets.values()), {**st.accounts, "amm": acct(10_000)}, {"insurance_fund": 0})
    drift = mech(final=Levy(exempt=("amm",)), layers=(LayerSpec("insurance_fund", reserve=1),))
    post, ev = apply(st, Liquidate("b", "amm", {"M": 200}), drift)
    assert levies(ev) == {"L": 55, "S": 44} and post.bad_debt == 1
    # charged like any account (the catalogue's reading before R-LEVY-5): 10 per lot
    post, ev = apply(st, Liquidate("b", "amm", {"M": 200}), mech(final=Levy(), layers=(LayerSpec("insurance_fund", reserve=1),)))
    assert levies(ev) == {"L": 50, "S": 40, "amm": 10} and post.bad_debt == 0


def test_R_WF_9_drift_insurance_pays_at_most_what_is_left_of_the_markets_lifetime_allowance() -> None:
    # resolve_perp_bankruptcy: if_payment = min(loss, vault - 1, quote_max_insurance -
    # quote_settled_insurance), then quote_settled_insurance += if_payment. Allowance 30 of
    # which 10 is used: the fund pays 20 of the 100, 80 is socialised over OI 10 (8 per lot).
    from dataclasses import replace
    drift = mech(final=Levy(), layers=(LayerSpec("insurance_fund", reserve=1, lifetime_cap=30),))
    st = replace(drift_state(1_000), layer_paid={"insurance_fund:M": 10})
    post, ev = apply(st, Liquidate("b", "S", {"M": 200}), drift)
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:b", 20)]
    assert levies(ev) == {"L": 40, "S": 40} and post.layer_paid == {"insurance_fund:M": 30}
    # the allowance is spent: the next loss in M gets nothing from the fund
    again = replace(drift_state(1_000), layer_paid=post.layer_paid)
    post2, ev2 = apply(again, Liquidate("b", "S", {"M": 200}), drift)
    assert transfers(ev2, "R-WF-3") == [] and levies(ev2) == {"L": 50, "S": 50}


def test_R_LEVY_6_mango_socialises_only_once_the_vault_is_exhausted() -> None:
    # blockworks-foundation/mango-v4@1303a4a16228eb1e8e8d4f0eef724eaf63310c86
    # programs/mango-v4/src/instructions/perp_liq_negative_pnl_or_bankruptcy.rs: the insurance
    # transfer is min(what the liquidator takes over, vault amount); socialize_loss runs only
    # "if insurance_transfer == insurance_vault_amount" (the vault exhausted). b's deficit is
    # 100 (drift_state's close at 200); the vault holds 150 but the liquidator's limit
    # (cap_per_event) is 60: the vault pays 60, is not exhausted, nothing is levied and b
    # stays at -40, to be liquidated again. The second call: the vault pays the 40 left
    # (within the limit; 50 stays in it) and no levy is needed.
    from dataclasses import replace
    from waterfall.model.loader import catalogue, load_mechanism
    mango = load_mechanism(catalogue()["mango-v4"])
    assert mango.final.only_when_exhausted
    limited = replace(mango, layers=(replace(mango.layers[0], cap_per_event=60),))
    post, ev = apply(drift_state(150), Liquidate("b", "S", {"M": 200}), limited)
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:b", 60)]
    assert levies(ev) == {} and post.bad_debt == 0 and eq_of(post, "b") == -40
    post, ev = apply(post, Liquidate("b", "S"), limited)
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:b", 40)] and eq_of(post, "b") == 0
    # a vault of 50 with the same limit: it pays 50, is exhausted, the last 50 is levied
    post, ev = apply(drift_state(50), Liquidate("b", "S", {"M": 200}), limited)
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:b", 50)]
    assert sum(levies(ev).values()) == 50 and eq_of(post, "b") == 0


def test_R_LEVY_7_drift_resolves_each_market_on_its_own_open_interest() -> None:
    # drift-labs/protocol-v2 programs/drift/src/controller/liquidation.rs
    # resolve_perp_bankruptcy(market_index): one perp market at a time, its loss socialised
    # over that market's base open interest. b is short 1 in M (bought back at 200: loss
    # 100) and long 1 in N (sold at 50: loss 50), collateral 0: deficit 150 = 100 + 50.
    # M's OI after the close: L 5, S 4, c 1 = 10: 100 -> 10 a lot (L 50, S 40, c 10). N's OI:
    # Y 3, Z 2, c 1 = 6: ceil(50e9 / 6) -> floor(8.33 a lot): Y 25, Z 16, c 8, 1 unit of
    # bad debt. Levied over both markets at once (16 lots) M's holders would pay for N's loss.
    from dataclasses import replace
    st = mkstate([mkt("M", 100), mkt("N", 100)],
                 {"L": acct(1000, {"M": (5, 500)}), "S": acct(1000, {"M": (-4, -400)}),
                  "Y": acct(1000, {"N": (-3, -300)}), "Z": acct(1000, {"N": (2, 200)}),
                  "b": acct(0, {"M": (-1, -100), "N": (1, 100)}), "c": acct(10_000)},
                 {"insurance_fund": 1})
    per = mech(final=Levy(per_market=True), layers=(LayerSpec("insurance_fund", reserve=1),))
    post, ev = apply(st, Liquidate("b", "c", {"M": 200, "N": 50}), per)
    assert [(src, amt) for src, _, amt in transfers(ev, "R-LEVY-2")] == [
        ("account:L", 50), ("account:S", 40), ("account:c", 10), ("account:Y", 25), ("account:Z", 16), ("account:c", 8)]
    assert post.bad_debt == 1 and eq_of(post, "b") == 0
    whole = replace(per, final=Levy())
    post, ev = apply(st, Liquidate("b", "c", {"M": 200, "N": 50}), whole)
    assert levies(ev) == {"L": 46, "S": 37, "c": 18, "Y": 28, "Z": 18} and post.bad_debt == 3
